/* MD5 (RFC 1321), SHA-1, SHA-256 and SHA-512 (FIPS 180-4), HMAC (RFC 2104)
 * and PBKDF2 (RFC 8018 5.2), written here so that SASL works in every
 * build, with or without a TLS library. Plain C over the byte order of the
 * specifications; no allocation, no I/O. Speed matters only for PBKDF2's
 * iterations, where the keyed inner and outer states are prepared once and
 * copied per block. */
#include <string.h>

#include "hash.h"
#include "internal.h"

void smtp__wipe(void *p, size_t n) {
  volatile unsigned char *v = (volatile unsigned char *)p;
  while (n--) *v++ = 0;
}

int smtp__hash_available(void) { return 1; }

static uint32_t rol32(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }
static uint32_t ror32(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }
static uint64_t ror64(uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

static uint32_t be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint32_t le32(const unsigned char *p) {
  return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
static uint64_t be64(const unsigned char *p) {
  return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

/* ---------------------------------------------------------------- MD5 */

static void md5_block(uint32_t h[4], const unsigned char *p) {
  static const uint32_t K[64] = {
      0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
      0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
      0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
      0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
      0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
      0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
      0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
      0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
      0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
      0xeb86d391};
  static const unsigned char S[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                      5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                      4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                      6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
  uint32_t m[16], a = h[0], b = h[1], c = h[2], d = h[3];
  unsigned i;
  for (i = 0; i < 16; i++) m[i] = le32(p + 4 * i);
  for (i = 0; i < 64; i++) {
    uint32_t f, t;
    unsigned g;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    t = d;
    d = c;
    c = b;
    b = b + rol32(a + f + K[i] + m[g], S[i]);
    a = t;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
}

/* ---------------------------------------------------------------- SHA-1 */

static void sha1_block(uint32_t h[5], const unsigned char *p) {
  uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  unsigned i;
  for (i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
  for (i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  for (i = 0; i < 80; i++) {
    uint32_t f, k, t;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    t = rol32(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rol32(b, 30);
    b = a;
    a = t;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

/* ---------------------------------------------------------------- SHA-256 */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static void sha256_block(uint32_t h[8], const unsigned char *p) {
  uint32_t w[64], s[8];
  unsigned i;
  for (i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
  for (i = 16; i < 64; i++) {
    uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  memcpy(s, h, sizeof s);
  for (i = 0; i < 64; i++) {
    uint32_t S1 = ror32(s[4], 6) ^ ror32(s[4], 11) ^ ror32(s[4], 25);
    uint32_t ch = (s[4] & s[5]) ^ (~s[4] & s[6]);
    uint32_t t1 = s[7] + S1 + ch + K256[i] + w[i];
    uint32_t S0 = ror32(s[0], 2) ^ ror32(s[0], 13) ^ ror32(s[0], 22);
    uint32_t mj = (s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]);
    uint32_t t2 = S0 + mj;
    s[7] = s[6];
    s[6] = s[5];
    s[5] = s[4];
    s[4] = s[3] + t1;
    s[3] = s[2];
    s[2] = s[1];
    s[1] = s[0];
    s[0] = t1 + t2;
  }
  for (i = 0; i < 8; i++) h[i] += s[i];
}

/* ---------------------------------------------------------------- SHA-512 */

static const uint64_t K512[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL};

static void sha512_block(uint64_t h[8], const unsigned char *p) {
  uint64_t w[80], s[8];
  unsigned i;
  for (i = 0; i < 16; i++) w[i] = be64(p + 8 * i);
  for (i = 16; i < 80; i++) {
    uint64_t s0 = ror64(w[i - 15], 1) ^ ror64(w[i - 15], 8) ^ (w[i - 15] >> 7);
    uint64_t s1 = ror64(w[i - 2], 19) ^ ror64(w[i - 2], 61) ^ (w[i - 2] >> 6);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  memcpy(s, h, sizeof s);
  for (i = 0; i < 80; i++) {
    uint64_t S1 = ror64(s[4], 14) ^ ror64(s[4], 18) ^ ror64(s[4], 41);
    uint64_t ch = (s[4] & s[5]) ^ (~s[4] & s[6]);
    uint64_t t1 = s[7] + S1 + ch + K512[i] + w[i];
    uint64_t S0 = ror64(s[0], 28) ^ ror64(s[0], 34) ^ ror64(s[0], 39);
    uint64_t mj = (s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]);
    uint64_t t2 = S0 + mj;
    s[7] = s[6];
    s[6] = s[5];
    s[5] = s[4];
    s[4] = s[3] + t1;
    s[3] = s[2];
    s[2] = s[1];
    s[1] = s[0];
    s[0] = t1 + t2;
  }
  for (i = 0; i < 8; i++) h[i] += s[i];
}

/* ---------------------------------------------------------------- generic */

size_t smtp__hash_len(int alg) {
  switch (alg) {
  case SMTP__H_MD5: return 16;
  case SMTP__H_SHA1: return 20;
  case SMTP__H_SHA256: return 32;
  case SMTP__H_SHA512: return 64;
  default: return 0;
  }
}

static size_t block_len(int alg) { return alg == SMTP__H_SHA512 ? 128 : 64; }

void smtp__hash_init(smtp__hash_ctx *c, int alg) {
  memset(c, 0, sizeof *c);
  c->alg = alg;
  switch (alg) {
  case SMTP__H_MD5:
    c->h32[0] = 0x67452301;
    c->h32[1] = 0xefcdab89;
    c->h32[2] = 0x98badcfe;
    c->h32[3] = 0x10325476;
    break;
  case SMTP__H_SHA1:
    c->h32[0] = 0x67452301;
    c->h32[1] = 0xefcdab89;
    c->h32[2] = 0x98badcfe;
    c->h32[3] = 0x10325476;
    c->h32[4] = 0xc3d2e1f0;
    break;
  case SMTP__H_SHA256: {
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h32, iv, sizeof iv);
    break;
  }
  default: {
    static const uint64_t iv[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
                                   0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
                                   0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                                   0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
    c->alg = SMTP__H_SHA512;
    memcpy(c->h64, iv, sizeof iv);
    break;
  }
  }
}

static void run_block(smtp__hash_ctx *c, const unsigned char *p) {
  switch (c->alg) {
  case SMTP__H_MD5: md5_block(c->h32, p); break;
  case SMTP__H_SHA1: sha1_block(c->h32, p); break;
  case SMTP__H_SHA256: sha256_block(c->h32, p); break;
  default: sha512_block(c->h64, p); break;
  }
}

void smtp__hash_update(smtp__hash_ctx *c, const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  size_t bl = block_len(c->alg);
  c->total += len;
  if (c->fill) {
    size_t take = bl - c->fill < len ? bl - c->fill : len;
    memcpy(c->buf + c->fill, p, take);
    c->fill += take;
    p += take;
    len -= take;
    if (c->fill < bl) return;
    run_block(c, c->buf);
    c->fill = 0;
  }
  while (len >= bl) {
    run_block(c, p);
    p += bl;
    len -= bl;
  }
  if (len) {
    memcpy(c->buf, p, len);
    c->fill = len;
  }
}

void smtp__hash_final(smtp__hash_ctx *c, unsigned char *out) {
  size_t bl = block_len(c->alg), lenbytes = c->alg == SMTP__H_SHA512 ? 16 : 8, i;
  uint64_t bits = c->total * 8;
  unsigned char pad[128 + 16];
  size_t padlen = bl - ((c->fill + lenbytes) % bl);
  if (padlen == 0) padlen = bl;
  memset(pad, 0, sizeof pad);
  pad[0] = 0x80;
  if (c->alg == SMTP__H_MD5) {
    for (i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> (8 * i));
  } else {
    for (i = 0; i < 8; i++) pad[padlen + lenbytes - 1 - i] = (unsigned char)(bits >> (8 * i));
  }
  smtp__hash_update(c, pad, padlen + lenbytes);
  switch (c->alg) {
  case SMTP__H_MD5:
    for (i = 0; i < 16; i++) out[i] = (unsigned char)(c->h32[i / 4] >> (8 * (i % 4)));
    break;
  case SMTP__H_SHA1:
  case SMTP__H_SHA256:
    for (i = 0; i < smtp__hash_len(c->alg); i++)
      out[i] = (unsigned char)(c->h32[i / 4] >> (24 - 8 * (i % 4)));
    break;
  default:
    for (i = 0; i < 64; i++) out[i] = (unsigned char)(c->h64[i / 8] >> (56 - 8 * (i % 8)));
    break;
  }
  smtp__wipe(c, sizeof *c);
}

int smtp__hash(int alg, const void *data, size_t len, unsigned char *out) {
  smtp__hash_ctx c;
  if (!smtp__hash_len(alg)) return SMTP_ERR_INVALID_ARGUMENT;
  smtp__hash_init(&c, alg);
  smtp__hash_update(&c, data, len);
  smtp__hash_final(&c, out);
  return SMTP_OK;
}

/* HMAC (RFC 2104): the keyed inner and outer states, prepared once. */
typedef struct {
  smtp__hash_ctx inner, outer;
} hmac_key;

static void hmac_setup(hmac_key *h, int alg, const void *key, size_t keylen) {
  unsigned char k[128], pad[128];
  size_t bl = block_len(alg), i;
  memset(k, 0, sizeof k);
  if (keylen > bl) (void)smtp__hash(alg, key, keylen, k);
  else if (keylen) memcpy(k, key, keylen);
  for (i = 0; i < bl; i++) pad[i] = (unsigned char)(k[i] ^ 0x36);
  smtp__hash_init(&h->inner, alg);
  smtp__hash_update(&h->inner, pad, bl);
  for (i = 0; i < bl; i++) pad[i] = (unsigned char)(k[i] ^ 0x5c);
  smtp__hash_init(&h->outer, alg);
  smtp__hash_update(&h->outer, pad, bl);
  smtp__wipe(k, sizeof k);
  smtp__wipe(pad, sizeof pad);
}

static void hmac_run(const hmac_key *h, const void *d1, size_t l1, const void *d2, size_t l2,
                     unsigned char *out) {
  smtp__hash_ctx c = h->inner;
  unsigned char in[SMTP__HASH_MAX];
  smtp__hash_update(&c, d1, l1);
  if (l2) smtp__hash_update(&c, d2, l2);
  smtp__hash_final(&c, in);
  c = h->outer;
  smtp__hash_update(&c, in, smtp__hash_len(h->inner.alg));
  smtp__hash_final(&c, out);
  smtp__wipe(in, sizeof in);
}

int smtp__hmac(int alg, const void *key, size_t keylen, const void *data, size_t len,
               unsigned char *out) {
  hmac_key h;
  if (!smtp__hash_len(alg)) return SMTP_ERR_INVALID_ARGUMENT;
  hmac_setup(&h, alg, key, keylen);
  hmac_run(&h, data, len, NULL, 0, out);
  smtp__wipe(&h, sizeof h);
  return SMTP_OK;
}

int smtp__pbkdf2(int alg, const void *password, size_t plen, const void *salt, size_t slen,
                 uint32_t iterations, unsigned char *out) {
  hmac_key h;
  unsigned char u[SMTP__HASH_MAX];
  static const unsigned char block1[4] = {0, 0, 0, 1};
  size_t hl = smtp__hash_len(alg), j;
  uint32_t i;
  smtp__hash_ctx c;
  if (!hl) return SMTP_ERR_INVALID_ARGUMENT;
  if (iterations == 0) return SMTP_ERR_INVALID_ARGUMENT;
  hmac_setup(&h, alg, password, plen);
  /* U1 = PRF(P, S || INT(1)); Ui = PRF(P, Ui-1); T1 = U1 ^ ... ^ Uc */
  c = h.inner;
  smtp__hash_update(&c, salt, slen);
  smtp__hash_update(&c, block1, 4);
  smtp__hash_final(&c, u);
  c = h.outer;
  smtp__hash_update(&c, u, hl);
  smtp__hash_final(&c, u);
  memcpy(out, u, hl);
  for (i = 1; i < iterations; i++) {
    hmac_run(&h, u, hl, NULL, 0, u);
    for (j = 0; j < hl; j++) out[j] ^= u[j];
  }
  smtp__wipe(&h, sizeof h);
  smtp__wipe(u, sizeof u);
  return SMTP_OK;
}

/* ---------------------------------------------------------------- legacy names */

int smtp__sha256(const void *data, size_t len, unsigned char out[SMTP__SHA256_LEN]) {
  return smtp__hash(SMTP__H_SHA256, data, len, out);
}

int smtp__hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                      unsigned char out[SMTP__SHA256_LEN]) {
  return smtp__hmac(SMTP__H_SHA256, key, keylen, data, len, out);
}

int smtp__pbkdf2_sha256(const void *password, size_t plen, const void *salt, size_t slen,
                        uint32_t iterations, unsigned char out[SMTP__SHA256_LEN]) {
  return smtp__pbkdf2(SMTP__H_SHA256, password, plen, salt, slen, iterations, out);
}

int smtp__hmac_md5(const void *key, size_t keylen, const void *data, size_t len,
                   unsigned char out[SMTP__MD5_LEN]) {
  return smtp__hmac(SMTP__H_MD5, key, keylen, data, len, out);
}

/* ---------------------------------------------------------------- CRC32C */

/* CRC-32C (Castagnoli, RFC 3720 B.4; the PROXY protocol's PP2_TYPE_CRC32C):
 * reflected polynomial 0x82F63B78, one table lookup per octet. The table
 * is entry i = i run through 8 shift/xor steps of that polynomial. */
static const uint32_t crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
    0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
    0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
    0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
    0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
    0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
    0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
    0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
    0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
    0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
    0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
    0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
    0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
    0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
    0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
    0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
    0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
    0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
    0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
    0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
    0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
    0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
    0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
    0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
    0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
    0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
    0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
    0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
    0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
    0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u
};

uint32_t smtp__crc32c(uint32_t crc, const void *data, size_t len) {
  const unsigned char *p = data;
  uint32_t c = ~crc;
  size_t i;
  for (i = 0; i < len; i++) c = crc32c_table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
  return ~c;
}
