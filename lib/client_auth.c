/* SASL client mechanisms (see client_auth.h). Each mechanism is a small
 * step function over un-encoded messages:
 *
 *   PLAIN        RFC 4616 2: initial response [authzid] NUL authcid NUL passwd.
 *   LOGIN        draft-murchison-sasl-login: user, then password, one per 334.
 *   XOAUTH2      "user=" u ^A "auth=Bearer " token ^A ^A; after an error
 *                challenge an empty response lets the server finish.
 *   OAUTHBEARER  RFC 7628 3.1: gs2-header "n,a=" saslname "," ^A "auth=Bearer "
 *                token ^A ^A; after an error challenge the client sends ^A
 *                (RFC 7628 3.2.3).
 *   SCRAM-SHA-1, -256, -512 and their -PLUS forms: RFC 5802 3 and 6,
 *                RFC 7677: client-first, client-final with proof, server
 *                signature verified before success counts; gs2 flag "p="
 *                with -PLUS, "y" when the client has channel-binding data but
 *                the server did not offer -PLUS, "n" when it has none.
 *   EXTERNAL     RFC 4422 appendix A: the initial response is the
 *                authorization identity, empty for none.
 *   CRAM-MD5     RFC 2195 2: user SP hex(HMAC-MD5(password, challenge)).
 *
 * SCRAM user names and passwords go through SASLprep (RFC 4013; RFC 5802
 * 2.2 and 5.1, lib/sasl_prep.c). */
#include <string.h>

#include <smtp/ext.h>
#include <smtp/sasl.h>

#include "client_auth.h"
#include "internal.h"

unsigned int smtp__sasl_client_supported(int have_password, int have_token, int have_random) {
  unsigned int m = 0;
  if (have_password) {
    m |= SMTP_SASL_PLAIN | SMTP_SASL_LOGIN;
    m |= SMTP_SASL_CRAM_MD5;
    if (have_random) m |= SMTP__SASL_SCRAM_ALL;
  }
  if (have_token) m |= SMTP_SASL_OAUTHBEARER | SMTP_SASL_XOAUTH2;
  return m | SMTP_SASL_EXTERNAL;
}

void smtp__client_auth_creds_cb(smtp__sasl_creds *cr, const smtp__client_cbind *cb,
                                uint32_t max_iter) {
  cr->cb_name = cb->len ? cb->name : NULL;
  cr->cb_data = cb->len ? cb->data : NULL;
  cr->cb_len = cb->len;
  cr->max_iter = max_iter;
}

unsigned int smtp__sasl_client_choose_order(unsigned int offered, unsigned int supported,
                                            const unsigned int *order, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (offered & supported & order[i]) return order[i];
  return 0;
}

unsigned int smtp__sasl_client_choose(unsigned int offered, unsigned int supported) {
  static const unsigned int order[] = {
      SMTP_SASL_SCRAM_SHA_512_PLUS, SMTP_SASL_SCRAM_SHA_256_PLUS, SMTP_SASL_SCRAM_SHA_1_PLUS,
      SMTP_SASL_SCRAM_SHA_512,      SMTP_SASL_SCRAM_SHA_256,      SMTP_SASL_SCRAM_SHA_1,
      SMTP_SASL_OAUTHBEARER,        SMTP_SASL_XOAUTH2,            SMTP_SASL_CRAM_MD5,
      SMTP_SASL_PLAIN,              SMTP_SASL_LOGIN};
  return smtp__sasl_client_choose_order(offered, supported, order, SMTP__ARRAY_LEN(order));
}

unsigned int smtp__sasl_client_cb_policy(unsigned int mech, unsigned int offered, int have_cb,
                                         int *err) {
  unsigned int plus;
  *err = SMTP_OK;
  if (!(mech & SMTP__SASL_SCRAM_BASE)) return mech;
  plus = smtp__scram_plus_of(mech);
  if (!(offered & plus)) return mech; /* "y" with data, "n" without */
  if (have_cb) return plus;
  *err = SMTP_ERR_CHANNEL_BINDING;
  return 0;
}

