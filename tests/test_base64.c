/* Strict base64 (RFC 4648 4) as AUTH uses it (RFC 4954 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/sasl.h>

/* RFC 4648 10: test vectors. */
static const struct {
  const char *plain;
  const char *b64;
} rfc4648_vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

/* Further valid vectors: RFC 4616 4 example PLAIN messages as RFC 4954 sends
 * them, every alphabet character, and high octets. */
static const struct {
  const char *plain;
  size_t len;
  const char *b64;
} more_vectors[] = {
    {"\0tim\0tanstaaftanstaaf", 21, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"}, /* RFC 4616 4 */
    {"Ursel\0Kurt\0xipj3plmq", 20, "VXJzZWwAS3VydAB4aXBqM3BsbXE="},  /* RFC 4616 4 */
    {"\0user\0pass", 10, "AHVzZXIAcGFzcw=="},
    {"\xff\xff\xff", 3, "////"},
    {"\xfb\xef\xbe", 3, "++++"},
    {"\x00\x00\x00", 3, "AAAA"},
    {"\x00", 1, "AA=="},
    {"\x00\x00", 2, "AAA="},
    {"\xff", 1, "/w=="},
    {"\xff\xfe", 2, "//4="},
    {"\x00\x10\x83\x10\x51\x87\x20\x92\x8b\x30\xd3\x8f\x41\x14\x93\x51\x55\x97"
     "\x61\x96\x9b\x71\xd7\x9f\x82\x18\xa3\x92\x59\xa7\xa2\x9a\xab\xb2\xdb\xaf"
     "\xc3\x1c\xb3\xd3\x5d\xb7\xe3\x9e\xbb\xf3\xdf\xbf",
     48, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"},
};

/* Strings a strict decoder must refuse (RFC 4648 3.1-3.5, 4). */
static const char *const invalid_b64[] = {
    "Z",            /* RFC 4648 4: not a multiple of 4 */
    "Zg",           /* padding missing (3.2) */
    "Zg=",          /* padding short */
    "Zm9",          /* padding missing */
    "Zm9vY",        /* truncated quantum */
    "Zg===",        /* too much padding */
    "====",         /* padding only */
    "A===",         /* one character cannot encode an octet */
    "Zm9vYmFy====", /* a quantum of padding */
    "Zg==Zg==",     /* padding in the middle (3.3) */
    "Zm=v",         /* "=" inside a quantum */
    "=Zm9",         /* "=" first */
    "Zh==",         /* non-zero pad bits (3.5) */
    "Zm9=",         /* non-zero pad bits: 'o' 0x6F ends 0b11 */
    "Zg=a",         /* data after "=" */
    "Zm9v Yg==",    /* SP (3.3: no non-alphabet characters) */
    "Zm9v\r\nYg==", /* line break */
    "Zm9v\tYg==",   /* HTAB */
    " Zm9",         /* leading space */
    "Zm9vYg==\n",   /* trailing LF */
    "Zm9-",         /* base64url alphabet (RFC 4648 5) */
    "Zm9_",         /* base64url alphabet */
    "Zm9.",         /* "." */
    "Zm9*",         /* "*" */
    "Zm9v\x80\x80\x80\x80", /* non-ASCII */
    "Zm9vYmFy=",    /* padding after a full quantum */
};

static void test_rfc4648_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(rfc4648_vectors) / sizeof(rfc4648_vectors[0]); i++) {
    const char *p = rfc4648_vectors[i].plain, *b = rfc4648_vectors[i].b64;
    char enc[32], dec[32];
    smtp_ssize n = smtp_base64_encode(p, strlen(p), enc, sizeof(enc));
    assert_int_equal(n, (smtp_ssize)strlen(b));
    assert_memory_equal(enc, b, strlen(b));
    assert_int_equal((size_t)n, SMTP_BASE64_ENCODED_LEN(strlen(p)));
    n = smtp_base64_decode(b, strlen(b), dec, sizeof(dec));
    assert_int_equal(n, (smtp_ssize)strlen(p));
    if (n) assert_memory_equal(dec, p, strlen(p));
    assert_true((size_t)n <= SMTP_BASE64_DECODED_MAX(strlen(b)));
  }
}

static void test_more_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(more_vectors) / sizeof(more_vectors[0]); i++) {
    char enc[128], dec[128];
    size_t blen = strlen(more_vectors[i].b64);
    smtp_ssize n = smtp_base64_encode(more_vectors[i].plain, more_vectors[i].len, enc, sizeof(enc));
    assert_int_equal(n, (smtp_ssize)blen);
    assert_memory_equal(enc, more_vectors[i].b64, blen);
    n = smtp_base64_decode(more_vectors[i].b64, blen, dec, sizeof(dec));
    assert_int_equal(n, (smtp_ssize)more_vectors[i].len);
    assert_memory_equal(dec, more_vectors[i].plain, more_vectors[i].len);
  }
}

