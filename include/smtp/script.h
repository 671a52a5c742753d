/**
 * @file script.h
 * @brief Scripted server behaviour for test harnesses: a rule file that
 *        replaces replies, delays them, sends them slowly or closes the
 *        connection instead, per command (and per Nth command) of a session.
 *
 * The module only decides; it never sleeps, reads a clock or touches a
 * socket. An application that serves a ::smtp_server_session asks
 * smtp_script_run_next() inside each event callback what the script wants
 * for that command, sets a scripted reply with smtp_server_session_reply(),
 * and lets its transport carry out the rest: wait ::smtp_script_action::delay_ms
 * before sending the reply, send it one octet at a time over
 * ::smtp_script_action::tarpit_ms, or close the connection instead of
 * sending it (::smtp_script_action::close).
 *
 * @section script_format Rule file
 *
 * One rule per line; empty lines and lines whose first non-blank character
 * is `#` are ignored. A rule is `STAGE[#N] ACTION [ARGS]`, words separated
 * by blanks (SP or HT):
 *
 * - STAGE: `CONNECT` (the greeting), `EHLO`, `HELO`, `LHLO`, `STARTTLS`,
 *   `AUTH` (the outcome of the credentials), `MAIL`, `RCPT`, `DATA` (the 354
 *   reply), `DATA-END` (the reply after the message, DATA or BDAT), `BDAT`
 *   (each BDAT chunk, RFC 3030: see below), `RSET`, `NOOP`, `VRFY`, `EXPN`,
 *   `QUIT`, or any other verb of 1 to 20 letters (e.g. `HELP`, `ETRN`),
 *   case-insensitive.
 * - `#N` (1..1000000) limits the rule to the Nth such command of the session;
 *   without it the rule applies to every one. Commands are counted when they
 *   reach the application: a command the session refuses by itself (bad
 *   syntax, wrong sequence) is neither counted nor scripted.
 * - ACTION:
 *   - `reply CODE [ENHANCED] TEXT`: replaces the reply. CODE is three digits,
 *     first 2, 4 or 5 (3 only as 354 for DATA, which takes no 2yz), second
 *     0..5 (RFC 5321 4.2). AUTH's only positive reply is 235 (RFC 4954 6):
 *     a server session takes no other 2yz there, so an application sends
 *     a 2yz rule's reply to AUTH as 235 with the rule's text;
 *     ENHANCED an RFC 3463 code whose class is CODE's first digit; TEXT the
 *     rest of the line (required; printable ASCII, RFC 5321 4.2 textstring).
 *   - `delay SECONDS`: wait before the reply; up to 3600, with at most three
 *     decimals (`0.25`).
 *   - `close`: close the connection instead of replying.
 *   - `tarpit SECONDS`: send the reply one octet at a time spread over
 *     SECONDS (same bounds as delay).
 *   - `drop-keyword KEYWORD`: EHLO and LHLO only: leave an extension the
 *     library implements out of the reply (PIPELINING, SIZE, 8BITMIME,
 *     BINARYMIME, CHUNKING, SMTPUTF8, ENHANCEDSTATUSCODES, DSN, STARTTLS,
 *     AUTH, REQUIRETLS, LIMITS, DELIVERBY, MT-PRIORITY, ETRN, VRFY, EXPN,
 *     HELP); the session then treats the extension as not offered (a
 *     parameter of it gets 555, RFC 5321 4.1.1.11). Without `#N` it holds
 *     for every EHLO and is a session option (smtp_script_drop_mask());
 *     with `#N` (`EHLO#2 drop-keyword PIPELINING`: the EHLO after STARTTLS,
 *     typically) only that EHLO leaves it out: smtp_script_run_drop() gives
 *     the extensions for the EHLO just counted, for
 *     smtp_server_session_ehlo_hide() in the ehlo callback.
 *
 * BDAT (RFC 3030 2): `BDAT#N` is the Nth BDAT chunk of the session; an
 * application counts each one when its BDAT line arrives (the first of a
 * transaction at ::smtp_server_on_data_start, later ones from the session's
 * trace), carries out its delay, tarpit and close on the chunk's reply, and
 * gives a scripted reply after the chunk's octets, as RFC 3030 2 wants:
 * from ::smtp_server_on_bdat_chunk for a chunk that is not the last, as the
 * end-of-data reply (::smtp_server_on_data_end) for the LAST one, where a
 * `DATA-END` rule's reply, when there is one, wins. A 2yz reply accepts
 * the chunk with the scripted text; a 4yz or 5yz fails it and the
 * transaction (the chunks the client pipelined behind it get 503 until
 * RSET or BDAT LAST). One exception: a first chunk `BDAT 0` without LAST
 * has no chunk event, so only a refusal applies to it (given at the data
 * start).
 *
 * Every matching rule of a command applies, in file order: delays add up,
 * a later reply or tarpit replaces an earlier one, and close wins over any
 * reply. A line with anything else (an unknown action, a bad code, `#0`, a
 * missing or extra argument, a delay over the bound, a control or non-ASCII
 * octet) makes smtp_script_parse() fail and name the line.
 *
 * @code
 * # every client sees a temporary failure on the first RCPT, then success
 * RCPT#1 reply 451 4.3.0 Try again later
 * DATA-END delay 2.5
 * EHLO drop-keyword CHUNKING
 * QUIT close
 * @endcode
 */
