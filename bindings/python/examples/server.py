#!/usr/bin/env python3
"""A small mail server on libsmtp's Python binding.

    server.py --listen 127.0.0.1:2525 --maildir ./Maildir
    server.py --listen 127.0.0.1:2587 --tls-cert cert.pem --tls-key key.pem \\
              --user alice:secret --require-auth --maildir ./Maildir

Each accepted message goes into a Maildir (written in tmp/, renamed into
new/) with Return-Path, Delivered-To and Received header fields in front,
or, without --maildir, is summarised on stdout as
"MESSAGE from=<a> to=<b>,<c> size=N".

Deliveries run on a small thread pool: the end-of-data callback returns
DEFERRED and the worker answers with reply_threadsafe(), so the
connection's thread never waits for the disk. STARTTLS uses Python's ssl
module; AUTH PLAIN and LOGIN are checked against the --user list.
The first line on stderr is "server.py: listening on HOST:PORT (...)".
"""

import argparse
import concurrent.futures
import hmac
import os
import signal
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import libsmtp  # noqa: E402
from libsmtp import DEFERRED, Reply  # noqa: E402

_counter = 0
_counter_lock = threading.Lock()


def unique_name(hostname):
    global _counter
    with _counter_lock:
        _counter += 1
        n = _counter
    return "%d.P%dQ%d.%s" % (int(time.time()), os.getpid(), n, hostname)


def deliver_maildir(maildir, name, data):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    tmp = os.path.join(maildir, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(maildir, "new", name))


class MailHandler:
    """One per connection. Every on_* method is a libsmtp server event."""

    def __init__(self, cfg, pool):
        self.cfg = cfg
        self.pool = pool
        self.reset()
        if cfg.users:                     # AUTH is offered only with a checker
            self.on_auth = self.check_auth
        if cfg.trace:
            self.on_trace = self.trace

    def reset(self):
        self.mail_from = None
        self.rcpts = []
        self.chunks = []

    def trace(self, s, direction, line):
        print(("C: " if direction == "in" else "S: ") + line, file=sys.stderr, flush=True)

    def check_auth(self, s, auth):
        want = self.cfg.users.get(auth.username)
        return want is not None and hmac.compare_digest(want.encode(), auth.password.encode())

    def on_mail(self, s, mail):
        self.reset()
        self.mail_from = mail.address

    def on_rcpt(self, s, rcpt):
        if rcpt.address.lower() in self.cfg.reject:
            return Reply(550, "No such user here", "5.1.1")
        self.rcpts.append(rcpt.address)

    def on_rset(self, s):
        self.reset()

    def on_data_chunk(self, s, data):
        self.chunks.append(data)

    def on_data_end(self, s, end):
        if end.refused:                   # too big, bare LF, ...: the session answers
            return None
        body = b"".join(self.chunks)
        rcpts = self.rcpts if end.rcpt_index is None else [self.rcpts[end.rcpt_index]]
        received = ("Received: from %s\r\n\tby %s (libsmtp Python example) with %s;\r\n\t%s\r\n"
                    % (s.helo_name, self.cfg.hostname, s.received_protocol,
                       time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())))
        head = ("Return-Path: <%s>\r\n" % self.mail_from
                + "".join("Delivered-To: %s\r\n" % r for r in rcpts) + received)
        data = head.encode("utf-8") + body
        cfg, mail_from = self.cfg, self.mail_from

        def work():
            try:
                name = unique_name(cfg.hostname)
                if cfg.maildir:
                    deliver_maildir(cfg.maildir, name, data)
                else:
                    print("MESSAGE from=<%s> to=%s size=%d" % (
                        mail_from, ",".join("<%s>" % r for r in rcpts), len(body)), flush=True)
                s.reply_threadsafe(250, "Queued as " + name.split(".")[0], "2.0.0")
            except OSError as e:
                print("server.py: delivery failed: %s" % e, file=sys.stderr, flush=True)
                s.reply_threadsafe(451, "Local error in processing", "4.3.0")
        self.pool.submit(work)
        return DEFERRED


def parse_args(argv):
    p = argparse.ArgumentParser(description="A small mail server on libsmtp's Python binding.")
    p.add_argument("--listen", default="127.0.0.1:2525", help="HOST:PORT (port 0: any free port)")
    p.add_argument("--hostname", default=socket.gethostname() or "localhost")
    p.add_argument("--maildir", help="deliver into this Maildir (else a line on stdout)")
    p.add_argument("--tls-cert", help="PEM certificate chain: STARTTLS is offered")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte")
    p.add_argument("--user", action="append", default=[], metavar="USER:PASS",
                   help="enable AUTH PLAIN/LOGIN with this account (repeatable)")
    p.add_argument("--allow-plaintext-auth", action="store_true",
                   help="offer AUTH without TLS (default: only under TLS)")
    p.add_argument("--require-auth", action="store_true", help="530 to MAIL until authenticated")
    p.add_argument("--require-tls", action="store_true", help="530 to MAIL until TLS is up")
    p.add_argument("--lmtp", action="store_true", help="speak LMTP (RFC 2033)")
    p.add_argument("--reject", action="append", default=[], metavar="ADDR",
                   help="RCPT for ADDR gets 550 5.1.1 (repeatable)")
    p.add_argument("--max-size", type=int, default=52428800, help="message size limit (0: none)")
    p.add_argument("--trace", action="store_true", help="protocol transcript on stderr")
    cfg = p.parse_args(argv)
    if bool(cfg.tls_cert) != bool(cfg.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if cfg.implicit_tls and not cfg.tls_cert:
        p.error("--implicit-tls needs --tls-cert and --tls-key")
    users = {}
    for u in cfg.user:
        name, sep, pw = u.partition(":")
        if not sep or not name or not pw:
            p.error("--user takes USER:PASS")
        users[name] = pw
    cfg.users = users
    cfg.reject = {a.lower() for a in cfg.reject}
    host, sep, port = cfg.listen.rpartition(":")
    if not sep or not port.isdigit():
        p.error("--listen takes HOST:PORT")
    cfg.host, cfg.port = host.strip("[]"), int(port)
    return cfg


def main(argv=None):
    cfg = parse_args(argv)
    ctx = None
    if cfg.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    server = libsmtp.Server(lambda: MailHandler(cfg, pool), cfg.host, cfg.port,
                            ssl_context=ctx, implicit_tls=cfg.implicit_tls,
                            hostname=cfg.hostname, lmtp=cfg.lmtp,
                            allow_plaintext_auth=cfg.allow_plaintext_auth,
                            require_auth=cfg.require_auth, require_tls=cfg.require_tls,
                            max_message_size=cfg.max_size)
    mode = "implicit TLS" if cfg.implicit_tls else "STARTTLS" if ctx else "plaintext"
    host, port = server.address
    print("server.py: listening on %s:%d (%s%s)" % (host if ":" not in host else "[%s]" % host,
                                                   port, mode, ", LMTP" if cfg.lmtp else ""),
          file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()            # 421 4.3.2 to open sessions
        pool.shutdown(wait=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
