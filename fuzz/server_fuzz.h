/* Shared driver of the server-session fuzz targets (fuzz_server.c,
 * fuzz_server_split.c).
 *
 * Input: byte 0 and 1 choose options, byte 2 chooses which events the
 * application defers or refuses, bytes 3..10 seed the split points (split
 * target), the rest is what the client sends. Deferred answers are given as
 * soon as the session waits. A TLS handshake is simulated whenever the
 * session asks for one (whole target only).
 *
 * Properties checked (abort on violation):
 *  - everything the server sends parses as well-formed replies
 *    (smtp_reply_parser: three digits, same code on every line, CRLF);
 *  - pending output never exceeds the output buffer;
 *  - the session makes no allocation after creation, except one block
 *    for the TLS facts when TLS starts;
 *  - split target: feeding the same bytes at random split points, with
 *    random partial draining of the output, gives exactly the output of
 *    feeding them whole. */
#ifndef FUZZ_SERVER_FUZZ_H
#define FUZZ_SERVER_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/reply.h>
#include <smtp/server.h>

typedef struct sfz_mem {
  smtp_mem mem;
  size_t count, live;
} sfz_mem;

static void *sfz_malloc(size_t n, void *ud) {
  sfz_mem *m = ud;
  void *p = malloc(n ? n : 1);
  if (p) {
    m->count++;
    m->live++;
  }
  return p;
}
static void sfz_free(void *p, void *ud) {
  sfz_mem *m = ud;
  if (!p) return;
  m->live--;
  free(p);
}
static void *sfz_calloc(size_t a, size_t b, void *ud) {
  void *p;
  if (b && a > SIZE_MAX / b) return NULL;
  p = sfz_malloc(a * b, ud);
  if (p) memset(p, 0, a * b);
  return p;
}
static void *sfz_realloc(void *p, size_t n, void *ud) {
  (void)p;
  (void)n;
  (void)ud;
  abort(); /* the server never reallocates */
}

typedef struct sfz_app {
  smtp_server_session *s;
  unsigned policy; /* byte 2 */
  unsigned events;
  int pending;
  int pending_auth_step;
} sfz_app;

/* Decide per event: a few bits of the policy byte, rotated by the event
 * count, choose defer / refuse / custom reply / ok. Only deterministic
 * inputs (event order) are used, never chunk counts. */
static int sfz_decide(sfz_app *a, int defer_ok) {
  unsigned k = (a->policy >> (a->events++ % 4 * 2)) & 3u;
  if (k == 1 && defer_ok) {
    a->pending = 1;
    return SMTP_ERR_DEFERRED;
  }
  if (k == 2) return SMTP_ERR_CALLBACK_REFUSED;
  if (k == 3) {
    if (smtp_server_session_reply(a->s, 451, "4.3.0", "Try\nagain") != SMTP_OK) abort();
  }
  return 0;
}

