/* DANE (RFC 7672 3) and MTA-STS (RFC 8461 4.2) decided inside the TLS
 * handshake: smtp_delivery_tls_verify() as the verification callback of a
 * real client connection (tls.h) over the in-memory pipe, the delivery's
 * targets coming from the scripted resolver. Runs once per TLS backend of
 * the build (SMTP_TEST_TLS_BACKEND): both must refuse the same servers in
 * the handshake and record the same TLS-RPT failures (RFC 8460 4.3).
 * Skipped when built without TLS. */
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
#include <smtp/io.h>
#include <smtp/tls.h>

#include "support/hex.h"
#include "support/tls_pipe.h"
#include "tls_backend.h"

#define WB SMTP_ERR_WOULDBLOCK

static smtp_tls_config *mx_cfg;    /* self-signed mx.dane.test */
static smtp_tls_config *other_cfg; /* self-signed other.example.test */
static char mx_pem[4096], other_pem[4096];
static unsigned char mx_der[4096];
static size_t mx_der_len;

/* One handshake of a client made from @p ccfg for @p name against the
 * server configuration @p scfg; the client's result. */
static int handshake(smtp_tls_config *ccfg, const char *name, smtp_tls_config *scfg) {
  tp_side cl, sv;
  int rc = WB, rs = WB;
  tp_open(&cl, &sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, name, NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&sv.c, scfg, NULL, NULL), 0);
  for (int i = 0; i < 2000 && (rc == WB || rs == WB); i++) {
    tp_round(&cl, &sv, &rc, &rs);
    if (rc != WB && rc != 0) break; /* refused: the server waits for nothing more */
  }
  tp_close(&cl);
  tp_close(&sv);
  return rc;
}

/* The server's leaf as the client sees it (to write TLSA records). */
static int capture_cb(smtp_tls_conn *conn, const smtp_tls_verify_info *info, void *ud) {
  (void)info, (void)ud;
  assert_int_equal(smtp_tls_peer_cert(conn, 0, mx_der, sizeof mx_der, &mx_der_len), 0);
  return SMTP_TLS_VERIFY_ACCEPT;
}

static int setup_all(void **state) {
  size_t n;
  smtp_tls_config *c;
  (void)state;
  if (!smtp_tls_available()) return 0;
  if (smtp_tls_config_new(&mx_cfg, SMTP_TLS_SERVER, NULL) != 0) return -1;
  if (smtp_tls_config_self_signed(mx_cfg, "mx.dane.test") != 0) return -1;
  if (smtp_tls_config_export_cert(mx_cfg, mx_pem, sizeof mx_pem, &n) != 0) return -1;
  if (smtp_tls_config_new(&other_cfg, SMTP_TLS_SERVER, NULL) != 0) return -1;
  if (smtp_tls_config_self_signed(other_cfg, "other.example.test") != 0) return -1;
  if (smtp_tls_config_export_cert(other_cfg, other_pem, sizeof other_pem, &n) != 0) return -1;
  if (smtp_tls_config_new(&c, SMTP_TLS_CLIENT, NULL) != 0) return -1;
  smtp_tls_config_ca_mem(c, other_pem, strlen(other_pem));
  smtp_tls_config_set_verify(c, SMTP_TLS_VERIFY_OPTIONAL);
  smtp_tls_config_set_verify_callback(c, capture_cb, NULL);
  if (handshake(c, "mx.dane.test", mx_cfg) != 0 || mx_der_len == 0) return -1;
  smtp_tls_config_del(c);
  return 0;
}

static int teardown_all(void **state) {
  (void)state;
  smtp_tls_config_del(mx_cfg);
  smtp_tls_config_del(other_cfg);
  return 0;
}

static void add(const smtp_resolver *r, const char *name, unsigned int type, const char *rd) {
  assert_int_equal(smtp_resolver_scripted_add(r, name, type, rd, SMTP_SCRIPTED_SECURE, 0), 0);
}

static smtp_delivery *resolved(const smtp_resolver *res, const char *domain, unsigned int flags,
                               smtp_delivery_target *t) {
  smtp_delivery_config cfg;
  smtp_delivery *d;
  int rc;
  memset(&cfg, 0, sizeof cfg);
  cfg.version = SMTP_DELIVERY_CONFIG_VERSION;
  cfg.flags = flags;
  assert_int_equal(smtp_delivery_new(&d, domain, res, &cfg, NULL), 0);
  assert_true(smtp_delivery_add_rcpt(d, "bob@x.test") >= 0);
  while ((rc = smtp_delivery_resolve(d)) == WB) smtp_resolver_wait(res, 1000);
  assert_int_equal(rc, 0);
  assert_int_equal(smtp_delivery_next(d, t), 0);
  return d;
}

/* A client configuration as an application makes it for a target:
 * verification required, trust anchors that do NOT vouch for the MX (so
 * only DANE can accept it), the delivery's callback. */
