/* DNS answers (RFC 1035 4.1) and the resolver adapters: the wire helpers,
 * the strict parser (compression, CNAME chains, bounds, DNSSEC state) and
 * the scripted adapter (delays, failures, bogus answers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/resolver.h>

#include "dns.h"

static void test_names(void **state) {
  unsigned char w[300];
  (void)state;
  assert_int_equal(smtp__dns_name_to_wire("mx.example.com", w, sizeof w), 16);
  assert_memory_equal(w, "\x02mx\x07" "example\x03" "com\x00", 16);
  assert_int_equal(smtp__dns_name_to_wire("mx.example.com.", w, sizeof w), 16);
  assert_int_equal(smtp__dns_name_to_wire(".", w, sizeof w), 1); /* the root */
  assert_int_equal(smtp__dns_name_to_wire("", w, sizeof w), 1);
  assert_int_equal(smtp__dns_name_to_wire("a..b", w, sizeof w), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp__dns_name_to_wire("a..", w, sizeof w), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp__dns_name_to_wire(".a", w, sizeof w), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp__dns_name_to_wire("a b", w, sizeof w), SMTP_ERR_INVALID_ARGUMENT);
  {
    char l63[80], l64[80], big[400];
    memset(l63, 'a', 63);
    l63[63] = 0;
    memset(l64, 'a', 64);
    l64[64] = 0;
    assert_int_equal(smtp__dns_name_to_wire(l63, w, sizeof w), 65); /* RFC 1035 2.3.4: 63 */
    assert_int_equal(smtp__dns_name_to_wire(l64, w, sizeof w), SMTP_ERR_INVALID_ARGUMENT);
    /* 4 x 63 labels = 256 octets in wire form: over 255 */
    for (int k = 0; k < 4; k++) {
      memcpy(big + k * 64, l63, 63);
      big[k * 64 + 63] = '.';
    }
    big[255] = 0;
    assert_int_equal(smtp__dns_name_to_wire(big, w, sizeof w), SMTP_ERR_INVALID_ARGUMENT);
    big[253] = 0; /* 63.63.63.61: 255 octets, the maximum */
    assert_int_equal(smtp__dns_name_to_wire(big, w, sizeof w), 255);
  }
}

