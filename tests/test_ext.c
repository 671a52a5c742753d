/* EHLO reply parsing into capabilities and building (RFC 5321 4.1.1.1, 4.2;
 * RFC 1870, RFC 4954, RFC 9422), SASL mechanism names. smtp_reply values are
 * built by hand here (split_reply below), independent of lib/reply.c. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/ext.h>

#define MAXL 80

/* Test-only splitter: "250-a\r\n250 b\r\n" -> lines "a", "b" (text after the
 * four octets "250-" / "250 "). A line of exactly "250" gives an empty text. */
typedef struct test_reply {
  smtp_reply r;
  smtp_span lines[MAXL];
} test_reply;

static void split_reply(test_reply *t, const char *wire, size_t len) {
  size_t i = 0;
  memset(t, 0, sizeof(*t));
  t->r.lines = t->lines;
  while (i < len) {
    const char *crlf = NULL;
    for (size_t k = i; k + 1 < len; k++)
      if (wire[k] == '\r' && wire[k + 1] == '\n') {
        crlf = wire + k;
        break;
      }
    assert_non_null(crlf);
    size_t llen = (size_t)(crlf - (wire + i));
    assert_true(llen >= 3);
    assert_true(t->r.nlines < MAXL);
    t->r.code = (wire[i] - '0') * 100 + (wire[i + 1] - '0') * 10 + (wire[i + 2] - '0');
    smtp_span *s = &t->lines[t->r.nlines++];
    s->ptr = wire + i + (llen > 3 ? 4 : 3);
    s->len = llen > 3 ? llen - 4 : 0;
    i += llen + 2;
  }
}

/* From text lines (no codes): lines[0] is the greeting. */
static void make_reply(test_reply *t, int code, const char *const *lines, size_t n) {
  memset(t, 0, sizeof(*t));
  t->r.code = code;
  t->r.lines = t->lines;
  t->r.nlines = n;
  for (size_t i = 0; i < n; i++) {
    t->lines[i].ptr = lines[i];
    t->lines[i].len = strlen(lines[i]);
  }
}

