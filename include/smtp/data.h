/**
 * @file data.h
 * @brief Message data framing: dot-stuffing for DATA (RFC 5321 4.5.2),
 *        end-of-data detection on raw bytes (before any normalisation, so no bare CR/LF form ends data), and BDAT
 *        chunk framing (RFC 3030).
 */
#ifndef SMTP_DATA_H
#define SMTP_DATA_H

#include <smtp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest text line, CRLF included (RFC 5321 4.5.3.1.6). */
#define SMTP_TEXT_LINE_MAX 1000

/** @brief What the un-stuffer saw in the message so far (bit flags). */
typedef enum smtp_data_seen {
  SMTP_DATA_SEEN_BARE_CR = 1u << 0,   /**< A CR not followed by LF. */
  SMTP_DATA_SEEN_BARE_LF = 1u << 1,   /**< An LF not preceded by CR. */
  SMTP_DATA_SEEN_NUL = 1u << 2,       /**< A NUL octet. */
  SMTP_DATA_SEEN_8BIT = 1u << 3,      /**< An octet >= 0x80. */
  SMTP_DATA_SEEN_LONG_LINE = 1u << 4  /**< A line over 1000 octets incl. CRLF. */
} smtp_data_seen;

/**
 * @brief State of the DATA decoder. Zero-initialise it (or call
 *        smtp_unstuffer_reset()) before the first byte of each message.
 */
