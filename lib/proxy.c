/* The PROXY protocol, versions 1 and 2 (proxy.h): an incremental reader
 * that consumes exactly the header's octets and keeps its state in a
 * fixed struct, and writers for the client side. No allocation, no I/O. */
#include <arpa/inet.h>
#include <string.h>

#include <smtp/proxy.h>

#include "hash.h"
#include "internal.h"
#include "text.h"

static const uint8_t v2sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1sig[6] = {'P', 'R', 'O', 'X', 'Y', ' '};

enum { R_DETECT = 0, R_V1, R_V2_FIXED, R_V2_ADDR, R_V2_REST, R_DONE };

#define HDR_CAP (SMTP_PROXY_V2_FIXED + 216)

struct rdr {
  int32_t err;
  uint8_t state;
  uint8_t flags;
  uint8_t tlv_have;   /* octets of the current record's 3-octet header */
  uint8_t storing;    /* the current record's value goes to the store */
  uint8_t skip_rest;  /* LOCAL: the rest is skipped, not parsed */
  uint8_t tlv_hdr[3];
  uint16_t have;      /* octets in hdr[] */
  uint16_t addr_len;  /* address block octets kept */
  uint32_t total;     /* v2: 16 + declared length */
  uint32_t pos;       /* octets consumed */
  uint32_t tlv_left;  /* value octets still to come of the current record */
  uint16_t tlv_used;  /* octets in tlv[] */
  uint8_t in_crc;     /* the current record is PP2_TYPE_CRC32C */
  uint8_t crc_seen;   /* a PP2_TYPE_CRC32C record was read */
  uint32_t crc;       /* v2 (PROXY): CRC-32C of the octets so far, the record's value as zeros */
  uint8_t crc_got[4]; /* the record's value */
  smtp_proxy_info info;
  uint8_t hdr[HDR_CAP];
  uint8_t tlv[SMTP_PROXY_TLV_STORE];
};

typedef char rdr_fits[sizeof(struct rdr) <= sizeof(smtp_proxy_reader) ? 1 : -1];

static struct rdr *R(smtp_proxy_reader *r) { return (struct rdr *)(void *)r->opaque; }
static const struct rdr *CR(const smtp_proxy_reader *r) {
  return (const struct rdr *)(const void *)r->opaque;
}

void smtp_proxy_reader_init(smtp_proxy_reader *r, unsigned int flags) {
  struct rdr *d;
  if (!r) return;
  d = R(r);
  /* only the fixed part is cleared: the stores are written before read */
  memset(d, 0, offsetof(struct rdr, hdr));
  flags &= SMTP_PROXY_V1 | SMTP_PROXY_V2;
  d->flags = (uint8_t)(flags ? flags : (SMTP_PROXY_V1 | SMTP_PROXY_V2));
}

static smtp_ssize fail(struct rdr *d) {
  d->err = SMTP_ERR_PROXY_HEADER;
  return SMTP_ERR_PROXY_HEADER;
}

/* A decimal port: 1-5 digits, no leading zero, <= 65535. */
static int parse_port(const char *p, size_t n, uint16_t *out) {
  unsigned int v = 0;
  size_t i;
  if (n == 0 || n > 5 || (n > 1 && p[0] == '0')) return -1;
  for (i = 0; i < n; i++) {
    if (!smtp__is_digit((unsigned char)p[i])) return -1;
    v = v * 10 + (unsigned int)(p[i] - '0');
  }
  if (v > 65535) return -1;
  *out = (uint16_t)v;
  return 0;
}

static int parse_addr(const char *p, size_t n, int v6, uint8_t *out) {
  char tmp[INET6_ADDRSTRLEN + 1];
  if (n == 0 || n >= sizeof tmp || memchr(p, 0, n)) return -1;
  memcpy(tmp, p, n);
  tmp[n] = 0;
  return inet_pton(v6 ? AF_INET6 : AF_INET, tmp, out) == 1 ? 0 : -1;
}

