/* smtp-server --script: see script_app.h. */
#include "script_app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_app.h"

struct script_conn {
  smtp_script_run *run;
  smtp_io inner;
  int wrapped, blocking;
  int64_t hold_until;    /* output held until then (monotonic ms) */
  unsigned int tarpit_ms;/* armed: the next output goes one octet at a time over this long */
  size_t tarpit_left;    /* octets still to dribble */
  int64_t tarpit_step;   /* ms between two of them */
  int64_t next_at;
  int close_pending;     /* close instead of sending */
  int blocked;           /* the gate returned SMTP_ERR_WOULDBLOCK */
  int last_code, last_stage;
  char last_enhanced[16];
  const char *last_text;
  /* BDAT (RFC 3030 2): a chunk's scripted reply waits for its octets */
  int chunk_code;
  char chunk_enhanced[16];
  const char *chunk_text;
  uint64_t bdat_size; /* of the last BDAT line seen */
  int bdat_last;
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts;
  if (ms <= 0) return;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int script_app_load(const char *path, smtp_script **out) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t len = 0, cap = 0;
  smtp_script_error err;
  int rc;
  *out = NULL;
  if (!f) {
    fprintf(stderr, "smtp-server: cannot read --script %s: %s\n", path, strerror(errno));
    return 64;
  }
  for (;;) {
    size_t n;
    if (len == cap) {
      char *b;
      cap = cap ? cap * 2 : 4096;
      if (cap > (1u << 21) || !(b = realloc(buf, cap))) break; /* the parser refuses > 1 MiB */
      buf = b;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  fclose(f);
  rc = smtp_script_parse(out, buf, len, NULL, &err);
  free(buf);
  if (rc != SMTP_OK) {
    if (err.line) fprintf(stderr, "smtp-server: %s:%u: %s\n", path, err.line, err.message);
    else fprintf(stderr, "smtp-server: %s: %s\n", path, err.message[0] ? err.message : smtp_strerror(rc));
    return 64;
  }
  return 0;
}

script_conn *script_conn_new(const smtp_script *sc) {
  script_conn *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  if (smtp_script_run_new(&g->run, sc, NULL) != SMTP_OK) {
    free(g);
    return NULL;
  }
  return g;
}

void script_conn_del(script_conn *g) {
  if (!g) return;
  smtp_script_run_del(g->run);
  free(g);
}

int script_conn_decide(script_conn *g, int stage, const char *verb, size_t verb_len) {
  smtp_script_action a;
  if (!g) return 0;
  g->last_code = 0;
  g->last_stage = stage;
  if (smtp_script_run_next(g->run, stage, verb, verb_len, &a) != 1) return 0;
  if (a.close) {
    g->close_pending = 1;
    return 0;
  }
  if (a.delay_ms) {
    int64_t until = mono_ms() + a.delay_ms;
    if (until > g->hold_until) g->hold_until = until;
  }
  if (a.tarpit_ms) g->tarpit_ms = a.tarpit_ms;
  g->last_code = a.code;
  memcpy(g->last_enhanced, a.enhanced, sizeof g->last_enhanced);
  g->last_text = a.text;
  return a.code;
}

int script_conn_reply(script_conn *g, smtp_server_session *s) {
  int r;
  if (!g || !g->last_code) return 0;
  /* AUTH's only positive reply is 235 (RFC 4954 6): a 2yz rule accepts */
  if (g->last_stage == SMTP_SCRIPT_AUTH && g->last_code / 100 == 2) g->last_code = 235;
  r = smtp_server_session_reply(s, g->last_code, g->last_enhanced[0] ? g->last_enhanced : NULL,
                                g->last_text);
  if (r != SMTP_OK) {
    fprintf(stderr, "smtp-server: script: %s reply %d not possible here: %s\n",
            g->last_stage == SMTP_SCRIPT_OTHER ? "(verb)" : smtp_script_stage_name(g->last_stage),
            g->last_code, smtp_strerror(r));
    return 0;
  }
  return g->last_code;
}

void script_conn_note_bdat(script_conn *g, uint64_t size, int last) {
  if (!g) return;
  g->bdat_size = size;
  g->bdat_last = last;
}

int script_conn_bdat(script_conn *g) {
  if (!g) return 0;
  g->chunk_code = script_conn_decide(g, SMTP_SCRIPT_BDAT, NULL, 0);
  memcpy(g->chunk_enhanced, g->last_enhanced, sizeof g->chunk_enhanced);
  g->chunk_text = g->last_text;
  return g->chunk_code;
}

int script_conn_bdat_first(script_conn *g, smtp_server_session *s) {
  int code = script_conn_bdat(g);
  if (!code || code / 100 == 2 || g->bdat_last || g->bdat_size > 0) return 0;
  /* BDAT 0 without LAST as the first chunk: no chunk event follows, so a
   * refusal is the answer to the data start */
  return script_conn_chunk_reply(g, s);
}

int script_conn_chunk_reply(script_conn *g, smtp_server_session *s) {
  int code, r;
  if (!g || !g->chunk_code) return 0;
  code = g->chunk_code;
  g->chunk_code = 0;
  r = smtp_server_session_reply(s, code, g->chunk_enhanced[0] ? g->chunk_enhanced : NULL,
                                g->chunk_text);
  if (r != SMTP_OK) {
    fprintf(stderr, "smtp-server: script: BDAT reply %d not possible here: %s\n", code,
            smtp_strerror(r));
    return 0;
  }
  return code;
}

int script_conn_decide_eod(script_conn *g, int bdat) {
  int chunk = bdat && g ? g->chunk_code : 0;
  int code;
  if (!g) return 0;
  g->chunk_code = 0;
  code = script_conn_decide(g, SMTP_SCRIPT_DATA_END, NULL, 0);
  if (!code && chunk) {
    /* the LAST chunk's reply is the end-of-data reply; a DATA-END rule's wins */
    g->last_code = code = chunk;
    memcpy(g->last_enhanced, g->chunk_enhanced, sizeof g->last_enhanced);
    g->last_text = g->chunk_text;
    g->last_stage = SMTP_SCRIPT_BDAT;
  }
  return code;
}

unsigned int script_conn_drop(const script_conn *g) { return g ? smtp_script_run_drop(g->run) : 0; }

int script_conn_event(script_conn *g, smtp_server_session *s, int stage, const char *verb,
                      size_t verb_len) {
  if (!script_conn_decide(g, stage, verb, verb_len)) return 0;
  return script_conn_reply(g, s);
}

int script_conn_last_reply(const script_conn *g, const char **enhanced, const char **text) {
  if (!g || !g->last_code) return 0;
  *enhanced = g->last_enhanced[0] ? g->last_enhanced : NULL;
  *text = g->last_text;
  return g->last_code;
}

/* ------------------------------------------------------------------------ */
/* Callbacks for the stages server_app.c leaves to the session.              */

static int simple(smtp_server_session *s, void *ud, int stage, const char *verb, size_t n) {
  (void)script_conn_event(server_app_conn_script(ud), s, stage, verb, n);
  return 0;
}

static int cb_connect(smtp_server_session *s, void *ud) { return simple(s, ud, SMTP_SCRIPT_CONNECT, NULL, 0); }
static int cb_ehlo(smtp_server_session *s, const smtp_server_helo *h, void *ud) {
  script_conn *g = server_app_conn_script(ud);
  int st = h->verb == SMTP_VERB_HELO ? SMTP_SCRIPT_HELO
           : h->verb == SMTP_VERB_LHLO ? SMTP_SCRIPT_LHLO
                                       : SMTP_SCRIPT_EHLO;
  unsigned int drop;
  (void)script_conn_decide(g, st, NULL, 0);
  /* drop-keyword, also with #N: this EHLO leaves the keywords out (STARTTLS
   * and AUTH of rules for every EHLO are options: smtp-server's setup) */
  drop = script_conn_drop(g);
  if (drop && smtp_server_session_ehlo_hide(s, drop) != SMTP_OK)
    fprintf(stderr, "smtp-server: script: drop-keyword failed\n"); /* cannot happen here */
  (void)script_conn_reply(g, s);
  return 0;
}
static int cb_mail(smtp_server_session *s, const smtp_server_mail *m, void *ud) {
  (void)m;
  return simple(s, ud, SMTP_SCRIPT_MAIL, NULL, 0);
}
static int cb_rset(smtp_server_session *s, void *ud) { return simple(s, ud, SMTP_SCRIPT_RSET, NULL, 0); }
static int cb_noop(smtp_server_session *s, void *ud) { return simple(s, ud, SMTP_SCRIPT_NOOP, NULL, 0); }
static int cb_quit(smtp_server_session *s, void *ud) { return simple(s, ud, SMTP_SCRIPT_QUIT, NULL, 0); }
static int cb_starttls(smtp_server_session *s, void *ud) {
  return simple(s, ud, SMTP_SCRIPT_STARTTLS, NULL, 0);
}
static int cb_vrfy(smtp_server_session *s, const char *a, size_t n, void *ud) {
  (void)a;
  (void)n;
  return simple(s, ud, SMTP_SCRIPT_VRFY, NULL, 0);
}
static int cb_expn(smtp_server_session *s, const char *a, size_t n, void *ud) {
  (void)a;
  (void)n;
  return simple(s, ud, SMTP_SCRIPT_EXPN, NULL, 0);
}
static int cb_help(smtp_server_session *s, const char *a, size_t n, void *ud) {
  (void)a;
  (void)n;
  return simple(s, ud, SMTP_SCRIPT_OTHER, "HELP", 4);
}
static int cb_unknown(smtp_server_session *s, const smtp_command *cmd, void *ud) {
  if (script_conn_event(server_app_conn_script(ud), s, SMTP_SCRIPT_OTHER, cmd->verb_text.ptr,
                        cmd->verb_text.len) != 0)
    return 0;
  return SMTP_ERR_CALLBACK_REFUSED; /* the session's default answer for the verb */
}

void script_app_install(smtp_server_callbacks *k) {
  smtp_server_callbacks_set_connect(k, cb_connect);
  smtp_server_callbacks_set_ehlo(k, cb_ehlo);
  smtp_server_callbacks_set_mail(k, cb_mail);
  smtp_server_callbacks_set_rset(k, cb_rset);
  smtp_server_callbacks_set_noop(k, cb_noop);
  smtp_server_callbacks_set_quit(k, cb_quit);
  smtp_server_callbacks_set_starttls(k, cb_starttls);
  smtp_server_callbacks_set_vrfy(k, cb_vrfy);
  smtp_server_callbacks_set_expn(k, cb_expn);
  smtp_server_callbacks_set_help(k, cb_help);
  smtp_server_callbacks_set_unknown_command(k, cb_unknown);
}

/* ------------------------------------------------------------------------ */
/* The gate: an smtp_io over the connection's own.                           */

/* How long until the gate lets the next octet through (0: now). */
static int64_t gate_wait(script_conn *g, int64_t now) {
  if (now < g->hold_until) return g->hold_until - now;
  if (g->tarpit_left && now < g->next_at) return g->next_at - now;
  return 0;
}

static smtp_ssize gate_send(const char *data, size_t len, void *ud) {
  script_conn *g = ud;
  int64_t now = mono_ms(), w;
  smtp_ssize r;
  if (g->close_pending) return SMTP_ERR_IO; /* the driver ends the connection */
  if (g->tarpit_ms && !g->tarpit_left && now >= g->hold_until) {
    /* spread what is queued now over the tarpit time */
    g->tarpit_left = len;
    g->tarpit_step = (int64_t)g->tarpit_ms / (int64_t)(len > 1 ? len - 1 : 1);
    g->next_at = now;
    g->tarpit_ms = 0;
  }
  while ((w = gate_wait(g, now)) > 0) {
    if (!g->blocking) {
      g->blocked = 1;
      return SMTP_ERR_WOULDBLOCK;
    }
    sleep_ms(w);
    now = mono_ms();
  }
  if (!g->tarpit_left) return g->inner.send(data, len, g->inner.user_data);
  r = g->inner.send(data, 1, g->inner.user_data);
  if (r == 1) {
    g->tarpit_left--;
    g->next_at = now + g->tarpit_step;
  }
  return r;
}

static smtp_ssize gate_recv(char *buf, size_t len, void *ud) {
  script_conn *g = ud;
  return g->inner.recv(buf, len, g->inner.user_data);
}

static int gate_close(void *ud) {
  script_conn *g = ud;
  return g->inner.close ? g->inner.close(g->inner.user_data) : 0;
}

static int gate_wait_io(unsigned int events, int timeout_ms, void *ud) {
  script_conn *g = ud;
  if (!g->inner.wait) return (int)events;
  return g->inner.wait(events, timeout_ms, g->inner.user_data);
}

void script_conn_wrap_io(script_conn *g, smtp_io *io, int blocking) {
  g->inner = *io;
  g->wrapped = 1;
  g->blocking = blocking;
  io->version = SMTP_IO_VERSION;
  io->user_data = g;
  io->send = gate_send;
  io->recv = gate_recv;
  io->close = gate_close;
  io->wait = gate_wait_io;
}

int script_conn_wait_ms(script_conn *g) {
  int64_t w;
  if (!g || !g->blocked) return -1;
  w = gate_wait(g, mono_ms());
  return w > 86400000 ? 86400000 : (int)w;
}

void script_conn_woken(script_conn *g) {
  if (g) g->blocked = 0;
}
