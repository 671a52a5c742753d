#!/usr/bin/python3
"""Interop: examples/smtp-server --script and --capture against real clients.

- Every malformed rule file (unknown stage or action, bad code, #0, missing
  and extra arguments, huge delays, binary bytes) ends the program with exit
  64 and a message naming the file and line, before anything listens.
- Python's smtplib raises the exception each scripted reply calls for
  (SMTPConnectError for a 554 greeting, SMTPSenderRefused, SMTPRecipientsRefused,
  SMTPDataError, SMTPServerDisconnected for close), #N picks one command,
  delays and tarpits take their time, drop-keyword removes an extension
  (also from one EHLO: EHLO#2, the one after STARTTLS).
- BDAT#N reply on chunks after the first, on the wire (raw socket) and in
  the Maildir and capture (RFC 3030 2).
- swaks sees a scripted 5xx.
- --capture writes one JSON object per transaction with the documented keys
  (ports and codes as numbers, bare paths, upper-cased parameters with raw
  values or true, tls null without TLS, data.size after unstuffing).

Usage: server_script.py PATH/TO/smtp-server
"""
import json
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402  (tests/interop/ilib.py)

SERVER = sys.argv[1]
tap = ilib.Tap(400)
check = tap.check


class Server(ilib.Server):
    def __init__(self, tmp, name, rules, extra=()):
        self.rules = os.path.join(tmp, name + ".rules")
        with open(self.rules, "w") as f:
            f.write(rules)
        self.capture = os.path.join(tmp, name + ".jsonl")
        super().__init__(SERVER, tmp, name, ["--script", self.rules, "--capture", self.capture] + list(extra),
                         limit=120, hostname="mx.test", wait=60)

    def records(self):
        time.sleep(0.2)
        if not os.path.exists(self.capture):
            return []
        with open(self.capture) as f:
            return [json.loads(line) for line in f if line.strip()]


def smtp(port, timeout=10):
    return smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=timeout)


def bad_files(tmp):
    cases = [
        ("FOO_BAR reply 550 5.0.0 x\n", 1, "unknown stage"),
        ("# ok\nRCPT frobnicate\n", 2, "unknown action"),
        ("RCPT reply 5x0 nope\n", 1, "bad code"),
        ("RCPT reply 650 nope\n", 1, "bad code"),
        ("RCPT reply 550 4.1.1 class\n", 1, "enhanced"),
        ("RCPT#0 close\n", 1, "number"),
        ("RCPT reply 550\n", 1, "missing text"),
        ("MAIL delay\n", 1, "missing SECONDS"),
        ("NOOP close\n\nMAIL delay 86400\n", 3, "SECONDS"),
        ("MAIL tarpit 1e9\n", 1, "SECONDS"),
        ("QUIT close now\n", 1, "unexpected argument"),
        ("RCPT reply 550 bin\x01ary\n", 1, "control"),
        ("RCPT reply 550 caf\xe9\n", 1, "non-ASCII"),
        ("MAIL drop-keyword SIZE\n", 1, "EHLO"),
    ]
    for text, line, why in cases:
        path = os.path.join(tmp, "bad.rules")
        with open(path, "w", encoding="latin-1") as f:
            f.write(text)
        r = subprocess.run(["timeout", "10", SERVER, "--listen", "127.0.0.1:0", "--script", path],
                           capture_output=True)
        err = r.stderr.decode("latin-1")
        check("bad rule file %r: exit 64" % text, r.returncode == 64, (r.returncode, err))
        check("bad rule file %r: names line %d (%s)" % (text, line, why),
              ("%s:%d:" % (path, line)) in err and why in err, err)
        check("bad rule file %r: nothing started" % text, "listening" not in err, err)


