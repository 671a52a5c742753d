/* SHA-256, HMAC (RFC 2104), PBKDF2 (RFC 8018 5.2) and HMAC-MD5 over the
 * mbedTLS digest primitives. HMAC and PBKDF2 are composed here on the raw
 * digest contexts, so nothing is allocated (mbedtls_md_setup() would
 * allocate behind the smtp_mem hook's back). The 2.28 and 3.x function
 * names differ ("_ret" suffix); the switch is in the macros below. */
#include <string.h>

#include "hash.h"
#include "internal.h"

void smtp__wipe(void *p, size_t n) {
  volatile unsigned char *v = (volatile unsigned char *)p;
  while (n--) *v++ = 0;
}

#if defined(SMTP_HAVE_TLS) && !defined(SMTP_HAVE_MBEDTLS)
/* OpenSSL only: the same primitives through its SHA-256 and MD5 contexts
 * (plain structures, nothing allocated). They are marked deprecated from
 * OpenSSL 3.0 on, so the 1.1.1 API level is asked for. */
#define OPENSSL_API_COMPAT 10101
#include <openssl/md5.h>
#include <openssl/sha.h>
typedef SHA256_CTX mbedtls_sha256_context;
typedef MD5_CTX mbedtls_md5_context;
#define mbedtls_sha256_init(c) memset((c), 0, sizeof *(c))
#define mbedtls_sha256_free(c) smtp__wipe((c), sizeof *(c))
#define mbedtls_sha256_clone(d, s) (*(d) = *(s))
#define mbedtls_md5_init(c) memset((c), 0, sizeof *(c))
#define mbedtls_md5_free(c) smtp__wipe((c), sizeof *(c))
#define SHA256_STARTS(c) (SHA256_Init(c) == 1 ? 0 : -1)
#define SHA256_UPDATE(c, d, n) (SHA256_Update((c), (d), (n)) == 1 ? 0 : -1)
#define SHA256_FINISH(c, o) (SHA256_Final((o), (c)) == 1 ? 0 : -1)
#define MD5_STARTS(c) (MD5_Init(c) == 1 ? 0 : -1)
#define MD5_UPDATE(c, d, n) (MD5_Update((c), (d), (n)) == 1 ? 0 : -1)
#define MD5_FINISH(c, o) (MD5_Final((o), (c)) == 1 ? 0 : -1)
#define SMTP__HASH_IMPL 1
#elif defined(SMTP_HAVE_TLS)
#include <mbedtls/md5.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#define SMTP__HASH_IMPL 1

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define SHA256_STARTS(c) mbedtls_sha256_starts((c), 0)
#define SHA256_UPDATE(c, d, n) mbedtls_sha256_update((c), (d), (n))
#define SHA256_FINISH(c, o) mbedtls_sha256_finish((c), (o))
#define MD5_STARTS(c) mbedtls_md5_starts(c)
#define MD5_UPDATE(c, d, n) mbedtls_md5_update((c), (d), (n))
#define MD5_FINISH(c, o) mbedtls_md5_finish((c), (o))
#else
#define SHA256_STARTS(c) mbedtls_sha256_starts_ret((c), 0)
#define SHA256_UPDATE(c, d, n) mbedtls_sha256_update_ret((c), (d), (n))
#define SHA256_FINISH(c, o) mbedtls_sha256_finish_ret((c), (o))
#define MD5_STARTS(c) mbedtls_md5_starts_ret(c)
#define MD5_UPDATE(c, d, n) mbedtls_md5_update_ret((c), (d), (n))
#define MD5_FINISH(c, o) mbedtls_md5_finish_ret((c), (o))
#endif
#endif /* the primitives of one TLS library */

#if defined(SMTP_HAVE_TLS)

int smtp__hash_available(void) { return 1; }

int smtp__sha256(const void *data, size_t len, unsigned char out[SMTP__SHA256_LEN]) {
  mbedtls_sha256_context ctx;
  int rc;
  mbedtls_sha256_init(&ctx);
  rc = SHA256_STARTS(&ctx);
  if (rc == 0) rc = SHA256_UPDATE(&ctx, (const unsigned char *)data, len);
  if (rc == 0) rc = SHA256_FINISH(&ctx, out);
  mbedtls_sha256_free(&ctx);
  return rc == 0 ? SMTP_OK : SMTP_ERR_UNSUPPORTED;
}

