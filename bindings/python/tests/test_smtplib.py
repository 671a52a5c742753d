"""Python's smtplib against the binding's server (libsmtp.net.Server) on
loopback: delivery, refusals, AUTH PLAIN / LOGIN, STARTTLS and implicit
TLS with Python's ssl, deferred answers from another thread, deadlines,
shutdown. Every network step is bounded by support.DEADLINE."""

import smtplib
import ssl
import threading
import time
import unittest
from email.message import EmailMessage

import support
import libsmtp
from libsmtp import DEFERRED

D = support.DEADLINE


class ServerCase(unittest.TestCase):
    def start(self, handler_factory, **kw):
        kw.setdefault("hostname", "mx.example")
        kw.setdefault("max_wait", D)
        srv = libsmtp.Server(handler_factory, "127.0.0.1", 0, **kw).start()
        self.addCleanup(srv.close)
        return srv

    def wait_for(self, cond, what):
        end = time.monotonic() + D
        while not cond():
            if time.monotonic() > end:
                self.fail("timed out waiting for " + what)
            time.sleep(0.01)


class TestSmtplib(ServerCase):
    def test_sendmail_with_a_refused_recipient(self):
        h = support.Collector(reject=["nobody@example.net"])
        srv = self.start(lambda: h)
        msg = b"Subject: hello\r\n\r\nFirst line\r\n.starts with a dot\r\nlast\r\n"
        with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example",
                          timeout=D) as c:
            code, text = c.ehlo()
            self.assertEqual(code, 250)
            self.assertTrue(c.has_extn("pipelining") and c.has_extn("8bitmime"))
            self.assertFalse(c.has_extn("starttls"))
            refused = c.sendmail("alice@example.org",
                                 ["bob@example.net", "nobody@example.net", "carol@example.net"],
                                 msg)
        self.assertEqual(refused, {"nobody@example.net": (550, b"5.1.1 No such user")})
        self.wait_for(lambda: h.messages, "the message")
        frm, rcpts, data, facts = h.messages[0]
        self.assertEqual((frm, rcpts), ("alice@example.org",
                                        ["bob@example.net", "carol@example.net"]))
        self.assertEqual(data, msg)
        self.assertEqual(facts["helo"], "client.example")
        self.assertEqual(facts["protocol"], "ESMTP")

    def test_send_message_utf8(self):
        # RFC 6531: smtplib uses SMTPUTF8 for a non-ASCII address.
        h = support.Collector()
        srv = self.start(lambda: h)
        m = EmailMessage()
        m["From"] = "J\u00f6rg <j\u00f6rg@example.org>"
        m["To"] = "\u00e5sa@example.net"
        m["Subject"] = "gr\u00fc\u00dfe"
        m.set_content("Hall\u00f6chen\n")
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            c.send_message(m)
        self.wait_for(lambda: h.messages, "the message")
        frm, rcpts, data, _ = h.messages[0]
        self.assertEqual((frm, rcpts), ("j\u00f6rg@example.org", ["\u00e5sa@example.net"]))
        self.assertIn(b"Subject: ", data)

    def test_every_recipient_refused(self):
        h = support.Collector(reject=["x@example.net"])
        srv = self.start(lambda: h)
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                c.sendmail("a@example.org", ["x@example.net"], b"x\r\n")
        self.assertEqual(h.messages, [])

    def test_auth_plain_and_login(self):
        users = {"user": "s3cret"}
        srv = self.start(lambda: support.Collector(users=users), allow_plaintext_auth=True)
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            c.ehlo()
            self.assertEqual(set(c.esmtp_features["auth"].split()), {"PLAIN", "LOGIN"})
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                c.login("user", "wrong")
            self.assertEqual(cm.exception.smtp_code, 535)
            code, _ = c.login("user", "s3cret")
            self.assertEqual(code, 235)
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            c.ehlo()
            c.user, c.password = "user", "s3cret"
            code, _ = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
            self.assertEqual(code, 235)
            c.sendmail("user@example.org", ["b@example.net"], b"authenticated\r\n")

    def test_deferred_answer_from_another_thread(self):
        # The handler answers the end of data 50 ms later, from a worker
        # thread, through the driver (ServerSession.reply_threadsafe()).
        class Slow(support.Collector):
            def on_data_end(self, s, end):
                super().on_data_end(s, end)

                def later():
                    time.sleep(0.05)
                    s.reply_threadsafe(250, "Queued as 4711", "2.0.0")
                threading.Thread(target=later).start()
                return DEFERRED

            def on_rcpt(self, s, rcpt):
                threading.Timer(0.02, s.reply_threadsafe, args=(250, "Later OK")).start()
                return DEFERRED
        h = Slow()
        srv = self.start(lambda: h)
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            c.ehlo()
            c.mail("a@example.org")
            self.assertEqual(c.rcpt("b@example.net"), (250, b"2.1.5 Later OK"))
            t0 = time.monotonic()
            code, text = c.data(b"deferred\r\n")
            self.assertGreaterEqual(time.monotonic() - t0, 0.04)
            self.assertEqual((code, text), (250, b"2.0.0 Queued as 4711"))
            self.assertEqual(c.noop()[0], 250)

    def test_command_deadline(self):
        # RFC 5321 4.5.3.2.7: an idle client gets 421 4.4.2 when the
        # server's command deadline passes.
        srv = self.start(support.Collector, command_timeout_ms=300)
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            c.ehlo()
            time.sleep(0.6)
            code, text = c.getreply()
            self.assertEqual(code, 421)
            self.assertTrue(text.startswith(b"4.4.2"))

    def test_data_drip_is_cut(self):
        # The whole DATA is bounded from its 354 (RFC 5321 4.5.3.2 shape): a
        # client sending one octet per 0.1 s renews the per-block deadline
        # (1 s) but not this one (0.5 s).
        import socket
        srv = self.start(support.Collector, data_timeout_ms=1000, data_total_timeout_ms=500)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=D)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"HELO c.example\r\nMAIL FROM:<a@example.org>\r\n"
                  b"RCPT TO:<b@example.net>\r\nDATA\r\n")
        for _ in range(4):
            f.readline()
        t0 = time.monotonic()
        s.settimeout(0.1)
        got = b""
        while time.monotonic() - t0 < D and not got:
            try:
                s.sendall(b"x")
                got = s.recv(512)
            except socket.timeout:
                pass
            except OSError:
                break
        self.assertTrue(got.startswith(b"421 4.4.2"), got)
        self.assertLess(time.monotonic() - t0, 0.9)

    def test_close_sends_421(self):
        srv = libsmtp.Server(support.Collector, "127.0.0.1", 0, max_wait=D).start()
        self.addCleanup(srv.close)
        c = smtplib.SMTP("127.0.0.1", srv.port, timeout=D)
        self.addCleanup(c.close)
        c.ehlo()
        self.wait_for(lambda: srv._conns, "the connection")
        srv.close()
        code, text = c.getreply()
        self.assertEqual(code, 421)
        self.assertIn(b"4.3.2", text)

    def test_handler_exception_ends_only_that_connection(self):
        class Broken(support.Collector):
            def on_mail(self, s, mail):
                raise RuntimeError("handler bug")
        srv = self.start(Broken)
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            c.ehlo()
            with self.assertRaises(smtplib.SMTPServerDisconnected):
                c.mail("a@example.org")
        self.wait_for(lambda: srv.errors, "the error")
        self.assertIsInstance(srv.errors[0], RuntimeError)
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:     # still serving
            self.assertEqual(c.noop()[0], 250)

    def test_many_clients_at_once(self):
        # One handler per connection (the factory), one shared list.
        lock = threading.Lock()
        h = support.Collector()

        def factory():
            c = support.Collector()
            c.messages = h.messages
            return c
        srv = self.start(factory)
        errors = []

        def one(i):
            try:
                with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
                    c.sendmail("a%d@example.org" % i, ["b@example.net"], b"n %d\r\n" % i)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(e)
        ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(D)
        self.assertEqual(errors, [])
        self.wait_for(lambda: len(h.messages) == 20, "20 messages")
        self.assertEqual(sorted(m[2] for m in h.messages), sorted(b"n %d\r\n" % i for i in range(20)))


