"""A runnable example: testing mail-sending code against libsmtp's scripted
test server. Runs under unittest and under pytest:

    python3 -m unittest examples/test_harness_example.py
    pytest -p libsmtp.testing examples/test_harness_example.py

The code under test is send_report(): it must send to every recipient, retry
a recipient that got a temporary failure (4yz), and give up on a permanent
one (5yz).
"""
import smtplib
import time
import unittest

from libsmtp.testing import SMTPServerTestCase, SMTPTestServer


def send_report(host, port, recipients, retries=2):
    """The code under test. Returns the recipients that never got it."""
    msg = b"Subject: report\r\n\r\nAll systems nominal.\r\n"
    pending, failed = list(recipients), []
    for attempt in range(retries + 1):
        with smtplib.SMTP(host, port, timeout=10) as c:
            try:
                refused = c.sendmail("reports@example.org", pending, msg)
            except smtplib.SMTPRecipientsRefused as e:
                refused = e.recipients
        failed += [r for r, (code, _) in refused.items() if code >= 500]
        pending = [r for r, (code, _) in refused.items() if 400 <= code < 500]
        if not pending:
            break
        time.sleep(0.1)
    return sorted(failed + pending)


class SendReportTest(SMTPServerTestCase):
    # the first RCPT of each session is busy; the third one does not exist
    smtp_script = """
        RCPT#1 reply 450 4.2.0 Mailbox busy, try later
        RCPT#3 reply 550 5.1.1 No such user
    """

    def test_retries_temporary_failures(self):
        lost = send_report(self.smtp_server.host, self.smtp_server.port,
                           ["ann@example.org", "bob@example.org", "cat@example.org"])
        # ann is the first RCPT of every session: busy each time, given up after 2 retries;
        # cat is refused for good and not retried
        self.assertEqual(lost, ["ann@example.org", "cat@example.org"])
        txs = self.smtp_server.wait_for_transactions(3)
        self.assertEqual(len(txs), 3)
        self.assertEqual([(r.path, r.code) for r in txs[0].rcpts],
                         [("ann@example.org", 450), ("bob@example.org", 250), ("cat@example.org", 550)])
        self.assertEqual(txs[0].accepted, ["bob@example.org"])
        self.assertEqual(txs[0].message, b"Subject: report\r\n\r\nAll systems nominal.\r\n")
        for retry in txs[1:]:
            self.assertEqual([(r.path, r.code) for r in retry.rcpts], [("ann@example.org", 450)])
            self.assertIsNone(retry.data)  # no recipient accepted: no data sent


class SlowServerTest(unittest.TestCase):
    def test_gives_up_on_a_server_that_closes(self):
        with SMTPTestServer("MAIL close") as server:
            with self.assertRaises(smtplib.SMTPServerDisconnected):
                send_report(server.host, server.port, ["ann@example.org"])
            # the session accepted MAIL before the script closed the connection, so it
            # records that transaction, with no recipient and no data
            (tx,) = server.wait_for_transactions(1)
            self.assertEqual((tx.mail_from, tx.rcpts, tx.data), ("reports@example.org", [], None))


# pytest style: the fixture comes from the libsmtp.testing plugin
try:
    import pytest
except ImportError:
    pytest = None

if pytest is not None:
    @pytest.mark.smtp_script("DATA-END reply 554 5.6.0 Content refused")
    def test_content_refusal_is_reported(smtp_server):
        with pytest.raises(smtplib.SMTPDataError):
            send_report(smtp_server.host, smtp_server.port, ["ann@example.org"])
        (tx,) = smtp_server.wait_for_transactions(1)
        assert tx.data["code"] == 554


if __name__ == "__main__":
    unittest.main()
