/* Client session core: greeting, EHLO/HELO, transactions with and without
 * PIPELINING (RFC 2920), DATA dot-stuffing (RFC 5321 4.5.2), per-recipient
 * results, RSET, several transactions, QUIT, deadlines (RFC 5321 4.5.3.2),
 * event mode, body sources. Every transcript runs whole, byte by byte and
 * at random split points (client_harness.h). */
#include "client_harness.h"

static const char *const RCPT2[] = {"bob@example.org", "carol@example.org"};

/* ---- setups ---- */

static void setup_basic(harness *h) {
  h_txn(h, "alice@example.com", RCPT2, 2, "Subject: hi\r\n\r\n.dot line\r\nbye\r\n");
}

static void setup_one(harness *h) {
  static const char *const r[] = {"bob@example.org"};
  h_txn(h, "alice@example.com", r, 1, "hello\r\n");
}

static void setup_null_path(harness *h) {
  static const char *const r[] = {"<bob@example.org>"};
  h_txn(h, "", r, 1, "x\n.y\n");
}

static void setup_lmtp(harness *h) {
  static const char *const r[] = {"a@x.org", "b@x.org", "c@x.org"};
  smtp_client_options_set_lmtp(h->opt, 1);
  h_txn(h, "s@x.org", r, 3, "m\r\n");
}

static void setup_no_submit(harness *h) { h->no_submit = 1; h->quit_on_done = 0; }

/* ---- tests ---- */

/* RFC 2920 3.1: MAIL, all RCPTs and DATA in one write; replies in order. */
static void test_pipelined_transaction(void **state) {
  (void)state;
  h_transcript(setup_basic,
               "S: 220 mx.example.org ESMTP\n"
               "C: EHLO client.example\n"
               "S: 250-mx.example.org hello\n"
               "S: 250-PIPELINING\n"
               "S: 250-8BITMIME\n"
               "S: 250 SIZE 1000000\n"
               "C: MAIL FROM:<alice@example.com> SIZE=31\n"
               "C: RCPT TO:<bob@example.org>\n"
               "C: RCPT TO:<carol@example.org>\n"
               "C: DATA\n"
               "S: 250 2.1.0 ok\n"
               "S: 250 2.1.5 ok\n"
               "S: 550 5.1.1 no such user\n"
               "S: 354 go ahead\n"
               "C: Subject: hi\n"
               "C: \n"
               "C: ..dot line\n"
               "C: bye\n"
               "C: .\n"
               "S: 250 2.0.0 queued as 1234\n"
               "C: QUIT\n"
               "S: 221 2.0.0 bye\n",
               "GREETING 220\nCAPS 7\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 550\nBODY 0\n"
               "DATA - 250\nDONE 0 1 1\nCLOSED 0\n");
}

/* Without PIPELINING: one command at a time (RFC 5321 4.1.1). */
static void test_lockstep_transaction(void **state) {
  (void)state;
  h_transcript(setup_basic,
               "S: 220 mx ESMTP\n"
               "C: EHLO client.example\n"
               "S: 250 mx\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "S: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\n"
               "C: RCPT TO:<carol@example.org>\n"
               "S: 251 User not local; will forward to <c@else.org>\n"
               "C: DATA\n"
               "S: 354 go\n"
               "C: Subject: hi\n"
               "C: \n"
               "C: ..dot line\n"
               "C: bye\n"
               "C: .\n"
               "S: 250 ok\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 251\nBODY 0\n"
               "DATA - 250\nDONE 0 2 2\nCLOSED 0\n");
}

/* Null reverse-path, brackets given by the caller, bare LF normalised,
 * first-line dot stuffed, final CRLF added (RFC 5321 4.5.2, 4.1.1.2). */
static void test_null_path_and_normalisation(void **state) {
  (void)state;
  h_transcript(setup_null_path,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250 mx\n"
               "C: MAIL FROM:<>\n"
               "S: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\n"
               "C: DATA\n"
               "S: 354 go\n"
               "C: x\n"
               "C: ..y\n"
               "C: .\n"
               "S: 250 ok\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
}

/* RFC 5321 3.2: HELO only after 500/502 to EHLO. */
static void test_helo_fallback(void **state) {
  (void)state;
  h_transcript(setup_one,
               "S: 220 old.example\n"
               "C: EHLO client.example\n"
               "S: 502 5.5.1 what?\n"
               "C: HELO client.example\n"
               "S: 250 old.example\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "S: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\n"
               "C: DATA\n"
               "S: 354 go\n"
               "C: hello\n"
               "C: .\n"
               "S: 250 ok\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  h_transcript(setup_one,
               "S: 220 old.example\n"
               "C: EHLO client.example\n"
               "S: 500 unrecognised\n"
               "C: HELO client.example\n"
               "S: 550 go away\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nDONE -36 0 0\nCLOSED -36\n");
}

/* Other EHLO refusals do not fall back (RFC 5321 3.2): QUIT and fail. */
static void test_ehlo_refused(void **state) {
  (void)state;
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 550 5.7.1 not you\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nDONE -36 0 0\nCLOSED -36\n");
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 451 4.3.0 later\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nDONE -37 0 0\nCLOSED -37\n");
}

/* RFC 5321 3.1 / 4.3.2: 554 greeting -> QUIT; 421 -> closed; others fail. */
static void test_greetings(void **state) {
  (void)state;
  h_transcript(setup_one,
               "S: 554 5.3.2 no SMTP service here\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 554\nDONE -36 0 0\nCLOSED -36\n");
  h_transcript(setup_one, "S: 421 4.3.2 shutting down\n",
               "GREETING 421\nDONE -37 0 0\nCLOSED -906\n");
  h_transcript(setup_one, "S: 250 I am not a greeting\n",
               "GREETING 250\nDONE -903 0 0\nCLOSED -903\n");
  h_transcript(setup_one,
               "S: 220-multi\nS: 220 line greeting\nC: EHLO client.example\nS: 221 bye\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nDONE -36 0 0\nCLOSED -36\n");
}

/* Multi-line greeting, and the QUIT sequence without a transaction. */
static void test_quit_only(void **state) {
  (void)state;
  h_transcript(setup_no_submit,
               "S: 220-mx.example.org\n"
               "S: 220 welcome\n"
               "C: EHLO client.example\n"
               "S: 250-mx\n"
               "S: 250 PIPELINING\n"
               "QUIT\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 1\nREADY\nCLOSED 0\n");
}

/* Every RCPT refused under PIPELINING: DATA's 554 is consumed, no body,
 * RSET (RFC 2920 3.1). */
static void test_all_rcpts_refused_pipelined(void **state) {
  (void)state;
  h_transcript(setup_basic,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\n"
               "S: 250 PIPELINING\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "C: RCPT TO:<carol@example.org>\n"
               "C: DATA\n"
               "S: 250 ok\n"
               "S: 550 no\n"
               "S: 450 later\n"
               "S: 554 no valid recipients\n"
               "C: RSET\n"
               "S: 250 reset\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 1\nREADY\nMAIL 250\nRCPT 0 550\nRCPT 1 450\nDATA - 554\n"
               "DONE -37 0 0\nCLOSED 0\n");
  /* A server that says 354 anyway gets only the terminator (RFC 2920 3.1). */
  h_transcript(setup_basic,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\n"
               "S: 250 PIPELINING\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "C: RCPT TO:<carol@example.org>\n"
               "C: DATA\n"
               "S: 250 ok\n"
               "S: 550 no\n"
               "S: 550 no\n"
               "S: 354 go on\n"
               "C: .\n"
               "S: 554 no valid recipients\n"
               "C: RSET\n"
               "S: 250 reset\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 1\nREADY\nMAIL 250\nRCPT 0 550\nRCPT 1 550\nDATA - 554\n"
               "DONE -36 0 0\nCLOSED 0\n");
}

/* Without PIPELINING, refused MAIL or all RCPTs: RSET, no DATA. */
static void test_refusals_lockstep(void **state) {
  (void)state;
  h_transcript(setup_basic,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250 mx\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "S: 553 5.1.8 bad sender\n"
               "C: RSET\n"
               "S: 250 ok\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 553\nDONE -36 0 0\nCLOSED 0\n");
  h_transcript(setup_basic,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250 mx\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "S: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 551 User not local; please try <b@else.org>\n"
               "C: RCPT TO:<carol@example.org>\n"
               "S: 550 no\n"
               "C: RSET\n"
               "S: 250 ok\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 551\nRCPT 1 550\n"
               "DONE -36 0 0\nCLOSED 0\n");
}

/* Final reply refusals: 5xx and 4xx after the data; no RSET needed. */
static void test_data_refused(void **state) {
  (void)state;
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250 mx\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "S: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\n"
               "C: DATA\n"
               "S: 354 go\n"
               "C: hello\n"
               "C: .\n"
               "S: 452 4.3.1 disk full\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 452\n"
               "DONE -37 1 0\nCLOSED 0\n");
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250 mx\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "S: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\n"
               "C: DATA\n"
               "S: 503 5.5.1 bad sequence\n"
               "C: RSET\n"
               "S: 250 ok\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nDATA - 503\n"
               "DONE -36 1 0\nCLOSED 0\n");
}

