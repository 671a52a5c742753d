#!/usr/bin/python3
"""Interop: Python's smtplib and ssl (OpenSSL) into examples/smtp-server over
TCP (server_smtplib.py covers --stdio through socat): STARTTLS verified
against the server's exported throw-away certificate, AUTH (PLAIN and
LOGIN) offered only under TLS, SMTPUTF8 under TLS, implicit TLS with
SMTP_SSL, LMTP over TCP, and the STARTTLS command-injection case of
docs/security.md 2 (CVE-2011-0411) with a real TLS stack. Every delivery is
checked byte for byte in the Maildir. Bounded in time; loopback only.

Usage: server_smtplib_tcp.py PATH/TO/smtp-server
"""
import os
import shutil
import smtplib
import socket
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402  (tests/interop/ilib.py)

SERVER = sys.argv[1]
tap = ilib.Tap(300)
check = tap.check


class Server(ilib.Server):
    """smtp-server on 127.0.0.1:0; the port comes from its stderr line."""

    def __init__(self, tmp, name, args):
        super().__init__(SERVER, tmp, name, args, limit=120)


maildir_files = ilib.maildir_files
split_stored = ilib.split_stored


def tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


MSG = (b"From: a@example.com\r\nTo: bob@example.org\r\nSubject: smtplib tcp\r\n\r\n"
       b".leading dot\r\nline two\r\n\r\nlast\r\n")
UTF8_MSG = ("From: j\u00f8rn@example.com\r\nTo: \u7528\u6237@example.org\r\n"
            "Subject: h\u00e9llo\r\n\r\nna\u00efve \u2713\r\n").encode("utf-8")

