/* SCRAM (RFC 5802, RFC 7677) in both roles: the client against the RFC
 * 7677 section 3 and RFC 5802 section 5 test vectors and its failure cases,
 * the server's verifier against the same vectors from stored keys, the
 * SHA-512 and -PLUS forms end to end, stored-key records; and the hashes
 * under them: SHA-256 (FIPS 180-4 "abc"), HMAC-SHA-256 (RFC 4231 4.2, 4.3),
 * PBKDF2-HMAC-SHA-256 (RFC 7914 11), HMAC-MD5 (RFC 2202 2) and CRAM-MD5
 * (RFC 2195 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/ext.h>
#include <smtp/sasl.h>

#include "client_auth.h"
#include "hash.h"
#include "scram.h"
#include "support/hex.h"

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
  hex_encode(d, 32, x);
  assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_int_equal(smtp__sha256("", 0, d), 0);
  hex_encode(d, 32, x);
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
  hex_encode(d, 32, x);
  assert_string_equal(x, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  /* RFC 4231 4.3 test case 2 */
  assert_int_equal(smtp__hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d), 0);
  hex_encode(d, 32, x);
  assert_string_equal(x, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  /* RFC 4231 4.7 test case 6: a key longer than the block */
  memset(big, 0xaa, sizeof big);
  assert_int_equal(smtp__hmac_sha256(big, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
                                     54, d),
                   0);
  hex_encode(d, 32, x);
  assert_string_equal(x, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_pbkdf2(void **state) {
  (void)state;
  unsigned char d[32];
  char x[65];
  NEED_HASH();
  /* RFC 7914 11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1), first block */
  assert_int_equal(smtp__pbkdf2_sha256("passwd", 6, "salt", 4, 1, d), 0);
  hex_encode(d, 32, x);
  assert_string_equal(x, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
  /* RFC 7914 11: P="Password", S="NaCl", c=80000, first block */
  assert_int_equal(smtp__pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, d), 0);
  hex_encode(d, 32, x);
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
  smtp__sasl_creds cr = {NULL, 0, "tim", 3, "tanstaaftanstaaf", 16, NULL, 0, NULL, NULL, 0, 0};
  NEED_HASH();
  /* RFC 2202 2 test case 2 */
  assert_int_equal(smtp__hmac_md5("Jefe", 4, "what do ya want for nothing?", 28, d), 0);
  hex_encode(d, 16, x);
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
  smtp__sasl_creds cr = {NULL, 0, "user", 4, "pencil", 6, NULL, 0, NULL, NULL, 0, 0};
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
  smtp__sasl_creds cr = {NULL, 0, "user", 4, "pencil", 6, NULL, 0, NULL, NULL, 0, 0};
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
  smtp__sasl_creds cr = {"ad=m,in", 7, "u,s=er", 6, "p", 1, NULL, 0, NULL, NULL, 0, 0};
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


/* RFC 5802 5: SCRAM-SHA-1, user "user", password "pencil". */
static const char N1[] = "fyko+d2lbbFgONRv9qkxdawL";
static const char SFIRST1[] = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
static const char CFINAL1[] =
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
static const char SFINAL1[] = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";

static void test_scram_rfc5802_vector(void **state) {
  (void)state;
  smtp__sasl_client s;
  smtp__sasl_creds cr = {NULL, 0, "user", 4, "pencil", 6, NULL, 0, NULL, NULL, 0, 0};
  char out[512];
  size_t n;
  int ir;
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_SCRAM_SHA_1, &cr, N1, sizeof N1 - 1, out,
                                           sizeof out, &n, &ir),
                   0);
  assert_int_equal(n, strlen("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
  assert_memory_equal(out, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", n);
  assert_int_equal(smtp__sasl_client_step(&s, &cr, SFIRST1, sizeof SFIRST1 - 1, out, sizeof out, &n), 0);
  assert_int_equal(n, sizeof CFINAL1 - 1);
  assert_memory_equal(out, CFINAL1, n);
  assert_int_equal(smtp__sasl_client_step(&s, &cr, SFINAL1, sizeof SFINAL1 - 1, out, sizeof out, &n), 0);
  assert_true(smtp__sasl_client_success_ok(&s));
}

/* The server's verifier from stored keys reproduces both RFC exchanges. */
static void server_vector(unsigned int mech, const char *cfirst, const char *salt_b64,
                          const char *snonce, const char *sfirst, const char *cfinal,
                          const char *sfinal) {
  smtp__scram_srv st;
  smtp__scram_cfirst cf;
  unsigned char salt[32];
  char out[512];
  size_t n;
  smtp_ssize sl = smtp_base64_decode(salt_b64, strlen(salt_b64), salt, sizeof salt);
  assert_true(sl > 0);
  assert_int_equal(smtp__scram_srv_client_first(&st, mech, cfirst, strlen(cfirst), &cf), 0);
  assert_int_equal(cf.flag, 'n');
  assert_int_equal(st.user_len, 4);
  assert_memory_equal(st.user, "user", 4);
  assert_int_equal(smtp_scram_make_record(mech, "pencil", salt, (size_t)sl, 4096, &st.rec), 0);
  assert_int_equal(smtp__scram_srv_server_first(&st, snonce, strlen(snonce), out, sizeof out, &n), 0);
  assert_int_equal(n, strlen(sfirst));
  assert_memory_equal(out, sfirst, n);
  assert_int_equal(smtp__scram_srv_client_final(&st, cfinal, strlen(cfinal), NULL, 0, out, sizeof out, &n), 0);
  assert_int_equal(n, strlen(sfinal));
  assert_memory_equal(out, sfinal, n);
}

static void test_scram_server_vectors(void **state) {
  (void)state;
  server_vector(SMTP_SASL_SCRAM_SHA_256, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "W22ZaJ0SNY7soEsUEjb6gQ==",
                "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", SFIRST, CFINAL, SFINAL);
  server_vector(SMTP_SASL_SCRAM_SHA_1, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", "QSXCR+Q6sek8bf92",
                "3rfcNHYJY1ZVvWVs7j", SFIRST1, CFINAL1, SFINAL1);
}

/* Client against server core, every family, with and without channel binding. */
static int run_pair(unsigned int mech, const char *cbname, const unsigned char *ccb, size_t ccblen,
                    const unsigned char *scb, size_t scblen, const char *pass, char *flag) {
  smtp__sasl_client c;
  smtp__sasl_creds cr = {NULL, 0, "us,er", 5, pass, strlen(pass), NULL, 0, cbname, ccb, ccblen, 0};
  smtp__scram_srv st;
  smtp__scram_cfirst cf;
  char m1[1024], m2[1024];
  size_t n1, n2;
  int ir;
  assert_int_equal(smtp__sasl_client_start(&c, mech, &cr, "cNonce123", 9, m1, sizeof m1, &n1, &ir), 0);
  if (smtp__scram_srv_client_first(&st, mech, m1, n1, &cf) != 0) return -1;
  *flag = cf.flag;
  assert_int_equal(st.user_len, 5);
  assert_memory_equal(st.user, "us,er", 5);
  assert_int_equal(smtp_scram_make_record(mech, "secret", "saltsaltsalt", 12, 4096, &st.rec), 0);
  assert_int_equal(smtp__scram_srv_server_first(&st, "sNonce456", 9, m2, sizeof m2, &n2), 0);
  if (smtp__sasl_client_step(&c, &cr, m2, n2, m1, sizeof m1, &n1) != 0) return -2;
  if (smtp__scram_srv_client_final(&st, m1, n1, scb, scblen, m2, sizeof m2, &n2) != 0) return -3;
  if (smtp__sasl_client_step(&c, &cr, m2, n2, m1, sizeof m1, &n1) != 0) return -4;
  assert_int_equal(n1, 0);
  return smtp__sasl_client_success_ok(&c) ? 0 : -5;
}

static void test_scram_pairs(void **state) {
  (void)state;
  static const unsigned int base[] = {SMTP_SASL_SCRAM_SHA_1, SMTP_SASL_SCRAM_SHA_256, SMTP_SASL_SCRAM_SHA_512};
  static const unsigned char cb[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  unsigned char other[32];
  char flag;
  memcpy(other, cb, sizeof cb);
  other[31] ^= 1;
  for (size_t i = 0; i < 3; i++) {
    unsigned int plus = smtp__scram_plus_of(base[i]);
    /* no channel binding: "n" */
    assert_int_equal(run_pair(base[i], NULL, NULL, 0, NULL, 0, "secret", &flag), 0);
    assert_int_equal(flag, 'n');
    /* wrong password: the proof fails */
    assert_int_equal(run_pair(base[i], NULL, NULL, 0, NULL, 0, "secreT", &flag), -3);
    /* client has channel binding, the mechanism is not -PLUS: "y" */
    assert_int_equal(run_pair(base[i], "tls-exporter", cb, 32, NULL, 0, "secret", &flag), 0);
    assert_int_equal(flag, 'y');
    /* -PLUS: "p=tls-exporter", the data travel in c= and must match */
    assert_int_equal(run_pair(plus, "tls-exporter", cb, 32, cb, 32, "secret", &flag), 0);
    assert_int_equal(flag, 'p');
    assert_int_equal(run_pair(plus, "tls-exporter", cb, 32, other, 32, "secret", &flag), -3);
    assert_int_equal(run_pair(plus, "tls-exporter", cb, 32, NULL, 0, "secret", &flag), -3);
  }
}

static void test_scram_client_limits(void **state) {
  (void)state;
  smtp__sasl_client s;
  smtp__sasl_creds cr = {NULL, 0, "user", 4, "pencil", 6, NULL, 0, NULL, NULL, 0, 0};
  char out[512];
  size_t n;
  int ir;
  static const char big[] = "r=abcdefXYZ,s=QSXCR+Q6sek8bf92,i=100001";
  static const char ok[] = "r=abcdefXYZ,s=QSXCR+Q6sek8bf92,i=100000";
  /* default upper bound 100,000 iterations */
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_SCRAM_SHA_1, &cr, "abcdef", 6, out, sizeof out, &n, &ir), 0);
  assert_int_equal(smtp__sasl_client_step(&s, &cr, big, sizeof big - 1, out, sizeof out, &n), 1);
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_SCRAM_SHA_1, &cr, "abcdef", 6, out, sizeof out, &n, &ir), 0);
  assert_int_equal(smtp__sasl_client_step(&s, &cr, ok, sizeof ok - 1, out, sizeof out, &n), 0);
  /* configurable */
  cr.max_iter = 200000;
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_SCRAM_SHA_1, &cr, "abcdef", 6, out, sizeof out, &n, &ir), 0);
  assert_int_equal(smtp__sasl_client_step(&s, &cr, big, sizeof big - 1, out, sizeof out, &n), 0);
  /* -PLUS without channel-binding data cannot start */
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_SCRAM_SHA_256_PLUS, &cr, "abcdef", 6, out, sizeof out, &n, &ir),
                   SMTP_ERR_UNSUPPORTED);
  /* attributes out of order, trailing comma, reserved m= first */
  static const char *const bad[] = {
      "s=QSXCR+Q6sek8bf92,r=abcdefXYZ,i=4096", "r=abcdefXYZ,s=QSXCR+Q6sek8bf92,i=4096,",
      "r=abcdefXYZ,s=QSXCR+Q6sek8bf92,i=4096,m=x", "r=abcdefXYZ,s=,i=4096", "r=abc,s=QSXCR+Q6sek8bf92,i=4096",
      "r=abcdef,s=QSXCR+Q6sek8bf92,i=4096" /* nonce reused unchanged */,
      "r=abcdefX Z,s=QSXCR+Q6sek8bf92,i=4096", "r=abcdefXYZ,s=QSXCR+Q6sek8bf92",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_SCRAM_SHA_1, &cr, "abcdef", 6, out, sizeof out, &n, &ir), 0);
    assert_int_equal(smtp__sasl_client_step(&s, &cr, bad[i], strlen(bad[i]), out, sizeof out, &n), 1);
  }
}

