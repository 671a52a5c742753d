/* Server session size limits after the memory reduction of d2f8277: SASL
 * lines at the input-buffer bound (RFC 4954 4, RFC 4616 2), xtext values
 * decoded in the input buffer at their maximum lengths (RFC 4954 5,
 * RFC 3461 4.2/4.4), a deferred EHLO whose argument waits in the input
 * buffer, the longest EHLO reply, LIMITS values over 999999 (RFC 9422 4) and
 * application replies at the output bound (include/smtp/server.h,
 * smtp_server_session_reply()). Every transcript runs whole, one byte at a
 * time and at random splits (tests/transcript.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/sasl.h>
#include <smtp/server.h>

#include "server_scripts.h"
#include "transcript.h"

#define EHLO_DSN_AUTH_REPLY                                                               \
  "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-DSN\nS: 250-AUTH PLAIN LOGIN\n"             \
  "S: 250 LIMITS RCPTMAX=100\n"
#define PLAIN_START \
  "O: plaintext_auth\nO: authzid_any\n" GREETING "C: EHLO client.example\n" EHLO_AUTH_REPLY
/* "\0user\0secret" (RFC 4616 2), accepted by the transcript's auth callback. */
#define SHORT_PLAIN "AHVzZXIAc2VjcmV0"

/* ------------------------------------------------------------------------ */
/* Helpers.                                                                  */

typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  assert_true(n >= 0);
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 1024;
    while (c < b->len + (size_t)n + 1) c *= 2;
    b->p = realloc(b->p, c);
    assert_non_null(b->p);
    b->cap = c;
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static void sb_reset(sbuf *b) {
  b->len = 0;
  if (b->p) b->p[0] = '\0';
}

/* Base64 of @p n octets (malloc'ed, NUL-terminated). */
static char *b64(const char *p, size_t n) {
  size_t cap = (n + 2) / 3 * 4 + 1;
  char *o = malloc(cap);
  smtp_ssize k;
  assert_non_null(o);
  k = smtp_base64_encode(p, n, o, cap);
  assert_int_equal(k, (n + 2) / 3 * 4);
  o[k] = '\0';
  return o;
}

/* A PLAIN message "\0" authcid "\0" passwd (RFC 4616 2) of @p total octets
 * with an authcid of @p ulen 'u' and the rest 'p'; returns its base64. */
static char *plain_msg(size_t ulen, size_t total) {
  char *m = malloc(total), *e;
  assert_non_null(m);
  assert_true(total > ulen + 2);
  m[0] = '\0';
  memset(m + 1, 'u', ulen);
  m[1 + ulen] = '\0';
  memset(m + 2 + ulen, 'p', total - ulen - 2);
  e = b64(m, total);
  free(m);
  return e;
}

/* A host name of 255 octets (RFC 5321 4.5.3.1.2), labels of 63. */
static void long_host(char host[256]) {
  for (int i = 0; i < 255; i++) host[i] = (i % 64 == 63) ? '.' : 'h';
  host[255] = '\0';
}

/* ------------------------------------------------------------------------ */
/* SASL lines (RFC 4954 4, RFC 4616).                                        */

/* The largest PLAIN response RFC 4616 2 makes servers accept (authzid,
 * authcid and passwd of 255 octets: 767 octets, 1024 in base64) with the
 * default input buffer, as initial response and after "334 "; LOGIN with a
 * 255-octet user name. */
static void plain_rfc4616_max(void **state) {
  char msg[767], *e;
  sbuf b = {0};
  (void)state;
  memset(msg, 'z', 255);
  msg[255] = '\0';
  memset(msg + 256, 'u', 255);
  msg[511] = '\0';
  memset(msg + 512, 'p', 255);
  e = b64(msg, sizeof msg);
  assert_int_equal(strlen(e), 1024);
  sb_add(&b, PLAIN_START "C: AUTH PLAIN %s\n" AUTH_OK
         "A: auth ok\nE: connect\nE: ehlo EHLO client.example\n"
         "E: auth PLAIN \\{255:z}/\\{255:u}/\\{255:p}\n", e);
  tr_check(b.p, NULL);
  sb_reset(&b);
  sb_add(&b, PLAIN_START "C: AUTH PLAIN\nS: 334 \nC: %s\n" AUTH_OK
         "A: auth ok\nE: connect\nE: ehlo EHLO client.example\n"
         "E: auth PLAIN \\{255:z}/\\{255:u}/\\{255:p}\n", e);
  tr_check(b.p, NULL);
  free(e);
  {
    char *u = b64(msg + 256, 255), *p = b64(msg + 512, 255);
    sb_reset(&b);
    sb_add(&b, PLAIN_START "C: AUTH LOGIN %s\nS: 334 UGFzc3dvcmQ6\nC: %s\n" AUTH_OK
           "A: auth ok\nE: connect\nE: ehlo EHLO client.example\n"
           "E: auth LOGIN /\\{255:u}/\\{255:p}\n", u, p);
    tr_check(b.p, NULL);
    free(u);
    free(p);
  }
  free(b.p);
}

