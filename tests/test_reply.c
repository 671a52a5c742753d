/* Reply codes, enhanced status codes, the incremental reply parser and the
 * formatter (RFC 5321 4.2, 4.2.1, 4.5.3.1.5; RFC 3463 2; RFC 2034 4;
 * RFC 2920 3.1). Every parser vector is fed whole, one byte at a time and
 * at 50 seeded random split points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/reply.h>

/* ------------------------------------------------------------ allocators */

typedef struct counting {
  long live;     /* allocations not yet freed */
  long calls;    /* allocation calls so far */
  long fail_at;  /* fail the call with this index (0-based); -1 never */
} counting;

static void *c_malloc(size_t n, void *ud) {
  counting *c = (counting *)ud;
  if (c->fail_at >= 0 && c->calls++ == c->fail_at) return NULL;
  if (c->fail_at < 0) c->calls++;
  void *p = malloc(n);
  if (p) c->live++;
  return p;
}
static void c_free(void *p, void *ud) {
  counting *c = (counting *)ud;
  if (p) c->live--;
  free(p);
}
static void *c_calloc(size_t n, size_t s, void *ud) {
  void *p = c_malloc(n * s, ud);
  if (p) memset(p, 0, n * s);
  return p;
}
static void *c_realloc(void *p, size_t n, void *ud) {
  (void)p; (void)n; (void)ud;
  return NULL; /* the parser never reallocates (it moves its store with malloc) */
}

static smtp_mem counting_mem(counting *c) {
  smtp_mem m = {c, c_malloc, c_free, c_calloc, c_realloc};
  return m;
}

