/* Client session: MAIL/RCPT parameters through the shared table
 * (lib/params.c): MT-PRIORITY (RFC 6710), BY (RFC 2852), HOLDFOR/HOLDUNTIL
 * (RFC 4865), RRVS (RFC 7293), SOLICIT/MTRK/SUBMITTER, extra parameters of
 * the application (RFC 5321 4.1.2 esmtp-param), commands of the application
 * at a safe point, per-phase deadlines (RFC 5321 4.5.3.2). Transcripts run
 * whole, byte by byte and at random splits. */
#include "client_harness.h"

static const char *const R2[] = {"a@x.org", "b@x.org"};

#define EHLO_ALL                                                                      \
  "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250-PIPELINING\nS: 250-DELIVERBY\n" \
  "S: 250-MT-PRIORITY MIXER\nS: 250-FUTURERELEASE 604800 2027-01-01T00:00:00Z\n"        \
  "S: 250-NO-SOLICITING\nS: 250-MTRK\nS: 250-SUBMITTER\nS: 250 RRVS\n"
#define CAPS_ALL "GREETING 220\nCAPS 787001\nREADY\n"

static void setup_all(harness *h) {
  h_txn(h, "s@x.org", R2, 2, "m\r\n");
  assert_int_equal(smtp_client_txn_set_mt_priority(h->txn, -9), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_deliver_by(h->txn, 120, 'R', 1), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_hold_for(h->txn, 999999999u), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_mail_param(h->txn, "SOLICIT", "org.example:ADV"), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_mail_param(h->txn, "MTRK", "abc:100"), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_mail_param(h->txn, "SUBMITTER", "x+2By@b.example"), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_mail_param(h->txn, "X-TAG", NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_rrvs(h->txn, SMTP_CLIENT_ALL_RCPTS, "2014-04-03T23:01:00Z", 'C'),
                   SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt_param(h->txn, 1, "XQ", "2"), SMTP_OK);
}
/* Every parameter formatted through the table, in the order added. */
static void test_all_params(void **state) {
  (void)state;
  h_transcript(setup_all,
               EHLO_ALL
               "C: MAIL FROM:<s@x.org> MT-PRIORITY=-9 BY=120;RT HOLDFOR=999999999"
               " SOLICIT=org.example:ADV MTRK=abc:100 SUBMITTER=x+2By@b.example X-TAG\n"
               "C: RCPT TO:<a@x.org> RRVS=2014-04-03T23:01:00Z;C\n"
               "C: RCPT TO:<b@x.org> RRVS=2014-04-03T23:01:00Z;C XQ=2\n"
               "C: DATA\nS: 250 ok\nS: 250 ok\nS: 250 ok\nS: 354 go\nC: m\nC: .\nS: 250 ok\n"
               "C: QUIT\nS: 221 bye\n",
               CAPS_ALL "MAIL 250\nRCPT 0 250\nRCPT 1 250\nBODY 0\nDATA - 250\nDONE 0 2 2\n"
               "CLOSED 0\n");
}

/* A parameter of an extension the server did not offer: nothing of the
 * transaction is sent (SMTP_ERR_UNSUPPORTED); unknown ones go out anyway. */
static void setup_prio(harness *h) {
  h_txn(h, "s@x.org", R2, 1, "m\r\n");
  assert_int_equal(smtp_client_txn_set_mt_priority(h->txn, 3), SMTP_OK);
}
static void setup_rrvs_one(harness *h) {
  h_txn(h, "s@x.org", R2, 2, "m\r\n");
  assert_int_equal(smtp_client_txn_set_rrvs(h->txn, 1, "2014-04-03T23:01:00Z", 0), SMTP_OK);
}
static void setup_unknown(harness *h) {
  h_txn(h, "s@x.org", R2, 1, "m\r\n");
  assert_int_equal(smtp_client_txn_add_mail_param(h->txn, "XFOO", "a+b"), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt_param(h->txn, SMTP_CLIENT_ALL_RCPTS, "XBAR", NULL), SMTP_OK);
}
static void test_not_offered(void **state) {
  (void)state;
  h_transcript(setup_prio, "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nDONE -12 0 0\nCLOSED 0\n");
  h_transcript(setup_rrvs_one,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 MT-PRIORITY\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 2000\nREADY\nDONE -12 0 0\nCLOSED 0\n");
  h_transcript(setup_rrvs_one,
               "S: 220 mx\nC: EHLO client.example\nS: 250-mx\nS: 250 RRVS\n"
               "C: MAIL FROM:<s@x.org>\nS: 250 ok\nC: RCPT TO:<a@x.org>\nS: 250 ok\n"
               "C: RCPT TO:<b@x.org> RRVS=2014-04-03T23:01:00Z\nS: 250 ok\nC: DATA\nS: 354 go\n"
               "C: m\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 80000\nREADY\nMAIL 250\nRCPT 0 250\nRCPT 1 250\nBODY 0\n"
               "DATA - 250\nDONE 0 2 2\nCLOSED 0\n");
  h_transcript(setup_unknown,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nC: MAIL FROM:<s@x.org> XFOO=a+b\n"
               "S: 250 ok\nC: RCPT TO:<a@x.org> XBAR\nS: 250 ok\nC: DATA\nS: 354 go\nC: m\nC: .\n"
               "S: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nMAIL 250\nRCPT 0 250\nBODY 0\nDATA - 250\nDONE 0 1 1\n"
               "CLOSED 0\n");
}

/* Bounds and syntax of what the application gives (one parser: the
 * server's). */
static void test_param_api(void **state) {
  smtp_client_txn *t;
  char big[1100];
  (void)state;
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_rcpt(t, "a@x.org", 7, 0, NULL, 0), 0);
  /* MT-PRIORITY: -9..9 (RFC 6710 7). */
  assert_int_equal(smtp_client_txn_set_mt_priority(t, 10), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_set_mt_priority(t, -10), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "MT-PRIORITY", "+1"), SMTP_ERR_PARAM);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "MT-PRIORITY", "10"), SMTP_ERR_PARAM);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "MT-PRIORITY", NULL), SMTP_ERR_PARAM);
  assert_int_equal(smtp_client_txn_set_mt_priority(t, 9), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_mt_priority(t, 1), SMTP_ERR_PARAM); /* twice */
  /* BY (RFC 2852 4). */
  assert_int_equal(smtp_client_txn_set_deliver_by(t, 0, 'R', 0), SMTP_ERR_PARAM);
  assert_int_equal(smtp_client_txn_set_deliver_by(t, 1000000000, 'N', 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_set_deliver_by(t, 5, 'X', 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "BY", "120;RTT"), SMTP_ERR_PARAM);
  assert_int_equal(smtp_client_txn_set_deliver_by(t, -999999999, 'N', 1), SMTP_OK);
  /* FUTURERELEASE (RFC 4865 4): one hold-param. */
  assert_int_equal(smtp_client_txn_set_hold_for(t, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_set_hold_for(t, 1000000000u), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_set_hold_until(t, "2027-01-01T00:00:00+01:00"), SMTP_ERR_PARAM);
  assert_int_equal(smtp_client_txn_set_hold_until(t, "2027-01-01T00:00:00Z"), SMTP_OK);
  assert_int_equal(smtp_client_txn_set_hold_for(t, 10), SMTP_ERR_PARAM);
  /* RRVS (RFC 7293 3.1). */
  assert_int_equal(smtp_client_txn_set_rrvs(t, 0, "2014-04-31T00:00:00Z", 0), SMTP_ERR_PARAM);
  assert_int_equal(smtp_client_txn_set_rrvs(t, 0, "2014-04-03T00:00:00Z", 'X'), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_set_rrvs(t, 5, "2014-04-03T00:00:00Z", 0), SMTP_ERR_NOT_FOUND);
  assert_int_equal(smtp_client_txn_set_rrvs(t, 0, "2014-04-03T00:00:00Z", 'R'), SMTP_OK);
  /* esmtp-param syntax (RFC 5321 4.1.2). */
  assert_int_equal(smtp_client_txn_add_mail_param(t, "-X", NULL), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "X_Y", NULL), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "", NULL), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "X", ""), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "X", "a=b"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "X", "a b"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "X", "a\r\nRSET"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "X\r\n", NULL), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "X", "caf\xc3\xa9"), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "SIZE", "10"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "ENVID", "x"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_add_rcpt_param(t, 0, "NOTIFY", "NEVER"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "X", "1"), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "x", "2"), SMTP_ERR_PARAM); /* twice */
  assert_int_equal(smtp_client_txn_add_mail_param(NULL, "X", NULL), SMTP_ERR_INVALID_ARGUMENT);
  /* At most 1000 octets of added parameters per line. */
  memset(big, 'v', sizeof big);
  big[900] = '\0';
  assert_int_equal(smtp_client_txn_add_rcpt_param(t, 0, "BIG", big), SMTP_OK);
  big[200] = '\0';
  assert_int_equal(smtp_client_txn_add_rcpt_param(t, SMTP_CLIENT_ALL_RCPTS, "BIG2", big),
                   SMTP_ERR_TOO_LONG);
  assert_int_equal(smtp_client_txn_reset(t), SMTP_OK);
  assert_int_equal(smtp_client_txn_add_mail_param(t, "X", "1"), SMTP_OK); /* reset forgot them */
  smtp_client_txn_del(t);
}

