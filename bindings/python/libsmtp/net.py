"""Small socket drivers for the sessions, on Python's socket and ssl modules.

- :class:`ServerConnection` runs one ServerSession over a connected socket;
  :class:`Server` listens and runs one per connection, each in a thread.
- :class:`ClientConnection` runs one ClientSession over a connected socket;
  :func:`send_mail` connects, sends one message and returns its
  Transaction with per-recipient results.

TLS: the sessions say when the handshake must happen (``want_tls``: the
server's 220 to STARTTLS has been written out completely, or the client
has read it); the driver then wraps the socket with
``ssl.SSLContext.wrap_socket()`` (which runs the handshake) and reports
``tls_started()``. Bytes received before the handshake that the session
had not taken are dropped (RFC 3207 5). Implicit TLS (RFC 8314) wraps the
socket before the first byte.

Sockets are blocking with timeouts; the RFC 5321 4.5.3.2 deadlines come
from the sessions (``timeout_ms``), optionally capped by ``max_wait``.
"""

import collections
import selectors
import socket
import ssl
import threading
import time

from . import errors as E
from .client import ClientSession, Transaction
from .server import ServerSession

_RECV = 65536


def _tls_facts(tls, ctx):
    cert = tls.getpeercert(binary_form=True)
    cipher = tls.cipher()
    return {"protocol": tls.version(), "cipher": cipher[0] if cipher else None,
            "has_peer_cert": cert is not None,
            "peer_verified": cert is not None and ctx.verify_mode != ssl.CERT_NONE}


class ServerConnection:
    """Run @p session over the connected socket @p sock until the session
    ends or the connection does.

    ``ssl_context`` (server side) is needed for STARTTLS and implicit TLS.
    Deferred answers from other threads go through call_soon_threadsafe()
    (or ServerSession.reply_threadsafe()); they run in the thread that runs
    run(). After run(), ``error`` holds the exception that ended the
    connection, if any (a network error; exceptions from the handler are
    re-raised by run()).
    """

    def __init__(self, sock, session, *, ssl_context=None, implicit_tls=False, max_wait=None,
                 handshake_timeout=30.0):
        self.sock = sock
        self.session = session
        self.ssl_context = ssl_context
        self.implicit_tls = implicit_tls
        self.max_wait = max_wait
        self.handshake_timeout = handshake_timeout
        self.error = None
        self._posted = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        session.driver = self

    def call_soon_threadsafe(self, fn):
        """Run fn() in the driver's thread (e.g. session.reply(...))."""
        self._posted.append(fn)
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # full (a wake-up is pending anyway) or closed

    def _run_posted(self):
        ran = False
        while self._posted:
            self._posted.popleft()()
            ran = True
        return ran

    def _start_tls(self):
        if self.ssl_context is None:
            raise RuntimeError("TLS wanted but no ssl_context was given")
        self.sock.settimeout(self.handshake_timeout)
        tls = self.ssl_context.wrap_socket(self.sock, server_side=True)
        self.sock = tls
        self.session.tls_started(**_tls_facts(tls, self.ssl_context))

    def _wait_s(self, deadline):
        t = None if deadline is None else max(0.0, deadline - time.monotonic())
        if self.max_wait is not None:
            t = self.max_wait if t is None else min(t, self.max_wait)
        return t

    def run(self):
        s = self.session
        sel = selectors.DefaultSelector()
        seq = None
        deadline = idle_deadline = total_deadline = total_seq = None
        try:
            sel.register(self._wake_r, selectors.EVENT_READ)
            if self.implicit_tls:
                self._start_tls()
            while True:
                self._run_posted()
                out = s.pending()
                while out:
                    self.sock.settimeout(self._wait_s(deadline) or 60.0)
                    self.sock.sendall(out)
                    s.consume(len(out))
                    out = s.pending()
                if s.want_close:
                    break
                if s.want_tls:
                    s.discard_input()
                    self._start_tls()
                    continue
                if s.deadline_seq != seq:
                    seq = s.deadline_seq
                    t = s.timeout_ms
                    idle_deadline = None if t < 0 else time.monotonic() + t / 1000.0
                # message data: a second bound that no data renews
                tt = s.total_timeout_ms
                if tt < 0:
                    total_deadline = None
                elif total_deadline is None or s.total_seq != total_seq:
                    total_seq = s.total_seq
                    total_deadline = time.monotonic() + tt / 1000.0
                deadline = idle_deadline
                if total_deadline is not None and (deadline is None or total_deadline < deadline):
                    deadline = total_deadline
                if s.buffered and s.want_read and s.receive():
                    continue
                reading = s.want_read and s.buffered < 4 * _RECV
                ready = reading and isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
                if not ready:
                    key = None
                    if reading:
                        key = sel.register(self.sock, selectors.EVENT_READ)
                    try:
                        events = sel.select(self._wait_s(deadline))
                    finally:
                        if key is not None:
                            sel.unregister(self.sock)
                    if not events:
                        if deadline is not None and time.monotonic() >= deadline:
                            if not s.is_closed:
                                s.timeout()      # 421 4.4.2, then want_close
                            deadline = idle_deadline = total_deadline = None
                        continue
                    woke = False
                    for k, _ in events:
                        if k.fileobj is self._wake_r:
                            woke = True
                            try:
                                while self._wake_r.recv(256):
                                    pass
                            except (BlockingIOError, InterruptedError):
                                pass
                        else:
                            ready = True
                    if woke and not ready:
                        continue
                if ready:
                    self.sock.settimeout(self._wait_s(deadline) or 60.0)
                    try:
                        data = self.sock.recv(_RECV)
                    except socket.timeout:
                        if not s.is_closed:
                            s.timeout()
                        continue
                    if not data:
                        break                    # the client went away
                    s.receive(data)
        except (OSError, ssl.SSLError) as e:
            self.error = e
        finally:
            sel.close()
            s.driver = None
            for so in (self._wake_r, self._wake_w, self.sock):
                try:
                    so.close()
                except OSError:
                    pass


