/* DANE matching (RFC 7671, RFC 7672 3) as a pure function over a DER
 * chain: a minimal DER walker (RFC 5280 4.1 layout: tbsCertificate,
 * issuer, subject, subjectPublicKeyInfo, subjectAltName, subject CN) and
 * the digests of the matching types. Reads only inside the buffers it is
 * given; every length is checked. No allocation. */
#include <string.h>

#include <smtp/delivery.h>

#include "delivery_internal.h"
#include "der.h"
#include "hash.h"
#include "internal.h"

#define MAX_CERTS 16

typedef smtp__der der;

static int der_read(const unsigned char *buf, size_t len, der *out) {
  return smtp__der_read(buf, len, out);
}

typedef struct {
  der cert, issuer, subject, spki, exts;
  int has_exts;
} cert_parts;

static int cert_parse(const unsigned char *buf, size_t len, cert_parts *cp) {
  der cert, tbs, e;
  const unsigned char *p;
  size_t left;
  memset(cp, 0, sizeof *cp);
  if (der_read(buf, len, &cert) != 0 || cert.tag != 0x30 || cert.len != len) return -1;
  if (der_read(cert.c, cert.clen, &tbs) != 0 || tbs.tag != 0x30) return -1;
  cp->cert = cert;
  p = tbs.c;
  left = tbs.clen;
#define NEXT(want)                                                \
  do {                                                            \
    if (der_read(p, left, &e) != 0) return -1;                    \
    if ((want) >= 0 && e.tag != (unsigned int)(want)) return -1;  \
    p += e.len;                                                   \
    left -= e.len;                                                \
  } while (0)
  if (left && p[0] == 0xa0) NEXT(0xa0); /* version */
  NEXT(0x02);                           /* serialNumber */
  NEXT(0x30);                           /* signature */
  NEXT(0x30);
  cp->issuer = e;
  NEXT(0x30); /* validity */
  NEXT(0x30);
  cp->subject = e;
  NEXT(0x30);
  cp->spki = e;
  while (left) {
    NEXT(-1);
    if (e.tag == 0xa3) { /* extensions [3] EXPLICIT SEQUENCE */
      der seq;
      if (der_read(e.c, e.clen, &seq) != 0 || seq.tag != 0x30) return -1;
      cp->exts = seq;
      cp->has_exts = 1;
    } else if (e.tag != 0x81 && e.tag != 0x82 && e.tag != 0xa1 && e.tag != 0xa2) {
      return -1;
    }
  }
#undef NEXT
  return 0;
}

/* The DNS names of subjectAltName (2.5.29.17); returns how many were seen
 * and whether one matched (*matched). -1 on malformed. */
