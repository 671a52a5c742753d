/* A build without SASL (meson -Dsasl=false; built only in such builds):
 * the server never offers AUTH in its EHLO reply (RFC 4954 3) and answers
 * the command as one it does not implement (RFC 5321 4.2.4: 502); the
 * client, given credentials, meets a server offering PLAIN and LOGIN as it
 * would one with no mechanism in common (RFC 4954 4: it does not send
 * AUTH) and refuses every mechanism setting. Transcripts run whole, byte
 * by byte and at random splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/features.h>
#include <smtp/ext.h>
#include <smtp/sasl.h>

#if SMTP_HAVE_SERVER
#include <smtp/server.h>

#include "server_scripts.h"
#include "transcript.h"

#define P502 "S: 502 5.5.1 Command not implemented\n"

/* Mechanisms configured and plaintext AUTH allowed: still no AUTH line. */
static void server_no_auth(void **state) {
  (void)state;
  tr_check("O: plaintext_auth\nO: mechs PLAIN LOGIN SCRAM-SHA-256\n" GREETING EHLO
           "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" P502
           "C: AUTH LOGIN\n" P502
           "C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 Sender OK\n",
           NULL);
}
#endif

#if SMTP_HAVE_CLIENT
#include "client_harness.h"

static const char *const R1[] = {"bob@example.org"};

static void setup_creds(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, NULL, "user", "secret"), SMTP_OK);
  assert_int_equal(smtp_client_options_set_allow_plaintext_auth(h->opt, 1), SMTP_OK);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}

/* No AUTH command leaves the client: the step ends as against a server
 * with no mechanism in common, and the transaction is not attempted. */
static void client_no_mechanism(void **state) {
  (void)state;
  h_transcript(setup_creds,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN LOGIN\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -41 0\nDONE -41 0 0\nCLOSED -41\n");
}

static void client_settings_refused(void **state) {
  smtp_client_options *o = NULL;
  unsigned int pref[1] = {SMTP_SASL_PLAIN};
  (void)state;
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_auth_mechanism(o, SMTP_SASL_PLAIN), SMTP_ERR_UNSUPPORTED);
  assert_int_equal(smtp_client_options_set_auth_mechanism(o, SMTP_SASL_SCRAM_SHA_256),
                   SMTP_ERR_UNSUPPORTED);
  assert_int_equal(smtp_client_options_set_auth_mechanism(o, 0), SMTP_OK);
  assert_int_equal(smtp_client_options_set_auth_preference(o, pref, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_auth_preference(o, NULL, 0), SMTP_OK);
  smtp_client_options_del(o);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
#if SMTP_HAVE_SERVER
      cmocka_unit_test(server_no_auth),
#endif
#if SMTP_HAVE_CLIENT
      cmocka_unit_test(client_no_mechanism),
      cmocka_unit_test(client_settings_refused),
#endif
  };
  assert_int_equal(SMTP_HAVE_SASL, 0);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
