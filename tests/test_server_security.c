/* The server cases of docs/security.md, each fed whole, byte by byte and at random
 * splits:
 *  1. end of data and line endings (SMTP smuggling: CVE-2023-51764,
 *     CVE-2023-51765, CVE-2023-51766, CVE-2024-27305);
 *  2. STARTTLS buffered-bytes injection (CVE-2011-0411, CVE-2021-38371,
 *     CVE-2021-33515) and state reset (RFC 3207 4.2);
 *  3. decoded values validated again; control bytes in commands;
 *  4. bounds (Exim 21Nails CVE-2020-28019/28021, CVE-2019-16928): over-long
 *     lines, recipients, SIZE overflow, BDAT counted never scanned
 *     (CVE-2017-16944), error and AUTH failure limits, backpressure. */
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

#define SYNTAX "S: 500 5.5.2 Syntax error, command unrecognized\n"

/* ---- 1. SMTP smuggling ---- */

/* Sequences that must never end DATA (docs/security.md 1), in script escapes. */
static const char *const smuggle[] = {
    "\\n.\\n", "\\n.\\r\\n", "\\r\\n.\\n", "\\r.\\r", "\\r\\n.\\r", "\\r\\n.\\r\\r\\n", "\\r\\n\\0.\\r\\n",
};

/* Default policy: one message, refused after its real end; the smuggled
 * commands are never run. */
static void smuggling_rejected(void **state) {
  static const int why[] = {SMTP_ERR_BARE_LF, SMTP_ERR_BARE_LF, SMTP_ERR_BARE_LF, SMTP_ERR_BARE_CR,
                            SMTP_ERR_BARE_CR, SMTP_ERR_BARE_CR, SMTP_ERR_NUL};
  (void)state;
  for (size_t i = 0; i < sizeof smuggle / sizeof smuggle[0]; i++) {
    char script[4096], raw[512], *bytes = NULL;
    size_t n;
    /* Message size: everything before the real CRLF "." CRLF plus that CRLF,
     * less a stuffing dot after CRLF (RFC 5321 4.5.2). */
    snprintf(raw, sizeof raw,
             "hello%sMAIL FROM:<evil@x.example>\\r\\nRCPT TO:<victim@y.example>\\r\\nDATA\\r\\nevil\\r\\n",
             smuggle[i]);
    n = tr_unescape(raw, strlen(raw), &bytes);
    free(bytes);
    if (strstr(smuggle[i], "\\r\\n.")) n--;
    snprintf(script, sizeof script,
             TXN "C: DATA\n" DATA_GO "C- %s.\\r\\n\n%s"
                 "C: NOOP\nS: 250 2.0.0 OK\n" TXN_EV
                 "E: data_start\nE: data -\nE: data_end size=%zu refused=%d\nE: noop\nZ: open\n",
             raw,
             why[i] == SMTP_ERR_NUL ? "S: 554 5.6.0 Message contains NUL\n"
                                    : "S: 550 5.6.0 Bare CR or LF in message\n",
             n, why[i]);
    tr_check(script, NULL);
  }
}

/* Accept policy: the bytes pass unchanged and still form one message. */
static void smuggling_accepted(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof smuggle / sizeof smuggle[0]; i++) {
    char script[4096];
    snprintf(script, sizeof script,
             "O: bare_accept\nO: nul_accept\n" TXN "C: DATA\n" DATA_GO
             "C- hello%sMAIL FROM:<evil@x.example>\\r\\nDATA\\r\\nevil\\r\\n.\\r\\n\n" MSG_OK
             "C: NOOP\nS: 250 2.0.0 OK\n" TXN_EV,
             smuggle[i]);
    /* Events: exactly one data_start/data_end and no "mail <evil...>". */
    strcat(script, "E: data_start\n");
    {
      char raw[256], *bytes = NULL, esc[1024];
      size_t n;
      snprintf(raw, sizeof raw, "hello%sMAIL FROM:<evil@x.example>\\r\\nDATA\\r\\nevil\\r\\n",
               smuggle[i]);
      n = tr_unescape(raw, strlen(raw), &bytes);
      /* The unstuffer drops a dot that starts a line after CRLF. */
      tr_escape(esc, sizeof esc, bytes, n);
      if (strstr(smuggle[i], "\\r\\n.")) {
        /* "\r\n." followed by something else: the dot is a stuffing dot. */
        char *d = strstr(esc, "\\r\\n.");
        memmove(d + 4, d + 5, strlen(d + 5) + 1);
        n--;
      }
      snprintf(script + strlen(script), sizeof script - strlen(script),
               "E: data %s\nE: data_end size=%zu\nE: noop\n", esc, n);
      free(bytes);
    }
    tr_check(script, NULL);
  }
}