#ifndef SMTP_SCRIPT_H
#define SMTP_SCRIPT_H

#include <smtp/common.h>
#include <smtp/features.h>

#if SMTP_HAVE_SERVER

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A parsed rule file (opaque, immutable once parsed: one script may
 *  serve many sessions, also from several threads). */
typedef struct smtp_script smtp_script;

/** @brief The per-session state of a script: how many commands of each
 *  stage were seen (opaque). One per session. */
typedef struct smtp_script_run smtp_script_run;

/** @brief The stages a rule can name. */
typedef enum smtp_script_stage {
  SMTP_SCRIPT_CONNECT = 1,   /**< The greeting. */
  SMTP_SCRIPT_EHLO = 2,      /**< EHLO. */
  SMTP_SCRIPT_HELO = 3,      /**< HELO. */
  SMTP_SCRIPT_LHLO = 4,      /**< LHLO (RFC 2033). */
  SMTP_SCRIPT_STARTTLS = 5,  /**< STARTTLS (RFC 3207). */
  SMTP_SCRIPT_AUTH = 6,      /**< The AUTH outcome (RFC 4954). */
  SMTP_SCRIPT_MAIL = 7,      /**< MAIL. */
  SMTP_SCRIPT_RCPT = 8,      /**< RCPT. */
  SMTP_SCRIPT_DATA = 9,      /**< DATA (the 354 reply). */
  SMTP_SCRIPT_DATA_END = 10, /**< The reply after the message (DATA or BDAT). */
  SMTP_SCRIPT_BDAT = 11,     /**< Each BDAT chunk (RFC 3030); see @ref script_format. */
  SMTP_SCRIPT_RSET = 12,     /**< RSET. */
  SMTP_SCRIPT_NOOP = 13,     /**< NOOP. */
  SMTP_SCRIPT_VRFY = 14,     /**< VRFY. */
  SMTP_SCRIPT_EXPN = 15,     /**< EXPN. */
  SMTP_SCRIPT_QUIT = 16,     /**< QUIT. */
  SMTP_SCRIPT_OTHER = 17     /**< Any other verb, named by the caller. */
} smtp_script_stage;

/** @brief Where and why smtp_script_parse() failed. */
typedef struct smtp_script_error {
  unsigned int line;  /**< 1-based line number; 0 when the error is not about a line
                           (allocation failure, the text is too large). */
  char message[120];  /**< NUL-terminated reason in English, e.g. "unknown action". */
  uint64_t reserved[4]; /**< Zeroed by the library; room to grow (a reserved tail). */
} smtp_script_error;

/** @brief What the script wants for one command (smtp_script_run_next()). */
typedef struct smtp_script_action {
  int code;                /**< Scripted reply code, or 0 to keep the session's or the
                                application's own reply. */
  char enhanced[16];       /**< Its enhanced status code ("4.3.0"), or "" for none
                                (pass NULL to smtp_server_session_reply()). */
  const char *text;        /**< Its text (NUL-terminated, owned by the script, valid as
                                long as it), or NULL when @ref code is 0. */
  unsigned int delay_ms;   /**< Wait this long before sending the reply (0: none). */
  unsigned int tarpit_ms;  /**< Send the reply one octet at a time over this long (0: no). */
  int close;               /**< 1: close the connection instead of sending the reply. */
  unsigned int matched;    /**< How many rules matched (0: the script has nothing to say);
                                drop-keyword rules are not counted here: their
                                extensions come from smtp_script_run_drop(). */
  uint64_t reserved[4];    /**< Zeroed by the library; room to grow (a reserved tail). */
} smtp_script_action;

