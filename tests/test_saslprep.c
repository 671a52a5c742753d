/* SASLprep (RFC 4013): the examples of RFC 4013 section 3, then each step
 * of the profile (mapping 2.1, normalization form KC 2.2, prohibited output
 * 2.3, bidirectional rules 2.4 / RFC 3454 6, unassigned code points 2.5 /
 * RFC 3454 7), and the function's limits. Expected outputs were checked
 * against Python's stringprep and unicodedata.ucd_3_2_0. In a build with
 * -Dsaslprep=ascii (SMTP_HAVE_SASLPREP_UNICODE 0) the same vectors run:
 * ASCII input must give the full profile's result, and non-ASCII input
 * SMTP_ERR_SASLPREP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <smtp/ext.h>
#include <smtp/features.h>
#include <smtp/sasl.h>

/* The result a build gives: the full profile's, except that an ASCII-only
 * build refuses non-ASCII text (NULL: SMTP_ERR_SASLPREP). */
static int is_ascii(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80) return 0;
  return 1;
}
#define IN_BUILD(in, n, full) (SMTP_HAVE_SASLPREP_UNICODE || is_ascii(in, n) ? (full) : SMTP_ERR_SASLPREP)

typedef struct {
  const char *in;    /* UTF-8 */
  int query;         /* SMTP_SASLPREP_QUERY */
  const char *out;   /* UTF-8, or NULL for SMTP_ERR_SASLPREP */
} vec;

static void check(const vec *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char out[256];
    smtp_ssize r = smtp_sasl_saslprep(v[i].in, strlen(v[i].in), v[i].query ? SMTP_SASLPREP_QUERY : 0,
                                      out, sizeof out);
    if (!v[i].out || !(SMTP_HAVE_SASLPREP_UNICODE || is_ascii(v[i].in, strlen(v[i].in)))) {
      if (r != SMTP_ERR_SASLPREP) fail_msg("vector %zu: %d, expected SMTP_ERR_SASLPREP", i, (int)r);
      continue;
    }
    if (r < 0) fail_msg("vector %zu: error %d", i, (int)r);
    assert_int_equal((size_t)r, strlen(v[i].out));
    assert_memory_equal(out, v[i].out, (size_t)r);
    assert_int_equal(out[r], 0);
    /* SASLprep is idempotent on what it produces */
    {
      char again[256];
      smtp_ssize r2 = smtp_sasl_saslprep(out, (size_t)r, v[i].query ? SMTP_SASLPREP_QUERY : 0, again,
                                         sizeof again);
      assert_int_equal(r2, r);
      assert_memory_equal(again, out, (size_t)r);
    }
  }
}

/* RFC 4013 section 3, all seven, as stored strings and as queries. */
static void test_rfc4013_examples(void **state) {
  static const vec v[] = {
      {"I\xC2\xAD" "X", 0, "IX"},   /* 1: SOFT HYPHEN mapped to nothing */
      {"user", 0, "user"},          /* 2: no transformation */
      {"USER", 0, "USER"},          /* 3: case preserved, will not match #2 */
      {"\xC2\xAA", 0, "a"},         /* 4: output is NFKC, input in ISO 8859-1 */
      {"\xE2\x85\xA8", 0, "IX"},    /* 5: output is NFKC, will match #1 */
      {"\x07", 0, NULL},            /* 6: Error - prohibited character */
      {"\xD8\xA7" "1", 0, NULL},    /* 7: Error - bidirectional check */
      {"I\xC2\xAD" "X", 1, "IX"},   {"user", 1, "user"}, {"USER", 1, "USER"},
      {"\xC2\xAA", 1, "a"},         {"\xE2\x85\xA8", 1, "IX"}, {"\x07", 1, NULL},
      {"\xD8\xA7" "1", 1, NULL},
  };
  (void)state;
  check(v, sizeof v / sizeof v[0]);
}