/* An over-long data line is one line: a "." later in it is not a line start. */
TR_TEST(long_data_line_no_eod,
  TXN "C: DATA\n" DATA_GO "C- \\{5000:x}.\\r\\nQUIT\\r\\n.\\r\\n\n" MSG_OK "C: NOOP\nS: 250 2.0.0 OK\n")

/* Bare LF / CR / NUL in a command line make the whole line an error:
 * never two commands from one line. */
TR_TEST(command_line_bare,
  GREETING EHLO
  "C- NOOP\\nQUIT\\r\\n\n" SYNTAX
  "C- MAIL FROM:<a@b.example>\\rRCPT TO:<c@d.example>\\r\\n\n" SYNTAX
  "C- NOOP\\0\\r\\n\n" SYNTAX
  "C- \\r\\r\\n\n" SYNTAX
  "C- QUIT\\n\\r\\n\n" SYNTAX
  "C: NOOP\nS: 250 2.0.0 OK\n" EHLO_EV "E: noop\nZ: open\n")

/* ---- 2. STARTTLS ---- */

/* Bytes pipelined behind STARTTLS are discarded, never executed, in any
 * spelling; after the handshake all state is gone. */
TR_TEST(starttls_injection,
  "O: tls\nO: plaintext_auth\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-STARTTLS\nS: 250-AUTH PLAIN LOGIN\nS: 250 LIMITS RCPTMAX=100\n"
  "C- STARTTLS\\r\\nEHLO evil.example\\r\\nMAIL FROM:<evil@x.example>\\r\\nAUTH PLAIN AHVzZXIAc2VjcmV0\\r\\n\n"
  "S: 220 2.0.0 Ready to start TLS\nT:\n"
  "C: MAIL FROM:<a@b.example>\n" BADSEQ
  "C: RCPT TO:<c@d.example>\n" BADSEQ
  EHLO_EV "E: starttls\nZ: open\n")
TR_TEST(starttls_injection_lowercase,
  "O: tls\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-STARTTLS\nS: 250 LIMITS RCPTMAX=100\n"
  "C- sTaRtTlS\\r\\nRSET\\r\\nQUIT\\r\\n\n"
  "S: 220 2.0.0 Ready to start TLS\nT:\nC: NOOP\nS: 250 2.0.0 OK\n"
  EHLO_EV "E: starttls\nE: noop\n")
/* Even when the application answers STARTTLS later. */
TR_TEST(starttls_injection_deferred,
  "O: tls\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-STARTTLS\nS: 250 LIMITS RCPTMAX=100\n"
  "A: starttls defer\nR: reply 220\n"
  "C- STARTTLS\\r\\nQUIT\\r\\n\n"
  "S: 220 2.0.0 Ready to start TLS\nT:\nC: NOOP\nS: 250 2.0.0 OK\n"
  EHLO_EV "E: starttls\nE: noop\n")

/* SNI is untrusted bytes: controls never come back out. */
static void sni_untrusted(void **state) {
  smtp_server_session *s;
  smtp_tls_info in = {"TLSv1.3\r\n", "X", "evil\r\nhost\x01", 1, 1, {0}}, out;
  (void)state;
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, NULL, NULL), SMTP_OK);
  assert_int_equal(smtp_server_session_tls_started(s, &in), SMTP_OK); /* implicit TLS */
  assert_int_equal(smtp_server_session_tls_info(s, &out), SMTP_OK);
  assert_string_equal(out.sni, "evil??host?");
  assert_string_equal(out.protocol, "TLSv1.3??");
  assert_int_equal(out.peer_verified, 1);
  assert_int_equal(smtp_server_session_tls_started(s, &in), SMTP_ERR_INVALID_STATE);
  smtp_server_session_del(s);
}

/* ---- 3. values ---- */
TR_TEST(address_controls,
  GREETING EHLO
  "C- MAIL FROM:<\\\"a\\x01b\\\"@b.example>\\r\\n\nS: 501 5.1.7 Bad sender address syntax\n"
  "C- MAIL FROM:<a@b.example> ENVID=x+00y\\r\\n\nS: 555 5.5.4 MAIL/RCPT parameters not recognized\n"
  "C- MAIL FROM:<a\\x7f@b.example>\\r\\n\nS: 501 5.1.7 Bad sender address syntax\n"
  "C- EHLO ex\\x00ample\\r\\n\n" SYNTAX)
