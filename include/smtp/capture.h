/**
 * @file capture.h
 * @brief Transaction capture for test harnesses: a record of every mail
 *        transaction a server session saw (who, HELO, TLS, AUTH, MAIL and
 *        RCPT with every parameter and every reply, the data's size and
 *        reply), as values and as one JSON object per transaction.
 *
 * A capture follows one ::smtp_server_session through its protocol trace:
 * call smtp_capture_trace() from the session's trace callback with every
 * line, smtp_capture_data_end() from the data_end callback, and
 * smtp_capture_end() when the connection is gone. Commands and replies are
 * paired in the order the session handles them (one reply per command,
 * RFC 5321 4.1 and RFC 2920 3), so the record holds the replies the client
 * really got, also those the session gave by itself (a refused RCPT, a
 * message over the size limit).
 *
 * A transaction starts with a positive reply to MAIL and is recorded when it
 * finishes: after the last reply to its message data (DATA, BDAT ... LAST,
 * or a refused BDAT), or, without data, when it is abandoned (RSET, a new
 * HELO/EHLO, STARTTLS, QUIT, the end of the connection). Then the record
 * callback fires once. The capture reads no clock and does no I/O: the
 * application gives the time when it formats a record
 * (smtp_capture_record_json()).
 *
 * JSON object (keys always present, null where not applicable):
 * `time`; `client` `{"addr","port"}`; `peer` (null unless set); `helo`;
 * `tls` `{"version","cipher","client_cert"}` or null without TLS
 * (`client_cert` null without a client certificate, else
 * `{"subject","issuer","sha256","verified"}`: see
 * smtp_capture_set_client_cert(); `verified` true or false); `auth` (the authorization identity); `mail`
 * `{"path","params"}`; `rcpts` (list of `{"path","params","code","enhanced"}`,
 * refused ones included); `data` `{"size","code","enhanced","file","bdat"}`
 * or null when no data was sent. Paths are bare addresses (`""` for the null
 * path); `params` maps each parameter name, upper-cased, to its value as
 * sent (xtext not decoded) or `true` for a bare keyword (`{}` when none);
 * codes and ports are numbers; `size` counts the message octets after
 * dot-unstuffing (RFC 5321 4.5.2), or the BDAT chunk octets.
 */
#ifndef SMTP_CAPTURE_H
#define SMTP_CAPTURE_H

#include <smtp/common.h>
#include <smtp/server.h>
#include <smtp/features.h>

#if SMTP_HAVE_SERVER

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A capture: follows one server session (opaque). */
typedef struct smtp_capture smtp_capture;

/** @brief One finished transaction (opaque; valid during the record callback only). */
typedef struct smtp_capture_record smtp_capture_record;

/**
 * @brief Called once per finished transaction, from inside
 *        smtp_capture_trace(), smtp_capture_end() or smtp_capture_data_end().
 * @param c the capture.
 * @param rec the record; valid during the call only.
 * @param user_data as given to smtp_capture_new().
 */
typedef void (*smtp_capture_on_record)(smtp_capture *c, const smtp_capture_record *rec,
                                       void *user_data);

/**
 * @brief Make a capture for one session.
 * @param out set to the capture (NULL on failure).
 * @param on_record the record callback (required).
 * @param user_data passed to @p on_record.
 * @param mem allocator hook, copied; NULL for the C library's.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out or
 *         @p on_record, or an allocator without all four functions);
 *         ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_capture_new(smtp_capture **out, smtp_capture_on_record on_record,
                              void *user_data, const smtp_mem *mem);

/** @brief Free a capture (an open transaction is dropped unrecorded: call
 *  smtp_capture_end() first to record it); NULL does nothing.
 *  @param c the capture, or NULL. */
SMTP_API void smtp_capture_del(smtp_capture *c);

/**
 * @brief Say who the client is (copied; for the records that follow).
 * @param c the capture.
 * @param addr the client's address as text ("192.0.2.1", "2001:db8::1"),
 *        NUL-terminated, or NULL for unknown.
 * @param port its port, 0..65535 (-1: unknown, written as null).
 * @param peer_addr the TCP peer when a proxy (PROXY protocol, XCLIENT)
 *        changed the client address, else NULL (then `peer` is null).
 * @param peer_port its port (-1: unknown).
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p c, a port out of
 *         range, an address over 63 octets or with a control octet).
 */
SMTP_API int smtp_capture_set_client(smtp_capture *c, const char *addr, int port,
                                     const char *peer_addr, int peer_port);

/**
 * @brief Feed one trace line (the server session's trace callback).
 * @param c the capture.
 * @param s the session being traced (read for HELO, TLS and AUTH facts).
 * @param dir ::SMTP_SERVER_TRACE_IN or ::SMTP_SERVER_TRACE_OUT.
 * @param line the line as the trace callback gave it.
 * @param len its length.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p c or @p s, NULL
 *         @p line with @p len > 0, unknown @p dir); ::SMTP_ERR_NOMEM (the
 *         transaction is then dropped, the capture goes on).
 */
SMTP_API int smtp_capture_trace(smtp_capture *c, const smtp_server_session *s, int dir,
                                const char *line, size_t len);

