/* XCLIENT and XFORWARD (Postfix's XCLIENT_README and XFORWARD_README):
 * the attribute-list parser and formatter (xclient.h), and the server
 * session's handling (smtp_server_options_set_xclient(),
 * smtp_server_session_allow_xclient()): offered in EHLO only to trusted
 * clients, 550 5.7.0 for the others, 503 inside a transaction, 501 for a
 * bad list, a new 220 greeting after XCLIENT, and the session's endpoints
 * changed. Transcripts run whole, byte by byte and at random splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/server.h>
#include <smtp/xclient.h>

#include "server_scripts.h"
#include "transcript.h"

#define S(x) x, sizeof(x) - 1

struct pvec {
  unsigned int verb;
  const char *in;
  size_t len;
  int rc;
  const char *what;
};

static const struct pvec pvecs[] = {
  {SMTP_XCLIENT, S("NAME=client.example ADDR=192.0.2.1 PORT=50123 PROTO=ESMTP HELO=client.example"), 0, "all of Postfix's example"},
  {SMTP_XCLIENT, S("name=x.example addr=IPV6:2001:db8::1"), 0, "names case-insensitive, IPV6: prefix"},
  {SMTP_XCLIENT, S("ADDR=ipv6:::1"), 0, "prefix any case"},
  {SMTP_XCLIENT, S("NAME=[TEMPUNAVAIL] ADDR=[UNAVAILABLE]"), 0, "special values"},
  {SMTP_XCLIENT, S("NAME=[tempunavail] HELO=[Unavailable]"), 0, "special values any case (Note 3)"},
  {SMTP_XFORWARD, S("PROTO=ESMTPSA"), 0, "XFORWARD PROTO: any protocol name"},
  {SMTP_XFORWARD, S("PROTO=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 0, "XFORWARD PROTO of 64"},
  {SMTP_XCLIENT, S("LOGIN=user+2Bx DESTADDR=198.51.100.2 DESTPORT=25"), 0, "xtext value"},
  {SMTP_XCLIENT, S("NAME=+5BUNAVAILABLE+5D"), 0, "special value xtext-encoded"},
  {SMTP_XFORWARD, S("NAME=x.example ADDR=192.0.2.1 PROTO=SMTP HELO=x SOURCE=REMOTE IDENT=4Qx PORT=25"), 0, "XFORWARD all"},
  {SMTP_XCLIENT, S(""), SMTP_ERR_SYNTAX, "empty"},
  {SMTP_XCLIENT, S("NAME"), SMTP_ERR_SYNTAX, "no ="},
  {SMTP_XCLIENT, S("=x"), SMTP_ERR_SYNTAX, "empty name"},
  {SMTP_XCLIENT, S("NAME=a  ADDR=1.2.3.4"), SMTP_ERR_SYNTAX, "double space"},
  {SMTP_XCLIENT, S("NAME=a "), SMTP_ERR_SYNTAX, "trailing space"},
  {SMTP_XCLIENT, S("NAME="), SMTP_ERR_SYNTAX, "empty value"},
  {SMTP_XCLIENT, S("FOO=bar"), SMTP_ERR_PARAM, "unknown name"},
  {SMTP_XCLIENT, S("SOURCE=LOCAL"), SMTP_ERR_PARAM, "XFORWARD name under XCLIENT"},
  {SMTP_XFORWARD, S("LOGIN=u"), SMTP_ERR_PARAM, "XCLIENT name under XFORWARD"},
  {SMTP_XFORWARD, S("DESTADDR=1.2.3.4"), SMTP_ERR_PARAM, "DESTADDR under XFORWARD"},
  {SMTP_XCLIENT, S("NAME=a NAME=b"), SMTP_ERR_PARAM, "repeated"},
  {SMTP_XCLIENT, S("ADDR=192.0.2.256"), SMTP_ERR_SYNTAX, "bad IPv4"},
  {SMTP_XCLIENT, S("ADDR=2001:db8::1"), SMTP_ERR_SYNTAX, "IPv6 without prefix"},
  {SMTP_XCLIENT, S("ADDR=::1"), SMTP_ERR_SYNTAX, "short IPv6 without prefix"},
  {SMTP_XCLIENT, S("ADDR=IPV6:1.2.3.4"), SMTP_ERR_SYNTAX, "IPv4 under the prefix"},
  {SMTP_XCLIENT, S("ADDR=host.example"), SMTP_ERR_SYNTAX, "a name as ADDR"},
  {SMTP_XCLIENT, S("PORT=65536"), SMTP_ERR_SYNTAX, "port too large"},
  {SMTP_XCLIENT, S("PORT=12a"), SMTP_ERR_SYNTAX, "port not digits"},
  {SMTP_XCLIENT, S("DESTPORT=123456"), SMTP_ERR_SYNTAX, "port too long"},
  {SMTP_XCLIENT, S("PROTO=HTTP"), SMTP_ERR_SYNTAX, "PROTO other than SMTP/ESMTP"},
  {SMTP_XFORWARD, S("PROTO=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), SMTP_ERR_SYNTAX, "XFORWARD PROTO of 65"},
  {SMTP_XCLIENT, S("ADDR=[TEMPUNAVAIL]"), SMTP_ERR_SYNTAX, "[TEMPUNAVAIL] other than NAME"},
  {SMTP_XCLIENT, S("LOGIN=[TEMPUNAVAIL]"), SMTP_ERR_SYNTAX, "[TEMPUNAVAIL] LOGIN"},
  {SMTP_XFORWARD, S("NAME=[TEMPUNAVAIL]"), SMTP_ERR_SYNTAX, "[TEMPUNAVAIL] under XFORWARD"},
  {SMTP_XFORWARD, S("SOURCE=ELSEWHERE"), SMTP_ERR_SYNTAX, "SOURCE other than LOCAL/REMOTE"},
  {SMTP_XCLIENT, S("NAME=a+2"), SMTP_ERR_XTEXT, "bad xtext"},
  {SMTP_XCLIENT, S("NAME=a+20b"), SMTP_ERR_BAD_CHAR, "decoded space"},
  {SMTP_XCLIENT, S("NAME=a+0D+0Ab"), SMTP_ERR_BAD_CHAR, "decoded CRLF"},
  {SMTP_XCLIENT, S("NAME=a+00"), SMTP_ERR_BAD_CHAR, "decoded NUL"},
  {SMTP_XCLIENT, S("HELO=+C3+A9"), SMTP_ERR_BAD_CHAR, "non-ASCII"},
};

static void test_parse_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof pvecs / sizeof pvecs[0]; i++) {
    smtp_xattrs x;
    char scratch[600];
    int rc = smtp_xattrs_parse(pvecs[i].verb, pvecs[i].in, pvecs[i].len, &x, scratch, sizeof scratch);
    if (rc != pvecs[i].rc) fail_msg("vector %zu (%s): %d, want %d", i, pvecs[i].what, rc, pvecs[i].rc);
    if (rc == 0) {
      /* formatting gives a list that parses to the same attributes */
      char buf[1200], scratch2[1200];
      smtp_xattrs y;
      smtp_ssize n = smtp_xattrs_format(pvecs[i].verb, &x, buf, sizeof buf);
      assert_true(n > 0);
      assert_int_equal(smtp_xattrs_parse(pvecs[i].verb, buf, (size_t)n, &y, scratch2, sizeof scratch2), 0);
      for (int a = 0; a < SMTP_XATTR_COUNT; a++) {
        assert_int_equal(x.state[a], y.state[a]);
        if (x.state[a] == SMTP_XVALUE_SET) {
          assert_int_equal(x.value[a].len, y.value[a].len);
          assert_memory_equal(x.value[a].ptr, y.value[a].ptr, x.value[a].len);
        }
      }
    }
  }
}

