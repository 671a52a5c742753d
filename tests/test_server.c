/* Server session core: greeting, EHLO/HELO, command sequencing (RFC 5321
 * 4.1.4, 4.3.2), MAIL/RCPT/DATA, RSET, NOOP, VRFY/EXPN/HELP, QUIT, unknown
 * commands, deferred answers under pipelining (RFC 2920), limits and the
 * API contract. Every script runs whole, byte by byte and at random splits. */
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

typedef struct tcase {
  const char *script;
  tr_setup_fn setup;
} tcase;

static void run_case(void **state) {
  const tcase *t = *state;
  tr_check(t->script, t->setup);
}

#define T(name, ...)                                             \
  static const tcase name##_case = {__VA_ARGS__, NULL};          \
  static void name(void **state) {                               \
    *state = (void *)&name##_case;                               \
    run_case(state);                                             \
  }

#define BYE "S: 221 2.0.0 localhost Bye\n"

/* RFC 5321 3.3, 4.1.1.x: one whole transaction; dot-unstuffing (4.5.2). */
T(basic_transaction,
  GREETING EHLO
  "C: MAIL FROM:<alice@example.org>\n" MAIL_OK
  "C: RCPT TO:<bob@example.net>\n" RCPT_OK
  "C: DATA\n" DATA_GO
  "C: Subject: hi\nC: \nC: ..leading dot\nC: .\n" MSG_OK
  "C: QUIT\n" BYE
  EHLO_EV
  "E: mail <alice@example.org>\nE: rcpt <bob@example.net> #0\nE: data_start\n"
  "E: data Subject: hi\\r\\n\\r\\n.leading dot\\r\\n\nE: data_end size=29\nE: quit\n"
  "Z: closed\n")

/* RFC 5321 4.1.1.1: HELO gets a plain 250 and no extensions. */
T(helo_session,
  GREETING
  "C: HELO client.example\nS: 250 localhost\n"
  "C: MAIL FROM:<a@b.example> SIZE=10\nS: 555 5.5.4 MAIL/RCPT parameters not recognized\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: QUIT\n" BYE
  "E: connect\nE: ehlo HELO client.example\nE: mail <a@b.example>\nE: quit\n")

/* RFC 5321 4.1.4: mail commands need EHLO first; VRFY, NOOP, RSET, HELP do not. */
T(sequence_before_ehlo,
  GREETING
  "C: MAIL FROM:<a@b.example>\n" BADSEQ
  "C: RCPT TO:<a@b.example>\n" BADSEQ
  "C: DATA\n" BADSEQ
  "C: NOOP\nS: 250 2.0.0 OK\n"
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: VRFY someone\nS: 252 2.5.0 Cannot VRFY user\n"
  "C: EXPN list\nS: 502 5.5.1 EXPN not available\n"
  "C: HELP\nS: 214 2.0.0 See RFC 5321\n"
  "E: connect\nE: noop\nE: rset\nE: vrfy someone\nE: expn list\nE: help \n")

/* RFC 5321 4.1.4: RCPT before MAIL, DATA before RCPT, nested MAIL: 503; the
 * state does not change. RFC 5321 3.3: DATA without recipients 554. */
T(sequence_in_transaction,
  GREETING EHLO
  "C: RCPT TO:<b@c.example>\n" BADSEQ
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: DATA\nS: 554 5.5.1 No valid recipients\n"
  "C: MAIL FROM:<x@b.example>\n" BADSEQ
  "C: RCPT TO:<b@c.example>\n" RCPT_OK
  "C: DATA\n" DATA_GO "C: x\nC: .\n" MSG_OK
  "C: RCPT TO:<b@c.example>\n" BADSEQ
  "C: MAIL FROM:<x@b.example>\n" MAIL_OK)

/* RFC 5321 4.1.1.5: RSET clears the transaction; 4.1.4: EHLO does too. */
T(rset_and_ehlo_reset,
  GREETING EHLO
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<b@c.example>\n" RCPT_OK
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: RCPT TO:<b@c.example>\n" BADSEQ
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: EHLO again.example\n" EHLO_REPLY
  "C: RCPT TO:<b@c.example>\n" BADSEQ
  "C: RSET extra\nS: 501 5.5.4 Syntax error in parameters or arguments\n")

