/* The PROXY protocol reader and writers (proxy.h; HAProxy's "PROXY
 * protocol" specification, versions 1 and 2), the endpoint helpers and
 * the trusted-network list (endpoint.h). Every vector is fed whole (with
 * the next layer's bytes behind it, which must be left alone), one octet at
 * a time and at random split points; every proper prefix of a good header
 * must be incomplete, never an error. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include <smtp/endpoint.h>
#include <smtp/proxy.h>

#include "hash.h"

#define S(x) x, sizeof(x) - 1
#define SIG "\r\n\r\n\0\r\nQUIT\n"

struct vec {
  const char *in;
  size_t len;
  int ok; /* 1 good, 0 refused */
  unsigned int flags;
  unsigned int version, command, transport;
  const char *src, *dst; /* text forms, NULL: family NONE */
  unsigned int sport, dport;
  const char *what;
};

#define V2_CRC_PRE SIG "\x21\x11\x00\x20" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04\x00\x19" TLV_AUTH "\x03\x00\x04"
#define V2_INET SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04\x00\x19"
#define V6A "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
#define V6B "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
#define TLV_AUTH "\x02\x00\x0a" "mx.example"
#define TLV_SSL "\x20\x00\x18" "\x01" "\x00\x00\x00\x00" "\x21\x00\x07" "TLSv1.3" "\x22\x00\x06" "client"
#define TLV_NOOP "\x04\x00\x02" "\x00\x00"
#define TLV_UID "\x05\x00\x03" "abc"
#define X10 "xxxxxxxxxx"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define Z10 "\0\0\0\0\0\0\0\0\0\0"
#define Z100 Z10 Z10 Z10 Z10 Z10 Z10 Z10 Z10 Z10 Z10

