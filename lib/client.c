/* The SMTP/LMTP client session (include/smtp/client.h): a sans-I/O state
 * machine. Shape:
 *
 *   - Every command the session writes is recorded in a ring of expected
 *     replies (kind, recipient index, and the output offset where its bytes
 *     end). Replies are matched to the ring in order (RFC 2920 3.1); a reply
 *     whose command has not been consumed by the transport yet, or that
 *     arrives with nothing outstanding, is a protocol error (docs/security.md 6),
 *     except 421, which the server may send at any moment (RFC 5321 3.8).
 *   - Reply handlers only change state; produce() writes whatever the state
 *     calls for into the one output buffer, as far as it fits: single
 *     commands (EHLO, STARTTLS, AUTH, RSET, QUIT), the transaction's MAIL,
 *     RCPTs and DATA (all at once with PIPELINING, else one at a time), and
 *     the body, dot-stuffed (DATA) or framed in BDAT chunks (CHUNKING).
 *   - Events go to a callback or, in event mode, to a small queue.
 *
 * All memory is allocated in smtp_client_session_new(): the session with its
 * output and staging buffers, and the reply parser, whose text store starts
 * small and moves to a larger block only for a reply larger than any before
 * (a long EHLO reply, say; see reply.c). Transactions belong to the
 * application (smtp_client_txn_*, client_txn.c) and grow only while being
 * built.
 *
 * This file is the protocol state machine: one handler per kind of
 * outstanding command (reply_*), one producer per owed command. The
 * options and callbacks objects are in client_options.c, the output buffer
 * and the body encoding in client_body.c, the shared structures in
 * client_impl.h. */
#include <string.h>

#include <smtp/address.h>
#include <smtp/client.h>
#include <smtp/data.h>
#include <smtp/sasl.h>
#include <smtp/server.h>
#include <smtp/xclient.h>

#include "client_impl.h"
#include "client_internal.h"
#include "data_internal.h"
#include "text.h"

/* RFC 5321 4.5.3.2 defaults, by smtp_client_timeout_phase. */
static const int tmo_default[SMTP_CLIENT_TIMEOUT_ALL] = {
    TMO_GREETING, TMO_MAIL, TMO_RCPT, TMO_DATA_INIT, TMO_DATA_BLOCK, TMO_DATA_FINAL, TMO_OTHER};

/* ---------------- helpers ---------------- */

/* The ring is full (ring_full()): below RING_CAP it moves to a block twice
 * its size. When that allocation fails the ring keeps its size for the
 * rest of the session (no retry on every command) and the pipeline waits
 * for replies to free entries: fewer commands in flight, never an error.
 * Returns 1 when it is still full. */
int smtp__cli_ring_grow(smtp_client_session *c) {
  pend *nr;
  size_t i, cap;
  if (c->ring.count < c->ring.cap) return 0;
  if (c->ring.cap >= RING_CAP || c->ring.fixed) return 1;
  cap = c->ring.cap * 2 > RING_CAP ? RING_CAP : c->ring.cap * 2;
  nr = (pend *)smtp__malloc(&c->mem, cap * sizeof *nr);
  if (!nr) {
    c->ring.fixed = 1;
    return 1;
  }
  for (i = 0; i < c->ring.count; i++) nr[i] = c->ring.buf[ring_index(c, i)];
  smtp__free(&c->mem, c->ring.block);
  c->ring.buf = c->ring.block = nr;
  c->ring.cap = cap;
  c->ring.head = 0;
  return 0;
}

static void trace_reply(smtp_client_session *c, const smtp_reply *r) {
  char buf[600];
  size_t i;
  if (!c->cb.trace) return;
  for (i = 0; i < r->nlines; i++) {
    size_t tl = r->lines[i].len;
    size_t n = smtp__fmt_u64(buf, (uint64_t)(unsigned int)r->code);
    buf[n++] = i + 1 < r->nlines ? '-' : ' ';
    if (i == 0 && r->has_enhanced) {
      smtp_ssize k = smtp_enhanced_code_format(&r->enhanced, buf + n, sizeof buf - n);
      if (k > 0) {
        n += (size_t)k;
        buf[n++] = ' ';
      }
    }
    if (tl > sizeof buf - n) tl = sizeof buf - n;
    if (tl) memcpy(buf + n, r->lines[i].ptr, tl);
    n += tl;
    c->cb.trace(c, 'S', buf, n, c->ud);
  }
}

/* Queue one command line (without CRLF) and its expected reply. */
static int emit_line(smtp_client_session *c, int kind, size_t index, const char *s, size_t n,
                     size_t trace_len) {
  if (ring_full(c) || !smtp__cli_out_room(c, n + 2)) return 0;
  trace(c, 'C', s, trace_len);
  out_put(c, s, n);
  out_put(c, "\r\n", 2);
  ring_push(c, kind, index);
  return 1;
}

/* ---------------- events ---------------- */

static int cb_result(smtp_client_session *c, int rc) {
  if (rc == 0) return 0;
  if (rc == SMTP_ERR_PAUSE) {
    c->paused = 1;
    return 0;
  }
  return SMTP_ERR_CALLBACK_FAILURE;
}

static void set_fatal(smtp_client_session *c, int err);

/* Deliver one event: its dedicated callback, else the generic one, else the
 * queue (event mode). Returns 0 or SMTP_ERR_CALLBACK_FAILURE. */
