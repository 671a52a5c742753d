/* The hardening harness (tests/hardening_harness.h), compiled once into the
 * tests' support library. */
#include "hardening_harness.h"

char hh_ctx[512];

const char *hh_mode_name(int mode) {
  return mode == HH_WHOLE ? "whole" : mode == HH_BYTES ? "bytes" : "random";
}

uint32_t hh_rand(uint32_t *st) {
  uint32_t x = *st ? *st : 0x9e3779b9u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *st = x;
  return x;
}

size_t hh_below(uint32_t *st, size_t n) { return n ? hh_rand(st) % n : 0; }

size_t hh_chunk(int mode, uint32_t *st, size_t left) {
  size_t k;
  if (mode == HH_WHOLE) return left;
  if (mode == HH_BYTES) return left ? 1 : 0;
  k = (hh_rand(st) % 8 == 0) ? 1 + hh_below(st, 3000) : 1 + hh_below(st, 97);
  return k < left ? k : left;
}

void hh_buf_add(hh_buf *b, const void *d, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *np;
    while (cap < b->len + n + 1) cap *= 2;
    np = realloc(b->p, cap);
    assert_non_null(np);
    b->p = np;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, d, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void hh_buf_str(hh_buf *b, const char *s) { hh_buf_add(b, s, strlen(s)); }

void hh_buf_fmt(hh_buf *b, const char *fmt, ...) {
  char t[1024];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(t, sizeof t, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  hh_buf_add(b, t, (size_t)n < sizeof t ? (size_t)n : sizeof t - 1);
}

void hh_buf_free(hh_buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

const char *hh_buf_cstr(const hh_buf *b) { return b->p ? b->p : ""; }

void hh_buf_escaped(hh_buf *b, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    char t[8];
    if (c == '\r') hh_buf_str(b, "\\r");
    else if (c == '\n') hh_buf_str(b, "\\n");
    else if (c == 0) hh_buf_str(b, "\\0");
    else if (c == '\t') hh_buf_str(b, "\\t");
    else if (c == '\\') hh_buf_str(b, "\\\\");
    else if (c < 0x20 || c >= 0x7f) {
      snprintf(t, sizeof t, "\\x%02x", c);
      hh_buf_str(b, t);
    } else hh_buf_add(b, &p[i], 1);
  }
}

size_t hh_count(const char *hay, size_t n, const char *needle, size_t m) {
  size_t c = 0;
  if (m == 0 || n < m) return 0;
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp(hay + i, needle, m) == 0) c++;
  return c;
}

const char *hh_find(const char *hay, size_t n, const char *needle, size_t m) {
  if (m == 0 || n < m) return NULL;
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp(hay + i, needle, m) == 0) return hay + i;
  return NULL;
}

int hh_mem_fail(hh_mem *m) {
  m->count++;
  if (m->fail_at && (m->count == m->fail_at || (m->fail_all && m->count > m->fail_at))) {
    m->failed++;
    return 1;
  }
  return 0;
}

void *hh_mem_track(hh_mem *m, char *raw, size_t n) {
  if (!raw) return NULL;
  memcpy(raw, &n, sizeof n);
  m->live++;
  m->bytes += n;
  if (m->bytes > m->peak) m->peak = m->bytes;
  return raw + HH_HDR;
}

void *hh_malloc(size_t n, void *ud) {
  hh_mem *m = ud;
  if (hh_mem_fail(m)) return NULL;
  return hh_mem_track(m, malloc(n + HH_HDR), n);
}

void *hh_calloc(size_t k, size_t n, void *ud) {
  hh_mem *m = ud;
  if (n && k > (size_t)-1 / n) return NULL;
  if (hh_mem_fail(m)) return NULL;
  return hh_mem_track(m, calloc(1, k * n + HH_HDR), k * n);
}

void hh_free(void *p, void *ud) {
  hh_mem *m = ud;
  size_t n;
  char *raw;
  if (!p) return;
  raw = (char *)p - HH_HDR;
  memcpy(&n, raw, sizeof n);
  m->live--;
  m->bytes -= n;
  free(raw);
}

void *hh_realloc(void *p, size_t n, void *ud) {
  hh_mem *m = ud;
  char *raw, *nr;
  size_t old;
  if (!p) return hh_malloc(n, ud);
  if (hh_mem_fail(m)) return NULL;
  raw = (char *)p - HH_HDR;
  memcpy(&old, raw, sizeof old);
  nr = realloc(raw, n + HH_HDR);
  if (!nr) return NULL;
  memcpy(nr, &n, sizeof n);
  m->bytes = m->bytes - old + n;
  if (m->bytes > m->peak) m->peak = m->bytes;
  return nr + HH_HDR;
}

