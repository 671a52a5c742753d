/* Server session calls for test harnesses: the application's own reply to
 * each BDAT chunk but the last (smtp_server_on_bdat_chunk, RFC 3030 2) and
 * extensions hidden from one EHLO (smtp_server_session_ehlo_hide()).
 * Transcripts run whole, byte by byte and at random splits; every client
 * line of a transcript reaches the session at once, so the commands after a
 * refused chunk are the "chunks already in the pipeline" of RFC 3030 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/ext.h>
#include <smtp/server.h>

#include "server_scripts.h"
#include "transcript.h"

#define T(name, script)            \
  static void name(void **state) { \
    (void)state;                   \
    tr_check(script, NULL);        \
  }

#define MAIL_OK "S: 250 2.1.0 Sender OK\n"
#define RCPT_OK "S: 250 2.1.5 Recipient OK\n"
#define MSG_OK "S: 250 2.0.0 Message accepted\n"
#define BADSEQ "S: 503 5.5.1 Bad sequence of commands\n"
#define NOTIMPL "S: 502 5.5.1 Command not implemented\n"
#define TXN GREETING EHLO "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
#define TXN_EV EHLO_EV "E: mail <a@b.example>\nE: rcpt <c@d.example> #0\n"

/* ---- BDAT chunk replies (RFC 3030 2) ---- */

/* Unanswered, every chunk but the LAST gets the session's 250 after its
 * octets; the LAST one is the end of data (data_end), not a chunk event. */
T(chunk_default,
  "O: bdat_cb\n" TXN
  "C: BDAT 3\nC- abc\n" "S: 250 2.0.0 3 octets received\n"
  "C: BDAT 2\nC- de\n" "S: 250 2.0.0 2 octets received\n"
  "C: BDAT 1 LAST\nC- f\n" MSG_OK
  TXN_EV "E: data_start bdat\nE: bdat_chunk 3\nE: bdat_chunk 2\nE: data abcdef\n"
  "E: data_end size=6 bdat\n")

/* A 2yz answer replaces the reply text; the chunk is accepted. */
T(chunk_reply_ok,
  "O: bdat_cb\n" TXN "A: bdat_chunk ok\nA: bdat_chunk reply 250 2.6.0 Chunk two stored\n"
  "C: BDAT 3\nC- abc\n" "S: 250 2.0.0 3 octets received\n"
  "C: BDAT 2\nC- de\n" "S: 250 2.6.0 Chunk two stored\n"
  "C: BDAT 0 LAST\n" MSG_OK
  TXN_EV "E: data_start bdat\nE: bdat_chunk 3\nE: bdat_chunk 2\nE: data abcde\n"
  "E: data_end size=5 bdat\n")

/* RFC 3030 2: a 4yz on the second chunk fails the transaction. The chunks
 * the client pipelined behind it (one more and the LAST) are read and
 * discarded with 503 each; no data_end fires; the LAST one ends the failed
 * transaction, so the next MAIL is served. */
T(chunk_tempfail_pipelined,
  "O: bdat_cb\n" TXN "A: bdat_chunk ok\nA: bdat_chunk reply 452 4.3.1 Chunk two: no room\n"
  "C: BDAT 3\nC- abc\n" "C: BDAT 2\nC- de\n" "C: BDAT 4\nC- MAIL\n" "C: BDAT 6 LAST\nC- QUIT\\r\\n\n"
  "C: MAIL FROM:<x@b.example>\n"
  "S: 250 2.0.0 3 octets received\n" "S: 452 4.3.1 Chunk two: no room\n" BADSEQ BADSEQ MAIL_OK
  TXN_EV "E: data_start bdat\nE: bdat_chunk 3\nE: bdat_chunk 2\nE: mail <x@b.example>\n")

/* A 5yz likewise; until RSET the failed transaction refuses DATA, RCPT and
 * MAIL (RFC 3030 2: "A RSET command MUST be issued"); after RSET a new
 * transaction works. The discarded chunk is not an error: 20 of them do not
 * reach the error limit. */