/* Several transactions on one connection, the same object reused. */
static void setup_twice(harness *h) {
  setup_one(h);
  h->submit_again = 1;
}
static void test_two_transactions(void **state) {
  (void)state;
  h_transcript(setup_twice,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\n"
               "S: 250 PIPELINING\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "C: DATA\n"
               "S: 250 ok\nS: 550 no\nS: 554 no rcpts\n"
               "C: RSET\n"
               "S: 250 ok\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "C: DATA\n"
               "S: 250 ok\nS: 250 ok\nS: 354 go\n"
               "C: hello\n"
               "C: .\n"
               "S: 250 ok\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 1\nREADY\nMAIL 250\nRCPT 0 550\nDATA - 554\nDONE -36 0 0\n"
               "SUBMIT 0\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\nDONE 0 1 1\nCLOSED 0\n");
}

/* LMTP (RFC 2033 4.2): LHLO, one reply per accepted recipient after DATA. */
static void test_lmtp(void **state) {
  (void)state;
  h_transcript(setup_lmtp,
               "S: 220 lmtp ready\n"
               "C: LHLO client.example\n"
               "S: 250-lmtp\n"
               "S: 250-PIPELINING\n"
               "S: 250 ENHANCEDSTATUSCODES\n"
               "C: MAIL FROM:<s@x.org>\n"
               "C: RCPT TO:<a@x.org>\n"
               "C: RCPT TO:<b@x.org>\n"
               "C: RCPT TO:<c@x.org>\n"
               "C: DATA\n"
               "S: 250 2.1.0 ok\nS: 250 2.1.5 ok\nS: 550 5.1.1 unknown\nS: 250 2.1.5 ok\n"
               "S: 354 go\n"
               "C: m\n"
               "C: .\n"
               "S: 250 2.0.0 a delivered\n"
               "S: 452 4.2.2 c over quota\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 41\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 550\nRCPT 2 250\n"
               "BODY 0\nDATA 0 250\nDATA 2 452\nDONE 0 2 1\nCLOSED 0\n");
  /* LMTP never falls back to HELO (RFC 2033 4.1). */
  h_transcript(setup_lmtp,
               "S: 220 lmtp\n"
               "C: LHLO client.example\n"
               "S: 500 what\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nDONE -36 0 0\nCLOSED -36\n");
}

/* Lost connection after the data: a temporary failure (docs/security.md 6). */
static void test_connection_lost_after_data(void **state) {
  (void)state;
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250 mx\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "S: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\n"
               "C: DATA\n"
               "S: 354 go\n"
               "C: hello\n"
               "C: .\n"
               "LOST\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDONE -37 1 0\n"
               "CLOSED -907\n");
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250 mx\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "TIMEOUT\n",
               "GREETING 220\nCAPS 0\nREADY\nDONE -37 0 0\nCLOSED -905\n");
  /* EOF after QUIT is the normal end. */
  h_transcript(setup_no_submit,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nQUIT\nC: QUIT\nLOST\n",
               "GREETING 220\nCAPS 0\nREADY\nCLOSED 0\n");
}

/* RFC 5321 4.5.3.2 client timeouts per state. */
static void test_timeouts(void **state) {
  (void)state;
  harness *h = calloc(1, sizeof *h);
  const char *p;
  h_start(h, setup_one, FEED_WHOLE, 0);
  assert_int_equal(smtp_client_session_timeout_ms(h->c), 5 * 60 * 1000); /* greeting */
  assert_true(smtp_client_session_want_read(h->c));
  assert_false(smtp_client_session_want_write(h->c));
  h_feed(h, "220 mx\r\n", 8);
  assert_int_equal(smtp_client_session_timeout_ms(h->c), 5 * 60 * 1000); /* EHLO */
  h_feed(h, "250 mx\r\n", 8);
  assert_int_equal(smtp_client_session_timeout_ms(h->c), 5 * 60 * 1000); /* MAIL */
  h_feed(h, "250 ok\r\n", 8);
  assert_int_equal(smtp_client_session_timeout_ms(h->c), 5 * 60 * 1000); /* RCPT */
  h_feed(h, "250 ok\r\n", 8);
  assert_int_equal(smtp_client_session_timeout_ms(h->c), 2 * 60 * 1000); /* DATA initiation */
  /* the body is produced but not yet written: one data block */
  assert_int_equal(smtp_client_session_mem_recv(h->c, "354 go\r\n", 8), 8);
  assert_int_equal(smtp_client_session_timeout_ms(h->c), 3 * 60 * 1000);
  assert_true(smtp_client_session_mem_send(h->c, &p) > 0);
  h_drain(h);
  assert_int_equal(smtp_client_session_timeout_ms(h->c), 10 * 60 * 1000); /* final reply */
  h_feed(h, "250 ok\r\n", 8);
  h_feed(h, "221 bye\r\n", 9);
  assert_int_equal(smtp_client_session_timeout_ms(h->c), -1);
  assert_false(smtp_client_session_want_read(h->c));
  assert_false(smtp_client_session_want_write(h->c));
  assert_true(smtp_client_session_is_closed(h->c));
  h_end(h);
  free(h);
}

