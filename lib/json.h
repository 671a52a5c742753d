/* A bounded JSON writer shared by the capture records and the TLS reports:
 * text goes into a caller's buffer piece by piece; a piece that does not
 * fit (with room left for a final NUL) is not written, but the length still
 * grows, so the caller learns the size it needed (len >= cap: too small).
 * Not installed. */
#ifndef SMTP_JSON_H
#define SMTP_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct smtp__jw {
  char *buf;
  size_t cap, len;
} smtp__jw;

void smtp__jw_put(smtp__jw *w, const char *s, size_t n);
void smtp__jw_puts(smtp__jw *w, const char *s);
/* A JSON string (RFC 8259 7): quote and backslash escaped, controls and
 * DEL as \u00XX; valid UTF-8 passes through, and in a string that is not
 * valid UTF-8 every octet over 0x7f becomes U+FFFD (RFC 8259 8.1 wants
 * UTF-8). */
void smtp__jw_str_n(smtp__jw *w, const char *s, size_t n);
void smtp__jw_u64(smtp__jw *w, uint64_t v);

#endif
