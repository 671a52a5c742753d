"""A scriptable SMTP server for tests (pytest and unittest).

    from libsmtp.testing import SMTPTestServer

    with SMTPTestServer(script="RCPT#2 reply 450 4.2.0 Mailbox busy") as server:
        with smtplib.SMTP(server.host, server.port) as c:
            c.sendmail("a@example.org", ["b@example.org", "c@example.org"], b"Hi\\r\\n")
        tx = server.wait_for_transactions(1)[0]
        assert [r.code for r in tx.rcpts] == [250, 450]
        assert tx.message == b"Hi\\r\\n"

The server listens on a free loopback port, serves every connection in a
thread with libsmtp's server session, follows a rule file (the format of
smtp/script.h and ``smtp-server --script``: ``STAGE[#N] ACTION [ARGS]``
lines with the actions reply, delay, close, tarpit and drop-keyword), and
records every finished transaction with libsmtp's capture (smtp/capture.h)
as a :class:`Transaction`, with the message bytes.

pytest: ``pytest_plugins = ["libsmtp.testing"]`` (or import the fixture)
gives a ``smtp_server`` fixture; a test marked
``@pytest.mark.smtp_script("...")`` gets that script. unittest: derive from
:class:`SMTPServerTestCase` and set ``smtp_script`` (and ``smtp_options``).

Where the rules are carried out: a scripted reply is the callback's answer;
a delay sleeps in the connection's thread before the callback returns (the
session answers nothing meanwhile); tarpit and close act on the socket's
output (before STARTTLS only: under TLS they are ignored).
"""

import ctypes
import json
import socket
import ssl
import threading
import time
import unittest
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

from . import _ffi
from . import errors as E
from .net import Server, ServerConnection
from .server import EXTENSIONS, DEFAULT_EXTENSIONS, ServerSession, FLAG_BDAT

__all__ = ["SMTPTestServer", "Transaction", "Recipient", "ScriptError", "SMTPServerTestCase",
           "smtp_server"]

# smtp_script_stage
_STAGES = {"CONNECT": 1, "EHLO": 2, "HELO": 3, "LHLO": 4, "STARTTLS": 5, "AUTH": 6, "MAIL": 7,
           "RCPT": 8, "DATA": 9, "DATA-END": 10, "BDAT": 11, "RSET": 12, "NOOP": 13, "VRFY": 14,
           "EXPN": 15, "QUIT": 16, "OTHER": 17}


class ScriptError(ValueError):
    """A rule file that does not parse; ``line`` is its 1-based line (0: not
    about one line)."""

    def __init__(self, line, message):
        super().__init__("line %d: %s" % (line, message) if line else message)
        self.line = line
        self.message = message


@dataclass
class Recipient:
    path: str                   #: the forward-path, bare ("Postmaster" for <Postmaster>)
    params: Dict[str, Union[str, bool]]  #: upper-cased names, raw values or True
    code: int                   #: the reply it got
    enhanced: Optional[str]     #: its enhanced status code, if any


@dataclass
class Transaction:
    """One finished transaction, as ``smtp-server --capture`` writes it."""
    time: str
    client: dict                #: {"addr", "port"}
    peer: Optional[dict]
    helo: Optional[str]
    tls: Optional[dict]         #: {"version", "cipher", "client_cert"} or None
    auth: Optional[str]
    mail_from: str              #: the reverse-path ("" for <>)
    mail_params: Dict[str, Union[str, bool]]
    rcpts: List[Recipient]
    data: Optional[dict]        #: {"size", "code", "enhanced", "file", "bdat"} or None
    message: Optional[bytes] = None  #: the message as received (unstuffed), when data came
    record: dict = field(default_factory=dict, repr=False)  #: the JSON object itself

    @property
    def accepted(self):
        """Recipients answered 2yz."""
        return [r.path for r in self.rcpts if 200 <= r.code < 300]

    @classmethod
    def from_record(cls, rec, message=None):
        return cls(time=rec["time"], client=rec["client"], peer=rec["peer"], helo=rec["helo"],
                   tls=rec["tls"], auth=rec["auth"], mail_from=rec["mail"]["path"],
                   mail_params=rec["mail"]["params"],
                   rcpts=[Recipient(**r) for r in rec["rcpts"]], data=rec["data"],
                   message=message if rec["data"] is not None else None, record=rec)


