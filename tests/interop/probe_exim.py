#!/usr/bin/python3
"""Interop: examples/smtp-probe against a private instance of Debian's Exim
(exim_private.py: unpacked packages, its own configuration, spool and logs,
a loopback port, STARTTLS, every message kept queued), with
message_size_limit = 100K so that the size check also sends a message.

What Exim 4.96 (Debian 12, 4.96-15+deb12u11) really does, checked by hand
with a raw socket and the spool before it was written down here:
- DATA: only CRLF "." CRLF ends the data. A bare LF is stored as a space
  (so "\\n.\\n" becomes " . ") and a bare CR as a line end; neither ends the
  data, the NUL form and the dot-less forms are kept in the message too.
  Every smuggling variant is one message with one 250, and the smuggled
  MAIL/RCPT/DATA lines are text inside it.
- BDAT: the chunk is never scanned for an end of data; bare CR and bare LF
  are both stored as line ends. Each chunk: "250- N byte chunk, total M"
  with the final "250 OK id=...".
- bare LF and bare CR inside a message are accepted (250).
- SIZE: advertised as the limit; MAIL with SIZE over it gets
  "552 Message size exceeds maximum permitted". Exim measures a message
  in its stored form (LF line ends): 103,468 octets on the wire (1,328
  lines, about 102,140 with LF ends) were accepted under the 102,400 limit,
  108,616 were refused with the same 552; the probe sends 5% over.
- a 518-octet command line is accepted whole (250 to the NOOP, the tail not
  run); <Postmaster> and postmaster@domain accepted, the null sender too;
  MAIL, RCPT and DATA pipelined get their replies in order; VRFY answers
  "252 Administrative prohibition", EXPN "550 Administrative prohibition";
  a NOOP pipelined behind STARTTLS is discarded.
So the probe reports no FAIL: exit 0, 35 checks PASS (34 in a build
without TLS, where starttls-injection is skipped), and the spool holds
exactly one message per check that sends one (29), none smuggled.

Usage: probe_exim.py PATH/TO/smtp-probe  (exit 77 when a private Exim
cannot run here: not unpacked, no root, no openssl)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exim_private import Exim, usable  # noqa: E402

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


why = usable()
if why:
    print("skip: " + why)
    sys.exit(77)

VARIANTS = ["lf-dot-lf", "lf-dot-crlf", "crlf-dot-lf", "cr-dot-cr", "cr-dot-crlf", "crlf-dot-cr",
            "crlf-dot-cr-crlf", "crlf-nul-dot-crlf", "lf-lf", "cr-cr", "lf-crlf", "crlf-lf"]


def tls_in_build():
    server = os.path.join(os.path.dirname(PROBE), "smtp-server")
    r = subprocess.run([server, "--stdio", "--tls-self-signed"], input=b"QUIT\r\n", capture_output=True,
                       timeout=30)
    return r.returncode == 0


def main():
    tmp = tempfile.mkdtemp(prefix="libsmtp-exim-probe-")
    ex = Exim(tmp)
    try:
        if not ex.start({"message_size_limit": "100K"}):
            check("exim started", False, ex.log()[-1500:])
            return
        args = ["timeout", "300", PROBE, "--server", "127.0.0.1:%d" % ex.port, "--from", "alice@example.org",
                "--to", "bob@example.org", "--helo", "client.example", "--json", "--timeout", "10"]
        t0 = time.time()
        r = subprocess.run(args, capture_output=True, timeout=320)
        took = time.time() - t0
        try:
            out = json.loads(r.stdout.decode())
        except ValueError:
            out = {"checks": []}
        res = {c["name"]: (c["result"], c["detail"]) for c in out.get("checks", [])}
        print("# exim 4.96: %d checks in %.0f s, exit %d" % (len(res), took, r.returncode))
        for name, (v, d) in sorted(res.items()):
            print("#   %s %s: %s" % (v, name, d))
        tls = tls_in_build()
        check("exit 0, nothing failed", r.returncode == 0, (r.returncode, r.stderr[-300:]))
        check("35 checks ran", len(res) == 35, sorted(res))
        want_skip = set() if tls else {"starttls-injection"}
        check("every check PASS (SKIP only without TLS in this build)",
              {n for n, v in res.items() if v[0] != "PASS"} == want_skip, res)
        for v in VARIANTS:
            for name in ("smuggling-" + v, "smuggling-bdat-" + v):
                x = res.get(name, ("?", ""))
                check("%s: one message, 250" % name, x[0] == "PASS" and "one message: 250" in x[1], x)
        for name in ("bare-lf", "bare-cr"):
            x = res.get(name, ("?", ""))
            check("%s accepted" % name, x[0] == "PASS" and "accepted" in x[1], x)
        x = res.get("size-enforced", ("?", ""))
        check("size-enforced: declared and sent sizes refused with 552",
              x[0] == "PASS" and x[1].count("552 Message size exceeds maximum permitted") == 2, x)
        x = res.get("line-length", ("?", ""))
        check("line-length: accepted whole", x[0] == "PASS" and x[1].startswith("accepted: 250"), x)
        check("vrfy: 252 Administrative prohibition",
              "252 Administrative prohibition" in res.get("vrfy", ("", ""))[1], res.get("vrfy"))
        check("expn: 550 Administrative prohibition",
              "550 Administrative prohibition" in res.get("expn", ("", ""))[1], res.get("expn"))
        if tls:
            check("starttls-injection: the NOOP discarded",
                  res.get("starttls-injection", ("?", ""))[0] == "PASS", res.get("starttls-injection"))
        # the spool: one message per check that sends one, none smuggled
        msgs = ex.messages()
        check("29 messages queued (24 smuggling, bare-lf, bare-cr, null-sender, pipelining, chunking)",
              len(msgs) == 29, [(m["sender"], m["recipients"]) for m in msgs])
        check("every message for bob@example.org only",
              all(m["recipients"] == ["bob@example.org"] for m in msgs), [m["recipients"] for m in msgs])
        smuggled = [m for m in msgs if b"A test of end-of-data handling" in m["body"]]
        check("24 smuggling messages, the smuggled commands inside each",
              len(smuggled) == 24 and all(b"MAIL FROM:<alice@example.org>" in m["body"] for m in smuggled),
              len(smuggled))
        bare = [m["body"] for m in msgs if m["body"].startswith(b"line one")]
        check("DATA: bare LF stored as a space, bare CR as a line end",
              sorted(bare) == sorted([b"line one line two\n", b"line one\nline two\n"]), bare)
    finally:
        ex.stop()
        shutil.rmtree(tmp, ignore_errors=True)


main()
print("1..%d" % count)
sys.exit(1 if failures else 0)
