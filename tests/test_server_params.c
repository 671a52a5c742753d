/* Server session: MAIL/RCPT parameters of the service extensions through the
 * shared parameter table (lib/params.c), each at and over its bounds, fed
 * whole, byte by byte and at random splits (tests/transcript.c):
 * MT-PRIORITY (RFC 6710), BY (RFC 2852), HOLDFOR/HOLDUNTIL (RFC 4865),
 * SOLICIT (RFC 3865), MTRK (RFC 3885), SUBMITTER (RFC 4405), RRVS (RFC 7293),
 * ETRN (RFC 1985), BURL (RFC 4468); the parameter callback for unknown
 * parameters and application EHLO keywords. A parameter of an extension that
 * is not enabled gets 555 5.5.4 (RFC 5321 4.1.1.11); a malformed one 501 with
 * the extension's enhanced code. */
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

#define RSET "C: RSET\nS: 250 2.0.0 Reset\n"
#define RSET_EV "E: rset\n"
#define P501_2 "S: 501 5.5.2 Syntax error in parameters or arguments\n"

#define ALL_OPTS                                                                         \
  "O: ext+ MT-PRIORITY\nO: ext+ DELIVERBY\nO: ext+ FUTURERELEASE\nO: ext+ RRVS\n"        \
  "O: ext+ NO-SOLICITING\nO: ext+ MTRK\nO: ext+ SUBMITTER\n"                             \
  "O: ext_params MT-PRIORITY MIXER\n"                                                    \
  "O: ext_params FUTURERELEASE 604800 2027-01-01T00:00:00Z\n"
#define ALL_EHLO                                                                         \
  "C: EHLO client.example\nS: 250-localhost\n" EHLO_CAPS_BODY                             \
  "S: 250-LIMITS RCPTMAX=100\nS: 250-DELIVERBY\nS: 250-RRVS\nS: 250-NO-SOLICITING\n"      \
  "S: 250-MTRK\nS: 250-SUBMITTER\nS: 250-MT-PRIORITY MIXER\n"                             \
  "S: 250 FUTURERELEASE 604800 2027-01-01T00:00:00Z\n"
#define ALL ALL_OPTS GREETING ALL_EHLO

/* One MAIL that is accepted, then RSET. */
#define MOK(params) "C: MAIL FROM:<a@b.example> " params "\n" MAIL_OK RSET
#define MOK_EV(fields) "E: mail <a@b.example> " fields "\n" RSET_EV
#define MBAD(params) "C: MAIL FROM:<a@b.example> " params "\n" P501
#define MBAD2(params) "C: MAIL FROM:<a@b.example> " params "\n" P501_2
#define MOFF(params) "C: MAIL FROM:<a@b.example> " params "\n" P555

/* RFC 6710 7: priority-value = (["-"] NZDIGIT) / "0"; 4.1: 501 5.5.2 for a
 * bad value or a second MT-PRIORITY. The EHLO carries the profile. */
TR_TEST(mt_priority,
  ALL
  MOK("MT-PRIORITY=0") MOK("MT-PRIORITY=9") MOK("MT-PRIORITY=-9") MOK("mt-priority=-1")
  MBAD2("MT-PRIORITY=10") MBAD2("MT-PRIORITY=-10") MBAD2("MT-PRIORITY=+1")
  MBAD2("MT-PRIORITY=01") MBAD2("MT-PRIORITY=-0") MBAD2("MT-PRIORITY")
  MBAD2("MT-PRIORITY=a") MBAD2("MT-PRIORITY=1 MT-PRIORITY=1")
  EHLO_EV MOK_EV("prio=0") MOK_EV("prio=9") MOK_EV("prio=-9") MOK_EV("prio=-1"))

/* RFC 2852 4: by-time ";" by-mode [by-trace], |by-time| <= 999999999,
 * by-time > 0 with "R"; 501 5.5.4. */
TR_TEST(deliverby,
  ALL
  MOK("BY=120;R") MOK("BY=-30;NT") MOK("BY=+999999999;N") MOK("BY=999999999;rt")
  MOK("BY=0;N") MOK("BY=1;R") MOK("BY=-999999999;N")
  MBAD("BY=0;R") MBAD("BY=-1;R") MBAD("BY=1000000000;N") MBAD("BY=-1000000000;N")
  MBAD("BY=120") MBAD("BY=120;X") MBAD("BY=120;RTT") MBAD("BY=;R") MBAD("BY=120;")
  MBAD("BY=a;R") MBAD("BY") MBAD("BY=1;N BY=1;N") MBAD("BY=1;NX")
  EHLO_EV MOK_EV("by=120;R") MOK_EV("by=-30;NT") MOK_EV("by=999999999;N")
  MOK_EV("by=999999999;RT") MOK_EV("by=0;N") MOK_EV("by=1;R") MOK_EV("by=-999999999;N"))