static int span_is(smtp_span s, const char *want) {
  return s.len == strlen(want) && (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

/* --------------------------------------------------------- real servers */

typedef struct server_vector {
  const char *name;
  const char *wire;
  unsigned flags;
  uint64_t size_max;
  int size_has_value;
  unsigned auth;
  size_t nkeywords;
  const char *greeting;
} server_vector;

static const server_vector servers[] = {
    {"Postfix 3.x",
     "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
     "250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
     "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
     SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_VRFY | SMTP_EXT_ETRN | SMTP_EXT_STARTTLS |
         SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_8BITMIME | SMTP_EXT_DSN | SMTP_EXT_SMTPUTF8 |
         SMTP_EXT_CHUNKING,
     10240000, 1, 0, 10, "mail.example.com"},
    {"Postfix submission after STARTTLS",
     "250-smtp.example.com\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-ETRN\r\n"
     "250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
     "250-8BITMIME\r\n250-DSN\r\n250 CHUNKING\r\n",
     SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_ETRN | SMTP_EXT_AUTH |
         SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_8BITMIME | SMTP_EXT_DSN | SMTP_EXT_CHUNKING,
     52428800, 1, SMTP_SASL_PLAIN | SMTP_SASL_LOGIN, 9, "smtp.example.com"},
    {"Exim 4.9x",
     "250-mx.example.org Hello client.example.net [192.0.2.1]\r\n250-SIZE 52428800\r\n"
     "250-8BITMIME\r\n250-PIPELINING\r\n250-PIPECONNECT\r\n250-AUTH PLAIN LOGIN\r\n"
     "250-CHUNKING\r\n250-STARTTLS\r\n250-PRDR\r\n250 HELP\r\n",
     SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_PIPELINING | SMTP_EXT_AUTH |
         SMTP_EXT_CHUNKING | SMTP_EXT_STARTTLS | SMTP_EXT_HELP,
     52428800, 1, SMTP_SASL_PLAIN | SMTP_SASL_LOGIN, 9,
     "mx.example.org Hello client.example.net [192.0.2.1]"},
    {"Gmail submission (smtp.gmail.com:587 after STARTTLS)",
     "250-smtp.gmail.com at your service, [203.0.113.5]\r\n250-SIZE 35882577\r\n"
     "250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n"
     "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
     SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_AUTH | SMTP_EXT_ENHANCEDSTATUSCODES |
         SMTP_EXT_PIPELINING | SMTP_EXT_CHUNKING | SMTP_EXT_SMTPUTF8,
     35882577, 1,
     SMTP_SASL_LOGIN | SMTP_SASL_PLAIN | SMTP_SASL_XOAUTH2 | SMTP_SASL_OAUTHBEARER, 7,
     "smtp.gmail.com at your service, [203.0.113.5]"},
    {"Gmail MX",
     "250-mx.google.com at your service, [203.0.113.5]\r\n250-SIZE 157286400\r\n"
     "250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
     "250-CHUNKING\r\n250 SMTPUTF8\r\n",
     SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_STARTTLS | SMTP_EXT_ENHANCEDSTATUSCODES |
         SMTP_EXT_PIPELINING | SMTP_EXT_CHUNKING | SMTP_EXT_SMTPUTF8,
     157286400, 1, 0, 7, "mx.google.com at your service, [203.0.113.5]"},
    {"Exchange Online",
     "250-BN8PR12MB3456.namprd12.prod.outlook.com Hello [192.0.2.7]\r\n250-SIZE 157286400\r\n"
     "250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n"
     "250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
     SMTP_EXT_SIZE | SMTP_EXT_PIPELINING | SMTP_EXT_DSN | SMTP_EXT_ENHANCEDSTATUSCODES |
         SMTP_EXT_AUTH | SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME | SMTP_EXT_CHUNKING |
         SMTP_EXT_SMTPUTF8,
     157286400, 1, SMTP_SASL_LOGIN | SMTP_SASL_XOAUTH2, 9,
     "BN8PR12MB3456.namprd12.prod.outlook.com Hello [192.0.2.7]"},
    {"Exchange 2010 on-premises (Outlook-style AUTH= line, X- keywords)",
     "250-EXCH.corp.example Hello [10.0.0.5]\r\n250-SIZE\r\n250-PIPELINING\r\n250-DSN\r\n"
     "250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n"
     "250-AUTH NTLM LOGIN\r\n250-X-EXPS GSSAPI NTLM\r\n250-AUTH=LOGIN\r\n250-8BITMIME\r\n"
     "250-BINARYMIME\r\n250-CHUNKING\r\n250-XEXCH50\r\n250-XRDST\r\n250 XSHADOW\r\n",
     SMTP_EXT_SIZE | SMTP_EXT_PIPELINING | SMTP_EXT_DSN | SMTP_EXT_ENHANCEDSTATUSCODES |
         SMTP_EXT_STARTTLS | SMTP_EXT_AUTH | SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME |
         SMTP_EXT_CHUNKING,
     0, 0, SMTP_SASL_LOGIN, 15, "EXCH.corp.example Hello [10.0.0.5]"},
    {"Sendmail 8.x",
     "250-mail.example.com Hello client.example.net [192.0.2.1], pleased to meet you\r\n"
     "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n"
     "250-ETRN\r\n250-AUTH DIGEST-MD5 CRAM-MD5\r\n250-DELIVERBY\r\n250 HELP\r\n",
     SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_PIPELINING | SMTP_EXT_8BITMIME | SMTP_EXT_SIZE |
         SMTP_EXT_DSN | SMTP_EXT_ETRN | SMTP_EXT_AUTH | SMTP_EXT_DELIVERBY | SMTP_EXT_HELP,
     0, 0, SMTP_SASL_CRAM_MD5, 9,
     "mail.example.com Hello client.example.net [192.0.2.1], pleased to meet you"},
    {"OpenSMTPD",
     "250-mail.example.org Hello client [192.0.2.1], pleased to meet you\r\n"
     "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE 36700160\r\n250-DSN\r\n"
     "250-AUTH PLAIN LOGIN\r\n250 HELP\r\n",
     SMTP_EXT_8BITMIME | SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_SIZE | SMTP_EXT_DSN |
         SMTP_EXT_AUTH | SMTP_EXT_HELP,
     36700160, 1, SMTP_SASL_PLAIN | SMTP_SASL_LOGIN, 6,
     "mail.example.org Hello client [192.0.2.1], pleased to meet you"},
    {"Fastmail-like with LIMITS and REQUIRETLS",
     "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 73400320\r\n250-ENHANCEDSTATUSCODES\r\n"
     "250-8BITMIME\r\n250-REQUIRETLS\r\n250-MT-PRIORITY MIXER\r\n250-FUTURERELEASE 604800 2026-12-31T00:00:00Z\r\n"
     "250-LIMITS RCPTMAX=1000 MAILMAX=50\r\n250 SMTPUTF8\r\n",
     SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_8BITMIME |
         SMTP_EXT_REQUIRETLS | SMTP_EXT_MT_PRIORITY | SMTP_EXT_FUTURERELEASE | SMTP_EXT_LIMITS |
         SMTP_EXT_SMTPUTF8,
     73400320, 1, 0, 9, "mx.example.net"},
    {"single line, no extensions (RFC 5321 4.1.1.1)", "250 mail.example.com\r\n", 0, 0, 0, 0, 0,
     "mail.example.com"},
    {"LHLO reply of an LMTP server (RFC 2033 4.1)",
     "250-lmtp.example.com\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n",
     SMTP_EXT_PIPELINING | SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_8BITMIME, 0, 0, 0, 3,
     "lmtp.example.com"},
};

static void test_real_servers(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
    test_reply t;
    smtp_capabilities c;
    const server_vector *v = &servers[i];
    split_reply(&t, v->wire, strlen(v->wire));
    assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
    if (c.flags != v->flags) fprintf(stderr, "%s: flags %#x want %#x\n", v->name, c.flags, v->flags);
    assert_int_equal(c.flags, v->flags);
    assert_int_equal(c.size_max, v->size_max);
    assert_int_equal(c.size_has_value, v->size_has_value);
    assert_int_equal(c.auth_mechs, v->auth);
    assert_int_equal(c.nkeywords, v->nkeywords);
    assert_int_equal(c.ndropped, 0);
    assert_true(span_is(c.greeting, v->greeting));
  }
}

static void test_keywords_in_order(void **state) {
  test_reply t;
  smtp_capabilities c;
  const smtp_ext_keyword *k;
  (void)state;
  split_reply(&t, servers[6].wire, strlen(servers[6].wire));
  assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
  static const char *const order[] = {"SIZE", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES",
                                      "STARTTLS", "X-ANONYMOUSTLS", "AUTH", "X-EXPS", "AUTH",
                                      "8BITMIME", "BINARYMIME", "CHUNKING", "XEXCH50", "XRDST",
                                      "XSHADOW"};
  assert_int_equal(c.nkeywords, 15);
  for (size_t i = 0; i < 15; i++) assert_true(span_is(c.keywords[i].keyword, order[i]));
  /* Params: the text after the keyword and its separator. */
  assert_true(span_is(c.keywords[0].params, ""));
  assert_true(span_is(c.keywords[6].params, "NTLM LOGIN"));
  assert_true(span_is(c.keywords[7].params, "GSSAPI NTLM"));
  assert_true(span_is(c.keywords[8].params, "LOGIN")); /* "AUTH=LOGIN" */
  /* Spans point into the reply. */
  assert_true(c.keywords[0].keyword.ptr > servers[6].wire &&
              c.keywords[0].keyword.ptr < servers[6].wire + strlen(servers[6].wire));
  /* find: case-insensitive, first match, unknown keywords too. */
  k = smtp_capabilities_find(&c, "x-exps");
  assert_non_null(k);
  assert_true(span_is(k->params, "GSSAPI NTLM"));
  k = smtp_capabilities_find(&c, "auth");
  assert_ptr_equal(k, &c.keywords[6]);
  assert_null(smtp_capabilities_find(&c, "AUT"));
  assert_null(smtp_capabilities_find(&c, "AUTHX"));
  assert_null(smtp_capabilities_find(&c, "EXCH.corp.example")); /* the greeting is no keyword */
  assert_null(smtp_capabilities_find(&c, ""));
  assert_null(smtp_capabilities_find(&c, NULL));
  assert_null(smtp_capabilities_find(NULL, "AUTH"));
}

/* ------------------------------------------------------- greeting injection */

/* RFC 5321 4.1.1.1: the first line is Domain [SP ehlo-greet]; keywords
 * start on the second line. */
static const struct {
  const char *wire;
  unsigned flags;
  size_t nkeywords;
} injection[] = {
    {"250 STARTTLS\r\n", 0, 0},
    {"250 mail.example.com STARTTLS\r\n", 0, 0},
    {"250-AUTH PLAIN LOGIN\r\n250 SIZE 100\r\n", SMTP_EXT_SIZE, 1},
    {"250-mail.example.com Hi STARTTLS AUTH PLAIN SIZE 1\r\n250 8BITMIME\r\n", SMTP_EXT_8BITMIME, 1},
    {"250-PIPELINING\r\n250 DSN\r\n", SMTP_EXT_DSN, 1},
    {"250-mail.example.com 250-STARTTLS\r\n250 DSN\r\n", SMTP_EXT_DSN, 1},
    {"250-LIMITS RCPTMAX=5\r\n250 HELP\r\n", SMTP_EXT_HELP, 1},
};

static void test_greeting_injection(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(injection) / sizeof(injection[0]); i++) {
    test_reply t;
    smtp_capabilities c;
    split_reply(&t, injection[i].wire, strlen(injection[i].wire));
    assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
    assert_false(c.flags & SMTP_EXT_STARTTLS);
    assert_int_equal(c.flags, injection[i].flags);
    assert_int_equal(c.nkeywords, injection[i].nkeywords);
    assert_int_equal(c.auth_mechs, 0);
    assert_int_equal(c.limits_rcptmax, 0);
  }
}

