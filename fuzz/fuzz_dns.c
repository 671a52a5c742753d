/* libFuzzer target: the DNS answer parser (smtp_dns_parse, RFC 1035 4.1).
 *
 * Input layout: byte 0 picks the question type (MX, A, AAAA, TXT, TLSA,
 * CNAME) and the DNSSEC state the adapter claims; the rest is the message,
 * parsed as the answer to "example.com". Checked invariants: the call
 * succeeds (only allocation can fail it), the status is a known value,
 * every record kept has the type asked for and field values within their
 * wire ranges (A 4 octets, AAAA 16, MX targets NUL-terminated and at most
 * 1020 characters, TLSA data within the message), a failed status keeps no
 * record, and a bogus verdict always yields SMTP_DNS_BOGUS. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/resolver.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const unsigned int types[6] = {SMTP_DNS_MX, SMTP_DNS_A, SMTP_DNS_AAAA,
                                        SMTP_DNS_TXT, SMTP_DNS_TLSA, SMTP_DNS_CNAME};
  smtp_dns_result *r = NULL;
  unsigned int type, sec;
  int st;
  if (size < 1) return 0;
  type = types[(data[0] & 0x0f) % 6];
  sec = (unsigned int)(data[0] >> 4) % 4;
  CHECK(smtp_dns_parse(data + 1, size - 1, "example.com", type, sec, &r, NULL) == 0);
  st = smtp_dns_result_status(r);
  CHECK(st >= SMTP_DNS_OK && st <= SMTP_DNS_MALFORMED);
  if (sec == SMTP_DNS_SEC_BOGUS) CHECK(st == SMTP_DNS_BOGUS);
  if (st != SMTP_DNS_OK) CHECK(smtp_dns_result_count(r) == 0);
  else CHECK(smtp_dns_result_count(r) > 0);
  CHECK(smtp_dns_result_count(r) <= size / 11);
  CHECK(strlen(smtp_dns_result_name(r)) <= 1020);
  for (size_t i = 0; i < smtp_dns_result_count(r); i++) {
    const smtp_dns_rr *x = smtp_dns_result_record(r, i);
    CHECK(x && x->type == type);
    switch (type) {
    case SMTP_DNS_A: CHECK(x->addr_len == 4); break;
    case SMTP_DNS_AAAA: CHECK(x->addr_len == 16); break;
    case SMTP_DNS_MX:
    case SMTP_DNS_CNAME: CHECK(x->target && strlen(x->target) <= 1020); break;
    case SMTP_DNS_TLSA:
      CHECK(x->usage <= 255 && x->selector <= 255 && x->matching <= 255 && x->data_len < size);
      break;
    case SMTP_DNS_TXT: CHECK(x->data_len < size); break;
    default: break;
    }
  }
  CHECK(smtp_dns_result_record(r, smtp_dns_result_count(r)) == NULL);
  smtp_dns_result_del(r);
  return 0;
}
