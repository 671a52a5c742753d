/* Internal hashes for the SASL mechanisms: MD5 (RFC 1321), SHA-1, SHA-256,
 * SHA-512 (FIPS 180-4), HMAC (RFC 2104) and PBKDF2 (RFC 8018 5.2) over any
 * of them: SCRAM (RFC 5802, RFC 7677) and CRAM-MD5 (RFC 2195). Written in
 * lib/hash.c, so present in every build. No allocation. Not installed. */
#ifndef SMTP_HASH_H
#define SMTP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SMTP__SHA256_LEN 32
#define SMTP__MD5_LEN 16
#define SMTP__HASH_MAX 64

/* Algorithms. */
enum { SMTP__H_MD5 = 1, SMTP__H_SHA1 = 2, SMTP__H_SHA256 = 3, SMTP__H_SHA512 = 4 };

/* Incremental state (any algorithm). */
typedef struct smtp__hash_ctx {
  int alg;
  uint32_t h32[8];
  uint64_t h64[8];
  uint64_t total;
  size_t fill;
  unsigned char buf[128];
} smtp__hash_ctx;

/* Digest length of @p alg, 0 for an unknown one. */
size_t smtp__hash_len(int alg);
void smtp__hash_init(smtp__hash_ctx *c, int alg);
void smtp__hash_update(smtp__hash_ctx *c, const void *data, size_t len);
/* Writes smtp__hash_len() octets and wipes the state. */
void smtp__hash_final(smtp__hash_ctx *c, unsigned char *out);
/* One-shot digest, HMAC and PBKDF2's first block (dkLen = hLen), each
 * writing smtp__hash_len(alg) octets; SMTP_ERR_INVALID_ARGUMENT for an
 * unknown algorithm or 0 iterations. */
int smtp__hash(int alg, const void *data, size_t len, unsigned char *out);
int smtp__hmac(int alg, const void *key, size_t keylen, const void *data, size_t len,
               unsigned char *out);
int smtp__pbkdf2(int alg, const void *password, size_t plen, const void *salt, size_t slen,
                 uint32_t iterations, unsigned char *out);

/* 1: the hashes are always compiled in (kept for callers that asked). */
int smtp__hash_available(void);

/* out = SHA-256(data). */
int smtp__sha256(const void *data, size_t len, unsigned char out[SMTP__SHA256_LEN]);

/* out = HMAC-SHA-256(key, data) (RFC 2104). */
int smtp__hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                      unsigned char out[SMTP__SHA256_LEN]);

/* out = PBKDF2-HMAC-SHA-256(password, salt, iterations), one block of 32
 * octets: SCRAM's Hi() (RFC 5802 2.2). iterations >= 1. */
int smtp__pbkdf2_sha256(const void *password, size_t plen, const void *salt, size_t slen,
                        uint32_t iterations, unsigned char out[SMTP__SHA256_LEN]);

/* out = HMAC-MD5(key, data) (RFC 2104, used by CRAM-MD5). */
int smtp__hmac_md5(const void *key, size_t keylen, const void *data, size_t len,
                   unsigned char out[SMTP__MD5_LEN]);

/* Overwrite secrets in a way the compiler does not drop. */
void smtp__wipe(void *p, size_t n);
/* CRC-32C of data, continuing from crc (0 to start): crc = smtp__crc32c(crc, more, n). */
uint32_t smtp__crc32c(uint32_t crc, const void *data, size_t len);

#endif
