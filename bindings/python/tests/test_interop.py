"""Mail between the binding and the C example programs (loopback only,
every step bounded):

- the binding's client -> examples/smtp-server (--stdio over a socketpair,
  and --listen on 127.0.0.1 with STARTTLS / implicit TLS / AUTH / LMTP),
  checking per-recipient results and the delivered Maildir files;
- examples/smtp-send -> the binding's server, checking smtp-send's output
  lines and exit status (CLI.md) and the bytes the handler got.
"""

import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import support
import libsmtp
from libsmtp import errors, Transaction
from libsmtp.net import ClientConnection, send_mail

D = support.DEADLINE
SERVER = support.example("smtp-server")
SEND = support.example("smtp-send")
BODY = b"Subject: interop\r\n\r\nHello from Python.\r\n.a line with a leading dot\r\n"


def maildir_messages(d):
    new = os.path.join(d, "new")
    out = []
    for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
        with open(os.path.join(new, name), "rb") as f:
            out.append(f.read())
    return out


def split_message(raw):
    """(headers added by smtp-server as a dict of lists, the message bytes)."""
    added = {}
    rest = raw
    while True:
        m = re.match(rb"(Return-Path|Delivered-To|Received): ((?:[^\r\n]*\r\n)(?:[ \t][^\r\n]*\r\n)*)",
                     rest)
        if not m:
            return added, rest
        added.setdefault(m.group(1).decode(), []).append(m.group(2).decode().strip())
        rest = rest[m.end():]


