#!/usr/bin/python3
"""examples/smtp-send against scripted, misbehaving servers on loopback
(Python's socket and ssl, i.e. OpenSSL, on the other end): the client side
of docs/security.md 2 end to end, and the failure exit codes of docs/examples.md.

  - bytes injected after the 220 to STARTTLS and before the handshake
    (CVE-2011-0411 class, client side): exit 2, no MAIL, no credentials;
  - a failed handshake after the 220: exit 2 and no plaintext retry;
  - a TLS close_notify in the middle of the session: exit 2, nothing more
    in plaintext on that connection;
  - STARTTLS required, server without STARTTLS: exit 2 before MAIL;
  - a 554 greeting, a connection closed after the greeting, a reply that
    is not SMTP: exit 2 and one line on stderr.
Each scripted server records every byte it received. Exit 77 (skip)
without openssl (needed for the server's certificate).

Usage: client_hostile_server.py PATH/TO/smtp-send
"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402  (tests/interop/ilib.py)

SEND = sys.argv[1]
if not shutil.which("openssl"):
    print("openssl not installed: skip")
    sys.exit(77)

tap = ilib.Tap(400)
check = tap.check


class Scripted:
    """One connection served by `script(conn, log)`; `log` collects what
    the client sent (plaintext and, after TLS, decrypted)."""

    def __init__(self, script):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(4)
        self.ls.settimeout(20)
        self.port = self.ls.getsockname()[1]
        self.log = []
        self.connections = 0
        self.script = script
        self.stopping = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        try:
            while True:
                c, _ = self.ls.accept()
                if self.stopping:
                    c.close()
                    break
                self.connections += 1
                c.settimeout(10)
                try:
                    self.script(c, self.log)
                except (OSError, ssl.SSLError):
                    pass
                finally:
                    try:
                        c.close()
                    except OSError:
                        pass
        except OSError:
            pass

    def close(self):
        # wake the accept() with a connection of our own, then stop
        self.stopping = True
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
        except OSError:
            pass
        self.t.join(5)
        self.ls.close()

    def received(self):
        return b"".join(self.log)


def lines(c, log, n=1):
    """Read until n CRLF-terminated lines arrived."""
    buf = b""
    while buf.count(b"\r\n") < n:
        b = c.recv(4096)
        if not b:
            break
        buf += b
    log.append(buf)
    return buf


def read_rest(c, log, answer_quit=False):
    """What the client sends until it closes or stays silent 3 s, into log;
    with answer_quit, "221 bye" after each piece holding QUIT."""
    c.settimeout(3)
    try:
        while True:
            b = c.recv(4096)
            if not b:
                break
            log.append(b)
            if answer_quit and b"QUIT" in b:
                c.sendall(b"221 bye\r\n")
    except OSError:
        pass


def ehlo_reply(c, log, caps):
    lines(c, log)
    body = [b"mx.test"] + caps
    out = b"".join(b"250-" + x + b"\r\n" for x in body[:-1]) + b"250 " + body[-1] + b"\r\n"
    c.sendall(out)


tmp = tempfile.mkdtemp()
try:
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=mx.test", "-addext", "subjectAltName=DNS:mx.test",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    sctx.load_cert_chain(cert, key)
    msg = os.path.join(tmp, "m")
    with open(msg, "wb") as f:
        f.write(b"Subject: x\r\n\r\nhello\r\n")

    def send(port, *args):
        p = subprocess.run(["timeout", "30", SEND, "--server", "127.0.0.1:%d" % port, "--helo", "client.example",
                            "--from", "a@example.org", "--to", "b@example.net"] + list(args) + [msg],
                           capture_output=True)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    # 1. Injection after the 220 to STARTTLS (docs/security.md 2, client side).
    def inject(c, log):
        c.sendall(b"220 mx.test ESMTP\r\n")
        ehlo_reply(c, log, [b"STARTTLS"])
        lines(c, log)
        c.sendall(b"220 go ahead\r\n250-mx.test\r\n250 AUTH PLAIN\r\n")
        read_rest(c, log)
    s = Scripted(inject)
    rc, out, err = send(s.port, "--ca-file", cert, "--tls-servername", "mx.test", "--auth", "user:pw",
                        "--allow-plaintext-auth")
    s.close()
    got = s.received()
    check("injection after 220 to STARTTLS: exit 2", rc == 2, (rc, out, err))
    check("injection: no MAIL and no AUTH sent", b"MAIL" not in got and b"AUTH" not in got, got)
    check("injection: one line on stderr, nothing on stdout", err.count("\n") == 1 and out == "", (out, err))

    # 2. The handshake fails after the 220: no plaintext retry.
    def bad_handshake(c, log):
        c.sendall(b"220 mx.test ESMTP\r\n")
        ehlo_reply(c, log, [b"STARTTLS", b"8BITMIME"])
        lines(c, log)
        c.sendall(b"220 go ahead\r\n")
        c.recv(4096)  # the ClientHello
        c.sendall(b"this is not a TLS record at all\r\n" * 4)
        read_rest(c, log)
    s = Scripted(bad_handshake)
    rc, out, err = send(s.port)  # opportunistic, the default
    s.close()
    check("failed handshake (opportunistic): exit 2", rc == 2, (rc, err))
    check("failed handshake: one connection, no plaintext MAIL after it",
          s.connections == 1 and b"MAIL" not in s.received(), (s.connections, s.received()))
    check("failed handshake: one line on stderr naming TLS",
          err.count("\n") == 1 and ("TLS" in err or "handshake" in err), err)

    # 3. close_notify in the middle of the session.
    def tls_close(c, log):
        c.sendall(b"220 mx.test ESMTP\r\n")
        ehlo_reply(c, log, [b"STARTTLS"])
        lines(c, log)
        c.sendall(b"220 go ahead\r\n")
        t = sctx.wrap_socket(c, server_side=True)
        ehlo_reply(t, log, [b"PIPELINING"])
        lines(t, log)  # MAIL (and maybe RCPT)
        log.append(b"--closed--")
        raw = t.unwrap()  # sends close_notify
        raw.settimeout(3)
        try:
            while True:
                b = raw.recv(4096)
                if not b:
                    break
                log.append(b)
        except OSError:
            pass
    s = Scripted(tls_close)
    rc, out, err = send(s.port, "--starttls", "required", "--ca-file", cert, "--tls-servername", "mx.test")
    s.close()
    after = s.received().partition(b"--closed--")[2]
    check("close_notify mid-session: exit 2", rc == 2, (rc, out, err))
    check("close_notify: no SMTP in plaintext afterwards (no fallback)",
          b"QUIT" not in after and b"MAIL" not in after and b"RCPT" not in after, after)

    # 4. STARTTLS required, server without STARTTLS.
    def no_tls(c, log):
        c.sendall(b"220 mx.test ESMTP\r\n")
        ehlo_reply(c, log, [b"8BITMIME", b"AUTH PLAIN"])
        read_rest(c, log, answer_quit=True)
    s = Scripted(no_tls)
    rc, out, err = send(s.port, "--starttls", "required", "--auth", "user:pw", "--allow-plaintext-auth")
    s.close()
    check("--starttls required without STARTTLS: exit 2", rc == 2, (rc, err))
    check("--starttls required without STARTTLS: no MAIL, no AUTH",
          b"MAIL" not in s.received() and b"AUTH" not in s.received(), s.received())

    # 5. Failures before any transaction: one stderr line, exit 2.
    def greet554(c, log):
        c.sendall(b"554 5.3.2 no service here\r\n")
        c.settimeout(3)
        try:
            log.append(c.recv(4096))
            c.sendall(b"221 bye\r\n")
        except OSError:
            pass

    def hangup(c, log):
        c.sendall(b"220 mx.test ESMTP\r\n")
        lines(c, log)

    def not_smtp(c, log):
        c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        c.settimeout(3)
        try:
            log.append(c.recv(4096))
        except OSError:
            pass
    for name, script in (("554 greeting", greet554), ("closed after EHLO", hangup), ("not SMTP", not_smtp)):
        s = Scripted(script)
        rc, out, err = send(s.port, "--starttls", "off")
        s.close()
        check("%s: exit 2, one line on stderr, no MAIL" % name,
              rc == 2 and err.count("\n") == 1 and b"MAIL" not in s.received(), (rc, out, err))
finally:
    shutil.rmtree(tmp, ignore_errors=True)

tap.finish()