/* RFC 4865 4: HOLDFOR=%x31-39 *8DIGIT, HOLDUNTIL=date-time in UTC; one
 * hold-param; 501 5.5.4. */
TR_TEST(futurerelease,
  ALL
  MOK("HOLDFOR=1") MOK("HOLDFOR=999999999") MOK("HOLDUNTIL=2027-01-01T00:00:00Z")
  MOK("HOLDUNTIL=2028-02-29T23:59:59.123456789Z") MOK("HOLDUNTIL=2027-01-01t00:00:00+00:00")
  MOK("HOLDUNTIL=2028-02-29T23:59:60z")
  MBAD("HOLDFOR=0") MBAD("HOLDFOR=1000000000") MBAD("HOLDFOR=01") MBAD("HOLDFOR=-1")
  MBAD("HOLDFOR") MBAD("HOLDFOR=1s") MBAD("HOLDFOR=1 HOLDFOR=2")
  MBAD("HOLDUNTIL=2027-02-29T00:00:00Z") MBAD("HOLDUNTIL=2027-01-01T00:00:00+01:00")
  MBAD("HOLDUNTIL=2027-13-01T00:00:00Z") MBAD("HOLDUNTIL=2027-01-01T00:00:00")
  MBAD("HOLDUNTIL=2027-01-01T24:00:00Z") MBAD("HOLDUNTIL=2027-01-01T00:00:00.1234567890Z")
  MBAD("HOLDUNTIL=2027-01-01T00:00:00.Z") MBAD("HOLDUNTIL=2027-01-01") MBAD("HOLDUNTIL=")
  MBAD("HOLDFOR=10 HOLDUNTIL=2027-01-01T00:00:00Z")
  EHLO_EV MOK_EV("holdfor=1") MOK_EV("holdfor=999999999") MOK_EV("holduntil=1798761600")
  MOK_EV("holduntil=1835481599") MOK_EV("holduntil=1798761600")
  MOK_EV("holduntil=1835481599"))

/* RFC 3865: SOLICIT=keyword *("," keyword); at most 512 octets here, which
 * the MAIL line budget covers. */
TR_TEST(no_soliciting,
  ALL
  MOK("SOLICIT=org.example:ADV") MOK("SOLICIT=a,b.c,d_e-f") MOK("SOLICIT=\\{512:k}")
  MBAD("SOLICIT=\\{513:k}") MBAD("SOLICIT=,a") MBAD("SOLICIT=a,,b") MBAD("SOLICIT=a,")
  MBAD("SOLICIT=a;b") MBAD("SOLICIT") MBAD("SOLICIT=a SOLICIT=a")
  EHLO_EV MOK_EV("solicit=org.example:ADV") MOK_EV("solicit=a,b.c,d_e-f")
  MOK_EV("solicit=\\{512:k}"))

/* RFC 3885: MTRK=certifier [":" timeout]; certifier 1-128 octets here,
 * timeout 1*9DIGIT. */
TR_TEST(mtrk,
  ALL
  MOK("MTRK=abc") MOK("MTRK=abc:100") MOK("MTRK=abc:999999999") MOK("MTRK=\\{128:c}:0")
  MBAD("MTRK=\\{129:c}") MBAD("MTRK=:100") MBAD("MTRK=abc:") MBAD("MTRK=abc:1000000000")
  MBAD("MTRK=abc:x") MBAD("MTRK") MBAD("MTRK=a MTRK=a")
  EHLO_EV MOK_EV("mtrk=abc:0") MOK_EV("mtrk=abc:100") MOK_EV("mtrk=abc:999999999")
  MOK_EV("mtrk=\\{128:c}:0"))

/* RFC 4405 4: SUBMITTER=xtext(Mailbox), decoded and validated. */
TR_TEST(submitter,
  ALL
  MOK("SUBMITTER=a@b.example") MOK("SUBMITTER=x+2By@b.example")
  MBAD("SUBMITTER=notamailbox") MBAD("SUBMITTER=a+0D@b.example") MBAD("SUBMITTER=a+4")
  MBAD("SUBMITTER=a+2b@b.example") MBAD("SUBMITTER") MBAD("SUBMITTER=")
  MBAD("SUBMITTER=a@b.example SUBMITTER=a@b.example") MBAD("SUBMITTER=\\{65:l}@b.example")
  EHLO_EV MOK_EV("submitter=a@b.example") MOK_EV("submitter=x+y@b.example"))

