/**
 * @file client.h
 * @brief The SMTP/LMTP client session: a callback-driven (or event-polled),
 *        sans-I/O state machine that sends mail (RFC 5321, RFC 2033 and the
 *        extensions PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING,
 *        BINARYMIME, DSN, STARTTLS, AUTH, REQUIRETLS, LIMITS,
 *        ENHANCEDSTATUSCODES).
 *
 * The session never reads a socket or a clock. The transport (the
 * application's own loop, or the library's driver) moves bytes:
 *
 * - server bytes in: smtp_client_session_mem_recv();
 * - client bytes out: smtp_client_session_mem_send() peeks at pending
 *   output (a pointer into the session's buffer), the transport writes
 *   some of it and reports that with smtp_client_session_mem_consume().
 *   A reply is only accepted for a command whose bytes were consumed
 *   (RFC 2920 3.1: a reply that arrives before its
 *   command was sent is a protocol error), so consume right after writing.
 * - smtp_client_session_want_read() / _want_write() / _want_tls() tell the
 *   loop what to wait for; both want_read and want_write being 0 means the
 *   session is over and the connection can be closed.
 * - smtp_client_session_timeout_ms() is the RFC 5321 4.5.3.2 deadline for
 *   what the session waits for now; on expiry call
 *   smtp_client_session_timeout(). On EOF call
 *   smtp_client_session_connection_lost().
 *
 * @code
 *   smtp_client_session *c;
 *   if (smtp_client_session_new(&c, cbs, app, opts, NULL) != SMTP_OK) return;
 *   smtp_client_session_submit(c, txn);   // sent once the session is ready
 *   smtp_client_session_quit(c);          // QUIT after the last transaction
 *   while (smtp_client_session_want_read(c) || smtp_client_session_want_write(c)) {
 *     const char *out;
 *     smtp_ssize n = smtp_client_session_mem_send(c, &out);
 *     if (n > 0) { size_t w = write_all_you_can(fd, out, n);
 *                  smtp_client_session_mem_consume(c, w); continue; }
 *     if (smtp_client_session_want_tls(c)) { handshake(); smtp_client_session_tls_started(c, &info); continue; }
 *     char buf[4096];
 *     ssize_t r = read_with_deadline(fd, buf, sizeof buf, smtp_client_session_timeout_ms(c));
 *     if (r == TIMED_OUT) { smtp_client_session_timeout(c); break; }
 *     if (r == 0) { smtp_client_session_connection_lost(c); break; }
 *     for (size_t off = 0; off < (size_t)r;) {
 *       smtp_ssize k = smtp_client_session_mem_recv(c, buf + off, (size_t)r - off);
 *       if (k < 0) goto done;   // fatal: SMTP_ERR_PROTOCOL, ...
 *       off += (size_t)k;       // k < r - off only after a pause / in event mode
 *     }
 *   }
 *   done: smtp_client_session_del(c);
 * @endcode
 *
 * @section client_order Order of events
 *
 * Events reach the application either through the callback set for them
 * or, when none is set, through the generic event callback, or (a session
 * created with NULL callbacks: "event mode") through
 * smtp_client_session_next_event(). They always come in this order:
 *
 * 1. ::SMTP_CLIENT_EVENT_GREETING (the 220; a 554 greeting is followed by
 *    QUIT and ::SMTP_CLIENT_EVENT_CLOSED).
 * 2. ::SMTP_CLIENT_EVENT_CAPABILITIES after EHLO/LHLO (or HELO, with no
 *    extensions).
 * 3. With STARTTLS: ::SMTP_CLIENT_EVENT_STARTTLS (handshake now), then,
 *    after smtp_client_session_tls_started(), ::SMTP_CLIENT_EVENT_CAPABILITIES
 *    again: only this second list counts (RFC 3207 4.2).
 * 4. With credentials: ::SMTP_CLIENT_EVENT_AUTH (success or the failure).
 * 5. ::SMTP_CLIENT_EVENT_READY: the session can run transactions.
 * 6. Per transaction, in wire order: ::SMTP_CLIENT_EVENT_MAIL, one
 *    ::SMTP_CLIENT_EVENT_RCPT per recipient (index order),
 *    ::SMTP_CLIENT_EVENT_BODY_START when the body is wanted (push it or let
 *    the read callback be called; after a LIMITS split it comes once per
 *    part and the body is wanted again from its first byte),
 *    ::SMTP_CLIENT_EVENT_DATA (SMTP: once; LMTP: once per accepted
 *    recipient, index order), then ::SMTP_CLIENT_EVENT_TXN_DONE. A
 *    transaction refused locally (size, 8BITMIME, SMTPUTF8, REQUIRETLS)
 *    gets only ::SMTP_CLIENT_EVENT_TXN_DONE, and nothing is sent for it
 *    (also ::SMTP_ERR_LIMIT when LIMITS MAILMAX would be exceeded, and
 *    ::SMTP_ERR_UNSUPPORTED for a parameter of an extension not offered).
 *    Between transactions (after READY or TXN_DONE), a command of
 *    smtp_client_session_command() gets its ::SMTP_CLIENT_EVENT_COMMAND
 *    before the next transaction starts.
 * 7. ::SMTP_CLIENT_EVENT_CLOSED exactly once, last: error 0 after a 221
 *    to QUIT, else the reason (421, protocol error, timeout, TLS policy, ...).
 *    A transaction still open at that point gets its
 *    ::SMTP_CLIENT_EVENT_TXN_DONE first (a temporary failure when the
 *    connection was lost or the server said 421).
 */
#ifndef SMTP_CLIENT_H
#define SMTP_CLIENT_H

#include <smtp/common.h>
#include <smtp/reply.h>
#include <smtp/ext.h>
#include <smtp/endpoint.h>
#include <smtp/xclient.h>
#include <smtp/sasl.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A client session (opaque). */
typedef struct smtp_client_session smtp_client_session;
/** @brief The application's callbacks (opaque; copied by the session). */
typedef struct smtp_client_callbacks smtp_client_callbacks;
/** @brief Session options (opaque; copied by the session). */
typedef struct smtp_client_options smtp_client_options;
/** @brief A mail transaction being built or sent (opaque). */
typedef struct smtp_client_txn smtp_client_txn;

/** "No recipient": the index of events that are not about one recipient. */
#define SMTP_CLIENT_NO_INDEX ((size_t)-1)

/** @brief Kinds of ::smtp_client_event. */
typedef enum smtp_client_event_type {
  SMTP_CLIENT_EVENT_NONE = 0,     /**< No event (smtp_client_session_next_event() found none). */
  SMTP_CLIENT_EVENT_GREETING = 1, /**< The server's greeting: @ref smtp_client_event::reply. */
  SMTP_CLIENT_EVENT_CAPABILITIES = 2, /**< EHLO/LHLO/HELO done: @ref smtp_client_event::caps. */
  SMTP_CLIENT_EVENT_STARTTLS = 3, /**< 220 to STARTTLS: the transport must start the TLS handshake now. */
  SMTP_CLIENT_EVENT_AUTH = 4,     /**< AUTH finished: @ref smtp_client_event::error is 0 or an SMTP_ERR_AUTH_*. */
  SMTP_CLIENT_EVENT_READY = 5,    /**< Greeting, EHLO, STARTTLS and AUTH done: transactions may run. */
  SMTP_CLIENT_EVENT_MAIL = 6,     /**< Reply to MAIL FROM. */
  SMTP_CLIENT_EVENT_RCPT = 7,     /**< Reply to RCPT TO for recipient @ref smtp_client_event::index. */
  SMTP_CLIENT_EVENT_BODY_START = 8, /**< The body is wanted from its first byte (push it, or it is read). */
  SMTP_CLIENT_EVENT_DATA = 9,     /**< Reply to DATA/BDAT or after the data (LMTP: per recipient). */
  SMTP_CLIENT_EVENT_TXN_DONE = 10,/**< The transaction is over: @ref smtp_client_event::result. */
  SMTP_CLIENT_EVENT_CLOSED = 11,  /**< The session is over: @ref smtp_client_event::error (0 after QUIT). */
  SMTP_CLIENT_EVENT_COMMAND = 12  /**< Reply to a command of smtp_client_session_command(). */
} smtp_client_event_type;

