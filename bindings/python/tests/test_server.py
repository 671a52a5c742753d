"""ServerSession in memory: every callback and answer form of server.h
("Answering"), deferred replies, pauses, AUTH, STARTTLS hand-over, LMTP,
exceptions in callbacks, and input split at random points."""

import base64
import gc
import hashlib
import hmac
import unittest

import support
import libsmtp
from libsmtp import errors, server as srv
from libsmtp import Reply, DEFERRED, PAUSE


def lines(out):
    return out.decode().split("\r\n")[:-1]


def codes(out):
    return [int(ln[:3]) for ln in lines(out) if ln[3:4] == " "]


class Recorder:
    """Records every event; answers from self.answers[event] when present."""

    def __init__(self, **answers):
        self.answers = answers
        self.log = []
        self.data = b""

    def _ans(self, name, *args):
        self.log.append((name,) + args)
        a = self.answers.get(name)
        return a(*args) if callable(a) else a

    def on_connect(self, s):
        return self._ans("connect")

    def on_ehlo(self, s, helo):
        return self._ans("ehlo", helo)

    def on_mail(self, s, mail):
        return self._ans("mail", mail)

    def on_rcpt(self, s, rcpt):
        return self._ans("rcpt", rcpt)

    def on_data_start(self, s):
        return self._ans("data_start")

    def on_data_chunk(self, s, data):
        self.data += data
        a = self.answers.get("data_chunk")
        return a(data) if callable(a) else a

    def on_data_end(self, s, end):
        return self._ans("data_end", end)

    def on_rset(self, s):
        return self._ans("rset")

    def on_noop(self, s):
        return self._ans("noop")

    def on_quit(self, s):
        return self._ans("quit")

    def on_vrfy(self, s, arg):
        return self._ans("vrfy", arg)

    def on_help(self, s, arg):
        return self._ans("help", arg)

    def on_unknown_command(self, s, cmd):
        return self._ans("unknown_command", cmd)

    def names(self):
        return [e[0] for e in self.log]


TXN = (b"EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n"
       b"RCPT TO:<bob@example.net>\r\nDATA\r\n")
BODY = b"Subject: test\r\n\r\nline one\r\n..leading dot\r\n.\r\n"