static int san_names(const cert_parts *cp, const char *const *names, size_t nnames, int *matched) {
  static const unsigned char oid_san[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
  const unsigned char *p;
  size_t left;
  int count = 0;
  *matched = 0;
  if (!cp->has_exts) return 0;
  p = cp->exts.c;
  left = cp->exts.clen;
  while (left) {
    der ext, id, v;
    const unsigned char *q;
    size_t ql;
    if (der_read(p, left, &ext) != 0 || ext.tag != 0x30) return -1;
    p += ext.len;
    left -= ext.len;
    if (der_read(ext.c, ext.clen, &id) != 0 || id.tag != 0x06) return -1;
    if (id.len != sizeof oid_san || memcmp(id.p, oid_san, sizeof oid_san) != 0) continue;
    q = ext.c + id.len;
    ql = ext.clen - id.len;
    if (der_read(q, ql, &v) != 0) return -1;
    if (v.tag == 0x01) { /* critical BOOLEAN */
      q += v.len;
      ql -= v.len;
      if (der_read(q, ql, &v) != 0) return -1;
    }
    if (v.tag != 0x04) return -1;
    {
      der gns, gn;
      const unsigned char *g;
      size_t gl;
      if (der_read(v.c, v.clen, &gns) != 0 || gns.tag != 0x30) return -1;
      g = gns.c;
      gl = gns.clen;
      while (gl) {
        if (der_read(g, gl, &gn) != 0) return -1;
        g += gn.len;
        gl -= gn.len;
        if (gn.tag != 0x82) continue; /* dNSName [2] IMPLICIT IA5String */
        count++;
        if (gn.clen > 0 && gn.clen < 256 && !memchr(gn.c, 0, gn.clen)) {
          char nm[256];
          memcpy(nm, gn.c, gn.clen);
          nm[gn.clen] = 0;
          for (size_t i = 0; i < nnames; i++)
            if (names[i] && smtp__mta_sts_pattern_match(nm, names[i])) *matched = 1;
        }
      }
    }
  }
  return count;
}

/* The subject's common names (2.5.4.3), checked against names. */
static int cn_match(const cert_parts *cp, const char *const *names, size_t nnames) {
  static const unsigned char oid_cn[] = {0x06, 0x03, 0x55, 0x04, 0x03};
  const unsigned char *p = cp->subject.c;
  size_t left = cp->subject.clen;
  while (left) {
    der set, atv;
    const unsigned char *s;
    size_t sl;
    if (der_read(p, left, &set) != 0 || set.tag != 0x31) return 0;
    p += set.len;
    left -= set.len;
    s = set.c;
    sl = set.clen;
    while (sl) {
      der id, val;
      if (der_read(s, sl, &atv) != 0 || atv.tag != 0x30) return 0;
      s += atv.len;
      sl -= atv.len;
      if (der_read(atv.c, atv.clen, &id) != 0) return 0;
      if (id.len != sizeof oid_cn || memcmp(id.p, oid_cn, sizeof oid_cn) != 0) continue;
      if (der_read(atv.c + id.len, atv.clen - id.len, &val) != 0) return 0;
      if (val.clen > 0 && val.clen < 256 && !memchr(val.c, 0, val.clen)) {
        char nm[256];
        memcpy(nm, val.c, val.clen);
        nm[val.clen] = 0;
        for (size_t i = 0; i < nnames; i++)
          if (names[i] && smtp__mta_sts_pattern_match(nm, names[i])) return 1;
      }
    }
  }
  return 0;
}

/* 1 when @child carries a valid signature made with @issuer's key (and
 * @issuer may sign certificates), 0 when not, SMTP_ERR_UNSUPPORTED when
 * the build has no X.509 code (the TLS library's). Below. */
static int signed_by(const cert_parts *child, const cert_parts *issuer);

/* One record against one certificate. 1 match, 0 no, <0 error. */
static int rr_match(const smtp_dns_rr *r, const cert_parts *cp) {
  const unsigned char *data = r->selector == 0 ? cp->cert.p : cp->spki.p;
  size_t len = r->selector == 0 ? cp->cert.len : cp->spki.len;
  unsigned char dg[64];
  int dl;
  if (r->matching == 0) return r->data_len == len && memcmp(r->data, data, len) == 0;
  dl = smtp__dane_digest(r->matching, data, len, dg);
  if (dl < 0) return dl;
  return r->data_len == (size_t)dl && memcmp(r->data, dg, (size_t)dl) == 0;
}

static int usable(const smtp_dns_rr *r) {
  return r->type == SMTP_DNS_TLSA && (r->usage == 2 || r->usage == 3) && r->selector <= 1 &&
         r->matching <= 2 && r->data;
}

int smtp_dane_match(const smtp_dns_rr *records, size_t nrec, const unsigned char *const *chain,
                    const size_t *lens, size_t ncerts, const char *const *names, size_t nnames) {
  cert_parts cp[MAX_CERTS];
  int err = 0, rc;
  if (!records || !chain || !lens || ncerts == 0 || ncerts > MAX_CERTS || (nnames && !names))
    return SMTP_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < ncerts; i++) {
    if (!chain[i] || cert_parse(chain[i], lens[i], &cp[i]) != 0) {
      if (i == 0) return SMTP_ERR_SYNTAX;
      ncerts = i; /* use what is readable */
      break;
    }
  }
  /* DANE-EE(3): the leaf, no name or date checks (RFC 7672 3.1.1) */
  for (size_t k = 0; k < nrec; k++) {
    if (!usable(&records[k]) || records[k].usage != 3) continue;
    rc = rr_match(&records[k], &cp[0]);
    if (rc == 1) return SMTP_DANE_MATCH_EE;
    if (rc < 0) err = rc;
  }
  /* DANE-TA(2): an issuer in the chain, linked by names to the leaf, and
   * the leaf's name (RFC 7672 3.2.2, 3.2.3) */
  for (size_t k = 0; k < nrec; k++) {
    if (!usable(&records[k]) || records[k].usage != 2) continue;
    for (size_t j = 1; j < ncerts; j++) {
      int linked = 1, matched = 0, n;
      rc = rr_match(&records[k], &cp[j]);
      if (rc < 0) err = rc;
      if (rc != 1) continue;
      for (size_t x = 0; x < j; x++)
        if (cp[x].issuer.len != cp[x + 1].subject.len ||
            memcmp(cp[x].issuer.p, cp[x + 1].subject.p, cp[x].issuer.len) != 0)
          linked = 0;
      if (!linked) continue;
      /* each certificate up to the anchor signed by the next one */
      for (size_t x = 0; x < j && linked; x++) {
        int sg = signed_by(&cp[x], &cp[x + 1]);
        if (sg < 0) return sg;
        linked = sg;
      }
      if (!linked) continue;
      n = san_names(&cp[0], names, nnames, &matched);
      if (n < 0) return SMTP_ERR_SYNTAX;
      if (matched || (n == 0 && cn_match(&cp[0], names, nnames))) return SMTP_DANE_MATCH_TA;
    }
  }
  return err ? err : SMTP_ERR_DANE;
}

/* TLSA matching types 1 and 2 (RFC 6698 2.1.3) with the library's own
 * SHA-2 (hash.c), so every build, TLS backend or none, digests alike. */
int smtp__dane_digest(unsigned int matching, const unsigned char *data, size_t len,
                      unsigned char out[64]) {
  int alg;
  if (matching == 1) alg = SMTP__H_SHA256;
  else if (matching == 2) alg = SMTP__H_SHA512;
  else return SMTP_ERR_UNSUPPORTED;
  if (smtp__hash(alg, data, len, out) < 0) return SMTP_ERR_UNSUPPORTED;
  return (int)smtp__hash_len(alg);
}

/* The signature check needs public-key code, so it is the TLS backend's. */
static int signed_by(const cert_parts *child, const cert_parts *issuer) {
  return smtp__tls_x509_signed_by(child->cert.p, child->cert.len, issuer->cert.p,
                                  issuer->cert.len);
}