def smtplib_cases(tmp):
    # greeting refused
    sv = Server(tmp, "greet", "CONNECT reply 554 No service for you\n")
    try:
        try:
            smtp(sv.port)
            check("554 greeting: SMTPConnectError", False, "connected")
        except smtplib.SMTPConnectError as e:
            check("554 greeting: SMTPConnectError", e.smtp_code == 554, e)
    finally:
        sv.close()

    rules = ("MAIL#1 reply 451 4.3.0 Sender deferred\n"
             "RCPT#2 reply 550 5.7.1 Scripted refusal\n"
             "DATA-END#1 reply 554 5.6.0 Scripted content refusal\n"
             "HELP reply 214 2.0.0 Scripted help\n"
             "EHLO drop-keyword PIPELINING\n"
             "NOOP#2 close\n")
    sv = Server(tmp, "smtplib", rules, ["--maildir", os.path.join(tmp, "md")])
    try:
        s = smtp(sv.port)
        s.ehlo()
        check("drop-keyword: PIPELINING not offered", not s.has_extn("pipelining") and s.has_extn("size"),
              s.esmtp_features)
        msg = s.help()  # smtplib returns the reply text
        check("other verb: scripted HELP text", b"Scripted help" in msg, msg)
        try:
            s.sendmail("alice@example.org", ["bob@example.org"], b"Subject: a\r\n\r\nx\r\n")
            check("MAIL#1 451: SMTPSenderRefused", False, "sent")
        except smtplib.SMTPSenderRefused as e:
            check("MAIL#1 451: SMTPSenderRefused", e.smtp_code == 451 and b"Sender deferred" in e.smtp_error, e)
        s.rset()
        # second MAIL passes; RCPT#2 is refused, RCPT#1 and #3 pass
        try:
            refused = s.sendmail("alice@example.org", ["bob@example.org", "carol@example.org",
                                                       "dave@example.org"],
                                 b"Subject: b\r\n\r\n..dot\r\n")
            check("DATA-END#1 554: SMTPDataError", False, refused)
        except smtplib.SMTPDataError as e:
            check("DATA-END#1 554: SMTPDataError", e.smtp_code == 554 and b"Scripted content" in e.smtp_error, e)
        # the next message goes through, with the refused recipient reported
        try:
            refused = s.sendmail("alice@example.org", ["bob@example.org"], b"Subject: c\r\n\r\nhi\r\n")
            check("third transaction delivered", refused == {}, refused)
        except smtplib.SMTPException as e:
            check("third transaction delivered", False, e)
        code, _ = s.noop()
        check("NOOP#1 answered", code == 250, code)
        try:
            s.noop()
            check("NOOP#2 close: SMTPServerDisconnected", False, "answered")
        except smtplib.SMTPServerDisconnected:
            check("NOOP#2 close: SMTPServerDisconnected", True)
        s.close()
        # RCPT#2 refused, the others accepted: smtplib reports it
        s = smtp(sv.port)
        s.ehlo()
        c1 = s.mail("alice@example.org")[0]  # MAIL#1 of this session: 451
        c2 = s.mail("alice@example.org")[0]
        r1 = s.rcpt("x@example.org")
        r2 = s.rcpt("y@example.org")
        r3 = s.rcpt("z@example.org")
        check("a new session counts again: MAIL#1 451, MAIL#2 250, RCPT#2 550 only",
              (c1, c2, r1[0], r2, r3[0]) == (451, 250, 250, (550, b"5.7.1 Scripted refusal"), 250),
              (c1, c2, r1, r2, r3))
        s.close()
        recs = sv.records()
        check("capture: one record per transaction", len(recs) >= 3, recs)
        want_keys = {"time", "client", "peer", "helo", "tls", "auth", "mail", "rcpts", "data"}
        check("capture: exactly the documented keys", all(set(r) == want_keys for r in recs),
              [sorted(r) for r in recs])
        r1 = recs[0]
        check("capture: client port is a number, peer null, tls null",
              isinstance(r1["client"]["port"], int) and r1["client"]["addr"] == "127.0.0.1"
              and r1["peer"] is None and r1["tls"] is None, r1)
        check("capture: helo, bare paths", r1["helo"] == "client.example"
              and r1["mail"]["path"] == "alice@example.org", r1)
        check("capture: refused RCPT#2 recorded with its code",
              [(x["path"], x["code"], x["enhanced"]) for x in r1["rcpts"]] ==
              [("bob@example.org", 250, "2.1.5"), ("carol@example.org", 550, "5.7.1"),
               ("dave@example.org", 250, "2.1.5")], r1["rcpts"])
        # smtplib stuffs "..dot" into "...dot"; the size counts the unstuffed message
        check("capture: data size after unstuffing, scripted 554, no file",
              r1["data"] == {"size": len(b"Subject: b\r\n\r\n..dot\r\n"), "code": 554, "enhanced": "5.6.0",
                             "file": None, "bdat": False}, r1["data"])
        r2 = recs[1]
        check("capture: delivered message names its Maildir file",
              r2["data"]["code"] == 250 and r2["data"]["file"] and os.path.exists(r2["data"]["file"]), r2)
        check("capture: params {} without parameters... and SIZE upper-cased raw",
              r2["rcpts"][0]["params"] == {} and r2["mail"]["params"].get("SIZE") is not None, r2["mail"])
    finally:
        sv.close()

    # delays and tarpit take their time; MAIL parameters in the capture
    sv = Server(tmp, "slow", "CONNECT tarpit 1\nMAIL delay 0.6\nRCPT delay 0.2\nRCPT delay 0.2\n")
    try:
        t0 = time.time()
        s = smtp(sv.port)
        t1 = time.time()
        check("tarpit 1: the greeting takes about a second", 0.8 <= t1 - t0 < 5, t1 - t0)
        s.ehlo()
        t0 = time.time()
        s.mail("alice@example.org", ["BODY=8BITMIME", "SMTPUTF8"])
        t1 = time.time()
        check("delay 0.6 before the MAIL reply", 0.5 <= t1 - t0 < 3, t1 - t0)
        s.rcpt("b@example.org")
        t2 = time.time()
        check("two delays of one command add up (0.4 s)", 0.35 <= t2 - t1 < 3, t2 - t1)
        s.quit()
        recs = sv.records()
        check("capture: abandoned transaction recorded, data null, params",
              len(recs) == 1 and recs[0]["data"] is None
              and recs[0]["mail"]["params"] == {"BODY": "8BITMIME", "SMTPUTF8": True}, recs)
    finally:
        sv.close()


