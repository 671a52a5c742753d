/* The server session: command sequencing (RFC 5321 4.1.4, 4.3.2), replies,
 * pipelining (RFC 2920), message data (RFC 5321 4.1.1.4, 4.5.2; RFC 3030),
 * limits (RFC 5321 4.5.3), STARTTLS points (RFC 3207), LMTP (RFC 2033).
 * AUTH (RFC 4954) lives in server_auth.c.
 *
 * Shape: bytes in through mem_recv(), which walks a small state machine
 * (command line / over-long line discard / DATA / BDAT chunk); each
 * complete command fires at most one event callback and produces exactly
 * one reply, whose effect (new reverse-path, one more recipient, ...) is
 * applied only when the answer is positive (finish() -> apply()). A
 * deferred answer stops input until smtp_server_session_reply(); the caller
 * keeps the bytes that were not taken, so the session never buffers a
 * pipeline. One allocation per session; nothing is allocated afterwards. */
#include <string.h>

#include "params.h"
#include <smtp/xclient.h>

#include "server_impl.h"

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                            */

typedef struct sbuf {
  char *p;
  size_t cap, len;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->len + n >= b->cap) n = b->cap - 1 - b->len; /* truncate, keep NUL room */
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_u64(sbuf *b, uint64_t v) {
  char t[SMTP__U64_DIGITS];
  sb_put(b, t, smtp__fmt_u64(t, v));
}

/* RFC 9422 4: LIMITS values have at most 6 digits; a larger limit is
 * announced as 999999 (a promise the session keeps). */
static unsigned int limits_value(unsigned int v) { return v > 999999u ? 999999u : v; }

static int is_error_code(int code) {
  return code == 500 || code == 501 || code == 502 || code == 503 || code == 504 || code == 555;
}

static size_t out_pending(const smtp_server_session *s) { return s->out_end - s->out_start; }

/* Backpressure (RFC 2920 3.1 lets the server stop reading): no new command
 * is taken while more than reply_max bytes wait to be sent, so the next
 * reply always fits. */
static int out_full(const smtp_server_session *s) { return out_pending(s) > s->out_cap - s->reply_max; }

void smtp__srv_set_fatal(smtp_server_session *s, int err) {
  if (!s->fatal) s->fatal = err;
  s->closed = 1;
  s->deferred = 0;
}

void smtp__srv_trace(smtp_server_session *s, int dir, const char *line, size_t len) {
  int rv;
  if (!s->cb.trace) return;
  SMTP__SRV_CALL(s, 0, rv, s->cb.trace(s, dir, line, len, s->user_data));
  (void)rv;
}

static void trace_out(smtp_server_session *s, const char *p, size_t n) {
  size_t i = 0;
  if (!s->cb.trace) return;
  while (i < n) {
    const char *e = memchr(p + i, '\r', n - i);
    size_t l = e ? (size_t)(e - (p + i)) : n - i;
    smtp__srv_trace(s, SMTP_SERVER_TRACE_OUT, p + i, l);
    i += l + 2;
  }
}

static int enhanced_on(const smtp_server_session *s) {
  /* RFC 2034 3: every reply carries the code, except the greeting and the
   * positive replies to HELO/EHLO (handled by their callers); none after an
   * EHLO that hid the keyword (smtp_server_session_ehlo_hide()). */
  if (s->helo_verb && s->helo_verb != SMTP_VERB_HELO &&
      !(s->offered & SMTP_EXT_ENHANCEDSTATUSCODES))
    return 0;
  return (s->opt.extensions & SMTP_EXT_ENHANCEDSTATUSCODES) != 0;
}

static void out_compact(smtp_server_session *s) {
  if (s->out_start == 0) return;
  if (s->out_end > s->out_start)
    memmove(s->out, s->out + s->out_start, s->out_end - s->out_start);
  s->out_end -= s->out_start;
  s->out_start = 0;
}

/* "No enhanced code" for smtp__srv_emit(): the greeting and the positive
 * HELO reply (RFC 2034 3). */
static const smtp_enhanced_code no_enh = {-1, 0, 0};

/* Queue one formatted reply of at most @p max octets. */
int smtp__srv_emit(smtp_server_session *s, int code, const smtp_enhanced_code *enh,
                   const char *text, size_t textlen, size_t max) {
  smtp_enhanced_code def;
  const smtp_enhanced_code *e = NULL;
  size_t room;
  smtp_ssize n;
  out_compact(s);
  room = s->out_cap - s->out_end;
  if (room > max) room = max;
  if (enhanced_on(s) && code / 100 != 3 && !(enh && enh->cls < 0)) {
    if (enh && enh->cls > 0) {
      e = enh;
    } else {
      def.cls = code / 100;
      def.subject = 0;
      def.detail = 0;
      e = &def;
    }
  }
  n = smtp_reply_format(s->out + s->out_end, room, code, e, text ? text : "", text ? textlen : 0);
  if (n < 0) return n == SMTP_ERR_BUFFER_TOO_SMALL ? SMTP_ERR_TOO_LONG : (int)n;
  trace_out(s, s->out + s->out_end, (size_t)n);
  s->out_end += (size_t)n;
  return SMTP_OK;
}

/* Session-made replies: small, always fit (the output keeps reply_max free
 * before any command is taken; a closing 421 may use the rest). */
static void emit_sys(smtp_server_session *s, int code, const smtp_enhanced_code *enh,
                     const char *text) {
  if (smtp__srv_emit(s, code, enh, text, strlen(text), s->out_cap) != SMTP_OK)
    smtp__srv_set_fatal(s, SMTP_ERR_CALLBACK_FAILURE); /* cannot happen: bounded texts */
}

/* Output kept free, next to an application's reply, for a closing 421:
 * "421 4.7.0 " + the host name + " " + the longest 421 text + CRLF. The
 * name is up to 255 octets, so a fixed margin is not enough. */
static size_t srv_close_reserve(size_t host_len) {
  return host_len + 64 > 96 ? host_len + 64 : 96;
}

/* A closing 421: sent when it fits (a client that reads nothing may have
 * filled the output), the session closes either way. */
static void close_421(smtp_server_session *s, int id) {
  const smtp_status *st = smtp_status_default(id);
  char t[SRV_NAME_MAX + 80];
  sbuf b = {t, sizeof t, 0};
  t[0] = '\0';
  sb_put(&b, s->hostname, s->hostname_len);
  sb_str(&b, " ");
  sb_str(&b, st->text);
  (void)smtp__srv_emit(s, st->code, &st->enhanced, t, b.len, s->out_cap);
  s->closed = 1;
}

/* ------------------------------------------------------------------------ */
/* Transaction state.                                                        */

static void reset_transaction(smtp_server_session *s) {
  if (s->state == SRV_ST_MAIL) smtp__srv_x_txn_end(s); /* XFORWARD_README: per transaction */
  if (s->state == SRV_ST_MAIL) s->state = SRV_ST_HELO;
  s->rpath_len = 0; /* rpath itself may hold a MAIL waiting for its answer */
  s->tflags = 0;
  s->rcpts = 0;
  s->bdat_failed = 0;
  s->msg_size = 0;
  s->msg_refused = 0;
  s->msg_too_big = 0;
}

static void reset_session(smtp_server_session *s) {
  reset_transaction(s);
  smtp__srv_x_txn_end(s);
  if (s->state > SRV_ST_GREETED) s->state = SRV_ST_GREETED;
  s->helo_verb = 0;
  s->helo_len = 0;
  s->helo_name[0] = '\0';
  s->offered = 0;
  s->authed = 0;
  smtp__srv_auth_reset(s); /* forgets the identity too */
}

static unsigned int compute_offered(const smtp_server_session *s) {
  unsigned int f = s->opt.extensions;
  if (!(f & SMTP_EXT_CHUNKING)) f &= ~(unsigned)SMTP_EXT_BINARYMIME; /* RFC 3030 3 */
  if (!s->tls) f &= ~(unsigned)SMTP_EXT_REQUIRETLS;                  /* RFC 8689 4 */
  f &= ~(unsigned)(SMTP_EXT_STARTTLS | SMTP_EXT_AUTH);
  if (s->opt.tls_available && !s->tls) f |= SMTP_EXT_STARTTLS; /* RFC 3207 4 */
  if (smtp__srv_auth_usable(s)) f |= SMTP_EXT_AUTH;
  /* RFC 4865 3: FUTURERELEASE only with its two EHLO parameters; ETRN and
   * BURL only with a callback that handles them. */
  if (!(s->ext_with_params & SMTP_EXT_FUTURERELEASE)) f &= ~(unsigned)SMTP_EXT_FUTURERELEASE;
  if (!s->cb.etrn) f &= ~(unsigned)SMTP_EXT_ETRN;
  if (!s->cb.burl) f &= ~(unsigned)SMTP_EXT_BURL;
  return f;
}

/* What the EHLO or LHLO waiting for its answer offers: the session's set
 * less what the application hid for this one (p_flags, kept there until
 * the answer). No CHUNKING, no BINARYMIME (RFC 3030 3). */
static unsigned int ehlo_offered(const smtp_server_session *s) {
  unsigned int f = compute_offered(s) & ~s->p_flags;
  if (!(f & SMTP_EXT_CHUNKING)) f &= ~(unsigned)SMTP_EXT_BINARYMIME;
  return f;
}

/* Whether the accepted EHLO/LHLO left out @p ext that the session's
 * options would offer now (smtp_server_session_ehlo_hide()). */
static int ehlo_hid(const smtp_server_session *s, unsigned int ext) {
  if (!s->helo_verb || s->helo_verb == SMTP_VERB_HELO || (s->offered & ext)) return 0;
  if (ext == SMTP_EXT_AUTH || ext == SMTP_EXT_REQUIRETLS) return 1; /* callers check the rest */
  return (compute_offered(s) & ext) != 0;
}

#define SRV_EHLO_LINES 32

/* The extra EHLO lines to send with the extensions @p offered: lines of
 * extensions with parameters (only when offered) and application keywords.
 * Their flags leave cfg->flags (the line carries the keyword). */
static void ehlo_extra_fill(const char *buf, size_t len, unsigned int with_params,
                            unsigned int offered, smtp_ehlo_config *cfg, const char **lines) {
  size_t i = 0, k = 0;
  while (i < len && k < SRV_EHLO_LINES) {
    const char *l = buf + i;
    size_t n = strlen(l), kw = 0;
    const smtp_ext_info *e;
    unsigned int f;
    while (kw < n && l[kw] != ' ') kw++;
    e = smtp_ext_lookup(l, kw);
    f = e ? e->flag & with_params : 0;
    if (!f || (offered & f)) lines[k++] = l;
    i += n + 1;
  }
  cfg->flags &= ~with_params;
  cfg->extra = lines;
  cfg->nextra = k;
}

/* ------------------------------------------------------------------------ */
/* Answers and their effects.                                                */

static void begin_eod(smtp_server_session *s);
static void progress(smtp_server_session *s);

/* XCLIENT / XFORWARD in an EHLO reply of @p n octets at @p r (room @p cap),
 * for a client the application trusts: the last line becomes a
 * continuation and the keywords follow (Postfix's XCLIENT_README and
 * XFORWARD_README). */
static const char xc[] = "XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT";
static const char xf[] = "XFORWARD NAME ADDR PROTO HELO SOURCE IDENT PORT";

/* Octets add_x_keywords() adds for the commands @p on. */
static size_t x_keywords_len(unsigned int on) {
  return ((on & SMTP_XCLIENT) ? 4 + sizeof xc - 1 + 2 : 0) + ((on & SMTP_XFORWARD) ? 4 + sizeof xf - 1 + 2 : 0);
}

