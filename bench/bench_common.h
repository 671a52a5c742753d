/* Shared helpers of the benchmark programs (header only, static functions):
 * monotonic time, medians, a deterministic PRNG, and a counting smtp_mem
 * that records every allocation a session makes and how many bytes it holds.
 * Not part of the library. */
#ifndef SMTP_BENCH_COMMON_H
#define SMTP_BENCH_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <smtp/common.h>

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median of n values (sorts them in place). */
static inline double bench_median(double *v, size_t n) {
  qsort(v, n, sizeof v[0], bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static inline void bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

/* --- counting allocator ---------------------------------------------------- */

/* Every block carries a header with its size, so the bytes held are exact. */
typedef struct bench_mem_stats {
  uint64_t allocs;   /* malloc + calloc + realloc(NULL or growing) calls */
  uint64_t reallocs; /* realloc calls on a live block */
  uint64_t frees;
  size_t cur;        /* bytes held now (requested sizes) */
  size_t peak;
} bench_mem_stats;

#define BENCH_MEM_HDR 16

static void *bench_mem_malloc(size_t size, void *ud) {
  bench_mem_stats *st = ud;
  unsigned char *p = malloc(size + BENCH_MEM_HDR);
  if (!p) return NULL;
  memcpy(p, &size, sizeof size);
  st->allocs++;
  st->cur += size;
  if (st->cur > st->peak) st->peak = st->cur;
  return p + BENCH_MEM_HDR;
}

static void bench_mem_free(void *ptr, void *ud) {
  bench_mem_stats *st = ud;
  unsigned char *p = ptr;
  size_t size;
  if (!p) return;
  p -= BENCH_MEM_HDR;
  memcpy(&size, p, sizeof size);
  st->frees++;
  st->cur -= size;
  free(p);
}

static void *bench_mem_calloc(size_t n, size_t size, void *ud) {
  void *p;
  if (size && n > (size_t)-1 / size) return NULL;
  p = bench_mem_malloc(n * size, ud);
  if (p) memset(p, 0, n * size);
  return p;
}

static void *bench_mem_realloc(void *ptr, size_t size, void *ud) {
  bench_mem_stats *st = ud;
  unsigned char *p = ptr, *q;
  size_t old;
  if (!p) return bench_mem_malloc(size, ud);
  p -= BENCH_MEM_HDR;
  memcpy(&old, p, sizeof old);
  q = realloc(p, size + BENCH_MEM_HDR);
  if (!q) return NULL;
  memcpy(q, &size, sizeof size);
  st->reallocs++;
  st->cur = st->cur - old + size;
  if (st->cur > st->peak) st->peak = st->cur;
  return q + BENCH_MEM_HDR;
}

/* An smtp_mem that counts into *st. */
static inline smtp_mem bench_mem(bench_mem_stats *st) {
  smtp_mem m;
  m.user_data = st;
  m.malloc = bench_mem_malloc;
  m.free = bench_mem_free;
  m.calloc = bench_mem_calloc;
  m.realloc = bench_mem_realloc;
  return m;
}

/* Allocation calls so far (new blocks and reallocations). */
static inline uint64_t bench_mem_calls(const bench_mem_stats *st) {
  return st->allocs + st->reallocs;
}

/* --- mail text --------------------------------------------------------------- */

/* Deterministic xorshift. */
static inline uint32_t bench_rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (uint32_t)(*s >> 32);
}

/* Fill out[0..len) with a message body of CRLF lines of 60-78 octets
 * (header-ish first lines, then text); about one line in 40 starts with a
 * dot. Ends with CRLF. Not dot-stuffed: the sender stuffs. len >= 64. */
static inline void bench_make_body(char *out, size_t len, uint64_t seed) {
  static const char *const words[] = {"the", "of", "and", "to", "in", "is", "mail", "server",
                                      "message", "report", "please", "attached", "regards",
                                      "quarterly", "data", "a", "with", "for", "on"};
  uint64_t s = seed | 1;
  size_t i = 0;
  int n = snprintf(out, len, "Subject: benchmark message %llu\r\n\r\n",
                   (unsigned long long)(seed & 0xFFFFFF));
  if (n > 0 && (size_t)n < len) i = (size_t)n;
  /* Invariant: len - i >= 2 (room for at least CRLF). */
  while (i < len) {
    size_t r = len - i, line, k = 0;
    line = r <= 80 ? r - 2 : 60 + bench_rnd(&s) % 18; /* leaves >= 2 when r > 80 */
    if (line > 0 && bench_rnd(&s) % 40 == 0) out[i + k++] = '.';
    while (k < line) {
      const char *w = words[bench_rnd(&s) % (sizeof words / sizeof words[0])];
      while (*w && k < line) out[i + k++] = *w++;
      if (k < line) out[i + k++] = ' ';
    }
    i += k;
    out[i++] = '\r';
    out[i++] = '\n';
  }
}

/* Dot-stuff a body (RFC 5321 4.5.2) into out (room for 2*len), return its length. */
static inline size_t bench_dot_stuff(const char *in, size_t len, char *out) {
  size_t i, o = 0;
  int bol = 1;
  for (i = 0; i < len; i++) {
    if (bol && in[i] == '.') out[o++] = '.';
    out[o++] = in[i];
    bol = in[i] == '\n' && i > 0 && in[i - 1] == '\r';
  }
  return o;
}

#endif
