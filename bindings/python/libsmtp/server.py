"""The server session (include/smtp/server.h) with Python callbacks.

A ServerSession is sans-I/O, like the C session: give it received bytes
with receive(), take the bytes to send with pending() and consume(), and
run the TLS handshake when want_tls says so. libsmtp.net.ServerConnection
does all of that over a Python socket (ssl included).

The application's handler is any object; the session calls the methods it
has (a missing method means the C default answer, and the C callback is not
even installed, so e.g. AUTH is only offered when ``on_auth`` exists):

=======================  ===================================================
``on_connect(s)``        connection start; the answer is the greeting
``on_ehlo(s, helo)``     HELO/EHLO/LHLO (:class:`Helo`)
``on_mail(s, mail)``     MAIL FROM (:class:`Mail`)
``on_rcpt(s, rcpt)``     RCPT TO (:class:`Rcpt`)
``on_data_start(s)``     DATA, or the first BDAT of a transaction
``on_data_chunk(s, b)``  message bytes (unstuffed); no reply here
``on_data_end(s, end)``  end of message (:class:`DataEnd`; LMTP: per recipient)
``on_bdat_chunk(s, n)``  a BDAT chunk of n octets, not the LAST, was received:
                         its reply (a 4yz/5yz fails the transaction, RFC 3030 2)
``on_auth(s, auth)``     AUTH PLAIN / LOGIN credentials (:class:`Auth`)
``on_auth_step(s, st)``  other SASL mechanisms (:class:`AuthStep`)
``on_rset(s)``, ``on_noop(s)``, ``on_quit(s)``, ``on_starttls(s)``
``on_vrfy(s, arg)``, ``on_expn(s, arg)``, ``on_help(s, arg)``
``on_unknown_command(s, cmd)``  a verb the session does not implement
``on_trace(s, direction, line)``  "in"/"out" protocol lines (AUTH redacted)
=======================  ===================================================

What a method returns is its answer (server.h "Answering"):

- ``None`` or ``True``: accept with the event's default reply;
- ``False``: refuse with the event's default refusal;
- a :class:`Reply`, an int code, or a tuple ``(code, text[, enhanced])``:
  that reply (a 4yz/5yz reply refuses the event);
- :data:`DEFERRED`: answer later with :meth:`ServerSession.reply` (from
  another thread: :meth:`ServerSession.reply_threadsafe` under a driver);
  the session holds the pipeline until then;
- :data:`PAUSE` (``on_data_chunk`` only): make receive() return now.

An exception raised by a method fails the session (the C callback returns
SMTP_ERR_CALLBACK_FAILURE) and is re-raised from the receive() / pending()
/ consume() / reply() call that fired it.

Every value handed to a method is a copy: keep it as long as you like.
"""

import ctypes
import itertools
import weakref
from dataclasses import dataclass
from typing import Optional

from . import _ffi
from . import errors as E
from .reply import Reply, as_reply, _decode


class _Sentinel:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


DEFERRED = _Sentinel("DEFERRED")
"""Return this from a callback to answer later with ServerSession.reply()."""
PAUSE = _Sentinel("PAUSE")
"""Return this from on_data_chunk to make receive() return at once."""

# ext.h smtp_ext_flag and smtp_sasl_mech
EXTENSIONS = {
    "PIPELINING": 1 << 0, "SIZE": 1 << 1, "8BITMIME": 1 << 2, "BINARYMIME": 1 << 3,
    "CHUNKING": 1 << 4, "SMTPUTF8": 1 << 5, "ENHANCEDSTATUSCODES": 1 << 6, "DSN": 1 << 7,
    "STARTTLS": 1 << 8, "AUTH": 1 << 9, "REQUIRETLS": 1 << 10, "LIMITS": 1 << 11,
    "DELIVERBY": 1 << 12, "MT-PRIORITY": 1 << 13, "FUTURERELEASE": 1 << 14, "ETRN": 1 << 15,
    "VRFY": 1 << 16, "EXPN": 1 << 17, "HELP": 1 << 18,
}
SASL_MECHS = {
    "PLAIN": 1 << 0, "LOGIN": 1 << 1, "CRAM-MD5": 1 << 2, "XOAUTH2": 1 << 3,
    "OAUTHBEARER": 1 << 4, "SCRAM-SHA-1": 1 << 5, "SCRAM-SHA-256": 1 << 6, "EXTERNAL": 1 << 7,
}
DEFAULT_EXTENSIONS = ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING",
                      "BINARYMIME", "SMTPUTF8", "LIMITS")

