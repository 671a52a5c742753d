/* libFuzzer target: the MTA-STS parsers (RFC 8461 3.1 TXT record, 3.2
 * policy) and the cache text.
 *
 * Input layout: byte 0 bit 0 picks the TXT parsers (1: the _mta-sts record
 * and, on the same bytes, the _smtp._tls record of RFC 8460 3) or the
 * policy parser (0); the rest is the text. Checked invariants: the TXT parser gives a
 * 1..32-character alphanumeric id or fails; a parsed policy has a known
 * mode, max_age within one year, 1..256 mx patterns unless the mode is
 * none, each lower-case and matching itself (a "*." pattern matches one
 * more label in front); its cache text parses back to the same policy. */
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
  const char *in = (const char *)data + 1;
  size_t n;
  if (size < 1) return 0;
  n = size - 1;
  if (data[0] & 1) {
    char id[33];
    if (smtp_mta_sts_txt_parse(in, n, id, sizeof id) == 0) {
      size_t l = strlen(id);
      CHECK(l >= 1 && l <= 32);
      for (size_t i = 0; i < l; i++)
        CHECK((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z'));
    }
    {
      /* the same bytes as a _smtp._tls record (RFC 8460 3) */
      smtp_span u[4];
      size_t cnt = 0;
      int rc = smtp_tlsrpt_txt_parse(in, n, u, 4, &cnt);
      CHECK(rc == 0 || rc == SMTP_ERR_SYNTAX);
      if (rc == 0) {
        CHECK(n >= 16 && memcmp(in, "v=TLSRPTv1", 10) == 0);
        for (size_t i = 0; i < cnt && i < 4; i++) {
          CHECK(u[i].ptr >= in && u[i].len >= 6 && u[i].ptr + u[i].len <= in + n);
          CHECK(u[i].ptr[0] == 'm' || u[i].ptr[0] == 'M' || u[i].ptr[0] == 'h' || u[i].ptr[0] == 'H');
          for (size_t k = 0; k < u[i].len; k++)
            CHECK(u[i].ptr[k] > 0x20 && u[i].ptr[k] < 0x7f && u[i].ptr[k] != ',' && u[i].ptr[k] != ';');
        }
      } else {
        CHECK(cnt == 0);
      }
    }
    return 0;
  }
  {
    smtp_mta_sts_policy *p = NULL, *q = NULL;
    static char buf[80000];
    char id[33];
    int64_t t = 0;
    smtp_ssize c;
    int rc = smtp_mta_sts_policy_parse(in, n, &p, NULL);
    if (rc != 0) {
      CHECK(p == NULL);
      CHECK(rc == SMTP_ERR_SYNTAX || rc == SMTP_ERR_TOO_LONG);
      return 0;
    }
    CHECK(smtp_mta_sts_policy_mode(p) <= SMTP_MTA_STS_ENFORCE);
    CHECK(smtp_mta_sts_policy_max_age(p) <= 31557600u);
    CHECK(smtp_mta_sts_policy_mx_count(p) <= 256);
    if (smtp_mta_sts_policy_mode(p) != SMTP_MTA_STS_NONE) CHECK(smtp_mta_sts_policy_mx_count(p) >= 1);
    for (size_t i = 0; i < smtp_mta_sts_policy_mx_count(p); i++) {
      const char *m = smtp_mta_sts_policy_mx(p, i);
      char host[300];
      for (const char *k = m; *k; k++) CHECK(!(*k >= 'A' && *k <= 'Z'));
      if (m[0] == '*') {
        CHECK(strlen(m) < 290);
        host[0] = 'x';
        strcpy(host + 1, m + 1);
        CHECK(smtp_mta_sts_mx_match(p, host));
        CHECK(!smtp_mta_sts_mx_match(p, m + 2) || smtp_mta_sts_policy_mx_count(p) > 1);
      } else {
        CHECK(smtp_mta_sts_mx_match(p, m));
      }
    }
    c = smtp_mta_sts_cache_format(p, "fuzz1", 12345, buf, sizeof buf);
    CHECK(c > 0);
    CHECK(smtp_mta_sts_cache_parse(buf, (size_t)c, &q, id, sizeof id, &t, NULL) == 0);
    CHECK(t == 12345 && strcmp(id, "fuzz1") == 0);
    CHECK(smtp_mta_sts_policy_mode(q) == smtp_mta_sts_policy_mode(p));
    CHECK(smtp_mta_sts_policy_max_age(q) == smtp_mta_sts_policy_max_age(p));
    CHECK(smtp_mta_sts_policy_mx_count(q) == smtp_mta_sts_policy_mx_count(p));
    for (size_t i = 0; i < smtp_mta_sts_policy_mx_count(p); i++)
      CHECK(strcmp(smtp_mta_sts_policy_mx(p, i), smtp_mta_sts_policy_mx(q, i)) == 0);
    smtp_mta_sts_policy_del(q);
    smtp_mta_sts_policy_del(p);
  }
  return 0;
}
