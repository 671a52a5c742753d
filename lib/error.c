/* Error strings (smtp_strerror) and version queries. */
#include "internal.h"

const char *smtp_strerror(int error) {
  switch (error) {
  case SMTP_OK: return "Success.";
  case SMTP_ERR_INVALID_ARGUMENT: return "An argument is NULL, out of range or otherwise invalid.";
  case SMTP_ERR_BUFFER_TOO_SMALL: return "The output buffer cannot hold the result.";
  case SMTP_ERR_INCOMPLETE: return "More input is needed.";
  case SMTP_ERR_SYNTAX: return "The input does not match its grammar.";
  case SMTP_ERR_TOO_LONG: return "The input is longer than its limit.";
  case SMTP_ERR_INVALID_STATE: return "The call is not allowed in the current state.";
  case SMTP_ERR_WOULDBLOCK: return "I/O: nothing can be moved now; try again later.";
  case SMTP_ERR_EOF: return "I/O: the peer closed the connection.";
  case SMTP_ERR_PAUSE: return "A callback asked to return from the current call now.";
  case SMTP_ERR_DEFERRED: return "A callback will answer later (server: smtp_server_session_reply()).";
  case SMTP_ERR_NOT_FOUND: return "The requested item does not exist.";
  case SMTP_ERR_UNSUPPORTED: return "The peer or the build lacks a needed feature.";
  case SMTP_ERR_UTF8: return "Invalid UTF-8 (overlong, surrogate, > U+10FFFF, truncated).";
  case SMTP_ERR_BAD_CHAR: return "A forbidden byte (CR, LF, NUL or another control) in the input.";
  case SMTP_ERR_OVERFLOW: return "A number does not fit its type or exceeds its limit.";
  case SMTP_ERR_BASE64: return "Invalid base64.";
  case SMTP_ERR_XTEXT: return "Invalid xtext (RFC 3461 4).";
  case SMTP_ERR_LOCAL_PART_TOO_LONG: return "Local-part over 64 octets (RFC 5321 4.5.3.1.1).";
  case SMTP_ERR_DOMAIN_TOO_LONG: return "Domain over 255 octets (RFC 5321 4.5.3.1.2).";
  case SMTP_ERR_PATH_TOO_LONG: return "Path over 256 octets (RFC 5321 4.5.3.1.3).";
  case SMTP_ERR_ADDRESS_LITERAL: return "Malformed address literal (RFC 5321 4.1.3).";
  case SMTP_ERR_NEEDS_SMTPUTF8: return "Non-ASCII where only ASCII is allowed (RFC 6531).";
  case SMTP_ERR_PARAM: return "Malformed or unknown esmtp parameter.";
  case SMTP_ERR_REPLY_SYNTAX: return "Malformed reply line (RFC 5321 4.2).";
  case SMTP_ERR_REPLY_CODE_MISMATCH: return "Lines of one multi-line reply carry different codes.";
  case SMTP_ERR_REPLY_TOO_LONG: return "A reply line, or a whole reply, exceeds its bound.";
  case SMTP_ERR_REPLY_TOO_MANY_LINES: return "A multi-line reply has too many lines.";
  case SMTP_ERR_ENHANCED_CODE: return "Malformed enhanced status code (RFC 3463).";
  case SMTP_ERR_BARE_CR: return "A CR not followed by LF.";
  case SMTP_ERR_BARE_LF: return "An LF not preceded by CR.";
  case SMTP_ERR_NUL: return "A NUL octet.";
  case SMTP_ERR_LINE_TOO_LONG: return "A text line over 1000 octets incl. CRLF (RFC 5321 4.5.3.1.6).";
  case SMTP_ERR_MESSAGE_TOO_BIG: return "The message exceeds the size limit (RFC 1870).";
  case SMTP_ERR_NEEDS_8BITMIME: return "8-bit content but the server lacks 8BITMIME (RFC 6152).";
  case SMTP_ERR_NEEDS_BINARYMIME: return "Binary content but the server lacks BINARYMIME/CHUNKING (RFC 3030).";
  case SMTP_ERR_REJECTED: return "The server refused (5xx).";
  case SMTP_ERR_TEMPFAIL: return "The server failed temporarily (4xx).";
  case SMTP_ERR_AUTH_FAILED: return "535: authentication credentials invalid (RFC 4954).";
  case SMTP_ERR_AUTH_TOO_WEAK: return "534: mechanism too weak (RFC 4954).";
  case SMTP_ERR_AUTH_TEMP: return "454: temporary authentication failure (RFC 4954).";
  case SMTP_ERR_AUTH_UNAVAILABLE: return "No usable AUTH mechanism in common.";
  case SMTP_ERR_PLAINTEXT_AUTH: return "Credentials would travel without TLS and that is not allowed.";
  case SMTP_ERR_TLS_REQUIRED: return "TLS is required but is not available or not up.";
  case SMTP_ERR_LIMIT: return "A configured limit was reached (recipients, errors, ...).";
  case SMTP_ERR_CALLBACK_REFUSED: return "A callback refused the operation (non-fatal).";
  case SMTP_ERR_NEEDS_BURL: return "The body is to come from URLs but the server lacks BURL (RFC 4468).";
  case SMTP_ERR_PROXY_HEADER: return "A PROXY protocol header is malformed, oversized or missing where one is required.";
  case SMTP_ERR_UNTRUSTED: return "The peer is not a trusted source for a PROXY header, XCLIENT or XFORWARD.";
  case SMTP_ERR_TLS_NOT_VERIFIED: return "REQUIRETLS asked for, but the server's certificate was not verified (RFC 8689 4.1).";
  case SMTP_ERR_DNS: return "A DNS lookup failed (server failure, time-out, malformed answer) or the resolver is unusable.";
  case SMTP_ERR_DNSSEC_BOGUS: return "A DNSSEC-signed answer failed validation (RFC 4035 5.5).";
  case SMTP_ERR_NULL_MX: return "The domain publishes a null MX: it accepts no mail (RFC 7505).";
  case SMTP_ERR_DANE: return "The server certificate matches none of the usable TLSA records (RFC 7672).";
  case SMTP_ERR_MTA_STS: return "An MTA-STS policy forbids this delivery, or the policy is invalid (RFC 8461).";
  case SMTP_ERR_NO_ROUTE: return "No usable mail exchanger or address is left to try.";
  case SMTP_ERR_NOMEM: return "An allocation failed.";
  case SMTP_ERR_CALLBACK_FAILURE: return "A callback failed; the session is unusable.";
  case SMTP_ERR_PROTOCOL: return "The peer violated the protocol.";
  case SMTP_ERR_CLOSED: return "The session is closed (after QUIT, 421, or a fatal error).";
  case SMTP_ERR_TIMEOUT: return "A protocol deadline passed (RFC 5321 4.5.3.2).";
  case SMTP_ERR_SERVICE_UNAVAILABLE: return "The server answered 421 / closed the channel.";
  case SMTP_ERR_CONNECTION_LOST: return "The connection ended unexpectedly.";
  case SMTP_ERR_IO: return "An I/O adapter reported a hard error.";
  case SMTP_ERR_CONNECT: return "Could not connect or resolve.";
  case SMTP_ERR_TLS: return "TLS failure (generic).";
  case SMTP_ERR_TLS_HANDSHAKE: return "The TLS handshake failed.";
  case SMTP_ERR_TLS_VERIFY: return "The peer certificate did not verify (chain or name).";
  case SMTP_ERR_TLS_CONFIG: return "Bad TLS configuration (certificate, key, CA file).";
  case SMTP_ERR_TLS_UNAVAILABLE: return "libsmtp was built without TLS.";
  case SMTP_ERR_TLS_CLOSED: return "TLS close_notify or alert: the session ends (no plaintext fallback).";
  default: return "Unknown error";
  }
}

int smtp_is_fatal(int error) { return error <= SMTP_ERR_FATAL; }

unsigned int smtp_version(void) { return (unsigned int)SMTP_API_VERSION; }

#define SMTP__STR2(x) #x
#define SMTP__STR(x) SMTP__STR2(x)
const char *smtp_version_string(void) {
  return SMTP__STR(SMTP_API_VERSION_MAJOR) "." SMTP__STR(SMTP_API_VERSION_MINOR) "." SMTP__STR(SMTP_API_VERSION_PATCH);
}

int smtp_version_check(unsigned int major, unsigned int minor) {
  if (major != (unsigned int)SMTP_API_VERSION_MAJOR || minor > (unsigned int)SMTP_API_VERSION_MINOR)
    return SMTP_ERR_UNSUPPORTED;
  return SMTP_OK;
}