/* smtp_client_session_command(): one line at a safe point, its reply to the
 * application, the transaction after it. */
static void setup_cmd(harness *h) { h->no_submit = 1; }
static void setup_cmd_txn(harness *h) { h_txn(h, "s@x.org", R2, 1, "m\r\n"); }
static void test_command(void **state) {
  (void)state;
  h_transcript(setup_cmd,
               "CMD VRFY\\r\\nRSET\nS: 220 mx\nCMD VRFY bob\nC: EHLO client.example\nS: 250 mx\n"
               "CMD VRFY bob\nCMD NOOP\nC: VRFY bob\nS: 252 2.5.0 maybe\nCMD ETRN @example.org\n"
               "C: ETRN @example.org\nS: 458 4.3.0 no\nCMD XPRIV a b\nC: XPRIV a b\nS: 550 no\n"
               "CMD DATA\nCMD rset\nCMD STARTTLS\nCMD MAIL FROM:<a@b>\nCMD \nCMD 1X\n"
               "QUIT\nC: QUIT\nS: 221 bye\n",
               "CMD -14\nGREETING 220\nCMD -6\nCAPS 0\nREADY\nCMD 0\nCMD -6\nCOMMAND 0 252\nCMD 0\n"
               "COMMAND -37 458\nCMD 0\nCOMMAND -36 550\nCMD -1\nCMD -1\nCMD -1\nCMD -1\nCMD -1\n"
               "CMD -1\nCLOSED 0\n");
  /* A command before the submitted transaction starts goes first; during
   * the transaction there is no safe point. */
  h_transcript(setup_cmd_txn,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\n"
               "C: MAIL FROM:<s@x.org>\nCMD NOOP\nS: 250 ok\nC: RCPT TO:<a@x.org>\nS: 250 ok\n"
               "C: DATA\nS: 354 go\nCMD NOOP\nC: m\nC: .\nS: 250 ok\nC: QUIT\nS: 221 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nCMD -6\nMAIL 250\nRCPT 0 250\nBODY 0\nCMD -6\n"
               "DATA - 250\nDONE 0 1 1\nCLOSED 0\n");
  /* 421 to the command ends the session. */
  h_transcript(setup_cmd,
               "S: 220 mx\nC: EHLO client.example\nS: 250 mx\nCMD HELP\nC: HELP\nS: 421 bye\n",
               "GREETING 220\nCAPS 0\nREADY\nCMD 0\nCOMMAND -37 421\nCLOSED -906\n");
}

