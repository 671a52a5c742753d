/* TLS over memory (tls.h): a self-signed server and a client talking
 * through the in-memory pipe pair (io.h). Handshake, verification (RFC 7817
 * / RFC 6125 6.4.3 host names), configuration errors, garbage and truncated
 * handshakes, close_notify and alerts (docs/security.md 2: a TLS close ends the
 * session, no plaintext fallback), TLS facts, SNI, the write-retry rule,
 * and allocation failures. Skipped when built without TLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <smtp/io.h>
#include <smtp/tls.h>

#include "adapters.h"
#include "support/fail_mem.h"
#include "support/tls_pipe.h"
#include "tls_backend.h"

#define WB SMTP_ERR_WOULDBLOCK

/* ---- shared fixtures: made once, they cost a key generation each ---- */
static smtp_tls_config *srv_cfg;   /* self-signed mx.example.test */
static smtp_tls_config *other_cfg; /* self-signed other.example.test */
static smtp_tls_config *wild_cfg;  /* self-signed *.example.test */
static char srv_pem[4096], other_pem[4096], wild_pem[4096];

static int setup_all(void **state) {
  size_t n;
  (void)state;
  if (!smtp_tls_available()) return 0;
  if (smtp_tls_config_new(&srv_cfg, SMTP_TLS_SERVER, NULL) != 0) return -1;
  if (smtp_tls_config_self_signed(srv_cfg, "mx.example.test") != 0) return -1;
  if (smtp_tls_config_export_cert(srv_cfg, srv_pem, sizeof srv_pem, &n) != 0) return -1;
  if (smtp_tls_config_new(&other_cfg, SMTP_TLS_SERVER, NULL) != 0) return -1;
  if (smtp_tls_config_self_signed(other_cfg, "other.example.test") != 0) return -1;
  if (smtp_tls_config_export_cert(other_cfg, other_pem, sizeof other_pem, &n) != 0) return -1;
  if (smtp_tls_config_new(&wild_cfg, SMTP_TLS_SERVER, NULL) != 0) return -1;
  if (smtp_tls_config_self_signed(wild_cfg, "*.example.test") != 0) return -1;
  if (smtp_tls_config_export_cert(wild_cfg, wild_pem, sizeof wild_pem, &n) != 0) return -1;
  return 0;
}

static int teardown_all(void **state) {
  (void)state;
  smtp_tls_config_del(srv_cfg);
  smtp_tls_config_del(other_cfg);
  smtp_tls_config_del(wild_cfg);
  return 0;
}

#define SKIP_WITHOUT_TLS()                                                                         \
  do {                                                                                             \
    if (!smtp_tls_available()) {                                                                   \
      skip();                                                                                      \
    }                                                                                              \
  } while (0)

/* ---- the two sides: tp_side, a TLS connection over one end of a memory
 * pipe (support/tls_pipe.h) ---- */

static smtp_tls_config *client_cfg(const char *ca_pem) {
  smtp_tls_config *cfg;
  assert_int_equal(smtp_tls_config_new(&cfg, SMTP_TLS_CLIENT, NULL), 0);
  assert_int_equal(smtp_tls_config_role(cfg), SMTP_TLS_CLIENT);
  if (ca_pem) assert_int_equal(smtp_tls_config_ca_mem(cfg, ca_pem, strlen(ca_pem)), 0);
  return cfg;
}

/* Write all of data from one side and read it on the other. */
static void transfer(tp_side *from, tp_side *to, const char *data, size_t len) {
  size_t sent = 0, got = 0;
  char *buf = malloc(len + 1);
  assert_non_null(buf);
  for (int i = 0; i < 100000 && got < len; i++) {
    if (sent < len) {
      smtp_ssize w = smtp_tls_write(from->c, data + sent, len - sent);
      if (w > 0) sent += (size_t)w;
      else assert_int_equal(w, WB);
    }
    tp_flush(from);
    tp_fill(to);
    for (;;) {
      smtp_ssize r = smtp_tls_read(to->c, buf + got, len - got);
      if (r > 0) {
        got += (size_t)r;
        if (got == len) break;
        continue;
      }
      assert_int_equal(r, WB);
      break;
    }
  }
  assert_int_equal(got, len);
  assert_memory_equal(buf, data, len);
  assert_false(smtp_tls_has_pending(to->c));
  free(buf);
}

/* ---------------------------------------------------------------- */

static void test_handshake_ok(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  tp_side cl, sv;
  int rc, rs;
  smtp_tls_info ci, si;
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  tp_open(&cl, &sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, "mx.example.test", &fm_mem), 0);
  assert_int_equal(smtp_tls_conn_new(&sv.c, srv_cfg, NULL, &fm_mem), 0);
  assert_int_equal(smtp_tls_get_info(cl.c, &ci), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_tls_read(cl.c, (char[4]){0}, 4), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_tls_write(cl.c, "x", 1), SMTP_ERR_INVALID_STATE);
  tp_handshake(&cl, &sv, &rc, &rs);
  assert_int_equal(rc, 0);
  assert_int_equal(rs, 0);
  assert_true(smtp_tls_is_established(cl.c));
  assert_int_equal(smtp_tls_handshake(cl.c), 0); /* again: still done */
  /* TLS facts for the session (smtp_tls_info) */
  assert_int_equal(smtp_tls_get_info(cl.c, &ci), 0);
  assert_int_equal(smtp_tls_get_info(sv.c, &si), 0);
  assert_non_null(ci.protocol);
  assert_true(strcmp(ci.protocol, "TLSv1.2") == 0 || strcmp(ci.protocol, "TLSv1.3") == 0);
  assert_string_equal(ci.protocol, si.protocol);
  assert_non_null(ci.cipher);
  assert_string_equal(ci.cipher, si.cipher);
  assert_int_equal(ci.peer_verified, 1);
  assert_int_equal(ci.has_peer_cert, 1);
  assert_null(ci.sni);
  assert_int_equal(si.has_peer_cert, 0); /* no client certificate asked */
  assert_int_equal(si.peer_verified, 0);
  assert_non_null(si.sni);
  assert_string_equal(si.sni, "mx.example.test"); /* SNI sent by the client */
  /* application data both ways */
  transfer(&cl, &sv, "EHLO client.example.test\r\n", 26);
  transfer(&sv, &cl, "250-mx.example.test\r\n250 PIPELINING\r\n", 37);
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
  assert_int_equal(fm_live, 0);
}

/* Bulk data through a small pipe that moves 7 bytes per call: short
 * writes, partial records, the same-arguments retry, check_pending. */
static void test_bulk_small_pipe(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  tp_side cl, sv;
  int rc, rs;
  size_t len = 100000;
  char *data = malloc(len);
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  assert_non_null(data);
  srand(42);
  for (size_t i = 0; i < len; i++) data[i] = (char)(rand() & 0xff);
  tp_open(&cl, &sv, 1000);
  smtp_io_pipe_set_chunk(&cl.io, 7);
  smtp_io_pipe_set_chunk(&sv.io, 7);
  assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, "mx.example.test", NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&sv.c, srv_cfg, NULL, NULL), 0);
  tp_handshake(&cl, &sv, &rc, &rs);
  assert_int_equal(rc, 0);
  assert_int_equal(rs, 0);
  transfer(&cl, &sv, data, len);
  transfer(&sv, &cl, data, len);
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
  free(data);
}

/* smtp_tls_write after WOULDBLOCK must be called with the same data; the
 * connection remembers the length it started with. */
