/* The transcript runner for the client session (transcript.h, tr_client_*):
 * the same "C:"/"S:" scripts, read from the other side. The server's lines
 * are fed to the client session whole, one byte at a time or at random
 * splits; the client's output is drained in pieces of random size; the
 * result must be exactly the script's C lines and the expected events, and
 * nothing may leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/client.h>

#include "transcript.h"

typedef struct cbuf {
  char *p;
  size_t len, cap;
} cbuf;

static void cb_add(cbuf *b, const char *d, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) abort();
    b->cap = cap;
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void cb_str(cbuf *b, const char *s) { cb_add(b, s, strlen(s)); }

static uint32_t rnd(uint32_t *st) {
  *st ^= *st << 13;
  *st ^= *st >> 17;
  *st ^= *st << 5;
  return *st;
}

static const char *const ev_name[] = {"none", "greeting", "capabilities", "starttls", "auth",
                                      "ready", "mail", "rcpt", "body_start", "data",
                                      "txn_done", "closed"};

/* Drain the client's output in pieces (random sizes unless whole), then log
 * every queued event. */
static void pump(smtp_client_session *c, cbuf *out, cbuf *events, int mode, uint32_t *st) {
  for (;;) {
    const char *p;
    smtp_ssize n = smtp_client_session_mem_send(c, &p);
    size_t take;
    if (n <= 0) break;
    take = (size_t)n;
    if (mode != TR_WHOLE) take = 1 + rnd(st) % take;
    cb_add(out, p, take);
    smtp_client_session_mem_consume(c, take);
  }
  for (;;) {
    smtp_client_event ev;
    char line[128];
    if (smtp_client_session_next_event(c, &ev) != 1) break;
    if (ev.type == SMTP_CLIENT_EVENT_TXN_DONE)
      snprintf(line, sizeof line, "txn_done delivered=%zu\n", ev.result.ndelivered);
    else if (ev.type == SMTP_CLIENT_EVENT_CLOSED)
      snprintf(line, sizeof line, "closed %d\n", ev.error);
    else if (ev.reply && ev.index != SMTP_CLIENT_NO_INDEX)
      snprintf(line, sizeof line, "%s %zu %d\n", ev_name[ev.type], ev.index, ev.reply->code);
    else if (ev.reply)
      snprintf(line, sizeof line, "%s %d\n", ev_name[ev.type], ev.reply->code);
    else
      snprintf(line, sizeof line, "%s\n", ev_name[ev.type]);
    cb_str(events, line);
  }
}

