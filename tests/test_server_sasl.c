/* The server session's own SASL verifiers: SCRAM-SHA-1/-256/-512 and their
 * -PLUS forms from stored keys (RFC 5802, RFC 7677), EXTERNAL (RFC 4422
 * appendix A), OAUTHBEARER (RFC 7628) and XOAUTH2 through the token
 * callback. The SCRAM client side is libsmtp's own client core, so each
 * exchange runs end to end; lines are fed whole and one byte at a time.
 * Also: malformed messages at each step (535 / 501, RFC 4954 4), the
 * failure limit, channel-binding mismatch and downgrade, and a trace that
 * shows no proof, token or password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/features.h>
#include <smtp/sasl.h>
#include <smtp/server.h>

#include "client_auth.h"
#include "scram.h"

typedef struct {
  smtp_server_session *s;
  int bytes;            /* feed one byte at a time */
  char out[16384];
  size_t outlen;
  char trace[65536];
  size_t tracelen;
  int lookups;
} H;

static const unsigned char CB[32] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3};

static int det_random(void *buf, size_t len, void *ud) {
  static unsigned char c = 0;
  (void)ud;
  for (size_t i = 0; i < len; i++) ((unsigned char *)buf)[i] = c++;
  return 0;
}

static int lookup(smtp_server_session *s, unsigned int mech, const char *user, size_t len,
                  smtp_scram_record *rec, void *ud) {
  H *h = ud;
  (void)s;
  h->lookups++;
  if (len != 4 || memcmp(user, "user", 4) != 0) return SMTP_ERR_NOT_FOUND;
  return smtp_scram_make_record(mech, "pencil", "0123456789abcdef", 16, 4096, rec);
}

static int token_cb(smtp_server_session *s, const smtp_server_token *t, void *ud) {
  (void)s;
  (void)ud;
  if (t->token.len == 9 && memcmp(t->token.ptr, "good-tok1", 9) == 0) return 0;
  return SMTP_ERR_CALLBACK_REFUSED;
}

static int trace_cb(smtp_server_session *s, int dir, const char *line, size_t len, void *ud) {
  H *h = ud;
  (void)s;
  if (h->tracelen + len + 3 < sizeof h->trace) {
    h->trace[h->tracelen++] = dir == SMTP_SERVER_TRACE_IN ? 'C' : 'S';
    memcpy(h->trace + h->tracelen, line, len);
    h->tracelen += len;
    h->trace[h->tracelen++] = '\n';
  }
  return 0;
}

static void pump(H *h) {
  const char *d;
  smtp_ssize n;
  while ((n = smtp_server_session_mem_send(h->s, &d)) > 0) {
    assert_true(h->outlen + (size_t)n < sizeof h->out);
    memcpy(h->out + h->outlen, d, (size_t)n);
    h->outlen += (size_t)n;
    h->out[h->outlen] = 0;
    assert_int_equal(smtp_server_session_mem_consume(h->s, (size_t)n), 0);
  }
}

/* Feed one line (CRLF added) and return what the server answered. */
static const char *say(H *h, const char *line) {
  char buf[4096];
  size_t n = strlen(line);
  assert_true(n + 2 < sizeof buf);
  memcpy(buf, line, n);
  memcpy(buf + n, "\r\n", 2);
  n += 2;
  h->outlen = 0;
  h->out[0] = 0;
  if (h->bytes) {
    for (size_t i = 0; i < n; i++) assert_int_equal(smtp_server_session_mem_recv(h->s, buf + i, 1), 1);
  } else {
    assert_int_equal(smtp_server_session_mem_recv(h->s, buf, n), (smtp_ssize)n);
  }
  pump(h);
  return h->out;
}

enum { F_CB = 1, F_EXT = 2, F_MAXFAIL3 = 4, F_NO_RANDOM = 8 };

