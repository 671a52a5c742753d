/* Paths, mailboxes, local parts, domains, address literals and esmtp
 * parameters: RFC 5321 4.1.2, 4.1.3, 4.5.3.1 with the RFC 6531 3.3
 * extensions. Strict ABNF, no allocation, no copying: every result is a
 * span into the caller's input. Bytes are handed back exactly as sent and
 * never interpreted (docs/security.md 5: "$", "{", "}", "|", "/" are atext).
 *
 * Error choice when the input stops matching: the first octet that does
 * not fit decides. A control octet gives SMTP_ERR_BAD_CHAR, a non-ASCII
 * octet without SMTP_PARSE_UTF8 gives SMTP_ERR_NEEDS_SMTPUTF8, invalid
 * UTF-8 with the flag gives SMTP_ERR_UTF8, anything else SMTP_ERR_SYNTAX.
 * Length limits are checked once the part they limit has been scanned. */
#include <smtp/address.h>

#include "abnf.h"

typedef const unsigned char *uptr;

static smtp_span span(uptr a, uptr b) {
  smtp_span s;
  s.ptr = (const char *)a;
  s.len = (size_t)(b - a);
  return s;
}

/* End pointer without NULL + 0 arithmetic. */
static uptr end_of(const char *s, size_t len) {
  return len ? (uptr)s + len : (uptr)s;
}

/* The error for the octet at p that the grammar did not expect. */
static int bad_octet(uptr p, uptr end, unsigned flags) {
  unsigned c;
  if (p >= end) return SMTP_ERR_SYNTAX;
  c = *p;
  if (SMTP__IS(c, SMTP__A_CTL)) return SMTP_ERR_BAD_CHAR;
  if (c >= 0x80u) {
    if (!(flags & SMTP_PARSE_UTF8)) return SMTP_ERR_NEEDS_SMTPUTF8;
    if (smtp__utf8_seq(p, (size_t)(end - p)) == 0) return SMTP_ERR_UTF8;
  }
  return SMTP_ERR_SYNTAX;
}

/* Consume one UTF8-non-ascii character (RFC 6532 3.1) at *pp, allowed only
 * with SMTP_PARSE_UTF8 (RFC 6531 3.3). Called per non-ASCII character. */
static int take_utf8(uptr *pp, uptr end, unsigned flags) {
  size_t n;
  if (!(flags & SMTP_PARSE_UTF8)) return SMTP_ERR_NEEDS_SMTPUTF8;
  n = smtp__utf8_seq(*pp, (size_t)(end - *pp));
  if (n == 0) return SMTP_ERR_UTF8;
  *pp += n;
  return SMTP_OK;
}

/* Dot-string = Atom *("." Atom); Atom = 1*atext (RFC 5321 4.1.2; atext of
 * RFC 5322 3.2.3, =/ UTF8-non-ascii by RFC 6531 3.3). */
