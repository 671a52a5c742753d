/* The TLS adapters against OpenSSL's own TLS machine as the peer (memory
 * BIOs, no sockets), for what the library's API cannot make happen on
 * either side:
 *  - the peer asks for a renegotiation after the handshake (TLS 1.2; RFC
 *    5246 7.4.1.1 HelloRequest from a server, a new ClientHello from a
 *    client): refused in both roles, the session never runs a second
 *    handshake;
 *  - the peer updates its traffic keys (TLS 1.3 KeyUpdate, RFC 8446 4.6.3),
 *    with and without asking for ours: application data keeps flowing both
 *    ways in both roles.
 * Runs once per backend (SMTP_TEST_TLS_BACKEND); skipped (77) when the
 * build has no OpenSSL to play the peer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/common.h>
#include <smtp/tls.h>

#include "tls_backend.h"

#if defined(SMTP_TEST_HAVE_OPENSSL)
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define WB SMTP_ERR_WOULDBLOCK

typedef struct pair {
  smtp_tls_conn *ours;
  SSL *peer;
  BIO *peer_in, *peer_out; /* what the peer reads / what it wrote */
} pair;

/* Move ciphertext both ways until nothing moves. */
static void pump(pair *p) {
  for (int moved = 1, i = 0; moved && i < 100; i++) {
    const char *d;
    smtp_ssize n;
    char buf[16384];
    int r;
    moved = 0;
    while ((n = smtp_tls_pending_output(p->ours, &d)) > 0) {
      assert_int_equal(BIO_write(p->peer_in, d, (int)n), (int)n);
      assert_int_equal(smtp_tls_consume_output(p->ours, (size_t)n), 0);
      moved = 1;
    }
    while ((r = BIO_read(p->peer_out, buf, (int)(smtp_tls_feed_space(p->ours) < sizeof buf
                                                      ? smtp_tls_feed_space(p->ours)
                                                      : sizeof buf))) > 0) {
      assert_int_equal(smtp_tls_feed(p->ours, buf, (size_t)r), r);
      moved = 1;
    }
  }
}

static X509 *peer_cert;
static EVP_PKEY *peer_key;

