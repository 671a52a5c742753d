"""libsmtp.testing: the scripted test server for pytest and unittest
(rules of smtp/script.h, records of smtp/capture.h) against Python's
smtplib; the runnable example test. Loopback only, every step bounded."""

import os
import smtplib
import socket
import subprocess
import sys
import threading
import time
import unittest

import support
from libsmtp import testing
from libsmtp.testing import SMTPTestServer, ScriptError, SMTPServerTestCase

D = support.DEADLINE


def smtp(server):
    return smtplib.SMTP(server.host, server.port, local_hostname="client.example", timeout=D)


class ScriptParsing(unittest.TestCase):
    def test_bad_rules_name_their_line(self):
        for text, line in (("RCPT#0 close", 1), ("# ok\n\nMAIL delay 99999", 3),
                           ("NOOP close\nFOO_BAR close", 2), ("RCPT reply 550 caf\xe9", 1),
                           ("EHLO drop-keyword NOPE", 1), ("RCPT reply 550", 1)):
            with self.assertRaises(ScriptError) as cm:
                SMTPTestServer(text)
            self.assertEqual(cm.exception.line, line, text)

    def test_no_server_started_on_error(self):
        before = threading.active_count()
        with self.assertRaises(ScriptError):
            SMTPTestServer("MAIL frobnicate")
        self.assertEqual(threading.active_count(), before)


