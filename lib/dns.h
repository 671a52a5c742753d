/* DNS message helpers shared by the resolver adapters: names in wire form,
 * queries, and the answers the scripted adapter makes. Not installed. */
#ifndef SMTP_DNS_H
#define SMTP_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <smtp/resolver.h>

/* RFC 1035 2.3.4 */
#define SMTP__DNS_NAME_MAX 255
/* A query: header, question (name up to 255), EDNS(0) OPT. */
#define SMTP__DNS_QUERY_MAX (12 + 255 + 4 + 11)

/* Encode a presentation-form name ("mx.example.com", trailing dot
 * optional, "." or "" for the root) into wire form. Returns the length or
 * SMTP_ERR_INVALID_ARGUMENT (empty label, label over 63, name over 255,
 * a byte that cannot be in a host name: space, control, '\\'). */
int smtp__dns_name_to_wire(const char *name, unsigned char *out, size_t cap);

/* Build a query with RD and AD set and an EDNS(0) OPT (UDP 1232, DO clear).
 * Returns its length or SMTP_ERR_INVALID_ARGUMENT. */
int smtp__dns_build_query(uint16_t id, const char *name, unsigned int type, unsigned char *out,
                          size_t cap);

/* One record for smtp__dns_build_answer(): owner, type, rdata in wire form. */
typedef struct {
  const char *owner;
  unsigned int type;
  const unsigned char *rdata;
  size_t rdlen;
} smtp__dns_wire_rr;

/* Build an answer message (QR, RD, RA; AD when ad) for the question with
 * the given records in the answer section; no compression. Returns the
 * length, SMTP_ERR_BUFFER_TOO_SMALL or SMTP_ERR_INVALID_ARGUMENT. */
int smtp__dns_build_answer(uint16_t id, const char *qname, unsigned int qtype, unsigned int rcode,
                           int ad, const smtp__dns_wire_rr *rrs, size_t nrr, unsigned char *out,
                           size_t cap);

/* Presentation-form rdata (as smtp_resolver_scripted_add() documents) to
 * wire form. Returns the length or SMTP_ERR_INVALID_ARGUMENT. */
int smtp__dns_rdata_from_text(unsigned int type, const char *text, unsigned char *out, size_t cap);

/* Parse an IPv4 (dotted quad) or IPv6 text address without the C library
 * (no locale): returns 4, 16, or 0 when it is neither. */
unsigned int smtp__ip_parse(const char *s, size_t len, unsigned char out[16]);

/* Case-insensitive ASCII comparison of two NUL-terminated names, ignoring one
 * trailing dot on either. 1 when equal. */
int smtp__dns_name_eq(const char *a, const char *b);

#endif