/* HMAC with a 64-octet block (both SHA-256 and MD5). The inner and outer
 * keyed states are prepared once and copied for every message, which is
 * what makes PBKDF2's thousands of iterations cheap. */
typedef struct {
  mbedtls_sha256_context inner, outer;
} hmac256;

static int hmac256_init(hmac256 *h, const void *key, size_t keylen) {
  unsigned char k[64], pad[64];
  size_t i;
  int rc = 0;
  memset(k, 0, sizeof k);
  if (keylen > 64) {
    rc = smtp__sha256(key, keylen, k);
    if (rc != 0) return rc;
  } else if (keylen) {
    memcpy(k, key, keylen);
  }
  mbedtls_sha256_init(&h->inner);
  mbedtls_sha256_init(&h->outer);
  for (i = 0; i < 64; i++) pad[i] = (unsigned char)(k[i] ^ 0x36);
  if (SHA256_STARTS(&h->inner) != 0 || SHA256_UPDATE(&h->inner, pad, 64) != 0) rc = -1;
  for (i = 0; i < 64; i++) pad[i] = (unsigned char)(k[i] ^ 0x5c);
  if (SHA256_STARTS(&h->outer) != 0 || SHA256_UPDATE(&h->outer, pad, 64) != 0) rc = -1;
  smtp__wipe(k, sizeof k);
  smtp__wipe(pad, sizeof pad);
  return rc == 0 ? SMTP_OK : SMTP_ERR_UNSUPPORTED;
}

static int hmac256_run(const hmac256 *h, const void *data, size_t len,
                       unsigned char out[SMTP__SHA256_LEN]) {
  mbedtls_sha256_context ctx;
  unsigned char inner[SMTP__SHA256_LEN];
  int rc = 0;
  mbedtls_sha256_init(&ctx);
  mbedtls_sha256_clone(&ctx, &h->inner);
  if (SHA256_UPDATE(&ctx, (const unsigned char *)data, len) != 0 ||
      SHA256_FINISH(&ctx, inner) != 0)
    rc = -1;
  mbedtls_sha256_clone(&ctx, &h->outer);
  if (rc == 0 && (SHA256_UPDATE(&ctx, inner, sizeof inner) != 0 || SHA256_FINISH(&ctx, out) != 0))
    rc = -1;
  mbedtls_sha256_free(&ctx);
  smtp__wipe(inner, sizeof inner);
  return rc == 0 ? SMTP_OK : SMTP_ERR_UNSUPPORTED;
}

static void hmac256_free(hmac256 *h) {
  mbedtls_sha256_free(&h->inner);
  mbedtls_sha256_free(&h->outer);
}

int smtp__hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                      unsigned char out[SMTP__SHA256_LEN]) {
  hmac256 h;
  int rc = hmac256_init(&h, key, keylen);
  if (rc == SMTP_OK) rc = hmac256_run(&h, data, len, out);
  hmac256_free(&h);
  return rc;
}

int smtp__pbkdf2_sha256(const void *password, size_t plen, const void *salt, size_t slen,
                        uint32_t iterations, unsigned char out[SMTP__SHA256_LEN]) {
  hmac256 h;
  unsigned char u[SMTP__SHA256_LEN];
  mbedtls_sha256_context ctx;
  static const unsigned char block1[4] = {0, 0, 0, 1};
  uint32_t i;
  size_t j;
  int rc;
  if (iterations == 0) return SMTP_ERR_INVALID_ARGUMENT;
  rc = hmac256_init(&h, password, plen);
  if (rc != SMTP_OK) {
    hmac256_free(&h);
    return rc;
  }
  /* U1 = HMAC(P, S || INT(1)) */
  mbedtls_sha256_init(&ctx);
  mbedtls_sha256_clone(&ctx, &h.inner);
  if (SHA256_UPDATE(&ctx, (const unsigned char *)salt, slen) != 0 ||
      SHA256_UPDATE(&ctx, block1, 4) != 0 || SHA256_FINISH(&ctx, u) != 0)
    rc = SMTP_ERR_UNSUPPORTED;
  mbedtls_sha256_clone(&ctx, &h.outer);
  if (rc == SMTP_OK &&
      (SHA256_UPDATE(&ctx, u, sizeof u) != 0 || SHA256_FINISH(&ctx, u) != 0))
    rc = SMTP_ERR_UNSUPPORTED;
  mbedtls_sha256_free(&ctx);
  memcpy(out, u, sizeof u);
  for (i = 1; rc == SMTP_OK && i < iterations; i++) {
    rc = hmac256_run(&h, u, sizeof u, u);
    for (j = 0; j < sizeof u; j++) out[j] ^= u[j];
  }
  hmac256_free(&h);
  smtp__wipe(u, sizeof u);
  return rc;
}