tmp = tempfile.mkdtemp()
try:
    users = os.path.join(tmp, "users")
    with open(users, "w") as f:
        f.write("user:s3cret\nother:pw\n")
    cert = os.path.join(tmp, "cert.pem")
    md = os.path.join(tmp, "md1")

    # 1. STARTTLS, AUTH, SMTPUTF8 over TCP.
    srv = Server(tmp, "starttls", ["--tls-self-signed", "--tls-cert-out", cert, "--auth-file", users,
                                   "--maildir", md])
    try:
        with smtplib.SMTP("localhost", srv.port, local_hostname="client.example", timeout=10) as c:
            c.ehlo()
            check("before TLS: STARTTLS offered", c.has_extn("starttls"))
            check("before TLS: AUTH not offered (RFC 4954 4)", not c.has_extn("auth"))
            code, _ = c.starttls(context=tls_context(cert))
            check("STARTTLS 220, certificate verified for localhost", code == 220)
            check("TLS version 1.2 or newer", c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version())
            c.ehlo()
            check("after TLS: AUTH PLAIN LOGIN offered", "PLAIN" in c.esmtp_features.get("auth", "")
                  and "LOGIN" in c.esmtp_features.get("auth", ""), c.esmtp_features)
            check("after TLS: STARTTLS no longer offered", not c.has_extn("starttls"))
            try:
                c.login("user", "wrong")
                check("wrong password refused", False)
            except smtplib.SMTPAuthenticationError as e:
                check("wrong password refused with 535", e.smtp_code == 535, e)
            c.user, c.password = "user", "s3cret"
            code, _ = c.auth("PLAIN", c.auth_plain)
            check("AUTH PLAIN 235", code == 235)
            refused = c.sendmail("a@example.com", ["bob@example.org"], MSG)
            check("sendmail accepted", refused == {}, refused)
            files = maildir_files(md)
            head, body = split_stored(files[-1]) if files else (b"", b"")
            check("STARTTLS + AUTH: stored byte for byte", body == MSG, body[:200])
            check("STARTTLS + AUTH: Received says ESMTPSA", b"with ESMTPSA id" in head, head)
            # SMTPUTF8 (RFC 6531) under TLS and AUTH.
            check("SMTPUTF8 offered", c.has_extn("smtputf8"))
            refused = c.sendmail("j\u00f8rn@example.com", ["\u7528\u6237@example.org"], UTF8_MSG,
                                 mail_options=["SMTPUTF8"])
            check("SMTPUTF8 sendmail accepted", refused == {}, refused)
            files = maildir_files(md)
            head, body = split_stored(files[-1]) if len(files) == 2 else (b"", b"")
            check("SMTPUTF8: stored byte for byte", body == UTF8_MSG, body[:200])
            check("SMTPUTF8: Return-Path and Delivered-To in UTF-8",
                  head.startswith("Return-Path: <j\u00f8rn@example.com>\r\nDelivered-To: \u7528\u6237@example.org\r\n"
                                  .encode("utf-8")), head)
            check("SMTPUTF8: Received says UTF8SMTPSA", b"with UTF8SMTPSA id" in head, head)
        # AUTH LOGIN on a fresh connection.
        with smtplib.SMTP("localhost", srv.port, local_hostname="client.example", timeout=10) as c:
            c.starttls(context=tls_context(cert))
            c.ehlo()
            c.user, c.password = "other", "pw"
            code, _ = c.auth("LOGIN", c.auth_login)
            check("AUTH LOGIN 235", code == 235)
            c.sendmail("a@example.com", ["carol@example.org"], MSG)
            files = maildir_files(md)
            check("AUTH LOGIN: stored byte for byte", len(files) == 3 and split_stored(files[-1])[1] == MSG)
        # A client that trusts nothing of ours refuses the certificate.
        with smtplib.SMTP("localhost", srv.port, local_hostname="client.example", timeout=10) as c:
            try:
                c.starttls(context=ssl.create_default_context())
                check("system trust store does not accept the throw-away certificate", False)
            except ssl.SSLCertVerificationError:
                check("system trust store does not accept the throw-away certificate", True)
        # docs/security.md 2 (CVE-2011-0411): a command pipelined behind STARTTLS
        # is never executed; the first reply under TLS answers EHLO.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO client.example\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        s.sendall(b"STARTTLS\r\nNOOP\r\nMAIL FROM:<evil@example.com>\r\n")
        line = f.readline()
        check("injection: 220 to STARTTLS", line.startswith(b"220"), line)
        ts = tls_context(cert).wrap_socket(s, server_hostname="localhost")
        ts.sendall(b"EHLO client.example\r\n")
        tf = ts.makefile("rb")
        first = tf.readline()
        check("injection: first reply under TLS answers EHLO (nothing pipelined ran)",
              first.startswith(b"250-localhost"), first)
        while not first.startswith(b"250 "):
            first = tf.readline()
        ts.sendall(b"RCPT TO:<bob@example.org>\r\nQUIT\r\n")
        rest = tf.read()
        check("injection: no transaction survived (RCPT gets 503)", rest.startswith(b"503"), rest)
        ts.close()
    finally:
        check("server exits 0 on SIGTERM", srv.close() == 0)

    # 2. Implicit TLS with SMTP_SSL.
    md2 = os.path.join(tmp, "md2")
    cert2 = os.path.join(tmp, "cert2.pem")
    srv = Server(tmp, "implicit", ["--implicit-tls", "--tls-self-signed", "--tls-cert-out", cert2,
                                   "--auth-file", users, "--require-auth", "--maildir", md2])
    try:
        with smtplib.SMTP_SSL("localhost", srv.port, local_hostname="client.example", timeout=10,
                              context=tls_context(cert2)) as c:
            c.ehlo()
            check("implicit TLS: no STARTTLS, AUTH offered", not c.has_extn("starttls") and c.has_extn("auth"))
            c.login("user", "s3cret")
            c.sendmail("a@example.com", ["bob@example.org"], MSG)
            files = maildir_files(md2)
            check("implicit TLS: stored byte for byte", len(files) == 1 and split_stored(files[0])[1] == MSG)
            check("implicit TLS: Received says ESMTPSA",
                  len(files) == 1 and b"with ESMTPSA id" in split_stored(files[0])[0])
        # The first certificate is not this server's.
        try:
            smtplib.SMTP_SSL("localhost", srv.port, timeout=10, context=tls_context(cert)).quit()
            check("implicit TLS: another instance's certificate is refused", False)
        except ssl.SSLCertVerificationError:
            check("implicit TLS: another instance's certificate is refused", True)
    finally:
        srv.close()

    # 3. LMTP over TCP (RFC 2033).
    md3 = os.path.join(tmp, "md3")
    srv = Server(tmp, "lmtp", ["--lmtp", "--maildir", md3])
    try:
        c = smtplib.LMTP("127.0.0.1", srv.port, local_hostname="client.example")
        code, _ = c.ehlo()  # smtplib sends LHLO for LMTP
        check("LMTP: LHLO 250", code == 250)
        refused = c.sendmail("a@example.com", ["r1@example.org"], MSG)
        check("LMTP: delivered", refused == {}, refused)
        c.quit()
        files = maildir_files(md3)
        check("LMTP: stored byte for byte", len(files) == 1 and split_stored(files[0])[1] == MSG)
        check("LMTP: Received says LMTP", len(files) == 1 and b"with LMTP id" in split_stored(files[0])[0])
    finally:
        srv.close()
finally:
    if tap.failures:
        ilib.print_log_tails(tmp)
    shutil.rmtree(tmp, ignore_errors=True)

tap.finish()
