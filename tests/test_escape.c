/* smtp_escape_text(): untrusted bytes made safe for a terminal or a log
 * (trace lines, addresses, reply text). Vectors for every class (printable
 * ASCII, backslash, CR/LF/TAB, other C0 and DEL, valid UTF-8 per RFC 3629,
 * C1 and invisible direction controls, invalid and truncated sequences),
 * truncation at escape boundaries, and properties over random input
 * (seeded): the output is printable ASCII or valid UTF-8 with no control
 * code point, its length is what the function returns, and escaping is
 * injective (decoded back to the input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/address.h>
#include <smtp/common.h>

typedef struct vec {
  const char *in;
  size_t len;
  const char *out;
} vec;

#define V(in, out) {in, sizeof in - 1, out}

static const vec vecs[] = {
    V("", ""),
    V("EHLO client.example", "EHLO client.example"),
    V("a\\b", "a\\\\b"),
    V("\r\n\t", "\\r\\n\\t"),
    V("NOOP \x1b[2J\x1b]0;owned\x07", "NOOP \\x1B[2J\\x1B]0;owned\\x07"),
    V("\x00\x01\x1f\x7f", "\\x00\\x01\\x1F\\x7F"),
    V("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"),
    /* C1 controls as UTF-8 (U+009B is CSI on some terminals) */
    V("\xc2\x9b" "31m", "\\u009B31m"),
    V("\xc2\x80\xc2\x9f\xc2\xa0", "\\u0080\\u009F\xc2\xa0"),
    /* direction and invisible controls (Trojan Source, CVE-2021-42574) */
    V("\xe2\x80\xae" "gnp.exe", "\\u202Egnp.exe"),
    V("\xe2\x80\x8b\xef\xbb\xbf\xd8\x9c\xe2\x81\xa6", "\\u200B\\uFEFF\\u061C\\u2066"),
    /* bare C1 octets and invalid UTF-8: one \xHH per octet */
    V("\x9b" "31m", "\\x9B31m"),
    V("\xc0\xaf", "\\xC0\\xAF"),           /* overlong '/' */
    V("\xed\xa0\x80", "\\xED\\xA0\\x80"),   /* surrogate U+D800 */
    V("\xf4\x90\x80\x80", "\\xF4\\x90\\x80\\x80"), /* above U+10FFFF */
    V("\xe2\x82", "\\xE2\\x82"),           /* truncated */
    V("\xe2\x82" "A", "\\xE2\\x82A"),
    V("\xff\xfe", "\\xFF\\xFE"),
};

static void test_vectors(void **state) {
  (void)state;
  char buf[256];
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    size_t n = smtp_escape_text(buf, sizeof buf, vecs[i].in, vecs[i].len);
    assert_string_equal(buf, vecs[i].out);
    assert_int_equal(n, strlen(vecs[i].out));
    assert_int_equal(smtp_escape_text(NULL, 0, vecs[i].in, vecs[i].len), n);
  }
}

/* Truncation: NUL-terminated, never half an escape or a UTF-8 sequence,
 * the return value is the whole length. */
static void test_truncation(void **state) {
  (void)state;
  static const char in[] = "ab\x1b" "c\xc3\xa9" "d";
  const char *full = "ab\\x1Bc\xc3\xa9" "d";
  size_t fl = strlen(full);
  char buf[64];
  for (size_t cap = 1; cap <= fl + 1; cap++) {
    size_t n;
    memset(buf, 'Z', sizeof buf);
    n = smtp_escape_text(buf, cap, in, sizeof in - 1);
    assert_int_equal(n, fl);
    assert_true(strlen(buf) < cap);
    assert_memory_equal(buf, full, strlen(buf)); /* a prefix */
    /* the prefix ends on a boundary */
    {
      size_t k = strlen(buf);
      static const size_t ok[] = {0, 1, 2, 6, 7, 9, 10};
      int found = 0;
      for (size_t j = 0; j < sizeof ok / sizeof ok[0]; j++) found |= ok[j] == k;
      assert_true(found);
    }
    assert_int_equal(buf[cap], 'Z'); /* nothing written past cap */
  }
  assert_int_equal(smtp_escape_text(buf, 1, in, sizeof in - 1), fl);
  assert_string_equal(buf, "");
  assert_int_equal(smtp_escape_text(buf, sizeof buf, NULL, 5), 0);
  assert_string_equal(buf, "");
}

static uint64_t rng_state = 12345; /* 64 bits on every target (armhf's long has 32) */
static unsigned rnd(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (unsigned)(rng_state >> 33);
}

static int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decode an escaped text back to octets (\uHHHH as UTF-8). */
static size_t unescape(const char *s, char *out) {
  size_t w = 0;
  while (*s) {
    if (*s != '\\') {
      out[w++] = *s++;
      continue;
    }
    s++;
    if (*s == '\\') out[w++] = '\\', s++;
    else if (*s == 'r') out[w++] = '\r', s++;
    else if (*s == 'n') out[w++] = '\n', s++;
    else if (*s == 't') out[w++] = '\t', s++;
    else if (*s == 'x') {
      out[w++] = (char)(hexv(s[1]) * 16 + hexv(s[2]));
      s += 3;
    } else {
      unsigned cp;
      assert_true(*s == 'u');
      cp = (unsigned)(hexv(s[1]) << 12 | hexv(s[2]) << 8 | hexv(s[3]) << 4 | hexv(s[4]));
      if (cp < 0x800) {
        out[w++] = (char)(0xC0 | cp >> 6);
        out[w++] = (char)(0x80 | (cp & 0x3F));
      } else {
        out[w++] = (char)(0xE0 | cp >> 12);
        out[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[w++] = (char)(0x80 | (cp & 0x3F));
      }
      s += 5;
    }
  }
  return w;
}

/* Random octets (biased towards UTF-8 lead and control octets): the output
 * holds no control octet, is valid UTF-8, and decodes back to the input. */
static void test_random(void **state) {
  (void)state;
  static char in[200], out[200 * 6 + 1], back[200 * 4];
  for (int round = 0; round < 20000; round++) {
    size_t len = rnd() % sizeof in, n;
    for (size_t i = 0; i < len; i++) {
      unsigned r = rnd() % 8;
      in[i] = (char)(r == 0 ? rnd() % 0x20 : r == 1 ? 0xC2 : r == 2 ? 0xE2 : r < 5 ? 0x80 + rnd() % 0x40
                                                                                     : rnd() % 256);
    }
    n = smtp_escape_text(out, sizeof out, in, len);
    assert_true(n <= 6 * len);
    assert_int_equal(strlen(out), n);
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)out[i];
      assert_true(c >= 0x20 && c != 0x7F);
      if (c == 0xC2) assert_true((unsigned char)out[i + 1] >= 0xA0); /* no C1 */
    }
    assert_int_equal(smtp_utf8_validate(out, n), SMTP_OK);
    assert_int_equal(unescape(out, back), len);
    assert_memory_equal(back, in, len);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
