/* SASL client mechanisms for the client session's AUTH (RFC 4954): PLAIN
 * (RFC 4616), LOGIN, XOAUTH2, OAUTHBEARER (RFC 7628), the SCRAM family and
 * its -PLUS forms (RFC 5802, RFC 7677), CRAM-MD5 (RFC 2195) and EXTERNAL
 * (RFC 4422 appendix A). Messages are produced and
 * taken un-encoded; base64 is the caller's business. No allocation, no
 * I/O, no randomness (the nonce is given). Not installed. */
#ifndef SMTP_CLIENT_AUTH_H
#define SMTP_CLIENT_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <smtp/sasl.h>

#include "hash.h"
#include "scram.h"

/* The mechanism value of an application mechanism (smtp_sasl_mechanism):
 * outside every smtp_sasl_mech bit. */
#define SMTP__SASL_CUSTOM (1u << 30)
#define SMTP__CUSTOM_MAX 4
#define SMTP__MECH_NAME_MAX 20

/* Credentials, pointers into the session's own copies. */
typedef struct smtp__sasl_creds {
  const char *authzid; size_t authzid_len;
  const char *user; size_t user_len;
  const char *pass; size_t pass_len;
  const char *token; size_t token_len;
  /* channel binding (RFC 5056): type name and data, NULL when the
   * application gave none; SCRAM uses "p=" with the -PLUS forms, "y"
   * without them, "n" when there is none (RFC 5802 6) */
  const char *cb_name;
  const unsigned char *cb_data; size_t cb_len;
  uint32_t max_iter; /* most SCRAM iterations accepted; 0: SMTP__SCRAM_MAX_ITER */
} smtp__sasl_creds;

/* Fewest SCRAM iterations the client accepts (RFC 7677 4 wants at least
 * 4096 from servers) and the default most (it keeps a hostile server from
 * making the client spin; configurable). */
#define SMTP__SCRAM_MIN_ITER 4096u
#define SMTP__SCRAM_MAX_ITER 100000u

typedef struct smtp__sasl_client {
  unsigned int mech;  /* one smtp_sasl_mech bit */
  int step;           /* challenges answered so far */
  int done;           /* SCRAM: server signature verified */
  int failed;         /* the exchange can only end in failure now */
  int alg;            /* SCRAM hash */
  char gs2[SMTP__SCRAM_GS2_MAX]; size_t gs2_len;         /* SCRAM gs2-header */
  char nonce[SMTP__SCRAM_NONCE_MAX]; size_t nonce_len;
  char authmsg[SMTP__SCRAM_AUTHMSG_MAX]; size_t authmsg_len; /* client-first-bare so far, then all */
  unsigned char server_sig[SMTP__HASH_MAX];
  const smtp_sasl_mechanism *ext; /* SMTP__SASL_CUSTOM: the vtable */
  void *ext_state;                /* and its per-exchange state */
} smtp__sasl_client;

/* Most entries of a configured mechanism preference order. */
#define SMTP__AUTH_ORDER_MAX 16

/* Channel-binding data the application gave the client session. */
typedef struct smtp__client_cbind {
  char name[SMTP__SCRAM_CBNAME_MAX];
  unsigned char data[SMTP__SCRAM_CB_MAX];
  size_t len; /* 0: none */
} smtp__client_cbind;

/* AUTH settings a session keeps beside its SASL state (only with AUTH). */
/* The mechanisms as the session reaches them: through this table, which
 * the options setters that turn AUTH on (credentials, token, a mechanism,
 * an application mechanism) name. A program that never calls one of them
 * does not link the mechanisms, the SCRAM code or the hashes
 * (docs/footprint.md). client_auth.c and, without SASL, client_auth_none.c
 * define smtp__sasl_client_impl. */
struct smtp_client_session;
struct smtp_reply;
typedef struct smtp__sasl_client_ops {
  unsigned int (*supported)(int have_password, int have_token, int have_random);
  void (*creds_cb)(smtp__sasl_creds *cr, const smtp__client_cbind *cb, uint32_t max_iter);
  unsigned int (*choose)(unsigned int offered, unsigned int supported);
  unsigned int (*choose_order)(unsigned int offered, unsigned int supported,
                               const unsigned int *order, size_t n);
  int (*start)(smtp__sasl_client *s, unsigned int mech, const smtp__sasl_creds *cr,
               const char *nonce, size_t nonce_len, char *out, size_t cap, size_t *outlen,
               int *has_ir);
  int (*start_custom)(smtp__sasl_client *s, const smtp_sasl_mechanism *m,
                      const smtp__sasl_creds *cr, char *out, size_t cap, size_t *outlen,
                      int *has_ir);
  int (*step)(smtp__sasl_client *s, const smtp__sasl_creds *cr, const char *chal,
              size_t chal_len, char *out, size_t cap, size_t *outlen);
  int (*success_ok)(const smtp__sasl_client *s);
  void (*wipe)(smtp__sasl_client *s);
  int (*scram_alg)(unsigned int mech);
  unsigned int (*cb_policy)(unsigned int mech, unsigned int offered, int have_cb, int *err);
  unsigned int (*scram_plus_of)(unsigned int mech);
  /* the session's handling of a reply to AUTH or to a SASL line
   * (smtp__cli_reply_auth() in client.c), named here so that a client
   * without AUTH does not link it */
  int (*reply)(struct smtp_client_session *c, const struct smtp_reply *r);
} smtp__sasl_client_ops;

