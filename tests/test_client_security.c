/* The client cases of docs/security.md: injection through every application
 * input (§3), STARTTLS injection and downgrade (§2), reply smuggling and
 * bounds (§6), 421 at any point, replies before their command, the body
 * rules (§1), and allocation failure at every index without a leak. */
#include "client_harness.h"

static const char *const R1[] = {"bob@example.org"};

/* ---- §3 injection: every input is validated before a byte is written ---- */

static void test_address_injection(void **state) {
  (void)state;
  static const struct { const char *s; size_t n; int err; } bad[] = {
      {"a@b.c\r\nRCPT TO:<x@y.z>", 22, SMTP_ERR_BAD_CHAR},
      {"a@b.c\nDATA", 10, SMTP_ERR_BAD_CHAR},
      {"a@b.c\r", 6, SMTP_ERR_BAD_CHAR},
      {"a\0@b.c", 6, SMTP_ERR_BAD_CHAR},
      {"a@b.c\0", 6, SMTP_ERR_BAD_CHAR},
      {"a@b.c\t", 6, SMTP_ERR_BAD_CHAR},
      {"a@b.c\x7f", 6, SMTP_ERR_BAD_CHAR},
      {"a@b\x1b.c", 6, SMTP_ERR_BAD_CHAR},
      {"a@b.c> SIZE=1", 13, 0},
      {"<a@b.c> BODY=8BITMIME", 21, 0},
      {"a b@c.d", 7, 0},
      {"a@b.c>", 6, 0},
      {"<a@b.c", 6, 0},
      {"a@", 2, 0},
      {"@b.c", 4, 0},
      {"a@b..c", 6, 0},
      {"\"a\rb\"@c.d", 9, SMTP_ERR_BAD_CHAR},
      {"a@[1.2.3.999]", 13, 0},
      {"a@\xc3\x28.c", 6, 0},
  };
  smtp_client_txn *t;
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = smtp_client_txn_set_from(t, bad[i].s, bad[i].n);
    if (bad[i].err) assert_int_equal(rc, bad[i].err);
    else assert_true(rc < 0);
    smtp_ssize r = smtp_client_txn_add_rcpt(t, bad[i].s, bad[i].n, 0, NULL, 0);
    if (bad[i].err) assert_int_equal(r, bad[i].err);
    else assert_true(r < 0);
  }
  assert_int_equal(smtp_client_txn_rcpt_count(t), 0);
  /* a path over 256 octets (RFC 5321 4.5.3.1.3) */
  char longp[300];
  memset(longp, 'a', sizeof longp);
  memcpy(longp + 60, "@", 1);
  for (int i = 100; i < 300; i += 50) longp[i] = '.';
  assert_true(smtp_client_txn_set_from(t, longp, 280) < 0);
  /* valid forms */
  assert_int_equal(smtp_client_txn_set_from(t, "", 0), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "<>", 2), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "a@[127.0.0.1]", 13), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "\"a b\"@c.d", 9), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "Postmaster", 10, 0, NULL, 0), 0);
  assert_true(smtp_client_txn_add_rcpt(t, "", 0, 0, NULL, 0) < 0); /* no null forward-path */
  assert_true(smtp_client_txn_add_rcpt(t, "<>", 2, 0, NULL, 0) < 0);
  /* DSN inputs */
  assert_int_equal(smtp_client_txn_add_rcpt(t, "a@b.c", 5, 0, "x\r\ny", 4), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "a@b.c", 5, 0, "x\0y", 3), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "a@b.c", 5,
                                            SMTP_DSN_NOTIFY_NEVER | SMTP_DSN_NOTIFY_SUCCESS, NULL, 0),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "a@b.c", 5, 0x10, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_set_dsn(t, SMTP_DSN_RET_FULL, "a\r\nb", 4), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_set_dsn(t, SMTP_DSN_RET_FULL, "a\0b", 3), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_set_dsn(t, SMTP_DSN_RET_FULL, "caf\xc3\xa9", 5), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_set_dsn(t, 7, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
  char envid[101];
  memset(envid, 'e', sizeof envid);
  assert_int_equal(smtp_client_txn_set_dsn(t, 0, envid, 101), SMTP_ERR_TOO_LONG);
  assert_int_equal(smtp_client_txn_set_dsn(t, 0, envid, 100), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_body_type(t, 9), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_set_body_source(t, SMTP_CLIENT_BODY_MEMORY),
                   SMTP_ERR_INVALID_ARGUMENT);
  smtp_client_txn_del(t);
}