/* Event mode: no callbacks, events polled in order. */
static void setup_event_mode(harness *h) {
  setup_one(h);
  h->event_mode = 1;
}
static void test_event_mode(void **state) {
  (void)state;
  h_transcript(setup_event_mode,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250 PIPELINING\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "C: DATA\n"
               "S: 250 ok\nS: 250 ok\nS: 354 go\n"
               "C: hello\n"
               "C: .\n"
               "S: 250 ok\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 1\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
}

/* Pausing callbacks: mem_recv returns after each reply; the result is the same. */
static void setup_pause(harness *h) {
  setup_basic(h);
  h->pause_on = 1;
}
static void test_pause(void **state) {
  (void)state;
  h_transcript(setup_pause,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250 PIPELINING\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "C: RCPT TO:<carol@example.org>\n"
               "C: DATA\n"
               "S: 250 ok\nS: 250 ok\nS: 250 ok\nS: 354 go\n"
               "C: Subject: hi\nC: \nC: ..dot line\nC: bye\nC: .\n"
               "S: 250 ok\n"
               "C: QUIT\n"
               "S: 221 bye\n",
               "GREETING 220\nCAPS 1\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 250\nBODY 0\n"
               "DATA - 250\nDONE 0 2 2\nCLOSED 0\n");
}

/* A failing callback makes the session unusable. */
static void setup_fail_cb(harness *h) {
  setup_one(h);
  h->fail_on_event = SMTP_CLIENT_EVENT_MAIL;
}
static void test_callback_failure(void **state) {
  (void)state;
  h_transcript(setup_fail_cb,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250 mx\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "S: 250 ok\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRECV -902\nSEND -902\n");
}

/* Body pulled through the read callback in small pieces, and pushed. */
static void setup_read(harness *h) {
  static const char *const r[] = {"bob@example.org"};
  static const char body[] = ".a\r\nb\n.\n\nlast";
  h_txn(h, "alice@example.com", r, 1, NULL);
  assert_int_equal(smtp_client_txn_set_body_source(h->txn, SMTP_CLIENT_BODY_READ), SMTP_OK);
  h->read_src = body;
  h->read_len = sizeof body - 1;
  h->read_chunk = 3;
}
static void test_read_body(void **state) {
  (void)state;
  h_transcript(setup_read,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\n"
               "C: MAIL FROM:<alice@example.com>\nS: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: DATA\nS: 354 go\n"
               "C: ..a\nC: b\nC: ..\nC: \nC: last\nC: .\n"
               "S: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
}

static void setup_push(harness *h) {
  static const char *const r[] = {"bob@example.org"};
  h_txn(h, "alice@example.com", r, 1, NULL);
  assert_int_equal(smtp_client_txn_set_body_source(h->txn, SMTP_CLIENT_BODY_PUSH), SMTP_OK);
}
static void test_push_body(void **state) {
  (void)state;
  h_transcript(setup_push,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\n"
               "PUSH too early\n"
               "C: MAIL FROM:<alice@example.com>\nS: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: DATA\nS: 354 go\n"
               "PUSH line one\\r\\n.\n"
               "PUSH two\\r\n"
               "PUSHLAST \\n\n"
               "C: line one\nC: ..two\nC: .\n"
               "S: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nPUSH -7\nMAIL 250\nRCPT 0 250\nBODY 0\n"
               "DATA - 250\nDONE 0 1 1\nCLOSED 0\n");
}

/* Submitting: validation of the transaction as a whole. */
static void test_submit_rules(void **state) {
  (void)state;
  smtp_client_session *c;
  smtp_client_txn *t, *t2;
  assert_int_equal(smtp_client_session_new(&c, NULL, NULL, NULL, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_new(&t2, NULL), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_ERR_INVALID_ARGUMENT); /* empty */
  assert_int_equal(smtp_client_txn_set_from(t, "a@b.c", 5), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_ERR_INVALID_ARGUMENT); /* no rcpt */
  assert_int_equal(smtp_client_txn_add_rcpt(t, "d@e.f", 5, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_ERR_INVALID_ARGUMENT); /* no body */
  assert_int_equal(smtp_client_txn_set_body_source(t, SMTP_CLIENT_BODY_READ), SMTP_OK);
  /* event mode has no read callback */
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_set_body(t, "x", 1), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_OK);
  /* submitted: frozen */
  assert_int_equal(smtp_client_txn_reset(t), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "g@h.i", 5, 0, NULL, 0), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_client_txn_set_from(t, "a@b.c", 5), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_client_txn_set_from(t2, "a@b.c", 5), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t2, "d@e.f", 5, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body(t2, "x", 1), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t2), SMTP_ERR_INVALID_STATE); /* one at a time */
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_client_txn_rcpt_count(t), 1);
  size_t l;
  const char *a = smtp_client_txn_rcpt_address(t, 0, &l);
  assert_int_equal(l, 5);
  assert_memory_equal(a, "d@e.f", 5);
  assert_null(smtp_client_txn_rcpt_address(t, 1, &l));
  smtp_client_session_del(c); /* releases t */
  assert_int_equal(smtp_client_txn_reset(t), SMTP_OK);
  smtp_client_txn_del(t);
  smtp_client_txn_del(t2);
  smtp_client_session_del(NULL);
  smtp_client_txn_del(NULL);
  smtp_client_options_del(NULL);
  smtp_client_callbacks_del(NULL);
}

/* Per-recipient results are kept in the transaction. */
static void test_rcpt_results(void **state) {
  (void)state;
  harness *h = calloc(1, sizeof *h);
  int rc, dc;
  h_start(h, setup_basic, FEED_WHOLE, 0);
  h->quit_on_done = 0;
  h_run(h,
        "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 PIPELINING\n"
        "C: MAIL FROM:<alice@example.com>\nC: RCPT TO:<bob@example.org>\n"
        "C: RCPT TO:<carol@example.org>\nC: DATA\n"
        "S: 250 ok\nS: 450 later\nS: 250 ok\nS: 354 go\n"
        "C: Subject: hi\nC: \nC: ..dot line\nC: bye\nC: .\nS: 250 ok\n");
  assert_int_equal(smtp_client_txn_rcpt_result(h->txn, 0, &rc, &dc), SMTP_OK);
  assert_int_equal(rc, 450);
  assert_int_equal(dc, 0);
  assert_int_equal(smtp_client_txn_rcpt_result(h->txn, 1, &rc, &dc), SMTP_OK);
  assert_int_equal(rc, 250);
  assert_int_equal(dc, 250);
  assert_int_equal(smtp_client_txn_rcpt_result(h->txn, 2, &rc, &dc), SMTP_ERR_NOT_FOUND);
  h_end(h);
  free(h);
}

/* The trace shows both directions. */
static void setup_trace(harness *h) {
  setup_one(h);
  h->trace = 1;
}
static void test_trace(void **state) {
  (void)state;
  h_transcript(setup_trace,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 ENHANCEDSTATUSCODES\n"
               "C: MAIL FROM:<alice@example.com>\nS: 250 2.1.0 ok\n"
               "C: RCPT TO:<bob@example.org>\nS: 250 2.1.5 ok\n"
               "C: DATA\nS: 354 go\nC: hello\nC: .\nS: 250 2.0.0 ok\nC: QUIT\nS: 221 2.0.0 bye\n",
               "TS 220 mx\nGREETING 220\nTC EHLO client.example\nTS 250-mx\n"
               "TS 250 ENHANCEDSTATUSCODES\nCAPS 40\nREADY\nTC MAIL FROM:<alice@example.com>\n"
               "TS 250 2.1.0 ok\nMAIL 250\nTC RCPT TO:<bob@example.org>\nTS 250 2.1.5 ok\n"
               "RCPT 0 250\nTC DATA\nTS 354 go\nBODY 0\nTC <message: 7 octets>\nTC .\n"
               "TS 250 2.0.0 ok\nDATA - 250\nDONE 0 1 1\nTC QUIT\nTS 221 2.0.0 bye\nCLOSED 0\n");
}

/* Large pipelined batches: more recipients than the reply ring holds, and a
 * body bigger than the output buffer, delivered byte-exact. */
static void test_many_recipients(void **state) {
  (void)state;
  harness *h = calloc(1, sizeof *h);
  fake_server *fs = calloc(1, sizeof *fs);
  char *body = malloc(200000);
  size_t i;
  assert_non_null(h);
  assert_non_null(fs);
  h_start(h, NULL, FEED_RANDOM, 42);
  for (i = 0; i < 199998; i += 100) {
    memset(body + i, 'a' + (int)(i / 100 % 26), 98);
    if (i % 700 == 0) body[i] = '.';
    body[i + 98] = '\r';
    body[i + 99] = '\n';
  }
  assert_int_equal(smtp_client_txn_set_from(h->txn, "a@b.c", 5), SMTP_OK);
  for (i = 0; i < 300; i++) {
    char a[64];
    int n = snprintf(a, sizeof a, "r%zu@example.org", i);
    assert_int_equal(smtp_client_txn_add_rcpt(h->txn, a, (size_t)n, 0, NULL, 0), (smtp_ssize)i);
  }
  assert_int_equal(smtp_client_txn_set_body(h->txn, body, 199998 + 2), SMTP_OK);
  body[199998] = '\r';
  body[199999] = '\n';
  assert_int_equal(smtp_client_session_submit(h->c, h->txn), SMTP_OK);
  fs->ehlo = "250-mx\r\n250 PIPELINING\r\n";
  fs->rcpt_fail_every = 3;
  fs_run(h, fs, "220 mx\r\n");
  assert_non_null(strstr(h->log, "DONE 0 200 200\nCLOSED 0\n"));
  assert_int_equal(fs->nrcpt, 300);
  assert_int_equal(fs->bodylen, 200000);
  assert_memory_equal(fs->body, body, 200000);
  h_end(h);
  free(fs->body);
  free(fs);
  free(h);
  free(body);
}

/* Pipelined group larger than the reply ring (MAIL + 127 RCPT): DATA goes
 * out as soon as a reply frees a slot; every RCPT refused, so the body is
 * never sent and RSET follows (RFC 2920 3.1). */
