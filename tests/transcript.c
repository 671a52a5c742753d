/* Transcript helper for the server session; see transcript.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "transcript.h"

/* ------------------------------------------------------------------------ */
/* Counting allocator.                                                       */

typedef struct tr_hdr {
  size_t size;
  size_t pad;
} tr_hdr;

static void *tm_malloc(size_t size, void *ud) {
  tr_mem *m = ud;
  tr_hdr *h;
  m->count++;
  if (m->fail_at && m->count == m->fail_at) return NULL;
  h = malloc(sizeof *h + size);
  if (!h) return NULL;
  h->size = size;
  m->live++;
  m->bytes += size;
  if (m->bytes > m->peak) m->peak = m->bytes;
  return h + 1;
}
static void tm_free(void *p, void *ud) {
  tr_mem *m = ud;
  tr_hdr *h;
  if (!p) return;
  h = (tr_hdr *)p - 1;
  m->live--;
  m->bytes -= h->size;
  free(h);
}
static void *tm_calloc(size_t n, size_t size, void *ud) {
  void *p;
  if (size && n > SIZE_MAX / size) return NULL;
  p = tm_malloc(n * size, ud);
  if (p) memset(p, 0, n * size);
  return p;
}
static void *tm_realloc(void *p, size_t size, void *ud) {
  tr_hdr *h;
  void *q;
  if (!p) return tm_malloc(size, ud);
  h = (tr_hdr *)p - 1;
  q = tm_malloc(size, ud);
  if (!q) return NULL;
  memcpy(q, p, h->size < size ? h->size : size);
  tm_free(p, ud);
  return q;
}

void tr_mem_init(tr_mem *m, size_t fail_at) {
  memset(m, 0, sizeof *m);
  m->fail_at = fail_at;
  m->mem.user_data = m;
  m->mem.malloc = tm_malloc;
  m->mem.free = tm_free;
  m->mem.calloc = tm_calloc;
  m->mem.realloc = tm_realloc;
}

/* ------------------------------------------------------------------------ */
/* Growable strings.                                                         */

typedef struct dstr {
  char *p;
  size_t len, cap;
} dstr;

static void ds_put(dstr *d, const char *s, size_t n) {
  if (d->len + n + 1 > d->cap) {
    size_t c = d->cap ? d->cap : 256;
    while (c < d->len + n + 1) c *= 2;
    d->p = realloc(d->p, c);
    if (!d->p) abort();
    d->cap = c;
  }
  memcpy(d->p + d->len, s, n);
  d->len += n;
  d->p[d->len] = '\0';
}
static void ds_str(dstr *d, const char *s) { ds_put(d, s, strlen(s)); }
static void ds_free(dstr *d) {
  free(d->p);
  memset(d, 0, sizeof *d);
}

size_t tr_escape(char *out, size_t cap, const char *p, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 5 < cap; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '\r') {
      out[o++] = '\\';
      out[o++] = 'r';
    } else if (c == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else if (c == '\\') {
      out[o++] = '\\';
      out[o++] = '\\';
    } else if (c >= 0x20 && c < 0x7f) {
      out[o++] = (char)c;
    } else {
      o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
    }
  }
  out[o] = '\0';
  return o;
}

static void ds_escaped(dstr *d, const char *p, size_t n) {
  char t[512];
  size_t i = 0;
  while (i < n) {
    size_t k = n - i > 100 ? 100 : n - i;
    size_t l = tr_escape(t, sizeof t, p + i, k);
    ds_put(d, t, l);
    i += k;
  }
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t tr_unescape(const char *in, size_t len, char **out) {
  dstr d = {0};
  ds_put(&d, "", 0);
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c != '\\' || i + 1 >= len) {
      ds_put(&d, &c, 1);
      continue;
    }
    c = in[++i];
    switch (c) {
    case 'r': ds_put(&d, "\r", 1); break;
    case 'n': ds_put(&d, "\n", 1); break;
    case 't': ds_put(&d, "\t", 1); break;
    case '0': ds_put(&d, "", 1); break;
    case '\\': ds_put(&d, "\\", 1); break;
    case 'x': {
      char b;
      if (i + 2 >= len || hexval(in[i + 1]) < 0 || hexval(in[i + 2]) < 0) abort();
      b = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
      ds_put(&d, &b, 1);
      i += 2;
      break;
    }
    case '{': {
      /* \{N:c} */
      size_t n = 0;
      i++;
      while (i < len && in[i] >= '0' && in[i] <= '9') n = n * 10 + (size_t)(in[i++] - '0');
      if (i + 2 >= len || in[i] != ':' || in[i + 2] != '}') abort();
      for (size_t k = 0; k < n; k++) ds_put(&d, &in[i + 1], 1);
      i += 2;
      break;
    }
    default: ds_put(&d, &c, 1); break;
    }
  }
  *out = d.p;
  return d.len;
}

/* ------------------------------------------------------------------------ */
/* The scripted application.                                                 */

enum { Q_MAX = 64, NEV = 21 };
static const char *const ev_names[NEV] = {"connect", "ehlo", "mail", "rcpt", "data_start",
                                          "data_chunk", "data_end", "rset", "vrfy", "expn",
                                          "help", "noop", "quit", "starttls", "unknown",
                                          "auth", "auth_step", "param", "etrn", "burl",
                                          "bdat_chunk"};

typedef struct tr_queue {
  const char *act[Q_MAX];
  size_t n, head;
} tr_queue;