class TestServerSession(unittest.TestCase):
    def session(self, handler=None, **opts):
        opts.setdefault("hostname", "mx.example")
        s = libsmtp.ServerSession(handler, **opts)
        self.addCleanup(s.close)
        return s

    def test_defaults_without_handler(self):
        s = self.session()
        self.assertEqual(s.take_output(), b"220 mx.example ESMTP Service ready\r\n")
        s.receive(TXN + BODY + b"QUIT\r\n")
        self.assertEqual(codes(s.take_output()), [250, 250, 250, 354, 250, 221])
        self.assertTrue(s.want_close)

    def test_event_values(self):
        h = Recorder()
        s = self.session(h, extensions=srv.DEFAULT_EXTENSIONS + ("DSN",))
        s.take_output()
        s.receive(b"EHLO [192.0.2.1]\r\n"
                  b"MAIL FROM:<al\xc3\xafce@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 "
                  b"RET=HDRS ENVID=QQ+2Bxyz\r\n"
                  b"RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+40c.d\r\n"
                  b"RCPT TO:<Postmaster>\r\n")
        out = s.take_output()
        self.assertEqual(codes(out), [250, 250, 250, 250], out)
        helo, mail, r0, r1 = [e[1] for e in h.log if e[0] != "connect"]
        self.assertEqual((helo.verb, helo.name, helo.name_kind), ("EHLO", "[192.0.2.1]", 1))
        self.assertEqual(mail.address, "al\u00efce@example.org")
        self.assertTrue(mail.path.utf8)
        self.assertEqual((mail.size, mail.body, mail.smtputf8, mail.ret, mail.envid),
                         (1234, "8BITMIME", True, "HDRS", "QQ+xyz"))
        self.assertEqual(r0.address, "bob@example.net")
        self.assertEqual(r0.notify, ("SUCCESS", "FAILURE"))
        self.assertEqual(r0.orcpt, ("rfc822", "b@c.d"))
        self.assertEqual(r0.index, 0)
        self.assertTrue(r1.path.is_postmaster)
        self.assertEqual(r1.index, 1)
        self.assertEqual(s.reverse_path, "al\u00efce@example.org")
        self.assertEqual(s.rcpt_count, 2)
        self.assertEqual(s.helo_name, "[192.0.2.1]")
        self.assertEqual(s.transaction_count, 1)
        self.assertTrue(s.flags & srv.FLAG_SMTPUTF8)
        self.assertEqual(s.received_protocol, "UTF8SMTP")

    def test_answer_forms(self):
        # RFC 5321 4.2: a refused command has no effect; a callback answers
        # with None/True (default), False (default refusal), a Reply, an int
        # or a tuple.
        table = [
            ("rcpt", None, "250 2.1.5"),
            ("rcpt", True, "250 2.1.5"),
            ("rcpt", False, "550 5.1.1"),
            ("rcpt", Reply(551, "User not local; please try <b@x.example>", "5.1.6"),
             "551 5.1.6 User not local; please try <b@x.example>"),
            ("rcpt", 452, "452 "),
            ("rcpt", (550, "No such user here"), "550 5.1.1 No such user here"),
            ("rcpt", (251, "User not local; will forward", "2.1.5"),
             "251 2.1.5 User not local; will forward"),
            ("mail", False, "550 5.7.1"),
            ("mail", (451, "Greylisted", "4.7.1"), "451 4.7.1 Greylisted"),
        ]
        for event, answer, expect in table:
            with self.subTest(event=event, answer=answer):
                s = self.session(Recorder(**{event: answer}))
                s.take_output()
                s.receive(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n")
                if event == "rcpt":
                    s.receive(b"RCPT TO:<r@b.example>\r\n")
                last = lines(s.take_output())[-1]
                self.assertTrue(last.startswith(expect), last)
                refused = not expect.startswith("2")
                if event == "rcpt":
                    self.assertEqual(s.rcpt_count, 0 if refused else 1)
                else:
                    self.assertEqual(s.reverse_path is None, refused)

    def test_multiline_reply_and_default_text(self):
        # Text lines separated by LF become reply lines (RFC 5321 4.2.1);
        # text None keeps the session's default text for the event.
        s = self.session(Recorder(noop=Reply(250, ["first line", "second line"]),
                                  help=Reply(214)))
        s.take_output()
        s.receive(b"EHLO c.example\r\n")
        s.take_output()
        s.receive(b"NOOP\r\nHELP\r\n")
        out = lines(s.take_output())
        self.assertEqual(out[:2], ["250-2.0.0 first line", "250 2.0.0 second line"])
        plain = self.session(None)
        plain.take_output()
        plain.receive(b"EHLO c.example\r\nHELP\r\n")
        self.assertEqual(out[2:], lines(plain.take_output())[-1:])

    def test_greeting_refusal(self):
        s = self.session(Recorder(connect=(554, "No service for you")))
        self.assertEqual(s.take_output(), b"554 No service for you\r\n")
        s.receive(b"EHLO c.example\r\nQUIT\r\n")
        self.assertEqual(codes(s.take_output()), [503, 221])

    def test_deferred_rcpt_holds_the_pipeline(self):
        # RFC 2920 3.1: replies in command order; the session waits for the
        # deferred answer and does not look at the next command.
        h = Recorder(rcpt=DEFERRED)
        s = self.session(h)
        s.take_output()
        s.receive(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@b.example>\r\n"
                  b"NOOP\r\n")
        self.assertEqual(codes(s.take_output()), [250, 250])
        self.assertEqual(s.buffered, len(b"NOOP\r\n"))
        self.assertFalse(s.want_read)
        s.reply(250, "Deferred OK")
        s.receive()
        self.assertEqual(lines(s.take_output()), ["250 2.1.5 Deferred OK", "250 2.0.0 OK"])
        self.assertEqual(s.rcpt_count, 1)
        with self.assertRaises(errors.Error) as cm:
            s.reply(250)                   # nothing waits for an answer now
        self.assertEqual(cm.exception.code, errors.ERR_INVALID_STATE)

    def test_deferred_data_end(self):
        h = Recorder(data_end=DEFERRED)
        s = self.session(h)
        s.take_output()
        s.receive(TXN + BODY + b"QUIT\r\n")
        self.assertEqual(codes(s.take_output()), [250, 250, 250, 354])
        self.assertEqual(h.data, b"Subject: test\r\n\r\nline one\r\n.leading dot\r\n")
        self.assertIsNone(s.driver)
        with self.assertRaises(RuntimeError):
            s.reply_threadsafe(250)        # no driver: reply() directly
        s.reply(250, "Queued as 42")
        s.receive()
        self.assertEqual(lines(s.take_output()), ["250 2.0.0 Queued as 42",
                                                  "221 2.0.0 mx.example Bye"])

    def test_data_split_everywhere(self):
        # Incremental input: whole, byte by byte and at random split points
        # give the same events, message bytes and replies.
        wire = TXN + BODY + b"RSET\r\nQUIT\r\n"
        ref = None
        feeds = [[wire], [wire[i:i + 1] for i in range(len(wire))]]
        feeds += [support.splits(wire, seed) for seed in range(25)]
        for pieces in feeds:
            h = Recorder()
            s = self.session(h)
            out = s.take_output()
            for p in pieces:
                s.receive(p)
                out += s.take_output()
            got = (out, h.data, h.names())
            if ref is None:
                ref = got
            self.assertEqual(got, ref)
        self.assertEqual(ref[1], b"Subject: test\r\n\r\nline one\r\n.leading dot\r\n")

    def test_pause_from_data_chunk(self):
        h = Recorder(data_chunk=lambda d: PAUSE)
        s = self.session(h, input_buffer=1024)
        s.take_output()
        s.receive(TXN)
        s.take_output()
        body = b"x" * 3000 + b"\r\n.\r\nNOOP\r\n"
        taken = s.receive(body)
        self.assertLess(taken, len(body))           # returned early
        self.assertGreater(s.buffered, 0)
        out = b""
        rounds = 1
        while s.buffered and rounds < 50:
            out += s.take_output()
            s.receive()
            rounds += 1
        out += s.take_output()
        self.assertEqual(s.buffered, 0)
        self.assertGreaterEqual(rounds, 3)      # 3000 octets in chunks of at most 1024
        self.assertEqual(h.data, b"x" * 3000 + b"\r\n")
        self.assertEqual(codes(out), [250, 250])

    def test_refusing_data_chunk(self):
        s = self.session(Recorder(data_chunk=lambda d: False))
        s.take_output()
        s.receive(TXN + BODY)
        self.assertEqual(lines(s.take_output())[-1][:9], "451 4.3.0")

    def test_exception_in_callback(self):
        class Boom(Exception):
            pass

        def fail(rcpt):
            raise Boom("bad handler")
        s = self.session(Recorder(rcpt=fail))
        s.take_output()
        with self.assertRaises(Boom):
            s.receive(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<r@b.example>\r\n")
        with self.assertRaises(errors.Error) as cm:      # the session is unusable now
            s.receive(b"NOOP\r\n")
        self.assertEqual(cm.exception.code, errors.ERR_CALLBACK_FAILURE)

    def test_close_inside_a_callback_is_refused(self):
        class H:
            def on_noop(self, s):
                s.close()
        s = self.session(H())
        s.take_output()
        with self.assertRaises(RuntimeError):
            s.receive(b"NOOP\r\n")
        s.close()                                  # fine outside

    def test_bad_answers_fail_the_session(self):
        for answer in [(999, "bad code"), (250, "bad\rtext"), "a string", PAUSE]:
            with self.subTest(answer=answer):
                s = self.session(Recorder(mail=answer))
                s.take_output()
                with self.assertRaises((errors.Error, TypeError, ValueError)):
                    s.receive(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n")

    def test_auth_plain_and_login(self):
        # RFC 4954 4 / RFC 4616: credentials reach on_auth decoded; True
        # accepts (235 2.7.0), False refuses (535 5.7.8).
        users = {"user": "secret"}
        h = support.Collector(users=users)
        s = self.session(h, allow_plaintext_auth=True)
        s.take_output()
        s.receive(b"EHLO c.example\r\n")
        self.assertIn("250-AUTH PLAIN LOGIN", lines(s.take_output()))
        bad = base64.b64encode(b"\0user\0wrong")
        good = base64.b64encode(b"\0user\0secret")
        s.receive(b"AUTH PLAIN " + bad + b"\r\n")
        self.assertEqual(lines(s.take_output())[0][:9], "535 5.7.8")
        self.assertFalse(s.authenticated)
        s.receive(b"AUTH PLAIN " + good + b"\r\n")
        self.assertEqual(lines(s.take_output())[0][:9], "235 2.7.0")
        self.assertEqual(s.auth_user, "user")
        self.assertEqual(s.received_protocol, "ESMTPA")
        s2 = self.session(support.Collector(users=users), allow_plaintext_auth=True)
        s2.take_output()
        s2.receive(b"EHLO c.example\r\nAUTH LOGIN\r\n")
        self.assertEqual(lines(s2.take_output())[-1], "334 VXNlcm5hbWU6")
        s2.receive(base64.b64encode(b"user") + b"\r\n")
        self.assertEqual(lines(s2.take_output())[-1], "334 UGFzc3dvcmQ6")
        s2.receive(base64.b64encode(b"secret") + b"\r\n")
        self.assertEqual(lines(s2.take_output())[-1][:3], "235")
        self.assertEqual(h.events[-1], ("auth", "PLAIN", "user"))
        self.assertIn("password=<redacted>",
                      repr(srv.Auth("PLAIN", "", "user", "secret")))

    def test_auth_not_offered_in_clear_text(self):
        # RFC 4954 4 advice: no AUTH before TLS unless explicitly allowed.
        s = self.session(support.Collector(users={"u": "p"}))
        s.take_output()
        s.receive(b"EHLO c.example\r\nAUTH PLAIN " + base64.b64encode(b"\0u\0p") + b"\r\n")
        out = lines(s.take_output())
        self.assertFalse(any("AUTH" in ln for ln in out))
        self.assertEqual(out[-1][:3], "538")

    def test_auth_deferred(self):
        class H:
            def on_auth(self, s, auth):
                self.auth = auth
                return DEFERRED
        h = H()
        s = self.session(h, allow_plaintext_auth=True)
        s.take_output()
        s.receive(b"EHLO c.example\r\nAUTH PLAIN " + base64.b64encode(b"\0u\0p") + b"\r\n")
        self.assertEqual(codes(s.take_output()), [250])
        self.assertEqual((h.auth.username, h.auth.password), ("u", "p"))
        s.reply(235)
        self.assertEqual(codes(s.take_output()), [235])
        self.assertEqual(s.auth_user, "u")

    def test_auth_step_cram_md5(self):
        # RFC 2195: challenge, then "user hex(HMAC-MD5(password, challenge))".
        challenge = b"<1896.697170952@mx.example>"

        class H:
            def on_auth_step(self, s, st):
                if st.step == 0:
                    s.auth_challenge(challenge)
                    return None
                user, digest = st.response.decode().split(" ")
                want = hmac.new(b"tanstaaftanstaaf", challenge, hashlib.md5).hexdigest()
                if user == "tim" and digest == want:
                    s.auth_accept(user)
                    return None
                return False
        s = self.session(H(), allow_plaintext_auth=True, auth_mechs=["CRAM-MD5"])
        s.take_output()
        s.receive(b"EHLO c.example\r\nAUTH CRAM-MD5\r\n")
        out = lines(s.take_output())
        self.assertIn("250-AUTH CRAM-MD5", out)
        self.assertEqual(out[-1], "334 " + base64.b64encode(challenge).decode())
        resp = b"tim " + hmac.new(b"tanstaaftanstaaf", challenge, hashlib.md5).hexdigest().encode()
        s.receive(base64.b64encode(resp) + b"\r\n")
        self.assertEqual(lines(s.take_output())[-1][:9], "235 2.7.0")
        self.assertEqual(s.auth_user, "tim")

    def test_starttls_handover(self):
        # RFC 3207 5: bytes after STARTTLS and before the handshake are
        # discarded (command injection); afterwards the client must EHLO
        # again (4.2) and the session reports TLS.
        h = Recorder()
        s = self.session(h, tls_available=True)
        s.take_output()
        s.receive(b"EHLO c.example\r\n")
        self.assertIn("250-STARTTLS", lines(s.take_output()))
        s.receive(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
        self.assertFalse(s.want_tls)                 # the 220 is not sent yet
        self.assertEqual(lines(s.take_output())[0][:3], "220")
        self.assertTrue(s.want_tls)
        s.discard_input()
        s.tls_started(protocol="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256", sni="mx.example")
        self.assertFalse(s.want_tls)
        self.assertTrue(s.tls_active)
        self.assertEqual(s.tls_info()["protocol"], "TLSv1.3")
        self.assertEqual(s.tls_info()["sni"], "mx.example")
        self.assertNotIn("mail", h.names())
        s.receive(b"MAIL FROM:<a@b.example>\r\n")
        self.assertEqual(codes(s.take_output()), [503])   # EHLO again first
        s.receive(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n")
        out = lines(s.take_output())
        self.assertNotIn("250-STARTTLS", out)
        self.assertEqual(out[-1][:3], "250")
        self.assertEqual(s.received_protocol, "ESMTPS")
        with self.assertRaises(errors.Error):
            s.tls_started()                            # not expected now

    def test_lmtp_data_end_per_recipient(self):
        # RFC 2033 4.2: one reply per accepted recipient, in RCPT order.
        def end(e):
            return (452, "Mailbox full", "4.2.2") if e.rcpt_index == 1 else None
        h = Recorder(data_end=end)
        s = self.session(h, lmtp=True)
        s.take_output()
        s.receive(b"LHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@b.example>\r\n"
                  b"RCPT TO:<y@b.example>\r\nRCPT TO:<z@b.example>\r\nDATA\r\n" + BODY)
        out = lines(s.take_output())
        self.assertEqual([ln[:9] for ln in out[-3:]], ["250 2.0.0", "452 4.2.2", "250 2.0.0"])
        self.assertEqual([e[1].rcpt_index for e in h.log if e[0] == "data_end"], [0, 1, 2])

    def test_other_commands(self):
        h = Recorder(vrfy=(252, "Cannot VRFY user"), unknown_command=(250, "XCLIENT OK"))
        s = self.session(h)
        s.take_output()
        s.receive(b"EHLO c.example\r\nVRFY postmaster\r\nHELP me\r\nNOOP\r\nRSET\r\n"
                  b"XCLIENT NAME=spike\r\n")
        out = lines(s.take_output())
        self.assertEqual(out[-5:][0], "252 2.5.0 Cannot VRFY user")
        self.assertEqual(out[-1], "250 2.0.0 XCLIENT OK")
        self.assertEqual(h.names(), ["connect", "ehlo", "vrfy", "help", "noop", "rset",
                                     "unknown_command"])
        self.assertEqual(h.log[2][1], "postmaster")
        self.assertEqual(h.log[3][1], "me")
        self.assertEqual((h.log[6][1].verb, h.log[6][1].args), ("XCLIENT", "NAME=spike"))

    def test_trace(self):
        got = []

        class H:
            def on_trace(self, s, direction, line):
                got.append((direction, line))
        s = self.session(H(), allow_plaintext_auth=True, auth_mechs=["PLAIN"])
        s.take_output()
        s.receive(b"EHLO c.example\r\n")
        s.take_output()
        self.assertEqual(got[0], ("out", "220 mx.example ESMTP Service ready"))
        self.assertIn(("in", "EHLO c.example"), got)

    def test_timeout_and_shutdown(self):
        s = self.session(None, command_timeout_ms=1500)
        s.take_output()
        self.assertEqual(s.timeout_ms, 1500)
        seq = s.deadline_seq
        s.receive(b"NOOP\r\n")
        s.take_output()
        self.assertNotEqual(s.deadline_seq, seq)
        s.timeout()
        self.assertEqual(lines(s.take_output())[0][:9], "421 4.4.2")
        self.assertTrue(s.want_close)
        s2 = self.session(None)
        s2.take_output()
        s2.shutdown()
        self.assertEqual(lines(s2.take_output())[0][:9], "421 4.3.2")
        with self.assertRaises(errors.Error) as cm:
            s2.shutdown()
        self.assertEqual(cm.exception.code, errors.ERR_CLOSED)

    def test_limits(self):
        s = self.session(None, max_recipients=2, max_message_size=100)
        s.take_output()
        s.receive(b"EHLO c.example\r\nMAIL FROM:<a@b.example> SIZE=1000\r\n"
                  b"MAIL FROM:<a@b.example>\r\nRCPT TO:<1@b.example>\r\nRCPT TO:<2@b.example>\r\n"
                  b"RCPT TO:<3@b.example>\r\n")
        out = lines(s.take_output())
        self.assertIn("250-SIZE 100", out)
        self.assertEqual(codes(b"\r\n".join(ln.encode() for ln in out) + b"\r\n")[1:],
                         [552, 250, 250, 250, 452])

    def test_options(self):
        with self.assertRaises(TypeError):
            libsmtp.ServerSession(None, no_such_option=1)
        with self.assertRaises(errors.Error) as cm:
            libsmtp.ServerSession(None, max_command_line=10)
        self.assertEqual(cm.exception.code, errors.ERR_INVALID_ARGUMENT)
        with self.assertRaises(ValueError):
            libsmtp.ServerSession(None, extensions=["NOT-AN-EXTENSION"])
        s = self.session(None, extensions=["PIPELINING", "DSN"], accept_bare_line_ends=True)
        s.take_output()
        s.receive(b"EHLO c.example\r\n")
        self.assertEqual(lines(s.take_output())[1:], ["250-PIPELINING", "250 DSN"])

    def test_close_and_collect(self):
        s = libsmtp.ServerSession(Recorder())
        s.close()
        s.close()
        with self.assertRaises(errors.Error) as cm:
            s.receive(b"NOOP\r\n")
        self.assertEqual(cm.exception.code, errors.ERR_CLOSED)
        self.assertTrue(s.is_closed and s.want_close)
        before = len(srv._sessions)
        for _ in range(200):
            with libsmtp.ServerSession(Recorder()) as t:
                t.take_output()
        for _ in range(200):
            libsmtp.ServerSession(Recorder()).take_output()   # dropped without close()
        gc.collect()
        self.assertLessEqual(len(srv._sessions), before)


if __name__ == "__main__":
    support.main()
