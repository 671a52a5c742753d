/* DNS messages (RFC 1035 4.1): names, queries, answers for the scripted
 * adapter, and the one parser every adapter's answers go through
 * (smtp_dns_parse). The parser reads only inside the message: every
 * length is checked before use, compression pointers must point strictly
 * backwards (RFC 1035 4.1.4 allows only prior occurrences), so following
 * them always ends, and CNAME chains are bounded. */
#include <string.h>

#include "dns.h"
#include "internal.h"

#define CHAIN_MAX 16

struct smtp_dns_result {
  smtp_mem mem;
  int status;
  int authenticated;
  const char *name;
  size_t count;
  smtp_dns_rr *rr;
};

/* ---- names ---- */

int smtp__dns_name_to_wire(const char *name, unsigned char *out, size_t cap) {
  size_t n = 0, i = 0, len;
  if (!name || !out) return SMTP_ERR_INVALID_ARGUMENT;
  len = strlen(name);
  if (len > 0 && name[len - 1] == '.') len--;
  while (i < len) {
    size_t start = i, l;
    while (i < len && name[i] != '.') {
      unsigned char ch = (unsigned char)name[i];
      if (ch <= 0x20 || ch >= 0x7f || ch == '\\') return SMTP_ERR_INVALID_ARGUMENT;
      i++;
    }
    l = i - start;
    if (l == 0 || l > 63) return SMTP_ERR_INVALID_ARGUMENT;
    if (n + 1 + l + 1 > cap || n + 1 + l + 1 > SMTP__DNS_NAME_MAX) return SMTP_ERR_INVALID_ARGUMENT;
    out[n++] = (unsigned char)l;
    memcpy(out + n, name + start, l);
    n += l;
    if (i < len && ++i == len) return SMTP_ERR_INVALID_ARGUMENT; /* "a..": empty label */
  }
  if (n + 1 > cap) return SMTP_ERR_INVALID_ARGUMENT;
  out[n++] = 0;
  return (int)n;
}

int smtp__dns_name_eq(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la && a[la - 1] == '.') la--;
  if (lb && b[lb - 1] == '.') lb--;
  return smtp__casecmp(a, la, b, lb) == 0;
}

static void put16(unsigned char *p, unsigned int v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

static unsigned int get16(const unsigned char *p) { return (unsigned int)p[0] << 8 | p[1]; }

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int smtp__dns_build_query(uint16_t id, const char *name, unsigned int type, unsigned char *out,
                          size_t cap) {
  int nl;
  size_t n;
  if (!out || cap < SMTP__DNS_QUERY_MAX || type > 0xffff) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, 12);
  put16(out, id);
  out[2] = 0x01; /* RD */
  out[3] = 0x20; /* AD: RFC 6840 5.7, ask for the validator's verdict */
  put16(out + 4, 1);
  put16(out + 10, 1);
  nl = smtp__dns_name_to_wire(name, out + 12, cap - 12);
  if (nl < 0) return nl;
  n = 12 + (size_t)nl;
  put16(out + n, type);
  put16(out + n + 2, 1);
  n += 4;
  /* EDNS(0) OPT (RFC 6891 6.1.2): root owner, type 41, UDP size 1232 */
  out[n] = 0;
  put16(out + n + 1, 41);
  put16(out + n + 3, 1232);
  memset(out + n + 5, 0, 6);
  n += 11;
  return (int)n;
}