/* RFC 5321 4.1.1.2: the null reverse-path; 4.5.1: <Postmaster>; source
 * routes accepted and ignored (Appendix C, 5321bis keeps it). */
T(paths,
  GREETING EHLO
  "C: MAIL FROM:<>\n" MAIL_OK
  "C: RCPT TO:<Postmaster>\n" RCPT_OK
  "C: RCPT TO:<@relay.example,@r2.example:joe@d.example>\n" RCPT_OK
  "C: RCPT TO:<postMASTER>\n" RCPT_OK
  "C: RCPT TO:<>\nS: 501 5.1.3 Bad address syntax\n"
  "C: RCPT TO:joe@d.example\nS: 501 5.1.3 Bad address syntax\n"
  "C: RCPT TO:<\"quoted \\\\\\\" pair\"@d.example>\n" RCPT_OK
  EHLO_EV
  "E: mail <>\nE: rcpt <Postmaster> postmaster #0\nE: rcpt <joe@d.example> #1\n"
  "E: rcpt <postMASTER> postmaster #2\nE: rcpt <\"quoted \\\\\" pair\"@d.example> #3\n")

/* RFC 5321 4.1.1.2: syntax errors in MAIL are 501. RFC 5321bis 4.1.2: an
 * empty quoted local part is invalid. */
T(mail_syntax,
  GREETING EHLO
  "C: MAIL FROM:a@b.example\nS: 501 5.1.7 Bad sender address syntax\n"
  "C: MAIL FROM: <a@b.example>\nS: 501 5.1.7 Bad sender address syntax\n"
  "C: MAIL TO:<a@b.example>\nS: 501 5.1.7 Bad sender address syntax\n"
  "C: MAIL FROM:<\"\"@b.example>\nS: 501 5.1.7 Bad sender address syntax\n"
  "C: MAIL FROM:<a@b..example>\nS: 501 5.1.7 Bad sender address syntax\n"
  "C: MAIL FROM:<a@[300.1.1.1]>\nS: 501 5.1.7 Bad sender address syntax\n"
  "C: MAIL FROM:<$user{x}|y/z@b.example>\n" MAIL_OK
  EHLO_EV "E: mail <$user{x}|y/z@b.example>\n")

/* Lenient mode accepts "MAIL FROM: <a>" (option). */
T(mail_space_after_colon,
  "O: lenient_colon\n" GREETING EHLO
  "C: MAIL FROM: <a@b.example>\n" MAIL_OK
  "C: RCPT TO: <c@d.example>\n" RCPT_OK)

/* RFC 5321 4.1.1.1 and docs/examples.md: an EHLO argument that is neither a domain nor
 * an address literal is 501 5.5.2; the state is unchanged. */
T(ehlo_arguments,
  GREETING
  "C: EHLO\nS: 501 5.5.2 Invalid domain name\n"
  "C: EHLO bad_name!\nS: 501 5.5.2 Invalid domain name\n"
  "C: EHLO two words\nS: 501 5.5.2 Invalid domain name\n"
  "C: HELO -x.example\nS: 501 5.5.2 Invalid domain name\n"
  "C: MAIL FROM:<a@b.example>\n" BADSEQ
  "C: EHLO [192.0.2.1]\nS: 250-localhost\n" EHLO_CAPS_BODY "S: 250 LIMITS RCPTMAX=100\n"
  "C: EHLO [IPv6:2001:db8::1]\nS: 250-localhost\n" EHLO_CAPS_BODY "S: 250 LIMITS RCPTMAX=100\n"
  "E: connect\nE: ehlo EHLO [192.0.2.1]\nE: ehlo EHLO [IPv6:2001:db8::1]\n")

/* Commands are case-insensitive (RFC 5321 2.4). */
T(case_insensitive,
  GREETING "C: ehlo client.example\n" EHLO_REPLY
  "C: mail from:<a@b.example>\n" MAIL_OK
  "C: rCpT tO:<c@d.example>\n" RCPT_OK
  "C: data\n" DATA_GO "C: .\n" MSG_OK)

