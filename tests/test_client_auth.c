/* Client AUTH (RFC 4954) through the session: PLAIN (RFC 4616), LOGIN,
 * CRAM-MD5 (RFC 2195), XOAUTH2, OAUTHBEARER (RFC 7628), SCRAM-SHA-256
 * (RFC 7677), the choice of mechanism, the distinct failures 535/534/454,
 * cancellation, the 512-octet AUTH line (RFC 4954 4), AUTH after STARTTLS.
 * Transcripts run whole, byte by byte and at random splits. */
#include "client_harness.h"

#include <smtp/sasl.h>

#include "hash.h"

static const char *const R1[] = {"bob@example.org"};

static void creds(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, NULL, "user", "secret"), SMTP_OK);
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}

#define TAIL_OK                                                                          \
  "C: MAIL FROM:<a@b.org>\nS: 250 ok\nC: RCPT TO:<bob@example.org>\nS: 250 ok\n"         \
  "C: DATA\nS: 354 go\nC: x\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n"
#define LOG_TAIL "READY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\nDONE 0 1 1\nCLOSED 0\n"

static void setup_plain(harness *h) { creds(h); }
static void test_plain(void **state) {
  (void)state;
  h_transcript(setup_plain,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN LOGIN\n"
               "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: 235 2.7.0 Authentication successful\n" TAIL_OK,
               "GREETING 220\nCAPS 200\nAUTH 0 235\n" LOG_TAIL);
}

static void setup_plain_authz(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, "admin", "user", "secret"), SMTP_OK);
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}
static void test_plain_authzid(void **state) {
  (void)state;
  h_transcript(setup_plain_authz,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN\n"
               "C: AUTH PLAIN YWRtaW4AdXNlcgBzZWNyZXQ=\nS: 235 ok\n" TAIL_OK,
               "GREETING 220\nCAPS 200\nAUTH 0 235\n" LOG_TAIL);
}

static void setup_login(harness *h) {
  creds(h);
  assert_int_equal(smtp_client_options_set_auth_mechanism(h->opt, SMTP_SASL_LOGIN), SMTP_OK);
}
static void test_login(void **state) {
  (void)state;
  h_transcript(setup_login,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-AUTH PLAIN\nS: 250 AUTH=LOGIN\n"
               "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: c2VjcmV0\n"
               "S: 235 2.7.0 ok\n" TAIL_OK,
               "GREETING 220\nCAPS 200\nAUTH 0 235\n" LOG_TAIL);
  /* a third challenge is cancelled with "*" (RFC 4954 4) */
  h_transcript(setup_login,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH LOGIN\n"
               "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: c2VjcmV0\n"
               "S: 334 TW9yZTo=\nC: *\nS: 501 5.7.0 cancelled\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -38 501\nDONE -38 0 0\nCLOSED -38\n");
}

/* RFC 4954 6: 535, 534 and 454 are reported distinctly; the session then
 * quits. */