/* A SASL line of exactly the input buffer (CRLF included) is taken and
 * decoded; one octet more is refused with 500 5.5.6 (RFC 4954 4) and never
 * decoded (the same valid base64 with a buffer one octet smaller). With an
 * auth callback the buffer is at least 2128 octets (2 x the MAIL line of
 * 512 + 26 + 16 + 10 + 500, server.h), so the sizes are set above that.
 * Such a line holds more than the largest PLAIN message (767 octets): its
 * 1330-octet password is over the 255 octets of RFC 4616 2, so the decoded
 * message gets 535 5.7.8 without an auth event, where the line one octet
 * longer gets 500 5.5.6. After either, a new AUTH works. */
static void plain_at_input_bound(void **state) {
  sbuf b = {0};
  /* Initial response: "AUTH PLAIN " (11) + 2116 + CRLF = 2129 octets;
   * 2116 base64 characters are 1587 octets: NUL, 255 'u', NUL, 1330 'p'. */
  char *ir = plain_msg(255, 1587);
  /* Continuation: 2128 + CRLF = 2130 octets: 1596 octets, 1339 'p'. */
  char *cont = plain_msg(255, 1596);
  static const char *const after =
      "C: AUTH PLAIN " SHORT_PLAIN "\n" AUTH_OK
      "E: connect\nE: ehlo EHLO client.example\nE: auth PLAIN /user/secret\n";
  (void)state;
  assert_int_equal(strlen(ir), 2116);
  assert_int_equal(strlen(cont), 2128);
  sb_add(&b, "O: in 2129\n" PLAIN_START "C: AUTH PLAIN %s\n"
         "S: 535 5.7.8 Authentication credentials invalid\n%s", ir, after);
  tr_check(b.p, NULL);
  sb_reset(&b);
  sb_add(&b, "O: in 2128\n" PLAIN_START "C: AUTH PLAIN %s\n" TOO_LONG "%s", ir, after);
  tr_check(b.p, NULL);
  sb_reset(&b);
  sb_add(&b, "O: in 2130\n" PLAIN_START "C: AUTH PLAIN\nS: 334 \nC: %s\n"
         "S: 535 5.7.8 Authentication credentials invalid\n%s", cont, after);
  tr_check(b.p, NULL);
  sb_reset(&b);
  sb_add(&b, "O: in 2129\n" PLAIN_START "C: AUTH PLAIN\nS: 334 \nC: %s\n" TOO_LONG "%s",
         cont, after);
  tr_check(b.p, NULL);
  free(ir);
  free(cont);
  free(b.p);
}

/* The same bound for a mechanism run by auth_step (RFC 4954 4): a
 * continuation of exactly the buffer reaches the callback decoded, one
 * octet more is 500 5.5.6 and the exchange ends. */
static void step_at_input_bound(void **state) {
  sbuf b = {0};
  char raw[1596], *e;
  (void)state;
  memset(raw, 'x', sizeof raw);
  e = b64(raw, sizeof raw); /* 2128 characters */
  sb_add(&b, "O: in 2130\nO: plaintext_auth\nO: auth_step\nO: mechs XOAUTH2\n" GREETING
         "C: EHLO client.example\n"
         "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-AUTH XOAUTH2\nS: 250 LIMITS RCPTMAX=100\n"
         "A: auth_step challenge \nA: auth_step accept user\n"
         "C: AUTH XOAUTH2\nS: 334 \nC: %s\n" AUTH_OK
         "E: connect\nE: ehlo EHLO client.example\nE: auth_step XOAUTH2 0\n"
         "E: auth_step XOAUTH2 1 \\{1596:x}\n", e);
  tr_check(b.p, NULL);
  sb_reset(&b);
  sb_add(&b, "O: in 2129\nO: plaintext_auth\nO: auth_step\nO: mechs XOAUTH2\n" GREETING
         "C: EHLO client.example\n"
         "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-AUTH XOAUTH2\nS: 250 LIMITS RCPTMAX=100\n"
         "A: auth_step challenge \n"
         "C: AUTH XOAUTH2\nS: 334 \nC: %s\n" TOO_LONG "C: NOOP\nS: 250 2.0.0 OK\n"
         "E: connect\nE: ehlo EHLO client.example\nE: auth_step XOAUTH2 0\nE: noop\n", e);
  tr_check(b.p, NULL);
  free(e);
  free(b.p);
}

