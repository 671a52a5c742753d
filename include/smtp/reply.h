/**
 * @file reply.h
 * @brief SMTP replies: reply codes (RFC 5321 4.2), enhanced status codes
 *        (RFC 3463, RFC 5248, RFC 2034), an incremental reply parser, a
 *        formatter, and the table of default replies per situation.
 */
#ifndef SMTP_REPLY_H
#define SMTP_REPLY_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Reply classes by first digit (RFC 5321 4.2.1). */
typedef enum smtp_reply_class {
  SMTP_REPLY_INVALID = 0,              /**< Not a valid reply code (outside 200..599). */
  SMTP_REPLY_POSITIVE_COMPLETION = 2,  /**< 2yz */
  SMTP_REPLY_POSITIVE_INTERMEDIATE = 3,/**< 3yz */
  SMTP_REPLY_TRANSIENT_NEGATIVE = 4,   /**< 4yz */
  SMTP_REPLY_PERMANENT_NEGATIVE = 5    /**< 5yz */
} smtp_reply_class;

/**
 * @brief Classify a reply code.
 * @param code a reply code as an integer, e.g. 250 (any value is accepted).
 * @return the ::smtp_reply_class of @p code: its first digit when the code is
 *         within 200..599 and its second digit is 0..5, else ::SMTP_REPLY_INVALID.
 */
SMTP_API int smtp_reply_code_class(int code);

/** @brief An enhanced status code class.subject.detail (RFC 3463 2). */
typedef struct smtp_enhanced_code {
  int cls;     /**< 2, 4 or 5. */
  int subject; /**< 0..999 */
  int detail;  /**< 0..999 */
} smtp_enhanced_code;

/**
 * @brief Parse an enhanced status code at the start of @p s.
 *
 * Grammar (RFC 3463 2, RFC 2034 4): class "." subject "." detail, class
 * one of 2, 4, 5; subject and detail 1 to 3 digits without a leading zero
 * unless the value is 0. It must be followed by a space or the end of @p s.
 * Nothing is copied or allocated.
 * @param s the text to examine, e.g. a reply line's text (not NUL-terminated).
 * @param len bytes in @p s.
 * @param out set to the code on success; untouched on error.
 * @param consumed set to the length of the code (without the space); may be
 *        NULL. Untouched on error.
 * @return ::SMTP_OK; ::SMTP_ERR_ENHANCED_CODE (not a well-formed code, class
 *         not 2/4/5, a fourth digit, a leading zero, or no space after it);
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, or NULL @p s with
 *         @p len > 0).
 */
SMTP_API int smtp_enhanced_code_parse(const char *s, size_t len, smtp_enhanced_code *out,
                                      size_t *consumed);

/**
 * @brief Format @p code as "c.s.d" plus a terminating NUL.
 * @param code the code to format (class 2, 4 or 5; subject and detail 0..999).
 * @param buf output buffer, owned by the caller; at most 12 bytes are needed.
 * @param buflen size of @p buf; it must hold the text and the NUL.
 * @return the length written (without the NUL); ::SMTP_ERR_BUFFER_TOO_SMALL
 *         (nothing written); ::SMTP_ERR_ENHANCED_CODE (values out of range);
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p code, or NULL @p buf with
 *         @p buflen > 0).
 */
SMTP_API smtp_ssize smtp_enhanced_code_format(const smtp_enhanced_code *code, char *buf,
                                              size_t buflen);

/**
 * @brief The IANA registry's title for an enhanced code (RFC 5248), e.g.
 *        "Bad destination mailbox address" for X.1.1.
 * @param subject the subject number (the "1" of X.1.1).
 * @param detail the detail number (the second "1" of X.1.1).
 * @return a static NUL-terminated string that lives as long as the program,
 *         or NULL when subject.detail is not registered (or out of 0..999).
 */
SMTP_API const char *smtp_enhanced_code_title(int subject, int detail);

/**
 * @brief A complete reply as parsed. Every span points into the parser and
 *        stays valid until the next smtp_reply_parser_feed() or
 *        smtp_reply_parser_reset() on it.
 */
typedef struct smtp_reply {
  int code;                    /**< The three-digit reply code. */
  int has_enhanced;            /**< 1 when the first line carried an enhanced code. */
  smtp_enhanced_code enhanced; /**< Valid when has_enhanced. */
  size_t nlines;               /**< Number of lines (at least 1). */
  const smtp_span *lines;      /**< Text of each line after "NNN-"/"NNN " and after the
                                    enhanced code when that line carried one. */
} smtp_reply;

/** @brief Incremental reply parser (opaque). */
typedef struct smtp_reply_parser smtp_reply_parser;

