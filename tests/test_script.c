/* Scripted server behaviour (smtp/script.h): the rule file parser (every
 * malformed form refused with its line number) and the per-session matcher
 * (#N, file order, other verbs), and a session answered from a script. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/ext.h>
#include <smtp/script.h>
#include <smtp/server.h>

#include "server_scripts.h"
#include "transcript.h"

#define S(x) x, sizeof(x) - 1

struct bad_vec {
  const char *text;
  size_t len;
  int rc;
  unsigned int line;
  const char *why; /* substring of the message */
};

static const struct bad_vec bad_vecs[] = {
  {S("FOO_BAR reply 550 5.0.0 no\n"), SMTP_ERR_SYNTAX, 1, "unknown stage"},
  {S("# c\n\nRCPT frobnicate\n"), SMTP_ERR_SYNTAX, 3, "unknown action"},
  {S("RCPT\n"), SMTP_ERR_SYNTAX, 1, "missing action"},
  {S("RCPT reply\n"), SMTP_ERR_SYNTAX, 1, "missing code"},
  {S("RCPT reply 550\n"), SMTP_ERR_SYNTAX, 1, "missing text"},
  {S("RCPT reply 550 5.1.1\n"), SMTP_ERR_SYNTAX, 1, "missing text"},
  {S("RCPT reply 55 x\n"), SMTP_ERR_SYNTAX, 1, "bad code"},
  {S("RCPT reply 5500 x\n"), SMTP_ERR_SYNTAX, 1, "bad code"},
  {S("RCPT reply 5x0 x\n"), SMTP_ERR_SYNTAX, 1, "bad code"},
  {S("RCPT reply 199 x\n"), SMTP_ERR_SYNTAX, 1, "bad code"},           /* RFC 5321 4.2 */
  {S("RCPT reply 600 x\n"), SMTP_ERR_SYNTAX, 1, "bad code"},
  {S("RCPT reply 560 x\n"), SMTP_ERR_SYNTAX, 1, "bad code"},           /* 4.2.1: y 0..5 */
  {S("RCPT reply 354 x\n"), SMTP_ERR_SYNTAX, 1, "3yz"},
  {S("DATA reply 250 x\n"), SMTP_ERR_SYNTAX, 1, "DATA takes"},
  {S("RCPT reply 550 4.1.1 x\n"), SMTP_ERR_SYNTAX, 1, "enhanced"},     /* RFC 3463 class */
  {S("RCPT reply 550 5.01.1 x\n"), SMTP_ERR_SYNTAX, 1, "enhanced"},
  {S("RCPT reply 550 5..1 x\n"), SMTP_ERR_SYNTAX, 1, "enhanced"},
  {S("RCPT#0 close\n"), SMTP_ERR_SYNTAX, 1, "number"},
  {S("RCPT# close\n"), SMTP_ERR_SYNTAX, 1, "missing number"},
  {S("RCPT#x close\n"), SMTP_ERR_SYNTAX, 1, "number"},
  {S("RCPT#1000001 close\n"), SMTP_ERR_SYNTAX, 1, "number"},
  {S("RCPT#-1 close\n"), SMTP_ERR_SYNTAX, 1, "number"},
  {S("MAIL delay\n"), SMTP_ERR_SYNTAX, 1, "missing SECONDS"},
  {S("MAIL delay 3601\n"), SMTP_ERR_SYNTAX, 1, "SECONDS"},
  {S("MAIL delay 99999999999999999999\n"), SMTP_ERR_SYNTAX, 1, "SECONDS"},
  {S("MAIL delay 1.2345\n"), SMTP_ERR_SYNTAX, 1, "SECONDS"},
  {S("MAIL delay -1\n"), SMTP_ERR_SYNTAX, 1, "SECONDS"},
  {S("MAIL delay 1.\n"), SMTP_ERR_SYNTAX, 1, "SECONDS"},
  {S("MAIL delay .5\n"), SMTP_ERR_SYNTAX, 1, "SECONDS"},
  {S("MAIL delay 1e3\n"), SMTP_ERR_SYNTAX, 1, "SECONDS"},
  {S("MAIL tarpit 4000\n"), SMTP_ERR_SYNTAX, 1, "SECONDS"},
  {S("MAIL delay 1 2\n"), SMTP_ERR_SYNTAX, 1, "unexpected argument"},
  {S("QUIT close now\n"), SMTP_ERR_SYNTAX, 1, "unexpected argument"},
  {S("MAIL drop-keyword SIZE\n"), SMTP_ERR_SYNTAX, 1, "EHLO or LHLO"},
  {S("EHLO drop-keyword\n"), SMTP_ERR_SYNTAX, 1, "missing KEYWORD"},
  {S("EHLO drop-keyword XFOO\n"), SMTP_ERR_SYNTAX, 1, "not an extension"},
  {S("HELO#2 drop-keyword SIZE\n"), SMTP_ERR_SYNTAX, 1, "EHLO or LHLO"},
  {S("EHLO#0 drop-keyword SIZE\n"), SMTP_ERR_SYNTAX, 1, "number"},
  {S("EHLO#2 drop-keyword\n"), SMTP_ERR_SYNTAX, 1, "missing KEYWORD"},
  {S("LHLO#1 drop-keyword SIZEX\n"), SMTP_ERR_SYNTAX, 1, "not an extension"},
  {S("BDAT#2 reply 452\n"), SMTP_ERR_SYNTAX, 1, "missing text"},
  {S("BDAT#2 reply 354 go\n"), SMTP_ERR_SYNTAX, 1, "3yz"},
  {S("BDAT#2 reply 452 5.3.1 x\n"), SMTP_ERR_SYNTAX, 1, "enhanced"},
  {S("EHLO drop-keyword SIZE PIPELINING\n"), SMTP_ERR_SYNTAX, 1, "unexpected"},
  {S("NOOP close\nRCPT reply 550 a\x01 b\n"), SMTP_ERR_SYNTAX, 2, "control"},
  {S("NOOP close\nRCPT reply 550 a\0b\n"), SMTP_ERR_SYNTAX, 2, "control"},
  {S("RCPT reply 550 caf\xc3\xa9\n"), SMTP_ERR_SYNTAX, 1, "non-ASCII"},
  {S("RCPT reply 550 a\rb\n"), SMTP_ERR_SYNTAX, 1, "control"},
  {S("\x7f\n"), SMTP_ERR_SYNTAX, 1, "control"},
  {S("ABCDEFGHIJKLMNOPQRSTU close\n"), SMTP_ERR_SYNTAX, 1, "unknown stage"},
  {S("X1 close\n"), SMTP_ERR_SYNTAX, 1, "unknown stage"},
  {S("#N close\n"), 0, 0, NULL}, /* a comment: parses (0 rules) */
};

