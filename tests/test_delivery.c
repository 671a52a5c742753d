/* Outbound delivery: MX order (RFC 5321 5.1), null MX (RFC 7505), address
 * order (RFC 8305 4), failover, per-recipient results, DANE (RFC 7672,
 * RFC 7671) and MTA-STS (RFC 8461), all through the scripted resolver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <smtp/delivery.h>
#include <smtp/tls.h>

#include "dane_certs.h"
#include "support/hex.h"

static uint32_t lcg_state;
static uint32_t lcg(void *ud) {
  (void)ud;
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return lcg_state >> 8 | lcg_state << 24;
}

static smtp_delivery_config cfg(unsigned int flags) {
  smtp_delivery_config c;
  memset(&c, 0, sizeof c);
  c.version = SMTP_DELIVERY_CONFIG_VERSION;
  c.flags = flags;
  c.random = lcg;
  return c;
}

static int resolve(smtp_delivery *d, const smtp_resolver *res) {
  int rc, rounds = 0;
  while ((rc = smtp_delivery_resolve(d)) == SMTP_ERR_WOULDBLOCK) {
    assert_int_equal(smtp_resolver_wait(res, 1000), 0);
    assert_true(++rounds < 100);
  }
  return rc;
}

/* A delivery to @p domain, with the recipient @p rcpt unless NULL,
 * resolved: resolve()'s result asserted to be @p want. */
static smtp_delivery *resolved(const char *domain, const char *rcpt, const smtp_resolver *res,
                               const smtp_delivery_config *c, int want) {
  smtp_delivery *d;
  smtp_delivery_new(&d, domain, res, c, NULL);
  if (rcpt) smtp_delivery_add_rcpt(d, rcpt);
  assert_int_equal(resolve(d, res), want);
  return d;
}

/* resolved() with no recipient, expected to succeed, and its first target
 * into @p t (asserted). */
static smtp_delivery *first_target(const char *domain, const smtp_resolver *res,
                                   const smtp_delivery_config *c, smtp_delivery_target *t) {
  smtp_delivery *d = resolved(domain, NULL, res, c, 0);
  assert_int_equal(smtp_delivery_next(d, t), 0);
  return d;
}

/* first_target(), the number of TLSA queries the resolver has answered
 * once the delivery is resolved asserted to be @p tlsa_queries. */
static smtp_delivery *first_dane_target(const char *domain, const smtp_resolver *res,
                                        const smtp_delivery_config *c, int tlsa_queries,
                                        smtp_delivery_target *t) {
  smtp_delivery *d = resolved(domain, NULL, res, c, 0);
  assert_int_equal(smtp_resolver_scripted_queries(res, SMTP_DNS_TLSA), tlsa_queries);
  assert_int_equal(smtp_delivery_next(d, t), 0);
  return d;
}

static void add(const smtp_resolver *r, const char *name, unsigned int type, const char *rd,
                unsigned int flags) {
  assert_int_equal(smtp_resolver_scripted_add(r, name, type, rd, flags, 0), 0);
}

/* Hosts in the order smtp_delivery_next() gives them, one per host. */
static size_t host_order(smtp_delivery *d, const char **hosts, size_t cap) {
  smtp_delivery_target t;
  size_t n = 0;
  while (n < cap && smtp_delivery_next(d, &t) == 0) {
    hosts[n++] = t.host;
    smtp_delivery_report(d, &t, SMTP_DELIVERY_TEMPFAIL);
  }
  return n;
}

static void test_mx_order(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(0);
  int seen[6] = {0};
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  add(&res, "example.com", SMTP_DNS_MX, "10 a.example.com", 0);
  add(&res, "example.com", SMTP_DNS_MX, "20 d.example.com", 0);
  add(&res, "example.com", SMTP_DNS_MX, "10 b.example.com", 0);
  add(&res, "example.com", SMTP_DNS_MX, "5 e.example.com", 0);
  add(&res, "example.com", SMTP_DNS_MX, "10 c.example.com", 0);
  for (const char *h = "abcde"; *h; h++) {
    char name[32], ip[32];
    snprintf(name, sizeof name, "%c.example.com", *h);
    snprintf(ip, sizeof ip, "192.0.2.%d", *h - 'a' + 1);
    add(&res, name, SMTP_DNS_A, ip, 0);
  }
  /* RFC 5321 5.1: preference order; equal preferences in random order:
   * over 200 seeds every one of the 6 orders of a, b, c appears. */
  for (uint32_t seed = 1; seed <= 200; seed++) {
    smtp_delivery *d;
    const char *order[8];
    lcg_state = seed;
    assert_int_equal(smtp_delivery_new(&d, "Example.COM.", &res, &c, NULL), 0);
    assert_int_equal(resolve(d, &res), 0);
    assert_int_equal(host_order(d, order, 8), 5);
    assert_string_equal(order[0], "e.example.com");
    assert_string_equal(order[4], "d.example.com");
    {
      int code = (order[1][0] - 'a') * 9 + (order[2][0] - 'a') * 3 + (order[3][0] - 'a');
      static const int perms[6] = {0 * 9 + 1 * 3 + 2, 0 * 9 + 2 * 3 + 1, 1 * 9 + 0 + 2,
                                   1 * 9 + 2 * 3 + 0, 2 * 9 + 0 + 1, 2 * 9 + 1 * 3 + 0};
      int k;
      for (k = 0; k < 6 && perms[k] != code; k++) {
      }
      assert_true(k < 6);
      seen[k]++;
    }
    smtp_delivery_del(d);
  }
  for (int k = 0; k < 6; k++) assert_true(seen[k] > 10);
  /* No random source: answer order among equals. */
  {
    smtp_delivery *d;
    const char *order[8];
    c.random = NULL;
    d = resolved("example.com", NULL, &res, &c, 0);
    host_order(d, order, 8);
    assert_string_equal(order[1], "a.example.com");
    assert_string_equal(order[2], "b.example.com");
    assert_string_equal(order[3], "c.example.com");
    smtp_delivery_del(d);
  }
  smtp_resolver_close(&res);
}

static void test_implicit_mx_cname_literal(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(0);
  smtp_delivery *d;
  smtp_delivery_target t;
  smtp_delivery_rcpt_result rr;
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  /* no MX: the domain itself (RFC 5321 5.1) */
  add(&res, "plain.example", SMTP_DNS_A, "192.0.2.7", 0);
  /* the MX answer through a CNAME: the target's MX (RFC 5321 5.1) */
  add(&res, "alias.example", SMTP_DNS_CNAME, "real.example", 0);
  add(&res, "real.example", SMTP_DNS_MX, "10 mx.real.example", 0);
  add(&res, "mx.real.example", SMTP_DNS_A, "192.0.2.8", 0);
  /* an MX naming an address: not used */
  add(&res, "lit.example", SMTP_DNS_MX, "5 192.0.2.99", 0);
  add(&res, "lit.example", SMTP_DNS_MX, "10 mx.lit.example", 0);
  add(&res, "mx.lit.example", SMTP_DNS_A, "192.0.2.9", 0);
  add(&res, "onlylit.example", SMTP_DNS_MX, "5 192.0.2.99", 0);
  add(&res, "noaddr.example", SMTP_DNS_MX, "5 mx.noaddr.example", 0);
  add(&res, "mx.noaddr.example", SMTP_DNS_TXT, "x", 0);

  d = first_target("plain.example", &res, &c, &t);
  assert_string_equal(t.host, "plain.example");
  assert_int_equal(t.preference, 0);
  assert_string_equal(t.addr_text, "192.0.2.7");
  assert_int_equal(t.port, 25);
  smtp_delivery_del(d);

  d = first_target("alias.example", &res, &c, &t);
  assert_string_equal(t.host, "mx.real.example");
  smtp_delivery_del(d);

  d = first_target("lit.example", &res, &c, &t);
  assert_string_equal(t.host, "mx.lit.example");
  smtp_delivery_report(d, &t, SMTP_DELIVERY_CONNECT_FAILED);
  assert_int_equal(smtp_delivery_next(d, &t), SMTP_ERR_NO_ROUTE);
  smtp_delivery_del(d);

  d = resolved("onlylit.example", "a@onlylit.example", &res, &c, SMTP_ERR_NO_ROUTE);
  smtp_delivery_rcpt(d, 0, &rr);
  assert_int_equal(rr.state, SMTP_DELIVERY_PERMANENT);
  smtp_delivery_del(d);

  d = resolved("noaddr.example", "a@noaddr.example", &res, &c, SMTP_ERR_NO_ROUTE);
  smtp_delivery_rcpt(d, 0, &rr);
  assert_int_equal(rr.state, SMTP_DELIVERY_PERMANENT);
  assert_int_equal(rr.code, 550);
  smtp_delivery_del(d);
  smtp_resolver_close(&res);
}

