"""The client session (include/smtp/client.h).

The session runs in the C library's *event mode* (NULL callbacks,
smtp_client_session_next_event()), which was designed for bindings: no
Python code runs inside a C callback, and every event is copied into Python
objects at once. Only when a ``trace`` function is wanted does the binding
install the generic event callback and the trace callback instead (the
events are the same).

Like the C session it is sans-I/O: receive() takes server bytes and
returns the events they caused, pending()/consume() hand out the bytes to
send, want_tls says when the transport must run the TLS handshake.
libsmtp.net.ClientConnection and libsmtp.net.send_mail() drive it over a
Python socket, STARTTLS and implicit TLS included.

Transactions are :class:`Transaction` objects; the session takes any
number of them (send()), runs them one after the other, and fills in each
one's per-recipient results.
"""

import ctypes
import enum
from dataclasses import dataclass
from typing import List, Optional

from . import _ffi
from . import errors as E
from .reply import Reply, _decode
from .server import EXTENSIONS, SASL_MECHS, flags_of


class EventType(enum.IntEnum):
    """client.h smtp_client_event_type."""
    NONE = 0
    GREETING = 1
    CAPABILITIES = 2
    STARTTLS = 3
    AUTH = 4
    READY = 5
    MAIL = 6
    RCPT = 7
    BODY_START = 8
    DATA = 9
    TXN_DONE = 10
    CLOSED = 11


STARTTLS_POLICIES = {"opportunistic": 0, "required": 1, "off": 2}
BODY_TYPES = {"auto": 0, "7bit": 1, "8bitmime": 2, "binarymime": 3}
DSN_RET = {None: 0, "FULL": 1, "HDRS": 2}
NOTIFY = {"NEVER": 1, "SUCCESS": 2, "FAILURE": 4, "DELAY": 8}


@dataclass
class Capabilities:
    """A server's EHLO/LHLO answer (ext.h smtp_capabilities), copied."""
    extensions: frozenset        #: known extension names offered ("PIPELINING", ...)
    flags: int                   #: smtp_ext_flag bits
    size_max: int                #: SIZE value; 0 when absent or unlimited
    auth_mechanisms: frozenset   #: SASL names of the AUTH line(s)
    limits: dict                 #: LIMITS RCPTMAX/MAILMAX/RCPTDOMAINMAX (present ones)
    greeting: str                #: first line of the EHLO reply
    keywords: list               #: every (keyword, params) line in order

    @classmethod
    def from_c(cls, ptr):
        if not ptr:
            return None
        c = ptr.contents
        limits = {k: v for k, v in (("RCPTMAX", c.limits_rcptmax), ("MAILMAX", c.limits_mailmax),
                                    ("RCPTDOMAINMAX", c.limits_rcptdomainmax)) if v}
        kws = [(_decode(c.keywords[i].keyword.bytes()), _decode(c.keywords[i].params.bytes()))
               for i in range(min(c.nkeywords, _ffi.CAPS_MAX_KEYWORDS))]
        return cls(frozenset(n for n, b in EXTENSIONS.items() if c.flags & b), c.flags,
                   c.size_max, frozenset(n for n, b in SASL_MECHS.items() if c.auth_mechs & b),
                   limits, _decode(c.greeting.bytes()), kws)

    def __contains__(self, name):
        return name.upper() in self.extensions


@dataclass
class Event:
    """One client event (client.h smtp_client_event), copied."""
    type: EventType
    error: int = 0                      #: 0 or an errors.ERR_* value
    index: Optional[int] = None         #: recipient index, or None
    part: int = 0                       #: LIMITS part
    reply: Optional[Reply] = None       #: the server's reply; None for local events
    capabilities: Optional[Capabilities] = None
    transaction: Optional["Transaction"] = None
    result: Optional[dict] = None       #: TXN_DONE: status, nrcpt, naccepted, ndelivered

    def __repr__(self):
        parts = [self.type.name]
        if self.error:
            parts.append("error=%s" % E.name(self.error))
        if self.index is not None:
            parts.append("index=%d" % self.index)
        if self.reply is not None:
            parts.append(str(self.reply))
        if self.result is not None:
            parts.append(repr(self.result))
        return "Event(%s)" % ", ".join(parts)