static void test_bad_lines(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_vecs / sizeof bad_vecs[0]; i++) {
    const struct bad_vec *v = &bad_vecs[i];
    smtp_script *sc = (smtp_script *)1;
    smtp_script_error err;
    int rc = smtp_script_parse(&sc, v->text, v->len, NULL, &err);
    if (rc != v->rc) fail_msg("vector %zu: rc %d want %d (%s)", i, rc, v->rc, err.message);
    if (rc != 0) {
      assert_null(sc);
      if (err.line != v->line) fail_msg("vector %zu: line %u want %u", i, err.line, v->line);
      if (!strstr(err.message, v->why)) fail_msg("vector %zu: message '%s' lacks '%s'", i, err.message, v->why);
    } else {
      assert_int_equal(smtp_script_rule_count(sc), 0);
      smtp_script_del(sc);
    }
  }
}

static void test_long_line_and_size(void **state) {
  char *big = malloc(1048577);
  smtp_script *sc;
  smtp_script_error err;
  (void)state;
  assert_non_null(big);
  memset(big, 'a', 1048577);
  /* line 2 is 1001 octets */
  memcpy(big, "NOOP close\n", 11);
  big[11 + 1001] = '\n';
  assert_int_equal(smtp_script_parse(&sc, big, 11 + 1002, NULL, &err), SMTP_ERR_TOO_LONG);
  assert_int_equal(err.line, 2);
  assert_int_equal(smtp_script_parse(&sc, big, 1048577, NULL, &err), SMTP_ERR_TOO_LONG);
  assert_int_equal(err.line, 0);
  free(big);
  assert_int_equal(smtp_script_parse(NULL, "", 0, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_script_parse(&sc, NULL, 1, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_script_parse(&sc, NULL, 0, NULL, NULL), SMTP_OK);
  assert_int_equal(smtp_script_rule_count(sc), 0);
  smtp_script_del(sc);
}

static const char good[] =
    "# a comment\r\n"
    "   # indented comment\n"
    "\n"
    "connect delay 0.25\n"
    "RCPT#2 reply 451 4.3.0 Try again later # not a comment\n"
    "RCPT reply 250 ok\n"   /* every RCPT; the #2 rule above comes first, so this one wins */
    "RCPT#3 delay 1\r\n"
    "RCPT#3 delay 1.5\n"
    "RCPT#3 tarpit 2\n"
    "DATA reply 354 go ahead\n"
    "DATA-END reply 554 5.6.0 Rejected\n"
    "MAIL#1 close\n"
    "MAIL#1 reply 250 2.1.0 ignored, close wins\n"
    "xclient reply 550 5.7.0 nope\n"
    "HELP#2 reply 214 2.0.0 helpful\n"
    "EHLO drop-keyword chunking\n"
    "EHLO drop-keyword STARTTLS\n"
    "EHLO#2 drop-keyword PIPELINING\n"
    "BDAT#2 reply 452 4.3.1 No room for chunk two\n"
    "QUIT\treply\t221\tbye  \n"
    "VRFY reply 252 Cannot VRFY";

static void test_good_file(void **state) {
  smtp_script *sc;
  smtp_script_run *run;
  smtp_script_action a;
  smtp_script_error err;
  (void)state;
  assert_int_equal(smtp_script_parse(&sc, good, sizeof good - 1, NULL, &err), SMTP_OK);
  assert_int_equal(err.line, 0);
  assert_int_equal(smtp_script_rule_count(sc), 18);
  assert_int_equal(smtp_script_drop_mask(sc), SMTP_EXT_CHUNKING | SMTP_EXT_STARTTLS);
  assert_int_equal(smtp_script_run_new(&run, sc, NULL), SMTP_OK);

  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_CONNECT, NULL, 0, &a), 1);
  assert_int_equal(a.delay_ms, 250);
  assert_int_equal(a.code, 0);
  assert_null(a.text);

  /* RCPT 1: only the every-RCPT rule */
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_RCPT, NULL, 0, &a), 1);
  assert_int_equal(a.code, 250);
  assert_string_equal(a.enhanced, "");
  assert_string_equal(a.text, "ok");
  /* RCPT 2: both, in file order: the later reply replaces the earlier */
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_RCPT, NULL, 0, &a), 1);
  assert_int_equal(a.matched, 2);
  assert_int_equal(a.code, 250);
  /* RCPT 3: delays add up, tarpit */
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_RCPT, NULL, 0, &a), 1);
  assert_int_equal(a.delay_ms, 2500);
  assert_int_equal(a.tarpit_ms, 2000);
  assert_int_equal(a.matched, 4);

  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_DATA, NULL, 0, &a), 1);
  assert_int_equal(a.code, 354);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_DATA_END, NULL, 0, &a), 1);
  assert_int_equal(a.code, 554);
  assert_string_equal(a.enhanced, "5.6.0");
  assert_string_equal(a.text, "Rejected");

  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_MAIL, NULL, 0, &a), 1);
  assert_int_equal(a.close, 1);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_MAIL, NULL, 0, &a), 0);
  assert_int_equal(a.close, 0);
  assert_int_equal(a.matched, 0);

  /* other verbs, case-insensitive, counted per verb */
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_OTHER, S("XClient"), &a), 1);
  assert_int_equal(a.code, 550);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_OTHER, S("HELP"), &a), 0);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_OTHER, S("help"), &a), 1);
  assert_string_equal(a.text, "helpful");
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_OTHER, S("ETRN"), &a), 0);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_OTHER, S("HELPX"), &a), 0);

  /* blanks around the text are trimmed, inside kept; no line end at the end of the file */
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_QUIT, NULL, 0, &a), 1);
  assert_string_equal(a.text, "bye");
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_VRFY, NULL, 0, &a), 1);
  assert_string_equal(a.text, "Cannot VRFY");
  /* drop-keyword: every EHLO leaves out CHUNKING and STARTTLS (session
   * options, smtp_script_drop_mask()), the second one PIPELINING too */
  assert_int_equal(smtp_script_run_drop(run), 0);
  /* (not per-command actions: run_next has nothing to say, as in 1.0.0) */
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_EHLO, NULL, 0, &a), 0);
  assert_int_equal(a.matched, 0);
  assert_int_equal(a.code, 0);
  assert_int_equal(smtp_script_run_drop(run), SMTP_EXT_CHUNKING | SMTP_EXT_STARTTLS);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_EHLO, NULL, 0, &a), 0);
  assert_int_equal(smtp_script_run_drop(run),
                   SMTP_EXT_CHUNKING | SMTP_EXT_STARTTLS | SMTP_EXT_PIPELINING);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_EHLO, NULL, 0, &a), 0);
  assert_int_equal(smtp_script_run_drop(run), SMTP_EXT_CHUNKING | SMTP_EXT_STARTTLS);
  /* another stage: nothing to drop; LHLO has no rules here */
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_NOOP, NULL, 0, &a), 0);
  assert_int_equal(smtp_script_run_drop(run), 0);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_LHLO, NULL, 0, &a), 0);
  assert_int_equal(smtp_script_run_drop(run), 0);
  assert_int_equal(smtp_script_run_drop(NULL), 0);
  /* BDAT#2: the second chunk of the session */
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_BDAT, NULL, 0, &a), 0);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_BDAT, NULL, 0, &a), 1);
  assert_int_equal(a.code, 452);
  assert_string_equal(a.enhanced, "4.3.1");
  assert_string_equal(a.text, "No room for chunk two");
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_BDAT, NULL, 0, &a), 0);

  assert_int_equal(smtp_script_run_next(run, 0, NULL, 0, &a), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_script_run_next(run, 18, NULL, 0, &a), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_OTHER, NULL, 3, &a),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_script_run_next(NULL, SMTP_SCRIPT_RCPT, NULL, 0, &a),
                   SMTP_ERR_INVALID_ARGUMENT);
  smtp_script_run_del(run);

  /* a new run starts counting again */
  assert_int_equal(smtp_script_run_new(&run, sc, NULL), SMTP_OK);
  assert_int_equal(smtp_script_run_next(run, SMTP_SCRIPT_MAIL, NULL, 0, &a), 1);
  assert_int_equal(a.close, 1);
  smtp_script_run_del(run);
  smtp_script_del(sc);
  assert_string_equal(smtp_script_stage_name(SMTP_SCRIPT_DATA_END), "DATA-END");
  assert_null(smtp_script_stage_name(0));
}