static void start(H *h, int bytes, unsigned int mechs, int flags) {
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  memset(h, 0, sizeof *h);
  h->bytes = bytes;
  assert_int_equal(smtp_server_options_new(&o, NULL), 0);
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), 0);
  assert_int_equal(smtp_server_options_set_allow_plaintext_auth(o, 1), 0);
  assert_int_equal(smtp_server_options_set_auth_mechs(o, mechs), 0);
  if (flags & F_MAXFAIL3) assert_int_equal(smtp_server_options_set_max_auth_failures(o, 3), 0);
  if (!(flags & F_NO_RANDOM)) assert_int_equal(smtp_server_options_set_random(o, det_random, NULL), 0);
  smtp_server_callbacks_set_scram_lookup(cb, lookup);
  smtp_server_callbacks_set_token(cb, token_cb);
  smtp_server_callbacks_set_trace(cb, trace_cb);
  assert_int_equal(smtp_server_session_new(&h->s, cb, h, o, NULL), 0);
  smtp_server_options_del(o);
  smtp_server_callbacks_del(cb);
  if (flags & F_CB)
    assert_int_equal(smtp_server_session_set_channel_binding(h->s, "tls-exporter", CB, sizeof CB), 0);
  if (flags & F_EXT)
    assert_int_equal(smtp_server_session_set_external_identity(h->s, "cn=client", 9), 0);
  h->outlen = 0;
  assert_int_equal(smtp_server_session_mem_recv(h->s, "", 0), 0);
  pump(h);
  assert_true(strncmp(h->out, "220 ", 4) == 0);
}

static void end(H *h) { smtp_server_session_del(h->s); }

static void b64line(const char *prefix, const void *d, size_t n, char *out, size_t cap) {
  size_t pl = strlen(prefix);
  smtp_ssize k;
  memcpy(out, prefix, pl);
  if (n == 0 && pl) {
    strcpy(out + pl, "=");
    return;
  }
  k = smtp_base64_encode(d, n, out + pl, cap - pl - 1);
  assert_true(k >= 0);
  out[pl + (size_t)k] = 0;
}

/* Decode the text of a "334 " reply. */
static size_t chal(const char *reply, char *out, size_t cap) {
  const char *e;
  smtp_ssize k;
  assert_true(strncmp(reply, "334 ", 4) == 0);
  e = strstr(reply, "\r\n");
  assert_non_null(e);
  k = smtp_base64_decode(reply + 4, (size_t)(e - reply - 4), out, cap);
  assert_true(k >= 0);
  return (size_t)k;
}

#define SCRAM_ALL                                                                            \
  (SMTP_SASL_SCRAM_SHA_1 | SMTP_SASL_SCRAM_SHA_256 | SMTP_SASL_SCRAM_SHA_512 |                \
   SMTP_SASL_SCRAM_SHA_1_PLUS | SMTP_SASL_SCRAM_SHA_256_PLUS | SMTP_SASL_SCRAM_SHA_512_PLUS)

/* Run a SCRAM exchange with the client core; returns the final reply. */
static const char *scram(H *h, unsigned int mech, const char *user, const char *pass,
                         const char *cbname, const unsigned char *cbd, char *proof_b64) {
  smtp__sasl_client c;
  smtp__sasl_creds cr;
  char raw[2048], line[4096];
  size_t n;
  int ir;
  const char *r;
  memset(&cr, 0, sizeof cr);
  cr.user = user;
  cr.user_len = strlen(user);
  cr.pass = pass;
  cr.pass_len = strlen(pass);
  cr.cb_name = cbname;
  cr.cb_data = cbd;
  cr.cb_len = cbd ? 32 : 0;
  assert_int_equal(smtp__sasl_client_start(&c, mech, &cr, "clientNONCE", 11, raw, sizeof raw, &n, &ir), 0);
  snprintf(line, sizeof line, "AUTH %s ", smtp_sasl_mech_name(mech));
  b64line(line, raw, n, line, sizeof line);
  r = say(h, line);
  if (strncmp(r, "334 ", 4) != 0) return r;
  n = chal(r, raw, sizeof raw);
  if (smtp__sasl_client_step(&c, &cr, raw, n, raw, sizeof raw, &n) != 0) return "client refused";
  b64line("", raw, n, line, sizeof line);
  if (proof_b64) {
    char *p = strstr(raw, ",p=");
    assert_non_null(p);
    strcpy(proof_b64, p + 3);
    proof_b64[n - (size_t)(p + 3 - raw)] = 0;
  }
  r = say(h, line);
  if (strncmp(r, "334 ", 4) != 0) return r;
  n = chal(r, raw, sizeof raw);
  if (smtp__sasl_client_step(&c, &cr, raw, n, raw, sizeof raw, &n) != 0) return "server not verified";
  return say(h, "");
}

#define AUTH_OK "235 2.7.0 Authentication successful\r\n"
#define AUTH_BAD "535 5.7.8 Authentication credentials invalid\r\n"