class _Script:
    """A parsed rule file (smtp_script); immutable, shared by connections."""

    def __init__(self, text):
        lib = self._lib = _ffi.testing_lib()
        raw = text.encode("latin-1") if isinstance(text, str) else bytes(text)
        p = ctypes.c_void_p()
        err = _ffi.ScriptError()
        rc = lib.smtp_script_parse(ctypes.byref(p), raw, len(raw), None, ctypes.byref(err))
        if rc != 0:
            raise ScriptError(err.line, err.message.decode("ascii", "replace") or E.strerror(rc))
        self._p = p
        self.rules = lib.smtp_script_rule_count(p)
        self.drop_mask = lib.smtp_script_drop_mask(p)

    def run(self):
        r = ctypes.c_void_p()
        E.check(self._lib.smtp_script_run_new(ctypes.byref(r), self._p, None), "smtp_script_run_new")
        return r

    def close(self):
        if self._p:
            self._lib.smtp_script_del(self._p)
            self._p = None


class _ScriptedClose(ConnectionAbortedError):
    """The script closed the connection (not an error of the test)."""


class _GateSocket(socket.socket):
    """The connection's socket: tarpit and close act on what is sent."""
    tarpit = 0.0
    close_pending = False

    def sendall(self, data, *args):
        if self.close_pending:
            self.shutdown(socket.SHUT_RDWR)
            raise _ScriptedClose("closed by the script")
        if self.tarpit > 0 and data:
            step = self.tarpit / max(1, len(data) - 1)
            self.tarpit = 0.0
            for i in range(len(data)):
                if i:
                    time.sleep(step)
                super().sendall(data[i:i + 1])
            return None
        return super().sendall(data, *args)


