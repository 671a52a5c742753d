#!/usr/bin/python3
"""Deliberately weak SMTP servers for testing smtp-probe: each MODE has one
known defect (or misbehaves at the transport level), everything else
follows RFC 5321.

  weak_smtpd.py MODE [CERT KEY]    prints "port N" on stdout, serves until killed

Modes (the defect, and the probe check that must report it as FAIL):
  good             none (the probe must find nothing)
  lf-end           bare LF taken as a line end in DATA before looking for
                   CRLF.CRLF (smuggling-lf-dot-lf, -lf-dot-crlf, -crlf-dot-lf)
  cr-end           the same with bare CR too (also smuggling-cr-dot-cr, ...)
  bdat-scan        BDAT content scanned for CRLF.CRLF; what follows runs as
                   commands (smuggling-bdat-*)
  starttls-inject  bytes pipelined behind STARTTLS are kept and run under TLS
                   (starttls-injection; needs CERT KEY)
  size-ignored     advertises SIZE 1000 and accepts anything (size-enforced)
  line-split       reads commands in 512-octet pieces: the tail of a long line
                   runs as a command (line-length)
  no-postmaster    refuses RCPT TO:<Postmaster> (postmaster)
  no-null-sender   refuses MAIL FROM:<> (null-sender)
  pipelining-drop  advertises PIPELINING, answers only the first command of
                   each packet (pipelining)
  chunking-broken  advertises CHUNKING, answers BDAT with 502 (chunking)
  bare-hangup      closes without a reply on a bare CR or LF in data
                   (bare-lf, bare-cr)
  stall-data       never answers the end of data (every data check)
  garbage          sends non-SMTP bytes instead of a greeting (exit 2)
  stall            accepts and says nothing (exit 2)
  close-mid-reply  sends half a greeting and closes (exit 2)
  stall-mid-reply  sends half a greeting and stalls (exit 2)
"""
import re
import socket
import ssl
import sys
import threading
import time

MODE = sys.argv[1]
CERT = sys.argv[2] if len(sys.argv) > 2 else None
KEY = sys.argv[3] if len(sys.argv) > 3 else None