/** Default bound on one reply line, CRLF included (RFC 5321 4.5.3.1.5). */
#define SMTP_REPLY_LINE_MAX 512
/** Default bound on the lines of one reply. */
#define SMTP_REPLY_LINES_MAX 100

/**
 * @brief Create a reply parser.
 * @param mem allocator, or NULL for smtp_mem_default(); copied.
 * @param max_line longest accepted line including CRLF (0: ::SMTP_REPLY_LINE_MAX).
 * @param max_lines most lines in one reply (0: ::SMTP_REPLY_LINES_MAX).
 *
 * @p max_line must be 5..65536 and @p max_lines at most 65536. A whole reply
 * (codes, text and CRLFs of all its lines) is bounded by the larger of 8192
 * octets and 8 * @p max_line, but never more than @p max_line * @p max_lines;
 * a longer reply gives ::SMTP_ERR_REPLY_TOO_LONG. The parser makes one
 * allocation through @p mem here, of under 1 KiB: room for 512 octets of
 * text and 16 lines. A reply that needs more makes smtp_reply_parser_feed()
 * move the store to a larger block (doubling, never past the bounds); the
 * parser keeps it, so feeding allocates only when a reply is larger than
 * every earlier one, a few times at most in a parser's life.
 * @param out set to the new parser, or to NULL on failure; free it with
 *        smtp_reply_parser_del().
 * @return ::SMTP_OK, ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, an allocator
 *         without malloc/free, limits out of range) or ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_reply_parser_new(smtp_reply_parser **out, size_t max_line, size_t max_lines, const smtp_mem *mem);

/**
 * @brief Free a parser and everything it holds; NULL does nothing.
 *
 * Every span of its last reply becomes invalid.
 * @param p a parser from smtp_reply_parser_new(), or NULL.
 */
SMTP_API void smtp_reply_parser_del(smtp_reply_parser *p);

/**
 * @brief Feed received bytes; stops right after the end of a complete reply.
 *
 * Lines end only at CRLF. Each line is three digits then a space, a
 * hyphen or the end of the line; a hyphen continues the reply; every line
 * must carry the same code. When ENHANCEDSTATUSCODES is enabled with
 * smtp_reply_parser_set_enhanced(), an enhanced code at the start of a line's
 * text whose class equals the reply's first digit is recognised and taken
 * out of that line's text, with the one space after it; one whose class
 * differs, or a malformed one ("5.01.1"), is left in the text. The reply's
 * enhanced code is the first line's.
 *
 * Text may hold HTAB, printable ASCII and octets >= 0x80 (RFC 5321 4.2,
 * RFC 6531 3.7.4); a bare LF, a CR not followed by LF, NUL, DEL or another
 * control is ::SMTP_ERR_REPLY_SYNTAX. "NNN " with empty text is accepted.
 *
 * Feeding stops right after the CRLF that completes a reply, so pipelined
 * replies (RFC 2920) are taken one at a time: when the return value is less
 * than @p len, read the reply and feed the rest. A feed with @p len > 0 after
 * a complete reply starts the next reply (the previous reply and its spans
 * are gone); a feed with @p len == 0 changes nothing and returns 0.
 *
 * The parser copies what it keeps: @p data may be reused as soon as the
 * call returns, and the reply's spans point into the parser, not into
 * @p data.
 *
 * @param p the parser.
 * @param data received bytes (not NUL-terminated); may be NULL when @p len is 0.
 * @param len bytes in @p data.
 * @return bytes consumed (>= 0); check smtp_reply_parser_done() to learn whether a
 *         reply is complete. Errors (sticky until reset): ::SMTP_ERR_REPLY_SYNTAX,
 *         ::SMTP_ERR_REPLY_CODE_MISMATCH, ::SMTP_ERR_REPLY_TOO_LONG,
 *         ::SMTP_ERR_REPLY_TOO_MANY_LINES, ::SMTP_ERR_NOMEM (the store had
 *         to grow and the allocator failed); once one of these is returned every
 *         later feed returns it again until smtp_reply_parser_reset().
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p p, or NULL @p data with
 *         @p len > 0) is not sticky.
 */
SMTP_API smtp_ssize smtp_reply_parser_feed(smtp_reply_parser *p, const char *data, size_t len);

/**
 * @brief Whether a complete reply is available.
 * @param p the parser, or NULL.
 * @return 1 when a complete reply is available; 0 otherwise (more bytes are
 *         needed, the parser holds a sticky error, or @p p is NULL).
 */
SMTP_API int smtp_reply_parser_done(const smtp_reply_parser *p);

/**
 * @brief The complete reply.
 * @param p the parser, or NULL.
 * @return the reply, owned by the parser, or NULL when none is complete
 *         (see smtp_reply_parser_done()). The reply and every span in it
 *         stay valid until the next smtp_reply_parser_feed() with
 *         @p len > 0, smtp_reply_parser_reset() or smtp_reply_parser_del().
 */
