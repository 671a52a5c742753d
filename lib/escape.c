/* smtp_escape_text() (common.h): untrusted bytes made safe for a terminal
 * or a log line. Printable ASCII and valid UTF-8 pass; controls, C1 and
 * invisible/direction-changing code points, and invalid octets are
 * escaped. No allocation, no state. */
#include <string.h>

#include <smtp/common.h>

#include "abnf.h"

static const char hexd[] = "0123456789ABCDEF";

/* Code points that change how a line looks without being seen. */
static int invisible(unsigned long cp) {
  return (cp >= 0x80u && cp <= 0x9Fu) || cp == 0x61Cu || (cp >= 0x200Bu && cp <= 0x200Fu) ||
         (cp >= 0x2028u && cp <= 0x202Eu) || (cp >= 0x2060u && cp <= 0x206Fu) || cp == 0xFEFFu;
}

static unsigned long decode(const unsigned char *p, size_t n) {
  unsigned long cp;
  size_t i;
  if (n == 2) cp = p[0] & 0x1Fu;
  else if (n == 3) cp = p[0] & 0x0Fu;
  else cp = p[0] & 0x07u;
  for (i = 1; i < n; i++) cp = (cp << 6) | (p[i] & 0x3Fu);
  return cp;
}

size_t smtp_escape_text(char *out, size_t cap, const char *in, size_t len) {
  const unsigned char *p = (const unsigned char *)in;
  size_t i = 0, need = 0, w = 0;
  int full = 0; /* stopped writing: the rest is only counted */
  if (!in) len = 0;
  while (i < len) {
    char t[8];
    const char *src = t;
    size_t tn = 0, adv = 1;
    unsigned c = p[i];
    if (c >= 0x20u && c < 0x7Fu) {
      if (c == '\\') {
        t[0] = '\\';
        t[1] = '\\';
        tn = 2;
      } else {
        t[0] = (char)c;
        tn = 1;
      }
    } else if (c == '\r' || c == '\n' || c == '\t') {
      t[0] = '\\';
      t[1] = c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
      tn = 2;
    } else if (c >= 0x80u && (adv = smtp__utf8_seq(p + i, len - i)) != 0) {
      unsigned long cp = decode(p + i, adv);
      if (invisible(cp)) {
        t[0] = '\\';
        t[1] = 'u';
        t[2] = hexd[(cp >> 12) & 15u];
        t[3] = hexd[(cp >> 8) & 15u];
        t[4] = hexd[(cp >> 4) & 15u];
        t[5] = hexd[cp & 15u];
        tn = 6;
      } else {
        src = (const char *)p + i;
        tn = adv;
      }
    } else {
      adv = 1;
      t[0] = '\\';
      t[1] = 'x';
      t[2] = hexd[c >> 4];
      t[3] = hexd[c & 15u];
      tn = 4;
    }
    if (!full && cap > 0 && w + tn < cap) {
      memcpy(out + w, src, tn);
      w += tn;
    } else {
      full = 1;
    }
    need += tn;
    i += adv;
  }
  if (cap > 0) out[w] = '\0';
  return need;
}