/**
 * @brief Note the end of a message (the session's data_end callback): its
 *        size and whether it came by BDAT.
 * @param c the capture.
 * @param end as given to the data_end callback.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL argument).
 */
SMTP_API int smtp_capture_data_end(smtp_capture *c, const smtp_server_data_end *end);

/**
 * @brief Name the file the current message was stored in (copied), for the
 *        record's `data.file`; forgotten when the record is made.
 * @param c the capture.
 * @param path NUL-terminated, at most 4095 octets; NULL clears it.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p c, a path too
 *         long); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_capture_set_file(smtp_capture *c, const char *path);

/**
 * @brief Give the client certificate of the connection (DER, e.g. what
 *        smtp_tls_peer_cert() copies at index 0) for the records that
 *        follow: `client_cert` gets its `subject` and `issuer` and its
 *        `sha256`; `verified` comes from the session's TLS facts
 *        (smtp_server_session_tls_info()).
 *
 * `subject` and `issuer` are RFC 4514 strings built from the DER by the
 * library, whatever the TLS backend: the RDNs last first, joined by `,`
 * (`CN=client.example,O=Example,C=DE`), RFC 4514 3's short names (CN, L,
 * ST, O, OU, C, STREET, DC, UID) and the dotted OID for any other type;
 * string values escaped as RFC 4514 2.4 says and every octet outside
 * printable ASCII as `\XX`; values of other types and of dotted types as
 * `#` and the hex of their DER. Each is truncated to 1024 octets (never
 * inside an escape). `sha256` is the SHA-256 of the whole DER in 64
 * lower-case hex digits. Without this call, a session whose client sent a
 * certificate gets `client_cert` with those three null.
 * @param c the capture.
 * @param der the certificate (only read during the call), or NULL to forget
 *        the one given before.
 * @param len its length (0 with NULL).
 * @return ::SMTP_OK; ::SMTP_ERR_SYNTAX (not a DER X.509 certificate whose
 *         names this reader understands: the earlier one, if any, stays);
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p c, NULL @p der with @p len
 *         > 0); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_capture_set_client_cert(smtp_capture *c, const void *der, size_t len);

/**
 * @brief The connection ended: record an open transaction (without data).
 * @param c the capture; NULL does nothing.
 */
SMTP_API void smtp_capture_end(smtp_capture *c);

/**
 * @brief Format a record as one JSON object (no line end), NUL-terminated.
 * @param rec the record.
 * @param time the `time` value (RFC 3339, e.g. "2026-12-07T04:00:00Z"),
 *        NUL-terminated, or NULL for null.
 * @param buf where to write; may be NULL when @p cap is 0.
 * @param cap its size.
 * @param needed set to the length without the NUL (also when the buffer
 *        is too small); may be NULL.
 * @return ::SMTP_OK; ::SMTP_ERR_BUFFER_TOO_SMALL (nothing useful written:
 *         call again with *@p needed + 1); ::SMTP_ERR_INVALID_ARGUMENT
 *         (NULL @p rec).
 */
SMTP_API int smtp_capture_record_json(const smtp_capture_record *rec, const char *time, char *buf,
                                      size_t cap, size_t *needed);

/** @brief The reverse-path ("" for the null path), NUL-terminated.
 *  @param rec the record.
 *  @return a string valid as long as @p rec; "" for NULL. */
SMTP_API const char *smtp_capture_record_mail(const smtp_capture_record *rec);
/** @brief Number of RCPT commands of the transaction (refused ones included).
 *  @param rec the record.
 *  @return the count; 0 for NULL. */
SMTP_API size_t smtp_capture_record_rcpt_count(const smtp_capture_record *rec);
/** @brief One recipient.
 *  @param rec the record.
 *  @param i 0-based index, below smtp_capture_record_rcpt_count().
 *  @param code set to the reply code given to it; may be NULL.
 *  @return the forward-path address (valid as long as @p rec), or NULL when
 *          @p i is out of range. */
SMTP_API const char *smtp_capture_record_rcpt(const smtp_capture_record *rec, size_t i,
                                              int *code);
/** @brief The reply to the message data.
 *  @param rec the record.
 *  @param size set to the message size (octets after unstuffing); may be NULL.
 *  @return the reply code, or 0 when the transaction had no data. */
SMTP_API int smtp_capture_record_data(const smtp_capture_record *rec, uint64_t *size);

/** @brief The client certificate of the transaction's connection.
 *  @param rec the record.
 *  @param subject set to its subject (RFC 4514, see
 *         smtp_capture_set_client_cert()) or NULL when unknown; may be NULL.
 *  @param issuer set to its issuer likewise; may be NULL.
 *  @param sha256 set to its SHA-256 (64 lower-case hex digits) or NULL; may be NULL.
 *  @param verified set to 1 when it verified, else 0; may be NULL.
 *  The strings are valid as long as @p rec.
 *  @return ::SMTP_OK; ::SMTP_ERR_NOT_FOUND (no TLS, or no client
 *          certificate); ::SMTP_ERR_INVALID_ARGUMENT (NULL @p rec). */
SMTP_API int smtp_capture_record_client_cert(const smtp_capture_record *rec, const char **subject,
                                             const char **issuer, const char **sha256, int *verified);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_HAVE_SERVER */

#endif /* SMTP_CAPTURE_H */