# server.h smtp_server_flag
FLAG_HELO, FLAG_EHLO, FLAG_TLS, FLAG_AUTH, FLAG_LMTP, FLAG_MAIL = (1 << i for i in range(6))
FLAG_SMTPUTF8, FLAG_BDAT, FLAG_REQUIRETLS, FLAG_8BITMIME, FLAG_BINARYMIME = (
    1 << i for i in range(6, 11))

# data.h smtp_data_seen
SEEN_BARE_CR, SEEN_BARE_LF, SEEN_NUL, SEEN_8BIT, SEEN_LONG_LINE = (1 << i for i in range(5))

_VERBS = {1: "HELO", 2: "EHLO", 3: "LHLO", 4: "MAIL", 5: "RCPT", 6: "DATA", 7: "BDAT",
          8: "RSET", 9: "VRFY", 10: "EXPN", 11: "HELP", 12: "NOOP", 13: "QUIT",
          14: "STARTTLS", 15: "AUTH", 16: "ETRN"}
_BODY = {0: None, 1: "7BIT", 2: "8BITMIME", 3: "BINARYMIME"}
_RET = {0: None, 1: "FULL", 2: "HDRS"}
_NOTIFY = ((1, "NEVER"), (2, "SUCCESS"), (4, "FAILURE"), (8, "DELAY"))


def flags_of(value, table):
    """Bit flags from an int or an iterable of names of @p table."""
    if isinstance(value, int):
        return value
    bits = 0
    for n in value:
        try:
            bits |= table[n.upper()]
        except KeyError:
            raise ValueError("unknown name %r" % (n,)) from None
    return bits


# --------------------------------------------------------------------------
# Event descriptions (copies of the C structs; valid forever)

@dataclass
class Address:
    """A reverse-path or forward-path (address.h smtp_path)."""
    address: str          #: between the brackets, source route removed ("" for <>)
    raw: str              #: the whole path as sent, brackets included
    local: str            #: Local-part as sent ("" for <> and <Postmaster>)
    domain: str           #: Domain or address literal as sent
    is_null: bool         #: "<>"
    is_postmaster: bool   #: "<Postmaster>" without a domain
    utf8: bool            #: non-ASCII octets present


def _path(p):
    if not p:
        return None
    p = p.contents
    return Address(_decode(p.address.bytes()), _decode(p.raw.bytes()),
                   _decode(p.mailbox.local.bytes()), _decode(p.mailbox.domain.bytes()),
                   bool(p.is_null), bool(p.is_postmaster), bool(p.mailbox.utf8))


@dataclass
class Helo:
    verb: str       #: "HELO", "EHLO" or "LHLO"
    name: str       #: the argument: a domain or an address literal (validated)
    name_kind: int  #: 0 domain, 1 IPv4, 2 IPv6, 3 general literal


@dataclass
class Mail:
    path: Address
    params: str                 #: parameter text as sent
    size: Optional[int]         #: SIZE= (RFC 1870) or None
    body: Optional[str]         #: "7BIT", "8BITMIME", "BINARYMIME" or None
    smtputf8: bool              #: RFC 6531 3.4
    requiretls: bool            #: RFC 8689
    ret: Optional[str]          #: "FULL", "HDRS" or None (RFC 3461 4.3)
    envid: Optional[str]        #: RFC 3461 4.4, decoded
    auth: Optional[str]         #: AUTH= (RFC 4954 5), decoded

    @property
    def address(self):
        return self.path.address


@dataclass
class Rcpt:
    path: Address
    params: str
    notify: tuple               #: NOTIFY= names, () when absent (RFC 3461 4.1)
    orcpt: Optional[tuple]      #: (addr-type, address) or None (RFC 3461 4.2)
    index: int                  #: the index this recipient gets when accepted

    @property
    def address(self):
        return self.path.address


@dataclass
class DataEnd:
    size: int              #: octets of message data
    seen: int              #: SEEN_* bits (DATA only)
    refused: int           #: 0, or why the session itself refuses (an errors.ERR_* value)
    rcpt_index: Optional[int]  #: LMTP: the recipient this answer is for; SMTP: None
    bdat: bool