int smtp__dns_build_answer(uint16_t id, const char *qname, unsigned int qtype, unsigned int rcode,
                           int ad, const smtp__dns_wire_rr *rrs, size_t nrr, unsigned char *out,
                           size_t cap) {
  size_t n;
  int nl;
  if (!out || cap < 12 || nrr > 0xffff || rcode > 15) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, 12);
  put16(out, id);
  out[2] = 0x81; /* QR, RD */
  out[3] = (unsigned char)(0x80 | (ad ? 0x20 : 0) | rcode); /* RA */
  put16(out + 4, 1);
  put16(out + 6, (unsigned int)nrr);
  nl = smtp__dns_name_to_wire(qname, out + 12, cap - 12);
  if (nl < 0) return nl == SMTP_ERR_INVALID_ARGUMENT && cap < 12 + 256 ? SMTP_ERR_BUFFER_TOO_SMALL : nl;
  n = 12 + (size_t)nl;
  if (n + 4 > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
  put16(out + n, qtype);
  put16(out + n + 2, 1);
  n += 4;
  for (size_t i = 0; i < nrr; i++) {
    unsigned char owner[256];
    int ol = smtp__dns_name_to_wire(rrs[i].owner, owner, sizeof owner);
    if (ol < 0) return ol;
    if (rrs[i].rdlen > 0xffff) return SMTP_ERR_INVALID_ARGUMENT;
    if (n + (size_t)ol + 10 + rrs[i].rdlen > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
    memcpy(out + n, owner, (size_t)ol);
    n += (size_t)ol;
    put16(out + n, rrs[i].type);
    put16(out + n + 2, 1);
    out[n + 4] = 0;
    out[n + 5] = 0;
    put16(out + n + 6, 300);
    put16(out + n + 8, (unsigned int)rrs[i].rdlen);
    n += 10;
    if (rrs[i].rdlen) memcpy(out + n, rrs[i].rdata, rrs[i].rdlen);
    n += rrs[i].rdlen;
  }
  return (int)n;
}

/* ---- addresses ---- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int parse_v4(const char *s, size_t len, unsigned char out[4]) {
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    unsigned v = 0, digits = 0;
    if (part) {
      if (i >= len || s[i] != '.') return 0;
      i++;
    }
    while (i < len && smtp__is_digit((unsigned char)s[i])) {
      v = v * 10 + (unsigned)(s[i] - '0');
      if (++digits > 3 || v > 255) return 0;
      i++;
    }
    if (!digits || (digits > 1 && s[i - digits] == '0')) return 0;
    out[part] = (unsigned char)v;
  }
  return i == len;
}

static int parse_v6(const char *s, size_t len, unsigned char out[16]) {
  unsigned char w[16];
  size_t i = 0, n = 0;
  int gap = -1;
  if (len >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 0;
    i = 2;
  } else if (len && s[0] == ':') {
    return 0;
  }
  while (i < len) {
    size_t start = i;
    unsigned v = 0;
    int d;
    if (n >= 16) return 0;
    while (i < len && (d = hexval((unsigned char)s[i])) >= 0 && i - start < 4) {
      v = v << 4 | (unsigned)d;
      i++;
    }
    if (i < len && s[i] == '.') { /* embedded IPv4 at the end */
      if (n > 12 || !parse_v4(s + start, len - start, w + n)) return 0;
      n += 4;
      i = len;
      break;
    }
    if (i == start) return 0;
    w[n++] = (unsigned char)(v >> 8);
    w[n++] = (unsigned char)v;
    if (i == len) break;
    if (s[i] != ':') return 0;
    i++;
    if (i < len && s[i] == ':') {
      if (gap >= 0) return 0;
      gap = (int)n;
      i++;
    } else if (i == len) {
      return 0;
    }
  }
  if (gap < 0) {
    if (n != 16) return 0;
    memcpy(out, w, 16);
    return 1;
  }
  if (n > 14) return 0;
  memset(out, 0, 16);
  memcpy(out, w, (size_t)gap);
  memcpy(out + 16 - (n - (size_t)gap), w + gap, n - (size_t)gap);
  return 1;
}

unsigned int smtp__ip_parse(const char *s, size_t len, unsigned char out[16]) {
  if (!s || !len) return 0;
  if (memchr(s, ':', len)) return parse_v6(s, len, out) ? 16u : 0u;
  return parse_v4(s, len, out) ? 4u : 0u;
}

/* ---- rdata from text (scripted adapter) ---- */

static int parse_uint(const char **p, unsigned long max, unsigned long *v) {
  const char *s = *p;
  unsigned long x = 0;
  if (!smtp__is_digit((unsigned char)*s)) return 0;
  while (smtp__is_digit((unsigned char)*s)) {
    x = x * 10 + (unsigned long)(*s - '0');
    if (x > max) return 0;
    s++;
  }
  while (*s == ' ') s++;
  *p = s;
  *v = x;
  return 1;
}