/* ------------------------------------------------------------------------ */
/* xtext values decoded in the input buffer (RFC 4954 5, RFC 3461 4.2/4.4). */

/* AUTH= fills a MAIL line of the largest size: 512 + SIZE 26 + BODY 16 +
 * SMTPUTF8 10 + AUTH 500 = 1064 octets (RFC 5321 4.5.3.1.4; RFC 4954 5
 * adds 500); one octet more is 500 5.5.6. 100 "+41" escapes decode to 'A'
 * (RFC 3461 4: xtext). */
static void auth_param_max(void **state) {
  sbuf b = {0};
  const char *pre = "MAIL FROM:<a@b.example> AUTH=";
  size_t vlen = 1064 - 2 - strlen(pre); /* 1033 characters */
  char *v = malloc(vlen + 2);
  (void)state;
  assert_non_null(v);
  memset(v, 'q', vlen - 300);
  for (size_t i = 0; i < 100; i++) memcpy(v + vlen - 300 + 3 * i, "+41", 3);
  v[vlen] = '\0';
  sb_add(&b, "O: plaintext_auth\n" GREETING "C: EHLO client.example\n" EHLO_AUTH_REPLY
         "C: AUTH PLAIN " SHORT_PLAIN "\n" AUTH_OK
         "C: %s%s\n" MAIL_OK "C: RSET\nS: 250 2.0.0 Reset\n"
         "C: %sq%s\n" TOO_LONG
         "C: MAIL FROM:<a@b.example> AUTH=<>\n" MAIL_OK
         "E: connect\nE: ehlo EHLO client.example\nE: auth PLAIN /user/secret\n"
         "E: mail <a@b.example> auth=\\{733:q}\\{100:A}\nE: rset\n"
         "E: mail <a@b.example> auth=<>\n",
         pre, v, pre, v);
  tr_check(b.p, NULL);
  free(v);
  free(b.p);
}

/* ENVID at its 100 decoded characters (RFC 3461 4.4), written as 300 with
 * "+2B" escapes, with an AUTH= value filling the rest of the MAIL line
 * (1064 + DSN 124 = 1188 octets): both decoded one after the other in the
 * input buffer. 101 decoded characters are refused (501 5.5.4). */
static void envid_and_auth_max(void **state) {
  sbuf b = {0}, envid = {0};
  size_t alen;
  char *a;
  (void)state;
  for (int i = 0; i < 100; i++) sb_add(&envid, "+2B");
  /* "MAIL FROM:<a@b.example> ENVID=" 30 + 300 + " AUTH=" 6 + alen + 2 = 1188 */
  alen = 1188 - 2 - 30 - 300 - 6;
  a = malloc(alen + 1);
  assert_non_null(a);
  memset(a, 'r', alen);
  memcpy(a + alen - 3, "+40", 3); /* '@' */
  a[alen] = '\0';
  sb_add(&b, "O: plaintext_auth\nO: ext+ DSN\n" GREETING "C: EHLO client.example\n"
         EHLO_DSN_AUTH_REPLY "C: AUTH PLAIN " SHORT_PLAIN "\n" AUTH_OK
         "C: MAIL FROM:<a@b.example> ENVID=%s AUTH=%s\n" MAIL_OK
         "C: RSET\nS: 250 2.0.0 Reset\n"
         "C: MAIL FROM:<a@b.example> ENVID=%s+2B AUTH=%s\n" P501
         "C: MAIL FROM:<a@b.example> ENVID=\\{99:e}+2B AUTH=%s\n" MAIL_OK
         "E: connect\nE: ehlo EHLO client.example\nE: auth PLAIN /user/secret\n"
         "E: mail <a@b.example> envid=\\{100:+} auth=\\{%zu:r}@\nE: rset\n"
         "E: mail <a@b.example> envid=\\{99:e}+ auth=\\{%zu:r}@\n",
         envid.p, a, envid.p, a + 3, a, alen - 3, alen - 3);
  tr_check(b.p, NULL);
  free(a);
  free(envid.p);
  free(b.p);
}