static void test_auth_failures(void **state) {
  (void)state;
  static const struct { const char *reply; const char *log; } cases[] = {
      {"535 5.7.8 Authentication credentials invalid",
       "GREETING 220\nCAPS 200\nAUTH -38 535\nDONE -38 0 0\nCLOSED -38\n"},
      {"534 5.7.9 Authentication mechanism is too weak",
       "GREETING 220\nCAPS 200\nAUTH -39 534\nDONE -39 0 0\nCLOSED -39\n"},
      {"454 4.7.0 Temporary authentication failure",
       "GREETING 220\nCAPS 200\nAUTH -40 454\nDONE -40 0 0\nCLOSED -40\n"},
      {"504 5.5.4 Unrecognized authentication type",
       "GREETING 220\nCAPS 200\nAUTH -36 504\nDONE -36 0 0\nCLOSED -36\n"},
      {"432 4.7.12 A password transition is needed",
       "GREETING 220\nCAPS 200\nAUTH -37 432\nDONE -37 0 0\nCLOSED -37\n"},
      {"538 5.7.11 Encryption required",
       "GREETING 220\nCAPS 200\nAUTH -36 538\nDONE -36 0 0\nCLOSED -36\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char script[512];
    snprintf(script, sizeof script,
             "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN\n"
             "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: %s\nC: QUIT\nS: 221 bye\n",
             cases[i].reply);
    h_transcript(setup_plain, script, cases[i].log);
  }
  /* 421 during AUTH */
  h_transcript(setup_plain,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN\n"
               "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: 421 4.3.2 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -40 421\nDONE -37 0 0\nCLOSED -906\n");
  /* PLAIN does not expect a challenge: cancel */
  h_transcript(setup_plain,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN\n"
               "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: 334 \nC: *\nS: 501 cancelled\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -38 501\nDONE -38 0 0\nCLOSED -38\n");
  /* a challenge that is not base64: cancel */
  h_transcript(setup_login,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH LOGIN\n"
               "C: AUTH LOGIN\nS: 334 !!notbase64\nC: *\nS: 501 cancelled\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -38 501\nDONE -38 0 0\nCLOSED -38\n");
}

/* No mechanism in common / forced one missing / no AUTH at all. */
static void setup_force_cram(harness *h) {
  creds(h);
  if (smtp__hash_available())
    assert_int_equal(smtp_client_options_set_auth_mechanism(h->opt, SMTP_SASL_CRAM_MD5), SMTP_OK);
  else
    assert_int_equal(smtp_client_options_set_auth_mechanism(h->opt, SMTP_SASL_CRAM_MD5),
                     SMTP_ERR_UNSUPPORTED);
}
static void test_auth_unavailable(void **state) {
  (void)state;
  h_transcript(setup_plain,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH GSSAPI NTLM\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -41 0\nDONE -41 0 0\nCLOSED -41\n");
  h_transcript(setup_plain,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nAUTH -41 0\nDONE -41 0 0\nCLOSED -41\n");
  if (smtp__hash_available())
    h_transcript(setup_force_cram,
                 "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN LOGIN\n"
                 "C: QUIT\nS: 221 bye\n",
                 "GREETING 220\nCAPS 200\nAUTH -41 0\nDONE -41 0 0\nCLOSED -41\n");
}

/* CRAM-MD5 with the RFC 2195 example; chosen over PLAIN and LOGIN. */
static void setup_cram(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, NULL, "tim", "tanstaaftanstaaf"), SMTP_OK);
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}
static void test_cram_md5(void **state) {
  (void)state;
  if (!smtp__hash_available()) skip();
  h_transcript(setup_cram,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH LOGIN PLAIN CRAM-MD5\n"
               "C: AUTH CRAM-MD5\nS: 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\n"
               "C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\nS: 235 ok\n" TAIL_OK,
               "GREETING 220\nCAPS 200\nAUTH 0 235\n" LOG_TAIL);
}

/* OAuth: OAUTHBEARER preferred to XOAUTH2; errors answered as the
 * mechanisms say. */
static void setup_token(harness *h) {
  assert_int_equal(smtp_client_options_set_oauth_token(h->opt, "u@x.org", "tok123"), SMTP_OK);
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}
static void test_oauth(void **state) {
  (void)state;
  h_transcript(setup_token,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN XOAUTH2 OAUTHBEARER\n"
               "C: AUTH OAUTHBEARER bixhPXVAeC5vcmcsAWF1dGg9QmVhcmVyIHRvazEyMwEB\nS: 235 ok\n" TAIL_OK,
               "GREETING 220\nCAPS 200\nAUTH 0 235\n" LOG_TAIL);
  /* RFC 7628 3.2.3: an error challenge is answered with %x01 */
  h_transcript(setup_token,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH OAUTHBEARER\n"
               "C: AUTH OAUTHBEARER bixhPXVAeC5vcmcsAWF1dGg9QmVhcmVyIHRvazEyMwEB\n"
               "S: 334 eyJzdGF0dXMiOiI0MDEifQ==\nC: AQ==\nS: 535 5.7.8 bad token\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -38 535\nDONE -38 0 0\nCLOSED -38\n");
  h_transcript(setup_token,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN XOAUTH2\n"
               "C: AUTH XOAUTH2 dXNlcj11QHgub3JnAWF1dGg9QmVhcmVyIHRvazEyMwEB\nS: 235 ok\n" TAIL_OK,
               "GREETING 220\nCAPS 200\nAUTH 0 235\n" LOG_TAIL);
  /* XOAUTH2 error: an empty response lets the server finish */
  h_transcript(setup_token,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH XOAUTH2\n"
               "C: AUTH XOAUTH2 dXNlcj11QHgub3JnAWF1dGg9QmVhcmVyIHRvazEyMwEB\n"
               "S: 334 eyJzdGF0dXMiOiI0MDEifQ==\nC: \nS: 535 5.7.8 bad\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -38 535\nDONE -38 0 0\nCLOSED -38\n");
}

/* RFC 4954 4: an AUTH line would pass 512 octets: the initial response
 * follows the server's empty challenge instead. */
static char long_token[700];
static void setup_long_token(harness *h) {
  memset(long_token, 'T', sizeof long_token - 1);
  long_token[sizeof long_token - 1] = 0;
  assert_int_equal(smtp_client_options_set_oauth_token(h->opt, "u", long_token), SMTP_OK);
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  h->no_submit = 1;
}
static void test_long_initial_response(void **state) {
  (void)state;
  char raw[1024], b64[2048], script[4096];
  int n = snprintf(raw, sizeof raw, "user=u\001auth=Bearer %s\001\001", long_token[0] ? long_token : "");
  (void)n;
  /* the token is set by the setup; compute the expected line from it */
  memset(long_token, 'T', sizeof long_token - 1);
  long_token[sizeof long_token - 1] = 0;
  n = snprintf(raw, sizeof raw, "user=u\001auth=Bearer %s\001\001", long_token);
  smtp_ssize k = smtp_base64_encode(raw, (size_t)n, b64, sizeof b64);
  assert_true(k > 0);
  b64[k] = 0;
  snprintf(script, sizeof script,
           "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH XOAUTH2\n"
           "C: AUTH XOAUTH2\nS: 334 \nC: %s\nS: 235 ok\nQUIT\nC: QUIT\nS: 221 bye\n",
           b64);
  h_transcript(setup_long_token, script, "GREETING 220\nCAPS 200\nAUTH 0 235\nREADY\nCLOSED 0\n");
}

/* The longest token (8192 octets) and a 255-octet user of commas, whose
 * OAUTHBEARER saslname triples (RFC 7628 3.1: "," is "=2C"): the AUTH
 * buffers are sized for them at session creation, and the response goes
 * after the empty 334 (RFC 4954 4, the line is over 512 octets). */
static char max_token[8193], comma_user[256];
static unsigned max_mech;
static void setup_max_token(harness *h) {
  memset(max_token, 'T', sizeof max_token - 1);
  memset(comma_user, ',', sizeof comma_user - 1);
  assert_int_equal(smtp_client_options_set_oauth_token(h->opt, comma_user, max_token), SMTP_OK);
  assert_int_equal(smtp_client_options_set_auth_mechanism(h->opt, max_mech), SMTP_OK);
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  h->no_submit = 1;
}
static void test_max_token(void **state) {
  static char raw[12000], b64[16384], script[20000];
  size_t n = 0, i;
  smtp_ssize k;
  (void)state;
  memset(max_token, 'T', sizeof max_token - 1);
  memset(comma_user, ',', sizeof comma_user - 1);
  for (int m = 0; m < 2; m++) {
    max_mech = m ? SMTP_SASL_OAUTHBEARER : SMTP_SASL_XOAUTH2;
    n = 0;
    if (m) {
      n += (size_t)sprintf(raw, "n,a=");
      for (i = 0; i < 255; i++) n += (size_t)sprintf(raw + n, "=2C");
      n += (size_t)sprintf(raw + n, ",\001auth=Bearer %s\001\001", max_token);
    } else {
      n = (size_t)sprintf(raw, "user=%s\001auth=Bearer %s\001\001", comma_user, max_token);
    }
    k = smtp_base64_encode(raw, n, b64, sizeof b64);
    assert_true(k > 0);
    b64[k] = 0;
    snprintf(script, sizeof script,
             "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH %s\n"
             "C: AUTH %s\nS: 334 \nC: %s\nS: 235 ok\nQUIT\nC: QUIT\nS: 221 bye\n",
             m ? "OAUTHBEARER" : "XOAUTH2", m ? "OAUTHBEARER" : "XOAUTH2", b64);
    h_transcript(setup_max_token, script, "GREETING 220\nCAPS 200\nAUTH 0 235\nREADY\nCLOSED 0\n");
  }
}

/* SCRAM-SHA-256 through the session: nonce from the random hook, proof
 * checked against values computed independently, server signature
 * verified before 235 counts (RFC 5802 5). */
static int fixed_random(void *buf, size_t len, void *ud) {
  (void)ud;
  memset(buf, 'A', len);
  return 0;
}
static void setup_scram(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, NULL, "user", "pencil"), SMTP_OK);
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  smtp_client_options_set_random(h->opt, fixed_random, NULL);
  h->no_submit = 1;
}
#define SCRAM_C1 "biwsbj11c2VyLHI9UVVGQlFVRkJRVUZCUVVGQlFVRkJRVUZC"
#define SCRAM_S1 "cj1RVUZCUVVGQlFVRkJRVUZCUVVGQlFVRkJTUlYscz1XMjJaYUowU05ZN3NvRXNVRWpiNmdRPT0saT00MDk2"
#define SCRAM_C2                                                                                 \
  "Yz1iaXdzLHI9UVVGQlFVRkJRVUZCUVVGQlFVRkJRVUZCU1JWLHA9UFVwcTJHRjhVcSszWW5iZ3o0dy9pWGRsMWdzdnlJ" \
  "aFZTQi9ucjB5b3Y5Yz0="