static smtp_tls_config *client_for(smtp_delivery *d, const char *ca_pem, int mode) {
  smtp_tls_config *c;
  assert_int_equal(smtp_tls_config_new(&c, SMTP_TLS_CLIENT, NULL), 0);
  assert_int_equal(smtp_tls_config_ca_mem(c, ca_pem, strlen(ca_pem)), 0);
  assert_int_equal(smtp_tls_config_set_verify(c, mode), 0);
  assert_int_equal(smtp_tls_config_set_verify_callback(c, smtp_delivery_tls_verify, d), 0);
  return c;
}

static void test_dane_in_handshake(void **state) {
  smtp_resolver res;
  smtp_delivery *d;
  smtp_delivery_target t;
  smtp_tls_config *c;
  const smtp_tlsrpt_failure *f;
  size_t nf;
  char hex[8300], rd[8400];
  (void)state;
  if (!smtp_tls_available()) skip();
  assert_int_equal(smtp_resolver_scripted_new(&res, NULL), 0);
  hex_encode(mx_der, mx_der_len, hex);
  snprintf(rd, sizeof rd, "3 0 0 %s", hex); /* DANE-EE, the whole certificate */
  add(&res, "dane.test", SMTP_DNS_MX, "10 mx.dane.test");
  add(&res, "mx.dane.test", SMTP_DNS_A, "192.0.2.1");
  add(&res, "mx.dane.test", SMTP_DNS_AAAA, NULL);
  add(&res, "_25._tcp.mx.dane.test", SMTP_DNS_TLSA, rd);
  /* a usable record that matches nothing the server sends */
  add(&res, "bad.test", SMTP_DNS_MX, "10 mx.dane.test");
  add(&res, "bad.test", SMTP_DNS_MX, "20 mx.bad.test");
  add(&res, "mx.bad.test", SMTP_DNS_A, "192.0.2.2");
  add(&res, "mx.bad.test", SMTP_DNS_AAAA, NULL);
  add(&res, "_25._tcp.mx.bad.test", SMTP_DNS_TLSA,
      "3 1 1 0000000000000000000000000000000000000000000000000000000000000000");

  /* match: accepted in the handshake although no trust anchor vouches
   * for the certificate (RFC 7672 3.1: the TLSA records decide) */
  d = resolved(&res, "dane.test", SMTP_DELIVERY_DANE, &t);
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_DANE);
  assert_string_equal(t.tls_name, "mx.dane.test");
  assert_int_equal(smtp_delivery_dane_result(d, &t), 0);
  c = client_for(d, other_pem, SMTP_TLS_VERIFY_REQUIRED);
  assert_int_equal(handshake(c, t.tls_name, mx_cfg), 0);
  assert_int_equal(smtp_delivery_dane_result(d, &t), SMTP_DANE_MATCH_EE);
  assert_null(smtp_delivery_tls_failures(d, &nf));
  /* the same server presenting another certificate: refused in the handshake */
  assert_int_equal(handshake(c, t.tls_name, other_cfg), SMTP_ERR_TLS_VERIFY);
  assert_int_equal(smtp_delivery_dane_result(d, &t), SMTP_ERR_DANE);
  f = smtp_delivery_tls_failures(d, &nf);
  assert_int_equal(nf, 1);
  assert_string_equal(smtp_tlsrpt_result_name(f[0].result_type), "validation-failure");
  assert_int_equal(f[0].policy_type, 2);
  assert_string_equal(f[0].receiving_mx_hostname, "mx.dane.test");
  assert_string_equal(f[0].receiving_ip, "192.0.2.1");
  /* a name that is none of the delivery's hosts: refused */
  assert_int_equal(handshake(c, "mx.example.test", mx_cfg), SMTP_ERR_TLS_VERIFY);
  smtp_tls_config_del(c);
  smtp_delivery_del(d);

  /* the second host's records match nothing: refused, recorded */
  d = resolved(&res, "bad.test", SMTP_DELIVERY_DANE, &t);
  smtp_delivery_report(d, &t, SMTP_DELIVERY_TLS_FAILED);
  assert_int_equal(smtp_delivery_next(d, &t), 0);
  assert_string_equal(t.host, "mx.bad.test");
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_DANE);
  c = client_for(d, mx_pem, SMTP_TLS_VERIFY_REQUIRED); /* even WebPKI-valid is not enough */
  assert_int_equal(handshake(c, t.tls_name, mx_cfg), SMTP_ERR_TLS_VERIFY);
  assert_int_equal(smtp_delivery_dane_result(d, &t), SMTP_ERR_DANE);
  f = smtp_delivery_tls_failures(d, &nf);
  assert_int_equal(nf, 1);
  assert_string_equal(f[0].receiving_ip, "192.0.2.2");
  smtp_tls_config_del(c);
  smtp_delivery_del(d);

  /* without DANE the host is opportunistic: any certificate is accepted */
  d = resolved(&res, "bad.test", 0, &t);
  assert_int_equal(t.tls, SMTP_DELIVERY_TLS_OPPORTUNISTIC);
  c = client_for(d, other_pem, SMTP_TLS_VERIFY_OPTIONAL);
  assert_int_equal(handshake(c, t.tls_name, mx_cfg), 0);
  assert_null(smtp_delivery_tls_failures(d, &nf));
  smtp_tls_config_del(c);
  smtp_delivery_del(d);
  smtp_resolver_close(&res);
}