/* ORCPT at its 500 decoded characters (RFC 3461 4.2), half of them "+2B"
 * escapes (1000 characters in a 1037-octet RCPT line of at most
 * 512 + 530, RFC 3461 5.4): decoded after the line; 501 decoded characters
 * are refused (501 5.5.4) although the line is within its bound. */
static void orcpt_max(void **state) {
  sbuf b = {0}, x = {0};
  (void)state;
  for (int i = 0; i < 250; i++) sb_add(&x, "+2B");
  sb_add(&b, "O: ext+ DSN\n" GREETING "C: EHLO client.example\n"
         "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-DSN\nS: 250 LIMITS RCPTMAX=100\n"
         "C: MAIL FROM:<a@b.example> ENVID=\\{100:e}\n" MAIL_OK
         "C: RCPT TO:<c@d.example> ORCPT=rfc822;\\{250:x}%s\n" RCPT_OK
         "C: RCPT TO:<c@d.example> ORCPT=rfc822;\\{251:x}%s\n" P501
         "C: RCPT TO:<e@d.example> ORCPT=rfc822;\\{500:y}\n" RCPT_OK
         "C: RCPT TO:<e@d.example> ORCPT=rfc822;\\{501:y}\n" P501
         "E: connect\nE: ehlo EHLO client.example\nE: mail <a@b.example> envid=\\{100:e}\n"
         "E: rcpt <c@d.example> orcpt=rfc822;\\{250:x}\\{250:+} #0\n"
         "E: rcpt <e@d.example> orcpt=rfc822;\\{500:y} #1\n",
         x.p, x.p);
  tr_check(b.p, NULL);
  free(x.p);
  free(b.p);
}

/* ------------------------------------------------------------------------ */
/* A deferred EHLO (its argument waits in the input buffer).                 */

/* RFC 5321 4.1.1.1 / server.h "Callback order" 3: the commands after a
 * deferred EHLO wait for its answer; the argument (255 octets, RFC 5321
 * 4.5.3.1.2) is handed over intact; a refusal leaves the state unchanged
 * (RFC 5321 4.1.4) and the next EHLO is deferred again. */
static void ehlo_deferred_transcript(void **state) {
  sbuf b = {0};
  char host[256];
  (void)state;
  long_host(host);
  sb_add(&b, "A: ehlo defer\nA: ehlo defer\n" GREETING
         "C: EHLO %s\nC: MAIL FROM:<a@b.example>\nC: EHLO client.example\nC: NOOP\n"
         "R: reply 550 5.7.1 Not you\n"
         "S: 550 5.7.1 Not you\nS: 503 5.5.1 Bad sequence of commands\n"
         "R: reply 250\n" EHLO_REPLY "S: 250 2.0.0 OK\n"
         "E: connect\nE: ehlo EHLO %s\nE: ehlo EHLO client.example\nE: noop\n",
         host, host);
  tr_check(b.p, NULL);
  free(b.p);
}

static int defer_ehlo(smtp_server_session *s, const smtp_server_helo *h, void *ud) {
  (void)s;
  (void)ud;
  assert_int_equal(h->name.len, 255);
  assert_int_equal(h->name.ptr[0], 'h');
  return SMTP_ERR_DEFERRED;
}

/* The deferred EHLO's name survives the caller's bytes being overwritten,
 * whether the line came whole or in two pieces, and is the accepted name
 * (smtp_server_session_helo_name()) once answered; the pipelined NOOP is
 * left with the caller until then. */