static int emit(smtp_client_session *c, const smtp_client_event *ev) {
  int rc = 0, handled = 1;
  const smtp_client_callbacks *cb = &c->cb;
  if (c->error == SMTP_ERR_CALLBACK_FAILURE) return SMTP_ERR_CALLBACK_FAILURE;
  if (c->event_mode) {
    if (c->evq_count == EVQ_CAP) return 0; /* cannot happen: recv pauses per reply */
    c->evq[(c->evq_head + c->evq_count) % EVQ_CAP] = *ev;
    c->evq_count++;
    c->paused = 1;
    return 0;
  }
  switch (ev->type) {
  case SMTP_CLIENT_EVENT_GREETING:
    if (cb->greeting) rc = cb->greeting(c, ev->reply, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_CAPABILITIES:
    if (cb->capabilities) rc = cb->capabilities(c, ev->caps, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_STARTTLS:
    if (cb->starttls) rc = cb->starttls(c, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_AUTH:
    if (cb->auth) rc = cb->auth(c, ev->error, ev->reply, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_MAIL:
    if (cb->mail) rc = cb->mail(c, ev->txn, ev->reply, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_RCPT:
    if (cb->rcpt) rc = cb->rcpt(c, ev->txn, ev->index, ev->reply, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_BODY_START:
    if (cb->body_start) rc = cb->body_start(c, ev->txn, ev->part, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_DATA:
    if (cb->data) rc = cb->data(c, ev->txn, ev->index, ev->reply, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_TXN_DONE:
    if (cb->txn_done) rc = cb->txn_done(c, ev->txn, &ev->result, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_CLOSED:
    if (cb->closed) rc = cb->closed(c, ev->error, c->ud); else handled = 0;
    break;
  case SMTP_CLIENT_EVENT_COMMAND:
    if (cb->command) rc = cb->command(c, ev->reply, c->ud); else handled = 0;
    break;
  default:
    handled = 0;
  }
  if (!handled && cb->event) rc = cb->event(c, ev, c->ud);
  rc = cb_result(c, rc);
  if (rc) set_fatal(c, rc);
  return rc;
}

static void ev_init(smtp_client_event *ev, int type) {
  memset(ev, 0, sizeof *ev);
  ev->type = type;
  ev->index = SMTP_CLIENT_NO_INDEX;
}

static int emit_simple(smtp_client_session *c, int type, int error, const smtp_reply *r) {
  smtp_client_event ev;
  ev_init(&ev, type);
  ev.error = error;
  ev.reply = r;
  ev.txn = c->tx.active ? c->txn : NULL;
  ev.part = c->tx.part;
  return emit(c, &ev);
}

/* ---------------- ending ---------------- */

static int class_of(int code) { return code / 100; }

/* The transaction (active or only queued) is over. */
static void txn_finish(smtp_client_session *c, int status_override) {
  smtp_client_event ev;
  smtp_client_txn *t = c->txn;
  if (!t) return;
  ev_init(&ev, SMTP_CLIENT_EVENT_TXN_DONE);
  ev.txn = t;
  ev.part = c->tx.part;
  ev.result.nrcpt = t->nrcpt;
  ev.result.naccepted = c->tx.active ? c->tx.naccepted : 0;
  ev.result.ndelivered = c->tx.active ? c->tx.ndelivered : 0;
  if (ev.result.ndelivered > 0) ev.result.status = SMTP_OK;
  else if (status_override) ev.result.status = status_override;
  else if (c->tx.local_error) ev.result.status = c->tx.local_error;
  else if (c->tx.any_temp) ev.result.status = SMTP_ERR_TEMPFAIL;
  else ev.result.status = SMTP_ERR_REJECTED;
  ev.error = ev.result.status;
  t->owner = NULL;
  c->txn = NULL;
  c->tx.active = 0;
  c->body.phase = B_NONE;
  c->body.chunk_open = 0;
  /* Never hand out the application's body after its transaction ended. */
  c->out.direct = NULL;
  c->out.direct_len = 0;
  if (c->phase == PH_TXN) c->phase = PH_READY;
  c->xc.forward_done = 0; /* the server forgot them with the transaction */
  emit(c, &ev);
}

/* Map a session-ending error to what an open transaction reports. */
static int txn_status_for(int err) {
  switch (err) {
  case SMTP_ERR_CONNECTION_LOST:
  case SMTP_ERR_TIMEOUT:
  case SMTP_ERR_SERVICE_UNAVAILABLE:
  case SMTP_ERR_EOF:
  case 0:
    return SMTP_ERR_TEMPFAIL;
  default:
    return err;
  }
}

/* The session is over now (no more bytes either way). */
void smtp__cli_session_end(smtp_client_session *c, int err) {
  if (c->phase == PH_CLOSED) return;
  if (c->txn) txn_finish(c, txn_status_for(err));
  c->phase = PH_CLOSED;
  c->error = err;
  c->todo = 0;
  c->out.head = c->out.ready = c->out.tail = 0;
  c->out.direct = NULL;
  c->out.direct_len = 0;
  c->ring.count = 0;
  c->tls.wanted = 0;
  c->body.phase = B_NONE;
  if (!c->closed_sent && err != SMTP_ERR_CALLBACK_FAILURE) {
    c->closed_sent = 1;
    emit_simple(c, SMTP_CLIENT_EVENT_CLOSED, err, NULL);
  }
  c->closed_sent = 1;
}

static void set_fatal(smtp_client_session *c, int err) {
  if (c->phase == PH_CLOSED) {
    if (!c->error) c->error = err;
    return;
  }
  c->closed_sent = 1; /* a failing application gets no more events */
  c->phase = PH_CLOSED;
  c->error = err;
  c->todo = 0;
  c->ring.count = 0;
  c->out.head = c->out.ready = c->out.tail = 0;
  c->out.direct = NULL;
  c->out.direct_len = 0;
  if (c->txn) {
    c->txn->owner = NULL;
    c->txn = NULL;
  }
  c->tx.active = 0;
}

/* End politely: fail what is open, send QUIT, report @p err after its reply. */
static void fail_quit(smtp_client_session *c, int err) {
  if (c->phase == PH_CLOSED || c->phase == PH_QUIT) return;
  c->end_error = err;
  if (c->txn) txn_finish(c, err);
  c->todo = T_QUIT;
  c->phase = PH_QUIT;
  c->tls.wanted = 0;
}

/* ---------------- session object ---------------- */

/* Offsets in the session's single allocation, aligned for any type. */
#define ALIGN16(n) (((n) + 15u) & ~(size_t)15u)

int smtp_client_session_new(smtp_client_session **out, const smtp_client_callbacks *callbacks,
                            void *user_data, const smtp_client_options *options,
                            const smtp_mem *mem) {
  smtp_client_session *c;
  smtp_client_options defaults;
  const smtp_client_options *o = options;
  size_t tok_len = 0, zl = 0, ul = 0, pl = 0, el, caps_cap, raw_cap = 0, line_cap = 0;
  size_t off_evq, off_sasl, off_out, off_stage, off_caps, off_line, off_raw, off_cred, off_ehlo;
  size_t off_full;
  size_t total, cred_len = 0, out_cap, out_max;
  int rc, want_auth, event_mode = callbacks == NULL;
  char *base;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  if (!o) {
    memset(&defaults, 0, sizeof defaults);
    memcpy(defaults.ehlo, "localhost", 10);
    defaults.out_cap = SMTP_CLIENT_OUTPUT_DEFAULT;
    o = &defaults;
  }
  /* Everything is sized by the options here, in one allocation, so that no
   * transaction allocates: the AUTH buffers only with credentials, the
   * read stage only with a read callback, the event queue only in event
   * mode. */
  want_auth = o->sasl && (o->have_password || (o->have_token && o->token) ||
                          o->mech == SMTP_SASL_EXTERNAL || o->ncustom > 0);
  if (o->have_token && o->token) tok_len = strlen(o->token);
  if (want_auth) {
    zl = strlen(o->authzid);
    ul = strlen(o->user);
    pl = o->have_password ? strlen(o->pass) : 0;
    cred_len = zl + 1 + ul + 1 + pl + 1 + tok_len + 1;
    raw_cap = SASL_RAW_BASE + tok_len;
    line_cap = LINE_CAP_FOR(raw_cap);
  }
  if (o->max_line || o->max_lines) {
    size_t ml = o->max_line ? o->max_line : SMTP_REPLY_LINE_MAX;
    size_t mn = o->max_lines ? o->max_lines : SMTP_REPLY_LINES_MAX;
    caps_cap = ml * mn < CAPS_TEXT_MAX ? ml * mn : CAPS_TEXT_MAX;
  } else {
    caps_cap = CAPS_TEXT_DEFAULT;
  }
  el = strlen(o->ehlo) + 1;
  /* The output holds the longest line this session writes: with a large
   * token, the AUTH line may be longer than the configured buffer. */
  out_max = o->out_cap;
  if (want_auth && line_cap + 2 > out_max) out_max = line_cap + 2;
  out_cap = out_max < OUT_INIT ? out_max : OUT_INIT;
  off_evq = ALIGN16(sizeof *c);
  off_full = ALIGN16(off_evq + (event_mode ? EVQ_CAP * sizeof(smtp_client_event) : 0));
  off_sasl = ALIGN16(off_full + (event_mode ? sizeof(smtp_capabilities) : 0));
  off_out = ALIGN16(off_sasl + (want_auth ? ALIGN16(sizeof(smtp__sasl_client)) +
                                                 sizeof(smtp__client_auth_cfg)
                                           : 0));
  off_stage = off_out + out_cap;
  off_caps = off_stage + (callbacks && callbacks->read_body ? STAGE_CAP : 0);
  off_line = off_caps;
  off_raw = off_line + line_cap;
  off_cred = off_raw + raw_cap;
  off_ehlo = off_cred + cred_len;
  total = off_ehlo + el + o->xclient_len + o->xforward_len;
  base = smtp__malloc(mem, total);
  if (!base) return SMTP_ERR_NOMEM;
  c = (smtp_client_session *)(void *)base;
  memset(c, 0, sizeof *c);
  c->mem = *mem;
  if (callbacks) c->cb = *callbacks;
  c->event_mode = event_mode;
  c->ud = user_data;
  c->opt.lmtp = (unsigned char)o->lmtp; /* these five: 0..2, checked by their setters */
  c->opt.starttls = (unsigned char)o->starttls;
  c->opt.allow_plain = (unsigned char)o->allow_plain;
  c->opt.require_utf8 = (unsigned char)o->require_utf8;
  c->opt.requiretls = (unsigned char)o->requiretls;
  c->opt.disabled = o->disabled;
  c->opt.mech = o->mech;
  c->opt.max_line = o->max_line;
  c->opt.max_lines = o->max_lines;
  {
    int i;
    for (i = 0; i < SMTP_CLIENT_TIMEOUT_ALL; i++)
      c->opt.tmo[i] = o->tmo[i] ? o->tmo[i] : tmo_default[i];
  }
  memcpy(base + off_ehlo, o->ehlo, el);
  c->opt.ehlo = base + off_ehlo;
  if (o->xclient) {
    memcpy(base + off_ehlo + el, o->xclient, o->xclient_len);
    c->opt.xclient = base + off_ehlo + el;
    c->opt.xclient_len = strlen(c->opt.xclient);
    c->opt.xhelo = c->opt.xclient + c->opt.xclient_len + 1;
  }
  if (o->xforward) {
    memcpy(base + off_ehlo + el + o->xclient_len, o->xforward, o->xforward_len);
    c->opt.xforward = base + off_ehlo + el + o->xclient_len;
  }
  if (event_mode) c->evq = (smtp_client_event *)(void *)(base + off_evq);
  c->out.buf = base + off_out;
  c->out.cap = out_cap;
  c->out.max = out_max;
  c->body.stage = base + off_stage;
  c->caps.limit = caps_cap;
  if (event_mode) c->caps.full = (smtp_capabilities *)(void *)(base + off_full);
  if (want_auth) {
    char *q = base + off_cred;
    c->auth.sasl = (smtp__sasl_client *)(void *)(base + off_sasl);
    memset(c->auth.sasl, 0, sizeof *c->auth.sasl);
    c->auth.cfg = (smtp__client_auth_cfg *)(void *)(base + off_sasl +
                                                ALIGN16(sizeof(smtp__sasl_client)));
    memset(c->auth.cfg, 0, sizeof *c->auth.cfg);
    memcpy(c->auth.cfg->order, o->auth_order, sizeof o->auth_order);
    c->auth.cfg->ops = o->sasl;
    c->auth.cfg->order_len = o->auth_order_len;
    c->auth.cfg->max_iter = o->scram_max_iter;
    c->auth.cfg->random = o->random;
    c->auth.cfg->random_ud = o->random_ud;
    memcpy(c->auth.cfg->custom, o->custom, sizeof o->custom);
    memcpy(c->auth.cfg->custom_name, o->custom_name, sizeof o->custom_name);
    c->auth.cfg->ncustom = o->ncustom;
    for (size_t k = 0; k < o->ncustom; k++) c->auth.cfg->custom[k].name = c->auth.cfg->custom_name[k];
    c->auth.line = base + off_line;
    c->auth.line_cap = line_cap;
    c->auth.cfg->raw = base + off_raw;
    c->auth.cfg->raw_cap = raw_cap;
    c->auth.cfg->cred_copy = q;
    c->auth.cfg->cred_copy_len = cred_len;
    memcpy(q, o->authzid, zl + 1);
    c->auth.cfg->creds.authzid = q;
    c->auth.cfg->creds.authzid_len = zl;
    q += zl + 1;
    memcpy(q, o->user, ul + 1);
    c->auth.cfg->creds.user = q;
    c->auth.cfg->creds.user_len = ul;
    q += ul + 1;
    if (o->have_password) {
      memcpy(q, o->pass, pl + 1);
      c->auth.cfg->creds.pass = q;
      c->auth.cfg->creds.pass_len = pl;
      c->opt.have_password = 1;
    } else {
      *q = 0;
    }
    q += pl + 1;
    if (tok_len) {
      memcpy(q, o->token, tok_len + 1);
      c->auth.cfg->creds.token = q;
      c->auth.cfg->creds.token_len = tok_len;
      c->opt.have_token = 1;
    } else {
      *q = 0;
    }
  }
  rc = smtp_reply_parser_new(&c->rp, o->max_line, o->max_lines, mem);
  if (rc != SMTP_OK) {
    if (c->auth.cfg) smtp__wipe(c->auth.cfg->cred_copy, c->auth.cfg->cred_copy_len);
    smtp__free(mem, c);
    return rc;
  }
  c->ring.buf = c->ring.init;
  c->ring.cap = RING_INIT;
  c->phase = PH_GREETING;
  ring_push(c, K_GREETING, 0); /* the greeting needs no command */
  *out = c;
  return SMTP_OK;
}

void smtp_client_session_del(smtp_client_session *c) {
  smtp_mem mem;
  if (!c) return;
  mem = c->mem;
  if (c->txn) c->txn->owner = NULL;
  smtp_reply_parser_del(c->rp);
  if (c->auth.cfg) { /* set with every AUTH buffer (smtp_client_session_new()) */
    c->auth.cfg->ops->wipe(c->auth.sasl);
    smtp__wipe(c->auth.line, c->auth.line_cap);
    smtp__wipe(c->auth.cfg->raw, c->auth.cfg->raw_cap);
    smtp__wipe(c->auth.cfg->cred_copy, c->auth.cfg->cred_copy_len);
    smtp__wipe(c->auth.cfg, sizeof *c->auth.cfg);
  }
  smtp__free(&mem, c->ring.block);
  smtp__free(&mem, c->out.block);
  smtp__free(&mem, c->caps.text);
  if (c->caps.full_own) smtp__free(&mem, c->caps.full);
  smtp__free(&mem, c);
}

/* ---------------- capabilities ---------------- */

/* Copy @p sp's bytes and a NUL into the capability text and point @p sp
 * at the copy. */
static void caps_copy(smtp_client_session *c, smtp_span *sp) {
  size_t l = sp->len;
  if (l) memcpy(c->caps.text + c->caps.tlen, sp->ptr, l);
  c->caps.text[c->caps.tlen + l] = '\0';
  sp->ptr = c->caps.text + c->caps.tlen;
  c->caps.tlen += l + 1;
}

/* Parse the EHLO reply whole into @p caps (every flag, value and AUTH
 * mechanism counts), keep what the session acts on, and copy the greeting
 * and the keywords' text, which must outlive the reply parser's buffer, as
 * far as the copy's bound allows; @p caps's spans then point at the copy.
 * The copy is allocated at the size this reply needs (SMTP_ERR_NOMEM when
 * that fails, which ends the session like any failed allocation). */
static int store_caps(smtp_client_session *c, const smtp_reply *r, smtp_capabilities *caps) {
  size_t i, need, gl;
  if (smtp_capabilities_parse(r, caps) != SMTP_OK) return SMTP_ERR_PROTOCOL;
  gl = caps->greeting.len + 1 > c->caps.limit ? c->caps.limit - 1 : caps->greeting.len;
  need = gl + 1;
  for (i = 0; i < caps->nkeywords; i++) {
    size_t kl = caps->keywords[i].keyword.len + caps->keywords[i].params.len + 2;
    if (kl > c->caps.limit - need) break;
    need += kl;
  }
  if (need > c->caps.tcap) {
    char *t = (char *)smtp__malloc(&c->mem, need);
    if (!t) return SMTP_ERR_NOMEM;
    smtp__free(&c->mem, c->caps.text);
    c->caps.text = t;
    c->caps.tcap = need;
  }
  c->caps.tlen = 0;
  caps->greeting.len = gl;
  caps_copy(c, &caps->greeting);
  for (size_t j = 0; j < i; j++) {
    caps_copy(c, &caps->keywords[j].keyword);
    caps_copy(c, &caps->keywords[j].params);
  }
  caps->ndropped += caps->nkeywords - i;
  if (i < caps->nkeywords)
    memset(&caps->keywords[i], 0, (caps->nkeywords - i) * sizeof caps->keywords[0]);
  caps->nkeywords = i;
  c->caps.v.flags = caps->flags;
  c->caps.v.auth_mechs = caps->auth_mechs;
  c->caps.v.size_max = caps->size_max;
  c->caps.v.size_has_value = caps->size_has_value;
  c->caps.v.limits_rcptmax = caps->limits_rcptmax;
  c->caps.v.limits_mailmax = caps->limits_mailmax;
  c->caps.v.limits_rcptdomainmax = caps->limits_rcptdomainmax;
  c->caps.v.nkeywords = caps->nkeywords;
  c->caps.v.ndropped = caps->ndropped;
  c->caps.have = 1;
  c->caps.full_ok = 0;
  return SMTP_OK;
}

/* Build the whole smtp_capabilities from what the session kept. */
static void caps_build(const smtp_client_session *c, smtp_capabilities *caps) {
  const char *t = c->caps.text;
  size_t i;
  memset(caps, 0, sizeof *caps);
  caps->flags = c->caps.v.flags;
  caps->auth_mechs = c->caps.v.auth_mechs;
  caps->size_max = c->caps.v.size_max;
  caps->size_has_value = c->caps.v.size_has_value;
  caps->limits_rcptmax = c->caps.v.limits_rcptmax;
  caps->limits_mailmax = c->caps.v.limits_mailmax;
  caps->limits_rcptdomainmax = c->caps.v.limits_rcptdomainmax;
  caps->nkeywords = c->caps.v.nkeywords;
  caps->ndropped = c->caps.v.ndropped;
  caps->greeting.ptr = "";
  if (!c->caps.tlen) return; /* HELO, or no copy */
  caps->greeting.ptr = t;
  caps->greeting.len = strlen(t);
  t += caps->greeting.len + 1;
  for (i = 0; i < caps->nkeywords; i++) {
    smtp_ext_keyword *k = &caps->keywords[i];
    k->keyword.ptr = t;
    k->keyword.len = strlen(t);
    t += k->keyword.len + 1;
    k->params.ptr = t;
    k->params.len = strlen(t);
    t += k->params.len + 1;
  }
}

static void caps_clear(smtp_client_session *c) {
  memset(&c->caps.v, 0, sizeof c->caps.v);
  c->caps.tlen = 0;
  c->caps.have = 0;
  c->caps.full_ok = 0;
  c->ext = 0;
}

/* ---------------- AUTH ---------------- */

static void ready(smtp_client_session *c) {
  c->phase = PH_READY;
  emit_simple(c, SMTP_CLIENT_EVENT_READY, 0, NULL);
}

static void auth_fail(smtp_client_session *c, int err, const smtp_reply *r) {
  emit_simple(c, SMTP_CLIENT_EVENT_AUTH, err, r);
  if (c->phase != PH_CLOSED) fail_quit(c, err);
}

/* Put "<prefix>" + base64(raw) into c->auth.line. */
static int line_b64(smtp_client_session *c, const char *prefix, const char *raw, size_t n) {
  size_t pl = strlen(prefix);
  smtp_ssize k;
  if (pl > c->auth.line_cap) return SMTP_ERR_TOO_LONG;
  memcpy(c->auth.line, prefix, pl);
  if (n == 0 && pl) {
    /* RFC 4954 4: an empty initial response is sent as "=". */
    if (pl + 1 > c->auth.line_cap) return SMTP_ERR_TOO_LONG;
    c->auth.line[pl] = '=';
    c->auth.line_len = pl + 1;
    return SMTP_OK;
  }
  k = smtp_base64_encode(raw, n, c->auth.line + pl, c->auth.line_cap - pl);
  if (k < 0) return SMTP_ERR_TOO_LONG;
  c->auth.line_len = pl + (size_t)k;
  return SMTP_OK;
}

/* 1 when the AUTH keyword of the last EHLO lists @p name. The keywords'
 * text: greeting NUL, then keyword NUL params NUL for each. */
static int auth_offers_name(const smtp_client_session *c, const char *name) {
  const char *t = c->caps.text, *end;
  size_t nl = strlen(name);
  if (!t || !c->caps.tlen) return 0;
  end = t + c->caps.tlen;
  t += strlen(t) + 1;
  while (t < end) {
    const char *kw = t, *params = t + strlen(t) + 1;
    if (params >= end) break;
    t = params + strlen(params) + 1;
    if (smtp__casecmp(kw, strlen(kw), "AUTH", 4) != 0) continue;
    while (*params) {
      size_t wl = 0;
      while (*params == ' ') params++;
      while (params[wl] && params[wl] != ' ') wl++;
      if (wl && smtp__casecmp(params, wl, name, nl) == 0) return 1;
      params += wl;
    }
  }
  return 0;
}

/* The first application mechanism the server offers: started (1), or 0
 * when none is offered. */
static int start_custom(smtp_client_session *c) {
  size_t i, rawlen = 0, nl;
  int has_ir = 0, rc;
  for (i = 0; i < c->auth.cfg->ncustom; i++)
    if (auth_offers_name(c, c->auth.cfg->custom_name[i])) break;
  if (i == c->auth.cfg->ncustom) return 0;
  /* RFC 4954 4: no credentials in clear text unless allowed. */
  if (!c->tls.active && !c->opt.allow_plain) {
    auth_fail(c, SMTP_ERR_PLAINTEXT_AUTH, NULL);
    return 1;
  }
  rc = c->auth.cfg->ops->start_custom(c->auth.sasl, &c->auth.cfg->custom[i], &c->auth.cfg->creds, c->auth.cfg->raw,
                                      c->auth.cfg->raw_cap, &rawlen, &has_ir);
  if (rc != SMTP_OK) {
    c->auth.cfg->ops->wipe(c->auth.sasl);
    auth_fail(c, rc == SMTP_ERR_CALLBACK_REFUSED ? SMTP_ERR_AUTH_FAILED : SMTP_ERR_AUTH_UNAVAILABLE,
              NULL);
    return 1;
  }
  c->auth.mech = 0;
  c->auth.ir_pending = 0;
  nl = strlen(c->auth.cfg->custom_name[i]);
  if (has_ir && 6 + nl + SMTP_BASE64_ENCODED_LEN(rawlen) + 2 > SMTP_COMMAND_LINE_MAX) {
    c->auth.ir_pending = 1; /* RFC 4954 4: sent after the empty 334 instead */
    c->auth.cfg->ir_len = rawlen;
    has_ir = 0;
  }
  memcpy(c->auth.line, "AUTH ", 5);
  memcpy(c->auth.line + 5, c->auth.cfg->custom_name[i], nl);
  if (has_ir) {
    char prefix[8 + SMTP__MECH_NAME_MAX];
    memcpy(prefix, c->auth.line, 5 + nl);
    prefix[5 + nl] = ' ';
    prefix[6 + nl] = 0;
    rc = line_b64(c, prefix, c->auth.cfg->raw, rawlen);
    c->auth.line_redact = (int)(6 + nl);
  } else {
    c->auth.line_len = 5 + nl;
    c->auth.line_redact = -1;
  }
  if (!c->auth.ir_pending) smtp__wipe(c->auth.cfg->raw, rawlen);
  if (rc != SMTP_OK) {
    c->auth.cfg->ops->wipe(c->auth.sasl);
    auth_fail(c, SMTP_ERR_AUTH_UNAVAILABLE, NULL);
    return 1;
  }
  c->auth.cancelled = 0;
  c->phase = PH_AUTH;
  c->todo |= T_LINE;
  return 1;
}

static void start_auth(smtp_client_session *c) {
  unsigned int supported, mech, offered;
  char nonce[32];
  size_t nonce_len = 0, rawlen = 0;
  int has_ir = 0, rc;
  char prefix[40];
  const char *name;

  offered = c->caps.v.auth_mechs;
  if (!c->opt.mech && c->auth.cfg->ncustom && start_custom(c)) return;
  if (!(c->ext & SMTP_EXT_AUTH)) {
    auth_fail(c, SMTP_ERR_AUTH_UNAVAILABLE, NULL);
    return;
  }
  /* RFC 4954 4 / docs/security.md 2: no credentials in clear text unless allowed. */
  if (!c->tls.active && !c->opt.allow_plain) {
    auth_fail(c, SMTP_ERR_PLAINTEXT_AUTH, NULL);
    return;
  }
  supported = c->auth.cfg->ops->supported(c->opt.have_password, c->opt.have_token,
                                          c->auth.cfg->random != NULL);
  /* RFC 5802 6: the -PLUS forms only with channel-binding data. */
  c->auth.cfg->ops->creds_cb(&c->auth.cfg->creds, &c->auth.cfg->cbind, c->auth.cfg->max_iter);
  if (!c->auth.cfg->cbind.len) supported &= ~(unsigned)SMTP__SASL_SCRAM_PLUS;
  if (c->opt.mech)
    mech = ((offered & supported & c->opt.mech) || (offered & c->auth.cfg->ops->scram_plus_of(c->opt.mech)))
               ? c->opt.mech /* a SCRAM family whose -PLUS form is offered: see below */
               : 0;
  else if (c->auth.cfg->order_len)
    mech = c->auth.cfg->ops->choose_order(offered, supported, c->auth.cfg->order,
                                          c->auth.cfg->order_len);
  else mech = c->auth.cfg->ops->choose(offered, supported);
  if (mech) mech = c->auth.cfg->ops->cb_policy(mech, offered, c->auth.cfg->cbind.len != 0, &rc);
  else rc = SMTP_ERR_AUTH_UNAVAILABLE;
  if (!mech) {
    auth_fail(c, rc, NULL);
    return;
  }
  if (c->auth.cfg->ops->scram_alg(mech)) {
    unsigned char rnd[18];
    smtp_ssize k;
    if (!c->auth.cfg->random || c->auth.cfg->random(rnd, sizeof rnd, c->auth.cfg->random_ud) != 0) {
      auth_fail(c, SMTP_ERR_AUTH_UNAVAILABLE, NULL);
      return;
    }
    k = smtp_base64_encode(rnd, sizeof rnd, nonce, sizeof nonce);
    nonce_len = k > 0 ? (size_t)k : 0;
  }
  rc = c->auth.cfg->ops->start(c->auth.sasl, mech, &c->auth.cfg->creds, nonce, nonce_len, c->auth.cfg->raw,
                               c->auth.cfg->raw_cap, &rawlen, &has_ir);
  if (rc != SMTP_OK) {
    auth_fail(c, rc == SMTP_ERR_SASLPREP ? rc : SMTP_ERR_AUTH_UNAVAILABLE, NULL);
    return;
  }
  name = smtp_sasl_mech_name(mech);
  if (!name) name = "PLAIN";
  c->auth.mech = mech;
  c->auth.ir_pending = 0;
  if (has_ir && 5 + strlen(name) + 1 + SMTP_BASE64_ENCODED_LEN(rawlen) + 2 > SMTP_COMMAND_LINE_MAX) {
    /* RFC 4954 4: an initial response that would make the AUTH line longer
     * than 512 octets is sent after the server's empty 334 instead. */
    c->auth.ir_pending = 1;
    c->auth.cfg->ir_len = rawlen;
    has_ir = 0;
  }
  if (has_ir) {
    size_t nl = strlen(name);
    memcpy(prefix, "AUTH ", 5);
    memcpy(prefix + 5, name, nl);
    prefix[5 + nl] = ' ';
    prefix[6 + nl] = 0;
    rc = line_b64(c, prefix, c->auth.cfg->raw, rawlen);
    c->auth.line_redact = (int)(6 + nl);
  } else {
    size_t nl = strlen(name);
    memcpy(c->auth.line, "AUTH ", 5);
    memcpy(c->auth.line + 5, name, nl);
    c->auth.line_len = 5 + nl;
    c->auth.line_redact = -1;
    rc = SMTP_OK;
  }
  if (!c->auth.ir_pending) smtp__wipe(c->auth.cfg->raw, rawlen);
  if (rc != SMTP_OK) {
    auth_fail(c, SMTP_ERR_AUTH_UNAVAILABLE, NULL);
    return;
  }
  c->auth.cancelled = 0;
  c->phase = PH_AUTH;
  c->todo |= T_LINE;
}

static void after_tls_decision(smtp_client_session *c) {
  if (c->opt.xforward && c->xc.forward_offered && !c->xc.forward_done) {
    /* the attributes go with this EHLO's session; the reply continues here */
    c->xc.forward_done = 1;
    c->todo |= T_XFORWARD;
    return;
  }
  if (c->auth.sasl) start_auth(c);
  else ready(c);
}

/* After the capabilities are known: STARTTLS, AUTH or ready. */
static void after_ehlo(smtp_client_session *c) {
  if (!c->tls.active && c->opt.starttls != SMTP_CLIENT_STARTTLS_OFF) {
    if (c->caps.v.flags & SMTP_EXT_STARTTLS) {
      c->todo |= T_STARTTLS;
      c->phase = PH_STARTTLS;
      return;
    }
    if (c->opt.starttls == SMTP_CLIENT_STARTTLS_REQUIRED) {
      fail_quit(c, SMTP_ERR_TLS_REQUIRED);
      return;
    }
  }
  after_tls_decision(c);
}

/* ---------------- transactions ---------------- */

static void part_reset(smtp_client_session *c) {
  c->tx.rcpt_next = c->tx.first;
  c->tx.replies = 0;
  c->tx.accepted = 0;
  c->tx.lmtp_next = c->tx.first;
  c->tx.mail_emitted = c->tx.data_emitted = 0;
  c->tx.mail_ok = 0;
  c->tx.failed_code = 0;
  c->tx.done = 0;
  c->body.phase = B_NONE;
  c->body.bdat_failed = 0;
  c->body.chunk_open = 0;
  c->body.off = 0;
  c->body.total = 0;
  c->body.src_eof = 0;
  c->body.read_blocked = 0;
  c->body.stage_off = c->body.stage_len = 0;
  c->body.url_next = 0;
  c->body.norm_cr = 0;
  c->body.norm_line = 0;
  c->body.norm_started = 0;
  c->body.bol = 1;
  smtp_stuffer_init(&c->body.st, 0);
}

/* Decide how to send the queued transaction, or refuse it locally before
 * a byte of it is written. Returns 0 or the local error. */
static int txn_plan(smtp_client_session *c) {
  smtp_client_txn *t = c->txn;
  unsigned int x = c->ext;
  int type = t->body_type;
  int want_requiretls = t->requiretls || c->opt.requiretls;
  uint64_t size = 0, wire = 0;
  unsigned int seen = 0;
  int have_size = 0;

  c->plan.verbatim = c->plan.verbatim_crlf = 0;
  c->plan.bdat = c->plan.eightbit = c->plan.binary = c->plan.utf8 = c->plan.size = 0;
  c->plan.requiretls = c->plan.dsn = 0;
  c->plan.burl = 0;
  c->plan.allow_8bit = 0;
  if (t->body_source == SMTP_CLIENT_BODY_READ && !c->cb.read_body) return SMTP_ERR_INVALID_ARGUMENT;
  /* RFC 8689 4.1: REQUIRETLS only over TLS and only when offered. */
  if (want_requiretls) {
    if (!c->tls.active) return SMTP_ERR_TLS_REQUIRED;
    /* ... and only when the server's certificate was validated. */
    if (!c->tls.verified) return SMTP_ERR_TLS_NOT_VERIFIED;
    if (!(x & SMTP_EXT_REQUIRETLS)) return SMTP_ERR_UNSUPPORTED;
    c->plan.requiretls = 1;
  }
  /* RFC 6531 3.4: non-ASCII addresses need SMTPUTF8. */
  if (t->utf8 || c->opt.require_utf8) {
    if (!(x & SMTP_EXT_SMTPUTF8)) return SMTP_ERR_NEEDS_SMTPUTF8;
    c->plan.utf8 = 1;
  }
  if (t->body_source == SMTP_CLIENT_BODY_URL) {
    /* RFC 4468 3: the server fetches the body, BURL instead of DATA/BDAT.
     * The body type is declared as the application says (BINARYMIME
     * only where it could also be sent, RFC 3030 3); unknown content gets
     * 8BITMIME when offered, as a streamed body does (RFC 6152 3). */
    if (!(x & SMTP_EXT_BURL)) return SMTP_ERR_NEEDS_BURL;
    c->plan.burl = 1;
    if (type == SMTP_BODY_BINARYMIME) {
      if (!(x & SMTP_EXT_BINARYMIME) || !(x & SMTP_EXT_CHUNKING)) return SMTP_ERR_NEEDS_BINARYMIME;
      c->plan.binary = 1;
    } else if (type == SMTP_BODY_8BITMIME || (type == SMTP_BODY_UNSPECIFIED && (x & SMTP_EXT_8BITMIME))) {
      if (!(x & SMTP_EXT_8BITMIME)) return SMTP_ERR_NEEDS_8BITMIME;
      c->plan.eightbit = 1;
    }
  } else if (type == SMTP_BODY_BINARYMIME) {
    /* RFC 3030 3: BINARYMIME needs CHUNKING, the body goes in BDAT. */
    if (!(x & SMTP_EXT_BINARYMIME) || !(x & SMTP_EXT_CHUNKING)) return SMTP_ERR_NEEDS_BINARYMIME;
    c->plan.binary = 1;
    c->plan.bdat = 1;
  } else {
    if (t->body_source == SMTP_CLIENT_BODY_MEMORY) {
      /* One pass judges the body as it will be sent (bare CR / bare LF
       * become CRLF and end lines, docs/security.md 1; 998 octets before each
       * CRLF, RFC 5321 4.5.3.1.6) and counts its octets as sent (SIZE=,
       * RFC 1870 3). */
      seen = smtp_data_measure(t->body, t->body_len, &wire);
      if (seen & SMTP_DATA_SEEN_NUL) return SMTP_ERR_NUL;
      if (seen & SMTP_DATA_SEEN_LONG_LINE) return SMTP_ERR_LINE_TOO_LONG;
      if (seen & SMTP_DATA_SEEN_8BIT) {
        if (type == SMTP_BODY_7BIT) return SMTP_ERR_NEEDS_8BITMIME;
        if (!(x & SMTP_EXT_8BITMIME)) return SMTP_ERR_NEEDS_8BITMIME;
        c->plan.eightbit = 1;
      }
    }
    if (type == SMTP_BODY_8BITMIME) {
      if (!(x & SMTP_EXT_8BITMIME)) return SMTP_ERR_NEEDS_8BITMIME;
      c->plan.eightbit = 1;
    }
    if (type == SMTP_BODY_UNSPECIFIED && t->body_source != SMTP_CLIENT_BODY_MEMORY &&
        (x & SMTP_EXT_8BITMIME))
      c->plan.eightbit = 1; /* unknown content: 8BITMIME covers 7-bit too (RFC 6152 3) */
    c->plan.allow_8bit = c->plan.eightbit;
    if (x & SMTP_EXT_CHUNKING) c->plan.bdat = 1;
    if (t->body_source == SMTP_CLIENT_BODY_MEMORY) {
      /* Vetted above and without bare CR / bare LF: BDAT sends it as it
       * is, plus a final CRLF when it lacks one. */
      c->plan.verbatim = !(seen & (SMTP_DATA_SEEN_BARE_CR | SMTP_DATA_SEEN_BARE_LF));
      c->plan.verbatim_crlf = wire != (uint64_t)t->body_len; /* only the final CRLF is added */
    }
  }
  /* RFC 1870 4: declare SIZE, refuse locally what the server cannot take. */
  if (t->body_source == SMTP_CLIENT_BODY_MEMORY) {
    /* BINARYMIME goes out byte for byte in BDAT; text is normalised. */
    size = c->plan.binary ? (uint64_t)t->body_len : wire;
    have_size = 1;
  } else if (t->has_size) {
    size = t->size_hint;
    have_size = 1;
  }
  if (have_size && (x & SMTP_EXT_SIZE)) {
    if (c->caps.v.size_has_value && c->caps.v.size_max > 0 && size > c->caps.v.size_max)
      return SMTP_ERR_MESSAGE_TOO_BIG;
    c->plan.size = 1;
    c->plan.size_value = size;
  }
  if (x & SMTP_EXT_DSN) c->plan.dsn = 1;
  /* A parameter of an extension the server did not offer: refused here
   * (RFC 5321 4.1.1.11 would give 555). */
  if (!smtp__cli_txn_params_offered(t, x)) return SMTP_ERR_UNSUPPORTED;
  /* RFC 9422: LIMITS RCPTMAX splits the recipients over transactions. */
  c->tx.nparts = 1;
  if (c->caps.v.limits_rcptmax && t->nrcpt > c->caps.v.limits_rcptmax)
    c->tx.nparts = (unsigned int)((t->nrcpt + c->caps.v.limits_rcptmax - 1) / c->caps.v.limits_rcptmax);
  /* RFC 9422 (LIMITS MAILMAX): no more transactions than the server takes
   * on one connection; the application must reconnect for the rest. */
  if (c->caps.v.limits_mailmax && c->mails_sent + c->tx.nparts > c->caps.v.limits_mailmax)
    return SMTP_ERR_LIMIT;
  return SMTP_OK;
}

static void part_bounds(smtp_client_session *c) {
  size_t per = c->tx.nparts > 1 ? c->caps.v.limits_rcptmax : c->txn->nrcpt;
  c->tx.first = (size_t)c->tx.part * per;
  c->tx.end = c->tx.first + per;
  if (c->tx.end > c->txn->nrcpt) c->tx.end = c->txn->nrcpt;
}

static void txn_start(smtp_client_session *c) {
  int rc;
  size_t i;
  for (i = 0; i < c->txn->nrcpt; i++) {
    c->txn->rcpts[i].rcpt_code = c->txn->rcpts[i].data_code = 0;
    c->txn->rcpts[i].accepted = 0;
  }
  c->tx.naccepted = c->tx.ndelivered = 0;
  c->tx.any_temp = c->tx.any_perm = 0;
  c->tx.local_error = 0;
  c->tx.part = 0;
  rc = txn_plan(c);
  if (rc != SMTP_OK) {
    c->tx.local_error = rc;
    txn_finish(c, rc);
    return;
  }
  c->tx.active = 1;
  c->phase = PH_TXN;
  part_bounds(c);
  part_reset(c);
}

static void note_code(smtp_client_session *c, int code) {
  if (class_of(code) == 4) c->tx.any_temp = 1;
  else if (class_of(code) == 5) c->tx.any_perm = 1;
}

/* This part is over; @p need_rset when the server may hold transaction state. */
static void part_over(smtp_client_session *c, int need_rset) {
  c->tx.done = 1;
  c->body.phase = B_NONE;
  c->body.chunk_open = 0;
  if (need_rset) c->todo |= T_RSET;
}

static void body_start(smtp_client_session *c) {
  smtp_client_event ev;
  c->body.phase = B_SEND;
  /* A body that is stuffed, normalised or read goes through the output:
   * give it the configured size (fewer, larger writes). A vetted memory
   * body goes out from the application's memory or in short copies, and
   * leaves the buffer small. A failed move only means smaller writes. */
  if (!c->plan.verbatim && !c->plan.burl) (void)smtp__cli_out_grow(c);
  ev_init(&ev, SMTP_CLIENT_EVENT_BODY_START);
  ev.txn = c->txn;
  ev.part = c->tx.part;
  emit(c, &ev);
}

/* ---------------- producing output ---------------- */

static void produce_txn(smtp_client_session *c) {
  char buf[2048];
  size_t n;
  int pipelining = (c->ext & SMTP_EXT_PIPELINING) != 0;
  if (c->tx.done) return;
  if (!c->tx.mail_emitted) {
    if (c->ring.count) return; /* after RSET/earlier replies */
    n = smtp__cli_fmt_mail(c, buf, sizeof buf);
    if (n > sizeof buf || !emit_line(c, K_MAIL, 0, buf, n, n)) return;
    c->tx.mail_emitted = 1;
    c->mails_sent++;
  }
  while (c->tx.rcpt_next < c->tx.end) {
    if (!pipelining && (c->ring.count || !c->tx.mail_ok)) return;
    n = smtp__cli_fmt_rcpt(c, c->tx.rcpt_next, buf, sizeof buf);
    if (n > sizeof buf || !emit_line(c, K_RCPT, c->tx.rcpt_next, buf, n, n)) return;
    c->tx.rcpt_next++;
  }
  if (!c->tx.data_emitted && !c->plan.bdat && !c->plan.burl) {
    /* Every reply of the part is in and nothing was accepted (DATA did not
     * fit the pipelined group): no DATA at all, RSET. */
    if (c->ring.count == 0 && c->tx.replies == c->tx.end - c->tx.first &&
        c->tx.accepted == 0) {
      part_over(c, 1);
      return;
    }
    /* RFC 2920 3.1: DATA ends the pipelined group; without PIPELINING only
     * after a recipient was accepted. */
    if (!pipelining && (c->ring.count || c->tx.accepted == 0)) return;
    if (!emit_line(c, K_DATA, 0, "DATA", 4, 4)) return;
    c->tx.data_emitted = 1;
    c->body.phase = B_WAIT;
  }
}

static void produce_some(smtp_client_session *c, int allow_read);

static void produce(smtp_client_session *c, int allow_read) {
  produce_some(c, allow_read);
  if (c->out.nomem) smtp__cli_session_end(c, SMTP_ERR_NOMEM);
}

static void produce_some(smtp_client_session *c, int allow_read) {
  for (;;) {
    unsigned int before = c->todo;
    int phase = c->phase;
    if (c->phase == PH_CLOSED || c->error) return;
    if (c->out.direct_len) return; /* bytes after a direct span wait for it */
    if (c->todo & T_EHLO) {
      char buf[SMTP_DOMAIN_MAX + 8];
      const char *name = c->xc.client_ok && c->opt.xhelo[0] ? c->opt.xhelo : c->opt.ehlo;
      size_t n = strlen(name);
      memcpy(buf, c->opt.lmtp ? "LHLO " : "EHLO ", 5);
      memcpy(buf + 5, name, n);
      if (!emit_line(c, K_EHLO, 0, buf, n + 5, n + 5)) return;
      c->todo &= ~T_EHLO;
    }
    if (c->todo & T_HELO) {
      char buf[SMTP_DOMAIN_MAX + 8];
      size_t n = strlen(c->opt.ehlo);
      memcpy(buf, "HELO ", 5);
      memcpy(buf + 5, c->opt.ehlo, n);
      if (!emit_line(c, K_HELO, 0, buf, n + 5, n + 5)) return;
      c->todo &= ~T_HELO;
    }
    if (c->todo & T_STARTTLS) {
      if (!emit_line(c, K_STARTTLS, 0, "STARTTLS", 8, 8)) return;
      c->todo &= ~T_STARTTLS;
    }
    if (c->todo & T_XFORWARD) {
      size_t xl = strlen(c->opt.xforward);
      if (!emit_line(c, K_XFORWARD, 0, c->opt.xforward, xl, xl)) return;
      c->todo &= ~T_XFORWARD;
    }
    if (c->todo & T_XCLIENT) {
      if (!emit_line(c, K_XCLIENT, 0, c->opt.xclient, c->opt.xclient_len, c->opt.xclient_len)) return;
      c->todo &= ~T_XCLIENT;
    }
    if (c->todo & T_LINE) {
      size_t tl = c->auth.line_redact < 0 ? c->auth.line_len : (size_t)c->auth.line_redact;
      if (c->auth.line_len + 2 > c->out.max) {
        auth_fail(c, SMTP_ERR_TOO_LONG, NULL);
        continue;
      }
      if (ring_full(c) || !smtp__cli_out_room(c, c->auth.line_len + 2)) return;
      if (c->auth.line_redact >= 0) {
        char red[64];
        size_t k = tl < 40 ? tl : 40;
        memcpy(red, c->auth.line, k);
        memcpy(red + k, "<redacted>", 10);
        trace(c, 'C', red, k + 10);
      } else {
        trace(c, 'C', c->auth.line, c->auth.line_len);
      }
      out_put(c, c->auth.line, c->auth.line_len);
      out_put(c, "\r\n", 2);
      ring_push(c, K_AUTH, 0);
      smtp__wipe(c->auth.line, c->auth.line_len);
      c->todo &= ~T_LINE;
    }
    if (c->todo & T_DOT) {
      if (ring_full(c) || !smtp__cli_out_room(c, 3)) return;
      trace(c, 'C', ".", 1);
      out_put(c, ".\r\n", 3);
      ring_push(c, K_DATA_END, 1);
      c->todo &= ~T_DOT;
    }
    if (c->todo & T_RSET) {
      if (!emit_line(c, K_RSET, 0, "RSET", 4, 4)) return;
      c->todo &= ~T_RSET;
    }
    if (c->todo & T_QUIT) {
      if (!emit_line(c, K_QUIT, 0, "QUIT", 4, 4)) return;
      c->todo &= ~T_QUIT;
      c->phase = PH_QUIT;
    }
    if (c->phase == PH_TXN && c->tx.active) {
      if (c->tx.done) {
        if (c->ring.count) return;
        if (c->tx.part + 1 < c->tx.nparts) {
          c->tx.part++;
          part_bounds(c);
          part_reset(c);
        } else {
          txn_finish(c, 0);
        }
        continue;
      }
      produce_txn(c);
      if (c->body.phase == B_SEND) smtp__cli_body_pump(c, allow_read);
      return;
    }
    if (c->phase == PH_READY && c->ring.count == 0) {
      if (c->txn && c->opt.xforward && c->xc.forward_offered && !c->xc.forward_done) {
        /* XFORWARD_README: the attributes go with one transaction; sent
         * again before each later one */
        c->xc.forward_done = 1;
        c->todo |= T_XFORWARD;
        continue;
      }
      if (c->txn) {
        txn_start(c);
        continue;
      }
      if (c->quit_requested) {
        c->todo |= T_QUIT;
        continue;
      }
    }
    if (before == c->todo && phase == c->phase) return;
  }
}

/* ---------------- replies ---------------- */

static int is_2xx(int code) { return class_of(code) == 2; }

static int handle_reply(smtp_client_session *c, const smtp_reply *r, size_t rest);

/* 250 to EHLO/LHLO (capabilities) or HELO (none). */
static int on_ehlo_ok(smtp_client_session *c, const smtp_reply *r, int kind) {
  smtp_capabilities caps;
  smtp_client_event ev;
  if (kind == K_EHLO) {
    int rc = store_caps(c, r, &caps);
    if (rc != SMTP_OK) return rc;
    c->ext = c->caps.v.flags & ~c->opt.disabled;
    if (!c->caps.v.auth_mechs) c->ext &= ~(unsigned)SMTP_EXT_AUTH;
    smtp_reply_parser_set_enhanced(c->rp, (c->ext & SMTP_EXT_ENHANCEDSTATUSCODES) != 0);
  } else {
    caps_clear(c);
    c->helo_mode = 1;
    c->caps.have = 1;
    caps_build(c, &caps);
  }
  ev_init(&ev, SMTP_CLIENT_EVENT_CAPABILITIES);
  ev.reply = r;
  if (c->event_mode) {
    /* the queued event's pointer lives until the next EHLO */
    *c->caps.full = caps;
    c->caps.full_ok = 1;
    ev.caps = c->caps.full;
  } else {
    ev.caps = &caps; /* valid during the callback */
  }
  emit(c, &ev);
  if (c->phase == PH_CLOSED) return SMTP_OK;
  c->xc.forward_offered = kind == K_EHLO && smtp_capabilities_find(&caps, "XFORWARD") != NULL;
  c->xc.forward_done = 0;
  if (kind == K_EHLO && c->opt.xclient && !c->xc.client_done && smtp_capabilities_find(&caps, "XCLIENT")) {
    /* once per connection: the server starts over with a 220, then EHLO again */
    c->xc.client_done = 1;
    c->todo |= T_XCLIENT;
    return SMTP_OK;
  }
  after_ehlo(c);
  return SMTP_OK;
}

static int on_reply(smtp_client_session *c, const smtp_reply *r, size_t rest) {
  pend *p = ring_front(c);
  trace_reply(c, r);
  if (smtp_reply_code_class(r->code) == SMTP_REPLY_INVALID) return SMTP_ERR_PROTOCOL;
  if (!p || p->end > c->out.consumed) {
    /* Unsolicited, or ahead of its command: only 421 may do that (RFC 5321
     * 3.8); anything else is a protocol error (docs/security.md 6). */
    if (r->code == 421) {
      if (c->phase == PH_QUIT) {
        smtp__cli_session_end(c, c->end_error);
        return SMTP_OK;
      }
      smtp__cli_session_end(c, SMTP_ERR_SERVICE_UNAVAILABLE);
      return SMTP_OK;
    }
    return SMTP_ERR_PROTOCOL;
  }
  return handle_reply(c, r, rest);
}

static int handle_421(smtp_client_session *c, const smtp_reply *r) {
  (void)r;
  smtp__cli_session_end(c, c->phase == PH_QUIT ? c->end_error : SMTP_ERR_SERVICE_UNAVAILABLE);
  return SMTP_OK;
}

/* ---------------- replies, one handler per kind of command ---------------- */

static int reply_greeting(smtp_client_session *c, const smtp_reply *r) {
  int code = r->code;
  emit_simple(c, SMTP_CLIENT_EVENT_GREETING, code == 220 ? 0 : SMTP_ERR_REJECTED, r);
  if (c->phase == PH_CLOSED) return SMTP_OK;
  if (code == 220) {
    /* RFC 5321 4.3.2 CONNECTION ESTABLISHMENT: S: 220, E: 554 */
    c->phase = PH_EHLO;
    c->todo |= T_EHLO;
  } else if (code == 421) {
    return handle_421(c, r);
  } else if (class_of(code) == 5 || class_of(code) == 4) {
    /* RFC 5321 3.1: after 554 the client sends QUIT and closes; other
     * refusals (outside the RFC) are treated alike. */
    fail_quit(c, class_of(code) == 4 ? SMTP_ERR_TEMPFAIL : SMTP_ERR_REJECTED);
  } else {
    smtp__cli_session_end(c, SMTP_ERR_PROTOCOL);
  }
  return SMTP_OK;
}

static int reply_ehlo(smtp_client_session *c, const smtp_reply *r, int kind) {
  int code = r->code;
  if (code == 421) return handle_421(c, r);
  if (code == 250) return on_ehlo_ok(c, r, kind);
  /* RFC 5321 4.1.4 / 3.2: fall back to HELO on "command not recognized"
   * only (500, 502); never for LMTP (RFC 2033 4.1). */
  if (kind == K_EHLO && (code == 500 || code == 502) && !c->opt.lmtp) {
    c->todo |= T_HELO;
    return SMTP_OK;
  }
  fail_quit(c, class_of(code) == 4 ? SMTP_ERR_TEMPFAIL : SMTP_ERR_REJECTED);
  return SMTP_OK;
}

static int reply_xforward(smtp_client_session *c, const smtp_reply *r) {
  int code = r->code;
  if (code == 421) return handle_421(c, r);
  /* accepted or not (a server that refuses them keeps its own view);
   * before a later transaction the session is ready already */
  if (c->phase != PH_READY) after_tls_decision(c);
  return SMTP_OK;
}

static int reply_xclient(smtp_client_session *c, const smtp_reply *r) {
  int code = r->code;
  if (code == 421) return handle_421(c, r);
  if (code == 220) {
    /* the session is the announced client's now: EHLO again */
    c->xc.client_ok = 1;
    c->todo |= T_EHLO;
    return SMTP_OK;
  }
  /* refused (550 5.7.0 untrusted, 501, ...): go on as the proxy itself */
  after_ehlo(c);
  return SMTP_OK;
}

static int reply_starttls(smtp_client_session *c, const smtp_reply *r, size_t rest) {
  int code = r->code;
  if (code == 421) return handle_421(c, r);
  if (code == 220) {
    /* RFC 3207 4.2, docs/security.md 2: nothing may follow the 220 before the
     * handshake; such bytes would be injected into the TLS session. */
    if (rest) return SMTP_ERR_PROTOCOL;
    c->phase = PH_TLS;
    c->tls.wanted = 1;
    emit_simple(c, SMTP_CLIENT_EVENT_STARTTLS, 0, r);
    return SMTP_OK;
  }
  if (c->opt.starttls == SMTP_CLIENT_STARTTLS_REQUIRED) {
    fail_quit(c, SMTP_ERR_TLS_REQUIRED);
    return SMTP_OK;
  }
  after_tls_decision(c); /* opportunistic: go on in clear text */
  return SMTP_OK;
}

int smtp__cli_reply_auth(smtp_client_session *c, const smtp_reply *r) {
  int code = r->code;
  if (code == 334 && !c->auth.cancelled) {
    /* RFC 4954 4: a base64 challenge; answer it. */
    const smtp_span *l = &r->lines[0];
    smtp_ssize dn;
    size_t rawlen = 0;
    int rc;
    char chal[600];
    if (r->nlines != 1) return SMTP_ERR_PROTOCOL;
    dn = smtp_base64_decode(l->ptr, l->len, chal, sizeof chal);
    if (c->auth.ir_pending) {
      /* the initial response, held back for the line limit */
      c->auth.ir_pending = 0;
      rawlen = c->auth.cfg->ir_len;
      rc = dn == 0 ? 0 : 1;
    } else if (dn < 0) {
      rc = 1; /* undecodable challenge: cancel */
    } else {
      rc = c->auth.cfg->ops->step(c->auth.sasl, &c->auth.cfg->creds, chal, (size_t)dn, c->auth.cfg->raw,
                                  c->auth.cfg->raw_cap, &rawlen);
    }
    if (rc == 0) {
      rc = line_b64(c, "", c->auth.cfg->raw, rawlen);
      smtp__wipe(c->auth.cfg->raw, rawlen);
      if (rc != SMTP_OK) rc = 1;
      c->auth.line_redact = 0;
    }
    if (rc != 0) {
      /* RFC 4954 4: "*" cancels; the server answers 501. */
      c->auth.line[0] = '*';
      c->auth.line_len = 1;
      c->auth.line_redact = -1;
      c->auth.cancelled = 1;
    }
    c->todo |= T_LINE;
    return SMTP_OK;
  }
  if (code == 421) {
    emit_simple(c, SMTP_CLIENT_EVENT_AUTH, SMTP_ERR_AUTH_TEMP, r);
    return handle_421(c, r);
  }
  if (code == 235 && !c->auth.cancelled && c->auth.cfg->ops->success_ok(c->auth.sasl)) {
    c->auth.cfg->ops->wipe(c->auth.sasl);
    emit_simple(c, SMTP_CLIENT_EVENT_AUTH, 0, r);
    if (c->phase != PH_CLOSED) ready(c);
    return SMTP_OK;
  }
  c->auth.cfg->ops->wipe(c->auth.sasl);
  {
    int err;
    if (code == 535) err = SMTP_ERR_AUTH_FAILED;
    else if (code == 534) err = SMTP_ERR_AUTH_TOO_WEAK;
    else if (code == 454) err = SMTP_ERR_AUTH_TEMP;
    else if (is_2xx(code)) err = SMTP_ERR_AUTH_FAILED; /* unverified server (SCRAM) */
    else if (class_of(code) == 4) err = SMTP_ERR_TEMPFAIL;
    else if (c->auth.cancelled) err = SMTP_ERR_AUTH_FAILED;
    else err = SMTP_ERR_REJECTED;
    auth_fail(c, err, r);
  }
  return SMTP_OK;
}

static int reply_mail(smtp_client_session *c, const smtp_reply *r) {
  int code = r->code;
  smtp_client_event ev;
  ev_init(&ev, SMTP_CLIENT_EVENT_MAIL);
  ev.reply = r;
  ev.txn = c->txn;
  ev.part = c->tx.part;
  emit(c, &ev);
  if (!c->tx.active) return SMTP_OK;
  if (code == 421) return handle_421(c, r);
  note_code(c, is_2xx(code) ? 200 : code);
  c->tx.mail_ok = is_2xx(code);
  if (!c->tx.mail_ok && !(c->ext & SMTP_EXT_PIPELINING)) part_over(c, 1);
  else if (!c->tx.mail_ok && (c->plan.bdat || c->plan.burl) && !ring_has(c, K_RCPT)) part_over(c, 1);
  return SMTP_OK;
}

static int reply_rcpt(smtp_client_session *c, const smtp_reply *r, size_t index) {
  int code = r->code;
  smtp_client_event ev;
  txn_rcpt *rc_ = &c->txn->rcpts[index];
  rc_->rcpt_code = code;
  /* RFC 5321 3.4 / 7.4: 251 is a success and 551 a refusal, reported as
   * they are; the client never follows the forward-path they name. */
  if (is_2xx(code) && c->tx.mail_ok) {
    rc_->accepted = 1;
    c->tx.accepted++;
    c->tx.naccepted++;
  } else {
    note_code(c, code);
  }
  c->tx.replies++;
  ev_init(&ev, SMTP_CLIENT_EVENT_RCPT);
  ev.reply = r;
  ev.txn = c->txn;
  ev.index = index;
  ev.part = c->tx.part;
  emit(c, &ev);
  if (!c->tx.active) return SMTP_OK;
  if (code == 421) return handle_421(c, r);
  if (c->tx.replies == c->tx.end - c->tx.first) {
    if (c->plan.bdat || c->plan.burl) {
      if (c->tx.mail_ok && c->tx.accepted) body_start(c);
      else part_over(c, 1);
    } else if (!(c->ext & SMTP_EXT_PIPELINING) && c->tx.accepted == 0) {
      part_over(c, 1); /* no DATA was sent */
    }
  }
  return SMTP_OK;
}

static int reply_data(smtp_client_session *c, const smtp_reply *r) {
  int code = r->code;
  smtp_client_event ev;
  if (code == 354) {
    if (c->tx.mail_ok && c->tx.accepted) {
      body_start(c);
    } else {
      /* RFC 2920 3.1: DATA accepted with no valid recipient: send an empty
       * message's terminator only; its reply must be a failure. */
      c->body.phase = B_DONE;
      c->todo |= T_DOT;
    }
    return SMTP_OK;
  }
  ev_init(&ev, SMTP_CLIENT_EVENT_DATA);
  ev.reply = r;
  ev.txn = c->txn;
  ev.part = c->tx.part;
  emit(c, &ev);
  if (!c->tx.active) return SMTP_OK;
  if (code == 421) return handle_421(c, r);
  note_code(c, is_2xx(code) ? 554 : code); /* a 2xx to DATA is not a 354 */
  part_over(c, 1);
  return SMTP_OK;
}

static int reply_bdat(smtp_client_session *c, const smtp_reply *r) {
  int code = r->code;
  smtp_client_event ev;
  if (c->body.bdat_failed) return SMTP_OK; /* RFC 3030 2: chunks after a failure are discarded */
  if (is_2xx(code)) return SMTP_OK;
  ev_init(&ev, SMTP_CLIENT_EVENT_DATA);
  ev.reply = r;
  ev.txn = c->txn;
  ev.part = c->tx.part;
  emit(c, &ev);
  if (!c->tx.active) return SMTP_OK;
  if (code == 421) return handle_421(c, r);
  note_code(c, code);
  c->body.bdat_failed = 1;
  /* RFC 3030 2: no more chunks after a failed BDAT. */
  c->body.phase = B_DONE;
  if (c->body.chunk_open) {
    c->out.tail = c->body.chunk_hdr_pos;
    c->body.chunk_open = 0;
  }
  c->tx.done = 1;
  c->todo |= T_RSET;
  return SMTP_OK;
}

static int reply_data_end(smtp_client_session *c, const smtp_reply *r, int kind) {
  int code = r->code;
  smtp_client_event ev;
  size_t who = SMTP_CLIENT_NO_INDEX;
  int nothing_accepted = !(c->tx.mail_ok && c->tx.accepted);
  if (kind == K_BDAT_LAST && c->body.bdat_failed) return SMTP_OK;
  if (c->opt.lmtp && !nothing_accepted) {
    /* RFC 2033 4.2: one reply per accepted recipient, in RCPT order. */
    while (c->tx.lmtp_next < c->tx.end && !c->txn->rcpts[c->tx.lmtp_next].accepted) c->tx.lmtp_next++;
    if (c->tx.lmtp_next < c->tx.end) who = c->tx.lmtp_next++;
  }
  if (!nothing_accepted) {
    if (who != SMTP_CLIENT_NO_INDEX) {
      c->txn->rcpts[who].data_code = code;
      if (is_2xx(code)) c->tx.ndelivered++;
    } else {
      size_t i;
      for (i = c->tx.first; i < c->tx.end; i++)
        if (c->txn->rcpts[i].accepted) c->txn->rcpts[i].data_code = code;
      if (is_2xx(code)) c->tx.ndelivered += c->tx.accepted;
    }
    note_code(c, code);
  }
  ev_init(&ev, SMTP_CLIENT_EVENT_DATA);
  ev.reply = r;
  ev.txn = c->txn;
  ev.index = who;
  ev.part = c->tx.part;
  emit(c, &ev);
  if (!c->tx.active) return SMTP_OK;
  if (code == 421) return handle_421(c, r);
  if (!ring_has(c, kind)) part_over(c, nothing_accepted);
  return SMTP_OK;
}

static int reply_rset(smtp_client_session *c, const smtp_reply *r) {
  int code = r->code;
  if (code == 421) return handle_421(c, r);
  if (!is_2xx(code)) fail_quit(c, SMTP_ERR_PROTOCOL);
  return SMTP_OK;
}

static int reply_quit(smtp_client_session *c, const smtp_reply *r) {
  (void)r;
  /* RFC 5321 4.1.1.10: 221, then the server closes. Any reply ends it. */
  smtp__cli_session_end(c, c->end_error);
  return SMTP_OK;
}

static int reply_raw(smtp_client_session *c, const smtp_reply *r) {
  int code = r->code;
  /* smtp_client_session_command(): the reply is the application's. */
  emit_simple(c, SMTP_CLIENT_EVENT_COMMAND, class_of(code) == 2 || class_of(code) == 3 ? 0
                                            : class_of(code) == 4 ? SMTP_ERR_TEMPFAIL
                                                                  : SMTP_ERR_REJECTED, r);
  if (c->phase == PH_CLOSED) return SMTP_OK;
  if (code == 421) return handle_421(c, r);
  return SMTP_OK;
}

/* Dispatch the reply to the oldest outstanding command's handler. */
static int handle_reply(smtp_client_session *c, const smtp_reply *r, size_t rest) {
  pend *p = ring_front(c);
  int kind = p->kind;
  size_t index = p->index;

  /* Multi-reply entries stay until their last reply. */
  if ((kind == K_DATA_END || kind == K_BDAT_LAST) && index > 1) p->index--;
  else ring_pop(c);

  switch (kind) {
  case K_GREETING:
    return reply_greeting(c, r);
  case K_EHLO:
  case K_HELO:
    return reply_ehlo(c, r, kind);
  case K_XFORWARD:
    return reply_xforward(c, r);
  case K_XCLIENT:
    return reply_xclient(c, r);
  case K_STARTTLS:
    return reply_starttls(c, r, rest);
  case K_AUTH: /* AUTH runs only with its block (smtp_client_session_new()) */
    return c->auth.cfg->ops->reply(c, r);
  case K_MAIL:
    return reply_mail(c, r);
  case K_RCPT:
    return reply_rcpt(c, r, index);
  case K_DATA:
    return reply_data(c, r);
  case K_BDAT:
    return reply_bdat(c, r);
  case K_DATA_END:
  case K_BDAT_LAST:
    return reply_data_end(c, r, kind);
  case K_RSET:
    return reply_rset(c, r);
  case K_QUIT:
    return reply_quit(c, r);
  case K_RAW:
    return reply_raw(c, r);
  }
  return SMTP_OK;
}

smtp_ssize smtp_client_session_mem_recv(smtp_client_session *c, const char *data, size_t len) {
  size_t off = 0;
  if (!c || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_CLOSED)
    return (c->error == SMTP_ERR_PROTOCOL || c->error == SMTP_ERR_CALLBACK_FAILURE ||
            c->error == SMTP_ERR_NOMEM)
               ? c->error
               : SMTP_ERR_CLOSED;
  if (c->event_mode && c->evq_count) return SMTP_ERR_INVALID_STATE;
  if (len && c->phase == PH_TLS) {
    /* docs/security.md 2: bytes between 220 and the handshake. */
    smtp__cli_session_end(c, SMTP_ERR_PROTOCOL);
    return SMTP_ERR_PROTOCOL;
  }
  c->paused = 0;
  if (len) c->recv_started = 1;
  while (off < len) {
    smtp_ssize n = smtp_reply_parser_feed(c->rp, data + off, len - off);
    const smtp_reply *r;
    int rc;
    if (n < 0) {
      /* docs/security.md 6: malformed, mixed codes, too long: never a success.
       * NOMEM: the reply store could not grow for a larger reply. */
      int e = n == SMTP_ERR_NOMEM ? SMTP_ERR_NOMEM : SMTP_ERR_PROTOCOL;
      smtp__cli_session_end(c, e);
      c->error = e;
      return e;
    }
    off += (size_t)n;
    r = smtp_reply_parser_reply(c->rp);
    if (!r) {
      if (n == 0) break;
      continue;
    }
    rc = on_reply(c, r, len - off);
    if (rc == SMTP_ERR_PROTOCOL || rc == SMTP_ERR_NOMEM) {
      smtp__cli_session_end(c, rc);
      c->error = rc;
      return rc;
    }
    if (c->error == SMTP_ERR_CALLBACK_FAILURE) return SMTP_ERR_CALLBACK_FAILURE;
    if (c->phase == PH_CLOSED) {
      /* The session is over; trailing bytes are ignored. */
      off = len;
      break;
    }
    if (c->phase == PH_TLS) break;
    produce(c, 0);
    if (c->error == SMTP_ERR_CALLBACK_FAILURE) return SMTP_ERR_CALLBACK_FAILURE;
    if (c->paused || c->one_reply) break;
  }
  produce(c, 0);
  if (c->error == SMTP_ERR_CALLBACK_FAILURE) return SMTP_ERR_CALLBACK_FAILURE;
  return (smtp_ssize)off;
}

smtp_ssize smtp_client_session_mem_send(smtp_client_session *c, const char **data) {
  if (!c || !data) return SMTP_ERR_INVALID_ARGUMENT;
  *data = NULL;
  if (c->error == SMTP_ERR_CALLBACK_FAILURE) return SMTP_ERR_CALLBACK_FAILURE;
  produce(c, 1);
  if (c->error == SMTP_ERR_CALLBACK_FAILURE) return SMTP_ERR_CALLBACK_FAILURE;
  if (c->body.chunk_open && c->body.chunk_len > 0) smtp__cli_chunk_close(c, 0);
  if (out_pending(c) == 0 && c->out.direct_len) {
    *data = c->out.direct;
    return (smtp_ssize)c->out.direct_len;
  }
  *data = c->out.buf + c->out.head;
  return (smtp_ssize)out_pending(c);
}

int smtp_client_session_mem_consume(smtp_client_session *c, size_t n) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (out_pending(c) == 0 && c->out.direct_len) {
    /* The direct span (mem_send gave it when the buffer was empty). */
    if (n > c->out.direct_len) return SMTP_ERR_INVALID_ARGUMENT;
    c->out.direct += n;
    c->out.direct_len -= n;
    c->out.consumed += n;
    if (!c->out.direct_len) c->out.direct = NULL;
    return SMTP_OK;
  }
  if (n > out_pending(c)) return SMTP_ERR_INVALID_ARGUMENT;
  c->out.head += n;
  c->out.consumed += n;
  if (c->out.head == c->out.tail && !c->body.chunk_open) c->out.head = c->out.ready = c->out.tail = 0;
  else if (c->out.head == c->out.ready && !c->body.chunk_open) smtp__cli_out_compact(c);
  return SMTP_OK;
}

int smtp_client_session_want_read(const smtp_client_session *c) {
  if (!c || c->phase == PH_CLOSED || c->phase == PH_TLS) return 0;
  return c->ring.count > 0;
}

int smtp_client_session_want_write(const smtp_client_session *c) {
  if (!c || c->phase == PH_CLOSED) return 0;
  if (send_pending(c) > 0 || (c->body.chunk_open && c->body.chunk_len)) return 1;
  if (c->todo) return 1;
  if (c->phase == PH_READY && c->ring.count == 0 && (c->txn || c->quit_requested)) return 1;
  if (c->body.phase == B_SEND && c->txn && c->txn->body_source != SMTP_CLIENT_BODY_PUSH &&
      !c->body.read_blocked)
    return 1;
  return 0;
}

int smtp_client_session_want_tls(const smtp_client_session *c) {
  return c && c->phase == PH_TLS && c->tls.wanted;
}

int smtp_client_session_tls_started(smtp_client_session *c, const smtp_tls_info *info) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_GREETING && !c->recv_started && c->out.produced == 0 && !c->tls.active) {
    c->tls.active = 1; /* implicit TLS (RFC 8314): before any byte */
    c->tls.verified = info && info->peer_verified ? 1 : 0;
    return SMTP_OK;
  }
  if (c->phase != PH_TLS) return SMTP_ERR_INVALID_STATE;
  /* RFC 3207 4.2: forget everything learnt before TLS, EHLO again. */
  c->tls.active = 1;
  c->tls.verified = info && info->peer_verified ? 1 : 0;
  c->tls.wanted = 0;
  smtp_reply_parser_reset(c->rp);
  smtp_reply_parser_set_enhanced(c->rp, 0);
  caps_clear(c);
  c->helo_mode = 0;
  c->phase = PH_EHLO;
  c->todo |= T_EHLO;
  produce(c, 0);
  return SMTP_OK;
}

int smtp_client_session_tls_failed(smtp_client_session *c, int error) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_CLOSED) return SMTP_OK;
  /* docs/security.md 2: no plaintext retry on this connection. */
  smtp__cli_session_end(c, error < 0 ? error : SMTP_ERR_TLS_HANDSHAKE);
  return SMTP_OK;
}

int smtp_client_session_tls_active(const smtp_client_session *c) { return c ? c->tls.active : 0; }

int smtp_client_session_timeout_ms(const smtp_client_session *c) {
  const pend *p;
  const int *t;
  if (!c || c->phase == PH_CLOSED) return -1;
  t = c->opt.tmo;
  if (c->phase == PH_TLS) return t[SMTP_CLIENT_TIMEOUT_OTHER];
  if ((c->body.phase == B_SEND || c->body.phase == B_DONE) && send_pending(c))
    return t[SMTP_CLIENT_TIMEOUT_DATA_BLOCK]; /* message data still being written */
  if (c->ring.count == 0) return send_pending(c) ? t[SMTP_CLIENT_TIMEOUT_OTHER] : -1;
  p = &c->ring.buf[c->ring.head];
  switch (p->kind) {
  case K_GREETING: return t[SMTP_CLIENT_TIMEOUT_GREETING];
  case K_MAIL: return t[SMTP_CLIENT_TIMEOUT_MAIL];
  case K_RCPT: return t[SMTP_CLIENT_TIMEOUT_RCPT];
  case K_DATA: return t[SMTP_CLIENT_TIMEOUT_DATA_INIT];
  case K_DATA_END:
  case K_BDAT_LAST: return t[SMTP_CLIENT_TIMEOUT_DATA_FINAL];
  case K_BDAT: return t[SMTP_CLIENT_TIMEOUT_DATA_BLOCK];
  default: return t[SMTP_CLIENT_TIMEOUT_OTHER];
  }
}

int smtp_client_session_timeout(smtp_client_session *c) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  smtp__cli_session_end(c, SMTP_ERR_TIMEOUT);
  return SMTP_OK;
}

int smtp_client_session_connection_lost(smtp_client_session *c) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_CLOSED) return SMTP_OK;
  if (c->phase == PH_QUIT && !c->txn) {
    smtp__cli_session_end(c, c->end_error);
    return SMTP_OK;
  }
  smtp__cli_session_end(c, SMTP_ERR_CONNECTION_LOST);
  return SMTP_OK;
}

int smtp_client_session_submit(smtp_client_session *c, smtp_client_txn *t) {
  if (!c || !t) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_CLOSED) return SMTP_ERR_CLOSED;
  if (c->txn || c->quit_requested || t->owner) return SMTP_ERR_INVALID_STATE;
  if (!t->has_from || t->nrcpt == 0 || t->body_source == SMTP_CLIENT_BODY_NONE)
    return SMTP_ERR_INVALID_ARGUMENT;
  if (t->body_source == SMTP_CLIENT_BODY_READ && !c->cb.read_body) return SMTP_ERR_INVALID_ARGUMENT;
  t->owner = c;
  c->txn = t;
  c->tx.active = 0;
  /* No callback fires from here: the transaction starts (or is refused
   * locally) in the next mem_send/mem_recv, so submitting from inside a
   * callback never nests events. */
  return SMTP_OK;
}

