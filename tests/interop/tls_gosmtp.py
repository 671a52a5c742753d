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
t.need_openssl_and_tls(SEND)

tmp = tempfile.mkdtemp(prefix="libsmtp-gosmtp.")
peer = None
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
    want_go = "TLS1.3" if t.WANT13 else "TLS1.2"

    # 1. smtp-send -> go-smtp server
    t.send_to_peer("go-smtp", "Go", peer.port, store, SEND, tmp, cert, other, want_go,
                   as_stored=lambda m: m.replace(b"\r\n", b"\n"),
                   stored_how="message as sent (LF line ends from go-smtp's reader)")

    # 2. go-smtp client -> smtp-server
    def go_send(port, path, ca):
        return subprocess.run(["timeout", "-k", "5", "60", exe, "send", "-addr", "127.0.0.1:%d" % port,
                               "-from", "sender@example.com", "-to", "rcpt@example.org", "-file", path,
                               "-ca", ca], capture_output=True)
    t.peer_to_server("go-smtp", "Go", go_send, SERVER, tmp, cert, key, other, want_go)
finally:
    if peer:
        peer.close()
    shutil.rmtree(tmp, ignore_errors=True)
t.finish()