/* Unknown verbs: 500 by default, the callback sees them (XCLIENT etc.). */
T(unknown_commands,
  GREETING EHLO
  "C: XFOO bar baz\nS: 500 5.5.2 Syntax error, command unrecognized\n"
  "A: unknown ok\nA: unknown reply 250 2.0.0 XCLIENT done\n"
  "C: XCLIENT ADDR=192.0.2.1\nS: 250 2.0.0 XCLIENT done\n"
  "C: ETRN example.org\nS: 502 5.5.1 Command not implemented\n"
  "C: LHLO x.example\nS: 500 5.5.2 Syntax error, command unrecognized\n"
  "C: \nS: 500 5.5.2 Syntax error, command unrecognized\n"
  "C: MAIL  FROM:<a@b.example>\nS: 501 5.1.7 Bad sender address syntax\n"
  EHLO_EV
  "E: unknown XFOO bar baz\nE: unknown XCLIENT ADDR=192.0.2.1\nE: unknown ETRN example.org\n"
  "E: unknown LHLO x.example\n")

/* Callbacks answer with their own codes and multi-line texts. */
T(callback_answers,
  GREETING EHLO
  "A: mail reply 550 5.7.1 Sender blocked\n"
  "C: MAIL FROM:<spam@b.example>\nS: 550 5.7.1 Sender blocked\n"
  "A: mail refuse\n"
  "C: MAIL FROM:<spam@b.example>\nS: 550 5.7.1 Refused\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "A: rcpt refuse\n"
  "C: RCPT TO:<nobody@d.example>\nS: 550 5.1.1 Mailbox unknown\n"
  "A: rcpt reply 450\n"
  "C: RCPT TO:<later@d.example>\nS: 450 4.2.0 Mailbox temporarily unavailable\n"
  "A: rcpt reply 251 2.1.5 User not local; will forward\n"
  "C: RCPT TO:<fwd@d.example>\nS: 251 2.1.5 User not local; will forward\n"
  "A: data_start reply 451 4.3.0 Try later\n"
  "C: DATA\nS: 451 4.3.0 Try later\n"
  "A: data_start reply 354 Go ahead, end with dot\n"
  "C: DATA\nS: 354 Go ahead, end with dot\n"
  "C: hi\nC: .\n"
  "A: data_end reply 250 2.0.0 Queued as ABC\\nsecond line\n"
  "S: 250-2.0.0 Queued as ABC\nS: 250 2.0.0 second line\n"
  "A: help reply 214 2.0.0 Commands:\\n  EHLO MAIL RCPT\n"
  "C: HELP\nS: 214-2.0.0 Commands:\nS: 214 2.0.0   EHLO MAIL RCPT\n"
  "A: vrfy reply 250 2.1.5 Joe <joe@d.example>\n"
  "C: VRFY joe\nS: 250 2.1.5 Joe <joe@d.example>\n"
  "C: VRFY\nS: 501 5.5.4 Syntax error in parameters or arguments\n")

