/* The ABNF module: command lines, paths, mailboxes, domains, address
 * literals, MAIL/RCPT arguments and esmtp parameters.
 * RFC 5321 4.1.1, 4.1.2, 4.1.3, 4.5.3.1; RFC 6531 3.3; docs/security.md 3 and 5.
 * Every vector names the rule it checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/address.h>

/* A string literal and its length (NUL octets inside are kept). */
#define S(x) x, sizeof(x) - 1

enum { U8 = SMTP_PARSE_UTF8, SPC = SMTP_PARSE_SPACE_AFTER_COLON, EQ = SMTP_PARSE_EMPTY_QUOTED };

static int span_is(smtp_span sp, const char *want) {
  if (want == NULL) return 1;
  return sp.len == strlen(want) && (sp.len == 0 || memcmp(sp.ptr, want, sp.len) == 0);
}

static int span_inside(smtp_span sp, const char *base, size_t len) {
  if (sp.len == 0) return sp.ptr == NULL || (sp.ptr >= base && sp.ptr <= base + len);
  return sp.ptr >= base && sp.ptr + sp.len <= base + len;
}

/* ------------------------------------------------------------------ */
/* Command lines: RFC 5321 4.1.1 (verbs), 2.4 (case), 4.5.3.1.4 (512). */

struct cmd_vec {
  const char *in;
  size_t len;
  int rc;
  int verb;
  const char *verb_text;
  const char *args;
  const char *rfc;
};

static const struct cmd_vec cmd_vecs[] = {
  {S("MAIL FROM:<a@b>"), SMTP_OK, SMTP_VERB_MAIL, "MAIL", "FROM:<a@b>", "5321 4.1.1.2"},
  {S("mail FROM:<a@b>"), SMTP_OK, SMTP_VERB_MAIL, "mail", "FROM:<a@b>", "5321 2.4 case"},
  {S("rCpT TO:<a@b>"), SMTP_OK, SMTP_VERB_RCPT, "rCpT", "TO:<a@b>", "5321 2.4 case"},
  {S("EHLO example.com"), SMTP_OK, SMTP_VERB_EHLO, "EHLO", "example.com", "5321 4.1.1.1"},
  {S("HELO x"), SMTP_OK, SMTP_VERB_HELO, "HELO", "x", "5321 4.1.1.1"},
  {S("LHLO x"), SMTP_OK, SMTP_VERB_LHLO, "LHLO", "x", "2033 4.1"},
  {S("DATA"), SMTP_OK, SMTP_VERB_DATA, "DATA", "", "5321 4.1.1.4"},
  {S("BDAT 10 LAST"), SMTP_OK, SMTP_VERB_BDAT, "BDAT", "10 LAST", "3030 2"},
  {S("RSET"), SMTP_OK, SMTP_VERB_RSET, "RSET", "", "5321 4.1.1.5"},
  {S("VRFY x"), SMTP_OK, SMTP_VERB_VRFY, "VRFY", "x", "5321 4.1.1.6"},
  {S("EXPN x"), SMTP_OK, SMTP_VERB_EXPN, "EXPN", "x", "5321 4.1.1.7"},
  {S("HELP"), SMTP_OK, SMTP_VERB_HELP, "HELP", "", "5321 4.1.1.8"},
  {S("NOOP"), SMTP_OK, SMTP_VERB_NOOP, "NOOP", "", "5321 4.1.1.9"},
  {S("quit"), SMTP_OK, SMTP_VERB_QUIT, "quit", "", "5321 4.1.1.10"},
  {S("StartTLS"), SMTP_OK, SMTP_VERB_STARTTLS, "StartTLS", "", "3207 4"},
  {S("AUTH PLAIN"), SMTP_OK, SMTP_VERB_AUTH, "AUTH", "PLAIN", "4954 4"},
  {S("ETRN x"), SMTP_OK, SMTP_VERB_ETRN, "ETRN", "x", "1985"},
  {S("XFOO bar"), SMTP_OK, SMTP_VERB_UNKNOWN, "XFOO", "bar", "5321 4.2.4 unknown"},
  {S("MAI"), SMTP_OK, SMTP_VERB_UNKNOWN, "MAI", "", "5321 4.1.1 length first"},
  {S("MAILX"), SMTP_OK, SMTP_VERB_UNKNOWN, "MAILX", "", "5321 4.1.1 length first"},
  {S("STARTTLX"), SMTP_OK, SMTP_VERB_UNKNOWN, "STARTTLX", "", "5321 4.1.1"},
  {S("NOOP "), SMTP_OK, SMTP_VERB_NOOP, "NOOP", "", "5321 4.1.1.9 empty arg"},
  {S("MAIL  FROM:<a@b>"), SMTP_OK, SMTP_VERB_MAIL, "MAIL", " FROM:<a@b>", "5321 4.1.1 one SP; rest to arg parser"},
  {S(""), SMTP_ERR_SYNTAX, 0, NULL, NULL, "5321 4.1.1 empty"},
  {S(" MAIL"), SMTP_ERR_SYNTAX, 0, NULL, NULL, "5321 4.1.1 leading SP"},
  {S("MAIL\tFROM:<a@b>"), SMTP_ERR_SYNTAX, 0, NULL, NULL, "5321 4.1.1 TAB not SP"},
  {S("MAIL:FROM"), SMTP_ERR_SYNTAX, 0, NULL, NULL, "5321 4.1.1 verb char"},
  {S("ABCDEFGHIJKLMNOPQ"), SMTP_ERR_SYNTAX, 0, NULL, NULL, "verb over 16"},
  {S("ABCDEFGHIJKLMNOP"), SMTP_OK, SMTP_VERB_UNKNOWN, "ABCDEFGHIJKLMNOP", "", "verb of 16"},
  {S("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>"), SMTP_ERR_BAD_CHAR, 0, NULL, NULL, "SECURITY 1 CRLF inside"},
  {S("DATA\n"), SMTP_ERR_BAD_CHAR, 0, NULL, NULL, "SECURITY 1 bare LF"},
  {S("DATA\r"), SMTP_ERR_BAD_CHAR, 0, NULL, NULL, "SECURITY 1 bare CR"},
  {S("RCPT TO:<a\0@b>"), SMTP_ERR_BAD_CHAR, 0, NULL, NULL, "SECURITY 3 NUL"},
  {S("NOOP 12345678\r"), SMTP_ERR_BAD_CHAR, 0, NULL, NULL, "SECURITY 1 CR after word scan"},
  {S("M\xC3\xA9IL x"), SMTP_ERR_SYNTAX, 0, NULL, NULL, "5321 4.1.1 verb ASCII"},
};

