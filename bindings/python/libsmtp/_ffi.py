"""Low-level ctypes declarations for libsmtp's C ABI.

Nothing here is meant for applications: use libsmtp.ServerSession,
libsmtp.ClientSession and the drivers in libsmtp.net. This module finds and
loads the shared library, refuses one whose ABI major version differs from
the one this binding was written for (smtp_version_check()), mirrors the
public structs the binding reads, and declares the argument and result
types of every function it calls.

Every struct mirrors include/smtp/*.h field for field; tests/test_load.py
compares sizes and offsets with a compiled probe when one is available.
"""

import ctypes
import ctypes.util
import glob
import os
import threading

# The ABI this binding was written against (include/smtp/version.h).
# smtp_version_check(ABI_MAJOR, ABI_MINOR) must accept the loaded library:
# same major version, minor version at least this one.
ABI_MAJOR = 1
ABI_MINOR = 0

c_int = ctypes.c_int
c_uint = ctypes.c_uint
c_size_t = ctypes.c_size_t
c_ssize = ctypes.c_ssize_t  # smtp_ssize is ptrdiff_t: pointer-sized and signed
c_uint64 = ctypes.c_uint64
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
POINTER = ctypes.POINTER

SIZE_MAX = ctypes.c_size_t(-1).value
NO_INDEX = SIZE_MAX  # SMTP_CLIENT_NO_INDEX


class LibraryNotFound(ImportError):
    """The shared library could not be found or loaded."""


class LibraryVersionError(ImportError):
    """The shared library's ABI does not match this binding."""


# --------------------------------------------------------------------------
# Structs (common.h, address.h, reply.h, ext.h, server.h, client.h)

class Span(ctypes.Structure):
    _fields_ = [("ptr", c_void_p), ("len", c_size_t)]

    def bytes(self):
        if not self.len:
            return b""
        return ctypes.string_at(self.ptr, self.len)


class TlsInfo(ctypes.Structure):
    _fields_ = [("protocol", c_char_p), ("cipher", c_char_p), ("sni", c_char_p),
                ("peer_verified", c_int), ("has_peer_cert", c_int),
                ("reserved", c_uint64 * 4)]


class Mailbox(ctypes.Structure):
    _fields_ = [("local", Span), ("domain", Span), ("domain_kind", c_int),
                ("quoted", c_int), ("utf8", c_int), ("reserved", c_uint64 * 2)]


class Path(ctypes.Structure):
    _fields_ = [("raw", Span), ("address", Span), ("route", Span), ("mailbox", Mailbox),
                ("is_null", c_int), ("is_postmaster", c_int), ("reserved", c_uint64 * 2)]


class Command(ctypes.Structure):
    _fields_ = [("verb", c_int), ("verb_text", Span), ("args", Span)]


class EnhancedCode(ctypes.Structure):
    _fields_ = [("cls", c_int), ("subject", c_int), ("detail", c_int)]


class ReplyStruct(ctypes.Structure):
    _fields_ = [("code", c_int), ("has_enhanced", c_int), ("enhanced", EnhancedCode),
                ("nlines", c_size_t), ("lines", POINTER(Span))]


CAPS_MAX_KEYWORDS = 48


class ExtKeyword(ctypes.Structure):
    _fields_ = [("keyword", Span), ("params", Span)]


class CapabilitiesStruct(ctypes.Structure):
    _fields_ = [("flags", c_uint), ("size_max", c_uint64), ("size_has_value", c_int),
                ("auth_mechs", c_uint), ("limits_rcptmax", c_uint), ("limits_mailmax", c_uint),
                ("limits_rcptdomainmax", c_uint), ("greeting", Span), ("nkeywords", c_size_t),
                ("ndropped", c_size_t), ("keywords", ExtKeyword * CAPS_MAX_KEYWORDS),
                ("reserved", c_uint64 * 4)]


class ServerHelo(ctypes.Structure):
    _fields_ = [("verb", c_int), ("name", Span), ("name_kind", c_int)]