static const struct vec vecs[] = {
  /* version 1, section 2.1 */
  {S("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n"), 1, 0, 1, 1, 1, "192.0.2.1", "198.51.100.2", 56324, 25, "v1 TCP4"},
  {S("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"), 1, 0, 1, 1, 1, "2001:db8::1", "2001:db8::2", 1, 65535, "v1 TCP6"},
  {S("PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n"), 1, 0, 1, 1, 1, "0.0.0.0", "255.255.255.255", 0, 0, "v1 port 0"},
  {S("PROXY UNKNOWN\r\n"), 1, 0, 1, 1, 0, NULL, NULL, 0, 0, "v1 UNKNOWN"},
  {S("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), 1, 0, 1, 1, 0, NULL, NULL, 0, 0, "v1 UNKNOWN, rest ignored"},
  /* 107 octets exactly: "PROXY UNKNOWN " (14) + 91 + CRLF */
  {S("PROXY UNKNOWN " X10 X10 X10 X10 X10 X10 X10 X10 X10 "x\r\n"), 1, 0, 1, 1, 0, NULL, NULL, 0, 0, "v1 107 octets"},
  {S("PROXY UNKNOWN " X10 X10 X10 X10 X10 X10 X10 X10 X10 "xx\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 108 octets"},
  {S("PROXY UNKNOWN " X100 "\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 no CRLF within 107"},
  {S("HELO x\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "no header: SMTP first"},
  {S("EHLO x\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "no header"},
  {S("PROXX TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 wrong signature"},
  {S("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 lower case"},
  {S("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 bad family"},
  {S("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 bad protocol"},
  {S("PROXY TCP4 192.0.2.256 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 bad IPv4"},
  {S("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 short IPv4"},
  {S("PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 IPv6 under TCP4"},
  {S("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 IPv4 under TCP6"},
  {S("PROXY TCP6 2001:db8:::1 ::1 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 bad IPv6"},
  {S("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 port > 65535"},
  {S("PROXY TCP4 1.2.3.4 5.6.7.8 025 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 port leading zero"},
  {S("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 port sign"},
  {S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 port junk"},
  {S("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 double space"},
  {S("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 missing field"},
  {S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 extra field"},
  {S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 trailing space"},
  {S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 bare LF"},
  {S("PROXY TCP4 1.2.3.4\r 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 CR inside"},
  {S("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 NUL inside"},
  {S("PROXY \r\n"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v1 empty"},
  {S("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), 0, SMTP_PROXY_V2, 0, 0, 0, NULL, NULL, 0, 0, "v1 when only v2 is accepted"},
  /* version 2, section 2.2 */
  {S(V2_INET), 1, 0, 2, 1, 1, "192.0.2.1", "198.51.100.2", 56324, 25, "v2 INET STREAM"},
  {S(SIG "\x21\x12\x00\x0c" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04\x00\x19"), 1, 0, 2, 1, 2, "192.0.2.1", "198.51.100.2", 56324, 25, "v2 INET DGRAM"},
  {S(SIG "\x21\x21\x00\x24" V6A V6B "\x00\x01\xff\xff"), 1, 0, 2, 1, 1, "2001:db8::1", "2001:db8::2", 1, 65535, "v2 INET6"},
  /* PP2_TYPE_CRC32C: CRC-32C of the header with the field zero, big-endian
   * (the value below computed by an independent bitwise implementation) */
  {S(V2_CRC_PRE "\x43\xa3\xb4\xd9"), 1, 0, 2, 1, 1, "192.0.2.1", "198.51.100.2", 56324, 25, "v2 CRC32C good"},
  {S(V2_CRC_PRE "\x43\xa3\xb4\xd8"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 CRC32C mismatch"},
  {S(V2_CRC_PRE "\x00\x00\x00\x00"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 CRC32C zero (not filled in)"},
  {S(SIG "\x21\x11\x00\x20" "\xc0\x00\x02\x02" "\xc6\x33\x64\x02" "\xdc\x04\x00\x19" TLV_AUTH
     "\x03\x00\x04" "\x43\xa3\xb4\xd9"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 CRC32C, an address octet changed"},
  {S(SIG "\x21\x11\x00\x13" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04\x00\x19" "\x03\x00\x04" "\x43\xa3\xb4"),
   0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 CRC32C of 3 octets"},
  {S(SIG "\x21\x11\x00\x1a" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04\x00\x19" "\x03\x00\x05" "\x43\xa3\xb4\xd9\x00"),
   0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 CRC32C of 5 octets"},
  {S(SIG "\x20\x11\x00\x07" "\x03\x00\x04" "\x00\x00\x00\x01"), 1, 0, 2, 0, 1, NULL, NULL, 0, 0, "v2 LOCAL: records skipped unread, CRC32C too"},
  {S(SIG "\x20\x00\x00\x00"), 1, 0, 2, 0, 0, NULL, NULL, 0, 0, "v2 LOCAL (health check)"},
  {S(SIG "\x20\x11\x00\x05" "abcde"), 1, 0, 2, 0, 1, NULL, NULL, 0, 0, "v2 LOCAL, block skipped"},
  {S(SIG "\x21\x00\x00\x00"), 1, 0, 2, 1, 0, NULL, NULL, 0, 0, "v2 PROXY UNSPEC"},
  {S(SIG "\x21\x31\x00\xd8" "/src" Z100 "\0\0\0\0" "/dst" Z100 "\0\0\0\0"), 1, 0, 2, 1, 1, "unix", "unix", 0, 0, "v2 UNIX"},
  {S(V2_INET), 0, SMTP_PROXY_V1, 0, 0, 0, NULL, NULL, 0, 0, "v2 when only v1 is accepted"},
  {S("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 wrong signature"},
  {S("\r\n\r\n\x01"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 wrong signature early"},
  {S(SIG "\x11\x11\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 version 1"},
  {S(SIG "\x31\x11\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 version 3"},
  {S(SIG "\x22\x11\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 command 2"},
  {S(SIG "\x21\x41\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 family 4"},
  {S(SIG "\x21\x13\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 transport 3"},
  {S(SIG "\x21\x11\x00\x0b" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 INET block short"},
  {S(SIG "\x21\x21\x00\x0c" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 INET6 with an INET-sized block"},
  {S(SIG "\x21\x31\x00\x24" V6A V6B "\x00\x01\xff\xff"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 UNIX with an INET6-sized block"},
  {S(SIG "\x21\x11\x00\x0f" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19" "\x02\x00\x05"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 record overruns the declared length"},
  {S(SIG "\x21\x11\x00\x0e" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19" "\x02\x00"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 partial record header"},
  {S(SIG "\x21\x11\x00\x11" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19" "\x02\x00\x01" "a" "\x04"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 trailing octet after records"},
  {S(SIG "\x21\x11\x00\x12" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19" "\x20\x00\x03" "\x01\x00\x00"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 SSL record under 5 octets"},
  {S(SIG "\x21\x11\x00\x17" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19" "\x20\x00\x08" "\x01\x00\x00\x00\x00" "\x21\x00\x09"), 0, 0, 0, 0, 0, NULL, NULL, 0, 0, "v2 SSL sub-record overruns"},
};

/* the INET block (12) and records of 13 + 27 + 5 + 6 octets: 63 */
static const char v2_tlvs[] = SIG "\x21\x11\x00\x3f" "\xc0\x00\x02\x01\xc6\x33\x64\x02\xdc\x04\x00\x19" TLV_AUTH TLV_SSL TLV_NOOP TLV_UID;

static uint32_t rng = 12345;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

/* Feed @in in pieces given by @mode (0 whole, 1 one octet, 2 random) with
 * @tail behind it; returns the final state, *consumed the octets taken. */
static int feed(smtp_proxy_reader *r, unsigned int flags, const char *in, size_t len, int mode,
                size_t *consumed) {
  char buf[1024];
  const char tail[] = "EHLO client.example\r\n";
  size_t total = len + sizeof tail - 1, off = 0;
  assert_true(total <= sizeof buf);
  memcpy(buf, in, len);
  memcpy(buf + len, tail, sizeof tail - 1);
  smtp_proxy_reader_init(r, flags);
  *consumed = 0;
  while (off < total) {
    size_t n = mode == 0 ? total - off : mode == 1 ? 1 : 1 + rnd() % 40;
    smtp_ssize k;
    if (n > total - off) n = total - off;
    k = smtp_proxy_reader_feed(r, buf + off, n);
    if (k < 0) return (int)k;
    assert_true((size_t)k <= n);
    *consumed += (size_t)k;
    if (smtp_proxy_reader_done(r) == 1) {
      /* never a byte past the header, and nothing more afterwards */
      assert_int_equal(smtp_proxy_reader_feed(r, buf + off + (size_t)k, n - (size_t)k), 0);
      return 1;
    }
    assert_int_equal((size_t)k, n);
    off += n;
  }
  return smtp_proxy_reader_done(r);
}

static void check_ep(const smtp_endpoint *e, const char *text, unsigned int port) {
  char b[SMTP_ENDPOINT_TEXT_MAX];
  if (!text) {
    assert_int_equal(e->family, SMTP_AF_NONE);
    return;
  }
  assert_true(smtp_endpoint_format(e, b, sizeof b) > 0);
  assert_string_equal(b, text);
  assert_int_equal(e->port, port);
  assert_int_equal(e->origin, SMTP_ORIGIN_PROXY);
}

static void run_vec(const struct vec *v, size_t i, const char *in, size_t len) {
  for (int mode = 0; mode < 3; mode++) {
    for (int rep = 0; rep < (mode == 2 ? 30 : 1); rep++) {
      smtp_proxy_reader r;
      size_t used = 0;
      int st = feed(&r, v->flags, in, len, mode, &used);
      if (!v->ok) {
        if (st != SMTP_ERR_PROXY_HEADER)
          fail_msg("vector %zu (%s) mode %d: state %d, want refusal", i, v->what, mode, st);
        assert_int_equal(smtp_proxy_reader_done(&r), SMTP_ERR_PROXY_HEADER);
        assert_int_equal(smtp_proxy_reader_feed(&r, "x", 1), SMTP_ERR_PROXY_HEADER); /* sticky */
        continue;
      }
      if (st != 1) fail_msg("vector %zu (%s) mode %d: state %d", i, v->what, mode, st);
      assert_int_equal(used, len);
      smtp_proxy_info info;
      assert_int_equal(smtp_proxy_reader_info(&r, &info), 0);
      assert_int_equal(info.version, v->version);
      assert_int_equal(info.command, v->command);
      assert_int_equal(info.transport, v->transport);
      assert_int_equal(info.header_len, len);
      check_ep(&info.source, v->src, v->sport);
      check_ep(&info.destination, v->dst, v->dport);
    }
  }
  if (v->ok) {
    /* every proper prefix (a truncated header) is incomplete, not an error */
    for (size_t k = 0; k < len; k++) {
      smtp_proxy_reader r;
      smtp_proxy_reader_init(&r, v->flags);
      assert_int_equal(smtp_proxy_reader_feed(&r, in, k), (smtp_ssize)k);
      assert_int_equal(smtp_proxy_reader_done(&r), 0);
      smtp_proxy_info info;
      assert_int_equal(smtp_proxy_reader_info(&r, &info), SMTP_ERR_INVALID_STATE);
    }
  }
}

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    run_vec(&vecs[i], i, vecs[i].in, vecs[i].len);
  }
}

static void test_records(void **state) {
  static const struct vec v = {v2_tlvs, sizeof v2_tlvs - 1, 1, 0, 2, 1, 1, "192.0.2.1", "198.51.100.2",
                               56324, 25, "v2 with records"};
  smtp_proxy_reader r;
  size_t used, len;
  const uint8_t *val;
  unsigned int type;
  smtp_proxy_info info;
  (void)state;
  run_vec(&v, 0, v.in, v.len);
  assert_int_equal(feed(&r, 0, v.in, v.len, 1, &used), 1);
  assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_TYPE_AUTHORITY, &val, &len), 0);
  assert_int_equal(len, 10);
  assert_memory_equal(val, "mx.example", 10);
  assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_TYPE_SSL, &val, &len), 0);
  assert_int_equal(len, 24);
  assert_int_equal(val[0], SMTP_PP2_CLIENT_SSL);
  assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_SUBTYPE_SSL_VERSION, &val, &len), 0);
  assert_int_equal(len, 7);
  assert_memory_equal(val, "TLSv1.3", 7);
  assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_SUBTYPE_SSL_CN, &val, &len), 0);
  assert_memory_equal(val, "client", 6);
  assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_SUBTYPE_SSL_CIPHER, &val, &len), SMTP_ERR_NOT_FOUND);
  assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_TYPE_UNIQUE_ID, &val, &len), 0);
  assert_memory_equal(val, "abc", 3);
  assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_TYPE_NETNS, &val, &len), SMTP_ERR_NOT_FOUND);
  assert_int_equal(smtp_proxy_reader_tlv_at(&r, 3, &type, &val, &len), 0);
  assert_int_equal(type, SMTP_PP2_TYPE_UNIQUE_ID);
  assert_int_equal(smtp_proxy_reader_tlv_at(&r, 4, &type, &val, &len), SMTP_ERR_NOT_FOUND);
  assert_int_equal(smtp_proxy_reader_info(&r, &info), 0);
  assert_int_equal(info.tlv_truncated, 0);
}

/* A record larger than the store is skipped (counted), later ones kept;
 * the declared length may be large (section 2.2: up to 65535). */
static void test_large_records(void **state) {
  static uint8_t big[16 + 12 + 3 + 3000 + 13];
  smtp_proxy_reader r;
  smtp_proxy_info info;
  const uint8_t *val;
  size_t len, off = 0;
  (void)state;
  memcpy(big, V2_INET, 28);
  big[14] = (uint8_t)((sizeof big - 16) >> 8);
  big[15] = (uint8_t)((sizeof big - 16) & 0xff);
  big[28] = SMTP_PP2_TYPE_UNIQUE_ID;
  big[29] = 3000 >> 8;
  big[30] = 3000 & 0xff;
  memset(big + 31, 'u', 3000);
  memcpy(big + 31 + 3000, TLV_AUTH, 13);
  for (int mode = 0; mode < 3; mode++) {
    smtp_proxy_reader_init(&r, 0);
    off = 0;
    while (off < sizeof big) {
      size_t n = mode == 0 ? sizeof big : mode == 1 ? 1 : 1 + rnd() % 500;
      if (n > sizeof big - off) n = sizeof big - off;
      assert_int_equal(smtp_proxy_reader_feed(&r, big + off, n), (smtp_ssize)n);
      off += n;
    }
    assert_int_equal(smtp_proxy_reader_done(&r), 1);
    assert_int_equal(smtp_proxy_reader_info(&r, &info), 0);
    assert_int_equal(info.tlv_truncated, 1);
    assert_int_equal(info.header_len, sizeof big);
    assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_TYPE_UNIQUE_ID, &val, &len), SMTP_ERR_NOT_FOUND);
    assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_TYPE_AUTHORITY, &val, &len), 0);
    assert_memory_equal(val, "mx.example", 10);
  }
  /* the same header with its length one short: the last record overruns */
  big[15] = (uint8_t)(big[15] - 1);
  smtp_proxy_reader_init(&r, 0);
  assert_int_equal(smtp_proxy_reader_feed(&r, big, sizeof big), SMTP_ERR_PROXY_HEADER);
}

static void test_unix_paths(void **state) {
  static const char h[] = SIG "\x21\x31\x00\xd8" "/src" Z100 "\0\0\0\0" "/dst" Z100 "\0\0\0\0";
  smtp_proxy_reader r;
  size_t len;
  const char *p;
  (void)state;
  smtp_proxy_reader_init(&r, 0);
  assert_null(smtp_proxy_reader_unix_path(&r, 0, &len));
  assert_int_equal(smtp_proxy_reader_feed(&r, h, sizeof h - 1), (smtp_ssize)(sizeof h - 1));
  p = smtp_proxy_reader_unix_path(&r, 0, &len);
  assert_non_null(p);
  assert_int_equal(len, 4);
  assert_memory_equal(p, "/src", 4);
  p = smtp_proxy_reader_unix_path(&r, 1, &len);
  assert_memory_equal(p, "/dst", 4);
}

static void test_writers(void **state) {
  smtp_endpoint a, b;
  char buf[256];
  smtp_proxy_reader r;
  smtp_proxy_info info;
  const uint8_t *val;
  size_t len;
  int n;
  smtp_proxy_tlv t[2];
  (void)state;
  assert_int_equal(smtp_endpoint_parse(&a, S("192.0.2.1"), 56324), 0);
  assert_int_equal(smtp_endpoint_parse(&b, S("198.51.100.2"), 25), 0);
  n = smtp_proxy_write_v1(buf, sizeof buf, &a, &b);
  assert_int_equal(n, (int)strlen("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n"));
  assert_memory_equal(buf, "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n", (size_t)n);
  assert_int_equal(smtp_proxy_write_v1(buf, (size_t)n - 1, &a, &b), SMTP_ERR_BUFFER_TOO_SMALL);
  n = smtp_proxy_write_v2(buf, sizeof buf, SMTP_PROXY_CMD_PROXY, &a, &b, NULL, 0);
  assert_int_equal(n, 28);
  assert_memory_equal(buf, V2_INET, 28);
  assert_int_equal(smtp_proxy_write_v2(buf, 27, SMTP_PROXY_CMD_PROXY, &a, &b, NULL, 0), SMTP_ERR_BUFFER_TOO_SMALL);
  n = smtp_proxy_write_v1(buf, sizeof buf, NULL, &b);
  assert_memory_equal(buf, "PROXY UNKNOWN\r\n", (size_t)n);
  {
    smtp_endpoint u, v6;
    memset(&u, 0, sizeof u);
    u.family = SMTP_AF_UNIX;
    n = smtp_proxy_write_v1(buf, sizeof buf, &u, &b);
    assert_memory_equal(buf, "PROXY UNKNOWN\r\n", (size_t)n);
    assert_int_equal(smtp_endpoint_parse(&v6, S("2001:db8::5"), 4444), 0);
    n = smtp_proxy_write_v1(buf, sizeof buf, &v6, &b);
    assert_int_equal(n, (int)strlen("PROXY TCP6 2001:db8::5 ::ffff:198.51.100.2 4444 25\r\n"));
    assert_memory_equal(buf, "PROXY TCP6 2001:db8::5 ::ffff:198.51.100.2 4444 25\r\n", (size_t)n);
  }
  n = smtp_proxy_write_v2(buf, sizeof buf, SMTP_PROXY_CMD_LOCAL, NULL, NULL, NULL, 0);
  assert_int_equal(n, 16);
  assert_memory_equal(buf, SIG "\x20\x00\x00\x00", 16);
  /* mixed families: INET6 with the IPv4 end mapped; records appended */
  assert_int_equal(smtp_endpoint_parse(&b, S("IPv6:2001:db8::2"), 587), 0);
  t[0].type = SMTP_PP2_TYPE_AUTHORITY;
  t[0].len = 10;
  t[0].value = "mx.example";
  t[1].type = SMTP_PP2_TYPE_NOOP;
  t[1].len = 0;
  t[1].value = NULL;
  n = smtp_proxy_write_v2(buf, sizeof buf, SMTP_PROXY_CMD_PROXY, &a, &b, t, 2);
  assert_int_equal(n, 16 + 36 + 13 + 3);
  smtp_proxy_reader_init(&r, 0);
  assert_int_equal(smtp_proxy_reader_feed(&r, buf, (size_t)n), n);
  assert_int_equal(smtp_proxy_reader_info(&r, &info), 0);
  assert_int_equal(info.source.family, SMTP_AF_INET6);
  assert_memory_equal(info.source.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01", 16);
  assert_int_equal(info.destination.port, 587);
  assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_TYPE_AUTHORITY, &val, &len), 0);
  assert_memory_equal(val, "mx.example", 10);
  t[0].type = 256;
  assert_int_equal(smtp_proxy_write_v2(buf, sizeof buf, 1, &a, &b, t, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_proxy_write_v2(buf, sizeof buf, 2, &a, &b, NULL, 0), SMTP_ERR_INVALID_ARGUMENT);
  /* v1 with IPv6 round trip */
  assert_int_equal(smtp_endpoint_parse(&a, S("2001:db8::1"), 1), 0);
  n = smtp_proxy_write_v1(buf, sizeof buf, &a, &b);
  assert_memory_equal(buf, "PROXY TCP6 2001:db8::1 2001:db8::2 1 587\r\n", (size_t)n);
}

static void test_endpoints(void **state) {
  smtp_endpoint e;
  char b[SMTP_ENDPOINT_TEXT_MAX];
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
  struct sockaddr_un un;
  (void)state;
  assert_int_equal(smtp_endpoint_parse(&e, S("192.0.2.1"), 25), 0);
  assert_int_equal(e.family, SMTP_AF_INET);
  assert_int_equal(e.origin, SMTP_ORIGIN_APPLICATION);
  assert_int_equal(smtp_endpoint_parse(&e, S("ipv6:::1"), 25), 0);
  assert_int_equal(e.family, SMTP_AF_INET6);
  assert_int_equal(smtp_endpoint_format(&e, b, sizeof b), 3);
  assert_string_equal(b, "::1");
  assert_int_equal(smtp_endpoint_format(&e, b, 3), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_endpoint_parse(&e, S("IPv6:1.2.3.4"), 25), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_endpoint_parse(&e, S("1.2.3.4 "), 25), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_endpoint_parse(&e, S("1.2.3.4\0"), 25), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_endpoint_parse(&e, S(""), 25), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_endpoint_parse(&e, S("1.2.3.4"), 65536), SMTP_ERR_INVALID_ARGUMENT);
  memset(&in, 0, sizeof in);
  in.sin_family = AF_INET;
  in.sin_port = htons(2525);
  in.sin_addr.s_addr = htonl(0x7f000001);
  assert_int_equal(smtp_endpoint_from_sockaddr(&e, &in, sizeof in), 0);
  assert_int_equal(e.port, 2525);
  assert_int_equal(e.origin, SMTP_ORIGIN_TRANSPORT);
  smtp_endpoint_format(&e, b, sizeof b);
  assert_string_equal(b, "127.0.0.1");
  assert_int_equal(smtp_endpoint_from_sockaddr(&e, &in, sizeof in - 1), SMTP_ERR_INVALID_ARGUMENT);
  memset(&in6, 0, sizeof in6);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(1);
  assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.9", &in6.sin6_addr), 1);
  assert_int_equal(smtp_endpoint_from_sockaddr(&e, &in6, sizeof in6), 0);
  assert_int_equal(e.family, SMTP_AF_INET); /* mapped: recorded as IPv4 */
  smtp_endpoint_format(&e, b, sizeof b);
  assert_string_equal(b, "192.0.2.9");
  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  assert_int_equal(smtp_endpoint_from_sockaddr(&e, &un, sizeof un), 0);
  assert_int_equal(e.family, SMTP_AF_UNIX);
  smtp_endpoint_format(&e, b, sizeof b);
  assert_string_equal(b, "unix");
}

static void test_cidr(void **state) {
  smtp_cidr_list *l;
  smtp_endpoint e;
  (void)state;
  assert_int_equal(smtp_cidr_list_new(&l, NULL), 0);
  assert_int_equal(smtp_endpoint_parse(&e, S("10.1.2.3"), 0), 0);
  assert_int_equal(smtp_cidr_list_match(l, &e), 0); /* empty: nobody */
  assert_int_equal(smtp_cidr_list_add(l, "10.0.0.0/8"), 0);
  assert_int_equal(smtp_cidr_list_add(l, "192.0.2.7"), 0);
  assert_int_equal(smtp_cidr_list_add(l, "2001:db8::/32"), 0);
  assert_int_equal(smtp_cidr_list_add(l, "10.255.255.255/31"), 0); /* host bits ignored */
  assert_int_equal(smtp_cidr_list_count(l), 4);
  assert_int_equal(smtp_cidr_list_match(l, &e), 1);
  assert_int_equal(smtp_endpoint_parse(&e, S("11.0.0.1"), 0), 0);
  assert_int_equal(smtp_cidr_list_match(l, &e), 0);
  assert_int_equal(smtp_endpoint_parse(&e, S("192.0.2.7"), 0), 0);
  assert_int_equal(smtp_cidr_list_match(l, &e), 1);
  assert_int_equal(smtp_endpoint_parse(&e, S("192.0.2.8"), 0), 0);
  assert_int_equal(smtp_cidr_list_match(l, &e), 0);
  assert_int_equal(smtp_endpoint_parse(&e, S("::ffff:10.9.9.9"), 0), 0);
  assert_int_equal(smtp_cidr_list_match(l, &e), 1); /* mapped IPv4 */
  assert_int_equal(smtp_endpoint_parse(&e, S("2001:db8:ffff::1"), 0), 0);
  assert_int_equal(smtp_cidr_list_match(l, &e), 1);
  assert_int_equal(smtp_endpoint_parse(&e, S("2001:db9::1"), 0), 0);
  assert_int_equal(smtp_cidr_list_match(l, &e), 0);
  memset(&e, 0, sizeof e);
  e.family = SMTP_AF_UNIX;
  assert_int_equal(smtp_cidr_list_match(l, &e), 0);
  assert_int_equal(smtp_cidr_list_add(l, "unix"), 0);
  assert_int_equal(smtp_cidr_list_match(l, &e), 1);
  assert_int_equal(smtp_cidr_list_add(l, "10.0.0.0/33"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_cidr_list_add(l, "::/129"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_cidr_list_add(l, "10.0.0.0/"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_cidr_list_add(l, "10.0.0.0/08"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_cidr_list_add(l, "10.0.0.0/8x"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_cidr_list_add(l, "10.0.0/8"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_cidr_list_add(l, "example.org"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_cidr_list_add(l, "0.0.0.0/0"), 0);
  assert_int_equal(smtp_endpoint_parse(&e, S("203.0.113.1"), 0), 0);
  assert_int_equal(smtp_cidr_list_match(l, &e), 1);
  smtp_cidr_list_del(l);
  smtp_cidr_list_del(NULL);
}

/* CRC-32C itself: RFC 3720 B.4 (its CRC octets are the value's
 * little-endian form), the common check value, and pieces of any size. */
static void test_crc32c(void **state) {
  static const uint8_t pdu[48] = {0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  0x14, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x14, 0, 0, 0, 0x18,
                                  0x28, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0};
  uint8_t b[32];
  uint32_t c;
  (void)state;
  memset(b, 0, sizeof b);
  assert_int_equal(smtp__crc32c(0, b, 32), 0x8a9136aau); /* 32 zero octets: aa 36 91 8a */
  memset(b, 0xff, sizeof b);
  assert_int_equal(smtp__crc32c(0, b, 32), 0x62a8ab43u); /* 32 0xff: 43 ab a8 62 */
  for (int i = 0; i < 32; i++) b[i] = (uint8_t)i;
  assert_int_equal(smtp__crc32c(0, b, 32), 0x46dd794eu); /* incrementing: 4e 79 dd 46 */
  for (int i = 0; i < 32; i++) b[i] = (uint8_t)(31 - i);
  assert_int_equal(smtp__crc32c(0, b, 32), 0x113fdb5cu); /* decrementing: 5c db 3f 11 */
  assert_int_equal(smtp__crc32c(0, pdu, sizeof pdu), 0xd9963a56u); /* iSCSI read PDU: 56 3a 96 d9 */
  assert_int_equal(smtp__crc32c(0, "123456789", 9), 0xe3069283u);
  assert_int_equal(smtp__crc32c(0, NULL, 0), 0);
  for (size_t k = 0; k <= sizeof pdu; k++) {
    c = smtp__crc32c(0, pdu, k);
    assert_int_equal(smtp__crc32c(c, pdu + k, sizeof pdu - k), 0xd9963a56u);
  }
}

/* The writer fills in a CRC32C record; the reader accepts what it wrote
 * and refuses it with any single octet changed. */
static void test_crc32c_writer(void **state) {
  smtp_endpoint src, dst;
  smtp_proxy_tlv t[3] = {{SMTP_PP2_TYPE_AUTHORITY, 10, "mx.example"}, {SMTP_PP2_TYPE_CRC32C, 4, NULL},
                         {SMTP_PP2_TYPE_UNIQUE_ID, 3, "abc"}};
  uint8_t buf[128];
  int n;
  (void)state;
  assert_int_equal(smtp_endpoint_parse(&src, "2001:db8::1", 11, 1234), 0);
  assert_int_equal(smtp_endpoint_parse(&dst, "192.0.2.25", 10, 25), 0);
  n = smtp_proxy_write_v2(buf, sizeof buf, SMTP_PROXY_CMD_PROXY, &src, &dst, t, 3);
  assert_int_equal(n, 16 + 36 + 13 + 7 + 6);
  {
    struct vec v = {(const char *)buf, (size_t)n, 1, 0, 2, 1, 1, "2001:db8::1", "::ffff:192.0.2.25", 1234, 25,
                    "written with CRC32C"};
    smtp_proxy_reader r;
    size_t used, len;
    const uint8_t *val;
    run_vec(&v, 0, v.in, v.len);
    assert_int_equal(feed(&r, 0, v.in, v.len, 0, &used), 1);
    assert_int_equal(smtp_proxy_reader_tlv(&r, SMTP_PP2_TYPE_CRC32C, &val, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(val, buf + 16 + 36 + 13 + 3, 4);
  }
  /* past the signature any change is caught, except PROXY turned LOCAL
   * (octet 12): a LOCAL block is discarded unread and the connection's own
   * endpoints are used (section 2.2), and the checksum record's own type
   * octet (65: it is then another record and there is no checksum) */
  for (int i = 13; i < n; i++) {
    smtp_proxy_reader r;
    size_t used;
    if (i == 16 + 36 + 13) continue;
    buf[i] ^= 0x01;
    if (feed(&r, 0, (const char *)buf, (size_t)n, 0, &used) != SMTP_ERR_PROXY_HEADER) fail_msg("octet %d", i);
    buf[i] ^= 0x01;
  }
  t[1].len = 3;
  assert_int_equal(smtp_proxy_write_v2(buf, sizeof buf, SMTP_PROXY_CMD_PROXY, &src, &dst, t, 3),
                   SMTP_ERR_INVALID_ARGUMENT);
  t[1].len = 4;
  t[0] = t[1];
  assert_int_equal(smtp_proxy_write_v2(buf, sizeof buf, SMTP_PROXY_CMD_PROXY, &src, &dst, t, 3),
                   SMTP_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),    cmocka_unit_test(test_records),
      cmocka_unit_test(test_large_records), cmocka_unit_test(test_unix_paths),
      cmocka_unit_test(test_writers),    cmocka_unit_test(test_endpoints),
      cmocka_unit_test(test_cidr),       cmocka_unit_test(test_crc32c),
      cmocka_unit_test(test_crc32c_writer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
