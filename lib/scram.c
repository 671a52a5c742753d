/* SCRAM (RFC 5802; SHA-256: RFC 7677; SHA-512 as registered with IANA):
 * the pieces both roles share, the stored-key records and the server's
 * verifier.
 *
 *   SaltedPassword  = Hi(Normalize(password), salt, i)     (PBKDF2, 1 block)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key")
 *   StoredKey       = H(ClientKey)
 *   AuthMessage     = client-first-message-bare + "," +
 *                     server-first-message + "," +
 *                     client-final-message-without-proof
 *   ClientSignature = HMAC(StoredKey, AuthMessage)
 *   ClientProof     = ClientKey XOR ClientSignature
 *   ServerKey       = HMAC(SaltedPassword, "Server Key")
 *   ServerSignature = HMAC(ServerKey, AuthMessage)
 *
 * The server keeps StoredKey and ServerKey only: it recovers ClientKey as
 * ClientProof XOR ClientSignature and checks H(ClientKey) == StoredKey.
 * Normalize() (SASLprep, RFC 4013) is not applied: passwords are taken as
 * octets, which agrees with SASLprep for ASCII passwords. */
#include <string.h>

#include <smtp/sasl.h>

#include "internal.h"
#include "text.h"
#include "scram.h"

static const struct {
  unsigned int base, plus;
  int alg;
  const char *name;
} fam[] = {
    {SMTP_SASL_SCRAM_SHA_1, SMTP_SASL_SCRAM_SHA_1_PLUS, SMTP__H_SHA1, "SCRAM-SHA-1"},
    {SMTP_SASL_SCRAM_SHA_256, SMTP_SASL_SCRAM_SHA_256_PLUS, SMTP__H_SHA256, "SCRAM-SHA-256"},
    {SMTP_SASL_SCRAM_SHA_512, SMTP_SASL_SCRAM_SHA_512_PLUS, SMTP__H_SHA512, "SCRAM-SHA-512"},
};

static int fam_index(unsigned int mech) {
  for (int i = 0; i < (int)SMTP__ARRAY_LEN(fam); i++)
    if (mech == fam[i].base || mech == fam[i].plus) return i;
  return -1;
}

int smtp__scram_alg(unsigned int mech) {
  int i = fam_index(mech);
  return i < 0 ? 0 : fam[i].alg;
}
unsigned int smtp__scram_family(unsigned int mech) {
  int i = fam_index(mech);
  return i < 0 ? 0 : fam[i].base;
}
unsigned int smtp__scram_plus_of(unsigned int mech) {
  int i = fam_index(mech);
  return i < 0 ? 0 : fam[i].plus;
}
int smtp__scram_is_plus(unsigned int mech) { return (mech & SMTP__SASL_SCRAM_PLUS) != 0 && fam_index(mech) >= 0; }

size_t smtp_scram_key_len(unsigned int mech) { return smtp__hash_len(smtp__scram_alg(mech)); }

int smtp__scram_cbname_ok(const char *name, size_t len) {
  if (!name || len == 0 || len >= SMTP__SCRAM_CBNAME_MAX) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (!smtp__is_alpha(c) && !smtp__is_digit(c) && c != '.' && c != '-') return 0;
  }
  return 1;
}

int smtp__scram_attr(const char *m, size_t len, size_t *pos, char *name, const char **val,
                     size_t *vlen) {
  size_t i = *pos, j;
  if (i > len) return -1;
  if (i == len) return 0;
  if (len - i < 2 || !smtp__is_alpha((unsigned char)m[i]) || m[i + 1] != '=') return -1;
  j = i + 2;
  while (j < len && m[j] != ',') j++;
  *name = m[i];
  *val = m + i + 2;
  *vlen = j - i - 2;
  /* the next attribute starts after the comma; a trailing comma is malformed */
  if (j < len) {
    if (j + 1 == len) return -1;
    *pos = j + 1;
  } else {
    *pos = len;
  }
  return 1;
}

int smtp__scram_printable(const char *p, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x21 || c > 0x7e || c == ',') return 0;
  }
  return 1;
}

int smtp__scram_saslname_decode(const char *in, size_t len, char *out, size_t cap) {
  size_t i, o = 0;
  for (i = 0; i < len; i++) {
    char c = in[i];
    if (c == '\0' || c == ',') return -1;
    if (c == '=') {
      if (len - i < 3) return -1;
      if (in[i + 1] == '2' && in[i + 2] == 'C') c = ',';
      else if (in[i + 1] == '3' && in[i + 2] == 'D') c = '=';
      else return -1;
      i += 2;
    }
    if (o >= cap) return -1;
    out[o++] = c;
  }
  return (int)o;
}