static int sfz_connect(smtp_server_session *s, void *ud) {
  (void)s;
  /* Mostly a normal greeting; with the top policy bit any answer. */
  return (((sfz_app *)ud)->policy & 0x80u) ? sfz_decide(ud, 1) : 0;
}
static int sfz_ehlo(smtp_server_session *s, const smtp_server_helo *h, void *ud) {
  (void)s;
  (void)h;
  return sfz_decide(ud, 1) == SMTP_ERR_DEFERRED ? SMTP_ERR_DEFERRED : 0;
}
static int sfz_mail(smtp_server_session *s, const smtp_server_mail *m, void *ud) {
  (void)s;
  if (m->path->address.len > SMTP_PATH_MAX) abort();
  return sfz_decide(ud, 1);
}
static int sfz_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud) {
  if (r->index != smtp_server_session_rcpt_count(s)) abort();
  return sfz_decide(ud, 1);
}
static int sfz_data_start(smtp_server_session *s, void *ud) {
  (void)s;
  return sfz_decide(ud, 1);
}
static int sfz_data_chunk(smtp_server_session *s, const char *p, size_t n, void *ud) {
  volatile unsigned char sum = 0;
  (void)s;
  (void)ud;
  for (size_t i = 0; i < n; i++) sum = (unsigned char)(sum + (unsigned char)p[i]);
  return 0;
}
static int sfz_data_end(smtp_server_session *s, const smtp_server_data_end *e, void *ud) {
  (void)s;
  if (e->refused) return 0;
  return sfz_decide(ud, 1);
}
static int sfz_auth(smtp_server_session *s, const smtp_server_auth *au, void *ud) {
  (void)s;
  if (au->password.len == 6 && memcmp(au->password.ptr, "secret", 6) == 0) return 0;
  return sfz_decide(ud, 1) == SMTP_ERR_DEFERRED ? SMTP_ERR_DEFERRED : SMTP_ERR_CALLBACK_REFUSED;
}
static int sfz_auth_step(smtp_server_session *s, const smtp_server_auth_step *st, void *ud) {
  sfz_app *a = ud;
  if (st->step < 2) return smtp_server_session_auth_challenge(s, "challenge", 9) == SMTP_OK ? 0 : -1;
  if (sfz_decide(a, 1) == SMTP_ERR_DEFERRED) {
    a->pending_auth_step = 1;
    return SMTP_ERR_DEFERRED;
  }
  return smtp_server_session_auth_accept(s, "fuzz", 4) == SMTP_OK ? 0 : -1;
}
static int sfz_simple(smtp_server_session *s, void *ud) {
  (void)s;
  return sfz_decide(ud, 1) == SMTP_ERR_DEFERRED ? SMTP_ERR_DEFERRED : 0;
}
static int sfz_arg(smtp_server_session *s, const char *p, size_t n, void *ud) {
  (void)s;
  (void)p;
  (void)n;
  return sfz_decide(ud, 1);
}
static int sfz_unknown(smtp_server_session *s, const smtp_command *c, void *ud) {
  (void)s;
  (void)c;
  return sfz_decide(ud, 1);
}
static int sfz_etrn(smtp_server_session *s, const smtp_server_etrn *e, void *ud) {
  (void)s;
  (void)e;
  return sfz_decide(ud, 1);
}
static int sfz_burl(smtp_server_session *s, const smtp_server_burl *b, void *ud) {
  (void)s;
  (void)b;
  return sfz_decide(ud, 1);
}
/* Unknown MAIL/RCPT parameters: accepted or refused by their length (no
 * deferral here, as the API says). */
static int sfz_param(smtp_server_session *s, const smtp_server_param *p, void *ud) {
  (void)s;
  (void)ud;
  return (p->keyword.len & 1u) ? 0 : SMTP_ERR_CALLBACK_REFUSED;
}

typedef struct sfz_out {
  char *p;
  size_t len, cap;
} sfz_out;

static void sfz_put(sfz_out *o, const char *p, size_t n) {
  if (o->len + n > o->cap) {
    size_t c = o->cap ? o->cap : 4096;
    while (c < o->len + n) c *= 2;
    o->p = realloc(o->p, c);
    if (!o->p) abort();
    o->cap = c;
  }
  memcpy(o->p + o->len, p, n);
  o->len += n;
}

static unsigned sfz_rng(uint64_t *st) {
  *st ^= *st << 13;
  *st ^= *st >> 7;
  *st ^= *st << 17;
  return (unsigned)(*st >> 32);
}

static void sfz_drain(smtp_server_session *s, sfz_out *o, uint64_t *rng, size_t out_cap) {
  for (;;) {
    const char *p;
    smtp_ssize n = smtp_server_session_mem_send(s, &p);
    size_t take;
    if (n <= 0) return;
    if ((size_t)n > out_cap) abort();
    take = rng ? 1 + sfz_rng(rng) % (size_t)n : (size_t)n;
    sfz_put(o, p, take);
    if (smtp_server_session_mem_consume(s, take) != SMTP_OK) return;
    if (rng) return;
  }
}

/* Give a deferred answer when the session waits for one. */
static void sfz_answer(sfz_app *a) {
  int r;
  if (!a->pending) return;
  a->pending = 0;
  if (a->pending_auth_step) {
    a->pending_auth_step = 0;
    r = smtp_server_session_auth_accept(a->s, "late", 4);
  } else {
    r = smtp_server_session_reply(a->s, 250, NULL, "Later");
    if (r == SMTP_ERR_INVALID_ARGUMENT) r = smtp_server_session_reply(a->s, 354, NULL, NULL);
    if (r == SMTP_ERR_INVALID_ARGUMENT) r = smtp_server_session_reply(a->s, 454, "4.7.0", NULL);
  }
  if (r != SMTP_OK && r != SMTP_ERR_CLOSED && r != SMTP_ERR_CALLBACK_FAILURE) abort();
}