TR_TEST(decoded_values,
  "O: ext+ DSN\nO: plaintext_auth\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-DSN\nS: 250-AUTH PLAIN LOGIN\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example> ENVID=x+0Dy\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example> AUTH=x+0Ay\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example> AUTH=x+00y\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK
  "C: RCPT TO:<c@d.example> ORCPT=rfc822;c+0D+0A@d\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: AUTH PLAIN AHUNCnNlcgBzZWNyZXQ=\n" BADSEQ)

/* ---- 4. bounds ---- */

/* RFC 5321 4.5.3.1.4: 512 octets with CRLF is fine, 513 is 500; the rest of
 * an over-long line is never run; the session continues. */
TR_TEST(command_line_limit,
  GREETING "C: NOOP \\{505:a}\nS: 250 2.0.0 OK\n"
  "C: NOOP \\{506:a}\n" TOO_LONG
  "C: NOOP \\{3000:a}QUIT\n" TOO_LONG
  "C: NOOP \\{3000:a}\\rQUIT\n" TOO_LONG
  "C: NOOP\nS: 250 2.0.0 OK\nZ: open\n")

/* A peer that never sends CRLF costs bounded memory (discarded). */
static void endless_line(void **state) {
  tr_mem m;
  smtp_server_session *s;
  const char *p;
  char *junk = malloc(1 << 20);
  smtp_ssize n;
  (void)state;
  memset(junk, 'a', 1 << 20);
  tr_mem_init(&m, 0);
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, NULL, &m.mem), SMTP_OK);
  n = smtp_server_session_mem_send(s, &p);
  smtp_server_session_mem_consume(s, (size_t)n);
  for (int i = 0; i < 16; i++)
    assert_int_equal(smtp_server_session_mem_recv(s, junk, 1 << 20), 1 << 20);
  assert_int_equal(m.count, 1);
  assert_int_equal(smtp_server_session_mem_send(s, &p), 0);
  assert_int_equal(smtp_server_session_mem_recv(s, "\r\nNOOP\r\n", 8), 8);
  n = smtp_server_session_mem_send(s, &p);
  assert_int_equal(n, 39);
  assert_memory_equal(p, "500 5.5.6 Line too long\r\n250 2.0.0 OK\r\n", 39);
  smtp_server_session_del(s);
  assert_int_equal(m.live, 0);
  free(junk);
}

/* A client that pipelines without reading: input stops being taken once
 * half the output buffer is pending; memory stays bounded. */
static void pipelined_without_reading(void **state) {
  smtp_server_session *s;
  const char *p;
  size_t len = 6 * 20000, taken = 0;
  char *in = malloc(len);
  smtp_ssize n;
  (void)state;
  for (size_t i = 0; i < 20000; i++) memcpy(in + 6 * i, "NOOP\r\n", 6);
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, NULL, NULL), SMTP_OK);
  n = smtp_server_session_mem_recv(s, in, len);
  assert_true(n > 0 && (size_t)n < len);
  assert_false(smtp_server_session_want_read(s));
  n = smtp_server_session_mem_send(s, &p);
  assert_true(n > 0 && n <= 2048);
  /* Drain and go on: every NOOP gets its reply. */
  taken = 0;
  size_t replies = 0;
  smtp_server_session_del(s);
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, NULL, NULL), SMTP_OK);
  while (taken < len || smtp_server_session_want_write(s)) {
    n = smtp_server_session_mem_send(s, &p);
    assert_true(n >= 0 && n <= 2048);
    for (smtp_ssize i = 0; i + 1 < n; i++)
      if (p[i] == '\r' && p[i + 1] == '\n') replies++;
    smtp_server_session_mem_consume(s, (size_t)n);
    if (taken < len) {
      n = smtp_server_session_mem_recv(s, in + taken, len - taken);
      assert_true(n >= 0);
      taken += (size_t)n;
    }
  }
  assert_int_equal(replies, 20000 + 1);
  smtp_server_session_del(s);
  free(in);
}

/* RFC 5321 4.5.3.1.10: past the limit 452 (default 100). */
static void recipient_flood(void **state) {
  size_t cap = 150 * 64 + 4096, n = 0;
  char *script = malloc(cap);
  (void)state;
  n += (size_t)sprintf(script + n, GREETING EHLO "C: MAIL FROM:<a@b.example>\n" MAIL_OK);
  for (int i = 0; i < 150; i++) n += (size_t)sprintf(script + n, "C: RCPT TO:<r%d@d.example>\n", i);
  for (int i = 0; i < 150; i++)
    n += (size_t)sprintf(script + n, i < 100 ? RCPT_OK : "S: 452 4.5.3 Too many recipients\n");
  tr_check(script, NULL);
  free(script);
}

