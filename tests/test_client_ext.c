/* Client session and the service extensions: CHUNKING/BDAT and BINARYMIME
 * (RFC 3030), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
 * DSN (RFC 3461), REQUIRETLS (RFC 8689), LIMITS RCPTMAX (RFC 9422), and the
 * options that turn extensions off. Transcripts run whole, byte by byte and
 * at random splits. */
#include "client_harness.h"

static const char *const R1[] = {"bob@example.org"};
static const char *const R3[] = {"a@x.org", "b@x.org", "c@x.org"};

/* ---- CHUNKING ---- */

static void setup_bdat(harness *h) { h_txn(h, "alice@example.com", R1, 1, ".hi\nthere"); }

/* RFC 3030 2: BDAT when CHUNKING is offered; the body is counted, not
 * dot-stuffed; bare LF becomes CRLF and a final CRLF is added. The first
 * BDAT waits for the RCPT replies, so nothing goes out for refused mail. */
static void test_bdat(void **state) {
  (void)state;
  h_transcript(setup_bdat,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250 CHUNKING\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nS: 250 ok\n"
               "C: BDAT 12 LAST\n"
               "C: .hi\n"
               "C: there\n"
               "S: 250 2.0.0 queued\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 11\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  /* without PIPELINING: lock-step, then BDAT */
  h_transcript(setup_bdat,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250 CHUNKING\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "S: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\n"
               "C: BDAT 12 LAST\nC: .hi\nC: there\n"
               "S: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 10\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  /* every recipient refused: no BDAT, RSET */
  h_transcript(setup_bdat,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250 CHUNKING\n"
               "C: MAIL FROM:<alice@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nS: 550 no\n"
               "C: RSET\nS: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 11\nREADY\nMAIL 250\nRCPT 0 550\nDONE -36 0 0\nCLOSED 0\n");
}

/* An empty body is "BDAT 0 LAST" (RFC 3030 4.2). */
static void setup_bdat_empty(harness *h) { h_txn(h, "a@b.org", R1, 1, ""); }
static void test_bdat_empty(void **state) {
  (void)state;
  h_transcript(setup_bdat_empty,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 CHUNKING\n"
               "C: MAIL FROM:<a@b.org>\nS: 250 ok\nC: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: BDAT 0 LAST\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 10\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
}

/* Pushed body in BDAT: each send flushes a chunk; LAST with the end. */
static void setup_bdat_push(harness *h) {
  h_txn(h, "a@b.org", R1, 1, NULL);
  assert_int_equal(smtp_client_txn_set_body_source(h->txn, SMTP_CLIENT_BODY_PUSH), SMTP_OK);
}
static void test_bdat_push(void **state) {
  (void)state;
  h_transcript(setup_bdat_push,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-PIPELINING\nS: 250 CHUNKING\n"
               "C: MAIL FROM:<a@b.org>\nC: RCPT TO:<bob@example.org>\nS: 250 ok\nS: 250 ok\n"
               "PUSH abc\\r\\n\n"
               "PUSHLAST def\n"
               "C: BDAT 5\nC: abc\nC: BDAT 5 LAST\nC: def\n"
               "S: 250 chunk\nS: 250 done\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 11\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  /* a refused chunk fails the transaction; later chunk replies are
   * discarded; RSET (RFC 3030 2) */
  h_transcript(setup_bdat_push,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-PIPELINING\nS: 250 CHUNKING\n"
               "C: MAIL FROM:<a@b.org>\nC: RCPT TO:<bob@example.org>\nS: 250 ok\nS: 250 ok\n"
               "PUSH abc\\r\\n\n"
               "C: BDAT 5\nC: abc\n"
               "S: 452 4.3.1 no room\n"
               "PUSHLAST def\n"
               "C: RSET\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 11\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 452\n"
               "PUSH -7\nDONE -37 1 0\nCLOSED 0\n");
}

/* BINARYMIME: BODY=BINARYMIME, bytes unchanged (NUL, bare LF, no final CRLF). */
static void setup_binary(harness *h) {
  static const char bin[] = "a\0b\nc";
  assert_int_equal(smtp_client_txn_set_from(h->txn, "a@b.org", 7), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(h->txn, "bob@example.org", 15, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body(h->txn, bin, 5), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_body_type(h->txn, SMTP_BODY_BINARYMIME), SMTP_OK);
}
static void test_binarymime(void **state) {
  (void)state;
  h_transcript(setup_binary,
               "S: 220 mx\nC: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250-BINARYMIME\nS: 250 CHUNKING\n"
               "C: MAIL FROM:<a@b.org> BODY=BINARYMIME\nC: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nS: 250 ok\n"
               "X: BDAT 5 LAST\\r\\na\\0b\\nc\n"
               "S: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 19\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  /* without BINARYMIME: a local failure, nothing of the transaction sent */
  h_transcript(setup_binary,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 CHUNKING\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 10\nREADY\nDONE -35 0 0\nCLOSED 0\n");
}

/* ---- SIZE ---- */

static void setup_size(harness *h) { h_txn(h, "a@b.org", R1, 1, "0123456789\r\n"); }
/* RFC 1870 4, 6.1: SIZE= declared; larger than the server's limit: refused
 * locally before MAIL. */
static void test_size(void **state) {
  (void)state;
  h_transcript(setup_size,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 SIZE 12\n"
               "C: MAIL FROM:<a@b.org> SIZE=12\nS: 250 ok\nC: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nC: DATA\nS: 354 go\nC: 0123456789\nC: .\nS: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 2\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  h_transcript(setup_size,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 SIZE 11\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 2\nREADY\nDONE -33 0 0\nCLOSED 0\n");
  /* "SIZE" without a number: no fixed limit */
  h_transcript(setup_size,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 SIZE\n"
               "C: MAIL FROM:<a@b.org> SIZE=12\nS: 250 ok\nC: RCPT TO:<bob@example.org>\n"
               "S: 552 5.3.4 too big for you\n"
               "C: RSET\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 2\nREADY\nMAIL 250\nRCPT 0 552\nDONE -36 0 0\nCLOSED 0\n");
}

/* RFC 1870 3: the declared size counts CRLF pairs as sent, so bare LF line
 * ends (normalised to CRLF) and the added final CRLF are counted:
 * "Subject: x\n\nhello" goes out as 21 octets. */
static void setup_size_bare_lf(harness *h) { h_txn(h, "a@b.org", R1, 1, "Subject: x\n\nhello"); }
static void test_size_counts_normalised_line_ends(void **state) {
  (void)state;
  h_transcript(setup_size_bare_lf,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 SIZE 100\n"
               "C: MAIL FROM:<a@b.org> SIZE=21\nS: 250 ok\nC: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nC: DATA\nS: 354 go\nC: Subject: x\nC: \nC: hello\nC: .\nS: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 2\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  /* 21 octets on the wire do not fit a 20-octet limit: refused locally. */
  h_transcript(setup_size_bare_lf,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 SIZE 20\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 2\nREADY\nDONE -33 0 0\nCLOSED 0\n");
}

/* Size hint for streamed bodies. */
static void setup_size_hint(harness *h) {
  h_txn(h, "a@b.org", R1, 1, NULL);
  assert_int_equal(smtp_client_txn_set_body_source(h->txn, SMTP_CLIENT_BODY_PUSH), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_size(h->txn, 5000000), SMTP_OK);
}
static void test_size_hint(void **state) {
  (void)state;
  h_transcript(setup_size_hint,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 SIZE 1000000\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 2\nREADY\nDONE -33 0 0\nCLOSED 0\n");
}

/* ---- 8BITMIME ---- */

static void setup_8bit(harness *h) { h_txn(h, "a@b.org", R1, 1, "caf\xc3\xa9\r\n"); }
/* RFC 6152 3: BODY=8BITMIME for 8-bit content; a clear local failure when
 * the server lacks it. */
static void test_8bitmime(void **state) {
  (void)state;
  h_transcript(setup_8bit,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 8BITMIME\n"
               "C: MAIL FROM:<a@b.org> BODY=8BITMIME\nS: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\nS: 250 ok\nC: DATA\nS: 354 go\n"
               "C: caf\\xc3\\xa9\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 4\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  h_transcript(setup_8bit,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nDONE -34 0 0\nCLOSED 0\n");
}

/* A 7-bit body to an 8BITMIME server: no BODY parameter. */
static void setup_7bit(harness *h) { h_txn(h, "a@b.org", R1, 1, "plain\r\n"); }
static void test_7bit_no_param(void **state) {
  (void)state;
  h_transcript(setup_7bit,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 8BITMIME\n"
               "C: MAIL FROM:<a@b.org>\nS: 250 ok\nC: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: DATA\nS: 354 go\nC: plain\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 4\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
}

/* Streamed body: 8-bit content after 354 to a server without 8BITMIME ends
 * the session without the terminator (docs/security.md 1). */
static void setup_8bit_stream(harness *h) {
  h_txn(h, "a@b.org", R1, 1, NULL);
  assert_int_equal(smtp_client_txn_set_body_source(h->txn, SMTP_CLIENT_BODY_PUSH), SMTP_OK);
}
static void test_8bit_stream_abort(void **state) {
  (void)state;
  h_transcript(setup_8bit_stream,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\n"
               "C: MAIL FROM:<a@b.org>\nS: 250 ok\nC: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: DATA\nS: 354 go\n"
               "PUSH ok line\\r\\n\n"
               "C: ok line\n"
               "PUSHLAST caf\\xc3\\xa9\\r\\n\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDONE -34 1 0\n"
               "CLOSED -34\nPUSH -34\n");
  /* and with 8BITMIME offered, a streamed body is declared 8BITMIME */
  h_transcript(setup_8bit_stream,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 8BITMIME\n"
               "C: MAIL FROM:<a@b.org> BODY=8BITMIME\nS: 250 ok\nC: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nC: DATA\nS: 354 go\n"
               "PUSHLAST caf\\xc3\\xa9\\r\\n\n"
               "C: caf\\xc3\\xa9\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 4\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
}

/* NUL and long lines in a memory body: refused before MAIL. */
static void setup_nul(harness *h) {
  static const char b[] = "a\0b\r\n";
  h_txn(h, "a@b.org", R1, 1, NULL);
  assert_int_equal(smtp_client_txn_set_body(h->txn, b, 5), SMTP_OK);
}
static void setup_long(harness *h) {
  static char b[1200];
  memset(b, 'x', sizeof b);
  b[1198] = '\r';
  b[1199] = '\n';
  h_txn(h, "a@b.org", R1, 1, NULL);
  assert_int_equal(smtp_client_txn_set_body(h->txn, b, sizeof b), SMTP_OK);
}
/* Bare LF ends a line for the length rule too (it becomes CRLF): 100 short
 * LF-terminated lines are not one long line. */
static void setup_unix_lines(harness *h) {
  static char b[1800];
  for (int k = 0; k < 100; k++) memcpy(b + 18 * k, "a short unix line\n", 18);
  h_txn(h, "a@b.org", R1, 1, NULL);
  assert_int_equal(smtp_client_txn_set_body(h->txn, b, sizeof b), SMTP_OK);
  h->no_submit = 0;
}
static void test_unix_lines_not_long(void **state) {
  (void)state;
  harness *h = calloc(1, sizeof *h);
  h_start(h, setup_unix_lines, FEED_WHOLE, 0);
  h_run(h, "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: MAIL FROM:<a@b.org>\nS: 250 ok\n"
           "C: RCPT TO:<bob@example.org>\nS: 250 ok\nC: DATA\n");
  h_feed(h, "354 go\r\n", 8);
  assert_int_equal(smtp_client_session_error(h->c), 0);
  assert_int_equal(h->outlen, h->explen + 100 * 19 + 3); /* CRLF lines and "." CRLF */
  assert_non_null(strstr(h->log, "BODY 0\n"));
  h_end(h);
  free(h);
}

static void test_bad_body_refused_locally(void **state) {
  (void)state;
  h_transcript(setup_nul, "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nDONE -31 0 0\nCLOSED 0\n");
  h_transcript(setup_long, "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nDONE -32 0 0\nCLOSED 0\n");
}

/* ---- SMTPUTF8 ---- */

static void setup_utf8(harness *h) {
  static const char *const r[] = {"j\xc3\xb6rg@b\xc3\xbc" "cher.example"};
  h_txn(h, "a@b.org", r, 1, "x\r\n");
}
/* RFC 6531 3.4: SMTPUTF8 when an address needs it; a local failure without. */
static void test_smtputf8(void **state) {
  (void)state;
  h_transcript(setup_utf8,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-8BITMIME\nS: 250 SMTPUTF8\n"
               "C: MAIL FROM:<a@b.org> SMTPUTF8\nS: 250 ok\n"
               "C: RCPT TO:<j\\xc3\\xb6rg@b\\xc3\\xbc" "cher.example>\nS: 250 ok\n"
               "C: DATA\nS: 354 go\nC: x\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 24\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  h_transcript(setup_utf8, "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nDONE -22 0 0\nCLOSED 0\n");
}

static void setup_require_utf8(harness *h) {
  smtp_client_options_set_require_smtputf8(h->opt, 1);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}
static void test_require_smtputf8(void **state) {
  (void)state;
  h_transcript(setup_require_utf8,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 SMTPUTF8\n"
               "C: MAIL FROM:<a@b.org> SMTPUTF8\nS: 250 ok\nC: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nC: DATA\nS: 354 go\nC: x\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 20\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  h_transcript(setup_require_utf8,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nDONE -22 0 0\nCLOSED 0\n");
}

/* ---- DSN ---- */

static void setup_dsn(harness *h) {
  assert_int_equal(smtp_client_txn_set_from(h->txn, "a@b.org", 7), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(h->txn, "bob@example.org", 15,
                                            SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_DELAY,
                                            "B+ob=@example.org", 17),
                   0);
  assert_int_equal(smtp_client_txn_add_rcpt(h->txn, "c@x.org", 7, SMTP_DSN_NOTIFY_NEVER, NULL, 0),
                   1);
  assert_int_equal(smtp_client_txn_set_dsn(h->txn, SMTP_DSN_RET_HDRS, "id 1+2=3", 8), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_body(h->txn, "x\r\n", 3), SMTP_OK);
}
/* RFC 3461 4.1-4.4: NOTIFY, ORCPT (xtext by the library), RET, ENVID only
 * when DSN is offered. */
static void test_dsn(void **state) {
  (void)state;
  h_transcript(setup_dsn,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-PIPELINING\nS: 250 DSN\n"
               "C: MAIL FROM:<a@b.org> RET=HDRS ENVID=id+201+2B2+3D3\n"
               "C: RCPT TO:<bob@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;B+2Bob+3D@example.org\n"
               "C: RCPT TO:<c@x.org> NOTIFY=NEVER\n"
               "C: DATA\n"
               "S: 250 ok\nS: 250 ok\nS: 250 ok\nS: 354 go\nC: x\nC: .\nS: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 81\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 250\nBODY 0\n"
               "DATA - 250\nDONE 0 2 2\nCLOSED 0\n");
  h_transcript(setup_dsn,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 PIPELINING\n"
               "C: MAIL FROM:<a@b.org>\nC: RCPT TO:<bob@example.org>\nC: RCPT TO:<c@x.org>\n"
               "C: DATA\nS: 250 ok\nS: 250 ok\nS: 250 ok\nS: 354 go\nC: x\nC: .\nS: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 1\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 250\nBODY 0\n"
               "DATA - 250\nDONE 0 2 2\nCLOSED 0\n");
}

/* ---- REQUIRETLS ---- */

static void setup_requiretls(harness *h) {
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
  assert_int_equal(smtp_client_txn_set_requiretls(h->txn, 1), SMTP_OK);
}
/* RFC 8689 4.1: only over TLS and only when offered; otherwise refused
 * locally. */
static void test_requiretls(void **state) {
  (void)state;
  h_transcript(setup_requiretls,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 REQUIRETLS\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 400\nREADY\nDONE -43 0 0\nCLOSED 0\n");
}

static void setup_requiretls_tls(harness *h) {
  setup_requiretls(h);
  assert_int_equal(smtp_client_options_set_starttls(h->opt, SMTP_CLIENT_STARTTLS_REQUIRED),
                   SMTP_OK);
}
static void test_requiretls_over_tls(void **state) {
  (void)state;
  h_transcript(setup_requiretls_tls,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 STARTTLS\n"
               "C: STARTTLS\nS: 220 go\nTLS\n"
               "C: EHLO client.example\nS: 250-mx\nS: 250 REQUIRETLS\n"
               "C: MAIL FROM:<a@b.org> REQUIRETLS\nS: 250 ok\nC: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nC: DATA\nS: 354 go\nC: x\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 100\nSTARTTLS\nTLS 0\nCAPS 400\nREADY\nMAIL 250\n"
               "RCPT 0 250\nBODY 0\nDATA - 250\nDONE 0 1 1\nCLOSED 0\n");
  h_transcript(setup_requiretls_tls,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 STARTTLS\n"
               "C: STARTTLS\nS: 220 go\nTLS\n"
               "C: EHLO client.example\nS: 250 mx\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 100\nSTARTTLS\nTLS 0\nCAPS 0\nREADY\nDONE -12 0 0\n"
               "CLOSED 0\n");
}

/* ---- LIMITS ---- */

static void setup_limits(harness *h) { h_txn(h, "s@x.org", R3, 3, "m\r\n"); }
/* RFC 9422: RCPTMAX=2 splits three recipients over two transactions, the
 * body sent again for the second. */
static void test_limits_rcptmax(void **state) {
  (void)state;
  h_transcript(setup_limits,
               "S: 220 mx\nC: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250 LIMITS RCPTMAX=2 MAILMAX=10\n"
               "C: MAIL FROM:<s@x.org>\nC: RCPT TO:<a@x.org>\nC: RCPT TO:<b@x.org>\nC: DATA\n"
               "S: 250 ok\nS: 250 ok\nS: 550 no\nS: 354 go\nC: m\nC: .\nS: 250 ok\n"
               "C: MAIL FROM:<s@x.org>\nC: RCPT TO:<c@x.org>\nC: DATA\n"
               "S: 250 ok\nS: 250 ok\nS: 354 go\nC: m\nC: .\nS: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 801\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 550\nBODY 0\n"
               "DATA - 250\nMAIL 250\nRCPT 2 250\nBODY 1\nDATA - 250\nDONE 0 2 2\nCLOSED 0\n");
}

/* RFC 9422 MAILMAX=1: a split needing two transactions is refused locally,
 * and so is a second transaction on the connection. */
static void setup_mailmax(harness *h) {
  h_txn(h, "s@x.org", R3, 3, "m\r\n");
}
static void setup_mailmax_twice(harness *h) {
  static const char *const r1[] = {"a@x.org"};
  h_txn(h, "s@x.org", r1, 1, "m\r\n");
  h->submit_again = 1;
}
static void test_limits_mailmax(void **state) {
  (void)state;
  h_transcript(setup_mailmax,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 LIMITS RCPTMAX=2 MAILMAX=1\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800\nREADY\nDONE -44 0 0\nCLOSED 0\n");
  h_transcript(setup_mailmax_twice,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 LIMITS MAILMAX=1\n"
               "C: MAIL FROM:<s@x.org>\nS: 250 ok\nC: RCPT TO:<a@x.org>\nS: 250 ok\nC: DATA\n"
               "S: 354 go\nC: m\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nSUBMIT 0\nDONE -44 0 0\nCLOSED 0\n");
}

/* ---- disabled extensions ---- */

static void setup_disabled(harness *h) {
  smtp_client_options_set_disabled_extensions(
      h->opt, SMTP_EXT_PIPELINING | SMTP_EXT_CHUNKING | SMTP_EXT_8BITMIME);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}
static void test_disabled_extensions(void **state) {
  (void)state;
  h_transcript(setup_disabled,
               "S: 220 mx\nC: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250-CHUNKING\nS: 250 8BITMIME\n"
               "C: MAIL FROM:<a@b.org>\nS: 250 ok\nC: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: DATA\nS: 354 go\nC: x\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 15\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
}

/* Bulk: BDAT through the fake server, big body, read callback, every byte. */
static void test_bdat_bulk(void **state) {
  (void)state;
  for (int pipelining = 0; pipelining < 2; pipelining++) {
    harness *h = calloc(1, sizeof *h);
    fake_server *fs = calloc(1, sizeof *fs);
    size_t n = 150000, i;
    char *body = malloc(n);
    assert_non_null(body);
    for (i = 0; i < n; i++) body[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : (char)('A' + i % 26);
    h_start(h, NULL, FEED_RANDOM, 5 + (uint32_t)pipelining);
    h_txn(h, "a@b.org", R3, 3, NULL);
    assert_int_equal(smtp_client_txn_set_body_source(h->txn, SMTP_CLIENT_BODY_READ), SMTP_OK);
    h->read_src = body;
    h->read_len = n;
    h->read_chunk = 1000;
    assert_int_equal(smtp_client_session_submit(h->c, h->txn), SMTP_OK);
    fs->ehlo = pipelining ? "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n" : "250-mx\r\n250 CHUNKING\r\n";
    fs_run(h, fs, "220 mx\r\n");
    assert_non_null(strstr(h->log, "DONE 0 3 3\nCLOSED 0\n"));
    assert_true(fs->nbdat > 1);
    assert_int_equal(fs->ndata, 0);
    assert_int_equal(fs->bodylen, n);
    assert_memory_equal(fs->body, body, n);
    h_end(h);
    free(fs->body);
    free(fs);
    free(h);
    free(body);
  }
}

/* Bulk LMTP through the fake server: per-recipient final replies. */
static void test_lmtp_bulk(void **state) {
  (void)state;
  harness *h = calloc(1, sizeof *h);
  fake_server *fs = calloc(1, sizeof *fs);
  h_start(h, NULL, FEED_BYTES, 0);
  smtp_client_session_del(h->c);
  smtp_client_options_set_lmtp(h->opt, 1);
  assert_int_equal(smtp_client_session_new(&h->c, h->cbs, h, h->opt, NULL), SMTP_OK);
  h_txn(h, "s@x.org", R3, 3, "one\r\n.two\r\n");
  assert_int_equal(smtp_client_session_submit(h->c, h->txn), SMTP_OK);
  fs->ehlo = "250-lmtp\r\n250 PIPELINING\r\n";
  fs->lmtp = 1;
  fs->rcpt_fail_every = 2; /* a and c refused */
  fs_run(h, fs, "220 lmtp\r\n");
  assert_non_null(strstr(h->log, "RCPT 0 550\nRCPT 1 250\nRCPT 2 550\nBODY 0\nDATA 1 250\n"
                                 "DONE 0 1 1\nCLOSED 0\n"));
  assert_int_equal(fs->bodylen, 11);
  assert_memory_equal(fs->body, "one\r\n.two\r\n", 11);
  h_end(h);
  free(fs->body);
  free(fs);
  free(h);
}

/* ---- BDAT text normalisation of pushed bodies, against a reference ---- */

/* Octet at a time: bare CR / bare LF -> CRLF, final CRLF added; the first
 * NUL, 8-bit octet (no 8BITMIME) or 999th octet of a line is the error. */
static int ref_bdat(const unsigned char *p, size_t n, char *out, size_t *outlen) {
  size_t i, o = 0, line = 0;
  for (i = 0; i < n; i++) {
    unsigned char ch = p[i];
    if (ch == '\r' || ch == '\n') {
      if (ch == '\r' && i + 1 < n && p[i + 1] == '\n') i++;
      out[o++] = '\r';
      out[o++] = '\n';
      line = 0;
      continue;
    }
    if (ch == 0) return SMTP_ERR_NUL;
    if (ch >= 0x80) return SMTP_ERR_NEEDS_8BITMIME;
    if (++line > 998) return SMTP_ERR_LINE_TOO_LONG;
    out[o++] = (char)ch;
  }
  if (line) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  *outlen = o;
  return 0;
}

static void take_output(smtp_client_session *c, char *all, size_t *len, size_t cap) {
  const char *out;
  smtp_ssize k;
  while ((k = smtp_client_session_mem_send(c, &out)) > 0) {
    assert_true(*len + (size_t)k <= cap);
    memcpy(all + *len, out, (size_t)k);
    *len += (size_t)k;
    assert_int_equal(smtp_client_session_mem_consume(c, (size_t)k), SMTP_OK);
  }
}

/* Push @p body in pieces of @p piece octets into a session with CHUNKING;
 * returns 0 with the chunks' data (headers removed) in @p data, or the error. */
static int push_bdat(const unsigned char *body, size_t n, size_t piece, char *data, size_t *dlen) {
  static char all[1 << 20];
  smtp_client_options *o;
  smtp_client_session *c;
  smtp_client_txn *t;
  smtp_client_event ev;
  size_t len = 0, off = 0, i = 0, answered = 0;
  int rc = 0;
  static const char ehlo[] = "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n";
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_OFF), SMTP_OK);
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "a@b.org", 7), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "c@d.org", 7, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body_source(t, SMTP_CLIENT_BODY_PUSH), SMTP_OK);
  assert_int_equal(smtp_client_session_new(&c, NULL, NULL, o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_OK);
  assert_int_equal(smtp_client_session_mem_recv(c, "220 mx\r\n", 8), 8);
  while (smtp_client_session_next_event(c, &ev)) {}
  take_output(c, all, &len, sizeof all);
  assert_int_equal(smtp_client_session_mem_recv(c, ehlo, sizeof ehlo - 1), (smtp_ssize)(sizeof ehlo - 1));
  while (smtp_client_session_next_event(c, &ev)) {}
  take_output(c, all, &len, sizeof all);
  for (size_t r = 0; r < 2;) {
    smtp_ssize k = smtp_client_session_mem_recv(c, "250 ok\r\n", 8);
    assert_int_equal(k, 8);
    r++;
    while (smtp_client_session_next_event(c, &ev)) {}
  }
  assert_true(smtp_client_session_want_body(c));
  len = 0;
  while (off < n || i == 0) {
    size_t m = n - off < piece ? n - off : piece;
    int last = off + m == n;
    smtp_ssize k = smtp_client_session_body_push(c, (const char *)body + off, m, last);
    i = 1;
    if (k == SMTP_ERR_WOULDBLOCK) {
      /* the output is full or too many chunks wait: answer the chunks sent
       * so far (the body has no "BDAT " of its own) */
      size_t q, before = len;
      take_output(c, all, &len, sizeof all);
      for (q = answered; q + 5 <= len; q++)
        if (memcmp(all + q, "BDAT ", 5) == 0) {
          assert_int_equal(smtp_client_session_mem_recv(c, "250 ok\r\n", 8), 8);
          while (smtp_client_session_next_event(c, &ev)) {}
        }
      answered = len > 4 ? len - 4 : 0;
      assert_true(len > before || answered > 0);
      continue;
    }
    if (k < 0) {
      rc = (int)k;
      break;
    }
    off += (size_t)k;
    take_output(c, all, &len, sizeof all);
    if (last && (size_t)k == m) break;
  }
  if (rc == 0) {
    /* strip the BDAT headers; the last one says LAST */
    size_t p = 0, d = 0;
    int saw_last = 0;
    while (p < len) {
      char *e = memchr(all + p, '\n', len - p);
      unsigned long sz;
      assert_non_null(e);
      assert_true(strncmp(all + p, "BDAT ", 5) == 0);
      sz = strtoul(all + p + 5, NULL, 10);
      assert_false(saw_last);
      saw_last = strncmp(e - 6, " LAST\r", 6) == 0;
      p = (size_t)(e - all) + 1;
      assert_true(p + sz <= len);
      memcpy(data + d, all + p, sz);
      d += sz;
      p += sz;
    }
    assert_true(saw_last);
    *dlen = d;
  }
  smtp_client_session_del(c);
  smtp_client_txn_del(t);
  smtp_client_options_del(o);
  return rc;
}

static void test_bdat_normalise_random(void **state) {
  static const char alphabet[] = "ab .yyyyq\x80";
  static unsigned char body[40000];
  static char want[90000], got[90000];
  uint32_t seed = 0xBDA7u;
  int outcome[4] = {0, 0, 0, 0};
  (void)state;
  for (int t = 0; t < 300; t++) {
    size_t n, i = 0, wl = 0, gl = 0;
    int wrc, grc;
    seed = seed * 1103515245u + 12345u;
    n = (seed >> 8) % (t < 150 ? 300 : 40000);
    /* lines of random length (now and then 990-998 octets, near the limit
     * of RFC 5321 4.5.3.1.6), ended by CRLF, a bare LF or a bare CR */
    while (i < n) {
      size_t ll;
      seed = seed * 1103515245u + 12345u;
      ll = (seed >> 10) % 30 == 0 ? 990 + (seed >> 16) % 9 : (seed >> 16) % 100;
      while (ll-- && i < n) {
        seed = seed * 1103515245u + 12345u;
        body[i++] = (unsigned char)alphabet[(seed >> 16) % (sizeof alphabet - 1)];
      }
      seed = seed * 1103515245u + 12345u;
      switch ((seed >> 16) % 8) {
      case 0: if (i < n) body[i++] = '\n'; break;
      case 1: if (i < n) body[i++] = '\r'; break;
      default:
        if (i < n) body[i++] = '\r';
        if (i < n) body[i++] = '\n';
      }
    }
    if (t % 5 != 1) /* mostly 7-bit: no 8BITMIME offered */
      for (i = 0; i < n; i++)
        if (body[i] == 0x80) body[i] = 'z';
    if (t % 7 == 3 && n) body[(seed >> 4) % n] = 0;
    if (t % 9 == 4 && n > 1200) memset(body + n / 2, 'L', 1000); /* a line too long */
    wrc = ref_bdat(body, n, want, &wl);
    seed = seed * 1103515245u + 12345u;
    grc = push_bdat(body, n, 1 + (seed >> 8) % (t % 2 ? 7 : 5000), got, &gl);
    assert_int_equal(grc, wrc);
    if (wrc == 0) {
      assert_int_equal(gl, wl);
      assert_memory_equal(got, want, wl);
    }
    outcome[wrc == 0 ? 0 : wrc == SMTP_ERR_NUL ? 1 : wrc == SMTP_ERR_LINE_TOO_LONG ? 2 : 3]++;
  }
  /* every outcome occurs, and mostly success */
  assert_true(outcome[0] > 150 && outcome[1] > 5 && outcome[2] > 5 && outcome[3] > 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bdat),
      cmocka_unit_test(test_bdat_empty),
      cmocka_unit_test(test_bdat_push),
      cmocka_unit_test(test_binarymime),
      cmocka_unit_test(test_size),
      cmocka_unit_test(test_size_counts_normalised_line_ends),
      cmocka_unit_test(test_size_hint),
      cmocka_unit_test(test_8bitmime),
      cmocka_unit_test(test_7bit_no_param),
      cmocka_unit_test(test_8bit_stream_abort),
      cmocka_unit_test(test_bad_body_refused_locally),
      cmocka_unit_test(test_unix_lines_not_long),
      cmocka_unit_test(test_smtputf8),
      cmocka_unit_test(test_require_smtputf8),
      cmocka_unit_test(test_dsn),
      cmocka_unit_test(test_requiretls),
      cmocka_unit_test(test_requiretls_over_tls),
      cmocka_unit_test(test_limits_rcptmax),
      cmocka_unit_test(test_limits_mailmax),
      cmocka_unit_test(test_disabled_extensions),
      cmocka_unit_test(test_bdat_bulk),
      cmocka_unit_test(test_lmtp_bulk),
      cmocka_unit_test(test_bdat_normalise_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
