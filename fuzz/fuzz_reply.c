/* libFuzzer target for the reply parser (RFC 5321 4.2).
 *
 * Input layout: byte 0 holds options (bit 0: enhanced codes on; bits 1-2
 * pick small limits), byte 1 the number of split points (0..7), then two
 * bytes per split point (offsets into the payload), then the payload. The
 * payload is fed in the chunks those offsets give, and again whole; both
 * runs must see the same replies and the same end state. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/reply.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checked in every build type (CHECK() would vanish under NDEBUG). */
#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

#define MAX_REPLIES 64

typedef struct summary {
  int n;
  int err;
  int done;
  uint32_t hash[MAX_REPLIES];
} summary;

static uint32_t mix(uint32_t h, const void *p, size_t n) {
  const unsigned char *s = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
  return h;
}

static void check_reply(const smtp_reply *r, size_t max_lines, size_t max_line, summary *sm) {
  uint32_t h = 2166136261u;
  CHECK(r != NULL);
  /* Invariants: a valid code, at least one and at most max_lines lines,
   * text without CR, LF or NUL, enhanced class equal to the first digit. */
  CHECK(r->code >= 200 && r->code <= 599);
  CHECK(smtp_reply_code_class(r->code) == r->code / 100);
  CHECK(r->nlines >= 1 && r->nlines <= max_lines);
  if (r->has_enhanced) CHECK(r->enhanced.cls == r->code / 100);
  h = mix(h, &r->code, sizeof(r->code));
  h = mix(h, &r->has_enhanced, sizeof(r->has_enhanced));
  for (size_t i = 0; i < r->nlines; i++) {
    const smtp_span *l = &r->lines[i];
    CHECK(l->len == 0 || l->len + 6 <= max_line); /* "NNN " text CRLF */
    CHECK(!memchr(l->ptr, '\r', l->len) && !memchr(l->ptr, '\n', l->len) &&
           !memchr(l->ptr, '\0', l->len));
    h = mix(h, &l->len, sizeof(l->len));
    h = mix(h, l->ptr, l->len);
  }
  if (sm->n < MAX_REPLIES) sm->hash[sm->n] = h;
  sm->n++;
}

static void run(smtp_reply_parser *p, const uint8_t *in, size_t len, const size_t *cuts,
                size_t ncuts, size_t max_lines, size_t max_line, summary *sm) {
  size_t start = 0;
  memset(sm, 0, sizeof(*sm));
  for (size_t k = 0; k <= ncuts && !sm->err; k++) {
    size_t stop = k < ncuts ? cuts[k] : len;
    size_t off = start;
    if (stop < start) stop = start;
    while (off < stop) {
      smtp_ssize r = smtp_reply_parser_feed(p, (const char *)in + off, stop - off);
      if (r < 0) {
        CHECK(r == SMTP_ERR_REPLY_SYNTAX || r == SMTP_ERR_REPLY_CODE_MISMATCH ||
               r == SMTP_ERR_REPLY_TOO_LONG || r == SMTP_ERR_REPLY_TOO_MANY_LINES);
        CHECK(!smtp_reply_parser_done(p) && !smtp_reply_parser_reply(p));
        /* Sticky. */
        CHECK(smtp_reply_parser_feed(p, "250 OK\r\n", 8) == r);
        sm->err = (int)r;
        break;
      }
      CHECK((size_t)r <= stop - off);
      off += (size_t)r;
      if (smtp_reply_parser_done(p)) {
        check_reply(smtp_reply_parser_reply(p), max_lines, max_line, sm);
      } else {
        CHECK(off == stop);
      }
    }
    start = stop;
  }
  sm->done = smtp_reply_parser_done(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t line_opts[4] = {0, 5, 16, 1000};
  static const size_t lines_opts[4] = {0, 1, 3, 200};
  size_t cuts[8], ncuts, max_line, max_lines, i;
  smtp_reply_parser *p = NULL;
  summary a, b;
  if (size < 2) return 0;
  int opt = data[0];
  ncuts = data[1] & 7u;
  data += 2;
  size -= 2;
  if (size < ncuts * 2) return 0;
  for (i = 0; i < ncuts; i++) cuts[i] = (size_t)data[2 * i] | ((size_t)data[2 * i + 1] << 8);
  data += ncuts * 2;
  size -= ncuts * 2;
  /* Sorted offsets within the payload. */
  for (i = 0; i < ncuts; i++) {
    cuts[i] = size ? cuts[i] % (size + 1) : 0;
    for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
      size_t t = cuts[j];
      cuts[j] = cuts[j - 1];
      cuts[j - 1] = t;
    }
  }
  max_line = line_opts[(opt >> 1) & 3];
  max_lines = lines_opts[(opt >> 3) & 3];
  if (smtp_reply_parser_new(&p, max_line, max_lines, NULL) != SMTP_OK) return 0;
  if (!max_line) max_line = SMTP_REPLY_LINE_MAX;
  if (!max_lines) max_lines = SMTP_REPLY_LINES_MAX;
  smtp_reply_parser_set_enhanced(p, opt & 1);

  run(p, data, size, cuts, ncuts, max_lines, max_line, &a);
  smtp_reply_parser_reset(p);
  run(p, data, size, NULL, 0, max_lines, max_line, &b);
  /* Split points never change the result. */
  CHECK(a.n == b.n && a.err == b.err && a.done == b.done);
  for (int k = 0; k < a.n && k < MAX_REPLIES; k++) CHECK(a.hash[k] == b.hash[k]);
  smtp_reply_parser_del(p);
  return 0;
}