/* ---------------------------------------------------------------- SIZE */

static const struct {
  const char *line;
  int has_flag;
  uint64_t size_max;
  int has_value;
} size_vectors[] = {
    {"SIZE", 1, 0, 0},                          /* RFC 1870 4: no fixed maximum */
    {"SIZE 0", 1, 0, 0},                        /* RFC 1870 4: 0 = no fixed maximum */
    {"SIZE 1000", 1, 1000, 1},
    {"SIZE 00100", 1, 100, 1},                  /* leading zeros are digits */
    {"size 5", 1, 5, 1},                        /* keywords case-insensitive */
    {"Size 35882577", 1, 35882577, 1},
    {"SIZE 18446744073709551615", 1, UINT64_MAX, 1}, /* largest uint64 */
    {"SIZE 18446744073709551616", 0, 0, 0},     /* one more: overflow */
    {"SIZE 99999999999999999999", 0, 0, 0},     /* overflow */
    {"SIZE 184467440737095516150", 0, 0, 0},    /* overflow by a digit */
    {"SIZE -1", 0, 0, 0},                       /* size-param ::= [1*DIGIT] */
    {"SIZE +1", 0, 0, 0},
    {"SIZE 10M", 0, 0, 0},
    {"SIZE 0x10", 0, 0, 0},
    {"SIZE 1.5", 0, 0, 0},
    {"SIZE 100 200", 0, 0, 0},                  /* one value only */
    {"SIZE  100", 1, 100, 1},                   /* runs of SP tolerated */
    {"SIZE 100 ", 1, 100, 1},                   /* trailing SP tolerated */
    {"SIZE=100", 1, 100, 1},                    /* "=" separator tolerated */
    {"SIZE\t100", 0, 0, 0},                     /* HTAB: malformed line */
    {"SIZES 100", 0, 0, 0},                     /* another keyword */
};

static void test_size(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(size_vectors) / sizeof(size_vectors[0]); i++) {
    const char *lines[] = {"example.com", size_vectors[i].line};
    test_reply t;
    smtp_capabilities c;
    make_reply(&t, 250, lines, 2);
    assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
    if (!!(c.flags & SMTP_EXT_SIZE) != size_vectors[i].has_flag)
      fprintf(stderr, "SIZE vector %zu \"%s\"\n", i, size_vectors[i].line);
    assert_int_equal(!!(c.flags & SMTP_EXT_SIZE), size_vectors[i].has_flag);
    assert_int_equal(c.size_max, size_vectors[i].size_max);
    assert_int_equal(c.size_has_value, size_vectors[i].has_value);
  }
  /* The first SIZE line counts. */
  const char *two[] = {"example.com", "SIZE 100", "SIZE 200"};
  test_reply t;
  smtp_capabilities c;
  make_reply(&t, 250, two, 3);
  assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
  assert_int_equal(c.size_max, 100);
  assert_int_equal(c.nkeywords, 2);
}

/* ---------------------------------------------------------------- AUTH */