/* RFC 7293 3.1: RRVS=date-time [";" ("C" / "R")] on RCPT. */
TR_TEST(rrvs,
  ALL "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<c@d.example> RRVS=2014-04-03T23:01:00Z\n" RCPT_OK
  "C: RCPT TO:<e@d.example> RRVS=2014-04-03T23:01:00-05:00;C\n" RCPT_OK
  "C: RCPT TO:<f@d.example> rrvs=2014-04-03T23:01:00.5Z;r\n" RCPT_OK
  "C: RCPT TO:<g@d.example> RRVS=2014-04-03\n" P501
  "C: RCPT TO:<g@d.example> RRVS=2014-04-03T23:01:00Z;X\n" P501
  "C: RCPT TO:<g@d.example> RRVS=2014-04-03T23:01:00Z;\n" P501
  "C: RCPT TO:<g@d.example> RRVS=2014-04-31T23:01:00Z\n" P501
  "C: RCPT TO:<g@d.example> RRVS=2014-04-03T23:01:00+24:00\n" P501
  "C: RCPT TO:<g@d.example> RRVS\n" P501
  "C: RCPT TO:<g@d.example> RRVS=2014-04-03T23:01:00Z RRVS=2014-04-03T23:01:00Z\n" P501
  EHLO_EV "E: mail <a@b.example>\n"
  "E: rcpt <c@d.example> rrvs=1396566060 #0\n"
  "E: rcpt <e@d.example> rrvs=1396584060;C #1\n"
  "E: rcpt <f@d.example> rrvs=1396566060;R #2\n")

/* Not enabled: every one of these parameters is unknown (555 5.5.4). */
TR_TEST(disabled,
  GREETING EHLO MOFF("MT-PRIORITY=1") MOFF("BY=120;R") MOFF("HOLDFOR=10")
  MOFF("HOLDUNTIL=2027-01-01T00:00:00Z") MOFF("SOLICIT=a") MOFF("MTRK=abc")
  MOFF("SUBMITTER=a@b.example")
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<c@d.example> RRVS=2014-04-03T23:01:00Z\n" P555
  "C: ETRN example.com\nS: 502 5.5.1 Command not implemented\n"
  EHLO_EV "E: mail <a@b.example>\nE: unknown ETRN example.com\n")

/* After HELO no extension is in force (RFC 5321 4.1.1.1): 555 even for an
 * enabled one; a verb of an extension that is not enabled: 502 5.5.1. */
TR_TEST(after_helo,
  ALL_OPTS "O: burl_cb\nO: etrn_cb\n" GREETING "C: HELO client.example\nS: 250 localhost\n"
  MOFF("MT-PRIORITY=1") MOFF("BY=120;R") MOFF("HOLDFOR=10") MOFF("SOLICIT=a") MOFF("MTRK=abc")
  MOFF("SUBMITTER=a@b.example")
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<c@d.example> RRVS=2014-04-03T23:01:00Z\n" P555
  "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BURL imap://h/m LAST\nS: 502 5.5.1 Command not implemented\n"
  "E: connect\nE: ehlo HELO client.example\nE: mail <a@b.example>\nE: rcpt <c@d.example> #0\n")

/* FUTURERELEASE is offered only with its EHLO parameters (RFC 4865 3). */
TR_TEST(futurerelease_needs_params,
  "O: ext+ FUTURERELEASE\n" GREETING EHLO MOFF("HOLDFOR=10"))

/* The unknown-parameter hook: accept, refuse (555 5.5.4) or a reply of the
 * application's choice; EHLO keywords of the application. */
TR_TEST(param_hook,
  "O: param_cb\nO: ehlo_kw XFOO bar 1\nO: ehlo_kw X-BAZ\n" GREETING
  "C: EHLO client.example\nS: 250-localhost\n" EHLO_CAPS_BODY
  "S: 250-LIMITS RCPTMAX=100\nS: 250-XFOO bar 1\nS: 250 X-BAZ\n"
  "A: param ok\nC: MAIL FROM:<a@b.example> XFOO=1\n" MAIL_OK
  "A: param ok\nA: param refuse\nC: RCPT TO:<c@d.example> X-BAZ XQ=2\n" P555
  "A: param reply 550 5.7.1 Not here\nC: RCPT TO:<c@d.example> MT-PRIORITY=3\n"
  "S: 550 5.7.1 Not here\n"
  "A: param ok\nC: RCPT TO:<c@d.example> X-BAZ\n" RCPT_OK
  EHLO_EV "E: param MAIL XFOO=1\nE: mail <a@b.example>\nE: param RCPT X-BAZ\n"
  "E: param RCPT XQ=2\nE: param RCPT MT-PRIORITY=3\nE: param RCPT X-BAZ\n"
  "E: rcpt <c@d.example> #0\n")