static void test_refused_group_without_data(void **state) {
  (void)state;
  harness *h = calloc(1, sizeof *h);
  fake_server *fs = calloc(1, sizeof *fs);
  h_start(h, NULL, FEED_RANDOM, 9);
  assert_int_equal(smtp_client_txn_set_from(h->txn, "a@b.c", 5), SMTP_OK);
  for (int i = 0; i < 127; i++) {
    char a[64];
    int n = snprintf(a, sizeof a, "r%d@example.org", i);
    assert_true(smtp_client_txn_add_rcpt(h->txn, a, (size_t)n, 0, NULL, 0) >= 0);
  }
  assert_int_equal(smtp_client_txn_set_body(h->txn, "x\r\n", 3), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(h->c, h->txn), SMTP_OK);
  fs->ehlo = "250-mx\r\n250 PIPELINING\r\n";
  fs->rcpt_fail_every = 1;
  fs_run(h, fs, "220 mx\r\n");
  assert_non_null(strstr(h->log, "DONE -36 0 0\nCLOSED 0\n"));
  assert_true(fs->ndata <= 1);
  assert_int_equal(fs->bodylen, 0);
  assert_int_equal(fs->nrset, 1);
  h_end(h);
  free(fs->body);
  free(fs);
  free(h);
}

/* ---- memory sized by the options; capabilities copied ---- */

typedef struct byte_mem {
  size_t cur, calls;
  size_t fail_from; /* refuse allocation number fail_from (1-based) and later; 0: never */
} byte_mem;
static void *bm_malloc(size_t n, void *ud) {
  byte_mem *m = ud;
  size_t *p;
  if (m->fail_from && m->calls + 1 >= m->fail_from) {
    m->calls++;
    return NULL;
  }
  p = malloc(n + sizeof(size_t) * 2);
  if (!p) return NULL;
  p[0] = n;
  m->cur += n;
  m->calls++;
  return p + 2;
}
static void bm_free(void *q, void *ud) {
  byte_mem *m = ud;
  size_t *p;
  if (!q) return;
  p = (size_t *)q - 2;
  m->cur -= p[0];
  free(p);
}
static void *bm_calloc(size_t a, size_t b, void *ud) {
  void *q = bm_malloc(a * b, ud);
  if (q) memset(q, 0, a * b);
  return q;
}
static void *bm_realloc(void *q, size_t n, void *ud) {
  void *r;
  if (!q) return bm_malloc(n, ud);
  r = bm_malloc(n, ud);
  if (!r) return NULL;
  memcpy(r, q, ((size_t *)q - 2)[0] < n ? ((size_t *)q - 2)[0] : n);
  bm_free(q, ud);
  return r;
}

static smtp_ssize dummy_read(smtp_client_session *c, smtp_client_txn *t, char *buf, size_t len,
                             int *eof, void *ud) {
  (void)c; (void)t; (void)buf; (void)len; (void)ud;
  *eof = 1;
  return 0;
}

/* Own bytes of a new session (its allocation and its reply parser's). */
static size_t session_bytes(const smtp_client_options *o, int with_cbs, int with_read) {
  byte_mem m = {0, 0, 0};
  smtp_mem mem = {&m, bm_malloc, bm_free, bm_calloc, bm_realloc};
  smtp_client_callbacks *cb = NULL;
  smtp_client_session *c;
  size_t n;
  if (with_cbs) {
    assert_int_equal(smtp_client_callbacks_new(&cb, NULL), SMTP_OK);
    if (with_read) smtp_client_callbacks_set_read_body(cb, dummy_read);
  }
  assert_int_equal(smtp_client_session_new(&c, cb, NULL, o, &mem), SMTP_OK);
  assert_int_equal(m.calls, 2); /* the session and its reply parser */
  n = m.cur;
  smtp_client_session_del(c);
  smtp_client_callbacks_del(cb);
  assert_int_equal(m.cur, 0);
  return n;
}

/* Buffers exist only when the options call for them: AUTH buffers with
 * credentials (more with a token), the read stage with a read callback,
 * the event queue in event mode; the output starts at 1.5 KiB whatever the
 * configured size (test_output_growth). */
static void test_memory_by_options(void **state) {
  static char token[8193];
  smtp_client_options *o;
  smtp_reply_parser *rp;
  byte_mem m = {0, 0, 0};
  smtp_mem mem = {&m, bm_malloc, bm_free, bm_calloc, bm_realloc};
  size_t parser, base, with_cb, with_read, min_out, creds, tok;
  (void)state;
  assert_int_equal(smtp_reply_parser_new(&rp, 0, 0, &mem), SMTP_OK);
  parser = m.cur;
  smtp_reply_parser_del(rp);
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  base = session_bytes(o, 0, 0);
  with_cb = session_bytes(o, 1, 0);
  with_read = session_bytes(o, 1, 1);
  assert_true(with_cb < base);               /* no event queue */
  assert_int_equal(with_read, with_cb + 4096); /* the read stage */
  /* the struct and 1.5 KiB of output for command lines (the output moves to
   * the configured size only when needed, test_output_growth; the
   * capabilities are copied at EHLO, sized to the reply) */
  assert_true(with_cb - parser <= 1536 + 1536);
  assert_int_equal(smtp_client_options_set_output_buffer(o, SMTP_CLIENT_OUTPUT_MIN), SMTP_OK);
  min_out = session_bytes(o, 1, 0);
  assert_int_equal(with_cb, min_out);
  assert_int_equal(smtp_client_options_set_output_buffer(o, 16384), SMTP_OK);
  assert_int_equal(session_bytes(o, 1, 0), min_out);
  assert_int_equal(smtp_client_options_set_output_buffer(o, SMTP_CLIENT_OUTPUT_MIN), SMTP_OK);
  assert_int_equal(smtp_client_options_set_credentials(o, NULL, "user", "secret"), SMTP_OK);
  creds = session_bytes(o, 1, 0);
  assert_true(creds > min_out + 2304 + 3072); /* SASL message + AUTH line */
  assert_true(creds < min_out + 12288);
  memset(token, 'T', sizeof token - 1);
  assert_int_equal(smtp_client_options_set_oauth_token(o, "u", token), SMTP_OK);
  tok = session_bytes(o, 1, 0);
  assert_true(tok > creds + 8192 + 8192 * 4 / 3);
  smtp_client_options_del(o);
}

/* The EHLO reply is parsed whole: every flag and value counts even when
 * the keywords' text does not all fit the copy (1 KiB by default); the
 * copied keywords stay valid after the reply parser moved on. With reply
 * limits set, the copy holds what such a reply can (up to 8 KiB). */