smtp_ssize smtp_client_session_body_push(smtp_client_session *c, const char *data, size_t len,
                                         int last) {
  smtp_ssize n;
  if (!c || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_CLOSED) return SMTP_ERR_CLOSED;
  if (!c->txn || c->txn->body_source != SMTP_CLIENT_BODY_PUSH) return SMTP_ERR_INVALID_STATE;
  if (c->body.phase != B_SEND || c->phase != PH_TXN) return SMTP_ERR_WOULDBLOCK;
  if (c->body.src_eof) return SMTP_ERR_INVALID_STATE; /* the last bytes were pushed already */
  n = smtp__cli_body_feed(c, data ? data : "", len, last ? 1 : 0);
  if (n < 0) return n;
  if (last && (size_t)n == len) c->body.src_eof = 1; /* finished now or by produce() later */
  if (n == 0 && len) return SMTP_ERR_WOULDBLOCK;
  return n;
}

int smtp_client_session_want_body(const smtp_client_session *c) {
  return c && c->phase == PH_TXN && c->body.phase == B_SEND && c->txn &&
         c->txn->body_source == SMTP_CLIENT_BODY_PUSH;
}

int smtp_client_session_resume_body(smtp_client_session *c) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  c->body.read_blocked = 0;
  return SMTP_OK;
}

