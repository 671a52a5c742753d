#!/usr/bin/env python3
"""Send one message with libsmtp's Python binding (like examples/smtp-send).

    client.py --server mx.example:25 --from alice@example.org \\
              --to bob@example.net --to carol@example.net message.eml
    client.py --server 127.0.0.1:2587 --starttls required --ca-file cert.pem \\
              --tls-servername localhost --auth alice:secret --from alice@example.org \\
              --to bob@example.net < message.eml

Output, one line per recipient, then one for the message:
    RCPT <addr> <code> <enhanced> <text>
    DATA <code> <enhanced> <text>          (LMTP: DATA <addr> ... per recipient)
    MAIL <code> <enhanced> <text>          (only when MAIL was refused)
<enhanced> is "-" when the server sent none. A failure before any reply
(connection, TLS, protocol error, local refusal) is one line on stderr.
Exit status: 0 every recipient accepted the message, 1 some did, 2 none,
64 usage error.
"""

import argparse
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import libsmtp  # noqa: E402
from libsmtp import errors  # noqa: E402


class Usage(argparse.ArgumentParser):
    def error(self, message):
        print("client.py: %s (see --help)" % message, file=sys.stderr)
        sys.exit(64)


def parse_args(argv):
    p = Usage(description="Send one message with libsmtp's Python binding.")
    p.add_argument("--server", required=True, help="HOST[:PORT] (default port 25; 465: implicit TLS)")
    p.add_argument("--from", dest="mail_from", required=True, help="reverse-path ('' for <>)")
    p.add_argument("--to", action="append", required=True, help="recipient (repeatable)")
    p.add_argument("--helo", help="EHLO/LHLO name (default: the local address literal)")
    p.add_argument("--starttls", choices=["required", "opportunistic", "off"],
                   default="opportunistic")
    p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte")
    p.add_argument("--ca-file", help="trust anchors for verifying the server")
    p.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    p.add_argument("--tls-servername", help="SNI and name to verify (default: the host)")
    p.add_argument("--auth", metavar="USER:PASS", help="authenticate")
    p.add_argument("--auth-mech", help="PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, ...")
    p.add_argument("--allow-plaintext-auth", action="store_true",
                   help="permit credentials without TLS")
    p.add_argument("--lmtp", action="store_true", help="speak LMTP (RFC 2033)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="cap on any single wait, seconds (RFC 5321 4.5.3.2 deadlines otherwise)")
    p.add_argument("--trace", action="store_true", help="protocol transcript on stderr")
    p.add_argument("file", nargs="?", default="-", help="the message (default: stdin)")
    cfg = p.parse_args(argv)
    host, port = cfg.server, None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            p.error("bad --server value: %s" % cfg.server)
        rest = host[end + 1:]
        host = host[1:end]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                p.error("bad --server value: %s" % cfg.server)
            port = int(rest[1:])
    elif host.count(":") == 1:
        host, _, ps = host.partition(":")
        if not ps.isdigit():
            p.error("bad --server value: %s" % cfg.server)
        port = int(ps)
    cfg.host, cfg.port = host, port or 25
    if cfg.port == 465:
        cfg.implicit_tls = True   # RFC 8314
    if cfg.auth is not None:
        user, sep, pw = cfg.auth.partition(":")
        if not sep or not user or not pw:
            p.error("--auth takes USER:PASS")
        cfg.credentials = (user, pw)
    else:
        cfg.credentials = None
    return cfg


def ssl_context(cfg):
    if cfg.implicit_tls or cfg.starttls != "off":
        if cfg.insecure:
            print("client.py: warning: not verifying the server certificate", file=sys.stderr)
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if cfg.ca_file:
            return ssl.create_default_context(cafile=cfg.ca_file)
        if cfg.starttls == "required" or cfg.implicit_tls:
            return ssl.create_default_context()
    return None  # opportunistic without --ca-file: send_mail() encrypts without verifying


def show(prefix, reply):
    print("%s %d %s %s" % (prefix, reply.code, reply.enhanced or "-",
                           " ".join(reply.lines)), flush=True)


def main(argv=None):
    cfg = parse_args(argv)
    try:
        if cfg.file == "-":
            message = sys.stdin.buffer.read()
        else:
            with open(cfg.file, "rb") as f:
                message = f.read()
    except OSError as e:
        print("client.py: %s" % e, file=sys.stderr)
        return 64
    try:
        txn = libsmtp.Transaction(cfg.mail_from, cfg.to, message)
    except libsmtp.Error as e:
        print("client.py: %s" % e, file=sys.stderr)   # nothing invalid reaches the wire
        return 64
    trace = None
    if cfg.trace:
        def trace(direction, line):
            print("%s: %s" % (direction, line), file=sys.stderr, flush=True)
    opts = {}
    if cfg.auth_mech:
        opts["auth_mechanism"] = cfg.auth_mech
    try:
        txn = libsmtp.send_mail(cfg.host, cfg.port, transaction=txn,
                                ssl_context=ssl_context(cfg), starttls=cfg.starttls,
                                implicit_tls=cfg.implicit_tls,
                                server_hostname=cfg.tls_servername or cfg.host,
                                ehlo_name=cfg.helo, credentials=cfg.credentials,
                                allow_plaintext_auth=cfg.allow_plaintext_auth, lmtp=cfg.lmtp,
                                max_wait=cfg.timeout, trace=trace, **opts)
    except (OSError, socket.gaierror) as e:
        print("client.py: cannot connect to %s:%d: %s" % (cfg.host, cfg.port, e), file=sys.stderr)
        return 2
    except libsmtp.Error as e:
        print("client.py: %s" % e, file=sys.stderr)
        return 64
    for r in txn.recipients:
        if r.rcpt_reply is not None:
            show("RCPT %s" % r.address, r.rcpt_reply)
    if txn.mail_reply is not None and not txn.mail_reply.is_success:
        show("MAIL", txn.mail_reply)
    if cfg.lmtp:
        for r in txn.recipients:
            if r.data_reply is not None:
                show("DATA %s" % r.address, r.data_reply)
    elif txn.data_replies:
        show("DATA", txn.data_replies[-1])
    if txn.mail_reply is None or not txn.ok and not txn.data_replies:
        why = txn.session_error or txn.status
        if why:
            extra = " (%s)" % txn.tls_error if txn.tls_error else ""
            print("client.py: %s%s" % (errors.strerror(why), extra), file=sys.stderr)
    n = len(txn.delivered)
    return 0 if n == len(txn.recipients) else 1 if n else 2


if __name__ == "__main__":
    sys.exit(main())
