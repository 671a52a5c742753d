"""Helpers shared by the Python interop scripts: TAP-style checks (Tap); a
free loopback port, waiting for a listener (accepting), an SMTP reply
(read_reply), log tails (print_log_tails); programs started on port 0 (their port read from their
log), by default bounded by timeout(1) with a SIGKILL after the grace
period, so a program that does not exit on SIGTERM never outlives its
test: any such program (Listener) and the example server (Server); and the
messages smtp-server --maildir stored, in delivery order, split from the
header block it prepends."""
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time


class Tap:
    """TAP-style results on stdout, flushed at once, from any thread:
    check() prints "ok N - name" or "not ok N - name  # detail" (the
    detail's repr, its first width characters, or its last when tail);
    plan() prints the plan "1..N" and gives the exit status, 1 if a check
    failed, else 0; finish() exits with it."""

    def __init__(self, width=400, tail=False):
        self.count = 0
        self.failures = 0
        self.width = width
        self.tail = tail
        self._lock = threading.Lock()

    def _cut(self, detail):
        r = repr(detail)
        return r[-self.width:] if self.tail else r[:self.width]

    def check(self, name, cond, detail=""):
        with self._lock:
            self.count += 1
            print(("ok %d - " % self.count if cond else "not ok %d - " % self.count) + name
                  + ("" if cond else "  # " + self._cut(detail)), flush=True)
            if not cond:
                self.failures += 1

    def plan(self):
        """Prints the plan; the exit status: 1 if a check failed, else 0."""
        print("1..%d" % self.count, flush=True)
        return 1 if self.failures else 0

    def finish(self):
        sys.exit(self.plan())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def die_with_parent():
    """preexec_fn of a program that must not outlive this script, whatever
    kills it: SIGTERM when the parent dies (Linux PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def accepting(port, secs, proc=None, step=0.1):
    """Whether something accepts connections on 127.0.0.1:port within secs
    seconds (tried every step seconds); False as soon as proc, the program
    that should listen there, has exited."""
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            if proc is not None and proc.poll() is not None:
                return False
            time.sleep(step)
    return False


def read_reply(f):
    """One SMTP reply from the binary file f: its lines, up to the one
    without "-" after the code (fewer at end of file)."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            return lines
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def print_log_tails(d, n=20):
    """The last n lines of each *.log file in d, for a failed run."""
    for name in sorted(os.listdir(d)):
        if name.endswith(".log"):
            print("---- tail of " + name)
            print("".join(open(os.path.join(d, name), errors="replace").readlines()[-n:]))


class Listener:
    """argv under timeout(1) (limit seconds; None: argv as it is), its
    stderr in TMP/NAME.log; waits up to wait seconds for the log to match
    pattern, whose group is the port it listens on (self.port), else kills
    it and raises RuntimeError naming what."""

    def __init__(self, argv, tmp, name, limit=150, wait=10, pattern=r"listening on 127\.0\.0\.1:(\d+)",
                 what=None, env=None, stdout=None, preexec_fn=None):
        self.log = os.path.join(tmp, name + ".log")
        argv = list(argv) if limit is None else ["timeout", "-k", "5", str(limit)] + list(argv)
        self.proc = subprocess.Popen(argv, stderr=open(self.log, "wb"), stdout=stdout, env=env,
                                     preexec_fn=preexec_fn)
        deadline = time.time() + wait
        self.port = None
        while time.time() < deadline and self.port is None:
            m = re.search(pattern, open(self.log, "rb").read().decode("latin-1"))
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("%s did not start: %s" % (what or name, open(self.log).read()))

    def close(self):
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()   # timeout(1) passes SIGTERM on; a stuck program is killed
            return self.proc.wait(timeout=10)

    def stop(self):
        """SIGTERM: the exit status, or -1 (and SIGKILL) when it has not
        exited 10 s later."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -1


# What smtp-server prints on stderr once it listens; the group is the port.
SERVER_LISTENING = r"listening on 127\.0\.0\.1:(\d+) "


class Server(Listener):
    """examples/smtp-server (binary) on 127.0.0.1:0 as hostname, with args."""

    def __init__(self, binary, tmp, name, args, limit=150, hostname="localhost", wait=10, preexec_fn=None):
        super().__init__([binary, "--listen", "127.0.0.1:0", "--hostname", hostname] + list(args), tmp, name,
                         limit=limit, wait=wait, pattern=SERVER_LISTENING,
                         what="smtp-server", preexec_fn=preexec_fn)


def maildir_files(md):
    """Paths of the messages smtp-server --maildir stored in md, in delivery
    order: the server's per-process counter in the unique name
    ("...Q<n>.host"); mtimes can tie within the file system's clock tick."""
    p = os.path.join(md, "new")
    if not os.path.isdir(p):
        return []

    def order(f):
        m = re.search(r"Q(\d+)\.", f)
        return (int(m.group(1)) if m else 0, os.path.getmtime(os.path.join(p, f)))
    return [os.path.join(p, f) for f in sorted(os.listdir(p), key=order)]


def split_stored(path):
    """(prepended Return-Path/Delivered-To/Received block, message) of a
    stored file."""
    lines = open(path, "rb").read().split(b"\r\n")
    i = 0
    while i < len(lines) and (lines[i].startswith(b"Return-Path:") or lines[i].startswith(b"Delivered-To:")):
        i += 1
    if i < len(lines) and lines[i].startswith(b"Received:"):
        i += 1
        while i < len(lines) and lines[i].startswith(b"\t"):
            i += 1
    return b"\r\n".join(lines[:i]) + b"\r\n", b"\r\n".join(lines[i:])
