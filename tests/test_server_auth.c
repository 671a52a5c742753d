/* Server session AUTH (RFC 4954): offering rules, SASL PLAIN (RFC 4616) and
 * LOGIN, initial responses, 334 continuations, cancel, strict base64,
 * authzid policy, failure limit, the step hook for other mechanisms,
 * require_auth, and redaction in the trace. Whole, byte by byte and at
 * random splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/server.h>

#include "server_scripts.h"
#include "transcript.h"

#define AUTH_BAD "S: 535 5.7.8 Authentication credentials invalid\n"
#define PLAIN_START "O: plaintext_auth\n" GREETING "C: EHLO client.example\n" EHLO_AUTH_REPLY

/* RFC 4954 4 advice / docs/examples.md: no AUTH without TLS unless allowed (538). */
TR_TEST(not_offered_without_tls,
  GREETING EHLO "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n"
  "S: 538 5.7.11 Encryption required for requested authentication mechanism\n")

/* Offered after STARTTLS (RFC 3207 + RFC 4954). */
TR_TEST(offered_after_tls,
  "O: tls\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-STARTTLS\nS: 250 LIMITS RCPTMAX=100\n"
  "C: STARTTLS\nS: 220 2.0.0 Ready to start TLS\nT:\n"
  "C: EHLO client.example\n" EHLO_AUTH_REPLY
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" AUTH_OK)

/* PLAIN with an initial response; wrong password 535; no response: "334 ". */
TR_TEST(plain,
  PLAIN_START
  "C: AUTH PLAIN AHVzZXIAd3Jvbmc=\n" AUTH_BAD
  "C: AUTH PLAIN\nS: 334 \nC: AHVzZXIAc2VjcmV0\n" AUTH_OK
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" BADSEQ
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "E: connect\nE: ehlo EHLO client.example\nE: auth PLAIN /user/wrong\n"
  "E: auth PLAIN /user/secret\nE: mail <a@b.example>\n")

/* docs/security.md 4: PLAIN without two NULs never authenticates; "=" is an
 * empty response; a control in the user name is refused. */
TR_TEST(plain_structure,
  PLAIN_START
  "C: AUTH PLAIN dXNlcgBzZWNyZXQ=\n" AUTH_BAD
  "C: AUTH PLAIN =\n" AUTH_BAD
  "C: AUTH PLAIN AABzZWNyZXQ=\n" AUTH_BAD
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0AA==\n" AUTH_BAD
  "C: AUTH PLAIN AHUNCnNlcgBzZWNyZXQ=\n" AUTH_BAD "S: 421 4.7.0 localhost Too many errors\n"
  "E: connect\nE: ehlo EHLO client.example\n")

/* RFC 4954 4: strict base64 (501 5.5.2), "*" cancels (501 5.7.0). */
TR_TEST(base64_and_cancel,
  "O: max_auth_failures 10\n" PLAIN_START
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0=\nS: 501 5.5.2 Cannot decode response\n"
  "C: AUTH PLAIN AHVz ZXIAc2VjcmV0\nS: 501 5.5.2 Cannot decode response\n"
  "C: AUTH PLAIN =AHVzZXIAc2VjcmV0\nS: 501 5.5.2 Cannot decode response\n"
  "C: AUTH PLAIN\nS: 334 \nC: !!!!\nS: 501 5.5.2 Cannot decode response\n"
  "C: AUTH PLAIN\nS: 334 \nC: *\nS: 501 5.7.0 Authentication cancelled\n"
  "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: *\nS: 501 5.7.0 Authentication cancelled\n"
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" AUTH_OK)

/* RFC 4616 2 / docs/security.md 4: authzid other than the user is refused by default. */
TR_TEST(authzid_default,
  PLAIN_START
  "C: AUTH PLAIN YWRtaW4AdXNlcgBzZWNyZXQ=\n" AUTH_BAD
  "C: AUTH PLAIN dXNlcgB1c2VyAHNlY3JldA==\n" AUTH_OK
  "E: connect\nE: ehlo EHLO client.example\nE: auth PLAIN user/user/secret\n")
TR_TEST(authzid_any,
  "O: authzid_any\n" PLAIN_START
  "C: AUTH PLAIN YWRtaW4AdXNlcgBzZWNyZXQ=\n" AUTH_OK
  "E: connect\nE: ehlo EHLO client.example\nE: auth PLAIN admin/user/secret\n")

/* LOGIN: user name then password, each its own 334; with an initial response. */
TR_TEST(login,
  PLAIN_START
  "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: d3Jvbmc=\n" AUTH_BAD
  "C: auth login dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: c2VjcmV0\n" AUTH_OK
  "E: connect\nE: ehlo EHLO client.example\nE: auth LOGIN /user/wrong\nE: auth LOGIN /user/secret\n")

/* RFC 4954 4: AUTH needs EHLO, not in a transaction; unknown mechanism 504;
 * no mechanism 501. */
TR_TEST(auth_sequence,
  "O: plaintext_auth\n" GREETING
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" BADSEQ
  "C: HELO client.example\nS: 250 localhost\nC: AUTH PLAIN AHVzZXIAc2VjcmV0\n" BADSEQ
  "C: EHLO client.example\n" EHLO_AUTH_REPLY
  "C: AUTH\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: AUTH PLAIN \nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: AUTH CRAM-MD5\nS: 504 5.5.4 Unrecognized authentication type\n"
  "C: AUTH X-UNKNOWN\nS: 504 5.5.4 Unrecognized authentication type\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" BADSEQ)

/* docs/security.md 4 / docs/examples.md: repeated failures lead to 421 4.7.0 and close. */
TR_TEST(failure_limit,
  "O: max_auth_failures 3\n" PLAIN_START
  "C: AUTH PLAIN AHVzZXIAd3Jvbmc=\n" AUTH_BAD
  "C: AUTH PLAIN\nS: 334 \nC: *\nS: 501 5.7.0 Authentication cancelled\n"
  "C: AUTH PLAIN AHVzZXIAd3Jvbmc=\n" AUTH_BAD "S: 421 4.7.0 localhost Too many errors\n"
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nZ: closed\n")

/* RFC 4954 4: a SASL line longer than the buffer fails with 500 5.5.6. */
TR_TEST(sasl_line_too_long,
  PLAIN_START "C: AUTH PLAIN\nS: 334 \nC: \\{3000:A}\nS: 500 5.5.6 Line too long\n"
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" AUTH_OK)

/* The application answers asynchronously. */
TR_TEST(auth_deferred,
  PLAIN_START "A: auth defer\nR: reply 454 4.7.0 Directory unavailable\n"
  "A: auth defer\nR: reply 235\n"
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nC: NOOP\nS: 454 4.7.0 Directory unavailable\nS: 250 2.0.0 OK\n"
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" AUTH_OK)

/* require_auth: MAIL refused with 530 5.7.0 until authenticated (docs/examples.md). */
TR_TEST(require_auth,
  "O: require_auth\n" PLAIN_START
  "C: MAIL FROM:<a@b.example>\nS: 530 5.7.0 Authentication required\n"
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" AUTH_OK "C: MAIL FROM:<a@b.example> AUTH=<>\n" MAIL_OK
  "E: connect\nE: ehlo EHLO client.example\nE: auth PLAIN /user/secret\nE: mail <a@b.example> auth=<>\n")

/* The step hook: a SCRAM-like exchange with challenges, deferred steps. */
TR_TEST(auth_step_mech,
  "O: plaintext_auth\nO: auth_step\nO: no_auth\nO: mechs SCRAM-SHA-256 PLAIN\n" GREETING
  "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-AUTH SCRAM-SHA-256 PLAIN\nS: 250 LIMITS RCPTMAX=100\n"
  "A: auth_step challenge r=nonce,s=salt\nA: auth_step defer\nR: accept alice\n"
  "C: AUTH SCRAM-SHA-256 Y2xpZW50LWZpcnN0\nS: 334 cj1ub25jZSxzPXNhbHQ=\n"
  "C: Y2xpZW50LWZpbmFs\n" AUTH_OK
  "E: connect\nE: ehlo EHLO client.example\nE: auth_step SCRAM-SHA-256 0 client-first\n"
  "E: auth_step SCRAM-SHA-256 1 client-final\n")

/* Step hook without an initial response; refusal; 0 without an answer: 454. */
TR_TEST(auth_step_refusals,
  "O: plaintext_auth\nO: auth_step\nO: mechs XOAUTH2\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-AUTH XOAUTH2\nS: 250 LIMITS RCPTMAX=100\n"
  "A: auth_step refuse\nC: AUTH XOAUTH2\n" AUTH_BAD
  "A: auth_step ok\nC: AUTH XOAUTH2 =\nS: 454 4.7.0 Temporary authentication failure\n"
  "A: auth_step challenge {\"status\":\"401\"}\nA: auth_step reply 535 5.7.8 Bad token\n"
  "C: AUTH XOAUTH2 dG9rZW4=\nS: 334 eyJzdGF0dXMiOiI0MDEifQ==\nC: \nS: 535 5.7.8 Bad token\n"
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\nS: 504 5.5.4 Unrecognized authentication type\n"
  "E: connect\nE: ehlo EHLO client.example\nE: auth_step XOAUTH2 0\n"
  "E: auth_step XOAUTH2 0 \nE: auth_step XOAUTH2 0 token\nE: auth_step XOAUTH2 1 \n")

/* The auth callback may accept under another identity. */
TR_TEST(accept_other_identity,
  PLAIN_START "A: auth accept alice@example.org\n"
  "C: AUTH PLAIN AHVzZXIAd3Jvbmc=\n" AUTH_OK
  "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" BADSEQ)

/* After AUTH the identity and the Received protocol are known. */
static int check_identity(smtp_server_session *s, const smtp_server_mail *m, void *ud) {
  size_t n;
  (void)m;
  (void)ud;
  assert_string_equal(smtp_server_session_auth_user(s, &n), "user");
  assert_int_equal(n, 4);
  assert_true(smtp_server_session_flags(s) & SMTP_SERVER_FLAG_AUTH);
  assert_string_equal(smtp_server_session_received_protocol(s), "ESMTPA");
  return 0;
}
static void setup_identity(smtp_server_options *o, smtp_server_callbacks *cb) {
  (void)o;
  smtp_server_callbacks_set_mail(cb, check_identity);
}
static void identity(void **state) {
  (void)state;
  tr_check(PLAIN_START "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" AUTH_OK
                       "C: MAIL FROM:<a@b.example>\n" MAIL_OK,
           setup_identity);
}

/* docs/security.md: credentials never reach the trace. */
static char trace_buf[8192];
static size_t trace_len;
static int on_trace(smtp_server_session *s, int dir, const char *line, size_t len, void *ud) {
  (void)s;
  (void)ud;
  trace_len += (size_t)snprintf(trace_buf + trace_len, sizeof trace_buf - trace_len, "%s%.*s\n",
                                dir == SMTP_SERVER_TRACE_IN ? "C: " : "S: ", (int)len, line);
  return 0;
}
static void setup_trace(smtp_server_options *o, smtp_server_callbacks *cb) {
  (void)o;
  smtp_server_callbacks_set_trace(cb, on_trace);
}
static void trace_redacted(void **state) {
  (void)state;
  trace_len = 0;
  trace_buf[0] = '\0';
  assert_int_equal(
      tr_run(PLAIN_START "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" AUTH_OK, setup_trace, TR_WHOLE, 1,
             trace_buf + 4096, 100),
      0);
  trace_len = 0;
  assert_int_equal(tr_run(PLAIN_START "C: AUTH LOGIN dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: c2VjcmV0\n" AUTH_OK,
                          setup_trace, TR_WHOLE, 1, trace_buf + 6000, 100),
                   0);
  assert_null(strstr(trace_buf, "c2VjcmV0"));
  assert_null(strstr(trace_buf, "dXNlcg"));
  assert_non_null(strstr(trace_buf, "C: AUTH LOGIN ***\n"));
  assert_non_null(strstr(trace_buf, "C: ***\n"));
  assert_non_null(strstr(trace_buf, "S: 235 2.7.0 Authentication successful\n"));
  trace_len = 0;
  assert_int_equal(tr_run(PLAIN_START "C: AUTH PLAIN AHVzZXIAc2VjcmV0\n" AUTH_OK, setup_trace,
                          TR_BYTES, 1, trace_buf + 6000, 100),
                   0);
  assert_null(strstr(trace_buf, "AHVzZXIAc2VjcmV0"));
  assert_non_null(strstr(trace_buf, "C: AUTH PLAIN ***\n"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(not_offered_without_tls), cmocka_unit_test(offered_after_tls),
      cmocka_unit_test(plain),            cmocka_unit_test(plain_structure),
      cmocka_unit_test(base64_and_cancel), cmocka_unit_test(authzid_default),
      cmocka_unit_test(authzid_any),      cmocka_unit_test(login),
      cmocka_unit_test(auth_sequence),    cmocka_unit_test(failure_limit),
      cmocka_unit_test(sasl_line_too_long), cmocka_unit_test(auth_deferred),
      cmocka_unit_test(require_auth),     cmocka_unit_test(auth_step_mech),
      cmocka_unit_test(auth_step_refusals), cmocka_unit_test(identity),
      cmocka_unit_test(accept_other_identity),
      cmocka_unit_test(trace_redacted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
