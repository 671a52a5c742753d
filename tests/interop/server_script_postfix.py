#!/usr/bin/python3
"""Interop: Postfix's SMTP client (a private Postfix instance relaying to
examples/smtp-server --script) retries after a scripted 4xx and keeps the
message deferred with the scripted reply; after a scripted 5xx it gives up
at once (one attempt, a bounce). Loopback only, bounded in time.

Usage: server_script_postfix.py PATH/TO/smtp-server  (exit 77 without
Postfix, openssl or root)
"""
import json
import os
import shutil
import smtplib
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402  (tests/interop/ilib.py)
from postfix_private import Postfix, usable  # noqa: E402

SERVER = sys.argv[1]
tap = ilib.Tap(800)
check = tap.check


if usable():
    print("skip: " + usable())
    sys.exit(77)


def scripted_server(tmp, name, rules):
    path = os.path.join(tmp, name + ".rules")
    with open(path, "w") as f:
        f.write(rules)
    cap = os.path.join(tmp, name + ".jsonl")
    srv = ilib.Server(SERVER, tmp, name, ["--script", path, "--capture", cap], limit=300, hostname="relay.test")
    return srv, srv.port, cap


def records(cap):
    if not os.path.exists(cap):
        return []
    with open(cap) as f:
        return [json.loads(line) for line in f if line.strip()]


def run(tmp, rules, rcpt, want_attempts, tag):
    srv, sport, cap = scripted_server(tmp, tag, rules)
    pf = Postfix(os.path.join(tmp, "pf-" + tag))
    try:
        ok = pf.start({"relayhost": "[127.0.0.1]:%d" % sport, "default_transport": "smtp",
                       "relay_transport": "smtp", "mydestination": "mx.test",
                       "queue_run_delay": "1s", "minimal_backoff_time": "1s",
                       "maximal_backoff_time": "2s", "smtp_tls_security_level": "none",
                       "smtp_helo_name": "postfix.test", "bounce_queue_lifetime": "0",
                       "notify_classes": ""})
        check("%s: private Postfix started" % tag, ok, pf.log()[-1500:])
        if not ok:
            return None, pf
        with smtplib.SMTP("127.0.0.1", pf.port, timeout=20) as c:
            c.sendmail("alice@mx.test", [rcpt], b"Subject: relayed\r\n\r\nvia Postfix\r\n")
        deadline = time.time() + 40
        recs = []
        while time.time() < deadline:
            recs = [r for r in records(cap) if any(x["path"] == rcpt for x in r["rcpts"])]
            if len(recs) >= want_attempts:
                break
            time.sleep(0.3)
        return recs, pf
    finally:
        srv.close()


def main():
    tmp = tempfile.mkdtemp(prefix="libsmtp-pfscript-")
    os.chmod(tmp, 0o755)
    pfs = []
    try:
        # 4xx: Postfix retries (a new connection each time) and keeps the message deferred
        recs, pf = run(tmp, "RCPT reply 451 4.3.0 Scripted deferral\n", "bob@example.net", 2, "tempfail")
        pfs.append(pf)
        if recs is not None:
            check("4xx: Postfix came back (at least two attempts)", len(recs) >= 2, recs)
            check("4xx: every attempt got the scripted 451",
                  all(r["rcpts"][0]["code"] == 451 and r["rcpts"][0]["enhanced"] == "4.3.0" for r in recs), recs)
            check("4xx: from Postfix's client (HELO postfix.test), no data sent",
                  all(r["helo"] == "postfix.test" and r["data"] is None for r in recs), recs)
            q = pf.queue()
            check("4xx: the message waits in Postfix's queue with the scripted reply",
                  "bob@example.net" in q and "Scripted deferral" in q, q)
        # 5xx: one attempt, then a bounce (no retry)
        recs, pf = run(tmp, "RCPT reply 550 5.7.1 Scripted refusal\n", "carol@example.net", 1, "reject")
        pfs.append(pf)
        if recs is not None:
            time.sleep(4)  # long enough for two more queue runs
            recs = [r for r in records(os.path.join(tmp, "reject.jsonl"))
                    if any(x["path"] == "carol@example.net" for x in r["rcpts"])]
            check("5xx: exactly one attempt", len(recs) == 1, recs)
            check("5xx: Postfix logged the scripted refusal as a bounce",
                  "status=bounced" in pf.log() and "Scripted refusal" in pf.log(), pf.log()[-1500:])
            check("5xx: nothing left for carol in the queue", "carol@example.net" not in pf.queue(), pf.queue())
    finally:
        for pf in pfs:
            pf.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    tap.finish()


main()
