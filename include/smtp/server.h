/**
 * @file server.h
 * @brief The server session: a callback-driven, sans-I/O SMTP (RFC 5321) and
 *        LMTP (RFC 2033) server state machine.
 *
 * The session never reads a socket, a clock or a file. The transport hands
 * it the bytes it received (smtp_server_session_mem_recv()), takes the bytes
 * it must send (smtp_server_session_mem_send() and
 * smtp_server_session_mem_consume()), measures time against
 * smtp_server_session_timeout_ms(), and performs the TLS handshake when
 * smtp_server_session_want_tls() says so. The application learns about the
 * conversation through callbacks and answers each event at once or later.
 *
 * @section server_order Callback order
 *
 * Callbacks fire only from inside smtp_server_session_mem_recv(),
 * smtp_server_session_mem_send(), smtp_server_session_mem_consume(),
 * smtp_server_session_reply() (and its AUTH variants) and
 * smtp_server_session_tls_started(); never from another thread and never
 * nested, except that the trace callback fires from inside any of them.
 *
 *  1. connect: once, on the first mem_send() or mem_recv(). Its answer is the
 *     greeting (default 220; 554 or 521 refuse service, after which every
 *     command but QUIT gets 503 or 521; 421 closes).
 *  2. For each complete command line, in the order received (RFC 2920):
 *     trace (SMTP_SERVER_TRACE_IN), then at most one of ehlo (HELO, EHLO,
 *     LHLO), mail, rcpt, data_start (DATA), rset, vrfy, expn, help, noop,
 *     quit, starttls, auth / auth_step, etrn, burl, unknown_command; MAIL
 *     and RCPT first fire param once for each parameter the session does not
 *     handle (before mail / rcpt). A command refused by the session itself
 *     (sequence, syntax, limits, policy) fires no event callback; its reply
 *     goes out at once.
 *  3. The next command is not looked at until the previous one has its
 *     reply: a callback that returns ::SMTP_ERR_DEFERRED stops the session
 *     until smtp_server_session_reply(); the unconsumed bytes stay with the
 *     caller (mem_recv() returns fewer bytes than given).
 *  4. DATA accepted with 354: data_chunk zero or more times with unstuffed
 *     message bytes, then data_end once (SMTP) or once per accepted
 *     recipient in RCPT order (LMTP, RFC 2033 4.2).
 *  5. BDAT (RFC 3030): the first BDAT of a transaction fires data_start,
 *     then every chunk's bytes go to data_chunk as they arrive (counted,
 *     never scanned); the end of each chunk but the last fires bdat_chunk
 *     (when set); BDAT ... LAST ends with data_end as in 4.
 *  6. AUTH: auth (PLAIN and LOGIN, once the credentials are complete) or
 *     auth_step (every other mechanism, once per client response).
 *  7. STARTTLS answered 220: nothing more until
 *     smtp_server_session_tls_started(); every byte received in between is
 *     discarded.
 *  8. trace (SMTP_SERVER_TRACE_OUT) for every reply line as it is queued.
 *
 * @section server_answers Answering
 *
 * An event callback returns:
 * - 0: accepted; the reply is the one set with smtp_server_session_reply()
 *   inside the callback, or the default for the event;
 * - ::SMTP_ERR_CALLBACK_REFUSED: refused with the event's default refusal
 *   (given with each callback type) unless a reply was set;
 * - ::SMTP_ERR_DEFERRED: the application answers later with
 *   smtp_server_session_reply() (or, for AUTH steps,
 *   smtp_server_session_auth_challenge() / smtp_server_session_auth_accept());
 * - ::SMTP_ERR_PAUSE (data_chunk only): stop mem_recv() now; the chunk was
 *   taken;
 * - ::SMTP_ERR_CALLBACK_FAILURE or any other value: fatal; the session is
 *   unusable and every later call returns ::SMTP_ERR_CALLBACK_FAILURE.
 *
 * The effect of a command (a new reverse-path, one more recipient, the
 * start of DATA, a successful AUTH) takes place when and only when its
 * answer is positive: 2yz (354 for DATA, 235 for AUTH).
 *
 * @section server_loop A blocking drive loop
 *
 * @code
 * smtp_server_session *s;
 * char in[4096]; size_t have = 0;
 * if (smtp_server_session_new(&s, cbs, app, opts, NULL) != 0) return -1;
 * for (;;) {
 *   const char *out;
 *   smtp_ssize n;
 *   while ((n = smtp_server_session_mem_send(s, &out)) > 0) {
 *     ssize_t w = write(fd, out, (size_t)n);
 *     if (w <= 0) goto done;
 *     smtp_server_session_mem_consume(s, (size_t)w);
 *   }
 *   if (n < 0 || smtp_server_session_want_close(s)) break;
 *   if (smtp_server_session_want_tls(s)) { start_tls(fd); smtp_server_session_tls_started(s, &info); continue; }
 *   if (have > 0 && smtp_server_session_want_read(s)) {   // retry what was left
 *     n = smtp_server_session_mem_recv(s, in, have);
 *     if (n < 0) break;
 *     memmove(in, in + n, have - (size_t)n); have -= (size_t)n;
 *     if (n > 0) continue;
 *   }
 *   if (!smtp_server_session_want_read(s)) continue;       // a deferred answer is pending
 *   ssize_t r = read(fd, in + have, sizeof in - have);  // with smtp_server_session_timeout_ms()
 *   if (r <= 0) break;
 *   have += (size_t)r;
 * }
 * done:
 * smtp_server_session_del(s);
 * @endcode
 */
#ifndef SMTP_SERVER_H
#define SMTP_SERVER_H

#include <smtp/common.h>
#include <smtp/address.h>
#include <smtp/data.h>
#include <smtp/endpoint.h>
#include <smtp/xclient.h>
#include <smtp/ext.h>
#include <smtp/reply.h>
#include <smtp/sasl.h>
#include <smtp/features.h>

#if SMTP_HAVE_SERVER

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A server session (opaque). One per connection. */
typedef struct smtp_server_session smtp_server_session;

/** @brief The set of callbacks a session calls (opaque; copied by the session). */
typedef struct smtp_server_callbacks smtp_server_callbacks;

/** @brief Session options (opaque; copied by the session). */
typedef struct smtp_server_options smtp_server_options;

/* ------------------------------------------------------------------------ */
/** @name Event descriptions handed to callbacks
 *  Every span points into the session or into the bytes given to
 *  smtp_server_session_mem_recv() and is valid only during the callback.
 *  Copy what you keep. New fields are only ever appended.
 *  @{ */

/** @brief HELO, EHLO or LHLO (RFC 5321 4.1.1.1, RFC 2033 4.1). */
typedef struct smtp_server_helo {
  int verb;        /**< ::SMTP_VERB_HELO, ::SMTP_VERB_EHLO or ::SMTP_VERB_LHLO. */
  smtp_span name;  /**< The argument as sent: a Domain or an address literal (validated). */
  int name_kind;   /**< ::smtp_domain_kind of @ref name. */
} smtp_server_helo;

/* BODY=, RET= and NOTIFY= values: ::smtp_body_type, ::smtp_dsn_ret and
 * ::smtp_dsn_notify in ext.h, shared with the client. */

/** @brief MAIL FROM (RFC 5321 4.1.1.2) with its parameters, decoded and validated. */
typedef struct smtp_server_mail {
  const smtp_path *path; /**< The reverse-path; path->is_null for the null path `<>`. */
  smtp_span params;      /**< All parameter text as sent (already checked). */
  uint64_t size;         /**< SIZE= value (RFC 1870), when @ref has_size. */
  int has_size;          /**< 1 when SIZE= was given. */
  int body;              /**< ::smtp_body_type */
  int smtputf8;          /**< 1 with the SMTPUTF8 parameter (RFC 6531 3.4). */
  int requiretls;        /**< 1 with REQUIRETLS (RFC 8689 4; only accepted under TLS). */
  int ret;               /**< ::smtp_dsn_ret (RFC 3461 4.3). */
  smtp_span envid;       /**< ENVID, xtext-decoded, printable ASCII (RFC 3461 4.4). */
  int has_envid;         /**< 1 when ENVID= was given. */
  smtp_span auth;        /**< AUTH= value xtext-decoded (RFC 4954 5), e.g. `<>` or a mailbox. */
  int has_auth;          /**< 1 when AUTH= was given. */
  int has_mt_priority;   /**< 1 when MT-PRIORITY= was given (RFC 6710). */
  int mt_priority;       /**< Its value, -9 to 9 (RFC 6710 7). */
  int has_by;            /**< 1 when BY= was given (RFC 2852 4). */
  int by_time;           /**< by-time in seconds, -999999999 to 999999999 (positive with 'R'). */
  int by_mode;           /**< 'N' (notify) or 'R' (return). */
  int by_trace;          /**< 1 with the trace modifier "T". */
  int has_hold_for;      /**< 1 when HOLDFOR= was given (RFC 4865 4). */
  unsigned int hold_for; /**< Seconds to hold the message, 1 to 999999999. */
  int has_hold_until;    /**< 1 when HOLDUNTIL= was given (RFC 4865 4). */
  int64_t hold_until;    /**< Release time, seconds since 1970-01-01T00:00:00Z. */
  smtp_span hold_until_text; /**< HOLDUNTIL date-time as sent (RFC 3339 5.6). */
  int has_solicit;       /**< 1 when SOLICIT= was given (RFC 3865). */
  smtp_span solicit;     /**< The solicitation keywords as sent (comma-separated). */
  int has_mtrk;          /**< 1 when MTRK= was given (RFC 3885). */
  smtp_span mtrk_certifier; /**< MTRK certifier as sent. */
  unsigned int mtrk_timeout; /**< MTRK timeout in seconds; 0 when absent. */
  int has_submitter;     /**< 1 when SUBMITTER= was given (RFC 4405). */
  smtp_span submitter;   /**< The responsible submitter, xtext-decoded (a validated Mailbox). */
} smtp_server_mail;

/** @brief RCPT TO (RFC 5321 4.1.1.3) with its parameters. */
typedef struct smtp_server_rcpt {
  const smtp_path *path; /**< The forward-path; path->is_postmaster for `<Postmaster>`. */
  smtp_span params;      /**< All parameter text as sent. */
  unsigned int notify;   /**< ::smtp_dsn_notify bits; 0 when absent (RFC 3461 4.1). */
  smtp_span orcpt_type;  /**< ORCPT addr-type, e.g. "rfc822" (RFC 3461 4.2). */
  smtp_span orcpt;       /**< ORCPT address, xtext-decoded and validated. */
  int has_orcpt;         /**< 1 when ORCPT= was given. */
  unsigned int index;    /**< The index this recipient gets when accepted: the number of
                              recipients accepted so far in this transaction. LMTP data_end
                              reports the same index. */
  int has_rrvs;          /**< 1 when RRVS= was given (RFC 7293 3.1). */
  int64_t rrvs_time;     /**< The RRVS date-time in seconds since 1970-01-01T00:00:00Z. */
  int rrvs_mode;         /**< 'C' (continue) or 'R' (reject) when given, else 0. */
  smtp_span rrvs_text;   /**< The date-time as sent (without ";C" / ";R"). */
} smtp_server_rcpt;