static void test_parse_values(void **state) {
  smtp_xattrs x;
  char scratch[600], big[700];
  (void)state;
  assert_int_equal(smtp_xattrs_parse(SMTP_XCLIENT, S("NAME=[UNAVAILABLE] LOGIN=user+2Bx PORT=0"), &x,
                                     scratch, sizeof scratch), 0);
  assert_int_equal(x.state[SMTP_XATTR_NAME], SMTP_XVALUE_UNAVAILABLE);
  assert_int_equal(x.state[SMTP_XATTR_LOGIN], SMTP_XVALUE_SET);
  assert_int_equal(x.value[SMTP_XATTR_LOGIN].len, 6);
  assert_memory_equal(x.value[SMTP_XATTR_LOGIN].ptr, "user+x", 6);
  assert_int_equal(x.state[SMTP_XATTR_ADDR], SMTP_XVALUE_ABSENT);
  /* 255 octets is the most; 256 too long */
  memcpy(big, "NAME=", 5);
  memset(big + 5, 'a', 256);
  assert_int_equal(smtp_xattrs_parse(SMTP_XCLIENT, big, 5 + 255, &x, scratch, sizeof scratch), 0);
  assert_int_equal(smtp_xattrs_parse(SMTP_XCLIENT, big, 5 + 256, &x, scratch, sizeof scratch), SMTP_ERR_TOO_LONG);
  assert_int_equal(smtp_xattrs_parse(SMTP_XCLIENT, S("NAME=abc"), &x, scratch, 2), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_xattrs_parse(3, S("NAME=abc"), &x, scratch, sizeof scratch), SMTP_ERR_INVALID_ARGUMENT);
  /* formatter: encoding, order, refusals */
  {
    char buf[256];
    smtp_ssize n;
    memset(&x, 0, sizeof x);
    x.state[SMTP_XATTR_ADDR] = SMTP_XVALUE_SET;
    x.value[SMTP_XATTR_ADDR].ptr = "IPV6:2001:db8::1";
    x.value[SMTP_XATTR_ADDR].len = 16;
    x.state[SMTP_XATTR_NAME] = SMTP_XVALUE_TEMPUNAVAIL;
    x.state[SMTP_XATTR_LOGIN] = SMTP_XVALUE_SET;
    x.value[SMTP_XATTR_LOGIN].ptr = "a+b=c";
    x.value[SMTP_XATTR_LOGIN].len = 5;
    n = smtp_xattrs_format(SMTP_XCLIENT, &x, buf, sizeof buf);
    assert_true(n > 0);
    buf[n] = 0;
    assert_string_equal(buf, "NAME=[TEMPUNAVAIL] ADDR=IPV6:2001:db8::1 LOGIN=a+2Bb+3Dc");
    /* [TEMPUNAVAIL] is XCLIENT's NAME's only; LOGIN is not XFORWARD's */
    assert_int_equal(smtp_xattrs_format(SMTP_XFORWARD, &x, buf, sizeof buf), SMTP_ERR_SYNTAX);
    x.state[SMTP_XATTR_NAME] = SMTP_XVALUE_UNAVAILABLE;
    assert_int_equal(smtp_xattrs_format(SMTP_XFORWARD, &x, buf, sizeof buf), SMTP_ERR_PARAM);
    x.state[SMTP_XATTR_NAME] = SMTP_XVALUE_TEMPUNAVAIL;
    x.state[SMTP_XATTR_PORT] = SMTP_XVALUE_TEMPUNAVAIL;
    assert_int_equal(smtp_xattrs_format(SMTP_XCLIENT, &x, buf, sizeof buf), SMTP_ERR_SYNTAX);
    x.state[SMTP_XATTR_PORT] = SMTP_XVALUE_ABSENT;
    assert_int_equal(smtp_xattrs_format(SMTP_XCLIENT, &x, buf, 10), SMTP_ERR_BUFFER_TOO_SMALL);
    x.value[SMTP_XATTR_LOGIN].ptr = "a b";
    x.value[SMTP_XATTR_LOGIN].len = 3;
    assert_int_equal(smtp_xattrs_format(SMTP_XCLIENT, &x, buf, sizeof buf), SMTP_ERR_BAD_CHAR);
    memset(&x, 0, sizeof x);
    assert_int_equal(smtp_xattrs_format(SMTP_XCLIENT, &x, buf, sizeof buf), SMTP_ERR_PARAM);
  }
  assert_string_equal(smtp_xattr_name(SMTP_XATTR_DESTPORT), "DESTPORT");
  assert_null(smtp_xattr_name(SMTP_XATTR_COUNT));
}

