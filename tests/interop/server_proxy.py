#!/usr/bin/python3
"""Interop/example: examples/smtp-server behind the PROXY protocol
(HAProxy's specification, versions 1 and 2) with examples/smtp-send
writing the header, raw headers from Python (malformed, missing, from an
untrusted source: closed without a greeting), and the per-client limits:
a slow-drip client holding many connections from one address cannot
starve the others (--max-per-ip), --rate-per-ip, and --workers 2 sharing
the listening socket, and XFORWARD from smtp-send. Every delivery's
Received header must carry the
client address the session knows. Loopback only; bounded in time.

Usage: server_proxy.py PATH/TO/smtp-server   (smtp-send next to it)
"""
import os
import re
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

import ilib  # noqa: E402  (tests/interop/ilib.py)

SERVER = sys.argv[1]
SEND = os.path.join(os.path.dirname(SERVER), "smtp-send")
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
tap = ilib.Tap(300)
check = tap.check


class Server(ilib.Server):
    def __init__(self, tmp, name, args):
        super().__init__(SERVER, tmp, name, args, limit=120)


def received_from(path):
    data = open(path, "rb").read().decode("latin-1")
    m = re.search(r"Received: from \S+ \(\[([^\]]+)\]\)", data)
    return m.group(1) if m else None


def newest(md):
    p = os.path.join(md, "new")
    files = [os.path.join(p, f) for f in os.listdir(p)] if os.path.isdir(p) else []
    return max(files, key=lambda f: int(re.search(r"Q(\d+)\.", f).group(1))) if files else None


