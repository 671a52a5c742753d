/**
 * @file sasl.h
 * @brief Base64 (RFC 4648 4, strict), the messages of SASL PLAIN
 *        (RFC 4616) and LOGIN used by AUTH (RFC 4954), and SCRAM stored-key
 *        records (RFC 5802 3) for servers.
 */
#ifndef SMTP_SASL_H
#define SMTP_SASL_H

#include <smtp/common.h>
#include <smtp/features.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Base64 length of @p n bytes (padded). */
#define SMTP_BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/** @brief Upper bound of the decoded length of @p n base64 characters. */
#define SMTP_BASE64_DECODED_MAX(n) (((n) / 4) * 3)

/**
 * @brief Encode @p len bytes as padded base64 (no line breaks, no NUL).
 * @param in the bytes to encode; may be NULL when @p len is 0.
 * @param len bytes in @p in.
 * @param out output buffer, owned by the caller; nothing is written to it
 *        unless the whole result fits.
 * @param outcap size of @p out; ::SMTP_BASE64_ENCODED_LEN(@p len) suffices.
 * @return bytes written (::SMTP_BASE64_ENCODED_LEN(@p len)), ::SMTP_ERR_BUFFER_TOO_SMALL
 *         (also when the result could not be represented as ::smtp_ssize),
 *         ::SMTP_ERR_INVALID_ARGUMENT (@p in NULL with @p len > 0, @p out NULL with
 *         @p outcap > 0).
 */
SMTP_API smtp_ssize smtp_base64_encode(const void *in, size_t len, char *out, size_t outcap);

/**
 * @brief Decode strict base64: alphabet of RFC 4648 4 only, length a
 *        multiple of 4, "=" only as final padding, unused bits zero, no
 *        whitespace. Empty input decodes to nothing.
 * The whole input is validated before the buffer size is checked, so an
 * invalid string gives ::SMTP_ERR_BASE64 whatever @p outcap is; the exact
 * decoded length must fit (not ::SMTP_BASE64_DECODED_MAX).
 * @param in the base64 text (not NUL-terminated); may be NULL when @p len is 0.
 * @param len characters in @p in.
 * @param out output buffer, owned by the caller; nothing is written to it
 *        unless the input is valid and the result fits.
 * @param outcap size of @p out; ::SMTP_BASE64_DECODED_MAX(@p len) suffices.
 * @return bytes written, ::SMTP_ERR_BASE64, ::SMTP_ERR_BUFFER_TOO_SMALL or
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL pointers with non-zero lengths).
 */
SMTP_API smtp_ssize smtp_base64_decode(const char *in, size_t len, void *out, size_t outcap);

#if SMTP_HAVE_SASL
/**
 * @brief Build a PLAIN message: [authzid] NUL authcid NUL passwd (RFC 4616 2), not encoded.
 * @param authzid authorization identity, NULL or "" for none.
 * @param authcid authentication identity (NUL-terminated, not empty).
 * @param passwd password (NUL-terminated, not empty).
 * @param out output buffer (the message holds NULs: use the returned length).
 * @param outcap size of @p out.
 * Fields are C strings, so they cannot hold NUL; CR and LF are allowed (RFC 4616
 * SAFE is any UTF-8 character but NUL): the message is base64-encoded before it
 * goes on the wire.
 * @return bytes written, ::SMTP_ERR_BUFFER_TOO_SMALL, ::SMTP_ERR_UTF8 (a field is not
 *         valid UTF-8), ::SMTP_ERR_INVALID_ARGUMENT (NULL or empty authcid or passwd,
 *         fields over 255 octets, @p out NULL with @p outcap > 0).
 */
SMTP_API smtp_ssize smtp_sasl_plain_encode(const char *authzid, const char *authcid,
                                           const char *passwd, char *out, size_t outcap);
#endif