/* RFC 4013 2.1: non-ASCII space (C.1.2) to SPACE, B.1 to nothing. */
static void test_mapping(void **state) {
  static const vec v[] = {
      {"a\xC2\xA0" "b", 0, "a b"},     /* NO-BREAK SPACE */
      {"\xE3\x80\x80", 0, " "},        /* IDEOGRAPHIC SPACE */
      {"x\xE2\x80\x8D" "y", 0, "xy"},  /* ZERO WIDTH JOINER */
      {"\xE2\x80\x8B", 0, ""},         /* ZERO WIDTH SPACE: nothing left */
      {"\xC2\xAD", 0, ""},
      {"", 0, ""},
      {"pass word", 0, "pass word"},
  };
  (void)state;
  check(v, sizeof v / sizeof v[0]);
}

/* RFC 4013 2.2: Unicode 3.2 normalization form KC. */
static void test_nfkc(void **state) {
  static const vec v[] = {
      {"e\xCC\x81", 0, "\xC3\xA9"},                    /* e + COMBINING ACUTE -> U+00E9 */
      {"\xC3\xA9", 0, "\xC3\xA9"},
      {"\xEF\xBC\xB5\xEF\xBD\x93\xEF\xBD\x85\xEF\xBD\x92", 0, "User"}, /* fullwidth */
      {"\xEF\xAC\x81", 0, "fi"},                       /* LATIN SMALL LIGATURE FI */
      {"a\xCC\x82\xCC\xA3", 0, "\xE1\xBA\xAD"},        /* canonical order, then composition */
      {"a\xCC\xA3\xCC\x82", 0, "\xE1\xBA\xAD"},
      {"\xE1\x84\x80\xE1\x85\xA1", 0, "\xEA\xB0\x80"}, /* Hangul L V -> LV */
      {"\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", 0, "\xEA\xB0\x81"}, /* L V T -> LVT */
      {"\xEA\xB0\x80\xE1\x86\xA8", 0, "\xEA\xB0\x81"}, /* LV T -> LVT */
      /* U+FDFA: eighteen code points from one */
      {"\xEF\xB7\xBA", 0,
       "\xD8\xB5\xD9\x84\xD9\x89 \xD8\xA7\xD9\x84\xD9\x84\xD9\x87 \xD8\xB9\xD9\x84\xD9\x8A\xD9\x87 "
       "\xD9\x88\xD8\xB3\xD9\x84\xD9\x85"},
      /* U+2F868, a CJK compatibility ideograph of Unicode Corrigendum #4 */
      {"\xF0\xAF\xA1\xA8", 0, "\xF0\xA1\x8D\xAA"},
  };
  (void)state;
  check(v, sizeof v / sizeof v[0]);
}

/* RFC 4013 2.3 (prohibited), 2.4 (bidirectional), 2.5 (unassigned). */
static void test_prohibited_bidi_unassigned(void **state) {
  static const vec v[] = {
      {"\xC2\x80", 0, NULL},            /* C.2.2 control */
      {"a\x7F", 0, NULL},               /* C.2.1 DEL */
      {"\xEE\x80\x80", 1, NULL},        /* C.3 private use */
      {"\xEF\xBF\xBD", 1, NULL},        /* C.6 REPLACEMENT CHARACTER */
      {"\xE2\x80\xA8", 1, NULL},        /* C.2.2 LINE SEPARATOR */
      {"\xEF\xB7\x90", 1, NULL},        /* C.4 non-character U+FDD0 */
      {"\xE2\x80\x8E", 1, NULL},        /* C.8 LEFT-TO-RIGHT MARK */
      {"\xF3\xA0\x80\x81", 1, NULL},    /* C.9 LANGUAGE TAG */
      {"\xD8\xA7\xD8\xA8", 0, "\xD8\xA7\xD8\xA8"}, /* RandALCat only */
      {"\xD8\xA7" "a\xD8\xA8", 0, NULL},  /* RandALCat with LCat */
      {"1\xD8\xA7", 0, NULL},             /* does not start with RandALCat */
      {"\xD8\xA7" "1\xD8\xA8", 0, "\xD8\xA7" "1\xD8\xA8"}, /* a digit inside is fine */
      {"\xC8\xA1", 0, NULL},              /* U+0221, unassigned in Unicode 3.2 */
      {"\xC8\xA1", 1, "\xC8\xA1"},        /* ... allowed in a query */
  };
  (void)state;
  check(v, sizeof v / sizeof v[0]);
}