def send(port, extra, msg):
    r = subprocess.run(["timeout", "30", SEND, "--server", "127.0.0.1:%d" % port, "--from", "a@example.org",
                        "--to", "b@example.org", "--helo", "client.example"] + extra + [msg],
                       capture_output=True)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def raw(port, data, src=None, wait=3.0):
    """Send @data, return what the server sent before closing (or b'...TIMEOUT')."""
    s = socket.socket()
    if src:
        s.bind((src, 0))
    s.settimeout(wait)
    s.connect(("127.0.0.1", port))
    out = b""
    try:
        if data:
            s.sendall(data)
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
    except socket.timeout:
        out += b"...TIMEOUT"
    except ConnectionResetError:
        pass
    s.close()
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="libsmtp-proxy.")
    msg = os.path.join(tmp, "m.txt")
    open(msg, "wb").write(b"Subject: proxied\r\n\r\nhello\r\n")

    # 1. a trusted proxy on 127.0.0.1
    md = os.path.join(tmp, "md1")
    cap = os.path.join(tmp, "capture.jsonl")
    sv = Server(tmp, "proxy", ["--proxy-protocol", "--trusted-proxy", "127.0.0.0/8",
                               "--trusted-proxy", "::1", "--maildir", md, "--capture", cap])
    rc, out = send(sv.port, ["--proxy-header", "v2", "--proxy-source", "192.0.2.77:4444"], msg)
    check("smtp-send PROXY v2: delivered", rc == 0, out)
    check("PROXY v2: Received names the announced client", received_from(newest(md)) == "192.0.2.77",
          received_from(newest(md)))
    import json
    recs = [json.loads(line) for line in open(cap) if line.strip()] if os.path.exists(cap) else []
    rec = recs[-1] if recs else {}
    check("PROXY v2: the capture record's client is the announced one",
          rec.get("client") == {"addr": "192.0.2.77", "port": 4444, "name": None}, rec.get("client"))
    check("PROXY v2: the capture record's peer is the proxy (the TCP peer)",
          isinstance(rec.get("peer"), dict) and rec["peer"].get("addr") == "127.0.0.1", rec.get("peer"))
    rc, out = send(sv.port, ["--proxy-header", "v2-crc32c", "--proxy-source", "192.0.2.78:4445"], msg)
    check("smtp-send PROXY v2 with PP2_TYPE_CRC32C: delivered, the checksum verified",
          rc == 0 and received_from(newest(md)) == "192.0.2.78", (out, received_from(newest(md))))
    rc, out = send(sv.port, ["--proxy-header", "v1", "--proxy-source", "198.51.100.9:1"], msg)
    check("smtp-send PROXY v1: delivered", rc == 0, out)
    check("PROXY v1: Received names the announced client", received_from(newest(md)) == "198.51.100.9")
    rc, out = send(sv.port, ["--proxy-header", "v1", "--proxy-source", "[2001:db8::5]:4444"], msg)
    check("PROXY v1 TCP6 (IPv4 destination mapped): delivered", rc == 0, out)
    check("PROXY v1 TCP6: Received names the IPv6 client", received_from(newest(md)) == "IPv6:2001:db8::5",
          received_from(newest(md)))
    # header and commands in one segment (what a proxy may coalesce)
    hdr = SIG + b"\x21\x11\x00\x0c" + socket.inet_aton("203.0.113.5") + socket.inet_aton("127.0.0.1") \
        + (40000).to_bytes(2, "big") + (25).to_bytes(2, "big")
    out = raw(sv.port, hdr + b"EHLO c.example\r\nQUIT\r\n")
    check("v2 header coalesced with commands: greeting, EHLO and QUIT served",
          out.startswith(b"220 ") and b"250" in out and b"221" in out, out)
    out = raw(sv.port, b"EHLO c.example\r\n")
    check("no header: closed without a greeting", out == b"", out)
    out = raw(sv.port, b"PROXY TCP4 192.0.2.300 127.0.0.1 1 25\r\nEHLO c\r\n")
    check("unparsable v1 address: closed without a greeting", out == b"", out)
    out = raw(sv.port, b"PROXY UNKNOWN " + b"x" * 120 + b"\r\n")
    check("v1 line over 107 octets: closed without a greeting", out == b"", out)
    out = raw(sv.port, SIG + b"\x21\x41\x00\x0c" + b"\x00" * 12)
    check("v2 bad family: closed without a greeting", out == b"", out)
    # PP2_TYPE_CRC32C: a checksum that does not match the header
    out = raw(sv.port, SIG + b"\x21\x11\x00\x13" + socket.inet_aton("203.0.113.5") + socket.inet_aton("127.0.0.1")
              + b"\x30\x39\x00\x19" + b"\x03\x00\x04" + b"\x00\x00\x00\x01" + b"EHLO c\r\n")
    check("v2 CRC32C mismatch: closed without a greeting", out == b"", out)
    out = raw(sv.port, SIG + b"\x21\x11\x00\x0f" + b"\x00" * 12 + b"\x02\x00\x09")
    check("v2 record over the declared length: closed without a greeting", out == b"", out)
    out = raw(sv.port, SIG + b"\x20\x00\x00\x00" + b"QUIT\r\n")
    check("v2 LOCAL (health check): served as the proxy itself", out.startswith(b"220 ") and b"221" in out, out)
    sv.close()

    # 2. the proxy is not trusted
    md = os.path.join(tmp, "md2")
    sv = Server(tmp, "untrusted", ["--proxy-protocol", "--trusted-proxy", "10.0.0.0/8", "--maildir", md])
    rc, out = send(sv.port, ["--proxy-header", "v2", "--proxy-source", "192.0.2.77:4444"], msg)
    check("untrusted source: smtp-send fails (exit 2)", rc == 2, out)
    check("untrusted source: nothing delivered", newest(md) is None)
    out = raw(sv.port, SIG + b"\x21\x11\x00\x0c" + b"\x00" * 12)
    check("untrusted source: closed without a greeting", out == b"", out)
    sv.close()

    # 3. per-client cap: a slow-drip client holds many connections from
    # 127.0.0.1; a client from 127.0.0.2 still gets through
    md = os.path.join(tmp, "md3")
    sv = Server(tmp, "perip", ["--max-per-ip", "5", "--max-connections", "40", "--maildir", md])
    held, greetings = [], []
    for i in range(30):
        s = socket.socket()
        s.settimeout(5)
        s.connect(("127.0.0.1", sv.port))
        held.append(s)
        greetings.append(s.recv(200))
        s.send(b"N")  # one octet of a NOOP, the rest never comes
    ok = sum(1 for g in greetings if g.startswith(b"220 "))
    refused = sum(1 for g in greetings if g.startswith(b"421 4.7.0"))
    check("slow drip from one address: 5 sessions served", ok == 5, greetings[:8])
    check("slow drip: the other 25 get 421 4.7.0 and close", refused == 25, greetings[5:8])
    try:
        c = smtplib.SMTP("127.0.0.1", sv.port, local_hostname="other.example", timeout=10,
                         source_address=("127.0.0.2", 0))
        c.sendmail("a@example.org", ["b@example.org"], b"Subject: other\r\n\r\nstill served\r\n")
        c.quit()
        delivered = True
    except Exception as e:  # noqa
        delivered = repr(e)
    check("another address is served while the slow client holds its cap", delivered is True, delivered)
    check("its Received names 127.0.0.2", received_from(newest(md)) == "127.0.0.2")
    for s in held:
        s.close()
    time.sleep(0.3)
    c = smtplib.SMTP("127.0.0.1", sv.port, local_hostname="c.example", timeout=10)
    c.noop()
    c.quit()
    check("the slots of closed connections are free again", True)
    sv.close()

    # 4. the cap counts the address a PROXY header announces
    sv = Server(tmp, "perip-proxy", ["--proxy-protocol", "--trusted-proxy", "127.0.0.1", "--max-per-ip", "2"])
    socks, gs = [], []
    for i in range(4):
        s = socket.socket()
        s.settimeout(5)
        s.connect(("127.0.0.1", sv.port))
        s.sendall(b"PROXY TCP4 192.0.2.%d 127.0.0.1 1000 25\r\n" % (1 if i < 3 else 2))
        socks.append(s)
        gs.append(s.recv(200))
    check("behind a proxy: the cap applies to the announced client",
          gs[0].startswith(b"220") and gs[1].startswith(b"220") and gs[2].startswith(b"421 4.7.0")
          and gs[3].startswith(b"220"), gs)
    for s in socks:
        s.close()
    sv.close()

    # 4b. and the client XCLIENT announces (counted at the EHLO after it),
    # not the trusted proxy that carries every session
    sv = Server(tmp, "perip-xclient", ["--xclient", "--trusted-proxy", "127.0.0.1", "--max-per-ip", "2"])
    socks, rs = [], []
    for i in range(5):
        s = socket.socket()
        s.settimeout(5)
        s.connect(("127.0.0.1", sv.port))
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"XCLIENT ADDR=192.0.2.%d\r\n" % (1 if i < 3 else 2 + i))
        f.readline()
        s.sendall(b"EHLO proxied.example\r\n")
        rs.append(f.readline())
        socks.append((s, f))
    check("XCLIENT proxy: the cap applies to the announced client, not to the proxy",
          rs[0].startswith(b"250") and rs[1].startswith(b"250") and rs[2].startswith(b"421 4.7.0")
          and rs[3].startswith(b"250") and rs[4].startswith(b"250"), rs)
    for s, f in socks:
        f.close()
        s.close()
    sv.close()

    # 5. --rate-per-ip
    sv = Server(tmp, "rate", ["--rate-per-ip", "3"])
    gs = [raw(sv.port, b"QUIT\r\n")[:9] for i in range(5)]
    check("--rate-per-ip 3: three sessions a minute, then 421 4.7.0",
          [g[:3] for g in gs] == [b"220"] * 3 + [b"421"] * 2 and gs[3] == b"421 4.7.0", gs)
    sv.close()

    # 6. --workers 2: two processes accept on the same port (SO_REUSEPORT)
    md = os.path.join(tmp, "md6")
    sv = Server(tmp, "workers", ["--workers", "2", "--maildir", md])
    oks = 0
    for i in range(24):
        rc, out = send(sv.port, [], msg)
        oks += rc == 0
    pids = set(re.search(r"P(\d+)Q", f).group(1) for f in os.listdir(os.path.join(md, "new")))
    check("--workers 2: every message delivered", oks == 24, oks)
    check("--workers 2: both processes delivered some", len(pids) == 2, pids)
    check("--workers 2: SIGTERM stops every worker, exit 0", sv.close() == 0)

    # 7. XFORWARD from smtp-send, trusted and not
    md = os.path.join(tmp, "md7")
    sv = Server(tmp, "xforward", ["--xforward", "--trusted-proxy", "127.0.0.1", "--maildir", md])
    rc, out = send(sv.port, ["--xforward", "ADDR=198.51.100.7 HELO=fw.example"], msg)
    data = open(newest(md), "rb").read() if newest(md) else b""
    check("smtp-send --xforward into a trusting server: Received names the forwarded client",
          rc == 0 and b"Received: from fw.example ([198.51.100.7])" in data, (rc, out, data[:200]))
    sv.close()
    md = os.path.join(tmp, "md8")
    sv = Server(tmp, "xforward-untrusted", ["--xforward", "--trusted-proxy", "10.0.0.0/8", "--maildir", md])
    rc, out = send(sv.port, ["--xforward", "ADDR=198.51.100.7 HELO=fw.example"], msg)
    check("not trusted: no XFORWARD offered or sent, delivered as 127.0.0.1",
          rc == 0 and received_from(newest(md)) == "127.0.0.1", (rc, out))
    sv.close()

    return tap.plan()


if __name__ == "__main__":
    sys.exit(main())
