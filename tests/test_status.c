/* Default replies and IANA enhanced status code titles (RFC 3463, RFC 5248). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/reply.h>

static void test_every_default(void **state) {
  (void)state;
  char buf[600];
  for (int id = 0; id < SMTP_STATUS_COUNT; id++) {
    const smtp_status *s = smtp_status_default(id);
    assert_non_null(s);
    assert_non_null(s->text);
    assert_true(strlen(s->text) > 0);
    /* A valid reply code (RFC 5321 4.2.1). */
    int cls = smtp_reply_code_class(s->code);
    if (cls == SMTP_REPLY_INVALID) fprintf(stderr, "status %d: code %d\n", id, s->code);
    assert_int_not_equal(cls, SMTP_REPLY_INVALID);
    if (s->enhanced.cls != 0) {
      /* RFC 3463 2 / RFC 2034 4: the class matches the reply's first digit. */
      assert_int_equal(s->enhanced.cls, cls);
      /* Registered with IANA (RFC 5248). */
      const char *title = smtp_enhanced_code_title(s->enhanced.subject, s->enhanced.detail);
      if (!title)
        fprintf(stderr, "status %d: X.%d.%d not registered\n", id, s->enhanced.subject,
                s->enhanced.detail);
      assert_non_null(title);
    } else {
      assert_int_equal(s->enhanced.subject, 0);
      assert_int_equal(s->enhanced.detail, 0);
      /* Only the greeting, the EHLO reply and 3yz go without (RFC 2034 3). */
      assert_true(id == SMTP_STATUS_GREETING || id == SMTP_STATUS_HELO_OK || cls == 3);
    }
    /* Every default can be formatted. */
    assert_true(smtp_reply_format(buf, sizeof(buf), s->code,
                                  s->enhanced.cls ? &s->enhanced : NULL, s->text,
                                  strlen(s->text)) > 0);
  }
  assert_null(smtp_status_default(-1));
  assert_null(smtp_status_default(SMTP_STATUS_COUNT));
}

static void test_rfc_pairs(void **state) {
  (void)state;
  static const struct {
    int id, code, c, s, d;
    const char *why;
  } t[] = {
    {SMTP_STATUS_MAIL_OK, 250, 2, 1, 0, "RFC 3463 3.2 (X.1.0 originator)"},
    {SMTP_STATUS_RCPT_OK, 250, 2, 1, 5, "RFC 3463 3.2 (X.1.5 destination valid)"},
    {SMTP_STATUS_MAILBOX_UNKNOWN, 550, 5, 1, 1, "RFC 3463 3.2, RFC 5321 4.2.3"},
    {SMTP_STATUS_SIZE_EXCEEDED, 552, 5, 3, 4, "RFC 1870 6.1, RFC 3463 3.4"},
    {SMTP_STATUS_TOO_MANY_RCPTS, 452, 4, 5, 3, "RFC 5321 4.5.3.1.10, RFC 3463 3.6"},
    {SMTP_STATUS_AUTH_REQUIRED, 530, 5, 7, 0, "RFC 4954 6"},
    {SMTP_STATUS_TIMEOUT, 421, 4, 4, 2, "RFC 5321 4.5.3.2, RFC 3463 3.5"},
    {SMTP_STATUS_NEEDS_SMTPUTF8, 553, 5, 6, 7, "RFC 6531 3.5"},
    {SMTP_STATUS_AUTH_OK, 235, 2, 7, 0, "RFC 4954 6"},
    {SMTP_STATUS_AUTH_FAILED, 535, 5, 7, 8, "RFC 4954 6"},
    {SMTP_STATUS_AUTH_TOO_WEAK, 534, 5, 7, 9, "RFC 4954 6"},
    {SMTP_STATUS_AUTH_ENCRYPTION_REQUIRED, 538, 5, 7, 11, "RFC 4954 6"},
    {SMTP_STATUS_TLS_NOT_AVAILABLE, 454, 4, 7, 0, "RFC 3207 4"},
    {SMTP_STATUS_PARAM_UNKNOWN, 555, 5, 5, 4, "RFC 5321 4.1.1.11"},
    {SMTP_STATUS_BARE_LINE_END, 550, 5, 6, 0, "X.6.11 not registered; X.6.0"},
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    const smtp_status *s = smtp_status_default(t[i].id);
    assert_non_null(s);
    if (s->code != t[i].code || s->enhanced.cls != t[i].c || s->enhanced.subject != t[i].s ||
        s->enhanced.detail != t[i].d)
      fprintf(stderr, "status %d (%s): %d %d.%d.%d\n", t[i].id, t[i].why, s->code,
              s->enhanced.cls, s->enhanced.subject, s->enhanced.detail);
    assert_int_equal(s->code, t[i].code);
    assert_int_equal(s->enhanced.cls, t[i].c);
    assert_int_equal(s->enhanced.subject, t[i].s);
    assert_int_equal(s->enhanced.detail, t[i].d);
  }
  /* 3yz and the greeting carry no enhanced code. */
  assert_int_equal(smtp_status_default(SMTP_STATUS_DATA_START)->code, 354);
  assert_int_equal(smtp_status_default(SMTP_STATUS_DATA_START)->enhanced.cls, 0);
  assert_int_equal(smtp_status_default(SMTP_STATUS_GREETING)->code, 220);
}

static void test_titles(void **state) {
  (void)state;
  /* From the IANA registry (RFC 5248). */
  assert_string_equal(smtp_enhanced_code_title(1, 1), "Bad destination mailbox address");
  assert_string_equal(smtp_enhanced_code_title(0, 0), "Other undefined Status");
  assert_string_equal(smtp_enhanced_code_title(7, 8), "Authentication credentials invalid");
  assert_string_equal(smtp_enhanced_code_title(7, 30), "REQUIRETLS support required");
  assert_string_equal(smtp_enhanced_code_title(3, 4), "Message too big for system");
  assert_string_equal(smtp_enhanced_code_title(5, 3), "Too many recipients");
  assert_string_equal(smtp_enhanced_code_title(6, 7),
                      "Non-ASCII addresses not permitted for that sender/recipient");
  assert_non_null(smtp_enhanced_code_title(6, 10)); /* registered, deprecated */
  assert_null(smtp_enhanced_code_title(6, 11));
  assert_null(smtp_enhanced_code_title(8, 0));
  assert_null(smtp_enhanced_code_title(7, 31));
  assert_null(smtp_enhanced_code_title(-1, 0));
  assert_null(smtp_enhanced_code_title(1, 1000));
  /* Every registered subject has its X.s.0. */
  for (int s = 0; s <= 7; s++) assert_non_null(smtp_enhanced_code_title(s, 0));
  int count = 0;
  for (int s = 0; s < 20; s++)
    for (int d = 0; d < 100; d++) count += smtp_enhanced_code_title(s, d) != NULL;
  assert_int_equal(count, 81); /* records in the registry (2024-12-06) */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_default),
    cmocka_unit_test(test_rfc_pairs),
    cmocka_unit_test(test_titles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
