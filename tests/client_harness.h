/* Transcript harness for the client session tests (test_client*.c).
 *
 * A script is text, one step per line:
 *   "S: text"   a server reply line (CRLF appended); consecutive S lines are
 *               fed together, whole, one byte at a time or at random splits
 *   "R: text"   raw server bytes, C escapes (\r \n \0 \xHH), nothing appended
 *   "X: text"   raw client bytes (escapes), nothing appended
 *   "C: text"   a line the client must have written (CRLF appended); checked,
 *               byte for byte, before the next server bytes are fed
 *   "TLS"       the transport finished the handshake (tls_started)
 *   "LOST"      the connection ended; "TIMEOUT" the deadline passed
 *   "QUIT"      the application asks for QUIT
 *   "SUBMIT"    submit the harness transaction (again)
 *   "PUSH text" push body bytes (escapes), "PUSHLAST text" with last=1
 * Every event is logged in a compact form ("RCPT 0 250", "DONE 0 2 2", ...)
 * and compared at the end with the expected log. */
#ifndef CLIENT_HARNESS_H
#define CLIENT_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/client.h>

enum { FEED_WHOLE = 0, FEED_BYTES = 1, FEED_RANDOM = 2 };

typedef struct harness harness;
typedef void (*harness_setup_fn)(harness *h);

struct harness {
  smtp_client_session *c;
  smtp_client_callbacks *cbs;
  smtp_client_options *opt;
  smtp_client_txn *txn;
  int mode;
  uint32_t seed;
  char log[32768];
  size_t loglen;
  char out[262144];
  size_t outlen;      /* client bytes collected */
  size_t checked;     /* of which compared already */
  char expect[262144];
  size_t explen;
  int event_mode;
  int submit_again;   /* txn_done submits the transaction again (times) */
  int quit_on_done;   /* txn_done asks for QUIT (default) */
  int no_submit;      /* do not submit the transaction at start */
  const char *read_src; /* read_body source */
  size_t read_len, read_off, read_chunk;
  int read_fail;      /* read_body returns this error once */
  int trace;          /* log trace lines too */
  int pause_on;       /* callbacks return SMTP_ERR_PAUSE */
  int fail_on_event;  /* callback fails on this event type */
  const smtp_mem *mem;
  int new_rc;         /* smtp_client_session_new result */
};
uint32_t h_rand(harness *h);
void h_log(harness *h, const char *fmt, ...);
void h_log_event(harness *h, const smtp_client_event *ev);
int h_handle(harness *h, const smtp_client_event *ev);
int h_on_event(smtp_client_session *c, const smtp_client_event *ev, void *ud);
smtp_ssize h_read_body(smtp_client_session *c, smtp_client_txn *t, char *buf, size_t len,
                       int *eof, void *ud);
void h_trace(smtp_client_session *c, int dir, const char *line, size_t len, void *ud);

/* Collect everything the client wants to write. */
void h_drain(harness *h);
void h_check_output(harness *h);
size_t h_unescape(const char *s, size_t n, char *out);
void h_feed(harness *h, const char *data, size_t len);
void h_events(harness *h);

/* Create the session (options may have been set by @p setup). */
void h_start(harness *h, harness_setup_fn setup, int mode, uint32_t seed);
void h_end(harness *h);

/* Run @p script; returns with h->log filled. */
void h_run(harness *h, const char *script);
void h_expect_log(harness *h, const char *expected);

/* The whole test: every feeding mode, several random seeds. */
void h_transcript(harness_setup_fn setup, const char *script, const char *expected_log);

/* Common transaction: from, recipients, body. */
void h_txn(harness *h, const char *from, const char *const *rcpts, size_t n,
           const char *body);

/* ---------------------------------------------------------------------
 * A tiny scripted server for bulk tests: it reads the client's output,
 * answers every command (pipelined answers are sent together), collects
 * the message (DATA un-stuffed by smtp_unstuff, BDAT by count) and checks
 * nothing else. */
#include <smtp/data.h>

typedef struct fake_server {
  const char *ehlo;      /* the whole EHLO reply, CRLF lines */
  int rcpt_fail_every;   /* RCPT number k (0-based) with k % n == 0 gets 550 (0: never) */
  int lmtp;
  char *body;            /* delivered message(s), appended */
  size_t bodylen, bodycap;
  int nmail, nrcpt, ndata, nbdat, nrset;
  size_t rcpt_in_txn, ok_in_txn;
  int state;             /* 0 commands, 1 DATA, 2 BDAT bytes */
  uint64_t bdat_left;
  int bdat_last;
  smtp_unstuffer un;
  char line[4096];
  size_t linelen;
  char replies[1 << 20];
  size_t rlen;
  int closed;
} fake_server;
void fs_reply(fake_server *fs, const char *s);
void fs_body(fake_server *fs, const char *p, size_t n);
void fs_final(fake_server *fs);
void fs_command(fake_server *fs, const char *l, size_t n);

/* Consume client bytes. */
void fs_input(fake_server *fs, const char *p, size_t n);

/* Pump until the session ends; replies are fed at random splits. */
void fs_run(harness *h, fake_server *fs, const char *greeting);

#endif
