#!/usr/bin/python3
"""Interop: smtp-send AUTH through Postfix submission to Dovecot's SASL.

A private Postfix instance (postfix_private.py: its own configuration and
queue under a temporary folder, loopback only) with smtpd_sasl_type =
dovecot asks a private Dovecot 2.3 (only its auth service, with a
passwd-file) over Dovecot's auth-client socket; relaying is allowed only to
authenticated clients (permit_sasl_authenticated), and only under TLS
(smtpd_tls_auth_only). smtp-send, under STARTTLS with Postfix's certificate
verified:

  - SCRAM-SHA-1, SCRAM-SHA-256 (RFC 5802, RFC 7677: the mechanisms Dovecot
    2.3 offers; Postfix passes each challenge through), PLAIN, LOGIN: the
    message is relayed (RCPT 250), Postfix's log names the method and user;
  - the default choice is SCRAM-SHA-256; the client holds TLS channel-binding
    data and the server offers no -PLUS form, so it sends the "y" flag,
    which Dovecot (no channel binding in 2.3) accepts;
  - a wrong password: 535 5.7.8; no AUTH at all: relaying refused (554);
  - the trace never shows the password or a SCRAM proof.

Dovecot 2.3.19 (Debian 12) offers no SCRAM -PLUS mechanism: there is no
channel binding in it (added in Dovecot 2.4), so no real peer here tests
-PLUS; sasl_channel_binding.sh covers it between the example programs.

Needs root (Postfix's master), Postfix, Dovecot (dovecot-core) and openssl;
skipped (77) otherwise. Usage: client_postfix_dovecot.py PATH/TO/smtp-send
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402  (tests/interop/ilib.py)
import postfix_private  # noqa: E402

SEND = sys.argv[1]
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
tap = ilib.Tap(600, tail=True)
check = tap.check


def skip(why):
    print("1..0 # SKIP " + why)
    sys.exit(77)


why = postfix_private.usable()
if why:
    skip(why)
if not DOVECOT:
    skip("dovecot not installed")
try:
    import pwd
    nobody = pwd.getpwnam("nobody")
except KeyError:
    skip("no user nobody")

tmp = tempfile.mkdtemp(prefix="libsmtp-pfdc.")
os.chmod(tmp, 0o755)
procs = []
pf = None
try:
    # ---- Dovecot: the auth service only
    d = os.path.join(tmp, "dovecot")
    for sub in ("run", "state"):
        os.makedirs(os.path.join(d, sub))
    os.chmod(d, 0o755)
    os.chmod(os.path.join(d, "run"), 0o755)
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write("alice:{PLAIN}pencil::::::\n")
    sock = os.path.join(d, "run", "auth-postfix")
    with open(os.path.join(d, "dovecot.conf"), "w") as f:
        f.write("""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
auth_verbose = yes
protocols =
disable_plaintext_auth = no
auth_mechanisms = plain login scram-sha-1 scram-sha-256
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
}}
""".format(d=d, uid=nobody.pw_uid, gid=nobody.pw_gid))
    dv = subprocess.Popen(["timeout", "170", DOVECOT, "-c", os.path.join(d, "dovecot.conf"), "-F"],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "stderr"), "w"))
    procs.append(dv)
    deadline = time.time() + 20
    while time.time() < deadline and not os.path.exists(sock):
        time.sleep(0.1)
    if not os.path.exists(sock):
        print("# dovecot did not start: " + open(os.path.join(d, "stderr")).read()[-1000:])
        try:
            print("# " + open(os.path.join(d, "dovecot.log")).read()[-1000:])
        except OSError:
            pass
        sys.exit(1)

    # ---- Postfix: submission-style smtpd with Dovecot SASL
    pf = postfix_private.Postfix(os.path.join(tmp, "pf"))
    ok = pf.start({
        "mynetworks": "192.0.2.0/24",  # not loopback: relaying needs AUTH
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_sasl_type": "dovecot",
        "smtpd_sasl_path": sock,
        "smtpd_tls_auth_only": "yes",
        "smtpd_relay_restrictions": "permit_sasl_authenticated, reject_unauth_destination",
        "smtpd_recipient_restrictions": "permit_sasl_authenticated, reject_unauth_destination",
    })
    if not ok:
        sys.exit(1)
    ca = os.path.join(pf.conf, "cert.pem")

    def send(name, *args):
        p = subprocess.run(["timeout", "40", SEND, "--server", "127.0.0.1:%d" % pf.port,
                            "--tls-servername", "mx.test", "--ca-file", ca, "--starttls", "required",
                            "--from", "a@example.com", "--to", "rcpt@elsewhere.example", "--trace"]
                           + list(args),
                           input=("Subject: %s\r\n\r\nbody\r\n" % name).encode(), capture_output=True)
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        with open(os.path.join(tmp, name + ".out"), "w") as f:
            f.write(out)
        return p.returncode, out

    rc, out = send("none")
    check("without AUTH: relaying refused (554 5.7.1), exit 2",
          rc == 2 and re.search(r"^RCPT rcpt@elsewhere\.example 554 5\.7\.1", out, re.M), out)
    check("Postfix offers Dovecot's mechanisms after STARTTLS",
          re.search(r"^S: 250-AUTH .*SCRAM-SHA-1.*SCRAM-SHA-256|^S: 250-AUTH .*SCRAM-SHA-256.*SCRAM-SHA-1",
                    out, re.M), out)
    check("  no -PLUS form among them (Dovecot 2.3 has no channel binding)", "-PLUS" not in out, out)
    check("  and none before it (smtpd_tls_auth_only)",
          out.count("250-AUTH") + out.count("250 AUTH") == 1, out)

    for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN", "LOGIN"):
        rc, out = send(mech, "--auth", "alice:pencil", "--auth-mech", mech)
        check("%s: exit 0, relayed (RCPT 250)" % mech,
              rc == 0 and re.search(r"^RCPT rcpt@elsewhere\.example 250", out, re.M), out)
        check("%s: AUTH %s, 235" % (mech, mech),
              re.search(r"^C: AUTH %s( |$)" % mech, out, re.M) and re.search(r"^S: 235", out, re.M), out)
        check("%s: no password in the trace" % mech, "pencil" not in out, out)
    out = open(os.path.join(tmp, "SCRAM-SHA-256.out")).read()
    check("SCRAM: the client's SASL lines are redacted",
          not re.search(r"^C: [A-Za-z0-9+/=]{40,}$", out, re.M), out)

    rc, out = send("default", "--auth", "alice:pencil")
    check("default choice: SCRAM-SHA-256, relayed",
          rc == 0 and re.search(r"^C: AUTH SCRAM-SHA-256 ", out, re.M), out)

    rc, out = send("wrong", "--auth", "alice:pencyl", "--auth-mech", "SCRAM-SHA-256")
    check("wrong password: 535 5.7.8, exit 2", rc == 2 and "535 5.7.8" in out, out)

    time.sleep(0.5)
    log = pf.log()
    for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN", "LOGIN"):
        check("Postfix logged sasl_method=%s, sasl_username=alice" % mech,
              "sasl_method=%s, sasl_username=alice" % mech in log, log[-1500:])
    try:
        dlog = open(os.path.join(d, "dovecot.log"), errors="replace").read()
    except OSError:
        dlog = ""
    check("Dovecot's auth saw the wrong password for alice",
          re.search(r"alice.*(Password mismatch|password mismatch|mismatch)", dlog) is not None, dlog[-1500:])
finally:
    if pf:
        pf.stop()
    for p in procs:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)

tap.finish()