class Server:
    """A listening server: one ServerSession and ServerConnection per
    connection, each in its own thread.

    ``handler_factory()`` makes the handler of each session (a class
    works). Other keyword arguments are ServerSession options;
    ``tls_available`` defaults to True when an ``ssl_context`` is given
    without ``implicit_tls``. ``address`` is the (host, port) bound (port 0
    picks a free one). Use start() for a background accept thread, or
    serve_forever(); close() stops accepting, shuts every session down with
    421 4.3.2 and waits for them.
    """

    def __init__(self, handler_factory, host="127.0.0.1", port=0, *, ssl_context=None,
                 implicit_tls=False, max_wait=None, **session_options):
        self.handler_factory = handler_factory
        self.ssl_context = ssl_context
        self.implicit_tls = implicit_tls
        self.max_wait = max_wait
        if ssl_context is not None and not implicit_tls:
            session_options.setdefault("tls_available", True)
        self.session_options = session_options
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=fam, backlog=64)
        self.address = self.sock.getsockname()[:2]
        self.errors = []          #: exceptions that ended connection threads
        self.connections = 0      #: connections accepted so far
        self._conns = set()
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = socket.socketpair()
        self._closed = False
        self._thread = None

    @property
    def port(self):
        return self.address[1]

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, name="libsmtp-accept",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        sel.register(self._stop_r, selectors.EVENT_READ)
        try:
            while not self._closed:
                for key, _ in sel.select():
                    if key.fileobj is self._stop_r:
                        return
                    try:
                        conn, _addr = self.sock.accept()
                    except OSError:
                        continue
                    self.connections += 1
                    t = threading.Thread(target=self._serve_one, args=(conn,),
                                         name="libsmtp-conn", daemon=True)
                    t.start()
        finally:
            sel.close()

    def _serve_one(self, sock):
        c = None
        try:
            session = ServerSession(self.handler_factory(), **self.session_options)
            c = ServerConnection(sock, session, ssl_context=self.ssl_context,
                                 implicit_tls=self.implicit_tls, max_wait=self.max_wait)
            with self._lock:
                if self._closed:
                    session.shutdown()
                self._conns.add(c)
            c.run()
            if c.error is not None:
                self.errors.append(c.error)
        except BaseException as e:  # noqa: B902 - kept for the application to inspect
            self.errors.append(e)
            sock.close()
        finally:
            if c is not None:
                with self._lock:
                    self._conns.discard(c)
                c.session.close()

    def close(self, timeout=5.0):
        """Stop accepting; 421 to every open session; wait for them."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            conns = list(self._conns)
        try:
            self._stop_w.send(b"\0")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
        self.sock.close()
        for c in conns:
            c.call_soon_threadsafe(lambda c=c: c.session.is_closed or c.session.shutdown())
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if not self._conns:
                    break
            time.sleep(0.01)
        self._stop_r.close()
        self._stop_w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ClientConnection:
    """Run @p session over the connected socket @p sock until it is closed.

    ``ssl_context`` and ``server_hostname`` are used for STARTTLS (when the
    session's policy allows it) and for implicit TLS. A failed handshake
    ends the session (no plaintext retry): SMTP_ERR_TLS_VERIFY for a
    certificate that did not verify, SMTP_ERR_TLS_HANDSHAKE otherwise.
    """

    def __init__(self, sock, session, *, ssl_context=None, server_hostname=None,
                 implicit_tls=False, max_wait=None):
        self.sock = sock
        self.session = session
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.implicit_tls = implicit_tls
        self.max_wait = max_wait
        self.tls_error = None   #: the ssl exception of a failed handshake

    def _start_tls(self):
        s = self.session
        ctx = self.ssl_context
        if ctx is None:
            s.tls_failed(E.ERR_TLS_CONFIG)
            return
        try:
            tls = ctx.wrap_socket(self.sock, server_hostname=self.server_hostname)
        except ssl.SSLCertVerificationError as e:
            self.tls_error = e
            s.tls_failed(E.ERR_TLS_VERIFY)
            return
        except (ssl.SSLError, OSError) as e:
            self.tls_error = e
            s.tls_failed(E.ERR_TLS_HANDSHAKE)
            return
        self.sock = tls
        s.tls_started(**_tls_facts(tls, ctx))

    def _wait_s(self):
        t = self.session.timeout_ms
        t = None if t < 0 else t / 1000.0
        if self.max_wait is not None:
            t = self.max_wait if t is None else min(t, self.max_wait)
        return t

    def run(self):
        s = self.session
        try:
            if self.implicit_tls:
                self.sock.settimeout(self._wait_s())
                self._start_tls()
            while not s.is_closed:
                out = s.pending()
                if out:
                    self.sock.settimeout(self._wait_s())
                    try:
                        self.sock.sendall(out)
                    except socket.timeout:
                        s.on_timeout()
                        continue
                    except OSError:
                        s.connection_lost()
                        continue
                    s.consume(len(out))
                    continue
                if s.want_tls:
                    self.sock.settimeout(self._wait_s())
                    self._start_tls()
                    continue
                if not s.want_read:
                    if s.is_closed or not s.want_write:
                        break
                    raise RuntimeError("client session wants to write but has no output")
                self.sock.settimeout(self._wait_s())
                try:
                    data = self.sock.recv(_RECV)
                except socket.timeout:
                    s.on_timeout()
                    continue
                except OSError:
                    s.connection_lost()
                    continue
                if not data:
                    s.connection_lost()
                    continue
                s.receive(data)
        finally:
            try:
                self.sock.close()
            except OSError:
                pass


def default_client_context(verify):
    """An ssl.SSLContext for a client: verifying against the system store
    (``verify``), or, for opportunistic STARTTLS (RFC 7435), encrypting
    without verifying."""
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _literal(addr):
    return "[IPv6:%s]" % addr if ":" in addr else "[%s]" % addr


def send_mail(host, port, mail_from=None, recipients=None, message=None, *,
              transaction=None, ssl_context=None, starttls="opportunistic", implicit_tls=False,
              server_hostname=None, timeout=60.0, max_wait=None, source_address=None,
              ehlo_name=None, trace=None, **session_options):
    """Connect to host:port, send one message, QUIT; return the Transaction.

    Either ``mail_from``, ``recipients`` and ``message`` (see Transaction)
    or a prepared ``transaction``. Per-recipient results are in
    ``transaction.recipients``; ``transaction.ok`` is True when at least one
    recipient got the message; ``transaction.session_error`` is the error
    the session ended with (0 after a clean QUIT).

    TLS: ``starttls`` is "opportunistic" (default: STARTTLS when offered;
    without an ``ssl_context`` the certificate is not verified, RFC 7435),
    "required" (without ``ssl_context``: verified against the system store)
    or "off". ``implicit_tls`` wraps the socket before the greeting
    (RFC 8314). ``server_hostname`` (default ``host``) is the SNI and the
    name verified. ``ehlo_name`` defaults to the local address literal.
    Other keyword arguments are ClientSession options (credentials, lmtp,
    ...). Connection errors raise OSError.
    """
    txn = transaction or Transaction(mail_from, recipients, message)
    ctx = ssl_context
    if ctx is None and (implicit_tls or starttls != "off"):
        ctx = default_client_context(verify=implicit_tls or starttls == "required")
    sock = socket.create_connection((host, port), timeout=timeout, source_address=source_address)
    try:
        if ehlo_name is None:
            ehlo_name = _literal(sock.getsockname()[0])
        session = ClientSession(ehlo_name=ehlo_name,
                                starttls="off" if implicit_tls else starttls, trace=trace,
                                **session_options)
    except BaseException:
        sock.close()
        raise
    with session:
        session.send(txn)
        session.quit()
        conn = ClientConnection(sock, session, ssl_context=ctx,
                                server_hostname=server_hostname or host,
                                implicit_tls=implicit_tls, max_wait=max_wait)
        conn.run()
        txn.session_error = session.error
        txn.tls_error = conn.tls_error
        txn.capabilities = session.capabilities
        txn.tls = session.tls_active
    return txn
