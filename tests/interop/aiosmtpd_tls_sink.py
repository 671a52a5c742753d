"""aiosmtpd_sink.py's recording server with TLS and AUTH, for the client
interop tests (client_aiosmtpd_tls.sh).

usage: aiosmtpd_tls_sink.py OUTDIR PORTFILE CERT KEY MODE
MODE: "starttls" (STARTTLS offered and required before MAIL; AUTH only
after it) or "implicit" (TLS from the first byte, RFC 8314). AUTH PLAIN and
LOGIN accept user:s3cret. Each message goes to OUTDIR/N.eml and its
envelope to OUTDIR/N.env as in aiosmtpd_sink.py, plus "auth=<user>" and
"tls=<protocol>" lines. Stops after 60 s.
"""
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ilib  # noqa: E402  (tests/interop/ilib.py)
from aiosmtpd_sink import Recorder, serve  # noqa: E402


class TLSRecorder(Recorder):
    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        ssl_obj = server.transport.get_extra_info("ssl_object") if server.transport else None
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else ""
        with open(os.path.join(self.outdir, "%d.env" % self.n), "a", encoding="utf-8") as f:
            f.write("auth=%s\n" % login)
            f.write("tls=%s\n" % (ssl_obj.version() if ssl_obj else "none"))
        return reply


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"user"
          and auth_data.password == b"s3cret")
    # handled=False: aiosmtpd sends the 535 itself
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def main():
    outdir, portfile, cert, key, mode = sys.argv[1:6]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    port = ilib.free_port()
    common = dict(hostname="127.0.0.1", port=port, decode_data=False, enable_SMTPUTF8=True,
                  authenticator=authenticator)
    if mode == "implicit":
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls
        ctl = Controller(TLSRecorder(outdir), ssl_context=ctx, auth_require_tls=False, **common)
    else:
        ctl = Controller(TLSRecorder(outdir), tls_context=ctx, require_starttls=True,
                         auth_require_tls=True, **common)
    serve(ctl, port, portfile)


if __name__ == "__main__":
    main()