int smtp_client_session_command(smtp_client_session *c, const char *line, size_t len) {
  static const char *const refused[] = {"MAIL", "RCPT", "DATA", "BDAT", "BURL", "RSET", "QUIT",
                                        "STARTTLS", "AUTH", "HELO", "EHLO", "LHLO"};
  size_t v = 0, i;
  if (!c || !line || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (smtp__has_ctl(line, len)) return SMTP_ERR_BAD_CHAR;
  if (len > SMTP_COMMAND_LINE_MAX - 2) return SMTP_ERR_TOO_LONG;
  while (v < len && smtp__is_alpha((unsigned char)line[v])) v++;
  if (v == 0 || (v < len && line[v] != ' ')) return SMTP_ERR_INVALID_ARGUMENT;
  for (i = 0; i < SMTP__ARRAY_LEN(refused); i++)
    if (smtp__casecmp(line, v, refused[i], strlen(refused[i])) == 0)
      return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_CLOSED) return SMTP_ERR_CLOSED;
  /* The safe point: ready, no transaction running, nothing outstanding. */
  if (c->phase != PH_READY || c->tx.active || c->ring.count || c->todo || c->quit_requested)
    return SMTP_ERR_INVALID_STATE;
  if (!emit_line(c, K_RAW, 0, line, len, len)) return c->out.nomem ? SMTP_ERR_NOMEM : SMTP_ERR_INVALID_STATE;
  return SMTP_OK;
}