#define SCRAM_S2 "dj1JSUxIbWhyZEtVdGdhY1hrUk9mZVB1S1NEZWszc3BNdUZuOEwxeGxTVkpBPQ=="
#define SCRAM_S2BAD "dj1BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBPQ=="
static void test_scram(void **state) {
  (void)state;
  if (!smtp__hash_available()) skip();
  h_transcript(setup_scram,
               "S: 220 mx\nC: EHLO client.example\n"
               "S: 250-mx\nS: 250 AUTH PLAIN CRAM-MD5 SCRAM-SHA-256 OAUTHBEARER\n"
               "C: AUTH SCRAM-SHA-256 " SCRAM_C1 "\nS: 334 " SCRAM_S1 "\nC: " SCRAM_C2 "\n"
               "S: 334 " SCRAM_S2 "\nC: \nS: 235 2.7.0 ok\nQUIT\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH 0 235\nREADY\nCLOSED 0\n");
  /* a wrong server signature: cancelled, not authenticated */
  h_transcript(setup_scram,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH SCRAM-SHA-256\n"
               "C: AUTH SCRAM-SHA-256 " SCRAM_C1 "\nS: 334 " SCRAM_S1 "\nC: " SCRAM_C2 "\n"
               "S: 334 " SCRAM_S2BAD "\nC: *\nS: 501 cancelled\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -38 501\nCLOSED -38\n");
  /* 235 before the server proved itself is not believed */
  h_transcript(setup_scram,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH SCRAM-SHA-256\n"
               "C: AUTH SCRAM-SHA-256 " SCRAM_C1 "\nS: 334 " SCRAM_S1 "\nC: " SCRAM_C2 "\n"
               "S: 235 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -38 235\nCLOSED -38\n");
}

