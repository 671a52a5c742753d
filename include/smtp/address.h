/**
 * @file address.h
 * @brief The ABNF of RFC 5321 4.1.2-4.1.3 (and RFC 6531 for UTF-8): command
 *        lines, paths, mailboxes, domains, address literals, esmtp
 *        parameters, xtext (RFC 3461 4) and UTF-8 validation.
 *
 * Every parser returns spans into its input: nothing is copied or
 * allocated, and spans are valid as long as the input is.
 */
#ifndef SMTP_ADDRESS_H
#define SMTP_ADDRESS_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest Local-part (RFC 5321 4.5.3.1.1). */
#define SMTP_LOCAL_PART_MAX 64
/** Longest Domain (RFC 5321 4.5.3.1.2). */
#define SMTP_DOMAIN_MAX 255
/** Longest path, angle brackets included (RFC 5321 4.5.3.1.3). */
#define SMTP_PATH_MAX 256
/** Longest command line, CRLF included (RFC 5321 4.5.3.1.4). */
#define SMTP_COMMAND_LINE_MAX 512

/** @brief Parse flags. */
typedef enum smtp_parse_flags {
  SMTP_PARSE_UTF8 = 1u << 0,          /**< Allow UTF-8 per RFC 6531 (SMTPUTF8 was given). */
  SMTP_PARSE_SPACE_AFTER_COLON = 1u << 1, /**< Accept "MAIL FROM: <a>" (outside the ABNF, common). */
  SMTP_PARSE_EMPTY_QUOTED = 1u << 2       /**< Accept the empty Quoted-string `""` as a Local-part
                                               (valid in RFC 5321, refused by default per Erratum
                                               5414 and RFC 5321bis 4.1.2). */
} smtp_parse_flags;

/** @brief Command verbs (RFC 5321 4.1.1 and the extensions). */
typedef enum smtp_verb {
  SMTP_VERB_UNKNOWN = 0, /**< Not a verb libsmtp knows (see smtp_command.verb_text). */
  SMTP_VERB_HELO,        /**< HELO (RFC 5321 4.1.1.1) */
  SMTP_VERB_EHLO,        /**< EHLO (RFC 5321 4.1.1.1) */
  SMTP_VERB_LHLO,        /**< LHLO (RFC 2033 4.1) */
  SMTP_VERB_MAIL,        /**< MAIL (RFC 5321 4.1.1.2) */
  SMTP_VERB_RCPT,        /**< RCPT (RFC 5321 4.1.1.3) */
  SMTP_VERB_DATA,        /**< DATA (RFC 5321 4.1.1.4) */
  SMTP_VERB_BDAT,        /**< BDAT (RFC 3030 2) */
  SMTP_VERB_RSET,        /**< RSET (RFC 5321 4.1.1.5) */
  SMTP_VERB_VRFY,        /**< VRFY (RFC 5321 4.1.1.6) */
  SMTP_VERB_EXPN,        /**< EXPN (RFC 5321 4.1.1.7) */
  SMTP_VERB_HELP,        /**< HELP (RFC 5321 4.1.1.8) */
  SMTP_VERB_NOOP,        /**< NOOP (RFC 5321 4.1.1.9) */
  SMTP_VERB_QUIT,        /**< QUIT (RFC 5321 4.1.1.10) */
  SMTP_VERB_STARTTLS,    /**< STARTTLS (RFC 3207 4) */
  SMTP_VERB_AUTH,        /**< AUTH (RFC 4954 4) */
  SMTP_VERB_ETRN         /**< ETRN (RFC 1985) */
} smtp_verb;

/** @brief A parsed command line. */
typedef struct smtp_command {
  int verb;             /**< ::smtp_verb (case-insensitive match). */
  smtp_span verb_text;  /**< The verb as sent. */
  smtp_span args;       /**< Everything after the single SP following the verb (may be empty). */
} smtp_command;

/**
 * @brief Split a command line (without its CRLF) into verb and arguments.
 *
 * The verb is 1-16 letters/digits (RFC 5321 4.1.1: case-insensitive); it
 * ends at SP or the end of line. The args span starts after that one SP and
 * is not examined further (it may be empty or begin with another SP; the
 * argument parsers below decide). Both spans point into @p line and are
 * valid as long as it is.
 * @param line the command line without its CRLF (not NUL-terminated); may
 *        be NULL when @p len is 0.
 * @param len bytes in @p line.
 * @param out set to the verb and arguments; on error its verb is
 *        ::SMTP_VERB_UNKNOWN and its spans are empty.
 * @return ::SMTP_OK, ::SMTP_ERR_SYNTAX (empty, bad verb character, no SP after the
 *         verb), ::SMTP_ERR_BAD_CHAR (CR, LF or NUL anywhere), ::SMTP_ERR_TOO_LONG
 *         (over 510 octets), ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, or NULL
 *         @p line with @p len > 0).
 */