/* ------------------------------------------------------------ PRNG */

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s ? s : 0x9E3779B97F4A7C15ull; }
static uint64_t rng_next(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

/* ------------------------------------------------------------ vectors */

#define MAXL 6
typedef struct exp_reply {
  int code;
  const char *enh; /* "c.s.d" or NULL */
  const char *lines[MAXL]; /* NULL-terminated */
} exp_reply;

enum { END_DONE = 1, END_MORE = 2 }; /* or a negative error */

typedef struct vec {
  const char *name;
  const char *rfc;
  const char *in;
  size_t inlen;
  int enhanced;
  size_t max_line, max_lines;
  int end;
  int nreplies;
  exp_reply r[3];
} vec;

#define IN(s) s, sizeof(s) - 1
#define L(...) {__VA_ARGS__, NULL}

static const vec vectors[] = {
  /* --- valid single-line replies, RFC 5321 4.2 */
  {"single", "RFC 5321 4.2", IN("250 OK\r\n"), 0, 0, 0, END_DONE, 1, {{250, NULL, L("OK")}}},
  {"greeting", "RFC 5321 4.2, 4.3.1", IN("220 mx.example.com ESMTP ready\r\n"), 0, 0, 0,
   END_DONE, 1, {{220, NULL, L("mx.example.com ESMTP ready")}}},
  {"bare final code", "RFC 5321 4.2 Reply-line", IN("250\r\n"), 0, 0, 0, END_DONE, 1,
   {{250, NULL, L("")}}},
  {"code space empty text", "RFC 5321 4.2 (lenient: SP without text)", IN("250 \r\n"), 0, 0,
   0, END_DONE, 1, {{250, NULL, L("")}}},
  {"354", "RFC 5321 4.3.2", IN("354 Start mail input; end with <CRLF>.<CRLF>\r\n"), 0, 0, 0,
   END_DONE, 1, {{354, NULL, L("Start mail input; end with <CRLF>.<CRLF>")}}},
  {"lowest code 200", "RFC 5321 4.2.1", IN("200 x\r\n"), 0, 0, 0, END_DONE, 1,
   {{200, NULL, L("x")}}},
  {"highest code 559", "RFC 5321 4.2.1", IN("559 x\r\n"), 0, 0, 0, END_DONE, 1,
   {{559, NULL, L("x")}}},
  {"htab in text", "RFC 5321 4.2 textstring", IN("250 a\tb\r\n"), 0, 0, 0, END_DONE, 1,
   {{250, NULL, L("a\tb")}}},
  {"utf8 text", "RFC 6531 3.7.4", IN("250 h\xc3\xa9llo\r\n"), 0, 0, 0, END_DONE, 1,
   {{250, NULL, L("h\xc3\xa9llo")}}},
  {"text with digits and dashes", "RFC 5321 4.2", IN("250 250-250 x\r\n"), 0, 0, 0,
   END_DONE, 1, {{250, NULL, L("250-250 x")}}},
  /* --- multi-line, RFC 5321 4.2.1 */
  {"ehlo multi-line", "RFC 5321 4.2.1, 4.1.1.1",
   IN("250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"), 0, 0,
   0, END_DONE, 1,
   {{250, NULL, L("mx.example.com", "PIPELINING", "SIZE 10240000", "8BITMIME")}}},
  {"empty continuation text", "RFC 5321 4.2 [ textstring ]", IN("250-\r\n250 end\r\n"), 0, 0,
   0, END_DONE, 1, {{250, NULL, L("", "end")}}},
  {"bare final after continuation", "RFC 5321 4.2", IN("250-first\r\n250\r\n"), 0, 0, 0,
   END_DONE, 1, {{250, NULL, L("first", "")}}},
  {"multi-line 554", "RFC 5321 4.2.1", IN("554-No\r\n554-service\r\n554 here\r\n"), 0, 0, 0,
   END_DONE, 1, {{554, NULL, L("No", "service", "here")}}},
  /* --- enhanced codes, RFC 2034 4 / RFC 3463 2 */
  {"enhanced off leaves text", "RFC 2034 3", IN("421 4.4.2 Timeout\r\n"), 0, 0, 0, END_DONE,
   1, {{421, NULL, L("4.4.2 Timeout")}}},
  {"enhanced 4.4.2", "RFC 2034 4, RFC 3463 3.5", IN("421 4.4.2 Timeout\r\n"), 1, 0, 0,
   END_DONE, 1, {{421, "4.4.2", L("Timeout")}}},
  {"enhanced 5.1.1", "RFC 3463 3.2", IN("550 5.1.1 User unknown\r\n"), 1, 0, 0, END_DONE, 1,
   {{550, "5.1.1", L("User unknown")}}},
  {"enhanced every line", "RFC 2034 4",
   IN("550-5.1.1 first\r\n550 5.1.1 second\r\n"), 1, 0, 0, END_DONE, 1,
   {{550, "5.1.1", L("first", "second")}}},
  {"enhanced class mismatch left in text", "RFC 2034 4", IN("250 5.1.1 odd\r\n"), 1, 0, 0,
   END_DONE, 1, {{250, NULL, L("5.1.1 odd")}}},
  {"enhanced leading zero invalid", "RFC 3463 2", IN("550 5.01.1 bad\r\n"), 1, 0, 0,
   END_DONE, 1, {{550, NULL, L("5.01.1 bad")}}},
  {"enhanced alone", "RFC 2034 4", IN("550 5.1.1\r\n"), 1, 0, 0, END_DONE, 1,
   {{550, "5.1.1", L("")}}},
  {"enhanced not followed by space", "RFC 2034 4", IN("550 5.1.1x\r\n"), 1, 0, 0, END_DONE,
   1, {{550, NULL, L("5.1.1x")}}},
  {"enhanced four-digit subject", "RFC 3463 2", IN("550 5.1000.1 x\r\n"), 1, 0, 0,
   END_DONE, 1, {{550, NULL, L("5.1000.1 x")}}},
  {"enhanced three-digit parts", "RFC 3463 2", IN("550 5.999.100 x\r\n"), 1, 0, 0, END_DONE,
   1, {{550, "5.999.100", L("x")}}},
  {"enhanced only one space stripped", "RFC 2034 4", IN("550 5.1.1  two\r\n"), 1, 0, 0,
   END_DONE, 1, {{550, "5.1.1", L(" two")}}},
  {"enhanced 4.5.3", "RFC 5321 4.5.3.1.10", IN("452 4.5.3 Too many recipients\r\n"), 1, 0,
   0, END_DONE, 1, {{452, "4.5.3", L("Too many recipients")}}},
  {"enhanced first line rules", "RFC 2034 4",
   IN("250-2.0.0 a\r\n250-b\r\n250 2.0.0 c\r\n"), 1, 0, 0, END_DONE, 1,
   {{250, "2.0.0", L("a", "b", "c")}}},
  {"enhanced only on later line", "RFC 2034 4", IN("250-a\r\n250 2.0.0 b\r\n"), 1, 0, 0,
   END_DONE, 1, {{250, NULL, L("a", "b")}}},
  {"enhanced class 3 never", "RFC 3463 3.1", IN("354 3.0.0 go\r\n"), 1, 0, 0, END_DONE, 1,
   {{354, NULL, L("3.0.0 go")}}},
  {"enhanced then tab", "RFC 2034 4 (SP only)", IN("550 5.0.0\tx\r\n"), 1, 0, 0, END_DONE,
   1, {{550, NULL, L("5.0.0\tx")}}},
  {"enhanced class 4 on 5xx", "RFC 2034 4", IN("550 4.0.0 x\r\n"), 1, 0, 0, END_DONE, 1,
   {{550, NULL, L("4.0.0 x")}}},
  {"enhanced 0.0", "RFC 3463 3.1", IN("250 2.0.0 OK\r\n"), 1, 0, 0, END_DONE, 1,
   {{250, "2.0.0", L("OK")}}},
  {"enhanced truncated", "RFC 3463 2", IN("550 5.1.\r\n"), 1, 0, 0, END_DONE, 1,
   {{550, NULL, L("5.1.")}}},
  /* --- pipelining, RFC 2920 3.1 */
  {"pipelined three", "RFC 2920 3.1",
   IN("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Go ahead\r\n"), 1, 0, 0,
   END_DONE, 3,
   {{250, "2.1.0", L("Sender OK")}, {250, "2.1.5", L("Recipient OK")},
    {354, NULL, L("Go ahead")}}},
  {"pipelined multi then single", "RFC 2920 3.1",
   IN("250-a\r\n250 b\r\n550 5.1.1 no\r\n"), 1, 0, 0, END_DONE, 2,
   {{250, NULL, L("a", "b")}, {550, "5.1.1", L("no")}}},
  {"pipelined partial tail", "RFC 2920 3.1", IN("250 OK\r\n250-partial"), 0, 0, 0, END_MORE,
   1, {{250, NULL, L("OK")}}},
  {"pipelined then garbage", "RFC 5321 4.2", IN("250 OK\r\n\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_SYNTAX, 1, {{250, NULL, L("OK")}}},
  {"pipelined then mismatch", "RFC 5321 4.2.1", IN("221 Bye\r\n250-a\r\n251 b\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_CODE_MISMATCH, 1, {{221, NULL, L("Bye")}}},
  /* --- incomplete input */
  {"incomplete text", "RFC 5321 4.2", IN("250 OK"), 0, 0, 0, END_MORE, 0, {{0}}},
  {"incomplete code", "RFC 5321 4.2", IN("25"), 0, 0, 0, END_MORE, 0, {{0}}},
  {"incomplete after code", "RFC 5321 4.2", IN("250"), 0, 0, 0, END_MORE, 0, {{0}}},
  {"incomplete after CR", "RFC 5321 4.2", IN("250 OK\r"), 0, 0, 0, END_MORE, 0, {{0}}},
  {"incomplete continuation", "RFC 5321 4.2.1", IN("250-a\r\n"), 0, 0, 0, END_MORE, 0, {{0}}},
  {"incomplete second code", "RFC 5321 4.2.1", IN("250-a\r\n25"), 0, 0, 0, END_MORE, 0,
   {{0}}},
  /* --- invalid codes and separators, RFC 5321 4.2 / 4.2.1 */
  {"two digits", "RFC 5321 4.2", IN("25\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  {"four digits", "RFC 5321 4.2", IN("2500 x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  {"letter after code", "RFC 5321 4.2", IN("250x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"tab after code", "RFC 5321 4.2", IN("250\tx\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"first digit 6", "RFC 5321 4.2.1", IN("600 x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"first digit 1", "RFC 5321 4.2.1", IN("199 x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"first digit 0", "RFC 5321 4.2.1", IN("050 x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"second digit 6", "RFC 5321 4.2.1", IN("260 x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"second digit 9", "RFC 5321 4.2.1", IN("599 x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"letter O for zero", "RFC 5321 4.2", IN("25O x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"leading space", "RFC 5321 4.2", IN(" 250 x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"leading hyphen", "RFC 5321 4.2", IN("-250 x\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"empty line", "RFC 5321 4.2", IN("\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  {"words", "RFC 5321 4.2", IN("OK\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  /* --- line endings: only CRLF, RFC 5321 2.3.8 / 4.2 */
  {"bare LF after code", "RFC 5321 2.3.8", IN("250\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"bare LF line end", "RFC 5321 2.3.8", IN("250 OK\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"bare LF in text", "RFC 5321 2.3.8", IN("250 O\nK\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"bare CR line end", "RFC 5321 2.3.8", IN("250 OK\r250 x\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  {"bare CR in text", "RFC 5321 2.3.8", IN("250 O\rK\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"CR CR LF", "RFC 5321 2.3.8", IN("250 a\r\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  {"code CR CR LF", "RFC 5321 2.3.8", IN("250\r\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"bare LF in continuation", "RFC 5321 2.3.8", IN("250-a\n250 b\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  {"NUL in text", "RFC 5321 4.2 textstring", IN("250 O\0K\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  {"NUL first", "RFC 5321 4.2", IN("\0"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  {"NUL after code", "RFC 5321 4.2", IN("250\0\r\n"), 0, 0, 0, SMTP_ERR_REPLY_SYNTAX, 0,
   {{0}}},
  {"DEL in text", "RFC 5321 4.2 textstring", IN("250 a\x7f\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  {"ESC in text", "RFC 5321 4.2 textstring", IN("250 a\x1b[31m\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  /* --- code mismatch, RFC 5321 4.2.1 */
  {"mismatch last digit", "RFC 5321 4.2.1", IN("250-a\r\n251 b\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_CODE_MISMATCH, 0, {{0}}},
  {"mismatch class", "RFC 5321 4.2.1 (OpenSMTPD CVE-2020-8794)", IN("550-a\r\n250 b\r\n"), 0,
   0, 0, SMTP_ERR_REPLY_CODE_MISMATCH, 0, {{0}}},
  {"mismatch in middle", "RFC 5321 4.2.1", IN("250-a\r\n220-b\r\n250 c\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_CODE_MISMATCH, 0, {{0}}},
  {"mismatch bare final", "RFC 5321 4.2.1", IN("250-a\r\n220\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_CODE_MISMATCH, 0, {{0}}},
  {"syntax on second line", "RFC 5321 4.2", IN("250-a\r\n2x0 b\r\n"), 0, 0, 0,
   SMTP_ERR_REPLY_SYNTAX, 0, {{0}}},
  /* --- bounds, RFC 5321 4.5.3.1.5 (small limits) */
  {"line at max_line", "RFC 5321 4.5.3.1.5", IN("250 1234\r\n"), 0, 10, 0, END_DONE, 1,
   {{250, NULL, L("1234")}}},
  {"line over max_line by LF", "RFC 5321 4.5.3.1.5", IN("250 12345\r\n"), 0, 10, 0,
   SMTP_ERR_REPLY_TOO_LONG, 0, {{0}}},
  {"line over max_line", "RFC 5321 4.5.3.1.5", IN("250 123456789\r\n"), 0, 10, 0,
   SMTP_ERR_REPLY_TOO_LONG, 0, {{0}}},
  {"minimal max_line", "RFC 5321 4.2", IN("250\r\n"), 0, 5, 0, END_DONE, 1,
   {{250, NULL, L("")}}},
  {"minimal max_line SP", "RFC 5321 4.5.3.1.5", IN("250 \r\n"), 0, 5, 0,
   SMTP_ERR_REPLY_TOO_LONG, 0, {{0}}},
  {"second line too long", "RFC 5321 4.5.3.1.5", IN("250-1234\r\n250 12345\r\n"), 0, 10, 0,
   SMTP_ERR_REPLY_TOO_LONG, 0, {{0}}},
  {"max lines exact", "RFC 5321 4.2.1", IN("250-a\r\n250 b\r\n"), 0, 0, 2, END_DONE, 1,
   {{250, NULL, L("a", "b")}}},
  {"too many lines", "RFC 5321 4.2.1", IN("250-a\r\n250-b\r\n250 c\r\n"), 0, 0, 2,
   SMTP_ERR_REPLY_TOO_MANY_LINES, 0, {{0}}},
  {"one line only", "RFC 5321 4.2.1", IN("250-a\r\n"), 0, 0, 1, SMTP_ERR_REPLY_TOO_MANY_LINES,
   0, {{0}}},
  {"limits reset per reply", "RFC 2920 3.1", IN("250-a\r\n250 b\r\n250-c\r\n250 d\r\n"), 0,
   10, 2, END_DONE, 2, {{250, NULL, L("a", "b")}, {250, NULL, L("c", "d")}}},
};

/* ------------------------------------------------------------ runner */

typedef struct got_reply {
  int code;
  int has_enh;
  smtp_enhanced_code enh;
  size_t nlines;
  char *lines[64];
  size_t lens[64];
} got_reply;

typedef struct outcome {
  int end;
  int nreplies;
  got_reply r[8];
} outcome;

static void outcome_free(outcome *o) {
  for (int i = 0; i < o->nreplies; i++)
    for (size_t j = 0; j < o->r[i].nlines; j++) free(o->r[i].lines[j]);
  o->nreplies = 0;
}

static void capture(outcome *o, const smtp_reply *rep) {
  assert_non_null(rep);
  assert_true(o->nreplies < 8);
  got_reply *g = &o->r[o->nreplies++];
  g->code = rep->code;
  g->has_enh = rep->has_enhanced;
  g->enh = rep->enhanced;
  g->nlines = rep->nlines;
  assert_true(rep->nlines >= 1 && rep->nlines <= 64);
  for (size_t j = 0; j < rep->nlines; j++) {
    g->lines[j] = malloc(rep->lines[j].len + 1);
    assert_non_null(g->lines[j]);
    if (rep->lines[j].len) memcpy(g->lines[j], rep->lines[j].ptr, rep->lines[j].len);
    g->lines[j][rep->lines[j].len] = '\0';
    g->lens[j] = rep->lines[j].len;
  }
}

/* Feed `in` cut at the sorted positions `cuts` (ncuts of them). */
static void run(smtp_reply_parser *p, const char *in, size_t len, const size_t *cuts,
                size_t ncuts, outcome *o) {
  size_t start = 0;
  o->nreplies = 0;
  o->end = 0;
  for (size_t k = 0; k <= ncuts; k++) {
    size_t stop = k < ncuts ? cuts[k] : len;
    size_t off = start;
    while (off < stop) {
      smtp_ssize r = smtp_reply_parser_feed(p, in + off, stop - off);
      if (r < 0) {
        o->end = (int)r;
        assert_false(smtp_reply_parser_done(p));
        assert_null(smtp_reply_parser_reply(p));
        /* Sticky until reset. */
        assert_int_equal(smtp_reply_parser_feed(p, "250 OK\r\n", 8), r);
        return;
      }
      assert_true((size_t)r <= stop - off);
      off += (size_t)r;
      if (smtp_reply_parser_done(p)) {
        capture(o, smtp_reply_parser_reply(p));
        /* An empty feed keeps the reply. */
        assert_int_equal(smtp_reply_parser_feed(p, "", 0), 0);
        assert_true(smtp_reply_parser_done(p));
      } else {
        assert_int_equal(off, stop); /* no reply yet: everything consumed */
      }
    }
    start = stop;
  }
  o->end = smtp_reply_parser_done(p) ? END_DONE : END_MORE;
}

static void check_outcome(const vec *v, const outcome *o, const char *how) {
  if (o->end != v->end || o->nreplies != v->nreplies) {
    fprintf(stderr, "vector '%s' (%s) fed %s: end %d (want %d), replies %d (want %d)\n",
            v->name, v->rfc, how, o->end, v->end, o->nreplies, v->nreplies);
    fail();
  }
  for (int i = 0; i < v->nreplies; i++) {
    const exp_reply *e = &v->r[i];
    const got_reply *g = &o->r[i];
    size_t n = 0;
    while (n < MAXL && e->lines[n]) n++;
    if (g->code != e->code || g->nlines != n || g->has_enh != (e->enh != NULL)) {
      fprintf(stderr, "vector '%s' fed %s: reply %d code %d lines %zu enh %d\n", v->name,
              how, i, g->code, g->nlines, g->has_enh);
      fail();
    }
    if (e->enh) {
      char buf[16];
      assert_true(smtp_enhanced_code_format(&g->enh, buf, sizeof(buf)) > 0);
      assert_string_equal(buf, e->enh);
    }
    for (size_t j = 0; j < n; j++) {
      if (g->lens[j] != strlen(e->lines[j]) || memcmp(g->lines[j], e->lines[j], g->lens[j])) {
        fprintf(stderr, "vector '%s' fed %s: reply %d line %zu is '%s', want '%s'\n", v->name,
                how, i, j, g->lines[j], e->lines[j]);
        fail();
      }
    }
  }
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* Whole, one byte at a time, and 50 random split sets. */
static void run_vector(const vec *v) {
  counting cnt = {0, 0, -1};
  smtp_mem m = counting_mem(&cnt);
  smtp_reply_parser *p = NULL;
  outcome o;
  size_t *cuts = malloc((v->inlen + 5) * sizeof(size_t));
  assert_non_null(cuts);
  assert_int_equal(smtp_reply_parser_new(&p, v->max_line, v->max_lines, &m), SMTP_OK);
  smtp_reply_parser_set_enhanced(p, v->enhanced);

  run(p, v->in, v->inlen, NULL, 0, &o);
  check_outcome(v, &o, "whole");
  outcome_free(&o);

  smtp_reply_parser_reset(p);
  for (size_t i = 1; i < v->inlen; i++) cuts[i - 1] = i;
  run(p, v->in, v->inlen, cuts, v->inlen ? v->inlen - 1 : 0, &o);
  check_outcome(v, &o, "byte by byte");
  outcome_free(&o);

  rng_seed(0x5EED0000u + v->inlen);
  for (int t = 0; t < 50; t++) {
    size_t n = v->inlen > 1 ? (size_t)(rng_next() % 4) + 1 : 0;
    for (size_t i = 0; i < n; i++) cuts[i] = (size_t)(rng_next() % v->inlen);
    qsort(cuts, n, sizeof(size_t), cmp_size);
    smtp_reply_parser_reset(p);
    run(p, v->in, v->inlen, cuts, n, &o);
    check_outcome(v, &o, "at random splits");
    outcome_free(&o);
  }
  smtp_reply_parser_del(p);
  free(cuts);
  assert_int_equal(cnt.live, 0);
}

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) run_vector(&vectors[i]);
}

/* Generated vectors: default 512-octet line bound (RFC 5321 4.5.3.1.5), the
 * whole-reply bound, a peer that never sends CRLF. */
static char *make_line(const char *head, size_t textlen, const char *tail) {
  size_t hl = strlen(head), tl = strlen(tail);
  char *s = malloc(hl + textlen + tl + 1);
  assert_non_null(s);
  memcpy(s, head, hl);
  memset(s + hl, 'A', textlen);
  memcpy(s + hl + textlen, tail, tl + 1);
  return s;
}

static void test_long_lines(void **state) {
  (void)state;
  /* 4 + 506 + 2 = 512: accepted. */
  char *s = make_line("250 ", 506, "\r\n");
  char *want = make_line("", 506, "");
  vec v = {"512-octet line", "RFC 5321 4.5.3.1.5", s, strlen(s), 0, 0, 0, END_DONE, 1,
           {{250, NULL, {want, NULL}}}};
  run_vector(&v);
  free(s);
  /* 513: refused. */
  s = make_line("250 ", 507, "\r\n");
  vec v2 = {"513-octet line", "RFC 5321 4.5.3.1.5", s, strlen(s), 0, 0, 0,
            SMTP_ERR_REPLY_TOO_LONG, 0, {{0}}};
  run_vector(&v2);
  free(s);
  /* A peer that never ends the line: bounded, an error, not more memory. */
  s = make_line("250 ", 100000, "");
  vec v3 = {"endless line", "docs/security.md 4", s, strlen(s), 0, 0, 0, SMTP_ERR_REPLY_TOO_LONG,
            0, {{0}}};
  run_vector(&v3);
  free(s);
  /* Continuation line at 512 then a final one. */
  s = make_line("550-", 506, "\r\n550 x\r\n");
  vec v4 = {"512-octet continuation", "RFC 5321 4.5.3.1.5", s, strlen(s), 0, 0, 0, END_DONE, 1,
            {{550, NULL, {want, "x", NULL}}}};
  run_vector(&v4);
  free(s);
  free(want);
}

static void test_total_bound(void **state) {
  (void)state;
  /* Default limits: the whole reply is bounded by max(8192, 8 * 512). 16 lines
   * of 512 octets are 8192: accepted; a 17th line is refused. */
  size_t n = 16, ll = 512;
  char *s = malloc((n + 1) * ll + 1);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++) {
    memcpy(s + i * ll, i + 1 < n ? "250-" : "250 ", 4);
    memset(s + i * ll + 4, 'B', ll - 6);
    memcpy(s + i * ll + ll - 2, "\r\n", 2);
  }
  s[n * ll] = '\0';
  smtp_reply_parser *p;
  assert_int_equal(smtp_reply_parser_new(&p, 0, 0, NULL), SMTP_OK);
  assert_int_equal(smtp_reply_parser_feed(p, s, n * ll), (smtp_ssize)(n * ll));
  assert_true(smtp_reply_parser_done(p));
  assert_int_equal(smtp_reply_parser_reply(p)->nlines, 16);
  assert_int_equal(smtp_reply_parser_reply(p)->lines[15].len, 506);
  smtp_reply_parser_del(p);
  /* Same, with the last line a continuation, then one more byte. */
  memcpy(s + (n - 1) * ll, "250-", 4);
  memcpy(s + n * ll, "250 x\r\n", 8);
  vec v2 = {"reply over 8192", "bound", s, n * ll + 7, 0, 0, 0, SMTP_ERR_REPLY_TOO_LONG, 0,
            {{0}}};
  run_vector(&v2);
  free(s);
}

static void test_too_many_lines_default(void **state) {
  (void)state;
  /* 100 lines accepted (SMTP_REPLY_LINES_MAX), 101 refused. */
  char *s = malloc(101 * 7 + 1);
  assert_non_null(s);
  for (int i = 0; i < 101; i++) memcpy(s + i * 7, "250-a\r\n", 7);
  memcpy(s + 99 * 7, "250 a\r\n", 7);
  smtp_reply_parser *p;
  assert_int_equal(smtp_reply_parser_new(&p, 0, 0, NULL), SMTP_OK);
  assert_int_equal(smtp_reply_parser_feed(p, s, 100 * 7), 700);
  assert_int_equal(smtp_reply_parser_reply(p)->nlines, 100);
  memcpy(s + 99 * 7, "250-a\r\n", 7);
  memcpy(s + 100 * 7, "250 a\r\n", 7);
  vec v = {"101 lines", "RFC 5321 4.2.1", s, 101 * 7, 0, 0, 0, SMTP_ERR_REPLY_TOO_MANY_LINES,
           0, {{0}}};
  run_vector(&v);
  smtp_reply_parser_del(p);
  free(s);
}

/* ------------------------------------------------------------ API details */

static void test_sticky_and_reset(void **state) {
  (void)state;
  smtp_reply_parser *p;
  assert_int_equal(smtp_reply_parser_new(&p, 0, 0, NULL), SMTP_OK);
  assert_int_equal(smtp_reply_parser_feed(p, "250 OK\n", 7), SMTP_ERR_REPLY_SYNTAX);
  assert_int_equal(smtp_reply_parser_feed(p, "250 OK\r\n", 8), SMTP_ERR_REPLY_SYNTAX);
  assert_int_equal(smtp_reply_parser_feed(p, "", 0), SMTP_ERR_REPLY_SYNTAX);
  smtp_reply_parser_reset(p);
  assert_false(smtp_reply_parser_done(p));
  assert_int_equal(smtp_reply_parser_feed(p, "250 OK\r\n", 8), 8);
  assert_true(smtp_reply_parser_done(p));
  /* Reset forgets a complete reply too. */
  smtp_reply_parser_reset(p);
  assert_false(smtp_reply_parser_done(p));
  assert_null(smtp_reply_parser_reply(p));
  /* Invalid arguments are not sticky. */
  assert_int_equal(smtp_reply_parser_feed(p, NULL, 3), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_parser_feed(NULL, "250", 3), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_parser_feed(p, NULL, 0), 0);
  assert_int_equal(smtp_reply_parser_feed(p, "221 Bye\r\n", 9), 9);
  assert_int_equal(smtp_reply_parser_reply(p)->code, 221);
  smtp_reply_parser_del(p);
  smtp_reply_parser_del(NULL);
  assert_false(smtp_reply_parser_done(NULL));
  assert_null(smtp_reply_parser_reply(NULL));
  smtp_reply_parser_reset(NULL);
  smtp_reply_parser_set_enhanced(NULL, 1);
}

static void test_pipelined_stop(void **state) {
  (void)state;
  /* RFC 2920 3.1: feed stops after each reply; the spans stay valid until the
   * next feed even though the caller's buffer is gone. */
  char buf[] = "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n";
  smtp_reply_parser *p;
  assert_int_equal(smtp_reply_parser_new(&p, 0, 0, NULL), SMTP_OK);
  smtp_reply_parser_set_enhanced(p, 1);
  smtp_ssize r = smtp_reply_parser_feed(p, buf, strlen(buf));
  assert_int_equal(r, 21);
  memset(buf, 'Z', 21);
  const smtp_reply *rep = smtp_reply_parser_reply(p);
  assert_int_equal(rep->code, 250);
  assert_int_equal(rep->enhanced.detail, 0);
  assert_int_equal(rep->lines[0].len, 9);
  assert_memory_equal(rep->lines[0].ptr, "Sender OK", 9);
  r = smtp_reply_parser_feed(p, buf + 21, strlen(buf + 21));
  assert_int_equal(r, 24);
  rep = smtp_reply_parser_reply(p);
  assert_int_equal(rep->enhanced.detail, 5);
  assert_memory_equal(rep->lines[0].ptr, "Recipient OK", 12);
  smtp_reply_parser_del(p);
}

static void test_new_arguments(void **state) {
  (void)state;
  smtp_reply_parser *p = (smtp_reply_parser *)&p;
  assert_int_equal(smtp_reply_parser_new(NULL, 0, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_parser_new(&p, 4, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_null(p);
  assert_int_equal(smtp_reply_parser_new(&p, 65537, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_parser_new(&p, 0, 65537, NULL), SMTP_ERR_INVALID_ARGUMENT);
  smtp_mem bad = {NULL, NULL, NULL, NULL, NULL};
  assert_int_equal(smtp_reply_parser_new(&p, 0, 0, &bad), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_parser_new(&p, 65536, 65536, NULL), SMTP_OK);
  smtp_reply_parser_del(p);
}

static void test_nomem(void **state) {
  (void)state;
  /* Fail every allocation index until one run succeeds; nothing leaks. */
  for (long k = 0;; k++) {
    counting cnt = {0, 0, k};
    smtp_mem m = counting_mem(&cnt);
    smtp_reply_parser *p = (smtp_reply_parser *)&p;
    int r = smtp_reply_parser_new(&p, 0, 0, &m);
    if (r == SMTP_OK) {
      assert_true(k >= 1);
      assert_int_equal(smtp_reply_parser_feed(p, "250 OK\r\n", 8), 8);
      smtp_reply_parser_del(p);
      assert_int_equal(cnt.live, 0);
      break;
    }
    assert_int_equal(r, SMTP_ERR_NOMEM);
    assert_null(p);
    assert_int_equal(cnt.live, 0);
    assert_true(k < 10);
  }
}

/* The text store starts small and moves to a larger block only for a
 * reply larger than any before (reply.c). A 100-line reply of 8,000 octets
 * (within the default bounds, RFC 5321 4.5.3.1.5 lines) arrives whole and in
 * random pieces: every line's text is intact after the moves, the moves are
 * few, and the same reply again allocates nothing. */
static char *big_reply(size_t *len) {
  /* 100 lines of 80 octets: "250-" (or "250 ") + "L%03zu" + 'a'+i%26 fill + CRLF */
  char *s = malloc(100 * 80 + 1);
  assert_non_null(s);
  for (size_t i = 0; i < 100; i++) {
    char *l = s + i * 80;
    memcpy(l, i == 99 ? "250 " : "250-", 4);
    snprintf(l + 4, 5, "L%03zu", i);
    memset(l + 8, 'a' + (int)(i % 26), 70);
    memcpy(l + 78, "\r\n", 2);
  }
  *len = 100 * 80;
  return s;
}

static void check_big(const smtp_reply *r) {
  assert_non_null(r);
  assert_int_equal(r->code, 250);
  assert_int_equal(r->nlines, 100);
  for (size_t i = 0; i < 100; i++) {
    char want[75];
    snprintf(want, 5, "L%03zu", i);
    memset(want + 4, 'a' + (int)(i % 26), 70);
    assert_int_equal(r->lines[i].len, 74);
    assert_memory_equal(r->lines[i].ptr, want, 74);
  }
}

static smtp_ssize feed_pieces(smtp_reply_parser *p, const char *s, size_t len, uint64_t seed) {
  size_t off = 0;
  rng_seed(seed);
  while (off < len) {
    size_t n = seed ? (size_t)(rng_next() % 97) + 1 : len;
    if (n > len - off) n = len - off;
    smtp_ssize r = smtp_reply_parser_feed(p, s + off, n);
    if (r < 0) return r;
    assert_int_equal((size_t)r, n); /* one reply: everything is consumed */
    off += n;
  }
  return (smtp_ssize)off;
}

static void test_store_growth(void **state) {
  (void)state;
  size_t len;
  char *s = big_reply(&len);
  for (uint64_t seed = 0; seed < 40; seed++) {
    counting cnt = {0, 0, -1};
    smtp_mem m = counting_mem(&cnt);
    smtp_reply_parser *p;
    assert_int_equal(smtp_reply_parser_new(&p, 0, 0, &m), SMTP_OK);
    assert_int_equal(cnt.calls, 1);
    /* Small replies fit the first store. */
    for (int i = 0; i < 50; i++) {
      assert_int_equal(smtp_reply_parser_feed(p, "250-PIPELINING\r\n250 SIZE 100\r\n", 30), 30);
      assert_int_equal(smtp_reply_parser_reply(p)->nlines, 2);
    }
    assert_int_equal(cnt.calls, 1);
    assert_int_equal(feed_pieces(p, s, len, seed), (smtp_ssize)len);
    check_big(smtp_reply_parser_reply(p));
    /* text 512 -> 8192 is four moves, spans 16 -> 100 three */
    assert_true(cnt.calls >= 2 && cnt.calls <= 1 + 7);
    assert_int_equal(cnt.live, 2);
    long after = cnt.calls;
    assert_int_equal(feed_pieces(p, s, len, seed + 1000), (smtp_ssize)len);
    check_big(smtp_reply_parser_reply(p));
    assert_int_equal(feed_pieces(p, "221 bye\r\n", 9, 0), 9);
    assert_int_equal(cnt.calls, after); /* kept: nothing more allocated */
    smtp_reply_parser_reset(p);
    assert_int_equal(cnt.calls, after);
    smtp_reply_parser_del(p);
    assert_int_equal(cnt.live, 0);
  }
  free(s);
}

/* Allocation failure while the store grows: SMTP_ERR_NOMEM, sticky until a
 * reset, nothing leaks, and the parser works after the reset. */
static void test_store_growth_nomem(void **state) {
  (void)state;
  size_t len;
  char *s = big_reply(&len);
  for (long k = 1;; k++) {
    counting cnt = {0, 0, k};
    smtp_mem m = counting_mem(&cnt);
    smtp_reply_parser *p;
    assert_int_equal(smtp_reply_parser_new(&p, 0, 0, &m), SMTP_OK);
    smtp_ssize r = feed_pieces(p, s, len, (uint64_t)k);
    if (r == (smtp_ssize)len) {
      check_big(smtp_reply_parser_reply(p));
      smtp_reply_parser_del(p);
      assert_int_equal(cnt.live, 0);
      assert_true(k > 2);
      break;
    }
    assert_int_equal(r, SMTP_ERR_NOMEM);
    assert_false(smtp_reply_parser_done(p));
    assert_int_equal(smtp_reply_parser_feed(p, "250 OK\r\n", 8), SMTP_ERR_NOMEM);
    smtp_reply_parser_reset(p);
    assert_int_equal(smtp_reply_parser_feed(p, "250 OK\r\n", 8), 8);
    assert_true(smtp_reply_parser_done(p));
    smtp_reply_parser_del(p);
    assert_int_equal(cnt.live, 0);
    assert_true(k < 20);
  }
  free(s);
}

/* Small limits: the first store is capped by them and still grows to them. */
static void test_store_small_limits(void **state) {
  (void)state;
  smtp_reply_parser *p;
  assert_int_equal(smtp_reply_parser_new(&p, 6, 3, NULL), SMTP_OK);
  assert_int_equal(smtp_reply_parser_feed(p, "250-\r\n250-\r\n250\r\n", 17), 17);
  assert_int_equal(smtp_reply_parser_reply(p)->nlines, 3);
  assert_int_equal(smtp_reply_parser_feed(p, "250-\r\n250-\r\n250-\r\n", 18),
                   SMTP_ERR_REPLY_TOO_MANY_LINES);
  smtp_reply_parser_del(p);
  /* 40 lines of 200 octets (bound: 8,192 octets, 40 lines): text and
   * spans both move, the span table up to exactly its bound of 40. */
  assert_int_equal(smtp_reply_parser_new(&p, 400, 40, NULL), SMTP_OK);
  char *b = malloc(40 * 200);
  assert_non_null(b);
  for (int i = 0; i < 40; i++) {
    memcpy(b + i * 200, i == 39 ? "354 " : "354-", 4);
    memset(b + i * 200 + 4, '0' + i % 10, 194);
    memcpy(b + i * 200 + 198, "\r\n", 2);
  }
  assert_int_equal(feed_pieces(p, b, 40 * 200, 7), 40 * 200);
  const smtp_reply *r = smtp_reply_parser_reply(p);
  assert_int_equal(r->nlines, 40);
  for (int i = 0; i < 40; i++) {
    assert_int_equal(r->lines[i].len, 194);
    assert_int_equal(r->lines[i].ptr[0], '0' + i % 10);
    assert_int_equal(r->lines[i].ptr[193], '0' + i % 10);
  }
  /* a 41st line is refused at its bound */
  memcpy(b + 39 * 200, "354-", 4);
  assert_int_equal(feed_pieces(p, b, 40 * 200, 9), SMTP_ERR_REPLY_TOO_MANY_LINES);
  smtp_reply_parser_del(p);
  free(b);
}

/* ------------------------------------------------------------ codes */

static void test_code_class(void **state) {
  (void)state;
  static const struct { int code, cls; } t[] = {
    {200, 2}, {250, 2}, {259, 2}, {220, 2}, {354, 3}, {421, 4}, {452, 4}, {500, 5},
    {554, 5}, {559, 5}, {599, 0}, {260, 0}, {199, 0}, {600, 0}, {0, 0}, {-250, 0},
    {2500, 0}, {100, 0}, {190, 0}, {569, 0},
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
    assert_int_equal(smtp_reply_code_class(t[i].code), t[i].cls);
  assert_int_equal(SMTP_REPLY_PERMANENT_NEGATIVE, 5);
}

static void test_enhanced_parse(void **state) {
  (void)state;
  /* RFC 3463 2, RFC 2034 4. */
  static const struct { const char *s; int r, c, sub, det; size_t used; } t[] = {
    {"2.0.0", SMTP_OK, 2, 0, 0, 5},
    {"5.1.1 User unknown", SMTP_OK, 5, 1, 1, 5},
    {"4.7.0", SMTP_OK, 4, 7, 0, 5},
    {"5.7.30 x", SMTP_OK, 5, 7, 30, 6},
    {"5.999.999", SMTP_OK, 5, 999, 999, 9},
    {"5.10.100 ", SMTP_OK, 5, 10, 100, 8},
    {"5.01.1", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.1.01", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.00.1", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"3.0.0", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"1.0.0", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.1000.1", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.1.1000", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.1.1x", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.1.1.", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.1.1\t", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.1.", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5..1", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.1", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"51.1.1", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {" 5.1.1", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
    {"5.a.1", SMTP_ERR_ENHANCED_CODE, 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    smtp_enhanced_code ec = {9, 9, 9};
    size_t used = 77;
    int r = smtp_enhanced_code_parse(t[i].s, strlen(t[i].s), &ec, &used);
    if (r != t[i].r) fprintf(stderr, "enhanced '%s': %d\n", t[i].s, r);
    assert_int_equal(r, t[i].r);
    if (r == SMTP_OK) {
      assert_int_equal(ec.cls, t[i].c);
      assert_int_equal(ec.subject, t[i].sub);
      assert_int_equal(ec.detail, t[i].det);
      assert_int_equal(used, t[i].used);
    } else {
      assert_int_equal(ec.cls, 9);
      assert_int_equal(used, 77);
    }
  }
  /* Length bounds the input: "5.1.1" inside "5.1.12". */
  smtp_enhanced_code ec;
  assert_int_equal(smtp_enhanced_code_parse("5.1.12", 5, &ec, NULL), SMTP_OK);
  assert_int_equal(ec.detail, 1);
  assert_int_equal(smtp_enhanced_code_parse(NULL, 0, &ec, NULL), SMTP_ERR_ENHANCED_CODE);
  assert_int_equal(smtp_enhanced_code_parse(NULL, 3, &ec, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_enhanced_code_parse("2.0.0", 5, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
}

static void test_enhanced_format(void **state) {
  (void)state;
  char buf[16];
  smtp_enhanced_code c = {5, 7, 30};
  assert_int_equal(smtp_enhanced_code_format(&c, buf, sizeof(buf)), 6);
  assert_string_equal(buf, "5.7.30");
  c = (smtp_enhanced_code){2, 0, 0};
  assert_int_equal(smtp_enhanced_code_format(&c, buf, 6), 5);
  assert_string_equal(buf, "2.0.0");
  assert_int_equal(smtp_enhanced_code_format(&c, buf, 5), SMTP_ERR_BUFFER_TOO_SMALL);
  c = (smtp_enhanced_code){4, 999, 100};
  assert_int_equal(smtp_enhanced_code_format(&c, buf, sizeof(buf)), 9);
  assert_string_equal(buf, "4.999.100");
  c = (smtp_enhanced_code){3, 0, 0};
  assert_int_equal(smtp_enhanced_code_format(&c, buf, sizeof(buf)), SMTP_ERR_ENHANCED_CODE);
  c = (smtp_enhanced_code){5, 1000, 0};
  assert_int_equal(smtp_enhanced_code_format(&c, buf, sizeof(buf)), SMTP_ERR_ENHANCED_CODE);
  c = (smtp_enhanced_code){5, 1, -1};
  assert_int_equal(smtp_enhanced_code_format(&c, buf, sizeof(buf)), SMTP_ERR_ENHANCED_CODE);
  assert_int_equal(smtp_enhanced_code_format(NULL, buf, sizeof(buf)), SMTP_ERR_INVALID_ARGUMENT);
  /* Round trip over a grid. */
  for (int s = 0; s <= 999; s += 37)
    for (int d = 0; d <= 999; d += 41) {
      smtp_enhanced_code a = {4, s, d}, b;
      size_t used;
      smtp_ssize n = smtp_enhanced_code_format(&a, buf, sizeof(buf));
      assert_true(n > 0);
      assert_int_equal(smtp_enhanced_code_parse(buf, (size_t)n, &b, &used), SMTP_OK);
      assert_int_equal(used, (size_t)n);
      assert_int_equal(b.subject, s);
      assert_int_equal(b.detail, d);
    }
}

/* ------------------------------------------------------------ formatter */

static void test_format_exact(void **state) {
  (void)state;
  static const struct {
    int code;
    int has_enh;
    smtp_enhanced_code enh;
    const char *text, *want;
  } t[] = {
    {250, 0, {0, 0, 0}, "OK", "250 OK\r\n"},
    {250, 1, {2, 0, 0}, "OK", "250 2.0.0 OK\r\n"},
    {250, 0, {0, 0, 0}, "", "250\r\n"},
    {250, 1, {2, 1, 5}, "", "250 2.1.5\r\n"},
    {250, 0, {0, 0, 0}, "mx\nPIPELINING\n8BITMIME", "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n"},
    {550, 1, {5, 1, 1}, "No such\nuser", "550-5.1.1 No such\r\n550 5.1.1 user\r\n"},
    {250, 0, {0, 0, 0}, "a\n", "250-a\r\n250\r\n"},
    {250, 0, {0, 0, 0}, "\nb", "250-\r\n250 b\r\n"},
    {421, 1, {4, 4, 2}, "a\n\nb", "421-4.4.2 a\r\n421-4.4.2\r\n421 4.4.2 b\r\n"},
    {354, 0, {0, 0, 0}, "Go\tahead", "354 Go\tahead\r\n"},
  };
  char buf[256];
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    smtp_ssize n = smtp_reply_format(buf, sizeof(buf), t[i].code, t[i].has_enh ? &t[i].enh : NULL,
                                     t[i].text, strlen(t[i].text));
    assert_int_equal(n, (smtp_ssize)strlen(t[i].want));
    assert_memory_equal(buf, t[i].want, (size_t)n);
    /* Every shorter buffer is too small. */
    for (size_t b = 0; b < (size_t)n; b++)
      assert_int_equal(smtp_reply_format(buf, b, t[i].code, t[i].has_enh ? &t[i].enh : NULL,
                                         t[i].text, strlen(t[i].text)),
                       SMTP_ERR_BUFFER_TOO_SMALL);
  }
}

static void test_format_errors(void **state) {
  (void)state;
  char buf[64];
  smtp_enhanced_code e5 = {5, 1, 1}, bad = {5, 1000, 1};
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 250, NULL, "a\rb", 3), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 250, NULL, "a\0b", 3), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 250, NULL, "a\x1b", 2), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 250, NULL, "a\x7f", 2), SMTP_ERR_BAD_CHAR);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 600, NULL, "a", 1),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 199, NULL, "a", 1),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 260, NULL, "a", 1),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 250, &e5, "a", 1),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 550, &bad, "a", 1),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_format(NULL, 5, 250, NULL, "a", 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 250, NULL, NULL, 1),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_reply_format(buf, sizeof(buf), 250, NULL, NULL, 0), 5);
  assert_int_equal(smtp_reply_format(NULL, 0, 250, NULL, "a", 1), SMTP_ERR_BUFFER_TOO_SMALL);
}

/* Format then parse: same code, enhanced code and lines (RFC 5321 4.2,
 * RFC 2034 4); every line within 512 octets (RFC 5321 4.5.3.1.5). */
static void roundtrip(int code, const smtp_enhanced_code *enh, const char *text, size_t len,
                      int expect_split) {
  size_t cap = len * 2 + 4096;
  char *buf = malloc(cap);
  assert_non_null(buf);
  smtp_ssize n = smtp_reply_format(buf, cap, code, enh, text, len);
  if (n <= 0) fprintf(stderr, "format %d len %zu: %d\n", code, len, (int)n);
  assert_true(n > 0);
  /* Every line <= 512 octets with CRLF. */
  size_t start = 0;
  for (size_t i = 0; i + 1 < (size_t)n; i++)
    if (buf[i] == '\r' && buf[i + 1] == '\n') {
      assert_true(i + 2 - start <= 512);
      start = i + 2;
    }
  assert_int_equal(start, (size_t)n);
  smtp_reply_parser *p;
  assert_int_equal(smtp_reply_parser_new(&p, 0, 1000, NULL), SMTP_OK);
  smtp_reply_parser_set_enhanced(p, enh != NULL);
  assert_int_equal(smtp_reply_parser_feed(p, buf, (size_t)n), n);
  const smtp_reply *r = smtp_reply_parser_reply(p);
  assert_non_null(r);
  assert_int_equal(r->code, code);
  assert_int_equal(r->has_enhanced, enh != NULL);
  if (enh) {
    assert_int_equal(r->enhanced.cls, enh->cls);
    assert_int_equal(r->enhanced.subject, enh->subject);
    assert_int_equal(r->enhanced.detail, enh->detail);
  }
  /* The lines joined with LF, except where a line was split, give the text. */
  size_t pos = 0, nl = 0;
  for (size_t j = 0; j < r->nlines; j++) {
    assert_true(pos + r->lines[j].len <= len);
    assert_memory_equal(text + pos, r->lines[j].ptr, r->lines[j].len);
    pos += r->lines[j].len;
    if (pos < len && text[pos] == '\n') {
      pos++;
      nl++;
    }
  }
  assert_int_equal(pos, len);
  if (!expect_split) {
    size_t lfs = 0;
    for (size_t i = 0; i < len; i++) lfs += text[i] == '\n';
    assert_int_equal(r->nlines, lfs + 1);
  } else {
    assert_true(r->nlines > nl + 1);
  }
  smtp_reply_parser_del(p);
  free(buf);
}

static void test_format_roundtrip(void **state) {
  (void)state;
  smtp_enhanced_code e250 = {2, 1, 0}, e550 = {5, 1, 1}, e421 = {4, 4, 2};
  roundtrip(250, NULL, "OK", 2, 0);
  roundtrip(250, &e250, "Sender OK", 9, 0);
  roundtrip(550, &e550, "No such user\nTry again", 22, 0);
  roundtrip(421, &e421, "  spaced", 8, 0);
  roundtrip(250, NULL, "mx.example.com\nPIPELINING\nSIZE 1000\nSTARTTLS", 44, 0);
  roundtrip(214, NULL, "h\xc3\xa9lp", 5, 0);
  /* Long lines are split into <= 512-octet lines. */
  char *big = make_line("", 2000, "");
  roundtrip(250, NULL, big, 2000, 1);
  roundtrip(550, &e550, big, 2000, 1);
  big[600] = '\n';
  roundtrip(550, &e550, big, 2000, 1);
  /* Exactly at the limit: no split (506 text octets, 496 with "5.1.1 "). */
  roundtrip(250, NULL, big, 506, 0);
  roundtrip(550, &e550, big, 500, 0);
  roundtrip(550, &e550, big, 501, 1);
  free(big);
  /* Splits avoid cutting a UTF-8 character: 2-octet characters. */
  char *u = malloc(1200);
  for (size_t i = 0; i < 1200; i += 2) {
    u[i] = '\xc3';
    u[i + 1] = '\xa9';
  }
  roundtrip(250, NULL, u + 1, 1199 - 1, 1);
  {
    char out[2048];
    smtp_ssize n = smtp_reply_format(out, sizeof(out), 250, NULL, u + 1, 1198);
    assert_true(n > 0);
    /* Each line's text (after "NNN-") starts with a lead octet or is the start. */
    for (smtp_ssize i = 0; i + 4 < n; i++)
      if (out[i] == '\n' && i + 5 < n) assert_int_not_equal((unsigned char)out[i + 5], 0xa9);
  }
  free(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_vectors),
    cmocka_unit_test(test_long_lines),
    cmocka_unit_test(test_total_bound),
    cmocka_unit_test(test_too_many_lines_default),
    cmocka_unit_test(test_sticky_and_reset),
    cmocka_unit_test(test_pipelined_stop),
    cmocka_unit_test(test_new_arguments),
    cmocka_unit_test(test_nomem),
    cmocka_unit_test(test_store_growth),
    cmocka_unit_test(test_store_growth_nomem),
    cmocka_unit_test(test_store_small_limits),
    cmocka_unit_test(test_code_class),
    cmocka_unit_test(test_enhanced_parse),
    cmocka_unit_test(test_enhanced_format),
    cmocka_unit_test(test_format_exact),
    cmocka_unit_test(test_format_errors),
    cmocka_unit_test(test_format_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