/* A throw-away P-256 certificate for mx.example.test, for the peer server. */
static void make_peer_identity(void) {
  X509_NAME *name;
  if (peer_cert) return;
  peer_key = EVP_EC_gen("P-256");
  assert_non_null(peer_key);
  peer_cert = X509_new();
  assert_non_null(peer_cert);
  ASN1_INTEGER_set(X509_get_serialNumber(peer_cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(peer_cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(peer_cert), 86400);
  X509_set_pubkey(peer_cert, peer_key);
  name = X509_get_subject_name(peer_cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mx.example.test", -1, -1, 0);
  X509_set_issuer_name(peer_cert, name);
  assert_true(X509_sign(peer_cert, peer_key, EVP_sha256()) > 0);
}

/* ours: a connection of the backend under test in role `role`; the peer
 * is OpenSSL in the other role, TLS versions capped at max_version. */
static void open_pair(pair *p, smtp_tls_config **cfg, int role, int max_version) {
  SSL_CTX *ctx;
  int rc = WB, rp = -1;
  memset(p, 0, sizeof *p);
  if (role == SMTP_TLS_SERVER) {
    assert_int_equal(smtp_tls_config_new(cfg, SMTP_TLS_SERVER, NULL), 0);
    assert_int_equal(smtp_tls_config_self_signed(*cfg, "mx.example.test"), 0);
    assert_int_equal(smtp_tls_conn_new(&p->ours, *cfg, NULL, NULL), 0);
    ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  } else {
    make_peer_identity();
    assert_int_equal(smtp_tls_config_new(cfg, SMTP_TLS_CLIENT, NULL), 0);
    assert_int_equal(smtp_tls_config_set_verify(*cfg, SMTP_TLS_VERIFY_NONE), 0);
    assert_int_equal(smtp_tls_conn_new(&p->ours, *cfg, "mx.example.test", NULL), 0);
    ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate(ctx, peer_cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, peer_key), 1);
  }
  SSL_CTX_set_max_proto_version(ctx, max_version);
  p->peer = SSL_new(ctx);
  SSL_CTX_free(ctx); /* the SSL holds a reference */
  assert_non_null(p->peer);
  p->peer_in = BIO_new(BIO_s_mem());
  p->peer_out = BIO_new(BIO_s_mem());
  assert_non_null(p->peer_in);
  assert_non_null(p->peer_out);
  SSL_set_bio(p->peer, p->peer_in, p->peer_out);
  if (role == SMTP_TLS_SERVER) SSL_set_connect_state(p->peer);
  else SSL_set_accept_state(p->peer);
  for (int i = 0; i < 50 && (rc == WB || rp != 1); i++) {
    if (rp != 1) {
      rp = SSL_do_handshake(p->peer);
      if (rp != 1) assert_int_equal(SSL_get_error(p->peer, rp), SSL_ERROR_WANT_READ);
    }
    pump(p);
    if (rc == WB) rc = smtp_tls_handshake(p->ours);
    pump(p);
  }
  assert_int_equal(rc, 0);
  assert_int_equal(rp, 1);
}

static void close_pair(pair *p, smtp_tls_config *cfg) {
  smtp_tls_conn_del(p->ours);
  SSL_free(p->peer); /* frees both BIOs */
  smtp_tls_config_del(cfg);
  ERR_clear_error();
}

/* Application data from the peer to ours; 1 when it arrived intact. */
static int peer_to_ours(pair *p, const char *msg) {
  char buf[256];
  size_t got = 0, len = strlen(msg);
  size_t w = 0;
  if (SSL_write_ex(p->peer, msg, len, &w) != 1 || w != len) return 0;
  for (int i = 0; i < 20 && got < len; i++) {
    smtp_ssize r;
    pump(p);
    r = smtp_tls_read(p->ours, buf + got, sizeof buf - got);
    if (r > 0) got += (size_t)r;
    else if (r != WB) return 0;
  }
  return got == len && memcmp(buf, msg, len) == 0;
}

/* Application data from ours to the peer; 1 when it arrived intact. */
static int ours_to_peer(pair *p, const char *msg) {
  char buf[256];
  size_t got = 0, len = strlen(msg);
  if (smtp_tls_write(p->ours, msg, len) != (smtp_ssize)len) return 0;
  for (int i = 0; i < 20 && got < len; i++) {
    size_t n = 0;
    pump(p);
    if (SSL_read_ex(p->peer, buf + got, sizeof buf - got, &n) == 1) got += n;
    else if (SSL_get_error(p->peer, 0) != SSL_ERROR_WANT_READ) return 0;
  }
  return got == len && memcmp(buf, msg, len) == 0;
}

/* A client-initiated renegotiation (a second ClientHello under the first
 * session's keys) never completes against our server. */
static void test_renegotiation_from_client(void **state) {
  pair p;
  smtp_tls_config *cfg;
  char buf[64];
  int r = 0;
  (void)state;
  open_pair(&p, &cfg, SMTP_TLS_SERVER, TLS1_2_VERSION);
  assert_string_equal(SSL_get_version(p.peer), "TLSv1.2");
  assert_true(peer_to_ours(&p, "EHLO client.example\r\n"));
  assert_int_equal(SSL_renegotiate(p.peer), 1);
  for (int i = 0; i < 20; i++) {
    smtp_ssize sr;
    r = SSL_do_handshake(p.peer);
    if (r == 1) break;
    if (SSL_get_error(p.peer, r) != SSL_ERROR_WANT_READ) break;
    pump(&p);
    sr = smtp_tls_read(p.ours, buf, sizeof buf);
    assert_true(sr == WB || sr < 0); /* nothing readable, or the session ends */
    pump(&p);
  }
  /* the renegotiation handshake did not finish */
  assert_true(r != 1 || SSL_renegotiate_pending(p.peer));
  close_pair(&p, cfg);
}

/* A server's HelloRequest: our client never answers with a ClientHello,
 * so the renegotiation the peer asked for never completes. */
static void test_renegotiation_from_server(void **state) {
  pair p;
  smtp_tls_config *cfg;
  char buf[64];
  int r = 0;
  (void)state;
  open_pair(&p, &cfg, SMTP_TLS_CLIENT, TLS1_2_VERSION);
  assert_string_equal(SSL_get_version(p.peer), "TLSv1.2");
  assert_true(peer_to_ours(&p, "220 mx.example.test\r\n"));
  assert_int_equal(SSL_renegotiate(p.peer), 1);
  r = SSL_do_handshake(p.peer); /* sends the HelloRequest */
  for (int i = 0; i < 20; i++) {
    smtp_ssize sr;
    size_t n;
    pump(&p);
    sr = smtp_tls_read(p.ours, buf, sizeof buf);
    assert_true(sr == WB || sr < 0);
    pump(&p);
    if (SSL_read_ex(p.peer, buf, sizeof buf, &n) == 1) fail_msg("unexpected application data");
    r = SSL_renegotiate_pending(p.peer);
  }
  assert_int_equal(r, 1); /* still waiting for a ClientHello that never came */
  close_pair(&p, cfg);
}

static int ours_is_tls13(const pair *p) { return strcmp(SSL_get_version(p->peer), "TLSv1.3") == 0; }

/* KeyUpdate from the peer, asking for ours and not asking, in one role. */
static void key_update(int role) {
  pair p;
  smtp_tls_config *cfg;
  open_pair(&p, &cfg, role, TLS1_3_VERSION);
  if (!ours_is_tls13(&p)) { /* a backend without TLS 1.3 (Mbed TLS 2.28) */
    close_pair(&p, cfg);
    skip();
  }
  assert_true(peer_to_ours(&p, "before\r\n"));
  assert_true(ours_to_peer(&p, "250 before\r\n"));
  assert_int_equal(SSL_key_update(p.peer, SSL_KEY_UPDATE_REQUESTED), 1);
  assert_true(peer_to_ours(&p, "after a requested update\r\n"));
  assert_true(ours_to_peer(&p, "250 with our keys updated too\r\n"));
  assert_int_equal(SSL_key_update(p.peer, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
  assert_true(peer_to_ours(&p, "after an unrequested update\r\n"));
  assert_true(ours_to_peer(&p, "250 still fine\r\n"));
  assert_true(smtp_tls_is_established(p.ours));
  close_pair(&p, cfg);
}

static void test_key_update_server(void **state) {
  (void)state;
  key_update(SMTP_TLS_SERVER);
}

static void test_key_update_client(void **state) {
  (void)state;
  key_update(SMTP_TLS_CLIENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_renegotiation_from_client),
      cmocka_unit_test(test_renegotiation_from_server),
      cmocka_unit_test(test_key_update_server),
      cmocka_unit_test(test_key_update_client),
  };
  int r;
  (void)test_tls_backend(); /* exits 77 when the named backend is not built in */
  r = cmocka_run_group_tests(tests, NULL, NULL);
  X509_free(peer_cert);
  EVP_PKEY_free(peer_key);
  return r;
}
#else
int main(void) {
  puts("no OpenSSL in this build to play the peer: skip");
  return 77;
}
#endif
