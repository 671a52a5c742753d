/* Client BURL (RFC 4468): the body fetched by the server from URLs instead
 * of DATA/BDAT. Transcripts (whole, byte by byte, random splits), the
 * bounds of smtp_client_txn_add_body_url(), the trace that never shows a
 * URLAUTH token (RFC 4467), and a client talking to the library's own
 * server in memory. */
#include "client_harness.h"

#include <smtp/server.h>

static const char *const R1[] = {"bob@example.org"};
static const char *const R2[] = {"bob@example.org", "eve@example.org"};

#define URL1 "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+joe:internal:91354a473744909de610943775f92038"
#define URL1_SHOWN "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth="
#define URL2 "imap://joe@example.com/Drafts/;UID=7"

static void setup_one(harness *h) {
  h_txn(h, "joe@example.com", R1, 1, NULL);
  assert_int_equal(smtp_client_txn_add_body_url(h->txn, URL1), SMTP_OK);
}

/* RFC 4468 3.4: after the RCPT replies, "BURL url LAST" instead of DATA;
 * its 250 is the message's reply. */
static void test_burl_one(void **state) {
  (void)state;
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250 BURL imap\n"
               "C: MAIL FROM:<joe@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nS: 250 ok\n"
               "C: BURL " URL1 " LAST\n"
               "S: 250 2.5.0 Waiting for BURL to finish\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800001\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  /* without PIPELINING: lock-step, then BURL */
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250 BURL\n"
               "C: MAIL FROM:<joe@example.com>\nS: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: BURL " URL1 " LAST\n"
               "S: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800000\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
  /* the fetch fails (RFC 4468 6: 554 5.6.6): the transaction fails, RSET
   * is not needed (the server ended it) but harmless: none is sent */
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250 BURL imap\n"
               "C: MAIL FROM:<joe@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nS: 250 ok\n"
               "C: BURL " URL1 " LAST\n"
               "S: 554 5.6.6 IMAP URL resolution failed\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800001\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 554\n"
               "DONE -36 1 0\nCLOSED 0\n");
  /* every recipient refused: no BURL, RSET */
  h_transcript(setup_one,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250 BURL imap\n"
               "C: MAIL FROM:<joe@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "S: 250 ok\nS: 550 no\n"
               "C: RSET\nS: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800001\nREADY\nMAIL 250\nRCPT 0 550\nDONE -36 0 0\nCLOSED 0\n");
}