void hh_mem_init(hh_mem *m, size_t fail_at) {
  memset(m, 0, sizeof *m);
  m->mem.user_data = m;
  m->mem.malloc = hh_malloc;
  m->mem.calloc = hh_calloc;
  m->mem.realloc = hh_realloc;
  m->mem.free = hh_free;
  m->fail_at = fail_at;
}

hh_srv_txn *hh_srv_cur(hh_srv *h) {
  return h->ntxn > 0 ? &h->txn[h->ntxn - 1] : NULL;
}

void hh_log_span(hh_buf *b, const char *p, size_t n) { hh_buf_escaped(b, p, n); }

int hh_s_connect(smtp_server_session *s, void *ud) {
  (void)s;
  hh_buf_str(&((hh_srv *)ud)->log, "connect\n");
  return 0;
}

int hh_s_ehlo(smtp_server_session *s, const smtp_server_helo *h, void *ud) {
  hh_srv *x = ud;
  (void)s;
  hh_buf_str(&x->log, h->verb == SMTP_VERB_HELO ? "helo " : h->verb == SMTP_VERB_EHLO ? "ehlo " : "lhlo ");
  hh_log_span(&x->log, h->name.ptr, h->name.len);
  hh_buf_str(&x->log, "\n");
  return 0;
}

int hh_s_mail(smtp_server_session *s, const smtp_server_mail *m, void *ud) {
  hh_srv *x = ud;
  hh_srv_txn *t;
  (void)s;
  x->n_mail++;
  hh_buf_str(&x->log, "mail <");
  hh_log_span(&x->log, m->path->address.ptr, m->path->address.len);
  hh_buf_str(&x->log, ">");
  if (m->has_envid) {
    hh_buf_str(&x->log, " envid=");
    hh_log_span(&x->log, m->envid.ptr, m->envid.len);
  }
  if (m->has_auth) {
    hh_buf_str(&x->log, " auth=");
    hh_log_span(&x->log, m->auth.ptr, m->auth.len);
  }
  hh_buf_str(&x->log, "\n");
  if (x->ntxn >= HH_MAX_TXN) return 0;
  t = &x->txn[x->ntxn++];
  hh_buf_add(&t->from, m->path->address.ptr, m->path->address.len);
  if (m->has_envid) hh_buf_add(&t->envid, m->envid.ptr, m->envid.len);
  t->has_envid = m->has_envid;
  t->has_size = m->has_size;
  t->mail_size = m->size;
  t->body_param = m->body;
  t->utf8 = m->smtputf8;
  t->ret = m->ret;
  hh_buf_fmt(&t->mailinfo, "size=%llu body=%d utf8=%d ret=%d",
             m->has_size ? (unsigned long long)m->size : 0ull, m->body, m->smtputf8, m->ret);
  if (m->has_envid) {
    hh_buf_str(&t->mailinfo, " envid=");
    hh_log_span(&t->mailinfo, m->envid.ptr, m->envid.len);
  }
  return 0;
}

int hh_s_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud) {
  hh_srv *x = ud;
  hh_srv_txn *t = hh_srv_cur(x);
  (void)s;
  x->n_rcpt++;
  hh_buf_str(&x->log, "rcpt <");
  hh_log_span(&x->log, r->path->address.ptr, r->path->address.len);
  hh_buf_str(&x->log, ">");
  if (r->has_orcpt) {
    hh_buf_str(&x->log, " orcpt=");
    hh_log_span(&x->log, r->orcpt.ptr, r->orcpt.len);
  }
  hh_buf_str(&x->log, "\n");
  if (t) {
    if (r->path->is_postmaster) hh_buf_str(&t->rcpts, "Postmaster");
    else hh_log_span(&t->rcpts, r->path->address.ptr, r->path->address.len);
    hh_buf_fmt(&t->rcpts, "|%u|", r->notify);
    if (r->has_orcpt) {
      hh_log_span(&t->rcpts, r->orcpt_type.ptr, r->orcpt_type.len);
      hh_buf_str(&t->rcpts, ";");
      hh_log_span(&t->rcpts, r->orcpt.ptr, r->orcpt.len);
    }
    hh_buf_str(&t->rcpts, "\n");
  }
  return 0;
}

int hh_s_data_start(smtp_server_session *s, void *ud) {
  hh_srv *x = ud;
  hh_buf_str(&x->log, (smtp_server_session_flags(s) & SMTP_SERVER_FLAG_BDAT) ? "bdat_start\n"
                                                                             : "data_start\n");
  return 0;
}

int hh_s_chunk(smtp_server_session *s, const char *d, size_t n, void *ud) {
  hh_srv *x = ud;
  hh_srv_txn *t = hh_srv_cur(x);
  (void)s;
  if (t) hh_buf_add(&t->data, d, n);
  return 0;
}

