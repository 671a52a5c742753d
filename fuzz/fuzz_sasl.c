/* libFuzzer target for SASL: PLAIN messages (RFC 4616 2), raw and as the
 * base64 an AUTH PLAIN line carries (RFC 4954 4), on every input; then,
 * chosen by the first byte, one of:
 *
 *  0  the SCRAM client (every family, -PLUS and not, with and without
 *     channel-binding data) answering the rest as server-first and
 *     server-final messages (split at the first NUL), and EXTERNAL;
 *  1  the SCRAM server verifier parsing the rest as client-first and
 *     client-final messages (split at the first NUL);
 *  2  a server session with every built-in verifier (SCRAM from a stored
 *     key, EXTERNAL, XOAUTH2/OAUTHBEARER, channel binding) reading the rest
 *     as client lines after EHLO;
 *  3  a stored-key record line (smtp_scram_record_parse/_format), or,
 *     with bit 2 of the first byte set, SASLprep (RFC 4013) of the rest
 *     as a stored string and as a query.
 *
 * Invariants: a PLAIN message that decodes has exactly two NULs, a
 * non-empty authcid and passwd, fields of at most 255 octets and no NUL
 * inside a field, and re-encodes to itself; the SCRAM client believes a
 * success only after the server's signature verified; its answers fit its
 * buffer, start with "c=" and carry the proof last; the server verifier
 * never accepts a proof from this input (it cannot know the password); the
 * session's output is well-formed replies, it allocates nothing after
 * creation, never authenticates anyone from this input except through
 * EXTERNAL (whose identity is given), and its trace never shows the
 * client's SASL lines; a record that parses formats back to a line that
 * parses to the same record; SASLprep fails only with its documented
 * errors, its output is valid UTF-8, preparing it again gives it back, and
 * a stored string that prepares prepares the same as a query. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/address.h>
#include <smtp/reply.h>
#include <smtp/sasl.h>
#include <smtp/server.h>

#include "client_auth.h"
#include "scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

static void check_message(const char *msg, size_t len) {
  smtp_sasl_plain p;
  char z[256], c[256], w[256], out[1024];
  int rc = smtp_sasl_plain_decode(msg, len, &p);
  CHECK(rc == SMTP_OK || rc == SMTP_ERR_SYNTAX || rc == SMTP_ERR_UTF8 ||
        rc == SMTP_ERR_TOO_LONG);
  if (rc != SMTP_OK) return;
  CHECK(p.authcid.len > 0 && p.passwd.len > 0);
  CHECK(p.authzid.len <= 255 && p.authcid.len <= 255 && p.passwd.len <= 255);
  CHECK(p.authzid.len + p.authcid.len + p.passwd.len + 2 == len);
  CHECK(!memchr(p.authcid.ptr, 0, p.authcid.len) && !memchr(p.passwd.ptr, 0, p.passwd.len));
  CHECK(p.authzid.len == 0 || !memchr(p.authzid.ptr, 0, p.authzid.len));
  memcpy(z, p.authzid.ptr ? p.authzid.ptr : "", p.authzid.len);
  z[p.authzid.len] = 0;
  memcpy(c, p.authcid.ptr, p.authcid.len);
  c[p.authcid.len] = 0;
  memcpy(w, p.passwd.ptr, p.passwd.len);
  w[p.passwd.len] = 0;
  smtp_ssize n = smtp_sasl_plain_encode(p.authzid.len ? z : NULL, c, w, out, sizeof(out));
  CHECK(n == (smtp_ssize)len);
  CHECK(memcmp(out, msg, len) == 0);
}

static const unsigned int mechs[] = {
    SMTP_SASL_SCRAM_SHA_1,      SMTP_SASL_SCRAM_SHA_256,      SMTP_SASL_SCRAM_SHA_512,
    SMTP_SASL_SCRAM_SHA_1_PLUS, SMTP_SASL_SCRAM_SHA_256_PLUS, SMTP_SASL_SCRAM_SHA_512_PLUS,
    SMTP_SASL_EXTERNAL};
static const unsigned char CB[32] = {7, 7, 7};

/* Split at the first NUL. */
static void split(const char *d, size_t n, const char **a, size_t *al, const char **b, size_t *bl) {
  const char *z = memchr(d, 0, n);
  *a = d;
  *al = z ? (size_t)(z - d) : n;
  *b = z ? z + 1 : d + n;
  *bl = z ? n - *al - 1 : 0;
}