/* No BURL offered: refused locally before MAIL (nothing of it is sent). */
static void test_burl_not_offered(void **state) {
  (void)state;
  h_transcript(setup_one,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-PIPELINING\nS: 250 CHUNKING\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 11\nREADY\nDONE -46 0 0\nCLOSED 0\n");
}

/* BURL offered but disabled by the application: refused locally too. */
static void setup_one_disabled(harness *h) {
  setup_one(h);
  assert_int_equal(smtp_client_options_set_disabled_extensions(h->opt, SMTP_EXT_BURL), SMTP_OK);
}
static void test_burl_disabled(void **state) {
  (void)state;
  h_transcript(setup_one_disabled,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 BURL imap\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800000\nREADY\nDONE -46 0 0\nCLOSED 0\n");
}

/* Several URLs make one message (RFC 4468 3.4): every BURL but the last
 * without LAST, pipelined; SIZE= and BODY= as the application set them. */
static void setup_two(harness *h) {
  h_txn(h, "joe@example.com", R2, 2, NULL);
  assert_int_equal(smtp_client_txn_add_body_url(h->txn, URL2), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_body_url(h->txn, URL1), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_size(h->txn, 4242), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_body_type(h->txn, SMTP_BODY_7BIT), SMTP_OK);
}
static void test_burl_two(void **state) {
  (void)state;
  h_transcript(setup_two,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250-SIZE 10000\nS: 250-8BITMIME\nS: 250 BURL imap\n"
               "C: MAIL FROM:<joe@example.com> SIZE=4242\n"
               "C: RCPT TO:<bob@example.org>\n"
               "C: RCPT TO:<eve@example.org>\n"
               "S: 250 ok\nS: 250 ok\nS: 550 no eve\n"
               "C: BURL " URL2 "\n"
               "C: BURL " URL1 " LAST\n"
               "S: 250 part\nS: 250 done\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800007\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 550\nBODY 0\n"
               "DATA - 250\nDONE 0 1 1\nCLOSED 0\n");
  /* the first part refused: no more BURL replies count, RSET (like BDAT,
   * RFC 3030 2) */
  h_transcript(setup_two,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250 BURL imap\n"
               "C: MAIL FROM:<joe@example.com>\n"
               "C: RCPT TO:<bob@example.org>\n"
               "C: RCPT TO:<eve@example.org>\n"
               "S: 250 ok\nS: 250 ok\nS: 250 ok\n"
               "C: BURL " URL2 "\n"
               "C: BURL " URL1 " LAST\n"
               "S: 554 5.6.6 no such message\nS: 503 5.5.1 no transaction\n"
               "C: RSET\nS: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800001\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 250\nBODY 0\n"
               "DATA - 554\nDONE -36 2 0\nCLOSED 0\n");
  /* without PIPELINING each BURL waits for the reply before it */
  h_transcript(setup_two,
               "S: 220 mx\n"
               "C: EHLO client.example\n"
               "S: 250-mx\nS: 250 BURL\n"
               "C: MAIL FROM:<joe@example.com>\nS: 250 ok\n"
               "C: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: RCPT TO:<eve@example.org>\nS: 250 ok\n"
               "C: BURL " URL2 "\nS: 250 part\n"
               "C: BURL " URL1 " LAST\nS: 250 done\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 800000\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 250\nBODY 0\n"
               "DATA - 250\nDONE 0 2 2\nCLOSED 0\n");
}

/* The trace shows the URL up to the URLAUTH token, never the token. */
static void test_burl_trace(void **state) {
  harness *h = calloc(1, sizeof *h);
  (void)state;
  assert_non_null(h);
  h_start(h, setup_one, FEED_WHOLE, 0);
  h->trace = 1;
  h_run(h, "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-PIPELINING\nS: 250 BURL imap\n"
           "C: MAIL FROM:<joe@example.com>\nC: RCPT TO:<bob@example.org>\nS: 250 ok\nS: 250 ok\n"
           "C: BURL " URL1 " LAST\nS: 250 ok\nC: QUIT\nS: 221 bye\n");
  assert_non_null(strstr(h->log, "TC BURL " URL1_SHOWN "<redacted> LAST\n"));
  assert_null(strstr(h->log, "91354a473744909de610943775f92038"));
  h_end(h);
  free(h);
}

/* smtp_client_txn_add_body_url(): the URL's form and its bounds. */
static void test_burl_url_bounds(void **state) {
  smtp_client_txn *t;
  char url[600];
  (void)state;
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_body_url(NULL, URL1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_add_body_url(t, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_add_body_url(t, ""), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_client_txn_add_body_url(t, "imap"), SMTP_ERR_SYNTAX);      /* no ":" */
  assert_int_equal(smtp_client_txn_add_body_url(t, "imap:"), SMTP_ERR_SYNTAX);     /* nothing after */
  assert_int_equal(smtp_client_txn_add_body_url(t, ":x"), SMTP_ERR_SYNTAX);        /* no scheme */
  assert_int_equal(smtp_client_txn_add_body_url(t, "1map:x"), SMTP_ERR_SYNTAX);    /* RFC 3986 3.1 */
  assert_int_equal(smtp_client_txn_add_body_url(t, "im_ap:x"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_client_txn_add_body_url(t, "imap:a b"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_add_body_url(t, "imap:a\r\nRSET"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_add_body_url(t, "imap:a\x7f"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_add_body_url(t, "imap:caf\xc3\xa9"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_add_body_url(t, "x+y-z.1:a"), SMTP_OK);
  /* 500 octets: "BURL " url " LAST" CRLF is 512 (RFC 5321 4.5.3.1.4); 501 is over */
  memset(url, 'a', sizeof url);
  memcpy(url, "imap:", 5);
  url[500] = '\0';
  assert_int_equal(smtp_client_txn_add_body_url(t, url), SMTP_OK);
  url[500] = 'a';
  url[501] = '\0';
  assert_int_equal(smtp_client_txn_add_body_url(t, url), SMTP_ERR_TOO_LONG);
  /* at most 64 URLs per message */
  assert_int_equal(smtp_client_txn_reset(t), SMTP_OK);
  for (int i = 0; i < 64; i++) assert_int_equal(smtp_client_txn_add_body_url(t, "imap:x"), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_body_url(t, "imap:x"), SMTP_ERR_LIMIT);
  /* another body source drops the URLs; a URL drops the memory body */
  assert_int_equal(smtp_client_txn_set_body(t, "x\r\n", 3), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_body_url(t, "imap:y"), SMTP_OK);
  assert_int_equal(smtp_client_txn_del(t), SMTP_OK);
}

/* ---- against the library's own server, in memory ---- */

typedef struct pair_log {
  char urls[4096];
  size_t len;
  int done_status, ndelivered;
} pair_log;

static int srv_burl(smtp_server_session *s, const smtp_server_burl *b, void *ud) {
  pair_log *g = ud;
  int n = snprintf(g->urls + g->len, sizeof g->urls - g->len, "%.*s%s\n", (int)b->url.len,
                   b->url.ptr, b->last ? " LAST" : "");
  assert_true(n > 0 && (size_t)n < sizeof g->urls - g->len);
  g->len += (size_t)n;
  return smtp_server_session_reply(s, 250, "2.5.0", b->last ? "Message queued" : "Part fetched");
}

static int cli_done(smtp_client_session *c, smtp_client_txn *t, const smtp_client_txn_result *r,
                    void *ud) {
  pair_log *g = ud;
  (void)t;
  g->done_status = r->status;
  g->ndelivered = (int)r->ndelivered;
  return smtp_client_session_quit(c);
}

static uint32_t prng(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

static void pump(smtp_client_session *c, smtp_server_session *s, int mode, uint32_t *r) {
  for (int iter = 0; iter < 100000; iter++) {
    const char *p;
    smtp_ssize n;
    int moved = 0;
    n = smtp_client_session_mem_send(c, &p);
    if (n > 0) {
      size_t k = mode == FEED_WHOLE ? (size_t)n : mode == FEED_BYTES ? 1 : 1 + prng(r) % (size_t)n;
      smtp_ssize t = smtp_server_session_mem_recv(s, p, k);
      assert_true(t >= 0);
      if (t > 0) {
        assert_int_equal(smtp_client_session_mem_consume(c, (size_t)t), SMTP_OK);
        moved = 1;
      }
    }
    n = smtp_server_session_mem_send(s, &p);
    if (n > 0) {
      size_t k = mode == FEED_WHOLE ? (size_t)n : mode == FEED_BYTES ? 1 : 1 + prng(r) % (size_t)n;
      smtp_ssize t = smtp_client_session_mem_recv(c, p, k);
      assert_true(t >= 0);
      if (t > 0) {
        assert_int_equal(smtp_server_session_mem_consume(s, (size_t)t), SMTP_OK);
        moved = 1;
      }
    }
    if (!moved) return;
  }
  fail_msg("no end");
}

static void pair_run(int mode, uint32_t seed, unsigned int ext, int nurls, const char *want) {
  static const char *const urls[] = {URL2, URL1, "imap://h/x;UID=1"};
  smtp_server_options *so;
  smtp_server_callbacks *scb;
  smtp_server_session *s;
  smtp_client_callbacks *ccb;
  smtp_client_session *c;
  smtp_client_txn *t;
  pair_log g;
  uint32_t r = seed ? seed : 1;
  memset(&g, 0, sizeof g);
  assert_int_equal(smtp_server_options_new(&so, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_set_extensions(so, ext), SMTP_OK);
  assert_int_equal(smtp_server_callbacks_new(&scb, NULL), SMTP_OK);
  smtp_server_callbacks_set_burl(scb, srv_burl);
  assert_int_equal(smtp_server_session_new(&s, scb, &g, so, NULL), SMTP_OK);
  smtp_server_options_del(so);
  smtp_server_callbacks_del(scb);
  assert_int_equal(smtp_client_callbacks_new(&ccb, NULL), SMTP_OK);
  smtp_client_callbacks_set_txn_done(ccb, cli_done);
  assert_int_equal(smtp_client_session_new(&c, ccb, &g, NULL, NULL), SMTP_OK);
  smtp_client_callbacks_del(ccb);
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "joe@example.com", 15), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "bob@example.org", 15, 0, NULL, 0), 0);
  for (int i = 0; i < nurls; i++) assert_int_equal(smtp_client_txn_add_body_url(t, urls[i]), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_OK);
  pump(c, s, mode, &r);
  assert_true(smtp_client_session_is_closed(c));
  g.urls[g.len] = '\0';
  assert_string_equal(g.urls, want);
  if (want[0]) {
    assert_int_equal(g.done_status, SMTP_OK);
    assert_int_equal(g.ndelivered, 1);
  } else {
    assert_int_equal(g.done_status, SMTP_ERR_NEEDS_BURL);
  }
  smtp_client_txn_del(t);
  smtp_client_session_del(c);
  smtp_server_session_del(s);
}

/* The URLs arrive at the server's BURL callback unchanged, LAST on the
 * last; with and without PIPELINING, fed whole, byte by byte and at
 * random splits. A server without BURL gets nothing of the transaction. */
static void test_burl_own_server(void **state) {
  static const struct { int mode; uint32_t seed; } runs[] = {
      {FEED_WHOLE, 0}, {FEED_BYTES, 0}, {FEED_RANDOM, 1}, {FEED_RANDOM, 7}, {FEED_RANDOM, 99991}};
  const unsigned int base = SMTP_SERVER_DEFAULT_EXTENSIONS | SMTP_EXT_BURL;
  (void)state;
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    pair_run(runs[i].mode, runs[i].seed, base, 1, URL2 " LAST\n");
    pair_run(runs[i].mode, runs[i].seed, base, 3, URL2 "\n" URL1 "\nimap://h/x;UID=1 LAST\n");
    pair_run(runs[i].mode, runs[i].seed, base & ~(unsigned)SMTP_EXT_PIPELINING, 2,
             URL2 "\n" URL1 " LAST\n");
    pair_run(runs[i].mode, runs[i].seed, SMTP_SERVER_DEFAULT_EXTENSIONS, 2, "");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burl_one),
      cmocka_unit_test(test_burl_not_offered),
      cmocka_unit_test(test_burl_disabled),
      cmocka_unit_test(test_burl_two),
      cmocka_unit_test(test_burl_trace),
      cmocka_unit_test(test_burl_url_bounds),
      cmocka_unit_test(test_burl_own_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
