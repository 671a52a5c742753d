/* Shared between delivery.c, dane.c and mta_sts*.c. Not installed. */
#ifndef SMTP_DELIVERY_INTERNAL_H
#define SMTP_DELIVERY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* RFC 8461 4.1 / RFC 6125 6.4.3 restricted: pattern equal to host (case
 * and one trailing dot ignored), or "*.rest" where host is one label
 * followed by ".rest". 1 when it matches. */
int smtp__mta_sts_pattern_match(const char *pattern, const char *host);

/* The digest a TLSA matching type names (1: SHA-256, 2: SHA-512), into out
 * (64 octets); returns the digest length, or SMTP_ERR_UNSUPPORTED. */
int smtp__dane_digest(unsigned int matching, const unsigned char *data, size_t len,
                      unsigned char out[64]);

/* 1 when the DER certificate @p child carries a valid signature by the
 * public key of the DER certificate @p issuer whose subject is the child's
 * issuer name, 0 when it does not; SMTP_ERR_UNSUPPORTED in a build without
 * TLS. Validity dates are not looked at. Implemented by the default TLS
 * backend (tls.c, tls_none.c). */
int smtp__tls_x509_signed_by(const unsigned char *child, size_t child_len,
                             const unsigned char *issuer, size_t issuer_len);

/* A delivery as a TLS report (RFC 8460) sees it; implemented in
 * delivery.c, used by tlsrpt.c. */
struct smtp_delivery;
struct smtp_dns_rr;
typedef struct {
  const char *name;                /* the MX host */
  const struct smtp_dns_rr *tlsa;  /* its usable TLSA records, or NULL */
  size_t ntlsa;
  int dane;                        /* DANE applied to it */
  unsigned int ok_sessions;        /* sessions with its policy met */
} smtp__tlsrpt_host;
const char *smtp__delivery_domain(const struct smtp_delivery *d);
size_t smtp__delivery_nhosts(const struct smtp_delivery *d);
int smtp__delivery_host(const struct smtp_delivery *d, size_t i, smtp__tlsrpt_host *out);
/* The MTA-STS policy applied (mode, or SMTP_MTA_STS_NONE when none). */
unsigned int smtp__delivery_sts(const struct smtp_delivery *d, const char *const **mx, size_t *nmx,
                                uint32_t *max_age);

#endif