static void scram_client(uint8_t sel, const char *d, size_t n) {
  smtp__sasl_client s;
  smtp__sasl_creds cr;
  char out[4096];
  size_t olen = 0, al, bl;
  const char *a, *b;
  int ir, r1, r2;
  unsigned int mech = mechs[sel % 7];
  memset(&cr, 0, sizeof cr);
  cr.user = "us,er=";
  cr.user_len = 6;
  cr.pass = "pencil";
  cr.pass_len = 6;
  cr.authzid = (sel & 8) ? "admin" : NULL;
  cr.authzid_len = (sel & 8) ? 5 : 0;
  if (sel & 16) {
    cr.cb_name = "tls-exporter";
    cr.cb_data = CB;
    cr.cb_len = sizeof CB;
  }
  cr.max_iter = 5000; /* keep PBKDF2 cheap under fuzzing */
  r1 = smtp__sasl_client_start(&s, mech, &cr, "fuzzNONCE", 9, out, sizeof out, &olen, &ir);
  if (r1 != SMTP_OK) {
    CHECK(smtp__scram_is_plus(mech) && !cr.cb_name);
    return;
  }
  CHECK(olen <= sizeof out);
  split(d, n, &a, &al, &b, &bl);
  r1 = smtp__sasl_client_step(&s, &cr, a, al, out, sizeof out, &olen);
  CHECK(!smtp__sasl_client_success_ok(&s) || mech == SMTP_SASL_EXTERNAL);
  if (mech == SMTP_SASL_EXTERNAL) {
    CHECK(r1 == 1);
    return;
  }
  if (r1 == SMTP_OK) {
    CHECK(olen > 2 && olen <= sizeof out && memcmp(out, "c=", 2) == 0);
    {
      size_t i = olen;
      while (i > 0 && out[i - 1] != ',') i--;
      CHECK(i > 0 && olen - i > 2 && out[i] == 'p' && out[i + 1] == '='); /* the proof last */
    }
  }
  r2 = smtp__sasl_client_step(&s, &cr, b, bl, out, sizeof out, &olen);
  if (smtp__sasl_client_success_ok(&s)) CHECK(r1 == SMTP_OK && r2 == SMTP_OK && olen == 0);
  smtp__sasl_client_wipe(&s);
}

static void scram_server(uint8_t sel, const char *d, size_t n) {
  static smtp__scram_srv st;
  smtp__scram_cfirst cf;
  char out[2048];
  size_t olen = 0, al, bl;
  const char *a, *b;
  unsigned int mech = mechs[sel % 6];
  split(d, n, &a, &al, &b, &bl);
  if (smtp__scram_srv_client_first(&st, mech, a, al, &cf) != 0) return;
  CHECK(cf.flag == 'n' || cf.flag == 'y' || cf.flag == 'p');
  CHECK(st.user_len > 0 && st.user_len < sizeof st.user);
  CHECK(st.gs2_len > 0 && st.gs2_len <= al);
  CHECK(smtp_scram_make_record(mech, "pencil", "saltsalt", 8, 1, &st.rec) == SMTP_OK);
  CHECK(smtp__scram_srv_server_first(&st, "srvNONCE", 8, out, sizeof out, &olen) == 0);
  CHECK(olen > 2 && memcmp(out, "r=", 2) == 0);
  CHECK(smtp__scram_srv_client_final(&st, b, bl, CB, (sel & 16) ? sizeof CB : 0, out, sizeof out,
                                     &olen) != 0);
}

/* ---------------------------------------------------------------- session */

typedef struct {
  size_t allocs;
} fmem;
static void *f_malloc(size_t n, void *ud) {
  ((fmem *)ud)->allocs++;
  return malloc(n ? n : 1);
}
static void f_free(void *p, void *ud) {
  (void)ud;
  free(p);
}
static void *f_calloc(size_t a, size_t b, void *ud) {
  ((fmem *)ud)->allocs++;
  return calloc(a ? a : 1, b ? b : 1);
}
static void *f_realloc(void *p, size_t n, void *ud) {
  ((fmem *)ud)->allocs++;
  return realloc(p, n ? n : 1);
}

