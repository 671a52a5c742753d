/* SASL through the driver (driver.h): after the TLS handshake the driver
 * hands the client and server sessions the channel binding (RFC 5056) and,
 * on the server, the verified client certificate's identity, so SCRAM
 * -PLUS (RFC 5802 6, RFC 9266, RFC 5929) and EXTERNAL (RFC 4422 appendix
 * A) work with no application code. A real client session and a real
 * server session talk over the memory pipe, STARTTLS or implicit TLS,
 * TLS 1.2 and 1.3; run once per TLS backend (SMTP_TEST_TLS_BACKEND). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <smtp/client.h>
#include <smtp/driver.h>
#include <smtp/io.h>
#include <smtp/sasl.h>
#include <smtp/server.h>
#include <smtp/tls.h>

#include "../lib/adapters.h"
#include "tls_backend.h"

static smtp_tls_config *srv_cfg;        /* the server's certificate, no client certificates asked */
static smtp_tls_config *srv_cca_cfg;    /* same certificate, asks for one verified against cli_pem */
static smtp_tls_config *srv_other_cfg;  /* asks for one verified against an unrelated CA */
static char srv_pem[4096], srv_key[4096], cli_pem[4096], cli_key[4096], other_pem[4096];

static smtp_tls_config *client_cfg(int with_cert, int version) {
  smtp_tls_config *c;
  if (smtp_tls_config_new(&c, SMTP_TLS_CLIENT, NULL) ||
      smtp_tls_config_ca_mem(c, srv_pem, strlen(srv_pem)))
    return NULL;
  if (with_cert &&
      smtp_tls_config_cert_mem(c, cli_pem, strlen(cli_pem), cli_key, strlen(cli_key), NULL))
    return NULL;
  if (version && smtp_tls_config_set_versions(c, version, version) != 0) {
    smtp_tls_config_del(c);
    return NULL;
  }
  return c;
}

static smtp_tls_config *server_cfg(const char *ca) {
  smtp_tls_config *c;
  if (smtp_tls_config_new(&c, SMTP_TLS_SERVER, NULL) ||
      smtp_tls_config_cert_mem(c, srv_pem, strlen(srv_pem), srv_key, strlen(srv_key), NULL))
    return NULL;
  if (ca && (smtp_tls_config_ca_mem(c, ca, strlen(ca)) ||
             smtp_tls_config_set_verify(c, SMTP_TLS_VERIFY_OPTIONAL)))
    return NULL;
  return c;
}

/* A self-signed identity for @p cn: its certificate into @p pem and, when
 * @p key is not NULL, its key; the configuration into *keep, or deleted
 * when keep is NULL. 0, or -1 when a step fails. */
static int identity(const char *cn, char *pem, size_t pem_size, char *key, size_t key_size,
                    smtp_tls_config **keep) {
  smtp_tls_config *c;
  size_t n;
  if (smtp_tls_config_new(&c, SMTP_TLS_SERVER, NULL) || smtp_tls_config_self_signed(c, cn) ||
      smtp_tls_config_export_cert(c, pem, pem_size, &n) ||
      (key && smtp__tls_export_key_pem(c, key, key_size)))
    return -1;
  if (keep) *keep = c;
  else smtp_tls_config_del(c);
  return 0;
}

static int setup_all(void **state) {
  (void)state;
  if (!smtp_tls_available()) return 0;
  if (identity("mx.example.test", srv_pem, sizeof srv_pem, srv_key, sizeof srv_key, &srv_cfg) ||
      /* the client certificate: self-signed, CN alice.example */
      identity("alice.example", cli_pem, sizeof cli_pem, cli_key, sizeof cli_key, NULL) ||
      identity("unrelated.example", other_pem, sizeof other_pem, NULL, 0, NULL))
    return -1;
  srv_cca_cfg = server_cfg(cli_pem);
  srv_other_cfg = server_cfg(other_pem);
  return srv_cca_cfg && srv_other_cfg ? 0 : -1;
}