#define XC_LINE "S: 250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT\n"
#define XF_LINE "S: 250 XFORWARD NAME ADDR PROTO HELO SOURCE IDENT PORT\n"
#define EHLO_X                                                                                   \
  "C: EHLO proxy.example\nS: 250-localhost\n" EHLO_CAPS_BODY "S: 250-LIMITS RCPTMAX=100\n" XC_LINE \
  XF_LINE

/* Offered to a trusted client; XCLIENT gives a new greeting, EHLO again. */
TR_TEST(xclient_trusted,
  "O: xclient 3\nO: xallow 3\n" GREETING EHLO_X
  "C: XCLIENT NAME=client.example ADDR=192.0.2.1 PORT=50123 HELO=client.example\n" GREETING
  "C: MAIL FROM:<a@b.example>\nS: 503 5.5.1 Bad sequence of commands\n"
  "C: EHLO client.example\n" "S: 250-localhost\n" EHLO_CAPS_BODY "S: 250-LIMITS RCPTMAX=100\n" XC_LINE XF_LINE
  "C: XFORWARD NAME=[UNAVAILABLE] ADDR=IPV6:2001:db8::1 PROTO=ESMTP\nS: 250 2.0.0 Ok\n"
  "C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 Sender OK\n"
  "C: XCLIENT ADDR=192.0.2.2\nS: 503 5.5.1 Error: MAIL transaction in progress\n"
  "C: XFORWARD ADDR=192.0.2.2\nS: 503 5.5.1 Error: MAIL transaction in progress\n"
  "C: RSET\nS: 250 2.0.0 Reset\n"
  "C: XCLIENT FOO=bar\nS: 501 5.5.4 Bad attribute list\n"
  "C: XCLIENT ADDR=2001:db8::1\nS: 501 5.5.4 Bad attribute list\n"
  "C: XCLIENT\nS: 501 5.5.4 Bad attribute list\n"
  "E: connect\nE: ehlo EHLO proxy.example\nE: ehlo EHLO client.example\n"
  "E: mail <a@b.example>\nE: rset\n")

