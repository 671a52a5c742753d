#!/usr/bin/python3
"""smtp-send --lmtp against a fake LMTP server (RFC 2033) that closes the
connection before all of its per-recipient replies after the data: every
accepted recipient still gets its `DATA <addr> ...` line, the missing ones
`DATA <addr> 421 - connection lost`; refused recipients get none; the exit
status counts the recipients that got a 2xx. The same for SMTP: the one
`DATA 421 - connection lost` line. Python standard library only; loopback
only; every run bounded.

Usage: client_lmtp_early_close.py PATH/TO/smtp-send
"""
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402  (tests/interop/ilib.py)

SEND = sys.argv[1]
tap = ilib.Tap(400)
check = tap.check


def fake_server(ls, lmtp, after_data):
    """One session: accept every RCPT except those holding 'bad', then after
    the data send the replies in after_data and close."""
    ls.settimeout(10)
    try:
        c, _ = ls.accept()
    except socket.timeout:
        return
    c.settimeout(10)
    f = c.makefile("rb")

    def w(s):
        c.sendall(s.encode())
    try:
        w("220 fake ready\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            u = line.strip().upper()
            if u.startswith(b"LHLO") or u.startswith(b"EHLO"):
                w("250-fake\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
            elif u.startswith(b"MAIL"):
                w("250 2.1.0 ok\r\n")
            elif u.startswith(b"RCPT"):
                w("550 5.1.1 no such user\r\n" if b"BAD" in u else "250 2.1.5 ok\r\n")
            elif u == b"DATA":
                w("354 go ahead\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                if after_data:
                    w(after_data)
                c.shutdown(socket.SHUT_RDWR)
                return
            elif u == b"QUIT":
                w("221 bye\r\n")
                return
            else:
                w("502 5.5.1 no\r\n")
    except OSError:
        pass
    finally:
        c.close()


def run(lmtp, after_data, rcpts):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]
    t = threading.Thread(target=fake_server, args=(ls, lmtp, after_data))
    t.start()
    args = [SEND, "--server", "127.0.0.1:%d" % port, "--from", "a@b.example"]
    if lmtp:
        args.append("--lmtp")
    for r in rcpts:
        args += ["--to", r]
    p = subprocess.run(["timeout", "20"] + args, input=b"Subject: t\r\n\r\nhello\r\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t.join(15)
    ls.close()
    return p.returncode, p.stdout.decode(errors="replace").splitlines()


R = ["r1@x.example", "bad@x.example", "r2@x.example", "r3@x.example"]
RCPT_LINES = ["RCPT r1@x.example 250 2.1.5 ok", "RCPT bad@x.example 550 5.1.1 no such user",
              "RCPT r2@x.example 250 2.1.5 ok", "RCPT r3@x.example 250 2.1.5 ok"]

# 1. No reply at all after the data.
rc, out = run(True, "", R)
check("LMTP, closed before any reply: one line per accepted recipient",
      out == RCPT_LINES + ["DATA r1@x.example 421 - connection lost",
                           "DATA r2@x.example 421 - connection lost",
                           "DATA r3@x.example 421 - connection lost"], out)
check("LMTP, closed before any reply: exit 2", rc == 2, rc)

# 2. One reply, then the close.
rc, out = run(True, "250 2.0.0 stored\r\n", R)
check("LMTP, closed after the first reply: the others get 421 - connection lost",
      out == RCPT_LINES + ["DATA r1@x.example 250 2.0.0 stored",
                           "DATA r2@x.example 421 - connection lost",
                           "DATA r3@x.example 421 - connection lost"], out)
check("LMTP, closed after the first reply: exit 1", rc == 1, rc)

# 3. One reply, then 421 for the next (RFC 5321 3.8), then the close.
rc, out = run(True, "250 2.0.0 stored\r\n421 4.3.0 going away\r\n", R)
check("LMTP, 421 then close: the 421 as sent, then the local line",
      out == RCPT_LINES + ["DATA r1@x.example 250 2.0.0 stored",
                           "DATA r2@x.example 421 4.3.0 going away",
                           "DATA r3@x.example 421 - connection lost"], out)
check("LMTP, 421 then close: exit 1", rc == 1, rc)

# 4. Every reply arrives: nothing is added.
rc, out = run(True, "250 2.0.0 a\r\n452 4.2.2 full\r\n250 2.0.0 c\r\n", R)
check("LMTP, every reply: the lines as sent",
      out == RCPT_LINES + ["DATA r1@x.example 250 2.0.0 a", "DATA r2@x.example 452 4.2.2 full",
                           "DATA r3@x.example 250 2.0.0 c"], out)
check("LMTP, every reply: exit 1", rc == 1, rc)

# 5. SMTP: the one DATA line.
rc, out = run(False, "", ["r1@x.example", "r2@x.example"])
check("SMTP, closed before the reply to the data: DATA 421 - connection lost",
      out == ["RCPT r1@x.example 250 2.1.5 ok", "RCPT r2@x.example 250 2.1.5 ok",
              "DATA 421 - connection lost"], out)
check("SMTP, closed before the reply: exit 2", rc == 2, rc)

tap.finish()
