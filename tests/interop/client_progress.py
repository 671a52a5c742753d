#!/usr/bin/python3
"""smtp-send's progress line: shown on stderr for a message over 1 MiB when
stderr is a terminal (a pseudo-terminal here), never otherwise (a pipe, or
a small message), and never on stdout (the result lines stay clean).

The receiving end is a plain Python sink on loopback that reads the whole
message, slowly enough that the transfer takes about two seconds.

Usage: client_progress.py PATH/TO/smtp-send
"""
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402  (tests/interop/ilib.py)

SEND = sys.argv[1]
tap = ilib.Tap(400)
check = tap.check


def sink(ls, slow):
    """Serve one SMTP session (no extensions but 8BITMIME), reading DATA in
    64 KiB pieces with a pause between them when @p slow."""
    ls.settimeout(30)
    c, _ = ls.accept()
    c.settimeout(30)
    f = c.makefile("rb")
    c.sendall(b"220 sink\r\n")
    while True:
        line = f.readline()
        if not line:
            return
        verb = line[:4].upper()
        if verb == b"EHLO":
            c.sendall(b"250-sink\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            c.sendall(b"354 go\r\n")
            while True:
                chunk = f.readline()
                if chunk in (b".\r\n", b""):
                    break
                if slow:
                    slow[0] += len(chunk)
                    if slow[0] >= 256 * 1024:
                        slow[0] = 0
                        time.sleep(0.15)
            c.sendall(b"250 ok\r\n")
        elif verb == b"QUIT":
            c.sendall(b"221 bye\r\n")
            c.close()
            return
        else:
            c.sendall(b"250 ok\r\n")


def run(size, tty):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]
    t = threading.Thread(target=sink, args=(ls, [0]), daemon=True)
    t.start()
    line = b"x" * 78 + b"\r\n"
    msg = b"Subject: big\r\n\r\n" + line * (size // len(line) + 1)
    args = [SEND, "--server", "127.0.0.1:%d" % port, "--from", "a@example.org",
            "--to", "b@example.org", "--starttls", "off", "--helo", "client.example"]
    if tty:
        master, slave = pty.openpty()
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
    else:
        master = None
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    feeder = threading.Thread(target=lambda: (p.stdin.write(msg), p.stdin.close()), daemon=True)
    feeder.start()
    err = b""
    if master is not None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                err += data
            elif p.poll() is not None:
                break
        os.close(master)
    feeder.join(60)
    out = p.stdout.read()
    if master is None:
        err += p.stderr.read()
    p.wait(timeout=60)
    t.join(10)
    ls.close()
    return p.returncode, out, err


rc, out, err = run(3 * 1024 * 1024, tty=True)
check("3 MiB to a terminal: delivered", rc == 0 and b"DATA 250" in out, (rc, out))
check("3 MiB to a terminal: a progress line on stderr", b"\rsent " in err and b"MiB/s" in err,
      err[-300:])
check("3 MiB to a terminal: the line reaches the whole size and ends with a newline",
      b"of 3.0 MiB" in err and err.rstrip(b" ").endswith(b"\n"), err[-200:])
check("3 MiB to a terminal: stdout holds only the result lines",
      b"sent " not in out and out.startswith(b"RCPT "), out)

rc, out, err = run(3 * 1024 * 1024, tty=False)
check("3 MiB to a pipe: delivered, no progress", rc == 0 and b"sent " not in err, err[-200:])

rc, out, err = run(512 * 1024, tty=True)
check("512 KiB to a terminal: no progress (only over 1 MiB)", rc == 0 and b"sent " not in err,
      err[-200:])

tap.finish()
