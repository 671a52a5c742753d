/* libFuzzer target for the DATA un-stuffer (RFC 5321 4.5.2, 4.1.1.4;
 * SECURITY.md §1, SMTP smuggling).
 *
 * Input layout: byte 0 the number of split points (0..15, low 4 bits), then
 * two bytes per split point (offsets into the payload, little endian), then
 * the payload. Checked, with abort() on violation:
 *  - the whole feed matches a naive reference decoder (end of data only at
 *    CRLF "." CRLF on the raw bytes, leading dots removed, seen bits);
 *  - the split feed gives the same result (a split feed that ends without
 *    end of data may still hold one carried byte, see lib/data.c);
 *  - output never outruns input, consumed never exceeds a chunk;
 *  - round trip: when the decoded message has no NUL, stuffing it again and
 *    un-stuffing that gives the same bytes and exactly one end of data. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/data.h>

#include "body_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

typedef struct result {
  unsigned char *out;
  size_t outlen;
  size_t consumed;
  int ret;
  unsigned seen;
} result;

/* Feed in chunks ending at the sorted offsets cuts[0..ncuts). */
static result run(const unsigned char *in, size_t n, const size_t *cuts, size_t ncuts) {
  result r;
  smtp_unstuffer d;
  size_t off = 0, k = 0;
  memset(&r, 0, sizeof(r));
  r.out = malloc(n + 1);
  CHECK(r.out);
  smtp_unstuffer_reset(&d);
  while (off < n) {
    size_t stop = n, c, len, consumed = (size_t)-1;
    unsigned char *buf;
    int rc;
    while (k < ncuts && cuts[k] <= off) k++;
    if (k < ncuts) stop = cuts[k];
    c = stop - off;
    buf = malloc(c);
    CHECK(buf);
    memcpy(buf, in + off, c);
    len = c;
    rc = smtp_unstuff(&d, (char *)buf, &len, &consumed);
    CHECK(rc == 0 || rc == 1);
    CHECK(consumed <= c);
    CHECK(len <= c);
    CHECK(rc == 1 || consumed == c);
    memcpy(r.out + r.outlen, buf, len);
    r.outlen += len;
    off += consumed;
    free(buf);
    if (rc == 1) {
      r.ret = 1;
      break;
    }
  }
  r.consumed = off;
  r.seen = d.seen;
  CHECK(d.total == r.outlen);
  return r;
}

/* Naive reference: line by line on the raw bytes. */
static result reference(const unsigned char *in, size_t n) {
  result r;
  size_t i = 0, j;
  memset(&r, 0, sizeof(r));
  r.out = malloc(n + 1);
  CHECK(r.out);
  while (i < n) {
    /* i is a line start. */
    if (in[i] == '.') {
      if (n - i >= 3 && in[i + 1] == '\r' && in[i + 2] == '\n') {
        r.ret = 1;
        i += 3;
        break;
      }
      if (n - i == 2 && in[i + 1] == '\r') { /* ".\r" held back */
        i = n;
        break;
      }
      i++;
    }
    for (j = i; j + 1 < n && !(in[j] == '\r' && in[j + 1] == '\n'); j++) continue;
    if (j + 1 < n) j += 2; /* CRLF ends the line */
    else j = n;
    for (; i < j; i++) {
      unsigned char c = in[i];
      r.out[r.outlen++] = c;
      if (c == 0) r.seen |= SMTP_DATA_SEEN_NUL;
      if (c & 0x80) r.seen |= SMTP_DATA_SEEN_8BIT;
      if (c == '\n' && !(i > 0 && in[i - 1] == '\r')) r.seen |= SMTP_DATA_SEEN_BARE_LF;
      if (c == '\r' && i + 1 < n && in[i + 1] != '\n') r.seen |= SMTP_DATA_SEEN_BARE_CR;
    }
  }
  r.consumed = i;
  return r;
}

static int same(const result *whole, const result *b) {
  size_t blen = b->outlen;
  if (whole->ret == 0 && blen + 1 == whole->outlen) blen++; /* one carried byte */
  return whole->ret == b->ret && whole->consumed == b->consumed && whole->outlen == blen &&
         whole->seen == b->seen && memcmp(whole->out, b->out, b->outlen) == 0;
}

static void round_trip(const unsigned char *msg, size_t n) {
  smtp_stuffer e;
  size_t cap = SMTP_STUFF_MAX_OUTPUT(n) + SMTP_STUFF_FINISH_MAX, consumed, wl;
  unsigned char *wire = malloc(cap);
  smtp_ssize w, f;
  result r;
  CHECK(wire);
  smtp_stuffer_init(&e, SMTP_STUFF_ALLOW_LONG_LINES);
  w = smtp_stuff(&e, (const char *)msg, n, &consumed, (char *)wire, cap);
  CHECK(w >= 0 && consumed == n);
  f = smtp_stuff_finish(&e, (char *)wire + w, cap - (size_t)w);
  CHECK(f > 0);
  wl = (size_t)w + (size_t)f;
  r = run(wire, wl, NULL, 0);
  CHECK(r.ret == 1 && r.consumed == wl);
  /* The decoded message is empty or ends with CRLF (it was followed by "."
   * CRLF), so it comes back as itself with bare CR/LF made CRLF. */
  {
    unsigned char *norm = malloc(2 * n + 3);
    size_t nl;
    CHECK(norm);
    nl = normalise(msg, n, norm);
    CHECK(r.outlen == nl && memcmp(r.out, norm, nl) == 0);
    free(norm);
  }
  free(r.out);
  free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t ncuts, i, n;
  size_t cuts[16];
  const unsigned char *in;
  result whole, ref, split, one;
  if (size < 1) return 0;
  ncuts = data[0] & 15u;
  if (size < 1 + 2 * ncuts) return 0;
  in = data + 1 + 2 * ncuts;
  n = size - 1 - 2 * ncuts;
  for (i = 0; i < ncuts; i++) {
    size_t v = (size_t)data[1 + 2 * i] | ((size_t)data[2 + 2 * i] << 8);
    cuts[i] = n ? v % (n + 1) : 0;
  }
  qsort(cuts, ncuts, sizeof(cuts[0]), cmp_size);

  whole = run(in, n, NULL, 0);
  ref = reference(in, n);
  /* LONG_LINE is not modelled by the reference. */
  CHECK(whole.ret == ref.ret && whole.consumed == ref.consumed &&
        whole.outlen == ref.outlen && memcmp(whole.out, ref.out, ref.outlen) == 0 &&
        (whole.seen & ~(unsigned)SMTP_DATA_SEEN_LONG_LINE) == ref.seen);
  split = run(in, n, cuts, ncuts);
  CHECK(same(&whole, &split));
  if (n <= 4096) {
    size_t *all = malloc((n + 1) * sizeof(size_t));
    CHECK(all);
    for (i = 0; i < n; i++) all[i] = i + 1;
    one = run(in, n, all, n);
    CHECK(same(&whole, &one));
    free(one.out);
    free(all);
  }
  if (whole.ret == 1 && !(whole.seen & SMTP_DATA_SEEN_NUL)) round_trip(whole.out, whole.outlen);
  free(whole.out);
  free(ref.out);
  free(split.out);
  return 0;
}