static const struct {
  const char *line;
  unsigned mechs;
} auth_vectors[] = {
    {"AUTH PLAIN LOGIN", SMTP_SASL_PLAIN | SMTP_SASL_LOGIN},           /* RFC 4954 3 */
    {"AUTH=PLAIN LOGIN", SMTP_SASL_PLAIN | SMTP_SASL_LOGIN},           /* pre-standard form */
    {"AUTH=LOGIN", SMTP_SASL_LOGIN},
    {"auth plain", SMTP_SASL_PLAIN},
    {"AUTH cram-md5", SMTP_SASL_CRAM_MD5},
    {"AUTH CRAM-MD5 DIGEST-MD5 GSSAPI NTLM", SMTP_SASL_CRAM_MD5},      /* unknown ignored */
    {"AUTH SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 EXTERNAL",
     SMTP_SASL_SCRAM_SHA_256 | SMTP_SASL_SCRAM_SHA_1 | SMTP_SASL_OAUTHBEARER |
         SMTP_SASL_XOAUTH2 | SMTP_SASL_EXTERNAL},
    {"AUTH SCRAM-SHA-256-PLUS", SMTP_SASL_SCRAM_SHA_256_PLUS},         /* RFC 5802 6 */
    {"AUTH SCRAM-SHA-1-PLUS SCRAM-SHA-512 scram-sha-512-plus",
     SMTP_SASL_SCRAM_SHA_1_PLUS | SMTP_SASL_SCRAM_SHA_512 | SMTP_SASL_SCRAM_SHA_512_PLUS},
    {"AUTH SCRAM-SHA-256-PLUSX SCRAM-SHA", 0},                         /* not prefixes */
    {"AUTH PLAIN-CLIENTTOKEN XOAUTH", 0},                              /* not prefixes */
    {"AUTH PLAINX", 0},
    {"AUTH", 0},
    {"AUTH  PLAIN   LOGIN ", SMTP_SASL_PLAIN | SMTP_SASL_LOGIN},
};

static void test_auth(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(auth_vectors) / sizeof(auth_vectors[0]); i++) {
    const char *lines[] = {"example.com", auth_vectors[i].line};
    test_reply t;
    smtp_capabilities c;
    make_reply(&t, 250, lines, 2);
    assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
    assert_true(c.flags & SMTP_EXT_AUTH);
    assert_int_equal(c.auth_mechs, auth_vectors[i].mechs);
  }
  /* Several AUTH lines add up (RFC 4954 3 form plus the "AUTH=" form). */
  const char *both[] = {"example.com", "AUTH GSSAPI NTLM", "AUTH=LOGIN", "AUTH PLAIN"};
  test_reply t;
  smtp_capabilities c;
  make_reply(&t, 250, both, 4);
  assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
  assert_int_equal(c.auth_mechs, SMTP_SASL_LOGIN | SMTP_SASL_PLAIN);
}

/* -------------------------------------------------------------- LIMITS */

static const struct {
  const char *line;
  unsigned rcpt, mail, dom;
} limits_vectors[] = {
    {"LIMITS RCPTMAX=100 MAILMAX=1000", 100, 1000, 0},           /* RFC 9422 4 */
    {"LIMITS MAILMAX=5 RCPTMAX=10 RCPTDOMAINMAX=3", 10, 5, 3},
    {"LIMITS rcptmax=7 MailMax=8", 7, 8, 0},                     /* names case-insensitive */
    {"LIMITS", 0, 0, 0},
    {"LIMITS RCPTMAX=0", 0, 0, 0},                               /* "0" not allowed */
    {"LIMITS RCPTMAX=999999", 999999, 0, 0},
    {"LIMITS RCPTMAX=4294967295", UINT_MAX, 0, 0},               /* lenient up to UINT_MAX */
    {"LIMITS RCPTMAX=4294967296", 0, 0, 0},                      /* overflow */
    {"LIMITS RCPTMAX=99999999999999999999 MAILMAX=2", 0, 2, 0},  /* overflow */
    {"LIMITS RCPTMAX=", 0, 0, 0},
    {"LIMITS RCPTMAX", 0, 0, 0},
    {"LIMITS RCPTMAX=1x MAILMAX=-1", 0, 0, 0},
    {"LIMITS FOO=1 RCPTMAX=3 BAR", 3, 0, 0},                     /* unknown names ignored */
    {"LIMITS RCPTMAX=3 RCPTMAX=4", 3, 0, 0},                     /* first one counts */
    {"LIMITS RCPTMAX=0 RCPTMAX=4", 4, 0, 0},
    {"LIMITS RCPTMAX =3", 0, 0, 0},
    {"LIMITS  RCPTMAX=12  MAILMAX=13 ", 12, 13, 0},
};

static void test_limits(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(limits_vectors) / sizeof(limits_vectors[0]); i++) {
    const char *lines[] = {"example.com", limits_vectors[i].line};
    test_reply t;
    smtp_capabilities c;
    make_reply(&t, 250, lines, 2);
    assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
    assert_true(c.flags & SMTP_EXT_LIMITS);
    assert_int_equal(c.limits_rcptmax, limits_vectors[i].rcpt);
    assert_int_equal(c.limits_mailmax, limits_vectors[i].mail);
    assert_int_equal(c.limits_rcptdomainmax, limits_vectors[i].dom);
  }
}

/* ----------------------------------------------------- malformed lines */

/* Lines that are not ehlo-lines are skipped (RFC 5321 4.1.1.1). */
static const char *const malformed[] = {
    "",                  /* empty */
    " PIPELINING",       /* leading SP */
    "-PIPELINING",       /* ehlo-keyword starts with ALPHA / DIGIT */
    "X_FOO",             /* "_" not in ehlo-keyword */
    "STARTTLS\t",        /* HTAB */
    "PIPELINING\x7f",    /* DEL */
    "FOO bar\x01",       /* control in params */
    "FOO \xc3\xa9t\xc3\xa9", /* ehlo-param is %d33-126 */
    "\xc3\xa9",          /* non-ASCII keyword */
    "DSN\r",             /* stray CR */
    "8BITMIME\0",        /* NUL (length includes it) */
};