int smtp_client_session_quit(smtp_client_session *c) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_CLOSED) return SMTP_ERR_CLOSED;
  c->quit_requested = 1; /* QUIT is written by the next mem_send */
  return SMTP_OK;
}

int smtp_client_session_next_event(smtp_client_session *c, smtp_client_event *ev) {
  if (!c || !ev) return 0;
  if (!c->evq_count) {
    ev_init(ev, SMTP_CLIENT_EVENT_NONE);
    return 0;
  }
  *ev = c->evq[c->evq_head];
  c->evq_head = (c->evq_head + 1) % EVQ_CAP;
  c->evq_count--;
  return 1;
}

const smtp_capabilities *smtp_client_session_capabilities(const smtp_client_session *c) {
  smtp_client_session *m = (smtp_client_session *)(uintptr_t)c; /* a cache, allocated here */
  if (!c || !c->caps.have) return NULL;
  if (!m->caps.full) {
    m->caps.full = (smtp_capabilities *)smtp__malloc(&m->mem, sizeof *m->caps.full);
    if (!m->caps.full) return NULL;
    m->caps.full_own = 1;
  }
  if (!m->caps.full_ok) {
    caps_build(m, m->caps.full);
    m->caps.full_ok = 1;
  }
  return m->caps.full;
}

