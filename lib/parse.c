/* Command lines (RFC 5321 4.1.1, 4.5.3.1.4) and the shared ABNF
 * character-class table (see abnf.h). */
#include <smtp/address.h>

#include "abnf.h"

/* Generated from the ABNF sets named in abnf.h; row comments give the
 * octet range. */
const uint16_t smtp__abnf_class[256] = {
  0x0c00, 0x0400, 0x0400, 0x0400, 0x0400, 0x0400, 0x0400, 0x0400,  /*   0-  7 */
  0x0400, 0x0400, 0x0c00, 0x0400, 0x0400, 0x0c00, 0x0400, 0x0400,  /*   8- 15 */
  0x0400, 0x0400, 0x0400, 0x0400, 0x0400, 0x0400, 0x0400, 0x0400,  /*  16- 23 */
  0x0400, 0x0400, 0x0400, 0x0400, 0x0400, 0x0400, 0x0400, 0x0400,  /*  24- 31 */
  0x1002, 0x1383, 0x1380, 0x1383, 0x1383, 0x1383, 0x1383, 0x1383,  /*  32- 39 */
  0x1382, 0x1382, 0x1383, 0x1283, 0x1382, 0x138b, 0x1382, 0x1383,  /*  40- 47 */
  0x13ff, 0x13ff, 0x13ff, 0x13ff, 0x13ff, 0x13ff, 0x13ff, 0x13ff,  /*  48- 55 */
  0x13ff, 0x13ff, 0x1382, 0x1382, 0x1382, 0x1203, 0x1382, 0x1383,  /*  56- 63 */
  0x1382, 0x13ef, 0x13ef, 0x13ef, 0x13ef, 0x13ef, 0x13ef, 0x138f,  /*  64- 71 */
  0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f,  /*  72- 79 */
  0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f,  /*  80- 87 */
  0x138f, 0x138f, 0x138f, 0x1182, 0x1180, 0x1182, 0x1383, 0x1383,  /*  88- 95 */
  0x1383, 0x13af, 0x13af, 0x13af, 0x13af, 0x13af, 0x13af, 0x138f,  /*  96-103 */
  0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f,  /* 104-111 */
  0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f, 0x138f,  /* 112-119 */
  0x138f, 0x138f, 0x138f, 0x1383, 0x1383, 0x1383, 0x1383, 0x0400,  /* 120-127 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 128-135 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 136-143 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 144-151 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 152-159 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 160-167 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 168-175 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 176-183 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 184-191 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 192-199 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 200-207 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 208-215 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 216-223 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 224-231 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 232-239 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 240-247 */
  0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000,  /* 248-255 */
};

/* Pack a verb folded to lower case: verbs are ALPHA / DIGIT only (checked
 * before), and OR-ing 0x20 lower-cases letters and leaves digits alone. */
#define V4(a, b, c, d) \
  (((uint64_t)(a) << 24) | ((uint64_t)(b) << 16) | ((uint64_t)(c) << 8) | (uint64_t)(d))
#define V8(a, b, c, d, e, f, g, h) ((V4(a, b, c, d) << 32) | V4(e, f, g, h))

/* Verb lookup by length, then by the folded characters (RFC 5321 2.4:
 * verbs are case-insensitive). */
static int verb_lookup(const unsigned char *v, size_t n) {
  uint64_t key = 0;
  if (n != 4 && n != 8) return SMTP_VERB_UNKNOWN;
  for (size_t i = 0; i < n; i++) key = (key << 8) | (uint64_t)(v[i] | 0x20u);
  if (n == 8) return key == V8('s', 't', 'a', 'r', 't', 't', 'l', 's') ? SMTP_VERB_STARTTLS
                                                                       : SMTP_VERB_UNKNOWN;
  switch (key) {
  case V4('m', 'a', 'i', 'l'): return SMTP_VERB_MAIL;
  case V4('r', 'c', 'p', 't'): return SMTP_VERB_RCPT;
  case V4('d', 'a', 't', 'a'): return SMTP_VERB_DATA;
  case V4('e', 'h', 'l', 'o'): return SMTP_VERB_EHLO;
  case V4('h', 'e', 'l', 'o'): return SMTP_VERB_HELO;
  case V4('l', 'h', 'l', 'o'): return SMTP_VERB_LHLO;
  case V4('b', 'd', 'a', 't'): return SMTP_VERB_BDAT;
  case V4('r', 's', 'e', 't'): return SMTP_VERB_RSET;
  case V4('v', 'r', 'f', 'y'): return SMTP_VERB_VRFY;
  case V4('e', 'x', 'p', 'n'): return SMTP_VERB_EXPN;
  case V4('h', 'e', 'l', 'p'): return SMTP_VERB_HELP;
  case V4('n', 'o', 'o', 'p'): return SMTP_VERB_NOOP;
  case V4('q', 'u', 'i', 't'): return SMTP_VERB_QUIT;
  case V4('a', 'u', 't', 'h'): return SMTP_VERB_AUTH;
  case V4('e', 't', 'r', 'n'): return SMTP_VERB_ETRN;
  default: return SMTP_VERB_UNKNOWN;
  }
}

/* Longest verb accepted (no SMTP verb comes close). */
#define VERB_MAX 16

int smtp_parse_command(const char *line, size_t len, smtp_command *out) {
  const unsigned char *p = (const unsigned char *)line;
  size_t i = 0;
  if (out == NULL || (line == NULL && len != 0)) return SMTP_ERR_INVALID_ARGUMENT;
  out->verb = SMTP_VERB_UNKNOWN;
  out->verb_text.ptr = line;
  out->verb_text.len = 0;
  out->args.ptr = line;
  out->args.len = 0;
  /* RFC 5321 4.5.3.1.4: 512 octets including CRLF. */
  if (len > SMTP_COMMAND_LINE_MAX - 2) return SMTP_ERR_TOO_LONG;
  /* docs/security.md 1/3: CR, LF or NUL inside a line is never split or passed on. */
  if (smtp__has_crlfnul(p, len)) return SMTP_ERR_BAD_CHAR;
  while (i < len && i <= VERB_MAX && SMTP__IS(p[i], SMTP__A_LETDIG)) i++;
  if (i == 0 || i > VERB_MAX) return SMTP_ERR_SYNTAX;
  if (i < len) {
    if (p[i] != ' ') return SMTP_ERR_SYNTAX; /* exactly one SP, nothing else */
    out->args.ptr = line + i + 1;
    out->args.len = len - i - 1;
  } else {
    out->args.ptr = line + len;
  }
  out->verb_text.len = i;
  out->verb = verb_lookup(p, i);
  return SMTP_OK;
}
