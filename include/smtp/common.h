/**
 * @file common.h
 * @brief Basics shared by every part of libsmtp: the export macro, error
 *        codes, spans, the allocator hook and version queries.
 */
#ifndef SMTP_COMMON_H
#define SMTP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <smtp/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
#if defined(_WIN32)
#if defined(SMTP_BUILDING_DLL)
#define SMTP_API __declspec(dllexport)
#elif defined(SMTP_STATIC)
#define SMTP_API
#else
#define SMTP_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define SMTP_API __attribute__((visibility("default")))
#else
#define SMTP_API
#endif
/** @endcond */

/**
 * @brief Signed size type for "byte count or negative error" results.
 *
 * Always the width of a pointer (ptrdiff_t), so bindings can use
 * `ctypes.c_ssize_t` and the like.
 */
typedef ptrdiff_t smtp_ssize;

/**
 * @brief Library error codes.
 *
 * Every error is a negative number with a fixed value that never changes
 * between releases. Values at or below ::SMTP_ERR_FATAL are fatal: the
 * session that returned one cannot go on and must be deleted (see
 * smtp_is_fatal()). SMTP reply codes (250, 550, ...) are protocol data and
 * never appear here.
 */
typedef enum smtp_error {
  SMTP_OK = 0,                        /**< Success. */
  SMTP_ERR_INVALID_ARGUMENT = -1,     /**< An argument is NULL, out of range or otherwise invalid. */
  SMTP_ERR_BUFFER_TOO_SMALL = -2,     /**< The output buffer cannot hold the result. */
  SMTP_ERR_INCOMPLETE = -3,           /**< More input is needed. */
  SMTP_ERR_SYNTAX = -4,               /**< The input does not match its grammar. */
  SMTP_ERR_TOO_LONG = -5,             /**< The input is longer than its limit. */
  SMTP_ERR_INVALID_STATE = -6,        /**< The call is not allowed in the current state. */
  SMTP_ERR_WOULDBLOCK = -7,           /**< I/O: nothing can be moved now; try again later. */
  SMTP_ERR_EOF = -8,                  /**< I/O: the peer closed the connection. */
  SMTP_ERR_PAUSE = -9,                /**< A callback asked to return from the current call now. */
  SMTP_ERR_DEFERRED = -10,            /**< A callback will answer later (server: smtp_server_session_reply()). */
  SMTP_ERR_NOT_FOUND = -11,           /**< The requested item does not exist. */
  SMTP_ERR_UNSUPPORTED = -12,         /**< The peer or the build lacks a needed feature. */
  SMTP_ERR_UTF8 = -13,                /**< Invalid UTF-8 (overlong, surrogate, > U+10FFFF, truncated). */
  SMTP_ERR_BAD_CHAR = -14,            /**< A forbidden byte (CR, LF, NUL or another control) in the input. */
  SMTP_ERR_OVERFLOW = -15,            /**< A number does not fit its type or exceeds its limit. */
  SMTP_ERR_BASE64 = -16,              /**< Invalid base64. */
  SMTP_ERR_XTEXT = -17,               /**< Invalid xtext (RFC 3461 4). */
  SMTP_ERR_LOCAL_PART_TOO_LONG = -18, /**< Local-part over 64 octets (RFC 5321 4.5.3.1.1). */
  SMTP_ERR_DOMAIN_TOO_LONG = -19,     /**< Domain over 255 octets (RFC 5321 4.5.3.1.2). */
  SMTP_ERR_PATH_TOO_LONG = -20,       /**< Path over 256 octets (RFC 5321 4.5.3.1.3). */
  SMTP_ERR_ADDRESS_LITERAL = -21,     /**< Malformed address literal (RFC 5321 4.1.3). */
  SMTP_ERR_NEEDS_SMTPUTF8 = -22,      /**< Non-ASCII where only ASCII is allowed (RFC 6531). */
  SMTP_ERR_PARAM = -23,               /**< Malformed or unknown esmtp parameter. */
  SMTP_ERR_REPLY_SYNTAX = -24,        /**< Malformed reply line (RFC 5321 4.2). */
  SMTP_ERR_REPLY_CODE_MISMATCH = -25, /**< Lines of one multi-line reply carry different codes. */
  SMTP_ERR_REPLY_TOO_LONG = -26,      /**< A reply line, or a whole reply, exceeds its bound. */
  SMTP_ERR_REPLY_TOO_MANY_LINES = -27,/**< A multi-line reply has too many lines. */
  SMTP_ERR_ENHANCED_CODE = -28,       /**< Malformed enhanced status code (RFC 3463). */
  SMTP_ERR_BARE_CR = -29,             /**< A CR not followed by LF. */
  SMTP_ERR_BARE_LF = -30,             /**< An LF not preceded by CR. */
  SMTP_ERR_NUL = -31,                 /**< A NUL octet. */
  SMTP_ERR_LINE_TOO_LONG = -32,       /**< A text line over 1000 octets incl. CRLF (RFC 5321 4.5.3.1.6). */
  SMTP_ERR_MESSAGE_TOO_BIG = -33,     /**< The message exceeds the size limit (RFC 1870). */
  SMTP_ERR_NEEDS_8BITMIME = -34,      /**< 8-bit content but the server lacks 8BITMIME (RFC 6152). */
  SMTP_ERR_NEEDS_BINARYMIME = -35,    /**< Binary content but the server lacks BINARYMIME/CHUNKING (RFC 3030). */
  SMTP_ERR_REJECTED = -36,            /**< The server refused (5xx). */
  SMTP_ERR_TEMPFAIL = -37,            /**< The server failed temporarily (4xx). */
  SMTP_ERR_AUTH_FAILED = -38,         /**< 535: authentication credentials invalid (RFC 4954). */
  SMTP_ERR_AUTH_TOO_WEAK = -39,       /**< 534: mechanism too weak (RFC 4954). */
  SMTP_ERR_AUTH_TEMP = -40,           /**< 454: temporary authentication failure (RFC 4954). */
  SMTP_ERR_AUTH_UNAVAILABLE = -41,    /**< No usable AUTH mechanism in common. */
  SMTP_ERR_PLAINTEXT_AUTH = -42,      /**< Credentials would travel without TLS and that is not allowed. */
  SMTP_ERR_TLS_REQUIRED = -43,        /**< TLS is required but is not available or not up. */
  SMTP_ERR_LIMIT = -44,               /**< A configured limit was reached (recipients, errors, ...). */
  SMTP_ERR_CALLBACK_REFUSED = -45,    /**< A callback refused the operation (non-fatal). */
  SMTP_ERR_NEEDS_BURL = -46,          /**< The body is to come from URLs but the server lacks BURL (RFC 4468). */
  SMTP_ERR_PROXY_HEADER = -53,       /**< A PROXY protocol header is malformed, oversized or missing where one is required. */
  SMTP_ERR_UNTRUSTED = -54,          /**< The peer is not a trusted source for a PROXY header, XCLIENT or XFORWARD. */
  SMTP_ERR_TLS_NOT_VERIFIED = -57,    /**< REQUIRETLS asked for, but the server's certificate was not verified (RFC 8689 4.1). */
  SMTP_ERR_DNS = -61,                 /**< A DNS lookup failed (server failure, time-out, malformed answer) or the resolver is unusable. */
  SMTP_ERR_DNSSEC_BOGUS = -62,        /**< A DNSSEC-signed answer failed validation (RFC 4035 5.5). */
  SMTP_ERR_NULL_MX = -63,             /**< The domain publishes a null MX: it accepts no mail (RFC 7505). */
  SMTP_ERR_DANE = -64,                /**< The server certificate matches none of the usable TLSA records (RFC 7672). */
  SMTP_ERR_MTA_STS = -65,             /**< An MTA-STS policy forbids this delivery, or the policy is invalid (RFC 8461). */
  SMTP_ERR_NO_ROUTE = -66,            /**< No usable mail exchanger or address is left to try. */

  /** Threshold: every code at or below this value is fatal. */
  SMTP_ERR_FATAL = -900,
  SMTP_ERR_NOMEM = -901,              /**< An allocation failed. */
  SMTP_ERR_CALLBACK_FAILURE = -902,   /**< A callback failed; the session is unusable. */
  SMTP_ERR_PROTOCOL = -903,           /**< The peer violated the protocol. */
  SMTP_ERR_CLOSED = -904,             /**< The session is closed (after QUIT, 421, or a fatal error). */
  SMTP_ERR_TIMEOUT = -905,            /**< A protocol deadline passed (RFC 5321 4.5.3.2). */
  SMTP_ERR_SERVICE_UNAVAILABLE = -906,/**< The server answered 421 / closed the channel. */
  SMTP_ERR_CONNECTION_LOST = -907,    /**< The connection ended unexpectedly. */
  SMTP_ERR_IO = -908,                 /**< An I/O adapter reported a hard error. */
  SMTP_ERR_CONNECT = -909,            /**< Could not connect or resolve. */
  SMTP_ERR_TLS = -910,                /**< TLS failure (generic). */
  SMTP_ERR_TLS_HANDSHAKE = -911,      /**< The TLS handshake failed. */
  SMTP_ERR_TLS_VERIFY = -912,         /**< The peer certificate did not verify (chain or name). */
  SMTP_ERR_TLS_CONFIG = -913,         /**< Bad TLS configuration (certificate, key, CA file). */
  SMTP_ERR_TLS_UNAVAILABLE = -914,    /**< libsmtp was built without TLS. */
  SMTP_ERR_TLS_CLOSED = -915          /**< TLS close_notify or alert: the session ends (no plaintext fallback). */
} smtp_error;