int smtp__hmac_md5(const void *key, size_t keylen, const void *data, size_t len,
                   unsigned char out[SMTP__MD5_LEN]) {
#if defined(MBEDTLS_MD5_C) || !defined(SMTP_HAVE_MBEDTLS)
  unsigned char k[64], pad[64], inner[SMTP__MD5_LEN];
  mbedtls_md5_context ctx;
  size_t i;
  int rc = 0;
  memset(k, 0, sizeof k);
  mbedtls_md5_init(&ctx);
  if (keylen > 64) {
    if (MD5_STARTS(&ctx) != 0 || MD5_UPDATE(&ctx, (const unsigned char *)key, keylen) != 0 ||
        MD5_FINISH(&ctx, k) != 0)
      rc = -1;
  } else if (keylen) {
    memcpy(k, key, keylen);
  }
  for (i = 0; i < 64; i++) pad[i] = (unsigned char)(k[i] ^ 0x36);
  if (rc == 0 && (MD5_STARTS(&ctx) != 0 || MD5_UPDATE(&ctx, pad, 64) != 0 ||
                  MD5_UPDATE(&ctx, (const unsigned char *)data, len) != 0 ||
                  MD5_FINISH(&ctx, inner) != 0))
    rc = -1;
  for (i = 0; i < 64; i++) pad[i] = (unsigned char)(k[i] ^ 0x5c);
  if (rc == 0 && (MD5_STARTS(&ctx) != 0 || MD5_UPDATE(&ctx, pad, 64) != 0 ||
                  MD5_UPDATE(&ctx, inner, sizeof inner) != 0 || MD5_FINISH(&ctx, out) != 0))
    rc = -1;
  mbedtls_md5_free(&ctx);
  smtp__wipe(k, sizeof k);
  smtp__wipe(pad, sizeof pad);
  smtp__wipe(inner, sizeof inner);
  return rc == 0 ? SMTP_OK : SMTP_ERR_UNSUPPORTED;
#else
  (void)key; (void)keylen; (void)data; (void)len; (void)out;
  return SMTP_ERR_UNSUPPORTED;
#endif
}

#else /* !SMTP_HAVE_TLS */

int smtp__hash_available(void) { return 0; }
int smtp__sha256(const void *data, size_t len, unsigned char out[SMTP__SHA256_LEN]) {
  (void)data; (void)len; (void)out;
  return SMTP_ERR_UNSUPPORTED;
}
int smtp__hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                      unsigned char out[SMTP__SHA256_LEN]) {
  (void)key; (void)keylen; (void)data; (void)len; (void)out;
  return SMTP_ERR_UNSUPPORTED;
}
int smtp__pbkdf2_sha256(const void *password, size_t plen, const void *salt, size_t slen,
                        uint32_t iterations, unsigned char out[SMTP__SHA256_LEN]) {
  (void)password; (void)plen; (void)salt; (void)slen; (void)iterations; (void)out;
  return SMTP_ERR_UNSUPPORTED;
}
int smtp__hmac_md5(const void *key, size_t keylen, const void *data, size_t len,
                   unsigned char out[SMTP__MD5_LEN]) {
  (void)key; (void)keylen; (void)data; (void)len; (void)out;
  return SMTP_ERR_UNSUPPORTED;
}
#endif