int smtp__cli_reply_auth(struct smtp_client_session *c, const struct smtp_reply *r);

extern const smtp__sasl_client_ops smtp__sasl_client_impl;

typedef struct smtp__client_auth_cfg {
  const smtp__sasl_client_ops *ops; /* from the options; set whenever AUTH is on */
  smtp__client_cbind cbind;
  smtp_sasl_mechanism custom[SMTP__CUSTOM_MAX];
  char custom_name[SMTP__CUSTOM_MAX][SMTP__MECH_NAME_MAX + 1];
  size_t ncustom;
  unsigned int order[SMTP__AUTH_ORDER_MAX];
  size_t order_len;
  uint32_t max_iter;
  /* What only a session with AUTH needs (kept here, out of the session's
   * struct): the credentials, pointers into their copies (wiped), the raw
   * SASL message buffer, the randomness for SCRAM's nonce. */
  smtp__sasl_creds creds;
  char *cred_copy; /* authzid, user, password and token copies */
  size_t cred_copy_len;
  char *raw;
  size_t raw_cap;
  size_t ir_len;
  int (*random)(void *buf, size_t len, void *user_data);
  void *random_ud;
} smtp__client_auth_cfg;

/* Point the credentials at the channel-binding data (none when len is 0)
 * and set the iteration bound. */
void smtp__client_auth_creds_cb(smtp__sasl_creds *cr, const smtp__client_cbind *cb,
                                uint32_t max_iter);

/* Which mechanisms this build and these credentials can run (smtp_sasl_mech bits). */
unsigned int smtp__sasl_client_supported(int have_password, int have_token, int have_random);

/* The strongest of @p offered & supported: the SCRAM -PLUS forms (SHA-512,
 * SHA-256, SHA-1) > SCRAM-SHA-512 > SCRAM-SHA-256 > SCRAM-SHA-1 > OAUTHBEARER >
 * XOAUTH2 > CRAM-MD5 > PLAIN > LOGIN (EXTERNAL only when asked for). 0 when
 * none. */
unsigned int smtp__sasl_client_choose(unsigned int offered, unsigned int supported);

/* RFC 5802 6 on a chosen mechanism: a SCRAM mechanism whose -PLUS form the
 * server offers becomes that -PLUS form when the client has channel-binding
 * data ("MUST use a p flag"), and is refused with *err =
 * SMTP_ERR_CHANNEL_BINDING when it has none (libsmtp supports channel
 * binding, so seeing -PLUS without a channel to bind is treated as a
 * downgrade). Any other mechanism is returned as is. */
unsigned int smtp__sasl_client_cb_policy(unsigned int mech, unsigned int offered, int have_cb,
                                         int *err);

/* The first of @p order (n bits) in @p offered & @p supported, 0 when none. */
unsigned int smtp__sasl_client_choose_order(unsigned int offered, unsigned int supported,
                                            const unsigned int *order, size_t n);

/* Start @p mech. Writes the initial response (un-encoded) to @p out and sets
 * *has_ir; @p nonce is used by SCRAM only (printable, no ','). Returns 0 or
 * SMTP_ERR_BUFFER_TOO_SMALL / SMTP_ERR_UNSUPPORTED / SMTP_ERR_INVALID_ARGUMENT. */
int smtp__sasl_client_start(smtp__sasl_client *s, unsigned int mech, const smtp__sasl_creds *cr,
                            const char *nonce, size_t nonce_len, char *out, size_t cap,
                            size_t *outlen, int *has_ir);

/* Start an application mechanism (same contract as smtp__sasl_client_start). */
int smtp__sasl_client_start_custom(smtp__sasl_client *s, const smtp_sasl_mechanism *m,
                                   const smtp__sasl_creds *cr, char *out, size_t cap,
                                   size_t *outlen, int *has_ir);

/* 1 when @p name is a valid SASL mechanism name (RFC 4422 3.1). */
int smtp__sasl_mech_name_ok(const char *name);

/* Answer a (decoded) 334 challenge. Returns 0 with the response in @p out, 1
 * when the exchange must be cancelled ("*", RFC 4954 4) because the
 * challenge is unacceptable (SCRAM nonce/iteration/signature failures), or
 * a negative error. */
int smtp__sasl_client_step(smtp__sasl_client *s, const smtp__sasl_creds *cr, const char *chal,
                           size_t chal_len, char *out, size_t cap, size_t *outlen);

/* 1 when a 235 may be believed: always, except SCRAM before the server's
 * signature was verified (RFC 5802 5: the client authenticates the server). */
int smtp__sasl_client_success_ok(const smtp__sasl_client *s);

/* Forget every secret (and release an application mechanism's state). */
void smtp__sasl_client_wipe(smtp__sasl_client *s);

#endif