SMTP_API int smtp_parse_command(const char *line, size_t len, smtp_command *out);

/** @brief Kind of a domain or address literal. */
typedef enum smtp_domain_kind {
  SMTP_DOMAIN_NAME = 0,    /**< A Domain (sub-domains, possibly U-labels with SMTPUTF8). */
  SMTP_DOMAIN_IPV4 = 1,    /**< [IPv4-address-literal] */
  SMTP_DOMAIN_IPV6 = 2,    /**< [IPv6:...] */
  SMTP_DOMAIN_GENERAL = 3  /**< [tag:content] General-address-literal */
} smtp_domain_kind;

/** @brief A Mailbox = Local-part "@" ( Domain / address-literal ). */
typedef struct smtp_mailbox {
  smtp_span local;   /**< Local-part exactly as sent (quotes and backslashes kept). */
  smtp_span domain;  /**< Domain or address literal as sent (brackets kept). */
  int domain_kind;   /**< ::smtp_domain_kind */
  int quoted;        /**< 1 when the Local-part is a Quoted-string. */
  int utf8;          /**< 1 when any octet is non-ASCII. */
  uint64_t reserved[2]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_mailbox;

/** @brief A Reverse-path or Forward-path. */
typedef struct smtp_path {
  smtp_span raw;       /**< The whole path including "<" and ">". */
  smtp_span address;   /**< Between the brackets, source route removed (empty for <>). */
  smtp_span route;     /**< The A-d-l source route, accepted and ignored (RFC 5321 4.1.2, C.). */
  smtp_mailbox mailbox;/**< The mailbox (zeroed for the null path and for \<Postmaster>). */
  int is_null;         /**< 1 for "<>" (reverse-path only). */
  int is_postmaster;   /**< 1 for "<Postmaster>" without domain (forward-path only; any case). */
  uint64_t reserved[2]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_path;

/**
 * @brief Parse a Mailbox (no angle brackets) that is the whole of @p s.
 *
 * The first octet that does not fit the grammar picks the error: a control
 * gives ::SMTP_ERR_BAD_CHAR, non-ASCII without ::SMTP_PARSE_UTF8
 * ::SMTP_ERR_NEEDS_SMTPUTF8, invalid UTF-8 ::SMTP_ERR_UTF8. A label over 63
 * octets is ::SMTP_ERR_SYNTAX. Leading zeros in IPv4 literals ("[001.2.3.4]")
 * are accepted (Snum = 1*3DIGIT). U-labels are checked as UTF-8 LDH labels
 * only; full IDNA2008 validation is the application's. On error @p out is
 * zeroed; on success its spans point into @p s and are valid as long as
 * @p s is.
 * @param s the mailbox text (not NUL-terminated); may be NULL when @p len is 0.
 * @param len bytes in @p s.
 * @param flags ::smtp_parse_flags bits (0 for plain RFC 5321 ASCII).
 * @param out set to the parsed mailbox; zeroed on error.
 * @return ::SMTP_OK, ::SMTP_ERR_SYNTAX, ::SMTP_ERR_LOCAL_PART_TOO_LONG,
 *         ::SMTP_ERR_DOMAIN_TOO_LONG, ::SMTP_ERR_ADDRESS_LITERAL,
 *         ::SMTP_ERR_NEEDS_SMTPUTF8, ::SMTP_ERR_UTF8, ::SMTP_ERR_BAD_CHAR,
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, or NULL @p s with
 *         @p len > 0).
 */
SMTP_API int smtp_parse_mailbox(const char *s, size_t len, unsigned flags, smtp_mailbox *out);

/**
 * @brief Parse a Reverse-path ("<>" allowed) at the start of @p s.
 *
 * The path must start at the first byte of @p s; bytes after its closing
 * ">" are not examined. On success the spans of @p out point into @p s and
 * are valid as long as @p s is.
 * @param s text starting with "<" (not NUL-terminated); may be NULL when
 *        @p len is 0.
 * @param len bytes in @p s.
 * @param flags ::smtp_parse_flags bits.
 * @param out set to the parsed path; zeroed on error.
 * @param consumed set to the bytes of @p s that form the path, 0 on error;
 *        may be NULL.
 * @return as smtp_parse_mailbox(), plus ::SMTP_ERR_PATH_TOO_LONG (over
 *         ::SMTP_PATH_MAX octets with the brackets).
 */
SMTP_API int smtp_parse_reverse_path(const char *s, size_t len, unsigned flags,
                                     smtp_path *out, size_t *consumed);

/**
 * @brief Parse a Forward-path ("<Postmaster>" allowed, "<>" refused) at the start of @p s.
 *
 * "<Postmaster>" without a domain (any case) sets smtp_path::is_postmaster
 * (RFC 5321 4.1.1.3). Spans point into @p s, as for smtp_parse_reverse_path().
 * @param s text starting with "<"; may be NULL when @p len is 0.
 * @param len bytes in @p s.
 * @param flags ::smtp_parse_flags bits.
 * @param out set to the parsed path; zeroed on error.
 * @param consumed set to the bytes of @p s that form the path, 0 on error;
 *        may be NULL.
 * @return as smtp_parse_reverse_path(); "<>" is ::SMTP_ERR_SYNTAX.
 */
SMTP_API int smtp_parse_forward_path(const char *s, size_t len, unsigned flags,
                                     smtp_path *out, size_t *consumed);

/**
 * @brief Parse the arguments of MAIL ("FROM:" Reverse-path [SP Mail-parameters])
 *        or RCPT ("TO:" Forward-path [SP Rcpt-parameters]).
 *
 * "FROM:" and "TO:" match in any case. Spaces after the path are allowed
 * before the parameters and at the end; a control octet in the parameter
 * text gives ::SMTP_ERR_BAD_CHAR. Every span set points into @p args and is
 * valid as long as it is.
 * @param args the command's arguments, smtp_command::args (not
 *        NUL-terminated); may be NULL when @p len is 0.
 * @param len bytes in @p args.
 * @param is_rcpt 0 for MAIL, 1 for RCPT.
 * @param flags ::smtp_parse_flags bits (::SMTP_PARSE_SPACE_AFTER_COLON
 *        accepts "FROM: <a>").
 * @param path set to the parsed path; zeroed on error.
 * @param params set to the parameter text after the path (may be empty); walk it
 *        with smtp_param_next().
 * @return as smtp_parse_reverse_path() (smtp_parse_forward_path() for RCPT);
 *         ::SMTP_ERR_SYNTAX for a missing "FROM:"/"TO:";
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p path or @p params, or NULL
 *         @p args with @p len > 0).
 */
SMTP_API int smtp_parse_mail_rcpt_args(const char *args, size_t len, int is_rcpt,
                                       unsigned flags, smtp_path *path, smtp_span *params);

/**
 * @brief Validate a Domain (RFC 5321 4.1.2: sub-domain *("." sub-domain), labels
 *        of Let-dig [Ldh-str], each at most 63 octets; U-labels with ::SMTP_PARSE_UTF8).
 * @param s the domain, the whole of it (not NUL-terminated); may be NULL
 *        when @p len is 0.
 * @param len bytes in @p s.
 * @param flags ::smtp_parse_flags bits.
 * @return ::SMTP_OK; ::SMTP_ERR_SYNTAX, ::SMTP_ERR_DOMAIN_TOO_LONG,
 *         ::SMTP_ERR_NEEDS_SMTPUTF8, ::SMTP_ERR_UTF8, ::SMTP_ERR_BAD_CHAR as for
 *         smtp_parse_mailbox(); ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s with
 *         @p len > 0).
 */
SMTP_API int smtp_parse_domain(const char *s, size_t len, unsigned flags);

/**
 * @brief Validate an address literal including its brackets (RFC 5321 4.1.3).
 * @param s the literal, e.g. "[192.0.2.1]" or "[IPv6:2001:db8::1]", the whole
 *        of it (not NUL-terminated); may be NULL when @p len is 0.
 * @param len bytes in @p s.
 * @param kind set to the ::smtp_domain_kind on success and to
 *        ::SMTP_DOMAIN_NAME on error; may be NULL.
 * @return ::SMTP_OK, ::SMTP_ERR_ADDRESS_LITERAL, or ::SMTP_ERR_INVALID_ARGUMENT
 *         (NULL @p s with @p len > 0).
 */
SMTP_API int smtp_parse_address_literal(const char *s, size_t len, int *kind);

/**
 * @brief Validate an EHLO/HELO/LHLO argument: a Domain or an address literal.
 *
 * An argument starting with "[" is checked as an address literal, anything
 * else as a Domain (RFC 5321 4.1.1.1).
 * @param s the argument, the whole of it (not NUL-terminated); may be NULL
 *        when @p len is 0.
 * @param len bytes in @p s.
 * @param flags ::smtp_parse_flags bits (::SMTP_PARSE_UTF8 allows U-labels).
 * @param kind set to the ::smtp_domain_kind on success and to
 *        ::SMTP_DOMAIN_NAME on error; may be NULL.
 * @return ::SMTP_OK, or the errors of smtp_parse_domain() and
 *         smtp_parse_address_literal() (::SMTP_ERR_SYNTAX,
 *         ::SMTP_ERR_DOMAIN_TOO_LONG, ::SMTP_ERR_ADDRESS_LITERAL,
 *         ::SMTP_ERR_NEEDS_SMTPUTF8, ::SMTP_ERR_UTF8, ::SMTP_ERR_BAD_CHAR,
 *         ::SMTP_ERR_INVALID_ARGUMENT).
 */
SMTP_API int smtp_parse_ehlo_arg(const char *s, size_t len, unsigned flags, int *kind);

/** @brief One esmtp-param: esmtp-keyword ["=" esmtp-value]. */
typedef struct smtp_param {
  smtp_span keyword; /**< (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
  smtp_span value;   /**< 1*(%d33-60 / %d62-126), or UTF-8 with SMTPUTF8; empty if none. */
  int has_value;     /**< 1 when "=" was present. */
  uint64_t reserved[2]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_param;

/**
 * @brief Take the next parameter from @p rest (SP-separated), advancing it.
 *
 * Leading and trailing SPs are skipped. @p rest is left unchanged on error.
 * The keyword and value are not checked against any extension: that is the
 * caller's (RFC 5321 4.1.1.11: unknown parameters get 555).
 * @param rest in: the parameter text still to walk (smtp_parse_mail_rcpt_args()
 *        gives it); out: advanced past the parameter taken.
 * @param flags ::smtp_parse_flags bits (::SMTP_PARSE_UTF8 allows UTF-8 values,
 *        RFC 6531 3.3).
 * @param out set to the parameter, whose spans point into the same text as
 *        @p rest and are valid as long as it is; zeroed at the end and on error.
 * @return 1 when a parameter was stored in @p out, 0 at the end, or
 *         ::SMTP_ERR_PARAM on malformed text, ::SMTP_ERR_INVALID_ARGUMENT
 *         (NULL @p rest or @p out, or a span with a NULL pointer and a
 *         non-zero length).
 */
SMTP_API int smtp_param_next(smtp_span *rest, unsigned flags, smtp_param *out);

/**
 * @brief Decode xtext (RFC 3461 4): "+" HEXCHAR HEXCHAR (upper-case hex) or
 *        printable ASCII except "+" and "=".
 * Decoded octets may be anything (NUL, CR, ...): validate them against their
 * own grammar before use.
 * @param in the xtext (not NUL-terminated); may be NULL when @p len is 0.
 * @param len bytes in @p in.
 * @param out output buffer, owned by the caller; no NUL is written. On
 *        error its contents are unspecified.
 * @param outcap size of @p out; @p len bytes always suffice.
 * @param outlen set to the decoded length, 0 on error; may be NULL.
 * @return ::SMTP_OK, ::SMTP_ERR_XTEXT, ::SMTP_ERR_BUFFER_TOO_SMALL, or
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p in with @p len > 0, NULL @p out
 *         with @p outcap > 0).
 */
SMTP_API int smtp_xtext_decode(const char *in, size_t len, char *out, size_t outcap,
                               size_t *outlen);

/**
 * @brief Encode bytes as xtext ("+", "=", controls, SP and non-ASCII become +XX).
 * @param in the bytes to encode; may be NULL when @p len is 0.
 * @param len bytes in @p in.
 * @param out output buffer, owned by the caller; no NUL is written.
 * @param outcap size of @p out; 3 * @p len always suffices.
 * @return bytes written (at most 3 * @p len), ::SMTP_ERR_BUFFER_TOO_SMALL, or
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p in with @p len > 0, NULL @p out
 *         with @p outcap > 0, or @p len too large for the result to fit
 *         ::smtp_ssize).
 */
SMTP_API smtp_ssize smtp_xtext_encode(const char *in, size_t len, char *out, size_t outcap);

/**
 * @brief Validate UTF-8: shortest form only, no surrogates, nothing above U+10FFFF.
 * @param s the bytes (not NUL-terminated; a NUL is valid UTF-8); may be NULL
 *        when @p len is 0.
 * @param len bytes in @p s.
 * @return ::SMTP_OK, ::SMTP_ERR_UTF8, or ::SMTP_ERR_INVALID_ARGUMENT (NULL with len > 0).
 */
SMTP_API int smtp_utf8_validate(const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_ADDRESS_H */