/* Run one session; returns the output (caller frees). @p mode: 0 whole with
 * STARTTLS possible, 1 whole without TLS, 2 split without TLS. */
static sfz_out sfz_run(const uint8_t *data, size_t size, int mode, uint64_t seed) {
  int split = mode == 2;
  sfz_mem mem = {{NULL, sfz_malloc, sfz_free, sfz_calloc, sfz_realloc}, 0, 0};
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  sfz_app app;
  sfz_out out = {NULL, 0, 0};
  unsigned a = size > 0 ? data[0] : 0, b = size > 1 ? data[1] : 0;
  /* With every extension, the hooks and XCLIENT/XFORWARD (b & 16) the
   * longest EHLO reply may raise a 1024-octet buffer (the session makes
   * half of it hold that reply): 2048 keeps the configured size the real
   * one, so the pending-output check below stays exact. */
  size_t out_cap = (b & 1u) && !(b & 16u) ? 1024 : 2048, pos = 0, avail = 0, allocs;
  uint64_t rng = seed | 1u;
  const char *in;
  size_t len;
  memset(&app, 0, sizeof app);
  app.policy = size > 2 ? data[2] : 0;
  in = (const char *)data + (size > 11 ? 11 : size);
  len = size > 11 ? size - 11 : 0;
  mem.mem.user_data = &mem;
  if (smtp_server_options_new(&o, &mem.mem) || smtp_server_callbacks_new(&cb, &mem.mem)) abort();
  smtp_server_options_set_lmtp(o, a & 1u);
  smtp_server_options_set_tls_available(o, mode == 0 && (a & 2u));
  smtp_server_options_set_allow_plaintext_auth(o, (a >> 2) & 1u);
  smtp_server_options_set_bare_line_end(o, (a >> 3) & 1u);
  smtp_server_options_set_reject_nul(o, !((a >> 4) & 1u));
  smtp_server_options_set_authzid_policy(o, (a >> 5) & 1u);
  smtp_server_options_set_lenient_space_after_colon(o, (a >> 6) & 1u);
  smtp_server_options_set_require_auth(o, (a >> 7) & 1u);
  smtp_server_options_set_output_buffer(o, out_cap);
  if (b & 2u) smtp_server_options_set_input_buffer(o, 1024);
  if (b & 4u) smtp_server_options_set_max_recipients(o, 3);
  if (b & 8u) smtp_server_options_set_max_message_size(o, 100);
  if (b & 16u) {
    /* Every extension with parameters (lib/params.c), their EHLO
     * parameters, an application keyword, and the hooks. */
    smtp_server_options_set_extensions(
        o, SMTP_SERVER_DEFAULT_EXTENSIONS | SMTP_EXT_DSN | SMTP_EXT_REQUIRETLS | SMTP_EXT_VRFY |
               SMTP_EXT_MT_PRIORITY | SMTP_EXT_DELIVERBY | SMTP_EXT_FUTURERELEASE | SMTP_EXT_RRVS |
               SMTP_EXT_NO_SOLICITING | SMTP_EXT_MTRK | SMTP_EXT_SUBMITTER | SMTP_EXT_ETRN |
               SMTP_EXT_BURL);
    smtp_server_options_set_ext_params(o, SMTP_EXT_MT_PRIORITY, "MIXER");
    smtp_server_options_set_ext_params(o, SMTP_EXT_FUTURERELEASE, "604800 2027-01-01T00:00:00Z");
    smtp_server_options_add_ehlo_keyword(o, "XFOO 1");
    smtp_server_callbacks_set_param(cb, sfz_param);
    smtp_server_callbacks_set_etrn(cb, sfz_etrn);
    smtp_server_callbacks_set_burl(cb, sfz_burl);
    smtp_server_options_set_xclient(o, SMTP_XCLIENT | SMTP_XFORWARD); /* trusted below */
  }
  if (b & 32u) smtp_server_options_set_max_errors(o, 3);
  if (b & 64u) smtp_server_options_set_auth_mechs(o, SMTP_SASL_PLAIN | SMTP_SASL_LOGIN | SMTP_SASL_SCRAM_SHA_256);
  smtp_server_callbacks_set_connect(cb, sfz_connect);
  smtp_server_callbacks_set_ehlo(cb, sfz_ehlo);
  smtp_server_callbacks_set_mail(cb, sfz_mail);
  smtp_server_callbacks_set_rcpt(cb, sfz_rcpt);
  smtp_server_callbacks_set_data_start(cb, sfz_data_start);
  smtp_server_callbacks_set_data_chunk(cb, sfz_data_chunk);
  smtp_server_callbacks_set_data_end(cb, sfz_data_end);
  smtp_server_callbacks_set_rset(cb, sfz_simple);
  smtp_server_callbacks_set_noop(cb, sfz_simple);
  smtp_server_callbacks_set_quit(cb, sfz_simple);
  smtp_server_callbacks_set_vrfy(cb, sfz_arg);
  smtp_server_callbacks_set_expn(cb, sfz_arg);
  smtp_server_callbacks_set_help(cb, sfz_arg);
  smtp_server_callbacks_set_unknown_command(cb, sfz_unknown);
  smtp_server_callbacks_set_auth(cb, sfz_auth);
  if (b & 128u) smtp_server_callbacks_set_auth_step(cb, sfz_auth_step);
  if (smtp_server_session_new(&app.s, cb, &app, o, &mem.mem) != SMTP_OK) abort();
  if (b & 16u) smtp_server_session_allow_xclient(app.s, SMTP_XCLIENT | SMTP_XFORWARD);
  smtp_server_options_del(o);
  smtp_server_callbacks_del(cb);
  allocs = mem.count;
  for (int guard = 0; guard < 1000000; guard++) {
    int progress = 0;
    size_t before = out.len;
    smtp_ssize n;
    sfz_drain(app.s, &out, split ? &rng : NULL, out_cap);
    if (out.len != before) progress = 1;
    if (app.pending) {
      sfz_answer(&app);
      progress = 1;
    }
    if (smtp_server_session_want_tls(app.s)) {
      smtp_tls_info info = {"TLSv1.3", "TLS_AES_128_GCM_SHA256", NULL, 0, 0, {0}};
      if (smtp_server_session_tls_started(app.s, &info) != SMTP_OK) abort();
      allocs++; /* the TLS facts (smtp_server_session_tls_started()) */
      progress = 1;
    }
    if (pos < len) {
      if (avail == pos) {
        avail = split ? pos + 1 + sfz_rng(&rng) % (len - pos) : len;
        if (split && sfz_rng(&rng) % 2) avail = pos + 1 + (avail - pos) % 7;
        if (avail > len) avail = len;
        progress = 1;
      }
      n = smtp_server_session_mem_recv(app.s, in + pos, avail - pos);
      if (n < 0) {
        if (n != SMTP_ERR_CLOSED && n != SMTP_ERR_CALLBACK_FAILURE) abort();
        pos = len;
      } else {
        if (n > 0) progress = 1;
        pos += (size_t)n;
        if (n == 0 && avail < len && smtp_server_session_want_read(app.s)) {
          avail++;
          progress = 1;
        }
      }
    } else {
      (void)smtp_server_session_mem_recv(app.s, NULL, 0);
    }
    if (!progress) {
      size_t l = out.len;
      sfz_drain(app.s, &out, NULL, out_cap);
      if (out.len == l) break;
    }
  }
  if (mem.count != allocs) abort(); /* nothing else allocated after creation */
  smtp_server_session_del(app.s);
  if (mem.live != 0) abort();
  {
    /* Everything sent parses as replies. */
    smtp_reply_parser *rp;
    size_t off = 0;
    if (smtp_reply_parser_new(&rp, 0, 0, NULL) != SMTP_OK) abort();
    while (off < out.len) {
      smtp_ssize k = smtp_reply_parser_feed(rp, out.p + off, out.len - off);
      if (k <= 0 || !smtp_reply_parser_done(rp)) {
        fprintf(stderr, "bad server output at %zu: %.*s\n", off, (int)(out.len - off > 200 ? 200 : out.len - off), out.p + off);
        abort();
      }
      off += (size_t)k;
    }
    smtp_reply_parser_del(rp);
  }
  return out;
}

#endif
