/* Scripted server behaviour for test harnesses (smtp/script.h): the rule
 * file parser and the per-session matcher. Decides only: no clock, no I/O. */
#include <string.h>

#include <smtp/ext.h>
#include <smtp/reply.h>
#include <smtp/script.h>

#include "internal.h"

#define SCRIPT_MAX_INPUT 1048576u
#define SCRIPT_MAX_LINE 1000u
#define SCRIPT_MAX_RULES 10000u
#define SCRIPT_MAX_N 1000000u
#define SCRIPT_MAX_MS 3600000u
#define SCRIPT_MAX_VERB 20u
#define SCRIPT_NSTAGES 17 /* SMTP_SCRIPT_CONNECT .. SMTP_SCRIPT_OTHER */

enum { ACT_REPLY = 1, ACT_DELAY, ACT_CLOSE, ACT_TARPIT, ACT_DROP };

typedef struct script_rule {
  int stage;
  unsigned int slot;  /* counter index: stage - 1, or SCRIPT_NSTAGES + verb index */
  unsigned int n;     /* 0: every command */
  int action;
  int code;
  char enhanced[16];
  char *text;
  unsigned int ms;
  unsigned int ext; /* drop-keyword: the extension's flag */
} script_rule;

struct smtp_script {
  smtp_mem mem;
  script_rule *rules;
  unsigned int nrules, cap;
  char (*verbs)[SCRIPT_MAX_VERB + 1]; /* distinct other verbs, upper-case */
  unsigned int nverbs;
  unsigned int drop_mask;
};

struct smtp_script_run {
  smtp_mem mem;
  const smtp_script *sc;
  unsigned int *counts; /* per slot */
  unsigned int drop;    /* drop-keyword flags of the last EHLO/LHLO counted */
};

static const char *const stage_names[SCRIPT_NSTAGES] = {
    "CONNECT", "EHLO", "HELO", "LHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA",
    "DATA-END", "BDAT", "RSET", "NOOP", "VRFY", "EXPN", "QUIT", "OTHER"};

static const struct {
  const char *name;
  unsigned int flag;
} drop_names[] = {{"PIPELINING", SMTP_EXT_PIPELINING},
                  {"SIZE", SMTP_EXT_SIZE},
                  {"8BITMIME", SMTP_EXT_8BITMIME},
                  {"BINARYMIME", SMTP_EXT_BINARYMIME},
                  {"CHUNKING", SMTP_EXT_CHUNKING},
                  {"SMTPUTF8", SMTP_EXT_SMTPUTF8},
                  {"ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES},
                  {"DSN", SMTP_EXT_DSN},
                  {"STARTTLS", SMTP_EXT_STARTTLS},
                  {"AUTH", SMTP_EXT_AUTH},
                  {"REQUIRETLS", SMTP_EXT_REQUIRETLS},
                  {"LIMITS", SMTP_EXT_LIMITS},
                  {"DELIVERBY", SMTP_EXT_DELIVERBY},
                  {"MT-PRIORITY", SMTP_EXT_MT_PRIORITY},
                  {"ETRN", SMTP_EXT_ETRN},
                  {"VRFY", SMTP_EXT_VRFY},
                  {"EXPN", SMTP_EXT_EXPN},
                  {"HELP", SMTP_EXT_HELP}};

const char *smtp_script_stage_name(int stage) {
  if (stage < SMTP_SCRIPT_CONNECT || stage > SMTP_SCRIPT_OTHER) return NULL;
  return stage_names[stage - 1];
}

static int word_is(const char *w, size_t n, const char *lit) {
  return smtp__casecmp(w, n, lit, strlen(lit)) == 0;
}

static void set_err(smtp_script_error *err, unsigned int line, const char *msg) {
  if (!err) return;
  err->line = line;
  strncpy(err->message, msg, sizeof err->message - 1);
  err->message[sizeof err->message - 1] = '\0';
}

/* Next blank-separated word of [*p, end); returns its length (0 at the end). */
static size_t next_word(const char **p, const char *end, const char **w) {
  const char *q = *p;
  while (q < end && (*q == ' ' || *q == '\t')) q++;
  *w = q;
  while (q < end && *q != ' ' && *q != '\t') q++;
  *p = q;
  return (size_t)(q - *w);
}

/* SECONDS: digits, optionally '.' and 1..3 digits; at most SCRIPT_MAX_MS. */
static int parse_seconds(const char *w, size_t n, unsigned int *ms) {
  unsigned long long v = 0;
  size_t i = 0, frac = 0;
  int dot = 0;
  if (n == 0 || n > 12) return -1;
  for (; i < n; i++) {
    if (w[i] == '.' && !dot) {
      dot = 1;
      continue;
    }
    if (!smtp__is_digit((unsigned char)w[i])) return -1;
    if (dot && ++frac > 3) return -1;
    v = v * 10 + (unsigned)(w[i] - '0');
  }
  if (dot && frac == 0) return -1;
  if (w[0] == '.') return -1;
  while (frac < 3) {
    v *= 10;
    frac++;
  }
  if (v > SCRIPT_MAX_MS) return -1;
  *ms = (unsigned int)v;
  return 0;
}

/* RFC 3463 status-code: class "." subject "." detail, subject and detail
 * 1..3 digits (no leading zeros are required to be refused: servers send
 * "5.1.10"). Returns 1 when @p w looks like one (digits and two dots). */
static int looks_enhanced(const char *w, size_t n) {
  size_t dots = 0;
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    if (w[i] == '.') dots++;
    else if (!smtp__is_digit((unsigned char)w[i])) return 0;
  }
  return dots == 2;
}