/* RFC 1985 5: ETRN [option] node; 501 for a bad node, 503 in a transaction;
 * answered by the application (250/251/252/253/458/459). */
TR_TEST(etrn,
  "O: ext+ ETRN\nO: etrn_cb\n" GREETING "C: EHLO client.example\nS: 250-localhost\n"
  EHLO_CAPS_BODY "S: 250-LIMITS RCPTMAX=100\nS: 250 ETRN\n"
  "A: etrn ok\nC: ETRN example.com\nS: 250 2.0.0 Queuing started\n"
  "A: etrn reply 251 2.0.0 No messages waiting\nC: ETRN @example.com\n"
  "S: 251 2.0.0 No messages waiting\n"
  "A: etrn refuse\nC: ETRN #queue-1\nS: 458 4.3.0 Unable to queue messages\n"
  "C: ETRN\n" P501 "C: ETRN bad..example\n" P501 "C: ETRN @\n" P501
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: ETRN example.com\n" BADSEQ
  EHLO_EV "E: etrn example.com\nE: etrn @example.com\nE: etrn #queue-1\n"
  "E: mail <a@b.example>\n")

/* RFC 4468 3: BURL url [LAST] inside a transaction with recipients; the
 * application fetches and answers; a 2yz to LAST ends the transaction. */
TR_TEST(burl,
  "O: ext+ BURL\nO: burl_cb\nO: ext_params BURL imap\n" GREETING
  "C: EHLO client.example\nS: 250-localhost\n" EHLO_CAPS_BODY
  "S: 250-LIMITS RCPTMAX=100\nS: 250 BURL imap\n"
  "C: BURL imap://h/m LAST\n" BADSEQ
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "A: burl ok\nC: BURL imap://h/m\nS: 554 5.6.6 Content fetch not supported\n"
  "C: BURL\n" P501 "C: BURL nocolon LAST\n" P501
  "A: burl reply 250 2.5.0 Fetched\nC: BURL imap://h/m LAST\nS: 250 2.5.0 Fetched\n"
  "C: RCPT TO:<c@d.example>\n" BADSEQ
  EHLO_EV "E: mail <a@b.example>\nE: rcpt <c@d.example> #0\nE: burl imap://h/m\n"
  "E: burl imap://h/m LAST\n")

/* Option validation: EHLO parameter grammars, application keywords. */
static void options_api(void **state) {
  smtp_server_options *o;
  (void)state;
  assert_int_equal(smtp_server_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_MT_PRIORITY, "STANAG4406"), SMTP_OK);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_MT_PRIORITY, "A23456789012345678901"),
                   SMTP_ERR_INVALID_ARGUMENT); /* 21 > 20, RFC 6710 7 */
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_MT_PRIORITY, "A b"),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_DELIVERBY, "999999999"), SMTP_OK);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_DELIVERBY, "1000000000"),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_FUTURERELEASE, "0 2027-01-01T00:00:00Z"),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_FUTURERELEASE, "10"),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_FUTURERELEASE, NULL),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_NO_SOLICITING, "a,b"), SMTP_OK);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_NO_SOLICITING, "a,,b"),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_SIZE, "1"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_ext_params(o, SMTP_EXT_BURL, " imap"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_add_ehlo_keyword(o, "XFOO"), SMTP_OK);
  assert_int_equal(smtp_server_options_add_ehlo_keyword(o, "xfoo 1"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_add_ehlo_keyword(o, "SIZE 10"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_add_ehlo_keyword(o, "-X"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_add_ehlo_keyword(o, "X  Y"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_add_ehlo_keyword(o, "X Y "), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_add_ehlo_keyword(o, "X\r\nY"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_add_ehlo_keyword(o, "ATRN"), SMTP_OK); /* registered, not implemented */
  assert_int_equal(smtp_server_options_add_ehlo_keyword(NULL, "X"), SMTP_ERR_INVALID_ARGUMENT);
  smtp_server_options_del(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mt_priority),   cmocka_unit_test(deliverby),
      cmocka_unit_test(futurerelease), cmocka_unit_test(no_soliciting),
      cmocka_unit_test(mtrk),          cmocka_unit_test(submitter),
      cmocka_unit_test(rrvs),          cmocka_unit_test(disabled),
      cmocka_unit_test(futurerelease_needs_params), cmocka_unit_test(param_hook),
      cmocka_unit_test(after_helo),
      cmocka_unit_test(etrn),          cmocka_unit_test(burl),
      cmocka_unit_test(options_api),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
