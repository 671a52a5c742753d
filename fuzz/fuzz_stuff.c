/* libFuzzer target for the dot-stuffer (RFC 5321 4.5.2, 4.5.3.1.6;
 * SECURITY.md §1, client side).
 *
 * Input layout: byte 0 options (bit 0: SMTP_STUFF_ALLOW_LONG_LINES, bit 1:
 * SMTP_STUFF_REFUSE_BARE, bits 4-7: output room per call, 0 = worst case),
 * byte 1 the number of split points (0..15), then two bytes per split
 * point, then the body. Checked, with abort() on violation:
 *  - nothing is written past the output room, and any room >= 1 progresses;
 *  - the split feed (with the chosen room) gives the same bytes, the same
 *    error at the same input offset and the same seen bits as a whole feed;
 *  - an error is justified (NUL present, bare CR/LF present when refused,
 *    a line over 1000 octets) and sticky;
 *  - round trip: without error, the wire holds no bare CR/LF or NUL, and
 *    un-stuffing it gives the CRLF-normalised body and exactly one end of
 *    data, at the wire's last byte. */
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
  int err;
  size_t err_at;
  unsigned seen;
} result;

static result run(const unsigned char *in, size_t n, unsigned flags, const size_t *cuts,
                  size_t ncuts, size_t room) {
  result r;
  smtp_stuffer e;
  size_t off = 0, k = 0;
  memset(&r, 0, sizeof(r));
  r.out = malloc(SMTP_STUFF_MAX_OUTPUT(n) + SMTP_STUFF_FINISH_MAX);
  CHECK(r.out);
  smtp_stuffer_init(&e, flags);
  while (off < n) {
    size_t stop = n, c, cap, consumed = (size_t)-1, j;
    unsigned char *o;
    smtp_ssize w;
    while (k < ncuts && cuts[k] <= off) k++;
    if (k < ncuts) stop = cuts[k];
    c = stop - off;
    cap = room ? room : SMTP_STUFF_MAX_OUTPUT(c);
    o = malloc(cap + 4);
    CHECK(o);
    memset(o + cap, 0x5A, 4);
    w = smtp_stuff(&e, (const char *)in + off, c, &consumed, (char *)o, cap);
    for (j = 0; j < 4; j++) CHECK(o[cap + j] == 0x5A);
    CHECK(consumed <= c);
    if (w < 0) {
      size_t c2;
      r.err = (int)w;
      r.err_at = off + consumed;
      r.seen = e.seen;
      free(o);
      CHECK(smtp_stuff(&e, "x", 1, &c2, (char *)r.out, 4) == w); /* sticky */
      CHECK(smtp_stuff_finish(&e, (char *)r.out, SMTP_STUFF_FINISH_MAX) == w);
      return r;
    }
    CHECK((size_t)w <= cap);
    CHECK(w > 0 || consumed > 0);
    if (!room) CHECK(consumed == c);
    memcpy(r.out + r.outlen, o, (size_t)w);
    r.outlen += (size_t)w;
    off += consumed;
    free(o);
  }
  {
    char fin[SMTP_STUFF_FINISH_MAX];
    smtp_ssize w = smtp_stuff_finish(&e, fin, room && room < sizeof(fin) ? room : sizeof(fin));
    if (w == SMTP_ERR_BUFFER_TOO_SMALL) w = smtp_stuff_finish(&e, fin, sizeof(fin));
    if (w < 0) {
      r.err = (int)w;
      r.err_at = n;
    } else {
      memcpy(r.out + r.outlen, fin, (size_t)w);
      r.outlen += (size_t)w;
    }
  }
  r.seen = e.seen;
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t ncuts, i, n, room;
  size_t cuts[16];
  unsigned flags;
  const unsigned char *in;
  result whole, split;
  if (size < 2) return 0;
  flags = data[0] & 3u;
  room = (size_t)(data[0] >> 4);
  ncuts = data[1] & 15u;
  if (size < 2 + 2 * ncuts) return 0;
  in = data + 2 + 2 * ncuts;
  n = size - 2 - 2 * ncuts;
  for (i = 0; i < ncuts; i++) {
    size_t v = (size_t)data[2 + 2 * i] | ((size_t)data[3 + 2 * i] << 8);
    cuts[i] = n ? v % (n + 1) : 0;
  }
  qsort(cuts, ncuts, sizeof(cuts[0]), cmp_size);

  whole = run(in, n, flags, NULL, 0, 0);
  split = run(in, n, flags, cuts, ncuts, room);
  CHECK(whole.err == split.err && whole.seen == split.seen);
  if (whole.err) {
    CHECK(whole.err_at == split.err_at);
    switch (whole.err) {
    case SMTP_ERR_NUL: CHECK(whole.err_at < n && in[whole.err_at] == 0); break;
    case SMTP_ERR_BARE_LF:
      CHECK(flags & SMTP_STUFF_REFUSE_BARE);
      CHECK(in[whole.err_at] == '\n' && (whole.err_at == 0 || in[whole.err_at - 1] != '\r'));
      break;
    case SMTP_ERR_BARE_CR:
      CHECK(flags & SMTP_STUFF_REFUSE_BARE);
      CHECK(whole.err_at > 0 && in[whole.err_at - 1] == '\r' &&
            (whole.err_at == n || in[whole.err_at] != '\n'));
      break;
    case SMTP_ERR_LINE_TOO_LONG: {
      /* The 999th content octet of a line (the stuffing dot not counted). */
      size_t j = whole.err_at, len = 0;
      CHECK(!(flags & SMTP_STUFF_ALLOW_LONG_LINES));
      while (j > 0 && in[j - 1] != '\n' && in[j - 1] != '\r') {
        j--;
        len++;
      }
      CHECK(len == 998);
      break;
    }
    default: abort();
    }
  } else {
    unsigned char *norm = malloc(2 * n + 3);
    size_t nl;
    smtp_unstuffer d;
    size_t len = whole.outlen, consumed;
    CHECK(norm);
    CHECK(whole.outlen == split.outlen && memcmp(whole.out, split.out, whole.outlen) == 0);
    CHECK(!(smtp_data_scan((const char *)whole.out, whole.outlen) &
            (SMTP_DATA_SEEN_BARE_CR | SMTP_DATA_SEEN_BARE_LF | SMTP_DATA_SEEN_NUL)));
    CHECK(whole.outlen <= SMTP_STUFF_MAX_OUTPUT(n) + SMTP_STUFF_FINISH_MAX);
    nl = normalise(in, n, norm);
    smtp_unstuffer_reset(&d);
    CHECK(smtp_unstuff(&d, (char *)whole.out, &len, &consumed) == 1);
    CHECK(consumed == whole.outlen); /* exactly one end of data, at the end */
    CHECK(len == nl && memcmp(whole.out, norm, nl) == 0);
    free(norm);
  }
  free(whole.out);
  free(split.out);
  return 0;
}