/** @brief A MAIL or RCPT parameter the session does not implement (or one of
 *  an extension that is not enabled), handed to ::smtp_server_on_param. */
typedef struct smtp_server_param {
  int verb;              /**< ::SMTP_VERB_MAIL or ::SMTP_VERB_RCPT. */
  smtp_span keyword;     /**< esmtp-keyword as sent (RFC 5321 4.1.2). */
  smtp_span value;       /**< esmtp-value as sent (not decoded); empty without "=". */
  int has_value;         /**< 1 when "=" was present. */
} smtp_server_param;

/** @brief ETRN (RFC 1985 5): the node whose queue the client asks to start. */
typedef struct smtp_server_etrn {
  smtp_span node;        /**< The node name without the option character. */
  int option;            /**< 0, '@' (the domain and its subdomains) or '#' (a queue name). */
} smtp_server_etrn;

/** @brief BURL (RFC 4468 3): message content to fetch from a URL. */
typedef struct smtp_server_burl {
  smtp_span url;         /**< The URL as sent (validated: printable ASCII, no SP). */
  int last;              /**< 1 when "LAST" followed: the message ends with this part. */
} smtp_server_burl;

/** @brief End of message data (after CRLF "." CRLF, or after BDAT ... LAST). */
typedef struct smtp_server_data_end {
  uint64_t size;      /**< Message octets received: unstuffed for DATA, chunk octets for BDAT. */
  unsigned int seen;  /**< ::smtp_data_seen bits (DATA only; BDAT content is never scanned). */
  int refused;        /**< 0, or why the session refuses the message itself and already chose
                           the reply: ::SMTP_ERR_MESSAGE_TOO_BIG (552 5.3.4),
                           ::SMTP_ERR_BARE_LF / ::SMTP_ERR_BARE_CR (550 5.6.0),
                           ::SMTP_ERR_NUL (554 5.6.0), ::SMTP_ERR_LINE_TOO_LONG (554
                           5.6.0, with smtp_server_options_set_reject_long_lines()),
                           ::SMTP_ERR_CALLBACK_REFUSED (a
                           data_chunk callback refused: 451 4.3.0). When non-zero the
                           callback's return value and answer are ignored: discard the
                           message. */
  int rcpt_index;     /**< LMTP: the recipient this reply is for (see smtp_server_rcpt::index);
                           SMTP: -1. */
  int bdat;           /**< 1 when the message came by BDAT. */
} smtp_server_data_end;

/** @brief Credentials of a PLAIN (RFC 4616) or LOGIN exchange, decoded.
 *
 * They are given as the client sent them. RFC 4616 section 2 leaves their
 * preparation to the verifier (SASLprep recommended, not required; the
 * client sends them unprepared): to compare them with a prepared database,
 * prepare them with smtp_sasl_saslprep() and ::SMTP_SASLPREP_QUERY first. */
typedef struct smtp_server_auth {
  unsigned int mech;  /**< ::SMTP_SASL_PLAIN or ::SMTP_SASL_LOGIN. */
  smtp_span authzid;  /**< Authorization identity; empty when none. With the default
                           ::SMTP_SERVER_AUTHZID_SAME policy it is empty or equal to authcid. */
  smtp_span authcid;  /**< Authentication identity (user name), UTF-8. */
  smtp_span password; /**< Password. Never log it. */
} smtp_server_auth;

