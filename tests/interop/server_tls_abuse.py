#!/usr/bin/python3
"""examples/smtp-server under TLS abuse inside a session (STARTTLS, RFC
3207), with whichever backend the server runs (this script runs again
through with_backend.sh for the other one):

- the transport ends in the middle of DATA without close_notify (a
  truncation attack, RFC 8446 6.1 / RFC 5246 7.2.1);
- close_notify in the middle of DATA (the peer ended TLS: the message is
  incomplete);
- a record cut short in the middle of DATA, its end never arriving, with the
  end-of-data line inside it;
- a record whose last octet was flipped (bad AEAD tag, RFC 8446 5.2) carrying
  the end-of-data line;
- plaintext injected after the handshake in the middle of DATA (".\\r\\n"
  outside TLS must not end the message).
(Renegotiation and KeyUpdate need a peer that can send them on demand:
tests/test_tls_peer.c drives OpenSSL for that.)

Each time the server ends the session, nothing is delivered (Maildir new/
and tmp/ stay empty) and the server keeps serving: afterwards a
well-behaved smtplib client delivers one message. Python standard library
only; loopback only; bounded in time.

Usage: server_tls_abuse.py PATH/TO/smtp-server
"""
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402

SERVER = sys.argv[1]
tap = ilib.Tap(500)
check = tap.check


# the options exist in every build; --tls-self-signed works only with TLS
r = subprocess.run([SERVER, "--stdio", "--tls-self-signed"], input=b"QUIT\r\n", capture_output=True,
                   timeout=30)
if r.returncode != 0:
    print("1..0 # SKIP smtp-server without TLS")
    sys.exit(77)


def read_reply(get):
    """One reply from get() (returns bytes, b"" at the end): its lines."""
    buf = b""
    lines = []
    while True:
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            lines.append(line)
            if len(line) >= 4 and line[3:4] == b" ":
                return lines, buf
        data = get()
        if not data:
            return lines, buf
        buf += data


class TLSClient:
    """A client that does STARTTLS by hand over a MemoryBIO, so the test
    decides which ciphertext octets reach the server."""

    def __init__(self, port, cafile):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.rest = b""
        self.plain_reply()
        self.sock.sendall(b"EHLO abuse.example\r\n")
        self.plain_reply()
        self.sock.sendall(b"STARTTLS\r\n")
        code = self.plain_reply()
        assert code.startswith(b"220"), code
        ctx = ssl.create_default_context(cafile=cafile)
        self.inb, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inb, self.outb, server_hostname="localhost")
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.push()
                data = self.sock.recv(65536)
                if not data:
                    raise OSError("EOF in handshake")
                self.inb.write(data)
        self.push()
        self.version = self.obj.version()
        self.tbuf = b""

    def plain_reply(self):
        lines, self.rest = read_reply(lambda: self.sock.recv(4096))
        return lines[-1] if lines else b""

    def push(self):
        out = self.outb.read()
        if out:
            self.sock.sendall(out)

    def _tls_get(self):
        while True:
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    return b""
                if not data:
                    return b""
                self.inb.write(data)
            except (ssl.SSLError, ssl.SSLZeroReturnError):
                return b""

    def reply(self):
        lines, self.tbuf = read_reply(self._tls_get)
        return lines[-1] if lines else b""

    def cmd(self, line):
        self.obj.write(line)
        self.push()
        return self.reply()

    def ciphertext(self, data):
        """data encrypted, not sent."""
        self.obj.write(data)
        return self.outb.read()

    def ended(self, secs=8):
        """True when the server closes the connection within secs (it may
        send a reply or an alert first)."""
        self.sock.settimeout(secs)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def start_data(c):
    r1 = c.cmd(b"EHLO abuse.example\r\n")
    r2 = c.cmd(b"MAIL FROM:<a@example.com>\r\n")
    r3 = c.cmd(b"RCPT TO:<b@example.org>\r\n")
    r4 = c.cmd(b"DATA\r\n")
    return r1.startswith(b"250") and r2.startswith(b"250") and r3.startswith(b"250") and r4.startswith(b"354")


