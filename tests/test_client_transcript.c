/* The client session through the transcript runner (tr_client_check): the
 * server's replies fed whole, byte by byte and at random splits, the
 * client's bytes and events checked exactly (RFC 5321 3.3, RFC 2920,
 * RFC 3030, RFC 2033). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "transcript.h"

/* RFC 2920 3.1: MAIL, RCPT and DATA go out together when the server offers
 * PIPELINING; the body waits for the 354. */
static void test_pipelined_transaction(void **state) {
  (void)state;
  tr_client_check(
      "M: a@example.org\n"
      "R: b@example.org\n"
      "R: c@example.org\n"
      "B: Subject: t\\r\\n\\r\\n.dot\\r\\n\n"
      "S: 220 mx.example ESMTP\n"
      "C: EHLO client.example\n"
      "S: 250-mx.example\n"
      "S: 250 PIPELINING\n"
      "C: MAIL FROM:<a@example.org>\n"
      "C: RCPT TO:<b@example.org>\n"
      "C: RCPT TO:<c@example.org>\n"
      "C: DATA\n"
      "S: 250 2.1.0 ok\n"
      "S: 550 5.1.1 no such user\n"
      "S: 250 2.1.5 ok\n"
      "S: 354 go ahead\n"
      "C: Subject: t\n"
      "C: \n"
      "C: ..dot\n"
      "C: .\n"
      "C: QUIT\n"
      "S: 250 2.0.0 queued\n"
      "S: 221 2.0.0 bye\n"
      "E: greeting 220\n"
      "E: capabilities 250\n"
      "E: ready\n"
      "E: mail 250\n"
      "E: rcpt 0 550\n"
      "E: rcpt 1 250\n"
      "E: body_start\n"
      "E: data 250\n"
      "E: txn_done delivered=1\n"
      "E: closed 0\n");
}

/* Without PIPELINING every command waits for its reply (RFC 5321 4.3). */
static void test_lockstep_without_pipelining(void **state) {
  (void)state;
  tr_client_check(
      "M: a@example.org\n"
      "R: b@example.org\n"
      "B: hi\n"
      "S: 220 mx.example ESMTP\n"
      "C: EHLO client.example\n"
      "S: 250 mx.example\n"
      "C: MAIL FROM:<a@example.org>\n"
      "S: 250 ok\n"
      "C: RCPT TO:<b@example.org>\n"
      "S: 250 ok\n"
      "C: DATA\n"
      "S: 354 go ahead\n"
      "C: hi\n"
      "C: .\n"
      "S: 250 queued\n"
      "C: QUIT\n"
      "S: 221 bye\n");
}

/* RFC 3030: with CHUNKING the body goes as one BDAT LAST, never scanned or
 * stuffed. */
static void test_bdat(void **state) {
  (void)state;
  tr_client_check(
      "M: a@example.org\n"
      "R: b@example.org\n"
      "B: .x\\r\\n\n"
      "S: 220 mx.example ESMTP\n"
      "C: EHLO client.example\n"
      "S: 250-mx.example\n"
      "S: 250-PIPELINING\n"
      "S: 250 CHUNKING\n"
      "C: MAIL FROM:<a@example.org>\n"
      "C: RCPT TO:<b@example.org>\n"
      "C: BDAT 4 LAST\n"
      "C- .x\\r\\n\n"
      "C: QUIT\n"
      "S: 250 ok\n"
      "S: 250 ok\n"
      "S: 250 queued\n"
      "S: 221 bye\n"
      "E: greeting 220\n"
      "E: capabilities 250\n"
      "E: ready\n"
      "E: mail 250\n"
      "E: rcpt 0 250\n"
      "E: body_start\n"
      "E: data 250\n"
      "E: txn_done delivered=1\n"
      "E: closed 0\n");
}

/* A refused MAIL ends the transaction before any recipient (RFC 5321 3.3);
 * the client resets before QUIT. */
static void test_refused_mail(void **state) {
  (void)state;
  tr_client_check(
      "M: a@example.org\n"
      "R: b@example.org\n"
      "B: hi\n"
      "S: 220 mx.example ESMTP\n"
      "C: EHLO client.example\n"
      "S: 250 mx.example\n"
      "C: MAIL FROM:<a@example.org>\n"
      "S: 550 5.7.1 go away\n"
      "C: RSET\n"
      "S: 250 ok\n"
      "C: QUIT\n"
      "S: 221 bye\n"
      "E: greeting 220\n"
      "E: capabilities 250\n"
      "E: ready\n"
      "E: mail 550\n"
      "E: txn_done delivered=0\n"
      "E: closed 0\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pipelined_transaction),
      cmocka_unit_test(test_lockstep_without_pipelining),
      cmocka_unit_test(test_bdat),
      cmocka_unit_test(test_refused_mail),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
