/* Transaction capture (smtp/capture.h): a server session's trace turned
 * into one record per transaction, with the replies the client really got
 * (RFC 5321 4.1.1.2-4.1.1.4, 4.2), BDAT (RFC 3030), LMTP (RFC 2033 4.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/capture.h>
#include <smtp/server.h>

typedef struct harness {
  smtp_capture *cap;
  char json[8][2048];
  unsigned int nrec;
  int rcpt_code[8];
  char first_rcpt[8][64];
  uint64_t size[8];
  int data_code[8];
} harness;

static void on_record(smtp_capture *c, const smtp_capture_record *rec, void *ud) {
  harness *h = ud;
  size_t need = 0;
  const char *r0;
  (void)c;
  assert_true(h->nrec < 8);
  assert_int_equal(smtp_capture_record_json(rec, "2026-12-07T04:00:00Z", NULL, 0, &need),
                   SMTP_ERR_BUFFER_TOO_SMALL);
  assert_true(need < sizeof h->json[0]);
  assert_int_equal(smtp_capture_record_json(rec, "2026-12-07T04:00:00Z", h->json[h->nrec], need, NULL),
                   SMTP_ERR_BUFFER_TOO_SMALL); /* no room for the NUL */
  assert_int_equal(smtp_capture_record_json(rec, "2026-12-07T04:00:00Z", h->json[h->nrec],
                                            sizeof h->json[0], NULL),
                   SMTP_OK);
  assert_int_equal(strlen(h->json[h->nrec]), need);
  r0 = smtp_capture_record_rcpt(rec, 0, &h->rcpt_code[h->nrec]);
  snprintf(h->first_rcpt[h->nrec], sizeof h->first_rcpt[0], "%s", r0 ? r0 : "(none)");
  h->data_code[h->nrec] = smtp_capture_record_data(rec, &h->size[h->nrec]);
  assert_null(smtp_capture_record_rcpt(rec, smtp_capture_record_rcpt_count(rec), NULL));
  h->nrec++;
}

static int on_trace(smtp_server_session *s, int dir, const char *line, size_t len, void *ud) {
  harness *h = ud;
  assert_int_equal(smtp_capture_trace(h->cap, s, dir, line, len), SMTP_OK);
  return 0;
}

static int on_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud) {
  (void)ud;
  if (r->path->address.len >= 4 && memcmp(r->path->address.ptr, "bad@", 4) == 0)
    return smtp_server_session_reply(s, 550, "5.1.1", "Mailbox unknown") == SMTP_OK ? 0 : -1;
  return 0;
}

static int on_data_end(smtp_server_session *s, const smtp_server_data_end *e, void *ud) {
  harness *h = ud;
  (void)s;
  assert_int_equal(smtp_capture_data_end(h->cap, e), SMTP_OK);
  if (e->rcpt_index <= 0) assert_int_equal(smtp_capture_set_file(h->cap, "/tmp/Maildir/new/1"), SMTP_OK);
  return 0;
}

static int with_xclient; /* run(): XCLIENT and XFORWARD enabled and trusted */

/* Runs @p in through a session (fed @p step octets at a time; 0: whole). */
static void run(harness *h, const char *in, size_t step, int lmtp) {
  smtp_server_callbacks *cb;
  smtp_server_options *o;
  smtp_server_session *s;
  size_t off = 0, len = strlen(in);
  memset(h, 0, sizeof *h);
  assert_int_equal(smtp_capture_new(&h->cap, on_record, h, NULL), SMTP_OK);
  assert_int_equal(smtp_capture_set_client(h->cap, "192.0.2.7", 40123, NULL, -1), SMTP_OK);
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_set_hostname(o, "mx.example"), SMTP_OK);
  assert_int_equal(smtp_server_options_set_lmtp(o, lmtp), SMTP_OK);
  assert_int_equal(smtp_server_options_set_extensions(
                       o, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_CHUNKING |
                              SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_DSN),
                   SMTP_OK);
  smtp_server_callbacks_set_trace(cb, on_trace);
  smtp_server_callbacks_set_rcpt(cb, on_rcpt);
  smtp_server_callbacks_set_data_end(cb, on_data_end);
  if (with_xclient) assert_int_equal(smtp_server_options_set_xclient(o, SMTP_XCLIENT | SMTP_XFORWARD), SMTP_OK);
  assert_int_equal(smtp_server_session_new(&s, cb, h, o, NULL), SMTP_OK);
  if (with_xclient) assert_int_equal(smtp_server_session_allow_xclient(s, SMTP_XCLIENT | SMTP_XFORWARD), SMTP_OK);
  for (int guard = 0; guard < 100000 && !smtp_server_session_want_close(s); guard++) {
    const char *p;
    smtp_ssize n;
    while ((n = smtp_server_session_mem_send(s, &p)) > 0) smtp_server_session_mem_consume(s, (size_t)n);
    if (off < len) {
      size_t k = step && len - off > step ? step : len - off;
      n = smtp_server_session_mem_recv(s, in + off, k);
      assert_true(n >= 0);
      off += (size_t)n;
    } else if (!smtp_server_session_want_write(s)) {
      break;
    }
  }
  smtp_capture_end(h->cap);
  smtp_capture_del(h->cap);
  smtp_server_session_del(s);
  smtp_server_callbacks_del(cb);
  smtp_server_options_del(o);
}