class ServerMail(ctypes.Structure):
    _fields_ = [("path", POINTER(Path)), ("params", Span), ("size", c_uint64),
                ("has_size", c_int), ("body", c_int), ("smtputf8", c_int),
                ("requiretls", c_int), ("ret", c_int), ("envid", Span), ("has_envid", c_int),
                ("auth", Span), ("has_auth", c_int),
                ("has_mt_priority", c_int), ("mt_priority", c_int),
                ("has_by", c_int), ("by_time", c_int), ("by_mode", c_int), ("by_trace", c_int),
                ("has_hold_for", c_int), ("hold_for", c_uint),
                ("has_hold_until", c_int), ("hold_until", ctypes.c_int64),
                ("hold_until_text", Span), ("has_solicit", c_int), ("solicit", Span),
                ("has_mtrk", c_int), ("mtrk_certifier", Span), ("mtrk_timeout", c_uint),
                ("has_submitter", c_int), ("submitter", Span)]


class ServerRcpt(ctypes.Structure):
    _fields_ = [("path", POINTER(Path)), ("params", Span), ("notify", c_uint),
                ("orcpt_type", Span), ("orcpt", Span), ("has_orcpt", c_int), ("index", c_uint),
                ("has_rrvs", c_int), ("rrvs_time", ctypes.c_int64), ("rrvs_mode", c_int),
                ("rrvs_text", Span)]


class ServerDataEnd(ctypes.Structure):
    _fields_ = [("size", c_uint64), ("seen", c_uint), ("refused", c_int),
                ("rcpt_index", c_int), ("bdat", c_int)]


class ServerAuth(ctypes.Structure):
    _fields_ = [("mech", c_uint), ("authzid", Span), ("authcid", Span), ("password", Span)]


class ServerAuthStep(ctypes.Structure):
    _fields_ = [("mech", c_uint), ("mech_name", c_char_p), ("step", c_uint),
                ("response", Span), ("has_response", c_int)]


class TxnResultStruct(ctypes.Structure):
    _fields_ = [("status", c_int), ("nrcpt", c_size_t), ("naccepted", c_size_t),
                ("ndelivered", c_size_t), ("reserved", c_uint64 * 2)]


class ClientEventStruct(ctypes.Structure):
    _fields_ = [("type", c_int), ("error", c_int), ("index", c_size_t), ("part", c_uint),
                ("reply", POINTER(ReplyStruct)), ("caps", POINTER(CapabilitiesStruct)),
                ("txn", c_void_p), ("result", TxnResultStruct), ("reserved", c_uint64 * 4)]


# Every struct above, by its C name: the layout test compares them with
# sizeof/offsetof from a compiled probe.
STRUCTS = {
    "smtp_span": Span, "smtp_tls_info": TlsInfo, "smtp_mailbox": Mailbox,
    "smtp_path": Path, "smtp_command": Command, "smtp_enhanced_code": EnhancedCode,
    "smtp_reply": ReplyStruct, "smtp_ext_keyword": ExtKeyword,
    "smtp_capabilities": CapabilitiesStruct, "smtp_server_helo": ServerHelo,
    "smtp_server_mail": ServerMail, "smtp_server_rcpt": ServerRcpt,
    "smtp_server_data_end": ServerDataEnd, "smtp_server_auth": ServerAuth,
    "smtp_server_auth_step": ServerAuthStep, "smtp_client_txn_result": TxnResultStruct,
    "smtp_client_event": ClientEventStruct,
}

# --------------------------------------------------------------------------
# Callback types (server.h)

