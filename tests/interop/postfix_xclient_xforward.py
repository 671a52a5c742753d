#!/usr/bin/python3
"""Interop: a private Postfix instance (its own configuration and queue
under a temporary directory, loopback only) between examples/smtp-send and
examples/smtp-server:

  smtp-send --xclient 'ADDR=192.0.2.44 ... HELO=orig.example'
     -> Postfix smtpd (smtpd_authorized_xclient_hosts = 127.0.0.0/8)
     -> Postfix smtp client (smtp_send_xforward_command = yes)
     -> smtp-server --xforward --trusted-proxy 127.0.0.1 --maildir

Postfix's log must show the XCLIENT-announced client, and the message
stored by smtp-server must name it in its Received header (from XFORWARD).
Also: smtp-send's XCLIENT refused by a Postfix that does not trust it
(550 5.7.0), the message still delivered as the client itself. Needs root
(Postfix's master) and Postfix; skipped (77) otherwise. Bounded in time.

Usage: postfix_xclient_xforward.py PATH/TO/smtp-server   (smtp-send next to it)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import ilib  # noqa: E402  (tests/interop/ilib.py)

SERVER = sys.argv[1]
SEND = os.path.join(os.path.dirname(SERVER), "smtp-send")
POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix" if os.path.exists("/usr/sbin/postfix") else None)
tap = ilib.Tap(400)
check = tap.check


free_port = ilib.free_port


def postfix(d, *args):
    # Postfix's commands print to stderr only on a terminal: script(1) gives one
    return subprocess.run(["timeout", "60", "script", "-qc", "postfix -c %s/etc %s" % (d, " ".join(args)),
                           "/dev/null"], capture_output=True).stdout.decode(errors="replace")


def instance(tmp, name, port, relay_port, xclient_hosts):
    d = os.path.join(tmp, name)
    for sub in ("etc", "queue", "data"):
        os.makedirs(os.path.join(d, sub))
    shutil.chown(os.path.join(d, "data"), "postfix")
    with open(os.path.join(d, "etc", "main.cf"), "w") as f:
        f.write("""compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = {name}.test
mydomain = {name}.test
mydestination =
mynetworks = 127.0.0.0/8, 192.0.2.0/24
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_authorized_xclient_hosts = {xc}
maillog_file_prefixes = /tmp, /var
maillog_file = {d}/maillog
relayhost = [127.0.0.1]:{relay}
smtp_send_xforward_command = yes
smtp_tls_security_level = none
alias_maps =
alias_database =
local_recipient_maps =
""".format(d=d, name=name, xc=xclient_hosts, relay=relay_port))
    out = []
    for line in open("/etc/postfix/master.cf"):
        f = line.split()
        if line.startswith("smtp ") and len(f) > 1 and f[1] == "inet":
            line = "127.0.0.1:%d inet n - n - - smtpd\n" % port
        elif f and not line[0].isspace() and not line.startswith("#") and len(f) >= 5:
            f[4] = "n"  # no chroot: the private queue has no chroot tree
            line = " ".join(f) + "\n"
        out.append(line)
    open(os.path.join(d, "etc", "master.cf"), "w").write("".join(out))
    os.chmod(tmp, 0o755)
    os.chmod(d, 0o755)
    log = postfix(d, "start")
    if ilib.accepting(port, 15, step=0.2):
        return d
    raise RuntimeError("postfix did not start: " + log + open(os.path.join(d, "maillog")).read()
                       if os.path.exists(os.path.join(d, "maillog")) else log)


class Server(ilib.Server):
    def __init__(self, tmp, name, args):
        super().__init__(SERVER, tmp, name, args, limit=150)


def wait_files(md, n, secs=30):
    d = os.path.join(md, "new")
    deadline = time.time() + secs
    while time.time() < deadline:
        if os.path.isdir(d) and len(os.listdir(d)) >= n:
            return [open(os.path.join(d, f), "rb").read() for f in os.listdir(d)]
        time.sleep(0.2)
    return [open(os.path.join(d, f), "rb").read() for f in os.listdir(d)] if os.path.isdir(d) else []


def main():
    if not POSTFIX or not shutil.which("script") or os.geteuid() != 0:
        print("postfix (and root to run its master) not available: skip")
        return 77
    tmp = tempfile.mkdtemp(prefix="libsmtp-postfix.")
    msg = os.path.join(tmp, "m.txt")
    open(msg, "wb").write(b"Subject: via postfix\r\n\r\nhello\r\n")
    md = os.path.join(tmp, "md")
    sv = Server(tmp, "xforward", ["--xforward", "--trusted-proxy", "127.0.0.1", "--maildir", md])
    instances = []
    try:
        port = free_port()
        d = instance(tmp, "pfa", port, sv.port, "127.0.0.0/8")
        instances.append(d)
        r = subprocess.run(["timeout", "30", SEND, "--server", "127.0.0.1:%d" % port, "--from", "a@example.org",
                            "--to", "b@example.org", "--helo", "proxy.example", "--starttls", "off", "--trace",
                            "--xclient", "NAME=orig.example ADDR=192.0.2.44 PORT=5555 HELO=orig.example", msg],
                           capture_output=True)
        tr = r.stderr.decode(errors="replace")
        check("smtp-send -> Postfix smtpd with XCLIENT: accepted", r.returncode == 0, r.stdout + r.stderr)
        check("Postfix answered XCLIENT with 220 and smtp-send sent EHLO orig.example",
              "C: XCLIENT NAME=orig.example" in tr and "C: EHLO orig.example" in tr, tr[-600:])
        files = wait_files(md, 1)
        log = open(os.path.join(d, "maillog")).read()
        check("Postfix logged the announced client", "client=orig.example[192.0.2.44]" in log, log[-800:])
        check("Postfix relayed to smtp-server (XFORWARD offered to it)", len(files) == 1, log[-800:])
        rec = re.search(rb"Received: from (\S+) \((\S+) \[([^\]]+)\]\)", files[0]) if files else None
        check("smtp-server's Received names the original client from XFORWARD (HELO, NAME, ADDR)",
              rec is not None and rec.group(3) == b"192.0.2.44" and rec.group(1) == b"orig.example"
              and rec.group(2) == b"orig.example", rec.group(0) if rec else files[:1])
        # a Postfix that does not trust 127.0.0.1 for XCLIENT
        port2 = free_port()
        d2 = instance(tmp, "pfb", port2, sv.port, "192.0.2.1")
        instances.append(d2)
        r = subprocess.run(["timeout", "30", SEND, "--server", "127.0.0.1:%d" % port2, "--from", "a@example.org",
                            "--to", "b@example.org", "--helo", "proxy.example", "--starttls", "off", "--trace",
                            "--xclient", "ADDR=192.0.2.45", msg], capture_output=True)
        tr = r.stderr.decode(errors="replace")
        check("untrusted: Postfix does not offer XCLIENT, smtp-send sends none and delivers",
              r.returncode == 0 and "C: XCLIENT" not in tr, tr[-600:])
        files = wait_files(md, 2)
        recs = [re.search(rb"Received: from \S+ \((?:\S+ )?\[([^\]]+)\]\)", f) for f in files]
        check("untrusted: the relayed message names 127.0.0.1",
              sorted(m.group(1) for m in recs if m) == [b"127.0.0.1", b"192.0.2.44"], [m.group(0) for m in recs if m])
    finally:
        for d in instances:
            postfix(d, "stop")
        check("smtp-server exits 0 on SIGTERM", sv.close() == 0)
    if not tap.failures:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.plan()


if __name__ == "__main__":
    sys.exit(main())