static void test_ip_parse(void **state) {
  static const struct {
    const char *s;
    unsigned int len;
    const char *bytes;
  } v[] = {
      {"127.0.0.1", 4, "\x7f\x00\x00\x01"},
      {"255.255.255.255", 4, "\xff\xff\xff\xff"},
      {"256.0.0.1", 0, NULL},
      {"01.2.3.4", 0, NULL},
      {"1.2.3", 0, NULL},
      {"1.2.3.4.", 0, NULL},
      {"::1", 16, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"},
      {"::", 16, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"},
      {"2001:db8::1", 16, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"},
      {"1:2:3:4:5:6:7:8", 16, "\0\x01\0\x02\0\x03\0\x04\0\x05\0\x06\0\x07\0\x08"},
      {"::ffff:192.0.2.1", 16, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01"},
      {"1:2:3:4:5:6:7:8:9", 0, NULL},
      {"1::2::3", 0, NULL},
      {":1::", 0, NULL},
      {"1:", 0, NULL},
      {"12345::", 0, NULL},
      {"g::", 0, NULL},
  };
  (void)state;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    unsigned char out[16];
    unsigned int l = smtp__ip_parse(v[i].s, strlen(v[i].s), out);
    if (l != v[i].len) fail_msg("%s: %u want %u", v[i].s, l, v[i].len);
    if (l) assert_memory_equal(out, v[i].bytes, l);
  }
}

/* Build an answer by hand, then parse it. */
static size_t answer(unsigned char *buf, const char *qname, unsigned int qtype, unsigned int rcode,
                     int ad, const smtp__dns_wire_rr *rr, size_t n) {
  int len = smtp__dns_build_answer(0x1234, qname, qtype, rcode, ad, rr, n, buf, 65536);
  assert_true(len > 0);
  return (size_t)len;
}

static void test_parse_basic(void **state) {
  unsigned char *buf = malloc(65536);
  unsigned char rd1[300], rd2[300], rd3[300];
  smtp__dns_wire_rr rr[3];
  smtp_dns_result *r;
  size_t len;
  const smtp_dns_rr *x;
  (void)state;
  rr[0].owner = "Example.COM";
  rr[0].type = SMTP_DNS_MX;
  rr[0].rdata = rd1;
  rr[0].rdlen = (size_t)smtp__dns_rdata_from_text(SMTP_DNS_MX, "20 MX2.example.com", rd1, sizeof rd1);
  rr[1].owner = "example.com";
  rr[1].type = SMTP_DNS_MX;
  rr[1].rdata = rd2;
  rr[1].rdlen = (size_t)smtp__dns_rdata_from_text(SMTP_DNS_MX, "10 mx1.example.com", rd2, sizeof rd2);
  rr[2].owner = "other.example";
  rr[2].type = SMTP_DNS_MX;
  rr[2].rdata = rd3;
  rr[2].rdlen = (size_t)smtp__dns_rdata_from_text(SMTP_DNS_MX, "5 evil.example", rd3, sizeof rd3);
  len = answer(buf, "example.com", SMTP_DNS_MX, 0, 1, rr, 3);
  assert_int_equal(smtp_dns_parse(buf, len, "example.com", SMTP_DNS_MX, SMTP_DNS_SEC_FROM_AD, &r, NULL), 0);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_OK);
  assert_int_equal(smtp_dns_result_authenticated(r), 1); /* AD bit (RFC 4035 3.2.3) */
  assert_int_equal(smtp_dns_result_count(r), 2);         /* other owner ignored */
  x = smtp_dns_result_record(r, 0);
  assert_int_equal(x->preference, 20);
  assert_string_equal(x->target, "mx2.example.com"); /* lower-cased */
  assert_int_equal(x->ttl, 300);
  assert_null(smtp_dns_result_record(r, 2));
  smtp_dns_result_del(r);
  /* The same answer with the adapter's verdict: insecure ignores AD. */
  assert_int_equal(smtp_dns_parse(buf, len, "example.com", SMTP_DNS_MX, SMTP_DNS_SEC_INSECURE, &r, NULL), 0);
  assert_int_equal(smtp_dns_result_authenticated(r), 0);
  smtp_dns_result_del(r);
  assert_int_equal(smtp_dns_parse(buf, len, "example.com", SMTP_DNS_MX, SMTP_DNS_SEC_BOGUS, &r, NULL), 0);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_BOGUS);
  smtp_dns_result_del(r);
  /* A different question: malformed (RFC 1035 7.3: match the question). */
  assert_int_equal(smtp_dns_parse(buf, len, "example.org", SMTP_DNS_MX, 0, &r, NULL), 0);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_MALFORMED);
  smtp_dns_result_del(r);
  assert_int_equal(smtp_dns_parse(buf, len, "example.com", SMTP_DNS_A, 0, &r, NULL), 0);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_MALFORMED);
  smtp_dns_result_del(r);
  /* Every truncation of the message is malformed, never a crash. */
  for (size_t cut = 0; cut < len; cut++) {
    assert_int_equal(smtp_dns_parse(buf, cut, "example.com", SMTP_DNS_MX, 0, &r, NULL), 0);
    assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_MALFORMED);
    smtp_dns_result_del(r);
  }
  /* rcodes */
  len = answer(buf, "example.com", SMTP_DNS_MX, 3, 0, NULL, 0);
  smtp_dns_parse(buf, len, "example.com", SMTP_DNS_MX, 0, &r, NULL);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_NXDOMAIN);
  smtp_dns_result_del(r);
  len = answer(buf, "example.com", SMTP_DNS_MX, 2, 0, NULL, 0);
  smtp_dns_parse(buf, len, "example.com", SMTP_DNS_MX, 0, &r, NULL);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_TEMPFAIL);
  smtp_dns_result_del(r);
  len = answer(buf, "example.com", SMTP_DNS_MX, 0, 0, NULL, 0);
  smtp_dns_parse(buf, len, "example.com", SMTP_DNS_MX, 0, &r, NULL);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_NODATA);
  smtp_dns_result_del(r);
  buf[2] |= 0x02; /* TC: the adapter should have retried over TCP */
  smtp_dns_parse(buf, len, "example.com", SMTP_DNS_MX, 0, &r, NULL);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_TEMPFAIL);
  smtp_dns_result_del(r);
  free(buf);
}