/* Not trusted: not offered, 550 5.7.0 as Postfix answers. */
TR_TEST(xclient_untrusted,
  "O: xclient 3\n" GREETING EHLO
  "C: XCLIENT ADDR=192.0.2.1\nS: 550 5.7.0 Error: insufficient authorization\n"
  "C: XFORWARD ADDR=192.0.2.1\nS: 550 5.7.0 Error: insufficient authorization\n"
  EHLO_EV)

/* Only XFORWARD enabled and trusted; XCLIENT stays an unknown command. */
TR_TEST(xforward_only,
  "O: xclient 2\nO: xallow 2\n" GREETING "C: EHLO proxy.example\nS: 250-localhost\n" EHLO_CAPS_BODY
  "S: 250-LIMITS RCPTMAX=100\nS: 250 XFORWARD NAME ADDR PROTO HELO SOURCE IDENT PORT\n"
  "C: XFORWARD SOURCE=LOCAL IDENT=abc\nS: 250 2.0.0 Ok\n"
  "C: XCLIENT ADDR=192.0.2.1\nS: 500 5.5.2 Syntax error, command unrecognized\n"
  "E: connect\nE: ehlo EHLO proxy.example\nE: unknown XCLIENT ADDR=192.0.2.1\n")

/* Disabled (the default): both reach the unknown-command callback. */
TR_TEST(xclient_disabled,
  GREETING EHLO "C: XCLIENT ADDR=192.0.2.1\nS: 500 5.5.2 Syntax error, command unrecognized\n"
  EHLO_EV "E: unknown XCLIENT ADDR=192.0.2.1\n")

#define MAIL_A "C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 Sender OK\n"
#define RSET_OK "C: RSET\nS: 250 2.0.0 Reset\n"

/* XFORWARD_README: the attributes describe the next mail transaction
 * (several commands add up); Postfix forgets them when the transaction
 * ends, on RSET and on HELO/EHLO. The events show the session's view:
 * client endpoint, HELO name, Received protocol, authenticated user. */
TR_TEST(xforward_per_transaction,
  "O: xclient 3\nO: xallow 3\nO: who\n" GREETING EHLO_X
  "C: XFORWARD NAME=fwd.example ADDR=192.0.2.7 PORT=1025 HELO=fwd.example PROTO=SMTP\nS: 250 2.0.0 Ok\n"
  "C: XFORWARD IDENT=Q1 SOURCE=REMOTE\nS: 250 2.0.0 Ok\n"
  MAIL_A "C: RCPT TO:<c@d.example>\nS: 250 2.1.5 Recipient OK\n"
  "C: DATA\nS: 354 End data with <CR><LF>.<CR><LF>\n"
  "C: x\nC: .\nS: 250 2.0.0 Message accepted\n"
  /* the next transaction is the session's own client's again */
  MAIL_A RSET_OK
  /* RSET forgets them */
  "C: XFORWARD ADDR=IPV6:2001:db8::5 HELO=other.example\nS: 250 2.0.0 Ok\n" RSET_OK
  MAIL_A RSET_OK
  /* [UNAVAILABLE]: no HELO name, no address; PROTO ESMTP */
  "C: XFORWARD ADDR=[unavailable] HELO=[UNAVAILABLE] PROTO=ESMTP\nS: 250 2.0.0 Ok\n" MAIL_A RSET_OK
  /* EHLO forgets them */
  "C: XFORWARD ADDR=IPV6:2001:db8::5 PORT=26\nS: 250 2.0.0 Ok\n" EHLO_X MAIL_A
  "E: connect\nE: ehlo EHLO proxy.example\n"
  "E: mail <a@b.example> from=192.0.2.7:1025 helo=fwd.example proto=SMTP user=-\n"
  "E: rcpt <c@d.example> #0\nE: data_start\nE: data x\\r\\n\n"
  "E: data_end size=3 from=192.0.2.7:1025 helo=fwd.example proto=SMTP user=-\n"
  "E: mail <a@b.example> from=- helo=proxy.example proto=ESMTP user=-\nE: rset\nE: rset\n"
  "E: mail <a@b.example> from=- helo=proxy.example proto=ESMTP user=-\nE: rset\n"
  "E: mail <a@b.example> from=- helo=- proto=ESMTP user=-\nE: rset\n"
  "E: ehlo EHLO proxy.example\n"
  "E: mail <a@b.example> from=- helo=proxy.example proto=ESMTP user=-\n")