typedef struct {
  char *p;
  size_t cap, len;
  int overflow;
} sbuf;

static void put(sbuf *b, const void *d, size_t n) {
  if (b->overflow || n > b->cap - b->len) {
    b->overflow = 1;
    return;
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* saslname (RFC 5802 5.1, RFC 7628 3.1): "," -> "=2C", "=" -> "=3D". */
static void put_saslname(sbuf *b, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (s[i] == ',') puts_(b, "=2C");
    else if (s[i] == '=') puts_(b, "=3D");
    else put(b, s + i, 1);
  }
}

int smtp__sasl_client_start(smtp__sasl_client *s, unsigned int mech, const smtp__sasl_creds *cr,
                            const char *nonce, size_t nonce_len, char *out, size_t cap,
                            size_t *outlen, int *has_ir) {
  sbuf b = {out, cap, 0, 0};
  memset(s, 0, sizeof *s);
  s->mech = mech;
  *has_ir = 0;
  *outlen = 0;
  switch (mech) {
  case SMTP_SASL_PLAIN: {
    /* RFC 4954 4: the initial response saves a round trip. */
    char authz[256], user[256], pass[256];
    smtp_ssize n;
    if (!cr->user || !cr->pass || cr->authzid_len > 255 || cr->user_len > 255 ||
        cr->pass_len > 255)
      return SMTP_ERR_INVALID_ARGUMENT;
    memcpy(authz, cr->authzid ? cr->authzid : "", cr->authzid_len);
    authz[cr->authzid_len] = 0;
    memcpy(user, cr->user, cr->user_len);
    user[cr->user_len] = 0;
    memcpy(pass, cr->pass, cr->pass_len);
    pass[cr->pass_len] = 0;
    n = smtp_sasl_plain_encode(authz, user, pass, out, cap);
    smtp__wipe(pass, sizeof pass);
    if (n < 0) return (int)n;
    *outlen = (size_t)n;
    *has_ir = 1;
    return SMTP_OK;
  }
  case SMTP_SASL_LOGIN:
  case SMTP_SASL_CRAM_MD5:
    if (!cr->user || !cr->pass) return SMTP_ERR_INVALID_ARGUMENT;
    if (mech == SMTP_SASL_CRAM_MD5 && !smtp__hash_available()) return SMTP_ERR_UNSUPPORTED;
    return SMTP_OK; /* the server speaks first */
  case SMTP_SASL_XOAUTH2:
    if (!cr->token) return SMTP_ERR_INVALID_ARGUMENT;
    puts_(&b, "user=");
    if (cr->user) put(&b, cr->user, cr->user_len);
    puts_(&b, "\001auth=Bearer ");
    put(&b, cr->token, cr->token_len);
    puts_(&b, "\001\001");
    break;
  case SMTP_SASL_OAUTHBEARER:
    if (!cr->token) return SMTP_ERR_INVALID_ARGUMENT;
    puts_(&b, "n,");
    if (cr->user && cr->user_len) {
      puts_(&b, "a=");
      put_saslname(&b, cr->user, cr->user_len);
    }
    puts_(&b, ",\001auth=Bearer ");
    put(&b, cr->token, cr->token_len);
    puts_(&b, "\001\001");
    break;
  case SMTP_SASL_EXTERNAL:
    /* RFC 4422 A.1: the message is the authorization identity, maybe empty. */
    if (cr->authzid && cr->authzid_len) put(&b, cr->authzid, cr->authzid_len);
    break;
  case SMTP_SASL_SCRAM_SHA_1:
  case SMTP_SASL_SCRAM_SHA_256:
  case SMTP_SASL_SCRAM_SHA_512:
  case SMTP_SASL_SCRAM_SHA_1_PLUS:
  case SMTP_SASL_SCRAM_SHA_256_PLUS:
  case SMTP_SASL_SCRAM_SHA_512_PLUS: {
    sbuf g = {s->gs2, sizeof s->gs2, 0, 0};
    sbuf a = {s->authmsg, sizeof s->authmsg, 0, 0};
    size_t i;
    s->alg = smtp__scram_alg(mech);
    if (!cr->user || !cr->pass || !nonce || nonce_len == 0 || nonce_len > sizeof s->nonce)
      return SMTP_ERR_INVALID_ARGUMENT;
    for (i = 0; i < nonce_len; i++)
      if (nonce[i] <= 0x20 || nonce[i] >= 0x7f || nonce[i] == ',') return SMTP_ERR_INVALID_ARGUMENT;
    if (cr->cb_name && (!smtp__scram_cbname_ok(cr->cb_name, strlen(cr->cb_name)) ||
                        cr->cb_len == 0 || cr->cb_len > SMTP__SCRAM_CB_MAX))
      return SMTP_ERR_INVALID_ARGUMENT;
    memcpy(s->nonce, nonce, nonce_len);
    s->nonce_len = nonce_len;
    /* gs2-header = gs2-cbind-flag "," [ "a=" saslname ] "," (RFC 5802 7);
     * the flag per RFC 5802 6. */
    if (smtp__scram_is_plus(mech)) {
      if (!cr->cb_name) return SMTP_ERR_UNSUPPORTED; /* -PLUS needs channel binding */
      puts_(&g, "p=");
      puts_(&g, cr->cb_name);
      puts_(&g, ",");
    } else if (cr->cb_name) {
      puts_(&g, "y,");
    } else {
      puts_(&g, "n,");
    }
    if (cr->authzid && cr->authzid_len) {
      puts_(&g, "a=");
      put_saslname(&g, cr->authzid, cr->authzid_len);
    }
    puts_(&g, ",");
    /* client-first-message-bare = "n=" saslname ",r=" c-nonce; the user
     * name prepared with SASLprep as a query (RFC 5802 5.1), the password
     * checked now so that a password SASLprep refuses (RFC 5802 2.2) ends
     * the exchange before it starts */
    {
      char prep[SMTP__SCRAM_PASS_MAX];
      size_t pl = 0;
      int rc = smtp__scram_prep(cr->pass, cr->pass_len, 0, prep, sizeof prep, &pl);
      smtp__wipe(prep, sizeof prep);
      if (rc == SMTP_OK) rc = smtp__scram_prep(cr->user, cr->user_len, SMTP_SASLPREP_QUERY, prep,
                                               sizeof prep, &pl);
      if (rc != SMTP_OK) return rc;
      puts_(&a, "n=");
      put_saslname(&a, prep, pl);
    }
    puts_(&a, ",r=");
    put(&a, nonce, nonce_len);
    if (g.overflow || a.overflow) return SMTP_ERR_BUFFER_TOO_SMALL;
    s->gs2_len = g.len;
    s->authmsg_len = a.len;
    put(&b, s->gs2, s->gs2_len);
    put(&b, s->authmsg, s->authmsg_len);
    break;
  }
  default:
    return SMTP_ERR_UNSUPPORTED;
  }
  if (b.overflow) return SMTP_ERR_BUFFER_TOO_SMALL;
  *outlen = b.len;
  *has_ir = 1;
  return SMTP_OK;
}

static int scram_server_first(smtp__sasl_client *s, const smtp__sasl_creds *cr, const char *chal,
                              size_t clen, char *out, size_t cap, size_t *outlen) {
  const char *r, *salt64, *it, *val;
  size_t rlen, slen, itlen, vlen, pos = 0, i, hl = smtp__hash_len(s->alg);
  unsigned char salt[SMTP_SCRAM_SALT_MAX * 2], proof[SMTP__HASH_MAX],
      cbin[SMTP__SCRAM_GS2_MAX + SMTP__SCRAM_CB_MAX];
  uint32_t iter = 0, max_iter = cr->max_iter ? cr->max_iter : SMTP__SCRAM_MAX_ITER;
  smtp_ssize n;
  char b64[SMTP_BASE64_ENCODED_LEN(SMTP__SCRAM_GS2_MAX + SMTP__SCRAM_CB_MAX) + 1], name;
  sbuf a, b = {out, cap, 0, 0};
  size_t cfwp_at, cbn, slen_dec;
  int rc, k;

  /* server-first-message = [reserved-mext ","] nonce "," salt ","
   *                        iteration-count ["," extensions]   (RFC 5802 7);
   * a mandatory extension (m=) is not supported: fail. */
  if (clen == 0 || clen > SMTP__SCRAM_MSG_MAX || memchr(chal, 0, clen)) return 1;
  if (smtp__scram_attr(chal, clen, &pos, &name, &r, &rlen) != 1 || name != 'r') return 1;
  if (smtp__scram_attr(chal, clen, &pos, &name, &salt64, &slen) != 1 || name != 's') return 1;
  if (smtp__scram_attr(chal, clen, &pos, &name, &it, &itlen) != 1 || name != 'i') return 1;
  while ((k = smtp__scram_attr(chal, clen, &pos, &name, &val, &vlen)) == 1)
    if (name == 'm') return 1;
  if (k < 0) return 1;
  /* The server's nonce must extend ours (RFC 5802 5.1). */
  if (rlen <= s->nonce_len || rlen > 2 * SMTP__SCRAM_NONCE_MAX ||
      memcmp(r, s->nonce, s->nonce_len) != 0 || !smtp__scram_printable(r, rlen))
    return 1;
  if (itlen == 0 || itlen > 9) return 1;
  for (i = 0; i < itlen; i++) {
    if (!smtp__is_digit((unsigned char)it[i])) return 1;
    iter = iter * 10 + (uint32_t)(it[i] - '0');
  }
  if (iter < SMTP__SCRAM_MIN_ITER || iter > max_iter) return 1;
  n = smtp_base64_decode(salt64, slen, salt, sizeof salt);
  if (n <= 0) return 1;
  slen_dec = (size_t)n;

  /* AuthMessage = client-first-message-bare "," server-first-message ","
   *               client-final-message-without-proof */
  a.p = s->authmsg;
  a.cap = sizeof s->authmsg;
  a.len = s->authmsg_len;
  a.overflow = 0;
  put(&a, ",", 1);
  put(&a, chal, clen);
  put(&a, ",", 1);
  cfwp_at = a.len;
  /* channel-binding = "c=" base64(gs2-header [cbind-data]) (RFC 5802 7) */
  puts_(&a, "c=");
  memcpy(cbin, s->gs2, s->gs2_len);
  cbn = s->gs2_len;
  if (s->gs2[0] == 'p') {
    memcpy(cbin + cbn, cr->cb_data, cr->cb_len);
    cbn += cr->cb_len;
  }
  n = smtp_base64_encode(cbin, cbn, b64, sizeof b64);
  if (n < 0) return SMTP_ERR_BUFFER_TOO_SMALL;
  put(&a, b64, (size_t)n);
  puts_(&a, ",r=");
  put(&a, r, rlen);
  if (a.overflow) return 1;
  s->authmsg_len = a.len;

  rc = smtp__scram_client_proof(s->alg, cr->pass, cr->pass_len, salt, slen_dec, iter,
                                s->authmsg, s->authmsg_len, proof, s->server_sig);
  if (rc == SMTP_OK) {
    put(&b, s->authmsg + cfwp_at, s->authmsg_len - cfwp_at);
    puts_(&b, ",p=");
    n = smtp_base64_encode(proof, hl, b64, sizeof b64);
    if (n < 0) rc = SMTP_ERR_BUFFER_TOO_SMALL;
    else put(&b, b64, (size_t)n);
    if (b.overflow) rc = SMTP_ERR_BUFFER_TOO_SMALL;
    *outlen = b.len;
  }
  smtp__wipe(proof, sizeof proof);
  return rc;
}

static int scram_server_final(smtp__sasl_client *s, const char *chal, size_t clen) {
  unsigned char v[64];
  smtp_ssize n;
  size_t i;
  /* server-final-message = (server-error / verifier) ["," extensions] */
  if (clen < 2 || chal[0] != 'v' || chal[1] != '=') return 1; /* e=... or garbage */
  i = 2;
  while (i < clen && chal[i] != ',') i++;
  n = smtp_base64_decode(chal + 2, i - 2, v, sizeof v);
  if (n <= 0 || (size_t)n != smtp__hash_len(s->alg)) return 1;
  if (smtp__scram_ct_diff(v, s->server_sig, (size_t)n)) return 1;
  s->done = 1;
  return SMTP_OK;
}

int smtp__sasl_mech_name_ok(const char *name) {
  size_t i, n;
  if (!name) return 0;
  n = strlen(name);
  if (n == 0 || n > SMTP__MECH_NAME_MAX) return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (!(c >= 'A' && c <= 'Z') && !smtp__is_digit(c) && c != '-' && c != '_') return 0;
  }
  return 1;
}

