/* Whole server transactions in memory: one server session is fed a
 * pre-built client byte stream (EHLO once, then pipelined MAIL / RCPT / DATA
 * with a dot-stuffed body and its CRLF "." CRLF), in reads of a fixed size
 * as a socket would deliver them, and its replies are drained after every
 * read. No I/O, no clock inside the loop: this is the session's own cost.
 *
 * Reported, each the median of RUNS runs with a fresh session:
 *   transactions/s and body MiB/s,
 *   allocations per transaction in the steady state (counting smtp_mem,
 *   after a warm-up of WARMUP transactions; the target is 0),
 *   the session's own bytes (what smtp_server_session_new() allocated),
 *   and, for scale, memcpy of the same bytes (the ratio is printed).
 *
 * Usage: bench_server [-n transactions] [-b body-bytes] [-r recipients]
 *                     [-c read-size] [-B] [-M]
 *   -B: BDAT instead of DATA; -M: skip the memcpy reference (for callgrind
 *   instruction counts, which should hold the session's work only)
 * Defaults: 200000 transactions, 1024-octet body, 1 recipient, 65536. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <smtp/server.h>

#include "bench_common.h"

#define RUNS 5
#define BLOCK_TXNS 64 /* transactions in the pre-built, repeated block */
#define WARMUP 1000

typedef struct app {
  uint64_t data_ends, refused, body_bytes, chunks;
} app;

static int on_chunk(smtp_server_session *s, const char *data, size_t len, void *ud) {
  app *a = ud;
  (void)s;
  (void)data;
  a->chunks++;
  a->body_bytes += len;
  return 0;
}

static int on_data_end(smtp_server_session *s, const smtp_server_data_end *end, void *ud) {
  app *a = ud;
  (void)s;
  a->data_ends++;
  if (end->refused) a->refused++;
  return 0;
}

typedef struct stream {
  char *ehlo;
  size_t ehlo_len;
  char *block; /* BLOCK_TXNS transactions */
  size_t block_len;
  size_t txn_len; /* bytes of one transaction on the wire */
} stream;

static void build_stream(stream *st, size_t body_len, unsigned nrcpt, int bdat) {
  char *body = malloc(body_len), *stuffed = malloc(2 * body_len + 8);
  char *txn = malloc(2 * body_len + 512 + 64 * (size_t)nrcpt), *p;
  unsigned i;
  size_t slen;
  if (!body || !stuffed || !txn) bench_die("out of memory");
  bench_make_body(body, body_len, 42);
  slen = bench_dot_stuff(body, body_len, stuffed);
  p = txn;
  p += sprintf(p, "MAIL FROM:<sender.name@example.com> SIZE=%zu\r\n", body_len);
  for (i = 0; i < nrcpt; i++) p += sprintf(p, "RCPT TO:<rcpt%u@example.org>\r\n", i);
  if (bdat) {
    p += sprintf(p, "BDAT %zu LAST\r\n", body_len);
    memcpy(p, body, body_len);
    p += body_len;
  } else {
    p += sprintf(p, "DATA\r\n");
    memcpy(p, stuffed, slen);
    p += slen;
    p += sprintf(p, ".\r\n");
  }
  st->txn_len = (size_t)(p - txn);
  st->block_len = st->txn_len * BLOCK_TXNS;
  st->block = malloc(st->block_len);
  if (!st->block) bench_die("out of memory");
  for (i = 0; i < BLOCK_TXNS; i++) memcpy(st->block + i * st->txn_len, txn, st->txn_len);
  st->ehlo = strdup("EHLO client.example.net\r\n");
  st->ehlo_len = strlen(st->ehlo);
  free(body);
  free(stuffed);
  free(txn);
}

/* Reply checking: every reply line must be 2yz or 354. Lines may be split
 * across drains; only the first octet of each line is looked at. */
typedef struct out_check {
  int at_bol;
  uint64_t lines, bad, bytes;
} out_check;