SMTP_API const smtp_reply *smtp_reply_parser_reply(const smtp_reply_parser *p);

/**
 * @brief Forget the current reply (and any sticky error) and start afresh.
 *
 * The previous reply's spans become invalid. The limits and the
 * enhanced-code setting are kept. Never allocates.
 * @param p the parser; NULL does nothing.
 */
SMTP_API void smtp_reply_parser_reset(smtp_reply_parser *p);

/**
 * @brief Turn recognition of enhanced codes on or off (default off).
 *
 * Turn it on once the server has advertised ENHANCEDSTATUSCODES (RFC 2034);
 * it applies to lines that end after this call.
 * @param p the parser; NULL does nothing.
 * @param on non-zero to recognise enhanced codes, 0 to leave them in the text.
 */
SMTP_API void smtp_reply_parser_set_enhanced(smtp_reply_parser *p, int on);

/**
 * @brief Format a reply.
 *
 * @p text holds one or more lines separated by LF (no CR); each becomes a
 * reply line "code-" ... "code " with @p enhanced (when not NULL) repeated
 * on every line (RFC 2034). A text line that would make a reply line longer
 * than 512 octets (CRLF included) is split. Empty @p text gives "code" plus
 * the enhanced code, if any. A text line that is empty gives "code-" (or
 * "code-c.s.d") on a line of its own. A split keeps every byte of the text
 * (the pieces concatenate to the original line) and avoids cutting a UTF-8
 * sequence. The output is not NUL-terminated. Codes whose second digit is
 * above 5 are refused like codes outside 200..599 (RFC 5321 4.2).
 * @param buf output buffer, owned by the caller (no NUL is written).
 * @param buflen size of @p buf.
 * @param code the reply code, 200..599.
 * @param enhanced enhanced code for every line, or NULL for none; its class
 *        must equal the first digit of @p code.
 * @param text the reply text, lines separated by LF (not NUL-terminated);
 *        may be NULL when @p textlen is 0.
 * @param textlen bytes in @p text.
 * @return bytes written, ::SMTP_ERR_BUFFER_TOO_SMALL, ::SMTP_ERR_BAD_CHAR (CR, NUL
 *         or another control except LF and HTAB in @p text), ::SMTP_ERR_INVALID_ARGUMENT
 *         (code outside 200..599 or enhanced class not equal to the code's first digit).
 */
SMTP_API smtp_ssize smtp_reply_format(char *buf, size_t buflen, int code,
                                      const smtp_enhanced_code *enhanced, const char *text,
                                      size_t textlen);

/**
 * @brief Situations with a default reply (code, enhanced code, text).
 *
 * Checked against the IANA enhanced status code registry by a test.
 */
