/* Internal: character classes of the SMTP ABNF (RFC 5321 4.1.2-4.1.3,
 * RFC 5322 3.2.3 atext, RFC 3461 4 xtext, RFC 6531 3.3) as one 256-entry
 * table, plus inline helpers for the hot loops of parse.c, address.c,
 * utf8.c and xtext.c. Not installed.
 *
 * Every parser indexes smtp__abnf_class[] with an unsigned char; none calls
 * a function per byte. */
#ifndef SMTP_ABNF_H
#define SMTP_ABNF_H

#include <stdint.h>
#include <string.h>

#include "internal.h"

/* Class bits. */
#define SMTP__A_ATEXT   0x0001u /* RFC 5322 3.2.3 atext: ALPHA DIGIT !#$%&'*+-/=?^_`{|}~ */
#define SMTP__A_QTEXT   0x0002u /* RFC 5321 4.1.2 qtextSMTP: %d32-33 / %d35-91 / %d93-126 */
#define SMTP__A_LETDIG  0x0004u /* RFC 5321 4.1.2 Let-dig: ALPHA / DIGIT */
#define SMTP__A_LDH     0x0008u /* ALPHA / DIGIT / "-" */
#define SMTP__A_DIGIT   0x0010u /* DIGIT */
#define SMTP__A_HEX     0x0020u /* HEXDIG, either case (IPv6-hex, RFC 5234 B.1 is case-insensitive) */
#define SMTP__A_UHEX    0x0040u /* RFC 3461 4 HEXCHAR: 0-9 A-F only */
#define SMTP__A_ESMTPV  0x0080u /* RFC 5321 4.1.2 esmtp-value: %d33-60 / %d62-126 */
#define SMTP__A_XCHAR   0x0100u /* RFC 3461 4 xchar: %d33-42 / %d44-60 / %d62-126 */
#define SMTP__A_DCONT   0x0200u /* RFC 5321 4.1.3 dcontent: %d33-90 / %d94-126 */
#define SMTP__A_CTL     0x0400u /* %d0-31 / %d127 */
#define SMTP__A_CRLFNUL 0x0800u /* CR, LF, NUL */
#define SMTP__A_PRINT   0x1000u /* %d32-126 (quoted-pairSMTP second octet) */
#define SMTP__A_HIGH    0x2000u /* %d128-255 */

/* Defined in parse.c. */
extern const uint16_t smtp__abnf_class[256];

#define SMTP__IS(c, bits) ((smtp__abnf_class[(unsigned char)(c)] & (bits)) != 0)

/* Length of the valid, shortest-form UTF-8 sequence of 2-4 octets that
 * starts at p (which holds avail >= 1 octets), or 0 when there is none
 * there (ASCII lead, continuation lead, overlong, surrogate, > U+10FFFF,
 * truncated). RFC 3629 4 (UTF8-2 / UTF8-3 / UTF8-4). */
static inline size_t smtp__utf8_seq(const unsigned char *p, size_t avail) {
  unsigned c = p[0];
  if (c < 0xC2u) return 0; /* ASCII, continuation, or overlong C0/C1 */
  if (c < 0xE0u) return (avail >= 2 && (p[1] & 0xC0u) == 0x80u) ? 2 : 0;
  if (c < 0xF0u) {
    unsigned lo = 0x80u, hi = 0xBFu;
    if (avail < 3) return 0;
    if (c == 0xE0u) lo = 0xA0u;      /* overlong */
    else if (c == 0xEDu) hi = 0x9Fu; /* surrogates D800-DFFF */
    if (p[1] < lo || p[1] > hi || (p[2] & 0xC0u) != 0x80u) return 0;
    return 3;
  }
  if (c < 0xF5u) {
    unsigned lo = 0x80u, hi = 0xBFu;
    if (avail < 4) return 0;
    if (c == 0xF0u) lo = 0x90u;      /* overlong */
    else if (c == 0xF4u) hi = 0x8Fu; /* > U+10FFFF */
    if (p[1] < lo || p[1] > hi || (p[2] & 0xC0u) != 0x80u || (p[3] & 0xC0u) != 0x80u)
      return 0;
    return 4;
  }
  return 0;
}

/* Word-at-a-time helpers (SWAR), loads through memcpy: no alignment or
 * aliasing assumptions. */
static inline uint64_t smtp__load64(const unsigned char *p) {
  uint64_t x;
  memcpy(&x, p, sizeof x);
  return x;
}
#define SMTP__ONES 0x0101010101010101ull
#define SMTP__HIGHS 0x8080808080808080ull
/* Non-zero iff some byte of v is zero (exact for "any", no false positives). */
#define SMTP__HASZERO(v) (((v) - SMTP__ONES) & ~(v) & SMTP__HIGHS)

/* 1 when p[0..n) holds CR, LF or NUL. */
static inline int smtp__has_crlfnul(const unsigned char *p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x = smtp__load64(p + i);
    uint64_t cr = x ^ (SMTP__ONES * 0x0Du), lf = x ^ (SMTP__ONES * 0x0Au);
    if (SMTP__HASZERO(x) | SMTP__HASZERO(cr) | SMTP__HASZERO(lf)) return 1;
  }
  for (; i < n; i++)
    if (SMTP__IS(p[i], SMTP__A_CRLFNUL)) return 1;
  return 0;
}

#endif
