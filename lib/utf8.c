/* UTF-8 validation (RFC 3629 4): shortest form only, no surrogates,
 * nothing above U+10FFFF, no truncated sequences. ASCII runs are skipped
 * eight octets at a time. */
#include <smtp/address.h>

#include "abnf.h"

int smtp_utf8_validate(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  if (s == NULL) return len ? SMTP_ERR_INVALID_ARGUMENT : SMTP_OK;
  while (i < len) {
    size_t n;
    while (i + 8 <= len && (smtp__load64(p + i) & SMTP__HIGHS) == 0) i += 8;
    while (i < len && p[i] < 0x80u) i++;
    if (i >= len) break;
    n = smtp__utf8_seq(p + i, len - i);
    if (n == 0) return SMTP_ERR_UTF8;
    i += n;
  }
  return SMTP_OK;
}