static int det_random(void *buf, size_t len, void *ud) {
  (void)ud;
  memset(buf, 0x5a, len);
  return 0;
}
static int lookup(smtp_server_session *s, unsigned int mech, const char *user, size_t len,
                  smtp_scram_record *rec, void *ud) {
  static smtp_scram_record cache[3];
  static int made[3];
  int i = mech == SMTP_SASL_SCRAM_SHA_1 ? 0 : mech == SMTP_SASL_SCRAM_SHA_256 ? 1 : 2;
  (void)s;
  (void)ud;
  if (len != 4 || memcmp(user, "user", 4) != 0) return SMTP_ERR_NOT_FOUND;
  if (!made[i]) { /* PBKDF2 once per family, not per run */
    CHECK(smtp_scram_make_record(mech, "pencil", "0123456789abcdef", 16, 4096, &cache[i]) == SMTP_OK);
    made[i] = 1;
  }
  *rec = cache[i];
  return 0;
}
static int token_cb(smtp_server_session *s, const smtp_server_token *t, void *ud) {
  (void)s;
  (void)t;
  (void)ud;
  return SMTP_ERR_CALLBACK_REFUSED; /* no token is valid */
}
static int trace_ok = 1;
static int on_trace(smtp_server_session *s, int dir, const char *line, size_t len, void *ud) {
  (void)s;
  (void)ud;
  /* while an exchange runs the client's lines are shown as "***" or the verb */
  if (dir == SMTP_SERVER_TRACE_IN && len > 5 && memcmp(line, "AUTH ", 5) == 0) {
    const char *sp = memchr(line + 5, ' ', len - 5);
    if (sp && !(len - (size_t)(sp + 1 - line) == 3 && memcmp(sp + 1, "***", 3) == 0)) trace_ok = 0;
  }
  return 0;
}

static void session(uint8_t sel, const char *d, size_t n) {
  fmem fm = {0};
  smtp_mem mem = {&fm, f_malloc, f_free, f_calloc, f_realloc};
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  smtp_server_session *s;
  smtp_reply_parser *rp;
  static char obuf[1 << 18];
  size_t before, uid_len = 0, olen, off = 0;
  const char *uid;
  CHECK(smtp_server_options_new(&o, NULL) == SMTP_OK);
  CHECK(smtp_server_callbacks_new(&cb, NULL) == SMTP_OK);
  smtp_server_options_set_allow_plaintext_auth(o, 1);
  smtp_server_options_set_max_auth_failures(o, 0);
  smtp_server_options_set_auth_mechs(o, SMTP_SASL_SCRAM_SHA_1 | SMTP_SASL_SCRAM_SHA_256 |
                                            SMTP_SASL_SCRAM_SHA_512 | SMTP_SASL_SCRAM_SHA_1_PLUS |
                                            SMTP_SASL_SCRAM_SHA_256_PLUS |
                                            SMTP_SASL_SCRAM_SHA_512_PLUS | SMTP_SASL_EXTERNAL |
                                            SMTP_SASL_XOAUTH2 | SMTP_SASL_OAUTHBEARER);
  smtp_server_options_set_random(o, det_random, NULL);
  smtp_server_callbacks_set_scram_lookup(cb, lookup);
  smtp_server_callbacks_set_token(cb, token_cb);
  smtp_server_callbacks_set_trace(cb, on_trace);
  CHECK(smtp_server_session_new(&s, cb, NULL, o, &mem) == SMTP_OK);
  smtp_server_options_del(o);
  smtp_server_callbacks_del(cb);
  if (sel & 16) CHECK(smtp_server_session_set_channel_binding(s, "tls-exporter", CB, sizeof CB) == SMTP_OK);
  if (sel & 64)
    CHECK(smtp_server_session_set_channel_binding(s, "tls-server-end-point", CB + 1, 31) == SMTP_OK);
  if (sel & 32) CHECK(smtp_server_session_set_external_identity(s, "cn=x", 4) == SMTP_OK);
  before = fm.allocs;
  trace_ok = 1;
  olen = 0;
  (void)smtp_server_session_mem_recv(s, "EHLO fuzz\r\n", 11);
  for (;;) {
    const char *out;
    smtp_ssize k, r = 0;
    while ((k = smtp_server_session_mem_send(s, &out)) > 0) {
      if (olen + (size_t)k <= sizeof obuf) memcpy(obuf + olen, out, (size_t)k);
      olen += (size_t)k;
      smtp_server_session_mem_consume(s, (size_t)k);
    }
    if (off >= n) break;
    r = smtp_server_session_mem_recv(s, d + off, n - off);
    if (r <= 0) break;
    off += (size_t)r;
  }
  CHECK(fm.allocs == before);
  CHECK(trace_ok);
  uid = smtp_server_session_auth_user(s, &uid_len);
  if (uid && uid_len) CHECK(uid_len == 4 && memcmp(uid, "cn=x", 4) == 0 && (sel & 32));
  smtp_server_session_del(s);
  /* everything sent parses as replies */
  if (olen <= sizeof obuf) {
    size_t p = 0;
    CHECK(smtp_reply_parser_new(&rp, 0, 0, NULL) == SMTP_OK);
    while (p < olen) {
      smtp_ssize k = smtp_reply_parser_feed(rp, obuf + p, olen - p);
      CHECK(k > 0 && smtp_reply_parser_done(rp));
      p += (size_t)k;
    }
    smtp_reply_parser_del(rp);
  }
}