struct tr_app {
  smtp_server_session *s;
  dstr log;      /* events, one per line */
  dstr data;     /* data bytes of the current message, logged at data_end */
  tr_queue q[NEV];
  tr_queue r;    /* R: lines */
  int pending;   /* an answer was deferred */
  int failed;    /* an answer call returned an error */
  char err[256];
};

void tr_log(tr_app *a, const char *fmt, ...) {
  char t[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t, sizeof t, fmt, ap);
  va_end(ap);
  ds_str(&a->log, t);
  ds_str(&a->log, "\n");
}

static int ev_index(const char *name, size_t n) {
  for (int i = 0; i < NEV; i++)
    if (strlen(ev_names[i]) == n && memcmp(ev_names[i], name, n) == 0) return i;
  return -1;
}

static unsigned parse_ext(const char *name);

/* "hide NAME [then ACTION]": smtp_server_session_ehlo_hide() with one
 * extension; returns the ACTION after "then", or NULL. */
static const char *do_hide(tr_app *a, const char *act) {
  char name[64] = {0};
  const char *then = strstr(act, " then ");
  size_t n = then ? (size_t)(then - (act + 5)) : strlen(act + 5);
  int r;
  if (n >= sizeof name) abort();
  memcpy(name, act + 5, n);
  r = smtp_server_session_ehlo_hide(a->s, parse_ext(name));
  if (r != SMTP_OK && !a->failed) {
    a->failed = 1;
    snprintf(a->err, sizeof a->err, "'%s' returned %d (%s)", act, r, smtp_strerror(r));
  }
  return then ? then + 6 : NULL;
}

/* Perform an answer action ("reply 250 2.0.0 text", "challenge x", "accept id").
 * Returns 1 when it was an answer action. */
static int do_answer(tr_app *a, const char *act) {
  int r;
  if (strncmp(act, "hide ", 5) == 0) {
    const char *rest = do_hide(a, act);
    return rest ? do_answer(a, rest) : 1;
  }
  if (strncmp(act, "reply ", 6) == 0) {
    const char *p = act + 6;
    int code = atoi(p);
    char enh[16] = {0};
    char *text = NULL;
    const char *t;
    while (*p && *p != ' ') p++;
    if (*p == ' ') p++;
    t = p;
    if (*p >= '2' && *p <= '5' && p[1] == '.') {
      size_t k = 0;
      while (*p && *p != ' ' && k < sizeof enh - 1) enh[k++] = *p++;
      if (*p == ' ') p++;
      t = p;
    }
    if (*t) tr_unescape(t, strlen(t), &text);
    r = smtp_server_session_reply(a->s, code, enh[0] ? enh : NULL, *t ? text : NULL);
    free(text);
#if SMTP_HAVE_SASL /* <smtp/features.h>: built without SASL, no script answers AUTH */
  } else if (strncmp(act, "challenge", 9) == 0) {
    char *d = NULL;
    const char *p = act[9] == ' ' ? act + 10 : act + 9;
    size_t n = tr_unescape(p, strlen(p), &d);
    r = smtp_server_session_auth_challenge(a->s, d, n);
    free(d);
  } else if (strncmp(act, "accept ", 7) == 0) {
    r = smtp_server_session_auth_accept(a->s, act + 7, strlen(act + 7));
#endif
  } else {
    return 0;
  }
  if (r != SMTP_OK && !a->failed) {
    a->failed = 1;
    snprintf(a->err, sizeof a->err, "answer '%s' returned %d (%s)", act, r, smtp_strerror(r));
  }
  return 1;
}

/* The next action for event @p ev: performs answer actions and returns the
 * callback's return value. */
static int act(tr_app *a, int ev) {
  tr_queue *q = &a->q[ev];
  const char *x;
  if (q->head >= q->n) return ev == 15 ? -1 : 0; /* auth: default by password */
  x = q->act[q->head++];
  if (strncmp(x, "hide ", 5) == 0 && !(x = do_hide(a, x))) return 0;
  if (strcmp(x, "ok") == 0) return 0;
  if (strcmp(x, "refuse") == 0) return SMTP_ERR_CALLBACK_REFUSED;
  if (strcmp(x, "defer") == 0) {
    a->pending = 1;
    return SMTP_ERR_DEFERRED;
  }
  if (strcmp(x, "pause") == 0) return SMTP_ERR_PAUSE;
  if (strcmp(x, "fail") == 0) return SMTP_ERR_CALLBACK_FAILURE;
  if (do_answer(a, x)) return 0;
  return 0;
}

static int on_connect(smtp_server_session *s, void *ud) {
  tr_app *a = ud;
  (void)s;
  tr_log(a, "connect");
  return act(a, 0);
}
static const char *verb_name(int v) {
  return v == SMTP_VERB_HELO ? "HELO" : v == SMTP_VERB_EHLO ? "EHLO" : "LHLO";
}
static int on_ehlo(smtp_server_session *s, const smtp_server_helo *h, void *ud) {
  tr_app *a = ud;
  (void)s;
  tr_log(a, "ehlo %s %.*s", verb_name(h->verb), (int)h->name.len, h->name.ptr);
  return act(a, 1);
}
static unsigned int tr_who; /* O: who, the client as the session knows it in mail/data_end */

/* " from=ADDR helo=NAME proto=P user=U" (the session's accessors, which
 * XCLIENT and XFORWARD change). */