typedef struct smtp_unstuffer {
  unsigned int state; /**< Internal. */
  unsigned int seen;  /**< ::smtp_data_seen bits accumulated over the message. */
  uint64_t line_len;  /**< Internal: octets of the current line so far. */
  uint64_t total;     /**< Unstuffed octets delivered so far (the terminator excluded). */
  uint64_t reserved[2]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_unstuffer;

/**
 * @brief Reset @p d for a new message (the same as zero-initialising it).
 * @param d the decoder state; NULL does nothing.
 */
SMTP_API void smtp_unstuffer_reset(smtp_unstuffer *d);

/**
 * @brief Decode DATA in place.
 *
 * Reads @p *len raw wire bytes of @p buf and writes the unstuffed message
 * bytes to the start of @p buf (output never outruns input). The message
 * starts at a line start. End of data is recognised only at CRLF "." CRLF
 * on the raw bytes (the CRLF before the dot belongs to the message); no
 * other sequence ends data. A "." at the start of a line (after CRLF) is
 * removed. Bare CR, bare LF, NUL, 8-bit octets and long lines are passed
 * through unchanged and reported in smtp_unstuffer::seen for the caller's
 * policy. State is kept across calls, so the input may be split anywhere
 * and the concatenated output is the same.
 *
 * Held-back bytes: a dot at a line start is dropped at once (RFC 5321
 * 4.5.2), and a CR right after it is held back until the next byte shows
 * whether it ends data. If a call ends there and the next byte is not LF,
 * that CR is message data; to keep output within input in place, the
 * decoder then delivers the rest of the message one byte late (one byte is
 * kept in @p d) until the next dropped dot or the end of data, where it
 * catches up. So at most one byte of data is ever held between calls, and
 * none is lost. Bytes after the terminator are never examined.
 *
 * @param d decoder state, zero-initialised for each message.
 * @param buf in: raw bytes; out: unstuffed bytes.
 * @param len in: bytes in @p buf; out: unstuffed bytes written.
 * @param consumed set to raw bytes consumed: all of them, or, when the end of
 *        data was found, up to and including the final CRLF (the rest is the
 *        next command).
 * @return 0 (more data expected), 1 (end of data found; further calls
 *         return 1 and consume nothing until smtp_unstuffer_reset()), or
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p d / @p len / @p consumed, NULL
 *         @p buf with a non-zero length, or a corrupted state).
 */
SMTP_API int smtp_unstuff(smtp_unstuffer *d, char *buf, size_t *len, size_t *consumed);

/** @brief Options of the dot-stuffing encoder (bit flags). */
typedef enum smtp_stuffer_flags {
  SMTP_STUFF_ALLOW_LONG_LINES = 1u << 0, /**< Do not refuse lines over 1000 octets. */
  SMTP_STUFF_REFUSE_BARE = 1u << 1       /**< Refuse bare CR/LF instead of normalising to CRLF. */
} smtp_stuffer_flags;

/** @brief State of the DATA encoder; zero-initialise or smtp_stuffer_init(). */
typedef struct smtp_stuffer {
  unsigned int state;  /**< Internal. */
  unsigned int flags;  /**< ::smtp_stuffer_flags */
  unsigned int seen;   /**< ::smtp_data_seen bits of the input so far. */
  uint64_t line_len;   /**< Internal. */
  uint64_t reserved[2]; /**< Zero. Room for fields added in a later 1.x release:
                          the size of this struct never changes within a major
                          version. */
} smtp_stuffer;

/**
 * @brief Initialise an encoder for a new message (also clears a sticky error).
 * @param e the encoder state, owned by the caller; NULL does nothing.
 * @param flags ::smtp_stuffer_flags bits (0 for the RFC 5321 defaults:
 *        normalise bare CR/LF, refuse long lines).
 */
SMTP_API void smtp_stuffer_init(smtp_stuffer *e, unsigned int flags);

/**
 * @brief Worst-case output of smtp_stuff() for @p n input bytes: every byte a
 *        bare LF that becomes CRLF plus a stuffed dot ("\n." -> "\r\n..").
 */
#define SMTP_STUFF_MAX_OUTPUT(n) (2 * (n) + 2)
/** @brief Output smtp_stuff_finish() may need: CRLF "." CRLF plus a pending CR's LF. */
#define SMTP_STUFF_FINISH_MAX 6

/**
 * @brief Dot-stuff message bytes for DATA.
 *
 * Every line, the first included, that starts with "." gets another "."
 * (RFC 5321 4.5.2). Bare CR and bare LF become CRLF (unless
 * ::SMTP_STUFF_REFUSE_BARE), even across chunk splits: a CR at the end of
 * @p in stays pending until the next byte (or smtp_stuff_finish()) decides.
 * Lines longer than 1000 octets with CRLF (the stuffing dot not counted,
 * RFC 5321 4.5.3.1.6) are refused unless ::SMTP_STUFF_ALLOW_LONG_LINES.
 * Converts as much as fits in @p out and never writes past @p outcap; any
 * @p outcap >= 1 makes progress (a two-byte output may be split across
 * calls), and an @p outcap of SMTP_STUFF_MAX_OUTPUT(@p inlen) always takes
 * all the input.
 * @param e encoder state from smtp_stuffer_init().
 * @param in message bytes (not NUL-terminated); may be NULL when @p inlen is 0.
 * @param inlen bytes in @p in.
 * @param out where the wire bytes go; owned by the caller.
 * @param outcap room in @p out.
 * @param consumed set to input bytes consumed; on error, the offset of the
 *        offending byte (bytes before it were converted into @p out, but
 *        the message must be abandoned: close without the terminator).
 * @return bytes written, or ::SMTP_ERR_NUL, ::SMTP_ERR_LINE_TOO_LONG,
 *         ::SMTP_ERR_BARE_CR / ::SMTP_ERR_BARE_LF (with ::SMTP_STUFF_REFUSE_BARE),
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL pointers),
 *         ::SMTP_ERR_INVALID_STATE (after smtp_stuff_finish()). After an
 *         error the encoder stays failed and returns the same error.
 */
SMTP_API smtp_ssize smtp_stuff(smtp_stuffer *e, const char *in, size_t inlen,
                               size_t *consumed, char *out, size_t outcap);

/**
 * @brief End the message: CRLF if the body did not end with one, then "." CRLF.
 * A pending CR is a bare CR: it becomes CRLF, or ::SMTP_ERR_BARE_CR with
 * ::SMTP_STUFF_REFUSE_BARE. An empty body gives just "." CRLF.
 * @param e the encoder state after the last smtp_stuff(); it is finished
 *        afterwards (smtp_stuffer_init() starts a new message).
 * @param out where the wire bytes go; owned by the caller.
 * @param outcap room in @p out; ::SMTP_STUFF_FINISH_MAX always suffices.
 * @return bytes written, or ::SMTP_ERR_BUFFER_TOO_SMALL (needs at most
 *         ::SMTP_STUFF_FINISH_MAX; not sticky, call again), the encoder's
 *         sticky error, ::SMTP_ERR_BARE_CR, ::SMTP_ERR_INVALID_STATE (called
 *         twice) or ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API smtp_ssize smtp_stuff_finish(smtp_stuffer *e, char *out, size_t outcap);

/**
 * @brief Scan a whole body in memory: ::smtp_data_seen bits (8-bit, NUL, bare
 *        CR/LF, long lines), e.g. to choose BODY= before MAIL.
 *
 * Lines end only at CRLF; a last line without CRLF is measured as if
 * smtp_stuff_finish() added one. Reads @p body only during the call.
 * @param body the whole message (not NUL-terminated); NULL gives 0.
 * @param len bytes in @p body.
 * @return the ::smtp_data_seen bits found (0 for a 7-bit body with CRLF line
 *         ends and no line over 1000 octets). This function cannot fail.
 */
SMTP_API unsigned int smtp_data_scan(const char *body, size_t len);

/**
 * @brief Scan a whole body in memory as smtp_stuff() will send it: the
 *        ::smtp_data_seen bits and the message size after normalisation,
 *        in one pass (e.g. for BODY= and SIZE= before MAIL).
 *
 * Unlike smtp_data_scan(), a bare CR and a bare LF end a line here, because
 * the stuffer (without ::SMTP_STUFF_REFUSE_BARE) sends each as CRLF; they
 * are still reported as ::SMTP_DATA_SEEN_BARE_CR / ::SMTP_DATA_SEEN_BARE_LF.
 * CR LF is one line end. A line longer than 1000 octets with its CRLF
 * (RFC 5321 4.5.3.1.6; the stuffing dot not counted) sets
 * ::SMTP_DATA_SEEN_LONG_LINE, and a last line without a line end is measured
 * with the CRLF smtp_stuff_finish() adds.
 *
 * @p wire_size is the size RFC 1870 3 declares: the octets of the message as
 * sent, after every bare CR / bare LF became CRLF and the missing final CRLF
 * was added, without dot-stuffing and without the "." CRLF terminator (the
 * same count fits the text of a BDAT transfer, RFC 3030 2). An empty body
 * measures 0. Reads @p body only during the call.
 * @param body the whole message (not NUL-terminated); NULL gives 0 bits and
 *        a size of 0.
 * @param len bytes in @p body.
 * @param wire_size set to the normalised size in octets; may be NULL.
 * @return the ::smtp_data_seen bits found (0 for a 7-bit body with CRLF line
 *         ends and no line over 1000 octets). This function cannot fail.
 */
SMTP_API unsigned int smtp_data_measure(const char *body, size_t len, uint64_t *wire_size);

/**
 * @brief Format a BDAT command line: "BDAT " chunk-size [" LAST"] CRLF (RFC 3030 2).
 * @param buf output buffer, owned by the caller; no NUL is written.
 * @param buflen size of @p buf; 32 bytes always suffice.
 * @param size the chunk size in octets (0 is allowed, e.g. for "BDAT 0 LAST").
 * @param last non-zero to add " LAST".
 * @return bytes written, ::SMTP_ERR_BUFFER_TOO_SMALL (nothing written), or
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p buf with @p buflen > 0).
 */
SMTP_API smtp_ssize smtp_bdat_format(char *buf, size_t buflen, uint64_t size, int last);

/**
 * @brief Parse BDAT arguments: chunk-size [SP "LAST"] (RFC 3030 2; LAST any case).
 *
 * @p args is the text after "BDAT" SP, without CRLF. chunk-size is
 * 1*DIGIT; leading zeros allowed; overflow is an error. Exactly one SP
 * before "LAST"; nothing else may follow.
 * @param args the arguments (not NUL-terminated).
 * @param len bytes in @p args.
 * @param size set to the chunk size on success.
 * @param last set to 1 with LAST, else 0; may be NULL.
 * @return ::SMTP_OK, ::SMTP_ERR_SYNTAX, ::SMTP_ERR_OVERFLOW or
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p size, or NULL @p args with a
 *         non-zero length). Outputs are untouched on error.
 */
SMTP_API int smtp_bdat_parse(const char *args, size_t len, uint64_t *size, int *last);

/**
 * @brief Parse a decimal number of 1-20 digits into 64 bits, digits only.
 *
 * No sign, space or other character is accepted (::SMTP_ERR_SYNTAX); more
 * than 20 digits, or a value over UINT64_MAX, is ::SMTP_ERR_OVERFLOW.
 * @param s the digits (not NUL-terminated); may be NULL when @p len is 0.
 * @param len bytes in @p s; 0 is ::SMTP_ERR_SYNTAX.
 * @param out set to the value on success; untouched on error.
 * @return ::SMTP_OK, ::SMTP_ERR_SYNTAX, ::SMTP_ERR_OVERFLOW or
 *         ::SMTP_ERR_INVALID_ARGUMENT (NULL @p out, or NULL @p s with
 *         @p len > 0).
 */
SMTP_API int smtp_parse_u64(const char *s, size_t len, uint64_t *out);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_DATA_H */