/* Without a random hook SCRAM is never chosen. */
static void setup_no_random(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, NULL, "user", "secret"), SMTP_OK);
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  h->no_submit = 1;
}
static void test_scram_needs_random(void **state) {
  (void)state;
  h_transcript(setup_no_random,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH SCRAM-SHA-256 PLAIN\n"
               "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: 235 ok\nQUIT\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH 0 235\nREADY\nCLOSED 0\n");
}

/* After STARTTLS: AUTH without the plaintext permission, and the
 * mechanism list of the second EHLO only. */
static void setup_tls_auth(harness *h) {
  assert_int_equal(smtp_client_options_set_credentials(h->opt, NULL, "user", "secret"), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(h->opt, SMTP_CLIENT_STARTTLS_REQUIRED), SMTP_OK);
  h_txn(h, "a@b.org", R1, 1, "x\r\n");
}
static void test_auth_after_starttls(void **state) {
  (void)state;
  h_transcript(setup_tls_auth,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-AUTH LOGIN\nS: 250 STARTTLS\n"
               "C: STARTTLS\nS: 220 go\nTLS\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN\n"
               "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: 235 ok\n" TAIL_OK,
               "GREETING 220\nCAPS 300\nSTARTTLS\nTLS 0\nCAPS 200\nAUTH 0 235\n" LOG_TAIL);
  assert_int_equal(0, 0);
}