/**
 * @brief A human-readable, static, English description of @p error.
 * @param error a value of ::smtp_error (or any int).
 * @return never NULL; unknown values give "Unknown error".
 */
SMTP_API const char *smtp_strerror(int error);

/**
 * @brief Whether @p error is fatal (at or below ::SMTP_ERR_FATAL).
 * @param error a value returned by any libsmtp function.
 * @return 1 when fatal, 0 otherwise (including 0 and positive values).
 */
SMTP_API int smtp_is_fatal(int error);

/**
 * @brief A view of bytes owned by someone else: never NUL-terminated.
 *
 * Every function that returns a span says how long it stays valid.
 */
typedef struct smtp_span {
  const char *ptr; /**< First byte (may be NULL when len is 0). */
  size_t len;      /**< Number of bytes. */
} smtp_span;

/**
 * @brief Allocator hook, given per session (never global).
 *
 * Sessions copy the struct. Every allocation libsmtp makes goes through
 * it. All four functions must be set; smtp_mem_default() returns the
 * C library's allocator.
 */
typedef struct smtp_mem {
  void *user_data;                                           /**< Passed to every function. */
  void *(*malloc)(size_t size, void *user_data);             /**< Like malloc(3). */
  void (*free)(void *ptr, void *user_data);                  /**< Like free(3); NULL is a no-op. */
  void *(*calloc)(size_t nmemb, size_t size, void *user_data);/**< Like calloc(3). */
  void *(*realloc)(void *ptr, size_t size, void *user_data); /**< Like realloc(3). */
} smtp_mem;