int smtp__scram_ct_diff(const unsigned char *a, const unsigned char *b, size_t n) {
  unsigned char d = 0;
  for (size_t i = 0; i < n; i++) d |= (unsigned char)(a[i] ^ b[i]);
  return d != 0;
}

/* SaltedPassword, then ClientKey and ServerKey. */
int smtp__scram_prep(const char *in, size_t len, unsigned int flags, char *out, size_t cap,
                     size_t *outlen) {
  smtp_ssize n = smtp_sasl_saslprep(in, len, flags, out, cap);
  *outlen = 0;
  if (n <= 0) return SMTP_ERR_SASLPREP; /* failed, or empty (RFC 5802 5.1) */
  *outlen = (size_t)n;
  return SMTP_OK;
}

/* SaltedPassword = Hi(Normalize(password), salt, i) (RFC 5802 3), then
 * ClientKey and ServerKey. Normalize is SASLprep on a stored string. */
static int salted_keys(int alg, const char *pass, size_t plen, const unsigned char *salt,
                       size_t slen, uint32_t iter, unsigned char *ckey, unsigned char *skey) {
  unsigned char sp[SMTP__HASH_MAX];
  char norm[SMTP__SCRAM_PASS_MAX];
  size_t nlen = 0, hl = smtp__hash_len(alg);
  int rc = smtp__scram_prep(pass, plen, 0, norm, sizeof norm, &nlen);
  if (rc == SMTP_OK) rc = smtp__pbkdf2(alg, norm, nlen, salt, slen, iter, sp);
  if (rc == SMTP_OK) rc = smtp__hmac(alg, sp, hl, "Client Key", 10, ckey);
  if (rc == SMTP_OK) rc = smtp__hmac(alg, sp, hl, "Server Key", 10, skey);
  smtp__wipe(sp, sizeof sp);
  smtp__wipe(norm, sizeof norm);
  return rc;
}

int smtp__scram_client_proof(int alg, const char *pass, size_t plen, const unsigned char *salt,
                             size_t slen, uint32_t iter, const char *authmsg, size_t alen,
                             unsigned char *proof, unsigned char *server_sig) {
  unsigned char ckey[SMTP__HASH_MAX], skey[SMTP__HASH_MAX], stored[SMTP__HASH_MAX],
      csig[SMTP__HASH_MAX];
  size_t hl = smtp__hash_len(alg), i;
  int rc = salted_keys(alg, pass, plen, salt, slen, iter, ckey, skey);
  if (rc == SMTP_OK) rc = smtp__hash(alg, ckey, hl, stored);
  if (rc == SMTP_OK) rc = smtp__hmac(alg, stored, hl, authmsg, alen, csig);
  if (rc == SMTP_OK) rc = smtp__hmac(alg, skey, hl, authmsg, alen, server_sig);
  if (rc == SMTP_OK)
    for (i = 0; i < hl; i++) proof[i] = (unsigned char)(ckey[i] ^ csig[i]);
  smtp__wipe(ckey, sizeof ckey);
  smtp__wipe(skey, sizeof skey);
  smtp__wipe(stored, sizeof stored);
  smtp__wipe(csig, sizeof csig);
  return rc;
}

/* ------------------------------------------------------------------ records */

int smtp_scram_make_record(unsigned int mech, const char *password, const void *salt,
                           size_t salt_len, unsigned int iterations, smtp_scram_record *out) {
  unsigned char ckey[SMTP__HASH_MAX];
  int alg = smtp__scram_alg(mech), rc;
  size_t plen;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (!alg || !password || !salt || salt_len == 0 || salt_len > SMTP_SCRAM_SALT_MAX ||
      iterations == 0)
    return SMTP_ERR_INVALID_ARGUMENT;
  plen = strlen(password);
  if (plen == 0) return SMTP_ERR_INVALID_ARGUMENT;
  out->mech = smtp__scram_family(mech);
  out->iterations = iterations;
  out->salt_len = salt_len;
  memcpy(out->salt, salt, salt_len);
  rc = salted_keys(alg, password, plen, out->salt, salt_len, iterations, ckey, out->server_key);
  if (rc == SMTP_OK) rc = smtp__hash(alg, ckey, smtp__hash_len(alg), out->stored_key);
  smtp__wipe(ckey, sizeof ckey);
  if (rc != SMTP_OK) memset(out, 0, sizeof *out);
  return rc;
}