static smtp_ssize add_x_keywords(const smtp_server_session *s, char *r, size_t n, size_t cap) {
  unsigned int on = s->opt.xclient & s->x_allowed;
  size_t last, need;
  if (!on || n < 6) return (smtp_ssize)n;
  need = x_keywords_len(on);
  if (n + need > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
  for (last = n - 2; last > 0 && !(r[last - 1] == '\n'); last--) {
  }
  r[last + 3] = '-';
  if (on & SMTP_XCLIENT) {
    memcpy(r + n, "250", 3);
    r[n + 3] = (on & SMTP_XFORWARD) ? '-' : ' ';
    memcpy(r + n + 4, xc, sizeof xc - 1);
    n += 4 + sizeof xc - 1;
    r[n++] = '\r';
    r[n++] = '\n';
  }
  if (on & SMTP_XFORWARD) {
    memcpy(r + n, "250 ", 4);
    memcpy(r + n + 4, xf, sizeof xf - 1);
    n += 4 + sizeof xf - 1;
    r[n++] = '\r';
    r[n++] = '\n';
  }
  return (smtp_ssize)n;
}

/* The HELO/EHLO/LHLO positive reply (RFC 5321 4.1.1.1). */
static int emit_helo_ok(smtp_server_session *s) {
  if (s->p_verb == SMTP_VERB_HELO) {
    return smtp__srv_emit(s, 250, &no_enh, s->hostname, s->hostname_len, s->reply_max);
  } else {
    smtp_ehlo_config cfg;
    smtp_ssize n;
    unsigned int off;
    const char *lines[SRV_EHLO_LINES];
    memset(&cfg, 0, sizeof cfg);
    cfg.version = SMTP_EHLO_CONFIG_VERSION;
    /* Offer as if this EHLO were accepted. */
    off = ehlo_offered(s);
    cfg.flags = off;
    cfg.size_max = s->opt.max_size;
    cfg.auth_mechs = smtp__srv_auth_offered(s);
    if (!(off & SMTP_EXT_AUTH) || cfg.auth_mechs == 0) {
      cfg.flags &= ~(unsigned)SMTP_EXT_AUTH;
      cfg.auth_mechs = 0;
    }
    cfg.limits_rcptmax = limits_value(s->opt.max_rcpt);
    cfg.limits_mailmax = limits_value(s->opt.max_transactions);
    ehlo_extra_fill(s->ehlo_extra, s->ehlo_extra_len, s->ext_with_params, off, &cfg, lines);
    out_compact(s);
    n = smtp_ehlo_reply_build(s->out + s->out_end,
                              s->out_cap - s->out_end < s->reply_max ? s->out_cap - s->out_end
                                                                     : s->reply_max,
                              s->hostname, NULL, &cfg);
    if (n < 0) return (int)n;
    n = add_x_keywords(s, s->out + s->out_end, (size_t)n,
                       s->out_cap - s->out_end < s->reply_max ? s->out_cap - s->out_end : s->reply_max);
    if (n < 0) return (int)n;
    trace_out(s, s->out + s->out_end, (size_t)n);
    s->out_end += (size_t)n;
    return SMTP_OK;
  }
}

/* Apply the effect of the answer @p code to the current event. */
static void apply(smtp_server_session *s, int code) {
  int op = s->op;
  int cls = code / 100;
  int counted_auth = 0;
  s->op = SRV_OP_NONE;
  switch (op) {
  case SRV_OP_GREETING:
    if (cls != 2 && code != 421) s->refused_greeting = code; /* RFC 5321 3.1, RFC 7504 */
    break;
  case SRV_OP_HELO:
    if (cls == 2) {
      /* RFC 5321 4.1.4: an accepted EHLO resets like RSET. */
      reset_transaction(s);
      smtp__srv_x_txn_end(s);
      s->helo_verb = s->p_verb;
      s->state = SRV_ST_HELO;
      memcpy(s->helo_name, s->in, s->p_name_len); /* kept there by cmd_helo() */
      s->helo_len = s->p_name_len;
      s->helo_name[s->helo_len] = '\0';
      s->offered = s->p_verb == SMTP_VERB_HELO ? 0 : ehlo_offered(s);
    }
    break;
  case SRV_OP_MAIL:
    if (cls == 2) {
      reset_transaction(s);
      s->state = SRV_ST_MAIL;
      s->rpath_len = s->p_name_len; /* written by cmd_mail() */
      s->tflags = s->p_flags;
      s->transactions++;
    }
    break;
  case SRV_OP_RCPT:
    if (cls == 2) s->rcpts++;
    break;
  case SRV_OP_DATA:
    if (code == 354) {
      s->mode = SRV_M_DATA;
      s->total_seq++; /* the whole DATA is bounded from its 354 */
      smtp_unstuffer_reset(&s->un);
      s->msg_size = 0;
      s->msg_refused = 0;
      s->msg_too_big = 0;
    }
    break;
  case SRV_OP_BDAT:
    /* The first BDAT's data_start answer: accept (2yz/3yz, nothing sent)
     * or refuse (the reply was sent; the chunk is still consumed,
     * RFC 3030 2). */
    s->tflags |= SMTP_SERVER_FLAG_BDAT;
    if (cls == 2 || cls == 3) {
      s->bdat_deliver = 1;
    } else {
      s->bdat_deliver = 0;
      if (s->bdat_last)
        reset_transaction(s);
      else
        s->bdat_failed = 1;
    }
    if (s->bdat_left > 0) {
      s->mode = SRV_M_BDAT;
      s->total_seq++; /* each chunk is bounded from its command */
    } else if (s->bdat_deliver) {
      /* BDAT 0 [LAST]: the chunk is complete already. */
      s->op = SRV_OP_NONE;
      if (s->bdat_last) {
        begin_eod(s);
      } else {
        char t[64];
        sbuf b = {t, sizeof t, 0};
        t[0] = '\0';
        sb_str(&b, "0 octets received");
        emit_sys(s, 250, NULL, t);
      }
    }
    break;
  case SRV_OP_DATA_END:
    s->eod_index++;
    break;
  case SRV_OP_BDAT_CHUNK:
    /* RFC 3030 2: a 4yz/5yz reply to a chunk fails the transaction; chunks
     * already pipelined behind it are read and discarded (cmd_bdat()). */
    if (cls != 2) s->bdat_failed = 1;
    break;
  case SRV_OP_RSET:
    if (cls == 2) reset_transaction(s);
    if (cls == 2) smtp__srv_x_txn_end(s);
    break;
  case SRV_OP_BURL:
    /* RFC 4468 3.5: a positive reply to BURL ... LAST ends the message. */
    if (cls == 2 && s->burl_last) reset_transaction(s);
    break;
  case SRV_OP_QUIT:
    if (cls == 2) s->closed = 1; /* RFC 5321 4.1.1.10 */
    break;
  case SRV_OP_STARTTLS:
    if (cls == 2) {
      /* RFC 3207 4.2 / docs/security.md 2: nothing received before the handshake
       * is ever executed. */
      s->starttls_pending = 1;
      s->in_len = 0;
      s->mode = SRV_M_LINE;
    }
    break;
  case SRV_OP_AUTH:
    if (s->auth_exchange) counted_auth = 1;
    smtp__srv_auth_complete(s, code);
    break;
  default:
    break;
  }
  if (code == 421) {
    s->closed = 1; /* RFC 5321 3.8 */
    return;
  }
  if (!counted_auth && is_error_code(code) && op != SRV_OP_DATA_END && !s->no_count) {
    s->errors++;
    if (s->opt.max_errors && s->errors >= s->opt.max_errors && !s->closed)
      close_421(s, SMTP_STATUS_TOO_MANY_ERRORS);
  }
  if (counted_auth && code / 100 != 2 && code != 334 && s->opt.max_auth_failures &&
      s->auth_failures >= s->opt.max_auth_failures && !s->closed)
    close_421(s, SMTP_STATUS_TOO_MANY_ERRORS);
  if (s->mode == SRV_M_LINE) s->seq++; /* the wait for the next command begins */
}

/* Send the answer to the current event and apply it. */
int smtp__srv_finish(smtp_server_session *s, int code, const smtp_enhanced_code *enh,
                     const char *text, size_t textlen) {
  int r;
  if (s->op == SRV_OP_HELO && code / 100 == 2) {
    r = emit_helo_ok(s);
  } else if (s->op == SRV_OP_BDAT && (code / 100 == 2 || code / 100 == 3)) {
    r = SMTP_OK; /* BDAT: accepting the data start sends nothing */
  } else if (s->op == SRV_OP_GREETING) {
    r = smtp__srv_emit(s, code, &no_enh, text, textlen, s->reply_max); /* RFC 2034 3 */
  } else {
    r = smtp__srv_emit(s, code, enh, text, textlen, s->reply_max);
  }
  if (r != SMTP_OK) return r;
  apply(s, code);
  return SMTP_OK;
}

int smtp__srv_finish_status(smtp_server_session *s, int id) {
  const smtp_status *st = smtp_status_default(id);
  return smtp__srv_finish(s, st->code, &st->enhanced, st->text, strlen(st->text));
}

/* RFC 4468 5 / RFC 5248: 554 5.6.6 message content not fetched. */
static int finish_burl_refused(smtp_server_session *s) {
  static const smtp_enhanced_code e566 = {5, 6, 6};
  return smtp__srv_finish(s, 554, &e566, "Content fetch not supported", 27);
}

/* Default positive answer of each event. */
static int finish_default(smtp_server_session *s) {
  switch (s->op) {
  case SRV_OP_GREETING: {
    char t[SRV_NAME_MAX + 64];
    sbuf b = {t, sizeof t, 0};
    t[0] = '\0';
    sb_put(&b, s->hostname, s->hostname_len);
    sb_str(&b, s->opt.lmtp ? " LMTP " : " ESMTP ");
    sb_str(&b, smtp_status_default(SMTP_STATUS_GREETING)->text);
    return smtp__srv_finish(s, 220, NULL, t, b.len);
  }
  case SRV_OP_HELO: return smtp__srv_finish(s, 250, NULL, NULL, 0);
  case SRV_OP_MAIL: return smtp__srv_finish_status(s, SMTP_STATUS_MAIL_OK);
  case SRV_OP_RCPT: return smtp__srv_finish_status(s, SMTP_STATUS_RCPT_OK);
  case SRV_OP_DATA: return smtp__srv_finish_status(s, SMTP_STATUS_DATA_START);
  case SRV_OP_BDAT: return smtp__srv_finish(s, 250, NULL, NULL, 0);
  case SRV_OP_DATA_END: return smtp__srv_finish_status(s, SMTP_STATUS_DATA_OK);
  case SRV_OP_RSET: return smtp__srv_finish_status(s, SMTP_STATUS_RSET_OK);
  case SRV_OP_VRFY: return smtp__srv_finish_status(s, SMTP_STATUS_VRFY_CANNOT);
  case SRV_OP_EXPN: return smtp__srv_finish_status(s, SMTP_STATUS_EXPN_REFUSED);
  case SRV_OP_HELP: return smtp__srv_finish_status(s, SMTP_STATUS_HELP);
  case SRV_OP_NOOP: return smtp__srv_finish_status(s, SMTP_STATUS_NOOP_OK);
  case SRV_OP_QUIT: {
    const smtp_status *st = smtp_status_default(SMTP_STATUS_QUIT);
    char t[SRV_NAME_MAX + 32];
    sbuf b = {t, sizeof t, 0};
    t[0] = '\0';
    sb_put(&b, s->hostname, s->hostname_len);
    sb_str(&b, " ");
    sb_str(&b, st->text);
    return smtp__srv_finish(s, st->code, &st->enhanced, t, b.len);
  }
  case SRV_OP_STARTTLS: return smtp__srv_finish_status(s, SMTP_STATUS_STARTTLS_GO);
  case SRV_OP_AUTH:
    /* PLAIN/LOGIN accepted; auth_step returning 0 without an answer is a
     * temporary failure. */
    return smtp__srv_finish_status(s, s->auth_builtin ? SMTP_STATUS_AUTH_OK : SMTP_STATUS_AUTH_TEMP);
  case SRV_OP_ETRN: {
    static const smtp_enhanced_code e200 = {2, 0, 0};
    return smtp__srv_finish(s, 250, &e200, "Queuing started", 15); /* RFC 1985 5 */
  }
  case SRV_OP_BURL: return finish_burl_refused(s);
  case SRV_OP_BDAT_CHUNK: {
    char t[64];
    sbuf b = {t, sizeof t, 0};
    t[0] = '\0';
    sb_u64(&b, s->bdat_size);
    sb_str(&b, " octets received");
    return smtp__srv_finish(s, 250, NULL, t, b.len);
  }
  case SRV_OP_UNKNOWN:
  default: return smtp__srv_finish_status(s, SMTP_STATUS_SYNTAX_ERROR);
  }
}

/* Default refusal (::SMTP_ERR_CALLBACK_REFUSED) of each event. */
static int finish_refused(smtp_server_session *s) {
  static const smtp_enhanced_code e571 = {5, 7, 1};
  switch (s->op) {
  case SRV_OP_GREETING: return smtp__srv_finish_status(s, SMTP_STATUS_GREETING_REFUSED);
  case SRV_OP_RCPT:
  case SRV_OP_VRFY: return smtp__srv_finish_status(s, SMTP_STATUS_MAILBOX_UNKNOWN);
  case SRV_OP_DATA:
  case SRV_OP_BDAT:
  case SRV_OP_BDAT_CHUNK:
  case SRV_OP_DATA_END: return smtp__srv_finish_status(s, SMTP_STATUS_DATA_REFUSED);
  case SRV_OP_STARTTLS: return smtp__srv_finish_status(s, SMTP_STATUS_TLS_NOT_AVAILABLE);
  case SRV_OP_AUTH: return smtp__srv_finish_status(s, SMTP_STATUS_AUTH_FAILED);
  case SRV_OP_EXPN: return smtp__srv_finish_status(s, SMTP_STATUS_EXPN_REFUSED);
  case SRV_OP_UNKNOWN: return smtp__srv_finish_status(s, SMTP_STATUS_SYNTAX_ERROR);
  case SRV_OP_ETRN: {
    static const smtp_enhanced_code e430 = {4, 3, 0};
    return smtp__srv_finish(s, 458, &e430, "Unable to queue messages", 24); /* RFC 1985 5 */
  }
  case SRV_OP_BURL: return finish_burl_refused(s);
  case SRV_OP_QUIT: return finish_default(s);
  default: return smtp__srv_finish(s, 550, &e571, "Refused", 7);
  }
}

/* What to do after an event callback returned @p rv. */
int smtp__srv_after_cb(smtp_server_session *s, int rv) {
  if (s->fatal) return s->fatal;
  if (s->answered) {
    s->answered = 0;
    if (rv == 0 || rv == SMTP_ERR_DEFERRED || rv == SMTP_ERR_CALLBACK_REFUSED) return SMTP_OK;
    smtp__srv_set_fatal(s, SMTP_ERR_CALLBACK_FAILURE);
    return s->fatal;
  }
  switch (rv) {
  case 0: return finish_default(s);
  case SMTP_ERR_CALLBACK_REFUSED: return finish_refused(s);
  case SMTP_ERR_DEFERRED: s->deferred = 1; return SMTP_OK;
  default: smtp__srv_set_fatal(s, SMTP_ERR_CALLBACK_FAILURE); return s->fatal;
  }
}

/* An event: the command @p opcode is handed to callback @p field (which
 * may answer it), then the default or refusal reply follows from its result
 * (smtp__srv_after_cb()). Without the callback the default applies. */
#define CALL_EVENT(s, opcode, field, ...)                                 \
  do {                                                                   \
    int rv_ = 0;                                                         \
    (s)->op = (opcode);                                                  \
    (s)->answered = 0;                                                   \
    if ((s)->cb.field) SMTP__SRV_CALL((s), 1, rv_, (s)->cb.field((s), __VA_ARGS__)); \
    (void)smtp__srv_after_cb((s), rv_);                                  \
  } while (0)
#define CALL_EVENT0(s, opcode, field) CALL_EVENT(s, opcode, field, (s)->user_data)

/* A reply the session makes for a command without asking the application. */
static void refuse(smtp_server_session *s, int op, int status_id) {
  s->op = (unsigned char)op;
  (void)smtp__srv_finish_status(s, status_id);
}

/* ------------------------------------------------------------------------ */
/* Greeting.                                                                 */

static void start(smtp_server_session *s) {
  if (s->state != SRV_ST_START || s->fatal) return;
  s->state = SRV_ST_GREETED;
  s->seq++;
  CALL_EVENT0(s, SRV_OP_GREETING, connect);
}

/* ------------------------------------------------------------------------ */
/* Message data.                                                             */

/* Why the message is refused, from facts that do not depend on how the
 * bytes were split: its total size, what the un-stuffer saw, whether the
 * application refused. Fixed priority, so whole and split feeds agree. */
static int msg_verdict(const smtp_server_session *s) {
  unsigned int seen = (s->tflags & SMTP_SERVER_FLAG_BDAT) ? 0 : s->un.seen;
  if (s->msg_too_big || (s->opt.max_size && s->msg_size > s->opt.max_size))
    return SMTP_ERR_MESSAGE_TOO_BIG; /* RFC 1870 6.3 */
  /* docs/security.md 1: bare CR / LF refused by default (RFC 5321 2.3.8). */
  if (s->opt.bare_policy == SMTP_SERVER_BARE_REJECT) {
    if (seen & SMTP_DATA_SEEN_BARE_LF) return SMTP_ERR_BARE_LF;
    if (seen & SMTP_DATA_SEEN_BARE_CR) return SMTP_ERR_BARE_CR;
  }
  if (s->opt.reject_nul && (seen & SMTP_DATA_SEEN_NUL)) return SMTP_ERR_NUL;
  /* RFC 5321 4.5.3.1.6: text lines of at most 1000 octets (opt-in). */
  if (s->opt.reject_long_lines && (seen & SMTP_DATA_SEEN_LONG_LINE)) return SMTP_ERR_LINE_TOO_LONG;
  if (s->msg_refused) return SMTP_ERR_CALLBACK_REFUSED;
  return 0;
}

/* Count and hand on message bytes (docs/security.md 4: oversize data is counted
 * and discarded, never buffered). */
static void deliver(smtp_server_session *s, const char *p, size_t n) {
  int rv;
  s->msg_size += n;
  if (msg_verdict(s)) return; /* doomed: no more bytes to the application */
  if (n == 0 || !s->cb.data_chunk) return;
  SMTP__SRV_CALL(s, 0, rv, s->cb.data_chunk(s, p, n, s->user_data));
  if (rv == 0) return;
  if (rv == SMTP_ERR_PAUSE) s->paused = 1;
  else if (rv == SMTP_ERR_CALLBACK_REFUSED) s->msg_refused = 1;
  else smtp__srv_set_fatal(s, SMTP_ERR_CALLBACK_FAILURE);
}

static void begin_eod(smtp_server_session *s) {
  s->mode = SRV_M_LINE;
  s->eod = 1;
  s->eod_index = 0;
  s->eod_count = s->opt.lmtp ? s->rcpts : 1; /* RFC 2033 4.2 */
  if (s->eod_count == 0) s->eod_count = 1;
}

static int refused_status(int why) {
  switch (why) {
  case SMTP_ERR_MESSAGE_TOO_BIG: return SMTP_STATUS_SIZE_EXCEEDED;
  case SMTP_ERR_BARE_LF:
  case SMTP_ERR_BARE_CR: return SMTP_STATUS_BARE_LINE_END;
  case SMTP_ERR_NUL: return SMTP_STATUS_NULL_BYTE;
  case SMTP_ERR_LINE_TOO_LONG: return SMTP_STATUS_DATA_REFUSED;
  default: return SMTP_STATUS_LOCAL_ERROR;
  }
}

/* Fire data_end for the next recipient (or the message) and reply. */
static void eod_step(smtp_server_session *s) {
  smtp_server_data_end info;
  memset(&info, 0, sizeof info);
  info.size = s->msg_size;
  info.seen = (s->tflags & SMTP_SERVER_FLAG_BDAT) ? 0 : s->un.seen;
  info.refused = msg_verdict(s);
  info.rcpt_index = s->opt.lmtp ? (int)s->eod_index : -1;
  info.bdat = (s->tflags & SMTP_SERVER_FLAG_BDAT) ? 1 : 0;
  if (info.refused) {
    if (s->cb.data_end) {
      int rv;
      SMTP__SRV_CALL(s, 0, rv, s->cb.data_end(s, &info, s->user_data));
      (void)rv; /* refused whatever it says */
    }
    s->op = SRV_OP_DATA_END;
    (void)smtp__srv_finish_status(s, refused_status(info.refused));
    return;
  }
  CALL_EVENT(s, SRV_OP_DATA_END, data_end, &info, s->user_data);
}

/* Resume work that does not need input: the end-of-data reply sequence. */
static void progress(smtp_server_session *s) {
  while (s->eod && !s->fatal && !s->deferred && !s->in_any_cb && !s->paused) {
    if (s->closed) {
      s->eod = 0;
      break;
    }
    if (s->eod_index >= s->eod_count) {
      /* RFC 5321 4.1.1.4: the transaction ends with the reply to the data. */
      s->eod = 0;
      reset_transaction(s);
      s->seq++;
      break;
    }
    if (out_full(s)) break;
    eod_step(s);
  }
}

/* ------------------------------------------------------------------------ */
/* Commands.                                                                 */

static int is_ascii_printable(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x20 || c > 0x7e) return 0;
  }
  return 1;
}