class Scripted(unittest.TestCase):
    def test_replies_by_stage_and_number(self):
        rules = ("MAIL#1 reply 451 4.3.0 Try later\n"
                 "RCPT#2 reply 550 5.1.1 No such user\n"
                 "DATA-END reply 250 2.0.0 Queued as TEST1\n"
                 "HELP reply 214 2.0.0 Scripted help\n"
                 "XFOO reply 250 2.0.0 Scripted verb\n")
        with SMTPTestServer(rules) as server, smtp(server) as c:
            c.ehlo()
            self.assertEqual(c.mail("a@example.org")[0], 451)
            self.assertEqual(c.mail("a@example.org")[0], 250)
            self.assertEqual(c.rcpt("b@example.org")[0], 250)
            self.assertEqual(c.rcpt("c@example.org"), (550, b"5.1.1 No such user"))
            self.assertEqual(c.data(b"hello\r\n"), (250, b"2.0.0 Queued as TEST1"))
            self.assertIn(b"Scripted help", c.help())
            self.assertEqual(c.docmd("XFOO"), (250, b"2.0.0 Scripted verb"))
            self.assertEqual(c.docmd("XBAR")[0], 500)  # no rule: the session's answer

    def test_delay_tarpit_close_drop(self):
        with SMTPTestServer("CONNECT tarpit 0.8\nMAIL delay 0.5\nEHLO drop-keyword PIPELINING\n"
                            "NOOP#2 close\n") as server:
            t0 = time.monotonic()
            c = smtp(server)
            self.assertGreaterEqual(time.monotonic() - t0, 0.6)
            c.ehlo()
            self.assertFalse(c.has_extn("pipelining"))
            self.assertTrue(c.has_extn("size"))
            t0 = time.monotonic()
            self.assertEqual(c.mail("a@example.org")[0], 250)
            self.assertGreaterEqual(time.monotonic() - t0, 0.45)
            self.assertEqual(c.noop()[0], 250)
            with self.assertRaises(smtplib.SMTPServerDisconnected):
                c.noop()
            c.close()
            self.assertEqual(server.errors, [])

    def test_bdat_chunks(self):
        """BDAT counts every chunk: the first takes a reply, later ones a delay or close."""
        with SMTPTestServer("BDAT#1 reply 452 4.3.1 Scripted\nBDAT#3 delay 0.5\nBDAT#4 close\n") as server:
            c = smtp(server)
            c.ehlo()
            self.assertTrue(c.has_extn("chunking"))
            c.mail("a@example.org")
            c.rcpt("b@example.org")
            c.send(b"BDAT 3\r\nabc")
            self.assertEqual(c.getreply()[0], 452)
            c.rset()
            c.mail("a@example.org")
            c.rcpt("b@example.org")
            c.send(b"BDAT 3\r\nabc")
            self.assertEqual(c.getreply()[0], 250)
            t0 = time.monotonic()
            c.send(b"BDAT 2\r\nde")
            self.assertEqual(c.getreply()[0], 250)
            self.assertGreaterEqual(time.monotonic() - t0, 0.45)
            c.send(b"BDAT 1 LAST\r\nf")
            with self.assertRaises(smtplib.SMTPServerDisconnected):
                c.getreply()
            c.close()

    def test_bdat_reply_on_later_chunks(self):
        """BDAT#N reply on a chunk after the first, given after its octets
        (RFC 3030 2): a 2yz keeps the transaction, a 4yz fails it and the
        chunk pipelined behind it gets 503; a reply on a LAST chunk is the
        end-of-data reply."""
        rules = ("BDAT#2 reply 250 2.0.0 Chunk two kept\n"
                 "BDAT#4 reply 452 4.3.1 Chunk four: no room\n"
                 "BDAT#7 reply 554 5.6.0 Last chunk refused\n")
        with SMTPTestServer(rules) as server:
            c = smtp(server)
            c.ehlo()
            c.mail("a@example.org")
            c.rcpt("b@example.org")
            c.send(b"BDAT 3\r\nabcBDAT 2\r\nde")
            self.assertEqual(c.getreply(), (250, b"2.0.0 3 octets received"))
            self.assertEqual(c.getreply(), (250, b"2.0.0 Chunk two kept"))
            c.send(b"BDAT 1 LAST\r\nf")
            self.assertEqual(c.getreply()[0], 250)
            c.mail("a@example.org")
            c.rcpt("b@example.org")
            # chunks 4, 5 (LAST) pipelined: 4 fails, 5 is read and discarded
            c.send(b"BDAT 2\r\nghBDAT 2 LAST\r\nij")
            self.assertEqual(c.getreply(), (452, b"4.3.1 Chunk four: no room"))
            self.assertEqual(c.getreply()[0], 503)
            c.mail("a@example.org")
            c.rcpt("b@example.org")
            c.send(b"BDAT 1\r\nk")
            self.assertEqual(c.getreply()[0], 250)
            c.send(b"BDAT 1 LAST\r\nl")
            self.assertEqual(c.getreply(), (554, b"5.6.0 Last chunk refused"))
            c.quit()
            txs = server.wait_for_transactions(3, D)
            # the failed transaction is recorded with the chunk's reply
            self.assertEqual([t.data["code"] for t in txs], [250, 452, 554])
            self.assertEqual(txs[0].message, b"abcdef")
            self.assertEqual(server.errors, [])

    def test_drop_keyword_on_one_ehlo(self):
        """EHLO#2 drop-keyword: the second EHLO lacks the keyword, the first
        and third have it; SIZE hidden refuses SIZE= (RFC 5321 4.1.1.11)."""
        with SMTPTestServer("EHLO#2 drop-keyword PIPELINING\nEHLO#2 drop-keyword SIZE\n") as server:
            with smtp(server) as c:
                c.ehlo()
                self.assertTrue(c.has_extn("pipelining") and c.has_extn("size"))
                c.ehlo()
                self.assertFalse(c.has_extn("pipelining") or c.has_extn("size"))
                self.assertTrue(c.has_extn("chunking"))
                self.assertEqual(c.docmd("MAIL FROM:<a@example.org> SIZE=10")[0], 555)
                c.ehlo()
                self.assertTrue(c.has_extn("pipelining") and c.has_extn("size"))
                self.assertEqual(c.docmd("MAIL FROM:<a@example.org> SIZE=10")[0], 250)
            self.assertEqual(server.errors, [])

    def test_auth_positive_rule_is_235(self):
        """A 2yz rule for AUTH accepts the credentials; it goes out as 235,
        AUTH's only positive reply (RFC 4954 6), with the rule's text."""
        with SMTPTestServer("AUTH#1 reply 250 2.7.0 Scripted welcome\n", users={"joe": "pw"}) as server:
            with smtp(server) as c:
                c.ehlo()
                self.assertEqual(c.login("joe", "wrong"), (235, b"2.7.0 Scripted welcome"))
            self.assertEqual(server.errors, [])

    def test_greeting_refused(self):
        with SMTPTestServer("CONNECT reply 554 5.7.1 Go away") as server:
            with self.assertRaises(smtplib.SMTPConnectError):
                smtp(server)