static void test_limits(void **state) {
  char big[SMTP_SASLPREP_MAX + 1], out[8];
  (void)state;
  memset(big, 'a', sizeof big);
  assert_int_equal(smtp_sasl_saslprep(big, SMTP_SASLPREP_MAX + 1, 0, NULL, 0), SMTP_ERR_TOO_LONG);
  {
    char o[SMTP_SASLPREP_MAX + 1];
    assert_int_equal(smtp_sasl_saslprep(big, SMTP_SASLPREP_MAX, 0, o, sizeof o), SMTP_SASLPREP_MAX);
  }
  /* 3 octets that decompose into 18 code points, 1024 code points at most */
  {
    char in[3 * 60];
    for (size_t i = 0; i < 60; i++) memcpy(in + 3 * i, "\xEF\xB7\xBA", 3);
    assert_int_equal(smtp_sasl_saslprep(in, sizeof in, 0, NULL, 0),
                     IN_BUILD(in, sizeof in, SMTP_ERR_TOO_LONG));
  }
  assert_int_equal(smtp_sasl_saslprep("user", 4, 0, out, 3), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_sasl_saslprep("user", 4, 0, out, 4), 4); /* fits without the NUL */
  assert_int_equal(smtp_sasl_saslprep("user", 4, 0, out, 5), 4);
  assert_string_equal(out, "user");
  assert_int_equal(smtp_sasl_saslprep("\xEF\xAC\x81", 3, 0, out, 2),
                   IN_BUILD("\xEF\xAC\x81", 3, 2)); /* U+FB01 is "fi" */
  if (SMTP_HAVE_SASLPREP_UNICODE) assert_memory_equal(out, "fi", 2);
  /* not UTF-8: a lone continuation, an overlong, a surrogate, past U+10FFFF, cut short */
  assert_int_equal(smtp_sasl_saslprep("\x80", 1, 0, out, sizeof out), SMTP_ERR_UTF8);
  assert_int_equal(smtp_sasl_saslprep("\xC0\xAF", 2, 0, out, sizeof out), SMTP_ERR_UTF8);
  assert_int_equal(smtp_sasl_saslprep("\xED\xA0\x80", 3, 0, out, sizeof out), SMTP_ERR_UTF8);
  assert_int_equal(smtp_sasl_saslprep("\xF4\x90\x80\x80", 4, 0, out, sizeof out), SMTP_ERR_UTF8);
  assert_int_equal(smtp_sasl_saslprep("\xE2\x85", 2, 0, out, sizeof out), SMTP_ERR_UTF8);
  assert_int_equal(smtp_sasl_saslprep(NULL, 1, 0, out, sizeof out), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_sasl_saslprep("a", 1, 0, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_sasl_saslprep("a", 1, 2, out, sizeof out), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_sasl_saslprep(NULL, 0, 0, NULL, 0), 0);
}

/* smtp_scram_make_record() prepares the password (RFC 5802 2.2):
 * "I<SOFT HYPHEN>X" and <U+2168> give the record of "IX". */
static void test_make_record(void **state) {
  smtp_scram_record a, b, c;
  (void)state;
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_256, "IX", "saltsaltsaltsalt", 16, 4096, &a), 0);
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_256, "I\xC2\xAD" "X", "saltsaltsaltsalt", 16,
                                          4096, &b), IN_BUILD("\xC2", 1, 0));
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_256, "\xE2\x85\xA8", "saltsaltsaltsalt", 16,
                                          4096, &c), IN_BUILD("\xE2", 1, 0));
  if (SMTP_HAVE_SASLPREP_UNICODE) {
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_equal(&a, &c, sizeof a);
  }
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_256, "pen\x07", "saltsaltsaltsalt", 16,
                                          4096, &a), SMTP_ERR_SASLPREP);
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_256, "\xC2\xAD", "saltsaltsaltsalt", 16,
                                          4096, &a), SMTP_ERR_SASLPREP);
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_256, "\xC8\xA1", "saltsaltsaltsalt", 16,
                                          4096, &a), SMTP_ERR_SASLPREP); /* unassigned: stored string */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc4013_examples),
      cmocka_unit_test(test_mapping),
      cmocka_unit_test(test_nfkc),
      cmocka_unit_test(test_prohibited_bidi_unassigned),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_make_record),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
