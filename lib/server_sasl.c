/* SASL mechanisms the server session runs itself, besides PLAIN and LOGIN
 * (server_auth.c): the SCRAM family and its -PLUS forms from stored keys
 * (RFC 5802, RFC 7677; the verifier is lib/scram.c), EXTERNAL from a
 * verified client certificate (RFC 4422 appendix A), and the bearer-token
 * mechanisms XOAUTH2 and OAUTHBEARER (RFC 7628) through a validation
 * callback.
 *
 * Their state lives in one block allocated with the session when one of
 * them is configured (a scram_lookup or token callback, or EXTERNAL among
 * the mechanisms), so that the session allocates nothing afterwards; freed
 * with the session. Every failure of
 * the exchange itself is 535 5.7.8 (RFC 4954 4: "authentication
 * credentials invalid"), counted towards the AUTH failure limit by
 * server_auth.c; failures of the application's side (lookup error, no
 * randomness, a record outside the configured bounds) are 454 4.7.0. */
#include <string.h>

#include <smtp/sasl.h>

#include "internal.h"
#include "scram.h"
#include "server_impl.h"

#define SMTP__MECH_NAME 20 /* RFC 4422 3.1 */

/* Channel-binding types a session keeps at once: one per type the TLS
 * layer gives (e.g. tls-exporter and tls-server-end-point). */
#define SMTP__SRV_CB_MAX 3

struct smtp__srv_cb {
  char name[SMTP__SCRAM_CBNAME_MAX];
  unsigned char data[SMTP__SCRAM_CB_MAX];
  size_t len;
};

struct smtp__srv_sasl {
  struct srv_sasl_callbacks f; /* copied from the callbacks */
  struct srv_scram_params sp;  /* copied from the options */
  smtp__scram_srv scram;
  struct smtp__srv_cb cb[SMTP__SRV_CB_MAX];
  size_t ncb;
  size_t cb_pick; /* the entry the running -PLUS exchange uses */
  char ext_id[SRV_NAME_MAX + 1];
  size_t ext_len;
  int tok_failed; /* the token error challenge was sent */
};

/* RFC 7628 3.2.2: the error status challenge. */
static const char token_error[] = "{\"status\":\"invalid_token\",\"schemes\":\"bearer\"}";

/* ------------------------------------------------------------ settings */

static void scram_line(smtp_server_session *s, const char *m, size_t n);
static void token_line(smtp_server_session *s, const char *m, size_t n);

/* These two setters are the only places that name the verifiers: a
 * program that calls neither links no SCRAM, SASLprep or token code. */
void smtp_server_callbacks_set_scram_lookup(smtp_server_callbacks *cb,
                                            smtp_server_on_scram_lookup f) {
  if (!cb) return;
  cb->sasl.scram_lookup = f;
  cb->sasl.scram_run = f ? scram_line : NULL;
  cb->auth_run = &smtp__srv_auth_impl;
}

void smtp_server_callbacks_set_token(smtp_server_callbacks *cb, smtp_server_on_token f) {
  if (!cb) return;
  cb->sasl.token = f;
  cb->sasl.token_run = f ? token_line : NULL;
  cb->auth_run = &smtp__srv_auth_impl;
}

int smtp__srv_sasl_configured(const smtp_server_callbacks *cb) {
  return cb->sasl.scram_lookup || cb->sasl.token;
}

int smtp_server_options_set_random(smtp_server_options *o,
                                   int (*fn)(void *buf, size_t len, void *user_data),
                                   void *user_data) {
  if (!o) return SMTP_ERR_INVALID_ARGUMENT;
  o->sp.random = fn;
  o->sp.random_ud = user_data;
  /* The secret behind made-up salts: drawn once, shared by every session
   * made from these options, so an unknown user's salt stays the same. */
  o->sp.have_fake_secret =
      fn && fn(o->sp.fake_secret, sizeof o->sp.fake_secret, user_data) == 0 ? 1 : 0;
  return SMTP_OK;
}