static void ehlo_deferred_name_kept(void **state) {
  char host[256], buf[600];
  (void)state;
  long_host(host);
  for (int split = 0; split < 3; split++) {
    smtp_server_callbacks *cb;
    smtp_server_session *s;
    const char *o;
    smtp_ssize n;
    size_t l, line, len;
    assert_int_equal(smtp_server_callbacks_new(&cb, NULL), SMTP_OK);
    smtp_server_callbacks_set_ehlo(cb, defer_ehlo);
    assert_int_equal(smtp_server_session_new(&s, cb, NULL, NULL, NULL), SMTP_OK);
    smtp_server_callbacks_del(cb);
    n = smtp_server_session_mem_send(s, &o);
    assert_true(n > 0);
    assert_int_equal(smtp_server_session_mem_consume(s, (size_t)n), SMTP_OK);
    snprintf(buf, sizeof buf, "EHLO %s\r\nNOOP\r\n", host);
    len = strlen(buf);
    line = len - 6;
    if (split == 0) {
      n = smtp_server_session_mem_recv(s, buf, len);
      assert_int_equal(n, line);
    } else {
      size_t first = split == 1 ? 3 : line - 1; /* the LF alone in the second call */
      assert_int_equal(smtp_server_session_mem_recv(s, buf, first), first);
      n = smtp_server_session_mem_recv(s, buf + first, len - first);
      assert_int_equal(n, line - first);
    }
    assert_int_equal(smtp_server_session_want_read(s), 0);
    memset(buf, 'X', sizeof buf); /* the caller's bytes are gone */
    assert_null(smtp_server_session_helo_name(s, &l));
    assert_int_equal(smtp_server_session_reply(s, 250, NULL, NULL), SMTP_OK);
    assert_string_equal(smtp_server_session_helo_name(s, &l), host);
    assert_int_equal(l, 255);
    n = smtp_server_session_mem_send(s, &o);
    assert_true(n > 15);
    assert_memory_equal(o, "250-localhost\r\n", 15);
    assert_memory_equal(o + n - 24, "250 LIMITS RCPTMAX=100\r\n", 24);
    assert_int_equal(smtp_server_session_mem_consume(s, (size_t)n), SMTP_OK);
    assert_int_equal(smtp_server_session_want_read(s), 1);
    assert_int_equal(smtp_server_session_mem_recv(s, "NOOP\r\n", 6), 6);
    n = smtp_server_session_mem_send(s, &o);
    assert_int_equal(n, 14);
    assert_memory_equal(o, "250 2.0.0 OK\r\n", 14);
    smtp_server_session_del(s);
  }
}

/* ------------------------------------------------------------------------ */
/* The longest EHLO reply and LIMITS (RFC 9422 4).                          */

/* RFC 9422 4: limit-value is %x31-39 0*5DIGIT; a larger MAILMAX is
 * advertised as 999999 and the EHLO is answered. RCPTMAX at its largest
 * setting (100000). */
static void limits_capped(void **state) {
  static const char *const trans[] = {"999999", "1000000", "1000000000"};
  sbuf b = {0};
  (void)state;
  for (size_t i = 0; i < sizeof trans / sizeof trans[0]; i++) {
    sb_reset(&b);
    sb_add(&b, "O: max_trans %s\n" GREETING "C: EHLO client.example\n"
           "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250 LIMITS RCPTMAX=100 MAILMAX=999999\n"
           "C: MAIL FROM:<a@b.example>\n" MAIL_OK
           "E: connect\nE: ehlo EHLO client.example\nE: mail <a@b.example>\n", trans[i]);
    tr_check(b.p, NULL);
  }
  tr_check("O: max_trans 999998\nO: max_rcpt 100000\n" GREETING "C: EHLO client.example\n"
           "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250 LIMITS RCPTMAX=100000 MAILMAX=999998\n",
           NULL);
  free(b.p);
}

/* Options giving the longest EHLO reply: a 255-octet host name, every
 * extension, all mechanisms, the largest SIZE and LIMITS values. */
#define LONGEST_OPTS                                                                         \
  "O: hostname %s\nO: tls\nO: plaintext_auth\nO: auth_step\n"                                \
  "O: mechs PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-1 SCRAM-SHA-256 EXTERNAL\n"   \
  "O: ext+ DSN\nO: ext+ REQUIRETLS\nO: ext+ VRFY\nO: ext+ EXPN\nO: ext+ HELP\n"              \
  "O: max_size 18446744073709551615\nO: max_rcpt 100000\nO: max_trans 1000000000\n"
#define LONGEST_HEAD                                                                         \
  "S: 250-%s\nS: 250-PIPELINING\nS: 250-SIZE 18446744073709551615\nS: 250-8BITMIME\n"        \
  "S: 250-BINARYMIME\nS: 250-CHUNKING\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\n"        \
  "S: 250-DSN\n"
#define LONGEST_AUTH \
  "S: 250-AUTH EXTERNAL SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 CRAM-MD5 PLAIN LOGIN\n"