static int span_ieq(smtp_span a, const char *b) {
  return smtp__casecmp(a.ptr, a.len, b, strlen(b)) == 0;
}

static void cmd_helo(smtp_server_session *s, const smtp_command *c) {
  smtp_server_helo info;
  unsigned flags = (s->opt.extensions & SMTP_EXT_SMTPUTF8) ? SMTP_PARSE_UTF8 : 0;
  int kind = SMTP_DOMAIN_NAME;
  s->op = SRV_OP_HELO;
  s->p_flags = 0; /* nothing hidden (smtp_server_session_ehlo_hide()) */
  if (c->args.len == 0 || c->args.len > SRV_NAME_MAX ||
      smtp_parse_ehlo_arg(c->args.ptr, c->args.len, flags, &kind) != SMTP_OK) {
    /* RFC 5321 4.1.4: a refused EHLO leaves the state unchanged.
     * Neither a domain nor an address literal: 501 5.5.2. */
    static const smtp_enhanced_code e552 = {5, 5, 2};
    (void)smtp__srv_finish(s, 501, &e552, "Invalid domain name", 19);
    return;
  }
  /* The argument waits for the answer at the start of the input buffer
   * (the line may be there already: memmove), which holds nothing else and
   * takes no input until the answer is given. */
  s->p_verb = (unsigned char)c->verb;
  memmove(s->in, c->args.ptr, c->args.len);
  s->p_name_len = (unsigned short)c->args.len;
  s->in[c->args.len] = '\0';
  info.verb = c->verb;
  info.name.ptr = s->in;
  info.name.len = c->args.len;
  info.name_kind = kind;
  CALL_EVENT(s, SRV_OP_HELO, ehlo, &info, s->user_data);
}

/* Hand a parameter the session does not handle to the param callback.
 * Returns -1 (accepted), a status id to refuse with, or -2 when the
 * callback answered (or the session failed). */
static int param_hook(smtp_server_session *s, int verb, const smtp_param *prm) {
  smtp_server_param p;
  int rv;
  if (!s->cb.param) return SMTP_STATUS_PARAM_UNKNOWN; /* RFC 5321 4.1.1.11: 555 */
  p.verb = verb;
  p.keyword = prm->keyword;
  p.value = prm->value;
  p.has_value = prm->has_value;
  s->answered = 0;
  s->in_param_cb = 1;
  SMTP__SRV_CALL(s, 1, rv, s->cb.param(s, &p, s->user_data));
  s->in_param_cb = 0;
  if (s->fatal) return -2;
  if (s->answered) {
    s->answered = 0;
    if (rv != 0 && rv != SMTP_ERR_CALLBACK_REFUSED) smtp__srv_set_fatal(s, SMTP_ERR_CALLBACK_FAILURE);
    return -2;
  }
  if (rv == 0) return -1;
  if (rv == SMTP_ERR_CALLBACK_REFUSED) return SMTP_STATUS_PARAM_UNKNOWN;
  smtp__srv_set_fatal(s, SMTP_ERR_CALLBACK_FAILURE);
  return -2;
}

/* Whether the parameter @p d may be used now. */
static int param_enabled(const smtp_server_session *s, const smtp__param_def *d) {
  if (d->ext == SMTP_EXT_REQUIRETLS) /* RFC 8689 4: refused with 530 without TLS */
    return (s->opt.extensions & SMTP_EXT_REQUIRETLS) && s->helo_verb != SMTP_VERB_HELO &&
           !(s->tls && ehlo_hid(s, SMTP_EXT_REQUIRETLS));
  return (s->offered & d->ext) != 0;
}

/* 501 with the parameter's enhanced code (RFC 6710 4.1: 5.5.2; else 5.5.4). */
static int param_malformed(smtp_server_session *s, const smtp__param_def *d) {
  if (d->enh_detail != 4) {
    smtp_enhanced_code e;
    e.cls = 5;
    e.subject = 5;
    e.detail = d->enh_detail;
    (void)smtp__srv_finish(s, 501, &e, "Syntax error in parameters or arguments", 39);
    return -2;
  }
  return SMTP_STATUS_PARAM_SYNTAX;
}

/* Walk the parameters of MAIL or RCPT through the shared table
 * (lib/params.c): one parser per parameter. Values land in vals[id], seen
 * has bit id for each one given. Returns -1 when all is well, a status id to
 * refuse with, or -2 when the reply was already given. */
static int walk_params(smtp_server_session *s, int verb, smtp_span rest, unsigned pflags,
                       smtp__pval *vals, unsigned int *seen) {
  smtp_param prm;
  char *scratch = s->in + s->scratch_off;
  size_t used = 0, cap = s->in_cap - s->scratch_off;
  int r;
  *seen = 0;
  while ((r = smtp_param_next(&rest, pflags, &prm)) == 1) {
    const smtp__param_def *d = smtp__param_find(verb, prm.keyword.ptr, prm.keyword.len);
    unsigned int bit;
    if (!d || !param_enabled(s, d)) {
      int st = param_hook(s, verb, &prm);
      if (st != -1) return st;
      continue;
    }
    bit = 1u << (d - smtp__param_table);
    /* RFC 3461 4.5, RFC 6710 4.1 and generally: a parameter given twice
     * is an error. */
    if (*seen & bit) return param_malformed(s, d);
    memset(&vals[d - smtp__param_table], 0, sizeof vals[0]);
    if (smtp__param_parse(d, prm.value, prm.has_value, &vals[d - smtp__param_table], scratch, cap, &used) != 0)
      return param_malformed(s, d);
    *seen |= bit;
  }
  if (r < 0) return SMTP_STATUS_PARAM_SYNTAX;
  return -1;
}

#define SEEN(id) (seen & (1u << (id)))

/* Parameters of MAIL (RFC 5321 4.1.1.2 and the extensions). Returns a
 * status id to refuse with, -1 when all is well, -2 when answered. */
static int mail_params(smtp_server_session *s, smtp_span rest, smtp_server_mail *m,
                       unsigned pflags) {
  smtp__pval v[SMTP__P_COUNT];
  unsigned int seen;
  int st = walk_params(s, SMTP_VERB_MAIL, rest, pflags, v, &seen);
  if (st != -1) return st;
  if (SEEN(SMTP__P_SIZE)) {
    /* RFC 1870 6: overflow-checked; an overflow is "too big". */
    if (v[SMTP__P_SIZE].flag) return SMTP_STATUS_SIZE_EXCEEDED;
    if (s->opt.max_size && v[SMTP__P_SIZE].u > s->opt.max_size) return SMTP_STATUS_SIZE_EXCEEDED;
    m->size = v[SMTP__P_SIZE].u;
    m->has_size = 1;
  }
  if (SEEN(SMTP__P_BODY)) {
    /* 8BITMIME only when offered (RFC 6152), BINARYMIME likewise (RFC 3030 3). */
    m->body = v[SMTP__P_BODY].mode;
    if ((m->body == SMTP_BODY_8BITMIME && !(s->offered & SMTP_EXT_8BITMIME)) ||
        (m->body == SMTP_BODY_BINARYMIME && !(s->offered & SMTP_EXT_BINARYMIME)))
      return SMTP_STATUS_PARAM_SYNTAX;
  }
  if (SEEN(SMTP__P_SMTPUTF8)) m->smtputf8 = 1; /* RFC 6531 3.4 */
  if (SEEN(SMTP__P_REQUIRETLS)) {
    if (!s->tls) return SMTP_STATUS_REQUIRETLS_NEEDS_TLS; /* RFC 8689 4 */
    m->requiretls = 1;
  }
  if (SEEN(SMTP__P_RET)) m->ret = v[SMTP__P_RET].mode;
  if (SEEN(SMTP__P_ENVID)) {
    m->envid = v[SMTP__P_ENVID].text;
    m->has_envid = 1;
  }
  if (SEEN(SMTP__P_AUTH)) {
    m->auth = v[SMTP__P_AUTH].text;
    m->has_auth = 1;
  }
  if (SEEN(SMTP__P_MT_PRIORITY)) {
    m->mt_priority = (int)v[SMTP__P_MT_PRIORITY].i;
    m->has_mt_priority = 1;
  }
  if (SEEN(SMTP__P_BY)) {
    m->by_time = (int)v[SMTP__P_BY].i;
    m->by_mode = v[SMTP__P_BY].mode;
    m->by_trace = v[SMTP__P_BY].flag;
    m->has_by = 1;
  }
  /* RFC 4865 4: one hold-param. */
  if (SEEN(SMTP__P_HOLDFOR) && SEEN(SMTP__P_HOLDUNTIL)) return SMTP_STATUS_PARAM_SYNTAX;
  if (SEEN(SMTP__P_HOLDFOR)) {
    m->hold_for = (unsigned int)v[SMTP__P_HOLDFOR].u;
    m->has_hold_for = 1;
  }
  if (SEEN(SMTP__P_HOLDUNTIL)) {
    m->hold_until = v[SMTP__P_HOLDUNTIL].i;
    m->hold_until_text = v[SMTP__P_HOLDUNTIL].text;
    m->has_hold_until = 1;
  }
  if (SEEN(SMTP__P_SOLICIT)) {
    m->solicit = v[SMTP__P_SOLICIT].text;
    m->has_solicit = 1;
  }
  if (SEEN(SMTP__P_MTRK)) {
    m->mtrk_certifier = v[SMTP__P_MTRK].text;
    m->mtrk_timeout = (unsigned int)v[SMTP__P_MTRK].u;
    m->has_mtrk = 1;
  }
  if (SEEN(SMTP__P_SUBMITTER)) {
    m->submitter = v[SMTP__P_SUBMITTER].text;
    m->has_submitter = 1;
  }
  return -1;
}