/* An answer of a wrong kind is refused and the event still waits. */
static int wrong_answer_mail(smtp_server_session *s, const smtp_server_mail *m, void *ud) {
  (void)m;
  tr_log(ud, "mail");
  assert_int_equal(smtp_server_session_reply(s, 354, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_reply(s, 334, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_reply(s, 199, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_reply(s, 600, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_reply(s, 570, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_reply(s, 550, "4.1.1", NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_reply(s, 550, "5.1", NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_reply(s, 550, NULL, "a\rb"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_server_session_reply(s, 550, NULL, "a\001b"), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_server_session_auth_challenge(s, "x", 1), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_server_session_reply(s, 553, "5.1.8", "Bad domain"), SMTP_OK);
  assert_int_equal(smtp_server_session_reply(s, 250, NULL, NULL), SMTP_ERR_INVALID_STATE);
  return 0;
}
static void setup_wrong_answer(smtp_server_options *o, smtp_server_callbacks *cb) {
  (void)o;
  smtp_server_callbacks_set_mail(cb, wrong_answer_mail);
}
static const tcase wrong_answers_case = {
    GREETING EHLO "C: MAIL FROM:<a@b.example>\nS: 553 5.1.8 Bad domain\n" EHLO_EV "E: mail\n",
    setup_wrong_answer};
static void wrong_answers(void **state) {
  *state = (void *)&wrong_answers_case;
  run_case(state);
}

/* RFC 2920: deferred answers keep the pipeline in order. */
T(deferred_pipeline,
  GREETING EHLO
  "A: mail defer\nA: rcpt defer\nA: rcpt ok\nA: rcpt defer\nA: data_end defer\n"
  "R: reply 250 2.1.0 Later OK\n"
  "R: reply 550 5.1.1 No such user\n"
  "R: reply 250\n"
  "R: reply 250 2.0.0 Delivered later\n"
  "C: MAIL FROM:<a@b.example>\nC: RCPT TO:<x@d.example>\nC: RCPT TO:<y@d.example>\n"
  "C: RCPT TO:<z@d.example>\nC: DATA\n"
  "S: 250 2.1.0 Later OK\nS: 550 5.1.1 No such user\n" RCPT_OK "S: 250 2.1.5 Recipient OK\n"
  DATA_GO "C: body\nC: .\nC: NOOP\n"
  "S: 250 2.0.0 Delivered later\nS: 250 2.0.0 OK\n"
  EHLO_EV
  "E: mail <a@b.example>\nE: rcpt <x@d.example> #0\nE: rcpt <y@d.example> #0\n"
  "E: rcpt <z@d.example> #1\nE: data_start\nE: data body\\r\\n\nE: data_end size=6\nE: noop\n")

/* A deferred greeting: nothing is read before it. */
T(deferred_greeting,
  "A: connect defer\nR: reply 220 mx.example ESMTP hello\n"
  "S: 220 mx.example ESMTP hello\n"
  "C: EHLO client.example\n" EHLO_REPLY)

/* RFC 5321 3.1: 554 greeting, then only QUIT; RFC 7504: 521. */
T(greeting_554,
  "A: connect refuse\nS: 554 No SMTP service here\n"
  "C: EHLO client.example\n" BADSEQ
  "C: MAIL FROM:<a@b.example>\n" BADSEQ
  "C: QUIT\n" BYE "Z: closed\n")
T(greeting_521,
  "A: connect reply 521 mx.example does not accept mail\n"
  "S: 521 mx.example does not accept mail\n"
  "C: EHLO client.example\nS: 521 5.3.2 Host does not accept mail\n"
  "C: QUIT\n" BYE)
T(greeting_421,
  "A: connect reply 421 mx.example busy\nS: 421 mx.example busy\n"
  "C: EHLO client.example\nZ: closed\n")

/* 421 from any answer closes the session (RFC 5321 3.8). */
T(answer_421_closes,
  GREETING EHLO "A: mail reply 421 4.3.2 Going down\n"
  "C: MAIL FROM:<a@b.example>\nC: RCPT TO:<b@c.example>\nS: 421 4.3.2 Going down\nZ: closed\n")

/* QUIT with an argument is 501 (RFC 5321 4.3.2). */
T(quit_arguments,
  GREETING "C: QUIT now\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: QUIT\n" BYE "C: NOOP\nZ: closed\n")

/* RFC 5321 4.5.3.1.8/10: recipients past the limit get 452 4.5.3. */
T(recipient_limit,
  "O: max_rcpt 2\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250 LIMITS RCPTMAX=2\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "A: rcpt refuse\n"
  "C: RCPT TO:<r0@d.example>\nS: 550 5.1.1 Mailbox unknown\n"
  "C: RCPT TO:<r1@d.example>\n" RCPT_OK
  "C: RCPT TO:<r2@d.example>\n" RCPT_OK
  "C: RCPT TO:<r3@d.example>\nS: 452 4.5.3 Too many recipients\n"
  "C: RCPT TO:<r4@d.example>\nS: 452 4.5.3 Too many recipients\n"
  "C: DATA\n" DATA_GO "C: .\n" MSG_OK
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<r5@d.example>\n" RCPT_OK)

/* LIMITS MAILMAX (RFC 9422): transactions per session. */
T(transaction_limit,
  "O: max_trans 1\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250 LIMITS RCPTMAX=100 MAILMAX=1\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: MAIL FROM:<a@b.example>\nS: 452 4.5.3 Too many transactions in this session\n")

/* docs/examples.md / docs/security.md 4: after N errors 421 4.7.0 and close; NOOP, RSET,
 * VRFY are not errors. */
T(error_limit,
  "O: max_errors 3\n" GREETING
  "C: NOOP\nS: 250 2.0.0 OK\nC: VRFY a\nS: 252 2.5.0 Cannot VRFY user\n"
  "C: BOGUS\nS: 500 5.5.2 Syntax error, command unrecognized\n"
  "C: MAIL FROM:<a@b.example>\n" BADSEQ
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: DATA x\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "S: 421 4.7.0 localhost Too many errors\n"
  "C: NOOP\nZ: closed\n")

/* Options: hostname; no callbacks at all gives the defaults. */
T(no_callbacks_defaults,
  "O: no_callbacks\nO: hostname mx.example.org\n"
  "S: 220 mx.example.org ESMTP Service ready\n"
  "C: EHLO client.example\nS: 250-mx.example.org\n" EHLO_CAPS_BODY "S: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: DATA\n" DATA_GO "C: hello\nC: .\n" MSG_OK
  "C: AUTH PLAIN AGFAYg==\nS: 502 5.5.1 Command not implemented\n"
  "C: STARTTLS\nS: 502 5.5.1 Command not implemented\n"
  "C: QUIT\nS: 221 2.0.0 mx.example.org Bye\n")

/* Extensions can be switched off; ENHANCEDSTATUSCODES off means no codes. */
T(extensions_off,
  "O: ext- ENHANCEDSTATUSCODES\nO: ext- CHUNKING\nO: ext- LIMITS\nO: ext+ DSN\nO: ext+ VRFY\n"
  GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE\nS: 250-8BITMIME\nS: 250-SMTPUTF8\n"
  "S: 250-DSN\nS: 250 VRFY\n"
  "C: MAIL FROM:<a@b.example>\nS: 250 Sender OK\n"
  "C: BDAT 3\nC- abc\nS: 502 Command not implemented\n"
  "C: BOGUS\nS: 500 Syntax error, command unrecognized\n")

/* Callback failure is fatal and sticky. */
static void callback_failure(void **state) {
  smtp_server_callbacks *cb;
  smtp_server_session *s;
  const char *p;
  (void)state;
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), SMTP_OK);
  smtp_server_callbacks_set_noop(cb, NULL);
  assert_int_equal(smtp_server_session_new(&s, cb, NULL, NULL, NULL), SMTP_OK);
  smtp_server_callbacks_del(cb);
  assert_true(smtp_server_session_mem_send(s, &p) > 0);
  smtp_server_session_del(s);
}

/* API argument checks. */
static void api_contract(void **state) {
  smtp_server_session *s = (void *)1;
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  const char *p;
  smtp_mem bad = {0};
  (void)state;
  assert_int_equal(smtp_server_session_new(NULL, NULL, NULL, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, NULL, &bad), SMTP_ERR_INVALID_ARGUMENT);
  assert_null(s);
  assert_int_equal(smtp_server_options_new(NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_callbacks_new(NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  smtp_server_session_del(NULL);
  smtp_server_options_del(NULL);
  smtp_server_callbacks_del(NULL);
  assert_int_equal(smtp_server_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_set_hostname(o, "bad host"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_hostname(o, "mx\r\n.example"), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_hostname(o, ""), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_hostname(o, "[192.0.2.7]"), SMTP_OK);
  assert_int_equal(smtp_server_options_set_max_command_line(o, 100), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_max_recipients(o, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_output_buffer(o, 10), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_extensions(o, SMTP_EXT_FUTURERELEASE), SMTP_OK);
  assert_int_equal(smtp_server_options_set_extensions(o, SMTP_EXT_BURL << 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_extensions(o, SMTP_SERVER_DEFAULT_EXTENSIONS), SMTP_OK);
  assert_int_equal(smtp_server_options_set_auth_mechs(o, 1u << 20), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_bare_line_end(o, 7), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_lmtp(NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), SMTP_OK);
  assert_int_equal(smtp_server_session_new(&s, cb, NULL, o, NULL), SMTP_OK);
  smtp_server_options_del(o);
  smtp_server_callbacks_del(cb);
  assert_int_equal(smtp_server_session_mem_recv(NULL, "x", 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_mem_recv(s, NULL, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_mem_send(s, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_true(smtp_server_session_want_write(s));
  assert_int_equal(smtp_server_session_mem_send(s, &p), 37);
  assert_memory_equal(p, "220 [192.0.2.7] ESMTP Service ready\r\n", 37);
  assert_int_equal(smtp_server_session_mem_consume(s, 38), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_mem_consume(s, 37), SMTP_OK);
  assert_false(smtp_server_session_want_write(s));
  assert_true(smtp_server_session_want_read(s));
  assert_false(smtp_server_session_want_tls(s));
  assert_false(smtp_server_session_is_closed(s));
  assert_int_equal(smtp_server_session_reply(s, 250, NULL, NULL), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_server_session_auth_accept(s, "x", 1), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_server_session_tls_info(s, &(smtp_tls_info){0}), SMTP_ERR_INVALID_STATE);
  assert_null(smtp_server_session_helo_name(s, NULL));
  assert_null(smtp_server_session_reverse_path(s, NULL));
  assert_null(smtp_server_session_auth_user(s, NULL));
  assert_string_equal(smtp_server_session_received_protocol(s), "ESMTP");
  assert_int_equal(smtp_server_session_timeout_ms(s), 300000);
  assert_int_equal(smtp_server_session_shutdown(s), SMTP_OK);
  assert_int_equal(smtp_server_session_shutdown(s), SMTP_ERR_CLOSED);
  assert_true(smtp_server_session_is_closed(s));
  assert_false(smtp_server_session_want_close(s));
  assert_int_equal(smtp_server_session_mem_send(s, &p), 45);
  assert_memory_equal(p, "421 4.3.2 [192.0.2.7] Service shutting down\r\n", 45);
  assert_int_equal(smtp_server_session_mem_consume(s, 45), SMTP_OK);
  assert_true(smtp_server_session_want_close(s));
  assert_int_equal(smtp_server_session_mem_recv(s, "NOOP\r\n", 6), SMTP_ERR_CLOSED);
  assert_int_equal(smtp_server_session_timeout_ms(s), -1);
  smtp_server_session_del(s);
}

/* Memory: one allocation, a few KiB for an idle session; every allocation
 * failure is clean. */
static void allocation(void **state) {
  tr_mem m;
  smtp_server_session *s;
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  (void)state;
  tr_mem_init(&m, 0);
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, NULL, &m.mem), SMTP_OK);
  assert_int_equal(m.count, 1);
  assert_true(m.bytes < 7 * 1024); /* an idle session: a few KiB */
  {
    const char *p;
    smtp_ssize n = smtp_server_session_mem_send(s, &p);
    static const char in[] = "EHLO a.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
                             "DATA\r\nhello\r\n.\r\nQUIT\r\n";
    assert_true(n > 0);
    smtp_server_session_mem_consume(s, (size_t)n);
    assert_int_equal(smtp_server_session_mem_recv(s, in, sizeof in - 1), (smtp_ssize)(sizeof in - 1));
    assert_int_equal(m.count, 1); /* nothing per command or message */
  }
  smtp_server_session_del(s);
  assert_int_equal(m.live, 0);
  for (size_t k = 1; k <= 3; k++) {
    tr_mem_init(&m, k);
    o = NULL;
    cb = NULL;
    s = NULL;
    int r1 = smtp_server_options_new(&o, &m.mem);
    int r2 = smtp_server_callbacks_new(&cb, &m.mem);
    int r3 = smtp_server_session_new(&s, cb, NULL, o, &m.mem);
    assert_true(r1 == SMTP_OK || (r1 == SMTP_ERR_NOMEM && o == NULL && k == 1));
    assert_true(r2 == SMTP_OK || (r2 == SMTP_ERR_NOMEM && cb == NULL && k == 2));
    assert_true(r3 == SMTP_OK || (r3 == SMTP_ERR_NOMEM && s == NULL && k == 3));
    smtp_server_session_del(s);
    smtp_server_options_del(o);
    smtp_server_callbacks_del(cb);
    assert_int_equal(m.live, 0);
  }
}

/* Accessors inside callbacks. */
static int acc_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud) {
  size_t n;
  const char *rp = smtp_server_session_reverse_path(s, &n);
  (void)r;
  (void)ud;
  assert_non_null(rp);
  assert_string_equal(rp, "a@b.example");
  assert_int_equal(n, 11);
  assert_string_equal(smtp_server_session_helo_name(s, NULL), "client.example");
  assert_int_equal(smtp_server_session_rcpt_count(s), r->index);
  assert_true(smtp_server_session_flags(s) & SMTP_SERVER_FLAG_MAIL);
  assert_true(smtp_server_session_flags(s) & SMTP_SERVER_FLAG_SMTPUTF8);
  assert_true(smtp_server_session_flags(s) & SMTP_SERVER_FLAG_EHLO);
  assert_string_equal(smtp_server_session_received_protocol(s), "UTF8SMTP");
  assert_int_equal(smtp_server_session_transaction_count(s), 1);
  assert_ptr_equal(smtp_server_session_user_data(s), ud);
  return 0;
}
static void setup_acc(smtp_server_options *o, smtp_server_callbacks *cb) {
  (void)o;
  smtp_server_callbacks_set_rcpt(cb, acc_rcpt);
}
static const tcase accessors_case = {GREETING EHLO
                                     "C: MAIL FROM:<a@b.example> SMTPUTF8\n" MAIL_OK
                                     "C: RCPT TO:<c@d.example>\n" RCPT_OK
                                     "C: RCPT TO:<d@d.example>\n" RCPT_OK,
                                     setup_acc};
static void accessors(void **state) {
  *state = (void *)&accessors_case;
  run_case(state);
}

/* Timeouts per state (RFC 5321 4.5.3.2) and the deadline counter: it does
 * not move while a command line drips in byte by byte. */
static void deadlines(void **state) {
  smtp_server_session *s;
  const char *p;
  unsigned seq;
  smtp_ssize n;
  (void)state;
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, NULL, NULL), SMTP_OK);
  n = smtp_server_session_mem_send(s, &p);
  smtp_server_session_mem_consume(s, (size_t)n);
  seq = smtp_server_session_deadline_seq(s);
  for (const char *c = "EHLO slow.example"; *c; c++) {
    assert_int_equal(smtp_server_session_mem_recv(s, c, 1), 1);
    assert_int_equal(smtp_server_session_deadline_seq(s), seq);
    assert_int_equal(smtp_server_session_timeout_ms(s), 300000);
  }
  assert_int_equal(smtp_server_session_mem_recv(s, "\r\n", 2), 2);
  assert_int_not_equal(smtp_server_session_deadline_seq(s), seq);
  static const char t[] = "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n";
  assert_int_equal(smtp_server_session_mem_recv(s, t, sizeof t - 1), (smtp_ssize)(sizeof t - 1));
  assert_int_equal(smtp_server_session_timeout_ms(s), 180000);
  seq = smtp_server_session_deadline_seq(s);
  assert_int_equal(smtp_server_session_mem_recv(s, "abc", 3), 3);
  assert_int_not_equal(smtp_server_session_deadline_seq(s), seq);
  assert_int_equal(smtp_server_session_timeout(s), SMTP_OK);
  n = smtp_server_session_mem_send(s, &p);
  assert_true(n > 0);
  assert_true(strstr(p, "421 4.4.2 localhost Timeout") == p + n - (smtp_ssize)strlen("421 4.4.2 localhost Timeout, closing connection\r\n"));
  smtp_server_session_del(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(basic_transaction),  cmocka_unit_test(helo_session),
      cmocka_unit_test(sequence_before_ehlo), cmocka_unit_test(sequence_in_transaction),
      cmocka_unit_test(rset_and_ehlo_reset), cmocka_unit_test(paths),
      cmocka_unit_test(mail_syntax),        cmocka_unit_test(mail_space_after_colon),
      cmocka_unit_test(ehlo_arguments),     cmocka_unit_test(case_insensitive),
      cmocka_unit_test(unknown_commands),   cmocka_unit_test(callback_answers),
      cmocka_unit_test(wrong_answers),      cmocka_unit_test(deferred_pipeline),
      cmocka_unit_test(deferred_greeting),  cmocka_unit_test(greeting_554),
      cmocka_unit_test(greeting_521),       cmocka_unit_test(greeting_421),
      cmocka_unit_test(answer_421_closes),  cmocka_unit_test(quit_arguments),
      cmocka_unit_test(recipient_limit),    cmocka_unit_test(transaction_limit),
      cmocka_unit_test(error_limit),        cmocka_unit_test(no_callbacks_defaults),
      cmocka_unit_test(extensions_off),     cmocka_unit_test(callback_failure),
      cmocka_unit_test(api_contract),       cmocka_unit_test(allocation),
      cmocka_unit_test(accessors),          cmocka_unit_test(deadlines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