static void test_invalid(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(invalid_b64) / sizeof(invalid_b64[0]); i++) {
    char dec[64];
    smtp_ssize n = smtp_base64_decode(invalid_b64[i], strlen(invalid_b64[i]), dec, sizeof(dec));
    if (n != SMTP_ERR_BASE64) fprintf(stderr, "accepted invalid #%zu \"%s\"\n", i, invalid_b64[i]);
    assert_int_equal(n, SMTP_ERR_BASE64);
  }
  /* NUL inside the input (length given explicitly). */
  assert_int_equal(smtp_base64_decode("Zm\0v", 4, (char[8]){0}, 8), SMTP_ERR_BASE64);
}

/* Every octet value in every position; every length 0..64: the decoder gives
 * back what the encoder was given (RFC 4648 4 is a bijection on padded forms). */
static void test_roundtrip(void **state) {
  unsigned char in[64], dec[64];
  char enc[SMTP_BASE64_ENCODED_LEN(64)];
  uint32_t seed = 12345;
  (void)state;
  for (size_t len = 0; len <= sizeof(in); len++) {
    for (int round = 0; round < 20; round++) {
      for (size_t k = 0; k < len; k++) {
        seed = seed * 1103515245u + 12345u;
        in[k] = (unsigned char)(seed >> 16);
      }
      smtp_ssize n = smtp_base64_encode(in, len, enc, sizeof(enc));
      assert_int_equal(n, (smtp_ssize)SMTP_BASE64_ENCODED_LEN(len));
      smtp_ssize m = smtp_base64_decode(enc, (size_t)n, dec, sizeof(dec));
      assert_int_equal(m, (smtp_ssize)len);
      if (len) assert_memory_equal(in, dec, len);
    }
  }
  for (int c = 0; c < 256; c++) {
    unsigned char one = (unsigned char)c;
    smtp_ssize n = smtp_base64_encode(&one, 1, enc, sizeof(enc));
    assert_int_equal(n, 4);
    assert_int_equal(smtp_base64_decode(enc, 4, dec, 1), 1);
    assert_int_equal(dec[0], c);
  }
}

/* Flipping any single character of a valid encoding to any other octet
 * either fails or decodes to different bytes: no two strings mean the same. */
static void test_canonical(void **state) {
  const char *b = "Zm9vYmE=";
  char buf[8], dec[8];
  (void)state;
  for (size_t pos = 0; pos < 8; pos++) {
    for (int c = 0; c < 256; c++) {
      if (c == b[pos]) continue;
      memcpy(buf, b, 8);
      buf[pos] = (char)c;
      smtp_ssize n = smtp_base64_decode(buf, 8, dec, sizeof(dec));
      if (n >= 0) assert_false(n == 5 && memcmp(dec, "fooba", 5) == 0);
    }
  }
}

static void test_buffer_sizes(void **state) {
  char enc[8], dec[8];
  (void)state;
  /* Exact size works; one less fails. */
  assert_int_equal(smtp_base64_encode("foobar", 6, enc, 8), 8);
  assert_int_equal(smtp_base64_encode("foobar", 6, enc, 7), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_base64_encode("f", 1, enc, 3), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_base64_decode("Zm9vYmE=", 8, dec, 5), 5);
  assert_int_equal(smtp_base64_decode("Zm9vYmE=", 8, dec, 4), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_base64_decode("Zg==", 4, dec, 1), 1);
  assert_int_equal(smtp_base64_decode("Zg==", 4, dec, 0), SMTP_ERR_BUFFER_TOO_SMALL);
  /* Invalid input is reported as invalid even with no room. */
  assert_int_equal(smtp_base64_decode("Zh==", 4, dec, 0), SMTP_ERR_BASE64);
  /* Empty in, empty out, even with no buffer. */
  assert_int_equal(smtp_base64_encode(NULL, 0, NULL, 0), 0);
  assert_int_equal(smtp_base64_decode(NULL, 0, NULL, 0), 0);
  assert_int_equal(smtp_base64_encode(NULL, 1, enc, 8), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_base64_decode(NULL, 4, dec, 8), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_base64_encode("f", 1, NULL, 8), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_base64_decode("Zg==", 4, NULL, 8), SMTP_ERR_INVALID_ARGUMENT);
  /* A length whose encoding cannot be represented. */
  assert_int_equal(smtp_base64_encode("f", SIZE_MAX, enc, 8), SMTP_ERR_BUFFER_TOO_SMALL);
  /* Macros. */
  assert_int_equal(SMTP_BASE64_ENCODED_LEN(0), 0);
  assert_int_equal(SMTP_BASE64_ENCODED_LEN(1), 4);
  assert_int_equal(SMTP_BASE64_ENCODED_LEN(3), 4);
  assert_int_equal(SMTP_BASE64_ENCODED_LEN(4), 8);
  assert_int_equal(SMTP_BASE64_DECODED_MAX(8), 6);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc4648_vectors), cmocka_unit_test(test_more_vectors),
      cmocka_unit_test(test_invalid),         cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_canonical),       cmocka_unit_test(test_buffer_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
