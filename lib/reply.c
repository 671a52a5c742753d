/* Reply codes (RFC 5321 4.2), enhanced status codes (RFC 3463 2, RFC 2034),
 * the incremental reply parser and the reply formatter.
 *
 * The parser's allocation made in _new holds the struct, a span array of
 * STORE_SPANS_INIT entries and a text store of STORE_TEXT_INIT bytes (both
 * capped by the limits). Reply text is copied into the store as it arrives,
 * so a line split across feeds needs no separate line buffer; the code
 * digits of the current line are kept in the state. A reply that needs more
 * lines or text moves the store to a larger block (doubling, never past
 * max_lines / max_total) and the parser keeps it: an idle parser holds well
 * under 1 KiB instead of the 8 KiB bound, and a steady stream of replies no
 * larger than the largest seen allocates nothing. The spans of a reply stay
 * valid until the next feed or reset (a move happens only inside a feed,
 * and rebases the spans of the reply being parsed). */
#include <string.h>

#include <smtp/reply.h>

#include "internal.h"
#include "text.h"

/* ------------------------------------------------------------------ codes */

int smtp_reply_code_class(int code) {
  /* RFC 5321 4.2.1: first digit 2..5, second digit 0..5. */
  if (code < 200 || code > 599) return SMTP_REPLY_INVALID;
  if ((code / 10) % 10 > 5) return SMTP_REPLY_INVALID;
  return code / 100;
}

/* One subject or detail number (RFC 3463 2): 1 to 3 digits, no leading zero
 * unless the value is 0. Returns the digits used, 0 when malformed. */
static size_t parse_num(const char *s, size_t len, int *v) {
  size_t n = 0;
  int val = 0;
  while (n < len && smtp__is_digit((unsigned char)s[n])) {
    if (n == 3) return 0; /* a fourth digit */
    val = val * 10 + (s[n] - '0');
    n++;
  }
  if (n == 0 || (n > 1 && s[0] == '0')) return 0;
  *v = val;
  return n;
}

int smtp_enhanced_code_parse(const char *s, size_t len, smtp_enhanced_code *out,
                             size_t *consumed) {
  smtp_enhanced_code ec;
  size_t i, n;
  if ((!s && len) || !out) return SMTP_ERR_INVALID_ARGUMENT;
  /* class "." subject "." detail; class is 2, 4 or 5 (RFC 3463 3.1). */
  if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
    return SMTP_ERR_ENHANCED_CODE;
  ec.cls = s[0] - '0';
  i = 2;
  n = parse_num(s + i, len - i, &ec.subject);
  if (!n) return SMTP_ERR_ENHANCED_CODE;
  i += n;
  if (i >= len || s[i] != '.') return SMTP_ERR_ENHANCED_CODE;
  i++;
  n = parse_num(s + i, len - i, &ec.detail);
  if (!n) return SMTP_ERR_ENHANCED_CODE;
  i += n;
  /* RFC 2034 4: status-code SP text; the code ends at a space or the end. */
  if (i < len && s[i] != ' ') return SMTP_ERR_ENHANCED_CODE;
  *out = ec;
  if (consumed) *consumed = i;
  return SMTP_OK;
}

smtp_ssize smtp_enhanced_code_format(const smtp_enhanced_code *code, char *buf, size_t buflen) {
  char tmp[12];
  size_t n = 0;
  if (!code || (!buf && buflen)) return SMTP_ERR_INVALID_ARGUMENT;
  if ((code->cls != 2 && code->cls != 4 && code->cls != 5) || code->subject < 0 ||
      code->subject > 999 || code->detail < 0 || code->detail > 999)
    return SMTP_ERR_ENHANCED_CODE;
  tmp[n++] = (char)('0' + code->cls);
  tmp[n++] = '.';
  n += smtp__fmt_u64(tmp + n, (uint64_t)code->subject);
  tmp[n++] = '.';
  n += smtp__fmt_u64(tmp + n, (uint64_t)code->detail);
  if (buflen < n + 1) return SMTP_ERR_BUFFER_TOO_SMALL;
  memcpy(buf, tmp, n);
  buf[n] = '\0';
  return (smtp_ssize)n;
}