static void cmd_mail(smtp_server_session *s, const smtp_command *c) {
  smtp_path path;
  smtp_span params;
  smtp_server_mail m;
  unsigned flags = 0;
  int r, st;
  s->op = SRV_OP_MAIL;
  /* RFC 5321 4.1.4: EHLO/HELO first; no MAIL inside a transaction. */
  if (s->state != SRV_ST_HELO) { /* RFC 5321 4.1.4: after HELO/EHLO, outside a transaction */
    refuse(s, SRV_OP_MAIL, SMTP_STATUS_BAD_SEQUENCE);
    return;
  }
  if (s->opt.require_tls && !s->tls) {
    refuse(s, SRV_OP_MAIL, SMTP_STATUS_ENCRYPTION_REQUIRED); /* RFC 3207 4 */
    return;
  }
  if (s->opt.require_auth && !s->authed) {
    refuse(s, SRV_OP_MAIL, SMTP_STATUS_AUTH_REQUIRED); /* RFC 4954 6 */
    return;
  }
  if (s->opt.max_transactions && s->transactions >= s->opt.max_transactions) {
    static const smtp_enhanced_code e453 = {4, 5, 3};
    (void)smtp__srv_finish(s, 452, &e453, "Too many transactions in this session", 37);
    return;
  }
  if (s->opt.lenient_colon) flags |= SMTP_PARSE_SPACE_AFTER_COLON;
  if (s->offered & SMTP_EXT_SMTPUTF8) flags |= SMTP_PARSE_UTF8;
  r = smtp_parse_mail_rcpt_args(c->args.ptr, c->args.len, 0, flags, &path, &params);
  if (r == SMTP_ERR_NEEDS_SMTPUTF8) {
    refuse(s, SRV_OP_MAIL, SMTP_STATUS_NEEDS_SMTPUTF8);
    return;
  }
  if (r != SMTP_OK) {
    refuse(s, SRV_OP_MAIL, SMTP_STATUS_BAD_SENDER_SYNTAX);
    return;
  }
  memset(&m, 0, sizeof m);
  m.path = &path;
  m.params = params;
  st = mail_params(s, params, &m, flags & SMTP_PARSE_UTF8);
  if (st == -2) return; /* answered */
  if (st >= 0) {
    refuse(s, SRV_OP_MAIL, st);
    return;
  }
  /* RFC 6531 3.4: non-ASCII addresses only with the SMTPUTF8 parameter. */
  if (path.mailbox.utf8 && !m.smtputf8) {
    refuse(s, SRV_OP_MAIL, SMTP_STATUS_NEEDS_SMTPUTF8);
    return;
  }
  if (path.address.len > SMTP_PATH_MAX) {
    refuse(s, SRV_OP_MAIL, SMTP_STATUS_BAD_SENDER_SYNTAX);
    return;
  }
  /* No transaction is open: rpath is free until the answer (apply()). */
  memcpy(s->rpath, path.address.ptr, path.address.len);
  s->rpath[path.address.len] = '\0';
  s->p_name_len = (unsigned short)path.address.len;
  s->p_flags = 0;
  if (m.smtputf8) s->p_flags |= SMTP_SERVER_FLAG_SMTPUTF8;
  if (m.requiretls) s->p_flags |= SMTP_SERVER_FLAG_REQUIRETLS;
  if (m.body == SMTP_BODY_8BITMIME) s->p_flags |= SMTP_SERVER_FLAG_8BITMIME;
  if (m.body == SMTP_BODY_BINARYMIME) s->p_flags |= SMTP_SERVER_FLAG_BINARYMIME;
  CALL_EVENT(s, SRV_OP_MAIL, mail, &m, s->user_data);
}

static int rcpt_params(smtp_server_session *s, smtp_span rest, smtp_server_rcpt *rc,
                       unsigned pflags) {
  smtp__pval v[SMTP__P_COUNT];
  unsigned int seen;
  int st = walk_params(s, SMTP_VERB_RCPT, rest, pflags, v, &seen);
  if (st != -1) return st;
  if (SEEN(SMTP__P_NOTIFY)) rc->notify = (unsigned int)v[SMTP__P_NOTIFY].u;
  if (SEEN(SMTP__P_ORCPT)) {
    rc->orcpt_type = v[SMTP__P_ORCPT].type;
    rc->orcpt = v[SMTP__P_ORCPT].text;
    rc->has_orcpt = 1;
  }
  if (SEEN(SMTP__P_RRVS)) {
    rc->rrvs_time = v[SMTP__P_RRVS].i;
    rc->rrvs_mode = v[SMTP__P_RRVS].mode;
    rc->rrvs_text = v[SMTP__P_RRVS].text;
    rc->has_rrvs = 1;
  }
  return -1;
}

static void cmd_rcpt(smtp_server_session *s, const smtp_command *c) {
  smtp_path path;
  smtp_span params;
  smtp_server_rcpt rc;
  unsigned flags = 0;
  int r, st;
  s->op = SRV_OP_RCPT;
  if (s->state != SRV_ST_MAIL || (s->tflags & SMTP_SERVER_FLAG_BDAT)) {
    refuse(s, SRV_OP_RCPT, SMTP_STATUS_BAD_SEQUENCE); /* RFC 5321 4.1.4 */
    return;
  }
  if (s->rcpts >= s->opt.max_rcpt) {
    refuse(s, SRV_OP_RCPT, SMTP_STATUS_TOO_MANY_RCPTS); /* RFC 5321 4.5.3.1.10 */
    return;
  }
  if (s->opt.lenient_colon) flags |= SMTP_PARSE_SPACE_AFTER_COLON;
  if (s->tflags & SMTP_SERVER_FLAG_SMTPUTF8) flags |= SMTP_PARSE_UTF8;
  r = smtp_parse_mail_rcpt_args(c->args.ptr, c->args.len, 1, flags, &path, &params);
  if (r == SMTP_ERR_NEEDS_SMTPUTF8 ||
      (r == SMTP_OK && path.mailbox.utf8 && !(s->tflags & SMTP_SERVER_FLAG_SMTPUTF8))) {
    refuse(s, SRV_OP_RCPT, SMTP_STATUS_NEEDS_SMTPUTF8); /* RFC 6531 3.5 */
    return;
  }
  if (r != SMTP_OK) {
    refuse(s, SRV_OP_RCPT, SMTP_STATUS_BAD_ADDRESS_SYNTAX);
    return;
  }
  memset(&rc, 0, sizeof rc);
  rc.path = &path;
  rc.params = params;
  rc.index = s->rcpts;
  st = rcpt_params(s, params, &rc, flags & SMTP_PARSE_UTF8);
  if (st == -2) return; /* answered */
  if (st >= 0) {
    refuse(s, SRV_OP_RCPT, st);
    return;
  }
  CALL_EVENT(s, SRV_OP_RCPT, rcpt, &rc, s->user_data);
}

static void no_rcpts(smtp_server_session *s, int op) {
  /* RFC 2033 4.2: LMTP wants 503; RFC 5321 3.3 allows 503 or 554. */
  refuse(s, op, s->opt.lmtp ? SMTP_STATUS_BAD_SEQUENCE : SMTP_STATUS_NO_VALID_RCPTS);
}

static void cmd_data(smtp_server_session *s, const smtp_command *c) {
  s->op = SRV_OP_DATA;
  if (c->args.len) {
    refuse(s, SRV_OP_DATA, SMTP_STATUS_PARAM_SYNTAX); /* RFC 5321 4.3.2 */
    return;
  }
  if (s->state != SRV_ST_MAIL || (s->tflags & SMTP_SERVER_FLAG_BDAT) ||
      (s->tflags & SMTP_SERVER_FLAG_BINARYMIME)) {
    /* RFC 3030 2 and 3: no DATA after BDAT, none with BINARYMIME. */
    refuse(s, SRV_OP_DATA, SMTP_STATUS_BAD_SEQUENCE);
    return;
  }
  if (s->rcpts == 0) {
    no_rcpts(s, SRV_OP_DATA);
    return;
  }
  s->msg_size = 0;
  s->msg_refused = 0;
  s->msg_too_big = 0;
  CALL_EVENT0(s, SRV_OP_DATA, data_start);
}

/* A BDAT refused before its data: reply now, then consume and drop the
 * chunk (RFC 3030 2; docs/security.md 1: a refused BDAT still consumes its bytes). */
static void bdat_refuse(smtp_server_session *s, int status_id) {
  refuse(s, SRV_OP_BDAT, status_id);
  s->bdat_deliver = 0;
  if (s->bdat_left > 0 && !s->closed) {
    s->mode = SRV_M_BDAT;
    s->total_seq++;
  }
}

/* A chunk (not the LAST) was received whole: its reply, from the
 * application when it answers chunks (RFC 3030 2), else 250. */
static void chunk_done(smtp_server_session *s) {
  if (s->cb.bdat_chunk) {
    CALL_EVENT(s, SRV_OP_BDAT_CHUNK, bdat_chunk, s->bdat_size, s->user_data);
    return;
  }
  s->op = SRV_OP_BDAT_CHUNK;
  (void)finish_default(s);
}

static void cmd_bdat(smtp_server_session *s, const smtp_command *c) {
  uint64_t size;
  int last, r;
  s->op = SRV_OP_BDAT;
  r = smtp_bdat_parse(c->args.ptr, c->args.len, &size, &last);
  if (r != SMTP_OK) {
    /* The chunk size is unknown: nothing can be skipped (RFC 3030 2 note). */
    refuse(s, SRV_OP_BDAT, SMTP_STATUS_PARAM_SYNTAX);
    return;
  }
  s->bdat_left = size;
  s->bdat_size = size;
  s->bdat_last = (unsigned char)last;
  s->bdat_deliver = 0;
  if (!(s->offered & SMTP_EXT_CHUNKING)) {
    bdat_refuse(s, SMTP_STATUS_NOT_IMPLEMENTED);
    return;
  }
  if (s->state == SRV_ST_MAIL && s->bdat_failed) {
    /* RFC 3030 2: after a failed chunk the receiver MUST accept and discard
     * the chunks already in the pipeline. Each still gets its reply (503),
     * but none counts towards the error limit; BDAT LAST ends the failed
     * transaction. */
    s->no_count = 1;
    bdat_refuse(s, SMTP_STATUS_BAD_SEQUENCE);
    s->no_count = 0;
    if (last) reset_transaction(s);
    return;
  }
  if (s->state != SRV_ST_MAIL) {
    bdat_refuse(s, SMTP_STATUS_BAD_SEQUENCE);
    return;
  }
  if (s->rcpts == 0) {
    bdat_refuse(s, s->opt.lmtp ? SMTP_STATUS_BAD_SEQUENCE : SMTP_STATUS_NO_VALID_RCPTS);
    return;
  }
  if (s->opt.max_size && (size > s->opt.max_size || s->msg_size > s->opt.max_size - size)) {
    /* RFC 1870 6.3 / RFC 3030 2: refused, the chunk is still read. */
    if (s->tflags & SMTP_SERVER_FLAG_BDAT) {
      /* The application saw the start: tell it at the end. */
      s->msg_too_big = 1;
    } else {
      bdat_refuse(s, SMTP_STATUS_SIZE_EXCEEDED);
      if (last) reset_transaction(s);
      else s->bdat_failed = 1;
      return;
    }
  }
  if (!(s->tflags & SMTP_SERVER_FLAG_BDAT)) {
    s->msg_size = 0;
    s->msg_refused = 0;
    s->msg_too_big = 0;
    CALL_EVENT0(s, SRV_OP_BDAT, data_start);
    return;
  }
  s->bdat_deliver = 1;
  if (size > 0) {
    s->mode = SRV_M_BDAT;
    s->total_seq++;
  } else if (last) {
    begin_eod(s);
  } else {
    chunk_done(s);
  }
}

/* The end of one BDAT chunk's bytes. */
static void bdat_chunk_end(smtp_server_session *s) {
  s->mode = SRV_M_LINE;
  if (!s->bdat_deliver) {
    s->seq++; /* refused earlier; its reply is out already */
    return;
  }
  if (s->bdat_last) {
    begin_eod(s);
    return;
  }
  if (msg_verdict(s)) {
    /* Fail this chunk; the transaction is failed (RFC 3030 2). */
    s->op = SRV_OP_BDAT;
    s->bdat_failed = 1;
    (void)smtp__srv_finish_status(s, refused_status(msg_verdict(s)));
    return;
  }
  chunk_done(s);
}

static void cmd_simple(smtp_server_session *s, const smtp_command *c) {
  switch (c->verb) {
  case SMTP_VERB_RSET:
    if (c->args.len) {
      refuse(s, SRV_OP_RSET, SMTP_STATUS_PARAM_SYNTAX);
      return;
    }
    CALL_EVENT0(s, SRV_OP_RSET, rset);
    return;
  case SMTP_VERB_NOOP: CALL_EVENT0(s, SRV_OP_NOOP, noop); return; /* NOOP [SP String] */
  case SMTP_VERB_QUIT:
    if (c->args.len) {
      refuse(s, SRV_OP_QUIT, SMTP_STATUS_PARAM_SYNTAX);
      return;
    }
    CALL_EVENT0(s, SRV_OP_QUIT, quit);
    return;
  case SMTP_VERB_VRFY:
    if (!c->args.len) {
      refuse(s, SRV_OP_VRFY, SMTP_STATUS_PARAM_SYNTAX);
      return;
    }
    CALL_EVENT(s, SRV_OP_VRFY, vrfy, c->args.ptr, c->args.len, s->user_data);
    return;
  case SMTP_VERB_EXPN:
    if (!c->args.len) {
      refuse(s, SRV_OP_EXPN, SMTP_STATUS_PARAM_SYNTAX);
      return;
    }
    CALL_EVENT(s, SRV_OP_EXPN, expn, c->args.ptr, c->args.len, s->user_data);
    return;
  case SMTP_VERB_HELP:
    CALL_EVENT(s, SRV_OP_HELP, help, c->args.ptr, c->args.len, s->user_data);
    return;
  default: return;
  }
}

static void cmd_starttls(smtp_server_session *s, const smtp_command *c) {
  s->op = SRV_OP_STARTTLS;
  if (!s->opt.tls_available) {
    refuse(s, SRV_OP_STARTTLS, SMTP_STATUS_NOT_IMPLEMENTED);
    return;
  }
  if (c->args.len) {
    refuse(s, SRV_OP_STARTTLS, SMTP_STATUS_PARAM_SYNTAX); /* RFC 3207 4 */
    return;
  }
  /* RFC 3207 4: only offered after EHLO, once, outside a transaction. */
  if (s->tls || s->state != SRV_ST_HELO || s->helo_verb == SMTP_VERB_HELO) {
    refuse(s, SRV_OP_STARTTLS, SMTP_STATUS_BAD_SEQUENCE);
    return;
  }
  if (!(s->offered & SMTP_EXT_STARTTLS)) {
    refuse(s, SRV_OP_STARTTLS, SMTP_STATUS_NOT_IMPLEMENTED); /* hidden by the last EHLO */
    return;
  }
  CALL_EVENT0(s, SRV_OP_STARTTLS, starttls);
}

/* ETRN [option] node-name (RFC 1985 5): outside a transaction; option "@"
 * (a domain and its subdomains) or "#" (a queue name). */
