"""libsmtp error codes (include/smtp/common.h) and the binding's exceptions."""

from . import _ffi

OK = 0
ERR_INVALID_ARGUMENT = -1
ERR_BUFFER_TOO_SMALL = -2
ERR_INCOMPLETE = -3
ERR_SYNTAX = -4
ERR_TOO_LONG = -5
ERR_INVALID_STATE = -6
ERR_WOULDBLOCK = -7
ERR_EOF = -8
ERR_PAUSE = -9
ERR_DEFERRED = -10
ERR_NOT_FOUND = -11
ERR_UNSUPPORTED = -12
ERR_UTF8 = -13
ERR_BAD_CHAR = -14
ERR_OVERFLOW = -15
ERR_BASE64 = -16
ERR_XTEXT = -17
ERR_LOCAL_PART_TOO_LONG = -18
ERR_DOMAIN_TOO_LONG = -19
ERR_PATH_TOO_LONG = -20
ERR_ADDRESS_LITERAL = -21
ERR_NEEDS_SMTPUTF8 = -22
ERR_PARAM = -23
ERR_REPLY_SYNTAX = -24
ERR_REPLY_CODE_MISMATCH = -25
ERR_REPLY_TOO_LONG = -26
ERR_REPLY_TOO_MANY_LINES = -27
ERR_ENHANCED_CODE = -28
ERR_BARE_CR = -29
ERR_BARE_LF = -30
ERR_NUL = -31
ERR_LINE_TOO_LONG = -32
ERR_MESSAGE_TOO_BIG = -33
ERR_NEEDS_8BITMIME = -34
ERR_NEEDS_BINARYMIME = -35
ERR_REJECTED = -36
ERR_TEMPFAIL = -37
ERR_AUTH_FAILED = -38
ERR_AUTH_TOO_WEAK = -39
ERR_AUTH_TEMP = -40
ERR_AUTH_UNAVAILABLE = -41
ERR_PLAINTEXT_AUTH = -42
ERR_TLS_REQUIRED = -43
ERR_LIMIT = -44
ERR_CALLBACK_REFUSED = -45
ERR_NEEDS_BURL = -46
ERR_TLS_NOT_VERIFIED = -57
ERR_FATAL = -900
ERR_NOMEM = -901
ERR_CALLBACK_FAILURE = -902
ERR_PROTOCOL = -903
ERR_CLOSED = -904
ERR_TIMEOUT = -905
ERR_SERVICE_UNAVAILABLE = -906
ERR_CONNECTION_LOST = -907
ERR_IO = -908
ERR_CONNECT = -909
ERR_TLS = -910
ERR_TLS_HANDSHAKE = -911
ERR_TLS_VERIFY = -912
ERR_TLS_CONFIG = -913
ERR_TLS_UNAVAILABLE = -914
ERR_TLS_CLOSED = -915

_NAMES = {v: k for k, v in globals().items() if k.startswith(("ERR_", "OK")) and isinstance(v, int)}


def strerror(code):
    """smtp_strerror(): a static English description of any error value."""
    return _ffi.lib().smtp_strerror(int(code)).decode("ascii", "replace")


def is_fatal(code):
    """smtp_is_fatal(): True for values at or below ERR_FATAL."""
    return bool(_ffi.lib().smtp_is_fatal(int(code)))


def name(code):
    """The symbolic name of an error value ("ERR_SYNTAX"), or str(code)."""
    return _NAMES.get(code, str(code))


class Error(Exception):
    """A libsmtp function failed. ``code`` is the negative smtp_error value."""

    def __init__(self, code, what=None):
        self.code = int(code)
        self.what = what
        msg = "%s (%s)" % (strerror(self.code), name(self.code))
        if what:
            msg = "%s: %s" % (what, msg)
        super().__init__(msg)

    @property
    def fatal(self):
        return is_fatal(self.code)


def check(rc, what=None):
    """Raise Error for a negative return value; return it otherwise."""
    if rc < 0:
        raise Error(rc, what)
    return rc