static int teardown_all(void **state) {
  (void)state;
  smtp_tls_config_del(srv_cfg);
  smtp_tls_config_del(srv_cca_cfg);
  smtp_tls_config_del(srv_other_cfg);
  return 0;
}

/* ------------------------------------------------------------------ */

static int det_random(void *buf, size_t len, void *ud) {
  static unsigned char x = 17;
  (void)ud;
  for (size_t i = 0; i < len; i++) ((unsigned char *)buf)[i] = x = (unsigned char)(x * 29u + 7u);
  return 0;
}

static int scram_lookup(smtp_server_session *s, unsigned int mech, const char *user, size_t len,
                        smtp_scram_record *rec, void *ud) {
  static const unsigned char salt[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  (void)s;
  (void)ud;
  if (len != 4 || memcmp(user, "user", 4) != 0) return SMTP_ERR_NOT_FOUND;
  return smtp_scram_make_record(mech, "pencil", salt, sizeof salt, 4096, rec);
}

typedef struct cli_app {
  int auth_calls, auth_result;
} cli_app;

static int on_auth(smtp_client_session *c, int result, const smtp_reply *reply, void *ud) {
  cli_app *a = ud;
  (void)c;
  (void)reply;
  a->auth_calls++;
  a->auth_result = result;
  return 0;
}

/* What to do to a session once its TLS is up (after the driver fed it). */
enum { HOOK_NONE, HOOK_SERVER_WRONG_CB, HOOK_CLIENT_NO_CB, HOOK_CLIENT_UNIQUE };

typedef struct run {
  /* in */
  unsigned int client_mech; /* forced mechanism, 0: the client's choice */
  int client_cert;
  int version;              /* SMTP_TLS_VERSION_1_x, 0: default */
  const smtp_tls_config *scfg;
  unsigned int flags;
  int hook;
  /* out */
  cli_app capp;
  unsigned int used_mech;
  char server_user[256];
  int skipped;
  int unique_unsupported; /* HOOK_CLIENT_UNIQUE: the backend has no tls-unique */
} run;

static void run_one(run *r) {
  smtp_server_callbacks *scb;
  smtp_server_options *so;
  smtp_server_session *ss;
  smtp_client_callbacks *ccb;
  smtp_client_options *co;
  smtp_client_session *cs;
  smtp_tls_config *ccfg;
  smtp_driver *ds, *dc;
  smtp_io a, b;
  smtp_tls_info info;
  const char *u;
  size_t ul = 0;
  int hooked = 0;
  ccfg = client_cfg(r->client_cert, r->version);
  if (!ccfg) { /* this backend lacks the version (Mbed TLS 2.28: no TLS 1.3) */
    r->skipped = 1;
    return;
  }
  memset(&r->capp, 0, sizeof r->capp);
  assert_int_equal(smtp_server_callbacks_new(&scb, NULL), 0);
  smtp_server_callbacks_set_scram_lookup(scb, scram_lookup);
  assert_int_equal(smtp_server_options_new(&so, NULL), 0);
  assert_int_equal(smtp_server_options_set_hostname(so, "mx.example.test"), 0);
  assert_int_equal(smtp_server_options_set_tls_available(so, 1), 0);
  assert_int_equal(smtp_server_options_set_random(so, det_random, NULL), 0);
  assert_int_equal(smtp_server_options_set_auth_mechs(
                       so, SMTP_SASL_SCRAM_SHA_256 | SMTP_SASL_SCRAM_SHA_256_PLUS |
                               SMTP_SASL_SCRAM_SHA_1 | SMTP_SASL_EXTERNAL),
                   0);
  assert_int_equal(smtp_server_session_new(&ss, scb, NULL, so, NULL), 0);

  assert_int_equal(smtp_client_callbacks_new(&ccb, NULL), 0);
  smtp_client_callbacks_set_auth(ccb, on_auth);
  assert_int_equal(smtp_client_options_new(&co, NULL), 0);
  assert_int_equal(smtp_client_options_set_ehlo_name(co, "client.example.test"), 0);
  assert_int_equal(smtp_client_options_set_starttls(co, (r->flags & SMTP_DRIVER_IMPLICIT_TLS)
                                                            ? SMTP_CLIENT_STARTTLS_OFF
                                                            : SMTP_CLIENT_STARTTLS_REQUIRED),
                   0);
  if (r->client_mech != SMTP_SASL_EXTERNAL)
    assert_int_equal(smtp_client_options_set_credentials(co, NULL, "user", "pencil"), 0);
  assert_int_equal(smtp_client_options_set_random(co, det_random, NULL), 0);
  if (r->client_mech)
    assert_int_equal(smtp_client_options_set_auth_mechanism(co, r->client_mech), 0);
  assert_int_equal(smtp_client_session_new(&cs, ccb, &r->capp, co, NULL), 0);
  assert_int_equal(smtp_client_session_quit(cs), 0);

  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp_driver_new_server(&ds, ss, &a, r->scfg, r->flags, NULL), 0);
  assert_int_equal(smtp_driver_new_client(&dc, cs, &b, ccfg, "mx.example.test", r->flags, NULL),
                   0);
  for (int i = 0; i < 100000 && !(smtp_driver_is_done(ds) && smtp_driver_is_done(dc)); i++) {
    if (!smtp_driver_is_done(ds)) smtp_driver_on_readable(ds);
    if (!smtp_driver_is_done(dc)) smtp_driver_on_readable(dc);
    if (!hooked && r->hook == HOOK_SERVER_WRONG_CB && smtp_server_session_tls_info(ss, &info) == 0) {
      /* what a man in the middle's second TLS connection would give */
      static const unsigned char junk[32] = {0xde, 0xad};
      hooked = 1;
      assert_int_equal(smtp_server_session_set_channel_binding(ss, NULL, NULL, 0), 0);
      assert_int_equal(smtp_server_session_set_channel_binding(ss, "tls-exporter", junk, 32), 0);
      assert_int_equal(
          smtp_server_session_set_channel_binding(ss, "tls-server-end-point", junk, 32), 0);
    }
    if (!hooked && r->hook == HOOK_CLIENT_UNIQUE && smtp_client_session_tls_active(cs)) {
      /* a client that binds with tls-unique (RFC 5929 3), as RFC 5802 6.1
       * makes the default: the server holds that type too under TLS 1.2 */
      uint8_t uq[64];
      size_t ul2 = 0;
      hooked = 1;
      if (smtp_tls_channel_binding(smtp_driver_tls_conn(dc), SMTP_TLS_CB_UNIQUE, uq, sizeof uq, &ul2) == 0)
        assert_int_equal(smtp_client_session_set_channel_binding(cs, "tls-unique", uq, ul2), 0);
      else
        r->unique_unsupported = 1;
    }
    if (!hooked && r->hook == HOOK_CLIENT_NO_CB && smtp_client_session_tls_active(cs)) {
      hooked = 1;
      assert_int_equal(smtp_client_session_set_channel_binding(cs, NULL, NULL, 0), 0);
    }
  }
  assert_true(smtp_driver_is_done(ds));
  assert_true(smtp_driver_is_done(dc));
  if (r->hook) assert_int_equal(hooked, 1);
  r->used_mech = smtp_client_session_auth_mechanism(cs);
  u = smtp_server_session_auth_user(ss, &ul);
  r->server_user[0] = 0;
  if (u && ul < sizeof r->server_user) {
    memcpy(r->server_user, u, ul);
    r->server_user[ul] = 0;
  }
  /* the negotiated version is the one asked for */
  assert_int_equal(smtp_driver_tls_info(dc, &info), 0);
  if (r->version == SMTP_TLS_VERSION_1_2) assert_string_equal(info.protocol, "TLSv1.2");
  if (r->version == SMTP_TLS_VERSION_1_3) assert_string_equal(info.protocol, "TLSv1.3");

  smtp_driver_del(ds);
  smtp_driver_del(dc);
  smtp_client_session_del(cs);
  smtp_client_options_del(co);
  smtp_client_callbacks_del(ccb);
  smtp_server_session_del(ss);
  smtp_server_options_del(so);
  smtp_server_callbacks_del(scb);
  smtp_tls_config_del(ccfg);
}