/* The v1 line without "PROXY " and CRLF. */
static int parse_v1(struct rdr *d, const char *p, size_t n) {
  const char *tok[5];
  size_t tl[5], i, k = 0, start = 0;
  int v6;
  smtp_proxy_info *in = &d->info;
  in->version = 1;
  in->command = SMTP_PROXY_CMD_PROXY;
  if (n >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (n == 7 || p[7] == ' ')) {
    in->transport = SMTP_PROXY_TRANSPORT_UNSPEC; /* the rest is ignored */
    return 0;
  }
  if (n < 5 || memcmp(p, "TCP", 3) != 0 || (p[3] != '4' && p[3] != '6') || p[4] != ' ') return -1;
  v6 = p[3] == '6';
  p += 5;
  n -= 5;
  for (i = 0; i <= n; i++) {
    if (i == n || p[i] == ' ') {
      if (k == 4 || i == start) return -1; /* too many fields, or an empty one */
      tok[k] = p + start;
      tl[k++] = i - start;
      start = i + 1;
    }
  }
  if (k != 4) return -1;
  in->transport = SMTP_PROXY_TRANSPORT_STREAM;
  in->source.family = in->destination.family = (uint16_t)(v6 ? SMTP_AF_INET6 : SMTP_AF_INET);
  if (parse_addr(tok[0], tl[0], v6, in->source.addr) != 0 ||
      parse_addr(tok[1], tl[1], v6, in->destination.addr) != 0 ||
      parse_port(tok[2], tl[2], &in->source.port) != 0 ||
      parse_port(tok[3], tl[3], &in->destination.port) != 0)
    return -1;
  in->source.origin = in->destination.origin = SMTP_ORIGIN_PROXY;
  return 0;
}

/* Records: SSL sub-records must frame exactly. */
static int check_tlvs(const struct rdr *d) {
  size_t off = 0;
  while (off < d->tlv_used) {
    unsigned int type = d->tlv[off];
    size_t len = ((size_t)d->tlv[off + 1] << 8) | d->tlv[off + 2];
    if (type == SMTP_PP2_TYPE_SSL) {
      const uint8_t *v = d->tlv + off + 3;
      size_t o = 5;
      if (len < 5) return -1;
      while (o < len) {
        size_t sl;
        if (len - o < 3) return -1;
        sl = ((size_t)v[o + 1] << 8) | v[o + 2];
        if (sl > len - o - 3) return -1;
        o += 3 + sl;
      }
    }
    off += 3 + len;
  }
  return 0;
}

static void v2_addresses(struct rdr *d) {
  smtp_proxy_info *in = &d->info;
  const uint8_t *a = d->hdr + SMTP_PROXY_V2_FIXED;
  unsigned int fam = d->hdr[13] >> 4;
  if (in->command != SMTP_PROXY_CMD_PROXY) return;
  if (fam == 1) {
    in->source.family = in->destination.family = SMTP_AF_INET;
    memcpy(in->source.addr, a, 4);
    memcpy(in->destination.addr, a + 4, 4);
    in->source.port = (uint16_t)((a[8] << 8) | a[9]);
    in->destination.port = (uint16_t)((a[10] << 8) | a[11]);
  } else if (fam == 2) {
    in->source.family = in->destination.family = SMTP_AF_INET6;
    memcpy(in->source.addr, a, 16);
    memcpy(in->destination.addr, a + 16, 16);
    in->source.port = (uint16_t)((a[32] << 8) | a[33]);
    in->destination.port = (uint16_t)((a[34] << 8) | a[35]);
  } else if (fam == 3) {
    in->source.family = in->destination.family = SMTP_AF_UNIX;
  } else {
    return;
  }
  in->source.origin = in->destination.origin = SMTP_ORIGIN_PROXY;
}

static smtp_ssize complete(struct rdr *d, size_t used) {
  if (d->info.version == 2) {
    if (check_tlvs(d) != 0) return fail(d);
    /* HAProxy's specification, PP2_TYPE_CRC32C: a header whose checksum does not match is
     * invalid (the value is big-endian, computed with its own field zero) */
    if (d->crc_seen && d->crc != (((uint32_t)d->crc_got[0] << 24) | ((uint32_t)d->crc_got[1] << 16) |
                                  ((uint32_t)d->crc_got[2] << 8) | d->crc_got[3]))
      return fail(d);
    v2_addresses(d);
  }
  d->info.header_len = d->pos;
  d->state = R_DONE;
  return (smtp_ssize)used;
}

