#!/usr/bin/python3
"""Interop: STARTTLS between the example programs and go-smtp (Debian's
golang-github-emersion-go-smtp-dev on Go's crypto/tls), through
bench/go-smtp-peer.go built offline in GOPATH mode:

- smtp-send into the go-smtp server: STARTTLS required, certificate
  verified (RFC 3207, RFC 6125 name through --tls-servername), TLS 1.3 on
  both sides, the message as go-smtp handed it over (its reader turns CRLF
  into LF and unstuffs dot lines, RFC 5321 4.5.2); a wrong trust anchor
  fails before MAIL and stores nothing.
- the go-smtp client into smtp-server: STARTTLS with the certificate
  verified, TLS 1.3 as Go saw it, the message stored byte for byte.

Loopback only, bounded by timeout(1); skipped (77) without Go, go-smtp or
TLS in smtp-send.

Usage: tls_gosmtp.py PATH/TO/smtp-send
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
SRC = os.path.join(HERE, "..", "..", "bench", "go-smtp-peer.go")
GOPATH = "/usr/share/gocode"
SEND, SERVER = t.programs(sys.argv[1])
if not shutil.which("go"):
    t.skip("go not installed (golang-go)")
if not os.path.isdir(os.path.join(GOPATH, "src", "github.com", "emersion", "go-smtp")):
    t.skip("go-smtp not installed (golang-github-emersion-go-smtp-dev)")
if not shutil.which("openssl"):
    t.skip("openssl not installed")
if not t.tls_in_build(SEND):
    t.skip("smtp-send without TLS")

tmp = tempfile.mkdtemp(prefix="libsmtp-gosmtp.")
peer = srv = None
try:
    exe = os.path.join(tmp, "go-smtp-peer")
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOPROXY="off", GOFLAGS="",
               GOCACHE=os.path.join(tmp, "gocache"))
    r = subprocess.run(["timeout", "300", "go", "build", "-o", exe, os.path.abspath(SRC)],
                       capture_output=True, env=env, cwd=tmp)
    if r.returncode != 0:
        t.check("go-smtp-peer builds offline", False, r.stderr[-1500:])
        t.finish()
    cert, key = t.make_cert(tmp, "go", "localhost")
    other, _ = t.make_cert(tmp, "other", "localhost")
    store = os.path.join(tmp, "go-store")
    os.makedirs(store)
    peer = t.Peer([exe, "server", "-cert", cert, "-key", key, "-maildir", store], tmp, "go-server")

    # 1. smtp-send -> go-smtp server
    msg = t.message("to go-smtp")
    rc, out, err = t.send(SEND, tmp, peer.port, msg,
                          ["--starttls", "required", "--ca-file", cert, "--tls-servername", "localhost"])
    t.check("smtp-send -> go-smtp: accepted, exit 0", rc == 0, out + err[-1500:])
    proto, cipher = t.trace_tls(err)
    t.check("smtp-send -> go-smtp: %s (trace: %s %s)" % (t.want_proto(), proto, cipher),
            proto == t.want_proto(), err[:600])
    time.sleep(0.2)
    got = t.peer_files(store)
    t.check("smtp-send -> go-smtp: one message stored", len(got) == 1, got)
    want_go = "TLS1.3" if t.WANT13 else "TLS1.2"
    if got:
        tls_line, env_line, stored = got[-1]
        t.check("smtp-send -> go-smtp: Go saw %s" % want_go, tls_line.startswith("X-TLS: " + want_go + " "),
                tls_line)
        t.check("smtp-send -> go-smtp: envelope",
                env_line == "X-Envelope: sender@example.com -> rcpt@example.org", env_line)
        t.check("smtp-send -> go-smtp: message as sent (LF line ends from go-smtp's reader)",
                stored == msg.replace(b"\r\n", b"\n"), stored[:300])
    rc, out, err = t.send(SEND, tmp, peer.port, t.message("wrong anchor"),
                          ["--starttls", "required", "--ca-file", other, "--tls-servername", "localhost"])
    t.check("smtp-send -> go-smtp, wrong trust anchor: fails (exit 2)", rc == 2, (rc, out, err[-600:]))
    t.check("... and no MAIL was sent", "C: MAIL" not in err, err[-600:])
    time.sleep(0.2)
    t.check("... nothing stored", len(t.peer_files(store)) == 1)

    # 2. go-smtp client -> smtp-server
    srv = t.SmtpServer(SERVER, tmp, "server", cert, key)
    path = os.path.join(tmp, "from-go.eml")
    msg = t.message("from go-smtp")
    with open(path, "wb") as f:
        f.write(msg)
    r = subprocess.run(["timeout", "-k", "5", "60", exe, "send", "-addr", "127.0.0.1:%d" % srv.port,
                        "-from", "sender@example.com", "-to", "rcpt@example.org", "-file", path, "-ca", cert],
                       capture_output=True)
    out = r.stdout.decode(errors="replace")
    t.check("go-smtp -> smtp-server: sent (certificate verified)", r.returncode == 0, (out, r.stderr[-800:]))
    t.check("go-smtp -> smtp-server: %s" % want_go, out.startswith("tls=" + want_go + " "), out)
    time.sleep(0.2)
    stored = t.maildir_messages(srv.maildir)
    t.check("go-smtp -> smtp-server: one message stored", len(stored) == 1, len(stored))
    if stored:
        head, body = stored[-1]
        t.check("go-smtp -> smtp-server: message byte for byte", body == msg, body[:300])
        t.check("go-smtp -> smtp-server: Received says ESMTPS", b"ESMTPS" in head, head)
    r = subprocess.run(["timeout", "-k", "5", "60", exe, "send", "-addr", "127.0.0.1:%d" % srv.port,
                        "-from", "sender@example.com", "-to", "rcpt@example.org", "-file", path, "-ca", other],
                       capture_output=True)
    t.check("go-smtp -> smtp-server with a wrong anchor: refused by Go", r.returncode != 0, r.stdout)
    time.sleep(0.2)
    t.check("... nothing stored", len(t.maildir_messages(srv.maildir)) == 1)
finally:
    if srv:
        srv.close()
    if peer:
        peer.close()
    shutil.rmtree(tmp, ignore_errors=True)
t.finish()
