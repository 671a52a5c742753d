/* Internal: small text helpers shared by the library's files: decimal
 * numbers, bounded string building, scans for control characters. Each
 * exists once here. Not installed. */
#ifndef SMTP_TEXT_H
#define SMTP_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Octets the decimal form of any uint64_t takes at most. */
#define SMTP__U64_DIGITS 20u

/* Write @p v in decimal (no sign, no leading zeros) to @p buf, which has
 * room for its digits (at most SMTP__U64_DIGITS octets); returns the
 * octets written (no NUL). */
size_t smtp__fmt_u64_any(char *buf, uint64_t v);
static inline size_t smtp__fmt_u64(char *buf, uint64_t v) {
  /* one and two digits (reply and enhanced code parts) without a call */
  if (v < 10u) {
    buf[0] = (char)('0' + (int)v);
    return 1;
  }
  if (v < 100u) {
    buf[0] = (char)('0' + (int)(v / 10u));
    buf[1] = (char)('0' + (int)(v % 10u));
    return 2;
  }
  return smtp__fmt_u64_any(buf, v);
}

/* The same for a signed value ("-" first when negative; at most
 * SMTP__U64_DIGITS + 1 octets). */
size_t smtp__fmt_i64(char *buf, int64_t v);

/* Append @p l octets of @p s to @p buf (@p cap octets, *@p n used). Past
 * the end only *@p n grows, so the caller sees the overflow (*n > cap) and
 * refuses the result; nothing is written out of bounds. */
static inline void smtp__put(char *buf, size_t cap, size_t *n, const char *s, size_t l) {
  if (*n <= cap && l <= cap - *n) memcpy(buf + *n, s, l);
  *n += l;
}

/* smtp__put() of the decimal form of @p v. */
void smtp__put_u64(char *buf, size_t cap, size_t *n, uint64_t v);

/* 1 when @p s[0..n) holds a control character (C0: %d0-31, or DEL: %d127),
 * which no value the library puts on the wire may hold. */
int smtp__has_ctl(const char *s, size_t n);

/* 1 when every octet of @p s[0..n) is printable US-ASCII (%d32-126). */
int smtp__is_print(const char *s, size_t n);

#endif