int smtp_server_options_set_scram_iterations(smtp_server_options *o, unsigned int min,
                                             unsigned int max) {
  if (!o || min == 0 || max < min) return SMTP_ERR_INVALID_ARGUMENT;
  o->sp.scram_min_iter = min;
  o->sp.scram_max_iter = max;
  return SMTP_OK;
}

int smtp__srv_sasl_init(smtp_server_session *s, const smtp_server_callbacks *cb,
                        const smtp_server_options *opt) {
  if (!(cb && smtp__srv_sasl_configured(cb)) && !(s->opt.auth_mechs & SMTP_SASL_EXTERNAL))
    return SMTP_OK;
  s->sx = smtp__calloc(&s->mem, 1, sizeof *s->sx);
  if (!s->sx) return SMTP_ERR_NOMEM;
  if (cb) s->sx->f = cb->sasl;
  if (opt) {
    s->sx->sp = opt->sp;
  } else {
    s->sx->sp.scram_min_iter = 4096; /* the defaults of smtp_server_options_new() */
    s->sx->sp.scram_max_iter = 100000;
  }
  return SMTP_OK;
}

void smtp__srv_sasl_free(smtp_server_session *s) {
  if (!s->sx) return;
  smtp__wipe(s->sx, sizeof *s->sx);
  smtp__free(&s->mem, s->sx);
  s->sx = NULL;
}

void smtp__srv_sasl_reset(smtp_server_session *s) {
  if (!s->sx) return;
  smtp__wipe(&s->sx->scram, sizeof s->sx->scram);
  s->sx->tok_failed = 0;
}

int smtp_server_session_set_channel_binding(smtp_server_session *s, const char *type,
                                            const void *data, size_t len) {
  struct smtp__srv_sasl *x;
  size_t tl = 0, i;
  if (!s) return SMTP_ERR_INVALID_ARGUMENT;
  if (type) {
    tl = strlen(type);
    if (!smtp__scram_cbname_ok(type, tl) || !data || len == 0 || len > SMTP__SCRAM_CB_MAX)
      return SMTP_ERR_INVALID_ARGUMENT;
  }
  x = s->sx;
  if (!x) return SMTP_OK; /* no built-in verifier in this session: unused */
  if (!type) {
    smtp__wipe(x->cb, sizeof x->cb);
    x->ncb = 0;
    return SMTP_OK;
  }
  for (i = 0; i < x->ncb && strcmp(x->cb[i].name, type) != 0; i++) {
  }
  if (i == SMTP__SRV_CB_MAX) return SMTP_ERR_LIMIT;
  smtp__wipe(&x->cb[i], sizeof x->cb[i]);
  memcpy(x->cb[i].name, type, tl);
  memcpy(x->cb[i].data, data, len);
  x->cb[i].len = len;
  if (i == x->ncb) x->ncb++;
  return SMTP_OK;
}

static int bad_name(const char *p, size_t n) {
  if (n == 0 || n > SRV_NAME_MAX || smtp__has_ctl(p, n)) return 1;
  return smtp_utf8_validate(p, n) != SMTP_OK;
}

int smtp_server_session_set_external_identity(smtp_server_session *s, const char *identity,
                                              size_t len) {
  struct smtp__srv_sasl *x;
  if (!s) return SMTP_ERR_INVALID_ARGUMENT;
  if (identity && bad_name(identity, len)) return SMTP_ERR_INVALID_ARGUMENT;
  x = s->sx;
  if (!x) return SMTP_OK; /* EXTERNAL not enabled in the options: unused */
  x->ext_len = 0;
  if (!identity) return SMTP_OK;
  memcpy(x->ext_id, identity, len);
  x->ext_id[len] = '\0';
  x->ext_len = len;
  return SMTP_OK;
}

unsigned int smtp__srv_sasl_builtin(const smtp_server_session *s) {
  unsigned int m = 0;
  if (!s->user) return 0; /* no identity buffer: no AUTH handler at all */
  if (!s->sx) return 0;
  if (s->sx->f.scram_lookup && s->sx->sp.random) {
    m |= SMTP__SASL_SCRAM_BASE;
    if (s->sx->ncb) m |= SMTP__SASL_SCRAM_PLUS;
  }
  if (s->sx->ext_len) m |= SMTP_SASL_EXTERNAL;
  if (s->sx->f.token) m |= SMTP_SASL_XOAUTH2 | SMTP_SASL_OAUTHBEARER;
  return m;
}