/** @brief One step of another SASL mechanism (SCRAM, XOAUTH2, ...). */
typedef struct smtp_server_auth_step {
  unsigned int mech;     /**< ::smtp_sasl_mech flag. */
  const char *mech_name; /**< Its canonical name (static string). */
  unsigned int step;     /**< 0 for the AUTH command itself, then 1, 2, ... per client line. */
  smtp_span response;    /**< The client's response, base64-decoded (may be empty). */
  int has_response;      /**< 0 at step 0 when AUTH carried no initial response. */
} smtp_server_auth_step;

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Callbacks
 *  Session first, user_data last. Unset callbacks take the default answer.
 *  @{ */

/** @brief Connection start; the answer is the greeting. Default:
 *  `220 <hostname> ESMTP Service ready` (LMTP: `LMTP` instead of `ESMTP`);
 *  ::SMTP_ERR_CALLBACK_REFUSED gives `554 No SMTP service here` (RFC 5321
 *  3.1). A greeting never carries an enhanced code (RFC 2034 3).
 *  @param s the session.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal (see @ref server_answers). */
typedef int (*smtp_server_on_connect)(smtp_server_session *s, void *user_data);
/** @brief HELO/EHLO/LHLO with a valid argument. A 2yz answer always sends
 *  the session's own reply (the extension list for EHLO/LHLO); refuse with
 *  e.g. 550. ::SMTP_ERR_CALLBACK_REFUSED gives 550 5.7.1.
 *  @param s the session.
 *  @param helo the command; it and its spans are valid during the call only.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_ehlo)(smtp_server_session *s, const smtp_server_helo *helo,
                                   void *user_data);
/** @brief MAIL FROM accepted by the session's checks. Default 250 2.1.0;
 *  ::SMTP_ERR_CALLBACK_REFUSED gives 550 5.7.1.
 *  @param s the session.
 *  @param mail the command; it, its path and its spans are valid during the
 *         call only (smtp_server_session_reverse_path() keeps the address
 *         once accepted).
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_mail)(smtp_server_session *s, const smtp_server_mail *mail,
                                   void *user_data);
/** @brief RCPT TO accepted by the session's checks (including the recipient
 *  limit). Default 250 2.1.5; ::SMTP_ERR_CALLBACK_REFUSED gives 550 5.1.1.
 *  RFC 5321 4.5.1: accept `<Postmaster>` (no domain).
 *  @param s the session.
 *  @param rcpt the command; it, its path and its spans are valid during the
 *         call only. Copy the recipient to keep it.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_rcpt)(smtp_server_session *s, const smtp_server_rcpt *rcpt,
                                   void *user_data);
/** @brief DATA (or the first BDAT) of a transaction with recipients. Default
 *  354 for DATA, nothing for BDAT; ::SMTP_ERR_CALLBACK_REFUSED gives 554 5.6.0.
 *  smtp_server_session_flags() tells DATA from BDAT (::SMTP_SERVER_FLAG_BDAT).
 *  @param s the session.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_data_start)(smtp_server_session *s, void *user_data);
/** @brief Message bytes, unstuffed (DATA) or raw (BDAT), in order; @p data is
 *  valid during the call only. Return 0, ::SMTP_ERR_PAUSE, or
 *  ::SMTP_ERR_CALLBACK_REFUSED (the message will be refused with 451 4.3.0
 *  at its end; no more chunks come). No answer is given here:
 *  smtp_server_session_reply() fails with ::SMTP_ERR_INVALID_STATE.
 *  @param s the session.
 *  @param data the next message bytes (not NUL-terminated), pointing into
 *         the bytes given to smtp_server_session_mem_recv() or into the
 *         session; valid during the call only.
 *  @param len their number, at least 1.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_PAUSE (the chunk was taken; mem_recv() returns
 *          now), ::SMTP_ERR_CALLBACK_REFUSED; any other value is fatal. */
typedef int (*smtp_server_on_data_chunk)(smtp_server_session *s, const char *data, size_t len,
                                         void *user_data);
/** @brief End of the message. Default 250 2.0.0; ::SMTP_ERR_CALLBACK_REFUSED
 *  gives 554 5.6.0. LMTP: once per accepted recipient (rcpt_index).
 *  @param s the session.
 *  @param end what arrived; valid during the call only. When
 *         smtp_server_data_end::refused is non-zero the session has chosen
 *         the reply and the return value is ignored.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_data_end)(smtp_server_session *s, const smtp_server_data_end *end,
                                       void *user_data);
/** @brief RSET (RFC 5321 4.1.1.5); the transaction is reset on a 2yz answer
 *  (the default, 250 2.0.0).
 *  @param s the session.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED (550 5.7.1), ::SMTP_ERR_DEFERRED;
 *          any other value is fatal. */
typedef int (*smtp_server_on_rset)(smtp_server_session *s, void *user_data);
/** @brief VRFY with its argument (RFC 5321 3.5.3). Default 252 2.5.0;
 *  ::SMTP_ERR_CALLBACK_REFUSED gives 550 5.1.1.
 *  @param s the session.
 *  @param arg the argument as sent (not NUL-terminated); valid during the
 *         call only.
 *  @param len its length.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_vrfy)(smtp_server_session *s, const char *arg, size_t len,
                                   void *user_data);
/** @brief EXPN with its argument (RFC 5321 3.5.2). Default 502 5.5.1, also
 *  for ::SMTP_ERR_CALLBACK_REFUSED.
 *  @param s the session.
 *  @param arg the argument as sent (not NUL-terminated); valid during the
 *         call only.
 *  @param len its length.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_expn)(smtp_server_session *s, const char *arg, size_t len,
                                   void *user_data);
/** @brief HELP with its optional argument (RFC 5321 4.1.1.8). Default
 *  214 2.0.0; ::SMTP_ERR_CALLBACK_REFUSED gives 550 5.7.1.
 *  @param s the session.
 *  @param arg the argument as sent (not NUL-terminated), valid during the
 *         call only; empty when none was given.
 *  @param len its length (0 when none).
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_help)(smtp_server_session *s, const char *arg, size_t len,
                                   void *user_data);
/** @brief NOOP (RFC 5321 4.1.1.9). Default 250 2.0.0;
 *  ::SMTP_ERR_CALLBACK_REFUSED gives 550 5.7.1.
 *  @param s the session.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_noop)(smtp_server_session *s, void *user_data);
/** @brief QUIT (RFC 5321 4.1.1.10). Default `221 2.0.0 <hostname> Bye`, also
 *  for ::SMTP_ERR_CALLBACK_REFUSED; the session closes after a positive
 *  (2yz) answer.
 *  @param s the session.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_quit)(smtp_server_session *s, void *user_data);
/** @brief A verb the session does not implement (XCLIENT, ETRN, ...), or a
 *  syntactically valid line with an unknown verb. Default 500 5.5.2 (502 5.5.1
 *  for ETRN), also for ::SMTP_ERR_CALLBACK_REFUSED; counts as an error unless
 *  answered 2yz/3yz.
 *  @param s the session.
 *  @param cmd the parsed line; it and its spans are valid during the call only.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_unknown_command)(smtp_server_session *s, const smtp_command *cmd,
                                              void *user_data);
/** @brief PLAIN or LOGIN credentials. 0 accepts (235 2.7.0); the
 *  authenticated identity (smtp_server_session_auth_user()) is then authzid
 *  when non-empty, else authcid, unless the callback answered with
 *  smtp_server_session_auth_accept(). ::SMTP_ERR_CALLBACK_REFUSED gives
 *  535 5.7.8.
 *  @param s the session.
 *  @param auth the decoded credentials; they point into the session, which
 *         wipes them when the exchange ends: valid during the call only.
 *         Never log the password.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_auth)(smtp_server_session *s, const smtp_server_auth *auth,
                                   void *user_data);
/** @brief A step of a mechanism other than PLAIN/LOGIN (or of PLAIN/LOGIN when
 *  no auth callback is set). Answer with smtp_server_session_auth_challenge()
 *  (another step follows), smtp_server_session_auth_accept() (235), or a
 *  failure through smtp_server_session_reply() / ::SMTP_ERR_CALLBACK_REFUSED
 *  (535 5.7.8). Returning 0 without an answer is refused with 454 4.7.0.
 *  @param s the session.
 *  @param step the mechanism and the client's decoded response; valid during
 *         the call only (mech_name is static).
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0 (after answering), ::SMTP_ERR_CALLBACK_REFUSED,
 *          ::SMTP_ERR_DEFERRED; any other value is fatal. */
typedef int (*smtp_server_on_auth_step)(smtp_server_session *s,
                                        const smtp_server_auth_step *step, void *user_data);
/** @brief STARTTLS about to be accepted (default 220 2.0.0). Refuse with
 *  454 4.7.0 (::SMTP_ERR_CALLBACK_REFUSED). Do not defer this one unless your
 *  transport discards the bytes it holds when smtp_server_session_want_tls()
 *  becomes 1 (RFC 3207 5).
 *  @param s the session.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_starttls)(smtp_server_session *s, void *user_data);

/** @brief A MAIL/RCPT parameter the session does not handle itself (see
 *  ::smtp_server_param). Called while the command is checked, before the
 *  mail or rcpt callback; once per such parameter. Return 0 to accept it
 *  (the application reads it from smtp_server_mail::params or
 *  smtp_server_rcpt::params), ::SMTP_ERR_CALLBACK_REFUSED for the default
 *  refusal 555 5.5.4 (RFC 5321 4.1.1.11), or call smtp_server_session_reply()
 *  with a 4yz or 5yz reply of your choice and return 0. Without this
 *  callback every such parameter gets 555 5.5.4. No deferral.
 *  @param s the session.
 *  @param p the parameter; valid during the call only.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED; any other value is fatal. */
typedef int (*smtp_server_on_param)(smtp_server_session *s, const smtp_server_param *p,
                                    void *user_data);
/** @brief ETRN (RFC 1985), when ::SMTP_EXT_ETRN is enabled; outside a
 *  transaction only (RFC 1985 5: 503 inside one). Answer with one of RFC 1985
 *  5's codes through smtp_server_session_reply() (250, 251, 252, 253, 458,
 *  459); the default is `250 2.0.0 Queuing started`, ::SMTP_ERR_CALLBACK_REFUSED
 *  gives `458 4.3.0 Unable to queue messages`. With this callback but
 *  without ::SMTP_EXT_ETRN enabled, ETRN gets 502 5.5.1. Without this
 *  callback ETRN is not offered and goes to the unknown-command callback as
 *  before (default 502 5.5.1).
 *  @param s the session.
 *  @param etrn the request; valid during the call only.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_etrn)(smtp_server_session *s, const smtp_server_etrn *etrn,
                                   void *user_data);
/** @brief BURL (RFC 4468), when ::SMTP_EXT_BURL is enabled, inside a
 *  transaction with recipients (else 503). The session does not fetch: the
 *  application does, and answers. Default `554 5.6.6 Content fetch not
 *  supported`; on a 2yz answer to a BURL with LAST the transaction ends (as
 *  after data). With this callback but without ::SMTP_EXT_BURL enabled,
 *  BURL gets 502 5.5.1; without this callback BURL is not offered and is an
 *  unknown verb (the unknown-command callback, default 500 5.5.2).
 *  @param s the session.
 *  @param burl the request; valid during the call only.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_burl)(smtp_server_session *s, const smtp_server_burl *burl,
                                   void *user_data);

/** @brief The end of one BDAT chunk that is not the last (RFC 3030 2):
 *  all of its octets arrived (and went to data_chunk). The answer is the
 *  chunk's reply, sent after its data as RFC 3030 2 requires. Default
 *  `250 2.0.0 N octets received`; ::SMTP_ERR_CALLBACK_REFUSED gives 554 5.6.0.
 *  A 2yz answer (any text) accepts the chunk; a 4yz or 5yz answer fails it,
 *  and with it the transaction (RFC 3030 2: the client "MUST NOT send any
 *  additional BDAT segments" and "A RSET command MUST be issued"): data_end
 *  does not fire for that message; chunks the client had already pipelined
 *  behind it are read and discarded, each answered 503 5.5.1 (not counted as
 *  errors), until RSET or a BDAT ... LAST, which ends the failed transaction;
 *  DATA, MAIL and RCPT get 503 until then. 421 closes the session.
 *
 *  Answer it like any event: smtp_server_session_reply() inside the
 *  callback, or later after ::SMTP_ERR_DEFERRED (no input is taken
 *  meanwhile; the chunk's octets were all taken). Not fired: for the LAST
 *  chunk (its reply is the end-of-data reply: data_end), for a chunk the
 *  session refused itself (size limit, a data_chunk refusal, a chunk of a
 *  failed transaction: their reply is the session's), for a first chunk of
 *  size 0 (`BDAT 0` without LAST, answered 250 right after data_start).
 *  Without this callback every such chunk gets the default.
 *  @param s the session (smtp_server_session_flags() has
 *         ::SMTP_SERVER_FLAG_BDAT).
 *  @param size the chunk's size in octets, as its BDAT command gave it.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0, ::SMTP_ERR_CALLBACK_REFUSED, ::SMTP_ERR_DEFERRED; any other
 *          value is fatal. */
typedef int (*smtp_server_on_bdat_chunk)(smtp_server_session *s, uint64_t size,
                                         void *user_data);

/** @brief Direction of a trace line. */
typedef enum smtp_server_trace_dir {
  SMTP_SERVER_TRACE_IN = 0, /**< A command line from the client (without CRLF). */
  SMTP_SERVER_TRACE_OUT = 1 /**< A reply line to the client (without CRLF). */
} smtp_server_trace_dir;

/** @brief Protocol trace: one line at a time, without CRLF; message data is
 *  not traced. AUTH initial responses and SASL client lines appear as `***`
 *  (redacted). The text is raw: command lines are the client's bytes
 *  unchanged (control bytes, escape sequences, invalid UTF-8 included);
 *  pass them through smtp_escape_text() before they reach a terminal or a
 *  log. The return value is ignored. It may fire from inside any
 *  other callback; do not call smtp_server_session_reply() from it.
 *  @param s the session.
 *  @param dir an ::smtp_server_trace_dir.
 *  @param line the line without CRLF (not NUL-terminated); valid during the
 *         call only.
 *  @param len its length.
 *  @param user_data as given to smtp_server_session_new().
 *  @return ignored. */
typedef int (*smtp_server_on_trace)(smtp_server_session *s, int dir, const char *line,
                                    size_t len, void *user_data);

/**
 * @brief Allocate an empty callbacks object (every callback unset).
 * @param out set to the new object, or NULL on failure; the caller owns it
 *        and frees it with smtp_server_callbacks_del().
 * @param mem allocator, or NULL for smtp_mem_default(); copied and kept for
 *        smtp_server_callbacks_del().
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, or an
 *         allocator without malloc or free); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_server_callbacks_new(smtp_server_callbacks **out, const smtp_mem *mem);
/** @brief Free a callbacks object; NULL does nothing. Sessions made from it
 *  keep their own copy, so it may be freed right after
 *  smtp_server_session_new().
 *  @param cb the object, or NULL. */
SMTP_API void smtp_server_callbacks_del(smtp_server_callbacks *cb);
/** @brief Set the connect (greeting) callback (::smtp_server_on_connect).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_connect(smtp_server_callbacks *cb, smtp_server_on_connect f);
/** @brief Set the HELO/EHLO/LHLO callback (::smtp_server_on_ehlo).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_ehlo(smtp_server_callbacks *cb, smtp_server_on_ehlo f);
/** @brief Set the MAIL callback (::smtp_server_on_mail).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_mail(smtp_server_callbacks *cb, smtp_server_on_mail f);
/** @brief Set the RCPT callback (::smtp_server_on_rcpt).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_rcpt(smtp_server_callbacks *cb, smtp_server_on_rcpt f);
/** @brief Set the data start callback (DATA and first BDAT;
 *  ::smtp_server_on_data_start).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_data_start(smtp_server_callbacks *cb,
                                                   smtp_server_on_data_start f);
/** @brief Set the data chunk callback (::smtp_server_on_data_chunk). Unset,
 *  message bytes are counted and dropped.
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_data_chunk(smtp_server_callbacks *cb,
                                                   smtp_server_on_data_chunk f);
/** @brief Set the data end callback (::smtp_server_on_data_end).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_data_end(smtp_server_callbacks *cb,
                                                 smtp_server_on_data_end f);
/** @brief Set the RSET callback (::smtp_server_on_rset).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_rset(smtp_server_callbacks *cb, smtp_server_on_rset f);
/** @brief Set the VRFY callback (::smtp_server_on_vrfy).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_vrfy(smtp_server_callbacks *cb, smtp_server_on_vrfy f);
/** @brief Set the EXPN callback (::smtp_server_on_expn).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_expn(smtp_server_callbacks *cb, smtp_server_on_expn f);
/** @brief Set the HELP callback (::smtp_server_on_help).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_help(smtp_server_callbacks *cb, smtp_server_on_help f);
/** @brief Set the NOOP callback (::smtp_server_on_noop).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_noop(smtp_server_callbacks *cb, smtp_server_on_noop f);
/** @brief Set the QUIT callback (::smtp_server_on_quit).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_quit(smtp_server_callbacks *cb, smtp_server_on_quit f);
/** @brief Set the unknown-command callback (::smtp_server_on_unknown_command).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_unknown_command(smtp_server_callbacks *cb,
                                                        smtp_server_on_unknown_command f);
/** @brief Set the PLAIN/LOGIN credentials callback (::smtp_server_on_auth;
 *  enables those mechanisms).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_auth(smtp_server_callbacks *cb, smtp_server_on_auth f);
/** @brief Set the SASL step callback (::smtp_server_on_auth_step; enables the
 *  other mechanisms set with smtp_server_options_set_auth_mechs()).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_auth_step(smtp_server_callbacks *cb,
                                                  smtp_server_on_auth_step f);
/** @brief Set the STARTTLS callback (::smtp_server_on_starttls). Unset,
 *  STARTTLS is accepted whenever it is offered.
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_starttls(smtp_server_callbacks *cb,
                                                 smtp_server_on_starttls f);
/** @brief Set the trace callback (::smtp_server_on_trace).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (default answers). */
SMTP_API void smtp_server_callbacks_set_trace(smtp_server_callbacks *cb, smtp_server_on_trace f);
/** @brief Set the parameter callback (::smtp_server_on_param).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (555 5.5.4 for every unknown parameter). */
SMTP_API void smtp_server_callbacks_set_param(smtp_server_callbacks *cb, smtp_server_on_param f);
/** @brief Set the ETRN callback (::smtp_server_on_etrn).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it. */
SMTP_API void smtp_server_callbacks_set_etrn(smtp_server_callbacks *cb, smtp_server_on_etrn f);
/** @brief Set the BURL callback (::smtp_server_on_burl).
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it. */
SMTP_API void smtp_server_callbacks_set_burl(smtp_server_callbacks *cb, smtp_server_on_burl f);
/** @brief Set the BDAT chunk callback (::smtp_server_on_bdat_chunk): answer
 *  each BDAT chunk but the last yourself.
 *  @param cb the callbacks object; NULL does nothing.
 *  @param f the callback, or NULL to unset it (every chunk gets
 *         `250 2.0.0 N octets received`). */
SMTP_API void smtp_server_callbacks_set_bdat_chunk(smtp_server_callbacks *cb,
                                                   smtp_server_on_bdat_chunk f);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Options
 *  Every setter returns ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT (NULL object
 *  or a value out of range; the option is then unchanged).
 *  @{ */

/** @brief Bare CR / bare LF policy for message data (RFC 5321 2.3.8). */
typedef enum smtp_server_bare_policy {
  /** Default: a message holding a bare CR or LF is refused after its end
   *  with 550 5.6.0; the session goes on. */
  SMTP_SERVER_BARE_REJECT = 0,
  /** Accept such messages; the bytes are passed on unchanged. Risky: a
   *  downstream hop may read them as line ends. End of data is still only
   *  CRLF "." CRLF. Command lines always need CRLF whatever the policy. */
  SMTP_SERVER_BARE_ACCEPT = 1
} smtp_server_bare_policy;

/** @brief Authorization identity policy for PLAIN (RFC 4616 2). */
typedef enum smtp_server_authzid_policy {
  /** Default: an authzid other than empty or the authcid itself is refused
   *  (535 5.7.8) before the auth callback runs. */
  SMTP_SERVER_AUTHZID_SAME = 0,
  /** Pass any authzid to the auth callback, which decides. */
  SMTP_SERVER_AUTHZID_ANY = 1
} smtp_server_authzid_policy;

/** Default extensions: PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES,
 *  CHUNKING, BINARYMIME, SMTPUTF8, LIMITS. STARTTLS and AUTH are added by
 *  the session when TLS / an auth callback is available. */
#define SMTP_SERVER_DEFAULT_EXTENSIONS                                                    \
  (SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_ENHANCEDSTATUSCODES | \
   SMTP_EXT_CHUNKING | SMTP_EXT_BINARYMIME | SMTP_EXT_SMTPUTF8 | SMTP_EXT_LIMITS)

/**
 * @brief Allocate options holding the defaults.
 * @param out set to the new options, or NULL on failure; the caller owns
 *        them and frees them with smtp_server_options_del().
 * @param mem allocator, or NULL for smtp_mem_default(); copied and kept for
 *        smtp_server_options_del().
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, or an
 *         allocator without malloc or free); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_server_options_new(smtp_server_options **out, const smtp_mem *mem);
/** @brief Free options; NULL does nothing. Sessions keep their own copy, so
 *  the options may be freed right after smtp_server_session_new().
 *  @param o the options, or NULL. */
SMTP_API void smtp_server_options_del(smtp_server_options *o);
/** @brief The server's name in the greeting, EHLO reply and 221/421 (a Domain
 *  or address literal, at most 255 octets; copied). Default "localhost".
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param hostname NUL-terminated; copied, not kept.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p hostname, empty,
 *          over 255 octets, or not an ASCII Domain or address literal as in
 *          RFC 5321 4.1.2); the option is then unchanged. */
SMTP_API int smtp_server_options_set_hostname(smtp_server_options *o, const char *hostname);
/** @brief Longest command line including CRLF, 512..65536. Default 512
 *  (RFC 5321 4.5.3.1.4). MAIL and RCPT get the extra room their extensions
 *  need (RFC 5321 4.5.3.1.4; RFC 1870, 3461, 4954, 6531 say how much).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param n octets, CRLF included, 512..65536.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p n out of range). */
SMTP_API int smtp_server_options_set_max_command_line(smtp_server_options *o, size_t n);
/** @brief Input buffer size, 1024..65536 (default 1280): bounds SASL lines
 *  (RFC 4954 4: longer gives 500 5.5.6; the default holds the largest PLAIN
 *  response of RFC 4616; raise it for XOAUTH2/OAUTHBEARER tokens) and the
 *  size of DATA chunks. It is raised to fit MAIL/RCPT lines with the
 *  parameters of the offered extensions and, when DSN is offered or an
 *  auth or auth_step callback is set, the decoded values of their ENVID,
 *  AUTH= and ORCPT parameters as well (the buffer doubles as the scratch
 *  area of the command being run).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param n octets, 1024..65536.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p n out of range). */
SMTP_API int smtp_server_options_set_input_buffer(smtp_server_options *o, size_t n);
/** @brief Output buffer size, 1024..65536 (default 1024). The session stops
 *  reading commands while more than half of it is pending (backpressure);
 *  one reply may be at most half of it (an application's reply at most half
 *  less 96 octets, 416 octets by default: see smtp_server_session_reply();
 *  raise this for longer multi-line replies). It is raised so that half of
 *  it holds the longest EHLO reply the session may send (every extension
 *  it may offer with the configured host name, limits and mechanisms).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param n octets, 1024..65536.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p n out of range). */
SMTP_API int smtp_server_options_set_output_buffer(smtp_server_options *o, size_t n);
/** @brief Recipients per transaction, 1..100000 (default 100; RFC 5321 4.5.3.1.8);
 *  past it 452 4.5.3 (4.5.3.1.10). Advertised as LIMITS RCPTMAX.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param n recipients, 1..100000.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p n out of range). */
SMTP_API int smtp_server_options_set_max_recipients(smtp_server_options *o, unsigned int n);
/** @brief Transactions per session (0 = unlimited, the default); past it
 *  MAIL gets 452 4.5.3. Advertised as LIMITS MAILMAX (RFC 9422; a value
 *  over 999999, the most its 6 digits hold, is advertised as 999999).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param n transactions, 0..1000000000 (0 = unlimited).
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p n out of range). */
SMTP_API int smtp_server_options_set_max_transactions(smtp_server_options *o, unsigned int n);
/** @brief Erroneous commands before "421 4.7.0" and close (default 20; 0 =
 *  unlimited). Counted: replies 500, 501, 502, 503, 504, 555 to commands.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param n errors, 0..1000000000 (0 = unlimited).
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p n out of range). */
SMTP_API int smtp_server_options_set_max_errors(smtp_server_options *o, unsigned int n);
/** @brief Failed AUTH exchanges before "421 4.7.0" and close (default 5; 0 = unlimited).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param n failures, 0..1000000000 (0 = unlimited).
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p n out of range). */
SMTP_API int smtp_server_options_set_max_auth_failures(smtp_server_options *o, unsigned int n);
/** @brief Message size limit in octets (0 = none, the default; advertised as
 *  "SIZE" without a value). Larger: SIZE= refused at MAIL, and data counted,
 *  discarded and refused after its end with 552 5.3.4 (RFC 1870 6).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param n octets; any value (0 = no limit).
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p o only). */
SMTP_API int smtp_server_options_set_max_message_size(smtp_server_options *o, uint64_t n);
/** @brief Extensions to offer (::smtp_ext_flag bits; default
 *  ::SMTP_SERVER_DEFAULT_EXTENSIONS). Accepted: PIPELINING, SIZE, 8BITMIME,
 *  BINARYMIME, CHUNKING, SMTPUTF8, ENHANCEDSTATUSCODES, DSN, REQUIRETLS,
 *  LIMITS, VRFY, EXPN, HELP, MT-PRIORITY, DELIVERBY, FUTURERELEASE, RRVS,
 *  NO-SOLICITING, MTRK, SUBMITTER, ETRN, BURL. FUTURERELEASE is offered only
 *  once its EHLO parameters are set (smtp_server_options_set_ext_params(),
 *  RFC 4865 3). A parameter of an extension not offered gets 555 5.5.4; a
 *  malformed one of an offered extension 501 with the extension's enhanced
 *  code (5.5.2 for MT-PRIORITY, RFC 6710 4.1; else 5.5.4). The session
 *  checks syntax only: policy (which priorities, release times, RRVS
 *  checks) is the application's, in its mail and rcpt callbacks.
 *  STARTTLS and AUTH bits are ignored (see
 *  smtp_server_options_set_tls_available() and the auth callbacks); others
 *  are ::SMTP_ERR_INVALID_ARGUMENT. BINARYMIME needs CHUNKING (without it,
 *  BINARYMIME is silently not offered, RFC 3030 3); REQUIRETLS is only
 *  offered under TLS (RFC 8689 4).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param flags ::smtp_ext_flag bits.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (a bit outside the list
 *          above); the option is then unchanged. */
SMTP_API int smtp_server_options_set_extensions(smtp_server_options *o, unsigned int flags);
/** Most octets of all extra EHLO lines of one options object together (each
 *  line counted with a terminating NUL). */
#define SMTP_SERVER_EHLO_EXTRA_MAX 1024
/** @brief The EHLO parameters of an extension libsmtp implements: the
 *  priority profile of MT-PRIORITY (RFC 6710 7, 1 to 20 of ALPHA DIGIT "-"
 *  "_" "."), the min-by-time of DELIVERBY (RFC 2852 3, up to 9 digits),
 *  FUTURERELEASE's max-future-release-interval SP max-future-release-date-time
 *  (RFC 4865 3, required for it to be offered), the solicitation keywords of
 *  NO-SOLICITING (RFC 3865), the URL types of BURL (RFC 4468 3). They are
 *  sent when the extension is enabled and offered.
 *  @param o the options.
 *  @param ext exactly one of the ::smtp_ext_flag bits above.
 *  @param params the parameter text (NUL-terminated), or NULL or "" for none.
 *         Copied.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p o, another flag,
 *          a value that does not match the grammar, no room left). */
SMTP_API int smtp_server_options_set_ext_params(smtp_server_options *o, unsigned int ext,
                                                const char *params);
/** @brief Advertise an EHLO keyword libsmtp does not implement, with its
 *  parameters: an ehlo-line (RFC 5321 4.1.1.1), e.g. "XFOO" or "XBAR 1 2".
 *  Sent after the library's own keywords, in the order added. Its MAIL/RCPT
 *  parameters, if any, go to ::smtp_server_on_param.
 *  @param o the options.
 *  @param line the ehlo-line (NUL-terminated, at most 500 octets); copied.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL argument, not an
 *          ehlo-line, a keyword libsmtp implements: use
 *          smtp_server_options_set_extensions() and
 *          smtp_server_options_set_ext_params() for those, the same keyword
 *          twice, or more than ::SMTP_SERVER_EHLO_EXTRA_MAX octets in all). */
SMTP_API int smtp_server_options_add_ehlo_keyword(smtp_server_options *o, const char *line);
/** @brief SASL mechanisms to offer (::smtp_sasl_mech bits; default PLAIN |
 *  LOGIN). PLAIN and LOGIN need the auth (or auth_step) callback, the others
 *  the auth_step callback; mechanisms without a handler are not offered.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param mechs ::smtp_sasl_mech bits among PLAIN, LOGIN, CRAM-MD5, XOAUTH2,
 *         OAUTHBEARER, SCRAM-SHA-1, SCRAM-SHA-256 and EXTERNAL; 0 offers none.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (any other bit). */
SMTP_API int smtp_server_options_set_auth_mechs(smtp_server_options *o, unsigned int mechs);
/** @brief Speak LMTP (RFC 2033): LHLO instead of HELO/EHLO, one reply per
 *  recipient after the data. Default 0.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param on 1 to enable, 0 to disable.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p on not 0 or 1). */
SMTP_API int smtp_server_options_set_lmtp(smtp_server_options *o, int on);
/** @brief The transport can do TLS: STARTTLS is offered after EHLO until TLS
 *  is up (RFC 3207 4). Without it STARTTLS gets 502 5.5.1. Default 0.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param on 1 to enable, 0 to disable.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p on not 0 or 1). */
SMTP_API int smtp_server_options_set_tls_available(smtp_server_options *o, int on);
/** @brief Offer and accept AUTH without TLS. Default 0 (RFC 4954 4 advice:
 *  without TLS, AUTH is not offered and gets 538 5.7.11). Risky.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param on 1 to enable, 0 to disable.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p on not 0 or 1). */
SMTP_API int smtp_server_options_set_allow_plaintext_auth(smtp_server_options *o, int on);
/** @brief MAIL is refused with 530 5.7.0 until TLS is up. Default 0.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param on 1 to enable, 0 to disable.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p on not 0 or 1). */
SMTP_API int smtp_server_options_set_require_tls(smtp_server_options *o, int on);
/** @brief MAIL is refused with 530 5.7.0 until the client authenticated. Default 0.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param on 1 to enable, 0 to disable.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p on not 0 or 1). */
SMTP_API int smtp_server_options_set_require_auth(smtp_server_options *o, int on);
/** @brief What to do with a bare CR or LF in message data (RFC 5321 2.3.8).
 *  Default ::SMTP_SERVER_BARE_REJECT.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param policy an ::smtp_server_bare_policy.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (not one of them). */
SMTP_API int smtp_server_options_set_bare_line_end(smtp_server_options *o, int policy);
/** @brief Refuse messages holding NUL (554 5.6.0; RFC 5321 4.5.2 text). Default 1.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param on 1 to enable, 0 to disable.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p on not 0 or 1). */
SMTP_API int smtp_server_options_set_reject_nul(smtp_server_options *o, int on);
/** @brief Refuse messages with a text line over 1000 octets including CRLF
 *  (RFC 5321 4.5.3.1.6; ::SMTP_TEXT_LINE_MAX) with 554 5.6.0 after their end.
 *  Default 0: RFC 5321 4.5.3.1 asks receivers to avoid such limits.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param on 1 to enable, 0 to disable.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p on not 0 or 1). */
SMTP_API int smtp_server_options_set_reject_long_lines(smtp_server_options *o, int on);
/** @brief Which PLAIN authorization identities reach the auth callback
 *  (RFC 4616 2). Default ::SMTP_SERVER_AUTHZID_SAME.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param policy an ::smtp_server_authzid_policy.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (not one of them). */
SMTP_API int smtp_server_options_set_authzid_policy(smtp_server_options *o, int policy);
/** @brief Accept `MAIL FROM: <a@b>` and `RCPT TO: <a@b>` (a space after the
 *  colon, outside the RFC 5321 4.1.2 ABNF but common). Default 0.
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param on 1 to enable, 0 to disable.
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p on not 0 or 1). */
SMTP_API int smtp_server_options_set_lenient_space_after_colon(smtp_server_options *o, int on);
/** @brief Deadline while waiting for a command, ms (default 300000, RFC 5321 4.5.3.2.7).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param ms milliseconds, 1..86400000 (one day).
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p ms out of range). */
SMTP_API int smtp_server_options_set_command_timeout(smtp_server_options *o, int ms);
/** @brief Deadline per block of message data, ms (default 180000, RFC 5321 4.5.3.2.5).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param ms milliseconds, 1..86400000 (one day).
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p ms out of range). */
SMTP_API int smtp_server_options_set_data_timeout(smtp_server_options *o, int ms);
/** @brief Deadline for the application to answer the end of data, ms
 *  (default 600000, the client's wait of RFC 5321 4.5.3.2.6).
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param ms milliseconds, 1..86400000 (one day).
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p ms out of range). */
SMTP_API int smtp_server_options_set_data_end_timeout(smtp_server_options *o, int ms);
/** @brief Bound on the whole of one message transfer, ms (default 600000):
 *  for DATA from the 354 reply to the final `CRLF . CRLF`, and for BDAT from
 *  each chunk's command line to the chunk's last octet. Unlike the per-block
 *  data timeout (smtp_server_options_set_data_timeout()), no amount of data
 *  arriving renews it, so a client that sends one octet at a time cannot
 *  keep the session beyond it. The default follows the shape of RFC 5321
 *  4.5.3.2.5 and 4.5.3.2.6 (3 minutes per block, 10 minutes for the whole
 *  DATA); it admits a 50 MB message at 100 kB/s (500 s). See
 *  smtp_server_session_total_timeout_ms().
 *  @param o the options; NULL gives ::SMTP_ERR_INVALID_ARGUMENT.
 *  @param ms milliseconds, 1..86400000 (one day).
 *  @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (@p ms out of range). */
SMTP_API int smtp_server_options_set_data_total_timeout(smtp_server_options *o, int ms);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Session
 *  @{ */

/**
 * @brief Create a session. Makes one allocation, sized by the options and
 *        the callbacks (about 3.5 KiB with the defaults and no AUTH
 *        callback; 256 octets more with one), and a second of about 5 KiB
 *        when a built-in SCRAM, EXTERNAL or token verifier is configured
 *        (smtp_server_callbacks_set_scram_lookup(),
 *        smtp_server_callbacks_set_token(), ::SMTP_SASL_EXTERNAL among the
 *        mechanisms); the session allocates nothing more until
 *        smtp_server_session_del(), except the XCLIENT/XFORWARD attribute
 *        block smtp_server_session_allow_xclient() adds and the 192-octet
 *        block for the TLS facts smtp_server_session_tls_started() adds
 *        (a plaintext session does not carry them).
 * @param out set to the session, or NULL on failure; the caller owns it and
 *        frees it with smtp_server_session_del().
 * @param callbacks copied (free the object whenever you like); NULL means no
 *        callbacks (every default answer).
 * @param user_data passed to every callback and returned by
 *        smtp_server_session_user_data(); never touched by the session.
 * @param options copied (free them whenever you like); NULL means the defaults.
 * @param mem allocator, or NULL for smtp_mem_default(); copied.
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, an incomplete
 *         allocator), ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_server_session_new(smtp_server_session **out,
                                     const smtp_server_callbacks *callbacks, void *user_data,
                                     const smtp_server_options *options, const smtp_mem *mem);

/** @brief Free a session; NULL does nothing. No callback fires and nothing is
 *  sent: every pointer the session handed out (mem_send() data, accessor
 *  strings, TLS info) becomes invalid. Not from inside a callback.
 *  @param s the session, or NULL. */
SMTP_API void smtp_server_session_del(smtp_server_session *s);

/**
 * @brief Give the session bytes received from the client.
 *
 * Processes complete command lines, message data and BDAT chunks and fires
 * callbacks. It may take fewer bytes than given: when a callback deferred
 * its answer or paused, when more than half of the output buffer is
 * pending (backpressure), when the session closed, or during an LMTP reply
 * sequence. Keep the rest and give it again later (when
 * smtp_server_session_want_read() is 1). Between a 220 reply to STARTTLS
 * and smtp_server_session_tls_started() every byte is taken and discarded
 * (RFC 3207 5). An incomplete line is copied into the
 * session (bounded; an over-long line is discarded up to its CRLF and gets
 * 500 5.5.6). @p len 0 only resumes pending work.
 *
 * @param s the session.
 * @param data the received bytes; not kept: spans handed to callbacks point
 *        into them only during the call, and what must wait is copied.
 *        May be NULL when @p len is 0.
 * @param len their number.
 * @return bytes taken (0..@p len; all of them while STARTTLS is pending);
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s, or NULL @p data with
 *         @p len > 0, or a call from inside a callback);
 *         ::SMTP_ERR_CLOSED when the session no longer reads (after QUIT,
 *         421, timeout or shutdown) and @p len > 0 (0 when @p len is 0);
 *         ::SMTP_ERR_CALLBACK_FAILURE (sticky) when a callback failed, during
 *         this call or before.
 */
SMTP_API smtp_ssize smtp_server_session_mem_recv(smtp_server_session *s, const char *data,
                                                 size_t len);

/**
 * @brief Peek at the bytes waiting to be sent.
 *
 * The first call produces the greeting (firing the connect callback).
 * Called from inside a callback it only reports what is pending (no
 * greeting, no resumed work). It does not consume: call
 * smtp_server_session_mem_consume() with what was written.
 * @param s the session.
 * @param data set to the pending bytes (inside the session's buffer, owned
 *        by it), valid until the next call of any function on @p s other
 *        than the read-only queries (want_*, is_closed, timeout_ms,
 *        deadline_seq, accessors) and at most until smtp_server_session_del().
 * @return the number of pending bytes (0 when none);
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s or @p data);
 *         ::SMTP_ERR_CALLBACK_FAILURE once a callback failed and all output
 *         queued before was consumed (until then that output is still
 *         returned, so a final reply can go out).
 */
SMTP_API smtp_ssize smtp_server_session_mem_send(smtp_server_session *s, const char **data);

/**
 * @brief Mark @p n pending bytes as sent. May resume pending work (an LMTP
 *        reply sequence) and fire callbacks (not when called from inside a
 *        callback).
 * @param s the session.
 * @param n bytes written, from the start of what smtp_server_session_mem_send()
 *        returned; 0..that count. The data pointer is invalid afterwards.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s, or @p n larger
 *         than what is pending; nothing is consumed);
 *         ::SMTP_ERR_CALLBACK_FAILURE (sticky) when a callback failed, during
 *         this call or before (the bytes are consumed all the same).
 */
SMTP_API int smtp_server_session_mem_consume(smtp_server_session *s, size_t n);

/** @brief 1 when mem_recv() would take bytes now: not closed, no answer
 *  deferred, no end-of-data reply sequence or STARTTLS pending, and the
 *  output not over half full (backpressure; message data is still read).
 *  @param s the session; NULL gives 0.
 *  @return 1 or 0. */
SMTP_API int smtp_server_session_want_read(const smtp_server_session *s);
/** @brief 1 when output is pending (or the greeting is still to be produced).
 *  @param s the session; NULL gives 0.
 *  @return 1 or 0. */
SMTP_API int smtp_server_session_want_write(const smtp_server_session *s);
/** @brief 1 once the 220 reply to STARTTLS has been entirely consumed: the
 *  transport must run the TLS handshake now and then call
 *  smtp_server_session_tls_started(). Bytes it still holds from before must
 *  be dropped, never fed to TLS or to the session.
 *  @param s the session; NULL gives 0.
 *  @return 1 or 0. */
SMTP_API int smtp_server_session_want_tls(const smtp_server_session *s);
/** @brief 1 when the session no longer reads (QUIT answered, 421, fatal error).
 *  Output may still be pending: see smtp_server_session_want_close().
 *  @param s the session; NULL gives 1.
 *  @return 1 or 0. */
SMTP_API int smtp_server_session_is_closed(const smtp_server_session *s);
/** @brief 1 when the session is closed and all its output was consumed: close
 *  the connection now.
 *  @param s the session; NULL gives 1.
 *  @return 1 or 0. */
SMTP_API int smtp_server_session_want_close(const smtp_server_session *s);

/**
 * @brief TLS is established (after want_tls, or before the greeting for
 *        implicit TLS, RFC 8314). All earlier state is forgotten (EHLO,
 *        AUTH, the transaction; RFC 3207 4.2), as is any partial command
 *        line held from before; a new deadline starts. No callback fires.
 * @param s the session.
 * @param info facts about the TLS session; not kept: its strings are copied
 *        (up to 63 octets each, bytes outside printable ASCII as '?') and
 *        read back with smtp_server_session_tls_info(). NULL strings are
 *        taken as empty.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s or @p info);
 *         ::SMTP_ERR_INVALID_STATE (not expected now: the session is closed
 *         or failed, TLS is already up, or the greeting was produced and no
 *         220 reply to STARTTLS has been entirely consumed);
 *         ::SMTP_ERR_NOMEM (no memory for the copied strings, which a
 *         session allocates only now; nothing changed: the connection
 *         should be closed).
 */
SMTP_API int smtp_server_session_tls_started(smtp_server_session *s, const smtp_tls_info *info);

/**
 * @brief The deadline of the current wait in milliseconds (RFC 5321 4.5.3.2):
 *        the command timeout while waiting for a command line (however slowly
 *        it arrives), the data timeout per block of message data (bounded as
 *        a whole by smtp_server_session_total_timeout_ms()), the
 *        data-end timeout while the application has not answered the end of
 *        data. -1 when closed.
 *
 * A new deadline starts each time smtp_server_session_deadline_seq()
 * changes; the transport measures from then, not from the last byte.
 * When it passes, call smtp_server_session_timeout().
 * @param s the session.
 * @return the timeout in milliseconds (one of the values set with
 *         smtp_server_options_set_command_timeout(),
 *         smtp_server_options_set_data_timeout(),
 *         smtp_server_options_set_data_end_timeout()); -1 when @p s is NULL,
 *         closed or failed.
 */
SMTP_API int smtp_server_session_timeout_ms(const smtp_server_session *s);
/** @brief A counter that changes whenever a new deadline starts (a reply
 *  completed a command, a block of message data arrived, TLS started).
 *  @param s the session; NULL gives 0.
 *  @return the counter; compare it for change only (it wraps). */
SMTP_API unsigned int smtp_server_session_deadline_seq(const smtp_server_session *s);
/**
 * @brief The second, non-renewable deadline of message data, ms: while the
 *        session reads DATA (from its 354 reply to the end of data) or one
 *        BDAT chunk (from its command line to its last octet), the value set
 *        with smtp_server_options_set_data_total_timeout(); -1 otherwise.
 *
 * The transport keeps two deadlines during message data: the one of
 * smtp_server_session_timeout_ms() (re-armed per block whenever
 * smtp_server_session_deadline_seq() changes) and this one, armed only when
 * smtp_server_session_total_seq() changes and never renewed by the data
 * that arrives. Whichever passes first: call smtp_server_session_timeout().
 * The driver (driver.h) does this; a transport of its own must too, or a
 * client sending one octet per block time keeps the session for ever.
 * @param s the session.
 * @return the bound in milliseconds, or -1 (@p s NULL, closed or failed,
 *         or not reading message data).
 */
SMTP_API int smtp_server_session_total_timeout_ms(const smtp_server_session *s);
/** @brief A counter that changes whenever a whole-data deadline starts (the
 *  354 reply to DATA was queued, a BDAT chunk's bytes begin).
 *  @param s the session; NULL gives 0.
 *  @return the counter; compare it for change only (it wraps). */
SMTP_API unsigned int smtp_server_session_total_seq(const smtp_server_session *s);
/**
 * @brief The deadline passed: queue `421 4.4.2 <hostname> Timeout, closing
 *        connection` and close (a deferred answer and a pending STARTTLS
 *        are dropped). The 421 is queued when it fits in the output buffer
 *        (a client that reads nothing may have filled it); the session
 *        closes either way. Send what smtp_server_session_mem_send() still
 *        returns, then close the connection.
 * @param s the session.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s);
 *         ::SMTP_ERR_CLOSED (already closed or failed; nothing is queued).
 */
SMTP_API int smtp_server_session_timeout(smtp_server_session *s);
/**
 * @brief Shut down: queue `421 4.3.2 <hostname> Service shutting down` and
 *        close, as smtp_server_session_timeout() does.
 * @param s the session.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s);
 *         ::SMTP_ERR_CLOSED (already closed or failed; nothing is queued).
 */
SMTP_API int smtp_server_session_shutdown(smtp_server_session *s);

/**
 * @brief Answer the current event.
 *
 * Inside an event callback it sets that event's answer (return 0 after it).
 * After a callback returned ::SMTP_ERR_DEFERRED it sends the answer and lets
 * the session go on (fire the next LMTP data_end; give it the bytes it did
 * not take).
 *
 * @param s the session.
 * @param code 200..559 with a second digit 0..5 (RFC 5321 4.2). 4yz or 5yz
 *        for every event; the positive answer is 354 for DATA (no 2yz),
 *        2yz or 354 for the first BDAT, 235 for AUTH (only from the
 *        PLAIN/LOGIN auth callback; else use smtp_server_session_auth_accept()),
 *        2yz for the others. 334 never (use
 *        smtp_server_session_auth_challenge()); 421 closes the session.
 * @param enhanced "class.subject.detail" (RFC 3463) whose class is the first
 *        digit of @p code, NUL-terminated, or NULL for a default (the
 *        event's own when @p code is its default code, else X.0.0); sent only
 *        when ENHANCEDSTATUSCODES is offered (RFC 2034), never on 3yz
 *        replies nor in a greeting. Read during the call only.
 * @param text reply text, NUL-terminated, lines separated by LF (each becomes
 *        a reply line; longer lines are wrapped at 512 octets, RFC 5321
 *        4.5.3.1.5), or NULL for the event's default text. No CR, NUL or
 *        other controls (HT is allowed). Read during the call only: the
 *        formatted reply is copied into the output buffer.
 * @return ::SMTP_OK;
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s; a code, enhanced code or
 *         combination not allowed for this event, or an @p enhanced that
 *         does not parse);
 *         ::SMTP_ERR_INVALID_STATE (no event waits for an answer: outside an
 *         event callback with nothing deferred, a second answer in one
 *         callback, a deferred answer given from inside a callback, or a
 *         call from data_chunk or trace);
 *         ::SMTP_ERR_BAD_CHAR (a control in @p text);
 *         ::SMTP_ERR_TOO_LONG (the formatted reply exceeds half the output
 *         buffer less 96 octets, kept for a closing 421);
 *         ::SMTP_ERR_CLOSED (the session closed, e.g. by
 *         smtp_server_session_timeout(), while the answer was deferred);
 *         ::SMTP_ERR_CALLBACK_FAILURE (the session failed before, or a
 *         callback fired by the resumed work failed: then the reply was
 *         queued). On any other error nothing is sent and the event still
 *         waits.
 */
SMTP_API int smtp_server_session_reply(smtp_server_session *s, int code, const char *enhanced,
                                       const char *text);

/**
 * @brief Leave extensions out of the reply to the EHLO or LHLO waiting for
 *        its answer, and treat them as not offered until the next accepted
 *        HELO, EHLO or LHLO (or STARTTLS, which forgets the EHLO: RFC 3207 4.2).
 *
 * For one EHLO of a session, where the options set the extensions of every
 * EHLO (smtp_server_options_set_extensions()): a test harness hides
 * PIPELINING from the EHLO after STARTTLS, say. What "not offered" means
 * for each: a MAIL or RCPT parameter of a hidden extension gets 555 5.5.4
 * (RFC 5321 4.1.1.11; REQUIRETLS under TLS likewise); BDAT with CHUNKING
 * hidden gets 502 5.5.1, and hiding CHUNKING hides BINARYMIME too (RFC 3030
 * 3); STARTTLS, AUTH and ETRN hidden get 502 5.5.1; with
 * ENHANCEDSTATUSCODES hidden, replies carry no enhanced code (RFC 2034 3).
 * The others (PIPELINING, VRFY, EXPN, HELP, LIMITS) only disappear from the
 * reply: the session serves pipelined commands, VRFY, EXPN and HELP as
 * before. A hidden extension that has an EHLO line of its own (the
 * parameters of FUTURERELEASE, say) loses that line too; keywords the
 * application added with smtp_server_options_add_ehlo_keyword() are not
 * touched.
 *
 * Call it inside the ehlo callback, or after that callback returned
 * ::SMTP_ERR_DEFERRED, before smtp_server_session_reply(); calls add up
 * (the union is hidden). The reply to HELO has no keywords: there the call
 * succeeds and changes nothing. No state is kept past the answer but the
 * set of offered extensions the session already has.
 * @param s the session.
 * @param ext ::smtp_ext_flag bits (smtp/ext.h).
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s, or a bit that
 *         is no ::smtp_ext_flag); ::SMTP_ERR_INVALID_STATE (no HELO, EHLO or
 *         LHLO waits for its answer, as for smtp_server_session_reply():
 *         outside its callback with nothing deferred, after its answer, or
 *         from another event); ::SMTP_ERR_CLOSED, ::SMTP_ERR_CALLBACK_FAILURE
 *         as for smtp_server_session_reply(). Nothing changes on an error.
 */
SMTP_API int smtp_server_session_ehlo_hide(smtp_server_session *s, unsigned int ext);

#if SMTP_HAVE_SASL
/**
 * @brief Send a SASL challenge (`334 ` + base64 of @p data, RFC 4954 4) in
 *        answer to an auth_step; the client's next line fires auth_step
 *        again (a `*` line cancels with 501 5.7.0 instead).
 * @param s the session.
 * @param data the raw challenge; encoded into the output buffer at once, not
 *        kept. May be NULL when @p len is 0 (an empty challenge).
 * @param len its length in octets.
 * @return ::SMTP_OK;
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s, or NULL @p data with
 *         @p len > 0);
 *         ::SMTP_ERR_INVALID_STATE (no event waits for an answer, as for
 *         smtp_server_session_reply(), or the event is not an auth_step:
 *         PLAIN/LOGIN handled by the auth callback get no challenges);
 *         ::SMTP_ERR_TOO_LONG (the encoded line exceeds half the output
 *         buffer);
 *         ::SMTP_ERR_CLOSED, ::SMTP_ERR_CALLBACK_FAILURE as for
 *         smtp_server_session_reply().
 */
SMTP_API int smtp_server_session_auth_challenge(smtp_server_session *s, const void *data,
                                                size_t len);
/**
 * @brief Accept an AUTH exchange (235 2.7.0) as @p identity (1..255 octets of
 *        UTF-8 without controls; copied). For auth_step, and also allowed
 *        in answer to the auth callback to set an identity other than authcid.
 * @param s the session.
 * @param identity the authenticated identity, not NUL-terminated; copied
 *        (read back with smtp_server_session_auth_user()).
 * @param len its length, 1..255.
 * @return ::SMTP_OK;
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s or @p identity, @p len 0 or
 *         over 255, a control byte, or invalid UTF-8);
 *         ::SMTP_ERR_INVALID_STATE (no event waits for an answer, as for
 *         smtp_server_session_reply(), or the event is not an AUTH one);
 *         ::SMTP_ERR_CLOSED, ::SMTP_ERR_TOO_LONG, ::SMTP_ERR_CALLBACK_FAILURE
 *         as for smtp_server_session_reply().
 */
SMTP_API int smtp_server_session_auth_accept(smtp_server_session *s, const char *identity,
                                             size_t len);
#endif /* SMTP_HAVE_SASL */

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Accessors (for use inside callbacks and after)
 *  @{ */

/** @brief Session flag bits (smtp_server_session_flags()). */
typedef enum smtp_server_flag {
  SMTP_SERVER_FLAG_HELO = 1u << 0,        /**< HELO, EHLO or LHLO was accepted. */
  SMTP_SERVER_FLAG_EHLO = 1u << 1,        /**< ... and it was EHLO or LHLO (extensions on). */
  SMTP_SERVER_FLAG_TLS = 1u << 2,         /**< TLS is up. */
  SMTP_SERVER_FLAG_AUTH = 1u << 3,        /**< The client authenticated. */
  SMTP_SERVER_FLAG_LMTP = 1u << 4,        /**< LMTP mode. */
  SMTP_SERVER_FLAG_MAIL = 1u << 5,        /**< A transaction is open (MAIL accepted). */
  SMTP_SERVER_FLAG_SMTPUTF8 = 1u << 6,    /**< The transaction has SMTPUTF8. */
  SMTP_SERVER_FLAG_BDAT = 1u << 7,        /**< The transaction's data comes by BDAT. */
  SMTP_SERVER_FLAG_REQUIRETLS = 1u << 8,  /**< The transaction has REQUIRETLS. */
  SMTP_SERVER_FLAG_8BITMIME = 1u << 9,    /**< BODY=8BITMIME. */
  SMTP_SERVER_FLAG_BINARYMIME = 1u << 10  /**< BODY=BINARYMIME. */
} smtp_server_flag;

/** @brief ::smtp_server_flag bits describing the session now (0 for NULL).
 *  @param s the session, or NULL.
 *  @return the bits; the transaction bits (MAIL, SMTPUTF8, BDAT, REQUIRETLS,
 *          8BITMIME, BINARYMIME) only while a transaction is open, except
 *          BDAT, also set during the first BDAT's data_start callback. */
SMTP_API unsigned int smtp_server_session_flags(const smtp_server_session *s);
/** @brief The user_data given to smtp_server_session_new().
 *  @param s the session, or NULL.
 *  @return that pointer (owned by the application), or NULL for a NULL @p s. */
SMTP_API void *smtp_server_session_user_data(const smtp_server_session *s);
/**
 * @brief The accepted reverse-path address (without angle brackets and
 *        source route; "" for the null path), NUL-terminated.
 * @param s the session, or NULL.
 * @param len set to its length (0 when NULL is returned); may be NULL.
 * @return a string owned by the session, or NULL for a NULL @p s or outside
 *         a transaction. Its content holds until the transaction ends (the
 *         last end-of-data reply, RSET, an accepted HELO/EHLO/LHLO, TLS
 *         start); copy it
 *         to keep it longer. Never used after smtp_server_session_del().
 */
SMTP_API const char *smtp_server_session_reverse_path(const smtp_server_session *s, size_t *len);
/** @brief Recipients accepted in the current transaction.
 *  @param s the session, or NULL.
 *  @return their number; 0 for NULL or outside a transaction. */
SMTP_API unsigned int smtp_server_session_rcpt_count(const smtp_server_session *s);
/** @brief Transactions started (MAIL accepted) in this session; the count
 *  is never reset, not even by STARTTLS (it is what
 *  smtp_server_options_set_max_transactions() limits).
 *  @param s the session, or NULL.
 *  @return their number; 0 for NULL. */
SMTP_API unsigned int smtp_server_session_transaction_count(const smtp_server_session *s);
/**
 * @brief The accepted HELO/EHLO/LHLO argument, NUL-terminated; NULL before.
 * @param s the session, or NULL.
 * @param len set to its length (0 when NULL is returned); may be NULL.
 * @return a string owned by the session, or NULL for a NULL @p s, before a
 *         HELO/EHLO/LHLO was accepted, and after TLS started until the next
 *         one. Its content holds until the next accepted HELO/EHLO/LHLO or
 *         smtp_server_session_tls_started(); copy it to keep it longer.
 *         A HELO attribute from XFORWARD (during its transaction) or
 *         XCLIENT (smtp_server_options_set_xclient()) replaces it (NULL for
 *         `[UNAVAILABLE]`); that value holds until the session next takes
 *         input.
 */
SMTP_API const char *smtp_server_session_helo_name(const smtp_server_session *s, size_t *len);
/**
 * @brief The authenticated identity, NUL-terminated; NULL when not authenticated.
 *        It is the identity given to smtp_server_session_auth_accept(), or for
 *        PLAIN/LOGIN the authzid when non-empty, else the authcid.
 * @param s the session, or NULL.
 * @param len set to its length (0 when NULL is returned); may be NULL.
 * @return a string owned by the session, or NULL for a NULL @p s or when no
 *         AUTH succeeded (or TLS started since, which forgets it). AUTH
 *         succeeds at most once between TLS starts, so the content holds
 *         until smtp_server_session_tls_started() or
 *         smtp_server_session_del(). After XCLIENT LOGIN, that login name
 *         (valid until the session next takes input).
 */
SMTP_API const char *smtp_server_session_auth_user(const smtp_server_session *s, size_t *len);
/**
 * @brief Facts about the TLS session, as given to
 *        smtp_server_session_tls_started() (strings truncated to 63 octets,
 *        non-printable bytes as '?', NULL ones as "").
 * @param s the session.
 * @param out filled in; its strings are owned by the session and valid until
 *        smtp_server_session_del() (TLS starts at most once per session).
 *        Left untouched on error.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p s or @p out);
 *         ::SMTP_ERR_INVALID_STATE (TLS is not up).
 */
SMTP_API int smtp_server_session_tls_info(const smtp_server_session *s, smtp_tls_info *out);
/**
 * @brief The "with" protocol name for a Received header field: SMTP, ESMTP,
 *        ESMTPA, ESMTPS, ESMTPSA (RFC 3848), LMTP... and UTF8SMTP...
 *        (RFC 6531 3.7.3) when the transaction has SMTPUTF8. "SMTP" only after
 *        HELO without TLS or AUTH in SMTP mode; the ESMTP (or LMTP) names
 *        otherwise, even before any HELO/EHLO. A PROTO attribute (XFORWARD's
 *        during its transaction, else XCLIENT's) names the client's own
 *        protocol in SMTP mode: SMTP gives "SMTP", ESMTP the ESMTP names.
 * @param s the session, or NULL (gives "SMTP").
 * @return a static string, never NULL; valid forever.
 */
SMTP_API const char *smtp_server_session_received_protocol(const smtp_server_session *s);
/** @brief Octets of message data received so far in the current message:
 *  unstuffed octets for DATA, chunk octets for BDAT, counting those past the
 *  size limit that were discarded.
 *  @param s the session, or NULL.
 *  @return the count; 0 for NULL, before the data starts and after the
 *          transaction ends. */
SMTP_API uint64_t smtp_server_session_message_size(const smtp_server_session *s);

/**
 * @brief Record an endpoint of the connection. The driver records the
 *        socket's own addresses when the session has none
 *        (smtp_driver_new_server()); an application doing its own I/O sets
 *        them here, before or after the greeting. A PROXY header and
 *        XCLIENT replace them; replacing the client address by one whose
 *        origin is ::SMTP_ORIGIN_PROXY or later first keeps the old one as
 *        ::SMTP_ADDR_PEER. The session keeps 20 octets per endpoint (a UNIX
 *        socket's path is not kept); TLS does not reset them.
 * @param s      the session.
 * @param which  ::SMTP_ADDR_CLIENT, ::SMTP_ADDR_SERVER or ::SMTP_ADDR_PEER.
 * @param ep     the endpoint (copied), or NULL to forget it.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL session, unknown @p which
 *         or family).
 */
SMTP_API int smtp_server_session_set_addr(smtp_server_session *s, unsigned int which,
                                          const smtp_endpoint *ep);

/**
 * @brief Read an endpoint of the connection (from any callback, or
 *        outside one).
 * @param s      the session.
 * @param which  ::SMTP_ADDR_CLIENT, ::SMTP_ADDR_SERVER or ::SMTP_ADDR_PEER.
 * @param out    filled in; family ::SMTP_AF_NONE when unknown.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_server_session_addr(const smtp_server_session *s, unsigned int which,
                                      smtp_endpoint *out);

/**
 * @brief Let the session handle XCLIENT and/or XFORWARD (xclient.h;
 *        Postfix's semantics). Enabled commands are offered in the EHLO
 *        reply only to sessions the application trusts
 *        (smtp_server_session_allow_xclient()); others get
 *        `550 5.7.0 Error: insufficient authorization`. Inside a mail
 *        transaction: `503 5.5.1`; a bad attribute list: `501 5.5.4`.
 *        XCLIENT (for the rest of the connection; each attribute until a
 *        later XCLIENT gives it again) replaces the session's client
 *        endpoint (ADDR, PORT) and server endpoint (DESTADDR, DESTPORT),
 *        keeping the transport's as ::SMTP_ADDR_PEER, forgets HELO/EHLO,
 *        AUTH and the transaction, and answers with a new 220 greeting (the
 *        client sends EHLO again; the connect callback is not called
 *        again). Its HELO becomes the session's HELO name
 *        (smtp_server_session_helo_name(); the EHLO the proxy sends next
 *        does not replace it, `[UNAVAILABLE]`: no name); PROTO=SMTP or
 *        ESMTP is the protocol the client spoke
 *        (smtp_server_session_received_protocol()); LOGIN makes the session
 *        authenticated as that user, as Postfix does with its SASL login
 *        name (smtp_server_session_auth_user(), ::SMTP_SERVER_FLAG_AUTH;
 *        `[UNAVAILABLE]`: not authenticated); NAME is the client's host
 *        name. XFORWARD answers `250 2.0.0 Ok`; its attributes (which add
 *        up over several commands) hold for the next mail transaction only
 *        (Postfix's XFORWARD_README: they are forgotten when the transaction
 *        ends with its end-of-data reply, on RSET, HELO/EHLO, STARTTLS and
 *        XCLIENT): ADDR/PORT are then the client endpoint
 *        (smtp_server_session_addr(), origin ::SMTP_ORIGIN_XFORWARD, the
 *        session's own client as ::SMTP_ADDR_PEER), HELO the HELO name and
 *        PROTO the protocol (SMTP/ESMTP; other names are only readable).
 *        Every attribute, also NAME, SOURCE and IDENT, is readable with
 *        smtp_server_session_xattrs(). Disabled commands reach the
 *        unknown-command callback as before.
 * @param o      the options.
 * @param which  0, ::SMTP_XCLIENT and/or ::SMTP_XFORWARD.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_server_options_set_xclient(smtp_server_options *o, unsigned int which);

/**
 * @brief Trust this session's client with XCLIENT and/or XFORWARD (e.g.
 *        from the connect callback, after checking smtp_server_session_addr()
 *        against a list of trusted proxies with smtp_cidr_list_match()).
 *        Trusting a session with a command the options enable allocates
 *        its attribute block (about 2.4 KiB, once; freed by
 *        smtp_server_session_del()), so the session allocates nothing
 *        while it serves commands.
 * @param s      the session.
 * @param which  0, ::SMTP_XCLIENT and/or ::SMTP_XFORWARD.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM (the session is
 *         then not trusted).
 */
SMTP_API int smtp_server_session_allow_xclient(smtp_server_session *s, unsigned int which);

/**
 * @brief Read the attributes XCLIENT or XFORWARD gave
 *        (smtp_server_options_set_xclient()): for ::SMTP_XCLIENT those in
 *        force for the connection, for ::SMTP_XFORWARD those of the current
 *        (or next) mail transaction. From any callback, or outside one.
 * @param s     the session.
 * @param verb  ::SMTP_XCLIENT or ::SMTP_XFORWARD.
 * @param out   filled in: state ::SMTP_XVALUE_ABSENT for attributes not
 *              given; values (decoded, NUL-terminated) point into the
 *              session and stay valid until the session next takes input
 *              or is deleted.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_server_session_xattrs(const smtp_server_session *s, unsigned int verb,
                                        smtp_xattrs *out);

/** @} */

/* ------------------------------------------------------------------------ */
/** @name Built-in SASL verifiers: SCRAM, EXTERNAL, bearer tokens
 *
 * Besides PLAIN and LOGIN the session runs these mechanisms itself when the
 * application enables them with smtp_server_options_set_auth_mechs() and
 * provides what each needs; they are offered only then:
 *
 * - SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512 (RFC 5802, RFC 7677): the
 *   scram_lookup callback (stored keys, no clear-text password) and a
 *   random source (smtp_server_options_set_random()) for the server nonce.
 *   Their -PLUS forms also need the TLS channel-binding data
 *   (smtp_server_session_set_channel_binding(); the driver sets it). A
 *   client that sends the "y" flag while the server offers a -PLUS form
 *   fails (RFC 5802 6: a downgrade), as does a "p" flag on a mechanism
 *   without -PLUS, a channel-binding type the server does not have, or
 *   other data. User names are prepared with SASLprep (RFC 4013) before
 *   the lookup.
 * - EXTERNAL (RFC 4422 appendix A): smtp_server_session_set_external_identity()
 *   after a client certificate verified (the driver sets the certificate's
 *   commonName). The client's authorization identity must be empty or
 *   equal to it.
 * - XOAUTH2 and OAUTHBEARER (RFC 7628): the token callback. A refused
 *   token gets the error challenge (RFC 7628 3.2.2, a JSON status
 *   object); the client's dummy response then gets 535 5.7.8.
 *
 * Malformed messages, wrong proofs and unknown users all end in 535 5.7.8
 * (undecodable base64 in 501 5.5.2, "*" in 501 5.7.0) and count towards
 * the AUTH failure limit. An unknown user runs a full exchange with a
 * made-up salt and fails only at the proof. The salt is derived from the
 * user name and a secret drawn from the random source when
 * smtp_server_options_set_random() is called, so it is the same on every
 * try for sessions made from those options, and the iteration count is the
 * configured minimum: the first reply does not tell which users exist as
 * long as real records use that count too. The trace never shows the client's SASL lines.
 * Mechanisms without a built-in handler still go to the auth_step callback.
 * @{ */

/** @brief Look up the SCRAM record of a user.
 *  @param s the session.
 *  @param mech the SCRAM family asked for (::SMTP_SASL_SCRAM_SHA_1,
 *         ::SMTP_SASL_SCRAM_SHA_256 or ::SMTP_SASL_SCRAM_SHA_512; -PLUS
 *         exchanges ask for their family).
 *  @param user the authentication identity, UTF-8 without controls, decoded
 *         from the saslname and prepared with SASLprep as a query string
 *         (RFC 5802 5.1, smtp_sasl_saslprep()); not NUL-terminated, valid
 *         during the call.
 *  @param user_len its length.
 *  @param rec fill it: its mech must be @p mech's family.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0 with @p rec filled; ::SMTP_ERR_NOT_FOUND for an unknown user
 *          (the exchange goes on with a made-up record and fails with 535);
 *          any other negative value: 454 4.7.0. Called synchronously: no
 *          deferral. */
typedef int (*smtp_server_on_scram_lookup)(smtp_server_session *s, unsigned int mech,
                                           const char *user, size_t user_len,
                                           smtp_scram_record *rec, void *user_data);

/** @brief A bearer token from XOAUTH2 or OAUTHBEARER (RFC 7628 3.1). */
typedef struct smtp_server_token {
  unsigned int mech;   /**< ::SMTP_SASL_XOAUTH2 or ::SMTP_SASL_OAUTHBEARER. */
  smtp_span user;      /**< XOAUTH2 "user=", OAUTHBEARER gs2 "a=" (decoded); may be empty. */
  smtp_span token;     /**< The token after "Bearer ". Never log it. */
  unsigned char reserved[16]; /**< Zero. */
} smtp_server_token;

/** @brief Validate a bearer token.
 *  @param s the session.
 *  @param tok the token and user; valid during the call only.
 *  @param user_data as given to smtp_server_session_new().
 *  @return 0 accepts (235; the identity is @c tok->user; with an empty
 *          user the token is refused); ::SMTP_ERR_CALLBACK_REFUSED sends RFC
 *          7628's error challenge, then 535 after the client's response; any
 *          other negative value: 454 4.7.0. Synchronous: no deferral. */
typedef int (*smtp_server_on_token)(smtp_server_session *s, const smtp_server_token *tok,
                                    void *user_data);

#if SMTP_HAVE_SASL
/** @brief Set the SCRAM lookup callback (enables the SCRAM verifiers).
 *  @param cb the callbacks object; NULL does nothing. @param f the callback or NULL. */
SMTP_API void smtp_server_callbacks_set_scram_lookup(smtp_server_callbacks *cb,
                                                     smtp_server_on_scram_lookup f);
/** @brief Set the bearer-token callback (enables XOAUTH2 and OAUTHBEARER).
 *  @param cb the callbacks object; NULL does nothing. @param f the callback or NULL. */
SMTP_API void smtp_server_callbacks_set_token(smtp_server_callbacks *cb, smtp_server_on_token f);

/** @brief Random bytes for SCRAM server nonces and made-up salts (the
 *  library reads no random device itself). Without it SCRAM is not offered.
 *  @param o the options.
 *  @param fn fills its @c len bytes at @c buf and returns 0, or non-zero on
 *         failure (the exchange then gets 454 4.7.0); NULL removes it.
 *  @param user_data passed to @p fn.
 *  @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT (@p o NULL). */
SMTP_API int smtp_server_options_set_random(smtp_server_options *o,
                                             int (*fn)(void *buf, size_t len, void *user_data),
                                             void *user_data);

/** @brief Iteration counts a SCRAM record may carry (default 4096..100000,
 *  RFC 7677 4's minimum and libsmtp's client default maximum). A record
 *  outside them gets 454 4.7.0; made-up records use @p min.
 *  @param o the options. @param min at least 1. @param max at least @p min.
 *  @return ::SMTP_OK or ::SMTP_ERR_INVALID_ARGUMENT. */
SMTP_API int smtp_server_options_set_scram_iterations(smtp_server_options *o, unsigned int min,
                                                      unsigned int max);

/**
 * @brief Channel-binding data of this session's TLS connection (RFC 5056),
 *        for the SCRAM -PLUS mechanisms: e.g. "tls-exporter" (RFC 9266) or
 *        "tls-server-end-point" / "tls-unique" (RFC 5929). Set it after the
 *        handshake (after smtp_server_session_tls_started()); the -PLUS
 *        forms enabled in the options are offered from then on.
 *
 * The session keeps up to three types at once (one call per type; a
 * second call for the same type replaces its data), and a client's "p="
 * may name any of them (RFC 5802 6). The driver (driver.h) sets them
 * itself after every handshake: "tls-exporter" under TLS 1.3,
 * "tls-unique" under TLS 1.2 when the TLS backend gives it, and
 * "tls-server-end-point" under both.
 * @param s the session.
 * @param type the type name (letters, digits, ".", "-"; at most 31 octets), or
 *        NULL to forget the data of every type.
 * @param data the bytes (copied). @param len 1..128.
 * @return ::SMTP_OK (also when the session has no built-in verifier: the
 *         data are then unused), ::SMTP_ERR_LIMIT (three other types are
 *         set already) or ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_server_session_set_channel_binding(smtp_server_session *s, const char *type,
                                                     const void *data, size_t len);

/**
 * @brief The client's certificate verified and names @p identity: AUTH
 *        EXTERNAL (RFC 4422 appendix A) is offered (when enabled in the
 *        options) and authenticates as it.
 *
 * The driver (driver.h) calls it after every handshake: with the subject
 * commonName of a verified client certificate that has exactly one
 * (UTF8String, PrintableString or IA5String), else with NULL. An
 * application that maps certificates otherwise calls it again afterwards
 * (smtp_driver_tls_conn() gives the certificate).
 * @param s the session.
 * @param identity 1..255 octets of UTF-8 without controls (copied), or NULL
 *        to withdraw it.
 * @param len its length.
 * @return ::SMTP_OK (also when ::SMTP_SASL_EXTERNAL was not enabled in the
 *         options: the identity is then unused) or ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_server_session_set_external_identity(smtp_server_session *s,
                                                       const char *identity, size_t len);
#endif /* SMTP_HAVE_SASL */

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* SMTP_HAVE_SERVER */

#endif /* SMTP_SERVER_H */