def lines(sk, n):
    buf = b""
    while buf.count(b"\r\n") < n:
        d = sk.recv(4096)
        if not d:
            break
        buf += d
    return buf


def greet_ehlo(sk):
    lines(sk, 1)
    sk.sendall(b"EHLO client.example\r\n")
    ehlo = lines(sk, 1)
    while not re.search(rb"(^|\r\n)250 ", ehlo):
        ehlo += sk.recv(4096)
    return ehlo


def bdat_reply_case(tmp):
    """BDAT#N reply on chunks after the first (RFC 3030 2), checked on the
    wire with a raw socket (smtplib has no BDAT) and in the Maildir and
    capture: a 2yz keeps the transaction; a 4yz after the chunk's octets
    fails it, the chunks pipelined behind it get 503, nothing is stored; a
    reply on a LAST chunk is the end-of-data reply."""
    maildir = os.path.join(tmp, "bdat-maildir")
    sv = Server(tmp, "bdatreply", "BDAT#2 reply 250 2.0.0 Scripted chunk two\n"
                "BDAT#4 reply 452 4.3.1 Scripted chunk four\n"
                "BDAT#7 reply 554 5.6.0 Scripted last chunk\n", ["--maildir", maildir])
    try:
        sk = socket.create_connection(("127.0.0.1", sv.port), timeout=10)
        greet_ehlo(sk)
        sk.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
                   b"BDAT 3\r\nabcBDAT 2\r\ndeBDAT 1 LAST\r\nf")
        r = lines(sk, 5).split(b"\r\n")
        check("BDAT#1: the session's 250", r[2] == b"250 2.0.0 3 octets received", r)
        check("BDAT#2: the scripted 250 after its octets", r[3] == b"250 2.0.0 Scripted chunk two", r)
        check("BDAT#3 LAST: stored", r[4].startswith(b"250 2.0.0 Message accepted as "), r)
        sk.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
                   b"BDAT 2\r\nghBDAT 3\r\nijkBDAT 2 LAST\r\nlmNOOP\r\n")
        r = lines(sk, 6).split(b"\r\n")
        check("BDAT#4: the scripted 452 fails the transaction", r[2] == b"452 4.3.1 Scripted chunk four", r)
        check("BDAT#5, #6 (pipelined behind it): read and discarded with 503",
              r[3].startswith(b"503 5.5.1") and r[4].startswith(b"503 5.5.1") and r[5].startswith(b"250"), r)
        sk.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 2 LAST\r\nno")
        r = lines(sk, 3).split(b"\r\n")
        check("BDAT#7 LAST: the scripted 554 is the end-of-data reply", r[2] == b"554 5.6.0 Scripted last chunk", r)
        sk.sendall(b"QUIT\r\n")
        lines(sk, 1)
        sk.close()
        stored = sorted(os.listdir(os.path.join(maildir, "new")))
        body = open(os.path.join(maildir, "new", stored[0]), "rb").read() if stored else b""
        check("Maildir: only the first message, whole", len(stored) == 1 and body.endswith(b"\r\nabcdef"),
              (stored, body[-40:]))
        recs = sv.records()
        check("capture: three transactions with the chunk replies",
              [(r["data"] or {}).get("code") for r in recs] == [250, 452, 554], recs)
    finally:
        sv.close()