/* Mechanism choice among the SCRAM family (RFC 5802 6): without
 * channel-binding data the -PLUS forms are never used and the flag is "n";
 * with data a -PLUS form is preferred, and "y" is sent when the server
 * offers none. The script is run whole, byte by byte and at random splits. */
#define SCRAM_N "biwsbj11c2VyLHI9UVVGQlFVRkJRVUZCUVVGQlFVRkJRVUZC"
#define SCRAM_P "cD10bHMtZXhwb3J0ZXIsLG49dXNlcixyPVFVRkJRVUZCUVVGQlFVRkJRVUZCUVVGQg=="
#define SCRAM_Y "eSwsbj11c2VyLHI9UVVGQlFVRkJRVUZCUVVGQlFVRkJRVUZC"
static void run_cb(harness_setup_fn setup, const char *cbtype, const char *script, const char *log) {
  static const struct { int mode; uint32_t seed; } runs[] = {{FEED_WHOLE, 0}, {FEED_BYTES, 0}, {FEED_RANDOM, 5}};
  static const unsigned char cb[32] = {9, 8, 7};
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h_start(h, setup, runs[i].mode, runs[i].seed);
    if (cbtype) assert_int_equal(smtp_client_session_set_channel_binding(h->c, cbtype, cb, sizeof cb), SMTP_OK);
    h_run(h, script);
    h_expect_log(h, log);
    h_end(h);
    free(h);
  }
}
static void setup_force_scram256(harness *h) {
  setup_scram(h);
  assert_int_equal(smtp_client_options_set_auth_mechanism(h->opt, SMTP_SASL_SCRAM_SHA_256), SMTP_OK);
}
static void setup_force_scram1(harness *h) {
  setup_scram(h);
  assert_int_equal(smtp_client_options_set_auth_mechanism(h->opt, SMTP_SASL_SCRAM_SHA_1), SMTP_OK);
}
static void test_scram_family_choice(void **state) {
  (void)state;
  /* RFC 5802 6: the server offers SCRAM-SHA-256-PLUS but the client has no
   * channel-binding data: taken as a downgrade, nothing is sent */
  run_cb(setup_scram, NULL,
         "S: 220 mx\nC: EHLO client.example\n"
         "S: 250-mx\nS: 250 AUTH SCRAM-SHA-1 SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN\n"
         "C: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -70 0\nCLOSED -70\n");
  run_cb(setup_force_scram256, NULL,
         "S: 220 mx\nC: EHLO client.example\n"
         "S: 250-mx\nS: 250 AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256\n"
         "C: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -70 0\nCLOSED -70\n");
  /* RFC 5802 6: with data, a forced SCRAM-SHA-256 becomes its offered
   * -PLUS form ("MUST use a p gs2-cbind-flag") */
  run_cb(setup_force_scram256, "tls-exporter",
         "S: 220 mx\nC: EHLO client.example\n"
         "S: 250-mx\nS: 250 AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256\n"
         "C: AUTH SCRAM-SHA-256-PLUS " SCRAM_P "\nS: 535 no\nC: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -38 535\nCLOSED -38\n");
  /* only the -PLUS form offered: used with data, refused without */
  run_cb(setup_force_scram256, "tls-exporter",
         "S: 220 mx\nC: EHLO client.example\n"
         "S: 250-mx\nS: 250 AUTH SCRAM-SHA-256-PLUS PLAIN\n"
         "C: AUTH SCRAM-SHA-256-PLUS " SCRAM_P "\nS: 535 no\nC: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -38 535\nCLOSED -38\n");
  run_cb(setup_force_scram256, NULL,
         "S: 220 mx\nC: EHLO client.example\n"
         "S: 250-mx\nS: 250 AUTH SCRAM-SHA-256-PLUS PLAIN\n"
         "C: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -70 0\nCLOSED -70\n");
  /* the SHA-1 family without -PLUS offered: "n" as before */
  run_cb(setup_force_scram1, NULL,
         "S: 220 mx\nC: EHLO client.example\n"
         "S: 250-mx\nS: 250 AUTH SCRAM-SHA-1 SCRAM-SHA-256-PLUS SCRAM-SHA-256\n"
         "C: AUTH SCRAM-SHA-1 " SCRAM_N "\nS: 535 no\nC: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -38 535\nCLOSED -38\n");
  run_cb(setup_scram, NULL,
         "S: 220 mx\nC: EHLO client.example\n"
         "S: 250-mx\nS: 250 AUTH SCRAM-SHA-1 SCRAM-SHA-512 SCRAM-SHA-256\n"
         "C: AUTH SCRAM-SHA-512 " SCRAM_N "\nS: 535 no\nC: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -38 535\nCLOSED -38\n");
  run_cb(setup_scram, "tls-exporter",
         "S: 220 mx\nC: EHLO client.example\n"
         "S: 250-mx\nS: 250 AUTH SCRAM-SHA-1 SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN\n"
         "C: AUTH SCRAM-SHA-256-PLUS " SCRAM_P "\nS: 535 no\nC: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -38 535\nCLOSED -38\n");
  run_cb(setup_scram, "tls-exporter",
         "S: 220 mx\nC: EHLO client.example\n"
         "S: 250-mx\nS: 250 AUTH SCRAM-SHA-256 PLAIN\n"
         "C: AUTH SCRAM-SHA-256 " SCRAM_Y "\nS: 535 no\nC: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -38 535\nCLOSED -38\n");
  /* a server asking for more iterations than allowed (100,000) is refused */
  run_cb(setup_scram, NULL,
         "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH SCRAM-SHA-256\n"
         "C: AUTH SCRAM-SHA-256 " SCRAM_N "\n"
         "S: 334 cj1RVUZCUVVGQlFVRkJRVUZCUVVGQlFVRkJRVUZCWFlaLHM9UVNYQ1IrUTZzZWs4YmY5MixpPTIwMDAwMA==\n"
         "C: *\nS: 501 cancelled\nC: QUIT\nS: 221 bye\n",
         "GREETING 220\nCAPS 200\nAUTH -38 501\nCLOSED -38\n");
}