/* RFC 5321 4.5.3.2: RFC values by default, each phase configurable. */
static void test_timeouts(void **state) {
  smtp_client_options *o;
  smtp_client_session *c;
  smtp_client_callbacks *cb;
  const char *p;
  smtp_ssize n;
  (void)state;
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_callbacks_new(&cb, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_timeout(o, SMTP_CLIENT_TIMEOUT_GREETING, 0),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_timeout(o, 8, 1000), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_timeout(o, -1, 1000), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_timeout(o, 0, 86400001), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_options_set_timeout(NULL, 0, 1000), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_session_new(&c, cb, NULL, o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_session_timeout_ms(c), 5 * 60 * 1000); /* greeting */
  smtp_client_session_del(c);
  assert_int_equal(smtp_client_options_set_timeout(o, SMTP_CLIENT_TIMEOUT_ALL, 7000), SMTP_OK);
  assert_int_equal(smtp_client_options_set_timeout(o, SMTP_CLIENT_TIMEOUT_GREETING, 1234), SMTP_OK);
  assert_int_equal(smtp_client_session_new(&c, cb, NULL, o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_session_timeout_ms(c), 1234);
  assert_int_equal(smtp_client_session_mem_recv(c, "220 mx\r\n", 8), 8);
  n = smtp_client_session_mem_send(c, &p);
  assert_true(n > 0);
  assert_int_equal(smtp_client_session_timeout_ms(c), 7000); /* EHLO: "other" */
  smtp_client_session_del(c);
  smtp_client_options_del(o);
  smtp_client_callbacks_del(cb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_all_params), cmocka_unit_test(test_not_offered),
      cmocka_unit_test(test_param_api),  cmocka_unit_test(test_command),
      cmocka_unit_test(test_timeouts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
