"""A private instance of the system's Postfix for interop tests: its own
configuration, queue, data and log directories under a temporary folder,
smtpd on a loopback port the kernel picked. Needs root (postfix start),
the postfix user, and openssl (a throw-away certificate for STARTTLS).

    pf = Postfix(tmp)                  # writes master.cf; picks the port
    pf.start({"smtpd_forbid_bare_newline": "no"})   # main.cf overrides
    ... pf.port ...
    pf.stop()
"""
import os
import pwd
import shutil
import socket
import subprocess
import time

import ilib  # tests/interop/ilib.py, beside this file


def usable():
    """None when a private instance can run here, else why not."""
    if not shutil.which("postfix") or not os.path.exists("/etc/postfix/master.cf"):
        return "postfix not installed"
    if not shutil.which("openssl"):
        return "openssl not installed"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "no postfix user"
    return None


free_port = ilib.free_port


class Postfix:
    def __init__(self, tmp):
        self.dir = tmp
        self.conf = os.path.join(tmp, "conf")
        q = os.path.join(tmp, "queue")
        data = os.path.join(tmp, "data")
        for d in (self.conf, q, data):
            os.makedirs(d)
        os.chmod(tmp, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=mx.test", "-keyout", os.path.join(self.conf, "key.pem"),
                        "-out", os.path.join(self.conf, "cert.pem")],
                       check=True, capture_output=True, timeout=60)
        self.main = {
            "compatibility_level": "3.6",
            "queue_directory": q,
            "data_directory": data,
            "mail_owner": "postfix",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "mx.test",
            "mydomain": "test",
            "myorigin": "test",
            "mydestination": "example.org, mx.test, localhost",
            "mynetworks": "127.0.0.0/8",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "local_transport": "discard:",
            "default_transport": "discard:",
            "relay_transport": "discard:",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtpd_tls_cert_file": os.path.join(self.conf, "cert.pem"),
            "smtpd_tls_key_file": os.path.join(self.conf, "key.pem"),
            "smtpd_tls_security_level": "may",
            "message_size_limit": "200000",
            "maillog_file": os.path.join(tmp, "maillog"),
            "maillog_file_prefixes": tmp,
        }
        master = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                w = line.split()
                if w and w[0] in ("smtp", "submission", "smtps") and len(w) > 1 and w[1] == "inet":
                    continue
                master.append(line.rstrip("\n"))
        master.insert(0, "%d inet n - n - - smtpd" % self.port)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("\n".join(master) + "\n")

    def configure(self, extra):
        lines = ["%s = %s" % kv for kv in {**self.main, **extra}.items()]
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def postfix(self, *cmd):
        return subprocess.run(["timeout", "60", "postfix", "-c", self.conf] + list(cmd),
                              capture_output=True, timeout=70)

    def start(self, extra):
        self.configure(extra)
        r = self.postfix("start")
        if ilib.accepting(self.port, 20, step=0.2):
            return True
        print("# postfix did not start: %r" % (r,))
        try:
            print(open(self.main["maillog_file"]).read()[-2000:])
        except OSError:
            pass
        return False

    def stop(self):
        self.postfix("stop")
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                time.sleep(0.2)
            except OSError:
                return



    def queue(self):
        """postqueue -p of this instance (text)."""
        r = subprocess.run(["timeout", "30", "postqueue", "-c", self.conf, "-p"], capture_output=True, timeout=40)
        return r.stdout.decode(errors="replace")

    def log(self):
        try:
            with open(self.main["maillog_file"], errors="replace") as f:
                return f.read()
        except OSError:
            return ""
