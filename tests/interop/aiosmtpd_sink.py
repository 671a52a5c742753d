"""A recording SMTP server for the client interop tests (aiosmtpd).

usage: aiosmtpd_sink.py OUTDIR PORTFILE
Listens on 127.0.0.1 (a free port, written to PORTFILE), accepts every
recipient except those starting with "reject" (550 5.1.1) or "tempfail"
(450 4.2.0), and writes each message to OUTDIR/N.eml (bytes as received,
after dot-unstuffing) and its envelope to OUTDIR/N.env. Stops after 60 s.
"""
import os
import sys
import time

from aiosmtpd.controller import Controller

import ilib  # tests/interop/ilib.py, beside this file


class Recorder:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 no such user"
        if address.startswith("tempfail"):
            return "450 4.2.0 try later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.outdir, str(self.n))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".env", "w", encoding="utf-8") as f:
            f.write("from=%s\n" % envelope.mail_from)
            for r in envelope.rcpt_tos:
                f.write("rcpt=%s\n" % r)
            f.write("mail_options=%s\n" % " ".join(envelope.mail_options))
        return "250 2.0.0 queued as %d" % self.n


def serve(ctl, port, portfile):
    """Starts the controller, writes its port into portfile (whole: written
    aside, then renamed), serves for 60 s."""
    ctl.start()
    with open(portfile + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(portfile + ".tmp", portfile)
    try:
        time.sleep(60)
    finally:
        ctl.stop()


def main():
    outdir, portfile = sys.argv[1], sys.argv[2]
    port = ilib.free_port()
    serve(Controller(Recorder(outdir), hostname="127.0.0.1", port=port,
                     decode_data=False, enable_SMTPUTF8=True), port, portfile)


if __name__ == "__main__":
    main()