#define LONGEST_TAIL \
  "S: 250-LIMITS RCPTMAX=100000 MAILMAX=999999\nS: 250-VRFY\nS: 250-EXPN\nS: 250 HELP\n"

/* The longest reply, exact, before TLS (STARTTLS offered) and after it
 * (REQUIRETLS offered, RFC 8689 4; STARTTLS not, RFC 3207 4.2), accepted by
 * default, by smtp_server_session_reply() in the callback and deferred. */
static void ehlo_longest(void **state) {
  static const char *const how[] = {"", "A: ehlo reply 250\n", "A: ehlo defer\nR: reply 250\n"};
  sbuf b = {0};
  char host[256];
  (void)state;
  long_host(host);
  for (size_t i = 0; i < 3; i++) {
    sb_reset(&b);
    sb_add(&b, LONGEST_OPTS "%s" "S: 220 %s ESMTP Service ready\nC: EHLO client.example\n"
           LONGEST_HEAD "S: 250-STARTTLS\n" LONGEST_AUTH LONGEST_TAIL
           "C: STARTTLS\nS: 220 2.0.0 Ready to start TLS\nT:\n"
           "%sC: EHLO client.example\n" LONGEST_HEAD LONGEST_AUTH "S: 250-REQUIRETLS\n" LONGEST_TAIL
           "C: NOOP\nS: 250 2.0.0 OK\n",
           host, how[i], host, host, how[i], host);
    tr_check(b.p, NULL);
  }
  free(b.p);
}

/* The output buffer is raised from 1024 so that half of it, less the 96
 * octets kept for a closing 421, holds that reply (server.h,
 * smtp_server_options_set_output_buffer): 20 pipelined EHLOs (RFC 2920)
 * are all answered in full while the output drains slowly. */
static void ehlo_longest_pipelined(void **state) {
  sbuf b = {0}, body = {0};
  char host[256];
  (void)state;
  long_host(host);
  sb_add(&body, LONGEST_HEAD "S: 250-STARTTLS\n" LONGEST_AUTH LONGEST_TAIL, host);
  sb_add(&b, LONGEST_OPTS "S: 220 %s ESMTP Service ready\n", host, host);
  for (int i = 0; i < 20; i++) sb_add(&b, "C: EHLO client.example\n");
  for (int i = 0; i < 20; i++) sb_add(&b, "%s", body.p);
  tr_check(b.p, NULL);
  free(body.p);
  free(b.p);
}

/* ------------------------------------------------------------------------ */
/* Application replies and the output bound (server.h,                       */
/* smtp_server_session_reply(): half the output buffer less 96 octets).      */

/* Exactly 416 octets go out (default output buffer 1024): one line
 * "250 2.0.0 " + 404 + CRLF, and two lines 212 + 204; a 5yz refusal of
 * MAIL at the bound too. */
static void reply_at_bound(void **state) {
  (void)state;
  tr_check(GREETING EHLO
           "A: noop reply 250 2.0.0 \\{404:r}\nC: NOOP\nS: 250 2.0.0 \\{404:r}\n"
           "A: noop reply 250 2.0.0 \\{200:a}\\n\\{192:b}\n"
           "C: NOOP\nS: 250-2.0.0 \\{200:a}\nS: 250 2.0.0 \\{192:b}\n"
           "A: mail reply 550 5.7.1 \\{404:m}\nC: MAIL FROM:<a@b.example>\n"
           "S: 550 5.7.1 \\{404:m}\n"
           "A: noop defer\nC: NOOP\nR: reply 250 2.0.0 \\{404:d}\nS: 250 2.0.0 \\{404:d}\n"
           EHLO_EV "E: noop\nE: noop\nE: mail <a@b.example>\nE: noop\n",
           NULL);
}

/* With a larger output buffer (4096: 1952 octets) a text line longer than
 * a reply line is split at 512 octets, CRLF included (RFC 5321 4.5.3.1.5),
 * keeping every byte. */
static void reply_wrapped(void **state) {
  (void)state;
  tr_check("O: out 4096\n" GREETING EHLO
           "A: noop reply 250 2.0.0 \\{1000:w}\nC: NOOP\n"
           "S: 250-2.0.0 \\{500:w}\nS: 250 2.0.0 \\{500:w}\n" EHLO_EV "E: noop\n",
           NULL);
}

static char long_text[1200];

