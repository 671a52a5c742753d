/* Server session extensions: PIPELINING with backpressure (RFC 2920), SIZE
 * (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES
 * (RFC 2034), DSN (RFC 3461), STARTTLS (RFC 3207), REQUIRETLS (RFC 8689),
 * LIMITS (RFC 9422). Whole, byte by byte and at random splits. */
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

#define EHLO_TLS_REPLY "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-STARTTLS\nS: 250 LIMITS RCPTMAX=100\n"
#define EHLO_TLS_AUTH_REPLY "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-AUTH PLAIN LOGIN\nS: 250 LIMITS RCPTMAX=100\n"
#define EHLO_DSN_REPLY "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-DSN\nS: 250 LIMITS RCPTMAX=100\n"

/* SIZE without a limit is advertised without a value (RFC 1870 4). */
TR_TEST(size_unlimited,
  GREETING EHLO "C: MAIL FROM:<a@b.example> SIZE=123456789012\n" MAIL_OK
  EHLO_EV "E: mail <a@b.example> size=123456789012\n")

/* RFC 6152: BODY=7BIT / 8BITMIME; other values 501; repeated 501. */
TR_TEST(body_param,
  GREETING EHLO
  "C: MAIL FROM:<a@b.example> BODY=8BITMIME\n" MAIL_OK "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: MAIL FROM:<a@b.example> body=7bit\n" MAIL_OK "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: MAIL FROM:<a@b.example> BODY=9BIT\n" P501
  "C: MAIL FROM:<a@b.example> BODY\n" P501
  "C: MAIL FROM:<a@b.example> BODY=7BIT BODY=7BIT\n" P501
  "C: MAIL FROM:<a@b.example> FOO=bar\n" P555
  "C: MAIL FROM:<a@b.example> =x\n" P501
  EHLO_EV "E: mail <a@b.example> body=8BITMIME\nE: rset\nE: mail <a@b.example> body=7BIT\nE: rset\n")

/* BINARYMIME is only offered with CHUNKING (RFC 3030 3). */
TR_TEST(binarymime_needs_chunking,
  "O: ext- CHUNKING\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE\nS: 250-8BITMIME\nS: 250-SMTPUTF8\n"
  "S: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example> BODY=BINARYMIME\n" P501)

/* RFC 6531 3.4/3.5: UTF-8 addresses only with SMTPUTF8 (553 5.6.7). */
TR_TEST(smtputf8,
  GREETING EHLO
  "C: MAIL FROM:<j\\xc3\\xb8rn@b.example>\nS: 553 5.6.7 Address requires SMTPUTF8\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<\\xe7\\x94\\xa8\\xe6\\x88\\xb7@d.example>\nS: 553 5.6.7 Address requires SMTPUTF8\n"
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: MAIL FROM:<j\\xc3\\xb8rn@b.example> SMTPUTF8\n" MAIL_OK
  "C: RCPT TO:<\\xe7\\x94\\xa8\\xe6\\x88\\xb7@\\xe4\\xbe\\x8b\\xe5\\xad\\x90.example>\n" RCPT_OK
  "C: RCPT TO:<bad\\xc0\\x80@d.example>\nS: 501 5.1.3 Bad address syntax\n"
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: MAIL FROM:<a@b.example> SMTPUTF8=yes\n" P501
  EHLO_EV "E: mail <a@b.example>\nE: rset\nE: mail <j\\xC3\\xB8rn@b.example> smtputf8\n"
  "E: rcpt <\\xE7\\x94\\xA8\\xE6\\x88\\xB7@\\xE4\\xBE\\x8B\\xE5\\xAD\\x90.example> #0\nE: rset\n")

/* Without the extension the parameter is unknown, UTF-8 refused. */
TR_TEST(smtputf8_off,
  "O: ext- SMTPUTF8\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
  "S: 250-CHUNKING\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example> SMTPUTF8\n" P555
  "C: MAIL FROM:<j\\xc3\\xb8rn@b.example>\nS: 553 5.6.7 Address requires SMTPUTF8\n")

