#!/usr/bin/python3
"""Interop: examples/smtp-probe against a private instance of Debian's Postfix
(its own configuration, queue and log directories under a temporary folder;
smtpd on a loopback port the kernel picked; every message discarded).

What Postfix 3.7.11 (Debian 12) really does, checked by hand with the probe
and a raw socket before it was written down here:

- smtpd_forbid_bare_newline = no (the 3.7 default): smtpd takes a bare LF as
  a line end, so "\\n.\\n", "\\n.\\r\\n", "\\r\\n.\\n" and "\\r\\n.\\r\\r\\n" (the
  dot line with an extra CR) end the data and the smuggled MAIL, RCPT and
  DATA run: replies 250 250 250 354 250 (CVE-2023-51764). The bare CR forms,
  the NUL form and the dot-less ones are taken as one message; BDAT content
  is never scanned.
- smtpd_forbid_bare_newline = yes (normalize) with no exclusions: only
  CRLF.CRLF ends the data; every variant is one message; bare LF and bare CR
  inside a message are accepted. (The default exclusion list, $mynetworks,
  would exempt the loopback probe: it is emptied here.)
- smtpd_forbid_bare_newline = reject: a bare LF is refused with
  "550 5.5.2 ... Error: bare <LF> received"; a bare CR is still accepted.
- Either way: SIZE refused over message_size_limit both when declared
  (552 5.3.4) and when sent; a 524-octet command line is accepted whole;
  <Postmaster> and the null sender accepted; PIPELINING and CHUNKING work;
  VRFY answers 252, EXPN is "500 5.5.2 Error: command not recognized";
  nothing pipelined behind STARTTLS is run.

Usage: probe_postfix.py PATH/TO/smtp-probe  (exit 77 without Postfix,
openssl or root, which starting a private Postfix instance needs)
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PROBE = sys.argv[1]
failures = 0
count = 0


def check(name, cond, detail=""):
    global failures, count
    count += 1
    print(("ok %d - " % count if cond else "not ok %d - " % count) + name
          + ("" if cond else "  # " + repr(detail)[:600]))
    if not cond:
        failures += 1


def skip(why):
    print("skip: " + why)
    sys.exit(77)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postfix_private import Postfix, usable  # noqa: E402

if usable():
    skip(usable())


def probe(port, checks=()):
    args = ["timeout", "300", PROBE, "--server", "127.0.0.1:%d" % port, "--from", "alice@example.org",
            "--to", "bob@example.org", "--helo", "client.example", "--json", "--timeout", "10"]
    for c in checks:
        args += ["--check", c]
    t0 = time.time()
    r = subprocess.run(args, capture_output=True, timeout=320)
    try:
        out = json.loads(r.stdout.decode())
    except ValueError:
        out = {"checks": [], "raw": r.stdout.decode(errors="replace"), "err": r.stderr.decode(errors="replace")}
    res = {c["name"]: (c["result"], c["detail"]) for c in out.get("checks", [])}
    return r.returncode, res, time.time() - t0


VARIANTS = ["lf-dot-lf", "lf-dot-crlf", "crlf-dot-lf", "cr-dot-cr", "cr-dot-crlf", "crlf-dot-cr",
            "crlf-dot-cr-crlf", "crlf-nul-dot-crlf", "lf-lf", "cr-cr", "lf-crlf", "crlf-lf"]
POSTFIX_37_SMUGGLED = {"lf-dot-lf", "lf-dot-crlf", "crlf-dot-lf", "crlf-dot-cr-crlf"}
COMMON = ["starttls-injection", "size-enforced", "line-length", "postmaster", "null-sender",
          "pipelining", "chunking", "vrfy", "expn"]


def tls_in_build():
    server = os.path.join(os.path.dirname(PROBE), "smtp-server")
    r = subprocess.run([server, "--stdio", "--tls-self-signed"], input=b"QUIT\r\n", capture_output=True,
                       timeout=30)
    return r.returncode == 0


if not tls_in_build():
    COMMON.remove("starttls-injection")  # the probe cannot do STARTTLS in a build without TLS


def common_checks(tag, res):
    for name in COMMON:
        check("%s: %s PASS" % (tag, name), res.get(name, ("?",))[0] == "PASS", res.get(name))
    check("%s: vrfy not exposed (252)" % tag, "252" in res.get("vrfy", ("", ""))[1], res.get("vrfy"))
    check("%s: line-length: accepted whole" % tag, "accepted" in res.get("line-length", ("", ""))[1],
          res.get("line-length"))
    for v in VARIANTS:
        r = res.get("smuggling-bdat-" + v, ("?", ""))
        check("%s: smuggling-bdat-%s taken as one message" % (tag, v),
              r[0] == "PASS" and "one message" in r[1], r)


def main():
    tmp = tempfile.mkdtemp(prefix="libsmtp-pfx-")
    pf = Postfix(tmp)
    try:
        # 1. smtpd_forbid_bare_newline = no
        if not pf.start({"smtpd_forbid_bare_newline": "no"}):
            check("postfix (forbid no) started", False)
            return
        rc, res, took = probe(pf.port)
        print("# forbid=no: %d checks in %.0f s" % (len(res), took))
        for name, (r, d) in sorted(res.items()):
            print("#   %s %s: %s" % (r, name, d))
        check("forbid=no: exit 1 (something failed)", rc == 1, rc)
        for v in VARIANTS:
            r = res.get("smuggling-" + v, ("?", ""))
            if v in POSTFIX_37_SMUGGLED:
                check("forbid=no: smuggling-%s FAIL (replies 250 250 250 354 250)" % v,
                      r[0] == "FAIL" and "250 250 250 354 250" in r[1], r)
            else:
                check("forbid=no: smuggling-%s PASS, one message" % v,
                      r[0] == "PASS" and "one message" in r[1], r)
        for name in ("bare-lf", "bare-cr"):
            check("forbid=no: %s accepted" % name, res.get(name, ("?", ""))[0] == "PASS"
                  and "accepted" in res[name][1], res.get(name))
        common_checks("forbid=no", res)
        pf.stop()

        # 2. smtpd_forbid_bare_newline = yes (normalize), loopback not exempt
        if not pf.start({"smtpd_forbid_bare_newline": "yes", "smtpd_forbid_bare_newline_exclusions": ""}):
            check("postfix (forbid yes) started", False)
            return
        rc, res, took = probe(pf.port)
        print("# forbid=yes: %d checks in %.0f s" % (len(res), took))
        check("forbid=yes: exit 0, nothing failed", rc == 0, [(k, v) for k, v in res.items() if v[0] != "PASS"])
        for v in VARIANTS:
            r = res.get("smuggling-" + v, ("?", ""))
            check("forbid=yes: smuggling-%s PASS, one message" % v, r[0] == "PASS" and "one message" in r[1], r)
        for name in ("bare-lf", "bare-cr"):
            check("forbid=yes: %s accepted (normalized)" % name,
                  res.get(name, ("?", ""))[0] == "PASS" and "accepted" in res[name][1], res.get(name))
        common_checks("forbid=yes", res)
        pf.stop()

        # 3. smtpd_forbid_bare_newline = reject: a subset
        if not pf.start({"smtpd_forbid_bare_newline": "reject", "smtpd_forbid_bare_newline_exclusions": ""}):
            check("postfix (forbid reject) started", False)
            return
        rc, res, took = probe(pf.port, ["bare-lf", "bare-cr", "smuggling-lf-dot-crlf", "smuggling-cr-dot-cr"])
        check("forbid=reject: exit 0", rc == 0, res)
        check("forbid=reject: bare-lf refused with 550 5.5.2",
              res.get("bare-lf", ("?", ""))[0] == "PASS" and "refused: 550 5.5.2" in res["bare-lf"][1],
              res.get("bare-lf"))
        check("forbid=reject: smuggling-lf-dot-crlf refused",
              res.get("smuggling-lf-dot-crlf", ("?", ""))[0] == "PASS"
              and "refused" in res["smuggling-lf-dot-crlf"][1], res.get("smuggling-lf-dot-crlf"))
        check("forbid=reject: bare-cr still accepted",
              res.get("bare-cr", ("?", ""))[0] == "PASS" and "accepted" in res["bare-cr"][1], res.get("bare-cr"))
        check("forbid=reject: smuggling-cr-dot-cr one message",
              res.get("smuggling-cr-dot-cr", ("?", ""))[0] == "PASS", res.get("smuggling-cr-dot-cr"))
    finally:
        pf.stop()
        shutil.rmtree(tmp, ignore_errors=True)


main()
print("1..%d" % count)
sys.exit(1 if failures else 0)