/**
 * @brief The default allocator (malloc/free/calloc/realloc of the C library).
 * @return a pointer to a static, immutable object.
 */
SMTP_API const smtp_mem *smtp_mem_default(void);

/**
 * @brief Run-time version of the library, as ::SMTP_API_VERSION encodes it.
 *
 * A binding compares (smtp_version() >> 16) with the major version it was
 * written for; see also smtp_version_check().
 * @return (major << 16) | (minor << 8) | patch of the loaded library, which
 *         may differ from ::SMTP_API_VERSION of the headers a program was
 *         compiled with.
 */
SMTP_API unsigned int smtp_version(void);

/**
 * @brief The run-time version as a string.
 * @return a static NUL-terminated string "major.minor.patch", e.g. "0.1.0";
 *         never NULL.
 */
SMTP_API const char *smtp_version_string(void);

/**
 * @brief Check that the loaded library is ABI-compatible with @p major.@p minor.
 *
 * Call it with ::SMTP_API_VERSION_MAJOR and ::SMTP_API_VERSION_MINOR of the
 * headers a program or binding was written against.
 * @param major the ABI major version required (must be equal).
 * @param minor the ABI minor version required (the library's may be higher).
 * @return 0 when the library has the same major version and at least the
 *         given minor version; ::SMTP_ERR_UNSUPPORTED otherwise.
 */
