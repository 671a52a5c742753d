#!/usr/bin/python3
"""Interop: HAProxy (TCP mode, round robin) in front of two
examples/smtp-server processes started with --proxy-protocol, once with
`send-proxy-v2` and once with `send-proxy` (version 1). Clients connect to
HAProxy from several loopback source addresses (127.0.0.2..127.0.0.5);
every delivered message must name its original client in the Received
header, both servers must have received messages, and a direct connection
to a server without the header is closed without a greeting. Skipped
(77) when haproxy is not installed. Loopback only; bounded in time.

Usage: server_haproxy.py PATH/TO/smtp-server
"""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile

import ilib  # noqa: E402  (tests/interop/ilib.py)

SERVER = sys.argv[1]
HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
tap = ilib.Tap(400)
check = tap.check


free_port = ilib.free_port


class Server(ilib.Server):
    def __init__(self, tmp, name, args):
        super().__init__(SERVER, tmp, name, args, limit=150)


def start_haproxy(tmp, name, front, backends, send_proxy):
    cfg = os.path.join(tmp, name + ".cfg")
    with open(cfg, "w") as f:
        f.write("global\n  maxconn 256\n\n"
                "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\n"
                "frontend smtp\n  bind 127.0.0.1:%d\n  default_backend mx\n\n"
                "backend mx\n  balance roundrobin\n" % front)
        for i, p in enumerate(backends):
            f.write("  server s%d 127.0.0.1:%d %s\n" % (i, p, send_proxy))
    log = open(os.path.join(tmp, name + ".haproxy.log"), "wb")
    proc = subprocess.Popen(["timeout", "150", HAPROXY, "-db", "-f", cfg], stdout=log, stderr=log)
    if ilib.accepting(front, 10, proc):
        return proc
    raise RuntimeError("haproxy did not start: " + open(os.path.join(tmp, name + ".haproxy.log")).read())


def received_from(data):
    m = re.search(rb"Received: from \S+ \((?:\S+ )?\[([^\]]+)\]\)", data)
    return m.group(1).decode() if m else None


def run(tmp, version, send_proxy):
    mds = [os.path.join(tmp, "%s-md%d" % (version, i)) for i in range(2)]
    servers = [Server(tmp, "%s-s%d" % (version, i), ["--proxy-protocol", "--trusted-proxy", "127.0.0.1",
                                                     "--maildir", mds[i]]) for i in range(2)]
    front = free_port()
    hap = start_haproxy(tmp, version, front, [s.port for s in servers], send_proxy)
    sent = {}
    errors = []
    for i in range(16):
        src = "127.0.0.%d" % (2 + i % 4)
        try:
            c = smtplib.SMTP("127.0.0.1", front, local_hostname="client%d.example" % i, timeout=20,
                             source_address=(src, 0))
            c.sendmail("a@example.org", ["b@example.org"],
                       ("Subject: msg %d from %s\r\n\r\nbody %d\r\n" % (i, src, i)).encode())
            c.quit()
            sent[i] = src
        except Exception as e:  # noqa
            errors.append(repr(e))
    check("%s: HAProxy relayed 16 sessions from 4 source addresses" % version, len(sent) == 16, errors[:3])
    seen, per_server, wrong = {}, [0, 0], []
    for k, md in enumerate(mds):
        d = os.path.join(md, "new")
        for f in (os.listdir(d) if os.path.isdir(d) else []):
            data = open(os.path.join(d, f), "rb").read()
            m = re.search(rb"Subject: msg (\d+) from (\S+)", data)
            if not m:
                continue
            per_server[k] += 1
            i = int(m.group(1))
            seen[i] = received_from(data)
            if seen[i] != m.group(2).decode():
                wrong.append((i, seen[i], m.group(2).decode()))
    check("%s: every message delivered once" % version, sorted(seen) == sorted(sent), (sorted(seen), sorted(sent)))
    check("%s: every Received header names the original client address" % version, not wrong and seen, wrong[:4])
    check("%s: both servers behind HAProxy took messages" % version, per_server[0] > 0 and per_server[1] > 0,
          per_server)
    s = socket.create_connection(("127.0.0.1", servers[0].port), timeout=5)
    s.sendall(b"EHLO direct.example\r\n")
    try:
        got = s.recv(100)
    except OSError:
        got = b""
    s.close()
    check("%s: a direct connection without the header is closed without a greeting" % version, got == b"", got)
    hap.terminate()
    hap.wait(timeout=10)
    for s in servers:
        check("%s: smtp-server exits 0 on SIGTERM" % version, s.close() == 0)


def main():
    if not HAPROXY:
        print("haproxy not installed: skip")
        return 77
    tmp = tempfile.mkdtemp(prefix="libsmtp-haproxy.")
    try:
        run(tmp, "v2", "send-proxy-v2")
        run(tmp, "v1", "send-proxy")
    finally:
        if not tap.failures:
            shutil.rmtree(tmp, ignore_errors=True)
    return tap.plan()


if __name__ == "__main__":
    sys.exit(main())
