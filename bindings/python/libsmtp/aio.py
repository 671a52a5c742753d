"""asyncio drivers for the sans-I/O sessions: a server and a client.

The sessions do the protocol; this module moves their bytes over asyncio
streams, runs STARTTLS with ``StreamWriter.start_tls()`` (Python's ssl),
and enforces the sessions' RFC 5321 4.5.3.2 deadlines with
``asyncio.wait_for``. One event loop serves every connection; nothing blocks
it but the handler's own synchronous code.

Server::

    class Handler:
        async def on_rcpt(self, session, rcpt):      # may be a coroutine
            return rcpt.address.endswith("@example.org")
        async def on_data_end(self, session, end):
            await store(session.data)                 # see Collector below
            return None                               # 250 2.0.0

    server = await libsmtp.aio.start_server(Handler(), "127.0.0.1", 0,
                                            hostname="mx.example.org")
    port = server.port
    ...
    await server.close()

A handler method may be a plain function (answered at once, as with
:class:`libsmtp.ServerSession`) or, for ``on_connect``, ``on_mail``,
``on_rcpt``, ``on_data_end``, ``on_rset``, ``on_vrfy``, ``on_expn`` and
``on_noop``, a coroutine function: the session then holds the pipeline in
order until the coroutine returns (RFC 2920). A coroutine returns what a
plain method returns: None or True for the event's success reply, False for
its usual refusal, or a reply (an int code, a tuple ``(code, text,
enhanced)`` or a :class:`libsmtp.Reply`).

Client::

    txn = await libsmtp.aio.send_mail("127.0.0.1", port, "a@example.org",
                                      ["b@example.org"], b"Subject: hi\\r\\n\\r\\nHi\\r\\n")
    assert txn.ok
"""

import asyncio
import inspect
import ssl
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import errors as E
from .client import ClientSession, Transaction
from .reply import Reply, as_reply
from .server import DEFERRED, ServerSession

__all__ = ["Server", "start_server", "send_mail", "ASYNC_EVENTS"]

_RECV = 65536

#: Events whose handler may be a coroutine, with the replies the adapter
#: sends for a coroutine that returns None/True (accept) or False (refuse).
ASYNC_EVENTS: Dict[str, Tuple[Reply, Reply]] = {
    "connect": (Reply(220, None), Reply(554, "Service refused", "5.7.1")),
    "mail": (Reply(250, "Sender OK", "2.1.0"), Reply(550, "Sender refused", "5.7.1")),
    "rcpt": (Reply(250, "Recipient OK", "2.1.5"), Reply(550, "No such user here", "5.1.1")),
    "data_end": (Reply(250, "Message accepted", "2.0.0"),
                 Reply(554, "Message refused", "5.6.0")),
    "rset": (Reply(250, "Reset OK", "2.0.0"), Reply(250, "Reset OK", "2.0.0")),
    "vrfy": (Reply(252, "Cannot VRFY user, but will accept message", "2.5.0"),
             Reply(550, "No such user here", "5.1.1")),
    "expn": (Reply(502, "EXPN not available", "5.5.1"),
             Reply(550, "No such list here", "5.1.1")),
    "noop": (Reply(250, "OK", "2.0.0"), Reply(250, "OK", "2.0.0")),
}


def check_handler(handler: Any) -> None:
    """Raise TypeError when a handler has a coroutine method for an event
    that must be answered at once (EHLO, AUTH, data chunks, ...)."""
    for name in dir(handler):
        if name.startswith("on_") and inspect.iscoroutinefunction(getattr(handler, name)):
            if name[3:] not in ASYNC_EVENTS:
                raise TypeError("%s may not be a coroutine (only %s)"
                                % (name, ", ".join("on_" + e for e in ASYNC_EVENTS)))


class _AsyncAdapter:
    """Presents a handler with coroutine methods to ServerSession: a
    coroutine's event is answered DEFERRED and replied to when it ends."""

    def __init__(self, handler, conn):
        check_handler(handler)
        self._handler = handler
        self._conn = conn
        for name in dir(handler):
            if not name.startswith("on_"):
                continue
            fn = getattr(handler, name)
            if not callable(fn):
                continue
            if inspect.iscoroutinefunction(fn):
                setattr(self, name, self._deferring(name[3:], fn))
            else:
                setattr(self, name, fn)

    def _deferring(self, event, fn):
        ok, refused = ASYNC_EVENTS[event]

        def call(session, *args):
            coro = fn(session, *args)
            self._conn.track(asyncio.ensure_future(self._finish(session, coro, ok, refused)))
            return DEFERRED
        return call

    async def _finish(self, session, coro, ok, refused):
        try:
            result = await coro
        except BaseException as e:  # noqa: B902 - reported by the connection
            self._conn.fail(e)
            return
        if session.is_closed:
            return
        if result is None or result is True:
            reply = ok
        elif result is False:
            reply = refused
        else:
            reply = as_reply(result)
        try:
            session.reply(reply)
        except E.Error as e:
            self._conn.fail(e)
        self._conn.kick()