static void cmd_etrn(smtp_server_session *s, const smtp_command *c) {
  smtp_server_etrn e;
  size_t i = 0;
  s->op = SRV_OP_ETRN;
  if (!(s->offered & SMTP_EXT_ETRN)) {
    refuse(s, SRV_OP_ETRN, SMTP_STATUS_NOT_IMPLEMENTED);
    return;
  }
  if (s->state == SRV_ST_MAIL) {
    refuse(s, SRV_OP_ETRN, SMTP_STATUS_BAD_SEQUENCE); /* RFC 1985 5 */
    return;
  }
  e.option = 0;
  if (c->args.len && (c->args.ptr[0] == '@' || c->args.ptr[0] == '#')) {
    e.option = c->args.ptr[0];
    i = 1;
  }
  e.node.ptr = c->args.ptr + i;
  e.node.len = c->args.len - i;
  if (e.node.len == 0 || !is_ascii_printable(e.node.ptr, e.node.len) ||
      memchr(e.node.ptr, ' ', e.node.len) ||
      (e.option != '#' && smtp_parse_domain(e.node.ptr, e.node.len, 0) != SMTP_OK)) {
    refuse(s, SRV_OP_ETRN, SMTP_STATUS_PARAM_SYNTAX); /* RFC 1985 5: 501 */
    return;
  }
  CALL_EVENT(s, SRV_OP_ETRN, etrn, &e, s->user_data);
}

/* BURL absolute-URI [SP "LAST"] (RFC 4468 3): inside a transaction with
 * recipients, not after BDAT started the body the other way. */
static void cmd_burl(smtp_server_session *s, const smtp_command *c) {
  smtp_server_burl b;
  size_t n = c->args.len;
  s->op = SRV_OP_BURL;
  if (!(s->offered & SMTP_EXT_BURL)) {
    refuse(s, SRV_OP_BURL, SMTP_STATUS_NOT_IMPLEMENTED);
    return;
  }
  if (s->state != SRV_ST_MAIL || s->rcpts == 0) {
    refuse(s, SRV_OP_BURL, SMTP_STATUS_BAD_SEQUENCE); /* RFC 4468 3 */
    return;
  }
  b.last = 0;
  if (n > 5 && c->args.ptr[n - 5] == ' ') {
    smtp_span w;
    w.ptr = c->args.ptr + n - 4;
    w.len = 4;
    if (span_ieq(w, "LAST")) {
      b.last = 1;
      n -= 5;
    }
  }
  b.url.ptr = c->args.ptr;
  b.url.len = n;
  if (n == 0 || !is_ascii_printable(b.url.ptr, n) || memchr(b.url.ptr, ' ', n) ||
      !memchr(b.url.ptr, ':', n)) {
    refuse(s, SRV_OP_BURL, SMTP_STATUS_PARAM_SYNTAX);
    return;
  }
  s->burl_last = (unsigned char)b.last;
  CALL_EVENT(s, SRV_OP_BURL, burl, &b, s->user_data);
}

/* XCLIENT and XFORWARD (Postfix's XCLIENT_README, XFORWARD_README), when
 * the options enable them. Returns 1 when the command was one of them. */
static int cmd_xcommand(smtp_server_session *s, const smtp_command *c) {
  static const smtp_enhanced_code e570 = {5, 7, 0}, e551 = {5, 5, 1}, e554 = {5, 5, 4},
                                  e200 = {2, 0, 0}, e430 = {4, 3, 0};
  unsigned int verb;
  smtp_xattrs x;
  char *scratch = s->in + s->scratch_off;
  size_t cap = s->in_cap - s->scratch_off;
  int r;
  if (smtp__casecmp(c->verb_text.ptr, c->verb_text.len, "XCLIENT", 7) == 0) verb = SMTP_XCLIENT;
  else if (smtp__casecmp(c->verb_text.ptr, c->verb_text.len, "XFORWARD", 8) == 0) verb = SMTP_XFORWARD;
  else return 0;
  if (!(s->opt.xclient & verb)) return 0;
  s->op = SRV_OP_UNKNOWN;
  s->answered = 0;
  if (!(s->x_allowed & verb)) {
    (void)smtp__srv_finish(s, 550, &e570, "Error: insufficient authorization", 33);
    return 1;
  }
  if (s->state == SRV_ST_MAIL) {
    (void)smtp__srv_finish(s, 503, &e551, "Error: MAIL transaction in progress", 35);
    return 1;
  }
  r = smtp_xattrs_parse(verb, c->args.ptr, c->args.len, &x, scratch, cap);
  if (r != SMTP_OK) {
    (void)smtp__srv_finish(s, 501, &e554, "Bad attribute list", 18);
    return 1;
  }
  if (!s->xs) { /* allocated by smtp_server_session_allow_xclient(); never missing */
    (void)smtp__srv_finish(s, 451, &e430, "Error: insufficient system resources", 36);
    return 1;
  }
  if (verb == SMTP_XFORWARD) {
    /* kept for the next transaction (server_xclient.c) */
    smtp__srv_x_apply(s, verb, &x);
    (void)smtp__srv_finish(s, 250, &e200, "Ok", 2);
    return 1;
  }
  {
    /* XCLIENT: the session starts over as the new client's, with a greeting */
    char t[SRV_NAME_MAX + 64];
    sbuf b = {t, sizeof t, 0};
    reset_session(s);
    smtp__srv_x_apply(s, verb, &x); /* the new client's attributes */
    sb_put(&b, s->hostname, s->hostname_len);
    sb_str(&b, s->opt.lmtp ? " LMTP " : " ESMTP ");
    sb_str(&b, smtp_status_default(SMTP_STATUS_GREETING)->text);
    (void)smtp__srv_finish(s, 220, &no_enh, t, b.len);
  }
  return 1;
}

static void cmd_unknown(smtp_server_session *s, const smtp_command *c) {
  if (s->opt.xclient && cmd_xcommand(s, c)) return;
  s->op = SRV_OP_UNKNOWN;
  s->answered = 0;
  if (s->cb.unknown_command) {
    int rv;
    SMTP__SRV_CALL(s, 1, rv, s->cb.unknown_command(s, c, s->user_data));
    if (!s->answered && (rv == 0 || rv == SMTP_ERR_CALLBACK_REFUSED) &&
        c->verb == SMTP_VERB_ETRN) {
      (void)smtp__srv_finish_status(s, SMTP_STATUS_NOT_IMPLEMENTED);
      return;
    }
    (void)smtp__srv_after_cb(s, rv);
    return;
  }
  (void)smtp__srv_finish_status(
      s, c->verb == SMTP_VERB_ETRN ? SMTP_STATUS_NOT_IMPLEMENTED : SMTP_STATUS_SYNTAX_ERROR);
}

/* Lines longer than their limit (RFC 5321 4.5.3.1.4, 4.5.3.1.9): 500, and the
 * line is never run (docs/security.md 4). */
static void line_too_long(smtp_server_session *s) {
  if (s->auth_active) {
    smtp__srv_trace(s, SMTP_SERVER_TRACE_IN, "***", 3);
    smtp__srv_auth_abort(s, SMTP_STATUS_LINE_TOO_LONG); /* RFC 4954 4: 500 5.5.6 */
    return;
  }
  refuse(s, SRV_OP_NONE, SMTP_STATUS_LINE_TOO_LONG);
}

static void process_line(smtp_server_session *s, const char *line, size_t len) {
  smtp_command c;
  int r;
  size_t limit;
  /* Decoded parameters go after the line when it sits in the input buffer
   * (smtp_server_session_new() leaves room), else anywhere in it. */
  s->scratch_off = line == s->in ? len + 2 : 0;
  if (s->auth_active) {
    smtp__srv_trace(s, SMTP_SERVER_TRACE_IN, "***", 3); /* SASL data is never traced */
    if (s->auth_run) {
      (void)s->auth_run->line(s, line, len);
    } else { /* cannot happen: no exchange runs without AUTH set up */
      s->auth_active = 0;
      smtp__srv_auth_abort(s, SMTP_STATUS_NOT_IMPLEMENTED);
    }
    return;
  }
  /* smtp_parse_command() caps lines at 510 octets; longer MAIL/RCPT lines
   * are legal with extensions, so split off the verb ourselves then. */
  if (len > SMTP_COMMAND_LINE_MAX - 2) {
    size_t v = 0;
    while (v < len && v < 17 && line[v] != ' ') v++;
    r = smtp_parse_command(line, v, &c);
    if (r == SMTP_OK) {
      if (v >= len || line[v] != ' ') r = SMTP_ERR_SYNTAX;
      else if (memchr(line, '\r', len) || memchr(line, '\n', len) || memchr(line, '\0', len))
        r = SMTP_ERR_BAD_CHAR;
      c.args.ptr = line + v + 1;
      c.args.len = len - v - 1;
    }
  } else {
    r = smtp_parse_command(line, len, &c);
  }
  if (r == SMTP_OK && c.verb == SMTP_VERB_AUTH) {
    /* Redacted: the initial response is a credential. */
    size_t m = 0;
    while (m < c.args.len && c.args.ptr[m] != ' ') m++;
    if (s->cb.trace) {
      char t[64];
      sbuf b = {t, sizeof t, 0};
      t[0] = '\0';
      sb_put(&b, line, (size_t)(c.args.ptr - line) + (m < 40 ? m : 40));
      if (m < c.args.len) sb_str(&b, " ***");
      smtp__srv_trace(s, SMTP_SERVER_TRACE_IN, t, b.len);
    }
  } else if (len > 5 && smtp__casecmp(line, 4, "AUTH", 4) == 0) {
    /* A malformed AUTH line may still carry a credential: verb only. */
    smtp__srv_trace(s, SMTP_SERVER_TRACE_IN, "AUTH ***", 8);
  } else {
    smtp__srv_trace(s, SMTP_SERVER_TRACE_IN, line, len);
  }
  if (s->refused_greeting) {
    /* RFC 5321 3.1: after 554 only QUIT; RFC 7504 3: 521 to the rest. */
    if (r == SMTP_OK && c.verb == SMTP_VERB_QUIT) {
      CALL_EVENT0(s, SRV_OP_QUIT, quit);
    } else if (s->refused_greeting == 521) {
      static const smtp_enhanced_code e532 = {5, 3, 2};
      s->op = SRV_OP_NONE;
      (void)smtp__srv_finish(s, 521, &e532, "Host does not accept mail", 25);
    } else {
      refuse(s, SRV_OP_NONE, SMTP_STATUS_BAD_SEQUENCE);
    }
    return;
  }
  if (r != SMTP_OK) {
    /* docs/security.md 1: a bare CR/LF or NUL inside a command line makes the
     * whole line an error; never two commands out of one line. */
    refuse(s, SRV_OP_NONE, SMTP_STATUS_SYNTAX_ERROR);
    return;
  }
  limit = s->opt.max_command_line;
  if (c.verb == SMTP_VERB_MAIL) limit = s->mail_line_max;
  else if (c.verb == SMTP_VERB_RCPT) limit = s->rcpt_line_max;
  else if (c.verb == SMTP_VERB_AUTH) limit = s->in_cap;
  if (len + 2 > limit) {
    refuse(s, SRV_OP_NONE, SMTP_STATUS_LINE_TOO_LONG);
    return;
  }
  if (s->opt.lmtp) {
    if (c.verb == SMTP_VERB_HELO || c.verb == SMTP_VERB_EHLO) {
      /* RFC 2033 4.1: no positive reply to HELO/EHLO in LMTP; 500. */
      static const smtp_enhanced_code e551 = {5, 5, 1};
      s->op = SRV_OP_NONE;
      (void)smtp__srv_finish(s, 500, &e551, "This is LMTP: use LHLO", 22);
      return;
    }
  } else if (c.verb == SMTP_VERB_LHLO) {
    c.verb = SMTP_VERB_UNKNOWN;
  }
  switch (c.verb) {
  case SMTP_VERB_HELO:
  case SMTP_VERB_EHLO:
  case SMTP_VERB_LHLO: cmd_helo(s, &c); break;
  case SMTP_VERB_MAIL: cmd_mail(s, &c); break;
  case SMTP_VERB_RCPT: cmd_rcpt(s, &c); break;
  case SMTP_VERB_DATA: cmd_data(s, &c); break;
  case SMTP_VERB_BDAT: cmd_bdat(s, &c); break;
  case SMTP_VERB_RSET:
  case SMTP_VERB_NOOP:
  case SMTP_VERB_QUIT:
  case SMTP_VERB_VRFY:
  case SMTP_VERB_EXPN:
  case SMTP_VERB_HELP: cmd_simple(s, &c); break;
  case SMTP_VERB_STARTTLS: cmd_starttls(s, &c); break;
  case SMTP_VERB_AUTH:
    if (ehlo_hid(s, SMTP_EXT_AUTH) && smtp__srv_auth_usable(s)) {
      s->op = SRV_OP_AUTH;
      (void)smtp__srv_finish_status(s, SMTP_STATUS_NOT_IMPLEMENTED); /* hidden by the last EHLO */
      break;
    }
    if (s->auth_run) {
      (void)s->auth_run->command(s, c.args.ptr, c.args.len);
    } else { /* no AUTH set up: no mechanism offered (server_auth.c) */
      s->auth_exchange = 0;
      smtp__srv_auth_abort(s, SMTP_STATUS_NOT_IMPLEMENTED);
    }
    break;
  case SMTP_VERB_ETRN:
    if (s->cb.etrn) cmd_etrn(s, &c);
    else cmd_unknown(s, &c);
    break;
  default:
    if (s->cb.burl && smtp__casecmp(c.verb_text.ptr, c.verb_text.len, "BURL", 4) == 0) cmd_burl(s, &c);
    else cmd_unknown(s, &c);
    break;
  }
}

/* ------------------------------------------------------------------------ */
/* Input steps. Each takes bytes from p[0..n) and returns how many.          */

/* Command lines end only at CRLF (RFC 5321 2.3.8; docs/security.md 1). A complete
 * line inside the caller's bytes is used in place; only a line that
 * straddles two calls is copied. Any line longer than the input buffer is
 * discarded up to its CRLF and answered 500. */