static void caps_session(smtp_client_options *o, const smtp_capabilities **caps_out,
                         smtp_client_session **cs) {
  char ehlo[8192];
  size_t n = 0;
  int i;
  const char *out;
  smtp_ssize k;
  smtp_client_event ev;
  assert_int_equal(smtp_client_session_new(cs, NULL, NULL, o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_session_mem_recv(*cs, "220 mx\r\n", 8), 8);
  while (smtp_client_session_next_event(*cs, &ev)) {}
  k = smtp_client_session_mem_send(*cs, &out);
  assert_true(k > 0);
  assert_int_equal(smtp_client_session_mem_consume(*cs, (size_t)k), SMTP_OK);
  n += (size_t)sprintf(ehlo + n, "250-mx.example.org greets you\r\n");
  for (i = 0; i < 40; i++)
    n += (size_t)sprintf(ehlo + n, "250-X-FILLER-%02d %s\r\n", i,
                         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
  n += (size_t)sprintf(ehlo + n, "250-PIPELINING\r\n250-SIZE 1000\r\n250-AUTH PLAIN\r\n250 CHUNKING\r\n");
  for (size_t off = 0; off < n;) {
    k = smtp_client_session_mem_recv(*cs, ehlo + off, n - off);
    assert_true(k >= 0);
    off += (size_t)k;
    while (smtp_client_session_next_event(*cs, &ev)) {}
  }
  *caps_out = smtp_client_session_capabilities(*cs);
  assert_non_null(*caps_out);
  /* a later reply overwrites the reply parser's buffer: QUIT, long 221 */
  assert_int_equal(smtp_client_session_quit(*cs), SMTP_OK);
  k = smtp_client_session_mem_send(*cs, &out);
  assert_int_equal(k, 6);
  assert_int_equal(smtp_client_session_mem_consume(*cs, (size_t)k), SMTP_OK);
  n = (size_t)sprintf(ehlo, "221-");
  memset(ehlo + n, 'Z', 400);
  n += 400;
  n += (size_t)sprintf(ehlo + n, "\r\n221-");
  memset(ehlo + n, 'Z', 400);
  n += 400;
  n += (size_t)sprintf(ehlo + n, "\r\n221 bye\r\n");
  assert_int_equal(smtp_client_session_mem_recv(*cs, ehlo, n), (smtp_ssize)n);
  while (smtp_client_session_next_event(*cs, &ev)) {}
  assert_ptr_equal(smtp_client_session_capabilities(*cs), *caps_out);
}

static void test_caps_copy(void **state) {
  smtp_client_options *o;
  smtp_client_session *c;
  const smtp_capabilities *caps;
  size_t i;
  (void)state;
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_OFF), SMTP_OK);
  caps_session(o, &caps, &c);
  assert_true(caps->flags & SMTP_EXT_PIPELINING);
  assert_true(caps->flags & SMTP_EXT_CHUNKING);
  assert_true(caps->flags & SMTP_EXT_SIZE);
  assert_true(caps->flags & SMTP_EXT_AUTH);
  assert_int_equal(caps->size_max, 1000);
  assert_true(caps->nkeywords > 5 && caps->nkeywords < 40);
  assert_int_equal(caps->nkeywords + caps->ndropped, 44);
  assert_int_equal(caps->greeting.len, 25);
  assert_memory_equal(caps->greeting.ptr, "mx.example.org greets you", 25);
  for (i = 0; i < caps->nkeywords; i++) {
    char kw[24]; /* room for any unsigned: no truncation warning on 32-bit targets */
    snprintf(kw, sizeof kw, "X-FILLER-%02u", (unsigned)i);
    assert_int_equal(caps->keywords[i].keyword.len, 11);
    assert_memory_equal(caps->keywords[i].keyword.ptr, kw, 11);
    assert_int_equal(caps->keywords[i].params.len, 52);
  }
  assert_null(smtp_capabilities_find(caps, "PIPELINING")); /* listed no more, flag kept */
  smtp_client_session_del(c);
  /* reply limits set: the copy holds what one reply may (8 KiB at most) */
  assert_int_equal(smtp_client_options_set_reply_limits(o, 512, 100), SMTP_OK);
  caps_session(o, &caps, &c);
  assert_int_equal(caps->nkeywords, 44);
  assert_int_equal(caps->ndropped, 0);
  assert_non_null(smtp_capabilities_find(caps, "PIPELINING"));
  assert_int_equal(caps->keywords[41].params.len, 4);
  assert_memory_equal(caps->keywords[41].params.ptr, "1000", 4);
  smtp_client_session_del(c);
  smtp_client_options_del(o);
}

/* Callback mode: the capabilities callback gets the whole parsed set
 * (valid during the call); the session keeps only what it acts on plus a
 * copy of the text sized to the reply, and builds the whole smtp_capabilities
 * when the application asks, once per EHLO, in one allocation of its own.
 * After TLS starts the earlier capabilities are gone (RFC 3207 4.2). */
typedef struct caps_seen {
  int calls;
  unsigned flags;
  size_t nkeywords;
  char first_kw[32];
  int same_as_getter;
} caps_seen;

static int caps_cb(smtp_client_session *c, const smtp_capabilities *caps, void *ud) {
  caps_seen *cs = ud;
  const smtp_capabilities *g = smtp_client_session_capabilities(c);
  cs->calls++;
  cs->flags = caps->flags;
  cs->nkeywords = caps->nkeywords;
  snprintf(cs->first_kw, sizeof cs->first_kw, "%.*s", (int)caps->keywords[0].keyword.len,
           caps->keywords[0].keyword.ptr);
  cs->same_as_getter = g && g->flags == caps->flags && g->nkeywords == caps->nkeywords &&
                       g->size_max == caps->size_max && g->greeting.len == caps->greeting.len &&
                       !memcmp(g->greeting.ptr, caps->greeting.ptr, g->greeting.len);
  for (size_t i = 0; g && i < caps->nkeywords; i++)
    if (g->keywords[i].keyword.len != caps->keywords[i].keyword.len ||
        g->keywords[i].params.len != caps->keywords[i].params.len ||
        memcmp(g->keywords[i].keyword.ptr, caps->keywords[i].keyword.ptr,
               caps->keywords[i].keyword.len) ||
        memcmp(g->keywords[i].params.ptr, caps->keywords[i].params.ptr,
               caps->keywords[i].params.len))
      cs->same_as_getter = 0;
  return 0;
}
static int starttls_cb(smtp_client_session *c, void *ud) {
  (void)c; (void)ud;
  return 0;
}

static void drain_out(smtp_client_session *c) {
  const char *out;
  smtp_ssize k;
  while ((k = smtp_client_session_mem_send(c, &out)) > 0)
    assert_int_equal(smtp_client_session_mem_consume(c, (size_t)k), SMTP_OK);
}

static void test_caps_callback_mode(void **state) {
  static const char ehlo1[] = "250-mx.example.org hello\r\n250-SIZE 5000\r\n250-STARTTLS\r\n"
                              "250-X-ONE param one\r\n250 PIPELINING\r\n";
  static const char ehlo2[] = "250-mx.example.org again\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n";
  byte_mem m = {0, 0, 0};
  smtp_mem mem = {&m, bm_malloc, bm_free, bm_calloc, bm_realloc};
  smtp_client_callbacks *cb;
  smtp_client_options *o;
  smtp_client_session *c;
  const smtp_capabilities *g, *g2;
  caps_seen seen;
  size_t calls;
  (void)state;
  memset(&seen, 0, sizeof seen);
  assert_int_equal(smtp_client_callbacks_new(&cb, NULL), SMTP_OK);
  smtp_client_callbacks_set_capabilities(cb, caps_cb);
  smtp_client_callbacks_set_starttls(cb, starttls_cb);
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_REQUIRED), SMTP_OK);
  assert_int_equal(smtp_client_session_new(&c, cb, &seen, o, &mem), SMTP_OK);
  assert_int_equal(m.calls, 2);
  assert_null(smtp_client_session_capabilities(c));
  assert_int_equal(smtp_client_session_mem_recv(c, "220 mx\r\n", 8), 8);
  drain_out(c);
  assert_int_equal(smtp_client_session_mem_recv(c, ehlo1, sizeof ehlo1 - 1),
                   (smtp_ssize)(sizeof ehlo1 - 1));
  assert_int_equal(seen.calls, 1);
  assert_true(seen.flags & SMTP_EXT_STARTTLS);
  assert_int_equal(seen.nkeywords, 4);
  assert_string_equal(seen.first_kw, "SIZE");
  assert_true(seen.same_as_getter);
  /* the keywords' copy and the whole set asked for in the callback */
  assert_int_equal(m.calls, 4);
  calls = m.calls;
  g = smtp_client_session_capabilities(c);
  assert_non_null(g);
  assert_int_equal(m.calls, calls); /* built once per EHLO */
  assert_int_equal(g->size_max, 5000);
  assert_non_null(smtp_capabilities_find(g, "X-ONE"));
  assert_memory_equal(smtp_capabilities_find(g, "X-ONE")->params.ptr, "param one", 9);
  /* STARTTLS, 220, TLS up: the capabilities are forgotten */
  drain_out(c);
  assert_int_equal(smtp_client_session_mem_recv(c, "220 go ahead\r\n", 14), 14);
  assert_int_equal(smtp_client_session_tls_started(c, NULL), SMTP_OK);
  assert_null(smtp_client_session_capabilities(c));
  drain_out(c);
  assert_int_equal(smtp_client_session_mem_recv(c, ehlo2, sizeof ehlo2 - 1),
                   (smtp_ssize)(sizeof ehlo2 - 1));
  assert_int_equal(seen.calls, 2);
  assert_true(seen.same_as_getter);
  assert_int_equal(m.calls, calls); /* the shorter text fits the copy; the set is reused */
  g2 = smtp_client_session_capabilities(c);
  assert_ptr_equal(g2, g);
  assert_false(g2->flags & SMTP_EXT_STARTTLS);
  assert_true(g2->flags & SMTP_EXT_8BITMIME);
  assert_int_equal(g2->nkeywords, 2);
  assert_memory_equal(g2->greeting.ptr, "mx.example.org again", 20);
  assert_null(smtp_capabilities_find(g2, "X-ONE"));
  smtp_client_session_del(c);
  assert_int_equal(m.cur, 0);
  smtp_client_options_del(o);
  smtp_client_callbacks_del(cb);
}