/* Allocation failure at every allocation: a clean error, nothing leaked
 * (run under ASan/LSan in CI). */
static int fail_at, calls;
static void *f_malloc(size_t n, void *ud) { (void)ud; return ++calls == fail_at ? NULL : malloc(n); }
static void f_free(void *p, void *ud) { (void)ud; free(p); }
static void *f_calloc(size_t a, size_t b, void *ud) { (void)ud; return ++calls == fail_at ? NULL : calloc(a, b); }
static void *f_realloc(void *p, size_t n, void *ud) { (void)ud; return ++calls == fail_at ? NULL : realloc(p, n); }

static void test_alloc_failure(void **state) {
  smtp_mem mem = {NULL, f_malloc, f_free, f_calloc, f_realloc};
  int ok = 0;
  (void)state;
  for (fail_at = 1; fail_at < 200 && !ok; fail_at++) {
    smtp_script *sc = NULL;
    smtp_script_run *run = NULL;
    int rc;
    calls = 0;
    rc = smtp_script_parse(&sc, good, sizeof good - 1, &mem, NULL);
    if (rc == SMTP_OK) rc = smtp_script_run_new(&run, sc, &mem);
    if (rc == SMTP_OK) ok = 1;
    else assert_int_equal(rc, SMTP_ERR_NOMEM);
    smtp_script_run_del(run);
    smtp_script_del(sc);
  }
  assert_true(ok);
  {
    /* an allocator missing a function is refused (no call made) */
    smtp_mem half = {NULL, f_malloc, f_free, NULL, f_realloc};
    smtp_script *sc = (smtp_script *)1;
    assert_int_equal(smtp_script_parse(&sc, good, sizeof good - 1, &half, NULL), SMTP_ERR_INVALID_ARGUMENT);
    assert_null(sc);
  }
}