@dataclass
class Auth:
    mechanism: str   #: "PLAIN" or "LOGIN"
    authzid: str     #: "" when none
    username: str    #: the authentication identity (authcid)
    password: str    #: never log it

    def __repr__(self):
        return "Auth(mechanism=%r, authzid=%r, username=%r, password=<redacted>)" % (
            self.mechanism, self.authzid, self.username)


@dataclass
class AuthStep:
    mechanism: str
    step: int                   #: 0 for the AUTH command, then 1, 2, ...
    response: Optional[bytes]   #: decoded client response; None at step 0 without one


@dataclass
class Command:
    verb: str    #: the verb as sent
    args: str    #: everything after the verb and one SP


# --------------------------------------------------------------------------
# Module-level C callbacks: user_data is a key into _sessions.

_sessions: "weakref.WeakValueDictionary[int, ServerSession]" = weakref.WeakValueDictionary()
_ids = itertools.count(1)


def _thunk(cbtype, name, convert):
    def call(_s, *args):
        user_data = args[-1]
        sess = _sessions.get(user_data)
        if sess is None:
            return E.ERR_CALLBACK_FAILURE
        return sess._fire(name, convert, args[:-1])
    return cbtype(call)


def _no_args(args):
    return ()


def _bytes_arg(args):
    ptr, n = args
    return (ctypes.string_at(ptr, n) if n else b"",)


def _str_arg(args):
    ptr, n = args
    return (_decode(ctypes.string_at(ptr, n)) if n else "",)


def _helo(args):
    h = args[0].contents
    return (Helo(_VERBS.get(h.verb, "HELO"), _decode(h.name.bytes()), h.name_kind),)


def _mail(args):
    m = args[0].contents
    return (Mail(_path(m.path), _decode(m.params.bytes()), m.size if m.has_size else None,
                 _BODY.get(m.body), bool(m.smtputf8), bool(m.requiretls), _RET.get(m.ret),
                 _decode(m.envid.bytes()) if m.has_envid else None,
                 _decode(m.auth.bytes()) if m.has_auth else None),)


def _rcpt(args):
    r = args[0].contents
    return (Rcpt(_path(r.path), _decode(r.params.bytes()),
                 tuple(n for bit, n in _NOTIFY if r.notify & bit),
                 (_decode(r.orcpt_type.bytes()), _decode(r.orcpt.bytes())) if r.has_orcpt else None,
                 r.index),)


def _data_end(args):
    d = args[0].contents
    return (DataEnd(d.size, d.seen, d.refused, d.rcpt_index if d.rcpt_index >= 0 else None,
                    bool(d.bdat)),)


def _auth(args):
    a = args[0].contents
    mech = "PLAIN" if a.mech == SASL_MECHS["PLAIN"] else "LOGIN"
    return (Auth(mech, _decode(a.authzid.bytes()), _decode(a.authcid.bytes()),
                 _decode(a.password.bytes())),)


def _auth_step(args):
    st = args[0].contents
    name = st.mech_name.decode("ascii") if st.mech_name else ""
    return (AuthStep(name, st.step, st.response.bytes() if st.has_response else None),)


def _command(args):
    c = args[0].contents
    return (Command(_decode(c.verb_text.bytes()), _decode(c.args.bytes())),)


def _trace(args):
    direction, ptr, n = args
    return ("in" if direction == 0 else "out", _decode(ctypes.string_at(ptr, n)) if n else "")