static void test_null_mx(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(0);
  smtp_delivery *d;
  smtp_delivery_target t;
  smtp_delivery_rcpt_result rr;
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  add(&res, "nomail.example", SMTP_DNS_MX, "0 .", 0);
  add(&res, "nomail.example", SMTP_DNS_A, "192.0.2.1", 0);
  smtp_delivery_new(&d, "nomail.example", &res, &c, NULL);
  assert_int_equal(smtp_delivery_add_rcpt(d, "a@nomail.example"), 0);
  assert_int_equal(smtp_delivery_add_rcpt(d, "b@nomail.example"), 1);
  assert_int_equal(resolve(d, &res), SMTP_ERR_NULL_MX);
  /* RFC 7505 4.1: permanent, 556 5.1.10, and no address lookup at all */
  assert_int_equal(smtp_resolver_scripted_queries(&res, 0), 1);
  for (size_t i = 0; i < 2; i++) {
    smtp_delivery_rcpt(d, i, &rr);
    assert_int_equal(rr.state, SMTP_DELIVERY_PERMANENT);
    assert_int_equal(rr.code, 556);
    assert_string_equal(rr.enhanced, "5.1.10");
    assert_null(rr.host);
  }
  assert_int_equal(smtp_delivery_next(d, &t), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_delivery_resolve(d), SMTP_ERR_NULL_MX);
  smtp_delivery_del(d);
  smtp_resolver_close(&res);
}

static void test_dns_failures(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(0);
  smtp_delivery *d;
  smtp_delivery_rcpt_result rr;
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  assert_int_equal(smtp_resolver_scripted_add(&res, "slow.example", SMTP_DNS_MX, NULL, SMTP_SCRIPTED_TIMEOUT, 5), 0);
  add(&res, "fail.example", SMTP_DNS_MX, NULL, SMTP_SCRIPTED_SERVFAIL);
  add(&res, "loop.example", SMTP_DNS_CNAME, "loop2.example", 0);
  add(&res, "loop2.example", SMTP_DNS_CNAME, "loop.example", 0);
  add(&res, "bogus.example", SMTP_DNS_MX, "10 mx.bogus.example", SMTP_SCRIPTED_BOGUS);
  add(&res, "half.example", SMTP_DNS_MX, "10 mx.half.example", 0);
  add(&res, "mx.half.example", SMTP_DNS_A, NULL, SMTP_SCRIPTED_SERVFAIL);
  add(&res, "mx.half.example", SMTP_DNS_AAAA, NULL, SMTP_SCRIPTED_SERVFAIL);
  static const struct {
    const char *dom;
    int rc, state, code;
  } v[] = {
      {"slow.example", SMTP_ERR_DNS, SMTP_DELIVERY_RETRY, 451},
      {"fail.example", SMTP_ERR_DNS, SMTP_DELIVERY_RETRY, 451},
      {"loop.example", SMTP_ERR_DNS, SMTP_DELIVERY_RETRY, 451}, /* CNAME loop */
      {"bogus.example", SMTP_ERR_DNSSEC_BOGUS, SMTP_DELIVERY_RETRY, 451},
      {"nowhere.example", SMTP_ERR_NOT_FOUND, SMTP_DELIVERY_PERMANENT, 550},
      {"half.example", SMTP_ERR_NO_ROUTE, SMTP_DELIVERY_RETRY, 451},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    d = resolved(v[i].dom, "x@y", &res, &c, v[i].rc);
    smtp_delivery_rcpt(d, 0, &rr);
    assert_int_equal(rr.state, v[i].state);
    assert_int_equal(rr.code, v[i].code);
    smtp_delivery_del(d);
  }
  smtp_resolver_close(&res);
}

static void test_addresses_failover_results(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(0);
  smtp_delivery *d;
  smtp_delivery_target t;
  smtp_delivery_rcpt_result rr;
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  add(&res, "ex.example", SMTP_DNS_MX, "10 mx1.ex.example", 0);
  add(&res, "ex.example", SMTP_DNS_MX, "20 mx2.ex.example", 0);
  add(&res, "mx1.ex.example", SMTP_DNS_A, "192.0.2.1", 0);
  add(&res, "mx1.ex.example", SMTP_DNS_A, "192.0.2.2", 0);
  add(&res, "mx1.ex.example", SMTP_DNS_AAAA, "2001:db8::1", 0);
  add(&res, "mx1.ex.example", SMTP_DNS_AAAA, "2001:db8:0:0:1::2", 0);
  add(&res, "mx2.ex.example", SMTP_DNS_A, "192.0.2.3", 0);
  smtp_delivery_new(&d, "ex.example", &res, &c, NULL);
  smtp_delivery_add_rcpt(d, "ok@ex.example");
  smtp_delivery_add_rcpt(d, "bad@ex.example");
  smtp_delivery_add_rcpt(d, "later@ex.example");
  assert_int_equal(resolve(d, &res), 0);
  /* RFC 8305 4: IPv6 first, then the families alternate */
  assert_int_equal(smtp_delivery_next(d, &t), 0);
  assert_string_equal(t.addr_text, "2001:db8::1");
  assert_int_equal(t.family, 6);
  smtp_delivery_report(d, &t, SMTP_DELIVERY_CONNECT_FAILED);
  assert_int_equal(smtp_delivery_next(d, &t), 0);
  assert_string_equal(t.addr_text, "192.0.2.1");
  smtp_delivery_report(d, &t, SMTP_DELIVERY_CONNECT_FAILED);
  assert_int_equal(smtp_delivery_next(d, &t), 0);
  assert_string_equal(t.addr_text, "2001:db8::1:0:0:2"); /* RFC 5952 4.2.3: the longer zero run */
  /* a 4xx greeting: the next host, not the next address */
  smtp_delivery_report(d, &t, SMTP_DELIVERY_TEMPFAIL);
  assert_int_equal(smtp_delivery_next(d, &t), 0);
  assert_string_equal(t.host, "mx2.ex.example");
  assert_string_equal(t.addr_text, "192.0.2.3");
  assert_int_equal(t.host_index, 1);
  assert_int_equal(smtp_delivery_rcpt_reply(d, 0, &t, 250, "2.1.5", "ok", 0), 0);
  assert_int_equal(smtp_delivery_rcpt_reply(d, 1, &t, 550, "5.1.1", "no such user", 1), 0);
  assert_int_equal(smtp_delivery_rcpt_reply(d, 2, &t, 450, "4.2.0", "try later", 1), 0);
  assert_int_equal(smtp_delivery_rcpt_reply(d, 0, &t, 250, "2.0.0", "queued", 1), 0);
  assert_int_equal(smtp_delivery_report(d, &t, SMTP_DELIVERY_DONE), 0);
  assert_int_equal(smtp_delivery_next(d, &t), SMTP_ERR_INVALID_STATE);
  smtp_delivery_rcpt(d, 0, &rr);
  assert_int_equal(rr.state, SMTP_DELIVERY_DELIVERED);
  assert_string_equal(rr.host, "mx2.ex.example");
  assert_string_equal(rr.addr_text, "192.0.2.3");
  assert_string_equal(rr.text, "queued");
  smtp_delivery_rcpt(d, 1, &rr);
  assert_int_equal(rr.state, SMTP_DELIVERY_PERMANENT);
  assert_string_equal(rr.enhanced, "5.1.1");
  smtp_delivery_rcpt(d, 2, &rr);
  assert_int_equal(rr.state, SMTP_DELIVERY_RETRY);
  smtp_delivery_del(d);

  /* Every host failing: retry later, with the reason of the last failure. */
  d = resolved("ex.example", "a@ex.example", &res, &c, 0);
  while (smtp_delivery_next(d, &t) == 0) smtp_delivery_report(d, &t, SMTP_DELIVERY_CONNECT_FAILED);
  smtp_delivery_rcpt(d, 0, &rr);
  assert_int_equal(rr.state, SMTP_DELIVERY_RETRY);
  assert_string_equal(rr.enhanced, "4.4.1");
  assert_int_equal(rr.error, SMTP_ERR_NO_ROUTE);
  smtp_delivery_del(d);

  /* IPv4 only */
  c.flags = SMTP_DELIVERY_NO_IPV6;
  d = first_target("ex.example", &res, &c, &t);
  assert_int_equal(t.family, 4);
  smtp_delivery_del(d);
  smtp_resolver_close(&res);
}