static void test_write_retry(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  tp_side cl, sv;
  int rc, rs;
  static char data[40000];
  smtp_ssize w;
  size_t total = 0;
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  memset(data, 'a', sizeof data);
  tp_open(&cl, &sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, "mx.example.test", NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&sv.c, srv_cfg, NULL, NULL), 0);
  tp_handshake(&cl, &sv, &rc, &rs);
  assert_int_equal(rc, 0);
  /* Without flushing, the output buffer fills up and a write blocks. */
  while ((w = smtp_tls_write(cl.c, data, 1000)) > 0) total += (size_t)w;
  assert_int_equal(w, WB);
  assert_true(total > 0);
  assert_int_equal(smtp_tls_write(cl.c, data, 999), SMTP_ERR_INVALID_ARGUMENT); /* shorter */
  tp_flush(&cl);
  /* Longer is fine: the remembered 1000 bytes are reported. */
  assert_int_equal(smtp_tls_write(cl.c, data, sizeof data), 1000);
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
}

static void expect_verify_fail(const char *ca_pem, const char *host, smtp_tls_config *server) {
  tp_side cl, sv;
  int rc, rs;
  char why[256];
  smtp_tls_config *ccfg = client_cfg(ca_pem);
  tp_open(&cl, &sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, host, NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&sv.c, server, NULL, NULL), 0);
  tp_handshake(&cl, &sv, &rc, &rs);
  assert_int_equal(rc, SMTP_ERR_TLS_VERIFY);
  assert_int_not_equal(rs, 0); /* the server never gets an established session */
  assert_int_equal(smtp_tls_handshake(cl.c), SMTP_ERR_TLS_VERIFY); /* sticky */
  assert_int_equal(smtp_tls_last_error(cl.c, why, sizeof why), 0);
  assert_non_null(strstr(why, "verif"));
  assert_false(smtp_tls_is_established(cl.c));
  assert_int_equal(smtp_tls_write(cl.c, "MAIL", 4), SMTP_ERR_TLS_VERIFY);
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
}

static void test_wrong_hostname(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  expect_verify_fail(srv_pem, "mail.example.test", srv_cfg);
  expect_verify_fail(srv_pem, "example.test", srv_cfg);
  expect_verify_fail(srv_pem, "mx.example.test.evil", srv_cfg);
}

static void test_untrusted(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  /* trusts other.example.test's certificate only */
  expect_verify_fail(other_pem, "mx.example.test", srv_cfg);
}

static int handshake_with(const char *ca_pem, const char *host, smtp_tls_config *server, int mode,
                          smtp_tls_info *info) {
  tp_side cl, sv;
  int rc, rs;
  smtp_tls_config *ccfg = client_cfg(ca_pem);
  assert_int_equal(smtp_tls_config_set_verify(ccfg, mode), 0);
  tp_open(&cl, &sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, host, NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&sv.c, server, NULL, NULL), 0);
  tp_handshake(&cl, &sv, &rc, &rs);
  if (rc == 0 && info) assert_int_equal(smtp_tls_get_info(cl.c, info), 0);
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
  return rc;
}