int hh_s_data_end(smtp_server_session *s, const smtp_server_data_end *e, void *ud) {
  hh_srv *x = ud;
  hh_srv_txn *t = hh_srv_cur(x);
  (void)s;
  x->n_end++;
  hh_buf_fmt(&x->log, "data_end size=%llu refused=%d%s\n", (unsigned long long)e->size,
             e->refused, e->bdat ? " bdat" : "");
  if (t) {
    t->ended++;
    t->refused = e->refused;
    t->bdat = e->bdat;
    t->size = e->size;
    t->seen = e->seen;
  }
  return x->cfg.defer_data_end ? SMTP_ERR_DEFERRED : 0;
}

int hh_s_rset(smtp_server_session *s, void *ud) {
  (void)s;
  hh_buf_str(&((hh_srv *)ud)->log, "rset\n");
  return 0;
}

int hh_s_noop(smtp_server_session *s, void *ud) {
  hh_srv *x = ud;
  hh_buf_str(&x->log, "noop\n");
  return x->cfg.noop_hook ? x->cfg.noop_hook(s, x) : 0;
}

int hh_s_quit(smtp_server_session *s, void *ud) {
  (void)s;
  hh_buf_str(&((hh_srv *)ud)->log, "quit\n");
  return 0;
}

int hh_s_vrfy(smtp_server_session *s, const char *a, size_t n, void *ud) {
  hh_srv *x = ud;
  (void)s;
  hh_buf_str(&x->log, "vrfy ");
  hh_log_span(&x->log, a, n);
  hh_buf_str(&x->log, "\n");
  return 0;
}

int hh_s_unknown(smtp_server_session *s, const smtp_command *c, void *ud) {
  hh_srv *x = ud;
  (void)s;
  hh_buf_str(&x->log, "unknown ");
  hh_log_span(&x->log, c->verb_text.ptr, c->verb_text.len);
  hh_buf_str(&x->log, "\n");
  return SMTP_ERR_CALLBACK_REFUSED;
}

int hh_s_starttls(smtp_server_session *s, void *ud) {
  hh_srv *x = ud;
  (void)s;
  x->n_starttls++;
  hh_buf_str(&x->log, "starttls\n");
  return x->cfg.refuse_starttls ? SMTP_ERR_CALLBACK_REFUSED : 0;
}

int hh_s_auth(smtp_server_session *s, const smtp_server_auth *a, void *ud) {
  hh_srv *x = ud;
  hh_buf_str(&x->log, "auth ");
  hh_log_span(&x->log, a->authzid.ptr, a->authzid.len);
  hh_buf_str(&x->log, "/");
  hh_log_span(&x->log, a->authcid.ptr, a->authcid.len);
  hh_buf_str(&x->log, "\n");
  if (x->cfg.auth_hook) return x->cfg.auth_hook(s, a, x);
  if (a->authcid.len == 5 && memcmp(a->authcid.ptr, "alice", 5) == 0 && a->password.len == 6 &&
      memcmp(a->password.ptr, "secret", 6) == 0) {
    x->n_auth++;
    return 0;
  }
  return SMTP_ERR_CALLBACK_REFUSED;
}

