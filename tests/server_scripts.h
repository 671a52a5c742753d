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

#endif
