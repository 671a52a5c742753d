/**
 * @file xclient.h
 * @brief XCLIENT and XFORWARD attribute lists (Postfix's XCLIENT_README
 *        and XFORWARD_README): parsing for the server side, formatting for
 *        the client side.
 *
 * A trusted front end (a proxy such as nginx's mail module, a content
 * filter, an SMTP client relaying for another) tells the server who the
 * real client is:
 *
 * @verbatim
 *   XCLIENT NAME=client.example ADDR=192.0.2.1 PORT=50123 HELO=client.example
 *   220 mx.example ESMTP            (the session starts over: EHLO again)
 *   XFORWARD NAME=[UNAVAILABLE] ADDR=IPV6:2001:db8::1 PROTO=ESMTP
 *   250 2.0.0 Ok
 * @endverbatim
 *
 * Each attribute is `NAME=value` with the value xtext-encoded (RFC 3461 4);
 * the decoded value is at most ::SMTP_XATTR_VALUE_MAX octets of printable
 * ASCII, or the special value `[UNAVAILABLE]` (any case). `[TEMPUNAVAIL]`
 * is allowed for XCLIENT's NAME only (a host name lookup that failed for a
 * transient reason, as XCLIENT_README has it). Names are case-insensitive;
 * each may appear once per command. XCLIENT knows NAME ADDR PORT PROTO HELO
 * LOGIN DESTADDR DESTPORT; XFORWARD knows NAME ADDR PROTO HELO SOURCE IDENT
 * PORT. ADDR and DESTADDR are an IPv4 address or `IPV6:` and an IPv6
 * address; PORT and DESTPORT are 0..65535. XCLIENT's PROTO is SMTP or
 * ESMTP; XFORWARD's is any protocol name of up to
 * ::SMTP_XFORWARD_PROTO_MAX octets (XFORWARD_README); SOURCE is LOCAL or
 * REMOTE.
 *
 * What the server session does with them (Postfix's semantics): XCLIENT
 * attributes describe the client for the rest of the connection (each one
 * until a later XCLIENT gives it again); XFORWARD attributes describe the
 * client of the next mail transaction only and are forgotten when it ends,
 * on RSET, HELO/EHLO, STARTTLS and XCLIENT. See
 * smtp_server_options_set_xclient() and smtp_server_session_xattrs().
 *
 * The server session handles both commands itself when enabled
 * (smtp_server_options_set_xclient()) and offers them in the EHLO reply
 * only to a session the application trusts
 * (smtp_server_session_allow_xclient()); an untrusted client gets
 * `550 5.7.0`. The client session sends XCLIENT when the server offers it
 * (smtp_client_options_set_xclient()).
 */
#ifndef SMTP_XCLIENT_H
#define SMTP_XCLIENT_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The XCLIENT command (bit for smtp_server_options_set_xclient()). */
#define SMTP_XCLIENT 1u
/** @brief The XFORWARD command. */
#define SMTP_XFORWARD 2u

/** @brief Attribute indexes into ::smtp_xattrs. */
typedef enum smtp_xattr {
  SMTP_XATTR_NAME = 0,     /**< client host name (XCLIENT, XFORWARD) */
  SMTP_XATTR_ADDR = 1,     /**< client address (XCLIENT, XFORWARD) */
  SMTP_XATTR_PORT = 2,     /**< client port (XCLIENT, XFORWARD) */
  SMTP_XATTR_PROTO = 3,    /**< SMTP or ESMTP (XCLIENT, XFORWARD) */
  SMTP_XATTR_HELO = 4,     /**< the client's HELO/EHLO argument (XCLIENT, XFORWARD) */
  SMTP_XATTR_LOGIN = 5,    /**< SASL login name (XCLIENT) */
  SMTP_XATTR_DESTADDR = 6, /**< server address the client connected to (XCLIENT) */
  SMTP_XATTR_DESTPORT = 7, /**< server port (XCLIENT) */
  SMTP_XATTR_SOURCE = 8,   /**< LOCAL or REMOTE (XFORWARD) */
  SMTP_XATTR_IDENT = 9,    /**< the original queue identifier (XFORWARD) */
  SMTP_XATTR_COUNT = 10    /**< number of attributes */
} smtp_xattr;