/**
 * @brief Parse a rule file (format: @ref script_format).
 * @param out set to the new script on success, to NULL on failure.
 * @param text the file's content (need not be NUL-terminated; a NUL octet
 *        is an error like any other control).
 * @param len octets in @p text; at most 1048576.
 * @param mem allocator hook, copied; NULL for the C library's.
 * @param err filled in on failure (and zeroed on success); may be NULL.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, NULL
 *         @p text with @p len > 0, or an allocator without all four functions); ::SMTP_ERR_SYNTAX (a bad line:
 *         @p err names it); ::SMTP_ERR_TOO_LONG (@p len over the bound, a
 *         line over 1000 octets, more than 10000 rules; @p err names the
 *         line when there is one); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_script_parse(smtp_script **out, const char *text, size_t len,
                               const smtp_mem *mem, smtp_script_error *err);

/** @brief Free a script; NULL does nothing. No run made from it may be used afterwards.
 *  @param sc the script, or NULL. */
SMTP_API void smtp_script_del(smtp_script *sc);

/** @brief Number of rules in a script.
 *  @param sc the script, or NULL (gives 0).
 *  @return the count. */
SMTP_API size_t smtp_script_rule_count(const smtp_script *sc);

/**
 * @brief The extensions the script's `drop-keyword` rules without `#N`
 *        (EHLO and LHLO ones) leave out of every EHLO or LHLO, as
 *        ::smtp_ext_flag bits (see smtp/ext.h).
 *        Clear them from the flags given to
 *        smtp_server_options_set_extensions(); ::SMTP_EXT_STARTTLS means
 *        "set smtp_server_options_set_tls_available() to 0", ::SMTP_EXT_AUTH
 *        "offer no AUTH mechanism". Rules with `#N`: smtp_script_run_drop().
 * @param sc the script, or NULL (gives 0).
 * @return the bits.
 */
SMTP_API unsigned int smtp_script_drop_mask(const smtp_script *sc);

/**
 * @brief Start the state of one session.
 * @param out set to the new run (NULL on failure).
 * @param sc the script; must outlive the run.
 * @param mem allocator hook, copied; NULL for the C library's.
 * @return ::SMTP_OK; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out or @p sc, or
 *         an allocator without all four functions); ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_script_run_new(smtp_script_run **out, const smtp_script *sc, const smtp_mem *mem);

/** @brief Free a run; NULL does nothing.
 *  @param run the run, or NULL. */
SMTP_API void smtp_script_run_del(smtp_script_run *run);

/**
 * @brief Count one more command of @p stage and say what the script wants
 *        for it.
 *
 * Call it once per command, when the command reaches the application (for
 * DATA-END once per message, also in LMTP where the end of the message has
 * one reply per recipient; for BDAT once per chunk, see @ref script_format).
 * @param run the session's run.
 * @param stage a ::smtp_script_stage.
 * @param verb for ::SMTP_SCRIPT_OTHER the command's verb (case-insensitive,
 *        not NUL-terminated); ignored otherwise (may be NULL).
 * @param verb_len octets in @p verb.
 * @param out filled in (zeroed when nothing matches).
 * @return 1 when at least one rule matched, 0 when none did;
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p run or @p out, a stage out
 *         of range, NULL @p verb for ::SMTP_SCRIPT_OTHER with @p verb_len > 0).
 */
SMTP_API int smtp_script_run_next(smtp_script_run *run, int stage, const char *verb,
                                  size_t verb_len, smtp_script_action *out);

/**
 * @brief The extensions the `drop-keyword` rules that matched the last
 *        smtp_script_run_next() call leave out (rules with and without
 *        `#N`), as ::smtp_ext_flag bits; pass them to
 *        smtp_server_session_ehlo_hide() in the ehlo callback.
 * @param run the session's run, or NULL (gives 0).
 * @return the bits; 0 when that call was for a stage other than
 *         ::SMTP_SCRIPT_EHLO or ::SMTP_SCRIPT_LHLO, or before any call.
 */
SMTP_API unsigned int smtp_script_run_drop(const smtp_script_run *run);

/**
 * @brief The name of a stage as written in rule files ("DATA-END").
 * @param stage a ::smtp_script_stage.
 * @return a static string; "OTHER" for ::SMTP_SCRIPT_OTHER; NULL when out of range.
 */
SMTP_API const char *smtp_script_stage_name(int stage);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_HAVE_SERVER */

#endif /* SMTP_SCRIPT_H */