SMTP_API int smtp_version_check(unsigned int major, unsigned int minor);

/**
 * @brief Escape untrusted bytes for a terminal or a log line.
 *
 * Trace callbacks (::smtp_server_on_trace, ::smtp_client_on_trace) and
 * every span a session hands out carry the peer's bytes raw: printed as
 * they are, an escape sequence from the network reaches the operator's
 * terminal. This function writes a copy that is printable ASCII plus valid
 * UTF-8 only:
 *  - printable ASCII (0x20..0x7E) is copied, except `\` which becomes `\\`;
 *  - CR, LF and TAB become `\r`, `\n`, `\t`; every other C0 control and
 *    DEL becomes `\xHH` (two upper-case hex digits);
 *  - a valid UTF-8 sequence (RFC 3629: shortest form, no surrogates, at
 *    most U+10FFFF) is copied, except the C1 controls U+0080..U+009F and the
 *    invisible formatting and direction controls (U+061C, U+200B..U+200F,
 *    U+2028..U+202E, U+2060..U+206F, U+FEFF), which become `\uHHHH`;
 *  - every octet that does not start a valid sequence becomes `\xHH`, and
 *    escaping resumes at the next octet.
 * The result is the same whatever the input; distinct inputs give distinct
 * outputs (a literal `\` is doubled). At most 6 octets per input octet.
 *
 * @param out where to write; may be NULL when @p cap is 0 (to measure).
 * @param cap size of @p out. When > 0, the output is always NUL-terminated;
 *        when the whole text does not fit it stops before the first escape
 *        or UTF-8 sequence that would not fit (never half of one).
 * @param in the bytes (not NUL-terminated, may hold NUL); may be NULL when
 *        @p len is 0.
 * @param len octets in @p in.
 * @return the length of the whole escaped text, without the NUL (as
 *         snprintf(3) does): the output was complete when the result is
 *         less than @p cap. NULL @p in with @p len > 0 counts as empty.
 */
SMTP_API size_t smtp_escape_text(char *out, size_t cap, const char *in, size_t len);


/**
 * @brief Facts about an established TLS session, handed to a session by
 *        the transport (smtp_server_session_tls_started(),
 *        smtp_client_session_tls_started()).
 *
 * The strings are only read during that call; sessions copy what they keep.
 */
typedef struct smtp_tls_info {
  const char *protocol;  /**< e.g. "TLSv1.3"; may be NULL. */
  const char *cipher;    /**< Cipher-suite name (IANA with OpenSSL, Mbed TLS's spelling with Mbed TLS); may be NULL. */
  const char *sni;       /**< Server: the SNI the client sent (untrusted bytes); may be NULL. */
  int peer_verified;     /**< 1 when the peer's certificate chain and name verified (or a verification callback accepted it, tls.h). */
  int has_peer_cert;     /**< 1 when the peer presented a certificate. */
} smtp_tls_info;

#ifdef __cplusplus
}
#endif

#endif /* SMTP_COMMON_H */