/* The preference order replaces the built-in one. */
static void setup_pref(harness *h) {
  static const unsigned int order[] = {SMTP_SASL_LOGIN, SMTP_SASL_PLAIN};
  setup_scram(h);
  assert_int_equal(smtp_client_options_set_auth_preference(h->opt, order, 2), SMTP_OK);
}
static void test_preference(void **state) {
  (void)state;
  static const unsigned int bad[] = {SMTP_SASL_LOGIN | SMTP_SASL_PLAIN};
  smtp_client_options *o;
  h_transcript(setup_pref,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH SCRAM-SHA-256 PLAIN\n"
               "C: AUTH PLAIN AHVzZXIAcGVuY2ls\nS: 235 ok\nQUIT\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH 0 235\nREADY\nCLOSED 0\n");
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_auth_preference(o, bad, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_auth_preference(o, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_scram_max_iterations(o, 100), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_scram_max_iterations(o, 500000), SMTP_OK);
  smtp_client_options_del(o);
}

/* EXTERNAL (RFC 4422 A.1) forced without credentials: an empty initial
 * response ("=", RFC 4954 4). */
static void setup_external(harness *h) {
  smtp_client_options_set_allow_plaintext_auth(h->opt, 1);
  assert_int_equal(smtp_client_options_set_auth_mechanism(h->opt, SMTP_SASL_EXTERNAL), SMTP_OK);
  h->no_submit = 1;
}
static void test_external(void **state) {
  (void)state;
  h_transcript(setup_external,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH EXTERNAL PLAIN\n"
               "C: AUTH EXTERNAL =\nS: 235 ok\nQUIT\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH 0 235\nREADY\nCLOSED 0\n");
  h_transcript(setup_external,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN\n"
               "C: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -41 0\nCLOSED -41\n");
}

/* An application mechanism through the vtable (smtp_sasl_mechanism):
 * "X-ECHO" sends "hello", answers each challenge reversed, and believes a
 * 235 only after the challenge "ok". */
static int echo_frees, echo_starts;
typedef struct { int ok; } echo_state;
static int echo_start(void **state, const smtp_sasl_client_creds *cr, unsigned char *out, size_t cap,
                      size_t *outlen, int *has_initial, void *ud) {
  echo_state *st = calloc(1, sizeof *st);
  (void)ud;
  assert_non_null(st);
  assert_int_equal(cr->user.len, 4); /* the session's credentials are passed on */
  assert_true(cap >= 5);
  memcpy(out, "hello", 5);
  *outlen = 5;
  *has_initial = 1;
  *state = st;
  echo_starts++;
  return 0;
}
static int echo_step(void *state, const unsigned char *ch, size_t len, unsigned char *out, size_t cap,
                     size_t *outlen, void *ud) {
  echo_state *st = state;
  (void)ud;
  if (len == 2 && memcmp(ch, "ok", 2) == 0) st->ok = 1;
  if (len == 4 && memcmp(ch, "stop", 4) == 0) return 1; /* cancel */
  assert_true(cap >= len);
  for (size_t i = 0; i < len; i++) out[i] = ch[len - 1 - i];
  *outlen = len;
  return 0;
}
static int echo_done(void *state, void *ud) {
  (void)ud;
  return ((echo_state *)state)->ok;
}
static void echo_free(void *state, void *ud) {
  (void)ud;
  echo_frees++;
  free(state);
}
static const smtp_sasl_mechanism ECHO = {SMTP_SASL_MECHANISM_VERSION, "X-ECHO", echo_start, echo_step,
                                         echo_done, echo_free, NULL};
static void setup_echo(harness *h) {
  setup_scram(h);
  assert_int_equal(smtp_client_options_add_sasl_mechanism(h->opt, &ECHO), SMTP_OK);
}
static void test_custom_mechanism(void **state) {
  smtp_sasl_mechanism bad = ECHO;
  smtp_client_options *o;
  (void)state;
  echo_frees = echo_starts = 0;
  h_transcript(setup_echo,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN x-echo\n"
               "C: AUTH X-ECHO aGVsbG8=\nS: 334 YWJj\nC: Y2Jh\nS: 334 b2s=\nC: a28=\n"
               "S: 235 ok\nQUIT\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH 0 235\nREADY\nCLOSED 0\n");
  assert_int_equal(echo_starts, 6);
  assert_int_equal(echo_frees, 6);
  /* a 235 the mechanism does not believe; a cancel */
  h_transcript(setup_echo,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH X-ECHO\n"
               "C: AUTH X-ECHO aGVsbG8=\nS: 235 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -38 235\nCLOSED -38\n");
  h_transcript(setup_echo,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH X-ECHO\n"
               "C: AUTH X-ECHO aGVsbG8=\nS: 334 c3RvcA==\nC: *\nS: 501 cancelled\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH -38 501\nCLOSED -38\n");
  assert_int_equal(echo_frees, echo_starts);
  /* not offered: the built-in mechanisms as usual */
  h_transcript(setup_echo,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 AUTH PLAIN\n"
               "C: AUTH PLAIN AHVzZXIAcGVuY2ls\nS: 235 ok\nQUIT\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 200\nAUTH 0 235\nREADY\nCLOSED 0\n");
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  bad.name = "x-echo"; /* RFC 4422 3.1: upper case */
  assert_int_equal(smtp_client_options_add_sasl_mechanism(o, &bad), SMTP_ERR_INVALID_ARGUMENT);
  bad = ECHO;
  bad.version = 2;
  assert_int_equal(smtp_client_options_add_sasl_mechanism(o, &bad), SMTP_ERR_INVALID_ARGUMENT);
  for (int i = 0; i < 4; i++) assert_int_equal(smtp_client_options_add_sasl_mechanism(o, &ECHO), SMTP_OK);
  assert_int_equal(smtp_client_options_add_sasl_mechanism(o, &ECHO), SMTP_ERR_LIMIT);
  smtp_client_options_del(o);
}

/* The client's trace never shows a proof, a password or a token. */
static void setup_scram_trace(harness *h) {
  setup_scram(h);
  h->trace = 1;
}
static void test_trace_redacted(void **state) {
  harness *h = calloc(1, sizeof *h);
  (void)state;
  assert_non_null(h);
  h_start(h, setup_scram_trace, FEED_WHOLE, 0);
  h_run(h, "S: 220 mx\nC: EHLO client.example\n"
           "S: 250-mx\nS: 250 AUTH SCRAM-SHA-256\n"
           "C: AUTH SCRAM-SHA-256 " SCRAM_C1 "\nS: 334 " SCRAM_S1 "\nC: " SCRAM_C2 "\n"
           "S: 334 " SCRAM_S2 "\nC: \nS: 235 2.7.0 ok\nQUIT\nC: QUIT\nS: 221 bye\n");
  assert_non_null(strstr(h->log, "TS 235 2.7.0 ok")); /* the trace was recorded */
  assert_non_null(strstr(h->log, "TC AUTH SCRAM-SHA-256")); /* the client's lines too */
  assert_null(strstr(h->log, SCRAM_C2));
  assert_null(strstr(h->log, "UFVwcTJHRjhVcSszWW5iZ3o0dy9pWGRsMWdzdnlJ")); /* the proof's base64 */
  assert_null(strstr(h->log, SCRAM_C1));
  h_end(h);
  free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_plain_authzid),
      cmocka_unit_test(test_login),
      cmocka_unit_test(test_auth_failures),
      cmocka_unit_test(test_auth_unavailable),
      cmocka_unit_test(test_cram_md5),
      cmocka_unit_test(test_oauth),
      cmocka_unit_test(test_long_initial_response),
      cmocka_unit_test(test_max_token),
      cmocka_unit_test(test_scram),
      cmocka_unit_test(test_scram_needs_random),
      cmocka_unit_test(test_auth_after_starttls),
      cmocka_unit_test(test_scram_family_choice),
      cmocka_unit_test(test_preference),
      cmocka_unit_test(test_external),
      cmocka_unit_test(test_custom_mechanism),
      cmocka_unit_test(test_trace_redacted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
