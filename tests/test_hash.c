/* The hashes under SASL (lib/hash.c) against published vectors: MD5
 * (RFC 1321 A.5), SHA-1, SHA-256 and SHA-512 (FIPS 180-4 examples: "abc",
 * the two-block messages and one million "a"), HMAC-SHA-1 (RFC 2202 3),
 * HMAC-SHA-512 (RFC 4231 4.2, 4.3, 4.7), PBKDF2-HMAC-SHA-1 (RFC 6070 2).
 * Every digest is also computed fed one byte at a time and at random split
 * points (seeded). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/common.h>

#include "hash.h"
#include "support/hex.h"

static uint32_t rng = 12345;
static uint32_t next(void) {
  rng = rng * 1103515245u + 12345u;
  return rng >> 8;
}

/* Whole, one byte at a time, and in random pieces: all must give @p want. */
static void check(int alg, const char *msg, size_t len, const char *want) {
  unsigned char d[SMTP__HASH_MAX];
  char x[2 * SMTP__HASH_MAX + 1];
  smtp__hash_ctx c;
  size_t i, hl = smtp__hash_len(alg);
  assert_int_equal(smtp__hash(alg, msg, len, d), 0);
  hex_encode(d, hl, x);
  assert_string_equal(x, want);
  smtp__hash_init(&c, alg);
  for (i = 0; i < len; i++) smtp__hash_update(&c, msg + i, 1);
  smtp__hash_final(&c, d);
  hex_encode(d, hl, x);
  assert_string_equal(x, want);
  for (int round = 0; round < 4; round++) {
    smtp__hash_init(&c, alg);
    for (i = 0; i < len;) {
      size_t k = 1 + next() % 200;
      if (k > len - i) k = len - i;
      smtp__hash_update(&c, msg + i, k);
      i += k;
    }
    smtp__hash_final(&c, d);
    hex_encode(d, hl, x);
    assert_string_equal(x, want);
  }
}

static const char ABC2_256[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char ABC2_512[] =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopq"
    "rsmnopqrstnopqrstu";

static void test_md5(void **state) {
  (void)state;
  check(SMTP__H_MD5, "", 0, "d41d8cd98f00b204e9800998ecf8427e");
  check(SMTP__H_MD5, "abc", 3, "900150983cd24fb0d6963f7d28e17f72");
  check(SMTP__H_MD5, "message digest", 14, "f96b697d7cb7938d525a2f31aaf161d0");
  check(SMTP__H_MD5,
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890", 80,
        "57edf4a22be3c955ac49da2e2107b67a");
}

static void test_sha1(void **state) {
  (void)state;
  check(SMTP__H_SHA1, "abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
  check(SMTP__H_SHA1, "", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  check(SMTP__H_SHA1, ABC2_256, sizeof ABC2_256 - 1, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void test_sha256(void **state) {
  (void)state;
  check(SMTP__H_SHA256, "abc", 3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  check(SMTP__H_SHA256, ABC2_256, sizeof ABC2_256 - 1,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha512(void **state) {
  (void)state;
  check(SMTP__H_SHA512, "abc", 3,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a8"
        "36ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  check(SMTP__H_SHA512, "", 0,
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0"
        "ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  check(SMTP__H_SHA512, ABC2_512, sizeof ABC2_512 - 1,
        "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4"
        "331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
}

/* FIPS 180-4 examples: one million "a" (many blocks, 64-bit length). */
static void test_million(void **state) {
  (void)state;
  char *m = malloc(1000000);
  assert_non_null(m);
  memset(m, 'a', 1000000);
  check(SMTP__H_SHA1, m, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  check(SMTP__H_SHA256, m, 1000000,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  check(SMTP__H_SHA512, m, 1000000,
        "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a"
        "4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
  free(m);
}

static void test_hmac(void **state) {
  (void)state;
  unsigned char key[131], d[64];
  char x[129];
  memset(key, 0x0b, 20);
  /* RFC 2202 3, test cases 1 and 2 */
  assert_int_equal(smtp__hmac(SMTP__H_SHA1, key, 20, "Hi There", 8, d), 0);
  hex_encode(d, 20, x);
  assert_string_equal(x, "b617318655057264e28bc0b6fb378c8ef146be00");
  assert_int_equal(smtp__hmac(SMTP__H_SHA1, "Jefe", 4, "what do ya want for nothing?", 28, d), 0);
  hex_encode(d, 20, x);
  assert_string_equal(x, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  /* RFC 4231 4.2 and 4.3 (HMAC-SHA-512) */
  assert_int_equal(smtp__hmac(SMTP__H_SHA512, key, 20, "Hi There", 8, d), 0);
  hex_encode(d, 64, x);
  assert_string_equal(x, "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
                         "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
  assert_int_equal(smtp__hmac(SMTP__H_SHA512, "Jefe", 4, "what do ya want for nothing?", 28, d), 0);
  hex_encode(d, 64, x);
  assert_string_equal(x, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                         "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
  /* RFC 4231 4.7: a key longer than SHA-512's 128-octet block */
  memset(key, 0xaa, 131);
  assert_int_equal(smtp__hmac(SMTP__H_SHA512, key, 131,
                              "Test Using Larger Than Block-Size Key - Hash Key First", 54, d),
                   0);
  hex_encode(d, 64, x);
  assert_string_equal(x, "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
                         "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
  assert_int_equal(smtp__hmac(99, "k", 1, "d", 1, d), SMTP_ERR_INVALID_ARGUMENT);
}

static void test_pbkdf2(void **state) {
  (void)state;
  unsigned char d[64];
  char x[129];
  /* RFC 6070 2 (PBKDF2-HMAC-SHA-1, dkLen 20) */
  assert_int_equal(smtp__pbkdf2(SMTP__H_SHA1, "password", 8, "salt", 4, 1, d), 0);
  hex_encode(d, 20, x);
  assert_string_equal(x, "0c60c80f961f0e71f3a9b524af6012062fe037a6");
  assert_int_equal(smtp__pbkdf2(SMTP__H_SHA1, "password", 8, "salt", 4, 2, d), 0);
  hex_encode(d, 20, x);
  assert_string_equal(x, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
  assert_int_equal(smtp__pbkdf2(SMTP__H_SHA1, "password", 8, "salt", 4, 4096, d), 0);
  hex_encode(d, 20, x);
  assert_string_equal(x, "4b007901b765489abead49d926f721d065a429c1");
  assert_int_equal(smtp__pbkdf2(SMTP__H_SHA1, "p", 1, "s", 1, 0, d), SMTP_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_md5),     cmocka_unit_test(test_sha1),  cmocka_unit_test(test_sha256),
      cmocka_unit_test(test_sha512),  cmocka_unit_test(test_million), cmocka_unit_test(test_hmac),
      cmocka_unit_test(test_pbkdf2),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
