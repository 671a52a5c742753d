/* UTF-8 validation (RFC 3629 3 and 4; RFC 6531 3.3 uses RFC 6532 3.1
 * UTF8-non-ascii, which is the RFC 3629 grammar). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/address.h>

#define S(x) x, sizeof(x) - 1

struct u8_vec {
  const char *in;
  size_t len;
  int rc;
  const char *rfc;
};

static const struct u8_vec u8_vecs[] = {
  {S(""), SMTP_OK, "3629 4 empty"},
  {S("plain ASCII text, longer than one word of eight"), SMTP_OK, "3629 4 UTF8-1"},
  {S("\x00\x7f"), SMTP_OK, "3629 4 UTF8-1 bounds (NUL is valid UTF-8)"},
  {S("\xC2\x80"), SMTP_OK, "3629 4 UTF8-2 U+0080"},
  {S("\xDF\xBF"), SMTP_OK, "3629 4 UTF8-2 U+07FF"},
  {S("\xE0\xA0\x80"), SMTP_OK, "3629 4 UTF8-3 U+0800"},
  {S("\xEC\xBF\xBF"), SMTP_OK, "3629 4 UTF8-3 E1-EC"},
  {S("\xED\x9F\xBF"), SMTP_OK, "3629 4 UTF8-3 U+D7FF"},
  {S("\xEE\x80\x80"), SMTP_OK, "3629 4 UTF8-3 U+E000"},
  {S("\xEF\xBF\xBF"), SMTP_OK, "3629 4 UTF8-3 U+FFFF"},
  {S("\xF0\x90\x80\x80"), SMTP_OK, "3629 4 UTF8-4 U+10000"},
  {S("\xF3\xBF\xBF\xBF"), SMTP_OK, "3629 4 UTF8-4 F1-F3"},
  {S("\xF4\x8F\xBF\xBF"), SMTP_OK, "3629 4 UTF8-4 U+10FFFF"},
  {S("abcdefgh\xC3\xA9ijklmnop\xE2\x82\xAC"), SMTP_OK, "3629 4 mixed after ASCII run"},
  {S("\x80"), SMTP_ERR_UTF8, "3629 3 lone continuation"},
  {S("\xBF"), SMTP_ERR_UTF8, "3629 3 lone continuation"},
  {S("\xC0\x80"), SMTP_ERR_UTF8, "3629 3 overlong NUL (C0 80)"},
  {S("\xC1\xBF"), SMTP_ERR_UTF8, "3629 3 overlong C1"},
  {S("\xE0\x80\xAF"), SMTP_ERR_UTF8, "3629 3 overlong 3-byte /"},
  {S("\xE0\x9F\xBF"), SMTP_ERR_UTF8, "3629 3 overlong U+07FF"},
  {S("\xF0\x80\x80\xAF"), SMTP_ERR_UTF8, "3629 3 overlong 4-byte"},
  {S("\xF0\x8F\xBF\xBF"), SMTP_ERR_UTF8, "3629 3 overlong U+FFFF"},
  {S("\xED\xA0\x80"), SMTP_ERR_UTF8, "3629 3 surrogate U+D800"},
  {S("\xED\xBF\xBF"), SMTP_ERR_UTF8, "3629 3 surrogate U+DFFF"},
  {S("\xED\xA0\xBD\xED\xB2\xA9"), SMTP_ERR_UTF8, "3629 3 CESU-8 pair"},
  {S("\xF4\x90\x80\x80"), SMTP_ERR_UTF8, "3629 3 U+110000"},
  {S("\xF5\x80\x80\x80"), SMTP_ERR_UTF8, "3629 3 F5 lead"},
  {S("\xF8\x88\x80\x80\x80"), SMTP_ERR_UTF8, "3629 3 5-byte form"},
  {S("\xFC\x84\x80\x80\x80\x80"), SMTP_ERR_UTF8, "3629 3 6-byte form"},
  {S("\xFE"), SMTP_ERR_UTF8, "3629 1 FE never appears"},
  {S("\xFF"), SMTP_ERR_UTF8, "3629 1 FF never appears"},
  {S("\xC3"), SMTP_ERR_UTF8, "3629 3 truncated 2"},
  {S("\xE2\x82"), SMTP_ERR_UTF8, "3629 3 truncated 3"},
  {S("\xF0\x9F\x98"), SMTP_ERR_UTF8, "3629 3 truncated 4"},
  {S("abcdefgh\xE2\x82"), SMTP_ERR_UTF8, "3629 3 truncated at end after ASCII run"},
  {S("\xC3" "A"), SMTP_ERR_UTF8, "3629 3 ASCII as continuation"},
  {S("\xE2\x82" "A"), SMTP_ERR_UTF8, "3629 3 ASCII as continuation"},
  {S("\xF0\x9F\x98" "A"), SMTP_ERR_UTF8, "3629 3 ASCII as continuation"},
  {S("\xC3\xA9\xA9"), SMTP_ERR_UTF8, "3629 3 extra continuation"},
};

static void test_utf8_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof u8_vecs / sizeof u8_vecs[0]; i++) {
    int rc = smtp_utf8_validate(u8_vecs[i].in, u8_vecs[i].len);
    if (rc != u8_vecs[i].rc)
      fail_msg("utf8 #%zu (%s): rc %d want %d", i, u8_vecs[i].rfc, rc, u8_vecs[i].rc);
  }
  assert_int_equal(smtp_utf8_validate(NULL, 0), SMTP_OK);
  assert_int_equal(smtp_utf8_validate(NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
}

/* Reference: decode by the arithmetic definition of RFC 3629 3. */
static int ref_valid(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    uint32_t cp, min;
    size_t k;
    if (c < 0x80) { i++; continue; }
    if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n - i <= k) return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i + j] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += k + 1;
  }
  return 1;
}