static const int versions[] = {SMTP_TLS_VERSION_1_2, SMTP_TLS_VERSION_1_3};

/* A run against the server configuration @p scfg, all else at its default. */
static run run_with(const smtp_tls_config *scfg) {
  run r;
  memset(&r, 0, sizeof r);
  r.scfg = scfg;
  return r;
}

/* @p tmpl once per TLS version, over STARTTLS and, when @p implicit_too,
 * implicit TLS as well; @p check called on each run the backend could
 * make. How many it made. */
static int run_versions(const run *tmpl, int implicit_too, void (*check)(const run *r)) {
  int ran = 0;
  for (size_t v = 0; v < 2; v++) {
    for (unsigned int flags = 0; flags <= (implicit_too ? SMTP_DRIVER_IMPLICIT_TLS : 0); flags++) {
      run r = *tmpl;
      r.version = versions[v];
      r.flags = flags;
      run_one(&r);
      if (r.skipped) continue;
      ran++;
      check(&r);
    }
  }
  return ran;
}

/* SCRAM-SHA-256-PLUS chosen by the client on its own, both versions,
 * STARTTLS and implicit TLS: the driver fed both sides the same binding. */
static void check_scram_plus(const run *r) {
  assert_int_equal(r->capp.auth_calls, 1);
  assert_int_equal(r->capp.auth_result, 0);
  assert_int_equal(r->used_mech, SMTP_SASL_SCRAM_SHA_256_PLUS);
  assert_string_equal(r->server_user, "user");
}