T(chunk_permfail_then_rset,
  "O: bdat_cb\n" "O: max_errors 4\n" TXN "A: bdat_chunk reply 554 5.6.0 Chunk refused\n"
  "C: BDAT 3\nC- abc\n" "S: 554 5.6.0 Chunk refused\n"
  "C: BDAT 1\nC- x\n" BADSEQ "C: BDAT 1\nC- x\n" BADSEQ "C: BDAT 1\nC- x\n" BADSEQ
  "C: BDAT 1\nC- x\n" BADSEQ "C: BDAT 1\nC- x\n" BADSEQ
  "C: DATA\n" BADSEQ "C: RCPT TO:<e@d.example>\n" BADSEQ
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BDAT 2 LAST\nC- ok\n" MSG_OK
  TXN_EV "E: data_start bdat\nE: bdat_chunk 3\nE: rset\nE: mail <a@b.example>\n"
  "E: rcpt <c@d.example> #0\nE: data_start bdat\nE: data ok\nE: data_end size=2 bdat\n")

/* The default refusal is 554 5.6.0; a deferred answer holds the pipeline
 * (RFC 2920) until it is given. */
T(chunk_refuse_and_defer,
  "O: bdat_cb\n" TXN "A: bdat_chunk defer\nA: bdat_chunk refuse\n"
  "R: reply 250 2.0.0 Later\n"
  "C: BDAT 1\nC- a\n" "C: BDAT 1\nC- b\n" "C: BDAT 0 LAST\n" "C: NOOP\n"
  "S: 250 2.0.0 Later\n" "S: 554 5.6.0 Message content refused\n" BADSEQ "S: 250 2.0.0 OK\n"
  TXN_EV "E: data_start bdat\nE: bdat_chunk 1\nE: bdat_chunk 1\nE: noop\n")

/* BDAT 0 after the first chunk is a chunk too; a first chunk of size 0 is
 * answered right after data_start (documented exception). */
T(chunk_zero,
  "O: bdat_cb\n" TXN "A: bdat_chunk ok\nA: bdat_chunk reply 250 2.0.0 Empty one\n"
  "C: BDAT 0\n" "S: 250 2.0.0 0 octets received\n"
  "C: BDAT 2\nC- ab\n" "S: 250 2.0.0 2 octets received\n"
  "C: BDAT 0\n" "S: 250 2.0.0 Empty one\n"
  "C: BDAT 0 LAST\n" MSG_OK
  TXN_EV "E: data_start bdat\nE: bdat_chunk 2\nE: bdat_chunk 0\nE: data ab\n"
  "E: data_end size=2 bdat\n")

/* A chunk the session refuses itself (the message went over the size limit,
 * RFC 1870 6.3) gets the session's reply; the callback is not asked. */
T(chunk_session_refusal_wins,
  "O: bdat_cb\n" "O: max_size 4\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE 4\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
  "S: 250-CHUNKING\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BDAT 2\nC- ab\n" "S: 250 2.0.0 2 octets received\n"
  "C: BDAT 3\nC- cde\n" "S: 552 5.3.4 Message size exceeds fixed limit\n"
  "C: BDAT 0 LAST\n" BADSEQ
  EHLO_EV "E: mail <a@b.example>\nE: rcpt <c@d.example> #0\nE: data_start bdat\nE: bdat_chunk 2\n")

/* 421 on a chunk closes the session (RFC 5321 3.8). */
T(chunk_421,
  "O: bdat_cb\n" TXN "A: bdat_chunk reply 421 4.3.2 Shutting down\n"
  "C: BDAT 1\nC- a\n" "S: 421 4.3.2 Shutting down\n" "Z: closed\n")

