/* SCRAM-SHA-256 client (RFC 7677 / RFC 5802) against the RFC 7677 section
 * 3 test vector, its failure cases, and the hashes under it: SHA-256
 * (FIPS 180-4 "abc"), HMAC-SHA-256 (RFC 4231 4.2, 4.3), PBKDF2-HMAC-SHA-256
 * (RFC 7914 11), HMAC-MD5 (RFC 2202 2) and CRAM-MD5 (RFC 2195 2). Skipped
 * when the library is built without mbedTLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/ext.h>

#include "client_auth.h"
#include "hash.h"

static void hex(const unsigned char *b, size_t n, char *out) {
  static const char h[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = h[b[i] >> 4];
    out[2 * i + 1] = h[b[i] & 15];
  }
  out[2 * n] = 0;
}

#define NEED_HASH()                       \
  do {                                    \
    if (!smtp__hash_available()) skip();  \
  } while (0)

static void test_sha256(void **state) {
  (void)state;
  unsigned char d[32];
  char x[65];
  NEED_HASH();
  assert_int_equal(smtp__sha256("abc", 3, d), 0);
  hex(d, 32, x);
  assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_int_equal(smtp__sha256("", 0, d), 0);
  hex(d, 32, x);
  assert_string_equal(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hmac_sha256(void **state) {
  (void)state;
  unsigned char key[20], d[32], big[131];
  char x[65];
  NEED_HASH();
  memset(key, 0x0b, sizeof key);
  /* RFC 4231 4.2 test case 1 */
  assert_int_equal(smtp__hmac_sha256(key, 20, "Hi There", 8, d), 0);
  hex(d, 32, x);
  assert_string_equal(x, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  /* RFC 4231 4.3 test case 2 */
  assert_int_equal(smtp__hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d), 0);
  hex(d, 32, x);
  assert_string_equal(x, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  /* RFC 4231 4.7 test case 6: a key longer than the block */
  memset(big, 0xaa, sizeof big);
  assert_int_equal(smtp__hmac_sha256(big, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
                                     54, d),
                   0);
  hex(d, 32, x);
  assert_string_equal(x, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_pbkdf2(void **state) {
  (void)state;
  unsigned char d[32];
  char x[65];
  NEED_HASH();
  /* RFC 7914 11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1), first block */
  assert_int_equal(smtp__pbkdf2_sha256("passwd", 6, "salt", 4, 1, d), 0);
  hex(d, 32, x);
  assert_string_equal(x, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
  /* RFC 7914 11: P="Password", S="NaCl", c=80000, first block */
  assert_int_equal(smtp__pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, d), 0);
  hex(d, 32, x);
  assert_string_equal(x, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56");
  assert_int_equal(smtp__pbkdf2_sha256("p", 1, "s", 1, 0, d), SMTP_ERR_INVALID_ARGUMENT);
}

static void test_hmac_md5_cram(void **state) {
  (void)state;
  unsigned char d[16];
  char x[33], out[128];
  size_t n;
  int ir;
  smtp__sasl_client s;
  smtp__sasl_creds cr = {NULL, 0, "tim", 3, "tanstaaftanstaaf", 16, NULL, 0};
  NEED_HASH();
  /* RFC 2202 2 test case 2 */
  assert_int_equal(smtp__hmac_md5("Jefe", 4, "what do ya want for nothing?", 28, d), 0);
  hex(d, 16, x);
  assert_string_equal(x, "750c783e6ab0b503eaa86e310a5db738");
  /* RFC 2195 2 */
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_CRAM_MD5, &cr, NULL, 0, out, sizeof out, &n, &ir), 0);
  assert_int_equal(ir, 0);
  static const char chal[] = "<1896.697170952@postoffice.reston.mci.net>";
  assert_int_equal(smtp__sasl_client_step(&s, &cr, chal, sizeof chal - 1, out, sizeof out, &n), 0);
  assert_int_equal(n, 36);
  assert_memory_equal(out, "tim b913a602c7eda7a495b4e6e7334d3890", 36);
}

/* RFC 7677 3: user "user", password "pencil". */
static const char NONCE[] = "rOprNGfwEbeRWgbNEkqO";
static const char SFIRST[] =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
static const char CFINAL[] =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char SFINAL[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

static void scram_begin(smtp__sasl_client *s, const smtp__sasl_creds *cr) {
  char out[256];
  size_t n;
  int ir;
  assert_int_equal(smtp__sasl_client_start(s, SMTP_SASL_SCRAM_SHA_256, cr, NONCE, sizeof NONCE - 1, out,
                                           sizeof out, &n, &ir),
                   0);
  assert_int_equal(ir, 1);
  assert_int_equal(n, strlen("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
  assert_memory_equal(out, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", n);
}

static void test_scram_rfc7677_vector(void **state) {
  (void)state;
  smtp__sasl_client s;
  smtp__sasl_creds cr = {NULL, 0, "user", 4, "pencil", 6, NULL, 0};
  char out[512];
  size_t n;
  NEED_HASH();
  scram_begin(&s, &cr);
  assert_false(smtp__sasl_client_success_ok(&s));
  assert_int_equal(smtp__sasl_client_step(&s, &cr, SFIRST, sizeof SFIRST - 1, out, sizeof out, &n), 0);
  assert_int_equal(n, sizeof CFINAL - 1);
  assert_memory_equal(out, CFINAL, n);
  assert_false(smtp__sasl_client_success_ok(&s));
  assert_int_equal(smtp__sasl_client_step(&s, &cr, SFINAL, sizeof SFINAL - 1, out, sizeof out, &n), 0);
  assert_int_equal(n, 0);
  assert_true(smtp__sasl_client_success_ok(&s));
  /* nothing more is expected */
  assert_int_equal(smtp__sasl_client_step(&s, &cr, "x", 1, out, sizeof out, &n), 1);
}

static void test_scram_failures(void **state) {
  (void)state;
  static const char *const bad_first[] = {
      "r=XXXXNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", /* not extended */
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4x96",
      "r=rOprNGfwEbeRWgbNEkqOabc,s=!!!,i=4096",
      "r=rOprNGfwEbeRWgbNEkqOabc,i=4096",
      "m=ext,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "e=other-error",
      "",
  };
  smtp__sasl_client s;
  smtp__sasl_creds cr = {NULL, 0, "user", 4, "pencil", 6, NULL, 0};
  char out[512];
  size_t n;
  NEED_HASH();
  for (size_t i = 0; i < sizeof bad_first / sizeof bad_first[0]; i++) {
    scram_begin(&s, &cr);
    assert_int_equal(smtp__sasl_client_step(&s, &cr, bad_first[i], strlen(bad_first[i]), out, sizeof out, &n), 1);
    assert_false(smtp__sasl_client_success_ok(&s));
  }
  static const char *const bad_final[] = {
      "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "e=invalid-proof", "v=", "v=AAAA", "x=1",
  };
  for (size_t i = 0; i < sizeof bad_final / sizeof bad_final[0]; i++) {
    scram_begin(&s, &cr);
    assert_int_equal(smtp__sasl_client_step(&s, &cr, SFIRST, sizeof SFIRST - 1, out, sizeof out, &n), 0);
    assert_int_equal(smtp__sasl_client_step(&s, &cr, bad_final[i], strlen(bad_final[i]), out, sizeof out, &n), 1);
    assert_false(smtp__sasl_client_success_ok(&s));
  }
}

/* saslname escaping (RFC 5802 5.1) and the gs2 authzid. */
static void test_scram_saslname(void **state) {
  (void)state;
  smtp__sasl_client s;
  smtp__sasl_creds cr = {"ad=m,in", 7, "u,s=er", 6, "p", 1, NULL, 0};
  char out[256];
  size_t n;
  int ir;
  NEED_HASH();
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_SCRAM_SHA_256, &cr, "abc", 3, out, sizeof out, &n, &ir), 0);
  out[n] = 0;
  assert_string_equal(out, "n,a=ad=3Dm=2Cin,n=u=2Cs=3Der,r=abc");
  /* a nonce with "," or controls is refused */
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_SCRAM_SHA_256, &cr, "a,b", 3, out, sizeof out, &n, &ir),
                   SMTP_ERR_INVALID_ARGUMENT);
}

/* Mechanism choice: strongest first. */
static void test_choice(void **state) {
  (void)state;
  unsigned all = SMTP_SASL_PLAIN | SMTP_SASL_LOGIN | SMTP_SASL_CRAM_MD5 | SMTP_SASL_SCRAM_SHA_256 |
                 SMTP_SASL_XOAUTH2 | SMTP_SASL_OAUTHBEARER;
  unsigned pw = smtp__sasl_client_supported(1, 0, 1), tok = smtp__sasl_client_supported(0, 1, 0);
  if (smtp__hash_available()) {
    assert_int_equal(smtp__sasl_client_choose(all, pw), SMTP_SASL_SCRAM_SHA_256);
    assert_int_equal(smtp__sasl_client_choose(all & ~(unsigned)SMTP_SASL_SCRAM_SHA_256, pw),
                     SMTP_SASL_CRAM_MD5);
    /* without randomness there is no SCRAM */
    assert_int_equal(smtp__sasl_client_choose(all, smtp__sasl_client_supported(1, 0, 0)),
                     SMTP_SASL_CRAM_MD5);
  } else {
    assert_int_equal(smtp__sasl_client_choose(all, pw), SMTP_SASL_PLAIN);
  }
  assert_int_equal(smtp__sasl_client_choose(SMTP_SASL_PLAIN | SMTP_SASL_LOGIN, pw), SMTP_SASL_PLAIN);
  assert_int_equal(smtp__sasl_client_choose(SMTP_SASL_LOGIN, pw), SMTP_SASL_LOGIN);
  assert_int_equal(smtp__sasl_client_choose(all, tok), SMTP_SASL_OAUTHBEARER);
  assert_int_equal(smtp__sasl_client_choose(SMTP_SASL_XOAUTH2 | SMTP_SASL_PLAIN, tok), SMTP_SASL_XOAUTH2);
  assert_int_equal(smtp__sasl_client_choose(SMTP_SASL_PLAIN, tok), 0);
  assert_int_equal(smtp__sasl_client_choose(SMTP_SASL_EXTERNAL, pw | tok), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256),
      cmocka_unit_test(test_hmac_sha256),
      cmocka_unit_test(test_pbkdf2),
      cmocka_unit_test(test_hmac_md5_cram),
      cmocka_unit_test(test_scram_rfc7677_vector),
      cmocka_unit_test(test_scram_failures),
      cmocka_unit_test(test_scram_saslname),
      cmocka_unit_test(test_choice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