CFUNC = ctypes.CFUNCTYPE
SRV_VOID_CB = CFUNC(c_int, c_void_p, c_void_p)                            # connect, data_start, rset, noop, quit, starttls
SRV_HELO_CB = CFUNC(c_int, c_void_p, POINTER(ServerHelo), c_void_p)
SRV_MAIL_CB = CFUNC(c_int, c_void_p, POINTER(ServerMail), c_void_p)
SRV_RCPT_CB = CFUNC(c_int, c_void_p, POINTER(ServerRcpt), c_void_p)
SRV_BYTES_CB = CFUNC(c_int, c_void_p, c_void_p, c_size_t, c_void_p)      # data_chunk, vrfy, expn, help
SRV_DATA_END_CB = CFUNC(c_int, c_void_p, POINTER(ServerDataEnd), c_void_p)
SRV_COMMAND_CB = CFUNC(c_int, c_void_p, POINTER(Command), c_void_p)
SRV_AUTH_CB = CFUNC(c_int, c_void_p, POINTER(ServerAuth), c_void_p)
SRV_AUTH_STEP_CB = CFUNC(c_int, c_void_p, POINTER(ServerAuthStep), c_void_p)
SRV_TRACE_CB = CFUNC(c_int, c_void_p, c_int, c_void_p, c_size_t, c_void_p)
SRV_BDAT_CHUNK_CB = CFUNC(c_int, c_void_p, ctypes.c_uint64, c_void_p)

# client.h (callback mode is used only for the trace; events come through
# the generic event callback then)
CLI_EVENT_CB = CFUNC(c_int, c_void_p, POINTER(ClientEventStruct), c_void_p)
CLI_TRACE_CB = CFUNC(None, c_void_p, c_int, c_void_p, c_size_t, c_void_p)

# --------------------------------------------------------------------------
# Function prototypes: name -> (restype, argtypes)