static smtp_span span_of(const char *p, size_t n) {
  smtp_span sp;
  sp.ptr = p;
  sp.len = p ? n : 0;
  return sp;
}

/* Map an application mechanism's answer: 0, 1 (cancel) or an error. */
static int custom_rc(int rc, size_t outlen, size_t cap) {
  if (rc == 0) return outlen <= cap ? SMTP_OK : SMTP_ERR_BUFFER_TOO_SMALL;
  if (rc == 1) return 1;
  return rc < 0 ? rc : SMTP_ERR_CALLBACK_FAILURE;
}

int smtp__sasl_client_start_custom(smtp__sasl_client *s, const smtp_sasl_mechanism *m,
                                   const smtp__sasl_creds *cr, char *out, size_t cap,
                                   size_t *outlen, int *has_ir) {
  smtp_sasl_client_creds c;
  int rc;
  memset(s, 0, sizeof *s);
  s->mech = SMTP__SASL_CUSTOM;
  s->ext = m;
  *outlen = 0;
  *has_ir = 0;
  memset(&c, 0, sizeof c);
  c.authzid = span_of(cr->authzid, cr->authzid_len);
  c.user = span_of(cr->user, cr->user_len);
  c.password = span_of(cr->pass, cr->pass_len);
  c.token = span_of(cr->token, cr->token_len);
  rc = m->start(&s->ext_state, &c, (unsigned char *)out, cap, outlen, has_ir, m->user_data);
  rc = custom_rc(rc, *outlen, cap);
  if (rc != SMTP_OK) {
    *outlen = 0;
    return rc == 1 ? SMTP_ERR_CALLBACK_REFUSED : rc;
  }
  *has_ir = *has_ir ? 1 : 0;
  return SMTP_OK;
}