@dataclass
class Recipient:
    """One recipient of a Transaction and what became of it."""
    address: str
    index: int
    rcpt_reply: Optional[Reply] = None   #: the reply to RCPT TO
    data_reply: Optional[Reply] = None   #: the final reply about the message (LMTP: its own)
    rcpt_code: int = 0                   #: from smtp_client_txn_rcpt_result(), 0: none
    data_code: int = 0

    @property
    def accepted(self):
        """RCPT got a 2yz reply."""
        return self.rcpt_reply is not None and self.rcpt_reply.is_success

    @property
    def delivered(self):
        """The message was accepted for this recipient (final 2yz)."""
        return self.accepted and self.data_reply is not None and self.data_reply.is_success


class Transaction:
    """A mail transaction: reverse-path, recipients and the message.

    ``recipients`` is a list of addresses (str), or of (address, notify)
    pairs where notify is a list of NOTIFY names (RFC 3461 4.1).
    ``message`` is bytes (or str, encoded as UTF-8), sent as it is except
    that bare CR / LF become CRLF and dots are stuffed (client.h
    smtp_client_txn_set_body()). Every address is validated here:
    errors.Error is raised for anything the RFC does not allow (nothing
    invalid reaches the wire).
    """

    # Set by the drivers (libsmtp.send_mail, libsmtp.aio.send_mail) after the
    # session ended.
    session_error: int = 0                 #: the error the session ended with (0: clean QUIT)
    tls_error: Optional[BaseException] = None  #: the ssl exception of a failed handshake
    capabilities: Optional["Capabilities"] = None  #: the server's last EHLO capabilities
    tls: bool = False                      #: whether TLS was up

    def __init__(self, mail_from, recipients, message, *, body_type="auto", dsn_ret=None,
                 envid=None, notify=None, requiretls=False):
        self._lib = lib = _ffi.lib()
        self._p = None
        self._owner = None      # the ClientSession running it, until TXN_DONE
        p = ctypes.c_void_p()
        E.check(lib.smtp_client_txn_new(ctypes.byref(p), None), "smtp_client_txn_new")
        self._p = p
        self.mail_from = mail_from
        self.recipients: List[Recipient] = []
        self.message = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        self.mail_reply: Optional[Reply] = None
        self.data_replies: List[Reply] = []
        self.events: List[Event] = []
        self.status: Optional[int] = None
        self.result: Optional[dict] = None
        self.done = False
        self._part_rcpts = []
        f = mail_from.encode("utf-8")
        E.check(lib.smtp_client_txn_set_from(p, f, len(f)), "reverse-path %r" % mail_from)
        for r in recipients:
            addr, rn = (r, notify) if isinstance(r, str) else (r[0], r[1])
            a = addr.encode("utf-8")
            bits = flags_of(rn, NOTIFY) if rn else 0
            idx = E.check(lib.smtp_client_txn_add_rcpt(p, a, len(a), bits, None, 0),
                          "recipient %r" % addr)
            self.recipients.append(Recipient(addr, idx))
        if dsn_ret is not None or envid is not None:
            ev = envid.encode("ascii") if envid else None
            E.check(lib.smtp_client_txn_set_dsn(p, DSN_RET[dsn_ret.upper() if dsn_ret else None],
                                                ev, len(ev) if ev else 0), "DSN parameters")
        E.check(lib.smtp_client_txn_set_body_type(p, BODY_TYPES[body_type.lower()]), "body type")
        if requiretls:
            E.check(lib.smtp_client_txn_set_requiretls(p, 1), "REQUIRETLS")
        # Not copied by the C side: self.message keeps the bytes alive
        # until the transaction is freed.
        E.check(lib.smtp_client_txn_set_body(p, self.message, len(self.message)), "body")

    @property
    def ok(self):
        """Delivered to at least one recipient."""
        return self.status == E.OK

    @property
    def delivered(self):
        """Recipients the message was delivered to."""
        return [r for r in self.recipients if r.delivered]

    @property
    def refused(self):
        """Recipients it was not delivered to."""
        return [r for r in self.recipients if not r.delivered]

    def close(self):
        """Free the C transaction. Not while a session runs it (ERR_INVALID_STATE)."""
        if self._owner is not None and self._owner._p is not None:
            raise E.Error(E.ERR_INVALID_STATE, "the transaction is submitted")
        if self._p is not None:
            self._lib.smtp_client_txn_del(self._p)
            self._p = None

    def __del__(self):
        # Reached while still submitted only when the session is garbage
        # too (it holds this object until TXN_DONE): free the session first,
        # which releases the transaction (client.h smtp_client_session_del()).
        try:
            if self._owner is not None:
                self._owner.close()
                self._owner = None
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return "Transaction(from=%r, to=%r, status=%s)" % (
            self.mail_from, [r.address for r in self.recipients],
            None if self.status is None else E.name(self.status))

    # called by ClientSession with each event about this transaction
    def _event(self, ev):
        self.events.append(ev)
        if ev.type == EventType.MAIL:
            self.mail_reply = ev.reply
            self._part_rcpts = []
        elif ev.type == EventType.RCPT and ev.index is not None:
            self.recipients[ev.index].rcpt_reply = ev.reply
            self._part_rcpts.append(ev.index)
        elif ev.type == EventType.DATA:
            if ev.reply is not None:
                self.data_replies.append(ev.reply)
            if ev.index is not None:         # LMTP: one reply per recipient
                self.recipients[ev.index].data_reply = ev.reply
            else:                            # SMTP: one reply for the part's accepted recipients
                for i in self._part_rcpts:
                    if self.recipients[i].accepted:
                        self.recipients[i].data_reply = ev.reply
        elif ev.type == EventType.TXN_DONE:
            self.status = ev.result["status"]
            self.result = ev.result
            for r in self.recipients:
                rc, dc = ctypes.c_int(), ctypes.c_int()
                if self._lib.smtp_client_txn_rcpt_result(self._p, r.index, ctypes.byref(rc),
                                                         ctypes.byref(dc)) == 0:
                    r.rcpt_code, r.data_code = rc.value, dc.value
            self.done = True
            self._owner = None

    def _abandon(self, error):
        """The session ended before this transaction was even started."""
        self.status = error or E.ERR_CLOSED
        self.result = {"status": self.status, "nrcpt": len(self.recipients), "naccepted": 0,
                       "ndelivered": 0}
        self.done = True