static void test_scram_families(void **state) {
  static const unsigned int base[] = {SMTP_SASL_SCRAM_SHA_1, SMTP_SASL_SCRAM_SHA_256,
                                      SMTP_SASL_SCRAM_SHA_512};
  H h;
  char proof[200];
  (void)state;
  for (int bytes = 0; bytes < 2; bytes++) {
    for (size_t i = 0; i < 3; i++) {
      size_t ul;
      const char *u;
      /* plain SCRAM, flag "n" */
      start(&h, bytes, SCRAM_ALL | SMTP_SASL_PLAIN, 0);
      assert_non_null(strstr(say(&h, "EHLO c.example"),
                             "250-AUTH SCRAM-SHA-512 SCRAM-SHA-256 SCRAM-SHA-1\r\n"));
      assert_string_equal(scram(&h, base[i], "user", "pencil", NULL, NULL, proof), AUTH_OK);
      u = smtp_server_session_auth_user(h.s, &ul);
      assert_int_equal(ul, 4);
      assert_memory_equal(u, "user", 4);
      /* the trace never shows the proof or the password */
      assert_null(strstr(h.trace, proof));
      assert_null(strstr(h.trace, "pencil"));
      assert_non_null(strstr(h.trace, "S235 2.7.0")); /* the trace is complete */
      end(&h);
      /* -PLUS with the session's channel binding */
      start(&h, bytes, SCRAM_ALL, F_CB);
      assert_non_null(strstr(say(&h, "EHLO c.example"),
                             "250-AUTH SCRAM-SHA-512-PLUS SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS "
                             "SCRAM-SHA-512 SCRAM-SHA-256 SCRAM-SHA-1\r\n"));
      assert_string_equal(scram(&h, smtp__scram_plus_of(base[i]), "user", "pencil", "tls-exporter",
                                CB, NULL),
                          AUTH_OK);
      end(&h);
    }
  }
}

static void test_scram_failures(void **state) {
  H h;
  unsigned char other[32];
  char resp[64];
  (void)state;
  memcpy(other, CB, 32);
  other[5] ^= 0x40;
  /* wrong password, unknown user (a full exchange, then 535), and the limit */
  start(&h, 0, SCRAM_ALL, F_MAXFAIL3);
  say(&h, "EHLO c.example");
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256, "user", "pencyl", NULL, NULL, NULL), AUTH_BAD);
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256, "nobody", "pencil", NULL, NULL, NULL), AUTH_BAD);
  assert_int_equal(h.lookups, 2);
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_1, "user", "x", NULL, NULL, NULL),
                      AUTH_BAD "421 4.7.0 localhost Too many errors\r\n");
  end(&h);

  start(&h, 1, SCRAM_ALL, F_CB | F_MAXFAIL3);
  say(&h, "EHLO c.example");
  /* channel-binding data that differ from the server's */
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256_PLUS, "user", "pencil", "tls-exporter", other, NULL),
                      AUTH_BAD);
  /* another channel-binding type */
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256_PLUS, "user", "pencil", "tls-unique", CB, NULL),
                      AUTH_BAD);
  /* "y" while this server offers -PLUS: a downgrade (RFC 5802 6) */
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256, "user", "pencil", "tls-exporter", CB, NULL),
                      AUTH_BAD "421 4.7.0 localhost Too many errors\r\n");
  end(&h);

  /* "y" to a server without -PLUS is fine */
  start(&h, 0, SCRAM_ALL, 0);
  say(&h, "EHLO c.example");
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_512, "user", "pencil", "tls-exporter", CB, NULL), AUTH_OK);
  end(&h);

  /* malformed messages at each step */
  start(&h, 0, SCRAM_ALL, 0);
  assert_int_equal(smtp_server_options_set_max_auth_failures(NULL, 3), SMTP_ERR_INVALID_ARGUMENT);
  say(&h, "EHLO c.example");
  /* -PLUS is not offered without channel binding */
  assert_string_equal(say(&h, "AUTH SCRAM-SHA-256-PLUS cD10bHMtZXhwb3J0ZXIsLG49dXNlcixyPWFiYw=="),
                      "504 5.5.4 Unrecognized authentication type\r\n");
  assert_string_equal(say(&h, "AUTH SCRAM-SHA-256 !!!!"), "501 5.5.2 Cannot decode response\r\n");
  b64line("AUTH SCRAM-SHA-256 ", "n,,r=abc", 8, resp, sizeof resp); /* no n= */
  assert_string_equal(say(&h, resp), AUTH_BAD);
  b64line("AUTH SCRAM-SHA-256 ", "p=tls-exporter,,n=user,r=abc", 28, resp, sizeof resp);
  assert_string_equal(say(&h, resp), AUTH_BAD); /* "p" on a mechanism without -PLUS */
  /* no initial response: "334 ", then the client-first */
  assert_string_equal(say(&h, "AUTH SCRAM-SHA-1"), "334 \r\n");
  b64line("", "n,,n=user,r=abc", 15, resp, sizeof resp);
  assert_true(strncmp(say(&h, resp), "334 ", 4) == 0);
  b64line("", "c=biws,r=abc,p=AAAA", 19, resp, sizeof resp); /* nonce not extended */
  assert_string_equal(say(&h, resp), AUTH_BAD);
  assert_string_equal(say(&h, "AUTH SCRAM-SHA-1"), "334 \r\n");
  /* the fifth failure (501 counts too): 421 (the failure limit, default 5) */
  assert_string_equal(say(&h, "*"),
                      "501 5.7.0 Authentication cancelled\r\n421 4.7.0 localhost Too many errors\r\n");
  end(&h);

  /* without a random source SCRAM is not offered */
  start(&h, 0, SCRAM_ALL | SMTP_SASL_PLAIN, F_NO_RANDOM);
  assert_null(strstr(say(&h, "EHLO c.example"), "SCRAM"));
  end(&h);
}