static void test_malformed_lines(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
    smtp_span lines[3] = {{"example.com", 11}, {malformed[i], strlen(malformed[i])}, {"HELP", 4}};
    if (i == sizeof(malformed) / sizeof(malformed[0]) - 1) lines[1].len = 9; /* include the NUL */
    smtp_reply r = {250, 0, {0, 0, 0}, 3, lines};
    smtp_capabilities c;
    assert_int_equal(smtp_capabilities_parse(&r, &c), SMTP_OK);
    if (c.nkeywords != 1) fprintf(stderr, "malformed #%zu accepted\n", i);
    assert_int_equal(c.nkeywords, 1);
    assert_int_equal(c.flags, SMTP_EXT_HELP);
    assert_true(span_is(c.keywords[0].keyword, "HELP"));
  }
}

static void test_unknown_keywords_kept(void **state) {
  const char *lines[] = {"example.com", "XCLIENT NAME ADDR PROTO HELO", "PIPECONNECT", "PRDR",
                         "X-LINK2STATE", "8BITMIME", "SMTPUTF8", "XFORWARD NAME ADDR"};
  test_reply t;
  smtp_capabilities c;
  (void)state;
  make_reply(&t, 250, lines, 8);
  assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
  assert_int_equal(c.nkeywords, 7);
  assert_int_equal(c.flags, SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8);
  assert_true(span_is(c.keywords[0].keyword, "XCLIENT"));
  assert_true(span_is(c.keywords[0].params, "NAME ADDR PROTO HELO"));
  assert_true(span_is(c.keywords[6].keyword, "XFORWARD"));
}

/* Every known keyword, in any case, gives its flag. */
static void test_every_flag(void **state) {
  static const struct {
    const char *kw;
    unsigned flag;
  } kws[] = {
      {"PIPELINING", SMTP_EXT_PIPELINING}, {"SIZE", SMTP_EXT_SIZE},
      {"8BITMIME", SMTP_EXT_8BITMIME}, {"BINARYMIME", SMTP_EXT_BINARYMIME},
      {"CHUNKING", SMTP_EXT_CHUNKING}, {"SMTPUTF8", SMTP_EXT_SMTPUTF8},
      {"ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES}, {"DSN", SMTP_EXT_DSN},
      {"STARTTLS", SMTP_EXT_STARTTLS}, {"AUTH", SMTP_EXT_AUTH},
      {"REQUIRETLS", SMTP_EXT_REQUIRETLS}, {"LIMITS", SMTP_EXT_LIMITS},
      {"DELIVERBY", SMTP_EXT_DELIVERBY}, {"MT-PRIORITY", SMTP_EXT_MT_PRIORITY},
      {"FUTURERELEASE", SMTP_EXT_FUTURERELEASE}, {"ETRN", SMTP_EXT_ETRN},
      {"VRFY", SMTP_EXT_VRFY}, {"EXPN", SMTP_EXT_EXPN}, {"HELP", SMTP_EXT_HELP},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
    char lower[32];
    size_t n = strlen(kws[i].kw);
    for (size_t k = 0; k <= n; k++)
      lower[k] = (char)((kws[i].kw[k] >= 'A' && kws[i].kw[k] <= 'Z') ? kws[i].kw[k] + 32 : kws[i].kw[k]);
    for (int variant = 0; variant < 2; variant++) {
      const char *lines[] = {"example.com", variant ? lower : kws[i].kw};
      test_reply t;
      smtp_capabilities c;
      make_reply(&t, 250, lines, 2);
      assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
      assert_int_equal(c.flags, kws[i].flag);
    }
  }
}

static void test_too_many_keywords(void **state) {
  static char bufs[60][16];
  const char *lines[62];
  test_reply t;
  smtp_capabilities c;
  (void)state;
  lines[0] = "example.com";
  for (int i = 0; i < 60; i++) {
    snprintf(bufs[i], sizeof(bufs[i]), "X-KW%d", i);
    lines[i + 1] = bufs[i];
  }
  lines[55] = "STARTTLS"; /* beyond the stored keywords */
  lines[61] = "SIZE 42";
  make_reply(&t, 250, lines, 62);
  assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
  assert_int_equal(c.nkeywords, SMTP_CAPS_MAX_KEYWORDS);
  assert_int_equal(c.ndropped, 61 - SMTP_CAPS_MAX_KEYWORDS);
  assert_true(span_is(c.keywords[0].keyword, "X-KW0"));
  assert_true(span_is(c.keywords[SMTP_CAPS_MAX_KEYWORDS - 1].keyword, "X-KW47"));
  /* Flags and values of dropped lines still count. */
  assert_true(c.flags & SMTP_EXT_STARTTLS);
  assert_int_equal(c.size_max, 42);
  assert_null(smtp_capabilities_find(&c, "STARTTLS"));
}

static void test_parse_arguments(void **state) {
  const char *lines[] = {"example.com", "PIPELINING"};
  test_reply t;
  smtp_capabilities c;
  (void)state;
  make_reply(&t, 250, lines, 2);
  assert_int_equal(smtp_capabilities_parse(NULL, &c), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_capabilities_parse(&t.r, NULL), SMTP_ERR_INVALID_ARGUMENT);
  t.r.code = 220; /* not a 250 reply */
  assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(c.flags, 0);
  t.r.code = 550;
  assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_ERR_INVALID_ARGUMENT);
  t.r.code = 250;
  t.r.nlines = 0;
  assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_ERR_INVALID_ARGUMENT);
  t.r.nlines = 2;
  t.r.lines = NULL;
  assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------ SASL names */