/* The output starts at 1.5 KiB in the session and moves to the configured
 * size, once, only for a body that must be stuffed (bare LF here) or a line
 * longer than 1.5 KiB (a 2 KB OAuth token); a vetted memory body leaves it
 * small. When the move fails, a body goes out in smaller writes (same
 * bytes), while a line that cannot fit ends the session with
 * SMTP_ERR_NOMEM instead of waiting forever. */
static const char *find_bytes(const char *h, size_t hl, const char *n, size_t nl) {
  for (size_t i = 0; nl <= hl && i <= hl - nl; i++)
    if (h[i] == n[0] && !memcmp(h + i, n, nl)) return h + i;
  return NULL;
}

typedef struct og_run {
  size_t wire_len;
  char wire[16384];
  size_t moves;      /* allocations after the EHLO reply */
  int error;
  int done_status;
} og_run;

static int og_event(smtp_client_session *c, const smtp_client_event *ev, void *ud) {
  og_run *r = ud;
  (void)c;
  if (ev->type == SMTP_CLIENT_EVENT_TXN_DONE) r->done_status = ev->result.status;
  return 0;
}

static void og_pump(smtp_client_session *c, og_run *r) {
  const char *out;
  smtp_ssize k;
  while ((k = smtp_client_session_mem_send(c, &out)) > 0) {
    assert_true(r->wire_len + (size_t)k <= sizeof r->wire);
    memcpy(r->wire + r->wire_len, out, (size_t)k);
    r->wire_len += (size_t)k;
    assert_int_equal(smtp_client_session_mem_consume(c, (size_t)k), SMTP_OK);
  }
}

/* One transaction with @p body; fail_from counts allocations from the
 * session's creation (1: the session, 2: its parser, 3: the EHLO copy). */
static void og_txn(const char *body, size_t blen, const char *token, size_t fail_from,
                   og_run *r) {
  byte_mem m = {0, 0, fail_from};
  smtp_mem mem = {&m, bm_malloc, bm_free, bm_calloc, bm_realloc};
  smtp_client_callbacks *cb;
  smtp_client_options *o;
  smtp_client_session *c;
  smtp_client_txn *t;
  size_t after_ehlo;
  const char *ehlo = token ? "250-mx\r\n250-PIPELINING\r\n250 AUTH XOAUTH2\r\n"
                           : "250-mx\r\n250 PIPELINING\r\n";
  memset(r, 0, sizeof *r);
  r->done_status = 1;
  assert_int_equal(smtp_client_callbacks_new(&cb, NULL), SMTP_OK);
  smtp_client_callbacks_set_event(cb, og_event);
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_OFF), SMTP_OK);
  if (token) {
    assert_int_equal(smtp_client_options_set_oauth_token(o, "u@x.org", token), SMTP_OK);
    smtp_client_options_set_allow_plaintext_auth(o, 1);
  }
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "a@b.org", 7), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "c@d.org", 7, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body(t, body, blen), SMTP_OK);
  assert_int_equal(smtp_client_session_new(&c, cb, r, o, &mem), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_OK);
  assert_int_equal(smtp_client_session_mem_recv(c, "220 mx\r\n", 8), 8);
  og_pump(c, r);
  assert_int_equal(smtp_client_session_mem_recv(c, ehlo, strlen(ehlo)), (smtp_ssize)strlen(ehlo));
  after_ehlo = m.calls;
  og_pump(c, r);
  if (token && !smtp_client_session_is_closed(c)) {
    /* RFC 4954 4: a response too long for the command line follows a 334 */
    assert_non_null(find_bytes(r->wire, r->wire_len, "AUTH XOAUTH2\r\n", 14));
    assert_int_equal(smtp_client_session_mem_recv(c, "334 \r\n", 6), 6);
    og_pump(c, r);
  }
  if (token && !smtp_client_session_is_closed(c)) {
    assert_int_equal(smtp_client_session_mem_recv(c, "235 ok\r\n", 8), 8);
    og_pump(c, r);
  }
  if (!smtp_client_session_is_closed(c)) {
    static const char rep[] = "250 ok\r\n250 ok\r\n354 go\r\n";
    assert_int_equal(smtp_client_session_mem_recv(c, rep, sizeof rep - 1), (smtp_ssize)(sizeof rep - 1));
    og_pump(c, r);
    assert_int_equal(smtp_client_session_mem_recv(c, "250 ok\r\n", 8), 8);
    og_pump(c, r);
  }
  r->moves = m.calls - after_ehlo;
  r->error = smtp_client_session_error(c);
  smtp_client_session_del(c);
  assert_int_equal(m.cur, 0);
  smtp_client_txn_del(t);
  smtp_client_options_del(o);
  smtp_client_callbacks_del(cb);
}

static void test_output_growth(void **state) {
  static char crlf[3000], lf[3000], token[2001], want[8192];
  og_run *r = malloc(sizeof *r);
  size_t wl;
  (void)state;
  assert_non_null(r);
  for (size_t i = 0; i < sizeof crlf; i += 50) {
    memset(crlf + i, 'a' + (int)(i / 50 % 26), 48);
    memcpy(crlf + i + 48, "\r\n", 2);
    memcpy(lf + i, crlf + i, 49);
    lf[i + 48] = i % 100 ? '\n' : '.';
    lf[i + 49] = '\n';
  }
  memset(token, 'T', sizeof token - 1);
  /* vetted CRLF body, 3 KB: sent from the body itself, the output stays small */
  og_txn(crlf, sizeof crlf, NULL, 0, r);
  assert_int_equal(r->done_status, 0);
  assert_int_equal(r->moves, 0);
  assert_non_null(find_bytes(r->wire, r->wire_len, crlf, sizeof crlf));
  /* bare LF body: stuffed through the output, which moves once */
  og_txn(lf, sizeof lf, NULL, 0, r);
  assert_int_equal(r->done_status, 0);
  assert_int_equal(r->moves, 1);
  {
    smtp_stuffer st;
    size_t consumed;
    smtp_ssize k;
    smtp_stuffer_init(&st, 0);
    k = smtp_stuff(&st, lf, sizeof lf, &consumed, want, sizeof want);
    assert_true(k > 0 && consumed == sizeof lf);
    wl = (size_t)k;
    k = smtp_stuff_finish(&st, want + wl, sizeof want - wl);
    assert_true(k > 0);
    wl += (size_t)k;
  }
  assert_true(wl > sizeof lf + 60); /* CRLF for LF, doubled dots */
  assert_non_null(find_bytes(r->wire, r->wire_len, want, wl));
  /* ... and when the move fails, the same bytes in smaller writes */
  og_txn(lf, sizeof lf, NULL, 4, r);
  assert_int_equal(r->done_status, 0);
  assert_int_equal(r->error, 0);
  assert_non_null(find_bytes(r->wire, r->wire_len, want, wl));
  /* a 2 KB token: the AUTH line moves the output */
  og_txn(crlf, sizeof crlf, token, 0, r);
  assert_int_equal(r->done_status, 0);
  assert_int_equal(r->moves, 1);
  assert_true(r->wire_len > 2700); /* the base64 response line went out */
  /* ... which fails: SMTP_ERR_NOMEM, not a session waiting forever */
  og_txn(crlf, sizeof crlf, token, 4, r);
  assert_int_equal(r->error, SMTP_ERR_NOMEM);
  assert_int_equal(r->done_status, SMTP_ERR_NOMEM);
  assert_true(r->wire_len < 200); /* EHLO and AUTH XOAUTH2 only */
  free(r);
}

/* ---- memory bodies in DATA: what goes out is exactly the stuffer's ---- */

#include <smtp/data.h>

static void take_all(smtp_client_session *c, char *all, size_t *len, size_t cap) {
  const char *out;
  smtp_ssize k;
  smtp_client_event ev;
  while ((k = smtp_client_session_mem_send(c, &out)) > 0) {
    assert_true(*len + (size_t)k <= cap);
    memcpy(all + *len, out, (size_t)k);
    *len += (size_t)k;
    assert_int_equal(smtp_client_session_mem_consume(c, (size_t)k), SMTP_OK);
    while (smtp_client_session_next_event(c, &ev)) {}
  }
}

