/* A client session and a server session against each other in memory:
 * the client's output is handed to the server and the server's output to
 * the client until N transactions (one reused transaction object, body in
 * memory) are done. This is libsmtp talking to itself without any I/O: the
 * ceiling for a loopback run of smtp-server against the load generator.
 *
 * Reported, each the median of RUNS runs with fresh sessions:
 *   transactions/s, body MiB/s,
 *   allocations per transaction in the steady state, client and server
 *   separately (counting smtp_mem; target 0 for both),
 *   hand-offs (calls moving bytes) per transaction.
 *
 * Usage: bench_pair [-n transactions] [-b body-bytes] [-r recipients] [-B]
 *   -B: the server offers CHUNKING, so the client sends BDAT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <smtp/client.h>
#include <smtp/server.h>

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
  uint64_t done, failed, left;
  uint64_t srv_msgs, srv_bytes;
} app;

static void submit_next(smtp_client_session *c, app *a) {
  unsigned i;
  int r;
  if (a->left == 0) {
    smtp_client_session_quit(c);
    return;
  }
  a->left--;
  if (smtp_client_txn_reset(a->txn) != SMTP_OK) bench_die("txn_reset");
  if (smtp_client_txn_set_from(a->txn, "sender.name@example.com", 23) != SMTP_OK)
    bench_die("set_from");
  for (i = 0; i < a->nrcpt; i++) {
    if (smtp_client_txn_add_rcpt(a->txn, a->rcpt[i], a->rcpt_len[i], 0, NULL, 0) < 0)
      bench_die("add_rcpt");
  }
  if (smtp_client_txn_set_body(a->txn, a->body, a->body_len) != SMTP_OK) bench_die("set_body");
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

static int on_chunk(smtp_server_session *s, const char *data, size_t len, void *ud) {
  app *a = ud;
  (void)s;
  (void)data;
  a->srv_bytes += len;
  return 0;
}

static int on_data_end(smtp_server_session *s, const smtp_server_data_end *end, void *ud) {
  app *a = ud;
  (void)s;
  if (!end->refused) a->srv_msgs++;
  return 0;
}

/* Move everything one side has for the other; returns the bytes moved. */
static uint64_t c2s(smtp_client_session *c, smtp_server_session *s, uint64_t *calls) {
  const char *out;
  smtp_ssize k;
  uint64_t moved = 0;
  while ((k = smtp_client_session_mem_send(c, &out)) > 0) {
    smtp_ssize n = smtp_server_session_mem_recv(s, out, (size_t)k);
    (*calls)++;
    if (n < 0) bench_die("server mem_recv: %s", smtp_strerror((int)n));
    if (n == 0) break; /* server backpressure: drain it first */
    smtp_client_session_mem_consume(c, (size_t)n);
    moved += (uint64_t)n;
  }
  if (k < 0) bench_die("client mem_send: %s", smtp_strerror((int)k));
  return moved;
}

static uint64_t s2c(smtp_server_session *s, smtp_client_session *c, uint64_t *calls) {
  const char *out;
  smtp_ssize k;
  uint64_t moved = 0;
  while ((k = smtp_server_session_mem_send(s, &out)) > 0) {
    smtp_ssize n = smtp_client_session_mem_recv(c, out, (size_t)k);
    (*calls)++;
    if (n < 0) bench_die("client mem_recv: %s", smtp_strerror((int)n));
    smtp_server_session_mem_consume(s, (size_t)n);
    moved += (uint64_t)n;
    if (n == 0) break;
  }
  if (k < 0) bench_die("server mem_send: %s", smtp_strerror((int)k));
  return moved;
}

typedef struct run_result {
  double tps, mibs, c_apt, s_apt, calls_pt;
} run_result;

/* Pump until the client has finished `until` transactions. */
static uint64_t pump(smtp_client_session *c, smtp_server_session *s, app *a, uint64_t until) {
  uint64_t calls = 0;
  while (a->done < until && !smtp_client_session_is_closed(c)) {
    uint64_t m = s2c(s, c, &calls) + c2s(c, s, &calls);
    if (m == 0) bench_die("client and server sessions stuck after %llu transactions",
                          (unsigned long long)a->done);
  }
  return calls;
}