/* ------------------------------------------------------------------ parser */

/* Bytes allowed in reply text: RFC 5321 4.2 textstring is HT and %d32-126;
 * octets >= 0x80 are allowed too for SMTPUTF8 replies (RFC 6531 3.7.4.1; not
 * validated as UTF-8 here). CR ends the text; LF, NUL, DEL and the other
 * controls are syntax errors. */
static const unsigned char text_ok[256] = {
  /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
  /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /* 0x20 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0x30 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0x40 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0x50 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0x60 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0x70 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
  /* 0x80 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0x90 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0xa0 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0xb0 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0xc0 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0xd0 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0xe0 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 0xf0 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

enum {
  ST_D0,   /* expecting the first code digit of a line */
  ST_D1,   /* second digit */
  ST_D2,   /* third digit */
  ST_SEP,  /* SP, "-" or CR */
  ST_TEXT, /* in the text, until CR */
  ST_CR    /* after CR, expecting LF */
};

/* Bound on a whole reply: the larger of this and 8 * max_line, never more
 * than max_line * max_lines. */
#define REPLY_TOTAL_MIN 8192u
#define MAX_LINE_LIMIT 65536u
#define MAX_LINES_LIMIT 65536u
/* The store a new parser starts with: a 512-octet reply line, or an EHLO
 * reply of 15 keywords, fits without moving it. */
#define STORE_TEXT_INIT 512u
#define STORE_SPANS_INIT 16u

struct smtp_reply_parser {
  smtp_mem mem;
  size_t max_line;   /* per line, CRLF included */
  size_t max_lines;
  size_t max_total;  /* whole reply on the wire, also the text store size */
  int enhanced_on;
  int err;           /* sticky error, 0 when none */
  int done;          /* a complete reply is in `reply` */
  int state;
  int final_line;    /* the current line ends the reply */
  int cur;           /* code of the current line as read so far */
  int code;          /* code of the reply (first line) */
  int has_enhanced;
  smtp_enhanced_code enhanced;
  size_t line_len;   /* bytes of the current line consumed, CRLF included */
  size_t line_start; /* offset in text of the current line's text */
  size_t text_len;
  size_t total;      /* bytes of the current reply consumed */
  size_t nlines;     /* completed lines */
  size_t spans_cap;  /* entries in spans (<= max_lines) */
  size_t text_cap;   /* bytes in text (<= max_total) */
  void *block;       /* the store once moved out of the parser's allocation */
  smtp_span *spans;
  char *text;
  smtp_reply reply;
};

/* Move the store to a block with room for @p text_need bytes of text and
 * @p spans_need spans (each at most its bound), keeping what the current
 * reply has so far. Returns 0, or SMTP_ERR_NOMEM with nothing changed. */
static int grow(smtp_reply_parser *p, size_t text_need, size_t spans_need) {
  size_t tc = p->text_cap, sc = p->spans_cap, i;
  char *nb, *nt;
  smtp_span *ns;
  while (tc < text_need && tc < p->max_total) tc = tc > p->max_total / 2 ? p->max_total : tc * 2;
  while (sc < spans_need && sc < p->max_lines) sc = sc > p->max_lines / 2 ? p->max_lines : sc * 2;
  if (tc < text_need || sc < spans_need) return SMTP_ERR_NOMEM; /* past the bounds: never */
  nb = (char *)smtp__malloc(&p->mem, sc * sizeof(smtp_span) + tc);
  if (!nb) return SMTP_ERR_NOMEM;
  ns = (smtp_span *)(void *)nb;
  nt = nb + sc * sizeof(smtp_span);
  memcpy(nt, p->text, p->text_len);
  for (i = 0; i < p->nlines; i++) {
    ns[i].ptr = nt + (p->spans[i].ptr - p->text);
    ns[i].len = p->spans[i].len;
  }
  smtp__free(&p->mem, p->block); /* NULL while the first store serves */
  p->block = nb;
  p->spans = ns;
  p->text = nt;
  p->spans_cap = sc;
  p->text_cap = tc;
  return 0;
}