int smtp__dns_rdata_from_text(unsigned int type, const char *text, unsigned char *out, size_t cap) {
  unsigned long a, b, c;
  const char *p = text;
  int nl;
  size_t n = 0, len;
  if (!text || !out) return SMTP_ERR_INVALID_ARGUMENT;
  switch (type) {
  case SMTP_DNS_A:
  case SMTP_DNS_AAAA: {
    unsigned char addr[16];
    unsigned int l = smtp__ip_parse(text, strlen(text), addr);
    if (l != (type == SMTP_DNS_A ? 4u : 16u) || cap < l) return SMTP_ERR_INVALID_ARGUMENT;
    memcpy(out, addr, l);
    return (int)l;
  }
  case SMTP_DNS_MX:
    if (!parse_uint(&p, 0xffff, &a) || cap < 3) return SMTP_ERR_INVALID_ARGUMENT;
    put16(out, (unsigned int)a);
    nl = smtp__dns_name_to_wire(p, out + 2, cap - 2);
    return nl < 0 ? nl : nl + 2;
  case SMTP_DNS_CNAME:
    return smtp__dns_name_to_wire(text, out, cap);
  case SMTP_DNS_TXT:
    len = strlen(text);
    do {
      size_t chunk = len > 255 ? 255 : len;
      if (n + 1 + chunk > cap || n + 1 + chunk > 0xffff) return SMTP_ERR_INVALID_ARGUMENT;
      out[n++] = (unsigned char)chunk;
      memcpy(out + n, text, chunk);
      n += chunk;
      text += chunk;
      len -= chunk;
    } while (len);
    return (int)n;
  case SMTP_DNS_TLSA:
    if (!parse_uint(&p, 255, &a) || !parse_uint(&p, 255, &b) || !parse_uint(&p, 255, &c) || cap < 3)
      return SMTP_ERR_INVALID_ARGUMENT;
    out[0] = (unsigned char)a;
    out[1] = (unsigned char)b;
    out[2] = (unsigned char)c;
    n = 3;
    while (*p) {
      int h = hexval((unsigned char)p[0]), l = h >= 0 ? hexval((unsigned char)p[1]) : -1;
      if (l < 0 || n >= cap) return SMTP_ERR_INVALID_ARGUMENT;
      out[n++] = (unsigned char)(h << 4 | l);
      p += 2;
    }
    return (int)n;
  default:
    return SMTP_ERR_INVALID_ARGUMENT;
  }
}

/* ---- parsing ---- */

/* Read the name at *off into out (uncompressed wire form, lower-case,
 * at most 255 octets). *off moves past the name as it appears at that
 * place (a pointer counts two octets). 0 on success, -1 when malformed. */
static int read_name(const unsigned char *msg, size_t len, size_t *off, unsigned char out[256],
                     size_t *outlen) {
  size_t p = *off, n = 0, end = 0;
  int jumped = 0;
  for (;;) {
    unsigned int l;
    if (p >= len) return -1;
    l = msg[p];
    if ((l & 0xc0) == 0xc0) {
      size_t target;
      if (p + 1 >= len) return -1;
      target = (size_t)(l & 0x3f) << 8 | msg[p + 1];
      if (target >= p) return -1; /* only backwards: no loops */
      if (!jumped) end = p + 2;
      jumped = 1;
      p = target;
      continue;
    }
    if (l & 0xc0) return -1; /* 0x40/0x80: extended/unknown label types */
    if (n + 1 + l > 255) return -1;
    if (p + 1 + l > len) return -1;
    out[n++] = (unsigned char)l;
    for (size_t i = 0; i < l; i++) out[n++] = (unsigned char)smtp__lower(msg[p + 1 + i]);
    p += 1 + l;
    if (l == 0) break;
  }
  *off = jumped ? end : p;
  *outlen = n;
  return 0;
}

/* Presentation form of a wire name (no final dot; "" for the root);
 * bytes other than letters, digits, '-', '_' and '*' become \DDD. */
static size_t name_text_len(const unsigned char *w) {
  size_t n = 0;
  for (size_t p = 0; w[p]; p += (size_t)w[p] + 1) {
    if (p) n++;
    for (size_t i = 1; i <= w[p]; i++) {
      unsigned char ch = w[p + i];
      n += (smtp__is_alpha(ch) || smtp__is_digit(ch) || ch == '-' || ch == '_' || ch == '*') ? 1 : 4;
    }
  }
  return n;
}

