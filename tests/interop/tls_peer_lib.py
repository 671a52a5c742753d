"""Shared part of the STARTTLS interop scripts against other SMTP stacks
(tls_exim.py, tls_node.py, tls_gosmtp.py): TAP-style checks, the example
programs (smtp-send given, smtp-server next to it), a throw-away PKI made
with openssl, the test message and the byte comparisons.

TLS 1.3 is expected everywhere (RFC 8446) unless LIBSMTP_EXPECT_TLS12=1
(the backend is Mbed TLS before 3.2), then TLS 1.2 (RFC 5246)."""
import os
import re
import subprocess
import sys

import ilib

count = 0
failures = 0
WANT13 = os.environ.get("LIBSMTP_EXPECT_TLS12", "0") != "1"


def check(name, cond, detail=""):
    global count, failures
    count += 1
    print(("ok %d - " % count if cond else "not ok %d - " % count) + name
          + ("" if cond else "  # " + repr(detail)[:600]))
    sys.stdout.flush()
    if not cond:
        failures += 1


def finish():
    print("1..%d" % count)
    sys.exit(1 if failures else 0)


def skip(why):
    print("1..0 # SKIP " + why)
    sys.exit(77)


def programs(arg):
    """(smtp-send, smtp-server) from the path given to the script."""
    d = os.path.dirname(os.path.abspath(arg))
    return os.path.join(d, "smtp-send"), os.path.join(d, "smtp-server")


def tls_in_build(send):
    """Whether the build has TLS: smtp-server --tls-self-signed starts only
    then (the options exist in every build)."""
    server = os.path.join(os.path.dirname(send), "smtp-server")
    r = subprocess.run([server, "--stdio", "--tls-self-signed"], input=b"QUIT\r\n", capture_output=True,
                       timeout=30)
    return r.returncode == 0


def make_cert(tmp, name, cn):
    """A self-signed certificate for cn (CN and subjectAltName): (cert, key)."""
    cert = os.path.join(tmp, name + "-cert.pem")
    key = os.path.join(tmp, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn,
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


# Dot-transparency (RFC 5321 4.5.2): lines that start with dots; a line of
# one dot inside the body; long lines; 8-bit-free so every peer takes it.
BODY = (b".leading dot\r\n..two dots\r\n.\r\nmiddle\r\n" + b"x" * 900 + b"\r\n"
        + b"".join(b"line %04d of the STARTTLS interop message\r\n" % i for i in range(400))
        + b"last line\r\n")


def message(subject):
    return (b"From: <sender@example.com>\r\nTo: <rcpt@example.org>\r\nSubject: " + subject.encode()
            + b"\r\nMessage-ID: <" + subject.replace(" ", "-").encode() + b"@example.com>\r\n\r\n" + BODY)


def want_proto():
    return "TLSv1.3" if WANT13 else "TLSv1.2"


def send(send_bin, tmp, port, msg, args, limit=60):
    """smtp-send with --trace: (exit status, stdout, stderr)."""
    path = os.path.join(tmp, "msg.eml")
    with open(path, "wb") as f:
        f.write(msg)
    r = subprocess.run(["timeout", "-k", "5", str(limit), send_bin, "--server", "127.0.0.1:%d" % port,
                        "--from", "sender@example.com", "--to", "rcpt@example.org", "--trace"]
                       + list(args) + [path], capture_output=True)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def trace_tls(err):
    """The "TLS: <protocol> <cipher>, ..." line smtp-send --trace prints."""
    m = re.search(r"^TLS: (\S+) (\S+)", err, re.M)
    return (m.group(1), m.group(2)) if m else (None, None)


def maildir_messages(md):
    """Stored messages of smtp-server --maildir, in delivery order, without
    the prepended Return-Path/Delivered-To/Received block: [(head, msg)]."""
    p = os.path.join(md, "new")
    if not os.path.isdir(p):
        return []

    def order(f):
        m = re.search(r"Q(\d+)\.", f)
        return (int(m.group(1)) if m else 0, os.path.getmtime(os.path.join(p, f)))
    out = []
    for f in sorted(os.listdir(p), key=order):
        data = open(os.path.join(p, f), "rb").read()
        lines = data.split(b"\r\n")
        i = 0
        while i < len(lines) and (lines[i].startswith(b"Return-Path:") or lines[i].startswith(b"Delivered-To:")):
            i += 1
        if i < len(lines) and lines[i].startswith(b"Received:"):
            i += 1
            while i < len(lines) and lines[i].startswith(b"\t"):
                i += 1
        out.append((b"\r\n".join(lines[:i]) + b"\r\n", b"\r\n".join(lines[i:])))
    return out


def peer_files(d):
    """Messages a peer program (bench/go-smtp-peer.go, bench/node-smtp-peer.js)
    stored as <n>.eml: [(tls line, envelope line, message)]."""
    out = []
    if not os.path.isdir(d):
        return out
    for f in sorted((f for f in os.listdir(d) if f.endswith(".eml")), key=lambda f: int(f[:-4])):
        data = open(os.path.join(d, f), "rb").read()
        tls_line, _, rest = data.partition(b"\r\n")
        env_line, _, msg = rest.partition(b"\r\n")
        out.append((tls_line.decode(errors="replace"), env_line.decode(errors="replace"), msg))
    return out


class SmtpServer(ilib.Server):
    """examples/smtp-server with STARTTLS from cert/key and a Maildir."""

    def __init__(self, binary, tmp, name, cert, key, extra=()):
        self.maildir = os.path.join(tmp, name + "-md")
        super().__init__(binary, tmp, name, ["--tls-cert", cert, "--tls-key", key,
                                             "--maildir", self.maildir] + list(extra))


class Peer:
    """A peer program on 127.0.0.1:0 that prints "listening on
    127.0.0.1:PORT" on stderr (bounded by timeout(1))."""

    def __init__(self, argv, tmp, name, limit=150, env=None):
        import time
        self.log = os.path.join(tmp, name + ".log")
        self.proc = subprocess.Popen(["timeout", "-k", "5", str(limit)] + argv,
                                     stderr=open(self.log, "wb"), stdout=subprocess.DEVNULL, env=env)
        deadline = time.time() + 20
        self.port = None
        while time.time() < deadline and self.port is None:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(self.log).read())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("%s did not start: %s" % (name, open(self.log).read()))

    def close(self):
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)
