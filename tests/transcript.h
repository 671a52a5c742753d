/* Transcript helper: runs "C: ..." / "S: ..." scripts against a server
 * session (tr_check) or a client session (tr_client_check, below) whole,
 * one byte at a time and at random split points (seeded, deterministic),
 * and asserts the exact server output, the order of the
 * callbacks and that nothing leaked.
 *
 * Script lines (one per line, "\n"-separated; escapes \r \n \t \0 \\ \xHH
 * and \{N:c} = the character c repeated N times):
 *   C: text     client sends text + CRLF
 *   C- text     client sends text as is (no CRLF)
 *   S: text     the server must send text + CRLF (all S lines, in order, are
 *               the whole expected output)
 *   E: event    the next expected callback event, as logged (see below)
 *   A: ev act   how the application answers the next "ev" event (queued per
 *               event in order): ok | refuse | defer | pause | fail |
 *               reply CODE [x.y.z] [text, "\n" for more lines] |
 *               challenge TEXT | accept ID; "hide EXT [then ACT]" first
 *               calls smtp_server_session_ehlo_hide() (EXT: a keyword)
 *   R: act      when an answer was deferred: answer now (reply/challenge/accept)
 *   O: opt      an option (see transcript.c: lmtp, tls, max_rcpt N, ...)
 *   T:          the TLS handshake happens here (the output so far must be
 *               drained and want_tls set)
 *   X: action   timeout | shutdown, here
 *   Z: state    at the end: closed | open
 *   # comment
 *
 * Events: connect | ehlo VERB name | mail <addr> [k=v...] | rcpt <addr> [k=v]
 *   | data_start | data <bytes, escaped> | data_end size=N [refused=E] [rcpt=I] [bdat]
 *   | rset | noop | quit | starttls | vrfy ARG | expn ARG | help ARG
 *   | unknown VERB ARGS | auth MECH authzid/authcid/password
 *   | auth_step MECH step [response] | bdat_chunk SIZE (with O: bdat_cb)
 */
#ifndef TESTS_TRANSCRIPT_H
#define TESTS_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include <smtp/server.h>

/* A counting allocator that can fail its Nth allocation (1-based; 0 = never). */
typedef struct tr_mem {
  smtp_mem mem;
  size_t live;      /* allocations not freed */
  size_t count;     /* allocations attempted */
  size_t fail_at;
  size_t bytes;     /* bytes currently allocated */
  size_t peak;      /* most bytes at once */
} tr_mem;

void tr_mem_init(tr_mem *m, size_t fail_at);

enum { TR_WHOLE = 0, TR_BYTES = 1, TR_RANDOM = 2 };

typedef struct tr_app tr_app;

/* Optional hook: change options and callbacks after the script's O: lines. */
typedef void (*tr_setup_fn)(smtp_server_options *o, smtp_server_callbacks *cb);

/* Run one script in one mode; returns 0 when everything matched, else
 * writes what differed into err. */
int tr_run(const char *script, tr_setup_fn setup, int mode, unsigned seed, char *err,
           size_t errlen);

/* Run the script whole, byte by byte and at many random splits (with random
 * output draining); fails the cmocka test on the first mismatch. */
void tr_check(const char *script, tr_setup_fn setup);

/* A cmocka test @p name that runs tr_check(@p script, NULL). */
#define TR_TEST(name, script)      \
  static void name(void **state) { \
    (void)state;                   \
    tr_check(script, NULL);        \
  }

/* Log an event from a custom callback (user_data of the session is the tr_app). */
void tr_log(tr_app *a, const char *fmt, ...);

/* Escape bytes for the event log (printable ASCII kept, others \xHH, CR \r, LF \n). */
size_t tr_escape(char *out, size_t cap, const char *p, size_t n);

/* Decode a script escape string into bytes; returns the length (malloc'ed *out). */
size_t tr_unescape(const char *in, size_t len, char **out);

/* The client side. The same script syntax seen from the client: "S:" lines
 * are what the server sends (fed to a client session in event mode), "C:"
 * lines are what the client must send, "E:" lines the events it must report
 * ("greeting 220", "rcpt 0 250", "txn_done delivered=1", "closed 0", ...).
 * The transaction: "M: from", "R: rcpt" (repeatable), then "B: body" submits
 * it and asks for QUIT. Options first: "O: lmtp", "O: disable FLAGS". */
int tr_client_run(const char *script, int mode, unsigned seed, char *err, size_t errlen);
/* Whole, byte by byte and at many random splits; fails the cmocka test on
 * the first mismatch (output, events or a leak). */
void tr_client_check(const char *script);

#endif