# event name -> (setter suffix, thunk)
_CALLBACKS = {
    "connect": _thunk(_ffi.SRV_VOID_CB, "connect", _no_args),
    "ehlo": _thunk(_ffi.SRV_HELO_CB, "ehlo", _helo),
    "mail": _thunk(_ffi.SRV_MAIL_CB, "mail", _mail),
    "rcpt": _thunk(_ffi.SRV_RCPT_CB, "rcpt", _rcpt),
    "data_start": _thunk(_ffi.SRV_VOID_CB, "data_start", _no_args),
    "data_chunk": _thunk(_ffi.SRV_BYTES_CB, "data_chunk", _bytes_arg),
    "data_end": _thunk(_ffi.SRV_DATA_END_CB, "data_end", _data_end),
    "rset": _thunk(_ffi.SRV_VOID_CB, "rset", _no_args),
    "vrfy": _thunk(_ffi.SRV_BYTES_CB, "vrfy", _str_arg),
    "expn": _thunk(_ffi.SRV_BYTES_CB, "expn", _str_arg),
    "help": _thunk(_ffi.SRV_BYTES_CB, "help", _str_arg),
    "noop": _thunk(_ffi.SRV_VOID_CB, "noop", _no_args),
    "quit": _thunk(_ffi.SRV_VOID_CB, "quit", _no_args),
    "unknown_command": _thunk(_ffi.SRV_COMMAND_CB, "unknown_command", _command),
    "auth": _thunk(_ffi.SRV_AUTH_CB, "auth", _auth),
    "auth_step": _thunk(_ffi.SRV_AUTH_STEP_CB, "auth_step", _auth_step),
    "starttls": _thunk(_ffi.SRV_VOID_CB, "starttls", _no_args),
    "trace": _thunk(_ffi.SRV_TRACE_CB, "trace", _trace),
    "bdat_chunk": _thunk(_ffi.SRV_BDAT_CHUNK_CB, "bdat_chunk", lambda args: (int(args[0]),)),
}

# --------------------------------------------------------------------------
# Options: keyword -> (C setter, converter)


def _bool(v):
    return 1 if v else 0


_OPTIONS = {
    "hostname": ("hostname", lambda v: v.encode("utf-8") if isinstance(v, str) else v),
    "max_command_line": ("max_command_line", int),
    "input_buffer": ("input_buffer", int),
    "output_buffer": ("output_buffer", int),
    "max_recipients": ("max_recipients", int),
    "max_transactions": ("max_transactions", int),
    "max_errors": ("max_errors", int),
    "max_auth_failures": ("max_auth_failures", int),
    "max_message_size": ("max_message_size", int),
    "extensions": ("extensions", lambda v: flags_of(v, EXTENSIONS)),
    "auth_mechs": ("auth_mechs", lambda v: flags_of(v, SASL_MECHS)),
    "lmtp": ("lmtp", _bool),
    "tls_available": ("tls_available", _bool),
    "allow_plaintext_auth": ("allow_plaintext_auth", _bool),
    "require_tls": ("require_tls", _bool),
    "require_auth": ("require_auth", _bool),
    "accept_bare_line_ends": ("bare_line_end", _bool),
    "reject_nul": ("reject_nul", _bool),
    "reject_long_lines": ("reject_long_lines", _bool),
    "any_authzid": ("authzid_policy", _bool),
    "lenient_space_after_colon": ("lenient_space_after_colon", _bool),
    "command_timeout_ms": ("command_timeout", int),
    "data_timeout_ms": ("data_timeout", int),
    "data_end_timeout_ms": ("data_end_timeout", int),
    "data_total_timeout_ms": ("data_total_timeout", int),
}
OPTION_NAMES = tuple(_OPTIONS)


def _make_options(lib, options):
    o = ctypes.c_void_p()
    E.check(lib.smtp_server_options_new(ctypes.byref(o), None), "smtp_server_options_new")
    try:
        for key, value in options.items():
            if value is None:
                continue
            try:
                setter, conv = _OPTIONS[key]
            except KeyError:
                raise TypeError("unknown server option %r (known: %s)"
                                % (key, ", ".join(OPTION_NAMES))) from None
            E.check(getattr(lib, "smtp_server_options_set_" + setter)(o, conv(value)),
                    "server option %s=%r" % (key, value))
    except BaseException:
        lib.smtp_server_options_del(o)
        raise
    return o


