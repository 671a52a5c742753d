/* Shared driver of the client-session fuzz targets (fuzz_client.c,
 * fuzz_client_split.c). Input: byte 0 = session flags, byte 1 = split
 * seed, then the server's bytes, where "\0TLS" marks a TLS handshake. The driver runs one session with one
 * transaction, writes out everything the client wants to send after every
 * read (as a real transport would), starts "TLS" when asked, pushes the body
 * when asked, and ends with a lost connection. It records a digest of every
 * event and of the client's output, and checks invariants:
 *   - CLOSED comes exactly once and last; TXN_DONE at most once;
 *   - ndelivered <= naccepted <= nrcpt; a delivered message needs a 2xx
 *     final reply event before it;
 *   - the client never writes a NUL, a bare CR or a bare LF outside the
 *     message body, and never anything after the session closed. */
#ifndef CLIENT_FUZZ_H
#define CLIENT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/client.h>

#include "client_internal.h"

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

typedef struct fz {
  smtp_client_session *c;
  uint32_t hash;
  int closed_events, done_events, final_2xx;
  size_t out_total;
  int in_body; /* between 354/BDAT and the end: body bytes are not lines */
} fz;

static uint32_t fz_mix(uint32_t h, const void *p, size_t n) {
  const unsigned char *s = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
  return h;
}

static int fz_event(smtp_client_session *c, const smtp_client_event *ev, void *ud) {
  fz *f = ud;
  int v[4];
  CHECK(f->closed_events == 0); /* nothing after CLOSED */
  if (ev->type == SMTP_CLIENT_EVENT_STARTTLS) return 0; /* see fz_run */
  v[0] = ev->type;
  v[1] = ev->error;
  v[2] = ev->reply ? ev->reply->code : 0;
  v[3] = (int)ev->index;
  f->hash = fz_mix(f->hash, v, sizeof v);
  if (ev->reply) {
    CHECK(ev->reply->nlines >= 1);
    CHECK(ev->reply->code >= 200 && ev->reply->code <= 599);
  }
  switch (ev->type) {
  case SMTP_CLIENT_EVENT_CLOSED: f->closed_events++; break;
  case SMTP_CLIENT_EVENT_CAPABILITIES: {
    /* the set built on request from what the session kept equals the one
     * parsed from the reply (the default allocator does not fail) */
    const smtp_capabilities *g = smtp_client_session_capabilities(c);
    const smtp_capabilities *e = ev->caps;
    CHECK(e != NULL && g != NULL);
    CHECK(g->flags == e->flags && g->auth_mechs == e->auth_mechs);
    CHECK(g->size_max == e->size_max && g->size_has_value == e->size_has_value);
    CHECK(g->limits_rcptmax == e->limits_rcptmax && g->limits_mailmax == e->limits_mailmax);
    CHECK(g->nkeywords == e->nkeywords && g->ndropped == e->ndropped);
    CHECK(g->greeting.len == e->greeting.len);
    CHECK(!g->greeting.len || !memcmp(g->greeting.ptr, e->greeting.ptr, g->greeting.len));
    for (size_t i = 0; i < g->nkeywords; i++) {
      CHECK(g->keywords[i].keyword.len == e->keywords[i].keyword.len);
      CHECK(g->keywords[i].params.len == e->keywords[i].params.len);
      CHECK(!g->keywords[i].keyword.len || !memcmp(g->keywords[i].keyword.ptr,
                                                   e->keywords[i].keyword.ptr,
                                                   g->keywords[i].keyword.len));
      CHECK(!g->keywords[i].params.len || !memcmp(g->keywords[i].params.ptr,
                                                  e->keywords[i].params.ptr,
                                                  g->keywords[i].params.len));
    }
    {
      /* the typed view: the session's equals the one of the reply */
      smtp_ehlo_values vg, ve;
      CHECK(smtp_client_session_ehlo_values(c, &vg) == SMTP_OK);
      CHECK(smtp_capabilities_values(e, &ve) == SMTP_OK);
      CHECK(vg.flags == ve.flags && vg.malformed == ve.malformed);
      CHECK((vg.malformed & ~vg.flags) == 0);
      CHECK(vg.mt_priority_profile == ve.mt_priority_profile && vg.deliverby_min == ve.deliverby_min);
      CHECK(vg.futurerelease_max_until == ve.futurerelease_max_until && vg.burl_imap == ve.burl_imap);
      CHECK(vg.deliverby_min <= 999999999u && vg.futurerelease_max_interval <= 999999999u);
    }
    break;
  }
  case SMTP_CLIENT_EVENT_BODY_START: f->in_body = 1; break;
  case SMTP_CLIENT_EVENT_DATA:
    if (ev->reply && ev->reply->code / 100 == 2) f->final_2xx = 1;
    break;
  case SMTP_CLIENT_EVENT_TXN_DONE:
    f->done_events++;
    CHECK(ev->result.ndelivered <= ev->result.naccepted);
    CHECK(ev->result.naccepted <= ev->result.nrcpt);
    if (ev->result.ndelivered) CHECK(f->final_2xx);
    CHECK((ev->result.status == SMTP_OK) == (ev->result.ndelivered > 0));
    break;
  default: break;
  }
  return 0;
}

