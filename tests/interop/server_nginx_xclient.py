#!/usr/bin/python3
"""Interop: nginx's mail proxy (ngx_mail_module, `xclient on`) in front of
examples/smtp-server started with --xclient --trusted-proxy 127.0.0.1.
nginx asks a small auth_http service (here, in Python) where to relay,
connects to smtp-server, sends XCLIENT with the original client's address
and HELO name, and relays the session. Clients connect to nginx from
127.0.0.2 and 127.0.0.3; every delivered message must name its original
client in the Received header. Also: a client that is not trusted gets
550 5.7.0 for XCLIENT. Skipped (77) when nginx or its mail module is not
installed. Loopback only; bounded in time.

Usage: server_nginx_xclient.py PATH/TO/smtp-server
"""
import http.server
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading

import ilib  # noqa: E402  (tests/interop/ilib.py)

SERVER = sys.argv[1]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
MODULE = "/usr/lib/nginx/modules/ngx_mail_module.so"
tap = ilib.Tap(400)
check = tap.check


free_port = ilib.free_port


class Server(ilib.Server):
    def __init__(self, tmp, name, args):
        super().__init__(SERVER, tmp, name, args, limit=150)


def auth_service(backend_port):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Auth-Status", "OK")
            self.send_header("Auth-Server", "127.0.0.1")
            self.send_header("Auth-Port", str(backend_port))
            self.end_headers()

        def log_message(self, *a):
            pass
    httpd = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main():
    if not NGINX or not os.path.exists(MODULE):
        print("nginx with the mail module not installed: skip")
        return 77
    tmp = tempfile.mkdtemp(prefix="libsmtp-nginx.")
    md = os.path.join(tmp, "md")
    sv = Server(tmp, "xclient", ["--xclient", "--trusted-proxy", "127.0.0.1", "--maildir", md])
    httpd = auth_service(sv.port)
    front = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("load_module %s;\nworker_processes 1;\ndaemon off;\nmaster_process off;\n"
                "pid %s/nginx.pid;\nerror_log %s/nginx-error.log info;\nevents { worker_connections 64; }\n"
                "mail {\n  server_name mx.test;\n  auth_http 127.0.0.1:%d/auth;\n  xclient on;\n"
                "  smtp_auth none;\n  proxy_pass_error_message on;\n"
                "  server { listen 127.0.0.1:%d; protocol smtp; }\n}\n"
                % (MODULE, tmp, tmp, httpd.server_address[1], front))
    ng = subprocess.Popen(["timeout", "150", NGINX, "-p", tmp, "-e", os.path.join(tmp, "nginx-stderr.log"),
                           "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ilib.accepting(front, 10)
    sent, errors = {}, []
    for i in range(6):
        src = "127.0.0.%d" % (2 + i % 2)
        try:
            c = smtplib.SMTP("127.0.0.1", front, local_hostname="client%d.example" % i, timeout=20,
                             source_address=(src, 0))
            c.sendmail("a@example.org", ["b@example.org"],
                       ("Subject: msg %d from %s\r\n\r\nbody\r\n" % (i, src)).encode())
            c.quit()
            sent[i] = src
        except Exception as e:  # noqa
            errors.append(repr(e))
    check("nginx relayed 6 sessions to smtp-server", len(sent) == 6, errors[:2])
    wrong, seen = [], 0
    d = os.path.join(md, "new")
    for f in (os.listdir(d) if os.path.isdir(d) else []):
        data = open(os.path.join(d, f), "rb").read()
        m = re.search(rb"Subject: msg (\d+) from (\S+)", data)
        # nginx without a resolver sends NAME=[UNAVAILABLE]: "unknown"
        r = re.search(rb"Received: from (\S+) \((\S+) \[([^\]]+)\]\)", data)
        if not m:
            continue
        seen += 1
        if (not r or r.group(3) != m.group(2) or r.group(1) != b"client%d.example" % int(m.group(1))
                or r.group(2) != b"unknown"):
            wrong.append((m.group(0), r.group(0) if r else None))
    check("every message delivered", seen == 6, seen)
    check("every Received names the original client's address, HELO and NAME (from XCLIENT)", not wrong and seen,
          wrong[:3])
    ng.terminate()
    ng.wait(timeout=10)
    httpd.shutdown()
    sv.close()
    # the same server does not trust 127.0.0.2
    sv = Server(tmp, "untrusted", ["--xclient", "--trusted-proxy", "127.0.0.1"])
    c = smtplib.SMTP("127.0.0.1", sv.port, local_hostname="x.example", timeout=10, source_address=("127.0.0.2", 0))
    code, _ = c.ehlo()
    offered = c.has_extn("xclient")
    code, msg = c.docmd("XCLIENT", "ADDR=192.0.2.1")
    c.quit()
    check("untrusted client: XCLIENT not offered, 550 5.7.0", not offered and code == 550 and msg.startswith(b"5.7.0"),
          (offered, code, msg))
    sv.close()
    if tap.failures:
        for n in ("nginx-error.log", "xclient.log"):
            p = os.path.join(tmp, n)
            if os.path.exists(p):
                print("# ---- " + n)
                for line in open(p, errors="replace").read().splitlines()[-15:]:
                    print("#   " + line)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return tap.plan()


if __name__ == "__main__":
    sys.exit(main())