static int valid_enhanced(const char *w, size_t n, int cls) {
  smtp_enhanced_code ec;
  size_t used = 0;
  if (n == 0 || w[0] != (char)('0' + cls)) return 0;
  return smtp_enhanced_code_parse(w, n, &ec, &used) == SMTP_OK && used == n;
}

static int add_verb(smtp_script *sc, const char *w, size_t n, unsigned int *slot) {
  char up[SCRIPT_MAX_VERB + 1];
  for (size_t i = 0; i < n; i++) {
    char c = w[i];
    up[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
  }
  up[n] = '\0';
  for (unsigned int i = 0; i < sc->nverbs; i++)
    if (strcmp(sc->verbs[i], up) == 0) {
      *slot = SCRIPT_NSTAGES + i;
      return 0;
    }
  {
    char(*v)[SCRIPT_MAX_VERB + 1] =
        smtp__realloc(&sc->mem, sc->verbs, (sc->nverbs + 1) * sizeof *sc->verbs);
    if (!v) return SMTP_ERR_NOMEM;
    sc->verbs = v;
  }
  memcpy(sc->verbs[sc->nverbs], up, n + 1);
  *slot = SCRIPT_NSTAGES + sc->nverbs++;
  return 0;
}

/* One rule line (no line end, already checked for controls). Returns 0,
 * 1 for a blank or comment line, or an error with @p why set. */
static int parse_line(smtp_script *sc, const char *p, const char *end, script_rule *r,
                      const char **why) {
  const char *w, *hash;
  size_t n, sn;
  int rc;
  memset(r, 0, sizeof *r);
  n = next_word(&p, end, &w);
  if (n == 0 || w[0] == '#') return 1;
  /* STAGE[#N] */
  hash = memchr(w, '#', n);
  sn = hash ? (size_t)(hash - w) : n;
  if (hash) {
    size_t dn = n - sn - 1;
    unsigned long v = 0;
    if (dn == 0 || dn > 7) {
      *why = dn == 0 ? "missing number after '#'" : "bad number after '#' (1..1000000)";
      return SMTP_ERR_SYNTAX;
    }
    for (size_t i = 0; i < dn; i++) {
      if (!smtp__is_digit((unsigned char)hash[1 + i])) {
        *why = "bad number after '#' (1..1000000)";
        return SMTP_ERR_SYNTAX;
      }
      v = v * 10 + (unsigned)(hash[1 + i] - '0');
    }
    if (v == 0 || v > SCRIPT_MAX_N) {
      *why = "bad number after '#' (1..1000000)";
      return SMTP_ERR_SYNTAX;
    }
    r->n = (unsigned int)v;
  }
  for (int i = 0; i < SCRIPT_NSTAGES - 1; i++)
    if (word_is(w, sn, stage_names[i])) r->stage = i + 1;
  if (!r->stage) {
    if (sn == 0 || sn > SCRIPT_MAX_VERB) {
      *why = "unknown stage";
      return SMTP_ERR_SYNTAX;
    }
    for (size_t i = 0; i < sn; i++)
      if (!smtp__is_alpha((unsigned char)w[i])) {
        *why = "unknown stage (a verb is 1 to 20 letters)";
        return SMTP_ERR_SYNTAX;
      }
    r->stage = SMTP_SCRIPT_OTHER;
    if ((rc = add_verb(sc, w, sn, &r->slot)) != 0) return rc;
  } else {
    r->slot = (unsigned int)r->stage - 1;
  }
  /* ACTION */
  n = next_word(&p, end, &w);
  if (n == 0) {
    *why = "missing action";
    return SMTP_ERR_SYNTAX;
  }
  if (word_is(w, n, "reply")) {
    int code;
    r->action = ACT_REPLY;
    n = next_word(&p, end, &w);
    if (n == 0) {
      *why = "reply: missing code";
      return SMTP_ERR_SYNTAX;
    }
    if (n != 3 || !smtp__is_digit((unsigned char)w[0]) || !smtp__is_digit((unsigned char)w[1]) ||
        !smtp__is_digit((unsigned char)w[2])) {
      *why = "reply: bad code (three digits)";
      return SMTP_ERR_SYNTAX;
    }
    code = (w[0] - '0') * 100 + (w[1] - '0') * 10 + (w[2] - '0');
    if (code < 200 || code > 559 || (code / 10) % 10 > 5) {
      *why = "reply: bad code (2yz, 4yz or 5yz with y 0..5)";
      return SMTP_ERR_SYNTAX;
    }
    if (code / 100 == 3 && (code != 354 || r->stage != SMTP_SCRIPT_DATA)) {
      *why = "reply: a 3yz code only as 354 for DATA";
      return SMTP_ERR_SYNTAX;
    }
    if (r->stage == SMTP_SCRIPT_DATA && code / 100 == 2) {
      *why = "reply: DATA takes 354, 4yz or 5yz";
      return SMTP_ERR_SYNTAX;
    }
    r->code = code;
    {
      const char *save = p;
      n = next_word(&p, end, &w);
      if (n && looks_enhanced(w, n)) {
        if (!valid_enhanced(w, n, code / 100) || code / 100 == 3) {
          *why = "reply: bad enhanced code (class.subject.detail, class = the code's first digit)";
          return SMTP_ERR_SYNTAX;
        }
        memcpy(r->enhanced, w, n);
        r->enhanced[n] = '\0';
      } else {
        p = save;
      }
    }
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    {
      const char *t_end = end;
      size_t tl;
      while (t_end > p && (t_end[-1] == ' ' || t_end[-1] == '\t')) t_end--;
      tl = (size_t)(t_end - p);
      if (tl == 0) {
        *why = "reply: missing text";
        return SMTP_ERR_SYNTAX;
      }
      r->text = smtp__malloc(&sc->mem, tl + 1);
      if (!r->text) return SMTP_ERR_NOMEM;
      memcpy(r->text, p, tl);
      r->text[tl] = '\0';
    }
    return 0;
  } else if (word_is(w, n, "delay") || word_is(w, n, "tarpit")) {
    r->action = (w[0] == 'd' || w[0] == 'D') ? ACT_DELAY : ACT_TARPIT;
    n = next_word(&p, end, &w);
    if (n == 0) {
      *why = "missing SECONDS";
      return SMTP_ERR_SYNTAX;
    }
    if (parse_seconds(w, n, &r->ms) != 0) {
      *why = "bad SECONDS (0..3600, at most three decimals)";
      return SMTP_ERR_SYNTAX;
    }
  } else if (word_is(w, n, "close")) {
    r->action = ACT_CLOSE;
  } else if (word_is(w, n, "drop-keyword")) {
    size_t i;
    r->action = ACT_DROP;
    if (r->stage != SMTP_SCRIPT_EHLO && r->stage != SMTP_SCRIPT_LHLO) {
      *why = "drop-keyword: EHLO or LHLO only";
      return SMTP_ERR_SYNTAX;
    }
    n = next_word(&p, end, &w);
    if (n == 0) {
      *why = "drop-keyword: missing KEYWORD";
      return SMTP_ERR_SYNTAX;
    }
    for (i = 0; i < SMTP__ARRAY_LEN(drop_names); i++)
      if (word_is(w, n, drop_names[i].name)) break;
    if (i == SMTP__ARRAY_LEN(drop_names)) {
      *why = "drop-keyword: not an extension the library implements";
      return SMTP_ERR_SYNTAX;
    }
    r->ext = drop_names[i].flag;
    if (!r->n) sc->drop_mask |= drop_names[i].flag; /* every EHLO: a session option */
  } else {
    *why = "unknown action (reply, delay, close, tarpit, drop-keyword)";
    return SMTP_ERR_SYNTAX;
  }
  n = next_word(&p, end, &w);
  if (n != 0) {
    *why = "unexpected argument";
    return SMTP_ERR_SYNTAX;
  }
  return 0;
}

int smtp_script_parse(smtp_script **out, const char *text, size_t len, const smtp_mem *mem,
                      smtp_script_error *err) {
  smtp_script *sc;
  const char *p, *end;
  unsigned int line = 0;
  int rc = 0;
  if (err) memset(err, 0, sizeof *err);
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if ((!text && len > 0) || (mem && !smtp__mem_valid(mem))) return SMTP_ERR_INVALID_ARGUMENT;
  if (len > SCRIPT_MAX_INPUT) {
    set_err(err, 0, "file too large (1 MiB at most)");
    return SMTP_ERR_TOO_LONG;
  }
  sc = smtp__calloc(mem, 1, sizeof *sc);
  if (!sc) {
    set_err(err, 0, "out of memory");
    return SMTP_ERR_NOMEM;
  }
  sc->mem = mem ? *mem : *smtp_mem_default();
  p = text;
  end = text ? text + len : text;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *le = eol ? eol : end;
    script_rule r;
    const char *why = NULL;
    line++;
    if (le > p && le[-1] == '\r') le--;
    if ((size_t)(le - p) > SCRIPT_MAX_LINE) {
      rc = SMTP_ERR_TOO_LONG;
      set_err(err, line, "line too long (1000 octets at most)");
      break;
    }
    for (const char *q = p; q < le; q++) {
      unsigned char c = (unsigned char)*q;
      if ((c < 0x20 && c != '\t') || c >= 0x7f) {
        rc = SMTP_ERR_SYNTAX;
        set_err(err, line, "control or non-ASCII octet");
        break;
      }
    }
    if (rc) break;
    rc = parse_line(sc, p, le, &r, &why);
    if (rc == 1) {
      rc = 0;
    } else if (rc != 0) {
      smtp__free(&sc->mem, r.text);
      set_err(err, line, rc == SMTP_ERR_NOMEM ? "out of memory" : why ? why : "bad rule");
      break;
    } else {
      if (sc->nrules >= SCRIPT_MAX_RULES) {
        smtp__free(&sc->mem, r.text);
        rc = SMTP_ERR_TOO_LONG;
        set_err(err, line, "too many rules (10000 at most)");
        break;
      }
      if (sc->nrules == sc->cap) {
        unsigned int cap = sc->cap ? sc->cap * 2 : 16;
        script_rule *a = smtp__realloc(&sc->mem, sc->rules, cap * sizeof *a);
        if (!a) {
          smtp__free(&sc->mem, r.text);
          rc = SMTP_ERR_NOMEM;
          set_err(err, line, "out of memory");
          break;
        }
        sc->rules = a;
        sc->cap = cap;
      }
      sc->rules[sc->nrules++] = r;
    }
    if (!eol) break;
    p = eol + 1;
  }
  if (rc) {
    smtp_script_del(sc);
    return rc;
  }
  *out = sc;
  return SMTP_OK;
}