static int fz_random(void *buf, size_t len, void *ud) {
  (void)ud;
  memset(buf, 0x5a, len);
  return 0;
}

static void fz_drain(fz *f) {
  for (int guard = 0; guard < 100000; guard++) {
    const char *p;
    smtp_ssize n = smtp_client_session_mem_send(f->c, &p);
    if (n <= 0) return;
    if (!f->in_body) {
      /* command lines: CRLF only, no NUL */
      for (smtp_ssize i = 0; i < n; i++) {
        CHECK(p[i] != '\0');
        if (p[i] == '\n') CHECK(i > 0 && p[i - 1] == '\r');
        if (p[i] == '\r') CHECK(i + 1 < n && p[i + 1] == '\n');
      }
    }
    f->hash = fz_mix(f->hash, p, (size_t)n);
    f->out_total += (size_t)n;
    CHECK(smtp_client_session_mem_consume(f->c, (size_t)n) == SMTP_OK);
  }
  abort(); /* output never ends */
}

static const char FZ_BODY[] = "Subject: x\r\n\r\n.line\n\xc3\xa9t\xc3\xa9\r\nend";

/* A larger CRLF-only body (byte 1 bit 7): runs of several KiB between
 * line-start dots, so the zero-copy paths (DATA spans through a dot, one
 * BDAT chunk from the body) run too. Bit 6 drops its final CRLF. */
static char fz_big[24576];
static size_t fz_big_len(void) {
  static size_t n;
  if (!n) {
    size_t line = 0;
    while (n + 84 < sizeof fz_big) {
      size_t ll = 20 + (line * 37) % 60;
      if (line % 90 == 89) fz_big[n++] = '.';
      for (size_t k = 0; k < ll; k++) fz_big[n++] = (char)('a' + (k + line) % 26);
      fz_big[n++] = '\r';
      fz_big[n++] = '\n';
      line++;
    }
  }
  return n;
}

/* Run one session over @p data. @p split: 0 whole, else chunk sizes from a
 * PRNG seeded with it. Returns the digest. */
