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
t.need_openssl_and_tls(SEND)

env = dict(os.environ, LIBSMTP_NODE_MODULES=MODS)
want_node = t.want_proto()   # node names versions as OpenSSL does: TLSv1.3
tmp = tempfile.mkdtemp(prefix="libsmtp-node.")
peer = None
try:
    cert, key = t.make_cert(tmp, "node", "localhost")
    other, _ = t.make_cert(tmp, "other", "localhost")
    store = os.path.join(tmp, "node-store")
    os.makedirs(store)
    peer = t.Peer(["node", PEER, "server", cert, key, store], tmp, "node-server", env=env)

    # 1. smtp-send -> node smtp-server
    t.send_to_peer("node", "node", peer.port, store, SEND, tmp, cert, other, want_node)

    # 2. nodemailer -> smtp-server
    def node_send(port, path, ca):
        return subprocess.run(["timeout", "-k", "5", "60", "node", PEER, "send", "127.0.0.1", str(port),
                               "sender@example.com", "rcpt@example.org", path, ca],
                              capture_output=True, env=env)
    t.peer_to_server("nodemailer", "nodemailer", node_send, SERVER, tmp, cert, key, other, want_node,
                     sent_marker="response=\"250")
finally:
    if peer:
        peer.close()
    shutil.rmtree(tmp, ignore_errors=True)
t.finish()