/** @brief Outcome of a whole transaction (all LIMITS parts together). */
typedef struct smtp_client_txn_result {
  int status;        /**< ::SMTP_OK when the message was delivered to at least one recipient;
                          else ::SMTP_ERR_REJECTED (permanent), ::SMTP_ERR_TEMPFAIL (4xx, 421,
                          lost connection, timeout) or the local error that stopped it
                          (::SMTP_ERR_MESSAGE_TOO_BIG, ::SMTP_ERR_NEEDS_8BITMIME, ...). */
  size_t nrcpt;      /**< Recipients in the transaction. */
  size_t naccepted;  /**< Recipients whose RCPT got a 2xx. */
  size_t ndelivered; /**< Recipients the message was delivered to (final 2xx). */
  uint64_t reserved[2]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_client_txn_result;

/**
 * @brief One event. Pointers inside stay valid until the next call of
 *        smtp_client_session_mem_recv() (or, for callbacks, until the callback returns).
 */
typedef struct smtp_client_event {
  int type;                        /**< ::smtp_client_event_type */
  int error;                       /**< 0, or an ::smtp_error explaining a failure. */
  size_t index;                    /**< Recipient index, or ::SMTP_CLIENT_NO_INDEX. */
  unsigned int part;               /**< Transaction part (0 unless split per LIMITS RCPTMAX). */
  const smtp_reply *reply;         /**< The server's reply, NULL when the event is local. */
  const smtp_capabilities *caps;   /**< CAPABILITIES only. From smtp_client_session_next_event()
                                        (event mode): valid until the next EHLO or STARTTLS;
                                        handed to an event callback: valid during the call. */
  smtp_client_txn *txn;            /**< The transaction concerned, or NULL. */
  smtp_client_txn_result result;   /**< TXN_DONE only. */
  uint64_t reserved[4]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_client_event;

/* ------------------------------------------------------------------ */
/** @name Callbacks
 * Every callback gets the session first and the user_data last. Return 0
 * to go on, ::SMTP_ERR_PAUSE to make smtp_client_session_mem_recv() return
 * right after the current reply, or any other negative value to fail the
 * session with ::SMTP_ERR_CALLBACK_FAILURE.
 * @{ */

/** @brief The greeting reply (220, 554, 421, ...). */
typedef int (*smtp_client_on_greeting)(smtp_client_session *c, const smtp_reply *reply,
                                       void *user_data);
/** @brief Capabilities after EHLO/LHLO (flags 0 after HELO); again after TLS.
 *  @p caps and its spans are valid during the call; smtp_client_session_capabilities()
 *  gives a copy that lasts until the next EHLO. */
typedef int (*smtp_client_on_capabilities)(smtp_client_session *c, const smtp_capabilities *caps,
                                           void *user_data);
/** @brief The server said 220 to STARTTLS: start the TLS handshake now, then
 *         call smtp_client_session_tls_started() (or _tls_failed()). */
typedef int (*smtp_client_on_starttls)(smtp_client_session *c, void *user_data);
/** @brief AUTH result: @p result 0, ::SMTP_ERR_AUTH_FAILED (535),
 *         ::SMTP_ERR_AUTH_TOO_WEAK (534), ::SMTP_ERR_AUTH_TEMP (454),
 *         ::SMTP_ERR_AUTH_UNAVAILABLE, ::SMTP_ERR_PLAINTEXT_AUTH, ::SMTP_ERR_REJECTED,
 *         ::SMTP_ERR_TEMPFAIL; @p reply NULL for a local failure. */
typedef int (*smtp_client_on_auth)(smtp_client_session *c, int result, const smtp_reply *reply,
                                   void *user_data);
/** @brief Reply to MAIL FROM. */
typedef int (*smtp_client_on_mail)(smtp_client_session *c, smtp_client_txn *txn,
                                   const smtp_reply *reply, void *user_data);
/** @brief Reply to RCPT TO for recipient @p index (as added to the transaction).
 *  251 and 551 (RFC 5321 3.4) are reported like any reply; the session never
 *  re-routes by itself (RFC 5321 7.4). */
typedef int (*smtp_client_on_rcpt)(smtp_client_session *c, smtp_client_txn *txn, size_t index,
                                   const smtp_reply *reply, void *user_data);
/** @brief The body is wanted from its first byte (part @p part). */
typedef int (*smtp_client_on_body_start)(smtp_client_session *c, smtp_client_txn *txn,
                                         unsigned int part, void *user_data);
/** @brief Reply about the message: refusal of DATA/BDAT, or the final reply
 *  (@p index is ::SMTP_CLIENT_NO_INDEX for SMTP; the recipient for LMTP). */
typedef int (*smtp_client_on_data)(smtp_client_session *c, smtp_client_txn *txn, size_t index,
                                   const smtp_reply *reply, void *user_data);
/** @brief The transaction is over; @p txn may be reused or freed from here on. */
typedef int (*smtp_client_on_txn_done)(smtp_client_session *c, smtp_client_txn *txn,
                                       const smtp_client_txn_result *result, void *user_data);
/** @brief The session is over (@p error 0 after QUIT). */
typedef int (*smtp_client_on_closed)(smtp_client_session *c, int error, void *user_data);
/** @brief Reply to the command sent with smtp_client_session_command(). */
typedef int (*smtp_client_on_command)(smtp_client_session *c, const smtp_reply *reply,
                                      void *user_data);
/** @brief Generic: gets every event that has no dedicated callback set. */
typedef int (*smtp_client_on_event)(smtp_client_session *c, const smtp_client_event *ev,
                                    void *user_data);
/**
 * @brief Pull body bytes (a transaction with ::SMTP_CLIENT_BODY_READ).
 *
 * Fill up to @p len bytes of @p buf. Set @p *eof to 1 with (or after) the
 * last bytes. Return the number of bytes, ::SMTP_ERR_WOULDBLOCK when none
 * is available now (call smtp_client_session_resume_body() later), or
 * another negative ::smtp_error to abort: after DATA's 354 the session then
 * ends without sending the terminator, so nothing is delivered
 * (no partial message is ever taken for a whole one). Called from smtp_client_session_mem_send().
 */
typedef smtp_ssize (*smtp_client_on_read_body)(smtp_client_session *c, smtp_client_txn *txn,
                                               char *buf, size_t len, int *eof, void *user_data);
/**
 * @brief Protocol trace: one line without CRLF. @p direction 'C' for what the
 *        client queues, 'S' for what the server sent. AUTH data is replaced by
 *        "<redacted>"; message data is summarised, not shown. The text is
 *        raw: reply lines are the server's bytes unchanged (control bytes,
 *        escape sequences, invalid UTF-8 included); pass them through
 *        smtp_escape_text() before they reach a terminal or a log.
 */
typedef void (*smtp_client_on_trace)(smtp_client_session *c, int direction, const char *line,
                                     size_t len, void *user_data);
/** @} */

/**
 * @brief Allocate an empty callbacks object (every callback unset).
 * @param out receives the object; the caller frees it with smtp_client_callbacks_del().
 * @param mem allocator or NULL for the C library's; copied.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, an allocator
 *         without all four functions), ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_client_callbacks_new(smtp_client_callbacks **out, const smtp_mem *mem);
/** @brief Free a callbacks object; NULL does nothing.
 *  @param cbs the object (sessions keep their own copy). */
SMTP_API void smtp_client_callbacks_del(smtp_client_callbacks *cbs);
/** @brief Set the greeting callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_greeting(smtp_client_callbacks *cbs, smtp_client_on_greeting cb);
/** @brief Set the capabilities callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_capabilities(smtp_client_callbacks *cbs, smtp_client_on_capabilities cb);
/** @brief Set the STARTTLS (handshake point) callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_starttls(smtp_client_callbacks *cbs, smtp_client_on_starttls cb);
/** @brief Set the AUTH result callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_auth(smtp_client_callbacks *cbs, smtp_client_on_auth cb);
/** @brief Set the MAIL reply callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_mail(smtp_client_callbacks *cbs, smtp_client_on_mail cb);
/** @brief Set the per-recipient RCPT reply callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_rcpt(smtp_client_callbacks *cbs, smtp_client_on_rcpt cb);
/** @brief Set the body-start callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_body_start(smtp_client_callbacks *cbs, smtp_client_on_body_start cb);
/** @brief Set the data reply (SMTP: one; LMTP: per recipient) callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_data(smtp_client_callbacks *cbs, smtp_client_on_data cb);
/** @brief Set the transaction-done callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_txn_done(smtp_client_callbacks *cbs, smtp_client_on_txn_done cb);
/** @brief Set the session-closed callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_closed(smtp_client_callbacks *cbs, smtp_client_on_closed cb);
/** @brief Set the generic event (events without a dedicated callback) callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_event(smtp_client_callbacks *cbs, smtp_client_on_event cb);
/** @brief Set the body read (pull) callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_read_body(smtp_client_callbacks *cbs, smtp_client_on_read_body cb);
/** @brief Set the trace callback.
 *  @param cbs the callbacks object; NULL does nothing. @param cb the callback, or NULL to unset. */
SMTP_API void smtp_client_callbacks_set_trace(smtp_client_callbacks *cbs, smtp_client_on_trace cb);
/** @brief Set the reply callback of smtp_client_session_command() (without it
 *  the reply goes to the event callback as ::SMTP_CLIENT_EVENT_COMMAND).
 *  @param cbs the callbacks object. @param cb the callback, or NULL. */
SMTP_API void smtp_client_callbacks_set_command(smtp_client_callbacks *cbs, smtp_client_on_command cb);

/* ------------------------------------------------------------------ */
/** @name Options
 * @{ */

/** @brief STARTTLS policy (RFC 3207). */
typedef enum smtp_client_starttls_policy {
  SMTP_CLIENT_STARTTLS_OPPORTUNISTIC = 0, /**< STARTTLS when offered; go on in clear text when not
                                               offered or refused (not after a failed handshake). */
  SMTP_CLIENT_STARTTLS_REQUIRED = 1,      /**< Any failure ends the session before AUTH or MAIL.
                                               Certificate verification is the transport's:
                                               it reports a failed one with
                                               smtp_client_session_tls_failed(). */
  SMTP_CLIENT_STARTTLS_OFF = 2            /**< Never STARTTLS (e.g. implicit TLS, or tests). */
} smtp_client_starttls_policy;

/** Default size the output buffer may grow to. A session starts with
 *  1.5 KiB of output in its own allocation, enough for command lines and a
 *  short message; memory bodies without bare CR/LF go out from the
 *  application's memory (runs that do not fit) or are copied, so they never
 *  make it grow. It moves
 *  to this size, once, for a body that is stuffed, normalised or read
 *  (pushed, read through read_body, or with bare CR/LF), or for a command
 *  line longer than 1.5 KiB (a long AUTH response). Raise it for such bodies
 *  on fast links (fewer, larger transport writes). */
#define SMTP_CLIENT_OUTPUT_DEFAULT 4096
/** Smallest output buffer accepted. */
#define SMTP_CLIENT_OUTPUT_MIN 4096

/**
 * @brief Allocate options with the defaults: EHLO name "localhost", SMTP,
 *        opportunistic STARTTLS, no credentials, no plaintext AUTH, every
 *        extension used when offered, reply bounds of reply.h, 4 KiB output
 *        (::SMTP_CLIENT_OUTPUT_DEFAULT).
 * @param out receives the options; free them with smtp_client_options_del().
 * @param mem allocator or NULL; copied.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT, ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_client_options_new(smtp_client_options **out, const smtp_mem *mem);
/** @brief Free options; NULL does nothing. @param opt the options (sessions keep a copy). */
SMTP_API void smtp_client_options_del(smtp_client_options *opt);
/**
 * @brief The EHLO/HELO/LHLO argument: a Domain or an address literal (RFC 5321 4.1.1.1).
 * @param opt the options. @param name NUL-terminated; copied.
 * @return ::SMTP_OK, ::SMTP_ERR_BAD_CHAR (CR, LF, NUL, controls), ::SMTP_ERR_SYNTAX and the
 *         other errors of smtp_parse_ehlo_arg(), ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_client_options_set_ehlo_name(smtp_client_options *opt, const char *name);
/** @brief Speak LMTP (RFC 2033): LHLO, per-recipient replies after the data.
 *  @param opt the options. @param on 1 for LMTP, 0 for SMTP.
 *  @return ::SMTP_OK, or ::SMTP_ERR_INVALID_ARGUMENT (NULL @p opt, @p on not 0 or 1). */
SMTP_API int smtp_client_options_set_lmtp(smtp_client_options *opt, int on);
/** @brief Set the STARTTLS policy.
 *  @param opt the options. @param policy an ::smtp_client_starttls_policy.
 *  @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT. */
SMTP_API int smtp_client_options_set_starttls(smtp_client_options *opt, int policy);
/**
 * @brief Password credentials: the session authenticates after EHLO (and TLS).
 *
 * Each value is at most 255 octets of UTF-8 without controls; all are copied.
 * @param opt the options.
 * @param authzid authorization identity, or NULL for none.
 * @param user authentication identity.
 * @param password the password.
 * @return ::SMTP_OK, ::SMTP_ERR_BAD_CHAR, ::SMTP_ERR_UTF8, ::SMTP_ERR_TOO_LONG,
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL or empty user/password), ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_client_options_set_credentials(smtp_client_options *opt, const char *authzid,
                                                 const char *user, const char *password);
/**
 * @brief An OAuth 2.0 bearer token for OAUTHBEARER (RFC 7628) / XOAUTH2.
 * @param opt the options.
 * @param user the account (XOAUTH2 "user=", OAUTHBEARER "a="), or NULL; copied.
 * @param token printable ASCII (RFC 6750 b64token), at most 8192 octets; copied.
 * @return as smtp_client_options_set_credentials().
 */
SMTP_API int smtp_client_options_set_oauth_token(smtp_client_options *opt, const char *user,
                                                 const char *token);
/**
 * @brief Force one mechanism (a single ::smtp_sasl_mech bit), or 0 for the
 *        strongest both sides have (see smtp_client_options_set_auth_preference()).
 *        ::SMTP_SASL_EXTERNAL (RFC 4422 appendix A) needs no password: the
 *        TLS layer presents a client certificate, and the authzid given to
 *        smtp_client_options_set_credentials(), if any, is sent as the
 *        authorization identity; forcing it makes the session authenticate
 *        even without credentials.
 * @param opt the options. @param mech one ::smtp_sasl_mech bit, or 0.
 * @return ::SMTP_OK, ::SMTP_ERR_UNSUPPORTED (not implemented or not in this build),
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_client_options_set_auth_mechanism(smtp_client_options *opt, unsigned int mech);
/** @brief Allow credentials without TLS (default off: ::SMTP_ERR_PLAINTEXT_AUTH).
 *  @param opt the options. @param on 1 to allow.
 *  @return ::SMTP_OK, or ::SMTP_ERR_INVALID_ARGUMENT (NULL @p opt, @p on not 0 or 1). */
SMTP_API int smtp_client_options_set_allow_plaintext_auth(smtp_client_options *opt, int on);
/**
 * @brief Never use these extensions even when offered: any of
 *        ::SMTP_EXT_PIPELINING, ::SMTP_EXT_CHUNKING, ::SMTP_EXT_8BITMIME,
 *        ::SMTP_EXT_SIZE, ::SMTP_EXT_DSN, ::SMTP_EXT_SMTPUTF8, ::SMTP_EXT_BINARYMIME.
 * @param opt the options. @param ext_flags ::smtp_ext_flag bits.
 * @return ::SMTP_OK, or ::SMTP_ERR_INVALID_ARGUMENT (NULL @p opt).
 */
SMTP_API int smtp_client_options_set_disabled_extensions(smtp_client_options *opt, unsigned int ext_flags);
/** @brief Send SMTPUTF8 with every MAIL; fail when the server lacks it (RFC 6531).
 *  @param opt the options. @param on 1 to require.
 *  @return ::SMTP_OK, or ::SMTP_ERR_INVALID_ARGUMENT (NULL @p opt, @p on not 0 or 1). */
SMTP_API int smtp_client_options_set_require_smtputf8(smtp_client_options *opt, int on);
/** @brief REQUIRETLS (RFC 8689) on every MAIL; fail unless TLS is up and offered.
 *  @param opt the options. @param on 1 to require.
 *  @return ::SMTP_OK, or ::SMTP_ERR_INVALID_ARGUMENT (NULL @p opt, @p on not 0 or 1). */
SMTP_API int smtp_client_options_set_requiretls(smtp_client_options *opt, int on);
/**
 * @brief Bounds on server replies: longest line incl. CRLF and most lines.
 * @param opt the options.
 * @param max_line 0 for ::SMTP_REPLY_LINE_MAX, else 64..65536.
 * @param max_lines 0 for ::SMTP_REPLY_LINES_MAX, else 1..10000.
 * @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_client_options_set_reply_limits(smtp_client_options *opt, size_t max_line,
                                                  size_t max_lines);
/** @brief The size the output buffer may grow to (::SMTP_CLIENT_OUTPUT_MIN..16 MiB;
 *         see ::SMTP_CLIENT_OUTPUT_DEFAULT for when it grows).
 *  @param opt the options. @param bytes the size.
 *  @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT. */
SMTP_API int smtp_client_options_set_output_buffer(smtp_client_options *opt, size_t bytes);
/**
 * @brief Random bytes for SCRAM nonces. Without it no SCRAM mechanism is
 *        ever chosen (the library reads no random device itself).
 * @param opt the options.
 * @param fn fills its @c len bytes at @c buf and returns 0, or non-zero on failure.
 * @param user_data passed to @p fn.
 * @return ::SMTP_OK, or ::SMTP_ERR_INVALID_ARGUMENT (NULL @p opt).
 */
SMTP_API int smtp_client_options_set_random(smtp_client_options *opt,
                                            int (*fn)(void *buf, size_t len, void *user_data),
                                            void *user_data);
/** @brief The waits that have a deadline (RFC 5321 4.5.3.2). */
typedef enum smtp_client_timeout_phase {
  SMTP_CLIENT_TIMEOUT_GREETING = 0,   /**< The 220 greeting; default 5 min (4.5.3.2.1). */
  SMTP_CLIENT_TIMEOUT_MAIL = 1,       /**< Reply to MAIL; default 5 min (4.5.3.2.2). */
  SMTP_CLIENT_TIMEOUT_RCPT = 2,       /**< Reply to RCPT; default 5 min (4.5.3.2.3). */
  SMTP_CLIENT_TIMEOUT_DATA_INIT = 3,  /**< The 354 to DATA; default 2 min (4.5.3.2.4). */
  SMTP_CLIENT_TIMEOUT_DATA_BLOCK = 4, /**< Each data block sent; default 3 min (4.5.3.2.5). */
  SMTP_CLIENT_TIMEOUT_DATA_FINAL = 5, /**< The reply after the data; default 10 min (4.5.3.2.6). */
  SMTP_CLIENT_TIMEOUT_OTHER = 6,      /**< Any other reply (EHLO, STARTTLS, AUTH, RSET,
                                           QUIT, TLS handshake, raw commands); default 5 min. */
  SMTP_CLIENT_TIMEOUT_ALL = 7         /**< Every phase at once (a setter argument only). */
} smtp_client_timeout_phase;
/**
 * @brief Change one deadline of smtp_client_session_timeout_ms() (RFC 5321
 *        4.5.3.2: timeouts SHOULD be easy to reconfigure). The defaults are the
 *        RFC's values; shorter ones risk failing transfers the RFC would let finish.
 * @param opt the options.
 * @param phase an ::smtp_client_timeout_phase.
 * @param ms milliseconds, 1 to 86400000 (one day).
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT (NULL @p opt, unknown phase, @p ms out of range).
 */
SMTP_API int smtp_client_options_set_timeout(smtp_client_options *opt, int phase, int ms);
/** @} */

/* ------------------------------------------------------------------ */
/** @name Transactions
 * A transaction is built by the application, handed to the session with
 * smtp_client_session_submit(), and owned by the application again after
 * its ::SMTP_CLIENT_EVENT_TXN_DONE. smtp_client_txn_reset() keeps the
 * memory, so reusing one object costs no allocation in the steady state.
 * Every input is validated when it is set: nothing invalid can reach the wire.
 * @{ */


/** @brief Where the body comes from. */
typedef enum smtp_client_body_source {
  SMTP_CLIENT_BODY_NONE = 0,   /**< Not set yet. */
  SMTP_CLIENT_BODY_MEMORY = 1, /**< smtp_client_txn_set_body(). */
  SMTP_CLIENT_BODY_READ = 2,   /**< The read_body callback pulls it. */
  SMTP_CLIENT_BODY_PUSH = 3,   /**< The application pushes it with smtp_client_session_body_push(). */
  SMTP_CLIENT_BODY_URL = 4     /**< The server fetches it: smtp_client_txn_add_body_url() (BURL, RFC 4468). */
} smtp_client_body_source;

/**
 * @brief Allocate an empty transaction.
 * @param out receives it; free it with smtp_client_txn_del().
 * @param mem allocator or NULL; copied. The transaction grows while it is built.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT, ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_client_txn_new(smtp_client_txn **out, const smtp_mem *mem);
/**
 * @brief Free a transaction; NULL does nothing.
 *
 * A submitted transaction belongs to its session until its result has been
 * reported (the txn_done callback or event) or the session is deleted; it
 * cannot be freed before.
 * @param t the transaction.
 * @return ::SMTP_OK (freed, or @p t was NULL); ::SMTP_ERR_INVALID_STATE when
 *         @p t is submitted to a session and not finished (nothing freed).
 */
SMTP_API int smtp_client_txn_del(smtp_client_txn *t);
/** @brief Empty the transaction and keep its memory.
 *  @param t the transaction.
 *  @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT (NULL), or ::SMTP_ERR_INVALID_STATE
 *          while submitted. */
SMTP_API int smtp_client_txn_reset(smtp_client_txn *t);
/**
 * @brief The reverse-path: a Mailbox (RFC 5321 4.1.2) without or with angle
 *        brackets, or an empty string for the null path "<>".
 * @param t the transaction. @param addr the address (copied). @param len its length.
 * @return ::SMTP_OK, ::SMTP_ERR_BAD_CHAR (CR, LF, NUL, controls), ::SMTP_ERR_SYNTAX,
 *         ::SMTP_ERR_PATH_TOO_LONG and the other errors of smtp_parse_mailbox(),
 *         ::SMTP_ERR_INVALID_STATE (submitted), ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_client_txn_set_from(smtp_client_txn *t, const char *addr, size_t len);
/**
 * @brief Add a recipient (a Mailbox, or "Postmaster").
 * @param t the transaction. @param addr the address (copied). @param len its length.
 * @param notify ::smtp_dsn_notify bits (NEVER alone).
 * @param orcpt original recipient for ORCPT=rfc822;... (xtext-encoded by the
 *        library, RFC 3461 4.2), or NULL; copied.
 * @param orcpt_len length of @p orcpt.
 * @return the recipient's index (>= 0), or the errors of smtp_client_txn_set_from(),
 *         ::SMTP_ERR_INVALID_ARGUMENT (bad @p notify), ::SMTP_ERR_LIMIT (over 100000).
 */
SMTP_API smtp_ssize smtp_client_txn_add_rcpt(smtp_client_txn *t, const char *addr, size_t len,
                                             unsigned int notify, const char *orcpt,
                                             size_t orcpt_len);
/**
 * @brief DSN parameters of MAIL (RFC 3461 4.3, 4.4), sent only when the
 *        server offers DSN.
 * @param t the transaction. @param ret ::smtp_dsn_ret.
 * @param envid printable ASCII (at most 100), or NULL; copied. @param len its length.
 * @return ::SMTP_OK, ::SMTP_ERR_BAD_CHAR, ::SMTP_ERR_TOO_LONG, ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_client_txn_set_dsn(smtp_client_txn *t, int ret, const char *envid, size_t len);
/** @brief Size hint for SIZE= (RFC 1870) when the body is not in memory.
 *  @param t the transaction. @param size octets.
 *  @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT, ::SMTP_ERR_INVALID_STATE. */
SMTP_API int smtp_client_txn_set_size(smtp_client_txn *t, uint64_t size);
/** @brief What the body is.
 *  @param t the transaction. @param type an ::smtp_body_type.
 *  @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT, ::SMTP_ERR_INVALID_STATE. */
SMTP_API int smtp_client_txn_set_body_type(smtp_client_txn *t, int type);
/**
 * @brief The body in memory: not copied, it must stay valid until TXN_DONE.
 *        Bare CR and bare LF become CRLF; a final CRLF is added when missing;
 *        a NUL or a line over 1000 octets refuses the transaction before MAIL
 *        (except BINARYMIME).
 * @param t the transaction. @param data the body. @param len its length.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT, ::SMTP_ERR_INVALID_STATE.
 */
SMTP_API int smtp_client_txn_set_body(smtp_client_txn *t, const char *data, size_t len);
/** @brief Take the body from the read_body callback (::SMTP_CLIENT_BODY_READ) or from
 *         smtp_client_session_body_push() (::SMTP_CLIENT_BODY_PUSH).
 *  @param t the transaction. @param source ::SMTP_CLIENT_BODY_READ or ::SMTP_CLIENT_BODY_PUSH.
 *  @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT, ::SMTP_ERR_INVALID_STATE. */
SMTP_API int smtp_client_txn_set_body_source(smtp_client_txn *t, int source);
/**
 * @brief Add a URL the server fetches message content from (BURL, RFC 4468),
 *        instead of sending the body with DATA or BDAT.
 *
 * The message is what the server fetches from every URL added, in order:
 * one "BURL url" command each (RFC 4468 3.4), the last one with the LAST
 * end-marker. The URL is typically an IMAP URL with a URLAUTH token
 * (RFC 4467), which the application obtains from its IMAP server; the
 * library only checks its form and never traces the token (the trace shows
 * the URL up to ";URLAUTH="). The first call makes the body source
 * ::SMTP_CLIENT_BODY_URL; smtp_client_txn_set_body() or
 * smtp_client_txn_set_body_source() drop the URLs again.
 *
 * The transaction is refused locally with ::SMTP_ERR_NEEDS_BURL when the
 * server does not offer BURL; smtp_client_session_ehlo_values() tells which
 * URL types it lists (RFC 4468 3.1, "imap"). The BURL commands follow the
 * replies to all RCPT commands, like BDAT, and are pipelined when the
 * server offers PIPELINING. SIZE= is sent only with smtp_client_txn_set_size().
 *
 * @param t the transaction.
 * @param url an absolute URI (RFC 3986 4.3): printable US-ASCII without
 *        spaces, with a ":" after a scheme of letters, digits, "+", "-", ".";
 *        at most SMTP_COMMAND_LINE_MAX - 12 octets (the command line with
 *        "BURL ", " LAST" and CRLF stays within 512, RFC 5321 4.5.3.1.4);
 *        copied.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL);
 *         ::SMTP_ERR_BAD_CHAR (a control, a space or a non-ASCII octet);
 *         ::SMTP_ERR_SYNTAX (no scheme); ::SMTP_ERR_TOO_LONG;
 *         ::SMTP_ERR_LIMIT (more than 64 URLs); ::SMTP_ERR_INVALID_STATE
 *         (submitted); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_client_txn_add_body_url(smtp_client_txn *t, const char *url);
/** @brief REQUIRETLS for this transaction (RFC 8689).
 *  @param t the transaction. @param on 1 to require.
 *  @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT, ::SMTP_ERR_INVALID_STATE. */
SMTP_API int smtp_client_txn_set_requiretls(smtp_client_txn *t, int on);
/** @brief Number of recipients. @param t the transaction. @return the count (0 for NULL). */
SMTP_API size_t smtp_client_txn_rcpt_count(const smtp_client_txn *t);
/**
 * @brief Results of recipient @p index after the transaction: the RCPT reply
 *        code and the final (data) reply code, 0 when none arrived.
 * @param t the transaction. @param index the recipient.
 * @param rcpt_code receives the RCPT reply code; may be NULL.
 * @param data_code receives the final reply code; may be NULL.
 * @return ::SMTP_OK or ::SMTP_ERR_NOT_FOUND.
 */
SMTP_API int smtp_client_txn_rcpt_result(const smtp_client_txn *t, size_t index, int *rcpt_code,
                                         int *data_code);
/** @brief The recipient's address as given (without brackets).
 *  @param t the transaction. @param index the recipient. @param len set to its length; may be NULL.
 *  @return the address (not NUL-terminated, valid until the transaction is reset or
 *          freed), or NULL when out of range. */
SMTP_API const char *smtp_client_txn_rcpt_address(const smtp_client_txn *t, size_t index,
                                                  size_t *len);

/** Every recipient of the transaction, as the @c index of
 *  smtp_client_txn_add_rcpt_param() and smtp_client_txn_set_rrvs(). */
#define SMTP_CLIENT_ALL_RCPTS ((size_t)-1)

/**
 * @brief Add a MAIL FROM parameter (RFC 5321 4.1.2 esmtp-param).
 *
 * A parameter of an extension libsmtp implements (MT-PRIORITY, BY, HOLDFOR,
 * HOLDUNTIL, SOLICIT, MTRK, SUBMITTER) is checked with the same parser the
 * server session uses and sent only when the server offered its extension;
 * otherwise the transaction ends locally with ::SMTP_ERR_UNSUPPORTED, nothing
 * of it sent. Any other keyword is sent as it is, whatever the server
 * offered. The parameters the library sets itself (SIZE, BODY, SMTPUTF8,
 * REQUIRETLS, RET, ENVID, AUTH) are refused: use their setters.
 * @param t the transaction (not submitted).
 * @param keyword esmtp-keyword: (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), NUL-terminated.
 * @param value esmtp-value (1*(%d33-60 / %d62-126)), NUL-terminated, or NULL for
 *        a keyword without "=". Both are copied.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL, a library-set keyword);
 *         ::SMTP_ERR_SYNTAX (not an esmtp-param); ::SMTP_ERR_BAD_CHAR (CR, LF,
 *         NUL or another control); ::SMTP_ERR_PARAM (a known parameter with a
 *         malformed value, or given twice, or HOLDFOR with HOLDUNTIL);
 *         ::SMTP_ERR_TOO_LONG (the added parameters of one line would pass
 *         1000 octets); ::SMTP_ERR_INVALID_STATE (submitted); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_client_txn_add_mail_param(smtp_client_txn *t, const char *keyword,
                                            const char *value);
/**
 * @brief Add a RCPT TO parameter to one recipient, or to every recipient
 *        (::SMTP_CLIENT_ALL_RCPTS, also those added later). Same rules as
 *        smtp_client_txn_add_mail_param(); the known RCPT parameter is RRVS
 *        (NOTIFY and ORCPT come from smtp_client_txn_add_rcpt()).
 * @param t the transaction. @param index the recipient or ::SMTP_CLIENT_ALL_RCPTS.
 * @param keyword the esmtp-keyword. @param value the esmtp-value or NULL.
 * @return as smtp_client_txn_add_mail_param(), and ::SMTP_ERR_NOT_FOUND for
 *         an index out of range.
 */
SMTP_API int smtp_client_txn_add_rcpt_param(smtp_client_txn *t, size_t index, const char *keyword,
                                            const char *value);
/** @brief MT-PRIORITY=@p priority (RFC 6710). @param t the transaction.
 *  @param priority -9 to 9.
 *  @return as smtp_client_txn_add_mail_param(); ::SMTP_ERR_INVALID_ARGUMENT out of range. */
SMTP_API int smtp_client_txn_set_mt_priority(smtp_client_txn *t, int priority);
/** @brief BY=@p by_time;@p mode[T] (RFC 2852 4). @param t the transaction.
 *  @param by_time seconds, -999999999 to 999999999; positive with 'R'.
 *  @param mode 'N' (notify) or 'R' (return). @param trace_on 1 adds the trace modifier "T".
 *  @return as smtp_client_txn_add_mail_param(); ::SMTP_ERR_INVALID_ARGUMENT out of
 *          range; ::SMTP_ERR_PARAM for 'R' with a by_time below 1. */
SMTP_API int smtp_client_txn_set_deliver_by(smtp_client_txn *t, int by_time, int mode,
                                            int trace_on);
/** @brief HOLDFOR=@p seconds (RFC 4865 4). @param t the transaction.
 *  @param seconds 1 to 999999999.
 *  @return as smtp_client_txn_add_mail_param(); ::SMTP_ERR_INVALID_ARGUMENT out of range. */
SMTP_API int smtp_client_txn_set_hold_for(smtp_client_txn *t, unsigned int seconds);
/** @brief HOLDUNTIL=@p date_time (RFC 4865 4). @param t the transaction.
 *  @param date_time an RFC 3339 date-time in UTC ("Z" or a zero offset), NUL-terminated.
 *  @return as smtp_client_txn_add_mail_param(). */
SMTP_API int smtp_client_txn_set_hold_until(smtp_client_txn *t, const char *date_time);
/** @brief RRVS=@p date_time[;@p mode] on one recipient or all (RFC 7293 3.1).
 *  @param t the transaction. @param index the recipient or ::SMTP_CLIENT_ALL_RCPTS.
 *  @param date_time an RFC 3339 date-time, NUL-terminated.
 *  @param mode 0 (none), 'C' (continue) or 'R' (reject).
 *  @return as smtp_client_txn_add_rcpt_param(). */
SMTP_API int smtp_client_txn_set_rrvs(smtp_client_txn *t, size_t index, const char *date_time,
                                      int mode);
/** @} */

/* ------------------------------------------------------------------ */
/** @name Session
 * @{ */

/**
 * @brief Create a client session; it waits for the greeting.
 * @param out receives the session; free it with smtp_client_session_del().
 * @param callbacks copied; NULL selects event mode (smtp_client_session_next_event()).
 * @param user_data handed to every callback.
 * @param options copied; NULL for the defaults.
 * @param mem allocator or NULL; copied. Creation makes two allocations (the
 *        session with its buffers; the reply parser with its first text
 *        store). Later ones happen only when something outgrows what the
 *        session has, and are kept for the session's life: a reply larger
 *        than any before, a pipelined group larger than the reply ring, a
 *        body or line that needs the configured output size, the copy of
 *        each EHLO reply's keywords, and (callback mode) the set built by
 *        smtp_client_session_capabilities(). Steady transactions allocate
 *        nothing.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT, ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_client_session_new(smtp_client_session **out,
                                     const smtp_client_callbacks *callbacks, void *user_data,
                                     const smtp_client_options *options, const smtp_mem *mem);
/** @brief Free a session; NULL does nothing. A submitted transaction is released.
 *  @param c the session. */
SMTP_API void smtp_client_session_del(smtp_client_session *c);

/**
 * @brief Feed bytes received from the server.
 * @param c the session. @param data the bytes (only read during the call). @param len their number.
 * @return bytes consumed: all of them, or fewer when a callback paused or in
 *         event mode after a reply that queued events (call again with the rest
 *         after draining smtp_client_session_next_event()). Errors:
 *         ::SMTP_ERR_PROTOCOL (malformed reply, reply before its command was
 *         sent, bytes after 220 to STARTTLS), ::SMTP_ERR_CALLBACK_FAILURE,
 *         ::SMTP_ERR_CLOSED, ::SMTP_ERR_INVALID_STATE (event mode: undrained
 *         events), ::SMTP_ERR_NOMEM (a reply larger than any before and the
 *         allocator failed to give its store room), ::SMTP_ERR_INVALID_ARGUMENT.
 *         Fatal errors are sticky.
 */
SMTP_API smtp_ssize smtp_client_session_mem_recv(smtp_client_session *c, const char *data,
                                                 size_t len);
/**
 * @brief Peek at output to send: @p *data points into the session's buffer,
 *        valid until the next call on the session. May call read_body.
 * @param c the session. @param data receives the pointer.
 * @return the number of bytes (0: nothing now), or a fatal error.
 */
SMTP_API smtp_ssize smtp_client_session_mem_send(smtp_client_session *c, const char **data);
/** @brief Report @p n bytes of the peeked output as written.
 *  @param c the session. @param n bytes written (at most what mem_send returned).
 *  @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT (more than pending). */
SMTP_API int smtp_client_session_mem_consume(smtp_client_session *c, size_t n);
/** @brief Whether the session waits for server bytes. @param c the session.
 *  @return 1 when it does, else 0. */
SMTP_API int smtp_client_session_want_read(const smtp_client_session *c);
/** @brief Whether there is (or may be, after a body read) output to send.
 *  @param c the session. @return 1 or 0. */
SMTP_API int smtp_client_session_want_write(const smtp_client_session *c);
/** @brief Whether the transport must run the TLS handshake now.
 *  @param c the session.
 *  @return 1 between the 220 to STARTTLS and smtp_client_session_tls_started(), else 0. */
SMTP_API int smtp_client_session_want_tls(const smtp_client_session *c);
/**
 * @brief TLS is up (after ::SMTP_CLIENT_EVENT_STARTTLS, or at once for implicit
 *        TLS before any byte): the session forgets the earlier capabilities and
 *        sends EHLO again (RFC 3207 4.2).
 * @param c the session.
 * @param info may be NULL; only read during the call.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT, ::SMTP_ERR_INVALID_STATE.
 */
SMTP_API int smtp_client_session_tls_started(smtp_client_session *c, const smtp_tls_info *info);
/** @brief The TLS handshake failed: the session ends with @p error (no plaintext retry).
 *  @param c the session. @param error e.g. ::SMTP_ERR_TLS_HANDSHAKE, ::SMTP_ERR_TLS_VERIFY.
 *  @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT. */
SMTP_API int smtp_client_session_tls_failed(smtp_client_session *c, int error);
/** @brief Whether TLS is up. @param c the session. @return 1 or 0. */
SMTP_API int smtp_client_session_tls_active(const smtp_client_session *c);
/**
 * @brief The deadline for the current wait in milliseconds (RFC 5321
 *        4.5.3.2): greeting, MAIL, RCPT and other commands 5 min, DATA
 *        initiation 2 min, each data block 3 min, the final reply 10 min; -1 when
 *        the session waits for nothing. Re-arm the timer whenever a call moved
 *        bytes.
 * @param c the session.
 * @return milliseconds, or -1.
 */
SMTP_API int smtp_client_session_timeout_ms(const smtp_client_session *c);
/** @brief The deadline passed: an open transaction fails temporarily and the
 *  session ends with ::SMTP_ERR_TIMEOUT.
 *  @param c the session. @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT. */
SMTP_API int smtp_client_session_timeout(smtp_client_session *c);
/** @brief The connection ended (EOF or error). After QUIT this is the normal
 *  end; otherwise an open transaction fails temporarily (also after its data: only a
 *  2xx reply to the data means delivered) and the session ends with ::SMTP_ERR_CONNECTION_LOST.
 *  @param c the session. @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT. */
SMTP_API int smtp_client_session_connection_lost(smtp_client_session *c);

/**
 * @brief Hand a transaction to the session; it starts when the session is
 *        ready and the previous one is done. The session keeps a reference
 *        until ::SMTP_CLIENT_EVENT_TXN_DONE. No callback is called from here
 *        (so it is safe inside a callback): the transaction is started, or
 *        refused locally, by the next smtp_client_session_mem_send() or
 *        smtp_client_session_mem_recv().
 * @param c the session. @param t the transaction.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT (no reverse-path set, no recipient,
 *         no body source), ::SMTP_ERR_INVALID_STATE (a transaction is already
 *         queued, QUIT requested, or @p t submitted elsewhere), ::SMTP_ERR_CLOSED.
 */
SMTP_API int smtp_client_session_submit(smtp_client_session *c, smtp_client_txn *t);
/**
 * @brief Push body bytes (::SMTP_CLIENT_BODY_PUSH) once BODY_START came.
 * @param c the session. @param data the bytes (only read during the call). @param len their number.
 * @param last 1 with the final bytes (or with @p len 0 afterwards).
 * @return bytes taken (possibly fewer than @p len: push the rest after output
 *         drained), ::SMTP_ERR_WOULDBLOCK (not wanted now), ::SMTP_ERR_NUL,
 *         ::SMTP_ERR_LINE_TOO_LONG, ::SMTP_ERR_NEEDS_8BITMIME (the session then
 *         ends without sending the terminator), ::SMTP_ERR_INVALID_STATE.
 */
SMTP_API smtp_ssize smtp_client_session_body_push(smtp_client_session *c, const char *data,
                                                  size_t len, int last);
/** @brief Whether smtp_client_session_body_push() would take bytes now.
 *  @param c the session. @return 1 or 0. */
SMTP_API int smtp_client_session_want_body(const smtp_client_session *c);
/** @brief The read_body callback returned ::SMTP_ERR_WOULDBLOCK and has data again.
 *  @param c the session. @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT. */
SMTP_API int smtp_client_session_resume_body(smtp_client_session *c);
/** @brief Send QUIT once the submitted transaction (if any) is done (written by
 *  the next smtp_client_session_mem_send(); no callback is called from here).
 *  @param c the session.
 *  @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT or ::SMTP_ERR_CLOSED. */
SMTP_API int smtp_client_session_quit(smtp_client_session *c);
/**
 * @brief Send one command line of the application's (VRFY, EXPN, ETRN,
 *        HELP, NOOP, XCLIENT, a private verb) and get its reply through
 *        the command callback or ::SMTP_CLIENT_EVENT_COMMAND.
 *
 * Only at a safe point: the session is ready (::SMTP_CLIENT_EVENT_READY
 * came), no transaction is running (never inside a DATA or BDAT body) and
 * no other such command waits for its reply. The line is queued at once
 * (CRLF added) and goes out with the next smtp_client_session_mem_send();
 * a submitted transaction starts after its reply. Verbs whose replies
 * change what the session tracks are refused: MAIL, RCPT, DATA, BDAT, BURL,
 * RSET, QUIT, STARTTLS, AUTH, HELO, EHLO, LHLO. A reply of 421 ends the
 * session as usual.
 * @param c the session.
 * @param line the command without CRLF (not NUL-terminated); copied.
 * @param len its length, 1 to 510 (RFC 5321 4.5.3.1.4).
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL, empty, a refused verb,
 *         not a verb first); ::SMTP_ERR_BAD_CHAR (CR, LF, NUL or another
 *         control); ::SMTP_ERR_TOO_LONG; ::SMTP_ERR_INVALID_STATE (not at a
 *         safe point); ::SMTP_ERR_CLOSED; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_client_session_command(smtp_client_session *c, const char *line, size_t len);
/**
 * @brief Next queued event (event mode). @p ev's pointers stay valid until
 *        the next smtp_client_session_mem_recv().
 * @param c the session. @param ev receives the event (::SMTP_CLIENT_EVENT_NONE when none).
 * @return 1 when an event was stored, 0 when none is queued.
 */
SMTP_API int smtp_client_session_next_event(smtp_client_session *c, smtp_client_event *ev);
/** @brief The capabilities of the last EHLO/LHLO/HELO.
 *
 *  The session keeps what it acts on and a copy of the keywords' text; the
 *  whole ::smtp_capabilities (about 1.6 KB) is built on the first call after
 *  each EHLO, in an allocation of its own kept until the session is deleted
 *  (in event mode it is part of the session and nothing is allocated here).
 *  @param c the session.
 *  @return the capabilities (valid until the next EHLO or STARTTLS), or NULL
 *          before the first EHLO, after TLS started until the next one, or
 *          when that allocation failed (a later call tries again). */
SMTP_API const smtp_capabilities *smtp_client_session_capabilities(const smtp_client_session *c);
/** @brief The typed values of the last EHLO's keywords (SIZE, AUTH,
 *         MT-PRIORITY profile, DELIVERBY minimum, FUTURERELEASE bounds,
 *         LIMITS, BURL URL types, NO-SOLICITING keywords): what
 *         smtp_capabilities_values() makes of smtp_client_session_capabilities().
 *  @param c the session. @param out receives the values (zeroed first).
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL);
 *          ::SMTP_ERR_INVALID_STATE (no EHLO/LHLO/HELO reply yet, or TLS
 *          started and the new EHLO is not answered yet); ::SMTP_ERR_NOMEM
 *          (the capabilities could not be built). Spans in @p out are valid
 *          until the next EHLO or STARTTLS. */
SMTP_API int smtp_client_session_ehlo_values(const smtp_client_session *c, smtp_ehlo_values *out);
/** @brief The user_data given to smtp_client_session_new() (the pointer every
 *  callback receives), as smtp_server_session_user_data() is for the server.
 *  @param c the session, or NULL.
 *  @return that pointer (owned by the application), or NULL for a NULL @p c. */
SMTP_API void *smtp_client_session_user_data(const smtp_client_session *c);
/** @brief The error the session ended with. @param c the session.
 *  @return 0 while open or after a clean QUIT, else an ::smtp_error. */
SMTP_API int smtp_client_session_error(const smtp_client_session *c);
/** @brief Whether the session is over (CLOSED event delivered).
 *  @param c the session. @return 1 or 0. */
SMTP_API int smtp_client_session_is_closed(const smtp_client_session *c);
/**
 * @brief The SASL mechanisms to try, strongest first, in place of the
 *        built-in order (the SCRAM -PLUS forms SHA-512, SHA-256, SHA-1, then
 *        SCRAM-SHA-512, -256, -1, OAUTHBEARER, XOAUTH2, CRAM-MD5, PLAIN,
 *        LOGIN). The first one the server offers and the credentials allow
 *        is used; EXTERNAL is only ever used when listed here or forced with
 *        smtp_client_options_set_auth_mechanism(). A forced mechanism wins
 *        over this list.
 * @param opt the options.
 * @param mechs ::smtp_sasl_mech bits, one per entry; copied.
 * @param n entries (at most 16); 0 restores the built-in order.
 * @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT (NULL pointers, too many
 *         entries, an entry that is not exactly one mechanism this library
 *         implements).
 */
SMTP_API int smtp_client_options_set_auth_preference(smtp_client_options *opt,
                                                     const unsigned int *mechs, size_t n);

/**
 * @brief Most SCRAM iterations the client accepts from a server (default
 *        100,000; a server asking for more is answered "*", RFC 4954 4, and
 *        AUTH fails with ::SMTP_ERR_AUTH_FAILED). The fewest is always 4096
 *        (RFC 7677 4).
 * @param opt the options. @param n the bound, at least 4096; 0 restores the default.
 * @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_client_options_set_scram_max_iterations(smtp_client_options *opt,
                                                          unsigned int n);

/**
 * @brief Channel-binding data of the TLS connection (RFC 5056), for the
 *        SCRAM -PLUS mechanisms (RFC 5802 6). The TLS layer's owner sets it
 *        after the handshake and before the EHLO that follows it: e.g.
 *        "tls-exporter" (RFC 9266, 32 octets, TLS 1.3) or
 *        "tls-server-end-point" / "tls-unique" (RFC 5929, TLS 1.2).
 *
 * With data set, the client prefers a -PLUS mechanism the server offers and
 * otherwise sends the "y" flag (it supports channel binding but the server
 * does not appear to), which a server that does offer -PLUS must refuse:
 * that is how a downgrade by an attacker who removed the -PLUS names is
 * detected. Without data the client never picks a -PLUS mechanism and
 * sends "n". Forcing a non-PLUS SCRAM mechanism with data set still sends
 * "y". Ignored by sessions without credentials.
 * @param c the session.
 * @param type the channel-binding type name (RFC 5056 7: letters, digits,
 *        "." and "-", at most 31 octets); NULL forgets the data.
 * @param data the bytes (copied; wiped when the session is deleted).
 * @param len 1..128.
 * @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_client_session_set_channel_binding(smtp_client_session *c, const char *type,
                                                     const void *data, size_t len);

/**
 * @brief Add an application mechanism (::smtp_sasl_mechanism) to the client.
 *        Unless a built-in mechanism is forced with
 *        smtp_client_options_set_auth_mechanism(), the first added
 *        mechanism the server offers is used before any built-in one. A
 *        session with added mechanisms authenticates even without
 *        credentials (the mechanism decides what it needs).
 *        smtp_client_session_auth_mechanism() reports 0 for them.
 * @param opt the options.
 * @param m the vtable; copied (the name too); its functions and user_data
 *        must stay valid as long as sessions made from these options live.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT (NULL, another version, a
 *         bad name, no start or step function), ::SMTP_ERR_LIMIT (4 already).
 */
SMTP_API int smtp_client_options_add_sasl_mechanism(smtp_client_options *opt,
                                                    const smtp_sasl_mechanism *m);

/** @brief The mechanism AUTH used. @param c the session.
 *  @return a ::smtp_sasl_mech bit, 0 when none. */
SMTP_API unsigned int smtp_client_session_auth_mechanism(const smtp_client_session *c);
/** @} */

/**
 * @brief Send XCLIENT (Postfix's XCLIENT_README) with these attributes
 *        when the server offers it: once per connection, right after the
 *        first EHLO reply that lists XCLIENT; on the server's 220 the
 *        session sends EHLO again and goes on (STARTTLS, AUTH, the
 *        transactions) as the announced client. A refusal (e.g. 550 5.7.0
 *        from a server that does not trust this client) is not an error:
 *        the session goes on as itself. A server that does not offer
 *        XCLIENT gets nothing.
 * @param opt    the options.
 * @param attrs  the attributes (formatted and checked now, see
 *               smtp_xattrs_format()); NULL removes them.
 * @return 0; the errors of smtp_xattrs_format(); ::SMTP_ERR_TOO_LONG (the
 *         command line would pass 512 octets); ::SMTP_ERR_NOMEM;
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_client_options_set_xclient(smtp_client_options *opt, const smtp_xattrs *attrs);

/**
 * @brief Send XFORWARD (Postfix's XFORWARD_README) with these attributes
 *        when the server offers it: after the last EHLO (after STARTTLS
 *        when it is used, before AUTH and the first transaction), and again
 *        before each later transaction, since the attributes describe one
 *        mail transaction and the server forgets them when it ends. The
 *        reply does not change what the session does next.
 * @param opt    the options.
 * @param attrs  the attributes (formatted and checked now, see
 *               smtp_xattrs_format()); NULL removes them.
 * @return as smtp_client_options_set_xclient().
 */
SMTP_API int smtp_client_options_set_xforward(smtp_client_options *opt, const smtp_xattrs *attrs);

/**
 * @brief Record an endpoint of the connection: ::SMTP_ADDR_CLIENT (this
 *        side) or ::SMTP_ADDR_SERVER (the server). The driver records the
 *        socket's addresses when the session has none; an application doing
 *        its own I/O sets them here.
 * @param c      the session.
 * @param which  ::SMTP_ADDR_CLIENT or ::SMTP_ADDR_SERVER.
 * @param ep     the endpoint (copied), or NULL to forget it.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_client_session_set_addr(smtp_client_session *c, unsigned int which,
                                          const smtp_endpoint *ep);

/**
 * @brief Read an endpoint of the connection.
 * @param c      the session.
 * @param which  ::SMTP_ADDR_CLIENT or ::SMTP_ADDR_SERVER.
 * @param out    filled in; family ::SMTP_AF_NONE when unknown.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_client_session_addr(const smtp_client_session *c, unsigned int which,
                                      smtp_endpoint *out);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_CLIENT_H */