void smtp_script_del(smtp_script *sc) {
  smtp_mem mem;
  if (!sc) return;
  mem = sc->mem;
  for (unsigned int i = 0; i < sc->nrules; i++) smtp__free(&mem, sc->rules[i].text);
  smtp__free(&mem, sc->rules);
  smtp__free(&mem, sc->verbs);
  smtp__free(&mem, sc);
}

size_t smtp_script_rule_count(const smtp_script *sc) { return sc ? sc->nrules : 0; }

unsigned int smtp_script_drop_mask(const smtp_script *sc) { return sc ? sc->drop_mask : 0; }

unsigned int smtp_script_run_drop(const smtp_script_run *run) { return run ? run->drop : 0; }

int smtp_script_run_new(smtp_script_run **out, const smtp_script *sc, const smtp_mem *mem) {
  smtp_script_run *r;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!sc || (mem && !smtp__mem_valid(mem))) return SMTP_ERR_INVALID_ARGUMENT;
  r = smtp__calloc(mem, 1, sizeof *r);
  if (!r) return SMTP_ERR_NOMEM;
  r->mem = mem ? *mem : *smtp_mem_default();
  r->sc = sc;
  r->counts = smtp__calloc(&r->mem, SCRIPT_NSTAGES + sc->nverbs, sizeof *r->counts);
  if (!r->counts) {
    smtp__free(&r->mem, r);
    return SMTP_ERR_NOMEM;
  }
  *out = r;
  return SMTP_OK;
}