/* XCLIENT_README: the attributes hold for the session (the EHLO the proxy
 * must send next does not replace HELO); several commands add up; LOGIN
 * authenticates as that user; PROTO=SMTP names the Received protocol; an
 * XFORWARD PROTO wins for its transaction. */
TR_TEST(xclient_applied,
  "O: xclient 3\nO: xallow 3\nO: who\n" GREETING EHLO_X
  "C: XCLIENT NAME=client.example ADDR=192.0.2.1 PORT=50123\n" GREETING
  "C: XCLIENT HELO=orig.example PROTO=SMTP LOGIN=alice+40example.org\n" GREETING
  EHLO_X MAIL_A RSET_OK
  "C: XFORWARD PROTO=ESMTP\nS: 250 2.0.0 Ok\n" MAIL_A RSET_OK
  "C: XCLIENT LOGIN=[UNAVAILABLE] PROTO=ESMTP HELO=[UNAVAILABLE]\n" GREETING EHLO_X MAIL_A
  "C: XCLIENT NAME=[TEMPUNAVAIL]\nS: 503 5.5.1 Error: MAIL transaction in progress\n" RSET_OK
  "C: XCLIENT PROTO=ESMTPA\nS: 501 5.5.4 Bad attribute list\n"
  "E: connect\nE: ehlo EHLO proxy.example\nE: ehlo EHLO proxy.example\n"
  "E: mail <a@b.example> from=192.0.2.1:50123 helo=orig.example proto=SMTP user=alice@example.org\n"
  "E: rset\n"
  "E: mail <a@b.example> from=192.0.2.1:50123 helo=orig.example proto=ESMTPA user=alice@example.org\n"
  "E: rset\nE: ehlo EHLO proxy.example\n"
  "E: mail <a@b.example> from=192.0.2.1:50123 helo=- proto=ESMTP user=-\nE: rset\n")

/* The session's endpoints after XCLIENT and XFORWARD. */
static smtp_ssize feed(smtp_server_session *s, const char *t) {
  const char *o;
  smtp_ssize n = smtp_server_session_mem_recv(s, t, strlen(t));
  smtp_ssize k = smtp_server_session_mem_send(s, &o);
  if (k > 0) smtp_server_session_mem_consume(s, (size_t)k);
  return n;
}

static void check_ep(smtp_server_session *s, unsigned int which, const char *text, unsigned int port,
                     unsigned int origin) {
  smtp_endpoint e;
  char b[SMTP_ENDPOINT_TEXT_MAX];
  assert_int_equal(smtp_server_session_addr(s, which, &e), 0);
  smtp_endpoint_format(&e, b, sizeof b);
  assert_string_equal(b, text);
  assert_int_equal(e.port, port);
  assert_int_equal(e.origin, origin);
}

static void test_endpoints(void **state) {
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  smtp_server_session *s;
  smtp_endpoint t;
  size_t hl;
  const char *h;
  (void)state;
  assert_int_equal(smtp_server_options_new(&o, NULL), 0);
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), 0);
  assert_int_equal(smtp_server_options_set_xclient(o, SMTP_XCLIENT | SMTP_XFORWARD), 0);
  assert_int_equal(smtp_server_options_set_xclient(o, 4), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_new(&s, cb, NULL, o, NULL), 0);
  assert_int_equal(smtp_server_session_allow_xclient(s, SMTP_XCLIENT | SMTP_XFORWARD), 0);
  assert_int_equal(smtp_endpoint_parse(&t, S("127.0.0.1"), 40000), 0);
  t.origin = SMTP_ORIGIN_TRANSPORT;
  assert_int_equal(smtp_server_session_set_addr(s, SMTP_ADDR_CLIENT, &t), 0);
  assert_int_equal(smtp_endpoint_parse(&t, S("127.0.0.1"), 25), 0);
  assert_int_equal(smtp_server_session_set_addr(s, SMTP_ADDR_SERVER, &t), 0);
  assert_int_equal(smtp_server_session_set_addr(s, 3, &t), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_addr(s, SMTP_ADDR_PEER, &t), 0);
  assert_int_equal(t.family, SMTP_AF_NONE);
  feed(s, "EHLO proxy.example\r\n");
  feed(s, "XCLIENT ADDR=192.0.2.1 PORT=50123 DESTADDR=IPV6:2001:db8::25 DESTPORT=587\r\n");
  check_ep(s, SMTP_ADDR_CLIENT, "192.0.2.1", 50123, SMTP_ORIGIN_XCLIENT);
  check_ep(s, SMTP_ADDR_SERVER, "2001:db8::25", 587, SMTP_ORIGIN_XCLIENT);
  check_ep(s, SMTP_ADDR_PEER, "127.0.0.1", 40000, SMTP_ORIGIN_TRANSPORT);
  assert_null(smtp_server_session_helo_name(s, &hl)); /* the session started over */
  feed(s, "EHLO client.example\r\n");
  feed(s, "XFORWARD ADDR=IPV6:2001:db8::9 HELO=orig.example\r\n");
  check_ep(s, SMTP_ADDR_CLIENT, "2001:db8::9", 50123, SMTP_ORIGIN_XFORWARD);
  check_ep(s, SMTP_ADDR_PEER, "127.0.0.1", 40000, SMTP_ORIGIN_TRANSPORT); /* kept once */
  h = smtp_server_session_helo_name(s, &hl);
  assert_non_null(h);
  assert_int_equal(hl, 12);
  assert_memory_equal(h, "orig.example", 12);
  feed(s, "XCLIENT ADDR=[UNAVAILABLE]\r\n");
  assert_int_equal(smtp_server_session_addr(s, SMTP_ADDR_CLIENT, &t), 0);
  assert_int_equal(t.family, SMTP_AF_NONE);
  smtp_server_session_del(s);
  smtp_server_options_del(o);
  smtp_server_callbacks_del(cb);
}