static void test_option_injection(void **state) {
  (void)state;
  smtp_client_options *o;
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_ehlo_name(o, "x.org\r\nMAIL FROM:<a@b.c>"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_options_set_ehlo_name(o, "x.org\n"), SMTP_ERR_BAD_CHAR);
  assert_true(smtp_client_options_set_ehlo_name(o, "x y.org") < 0);
  assert_true(smtp_client_options_set_ehlo_name(o, "") < 0);
  assert_true(smtp_client_options_set_ehlo_name(o, "-bad.org") < 0);
  assert_true(smtp_client_options_set_ehlo_name(o, "[300.1.1.1]") < 0);
  assert_int_equal(smtp_client_options_set_ehlo_name(o, "[127.0.0.1]"), SMTP_OK);
  assert_int_equal(smtp_client_options_set_ehlo_name(o, "[IPv6:::1]"), SMTP_OK);
  assert_int_equal(smtp_client_options_set_ehlo_name(o, "mail.example.org"), SMTP_OK);
  assert_int_equal(smtp_client_options_set_credentials(o, NULL, "u\r\nQUIT", "p"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_options_set_credentials(o, NULL, "u", "p\nx"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_options_set_credentials(o, "a\rb", "u", "p"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_options_set_credentials(o, NULL, "u", "p\x7f"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_options_set_credentials(o, NULL, "\xc3\x28", "p"), SMTP_ERR_UTF8);
  assert_int_equal(smtp_client_options_set_credentials(o, NULL, "", "p"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_credentials(o, NULL, "u", NULL), SMTP_ERR_INVALID_ARGUMENT);
  char big[300];
  memset(big, 'u', sizeof big - 1);
  big[sizeof big - 1] = 0;
  assert_int_equal(smtp_client_options_set_credentials(o, NULL, big, "p"), SMTP_ERR_TOO_LONG);
  assert_int_equal(smtp_client_options_set_oauth_token(o, "u", "tok en"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_options_set_oauth_token(o, "u", "tok\r\nen"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_options_set_oauth_token(o, "u\n", "token"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_options_set_oauth_token(o, "u", ""), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_starttls(o, 3), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_auth_mechanism(o, SMTP_SASL_PLAIN | SMTP_SASL_LOGIN),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_auth_mechanism(o, SMTP_SASL_EXTERNAL), SMTP_ERR_UNSUPPORTED);
  assert_int_equal(smtp_client_options_set_reply_limits(o, 10, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_output_buffer(o, 100), SMTP_ERR_INVALID_ARGUMENT);
  smtp_client_options_del(o);
}

/* ---- §2 STARTTLS ---- */

static void setup_tls_opportunistic(harness *h) {
  assert_int_equal(smtp_client_options_set_starttls(h->opt, SMTP_CLIENT_STARTTLS_OPPORTUNISTIC),
                   SMTP_OK);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}
static void setup_tls_required(harness *h) {
  assert_int_equal(smtp_client_options_set_starttls(h->opt, SMTP_CLIENT_STARTTLS_REQUIRED), SMTP_OK);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}

/* After TLS only the new capability list counts (RFC 3207 4.2): a
 * pre-TLS PIPELINING is forgotten. */
static void test_starttls_forgets_caps(void **state) {
  (void)state;
  h_transcript(setup_tls_opportunistic,
               "S: 220 mx\nC: EHLO client.example\n"
               "S: 250-mx\nS: 250-PIPELINING\nS: 250-CHUNKING\nS: 250 STARTTLS\n"
               "C: STARTTLS\nS: 220 2.0.0 go ahead\nTLS\n"
               "C: EHLO client.example\nS: 250-mx\nS: 250 SIZE 100\n"
               "C: MAIL FROM:<a@b.org> SIZE=3\nS: 250 ok\nC: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: DATA\nS: 354 go\nC: x\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 111\nSTARTTLS\nTLS 0\nCAPS 2\nREADY\nMAIL 250\nRCPT 0 250\n"
               "BODY 0\nDATA - 250\nDONE 0 1 1\nCLOSED 0\n");
}

/* docs/security.md 2 (CVE-2011-0411 class): bytes after the 220 and before the
 * handshake are a protocol error, in the same packet or later. */
static void test_starttls_injection(void **state) {
  (void)state;
  for (int variant = 0; variant < 3; variant++) {
    harness *h = calloc(1, sizeof *h);
    h_start(h, setup_tls_opportunistic, FEED_WHOLE, 0);
    h_run(h, "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\n");
    if (variant == 0) {
      static const char pkt[] = "220 go\r\n250-mx\r\n250 AUTH PLAIN\r\n";
      assert_int_equal(smtp_client_session_mem_recv(h->c, pkt, sizeof pkt - 1), SMTP_ERR_PROTOCOL);
    } else if (variant == 1) {
      assert_int_equal(smtp_client_session_mem_recv(h->c, "220 go\r\n", 8), 8);
      assert_true(smtp_client_session_want_tls(h->c));
      assert_false(smtp_client_session_want_read(h->c));
      assert_int_equal(smtp_client_session_mem_recv(h->c, "2", 1), SMTP_ERR_PROTOCOL);
    } else {
      static const char pkt[] = "220 go\r\nX";
      assert_int_equal(smtp_client_session_mem_recv(h->c, pkt, sizeof pkt - 1), SMTP_ERR_PROTOCOL);
    }
    assert_true(smtp_client_session_is_closed(h->c));
    assert_int_equal(smtp_client_session_error(h->c), SMTP_ERR_PROTOCOL);
    assert_false(smtp_client_session_want_tls(h->c));
    assert_int_equal(smtp_client_session_tls_started(h->c, NULL), SMTP_ERR_INVALID_STATE);
    const char *p;
    assert_int_equal(smtp_client_session_mem_send(h->c, &p), 0);
    assert_non_null(strstr(h->log, "DONE -903 0 0\nCLOSED -903\n"));
    h_end(h);
    free(h);
  }
}

/* "required": every failure ends the session before AUTH or MAIL. */
static void test_starttls_required(void **state) {
  (void)state;
  h_transcript(setup_tls_required,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 PIPELINING\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 1\nDONE -43 0 0\nCLOSED -43\n");
  h_transcript(setup_tls_required,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 STARTTLS\n"
               "C: STARTTLS\nS: 454 4.7.0 TLS not available\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 100\nDONE -43 0 0\nCLOSED -43\n");
  h_transcript(setup_tls_required,
               "S: 220 mx\nC: EHLO client.example\nS: 502 no EHLO\nC: HELO client.example\n"
               "S: 250 mx\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nDONE -43 0 0\nCLOSED -43\n");
  /* a failed handshake: the session ends, nothing more is sent */
  h_transcript(setup_tls_required,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 STARTTLS\n"
               "C: STARTTLS\nS: 220 go\n",
               "GREETING 220\nCAPS 100\nSTARTTLS\n");
  harness *h = calloc(1, sizeof *h);
  h_start(h, setup_tls_required, FEED_WHOLE, 0);
  h_run(h, "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n");
  assert_int_equal(smtp_client_session_timeout_ms(h->c), 5 * 60 * 1000);
  assert_int_equal(smtp_client_session_tls_failed(h->c, SMTP_ERR_TLS_VERIFY), SMTP_OK);
  h_check_output(h);
  h_expect_log(h, "GREETING 220\nCAPS 100\nSTARTTLS\nDONE -912 0 0\nCLOSED -912\n");
  assert_false(smtp_client_session_want_write(h->c));
  h_end(h);
  free(h);
}

/* "opportunistic": a refused STARTTLS goes on in clear text. */
static void test_starttls_opportunistic_refused(void **state) {
  (void)state;
  h_transcript(setup_tls_opportunistic,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 STARTTLS\n"
               "C: STARTTLS\nS: 454 4.7.0 not now\n"
               "C: MAIL FROM:<a@b.org>\nS: 250 ok\nC: RCPT TO:<bob@example.org>\nS: 250 ok\n"
               "C: DATA\nS: 354 go\nC: x\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 100\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\n"
               "DONE 0 1 1\nCLOSED 0\n");
}

/* Credentials never in clear text (RFC 4954 4, docs/security.md 2). */
static void setup_auth_clear(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, NULL, "user", "secret"), SMTP_OK);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
  h->trace = 1;
}
static void test_no_cleartext_credentials(void **state) {
  (void)state;
  h_transcript(setup_auth_clear,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN LOGIN\n"
               "C: QUIT\nS: 221 bye\n",
               "TS 220 mx\nGREETING 220\nTC EHLO client.example\nTS 250-mx\n"
               "TS 250 AUTH PLAIN LOGIN\nCAPS 200\nAUTH -42 0\nDONE -42 0 0\nTC QUIT\n"
               "TS 221 bye\nCLOSED -42\n");
}

/* Implicit TLS (RFC 8314): TLS before the first byte, no STARTTLS, AUTH
 * allowed without the plaintext permission; too late once bytes came. */
static void setup_implicit(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, NULL, "user", "secret"), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(h->opt, SMTP_CLIENT_STARTTLS_REQUIRED), SMTP_OK);
  h->no_submit = 1;
}
static void test_implicit_tls(void **state) {
  (void)state;
  harness *h = calloc(1, sizeof *h);
  h_start(h, setup_implicit, FEED_BYTES, 0);
  assert_false(smtp_client_session_tls_active(h->c));
  assert_int_equal(smtp_client_session_tls_started(h->c, NULL), SMTP_OK);
  assert_true(smtp_client_session_tls_active(h->c));
  h_run(h, "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-STARTTLS\nS: 250 AUTH PLAIN\n"
           "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: 235 ok\nQUIT\nC: QUIT\nS: 221 bye\n");
  h_expect_log(h, "GREETING 220\nCAPS 300\nAUTH 0 235\nREADY\nCLOSED 0\n");
  h_end(h);
  h_start(h, setup_implicit, FEED_BYTES, 0);
  h_feed(h, "220 mx\r\n", 8);
  assert_int_equal(smtp_client_session_tls_started(h->c, NULL), SMTP_ERR_INVALID_STATE);
  h_end(h);
  free(h);
}

/* ---- §6 replies ---- */

static void check_bad_reply(const char *pkt, size_t n) {
  for (int mode = 0; mode < 3; mode++) {
    harness *h = calloc(1, sizeof *h);
    h_start(h, NULL, mode, 3);
    h_txn(h, "a@b.org", R1, 1, "x\r\n");
    assert_int_equal(smtp_client_session_submit(h->c, h->txn), SMTP_OK);
    h_run(h, "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: MAIL FROM:<a@b.org>\n");
    h_feed(h, pkt, n);
    if (!strstr(h->log, "RECV -903\n") || !strstr(h->log, "DONE -903 0 0\nCLOSED -903\n")) {
      print_error("packet %.*s: log\n%s", (int)n, pkt, h->log);
      fail();
    }
    assert_null(strstr(h->log, "MAIL 250"));
    assert_true(smtp_client_session_is_closed(h->c));
    h_end(h);
    free(h);
  }
}

/* Malformed replies are protocol errors, never successes (docs/security.md 6,
 * CVE-2020-8794 class). */
static void test_reply_smuggling(void **state) {
  (void)state;
  static const char *const bad[] = {
      "250-\r\n251 ok\r\n",          /* codes differ */
      "250-ok\r\n550 no\r\n",
      "250-ok\r\n250-ok\r\n350 x\r\n",
      "250 ok\n",                     /* bare LF */
      "250 ok\r250 ok\r\n",           /* bare CR */
      "25O ok\r\n",
      "2500 ok\r\n",
      "250x\r\n",
      "\r\n",
      " 250 ok\r\n",
      "199 hello\r\n",
      "600 nope\r\n",
      "260 x\r\n",
      "250 a\0b\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t n = strlen(bad[i]);
    if (i == sizeof bad / sizeof bad[0] - 1) n = 9;
    check_bad_reply(bad[i], n);
  }
  /* a bare final "250" is valid (docs/security.md 6) */
  h_transcript(NULL, "S: 220\nC: EHLO client.example\nS: 250\nQUIT\nC: QUIT\nS: 221\n",
               "GREETING 220\nCAPS 0\nREADY\nCLOSED 0\n");
}

/* Bounded reply lines and line counts. */
static void test_reply_bounds(void **state) {
  (void)state;
  char pkt[4096];
  memcpy(pkt, "250 ", 4);
  memset(pkt + 4, 'x', 600);
  memcpy(pkt + 604, "\r\n", 2);
  check_bad_reply(pkt, 606);
  size_t n = 0;
  for (int i = 0; i < 150; i++) n += (size_t)sprintf(pkt + n, "250-line %d\r\n", i);
  n += (size_t)sprintf(pkt + n, "250 end\r\n");
  check_bad_reply(pkt, n);
}

static void setup_small_limits(harness *h) {
  assert_int_equal(smtp_client_options_set_reply_limits(h->opt, 64, 3), SMTP_OK);
  h->no_submit = 1;
}
static void test_reply_bounds_configured(void **state) {
  (void)state;
  h_transcript(setup_small_limits,
               "S: 220 mx\nC: EHLO client.example\nS: 250-a\nS: 250-b\nS: 250-c\nS: 250 d\n",
               "GREETING 220\nCLOSED -903\nRECV -903\n");
  h_transcript(setup_small_limits,
               "S: 220 mx\nC: EHLO client.example\n"
               "S: 250 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
               "GREETING 220\nCLOSED -903\nRECV -903\n");
}

/* A reply before its command was written (or with none outstanding) is a
 * protocol error (docs/security.md 6); 421 may come at any time. */
static void test_reply_before_command(void **state) {
  (void)state;
  harness *h = calloc(1, sizeof *h);
  h_start(h, NULL, FEED_WHOLE, 0);
  /* EHLO is queued after the greeting but not written when its "reply" comes */
  assert_int_equal(smtp_client_session_mem_recv(h->c, "220 mx\r\n250 mx\r\n", 16), SMTP_ERR_PROTOCOL);
  assert_int_equal(smtp_client_session_error(h->c), SMTP_ERR_PROTOCOL);
  h_end(h);
  /* written but not consumed: the same */
  h_start(h, NULL, FEED_WHOLE, 0);
  assert_int_equal(smtp_client_session_mem_recv(h->c, "220 mx\r\n", 8), 8);
  const char *p;
  smtp_ssize n = smtp_client_session_mem_send(h->c, &p);
  assert_true(n > 5);
  assert_int_equal(smtp_client_session_mem_consume(h->c, (size_t)n - 1), SMTP_OK);
  assert_int_equal(smtp_client_session_mem_recv(h->c, "250 mx\r\n", 8), SMTP_ERR_PROTOCOL);
  assert_int_equal(smtp_client_session_mem_consume(h->c, 5), SMTP_ERR_INVALID_ARGUMENT);
  h_end(h);
  /* idle, nothing outstanding */
  h_start(h, setup_small_limits, FEED_WHOLE, 0);
  h->no_submit = 1;
  h_run(h, "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nS: 250 surprise\n");
  h_expect_log(h, "GREETING 220\nCAPS 0\nREADY\nCLOSED -903\nRECV -903\n");
  h_end(h);
  /* pipelined: one reply too many */
  h_start(h, NULL, FEED_WHOLE, 0);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
  assert_int_equal(smtp_client_session_submit(h->c, h->txn), SMTP_OK);
  h_run(h, "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 PIPELINING\n"
           "C: MAIL FROM:<a@b.org>\nC: RCPT TO:<bob@example.org>\nC: DATA\n"
           "S: 250 ok\nS: 250 ok\nS: 354 go\nS: 250 smuggled\n");
  assert_non_null(strstr(h->log, "RECV -903\n"));
  assert_non_null(strstr(h->log, "DONE -903 1 0\nCLOSED -903\n"));
  assert_null(strstr(h->log, "DATA - 250"));
  h_end(h);
  free(h);
}

/* 421 anywhere fails the transaction temporarily (RFC 5321 3.8). */
static void setup_pipe(harness *h) {
  static const char *const r[] = {"b@x.org", "c@x.org"};
  h_txn(h, "a@b.org", r, 2, "x\r\n");
}
static void test_421_everywhere(void **state) {
  (void)state;
  const char *pre = "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 PIPELINING\n"
                    "C: MAIL FROM:<a@b.org>\nC: RCPT TO:<b@x.org>\nC: RCPT TO:<c@x.org>\nC: DATA\n";
  char script[1024];
  snprintf(script, sizeof script, "%sS: 421 4.3.2 shutting down\n", pre);
  h_transcript(setup_pipe, script, "GREETING 220\nCAPS 1\nREADY\nMAIL 421\nDONE -37 0 0\nCLOSED -906\n");
  snprintf(script, sizeof script, "%sS: 250 ok\nS: 250 ok\nS: 421 4.4.2 timeout\n", pre);
  h_transcript(setup_pipe, script,
               "GREETING 220\nCAPS 1\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 421\nDONE -37 1 0\n"
               "CLOSED -906\n");
  snprintf(script, sizeof script, "%sS: 250 ok\nS: 250 ok\nS: 250 ok\nS: 421 bye\n", pre);
  h_transcript(setup_pipe, script,
               "GREETING 220\nCAPS 1\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 250\nDATA - 421\n"
               "DONE -37 2 0\nCLOSED -906\n");
  snprintf(script, sizeof script,
           "%sS: 250 ok\nS: 250 ok\nS: 250 ok\nS: 354 go\nC: x\nC: .\nS: 421 4.3.0 crash\n", pre);
  h_transcript(setup_pipe, script,
               "GREETING 220\nCAPS 1\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 250\nBODY 0\nDATA - 421\n"
               "DONE -37 2 0\nCLOSED -906\n");
  /* unsolicited, while idle */
  h_transcript(NULL, "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nS: 421 going down\n",
               "GREETING 220\nCAPS 0\nREADY\nCLOSED -906\n");
  /* during AUTH */
}

/* A body that turns out invalid after 354 ends the session without the
 * terminator (docs/security.md 1); so does a failing read callback. */
static void setup_stream_nul(harness *h) {
  static const char b[] = "ok\r\nbad\0line\r\n";
  h_txn(h, "a@b.org", R1, 1, NULL);
  assert_int_equal(smtp_client_txn_set_body_source(h->txn, SMTP_CLIENT_BODY_READ), SMTP_OK);
  h->read_src = b;
  h->read_len = sizeof b - 1;
}
static void setup_stream_fail(harness *h) {
  setup_stream_nul(h);
  h->read_fail = SMTP_ERR_IO;
}
static void test_stream_body_abort(void **state) {
  (void)state;
  const char *s = "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: MAIL FROM:<a@b.org>\nS: 250 ok\n"
                  "C: RCPT TO:<bob@example.org>\nS: 250 ok\nC: DATA\nS: 354 go\n";
  char script[512];
  snprintf(script, sizeof script, "%sLOST\n", s);
  h_transcript(setup_stream_nul, script,
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDONE -31 1 0\n"
               "CLOSED -31\n");
  h_transcript(setup_stream_fail, script,
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDONE -908 1 0\n"
               "CLOSED -908\n");
}

/* ---- memory ---- */

typedef struct {
  long allocs, live, fail_at;
} count_mem;

static void *cm_malloc(size_t n, void *ud) {
  count_mem *m = ud;
  if (m->fail_at >= 0 && m->allocs++ == m->fail_at) return NULL;
  if (m->fail_at < 0) m->allocs++;
  void *p = malloc(n);
  if (p) m->live++;
  return p;
}
static void cm_free(void *p, void *ud) {
  count_mem *m = ud;
  if (p) m->live--;
  free(p);
}
static void *cm_calloc(size_t a, size_t b, void *ud) {
  void *p = cm_malloc(a * b, ud);
  if (p) memset(p, 0, a * b);
  return p;
}
static void *cm_realloc(void *p, size_t n, void *ud) {
  count_mem *m = ud;
  if (!p) return cm_malloc(n, ud);
  if (m->fail_at >= 0 && m->allocs++ == m->fail_at) return NULL;
  if (m->fail_at < 0) m->allocs++;
  return realloc(p, n);
}

/* One whole run with allocator @p m; returns 1 when it completed. */
static int alloc_run(count_mem *m) {
  smtp_mem mem = {m, cm_malloc, cm_free, cm_calloc, cm_realloc};
  smtp_client_options *o = NULL;
  smtp_client_txn *t = NULL;
  smtp_client_session *c = NULL;
  int ok = 0;
  if (smtp_client_options_new(&o, &mem) != SMTP_OK) goto out;
  if (smtp_client_options_set_oauth_token(o, "u", "tok") != SMTP_OK) goto out;
  if (smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_OFF) != SMTP_OK) goto out;
  smtp_client_options_set_allow_plaintext_auth(o, 1);
  if (smtp_client_txn_new(&t, &mem) != SMTP_OK) goto out;
  if (smtp_client_txn_set_from(t, "a@b.org", 7) != SMTP_OK) goto out;
  for (int i = 0; i < 20; i++) {
    char a[32];
    int n = snprintf(a, sizeof a, "rcpt%d@example.org", i);
    if (smtp_client_txn_add_rcpt(t, a, (size_t)n, SMTP_DSN_NOTIFY_FAILURE, a, (size_t)n) < 0) goto out;
  }
  if (smtp_client_txn_set_body(t, "hi\r\n", 4) != SMTP_OK) goto out;
  if (smtp_client_session_new(&c, NULL, NULL, o, &mem) != SMTP_OK) goto out;
  if (smtp_client_session_submit(c, t) != SMTP_OK) goto out;
  ok = 1;
out:
  smtp_client_session_del(c);
  smtp_client_txn_del(t);
  smtp_client_options_del(o);
  return ok;
}

static void test_alloc_failure_every_index(void **state) {
  (void)state;
  count_mem m = {0, 0, -1};
  assert_true(alloc_run(&m));
  assert_int_equal(m.live, 0);
  long total = m.allocs;
  assert_true(total > 3);
  for (long k = 0; k < total; k++) {
    count_mem f = {0, 0, k};
    assert_false(alloc_run(&f));
    assert_int_equal(f.live, 0);
  }
}

/* No allocation in the steady state: a whole session with two
 * transactions reusing one transaction object. */
static int steady_done(smtp_client_session *c, const smtp_client_event *ev, void *ud) {
  int *left = ud;
  if (ev->type == SMTP_CLIENT_EVENT_TXN_DONE) {
    if ((*left)-- > 0) assert_int_equal(smtp_client_session_submit(c, ev->txn), SMTP_OK);
    else smtp_client_session_quit(c);
  }
  return 0;
}
static void test_no_steady_state_allocation(void **state) {
  (void)state;
  count_mem m = {0, 0, -1};
  smtp_mem mem = {&m, cm_malloc, cm_free, cm_calloc, cm_realloc};
  smtp_client_callbacks *cb;
  smtp_client_session *c;
  smtp_client_txn *t;
  int left = 2;
  assert_int_equal(smtp_client_callbacks_new(&cb, NULL), SMTP_OK);
  smtp_client_callbacks_set_event(cb, steady_done);
  assert_int_equal(smtp_client_txn_new(&t, &mem), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "a@b.org", 7), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "c@d.org", 7, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body(t, "hi\r\n", 4), SMTP_OK);
  assert_int_equal(smtp_client_session_new(&c, cb, &left, NULL, &mem), SMTP_OK);
  long after_setup = m.allocs;
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_OK);
  static const char *const replies[] = {"220 mx\r\n", "250-mx\r\n250 PIPELINING\r\n",
                                        "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n",
                                        "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n",
                                        "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n",
                                        "221 bye\r\n"};
  long after_ehlo = 0;
  for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
    const char *p;
    smtp_ssize n = smtp_client_session_mem_recv(c, replies[i], strlen(replies[i]));
    assert_int_equal(n, (smtp_ssize)strlen(replies[i]));
    n = smtp_client_session_mem_send(c, &p);
    assert_true(n >= 0);
    assert_int_equal(smtp_client_session_mem_consume(c, (size_t)n), SMTP_OK);
    if (i == 1) after_ehlo = m.allocs;
  }
  assert_true(smtp_client_session_is_closed(c));
  assert_int_equal(smtp_client_session_error(c), 0);
  /* one allocation per connection, the copy of the EHLO keywords, then
   * three transactions without any */
  assert_int_equal(after_ehlo, after_setup + 1);
  assert_int_equal(m.allocs, after_ehlo);
  smtp_client_session_del(c);
  smtp_client_txn_del(t);
  smtp_client_callbacks_del(cb);
  assert_int_equal(m.live, 0);
}

/* Credentials are wiped from the trace: AUTH data is "<redacted>". */
static void setup_trace_auth(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, NULL, "user", "hunter2"), SMTP_OK);
  assert_int_equal(smtp_client_options_set_auth_mechanism(h->opt, SMTP_SASL_LOGIN), SMTP_OK);
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  h->trace = 1;
  h->no_submit = 1;
}
static void test_trace_redacts(void **state) {
  (void)state;
  h_transcript(setup_trace_auth,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH LOGIN\n"
               "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\nS: 334 UGFzc3dvcmQ6\n"
               "C: aHVudGVyMg==\nS: 235 2.7.0 ok\nQUIT\nC: QUIT\nS: 221 bye\n",
               "TS 220 mx\nGREETING 220\nTC EHLO client.example\nTS 250-mx\nTS 250 AUTH LOGIN\n"
               "CAPS 200\nTC AUTH LOGIN\nTS 334 VXNlcm5hbWU6\nTC <redacted>\n"
               "TS 334 UGFzc3dvcmQ6\nTC <redacted>\nTS 235 2.7.0 ok\nAUTH 0 235\nREADY\n"
               "TC QUIT\nTS 221 bye\nCLOSED 0\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_address_injection),
      cmocka_unit_test(test_option_injection),
      cmocka_unit_test(test_starttls_forgets_caps),
      cmocka_unit_test(test_starttls_injection),
      cmocka_unit_test(test_starttls_required),
      cmocka_unit_test(test_starttls_opportunistic_refused),
      cmocka_unit_test(test_no_cleartext_credentials),
      cmocka_unit_test(test_implicit_tls),
      cmocka_unit_test(test_reply_smuggling),
      cmocka_unit_test(test_reply_bounds),
      cmocka_unit_test(test_reply_bounds_configured),
      cmocka_unit_test(test_reply_before_command),
      cmocka_unit_test(test_421_everywhere),
      cmocka_unit_test(test_stream_body_abort),
      cmocka_unit_test(test_alloc_failure_every_index),
      cmocka_unit_test(test_no_steady_state_allocation),
      cmocka_unit_test(test_trace_redacts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