static uint32_t fz_run(const uint8_t *data, size_t size, unsigned split, int one_reply) {
  fz f;
  smtp_client_callbacks *cb;
  smtp_client_options *o;
  smtp_client_txn *t;
  unsigned flags, body_flags;
  uint32_t seed = split;
  size_t pos = 0;
  memset(&f, 0, sizeof f);
  f.hash = 2166136261u;
  if (size < 2) return 0;
  flags = data[0];
  body_flags = data[1];
  data += 2;
  size -= 2;
  CHECK(smtp_client_callbacks_new(&cb, NULL) == SMTP_OK);
  smtp_client_callbacks_set_event(cb, fz_event);
  CHECK(smtp_client_options_new(&o, NULL) == SMTP_OK);
  if (flags & 1) smtp_client_options_set_disabled_extensions(o, SMTP_EXT_PIPELINING);
  if (flags & 2) smtp_client_options_set_lmtp(o, 1);
  CHECK(smtp_client_options_set_starttls(o, (int)((flags >> 2) & 3) % 3) == SMTP_OK);
  if (flags & 16) {
    CHECK(smtp_client_options_set_credentials(o, NULL, "user", "pass") == SMTP_OK);
    smtp_client_options_set_allow_plaintext_auth(o, 1);
    smtp_client_options_set_random(o, fz_random, NULL);
  }
  if (flags & 32) CHECK(smtp_client_options_set_oauth_token(o, "user", "tok") == SMTP_OK);
  if (flags & 64) smtp_client_options_set_disabled_extensions(o, SMTP_EXT_CHUNKING);
  CHECK(smtp_client_txn_new(&t, NULL) == SMTP_OK);
  CHECK(smtp_client_txn_set_from(t, "a@b.example", 11) == SMTP_OK);
  CHECK(smtp_client_txn_add_rcpt(t, "r1@c.example", 12, SMTP_DSN_NOTIFY_FAILURE, "r1@c.example", 12) == 0);
  CHECK(smtp_client_txn_add_rcpt(t, "r2@c.example", 12, 0, NULL, 0) == 1);
  CHECK(smtp_client_txn_add_rcpt(t, "r3@c.example", 12, 0, NULL, 0) == 2);
  if (flags & 128) CHECK(smtp_client_txn_set_body_source(t, SMTP_CLIENT_BODY_PUSH) == SMTP_OK);
  else if (body_flags & 32) {
    /* the body from URLs (BURL, RFC 4468) */
    CHECK(smtp_client_txn_add_body_url(t, "imap://h.example/INBOX;UID=7") == SMTP_OK);
    if (body_flags & 16)
      CHECK(smtp_client_txn_add_body_url(t, "imap://h.example/X;UID=8;urlauth=submit+u:internal:0a1b") ==
            SMTP_OK);
  } else if (body_flags & 128)
    CHECK(smtp_client_txn_set_body(t, fz_big, fz_big_len() - ((body_flags & 64) ? 2 : 0)) == SMTP_OK);
  else CHECK(smtp_client_txn_set_body(t, FZ_BODY, sizeof FZ_BODY - 1) == SMTP_OK);
  CHECK(smtp_client_session_new(&f.c, cb, &f, o, NULL) == SMTP_OK);
  smtp__client_session_set_one_reply(f.c, one_reply);
  CHECK(smtp_client_session_submit(f.c, t) == SMTP_OK);
  CHECK(smtp_client_session_quit(f.c) == SMTP_OK);
  /* The payload is split at "\0TLS" markers: the handshake happens there
   * (bytes after a 220 to STARTTLS within one segment are injection). */
  while (pos <= size && !smtp_client_session_is_closed(f.c)) {
    size_t end = pos;
    while (end + 4 <= size && memcmp(data + end, "\0TLS", 4) != 0) end++;
    if (end + 4 > size) end = size;
    while (pos < end && !smtp_client_session_is_closed(f.c)) {
      size_t n = end - pos;
      smtp_ssize k;
      if (split == 0xffffffffu) {
        n = 1;
      } else if (split) {
        seed = seed * 1103515245u + 12345u;
        n = 1 + (seed >> 16) % 23;
        if (n > end - pos) n = end - pos;
      }
      k = smtp_client_session_mem_recv(f.c, (const char *)data + pos, n);
      if (k < 0) {
        f.hash = fz_mix(f.hash, &k, sizeof k);
        CHECK(smtp_client_session_is_closed(f.c) || k == SMTP_ERR_CALLBACK_FAILURE);
        pos = size + 1;
        break;
      }
      CHECK((size_t)k <= n);
      pos += (size_t)k;
      fz_drain(&f);
      if (smtp_client_session_want_body(f.c)) {
        smtp_ssize m = smtp_client_session_body_push(f.c, FZ_BODY, sizeof FZ_BODY - 1, 1);
        CHECK(m == (smtp_ssize)(sizeof FZ_BODY - 1) || m < 0);
        fz_drain(&f);
      }
      (void)smtp_client_session_timeout_ms(f.c);
    }
    if (pos > size) break;
    if (smtp_client_session_want_tls(f.c)) {
      smtp_tls_info info = {"TLSv1.3", "X", NULL, 1, 1};
      CHECK(smtp_client_session_tls_started(f.c, &info) == SMTP_OK);
      fz_drain(&f);
    }
    if (end >= size) break;
    pos = end + 4;
  }
  smtp_client_session_connection_lost(f.c);
  CHECK(smtp_client_session_is_closed(f.c));
  CHECK(f.closed_events == 1);
  CHECK(f.done_events <= 1);
  {
    const char *p;
    CHECK(smtp_client_session_mem_send(f.c, &p) == 0);
  }
  f.hash = fz_mix(f.hash, &f.out_total, sizeof f.out_total);
  smtp_client_session_del(f.c);
  smtp_client_txn_del(t);
  smtp_client_options_del(o);
  smtp_client_callbacks_del(cb);
  return f.hash;
}

#endif
