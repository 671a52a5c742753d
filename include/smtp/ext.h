/**
 * @file ext.h
 * @brief SMTP service extensions: parsing an EHLO reply into capabilities,
 *        building an EHLO reply from a server configuration (RFC 5321 4.1.1.1,
 *        2.2), and the IANA registry of extensions.
 */
#ifndef SMTP_EXT_H
#define SMTP_EXT_H

#include <smtp/common.h>
#include <smtp/reply.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @name Parameter values shared by both roles
 * The values of MAIL and RCPT parameters that the client sends and the server
 * reports, one definition for both.
 * @{ */

/** @brief BODY= values (RFC 6152, RFC 3030). */
typedef enum smtp_body_type {
  SMTP_BODY_UNSPECIFIED = 0, /**< No BODY parameter. Client: a memory body is
                                  scanned; a streamed one is declared 8BITMIME
                                  when the server offers it, else 7BIT. */
  SMTP_BODY_7BIT = 1,        /**< BODY=7BIT (client: an 8-bit octet is an error). */
  SMTP_BODY_8BITMIME = 2,    /**< BODY=8BITMIME (RFC 6152; client: fails without 8BITMIME). */
  SMTP_BODY_BINARYMIME = 3   /**< BODY=BINARYMIME (RFC 3030; BDAT only; client: sent
                                  unchanged, fails without BINARYMIME and CHUNKING). */
} smtp_body_type;

/** @brief DSN RET= values (RFC 3461 4.3). */
typedef enum smtp_dsn_ret {
  SMTP_DSN_RET_DEFAULT = 0, /**< No RET parameter. */
  SMTP_DSN_RET_FULL = 1,    /**< RET=FULL */
  SMTP_DSN_RET_HDRS = 2     /**< RET=HDRS */
} smtp_dsn_ret;

/** @brief DSN NOTIFY= values (RFC 3461 4.1), bit flags; 0: no NOTIFY parameter. */
typedef enum smtp_dsn_notify {
  SMTP_DSN_NOTIFY_DEFAULT = 0,       /**< No NOTIFY parameter. */
  SMTP_DSN_NOTIFY_NEVER = 1u << 0,   /**< NEVER (alone). */
  SMTP_DSN_NOTIFY_SUCCESS = 1u << 1, /**< SUCCESS */
  SMTP_DSN_NOTIFY_FAILURE = 1u << 2, /**< FAILURE */
  SMTP_DSN_NOTIFY_DELAY = 1u << 3    /**< DELAY */
} smtp_dsn_notify;

/** @} */

/** @brief Extensions libsmtp understands (bit flags). */
typedef enum smtp_ext_flag {
  SMTP_EXT_PIPELINING = 1u << 0,          /**< RFC 2920 */
  SMTP_EXT_SIZE = 1u << 1,                /**< RFC 1870 */
  SMTP_EXT_8BITMIME = 1u << 2,            /**< RFC 6152 */
  SMTP_EXT_BINARYMIME = 1u << 3,          /**< RFC 3030 */
  SMTP_EXT_CHUNKING = 1u << 4,            /**< RFC 3030 */
  SMTP_EXT_SMTPUTF8 = 1u << 5,            /**< RFC 6531 */
  SMTP_EXT_ENHANCEDSTATUSCODES = 1u << 6, /**< RFC 2034 */
  SMTP_EXT_DSN = 1u << 7,                 /**< RFC 3461 */
  SMTP_EXT_STARTTLS = 1u << 8,            /**< RFC 3207 */
  SMTP_EXT_AUTH = 1u << 9,                /**< RFC 4954 */
  SMTP_EXT_REQUIRETLS = 1u << 10,         /**< RFC 8689 */
  SMTP_EXT_LIMITS = 1u << 11,             /**< RFC 9422 */
  SMTP_EXT_DELIVERBY = 1u << 12,          /**< RFC 2852 */
  SMTP_EXT_MT_PRIORITY = 1u << 13,        /**< RFC 6710 */
  SMTP_EXT_FUTURERELEASE = 1u << 14,      /**< RFC 4865 */
  SMTP_EXT_ETRN = 1u << 15,               /**< RFC 1985 */
  SMTP_EXT_VRFY = 1u << 16,               /**< RFC 5321 (keyword listed by some servers) */
  SMTP_EXT_EXPN = 1u << 17,               /**< RFC 5321 */
  SMTP_EXT_HELP = 1u << 18,               /**< RFC 5321 */
  SMTP_EXT_RRVS = 1u << 19,               /**< RFC 7293 (RRVS= on RCPT) */
  SMTP_EXT_NO_SOLICITING = 1u << 20,      /**< RFC 3865 (SOLICIT= on MAIL) */
  SMTP_EXT_MTRK = 1u << 21,               /**< RFC 3885 (MTRK= on MAIL) */
  SMTP_EXT_SUBMITTER = 1u << 22,          /**< RFC 4405 (SUBMITTER= on MAIL; historic) */
  SMTP_EXT_BURL = 1u << 23                /**< RFC 4468 (the BURL verb; submission only) */
} smtp_ext_flag;

/** @brief SASL mechanisms libsmtp knows (bit flags). */
typedef enum smtp_sasl_mech {
  SMTP_SASL_PLAIN = 1u << 0,          /**< RFC 4616 */
  SMTP_SASL_LOGIN = 1u << 1,          /**< draft-murchison-sasl-login */
  SMTP_SASL_CRAM_MD5 = 1u << 2,       /**< RFC 2195 */
  SMTP_SASL_XOAUTH2 = 1u << 3,        /**< Google/Microsoft XOAUTH2 */
  SMTP_SASL_OAUTHBEARER = 1u << 4,    /**< RFC 7628 */
  SMTP_SASL_SCRAM_SHA_1 = 1u << 5,    /**< RFC 5802 */
  SMTP_SASL_SCRAM_SHA_256 = 1u << 6,  /**< RFC 7677 */
  SMTP_SASL_EXTERNAL = 1u << 7,       /**< RFC 4422 Appendix A */
  SMTP_SASL_SCRAM_SHA_512 = 1u << 8,  /**< RFC 5802 with SHA-512 (IANA SASL registry) */
  SMTP_SASL_SCRAM_SHA_1_PLUS = 1u << 9,   /**< RFC 5802 with channel binding */
  SMTP_SASL_SCRAM_SHA_256_PLUS = 1u << 10, /**< RFC 7677 with channel binding */
  SMTP_SASL_SCRAM_SHA_512_PLUS = 1u << 11  /**< SCRAM-SHA-512 with channel binding */
} smtp_sasl_mech;

/**
 * @brief Map a SASL mechanism name (case-insensitive) to its ::smtp_sasl_mech flag.
 * @param name the mechanism name, e.g. "SCRAM-SHA-256" (not NUL-terminated).
 * @param len bytes in @p name.
 * @return the flag, or 0 when the name is unknown or @p name is NULL.
 */
SMTP_API unsigned int smtp_sasl_mech_from_name(const char *name, size_t len);

/**
 * @brief The canonical (upper-case) name of one ::smtp_sasl_mech flag.
 * @param mech exactly one ::smtp_sasl_mech bit.
 * @return a static string, e.g. "PLAIN", or NULL when @p mech is not exactly
 *         one known flag.
 */
SMTP_API const char *smtp_sasl_mech_name(unsigned int mech);

/** Most EHLO keywords kept by smtp_capabilities (the rest are dropped, counted). */
#define SMTP_CAPS_MAX_KEYWORDS 48

/** @brief One EHLO keyword line: keyword and its parameters (spans into the reply). */
typedef struct smtp_ext_keyword {
  smtp_span keyword; /**< The ehlo-keyword as sent. */
  smtp_span params;  /**< Text after the keyword and one SP (may be empty). */
} smtp_ext_keyword;

/**
 * @brief A server's capabilities, parsed from its EHLO/LHLO reply.
 *
 * Spans point into the smtp_reply that was parsed and are valid as long as it is.
 */
typedef struct smtp_capabilities {
  unsigned int flags;        /**< ::smtp_ext_flag bits. */
  uint64_t size_max;         /**< SIZE value; 0 when absent or unlimited. */
  int size_has_value;        /**< 1 when SIZE carried a non-zero number (a fixed limit);
                                  "SIZE 0" means no fixed limit, like bare "SIZE" (RFC 1870 4). */
  unsigned int auth_mechs;   /**< ::smtp_sasl_mech bits of the AUTH line(s). */
  unsigned int limits_rcptmax;  /**< LIMITS RCPTMAX=, 0 when absent or invalid (RFC 9422). */
  unsigned int limits_mailmax;  /**< LIMITS MAILMAX=, 0 when absent. */
  unsigned int limits_rcptdomainmax; /**< LIMITS RCPTDOMAINMAX=, 0 when absent. */
  smtp_span greeting;        /**< The first line (domain and greeting text): never a keyword. */
  size_t nkeywords;          /**< Keywords stored in @ref keywords. */
  size_t ndropped;           /**< Keyword lines beyond ::SMTP_CAPS_MAX_KEYWORDS. */
  smtp_ext_keyword keywords[SMTP_CAPS_MAX_KEYWORDS]; /**< Every keyword, known or not, in order. */
  uint64_t reserved[4]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_capabilities;

/**
 * @brief Parse a 250 EHLO/LHLO reply.
 *
 * The first line is the greeting, never a keyword (RFC 5321 4.1.1.1).
 * Keywords are matched case-insensitively. A SIZE value that does not fit
 * in 64 bits, or is not all digits, leaves SIZE unset (the line is still
 * listed in @ref smtp_capabilities::keywords); the first SIZE line counts.
 * AUTH mechanisms of several AUTH lines add up; unknown names are ignored.
 * LIMITS values (RCPTMAX, MAILMAX, RCPTDOMAINMAX) must be digits, non-zero
 * and fit an unsigned int (more lenient than RFC 9422's six digits);
 * others are ignored. Lines that are not ehlo-lines are skipped (kept out
 * of @ref smtp_capabilities::keywords). Tolerated: "=" instead of SP after
 * the keyword (the obsolete "AUTH=PLAIN LOGIN" form) and runs of SP between
 * parameters. Keyword lines past ::SMTP_CAPS_MAX_KEYWORDS are counted in
 * @ref smtp_capabilities::ndropped and not listed, but still set flags and
 * values. @p caps is zeroed first, also on error.
 * @param reply a complete reply, e.g. from smtp_reply_parser_reply(). The
 *        spans stored in @p caps point into the same text as its lines and
 *        are valid exactly as long as those are (for a parser's reply: until
 *        its next feed or reset). Copy @p caps' flags and numbers freely; copy
 *        the spans' bytes if they must outlive the reply.
 * @param caps output, owned by the caller.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT (NULL, no lines, or not a 250 reply).
 */
SMTP_API int smtp_capabilities_parse(const smtp_reply *reply, smtp_capabilities *caps);

/**
 * @brief Find a keyword (case-insensitive) in parsed capabilities.
 *
 * Only listed keywords are searched (not those counted in
 * smtp_capabilities::ndropped).
 * @param caps capabilities from smtp_capabilities_parse().
 * @param keyword the keyword, a NUL-terminated string, e.g. "SIZE".
 * @return the entry, inside @p caps (valid as long as @p caps and its
 *         reply are), or NULL when absent or an argument is NULL.
 */
SMTP_API const smtp_ext_keyword *smtp_capabilities_find(const smtp_capabilities *caps,
                                                        const char *keyword);

/** @brief MT-PRIORITY Priority Assignment Profiles (RFC 6710 9.2 registry). */
typedef enum smtp_mt_priority_profile {
  SMTP_MT_PRIORITY_PROFILE_ABSENT = 0,     /**< MT-PRIORITY not offered. */
  SMTP_MT_PRIORITY_PROFILE_UNNAMED = 1,    /**< "MT-PRIORITY" without a profile name. */
  SMTP_MT_PRIORITY_PROFILE_MIXER = 2,      /**< "MIXER" (RFC 6710 Appendix B; the registry's default policy). */
  SMTP_MT_PRIORITY_PROFILE_STANAG4406 = 3, /**< "STANAG4406" (RFC 6710 Appendix A). */
  SMTP_MT_PRIORITY_PROFILE_NSEP = 4,       /**< "NSEP" (RFC 6710 Appendix C). */
  SMTP_MT_PRIORITY_PROFILE_OTHER = 5       /**< Another valid name (see mt_priority_profile_name). */
} smtp_mt_priority_profile;

/**
 * @brief Typed values of the EHLO keywords whose parameters mean something
 *        to a client, from smtp_capabilities (smtp_capabilities_values()).
 *
 * A value is zero (and a span empty) when its keyword is absent. A keyword
 * that is present with parameters that do not follow its grammar sets its
 * ::smtp_ext_flag bit in @ref smtp_ehlo_values::malformed and leaves its values zero. Spans
 * point where the smtp_capabilities' spans point and live as long as those.
 * The parameter grammars are the ones the server side checks its own EHLO
 * parameters with (smtp_server_options_set_ext_params()): one parser per
 * keyword for both roles.
 */
typedef struct smtp_ehlo_values {
  unsigned int flags;            /**< ::smtp_ext_flag bits offered (smtp_capabilities::flags). */
  unsigned int malformed;        /**< ::smtp_ext_flag bits whose parameters did not parse. */
  /* SIZE (RFC 1870 4) */
  uint64_t size_max;             /**< The fixed size limit; 0: none (bare "SIZE" or "SIZE 0"). */
  int size_has_value;            /**< 1 when smtp_ehlo_values::size_max is a fixed limit. */
  /* AUTH (RFC 4954 3) */
  unsigned int auth_mechs;       /**< ::smtp_sasl_mech bits of every AUTH line. */
  smtp_span auth_names;          /**< The first AUTH line's mechanism list as sent (unknown names too). */
  /* MT-PRIORITY (RFC 6710 3, 9.2) */
  int mt_priority_profile;       /**< ::smtp_mt_priority_profile. */
  smtp_span mt_priority_profile_name; /**< The profile name as sent (1-20 octets), or empty. */
  /* DELIVERBY (RFC 2852 3) */
  int deliverby_has_min;         /**< 1 when DELIVERBY carried a min-by-time. */
  uint32_t deliverby_min;        /**< min-by-time in seconds (at most 999999999): the least
                                      by-time accepted with by-mode "R" (RFC 2852 4). */
  /* FUTURERELEASE (RFC 4865 3) */
  uint32_t futurerelease_max_interval; /**< max-future-release-interval, seconds (1-999999999). */
  int64_t futurerelease_max_until;     /**< max-future-release-date-time, seconds since
                                            1970-01-01T00:00:00Z. */
  smtp_span futurerelease_max_until_text; /**< The same date-time as sent (RFC 3339). */
  /* LIMITS (RFC 9422 3) */
  unsigned int limits_rcptmax;   /**< RCPTMAX, 0 when absent. */
  unsigned int limits_mailmax;   /**< MAILMAX, 0 when absent. */
  unsigned int limits_rcptdomainmax; /**< RCPTDOMAINMAX, 0 when absent. */
  /* BURL (RFC 4468 3.1) */
  int burl_imap;                 /**< 1 when BURL lists the "imap" URL type. */
  smtp_span burl_types;          /**< BURL's parameters (URL types) as sent, or empty. */
  /* NO-SOLICITING (RFC 3865 2) */
  smtp_span solicitation_keywords; /**< The server's solicitation keywords as sent, or empty. */
  uint64_t reserved[8];          /**< Zero. Room for values added in a later 1.x release. */
} smtp_ehlo_values;

/**
 * @brief The typed values of the EHLO keywords in @p caps.
 *
 * SIZE, AUTH and LIMITS come from what smtp_capabilities_parse() found
 * (AUTH and LIMITS of every line); MT-PRIORITY, DELIVERBY, FUTURERELEASE,
 * BURL and NO-SOLICITING are parsed from the first line of their keyword
 * with the grammars of RFC 6710 3 (priority-profile), RFC 2852 3
 * (deliverby-param: min-by-time, extension tokens allowed and ignored),
 * RFC 4865 3 (interval SP date-time in UTC), RFC 4468 3.1 (URL types) and
 * RFC 3865 2 (solicitation keywords). Only listed keywords are read (not
 * those counted in smtp_capabilities::ndropped).
 * @param caps capabilities from smtp_capabilities_parse() or
 *        smtp_client_session_capabilities().
 * @param out receives the values (zeroed first, also on error).
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL).
 */
SMTP_API int smtp_capabilities_values(const smtp_capabilities *caps, smtp_ehlo_values *out);

/**
 * @brief What a server offers, for building its EHLO reply.
 *
 * SMTP_EXT_AUTH needs at least one mechanism in @ref smtp_ehlo_config::auth_mechs. The AUTH
 * and LIMITS lines are sent only when their flag is set. SMTP_EXT_FUTURERELEASE
 * is refused in @ref smtp_ehlo_config::flags because its EHLO line needs two parameters
 * (RFC 4865 3): send it as an @ref smtp_ehlo_config::extra line.
 */
typedef struct smtp_ehlo_config {
  unsigned int version;       /**< ::SMTP_EHLO_CONFIG_VERSION: the version of this struct the
                                   caller filled in; the library reads only that version's
                                   fields and refuses one it does not know (docs/abi.md). */
  unsigned int flags;         /**< ::smtp_ext_flag bits to advertise. */
  uint64_t size_max;          /**< SIZE value (0: "SIZE" without a value = no fixed limit). */
  unsigned int auth_mechs;    /**< ::smtp_sasl_mech bits for the AUTH line. */
  unsigned int limits_rcptmax;/**< RCPTMAX for LIMITS (0: omitted; at most 999999, RFC 9422). */
  unsigned int limits_mailmax;/**< MAILMAX for LIMITS (0: omitted; at most 999999, RFC 9422). */
  const char *const *extra;   /**< Extra lines, each an ehlo-line (keyword, then single SPs
                                   between params of octets 33-126), or NULL. Read during the call. */
  size_t nextra;              /**< Number of entries in @ref extra. */
} smtp_ehlo_config;

/** @brief The version of ::smtp_ehlo_config this header describes. */
#define SMTP_EHLO_CONFIG_VERSION 1u

/**
 * @brief Build a complete 250 EHLO/LHLO reply (CRLF-terminated lines).
 *
 * Lines: domain [SP greeting], then the flags' keywords in the order of
 * ::smtp_ext_flag (AUTH mechanisms strongest first: EXTERNAL, the SCRAM -PLUS forms (SHA-512, SHA-256, SHA-1), SCRAM-SHA-512, SCRAM-SHA-256,
 * SCRAM-SHA-1, OAUTHBEARER, XOAUTH2, CRAM-MD5, PLAIN, LOGIN), then the extra
 * lines; "250-" on every line but the last, "250 " on it. No NUL is written.
 * @param buf output; nothing is written past @p buflen.
 * @param buflen size of @p buf.
 * @param domain the server's name for the first line (validated as an ASCII
 *        Domain or address literal, at most 255 octets).
 * @param greeting optional text after the domain on the first line (printable
 *        ASCII and SP), or NULL or "" for none.
 * @param cfg what to advertise, or NULL for nothing.
 * @return bytes written, ::SMTP_ERR_BUFFER_TOO_SMALL, ::SMTP_ERR_SYNTAX (bad domain,
 *         greeting or extra line), ::SMTP_ERR_BAD_CHAR (CR, LF, another control or DEL
 *         in any string), ::SMTP_ERR_TOO_LONG (a line over 512 octets with CRLF,
 *         RFC 5321 4.5.3.1.5), ::SMTP_ERR_INVALID_ARGUMENT (NULL domain, unknown flag
 *         or mechanism bits, AUTH without mechanisms, FUTURERELEASE in flags, a LIMITS
 *         value over 999999, NULL extra entries, a @ref smtp_ehlo_config::version this
 *         library does not know).
 */
SMTP_API smtp_ssize smtp_ehlo_reply_build(char *buf, size_t buflen, const char *domain,
                                          const char *greeting, const smtp_ehlo_config *cfg);

/** @brief An entry of the IANA SMTP Service Extensions registry. */
typedef struct smtp_ext_info {
  const char *keyword;     /**< EHLO keyword, upper case. */
  const char *description; /**< The registry's description. */
  const char *reference;   /**< e.g. "RFC 1870" (may be "" when none). */
  const char *verbs;       /**< SMTP verbs it adds, space-separated ("" if none). */
  const char *mail_params; /**< MAIL parameters it adds, space-separated ("" if none). */
  const char *rcpt_params; /**< RCPT parameters it adds, space-separated ("" if none). */
  unsigned int flag;       /**< The ::smtp_ext_flag naming this extension in flag sets, else 0 (a flag alone does not say that both roles implement it). */
} smtp_ext_info;

/**
 * @brief Look up an EHLO keyword (case-insensitive) in the compiled-in IANA registry.
 *
 * The table is generated from the IANA XML by tools/gen_ext_registry.py. The
 * registry's verb and parameter columns hold only references, so verbs and
 * MAIL/RCPT parameters are filled in for the extensions libsmtp implements.
 * @param keyword the keyword (need not be NUL-terminated).
 * @param len its length in octets.
 * @return the entry (static), or NULL when not registered or @p keyword is NULL.
 */
SMTP_API const smtp_ext_info *smtp_ext_lookup(const char *keyword, size_t len);

/**
 * @brief The whole registry table, sorted by keyword (case-insensitively).
 * @param count set to the number of entries; may be NULL.
 * @return the static table.
 */
SMTP_API const smtp_ext_info *smtp_ext_registry(size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_EXT_H */