static run_result run_once(app *a, uint64_t ntxn, int bdat, const smtp_client_callbacks *ccb,
                           const smtp_server_callbacks *scb) {
  bench_mem_stats cms, sms;
  smtp_mem cmem, smem;
  smtp_client_session *c;
  smtp_server_session *s;
  smtp_client_options *copt;
  smtp_server_options *sopt;
  run_result rr;
  uint64_t c0, s0, calls;
  double t0, t1;
  int r;
  memset(&cms, 0, sizeof cms);
  memset(&sms, 0, sizeof sms);
  cmem = bench_mem(&cms);
  smem = bench_mem(&sms);
  if (smtp_client_options_new(&copt, NULL) != SMTP_OK) bench_die("client options");
  smtp_client_options_set_starttls(copt, SMTP_CLIENT_STARTTLS_OFF);
  smtp_client_options_set_ehlo_name(copt, "client.example.net");
  if (smtp_server_options_new(&sopt, NULL) != SMTP_OK) bench_die("server options");
  smtp_server_options_set_hostname(sopt, "mx.example.com");
  if (!bdat)
    smtp_server_options_set_extensions(sopt, SMTP_SERVER_DEFAULT_EXTENSIONS &
                                                 ~(unsigned)(SMTP_EXT_CHUNKING |
                                                             SMTP_EXT_BINARYMIME));
  r = smtp_client_session_new(&c, ccb, a, copt, &cmem);
  if (r != SMTP_OK) bench_die("client session: %s", smtp_strerror(r));
  r = smtp_server_session_new(&s, scb, a, sopt, &smem);
  if (r != SMTP_OK) bench_die("server session: %s", smtp_strerror(r));
  smtp_client_options_del(copt);
  smtp_server_options_del(sopt);
  if (smtp_client_txn_new(&a->txn, &cmem) != SMTP_OK) bench_die("txn_new");
  a->done = a->failed = a->srv_msgs = a->srv_bytes = 0;
  a->left = WARMUP + ntxn;
  submit_next(c, a);
  pump(c, s, a, WARMUP);
  c0 = bench_mem_calls(&cms);
  s0 = bench_mem_calls(&sms);
  t0 = bench_now();
  calls = pump(c, s, a, WARMUP + ntxn);
  t1 = bench_now();
  rr.c_apt = (double)(bench_mem_calls(&cms) - c0) / (double)ntxn;
  rr.s_apt = (double)(bench_mem_calls(&sms) - s0) / (double)ntxn;
  if (a->done != WARMUP + ntxn || a->failed || a->srv_msgs != a->done ||
      a->srv_bytes != a->done * a->body_len)
    bench_die("pair: %llu done, %llu failed, server got %llu messages / %llu octets",
              (unsigned long long)a->done, (unsigned long long)a->failed,
              (unsigned long long)a->srv_msgs, (unsigned long long)a->srv_bytes);
  rr.tps = (double)ntxn / (t1 - t0);
  rr.mibs = (double)ntxn * (double)a->body_len / (1024.0 * 1024.0) / (t1 - t0);
  rr.calls_pt = (double)calls / (double)ntxn;
  smtp_client_session_del(c);
  smtp_server_session_del(s);
  smtp_client_txn_del(a->txn);
  a->txn = NULL;
  return rr;
}

int main(int argc, char **argv) {
  uint64_t ntxn = 200000;
  size_t body_len = 1024;
  unsigned nrcpt = 1;
  int bdat = 0, opt, i;
  app a;
  char *body;
  smtp_client_callbacks *ccb;
  smtp_server_callbacks *scb;
  double tps[RUNS], mibs[RUNS], capt[RUNS], sapt[RUNS], cpt[RUNS];
  while ((opt = getopt(argc, argv, "n:b:r:B")) != -1) {
    switch (opt) {
    case 'n': ntxn = strtoull(optarg, NULL, 10); break;
    case 'b': body_len = strtoull(optarg, NULL, 10); break;
    case 'r': nrcpt = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'B': bdat = 1; break;
    default:
      fprintf(stderr, "usage: bench_pair [-n txns] [-b body] [-r rcpts] [-B]\n");
      return 2;
    }
  }
  if (ntxn == 0 || body_len < 64 || nrcpt == 0 || nrcpt > 100) {
    fprintf(stderr, "bench_pair: bad arguments\n");
    return 2;
  }
  body = malloc(body_len);
  if (!body) bench_die("out of memory");
  bench_make_body(body, body_len, 42);
  memset(&a, 0, sizeof a);
  a.body = body;
  a.body_len = body_len;
  a.nrcpt = nrcpt;
  for (i = 0; i < (int)nrcpt; i++)
    a.rcpt_len[i] = (size_t)snprintf(a.rcpt[i], sizeof a.rcpt[i], "rcpt%d@example.org", i);
  if (smtp_client_callbacks_new(&ccb, NULL) != SMTP_OK) bench_die("client callbacks");
  smtp_client_callbacks_set_txn_done(ccb, on_txn_done);
  if (smtp_server_callbacks_new(&scb, NULL) != SMTP_OK) bench_die("server callbacks");
  smtp_server_callbacks_set_data_chunk(scb, on_chunk);
  smtp_server_callbacks_set_data_end(scb, on_data_end);

  printf("client session <-> server session in memory: %llu transactions (%s, %zu-octet body,"
         " %u rcpt), median of %d\n",
         (unsigned long long)ntxn, bdat ? "BDAT" : "DATA", body_len, nrcpt, RUNS);
  for (i = 0; i < RUNS; i++) {
    run_result rr = run_once(&a, ntxn, bdat, ccb, scb);
    tps[i] = rr.tps;
    mibs[i] = rr.mibs;
    capt[i] = rr.c_apt;
    sapt[i] = rr.s_apt;
    cpt[i] = rr.calls_pt;
  }
  printf("%-40s %12.0f\n", "transactions/s", bench_median(tps, RUNS));
  printf("%-40s %12.1f\n", "body MiB/s", bench_median(mibs, RUNS));
  printf("%-40s %12.1f\n", "hand-offs per transaction", bench_median(cpt, RUNS));
  printf("%-40s %12.3f   (target 0)\n", "client allocations per transaction",
         bench_median(capt, RUNS));
  printf("%-40s %12.3f   (target 0)\n", "server allocations per transaction",
         bench_median(sapt, RUNS));
  smtp_client_callbacks_del(ccb);
  smtp_server_callbacks_del(scb);
  free(body);
  return 0;
}