void smtp_script_run_del(smtp_script_run *run) {
  smtp_mem mem;
  if (!run) return;
  mem = run->mem;
  smtp__free(&mem, run->counts);
  smtp__free(&mem, run);
}

int smtp_script_run_next(smtp_script_run *run, int stage, const char *verb, size_t verb_len,
                         smtp_script_action *out) {
  const smtp_script *sc;
  unsigned int slot, count;
  if (out) memset(out, 0, sizeof *out);
  if (!run || !out || stage < SMTP_SCRIPT_CONNECT || stage > SMTP_SCRIPT_OTHER)
    return SMTP_ERR_INVALID_ARGUMENT;
  sc = run->sc;
  run->drop = 0;
  if (stage == SMTP_SCRIPT_OTHER) {
    unsigned int i;
    if (!verb && verb_len > 0) return SMTP_ERR_INVALID_ARGUMENT;
    for (i = 0; i < sc->nverbs; i++)
      if (smtp__casecmp(sc->verbs[i], strlen(sc->verbs[i]), verb, verb_len) == 0) break;
    if (i == sc->nverbs) return 0; /* no rule names this verb */
    slot = SCRIPT_NSTAGES + i;
  } else {
    slot = (unsigned int)stage - 1;
  }
  if (run->counts[slot] < 0xffffffffu) run->counts[slot]++;
  count = run->counts[slot];
  for (unsigned int i = 0; i < sc->nrules; i++) {
    const script_rule *r = &sc->rules[i];
    if (r->slot != slot || (r->n && r->n != count)) continue;
    if (r->action == ACT_DROP) { /* not a per-command action: smtp_script_run_drop() */
      run->drop |= r->ext;
      continue;
    }
    out->matched++;
    switch (r->action) {
    case ACT_REPLY:
      out->code = r->code;
      memcpy(out->enhanced, r->enhanced, sizeof out->enhanced);
      out->text = r->text;
      break;
    case ACT_DELAY:
      out->delay_ms = out->delay_ms + r->ms > SCRIPT_MAX_MS * 10u ? SCRIPT_MAX_MS * 10u
                                                                  : out->delay_ms + r->ms;
      break;
    case ACT_TARPIT:
      out->tarpit_ms = r->ms;
      break;
    default:
      out->close = 1;
      break;
    }
  }
  return out->matched ? 1 : 0;
}