_P = POINTER
_PROTOTYPES = {
    # common.h
    "smtp_strerror": (c_char_p, [c_int]),
    "smtp_is_fatal": (c_int, [c_int]),
    "smtp_version": (c_uint, []),
    "smtp_version_string": (c_char_p, []),
    "smtp_version_check": (c_int, [c_uint, c_uint]),
    # ext.h
    "smtp_sasl_mech_name": (c_char_p, [c_uint]),
    "smtp_sasl_mech_from_name": (c_uint, [c_char_p, c_size_t]),
    # tls.h (only the availability query)
    "smtp_tls_available": (c_int, []),
    # server.h: callbacks
    "smtp_server_callbacks_new": (c_int, [_P(c_void_p), c_void_p]),
    "smtp_server_callbacks_del": (None, [c_void_p]),
    "smtp_server_callbacks_set_connect": (None, [c_void_p, SRV_VOID_CB]),
    "smtp_server_callbacks_set_ehlo": (None, [c_void_p, SRV_HELO_CB]),
    "smtp_server_callbacks_set_mail": (None, [c_void_p, SRV_MAIL_CB]),
    "smtp_server_callbacks_set_rcpt": (None, [c_void_p, SRV_RCPT_CB]),
    "smtp_server_callbacks_set_data_start": (None, [c_void_p, SRV_VOID_CB]),
    "smtp_server_callbacks_set_data_chunk": (None, [c_void_p, SRV_BYTES_CB]),
    "smtp_server_callbacks_set_data_end": (None, [c_void_p, SRV_DATA_END_CB]),
    "smtp_server_callbacks_set_rset": (None, [c_void_p, SRV_VOID_CB]),
    "smtp_server_callbacks_set_vrfy": (None, [c_void_p, SRV_BYTES_CB]),
    "smtp_server_callbacks_set_expn": (None, [c_void_p, SRV_BYTES_CB]),
    "smtp_server_callbacks_set_help": (None, [c_void_p, SRV_BYTES_CB]),
    "smtp_server_callbacks_set_noop": (None, [c_void_p, SRV_VOID_CB]),
    "smtp_server_callbacks_set_quit": (None, [c_void_p, SRV_VOID_CB]),
    "smtp_server_callbacks_set_unknown_command": (None, [c_void_p, SRV_COMMAND_CB]),
    "smtp_server_callbacks_set_auth": (None, [c_void_p, SRV_AUTH_CB]),
    "smtp_server_callbacks_set_auth_step": (None, [c_void_p, SRV_AUTH_STEP_CB]),
    "smtp_server_callbacks_set_starttls": (None, [c_void_p, SRV_VOID_CB]),
    "smtp_server_callbacks_set_trace": (None, [c_void_p, SRV_TRACE_CB]),
    # server.h: options
    "smtp_server_options_new": (c_int, [_P(c_void_p), c_void_p]),
    "smtp_server_options_del": (None, [c_void_p]),
    "smtp_server_options_set_hostname": (c_int, [c_void_p, c_char_p]),
    "smtp_server_options_set_max_command_line": (c_int, [c_void_p, c_size_t]),
    "smtp_server_options_set_input_buffer": (c_int, [c_void_p, c_size_t]),
    "smtp_server_options_set_output_buffer": (c_int, [c_void_p, c_size_t]),
    "smtp_server_options_set_max_recipients": (c_int, [c_void_p, c_uint]),
    "smtp_server_options_set_max_transactions": (c_int, [c_void_p, c_uint]),
    "smtp_server_options_set_max_errors": (c_int, [c_void_p, c_uint]),
    "smtp_server_options_set_max_auth_failures": (c_int, [c_void_p, c_uint]),
    "smtp_server_options_set_max_message_size": (c_int, [c_void_p, c_uint64]),
    "smtp_server_options_set_extensions": (c_int, [c_void_p, c_uint]),
    "smtp_server_options_set_auth_mechs": (c_int, [c_void_p, c_uint]),
    "smtp_server_options_set_lmtp": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_tls_available": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_allow_plaintext_auth": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_require_tls": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_require_auth": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_bare_line_end": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_reject_nul": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_reject_long_lines": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_authzid_policy": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_lenient_space_after_colon": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_command_timeout": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_data_timeout": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_data_end_timeout": (c_int, [c_void_p, c_int]),
    "smtp_server_options_set_data_total_timeout": (c_int, [c_void_p, c_int]),
    # server.h: session
    "smtp_server_session_new": (c_int, [_P(c_void_p), c_void_p, c_void_p, c_void_p, c_void_p]),
    "smtp_server_session_del": (None, [c_void_p]),
    "smtp_server_session_mem_recv": (c_ssize, [c_void_p, c_void_p, c_size_t]),
    "smtp_server_session_mem_send": (c_ssize, [c_void_p, _P(c_void_p)]),
    "smtp_server_session_mem_consume": (c_int, [c_void_p, c_size_t]),
    "smtp_server_session_want_read": (c_int, [c_void_p]),
    "smtp_server_session_want_write": (c_int, [c_void_p]),
    "smtp_server_session_want_tls": (c_int, [c_void_p]),
    "smtp_server_session_is_closed": (c_int, [c_void_p]),
    "smtp_server_session_want_close": (c_int, [c_void_p]),
    "smtp_server_session_tls_started": (c_int, [c_void_p, _P(TlsInfo)]),
    "smtp_server_session_timeout_ms": (c_int, [c_void_p]),
    "smtp_server_session_deadline_seq": (c_uint, [c_void_p]),
    "smtp_server_session_total_timeout_ms": (c_int, [c_void_p]),
    "smtp_server_session_total_seq": (c_uint, [c_void_p]),
    "smtp_server_session_timeout": (c_int, [c_void_p]),
    "smtp_server_session_shutdown": (c_int, [c_void_p]),
    "smtp_server_session_reply": (c_int, [c_void_p, c_int, c_char_p, c_char_p]),
    "smtp_server_session_auth_challenge": (c_int, [c_void_p, c_void_p, c_size_t]),
    "smtp_server_session_auth_accept": (c_int, [c_void_p, c_char_p, c_size_t]),
    "smtp_server_session_flags": (c_uint, [c_void_p]),
    "smtp_server_session_reverse_path": (c_void_p, [c_void_p, _P(c_size_t)]),
    "smtp_server_session_rcpt_count": (c_uint, [c_void_p]),
    "smtp_server_session_transaction_count": (c_uint, [c_void_p]),
    "smtp_server_session_helo_name": (c_void_p, [c_void_p, _P(c_size_t)]),
    "smtp_server_session_auth_user": (c_void_p, [c_void_p, _P(c_size_t)]),
    "smtp_server_session_tls_info": (c_int, [c_void_p, _P(TlsInfo)]),
    "smtp_server_session_received_protocol": (c_char_p, [c_void_p]),
    "smtp_server_session_message_size": (c_uint64, [c_void_p]),
    # client.h: callbacks
    "smtp_client_callbacks_new": (c_int, [_P(c_void_p), c_void_p]),
    "smtp_client_callbacks_del": (None, [c_void_p]),
    "smtp_client_callbacks_set_event": (None, [c_void_p, CLI_EVENT_CB]),
    "smtp_client_callbacks_set_trace": (None, [c_void_p, CLI_TRACE_CB]),
    # client.h: options
    "smtp_client_options_new": (c_int, [_P(c_void_p), c_void_p]),
    "smtp_client_options_del": (None, [c_void_p]),
    "smtp_client_options_set_ehlo_name": (c_int, [c_void_p, c_char_p]),
    "smtp_client_options_set_lmtp": (c_int, [c_void_p, c_int]),
    "smtp_client_options_set_starttls": (c_int, [c_void_p, c_int]),
    "smtp_client_options_set_credentials": (c_int, [c_void_p, c_char_p, c_char_p, c_char_p]),
    "smtp_client_options_set_oauth_token": (c_int, [c_void_p, c_char_p, c_char_p]),
    "smtp_client_options_set_auth_mechanism": (c_int, [c_void_p, c_uint]),
    "smtp_client_options_set_allow_plaintext_auth": (c_int, [c_void_p, c_int]),
    "smtp_client_options_set_disabled_extensions": (c_int, [c_void_p, c_uint]),
    "smtp_client_options_set_require_smtputf8": (c_int, [c_void_p, c_int]),
    "smtp_client_options_set_requiretls": (c_int, [c_void_p, c_int]),
    "smtp_client_options_set_reply_limits": (c_int, [c_void_p, c_size_t, c_size_t]),
    "smtp_client_options_set_output_buffer": (c_int, [c_void_p, c_size_t]),
    # client.h: transactions
    "smtp_client_txn_new": (c_int, [_P(c_void_p), c_void_p]),
    "smtp_client_txn_del": (c_int, [c_void_p]),
    "smtp_client_txn_set_from": (c_int, [c_void_p, c_char_p, c_size_t]),
    "smtp_client_txn_add_rcpt": (c_ssize, [c_void_p, c_char_p, c_size_t, c_uint, c_char_p,
                                           c_size_t]),
    "smtp_client_txn_set_dsn": (c_int, [c_void_p, c_int, c_char_p, c_size_t]),
    "smtp_client_txn_set_size": (c_int, [c_void_p, c_uint64]),
    "smtp_client_txn_set_body_type": (c_int, [c_void_p, c_int]),
    "smtp_client_txn_set_body": (c_int, [c_void_p, c_void_p, c_size_t]),
    "smtp_client_txn_set_requiretls": (c_int, [c_void_p, c_int]),
    "smtp_client_txn_rcpt_count": (c_size_t, [c_void_p]),
    "smtp_client_txn_rcpt_result": (c_int, [c_void_p, c_size_t, _P(c_int), _P(c_int)]),
    # client.h: session
    "smtp_client_session_new": (c_int, [_P(c_void_p), c_void_p, c_void_p, c_void_p, c_void_p]),
    "smtp_client_session_del": (None, [c_void_p]),
    "smtp_client_session_mem_recv": (c_ssize, [c_void_p, c_void_p, c_size_t]),
    "smtp_client_session_mem_send": (c_ssize, [c_void_p, _P(c_void_p)]),
    "smtp_client_session_mem_consume": (c_int, [c_void_p, c_size_t]),
    "smtp_client_session_want_read": (c_int, [c_void_p]),
    "smtp_client_session_want_write": (c_int, [c_void_p]),
    "smtp_client_session_want_tls": (c_int, [c_void_p]),
    "smtp_client_session_tls_started": (c_int, [c_void_p, _P(TlsInfo)]),
    "smtp_client_session_tls_failed": (c_int, [c_void_p, c_int]),
    "smtp_client_session_tls_active": (c_int, [c_void_p]),
    "smtp_client_session_timeout_ms": (c_int, [c_void_p]),
    "smtp_client_session_timeout": (c_int, [c_void_p]),
    "smtp_client_session_connection_lost": (c_int, [c_void_p]),
    "smtp_client_session_submit": (c_int, [c_void_p, c_void_p]),
    "smtp_client_session_quit": (c_int, [c_void_p]),
    "smtp_client_session_next_event": (c_int, [c_void_p, _P(ClientEventStruct)]),
    "smtp_client_session_capabilities": (_P(CapabilitiesStruct), [c_void_p]),
    "smtp_client_session_error": (c_int, [c_void_p]),
    "smtp_client_session_is_closed": (c_int, [c_void_p]),
    "smtp_client_session_auth_mechanism": (c_uint, [c_void_p]),
}