class Conn:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""
        self.tls = False
        self.mail = False
        self.rcpts = 0

    def send(self, text):
        self.s.sendall(text.encode() + b"\r\n")

    def recv(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        return d

    def line(self):
        while True:
            if MODE == "line-split" and len(self.buf) >= 512 and b"\r\n" not in self.buf[:512]:
                piece, self.buf = self.buf[:510], self.buf[510:]
                return piece
            i = self.buf.find(b"\r\n")
            if i >= 0:
                l, self.buf = self.buf[:i], self.buf[i + 2:]
                return l
            self.buf += self.recv()

    def ehlo(self):
        kw = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]
        kw.append("SIZE 1000" if MODE == "size-ignored" else "SIZE 100000")
        if MODE in ("bdat-scan", "chunking-broken", "good"):
            kw.append("CHUNKING")
        if CERT and not self.tls:
            kw.append("STARTTLS")
        self.send("250-weak.test")
        for i, k in enumerate(kw):
            self.send(("250 " if i == len(kw) - 1 else "250-") + k)

    def data(self):
        """Read message data up to the end; return the bytes after it."""
        raw = b"\r\n" + self.buf
        self.buf = b""
        while True:
            view = raw
            if MODE == "bare-hangup" and re.search(rb"(?<!\r)\n|\r(?!\n)", raw[:-1] if raw.endswith(b"\r") else raw):
                self.s.close()
                raise EOFError
            if MODE in ("lf-end", "cr-end"):
                if MODE == "cr-end":
                    view = re.sub(rb"\r(?!\n)", b"\r\n", view)
                view = re.sub(rb"(?<!\r)\n", b"\r\n", view)
            i = view.find(b"\r\n.\r\n")
            if i >= 0:
                self.buf = view[i + 5:]
                return view[2:i]
            raw += self.recv()

    def transaction_done(self, size):
        self.mail = False
        self.rcpts = 0
        if MODE == "stall-data":
            time.sleep(60)
            raise EOFError
        if MODE == "size-ignored" or size <= 100000:
            self.send("250 2.0.0 queued")
        else:
            self.send("552 5.3.4 too big")

    def run(self):
        if MODE == "garbage":
            self.s.sendall(b"\x00\xffHTTP/1.1 400 Bad Request\r\n\r\n")
            time.sleep(1)
            return
        if MODE == "stall":
            time.sleep(60)
            return
        if MODE == "close-mid-reply":
            self.s.sendall(b"220-weak.test ESMTP\r\n220 wea")
            return
        if MODE == "stall-mid-reply":
            self.s.sendall(b"220-weak.test ESMTP\r\n220 wea")
            time.sleep(60)
            return
        self.send("220 weak.test ESMTP")
        while True:
            l = self.line()
            if MODE == "pipelining-drop":
                self.buf = b""
            verb = l.split(b" ", 1)[0].upper()
            arg = l[len(verb) + 1:] if b" " in l else b""
            if len(l) > 510 and MODE != "line-split":
                self.send("500 5.5.6 line too long")
            elif verb in (b"EHLO", b"HELO"):
                self.mail = False
                self.ehlo()
            elif verb == b"STARTTLS" and CERT and not self.tls:
                self.send("220 2.0.0 go ahead")
                keep = self.buf
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(CERT, KEY)
                self.s = ctx.wrap_socket(self.s, server_side=True)
                self.tls = True
                self.buf = keep if MODE == "starttls-inject" else b""
            elif verb == b"MAIL":
                m = re.match(rb"FROM:<([^>]*)>(.*)", arg, re.I)
                if not m:
                    self.send("501 5.5.4 syntax")
                elif m.group(1) == b"" and MODE == "no-null-sender":
                    self.send("550 5.7.1 null sender refused")
                elif MODE != "size-ignored" and re.search(rb"SIZE=(\d+)", m.group(2), re.I) \
                        and int(re.search(rb"SIZE=(\d+)", m.group(2), re.I).group(1)) > 100000:
                    self.send("552 5.3.4 too big")
                else:
                    self.mail = True
                    self.rcpts = 0
                    self.send("250 2.1.0 ok")
            elif verb == b"RCPT":
                if not self.mail:
                    self.send("503 5.5.1 MAIL first")
                elif arg.lower() == b"to:<postmaster>" and MODE == "no-postmaster":
                    self.send("550 5.1.1 no such user")
                else:
                    self.rcpts += 1
                    self.send("250 2.1.5 ok")
            elif verb == b"DATA":
                if not self.rcpts:
                    self.send("503 5.5.1 RCPT first")
                    continue
                self.send("354 go ahead")
                msg = self.data()
                self.transaction_done(len(msg))
            elif verb == b"BDAT":
                if MODE == "chunking-broken" or MODE not in ("bdat-scan", "good"):
                    self.send("502 5.5.1 not implemented")
                    continue
                m = re.match(rb"(\d+)( LAST)?$", arg, re.I)
                n = int(m.group(1))
                while len(self.buf) < n:
                    self.buf += self.recv()
                chunk, self.buf = self.buf[:n], self.buf[n:]
                if MODE == "bdat-scan":
                    i = chunk.find(b"\r\n.\r\n")
                    j = re.search(rb"(?<!\r)\n\.\r?\n|\r\n\.\n", chunk)
                    cut = min([k for k in (i if i >= 0 else None, j.start() if j else None) if k is not None],
                              default=-1)
                    if cut >= 0:
                        end = chunk.find(b"\n", chunk.find(b".", cut)) + 1
                        self.buf = chunk[end:] + self.buf
                        self.transaction_done(cut)
                        continue
                if m.group(2):
                    self.transaction_done(n)
                else:
                    self.send("250 2.0.0 %d octets" % n)
            elif verb == b"RSET":
                self.mail = False
                self.send("250 2.0.0 ok")
            elif verb == b"NOOP":
                self.send("250 2.0.0 ok")
            elif verb == b"VRFY":
                self.send("252 2.5.0 cannot verify")
            elif verb == b"QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("500 5.5.2 unknown command")


def serve(sock):
    try:
        Conn(sock).run()
    except (EOFError, OSError, ssl.SSLError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print("port %d" % ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


main()
