/* libFuzzer target: the test-harness rule file parser (smtp/script.h).
 *
 * Checked invariants: a failure sets no script and names a line within the
 * input (or line 0 for whole-input errors); a success gives at most one rule
 * per line; every line of a parsed file also parses alone (rules are
 * line-local); re-parsing gives the same rule count and drop mask; matching
 * every stage any number of times yields only valid actions (codes 200..559,
 * bounded delays, text without controls); the extensions drop-keyword leaves
 * out come only with EHLO and LHLO, are extensions a rule may name, and
 * those of EHLO and LHLO together hold the every-EHLO ones
 * (smtp_script_drop_mask()). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/ext.h>
#include <smtp/script.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

static void check_action(const smtp_script_action *a, int rc) {
  CHECK(rc == 0 || rc == 1);
  CHECK((rc == 1) == (a->matched > 0));
  if (a->code) {
    CHECK(a->code >= 200 && a->code <= 559);
    CHECK(a->text && a->text[0]);
    for (const char *p = a->text; *p; p++)
      CHECK((unsigned char)*p >= 0x20 || *p == '\t');
  } else {
    CHECK(a->text == NULL);
  }
  CHECK(a->tarpit_ms <= 3600000u);
  CHECK(a->delay_ms <= 36000000u);
  CHECK(a->close == 0 || a->close == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  smtp_script *sc = NULL, *again = NULL;
  smtp_script_error err;
  size_t lines = 1;
  int rc;
  for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
  rc = smtp_script_parse(&sc, text, size, NULL, &err);
  if (rc != 0) {
    CHECK(sc == NULL);
    CHECK(err.line <= lines);
    CHECK(memchr(err.message, '\0', sizeof err.message) != NULL && err.message[0]);
    return 0;
  }
  CHECK(sc && err.line == 0);
  CHECK(smtp_script_rule_count(sc) <= lines);
  CHECK(smtp_script_parse(&again, text, size, NULL, NULL) == 0);
  CHECK(smtp_script_rule_count(again) == smtp_script_rule_count(sc));
  CHECK(smtp_script_drop_mask(again) == smtp_script_drop_mask(sc));
  smtp_script_del(again);
  {
    /* every line alone parses */
    const char *p = text, *end = text + size;
    size_t total = 0;
    while (p <= end) {
      const char *eol = memchr(p, '\n', (size_t)(end - p));
      size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
      smtp_script *one = NULL;
      CHECK(smtp_script_parse(&one, p, n, NULL, NULL) == 0);
      CHECK(smtp_script_rule_count(one) <= 1);
      total += smtp_script_rule_count(one);
      smtp_script_del(one);
      if (!eol) break;
      p = eol + 1;
    }
    CHECK(total == smtp_script_rule_count(sc));
  }
  {
    smtp_script_run *run = NULL;
    static const char *const verbs[] = {"HELP", "ETRN", "XCLIENT", "X"};
    CHECK(smtp_script_run_new(&run, sc, NULL) == 0);
    const unsigned int droppable =
        SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME |
        SMTP_EXT_CHUNKING | SMTP_EXT_SMTPUTF8 | SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_DSN |
        SMTP_EXT_STARTTLS | SMTP_EXT_AUTH | SMTP_EXT_REQUIRETLS | SMTP_EXT_LIMITS |
        SMTP_EXT_DELIVERBY | SMTP_EXT_MT_PRIORITY | SMTP_EXT_ETRN | SMTP_EXT_VRFY |
        SMTP_EXT_EXPN | SMTP_EXT_HELP;
    for (int round = 0; round < 3; round++) {
      unsigned int seen = 0;
      for (int st = SMTP_SCRIPT_CONNECT; st < SMTP_SCRIPT_OTHER; st++) {
        smtp_script_action a;
        unsigned int drop;
        check_action(&a, smtp_script_run_next(run, st, NULL, 0, &a));
        drop = smtp_script_run_drop(run);
        CHECK((drop & ~droppable) == 0);
        if (st != SMTP_SCRIPT_EHLO && st != SMTP_SCRIPT_LHLO) CHECK(drop == 0);
        seen |= drop;
      }
      CHECK((seen & smtp_script_drop_mask(sc)) == smtp_script_drop_mask(sc));
      for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
        smtp_script_action a;
        check_action(&a, smtp_script_run_next(run, SMTP_SCRIPT_OTHER, verbs[v], strlen(verbs[v]), &a));
        CHECK(smtp_script_run_drop(run) == 0);
      }
    }
    smtp_script_run_del(run);
  }
  smtp_script_del(sc);
  return 0;
}