/* Fed at random split points the file means the same: one parse of the
 * whole is what counts (the parser takes whole files), so here: every prefix
 * ending at a line end parses, and every line of `good` alone parses. */
static void test_each_prefix(void **state) {
  (void)state;
  for (size_t i = 0; i <= sizeof good - 1; i++) {
    smtp_script *sc;
    smtp_script_error err;
    if (i < sizeof good - 1 && good[i] != '\n') continue;
    assert_int_equal(smtp_script_parse(&sc, good, i, NULL, &err), SMTP_OK);
    smtp_script_del(sc);
  }
}

/* A session answered from a script: RCPT#2 gets the scripted 451 while the
 * others get the default 250 (RFC 5321 4.1.1.3). */
typedef struct app {
  smtp_script_run *run;
} app;

static int on_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud) {
  app *a = ud;
  smtp_script_action act;
  (void)r;
  if (smtp_script_run_next(a->run, SMTP_SCRIPT_RCPT, NULL, 0, &act) == 1 && act.code)
    return smtp_server_session_reply(s, act.code, act.enhanced[0] ? act.enhanced : NULL, act.text) ==
                   SMTP_OK
               ? 0
               : SMTP_ERR_CALLBACK_FAILURE;
  return 0;
}

static void test_session(void **state) {
  static const char rules[] = "RCPT#2 reply 451 4.3.0 Try again later\n";
  static const char in[] = "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n"
                           "RCPT TO:<x@d.example>\r\nRCPT TO:<y@d.example>\r\n"
                           "RCPT TO:<z@d.example>\r\nQUIT\r\n";
  smtp_script *sc;
  app a;
  smtp_server_callbacks *cb;
  smtp_server_options *o;
  smtp_server_session *s;
  char out[8192];
  size_t olen = 0;
  const char *p;
  smtp_ssize n;
  (void)state;
  assert_int_equal(smtp_script_parse(&sc, rules, sizeof rules - 1, NULL, NULL), SMTP_OK);
  assert_int_equal(smtp_script_run_new(&a.run, sc, NULL), SMTP_OK);
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_set_hostname(o, "mx.example"), SMTP_OK);
  smtp_server_callbacks_set_rcpt(cb, on_rcpt);
  assert_int_equal(smtp_server_session_new(&s, cb, &a, o, NULL), SMTP_OK);
  {
    size_t off = 0;
    for (int guard = 0; guard < 100 && !smtp_server_session_want_close(s); guard++) {
      while ((n = smtp_server_session_mem_send(s, &p)) > 0) {
        assert_true(olen + (size_t)n < sizeof out);
        memcpy(out + olen, p, (size_t)n);
        olen += (size_t)n;
        smtp_server_session_mem_consume(s, (size_t)n);
      }
      if (off < sizeof in - 1) {
        n = smtp_server_session_mem_recv(s, in + off, sizeof in - 1 - off);
        assert_true(n >= 0);
        off += (size_t)n;
      }
    }
  }
  out[olen] = '\0';
  p = strstr(out, "250 2.1.5");
  assert_non_null(p);
  p = strstr(p + 1, "451 4.3.0 Try again later\r\n");
  assert_non_null(p);
  assert_non_null(strstr(p, "250 2.1.5"));
  smtp_server_session_del(s);
  smtp_server_callbacks_del(cb);
  smtp_server_options_del(o);
  smtp_script_run_del(a.run);
  smtp_script_del(sc);
}