static int run_one(const char *script, int mode, unsigned seed, char *err, size_t errlen) {
  tr_mem m;
  smtp_client_options *opt;
  smtp_client_session *c;
  smtp_client_txn *txn = NULL;
  cbuf want = {0}, got = {0}, want_ev = {0}, got_ev = {0};
  uint32_t st = seed ? seed : 1u;
  int rc = 0, submitted = 0;
  const char *line = script;
  char *body = NULL;

  tr_mem_init(&m, 0);
  if (smtp_client_options_new(&opt, NULL) != SMTP_OK) return -1;
  smtp_client_options_set_ehlo_name(opt, "client.example");
  smtp_client_options_set_starttls(opt, SMTP_CLIENT_STARTTLS_OFF);
  /* Options come first in a script ("O:" lines), before the session. */
  for (const char *l = script; *l;) {
    const char *e = strchr(l, '\n');
    size_t n = e ? (size_t)(e - l) : strlen(l);
    if (n > 3 && strncmp(l, "O: ", 3) == 0) {
      if (n == 7 && strncmp(l + 3, "lmtp", 4) == 0) smtp_client_options_set_lmtp(opt, 1);
      else if (n > 11 && strncmp(l + 3, "disable ", 8) == 0)
        smtp_client_options_set_disabled_extensions(opt, (unsigned)strtoul(l + 11, NULL, 0));
    }
    l += n + (e ? 1 : 0);
  }
  if (smtp_client_session_new(&c, NULL, NULL, opt, &m.mem) != SMTP_OK ||
      smtp_client_txn_new(&txn, &m.mem) != SMTP_OK) {
    smtp_client_options_del(opt);
    return -1;
  }
  smtp_client_options_del(opt);

  while (*line) {
    const char *e = strchr(line, '\n');
    size_t n = e ? (size_t)(e - line) : strlen(line);
    char *bytes = NULL;
    size_t blen = 0;
    if (n >= 3 && line[2] == ' ') blen = tr_unescape(line + 3, n - 3, &bytes);
    if (n >= 2 && strncmp(line, "M:", 2) == 0) {
      smtp_client_txn_set_from(txn, bytes, blen);
    } else if (n >= 2 && strncmp(line, "R:", 2) == 0) {
      smtp_client_txn_add_rcpt(txn, bytes, blen, 0, NULL, 0);
    } else if (n >= 2 && strncmp(line, "B:", 2) == 0) {
      /* The body is not copied: it lives until the end of the run. */
      free(body);
      body = bytes;
      bytes = NULL;
      smtp_client_txn_set_body(txn, body, blen);
      if (smtp_client_session_submit(c, txn) == SMTP_OK) submitted = 1;
      smtp_client_session_quit(c);
      pump(c, &got, &got_ev, mode, &st);
    } else if (n >= 2 && strncmp(line, "C:", 2) == 0) {
      cb_add(&want, bytes, blen);
      cb_add(&want, "\r\n", 2);
    } else if (n >= 2 && strncmp(line, "C-", 2) == 0) {
      cb_add(&want, bytes, blen);
    } else if (n >= 2 && strncmp(line, "E:", 2) == 0) {
      cb_add(&want_ev, bytes, blen);
      cb_add(&want_ev, "\n", 1);
    } else if (n >= 2 && strncmp(line, "S:", 2) == 0) {
      cbuf s = {0};
      size_t off = 0;
      cb_add(&s, bytes, blen);
      cb_add(&s, "\r\n", 2);
      pump(c, &got, &got_ev, mode, &st); /* what the client sent comes before this reply */
      while (off < s.len) {
        size_t k = s.len - off;
        smtp_ssize r;
        if (mode == TR_BYTES) k = 1;
        else if (mode == TR_RANDOM) k = 1 + rnd(&st) % k;
        r = smtp_client_session_mem_recv(c, s.p + off, k);
        if (r < 0) break; /* the session ended: the rest is not read */
        if (r == 0) {
          /* Event mode: the session takes no more until its events are
           * read; after that it must make progress. */
          pump(c, &got, &got_ev, mode, &st);
          r = smtp_client_session_mem_recv(c, s.p + off, k);
          if (r <= 0) break;
        }
        off += (size_t)r;
        if (mode == TR_RANDOM && rnd(&st) % 2) pump(c, &got, &got_ev, mode, &st);
      }
      free(s.p);
    }
    free(bytes);
    line += n + (e ? 1 : 0);
  }
  pump(c, &got, &got_ev, mode, &st);
  if (!submitted) {
    snprintf(err, errlen, "the script's transaction was not accepted for submission");
    rc = 1;
  } else if (got.len != want.len || (want.len && memcmp(got.p, want.p, want.len) != 0)) {
    snprintf(err, errlen, "client output differs\n--- expected\n%s\n--- got\n%s\n--- events\n%s",
             want.p ? want.p : "", got.p ? got.p : "", got_ev.p ? got_ev.p : "");
    rc = 1;
  } else if (want_ev.len && (got_ev.len != want_ev.len || memcmp(got_ev.p, want_ev.p, want_ev.len))) {
    snprintf(err, errlen, "events differ\n--- expected\n%s--- got\n%s", want_ev.p,
             got_ev.p ? got_ev.p : "");
    rc = 1;
  }
  smtp_client_session_del(c);
  smtp_client_txn_del(txn);
  free(body);
  if (rc == 0 && m.live != 0) {
    snprintf(err, errlen, "%zu allocations leaked", m.live);
    rc = 1;
  }
  free(want.p);
  free(got.p);
  free(want_ev.p);
  free(got_ev.p);
  return rc;
}

int tr_client_run(const char *script, int mode, unsigned seed, char *err, size_t errlen) {
  return run_one(script, mode, seed, err, errlen);
}

void tr_client_check(const char *script) {
  static char err[16384];
  static const char *const names[] = {"whole", "byte by byte", "random splits"};
  for (int mode = TR_WHOLE; mode <= TR_RANDOM; mode++) {
    unsigned rounds = mode == TR_RANDOM ? 24u : 1u;
    for (unsigned seed = 1; seed <= rounds; seed++) {
      if (run_one(script, mode, seed * 2654435761u, err, sizeof err) != 0)
        fail_msg("client transcript (%s, seed %u): %s", names[mode], seed, err);
    }
  }
}