static int scan_dot_string(uptr p, uptr end, unsigned flags, uptr *stop, int *utf8) {
  for (;;) {
    uptr atom = p;
    while (p < end) {
      unsigned c = *p;
      if (SMTP__IS(c, SMTP__A_ATEXT)) {
        p++;
      } else if (c >= 0x80u) {
        int r = take_utf8(&p, end, flags);
        if (r) return r;
        *utf8 = 1;
      } else {
        break;
      }
    }
    if (p == atom) return bad_octet(p, end, flags);
    if (p < end && *p == '.') {
      p++;
      continue;
    }
    break;
  }
  *stop = p;
  return SMTP_OK;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE (RFC 5321 4.1.2); qtextSMTP
 * =/ UTF8-non-ascii (RFC 6531 3.3); quoted-pairSMTP = "\" %d32-126 only.
 * p points at the opening DQUOTE. The empty "" is refused unless
 * SMTP_PARSE_EMPTY_QUOTED (RFC 5321 Erratum 5414, RFC 5321bis 4.1.2). */
static int scan_quoted(uptr p, uptr end, unsigned flags, uptr *stop, int *utf8) {
  uptr start = p++;
  for (;;) {
    unsigned c;
    if (p >= end) return SMTP_ERR_SYNTAX;
    c = *p;
    if (SMTP__IS(c, SMTP__A_QTEXT)) {
      p++;
    } else if (c == '"') {
      break;
    } else if (c == '\\') {
      if (p + 1 < end && SMTP__IS(p[1], SMTP__A_PRINT)) p += 2;
      else return bad_octet(p + 1, end, flags);
    } else if (c >= 0x80u) {
      int r = take_utf8(&p, end, flags);
      if (r) return r;
      *utf8 = 1;
    } else {
      return bad_octet(p, end, flags);
    }
  }
  p++;
  if (p - start == 2 && !(flags & SMTP_PARSE_EMPTY_QUOTED)) return SMTP_ERR_SYNTAX;
  *stop = p;
  return SMTP_OK;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]
 * (RFC 5321 4.1.2), =/ U-label with SMTP_PARSE_UTF8 (RFC 6531 3.3). An
 * all-ASCII label is at most 63 octets (RFC 1035 2.3.4); the whole Domain
 * at most 255 (RFC 5321 4.5.3.1.2). Stops at the first octet that cannot
 * continue the Domain. */
static int scan_domain(uptr p, uptr end, unsigned flags, uptr *stop, int *utf8) {
  uptr start = p;
  for (;;) {
    uptr label = p;
    int ascii = 1;
    while (p < end) {
      unsigned c = *p;
      if (SMTP__IS(c, SMTP__A_LDH)) {
        p++;
      } else if (c >= 0x80u) {
        int r = take_utf8(&p, end, flags);
        if (r) return r;
        ascii = 0;
      } else {
        break;
      }
    }
    if (p == label) return bad_octet(p, end, flags);
    if (*label == '-' || p[-1] == '-') return SMTP_ERR_SYNTAX; /* Let-dig at both ends */
    if (ascii && p - label > 63) return SMTP_ERR_SYNTAX;
    if (!ascii) *utf8 = 1;
    if (p < end && *p == '.') {
      p++;
      continue;
    }
    break;
  }
  if ((size_t)(p - start) > SMTP_DOMAIN_MAX) return SMTP_ERR_DOMAIN_TOO_LONG;
  *stop = p;
  return SMTP_OK;
}

/* Snum 3("." Snum), Snum = 1*3DIGIT of value 0-255 (RFC 5321 4.1.3).
 * Leading zeros ("01", "001") match 1*3DIGIT and are accepted. */
static int ipv4_ok(uptr c, size_t n) {
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    unsigned v = 0;
    size_t d = 0;
    if (part) {
      if (i >= n || c[i] != '.') return 0;
      i++;
    }
    while (i < n && d < 4 && SMTP__IS(c[i], SMTP__A_DIGIT)) {
      v = v * 10u + (unsigned)(c[i] - '0');
      i++;
      d++;
    }
    if (d == 0 || d > 3 || v > 255u) return 0;
  }
  return i == n;
}

/* IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp (RFC 5321
 * 4.1.3). "::" stands for at least two zero groups: at most 6 hex groups
 * around it (4 with an embedded IPv4). No zone identifiers. */
static int ipv6_ok(uptr c, size_t n) {
  size_t i = 0;
  int groups = 0, dc = 0, v4 = 0;
  if (n >= 2 && c[0] == ':' && c[1] == ':') {
    dc = 1;
    i = 2;
    if (i == n) return 1;
  }
  for (;;) {
    size_t j = i;
    while (j < n && j - i < 5 && SMTP__IS(c[j], SMTP__A_HEX)) j++;
    if (j < n && c[j] == '.') { /* IPv4-address-literal: the last piece */
      if (!ipv4_ok(c + i, n - i)) return 0;
      v4 = 1;
      break;
    }
    if (j == i || j - i > 4) return 0; /* IPv6-hex = 1*4HEXDIG */
    groups++;
    i = j;
    if (i == n) break;
    if (c[i] != ':') return 0;
    if (i + 1 < n && c[i + 1] == ':') {
      if (dc) return 0; /* one "::" at most */
      dc = 1;
      i += 2;
      if (i == n) break;
    } else {
      i++;
      if (i == n) return 0; /* trailing single ":" */
    }
  }
  if (!dc) return v4 ? groups == 6 : groups == 8;
  return v4 ? groups <= 4 : groups <= 6;
}

