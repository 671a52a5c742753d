/* Shared pieces of the dot-stuffing fuzz targets (fuzz_stuff.c,
 * fuzz_unstuff.c): the body as it must come out of the wire, and the
 * order of the split points. */
#ifndef BODY_FUZZ_H
#define BODY_FUZZ_H

#include <stddef.h>

/* Bare CR and bare LF become CRLF; a final CRLF is added when missing.
 * @p out has room for 2 * @p n + 2 octets; its length is returned. */
static size_t normalise(const unsigned char *in, size_t n, unsigned char *out) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    if (in[i] == '\r' || in[i] == '\n') {
      out[o++] = '\r';
      out[o++] = '\n';
      if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n') i++;
    } else {
      out[o++] = in[i];
    }
  }
  if (o && !(o >= 2 && out[o - 2] == '\r' && out[o - 1] == '\n')) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  return o;
}

/* qsort() order of size_t split points. */
static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

#endif