static char *name_text(const unsigned char *w, char *out) {
  char *o = out;
  for (size_t p = 0; w[p]; p += (size_t)w[p] + 1) {
    if (p) *o++ = '.';
    for (size_t i = 1; i <= w[p]; i++) {
      unsigned char ch = w[p + i];
      if (smtp__is_alpha(ch) || smtp__is_digit(ch) || ch == '-' || ch == '_' || ch == '*') {
        *o++ = (char)ch;
      } else {
        *o++ = '\\';
        *o++ = (char)('0' + ch / 100);
        *o++ = (char)('0' + ch / 10 % 10);
        *o++ = (char)('0' + ch % 10);
      }
    }
  }
  *o++ = 0;
  return o;
}

typedef struct {
  unsigned char owner[256];
  size_t ownerlen;
  unsigned int type;
  uint32_t ttl;
  size_t rd, rdlen;
} rrdesc;

static int check_rdata(const unsigned char *msg, size_t len, const rrdesc *d) {
  unsigned char tmp[256];
  size_t tl, off = d->rd;
  switch (d->type) {
  case SMTP_DNS_A: return d->rdlen == 4 ? 0 : -1;
  case SMTP_DNS_AAAA: return d->rdlen == 16 ? 0 : -1;
  case SMTP_DNS_MX:
    if (d->rdlen < 3) return -1;
    off += 2;
    /* fall through */
  case SMTP_DNS_CNAME:
    if (read_name(msg, len, &off, tmp, &tl) != 0) return -1;
    return off == d->rd + d->rdlen ? 0 : -1;
  case SMTP_DNS_TXT:
    while (off < d->rd + d->rdlen) off += (size_t)msg[off] + 1;
    return off == d->rd + d->rdlen && d->rdlen > 0 ? 0 : -1;
  case SMTP_DNS_TLSA: return d->rdlen >= 3 ? 0 : -1;
  default: return 0;
  }
}

static smtp_dns_result *make_result(const smtp_mem *mem, size_t count, size_t arena) {
  size_t head = sizeof(smtp_dns_result) + count * sizeof(smtp_dns_rr);
  smtp_dns_result *r;
  if (count > ((size_t)-1 - sizeof *r - arena) / sizeof(smtp_dns_rr)) return NULL;
  r = smtp__calloc(mem, 1, head + arena);
  if (!r) return NULL;
  r->mem = mem ? *mem : *smtp_mem_default();
  r->rr = count ? (smtp_dns_rr *)(void *)(r + 1) : NULL;
  r->count = count;
  return r;
}

int smtp_dns_result_failed(int status, const char *qname, smtp_dns_result **out,
                           const smtp_mem *mem) {
  smtp_dns_result *r;
  size_t l;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!qname || status < SMTP_DNS_OK || status > SMTP_DNS_MALFORMED || (mem && !smtp__mem_valid(mem)))
    return SMTP_ERR_INVALID_ARGUMENT;
  l = strlen(qname);
  r = make_result(mem, 0, l + 1);
  if (!r) return SMTP_ERR_NOMEM;
  memcpy((char *)(r + 1), qname, l + 1);
  r->name = (const char *)(r + 1);
  r->status = status;
  *out = r;
  return SMTP_OK;
}

static int fail(int status, const char *qname, smtp_dns_result **out, const smtp_mem *mem,
                rrdesc *descs) {
  smtp__free(mem, descs);
  return smtp_dns_result_failed(status, qname, out, mem);
}