/** @brief The three fields of a decoded PLAIN message (spans into the message). */
typedef struct smtp_sasl_plain {
  smtp_span authzid; /**< Authorization identity; empty when absent. */
  smtp_span authcid; /**< Authentication identity (never empty). */
  smtp_span passwd;  /**< Password (never empty). */
  uint64_t reserved[2]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_sasl_plain;

#if SMTP_HAVE_SASL
/**
 * @brief Split a decoded PLAIN message: exactly two NULs, non-empty authcid and
 *        passwd, each field at most 255 octets of valid UTF-8 (RFC 4616 2).
 * Nothing is copied: the spans point into @p msg and live as long as it does.
 * @param msg the decoded message, e.g. from smtp_base64_decode() (holds NULs;
 *        not NUL-terminated); may be NULL when @p len is 0.
 * @param len bytes in @p msg.
 * @param out set to the three fields; zeroed on error.
 * @return ::SMTP_OK, ::SMTP_ERR_SYNTAX (NUL count, empty authcid or passwd, empty
 *         message), ::SMTP_ERR_TOO_LONG, ::SMTP_ERR_UTF8, ::SMTP_ERR_INVALID_ARGUMENT
 *         (@p out NULL, @p msg NULL with @p len > 0).
 */
SMTP_API int smtp_sasl_plain_decode(const char *msg, size_t len, smtp_sasl_plain *out);
#endif


/** @brief smtp_sasl_saslprep() flag: prepare a "query" string (RFC 3454 7),
 *  in which code points unassigned in Unicode 3.2 are allowed; RFC 5802 5.1
 *  prepares SCRAM user names so. Without it the string is a "stored" one
 *  and they are refused (RFC 5802 2.2: passwords). */
#define SMTP_SASLPREP_QUERY 1u

/** @brief Longest input smtp_sasl_saslprep() takes, in octets. */
#define SMTP_SASLPREP_MAX 1024

/**
 * @brief SASLprep (RFC 4013), the stringprep profile (RFC 3454) for user
 *        names and passwords: non-ASCII spaces become U+0020 and the
 *        characters of RFC 3454 table B.1 (soft hyphen, zero-width joiners,
 *        variation selectors, ...) are removed, the result is normalized
 *        to Unicode 3.2 form KC, and prohibited characters (RFC 4013 2.3:
 *        controls, private use, non-characters, surrogates, ...), a
 *        violation of the bidirectional rules (RFC 3454 6) and, without
 *        ::SMTP_SASLPREP_QUERY, unassigned code points fail.
 *
 * SCRAM applies it in both roles: the client to its user name (a query)
 * and password (a stored string) before they are used; the server to the
 * user name it receives before the stored-key lookup, and
 * smtp_scram_make_record() to the password. ASCII text without controls is
 * returned unchanged. A device build made with the Meson option
 * -Dsaslprep=ascii (::SMTP_HAVE_SASLPREP_UNICODE is 0) has no Unicode
 * tables: there ASCII text gives the same result, and any non-ASCII text
 * fails with ::SMTP_ERR_SASLPREP.
 * @param in UTF-8 text (not NUL-terminated); may be NULL when @p len is 0.
 * @param len its length, at most ::SMTP_SASLPREP_MAX.
 * @param flags 0 (stored string) or ::SMTP_SASLPREP_QUERY.
 * @param out the prepared UTF-8, NUL-terminated when there is room; nothing
 *        useful is left in it on error. May be NULL when @p outcap is 0.
 * @param outcap size of @p out (the output of normalization form KC can be
 *        longer than the input: up to 18 code points for one).
 * @return octets written (0 for an empty result, which RFC 5802 5.1 treats
 *         as a failure), ::SMTP_ERR_SASLPREP (prohibited or unassigned
 *         character, bidirectional rules), ::SMTP_ERR_UTF8 (not valid UTF-8),
 *         ::SMTP_ERR_TOO_LONG (over ::SMTP_SASLPREP_MAX octets, or over 1024
 *         code points once decomposed), ::SMTP_ERR_BUFFER_TOO_SMALL or
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL with a length, an unknown flag).
 */
#if SMTP_HAVE_SASL
SMTP_API smtp_ssize smtp_sasl_saslprep(const char *in, size_t len, unsigned int flags, char *out,
                                       size_t outcap);
#endif

/** @brief Largest SCRAM salt a record holds, in octets. */
#define SMTP_SCRAM_SALT_MAX 64
/** @brief Largest SCRAM key (SHA-512's 64 octets). */
#define SMTP_SCRAM_KEY_MAX 64

/**
 * @brief What a SCRAM server stores for one user (RFC 5802 3): the salt,
 *        the iteration count, StoredKey = H(ClientKey) and ServerKey. The
 *        password itself is not needed to verify a client, and cannot be
 *        recovered from a record.
 */
typedef struct smtp_scram_record {
  unsigned int mech;        /**< The family: ::SMTP_SASL_SCRAM_SHA_1, ::SMTP_SASL_SCRAM_SHA_256
                                 or ::SMTP_SASL_SCRAM_SHA_512 (a record also serves the
                                 family's -PLUS form). */
  unsigned int iterations;  /**< Hi() iteration count (RFC 5802 2.2), at least 1. */
  size_t salt_len;          /**< Octets of @ref salt used (1..::SMTP_SCRAM_SALT_MAX). */
  unsigned char salt[SMTP_SCRAM_SALT_MAX];           /**< The salt. */
  unsigned char stored_key[SMTP_SCRAM_KEY_MAX];      /**< StoredKey (hash-length octets used). */
  unsigned char server_key[SMTP_SCRAM_KEY_MAX];      /**< ServerKey (hash-length octets used). */
  unsigned char reserved[32];                        /**< Zero; room to grow. */
} smtp_scram_record;

#if SMTP_HAVE_SASL
/**
 * @brief The digest length of a SCRAM family (20, 32 or 64 octets).
 * @param mech one ::smtp_sasl_mech bit of a SCRAM mechanism, -PLUS or not.
 * @return the length, or 0 when @p mech is not a SCRAM mechanism.
 */
SMTP_API size_t smtp_scram_key_len(unsigned int mech);

/**
 * @brief Make a stored-key record from a password (RFC 5802 3:
 *        SaltedPassword = Hi(password, salt, i), StoredKey = H(HMAC(SaltedPassword,
 *        "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key")).
 * The password is prepared with SASLprep (smtp_sasl_saslprep(), a stored
 * string: RFC 5802 2.2's Normalize()), as libsmtp's client does before it
 * derives its proof; ASCII passwords without controls are unchanged.
 * @param mech a SCRAM mechanism bit (-PLUS maps to its family).
 * @param password NUL-terminated, not empty.
 * @param salt the salt (take at least 16 random octets); read during the call.
 * @param salt_len 1..::SMTP_SCRAM_SALT_MAX.
 * @param iterations at least 1 (RFC 7677 4: 4096 or more).
 * @param out the record; zeroed first.
 * @return ::SMTP_OK, ::SMTP_ERR_SASLPREP (SASLprep refuses the password or
 *         leaves nothing of it) or ::SMTP_ERR_INVALID_ARGUMENT (NULL pointers,
 *         not a SCRAM mechanism, empty password, salt length or iteration
 *         count out of range).
 */
SMTP_API int smtp_scram_make_record(unsigned int mech, const char *password, const void *salt,
                                    size_t salt_len, unsigned int iterations,
                                    smtp_scram_record *out);

/**
 * @brief Format a record as one text line, without line end:
 *        `user:MECH:iterations:salt_b64:storedkey_b64:serverkey_b64`, MECH
 *        being SCRAM-SHA-1, SCRAM-SHA-256 or SCRAM-SHA-512.
 * @param user the user name (no ':', no controls, 1..255 octets).
 * @param rec the record.
 * @param out output buffer; NUL-terminated when the result fits.
 * @param outcap size of @p out (512 always suffices).
 * @return characters written (NUL excluded), ::SMTP_ERR_BUFFER_TOO_SMALL or
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API smtp_ssize smtp_scram_record_format(const char *user, const smtp_scram_record *rec,
                                             char *out, size_t outcap);

/**
 * @brief Parse a line made by smtp_scram_record_format() (no line end).
 * @param line the text; @param len its length.
 * @param user set to the user name (a span into @p line).
 * @param out the record.
 * @return ::SMTP_OK, ::SMTP_ERR_SYNTAX (field count, empty user or one
 *         with controls or over 255 octets, unknown mechanism, bad number,
 *         key of the wrong length), ::SMTP_ERR_BASE64 or
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL pointers).
 */
SMTP_API int smtp_scram_record_parse(const char *line, size_t len, smtp_span *user,
                                     smtp_scram_record *out);
#endif

/** @brief Version of ::smtp_sasl_mechanism this library understands. */
#define SMTP_SASL_MECHANISM_VERSION 1

/** @brief What a client mechanism gets to start with (spans into the
 *  session's copies, valid during the call; empty when not set). */
typedef struct smtp_sasl_client_creds {
  smtp_span authzid;  /**< Authorization identity. */
  smtp_span user;     /**< Authentication identity. */
  smtp_span password; /**< Password. Never log it. */
  smtp_span token;    /**< OAuth token. Never log it. */
  unsigned char reserved[32]; /**< Zero. */
} smtp_sasl_client_creds;

/**
 * @brief A SASL mechanism the application adds to the client (GSSAPI, NTLM,
 *        a private one): a small vtable the session drives over AUTH (RFC
 *        4954 4). Messages are raw octets; the session does the base64.
 *
 * Return values of @c start and @c step: 0 with the message in @c out
 * (@c *outlen octets, at most @c cap), 1 to cancel the exchange (the
 * session sends "*", RFC 4954 4, and AUTH fails with
 * ::SMTP_ERR_AUTH_FAILED), or a negative ::smtp_error (AUTH fails with
 * ::SMTP_ERR_AUTH_UNAVAILABLE before the command is sent, else the exchange
 * is cancelled). All calls happen on the session's thread, inside
 * smtp_client_session_mem_recv() or the call that starts AUTH.
 */
typedef struct smtp_sasl_mechanism {
  unsigned int version; /**< ::SMTP_SASL_MECHANISM_VERSION. */
  /** The name as servers advertise it (RFC 4422 3.1: 1..20 of A-Z, 0-9,
   *  "-", "_"); matched case-insensitively against the AUTH keyword. */
  const char *name;
  /** Begin an exchange. Set @c *state to per-exchange data (or leave it
   *  NULL), write the initial response and set @c *has_initial to 1, or
   *  set it to 0 to wait for the server's first challenge. */
  int (*start)(void **state, const smtp_sasl_client_creds *creds, unsigned char *out,
               size_t cap, size_t *outlen, int *has_initial, void *user_data);
  /** Answer a (decoded) 334 challenge. */
  int (*step)(void *state, const unsigned char *challenge, size_t len, unsigned char *out,
              size_t cap, size_t *outlen, void *user_data);
  /** On 235: 1 when the success may be believed (e.g. the server proved
   *  itself), 0 to treat it as a failure. NULL: always believed. */
  int (*done)(void *state, void *user_data);
  /** Release @c state at the end of the exchange, whatever its outcome
   *  (also when the session is deleted mid-exchange). May be NULL. */
  void (*free)(void *state, void *user_data);
  void *user_data; /**< Passed to every function. */
} smtp_sasl_mechanism;

#ifdef __cplusplus
}
#endif

#endif /* SMTP_SASL_H */