/** @brief Longest decoded attribute value. */
#define SMTP_XATTR_VALUE_MAX 255
/** @brief Longest XFORWARD PROTO value (XFORWARD_README: up to 64 characters). */
#define SMTP_XFORWARD_PROTO_MAX 64

/** @brief smtp_xattrs::state: the attribute was not given. */
#define SMTP_XVALUE_ABSENT 0
/** @brief smtp_xattrs::state: a value is given (smtp_xattrs::value). */
#define SMTP_XVALUE_SET 1
/** @brief smtp_xattrs::state: `[UNAVAILABLE]`. */
#define SMTP_XVALUE_UNAVAILABLE 2
/** @brief smtp_xattrs::state: `[TEMPUNAVAIL]` (XCLIENT NAME only). */
#define SMTP_XVALUE_TEMPUNAVAIL 3

/**
 * @brief A list of attributes, one slot per ::smtp_xattr.
 */
typedef struct smtp_xattrs {
  /** `SMTP_XVALUE_*` per attribute. */
  uint32_t state[SMTP_XATTR_COUNT];
  /** The decoded value per attribute with state ::SMTP_XVALUE_SET (parsing:
   *  points into the caller's scratch buffer; formatting: the caller's
   *  text, not encoded). */
  smtp_span value[SMTP_XATTR_COUNT];
  /** Zero; room for later fields. */
  uint32_t reserved[4];
} smtp_xattrs;

/**
 * @brief The attribute's name ("NAME", "ADDR", ...).
 * @param attr an ::smtp_xattr.
 * @return a static string, or NULL for an unknown index.
 */
SMTP_API const char *smtp_xattr_name(unsigned int attr);

/**
 * @brief Parse the arguments of XCLIENT or XFORWARD (after the verb and
 *        its space).
 * @param verb     ::SMTP_XCLIENT or ::SMTP_XFORWARD (which names are known).
 * @param args     the arguments (not NUL-terminated).
 * @param len      their length.
 * @param out      filled in (zeroed first).
 * @param scratch  where decoded values are written.
 * @param cap      its size (the arguments' length always suffices).
 * @return 0; ::SMTP_ERR_SYNTAX (empty list, an element without `=` or with
 *         an empty name, doubled or trailing spaces, an ADDR/DESTADDR that
 *         is not an address, a PORT/DESTPORT that is not 0..65535, an
 *         XCLIENT PROTO other than SMTP/ESMTP, an XFORWARD PROTO over
 *         ::SMTP_XFORWARD_PROTO_MAX octets, SOURCE other than LOCAL/REMOTE,
 *         `[TEMPUNAVAIL]` for an attribute other than XCLIENT's NAME);
 *         ::SMTP_ERR_PARAM (a name this command does not know, or given
 *         twice); ::SMTP_ERR_XTEXT; ::SMTP_ERR_TOO_LONG (a value over
 *         ::SMTP_XATTR_VALUE_MAX); ::SMTP_ERR_BAD_CHAR (a decoded value with
 *         a control character, space or non-ASCII octet);
 *         ::SMTP_ERR_BUFFER_TOO_SMALL; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_xattrs_parse(unsigned int verb, const char *args, size_t len, smtp_xattrs *out,
                               char *scratch, size_t cap);

/**
 * @brief Format the arguments of XCLIENT or XFORWARD: `NAME=value ...` in
 *        ::smtp_xattr order, values xtext-encoded, without the verb and
 *        without CRLF. Every value is checked as smtp_xattrs_parse() would.
 * @param verb  ::SMTP_XCLIENT or ::SMTP_XFORWARD.
 * @param in    the attributes (absent ones are left out).
 * @param buf   destination (no NUL is written).
 * @param cap   its size.
 * @return octets written; ::SMTP_ERR_PARAM (an attribute this command does
 *         not know, or none at all); the value errors of smtp_xattrs_parse();
 *         ::SMTP_ERR_BUFFER_TOO_SMALL; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API smtp_ssize smtp_xattrs_format(unsigned int verb, const smtp_xattrs *in, char *buf,
                                       size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_XCLIENT_H */