static void test_external(void **state) {
  H h;
  size_t ul;
  const char *u;
  (void)state;
  start(&h, 0, SMTP_SASL_EXTERNAL | SMTP_SASL_PLAIN, 0);
  assert_null(strstr(say(&h, "EHLO c.example"), "EXTERNAL"));
  /* no handler for any enabled mechanism: AUTH is not implemented */
  assert_string_equal(say(&h, "AUTH EXTERNAL ="), "502 5.5.1 Command not implemented\r\n");
  end(&h);
  for (int bytes = 0; bytes < 2; bytes++) {
    start(&h, bytes, SMTP_SASL_EXTERNAL, F_EXT);
    assert_non_null(strstr(say(&h, "EHLO c.example"), "250-AUTH EXTERNAL\r\n"));
    assert_string_equal(say(&h, "AUTH EXTERNAL YWRtaW4="), AUTH_BAD); /* "admin" */
    assert_string_equal(say(&h, "AUTH EXTERNAL Y249Y2xpZW50"), AUTH_OK); /* "cn=client" */
    u = smtp_server_session_auth_user(h.s, &ul);
    assert_int_equal(ul, 9);
    assert_memory_equal(u, "cn=client", 9);
    end(&h);
    start(&h, bytes, SMTP_SASL_EXTERNAL, F_EXT);
    say(&h, "EHLO c.example");
    assert_string_equal(say(&h, "AUTH EXTERNAL"), "334 \r\n");
    assert_string_equal(say(&h, ""), AUTH_OK);
    end(&h);
  }
  assert_int_equal(smtp_server_session_set_external_identity(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
}

static void test_tokens(void **state) {
  H h;
  char line[512];
  static const char ob_good[] = "n,a=user,\001host=mx\001auth=Bearer good-tok1\001\001";
  static const char ob_bad[] = "n,a=user,\001auth=Bearer bad-token\001\001";
  static const char xo_good[] = "user=user\001auth=Bearer good-tok1\001\001";
  static const char xo_bad[] = "user=user\001auth=Bearer worse-tok\001\001";
  static const char json[] = "{\"status\":\"invalid_token\",\"schemes\":\"bearer\"}";
  char dec[256];
  (void)state;
  for (int bytes = 0; bytes < 2; bytes++) {
    start(&h, bytes, SMTP_SASL_OAUTHBEARER | SMTP_SASL_XOAUTH2, 0);
    assert_non_null(strstr(say(&h, "EHLO c.example"), "250-AUTH OAUTHBEARER XOAUTH2\r\n"));
    b64line("AUTH OAUTHBEARER ", ob_bad, sizeof ob_bad - 1, line, sizeof line);
    /* RFC 7628 3.2.2: the error challenge, then 535 after the client's ^A */
    assert_int_equal(chal(say(&h, line), dec, sizeof dec), sizeof json - 1);
    assert_memory_equal(dec, json, sizeof json - 1);
    assert_string_equal(say(&h, "AQ=="), AUTH_BAD);
    b64line("AUTH XOAUTH2 ", xo_bad, sizeof xo_bad - 1, line, sizeof line);
    assert_true(strncmp(say(&h, line), "334 ", 4) == 0);
    assert_string_equal(say(&h, ""), AUTH_BAD);
    /* malformed: no final ^A, no auth= */
    b64line("AUTH OAUTHBEARER ", "n,,\001auth=Bearer x\001", 19, line, sizeof line);
    assert_string_equal(say(&h, line), AUTH_BAD);
    b64line("AUTH XOAUTH2 ", "user=u\001\001", 8, line, sizeof line);
    assert_string_equal(say(&h, line), AUTH_BAD);
    b64line("AUTH XOAUTH2 ", "user=u\001\001", 8, line, sizeof line); /* the fifth failure */
    assert_string_equal(say(&h, line), AUTH_BAD "421 4.7.0 localhost Too many errors\r\n");
    end(&h);
    start(&h, bytes, SMTP_SASL_OAUTHBEARER | SMTP_SASL_XOAUTH2, 0);
    say(&h, "EHLO c.example");
    b64line("AUTH OAUTHBEARER ", ob_good, sizeof ob_good - 1, line, sizeof line);
    assert_string_equal(say(&h, line), AUTH_OK);
    assert_null(strstr(h.trace, "good-tok1"));
    assert_non_null(strstr(h.trace, "CAUTH OAUTHBEARER ***\n"));
    assert_null(strstr(h.trace, line + 17)); /* the base64 form neither */
    end(&h);
    start(&h, bytes, SMTP_SASL_XOAUTH2, 0);
    say(&h, "EHLO c.example");
    b64line("AUTH XOAUTH2 ", xo_good, sizeof xo_good - 1, line, sizeof line);
    assert_string_equal(say(&h, line), AUTH_OK);
    end(&h);
  }
}

/* An unknown user gets the same made-up salt on every try (derived from a
 * secret drawn when the random source was set), like a real user's. */
static void test_unknown_user_salt(void **state) {
  H h;
  char line[256], first[2][512];
  size_t n;
  (void)state;
  start(&h, 0, SCRAM_ALL, 0);
  say(&h, "EHLO c.example");
  for (int i = 0; i < 2; i++) {
    char nonce[32];
    snprintf(nonce, sizeof nonce, "n,,n=nobody,r=abc%d", i);
    b64line("AUTH SCRAM-SHA-256 ", nonce, strlen(nonce), line, sizeof line);
    n = chal(say(&h, line), first[i], sizeof first[i] - 1);
    first[i][n] = 0;
    assert_string_equal(say(&h, "*"), "501 5.7.0 Authentication cancelled\r\n");
  }
  assert_non_null(strstr(first[0], ",s="));
  assert_string_equal(strstr(first[0], ",s="), strstr(first[1], ",s="));
  assert_non_null(strstr(first[0], ",i=4096"));
  end(&h);
}

/* A malformed AUTH line is traced as its verb only: it may carry a
 * credential all the same. */
static void test_trace_malformed(void **state) {
  H h;
  (void)state;
  start(&h, 0, SMTP_SASL_OAUTHBEARER, 0);
  say(&h, "EHLO c.example");
  say(&h, "AUTH OAUTH\001BEARER c2VjcmV0LXRva2Vu");
  say(&h, "AUTH\tOAUTHBEARER c2VjcmV0LXRva2Vu");
  assert_null(strstr(h.trace, "c2VjcmV0LXRva2Vu"));
  assert_non_null(strstr(h.trace, "CAUTH ***\n"));
  end(&h);
}

static void test_settings(void **state) {
  smtp_server_options *o;
  (void)state;
  assert_int_equal(smtp_server_options_new(&o, NULL), 0);
  assert_int_equal(smtp_server_options_set_scram_iterations(o, 0, 10), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_scram_iterations(o, 10, 9), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_scram_iterations(o, 4096, 4096), 0);
  assert_int_equal(smtp_server_options_set_random(NULL, det_random, NULL), SMTP_ERR_INVALID_ARGUMENT);
  smtp_server_options_del(o);
  assert_int_equal(smtp_server_session_set_channel_binding(NULL, "x", "y", 1), SMTP_ERR_INVALID_ARGUMENT);
}

/* Up to three binding types at once; a client's "p=" may name any of them. */
static void test_binding_types(void **state) {
  static const unsigned char other[32] = {1};
  H h;
  (void)state;
  start(&h, 0, SCRAM_ALL, 0);
  assert_int_equal(smtp_server_session_set_channel_binding(h.s, "tls-server-end-point", other, 32), 0);
  assert_int_equal(smtp_server_session_set_channel_binding(h.s, "tls-unique", other, 12), 0);
  assert_int_equal(smtp_server_session_set_channel_binding(h.s, "tls-exporter", other, 32), 0);
  assert_int_equal(smtp_server_session_set_channel_binding(h.s, "x-fourth", other, 32), SMTP_ERR_LIMIT);
  /* the same type again replaces its data */
  assert_int_equal(smtp_server_session_set_channel_binding(h.s, "tls-exporter", CB, sizeof CB), 0);
  say(&h, "EHLO c.example");
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256_PLUS, "user", "pencil", "tls-exporter", CB, NULL),
                      AUTH_OK);
  end(&h);
  start(&h, 0, SCRAM_ALL, 0);
  assert_int_equal(smtp_server_session_set_channel_binding(h.s, "tls-server-end-point", CB, sizeof CB), 0);
  assert_int_equal(smtp_server_session_set_channel_binding(h.s, "tls-exporter", other, 32), 0);
  say(&h, "EHLO c.example");
  /* right type, the other type's data: refused */
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256_PLUS, "user", "pencil", "tls-exporter", CB, NULL),
                      AUTH_BAD);
  /* a type the server does not have */
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256_PLUS, "user", "pencil", "tls-unique", CB, NULL),
                      AUTH_BAD);
  assert_string_equal(
      scram(&h, SMTP_SASL_SCRAM_SHA_256_PLUS, "user", "pencil", "tls-server-end-point", CB, NULL), AUTH_OK);
  end(&h);
  /* NULL forgets every type: no -PLUS offered any more */
  start(&h, 0, SCRAM_ALL, 0);
  assert_int_equal(smtp_server_session_set_channel_binding(h.s, "tls-exporter", CB, sizeof CB), 0);
  assert_int_equal(smtp_server_session_set_channel_binding(h.s, NULL, NULL, 0), 0);
  assert_null(strstr(say(&h, "EHLO c.example"), "PLUS"));
  end(&h);
}