static void start_reply(smtp_reply_parser *p) {
  p->done = 0;
  p->state = ST_D0;
  p->final_line = 0;
  p->cur = 0;
  p->code = 0;
  p->has_enhanced = 0;
  p->enhanced.cls = p->enhanced.subject = p->enhanced.detail = 0;
  p->line_len = p->line_start = p->text_len = p->total = p->nlines = 0;
}

int smtp_reply_parser_new(smtp_reply_parser **out, size_t max_line, size_t max_lines, const smtp_mem *mem) {
  smtp_reply_parser *p;
  size_t total, off_spans, off_text, sc, tc;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  if (max_line == 0) max_line = SMTP_REPLY_LINE_MAX;
  if (max_lines == 0) max_lines = SMTP_REPLY_LINES_MAX;
  /* "250\r\n" is the shortest line. */
  if (max_line < 5 || max_line > MAX_LINE_LIMIT || max_lines > MAX_LINES_LIMIT)
    return SMTP_ERR_INVALID_ARGUMENT;
  total = max_line * 8 > REPLY_TOTAL_MIN ? max_line * 8 : REPLY_TOTAL_MIN;
  if (total > max_line * max_lines) total = max_line * max_lines;
  sc = max_lines < STORE_SPANS_INIT ? max_lines : STORE_SPANS_INIT;
  if (sc == 0) sc = 1;
  tc = total < STORE_TEXT_INIT ? total : STORE_TEXT_INIT;
  off_spans = sizeof(*p);
  off_text = off_spans + sc * sizeof(smtp_span);
  p = (smtp_reply_parser *)smtp__malloc(mem, off_text + tc);
  if (!p) return SMTP_ERR_NOMEM;
  memset(p, 0, sizeof(*p));
  p->mem = *mem;
  p->max_line = max_line;
  p->max_lines = max_lines;
  p->max_total = total;
  p->spans_cap = sc;
  p->text_cap = tc;
  p->spans = (smtp_span *)(void *)((char *)p + off_spans);
  p->text = (char *)p + off_text;
  start_reply(p);
  *out = p;
  return SMTP_OK;
}

void smtp_reply_parser_del(smtp_reply_parser *p) {
  smtp_mem mem;
  if (!p) return;
  mem = p->mem;
  smtp__free(&mem, p->block);
  smtp__free(&mem, p);
}

void smtp_reply_parser_reset(smtp_reply_parser *p) {
  if (!p) return;
  p->err = 0;
  start_reply(p);
}

void smtp_reply_parser_set_enhanced(smtp_reply_parser *p, int on) {
  if (p) p->enhanced_on = on ? 1 : 0;
}

int smtp_reply_parser_done(const smtp_reply_parser *p) { return p && p->done && !p->err; }

const smtp_reply *smtp_reply_parser_reply(const smtp_reply_parser *p) {
  return smtp_reply_parser_done(p) ? &p->reply : NULL;
}

static smtp_ssize fail(smtp_reply_parser *p, int err) {
  p->err = err;
  p->done = 0;
  return err;
}

/* A line ended with CRLF: record its text span, stripping an enhanced code
 * whose class equals the reply's first digit (RFC 2034 4, RFC 3463 2).
 * Returns 1 when the reply is complete, 0 when more lines follow, or an
 * error. */
static int end_line(smtp_reply_parser *p) {
  const char *t = p->text + p->line_start;
  size_t tl = p->text_len - p->line_start;
  if (p->enhanced_on && tl >= 5) {
    smtp_enhanced_code ec;
    size_t n;
    if (smtp_enhanced_code_parse(t, tl, &ec, &n) == SMTP_OK && ec.cls == p->code / 100) {
      if (p->nlines == 0) {
        p->has_enhanced = 1;
        p->enhanced = ec;
      }
      if (n < tl) n++; /* the SP after the code */
      t += n;
      tl -= n;
    }
  }
  if (p->nlines == p->spans_cap) {
    size_t off = (size_t)(t - p->text);
    if (grow(p, 0, p->nlines + 1) != 0) return SMTP_ERR_NOMEM;
    t = p->text + off;
  }
  p->spans[p->nlines].ptr = t;
  p->spans[p->nlines].len = tl;
  p->nlines++;
  p->line_start = p->text_len;
  p->line_len = 0;
  p->state = ST_D0;
  if (p->final_line) {
    p->done = 1;
    p->reply.code = p->code;
    p->reply.has_enhanced = p->has_enhanced;
    p->reply.enhanced = p->enhanced;
    p->reply.nlines = p->nlines;
    p->reply.lines = p->spans;
    return 1;
  }
  /* A continuation line promises one more line (RFC 5321 4.2.1). */
  if (p->nlines >= p->max_lines) return SMTP_ERR_REPLY_TOO_MANY_LINES;
  return 0;
}