/* The server's parser refuses malformed client messages at each step. */
static void test_scram_server_bad(void **state) {
  (void)state;
  smtp__scram_srv st;
  smtp__scram_cfirst cf;
  char out[512];
  size_t n;
  static const char *const bad_first[] = {
      "", "x,,n=user,r=abc", "n,n=user,r=abc", "n,,r=abc,n=user", "n,,n=user", "n,,n=us=3Xr,r=abc",
      "n,,n=,r=abc", "n,,n=user,r=", "n,,n=user,r=a b", "n,,m=ext,n=user,r=abc", "n,,n=user,r=abc,",
      "p=tls exporter,,n=user,r=abc", "p=,,n=user,r=abc", "n,a=,n=user,r=abc", "n,,n=user,r=abc,m=1",
  };
  for (size_t i = 0; i < sizeof bad_first / sizeof bad_first[0]; i++)
    assert_int_equal(smtp__scram_srv_client_first(&st, SMTP_SASL_SCRAM_SHA_256, bad_first[i],
                                                  strlen(bad_first[i]), &cf),
                     -1);
  /* a good first, then bad finals */
  static const char *const bad_final[] = {
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
      "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      "c=b!ws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
      "c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  };
  unsigned char salt[16];
  smtp_ssize sl = smtp_base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof salt);
  for (size_t i = 0; i < sizeof bad_final / sizeof bad_final[0]; i++) {
    assert_int_equal(smtp__scram_srv_client_first(&st, SMTP_SASL_SCRAM_SHA_256, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", 32, &cf), 0);
    assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_256, "pencil", salt, (size_t)sl, 4096, &st.rec), 0);
    assert_int_equal(smtp__scram_srv_server_first(&st, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", 30, out, sizeof out, &n), 0);
    assert_int_equal(smtp__scram_srv_client_final(&st, bad_final[i], strlen(bad_final[i]), NULL, 0, out, sizeof out, &n), -1);
  }
  /* an unknown user's fake exchange fails even with the right proof */
  assert_int_equal(smtp__scram_srv_client_first(&st, SMTP_SASL_SCRAM_SHA_256, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", 32, &cf), 0);
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_256, "pencil", salt, (size_t)sl, 4096, &st.rec), 0);
  st.fake = 1;
  assert_int_equal(smtp__scram_srv_server_first(&st, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", 30, out, sizeof out, &n), 0);
  assert_int_equal(smtp__scram_srv_client_final(&st, CFINAL, sizeof CFINAL - 1, NULL, 0, out, sizeof out, &n), -1);
}

static void test_scram_records(void **state) {
  (void)state;
  smtp_scram_record r, back;
  smtp_span user;
  char line[512];
  smtp_ssize n;
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_256_PLUS, "pencil", "\x5b\x6d\x99\x68\x9d\x12\x35\x8e\xec\xa0\x4b\x14\x12\x36\xfa\x81", 16, 4096, &r), 0);
  assert_int_equal(r.mech, SMTP_SASL_SCRAM_SHA_256);
  n = smtp_scram_record_format("user", &r, line, sizeof line);
  assert_true(n > 0);
  /* RFC 7677 3's salt; the keys follow from "pencil" */
  assert_true(strncmp(line, "user:SCRAM-SHA-256:4096:W22ZaJ0SNY7soEsUEjb6gQ==:", 49) == 0);
  assert_int_equal(smtp_scram_record_parse(line, (size_t)n, &user, &back), 0);
  assert_int_equal(user.len, 4);
  assert_int_equal(back.mech, SMTP_SASL_SCRAM_SHA_256);
  assert_int_equal(back.iterations, 4096);
  assert_int_equal(back.salt_len, 16);
  assert_memory_equal(back.stored_key, r.stored_key, 32);
  assert_memory_equal(back.server_key, r.server_key, 32);
  assert_int_equal(smtp_scram_record_format("user", &r, line, 20), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_scram_record_format("us:er", &r, line, sizeof line), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_PLAIN, "p", "s", 1, 1, &r), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_1, "p", "s", 1, 0, &r), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_scram_make_record(SMTP_SASL_SCRAM_SHA_1, "", "s", 1, 1, &r), SMTP_ERR_INVALID_ARGUMENT);
  static const char *const bad[] = {
      "user:SCRAM-SHA-256:4096:W22ZaJ0SNY7soEsUEjb6gQ==:AAAA:AAAA",
      "user:PLAIN:4096:W22ZaJ0SNY7soEsUEjb6gQ==:AAAA:AAAA",
      "user:SCRAM-SHA-256:x:W22ZaJ0SNY7soEsUEjb6gQ==:AAAA:AAAA",
      "user:SCRAM-SHA-256:0:W22ZaJ0SNY7soEsUEjb6gQ==:AAAA:AAAA",
      ":SCRAM-SHA-256:4096:W22ZaJ0SNY7soEsUEjb6gQ==:AAAA:AAAA",
      "user:SCRAM-SHA-256:4096:W22ZaJ0SNY7soEsUEjb6gQ==:AAAA",
      "user:pass",
      "us\ter:SCRAM-SHA-1:4096:W22ZaJ0SNY7soEsUEjb6gQ==:AAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_true(smtp_scram_record_parse(bad[i], strlen(bad[i]), &user, &back) < 0);
  assert_int_equal(smtp_scram_key_len(SMTP_SASL_SCRAM_SHA_512_PLUS), 64);
  assert_int_equal(smtp_scram_key_len(SMTP_SASL_SCRAM_SHA_1), 20);
  assert_int_equal(smtp_scram_key_len(SMTP_SASL_PLAIN), 0);
}

/* EXTERNAL (RFC 4422 A.1): the initial response is the authzid. */
static void test_external(void **state) {
  (void)state;
  smtp__sasl_client s;
  smtp__sasl_creds cr = {"admin", 5, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, 0, 0};
  char out[64];
  size_t n;
  int ir;
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_EXTERNAL, &cr, NULL, 0, out, sizeof out, &n, &ir), 0);
  assert_int_equal(ir, 1);
  assert_int_equal(n, 5);
  assert_memory_equal(out, "admin", 5);
  cr.authzid_len = 0;
  assert_int_equal(smtp__sasl_client_start(&s, SMTP_SASL_EXTERNAL, &cr, NULL, 0, out, sizeof out, &n, &ir), 0);
  assert_int_equal(ir, 1);
  assert_int_equal(n, 0);
  assert_int_equal(smtp__sasl_client_step(&s, &cr, "", 0, out, sizeof out, &n), 1);
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
      cmocka_unit_test(test_scram_rfc5802_vector),
      cmocka_unit_test(test_scram_server_vectors),
      cmocka_unit_test(test_scram_pairs),
      cmocka_unit_test(test_scram_client_limits),
      cmocka_unit_test(test_scram_server_bad),
      cmocka_unit_test(test_scram_records),
      cmocka_unit_test(test_external),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