int smtp_client_session_ehlo_values(const smtp_client_session *c, smtp_ehlo_values *out) {
  const smtp_capabilities *caps;
  if (out) memset(out, 0, sizeof *out);
  if (!c || !out) return SMTP_ERR_INVALID_ARGUMENT;
  if (!c->caps.have) return SMTP_ERR_INVALID_STATE;
  caps = smtp_client_session_capabilities(c);
  if (!caps) return SMTP_ERR_NOMEM;
  return smtp_capabilities_values(caps, out);
}

int smtp_client_session_error(const smtp_client_session *c) { return c ? c->error : 0; }

void *smtp_client_session_user_data(const smtp_client_session *c) { return c ? c->ud : NULL; }

int smtp_client_session_is_closed(const smtp_client_session *c) {
  return c ? c->phase == PH_CLOSED : 1;
}

void smtp__client_session_set_one_reply(smtp_client_session *c, int on) {
  if (c) c->one_reply = on ? 1 : 0;
}

unsigned int smtp_client_session_auth_mechanism(const smtp_client_session *c) {
  return c ? c->auth.mech : 0;
}

int smtp_client_session_set_channel_binding(smtp_client_session *c, const char *type,
                                            const void *data, size_t len) {
  size_t tl = 0;
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (type) {
    tl = strlen(type);
    if (!smtp__scram_cbname_ok(type, tl) || !data || len == 0 || len > SMTP__SCRAM_CB_MAX)
      return SMTP_ERR_INVALID_ARGUMENT;
  }
  if (!c->auth.cfg) return SMTP_OK; /* no AUTH in this session */
  smtp__wipe(&c->auth.cfg->cbind, sizeof c->auth.cfg->cbind);
  if (!type) return SMTP_OK;
  memcpy(c->auth.cfg->cbind.name, type, tl);
  memcpy(c->auth.cfg->cbind.data, data, len);
  c->auth.cfg->cbind.len = len;
  return SMTP_OK;
}

int smtp_client_session_set_addr(smtp_client_session *c, unsigned int which, const smtp_endpoint *ep) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  return smtp__ep_set(c->addrs, 2, which, ep);
}

int smtp_client_session_addr(const smtp_client_session *c, unsigned int which, smtp_endpoint *out) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  return smtp__ep_get(c->addrs, 2, which, out);
}