static void test_many_mx(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(0);
  smtp_delivery *d;
  const char *order[20];
  char rd[64], name[64];
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  for (int i = 0; i < 400; i++) {
    snprintf(rd, sizeof rd, "%d mx%d.many.example", 400 - i, i);
    add(&res, "many.example", SMTP_DNS_MX, rd, 0);
    snprintf(name, sizeof name, "mx%d.many.example", i);
    add(&res, name, SMTP_DNS_A, "192.0.2.1", 0);
  }
  d = resolved("many.example", NULL, &res, &c, 0);
  /* the 10 best, and only their addresses were asked for */
  assert_int_equal(host_order(d, order, 20), 10);
  assert_string_equal(order[0], "mx399.many.example");
  assert_string_equal(order[9], "mx390.many.example");
  assert_int_equal(smtp_resolver_scripted_queries(&res, SMTP_DNS_A), 10);
  smtp_delivery_del(d);
  smtp_resolver_close(&res);
}

static void test_dane_lookups(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(SMTP_DELIVERY_DANE);
  smtp_delivery *d;
  smtp_delivery_target t;
  const smtp_dns_rr *tl;
  size_t n, nf;
  const smtp_tlsrpt_failure *f;
  char rd[200], hx[140];
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  hex_encode(sha256_leaf_spki, 32, hx);
  snprintf(rd, sizeof rd, "3 1 1 %s", hx);
  add(&res, "sec.example", SMTP_DNS_MX, "10 mx.sec.example", SMTP_SCRIPTED_SECURE);
  add(&res, "sec.example", SMTP_DNS_MX, "20 mx2.sec.example", SMTP_SCRIPTED_SECURE);
  add(&res, "sec.example", SMTP_DNS_MX, "30 mx3.sec.example", SMTP_SCRIPTED_SECURE);
  add(&res, "mx.sec.example", SMTP_DNS_A, "192.0.2.1", SMTP_SCRIPTED_SECURE);
  add(&res, "mx.sec.example", SMTP_DNS_AAAA, NULL, SMTP_SCRIPTED_SECURE);
  add(&res, "_25._tcp.mx.sec.example", SMTP_DNS_TLSA, rd, SMTP_SCRIPTED_SECURE);
  add(&res, "_25._tcp.mx.sec.example", SMTP_DNS_TLSA, "1 1 1 00", SMTP_SCRIPTED_SECURE); /* PKIX-EE: unused */
  add(&res, "mx2.sec.example", SMTP_DNS_A, "192.0.2.2", SMTP_SCRIPTED_SECURE);
  add(&res, "mx2.sec.example", SMTP_DNS_AAAA, NULL, SMTP_SCRIPTED_SECURE);
  add(&res, "_25._tcp.mx2.sec.example", SMTP_DNS_TLSA, NULL, SMTP_SCRIPTED_BOGUS);
  add(&res, "mx3.sec.example", SMTP_DNS_A, "192.0.2.3", SMTP_SCRIPTED_SECURE);
  add(&res, "mx3.sec.example", SMTP_DNS_AAAA, NULL, SMTP_SCRIPTED_SECURE);
  add(&res, "_25._tcp.mx3.sec.example", SMTP_DNS_TLSA, "0 0 1 00", SMTP_SCRIPTED_SECURE); /* all unusable */
  /* addresses not validated: no TLSA query at all */
  add(&res, "half.example", SMTP_DNS_MX, "10 mx.half.example", SMTP_SCRIPTED_SECURE);
  add(&res, "mx.half.example", SMTP_DNS_A, "192.0.2.4", 0);
  add(&res, "_25._tcp.mx.half.example", SMTP_DNS_TLSA, rd, SMTP_SCRIPTED_SECURE);

  d = first_dane_target("sec.example", &res, &c, 3, &t);
  assert_string_equal(t.host, "mx.sec.example");
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_DANE);
  assert_int_equal(t.dnssec, 1);
  tl = smtp_delivery_tlsa(d, &t, &n);
  assert_int_equal(n, 1); /* the usage-1 record is not usable (RFC 7672 3.1.3) */
  assert_int_equal(tl[0].usage, 3);
  {
    const unsigned char *chain[2] = {der_leaf, der_ca};
    size_t lens[2] = {sizeof der_leaf, sizeof der_ca};
    /* DANE-EE digests are the library's own: the same answer in every build */
    assert_int_equal(smtp_dane_match(tl, n, chain, lens, 2, NULL, 0), SMTP_DANE_MATCH_EE);
    chain[0] = der_cn;
    lens[0] = sizeof der_cn;
    assert_int_equal(smtp_dane_match(tl, n, chain, lens, 2, NULL, 0), SMTP_ERR_DANE);
  }
  smtp_delivery_report(d, &t, SMTP_DELIVERY_TLS_FAILED);
  /* mx2's TLSA answer is bogus: skipped (RFC 7672 2.2), reported */
  assert_int_equal(smtp_delivery_next(d, &t), 0);
  assert_string_equal(t.host, "mx3.sec.example");
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_ENCRYPT);
  assert_null(smtp_delivery_tlsa(d, &t, &n));
  smtp_delivery_tls_failure(d, &t, SMTP_TLSRPT_STARTTLS_NOT_SUPPORTED, "no STARTTLS");
  f = smtp_delivery_tls_failures(d, &nf);
  assert_int_equal(nf, 2);
  assert_string_equal(smtp_tlsrpt_result_name(f[0].result_type), "dnssec-invalid");
  assert_string_equal(f[0].receiving_mx_hostname, "mx2.sec.example");
  assert_int_equal(f[0].policy_type, 2);
  assert_string_equal(smtp_tlsrpt_result_name(f[1].result_type), "starttls-not-supported");
  assert_string_equal(f[1].receiving_ip, "192.0.2.3");
  smtp_delivery_del(d);

  d = first_dane_target("half.example", &res, &c, 3, &t); /* still 3: no TLSA query for it */
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_OPPORTUNISTIC);
  assert_int_equal(t.dnssec, 0);
  smtp_delivery_del(d);
  smtp_resolver_close(&res);
}

/* TLSA at the CNAME-expanded name first, then the MX host name (RFC 7672
 * 2.2.2, RFC 7671 7), only when the whole chain is authenticated. */
static void test_dane_cname(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(SMTP_DELIVERY_DANE);
  smtp_delivery *d;
  smtp_delivery_target t;
  const smtp_tlsrpt_failure *f;
  size_t n;
  const unsigned int S = SMTP_SCRIPTED_SECURE;
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  /* records at the expanded name: that name is the TLSA base domain */
  add(&res, "a.example", SMTP_DNS_MX, "10 mx.a.example", S);
  add(&res, "mx.a.example", SMTP_DNS_CNAME, "host.provider.example", S);
  add(&res, "host.provider.example", SMTP_DNS_A, "192.0.2.9", S);
  add(&res, "host.provider.example", SMTP_DNS_AAAA, NULL, S);
  add(&res, "_25._tcp.host.provider.example", SMTP_DNS_TLSA, "3 1 1 0101010101010101010101010101010101010101010101010101010101010101", S);
  add(&res, "_25._tcp.mx.a.example", SMTP_DNS_TLSA, "3 1 1 0202020202020202020202020202020202020202020202020202020202020202", S);
  d = first_dane_target("a.example", &res, &c, 1, &t);
  assert_string_equal(t.host, "mx.a.example");
  assert_string_equal(t.tls_name, "host.provider.example");
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_DANE);
  assert_int_equal(smtp_delivery_tlsa(d, &t, &n)[0].data[0], 1);
  smtp_delivery_del(d);

  /* nothing at the expanded name (NODATA): the MX host name's records */
  add(&res, "b.example", SMTP_DNS_MX, "10 mx.b.example", S);
  add(&res, "mx.b.example", SMTP_DNS_CNAME, "host2.provider.example", S);
  add(&res, "host2.provider.example", SMTP_DNS_A, "192.0.2.10", S);
  add(&res, "host2.provider.example", SMTP_DNS_AAAA, "2001:db8::10", S);
  add(&res, "_25._tcp.host2.provider.example", SMTP_DNS_TLSA, NULL, S);
  add(&res, "_25._tcp.mx.b.example", SMTP_DNS_TLSA, "3 1 1 0202020202020202020202020202020202020202020202020202020202020202", S);
  d = first_dane_target("b.example", &res, &c, 3, &t);
  assert_string_equal(t.tls_name, "mx.b.example");
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_DANE);
  assert_int_equal(smtp_delivery_tlsa(d, &t, &n)[0].data[0], 2);
  smtp_delivery_del(d);

  /* neither name has records: no DANE, SNI stays the MX host name */
  add(&res, "c.example", SMTP_DNS_MX, "10 mx.c.example", S);
  add(&res, "mx.c.example", SMTP_DNS_CNAME, "host3.provider.example", S);
  add(&res, "host3.provider.example", SMTP_DNS_A, "192.0.2.11", S);
  d = first_dane_target("c.example", &res, &c, 5, &t);
  assert_string_equal(t.tls_name, "mx.c.example");
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_OPPORTUNISTIC);
  smtp_delivery_del(d);

  /* one link of the chain not authenticated: the addresses are not
   * secure, no TLSA lookup at all (RFC 7672 2.2) */
  add(&res, "e.example", SMTP_DNS_MX, "10 mx.e.example", S);
  add(&res, "mx.e.example", SMTP_DNS_CNAME, "host4.provider.example", 0);
  add(&res, "host4.provider.example", SMTP_DNS_A, "192.0.2.12", S);
  add(&res, "_25._tcp.host4.provider.example", SMTP_DNS_TLSA, "3 1 1 0101010101010101010101010101010101010101010101010101010101010101", S);
  d = first_dane_target("e.example", &res, &c, 5, &t);
  assert_int_equal(t.dnssec, 0);
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_OPPORTUNISTIC);
  smtp_delivery_del(d);

  /* a bogus answer at the expanded name: the host is not used, reported */
  add(&res, "g.example", SMTP_DNS_MX, "10 mx.g.example", S);
  add(&res, "g.example", SMTP_DNS_MX, "20 mx2.g.example", S);
  add(&res, "mx.g.example", SMTP_DNS_CNAME, "host5.provider.example", S);
  add(&res, "host5.provider.example", SMTP_DNS_A, "192.0.2.13", S);
  add(&res, "_25._tcp.host5.provider.example", SMTP_DNS_TLSA, NULL, SMTP_SCRIPTED_BOGUS);
  add(&res, "_25._tcp.mx.g.example", SMTP_DNS_TLSA, "3 1 1 0202020202020202020202020202020202020202020202020202020202020202", S);
  add(&res, "mx2.g.example", SMTP_DNS_A, "192.0.2.14", S);
  d = first_target("g.example", &res, &c, &t);
  assert_string_equal(t.host, "mx2.g.example");
  f = smtp_delivery_tls_failures(d, &n);
  assert_int_equal(n, 1);
  assert_string_equal(smtp_tlsrpt_result_name(f[0].result_type), "dnssec-invalid");
  assert_string_equal(f[0].receiving_mx_hostname, "mx.g.example");
  smtp_delivery_del(d);
  smtp_resolver_close(&res);
}