static size_t step_line(smtp_server_session *s, const char *p, size_t n) {
  size_t i = 0;
  for (;;) {
    const char *q = memchr(p + i, '\n', n - i);
    size_t j;
    char prev;
    if (!q) break;
    j = (size_t)(q - p);
    prev = j > 0 ? p[j - 1] : (s->in_len ? s->in[s->in_len - 1] : 0);
    if (prev != '\r') {
      i = j + 1;
      continue;
    }
    if (s->in_len == 0) {
      if (j + 1 > s->in_cap) line_too_long(s);
      else process_line(s, p, j - 1);
    } else {
      size_t total = s->in_len + j + 1;
      if (total > s->in_cap) {
        s->in_len = 0;
        line_too_long(s);
      } else {
        memcpy(s->in + s->in_len, p, j + 1);
        s->in_len = 0;
        process_line(s, s->in, total - 2);
      }
    }
    return j + 1;
  }
  if (s->in_len + n >= s->in_cap) {
    /* docs/security.md 1/4: the tail of an over-long line is never a new line. */
    s->in_len = 0;
    s->mode = SRV_M_DISCARD;
    s->discard_cr = n > 0 && p[n - 1] == '\r';
    return n;
  }
  memcpy(s->in + s->in_len, p, n);
  s->in_len += n;
  return n;
}

static size_t step_discard(smtp_server_session *s, const char *p, size_t n) {
  size_t i = 0;
  for (;;) {
    const char *q = memchr(p + i, '\n', n - i);
    size_t j;
    if (!q) break;
    j = (size_t)(q - p);
    if (j > 0 ? p[j - 1] == '\r' : s->discard_cr) {
      s->mode = SRV_M_LINE;
      line_too_long(s);
      return j + 1;
    }
    i = j + 1;
  }
  if (n) s->discard_cr = p[n - 1] == '\r';
  return n;
}

/* DATA (RFC 5321 4.1.1.4, 4.5.2): the bytes are copied into the work
 * buffer and unstuffed in place; end of data only at CRLF "." CRLF on the
 * raw bytes (smtp_unstuff). */
static size_t step_data(smtp_server_session *s, const char *p, size_t n) {
  size_t take = n < s->in_cap ? n : s->in_cap;
  size_t outlen = take, used = 0;
  int r;
  memcpy(s->in, p, take);
  r = smtp_unstuff(&s->un, s->in, &outlen, &used);
  if (r < 0) {
    smtp__srv_set_fatal(s, SMTP_ERR_CALLBACK_FAILURE);
    return 0;
  }
  s->data_block = 1;
  deliver(s, s->in, outlen);
  if (r == 1 && !s->fatal) begin_eod(s);
  return used;
}

/* BDAT chunk bytes: counted, never scanned (RFC 3030 2; docs/security.md 1),
 * handed on in place. */
static size_t step_bdat(smtp_server_session *s, const char *p, size_t n) {
  size_t take = n;
  if ((uint64_t)take > s->bdat_left) take = (size_t)s->bdat_left;
  s->data_block = 1;
  if (s->bdat_deliver) deliver(s, p, take);
  s->bdat_left -= take;
  if (s->bdat_left == 0 && !s->fatal) bdat_chunk_end(s);
  return take;
}

static int blocked(const smtp_server_session *s) {
  return s->closed || s->fatal || s->deferred || s->paused || s->eod || s->starttls_pending ||
         s->state == SRV_ST_START || (s->mode != SRV_M_DATA && s->mode != SRV_M_BDAT && out_full(s));
}

/* ------------------------------------------------------------------------ */
/* Public API: objects.                                                      */

int smtp_server_callbacks_new(smtp_server_callbacks **out, const smtp_mem *mem) {
  smtp_server_callbacks *cb;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  cb = smtp__malloc(mem, sizeof *cb);
  if (!cb) return SMTP_ERR_NOMEM;
  memset(cb, 0, sizeof *cb);
  cb->mem = *mem;
  *out = cb;
  return SMTP_OK;
}

void smtp_server_callbacks_del(smtp_server_callbacks *cb) {
  smtp_mem m;
  if (!cb) return;
  m = cb->mem;
  smtp__free(&m, cb);
}

#define CB_SETTER(name, type)                                                     \
  void smtp_server_callbacks_set_##name(smtp_server_callbacks *cb, type f) {      \
    if (cb) cb->f.name = f;                                                       \
  }
CB_SETTER(connect, smtp_server_on_connect)
CB_SETTER(ehlo, smtp_server_on_ehlo)
CB_SETTER(mail, smtp_server_on_mail)
CB_SETTER(rcpt, smtp_server_on_rcpt)
CB_SETTER(data_start, smtp_server_on_data_start)
CB_SETTER(data_chunk, smtp_server_on_data_chunk)
CB_SETTER(bdat_chunk, smtp_server_on_bdat_chunk)
CB_SETTER(data_end, smtp_server_on_data_end)
CB_SETTER(rset, smtp_server_on_rset)
CB_SETTER(vrfy, smtp_server_on_vrfy)
CB_SETTER(expn, smtp_server_on_expn)
CB_SETTER(help, smtp_server_on_help)
CB_SETTER(noop, smtp_server_on_noop)
CB_SETTER(quit, smtp_server_on_quit)
CB_SETTER(unknown_command, smtp_server_on_unknown_command)
/* These name the AUTH code (smtp__srv_auth_impl); see server_impl.h. */
void smtp_server_callbacks_set_auth(smtp_server_callbacks *cb, smtp_server_on_auth f) {
  if (!cb) return;
  cb->f.auth = f;
  cb->auth_run = &smtp__srv_auth_impl;
}
void smtp_server_callbacks_set_auth_step(smtp_server_callbacks *cb, smtp_server_on_auth_step f) {
  if (!cb) return;
  cb->f.auth_step = f;
  cb->auth_run = &smtp__srv_auth_impl;
}
CB_SETTER(starttls, smtp_server_on_starttls)
CB_SETTER(trace, smtp_server_on_trace)
CB_SETTER(param, smtp_server_on_param)
CB_SETTER(etrn, smtp_server_on_etrn)
CB_SETTER(burl, smtp_server_on_burl)

#define SRV_INPUT_DEFAULT 1280
#define SRV_OUTPUT_DEFAULT 1024

static void params_defaults(struct srv_params *p) {
  memset(p, 0, sizeof *p);
  p->max_command_line = SMTP_COMMAND_LINE_MAX;
  p->max_rcpt = 100;
  p->max_errors = 20;
  p->max_auth_failures = 5;
  p->extensions = SMTP_SERVER_DEFAULT_EXTENSIONS;
  p->auth_mechs = SMTP_SASL_PLAIN | SMTP_SASL_LOGIN;
  p->reject_nul = 1;
  p->command_timeout = 300000;
  p->data_timeout = 180000;
  p->data_end_timeout = 600000;
  p->data_total_timeout = 600000;
}

static const char default_hostname[] = "localhost";

static void options_defaults(struct smtp_server_options *o) {
  memset(o, 0, sizeof *o);
  memcpy(o->hostname, default_hostname, sizeof default_hostname);
  params_defaults(&o->p);
  o->input_buffer = SRV_INPUT_DEFAULT;
  o->output_buffer = SRV_OUTPUT_DEFAULT;
  o->sp.scram_min_iter = 4096; /* RFC 7677 4 */
  o->sp.scram_max_iter = 100000;
}

int smtp_server_options_new(smtp_server_options **out, const smtp_mem *mem) {
  smtp_server_options *o;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  o = smtp__malloc(mem, sizeof *o);
  if (!o) return SMTP_ERR_NOMEM;
  options_defaults(o);
  o->mem = *mem;
  *out = o;
  return SMTP_OK;
}

void smtp_server_options_del(smtp_server_options *o) {
  smtp_mem m;
  if (!o) return;
  m = o->mem;
  smtp__free(&m, o);
}

int smtp_server_options_set_hostname(smtp_server_options *o, const char *h) {
  size_t n;
  if (!o || !h) return SMTP_ERR_INVALID_ARGUMENT;
  n = strlen(h);
  if (n == 0 || n > SRV_NAME_MAX || smtp_parse_ehlo_arg(h, n, 0, NULL) != SMTP_OK)
    return SMTP_ERR_INVALID_ARGUMENT;
  memcpy(o->hostname, h, n + 1);
  return SMTP_OK;
}

#define OPT_RANGE(name, field, type, lo, hi)                                   \
  int smtp_server_options_set_##name(smtp_server_options *o, type v) {         \
    if (!o || v < (lo) || v > (hi)) return SMTP_ERR_INVALID_ARGUMENT;          \
    o->p.field = v;                                                            \
    return SMTP_OK;                                                            \
  }
#define OPT_BOOL(name, field)                                                  \
  int smtp_server_options_set_##name(smtp_server_options *o, int v) {          \
    if (!o || v < 0 || v > 1) return SMTP_ERR_INVALID_ARGUMENT;                \
    o->p.field = (unsigned char)v;                                             \
    return SMTP_OK;                                                            \
  }
OPT_RANGE(max_command_line, max_command_line, size_t, 512, 65536)
#define OPT_BUFFER(name)                                                       \
  int smtp_server_options_set_##name(smtp_server_options *o, size_t v) {       \
    if (!o || v < 1024 || v > 65536) return SMTP_ERR_INVALID_ARGUMENT;         \
    o->name = v;                                                               \
    return SMTP_OK;                                                            \
  }
OPT_BUFFER(input_buffer)
OPT_BUFFER(output_buffer)
OPT_RANGE(max_recipients, max_rcpt, unsigned int, 1u, 100000u)
#define OPT_MAX(name, field, hi)                                               \
  int smtp_server_options_set_##name(smtp_server_options *o, unsigned int v) { \
    if (!o || v > (hi)) return SMTP_ERR_INVALID_ARGUMENT;                      \
    o->p.field = v;                                                            \
    return SMTP_OK;                                                            \
  }
OPT_MAX(max_transactions, max_transactions, 1000000000u)
OPT_MAX(max_errors, max_errors, 1000000000u)
OPT_MAX(max_auth_failures, max_auth_failures, 1000000000u)
OPT_BOOL(lmtp, lmtp)
OPT_BOOL(tls_available, tls_available)
OPT_BOOL(allow_plaintext_auth, allow_plaintext_auth)
OPT_BOOL(require_tls, require_tls)
OPT_BOOL(require_auth, require_auth)
OPT_BOOL(bare_line_end, bare_policy)
OPT_BOOL(reject_nul, reject_nul)
OPT_BOOL(reject_long_lines, reject_long_lines)
OPT_BOOL(authzid_policy, authzid_policy)
OPT_BOOL(lenient_space_after_colon, lenient_colon)

int smtp_server_options_set_xclient(smtp_server_options *o, unsigned int which) {
  if (!o || (which & ~(SMTP_XCLIENT | SMTP_XFORWARD))) return SMTP_ERR_INVALID_ARGUMENT;
  o->p.xclient = (unsigned char)which;
  return SMTP_OK;
}
OPT_RANGE(command_timeout, command_timeout, int, 1, 86400000)
OPT_RANGE(data_timeout, data_timeout, int, 1, 86400000)
OPT_RANGE(data_end_timeout, data_end_timeout, int, 1, 86400000)
OPT_RANGE(data_total_timeout, data_total_timeout, int, 1, 86400000)

int smtp_server_options_set_max_message_size(smtp_server_options *o, uint64_t n) {
  if (!o) return SMTP_ERR_INVALID_ARGUMENT;
  o->p.max_size = n;
  return SMTP_OK;
}

int smtp_server_options_set_extensions(smtp_server_options *o, unsigned int flags) {
  const unsigned int ok = SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
                          SMTP_EXT_BINARYMIME | SMTP_EXT_CHUNKING | SMTP_EXT_SMTPUTF8 |
                          SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_DSN | SMTP_EXT_REQUIRETLS |
                          SMTP_EXT_LIMITS | SMTP_EXT_VRFY | SMTP_EXT_EXPN | SMTP_EXT_HELP |
                          SMTP_EXT_STARTTLS | SMTP_EXT_AUTH | SMTP_EXT_MT_PRIORITY |
                          SMTP_EXT_DELIVERBY | SMTP_EXT_FUTURERELEASE | SMTP_EXT_RRVS |
                          SMTP_EXT_NO_SOLICITING | SMTP_EXT_MTRK | SMTP_EXT_SUBMITTER |
                          SMTP_EXT_ETRN | SMTP_EXT_BURL;
  if (!o || (flags & ~ok)) return SMTP_ERR_INVALID_ARGUMENT;
  o->p.extensions = flags & ~(unsigned)(SMTP_EXT_STARTTLS | SMTP_EXT_AUTH);
  return SMTP_OK;
}

/* Remove the extra EHLO line whose keyword is @p kw (kwlen octets). */
static void ehlo_extra_remove(smtp_server_options *o, const char *kw, size_t kwlen) {
  size_t i = 0;
  while (i < o->ehlo_extra_len) {
    char *l = o->ehlo_extra + i;
    size_t n = strlen(l), k = 0;
    while (k < n && l[k] != ' ') k++;
    if (smtp__casecmp(l, k, kw, kwlen) == 0) {
      memmove(l, l + n + 1, o->ehlo_extra_len - i - n - 1);
      o->ehlo_extra_len -= n + 1;
      continue;
    }
    i += n + 1;
  }
}

static size_t ehlo_extra_count(const smtp_server_options *o) {
  size_t i = 0, k = 0;
  while (i < o->ehlo_extra_len) {
    i += strlen(o->ehlo_extra + i) + 1;
    k++;
  }
  return k;
}

static int ehlo_extra_append(smtp_server_options *o, const char *a, size_t an, const char *b,
                             size_t bn) {
  size_t need = an + (bn ? bn + 1 : 0) + 1;
  if (need > sizeof o->ehlo_extra - o->ehlo_extra_len || ehlo_extra_count(o) >= SRV_EHLO_LINES)
    return SMTP_ERR_INVALID_ARGUMENT;
  memcpy(o->ehlo_extra + o->ehlo_extra_len, a, an);
  if (bn) {
    o->ehlo_extra[o->ehlo_extra_len + an] = ' ';
    memcpy(o->ehlo_extra + o->ehlo_extra_len + an + 1, b, bn);
  }
  o->ehlo_extra[o->ehlo_extra_len + need - 1] = '\0';
  o->ehlo_extra_len += need;
  return SMTP_OK;
}