_lock = threading.Lock()
_lib = None
_lib_path = None


def _candidates(path=None):
    """Places to look for the shared library, in order."""
    if path:
        yield path
        return
    env = os.environ.get("LIBSMTP_PATH")
    if env:
        yield env
        return
    # The build tree: <source>/build*/lib/libsmtp.so, this file being
    # <source>/bindings/python/libsmtp/_ffi.py.
    src = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    for name in ("build",) + tuple(sorted(os.path.basename(p)
                                          for p in glob.glob(os.path.join(src, "build-*")))):
        for lib in ("libsmtp.so", "libsmtp.dylib"):
            p = os.path.join(src, name, "lib", lib)
            if os.path.exists(p):
                yield p
    found = ctypes.util.find_library("smtp")
    if found:
        yield found


# --------------------------------------------------------------------------
# Test-harness kit (script.h, capture.h). Declared on first
# use by testing_lib(), so the rest of the binding still loads an older
# library.

class ScriptError(ctypes.Structure):
    _fields_ = [("line", c_uint), ("message", ctypes.c_char * 120), ("reserved", c_uint64 * 4)]


class ScriptAction(ctypes.Structure):
    _fields_ = [("code", c_int), ("enhanced", ctypes.c_char * 16), ("text", c_char_p),
                ("delay_ms", c_uint), ("tarpit_ms", c_uint), ("close", c_int),
                ("matched", c_uint), ("reserved", c_uint64 * 4)]


