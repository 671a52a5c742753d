#!/usr/bin/python3
"""Interop: STARTTLS between the example programs and Node.js's SMTP stack,
nodemailer's smtp-server and nodemailer (npm packages; node_modules in
LIBSMTP_NODE_MODULES, default /var/tmp/libsmtp-node/node_modules, which
scripts/test fills), driven by bench/node-smtp-peer.js:

- smtp-send into smtp-server (node): STARTTLS required, certificate
  verified (RFC 3207, RFC 6125 name through --tls-servername), TLS 1.3 on
  both sides, the message stored byte for byte (dot lines unstuffed, RFC
  5321 4.5.2); a wrong trust anchor fails before MAIL and stores nothing.
- nodemailer into smtp-server (ours): requireTLS with the certificate
  verified, TLS 1.3 as nodemailer saw it, the message stored byte for byte.

Loopback only, bounded by timeout(1); skipped (77) without node, the npm
packages or TLS in smtp-send.

Usage: tls_node.py PATH/TO/smtp-send
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tls_peer_lib as t  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "..", "bench", "node-smtp-peer.js")
MODS = os.environ.get("LIBSMTP_NODE_MODULES", "/var/tmp/libsmtp-node/node_modules")
SEND, SERVER = t.programs(sys.argv[1])
if not shutil.which("node"):
    t.skip("node not installed")
for m in ("smtp-server", "nodemailer"):
    if not os.path.isdir(os.path.join(MODS, m)):
        t.skip("npm package %s not in %s" % (m, MODS))
if not shutil.which("openssl"):
    t.skip("openssl not installed")
if not t.tls_in_build(SEND):
    t.skip("smtp-send without TLS")

env = dict(os.environ, LIBSMTP_NODE_MODULES=MODS)
want_node = t.want_proto()   # node names versions as OpenSSL does: TLSv1.3
tmp = tempfile.mkdtemp(prefix="libsmtp-node.")
peer = srv = None
try:
    cert, key = t.make_cert(tmp, "node", "localhost")
    other, _ = t.make_cert(tmp, "other", "localhost")
    store = os.path.join(tmp, "node-store")
    os.makedirs(store)
    peer = t.Peer(["node", PEER, "server", cert, key, store], tmp, "node-server", env=env)

    # 1. smtp-send -> node smtp-server
    msg = t.message("to node")
    rc, out, err = t.send(SEND, tmp, peer.port, msg,
                          ["--starttls", "required", "--ca-file", cert, "--tls-servername", "localhost"])
    t.check("smtp-send -> node: accepted, exit 0", rc == 0, out + err[-1500:])
    proto, cipher = t.trace_tls(err)
    t.check("smtp-send -> node: %s (trace: %s %s)" % (t.want_proto(), proto, cipher),
            proto == t.want_proto(), err[:600])
    time.sleep(0.2)
    got = t.peer_files(store)
    t.check("smtp-send -> node: one message stored", len(got) == 1, got)
    if got:
        tls_line, env_line, stored = got[-1]
        t.check("smtp-send -> node: node saw %s" % want_node, tls_line.startswith("X-TLS: " + want_node + " "),
                tls_line)
        t.check("smtp-send -> node: envelope", env_line == "X-Envelope: sender@example.com -> rcpt@example.org",
                env_line)
        t.check("smtp-send -> node: message byte for byte", stored == msg, stored[:300])
    rc, out, err = t.send(SEND, tmp, peer.port, t.message("wrong anchor"),
                          ["--starttls", "required", "--ca-file", other, "--tls-servername", "localhost"])
    t.check("smtp-send -> node, wrong trust anchor: fails (exit 2)", rc == 2, (rc, out, err[-600:]))
    t.check("... and no MAIL was sent", "C: MAIL" not in err, err[-600:])
    time.sleep(0.2)
    t.check("... nothing stored", len(t.peer_files(store)) == 1)

    # 2. nodemailer -> smtp-server
    srv = t.SmtpServer(SERVER, tmp, "server", cert, key)
    path = os.path.join(tmp, "from-node.eml")
    msg = t.message("from nodemailer")
    with open(path, "wb") as f:
        f.write(msg)
    r = subprocess.run(["timeout", "-k", "5", "60", "node", PEER, "send", "127.0.0.1", str(srv.port),
                        "sender@example.com", "rcpt@example.org", path, cert],
                       capture_output=True, env=env)
    out = r.stdout.decode(errors="replace")
    t.check("nodemailer -> smtp-server: sent (certificate verified)", r.returncode == 0 and "response=\"250" in out,
            (out, r.stderr[-800:]))
    t.check("nodemailer -> smtp-server: %s" % t.want_proto(), out.startswith("tls=" + t.want_proto() + " "), out)
    time.sleep(0.2)
    stored = t.maildir_messages(srv.maildir)
    t.check("nodemailer -> smtp-server: one message stored", len(stored) == 1, len(stored))
    if stored:
        head, body = stored[-1]
        t.check("nodemailer -> smtp-server: message byte for byte", body == msg, body[:300])
        t.check("nodemailer -> smtp-server: Received says ESMTPS", b"ESMTPS" in head, head)
    r = subprocess.run(["timeout", "-k", "5", "60", "node", PEER, "send", "127.0.0.1", str(srv.port),
                        "sender@example.com", "rcpt@example.org", path, other],
                       capture_output=True, env=env)
    t.check("nodemailer -> smtp-server with a wrong anchor: refused by nodemailer", r.returncode != 0,
            r.stdout)
    time.sleep(0.2)
    t.check("... nothing stored", len(t.maildir_messages(srv.maildir)) == 1)
finally:
    if srv:
        srv.close()
    if peer:
        peer.close()
    shutil.rmtree(tmp, ignore_errors=True)
t.finish()