/* The octets after "DATA" CRLF for a memory body, with output buffer @p cap. */
static size_t data_bytes(const char *body, size_t n, size_t cap, char *dst, size_t dcap) {
  static char all[300000];
  static const char ehlo[] = "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
  static const char rep[] = "250 ok\r\n250 ok\r\n354 go\r\n";
  smtp_client_options *o;
  smtp_client_session *c;
  smtp_client_txn *t;
  smtp_client_event ev;
  size_t len = 0;
  const char *d;
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_OFF), SMTP_OK);
  assert_int_equal(smtp_client_options_set_output_buffer(o, cap), SMTP_OK);
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "a@b.org", 7), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "c@d.org", 7, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body(t, body, n), SMTP_OK);
  assert_int_equal(smtp_client_session_new(&c, NULL, NULL, o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_OK);
  assert_int_equal(smtp_client_session_mem_recv(c, "220 mx\r\n", 8), 8);
  while (smtp_client_session_next_event(c, &ev)) {}
  take_all(c, all, &len, sizeof all);
  assert_int_equal(smtp_client_session_mem_recv(c, ehlo, sizeof ehlo - 1), (smtp_ssize)(sizeof ehlo - 1));
  while (smtp_client_session_next_event(c, &ev)) {}
  len = 0;
  take_all(c, all, &len, sizeof all);
  for (size_t off = 0; off < sizeof rep - 1;) {
    smtp_ssize k = smtp_client_session_mem_recv(c, rep + off, sizeof rep - 1 - off);
    assert_true(k >= 0);
    off += (size_t)k;
    while (smtp_client_session_next_event(c, &ev)) {}
  }
  take_all(c, all, &len, sizeof all);
  d = strstr(all, "DATA\r\n");
  assert_non_null(d);
  d += 6;
  assert_true(len - (size_t)(d - all) <= dcap);
  memcpy(dst, d, len - (size_t)(d - all));
  smtp_client_session_del(c);
  smtp_client_txn_del(t);
  smtp_client_options_del(o);
  return len - (size_t)(d - all);
}

/* Random bodies, CRLF-only (the copy path) and with bare CR/LF (the
 * stuffer), dots at line starts and across buffer edges (RFC 5321 4.5.2),
 * with and without the final CRLF, 4 KiB and 16 KiB output buffers. */
static void test_data_memory_body_random(void **state) {
  static const char alphabet[] = "ab..\xc3 q";
  static char body[70000], want[150000], got[150000];
  uint32_t seed = 0xD07Au;
  (void)state;
  for (int t = 0; t < 200; t++) {
    size_t n, i = 0, wl, gl, consumed = 0;
    smtp_stuffer st;
    smtp_ssize k;
    seed = seed * 1103515245u + 12345u;
    n = (seed >> 8) % (t < 100 ? 200 : 70000);
    while (i < n) {
      size_t ll;
      seed = seed * 1103515245u + 12345u;
      ll = (seed >> 16) % 90;
      while (ll-- && i < n) {
        seed = seed * 1103515245u + 12345u;
        body[i++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
      }
      seed = seed * 1103515245u + 12345u;
      if (t % 4 == 3 && (seed >> 16) % 10 == 0) {
        if (i < n) body[i++] = (seed >> 20) & 1 ? '\n' : '\r';
      } else {
        if (i < n) body[i++] = '\r';
        if (i < n) body[i++] = '\n';
      }
    }
    smtp_stuffer_init(&st, 0);
    k = smtp_stuff(&st, body, n, &consumed, want, sizeof want);
    assert_true(k >= 0);
    assert_int_equal(consumed, n);
    wl = (size_t)k;
    k = smtp_stuff_finish(&st, want + wl, sizeof want - wl);
    assert_true(k > 0);
    wl += (size_t)k;
    gl = data_bytes(body, n, t % 2 ? SMTP_CLIENT_OUTPUT_MIN : 16384, got,
                    sizeof got);
    assert_int_equal(gl, wl);
    assert_memory_equal(got, want, wl);
  }
}


/* ---- zero-copy memory bodies: runs go out from the body itself ---- */

typedef struct zc_run {
  const char *body;
  size_t n;
  char *all;
  size_t len, cap;
  size_t direct_octets; /* handed out by mem_send from inside the body */
  size_t direct_spans;
  uint32_t seed;
} zc_run;

/* Drain with random partial consumes; note what came from the body. */
static void zc_take(smtp_client_session *c, zc_run *z) {
  const char *out;
  smtp_ssize k;
  smtp_client_event ev;
  while ((k = smtp_client_session_mem_send(c, &out)) > 0) {
    size_t take;
    z->seed = z->seed * 1103515245u + 12345u;
    take = 1 + (z->seed >> 8) % (size_t)k;
    if ((z->seed >> 4) % 3 == 0) take = (size_t)k;
    if (out >= z->body && out < z->body + z->n) {
      assert_true(out + k <= z->body + z->n); /* never past the body */
      z->direct_octets += take;
      z->direct_spans++;
    }
    assert_true(z->len + take <= z->cap);
    memcpy(z->all + z->len, out, take);
    z->len += take;
    assert_int_equal(smtp_client_session_mem_consume(c, take), SMTP_OK);
    while (smtp_client_session_next_event(c, &ev)) {}
  }
  assert_true(k == 0);
}

static void zc_feed(smtp_client_session *c, const char *r) {
  smtp_client_event ev;
  size_t off = 0, n = strlen(r);
  while (off < n) {
    smtp_ssize k = smtp_client_session_mem_recv(c, r + off, n - off);
    assert_true(k >= 0);
    off += (size_t)k;
    while (smtp_client_session_next_event(c, &ev)) {}
  }
}

/* Runs one transaction against scripted replies; @p chunking offers
 * CHUNKING (and BINARYMIME when @p binary). Output from MAIL on is in z. */
static void zc_session(zc_run *z, int chunking, int binary) {
  smtp_client_options *o;
  smtp_client_session *c;
  smtp_client_txn *t;
  size_t mail_at;
  char ehlo[128];
  snprintf(ehlo, sizeof ehlo, "250-mx\r\n250-PIPELINING\r\n%s250 8BITMIME\r\n",
           chunking ? (binary ? "250-CHUNKING\r\n250-BINARYMIME\r\n" : "250-CHUNKING\r\n") : "");
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_OFF), SMTP_OK);
  assert_int_equal(smtp_client_options_set_output_buffer(o, SMTP_CLIENT_OUTPUT_MIN), SMTP_OK);
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "a@b.org", 7), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "c@d.org", 7, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body(t, z->body, z->n), SMTP_OK);
  if (binary) assert_int_equal(smtp_client_txn_set_body_type(t, SMTP_BODY_BINARYMIME), SMTP_OK);
  assert_int_equal(smtp_client_session_new(&c, NULL, NULL, o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_OK);
  zc_feed(c, "220 mx\r\n");
  zc_take(c, z);
  zc_feed(c, ehlo);
  mail_at = z->len;
  zc_take(c, z);
  zc_feed(c, chunking ? "250 ok\r\n250 ok\r\n" : "250 ok\r\n250 ok\r\n354 go\r\n");
  zc_take(c, z);
  /* the transaction is answered only once everything was consumed */
  zc_feed(c, chunking && !binary && (z->n < 2 || memcmp(z->body + z->n - 2, "\r\n", 2))
                 ? "250 chunk\r\n250 done\r\n" : "250 done\r\n");
  zc_take(c, z);
  memmove(z->all, z->all + mail_at, z->len - mail_at);
  z->len -= mail_at;
  smtp_client_session_del(c);
  smtp_client_txn_del(t);
  smtp_client_options_del(o);
}

/* CRLF lines with a line-start dot on one line in @p every (RFC 5321 4.5.2),
 * some dots next to each other; optionally without the final CRLF. */
