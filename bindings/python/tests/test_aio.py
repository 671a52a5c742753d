"""libsmtp.aio: the asyncio server and client, against each other and
against Python's smtplib (a real client in a thread), loopback only."""

import asyncio
import smtplib
import unittest

import support
import libsmtp
from libsmtp import aio


class AsyncHandler:
    """Coroutine handlers (as an aiosmtpd user writes them) plus a plain
    data_chunk collector."""

    def __init__(self):
        self.messages = []
        self.order = []
        self._buf = b""
        self._rcpts = []

    async def on_mail(self, s, mail):
        await asyncio.sleep(0.01)          # the pipeline waits for this answer
        self.order.append(("mail", mail.address))
        self._rcpts, self._buf = [], b""

    async def on_rcpt(self, s, rcpt):
        await asyncio.sleep(0)
        self.order.append(("rcpt", rcpt.address))
        if rcpt.address.startswith("nobody@"):
            return False                    # 550 5.1.1
        if rcpt.address.startswith("later@"):
            return (451, "Try again later", "4.3.0")
        self._rcpts.append(rcpt.address)
        return None

    def on_data_chunk(self, s, data):
        self._buf += data

    async def on_data_end(self, s, end):
        await asyncio.sleep(0.01)
        self.messages.append((list(self._rcpts), self._buf))
        return (250, "queued as A1", "2.0.0")


MESSAGE = b"Subject: aio\r\n\r\nHello from asyncio.\r\n.leading dot\r\n"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, support.DEADLINE))


class TestAsyncServerClient(unittest.TestCase):
    def test_async_handlers_answer_in_order(self):
        h = AsyncHandler()

        async def go():
            async with await aio.start_server(h, hostname="mx.example.org") as srv:
                txn = await aio.send_mail("127.0.0.1", srv.port, "a@example.org",
                                          ["b@example.org", "nobody@example.org",
                                           "later@example.org", "c@example.org"], MESSAGE,
                                          starttls="off")
                return srv, txn

        srv, txn = run(go())
        self.assertEqual(srv.errors, [])
        self.assertTrue(txn.ok)
        codes = [r.rcpt_code for r in txn.recipients]
        self.assertEqual(codes, [250, 550, 451, 250])
        self.assertEqual(h.messages, [(["b@example.org", "c@example.org"], MESSAGE)])
        # pipelined commands were answered in order although each answer
        # came from a coroutine (RFC 2920 3.1)
        self.assertEqual([e[0] for e in h.order], ["mail", "rcpt", "rcpt", "rcpt", "rcpt"])

    def test_coroutine_not_allowed_for_ehlo(self):
        class Bad:
            async def on_ehlo(self, s, helo):
                return None

        async def go():
            await aio.start_server(Bad())
        with self.assertRaises(TypeError):
            run(go())

        async def per_connection():
            async with await aio.start_server(handler_factory=Bad) as srv:
                txn = await aio.send_mail("127.0.0.1", srv.port, "a@example.org",
                                          ["b@example.org"], MESSAGE, starttls="off")
                return srv, txn
        srv, txn = run(per_connection())
        self.assertFalse(txn.ok)
        self.assertTrue(any(isinstance(e, TypeError) for e in srv.errors))

    def test_smtplib_client_against_aio_server(self):
        h = AsyncHandler()

        async def go():
            async with await aio.start_server(h, hostname="mx.example.org") as srv:
                def client():
                    with smtplib.SMTP("127.0.0.1", srv.port, timeout=support.DEADLINE) as c:
                        refused = c.sendmail("a@example.org", ["b@example.org",
                                                               "nobody@example.org"], MESSAGE)
                        return refused
                return await asyncio.get_running_loop().run_in_executor(None, client)
        refused = run(go())
        self.assertEqual(list(refused), ["nobody@example.org"])
        self.assertEqual(refused["nobody@example.org"][0], 550)
        self.assertEqual(h.messages[0][0], ["b@example.org"])
        self.assertEqual(h.messages[0][1], MESSAGE)

    @support.needs_certificate
    def test_starttls_both_sides(self):
        h = AsyncHandler()

        async def go():
            async with await aio.start_server(h, ssl_context=support.server_context(),
                                              hostname="localhost") as srv:
                return await aio.send_mail("127.0.0.1", srv.port, "a@example.org",
                                           ["b@example.org"], MESSAGE, starttls="required",
                                           ssl_context=support.client_context(),
                                           server_hostname="localhost")
        txn = run(go())
        self.assertTrue(txn.ok)
        self.assertTrue(txn.tls)
        self.assertEqual(h.messages[0][1], MESSAGE)

    def test_server_deadline_closes_idle_client(self):
        async def go():
            async with await aio.start_server(None, command_timeout_ms=300) as srv:
                reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
                greeting = await reader.readline()
                rest = await asyncio.wait_for(reader.read(), 5)   # 421 then close
                writer.close()
                return greeting, rest
        greeting, rest = run(go())
        self.assertTrue(greeting.startswith(b"220 "))
        self.assertTrue(rest.startswith(b"421 "), rest)

    def test_client_reports_refused_connection(self):
        port = support.free_port()
        with self.assertRaises(OSError):
            run(aio.send_mail("127.0.0.1", port, "a@example.org", ["b@example.org"], MESSAGE))


if __name__ == "__main__":
    support.main()
