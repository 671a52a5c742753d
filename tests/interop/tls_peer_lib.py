"""Shared part of the STARTTLS interop scripts against other SMTP stacks
(tls_exim.py, tls_node.py, tls_gosmtp.py): TAP-style checks, the example
programs (smtp-send given, smtp-server next to it), a throw-away PKI made
with openssl, the test message and the byte comparisons, and the two
exchanges of the scripts against a peer program (tls_node.py,
tls_gosmtp.py): send_to_peer() and peer_to_server().

TLS 1.3 is expected everywhere (RFC 8446) unless LIBSMTP_EXPECT_TLS12=1
(the backend is Mbed TLS before 3.2), then TLS 1.2 (RFC 5246)."""
import os
import re
import shutil
import subprocess
import sys
import time

import ilib

WANT13 = os.environ.get("LIBSMTP_EXPECT_TLS12", "0") != "1"
_tap = ilib.Tap(600)
check = _tap.check
finish = _tap.finish


def skip(why):
    print("1..0 # SKIP " + why)
    sys.exit(77)


def programs(arg):
    """(smtp-send, smtp-server) from the path given to the script."""
    d = os.path.dirname(os.path.abspath(arg))
    return os.path.join(d, "smtp-send"), os.path.join(d, "smtp-server")


def tls_in_build(send):
    """Whether the build has TLS: smtp-server --tls-self-signed starts only
    then (the options exist in every build)."""
    server = os.path.join(os.path.dirname(send), "smtp-server")
    r = subprocess.run([server, "--stdio", "--tls-self-signed"], input=b"QUIT\r\n", capture_output=True,
                       timeout=30)
    return r.returncode == 0