smtp_ssize smtp_reply_parser_feed(smtp_reply_parser *p, const char *data, size_t len) {
  const unsigned char *s = (const unsigned char *)data;
  size_t i = 0;
  if (!p || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (p->err) return p->err;
  if (len == 0) return 0;
  if (p->done) start_reply(p); /* the previous reply's spans end here */
  if (len > (size_t)PTRDIFF_MAX) len = (size_t)PTRDIFF_MAX;

  while (i < len) {
    unsigned c;
    if (p->state == ST_TEXT) {
      /* Copy text up to the first byte that is not text, within the room
       * left on this line and in this reply. */
      size_t avail = len - i, win = p->max_line - p->line_len, k;
      const unsigned char *q = s + i, *e;
      if (win > p->max_total - p->total) win = p->max_total - p->total;
      if (win > avail) win = avail;
      e = q + win;
      while (q < e && text_ok[*q]) q++;
      k = (size_t)(q - (s + i));
      /* text_len + k <= total + k <= max_total */
      if (p->text_len + k > p->text_cap && grow(p, p->text_len + k, 0) != 0)
        return fail(p, SMTP_ERR_NOMEM);
      memcpy(p->text + p->text_len, s + i, k);
      p->text_len += k;
      p->line_len += k;
      p->total += k;
      i += k;
      if (i == len) break;
      if (k == win) return fail(p, SMTP_ERR_REPLY_TOO_LONG); /* no room for s[i] */
      if (s[i] != '\r') return fail(p, SMTP_ERR_REPLY_SYNTAX); /* bare LF, NUL, control */
      p->line_len++;
      p->total++;
      i++;
      p->state = ST_CR;
      continue;
    }
    /* One byte of the line's head or its LF; it must fit the bounds
     * (RFC 5321 4.5.3.1.5: reply line 512 octets with CRLF). */
    if (p->line_len >= p->max_line || p->total >= p->max_total)
      return fail(p, SMTP_ERR_REPLY_TOO_LONG);
    c = s[i];
    switch (p->state) {
    case ST_D0: /* RFC 5321 4.2: first digit 2..5 */
      if (c < '2' || c > '5') return fail(p, SMTP_ERR_REPLY_SYNTAX);
      p->cur = (int)(c - '0') * 100;
      p->state = ST_D1;
      break;
    case ST_D1: /* second digit 0..5 */
      if (c < '0' || c > '5') return fail(p, SMTP_ERR_REPLY_SYNTAX);
      p->cur += (int)(c - '0') * 10;
      p->state = ST_D2;
      break;
    case ST_D2: /* third digit 0..9 */
      if (c < '0' || c > '9') return fail(p, SMTP_ERR_REPLY_SYNTAX);
      p->cur += (int)(c - '0');
      p->state = ST_SEP;
      break;
    case ST_SEP: /* RFC 5321 4.2: SP, "-" or CRLF right after the code */
      if (c == ' ') {
        p->final_line = 1;
        p->state = ST_TEXT;
      } else if (c == '-') {
        p->final_line = 0;
        p->state = ST_TEXT;
      } else if (c == '\r') {
        p->final_line = 1;
        p->state = ST_CR;
      } else {
        return fail(p, SMTP_ERR_REPLY_SYNTAX);
      }
      /* RFC 5321 4.2.1: every line of a multi-line reply has the same code. */
      if (p->nlines == 0)
        p->code = p->cur;
      else if (p->cur != p->code)
        return fail(p, SMTP_ERR_REPLY_CODE_MISMATCH);
      break;
    case ST_CR: { /* only CRLF ends a line; a CR alone is an error */
      int r;
      if (c != '\n') return fail(p, SMTP_ERR_REPLY_SYNTAX);
      p->line_len++;
      p->total++;
      i++;
      r = end_line(p);
      if (r < 0) return fail(p, r);
      if (r == 1) return (smtp_ssize)i; /* stop right after the reply */
      continue;
    }
    default:
      return fail(p, SMTP_ERR_REPLY_SYNTAX);
    }
    p->line_len++;
    p->total++;
    i++;
  }
  return (smtp_ssize)i;
}

/* --------------------------------------------------------------- formatter */

#define REPLY_LINE_LIMIT 512 /* RFC 5321 4.5.3.1.5, CRLF included */

smtp_ssize smtp_reply_format(char *buf, size_t buflen, int code,
                             const smtp_enhanced_code *enhanced, const char *text,
                             size_t textlen) {
  char ebuf[16];
  size_t elen = 0, pos = 0, room, a, i;
  if ((!buf && buflen) || (!text && textlen)) return SMTP_ERR_INVALID_ARGUMENT;
  if (smtp_reply_code_class(code) == SMTP_REPLY_INVALID) return SMTP_ERR_INVALID_ARGUMENT;
  /* Every text octet is written (LF becomes CRLF plus a prefix), so a text
   * longer than the buffer cannot fit: refused before it is read. */
  if (textlen > buflen) return SMTP_ERR_BUFFER_TOO_SMALL;
  if (enhanced) {
    smtp_ssize r;
    if (enhanced->cls != code / 100) return SMTP_ERR_INVALID_ARGUMENT;
    r = smtp_enhanced_code_format(enhanced, ebuf, sizeof(ebuf));
    if (r < 0) return SMTP_ERR_INVALID_ARGUMENT;
    elen = (size_t)r;
  }
  for (i = 0; i < textlen; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c != '\n' && !text_ok[c]) return SMTP_ERR_BAD_CHAR;
  }
  /* Text per reply line: 512 - "NNN-" - "c.s.d " - CRLF. */
  room = REPLY_LINE_LIMIT - 4 - 2 - (elen ? elen + 1 : 0);

  a = 0;
  for (;;) {
    /* The text line [a, b). */
    const char *lf = textlen > a ? (const char *)memchr(text + a, '\n', textlen - a) : NULL;
    size_t b = lf ? (size_t)(lf - text) : textlen;
    size_t c0 = a;
    for (;;) {
      size_t c1 = b - c0 > room ? c0 + room : b, need;
      int final;
      /* Split long text between UTF-8 characters when possible. */
      if (c1 < b) {
        size_t back = c1;
        while (back > c0 + 1 && back > c1 - 3 &&
               ((unsigned char)text[back] & 0xC0) == 0x80)
          back--;
        if (((unsigned char)text[back] & 0xC0) != 0x80) c1 = back;
      }
      final = (c1 == b && !lf);
      need = 3 + 2 + (c1 - c0);
      if (elen) need += 1 + elen + (c1 > c0 ? 1 : 0);
      else if (!final || c1 > c0) need += 1;
      if (need > buflen - pos) return SMTP_ERR_BUFFER_TOO_SMALL;
      buf[pos++] = (char)('0' + code / 100);
      buf[pos++] = (char)('0' + (code / 10) % 10);
      buf[pos++] = (char)('0' + code % 10);
      if (!final || c1 > c0 || elen) buf[pos++] = final ? ' ' : '-';
      if (elen) {
        memcpy(buf + pos, ebuf, elen);
        pos += elen;
        if (c1 > c0) buf[pos++] = ' ';
      }
      if (c1 > c0) memcpy(buf + pos, text + c0, c1 - c0);
      pos += c1 - c0;
      buf[pos++] = '\r';
      buf[pos++] = '\n';
      if (c1 == b) break;
      c0 = c1;
    }
    if (!lf) break;
    a = b + 1;
  }
  return (smtp_ssize)pos;
}