/* The RFC 8460 4.4 report document from two deliveries to one domain:
 * an MTA-STS policy and a DANE host, successes counted from the
 * verification callback's verdicts, failures merged. */
static void test_tlsrpt_report(void **state) {
  static const char pol[] = "version: STSv1\nmode: enforce\nmx: mx1.rpt.example\nmx: *.rpt.example\nmax_age: 604800\n";
  char ab[65], rd[80];
  smtp_resolver res;
  smtp_delivery_config c = cfg(SMTP_DELIVERY_DANE);
  smtp_delivery *d[3];
  smtp_delivery_target t;
  smtp_mta_sts_policy *p;
  smtp_tlsrpt_report *r;
  smtp_tlsrpt_report_info info;
  smtp_tls_verify_info vi;
  int fake_conn;
  char out[4096];
  size_t len;
  const unsigned int S = SMTP_SCRIPTED_SECURE;
  (void)state;
  c.random = NULL;
  memset(ab, 'A', 64);
  for (int i = 1; i < 64; i += 2) ab[i] = 'B';
  ab[64] = 0;
  snprintf(rd, sizeof rd, "3 1 1 %s", ab);
  smtp_resolver_scripted_new(&res, NULL);
  add(&res, "rpt.example", SMTP_DNS_MX, "10 mx1.rpt.example", S);
  add(&res, "rpt.example", SMTP_DNS_MX, "20 mx2.rpt.example", S);
  add(&res, "mx1.rpt.example", SMTP_DNS_A, "192.0.2.1", S);
  add(&res, "mx1.rpt.example", SMTP_DNS_AAAA, NULL, S);
  add(&res, "_25._tcp.mx1.rpt.example", SMTP_DNS_TLSA, rd, S);
  add(&res, "mx2.rpt.example", SMTP_DNS_A, "192.0.2.2", 0);
  add(&res, "other.example", SMTP_DNS_MX, "10 mx2.rpt.example", 0);
  assert_int_equal(smtp_mta_sts_policy_parse(pol, strlen(pol), &p, NULL), 0);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(smtp_delivery_new(&d[i], i == 2 ? "other.example" : "rpt.example", &res, &c, NULL), 0);
    smtp_delivery_add_rcpt(d[i], "bob@rpt.example");
    if (i < 2) smtp_delivery_set_mta_sts(d[i], p);
    assert_int_equal(resolve(d[i], &res), 0);
  }
  smtp_mta_sts_policy_del(p);
  memset(&vi, 0, sizeof vi);
  vi.size = (unsigned int)sizeof vi;
  vi.role = SMTP_TLS_CLIENT;
  vi.expected_name = "mx2.rpt.example";
  /* first delivery: DANE mismatch at mx1, verified TLS and delivery at mx2 */
  assert_int_equal(smtp_delivery_next(d[0], &t), 0);
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_DANE);
  smtp_delivery_tls_failure(d[0], &t, SMTP_TLSRPT_VALIDATION_FAILURE, "no match");
  smtp_delivery_report(d[0], &t, SMTP_DELIVERY_TLS_FAILED);
  assert_int_equal(smtp_delivery_next(d[0], &t), 0);
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_VERIFY);
  /* the MTA-STS branch reads only the verdict (no certificate) */
  assert_int_equal(smtp_delivery_tls_verify((smtp_tls_conn *)(void *)&fake_conn, &vi, d[0]), SMTP_TLS_VERIFY_ACCEPT);
  smtp_delivery_report(d[0], &t, SMTP_DELIVERY_DONE);
  /* second: no STARTTLS at mx1, an expired certificate at mx2 */
  assert_int_equal(smtp_delivery_next(d[1], &t), 0);
  smtp_delivery_tls_failure(d[1], &t, SMTP_TLSRPT_STARTTLS_NOT_SUPPORTED, NULL);
  smtp_delivery_report(d[1], &t, SMTP_DELIVERY_TLS_FAILED);
  assert_int_equal(smtp_delivery_next(d[1], &t), 0);
  vi.verdict = SMTP_ERR_TLS_VERIFY;
  vi.reason = "certificate has \"expired\"";
  assert_int_equal(smtp_delivery_tls_verify((smtp_tls_conn *)(void *)&fake_conn, &vi, d[1]), SMTP_TLS_VERIFY_REFUSE);
  smtp_delivery_report(d[1], &t, SMTP_DELIVERY_TLS_FAILED);
  assert_int_equal(smtp_delivery_next(d[1], &t), SMTP_ERR_NO_ROUTE);

  memset(&info, 0, sizeof info);
  info.version = SMTP_TLSRPT_REPORT_INFO_VERSION;
  info.organization_name = "Example Org";
  info.contact_info = "mailto:tlsrpt@example.net";
  info.report_id = "2026-12-06_rpt.example";
  info.policy_domain = "RPT.example.";
  info.sending_mta_ip = "192.0.2.200";
  info.start = 1796515200;
  info.end = 1796601599;
  assert_int_equal(smtp_tlsrpt_report_new(&r, &info, NULL), 0);
  assert_int_equal(smtp_tlsrpt_report_add(r, d[0]), 0);
  assert_int_equal(smtp_tlsrpt_report_add(r, d[1]), 0);
  assert_int_equal(smtp_tlsrpt_report_add(r, d[2]), SMTP_ERR_INVALID_ARGUMENT); /* another domain */
  assert_int_equal(smtp_tlsrpt_report_format(r, out, sizeof out, &len), 0);
  {
    char want[4096];
    snprintf(want, sizeof want,
             "{\"organization-name\":\"Example Org\","
             "\"date-range\":{\"start-datetime\":\"2026-12-06T00:00:00Z\",\"end-datetime\":\"2026-12-06T23:59:59Z\"},"
             "\"contact-info\":\"mailto:tlsrpt@example.net\",\"report-id\":\"2026-12-06_rpt.example\","
             "\"policies\":["
             "{\"policy\":{\"policy-type\":\"sts\",\"policy-string\":[\"version: STSv1\",\"mode: enforce\","
             "\"mx: mx1.rpt.example\",\"mx: *.rpt.example\",\"max_age: 604800\"],\"policy-domain\":\"rpt.example\","
             "\"mx-host\":[\"mx1.rpt.example\",\"*.rpt.example\"]},"
             "\"summary\":{\"total-successful-session-count\":1,\"total-failure-session-count\":1},"
             "\"failure-details\":[{\"result-type\":\"certificate-expired\",\"sending-mta-ip\":\"192.0.2.200\","
             "\"receiving-mx-hostname\":\"mx2.rpt.example\",\"receiving-ip\":\"192.0.2.2\",\"failed-session-count\":1,"
             "\"failure-reason-code\":\"certificate has \\\"expired\\\"\"}]},"
             "{\"policy\":{\"policy-type\":\"tlsa\",\"policy-string\":[\"3 1 1 %s\"],\"policy-domain\":\"rpt.example\","
             "\"mx-host\":[\"mx1.rpt.example\"]},"
             "\"summary\":{\"total-successful-session-count\":0,\"total-failure-session-count\":2},"
             "\"failure-details\":[{\"result-type\":\"validation-failure\",\"sending-mta-ip\":\"192.0.2.200\","
             "\"receiving-mx-hostname\":\"mx1.rpt.example\",\"receiving-ip\":\"192.0.2.1\",\"failed-session-count\":1,"
             "\"failure-reason-code\":\"no match\"},"
             "{\"result-type\":\"starttls-not-supported\",\"sending-mta-ip\":\"192.0.2.200\","
             "\"receiving-mx-hostname\":\"mx1.rpt.example\",\"receiving-ip\":\"192.0.2.1\",\"failed-session-count\":1}]}"
             "]}",
             ab);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
  }
  /* the same delivery again: policies and equal failures merge */
  assert_int_equal(smtp_tlsrpt_report_add(r, d[0]), 0);
  assert_int_equal(smtp_tlsrpt_report_format(r, out, sizeof out, &len), 0);
  assert_non_null(strstr(out, "\"total-successful-session-count\":2,\"total-failure-session-count\":1"));
  assert_non_null(strstr(out, "\"receiving-ip\":\"192.0.2.1\",\"failed-session-count\":2,\"failure-reason-code\":\"no match\""));
  assert_null(strstr(strstr(out, "\"tlsa\"") + 1, "\"tlsa\"")); /* one tlsa policy */
  /* buffer sizes: exactly the length does not fit (NUL), one more does */
  {
    size_t need = len, l2 = 0;
    assert_int_equal(smtp_tlsrpt_report_format(r, NULL, 0, &l2), SMTP_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(l2, need);
    assert_int_equal(smtp_tlsrpt_report_format(r, out, need, &l2), SMTP_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(smtp_tlsrpt_report_format(r, out, need + 1, &l2), 0);
  }
  smtp_tlsrpt_report_del(r);
  /* dates across the calendar (RFC 3339 5.6) and bad fields */
  {
    static const struct {
      int64_t t;
      const char *s;
    } dv[] = {{0, "1970-01-01T00:00:00Z"}, {951782400, "2000-02-29T00:00:00Z"},
              {4107542400, "2100-03-01T00:00:00Z"}, {253402300799, "9999-12-31T23:59:59Z"}};
    for (size_t i = 0; i < sizeof dv / sizeof dv[0]; i++) {
      info.start = info.end = dv[i].t;
      assert_int_equal(smtp_tlsrpt_report_new(&r, &info, NULL), 0);
      assert_int_equal(smtp_tlsrpt_report_format(r, out, sizeof out, &len), 0);
      assert_non_null(strstr(out, dv[i].s));
      assert_non_null(strstr(out, "\"policies\":[]}"));
      smtp_tlsrpt_report_del(r);
    }
    info.end = 253402300800;
    assert_int_equal(smtp_tlsrpt_report_new(&r, &info, NULL), SMTP_ERR_INVALID_ARGUMENT);
    info.start = 10;
    info.end = 9;
    assert_int_equal(smtp_tlsrpt_report_new(&r, &info, NULL), SMTP_ERR_INVALID_ARGUMENT);
    info.end = 10;
    info.organization_name = "bad\nname";
    assert_int_equal(smtp_tlsrpt_report_new(&r, &info, NULL), SMTP_ERR_INVALID_ARGUMENT);
    info.organization_name = "";
    assert_int_equal(smtp_tlsrpt_report_new(&r, &info, NULL), SMTP_ERR_INVALID_ARGUMENT);
    info.organization_name = "x";
    info.version = 2;
    assert_int_equal(smtp_tlsrpt_report_new(&r, &info, NULL), SMTP_ERR_INVALID_ARGUMENT);
    assert_null(r);
  }
  for (int i = 0; i < 3; i++) smtp_delivery_del(d[i]);
  smtp_resolver_close(&res);
}

/* The _smtp._tls TXT record (RFC 8460 3): vectors. */
static void test_tlsrpt_txt(void **state) {
  static const struct {
    const char *txt;
    int rc;
    size_t n;
    const char *first, *second;
  } v[] = {
      {"v=TLSRPTv1; rua=mailto:reports@example.com", 0, 1, "mailto:reports@example.com", NULL},
      {"v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt", 0, 1, "https://reporting.example.com/v1/tlsrpt", NULL},
      {"v=TLSRPTv1; rua=mailto:a@example.com, https://r.example/x;", 0, 2, "mailto:a@example.com", "https://r.example/x"},
      {"v=TLSRPTv1 ;\trua=MAILTO:a@example.com ; ext_1.x=val;", 0, 1, "MAILTO:a@example.com", NULL},
      {"v=TLSRPTv1; rua=ftp://x.example/,mailto:b@example.com", 0, 1, "mailto:b@example.com", NULL}, /* unknown scheme skipped */
      {"v=TLSRPTv1; rua=ftp://x.example/", 0, 0, NULL, NULL},
      {"v=TLSRPTv1; foo=bar; rua=mailto:c@example.com", 0, 1, "mailto:c@example.com", NULL},
      {"v=tlsrptv1; rua=mailto:a@example.com", SMTP_ERR_SYNTAX, 0, NULL, NULL},   /* %s: case-sensitive */
      {"v=TLSRPTv1", SMTP_ERR_SYNTAX, 0, NULL, NULL},                              /* rua required */
      {"v=TLSRPTv1; foo=bar", SMTP_ERR_SYNTAX, 0, NULL, NULL},
      {"rua=mailto:a@example.com; v=TLSRPTv1", SMTP_ERR_SYNTAX, 0, NULL, NULL},   /* version first */
      {"v=TLSRPTv1x; rua=mailto:a@example.com", SMTP_ERR_SYNTAX, 0, NULL, NULL},
      {"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com", SMTP_ERR_SYNTAX, 0, NULL, NULL},
      {"v=TLSRPTv1; rua=", SMTP_ERR_SYNTAX, 0, NULL, NULL},
      {"v=TLSRPTv1; rua=mailto:a@example.com,", SMTP_ERR_SYNTAX, 0, NULL, NULL},
      {"v=TLSRPTv1; _x=1; rua=mailto:a@example.com", SMTP_ERR_SYNTAX, 0, NULL, NULL}, /* ext name starts alnum */
      {"v=TLSRPTv1; x=; rua=mailto:a@example.com", SMTP_ERR_SYNTAX, 0, NULL, NULL},
      {"v=TLSRPTv1; rua=mailto:a@example.com; x=a=b", SMTP_ERR_SYNTAX, 0, NULL, NULL},
      {"v=TLSRPTv1;; rua=mailto:a@example.com", SMTP_ERR_SYNTAX, 0, NULL, NULL},
  };
  smtp_span u[2];
  size_t n;
  (void)state;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    int rc = smtp_tlsrpt_txt_parse(v[i].txt, strlen(v[i].txt), u, 2, &n);
    if (rc != v[i].rc) fail_msg("vector %zu: %d want %d", i, rc, v[i].rc);
    if (rc) continue;
    assert_int_equal(n, v[i].n);
    if (v[i].first) {
      assert_int_equal(u[0].len, strlen(v[i].first));
      assert_memory_equal(u[0].ptr, v[i].first, u[0].len);
    }
    if (v[i].second) {
      assert_int_equal(u[1].len, strlen(v[i].second));
      assert_memory_equal(u[1].ptr, v[i].second, u[1].len);
    }
    /* every shorter prefix: never a read past the end, never more URIs */
    for (size_t cut = 0; cut < strlen(v[i].txt); cut++) {
      size_t m = 99;
      rc = smtp_tlsrpt_txt_parse(v[i].txt, cut, NULL, 0, &m);
      assert_true(rc == 0 || rc == SMTP_ERR_SYNTAX);
      if (rc == 0) assert_true(m <= v[i].n);
    }
  }
  /* more URIs than room: counted, the first ones given */
  assert_int_equal(smtp_tlsrpt_txt_parse("v=TLSRPTv1; rua=https://a.example,https://b.example,https://c.example", 69, u, 1, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(u[0].len, 17);
  assert_int_equal(smtp_tlsrpt_txt_parse(NULL, 0, NULL, 0, &n), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tlsrpt_txt_parse("v=TLSRPTv1; rua=https://a", 25, NULL, 1, &n), SMTP_ERR_INVALID_ARGUMENT);
}

/* The matcher: every usage/selector/matching type combination that
 * applies, against digests computed outside libsmtp. */
static void test_dane_match(void **state) {
  const unsigned char *chain[2] = {der_leaf, der_ca};
  size_t lens[2] = {sizeof der_leaf, sizeof der_ca};
  const char *mxname[] = {"mx.example.com"};
  const char *wild_ok[] = {"smtp.mail.example.net"};
  const char *wild_deep[] = {"a.b.mail.example.net"};
  const char *other[] = {"mx.example.org"};
  smtp_dns_rr r;
  (void)state;
  memset(&r, 0, sizeof r);
  r.type = SMTP_DNS_TLSA;
  struct {
    unsigned int usage, sel, mt;
    const unsigned char *data;
    size_t len;
    int want;
  } v[] = {
      {3, 0, 0, der_leaf, sizeof der_leaf, SMTP_DANE_MATCH_EE},
      {3, 1, 0, spki_leaf, sizeof spki_leaf, SMTP_DANE_MATCH_EE},
      {3, 0, 1, sha256_leaf_cert, 32, SMTP_DANE_MATCH_EE},
      {3, 1, 1, sha256_leaf_spki, 32, SMTP_DANE_MATCH_EE},
      {3, 0, 2, sha512_leaf_cert, 64, SMTP_DANE_MATCH_EE},
      {3, 1, 2, sha512_leaf_spki, 64, SMTP_DANE_MATCH_EE},
      {3, 1, 1, sha256_ca_spki, 32, SMTP_ERR_DANE},       /* EE needs the leaf */
      {3, 1, 2, sha256_leaf_spki, 32, SMTP_ERR_DANE},     /* wrong length for SHA-512 */
      {2, 0, 0, der_ca, sizeof der_ca, SMTP_DANE_MATCH_TA},
      {2, 1, 0, spki_ca, sizeof spki_ca, SMTP_DANE_MATCH_TA},
      {2, 0, 1, sha256_ca_cert, 32, SMTP_DANE_MATCH_TA},
      {2, 1, 1, sha256_ca_spki, 32, SMTP_DANE_MATCH_TA},
      {2, 0, 2, sha512_ca_cert, 64, SMTP_DANE_MATCH_TA},
      {2, 1, 2, sha512_ca_spki, 64, SMTP_DANE_MATCH_TA},
      {2, 1, 1, sha256_leaf_spki, 32, SMTP_ERR_DANE},     /* TA is not the leaf */
      {1, 1, 1, sha256_leaf_spki, 32, SMTP_ERR_DANE},     /* PKIX-EE: unusable */
      {0, 1, 1, sha256_ca_spki, 32, SMTP_ERR_DANE},       /* PKIX-TA: unusable */
      {3, 2, 1, sha256_leaf_spki, 32, SMTP_ERR_DANE},     /* unknown selector */
      {3, 1, 3, sha256_leaf_spki, 32, SMTP_ERR_DANE},     /* unknown matching type */
      {255, 1, 1, sha256_leaf_spki, 32, SMTP_ERR_DANE},   /* unknown usage */
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    int rc;
    r.usage = v[i].usage;
    r.selector = v[i].sel;
    r.matching = v[i].mt;
    r.data = v[i].data;
    r.data_len = v[i].len;
    rc = smtp_dane_match(&r, 1, chain, lens, 2, mxname, 1);
    {
      int want = v[i].want;
      int usable = (v[i].usage == 2 || v[i].usage == 3) && v[i].sel <= 1 && v[i].mt <= 2;
      /* no signature checks without a TLS backend: DANE-TA cannot match
       * (RFC 7672 3.1.2 needs the chain verified up to the anchor) */
      if (!smtp_tls_available() && usable && want == SMTP_DANE_MATCH_TA)
        want = SMTP_ERR_UNSUPPORTED;
      if (rc != want) fail_msg("vector %zu: %d want %d", i, rc, want);
    }
  }
  if (!smtp_tls_available()) return; /* the checks below are DANE-TA: signatures */
  /* DANE-TA name checks (RFC 7672 3.2.2, 3.2.3) */
  r.usage = 2;
  r.selector = 1;
  r.matching = 1;
  r.data = sha256_ca_spki;
  r.data_len = 32;
  assert_int_equal(smtp_dane_match(&r, 1, chain, lens, 2, wild_ok, 1), SMTP_DANE_MATCH_TA);
  assert_int_equal(smtp_dane_match(&r, 1, chain, lens, 2, wild_deep, 1), SMTP_ERR_DANE);
  assert_int_equal(smtp_dane_match(&r, 1, chain, lens, 2, other, 1), SMTP_ERR_DANE);
  assert_int_equal(smtp_dane_match(&r, 1, chain, lens, 2, NULL, 0), SMTP_ERR_DANE);
  /* CN used only when there is no DNS subjectAltName; SAN present: CN ignored */
  {
    const unsigned char *c2[2] = {der_cn, der_ca};
    size_t l2[2] = {sizeof der_cn, sizeof der_ca};
    const char *cn[] = {"cn.example.org"};
    const char *ign[] = {"ignored.example"};
    assert_int_equal(smtp_dane_match(&r, 1, c2, l2, 2, cn, 1), SMTP_DANE_MATCH_TA);
    assert_int_equal(smtp_dane_match(&r, 1, chain, lens, 2, ign, 1), SMTP_ERR_DANE);
  }
  /* the TA must be linked by names to the leaf */
  {
    const unsigned char *c3[3] = {der_leaf, der_cn, der_ca};
    size_t l3[3] = {sizeof der_leaf, sizeof der_cn, sizeof der_ca};
    assert_int_equal(smtp_dane_match(&r, 1, c3, l3, 3, mxname, 1), SMTP_ERR_DANE);
  }
  /* issuer name right, signature by another key: refused */
  {
    const unsigned char *cf[2] = {der_forged, der_ca};
    size_t lf[2] = {sizeof der_forged, sizeof der_ca};
    assert_int_equal(smtp_dane_match(&r, 1, cf, lf, 2, mxname, 1), SMTP_ERR_DANE);
    r.selector = 0;
    r.matching = 0;
    r.data = der_ca;
    r.data_len = sizeof der_ca;
    assert_int_equal(smtp_dane_match(&r, 1, cf, lf, 2, mxname, 1), SMTP_ERR_DANE);
    assert_int_equal(smtp_dane_match(&r, 1, chain, lens, 2, mxname, 1), SMTP_DANE_MATCH_TA);
    r.selector = 1;
    r.matching = 1;
    r.data = sha256_ca_spki;
    r.data_len = 32;
  }
  /* the TA alone is not enough when only the leaf was sent */
  assert_int_equal(smtp_dane_match(&r, 1, chain, lens, 1, mxname, 1), SMTP_ERR_DANE);
  /* not DER */
  {
    unsigned char junk[64];
    const unsigned char *cj[1] = {junk};
    size_t lj[1] = {sizeof junk};
    memset(junk, 0x30, sizeof junk);
    assert_int_equal(smtp_dane_match(&r, 1, cj, lj, 1, mxname, 1), SMTP_ERR_SYNTAX);
    /* every truncation of the leaf: an error, never a read past the end */
    for (size_t cut = 0; cut < sizeof der_leaf; cut++) {
      const unsigned char *ct[1] = {der_leaf};
      size_t lt[1] = {cut};
      assert_true(smtp_dane_match(&r, 1, ct, lt, 1, mxname, 1) < 0);
    }
  }
  assert_int_equal(smtp_dane_match(&r, 1, chain, lens, 0, mxname, 1), SMTP_ERR_INVALID_ARGUMENT);
}

static void test_mta_sts_parse(void **state) {
  static const struct {
    const char *body;
    int rc;
    unsigned int mode;
    uint32_t age;
    size_t nmx;
  } v[] = {
      {"version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 86400\n", 0, SMTP_MTA_STS_ENFORCE, 86400, 2},
      {"version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 604800\r\n", 0, SMTP_MTA_STS_TESTING, 604800, 1},
      {"version: STSv1\nmode: none\nmax_age: 0", 0, SMTP_MTA_STS_NONE, 0, 0},
      {"version:STSv1\nmode :\tenforce \nmx: a.example\nmax_age: 31557600\nfuture_key: any value here\n", 0, SMTP_MTA_STS_ENFORCE, 31557600, 1},
      {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"version: STSv1\nmode: enforce\nmax_age: 86400\n", SMTP_ERR_SYNTAX, 0, 0, 0},      /* no mx */
      {"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"mode: enforce\nmx: a.example\nmax_age: 1\n", SMTP_ERR_SYNTAX, 0, 0, 0},            /* no version */
      {"version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nmode: none\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"version: STSv1\nmode: enforce\nmx: -a.example\nmax_age: 1\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999999\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n\n", SMTP_ERR_SYNTAX, 0, 0, 0}, /* empty line */
      {"version: STSv1\nmode: enforce\nmx a.example\nmax_age: 1\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"version: STSv1\nmode: enforce\nmx: a.example\x01\nmax_age: 1\n", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"<html>404</html>", SMTP_ERR_SYNTAX, 0, 0, 0},
      {"", SMTP_ERR_SYNTAX, 0, 0, 0},
  };
  smtp_mta_sts_policy *p;
  (void)state;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    int rc = smtp_mta_sts_policy_parse(v[i].body, strlen(v[i].body), &p, NULL);
    if (rc != v[i].rc) fail_msg("policy %zu: %d want %d", i, rc, v[i].rc);
    if (rc) continue;
    assert_int_equal(smtp_mta_sts_policy_mode(p), v[i].mode);
    assert_int_equal(smtp_mta_sts_policy_max_age(p), v[i].age);
    assert_int_equal(smtp_mta_sts_policy_mx_count(p), v[i].nmx);
    smtp_mta_sts_policy_del(p);
  }
  /* oversized: 64 KiB + 1 (RFC 8461 3.3 size limit), and too many mx */
  {
    size_t big = SMTP_MTA_STS_MAX_POLICY + 1;
    char *b = malloc(big);
    memset(b, 'x', big);
    assert_int_equal(smtp_mta_sts_policy_parse(b, big, &p, NULL), SMTP_ERR_TOO_LONG);
    {
      size_t o = (size_t)sprintf(b, "version: STSv1\nmode: enforce\nmax_age: 1\n");
      for (int i = 0; i < 300; i++) o += (size_t)sprintf(b + o, "mx: m%d.example\n", i);
      assert_int_equal(smtp_mta_sts_policy_parse(b, o, &p, NULL), SMTP_ERR_TOO_LONG);
    }
    free(b);
  }
  /* split at every point: a prefix is never mistaken for more than it holds */
  {
    const char *body = v[0].body;
    for (size_t cut = 0; cut < strlen(body); cut++) {
      int rc = smtp_mta_sts_policy_parse(body, cut, &p, NULL);
      if (rc == 0) {
        assert_true(smtp_mta_sts_policy_mx_count(p) <= 2);
        smtp_mta_sts_policy_del(p);
      }
    }
  }
  /* MX patterns (RFC 8461 4.1) */
  assert_int_equal(smtp_mta_sts_policy_parse(v[0].body, strlen(v[0].body), &p, NULL), 0);
  assert_int_equal(smtp_mta_sts_mx_match(p, "mail.example.com"), 1);
  assert_int_equal(smtp_mta_sts_mx_match(p, "MAIL.Example.com."), 1);
  assert_int_equal(smtp_mta_sts_mx_match(p, "x.example.net"), 1);
  assert_int_equal(smtp_mta_sts_mx_match(p, "example.net"), 0);
  assert_int_equal(smtp_mta_sts_mx_match(p, "a.b.example.net"), 0);
  assert_int_equal(smtp_mta_sts_mx_match(p, "mail.example.com.evil"), 0);
  /* cache round trip */
  {
    char buf[512], id[33];
    int64_t fetched = 0;
    smtp_mta_sts_policy *q;
    smtp_ssize n = smtp_mta_sts_cache_format(p, "20240101abc", 1700000000, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(smtp_mta_sts_cache_parse(buf, (size_t)n, &q, id, sizeof id, &fetched, NULL), 0);
    assert_string_equal(id, "20240101abc");
    assert_int_equal(fetched, 1700000000);
    assert_int_equal(smtp_mta_sts_policy_mx_count(q), 2);
    assert_int_equal(smtp_mta_sts_policy_max_age(q), 86400);
    smtp_mta_sts_policy_del(q);
    assert_int_equal(smtp_mta_sts_cache_format(p, "x", 1, buf, 20), SMTP_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(smtp_mta_sts_cache_format(p, "bad id", 1, buf, sizeof buf), SMTP_ERR_INVALID_ARGUMENT);
  }
  smtp_mta_sts_policy_del(p);
}

static void test_mta_sts_cache_dir(void **state) {
  static const char pol[] = "version: STSv1\nmode: enforce\nmx: *.example.net\nmax_age: 100\n";
  char dir[64], id[33], path[128];
  smtp_mta_sts_policy *p, *q;
  int64_t t = 0;
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/libsmtp-sts-%ld", (long)getpid());
  assert_int_equal(smtp_mta_sts_policy_parse(pol, strlen(pol), &p, NULL), 0);
  assert_int_equal(smtp_mta_sts_cache_load(dir, "Example.NET", 1000, &q, id, sizeof id, NULL, NULL), SMTP_ERR_NOT_FOUND);
  assert_int_equal(smtp_mta_sts_cache_store(dir, "Example.NET", p, "v42", 1000, NULL), 0);
  /* RFC 8461 5.1: valid until fetched + max_age */
  assert_int_equal(smtp_mta_sts_cache_load(dir, "example.net", 1099, &q, id, sizeof id, &t, NULL), 0);
  assert_string_equal(id, "v42");
  assert_int_equal(t, 1000);
  assert_int_equal(smtp_mta_sts_mx_match(q, "mx.example.net"), 1);
  smtp_mta_sts_policy_del(q);
  assert_int_equal(smtp_mta_sts_cache_load(dir, "example.net", 1100, &q, id, sizeof id, NULL, NULL), SMTP_ERR_NOT_FOUND);
  assert_null(q);
  /* names that could leave the directory are refused */
  assert_int_equal(smtp_mta_sts_cache_store(dir, "../etc", p, "v1", 1, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_mta_sts_cache_store(dir, "a/b.example", p, "v1", 1, NULL), SMTP_ERR_INVALID_ARGUMENT);
  snprintf(path, sizeof path, "%s/mta-sts-example.net", dir);
  remove(path);
  rmdir(dir);
  smtp_mta_sts_policy_del(p);
}

static void test_mta_sts_txt(void **state) {
  static const struct {
    const char *txt;
    int rc;
    const char *id;
  } v[] = {
      {"v=STSv1; id=20160831085700Z;", 0, "20160831085700Z"},
      {"v=STSv1;id=abc", 0, "abc"},
      {"v = STSv1 ; id = abc ; ext=val", 0, "abc"},
      {"v=STSv1; ext=1; id=Z9", 0, "Z9"},
      {"v=STSv1", SMTP_ERR_SYNTAX, ""},
      {"v=STSv1; id=", SMTP_ERR_SYNTAX, ""},
      {"v=STSv1; id=a-b", SMTP_ERR_SYNTAX, ""},
      {"v=STSv1; id=123456789012345678901234567890123", SMTP_ERR_SYNTAX, ""}, /* 33 */
      {"v=STSv2; id=1", SMTP_ERR_SYNTAX, ""},
      {"id=1; v=STSv1", SMTP_ERR_SYNTAX, ""},
      {"v=spf1 -all", SMTP_ERR_SYNTAX, ""},
      {"v=STSv1; id=1; id=2", SMTP_ERR_SYNTAX, ""},
  };
  (void)state;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char id[33];
    int rc = smtp_mta_sts_txt_parse(v[i].txt, strlen(v[i].txt), id, sizeof id);
    if (rc != v[i].rc) fail_msg("txt %zu: %d want %d", i, rc, v[i].rc);
    if (!rc) assert_string_equal(id, v[i].id);
  }
}

static void test_mta_sts_delivery(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(SMTP_DELIVERY_DANE);
  smtp_delivery *d;
  smtp_delivery_target t;
  smtp_mta_sts_policy *p;
  const smtp_tlsrpt_failure *f;
  size_t nf;
  static const char enforce[] = "version: STSv1\nmode: enforce\nmx: *.sts.example\nmax_age: 86400\n";
  static const char testing[] = "version: STSv1\nmode: testing\nmx: *.sts.example\nmax_age: 86400\n";
  static const char other[] = "version: STSv1\nmode: enforce\nmx: mx.elsewhere.example\nmax_age: 86400\n";
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  add(&res, "sts.example", SMTP_DNS_MX, "10 rogue.example", 0);
  add(&res, "sts.example", SMTP_DNS_MX, "20 mx.sts.example", 0);
  add(&res, "rogue.example", SMTP_DNS_A, "192.0.2.66", 0);
  add(&res, "mx.sts.example", SMTP_DNS_A, "192.0.2.1", 0);

  assert_int_equal(smtp_mta_sts_policy_parse(enforce, strlen(enforce), &p, NULL), 0);
  smtp_delivery_new(&d, "sts.example", &res, &c, NULL);
  assert_int_equal(smtp_delivery_set_mta_sts(d, p), 0);
  assert_int_equal(resolve(d, &res), 0);
  assert_int_equal(smtp_delivery_set_mta_sts(d, p), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_delivery_next(d, &t), 0);
  assert_string_equal(t.host, "mx.sts.example"); /* rogue.example is not in the policy */
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_VERIFY);
  assert_int_equal(t.sts_testing, 0);
  f = smtp_delivery_tls_failures(d, &nf);
  assert_int_equal(nf, 1);
  assert_string_equal(f[0].receiving_mx_hostname, "rogue.example");
  assert_int_equal(f[0].policy_type, 1);
  smtp_delivery_report(d, &t, SMTP_DELIVERY_TLS_FAILED);
  assert_int_equal(smtp_delivery_next(d, &t), SMTP_ERR_NO_ROUTE);
  smtp_delivery_del(d);
  smtp_mta_sts_policy_del(p);

  assert_int_equal(smtp_mta_sts_policy_parse(testing, strlen(testing), &p, NULL), 0);
  smtp_delivery_new(&d, "sts.example", &res, &c, NULL);
  smtp_delivery_set_mta_sts(d, p);
  assert_int_equal(resolve(d, &res), 0);
  assert_int_equal(smtp_delivery_next(d, &t), 0);
  assert_string_equal(t.host, "rogue.example"); /* testing: delivered anyway */
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_OPPORTUNISTIC);
  assert_int_equal(t.sts_testing, 1);
  smtp_delivery_del(d);
  smtp_mta_sts_policy_del(p);

  assert_int_equal(smtp_mta_sts_policy_parse(other, strlen(other), &p, NULL), 0);
  smtp_delivery_new(&d, "sts.example", &res, &c, NULL);
  smtp_delivery_add_rcpt(d, "a@sts.example");
  smtp_delivery_set_mta_sts(d, p);
  assert_int_equal(resolve(d, &res), SMTP_ERR_MTA_STS);
  {
    smtp_delivery_rcpt_result rr;
    smtp_delivery_rcpt(d, 0, &rr);
    assert_int_equal(rr.state, SMTP_DELIVERY_RETRY);
  }
  smtp_delivery_del(d);
  smtp_mta_sts_policy_del(p);
  smtp_resolver_close(&res);
}

/* Every allocation of a delivery failing in turn: SMTP_ERR_NOMEM or a
 * complete result, never a crash or a leak (ASan in CI). */
static long fail_at, alloc_n;
static void *f_malloc(size_t n, void *ud) {
  (void)ud;
  return ++alloc_n == fail_at ? NULL : malloc(n);
}
static void f_free(void *p, void *ud) {
  (void)ud;
  free(p);
}
static void *f_calloc(size_t a, size_t b, void *ud) {
  (void)ud;
  return ++alloc_n == fail_at ? NULL : calloc(a, b);
}
static void *f_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return ++alloc_n == fail_at ? NULL : realloc(p, n);
}

static void test_alloc_failures(void **state) {
  smtp_resolver res;
  smtp_delivery_config c = cfg(SMTP_DELIVERY_DANE);
  smtp_mem m = {NULL, f_malloc, f_free, f_calloc, f_realloc};
  int completed = 0;
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  add(&res, "af.example", SMTP_DNS_MX, "10 mx1.af.example", SMTP_SCRIPTED_SECURE);
  add(&res, "af.example", SMTP_DNS_MX, "10 mx2.af.example", SMTP_SCRIPTED_SECURE);
  add(&res, "mx1.af.example", SMTP_DNS_A, "192.0.2.1", SMTP_SCRIPTED_SECURE);
  add(&res, "mx1.af.example", SMTP_DNS_AAAA, "2001:db8::1", SMTP_SCRIPTED_SECURE);
  add(&res, "mx2.af.example", SMTP_DNS_A, "192.0.2.2", SMTP_SCRIPTED_SECURE);
  add(&res, "mx2.af.example", SMTP_DNS_AAAA, NULL, SMTP_SCRIPTED_SECURE);
  add(&res, "_25._tcp.mx1.af.example", SMTP_DNS_TLSA, "3 1 1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", SMTP_SCRIPTED_SECURE);
  for (fail_at = 1; fail_at < 400 && !completed; fail_at++) {
    smtp_delivery *d = NULL;
    smtp_delivery_target t;
    int rc;
    alloc_n = 0;
    rc = smtp_delivery_new(&d, "af.example", &res, &c, &m);
    if (rc != 0) {
      assert_int_equal(rc, SMTP_ERR_NOMEM);
      continue;
    }
    rc = smtp_delivery_add_rcpt(d, "a@af.example");
    if (rc >= 0) {
      while ((rc = smtp_delivery_resolve(d)) == SMTP_ERR_WOULDBLOCK) smtp_resolver_wait(&res, 100);
      if (rc == 0) {
        assert_int_equal(smtp_delivery_next(d, &t), 0);
        smtp_delivery_tls_failure(d, &t, SMTP_TLSRPT_VALIDATION_FAILURE, "x");
        {
          /* the report from it, every allocation failing in turn */
          smtp_tlsrpt_report_info ri;
          smtp_tlsrpt_report *r = NULL;
          char out[2048];
          size_t len;
          memset(&ri, 0, sizeof ri);
          ri.version = SMTP_TLSRPT_REPORT_INFO_VERSION;
          ri.organization_name = ri.contact_info = ri.report_id = "x";
          ri.policy_domain = "af.example";
          rc = smtp_tlsrpt_report_new(&r, &ri, &m);
          if (rc == 0) rc = smtp_tlsrpt_report_add(r, d);
          if (rc == 0) {
            assert_int_equal(smtp_tlsrpt_report_format(r, out, sizeof out, &len), 0);
            assert_non_null(strstr(out, "\"tlsa\""));
          } else {
            assert_int_equal(rc, SMTP_ERR_NOMEM);
          }
          smtp_tlsrpt_report_del(r);
        }
        completed = alloc_n < fail_at;
      } else {
        assert_int_equal(rc, SMTP_ERR_NOMEM);
      }
    } else {
      assert_int_equal(rc, SMTP_ERR_NOMEM);
    }
    smtp_delivery_del(d);
  }
  assert_true(completed); /* the run without a failure was reached */
  smtp_resolver_close(&res);
}

static void test_args(void **state) {
  smtp_resolver res;
  smtp_delivery *d;
  smtp_delivery_config c = cfg(0);
  (void)state;
  smtp_resolver_scripted_new(&res, NULL);
  assert_int_equal(smtp_delivery_new(&d, "", &res, &c, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_delivery_new(&d, "a..b", &res, &c, NULL), SMTP_ERR_INVALID_ARGUMENT);
  c.version = 99;
  assert_int_equal(smtp_delivery_new(&d, "a.b", &res, &c, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_delivery_new(&d, "a.b", NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_delivery_new(&d, "a.b", &res, NULL, NULL), 0);
  assert_int_equal(smtp_delivery_rcpt_count(d), 0);
  smtp_delivery_del(d);
  smtp_delivery_del(NULL);
  assert_string_equal(smtp_tlsrpt_result_name(99), "");
  /* an allocator with a function missing is refused before any use */
  {
    smtp_mem part = {NULL, f_malloc, f_free, f_calloc, NULL};
    smtp_resolver r2;
    smtp_dns_result *dr;
    smtp_mta_sts_policy *p;
    assert_int_equal(smtp_delivery_new(&d, "a.b", &res, NULL, &part), SMTP_ERR_INVALID_ARGUMENT);
    assert_null(d);
    assert_int_equal(smtp_resolver_scripted_new(&r2, &part), SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_dns_result_failed(SMTP_DNS_TIMEOUT, "a.b", &dr, &part), SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_mta_sts_policy_parse("x", 1, &p, &part), SMTP_ERR_INVALID_ARGUMENT);
  }
  smtp_resolver_close(&res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mx_order),
      cmocka_unit_test(test_implicit_mx_cname_literal),
      cmocka_unit_test(test_dane_cname),
      cmocka_unit_test(test_tlsrpt_report),
      cmocka_unit_test(test_tlsrpt_txt),
      cmocka_unit_test(test_null_mx),
      cmocka_unit_test(test_dns_failures),
      cmocka_unit_test(test_addresses_failover_results),
      cmocka_unit_test(test_many_mx),
      cmocka_unit_test(test_dane_lookups),
      cmocka_unit_test(test_dane_match),
      cmocka_unit_test(test_mta_sts_parse),
      cmocka_unit_test(test_mta_sts_txt),
      cmocka_unit_test(test_mta_sts_cache_dir),
      cmocka_unit_test(test_mta_sts_delivery),
      cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
