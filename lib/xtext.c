/* xtext (RFC 3461 4):
 *   xtext = *( xchar / hexchar )
 *   xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
 *           except for "+" and "=".
 *   hexchar = ASCII "+" immediately followed by two upper case
 *             hexadecimal digits
 * Decoding is strict: lower-case hex, a bare or short "+", "=", SP,
 * controls and non-ASCII are errors. Decoded octets may be anything
 * (including NUL): callers validate the decoded value against its own
 * grammar (docs/security.md 3). */
#include <smtp/address.h>

#include "abnf.h"

static unsigned uhex_val(unsigned c) { return c <= '9' ? c - '0' : c - 'A' + 10u; }

int smtp_xtext_decode(const char *in, size_t len, char *out, size_t outcap, size_t *outlen) {
  const unsigned char *p = (const unsigned char *)in;
  size_t i = 0, o = 0;
  if (outlen) *outlen = 0;
  if ((in == NULL && len != 0) || (out == NULL && outcap != 0))
    return SMTP_ERR_INVALID_ARGUMENT;
  while (i < len) {
    unsigned c = p[i];
    unsigned char b;
    if (SMTP__IS(c, SMTP__A_XCHAR)) {
      b = (unsigned char)c;
      i++;
    } else if (c == '+' && len - i >= 3 &&
               SMTP__IS(p[i + 1], SMTP__A_UHEX) && SMTP__IS(p[i + 2], SMTP__A_UHEX)) {
      b = (unsigned char)((uhex_val(p[i + 1]) << 4) | uhex_val(p[i + 2]));
      i += 3;
    } else {
      return SMTP_ERR_XTEXT;
    }
    if (o >= outcap) return SMTP_ERR_BUFFER_TOO_SMALL;
    out[o++] = (char)b;
  }
  if (outlen) *outlen = o;
  return SMTP_OK;
}

smtp_ssize smtp_xtext_encode(const char *in, size_t len, char *out, size_t outcap) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *p = (const unsigned char *)in;
  size_t o = 0;
  if ((in == NULL && len != 0) || (out == NULL && outcap != 0))
    return SMTP_ERR_INVALID_ARGUMENT;
  if (len > (size_t)PTRDIFF_MAX / 3) return SMTP_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < len; i++) {
    unsigned c = p[i];
    if (SMTP__IS(c, SMTP__A_XCHAR)) {
      if (o >= outcap) return SMTP_ERR_BUFFER_TOO_SMALL;
      out[o++] = (char)c;
    } else {
      if (outcap - o < 3) return SMTP_ERR_BUFFER_TOO_SMALL;
      out[o++] = '+';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15u];
    }
  }
  return (smtp_ssize)o;
}
