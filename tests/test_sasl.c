/* SASL PLAIN messages (RFC 4616 2) as AUTH PLAIN carries them (RFC 4954 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/sasl.h>

static char f255[256], f256[257]; /* 255 and 256 octets of "a" */

static int setup(void **state) {
  (void)state;
  memset(f255, 'a', 255);
  f255[255] = 0;
  memset(f256, 'a', 256);
  f256[256] = 0;
  return 0;
}

/* Encode: fields -> message. */
static const struct {
  const char *authzid, *authcid, *passwd;
  smtp_ssize want;     /* length, or the error */
  const char *msg;     /* expected bytes when want >= 0 */
  const char *why;
} enc_vectors[] = {
    {NULL, "tim", "tanstaaftanstaaf", 21, "\0tim\0tanstaaftanstaaf", "RFC 4616 4 example 1"},
    {"Ursel", "Kurt", "xipj3plmq", 20, "Ursel\0Kurt\0xipj3plmq", "RFC 4616 4 example 2"},
    {"", "tim", "pw", 7, "\0tim\0pw", "empty authzid = absent (RFC 4616 2)"},
    {NULL, "u", "p", 4, "\0u\0p", "one-octet fields"},
    {NULL, "J\xc3\xbcrgen", "p\xc3\xa4ss", 14, "\0J\xc3\xbcrgen\0p\xc3\xa4ss", "UTF-8 fields"},
    {NULL, "user", "pass\r\nword", 16, "\0user\0pass\r\nword", "CR LF allowed: SAFE is any UTF-8 but NUL"},
    {"\xf0\x9f\x98\x80", "u", "p", 8, "\xf0\x9f\x98\x80\0u\0p", "4-octet UTF-8 authzid"},
    {NULL, "", "p", SMTP_ERR_INVALID_ARGUMENT, NULL, "empty authcid (authcid = 1*SAFE)"},
    {NULL, "u", "", SMTP_ERR_INVALID_ARGUMENT, NULL, "empty passwd (passwd = 1*SAFE)"},
    {NULL, NULL, "p", SMTP_ERR_INVALID_ARGUMENT, NULL, "NULL authcid"},
    {NULL, "u", NULL, SMTP_ERR_INVALID_ARGUMENT, NULL, "NULL passwd"},
    {NULL, "\xc3\x28", "p", SMTP_ERR_UTF8, NULL, "bad UTF-8 authcid"},
    {NULL, "u", "\xff", SMTP_ERR_UTF8, NULL, "bad UTF-8 passwd (0xFF)"},
    {"\xc0\xaf", "u", "p", SMTP_ERR_UTF8, NULL, "overlong authzid"},
    {NULL, "u", "\xed\xa0\x80", SMTP_ERR_UTF8, NULL, "surrogate in passwd"},
    {NULL, "u", "\xe2\x82", SMTP_ERR_UTF8, NULL, "truncated sequence"},
};

static void test_encode(void **state) {
  char out[1024];
  (void)state;
  for (size_t i = 0; i < sizeof(enc_vectors) / sizeof(enc_vectors[0]); i++) {
    smtp_ssize n = smtp_sasl_plain_encode(enc_vectors[i].authzid, enc_vectors[i].authcid,
                                          enc_vectors[i].passwd, out, sizeof(out));
    if (n != enc_vectors[i].want) fprintf(stderr, "vector %zu (%s): %td\n", i, enc_vectors[i].why, n);
    assert_int_equal(n, enc_vectors[i].want);
    if (n > 0) assert_memory_equal(out, enc_vectors[i].msg, (size_t)n);
  }
}

static void test_encode_lengths(void **state) {
  char out[1024];
  (void)state;
  /* RFC 4616 2: up to 255 octets per field. */
  assert_int_equal(smtp_sasl_plain_encode(f255, f255, f255, out, sizeof(out)), 255 * 3 + 2);
  assert_int_equal(smtp_sasl_plain_encode(f256, "u", "p", out, sizeof(out)),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_sasl_plain_encode(NULL, f256, "p", out, sizeof(out)),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_sasl_plain_encode(NULL, "u", f256, out, sizeof(out)),
                   SMTP_ERR_INVALID_ARGUMENT);
  /* Buffer: exact fits, one less does not. */
  assert_int_equal(smtp_sasl_plain_encode("z", "u", "p", out, 5), 5);
  assert_int_equal(smtp_sasl_plain_encode("z", "u", "p", out, 4), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_sasl_plain_encode("z", "u", "p", NULL, 0), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_sasl_plain_encode("z", "u", "p", NULL, 5), SMTP_ERR_INVALID_ARGUMENT);
}