/* Output of one input, as text. */
static void feed_out(smtp_server_session *s, const char *t, char *out, size_t cap) {
  const char *o;
  smtp_ssize k;
  size_t n = 0;
  (void)smtp_server_session_mem_recv(s, t, strlen(t));
  while ((k = smtp_server_session_mem_send(s, &o)) > 0) {
    size_t c = (size_t)k < cap - 1 - n ? (size_t)k : cap - 1 - n;
    memcpy(out + n, o, c);
    n += c;
    smtp_server_session_mem_consume(s, (size_t)k);
  }
  out[n] = 0;
}

static void want_attr(const smtp_xattrs *x, unsigned int a, unsigned int state, const char *v) {
  assert_int_equal(x->state[a], state);
  if (v) {
    assert_int_equal(x->value[a].len, strlen(v));
    assert_memory_equal(x->value[a].ptr, v, strlen(v));
    assert_int_equal(x->value[a].ptr[x->value[a].len], '\0');
  }
}

/* smtp_server_session_xattrs(): every attribute, XCLIENT's for the
 * session, XFORWARD's until the transaction ends; the attribute block's
 * allocation failing gives 451 4.3.0 and changes nothing. */
static void test_xattrs_api(void **state) {
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  smtp_server_session *s;
  smtp_endpoint t;
  smtp_xattrs x;
  tr_mem m;
  char out[2048];
  size_t n;
  const char *u;
  (void)state;
  tr_mem_init(&m, 0);
  assert_int_equal(smtp_server_options_new(&o, NULL), 0);
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), 0);
  assert_int_equal(smtp_server_options_set_xclient(o, SMTP_XCLIENT | SMTP_XFORWARD), 0);
  assert_int_equal(smtp_server_session_new(&s, cb, NULL, o, &m.mem), 0);
  /* never trusted: nothing, and no allocation */
  assert_int_equal(smtp_server_session_xattrs(s, SMTP_XCLIENT, &x), 0);
  for (int a = 0; a < SMTP_XATTR_COUNT; a++) assert_int_equal(x.state[a], SMTP_XVALUE_ABSENT);
  /* trusting allocates the attribute block; out of memory: not trusted */
  m.fail_at = m.count + 1;
  assert_int_equal(smtp_server_session_allow_xclient(s, SMTP_XCLIENT | SMTP_XFORWARD), SMTP_ERR_NOMEM);
  feed_out(s, "EHLO proxy.example\r\nXCLIENT NAME=client.example\r\n", out, sizeof out);
  assert_non_null(strstr(out, "550 5.7.0 Error: insufficient authorization\r\n"));
  m.fail_at = 0;
  n = m.count;
  assert_int_equal(smtp_server_session_allow_xclient(s, SMTP_XCLIENT | SMTP_XFORWARD), 0);
  assert_int_equal(m.count, n + 1);
  assert_int_equal(smtp_server_session_allow_xclient(s, SMTP_XCLIENT | SMTP_XFORWARD), 0);
  assert_int_equal(m.count, n + 1); /* once */
  assert_int_equal(smtp_endpoint_parse(&t, S("127.0.0.1"), 40000), 0);
  t.origin = SMTP_ORIGIN_TRANSPORT;
  assert_int_equal(smtp_server_session_set_addr(s, SMTP_ADDR_CLIENT, &t), 0);
  assert_int_equal(smtp_server_session_xattrs(s, 3, &x), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_xattrs(s, SMTP_XCLIENT, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_session_xattrs(NULL, SMTP_XCLIENT, &x), SMTP_ERR_INVALID_ARGUMENT);
  feed_out(s, "EHLO proxy.example\r\n", out, sizeof out);
  n = m.count;
  feed_out(s, "XCLIENT NAME=client.example LOGIN=bob ADDR=192.0.2.1\r\n", out, sizeof out);
  assert_string_equal(out, "220 localhost ESMTP Service ready\r\n");
  assert_int_equal(smtp_server_session_xattrs(s, SMTP_XCLIENT, &x), 0);
  want_attr(&x, SMTP_XATTR_NAME, SMTP_XVALUE_SET, "client.example");
  want_attr(&x, SMTP_XATTR_LOGIN, SMTP_XVALUE_SET, "bob");
  want_attr(&x, SMTP_XATTR_ADDR, SMTP_XVALUE_SET, "192.0.2.1");
  want_attr(&x, SMTP_XATTR_HELO, SMTP_XVALUE_ABSENT, NULL);
  assert_true(smtp_server_session_flags(s) & SMTP_SERVER_FLAG_AUTH);
  u = smtp_server_session_auth_user(s, &n);
  assert_non_null(u);
  assert_int_equal(n, 3);
  assert_memory_equal(u, "bob", 3);
  /* a later XCLIENT changes only what it gives */
  feed_out(s, "XCLIENT NAME=[TEMPUNAVAIL]\r\n", out, sizeof out);
  assert_int_equal(smtp_server_session_xattrs(s, SMTP_XCLIENT, &x), 0);
  want_attr(&x, SMTP_XATTR_NAME, SMTP_XVALUE_TEMPUNAVAIL, NULL);
  want_attr(&x, SMTP_XATTR_LOGIN, SMTP_XVALUE_SET, "bob");
  assert_non_null(smtp_server_session_auth_user(s, &n));
  feed_out(s, "EHLO proxy.example\r\n", out, sizeof out);
  feed_out(s, "XFORWARD NAME=up.example IDENT=Q1 SOURCE=LOCAL PROTO=UUCP\r\n", out, sizeof out);
  assert_string_equal(out, "250 2.0.0 Ok\r\n");
  assert_int_equal(smtp_server_session_xattrs(s, SMTP_XFORWARD, &x), 0);
  want_attr(&x, SMTP_XATTR_NAME, SMTP_XVALUE_SET, "up.example");
  want_attr(&x, SMTP_XATTR_IDENT, SMTP_XVALUE_SET, "Q1");
  want_attr(&x, SMTP_XATTR_SOURCE, SMTP_XVALUE_SET, "LOCAL");
  want_attr(&x, SMTP_XATTR_PROTO, SMTP_XVALUE_SET, "UUCP");
  want_attr(&x, SMTP_XATTR_ADDR, SMTP_XVALUE_ABSENT, NULL);
  /* no ADDR/PORT: the client endpoint stays XCLIENT's; a protocol name
   * other than SMTP/ESMTP leaves the Received protocol alone */
  check_ep(s, SMTP_ADDR_CLIENT, "192.0.2.1", 40000, SMTP_ORIGIN_XCLIENT);
  assert_string_equal(smtp_server_session_received_protocol(s), "ESMTPA");
  feed_out(s, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n", out, sizeof out);
  assert_int_equal(smtp_server_session_xattrs(s, SMTP_XFORWARD, &x), 0);
  want_attr(&x, SMTP_XATTR_IDENT, SMTP_XVALUE_SET, "Q1"); /* during the transaction */
  feed_out(s, "x\r\n.\r\n", out, sizeof out);
  assert_int_equal(smtp_server_session_xattrs(s, SMTP_XFORWARD, &x), 0);
  for (int a = 0; a < SMTP_XATTR_COUNT; a++) assert_int_equal(x.state[a], SMTP_XVALUE_ABSENT);
  assert_int_equal(smtp_server_session_xattrs(s, SMTP_XCLIENT, &x), 0);
  want_attr(&x, SMTP_XATTR_LOGIN, SMTP_XVALUE_SET, "bob"); /* the session's */
  assert_int_equal(m.count, n); /* nothing allocated while serving */
  /* the longest values of every attribute fit their slots */
  feed_out(s, "XCLIENT ADDR=IPV6:ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 DESTADDR=IPV6:"
              "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 PORT=65535 DESTPORT=65535 PROTO=ESMTP\r\n",
           out, sizeof out);
  assert_int_equal(smtp_server_session_xattrs(s, SMTP_XCLIENT, &x), 0);
  want_attr(&x, SMTP_XATTR_ADDR, SMTP_XVALUE_SET, "IPV6:ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
  want_attr(&x, SMTP_XATTR_DESTADDR, SMTP_XVALUE_SET, "IPV6:ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
  want_attr(&x, SMTP_XATTR_DESTPORT, SMTP_XVALUE_SET, "65535");
  want_attr(&x, SMTP_XATTR_LOGIN, SMTP_XVALUE_SET, "bob");
  {
    char line[400], v[256];
    memset(v, 'p', 64);
    v[64] = 0;
    snprintf(line, sizeof line, "XFORWARD PROTO=%s SOURCE=REMOTE\r\n", v);
    feed_out(s, line, out, sizeof out);
    assert_string_equal(out, "250 2.0.0 Ok\r\n");
    memset(v, 'i', 255);
    v[255] = 0;
    snprintf(line, sizeof line, "XFORWARD IDENT=%s\r\n", v);
    feed_out(s, line, out, sizeof out);
    memset(v, 'n', 255);
    snprintf(line, sizeof line, "XFORWARD NAME=%s\r\n", v);
    feed_out(s, line, out, sizeof out);
    memset(v, 'h', 255);
    snprintf(line, sizeof line, "XFORWARD HELO=%s\r\n", v);
    feed_out(s, line, out, sizeof out);
    assert_string_equal(out, "250 2.0.0 Ok\r\n");
    assert_int_equal(smtp_server_session_xattrs(s, SMTP_XFORWARD, &x), 0);
    memset(v, 'p', 64);
    v[64] = 0;
    want_attr(&x, SMTP_XATTR_PROTO, SMTP_XVALUE_SET, v);
    want_attr(&x, SMTP_XATTR_SOURCE, SMTP_XVALUE_SET, "REMOTE");
    memset(v, 'i', 255);
    v[255] = 0;
    want_attr(&x, SMTP_XATTR_IDENT, SMTP_XVALUE_SET, v);
    memset(v, 'n', 255);
    want_attr(&x, SMTP_XATTR_NAME, SMTP_XVALUE_SET, v);
    memset(v, 'h', 255);
    want_attr(&x, SMTP_XATTR_HELO, SMTP_XVALUE_SET, v);
  }
  smtp_server_session_del(s);
  assert_int_equal(m.live, 0);
  smtp_server_options_del(o);
  smtp_server_callbacks_del(cb);
}

static int ehlo_later(smtp_server_session *s, const smtp_server_helo *h, void *ud) {
  (void)s;
  (void)h;
  (void)ud;
  return SMTP_ERR_DEFERRED;
}

/* The output buffer is sized for the longest EHLO reply the session may
 * send, XCLIENT and XFORWARD lines included: an application's deferred
 * answer to EHLO from a trusted client fits (it did not, found by the
 * server fuzz target). */
static void test_ehlo_room(void **state) {
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  smtp_server_session *s;
  char host[201], out[4096];
  (void)state;
  memset(host, 'h', 200); /* three labels of 63, a fourth of 8 */
  host[63] = host[127] = host[191] = '.';
  host[200] = 0;
  for (unsigned int which = 1; which <= 3; which++) {
    assert_int_equal(smtp_server_options_new(&o, NULL), 0);
    assert_int_equal(smtp_server_callbacks_new(&cb, NULL), 0);
    assert_int_equal(smtp_server_options_set_hostname(o, host), 0);
    assert_int_equal(smtp_server_options_set_xclient(o, which), 0);
    smtp_server_callbacks_set_ehlo(cb, ehlo_later);
    assert_int_equal(smtp_server_session_new(&s, cb, NULL, o, NULL), 0);
    assert_int_equal(smtp_server_session_allow_xclient(s, which), 0);
    feed_out(s, "EHLO client.example\r\n", out, sizeof out);
    assert_int_equal(smtp_server_session_reply(s, 250, NULL, "Later"), SMTP_OK);
    feed_out(s, "", out, sizeof out);
    assert_non_null(strstr(out, which & 2 ? "250 XFORWARD NAME" : "250 XCLIENT NAME"));
    smtp_server_session_del(s);
    smtp_server_options_del(o);
    smtp_server_callbacks_del(cb);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_vectors), cmocka_unit_test(test_parse_values),
      cmocka_unit_test(xclient_trusted),    cmocka_unit_test(xclient_untrusted),
      cmocka_unit_test(xforward_only),      cmocka_unit_test(xclient_disabled),
      cmocka_unit_test(test_endpoints),     cmocka_unit_test(xforward_per_transaction),
      cmocka_unit_test(xclient_applied),    cmocka_unit_test(test_xattrs_api),
      cmocka_unit_test(test_ehlo_room),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