static void test_parse_compression(void **state) {
  /* Hand-made: question example.com MX, answer owner = pointer to the
   * question name, MX target = "mx" + pointer. */
  static const unsigned char ok[] = {
      0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
      7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 15, 0, 1,
      0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 10, 2, 'm', 'x', 0xc0, 12};
  unsigned char bad[sizeof ok];
  smtp_dns_result *r;
  (void)state;
  assert_int_equal(smtp_dns_parse(ok, sizeof ok, "example.com", SMTP_DNS_MX, 0, &r, NULL), 0);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_OK);
  assert_string_equal(smtp_dns_result_record(r, 0)->target, "mx.example.com");
  smtp_dns_result_del(r);
  /* A pointer to itself (RFC 1035 4.1.4 allows only prior occurrences). */
  memcpy(bad, ok, sizeof ok);
  bad[sizeof ok - 1] = (unsigned char)(sizeof ok - 2);
  smtp_dns_parse(bad, sizeof ok, "example.com", SMTP_DNS_MX, 0, &r, NULL);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_MALFORMED);
  smtp_dns_result_del(r);
  /* A forward pointer. */
  memcpy(bad, ok, sizeof ok);
  bad[30] = 40;
  smtp_dns_parse(bad, sizeof ok, "example.com", SMTP_DNS_MX, 0, &r, NULL);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_MALFORMED);
  smtp_dns_result_del(r);
  /* rdlength past the end. */
  memcpy(bad, ok, sizeof ok);
  bad[40] = 9;
  smtp_dns_parse(bad, sizeof ok, "example.com", SMTP_DNS_MX, 0, &r, NULL);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_MALFORMED);
  smtp_dns_result_del(r);
  /* Not a response (QR clear). */
  memcpy(bad, ok, sizeof ok);
  bad[2] = 0x01;
  smtp_dns_parse(bad, sizeof ok, "example.com", SMTP_DNS_MX, 0, &r, NULL);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_MALFORMED);
  smtp_dns_result_del(r);
  /* Random single-byte corruption never crashes; seeded. */
  srand(17);
  for (int i = 0; i < 20000; i++) {
    memcpy(bad, ok, sizeof ok);
    bad[(size_t)rand() % sizeof ok] = (unsigned char)rand();
    bad[(size_t)rand() % sizeof ok] = (unsigned char)rand();
    assert_int_equal(smtp_dns_parse(bad, sizeof ok, "example.com", SMTP_DNS_MX, 0, &r, NULL), 0);
    smtp_dns_result_del(r);
  }
}

/* Run one lookup through the scripted adapter. */
static smtp_dns_result *look(const smtp_resolver *res, const char *name, unsigned int type) {
  smtp_dns_result *r = NULL;
  assert_int_equal(smtp_resolver_lookup(res, name, type, 2000, &r, NULL), 0);
  assert_non_null(r);
  return r;
}