/* The inside of "[...]" (already known to be 1*dcontent-ish octets). */
static int literal_body(uptr c, size_t n, int *kind) {
  uptr colon = n ? (uptr)memchr(c, ':', n) : NULL;
  size_t tlen;
  if (colon == NULL) {
    if (!ipv4_ok(c, n)) return SMTP_ERR_ADDRESS_LITERAL;
    *kind = SMTP_DOMAIN_IPV4;
    return SMTP_OK;
  }
  tlen = (size_t)(colon - c);
  if (tlen == 0) return SMTP_ERR_ADDRESS_LITERAL;
  /* "IPv6:" tag, case-insensitive (RFC 5234 2.3 quoted strings). */
  if (smtp__casecmp((const char *)c, tlen, "IPv6", 4) == 0) {
    if (!ipv6_ok(colon + 1, n - tlen - 1)) return SMTP_ERR_ADDRESS_LITERAL;
    *kind = SMTP_DOMAIN_IPV6;
    return SMTP_OK;
  }
  /* General-address-literal = Standardized-tag ":" 1*dcontent;
   * Standardized-tag = Ldh-str = *(ALPHA / DIGIT / "-") Let-dig. */
  for (size_t i = 0; i < tlen; i++)
    if (!SMTP__IS(c[i], SMTP__A_LDH)) return SMTP_ERR_ADDRESS_LITERAL;
  if (c[tlen - 1] == '-') return SMTP_ERR_ADDRESS_LITERAL;
  if (n - tlen - 1 == 0) return SMTP_ERR_ADDRESS_LITERAL;
  for (size_t i = tlen + 1; i < n; i++)
    if (!SMTP__IS(c[i], SMTP__A_DCONT)) return SMTP_ERR_ADDRESS_LITERAL;
  *kind = SMTP_DOMAIN_GENERAL;
  return SMTP_OK;
}

/* address-literal starting at p ("["): stops after "]". */
static int scan_literal(uptr p, uptr end, unsigned flags, uptr *stop, int *kind) {
  uptr q = p + 1;
  int r;
  while (q < end && SMTP__IS(*q, SMTP__A_DCONT)) q++;
  if (q >= end || *q != ']') {
    if (q < end && SMTP__IS(*q, SMTP__A_CTL)) return SMTP_ERR_BAD_CHAR;
    if (q < end && *q >= 0x80u && !(flags & SMTP_PARSE_UTF8)) return SMTP_ERR_NEEDS_SMTPUTF8;
    return SMTP_ERR_ADDRESS_LITERAL;
  }
  r = literal_body(p + 1, (size_t)(q - p - 1), kind);
  if (r) return r;
  *stop = q + 1;
  return SMTP_OK;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ). */
static int scan_mailbox(uptr p, uptr end, unsigned flags, smtp_mailbox *mb, uptr *stop) {
  uptr q = p, d;
  int r, utf8 = 0, kind = SMTP_DOMAIN_NAME;
  if (p < end && *p == '"') {
    r = scan_quoted(p, end, flags, &q, &utf8);
    mb->quoted = 1;
  } else {
    r = scan_dot_string(p, end, flags, &q, &utf8);
  }
  if (r) return r;
  if ((size_t)(q - p) > SMTP_LOCAL_PART_MAX) return SMTP_ERR_LOCAL_PART_TOO_LONG;
  if (q >= end || *q != '@') return bad_octet(q, end, flags);
  mb->local = span(p, q);
  d = q + 1;
  if (d < end && *d == '[') r = scan_literal(d, end, flags, &q, &kind);
  else r = scan_domain(d, end, flags, &q, &utf8);
  if (r) return r;
  mb->domain = span(d, q);
  mb->domain_kind = kind;
  mb->utf8 = utf8;
  *stop = q;
  return SMTP_OK;
}

int smtp_parse_mailbox(const char *s, size_t len, unsigned flags, smtp_mailbox *out) {
  uptr p = (uptr)s, end = end_of(s, len), q = p;
  int r;
  if (out == NULL || (s == NULL && len != 0)) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  r = scan_mailbox(p, end, flags, out, &q);
  if (r == SMTP_OK && q != end) r = bad_octet(q, end, flags);
  if (r) memset(out, 0, sizeof *out);
  return r;
}