def make_cert(tmp, name, cn):
    """A self-signed certificate for cn (CN and subjectAltName): (cert, key)."""
    cert = os.path.join(tmp, name + "-cert.pem")
    key = os.path.join(tmp, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn,
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


# Dot-transparency (RFC 5321 4.5.2): lines that start with dots; a line of
# one dot inside the body; long lines; 8-bit-free so every peer takes it.
BODY = (b".leading dot\r\n..two dots\r\n.\r\nmiddle\r\n" + b"x" * 900 + b"\r\n"
        + b"".join(b"line %04d of the STARTTLS interop message\r\n" % i for i in range(400))
        + b"last line\r\n")


def message(subject):
    return (b"From: <sender@example.com>\r\nTo: <rcpt@example.org>\r\nSubject: " + subject.encode()
            + b"\r\nMessage-ID: <" + subject.replace(" ", "-").encode() + b"@example.com>\r\n\r\n" + BODY)


def want_proto():
    return "TLSv1.3" if WANT13 else "TLSv1.2"


def send(send_bin, tmp, port, msg, args, limit=60):
    """smtp-send with --trace: (exit status, stdout, stderr)."""
    path = os.path.join(tmp, "msg.eml")
    with open(path, "wb") as f:
        f.write(msg)
    r = subprocess.run(["timeout", "-k", "5", str(limit), send_bin, "--server", "127.0.0.1:%d" % port,
                        "--from", "sender@example.com", "--to", "rcpt@example.org", "--trace"]
                       + list(args) + [path], capture_output=True)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def trace_tls(err):
    """The "TLS: <protocol> <cipher>, ..." line smtp-send --trace prints."""
    m = re.search(r"^TLS: (\S+) (\S+)", err, re.M)
    return (m.group(1), m.group(2)) if m else (None, None)


def maildir_messages(md):
    """Stored messages of smtp-server --maildir, in delivery order, without
    the prepended Return-Path/Delivered-To/Received block: [(head, msg)]."""
    return [ilib.split_stored(f) for f in ilib.maildir_files(md)]


def peer_files(d):
    """Messages a peer program (bench/go-smtp-peer.go, bench/node-smtp-peer.js)
    stored as <n>.eml: [(tls line, envelope line, message)]."""
    out = []
    if not os.path.isdir(d):
        return out
    for f in sorted((f for f in os.listdir(d) if f.endswith(".eml")), key=lambda f: int(f[:-4])):
        data = open(os.path.join(d, f), "rb").read()
        tls_line, _, rest = data.partition(b"\r\n")
        env_line, _, msg = rest.partition(b"\r\n")
        out.append((tls_line.decode(errors="replace"), env_line.decode(errors="replace"), msg))
    return out


class SmtpServer(ilib.Server):
    """examples/smtp-server with STARTTLS from cert/key and a Maildir."""

    def __init__(self, binary, tmp, name, cert, key, extra=()):
        self.maildir = os.path.join(tmp, name + "-md")
        super().__init__(binary, tmp, name, ["--tls-cert", cert, "--tls-key", key,
                                             "--maildir", self.maildir] + list(extra))


class Peer(ilib.Listener):
    """A peer program on 127.0.0.1:0 that prints "listening on
    127.0.0.1:PORT" on stderr (bounded by timeout(1))."""

    def __init__(self, argv, tmp, name, limit=150, env=None):
        super().__init__(argv, tmp, name, limit=limit, wait=20, env=env, stdout=subprocess.DEVNULL)


def need_openssl_and_tls(send_bin):
    """Skips (77) without openssl(1) or without TLS in the build."""
    if not shutil.which("openssl"):
        skip("openssl not installed")
    if not tls_in_build(send_bin):
        skip("smtp-send without TLS")


def send_to_peer(peer_name, who, port, store, send_bin, tmp, cert, other, peer_tls, as_stored=None,
                 stored_how="message byte for byte"):
    """smtp-send into a peer program's server (peer_name; who: the name in
    "<who> saw") on port, which stores what it gets in store (peer_files):
    STARTTLS required with the certificate verified against cert, the
    protocol both sides saw (peer_tls: the peer's name for it), the
    envelope and the message (as_stored: what the peer makes of it,
    unchanged when None); then with the trust anchor other: refused before
    MAIL, nothing stored."""
    msg = message("to " + peer_name)
    rc, out, err = send(send_bin, tmp, port, msg,
                        ["--starttls", "required", "--ca-file", cert, "--tls-servername", "localhost"])
    check("smtp-send -> %s: accepted, exit 0" % peer_name, rc == 0, out + err[-1500:])
    proto, cipher = trace_tls(err)
    check("smtp-send -> %s: %s (trace: %s %s)" % (peer_name, want_proto(), proto, cipher),
          proto == want_proto(), err[:600])
    time.sleep(0.2)
    got = peer_files(store)
    check("smtp-send -> %s: one message stored" % peer_name, len(got) == 1, got)
    if got:
        tls_line, env_line, stored = got[-1]
        check("smtp-send -> %s: %s saw %s" % (peer_name, who, peer_tls),
              tls_line.startswith("X-TLS: " + peer_tls + " "), tls_line)
        check("smtp-send -> %s: envelope" % peer_name,
              env_line == "X-Envelope: sender@example.com -> rcpt@example.org", env_line)
        check("smtp-send -> %s: %s" % (peer_name, stored_how),
              stored == (as_stored(msg) if as_stored else msg), stored[:300])
    rc, out, err = send(send_bin, tmp, port, message("wrong anchor"),
                        ["--starttls", "required", "--ca-file", other, "--tls-servername", "localhost"])
    check("smtp-send -> %s, wrong trust anchor: fails (exit 2)" % peer_name, rc == 2, (rc, out, err[-600:]))
    check("... and no MAIL was sent", "C: MAIL" not in err, err[-600:])
    time.sleep(0.2)
    check("... nothing stored", len(peer_files(store)) == 1)


def peer_to_server(client_name, refused_by, run_client, server_bin, tmp, cert, key, other, peer_tls,
                   sent_marker=None):
    """A peer program's client (client_name) into smtp-server with STARTTLS
    from cert/key: run_client(port, path, ca) sends the file path and
    returns the subprocess.run result, whose stdout starts with
    "tls=<protocol> " (and holds sent_marker, if given, when sent). Sent
    with the certificate verified against cert, the protocol it saw
    (peer_tls), the message stored byte for byte, ESMTPS in Received;
    then with the trust anchor other: refused by the client (refused_by),
    nothing stored."""
    srv = SmtpServer(server_bin, tmp, "server", cert, key)
    try:
        path = os.path.join(tmp, "from-%s.eml" % client_name)
        msg = message("from " + client_name)
        with open(path, "wb") as f:
            f.write(msg)
        r = run_client(srv.port, path, cert)
        out = r.stdout.decode(errors="replace")
        check("%s -> smtp-server: sent (certificate verified)" % client_name,
              r.returncode == 0 and (sent_marker is None or sent_marker in out), (out, r.stderr[-800:]))
        check("%s -> smtp-server: %s" % (client_name, peer_tls), out.startswith("tls=" + peer_tls + " "), out)
        time.sleep(0.2)
        stored = maildir_messages(srv.maildir)
        check("%s -> smtp-server: one message stored" % client_name, len(stored) == 1, len(stored))
        if stored:
            head, body = stored[-1]
            check("%s -> smtp-server: message byte for byte" % client_name, body == msg, body[:300])
            check("%s -> smtp-server: Received says ESMTPS" % client_name, b"ESMTPS" in head, head)
        r = run_client(srv.port, path, other)
        check("%s -> smtp-server with a wrong anchor: refused by %s" % (client_name, refused_by),
              r.returncode != 0, r.stdout)
        time.sleep(0.2)
        check("... nothing stored", len(maildir_messages(srv.maildir)) == 1)
    finally:
        srv.close()
