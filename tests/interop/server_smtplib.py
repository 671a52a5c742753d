#!/usr/bin/env python3
"""Interop: Python's smtplib (SMTP and LMTP clients) against
examples/smtp-server --stdio, connected through socat (one server process
per TCP connection). Bounded in time. Exit 77 (skipped) without socat.

Usage: server_smtplib.py PATH/TO/smtp-server
"""
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402  (tests/interop/ilib.py)

SERVER = sys.argv[1]
if not shutil.which("socat"):
    print("socat not installed")
    sys.exit(77)

failures = 0


def check(name, cond, detail=""):
    global failures
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else "  " + str(detail)))
    if not cond:
        failures += 1


free_port = ilib.free_port


class Server:
    def __init__(self, args):
        self.port = free_port()
        cmd = " ".join([SERVER, "--stdio", "--hostname", "mx.test"] + args)
        self.proc = subprocess.Popen(
            ["timeout", "60", "socat",
             "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork" % self.port,
             "EXEC:%s" % cmd],
            stderr=subprocess.DEVNULL)
        if not ilib.accepting(self.port, 10, step=0.05):
            raise RuntimeError("socat did not start")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def maildir_files(d):
    p = os.path.join(d, "new")
    return sorted(os.path.join(p, f) for f in os.listdir(p)) if os.path.isdir(p) else []


tmp = tempfile.mkdtemp()
try:
    md = os.path.join(tmp, "md")
    users = os.path.join(tmp, "users")
    with open(users, "w") as f:
        f.write("user:secret\n")
    srv = Server(["--maildir", md, "--reject", "nobody@example.org", "--max-size", "2000",
                  "--auth-file", users, "--allow-plaintext-auth"])
    try:
        # 1. EHLO features as smtplib parses them.
        with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example", timeout=10) as c:
            code, _ = c.ehlo()
            check("ehlo 250", code == 250)
            for feat in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes",
                         "chunking", "auth"):
                check("feature " + feat, c.has_extn(feat))
            check("size value", c.esmtp_features.get("size") == "2000")
            # 2. A message with a leading-dot line, two recipients, one refused.
            msg = "Subject: t\r\n\r\n.dot line\r\nbody\r\n"
            refused = c.sendmail("a@example.com", ["bob@example.org", "nobody@example.org"], msg)
            check("one recipient refused", list(refused) == ["nobody@example.org"]
                  and refused["nobody@example.org"][0] == 550, refused)
            files = maildir_files(md)
            data = open(files[-1], "rb").read() if files else b""
            check("stored with header fields",
                  data.startswith(b"Return-Path: <a@example.com>\r\nDelivered-To: bob@example.org\r\n")
                  and b"\r\n.dot line\r\nbody\r\n" in data, data[:200])
            # 3. Oversize message: 552 after the data.
            try:
                c.sendmail("a@example.com", ["bob@example.org"], "x" * 5000 + "\r\n")
                check("size refused", False, "accepted")
            except smtplib.SMTPDataError as e:
                check("size refused", e.smtp_code == 552)
            except smtplib.SMTPSenderRefused as e:
                check("size refused", e.smtp_code == 552)
            # 4. SMTPUTF8 (RFC 6531).
            c.sendmail("j\u00f8rn@example.com", ["\u7528\u6237@example.org"],
                       "Subject: utf8\r\n\r\nhi\r\n".encode(), mail_options=["SMTPUTF8"])
            check("smtputf8 stored", len(maildir_files(md)) == 2)
            # 5. NOOP, VRFY, RSET, HELP.
            check("noop", c.noop()[0] == 250)
            check("vrfy 252", c.verify("bob")[0] == 252)
            check("rset", c.rset()[0] == 250)
            check("help", c.docmd("HELP")[0] == 214)
            # 6. AUTH PLAIN over plaintext (allowed by option).
            c.login("user", "secret")
            check("auth ok", True)
            before = set(maildir_files(md))
            c.sendmail("a@example.com", ["bob@example.org"], "Subject: a\r\n\r\nx\r\n")
            new = [f for f in maildir_files(md) if f not in before]
            data = open(new[0], "rb").read() if len(new) == 1 else b""
            check("received ESMTPA", b"with ESMTPA id" in data, data[:300])
    finally:
        srv.close()

    # 7. LMTP: one reply per recipient.
    md2 = os.path.join(tmp, "md2")
    srv = Server(["--lmtp", "--maildir", md2])
    try:
        c = smtplib.LMTP("127.0.0.1", srv.port, local_hostname="client.example")
        refused = c.sendmail("a@example.com", ["r1@example.org", "r2@example.org"],
                             "Subject: l\r\n\r\nlmtp\r\n")
        check("lmtp delivered", refused == {} and len(maildir_files(md2)) == 1, refused)
        c.quit()
    finally:
        srv.close()
finally:
    shutil.rmtree(tmp, ignore_errors=True)

sys.exit(1 if failures else 0)
