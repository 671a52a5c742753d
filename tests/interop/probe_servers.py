#!/usr/bin/python3
"""Interop: examples/smtp-probe against examples/smtp-server (every check
PASS, exit 0: over STARTTLS and in plaintext) and against the deliberately
weak servers of weak_smtpd.py: each defect is reported as FAIL by its check
while the control checks still PASS; a server that sends garbage, stalls or
closes mid-reply ends the run with exit 2 within the deadline; one that
never answers the end of data makes those checks FAIL within theirs.

Usage: probe_servers.py PATH/TO/smtp-probe   (smtp-server is found next to it)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

PROBE = sys.argv[1]
SERVER = os.path.join(os.path.dirname(PROBE), "smtp-server")
WEAK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weak_smtpd.py")
failures = 0
count = 0


def check(name, cond, detail=""):
    global failures, count
    count += 1
    print(("ok %d - " % count if cond else "not ok %d - " % count) + name
          + ("" if cond else "  # " + repr(detail)[:600]))
    if not cond:
        failures += 1


def probe(port, checks=(), extra=(), timeout=5):
    args = ["timeout", "300", PROBE, "--server", "127.0.0.1:%d" % port, "--from", "alice@example.org",
            "--to", "bob@example.org", "--helo", "client.example", "--json", "--timeout", str(timeout)]
    args += list(extra)
    for c in checks:
        args += ["--check", c]
    t0 = time.time()
    r = subprocess.run(args, capture_output=True, timeout=320)
    try:
        out = json.loads(r.stdout.decode())
    except ValueError:
        out = {"checks": []}
    return r.returncode, {c["name"]: (c["result"], c["detail"]) for c in out.get("checks", [])}, \
        time.time() - t0, r.stderr.decode(errors="replace")


class Proc:
    def __init__(self, args, pattern, stream="stderr"):
        self.log = tempfile.TemporaryFile()
        kw = {"stderr": self.log} if stream == "stderr" else {"stdout": self.log, "stderr": subprocess.DEVNULL}
        self.p = subprocess.Popen(["timeout", "600"] + args, **kw)
        self.port = None
        deadline = time.time() + 15
        while time.time() < deadline and self.port is None:
            self.log.seek(0)
            m = re.search(pattern, self.log.read().decode(errors="replace"))
            if m:
                self.port = int(m.group(1))
            elif self.p.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("did not start: %r" % args)

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()


def smtp_server(args):
    return Proc([SERVER, "--listen", "127.0.0.1:0", "--hostname", "mx.test"] + args,
                r"listening on 127\.0\.0\.1:(\d+) ")


def weak(mode, cert=None, key=None):
    return Proc([sys.executable, WEAK, mode] + ([cert, key] if cert else []), r"port (\d+)", "stdout")


def tls_in_build():
    r = subprocess.run([SERVER, "--stdio", "--tls-self-signed"], input=b"QUIT\r\n", capture_output=True,
                       timeout=30)
    return r.returncode == 0


TLS = tls_in_build()

ALL_VARIANTS = ["lf-dot-lf", "lf-dot-crlf", "crlf-dot-lf", "cr-dot-cr", "cr-dot-crlf", "crlf-dot-cr",
                "crlf-dot-cr-crlf", "crlf-nul-dot-crlf", "lf-lf", "cr-cr", "lf-crlf", "crlf-lf"]


def against_smtp_server():
    for tag, args in (("STARTTLS", ["--tls-self-signed", "--max-size", "100000", "--discard"]),
                      ("plaintext", ["--max-size", "100000", "--discard"])):
        if tag == "STARTTLS" and not TLS:
            print("# no TLS in this build: smtp-server over STARTTLS skipped")
            continue
        sv = smtp_server(args)
        try:
            rc, res, took, err = probe(sv.port)
            print("# smtp-server (%s): %d checks in %.0f s" % (tag, len(res), took))
            for name, (r, d) in sorted(res.items()):
                print("#   %s %s: %s" % (r, name, d))
            check("smtp-server %s: exit 0" % tag, rc == 0, (rc, err))
            check("smtp-server %s: no FAIL" % tag, not [n for n, v in res.items() if v[0] == "FAIL"], res)
            check("smtp-server %s: 35 checks ran" % tag, len(res) == 35, sorted(res))
            for v in ALL_VARIANTS:
                r = res.get("smuggling-" + v, ("?", ""))
                check("smtp-server %s: smuggling-%s refused (550/554 5.6.0)" % (tag, v),
                      r[0] == "PASS" and "refused: 55" in r[1], r)
            want_skip = {"starttls-injection"} if tag == "plaintext" else set()
            check("smtp-server %s: SKIP only where the feature is absent" % tag,
                  {n for n, v in res.items() if v[0] == "SKIP"} == want_skip, res)
        finally:
            sv.stop()


# mode -> (checks that must FAIL, checks that must PASS)
WEAK_CASES = {
    "good": ([], ["smuggling-lf-dot-crlf", "smuggling-bdat-lf-dot-crlf", "starttls-injection", "size-enforced",
                  "line-length", "postmaster", "null-sender", "pipelining", "chunking", "bare-lf"]),
    "lf-end": (["smuggling-lf-dot-lf", "smuggling-lf-dot-crlf", "smuggling-crlf-dot-lf"],
               ["smuggling-cr-dot-cr", "pipelining"]),
    "cr-end": (["smuggling-lf-dot-crlf", "smuggling-cr-dot-cr", "smuggling-cr-dot-crlf", "smuggling-crlf-dot-cr"],
               ["smuggling-crlf-nul-dot-crlf", "null-sender"]),
    "bdat-scan": (["smuggling-bdat-lf-dot-crlf", "smuggling-bdat-crlf-dot-lf"], ["smuggling-lf-dot-crlf", "chunking"]),
    "starttls-inject": (["starttls-injection"], ["pipelining"]),
    "size-ignored": (["size-enforced"], ["postmaster"]),
    "line-split": (["line-length"], ["null-sender"]),
    "no-postmaster": (["postmaster"], ["null-sender"]),
    "no-null-sender": (["null-sender"], ["postmaster"]),
    "pipelining-drop": (["pipelining"], ["line-length"]),
    "chunking-broken": (["chunking"], ["pipelining"]),
    "bare-hangup": (["bare-lf", "bare-cr"], ["postmaster"]),
}


def against_weak(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    have_cert = shutil.which("openssl") and subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=weak.test",
         "-keyout", key, "-out", cert], capture_output=True, timeout=60).returncode == 0
    for mode, (fails, passes) in WEAK_CASES.items():
        tls = mode in ("starttls-inject", "good")
        if tls and not have_cert:
            print("# %s: no openssl, skipped" % mode)
            continue
        if mode == "starttls-inject" and not TLS:
            print("# %s: no TLS in this build (the probe cannot do STARTTLS), skipped" % mode)
            continue
        if mode == "good" and not TLS:
            fails, passes = fails, [n for n in passes if n != "starttls-injection"]
        w = weak(mode, cert if tls else None, key if tls else None)
        try:
            extra = [] if mode == "starttls-inject" else ["--starttls", "off"]
            rc, res, took, err = probe(w.port, fails + passes, extra)
            check("weak %s: exit %d" % (mode, 1 if fails else 0), rc == (1 if fails else 0), (rc, res, err))
            for n in fails:
                check("weak %s: %s FAIL" % (mode, n), res.get(n, ("?",))[0] == "FAIL", res.get(n))
            for n in passes:
                check("weak %s: %s PASS" % (mode, n), res.get(n, ("?",))[0] == "PASS", res.get(n))
        finally:
            w.stop()

    # hostile transports: exit 2, within the deadline (3 s) plus slack
    for mode in ("garbage", "stall", "close-mid-reply", "stall-mid-reply"):
        w = weak(mode)
        try:
            rc, res, took, err = probe(w.port, timeout=3)
            check("hostile %s: exit 2 in %.1f s (deadline 3 s)" % (mode, took), rc == 2 and took < 8, (rc, took, err))
            check("hostile %s: one line on stderr" % mode, err.count("\n") == 1 and "smtp-probe:" in err, err)
        finally:
            w.stop()
    # a server that never answers the end of data: those checks FAIL in time
    w = weak("stall-data")
    try:
        rc, res, took, err = probe(w.port, ["bare-lf", "smuggling-lf-dot-crlf", "postmaster", "pipelining"],
                                   ["--starttls", "off"], timeout=3)
        check("stall-data: exit 1 in %.1f s" % took, rc == 1 and took < 20, (rc, took, res))
        check("stall-data: bare-lf FAIL (no reply)", res.get("bare-lf", ("?", ""))[0] == "FAIL"
              and "timed out" in res["bare-lf"][1], res.get("bare-lf"))
        check("stall-data: postmaster still PASS", res.get("postmaster", ("?",))[0] == "PASS", res.get("postmaster"))
        # MAIL, RCPT and DATA pipelined all get their replies (354 included):
        # pipelining works; only the reply after the data never comes
        check("stall-data: pipelining PASS, the message timed out",
              res.get("pipelining", ("?", ""))[0] == "PASS" and "message: timed out" in res["pipelining"][1],
              res.get("pipelining"))
    finally:
        w.stop()
    # a server that drops pipelined commands: checks that need a whole
    # envelope say they were not tested (a FAIL: the server broke what it offered)
    w = weak("pipelining-drop")
    try:
        rc, res, took, err = probe(w.port, ["smuggling-lf-dot-lf", "bare-lf"], ["--starttls", "off"], timeout=3)
        for n in ("smuggling-lf-dot-lf", "bare-lf"):
            check("pipelining-drop: %s FAIL, not tested (no whole envelope)" % n,
                  res.get(n, ("?", ""))[0] == "FAIL" and res[n][1].startswith("not tested: the envelope"), res.get(n))
    finally:
        w.stop()


def usage_errors():
    for args in ([], ["--server", "127.0.0.1:1", "--from", "a@b.example"],
                 ["--server", "127.0.0.1:1", "--from", "a@b.example", "--to", "c@d.example", "--check", "nope"],
                 ["--server", "127.0.0.1:99999", "--from", "a@b.example", "--to", "c@d.example"],
                 ["--server", "127.0.0.1:1", "--from", "a@b.example", "--to", "c@d\r\n.example"],
                 ["--bogus"]):
        r = subprocess.run([PROBE] + args, capture_output=True, timeout=10)
        check("usage error %r: exit 64" % args, r.returncode == 64, r)
    r = subprocess.run([PROBE, "--help"], capture_output=True, timeout=10)
    check("--help says only the given recipients are used",
          r.returncode == 0 and b"uses only the addresses it is given" in r.stdout, r.stdout[:300])
    import socket
    sk = socket.socket()
    sk.bind(("127.0.0.1", 0))
    free = sk.getsockname()[1]
    sk.close()  # nothing listens there now
    r = subprocess.run([PROBE, "--server", "127.0.0.1:%d" % free, "--from", "a@b.example", "--to", "c@d.example"],
                       capture_output=True, timeout=30)
    check("nothing listening: exit 2", r.returncode == 2, r)


def main():
    tmp = tempfile.mkdtemp(prefix="libsmtp-probe-")
    try:
        usage_errors()
        against_weak(tmp)
        against_smtp_server()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % count)
    sys.exit(1 if failures else 0)


main()
