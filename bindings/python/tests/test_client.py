"""ClientSession in memory, against the binding's own ServerSession:
event order (client.h "Order of events"), per-recipient results, several
transactions, LMTP, AUTH, trace (callback mode) vs event mode, local
refusals, and the ends of a session (EOF, timeout, protocol error)."""

import unittest

import support
import libsmtp
from libsmtp import errors, EventType as T, Transaction


def run_pair(handler=None, txns=(), server_opts=None, quit=True, **client_opts):
    server = libsmtp.ServerSession(handler, hostname="mx.example", **(server_opts or {}))
    client_opts.setdefault("ehlo_name", "client.example")
    client = libsmtp.ClientSession(**client_opts)
    for t in txns:
        client.send(t)
    if quit:
        client.quit()
    s2c, c2s = support.pump(server, client)
    return server, client, s2c, c2s


class TestClientSession(unittest.TestCase):
    def test_event_order_and_results(self):
        h = support.Collector(reject=["nobody@example.net"], tempfail=["later@example.net"])
        t = Transaction("alice@example.org",
                        ["bob@example.net", "nobody@example.net", "later@example.net"],
                        b"Subject: hi\n\nbare LF lines\n.dot first\n")
        server, client, _, c2s = run_pair(h, [t])
        types = [e.type for e in client.events]
        self.assertEqual(types, [T.GREETING, T.CAPABILITIES, T.READY, T.MAIL, T.RCPT, T.RCPT,
                                 T.RCPT, T.BODY_START, T.DATA, T.TXN_DONE, T.CLOSED])
        self.assertEqual(client.greeting.code, 220)
        self.assertIn("PIPELINING", client.capabilities)
        self.assertIn("CHUNKING", client.capabilities.extensions)
        self.assertEqual(client.capabilities.limits, {"RCPTMAX": 100})
        self.assertTrue(t.done and t.ok)
        self.assertEqual(t.result, {"status": 0, "nrcpt": 3, "naccepted": 1, "ndelivered": 1})
        bob, nobody, later = t.recipients
        self.assertTrue(bob.delivered)
        self.assertEqual((bob.rcpt_code, bob.data_code), (250, 250))
        self.assertEqual((nobody.rcpt_reply.code, nobody.rcpt_reply.enhanced), (550, "5.1.1"))
        self.assertEqual(nobody.rcpt_reply.text, "No such user")
        self.assertFalse(nobody.delivered)
        self.assertTrue(later.rcpt_reply.transient)
        self.assertEqual([r.address for r in t.refused], ["nobody@example.net",
                                                          "later@example.net"])
        self.assertEqual(t.mail_reply.code, 250)
        # Bare LF became CRLF; the dot was stuffed on the wire and unstuffed.
        self.assertEqual(h.messages[0][2], b"Subject: hi\r\n\r\nbare LF lines\r\n.dot first\r\n")
        self.assertEqual(h.messages[0][:2], ("alice@example.org", ["bob@example.net"]))
        self.assertEqual(client.error, 0)
        self.assertTrue(client.is_closed)
        # RFC 2920: MAIL and the RCPTs went out in one group.
        self.assertIn(b"MAIL FROM:<alice@example.org>", c2s)

    def test_all_recipients_refused(self):
        # Without PIPELINING no DATA follows refused RCPTs; with it DATA may
        # already be on the wire (RFC 2920 3.1) and is refused by the server.
        for ext in (["ENHANCEDSTATUSCODES"], ["PIPELINING"]):
            with self.subTest(extensions=ext):
                h = support.Collector(reject=["x@example.net", "y@example.net"])
                t = Transaction("a@example.org", ["x@example.net", "y@example.net"], b"body\r\n")
                _, client, s2c, c2s = run_pair(h, [t], server_opts={"extensions": ext})
                self.assertEqual(t.status, errors.ERR_REJECTED)
                self.assertFalse(t.ok)
                self.assertEqual(t.delivered, [])
                self.assertNotIn(b"354", s2c)
                if "PIPELINING" not in ext:
                    self.assertNotIn(b"DATA", c2s)
                self.assertEqual(h.messages, [])

    def test_several_transactions_in_order(self):
        h = support.Collector()
        ts = [Transaction("a%d@example.org" % i, ["r%d@example.net" % i],
                          b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i)) for i in range(4)]
        _, client, _, c2s = run_pair(h, ts)
        self.assertTrue(all(t.ok for t in ts))
        self.assertEqual([m[0] for m in h.messages], ["a%d@example.org" % i for i in range(4)])
        self.assertEqual([m[2] for m in h.messages],
                         [b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i) for i in range(4)])
        self.assertTrue(c2s.endswith(b"QUIT\r\n"))
        self.assertEqual(client.transactions_pending, 0)
        with self.assertRaises(errors.Error):
            client.send(Transaction("a@example.org", ["b@example.net"], b"x\r\n"))

    def test_send_from_on_event(self):
        # on_event runs outside the C library: it may queue more work.
        h = support.Collector()
        second = Transaction("second@example.org", ["r@example.net"], b"2\r\n")

        def on_event(c, ev):
            if ev.type == T.TXN_DONE and ev.transaction is not second:
                c.send(second)
                c.quit()
        first = Transaction("first@example.org", ["r@example.net"], b"1\r\n")
        _, client, _, _ = run_pair(h, [first], quit=False, on_event=on_event)
        self.assertTrue(first.ok and second.ok)
        self.assertEqual([m[0] for m in h.messages], ["first@example.org", "second@example.org"])
        self.assertTrue(client.is_closed)

    def test_lmtp_per_recipient_data_replies(self):
        # RFC 2033 4.2: a reply per accepted recipient after the data.
        class H(support.Collector):
            def on_data_end(self, s, end):
                super().on_data_end(s, end)
                if end.rcpt_index == 1:
                    return (452, "Mailbox full", "4.2.2")
        h = H(reject=["no@example.net"])
        t = Transaction("a@example.org", ["x@example.net", "no@example.net", "y@example.net",
                                          "z@example.net"], b"hello\r\n")
        _, client, _, _ = run_pair(h, [t], server_opts={"lmtp": True}, lmtp=True)
        x, no, y, z = t.recipients
        self.assertTrue(x.delivered)
        self.assertIsNone(no.data_reply)
        self.assertEqual((y.data_reply.code, y.data_reply.enhanced), (452, "4.2.2"))
        self.assertFalse(y.delivered)
        self.assertTrue(z.delivered)
        self.assertEqual([r.data_code for r in t.recipients], [250, 0, 452, 250])
        self.assertEqual(t.result["ndelivered"], 2)
        self.assertEqual([e.index for e in t.events if e.type == T.DATA], [0, 2, 3])

    def test_auth(self):
        users = {"user": "secret"}
        for creds, ok in [(("user", "secret"), True), (("user", "wrong"), False)]:
            with self.subTest(creds=creds):
                h = support.Collector(users=users)
                t = Transaction("a@example.org", ["b@example.net"], b"x\r\n")
                _, client, _, c2s = run_pair(h, [t], server_opts={"allow_plaintext_auth": True},
                                             credentials=creds, allow_plaintext_auth=True,
                                             auth_mechanism="PLAIN")
                self.assertEqual(client.auth_result, 0 if ok else errors.ERR_AUTH_FAILED)
                self.assertEqual(t.ok, ok)
                if ok:
                    self.assertEqual(client.auth_mechanism, "PLAIN")
                    self.assertEqual(h.messages[0][3]["auth"], "user")
                    self.assertEqual(h.messages[0][3]["protocol"], "ESMTPA")

    def test_no_credentials_in_clear_text(self):
        # Default: credentials never travel without TLS (RFC 4954 4 advice).
        h = support.Collector(users={"user": "secret"})
        t = Transaction("a@example.org", ["b@example.net"], b"x\r\n")
        _, client, _, c2s = run_pair(h, [t], server_opts={"allow_plaintext_auth": True},
                                     credentials=("user", "secret"))
        self.assertEqual(client.auth_result, errors.ERR_PLAINTEXT_AUTH)
        self.assertNotIn(b"AUTH", c2s)
        self.assertFalse(t.ok)

    def test_trace_mode_gives_the_same_events(self):
        lines = []
        results = []
        for trace in (None, lambda d, ln: lines.append((d, ln))):
            t = Transaction("a@example.org", ["b@example.net", "c@example.net"], b"x\r\n")
            _, client, s2c, c2s = run_pair(support.Collector(reject=["c@example.net"]), [t],
                                           trace=trace)
            results.append(([(e.type, e.error, e.index, e.reply) for e in client.events],
                            s2c, c2s, [(r.rcpt_code, r.data_code) for r in t.recipients]))
        self.assertEqual(results[0], results[1])
        self.assertIn(("C", "EHLO client.example"), lines)
        self.assertIn(("S", "220 mx.example ESMTP Service ready"), lines)

    def test_split_replies(self):
        # The server's bytes of each round trip whole, byte by byte and cut
        # at random points give the same events.
        def fresh():
            c = libsmtp.ClientSession(ehlo_name="client.example")
            c.send(Transaction("a@example.org", ["b@example.net", "c@example.net"], b"x\r\n"))
            c.quit()
            return c
        server = libsmtp.ServerSession(support.Collector(reject=["c@example.net"]),
                                       hostname="mx.example")
        ref_client = fresh()
        rounds = []
        support.pump(server, ref_client, rounds=rounds)
        ref = [(e.type, e.index, e.reply) for e in ref_client.events]
        self.assertGreater(len(rounds), 3)
        cutters = [lambda b, r: [b[i:i + 1] for i in range(len(b))]]
        cutters += [lambda b, r, k=k: support.splits(b, k * 100 + r) for k in range(20)]
        for cut in cutters:
            c = fresh()
            for r, chunk in enumerate(rounds):
                c.take_output()
                for piece in cut(chunk, r):
                    c.receive(piece)
            self.assertEqual([(e.type, e.index, e.reply) for e in c.events], ref)

    def test_invalid_input_is_refused_before_the_wire(self):
        bad = [("a@example.org\r\nRCPT TO:<x@y.z>", ["b@example.net"]),
               ("a@example.org", ["b@example.net>\r\nDATA"]),
               ("a@@example.org", ["b@example.net"]),
               ("a@example.org", ["b\x00@example.net"])]
        for mail_from, rcpts in bad:
            with self.subTest(mail_from=mail_from, rcpts=rcpts):
                with self.assertRaises(errors.Error):
                    Transaction(mail_from, rcpts, b"x\r\n")
        with self.assertRaises(errors.Error):
            libsmtp.ClientSession(ehlo_name="bad name")

    def test_local_refusal(self):
        # A NUL in a memory body refuses the transaction before MAIL.
        h = support.Collector()
        t = Transaction("a@example.org", ["b@example.net"], b"nul \x00 here\r\n")
        _, client, _, c2s = run_pair(h, [t])
        self.assertEqual(t.status, errors.ERR_NUL)
        self.assertEqual([e.type for e in t.events], [T.TXN_DONE])
        self.assertNotIn(b"MAIL FROM", c2s)

    def test_connection_lost_and_timeout(self):
        for how, err in [("lost", errors.ERR_CONNECTION_LOST), ("timeout", errors.ERR_TIMEOUT)]:
            with self.subTest(how=how):
                server = libsmtp.ServerSession(support.Collector(), hostname="mx.example")
                c = libsmtp.ClientSession()
                t = c.send(Transaction("a@example.org", ["b@example.net"], b"x\r\n"))
                c.quit()
                c.receive(server.take_output())
                server.receive(c.take_output())
                c.receive(server.take_output())        # EHLO reply: MAIL goes out
                self.assertGreater(c.timeout_ms, 0)
                c.take_output()
                c.connection_lost() if how == "lost" else c.on_timeout()
                self.assertTrue(t.done)
                self.assertEqual(t.status, errors.ERR_TEMPFAIL)
                self.assertEqual(c.events[-1].type, T.CLOSED)
                self.assertEqual(c.events[-1].error, err)
                self.assertEqual(c.error, err)
                self.assertFalse(c.want_read or c.want_write)

    def test_protocol_error_ends_the_session(self):
        c = libsmtp.ClientSession()
        t = c.send(Transaction("a@example.org", ["b@example.net"], b"x\r\n"))
        evs = c.receive(b"220 ok\r\n")
        self.assertEqual(evs[0].type, T.GREETING)
        c.take_output()
        evs = c.receive(b"250 ok\r\nthis is not a reply\r\n")
        self.assertTrue(c.is_closed)
        self.assertEqual(c.error, errors.ERR_PROTOCOL)
        self.assertEqual(evs[-1].type, T.CLOSED)
        self.assertTrue(t.done)
        self.assertFalse(t.ok)

    def test_queued_transactions_when_the_session_ends(self):
        c = libsmtp.ClientSession()
        t1 = c.send(Transaction("a@example.org", ["b@example.net"], b"1\r\n"))
        t2 = c.send(Transaction("a@example.org", ["b@example.net"], b"2\r\n"))
        c.receive(b"421 4.3.2 going away\r\n")
        self.assertTrue(c.is_closed)
        self.assertTrue(t1.done and t2.done)
        self.assertFalse(t1.ok or t2.ok)
        self.assertEqual(c.error, errors.ERR_SERVICE_UNAVAILABLE)

    def test_dropping_a_session_mid_transaction(self):
        # The session holds a submitted transaction; dropping both (in any
        # collection order) frees the C session before the transaction.
        import gc
        for trace in (None, lambda d, ln: None):
            c = libsmtp.ClientSession(trace=trace)
            t = c.send(Transaction("a@example.org", ["b@example.net"], b"x\r\n"))
            c.receive(b"220 hi\r\n")
            c.take_output()
            c.receive(b"250 ok\r\n")               # MAIL goes out: submitted
            self.assertIs(t._owner, c)
            with self.assertRaises(errors.Error):
                t.close()                           # not while submitted
            del c, t
            gc.collect()
        c = libsmtp.ClientSession()
        t = c.send(Transaction("a@example.org", ["b@example.net"], b"x\r\n"))
        c.close()                                   # releases it
        t.close()

    def test_starttls_required_without_offer(self):
        # RFC 3207: with "required", a server without STARTTLS ends the
        # session before MAIL.
        t = Transaction("a@example.org", ["b@example.net"], b"x\r\n")
        _, client, _, c2s = run_pair(support.Collector(), [t], starttls="required")
        self.assertNotIn(b"MAIL", c2s)
        self.assertFalse(t.ok)
        self.assertEqual(client.error, errors.ERR_TLS_REQUIRED)


if __name__ == "__main__":
    support.main()
