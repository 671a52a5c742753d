/* libFuzzer target: XCLIENT / XFORWARD attribute lists (xclient.h).
 *
 * Input layout: byte 0 bit 0 picks the command (XCLIENT / XFORWARD); the
 * rest is the argument text. Checked invariants: decoded values lie in the
 * scratch buffer, are at most 255 octets of printable ASCII without space;
 * a list that parses formats to a list that parses to the same attributes
 * (formatting then parsing is the identity on the parsed form), and the
 * formatted text is itself canonical (formatting it again gives the same
 * bytes); a too-small scratch buffer gives an error, never a write past it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/xclient.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

#define MAXIN 2048

static void same(const smtp_xattrs *a, const smtp_xattrs *b) {
  for (int i = 0; i < SMTP_XATTR_COUNT; i++) {
    CHECK(a->state[i] == b->state[i]);
    if (a->state[i] == SMTP_XVALUE_SET) {
      CHECK(a->value[i].len == b->value[i].len);
      CHECK(memcmp(a->value[i].ptr, b->value[i].ptr, a->value[i].len) == 0);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char scratch[MAXIN], scratch2[4 * MAXIN], fmt[4 * MAXIN], fmt2[4 * MAXIN], small[16];
  smtp_xattrs x, y, z;
  unsigned int verb;
  smtp_ssize n, n2;
  int r;
  if (size < 1 || size > MAXIN) return 0;
  verb = (data[0] & 1) ? SMTP_XFORWARD : SMTP_XCLIENT;
  data++;
  size--;
  r = smtp_xattrs_parse(verb, (const char *)data, size, &x, scratch, sizeof scratch);
  {
    int rs = smtp_xattrs_parse(verb, (const char *)data, size, &z, small, sizeof small);
    if (r != 0) CHECK(rs != 0);
  }
  if (r != 0) return 0;
  for (int i = 0; i < SMTP_XATTR_COUNT; i++) {
    if (x.state[i] != SMTP_XVALUE_SET) continue;
    CHECK(x.value[i].ptr >= scratch && x.value[i].ptr + x.value[i].len <= scratch + sizeof scratch);
    CHECK(x.value[i].len <= SMTP_XATTR_VALUE_MAX);
    for (size_t k = 0; k < x.value[i].len; k++) CHECK(x.value[i].ptr[k] > 32 && x.value[i].ptr[k] < 127);
  }
  n = smtp_xattrs_format(verb, &x, fmt, sizeof fmt);
  CHECK(n > 0);
  CHECK(smtp_xattrs_parse(verb, fmt, (size_t)n, &y, scratch2, sizeof scratch2) == 0);
  same(&x, &y);
  n2 = smtp_xattrs_format(verb, &y, fmt2, sizeof fmt2);
  CHECK(n2 == n && memcmp(fmt, fmt2, (size_t)n) == 0);
  return 0;
}
