/* Shared pieces of server transcript scripts. */
#ifndef TESTS_SERVER_SCRIPTS_H
#define TESTS_SERVER_SCRIPTS_H

#define GREETING "S: 220 localhost ESMTP Service ready\n"
#define EHLO_CAPS_BODY                                                                    \
  "S: 250-PIPELINING\nS: 250-SIZE\nS: 250-8BITMIME\nS: 250-BINARYMIME\nS: 250-CHUNKING\n" \
  "S: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\n"
#define EHLO_REPLY "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250 LIMITS RCPTMAX=100\n"
/* Client EHLO and the default reply. */
#define EHLO "C: EHLO client.example\n" EHLO_REPLY
#define EHLO_EV "E: connect\nE: ehlo EHLO client.example\n"

/* The server's usual replies. */
#define MAIL_OK "S: 250 2.1.0 Sender OK\n"
#define RCPT_OK "S: 250 2.1.5 Recipient OK\n"
#define DATA_GO "S: 354 End data with <CR><LF>.<CR><LF>\n"
#define MSG_OK "S: 250 2.0.0 Message accepted\n"
#define BADSEQ "S: 503 5.5.1 Bad sequence of commands\n"
#define P501 "S: 501 5.5.4 Syntax error in parameters or arguments\n"
#define P555 "S: 555 5.5.4 MAIL/RCPT parameters not recognized\n"
#define TOO_LONG "S: 500 5.5.6 Line too long\n"
#define AUTH_OK "S: 235 2.7.0 Authentication successful\n"
/* The EHLO reply when AUTH is offered. */
#define EHLO_AUTH_REPLY \
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-AUTH PLAIN LOGIN\nS: 250 LIMITS RCPTMAX=100\n"
/* A transaction up to the accepted recipient, and its events. */
#define TXN GREETING EHLO "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
#define TXN_EV EHLO_EV "E: mail <a@b.example>\nE: rcpt <c@d.example> #0\n"

#endif
