/* SCRAM (RFC 5802, RFC 7677) pieces shared by the client (client_auth.c)
 * and the server (server_auth.c): the family table, the attribute parser,
 * the key derivation and the server's verifier. No allocation, no I/O, no
 * randomness (nonces are given). Not installed. */
#ifndef SMTP_SCRAM_H
#define SMTP_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include <smtp/ext.h>
#include <smtp/sasl.h>

#include "hash.h"

#define SMTP__SASL_SCRAM_BASE \
  (SMTP_SASL_SCRAM_SHA_1 | SMTP_SASL_SCRAM_SHA_256 | SMTP_SASL_SCRAM_SHA_512)
#define SMTP__SASL_SCRAM_PLUS \
  (SMTP_SASL_SCRAM_SHA_1_PLUS | SMTP_SASL_SCRAM_SHA_256_PLUS | SMTP_SASL_SCRAM_SHA_512_PLUS)
#define SMTP__SASL_SCRAM_ALL (SMTP__SASL_SCRAM_BASE | SMTP__SASL_SCRAM_PLUS)

/* Sizes. A SCRAM message over SMTP__SCRAM_MSG_MAX octets is refused in
 * either role; the AuthMessage is the concatenation of three of them. */
#define SMTP__SCRAM_MSG_MAX 1024
#define SMTP__SCRAM_NONCE_MAX 128
#define SMTP__SCRAM_GS2_MAX 320
#define SMTP__SCRAM_AUTHMSG_MAX (3 * SMTP__SCRAM_MSG_MAX)
#define SMTP__SCRAM_CB_MAX 128    /* channel-binding data octets */
#define SMTP__SCRAM_CBNAME_MAX 32 /* channel-binding type name */

/* Room for a password or user name after SASLprep (RFC 4013): the
 * normalization can make it longer than its 255 octets. */
#define SMTP__SCRAM_PASS_MAX 1024

/* SASLprep (smtp_sasl_saslprep()) for SCRAM: 0 with the prepared string
 * in out (*outlen octets, not empty), or SMTP_ERR_SASLPREP when the
 * preparation fails, gives an empty string or does not fit (RFC 5802 5.1:
 * abort the exchange). */
int smtp__scram_prep(const char *in, size_t len, unsigned int flags, char *out, size_t cap,
                     size_t *outlen);

/* Hash algorithm of a SCRAM mechanism (-PLUS or not), 0 when not SCRAM. */
int smtp__scram_alg(unsigned int mech);
/* The family (non-PLUS) bit of a SCRAM mechanism, 0 when not SCRAM. */
unsigned int smtp__scram_family(unsigned int mech);
/* The -PLUS bit of a family. */
unsigned int smtp__scram_plus_of(unsigned int mech);
/* 1 for the -PLUS mechanisms. */
int smtp__scram_is_plus(unsigned int mech);

/* A valid channel-binding type name (RFC 5056 7: 1*(ALPHA / DIGIT / "." / "-"),
 * at most SMTP__SCRAM_CBNAME_MAX - 1 octets). */
int smtp__scram_cbname_ok(const char *name, size_t len);

/* Next "a=value" attribute of a comma-separated message from *pos; 0 at the
 * end, 1 with the attribute, -1 on a malformed one. */
int smtp__scram_attr(const char *m, size_t len, size_t *pos, char *name, const char **val,
                     size_t *vlen);

/* printable = %x21-2B / %x2D-7E (RFC 5802 7), non-empty. */
int smtp__scram_printable(const char *p, size_t n);

/* Decode a saslname ("=2C" -> ",", "=3D" -> "="; any other "=" or a NUL is
 * an error) into out (cap octets). Returns the length or -1. */
int smtp__scram_saslname_decode(const char *in, size_t len, char *out, size_t cap);

/* Client proof and expected server signature from the password (RFC 5802 3).
 * proof and server_sig get smtp__hash_len(alg) octets. */
int smtp__scram_client_proof(int alg, const char *pass, size_t plen, const unsigned char *salt,
                             size_t slen, uint32_t iter, const char *authmsg, size_t alen,
                             unsigned char *proof, unsigned char *server_sig);

/* Constant-time comparison; 0 when equal. */
int smtp__scram_ct_diff(const unsigned char *a, const unsigned char *b, size_t n);

/* ------------------------------------------------------------------ server */

typedef struct smtp__scram_srv {
  unsigned int mech;      /* the mechanism being run */
  int alg;
  size_t hl;
  int fake;               /* unknown user: the exchange runs and fails */
  int stage;              /* 1: server-first sent; 2: server-final sent */
  smtp_scram_record rec;
  char gs2[SMTP__SCRAM_GS2_MAX];
  size_t gs2_len;
  char nonce[2 * SMTP__SCRAM_NONCE_MAX];
  size_t nonce_len;
  char authmsg[SMTP__SCRAM_AUTHMSG_MAX];
  size_t authmsg_len;
  char user[256];
  size_t user_len;
  char authzid[256];
  size_t authzid_len;
} smtp__scram_srv;

/* The parsed client-first-message. */
typedef struct smtp__scram_cfirst {
  char flag;              /* 'n', 'y' or 'p' */
  const char *cbname;     /* with 'p' */
  size_t cbname_len;
} smtp__scram_cfirst;

/* Parse the client-first-message into st (gs2 header, identities, the
 * client nonce, client-first-message-bare as the start of the AuthMessage)
 * and cf. Returns 0 or -1 (malformed, too long, mandatory extension). */
int smtp__scram_srv_client_first(smtp__scram_srv *st, unsigned int mech, const char *m,
                                 size_t len, smtp__scram_cfirst *cf);

/* Append the server nonce and write the server-first-message to out.
 * Returns 0 or -1 (buffer too small, bad record). */
int smtp__scram_srv_server_first(smtp__scram_srv *st, const char *snonce, size_t snlen,
                                 char *out, size_t cap, size_t *outlen);

/* Check the client-final-message: channel binding (gs2 header plus cb
 * bytes when the flag was 'p'), the nonce and the proof; on success write
 * the server-final-message ("v=...") to out. Returns 0, or -1 on any
 * failure (the exchange fails with 535). */
int smtp__scram_srv_client_final(smtp__scram_srv *st, const char *m, size_t len,
                                 const unsigned char *cb, size_t cblen, char *out, size_t cap,
                                 size_t *outlen);

#endif
