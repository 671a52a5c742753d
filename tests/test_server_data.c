/* Server session message data: DATA with dot-unstuffing (RFC 5321 4.1.1.4,
 * 4.5.2), bare CR/LF and NUL policy, size limits (RFC 1870), BDAT and
 * BINARYMIME (RFC 3030), LMTP per-recipient replies (RFC 2033 4.2, 4.3),
 * pausing and refusing from data_chunk, backpressure. Whole, byte by byte
 * and at random splits. */
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

/* RFC 5321 4.5.2: a leading dot is removed; "." alone ends the data. */
TR_TEST(dot_unstuffing,
  TXN "C: DATA\n" DATA_GO
  "C: ..\nC: ...x\nC: a.b\nC: .\n" MSG_OK
  TXN_EV "E: data_start\nE: data .\\r\\n..x\\r\\na.b\\r\\n\nE: data_end size=13\n")

/* The empty message: "." right after 354 (the DATA line's CRLF counts). */
TR_TEST(empty_message,
  TXN "C: DATA\n" DATA_GO "C: .\n" MSG_OK
  TXN_EV "E: data_start\nE: data \nE: data_end size=0\n")

/* Two transactions on one connection; the commands after the dot are
 * commands (RFC 2920 pipelining after the end of data). */
TR_TEST(two_messages,
  TXN "C: DATA\n" DATA_GO "C: one\nC: .\nC: MAIL FROM:<x@b.example>\nC: RCPT TO:<y@d.example>\nC: DATA\n"
  MSG_OK MAIL_OK RCPT_OK DATA_GO "C: two\nC: .\n" MSG_OK
  TXN_EV "E: data_start\nE: data one\\r\\n\nE: data_end size=5\n"
  "E: mail <x@b.example>\nE: rcpt <y@d.example> #0\nE: data_start\nE: data two\\r\\n\n"
  "E: data_end size=5\n")

/* Lines over 1000 octets are accepted by default (RFC 5321 4.5.3.1:
 * "no limits ... should be used"), reported in the seen bits. */
TR_TEST(long_lines,
  TXN "C: DATA\n" DATA_GO "C: \\{3000:x}\nC: .\n" MSG_OK)