static void drain(smtp_server_session *s, out_check *oc) {
  const char *out;
  smtp_ssize k;
  while ((k = smtp_server_session_mem_send(s, &out)) > 0) {
    const char *p = out, *end = out + k;
    while (p < end) {
      const char *nl;
      if (oc->at_bol) {
        oc->lines++;
        if (p[0] != '2' && !(p[0] == '3' && end - p > 2 && p[1] == '5' && p[2] == '4')) {
          if (oc->bad++ < 3)
            fprintf(stderr, "bench_server: unexpected reply: %.*s\n",
                    (int)(end - p > 80 ? 80 : end - p), p);
        }
      }
      nl = memchr(p, '\n', (size_t)(end - p));
      oc->at_bol = nl != NULL;
      p = nl ? nl + 1 : end;
    }
    oc->bytes += (uint64_t)k;
    if (smtp_server_session_mem_consume(s, (size_t)k) != SMTP_OK) bench_die("mem_consume");
  }
  if (k < 0) bench_die("mem_send: %s", smtp_strerror((int)k));
}

/* Feed len bytes of buf, read_size at a time, draining after each read. */
static void feed(smtp_server_session *s, const char *buf, size_t len, size_t read_size,
                 out_check *oc) {
  size_t off = 0;
  while (off < len) {
    size_t want = len - off < read_size ? len - off : read_size;
    smtp_ssize n = smtp_server_session_mem_recv(s, buf + off, want);
    if (n < 0) bench_die("mem_recv: %s", smtp_strerror((int)n));
    off += (size_t)n;
    {
      uint64_t before = oc->bytes;
      drain(s, oc);
      if (n == 0 && oc->bytes == before) bench_die("server session stuck at offset %zu", off);
    }
  }
}

typedef struct run_result {
  double tps, mibs, allocs_per_txn, copy_gibs;
  size_t session_bytes;
  uint64_t steady_allocs;
} run_result;

static int no_reference;

static run_result run_once(const stream *st, uint64_t ntxn, size_t read_size, size_t body_len,
                           const smtp_server_callbacks *cbs) {
  bench_mem_stats ms;
  smtp_mem mem;
  smtp_server_session *s;
  app a;
  out_check oc;
  run_result rr;
  uint64_t blocks = (ntxn + BLOCK_TXNS - 1) / BLOCK_TXNS, b, warm_blocks, a0;
  double t0, t1;
  int r;
  memset(&ms, 0, sizeof ms);
  memset(&a, 0, sizeof a);
  memset(&oc, 0, sizeof oc);
  memset(&rr, 0, sizeof rr);
  oc.at_bol = 1;
  mem = bench_mem(&ms);
  r = smtp_server_session_new(&s, cbs, &a, NULL, &mem);
  if (r != SMTP_OK) bench_die("smtp_server_session_new: %s", smtp_strerror(r));
  rr.session_bytes = ms.cur;
  drain(s, &oc); /* greeting */
  feed(s, st->ehlo, st->ehlo_len, read_size, &oc);
  warm_blocks = (WARMUP + BLOCK_TXNS - 1) / BLOCK_TXNS;
  for (b = 0; b < warm_blocks; b++) feed(s, st->block, st->block_len, read_size, &oc);
  a0 = bench_mem_calls(&ms);
  t0 = bench_now();
  for (b = 0; b < blocks; b++) feed(s, st->block, st->block_len, read_size, &oc);
  t1 = bench_now();
  rr.steady_allocs = bench_mem_calls(&ms) - a0;
  if (a.data_ends != (blocks + warm_blocks) * BLOCK_TXNS || a.refused || oc.bad)
    bench_die("server: %llu messages ended, %llu refused, %llu bad replies (expected %llu)",
              (unsigned long long)a.data_ends, (unsigned long long)a.refused,
              (unsigned long long)oc.bad,
              (unsigned long long)((blocks + warm_blocks) * BLOCK_TXNS));
  if (a.body_bytes != a.data_ends * body_len)
    bench_die("server: %llu body bytes delivered, expected %llu",
              (unsigned long long)a.body_bytes, (unsigned long long)(a.data_ends * body_len));
  rr.tps = (double)(blocks * BLOCK_TXNS) / (t1 - t0);
  rr.mibs = (double)(blocks * BLOCK_TXNS * body_len) / (1024.0 * 1024.0) / (t1 - t0);
  rr.allocs_per_txn = (double)rr.steady_allocs / (double)(blocks * BLOCK_TXNS);
  smtp_server_session_del(s);
  if (ms.cur != 0) bench_die("server session leaked %zu bytes", ms.cur);
  /* For scale: copy the same wire bytes once, read_size at a time. */
  if (!no_reference) {
    char *dst = malloc(read_size);
    uint64_t sink = 0;
    double c0, c1;
    if (!dst) bench_die("out of memory");
    c0 = bench_now();
    for (b = 0; b < blocks; b++) {
      size_t off;
      for (off = 0; off < st->block_len; off += read_size) {
        size_t n = st->block_len - off < read_size ? st->block_len - off : read_size;
        memcpy(dst, st->block + off, n);
        sink += (unsigned char)dst[n / 2];
      }
    }
    c1 = bench_now();
    rr.copy_gibs = (double)(blocks * st->block_len) / (1024.0 * 1024.0 * 1024.0) / (c1 - c0);
    if (sink == 1) putchar(' ');
    free(dst);
  }
  return rr;
}