class _Handler:
    """One connection's callbacks: the script's answers, the capture's feed."""

    def __init__(self, server, peer):
        self.server = server
        lib = self._lib = _ffi.testing_lib()
        self.run = server._script.run() if server._script else None
        self.sock = None
        self.conn = None
        self._cert_noted = False
        self.session = None
        self.chunks = []
        self.message = None
        self._last = None
        self._chunk = None          # the scripted reply kept for the BDAT chunk in progress
        self._bdat = (0, False)     # size and LAST of the last BDAT line
        self._cb = _ffi.CAPTURE_RECORD_CB(self._on_record)
        cap = ctypes.c_void_p()
        E.check(lib.smtp_capture_new(ctypes.byref(cap), self._cb, None, None), "smtp_capture_new")
        self.cap = cap
        if peer:
            lib.smtp_capture_set_client(cap, peer[0].encode(), peer[1], None, -1)

    def close(self):
        if self.cap:
            self._lib.smtp_capture_end(self.cap)
            self._lib.smtp_capture_del(self.cap)
            self.cap = None
        if self.run:
            self._lib.smtp_script_run_del(self.run)
            self.run = None

    def _on_record(self, cap, rec, ud):
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode()
        need = ctypes.c_size_t()
        self._lib.smtp_capture_record_json(rec, when, None, 0, ctypes.byref(need))
        buf = ctypes.create_string_buffer(need.value + 1)
        if self._lib.smtp_capture_record_json(rec, when, buf, len(buf), None) != 0:
            return
        record = json.loads(buf.value.decode("utf-8", "surrogateescape"))
        self.server._add(Transaction.from_record(record, self.message))
        self.message = None

    def _act(self, stage, verb=b""):
        if not self.run:
            return None
        a = _ffi.ScriptAction()
        if self._lib.smtp_script_run_next(self.run, _STAGES[stage], verb, len(verb), ctypes.byref(a)) != 1:
            return None
        if a.close:
            if self.sock is not None:
                self.sock.close_pending = True
            return None
        if a.delay_ms:
            time.sleep(a.delay_ms / 1000.0)
        if a.tarpit_ms and self.sock is not None:
            self.sock.tarpit = a.tarpit_ms / 1000.0
        if a.code:
            text = a.text.decode("ascii")
            return (a.code, text, a.enhanced.decode() or None) if a.enhanced else (a.code, text)
        return None

    # -- callbacks ---------------------------------------------------------
    def on_connect(self, s):
        self.session = s
        return self._act("CONNECT")

    def on_ehlo(self, s, helo):
        r = self._act(helo.verb)
        # (a 1.0 library has no per-EHLO drop: its parser refuses EHLO#N drop-keyword)
        drop = (self._lib.smtp_script_run_drop(self.run)
                if self.run and _ffi.available("smtp_script_run_drop") else 0)
        if drop:
            s.ehlo_hide(drop)   # drop-keyword, also EHLO#N: this EHLO only
        return r

    def on_mail(self, s, mail):
        return self._act("MAIL")

    def on_rcpt(self, s, rcpt):
        return self._act("RCPT")

    def on_data_start(self, s):
        self.chunks = []
        if not s.flags & FLAG_BDAT:
            return self._act("DATA")
        # the first BDAT chunk: its scripted reply follows its octets
        # (on_bdat_chunk, or the end-of-data reply for LAST), RFC 3030 2
        self._chunk = self._act("BDAT")
        size, last = self._bdat
        if self._chunk is not None and size == 0 and not last and self._chunk[0] // 100 != 2:
            r, self._chunk = self._chunk, None  # a first BDAT 0: no chunk event follows
            return r
        return None

    def on_bdat_chunk(self, s, size):
        r, self._chunk = self._chunk, None
        return r

    def on_data_chunk(self, s, data):
        self.chunks.append(bytes(data))

    def on_data_end(self, s, end):
        if end.rcpt_index is None or end.rcpt_index == 0:
            c_end = _ffi.ServerDataEnd(end.size, end.seen, end.refused,
                                       -1 if end.rcpt_index is None else end.rcpt_index,
                                       1 if end.bdat else 0)
            self._lib.smtp_capture_data_end(self.cap, ctypes.byref(c_end))
            self.message = b"".join(self.chunks)
            self.chunks = []
            chunk, self._chunk = self._chunk, None
            self._last = self._act("DATA-END")
            if self._last is None and end.bdat:
                self._last = chunk  # the LAST chunk's reply; a DATA-END rule's wins
        return self._last

    def on_rset(self, s):
        return self._act("RSET")

    def on_noop(self, s):
        return self._act("NOOP")

    def on_quit(self, s):
        return self._act("QUIT")

    def on_starttls(self, s):
        return self._act("STARTTLS")

    def on_vrfy(self, s, arg):
        return self._act("VRFY")

    def on_expn(self, s, arg):
        return self._act("EXPN")

    def on_help(self, s, arg):
        return self._act("OTHER", b"HELP")

    def on_unknown_command(self, s, cmd):
        r = self._act("OTHER", cmd.verb.encode("ascii", "replace"))
        return r if r is not None else False

    def on_trace(self, s, direction, line):
        raw = line.encode("utf-8", "surrogateescape")
        conn = self.conn
        if not self._cert_noted and conn is not None and isinstance(conn.sock, ssl.SSLSocket):
            # the first line after the handshake: the client certificate, for client_cert
            self._cert_noted = True
            der = conn.sock.getpeercert(binary_form=True)
            if der:
                self._lib.smtp_capture_set_client_cert(self.cap, der, len(der))
        self._lib.smtp_capture_trace(self.cap, s._ptr(), 0 if direction == "in" else 1, raw, len(raw))
        if direction == "in" and raw[:5].upper() == b"BDAT ":
            words = raw[5:].split()
            if words and words[0].isdigit():
                self._bdat = (int(words[0]), len(words) > 1 and words[1].upper() == b"LAST")
            if s.flags & FLAG_BDAT:
                # a chunk after the first of the transaction: counted now, its
                # reply given once its octets are in (on_bdat_chunk / on_data_end)
                self._chunk = self._act("BDAT")


class _AuthHandler(_Handler):
    def on_auth(self, s, auth):
        r = self._act("AUTH")
        if r is not None:
            # AUTH's only positive reply is 235 (RFC 4954 6): a 2yz rule accepts
            return (235,) + tuple(r[1:]) if r[0] // 100 == 2 else r
        return self.server.users.get(auth.username) == auth.password