static void test_scripted(void **state) {
  smtp_resolver res;
  smtp_dns_result *r;
  const smtp_dns_rr *x;
  (void)state;
  assert_int_equal(smtp_resolver_scripted_new(&res, NULL), 0);
  assert_int_equal(smtp_resolver_check(&res), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "example.com", SMTP_DNS_MX, "10 mx.example.com", SMTP_SCRIPTED_SECURE, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "mx.example.com", SMTP_DNS_A, "192.0.2.1", 0, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "mx.example.com", SMTP_DNS_AAAA, "2001:db8::25", 0, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "_25._tcp.mx.example.com", SMTP_DNS_TLSA, "3 1 1 0011aaff", SMTP_SCRIPTED_SECURE, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "_mta-sts.example.com", SMTP_DNS_TXT, "v=STSv1; id=20240101", 0, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "alias.example.com", SMTP_DNS_CNAME, "example.com", 0, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "loop1.example", SMTP_DNS_CNAME, "loop2.example", 0, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "loop2.example", SMTP_DNS_CNAME, "loop1.example", 0, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "null.example", SMTP_DNS_MX, "0 .", 0, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "fail.example", SMTP_DNS_MX, NULL, SMTP_SCRIPTED_SERVFAIL, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "slow.example", SMTP_DNS_MX, NULL, SMTP_SCRIPTED_TIMEOUT, 10), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "bogus.example", SMTP_DNS_MX, "10 mx.bogus.example", SMTP_SCRIPTED_BOGUS, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "broken.example", SMTP_DNS_MX, "10 mx.broken.example", SMTP_SCRIPTED_MALFORMED, 0), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "late.example", SMTP_DNS_A, "192.0.2.9", 0, 30), 0);
  assert_int_equal(smtp_resolver_scripted_add(&res, "x.example", SMTP_DNS_TLSA, "3 1 1 0g", 0, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_resolver_scripted_add(&res, "x.example", SMTP_DNS_A, "::1", 0, 0), SMTP_ERR_INVALID_ARGUMENT);

  r = look(&res, "example.com", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_OK);
  assert_int_equal(smtp_dns_result_authenticated(r), 1);
  assert_string_equal(smtp_dns_result_record(r, 0)->target, "mx.example.com");
  smtp_dns_result_del(r);
  r = look(&res, "mx.example.com", SMTP_DNS_AAAA);
  x = smtp_dns_result_record(r, 0);
  assert_int_equal(x->addr_len, 16);
  assert_int_equal(x->addr[15], 0x25);
  assert_int_equal(smtp_dns_result_authenticated(r), 0);
  smtp_dns_result_del(r);
  r = look(&res, "_25._tcp.mx.example.com", SMTP_DNS_TLSA);
  x = smtp_dns_result_record(r, 0);
  assert_int_equal(x->usage, 3);
  assert_int_equal(x->selector, 1);
  assert_int_equal(x->matching, 1);
  assert_int_equal(x->data_len, 4);
  assert_memory_equal(x->data, "\x00\x11\xaa\xff", 4);
  smtp_dns_result_del(r);
  r = look(&res, "_mta-sts.example.com", SMTP_DNS_TXT);
  x = smtp_dns_result_record(r, 0);
  assert_int_equal(x->data_len, 20);
  assert_memory_equal(x->data, "v=STSv1; id=20240101", 20);
  smtp_dns_result_del(r);
  /* CNAME followed (RFC 1034 3.6.2): the records of the target. */
  r = look(&res, "alias.example.com", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_OK);
  assert_string_equal(smtp_dns_result_name(r), "example.com");
  smtp_dns_result_del(r);
  r = look(&res, "loop1.example", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_MALFORMED);
  smtp_dns_result_del(r);
  r = look(&res, "null.example", SMTP_DNS_MX);
  assert_string_equal(smtp_dns_result_record(r, 0)->target, "");
  assert_int_equal(smtp_dns_result_record(r, 0)->preference, 0);
  smtp_dns_result_del(r);
  r = look(&res, "nowhere.example", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_NXDOMAIN);
  smtp_dns_result_del(r);
  r = look(&res, "mx.example.com", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_NODATA);
  smtp_dns_result_del(r);
  r = look(&res, "fail.example", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_TEMPFAIL);
  smtp_dns_result_del(r);
  r = look(&res, "slow.example", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_TIMEOUT);
  smtp_dns_result_del(r);
  r = look(&res, "bogus.example", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_BOGUS);
  smtp_dns_result_del(r);
  r = look(&res, "broken.example", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_MALFORMED);
  smtp_dns_result_del(r);
  /* A delay: pending first, then answered; the lookup's own limit wins. */
  {
    int id = res.query("late.example", SMTP_DNS_A, res.user_data);
    smtp_resolver_answer a;
    assert_true(id >= 0);
    assert_int_equal(res.answer(id, &a, res.user_data), SMTP_ERR_WOULDBLOCK);
    assert_true(res.timeout_ms(res.user_data) > 0);
    res.forget(id, res.user_data);
    assert_int_equal(res.answer(id, &a, res.user_data), SMTP_ERR_NOT_FOUND);
    assert_int_equal(smtp_resolver_lookup(&res, "late.example", SMTP_DNS_A, 5, &r, NULL), 0);
    assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_TIMEOUT);
    smtp_dns_result_del(r);
    r = look(&res, "late.example", SMTP_DNS_A);
    assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_OK);
    smtp_dns_result_del(r);
  }
  assert_true(smtp_resolver_scripted_queries(&res, SMTP_DNS_MX) >= 9);
  assert_int_equal(smtp_resolver_scripted_queries(&res, SMTP_DNS_TLSA), 1);
  smtp_resolver_close(&res);
  assert_int_equal(smtp_resolver_check(&res), SMTP_ERR_UNSUPPORTED);
}