int smtp_server_options_set_ext_params(smtp_server_options *o, unsigned int ext,
                                       const char *params) {
  const char *kw;
  size_t n = params ? strlen(params) : 0;
  int r;
  if (!o) return SMTP_ERR_INVALID_ARGUMENT;
  switch (ext) {
  case SMTP_EXT_MT_PRIORITY: kw = "MT-PRIORITY"; break;
  case SMTP_EXT_DELIVERBY: kw = "DELIVERBY"; break;
  case SMTP_EXT_FUTURERELEASE: kw = "FUTURERELEASE"; break;
  case SMTP_EXT_NO_SOLICITING: kw = "NO-SOLICITING"; break;
  case SMTP_EXT_BURL: kw = "BURL"; break;
  default: return SMTP_ERR_INVALID_ARGUMENT;
  }
  if (smtp__ehlo_params_check(ext, params, n) != 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (ext == SMTP_EXT_FUTURERELEASE && n == 0) return SMTP_ERR_INVALID_ARGUMENT;
  ehlo_extra_remove(o, kw, strlen(kw));
  o->ext_with_params &= ~ext;
  if (n == 0) return SMTP_OK; /* the bare keyword, from the flags */
  r = ehlo_extra_append(o, kw, strlen(kw), params, n);
  if (r == SMTP_OK) o->ext_with_params |= ext;
  return r;
}

int smtp_server_options_add_ehlo_keyword(smtp_server_options *o, const char *line) {
  size_t n, k = 0, i;
  const smtp_ext_info *e;
  if (!o || !line) return SMTP_ERR_INVALID_ARGUMENT;
  n = strlen(line);
  if (n == 0 || n > 500) return SMTP_ERR_INVALID_ARGUMENT;
  /* RFC 5321 4.1.1.1: ehlo-keyword *(SP ehlo-param); one SP between. */
  if (!smtp__is_alpha((unsigned char)line[0]) && !smtp__is_digit((unsigned char)line[0]))
    return SMTP_ERR_INVALID_ARGUMENT;
  while (k < n && (smtp__is_alpha((unsigned char)line[k]) ||
                   smtp__is_digit((unsigned char)line[k]) || line[k] == '-'))
    k++;
  for (i = k; i < n; i++) {
    unsigned char c = (unsigned char)line[i];
    if (c == ' ') {
      if (i + 1 == n || line[i + 1] == ' ') return SMTP_ERR_INVALID_ARGUMENT;
    } else if (i == k || c < 33 || c > 126) {
      return SMTP_ERR_INVALID_ARGUMENT;
    }
  }
  e = smtp_ext_lookup(line, k);
  if (e && e->flag) return SMTP_ERR_INVALID_ARGUMENT; /* one libsmtp implements */
  {
    size_t j = 0;
    while (j < o->ehlo_extra_len) {
      const char *l = o->ehlo_extra + j;
      size_t ln = strlen(l), lk = 0;
      while (lk < ln && l[lk] != ' ') lk++;
      if (smtp__casecmp(l, lk, line, k) == 0) return SMTP_ERR_INVALID_ARGUMENT;
      j += ln + 1;
    }
  }
  return ehlo_extra_append(o, line, n, NULL, 0);
}

int smtp_server_options_set_auth_mechs(smtp_server_options *o, unsigned int mechs) {
  const unsigned int all = SMTP_SASL_PLAIN | SMTP_SASL_LOGIN | SMTP_SASL_CRAM_MD5 |
                           SMTP_SASL_XOAUTH2 | SMTP_SASL_OAUTHBEARER | SMTP_SASL_SCRAM_SHA_1 |
                           SMTP_SASL_SCRAM_SHA_256 | SMTP_SASL_EXTERNAL |
                           SMTP_SASL_SCRAM_SHA_512 | SMTP_SASL_SCRAM_SHA_1_PLUS |
                           SMTP_SASL_SCRAM_SHA_256_PLUS | SMTP_SASL_SCRAM_SHA_512_PLUS;
  if (!o || (mechs & ~all)) return SMTP_ERR_INVALID_ARGUMENT;
  o->p.auth_mechs = mechs;
  /* EXTERNAL needs no callback: enabling it here sets AUTH up */
  o->auth_run = (mechs & SMTP_SASL_EXTERNAL) ? &smtp__srv_auth_impl : NULL;
  return SMTP_OK;
}

/* ------------------------------------------------------------------------ */
/* Public API: the session.                                                  */

/* The longest EHLO reply (RFC 5321 4.1.1.1) this session may send in any
 * state: every extension it can offer at once (STARTTLS and REQUIRETLS
 * never go together, so this is an upper bound). */
static size_t ehlo_reply_bound(const struct srv_params *o, const char *host,
                               const struct srv_callbacks *cb, int builtin_cb,
                               const char *extra, size_t extra_len, unsigned int with_params) {
  char tmp[1024 + SMTP_SERVER_EHLO_EXTRA_MAX + 4 * SRV_EHLO_LINES];
  smtp_ehlo_config cfg;
  smtp_ssize n;
  const char *lines[SRV_EHLO_LINES];
  memset(&cfg, 0, sizeof cfg);
  cfg.version = SMTP_EHLO_CONFIG_VERSION;
  cfg.flags = o->extensions & ~(unsigned)(SMTP_EXT_STARTTLS | SMTP_EXT_AUTH);
  if (o->tls_available) cfg.flags |= SMTP_EXT_STARTTLS;
  if ((cb->auth || cb->auth_step || builtin_cb || (o->auth_mechs & SMTP_SASL_EXTERNAL)) &&
      o->auth_mechs) {
    cfg.flags |= SMTP_EXT_AUTH;
    cfg.auth_mechs = o->auth_mechs;
  }
  cfg.size_max = o->max_size;
  cfg.limits_rcptmax = limits_value(o->max_rcpt);
  cfg.limits_mailmax = limits_value(o->max_transactions);
  cfg.flags &= ~(unsigned)SMTP_EXT_FUTURERELEASE; /* only as an extra line */
  ehlo_extra_fill(extra, extra_len, with_params, cfg.flags | with_params, &cfg, lines);
  n = smtp_ehlo_reply_build(tmp, sizeof tmp, host, NULL, &cfg);
  /* and the XCLIENT/XFORWARD lines a trusted client gets */
  return (n > 0 ? (size_t)n : sizeof tmp) + x_keywords_len(o->xclient);
}

int smtp_server_session_new(smtp_server_session **out, const smtp_server_callbacks *callbacks,
                            void *user_data, const smtp_server_options *options,
                            const smtp_mem *mem) {
  struct srv_params opt;
  struct srv_callbacks cbs;
  const char *host = default_hostname;
  const char *extra = NULL;
  size_t extra_len = 0;
  unsigned int with_params = 0;
  smtp_server_session *s;
  size_t mail_extra = 0, rcpt_extra = 0, mail_line, rcpt_line, in_cap, out_cap, host_len;
  size_t user_cap, total;
  int with_auth, builtin_cb;
  char *base;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  if (options) {
    opt = options->p;
    host = options->hostname;
    extra = options->ehlo_extra;
    extra_len = options->ehlo_extra_len;
    with_params = options->ext_with_params;
  } else {
    params_defaults(&opt);
  }
  if (callbacks) cbs = callbacks->f;
  else memset(&cbs, 0, sizeof cbs);
  host_len = strlen(host);
  builtin_cb = callbacks && smtp__srv_sasl_configured(callbacks);
  with_auth = cbs.auth || cbs.auth_step || builtin_cb || (opt.auth_mechs & SMTP_SASL_EXTERNAL);
  /* Extra MAIL/RCPT line room per extension ("Message Length Added"):
   * RFC 1870 (26), RFC 3030 (16), RFC 3461 5.4 (ENVID 100 + RET 8 with
   * keywords; ORCPT/NOTIFY 530), RFC 4954 5 (500), RFC 6531 3.4 (10),
   * RFC 8689 (11). */
  mail_extra = smtp__param_budget(SMTP_VERB_MAIL, opt.extensions);
  rcpt_extra = smtp__param_budget(SMTP_VERB_RCPT, opt.extensions);
  if (with_auth) mail_extra += smtp__param_table[SMTP__P_AUTH].budget;
  mail_line = opt.max_command_line + mail_extra;
  rcpt_line = opt.max_command_line + rcpt_extra;
  /* Input: the configured size (it bounds SASL lines, RFC 4954 4), raised
   * to the longest MAIL/RCPT line; with parameters that are decoded (ENVID,
   * AUTH=, ORCPT), also room for their decoded values after a line held in
   * the buffer: less than the line itself for MAIL, 500 octets for ORCPT
   * (RFC 3461 4.2; a longer value is refused anyway). */
  in_cap = options ? options->input_buffer : SRV_INPUT_DEFAULT;
  if (in_cap < mail_line) in_cap = mail_line;
  if (in_cap < rcpt_line) in_cap = rcpt_line;
  if (((opt.extensions & (SMTP_EXT_DSN | SMTP_EXT_SUBMITTER)) || with_auth) &&
      in_cap < 2 * mail_line)
    in_cap = 2 * mail_line;
  if ((opt.extensions & SMTP_EXT_DSN) && in_cap < rcpt_line + 501) in_cap = rcpt_line + 501;
  /* Output: any reply may take half of it (the backpressure threshold);
   * raised so that half holds the session's longest EHLO reply, also when
   * the application accepts the EHLO with smtp_server_session_reply()
   * (which keeps srv_close_reserve() octets of that half for a closing 421). */
  out_cap = options ? options->output_buffer : SRV_OUTPUT_DEFAULT;
  {
    size_t ehlo = ehlo_reply_bound(&opt, host, &cbs, builtin_cb, extra, extra_len, with_params) +
                  srv_close_reserve(host_len);
    if (out_cap < 2 * ehlo) out_cap = 2 * ehlo;
  }
  user_cap = with_auth ? SRV_NAME_MAX + 1 : 0;
  total = sizeof *s + in_cap + out_cap + host_len + 1 + user_cap + extra_len;
  base = smtp__malloc(mem, total);
  if (!base) return SMTP_ERR_NOMEM;
  s = (smtp_server_session *)(void *)base;
  memset(s, 0, sizeof *s);
  s->mem = *mem;
  s->cb = cbs;
  s->auth_run = callbacks && callbacks->auth_run ? callbacks->auth_run
                : options                       ? options->auth_run
                                                : NULL;
  s->opt = opt;
  s->user_data = user_data;
  s->in = base + sizeof *s;
  s->in_cap = in_cap;
  s->out = s->in + in_cap;
  s->out_cap = out_cap;
  s->reply_max = out_cap / 2;
  memcpy(s->out + out_cap, host, host_len + 1);
  s->hostname = s->out + out_cap;
  s->hostname_len = host_len;
  if (with_auth) {
    s->user = s->out + out_cap + host_len + 1;
    s->user[0] = '\0';
  }
  if (extra_len) {
    char *x = s->out + out_cap + host_len + 1 + user_cap;
    memcpy(x, extra, extra_len);
    s->ehlo_extra = x;
    s->ehlo_extra_len = extra_len;
    s->ext_with_params = with_params;
  }
  s->mail_line_max = mail_line;
  s->rcpt_line_max = rcpt_line;
  s->mode = SRV_M_LINE;
  if (smtp__srv_sasl_init(s, callbacks, options) != SMTP_OK) {
    smtp__free(mem, s);
    return SMTP_ERR_NOMEM;
  }
  *out = s;
  return SMTP_OK;
}

void smtp_server_session_del(smtp_server_session *s) {
  smtp_mem m;
  if (!s) return;
  m = s->mem;
  smtp__srv_sasl_free(s);
  smtp__srv_x_free(s);
  smtp__free(&m, s->tn);
  smtp__free(&m, s);
}

smtp_ssize smtp_server_session_mem_recv(smtp_server_session *s, const char *data, size_t len) {
  size_t off = 0;
  if (!s || (!data && len) || s->in_any_cb) return SMTP_ERR_INVALID_ARGUMENT;
  if (s->fatal) return s->fatal;
  s->paused = 0;
  start(s);
  progress(s);
  if (s->fatal) return s->fatal;
  if (s->starttls_pending) return (smtp_ssize)len; /* RFC 3207 5: discard */
  if (s->closed) return len ? SMTP_ERR_CLOSED : 0;
  s->data_block = 0;
  while (off < len && !blocked(s)) {
    size_t n;
    switch (s->mode) {
    case SRV_M_DISCARD: n = step_discard(s, data + off, len - off); break;
    case SRV_M_DATA: n = step_data(s, data + off, len - off); break;
    case SRV_M_BDAT: n = step_bdat(s, data + off, len - off); break;
    default: n = step_line(s, data + off, len - off); break;
    }
    off += n;
    if (s->eod) progress(s);
    if (n == 0) break; /* cannot happen; never spin */
  }
  if (s->data_block) s->seq++; /* RFC 5321 4.5.3.2.5: per data block */
  if (s->fatal) return s->fatal;
  /* docs/security.md 2: whatever followed STARTTLS in this buffer is dropped. */
  if (s->starttls_pending) off = len;
  return (smtp_ssize)off;
}

smtp_ssize smtp_server_session_mem_send(smtp_server_session *s, const char **data) {
  if (!s || !data) return SMTP_ERR_INVALID_ARGUMENT;
  *data = s->out + s->out_start;
  if (s->fatal && out_pending(s) == 0) return s->fatal;
  if (!s->in_any_cb) {
    s->paused = 0;
    start(s);
    progress(s);
  }
  *data = s->out + s->out_start;
  return (smtp_ssize)out_pending(s);
}

int smtp_server_session_mem_consume(smtp_server_session *s, size_t n) {
  if (!s || n > out_pending(s)) return SMTP_ERR_INVALID_ARGUMENT;
  s->out_start += n;
  if (s->out_start == s->out_end) s->out_start = s->out_end = 0;
  if (!s->in_any_cb) {
    s->paused = 0;
    progress(s);
  }
  return s->fatal ? s->fatal : SMTP_OK;
}

int smtp_server_session_want_read(const smtp_server_session *s) {
  if (!s || s->closed || s->fatal || s->deferred || s->eod || s->starttls_pending) return 0;
  if (s->state == SRV_ST_START) return 1;
  return s->mode == SRV_M_DATA || s->mode == SRV_M_BDAT || !out_full(s);
}

int smtp_server_session_want_write(const smtp_server_session *s) {
  if (!s) return 0;
  return out_pending(s) > 0 || (s->state == SRV_ST_START && !s->fatal);
}

int smtp_server_session_want_tls(const smtp_server_session *s) {
  return s && s->starttls_pending && !s->fatal && out_pending(s) == 0;
}

int smtp_server_session_is_closed(const smtp_server_session *s) {
  return !s || s->closed || s->fatal;
}

int smtp_server_session_want_close(const smtp_server_session *s) {
  return !s || ((s->closed || s->fatal) && out_pending(s) == 0);
}

static void copy_str(char *dst, const char *src) {
  size_t i = 0;
  if (src) {
    /* SNI and the like are untrusted bytes (docs/security.md 2): keep printable ASCII. */
    for (; src[i] && i < SRV_TLS_STR - 1; i++) {
      unsigned char c = (unsigned char)src[i];
      dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
  }
  dst[i] = '\0';
}

int smtp_server_session_tls_started(smtp_server_session *s, const smtp_tls_info *info) {
  if (!s || !info) return SMTP_ERR_INVALID_ARGUMENT;
  if (s->fatal || s->closed) return SMTP_ERR_INVALID_STATE;
  if (!(s->starttls_pending && out_pending(s) == 0) && s->state != SRV_ST_START)
    return SMTP_ERR_INVALID_STATE;
  if (s->tls) return SMTP_ERR_INVALID_STATE;
  if (!s->tn) {
    s->tn = smtp__malloc(&s->mem, sizeof *s->tn);
    if (!s->tn) return SMTP_ERR_NOMEM;
  }
  /* RFC 3207 4.2: forget everything learnt before the handshake. */
  reset_session(s);
  s->starttls_pending = 0;
  s->in_len = 0;
  s->mode = SRV_M_LINE;
  s->tls = 1;
  copy_str(s->tn->protocol, info->protocol);
  copy_str(s->tn->cipher, info->cipher);
  copy_str(s->tn->sni, info->sni);
  s->tls_verified = info->peer_verified ? 1 : 0;
  s->tls_has_cert = info->has_peer_cert ? 1 : 0;
  s->seq++;
  return SMTP_OK;
}

int smtp_server_session_timeout_ms(const smtp_server_session *s) {
  if (!s || s->closed || s->fatal) return -1;
  if (s->deferred && s->op == SRV_OP_DATA_END) return s->opt.data_end_timeout;
  if (s->eod) return s->opt.data_end_timeout;
  if (s->mode == SRV_M_DATA || s->mode == SRV_M_BDAT) return s->opt.data_timeout;
  return s->opt.command_timeout;
}

unsigned int smtp_server_session_deadline_seq(const smtp_server_session *s) {
  return s ? s->seq : 0;
}

int smtp_server_session_total_timeout_ms(const smtp_server_session *s) {
  if (!s || s->closed || s->fatal || s->eod) return -1;
  if (s->mode == SRV_M_DATA || s->mode == SRV_M_BDAT) return s->opt.data_total_timeout;
  return -1;
}

unsigned int smtp_server_session_total_seq(const smtp_server_session *s) {
  return s ? s->total_seq : 0;
}

static int close_with(smtp_server_session *s, int id) {
  if (!s) return SMTP_ERR_INVALID_ARGUMENT;
  if (s->closed || s->fatal) return SMTP_ERR_CLOSED;
  if (s->state == SRV_ST_START) s->state = SRV_ST_GREETED;
  s->deferred = 0;
  s->op = SRV_OP_NONE;
  s->eod = 0;
  s->starttls_pending = 0;
  close_421(s, id);
  s->closed = 1;
  return SMTP_OK;
}

int smtp_server_session_timeout(smtp_server_session *s) { return close_with(s, SMTP_STATUS_TIMEOUT); }

int smtp_server_session_shutdown(smtp_server_session *s) { return close_with(s, SMTP_STATUS_SHUTDOWN); }

/* The default reply of an event, to borrow its text and enhanced code. */
static int default_status(int op, int code) {
  int ok = code / 100 == 2;
  switch (op) {
  case SRV_OP_GREETING: return ok ? SMTP_STATUS_GREETING : SMTP_STATUS_GREETING_REFUSED;
  case SRV_OP_HELO: return SMTP_STATUS_HELO_OK;
  case SRV_OP_MAIL: return SMTP_STATUS_MAIL_OK;
  case SRV_OP_RCPT: return ok ? SMTP_STATUS_RCPT_OK : code == 450 ? SMTP_STATUS_MAILBOX_TEMPFAIL
                                                                   : SMTP_STATUS_MAILBOX_UNKNOWN;
  case SRV_OP_DATA: return SMTP_STATUS_DATA_START;
  case SRV_OP_DATA_END: return ok ? SMTP_STATUS_DATA_OK : SMTP_STATUS_DATA_REFUSED;
  case SRV_OP_BDAT_CHUNK: return ok ? SMTP_STATUS_NOOP_OK : SMTP_STATUS_DATA_REFUSED;
  case SRV_OP_RSET: return SMTP_STATUS_RSET_OK;
  case SRV_OP_VRFY: return SMTP_STATUS_VRFY_CANNOT;
  case SRV_OP_EXPN: return SMTP_STATUS_EXPN_REFUSED;
  case SRV_OP_HELP: return SMTP_STATUS_HELP;
  case SRV_OP_NOOP: return SMTP_STATUS_NOOP_OK;
  case SRV_OP_QUIT: return SMTP_STATUS_QUIT;
  case SRV_OP_STARTTLS: return ok ? SMTP_STATUS_STARTTLS_GO : SMTP_STATUS_TLS_NOT_AVAILABLE;
  case SRV_OP_AUTH: return ok ? SMTP_STATUS_AUTH_OK : code == 454 ? SMTP_STATUS_AUTH_TEMP
                                                                  : SMTP_STATUS_AUTH_FAILED;
  default: return SMTP_STATUS_SYNTAX_ERROR;
  }
}

static const char *default_text(int code) {
  switch (code / 100) {
  case 2: return "OK";
  case 3: return "Go ahead";
  case 4: return "Try again later";
  default: return "Refused";
  }
}

/* Which answers each event takes. */
static int code_ok_for_op(int op, int code) {
  int cls = code / 100;
  if (code < 200 || code > 559 || (code / 10) % 10 > 5) return 0;
  if (code == 334) return 0;
  switch (op) {
  case SRV_OP_DATA: return code == 354 || cls == 4 || cls == 5;
  case SRV_OP_BDAT: return cls != 3 || code == 354;
  case SRV_OP_AUTH: return code == 235 || cls == 4 || cls == 5;
  default: return cls != 3;
  }
}

/* Whether an answer may be given now: inside the event's callback (once),
 * or after it deferred (from outside any callback). */
int smtp__srv_answer_begin(smtp_server_session *s) {
  if (!s) return SMTP_ERR_INVALID_ARGUMENT;
  if (s->fatal) return s->fatal;
  if (s->closed && !s->in_cb) return SMTP_ERR_CLOSED;
  if (!((s->in_cb && !s->answered) || (s->deferred && !s->in_any_cb))) return SMTP_ERR_INVALID_STATE;
  return SMTP_OK;
}

int smtp__srv_answer_end(smtp_server_session *s) {
  if (s->in_cb) {
    s->answered = 1;
    return SMTP_OK;
  }
  s->deferred = 0;
  progress(s);
  return s->fatal ? s->fatal : SMTP_OK;
}

void smtp__srv_apply(smtp_server_session *s, int code) { apply(s, code); }

int smtp_server_session_ehlo_hide(smtp_server_session *s, unsigned int ext) {
  int r;
  if (!s || ext >= (SMTP_EXT_BURL << 1)) return SMTP_ERR_INVALID_ARGUMENT;
  if ((r = smtp__srv_answer_begin(s)) != SMTP_OK) return r;
  if (s->op != SRV_OP_HELO) return SMTP_ERR_INVALID_STATE;
  s->p_flags |= ext;
  return SMTP_OK;
}

char *smtp__srv_out_reserve(smtp_server_session *s, size_t need) {
  out_compact(s);
  if (need > s->reply_max || s->out_cap - s->out_end < need) return NULL;
  return s->out + s->out_end;
}

void smtp__srv_out_commit(smtp_server_session *s, size_t n) {
  trace_out(s, s->out + s->out_end, n);
  s->out_end += n;
}

int smtp_server_session_reply(smtp_server_session *s, int code, const char *enhanced,
                              const char *text) {
  smtp_enhanced_code e, *pe = NULL;
  int r = smtp__srv_answer_begin(s);
  if (r != SMTP_OK) return r;
  if (s->op == SRV_OP_AUTH && code == 235 && s->auth_builtin == 0)
    return SMTP_ERR_INVALID_ARGUMENT; /* use smtp_server_session_auth_accept() */
  if (!code_ok_for_op(s->op, code)) return SMTP_ERR_INVALID_ARGUMENT;
  if (s->in_param_cb && code / 100 != 4 && code / 100 != 5) return SMTP_ERR_INVALID_ARGUMENT;
  if (enhanced) {
    size_t used = 0;
    if (smtp_enhanced_code_parse(enhanced, strlen(enhanced), &e, &used) != SMTP_OK ||
        used != strlen(enhanced) || e.cls != code / 100)
      return SMTP_ERR_INVALID_ARGUMENT;
    pe = &e;
  }
  if (!text || !pe) {
    /* Defaults: the event's own reply when the code matches, else generic. */
    const smtp_status *st = smtp_status_default(default_status(s->op, code));
    if (!text) text = st->code == code ? st->text : default_text(code);
    if (!pe && st->code == code && st->enhanced.cls) {
      e = st->enhanced;
      pe = &e;
    }
  }
  {
    /* Room for the reply and a closing 421 (too many errors). */
    size_t reserve = srv_close_reserve(s->hostname_len);
    size_t max = s->reply_max > reserve ? s->reply_max - reserve : s->reply_max;
    size_t save = s->reply_max;
    s->reply_max = max;
    r = smtp__srv_finish(s, code, pe, text, strlen(text));
    s->reply_max = save;
  }
  if (r != SMTP_OK) return r;
  return smtp__srv_answer_end(s);
}

/* ------------------------------------------------------------------------ */
/* Accessors.                                                                */

unsigned int smtp_server_session_flags(const smtp_server_session *s) {
  unsigned int f = 0;
  if (!s) return 0;
  if (s->helo_verb) f |= SMTP_SERVER_FLAG_HELO;
  if (s->helo_verb == SMTP_VERB_EHLO || s->helo_verb == SMTP_VERB_LHLO) f |= SMTP_SERVER_FLAG_EHLO;
  if (s->tls) f |= SMTP_SERVER_FLAG_TLS;
  if (s->authed) f |= SMTP_SERVER_FLAG_AUTH;
  if (s->opt.lmtp) f |= SMTP_SERVER_FLAG_LMTP;
  if (s->state == SRV_ST_MAIL) f |= SMTP_SERVER_FLAG_MAIL | s->tflags;
  /* During the first BDAT's data_start the flag is not yet committed. */
  if (s->op == SRV_OP_BDAT) f |= SMTP_SERVER_FLAG_BDAT;
  return f;
}

void *smtp_server_session_user_data(const smtp_server_session *s) { return s ? s->user_data : NULL; }

const char *smtp_server_session_reverse_path(const smtp_server_session *s, size_t *len) {
  if (len) *len = 0;
  if (!s || s->state != SRV_ST_MAIL) return NULL;
  if (len) *len = s->rpath_len;
  return s->rpath;
}

unsigned int smtp_server_session_rcpt_count(const smtp_server_session *s) {
  return s ? s->rcpts : 0;
}

unsigned int smtp_server_session_transaction_count(const smtp_server_session *s) {
  return s ? s->transactions : 0;
}

const char *smtp_server_session_helo_name(const smtp_server_session *s, size_t *len) {
  const char *xh;
  if (len) *len = 0;
  if (s && smtp__srv_x_helo(s, &xh, len)) return xh; /* XFORWARD / XCLIENT HELO */
  if (!s || !s->helo_verb) return NULL;
  if (len) *len = s->helo_len;
  return s->helo_name;
}

const char *smtp_server_session_auth_user(const smtp_server_session *s, size_t *len) {
  const char *xl;
  if (len) *len = 0;
  if (!s || !s->authed) return NULL;
  if ((xl = smtp__srv_x_login(s, len)) != NULL) return xl; /* XCLIENT LOGIN */
  if (len) *len = s->user_len;
  return s->user;
}

int smtp_server_session_tls_info(const smtp_server_session *s, smtp_tls_info *out) {
  if (!s || !out) return SMTP_ERR_INVALID_ARGUMENT;
  if (!s->tls) return SMTP_ERR_INVALID_STATE;
  memset(out, 0, sizeof *out);
  out->protocol = s->tn->protocol;
  out->cipher = s->tn->cipher;
  out->sni = s->tn->sni;
  out->peer_verified = s->tls_verified;
  out->has_peer_cert = s->tls_has_cert;
  return SMTP_OK;
}

const char *smtp_server_session_received_protocol(const smtp_server_session *s) {
  /* RFC 3848 (ESMTP[S][A], LMTP[S][A]) and RFC 6531 3.7.3 (UTF8SMTP...). */
  static const char *const names[2][2][4] = {
      {{"ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA"}, {"LMTP", "LMTPA", "LMTPS", "LMTPSA"}},
      {{"UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA"},
       {"UTF8LMTP", "UTF8LMTPA", "UTF8LMTPS", "UTF8LMTPSA"}}};
  int utf8, lmtp, idx, xp;
  if (!s) return "SMTP";
  lmtp = s->opt.lmtp ? 1 : 0;
  utf8 = (s->state == SRV_ST_MAIL && (s->tflags & SMTP_SERVER_FLAG_SMTPUTF8)) ? 1 : 0;
  xp = lmtp ? 0 : smtp__srv_x_proto(s); /* XFORWARD / XCLIENT PROTO: the client's own */
  if (!utf8 && xp == 1) return "SMTP";
  if (!lmtp && !utf8 && xp != 2 && s->helo_verb == SMTP_VERB_HELO && !s->tls && !s->authed) return "SMTP";
  idx = (s->tls ? 2 : 0) + (s->authed ? 1 : 0);
  return names[utf8][lmtp][idx];
}

uint64_t smtp_server_session_message_size(const smtp_server_session *s) {
  return s ? s->msg_size : 0;
}

int smtp_server_session_set_addr(smtp_server_session *s, unsigned int which, const smtp_endpoint *ep) {
  if (!s) return SMTP_ERR_INVALID_ARGUMENT;
  return smtp__ep_set(s->addrs, 3, which, ep);
}

int smtp_server_session_addr(const smtp_server_session *s, unsigned int which, smtp_endpoint *out) {
  if (!s) return SMTP_ERR_INVALID_ARGUMENT;
  if (smtp__srv_x_addr(s, which, out)) return SMTP_OK; /* XFORWARD's client */
  return smtp__ep_get(s->addrs, 3, which, out);
}

int smtp_server_session_allow_xclient(smtp_server_session *s, unsigned int which) {
  if (!s || (which & ~(SMTP_XCLIENT | SMTP_XFORWARD))) return SMTP_ERR_INVALID_ARGUMENT;
  /* the attribute block, now rather than while serving (server_xclient.c) */
  if ((which & s->opt.xclient) && smtp__srv_x_prepare(s) != SMTP_OK) return SMTP_ERR_NOMEM;
  s->x_allowed = (unsigned char)which;
  return SMTP_OK;
}
