"""Helpers shared by the binding's tests (plain unittest, loopback only).

Environment (set by bindings/python/meson.build; each has a fallback for
running a test file by hand from the source tree):

- LIBSMTP_PATH: the shared library (else libsmtp's own search);
- LIBSMTP_EXAMPLES: folder of the built example programs (smtp-server, smtp-send);
- LIBSMTP_LAYOUT_PROBE: the compiled struct layout probe;
- LIBSMTP_SOURCE_ROOT: the source tree (abi/, include/).
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the package, when run by hand

import libsmtp  # noqa: E402

SOURCE_ROOT = os.environ.get("LIBSMTP_SOURCE_ROOT",
                             os.path.abspath(os.path.join(HERE, "..", "..", "..")))
DEADLINE = 20.0  # seconds: bound for any one network step in the tests


def example(name):
    """Path of a built example program, or None."""
    d = os.environ.get("LIBSMTP_EXAMPLES")
    if not d:
        lib = libsmtp.loaded_path() or ""
        d = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(lib))), "examples")
    p = os.path.join(d, name)
    return p if os.access(p, os.X_OK) else None


def needs_example(name):
    p = example(name)
    return unittest.skipUnless(p, "example program %s not built" % name)


_certs = None


def test_certificate():
    """(cert.pem, key.pem) for CN/SAN localhost and 127.0.0.1, made once
    with the openssl command; None when it is not installed."""
    global _certs
    if _certs is None:
        openssl = shutil.which("openssl")
        if not openssl:
            _certs = ()
            return None
        d = tempfile.mkdtemp(prefix="libsmtp-py-cert-")
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        r = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        _certs = (cert, key) if r.returncode == 0 else ()
    return _certs or None


def needs_certificate(f):
    return unittest.skipUnless(test_certificate(), "openssl command not available")(f)


def server_context():
    import ssl
    cert, key = test_certificate()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def client_context(cafile=None):
    import ssl
    ctx = ssl.create_default_context(cafile=cafile or test_certificate()[0])
    return ctx


class Collector:
    """A server handler that keeps every message (SMTP and LMTP)."""

    def __init__(self, reject=(), tempfail=(), users=None):
        self.reject = {a.lower() for a in reject}
        self.tempfail = {a.lower() for a in tempfail}
        self.users = users
        self.messages = []      # (mail_from, [rcpts], bytes, session facts)
        self.events = []
        self._buf = b""
        self._from = None
        self._rcpts = []
        if users is not None:
            self.on_auth = self._auth

    def on_ehlo(self, s, helo):
        self.events.append(("ehlo", helo.name))

    def on_mail(self, s, mail):
        self._from, self._rcpts, self._buf = mail.address, [], b""
        self.events.append(("mail", mail.address))

    def on_rcpt(self, s, rcpt):
        a = rcpt.address.lower()
        self.events.append(("rcpt", rcpt.address))
        if a in self.reject:
            return libsmtp.Reply(550, "No such user", "5.1.1")
        if a in self.tempfail:
            return libsmtp.Reply(450, "Try again later", "4.2.0")
        self._rcpts.append(rcpt.address)

    def on_data_chunk(self, s, data):
        self._buf += data

    def on_data_end(self, s, end):
        if end.refused:
            return
        if end.rcpt_index is None or end.rcpt_index == 0:
            self.messages.append((self._from, list(self._rcpts), self._buf,
                                  {"tls": s.tls_active, "auth": s.auth_user,
                                   "protocol": s.received_protocol, "helo": s.helo_name}))

    def on_rset(self, s):
        self._buf = b""

    def _auth(self, s, auth):
        self.events.append(("auth", auth.mechanism, auth.username))
        return self.users.get(auth.username) == auth.password


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pump(server, client, max_rounds=1000, rounds=None):
    """Move bytes between an in-memory ServerSession and ClientSession until
    neither has anything to say. Returns (server->client, client->server);
    each batch of server output is appended to the list @p rounds."""
    s2c, c2s = b"", b""
    for _ in range(max_rounds):
        moved = False
        server.receive()          # bytes it left over earlier (deferred, paused)
        out = server.take_output()
        if out:
            s2c += out
            if rounds is not None:
                rounds.append(out)
            client.receive(out)
            moved = True
        out = client.take_output()
        if out:
            c2s += out
            server.receive(out)
            moved = True
        if not moved:
            return s2c, c2s
    raise AssertionError("sessions did not settle")


def splits(data, seed, pieces=None):
    """@p data cut at random points (deterministic for @p seed)."""
    rnd = random.Random(seed)
    n = pieces or rnd.randint(2, 12)
    cuts = sorted(rnd.randint(0, len(data)) for _ in range(n - 1))
    out, last = [], 0
    for c in cuts + [len(data)]:
        out.append(data[last:c])
        last = c
    return out


def main():
    """unittest.main(), but exit 77 (meson: skipped) when every test skipped."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    if r.testsRun and len(r.skipped) == r.testsRun:
        sys.exit(77)
    sys.exit(0 if r.wasSuccessful() else 1)