static void test_sasl_names(void **state) {
  static const struct {
    const char *name;
    unsigned mech;
  } names[] = {
      {"PLAIN", SMTP_SASL_PLAIN}, {"LOGIN", SMTP_SASL_LOGIN}, {"CRAM-MD5", SMTP_SASL_CRAM_MD5},
      {"XOAUTH2", SMTP_SASL_XOAUTH2}, {"OAUTHBEARER", SMTP_SASL_OAUTHBEARER},
      {"SCRAM-SHA-1", SMTP_SASL_SCRAM_SHA_1}, {"SCRAM-SHA-256", SMTP_SASL_SCRAM_SHA_256},
      {"EXTERNAL", SMTP_SASL_EXTERNAL},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    assert_int_equal(smtp_sasl_mech_from_name(names[i].name, strlen(names[i].name)), names[i].mech);
    assert_string_equal(smtp_sasl_mech_name(names[i].mech), names[i].name);
  }
  assert_int_equal(smtp_sasl_mech_from_name("plain", 5), SMTP_SASL_PLAIN);
  assert_int_equal(smtp_sasl_mech_from_name("Scram-Sha-256", 13), SMTP_SASL_SCRAM_SHA_256);
  assert_int_equal(smtp_sasl_mech_from_name("PLAIN LOGIN", 5), SMTP_SASL_PLAIN); /* length counts */
  assert_int_equal(smtp_sasl_mech_from_name("PLAI", 4), 0);
  assert_int_equal(smtp_sasl_mech_from_name("PLAINX", 6), 0);
  assert_int_equal(smtp_sasl_mech_from_name("GSSAPI", 6), 0);
  assert_int_equal(smtp_sasl_mech_from_name("", 0), 0);
  assert_int_equal(smtp_sasl_mech_from_name(NULL, 5), 0);
  assert_null(smtp_sasl_mech_name(0));
  assert_null(smtp_sasl_mech_name(SMTP_SASL_PLAIN | SMTP_SASL_LOGIN));
  assert_null(smtp_sasl_mech_name(1u << 20));
}

/* ------------------------------------------------------------- building */

static void test_build_exact(void **state) {
  char buf[1024];
  smtp_ssize n;
  (void)state;
  n = smtp_ehlo_reply_build(buf, sizeof(buf), "mail.example.com", NULL, NULL);
  assert_int_equal(n, 22);
  assert_memory_equal(buf, "250 mail.example.com\r\n", 22);

  n = smtp_ehlo_reply_build(buf, sizeof(buf), "mail.example.com", "Hello there", NULL);
  assert_memory_equal(buf, "250 mail.example.com Hello there\r\n", (size_t)n);

  const char *extra[] = {"XCLIENT NAME ADDR", "PRDR"};
  smtp_ehlo_config cfg = {SMTP_EHLO_CONFIG_VERSION, SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
                              SMTP_EXT_SMTPUTF8 | SMTP_EXT_ENHANCEDSTATUSCODES |
                              SMTP_EXT_STARTTLS | SMTP_EXT_AUTH | SMTP_EXT_LIMITS |
                              SMTP_EXT_CHUNKING | SMTP_EXT_DSN | SMTP_EXT_HELP,
                          35882577,
                          SMTP_SASL_LOGIN | SMTP_SASL_PLAIN | SMTP_SASL_SCRAM_SHA_256 |
                              SMTP_SASL_CRAM_MD5,
                          100,
                          20,
                          extra,
                          2};
  static const char want[] =
      "250-mx.example.org greets you\r\n"
      "250-PIPELINING\r\n"
      "250-SIZE 35882577\r\n"
      "250-8BITMIME\r\n"
      "250-CHUNKING\r\n"
      "250-SMTPUTF8\r\n"
      "250-ENHANCEDSTATUSCODES\r\n"
      "250-DSN\r\n"
      "250-STARTTLS\r\n"
      "250-AUTH SCRAM-SHA-256 CRAM-MD5 PLAIN LOGIN\r\n"
      "250-LIMITS RCPTMAX=100 MAILMAX=20\r\n"
      "250-HELP\r\n"
      "250-XCLIENT NAME ADDR\r\n"
      "250 PRDR\r\n";
  n = smtp_ehlo_reply_build(buf, sizeof(buf), "mx.example.org", "greets you", &cfg);
  assert_int_equal(n, (smtp_ssize)strlen(want));
  assert_memory_equal(buf, want, strlen(want));

  /* Exact size fits; every shorter buffer is refused, and nothing is
   * written past the given length. */
  for (size_t cap = 0; cap <= strlen(want); cap++) {
    char small[1024];
    memset(small, '#', sizeof(small));
    n = smtp_ehlo_reply_build(small, cap, "mx.example.org", "greets you", &cfg);
    if (cap == strlen(want))
      assert_int_equal(n, (smtp_ssize)cap);
    else
      assert_int_equal(n, SMTP_ERR_BUFFER_TOO_SMALL);
    for (size_t k = cap; k < sizeof(small); k++) assert_int_equal(small[k], '#');
  }

  /* SIZE without a value (RFC 1870 4), LIMITS with one value, AUTH order. */
  smtp_ehlo_config c2 = {SMTP_EHLO_CONFIG_VERSION, SMTP_EXT_SIZE | SMTP_EXT_AUTH | SMTP_EXT_LIMITS, 0,
                         0xFF, 0, 7, NULL, 0};
  static const char want2[] =
      "250-[192.0.2.1]\r\n"
      "250-SIZE\r\n"
      "250-AUTH EXTERNAL SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 CRAM-MD5 PLAIN LOGIN\r\n"
      "250 LIMITS MAILMAX=7\r\n";
  n = smtp_ehlo_reply_build(buf, sizeof(buf), "[192.0.2.1]", "", &c2);
  assert_int_equal(n, (smtp_ssize)strlen(want2));
  assert_memory_equal(buf, want2, strlen(want2));
}

