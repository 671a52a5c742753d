#!/usr/bin/python3
"""Interop: STARTTLS between the example programs and Exim 4.96 (GnuTLS), a
private instance (exim_private.py), in both directions:

- smtp-send into Exim: STARTTLS required and the certificate verified
  against Exim's own (RFC 3207; RFC 6125 name check through
  --tls-servername), TLS 1.3 on both sides' records (smtp-send's trace,
  Exim's spool), the message as Exim stored it, with BDAT (RFC 3030, which
  Exim offers) and with DATA; a wrong trust anchor fails before MAIL and
  queues nothing.
- Exim's smtp transport into smtp-server: TLS required and the
  certificate verified (Exim's log: X=TLS1.3, CV=yes), the body stored
  byte for byte.

Loopback only, every program bounded by timeout(1); skipped (77) when Exim
is not unpacked, not root, or smtp-send has no TLS.

Usage: tls_exim.py PATH/TO/smtp-send
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exim_private  # noqa: E402
import tls_peer_lib as t  # noqa: E402

SEND, SERVER = t.programs(sys.argv[1])
why = exim_private.usable()
if why:
    t.skip(why)
if not t.tls_in_build(SEND):
    t.skip("smtp-send without TLS")

BODY_LF = t.BODY.replace(b"\r\n", b"\n")
tmp = tempfile.mkdtemp(prefix="libsmtp-exim.")
ex = exim_private.Exim(tmp, hostname="mx.test")
srv = None
try:
    if not ex.start():
        t.check("exim starts", False, ex.log()[-1500:])
        t.finish()
    other, _ = t.make_cert(tmp, "other", "mx.test")

    # 1. smtp-send -> Exim, BDAT and DATA.
    for label, extra in (("BDAT", []), ("DATA", ["--no-chunking"])):
        before = len(ex.messages())
        rc, out, err = t.send(SEND, tmp, ex.port, t.message("to exim " + label),
                              ["--starttls", "required", "--ca-file", ex.cert, "--tls-servername", "mx.test"]
                              + extra)
        t.check("smtp-send -> exim (%s): accepted, exit 0" % label, rc == 0, out + err[-1500:])
        proto, cipher = t.trace_tls(err)
        t.check("smtp-send -> exim (%s): %s (trace: %s %s)" % (label, t.want_proto(), proto, cipher),
                proto == t.want_proto(), err[:600])
        t.check("smtp-send -> exim (%s): %s" % (label, "BDAT used" if label == "BDAT" else "DATA used"),
                ("C: BDAT" in err) == (label == "BDAT"), err[-800:])
        time.sleep(0.2)
        msgs = ex.messages()
        t.check("smtp-send -> exim (%s): one message queued" % label, len(msgs) == before + 1, len(msgs))
        if len(msgs) == before + 1:
            m = msgs[-1]
            want_ver = "TLS1.3" if t.WANT13 else "TLS1.2"
            t.check("smtp-send -> exim (%s): exim recorded %s" % (label, want_ver),
                    m["tls_ver"] == want_ver, m["options"])
            t.check("smtp-send -> exim (%s): envelope" % label,
                    m["sender"] == "sender@example.com" and m["recipients"] == ["rcpt@example.org"], m)
            t.check("smtp-send -> exim (%s): body as sent (dots unstuffed)" % label,
                    m["body"] == BODY_LF, m["body"][:200])
            t.check("smtp-send -> exim (%s): subject header" % label,
                    ("Subject: to exim " + label).encode() in m["headers"], m["headers"][:400])

    before = len(ex.messages())
    rc, out, err = t.send(SEND, tmp, ex.port, t.message("wrong anchor"),
                          ["--starttls", "required", "--ca-file", other, "--tls-servername", "mx.test"])
    t.check("smtp-send -> exim, wrong trust anchor: fails (exit 2)", rc == 2, (rc, out, err[-600:]))
    t.check("... and no MAIL was sent", "C: MAIL" not in err, err[-600:])
    time.sleep(0.2)
    t.check("... nothing queued", len(ex.messages()) == before)

    # 2. Exim -> smtp-server, certificate verified by Exim.
    cert, key = t.make_cert(tmp, "ours", "localhost")
    srv = t.SmtpServer(SERVER, tmp, "server", cert, key)
    rc, log = ex.send("sender@example.com", ["rcpt@example.org"], t.message("from exim"), srv.port,
                      {"tls_verify_certificates": cert, "tls_verify_hosts": "*",
                       "tls_verify_cert_hostnames": ""})
    t.check("exim -> smtp-server: delivered (exim exit 0)", rc == 0 and "=> rcpt@example.org" in log, log[-1500:])
    want_x = "X=TLS1.3:" if t.WANT13 else "X=TLS1.2:"
    t.check("exim -> smtp-server: exim logged %s" % want_x[2:-1], want_x in log, log[-800:])
    t.check("exim -> smtp-server: exim verified the certificate (CV=yes)", "CV=yes" in log, log[-800:])
    time.sleep(0.2)
    stored = t.maildir_messages(srv.maildir)
    t.check("exim -> smtp-server: one message stored", len(stored) == 1, len(stored))
    if stored:
        head, msg = stored[-1]
        hdrs, _, body = msg.partition(b"\r\n\r\n")
        t.check("exim -> smtp-server: body byte for byte", body == t.BODY, body[:200])
        t.check("exim -> smtp-server: Exim's own Received header kept", b"(Exim 4." in hdrs, hdrs[:400])
        t.check("exim -> smtp-server: our Received says ESMTPS", b"ESMTPS" in head, head)
    rc, log = ex.send("sender@example.com", ["rcpt@example.org"], t.message("from exim, bad anchor"), srv.port,
                      {"tls_verify_certificates": other, "tls_verify_hosts": "*",
                       "tls_verify_cert_hostnames": ""})
    t.check("exim -> smtp-server with a wrong anchor: not delivered", "=> rcpt@example.org" not in log, log[-800:])
    t.check("... nothing stored", len(t.maildir_messages(srv.maildir)) == 1)
finally:
    if srv:
        srv.close()
    ex.stop()
    shutil.rmtree(tmp, ignore_errors=True)
t.finish()
