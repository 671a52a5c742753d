/* The DER element reader (der.h). */
#include "der.h"

int smtp__der_read(const unsigned char *buf, size_t len, smtp__der *out) {
  size_t l, hdr = 2;
  if (len < 2) return -1;
  if ((buf[0] & 0x1f) == 0x1f) return -1; /* high tag numbers: not in certificates */
  l = buf[1];
  if (l & 0x80) {
    size_t n = l & 0x7f;
    if (n == 0 || n > 4 || len < 2 + n) return -1; /* indefinite length is not DER */
    l = 0;
    for (size_t i = 0; i < n; i++) l = l << 8 | buf[2 + i];
    if (buf[2] == 0 || l < 128) return -1; /* X.690 10.1: minimal length octets */
    hdr += n;
  }
  if (l > len - hdr) return -1;
  out->tag = buf[0];
  out->p = buf;
  out->len = hdr + l;
  out->c = buf + hdr;
  out->clen = l;
  return 0;
}