static size_t zc_body(char *b, size_t n, unsigned every, int no_final, uint32_t seed) {
  size_t i = 0;
  while (i + 2 < n) {
    size_t ll;
    seed = seed * 1103515245u + 12345u;
    ll = (seed >> 16) % 120;
    if (every && (seed >> 8) % every == 0) b[i++] = '.';
    while (ll-- && i + 2 < n) {
      b[i] = (char)('a' + (i % 26));
      i++;
    }
    b[i++] = '\r';
    b[i++] = '\n';
  }
  if (no_final && i >= 2) i -= 2;
  return i;
}

/* DATA: the runs between line-start dots of 4 KiB or more, and those of 512
 * or more that do not fit the output's free room, are sent from the body itself,
 * each through its dot, the next from the same dot, so the dot goes out
 * twice (RFC 5321 4.5.2); shorter runs are copied. The octets on the wire
 * equal the stuffer's for every drain pattern. */
static void test_zero_copy_data(void **state) {
  static char body[400000], all[900000], want[900000];
  static const unsigned every[] = {0, 1000, 150, 40, 3};
  (void)state;
  for (int t = 0; t < 20; t++) {
    zc_run z;
    smtp_stuffer st;
    size_t consumed = 0, wl, n;
    smtp_ssize k;
    n = zc_body(body, 1000 + (size_t)t * 19997, every[t % 5], t % 4 == 1, 0xA11u + (uint32_t)t);
    memset(&z, 0, sizeof z);
    z.body = body;
    z.n = n;
    z.all = all;
    z.cap = sizeof all;
    z.seed = 77u + (uint32_t)t;
    zc_session(&z, 0, 0);
    smtp_stuffer_init(&st, 0);
    k = smtp_stuff(&st, body, n, &consumed, want, sizeof want);
    assert_true(k >= 0);
    wl = (size_t)k;
    k = smtp_stuff_finish(&st, want + wl, sizeof want - wl);
    assert_true(k > 0);
    wl += (size_t)k;
    /* MAIL, RCPT, DATA lines, then exactly the stuffed body */
    {
      const char *d = strstr(all, "DATA\r\n");
      assert_non_null(d);
      d += 6;
      assert_int_equal(z.len - (size_t)(d - all), wl);
      assert_memory_equal(d, want, wl);
    }
    /* without dots (or sparse ones) nearly all of it went out in place */
    if (every[t % 5] == 0 && n > 8192) assert_true(z.direct_octets >= n - 2);
    if (every[t % 5] == 1000 && n > 100000) assert_true(z.direct_octets > n / 2);
    /* runs of 512 octets or more are rare with a dot every third line:
     * most of the body is copied */
    if (every[t % 5] == 3) assert_true(z.direct_octets < n / 2);
  }
}

/* BDAT (RFC 3030 2): a body too large for the output's free room is one chunk sent from the body
 * itself; a missing final CRLF follows as a chunk of its own; BINARYMIME
 * bodies go out octet for octet. */
static void test_zero_copy_bdat(void **state) {
  static char body[300000], all[700000], want[700000];
  (void)state;
  for (int t = 0; t < 12; t++) {
    zc_run z;
    size_t n, wl = 0;
    int binary = t % 3 == 2, no_final = t % 3 == 1;
    n = zc_body(body, 5000 + (size_t)t * 24001, 50, no_final, 0xB0Du + (uint32_t)t);
    if (binary) {
      for (size_t i = 0; i < n; i += 97) body[i] = (char)(i & 0xff); /* NUL, CR, 8-bit */
    }
    memset(&z, 0, sizeof z);
    z.body = body;
    z.n = n;
    z.all = all;
    z.cap = sizeof all;
    z.seed = 99u + (uint32_t)t;
    zc_session(&z, 1, binary);
    if (no_final) {
      wl = (size_t)snprintf(want, sizeof want, "BDAT %zu\r\n", n);
      memcpy(want + wl, body, n);
      wl += n;
      memcpy(want + wl, "BDAT 2 LAST\r\n\r\n", 15);
      wl += 15;
    } else {
      wl = (size_t)snprintf(want, sizeof want, "BDAT %zu LAST\r\n", n);
      memcpy(want + wl, body, n);
      wl += n;
    }
    {
      const char *b = strstr(all, "BDAT ");
      assert_non_null(b);
      assert_int_equal(z.len - (size_t)(b - all), wl);
      assert_memory_equal(b, want, wl);
    }
    assert_int_equal(z.direct_octets, n);
  }
}

/* The connection ends while a run of the body is only half written: the
 * transaction ends (4xx: the message may be retried) and the session never
 * hands out the application's memory again. */
static void test_zero_copy_lost(void **state) {
  static char body[100000];
  smtp_client_options *o;
  smtp_client_session *c;
  smtp_client_txn *t;
  smtp_client_event ev;
  const char *out;
  smtp_ssize k;
  size_t n = zc_body(body, sizeof body, 0, 0, 5u);
  int done = 0, status = 0;
  (void)state;
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_OFF), SMTP_OK);
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "a@b.org", 7), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "c@d.org", 7, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body(t, body, n), SMTP_OK);
  assert_int_equal(smtp_client_session_new(&c, NULL, NULL, o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_OK);
  zc_feed(c, "220 mx\r\n");
  while ((k = smtp_client_session_mem_send(c, &out)) > 0) smtp_client_session_mem_consume(c, (size_t)k);
  zc_feed(c, "250-mx\r\n250 PIPELINING\r\n");
  while ((k = smtp_client_session_mem_send(c, &out)) > 0) smtp_client_session_mem_consume(c, (size_t)k);
  zc_feed(c, "250 ok\r\n250 ok\r\n354 go\r\n");
  k = smtp_client_session_mem_send(c, &out);
  assert_true(k > 4096);
  assert_ptr_equal(out, body); /* the body itself, not a copy */
  assert_int_equal(smtp_client_session_mem_consume(c, (size_t)k / 2), SMTP_OK);
  assert_true(smtp_client_session_want_write(c));
  assert_true(smtp_client_session_timeout_ms(c) > 0);
  assert_int_equal(smtp_client_session_mem_consume(c, (size_t)k), SMTP_ERR_INVALID_ARGUMENT); /* more than left */
  smtp_client_session_connection_lost(c);
  while (smtp_client_session_next_event(c, &ev)) {
    if (ev.type == SMTP_CLIENT_EVENT_TXN_DONE) {
      done = 1;
      status = ev.result.status;
    }
  }
  assert_true(done);
  assert_int_equal(status, SMTP_ERR_TEMPFAIL);
  out = body;
  assert_true(smtp_client_session_mem_send(c, &out) <= 0);
  assert_true(out == NULL || out < body || out >= body + n);
  assert_false(smtp_client_session_want_write(c));
  smtp_client_session_del(c);
  smtp_client_txn_del(t);
  smtp_client_options_del(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zero_copy_data),
      cmocka_unit_test(test_zero_copy_bdat),
      cmocka_unit_test(test_zero_copy_lost),
      cmocka_unit_test(test_pipelined_transaction),
      cmocka_unit_test(test_lockstep_transaction),
      cmocka_unit_test(test_null_path_and_normalisation),
      cmocka_unit_test(test_helo_fallback),
      cmocka_unit_test(test_ehlo_refused),
      cmocka_unit_test(test_greetings),
      cmocka_unit_test(test_quit_only),
      cmocka_unit_test(test_all_rcpts_refused_pipelined),
      cmocka_unit_test(test_refusals_lockstep),
      cmocka_unit_test(test_data_refused),
      cmocka_unit_test(test_two_transactions),
      cmocka_unit_test(test_lmtp),
      cmocka_unit_test(test_connection_lost_after_data),
      cmocka_unit_test(test_timeouts),
      cmocka_unit_test(test_event_mode),
      cmocka_unit_test(test_pause),
      cmocka_unit_test(test_callback_failure),
      cmocka_unit_test(test_read_body),
      cmocka_unit_test(test_push_body),
      cmocka_unit_test(test_submit_rules),
      cmocka_unit_test(test_rcpt_results),
      cmocka_unit_test(test_trace),
      cmocka_unit_test(test_many_recipients),
      cmocka_unit_test(test_refused_group_without_data),
      cmocka_unit_test(test_memory_by_options),
      cmocka_unit_test(test_caps_copy),
      cmocka_unit_test(test_caps_callback_mode),
      cmocka_unit_test(test_output_growth),
      cmocka_unit_test(test_data_memory_body_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
