"""libsmtp for Python: ctypes over the libsmtp shared library (no compiler needed).

    import libsmtp
    libsmtp.load()                       # optional: explicit path, else LIBSMTP_PATH,
                                         # the build tree, or find_library("smtp")
    s = libsmtp.ServerSession(handler, hostname="mx.example")
    c = libsmtp.ClientSession(ehlo_name="client.example")
    txn = libsmtp.send_mail("127.0.0.1", 2525, "a@example.org", ["b@example.org"], msg)

The library is loaded on first use and refused unless
smtp_version_check(ABI_MAJOR, ABI_MINOR) accepts it (same ABI major
version, minor at least the binding's).
"""

from ._ffi import (ABI_MAJOR, ABI_MINOR, LibraryNotFound, LibraryVersionError, load,
                   loaded_path)
from . import errors
from .errors import Error
from .reply import Reply
from .server import (DEFERRED, PAUSE, ServerSession, Helo, Mail, Rcpt, DataEnd, Auth, AuthStep,
                     Command, Address)
from .client import (ClientSession, Transaction, Recipient, Event, EventType, Capabilities)
from .net import Server, ServerConnection, ClientConnection, send_mail

__all__ = [
    "ABI_MAJOR", "ABI_MINOR", "LibraryNotFound", "LibraryVersionError", "load", "loaded_path",
    "version", "version_string", "tls_available", "errors", "Error", "Reply", "DEFERRED",
    "PAUSE", "ServerSession", "Helo", "Mail", "Rcpt", "DataEnd", "Auth", "AuthStep", "Command",
    "Address", "ClientSession", "Transaction", "Recipient", "Event", "EventType",
    "Capabilities", "Server", "ServerConnection", "ClientConnection", "send_mail",
]


def version():
    """smtp_version() of the loaded library as (major, minor, patch)."""
    from ._ffi import lib
    v = lib().smtp_version()
    return (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


def version_string():
    """smtp_version_string() of the loaded library, e.g. "0.1.0"."""
    from ._ffi import lib
    return lib().smtp_version_string().decode("ascii")


def tls_available():
    """Whether the C library was built with TLS (the binding's own TLS uses
    Python's ssl module and works either way)."""
    from ._ffi import lib
    return bool(lib().smtp_tls_available())