def stored(md):
    new = os.path.join(md, "new")
    tmpd = os.path.join(md, "tmp")
    n = len(os.listdir(new)) if os.path.isdir(new) else 0
    t = len(os.listdir(tmpd)) if os.path.isdir(tmpd) else 0
    return n, t


tmp = tempfile.mkdtemp(prefix="libsmtp-tlsabuse.")
srv = None
try:
    cert = os.path.join(tmp, "cert.pem")
    md = os.path.join(tmp, "md")
    srv = ilib.Server(SERVER, tmp, "server", ["--tls-self-signed", "--tls-cert-out", cert, "--maildir", md,
                                              "--timeout", "5"])
    HALF = b"Subject: cut\r\n\r\nfirst half of the body\r\n"
    END = b"second half\r\n.\r\n"

    # 1. FIN without close_notify in DATA
    c = TLSClient(srv.port, cert)
    check("TLS up (%s)" % c.version, c.version in ("TLSv1.2", "TLSv1.3"), c.version)
    check("in DATA under TLS", start_data(c))
    c.sock.sendall(c.ciphertext(HALF))
    c.sock.shutdown(socket.SHUT_WR)
    check("FIN without close_notify mid-DATA: server ends the session", c.ended())
    c.close()
    time.sleep(0.2)
    check("... nothing delivered", stored(md) == (0, 0), stored(md))

    # 2. close_notify in DATA
    c = TLSClient(srv.port, cert)
    check("in DATA under TLS (2)", start_data(c))
    c.sock.sendall(c.ciphertext(HALF))
    try:
        c.obj.unwrap()
    except ssl.SSLWantReadError:
        pass
    c.push()   # our close_notify
    check("close_notify mid-DATA: server ends the session", c.ended())
    c.close()
    time.sleep(0.2)
    check("... nothing delivered", stored(md) == (0, 0), stored(md))

    # 3. a record cut short carrying the end of data
    c = TLSClient(srv.port, cert)
    check("in DATA under TLS (3)", start_data(c))
    c.sock.sendall(c.ciphertext(HALF))
    rec = c.ciphertext(END)
    c.sock.sendall(rec[:-7])
    c.sock.shutdown(socket.SHUT_WR)
    check("record cut short mid-DATA: server ends the session", c.ended())
    c.close()
    time.sleep(0.2)
    check("... nothing delivered (the end-of-data line never decrypted)", stored(md) == (0, 0), stored(md))

    # 4. a record with a flipped last octet carrying the end of data
    c = TLSClient(srv.port, cert)
    check("in DATA under TLS (4)", start_data(c))
    c.sock.sendall(c.ciphertext(HALF))
    rec = bytearray(c.ciphertext(END))
    rec[-1] ^= 0x01
    c.sock.sendall(bytes(rec))
    check("tampered record mid-DATA: server ends the session", c.ended())
    c.close()
    time.sleep(0.2)
    check("... nothing delivered", stored(md) == (0, 0), stored(md))

    # 5. plaintext injected after the handshake in DATA
    c = TLSClient(srv.port, cert)
    check("in DATA under TLS (5)", start_data(c))
    c.sock.sendall(c.ciphertext(HALF))
    c.sock.sendall(b"\r\n.\r\nQUIT\r\n")
    check("plaintext after the handshake: server ends the session", c.ended())
    c.close()
    time.sleep(0.2)
    check("... nothing delivered", stored(md) == (0, 0), stored(md))

    # the server still serves
    with smtplib.SMTP("localhost", srv.port, local_hostname="good.example", timeout=15) as s:
        s.starttls(context=ssl.create_default_context(cafile=cert))
        refused = s.sendmail("a@example.com", ["b@example.org"], b"Subject: good\r\n\r\nafter the abuse\r\n")
    check("afterwards a good client delivers", refused == {}, refused)
    time.sleep(0.2)
    check("exactly that one message stored, tmp/ empty", stored(md) == (1, 0), stored(md))
    rc = srv.close()
    srv = None
    check("SIGTERM ends the server with status 0", rc == 0, rc)
finally:
    if srv:
        srv.close()
    shutil.rmtree(tmp, ignore_errors=True)
tap.finish()