static void record(const char *d, size_t n) {
  smtp_scram_record r, r2;
  smtp_span u, u2;
  char user[256], line[1024];
  smtp_ssize k;
  if (smtp_scram_record_parse(d, n, &u, &r) != SMTP_OK) return;
  CHECK(u.len > 0 && u.len <= 255);
  memcpy(user, u.ptr, u.len);
  user[u.len] = 0;
  k = smtp_scram_record_format(user, &r, line, sizeof line);
  CHECK(k > 0);
  CHECK(smtp_scram_record_parse(line, (size_t)k, &u2, &r2) == SMTP_OK);
  CHECK(u2.len == u.len && memcmp(u2.ptr, user, u.len) == 0);
  CHECK(memcmp(&r, &r2, sizeof r) == 0);
}

static void saslprep(const char *d, size_t n) {
  static char a[4 * SMTP_SASLPREP_MAX + 1], b[4 * SMTP_SASLPREP_MAX + 1], q[4 * SMTP_SASLPREP_MAX + 1];
  smtp_ssize ka = smtp_sasl_saslprep(d, n, 0, a, sizeof a), kq, kb;
  kq = smtp_sasl_saslprep(d, n, SMTP_SASLPREP_QUERY, q, sizeof q);
  CHECK(ka >= 0 || ka == SMTP_ERR_SASLPREP || ka == SMTP_ERR_UTF8 || ka == SMTP_ERR_TOO_LONG);
  CHECK(kq >= 0 || kq == SMTP_ERR_SASLPREP || kq == SMTP_ERR_UTF8 || kq == SMTP_ERR_TOO_LONG);
  if (ka >= 0) CHECK(kq == ka && memcmp(a, q, (size_t)ka) == 0);
  if (kq < 0) return;
  CHECK(smtp_utf8_validate(q, (size_t)kq) == SMTP_OK);
  CHECK(!memchr(q, 0, (size_t)kq)); /* U+0000 is prohibited (C.2.1) */
  if ((size_t)kq > SMTP_SASLPREP_MAX) return;
  kb = smtp_sasl_saslprep(q, (size_t)kq, SMTP_SASLPREP_QUERY, b, sizeof b);
  CHECK(kb == kq && memcmp(b, q, (size_t)kq) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char dec[4096];
  if (size > 4096) size = 4096;
  check_message((const char *)data, size);
  smtp_ssize n = smtp_base64_decode((const char *)data, size, dec, sizeof(dec));
  if (n >= 0) check_message(dec, (size_t)n);
  if (size < 2) return 0;
  switch (data[0] & 3) {
  case 0: scram_client(data[1], (const char *)data + 2, size - 2); break;
  case 1: scram_server(data[1], (const char *)data + 2, size - 2); break;
  case 2: session(data[1], (const char *)data + 2, size - 2); break;
  default:
    if (data[0] & 4) saslprep((const char *)data + 2, size - 2);
    else record((const char *)data + 2, size - 2);
    break;
  }
  return 0;
}