/* Codes a chunk cannot take, and the states where no chunk answer fits. */
static int bad_codes_chunk(smtp_server_session *s, uint64_t size, void *ud) {
  tr_log(ud, "chunk %llu", (unsigned long long)size);
  assert_int_equal(smtp_server_session_reply(s, 354, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_reply(s, 334, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_reply(s, 250, "4.0.0", NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_ehlo_hide(s, SMTP_EXT_SIZE), SMTP_ERR_INVALID_STATE);
  assert_true((smtp_server_session_flags(s) & SMTP_SERVER_FLAG_BDAT) != 0);
  assert_int_equal(smtp_server_session_reply(s, 250, NULL, NULL), SMTP_OK);
  assert_int_equal(smtp_server_session_reply(s, 250, NULL, NULL), SMTP_ERR_INVALID_STATE);
  return 0;
}
static void setup_bad_codes(smtp_server_options *o, smtp_server_callbacks *cb) {
  (void)o;
  smtp_server_callbacks_set_bdat_chunk(cb, bad_codes_chunk);
}
static void chunk_bad_codes(void **state) {
  (void)state;
  tr_check(TXN "C: BDAT 2\nC- ab\n" "S: 250 2.0.0 OK\n" "C: BDAT 1 LAST\nC- c\n" MSG_OK
           TXN_EV "E: data_start bdat\nE: chunk 2\nE: data abc\nE: data_end size=3 bdat\n",
           setup_bad_codes);
}

/* LMTP (RFC 2033 4.2): a chunk has one reply, the LAST one per recipient. */
T(chunk_lmtp,
  "O: lmtp\n" "O: bdat_cb\n" "S: 220 localhost LMTP Service ready\n"
  "C: LHLO client.example\n" EHLO_REPLY
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: RCPT TO:<e@d.example>\n" RCPT_OK
  "A: bdat_chunk reply 250 2.0.0 Half\n"
  "C: BDAT 2\nC- ab\n" "S: 250 2.0.0 Half\n" "C: BDAT 2 LAST\nC- cd\n" MSG_OK MSG_OK)

/* ---- extensions hidden from one EHLO ---- */

#define EHLO_NO_PIPELINING                                                             \
  "S: 250-localhost\nS: 250-SIZE\nS: 250-8BITMIME\nS: 250-BINARYMIME\nS: 250-CHUNKING\n" \
  "S: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"

/* The second EHLO of the session lacks PIPELINING; the third has it again. */
T(hide_second_ehlo,
  GREETING "A: ehlo ok\nA: ehlo hide PIPELINING\n"
  EHLO "C: EHLO client.example\n" EHLO_NO_PIPELINING EHLO
  "E: connect\nE: ehlo EHLO client.example\nE: ehlo EHLO client.example\n"
  "E: ehlo EHLO client.example\n")

/* SIZE hidden: MAIL SIZE= is an unknown parameter (RFC 5321 4.1.1.11, 555)
 * until an EHLO offers it again. */
T(hide_size_refuses_param,
  GREETING "A: ehlo hide SIZE\n" "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-8BITMIME\nS: 250-BINARYMIME\nS: 250-CHUNKING\n"
  "S: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example> SIZE=10\nS: 555 5.5.4 MAIL/RCPT parameters not recognized\n"
  EHLO "C: MAIL FROM:<a@b.example> SIZE=10\n" MAIL_OK)

/* CHUNKING hidden takes BINARYMIME with it (RFC 3030 3); BDAT gets 502 and
 * its chunk is still read (RFC 3030 2). */
T(hide_chunking,
  GREETING "A: ehlo hide CHUNKING\n" "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE\nS: 250-8BITMIME\n"
  "S: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example> BODY=BINARYMIME\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BDAT 4 LAST\nC- QUIT\n" NOTIMPL "C: NOOP\nS: 250 2.0.0 OK\n")

/* ENHANCEDSTATUSCODES hidden: no enhanced codes in replies (RFC 2034 3). */
T(hide_enhanced,
  GREETING "A: ehlo hide ENHANCEDSTATUSCODES\n" "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
  "S: 250-CHUNKING\nS: 250-SMTPUTF8\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example>\nS: 250 Sender OK\n" "C: FOO\nS: 500 Syntax error, command unrecognized\n")

/* STARTTLS and AUTH hidden get 502 (they would otherwise be offered). */
T(hide_starttls_auth,
  "O: tls\nO: plaintext_auth\nO: mechs PLAIN\n" GREETING
  "A: ehlo ok\nA: ehlo hide STARTTLS then hide AUTH\n"
  "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-STARTTLS\nS: 250-AUTH PLAIN\nS: 250 LIMITS RCPTMAX=100\n"
  "C: EHLO client.example\n" EHLO_REPLY
  "C: STARTTLS\n" NOTIMPL "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\n" NOTIMPL)

/* A deferred EHLO: hide before the late answer (calls add up). */
T(hide_deferred,
  GREETING "A: ehlo defer\n" "R: hide SIZE then hide LIMITS then reply 250\n"
  "C: EHLO client.example\nC: NOOP\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-8BITMIME\nS: 250-BINARYMIME\nS: 250-CHUNKING\n"
  "S: 250-SMTPUTF8\nS: 250 ENHANCEDSTATUSCODES\n" "S: 250 2.0.0 OK\n")

/* HELO has no keywords: the call succeeds and nothing changes. */
T(hide_helo,
  GREETING "A: ehlo hide SIZE\n" "C: HELO client.example\nS: 250 localhost\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK)

/* Where the call is refused. */
static int hide_in_mail(smtp_server_session *s, const smtp_server_mail *m, void *ud) {
  (void)m;
  tr_log(ud, "mail");
  assert_int_equal(smtp_server_session_ehlo_hide(s, SMTP_EXT_SIZE), SMTP_ERR_INVALID_STATE);
  return 0;
}
static int hide_in_ehlo(smtp_server_session *s, const smtp_server_helo *h, void *ud) {
  (void)h;
  tr_log(ud, "ehlo");
  assert_int_equal(smtp_server_session_ehlo_hide(NULL, SMTP_EXT_SIZE), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_ehlo_hide(s, 1u << 30), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_ehlo_hide(s, 0), SMTP_OK);
  assert_int_equal(smtp_server_session_ehlo_hide(s, SMTP_EXT_SMTPUTF8), SMTP_OK);
  assert_int_equal(smtp_server_session_reply(s, 250, NULL, NULL), SMTP_OK);
  assert_int_equal(smtp_server_session_ehlo_hide(s, SMTP_EXT_SIZE), SMTP_ERR_INVALID_STATE);
  return 0;
}
static void setup_hide_states(smtp_server_options *o, smtp_server_callbacks *cb) {
  (void)o;
  smtp_server_callbacks_set_mail(cb, hide_in_mail);
  smtp_server_callbacks_set_ehlo(cb, hide_in_ehlo);
}
static void hide_states(void **state) {
  (void)state;
  tr_check(GREETING "C: EHLO client.example\n"
           "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
           "S: 250-CHUNKING\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
           "C: MAIL FROM:<a@b.example>\n" MAIL_OK "E: connect\nE: ehlo\nE: mail\n",
           setup_hide_states);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(chunk_default),
      cmocka_unit_test(chunk_reply_ok),
      cmocka_unit_test(chunk_tempfail_pipelined),
      cmocka_unit_test(chunk_permfail_then_rset),
      cmocka_unit_test(chunk_refuse_and_defer),
      cmocka_unit_test(chunk_zero),
      cmocka_unit_test(chunk_session_refusal_wins),
      cmocka_unit_test(chunk_421),
      cmocka_unit_test(chunk_bad_codes),
      cmocka_unit_test(chunk_lmtp),
      cmocka_unit_test(hide_second_ehlo),
      cmocka_unit_test(hide_size_refuses_param),
      cmocka_unit_test(hide_chunking),
      cmocka_unit_test(hide_enhanced),
      cmocka_unit_test(hide_starttls_auth),
      cmocka_unit_test(hide_deferred),
      cmocka_unit_test(hide_helo),
      cmocka_unit_test(hide_states),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
