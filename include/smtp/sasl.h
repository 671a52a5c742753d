/**
 * @file sasl.h
 * @brief Base64 (RFC 4648 4, strict) and the messages of SASL PLAIN
 *        (RFC 4616) and LOGIN used by AUTH (RFC 4954).
 */
#ifndef SMTP_SASL_H
#define SMTP_SASL_H

#include <smtp/common.h>

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

/** @brief The three fields of a decoded PLAIN message (spans into the message). */
typedef struct smtp_sasl_plain {
  smtp_span authzid; /**< Authorization identity; empty when absent. */
  smtp_span authcid; /**< Authentication identity (never empty). */
  smtp_span passwd;  /**< Password (never empty). */
  uint64_t reserved[2]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_sasl_plain;

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

#ifdef __cplusplus
}
#endif

#endif /* SMTP_SASL_H */