/* Every 1-, 2- and 3-octet string, and 4-octet strings over the
 * interesting values of each position, against the reference. */
static void test_utf8_exhaustive(void **state) {
  (void)state;
  unsigned char b[4];
  for (unsigned a = 0; a < 256; a++) {
    b[0] = (unsigned char)a;
    assert_int_equal(smtp_utf8_validate((char *)b, 1) == SMTP_OK, ref_valid(b, 1));
    for (unsigned c = 0; c < 256; c++) {
      b[1] = (unsigned char)c;
      assert_int_equal(smtp_utf8_validate((char *)b, 2) == SMTP_OK, ref_valid(b, 2));
      for (unsigned d = 0; d < 256; d++) {
        b[2] = (unsigned char)d;
        if ((smtp_utf8_validate((char *)b, 3) == SMTP_OK) != ref_valid(b, 3))
          fail_msg("3-octet %02x %02x %02x", a, c, d);
      }
    }
  }
  static const unsigned char edge[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
                                       0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0,
                                       0xF4, 0xF5, 0xFF};
  for (unsigned a = 0xF0; a < 256; a++)
    for (size_t i = 0; i < sizeof edge; i++)
      for (size_t j = 0; j < sizeof edge; j++)
        for (size_t k = 0; k < sizeof edge; k++) {
          b[0] = (unsigned char)a;
          b[1] = edge[i];
          b[2] = edge[j];
          b[3] = edge[k];
          if ((smtp_utf8_validate((char *)b, 4) == SMTP_OK) != ref_valid(b, 4))
            fail_msg("4-octet %02x %02x %02x %02x", b[0], b[1], b[2], b[3]);
        }
}

/* The word-at-a-time ASCII path: a bad octet at every offset and every
 * alignment is still found. */
static void test_utf8_fast_path(void **state) {
  (void)state;
  char buf[80];
  for (size_t off = 0; off < 8; off++) {
    for (size_t pos = 0; pos + off < sizeof buf; pos++) {
      memset(buf, 'a', sizeof buf);
      buf[off + pos] = (char)0x80;
      assert_int_equal(smtp_utf8_validate(buf + off, sizeof buf - off), SMTP_ERR_UTF8);
      if (off + pos + 1 < sizeof buf) {
        buf[off + pos] = (char)0xC3;
        buf[off + pos + 1] = (char)0xA9;
        assert_int_equal(smtp_utf8_validate(buf + off, sizeof buf - off), SMTP_OK);
      }
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_utf8_vectors),
    cmocka_unit_test(test_utf8_exhaustive),
    cmocka_unit_test(test_utf8_fast_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