int smtp_dns_parse(const unsigned char *wire, size_t len, const char *qname, unsigned int qtype,
                   unsigned int security, smtp_dns_result **out, const smtp_mem *mem) {
  unsigned char qwire[256], tmp[256], seen[CHAIN_MAX + 1][256];
  size_t qlen, off, tl, an, nd = 0, kept = 0, arena, seen_len[CHAIN_MAX + 1], nseen = 0;
  unsigned int flags, rcode;
  int ql, ad;
  rrdesc *d = NULL;
  smtp_dns_result *r;
  char *a;

  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!qname || (!wire && len) || security > SMTP_DNS_SEC_BOGUS || (mem && !smtp__mem_valid(mem)))
    return SMTP_ERR_INVALID_ARGUMENT;
  ql = smtp__dns_name_to_wire(qname, qwire, sizeof qwire);
  if (ql < 0) return SMTP_ERR_INVALID_ARGUMENT;
  qlen = (size_t)ql;
  for (size_t i = 0; i < qlen; i++) qwire[i] = (unsigned char)smtp__lower(qwire[i]);
  if (security == SMTP_DNS_SEC_BOGUS) return fail(SMTP_DNS_BOGUS, qname, out, mem, NULL);
  if (len < 12) return fail(SMTP_DNS_MALFORMED, qname, out, mem, NULL);
  flags = get16(wire + 2);
  if (!(flags & 0x8000) || ((flags >> 11) & 0xf) != 0) return fail(SMTP_DNS_MALFORMED, qname, out, mem, NULL);
  if (flags & 0x0200) return fail(SMTP_DNS_TEMPFAIL, qname, out, mem, NULL); /* TC */
  rcode = flags & 0xf;
  ad = (flags & 0x0020) != 0;
  if (get16(wire + 4) != 1) return fail(SMTP_DNS_MALFORMED, qname, out, mem, NULL);
  off = 12;
  if (read_name(wire, len, &off, tmp, &tl) != 0 || off + 4 > len || tl != qlen ||
      memcmp(tmp, qwire, qlen) != 0 || get16(wire + off) != qtype || get16(wire + off + 2) != 1)
    return fail(SMTP_DNS_MALFORMED, qname, out, mem, NULL);
  off += 4;
  if (rcode == 3) return fail(SMTP_DNS_NXDOMAIN, qname, out, mem, NULL);
  if (rcode != 0) return fail(SMTP_DNS_TEMPFAIL, qname, out, mem, NULL);

  an = get16(wire + 6);
  if (an > (len - off) / 11) return fail(SMTP_DNS_MALFORMED, qname, out, mem, NULL);
  if (an) {
    d = smtp__calloc(mem, an, sizeof *d);
    if (!d) return SMTP_ERR_NOMEM;
  }
  for (size_t i = 0; i < an; i++) {
    rrdesc *x = &d[nd];
    if (read_name(wire, len, &off, x->owner, &x->ownerlen) != 0 || off + 10 > len)
      return fail(SMTP_DNS_MALFORMED, qname, out, mem, d);
    x->type = get16(wire + off);
    x->ttl = get32(wire + off + 4) & 0x7fffffffu; /* RFC 2181 8 */
    x->rdlen = get16(wire + off + 8);
    x->rd = off + 10;
    if (x->rd + x->rdlen > len) return fail(SMTP_DNS_MALFORMED, qname, out, mem, d);
    off = x->rd + x->rdlen;
    if (get16(wire + x->rd - 8) != 1) continue; /* class IN only */
    if (check_rdata(wire, len, x) != 0) return fail(SMTP_DNS_MALFORMED, qname, out, mem, d);
    nd++;
  }

  /* Follow the CNAME chain from the question name (RFC 1034 3.6.2). */
  memcpy(seen[0], qwire, qlen);
  seen_len[0] = qlen;
  nseen = 1;
  for (;;) {
    const unsigned char *cur = seen[nseen - 1];
    size_t curlen = seen_len[nseen - 1], i;
    if (qtype == SMTP_DNS_CNAME) break;
    for (i = 0; i < nd; i++)
      if (d[i].type == SMTP_DNS_CNAME && d[i].ownerlen == curlen && memcmp(d[i].owner, cur, curlen) == 0)
        break;
    if (i == nd) break;
    if (nseen > CHAIN_MAX) return fail(SMTP_DNS_MALFORMED, qname, out, mem, d);
    off = d[i].rd;
    read_name(wire, len, &off, seen[nseen], &seen_len[nseen]); /* checked in check_rdata */
    for (size_t k = 0; k < nseen; k++)
      if (seen_len[k] == seen_len[nseen] && memcmp(seen[k], seen[nseen], seen_len[k]) == 0)
        return fail(SMTP_DNS_MALFORMED, qname, out, mem, d); /* a loop */
    nseen++;
  }

  /* Size the result: records kept, their strings and data. */
  {
    const unsigned char *cur = seen[nseen - 1];
    size_t curlen = seen_len[nseen - 1];
    arena = name_text_len(cur) + 1;
    for (size_t i = 0; i < nd; i++) {
      if (d[i].type != qtype || d[i].ownerlen != curlen || memcmp(d[i].owner, cur, curlen) != 0) {
        d[i].type = 0; /* not kept */
        continue;
      }
      kept++;
      if (qtype == SMTP_DNS_MX || qtype == SMTP_DNS_CNAME) {
        off = d[i].rd + (qtype == SMTP_DNS_MX ? 2 : 0);
        read_name(wire, len, &off, tmp, &tl);
        arena += name_text_len(tmp) + 1;
      } else if (qtype != SMTP_DNS_A && qtype != SMTP_DNS_AAAA) {
        arena += d[i].rdlen;
      }
    }
    r = make_result(mem, kept, arena);
    if (!r) {
      smtp__free(mem, d);
      return SMTP_ERR_NOMEM;
    }
    /* (r->rr is NULL without records: no pointer arithmetic on it then) */
    a = kept ? (char *)(void *)(r->rr + kept) : (char *)(r + 1);
    r->name = a;
    a = name_text(cur, a);
  }
  r->status = kept ? SMTP_DNS_OK : SMTP_DNS_NODATA;
  r->authenticated = security == SMTP_DNS_SEC_SECURE || (security == SMTP_DNS_SEC_FROM_AD && ad);
  kept = 0;
  for (size_t i = 0; i < nd; i++) {
    smtp_dns_rr *rr;
    const unsigned char *rd = wire + d[i].rd;
    if (!d[i].type) continue;
    rr = &r->rr[kept++];
    rr->type = d[i].type;
    rr->ttl = d[i].ttl;
    switch (qtype) {
    case SMTP_DNS_A:
    case SMTP_DNS_AAAA:
      memcpy(rr->addr, rd, d[i].rdlen);
      rr->addr_len = (unsigned int)d[i].rdlen;
      break;
    case SMTP_DNS_MX:
    case SMTP_DNS_CNAME:
      off = d[i].rd;
      if (qtype == SMTP_DNS_MX) {
        rr->preference = get16(rd);
        off += 2;
      }
      read_name(wire, len, &off, tmp, &tl);
      rr->target = a;
      a = name_text(tmp, a);
      break;
    case SMTP_DNS_TLSA:
      rr->usage = rd[0];
      rr->selector = rd[1];
      rr->matching = rd[2];
      rr->data = (const unsigned char *)a;
      rr->data_len = d[i].rdlen - 3;
      memcpy(a, rd + 3, d[i].rdlen - 3);
      a += d[i].rdlen - 3;
      break;
    case SMTP_DNS_TXT:
      rr->data = (const unsigned char *)a;
      for (size_t p = 0; p < d[i].rdlen; p += (size_t)rd[p] + 1) {
        memcpy(a, rd + p + 1, rd[p]);
        a += rd[p];
        rr->data_len += rd[p];
      }
      break;
    default:
      rr->data = (const unsigned char *)a;
      rr->data_len = d[i].rdlen;
      memcpy(a, rd, d[i].rdlen);
      a += d[i].rdlen;
      break;
    }
  }
  smtp__free(mem, d);
  *out = r;
  return SMTP_OK;
}

void smtp_dns_result_del(smtp_dns_result *r) {
  smtp_mem m;
  if (!r) return;
  m = r->mem;
  smtp__free(&m, r);
}

int smtp_dns_result_status(const smtp_dns_result *r) { return r ? r->status : SMTP_DNS_MALFORMED; }

int smtp_dns_result_authenticated(const smtp_dns_result *r) { return r ? r->authenticated : 0; }

const char *smtp_dns_result_name(const smtp_dns_result *r) { return r && r->name ? r->name : ""; }

size_t smtp_dns_result_count(const smtp_dns_result *r) { return r ? r->count : 0; }

const smtp_dns_rr *smtp_dns_result_record(const smtp_dns_result *r, size_t i) {
  return r && i < r->count ? &r->rr[i] : NULL;
}
