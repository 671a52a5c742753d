"""The binding's example programs (examples/server.py, examples/client.py)
as a user runs them: against each other, against the C example programs,
over STARTTLS; their output lines and exit statuses (the smtp-send
contract of CLI.md). Loopback only, every step bounded."""

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import support

D = support.DEADLINE
EXAMPLES = os.path.join(os.path.dirname(support.HERE), "examples")
SERVER_PY = os.path.join(EXAMPLES, "server.py")
CLIENT_PY = os.path.join(EXAMPLES, "client.py")


def start(cmd):
    """Start a server that prints '... listening on 127.0.0.1:PORT' on
    stderr; return (process, port)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    buf = b""
    end = time.monotonic() + D
    while b"listening on" not in buf:
        left = end - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            stop(proc)
            raise RuntimeError("%s did not start: %r" % (cmd[0], buf))
        r, _, _ = select.select([proc.stderr], [], [], left)
        if r:
            buf += os.read(proc.stderr.fileno(), 4096)
    return proc, int(re.search(rb"listening on 127\.0\.0\.1:(\d+)", buf).group(1))


def stop(proc):
    """SIGTERM, wait; returns (stdout, exit status)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=D)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(), proc.returncode


def client(args, body=b"Subject: example\n\nHello.\n"):
    r = subprocess.run([sys.executable, CLIENT_PY, "--timeout", str(D)] + args, input=body,
                       capture_output=True, timeout=D * 2)
    return r.returncode, r.stdout.decode().splitlines(), r.stderr.decode()


class TestExamples(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="libsmtp-py-ex-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def server_py(self, *args):
        proc, port = start([sys.executable, SERVER_PY, "--listen", "127.0.0.1:0",
                            "--hostname", "mx.test"] + list(args))
        self.addCleanup(stop, proc)
        return proc, port

    def test_client_to_server_py(self):
        proc, port = self.server_py("--reject", "no@example.net")
        rc, out, err = client(["--server", "127.0.0.1:%d" % port, "--from", "a@example.org",
                               "--to", "b@example.net", "--to", "no@example.net"])
        self.assertEqual(rc, 1, err)
        self.assertEqual(out[0], "RCPT b@example.net 250 2.1.5 Recipient OK")
        self.assertEqual(out[1], "RCPT no@example.net 550 5.1.1 No such user here")
        self.assertTrue(re.match(r"DATA 250 2\.0\.0 Queued as \d+$", out[2]), out)
        sout, status = stop(proc)
        self.assertEqual(status, 0)
        self.assertIn("MESSAGE from=<a@example.org> to=<b@example.net> size=28", sout)

    def test_usage_errors(self):
        for args in (["--bogus"], ["--server", "127.0.0.1:x", "--from", "a@b.c", "--to", "d@e.f"],
                     ["--server", "127.0.0.1:25", "--from", "a@b.c", "--to", "not an address"],
                     ["--server", "127.0.0.1:25", "--from", "a@b.c\r\nRSET", "--to", "d@e.f"]):
            with self.subTest(args=args):
                rc, out, err = client(args)
                self.assertEqual(rc, 64)
                self.assertEqual(out, [])
                self.assertTrue(err.startswith("client.py: "), err)

    def test_connection_refused(self):
        port = support.free_port()
        rc, out, err = client(["--server", "127.0.0.1:%d" % port, "--from", "a@b.example",
                               "--to", "c@d.example"])
        self.assertEqual(rc, 2)
        self.assertIn("cannot connect", err)

    @unittest.skipUnless(support.test_certificate(), "openssl command not available")
    def test_starttls_auth_maildir(self):
        cert, key = support.test_certificate()
        md = os.path.join(self.tmp, "Maildir")
        proc, port = self.server_py("--tls-cert", cert, "--tls-key", key, "--user", "ann:pw1",
                                    "--require-auth", "--maildir", md)
        common = ["--server", "127.0.0.1:%d" % port, "--from", "ann@example.org", "--to",
                  "b@example.net", "--starttls", "required", "--ca-file", cert,
                  "--tls-servername", "localhost"]
        rc, out, err = client(common + ["--auth", "ann:pw1"])
        self.assertEqual(rc, 0, err)
        rc, out, err = client(common + ["--auth", "ann:nope"])   # 535, then QUIT
        self.assertEqual((rc, out), (2, []))
        self.assertIn("authentication credentials invalid", err)
        stop(proc)
        files = os.listdir(os.path.join(md, "new"))
        self.assertEqual(len(files), 1)
        with open(os.path.join(md, "new", files[0]), "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"Return-Path: <ann@example.org>\r\n"
                                        b"Delivered-To: b@example.net\r\nReceived: from "))
        self.assertIn(b"with ESMTPSA", data)
        self.assertTrue(data.endswith(b"\r\n\r\nHello.\r\n"))

    @unittest.skipUnless(support.example("smtp-send"), "examples/smtp-send not built")
    def test_smtp_send_to_server_py_lmtp(self):
        proc, port = self.server_py("--lmtp", "--reject", "no@example.net")
        r = subprocess.run([support.example("smtp-send"), "--server", "127.0.0.1:%d" % port,
                            "--lmtp", "--from", "a@example.org", "--to", "x@example.net",
                            "--to", "no@example.net", "--to", "y@example.net"],
                           input=b"Subject: lmtp\r\n\r\nbody\r\n", capture_output=True, timeout=D)
        self.assertEqual(r.returncode, 1, r.stderr)
        out = r.stdout.decode().splitlines()
        self.assertIn("RCPT no@example.net 550 5.1.1 No such user here", out)
        self.assertEqual(len([ln for ln in out if ln.startswith("DATA ")]), 2)
        sout, _ = stop(proc)
        self.assertEqual(sorted(re.findall(r"to=<([^>]*)>", sout)),
                         ["x@example.net", "y@example.net"])

    @unittest.skipUnless(support.example("smtp-server"), "examples/smtp-server not built")
    def test_client_py_to_smtp_server(self):
        md = os.path.join(self.tmp, "md")
        cert = os.path.join(self.tmp, "c.pem")
        proc, port = start([support.example("smtp-server"), "--listen", "127.0.0.1:0",
                            "--hostname", "localhost", "--tls-self-signed", "--tls-cert-out",
                            cert, "--maildir", md])
        self.addCleanup(stop, proc)
        rc, out, err = client(["--server", "127.0.0.1:%d" % port, "--from", "a@example.org",
                               "--to", "b@example.net", "--starttls", "required", "--ca-file",
                               cert, "--tls-servername", "localhost", "--trace"])
        self.assertEqual(rc, 0, err)
        self.assertIn("C: STARTTLS", err)
        self.assertEqual(len(os.listdir(os.path.join(md, "new"))), 1)


    def test_readme_python_snippet(self):
        # The Python example of README.md runs as printed (on a free port).
        with open(os.path.join(os.path.dirname(support.HERE), "README.md")) as f:
            blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
        code = [b for b in blocks if "libsmtp.Server(" in b]
        self.assertEqual(len(code), 1)
        src = code[0].replace("2525", str(support.free_port()))
        env = dict(os.environ, PYTHONPATH=os.path.dirname(support.HERE))
        r = subprocess.run([sys.executable, "-c", src], capture_output=True, timeout=D * 2,
                           text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            "got 22 octets",
            "bob@example.net 250 2.1.5 Recipient OK 250 2.0.0 Message accepted",
            "nobody@example.net 550 5.1.1 No such user None"])


if __name__ == "__main__":
    support.main()
