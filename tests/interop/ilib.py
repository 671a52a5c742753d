"""Helpers shared by the Python interop scripts: a free loopback port and
the example server started on port 0 (its port read from its log), bounded
by timeout(1) with a SIGKILL after the grace period, so a server that does
not exit on SIGTERM never outlives its test."""
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


class Server:
    def __init__(self, binary, tmp, name, args, limit=150):
        self.log = os.path.join(tmp, name + ".log")
        self.proc = subprocess.Popen(
            ["timeout", "-k", "5", str(limit), binary, "--listen", "127.0.0.1:0",
             "--hostname", "localhost"] + args,
            stderr=open(self.log, "wb"))
        deadline = time.time() + 10
        self.port = None
        while time.time() < deadline and self.port is None:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+) ", open(self.log).read())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("smtp-server did not start: " + open(self.log).read())

    def close(self):
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()   # timeout(1) passes SIGTERM on; a stuck server is killed
            return self.proc.wait(timeout=10)