/* A session run by a script the way smtp/script.h describes, through the
 * transcript runner (whole, one byte at a time, random splits): EHLO#2
 * drop-keyword, and BDAT#N replies on chunks after the first (RFC 3030 2)
 * and on a LAST chunk. A new run starts at each connection. */
static smtp_script *h_sc;
static smtp_script_run *h_run;
static smtp_script_action h_chunk; /* the scripted reply kept for the chunk in progress */

static int h_answer(smtp_server_session *s, const smtp_script_action *a) {
  if (!a->code) return 0;
  return smtp_server_session_reply(s, a->code, a->enhanced[0] ? a->enhanced : NULL, a->text) == SMTP_OK
             ? 0
             : SMTP_ERR_CALLBACK_FAILURE;
}
static int h_connect(smtp_server_session *s, void *ud) {
  smtp_script_action a;
  (void)ud;
  smtp_script_run_del(h_run);
  assert_int_equal(smtp_script_run_new(&h_run, h_sc, NULL), SMTP_OK);
  memset(&h_chunk, 0, sizeof h_chunk);
  (void)smtp_script_run_next(h_run, SMTP_SCRIPT_CONNECT, NULL, 0, &a);
  return h_answer(s, &a);
}
static int h_ehlo(smtp_server_session *s, const smtp_server_helo *h, void *ud) {
  smtp_script_action a;
  (void)ud;
  (void)smtp_script_run_next(h_run, h->verb == SMTP_VERB_HELO ? SMTP_SCRIPT_HELO : SMTP_SCRIPT_EHLO,
                             NULL, 0, &a);
  assert_int_equal(smtp_server_session_ehlo_hide(s, smtp_script_run_drop(h_run)), SMTP_OK);
  return h_answer(s, &a);
}
static int h_trace(smtp_server_session *s, int dir, const char *line, size_t len, void *ud) {
  (void)ud;
  /* a chunk after the first of its transaction: counted when its line comes */
  if (dir == SMTP_SERVER_TRACE_IN && len > 5 && strncmp(line, "BDAT ", 5) == 0 &&
      (smtp_server_session_flags(s) & SMTP_SERVER_FLAG_BDAT))
    (void)smtp_script_run_next(h_run, SMTP_SCRIPT_BDAT, NULL, 0, &h_chunk);
  return 0;
}
static int h_data_start(smtp_server_session *s, void *ud) {
  (void)ud;
  if (smtp_server_session_flags(s) & SMTP_SERVER_FLAG_BDAT)
    (void)smtp_script_run_next(h_run, SMTP_SCRIPT_BDAT, NULL, 0, &h_chunk);
  return 0;
}
static int h_bdat_chunk(smtp_server_session *s, uint64_t size, void *ud) {
  smtp_script_action a = h_chunk;
  (void)size;
  (void)ud;
  memset(&h_chunk, 0, sizeof h_chunk);
  return h_answer(s, &a);
}
static int h_data_end(smtp_server_session *s, const smtp_server_data_end *e, void *ud) {
  smtp_script_action a;
  (void)ud;
  (void)smtp_script_run_next(h_run, SMTP_SCRIPT_DATA_END, NULL, 0, &a);
  if (!a.code && e->bdat) a = h_chunk; /* the LAST chunk's reply is the end-of-data reply */
  memset(&h_chunk, 0, sizeof h_chunk);
  return e->refused ? 0 : h_answer(s, &a);
}
static void h_setup(smtp_server_options *o, smtp_server_callbacks *cb) {
  (void)o;
  smtp_server_callbacks_set_connect(cb, h_connect);
  smtp_server_callbacks_set_ehlo(cb, h_ehlo);
  smtp_server_callbacks_set_trace(cb, h_trace);
  smtp_server_callbacks_set_data_start(cb, h_data_start);
  smtp_server_callbacks_set_bdat_chunk(cb, h_bdat_chunk);
  smtp_server_callbacks_set_data_end(cb, h_data_end);
}