static const char pipelined[] =
    "EHLO client.example\r\n"
    "MAIL FROM:<alice@example.org> SIZE=120 body=8BITMIME ENVID=a+2Bb\r\n"
    "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.net\r\n"
    "RCPT TO:<bad@example.net>\r\n"
    "DATA\r\n"
    "Subject: hi\r\n\r\n..dot\r\nline\r\n.\r\n"
    "MAIL FROM:<>\r\n"
    "RCPT TO:<Postmaster>\r\n"
    "RSET\r\n"
    "QUIT\r\n";

static const char want0[] =
    "{\"time\":\"2026-12-07T04:00:00Z\",\"client\":{\"addr\":\"192.0.2.7\",\"port\":40123,\"name\":null},"
    "\"peer\":null,\"helo\":\"client.example\",\"tls\":null,\"auth\":null,"
    "\"mail\":{\"path\":\"alice@example.org\",\"params\":{\"SIZE\":\"120\",\"BODY\":\"8BITMIME\","
    "\"ENVID\":\"a+2Bb\"}},"
    "\"rcpts\":[{\"path\":\"bob@example.net\",\"params\":{\"NOTIFY\":\"SUCCESS,FAILURE\","
    "\"ORCPT\":\"rfc822;bob@example.net\"},\"code\":250,\"enhanced\":\"2.1.5\"},"
    "{\"path\":\"bad@example.net\",\"params\":{},\"code\":550,\"enhanced\":\"5.1.1\"}],"
    "\"data\":{\"size\":27,\"code\":250,\"enhanced\":\"2.0.0\",\"file\":\"/tmp/Maildir/new/1\","
    "\"bdat\":false}}";

static const char want1[] =
    "{\"time\":\"2026-12-07T04:00:00Z\",\"client\":{\"addr\":\"192.0.2.7\",\"port\":40123,\"name\":null},"
    "\"peer\":null,\"helo\":\"client.example\",\"tls\":null,\"auth\":null,"
    "\"mail\":{\"path\":\"\",\"params\":{}},"
    "\"rcpts\":[{\"path\":\"Postmaster\",\"params\":{},\"code\":250,\"enhanced\":\"2.1.5\"}],"
    "\"data\":null}";

static void test_pipelined(void **state) {
  harness h;
  (void)state;
  /* whole, one octet at a time, and in 7-octet pieces: the same records */
  static const size_t steps[] = {0, 1, 7};
  for (size_t k = 0; k < 3; k++) {
    run(&h, pipelined, steps[k], 0);
    assert_int_equal(h.nrec, 2);
    assert_string_equal(h.json[0], want0);
    assert_string_equal(h.json[1], want1);
    assert_string_equal(h.first_rcpt[0], "bob@example.net");
    assert_int_equal(h.rcpt_code[0], 250);
    assert_int_equal(h.data_code[0], 250);
    assert_int_equal(h.size[0], 27); /* "Subject: hi\r\n\r\n.dot\r\nline\r\n" unstuffed */
    assert_int_equal(h.data_code[1], 0);
  }
}

/* What a trusted proxy said: XCLIENT's client (address, name, HELO, LOGIN)
 * for the session, XFORWARD's name for its transaction only. */