class SMTPTestServer:
    """A libsmtp server on a free loopback port for tests.

    ``script``: rule text (``str``), or None for plain behaviour; a bad
    script raises :class:`ScriptError` naming the line. ``users``: a dict
    user -> password enables AUTH PLAIN/LOGIN (offered without TLS here).
    ``ssl_context``: offer STARTTLS with it. Other keywords are
    :class:`libsmtp.ServerSession` options (``hostname``, ``max_message_size``,
    ``extensions``, ``lmtp``, ...).

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, script=None, *, host="127.0.0.1", users=None, ssl_context=None, **options):
        self._script = _Script(script) if script else None
        self.users = dict(users or {})
        options.setdefault("hostname", "mx.test")
        if self._script and self._script.drop_mask:
            names = options.get("extensions", DEFAULT_EXTENSIONS)
            options["extensions"] = [n for n in names if not (EXTENSIONS[n] & self._script.drop_mask)]
            if self._script.drop_mask & EXTENSIONS["STARTTLS"]:
                ssl_context = None
            if self._script.drop_mask & EXTENSIONS["AUTH"]:
                self.users = {}
        if self.users:
            options.setdefault("allow_plaintext_auth", True)
        self._options = options
        self._host = host
        self._ssl = ssl_context
        self._lock = threading.Condition()
        self._transactions = []
        self._server = None

    # -- life cycle ----------------------------------------------------------
    def start(self):
        """Listen and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        outer = self

        class _Server(Server):
            def _serve_one(self, sock):
                try:
                    peer = sock.getpeername()[:2]
                except OSError:
                    peer = None
                gate = _GateSocket(fileno=sock.detach())
                handler = (_AuthHandler if outer.users else _Handler)(outer, peer)
                handler.sock = gate
                c = None
                try:
                    session = ServerSession(handler, **self.session_options)
                    c = ServerConnection(gate, session, ssl_context=self.ssl_context)
                    handler.conn = c
                    with self._lock:
                        if self._closed:
                            session.shutdown()
                        self._conns.add(c)
                    c.run()
                    if c.error is not None and not isinstance(c.error, _ScriptedClose):
                        self.errors.append(c.error)
                except BaseException as e:  # noqa: B902 - kept for the test to inspect
                    self.errors.append(e)
                    gate.close()
                finally:
                    if c is not None:
                        with self._lock:
                            self._conns.discard(c)
                        c.session.close()
                    handler.close()

        self._server = _Server(lambda: None, self._host, 0, ssl_context=self._ssl, **self._options)
        self._server.start()
        return self

    def stop(self, timeout=5.0):
        """Stop accepting, end every session (421), wait for them."""
        if self._server is not None:
            self._server.close(timeout)
            self._server = None
        if self._script is not None:
            self._script.close()
            self._script = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what tests use --------------------------------------------------------
    @property
    def host(self):
        return self._server.address[0]

    @property
    def port(self):
        return self._server.address[1]

    @property
    def address(self):
        return self._server.address

    @property
    def errors(self):
        """Exceptions that ended connection threads (script closes excluded)."""
        return list(self._server.errors) if self._server else []

    @property
    def transactions(self):
        """Finished transactions so far (a copy of the list)."""
        with self._lock:
            return list(self._transactions)

    def wait_for_transactions(self, n, timeout=10.0):
        """Wait until at least @p n transactions finished; return them all.
        Raises TimeoutError."""
        end = time.monotonic() + timeout
        with self._lock:
            while len(self._transactions) < n:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("%d of %d transactions after %.1f s"
                                       % (len(self._transactions), n, timeout))
                self._lock.wait(left)
            return list(self._transactions)

    def clear(self):
        with self._lock:
            self._transactions.clear()

    def _add(self, tx):
        with self._lock:
            self._transactions.append(tx)
            self._lock.notify_all()


# ----------------------------------------------------------------------------
# unittest

class SMTPServerTestCase(unittest.TestCase):
    """Starts ``self.smtp_server`` (an :class:`SMTPTestServer` with the class's
    ``smtp_script`` and ``smtp_options``) before each test, stops it after."""
    smtp_script: Optional[str] = None
    smtp_options: Dict[str, object] = {}

    def setUp(self):
        super().setUp()
        self.smtp_server = SMTPTestServer(self.smtp_script, **dict(self.smtp_options)).start()
        self.addCleanup(self.smtp_server.stop)


# ----------------------------------------------------------------------------
# pytest

def _fixture(request=None):
    script, options = None, {}
    node = getattr(request, "node", None)
    marker = node.get_closest_marker("smtp_script") if node is not None else None
    if marker is not None:
        script = marker.args[0] if marker.args else None
        options = dict(marker.kwargs)
    server = SMTPTestServer(script, **options).start()
    try:
        yield server
    finally:
        server.stop()


_pytest: Any
try:
    import pytest as _pytest
except ImportError:  # pytest is optional
    _pytest = None

smtp_server: Any
if _pytest is not None:
    def _smtp_server(request):
        """The SMTPTestServer for a test; rules and options from its
        ``smtp_script`` marker."""
        yield from _fixture(request)

    smtp_server = _pytest.fixture(name="smtp_server")(_smtp_server)

    def pytest_configure(config):
        config.addinivalue_line("markers", "smtp_script(text, **options): rules and options "
                                           "for the smtp_server fixture")
else:
    smtp_server = _fixture