static void test_scram_plus(void **state) {
  run r = run_with(srv_cfg);
  int ran;
  (void)state;
  if (!smtp_tls_available()) skip();
  ran = run_versions(&r, 1, check_scram_plus);
  assert_true(ran >= 2); /* TLS 1.2 with every backend */
  print_message("SCRAM-SHA-256-PLUS: %d of 4 version/transport runs (TLS 1.3 needs the backend's support)\n", ran);
}

/* A forced SCRAM-SHA-256 becomes SCRAM-SHA-256-PLUS (RFC 5802 6: "MUST use
 * p" when the server offers the -PLUS form); SCRAM-SHA-1, whose -PLUS form
 * this server does not offer, sends "y" and succeeds. */
static void test_forced_family(void **state) {
  run r = run_with(srv_cfg);
  (void)state;
  if (!smtp_tls_available()) skip();
  r.client_mech = SMTP_SASL_SCRAM_SHA_256;
  run_one(&r);
  assert_int_equal(r.capp.auth_result, 0);
  assert_int_equal(r.used_mech, SMTP_SASL_SCRAM_SHA_256_PLUS);
  r = run_with(srv_cfg);
  r.client_mech = SMTP_SASL_SCRAM_SHA_1;
  run_one(&r);
  assert_int_equal(r.capp.auth_result, 0);
  assert_int_equal(r.used_mech, SMTP_SASL_SCRAM_SHA_1);
  assert_string_equal(r.server_user, "user");
}

/* The server's binding differs from the client's (as behind a
 * TLS-terminating man in the middle): the proof is refused, 535. */
static void check_wrong_binding(const run *r) {
  assert_int_equal(r->capp.auth_calls, 1);
  assert_int_equal(r->capp.auth_result, SMTP_ERR_AUTH_FAILED);
  assert_int_equal(r->server_user[0], 0);
}

