/* Strict base64 (RFC 4648 4): the standard alphabet, "=" padding to a
 * multiple of 4 characters, nothing else. Used by AUTH (RFC 4954 4), where
 * a lenient decoder would let two different strings mean the same
 * credentials. No allocation, no I/O. */
#include <stdint.h>

#include <smtp/sasl.h>

#include "internal.h"

static const char b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of each octet in the RFC 4648 4 alphabet (Table 1); 0xFF marks every
 * octet outside it, including "=", whitespace and the URL-safe "-" "_"
 * (RFC 4648 5 is a different encoding). */
#define X 0xFF
static const unsigned char b64_value[256] = {
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* 0x00 */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* 0x10 */
    X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63, /* 0x20: + / */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X, /* 0x30: 0-9 */
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, /* 0x40: A-O */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X, /* 0x50: P-Z */
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60: a-o */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X, /* 0x70: p-z */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, /* 0x80.. */
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

smtp_ssize smtp_base64_encode(const void *in, size_t len, char *out, size_t outcap) {
  const unsigned char *p = (const unsigned char *)in;
  size_t need, i, o = 0;

  if ((!in && len) || (!out && outcap)) return SMTP_ERR_INVALID_ARGUMENT;
  /* The encoded length must be representable as a non-negative smtp_ssize. */
  if (len > ((size_t)PTRDIFF_MAX / 4) * 3) return SMTP_ERR_BUFFER_TOO_SMALL;
  need = SMTP_BASE64_ENCODED_LEN(len);
  if (need > outcap) return SMTP_ERR_BUFFER_TOO_SMALL;

  for (i = 0; i + 3 <= len; i += 3) {
    uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
    out[o++] = b64_alphabet[(v >> 18) & 0x3F];
    out[o++] = b64_alphabet[(v >> 12) & 0x3F];
    out[o++] = b64_alphabet[(v >> 6) & 0x3F];
    out[o++] = b64_alphabet[v & 0x3F];
  }
  if (len - i == 1) { /* RFC 4648 4 case (2): two characters and "==" */
    uint32_t v = (uint32_t)p[i] << 16;
    out[o++] = b64_alphabet[(v >> 18) & 0x3F];
    out[o++] = b64_alphabet[(v >> 12) & 0x3F];
    out[o++] = '=';
    out[o++] = '=';
  } else if (len - i == 2) { /* case (3): three characters and "=" */
    uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
    out[o++] = b64_alphabet[(v >> 18) & 0x3F];
    out[o++] = b64_alphabet[(v >> 12) & 0x3F];
    out[o++] = b64_alphabet[(v >> 6) & 0x3F];
    out[o++] = '=';
  }
  return (smtp_ssize)o;
}

smtp_ssize smtp_base64_decode(const char *in, size_t len, void *out, size_t outcap) {
  const unsigned char *s = (const unsigned char *)in;
  unsigned char *d = (unsigned char *)out;
  size_t pad = 0, need, i, o = 0;

  if ((!in && len) || (!out && outcap)) return SMTP_ERR_INVALID_ARGUMENT;
  if (len == 0) return 0;
  /* RFC 4648 3.3/4: the encoded data is a whole number of 4-character
   * quanta; anything else is truncated or padded wrongly. */
  if (len % 4 != 0) return SMTP_ERR_BASE64;
  if (s[len - 1] == '=') pad = (s[len - 2] == '=') ? 2 : 1;
  need = (len / 4) * 3 - pad;

  /* Validate the whole input before looking at the buffer size, so that an
   * invalid string is always reported as such. */
  for (i = 0; i < len; i += 4) {
    int last = (i + 4 == len);
    size_t nvalid = last ? 4 - pad : 4;
    size_t k;
    for (k = 0; k < nvalid; k++)
      if (b64_value[s[i + k]] == 0xFF) return SMTP_ERR_BASE64; /* "=" inside, bytes outside the alphabet */
    if (last) {
      /* RFC 4648 3.5: the pad bits of the final character must be zero
       * (a strict decoder rejects "Zh==" though it means the same as "Zg=="). */
      if (pad == 2 && (b64_value[s[i + 1]] & 0x0F) != 0) return SMTP_ERR_BASE64;
      if (pad == 1 && (b64_value[s[i + 2]] & 0x03) != 0) return SMTP_ERR_BASE64;
    }
  }
  if (need > outcap) return SMTP_ERR_BUFFER_TOO_SMALL;

  for (i = 0; i < len; i += 4) {
    uint32_t v = ((uint32_t)b64_value[s[i]] << 18) | ((uint32_t)b64_value[s[i + 1]] << 12);
    if (i + 4 == len && pad == 2) {
      d[o++] = (unsigned char)(v >> 16);
      break;
    }
    v |= (uint32_t)b64_value[s[i + 2]] << 6;
    if (i + 4 == len && pad == 1) {
      d[o++] = (unsigned char)(v >> 16);
      d[o++] = (unsigned char)(v >> 8);
      break;
    }
    v |= b64_value[s[i + 3]];
    d[o++] = (unsigned char)(v >> 16);
    d[o++] = (unsigned char)(v >> 8);
    d[o++] = (unsigned char)v;
  }
  return (smtp_ssize)o;
}