#define H_MAIL "C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 Sender OK\n" \
  "C: RCPT TO:<c@d.example>\nS: 250 2.1.5 Recipient OK\n"
#define H_BADSEQ "S: 503 5.5.1 Bad sequence of commands\n"

static void test_session_bdat_and_ehlo(void **state) {
  static const char rules[] =
      "EHLO#2 drop-keyword PIPELINING\n"
      "BDAT#2 reply 452 4.3.1 No room for chunk two\n"
      "BDAT#5 reply 250 2.0.0 Chunk five kept\n"
      "BDAT#7 reply 554 5.6.0 Last chunk refused\n"
      "BDAT#8 reply 451 4.3.0 Last chunk, but DATA-END wins\n"
      "DATA-END#3 reply 250 2.0.0 The DATA-END rule\n";
  (void)state;
  assert_int_equal(smtp_script_parse(&h_sc, rules, sizeof rules - 1, NULL, NULL), SMTP_OK);
  tr_check(GREETING EHLO
           /* EHLO#2: PIPELINING left out, SIZE and the rest kept */
           "C: EHLO client.example\n"
           "S: 250-localhost\nS: 250-SIZE\nS: 250-8BITMIME\nS: 250-BINARYMIME\nS: 250-CHUNKING\n"
           "S: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"
           /* chunks 1-3: the 452 on chunk 2 fails the transaction; chunk 3
            * (LAST, pipelined behind it) is read and discarded */
           H_MAIL "C: BDAT 3\nC- abc\n" "C: BDAT 2\nC- de\n" "C: BDAT 1 LAST\nC- f\n"
           "S: 250 2.0.0 3 octets received\nS: 452 4.3.1 No room for chunk two\n" H_BADSEQ
           /* chunks 4-6: the scripted 250 text on chunk 5 */
           H_MAIL "C: BDAT 1\nC- a\n" "S: 250 2.0.0 1 octets received\n"
           "C: BDAT 1\nC- b\n" "S: 250 2.0.0 Chunk five kept\n"
           "C: BDAT 0 LAST\n" "S: 250 2.0.0 Message accepted\n"
           /* chunk 7: a LAST chunk refused */
           H_MAIL "C: BDAT 2 LAST\nC- xy\n" "S: 554 5.6.0 Last chunk refused\n"
           /* chunk 8: LAST, where the DATA-END rule (third message end) wins */
           H_MAIL "C: BDAT 2 LAST\nC- zz\n" "S: 250 2.0.0 The DATA-END rule\n"
           "C: QUIT\nS: 221 2.0.0 localhost Bye\n",
           h_setup);
  smtp_script_run_del(h_run);
  h_run = NULL;
  smtp_script_del(h_sc);
  h_sc = NULL;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_lines),    cmocka_unit_test(test_long_line_and_size),
      cmocka_unit_test(test_good_file),    cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_each_prefix),  cmocka_unit_test(test_session),
      cmocka_unit_test(test_session_bdat_and_ehlo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