/* noop callback: a reply one octet over the bound is refused with
 * SMTP_ERR_TOO_LONG and nothing is sent; the event still waits and takes
 * the next answer. */
static int noop_too_long(smtp_server_session *s, void *ud) {
  tr_log(ud, "noop");
  memset(long_text, 'r', 405);
  long_text[405] = '\0';
  assert_int_equal(smtp_server_session_reply(s, 250, "2.0.0", long_text), SMTP_ERR_TOO_LONG);
  /* two lines, 212 + 205 octets */
  memset(long_text, 'a', 200);
  long_text[200] = '\n';
  memset(long_text + 201, 'b', 193);
  long_text[394] = '\0';
  assert_int_equal(smtp_server_session_reply(s, 250, "2.0.0", long_text), SMTP_ERR_TOO_LONG);
  long_text[393] = '\0';
  assert_int_equal(smtp_server_session_reply(s, 250, "2.0.0", long_text), SMTP_OK);
  return 0;
}

/* noop callback: every too-long reply refused, the callback's return value
 * then gives the default answer. */
static int noop_too_long_default(smtp_server_session *s, void *ud) {
  tr_log(ud, "noop");
  memset(long_text, 'r', 1100);
  long_text[1100] = '\0';
  assert_int_equal(smtp_server_session_reply(s, 250, NULL, long_text), SMTP_ERR_TOO_LONG);
  return 0;
}

static void setup_too_long(smtp_server_options *o, smtp_server_callbacks *cb) {
  (void)o;
  smtp_server_callbacks_set_noop(cb, noop_too_long);
}
static void setup_too_long_default(smtp_server_options *o, smtp_server_callbacks *cb) {
  (void)o;
  smtp_server_callbacks_set_noop(cb, noop_too_long_default);
}

static void reply_over_bound(void **state) {
  (void)state;
  tr_check(GREETING EHLO "C: NOOP\nS: 250-2.0.0 \\{200:a}\nS: 250 2.0.0 \\{192:b}\nC: NOOP\n"
           "S: 250-2.0.0 \\{200:a}\nS: 250 2.0.0 \\{192:b}\n" EHLO_EV "E: noop\nE: noop\n",
           setup_too_long);
  tr_check(GREETING EHLO "C: NOOP\nS: 250 2.0.0 OK\n" EHLO_EV "E: noop\n", setup_too_long_default);
}

static int noop_defer(smtp_server_session *s, void *ud) {
  (void)s;
  (void)ud;
  return SMTP_ERR_DEFERRED;
}

/* A deferred answer one octet over the bound: SMTP_ERR_TOO_LONG, nothing
 * sent, the command still waits (mem_recv takes nothing more); a reply at
 * the bound then goes out and the next command runs. */
static void reply_over_bound_deferred(void **state) {
  smtp_server_callbacks *cb;
  smtp_server_session *s;
  const char *o;
  smtp_ssize n;
  char text[406];
  (void)state;
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), SMTP_OK);
  smtp_server_callbacks_set_noop(cb, noop_defer);
  assert_int_equal(smtp_server_session_new(&s, cb, NULL, NULL, NULL), SMTP_OK);
  smtp_server_callbacks_del(cb);
  n = smtp_server_session_mem_send(s, &o);
  assert_true(n > 0);
  assert_int_equal(smtp_server_session_mem_consume(s, (size_t)n), SMTP_OK);
  /* after EHLO, so that enhanced codes are sent (RFC 2034) */
  assert_int_equal(smtp_server_session_mem_recv(s, "EHLO x.example\r\n", 16), 16);
  n = smtp_server_session_mem_send(s, &o);
  assert_true(n > 0);
  assert_int_equal(smtp_server_session_mem_consume(s, (size_t)n), SMTP_OK);
  assert_int_equal(smtp_server_session_mem_recv(s, "NOOP\r\nRSET\r\n", 12), 6);
  memset(text, 'r', 405);
  text[405] = '\0';
  assert_int_equal(smtp_server_session_reply(s, 250, "2.0.0", text), SMTP_ERR_TOO_LONG);
  assert_int_equal(smtp_server_session_mem_send(s, &o), 0);
  assert_int_equal(smtp_server_session_want_read(s), 0);
  assert_int_equal(smtp_server_session_mem_recv(s, "RSET\r\n", 6), 0);
  text[404] = '\0';
  assert_int_equal(smtp_server_session_reply(s, 250, "2.0.0", text), SMTP_OK);
  n = smtp_server_session_mem_send(s, &o);
  assert_int_equal(n, 416);
  assert_memory_equal(o, "250 2.0.0 rrr", 13);
  assert_memory_equal(o + 414, "\r\n", 2);
  assert_int_equal(smtp_server_session_mem_consume(s, (size_t)n), SMTP_OK);
  assert_int_equal(smtp_server_session_mem_recv(s, "RSET\r\n", 6), 6);
  n = smtp_server_session_mem_send(s, &o);
  assert_int_equal(n, 17);
  assert_memory_equal(o, "250 2.0.0 Reset\r\n", 17);
  smtp_server_session_del(s);
}