/* Hundreds of MX records: all kept, in order (RFC 5321 5.1 leaves the
 * bound to the client; the parser keeps what the message holds). */
static void test_many_records(void **state) {
  smtp_resolver res;
  smtp_dns_result *r;
  char name[64], rd[80];
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  for (int i = 0; i < 600; i++) {
    snprintf(rd, sizeof rd, "%d mx%d.big.example", i % 7, i);
    assert_int_equal(smtp_resolver_scripted_add(&res, "big.example", SMTP_DNS_MX, rd, 0, 0), 0);
  }
  r = look(&res, "big.example", SMTP_DNS_MX);
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_OK);
  assert_int_equal(smtp_dns_result_count(r), 600);
  snprintf(name, sizeof name, "mx599.big.example");
  assert_string_equal(smtp_dns_result_record(r, 599)->target, name);
  smtp_dns_result_del(r);
  smtp_resolver_close(&res);
}

#if defined(SMTP_HAVE_CARES)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

/* A DNS server in the test process (UDP on 127.0.0.1): answers each query
 * by its name: "sec.example" MX with AD, "fail.example" SERVFAIL,
 * "mute.example" never. */
static void fake_dns_serve(int fd) {
  unsigned char q[512], a[1024], rd[300];
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t n;
  while ((n = recvfrom(fd, q, sizeof q, MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) > 12) {
    char name[256];
    size_t p = 12, o = 0;
    unsigned int type;
    smtp__dns_wire_rr rr;
    int len = -1;
    while (p < (size_t)n && q[p] && o + q[p] + 1 < sizeof name) {
      if (o) name[o++] = '.';
      memcpy(name + o, q + p + 1, q[p]);
      o += q[p];
      p += (size_t)q[p] + 1;
    }
    name[o] = 0;
    type = (unsigned int)q[p + 1] << 8 | q[p + 2];
    assert_true(q[3] & 0x20); /* AD asked for (RFC 6840 5.7) */
    assert_true(q[2] & 0x01); /* RD */
    if (strcmp(name, "sec.example") == 0) {
      rr.owner = name;
      rr.type = SMTP_DNS_MX;
      rr.rdata = rd;
      rr.rdlen = (size_t)smtp__dns_rdata_from_text(SMTP_DNS_MX, "10 mx.sec.example", rd, sizeof rd);
      len = smtp__dns_build_answer((uint16_t)(q[0] << 8 | q[1]), name, type, 0, 1, &rr, 1, a, sizeof a);
    } else if (strcmp(name, "fail.example") == 0) {
      len = smtp__dns_build_answer((uint16_t)(q[0] << 8 | q[1]), name, type, 2, 0, NULL, 0, a, sizeof a);
    }
    if (len > 0) sendto(fd, a, (size_t)len, 0, (struct sockaddr *)&from, fl);
    fl = sizeof from;
  }
}

/* Like smtp_resolver_lookup(), with the fake server served between waits. */
static smtp_dns_result *cares_look(const smtp_resolver *res, int fd, const char *name) {
  smtp_resolver_answer a;
  smtp_dns_result *r = NULL;
  int id = res->query(name, SMTP_DNS_MX, res->user_data);
  assert_true(id >= 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) { /* at most 3 s of wall time, however busy the machine */
    int rc = res->answer(id, &a, res->user_data);
    if (rc == 0) break;
    assert_int_equal(rc, SMTP_ERR_WOULDBLOCK);
    fake_dns_serve(fd);
    assert_int_equal(smtp_resolver_wait(res, 10), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > 3000) break;
  }
  assert_int_equal(res->answer(id, &a, res->user_data), 0);
  if (a.status == SMTP_DNS_OK)
    assert_int_equal(smtp_dns_parse(a.wire, a.len, name, SMTP_DNS_MX, a.security, &r, NULL), 0);
  else
    assert_int_equal(smtp_dns_result_failed(a.status, name, &r, NULL), 0);
  res->forget(id, res->user_data);
  return r;
}

static void test_cares_loopback(void **state) {
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  char server[64];
  smtp_resolver res;
  smtp_dns_result *r;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  (void)state;
  assert_true(fd >= 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  snprintf(server, sizeof server, "127.0.0.1:%u", ntohs(sa.sin_port));
  assert_int_equal(smtp_resolver_cares_new(&res, server, 400, NULL), 0);
  r = cares_look(&res, fd, "sec.example");
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_OK);
  assert_int_equal(smtp_dns_result_authenticated(r), 1); /* the AD bit */
  assert_string_equal(smtp_dns_result_record(r, 0)->target, "mx.sec.example");
  smtp_dns_result_del(r);
  r = cares_look(&res, fd, "fail.example");
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_TEMPFAIL);
  smtp_dns_result_del(r);
  r = cares_look(&res, fd, "mute.example"); /* bounded by the 400 ms limit */
  assert_int_equal(smtp_dns_result_status(r), SMTP_DNS_TIMEOUT);
  smtp_dns_result_del(r);
  /* a query forgotten while pending, then the adapter closed */
  assert_true(res.query("mute.example", SMTP_DNS_A, res.user_data) >= 0);
  res.forget(res.query("mute.example", SMTP_DNS_AAAA, res.user_data), res.user_data);
  smtp_resolver_close(&res);
  close(fd);
}
#endif