static int path_inner(uptr s, uptr end, unsigned flags, smtp_path *out, uptr *stop,
                      int forward) {
  uptr q, a;
  int r;
  if (s >= end || *s != '<') return bad_octet(s, end, flags);
  q = s + 1;
  if (q < end && *q == '>') { /* "<>" */
    if (forward) return SMTP_ERR_SYNTAX;
    out->is_null = 1;
    out->address = span(q, q);
    *stop = q + 1;
    return SMTP_OK;
  }
  /* "<Postmaster>" without a domain, any case (RFC 5321 4.1.1.3, 4.5.1). */
  if (forward && end - q >= 11 && q[10] == '>' &&
      smtp__casecmp((const char *)q, 10, "postmaster", 10) == 0) {
    out->is_postmaster = 1;
    out->address = span(q, q + 10);
    *stop = q + 11;
    return SMTP_OK;
  }
  /* A-d-l = At-domain *( "," At-domain ) ":" ; accepted, reported, ignored
   * (RFC 5321 4.1.2 and Appendix C). */
  if (q < end && *q == '@') {
    uptr rs = q;
    int u = 0;
    for (;;) {
      r = scan_domain(q + 1, end, flags, &q, &u);
      if (r) return r;
      if (q < end && *q == ',') {
        q++;
        if (q >= end || *q != '@') return bad_octet(q, end, flags);
        continue;
      }
      if (q < end && *q == ':') break;
      return bad_octet(q, end, flags);
    }
    out->route = span(rs, q);
    q++;
  }
  a = q;
  r = scan_mailbox(q, end, flags, &out->mailbox, &q);
  if (r) return r;
  if (q >= end || *q != '>') return bad_octet(q, end, flags);
  out->address = span(a, q);
  *stop = q + 1;
  return SMTP_OK;
}

static int parse_path(const char *s, size_t len, unsigned flags, smtp_path *out,
                      size_t *consumed, int forward) {
  uptr p = (uptr)s, end = end_of(s, len), q = p;
  int r;
  if (consumed) *consumed = 0;
  if (out == NULL || (s == NULL && len != 0)) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  r = path_inner(p, end, flags, out, &q, forward);
  /* RFC 5321 4.5.3.1.3: 256 octets including the punctuation. */
  if (r == SMTP_OK && (size_t)(q - p) > SMTP_PATH_MAX) r = SMTP_ERR_PATH_TOO_LONG;
  if (r) {
    memset(out, 0, sizeof *out);
    return r;
  }
  out->raw = span(p, q);
  if (consumed) *consumed = (size_t)(q - p);
  return SMTP_OK;
}

int smtp_parse_reverse_path(const char *s, size_t len, unsigned flags, smtp_path *out,
                            size_t *consumed) {
  return parse_path(s, len, flags, out, consumed, 0);
}

int smtp_parse_forward_path(const char *s, size_t len, unsigned flags, smtp_path *out,
                            size_t *consumed) {
  return parse_path(s, len, flags, out, consumed, 1);
}

int smtp_parse_mail_rcpt_args(const char *args, size_t len, int is_rcpt, unsigned flags,
                              smtp_path *path, smtp_span *params) {
  uptr p = (uptr)args, end = end_of(args, len);
  const char *kw = is_rcpt ? "to" : "from";
  size_t kl = is_rcpt ? 2 : 4, n = 0;
  int r;
  if (path == NULL || params == NULL || (args == NULL && len != 0))
    return SMTP_ERR_INVALID_ARGUMENT;
  memset(path, 0, sizeof *path);
  params->ptr = (const char *)end;
  params->len = 0;
  /* "FROM:" / "TO:", case-insensitive (RFC 5321 4.1.1.2-3, RFC 5234 2.3). */
  for (size_t i = 0; i < kl; i++) {
    if (p >= end || (*p | 0x20u) != (unsigned char)kw[i] || !SMTP__IS(*p, SMTP__A_LETDIG))
      return p >= end ? SMTP_ERR_SYNTAX : bad_octet(p, end, flags);
    p++;
  }
  if (p >= end || *p != ':') return bad_octet(p, end, flags);
  p++;
  if (flags & SMTP_PARSE_SPACE_AFTER_COLON)
    while (p < end && *p == ' ') p++;
  r = parse_path((const char *)p, (size_t)(end - p), flags, path, &n, is_rcpt);
  if (r) return r;
  p += n;
  if (p < end) {
    /* Reverse-path [SP Mail-parameters] (RFC 5321 4.1.1.2). */
    if (*p != ' ') {
      r = bad_octet(p, end, flags);
      memset(path, 0, sizeof *path);
      return r;
    }
    p++;
    for (uptr q = p; q < end; q++) {
      if (SMTP__IS(*q, SMTP__A_CTL)) {
        memset(path, 0, sizeof *path);
        return SMTP_ERR_BAD_CHAR;
      }
    }
    params->ptr = (const char *)p;
    params->len = (size_t)(end - p);
  }
  return SMTP_OK;
}