/* A record outside the server's iteration bounds is a temporary failure. */
static void test_bounds(void **state) {
  H h;
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  (void)state;
  memset(&h, 0, sizeof h);
  assert_int_equal(smtp_server_options_new(&o, NULL), 0);
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), 0);
  assert_int_equal(smtp_server_options_set_allow_plaintext_auth(o, 1), 0);
  assert_int_equal(smtp_server_options_set_auth_mechs(o, SMTP_SASL_SCRAM_SHA_256), 0);
  assert_int_equal(smtp_server_options_set_scram_iterations(o, 5000, 10000), 0);
  smtp_server_options_set_random(o, det_random, NULL);
  smtp_server_callbacks_set_scram_lookup(cb, lookup);
  assert_int_equal(smtp_server_session_new(&h.s, cb, &h, o, NULL), 0);
  smtp_server_options_del(o);
  smtp_server_callbacks_del(cb);
  assert_int_equal(smtp_server_session_mem_recv(h.s, "", 0), 0);
  pump(&h);
  say(&h, "EHLO c.example");
  assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256, "user", "pencil", NULL, NULL, NULL),
                      "454 4.7.0 Temporary authentication failure\r\n");
  end(&h);
}

/* SASLprep in both roles (RFC 5802 5.1 and 2.2, RFC 4013). */
#define RAW(lit) lit, sizeof lit - 1
static void test_saslprep_roles(void **state) {
  H h;
  char line[512], raw[512];
  smtp__sasl_client c;
  smtp__sasl_creds cr;
  size_t n;
  int ir;
  const char *r;
  (void)state;
  /* the server prepares the name it receives: "us<SOFT HYPHEN>er" is
   * "user", so the real record (salt "0123456789abcdef") is found */
  start(&h, 0, SCRAM_ALL, 0);
  say(&h, "EHLO c.example");
  b64line("AUTH SCRAM-SHA-256 ", RAW("n,,n=us\xC2\xAD" "er,r=clientNONCE"), line, sizeof line);
  r = say(&h, line);
  if (SMTP_HAVE_SASLPREP_UNICODE) {
    n = chal(r, raw, sizeof raw - 1);
    raw[n] = 0;
    assert_non_null(strstr(raw, ",s=MDEyMzQ1Njc4OWFiY2RlZg==,"));
    assert_int_equal(h.lookups, 1);
  } else {
    /* -Dsaslprep=ascii refuses non-ASCII names: 535, no lookup */
    assert_string_equal(r, AUTH_BAD);
    assert_int_equal(h.lookups, 0);
  }
  end(&h);
  /* a prohibited character (C.2.1) or a name SASLprep empties: 535, no lookup */
  start(&h, 0, SCRAM_ALL, 0);
  say(&h, "EHLO c.example");
  b64line("AUTH SCRAM-SHA-256 ", RAW("n,,n=us\ter,r=clientNONCE"), line, sizeof line);
  assert_string_equal(say(&h, line), AUTH_BAD);
  b64line("AUTH SCRAM-SHA-256 ", RAW("n,,n=\xC2\xAD,r=clientNONCE"), line, sizeof line);
  assert_string_equal(say(&h, line), AUTH_BAD);
  /* right-to-left text with a left-to-right letter (RFC 3454 6) */
  b64line("AUTH SCRAM-SHA-256 ", RAW("n,,n=\xD8\xA7" "a\xD8\xA8,r=clientNONCE"), line, sizeof line);
  assert_string_equal(say(&h, line), AUTH_BAD);
  assert_int_equal(h.lookups, 0);
  end(&h);
  /* both roles: the client's user and password are prepared too, so
   * "pen<SOFT HYPHEN>cil" is the record's "pencil" and <U+FF55>ser is user */
  if (SMTP_HAVE_SASLPREP_UNICODE) {
    start(&h, 0, SCRAM_ALL, 0);
    say(&h, "EHLO c.example");
    assert_string_equal(scram(&h, SMTP_SASL_SCRAM_SHA_256, "\xEF\xBD\x95" "ser", "pen\xC2\xAD" "cil",
                              NULL, NULL, NULL),
                        AUTH_OK);
    end(&h);
  }
  /* the client refuses a password SASLprep refuses, before sending */
  memset(&cr, 0, sizeof cr);
  cr.user = "user";
  cr.user_len = 4;
  cr.pass = "pen\x07" "cil";
  cr.pass_len = 7;
  assert_int_equal(smtp__sasl_client_start(&c, SMTP_SASL_SCRAM_SHA_256, &cr, "clientNONCE", 11, raw,
                                           sizeof raw, &n, &ir),
                   SMTP_ERR_SASLPREP);
  cr.pass = "pencil";
  cr.pass_len = 6;
  cr.user = "\xEE\x80\x80"; /* U+E000, private use (C.3) */
  cr.user_len = 3;
  assert_int_equal(smtp__sasl_client_start(&c, SMTP_SASL_SCRAM_SHA_256, &cr, "clientNONCE", 11, raw,
                                           sizeof raw, &n, &ir),
                   SMTP_ERR_SASLPREP);
  /* the client sends the prepared name: <U+2168> (ROMAN NUMERAL NINE) is IX */
  cr.user = "\xE2\x85\xA8";
  cr.user_len = 3;
  assert_int_equal(smtp__sasl_client_start(&c, SMTP_SASL_SCRAM_SHA_256, &cr, "clientNONCE", 11, raw,
                                           sizeof raw, &n, &ir),
                   SMTP_HAVE_SASLPREP_UNICODE ? 0 : SMTP_ERR_SASLPREP);
  if (SMTP_HAVE_SASLPREP_UNICODE) {
    assert_int_equal(n, 21);
    assert_memory_equal(raw, "n,,n=IX,r=clientNONCE", 21);
  }
  smtp__sasl_client_wipe(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scram_families), cmocka_unit_test(test_scram_failures),
      cmocka_unit_test(test_external),       cmocka_unit_test(test_tokens),
      cmocka_unit_test(test_settings),       cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_trace_malformed),
      cmocka_unit_test(test_unknown_user_salt),
      cmocka_unit_test(test_saslprep_roles),
      cmocka_unit_test(test_binding_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