static void test_wrong_binding(void **state) {
  run r = run_with(srv_cfg);
  (void)state;
  if (!smtp_tls_available()) skip();
  r.hook = HOOK_SERVER_WRONG_CB;
  run_versions(&r, 0, check_wrong_binding);
}

/* tls-unique under TLS 1.2 where the backend gives it (OpenSSL): the
 * server accepts it beside tls-server-end-point. */
static void test_tls_unique(void **state) {
  run r = run_with(srv_cfg);
  (void)state;
  if (!smtp_tls_available()) skip();
  r.version = SMTP_TLS_VERSION_1_2;
  r.hook = HOOK_CLIENT_UNIQUE;
  run_one(&r);
  if (r.unique_unsupported) { /* Mbed TLS: the driver's tls-server-end-point stays */
    assert_int_equal(r.capp.auth_result, 0);
    print_message("tls-unique: not in this backend\n");
    return;
  }
  assert_int_equal(r.capp.auth_result, 0);
  assert_int_equal(r.used_mech, SMTP_SASL_SCRAM_SHA_256_PLUS);
}

/* The server offers -PLUS, the client has no binding data: no SCRAM at
 * all (a downgrade, RFC 5802 6), nothing sent. */
static void test_client_without_binding(void **state) {
  run r = run_with(srv_cfg);
  (void)state;
  if (!smtp_tls_available()) skip();
  r.hook = HOOK_CLIENT_NO_CB;
  run_one(&r);
  assert_int_equal(r.capp.auth_calls, 1);
  assert_int_equal(r.capp.auth_result, SMTP_ERR_CHANNEL_BINDING);
  assert_int_equal(r.server_user[0], 0);
}

/* EXTERNAL with a client certificate the server verified: the identity is
 * the certificate's commonName. */
static void check_external(const run *r) {
  assert_int_equal(r->capp.auth_result, 0);
  assert_int_equal(r->used_mech, SMTP_SASL_EXTERNAL);
  assert_string_equal(r->server_user, "alice.example");
}

static void test_external(void **state) {
  run r = run_with(srv_cca_cfg);
  int ran;
  (void)state;
  if (!smtp_tls_available()) skip();
  r.client_cert = 1;
  r.client_mech = SMTP_SASL_EXTERNAL;
  ran = run_versions(&r, 1, check_external);
  assert_true(ran >= 2);
  print_message("EXTERNAL: %d of 4 version/transport runs\n", ran);
}

/* No EXTERNAL without a verified certificate: a certificate from another
 * CA, or none at all. */
static void test_external_refused(void **state) {
  run r = run_with(srv_other_cfg);
  (void)state;
  if (!smtp_tls_available()) skip();
  r.client_cert = 1;
  r.client_mech = SMTP_SASL_EXTERNAL;
  run_one(&r);
  assert_int_equal(r.capp.auth_result, SMTP_ERR_AUTH_UNAVAILABLE);
  assert_int_equal(r.server_user[0], 0);
  r = run_with(srv_cca_cfg);
  r.client_mech = SMTP_SASL_EXTERNAL;
  run_one(&r);
  assert_int_equal(r.capp.auth_result, SMTP_ERR_AUTH_UNAVAILABLE);
  /* the same certificate where none is asked for */
  r = run_with(srv_cfg);
  r.client_cert = 1;
  r.client_mech = SMTP_SASL_EXTERNAL;
  run_one(&r);
  assert_int_equal(r.capp.auth_result, SMTP_ERR_AUTH_UNAVAILABLE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scram_plus),
      cmocka_unit_test(test_forced_family),
      cmocka_unit_test(test_wrong_binding),
      cmocka_unit_test(test_tls_unique),
      cmocka_unit_test(test_client_without_binding),
      cmocka_unit_test(test_external),
      cmocka_unit_test(test_external_refused),
  };
  return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