static void test_backends_optional(void **state) {
  smtp_resolver res;
  int rc;
  (void)state;
  rc = smtp_resolver_cares_new(&res, "127.0.0.1:53", 1000, NULL);
#if defined(SMTP_HAVE_CARES)
  assert_int_equal(rc, 0);
  smtp_resolver_close(&res);
  assert_int_equal(smtp_resolver_cares_new(&res, "127.0.0.1,127.0.0.2", 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
#else
  assert_int_equal(rc, SMTP_ERR_UNSUPPORTED);
#endif
  rc = smtp_resolver_unbound_new(&res, "127.0.0.1:53", NULL, 1000, NULL);
#if defined(SMTP_HAVE_UNBOUND)
  assert_int_equal(rc, 0);
  smtp_resolver_close(&res);
  assert_int_equal(smtp_resolver_unbound_new(&res, "127.0.0.1:x", NULL, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
#else
  assert_int_equal(rc, SMTP_ERR_UNSUPPORTED);
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),          cmocka_unit_test(test_ip_parse),
      cmocka_unit_test(test_parse_basic),    cmocka_unit_test(test_parse_compression),
      cmocka_unit_test(test_scripted),       cmocka_unit_test(test_many_records),
      cmocka_unit_test(test_backends_optional),
#if defined(SMTP_HAVE_CARES)
      cmocka_unit_test(test_cares_loopback),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