/* Opt-in: lines over 1000 octets refused (RFC 5321 4.5.3.1.6); 998 + CRLF is fine. */
TR_TEST(long_lines_rejected,
  "O: reject_long\n" TXN "C: DATA\n" DATA_GO "C: \\{998:x}\nC: .\n" MSG_OK
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: DATA\n" DATA_GO "C: \\{999:x}\nC: .\nS: 554 5.6.0 Message content refused\n")

/* RFC 1870 6.1: SIZE= over the limit at MAIL; overflow is refused, not wrapped. */
TR_TEST(size_declared,
  "O: max_size 100\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE 100\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
  "S: 250-CHUNKING\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example> SIZE=101\nS: 552 5.3.4 Message size exceeds fixed limit\n"
  "C: MAIL FROM:<a@b.example> SIZE=99999999999999999999999\nS: 552 5.3.4 Message size exceeds fixed limit\n"
  "C: MAIL FROM:<a@b.example> SIZE=-1\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example> SIZE=\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example> SIZE=1e3\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example> SIZE=100 SIZE=100\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example> SIZE=100\n" MAIL_OK
  "E: connect\nE: ehlo EHLO client.example\nE: mail <a@b.example> size=100\n")

/* docs/security.md 4 / RFC 1870 6.3: oversize data is counted and discarded,
 * refused after its end with 552 5.3.4; the session goes on. */
TR_TEST(size_exceeded_data,
  "O: max_size 10\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE 10\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
  "S: 250-CHUNKING\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: DATA\n" DATA_GO "C: \\{5000:y}\nC: .\nS: 552 5.3.4 Message size exceeds fixed limit\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: DATA\n" DATA_GO "C: 12345678\nC: .\n" MSG_OK
  "E: connect\nE: ehlo EHLO client.example\nE: mail <a@b.example>\nE: rcpt <c@d.example> #0\n"
  "E: data_start\nE: data -\nE: data_end size=5002 refused=-33\n"
  "E: mail <a@b.example>\nE: rcpt <c@d.example> #0\nE: data_start\nE: data 12345678\\r\\n\n"
  "E: data_end size=10\n")

/* Bare LF / CR in a message: refused after its end (default policy),
 * never end of data (docs/security.md 1). */
TR_TEST(bare_lf_rejected,
  TXN "C: DATA\n" DATA_GO "C- line one\\nline two\\r\\n.\\r\\n\n"
  "S: 550 5.6.0 Bare CR or LF in message\n"
  "C: NOOP\nS: 250 2.0.0 OK\n"
  TXN_EV "E: data_start\nE: data -\nE: data_end size=19 refused=-30\nE: noop\n")
TR_TEST(bare_cr_rejected,
  TXN "C: DATA\n" DATA_GO "C- a\\rb\\r\\n.\\r\\n\n"
  "S: 550 5.6.0 Bare CR or LF in message\n"
  TXN_EV "E: data_start\nE: data -\nE: data_end size=5 refused=-29\n")

/* The accept policy passes the bytes on unchanged; still one message. */
TR_TEST(bare_accepted,
  "O: bare_accept\n" TXN "C: DATA\n" DATA_GO "C- a\\n.\\nb\\r.\\rc\\r\\n.\\r\\n\n" MSG_OK
  TXN_EV "E: data_start\nE: data a\\n.\\nb\\r.\\rc\\r\\n\nE: data_end size=11\n")

/* NUL: refused by default (554 5.6.0); accepted with the option. */
TR_TEST(nul_rejected,
  TXN "C: DATA\n" DATA_GO "C- a\\0b\\r\\n.\\r\\n\n" "S: 554 5.6.0 Message contains NUL\n"
  TXN_EV "E: data_start\nE: data -\nE: data_end size=5 refused=-31\n")
TR_TEST(nul_accepted,
  "O: nul_accept\n" TXN "C: DATA\n" DATA_GO "C- a\\0b\\r\\n.\\r\\n\n" MSG_OK
  TXN_EV "E: data_start\nE: data a\\x00b\\r\\n\nE: data_end size=5\n")

/* data_chunk may pause (mem_recv returns) and refuse (451 after the end). */
TR_TEST(chunk_pause,
  TXN "A: data_chunk pause\nA: data_chunk pause\nC: DATA\n" DATA_GO
  "C: \\{3000:p}\nC: .\n" MSG_OK)
TR_TEST(chunk_refuse,
  TXN "A: data_chunk refuse\nC: DATA\n" DATA_GO
  "C: \\{3000:p}\nC: .\nS: 451 4.3.0 Local error in processing\n")

/* DATA with arguments, BINARYMIME with DATA (RFC 3030 3): 501 / 503. */
TR_TEST(data_refusals,
  TXN "C: DATA now\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: MAIL FROM:<a@b.example> BODY=BINARYMIME\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: DATA\n" BADSEQ)

/* The end of data can be deferred (asynchronous delivery). */
TR_TEST(deferred_data_end,
  TXN "A: data_end defer\nR: reply 452 4.3.1 Disk full\n"
  "C: DATA\n" DATA_GO "C: x\nC: .\nC: NOOP\n" "S: 452 4.3.1 Disk full\nS: 250 2.0.0 OK\n")

/* ---- BDAT (RFC 3030) ---- */

/* Chunks are counted, never scanned: dots and commands inside are data. */
TR_TEST(bdat_basic,
  TXN "C: BDAT 18\nC- .\\r\\nQUIT\\r\\n.\\r\\nRSET\\r\\n\n"
  "S: 250 2.0.0 18 octets received\n"
  "C: BDAT 0 LAST\n" MSG_OK
  TXN_EV "E: data_start bdat\nE: data .\\r\\nQUIT\\r\\n.\\r\\nRSET\\r\\n\nE: data_end size=18 bdat\n")

TR_TEST(bdat_last_with_data,
  TXN "C: BDAT 5 LAST\nC- hello\n" MSG_OK
  "C: MAIL FROM:<x@b.example>\n" MAIL_OK
  TXN_EV "E: data_start bdat\nE: data hello\nE: data_end size=5 bdat\nE: mail <x@b.example>\n")

/* BDAT 0 (not last) and "last" in lower case. */
TR_TEST(bdat_zero,
  TXN "C: BDAT 0\nS: 250 2.0.0 0 octets received\nC: BDAT 3 last\nC- abc\n" MSG_OK)

/* A refused BDAT still consumes its chunk (RFC 3030 2; Exim CVE-2017-16944). */
TR_TEST(bdat_refused_consumed,
  GREETING EHLO
  "C: BDAT 12\nC- MAIL FROM:<>\n" BADSEQ
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: BDAT 6 LAST\nC- QUIT\\r\\n\n" "S: 554 5.5.1 No valid recipients\n"
  "C: NOOP\nS: 250 2.0.0 OK\n"
  EHLO_EV "E: mail <a@b.example>\nE: noop\n")

/* No DATA after BDAT in one transaction; BDAT after a failed BDAT: 503
 * with the chunk consumed; RSET clears (RFC 3030 2). */
TR_TEST(bdat_sequence,
  TXN "A: data_start ok\nC: BDAT 3\nC- abc\n" "S: 250 2.0.0 3 octets received\n"
  "C: DATA\n" BADSEQ
  "C: RCPT TO:<late@d.example>\n" BADSEQ
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "A: data_start reply 452 4.3.1 No room\n"
  "C: BDAT 4\nC- abcd\n" "S: 452 4.3.1 No room\n"
  "C: BDAT 4 LAST\nC- efgh\n" BADSEQ
  "C: RSET\nS: 250 2.0.0 Reset\n")

/* RFC 3030 2: after a refused chunk the receiver MUST accept and discard
 * the chunks already in the pipeline. 30 chunks follow a 552 (29, then
 * BDAT LAST): each is read and answered 503, none counts towards the
 * 20-error limit (no 421), and BDAT LAST ends the failed transaction so the
 * next MAIL is served. The first 552 comes from the size limit. */
TR_TEST(bdat_discard_after_refusal,
  "O: max_size 10\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE 10\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
  "S: 250-CHUNKING\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BDAT 11\nC- 12345678901\n" "S: 552 5.3.4 Message size exceeds fixed limit\n"
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4 LAST\nC- QUIT\n" BADSEQ
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BDAT 3 LAST\nC- abc\n" MSG_OK
  "C: NOOP\nS: 250 2.0.0 OK\n" "Z: open\n")

/* The same after a chunk the application refused at its start (452): the
 * discarded chunks are not errors either; errors still count elsewhere. */
TR_TEST(bdat_discard_after_app_refusal,
  TXN "A: data_start reply 452 4.3.1 No room\n"
  "C: BDAT 4\nC- abcd\n" "S: 452 4.3.1 No room\n"
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 4\nC- efgh\n" BADSEQ
  "C: BDAT 0 LAST\n" BADSEQ
  "C: XYZZY\nS: 500 5.5.2 Syntax error, command unrecognized\n"
  "C: RSET\nS: 250 2.0.0 Reset\n" "Z: open\n")

/* BDAT syntax: the size must be digits; an unknown size skips nothing. */
TR_TEST(bdat_syntax,
  TXN "C: BDAT\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: BDAT x\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: BDAT 1 LAST extra\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: BDAT 99999999999999999999999\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: BDAT -1\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: NOOP\nS: 250 2.0.0 OK\n")

/* Size limit with BDAT: refused at the command when the chunk alone is too
 * big, the bytes still consumed; or at the end when the total grows. */
TR_TEST(bdat_size,
  "O: max_size 10\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE 10\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
  "S: 250-CHUNKING\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BDAT 11 LAST\nC- 12345678901\n" "S: 552 5.3.4 Message size exceeds fixed limit\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BDAT 6\nC- 123456\n" "S: 250 2.0.0 6 octets received\n"
  "C: BDAT 6 LAST\nC- 789012\n" "S: 552 5.3.4 Message size exceeds fixed limit\n"
  "C: NOOP\nS: 250 2.0.0 OK\n")

/* BINARYMIME content goes through BDAT untouched (RFC 3030 3). */
TR_TEST(bdat_binarymime,
  GREETING EHLO "C: MAIL FROM:<a@b.example> BODY=BINARYMIME\n" MAIL_OK
  "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BDAT 6 LAST\nC- \\0\\xff\\r.\\n\\x80\n" MSG_OK
  EHLO_EV "E: mail <a@b.example> body=BINARYMIME\nE: rcpt <c@d.example> #0\n"
  "E: data_start bdat\nE: data \\x00\\xFF\\r.\\n\\x80\nE: data_end size=6 bdat\n")

/* A big BDAT chunk arrives in pieces; pausing inside works. */
TR_TEST(bdat_big_paused,
  TXN "A: data_chunk pause\n"
  "C: BDAT 10000 LAST\nC- \\{10000:z}\n" MSG_OK)

/* The first BDAT's data_start answered later: the chunk waits, then flows;
 * RSET between chunks clears the transaction (RFC 3030 2). */
TR_TEST(bdat_deferred_start_and_rset,
  TXN "A: data_start defer\nR: reply 250\n"
  "C: BDAT 3\nC- abc\nC: BDAT 2\nC- de\n"
  "S: 250 2.0.0 3 octets received\nS: 250 2.0.0 2 octets received\n"
  "C: RSET\nS: 250 2.0.0 Reset\nC: BDAT 1 LAST\nC- x\n" BADSEQ
  TXN_EV "E: data_start bdat\nE: rset\n")

/* ---- LMTP (RFC 2033) ---- */
#define LMTP_GREET "S: 220 localhost LMTP Service ready\n"
#define LHLO "C: LHLO client.example\n" EHLO_REPLY

/* One reply per accepted recipient, in RCPT order (RFC 2033 4.2). */
TR_TEST(lmtp_data,
  "O: lmtp\n" LMTP_GREET LHLO
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "A: rcpt ok\nC: RCPT TO:<r0@d.example>\n" RCPT_OK
  "A: rcpt refuse\nC: RCPT TO:<r1@d.example>\nS: 550 5.1.1 Mailbox unknown\n"
  "C: RCPT TO:<r2@d.example>\n" RCPT_OK
  "A: data_end ok\nA: data_end reply 452 4.2.2 Over quota\n"
  "C: DATA\n" DATA_GO "C: hi\nC: .\n" MSG_OK "S: 452 4.2.2 Over quota\n"
  "C: QUIT\n" "S: 221 2.0.0 localhost Bye\n"
  "E: connect\nE: ehlo LHLO client.example\nE: mail <a@b.example>\nE: rcpt <r0@d.example> #0\n"
  "E: rcpt <r1@d.example> #1\nE: rcpt <r2@d.example> #1\nE: data_start\nE: data hi\\r\\n\n"
  "E: data_end size=4 rcpt=0\nE: data_end size=4 rcpt=1\nE: quit\n")

/* RFC 2033 4.1: HELO/EHLO are not LMTP; 4.2: DATA without recipients 503. */
TR_TEST(lmtp_sequence,
  "O: lmtp\n" LMTP_GREET
  "C: EHLO client.example\nS: 500 5.5.1 This is LMTP: use LHLO\n"
  "C: HELO client.example\nS: 500 5.5.1 This is LMTP: use LHLO\n"
  LHLO "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: DATA\n" BADSEQ "C: BDAT 2 LAST\nC- xy\n" BADSEQ)

/* Deferred per-recipient answers, and BDAT LAST in LMTP (RFC 2033 4.3). */
TR_TEST(lmtp_deferred_bdat,
  "O: lmtp\n" LMTP_GREET LHLO
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<r0@d.example>\nC: RCPT TO:<r1@d.example>\nC: RCPT TO:<r2@d.example>\n"
  RCPT_OK RCPT_OK RCPT_OK
  "A: data_end defer\nA: data_end ok\nA: data_end defer\n"
  "R: reply 250 2.1.5 r0 done\nR: reply 450 4.2.0 r2 later\n"
  "C: BDAT 3 LAST\nC- abc\nC: NOOP\n"
  "S: 250 2.1.5 r0 done\n" MSG_OK "S: 450 4.2.0 r2 later\nS: 250 2.0.0 OK\n")

/* A refused message gets the refusal once per recipient. */
TR_TEST(lmtp_refused_message,
  "O: lmtp\n" LMTP_GREET LHLO
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<r0@d.example>\n" RCPT_OK "C: RCPT TO:<r1@d.example>\n" RCPT_OK
  "C: DATA\n" DATA_GO "C- x\\ny\\r\\n.\\r\\n\n"
  "S: 550 5.6.0 Bare CR or LF in message\nS: 550 5.6.0 Bare CR or LF in message\n")

/* Backpressure: 100 LMTP replies through a 1024-octet output buffer (the
 * random runs drain it in small pieces). */
static void lmtp_many_recipients(void **state) {
  char *script = malloc(64 * 1024);
  size_t n = 0;
  (void)state;
  n += (size_t)sprintf(script + n, "O: lmtp\nO: out 1024\n" LMTP_GREET LHLO
                                   "C: MAIL FROM:<a@b.example>\n" MAIL_OK);
  for (int i = 0; i < 100; i++) n += (size_t)sprintf(script + n, "C: RCPT TO:<r%d@d.example>\n", i);
  for (int i = 0; i < 100; i++) n += (size_t)sprintf(script + n, RCPT_OK);
  n += (size_t)sprintf(script + n, "C: DATA\n" DATA_GO "C: body\nC: .\n");
  for (int i = 0; i < 100; i++) n += (size_t)sprintf(script + n, MSG_OK);
  n += (size_t)sprintf(script + n, "C: QUIT\nS: 221 2.0.0 localhost Bye\n");
  tr_check(script, NULL);
  free(script);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(dot_unstuffing),   cmocka_unit_test(empty_message),
      cmocka_unit_test(two_messages),     cmocka_unit_test(long_lines),
      cmocka_unit_test(long_lines_rejected),
      cmocka_unit_test(size_declared),    cmocka_unit_test(size_exceeded_data),
      cmocka_unit_test(bare_lf_rejected), cmocka_unit_test(bare_cr_rejected),
      cmocka_unit_test(bare_accepted),    cmocka_unit_test(nul_rejected),
      cmocka_unit_test(nul_accepted),     cmocka_unit_test(chunk_pause),
      cmocka_unit_test(chunk_refuse),     cmocka_unit_test(data_refusals),
      cmocka_unit_test(deferred_data_end), cmocka_unit_test(bdat_basic),
      cmocka_unit_test(bdat_last_with_data), cmocka_unit_test(bdat_zero),
      cmocka_unit_test(bdat_refused_consumed), cmocka_unit_test(bdat_sequence),
      cmocka_unit_test(bdat_syntax),      cmocka_unit_test(bdat_size),
      cmocka_unit_test(bdat_binarymime),  cmocka_unit_test(bdat_big_paused),
      cmocka_unit_test(bdat_deferred_start_and_rset),
      cmocka_unit_test(bdat_discard_after_refusal), cmocka_unit_test(bdat_discard_after_app_refusal),
      cmocka_unit_test(lmtp_data),        cmocka_unit_test(lmtp_sequence),
      cmocka_unit_test(lmtp_deferred_bdat), cmocka_unit_test(lmtp_refused_message),
      cmocka_unit_test(lmtp_many_recipients),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
