/* Small text helpers (text.h). */
#include "text.h"

#include "abnf.h"

size_t smtp__fmt_u64_any(char *buf, uint64_t v) {
  char t[SMTP__U64_DIGITS];
  size_t k = sizeof t, n;
  do {
    t[--k] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v);
  n = sizeof t - k;
  memcpy(buf, t + k, n);
  return n;
}

size_t smtp__fmt_i64(char *buf, int64_t v) {
  if (v >= 0) return smtp__fmt_u64(buf, (uint64_t)v);
  buf[0] = '-';
  return 1 + smtp__fmt_u64(buf + 1, (uint64_t)0 - (uint64_t)v);
}

void smtp__put_u64(char *buf, size_t cap, size_t *n, uint64_t v) {
  char t[SMTP__U64_DIGITS];
  smtp__put(buf, cap, n, t, smtp__fmt_u64(t, v));
}

int smtp__has_ctl(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (SMTP__IS(s[i], SMTP__A_CTL)) return 1;
  return 0;
}

int smtp__is_print(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!SMTP__IS(s[i], SMTP__A_PRINT)) return 0;
  return 1;
}
