"""A private Exim 4 instance for interop tests.

Debian's exim4 packages conflict with postfix, so Exim is not installed:
`python3 tests/interop/exim_private.py --unpack` (run by scripts/test as
root) fetches exim4-daemon-light, exim4-base and exim4-config with
`apt-get download` and unpacks them with `dpkg -x` into EXIM_ROOT
(environment LIBSMTP_EXIM_ROOT, default /var/tmp/libsmtp-exim). Nothing is
configured system-wide: the binary is compiled for the user Debian-exim,
which does not exist here, so it runs in a private mount namespace
(unshare -m) whose /etc/passwd and /etc/group map that user to nobody.

The instance has its own configuration, spool and logs under a temporary
folder, listens on a loopback port the kernel picked (found free, then
handed to -oX), offers STARTTLS (GnuTLS; TLS 1.3) with a throw-away
certificate, accepts every recipient and keeps every message queued
(queue_only): `messages()` reads them back from the spool.

    ex = Exim(tmp)                 # writes the configuration, picks the port
    ex.start({"smtp_accept_max": "50"})    # main-section overrides
    ... ex.port ...  ex.messages()  ex.log()
    ex.stop()

Needs root (unshare -m; the daemon changes to the exim user itself),
openssl, timeout(1).
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import ilib  # tests/interop/ilib.py, beside this file

EXIM_ROOT = os.environ.get("LIBSMTP_EXIM_ROOT", "/var/tmp/libsmtp-exim")
PACKAGES = ["exim4-daemon-light", "exim4-base", "exim4-config"]


def binary():
    return os.path.join(EXIM_ROOT, "usr", "sbin", "exim4")


def usable():
    """None when a private instance can run here, else why not."""
    if not os.access(binary(), os.X_OK):
        return "exim not unpacked in %s (python3 %s --unpack)" % (EXIM_ROOT, __file__)
    if not shutil.which("openssl"):
        return "openssl not installed"
    if os.geteuid() != 0:
        return "a private Exim instance needs root"
    if not shutil.which("unshare"):
        return "unshare (util-linux) not found"
    probe = tempfile.mkdtemp(prefix="libsmtp-exim-probe.")
    try:
        r = subprocess.run(["timeout", "20"] + _wrap(probe, [binary(), "-C", "/dev/null", "-bV"]),
                           env=ENV, capture_output=True)
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    if b"Exim version" not in r.stdout:
        return "exim does not run: " + (r.stdout + r.stderr).decode(errors="replace")[-300:]
    return None


def unpack(dest=EXIM_ROOT):
    """Downloads the Exim packages and unpacks them into dest; True on success."""
    if os.access(os.path.join(dest, "usr", "sbin", "exim4"), os.X_OK):
        return True
    if not shutil.which("apt-get") or not shutil.which("dpkg"):
        return False
    work = tempfile.mkdtemp(prefix="libsmtp-exim-debs.")
    os.chmod(work, 0o755)   # apt-get download writes as _apt where it can
    try:
        r = subprocess.run(["timeout", "300", "apt-get", "download", "-q"] + PACKAGES,
                           cwd=work, capture_output=True)
        if r.returncode != 0:
            sys.stderr.write(r.stderr.decode(errors="replace"))
            return False
        part = dest + ".part"
        shutil.rmtree(part, ignore_errors=True)
        for deb in sorted(glob.glob(os.path.join(work, "*.deb"))):
            subprocess.run(["dpkg", "-x", deb, part], check=True, timeout=120)
        os.rename(part, dest)
        return True
    finally:
        shutil.rmtree(work, ignore_errors=True)


free_port = ilib.free_port


def _wrap(tmp, argv):
    """argv run in a private mount namespace (unshare -m) in which
    /etc/passwd and /etc/group are copies with Debian-exim added as
    uid/gid 65534 (nobody): the Debian binary is compiled for that user
    and looks it up at start, in every re-exec too."""
    pw = os.path.join(tmp, "passwd")
    gr = os.path.join(tmp, "group")
    if not os.path.exists(pw):
        with open("/etc/passwd") as f:
            text = "".join(l for l in f if not l.startswith("Debian-exim:"))
        with open(pw, "w") as f:
            f.write(text + "Debian-exim:x:65534:65534:exim:/nonexistent:/usr/sbin/nologin\n")
        with open("/etc/group") as f:
            text = "".join(l for l in f if not l.startswith("Debian-exim:"))
        with open(gr, "w") as f:
            f.write(text + "Debian-exim:x:65534:\n")
        os.chmod(pw, 0o644)
        os.chmod(gr, 0o644)
    script = 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, "sh", pw, gr] + list(argv)


ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


class Exim:
    def __init__(self, tmp, hostname="mx.test"):
        self.dir = tmp
        os.chmod(tmp, 0o755)
        self.spool = os.path.join(tmp, "spool")
        self.logdir = os.path.join(tmp, "log")
        for d in (self.spool, self.logdir):
            os.makedirs(d)
            os.chown(d, 65534, 65534)
        self.port = free_port()
        self.cert = os.path.join(tmp, "exim-cert.pem")
        self.key = os.path.join(tmp, "exim-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=" + hostname, "-addext", "subjectAltName=DNS:" + hostname,
                        "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True, timeout=60)
        os.chown(self.key, 65534, 65534)   # read after the daemon gave up root
        os.chmod(self.key, 0o600)
        self.conf = os.path.join(tmp, "exim.conf")
        self.proc = None
        self.main = {
            "exim_user": "nobody",
            "exim_group": "nogroup",
            "keep_environment": "",
            "primary_hostname": hostname,
            "spool_directory": self.spool,
            "log_file_path": os.path.join(self.logdir, "%slog"),
            "local_interfaces": "127.0.0.1",
            "daemon_smtp_ports": str(self.port),
            "tls_advertise_hosts": "*",
            "tls_certificate": self.cert,
            "tls_privatekey": self.key,
            "acl_smtp_rcpt": "accept",
            "acl_smtp_data": "accept",
            "host_lookup": "",
            "rfc1413_hosts": "",
            "queue_only": "true",
            "message_size_limit": "50M",
            "smtp_accept_max": "100",
            "smtp_receive_timeout": "60s",
        }
        self.acls = ""

    def configure(self, extra):
        lines = ["%s = %s" % kv for kv in {**self.main, **extra}.items()]
        lines += ["", "begin acl", self.acls,
                  "", "begin routers",
                  "all:", "  driver = accept", "  transport = keep",
                  "", "begin transports",
                  # never used: queue_only keeps every message in the spool
                  "keep:", "  driver = appendfile", "  file = /dev/null", "  user = nobody", ""]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines))

    def start(self, extra=None, limit=300):
        """Starts the daemon in the foreground (bounded by timeout(1)); True
        once it accepts connections."""
        self.configure(extra or {})
        self.proc = subprocess.Popen(
            ["timeout", "-k", "5", str(limit)] +
            _wrap(self.dir, [binary(), "-C", self.conf, "-bdf", "-odq", "-oX", str(self.port)]),
            env=ENV, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "exim.stderr"), "wb"))
        if ilib.accepting(self.port, 20, self.proc):
            return True
        print("# exim did not start:\n" + self.log()[-2000:])
        return False

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def messages(self):
        """The queued messages, oldest first: a list of dicts with 'sender',
        'recipients' (list), 'headers' (bytes, as Exim stored them, with the
        Received line it added), 'body' (bytes, CRLF turned into LF as in
        Exim's spool), 'tls_ver' ("TLS1.3", "" without TLS), 'tls_cipher'
        and 'options' (every -option line of the spool header file)."""
        out = []
        files = glob.glob(os.path.join(self.spool, "input", "**", "*-H"), recursive=True)
        for h in sorted(files, key=os.path.getmtime):
            d = h[:-2] + "-D"
            try:
                hb = open(h, "rb").read()
                db = open(d, "rb").read()
            except OSError:
                continue
            out.append(_parse_spool(hb, db))
        return out

    def send(self, sender, recipients, data, port, transport=None, limit=60):
        """Exim as a client: submits data (bytes, a message) on stdin with
        -odf (delivered in the foreground) and relays it to 127.0.0.1:port
        with its smtp transport, TLS required unless transport overrides
        (extra transport options, e.g. {"hosts_require_tls": ""}; None
        for a bare option name). Uses
        its own configuration file beside the daemon's. Returns
        (exit status, the log lines this delivery added)."""
        conf = os.path.join(self.dir, "exim-client.conf")
        main = {k: v for k, v in self.main.items() if k not in ("queue_only",)}
        # the delivery process is a re-exec of exim (-Mc): this binary
        main["exim_path"] = binary()
        opts = {"driver": "smtp", "port": str(port), "allow_localhost": None,
                "hosts_require_tls": "*", "command_timeout": "30s", "data_timeout": "30s"}
        opts.update(transport or {})
        lines = ["%s = %s" % kv for kv in main.items()]
        lines += ["", "begin routers",
                  "relay:", "  driver = manualroute", "  route_list = * 127.0.0.1",
                  "  self = send", "  transport = relay",
                  "", "begin transports", "relay:"]
        lines += ["  " + k if v is None else "  %s = %s" % (k, v) for k, v in opts.items()]
        lines += ["", "begin retry", "*  *  F,1m,1m", ""]
        with open(conf, "w") as f:
            f.write("\n".join(lines))
        before = len(self.log())
        r = subprocess.run(["timeout", "-k", "5", str(limit)] +
                           _wrap(self.dir, [binary(), "-C", conf, "-odf", "-oi", "-f", sender, "--"] +
                                 list(recipients)),
                           input=data, env=ENV, capture_output=True)
        return r.returncode, self.log()[before:] + (r.stdout + r.stderr).decode(errors="replace")

    def log(self):
        text = ""
        for p in [os.path.join(self.logdir, n) for n in ("mainlog", "rejectlog", "paniclog")] + \
                [os.path.join(self.dir, "exim.stderr")]:
            try:
                with open(p, errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text


def _parse_spool(hb, db):
    """Exim's -H file: its name, the user line, <sender>, the time line,
    -option lines (-tls_ver, -tls_cipher among them), the non-recipients
    tree ("XX" when empty), the recipient count, the recipients, a blank
    line and the headers, each as "NNNc text" (NNN its length including the
    newline, c a flag, '*' for a header Exim deleted). The -D file: its own
    name line, then the body with LF line ends."""
    lines = hb.split(b"\n")
    sender = lines[2].strip().strip(b"<>").decode(errors="replace")
    opts = {}
    i = 4
    while i < len(lines) and lines[i].startswith(b"-"):
        k, _, v = lines[i].lstrip(b"-").partition(b" ")
        opts[k.decode(errors="replace")] = v.decode(errors="replace")
        i += 1
    if i < len(lines) and lines[i].startswith(b"XX"):
        i += 1
    n = int(lines[i]) if i < len(lines) and lines[i].strip().isdigit() else 0
    rcpts = [r.split(b" ")[0].decode(errors="replace") for r in lines[i + 1:i + 1 + n]]
    rest = b"\n".join(lines[i + 1 + n:]).lstrip(b"\n")
    headers = b""
    while rest:
        j = 0
        while j < len(rest) and rest[j:j + 1].isdigit():
            j += 1
        if j == 0 or len(rest) < j + 2:
            break
        length = int(rest[:j])
        flag = rest[j:j + 1]
        text = rest[j + 2:j + 2 + length]
        if flag != b"*":
            headers += text
        rest = rest[j + 2 + length:]
    body = db.split(b"\n", 1)[1] if b"\n" in db else b""
    return {"sender": sender, "recipients": rcpts, "headers": headers, "body": body,
            "tls_ver": opts.get("tls_ver", ""), "tls_cipher": opts.get("tls_cipher", ""),
            "options": opts}


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--unpack":
        sys.exit(0 if unpack() else 1)
    if len(sys.argv) == 2 and sys.argv[1] == "--check":
        why = usable()
        print(why or "ok")
        sys.exit(0 if why is None else 77)
    sys.stderr.write("usage: exim_private.py --unpack | --check\n")
    sys.exit(64)