class _ServerConnection:
    def __init__(self, server, reader, writer, session_factory):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.error = None
        self._tasks = set()
        self._kick = asyncio.Event()
        self.session = session_factory(self)
        self.session.driver = self

    # hooks for the adapter and for ServerSession.reply_threadsafe()
    def track(self, task):
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def fail(self, exc):
        if self.error is None:
            self.error = exc
        self._kick.set()

    def kick(self):
        self._kick.set()

    def call_soon_threadsafe(self, fn):
        loop = self.server.loop

        def run():
            fn()
            self._kick.set()
        loop.call_soon_threadsafe(run)

    async def _flush(self):
        s = self.session
        out = s.pending()
        while out:
            self.writer.write(out)
            s.consume(len(out))
            out = s.pending()
        await self.writer.drain()

    async def _start_tls(self):
        s = self.session
        s.discard_input()
        ctx = self.server.ssl_context
        await self.writer.start_tls(ctx, ssl_handshake_timeout=self.server.handshake_timeout)
        obj = self.writer.get_extra_info("ssl_object")
        cipher = obj.cipher() if obj else None
        s.tls_started(protocol=obj.version() if obj else None,
                      cipher=cipher[0] if cipher else None,
                      sni=getattr(obj, "server_hostname", None) if obj else None)

    async def run(self):
        s = self.session
        read_task = None
        try:
            while True:
                if self.error is not None:
                    raise self.error
                await self._flush()
                if s.want_close or s.is_closed:
                    break
                if s.want_tls:
                    await self._start_tls()
                    continue
                if s.buffered and s.want_read and s.receive():
                    continue
                t = s.timeout_ms
                timeout = None if t < 0 else t / 1000.0
                self._kick.clear()
                waits = [asyncio.ensure_future(self._kick.wait())]
                if s.want_read and s.buffered < 4 * _RECV:
                    if read_task is None:
                        read_task = asyncio.ensure_future(self.reader.read(_RECV))
                    waits.append(read_task)
                done, _ = await asyncio.wait(waits, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                waits[0].cancel()
                if read_task is not None and read_task in done:
                    data = read_task.result()
                    read_task = None
                    if not data:
                        break                        # the client went away
                    s.receive(data)
                elif not done:
                    if not s.is_closed:
                        s.timeout()                  # 421 4.4.2, then want_close
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, ConnectionError) as e:
            self.error = e
        finally:
            if read_task is not None:
                read_task.cancel()
            for task in list(self._tasks):
                task.cancel()
            s.driver = None
            try:
                self.writer.close()
            except (OSError, RuntimeError):
                pass
            s.close()