/* RFC 6125 6.4.3 / RFC 7817: "*" matches exactly one whole left-most label. */
static void test_wildcard(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  static const struct {
    const char *host;
    int want;
  } rows[] = {
      {"mx.example.test", 0},
      {"a.example.test", 0},
      {"MX.Example.Test", 0}, /* case-insensitive */
      {"a.b.example.test", SMTP_ERR_TLS_VERIFY},
      {"example.test", SMTP_ERR_TLS_VERIFY},
      {"mx.example.org", SMTP_ERR_TLS_VERIFY},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    assert_int_equal(handshake_with(wild_pem, rows[i].host, wild_cfg, SMTP_TLS_VERIFY_REQUIRED, NULL),
                     rows[i].want);
}

/* Opportunistic: OPTIONAL finishes the handshake and reports the outcome;
 * NONE does not check at all. */
static void test_verify_modes(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_info info;
  assert_int_equal(handshake_with(other_pem, "mx.example.test", srv_cfg, SMTP_TLS_VERIFY_OPTIONAL, &info), 0);
  assert_int_equal(info.peer_verified, 0);
  assert_int_equal(info.has_peer_cert, 1);
  assert_int_equal(handshake_with(srv_pem, "mx.example.test", srv_cfg, SMTP_TLS_VERIFY_OPTIONAL, &info), 0);
  assert_int_equal(info.peer_verified, 1);
  assert_int_equal(handshake_with(other_pem, "wrong.example", srv_cfg, SMTP_TLS_VERIFY_NONE, &info), 0);
  assert_int_equal(info.peer_verified, 0);
  assert_int_equal(smtp_tls_config_set_verify(srv_cfg, 7), SMTP_ERR_INVALID_ARGUMENT);
}

static void test_bad_config(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *cfg, *ccfg;
  char why[256], key[2048];
  static const char garbage[] = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
  assert_int_equal(smtp_tls_config_new(&cfg, SMTP_TLS_SERVER, &fm_mem), 0);
  /* server without certificate cannot make connections */
  {
    smtp_tls_conn *c;
    assert_int_equal(smtp_tls_conn_new(&c, cfg, NULL, NULL), SMTP_ERR_TLS_CONFIG);
    assert_null(c);
  }
  assert_int_equal(smtp_tls_config_cert_mem(cfg, garbage, strlen(garbage), garbage, strlen(garbage), NULL),
                   SMTP_ERR_TLS_CONFIG);
  assert_int_equal(smtp_tls_config_last_error(cfg, why, sizeof why), 0);
  assert_true(strlen(why) > 0);
  assert_int_equal(smtp_tls_config_cert_mem(cfg, "\x30\x03\x02\x01\x00", 5, "x", 1, NULL), SMTP_ERR_TLS_CONFIG);
  assert_int_equal(smtp_tls_config_cert_file(cfg, "/nonexistent/cert.pem", "/nonexistent/key.pem", NULL),
                   SMTP_ERR_TLS_CONFIG);
  assert_int_equal(smtp_tls_config_ca_mem(cfg, garbage, strlen(garbage)), SMTP_ERR_TLS_CONFIG);
  assert_int_equal(smtp_tls_config_ca_file(cfg, "/nonexistent/ca.pem"), SMTP_ERR_TLS_CONFIG);
  assert_int_equal(smtp_tls_config_ca_dir(cfg, "/nonexistent"), SMTP_ERR_TLS_CONFIG);
  /* a key that does not belong to the certificate */
  assert_int_equal(smtp__tls_export_key_pem(other_cfg, key, sizeof key), 0);
  assert_int_equal(smtp_tls_config_cert_mem(cfg, srv_pem, strlen(srv_pem), key, strlen(key), NULL),
                   SMTP_ERR_TLS_CONFIG);
  assert_int_equal(smtp_tls_config_last_error(cfg, why, sizeof why), 0);
  assert_non_null(strstr(why, "does not match"));
  /* garbage key after a good certificate */
  assert_int_equal(smtp_tls_config_cert_mem(cfg, srv_pem, strlen(srv_pem), garbage, strlen(garbage), NULL),
                   SMTP_ERR_TLS_CONFIG);
  /* the matching pair works, and only once */
  assert_int_equal(smtp__tls_export_key_pem(srv_cfg, key, sizeof key), 0);
  assert_int_equal(smtp_tls_config_cert_mem(cfg, srv_pem, strlen(srv_pem), key, strlen(key), NULL), 0);
  assert_int_equal(smtp_tls_config_cert_mem(cfg, srv_pem, strlen(srv_pem), key, strlen(key), NULL),
                   SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_tls_config_self_signed(cfg, "x.example"), SMTP_ERR_INVALID_STATE);
  /* and serves a verified handshake */
  assert_int_equal(handshake_with(srv_pem, "mx.example.test", cfg, SMTP_TLS_VERIFY_REQUIRED, NULL), 0);
  smtp_tls_config_del(cfg);
  assert_int_equal(fm_live, 0);

  /* files: write the pair out and load it back */
  {
    char cpath[] = "/tmp/smtp-test-cert-XXXXXX", kpath[] = "/tmp/smtp-test-key-XXXXXX";
    int cfd = mkstemp(cpath), kfd = mkstemp(kpath);
    FILE *f;
    assert_true(cfd >= 0 && kfd >= 0);
    f = fdopen(cfd, "w");
    fputs(srv_pem, f);
    fclose(f);
    f = fdopen(kfd, "w");
    fputs(key, f);
    fclose(f);
    assert_int_equal(smtp_tls_config_new(&cfg, SMTP_TLS_SERVER, NULL), 0);
    assert_int_equal(smtp_tls_config_cert_file(cfg, cpath, kpath, NULL), 0);
    assert_int_equal(handshake_with(srv_pem, "mx.example.test", cfg, SMTP_TLS_VERIFY_REQUIRED, NULL), 0);
    smtp_tls_config_del(cfg);
    /* the same file as CA for a client */
    ccfg = client_cfg(NULL);
    assert_int_equal(smtp_tls_config_ca_file(ccfg, cpath), 0);
    smtp_tls_config_del(ccfg);
    /* the key file is not a certificate */
    assert_int_equal(smtp_tls_config_new(&cfg, SMTP_TLS_SERVER, NULL), 0);
    assert_int_equal(smtp_tls_config_cert_file(cfg, kpath, kpath, NULL), SMTP_ERR_TLS_CONFIG);
    smtp_tls_config_del(cfg);
    remove(cpath);
    remove(kpath);
  }
}

static void test_args(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *cfg;
  smtp_tls_conn *c;
  char buf[8];
  size_t n;
  assert_int_equal(smtp_tls_config_new(NULL, SMTP_TLS_SERVER, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_config_new(&cfg, 5, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_null(cfg);
  assert_int_equal(smtp_tls_config_role(NULL), SMTP_ERR_INVALID_ARGUMENT);
  smtp_tls_config_del(NULL);
  smtp_tls_conn_del(NULL);
  /* self-signed names: DNS names, wildcard only as the whole first label */
  assert_int_equal(smtp_tls_config_new(&cfg, SMTP_TLS_SERVER, NULL), 0);
  static const char *const bad_names[] = {"", ".", "a..b", "a.", "bad_name.example", "x,CN=evil",
                                          "a b", "*", "a.*.example", "*x.example", "x*.example",
                                          "\xc3\xa9.example"};
  for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
    assert_int_equal(smtp_tls_config_self_signed(cfg, bad_names[i]), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_config_export_cert(cfg, buf, sizeof buf, &n), SMTP_ERR_NOT_FOUND);
  assert_int_equal(smtp_tls_conn_new(&c, cfg, "host", NULL), SMTP_ERR_INVALID_ARGUMENT); /* server + name */
  assert_int_equal(smtp_tls_config_set_sni_callback(NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  smtp_tls_config_del(cfg);
  /* client: verification needs a host name */
  assert_int_equal(smtp_tls_config_new(&cfg, SMTP_TLS_CLIENT, NULL), 0);
  assert_int_equal(smtp_tls_config_ca_mem(cfg, srv_pem, strlen(srv_pem)), 0);
  assert_int_equal(smtp_tls_conn_new(&c, cfg, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_config_set_sni_callback(cfg, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_config_set_verify(cfg, SMTP_TLS_VERIFY_NONE), 0);
  assert_int_equal(smtp_tls_conn_new(&c, cfg, NULL, NULL), 0);
  assert_int_equal(smtp_tls_feed(c, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_consume_output(c, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_close_notify(c), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_tls_last_error(c, buf, 0), SMTP_ERR_INVALID_ARGUMENT);
  smtp_tls_conn_del(c);
  /* versions */
  assert_int_equal(smtp_tls_config_set_versions(cfg, 0x0301, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_config_set_versions(cfg, SMTP_TLS_VERSION_1_3, SMTP_TLS_VERSION_1_2),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_config_set_versions(cfg, SMTP_TLS_VERSION_1_2, SMTP_TLS_VERSION_1_2), 0);
  {
    int r = smtp_tls_config_set_versions(cfg, SMTP_TLS_VERSION_1_3, 0);
    assert_true(r == 0 || r == SMTP_ERR_UNSUPPORTED); /* 3.6 has TLS 1.3, 2.28 not */
  }
  smtp_tls_config_del(cfg);
  assert_true(strstr(smtp_tls_backend(), "Mbed TLS") == smtp_tls_backend() ||
              strstr(smtp_tls_backend(), "OpenSSL") == smtp_tls_backend());
}

/* The export gives PEM the client can trust; short buffers say how much. */
static void test_export(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  char small[16], *big;
  size_t need = 0, got = 0;
  assert_int_equal(smtp_tls_config_export_cert(srv_cfg, small, sizeof small, &need), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_true(need > 100);
  assert_int_equal(smtp_tls_config_export_cert(srv_cfg, NULL, 0, &need), SMTP_ERR_BUFFER_TOO_SMALL);
  big = malloc(need + 1);
  assert_int_equal(smtp_tls_config_export_cert(srv_cfg, big, need, &got), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_tls_config_export_cert(srv_cfg, big, need + 1, &got), 0);
  assert_int_equal(got, need);
  assert_int_equal(strlen(big), need);
  assert_memory_equal(big, "-----BEGIN CERTIFICATE-----\n", 28);
  assert_string_equal(big, srv_pem);
  free(big);
}

/* A peer that sends garbage or stops mid-handshake gives
 * SMTP_ERR_TLS_HANDSHAKE, never a crash or a hang. */
static void test_garbage_handshake(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
#define ROW(s) {s, sizeof(s) - 1}
  static const struct {
    const char *data;
    size_t len;
  } inputs[] = {
      ROW("EHLO plaintext.example\r\nMAIL FROM:<a@b>\r\n"), /* plaintext after STARTTLS */
      ROW("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"),      /* ClientHello that is too short */
      ROW("\x16\x03\x03\xff\xff"),                          /* record longer than allowed */
      ROW("\x15\x03\x03\x00\x02\x02\x28"),                  /* a fatal alert instead of a hello */
      ROW("\x17\x03\x03\x00\x03" "abc"),                    /* application data before the handshake */
      ROW("\x16\x03\x03\x00\x00"),                          /* empty handshake record */
  };
#undef ROW
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    smtp_tls_conn *c;
    char why[256];
    int r;
    assert_int_equal(smtp_tls_conn_new(&c, srv_cfg, NULL, &fm_mem), 0);
    assert_int_equal(smtp_tls_feed(c, inputs[i].data, inputs[i].len), inputs[i].len);
    r = smtp_tls_handshake(c);
    if (r == WB) { /* wants more: the transport ends */
      smtp_tls_feed_eof(c);
      r = smtp_tls_handshake(c);
    }
    assert_int_equal(r, SMTP_ERR_TLS_HANDSHAKE);
    smtp_tls_last_error(c, why, sizeof why);
    assert_true(strlen(why) > 0);
    smtp_tls_conn_del(c);
  }
  /* random bytes, many seeds, fed at random split points */
  srand(7);
  for (int seed = 0; seed < 200; seed++) {
    smtp_tls_conn *c;
    char junk[600];
    int r = WB;
    size_t off = 0, n = (size_t)(rand() % 600) + 1;
    for (size_t k = 0; k < n; k++) junk[k] = (char)(rand() & 0xff);
    if (seed % 2) junk[0] = 0x16; /* looks like a handshake record */
    assert_int_equal(smtp_tls_conn_new(&c, srv_cfg, NULL, NULL), 0);
    while (off < n && r == WB) {
      size_t step = (size_t)(rand() % 50) + 1;
      if (step > n - off) step = n - off;
      smtp_tls_feed(c, junk + off, step);
      off += step;
      r = smtp_tls_handshake(c);
    }
    if (r == WB) {
      smtp_tls_feed_eof(c);
      r = smtp_tls_handshake(c);
    }
    assert_int_equal(r, SMTP_ERR_TLS_HANDSHAKE);
    smtp_tls_conn_del(c);
  }
  assert_int_equal(fm_live, 0);
}

/* The server hangs up half way: the client sees a handshake failure. */
static void test_truncated_handshake(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  smtp_tls_conn *cl, *sv;
  const char *p;
  smtp_ssize n;
  assert_int_equal(smtp_tls_conn_new(&cl, ccfg, "mx.example.test", NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&sv, srv_cfg, NULL, NULL), 0);
  assert_int_equal(smtp_tls_handshake(cl), WB);
  n = smtp_tls_pending_output(cl, &p);
  assert_true(n > 0);
  assert_int_equal(smtp_tls_feed(sv, p, (size_t)n), n);
  smtp_tls_consume_output(cl, (size_t)n);
  assert_int_equal(smtp_tls_handshake(sv), WB);
  n = smtp_tls_pending_output(sv, &p);
  assert_true(n > 20);
  /* half of the server's first flight, then EOF */
  assert_int_equal(smtp_tls_feed(cl, p, (size_t)n / 2), n / 2);
  assert_int_equal(smtp_tls_handshake(cl), WB);
  smtp_tls_feed_eof(cl);
  assert_int_equal(smtp_tls_feed(cl, "x", 1), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_tls_handshake(cl), SMTP_ERR_TLS_HANDSHAKE);
  smtp_tls_conn_del(cl);
  smtp_tls_conn_del(sv);
  smtp_tls_config_del(ccfg);
}

static void established(smtp_tls_config *ccfg, tp_side *cl, tp_side *sv) {
  int rc, rs;
  tp_open(cl, sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl->c, ccfg, "mx.example.test", NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&sv->c, srv_cfg, NULL, NULL), 0);
  tp_handshake(cl, sv, &rc, &rs);
  assert_int_equal(rc, 0);
  assert_int_equal(rs, 0);
}

/* close_notify ends the session: SMTP_ERR_TLS_CLOSED, sticky, no way back
 * to plaintext (docs/security.md 2, CVE-2020-28018 class). */
static void test_close_notify(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  tp_side cl, sv;
  char buf[64];
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  established(ccfg, &cl, &sv);
  transfer(&cl, &sv, "QUIT\r\n", 6);
  assert_int_equal(smtp_tls_close_notify(cl.c), 0);
  tp_flush(&cl);
  tp_fill(&sv);
  assert_int_equal(smtp_tls_read(sv.c, buf, sizeof buf), SMTP_ERR_TLS_CLOSED);
  assert_int_equal(smtp_tls_read(sv.c, buf, sizeof buf), SMTP_ERR_TLS_CLOSED);
  assert_int_equal(smtp_tls_write(sv.c, "221 bye\r\n", 9), SMTP_ERR_TLS_CLOSED);
  assert_int_equal(smtp_tls_handshake(sv.c), SMTP_ERR_TLS_CLOSED);
  assert_false(smtp_tls_is_established(sv.c));
  smtp_tls_last_error(sv.c, buf, sizeof buf);
  assert_non_null(strstr(buf, "close_notify"));
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
}

/* The transport ends without close_notify: a truncation (SMTP_ERR_EOF). */
static void test_eof_without_close_notify(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  tp_side cl, sv;
  char buf[64];
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  established(ccfg, &cl, &sv);
  assert_int_equal(smtp_tls_write(cl.c, "NOOP\r\n", 6), 6);
  tp_flush(&cl);
  smtp__io_close(&cl.io); /* hang up */
  tp_fill(&sv);
  assert_int_equal(smtp_tls_read(sv.c, buf, sizeof buf), 6);
  assert_int_equal(smtp_tls_read(sv.c, buf, sizeof buf), SMTP_ERR_EOF);
  smtp_tls_conn_del(cl.c);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
}

/* A tampered record: the receiver fails (bad MAC) and sends an alert; the
 * sender then sees the alert as SMTP_ERR_TLS_CLOSED. */
static void test_tampered_record_alert(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  tp_side cl, sv;
  char buf[256];
  const char *p;
  smtp_ssize n, r;
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  established(ccfg, &cl, &sv);
  tp_flush(&sv);
  tp_fill(&cl);
  while (smtp_tls_read(cl.c, buf, sizeof buf) > 0) {
  }
  assert_int_equal(smtp_tls_write(cl.c, "RCPT TO:<a@b>\r\n", 15), 15);
  n = smtp_tls_pending_output(cl.c, &p);
  assert_true(n > 20);
  memcpy(buf, p, (size_t)n);
  buf[n - 3] ^= 0x40; /* flip a bit in the tag */
  smtp_tls_consume_output(cl.c, (size_t)n);
  assert_int_equal(smtp_tls_feed(sv.c, buf, (size_t)n), n);
  r = smtp_tls_read(sv.c, buf, sizeof buf);
  assert_true(r == SMTP_ERR_TLS || r == SMTP_ERR_TLS_CLOSED);
  tp_flush(&sv); /* the alert goes out */
  tp_fill(&cl);
  r = smtp_tls_read(cl.c, buf, sizeof buf);
  assert_int_equal(r, SMTP_ERR_TLS_CLOSED);
  smtp_tls_last_error(cl.c, buf, sizeof buf);
  assert_non_null(strstr(buf, "alert"));
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
}

/* SNI: the callback sees the name, may pick another certificate or refuse. */
static int sni_calls;
static char sni_seen[300];
static int sni_cb(smtp_tls_conn *conn, const char *name, size_t len, void *ud) {
  (void)ud;
  sni_calls++;
  snprintf(sni_seen, sizeof sni_seen, "%.*s", (int)len, name);
  if (len == 18 && memcmp(name, "other.example.test", 18) == 0) return smtp_tls_conn_use_cert(conn, other_cfg);
  if (len == 16 && memcmp(name, "nope.example.test", 16) == 0) return 1;
  if (len >= 4 && memcmp(name, "nope", 4) == 0) return 1;
  return 0;
}


/* ---- policy: the peer's chain, the verification callback, client
 * certificates, channel bindings ---- */

static int open_pair(smtp_tls_config *ccfg, smtp_tls_config *scfg, const char *host, tp_side *cl, tp_side *sv,
                     int *rs) {
  int rc;
  tp_open(cl, sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl->c, ccfg, host, NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&sv->c, scfg, NULL, NULL), 0);
  tp_handshake(cl, sv, &rc, rs);
  return rc;
}

static void test_peer_chain(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  tp_side cl, sv;
  int rs;
  uint8_t der[4096];
  size_t len = 0, need = 0;
  char subject[256], why[128];
  tp_open(&cl, &sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, "mx.example.test", NULL), 0);
  /* nothing received yet */
  assert_int_equal(smtp_tls_peer_cert(cl.c, 0, der, sizeof der, &len), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_tls_peer_verify_result(cl.c, NULL, 0), SMTP_ERR_INVALID_STATE);
  tp_close(&cl);
  tp_close(&sv);
  assert_int_equal(open_pair(ccfg, srv_cfg, "mx.example.test", &cl, &sv, &rs), 0);
  assert_int_equal(rs, 0);
  /* RFC 5280 4.1: a certificate is a DER SEQUENCE */
  assert_int_equal(smtp_tls_peer_cert(cl.c, 0, NULL, 0, &need), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_true(need > 100 && need < sizeof der);
  assert_int_equal(smtp_tls_peer_cert(cl.c, 0, der, need - 1, &len), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(len, need);
  assert_int_equal(smtp_tls_peer_cert(cl.c, 0, der, sizeof der, &len), 0);
  assert_int_equal(len, need);
  assert_int_equal(der[0], 0x30);
  assert_int_equal(smtp_tls_peer_cert(cl.c, 1, der, sizeof der, &len), SMTP_ERR_NOT_FOUND);
  assert_int_equal(smtp_tls_peer_verify_result(cl.c, why, sizeof why), 0);
  assert_int_equal(smtp_tls_peer_subject(cl.c, subject, sizeof subject), 0);
  assert_non_null(strstr(subject, "CN=mx.example.test"));
  /* the server asked for no client certificate */
  assert_int_equal(smtp_tls_peer_cert(sv.c, 0, der, sizeof der, &len), SMTP_ERR_NOT_FOUND);
  assert_int_equal(smtp_tls_peer_subject(sv.c, subject, sizeof subject), SMTP_ERR_NOT_FOUND);
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
}

typedef struct vcb_state {
  int calls, answer, verdict, role;
  size_t chain_len, der_len;
  char name[64];
} vcb_state;

static int vcb(smtp_tls_conn *conn, const smtp_tls_verify_info *info, void *ud) {
  vcb_state *v = ud;
  uint8_t der[4096];
  v->calls++;
  v->verdict = info->verdict;
  v->role = info->role;
  v->chain_len = info->chain_len;
  snprintf(v->name, sizeof v->name, "%s", info->expected_name ? info->expected_name : "(null)");
  if (smtp_tls_peer_cert(conn, 0, der, sizeof der, &v->der_len) != 0) v->der_len = 0;
  if (info->verdict != 0) assert_true(strlen(info->reason) > 0);
  return v->answer;
}

static void test_verify_callback(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *ccfg;
  tp_side cl, sv;
  int rc, rs;
  vcb_state v;
  smtp_tls_info info;
  char why[128];
  /* Untrusted (other's CA), but the callback accepts: pinning-style. */
  ccfg = client_cfg(other_pem);
  memset(&v, 0, sizeof v);
  v.answer = SMTP_TLS_VERIFY_ACCEPT;
  assert_int_equal(smtp_tls_config_set_verify_callback(ccfg, vcb, &v), 0);
  rc = open_pair(ccfg, srv_cfg, "mx.example.test", &cl, &sv, &rs);
  assert_int_equal(rc, 0);
  assert_int_equal(rs, 0);
  assert_int_equal(v.calls, 1);
  assert_int_equal(v.verdict, SMTP_ERR_TLS_VERIFY);
  assert_int_equal(v.role, SMTP_TLS_CLIENT);
  assert_string_equal(v.name, "mx.example.test");
  assert_int_equal(v.chain_len, 1);
  assert_true(v.der_len > 100);
  assert_int_equal(smtp_tls_get_info(cl.c, &info), 0);
  assert_int_equal(info.peer_verified, 1);
  /* the library's own verdict stays visible */
  assert_int_equal(smtp_tls_peer_verify_result(cl.c, why, sizeof why), SMTP_ERR_TLS_VERIFY);
  assert_true(strlen(why) > 0);
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
  /* Trusted, but the callback refuses: the handshake fails. */
  ccfg = client_cfg(srv_pem);
  memset(&v, 0, sizeof v);
  v.answer = SMTP_TLS_VERIFY_REFUSE;
  assert_int_equal(smtp_tls_config_set_verify_callback(ccfg, vcb, &v), 0);
  rc = open_pair(ccfg, srv_cfg, "mx.example.test", &cl, &sv, &rs);
  assert_int_equal(rc, SMTP_ERR_TLS_VERIFY);
  assert_int_equal(v.calls, 1);
  assert_int_equal(v.verdict, 0);
  assert_int_equal(smtp_tls_last_error(cl.c, why, sizeof why), 0);
  assert_non_null(strstr(why, "callback"));
  tp_close(&cl);
  tp_close(&sv);
  /* Opportunistic: refused means unverified, not failed. */
  assert_int_equal(smtp_tls_config_set_verify(ccfg, SMTP_TLS_VERIFY_OPTIONAL), 0);
  rc = open_pair(ccfg, srv_cfg, "mx.example.test", &cl, &sv, &rs);
  assert_int_equal(rc, 0);
  assert_int_equal(smtp_tls_get_info(cl.c, &info), 0);
  assert_int_equal(info.peer_verified, 0);
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
}

static void test_client_cert(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *ccfg = client_cfg(srv_pem), *plain = client_cfg(srv_pem), *scfg;
  char cli_pem[4096], subject[256];
  size_t n;
  tp_side cl, sv;
  int rc, rs;
  smtp_tls_info info;
  assert_int_equal(smtp_tls_config_self_signed(ccfg, "client.example.test"), 0);
  assert_int_equal(smtp_tls_config_export_cert(ccfg, cli_pem, sizeof cli_pem, &n), 0);
  /* a server with the same certificate as srv_cfg that requires a client certificate */
  {
    char key[4096];
    assert_int_equal(smtp__tls_export_key_pem(srv_cfg, key, sizeof key), 0);
    assert_int_equal(smtp_tls_config_new(&scfg, SMTP_TLS_SERVER, NULL), 0);
    assert_int_equal(smtp_tls_config_cert_mem(scfg, srv_pem, strlen(srv_pem), key, strlen(key), NULL), 0);
  }
  assert_int_equal(smtp_tls_config_ca_mem(scfg, cli_pem, strlen(cli_pem)), 0);
  assert_int_equal(smtp_tls_config_set_verify(scfg, SMTP_TLS_VERIFY_REQUIRED), 0);
  rc = open_pair(ccfg, scfg, "mx.example.test", &cl, &sv, &rs);
  assert_int_equal(rc, 0);
  assert_int_equal(rs, 0);
  assert_int_equal(smtp_tls_get_info(sv.c, &info), 0);
  assert_int_equal(info.has_peer_cert, 1);
  assert_int_equal(info.peer_verified, 1);
  assert_int_equal(smtp_tls_peer_subject(sv.c, subject, sizeof subject), 0);
  assert_non_null(strstr(subject, "CN=client.example.test"));
  tp_close(&cl);
  tp_close(&sv);
  /* the server's own check of the client certificate: told its role, no
   * expected name, the chain; refusing fails the handshake */
  {
    vcb_state v;
    memset(&v, 0, sizeof v);
    v.answer = SMTP_TLS_VERIFY_REFUSE;
    assert_int_equal(smtp_tls_config_set_verify_callback(scfg, vcb, &v), 0);
    rc = open_pair(ccfg, scfg, "mx.example.test", &cl, &sv, &rs);
    assert_int_equal(rs, SMTP_ERR_TLS_VERIFY);
    assert_int_equal(v.calls, 1);
    assert_int_equal(v.role, SMTP_TLS_SERVER);
    assert_string_equal(v.name, "(null)");
    assert_int_equal(v.verdict, 0);
    assert_int_equal(v.chain_len, 1);
    assert_true(v.der_len > 100);
    tp_close(&cl);
    tp_close(&sv);
    assert_int_equal(smtp_tls_config_set_verify_callback(scfg, NULL, NULL), 0);
  }
  /* no client certificate: the server refuses */
  rc = open_pair(plain, scfg, "mx.example.test", &cl, &sv, &rs);
  assert_true(rs == SMTP_ERR_TLS_VERIFY || rs == SMTP_ERR_TLS_HANDSHAKE);
  tp_close(&cl);
  tp_close(&sv);
  smtp_tls_config_del(ccfg);
  smtp_tls_config_del(plain);
  smtp_tls_config_del(scfg);
}

/* Both ends compute the same channel-binding data (RFC 5929, RFC 9266). */
static void check_bindings(smtp_tls_config *ccfg, smtp_tls_config *scfg, int tls12_unique) {
  tp_side cl, sv;
  int rs;
  uint8_t a[64], b[64];
  size_t la, lb;
  tp_open(&cl, &sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, "mx.example.test", NULL), 0);
  assert_int_equal(smtp_tls_channel_binding(cl.c, SMTP_TLS_CB_EXPORTER, a, sizeof a, &la),
                   SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_tls_channel_binding(cl.c, 99, a, sizeof a, &la), SMTP_ERR_INVALID_ARGUMENT);
  tp_close(&cl);
  tp_close(&sv);
  assert_int_equal(open_pair(ccfg, scfg, "mx.example.test", &cl, &sv, &rs), 0);
  assert_int_equal(rs, 0);
  assert_int_equal(smtp_tls_channel_binding(cl.c, SMTP_TLS_CB_EXPORTER, a, sizeof a, &la), 0);
  assert_int_equal(smtp_tls_channel_binding(sv.c, SMTP_TLS_CB_EXPORTER, b, sizeof b, &lb), 0);
  assert_int_equal(la, 32);
  assert_int_equal(lb, 32);
  assert_memory_equal(a, b, 32);
  assert_int_equal(smtp_tls_channel_binding(cl.c, SMTP_TLS_CB_EXPORTER, a, 31, &la),
                   SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(la, 32);
  /* ECDSA with SHA-256: a SHA-256 hash of the server's certificate */
  assert_int_equal(smtp_tls_channel_binding(cl.c, SMTP_TLS_CB_SERVER_END_POINT, a, sizeof a, &la), 0);
  assert_int_equal(smtp_tls_channel_binding(sv.c, SMTP_TLS_CB_SERVER_END_POINT, b, sizeof b, &lb), 0);
  assert_int_equal(la, 32);
  assert_int_equal(lb, 32);
  assert_memory_equal(a, b, 32);
  {
    int ra = smtp_tls_channel_binding(cl.c, SMTP_TLS_CB_UNIQUE, a, sizeof a, &la);
    int rb = smtp_tls_channel_binding(sv.c, SMTP_TLS_CB_UNIQUE, b, sizeof b, &lb);
    if (tls12_unique) {
      assert_int_equal(ra, 0);
      assert_int_equal(rb, 0);
      assert_int_equal(la, 12); /* TLS 1.2 verify_data (RFC 5246 7.4.9) */
      assert_int_equal(lb, 12);
      assert_memory_equal(a, b, 12);
    } else {
      /* not on both sides: TLS 1.3, or one side's library has no tls-unique
       * (an OpenSSL end of a TLS 1.2 session still gives it) */
      assert_true(ra == SMTP_ERR_UNSUPPORTED || (ra == 0 && la == 12));
      assert_true(rb == SMTP_ERR_UNSUPPORTED || (rb == 0 && lb == 12));
      assert_false(ra == 0 && rb == 0);
    }
  }
  tp_close(&cl);
  tp_close(&sv);
}

static int is_openssl(const smtp_tls_config *cfg) {
  return smtp_tls_config_backend(cfg) == SMTP_TLS_BACKEND_OPENSSL;
}

static void test_channel_binding(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  smtp_tls_info info;
  tp_side cl, sv;
  int rs;
  /* the newest version both have (TLS 1.3 unless Mbed TLS 2.28): no tls-unique */
  assert_int_equal(open_pair(ccfg, srv_cfg, "mx.example.test", &cl, &sv, &rs), 0);
  assert_int_equal(smtp_tls_get_info(cl.c, &info), 0);
  tp_close(&cl);
  tp_close(&sv);
  check_bindings(ccfg, srv_cfg, strcmp(info.protocol, "TLSv1.2") == 0 && is_openssl(ccfg));
  /* TLS 1.2 */
  assert_int_equal(smtp_tls_config_set_versions(ccfg, SMTP_TLS_VERSION_1_2, SMTP_TLS_VERSION_1_2), 0);
  check_bindings(ccfg, srv_cfg, is_openssl(ccfg));
  smtp_tls_config_del(ccfg);
}

/* With both backends in the build: each talks to the other, and they
 * agree on the channel bindings (TLS 1.2 and the newest common version). */
static void test_cross_backend(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  if (smtp_tls_backends(NULL, 0) < 2) skip();
  for (int dir = 0; dir < 2; dir++) {
    int cb = dir ? SMTP_TLS_BACKEND_MBEDTLS : SMTP_TLS_BACKEND_OPENSSL;
    int sb = dir ? SMTP_TLS_BACKEND_OPENSSL : SMTP_TLS_BACKEND_MBEDTLS;
    smtp_tls_config *ccfg, *scfg;
    char key[4096];
    assert_int_equal(smtp_tls_config_new_backend(&ccfg, SMTP_TLS_CLIENT, cb, NULL), 0);
    assert_int_equal(smtp_tls_config_backend(ccfg), cb);
    assert_int_equal(smtp_tls_config_ca_mem(ccfg, srv_pem, strlen(srv_pem)), 0);
    assert_int_equal(smtp_tls_config_new_backend(&scfg, SMTP_TLS_SERVER, sb, NULL), 0);
    assert_int_equal(smtp__tls_export_key_pem(srv_cfg, key, sizeof key), 0);
    assert_int_equal(smtp_tls_config_cert_mem(scfg, srv_pem, strlen(srv_pem), key, strlen(key), NULL), 0);
    check_bindings(ccfg, scfg, 0); /* Mbed TLS has no tls-unique */
    assert_int_equal(smtp_tls_config_set_versions(ccfg, SMTP_TLS_VERSION_1_2, SMTP_TLS_VERSION_1_2), 0);
    {
      tp_side cl, sv;
      int rs;
      uint8_t a[64], b[64];
      size_t la, lb;
      assert_int_equal(open_pair(ccfg, scfg, "mx.example.test", &cl, &sv, &rs), 0);
      assert_int_equal(smtp_tls_channel_binding(cl.c, SMTP_TLS_CB_EXPORTER, a, sizeof a, &la), 0);
      assert_int_equal(smtp_tls_channel_binding(sv.c, SMTP_TLS_CB_EXPORTER, b, sizeof b, &lb), 0);
      assert_int_equal(la, 32);
      assert_int_equal(lb, 32);
      assert_memory_equal(a, b, 32); /* RFC 5705 computed by two libraries */
      tp_close(&cl);
      tp_close(&sv);
    }
    smtp_tls_config_del(ccfg);
    smtp_tls_config_del(scfg);
  }
}

static int write_file(const char *path, const char *data) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(data, f);
  return fclose(f);
}

/* A certificate replaced at run time serves the connections made after. */
static void test_replace_cert(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  char dir[] = "/tmp/libsmtp-tls-XXXXXX", cert[64], keyf[64], key[4096], why[256];
  smtp_tls_config *scfg, *to_other = client_cfg(other_pem), *to_srv = client_cfg(srv_pem);
  tp_side cl, sv, cl2, sv2;
  int rs, r;
  assert_non_null(mkdtemp(dir));
  snprintf(cert, sizeof cert, "%s/c.pem", dir);
  snprintf(keyf, sizeof keyf, "%s/k.pem", dir);
  assert_int_equal(smtp__tls_export_key_pem(srv_cfg, key, sizeof key), 0);
  assert_int_equal(write_file(cert, srv_pem), 0);
  assert_int_equal(write_file(keyf, key), 0);
  assert_int_equal(smtp_tls_config_new(&scfg, SMTP_TLS_SERVER, NULL), 0);
  assert_int_equal(smtp_tls_config_replace_cert_file(scfg, cert, keyf, NULL), 0); /* first load */
  /* a connection made before the replacement */
  tp_open(&cl, &sv, 65536);
  assert_int_equal(smtp_tls_conn_new(&cl.c, to_srv, "mx.example.test", NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&sv.c, scfg, NULL, NULL), 0);
  /* a broken pair: refused, the old one stays */
  assert_int_equal(write_file(cert, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"), 0);
  assert_int_equal(smtp_tls_config_replace_cert_file(scfg, cert, keyf, NULL), SMTP_ERR_TLS_CONFIG);
  assert_int_equal(smtp_tls_config_last_error(scfg, why, sizeof why), 0);
  assert_true(strlen(why) > 0);
  /* other's pair */
  assert_int_equal(smtp__tls_export_key_pem(other_cfg, key, sizeof key), 0);
  assert_int_equal(write_file(cert, other_pem), 0);
  assert_int_equal(write_file(keyf, key), 0);
  r = smtp_tls_config_replace_cert_file(scfg, cert, keyf, NULL);
  assert_int_equal(r, 0);
  {
    int rc;
    char pem[4096];
    size_t n;
    /* the older connection still presents the old certificate */
    tp_handshake(&cl, &sv, &rc, &rs);
    assert_int_equal(rc, 0);
    assert_int_equal(rs, 0);
    /* a new one presents the new certificate, which is also what is exported */
    assert_int_equal(open_pair(to_other, scfg, "other.example.test", &cl2, &sv2, &rs), 0);
    assert_int_equal(rs, 0);
    tp_close(&cl2);
    tp_close(&sv2);
    assert_int_equal(smtp_tls_config_export_cert(scfg, pem, sizeof pem, &n), 0);
    assert_string_equal(pem, other_pem);
    /* replaced twice: still fine */
    assert_int_equal(smtp_tls_config_replace_cert_file(scfg, cert, keyf, NULL), 0);
    assert_int_equal(open_pair(to_other, scfg, "other.example.test", &cl2, &sv2, &rs), 0);
    tp_close(&cl2);
    tp_close(&sv2);
  }
  tp_close(&cl);
  tp_close(&sv);
  unlink(cert);
  unlink(keyf);
  rmdir(dir);
  smtp_tls_config_del(scfg);
  smtp_tls_config_del(to_other);
  smtp_tls_config_del(to_srv);
}

static void test_backends(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  int ids[4], n = smtp_tls_backends(ids, 4);
  assert_true(n >= 1 && n <= 2);
  for (int i = 0; i < n; i++) {
    const char *name = smtp_tls_backend_name(ids[i]);
    assert_non_null(name);
    assert_int_equal(smtp_tls_backend_by_name(name), ids[i]);
    assert_non_null(smtp_tls_backend_version(ids[i]));
  }
  assert_string_equal(smtp_tls_backend_name(SMTP_TLS_BACKEND_DEFAULT), smtp_tls_backend_name(ids[0]));
  assert_int_equal(smtp_tls_backend_by_name("gnutls"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_backend_by_name(NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_null(smtp_tls_backend_name(7));
  {
    smtp_tls_config *c = (smtp_tls_config *)1;
    assert_int_equal(smtp_tls_config_new_backend(&c, SMTP_TLS_CLIENT, 7, NULL), SMTP_ERR_INVALID_ARGUMENT);
    assert_null(c);
  }
}

static void test_sni(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *scfg;
  smtp_tls_info info;
  char key[2048];
  tp_side cl, sv;
  int rc, rs;
  assert_int_equal(smtp_tls_conn_use_cert(NULL, other_cfg), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_tls_config_new(&scfg, SMTP_TLS_SERVER, NULL), 0);
  assert_int_equal(smtp__tls_export_key_pem(srv_cfg, key, sizeof key), 0);
  assert_int_equal(smtp_tls_config_cert_mem(scfg, srv_pem, strlen(srv_pem), key, strlen(key), NULL), 0);
  assert_int_equal(smtp_tls_config_set_sni_callback(scfg, sni_cb, NULL), 0);
  /* default certificate */
  sni_calls = 0;
  assert_int_equal(handshake_with(srv_pem, "mx.example.test", scfg, SMTP_TLS_VERIFY_REQUIRED, &info), 0);
  assert_int_equal(sni_calls, 1);
  assert_string_equal(sni_seen, "mx.example.test");
  /* the callback switches to other.example.test's certificate */
  assert_int_equal(handshake_with(other_pem, "other.example.test", scfg, SMTP_TLS_VERIFY_REQUIRED, &info), 0);
  assert_int_equal(info.peer_verified, 1);
  /* refused name: the handshake fails on both sides */
  {
    smtp_tls_config *ccfg = client_cfg(srv_pem);
    tp_open(&cl, &sv, 65536);
    assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, "nope.example.test", NULL), 0);
    assert_int_equal(smtp_tls_conn_new(&sv.c, scfg, NULL, NULL), 0);
    tp_handshake(&cl, &sv, &rc, &rs);
    assert_int_equal(rs, SMTP_ERR_TLS_HANDSHAKE);
    assert_int_equal(rc, SMTP_ERR_TLS_HANDSHAKE); /* the server's alert */
    assert_int_equal(smtp_tls_conn_use_cert(sv.c, other_cfg), SMTP_ERR_INVALID_STATE); /* outside cb */
    tp_close(&cl);
    tp_close(&sv);
    smtp_tls_config_del(ccfg);
  }
  smtp_tls_config_del(scfg);
}

/* The default client trust store is the system's. */
static void test_system_ca(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *cfg;
  smtp_tls_conn *c;
  FILE *f = fopen(SMTP_TLS_SYSTEM_CA_FILE, "r");
  if (!f) skip();
  fclose(f);
  assert_int_equal(smtp_tls_config_new(&cfg, SMTP_TLS_CLIENT, NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&c, cfg, "mail.example.org", NULL), 0);
  smtp_tls_conn_del(c);
  smtp_tls_config_del(cfg);
  /* and the self-signed test certificate is not in it */
  assert_int_equal(smtp_tls_config_new(&cfg, SMTP_TLS_CLIENT, NULL), 0);
  assert_int_equal(smtp_tls_config_system_ca(cfg), 0);
  {
    tp_side cl, sv;
    int rc, rs;
    tp_open(&cl, &sv, 65536);
    assert_int_equal(smtp_tls_conn_new(&cl.c, cfg, "mx.example.test", NULL), 0);
    assert_int_equal(smtp_tls_conn_new(&sv.c, srv_cfg, NULL, NULL), 0);
    tp_handshake(&cl, &sv, &rc, &rs);
    assert_int_equal(rc, SMTP_ERR_TLS_VERIFY);
    tp_close(&cl);
    tp_close(&sv);
  }
  smtp_tls_config_del(cfg);
}

/* Every libsmtp-side allocation of the TLS adapter can fail cleanly. */
static void test_alloc_fail(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  int n, r;
  for (n = 1; n < 50; n++) {
    smtp_tls_config *cfg = NULL;
    fm_fail_at = n;
    fm_count = 0;
    r = smtp_tls_config_new(&cfg, SMTP_TLS_CLIENT, &fm_mem);
    if (r == 0) r = smtp_tls_config_ca_mem(cfg, srv_pem, strlen(srv_pem));
    if (r == 0) {
      smtp_tls_conn *c = NULL;
      r = smtp_tls_conn_new(&c, cfg, "mx.example.test", &fm_mem);
      smtp_tls_conn_del(c);
    }
    fm_fail_at = 0;
    smtp_tls_config_del(cfg);
    assert_int_equal(fm_live, 0);
    if (r == 0) break;
    assert_int_equal(r, SMTP_ERR_NOMEM);
  }
  assert_true(n > 2 && n < 50); /* OpenSSL: only libsmtp's own allocations use the hook */
  for (n = 1; n < 50; n++) {
    smtp_tls_config *cfg = NULL;
    char pem[4096];
    size_t len;
    r = smtp_tls_config_new(&cfg, SMTP_TLS_SERVER, &fm_mem);
    assert_int_equal(r, 0);
    fm_fail_at = n;
    fm_count = 0;
    r = smtp_tls_config_self_signed(cfg, "fail.example.test");
    if (r == 0) r = smtp_tls_config_export_cert(cfg, pem, sizeof pem, &len);
    fm_fail_at = 0;
    smtp_tls_config_del(cfg);
    assert_int_equal(fm_live, 0);
    if (r == 0) break;
    assert_int_equal(r, SMTP_ERR_NOMEM);
  }
  /* Mbed TLS: the DER scratch buffer is libsmtp's; OpenSSL makes and
   * exports the certificate with its own allocator only. */
  if (strcmp(smtp_tls_backend_name(test_tls_backend()), "mbedtls") == 0) assert_true(n > 1 && n < 50);
  else assert_true(n == 1);
}

/* Every allocation a session makes after its creation (the ciphertext
 * queues come and go with the data) fails cleanly in turn, in both roles:
 * the call that needed it returns SMTP_ERR_NOMEM (or the session fails
 * later as a consequence), nothing leaks, and once no allocation fails
 * the handshake and a round trip of data succeed. */
static int soft_flush(tp_side *s) {
  const char *p;
  smtp_ssize n;
  while ((n = smtp_tls_pending_output(s->c, &p)) > 0) {
    smtp_ssize w = smtp__io_send(&s->io, p, (size_t)n);
    if (w <= 0) break;
    if (smtp_tls_consume_output(s->c, (size_t)w) != 0) return -1;
  }
  return 0;
}

static int soft_fill(tp_side *s, int *nomem) {
  char buf[4096];
  size_t space;
  while ((space = smtp_tls_feed_space(s->c)) > 0) {
    smtp_ssize r = smtp__io_recv(&s->io, buf, space < sizeof buf ? space : sizeof buf), f;
    if (r <= 0) break;
    f = smtp_tls_feed(s->c, buf, (size_t)r);
    if (f == SMTP_ERR_NOMEM) *nomem = 1;
    if (f != r) return -1; /* the octets are lost: the session cannot go on */
  }
  return 0;
}

static void test_alloc_fail_session(void **state) {
  (void)state;
  SKIP_WITHOUT_TLS();
  smtp_tls_config *ccfg = client_cfg(srv_pem);
  int n, completed = 0, failures = 0;
  for (n = 1; n < 400 && !completed; n++) {
    tp_side cl, sv;
    int rc = WB, rs = WB, nomem = 0, ok = 0;
    char buf[64];
    tp_open(&cl, &sv, 65536);
    assert_int_equal(smtp_tls_conn_new(&cl.c, ccfg, "mx.example.test", &fm_mem), 0);
    assert_int_equal(smtp_tls_conn_new(&sv.c, srv_cfg, NULL, &fm_mem), 0);
    fm_fail_at = n;
    fm_count = 0;
    for (int i = 0; i < 200 && (rc == WB || rs == WB); i++) {
      if (rc == WB) rc = smtp_tls_handshake(cl.c);
      if (soft_flush(&cl) || soft_fill(&sv, &nomem)) break;
      if (rs == WB) rs = smtp_tls_handshake(sv.c);
      if (soft_flush(&sv) || soft_fill(&cl, &nomem)) break;
    }
    if (rc == SMTP_ERR_NOMEM || rs == SMTP_ERR_NOMEM) nomem = 1;
    if (rc == 0 && rs == 0) {
      smtp_ssize w = smtp_tls_write(cl.c, "EHLO a.example\r\n", 16), r = WB;
      if (w == SMTP_ERR_NOMEM) nomem = 1;
      if (w == 16 && !soft_flush(&cl) && !soft_fill(&sv, &nomem)) {
        r = smtp_tls_read(sv.c, buf, sizeof buf);
        if (r == SMTP_ERR_NOMEM) nomem = 1;
      }
      ok = r == 16 && memcmp(buf, "EHLO a.example\r\n", 16) == 0;
    }
    completed = ok && fm_count < n; /* nothing failed this time */
    if (!ok) {
      failures++;
      /* a failed run is explained by the failed allocation, which some
       * call reported as SMTP_ERR_NOMEM */
      assert_true(fm_count >= n);
      assert_true(nomem);
    }
    fm_fail_at = 0;
    tp_close(&cl);
    tp_close(&sv);
    assert_int_equal(fm_live, 0);
  }
  assert_true(completed);
  assert_true(failures > 0); /* the session path does allocate, and each failure was survived */
  smtp_tls_config_del(ccfg);
}

/* Built with -Dtls=disabled: the same API, every call says so. */
static void test_unavailable(void **state) {
  (void)state;
  smtp_tls_config *cfg = (smtp_tls_config *)1;
  smtp_tls_conn *c = (smtp_tls_conn *)1;
  char buf[64];
  size_t n;
  if (smtp_tls_available()) skip();
  assert_string_equal(smtp_tls_backend(), "none");
  assert_int_equal(smtp_tls_config_new(&cfg, SMTP_TLS_SERVER, NULL), SMTP_ERR_TLS_UNAVAILABLE);
  assert_null(cfg);
  assert_int_equal(smtp_tls_config_self_signed(cfg, "x.example"), SMTP_ERR_TLS_UNAVAILABLE);
  assert_int_equal(smtp_tls_config_export_cert(cfg, buf, sizeof buf, &n), SMTP_ERR_TLS_UNAVAILABLE);
  assert_int_equal(smtp_tls_config_ca_file(cfg, "/x"), SMTP_ERR_TLS_UNAVAILABLE);
  assert_int_equal(smtp_tls_conn_new(&c, cfg, NULL, NULL), SMTP_ERR_TLS_UNAVAILABLE);
  assert_null(c);
  assert_int_equal(smtp_tls_handshake(c), SMTP_ERR_TLS_UNAVAILABLE);
  assert_int_equal(smtp_tls_read(c, buf, sizeof buf), SMTP_ERR_TLS_UNAVAILABLE);
  assert_int_equal(smtp_tls_write(c, "x", 1), SMTP_ERR_TLS_UNAVAILABLE);
  assert_int_equal(smtp_tls_config_last_error(cfg, buf, sizeof buf), 0);
  assert_true(strlen(buf) > 0);
  smtp_tls_conn_del(c);
  smtp_tls_config_del(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_ok),
      cmocka_unit_test(test_bulk_small_pipe),
      cmocka_unit_test(test_write_retry),
      cmocka_unit_test(test_wrong_hostname),
      cmocka_unit_test(test_untrusted),
      cmocka_unit_test(test_wildcard),
      cmocka_unit_test(test_verify_modes),
      cmocka_unit_test(test_bad_config),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_export),
      cmocka_unit_test(test_garbage_handshake),
      cmocka_unit_test(test_truncated_handshake),
      cmocka_unit_test(test_close_notify),
      cmocka_unit_test(test_eof_without_close_notify),
      cmocka_unit_test(test_tampered_record_alert),
      cmocka_unit_test(test_sni),
      cmocka_unit_test(test_peer_chain),
      cmocka_unit_test(test_verify_callback),
      cmocka_unit_test(test_client_cert),
      cmocka_unit_test(test_channel_binding),
      cmocka_unit_test(test_cross_backend),
      cmocka_unit_test(test_replace_cert),
      cmocka_unit_test(test_backends),
      cmocka_unit_test(test_system_ca),
      cmocka_unit_test(test_alloc_fail_session),
      cmocka_unit_test(test_alloc_fail),
      cmocka_unit_test(test_unavailable),
  };
  return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
