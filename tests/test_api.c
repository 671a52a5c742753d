/* The shape of the public API, the same in both roles: every constructor
 * checks the allocator it is given, setters report bad arguments, a
 * submitted transaction cannot be freed, shared enums have one definition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/smtp.h>

static int calls;
static void *count_malloc(size_t n, void *ud) { (void)ud; calls++; return malloc(n); }
static void count_free(void *p, void *ud) { (void)ud; free(p); }
static void *count_calloc(size_t n, size_t s, void *ud) { (void)ud; calls++; return calloc(n, s); }
static void *count_realloc(void *p, size_t n, void *ud) { (void)ud; calls++; return realloc(p, n); }

/* Allocators with one of the four functions missing. */
static smtp_mem partial(int missing) {
  smtp_mem m = {NULL, count_malloc, count_free, count_calloc, count_realloc};
  switch (missing) {
  case 0: m.malloc = NULL; break;
  case 1: m.free = NULL; break;
  case 2: m.calloc = NULL; break;
  default: m.realloc = NULL; break;
  }
  return m;
}

/* An allocator given with only some of its functions used to crash the
 * client on its first calloc; every constructor now refuses it up front,
 * without calling any of its functions. */
static void test_every_constructor_checks_the_allocator(void **state) {
  (void)state;
  for (int missing = 0; missing < 4; missing++) {
    smtp_mem m = partial(missing);
    void *obj = (void *)1;
    smtp_io a, b;
    calls = 0;
    assert_int_equal(smtp_client_callbacks_new((smtp_client_callbacks **)&obj, &m),
                     SMTP_ERR_INVALID_ARGUMENT);
    assert_null(obj);
    assert_int_equal(smtp_client_options_new((smtp_client_options **)&obj, &m),
                     SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_client_txn_new((smtp_client_txn **)&obj, &m), SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_client_session_new((smtp_client_session **)&obj, NULL, NULL, NULL, &m),
                     SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_server_callbacks_new((smtp_server_callbacks **)&obj, &m),
                     SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_server_options_new((smtp_server_options **)&obj, &m),
                     SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_server_session_new((smtp_server_session **)&obj, NULL, NULL, NULL, &m),
                     SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_reply_parser_new((smtp_reply_parser **)&obj, 0, 0, &m),
                     SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_io_pipe_new(&a, &b, 1024, &m), SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_io_posix_new(&a, 0, 1, 0, &m), SMTP_ERR_INVALID_ARGUMENT);
    /* Built without TLS (-Dtls=disabled), every TLS function answers
     * SMTP_ERR_TLS_UNAVAILABLE first (docs/tls.md). */
    assert_int_equal(smtp_tls_config_new((smtp_tls_config **)&obj, SMTP_TLS_CLIENT, &m),
                     smtp_tls_available() ? SMTP_ERR_INVALID_ARGUMENT : SMTP_ERR_TLS_UNAVAILABLE);
    assert_int_equal(calls, 0);
  }
}

/* The same constructors with all four functions use that allocator. */
static void test_complete_allocator_is_used(void **state) {
  smtp_mem m = {NULL, count_malloc, count_free, count_calloc, count_realloc};
  smtp_client_callbacks *ccb;
  smtp_server_callbacks *scb;
  smtp_reply_parser *rp;
  (void)state;
  calls = 0;
  assert_int_equal(smtp_client_callbacks_new(&ccb, &m), SMTP_OK);
  assert_int_equal(calls, 1);
  assert_int_equal(smtp_server_callbacks_new(&scb, &m), SMTP_OK);
  assert_int_equal(calls, 2);
  assert_int_equal(smtp_reply_parser_new(&rp, 0, 0, &m), SMTP_OK);
  assert_true(calls >= 3);
  smtp_client_callbacks_del(ccb);
  smtp_server_callbacks_del(scb);
  smtp_reply_parser_del(rp);
}

/* Client option setters return int like the server's: NULL or an on/off
 * value other than 0 and 1 is refused. */
