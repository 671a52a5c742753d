"""Helpers shared by the Python interop scripts: a free loopback port, and
programs started on port 0 (their port read from their log), bounded by
timeout(1) with a SIGKILL after the grace period, so a program that does
not exit on SIGTERM never outlives its test: any such program (Listener)
and the example server (Server)."""
import os
import re
import socket
import subprocess
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Listener:
    """argv under timeout(1) (limit seconds), its stderr in TMP/NAME.log;
    waits up to wait seconds for the log to match pattern, whose group is
    the port it listens on (self.port), else RuntimeError naming what."""

    def __init__(self, argv, tmp, name, limit=150, wait=10, pattern=r"listening on 127\.0\.0\.1:(\d+)",
                 what=None, env=None, stdout=None):
        self.log = os.path.join(tmp, name + ".log")
        self.proc = subprocess.Popen(["timeout", "-k", "5", str(limit)] + list(argv),
                                     stderr=open(self.log, "wb"), stdout=stdout, env=env)
        deadline = time.time() + wait
        self.port = None
        while time.time() < deadline and self.port is None:
            m = re.search(pattern, open(self.log).read())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("%s did not start: %s" % (what or name, open(self.log).read()))

    def close(self):
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()   # timeout(1) passes SIGTERM on; a stuck program is killed
            return self.proc.wait(timeout=10)


class Server(Listener):
    """examples/smtp-server (binary) on 127.0.0.1:0 with args."""

    def __init__(self, binary, tmp, name, args, limit=150):
        super().__init__([binary, "--listen", "127.0.0.1:0", "--hostname", "localhost"] + args, tmp, name,
                         limit=limit, pattern=r"listening on 127\.0\.0\.1:(\d+) ", what="smtp-server")