STRUCTS["smtp_script_error"] = ScriptError
STRUCTS["smtp_script_action"] = ScriptAction

CAPTURE_RECORD_CB = CFUNC(None, c_void_p, c_void_p, c_void_p)

_TESTING_PROTOTYPES = {
    "smtp_script_parse": (c_int, [_P(c_void_p), c_char_p, c_size_t, c_void_p, _P(ScriptError)]),
    "smtp_script_del": (None, [c_void_p]),
    "smtp_script_rule_count": (c_size_t, [c_void_p]),
    "smtp_script_drop_mask": (c_uint, [c_void_p]),
    "smtp_script_run_new": (c_int, [_P(c_void_p), c_void_p, c_void_p]),
    "smtp_script_run_del": (None, [c_void_p]),
    "smtp_script_run_next": (c_int, [c_void_p, c_int, c_char_p, c_size_t, _P(ScriptAction)]),
    "smtp_capture_new": (c_int, [_P(c_void_p), CAPTURE_RECORD_CB, c_void_p, c_void_p]),
    "smtp_capture_del": (None, [c_void_p]),
    "smtp_capture_set_client": (c_int, [c_void_p, c_char_p, c_int, c_char_p, c_int]),
    "smtp_capture_trace": (c_int, [c_void_p, c_void_p, c_int, c_char_p, c_size_t]),
    "smtp_capture_data_end": (c_int, [c_void_p, _P(ServerDataEnd)]),
    "smtp_capture_set_file": (c_int, [c_void_p, c_char_p]),
    "smtp_capture_set_client_cert": (c_int, [c_void_p, c_char_p, c_size_t]),
    "smtp_capture_end": (None, [c_void_p]),
    "smtp_capture_record_json": (c_int, [c_void_p, c_char_p, c_char_p, c_size_t, _P(c_size_t)]),
}
_testing_declared = False