static const struct {
  const char *domain, *greeting, *extra;
  int want;
} build_errors[] = {
    /* CR, LF and other controls anywhere: SMTP_ERR_BAD_CHAR (command injection). */
    {"mail.example.com\r\n250 STARTTLS", NULL, NULL, SMTP_ERR_BAD_CHAR},
    {"mail.example.com", "hi\r\n250-AUTH PLAIN", NULL, SMTP_ERR_BAD_CHAR},
    {"mail.example.com", "hi\n", NULL, SMTP_ERR_BAD_CHAR},
    {"mail.example.com", "hi\r", NULL, SMTP_ERR_BAD_CHAR},
    {"mail.example.com", "tab\there", NULL, SMTP_ERR_BAD_CHAR},
    {"mail.example.com", "del\x7f", NULL, SMTP_ERR_BAD_CHAR},
    {"mail.example.com", NULL, "XFOO\r\n250 STARTTLS", SMTP_ERR_BAD_CHAR},
    {"mail.example.com", NULL, "XFOO\n", SMTP_ERR_BAD_CHAR},
    {"mail.example.com", NULL, "XFOO\x1b", SMTP_ERR_BAD_CHAR},
    {"mail\x01.example.com", NULL, NULL, SMTP_ERR_BAD_CHAR},
    /* Domain syntax (RFC 5321 4.1.2). */
    {"", NULL, NULL, SMTP_ERR_SYNTAX},
    {"-mail.example.com", NULL, NULL, SMTP_ERR_SYNTAX},
    {"mail-.example.com", NULL, NULL, SMTP_ERR_SYNTAX},
    {"mail..example.com", NULL, NULL, SMTP_ERR_SYNTAX},
    {".example.com", NULL, NULL, SMTP_ERR_SYNTAX},
    {"example.com.", NULL, NULL, SMTP_ERR_SYNTAX},
    {"mail_x.example.com", NULL, NULL, SMTP_ERR_SYNTAX},
    {"mail example.com", NULL, NULL, SMTP_ERR_SYNTAX},
    {"m\xc3\xa4il.example", NULL, NULL, SMTP_ERR_SYNTAX},
    {"[", NULL, NULL, SMTP_ERR_SYNTAX},
    {"[]", NULL, NULL, SMTP_ERR_SYNTAX},
    {"[192.0.2.1", NULL, NULL, SMTP_ERR_SYNTAX},
    {"[1.2.3.4]x", NULL, NULL, SMTP_ERR_SYNTAX},
    {"[a[b]", NULL, NULL, SMTP_ERR_SYNTAX},
    {"[a b]", NULL, NULL, SMTP_ERR_SYNTAX},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", NULL, NULL,
     SMTP_ERR_SYNTAX}, /* 64-octet label */
    /* Greeting: printable ASCII only. */
    {"mail.example.com", "caf\xc3\xa9", NULL, SMTP_ERR_SYNTAX},
    /* Extras must be ehlo-lines (RFC 5321 4.1.1.1). */
    {"mail.example.com", NULL, "", SMTP_ERR_SYNTAX},
    {"mail.example.com", NULL, " XFOO", SMTP_ERR_SYNTAX},
    {"mail.example.com", NULL, "-XFOO", SMTP_ERR_SYNTAX},
    {"mail.example.com", NULL, "X_FOO", SMTP_ERR_SYNTAX},
    {"mail.example.com", NULL, "XFOO ", SMTP_ERR_SYNTAX},
    {"mail.example.com", NULL, "XFOO  BAR", SMTP_ERR_SYNTAX},
    {"mail.example.com", NULL, "AUTH=LOGIN", SMTP_ERR_SYNTAX},
    {"mail.example.com", NULL, "XFOO b\xc3\xa4r", SMTP_ERR_SYNTAX},
};

static void test_build_errors(void **state) {
  char buf[1024];
  (void)state;
  for (size_t i = 0; i < sizeof(build_errors) / sizeof(build_errors[0]); i++) {
    const char *extra[1] = {build_errors[i].extra};
    smtp_ehlo_config cfg = {SMTP_EHLO_CONFIG_VERSION, SMTP_EXT_PIPELINING, 0, 0, 0, 0, extra, build_errors[i].extra ? 1u : 0u};
    smtp_ssize n = smtp_ehlo_reply_build(buf, sizeof(buf), build_errors[i].domain,
                                         build_errors[i].greeting, &cfg);
    if (n != build_errors[i].want) fprintf(stderr, "build error vector %zu: %td\n", i, n);
    assert_int_equal(n, build_errors[i].want);
  }
}

static void test_build_arguments(void **state) {
  char buf[1024];
  smtp_ehlo_config cfg;
  const char *extra[2] = {"XFOO", NULL};
  (void)state;
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), NULL, NULL, NULL),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_ehlo_reply_build(NULL, 10, "a.example", NULL, NULL),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_ehlo_reply_build(NULL, 0, "a.example", NULL, NULL),
                   SMTP_ERR_BUFFER_TOO_SMALL);
  /* the struct's version: the one this header describes, nothing else
   * (0 is what a caller that never set it has; 2 is a future layout) */
  memset(&cfg, 0, sizeof(cfg));
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.version = SMTP_EHLO_CONFIG_VERSION + 1;
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.version = SMTP_EHLO_CONFIG_VERSION;
  assert_true(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg) > 0);
  cfg.flags = 1u << 25; /* unknown flag */
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.flags = SMTP_EXT_AUTH; /* AUTH without a mechanism (RFC 4954 3) */
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.auth_mechs = 1u << 12; /* unknown mechanism */
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.auth_mechs = SMTP_SASL_PLAIN;
  assert_true(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg) > 0);
  cfg.flags = SMTP_EXT_FUTURERELEASE; /* RFC 4865 3: needs parameters; use extra */
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.flags = SMTP_EXT_LIMITS;
  cfg.limits_rcptmax = 1000000; /* RFC 9422: at most six digits */
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.limits_rcptmax = 999999;
  assert_true(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg) > 0);
  cfg.limits_mailmax = 1000000;
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.limits_mailmax = 0;
  cfg.nextra = 1; /* extra NULL */
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.extra = extra;
  cfg.nextra = 2; /* a NULL entry */
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_INVALID_ARGUMENT);
  cfg.nextra = 1;
  assert_true(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg) > 0);
  /* FUTURERELEASE through extra, with its parameters (RFC 4865 3). */
  extra[0] = "FUTURERELEASE 604800 2026-12-31T00:00:00Z";
  cfg.flags = 0;
  smtp_ssize n = smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg);
  assert_int_equal(n, (smtp_ssize)strlen("250-a.example\r\n250 FUTURERELEASE 604800 2026-12-31T00:00:00Z\r\n"));
}

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with CRLF. */
static void test_build_line_length(void **state) {
  char buf[4096], greet[600], ext[600];
  const char *extra[1] = {ext};
  smtp_ehlo_config cfg = {SMTP_EHLO_CONFIG_VERSION, 0, 0, 0, 0, 0, extra, 1};
  (void)state;
  /* "250-a.example " + greeting + CRLF = 512 exactly. */
  memset(greet, 'g', 512 - 16);
  greet[512 - 16] = 0;
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", greet, NULL), 512);
  greet[512 - 16] = 'g';
  greet[512 - 15] = 0;
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", greet, NULL),
                   SMTP_ERR_TOO_LONG);
  memset(ext, 'X', 512 - 6);
  ext[512 - 6] = 0;
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg), 15 + 512);
  ext[512 - 6] = 'X';
  ext[512 - 5] = 0;
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), "a.example", NULL, &cfg),
                   SMTP_ERR_TOO_LONG);
  /* A 255-octet domain is fine; 256 is not (RFC 5321 4.5.3.1.2). */
  char dom[300];
  size_t o = 0;
  for (int l = 0; l < 4; l++) {
    memset(dom + o, 'd', 62);
    o += 62;
    dom[o++] = '.';
  }
  memset(dom + o, 'd', 255 - o);
  dom[255] = 0;
  assert_true(smtp_ehlo_reply_build(buf, sizeof(buf), dom, NULL, NULL) > 0);
  dom[255] = 'd';
  dom[256] = 0;
  assert_int_equal(smtp_ehlo_reply_build(buf, sizeof(buf), dom, NULL, NULL), SMTP_ERR_SYNTAX);
}