static void test_command_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cmd_vecs / sizeof cmd_vecs[0]; i++) {
    const struct cmd_vec *v = &cmd_vecs[i];
    smtp_command c;
    int rc = smtp_parse_command(v->in, v->len, &c);
    if (rc != v->rc) fail_msg("cmd #%zu (%s): rc %d want %d", i, v->rfc, rc, v->rc);
    if (rc == SMTP_OK) {
      if (c.verb != v->verb) fail_msg("cmd #%zu: verb %d want %d", i, c.verb, v->verb);
      assert_true(span_is(c.verb_text, v->verb_text));
      assert_true(span_is(c.args, v->args));
      assert_true(span_inside(c.args, v->in, v->len));
    }
  }
}

static void test_command_length(void **state) {
  (void)state;
  char buf[600];
  smtp_command c;
  memset(buf, 'a', sizeof buf);
  memcpy(buf, "NOOP ", 5);
  /* RFC 5321 4.5.3.1.4: 512 octets with CRLF, so 510 without. */
  assert_int_equal(smtp_parse_command(buf, 510, &c), SMTP_OK);
  assert_int_equal(c.args.len, 505);
  assert_int_equal(smtp_parse_command(buf, 511, &c), SMTP_ERR_TOO_LONG);
  assert_int_equal(smtp_parse_command(buf, 600, &c), SMTP_ERR_TOO_LONG);
  /* Every position of a CR/LF/NUL is found (word-at-a-time scan). */
  for (size_t pos = 0; pos < 40; pos++) {
    for (int k = 0; k < 3; k++) {
      char b2[40];
      memset(b2, 'x', sizeof b2);
      memcpy(b2, "NOOP ", 5);
      b2[pos] = k == 0 ? '\r' : k == 1 ? '\n' : '\0';
      assert_int_equal(smtp_parse_command(b2, sizeof b2, &c), SMTP_ERR_BAD_CHAR);
    }
  }
  assert_int_equal(smtp_parse_command(NULL, 1, &c), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_parse_command("x", 1, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_parse_command(NULL, 0, &c), SMTP_ERR_SYNTAX);
}

/* ------------------------------------------------------------------ */
/* Mailbox: RFC 5321 4.1.2, RFC 6531 3.3, docs/security.md 5. */

struct mb_vec {
  const char *in;
  size_t len;
  unsigned flags;
  int rc;
  const char *local;
  const char *domain;
  int kind;
  int quoted;
  int utf8;
  const char *rfc;
};

static const struct mb_vec mb_vecs[] = {
  {S("user@example.com"), 0, SMTP_OK, "user", "example.com", SMTP_DOMAIN_NAME, 0, 0, "5321 4.1.2 Mailbox"},
  {S("a@b"), 0, SMTP_OK, "a", "b", SMTP_DOMAIN_NAME, 0, 0, "5321 4.1.2 single label"},
  {S("first.last@x.y.z"), 0, SMTP_OK, "first.last", "x.y.z", SMTP_DOMAIN_NAME, 0, 0, "5321 4.1.2 Dot-string"},
  {S("|/bin/sh@x"), 0, SMTP_OK, "|/bin/sh", "x", SMTP_DOMAIN_NAME, 0, 0, "SECURITY 5 | / atext kept"},
  {S("${run{x}}@x"), 0, SMTP_OK, "${run{x}}", "x", SMTP_DOMAIN_NAME, 0, 0, "SECURITY 5 CVE-2019-10149 $ { } atext"},
  {S("!#$%&'*+-/=?^_`{|}~@x"), 0, SMTP_OK, "!#$%&'*+-/=?^_`{|}~", "x", SMTP_DOMAIN_NAME, 0, 0, "5322 3.2.3 atext all specials"},
  {S("a+tag@x"), 0, SMTP_OK, "a+tag", "x", SMTP_DOMAIN_NAME, 0, 0, "5322 3.2.3 atext +"},
  {S("\"john doe\"@x"), 0, SMTP_OK, "\"john doe\"", "x", SMTP_DOMAIN_NAME, 1, 0, "5321 4.1.2 Quoted-string SP"},
  {S("\"Joe\\,Smith\"@x"), 0, SMTP_OK, "\"Joe\\,Smith\"", "x", SMTP_DOMAIN_NAME, 1, 0, "5321 4.1.2 quoted-pair"},
  {S("\"a\\\\b\"@x"), 0, SMTP_OK, "\"a\\\\b\"", "x", SMTP_DOMAIN_NAME, 1, 0, "5321 4.1.2 quoted-pair backslash"},
  {S("\"a\\\"b\"@x"), 0, SMTP_OK, "\"a\\\"b\"", "x", SMTP_DOMAIN_NAME, 1, 0, "5321 4.1.2 quoted-pair DQUOTE"},
  {S("\"a\\ b\"@x"), 0, SMTP_OK, "\"a\\ b\"", "x", SMTP_DOMAIN_NAME, 1, 0, "5321 4.1.2 quoted-pair SP"},
  {S("\"a@b\"@x"), 0, SMTP_OK, "\"a@b\"", "x", SMTP_DOMAIN_NAME, 1, 0, "5321 4.1.2 qtext @"},
  {S("\"|$({})\"@x"), 0, SMTP_OK, "\"|$({})\"", "x", SMTP_DOMAIN_NAME, 1, 0, "SECURITY 5 quoted verbatim"},
  {S("\"\"@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321bis 4.1.2 Erratum 5414 empty quoted"},
  {S("\"\"@x"), EQ, SMTP_OK, "\"\"", "x", SMTP_DOMAIN_NAME, 1, 0, "5321 4.1.2 empty quoted (compat)"},
  {S("\"a\rb\"@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "SECURITY 5 CR in quoted"},
  {S("\"a\nb\"@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "SECURITY 5 LF in quoted"},
  {S("\"a\0b\"@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "SECURITY 5 NUL in quoted"},
  {S("\"a\\\rb\"@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "5321 4.1.2 quoted-pair %d32-126 only (CR)"},
  {S("\"a\\\0b\"@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "5321 4.1.2 quoted-pair NUL"},
  {S("\"a\\\x7f\"@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "5321 4.1.2 quoted-pair DEL"},
  {S("\"a\tb\"@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "5321 4.1.2 qtextSMTP no HTAB"},
  {S("\"abc@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 unterminated quote"},
  {S("\"a\"b@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 text after quote"},
  {S("a\r\n@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "SECURITY 3 CRLF in local"},
  {S("a@x\r\nRCPT TO:<b@y>"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "SECURITY 3 CRLF injection in domain"},
  {S("a@ex\0ample.com"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "SECURITY 3 NUL in domain"},
  {S("a\0@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "SECURITY 3 NUL in local"},
  {S("a\x01@x"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "5321 4.1.2 controls"},
  {S("a b@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 SP not atext"},
  {S(".a@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 leading dot"},
  {S("a.@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 trailing dot"},
  {S("a..b@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 double dot"},
  {S("@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 empty local"},
  {S("ax"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 no @"},
  {S("a@"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 empty domain"},
  {S("a@@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 two @"},
  {S("a@b@c"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 @ in domain"},
  {S("a(b)@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 specials not atext"},
  {S("a\\b@x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 backslash outside quotes"},
  {S("a@x_y.com"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 no underscore in labels"},
  {S("a@-x.com"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 Let-dig first"},
  {S("a@x-.com"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 Ldh-str ends Let-dig"},
  {S("a@x.com."), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 trailing dot domain"},
  {S("a@x..com"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 empty label"},
  {S("a@x-y--z.com"), 0, SMTP_OK, "a", "x-y--z.com", SMTP_DOMAIN_NAME, 0, 0, "5321 4.1.2 inner hyphens"},
  {S("a@123.com"), 0, SMTP_OK, "a", "123.com", SMTP_DOMAIN_NAME, 0, 0, "5321 4.1.2 Let-dig digit"},
  {S("a@[127.0.0.1]"), 0, SMTP_OK, "a", "[127.0.0.1]", SMTP_DOMAIN_IPV4, 0, 0, "5321 4.1.3 IPv4"},
  {S("a@[IPv6:::1]"), 0, SMTP_OK, "a", "[IPv6:::1]", SMTP_DOMAIN_IPV6, 0, 0, "5321 4.1.3 IPv6"},
  {S("a@[x-tag:foo]"), 0, SMTP_OK, "a", "[x-tag:foo]", SMTP_DOMAIN_GENERAL, 0, 0, "5321 4.1.3 general"},
  {S("a@[256.0.0.1]"), 0, SMTP_ERR_ADDRESS_LITERAL, NULL, NULL, 0, 0, 0, "5321 4.1.3 Snum 0-255"},
  {S("a@[1.2.3.4"), 0, SMTP_ERR_ADDRESS_LITERAL, NULL, NULL, 0, 0, 0, "5321 4.1.3 unclosed"},
  {S("a@[1.2.3.4]x"), 0, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 text after literal"},
  {S("a@[1.2.3.4\r]"), 0, SMTP_ERR_BAD_CHAR, NULL, NULL, 0, 0, 0, "SECURITY 3 CR in literal"},
  /* RFC 6531 3.3 */
  {S("j\xC3\xB6rg@x"), 0, SMTP_ERR_NEEDS_SMTPUTF8, NULL, NULL, 0, 0, 0, "6531 3.3 atext needs SMTPUTF8"},
  {S("j\xC3\xB6rg@x"), U8, SMTP_OK, "j\xC3\xB6rg", "x", SMTP_DOMAIN_NAME, 0, 1, "6531 3.3 atext =/ UTF8-non-ascii"},
  {S("\"j\xC3\xB6 rg\"@x"), U8, SMTP_OK, "\"j\xC3\xB6 rg\"", "x", SMTP_DOMAIN_NAME, 1, 1, "6531 3.3 qtextSMTP =/ UTF8"},
  {S("\"j\xC3\xB6rg\"@x"), 0, SMTP_ERR_NEEDS_SMTPUTF8, NULL, NULL, 0, 0, 0, "6531 3.3 qtext needs SMTPUTF8"},
  {S("a@b\xC3\xBC" "cher.de"), U8, SMTP_OK, "a", "b\xC3\xBC" "cher.de", SMTP_DOMAIN_NAME, 0, 1, "6531 3.3 U-label"},
  {S("a@b\xC3\xBC" "cher.de"), 0, SMTP_ERR_NEEDS_SMTPUTF8, NULL, NULL, 0, 0, 0, "6531 3.3 U-label needs SMTPUTF8"},
  {S("\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B\xE5\xAD\x90.\xE5\xB9\xBF\xE5\x91\x8A"), U8, SMTP_OK,
   "\xE7\x94\xA8\xE6\x88\xB7", "\xE4\xBE\x8B\xE5\xAD\x90.\xE5\xB9\xBF\xE5\x91\x8A", SMTP_DOMAIN_NAME, 0, 1, "6530 4.2 CJK"},
  {S("a\xC0\xAF@x"), U8, SMTP_ERR_UTF8, NULL, NULL, 0, 0, 0, "3629 overlong in atext"},
  {S("a\xED\xA0\x80@x"), U8, SMTP_ERR_UTF8, NULL, NULL, 0, 0, 0, "3629 surrogate in atext"},
  {S("a\xC3@x"), U8, SMTP_ERR_UTF8, NULL, NULL, 0, 0, 0, "3629 truncated in atext"},
  {S("\"a\xFF\"@x"), U8, SMTP_ERR_UTF8, NULL, NULL, 0, 0, 0, "3629 FF in qtext"},
  {S("a@x\xF4\x90\x80\x80"), U8, SMTP_ERR_UTF8, NULL, NULL, 0, 0, 0, "3629 > U+10FFFF in label"},
  {S("a\xC0\xAF@x"), 0, SMTP_ERR_NEEDS_SMTPUTF8, NULL, NULL, 0, 0, 0, "6531 non-ASCII without flag"},
  {S("\"\\\xC3\xB6\"@x"), U8, SMTP_ERR_SYNTAX, NULL, NULL, 0, 0, 0, "5321 4.1.2 quoted-pair stays ASCII"},
  {S("a@[IPv6:\xC3\xB6]"), U8, SMTP_ERR_ADDRESS_LITERAL, NULL, NULL, 0, 0, 0, "5321 4.1.3 literal ASCII only"},
};

static void test_mailbox_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof mb_vecs / sizeof mb_vecs[0]; i++) {
    const struct mb_vec *v = &mb_vecs[i];
    smtp_mailbox m;
    int rc = smtp_parse_mailbox(v->in, v->len, v->flags, &m);
    if (rc != v->rc) fail_msg("mailbox #%zu (%s): rc %d want %d", i, v->rfc, rc, v->rc);
    if (rc == SMTP_OK) {
      if (!span_is(m.local, v->local)) fail_msg("mailbox #%zu: local", i);
      if (!span_is(m.domain, v->domain)) fail_msg("mailbox #%zu: domain", i);
      assert_int_equal(m.domain_kind, v->kind);
      assert_int_equal(m.quoted, v->quoted);
      assert_int_equal(m.utf8, v->utf8);
      /* Spans point into the input (no copying). */
      assert_true(m.local.ptr == v->in);
      assert_true(span_inside(m.domain, v->in, v->len));
    }
  }
}

static void test_mailbox_limits(void **state) {
  (void)state;
  char buf[400];
  smtp_mailbox m;
  /* RFC 5321 4.5.3.1.1: Local-part 64 octets. */
  memset(buf, 'l', 64);
  memcpy(buf + 64, "@x", 2);
  assert_int_equal(smtp_parse_mailbox(buf, 66, 0, &m), SMTP_OK);
  assert_int_equal(m.local.len, 64);
  memset(buf, 'l', 65);
  memcpy(buf + 65, "@x", 2);
  assert_int_equal(smtp_parse_mailbox(buf, 67, 0, &m), SMTP_ERR_LOCAL_PART_TOO_LONG);
  /* Quoted local part: the quotes count. */
  buf[0] = '"';
  memset(buf + 1, 'q', 62);
  buf[63] = '"';
  memcpy(buf + 64, "@x", 2);
  assert_int_equal(smtp_parse_mailbox(buf, 66, 0, &m), SMTP_OK);
  buf[0] = '"';
  memset(buf + 1, 'q', 63);
  buf[64] = '"';
  memcpy(buf + 65, "@x", 2);
  assert_int_equal(smtp_parse_mailbox(buf, 67, 0, &m), SMTP_ERR_LOCAL_PART_TOO_LONG);
  /* RFC 5321 4.5.3.1.2: Domain 255 octets (labels of 63 + dots). */
  {
    size_t n = 0;
    buf[n++] = 'a';
    buf[n++] = '@';
    size_t d0 = n;
    for (int lab = 0; lab < 4; lab++) {
      size_t l = lab < 3 ? 63 : 63; /* 63*4 + 3 dots = 255 */
      if (lab) buf[n++] = '.';
      memset(buf + n, 'd', l);
      n += l;
    }
    assert_int_equal(n - d0, 255);
    assert_int_equal(smtp_parse_mailbox(buf, n, 0, &m), SMTP_OK);
    assert_int_equal(smtp_parse_domain(buf + d0, n - d0, 0), SMTP_OK);
    buf[n++] = 'e'; /* 256: last label becomes 64 */
    assert_int_equal(smtp_parse_domain(buf + d0, n - d0, 0), SMTP_ERR_SYNTAX);
    /* 256 with labels <= 63: make the last label 62 + ".e" */
    n -= 2;
    buf[n++] = '.';
    buf[n++] = 'e';
    assert_int_equal(n - d0, 256);
    assert_int_equal(smtp_parse_domain(buf + d0, n - d0, 0), SMTP_ERR_DOMAIN_TOO_LONG);
    assert_int_equal(smtp_parse_mailbox(buf, n, 0, &m), SMTP_ERR_DOMAIN_TOO_LONG);
  }
  /* RFC 1035 2.3.4: label 63 octets. */
  memset(buf, 'k', 63);
  assert_int_equal(smtp_parse_domain(buf, 63, 0), SMTP_OK);
  memset(buf, 'k', 64);
  assert_int_equal(smtp_parse_domain(buf, 64, 0), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_parse_mailbox(NULL, 3, 0, &m), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_parse_mailbox("a@b", 3, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_parse_mailbox(NULL, 0, 0, &m), SMTP_ERR_SYNTAX);
}

/* ------------------------------------------------------------------ */
/* Paths: RFC 5321 4.1.2 (Path, A-d-l), 4.1.1.3 and 4.5.1 (Postmaster). */

struct path_vec {
  const char *in;
  size_t len;
  int forward;
  unsigned flags;
  int rc;
  size_t consumed;
  const char *address;
  const char *route;
  int is_null;
  int is_postmaster;
  const char *rfc;
};

static const struct path_vec path_vecs[] = {
  {S("<a@b>"), 0, 0, SMTP_OK, 5, "a@b", "", 0, 0, "5321 4.1.2 Path"},
  {S("<a@b> SIZE=10"), 0, 0, SMTP_OK, 5, "a@b", "", 0, 0, "5321 4.1.2 path at start"},
  {S("<>"), 0, 0, SMTP_OK, 2, "", "", 1, 0, "5321 4.1.2 Reverse-path <>"},
  {S("<>"), 1, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 Forward-path not null"},
  {S("<Postmaster>"), 1, 0, SMTP_OK, 12, "Postmaster", "", 0, 1, "5321 4.1.1.3 Postmaster"},
  {S("<pOSTMASTER>"), 1, 0, SMTP_OK, 12, "pOSTMASTER", "", 0, 1, "5321 4.5.1 any case"},
  {S("<Postmaster>"), 0, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 reverse needs domain"},
  {S("<postmaster@x>"), 1, 0, SMTP_OK, 14, "postmaster@x", "", 0, 0, "5321 4.1.2 with domain: mailbox"},
  {S("<Postmasterx>"), 1, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.1.3 exact word"},
  {S("<@a,@b:u@c>"), 1, 0, SMTP_OK, 11, "u@c", "@a,@b", 0, 0, "5321 4.1.2 A-d-l accepted"},
  {S("<@a:u@c>"), 0, 0, SMTP_OK, 8, "u@c", "@a", 0, 0, "5321 C source route"},
  {S("<@a,b:u@c>"), 1, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 At-domain needs @"},
  {S("<@a u@c>"), 1, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 A-d-l ends with :"},
  {S("<@:u@c>"), 1, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 At-domain empty"},
  {S("<@[1.2.3.4]:u@c>"), 1, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 At-domain = @ Domain"},
  {S("a@b"), 0, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 brackets required"},
  {S("<a@b"), 0, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 unclosed"},
  {S("< a@b>"), 0, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 no SP inside"},
  {S("<a@b >"), 0, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 no SP inside"},
  {S("<a@b\r\n>"), 0, 0, SMTP_ERR_BAD_CHAR, 0, NULL, NULL, 0, 0, "SECURITY 3 CRLF in path"},
  {S("<\"a>b\"@c>"), 1, 0, SMTP_OK, 9, "\"a>b\"@c", "", 0, 0, "5321 4.1.2 > inside quotes"},
  {S("<a@[IPv6:1::2]>"), 1, 0, SMTP_OK, 15, "a@[IPv6:1::2]", "", 0, 0, "5321 4.1.3 literal in path"},
  {S("<\xC3\xA4@b>"), 1, 0, SMTP_ERR_NEEDS_SMTPUTF8, 0, NULL, NULL, 0, 0, "6531 3.3"},
  {S("<\xC3\xA4@b>"), 1, U8, SMTP_OK, 6, "\xC3\xA4@b", "", 0, 0, "6531 3.3"},
  {S(""), 0, 0, SMTP_ERR_SYNTAX, 0, NULL, NULL, 0, 0, "5321 4.1.2 empty"},
};

static void test_path_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof path_vecs / sizeof path_vecs[0]; i++) {
    const struct path_vec *v = &path_vecs[i];
    smtp_path p;
    size_t used = 99;
    int rc = v->forward ? smtp_parse_forward_path(v->in, v->len, v->flags, &p, &used)
                        : smtp_parse_reverse_path(v->in, v->len, v->flags, &p, &used);
    if (rc != v->rc) fail_msg("path #%zu (%s): rc %d want %d", i, v->rfc, rc, v->rc);
    if (rc == SMTP_OK) {
      assert_int_equal(used, v->consumed);
      assert_int_equal(p.raw.len, v->consumed);
      assert_true(p.raw.ptr == v->in);
      if (!span_is(p.address, v->address)) fail_msg("path #%zu: address", i);
      if (!span_is(p.route, v->route)) fail_msg("path #%zu: route", i);
      assert_int_equal(p.is_null, v->is_null);
      assert_int_equal(p.is_postmaster, v->is_postmaster);
      assert_true(span_inside(p.address, v->in, v->len));
      assert_true(span_inside(p.mailbox.local, v->in, v->len));
      assert_true(span_inside(p.mailbox.domain, v->in, v->len));
    } else {
      assert_int_equal(used, 0);
    }
  }
}

static void test_path_limits(void **state) {
  (void)state;
  char buf[300];
  smtp_path p;
  size_t used;
  /* RFC 5321 4.5.3.1.3: 256 octets with the brackets. "<" 64 "@" 189 ">" = 256. */
  size_t n = 0;
  buf[n++] = '<';
  memset(buf + n, 'l', 64);
  n += 64;
  buf[n++] = '@';
  for (int lab = 0; lab < 3; lab++) { /* 63 + 1 + 63 + 1 + 61 = 189 */
    size_t l = lab < 2 ? 63 : 61;
    if (lab) buf[n++] = '.';
    memset(buf + n, 'd', l);
    n += l;
  }
  buf[n++] = '>';
  assert_int_equal(n, 256);
  assert_int_equal(smtp_parse_forward_path(buf, n, 0, &p, &used), SMTP_OK);
  assert_int_equal(used, 256);
  /* One more octet in the domain: 257. */
  n--;
  buf[n++] = 'd';
  buf[n++] = '>';
  assert_int_equal(n, 257);
  assert_int_equal(smtp_parse_forward_path(buf, n, 0, &p, &used), SMTP_ERR_PATH_TOO_LONG);
  assert_int_equal(smtp_parse_reverse_path(buf, n, 0, &p, &used), SMTP_ERR_PATH_TOO_LONG);
  assert_int_equal(p.raw.len, 0);
  /* The source route counts too. */
  n = 0;
  memcpy(buf, "<@r:", 4);
  n = 4;
  memset(buf + n, 'l', 64);
  n += 64;
  buf[n++] = '@';
  for (int lab = 0; lab < 3; lab++) {
    size_t l = lab < 2 ? 63 : 59;
    if (lab) buf[n++] = '.';
    memset(buf + n, 'd', l);
    n += l;
  }
  buf[n++] = '>';
  assert_int_equal(n, 257);
  assert_int_equal(smtp_parse_forward_path(buf, n, 0, &p, &used), SMTP_ERR_PATH_TOO_LONG);
  assert_int_equal(smtp_parse_forward_path(buf + 1, 3, 0, &p, &used), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_parse_forward_path(NULL, 2, 0, &p, &used), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_parse_forward_path("<a@b>", 5, 0, NULL, &used),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_parse_forward_path("<a@b>", 5, 0, &p, NULL), SMTP_OK);
}

/* ------------------------------------------------------------------ */
/* MAIL / RCPT arguments: RFC 5321 4.1.1.2, 4.1.1.3, 4.1.2. */

struct mr_vec {
  const char *in;
  size_t len;
  int is_rcpt;
  unsigned flags;
  int rc;
  const char *address;
  const char *params;
  const char *rfc;
};

static const struct mr_vec mr_vecs[] = {
  {S("FROM:<a@b>"), 0, 0, SMTP_OK, "a@b", "", "5321 4.1.1.2"},
  {S("from:<a@b>"), 0, 0, SMTP_OK, "a@b", "", "5321 2.4 case-insensitive"},
  {S("FrOm:<>"), 0, 0, SMTP_OK, "", "", "5321 4.1.1.2 null reverse-path"},
  {S("TO:<a@b>"), 1, 0, SMTP_OK, "a@b", "", "5321 4.1.1.3"},
  {S("to:<postmaster>"), 1, 0, SMTP_OK, "postmaster", "", "5321 4.1.1.3 Postmaster"},
  {S("FROM:<a@b> SIZE=100 BODY=8BITMIME"), 0, 0, SMTP_OK, "a@b", "SIZE=100 BODY=8BITMIME", "5321 4.1.1.2 Mail-parameters"},
  {S("TO:<a@b> NOTIFY=NEVER"), 1, 0, SMTP_OK, "a@b", "NOTIFY=NEVER", "3461 4.1"},
  {S("FROM:<a@b> "), 0, 0, SMTP_OK, "a@b", "", "trailing SP tolerated (empty parameters)"},
  {S("FROM: <a@b>"), 0, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.1.2 strict: no SP after colon"},
  {S("FROM: <a@b>"), 0, SPC, SMTP_OK, "a@b", "", "SPACE_AFTER_COLON flag"},
  {S("FROM:   <a@b>"), 0, SPC, SMTP_OK, "a@b", "", "SPACE_AFTER_COLON several"},
  {S("FROM :<a@b>"), 0, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.1.2 no SP before colon"},
  {S("FROM:a@b"), 0, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.2 brackets required"},
  {S("TO:<a@b>"), 0, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.1.2 FROM: for MAIL"},
  {S("FROM:<a@b>"), 1, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.1.3 TO: for RCPT"},
  {S("TO:<>"), 1, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.1.3 no null forward-path"},
  {S("FROM:<a@b>SIZE=1"), 0, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.1.2 SP before parameters"},
  {S("FROM:<a@b>\tSIZE=1"), 0, 0, SMTP_ERR_BAD_CHAR, NULL, NULL, "5321 4.1.2 TAB"},
  {S("FROM:<a@b> X=\x01"), 0, 0, SMTP_ERR_BAD_CHAR, NULL, NULL, "SECURITY 3 controls in params"},
  {S("FRO"), 0, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.1.2 short"},
  {S("FROM"), 0, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.1.2 no colon"},
  {S(""), 1, 0, SMTP_ERR_SYNTAX, NULL, NULL, "5321 4.1.1.3 empty"},
  {S("FR\x0eM:<a@b>"), 0, 0, SMTP_ERR_BAD_CHAR, NULL, NULL, "case fold never maps controls to letters"},
  {S("FROM\x1a<a@b>"), 0, 0, SMTP_ERR_BAD_CHAR, NULL, NULL, "colon compared exactly"},
  {S("TO:<@x.org:u@y> NOTIFY=SUCCESS"), 1, 0, SMTP_OK, "u@y", "NOTIFY=SUCCESS", "5321 C route dropped"},
};

static void test_mail_rcpt_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof mr_vecs / sizeof mr_vecs[0]; i++) {
    const struct mr_vec *v = &mr_vecs[i];
    smtp_path p;
    smtp_span params;
    int rc = smtp_parse_mail_rcpt_args(v->in, v->len, v->is_rcpt, v->flags, &p, &params);
    if (rc != v->rc) fail_msg("mail/rcpt #%zu (%s): rc %d want %d", i, v->rfc, rc, v->rc);
    if (rc == SMTP_OK) {
      if (!span_is(p.address, v->address)) fail_msg("mail/rcpt #%zu: address", i);
      if (!span_is(params, v->params)) fail_msg("mail/rcpt #%zu: params", i);
      assert_true(span_inside(params, v->in, v->len));
      assert_true(span_inside(p.raw, v->in, v->len));
    }
  }
}

/* ------------------------------------------------------------------ */
/* esmtp-param: RFC 5321 4.1.2, RFC 6531 3.3. */

struct param_vec {
  const char *in;
  size_t len;
  unsigned flags;
  int count; /* parameters before the end, or -1 when an error is expected */
  const char *kw1;
  const char *val1;
  const char *rfc;
};

static const struct param_vec param_vecs[] = {
  {S("SIZE=1000"), 0, 1, "SIZE", "1000", "1870 6"},
  {S("BODY=8BITMIME SMTPUTF8"), 0, 2, "BODY", "8BITMIME", "6152 2, 6531 3.4"},
  {S("SMTPUTF8"), 0, 1, "SMTPUTF8", "", "6531 3.4 no value"},
  {S("A  B   C"), 0, 3, "A", "", "one or more SP between parameters"},
  {S("  X-Y-=v"), 0, 1, "X-Y-", "v", "5321 4.1.2 keyword *(ALPHA/DIGIT/-)"},
  {S("9K=!~"), 0, 1, "9K", "!~", "5321 4.1.2 value %d33-60/%d62-126"},
  {S(""), 0, 0, NULL, NULL, "empty"},
  {S("   "), 0, 0, NULL, NULL, "only SP"},
  {S("ORCPT=rfc822;a+2Bb@c"), 0, 1, "ORCPT", "rfc822;a+2Bb@c", "3461 4.2 xtext value"},
  {S("-X=1"), 0, -1, NULL, NULL, "5321 4.1.2 keyword starts ALPHA/DIGIT"},
  {S("SIZE="), 0, -1, NULL, NULL, "5321 4.1.2 value 1*"},
  {S("SIZE==1"), 0, -1, NULL, NULL, "5321 4.1.2 value excludes ="},
  {S("SIZE=1=2"), 0, -1, NULL, NULL, "5321 4.1.2 value excludes ="},
  {S("SI_ZE=1"), 0, -1, NULL, NULL, "5321 4.1.2 keyword chars"},
  {S("X=a\x7f"), 0, -1, NULL, NULL, "5321 4.1.2 value no DEL"},
  {S("X=a\rb"), 0, -1, NULL, NULL, "SECURITY 3 CR in value"},
  {S("X=\xC3\xA4"), 0, -1, NULL, NULL, "6531 3.3 needs SMTPUTF8"},
  {S("X=\xC3\xA4"), U8, 1, "X", "\xC3\xA4", "6531 3.3 esmtp-value =/ UTF8-non-ascii"},
  {S("X=\xC3"), U8, -1, NULL, NULL, "3629 truncated"},
  {S("\xC3\xA4=1"), U8, -1, NULL, NULL, "6531 3.3 keyword stays ASCII"},
};

static void test_param_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof param_vecs / sizeof param_vecs[0]; i++) {
    const struct param_vec *v = &param_vecs[i];
    smtp_span rest = {v->in, v->len};
    smtp_param prm;
    int n = 0, rc;
    while ((rc = smtp_param_next(&rest, v->flags, &prm)) == 1) {
      assert_true(span_inside(prm.keyword, v->in, v->len));
      assert_true(span_inside(prm.value, v->in, v->len));
      if (n == 0 && v->kw1) {
        if (!span_is(prm.keyword, v->kw1)) fail_msg("param #%zu: keyword", i);
        if (!span_is(prm.value, v->val1)) fail_msg("param #%zu: value", i);
        assert_int_equal(prm.has_value, v->val1[0] != 0);
      }
      n++;
    }
    if (v->count < 0) {
      if (rc != SMTP_ERR_PARAM) fail_msg("param #%zu (%s): rc %d", i, v->rfc, rc);
    } else {
      if (rc != 0 || n != v->count) fail_msg("param #%zu (%s): rc %d n %d", i, v->rfc, rc, n);
    }
  }
  smtp_param prm;
  smtp_span bad = {NULL, 3};
  assert_int_equal(smtp_param_next(&bad, 0, &prm), SMTP_ERR_INVALID_ARGUMENT);
  smtp_span empty = {NULL, 0};
  assert_int_equal(smtp_param_next(&empty, 0, &prm), 0);
}

/* ------------------------------------------------------------------ */
/* Address literals: RFC 5321 4.1.3. */

struct lit_vec {
  const char *in;
  int rc;
  int kind;
  const char *rfc;
};

static const struct lit_vec lit_vecs[] = {
  {"[127.0.0.1]", SMTP_OK, SMTP_DOMAIN_IPV4, "4.1.3 IPv4"},
  {"[0.0.0.0]", SMTP_OK, SMTP_DOMAIN_IPV4, "4.1.3 Snum 0"},
  {"[255.255.255.255]", SMTP_OK, SMTP_DOMAIN_IPV4, "4.1.3 Snum 255"},
  {"[001.02.3.004]", SMTP_OK, SMTP_DOMAIN_IPV4, "4.1.3 Snum = 1*3DIGIT: leading zeros accepted"},
  {"[256.1.1.1]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 Snum > 255"},
  {"[1.1.1.256]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 Snum > 255 last"},
  {"[1.2.3.999]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 Snum > 255"},
  {"[0001.2.3.4]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 Snum max 3 digits"},
  {"[1.2.3]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 four Snum"},
  {"[1.2.3.4.5]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 four Snum"},
  {"[1..3.4]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 empty Snum"},
  {"[1.2.3.4.]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 trailing dot"},
  {"[.1.2.3.4]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 leading dot"},
  {"[1.2.3.a]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 digits"},
  {"[ 1.2.3.4]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 no SP"},
  {"[]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 empty"},
  {"1.2.3.4", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.2 brackets"},
  {"[1.2.3.4", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.2 closing bracket"},
  {"[[1.2.3.4]]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 dcontent excludes ["},
  /* IPv6-full */
  {"[IPv6:2001:db8:0:0:0:0:0:1]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6-full"},
  {"[IPv6:2001:0DB8:aaaa:BBBB:cccc:dddd:eeee:ffff]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6-full HEXDIG any case"},
  {"[IPV6:1:2:3:4:5:6:7:8]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 tag case-insensitive (5234 2.3)"},
  {"[ipv6:1:2:3:4:5:6:7:8]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 tag lower case"},
  {"[IPv6:1:2:3:4:5:6:7]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 IPv6-full 7 groups"},
  {"[IPv6:1:2:3:4:5:6:7:8:9]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 9 groups"},
  {"[IPv6:12345::1]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 IPv6-hex 1*4HEXDIG"},
  {"[IPv6:1:2:3:4:5:6:7:g]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 HEXDIG"},
  {"[IPv6:1:2:3:4:5:6:7:8:]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 trailing colon"},
  {"[IPv6::1:2:3:4:5:6:7:8]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 leading colon"},
  /* IPv6-comp */
  {"[IPv6:::]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6-comp ::"},
  {"[IPv6:::1]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6-comp ::1"},
  {"[IPv6:1::]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6-comp 1::"},
  {"[IPv6:2001:db8::1]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6-comp"},
  {"[IPv6:1:2:3::4:5:6]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6-comp 6 groups"},
  {"[IPv6:1:2:3:4:5:6::]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6-comp 6 before"},
  {"[IPv6:::1:2:3:4:5:6]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6-comp 6 after"},
  {"[IPv6:1:2:3:4::5:6:7]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 IPv6-comp 7 groups"},
  {"[IPv6:1:2:3:4:5:6:7::]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 :: is at least 2 groups"},
  {"[IPv6:::1:2:3:4:5:6:7]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 :: is at least 2 groups"},
  {"[IPv6::::]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 :::"},
  {"[IPv6:1:::2]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 :::"},
  {"[IPv6:1::2::3]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 two ::"},
  {"[IPv6:::1::]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 two ::"},
  {"[IPv6::1]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 single leading colon"},
  {"[IPv6:1:]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 single trailing colon"},
  {"[IPv6:]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 empty IPv6-addr"},
  {"[IPv6:fe80::1%eth0]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 no zone id (5321bis 1.10)"},
  {"[IPv6:1.2.3.4]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 IPv4 alone is not IPv6"},
  /* IPv6v4-full and IPv6v4-comp */
  {"[IPv6:1:2:3:4:5:6:1.2.3.4]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6v4-full"},
  {"[IPv6:1:2:3:4:5:1.2.3.4]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 IPv6v4-full 5 groups"},
  {"[IPv6:1:2:3:4:5:6:7:1.2.3.4]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 IPv6v4-full 7 groups"},
  {"[IPv6:::ffff:192.0.2.1]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6v4-comp"},
  {"[IPv6:::192.0.2.1]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6v4-comp no groups"},
  {"[IPv6:1:2::3:4:1.2.3.4]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6v4-comp 4 groups"},
  {"[IPv6:1:2:3:4::1.2.3.4]", SMTP_OK, SMTP_DOMAIN_IPV6, "4.1.3 IPv6v4-comp 4 before"},
  {"[IPv6:1:2::3:4:5:1.2.3.4]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 IPv6v4-comp 5 groups"},
  {"[IPv6:::ffff:256.0.2.1]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 bad embedded IPv4 (256)"},
  {"[IPv6:::ffff:1.2.3]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 bad embedded IPv4 (3 parts)"},
  {"[IPv6:::ffff:1.2.3.4:5]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 IPv4 must be last"},
  {"[IPv6:::1.2.3.4::]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 IPv4 must be last"},
  {"[IPv6:::ffff:a.2.3.4]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 bad embedded IPv4 (hex)"},
  /* General-address-literal */
  {"[x-foo:bar]", SMTP_OK, SMTP_DOMAIN_GENERAL, "4.1.3 General-address-literal"},
  {"[tag:a:b:c]", SMTP_OK, SMTP_DOMAIN_GENERAL, "4.1.3 dcontent includes :"},
  {"[-tag:x]", SMTP_OK, SMTP_DOMAIN_GENERAL, "4.1.3 Ldh-str may start with -"},
  {"[tag-:x]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 Ldh-str ends Let-dig"},
  {"[tag:]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 1*dcontent"},
  {"[:x]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 empty tag"},
  {"[t_g:x]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 tag chars"},
  {"[tag:a b]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 dcontent no SP"},
  {"[tag:a\\b]", SMTP_ERR_ADDRESS_LITERAL, 0, "4.1.3 dcontent no backslash"},
  {"[IPv6x:1::1]", SMTP_OK, SMTP_DOMAIN_GENERAL, "4.1.3 other tag is general"},
  {"[IPv:1::1]", SMTP_OK, SMTP_DOMAIN_GENERAL, "4.1.3 other tag is general"},
};

static void test_literal_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof lit_vecs / sizeof lit_vecs[0]; i++) {
    const struct lit_vec *v = &lit_vecs[i];
    int kind = -1;
    int rc = smtp_parse_address_literal(v->in, strlen(v->in), &kind);
    if (rc != v->rc) fail_msg("literal #%zu %s (%s): rc %d want %d", i, v->in, v->rfc, rc, v->rc);
    if (rc == SMTP_OK) assert_int_equal(kind, v->kind);
    /* The same through EHLO and through a mailbox. */
    rc = smtp_parse_ehlo_arg(v->in, strlen(v->in), 0, &kind);
    if (v->in[0] == '[' && rc != v->rc)
      fail_msg("ehlo literal #%zu %s: rc %d want %d", i, v->in, rc, v->rc);
    if (v->in[0] == '[' && v->in[strlen(v->in) - 1] == ']') {
      char buf[80];
      smtp_mailbox m;
      int n = snprintf(buf, sizeof buf, "a@%s", v->in);
      rc = smtp_parse_mailbox(buf, (size_t)n, 0, &m);
      if (v->rc == SMTP_OK) {
        assert_int_equal(rc, SMTP_OK);
        assert_int_equal(m.domain_kind, v->kind);
      } else {
        assert_int_not_equal(rc, SMTP_OK);
      }
    }
  }
  assert_int_equal(smtp_parse_address_literal("[1.2.3.4]", 9, NULL), SMTP_OK);
  assert_int_equal(smtp_parse_address_literal(NULL, 9, NULL), SMTP_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ */
/* Domains and EHLO arguments: RFC 5321 4.1.1.1, 4.1.2, RFC 6531 3.3. */

struct dom_vec {
  const char *in;
  size_t len;
  unsigned flags;
  int rc;
  const char *rfc;
};

static const struct dom_vec dom_vecs[] = {
  {S("example.com"), 0, SMTP_OK, "4.1.2 Domain"},
  {S("localhost"), 0, SMTP_OK, "4.1.2 one label"},
  {S("a1.b-2.c"), 0, SMTP_OK, "4.1.2 Ldh-str"},
  {S("1.2.3.4"), 0, SMTP_OK, "4.1.2 digits are Let-dig"},
  {S(""), 0, SMTP_ERR_SYNTAX, "4.1.2 empty"},
  {S("."), 0, SMTP_ERR_SYNTAX, "4.1.2 empty labels"},
  {S("a..b"), 0, SMTP_ERR_SYNTAX, "4.1.2 empty label"},
  {S(".a"), 0, SMTP_ERR_SYNTAX, "4.1.2 leading dot"},
  {S("a."), 0, SMTP_ERR_SYNTAX, "4.1.2 trailing dot"},
  {S("-a"), 0, SMTP_ERR_SYNTAX, "4.1.2 Let-dig first"},
  {S("a-"), 0, SMTP_ERR_SYNTAX, "4.1.2 Let-dig last"},
  {S("a_b"), 0, SMTP_ERR_SYNTAX, "4.1.2 no underscore"},
  {S("a b"), 0, SMTP_ERR_SYNTAX, "4.1.2 no SP"},
  {S("a\r\nb"), 0, SMTP_ERR_BAD_CHAR, "SECURITY 3 CRLF"},
  {S("a\0"), 0, SMTP_ERR_BAD_CHAR, "SECURITY 3 NUL"},
  {S("m\xC3\xBCnchen.de"), 0, SMTP_ERR_NEEDS_SMTPUTF8, "6531 3.3 U-label"},
  {S("m\xC3\xBCnchen.de"), U8, SMTP_OK, "6531 3.3 U-label"},
  {S("m\xC3\xBC-.de"), U8, SMTP_ERR_SYNTAX, "4.1.2 hyphen rule for U-labels too"},
  {S("m\xE0\x80\x80.de"), U8, SMTP_ERR_UTF8, "3629 overlong"},
  {S("xn--mnchen-3ya.de"), 0, SMTP_OK, "5890 A-label is LDH"},
};

static void test_domain_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof dom_vecs / sizeof dom_vecs[0]; i++) {
    const struct dom_vec *v = &dom_vecs[i];
    int kind = -1;
    int rc = smtp_parse_domain(v->in, v->len, v->flags);
    if (rc != v->rc) fail_msg("domain #%zu (%s): rc %d want %d", i, v->rfc, rc, v->rc);
    rc = smtp_parse_ehlo_arg(v->in, v->len, v->flags, &kind);
    if (rc != v->rc) fail_msg("ehlo #%zu (%s): rc %d want %d", i, v->rfc, rc, v->rc);
    if (rc == SMTP_OK) assert_int_equal(kind, SMTP_DOMAIN_NAME);
  }
  int kind = -1;
  assert_int_equal(smtp_parse_ehlo_arg(S("[1.2.3.4]"), 0, &kind), SMTP_OK);
  assert_int_equal(kind, SMTP_DOMAIN_IPV4);
  assert_int_equal(smtp_parse_ehlo_arg(S("[IPv6:::1]"), 0, &kind), SMTP_OK);
  assert_int_equal(kind, SMTP_DOMAIN_IPV6);
  assert_int_equal(smtp_parse_ehlo_arg(S("[1.2.3.4]x"), 0, &kind), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_parse_ehlo_arg(S("[1.2.3.4\n]"), 0, &kind), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_parse_domain(NULL, 1, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_parse_ehlo_arg(NULL, 1, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
}

/* Whole command lines through every layer, as a server session would. */
static void test_full_command_flow(void **state) {
  (void)state;
  static const char line[] = "MAIL FROM:<${x}|@[IPv6:::ffff:10.0.0.1]> BODY=8BITMIME SIZE=42";
  smtp_command c;
  smtp_path p;
  smtp_span params;
  smtp_param prm;
  assert_int_equal(smtp_parse_command(line, sizeof line - 1, &c), SMTP_OK);
  assert_int_equal(c.verb, SMTP_VERB_MAIL);
  assert_int_equal(smtp_parse_mail_rcpt_args(c.args.ptr, c.args.len, 0, 0, &p, &params), SMTP_OK);
  assert_true(span_is(p.mailbox.local, "${x}|"));
  assert_int_equal(p.mailbox.domain_kind, SMTP_DOMAIN_IPV6);
  assert_int_equal(smtp_param_next(&params, 0, &prm), 1);
  assert_true(span_is(prm.keyword, "BODY"));
  assert_int_equal(smtp_param_next(&params, 0, &prm), 1);
  assert_true(span_is(prm.value, "42"));
  assert_int_equal(smtp_param_next(&params, 0, &prm), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_command_vectors),
    cmocka_unit_test(test_command_length),
    cmocka_unit_test(test_mailbox_vectors),
    cmocka_unit_test(test_mailbox_limits),
    cmocka_unit_test(test_path_vectors),
    cmocka_unit_test(test_path_limits),
    cmocka_unit_test(test_mail_rcpt_vectors),
    cmocka_unit_test(test_param_vectors),
    cmocka_unit_test(test_literal_vectors),
    cmocka_unit_test(test_domain_vectors),
    cmocka_unit_test(test_full_command_flow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