def drop_keyword_case(tmp):
    """EHLO#2 drop-keyword: the EHLO after STARTTLS (smtplib) lacks
    PIPELINING and SIZE; the first one has them; SIZE= then gets 555."""
    import ssl
    r = subprocess.run([SERVER, "--stdio", "--tls-self-signed"], input=b"QUIT\r\n", capture_output=True,
                       timeout=120)
    if r.returncode != 0:
        print("# no TLS in this build: the drop-keyword after STARTTLS case is skipped")
        return
    sv = Server(tmp, "drop2", "EHLO#2 drop-keyword PIPELINING\nEHLO#2 drop-keyword SIZE\n",
                ["--tls-self-signed"])
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = smtp(sv.port)
        s.ehlo()
        check("EHLO#1: PIPELINING, SIZE and STARTTLS offered",
              s.has_extn("pipelining") and s.has_extn("size") and s.has_extn("starttls"), s.esmtp_features)
        s.starttls(context=ctx)
        s.ehlo()
        check("EHLO#2 (after STARTTLS): no PIPELINING, no SIZE, CHUNKING still there",
              not s.has_extn("pipelining") and not s.has_extn("size") and s.has_extn("chunking"),
              s.esmtp_features)
        check("EHLO#2: SIZE= now gets 555", s.docmd("MAIL FROM:<a@example.org> SIZE=10")[0] == 555)
        s.quit()
    finally:
        sv.close()


def auth_rule_case(tmp):
    """A 2yz rule for AUTH accepts the credentials as 235 (RFC 4954 6: AUTH's
    only positive reply) with the rule's text; counting starts again with
    each session."""
    users = os.path.join(tmp, "auth-users")
    with open(users, "w") as f:
        f.write("joe:pw\n")
    sv = Server(tmp, "authrule", "AUTH#1 reply 250 2.7.0 Scripted welcome\n",
                ["--auth-file", users, "--allow-plaintext-auth"])
    try:
        for n, pw in ((1, "wrong"), (2, "pw")):
            s = smtp(sv.port)
            s.ehlo()
            try:
                r = s.login("joe", pw)
            except smtplib.SMTPException as e:
                r = e
            check("session %d: the AUTH#1 2yz rule gives 235 with its text" % n,
                  r == (235, b"2.7.0 Scripted welcome"), r)
            s.close()
    finally:
        sv.close()


def bdat_chunk_case(tmp):
    """The BDAT stage counts every chunk: the first of a transaction takes a
    scripted reply; later ones take delays and close."""

    sv = Server(tmp, "bdat", "BDAT#1 reply 452 4.3.1 Scripted first chunk\nBDAT#3 delay 1\nBDAT#4 close\n")
    try:
        sk = socket.create_connection(("127.0.0.1", sv.port), timeout=10)
        greet_ehlo(sk)
        sk.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 5\r\nhello")
        r = lines(sk, 3)
        check("BDAT#1: the first chunk gets the scripted 452", r.split(b"\r\n")[2].startswith(b"452 4.3.1"), r)
        sk.sendall(b"RSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT 5\r\nhello")
        r = lines(sk, 4)
        check("BDAT#2 (first chunk, no rule): 250", r.split(b"\r\n")[3].startswith(b"250"), r)
        t0 = time.time()
        sk.sendall(b"BDAT 3\r\nabc")
        r = lines(sk, 1)
        took = time.time() - t0
        check("BDAT#3 (a later chunk): delayed 1 s, then the session's 250",
              r.startswith(b"250") and 0.9 <= took < 5, (r, took))
        sk.sendall(b"BDAT 2 LAST\r\nxy")
        r = lines(sk, 1)
        check("BDAT#4 (a later chunk): closed instead of the reply", r == b"", r)
        sk.close()
    finally:
        sv.close()


def tls_capture_case(tmp):
    import ssl
    users = os.path.join(tmp, "users")
    with open(users, "w") as f:
        f.write("joe:pw\n")
    r = subprocess.run([SERVER, "--stdio", "--tls-self-signed"], input=b"QUIT\r\n", capture_output=True,
                       timeout=120)
    if r.returncode != 0:
        print("# no TLS in this build: the TLS capture case is skipped")
        return
    sv = Server(tmp, "tls", "# no rules\n", ["--tls-self-signed", "--auth-file", users])
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = smtp(sv.port)
        s.starttls(context=ctx)
        s.ehlo()
        s.login("joe", "pw")
        s.sendmail("joe@example.org", ["x@example.org"], b"Subject: t\r\n\r\nhi\r\n", mail_options=["AUTH=<>"])
        s.quit()
        recs = sv.records()
        r = recs[0] if recs else {}
        check("capture under TLS: version and cipher, no client certificate",
              bool(r) and r["tls"] is not None and r["tls"]["version"].startswith("TLS")
              and r["tls"]["cipher"] and r["tls"]["client_cert"] is None, r)
        check("capture: AUTH identity and the AUTH= parameter as sent",
              bool(r) and r["auth"] == "joe" and r["mail"]["params"].get("AUTH") == "<>", r)
    finally:
        sv.close()