/* RFC 5321 4.2.2 / docs/security.md 4: after too many errors the session closes
 * with 421 4.7.0. The output it keeps free next to an application's reply
 * must hold that 421 with the longest host name (255 octets): a client that
 * reads nothing still gets it, whatever the application answered before. */
static char long_reply[4000];
static int noop_longest_reply(smtp_server_session *s, void *ud) {
  (void)ud;
  for (size_t n = 3000; n > 0; n--) {
    memset(long_reply, 'r', n);
    long_reply[n] = '\0';
    if (smtp_server_session_reply(s, 501, "5.5.4", long_reply) == SMTP_OK) return 0;
  }
  return 0;
}
static void close_421_with_longest_hostname(void **state) {
  (void)state;
  char host[256];
  for (int i = 0; i < 255; i++) host[i] = (i % 64 == 63) ? '.' : 'h';
  host[255] = '\0';
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  smtp_server_session *s;
  const char *out;
  assert_int_equal(smtp_server_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_set_hostname(o, host), SMTP_OK);
  assert_int_equal(smtp_server_options_set_max_errors(o, 2), SMTP_OK);
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), SMTP_OK);
  smtp_server_callbacks_set_noop(cb, noop_longest_reply);
  assert_int_equal(smtp_server_session_new(&s, cb, NULL, o, NULL), SMTP_OK);
  smtp_ssize n = smtp_server_session_mem_send(s, &out);
  assert_true(n > 0);
  assert_int_equal(smtp_server_session_mem_consume(s, (size_t)n), SMTP_OK);
  assert_int_equal(smtp_server_session_mem_recv(s, "EHLO x.example\r\n", 16), 16);
  n = smtp_server_session_mem_send(s, &out);
  assert_true(n > 0);
  assert_int_equal(smtp_server_session_mem_consume(s, (size_t)n), SMTP_OK);
  /* The client now reads nothing: two 5xx NOOP answers, then the limit. */
  const char *in = "NOOP\r\nNOOP\r\nNOOP\r\n";
  size_t off = 0, len = strlen(in);
  for (int round = 0; round < 10 && off < len && !smtp_server_session_is_closed(s); round++) {
    smtp_ssize k = smtp_server_session_mem_recv(s, in + off, len - off);
    assert_true(k >= 0);
    off += (size_t)k;
  }
  assert_true(smtp_server_session_is_closed(s));
  n = smtp_server_session_mem_send(s, &out);
  assert_true(n > 0);
  char tail[300];
  snprintf(tail, sizeof tail, "421 4.7.0 %s Too many errors\r\n", host);
  size_t tl = strlen(tail);
  assert_true((size_t)n >= tl);
  assert_memory_equal(out + (size_t)n - tl, tail, tl);
  smtp_server_session_del(s);
  smtp_server_callbacks_del(cb);
  smtp_server_options_del(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plain_rfc4616_max),
      cmocka_unit_test(plain_at_input_bound),
      cmocka_unit_test(step_at_input_bound),
      cmocka_unit_test(auth_param_max),
      cmocka_unit_test(envid_and_auth_max),
      cmocka_unit_test(orcpt_max),
      cmocka_unit_test(ehlo_deferred_transcript),
      cmocka_unit_test(ehlo_deferred_name_kept),
      cmocka_unit_test(limits_capped),
      cmocka_unit_test(ehlo_longest),
      cmocka_unit_test(ehlo_longest_pipelined),
      cmocka_unit_test(reply_at_bound),
      cmocka_unit_test(reply_wrapped),
      cmocka_unit_test(reply_over_bound),
      cmocka_unit_test(reply_over_bound_deferred),
      cmocka_unit_test(close_421_with_longest_hostname),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
