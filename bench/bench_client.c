/* Whole client transactions in memory: one client session sends N
 * transactions (one reused smtp_client_txn, body in memory) against
 * pre-built server replies: greeting and EHLO reply once, then per
 * transaction the pipelined replies to MAIL / RCPT / DATA (250, 250, 354)
 * and the reply after the data (250), or, with -B, the replies to MAIL /
 * RCPT, then (the client waits for them before BDAT) the reply to BDAT LAST. The client's output is drained (counted,
 * not copied) before each batch of replies is fed, as a socket would: a
 * reply is only accepted for a command that was sent.
 *
 * Reported, each the median of RUNS runs with a fresh session:
 *   transactions/s and body MiB/s,
 *   allocations per transaction in the steady state (session and the
 *   reused transaction object share one counting smtp_mem; target 0),
 *   the session's own bytes (what smtp_client_session_new() allocated).
 *
 * Usage: bench_client [-n transactions] [-b body-bytes] [-r recipients] [-B]
 * Defaults: 200000 transactions, 1024-octet body, 1 recipient, DATA. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <smtp/client.h>

#include "bench_common.h"

#define RUNS 5
#define WARMUP 1000

typedef struct app {
  smtp_client_txn *txn;
  const char *body;
  size_t body_len;
  unsigned nrcpt;
  char rcpt[100][32]; /* recipient addresses, formatted once */
  size_t rcpt_len[100];
  uint64_t done, failed, left; /* left: transactions still to submit */
} app;

static void fill_txn(app *a) {
  unsigned i;
  if (smtp_client_txn_reset(a->txn) != SMTP_OK) bench_die("txn_reset");
  if (smtp_client_txn_set_from(a->txn, "sender.name@example.com", 23) != SMTP_OK)
    bench_die("txn_set_from");
  for (i = 0; i < a->nrcpt; i++) {
    if (smtp_client_txn_add_rcpt(a->txn, a->rcpt[i], a->rcpt_len[i], 0, NULL, 0) < 0)
      bench_die("add_rcpt");
  }
  if (smtp_client_txn_set_body(a->txn, a->body, a->body_len) != SMTP_OK)
    bench_die("txn_set_body");
}

static void submit_next(smtp_client_session *c, app *a) {
  int r;
  if (a->left == 0) return;
  a->left--;
  fill_txn(a);
  r = smtp_client_session_submit(c, a->txn);
  if (r != SMTP_OK) bench_die("submit: %s", smtp_strerror(r));
}

static int on_txn_done(smtp_client_session *c, smtp_client_txn *t,
                       const smtp_client_txn_result *res, void *ud) {
  app *a = ud;
  (void)t;
  a->done++;
  if (res->status != SMTP_OK || res->ndelivered != a->nrcpt) a->failed++;
  submit_next(c, a);
  return 0;
}

static int on_closed(smtp_client_session *c, int error, void *ud) {
  (void)c;
  (void)ud;
  if (error) fprintf(stderr, "bench_client: session closed: %s\n", smtp_strerror(error));
  return 0;
}

/* Take all pending output; returns the bytes taken. */
static uint64_t drain(smtp_client_session *c) {
  const char *out;
  smtp_ssize k;
  uint64_t total = 0;
  while ((k = smtp_client_session_mem_send(c, &out)) > 0) {
    total += (uint64_t)k;
    if (smtp_client_session_mem_consume(c, (size_t)k) != SMTP_OK) bench_die("mem_consume");
  }
  if (k < 0) bench_die("client mem_send: %s", smtp_strerror((int)k));
  return total;
}

static void feed(smtp_client_session *c, const char *s, size_t len) {
  size_t off = 0;
  while (off < len) {
    smtp_ssize n = smtp_client_session_mem_recv(c, s + off, len - off);
    if (n <= 0) bench_die("client mem_recv: %s", n ? smtp_strerror((int)n) : "took nothing");
    off += (size_t)n;
  }
}

typedef struct replies {
  char greeting[64], ehlo[512], batch1[4096], batch2[128];
  size_t greeting_len, ehlo_len, batch1_len, batch2_len;
} replies;

static void build_replies(replies *r, unsigned nrcpt, int bdat) {
  char *p;
  unsigned i;
  r->greeting_len = (size_t)sprintf(r->greeting, "220 mx.example.com ESMTP ready\r\n");
  r->ehlo_len = (size_t)sprintf(r->ehlo,
                                "250-mx.example.com Hello\r\n250-PIPELINING\r\n"
                                "250-SIZE 52428800\r\n250-8BITMIME\r\n"
                                "250-ENHANCEDSTATUSCODES\r\n%s250 SMTPUTF8\r\n",
                                bdat ? "250-CHUNKING\r\n" : "");
  p = r->batch1;
  p += sprintf(p, "250 2.1.0 Sender ok\r\n");
  for (i = 0; i < nrcpt; i++) p += sprintf(p, "250 2.1.5 Recipient ok\r\n");
  /* The client sends BDAT only after the RCPT replies (it does not pipeline
   * BDAT with MAIL/RCPT), so BDAT's 250 comes in the second batch. */
  if (!bdat) p += sprintf(p, "354 End data with <CR><LF>.<CR><LF>\r\n");
  r->batch1_len = (size_t)(p - r->batch1);
  r->batch2_len = (size_t)sprintf(r->batch2, "250 2.0.0 Ok: queued as 1A2B3C4D5E\r\n");
}

typedef struct run_result {
  double tps, mibs, allocs_per_txn, out_per_txn;
  size_t session_bytes;
} run_result;