void hh_srv_new(hh_srv *h, const hh_srv_cfg *cfg, size_t fail_at) {
  smtp_server_callbacks *cb = NULL;
  smtp_server_options *o = NULL;
  memset(h, 0, sizeof *h);
  if (cfg) h->cfg = *cfg;
  hh_mem_init(&h->mem, fail_at);
  assert_int_equal(smtp_server_callbacks_new(&cb, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_new(&o, NULL), SMTP_OK);
  smtp_server_callbacks_set_connect(cb, hh_s_connect);
  smtp_server_callbacks_set_ehlo(cb, hh_s_ehlo);
  smtp_server_callbacks_set_mail(cb, hh_s_mail);
  smtp_server_callbacks_set_rcpt(cb, hh_s_rcpt);
  smtp_server_callbacks_set_data_start(cb, hh_s_data_start);
  smtp_server_callbacks_set_data_chunk(cb, hh_s_chunk);
  smtp_server_callbacks_set_data_end(cb, hh_s_data_end);
  smtp_server_callbacks_set_rset(cb, hh_s_rset);
  smtp_server_callbacks_set_noop(cb, hh_s_noop);
  smtp_server_callbacks_set_quit(cb, hh_s_quit);
  smtp_server_callbacks_set_vrfy(cb, hh_s_vrfy);
  smtp_server_callbacks_set_unknown_command(cb, hh_s_unknown);
  smtp_server_callbacks_set_starttls(cb, hh_s_starttls);
  if (h->cfg.auth) smtp_server_callbacks_set_auth(cb, hh_s_auth);
  assert_int_equal(smtp_server_options_set_hostname(o, "mx.example.test"), SMTP_OK);
  if (h->cfg.tls) assert_int_equal(smtp_server_options_set_tls_available(o, 1), SMTP_OK);
  if (h->cfg.plaintext_auth)
    assert_int_equal(smtp_server_options_set_allow_plaintext_auth(o, 1), SMTP_OK);
  if (h->cfg.authzid_any)
    assert_int_equal(smtp_server_options_set_authzid_policy(o, SMTP_SERVER_AUTHZID_ANY), SMTP_OK);
  if (h->cfg.max_size)
    assert_int_equal(smtp_server_options_set_max_message_size(o, h->cfg.max_size), SMTP_OK);
  if (h->cfg.max_rcpt)
    assert_int_equal(smtp_server_options_set_max_recipients(o, h->cfg.max_rcpt), SMTP_OK);
  if (h->cfg.max_errors)
    assert_int_equal(smtp_server_options_set_max_errors(
                         o, h->cfg.max_errors == HH_UNLIMITED ? 0 : h->cfg.max_errors),
                     SMTP_OK);
  if (h->cfg.max_auth_failures)
    assert_int_equal(smtp_server_options_set_max_auth_failures(o, h->cfg.max_auth_failures),
                     SMTP_OK);
  if (h->cfg.extensions)
    assert_int_equal(smtp_server_options_set_extensions(o, h->cfg.extensions), SMTP_OK);
  if (h->cfg.bare_accept)
    assert_int_equal(smtp_server_options_set_bare_line_end(o, SMTP_SERVER_BARE_ACCEPT), SMTP_OK);
  if (h->cfg.nul_accept) assert_int_equal(smtp_server_options_set_reject_nul(o, 0), SMTP_OK);
  if (h->cfg.lmtp) assert_int_equal(smtp_server_options_set_lmtp(o, 1), SMTP_OK);
  if (h->cfg.input_buffer)
    assert_int_equal(smtp_server_options_set_input_buffer(o, h->cfg.input_buffer), SMTP_OK);
  if (h->cfg.output_buffer)
    assert_int_equal(smtp_server_options_set_output_buffer(o, h->cfg.output_buffer), SMTP_OK);
  if (h->cfg.max_line)
    assert_int_equal(smtp_server_options_set_max_command_line(o, h->cfg.max_line), SMTP_OK);
  if (h->cfg.require_tls) assert_int_equal(smtp_server_options_set_require_tls(o, 1), SMTP_OK);
  if (h->cfg.lenient_colon)
    assert_int_equal(smtp_server_options_set_lenient_space_after_colon(o, 1), SMTP_OK);
  {
    int r = smtp_server_session_new(&h->s, cb, h, o, &h->mem.mem);
    if (fail_at) assert_true(r == SMTP_OK || r == SMTP_ERR_NOMEM);
    else assert_int_equal(r, SMTP_OK);
  }
  smtp_server_callbacks_del(cb);
  smtp_server_options_del(o);
}

void hh_srv_free(hh_srv *h) {
  hh_srv_release(h);
  HH_CHECK(h->mem.live == 0);
  HH_CHECK(h->mem.bytes == 0);
}

void hh_srv_release(hh_srv *h) {
  smtp_server_session_del(h->s);
  h->s = NULL;
  hh_buf_free(&h->out);
  hh_buf_free(&h->log);
  for (int i = 0; i < HH_MAX_TXN; i++) {
    hh_buf_free(&h->txn[i].from);
    hh_buf_free(&h->txn[i].mailinfo);
    hh_buf_free(&h->txn[i].rcpts);
    hh_buf_free(&h->txn[i].data);
    hh_buf_free(&h->txn[i].envid);
  }
}

void hh_srv_drain(hh_srv *h) {
  for (int guard = 0; guard < 1000000; guard++) {
    const char *p;
    smtp_ssize n = smtp_server_session_mem_send(h->s, &p);
    size_t w;
    if (n <= 0) return;
    w = (size_t)n;
    if (h->mode == HH_RANDOM && w > 1 && hh_rand(&h->rng) % 2) w = 1 + hh_below(&h->rng, w);
    hh_buf_add(&h->out, p, w);
    (void)smtp_server_session_mem_consume(h->s, w);
  }
  fail_msg("server output never ends");
}

void hh_srv_feed(hh_srv *h, const char *d, size_t len) {
  size_t off = 0;
  while (off < len) {
    size_t k = hh_chunk(h->mode, &h->rng, len - off), pos = 0;
    int stalls = 0;
    while (pos < k) {
      smtp_ssize r;
      hh_srv_drain(h);
      if (smtp_server_session_is_closed(h->s)) {
        h->discarded += len - off - pos;
        return;
      }
      r = smtp_server_session_mem_recv(h->s, d + off + pos, k - pos);
      if (r < 0) {
        if (!h->recv_error) h->recv_error = (int)r;
        h->discarded += len - off - pos;
        return;
      }
      pos += (size_t)r;
      if (r == 0 && ++stalls > 4) fail_msg("server stalls: takes nothing [%s]", hh_ctx);
      if (r > 0) stalls = 0;
    }
    off += k;
  }
  hh_srv_drain(h);
}

int hh_srv_tls(hh_srv *h, const char *sni) {
  smtp_tls_info info;
  hh_srv_drain(h);
  if (!smtp_server_session_want_tls(h->s)) return 0;
  memset(&info, 0, sizeof info);
  info.protocol = "TLSv1.3";
  info.cipher = "TLS_AES_128_GCM_SHA256";
  info.sni = sni;
  HH_CHECK(smtp_server_session_tls_started(h->s, &info) == SMTP_OK);
  h->n_tls++;
  return 1;
}

void hh_reply_codes(const char *p, size_t n, hh_buf *codes) {
  smtp_reply_parser *rp = NULL;
  size_t off = 0;
  assert_int_equal(smtp_reply_parser_new(&rp, 0, 0, NULL), SMTP_OK);
  while (off < n) {
    smtp_ssize r = smtp_reply_parser_feed(rp, p + off, n - off);
    const smtp_reply *rep;
    if (r < 0) {
      print_error("malformed reply at offset %zu (%d): %.*s\n  [%s]\n", off, (int)r,
                  (int)(n - off > 80 ? 80 : n - off), p + off, hh_ctx);
      smtp_reply_parser_del(rp);
      fail();
    }
    off += (size_t)r;
    rep = smtp_reply_parser_reply(rp);
    if (rep) {
      hh_buf_fmt(codes, codes->len ? " %d" : "%d", rep->code);
      smtp_reply_parser_reset(rp);
    } else if (r == 0) {
      break;
    }
  }
  HH_CHECK(off == n); /* no partial reply left at the end */
  smtp_reply_parser_del(rp);
}

void hh_srv_codes(hh_srv *h, hh_buf *codes) { hh_reply_codes(h->out.p, h->out.len, codes); }

hh_cli_txn *hh_cli_spec_cur(hh_cli *h) {
  int i = h->next - 1;
  return (i >= 0 && i < h->ntxn) ? &h->spec[i] : NULL;
}

void hh_cli_submit_next(hh_cli *h) {
  while (h->next < h->ntxn) {
    int r = smtp_client_session_submit(h->c, h->txn[h->next]);
    h->next++;
    h->body_off = 0;
    h->body_eof_sent = 0;
    if (r == SMTP_OK) return;
    h->submit_errors++;
  }
  (void)smtp_client_session_quit(h->c);
}

int hh_c_event(smtp_client_session *c, const smtp_client_event *ev, void *ud) {
  hh_cli *h = ud;
  int code = ev->reply ? ev->reply->code : 0;
  (void)c;
  switch (ev->type) {
  case SMTP_CLIENT_EVENT_GREETING: hh_buf_fmt(&h->log, "GREETING %d\n", code); break;
  case SMTP_CLIENT_EVENT_CAPABILITIES:
    hh_buf_fmt(&h->log, "CAPS %x\n", ev->caps ? ev->caps->flags : 0u);
    break;
  case SMTP_CLIENT_EVENT_STARTTLS:
    h->n_starttls++;
    hh_buf_str(&h->log, "STARTTLS\n");
    break;
  case SMTP_CLIENT_EVENT_AUTH:
    h->auth_error = ev->error;
    hh_buf_fmt(&h->log, "AUTH %d %d\n", ev->error, code);
    break;
  case SMTP_CLIENT_EVENT_READY:
    h->n_ready++;
    hh_buf_str(&h->log, "READY\n");
    break;
  case SMTP_CLIENT_EVENT_MAIL: hh_buf_fmt(&h->log, "MAIL %d\n", code); break;
  case SMTP_CLIENT_EVENT_RCPT: hh_buf_fmt(&h->log, "RCPT %d %d\n", (int)ev->index, code); break;
  case SMTP_CLIENT_EVENT_BODY_START:
    h->body_off = 0;
    h->body_eof_sent = 0;
    hh_buf_fmt(&h->log, "BODY %u\n", ev->part);
    break;
  case SMTP_CLIENT_EVENT_DATA:
    if (ev->index == SMTP_CLIENT_NO_INDEX) hh_buf_fmt(&h->log, "DATA - %d\n", code);
    else hh_buf_fmt(&h->log, "DATA %d %d\n", (int)ev->index, code);
    break;
  case SMTP_CLIENT_EVENT_TXN_DONE:
    if (h->ndone < HH_MAX_TXN) h->done_status[h->ndone] = ev->result.status;
    h->ndone++;
    hh_buf_fmt(&h->log, "DONE %d %d %d\n", ev->result.status, (int)ev->result.naccepted,
               (int)ev->result.ndelivered);
    hh_cli_submit_next(h);
    break;
  case SMTP_CLIENT_EVENT_CLOSED:
    h->nclosed++;
    h->closed_error = ev->error;
    hh_buf_fmt(&h->log, "CLOSED %d\n", ev->error);
    break;
  default: hh_buf_fmt(&h->log, "EVENT %d\n", ev->type);
  }
  return 0;
}

smtp_ssize hh_c_read(smtp_client_session *c, smtp_client_txn *t, char *buf, size_t len,
                                   int *eof, void *ud) {
  hh_cli *h = ud;
  hh_cli_txn *sp = hh_cli_spec_cur(h);
  size_t n;
  (void)c;
  (void)t;
  if (!sp) return SMTP_ERR_INVALID_STATE;
  if (h->read_fail_at >= 0 && h->body_off >= (size_t)h->read_fail_at) {
    h->read_fail_at = -1;
    return SMTP_ERR_IO;
  }
  n = sp->body_len - h->body_off;
  if (h->mode != HH_WHOLE && n > 1) n = h->mode == HH_BYTES ? 1 : 1 + hh_below(&h->rng, n);
  if (h->read_fail_at >= 0 && h->body_off + n > (size_t)h->read_fail_at)
    n = (size_t)h->read_fail_at - h->body_off;
  if (n > len) n = len;
  memcpy(buf, sp->body + h->body_off, n);
  h->body_off += n;
  if (h->body_off == sp->body_len) *eof = 1;
  return (smtp_ssize)n;
}

int hh_cli_new(hh_cli *h, const hh_cli_cfg *cfg, const hh_cli_txn *txns, int ntxn,
                             size_t fail_at) {
  int r;
  memset(h, 0, sizeof *h);
  if (cfg) h->cfg = *cfg;
  h->read_fail_at = -1;
  hh_mem_init(&h->mem, fail_at);
  r = smtp_client_callbacks_new(&h->cbs, NULL);
  if (r != SMTP_OK) return r;
  smtp_client_callbacks_set_event(h->cbs, hh_c_event);
  smtp_client_callbacks_set_read_body(h->cbs, hh_c_read);
  r = smtp_client_options_new(&h->opt, &h->mem.mem);
  if (r != SMTP_OK) return r;
  if (h->cfg.ehlo) assert_int_equal(smtp_client_options_set_ehlo_name(h->opt, h->cfg.ehlo), SMTP_OK);
  else assert_int_equal(smtp_client_options_set_ehlo_name(h->opt, "client.example.test"), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(h->opt, h->cfg.starttls), SMTP_OK);
  if (h->cfg.user) {
    r = smtp_client_options_set_credentials(h->opt, h->cfg.authzid, h->cfg.user, h->cfg.pass);
    if (r != SMTP_OK) return r;
  }
  smtp_client_options_set_allow_plaintext_auth(h->opt, h->cfg.plaintext_auth);
  if (h->cfg.auth_mech)
    assert_int_equal(smtp_client_options_set_auth_mechanism(h->opt, h->cfg.auth_mech), SMTP_OK);
  smtp_client_options_set_lmtp(h->opt, h->cfg.lmtp);
  if (h->cfg.output_buffer)
    assert_int_equal(smtp_client_options_set_output_buffer(h->opt, h->cfg.output_buffer), SMTP_OK);
  if (h->cfg.max_line || h->cfg.max_lines)
    assert_int_equal(smtp_client_options_set_reply_limits(h->opt, h->cfg.max_line, h->cfg.max_lines),
                     SMTP_OK);
  if (h->cfg.disabled) smtp_client_options_set_disabled_extensions(h->opt, h->cfg.disabled);
  if (h->cfg.require_smtputf8) smtp_client_options_set_require_smtputf8(h->opt, 1);
  h->ntxn = ntxn;
  for (int i = 0; i < ntxn; i++) {
    const hh_cli_txn *sp = &txns[i];
    smtp_client_txn *t;
    h->spec[i] = *sp;
    r = smtp_client_txn_new(&h->txn[i], &h->mem.mem);
    if (r != SMTP_OK) return r;
    t = h->txn[i];
    r = smtp_client_txn_set_from(t, sp->from, strlen(sp->from));
    if (r != SMTP_OK) return r;
    for (int k = 0; k < sp->nrcpt; k++) {
      smtp_ssize ri = smtp_client_txn_add_rcpt(t, sp->rcpt[k], strlen(sp->rcpt[k]), sp->notify[k],
                                               sp->orcpt[k],
                                               sp->orcpt[k] ? strlen(sp->orcpt[k]) : 0);
      if (ri < 0) return (int)ri;
    }
    if (sp->ret || sp->envid) {
      r = smtp_client_txn_set_dsn(t, sp->ret, sp->envid, sp->envid ? strlen(sp->envid) : 0);
      if (r != SMTP_OK) return r;
    }
    if (sp->body_type) assert_int_equal(smtp_client_txn_set_body_type(t, sp->body_type), SMTP_OK);
    if (sp->requiretls) assert_int_equal(smtp_client_txn_set_requiretls(t, 1), SMTP_OK);
    if (sp->body_source) {
      assert_int_equal(smtp_client_txn_set_body_source(t, sp->body_source), SMTP_OK);
    } else {
      assert_int_equal(smtp_client_txn_set_body(t, sp->body, sp->body_len), SMTP_OK);
    }
  }
  r = smtp_client_session_new(&h->c, h->cbs, h, h->opt, &h->mem.mem);
  if (r != SMTP_OK) return r;
  hh_cli_submit_next(h);
  return SMTP_OK;
}

void hh_cli_free(hh_cli *h) {
  smtp_client_session_del(h->c);
  for (int i = 0; i < h->ntxn; i++) smtp_client_txn_del(h->txn[i]);
  smtp_client_options_del(h->opt);
  smtp_client_callbacks_del(h->cbs);
  HH_CHECK(h->mem.live == 0);
  HH_CHECK(h->mem.bytes == 0);
  hh_buf_free(&h->out);
  hh_buf_free(&h->log);
}

int hh_cli_push(hh_cli *h) {
  hh_cli_txn *sp = hh_cli_spec_cur(h);
  int moved = 0;
  if (!sp || sp->body_source != SMTP_CLIENT_BODY_PUSH) return 0;
  while (!h->body_eof_sent && smtp_client_session_want_body(h->c)) {
    size_t left = sp->body_len - h->body_off;
    size_t k = left;
    int last;
    smtp_ssize r;
    if (h->mode != HH_WHOLE && k > 1) k = h->mode == HH_BYTES ? 1 : 1 + hh_below(&h->rng, k);
    last = h->body_off + k == sp->body_len;
    r = smtp_client_session_body_push(h->c, sp->body + h->body_off, k, last);
    if (r < 0) {
      if (r != SMTP_ERR_WOULDBLOCK && !h->push_error) h->push_error = (int)r;
      return moved;
    }
    h->body_off += (size_t)r;
    if (last && (size_t)r == k) h->body_eof_sent = 1;
    if (r == 0 && !(last && k == 0)) return moved;
    moved = 1;
  }
  return moved;
}

int hh_cli_drain(hh_cli *h, hh_buf *sink) {
  int moved = 0;
  for (int guard = 0; guard < 1000000; guard++) {
    const char *p;
    smtp_ssize n;
    size_t w;
    if (hh_cli_push(h)) moved = 1;
    n = smtp_client_session_mem_send(h->c, &p);
    if (n <= 0) return moved;
    w = (size_t)n;
    if (h->mode == HH_RANDOM && w > 1 && hh_rand(&h->rng) % 2) w = 1 + hh_below(&h->rng, w);
    hh_buf_add(&h->out, p, w);
    if (sink) hh_buf_add(sink, p, w);
    HH_CHECK(smtp_client_session_mem_consume(h->c, w) == SMTP_OK);
    moved = 1;
  }
  fail_msg("client output never ends");
  return moved;
}

void hh_cli_feed(hh_cli *h, const char *d, size_t len) {
  size_t off = 0;
  while (off < len) {
    size_t k = hh_chunk(h->mode, &h->rng, len - off), pos = 0;
    int stalls = 0;
    while (pos < k) {
      smtp_ssize r;
      hh_cli_drain(h, NULL);
      if (smtp_client_session_is_closed(h->c)) return;
      r = smtp_client_session_mem_recv(h->c, d + off + pos, k - pos);
      if (r < 0) {
        if (!h->recv_error) h->recv_error = (int)r;
        return;
      }
      pos += (size_t)r;
      if (r == 0 && ++stalls > 4) fail_msg("client stalls: takes nothing [%s]", hh_ctx);
      if (r > 0) stalls = 0;
    }
    off += k;
  }
  hh_cli_drain(h, NULL);
}

void hh_cli_script(hh_cli *h, const char *const *steps, size_t nsteps) {
  for (size_t i = 0; i < nsteps; i++) {
    const char *st = steps[i];
    hh_cli_drain(h, NULL);
    if (strcmp(st, "@TLS") == 0) {
      smtp_tls_info info;
      memset(&info, 0, sizeof info);
      info.protocol = "TLSv1.3";
      if (smtp_client_session_want_tls(h->c))
        HH_CHECK(smtp_client_session_tls_started(h->c, &info) == SMTP_OK);
      else hh_buf_str(&h->log, "NO-TLS-WANTED\n");
    } else if (strcmp(st, "@TLSFAIL") == 0) {
      (void)smtp_client_session_tls_failed(h->c, SMTP_ERR_TLS_HANDSHAKE);
    } else if (strcmp(st, "@TLSCLOSED") == 0) {
      (void)smtp_client_session_tls_failed(h->c, SMTP_ERR_TLS_CLOSED);
    } else if (strcmp(st, "@LOST") == 0) {
      (void)smtp_client_session_connection_lost(h->c);
    } else if (strcmp(st, "@TIMEOUT") == 0) {
      (void)smtp_client_session_timeout(h->c);
    } else {
      hh_cli_feed(h, st, strlen(st));
    }
  }
  hh_cli_drain(h, NULL);
}

void hh_pair_run(hh_pair *p) {
  for (int iter = 0; iter < 2000000; iter++) {
    int progress = 0;
    hh_buf fresh = {0};
    /* client -> pipe */
    if (hh_cli_drain(&p->cli, &fresh)) progress = 1;
    if (fresh.len) {
      hh_buf_add(&p->c2s, fresh.p, fresh.len);
      hh_buf_add(&p->c2s_all, fresh.p, fresh.len);
    }
    hh_buf_free(&fresh);
    /* pipe -> server */
    if (p->c2s_head < p->c2s.len) {
      size_t k = hh_chunk(p->mode, &p->rng, p->c2s.len - p->c2s_head);
      if (smtp_server_session_is_closed(p->srv.s)) {
        p->c2s_head = p->c2s.len;
      } else {
        smtp_ssize r = smtp_server_session_mem_recv(p->srv.s, p->c2s.p + p->c2s_head, k);
        if (r < 0) {
          if (!p->srv.recv_error) p->srv.recv_error = (int)r;
          p->c2s_head = p->c2s.len;
        } else if (r > 0) {
          p->c2s_head += (size_t)r;
          progress = 1;
        }
      }
    }
    /* server -> pipe (through the man in the middle) */
    {
      size_t before = p->srv.out.len;
      hh_srv_drain(&p->srv);
      if (p->srv.out.len > before) {
        hh_buf b = {0};
        hh_buf_add(&b, p->srv.out.p + before, p->srv.out.len - before);
        if (p->mitm) p->mitm(&b, &p->c2s_all, p->mitm_arg);
        hh_buf_add(&p->s2c, b.p ? b.p : "", b.len);
        hh_buf_free(&b);
        progress = 1;
      }
    }
    /* TLS: both sides ready, nothing in flight towards the client */
    if (p->s2c_head == p->s2c.len && smtp_server_session_want_tls(p->srv.s) &&
        smtp_client_session_want_tls(p->cli.c)) {
      smtp_tls_info info;
      memset(&info, 0, sizeof info);
      info.protocol = "TLSv1.3";
      info.sni = "mx.example.test";
      /* bytes still in flight to the server were sent before the handshake */
      p->c2s_head = p->c2s.len;
      HH_CHECK(smtp_server_session_tls_started(p->srv.s, &info) == SMTP_OK);
      HH_CHECK(smtp_client_session_tls_started(p->cli.c, &info) == SMTP_OK);
      p->srv.n_tls++;
      p->tls_done++;
      progress = 1;
    }
    /* pipe -> client */
    if (p->s2c_head < p->s2c.len) {
      size_t k = hh_chunk(p->mode, &p->rng, p->s2c.len - p->s2c_head);
      if (smtp_client_session_is_closed(p->cli.c)) {
        p->s2c_head = p->s2c.len;
      } else {
        smtp_ssize r = smtp_client_session_mem_recv(p->cli.c, p->s2c.p + p->s2c_head, k);
        if (r < 0) {
          if (!p->cli.recv_error) p->cli.recv_error = (int)r;
          p->s2c_head = p->s2c.len;
        } else if (r > 0) {
          p->s2c_head += (size_t)r;
          progress = 1;
        }
      }
    }
    if (!progress) {
      /* The server closed and everything was delivered: the client sees EOF. */
      if (smtp_server_session_want_close(p->srv.s) && !smtp_client_session_is_closed(p->cli.c) &&
          p->s2c_head == p->s2c.len) {
        (void)smtp_client_session_connection_lost(p->cli.c);
        continue;
      }
      return;
    }
  }
  fail_msg("pair never settles [%s]", hh_ctx);
}

void hh_pair_free(hh_pair *p) {
  hh_srv_free(&p->srv);
  hh_cli_free(&p->cli);
  hh_buf_free(&p->c2s);
  hh_buf_free(&p->s2c);
  hh_buf_free(&p->c2s_all);
}

void hh_normalise(const char *b, size_t n, hh_buf *out) {
  for (size_t i = 0; i < n; i++) {
    if (b[i] == '\r') {
      hh_buf_add(out, "\r\n", 2);
      if (i + 1 < n && b[i + 1] == '\n') i++;
    } else if (b[i] == '\n') {
      hh_buf_add(out, "\r\n", 2);
    } else {
      hh_buf_add(out, &b[i], 1);
    }
  }
  if (out->len && !(out->len >= 2 && out->p[out->len - 2] == '\r' && out->p[out->len - 1] == '\n'))
    hh_buf_add(out, "\r\n", 2);
}