int main(int argc, char **argv) {
  uint64_t ntxn = 200000;
  size_t body_len = 1024, read_size = 65536;
  unsigned nrcpt = 1;
  int bdat = 0, opt, i;
  stream st;
  smtp_server_callbacks *cbs;
  double tps[RUNS], mibs[RUNS], apt[RUNS], copy[RUNS];
  size_t session_bytes = 0;
  while ((opt = getopt(argc, argv, "n:b:r:c:BM")) != -1) {
    switch (opt) {
    case 'n': ntxn = strtoull(optarg, NULL, 10); break;
    case 'b': body_len = strtoull(optarg, NULL, 10); break;
    case 'r': nrcpt = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'c': read_size = strtoull(optarg, NULL, 10); break;
    case 'B': bdat = 1; break;
    case 'M': no_reference = 1; break;
    default:
      fprintf(stderr, "usage: bench_server [-n txns] [-b body] [-r rcpts] [-c read] [-B] [-M]\n");
      return 2;
    }
  }
  if (ntxn == 0 || body_len < 64 || nrcpt == 0 || nrcpt > 100 || read_size == 0) {
    fprintf(stderr, "bench_server: bad arguments\n");
    return 2;
  }
  build_stream(&st, body_len, nrcpt, bdat);
  if (smtp_server_callbacks_new(&cbs, NULL) != SMTP_OK) bench_die("callbacks_new");
  smtp_server_callbacks_set_data_chunk(cbs, on_chunk);
  smtp_server_callbacks_set_data_end(cbs, on_data_end);

  printf("server session in memory: %llu pipelined transactions (%s, %zu-octet body, %u rcpt,"
         " %zu octets on the wire each), reads of %zu, median of %d\n",
         (unsigned long long)ntxn, bdat ? "BDAT" : "DATA", body_len, nrcpt, st.txn_len,
         read_size, RUNS);
  for (i = 0; i < RUNS; i++) {
    run_result rr = run_once(&st, ntxn, read_size, body_len, cbs);
    tps[i] = rr.tps;
    mibs[i] = rr.mibs;
    apt[i] = rr.allocs_per_txn;
    copy[i] = rr.copy_gibs;
    session_bytes = rr.session_bytes;
  }
  {
    double t = bench_median(tps, RUNS), m = bench_median(mibs, RUNS);
    double a = bench_median(apt, RUNS), c = bench_median(copy, RUNS);
    double wire_gibs = t * (double)st.txn_len / (1024.0 * 1024.0 * 1024.0);
    printf("%-36s %12.0f\n", "transactions/s", t);
    printf("%-36s %12.1f\n", "body MiB/s", m);
    printf("%-36s %12.2f\n", "wire GiB/s", wire_gibs);
    printf("%-36s %12.2f\n", "memcpy of the same bytes, GiB/s", c);
    printf("%-36s %12.3f\n", "ratio wire / memcpy", wire_gibs / c);
    printf("%-36s %12.3f   (target 0)\n", "allocations per transaction", a);
    printf("%-36s %12zu   (target <= 4096)\n", "session bytes (own allocation)", session_bytes);
  }
  smtp_server_callbacks_del(cbs);
  free(st.block);
  free(st.ehlo);
  return 0;
}
