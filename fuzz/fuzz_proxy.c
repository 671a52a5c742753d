/* libFuzzer target: the PROXY protocol reader (proxy.h).
 *
 * Input layout: byte 0 selects the accepted versions (bits 0-1) and the
 * split seed (the rest); the remaining bytes are the connection's first
 * octets. Checked invariants: the outcome (refused, incomplete, or complete
 * with the same consumed count and the same addresses and records) does
 * not depend on how the input is split; a complete header never consumes
 * past its end and its header_len equals what was consumed; v1 headers are
 * at most 107 octets; every record lies within the reader; a completed
 * header written back by the writers is read again with equal endpoints,
 * also with a PP2_TYPE_CRC32C record, which then catches a changed address
 * octet. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/proxy.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

struct outcome {
  int state;
  size_t used;
  smtp_proxy_info info;
};

static void run(const uint8_t *in, size_t len, unsigned int flags, unsigned int seed,
                smtp_proxy_reader *r, struct outcome *o) {
  size_t off = 0;
  smtp_proxy_reader_init(r, flags);
  o->used = 0;
  o->state = 0;
  while (off < len) {
    size_t n = seed ? 1 + (seed = seed * 1103515245u + 12345u) % 17 : len - off;
    smtp_ssize k;
    if (n > len - off) n = len - off;
    k = smtp_proxy_reader_feed(r, in + off, n);
    if (k < 0) {
      CHECK(k == SMTP_ERR_PROXY_HEADER);
      o->state = (int)k;
      return;
    }
    CHECK((size_t)k <= n);
    o->used += (size_t)k;
    if (smtp_proxy_reader_done(r) == 1) break;
    CHECK((size_t)k == n);
    off += n;
  }
  o->state = smtp_proxy_reader_done(r);
  if (o->state == 1) CHECK(smtp_proxy_reader_info(r, &o->info) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static smtp_proxy_reader a, b;
  struct outcome oa, ob;
  unsigned int flags, seed;
  if (size < 1) return 0;
  flags = data[0] & 3u;
  seed = (data[0] >> 2) | 1u;
  data++;
  size--;
  run(data, size, flags, 0, &a, &oa);
  run(data, size, flags, seed, &b, &ob);
  CHECK(oa.state == ob.state);
  if (oa.state != 1) {
    if (oa.state == 0) CHECK(oa.used == size);
    return 0;
  }
  CHECK(oa.used == ob.used && oa.used <= size);
  CHECK(oa.info.header_len == oa.used);
  CHECK(memcmp(&oa.info, &ob.info, sizeof oa.info) == 0);
  if (oa.info.version == 1) CHECK(oa.used <= SMTP_PROXY_V1_MAX);
  {
    unsigned int i, ta, tb;
    const uint8_t *va, *vb;
    size_t la, lb;
    for (i = 0; smtp_proxy_reader_tlv_at(&a, i, &ta, &va, &la) == 0; i++) {
      CHECK(smtp_proxy_reader_tlv_at(&b, i, &tb, &vb, &lb) == 0);
      CHECK(ta == tb && la == lb && memcmp(va, vb, la) == 0);
      CHECK(va >= (const uint8_t *)&a && va + la <= (const uint8_t *)(&a + 1));
    }
    CHECK(smtp_proxy_reader_tlv_at(&b, i, &tb, &vb, &lb) == SMTP_ERR_NOT_FOUND);
  }
  if (oa.info.command == SMTP_PROXY_CMD_PROXY &&
      (oa.info.source.family == SMTP_AF_INET || oa.info.source.family == SMTP_AF_INET6)) {
    uint8_t out[128];
    static const smtp_proxy_tlv crc = {SMTP_PP2_TYPE_CRC32C, 4, NULL};
    int n = smtp_proxy_write_v2(out, sizeof out, SMTP_PROXY_CMD_PROXY, &oa.info.source,
                                &oa.info.destination, NULL, 0);
    smtp_proxy_info again;
    CHECK(n > 0);
    smtp_proxy_reader_init(&b, SMTP_PROXY_V2);
    CHECK(smtp_proxy_reader_feed(&b, out, (size_t)n) == n);
    CHECK(smtp_proxy_reader_info(&b, &again) == 0);
    CHECK(memcmp(&again.source, &oa.info.source, sizeof again.source) == 0);
    CHECK(memcmp(&again.destination, &oa.info.destination, sizeof again.destination) == 0);
    /* with a checksum record: read back; one octet changed in the
     * addresses: refused */
    n = smtp_proxy_write_v2(out, sizeof out, SMTP_PROXY_CMD_PROXY, &oa.info.source,
                            &oa.info.destination, &crc, 1);
    CHECK(n > 0);
    smtp_proxy_reader_init(&b, SMTP_PROXY_V2);
    CHECK(smtp_proxy_reader_feed(&b, out, (size_t)n) == n);
    CHECK(smtp_proxy_reader_info(&b, &again) == 0);
    CHECK(memcmp(&again.source, &oa.info.source, sizeof again.source) == 0);
    out[16] ^= (uint8_t)(1u << (data[0] & 7u));
    smtp_proxy_reader_init(&b, SMTP_PROXY_V2);
    CHECK(smtp_proxy_reader_feed(&b, out, (size_t)n) == SMTP_ERR_PROXY_HEADER);
    n = smtp_proxy_write_v1((char *)out, sizeof out, &oa.info.source, &oa.info.destination);
    CHECK(n > 0 && n <= SMTP_PROXY_V1_MAX);
    smtp_proxy_reader_init(&b, SMTP_PROXY_V1);
    CHECK(smtp_proxy_reader_feed(&b, out, (size_t)n) == n);
    CHECK(smtp_proxy_reader_info(&b, &again) == 0);
    CHECK(memcmp(&again.source, &oa.info.source, sizeof again.source) == 0);
  }
  return 0;
}