class Capture(unittest.TestCase):
    def test_transactions_as_objects(self):
        with SMTPTestServer(max_message_size=10000) as server:
            with smtp(server) as c:
                c.sendmail("a@example.org", ["b@example.org"], b"Subject: 1\r\n\r\n.dot\r\n",
                           mail_options=["BODY=8BITMIME"], rcpt_options=[])
                c.sendmail("", ["Postmaster"], b"two\r\n")
            txs = server.wait_for_transactions(2, D)
        t1, t2 = txs
        self.assertEqual(t1.client["addr"], "127.0.0.1")
        self.assertIsInstance(t1.client["port"], int)
        self.assertIsNone(t1.peer)
        self.assertIsNone(t1.tls)
        self.assertEqual(t1.helo, "client.example")
        self.assertEqual(t1.mail_from, "a@example.org")
        self.assertEqual(t1.mail_params["BODY"], "8BITMIME")
        self.assertEqual(t1.accepted, ["b@example.org"])
        self.assertEqual(t1.message, b"Subject: 1\r\n\r\n.dot\r\n")
        self.assertEqual(t1.data["size"], len(t1.message))
        self.assertEqual((t1.data["code"], t1.data["bdat"], t1.data["file"]), (250, False, None))
        self.assertEqual((t2.mail_from, t2.accepted, t2.message), ("", ["Postmaster"], b"two\r\n"))
        self.assertEqual(set(t1.record), {"time", "client", "peer", "helo", "tls", "auth", "mail",
                                          "rcpts", "data"})

    def test_client_certificate(self):
        """client_cert over STARTTLS: RFC 4514 subject and issuer, SHA-256 of the DER."""
        import hashlib
        import shutil
        import ssl
        import tempfile
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        tmp = tempfile.mkdtemp(prefix="libsmtp-pycert-")
        try:
            def ossl(*args):
                subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)
            srv_c, srv_k = os.path.join(tmp, "s.pem"), os.path.join(tmp, "s.key")
            cli_c, cli_k = os.path.join(tmp, "c.pem"), os.path.join(tmp, "c.key")
            ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mx.test",
                 "-keyout", srv_k, "-out", srv_c)
            ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/O=Example Org/CN=client.example", "-keyout", cli_k, "-out", cli_c)
            sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sctx.load_cert_chain(srv_c, srv_k)
            sctx.verify_mode = ssl.CERT_OPTIONAL
            sctx.load_verify_locations(cli_c)  # the self-signed client certificate is its own CA
            cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            cctx.check_hostname = False
            cctx.verify_mode = ssl.CERT_NONE
            cctx.load_cert_chain(cli_c, cli_k)
            with SMTPTestServer(ssl_context=sctx) as server:
                with smtp(server) as c:
                    c.starttls(context=cctx)
                    c.sendmail("a@example.org", ["b@example.org"], b"x\r\n")
                (tx,) = server.wait_for_transactions(1, D)
            der = ssl.PEM_cert_to_DER_cert(open(cli_c).read())
            self.assertEqual(tx.tls["client_cert"],
                             {"subject": "CN=client.example,O=Example Org", "issuer": "CN=client.example,O=Example Org",
                              "sha256": hashlib.sha256(der).hexdigest(), "verified": True})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_wait_times_out(self):
        with SMTPTestServer() as server:
            with self.assertRaises(TimeoutError):
                server.wait_for_transactions(1, timeout=0.2)

    def test_auth_identity(self):
        with SMTPTestServer(users={"joe": "secret"}) as server, smtp(server) as c:
            c.login("joe", "secret")
            c.sendmail("joe@example.org", ["b@example.org"], b"x\r\n")
            (tx,) = server.wait_for_transactions(1, D)
        self.assertEqual(tx.auth, "joe")

    def test_stop_ends_threads(self):
        server = SMTPTestServer().start()
        c = smtp(server)
        c.ehlo()
        server.stop()
        end = time.monotonic() + D
        while time.monotonic() < end and any(t.name.startswith("libsmtp-") for t in threading.enumerate()):
            time.sleep(0.02)
        self.assertFalse([t.name for t in threading.enumerate() if t.name.startswith("libsmtp-")])
        with self.assertRaises((smtplib.SMTPServerDisconnected, OSError)):
            c.noop()
            c.noop()


class ViaTestCase(SMTPServerTestCase):
    smtp_script = "RCPT reply 450 4.2.0 Busy"

    def test_server_is_up_with_the_script(self):
        with smtp(self.smtp_server) as c:
            with self.assertRaises(smtplib.SMTPRecipientsRefused):
                c.sendmail("a@example.org", ["b@example.org"], b"x\r\n")


class Fixture(unittest.TestCase):
    def test_generator_without_pytest(self):
        class Marker:
            args = ("RCPT reply 550 5.1.1 nope",)
            kwargs = {"hostname": "fixture.test"}

        class Node:
            def get_closest_marker(self, name):
                return Marker() if name == "smtp_script" else None

        class Request:
            node = Node()

        gen = testing._fixture(Request())
        server = next(gen)
        with smtp(server) as c:
            code, msg = c.ehlo()
            self.assertIn(b"fixture.test", msg)
            c.mail("a@example.org")
            self.assertEqual(c.rcpt("b@example.org")[0], 550)
        with self.assertRaises(StopIteration):
            next(gen)

    def test_runnable_example(self):
        ex = os.path.join(os.path.dirname(support.HERE), "examples", "test_harness_example.py")
        env = dict(os.environ, PYTHONPATH=os.path.dirname(support.HERE))
        r = subprocess.run([sys.executable, ex], capture_output=True, timeout=120, env=env)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])


if __name__ == "__main__":
    unittest.main()