def client_cert_case(tmp):
    """--capture's client_cert over STARTTLS: subject and issuer (RFC 4514,
    read from the DER by the library), the SHA-256 of the DER, and whether it
    verified against --tls-client-ca; for a CA-signed and a self-signed one."""
    import hashlib
    import ssl
    if not shutil.which("openssl"):
        print("# no openssl: the client certificate case is skipped")
        return
    r = subprocess.run([SERVER, "--stdio", "--tls-self-signed"], input=b"QUIT\r\n", capture_output=True,
                       timeout=120)
    if r.returncode != 0:
        print("# no TLS in this build: the client certificate case is skipped")
        return

    def ossl(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)

    ca, cakey = os.path.join(tmp, "ca.pem"), os.path.join(tmp, "ca.key")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=libsmtp test CA",
         "-keyout", cakey, "-out", ca)
    good, goodkey, csr = os.path.join(tmp, "good.pem"), os.path.join(tmp, "good.key"), os.path.join(tmp, "good.csr")
    ossl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/C=DE/O=Example Org/CN=client.example",
         "-keyout", goodkey, "-out", csr)
    ossl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-set_serial", "2", "-days", "2", "-out", good)
    rogue, roguekey = os.path.join(tmp, "rogue.pem"), os.path.join(tmp, "rogue.key")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=rogue, \"the\" client",
         "-keyout", roguekey, "-out", rogue)
    sv = Server(tmp, "cert", "# no rules\n", ["--tls-self-signed", "--tls-client-ca", ca])
    try:
        for cert, key in ((good, goodkey), (rogue, roguekey)):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.load_cert_chain(cert, key)
            s = smtp(sv.port)
            s.starttls(context=ctx)
            s.ehlo()
            s.sendmail("a@example.org", ["x@example.org"], b"Subject: t\r\n\r\nhi\r\n")
            s.quit()
        recs = sv.records()
        der = [hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(f).read())).hexdigest() for f in (good, rogue)]
        cc = [r["tls"]["client_cert"] if r.get("tls") else None for r in recs]
        check("client_cert: two records", len(cc) == 2, recs)
        check("client_cert: CA-signed: subject, issuer, SHA-256, verified",
              len(cc) == 2 and cc[0] == {"subject": "CN=client.example,O=Example Org,C=DE",
                                         "issuer": "CN=libsmtp test CA", "sha256": der[0], "verified": True},
              cc[:1])
        check("client_cert: self-signed: escaped subject (RFC 4514 2.4), not verified",
              len(cc) == 2 and cc[1] == {"subject": 'CN=rogue\\, \\"the\\" client',
                                         "issuer": 'CN=rogue\\, \\"the\\" client', "sha256": der[1],
                                         "verified": False}, cc[1:])
    finally:
        sv.close()


def swaks_case(tmp):
    if not shutil.which("swaks"):
        print("# swaks not installed: its case skipped")
        return
    sv = Server(tmp, "swaks", "RCPT reply 550 5.7.1 Scripted refusal\n")
    try:
        r = subprocess.run(["timeout", "30", "swaks", "--server", "127.0.0.1", "--port", str(sv.port),
                            "--helo", "client.example", "--from", "a@example.com", "--to",
                            "bob@example.org"], capture_output=True)
        out = r.stdout.decode("latin-1")
        check("swaks sees the scripted 550", "<** 550 5.7.1 Scripted refusal" in out, out[-600:])
        check("swaks exits non-zero", r.returncode != 0, r.returncode)
        s = smtp(sv.port)
        try:
            s.sendmail("a@example.com", ["bob@example.org"], b"x\r\n")
            check("every RCPT refused: SMTPRecipientsRefused", False, "sent")
        except smtplib.SMTPRecipientsRefused as e:
            check("every RCPT refused: SMTPRecipientsRefused",
                  e.recipients == {"bob@example.org": (550, b"5.7.1 Scripted refusal")}, e.recipients)
        s.close()
    finally:
        sv.close()


def main():
    tmp = tempfile.mkdtemp(prefix="libsmtp-script-")
    try:
        bad_files(tmp)
        smtplib_cases(tmp)
        bdat_chunk_case(tmp)
        bdat_reply_case(tmp)
        auth_rule_case(tmp)
        drop_keyword_case(tmp)
        tls_capture_case(tmp)
        client_cert_case(tmp)
        swaks_case(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    tap.finish()


main()