static size_t popcount(unsigned v) {
  size_t n = 0;
  for (; v; v &= v - 1) n++;
  return n;
}

/* Build, split, parse: the same flags and values come back. */
static void test_build_parse_roundtrip(void **state) {
  static const unsigned int all_flags =
      SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME |
      SMTP_EXT_CHUNKING | SMTP_EXT_SMTPUTF8 | SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_DSN |
      SMTP_EXT_STARTTLS | SMTP_EXT_AUTH | SMTP_EXT_REQUIRETLS | SMTP_EXT_LIMITS |
      SMTP_EXT_DELIVERBY | SMTP_EXT_MT_PRIORITY | SMTP_EXT_ETRN | SMTP_EXT_VRFY |
      SMTP_EXT_EXPN | SMTP_EXT_HELP;
  static const uint64_t sizes[] = {0, 1, 10240000, 35882577, UINT64_MAX};
  uint32_t seed = 42;
  (void)state;
  for (int round = 0; round < 500; round++) {
    char buf[2048];
    test_reply t;
    smtp_capabilities c;
    smtp_ehlo_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.version = SMTP_EHLO_CONFIG_VERSION;
    seed = seed * 1103515245u + 12345u;
    cfg.flags = (round == 0 ? all_flags : (seed >> 5)) & all_flags;
    seed = seed * 1103515245u + 12345u;
    cfg.auth_mechs = (seed >> 8) & 0xFFu;
    if (!cfg.auth_mechs) cfg.auth_mechs = SMTP_SASL_PLAIN;
    cfg.size_max = sizes[(unsigned)round % 5];
    cfg.limits_rcptmax = (seed >> 3) % 3 ? (seed >> 4) % 999999u + 1 : 0;
    cfg.limits_mailmax = (seed >> 6) % 3 ? (seed >> 9) % 999999u + 1 : 0;
    smtp_ssize n = smtp_ehlo_reply_build(buf, sizeof(buf), "mx.example.com",
                                         round % 2 ? "ESMTP ready" : NULL, &cfg);
    assert_true(n > 0);
    split_reply(&t, buf, (size_t)n);
    assert_int_equal(t.r.code, 250);
    assert_int_equal(smtp_capabilities_parse(&t.r, &c), SMTP_OK);
    assert_int_equal(c.flags, cfg.flags);
    assert_true(span_is(c.greeting, round % 2 ? "mx.example.com ESMTP ready" : "mx.example.com"));
    if (cfg.flags & SMTP_EXT_SIZE) {
      assert_int_equal(c.size_max, cfg.size_max);
      assert_int_equal(c.size_has_value, cfg.size_max != 0);
    }
    assert_int_equal(c.auth_mechs, (cfg.flags & SMTP_EXT_AUTH) ? cfg.auth_mechs : 0);
    if (cfg.flags & SMTP_EXT_LIMITS) {
      assert_int_equal(c.limits_rcptmax, cfg.limits_rcptmax);
      assert_int_equal(c.limits_mailmax, cfg.limits_mailmax);
    } else {
      assert_int_equal(c.limits_rcptmax, 0);
    }
    assert_int_equal(c.nkeywords, popcount(cfg.flags));
    /* Every line but the last uses "250-", the last "250 " (RFC 5321 4.2.1). */
    assert_memory_equal(buf + n - 2, "\r\n", 2);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_servers),
      cmocka_unit_test(test_keywords_in_order),
      cmocka_unit_test(test_greeting_injection),
      cmocka_unit_test(test_size),
      cmocka_unit_test(test_auth),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_malformed_lines),
      cmocka_unit_test(test_unknown_keywords_kept),
      cmocka_unit_test(test_every_flag),
      cmocka_unit_test(test_too_many_keywords),
      cmocka_unit_test(test_parse_arguments),
      cmocka_unit_test(test_sasl_names),
      cmocka_unit_test(test_build_exact),
      cmocka_unit_test(test_build_errors),
      cmocka_unit_test(test_build_arguments),
      cmocka_unit_test(test_build_line_length),
      cmocka_unit_test(test_build_parse_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
