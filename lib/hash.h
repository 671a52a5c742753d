/* Internal hashes for the SASL client mechanisms: SHA-256, HMAC-SHA-256,
 * PBKDF2-HMAC-SHA-256 (SCRAM-SHA-256, RFC 7677 / RFC 5802) and HMAC-MD5
 * (CRAM-MD5, RFC 2195). They come from mbedTLS when the library is built with
 * TLS (SMTP_HAVE_TLS); otherwise smtp__hash_available() is 0 and every
 * function returns SMTP_ERR_UNSUPPORTED. No allocation: the raw mbedTLS
 * digest contexts live on the stack. Not installed. */
#ifndef SMTP_HASH_H
#define SMTP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SMTP__SHA256_LEN 32
#define SMTP__MD5_LEN 16

/* 1 when SHA-256/HMAC/PBKDF2/MD5 are compiled in. */
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

#endif