/* MTA-STS enforce: the WebPKI verdict decides, failures are classified. */
static void test_sts_in_handshake(void **state) {
  static const char pol[] = "version: STSv1\nmode: enforce\nmx: mx.dane.test\nmax_age: 86400\n";
  static const char pol_t[] = "version: STSv1\nmode: testing\nmx: mx.dane.test\nmax_age: 86400\n";
  smtp_resolver res;
  smtp_delivery *d;
  smtp_delivery_target t;
  smtp_delivery_config cfg;
  smtp_mta_sts_policy *p;
  smtp_tls_config *c;
  const smtp_tlsrpt_failure *f;
  size_t nf;
  int rc;
  (void)state;
  if (!smtp_tls_available()) skip();
  assert_int_equal(smtp_resolver_scripted_new(&res, NULL), 0);
  add(&res, "sts.test", SMTP_DNS_MX, "10 mx.dane.test");
  add(&res, "mx.dane.test", SMTP_DNS_A, "192.0.2.1");
  for (int mode = 0; mode < 2; mode++) {
    memset(&cfg, 0, sizeof cfg);
    cfg.version = SMTP_DELIVERY_CONFIG_VERSION;
    assert_int_equal(smtp_delivery_new(&d, "sts.test", &res, &cfg, NULL), 0);
    assert_int_equal(smtp_mta_sts_policy_parse(mode ? pol_t : pol, strlen(mode ? pol_t : pol), &p, NULL), 0);
    assert_int_equal(smtp_delivery_set_mta_sts(d, p), 0);
    smtp_mta_sts_policy_del(p);
    while ((rc = smtp_delivery_resolve(d)) == WB) smtp_resolver_wait(&res, 1000);
    assert_int_equal(rc, 0);
    assert_int_equal(smtp_delivery_next(d, &t), 0);
    assert_int_equal(t.tls, mode ? SMTP_DELIVERY_TLS_OPPORTUNISTIC : SMTP_DELIVERY_TLS_VERIFY);
    /* verified chain and name */
    c = client_for(d, mx_pem, mode ? SMTP_TLS_VERIFY_OPTIONAL : SMTP_TLS_VERIFY_REQUIRED);
    assert_int_equal(handshake(c, t.tls_name, mx_cfg), 0);
    assert_null(smtp_delivery_tls_failures(d, &nf));
    smtp_tls_config_del(c);
    /* not trusted: refused under enforce, reported under testing */
    c = client_for(d, other_pem, mode ? SMTP_TLS_VERIFY_OPTIONAL : SMTP_TLS_VERIFY_REQUIRED);
    assert_int_equal(handshake(c, t.tls_name, mx_cfg), mode ? 0 : SMTP_ERR_TLS_VERIFY);
    f = smtp_delivery_tls_failures(d, &nf);
    assert_int_equal(nf, 1);
    assert_string_equal(smtp_tlsrpt_result_name(f[0].result_type), "certificate-not-trusted");
    assert_int_equal(f[0].policy_type, 1);
    smtp_tls_config_del(c);
    /* trusted, but for another name */
    c = client_for(d, other_pem, mode ? SMTP_TLS_VERIFY_OPTIONAL : SMTP_TLS_VERIFY_REQUIRED);
    assert_int_equal(handshake(c, t.tls_name, other_cfg), mode ? 0 : SMTP_ERR_TLS_VERIFY);
    f = smtp_delivery_tls_failures(d, &nf);
    assert_int_equal(nf, 2);
    assert_string_equal(smtp_tlsrpt_result_name(f[1].result_type), "certificate-host-mismatch");
    smtp_tls_config_del(c);
    smtp_delivery_del(d);
  }
  smtp_resolver_close(&res);
}

static void test_args(void **state) {
  smtp_tls_verify_info vi;
  (void)state;
  memset(&vi, 0, sizeof vi);
  assert_int_equal(smtp_delivery_tls_verify(NULL, &vi, NULL), SMTP_TLS_VERIFY_REFUSE);
  assert_int_equal(smtp_delivery_dane_result(NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dane_in_handshake),
      cmocka_unit_test(test_sts_in_handshake),
      cmocka_unit_test(test_args),
  };
  return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