static void ds_who(dstr *d, const smtp_server_session *s) {
  smtp_endpoint e;
  char t[SMTP_ENDPOINT_TEXT_MAX + 16];
  const char *h;
  size_t n = 0;
  if (!tr_who) return;
  ds_str(d, " from=");
  if (smtp_server_session_addr(s, SMTP_ADDR_CLIENT, &e) == 0 && e.family != SMTP_AF_NONE &&
      smtp_endpoint_format(&e, t, sizeof t) > 0) {
    ds_str(d, t);
    snprintf(t, sizeof t, ":%u", (unsigned)e.port);
    ds_str(d, t);
  } else {
    ds_str(d, "-");
  }
  ds_str(d, " helo=");
  h = smtp_server_session_helo_name(s, &n);
  if (h) ds_escaped(d, h, n);
  else ds_str(d, "-");
  ds_str(d, " proto=");
  ds_str(d, smtp_server_session_received_protocol(s));
  ds_str(d, " user=");
  h = smtp_server_session_auth_user(s, &n);
  if (h) ds_escaped(d, h, n);
  else ds_str(d, "-");
}

static int on_mail(smtp_server_session *s, const smtp_server_mail *m, void *ud) {
  tr_app *a = ud;
  dstr d = {0};
  char t[64];
  ds_str(&d, "mail <");
  ds_escaped(&d, m->path->address.ptr, m->path->address.len);
  ds_str(&d, ">");
  if (m->has_size) {
    snprintf(t, sizeof t, " size=%llu", (unsigned long long)m->size);
    ds_str(&d, t);
  }
  if (m->body) ds_str(&d, m->body == 1 ? " body=7BIT" : m->body == 2 ? " body=8BITMIME" : " body=BINARYMIME");
  if (m->smtputf8) ds_str(&d, " smtputf8");
  if (m->requiretls) ds_str(&d, " requiretls");
  if (m->ret) ds_str(&d, m->ret == 1 ? " ret=FULL" : " ret=HDRS");
  if (m->has_envid) {
    ds_str(&d, " envid=");
    ds_escaped(&d, m->envid.ptr, m->envid.len);
  }
  if (m->has_auth) {
    ds_str(&d, " auth=");
    ds_escaped(&d, m->auth.ptr, m->auth.len);
  }
  if (m->has_mt_priority) {
    snprintf(t, sizeof t, " prio=%d", m->mt_priority);
    ds_str(&d, t);
  }
  if (m->has_by) {
    snprintf(t, sizeof t, " by=%d;%c%s", m->by_time, m->by_mode, m->by_trace ? "T" : "");
    ds_str(&d, t);
  }
  if (m->has_hold_for) {
    snprintf(t, sizeof t, " holdfor=%u", m->hold_for);
    ds_str(&d, t);
  }
  if (m->has_hold_until) {
    snprintf(t, sizeof t, " holduntil=%lld", (long long)m->hold_until);
    ds_str(&d, t);
  }
  if (m->has_solicit) {
    ds_str(&d, " solicit=");
    ds_escaped(&d, m->solicit.ptr, m->solicit.len);
  }
  if (m->has_mtrk) {
    ds_str(&d, " mtrk=");
    ds_escaped(&d, m->mtrk_certifier.ptr, m->mtrk_certifier.len);
    snprintf(t, sizeof t, ":%u", m->mtrk_timeout);
    ds_str(&d, t);
  }
  if (m->has_submitter) {
    ds_str(&d, " submitter=");
    ds_escaped(&d, m->submitter.ptr, m->submitter.len);
  }
  ds_who(&d, s);
  tr_log(a, "%s", d.p);
  ds_free(&d);
  return act(a, 2);
}
static int on_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud) {
  tr_app *a = ud;
  dstr d = {0};
  char t[64];
  (void)s;
  ds_str(&d, "rcpt <");
  ds_escaped(&d, r->path->address.ptr, r->path->address.len);
  ds_str(&d, ">");
  if (r->path->is_postmaster) ds_str(&d, " postmaster");
  if (r->notify) {
    snprintf(t, sizeof t, " notify=%u", r->notify);
    ds_str(&d, t);
  }
  if (r->has_orcpt) {
    ds_str(&d, " orcpt=");
    ds_escaped(&d, r->orcpt_type.ptr, r->orcpt_type.len);
    ds_str(&d, ";");
    ds_escaped(&d, r->orcpt.ptr, r->orcpt.len);
  }
  if (r->has_rrvs) {
    snprintf(t, sizeof t, " rrvs=%lld", (long long)r->rrvs_time);
    ds_str(&d, t);
    if (r->rrvs_mode) {
      snprintf(t, sizeof t, ";%c", r->rrvs_mode);
      ds_str(&d, t);
    }
  }
  snprintf(t, sizeof t, " #%u", r->index);
  ds_str(&d, t);
  tr_log(a, "%s", d.p);
  ds_free(&d);
  return act(a, 3);
}
static int on_data_start(smtp_server_session *s, void *ud) {
  tr_app *a = ud;
  tr_log(a, "data_start%s", (smtp_server_session_flags(s) & SMTP_SERVER_FLAG_BDAT) ? " bdat" : "");
  a->data.len = 0;
  return act(a, 4);
}
static int on_data_chunk(smtp_server_session *s, const char *p, size_t n, void *ud) {
  tr_app *a = ud;
  (void)s;
  ds_put(&a->data, p, n);
  return act(a, 5);
}
static int on_data_end(smtp_server_session *s, const smtp_server_data_end *e, void *ud) {
  tr_app *a = ud;
  dstr d = {0};
  char t[96];
  (void)s;
  if (e->rcpt_index <= 0) {
    /* The bytes once per message (LMTP: before the first recipient's end). */
    ds_str(&d, "data ");
    /* What a refused message delivered depends on the splits: not logged. */
    if (e->refused) ds_str(&d, "-");
    else if (a->data.len) ds_escaped(&d, a->data.p, a->data.len);
    tr_log(a, "%s", d.p);
    d.len = 0;
  }
  snprintf(t, sizeof t, "data_end size=%llu", (unsigned long long)e->size);
  ds_str(&d, t);
  if (e->refused) {
    snprintf(t, sizeof t, " refused=%d", e->refused);
    ds_str(&d, t);
  }
  if (e->rcpt_index >= 0) {
    snprintf(t, sizeof t, " rcpt=%d", e->rcpt_index);
    ds_str(&d, t);
  }
  if (e->bdat) ds_str(&d, " bdat");
  ds_who(&d, s);
  tr_log(a, "%s", d.p);
  ds_free(&d);
  if (e->rcpt_index < 0 || e->rcpt_index + 1 >= (int)smtp_server_session_rcpt_count(s))
    a->data.len = 0;
  return act(a, 6);
}
static int on_rset(smtp_server_session *s, void *ud) {
  (void)s;
  tr_log(ud, "rset");
  return act(ud, 7);
}
static int on_vrfy(smtp_server_session *s, const char *p, size_t n, void *ud) {
  (void)s;
  tr_log(ud, "vrfy %.*s", (int)n, p);
  return act(ud, 8);
}
static int on_expn(smtp_server_session *s, const char *p, size_t n, void *ud) {
  (void)s;
  tr_log(ud, "expn %.*s", (int)n, p);
  return act(ud, 9);
}
static int on_help(smtp_server_session *s, const char *p, size_t n, void *ud) {
  (void)s;
  tr_log(ud, "help %.*s", (int)n, p);
  return act(ud, 10);
}
static int on_noop(smtp_server_session *s, void *ud) {
  (void)s;
  tr_log(ud, "noop");
  return act(ud, 11);
}
static int on_quit(smtp_server_session *s, void *ud) {
  (void)s;
  tr_log(ud, "quit");
  return act(ud, 12);
}
static int on_starttls(smtp_server_session *s, void *ud) {
  (void)s;
  tr_log(ud, "starttls");
  return act(ud, 13);
}
static int on_unknown(smtp_server_session *s, const smtp_command *c, void *ud) {
  (void)s;
  tr_log(ud, "unknown %.*s %.*s", (int)c->verb_text.len, c->verb_text.ptr, (int)c->args.len,
         c->args.ptr);
  return act(ud, 14);
}
static int on_param(smtp_server_session *s, const smtp_server_param *p, void *ud) {
  (void)s;
  tr_log(ud, "param %s %.*s%s%.*s", p->verb == SMTP_VERB_MAIL ? "MAIL" : "RCPT",
         (int)p->keyword.len, p->keyword.ptr, p->has_value ? "=" : "", (int)p->value.len,
         p->value.ptr);
  return act(ud, 17);
}
static int on_etrn(smtp_server_session *s, const smtp_server_etrn *e, void *ud) {
  (void)s;
  tr_log(ud, "etrn %s%.*s", e->option == '@' ? "@" : e->option == '#' ? "#" : "",
         (int)e->node.len, e->node.ptr);
  return act(ud, 18);
}
static int on_burl(smtp_server_session *s, const smtp_server_burl *b, void *ud) {
  (void)s;
  tr_log(ud, "burl %.*s%s", (int)b->url.len, b->url.ptr, b->last ? " LAST" : "");
  return act(ud, 19);
}
static int on_bdat_chunk(smtp_server_session *s, uint64_t size, void *ud) {
  (void)s;
  tr_log(ud, "bdat_chunk %llu", (unsigned long long)size);
  return act(ud, 20);
}
static int on_auth(smtp_server_session *s, const smtp_server_auth *au, void *ud) {
  tr_app *a = ud;
  dstr d = {0};
  int r;
  (void)s;
  ds_str(&d, "auth ");
  ds_str(&d, au->mech == SMTP_SASL_PLAIN ? "PLAIN " : "LOGIN ");
  ds_escaped(&d, au->authzid.ptr, au->authzid.len);
  ds_str(&d, "/");
  ds_escaped(&d, au->authcid.ptr, au->authcid.len);
  ds_str(&d, "/");
  ds_escaped(&d, au->password.ptr, au->password.len);
  tr_log(a, "%s", d.p);
  ds_free(&d);
  r = act(a, 15);
  if (r == -1)
    r = (au->password.len == 6 && memcmp(au->password.ptr, "secret", 6) == 0)
            ? 0
            : SMTP_ERR_CALLBACK_REFUSED;
  return r;
}
static int on_auth_step(smtp_server_session *s, const smtp_server_auth_step *st, void *ud) {
  tr_app *a = ud;
  dstr d = {0};
  char t[64];
  (void)s;
  snprintf(t, sizeof t, "auth_step %s %u", st->mech_name, st->step);
  ds_str(&d, t);
  if (st->has_response) {
    ds_str(&d, " ");
    ds_escaped(&d, st->response.ptr, st->response.len);
  }
  tr_log(a, "%s", d.p);
  ds_free(&d);
  return act(a, 16);
}