typedef enum smtp_status_id {
  SMTP_STATUS_GREETING = 0,       /**< 220 */
  SMTP_STATUS_GREETING_REFUSED,   /**< 554 5.3.2 No SMTP service here */
  SMTP_STATUS_HELO_OK,            /**< 250 */
  SMTP_STATUS_OK,                 /**< 250 2.0.0 OK */
  SMTP_STATUS_MAIL_OK,            /**< 250 2.1.0 Sender OK */
  SMTP_STATUS_RCPT_OK,            /**< 250 2.1.5 Recipient OK */
  SMTP_STATUS_DATA_START,         /**< 354 End data with \<CR>\<LF>.\<CR>\<LF> */
  SMTP_STATUS_DATA_OK,            /**< 250 2.0.0 Message accepted */
  SMTP_STATUS_RSET_OK,            /**< 250 2.0.0 Reset */
  SMTP_STATUS_NOOP_OK,            /**< 250 2.0.0 OK */
  SMTP_STATUS_QUIT,               /**< 221 2.0.0 Bye */
  SMTP_STATUS_VRFY_CANNOT,        /**< 252 2.5.0 Cannot VRFY user */
  SMTP_STATUS_EXPN_REFUSED,       /**< 502 5.5.1 EXPN not available (RFC 5321 3.5.2: 502 or 252) */
  SMTP_STATUS_HELP,               /**< 214 2.0.0 */
  SMTP_STATUS_STARTTLS_GO,        /**< 220 2.0.0 Ready to start TLS */
  SMTP_STATUS_TLS_NOT_AVAILABLE,  /**< 454 4.7.0 TLS not available */
  SMTP_STATUS_AUTH_OK,            /**< 235 2.7.0 Authentication successful */
  SMTP_STATUS_AUTH_FAILED,        /**< 535 5.7.8 Authentication credentials invalid */
  SMTP_STATUS_AUTH_CANCELLED,     /**< 501 5.7.0 Authentication cancelled */
  SMTP_STATUS_AUTH_BAD_BASE64,    /**< 501 5.5.2 Cannot decode response */
  SMTP_STATUS_AUTH_MECH_UNKNOWN,  /**< 504 5.5.4 Unrecognized authentication type */
  SMTP_STATUS_AUTH_TOO_WEAK,      /**< 534 5.7.9 Authentication mechanism is too weak */
  SMTP_STATUS_AUTH_TEMP,          /**< 454 4.7.0 Temporary authentication failure */
  SMTP_STATUS_AUTH_REQUIRED,      /**< 530 5.7.0 Authentication required */
  SMTP_STATUS_ENCRYPTION_REQUIRED,/**< 530 5.7.0 Must issue a STARTTLS command first */
  SMTP_STATUS_AUTH_ENCRYPTION_REQUIRED, /**< 538 5.7.11 Encryption required for requested authentication mechanism */
  SMTP_STATUS_SYNTAX_ERROR,       /**< 500 5.5.2 Syntax error, command unrecognized */
  SMTP_STATUS_LINE_TOO_LONG,      /**< 500 5.5.6 Line too long */
  SMTP_STATUS_PARAM_SYNTAX,       /**< 501 5.5.4 Syntax error in parameters or arguments */
  SMTP_STATUS_BAD_ADDRESS_SYNTAX, /**< 501 5.1.3 Bad address syntax */
  SMTP_STATUS_BAD_SENDER_SYNTAX,  /**< 501 5.1.7 Bad sender address syntax */
  SMTP_STATUS_NOT_IMPLEMENTED,    /**< 502 5.5.1 Command not implemented */
  SMTP_STATUS_BAD_SEQUENCE,       /**< 503 5.5.1 Bad sequence of commands */
  SMTP_STATUS_PARAM_NOT_IMPLEMENTED, /**< 504 5.5.4 Command parameter not implemented */
  SMTP_STATUS_PARAM_UNKNOWN,      /**< 555 5.5.4 MAIL/RCPT parameters not recognized */
  SMTP_STATUS_MAILBOX_UNKNOWN,    /**< 550 5.1.1 Mailbox unknown */
  SMTP_STATUS_MAILBOX_TEMPFAIL,   /**< 450 4.2.0 Mailbox temporarily unavailable */
  SMTP_STATUS_MAILBOX_NAME_INVALID, /**< 553 5.1.3 Mailbox name not allowed */
  SMTP_STATUS_TOO_MANY_RCPTS,     /**< 452 4.5.3 Too many recipients */
  SMTP_STATUS_SIZE_EXCEEDED,      /**< 552 5.3.4 Message size exceeds fixed limit */
  SMTP_STATUS_STORAGE_TEMP,       /**< 452 4.3.1 Insufficient system storage */
  SMTP_STATUS_NO_VALID_RCPTS,     /**< 554 5.5.1 No valid recipients */
  SMTP_STATUS_NEEDS_SMTPUTF8,     /**< 553 5.6.7 Address requires SMTPUTF8 */
  SMTP_STATUS_BARE_LINE_END,      /**< 550 5.6.0 Bare CR or LF in message (X.6.11 is not registered with IANA) */
  SMTP_STATUS_DATA_REFUSED,       /**< 554 5.6.0 Message content refused */
  SMTP_STATUS_NULL_BYTE,          /**< 554 5.6.0 Message contains NUL */
  SMTP_STATUS_REQUIRETLS_NEEDS_TLS, /**< 530 5.7.10 REQUIRETLS needs a TLS session */
  SMTP_STATUS_TIMEOUT,            /**< 421 4.4.2 Timeout, closing connection */
  SMTP_STATUS_SHUTDOWN,           /**< 421 4.3.2 Service shutting down */
  SMTP_STATUS_TOO_MANY_ERRORS,    /**< 421 4.7.0 Too many errors */
  SMTP_STATUS_LOCAL_ERROR,        /**< 451 4.3.0 Local error in processing */
  SMTP_STATUS_COUNT               /**< Number of entries (not a situation). */
} smtp_status_id;

/** @brief A default reply. */
typedef struct smtp_status {
  int code;                    /**< Reply code. */
  smtp_enhanced_code enhanced; /**< Enhanced code ({0,0,0} when the reply has none). */
  const char *text;            /**< Static text, never NULL. */
} smtp_status;

/**
 * @brief The default reply for a situation.
 * @param id an ::smtp_status_id.
 * @return a static entry that lives as long as the program, or NULL when
 *         @p id is out of range (negative or at least ::SMTP_STATUS_COUNT).
 */
SMTP_API const smtp_status *smtp_status_default(int id);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_REPLY_H */