/* The fixed 16 octets are in: check them, size the rest. */
static int v2_fixed(struct rdr *d) {
  static const uint16_t need[4] = {0, 12, 36, 216};
  unsigned int vc = d->hdr[12], ft = d->hdr[13];
  unsigned int len = ((unsigned int)d->hdr[14] << 8) | d->hdr[15];
  unsigned int fam = ft >> 4, tr = ft & 15u;
  if ((vc >> 4) != 2 || (vc & 15u) > 1) return -1;
  if (fam > 3 || tr > 2) return -1;
  d->info.version = 2;
  d->info.command = vc & 15u;
  d->info.transport = tr;
  d->total = SMTP_PROXY_V2_FIXED + len;
  if (d->info.command == SMTP_PROXY_CMD_LOCAL) {
    /* LOCAL: the proxy speaks for itself; whatever follows is skipped */
    d->skip_rest = 1;
    d->addr_len = 0;
    return 0;
  }
  if (len < need[fam]) return -1; /* shorter than its address block */
  d->addr_len = need[fam];
  return 0;
}

smtp_ssize smtp_proxy_reader_feed(smtp_proxy_reader *r, const void *data, size_t len) {
  struct rdr *d;
  const uint8_t *p = data;
  size_t i = 0;
  if (!r || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
  d = R(r);
  if (d->err) return d->err;
  while (i < len) {
    switch (d->state) {
    case R_DETECT: {
      uint8_t c;
      if (d->have == 0 && len - i >= sizeof v2sig && (d->flags & SMTP_PROXY_V2) &&
          memcmp(p + i, v2sig, sizeof v2sig) == 0) {
        /* the whole signature in this piece: no octet-by-octet matching */
        memcpy(d->hdr, v2sig, sizeof v2sig);
        d->have = sizeof v2sig;
        d->pos = sizeof v2sig;
        i += sizeof v2sig;
        d->state = R_V2_FIXED;
        break;
      }
      c = p[i++];
      int v1ok, v2ok;
      d->hdr[d->have++] = c;
      d->pos++;
      v1ok = (d->flags & SMTP_PROXY_V1) && d->have <= sizeof v1sig &&
             memcmp(d->hdr, v1sig, d->have) == 0;
      v2ok = (d->flags & SMTP_PROXY_V2) && d->have <= sizeof v2sig &&
             memcmp(d->hdr, v2sig, d->have) == 0;
      if (!v1ok && !v2ok) return fail(d);
      if (v1ok && d->have == sizeof v1sig) d->state = R_V1;
      else if (v2ok && d->have == sizeof v2sig) d->state = R_V2_FIXED;
      break;
    }
    case R_V1: {
      /* copy up to the LF (or as much as the 107-octet bound allows) */
      size_t room = SMTP_PROXY_V1_MAX - d->have, k = len - i;
      const uint8_t *lf;
      uint8_t c;
      if (k > room) k = room;
      lf = memchr(p + i, '\n', k);
      if (lf) k = (size_t)(lf - (p + i)) + 1;
      memcpy(d->hdr + d->have, p + i, k);
      d->have = (uint16_t)(d->have + k);
      d->pos += (uint32_t)k;
      i += k;
      c = d->hdr[d->have - 1];
      if (c == '\n') {
        if (d->hdr[d->have - 2] != '\r') return fail(d);
        if (parse_v1(d, (const char *)d->hdr + sizeof v1sig, (size_t)d->have - sizeof v1sig - 2) != 0)
          return fail(d);
        return complete(d, i);
      }
      if (d->have >= SMTP_PROXY_V1_MAX) return fail(d); /* 107 octets and no LF yet */
      break;
    }
    case R_V2_FIXED: {
      size_t k = SMTP_PROXY_V2_FIXED - d->have;
      if (k > len - i) k = len - i;
      memcpy(d->hdr + d->have, p + i, k);
      d->have = (uint16_t)(d->have + k);
      d->pos += (uint32_t)k;
      i += k;
      if (d->have == SMTP_PROXY_V2_FIXED) {
        if (v2_fixed(d) != 0) return fail(d);
        d->crc = smtp__crc32c(0, d->hdr, SMTP_PROXY_V2_FIXED);
        d->state = R_V2_ADDR;
        if (d->addr_len == 0) d->state = R_V2_REST;
        if (d->pos == d->total) return complete(d, i);
      }
      break;
    }
    case R_V2_ADDR: {
      size_t k = (size_t)SMTP_PROXY_V2_FIXED + d->addr_len - d->have;
      if (k > len - i) k = len - i;
      memcpy(d->hdr + d->have, p + i, k);
      d->have = (uint16_t)(d->have + k);
      d->pos += (uint32_t)k;
      i += k;
      if (d->have == SMTP_PROXY_V2_FIXED + d->addr_len) {
        d->crc = smtp__crc32c(d->crc, d->hdr + SMTP_PROXY_V2_FIXED, d->addr_len);
        d->state = R_V2_REST;
        if (d->pos == d->total) return complete(d, i);
      }
      break;
    }
    case R_V2_REST: {
      size_t left = d->total - d->pos, k;
      if (d->skip_rest) {
        k = left < len - i ? left : len - i;
      } else if (d->tlv_left == 0 && d->tlv_have < 3) {
        /* a record header; at its start, the rest must hold it */
        if (d->tlv_have == 0 && left < 3) return fail(d);
        d->tlv_hdr[d->tlv_have++] = p[i];
        d->crc = smtp__crc32c(d->crc, p + i, 1);
        k = 1;
        if (d->tlv_have == 3) {
          size_t vl = ((size_t)d->tlv_hdr[1] << 8) | d->tlv_hdr[2];
          if (vl > left - 1) return fail(d); /* overruns the declared length */
          d->in_crc = d->tlv_hdr[0] == SMTP_PP2_TYPE_CRC32C;
          /* exactly 4 octets, and one such record */
          if (d->in_crc && (vl != 4 || d->crc_seen)) return fail(d);
          if (d->in_crc) d->crc_seen = 1;
          d->tlv_left = (uint32_t)vl;
          d->storing = (uint8_t)(d->tlv_used + 3 + vl <= SMTP_PROXY_TLV_STORE);
          if (d->storing) {
            memcpy(d->tlv + d->tlv_used, d->tlv_hdr, 3);
            d->tlv_used = (uint16_t)(d->tlv_used + 3);
          } else {
            d->info.tlv_truncated++;
          }
          if (vl == 0) d->tlv_have = 0;
        }
      } else {
        k = d->tlv_left < len - i ? d->tlv_left : len - i;
        if (d->in_crc) {
          static const uint8_t zero[4] = {0, 0, 0, 0};
          memcpy(d->crc_got + (4 - d->tlv_left), p + i, k); /* k <= tlv_left <= 4 */
          d->crc = smtp__crc32c(d->crc, zero, k);
        } else {
          d->crc = smtp__crc32c(d->crc, p + i, k);
        }
        if (d->storing) {
          memcpy(d->tlv + d->tlv_used, p + i, k);
          d->tlv_used = (uint16_t)(d->tlv_used + k);
        }
        d->tlv_left -= (uint32_t)k;
        if (d->tlv_left == 0) d->tlv_have = 0;
      }
      d->pos += (uint32_t)k;
      i += k;
      if (d->pos == d->total) return complete(d, i);
      break;
    }
    default: return (smtp_ssize)i; /* R_DONE: nothing more is ours */
    }
  }
  return (smtp_ssize)i;
}

int smtp_proxy_reader_done(const smtp_proxy_reader *r) {
  const struct rdr *d;
  if (!r) return SMTP_ERR_INVALID_ARGUMENT;
  d = CR(r);
  if (d->err) return d->err;
  return d->state == R_DONE;
}

int smtp_proxy_reader_info(const smtp_proxy_reader *r, smtp_proxy_info *out) {
  if (!r || !out) return SMTP_ERR_INVALID_ARGUMENT;
  if (smtp_proxy_reader_done(r) != 1) return SMTP_ERR_INVALID_STATE;
  *out = CR(r)->info;
  return SMTP_OK;
}

int smtp_proxy_reader_tlv_at(const smtp_proxy_reader *r, unsigned int index, unsigned int *type,
                             const uint8_t **value, size_t *len) {
  const struct rdr *d;
  size_t off = 0;
  if (!r || !type || !value || !len) return SMTP_ERR_INVALID_ARGUMENT;
  if (smtp_proxy_reader_done(r) != 1) return SMTP_ERR_INVALID_STATE;
  d = CR(r);
  while (off < d->tlv_used) {
    size_t l = ((size_t)d->tlv[off + 1] << 8) | d->tlv[off + 2];
    if (index == 0) {
      *type = d->tlv[off];
      *value = d->tlv + off + 3;
      *len = l;
      return SMTP_OK;
    }
    index--;
    off += 3 + l;
  }
  return SMTP_ERR_NOT_FOUND;
}

int smtp_proxy_reader_tlv(const smtp_proxy_reader *r, unsigned int type, const uint8_t **value,
                          size_t *len) {
  unsigned int i, t;
  const uint8_t *v;
  size_t l;
  int rc;
  if (!r || !value || !len) return SMTP_ERR_INVALID_ARGUMENT;
  for (i = 0; (rc = smtp_proxy_reader_tlv_at(r, i, &t, &v, &l)) == SMTP_OK; i++) {
    if (t == type) {
      *value = v;
      *len = l;
      return SMTP_OK;
    }
    if (t == SMTP_PP2_TYPE_SSL && type > SMTP_PP2_TYPE_SSL && type <= 0x2f) {
      size_t o = 5; /* client (1) + verify (4), then sub-records (checked) */
      while (o + 3 <= l) {
        size_t sl = ((size_t)v[o + 1] << 8) | v[o + 2];
        if (v[o] == type) {
          *value = v + o + 3;
          *len = sl;
          return SMTP_OK;
        }
        o += 3 + sl;
      }
    }
  }
  return rc == SMTP_ERR_NOT_FOUND ? SMTP_ERR_NOT_FOUND : rc;
}

const char *smtp_proxy_reader_unix_path(const smtp_proxy_reader *r, int destination, size_t *len) {
  const struct rdr *d;
  const char *p;
  const void *z;
  if (!r || !len || smtp_proxy_reader_done(r) != 1) return NULL;
  d = CR(r);
  if (d->info.version != 2 || d->info.source.family != SMTP_AF_UNIX) return NULL;
  p = (const char *)d->hdr + SMTP_PROXY_V2_FIXED + (destination ? 108 : 0);
  z = memchr(p, 0, 108);
  *len = z ? (size_t)((const char *)z - p) : 108;
  return p;
}

/* --- writers --- */

static size_t put_port(char *b, unsigned int v) { return smtp__fmt_u64(b, v); }

static void v6_of(const smtp_endpoint *e, uint8_t *out);

static int is_ip(const smtp_endpoint *e) {
  return e && (e->family == SMTP_AF_INET || e->family == SMTP_AF_INET6);
}

int smtp_proxy_write_v1(char *buf, size_t cap, const smtp_endpoint *src, const smtp_endpoint *dst) {
  char line[SMTP_PROXY_V1_MAX + 1];
  size_t n = 0;
  int k;
  if (!buf) return SMTP_ERR_INVALID_ARGUMENT;
  memcpy(line, "PROXY ", 6);
  n = 6;
  if (is_ip(src) && is_ip(dst)) {
    /* one family for both: an IPv4 end next to an IPv6 one is mapped */
    smtp_endpoint a = *src, b = *dst;
    if (a.family != b.family) {
      uint8_t t[16];
      v6_of(&a, t);
      memcpy(a.addr, t, 16);
      v6_of(&b, t);
      memcpy(b.addr, t, 16);
      a.family = b.family = SMTP_AF_INET6;
    }
    memcpy(line + n, a.family == SMTP_AF_INET6 ? "TCP6 " : "TCP4 ", 5);
    n += 5;
    k = smtp_endpoint_format(&a, line + n, sizeof line - n);
    if (k < 0) return SMTP_ERR_INVALID_ARGUMENT;
    n += (size_t)k;
    line[n++] = ' ';
    k = smtp_endpoint_format(&b, line + n, sizeof line - n);
    if (k < 0) return SMTP_ERR_INVALID_ARGUMENT;
    n += (size_t)k;
    line[n++] = ' ';
    n += put_port(line + n, a.port);
    line[n++] = ' ';
    n += put_port(line + n, b.port);
  } else {
    memcpy(line + n, "UNKNOWN", 7);
    n += 7;
  }
  line[n++] = '\r';
  line[n++] = '\n';
  if (n > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
  memcpy(buf, line, n);
  return (int)n;
}

static void v6_of(const smtp_endpoint *e, uint8_t *out) {
  if (e->family == SMTP_AF_INET6) {
    memcpy(out, e->addr, 16);
  } else {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, e->addr, 4);
  }
}

int smtp_proxy_write_v2(void *buf, size_t cap, unsigned int command, const smtp_endpoint *src,
                        const smtp_endpoint *dst, const smtp_proxy_tlv *tlvs, size_t ntlvs) {
  uint8_t *b = buf, *crc_at = NULL;
  size_t alen = 0, total, i;
  unsigned int fam = 0, ncrc = 0;
  int ip;
  if (!buf || command > SMTP_PROXY_CMD_PROXY || (ntlvs && !tlvs)) return SMTP_ERR_INVALID_ARGUMENT;
  ip = src && dst && (src->family == SMTP_AF_INET || src->family == SMTP_AF_INET6) &&
       (dst->family == SMTP_AF_INET || dst->family == SMTP_AF_INET6);
  if (command == SMTP_PROXY_CMD_PROXY && ip) {
    if (src->family == SMTP_AF_INET && dst->family == SMTP_AF_INET) {
      fam = 1;
      alen = 12;
    } else {
      fam = 2;
      alen = 36;
    }
  }
  total = SMTP_PROXY_V2_FIXED + alen;
  for (i = 0; i < ntlvs; i++) {
    if (tlvs[i].type == SMTP_PP2_TYPE_CRC32C) {
      /* filled in below; its value is not read */
      if (tlvs[i].len != 4 || ncrc++) return SMTP_ERR_INVALID_ARGUMENT;
    } else if (tlvs[i].type > 255 || tlvs[i].len > 65535 || (tlvs[i].len && !tlvs[i].value)) {
      return SMTP_ERR_INVALID_ARGUMENT;
    }
    total += 3 + (size_t)tlvs[i].len;
  }
  if (total - SMTP_PROXY_V2_FIXED > 65535) return SMTP_ERR_INVALID_ARGUMENT;
  if (total > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
  memcpy(b, v2sig, 12);
  b[12] = (uint8_t)(0x20u | command);
  b[13] = (uint8_t)((fam << 4) | (fam ? 1u : 0u));
  b[14] = (uint8_t)((total - SMTP_PROXY_V2_FIXED) >> 8);
  b[15] = (uint8_t)((total - SMTP_PROXY_V2_FIXED) & 0xff);
  b += SMTP_PROXY_V2_FIXED;
  if (fam == 1) {
    memcpy(b, src->addr, 4);
    memcpy(b + 4, dst->addr, 4);
    b[8] = (uint8_t)(src->port >> 8);
    b[9] = (uint8_t)(src->port & 0xff);
    b[10] = (uint8_t)(dst->port >> 8);
    b[11] = (uint8_t)(dst->port & 0xff);
  } else if (fam == 2) {
    v6_of(src, b);
    v6_of(dst, b + 16);
    b[32] = (uint8_t)(src->port >> 8);
    b[33] = (uint8_t)(src->port & 0xff);
    b[34] = (uint8_t)(dst->port >> 8);
    b[35] = (uint8_t)(dst->port & 0xff);
  }
  b += alen;
  for (i = 0; i < ntlvs; i++) {
    b[0] = (uint8_t)tlvs[i].type;
    b[1] = (uint8_t)(tlvs[i].len >> 8);
    b[2] = (uint8_t)(tlvs[i].len & 0xff);
    if (tlvs[i].type == SMTP_PP2_TYPE_CRC32C) {
      crc_at = b + 3;
      memset(crc_at, 0, 4);
    } else if (tlvs[i].len) {
      memcpy(b + 3, tlvs[i].value, tlvs[i].len);
    }
    b += 3 + tlvs[i].len;
  }
  if (crc_at) {
    /* HAProxy's specification, PP2_TYPE_CRC32C: over the whole header with the field zero,
     * then stored big-endian */
    uint32_t c = smtp__crc32c(0, buf, total);
    crc_at[0] = (uint8_t)(c >> 24);
    crc_at[1] = (uint8_t)(c >> 16);
    crc_at[2] = (uint8_t)(c >> 8);
    crc_at[3] = (uint8_t)c;
  }
  return (int)total;
}