int smtp_parse_domain(const char *s, size_t len, unsigned flags) {
  uptr p = (uptr)s, end = end_of(s, len), q = p;
  int u = 0, r;
  if (s == NULL && len != 0) return SMTP_ERR_INVALID_ARGUMENT;
  r = scan_domain(p, end, flags, &q, &u);
  if (r == SMTP_OK && q != end) r = bad_octet(q, end, flags);
  return r;
}

int smtp_parse_address_literal(const char *s, size_t len, int *kind) {
  uptr p = (uptr)s;
  int k = SMTP_DOMAIN_NAME, r;
  if (kind) *kind = SMTP_DOMAIN_NAME;
  if (s == NULL && len != 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (len < 2 || p[0] != '[' || p[len - 1] != ']') return SMTP_ERR_ADDRESS_LITERAL;
  for (size_t i = 1; i + 1 < len; i++)
    if (!SMTP__IS(p[i], SMTP__A_DCONT)) return SMTP_ERR_ADDRESS_LITERAL;
  r = literal_body(p + 1, len - 2, &k);
  if (r == SMTP_OK && kind) *kind = k;
  return r;
}

int smtp_parse_ehlo_arg(const char *s, size_t len, unsigned flags, int *kind) {
  uptr p = (uptr)s, end = end_of(s, len), q = p;
  int k = SMTP_DOMAIN_NAME, r;
  if (kind) *kind = SMTP_DOMAIN_NAME;
  if (s == NULL && len != 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (len == 0 || p[0] != '[') return smtp_parse_domain(s, len, flags);
  r = scan_literal(p, end, flags, &q, &k);
  if (r == SMTP_OK && q != end) r = bad_octet(q, end, flags);
  if (r == SMTP_OK && kind) *kind = k;
  return r;
}

int smtp_param_next(smtp_span *rest, unsigned flags, smtp_param *out) {
  uptr p, end, k, v;
  if (rest == NULL || out == NULL || (rest->ptr == NULL && rest->len != 0))
    return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (rest->len == 0) return 0;
  p = (uptr)rest->ptr;
  end = p + rest->len;
  while (p < end && *p == ' ') p++; /* parameters: one or more SP apart */
  if (p == end) {
    rest->ptr = (const char *)end;
    rest->len = 0;
    return 0;
  }
  /* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") (RFC 5321 4.1.2) */
  k = p;
  if (!SMTP__IS(*p, SMTP__A_LETDIG)) return SMTP_ERR_PARAM;
  p++;
  while (p < end && SMTP__IS(*p, SMTP__A_LDH)) p++;
  out->keyword = span(k, p);
  if (p < end && *p == '=') {
    /* esmtp-value = 1*(%d33-60 / %d62-126), =/ UTF8-non-ascii (RFC 6531 3.3) */
    v = ++p;
    while (p < end) {
      unsigned c = *p;
      if (SMTP__IS(c, SMTP__A_ESMTPV)) {
        p++;
      } else if (c >= 0x80u && (flags & SMTP_PARSE_UTF8)) {
        size_t n = smtp__utf8_seq(p, (size_t)(end - p));
        if (n == 0) break;
        p += n;
      } else {
        break;
      }
    }
    if (p == v) {
      memset(out, 0, sizeof *out);
      return SMTP_ERR_PARAM;
    }
    out->value = span(v, p);
    out->has_value = 1;
  } else {
    out->value = span(p, p);
  }
  if (p < end && *p != ' ') {
    memset(out, 0, sizeof *out);
    return SMTP_ERR_PARAM;
  }
  rest->ptr = (const char *)p;
  rest->len = (size_t)(end - p);
  return 1;
}