@unittest.skipUnless(support.test_certificate(), "openssl command not available")
class TestSmtplibTls(ServerCase):
    def test_starttls_then_auth(self):
        # RFC 3207: STARTTLS offered, the handshake after the 220, EHLO
        # again; AUTH offered only under TLS (RFC 4954 4 advice).
        h = support.Collector(users={"user": "pw"})
        srv = self.start(lambda: h, ssl_context=support.server_context())
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            c.ehlo()
            self.assertTrue(c.has_extn("starttls"))
            self.assertFalse(c.has_extn("auth"))
            code, _ = c.starttls(context=support.client_context())
            self.assertEqual(code, 220)
            c.ehlo()
            self.assertFalse(c.has_extn("starttls"))
            self.assertTrue(c.has_extn("auth"))
            c.login("user", "pw")
            c.sendmail("user@example.org", ["b@example.net"], b"Subject: tls\r\n\r\nsecret\r\n")
        self.wait_for(lambda: h.messages, "the message")
        facts = h.messages[0][3]
        self.assertEqual((facts["tls"], facts["auth"], facts["protocol"]),
                         (True, "user", "ESMTPSA"))
        self.assertEqual(h.messages[0][2], b"Subject: tls\r\n\r\nsecret\r\n")

    def test_require_tls(self):
        h = support.Collector()
        srv = self.start(lambda: h, ssl_context=support.server_context(), require_tls=True)
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            c.ehlo()
            code, text = c.mail("a@example.org")
            self.assertEqual((code, text[:5]), (530, b"5.7.0"))
            c.starttls(context=support.client_context())
            c.ehlo()
            self.assertEqual(c.mail("a@example.org")[0], 250)

    def test_implicit_tls(self):
        # RFC 8314: TLS from the first byte.
        h = support.Collector()
        srv = self.start(lambda: h, ssl_context=support.server_context(), implicit_tls=True)
        with smtplib.SMTP_SSL("127.0.0.1", srv.port, timeout=D,
                              context=support.client_context()) as c:
            c.ehlo()
            self.assertFalse(c.has_extn("starttls"))
            c.sendmail("a@example.org", ["b@example.net"], b"over TLS\r\n")
        self.wait_for(lambda: h.messages, "the message")
        self.assertTrue(h.messages[0][3]["tls"])

    def test_failed_handshake_ends_the_connection(self):
        srv = self.start(support.Collector, ssl_context=support.server_context())
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=D) as c:
            c.ehlo()
            bad = ssl.create_default_context()           # does not trust the test CA
            with self.assertRaises(ssl.SSLCertVerificationError):
                c.starttls(context=bad)
        self.wait_for(lambda: not srv._conns, "the connection to end")


if __name__ == "__main__":
    support.main()
