/* libFuzzer target: the DANE matcher (smtp_dane_match, RFC 7671 / RFC
 * 7672 3) and its DER walker.
 *
 * Input layout: byte 0 = usage, byte 1 = selector, byte 2 = matching
 * type, byte 3 = how many certificates (1..4), then the certificates as
 * (2-octet big-endian length, DER) pairs; what is left is the TLSA
 * association data. Checked invariants: the result is one of the
 * documented values; an exact (matching type 0) DANE-EE record equal to
 * the first certificate matches whenever that certificate parses; records
 * with usages other than 2 and 3 never match; the call never reads outside
 * the buffers (ASan). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/delivery.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const unsigned char *chain[4];
  size_t lens[4], n = 0, off = 4;
  const char *names[2] = {"mx.example.com", "example.com"};
  smtp_dns_rr r;
  int rc;
  if (size < 4) return 0;
  memset(&r, 0, sizeof r);
  r.type = SMTP_DNS_TLSA;
  r.usage = data[0];
  r.selector = data[1];
  r.matching = data[2];
  while (n < (size_t)(data[3] % 4) + 1 && off + 2 <= size) {
    size_t l = (size_t)data[off] << 8 | data[off + 1];
    off += 2;
    if (l > size - off) l = size - off;
    chain[n] = data + off;
    lens[n++] = l;
    off += l;
  }
  if (n == 0) return 0;
  r.data = data + off;
  r.data_len = size - off;
  rc = smtp_dane_match(&r, 1, chain, lens, n, names, 2);
  CHECK(rc == SMTP_DANE_MATCH_EE || rc == SMTP_DANE_MATCH_TA || rc == SMTP_ERR_DANE ||
        rc == SMTP_ERR_SYNTAX || rc == SMTP_ERR_UNSUPPORTED);
  if (r.usage != 2 && r.usage != 3) CHECK(rc < 0);
  if (rc == SMTP_DANE_MATCH_EE) CHECK(r.usage == 3);
  if (rc == SMTP_DANE_MATCH_TA) CHECK(r.usage == 2 && n >= 2);
  /* the leaf itself as an exact DANE-EE record */
  r.usage = 3;
  r.selector = 0;
  r.matching = 0;
  r.data = chain[0];
  r.data_len = lens[0];
  rc = smtp_dane_match(&r, 1, chain, lens, n, names, 2);
  CHECK(rc == SMTP_DANE_MATCH_EE || rc == SMTP_ERR_SYNTAX || (rc == SMTP_ERR_DANE && lens[0] == 0));
  return 0;
}