static void test_xclient_fields(void **state) {
  static const char in[] =
      "EHLO proxy.example\r\n"
      "XCLIENT NAME=c.example ADDR=192.0.2.9 PORT=7 LOGIN=bob HELO=h.example\r\n"
      "EHLO proxy.example\r\n"
      "XFORWARD NAME=[UNAVAILABLE]\r\n"
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\n"
      "MAIL FROM:<>\r\nRCPT TO:<b@example.org>\r\nRSET\r\nQUIT\r\n";
  static const char head0[] = "{\"time\":\"2026-12-07T04:00:00Z\",\"client\":{\"addr\":\"192.0.2.9\","
                              "\"port\":7,\"name\":\"unknown\"},\"peer\":null,\"helo\":\"h.example\","
                              "\"tls\":null,\"auth\":\"bob\",";
  static const char head1[] = "{\"time\":\"2026-12-07T04:00:00Z\",\"client\":{\"addr\":\"192.0.2.9\","
                              "\"port\":7,\"name\":\"c.example\"},\"peer\":null,\"helo\":\"h.example\","
                              "\"tls\":null,\"auth\":\"bob\",";
  harness h;
  (void)state;
  with_xclient = 1;
  for (size_t step = 0; step < 3; step++) {
    run(&h, in, step, 0);
    assert_int_equal(h.nrec, 2);
    if (strncmp(h.json[0], head0, sizeof head0 - 1) != 0) fail_msg("%s", h.json[0]);
    if (strncmp(h.json[1], head1, sizeof head1 - 1) != 0) fail_msg("%s", h.json[1]);
  }
  with_xclient = 0;
}

static void test_bdat_and_refusals(void **state) {
  harness h;
  (void)state;
  run(&h,
      "EHLO c.example\r\n"
      "MAIL FROM:<a@example.org>\r\n"
      "RCPT TO:<b@example.org>\r\n"
      "BDAT 5\r\nhello"
      "BDAT 3 LAST\r\nabc"
      "MAIL FROM:<a@example.org>\r\n"
      "RCPT TO:<bad@example.org>\r\n"
      "DATA\r\n"        /* 554 5.5.1: no valid recipients; the transaction stays open */
      "QUIT\r\n",
      0, 0);
  assert_int_equal(h.nrec, 2);
  assert_non_null(strstr(h.json[0], "\"data\":{\"size\":8,\"code\":250,\"enhanced\":\"2.0.0\","
                                    "\"file\":\"/tmp/Maildir/new/1\",\"bdat\":true}"));
  assert_non_null(strstr(h.json[1], "\"code\":550"));
  assert_non_null(strstr(h.json[1], "\"data\":null"));
  /* a refused MAIL opens nothing */
  run(&h, "HELO c.example\r\nMAIL FROM:<a@@b>\r\nMAIL FROM:<a@b.example>\r\n"
          "RCPT TO:<x@b.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n", 0, 0);
  assert_int_equal(h.nrec, 1);
  assert_non_null(strstr(h.json[0], "\"mail\":{\"path\":\"a@b.example\""));
  assert_non_null(strstr(h.json[0], "\"code\":250,\"enhanced\":\"2.1.5\""));
  assert_non_null(strstr(h.json[0], "\"size\":3,"));
}

static void test_lmtp(void **state) {
  harness h;
  (void)state;
  run(&h, "LHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x@example.org>\r\n"
          "RCPT TO:<y@example.org>\r\nDATA\r\nhi\r\n.\r\nRSET\r\nQUIT\r\n", 0, 1);
  assert_int_equal(h.nrec, 1); /* one record after both per-recipient replies */
  assert_non_null(strstr(h.json[0], "\"data\":{\"size\":4,\"code\":250"));
}

static void test_connection_end_and_args(void **state) {
  harness h;
  smtp_capture *c;
  (void)state;
  run(&h, "EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n", 0, 0);
  assert_int_equal(h.nrec, 1); /* recorded at smtp_capture_end() */
  assert_non_null(strstr(h.json[0], "\"data\":null"));
  assert_int_equal(smtp_capture_new(NULL, on_record, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_capture_new(&c, NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_capture_new(&c, on_record, &h, NULL), SMTP_OK);
  assert_int_equal(smtp_capture_set_client(c, "a b", 1, NULL, -1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_capture_set_client(c, "::1", 65536, NULL, -1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_capture_set_client(c, "::1", 25, "192.0.2.1", 999), SMTP_OK);
  assert_int_equal(smtp_capture_trace(c, NULL, 0, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_capture_record_json(NULL, NULL, NULL, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_string_equal(smtp_capture_record_mail(NULL), "");
  smtp_capture_del(c);
  smtp_capture_del(NULL);
  smtp_capture_end(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pipelined),
      cmocka_unit_test(test_bdat_and_refusals),
      cmocka_unit_test(test_lmtp),
      cmocka_unit_test(test_connection_end_and_args),
      cmocka_unit_test(test_xclient_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