/* One transaction's worth of replies, after draining what the client sent. */
static uint64_t one_txn(smtp_client_session *c, const replies *r) {
  uint64_t out = drain(c);
  feed(c, r->batch1, r->batch1_len);
  out += drain(c);
  feed(c, r->batch2, r->batch2_len);
  return out;
}

static run_result run_once(const replies *rp, uint64_t ntxn, app *a,
                           const smtp_client_callbacks *cbs) {
  bench_mem_stats ms;
  smtp_mem mem;
  smtp_client_session *c;
  smtp_client_options *opt;
  run_result rr;
  uint64_t i, a0, out = 0;
  double t0, t1;
  int r;
  memset(&ms, 0, sizeof ms);
  memset(&rr, 0, sizeof rr);
  mem = bench_mem(&ms);
  if (smtp_client_options_new(&opt, NULL) != SMTP_OK) bench_die("options_new");
  smtp_client_options_set_starttls(opt, SMTP_CLIENT_STARTTLS_OFF);
  smtp_client_options_set_ehlo_name(opt, "client.example.net");
  r = smtp_client_session_new(&c, cbs, a, opt, &mem);
  smtp_client_options_del(opt);
  if (r != SMTP_OK) bench_die("smtp_client_session_new: %s", smtp_strerror(r));
  rr.session_bytes = ms.cur;
  if (smtp_client_txn_new(&a->txn, &mem) != SMTP_OK) bench_die("txn_new");
  a->done = a->failed = 0;
  a->left = WARMUP + ntxn;
  submit_next(c, a);
  feed(c, rp->greeting, rp->greeting_len);
  drain(c); /* EHLO */
  feed(c, rp->ehlo, rp->ehlo_len);
  for (i = 0; i < WARMUP; i++) one_txn(c, rp);
  if (a->done != WARMUP || a->failed) bench_die("client: warm-up transactions failed");
  a0 = bench_mem_calls(&ms);
  t0 = bench_now();
  for (i = 0; i < ntxn; i++) out += one_txn(c, rp);
  t1 = bench_now();
  rr.allocs_per_txn = (double)(bench_mem_calls(&ms) - a0) / (double)ntxn;
  if (a->done != WARMUP + ntxn || a->failed)
    bench_die("client: %llu transactions done, %llu failed (expected %llu)",
              (unsigned long long)a->done, (unsigned long long)a->failed,
              (unsigned long long)(WARMUP + ntxn));
  rr.tps = (double)ntxn / (t1 - t0);
  rr.mibs = (double)ntxn * (double)a->body_len / (1024.0 * 1024.0) / (t1 - t0);
  rr.out_per_txn = (double)out / (double)ntxn;
  smtp_client_session_del(c);
  smtp_client_txn_del(a->txn);
  a->txn = NULL;
  if (ms.cur != 0) bench_die("client session leaked %zu bytes", ms.cur);
  return rr;
}

int main(int argc, char **argv) {
  uint64_t ntxn = 200000;
  size_t body_len = 1024;
  unsigned nrcpt = 1;
  int bdat = 0, opt, i;
  replies rp;
  app a;
  char *body;
  smtp_client_callbacks *cbs;
  double tps[RUNS], mibs[RUNS], apt[RUNS];
  run_result last;
  while ((opt = getopt(argc, argv, "n:b:r:B")) != -1) {
    switch (opt) {
    case 'n': ntxn = strtoull(optarg, NULL, 10); break;
    case 'b': body_len = strtoull(optarg, NULL, 10); break;
    case 'r': nrcpt = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'B': bdat = 1; break;
    default:
      fprintf(stderr, "usage: bench_client [-n txns] [-b body] [-r rcpts] [-B]\n");
      return 2;
    }
  }
  if (ntxn == 0 || body_len < 64 || nrcpt == 0 || nrcpt > 100) {
    fprintf(stderr, "bench_client: bad arguments\n");
    return 2;
  }
  build_replies(&rp, nrcpt, bdat);
  body = malloc(body_len);
  if (!body) bench_die("out of memory");
  bench_make_body(body, body_len, 42);
  memset(&a, 0, sizeof a);
  a.body = body;
  a.body_len = body_len;
  a.nrcpt = nrcpt;
  for (i = 0; i < (int)nrcpt; i++)
    a.rcpt_len[i] = (size_t)snprintf(a.rcpt[i], sizeof a.rcpt[i], "rcpt%d@example.org", i);
  if (smtp_client_callbacks_new(&cbs, NULL) != SMTP_OK) bench_die("callbacks_new");
  smtp_client_callbacks_set_txn_done(cbs, on_txn_done);
  smtp_client_callbacks_set_closed(cbs, on_closed);

  printf("client session in memory: %llu transactions (%s, %zu-octet body, %u rcpt), "
         "pre-built replies, median of %d\n",
         (unsigned long long)ntxn, bdat ? "BDAT" : "DATA, pipelined MAIL/RCPT/DATA", body_len,
         nrcpt, RUNS);
  memset(&last, 0, sizeof last);
  for (i = 0; i < RUNS; i++) {
    last = run_once(&rp, ntxn, &a, cbs);
    tps[i] = last.tps;
    mibs[i] = last.mibs;
    apt[i] = last.allocs_per_txn;
  }
  printf("%-36s %12.0f\n", "transactions/s", bench_median(tps, RUNS));
  printf("%-36s %12.1f\n", "body MiB/s", bench_median(mibs, RUNS));
  printf("%-36s %12.0f\n", "client octets sent per transaction", last.out_per_txn);
  printf("%-36s %12.3f   (target 0)\n", "allocations per transaction", bench_median(apt, RUNS));
  printf("%-36s %12zu   (target <= 4096)\n", "session bytes (own allocation)",
         last.session_bytes);
  smtp_client_callbacks_del(cbs);
  free(body);
  return 0;
}