class ClientSession:
    """A client session. Keyword options (each one ``smtp_client_options_set_*``):

    ``ehlo_name`` (default "localhost"), ``lmtp``, ``starttls``
    ("opportunistic", "required", "off"), ``credentials`` ((user, password)
    or (authzid, user, password)), ``oauth_token`` ((user, token)),
    ``auth_mechanism`` (a SASL name), ``allow_plaintext_auth``,
    ``disabled_extensions`` (names or bits), ``require_smtputf8``,
    ``requiretls``, ``reply_limits`` ((max_line, max_lines)),
    ``output_buffer``.

    ``on_event(session, event)`` is called for every event (from receive(),
    pending() and the other calls that produce events, never from inside
    the C library); ``trace(direction, line)`` gets the protocol transcript
    ('C' or 'S', AUTH data redacted).
    """

    def __init__(self, *, ehlo_name="localhost", lmtp=False, starttls="opportunistic",
                 credentials=None, oauth_token=None, auth_mechanism=None,
                 allow_plaintext_auth=False, disabled_extensions=(), require_smtputf8=False,
                 requiretls=False, reply_limits=None, output_buffer=None, on_event=None,
                 trace=None):
        self._lib = lib = _ffi.lib()
        self._p = None
        self.on_event = on_event
        self.trace = trace
        self.events: List[Event] = []          #: every event so far
        self.greeting: Optional[Reply] = None
        self.capabilities: Optional[Capabilities] = None
        self.auth_result: Optional[int] = None
        self.ready = False
        self._fresh: List[Event] = []
        self._queue: List[Transaction] = []
        self._current: Optional[Transaction] = None
        self._txns = {}                          # C pointer -> Transaction
        self._quit_wanted = False
        self._quit_sent = False
        self._cb_exc = None
        self._cb_refs = ()
        self._in_c = False
        o = ctypes.c_void_p()
        E.check(lib.smtp_client_options_new(ctypes.byref(o), None), "smtp_client_options_new")
        cbs = ctypes.c_void_p()
        try:
            E.check(lib.smtp_client_options_set_ehlo_name(o, ehlo_name.encode("utf-8")),
                    "ehlo_name %r" % ehlo_name)
            lib.smtp_client_options_set_lmtp(o, 1 if lmtp else 0)
            E.check(lib.smtp_client_options_set_starttls(o, STARTTLS_POLICIES[starttls]),
                    "starttls")
            if credentials:
                authzid, user, pw = ((None,) + tuple(credentials))[-3:]
                E.check(lib.smtp_client_options_set_credentials(
                    o, authzid.encode("utf-8") if authzid else None, user.encode("utf-8"),
                    pw.encode("utf-8")), "credentials")
            if oauth_token:
                user, token = oauth_token
                E.check(lib.smtp_client_options_set_oauth_token(
                    o, user.encode("utf-8") if user else None, token.encode("ascii")),
                    "oauth_token")
            if auth_mechanism:
                E.check(lib.smtp_client_options_set_auth_mechanism(
                    o, SASL_MECHS[auth_mechanism.upper()]), "auth_mechanism")
            lib.smtp_client_options_set_allow_plaintext_auth(o, 1 if allow_plaintext_auth else 0)
            lib.smtp_client_options_set_disabled_extensions(
                o, flags_of(disabled_extensions, EXTENSIONS))
            lib.smtp_client_options_set_require_smtputf8(o, 1 if require_smtputf8 else 0)
            lib.smtp_client_options_set_requiretls(o, 1 if requiretls else 0)
            if reply_limits:
                E.check(lib.smtp_client_options_set_reply_limits(o, *reply_limits),
                        "reply_limits")
            if output_buffer:
                E.check(lib.smtp_client_options_set_output_buffer(o, output_buffer),
                        "output_buffer")
            if trace is not None:
                # Callback mode: the generic event callback gets every event.
                E.check(lib.smtp_client_callbacks_new(ctypes.byref(cbs), None),
                        "smtp_client_callbacks_new")
                ev_cb = _ffi.CLI_EVENT_CB(self._c_event)
                tr_cb = _ffi.CLI_TRACE_CB(self._c_trace)
                self._cb_refs = (ev_cb, tr_cb)   # alive as long as the session
                lib.smtp_client_callbacks_set_event(cbs, ev_cb)
                lib.smtp_client_callbacks_set_trace(cbs, tr_cb)
            p = ctypes.c_void_p()
            E.check(lib.smtp_client_session_new(ctypes.byref(p), cbs if cbs.value else None,
                                                None, o, None), "smtp_client_session_new")
            self._p = p
        finally:
            lib.smtp_client_options_del(o)
            lib.smtp_client_callbacks_del(cbs)

    # -- life cycle ---------------------------------------------------------

    def close(self):
        """Free the C session (a submitted transaction is released)."""
        if self._in_c:
            raise RuntimeError("close() from inside a libsmtp callback")
        if self._p is not None:
            self._lib.smtp_client_session_del(self._p)
            self._p = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _ptr(self):
        if self._p is None:
            raise E.Error(E.ERR_CLOSED, "session deleted")
        return self._p

    # -- callback mode (only with trace) --------------------------------------

    def _c_event(self, _c, ev, _ud):
        try:
            self._fresh.append(self._convert(ev.contents))
            return 0
        except BaseException as e:  # noqa: B902
            self._cb_exc = e
            return E.ERR_CALLBACK_FAILURE

    def _c_trace(self, _c, direction, ptr, n, _ud):
        self._in_c = True
        try:
            self.trace(chr(direction), _decode(ctypes.string_at(ptr, n)) if n else "")
        except BaseException as e:  # noqa: B902
            self._cb_exc = e
        finally:
            self._in_c = False

    # -- events -------------------------------------------------------------

    def _convert(self, c):
        try:
            etype = EventType(c.type)
        except ValueError:
            etype = c.type
        ev = Event(etype, c.error, None if c.index == _ffi.NO_INDEX else c.index, c.part,
                   Reply.from_c(c.reply))
        if etype == EventType.CAPABILITIES:
            ev.capabilities = Capabilities.from_c(c.caps)
        if c.txn:
            ev.transaction = self._txns.get(c.txn)
        if etype == EventType.TXN_DONE:
            r = c.result
            ev.result = {"status": r.status, "nrcpt": r.nrcpt, "naccepted": r.naccepted,
                         "ndelivered": r.ndelivered}
        return ev

    def _drain(self):
        """Collect queued events (event mode), apply them, run on_event,
        submit the next transaction / QUIT. Returns the new events."""
        if self._p is not None and self.trace is None:
            ev = _ffi.ClientEventStruct()
            while self._lib.smtp_client_session_next_event(self._p, ctypes.byref(ev)) == 1:
                self._fresh.append(self._convert(ev))
        exc, self._cb_exc = self._cb_exc, None
        fresh, self._fresh = self._fresh, []
        for ev in fresh:
            self._apply(ev)
        self.events.extend(fresh)
        if exc is not None:
            raise exc
        for ev in fresh:
            if self.on_event is not None:
                self.on_event(self, ev)
        self._advance()
        return fresh

    def _apply(self, ev):
        t = ev.type
        if t == EventType.GREETING:
            self.greeting = ev.reply
        elif t == EventType.CAPABILITIES:
            self.capabilities = ev.capabilities
        elif t == EventType.AUTH:
            self.auth_result = ev.error
        elif t == EventType.READY:
            self.ready = True
        if ev.transaction is not None:
            ev.transaction._event(ev)
        if t == EventType.TXN_DONE and ev.transaction is not None:
            self._txns.pop(ev.transaction._p.value, None)
            if self._current is ev.transaction:
                self._current = None
        if t == EventType.CLOSED:
            for txn in self._queue:
                txn._abandon(ev.error)
            self._queue = []

    def _advance(self):
        if self._p is None or self.is_closed:
            return
        if self._current is None and self._queue:
            txn = self._queue.pop(0)
            E.check(self._lib.smtp_client_session_submit(self._p, txn._p), "submit")
            txn._owner = self
            self._current = txn
            self._txns[txn._p.value] = txn
        if self._quit_wanted and not self._quit_sent and not self._queue:
            E.check(self._lib.smtp_client_session_quit(self._p), "quit")
            self._quit_sent = True

    # -- the application's calls ----------------------------------------------

    def send(self, txn):
        """Queue a Transaction; it runs once the session is ready and the
        ones before it are done. Returns @p txn."""
        if self._quit_wanted:
            raise E.Error(E.ERR_INVALID_STATE, "send() after quit()")
        if txn.done or txn in self._queue or txn is self._current:
            raise E.Error(E.ERR_INVALID_STATE, "transaction already sent")
        self._queue.append(txn)
        self._advance()
        return txn

    def quit(self):
        """Send QUIT after the last queued transaction."""
        self._quit_wanted = True
        self._advance()

    def receive(self, data):
        """Give the session bytes from the server; return the events they caused.

        A fatal session error (a malformed reply, a reply before its
        command was sent, ...) does not raise: the session ends (a CLOSED
        event with the reason; ``error``)."""
        data = bytes(data)
        off = 0
        new = []
        while off < len(data):
            n = self._lib.smtp_client_session_mem_recv(self._ptr(), data[off:], len(data) - off)
            got = self._drain()
            new += got
            if n < 0:
                if E.is_fatal(n):
                    break
                raise E.Error(n, "smtp_client_session_mem_recv")
            if n == 0 and not got:
                break
            off += n
        return new

    def pending(self):
        """Bytes to send now (a copy; b"" when none). May produce events
        (a transaction refused locally)."""
        ptr = ctypes.c_void_p()
        n = self._lib.smtp_client_session_mem_send(self._ptr(), ctypes.byref(ptr))
        out = ctypes.string_at(ptr.value, n) if n > 0 else b""
        self._drain()
        if n < 0 and not E.is_fatal(n):
            raise E.Error(n, "smtp_client_session_mem_send")
        return out

    def consume(self, n):
        """@p n bytes of pending() were written. Consume right after
        writing: a reply is only accepted for a command that was sent."""
        E.check(self._lib.smtp_client_session_mem_consume(self._ptr(), n),
                "smtp_client_session_mem_consume")
        self._drain()

    def take_output(self):
        """All pending bytes, marked as sent (for in-memory use and tests)."""
        out = b""
        while True:
            chunk = self.pending()
            if not chunk:
                return out
            self.consume(len(chunk))
            out += chunk

    def tls_started(self, protocol=None, cipher=None, peer_verified=False, has_peer_cert=False):
        """TLS is up (after want_tls, or before any byte for implicit TLS)."""
        info = _ffi.TlsInfo(protocol.encode() if protocol else None,
                            cipher.encode() if cipher else None, None,
                            1 if peer_verified else 0, 1 if has_peer_cert else 0)
        E.check(self._lib.smtp_client_session_tls_started(self._ptr(), ctypes.byref(info)),
                "smtp_client_session_tls_started")
        self._drain()

    def tls_failed(self, error=E.ERR_TLS_HANDSHAKE):
        """The handshake failed: the session ends with @p error (no plaintext retry)."""
        E.check(self._lib.smtp_client_session_tls_failed(self._ptr(), error), "tls_failed")
        self._drain()

    def on_timeout(self):
        """The deadline (timeout_ms) passed."""
        E.check(self._lib.smtp_client_session_timeout(self._ptr()), "on_timeout")
        self._drain()

    def connection_lost(self):
        """EOF or a transport error."""
        E.check(self._lib.smtp_client_session_connection_lost(self._ptr()), "connection_lost")
        self._drain()

    # -- state --------------------------------------------------------------

    @property
    def want_read(self):
        return self._p is not None and bool(self._lib.smtp_client_session_want_read(self._p))

    @property
    def want_write(self):
        return self._p is not None and bool(self._lib.smtp_client_session_want_write(self._p))

    @property
    def want_tls(self):
        """The transport must run the TLS handshake now, then tls_started()."""
        return self._p is not None and bool(self._lib.smtp_client_session_want_tls(self._p))

    @property
    def tls_active(self):
        return self._p is not None and bool(self._lib.smtp_client_session_tls_active(self._p))

    @property
    def is_closed(self):
        return self._p is None or bool(self._lib.smtp_client_session_is_closed(self._p))

    @property
    def error(self):
        """0 while open or after a clean QUIT, else the errors.ERR_* it ended with."""
        return self._lib.smtp_client_session_error(self._ptr())

    @property
    def timeout_ms(self):
        """Deadline of the current wait in ms (RFC 5321 4.5.3.2), -1 for none."""
        return self._lib.smtp_client_session_timeout_ms(self._ptr())

    @property
    def auth_mechanism(self):
        """Name of the SASL mechanism AUTH used, or None."""
        m = self._lib.smtp_client_session_auth_mechanism(self._ptr())
        n = self._lib.smtp_sasl_mech_name(m) if m else None
        return n.decode("ascii") if n else None

    @property
    def transactions_pending(self):
        """Transactions queued or running."""
        return len(self._queue) + (1 if self._current is not None else 0)