def testing_lib():
    """The loaded library with the test-harness functions declared; raises
    LibraryVersionError when it lacks them."""
    global _testing_declared
    lib_ = lib()
    with _lock:
        if not _testing_declared:
            try:
                for name, (restype, argtypes) in _TESTING_PROTOTYPES.items():
                    fn = getattr(lib_, name)
                    fn.restype = restype
                    fn.argtypes = argtypes
            except AttributeError as e:
                raise LibraryVersionError("libsmtp lacks the test-harness kit (smtp_script_*, smtp_capture_*): %s" % e) from None
            _testing_declared = True
    return lib_


# Added in ABI 1.1: declared when the loaded library has them, so that the
# binding still runs on a 1.0 library (what needs them says so, see
# available()). smtp/script.h's one is declared with the test-harness kit.
_PROTOTYPES_1_1 = {
    "smtp_server_callbacks_set_bdat_chunk": (None, [c_void_p, SRV_BDAT_CHUNK_CB]),
    "smtp_server_session_ehlo_hide": (c_int, [c_void_p, c_uint]),
    "smtp_script_run_drop": (c_uint, [c_void_p]),
}


def available(name):
    """Whether the loaded library exports @p name (for the 1.1 additions)."""
    try:
        getattr(lib(), name)
    except AttributeError:
        return False
    return True


def _declare(lib):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)  # AttributeError: an export is missing
        fn.restype = restype
        fn.argtypes = argtypes
    for name, (restype, argtypes) in _PROTOTYPES_1_1.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            continue  # a 1.0 library
        fn.restype = restype
        fn.argtypes = argtypes


def _open(path, required=(ABI_MAJOR, ABI_MINOR)):
    """Load one candidate and check its version; return the CDLL."""
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise LibraryNotFound("cannot load %s: %s" % (path, e)) from None
    try:
        check = lib.smtp_version_check
    except AttributeError:
        raise LibraryVersionError("%s is not libsmtp (no smtp_version_check)" % path) from None
    check.restype = c_int
    check.argtypes = [c_uint, c_uint]
    if check(required[0], required[1]) != 0:
        lib.smtp_version_string.restype = c_char_p
        have = lib.smtp_version_string().decode("ascii", "replace")
        raise LibraryVersionError(
            "%s is libsmtp %s; this binding needs ABI %d.x with x >= %d"
            % (path, have, required[0], required[1]))
    try:
        _declare(lib)
    except AttributeError as e:
        raise LibraryVersionError("%s lacks a symbol this binding uses: %s" % (path, e)) from None
    return lib


def load(path=None, required=(ABI_MAJOR, ABI_MINOR)):
    """Load libsmtp and check its ABI version; return the ctypes.CDLL.

    Search order: @p path when given; else $LIBSMTP_PATH; else the build
    trees next to this source tree (build/, build-*/); else
    ctypes.util.find_library("smtp"). The first library that loads is
    checked with smtp_version_check(ABI_MAJOR, ABI_MINOR): a different
    major version (or an older minor one) raises LibraryVersionError rather
    than risk calling into an incompatible ABI.

    The first successful load is kept for the process; loading again with
    another path raises RuntimeError.
    """
    global _lib, _lib_path
    with _lock:
        if _lib is not None:
            if path and os.path.realpath(path) != os.path.realpath(_lib_path):
                raise RuntimeError("libsmtp is already loaded from %s" % _lib_path)
            return _lib
        errors = []
        for cand in _candidates(path):
            try:
                lib = _open(cand, required)
            except LibraryNotFound as e:
                errors.append(str(e))
                continue
            _lib, _lib_path = lib, cand
            return lib
        raise LibraryNotFound("libsmtp shared library not found (set LIBSMTP_PATH)"
                              + ("".join("\n  " + e for e in errors)))


def lib():
    """The loaded library (loading it with the default search on first use)."""
    return _lib if _lib is not None else load()


def loaded_path():
    """Path of the loaded library, or None."""
    return _lib_path
