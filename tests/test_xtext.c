/* xtext (RFC 3461 4): strict decoding (upper-case hex only) and encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/address.h>

#define S(x) x, sizeof(x) - 1

struct dec_vec {
  const char *in;
  size_t len;
  int rc;
  const char *out;
  size_t outlen;
  const char *rfc;
};

static const struct dec_vec dec_vecs[] = {
  {S(""), SMTP_OK, S(""), "3461 4 xtext = *(...)"},
  {S("abc"), SMTP_OK, S("abc"), "3461 4 xchar"},
  {S("rfc822;a@b.c"), SMTP_OK, S("rfc822;a@b.c"), "3461 4.2 ORCPT value"},
  {S("a+2Bb"), SMTP_OK, S("a+b"), "3461 4 hexchar +"},
  {S("+3D"), SMTP_OK, S("="), "3461 4 hexchar ="},
  {S("+20+0D+0A"), SMTP_OK, S(" \r\n"), "3461 4 controls decode (caller revalidates)"},
  {S("+00"), SMTP_OK, S("\0"), "3461 4 NUL decodes (caller revalidates, SECURITY 3)"},
  {S("+FF+C3+A9"), SMTP_OK, S("\xFF\xC3\xA9"), "3461 4 any octet"},
  {S("!~*,<>"), SMTP_OK, S("!~*,<>"), "3461 4 xchar bounds 33/126"},
  {S("a+2b"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 upper case hex only"},
  {S("+ff"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 upper case hex only"},
  {S("+"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 bare +"},
  {S("a+"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 bare + at end"},
  {S("+4"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 one hex digit"},
  {S("+4G"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 HEXCHAR 0-9 A-F"},
  {S("+G4"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 HEXCHAR 0-9 A-F"},
  {S("++41"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 + is not xchar"},
  {S("a=b"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 = is not xchar"},
  {S("a b"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 SP is not xchar"},
  {S("a\r\nb"), SMTP_ERR_XTEXT, NULL, 0, "SECURITY 3 CRLF"},
  {S("a\0b"), SMTP_ERR_XTEXT, NULL, 0, "SECURITY 3 NUL"},
  {S("\x7f"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 DEL"},
  {S("\xC3\xA9"), SMTP_ERR_XTEXT, NULL, 0, "3461 4 ASCII only"},
};

static void test_decode_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof dec_vecs / sizeof dec_vecs[0]; i++) {
    const struct dec_vec *v = &dec_vecs[i];
    char out[64];
    size_t n = 999;
    int rc = smtp_xtext_decode(v->in, v->len, out, sizeof out, &n);
    if (rc != v->rc) fail_msg("xtext #%zu (%s): rc %d want %d", i, v->rfc, rc, v->rc);
    if (rc == SMTP_OK) {
      assert_int_equal(n, v->outlen);
      assert_memory_equal(out, v->out, n);
    } else {
      assert_int_equal(n, 0);
    }
  }
}

struct enc_vec {
  const char *in;
  size_t len;
  const char *out;
  const char *rfc;
};

static const struct enc_vec enc_vecs[] = {
  {S(""), "", "3461 4"},
  {S("abc"), "abc", "3461 4 xchar as is"},
  {S("a+b=c"), "a+2Bb+3Dc", "3461 4 + and = encoded"},
  {S("a b"), "a+20b", "3461 4 SP encoded"},
  {S("\r\n\0"), "+0D+0A+00", "3461 4 controls encoded"},
  {S("\x7f\x80\xff"), "+7F+80+FF", "3461 4 DEL, non-ASCII encoded (upper case)"},
  {S("rfc822;\"q\"@x"), "rfc822;\"q\"@x", "3461 4.2 printable kept"},
};

static void test_encode_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof enc_vecs / sizeof enc_vecs[0]; i++) {
    const struct enc_vec *v = &enc_vecs[i];
    char out[64];
    smtp_ssize n = smtp_xtext_encode(v->in, v->len, out, sizeof out);
    if (n < 0 || (size_t)n != strlen(v->out) || memcmp(out, v->out, (size_t)n) != 0)
      fail_msg("encode #%zu (%s): %td", i, v->rfc, n);
  }
}

static void test_buffers(void **state) {
  (void)state;
  char out[8];
  size_t n;
  /* Exactly enough room, then one short. */
  assert_int_equal(smtp_xtext_encode("a+", 2, out, 4), 4);
  assert_int_equal(smtp_xtext_encode("a+", 2, out, 3), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_xtext_encode("ab", 2, out, 1), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_xtext_encode("", 0, NULL, 0), 0);
  assert_int_equal(smtp_xtext_decode("+41B", 4, out, 2, &n), SMTP_OK);
  assert_int_equal(n, 2);
  assert_int_equal(smtp_xtext_decode("+41B", 4, out, 1, &n), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_xtext_decode("", 0, NULL, 0, &n), SMTP_OK);
  assert_int_equal(smtp_xtext_decode(NULL, 1, out, 8, &n), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_xtext_decode("a", 1, NULL, 8, &n), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_xtext_encode(NULL, 1, out, 8), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_xtext_decode("a", 1, out, 8, NULL), SMTP_OK);
}

/* Encode then decode is the identity, for every octet and for random
 * buffers (seeded, deterministic). RFC 3461 4. */
static void test_round_trip(void **state) {
  (void)state;
  char in[256], enc[768], dec[256];
  size_t n;
  for (int c = 0; c < 256; c++) in[c] = (char)c;
  smtp_ssize e = smtp_xtext_encode(in, 256, enc, sizeof enc);
  assert_true(e > 0);
  assert_int_equal(smtp_xtext_decode(enc, (size_t)e, dec, sizeof dec, &n), SMTP_OK);
  assert_int_equal(n, 256);
  assert_memory_equal(in, dec, 256);
  /* Each octet alone encodes as itself exactly for xchar. */
  for (int c = 0; c < 256; c++) {
    char one = (char)c;
    e = smtp_xtext_encode(&one, 1, enc, sizeof enc);
    int xchar = (c >= 33 && c <= 126 && c != '+' && c != '=');
    assert_int_equal(e, xchar ? 1 : 3);
  }
  uint32_t seed = 12345;
  for (int round = 0; round < 2000; round++) {
    size_t len = 0;
    seed = seed * 1103515245u + 12345u;
    len = (seed >> 16) % 200;
    for (size_t i = 0; i < len; i++) {
      seed = seed * 1103515245u + 12345u;
      in[i] = (char)(seed >> 16);
    }
    e = smtp_xtext_encode(in, len, enc, sizeof enc);
    assert_true(e >= (smtp_ssize)len && e <= (smtp_ssize)(3 * len));
    assert_int_equal(smtp_xtext_decode(enc, (size_t)e, dec, sizeof dec, &n), SMTP_OK);
    assert_int_equal(n, len);
    assert_memory_equal(in, dec, len);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_decode_vectors),
    cmocka_unit_test(test_encode_vectors),
    cmocka_unit_test(test_buffers),
    cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