/* Decode: message -> fields. */
static const struct {
  const char *msg;
  size_t len;
  int want;
  const char *authzid, *authcid, *passwd;
  const char *why;
} dec_vectors[] = {
    {"\0tim\0tanstaaftanstaaf", 21, SMTP_OK, "", "tim", "tanstaaftanstaaf", "RFC 4616 4"},
    {"Ursel\0Kurt\0xipj3plmq", 20, SMTP_OK, "Ursel", "Kurt", "xipj3plmq", "RFC 4616 4"},
    {"\0u\0p", 4, SMTP_OK, "", "u", "p", "minimal"},
    {"\0J\xc3\xbcrgen\0p\xc3\xa4ss", 14, SMTP_OK, "", "J\xc3\xbcrgen", "p\xc3\xa4ss", "UTF-8"},
    {"\0u\0pa ss\r\n", 10, SMTP_OK, "", "u", "pa ss\r\n", "SP CR LF are SAFE"},
    {"", 0, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "empty message"},
    {"tim", 3, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "no NUL"},
    {"\0timpass", 8, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "one NUL"},
    {"tim\0pass", 8, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "one NUL, authzid-like"},
    {"\0tim\0pa\0ss", 10, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "three NULs"},
    {"\0tim\0pass\0", 10, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "trailing NUL (three NULs)"},
    {"\0\0\0", 3, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "three NULs, all empty"},
    {"\0\0pass", 6, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "empty authcid"},
    {"\0tim\0", 5, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "empty passwd"},
    {"z\0\0", 3, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "only authzid"},
    {"\0", 1, SMTP_ERR_SYNTAX, NULL, NULL, NULL, "single NUL"},
    {"\0\xc3\x28\0p", 5, SMTP_ERR_UTF8, NULL, NULL, NULL, "bad UTF-8 authcid"},
    {"\0u\0\xff", 4, SMTP_ERR_UTF8, NULL, NULL, NULL, "0xFF in passwd"},
    {"\xc0\x80\0u\0p", 6, SMTP_ERR_UTF8, NULL, NULL, NULL, "overlong NUL in authzid"},
    {"\0u\0\xf4\x90\x80\x80", 7, SMTP_ERR_UTF8, NULL, NULL, NULL, "above U+10FFFF"},
    {"\0u\0\xed\xbf\xbf", 6, SMTP_ERR_UTF8, NULL, NULL, NULL, "surrogate"},
};

static void expect_span(smtp_span s, const char *want) {
  assert_int_equal(s.len, strlen(want));
  if (s.len) assert_memory_equal(s.ptr, want, s.len);
}

static void test_decode(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(dec_vectors) / sizeof(dec_vectors[0]); i++) {
    smtp_sasl_plain p;
    int rc = smtp_sasl_plain_decode(dec_vectors[i].msg, dec_vectors[i].len, &p);
    if (rc != dec_vectors[i].want) fprintf(stderr, "vector %zu (%s): %d\n", i, dec_vectors[i].why, rc);
    assert_int_equal(rc, dec_vectors[i].want);
    if (rc == SMTP_OK) {
      expect_span(p.authzid, dec_vectors[i].authzid);
      expect_span(p.authcid, dec_vectors[i].authcid);
      expect_span(p.passwd, dec_vectors[i].passwd);
      /* Spans point into the message. */
      assert_true(p.authcid.ptr > dec_vectors[i].msg);
      assert_true(p.passwd.ptr + p.passwd.len == dec_vectors[i].msg + dec_vectors[i].len);
    }
  }
}

static void test_decode_lengths(void **state) {
  char msg[1024];
  smtp_sasl_plain p;
  (void)state;
  /* 255-octet fields are accepted (RFC 4616 2 "MUST accept up to 255 octets"). */
  memcpy(msg, f255, 255);
  msg[255] = 0;
  memcpy(msg + 256, f255, 255);
  msg[511] = 0;
  memcpy(msg + 512, f255, 255);
  assert_int_equal(smtp_sasl_plain_decode(msg, 767, &p), SMTP_OK);
  assert_int_equal(p.authzid.len, 255);
  assert_int_equal(p.authcid.len, 255);
  assert_int_equal(p.passwd.len, 255);
  /* A 256-octet field in each position. */
  for (int pos = 0; pos < 3; pos++) {
    size_t o = 0;
    for (int f = 0; f < 3; f++) {
      size_t n = (f == pos) ? 256 : 3;
      memset(msg + o, 'x', n);
      o += n;
      if (f < 2) msg[o++] = 0;
    }
    assert_int_equal(smtp_sasl_plain_decode(msg, o, &p), SMTP_ERR_TOO_LONG);
  }
  assert_int_equal(smtp_sasl_plain_decode(NULL, 4, &p), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_sasl_plain_decode("\0u\0p", 4, NULL), SMTP_ERR_INVALID_ARGUMENT);
}

/* encode -> base64 -> decode base64 -> decode gives the same fields: the
 * path of AUTH PLAIN from client to server (RFC 4954 4). */
static void test_roundtrip_base64(void **state) {
  static const char *const ids[][3] = {
      {NULL, "alice", "s3cret"}, {"admin", "bob", "hunter2"}, {"", "\xc3\xa9t\xc3\xa9", "p"},
      {NULL, "u", "a b c"},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
    char msg[800], b64[1100], back[800];
    smtp_sasl_plain p;
    smtp_ssize n = smtp_sasl_plain_encode(ids[i][0], ids[i][1], ids[i][2], msg, sizeof(msg));
    assert_true(n > 0);
    smtp_ssize e = smtp_base64_encode(msg, (size_t)n, b64, sizeof(b64));
    assert_true(e > 0);
    smtp_ssize d = smtp_base64_decode(b64, (size_t)e, back, sizeof(back));
    assert_int_equal(d, n);
    assert_int_equal(smtp_sasl_plain_decode(back, (size_t)d, &p), SMTP_OK);
    expect_span(p.authzid, ids[i][0] ? ids[i][0] : "");
    expect_span(p.authcid, ids[i][1]);
    expect_span(p.passwd, ids[i][2]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode),       cmocka_unit_test(test_encode_lengths),
      cmocka_unit_test(test_decode),       cmocka_unit_test(test_decode_lengths),
      cmocka_unit_test(test_roundtrip_base64),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