/* RFC 3461: DSN parameters parsed, xtext-decoded and validated. */
TR_TEST(dsn_params,
  "O: ext+ DSN\n" GREETING "C: EHLO client.example\n" EHLO_DSN_REPLY
  "C: MAIL FROM:<a@b.example> RET=HDRS ENVID=QQ+2B+3D123\n" MAIL_OK
  "C: RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+40d.example\n" RCPT_OK
  "C: RCPT TO:<e@d.example> NOTIFY=NEVER\n" RCPT_OK
  "C: RCPT TO:<f@d.example> NOTIFY=never,delay\n" P501
  "C: RCPT TO:<f@d.example> NOTIFY=SUCCESS,SUCCESS\n" P501
  "C: RCPT TO:<f@d.example> NOTIFY=\n" P501
  "C: RCPT TO:<f@d.example> NOTIFY=SOMETIMES\n" P501
  "C: RCPT TO:<f@d.example> ORCPT=rfc822\n" P501
  "C: RCPT TO:<f@d.example> ORCPT=;x@y\n" P501
  "C: RCPT TO:<f@d.example> ORCPT=rfc822;x+4\n" P501
  "C: RCPT TO:<f@d.example> ORCPT=rfc822;x+0Dy\n" P501
  "C: RCPT TO:<f@d.example> ORCPT=rfc822;a@b ORCPT=rfc822;a@b\n" P501
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: MAIL FROM:<a@b.example> RET=ALL\n" P501
  "C: MAIL FROM:<a@b.example> RET=FULL RET=FULL\n" P501
  "C: MAIL FROM:<a@b.example> ENVID=a+2bb\n" P501
  "C: MAIL FROM:<a@b.example> ENVID=a+0Ab\n" P501
  "C: MAIL FROM:<a@b.example> ENVID=\\{101:e}\n" P501
  "C: MAIL FROM:<a@b.example> RET=full ENVID=\\{100:e}\n" MAIL_OK
  "E: connect\nE: ehlo EHLO client.example\n"
  "E: mail <a@b.example> ret=HDRS envid=QQ+=123\n"
  "E: rcpt <c@d.example> notify=6 orcpt=rfc822;c@d.example #0\n"
  "E: rcpt <e@d.example> notify=1 #1\nE: rset\n"
  "E: mail <a@b.example> ret=FULL envid=\\{100:e}\n")