class Server:
    """A listening asyncio SMTP server (see the module documentation).

    Made by :func:`start_server`. ``port`` is the bound port; ``connections``
    counts the sessions served; ``errors`` collects exceptions that ended a
    connection (handler exceptions included)."""

    def __init__(self, handler_factory: Callable[[], Any],
                 ssl_context: Optional[ssl.SSLContext], handshake_timeout: float,
                 options: Dict[str, Any]) -> None:
        self._factory = handler_factory
        self.ssl_context = ssl_context
        self.handshake_timeout = handshake_timeout
        self.options = dict(options)
        if ssl_context is not None:
            self.options.setdefault("tls_available", True)
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.server: Any = None  # asyncio.Server
        self.connections = 0
        self.errors: List[BaseException] = []
        self._running: set = set()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader, writer):
        self.connections += 1
        handler = self._factory()

        def make_session(conn):
            return ServerSession(_AsyncAdapter(handler, conn) if handler is not None else None,
                                 **self.options)
        try:
            conn = _ServerConnection(self, reader, writer, make_session)
        except Exception as e:  # noqa: B902 - a handler_factory's bad handler
            self.errors.append(e)
            writer.close()
            return
        task = asyncio.current_task()
        self._running.add(task)
        try:
            await conn.run()
        finally:
            self._running.discard(task)
            if conn.error is not None:
                self.errors.append(conn.error)

    async def close(self) -> None:
        """Stop listening and end every open connection."""
        if self.server is not None:
            self.server.close()
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)
            await self.server.wait_closed()

    async def __aenter__(self) -> "Server":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def start_server(handler: Any = None, host: str = "127.0.0.1", port: int = 0, *,
                       ssl_context: Optional[ssl.SSLContext] = None,
                       handshake_timeout: float = 30.0,
                       handler_factory: Optional[Callable[[], Any]] = None,
                       **options: Any) -> Server:
    """Listen on host:port and serve each connection with a ServerSession.

    ``handler`` is shared by every connection (or ``handler_factory()``
    makes one per connection). ``ssl_context`` (server side) enables
    STARTTLS. Other keyword arguments are ServerSession options (hostname,
    max_message_size, extensions, ...)."""
    if handler is not None:
        check_handler(handler)
    factory = handler_factory or (lambda: handler)
    srv = Server(factory, ssl_context, handshake_timeout, options)
    srv.loop = asyncio.get_running_loop()
    srv.server = await asyncio.start_server(srv._serve, host, port)
    return srv


async def _client_start_tls(session, writer, ctx, server_hostname):
    try:
        await writer.start_tls(ctx, server_hostname=server_hostname)
    except ssl.SSLCertVerificationError:
        session.tls_failed(E.ERR_TLS_VERIFY)
        return
    except (ssl.SSLError, OSError, ConnectionError):
        session.tls_failed(E.ERR_TLS_HANDSHAKE)
        return
    obj = writer.get_extra_info("ssl_object")
    cipher = obj.cipher() if obj else None
    cert = obj.getpeercert(binary_form=True) if obj else None
    session.tls_started(protocol=obj.version() if obj else None,
                        cipher=cipher[0] if cipher else None,
                        peer_verified=cert is not None and ctx.verify_mode != ssl.CERT_NONE,
                        has_peer_cert=cert is not None)


async def send_mail(host: str, port: int, mail_from: Optional[str] = None,
                    recipients: Optional[Sequence[str]] = None,
                    message: Union[bytes, str, None] = None, *,
                    transaction: Optional[Transaction] = None,
                    ssl_context: Optional[ssl.SSLContext] = None,
                    starttls: str = "opportunistic", server_hostname: Optional[str] = None,
                    connect_timeout: float = 60.0, ehlo_name: Optional[str] = None,
                    trace: Optional[Callable[..., Any]] = None,
                    **session_options: Any) -> Transaction:
    """Connect, send one message, QUIT; return the Transaction (see
    :func:`libsmtp.send_mail`, whose arguments these are). Runs on the
    event loop; the session's deadlines apply to every step."""
    txn = transaction or Transaction(mail_from, recipients, message)
    ctx = ssl_context
    if ctx is None and starttls != "off":
        ctx = ssl.create_default_context()
        if starttls != "required":
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                            connect_timeout)
    if ehlo_name is None:
        addr = writer.get_extra_info("sockname")[0]
        ehlo_name = "[IPv6:%s]" % addr if ":" in addr else "[%s]" % addr
    session = ClientSession(ehlo_name=ehlo_name, starttls=starttls, trace=trace,
                            **session_options)
    try:
        session.send(txn)
        session.quit()
        while not session.is_closed:
            out = session.pending()
            if out:
                writer.write(out)
                session.consume(len(out))
                try:
                    await writer.drain()
                except (OSError, ConnectionError):
                    session.connection_lost()
                continue
            if session.want_tls:
                await _client_start_tls(session, writer, ctx, server_hostname or host)
                continue
            if not session.want_read:
                break
            t = session.timeout_ms
            try:
                data = await asyncio.wait_for(reader.read(_RECV), None if t < 0 else t / 1000.0)
            except asyncio.TimeoutError:
                session.on_timeout()
                continue
            except (OSError, ConnectionError):
                session.connection_lost()
                continue
            if not data:
                session.connection_lost()
                continue
            session.receive(data)
        txn.session_error = session.error
        txn.capabilities = session.capabilities
        txn.tls = session.tls_active
    finally:
        try:
            writer.close()
        except (OSError, RuntimeError):
            pass
        session.close()
    return txn