class CServer:
    """examples/smtp-server --listen 127.0.0.1:0; the port comes from its
    'listening on' line."""

    def __init__(self, args):
        self.proc = subprocess.Popen([SERVER, "--listen", "127.0.0.1:0"] + args,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        buf = b""
        end = time.monotonic() + D
        while b"listening on" not in buf:
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("smtp-server did not start: %r" % buf)
            r, _, _ = select.select([self.proc.stderr], [], [], left)
            if r:
                chunk = os.read(self.proc.stderr.fileno(), 4096)
                if not chunk:
                    continue
                buf += chunk
        self.port = int(re.search(rb"listening on 127\.0\.0\.1:(\d+)", buf).group(1))

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(D)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


@unittest.skipUnless(SERVER, "examples/smtp-server not built")
class TestClientToCServer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="libsmtp-py-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.md = os.path.join(self.tmp, "Maildir")

    def stdio_server(self, *args):
        """smtp-server --stdio on one end of a socketpair; returns our end."""
        ours, theirs = socket.socketpair()
        proc = subprocess.Popen([SERVER, "--stdio", "--hostname", "mx.test", "--maildir", self.md]
                                + list(args), stdin=theirs, stdout=theirs,
                                stderr=subprocess.DEVNULL)
        theirs.close()

        def stop():
            try:
                proc.wait(D)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.addCleanup(stop)
        return ours, proc

    def test_stdio_per_recipient_results(self):
        sock, proc = self.stdio_server("--reject", "no@example.net", "--tempfail",
                                       "later@example.net")
        c = libsmtp.ClientSession(ehlo_name="client.example")
        t = c.send(Transaction("alice@example.org", ["x@example.net", "no@example.net",
                                                     "later@example.net", "y@example.net"], BODY))
        c.quit()
        ClientConnection(sock, c, max_wait=D).run()
        self.assertEqual(c.error, 0)
        self.assertEqual(proc.wait(D), 0)
        self.assertTrue(t.ok)
        self.assertEqual([(r.rcpt_code, r.data_code) for r in t.recipients],
                         [(250, 250), (550, 0), (450, 0), (250, 250)])
        self.assertEqual(t.recipients[1].rcpt_reply.enhanced, "5.1.1")
        self.assertEqual(t.recipients[2].rcpt_reply.enhanced, "4.2.0")
        msgs = maildir_messages(self.md)
        self.assertEqual(len(msgs), 1)
        added, body = split_message(msgs[0])
        self.assertEqual(added["Return-Path"], ["<alice@example.org>"])
        self.assertEqual(added["Delivered-To"], ["x@example.net", "y@example.net"])
        self.assertIn("by mx.test", added["Received"][0])
        self.assertEqual(body, BODY)

    def test_stdio_several_transactions_trace(self):
        sock, proc = self.stdio_server()
        lines = []
        c = libsmtp.ClientSession(ehlo_name="client.example",
                                  trace=lambda d, ln: lines.append(d + ": " + ln))
        ts = [c.send(Transaction("a@example.org", ["r%d@example.net" % i], b"n %d\r\n" % i))
              for i in range(3)]
        c.quit()
        ClientConnection(sock, c, max_wait=D).run()
        self.assertTrue(all(t.ok for t in ts))
        self.assertEqual(sorted(split_message(m)[1] for m in maildir_messages(self.md)),
                         [b"n 0\r\n", b"n 1\r\n", b"n 2\r\n"])
        self.assertIn("C: QUIT", lines)
        self.assertTrue(any(ln.startswith("S: 221") for ln in lines))

    def test_stdio_lmtp(self):
        sock, proc = self.stdio_server("--lmtp", "--reject", "no@example.net")
        c = libsmtp.ClientSession(ehlo_name="client.example", lmtp=True)
        t = c.send(Transaction("a@example.org", ["x@example.net", "no@example.net",
                                                 "y@example.net"], BODY))
        c.quit()
        ClientConnection(sock, c, max_wait=D).run()
        self.assertEqual([(r.rcpt_code, r.data_code) for r in t.recipients],
                         [(250, 250), (550, 0), (250, 250)])
        self.assertEqual([e.index for e in t.events if e.type == libsmtp.EventType.DATA], [0, 2])
        self.assertGreaterEqual(len(maildir_messages(self.md)), 1)

    def test_stdio_eof_mid_session(self):
        # The server process dies: connection lost, the transaction fails
        # temporarily (client.h), no exception.
        sock, proc = self.stdio_server()
        c = libsmtp.ClientSession(ehlo_name="client.example")
        t = c.send(Transaction("a@example.org", ["x@example.net"], BODY))
        c.quit()
        proc.kill()
        ClientConnection(sock, c, max_wait=D).run()
        self.assertTrue(c.is_closed)
        self.assertFalse(t.ok)
        self.assertIn(c.error, (errors.ERR_CONNECTION_LOST, errors.ERR_SERVICE_UNAVAILABLE))

    def listen(self, *args):
        srv = CServer(["--hostname", "localhost", "--maildir", self.md] + list(args))
        self.addCleanup(srv.close)
        return srv

    def tls_server(self, *args):
        cert = os.path.join(self.tmp, "server-cert.pem")
        srv = self.listen("--tls-self-signed", "--tls-cert-out", cert, *args)
        return srv, ssl.create_default_context(cafile=cert)

    def test_tcp_starttls_required_with_auth(self):
        users = os.path.join(self.tmp, "users")
        with open(users, "w") as f:
            f.write("user:pa55word\n")
        srv, ctx = self.tls_server("--auth-file", users, "--require-auth")
        t = send_mail("127.0.0.1", srv.port, "user@example.org", ["b@example.net"], BODY,
                      starttls="required", ssl_context=ctx, server_hostname="localhost",
                      credentials=("user", "pa55word"), timeout=D, max_wait=D)
        self.assertTrue(t.ok, t.events)
        self.assertTrue(t.tls)
        self.assertEqual(t.session_error, 0)
        self.assertNotIn("STARTTLS", t.capabilities)     # the list after TLS (RFC 3207 4.2)
        added, body = split_message(maildir_messages(self.md)[0])
        self.assertIn("ESMTPSA", added["Received"][0])
        self.assertEqual(body, BODY)
        # A wrong password: AUTH fails, MAIL is refused (530), nothing delivered.
        t = send_mail("127.0.0.1", srv.port, "user@example.org", ["b@example.net"], BODY,
                      starttls="required", ssl_context=ctx, server_hostname="localhost",
                      credentials=("user", "wrong"), timeout=D, max_wait=D)
        self.assertFalse(t.ok)
        self.assertEqual(len(maildir_messages(self.md)), 1)

    def test_tcp_starttls_certificate_not_trusted(self):
        # "required" with a context that does not trust the server: the
        # session ends with ERR_TLS_VERIFY, no plaintext fallback.
        srv, _ = self.tls_server()
        t = send_mail("127.0.0.1", srv.port, "a@example.org", ["b@example.net"], BODY,
                      starttls="required", ssl_context=ssl.create_default_context(),
                      server_hostname="localhost", timeout=D, max_wait=D)
        self.assertFalse(t.ok)
        self.assertEqual(t.session_error, errors.ERR_TLS_VERIFY)
        self.assertIsInstance(t.tls_error, ssl.SSLCertVerificationError)
        self.assertEqual(maildir_messages(self.md), [])

    def test_tcp_opportunistic_and_off(self):
        srv, _ = self.tls_server()
        t = send_mail("127.0.0.1", srv.port, "a@example.org", ["b@example.net"], BODY,
                      timeout=D, max_wait=D)      # opportunistic: encrypted, not verified
        self.assertTrue(t.ok and t.tls)
        t = send_mail("127.0.0.1", srv.port, "a@example.org", ["b@example.net"], BODY,
                      starttls="off", timeout=D, max_wait=D)
        self.assertTrue(t.ok)
        self.assertFalse(t.tls)
        self.assertEqual(len(maildir_messages(self.md)), 2)

    def test_tcp_implicit_tls(self):
        srv, ctx = self.tls_server("--implicit-tls")
        t = send_mail("127.0.0.1", srv.port, "a@example.org", ["b@example.net"], BODY,
                      implicit_tls=True, ssl_context=ctx, server_hostname="localhost",
                      timeout=D, max_wait=D)
        self.assertTrue(t.ok and t.tls)
        self.assertEqual(split_message(maildir_messages(self.md)[0])[1], BODY)


@unittest.skipUnless(SEND, "examples/smtp-send not built")
class TestCSendToServer(unittest.TestCase):
    def start(self, handler_factory, **kw):
        kw.setdefault("hostname", "localhost")
        srv = libsmtp.Server(handler_factory, "127.0.0.1", 0, max_wait=D, **kw).start()
        self.addCleanup(srv.close)
        return srv

    def send(self, port, args, body=BODY):
        r = subprocess.run([SEND, "--server", "127.0.0.1:%d" % port, "--helo", "client.example"]
                           + args, input=body, capture_output=True, timeout=D)
        return r.returncode, r.stdout.decode().splitlines(), r.stderr.decode()

    def test_plain_with_refusals(self):
        h = support.Collector(reject=["no@example.net"], tempfail=["later@example.net"])
        srv = self.start(lambda: h)
        rc, out, err = self.send(srv.port, ["--from", "alice@example.org",
                                            "--to", "x@example.net", "--to", "no@example.net",
                                            "--to", "later@example.net"],
                                 b"Subject: lf only\n\nbare LF\n.dot\n")
        self.assertEqual(rc, 1, err)                        # some recipients accepted
        self.assertEqual(out[:3], ["RCPT x@example.net 250 2.1.5 Recipient OK",
                                   "RCPT no@example.net 550 5.1.1 No such user",
                                   "RCPT later@example.net 450 4.2.0 Try again later"])
        self.assertTrue(out[3].startswith("DATA 250 2.0.0"), out)
        self.assertEqual(h.messages[0][:3], ("alice@example.org", ["x@example.net"],
                                             b"Subject: lf only\r\n\r\nbare LF\r\n.dot\r\n"))
        self.assertEqual(h.messages[0][3]["helo"], "client.example")

    def test_null_sender_and_data_refusal(self):
        class H(support.Collector):
            def on_data_end(self, s, end):
                super().on_data_end(s, end)
                return (554, "Content rejected", "5.6.0")
        h = H()
        srv = self.start(lambda: h)
        rc, out, err = self.send(srv.port, ["--from", "", "--to", "x@example.net"])
        self.assertEqual(rc, 2, err)
        self.assertEqual(out[-1], "DATA 554 5.6.0 Content rejected")
        self.assertEqual(h.messages[0][0], "")

    def test_starttls_auth(self):
        if not support.test_certificate():
            self.skipTest("openssl command not available")
        h = support.Collector(users={"user": "pw"})
        srv = self.start(lambda: h, ssl_context=support.server_context(), require_auth=True)
        rc, out, err = self.send(srv.port, ["--from", "user@example.org", "--to", "b@example.net",
                                            "--starttls", "required",
                                            "--ca-file", support.test_certificate()[0],
                                            "--tls-servername", "localhost",
                                            "--auth", "user:pw", "--auth-mech", "PLAIN"])
        self.assertEqual(rc, 0, err)
        facts = h.messages[0][3]
        self.assertEqual((facts["tls"], facts["auth"], facts["protocol"]),
                         (True, "user", "ESMTPSA"))
        self.assertEqual(h.messages[0][2], BODY)

    def test_implicit_tls(self):
        if not support.test_certificate():
            self.skipTest("openssl command not available")
        h = support.Collector()
        srv = self.start(lambda: h, ssl_context=support.server_context(), implicit_tls=True)
        rc, out, err = self.send(srv.port, ["--from", "a@example.org", "--to", "b@example.net",
                                            "--implicit-tls",
                                            "--ca-file", support.test_certificate()[0],
                                            "--tls-servername", "localhost"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(h.messages[0][3]["tls"])

    def test_required_tls_missing(self):
        h = support.Collector()
        srv = self.start(lambda: h)
        rc, out, err = self.send(srv.port, ["--from", "a@example.org", "--to", "b@example.net",
                                            "--starttls", "required"])
        self.assertEqual(rc, 2)
        self.assertEqual(h.messages, [])

    def test_lmtp_per_recipient(self):
        class H(support.Collector):
            def on_data_end(self, s, end):
                super().on_data_end(s, end)
                if end.rcpt_index == 1:
                    return (452, "Over quota", "4.2.2")
        h = H()
        srv = self.start(lambda: h, lmtp=True)
        rc, out, err = self.send(srv.port, ["--lmtp", "--from", "a@example.org",
                                            "--to", "x@example.net", "--to", "y@example.net"])
        self.assertEqual(rc, 1, err)
        self.assertIn("DATA x@example.net 250 2.0.0 Message accepted", out)
        self.assertIn("DATA y@example.net 452 4.2.2 Over quota", out)

    def test_deferred_answers_with_pipelining(self):
        # smtp-send pipelines MAIL/RCPT (RFC 2920); the binding defers every
        # RCPT and answers each from a timer thread: replies stay in order.
        import threading

        class H(support.Collector):
            def on_rcpt(self, s, rcpt):
                ans = super().on_rcpt(s, rcpt) or libsmtp.Reply(250, "OK " + rcpt.address)
                threading.Timer(0.01, s.reply_threadsafe, args=(ans,)).start()
                return libsmtp.DEFERRED
        h = H(reject=["b@example.net"])
        srv = self.start(lambda: h)
        rc, out, err = self.send(srv.port, ["--from", "a@example.org", "--to", "a1@example.net",
                                            "--to", "b@example.net", "--to", "c@example.net"])
        self.assertEqual(rc, 1, err)
        self.assertEqual(out[:3], ["RCPT a1@example.net 250 2.1.5 OK a1@example.net",
                                   "RCPT b@example.net 550 5.1.1 No such user",
                                   "RCPT c@example.net 250 2.1.5 OK c@example.net"])
        self.assertEqual(h.messages[0][1], ["a1@example.net", "c@example.net"])


if __name__ == "__main__":
    support.main()