class ServerSession:
    """One server session (one connection). See the module documentation.

    ``handler`` is the object whose ``on_*`` methods answer events (None:
    every default answer). Keyword options (each maps to one
    ``smtp_server_options_set_*`` call): ``hostname``, ``max_command_line``,
    ``input_buffer``, ``output_buffer``, ``max_recipients``,
    ``max_transactions``, ``max_errors``, ``max_auth_failures``,
    ``max_message_size``, ``extensions`` (names or bits), ``auth_mechs``
    (names or bits), ``lmtp``, ``tls_available``, ``allow_plaintext_auth``,
    ``require_tls``, ``require_auth``, ``accept_bare_line_ends``,
    ``reject_nul``, ``reject_long_lines``, ``any_authzid``,
    ``lenient_space_after_colon``, ``command_timeout_ms``,
    ``data_timeout_ms``, ``data_end_timeout_ms``, ``data_total_timeout_ms``.
    """

    def __init__(self, handler=None, **options):
        self._lib = lib = _ffi.lib()
        self._p = None
        self._exc = None
        self._in_callback = False
        self._inbuf = b""
        self.handler = handler
        self.driver = None  #: set by libsmtp.net.ServerConnection
        self._id = next(_ids)
        opts = _make_options(lib, options)
        cbs = ctypes.c_void_p()
        try:
            E.check(lib.smtp_server_callbacks_new(ctypes.byref(cbs), None),
                    "smtp_server_callbacks_new")
            for name, thunk in _CALLBACKS.items():
                if name == "bdat_chunk" and not _ffi.available("smtp_server_callbacks_set_bdat_chunk"):
                    continue  # a 1.0 library: every chunk gets the session's 250
                if callable(getattr(handler, "on_" + name, None)):
                    getattr(lib, "smtp_server_callbacks_set_" + name)(cbs, thunk)
            p = ctypes.c_void_p()
            E.check(lib.smtp_server_session_new(ctypes.byref(p), cbs, ctypes.c_void_p(self._id),
                                                opts, None), "smtp_server_session_new")
            self._p = p
        finally:
            lib.smtp_server_callbacks_del(cbs)
            lib.smtp_server_options_del(opts)
        _sessions[self._id] = self

    # -- life cycle ---------------------------------------------------------

    def close(self):
        """Free the C session (no callback fires). Idempotent. Not from
        inside a callback (RuntimeError): return an answer instead."""
        if self._in_callback:
            raise RuntimeError("close() from inside a libsmtp callback")
        if self._p is not None:
            _sessions.pop(self._id, None)
            self._lib.smtp_server_session_del(self._p)
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

    # -- callbacks ----------------------------------------------------------

    def _fire(self, name, convert, args):
        if self._exc is not None:
            return E.ERR_CALLBACK_FAILURE
        outer = self._in_callback          # trace fires inside other callbacks
        self._in_callback = True
        try:
            result = getattr(self.handler, "on_" + name)(self, *convert(args))
            if name == "trace":
                return 0
            if result is None or result is True:
                return 0
            if result is False:
                return E.ERR_CALLBACK_REFUSED
            if result is DEFERRED:
                return E.ERR_DEFERRED
            if result is PAUSE:
                if name != "data_chunk":
                    raise ValueError("PAUSE is only for on_data_chunk")
                return E.ERR_PAUSE
            if name == "data_chunk":
                raise ValueError("on_data_chunk returns None/True, False or PAUSE, not %r"
                                 % (result,))
            self.reply(as_reply(result))
            return 0
        except BaseException as e:  # noqa: B902 - re-raised from the C call's wrapper
            self._exc = e
            return E.ERR_CALLBACK_FAILURE
        finally:
            self._in_callback = outer

    def _after(self, rc, what):
        exc = self._exc
        if exc is not None:
            self._exc = None
            raise exc
        return E.check(rc, what)

    # -- bytes in -----------------------------------------------------------

    def mem_recv(self, data):
        """smtp_server_session_mem_recv(): offer @p data once; return the
        number of bytes taken (keep and re-offer the rest). Most code uses
        receive() instead."""
        data = bytes(data)
        return self._after(self._lib.smtp_server_session_mem_recv(self._ptr(), data, len(data)),
                           "smtp_server_session_mem_recv")

    def receive(self, data=b""):
        """Give the session received bytes (one smtp_server_session_mem_recv()
        call over everything held). What it does not take now (a deferred
        answer, a pause, output backpressure, an LMTP reply sequence) is kept
        here: send the pending output, then call ``receive()`` again with
        no new bytes. Returns the bytes taken. Raises errors.Error when the
        session had already closed (ERR_CLOSED, or the sticky
        ERR_CALLBACK_FAILURE)."""
        if data and self.is_closed:
            self.mem_recv(data)             # raises the session's error
        if data:
            self._inbuf += bytes(data)
        if not self._inbuf or not self.want_read:
            return 0
        n = self.mem_recv(self._inbuf)
        self._inbuf = self._inbuf[n:]
        return n

    @property
    def buffered(self):
        """Received bytes the session has not taken yet."""
        return len(self._inbuf)

    def discard_input(self):
        """Drop received bytes the session has not taken (at want_tls: bytes
        from before the TLS handshake must never reach the session,
        RFC 3207 5)."""
        self._inbuf = b""

    # -- bytes out ----------------------------------------------------------

    def pending(self):
        """smtp_server_session_mem_send(): a copy of the bytes waiting to be
        sent (b"" when none); the first call produces the greeting."""
        ptr = ctypes.c_void_p()
        n = self._after(self._lib.smtp_server_session_mem_send(self._ptr(), ctypes.byref(ptr)),
                        "smtp_server_session_mem_send")
        return ctypes.string_at(ptr.value, n) if n > 0 else b""

    def consume(self, n):
        """smtp_server_session_mem_consume(): @p n pending bytes were sent."""
        self._after(self._lib.smtp_server_session_mem_consume(self._ptr(), n),
                    "smtp_server_session_mem_consume")

    def take_output(self):
        """All pending bytes, marked as sent (for in-memory use and tests)."""
        out = b""
        while True:
            chunk = self.pending()
            if not chunk:
                return out
            self.consume(len(chunk))
            out += chunk

    # -- state --------------------------------------------------------------

    @property
    def want_read(self):
        return bool(self._p is not None and self._lib.smtp_server_session_want_read(self._p))

    @property
    def want_write(self):
        return bool(self._p is not None and self._lib.smtp_server_session_want_write(self._p))

    @property
    def want_tls(self):
        """True once the 220 to STARTTLS was consumed: handshake now, then
        call tls_started()."""
        return bool(self._p is not None and self._lib.smtp_server_session_want_tls(self._p))

    @property
    def is_closed(self):
        return self._p is None or bool(self._lib.smtp_server_session_is_closed(self._p))

    @property
    def want_close(self):
        """Closed and all output consumed: close the connection now."""
        return self._p is None or bool(self._lib.smtp_server_session_want_close(self._p))

    def tls_started(self, protocol=None, cipher=None, sni=None, peer_verified=False,
                    has_peer_cert=False):
        """TLS is up (after want_tls, or before the greeting for implicit
        TLS). Unconsumed input from before is dropped."""
        self._inbuf = b""
        info = _ffi.TlsInfo(protocol.encode() if protocol else None,
                            cipher.encode() if cipher else None,
                            sni.encode("utf-8") if sni else None,
                            _bool(peer_verified), _bool(has_peer_cert))
        self._after(self._lib.smtp_server_session_tls_started(self._ptr(), ctypes.byref(info)),
                    "smtp_server_session_tls_started")

    @property
    def timeout_ms(self):
        """Deadline of the current wait (ms; -1 when closed), RFC 5321 4.5.3.2."""
        return self._lib.smtp_server_session_timeout_ms(self._ptr())

    @property
    def deadline_seq(self):
        """Changes whenever a new deadline starts: restart the timer then."""
        return self._lib.smtp_server_session_deadline_seq(self._ptr())

    @property
    def total_timeout_ms(self):
        """The bound on the whole DATA or one BDAT chunk (ms), which no data
        renews; -1 outside message data."""
        return self._lib.smtp_server_session_total_timeout_ms(self._ptr())

    @property
    def total_seq(self):
        """Changes whenever a whole-data bound starts: arm it then."""
        return self._lib.smtp_server_session_total_seq(self._ptr())

    def timeout(self):
        """The deadline passed: queue 421 4.4.2 and close."""
        return self._after(self._lib.smtp_server_session_timeout(self._ptr()),
                           "smtp_server_session_timeout")

    def shutdown(self):
        """Queue 421 4.3.2 and close."""
        return self._after(self._lib.smtp_server_session_shutdown(self._ptr()),
                           "smtp_server_session_shutdown")

    # -- answers ------------------------------------------------------------

    def reply(self, code, text=None, enhanced=None):
        """smtp_server_session_reply(): inside a callback, set its answer;
        after a callback returned DEFERRED, send the answer and let the
        session go on. @p code may also be a Reply. Raises errors.Error."""
        r = code if isinstance(code, Reply) else Reply(code, text, enhanced)
        enh = r.enhanced.encode("ascii") if r.enhanced else None
        return self._after(self._lib.smtp_server_session_reply(self._ptr(), r.code, enh,
                                                                 r.c_text()),
                           "reply %d" % r.code)

    def ehlo_hide(self, extensions):
        """smtp_server_session_ehlo_hide(): inside ``on_ehlo`` (or before a
        deferred EHLO's reply), leave these extensions (names or bits) out of
        this EHLO's reply; the session treats them as not offered until the
        next EHLO. Raises errors.Error (LibraryVersionError with a 1.0
        library, which lacks the call)."""
        if not _ffi.available("smtp_server_session_ehlo_hide"):
            raise _ffi.LibraryVersionError("smtp_server_session_ehlo_hide needs libsmtp 1.1")
        return E.check(self._lib.smtp_server_session_ehlo_hide(self._ptr(),
                                                               flags_of(extensions, EXTENSIONS)),
                       "smtp_server_session_ehlo_hide")

    def reply_threadsafe(self, code, text=None, enhanced=None):
        """Answer a deferred event from another thread: the driver running
        this session calls reply() in its own thread."""
        if self.driver is None:
            raise RuntimeError("no driver runs this session; call reply() instead")
        self.driver.call_soon_threadsafe(lambda: self.reply(code, text, enhanced))

    def auth_challenge(self, data):
        """Send "334 " + base64(@p data) in answer to an auth step."""
        data = bytes(data)
        return self._after(self._lib.smtp_server_session_auth_challenge(self._ptr(), data,
                                                                          len(data)),
                           "smtp_server_session_auth_challenge")

    def auth_accept(self, identity):
        """Accept an AUTH exchange (235 2.7.0) as @p identity."""
        ident = identity.encode("utf-8") if isinstance(identity, str) else bytes(identity)
        return self._after(self._lib.smtp_server_session_auth_accept(self._ptr(), ident,
                                                                       len(ident)),
                           "smtp_server_session_auth_accept")

    # -- accessors ----------------------------------------------------------

    def _cstr(self, fn):
        n = ctypes.c_size_t()
        p = fn(self._ptr(), ctypes.byref(n))
        return _decode(ctypes.string_at(p, n.value)) if p else None

    @property
    def flags(self):
        """FLAG_* bits describing the session now."""
        return self._lib.smtp_server_session_flags(self._ptr())

    @property
    def tls_active(self):
        return bool(self.flags & FLAG_TLS)

    @property
    def authenticated(self):
        return bool(self.flags & FLAG_AUTH)

    @property
    def reverse_path(self):
        """The accepted reverse-path ("" for <>), None outside a transaction."""
        return self._cstr(self._lib.smtp_server_session_reverse_path)

    @property
    def helo_name(self):
        return self._cstr(self._lib.smtp_server_session_helo_name)

    @property
    def auth_user(self):
        """The authenticated identity, or None."""
        return self._cstr(self._lib.smtp_server_session_auth_user)

    @property
    def rcpt_count(self):
        return self._lib.smtp_server_session_rcpt_count(self._ptr())

    @property
    def transaction_count(self):
        return self._lib.smtp_server_session_transaction_count(self._ptr())

    @property
    def received_protocol(self):
        """"with" protocol for a Received: field (ESMTPS, ESMTPSA, ...; RFC 3848)."""
        return self._lib.smtp_server_session_received_protocol(self._ptr()).decode("ascii")

    @property
    def message_size(self):
        return self._lib.smtp_server_session_message_size(self._ptr())

    def tls_info(self):
        """dict(protocol, cipher, sni, peer_verified, has_peer_cert), or None without TLS."""
        info = _ffi.TlsInfo()
        if self._lib.smtp_server_session_tls_info(self._ptr(), ctypes.byref(info)) != 0:
            return None
        d = lambda b: b.decode("utf-8", "replace") if b else None  # noqa: E731
        return {"protocol": d(info.protocol), "cipher": d(info.cipher), "sni": d(info.sni),
                "peer_verified": bool(info.peer_verified), "has_peer_cert": bool(info.has_peer_cert)}
