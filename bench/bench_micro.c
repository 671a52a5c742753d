/* Micro benchmarks: throughput of libsmtp's byte-level hot paths against
 * the C library's memchr/memcpy on the same buffer.
 *
 * The buffer is realistic mail text: generated lines of about 70 octets
 * (60-79) ending in CRLF, about 1 in 40 starting with a dot (as a wire
 * would carry them after dot-stuffing). Each benchmark is one function that
 * runs over the whole buffer once and returns the bytes it processed; it is
 * timed RUNS times and the median is reported. To add one, write a function
 * with the bench_fn signature and add a row to the table in main().
 *
 * Usage: bench_micro [MiB]   (default 64) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <smtp/data.h>

#define RUNS 5

typedef struct bench_ctx {
  const char *text; /* the mail text (wire form, CRLF lines) */
  size_t len;
  char *work;       /* scratch of at least SMTP_STUFF_MAX_OUTPUT(len) */
  size_t worklen;
  uint64_t sink;    /* defeats dead-code elimination */
} bench_ctx;

/* Prepare (untimed) and run (timed) one pass; run returns bytes processed. */
typedef struct bench {
  const char *name;
  void (*prepare)(bench_ctx *c);
  size_t (*run)(bench_ctx *c);
} bench;

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 32);
}

static char *make_text(size_t len) {
  static const char words[][10] = {"the", "of", "and", "to", "in", "is", "mail", "server",
                                   "message", "report", "please", "attached", "regards",
                                   "Subject:", "quarterly", "data", "a", "with", "for", "on"};
  char *t = malloc(len);
  size_t i = 0;
  if (!t) return NULL;
  while (i < len) {
    size_t line = 60 + rnd() % 20, n = 0;
    if (rnd() % 40 == 0 && i < len) {
      t[i++] = '.';
      n++;
    }
    while (n < line && i < len) {
      const char *w = words[rnd() % (sizeof(words) / sizeof(words[0]))];
      size_t wl = strlen(w);
      while (*w && n < line && i < len) {
        t[i++] = *w++;
        n++;
      }
      if (i < len && n < line) {
        t[i++] = ' ';
        n++;
      }
      (void)wl;
    }
    if (i < len) t[i++] = '\r';
    if (i < len) t[i++] = '\n';
  }
  /* Never let the buffer end in the middle of CRLF "." CRLF. */
  if (len >= 2) {
    t[len - 2] = '\r';
    t[len - 1] = '\n';
  }
  return t;
}

/* --- benchmarks ---------------------------------------------------------- */

static void prep_none(bench_ctx *c) { (void)c; }

/* memchr for '\n' across the buffer, one call per line: the baseline a
 * line-oriented parser pays. */
static size_t run_memchr(bench_ctx *c) {
  const char *p = c->text, *end = c->text + c->len;
  uint64_t lines = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break;
    lines++;
    p = nl + 1;
  }
  c->sink += lines;
  return c->len;
}

static size_t run_memcpy(bench_ctx *c) {
  memcpy(c->work, c->text, c->len);
  c->sink += (unsigned char)c->work[c->len / 2];
  return c->len;
}

/* In place, so each run first gets a fresh copy (untimed). */
static void prep_unstuff(bench_ctx *c) { memcpy(c->work, c->text, c->len); }

static size_t run_unstuff(bench_ctx *c) {
  smtp_unstuffer d;
  size_t len = c->len, consumed = 0;
  smtp_unstuffer_reset(&d);
  if (smtp_unstuff(&d, c->work, &len, &consumed) != 0 || consumed != c->len) {
    fprintf(stderr, "unstuff: unexpected result\n");
    exit(1);
  }
  c->sink += len + d.seen;
  return c->len;
}

/* The same, in 64 KiB reads, as a server would see it. */
static size_t run_unstuff_64k(bench_ctx *c) {
  smtp_unstuffer d;
  size_t off = 0;
  smtp_unstuffer_reset(&d);
  while (off < c->len) {
    size_t n = c->len - off < 65536 ? c->len - off : 65536, len = n, consumed;
    if (smtp_unstuff(&d, c->work + off, &len, &consumed) != 0) exit(1);
    off += consumed;
  }
  c->sink += d.total;
  return c->len;
}

static size_t run_stuff(bench_ctx *c) {
  smtp_stuffer e;
  size_t consumed = 0;
  smtp_ssize w;
  smtp_stuffer_init(&e, 0);
  w = smtp_stuff(&e, c->text, c->len, &consumed, c->work, c->worklen);
  if (w < 0 || consumed != c->len) {
    fprintf(stderr, "stuff: unexpected result %ld\n", (long)w);
    exit(1);
  }
  c->sink += (uint64_t)w;
  return c->len;
}

/* --- driver ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median throughput in GiB/s over RUNS runs. */
static double measure(const bench *b, bench_ctx *c) {
  double gibs[RUNS];
  int r;
  for (r = 0; r < RUNS; r++) {
    double t0, t1;
    size_t bytes;
    b->prepare(c);
    t0 = now_sec();
    bytes = b->run(c);
    t1 = now_sec();
    gibs[r] = (double)bytes / (1024.0 * 1024.0 * 1024.0) / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9);
  }
  qsort(gibs, RUNS, sizeof(gibs[0]), cmp_double);
  return gibs[RUNS / 2];
}

static void print_header(size_t len) {
  printf("libsmtp micro benchmarks: %.0f MiB of ~70-octet CRLF mail lines, median of %d\n",
         (double)len / (1024.0 * 1024.0), RUNS);
  printf("%-24s %10s\n", "benchmark", "GiB/s");
  printf("%-24s %10s\n", "------------------------", "----------");
}

static void print_row(const char *name, double gibs) { printf("%-24s %10.2f\n", name, gibs); }

int main(int argc, char **argv) {
  static const bench benches[] = {
      {"memchr '\\n' per line", prep_none, run_memchr},
      {"memcpy", prep_none, run_memcpy},
      {"smtp_unstuff", prep_unstuff, run_unstuff},
      {"smtp_unstuff 64K reads", prep_unstuff, run_unstuff_64k},
      {"smtp_stuff", prep_none, run_stuff},
  };
  double results[sizeof(benches) / sizeof(benches[0])];
  size_t mib = 64, i;
  bench_ctx c;
  if (argc > 1) mib = (size_t)strtoul(argv[1], NULL, 10);
  if (mib == 0) mib = 64;
  memset(&c, 0, sizeof(c));
  c.len = mib * 1024 * 1024;
  c.text = make_text(c.len);
  c.worklen = SMTP_STUFF_MAX_OUTPUT(c.len);
  c.work = malloc(c.worklen);
  if (!c.text || !c.work) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  memset(c.work, 0, c.worklen); /* fault the pages in before timing */
  print_header(c.len);
  for (i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
    results[i] = measure(&benches[i], &c);
    print_row(benches[i].name, results[i]);
  }
  printf("\nratio smtp_unstuff / memchr: %.2f\n", results[2] / results[0]);
  printf("(sink %llu)\n", (unsigned long long)c.sink);
  free((void *)c.text);
  free(c.work);
  return 0;
}
