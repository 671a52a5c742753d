/* The bounded JSON writer (json.h). */
#include <string.h>

#include <smtp/address.h>

#include "json.h"
#include "text.h"

void smtp__jw_put(smtp__jw *w, const char *s, size_t n) {
  if (w->len + n < w->cap) memcpy(w->buf + w->len, s, n);
  w->len += n;
}

void smtp__jw_puts(smtp__jw *w, const char *s) { smtp__jw_put(w, s, strlen(s)); }

void smtp__jw_str_n(smtp__jw *w, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  int utf8_ok = smtp_utf8_validate(s, n) == SMTP_OK;
  smtp__jw_put(w, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    char e[6];
    if (ch == '"' || ch == '\\') {
      e[0] = '\\';
      e[1] = (char)ch;
      smtp__jw_put(w, e, 2);
    } else if (ch < 0x20 || ch == 0x7f) {
      memcpy(e, "\\u00", 4);
      e[4] = hex[ch >> 4];
      e[5] = hex[ch & 15];
      smtp__jw_put(w, e, 6);
    } else if (ch >= 0x80 && !utf8_ok) {
      smtp__jw_put(w, "\\ufffd", 6);
    } else {
      smtp__jw_put(w, (const char *)&ch, 1);
    }
  }
  smtp__jw_put(w, "\"", 1);
}

void smtp__jw_u64(smtp__jw *w, uint64_t v) {
  char b[SMTP__U64_DIGITS];
  smtp__jw_put(w, b, smtp__fmt_u64(b, v));
}