/* SIZE: digits only, overflow refused not wrapped (docs/security.md 4). */
TR_TEST(size_overflow,
  "O: max_size 1000\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE 1000\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
  "S: 250-CHUNKING\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example> SIZE=18446744073709551616\nS: 552 5.3.4 Message size exceeds fixed limit\n"
  "C: MAIL FROM:<a@b.example> SIZE=18446744073709551615\nS: 552 5.3.4 Message size exceeds fixed limit\n"
  "C: MAIL FROM:<a@b.example> SIZE=+5\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example> SIZE=0x10\nS: 501 5.5.4 Syntax error in parameters or arguments\n"
  "C: MAIL FROM:<a@b.example> SIZE=0001000\n" MAIL_OK)

/* BDAT chunks are counted, never scanned (Exim CVE-2017-16944); a refused
 * BDAT still consumes its bytes; a huge BDAT is refused, not buffered. */
TR_TEST(bdat_not_scanned,
  TXN "C: BDAT 25\nC- \\r\\n.\\r\\nQUIT\\r\\nRSET\\r\\nBDAT 1\\r\\n\n"
  "S: 250 2.0.0 25 octets received\nC: BDAT 0 LAST\n" MSG_OK
  "C: BDAT 7\nC- QUIT\\r\\n.\n" BADSEQ "C: NOOP\nS: 250 2.0.0 OK\nZ: open\n")
TR_TEST(bdat_huge,
  "O: max_size 100\n" GREETING "C: EHLO client.example\n"
  "S: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE 100\nS: 250-8BITMIME\nS: 250-BINARYMIME\n"
  "S: 250-CHUNKING\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
  "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
  "C: BDAT 18446744073709551615\nS: 552 5.3.4 Message size exceeds fixed limit\n"
  "C- \\{20000:Q}\nZ: open\n")

/* docs/examples.md: 20 errors, then 421 4.7.0 and close. */
static void error_flood(void **state) {
  char script[4096];
  size_t n = 0;
  (void)state;
  n += (size_t)sprintf(script + n, GREETING);
  for (int i = 0; i < 25; i++) n += (size_t)sprintf(script + n, "C: XYZZY\n");
  for (int i = 0; i < 20; i++) n += (size_t)sprintf(script + n, SYNTAX);
  n += (size_t)sprintf(script + n, "S: 421 4.7.0 localhost Too many errors\nZ: closed\n");
  tr_check(script, NULL);
}

/* Allocation failure at every allocation index leaves nothing behind and
 * reports NOMEM. */
static void alloc_failures(void **state) {
  (void)state;
  for (size_t k = 1; k <= 4; k++) {
    tr_mem m;
    smtp_server_options *o = NULL;
    smtp_server_callbacks *cb = NULL;
    smtp_server_session *s = NULL;
    int r;
    tr_mem_init(&m, k);
    r = smtp_server_options_new(&o, &m.mem);
    if (r == SMTP_OK) r = smtp_server_callbacks_new(&cb, &m.mem);
    if (r == SMTP_OK) r = smtp_server_session_new(&s, cb, NULL, o, &m.mem);
    if (k <= 3) {
      assert_int_equal(r, SMTP_ERR_NOMEM);
      assert_null(s);
    } else {
      const char *p;
      static const char in[] = "EHLO a.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n"
                               "DATA\r\nx\r\n.\r\nBDAT 1 LAST\r\n";
      assert_int_equal(r, SMTP_OK);
      assert_true(smtp_server_session_mem_send(s, &p) > 0);
      assert_true(smtp_server_session_mem_recv(s, in, sizeof in - 1) > 0);
      assert_int_equal(m.count, 3); /* no allocation after creation */
    }
    smtp_server_session_del(s);
    smtp_server_options_del(o);
    smtp_server_callbacks_del(cb);
    assert_int_equal(m.live, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(smuggling_rejected),   cmocka_unit_test(smuggling_accepted),
      cmocka_unit_test(long_data_line_no_eod), cmocka_unit_test(command_line_bare),
      cmocka_unit_test(starttls_injection),   cmocka_unit_test(starttls_injection_lowercase),
      cmocka_unit_test(starttls_injection_deferred), cmocka_unit_test(sni_untrusted),
      cmocka_unit_test(address_controls),     cmocka_unit_test(decoded_values),
      cmocka_unit_test(command_line_limit),   cmocka_unit_test(endless_line),
      cmocka_unit_test(pipelined_without_reading), cmocka_unit_test(recipient_flood),
      cmocka_unit_test(size_overflow),        cmocka_unit_test(bdat_not_scanned),
      cmocka_unit_test(bdat_huge),            cmocka_unit_test(error_flood),
      cmocka_unit_test(alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