/* ------------------------------------------------------------ helpers */

static void fail(smtp_server_session *s) { smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_FAILED); }
static void tempfail(smtp_server_session *s) { smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_TEMP); }

static void challenge(smtp_server_session *s, const void *d, size_t n) {
  if (smtp__srv_auth_emit_challenge(s, d, n) != SMTP_OK) tempfail(s);
}

static void succeed(smtp_server_session *s, const char *id, size_t n) {
  smtp__srv_auth_set_identity(s, id, n);
  s->op = SRV_OP_AUTH;
  (void)smtp__srv_finish_status(s, SMTP_STATUS_AUTH_OK);
}

static int rnd(smtp_server_session *s, void *buf, size_t n) {
  const struct srv_scram_params *sp = &s->sx->sp;
  return sp->random && sp->random(buf, n, sp->random_ud) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ SCRAM */

static void scram_first(smtp_server_session *s, unsigned int mech, const char *m, size_t n) {
  struct smtp__srv_sasl *x = s->sx;
  smtp__scram_srv *st = &x->scram;
  smtp__scram_cfirst cf;
  unsigned int fam = smtp__scram_family(mech);
  unsigned char raw[18];
  char snonce[SMTP_BASE64_ENCODED_LEN(18) + 1], out[SMTP__SCRAM_MSG_MAX];
  size_t outlen = 0;
  smtp_ssize k;
  int rc;
  if (smtp__scram_srv_client_first(st, mech, m, n, &cf) != 0) {
    fail(s);
    return;
  }
  /* RFC 5802 6: the gs2-cbind-flag against what this server offers. */
  if (smtp__scram_is_plus(mech)) {
    /* "p=" names a type this connection has (RFC 5802 6, second bullet) */
    for (x->cb_pick = 0; x->cb_pick < x->ncb; x->cb_pick++)
      if (cf.flag == 'p' && cf.cbname_len == strlen(x->cb[x->cb_pick].name) &&
          memcmp(cf.cbname, x->cb[x->cb_pick].name, cf.cbname_len) == 0)
        break;
    if (x->cb_pick == x->ncb) {
      fail(s);
      return;
    }
  } else if (cf.flag == 'p') {
    fail(s);
    return;
  } else if (cf.flag == 'y' && (smtp__srv_auth_offered(s) & smtp__scram_plus_of(mech))) {
    fail(s); /* the client saw no -PLUS although we offer it: a downgrade */
    return;
  }
  if (bad_name(st->user, st->user_len) ||
      (st->authzid_len &&
       (st->authzid_len != st->user_len || memcmp(st->authzid, st->user, st->user_len) != 0))) {
    fail(s);
    return;
  }
  /* RFC 5802 5.1: the user name prepared with SASLprep as a query string
   * before the lookup (it stays as received in the AuthMessage); a name
   * SASLprep refuses, or an empty result, fails the exchange */
  {
    char prep[SMTP__SCRAM_PASS_MAX];
    size_t pl = 0;
    if (smtp__scram_prep(st->user, st->user_len, SMTP_SASLPREP_QUERY, prep, sizeof prep, &pl) !=
            SMTP_OK ||
        pl >= sizeof st->user || bad_name(prep, pl)) {
      fail(s);
      return;
    }
    memcpy(st->user, prep, pl);
    st->user_len = pl;
  }
  memset(&st->rec, 0, sizeof st->rec);
  SMTP__SRV_CALL(s, 0, rc, x->f.scram_lookup(s, fam, st->user, st->user_len, &st->rec, s->user_data));
  if (rc == SMTP_ERR_NOT_FOUND || rc == SMTP_ERR_CALLBACK_REFUSED) {
    /* Unknown user: go on with a made-up record, fail at the proof. The
     * salt is HMAC(secret, mechanism ":" user), the same on every try. */
    unsigned char mac[SMTP__SHA256_LEN];
    memset(&st->rec, 0, sizeof st->rec);
    st->rec.mech = fam;
    st->rec.iterations = x->sp.scram_min_iter;
    st->rec.salt_len = 16;
    if (x->sp.have_fake_secret) {
      char in[SMTP__MECH_NAME + 1 + sizeof st->user];
      size_t ml = strlen(smtp_sasl_mech_name(fam)), il = 0;
      memcpy(in, smtp_sasl_mech_name(fam), ml);
      in[ml] = ':';
      memcpy(in + ml + 1, st->user, st->user_len);
      il = ml + 1 + st->user_len;
      (void)smtp__hmac(SMTP__H_SHA256, x->sp.fake_secret, sizeof x->sp.fake_secret, in, il, mac);
      memcpy(st->rec.salt, mac, 16);
      smtp__wipe(mac, sizeof mac);
    } else if (rnd(s, st->rec.salt, 16) != 0) {
      tempfail(s);
      return;
    }
    st->fake = 1;
  } else if (rc != 0 || st->rec.mech != fam || st->rec.iterations < x->sp.scram_min_iter ||
             st->rec.iterations > x->sp.scram_max_iter || st->rec.salt_len == 0 ||
             st->rec.salt_len > SMTP_SCRAM_SALT_MAX) {
    tempfail(s);
    return;
  }
  /* s-nonce: 18 random octets, base64 (printable, no ","). */
  if (rnd(s, raw, sizeof raw) != 0) {
    tempfail(s);
    return;
  }
  k = smtp_base64_encode(raw, sizeof raw, snonce, sizeof snonce);
  if (k <= 0 || smtp__scram_srv_server_first(st, snonce, (size_t)k, out, sizeof out, &outlen) != 0) {
    fail(s);
    return;
  }
  challenge(s, out, outlen);
}

static void scram_line(smtp_server_session *s, const char *m, size_t n) {
  struct smtp__srv_sasl *x = s->sx;
  smtp__scram_srv *st = &x->scram;
  char out[SMTP__SCRAM_MSG_MAX];
  size_t outlen = 0;
  if (st->stage == 0) {
    scram_first(s, s->auth_mech, m, n);
  } else if (st->stage == 1) {
    int plus = smtp__scram_is_plus(s->auth_mech) && x->cb_pick < x->ncb;
    if (smtp__scram_srv_client_final(st, m, n, plus ? x->cb[x->cb_pick].data : NULL,
                                     plus ? x->cb[x->cb_pick].len : 0, out, sizeof out,
                                     &outlen) != 0)
      fail(s);
    else
      challenge(s, out, outlen); /* RFC 4954 4: server-final in a 334, then 235 */
  } else {
    /* the client's empty response to the server-final-message */
    if (n != 0) fail(s);
    else succeed(s, st->user, st->user_len);
  }
}

/* ------------------------------------------------------------ EXTERNAL */

static void external(smtp_server_session *s, const char *authz, size_t n) {
  struct smtp__srv_sasl *x = s->sx;
  /* RFC 4422 A.1: empty, or the identity to act as: here only the
   * certificate's own. */
  if (n && (n != x->ext_len || memcmp(authz, x->ext_id, n) != 0)) {
    fail(s);
    return;
  }
  succeed(s, x->ext_id, x->ext_len);
}

/* ------------------------------------------------------------ tokens */

/* "auth=Bearer <token>": the scheme is case-insensitive (RFC 7628 3.1,
 * RFC 6750 2.1). */
static int bearer(const char *v, size_t n, smtp_span *tok) {
  if (n <= 7 || smtp__casecmp(v, 7, "Bearer ", 7) != 0) return -1;
  tok->ptr = v + 7;
  tok->len = n - 7;
  return 0;
}

/* XOAUTH2: "user=" u ^A "auth=Bearer " t ^A ^A.
 * OAUTHBEARER: gs2-header ^A *(key "=" value ^A) ^A (RFC 7628 3.1). */
static int token_parse(unsigned int mech, const char *m, size_t n, smtp_server_token *t,
                       char *ubuf, size_t ucap) {
  size_t i = 0;
  int have_auth = 0;
  memset(t, 0, sizeof *t);
  t->mech = mech;
  if (n < 2 || m[n - 1] != 1 || m[n - 2] != 1 || memchr(m, 0, n)) return -1;
  if (mech == SMTP_SASL_OAUTHBEARER) {
    size_t j;
    int k;
    if (n < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',') return -1;
    i = 2;
    if (m[i] == 'a') {
      if (n - i < 3 || m[i + 1] != '=') return -1;
      j = i + 2;
      while (j < n && m[j] != ',') j++;
      k = smtp__scram_saslname_decode(m + i + 2, j - i - 2, ubuf, ucap);
      if (k <= 0) return -1;
      t->user.ptr = ubuf;
      t->user.len = (size_t)k;
      i = j;
    }
    if (i >= n || m[i] != ',') return -1;
    i++;
    if (i >= n || m[i] != 1) return -1;
    i++;
  }
  /* key=value ^A pairs until the final ^A */
  while (i < n && m[i] != 1) {
    size_t j = i, eq;
    while (j < n && m[j] != 1) j++;
    if (j >= n) return -1;
    eq = i;
    while (eq < j && m[eq] != '=') eq++;
    if (eq == j) return -1;
    if (eq - i == 4 && smtp__casecmp(m + i, 4, "auth", 4) == 0) {
      if (have_auth || bearer(m + eq + 1, j - eq - 1, &t->token) != 0) return -1;
      have_auth = 1;
    } else if (mech == SMTP_SASL_XOAUTH2 && eq - i == 4 && memcmp(m + i, "user", 4) == 0) {
      if (j - eq - 1 > ucap) return -1;
      memcpy(ubuf, m + eq + 1, j - eq - 1);
      t->user.ptr = ubuf;
      t->user.len = j - eq - 1;
    }
    i = j + 1;
  }
  if (i != n - 1 || !have_auth) return -1;
  if (t->user.len && bad_name(t->user.ptr, t->user.len)) return -1;
  return 0;
}

static void token_line(smtp_server_session *s, const char *m, size_t n) {
  struct smtp__srv_sasl *x = s->sx;
  smtp_server_token t;
  char ubuf[SRV_NAME_MAX + 1];
  int rc;
  if (x->tok_failed) {
    /* RFC 7628 3.2.3: the client's dummy response ends it; 535 */
    fail(s);
    return;
  }
  if (token_parse(s->auth_mech, m, n, &t, ubuf, sizeof ubuf - 1) != 0) {
    fail(s);
    return;
  }
  SMTP__SRV_CALL(s, 0, rc, x->f.token(s, &t, s->user_data));
  smtp__wipe(s->in, s->in_cap); /* the token never outlives the call */
  if (rc == 0 && t.user.len) {
    succeed(s, t.user.ptr, t.user.len);
  } else if (rc == 0 || rc == SMTP_ERR_CALLBACK_REFUSED) {
    x->tok_failed = 1;
    challenge(s, token_error, sizeof token_error - 1);
  } else {
    tempfail(s);
  }
  smtp__wipe(ubuf, sizeof ubuf);
}

/* ------------------------------------------------------------ dispatch */

void smtp__srv_sasl_start(smtp_server_session *s, unsigned int mech, const char *ir, size_t n,
                          int has_ir) {
  s->auth_mech = mech;
  if (!s->sx) {
    tempfail(s);
    return;
  }
  smtp__srv_sasl_reset(s);
  if (!has_ir) {
    challenge(s, "", 0); /* RFC 4954 4: "334 " and the client starts */
    return;
  }
  smtp__srv_sasl_line(s, ir, n);
}

void smtp__srv_sasl_line(smtp_server_session *s, const char *data, size_t n) {
  unsigned int mech = s->auth_mech;
  if (!s->sx) {
    tempfail(s);
    return;
  }
  /* the run pointers are set with their callbacks (smtp__srv_sasl_builtin()
   * offers a mechanism only then) */
  if (mech == SMTP_SASL_EXTERNAL) external(s, data, n);
  else if (mech & SMTP__SASL_SCRAM_ALL) s->sx->f.scram_run(s, data, n);
  else s->sx->f.token_run(s, data, n);
}