/* ------------------------------------------------------------------------ */
/* Scripts.                                                                  */

typedef struct seg {
  dstr bytes;
  char action[32]; /* what happens after this segment: "tls", "timeout", "shutdown", "" */
} seg;

typedef struct script {
  seg segs[16];
  size_t nseg;
  dstr expect;
  dstr events;
  int has_events;
  const char *qa[NEV][Q_MAX];
  size_t nqa[NEV];
  const char *ra[Q_MAX];
  size_t nra;
  char *lines; /* copy of the script, split in place */
  int want_closed; /* -1 unknown */
} script;

static unsigned parse_ext(const char *name) {
  const smtp_ext_info *e = smtp_ext_lookup(name, strlen(name));
  if (e && e->flag) return e->flag;
  static const struct {
    const char *n;
    unsigned f;
  } t[] = {{"PIPELINING", SMTP_EXT_PIPELINING}, {"SIZE", SMTP_EXT_SIZE},
           {"8BITMIME", SMTP_EXT_8BITMIME},     {"BINARYMIME", SMTP_EXT_BINARYMIME},
           {"CHUNKING", SMTP_EXT_CHUNKING},     {"SMTPUTF8", SMTP_EXT_SMTPUTF8},
           {"ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES},
           {"DSN", SMTP_EXT_DSN},               {"REQUIRETLS", SMTP_EXT_REQUIRETLS},
           {"LIMITS", SMTP_EXT_LIMITS},         {"VRFY", SMTP_EXT_VRFY},
           {"EXPN", SMTP_EXT_EXPN},             {"HELP", SMTP_EXT_HELP},
           {"STARTTLS", SMTP_EXT_STARTTLS},     {"AUTH", SMTP_EXT_AUTH},
           {"ETRN", SMTP_EXT_ETRN}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(t[i].n, name) == 0) return t[i].f;
  fprintf(stderr, "unknown extension %s\n", name);
  abort();
}

static unsigned int tr_xallow; /* O: xallow N, applied to the session */

static void apply_option(smtp_server_options *o, smtp_server_callbacks *cb, const char *l,
                         unsigned *ext) {
  char name[64] = {0}, val[256] = {0};
  int rc = SMTP_OK;
  sscanf(l, "%63s %255[^\n]", name, val);
  if (!strcmp(name, "lmtp")) rc = smtp_server_options_set_lmtp(o, 1);
  else if (!strcmp(name, "tls")) rc = smtp_server_options_set_tls_available(o, 1);
  else if (!strcmp(name, "plaintext_auth")) rc = smtp_server_options_set_allow_plaintext_auth(o, 1);
  else if (!strcmp(name, "require_auth")) rc = smtp_server_options_set_require_auth(o, 1);
  else if (!strcmp(name, "require_tls")) rc = smtp_server_options_set_require_tls(o, 1);
  else if (!strcmp(name, "bare_accept")) rc = smtp_server_options_set_bare_line_end(o, SMTP_SERVER_BARE_ACCEPT);
  else if (!strcmp(name, "nul_accept")) rc = smtp_server_options_set_reject_nul(o, 0);
  else if (!strcmp(name, "reject_long")) rc = smtp_server_options_set_reject_long_lines(o, 1);
  else if (!strcmp(name, "authzid_any")) rc = smtp_server_options_set_authzid_policy(o, SMTP_SERVER_AUTHZID_ANY);
  else if (!strcmp(name, "lenient_colon")) rc = smtp_server_options_set_lenient_space_after_colon(o, 1);
  else if (!strcmp(name, "hostname")) rc = smtp_server_options_set_hostname(o, val);
  else if (!strcmp(name, "xclient")) rc = smtp_server_options_set_xclient(o, (unsigned)atoi(val));
  else if (!strcmp(name, "xallow")) tr_xallow = (unsigned)atoi(val);
  else if (!strcmp(name, "who")) tr_who = 1;
  else if (!strcmp(name, "max_rcpt")) rc = smtp_server_options_set_max_recipients(o, (unsigned)atoi(val));
  else if (!strcmp(name, "max_trans")) rc = smtp_server_options_set_max_transactions(o, (unsigned)atoi(val));
  else if (!strcmp(name, "max_errors")) rc = smtp_server_options_set_max_errors(o, (unsigned)atoi(val));
  else if (!strcmp(name, "max_auth_failures")) rc = smtp_server_options_set_max_auth_failures(o, (unsigned)atoi(val));
  else if (!strcmp(name, "max_size")) rc = smtp_server_options_set_max_message_size(o, strtoull(val, NULL, 10));
  else if (!strcmp(name, "max_cmd")) rc = smtp_server_options_set_max_command_line(o, (size_t)atoi(val));
  else if (!strcmp(name, "in")) rc = smtp_server_options_set_input_buffer(o, (size_t)atoi(val));
  else if (!strcmp(name, "out")) rc = smtp_server_options_set_output_buffer(o, (size_t)atoi(val));
  else if (!strcmp(name, "ext+")) *ext |= parse_ext(val);
  else if (!strcmp(name, "ext-")) *ext &= ~parse_ext(val);
  else if (!strcmp(name, "ext_params")) {
    char kw[64] = {0}, pv[200] = {0};
    sscanf(val, "%63s %199[^\n]", kw, pv);
    rc = smtp_server_options_set_ext_params(o, parse_ext(kw), pv);
  } else if (!strcmp(name, "ehlo_kw")) rc = smtp_server_options_add_ehlo_keyword(o, val);
  else if (!strcmp(name, "param_cb")) smtp_server_callbacks_set_param(cb, on_param);
  else if (!strcmp(name, "etrn_cb")) smtp_server_callbacks_set_etrn(cb, on_etrn);
  else if (!strcmp(name, "burl_cb")) smtp_server_callbacks_set_burl(cb, on_burl);
  else if (!strcmp(name, "bdat_cb")) smtp_server_callbacks_set_bdat_chunk(cb, on_bdat_chunk);
  else if (!strcmp(name, "mechs")) {
    unsigned m = 0;
    char *save = NULL, *tok;
    for (tok = strtok_r(val, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
      m |= smtp_sasl_mech_from_name(tok, strlen(tok));
    rc = smtp_server_options_set_auth_mechs(o, m);
  } else if (!strcmp(name, "auth_step")) smtp_server_callbacks_set_auth_step(cb, on_auth_step);
  else if (!strcmp(name, "no_auth")) smtp_server_callbacks_set_auth(cb, NULL);
  else if (!strcmp(name, "no_callbacks")) {
    smtp_mem m = *smtp_mem_default();
    (void)m;
    smtp_server_callbacks_set_connect(cb, NULL);
    smtp_server_callbacks_set_ehlo(cb, NULL);
    smtp_server_callbacks_set_mail(cb, NULL);
    smtp_server_callbacks_set_rcpt(cb, NULL);
    smtp_server_callbacks_set_data_start(cb, NULL);
    smtp_server_callbacks_set_data_chunk(cb, NULL);
    smtp_server_callbacks_set_data_end(cb, NULL);
    smtp_server_callbacks_set_rset(cb, NULL);
    smtp_server_callbacks_set_vrfy(cb, NULL);
    smtp_server_callbacks_set_expn(cb, NULL);
    smtp_server_callbacks_set_help(cb, NULL);
    smtp_server_callbacks_set_noop(cb, NULL);
    smtp_server_callbacks_set_quit(cb, NULL);
    smtp_server_callbacks_set_unknown_command(cb, NULL);
    smtp_server_callbacks_set_auth(cb, NULL);
    smtp_server_callbacks_set_auth_step(cb, NULL);
    smtp_server_callbacks_set_starttls(cb, NULL);
  } else {
    fprintf(stderr, "unknown option %s\n", name);
    abort();
  }
  if (rc != SMTP_OK) {
    fprintf(stderr, "option %s %s refused: %d\n", name, val, rc);
    abort();
  }
}

static void script_free(script *sc) {
  for (size_t i = 0; i < 16; i++) ds_free(&sc->segs[i].bytes);
  ds_free(&sc->expect);
  ds_free(&sc->events);
  free(sc->lines);
}

static void script_parse(script *sc, const char *text, smtp_server_options *o,
                         smtp_server_callbacks *cb) {
  char *p, *save = NULL;
  unsigned ext = SMTP_SERVER_DEFAULT_EXTENSIONS;
  int ext_changed = 0;
  memset(sc, 0, sizeof *sc);
  sc->want_closed = -1;
  sc->nseg = 1;
  sc->lines = strdup(text);
  for (p = strtok_r(sc->lines, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
    char *u = NULL;
    size_t n;
    if (p[0] == '#' || p[0] == '\0') continue;
    if (strlen(p) < 2 || (p[1] != ':' && p[1] != '-')) {
      fprintf(stderr, "bad script line: %s\n", p);
      abort();
    }
    const char *rest = p[2] == ' ' ? p + 3 : p + 2;
    switch (p[0]) {
    case 'C':
      n = tr_unescape(rest, strlen(rest), &u);
      ds_put(&sc->segs[sc->nseg - 1].bytes, u, n);
      if (p[1] == ':') ds_put(&sc->segs[sc->nseg - 1].bytes, "\r\n", 2);
      free(u);
      break;
    case 'S':
      n = tr_unescape(rest, strlen(rest), &u);
      ds_put(&sc->expect, u, n);
      ds_put(&sc->expect, "\r\n", 2);
      free(u);
      break;
    case 'E':
      /* Event lines are compared as logged (escaped); only \{N:c} expands. */
      sc->has_events = 1;
      for (const char *q = rest; *q; q++) {
        if (q[0] == '\\' && q[1] == '{') {
          size_t k = 0;
          q += 2;
          while (*q >= '0' && *q <= '9') k = k * 10 + (size_t)(*q++ - '0');
          if (q[0] != ':' || !q[1] || q[2] != '}') abort();
          for (size_t j = 0; j < k; j++) ds_put(&sc->events, q + 1, 1);
          q += 2;
        } else {
          ds_put(&sc->events, q, 1);
        }
      }
      ds_str(&sc->events, "\n");
      break;
    case 'A': {
      const char *sp = strchr(rest, ' ');
      int ev = sp ? ev_index(rest, (size_t)(sp - rest)) : -1;
      if (ev < 0 || sc->nqa[ev] >= Q_MAX) {
        fprintf(stderr, "bad A: line %s\n", p);
        abort();
      }
      sc->qa[ev][sc->nqa[ev]++] = sp + 1;
      break;
    }
    case 'R': sc->ra[sc->nra++] = rest; break;
    case 'O':
      if (!strncmp(rest, "ext", 3)) ext_changed = 1;
      apply_option(o, cb, rest, &ext);
      break;
    case 'T':
    case 'X':
      snprintf(sc->segs[sc->nseg - 1].action, sizeof sc->segs[0].action, "%s",
               p[0] == 'T' ? "tls" : rest);
      sc->nseg++;
      if (sc->nseg > 16) abort();
      break;
    case 'Z': sc->want_closed = strcmp(rest, "closed") == 0; break;
    default:
      fprintf(stderr, "bad script line: %s\n", p);
      abort();
    }
  }
  if (ext_changed && smtp_server_options_set_extensions(o, ext) != SMTP_OK) abort();
}

/* ------------------------------------------------------------------------ */
/* Running.                                                                  */

static unsigned rng_next(unsigned *st) {
  unsigned x = *st;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *st = x ? x : 1;
}

typedef struct runner {
  smtp_server_session *s;
  tr_app *a;
  dstr out;
  int mode;
  unsigned rng;
  int error; /* first unexpected library error */
} runner;

/* Drain output: all of it, or (random mode) a random part. Returns bytes taken. */
static size_t drain(runner *r, int all) {
  size_t total = 0;
  for (;;) {
    const char *p;
    smtp_ssize n = smtp_server_session_mem_send(r->s, &p);
    size_t take;
    if (n < 0) {
      if (!r->error && n != SMTP_ERR_CALLBACK_FAILURE) r->error = (int)n;
      return total;
    }
    if (n == 0) return total;
    take = (size_t)n;
    if (!all && r->mode == TR_RANDOM) take = 1 + rng_next(&r->rng) % (size_t)n;
    ds_put(&r->out, p, take);
    if (smtp_server_session_mem_consume(r->s, take) != SMTP_OK) {
      if (!r->error) r->error = -1000;
      return total;
    }
    total += take;
    if (!all && r->mode == TR_RANDOM) return total;
  }
}

static int answer_deferred(runner *r, script *sc, size_t *ri) {
  if (!r->a->pending || *ri >= sc->nra) return 0;
  r->a->pending = 0;
  if (!do_answer(r->a, sc->ra[(*ri)++])) abort();
  return 1;
}

static size_t chunk(runner *r, size_t left) {
  size_t c;
  if (r->mode == TR_WHOLE) return left;
  if (r->mode == TR_BYTES) return 1;
  switch (rng_next(&r->rng) % 4) {
  case 0: c = 1 + rng_next(&r->rng) % 3; break;
  case 1: c = 1 + rng_next(&r->rng) % 16; break;
  case 2: c = 1 + rng_next(&r->rng) % 200; break;
  default: c = 1 + rng_next(&r->rng) % 5000; break;
  }
  return c < left ? c : left;
}

static void feed(runner *r, script *sc, const char *data, size_t len, size_t *ri) {
  size_t pos = 0, avail = 0;
  int closed_seen = 0;
  for (int guard = 0; guard < 10000000; guard++) {
    int progress = 0;
    if (drain(r, 0)) progress = 1;
    if (answer_deferred(r, sc, ri)) progress = 1;
    if (pos < len && !closed_seen) {
      smtp_ssize n;
      if (avail == pos) {
        avail = pos + chunk(r, len - pos);
        progress = 1;
      }
      n = smtp_server_session_mem_recv(r->s, data + pos, avail - pos);
      if (n == SMTP_ERR_CLOSED) {
        closed_seen = 1;
      } else if (n < 0) {
        if (!r->error && n != SMTP_ERR_CALLBACK_FAILURE) r->error = (int)n;
        closed_seen = 1;
      } else {
        if (n > 0) progress = 1;
        pos += (size_t)n;
        if (n == 0 && avail < len && smtp_server_session_want_read(r->s)) {
          avail += chunk(r, len - avail);
          progress = 1;
        }
      }
    } else {
      smtp_ssize n = smtp_server_session_mem_recv(r->s, NULL, 0);
      if (n < 0 && n != SMTP_ERR_CALLBACK_FAILURE && !r->error) r->error = (int)n;
    }
    if (!progress) {
      if (drain(r, 1)) continue;
      break;
    }
  }
}

int tr_run(const char *text, tr_setup_fn setup, int mode, unsigned seed, char *err,
           size_t errlen) {
  script sc;
  smtp_server_options *o = NULL;
  smtp_server_callbacks *cb = NULL;
  tr_app app;
  runner r;
  tr_mem mem;
  size_t ri = 0;
  int fail = 0;
  memset(&app, 0, sizeof app);
  memset(&r, 0, sizeof r);
  tr_mem_init(&mem, 0);
  if (smtp_server_options_new(&o, &mem.mem) || smtp_server_callbacks_new(&cb, &mem.mem)) abort();
  smtp_server_callbacks_set_connect(cb, on_connect);
  smtp_server_callbacks_set_ehlo(cb, on_ehlo);
  smtp_server_callbacks_set_mail(cb, on_mail);
  smtp_server_callbacks_set_rcpt(cb, on_rcpt);
  smtp_server_callbacks_set_data_start(cb, on_data_start);
  smtp_server_callbacks_set_data_chunk(cb, on_data_chunk);
  smtp_server_callbacks_set_data_end(cb, on_data_end);
  smtp_server_callbacks_set_rset(cb, on_rset);
  smtp_server_callbacks_set_vrfy(cb, on_vrfy);
  smtp_server_callbacks_set_expn(cb, on_expn);
  smtp_server_callbacks_set_help(cb, on_help);
  smtp_server_callbacks_set_noop(cb, on_noop);
  smtp_server_callbacks_set_quit(cb, on_quit);
  smtp_server_callbacks_set_unknown_command(cb, on_unknown);
  smtp_server_callbacks_set_auth(cb, on_auth);
  smtp_server_callbacks_set_starttls(cb, on_starttls);
  tr_xallow = 0;
  tr_who = 0;
  script_parse(&sc, text, o, cb);
  if (setup) setup(o, cb);
  for (int i = 0; i < NEV; i++) {
    for (size_t k = 0; k < sc.nqa[i]; k++) app.q[i].act[k] = sc.qa[i][k];
    app.q[i].n = sc.nqa[i];
  }
  if (smtp_server_session_new(&app.s, cb, &app, o, &mem.mem) != SMTP_OK) abort();
  if (tr_xallow && smtp_server_session_allow_xclient(app.s, tr_xallow) != SMTP_OK) abort();
  smtp_server_options_del(o);
  smtp_server_callbacks_del(cb);
  r.s = app.s;
  r.a = &app;
  r.mode = mode;
  r.rng = seed ? seed : 1;
  for (size_t i = 0; i < sc.nseg; i++) {
    feed(&r, &sc, sc.segs[i].bytes.p ? sc.segs[i].bytes.p : "", sc.segs[i].bytes.len, &ri);
    if (!strcmp(sc.segs[i].action, "tls")) {
      smtp_tls_info info = {"TLSv1.3", "TLS_AES_128_GCM_SHA256", "mx.example", 0, 0, {0}};
      drain(&r, 1);
      if (!smtp_server_session_want_tls(app.s)) {
        snprintf(err, errlen, "want_tls not set at T:");
        fail = 1;
        break;
      }
      if (smtp_server_session_tls_started(app.s, &info) != SMTP_OK) {
        snprintf(err, errlen, "tls_started failed");
        fail = 1;
        break;
      }
    } else if (!strcmp(sc.segs[i].action, "timeout")) {
      drain(&r, 1);
      (void)smtp_server_session_timeout(app.s);
    } else if (!strcmp(sc.segs[i].action, "shutdown")) {
      drain(&r, 1);
      (void)smtp_server_session_shutdown(app.s);
    }
  }
  if (!fail) {
    for (int k = 0; k < 1000; k++) {
      int p = 0;
      if (drain(&r, 1)) p = 1;
      if (answer_deferred(&r, &sc, &ri)) p = 1;
      if (!p) break;
    }
    ds_put(&r.out, "", 0);
    ds_put(&app.log, "", 0);
    ds_put(&sc.expect, "", 0);
    ds_put(&sc.events, "", 0);
    if (app.failed) {
      snprintf(err, errlen, "%s", app.err);
      fail = 1;
    } else if (r.error) {
      snprintf(err, errlen, "library error %d (%s)", r.error, smtp_strerror(r.error));
      fail = 1;
    } else if (strcmp(r.out.p, sc.expect.p) != 0) {
      size_t i = 0;
      char a[600], b[600];
      while (r.out.p[i] && r.out.p[i] == sc.expect.p[i]) i++;
      while (i > 0 && r.out.p[i - 1] != '\n') i--;
      tr_escape(a, sizeof a, r.out.p + i, strlen(r.out.p + i) > 280 ? 280 : strlen(r.out.p + i));
      tr_escape(b, sizeof b, sc.expect.p + i,
                strlen(sc.expect.p + i) > 280 ? 280 : strlen(sc.expect.p + i));
      snprintf(err, errlen, "output differs at %zu:\n   got: %s\nexpect: %s", i, a, b);
      fail = 1;
    } else if (sc.has_events && strcmp(app.log.p, sc.events.p) != 0) {
      snprintf(err, errlen, "events differ:\n--- got:\n%.1500s--- expected:\n%.1500s", app.log.p,
               sc.events.p);
      fail = 1;
    } else if (ri != sc.nra) {
      snprintf(err, errlen, "%zu R: lines unused", sc.nra - ri);
      fail = 1;
    } else if (sc.want_closed >= 0 && smtp_server_session_is_closed(app.s) != sc.want_closed) {
      snprintf(err, errlen, "session %s, expected %s",
               smtp_server_session_is_closed(app.s) ? "closed" : "open",
               sc.want_closed ? "closed" : "open");
      fail = 1;
    } else {
      for (int i = 0; i < NEV; i++) {
        if (app.q[i].head != app.q[i].n) {
          snprintf(err, errlen, "A: %s line(s) unused", ev_names[i]);
          fail = 1;
          break;
        }
      }
    }
  }
  smtp_server_session_del(app.s);
  if (!fail && mem.live != 0) {
    snprintf(err, errlen, "leak: %zu allocations live", mem.live);
    fail = 1;
  }
  ds_free(&r.out);
  ds_free(&app.log);
  ds_free(&app.data);
  script_free(&sc);
  return fail;
}

void tr_check(const char *text, tr_setup_fn setup) {
  char err[4096];
  static const char *const names[] = {"whole", "byte-by-byte", "random"};
  for (int mode = 0; mode < 3; mode++) {
    unsigned seeds = mode == TR_RANDOM ? 40 : 1;
    for (unsigned k = 1; k <= seeds; k++) {
      err[0] = '\0';
      if (tr_run(text, setup, mode, k * 2654435761u, err, sizeof err)) {
        print_error("transcript failed (%s, seed %u): %s\n--- script:\n%s\n", names[mode], k, err,
                    text);
        fail();
      }
    }
  }
}