typedef struct {
  char *p;
  size_t cap, len;
  int overflow;
} wbuf;

static void wput(wbuf *b, const void *d, size_t n) {
  if (b->overflow || n > b->cap - b->len) {
    b->overflow = 1;
    return;
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
}
static void wputs(wbuf *b, const char *s) { wput(b, s, strlen(s)); }
static void wput_b64(wbuf *b, const unsigned char *d, size_t n) {
  smtp_ssize k;
  if (b->overflow || SMTP_BASE64_ENCODED_LEN(n) > b->cap - b->len) {
    b->overflow = 1;
    return;
  }
  k = smtp_base64_encode(d, n, b->p + b->len, b->cap - b->len);
  if (k < 0) b->overflow = 1;
  else b->len += (size_t)k;
}
static void wput_uint(wbuf *b, unsigned int v) {
  char t[SMTP__U64_DIGITS];
  wput(b, t, smtp__fmt_u64(t, v));
}

smtp_ssize smtp_scram_record_format(const char *user, const smtp_scram_record *rec, char *out,
                                    size_t outcap) {
  wbuf b = {out, outcap, 0, 0};
  size_t ul, hl;
  int i;
  if (!user || !rec || (!out && outcap)) return SMTP_ERR_INVALID_ARGUMENT;
  ul = strlen(user);
  i = fam_index(rec->mech);
  hl = smtp_scram_key_len(rec->mech);
  if (ul == 0 || ul > 255 || memchr(user, ':', ul) || i < 0 || rec->mech != fam[i].base ||
      rec->iterations == 0 || rec->salt_len == 0 || rec->salt_len > SMTP_SCRAM_SALT_MAX)
    return SMTP_ERR_INVALID_ARGUMENT;
  for (size_t k = 0; k < ul; k++)
    if ((unsigned char)user[k] < 0x20 || user[k] == 0x7f) return SMTP_ERR_INVALID_ARGUMENT;
  wput(&b, user, ul);
  wputs(&b, ":");
  wputs(&b, fam[i].name);
  wputs(&b, ":");
  wput_uint(&b, rec->iterations);
  wputs(&b, ":");
  wput_b64(&b, rec->salt, rec->salt_len);
  wputs(&b, ":");
  wput_b64(&b, rec->stored_key, hl);
  wputs(&b, ":");
  wput_b64(&b, rec->server_key, hl);
  if (b.overflow || b.len >= outcap) return SMTP_ERR_BUFFER_TOO_SMALL;
  out[b.len] = '\0';
  return (smtp_ssize)b.len;
}

int smtp_scram_record_parse(const char *line, size_t len, smtp_span *user,
                            smtp_scram_record *out) {
  const char *f[6];
  size_t fl[6], n = 0, i, start = 0, hl;
  unsigned long long it = 0;
  unsigned int mech;
  smtp_ssize k;
  if (!line || !user || !out) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  user->ptr = NULL;
  user->len = 0;
  for (i = 0; i <= len; i++) {
    if (i == len || line[i] == ':') {
      if (n == 6) return SMTP_ERR_SYNTAX;
      f[n] = line + start;
      fl[n++] = i - start;
      start = i + 1;
    }
  }
  if (n != 6 || fl[0] == 0 || fl[0] > 255) return SMTP_ERR_SYNTAX;
  for (i = 0; i < fl[0]; i++)
    if ((unsigned char)f[0][i] < 0x20 || f[0][i] == 0x7f) return SMTP_ERR_SYNTAX;
  mech = smtp_sasl_mech_from_name(f[1], fl[1]);
  if (!(mech & SMTP__SASL_SCRAM_BASE)) return SMTP_ERR_SYNTAX;
  if (fl[2] == 0 || fl[2] > 10) return SMTP_ERR_SYNTAX;
  for (i = 0; i < fl[2]; i++) {
    if (!smtp__is_digit((unsigned char)f[2][i])) return SMTP_ERR_SYNTAX;
    it = it * 10 + (unsigned)(f[2][i] - '0');
  }
  if (it == 0 || it > 0xffffffffu) return SMTP_ERR_SYNTAX;
  hl = smtp_scram_key_len(mech);
  k = smtp_base64_decode(f[3], fl[3], out->salt, sizeof out->salt);
  if (k == SMTP_ERR_BUFFER_TOO_SMALL) return SMTP_ERR_SYNTAX;
  if (k < 0) return SMTP_ERR_BASE64;
  if (k == 0) return SMTP_ERR_SYNTAX;
  out->salt_len = (size_t)k;
  k = smtp_base64_decode(f[4], fl[4], out->stored_key, sizeof out->stored_key);
  if (k == SMTP_ERR_BASE64) return SMTP_ERR_BASE64;
  if (k != (smtp_ssize)hl) return SMTP_ERR_SYNTAX;
  k = smtp_base64_decode(f[5], fl[5], out->server_key, sizeof out->server_key);
  if (k == SMTP_ERR_BASE64) return SMTP_ERR_BASE64;
  if (k != (smtp_ssize)hl) return SMTP_ERR_SYNTAX;
  out->mech = mech;
  out->iterations = (unsigned int)it;
  user->ptr = f[0];
  user->len = fl[0];
  return SMTP_OK;
}

/* ------------------------------------------------------------------ server */

int smtp__scram_srv_client_first(smtp__scram_srv *st, unsigned int mech, const char *m,
                                 size_t len, smtp__scram_cfirst *cf) {
  size_t i = 0, pos, vlen;
  const char *val;
  char name;
  int k;
  memset(st, 0, sizeof *st);
  memset(cf, 0, sizeof *cf);
  st->mech = mech;
  st->alg = smtp__scram_alg(mech);
  st->hl = smtp__hash_len(st->alg);
  if (!st->alg || len == 0 || len > SMTP__SCRAM_MSG_MAX || memchr(m, '\0', len)) return -1;
  /* gs2-cbind-flag "," */
  if (m[0] == 'n' || m[0] == 'y') {
    cf->flag = m[0];
    i = 1;
  } else if (len > 2 && m[0] == 'p' && m[1] == '=') {
    i = 2;
    while (i < len && m[i] != ',') i++;
    cf->flag = 'p';
    cf->cbname = m + 2;
    cf->cbname_len = i - 2;
    if (!smtp__scram_cbname_ok(cf->cbname, cf->cbname_len)) return -1;
  } else {
    return -1;
  }
  if (i >= len || m[i] != ',') return -1;
  i++;
  /* [ "a=" saslname ] "," */
  if (i < len && m[i] == 'a') {
    size_t j = i;
    if (len - i < 3 || m[i + 1] != '=') return -1;
    while (j < len && m[j] != ',') j++;
    k = smtp__scram_saslname_decode(m + i + 2, j - i - 2, st->authzid, sizeof st->authzid - 1);
    if (k <= 0) return -1;
    st->authzid_len = (size_t)k;
    i = j;
  }
  if (i >= len || m[i] != ',') return -1;
  i++;
  if (i > sizeof st->gs2) return -1;
  memcpy(st->gs2, m, i);
  st->gs2_len = i;
  /* client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions] */
  pos = i;
  if (smtp__scram_attr(m, len, &pos, &name, &val, &vlen) != 1 || name != 'n') return -1;
  k = smtp__scram_saslname_decode(val, vlen, st->user, sizeof st->user - 1);
  if (k <= 0) return -1;
  st->user_len = (size_t)k;
  if (smtp__scram_attr(m, len, &pos, &name, &val, &vlen) != 1 || name != 'r') return -1;
  if (!smtp__scram_printable(val, vlen) || vlen > SMTP__SCRAM_NONCE_MAX) return -1;
  memcpy(st->nonce, val, vlen);
  st->nonce_len = vlen;
  /* optional extensions: skipped, but they must be well formed */
  while ((k = smtp__scram_attr(m, len, &pos, &name, &val, &vlen)) == 1)
    if (name == 'm') return -1;
  if (k < 0) return -1;
  memcpy(st->authmsg, m + i, len - i);
  st->authmsg_len = len - i;
  return 0;
}

int smtp__scram_srv_server_first(smtp__scram_srv *st, const char *snonce, size_t snlen,
                                 char *out, size_t cap, size_t *outlen) {
  wbuf b = {out, cap, 0, 0}, a;
  if (!smtp__scram_printable(snonce, snlen) || snlen > SMTP__SCRAM_NONCE_MAX ||
      st->rec.salt_len == 0 || st->rec.salt_len > SMTP_SCRAM_SALT_MAX || st->rec.iterations == 0)
    return -1;
  memcpy(st->nonce + st->nonce_len, snonce, snlen);
  st->nonce_len += snlen;
  wputs(&b, "r=");
  wput(&b, st->nonce, st->nonce_len);
  wputs(&b, ",s=");
  wput_b64(&b, st->rec.salt, st->rec.salt_len);
  wputs(&b, ",i=");
  wput_uint(&b, st->rec.iterations);
  if (b.overflow) return -1;
  a.p = st->authmsg;
  a.cap = sizeof st->authmsg;
  a.len = st->authmsg_len;
  a.overflow = 0;
  wputs(&a, ",");
  wput(&a, out, b.len);
  if (a.overflow) return -1;
  st->authmsg_len = a.len;
  st->stage = 1;
  *outlen = b.len;
  return 0;
}

int smtp__scram_srv_client_final(smtp__scram_srv *st, const char *m, size_t len,
                                 const unsigned char *cb, size_t cblen, char *out, size_t cap,
                                 size_t *outlen) {
  size_t pos = 0, vlen, proof_at = 0, i;
  const char *val;
  char name;
  int k, bad = 0;
  unsigned char cbin[SMTP__SCRAM_GS2_MAX + SMTP__SCRAM_CB_MAX], proof[SMTP__HASH_MAX],
      csig[SMTP__HASH_MAX], ckey[SMTP__HASH_MAX], stored[SMTP__HASH_MAX], ssig[SMTP__HASH_MAX];
  smtp_ssize n;
  wbuf a, b = {out, cap, 0, 0};
  if (st->stage != 1 || len == 0 || len > SMTP__SCRAM_MSG_MAX || memchr(m, '\0', len)) return -1;
  /* channel-binding = "c=" base64: the gs2 header, then the cb data when 'p' */
  if (smtp__scram_attr(m, len, &pos, &name, &val, &vlen) != 1 || name != 'c') return -1;
  n = smtp_base64_decode(val, vlen, cbin, sizeof cbin);
  if (n < 0) return -1;
  if ((size_t)n != st->gs2_len + (st->gs2[0] == 'p' ? cblen : 0) ||
      memcmp(cbin, st->gs2, st->gs2_len) != 0 ||
      (st->gs2[0] == 'p' && (cblen == 0 || memcmp(cbin + st->gs2_len, cb, cblen) != 0)))
    return -1;
  /* nonce = "r=" c-nonce s-nonce: exactly the combined nonce */
  if (smtp__scram_attr(m, len, &pos, &name, &val, &vlen) != 1 || name != 'r' ||
      vlen != st->nonce_len || memcmp(val, st->nonce, vlen) != 0)
    return -1;
  /* ["," extensions] "," proof, the proof last */
  for (;;) {
    size_t here = pos;
    k = smtp__scram_attr(m, len, &pos, &name, &val, &vlen);
    if (k != 1) return -1;
    if (name == 'p') {
      if (pos != len) return -1;
      proof_at = here;
      break;
    }
    if (name == 'm') return -1;
  }
  n = smtp_base64_decode(val, vlen, proof, sizeof proof);
  if (n != (smtp_ssize)st->hl) return -1;
  /* AuthMessage: ... "," client-final-message-without-proof */
  a.p = st->authmsg;
  a.cap = sizeof st->authmsg;
  a.len = st->authmsg_len;
  a.overflow = 0;
  wputs(&a, ",");
  wput(&a, m, proof_at - 1);
  if (a.overflow) return -1;
  st->authmsg_len = a.len;
  /* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) == StoredKey */
  if (smtp__hmac(st->alg, st->rec.stored_key, st->hl, st->authmsg, st->authmsg_len, csig) != 0)
    return -1;
  for (i = 0; i < st->hl; i++) ckey[i] = (unsigned char)(proof[i] ^ csig[i]);
  if (smtp__hash(st->alg, ckey, st->hl, stored) != 0) bad = 1;
  if (smtp__scram_ct_diff(stored, st->rec.stored_key, st->hl)) bad = 1;
  if (st->fake) bad = 1;
  smtp__wipe(ckey, sizeof ckey);
  smtp__wipe(csig, sizeof csig);
  smtp__wipe(proof, sizeof proof);
  if (bad) return -1;
  if (smtp__hmac(st->alg, st->rec.server_key, st->hl, st->authmsg, st->authmsg_len, ssig) != 0)
    return -1;
  wputs(&b, "v=");
  wput_b64(&b, ssig, st->hl);
  if (b.overflow) return -1;
  st->stage = 2;
  *outlen = b.len;
  return 0;
}