static void test_client_setters_report_errors(void **state) {
  smtp_client_options *o;
  (void)state;
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_lmtp(NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_lmtp(o, 2), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_lmtp(o, 1), SMTP_OK);
  assert_int_equal(smtp_client_options_set_allow_plaintext_auth(o, -1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_allow_plaintext_auth(o, 0), SMTP_OK);
  assert_int_equal(smtp_client_options_set_require_smtputf8(o, 7), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_require_smtputf8(o, 1), SMTP_OK);
  assert_int_equal(smtp_client_options_set_requiretls(NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_requiretls(o, 1), SMTP_OK);
  assert_int_equal(smtp_client_options_set_disabled_extensions(NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_disabled_extensions(o, SMTP_EXT_CHUNKING), SMTP_OK);
  assert_int_equal(smtp_client_options_set_random(NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_random(o, NULL, NULL), SMTP_OK);
  smtp_client_options_del(o);
}

/* A submitted transaction belongs to the session: freeing it is refused
 * (it used to be a use-after-free on the next mem_recv); once the session
 * is gone it can be freed. */
static void test_submitted_txn_cannot_be_freed(void **state) {
  smtp_client_session *c;
  smtp_client_txn *t;
  (void)state;
  assert_int_equal(smtp_client_session_new(&c, NULL, NULL, NULL, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, "a@example.org", 13), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "b@example.org", 13, 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body(t, "x\r\n", 3), SMTP_OK);
  assert_int_equal(smtp_client_session_submit(c, t), SMTP_OK);
  assert_int_equal(smtp_client_txn_del(t), SMTP_ERR_INVALID_STATE);
  /* the session still works with it: the greeting arrives */
  assert_true(smtp_client_session_mem_recv(c, "220 mx ESMTP\r\n", 14) >= 0);
  smtp_client_session_del(c);
  assert_int_equal(smtp_client_txn_del(t), SMTP_OK);
  assert_int_equal(smtp_client_txn_del(NULL), SMTP_OK);
}

/* One definition of the BODY, RET and NOTIFY values for both roles, with
 * fixed numbers (they are ABI). */
static void test_shared_enums(void **state) {
  (void)state;
  assert_int_equal(SMTP_BODY_UNSPECIFIED, 0);
  assert_int_equal(SMTP_BODY_7BIT, 1);
  assert_int_equal(SMTP_BODY_8BITMIME, 2);
  assert_int_equal(SMTP_BODY_BINARYMIME, 3);
  assert_int_equal(SMTP_DSN_RET_FULL, 1);
  assert_int_equal(SMTP_DSN_RET_HDRS, 2);
  assert_int_equal(SMTP_DSN_NOTIFY_NEVER, 1);
  assert_int_equal(SMTP_DSN_NOTIFY_DELAY, 8);
}

/* client.h: creation makes two allocations; a larger EHLO reply than any
 * before makes more (kept afterwards). */
static void test_client_session_allocations(void **state) {
  smtp_mem m = {NULL, count_malloc, count_free, count_calloc, count_realloc};
  smtp_client_callbacks *cb;
  smtp_client_session *c;
  char ehlo[4096];
  size_t n = 0;
  const char *out;
  (void)state;
  assert_int_equal(smtp_client_callbacks_new(&cb, NULL), SMTP_OK);
  calls = 0;
  assert_int_equal(smtp_client_session_new(&c, cb, NULL, NULL, &m), SMTP_OK);
  assert_int_equal(calls, 2);
  assert_true(smtp_client_session_mem_recv(c, "220 mx ESMTP\r\n", 14) >= 0);
  assert_true(smtp_client_session_mem_send(c, &out) > 0); /* EHLO */
  assert_int_equal(smtp_client_session_mem_consume(c, (size_t)smtp_client_session_mem_send(c, &out)), SMTP_OK);
  for (int i = 0; i < 60; i++)
    n += (size_t)snprintf(ehlo + n, sizeof ehlo - n, "250-X-KEYWORD-%02d some parameters here\r\n", i);
  n += (size_t)snprintf(ehlo + n, sizeof ehlo - n, "250 PIPELINING\r\n");
  assert_int_equal(calls, 2);
  assert_true(smtp_client_session_mem_recv(c, ehlo, n) >= 0);
  assert_true(calls > 2);
  smtp_client_session_del(c);
  smtp_client_callbacks_del(cb);
}

/* The two roles answer the same questions with the same names: the
 * application's pointer, and "the deadline passed" (a verb, like every
 * other session call; on_ names only callback types). */
static void test_roles_have_the_same_accessors(void **state) {
  smtp_client_session *c;
  smtp_server_session *s;
  int app = 0;
  (void)state;
  assert_int_equal(smtp_client_session_new(&c, NULL, &app, NULL, NULL), SMTP_OK);
  assert_int_equal(smtp_server_session_new(&s, NULL, &app, NULL, NULL), SMTP_OK);
  assert_ptr_equal(smtp_client_session_user_data(c), &app);
  assert_ptr_equal(smtp_server_session_user_data(s), &app);
  assert_null(smtp_client_session_user_data(NULL));
  assert_null(smtp_server_session_user_data(NULL));
  /* RFC 5321 4.5.3.2: the client waiting for the greeting gives up */
  assert_true(smtp_client_session_timeout_ms(c) > 0);
  assert_int_equal(smtp_client_session_timeout(c), SMTP_OK);
  assert_int_equal(smtp_client_session_error(c), SMTP_ERR_TIMEOUT);
  assert_int_equal(smtp_client_session_is_closed(c), 1);
  assert_int_equal(smtp_client_session_timeout(NULL), SMTP_ERR_INVALID_ARGUMENT);
  /* the server says 421 and closes */
  assert_int_equal(smtp_server_session_timeout(s), SMTP_OK);
  assert_int_equal(smtp_server_session_is_closed(s), 1);
  assert_int_equal(smtp_server_session_timeout(NULL), SMTP_ERR_INVALID_ARGUMENT);
  smtp_client_session_del(c);
  smtp_server_session_del(s);
}

/* (ptr, len) arguments are checked against their bound before the bytes
 * are read: a length far beyond the object would otherwise be a read past
 * its end (AddressSanitizer reports it). */
static void test_lengths_checked_before_reading(void **state) {
  smtp_client_txn *t;
  smtp_sasl_plain plain;
  char small[8] = "a@b.org", out[16];
  size_t huge = (size_t)1 << 30;
  (void)state;
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_from(t, small, huge), SMTP_ERR_PATH_TOO_LONG);
  assert_int_equal(smtp_client_txn_add_rcpt(t, small, huge, 0, NULL, 0), SMTP_ERR_PATH_TOO_LONG);
  assert_int_equal(smtp_client_txn_add_rcpt(t, small, 7, 0, small, huge), SMTP_ERR_TOO_LONG);
  assert_int_equal(smtp_client_txn_set_dsn(t, SMTP_DSN_RET_FULL, small, huge), SMTP_ERR_TOO_LONG);
  assert_int_equal(smtp_sasl_plain_decode(small, huge, &plain), SMTP_ERR_TOO_LONG);
  assert_int_equal(smtp_reply_format(out, sizeof out, 250, NULL, small, huge),
                   SMTP_ERR_BUFFER_TOO_SMALL);
  smtp_client_txn_del(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_constructor_checks_the_allocator),
      cmocka_unit_test(test_complete_allocator_is_used),
      cmocka_unit_test(test_client_setters_report_errors),
      cmocka_unit_test(test_submitted_txn_cannot_be_freed),
      cmocka_unit_test(test_shared_enums),
      cmocka_unit_test(test_client_session_allocations),
      cmocka_unit_test(test_lengths_checked_before_reading),
      cmocka_unit_test(test_roles_have_the_same_accessors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