int smtp__sasl_client_step(smtp__sasl_client *s, const smtp__sasl_creds *cr, const char *chal,
                           size_t chal_len, char *out, size_t cap, size_t *outlen) {
  int step = s->step++;
  *outlen = 0;
  if (s->failed) return 1;
  if (s->mech == SMTP__SASL_CUSTOM) {
    int rc = s->ext->step(s->ext_state, (const unsigned char *)chal, chal_len,
                          (unsigned char *)out, cap, outlen, s->ext->user_data);
    rc = custom_rc(rc, *outlen, cap);
    if (rc != SMTP_OK) *outlen = 0;
    return rc == SMTP_OK ? SMTP_OK : 1;
  }
  switch (s->mech) {
  case SMTP_SASL_PLAIN:
    return 1; /* the initial response was complete: a challenge is unexpected */
  case SMTP_SASL_LOGIN:
    if (step == 0) {
      if (cr->user_len > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
      memcpy(out, cr->user, cr->user_len);
      *outlen = cr->user_len;
      return SMTP_OK;
    }
    if (step == 1) {
      if (cr->pass_len > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
      memcpy(out, cr->pass, cr->pass_len);
      *outlen = cr->pass_len;
      return SMTP_OK;
    }
    return 1;
  case SMTP_SASL_XOAUTH2:
    /* A 334 here carries an error (JSON); an empty response ends it. */
    s->failed = 1;
    return SMTP_OK;
  case SMTP_SASL_OAUTHBEARER:
    /* RFC 7628 3.2.3: answer the error challenge with a lone %x01. */
    s->failed = 1;
    if (cap < 1) return SMTP_ERR_BUFFER_TOO_SMALL;
    out[0] = '\001';
    *outlen = 1;
    return SMTP_OK;
  case SMTP_SASL_CRAM_MD5: {
    unsigned char mac[SMTP__MD5_LEN];
    static const char hex[] = "0123456789abcdef";
    size_t i;
    int rc;
    if (step != 0) return 1;
    if (cr->user_len + 1 + 2 * SMTP__MD5_LEN > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
    rc = smtp__hmac_md5(cr->pass, cr->pass_len, chal, chal_len, mac);
    if (rc != SMTP_OK) return rc;
    memcpy(out, cr->user, cr->user_len);
    out[cr->user_len] = ' ';
    for (i = 0; i < SMTP__MD5_LEN; i++) {
      out[cr->user_len + 1 + 2 * i] = hex[mac[i] >> 4];
      out[cr->user_len + 2 + 2 * i] = hex[mac[i] & 15];
    }
    *outlen = cr->user_len + 1 + 2 * SMTP__MD5_LEN;
    smtp__wipe(mac, sizeof mac);
    return SMTP_OK;
  }
  case SMTP_SASL_EXTERNAL:
    return 1; /* the initial response was complete */
  case SMTP_SASL_SCRAM_SHA_1:
  case SMTP_SASL_SCRAM_SHA_256:
  case SMTP_SASL_SCRAM_SHA_512:
  case SMTP_SASL_SCRAM_SHA_1_PLUS:
  case SMTP_SASL_SCRAM_SHA_256_PLUS:
  case SMTP_SASL_SCRAM_SHA_512_PLUS:
    if (step == 0) return scram_server_first(s, cr, chal, chal_len, out, cap, outlen);
    if (step == 1) return scram_server_final(s, chal, chal_len); /* empty response */
    return 1;
  default:
    return 1;
  }
}

int smtp__sasl_client_success_ok(const smtp__sasl_client *s) {
  if (smtp__scram_alg(s->mech)) return s->done;
  if (s->mech == SMTP__SASL_CUSTOM)
    return !s->ext->done || s->ext->done(s->ext_state, s->ext->user_data) == 1;
  return !s->failed;
}

void smtp__sasl_client_wipe(smtp__sasl_client *s) {
  if (s->mech == SMTP__SASL_CUSTOM && s->ext && s->ext->free && s->ext_state)
    s->ext->free(s->ext_state, s->ext->user_data);
  smtp__wipe(s, sizeof *s);
}

const smtp__sasl_client_ops smtp__sasl_client_impl = {
    smtp__sasl_client_supported, smtp__client_auth_creds_cb, smtp__sasl_client_choose,
    smtp__sasl_client_choose_order, smtp__sasl_client_start, smtp__sasl_client_start_custom,
    smtp__sasl_client_step, smtp__sasl_client_success_ok, smtp__sasl_client_wipe,
    smtp__scram_alg, smtp__sasl_client_cb_policy, smtp__scram_plus_of, smtp__cli_reply_auth};