/* Without DSN its parameters are unknown (RFC 5321 4.1.1.11: 555). */
TR_TEST(dsn_off,
  GREETING EHLO "C: MAIL FROM:<a@b.example> RET=FULL\n" P555
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example> NOTIFY=NEVER\n" P555)

/* RCPT line room for DSN parameters (RFC 3461 5.4: 1036 octets). */
TR_TEST(dsn_long_rcpt,
  "O: ext+ DSN\n" GREETING "C: EHLO client.example\n" EHLO_DSN_REPLY
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;\\{490:x}\n" RCPT_OK)

/* RFC 3207: STARTTLS offered with TLS; after the handshake the EHLO state is
 * forgotten and STARTTLS is no longer offered. */
TR_TEST(starttls_basic,
  "O: tls\n" GREETING "C: EHLO client.example\n" EHLO_TLS_REPLY
  "C: STARTTLS\nS: 220 2.0.0 Ready to start TLS\nT:\n"
  "C: MAIL FROM:<a@b.example>\n" BADSEQ
  "C: EHLO client.example\n" EHLO_TLS_AUTH_REPLY
  "C: STARTTLS\n" BADSEQ
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  EHLO_EV "E: starttls\nE: ehlo EHLO client.example\nE: mail <a@b.example>\n")

/* STARTTLS refusals: arguments 501, before EHLO or in a transaction 503,
 * not available 502, the callback's 454. */
TR_TEST(starttls_refusals,
  "O: tls\n" GREETING
  "C: STARTTLS\n" BADSEQ
  "C: HELO client.example\nS: 250 localhost\nC: STARTTLS\n" BADSEQ
  "C: EHLO client.example\n" EHLO_TLS_REPLY
  "C: STARTTLS now\n" P501
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: STARTTLS\n" BADSEQ "C: RSET\nS: 250 2.0.0 Reset\n"
  "A: starttls refuse\nC: STARTTLS\nS: 454 4.7.0 TLS not available\n"
  "A: starttls reply 454 4.7.0 No certificate loaded\n"
  "C: STARTTLS\nS: 454 4.7.0 No certificate loaded\n")

/* REQUIRETLS (RFC 8689 4): offered only under TLS; the parameter needs TLS. */
TR_TEST(requiretls,
  "O: tls\nO: ext+ REQUIRETLS\n" GREETING "C: EHLO client.example\n" EHLO_TLS_REPLY
  "C: MAIL FROM:<a@b.example> REQUIRETLS\nS: 530 5.7.10 REQUIRETLS needs a TLS session\n"
  "C: STARTTLS\nS: 220 2.0.0 Ready to start TLS\nT:\n"
  "C: EHLO client.example\nS: 250-localhost\n" EHLO_CAPS_BODY "S: 250-AUTH PLAIN LOGIN\nS: 250-REQUIRETLS\n"
  "S: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example> REQUIRETLS\n" MAIL_OK
  EHLO_EV "E: starttls\nE: ehlo EHLO client.example\nE: mail <a@b.example> requiretls\n")

/* require_tls: MAIL refused with 530 5.7.0 until TLS is up (docs/examples.md). */
TR_TEST(require_tls,
  "O: tls\nO: require_tls\n" GREETING "C: EHLO client.example\n" EHLO_TLS_REPLY
  "C: MAIL FROM:<a@b.example>\nS: 530 5.7.0 Must issue a STARTTLS command first\n"
  "C: STARTTLS\nS: 220 2.0.0 Ready to start TLS\nT:\n"
  "C: EHLO client.example\n" EHLO_TLS_AUTH_REPLY "C: MAIL FROM:<a@b.example>\n" MAIL_OK)

/* RFC 2920: a pipelined burst is answered in order as the output drains,
 * with bounded memory (output buffer 1024). */
static void pipelining_flood(void **state) {
  size_t cap = 2000 * 40 + 4096, n = 0;
  char *script = malloc(cap);
  (void)state;
  n += (size_t)sprintf(script + n, "O: out 1024\n" GREETING EHLO);
  for (int i = 0; i < 2000; i++) n += (size_t)sprintf(script + n, "C: NOOP\n");
  for (int i = 0; i < 2000; i++) n += (size_t)sprintf(script + n, "S: 250 2.0.0 OK\n");
  tr_check(script, NULL);
  free(script);
}

/* VRFY/EXPN/HELP keywords may be listed (5321bis 3.5.2). */
TR_TEST(vrfy_keyword,
  "O: ext+ VRFY\nO: ext+ EXPN\nO: ext+ HELP\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-LIMITS RCPTMAX=100\nS: 250-VRFY\nS: 250-EXPN\nS: 250 HELP\n")

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(size_unlimited),  cmocka_unit_test(body_param),
      cmocka_unit_test(binarymime_needs_chunking), cmocka_unit_test(smtputf8),
      cmocka_unit_test(smtputf8_off),    cmocka_unit_test(dsn_params),
      cmocka_unit_test(dsn_off),         cmocka_unit_test(dsn_long_rcpt),
      cmocka_unit_test(starttls_basic),  cmocka_unit_test(starttls_refusals),
      cmocka_unit_test(requiretls),      cmocka_unit_test(require_tls),
      cmocka_unit_test(pipelining_flood), cmocka_unit_test(vrfy_keyword),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
