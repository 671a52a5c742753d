/* libFuzzer target for the client's one-pass body scanners in lib/data.c:
 * smtp_data_measure() (seen bits and the RFC 1870 3 size of a body as the
 * stuffer sends it), smtp__data_find_bol_dot() (line-start dots, RFC 5321
 * 4.5.2, for the zero-copy DATA path) and smtp__data_scan_crlf() (the BDAT
 * normaliser's run scan). Their SSE2 / word-at-a-time loops are compared
 * with plain octet-by-octet references written from the documentation,
 * at every alignment the input chooses, and smtp_data_measure()'s size
 * with what the stuffer really sends (un-stuffed again).
 *
 * Input: byte 0: bit 0 at_bol for the dot search, bits 1-4 the start
 * offset (alignment), then the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/data.h>

#include "data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

/* smtp_data_measure() as its documentation says, one octet at a time. */
static unsigned ref_measure(const unsigned char *b, size_t n, uint64_t *wire) {
  unsigned seen = 0;
  uint64_t w = 0, line = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = b[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < n && b[i + 1] == '\n') i++;
      else seen |= c == '\r' ? SMTP_DATA_SEEN_BARE_CR : SMTP_DATA_SEEN_BARE_LF;
      if (line + 2 > 1000) seen |= SMTP_DATA_SEEN_LONG_LINE;
      w += line + 2;
      line = 0;
      continue;
    }
    if (c == 0) seen |= SMTP_DATA_SEEN_NUL;
    if (c >= 0x80) seen |= SMTP_DATA_SEEN_8BIT;
    line++;
  }
  if (line > 0) {
    if (line + 2 > 1000) seen |= SMTP_DATA_SEEN_LONG_LINE;
    w += line + 2;
  }
  *wire = w;
  return seen;
}

static size_t ref_bol_dot(const unsigned char *p, size_t n, int at_bol) {
  for (size_t i = 0; i < n; i++)
    if (p[i] == '.' && (i == 0 ? at_bol : p[i - 1] == '\n')) return i;
  return n;
}

static size_t ref_scan_crlf(const unsigned char *p, size_t n, unsigned *seen) {
  size_t i;
  for (i = 0; i < n && p[i] != '\r' && p[i] != '\n'; i++) {
    if (p[i] == 0) *seen |= SMTP_DATA_SEEN_NUL;
    if (p[i] >= 0x80) *seen |= SMTP_DATA_SEEN_8BIT;
  }
  return i;
}

/* What the stuffer sends, un-stuffed again: the octets RFC 1870 counts. */
static int stuffed_size(const unsigned char *b, size_t n, uint64_t *size) {
  smtp_stuffer st;
  smtp_unstuffer un;
  size_t cap = SMTP_STUFF_MAX_OUTPUT(n) + SMTP_STUFF_FINISH_MAX, consumed = 0, len;
  char *wire = malloc(cap);
  smtp_ssize k, f;
  CHECK(wire);
  smtp_stuffer_init(&st, SMTP_STUFF_ALLOW_LONG_LINES);
  k = smtp_stuff(&st, (const char *)b, n, &consumed, wire, cap);
  if (k < 0) {
    free(wire);
    return (int)k;
  }
  CHECK(consumed == n);
  f = smtp_stuff_finish(&st, wire + k, cap - (size_t)k);
  CHECK(f > 0);
  memset(&un, 0, sizeof un);
  len = (size_t)(k + f);
  consumed = 0;
  CHECK(smtp_unstuff(&un, wire, &len, &consumed) == 1); /* exactly one end of data */
  CHECK(consumed == (size_t)(k + f));
  *size = (uint64_t)len;
  free(wire);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const unsigned char *b;
  unsigned char *copy;
  size_t n, off;
  int at_bol;
  if (size < 1) return 0;
  at_bol = data[0] & 1;
  off = (data[0] >> 1) & 15u;
  n = size - 1;
  /* a private copy at the chosen alignment, so ASan sees every overread */
  copy = malloc(n + off + 1);
  CHECK(copy);
  b = copy + off;
  memcpy(copy + off, data + 1, n);
  {
    uint64_t w1 = 1, w2 = 2, ws = 3;
    unsigned s1 = smtp_data_measure((const char *)b, n, &w1);
    unsigned s2 = ref_measure(b, n, &w2);
    CHECK(s1 == s2);
    CHECK(w1 == w2);
    CHECK(smtp_data_measure((const char *)b, n, NULL) == s1);
    if (stuffed_size(b, n, &ws) == 0) {
      CHECK(!(s1 & SMTP_DATA_SEEN_NUL));
      CHECK(ws == w1);
    } else {
      CHECK(s1 & SMTP_DATA_SEEN_NUL); /* the only refusal with long lines allowed */
    }
  }
  {
    /* every suffix start near the front, so both at_bol cases and all
     * block phases are seen */
    for (size_t s = 0; s <= n && s < 70; s++) {
      size_t want = ref_bol_dot(b + s, n - s, at_bol);
      CHECK(smtp__data_find_bol_dot((const char *)b + s, n - s, at_bol) == want);
    }
  }
  {
    for (size_t s = 0; s <= n && s < 70; s++) {
      unsigned sa = 0, sb = 0;
      size_t want = ref_scan_crlf(b + s, n - s, &sa);
      const char *got = smtp__data_scan_crlf((const char *)b + s, (const char *)b + n, &sb);
      CHECK((size_t)(got - ((const char *)b + s)) == want);
      CHECK(sa == sb);
    }
  }
  free(copy);
  return 0;
}
