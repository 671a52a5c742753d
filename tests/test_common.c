/* Error codes, strerror, the allocator hook and version queries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/common.h>

static void test_strerror_never_null(void **state) {
  (void)state;
  for (int e = -1000; e <= 10; e++) {
    const char *s = smtp_strerror(e);
    assert_non_null(s);
    assert_true(strlen(s) > 0);
  }
  assert_string_equal(smtp_strerror(12345), "Unknown error");
  assert_string_equal(smtp_strerror(SMTP_OK), "Success.");
  assert_string_not_equal(smtp_strerror(SMTP_ERR_NOMEM), "Unknown error");
  assert_string_not_equal(smtp_strerror(SMTP_ERR_TLS_CLOSED), "Unknown error");
}

static void test_fatal_threshold(void **state) {
  (void)state;
  assert_false(smtp_is_fatal(SMTP_OK));
  assert_false(smtp_is_fatal(SMTP_ERR_WOULDBLOCK));
  assert_false(smtp_is_fatal(SMTP_ERR_DEFERRED));
  assert_false(smtp_is_fatal(1));
  assert_true(smtp_is_fatal(SMTP_ERR_NOMEM));
  assert_true(smtp_is_fatal(SMTP_ERR_PROTOCOL));
  assert_true(smtp_is_fatal(SMTP_ERR_TLS_CLOSED));
  /* Fixed values: they are ABI. */
  assert_int_equal(SMTP_ERR_INVALID_ARGUMENT, -1);
  assert_int_equal(SMTP_ERR_NOMEM, -901);
}

static void test_version(void **state) {
  (void)state;
  assert_int_equal(smtp_version(), SMTP_API_VERSION);
  char buf[32];
  snprintf(buf, sizeof buf, "%d.%d.%d", SMTP_API_VERSION_MAJOR, SMTP_API_VERSION_MINOR,
           SMTP_API_VERSION_PATCH);
  assert_string_equal(smtp_version_string(), buf);
  assert_int_equal(smtp_version_check(SMTP_API_VERSION_MAJOR, 0), SMTP_OK);
  assert_int_equal(smtp_version_check(SMTP_API_VERSION_MAJOR, SMTP_API_VERSION_MINOR), SMTP_OK);
  assert_int_equal(smtp_version_check(SMTP_API_VERSION_MAJOR, SMTP_API_VERSION_MINOR + 1),
                   SMTP_ERR_UNSUPPORTED);
  assert_int_equal(smtp_version_check(SMTP_API_VERSION_MAJOR + 1, 0), SMTP_ERR_UNSUPPORTED);
}

static void test_mem_default(void **state) {
  (void)state;
  const smtp_mem *m = smtp_mem_default();
  assert_non_null(m);
  void *p = m->malloc(16, m->user_data);
  assert_non_null(p);
  p = m->realloc(p, 64, m->user_data);
  assert_non_null(p);
  m->free(p, m->user_data);
  unsigned char *z = m->calloc(4, 4, m->user_data);
  assert_non_null(z);
  for (int i = 0; i < 16; i++) assert_int_equal(z[i], 0);
  m->free(z, m->user_data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strerror_never_null),
      cmocka_unit_test(test_fatal_threshold),
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_mem_default),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
