/* The client transaction builder (smtp_client_txn_*): the envelope, the
 * DSN and body settings, parameters of extensions and of the application,
 * each checked when it is added; and the MAIL and RCPT lines formatted from
 * it through the parameter table (lib/params.c). */
#include <string.h>

#include <smtp/address.h>

#include "client_impl.h"
#include "params.h"
#include "text.h"

/* ------------------------------------------------------------------ */
/* Transactions                                                         */

int smtp_client_txn_new(smtp_client_txn **out, const smtp_mem *mem) {
  smtp_client_txn *t;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  t = smtp__calloc(mem, 1, sizeof *t);
  if (!t) return SMTP_ERR_NOMEM;
  t->mem = *mem;
  *out = t;
  return SMTP_OK;
}

int smtp_client_txn_del(smtp_client_txn *t) {
  smtp_mem mem;
  if (!t) return SMTP_OK;
  /* A submitted transaction belongs to its session until it completes or
   * the session ends: freeing it now would leave the session a dangling
   * pointer. */
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  mem = t->mem;
  smtp__free(&mem, t->buf);
  smtp__free(&mem, t->rcpts);
  smtp__free(&mem, t->params);
  smtp__free(&mem, t->urls);
  smtp__free(&mem, t);
  return SMTP_OK;
}

int smtp_client_txn_reset(smtp_client_txn *t) {
  if (!t) return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  t->buf_len = 0;
  t->nrcpt = 0;
  t->nparams = 0;
  t->has_from = 0;
  t->utf8 = 0;
  t->ret = 0;
  t->has_envid = 0;
  t->has_size = 0;
  t->size_hint = 0;
  t->body_type = 0;
  t->body_source = 0;
  t->body = NULL;
  t->body_len = 0;
  t->requiretls = 0;
  t->nurls = 0;
  return SMTP_OK;
}

static int txn_store(smtp_client_txn *t, const char *s, size_t n, size_t *off) {
  if (n > t->buf_cap - t->buf_len) {
    size_t cap = t->buf_cap ? t->buf_cap : 256;
    char *nb;
    while (cap - t->buf_len < n) cap *= 2;
    nb = smtp__realloc(&t->mem, t->buf, cap);
    if (!nb) return SMTP_ERR_NOMEM;
    t->buf = nb;
    t->buf_cap = cap;
  }
  if (n) memcpy(t->buf + t->buf_len, s, n);
  *off = t->buf_len;
  t->buf_len += n;
  return SMTP_OK;
}

/* Validate a mailbox given by the application (RFC 5321 4.1.2, RFC 6531
 * 3.3); strips one pair of angle brackets. Sets *utf8 when non-ASCII. */
static int check_address(const char **addr, size_t *len, int allow_postmaster, int *utf8) {
  const char *a = *addr;
  size_t n = *len;
  smtp_mailbox mb;
  int rc;
  /* Bounds before content: a length larger than any path is refused
   * without reading the bytes (RFC 5321 4.5.3.1.3). */
  if (n > SMTP_PATH_MAX) return SMTP_ERR_PATH_TOO_LONG;
  if (smtp__has_ctl(a, n)) return SMTP_ERR_BAD_CHAR;
  if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
    a++;
    n -= 2;
  }
  if (n + 2 > SMTP_PATH_MAX) return SMTP_ERR_PATH_TOO_LONG;
  *utf8 = 0;
  if (allow_postmaster && smtp__casecmp(a, n, "postmaster", 10) == 0) {
    *addr = a;
    *len = n;
    return SMTP_OK; /* RFC 5321 4.1.1.3: "<Postmaster>" */
  }
  if (n == 0) return SMTP_ERR_SYNTAX;
  rc = smtp_parse_mailbox(a, n, SMTP_PARSE_UTF8, &mb);
  if (rc != SMTP_OK) return rc;
  *utf8 = mb.utf8 ? 1 : 0;
  *addr = a;
  *len = n;
  return SMTP_OK;
}

int smtp_client_txn_set_from(smtp_client_txn *t, const char *addr, size_t len) {
  int utf8 = 0, rc;
  size_t off;
  if (!t || (!addr && len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  if (!addr) addr = "";
  if (len == 2 && addr[0] == '<' && addr[1] == '>') len = 0;
  if (len) {
    rc = check_address(&addr, &len, 0, &utf8);
    if (rc != SMTP_OK) return rc;
  }
  rc = txn_store(t, addr, len, &off);
  if (rc != SMTP_OK) return rc;
  t->from_off = off;
  t->from_len = len;
  t->has_from = 1;
  if (utf8) t->utf8 = 1;
  return SMTP_OK;
}

smtp_ssize smtp_client_txn_add_rcpt(smtp_client_txn *t, const char *addr, size_t len,
                                    unsigned int notify, const char *orcpt, size_t orcpt_len) {
  int utf8 = 0, rc;
  size_t off, ooff = 0;
  txn_rcpt *r;
  if (!t || !addr || (!orcpt && orcpt_len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  if (notify & ~0xfu) return SMTP_ERR_INVALID_ARGUMENT;
  if ((notify & SMTP_DSN_NOTIFY_NEVER) && (notify & ~(unsigned)SMTP_DSN_NOTIFY_NEVER))
    return SMTP_ERR_INVALID_ARGUMENT; /* RFC 3461 4.1: NEVER stands alone */
  rc = check_address(&addr, &len, 1, &utf8);
  if (rc != SMTP_OK) return rc;
  if (orcpt) {
    /* The original recipient travels xtext-encoded (RFC 3461 4.2); its
     * decoded form must still be a sane address string. */
    if (orcpt_len == 0 || orcpt_len > ORCPT_MAX / 3) return SMTP_ERR_TOO_LONG;
    if (smtp__has_ctl(orcpt, orcpt_len)) return SMTP_ERR_BAD_CHAR;
    if (smtp_utf8_validate(orcpt, orcpt_len) != SMTP_OK) return SMTP_ERR_UTF8;
  }
  if (t->nrcpt >= RCPT_MAX) return SMTP_ERR_LIMIT;
  if (t->nrcpt == t->rcpt_cap) {
    size_t cap = t->rcpt_cap ? t->rcpt_cap * 2 : 8;
    txn_rcpt *nr = smtp__realloc(&t->mem, t->rcpts, cap * sizeof *nr);
    if (!nr) return SMTP_ERR_NOMEM;
    t->rcpts = nr;
    t->rcpt_cap = cap;
  }
  rc = txn_store(t, addr, len, &off);
  if (rc != SMTP_OK) return rc;
  if (orcpt) {
    rc = txn_store(t, orcpt, orcpt_len, &ooff);
    if (rc != SMTP_OK) return rc;
  }
  r = &t->rcpts[t->nrcpt];
  memset(r, 0, sizeof *r);
  r->addr_off = off;
  r->addr_len = len;
  r->has_orcpt = orcpt != NULL;
  r->orcpt_off = ooff;
  r->orcpt_len = orcpt_len;
  r->notify = notify;
  if (utf8) t->utf8 = 1;
  return (smtp_ssize)t->nrcpt++;
}

int smtp_client_txn_set_dsn(smtp_client_txn *t, int ret, const char *envid, size_t len) {
  size_t off, i;
  int rc;
  if (!t || ret < 0 || ret > SMTP_DSN_RET_HDRS || (!envid && len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  if (envid) {
    /* RFC 3461 4.4: printable US-ASCII, at most 100 characters (the
     * length is checked before the bytes are read). */
    if (len > ENVID_MAX) return SMTP_ERR_TOO_LONG;
    for (i = 0; i < len; i++) {
      unsigned char ch = (unsigned char)envid[i];
      if (ch < 0x20 || ch > 0x7e) return SMTP_ERR_BAD_CHAR;
    }
    if (len == 0) return SMTP_ERR_INVALID_ARGUMENT;
    if (len > ENVID_MAX) return SMTP_ERR_TOO_LONG;
    rc = txn_store(t, envid, len, &off);
    if (rc != SMTP_OK) return rc;
    t->envid_off = off;
    t->envid_len = len;
    t->has_envid = 1;
  } else {
    t->has_envid = 0;
  }
  t->ret = ret;
  return SMTP_OK;
}

int smtp_client_txn_set_size(smtp_client_txn *t, uint64_t size) {
  if (!t) return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  t->size_hint = size;
  t->has_size = 1;
  return SMTP_OK;
}

int smtp_client_txn_set_body_type(smtp_client_txn *t, int type) {
  if (!t || type < SMTP_BODY_UNSPECIFIED || type > SMTP_BODY_BINARYMIME)
    return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  t->body_type = type;
  return SMTP_OK;
}

int smtp_client_txn_set_body(smtp_client_txn *t, const char *data, size_t len) {
  if (!t || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  t->body = data ? data : "";
  t->body_len = len;
  t->body_source = SMTP_CLIENT_BODY_MEMORY;
  t->nurls = 0;
  return SMTP_OK;
}

int smtp_client_txn_set_body_source(smtp_client_txn *t, int source) {
  if (!t || (source != SMTP_CLIENT_BODY_READ && source != SMTP_CLIENT_BODY_PUSH))
    return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  t->body_source = source;
  t->nurls = 0;
  t->body = NULL;
  t->body_len = 0;
  return SMTP_OK;
}

/* BURL (RFC 4468 3.4): at most this many URLs make one message. */
#define BURL_URLS_MAX 64u
/* "BURL " url " LAST" CRLF within the 512-octet command line. */
#define BURL_URL_MAX (SMTP_COMMAND_LINE_MAX - 12u)

int smtp_client_txn_add_body_url(smtp_client_txn *t, const char *url) {
  size_t n, i, off;
  const char *tok;
  txn_url *u;
  int rc;
  if (!t || !url) return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  n = strlen(url);
  if (n > BURL_URL_MAX) return SMTP_ERR_TOO_LONG;
  /* RFC 4468 3.3: burl-cmd = "BURL" SP absolute-URI [SP end-marker];
   * RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). The
   * URI itself is printable US-ASCII without spaces (RFC 3986 2). */
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)url[i];
    if (ch <= 0x20 || ch >= 0x7f) return SMTP_ERR_BAD_CHAR;
  }
  for (i = 0; i < n && url[i] != ':'; i++) {
    int ch = (unsigned char)url[i];
    if (!smtp__is_alpha(ch) && (i == 0 || (!smtp__is_digit(ch) && ch != '+' && ch != '-' && ch != '.')))
      return SMTP_ERR_SYNTAX;
  }
  if (i == 0 || i == n || i + 1 == n) return SMTP_ERR_SYNTAX;
  if (t->body_source == SMTP_CLIENT_BODY_URL && t->nurls >= BURL_URLS_MAX) return SMTP_ERR_LIMIT;
  if (t->body_source != SMTP_CLIENT_BODY_URL) t->nurls = 0;
  if (t->nurls == t->urls_cap) {
    size_t cap = t->urls_cap ? t->urls_cap * 2 : 2;
    txn_url *nu = smtp__realloc(&t->mem, t->urls, cap * sizeof *nu);
    if (!nu) return SMTP_ERR_NOMEM;
    t->urls = nu;
    t->urls_cap = cap;
  }
  rc = txn_store(t, url, n, &off);
  if (rc != SMTP_OK) return rc;
  u = &t->urls[t->nurls++];
  u->off = off;
  u->len = n;
  /* RFC 4467 3: the access token after ";URLAUTH=" authorises the fetch;
   * the trace never shows it. */
  u->trace_len = n;
  for (tok = url; (size_t)(tok - url) + 9 <= n; tok++)
    if (smtp__casecmp(tok, 9, ";URLAUTH=", 9) == 0) {
      u->trace_len = (size_t)(tok - url) + 9;
      break;
    }
  t->body_source = SMTP_CLIENT_BODY_URL;
  t->burl_pump = smtp__cli_burl_pump;
  t->body = NULL;
  t->body_len = 0;
  return SMTP_OK;
}

int smtp_client_txn_set_requiretls(smtp_client_txn *t, int on) {
  if (!t) return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  t->requiretls = on ? 1 : 0;
  return SMTP_OK;
}

size_t smtp_client_txn_rcpt_count(const smtp_client_txn *t) { return t ? t->nrcpt : 0; }

int smtp_client_txn_rcpt_result(const smtp_client_txn *t, size_t index, int *rcpt_code,
                                int *data_code) {
  if (!t || index >= t->nrcpt) return SMTP_ERR_NOT_FOUND;
  if (rcpt_code) *rcpt_code = t->rcpts[index].rcpt_code;
  if (data_code) *data_code = t->rcpts[index].data_code;
  return SMTP_OK;
}

const char *smtp_client_txn_rcpt_address(const smtp_client_txn *t, size_t index, size_t *len) {
  if (!t || index >= t->nrcpt) return NULL;
  if (len) *len = t->rcpts[index].addr_len;
  return t->buf + t->rcpts[index].addr_off;
}

/* ---------------- extension and extra parameters ---------------- */

/* Most octets the parameters added here may put on one MAIL or RCPT line
 * (the built-in ones aside), so every line fits the 2 KiB the session
 * formats commands in. */
#define EXTRA_PARAMS_MAX 1000u

/* Octets " KEYWORD[=VALUE]" of the parameters of @p t that go on the MAIL
 * line (@p rcpt SIZE_MAX) or on recipient @p rcpt's line. */
static size_t txn_params_len(const smtp_client_txn *t, int verb, size_t rcpt) {
  size_t i, n = 0;
  for (i = 0; i < t->nparams; i++) {
    const txn_param *p = &t->params[i];
    if (p->verb != verb) continue;
    if (verb == SMTP_VERB_RCPT && p->rcpt != SMTP_CLIENT_ALL_RCPTS && p->rcpt != rcpt) continue;
    n += 1 + p->kw_len + (p->has_value ? 1 + p->val_len : 0);
  }
  return n;
}

static int txn_param_has(const smtp_client_txn *t, int verb, size_t rcpt, const char *kw,
                         size_t kwlen) {
  size_t i;
  for (i = 0; i < t->nparams; i++) {
    const txn_param *p = &t->params[i];
    if (p->verb != verb || smtp__casecmp(t->buf + p->kw_off, p->kw_len, kw, kwlen) != 0) continue;
    if (verb == SMTP_VERB_MAIL || rcpt == SMTP_CLIENT_ALL_RCPTS ||
        p->rcpt == SMTP_CLIENT_ALL_RCPTS || p->rcpt == rcpt)
      return 1;
  }
  return 0;
}

/* RFC 5321 4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
 * esmtp-value = 1*(%d33-60 / %d62-126). */
static int check_esmtp_param(const char *kw, size_t kwlen, const char *val, size_t vlen) {
  size_t i;
  if (kwlen == 0) return SMTP_ERR_SYNTAX;
  for (i = 0; i < kwlen; i++) {
    int ch = (unsigned char)kw[i];
    if (!smtp__is_alpha(ch) && !smtp__is_digit(ch) && (ch != '-' || i == 0)) return SMTP_ERR_SYNTAX;
  }
  if (val) {
    if (vlen == 0) return SMTP_ERR_SYNTAX;
    for (i = 0; i < vlen; i++) {
      int ch = (unsigned char)val[i];
      if (ch == '\r' || ch == '\n' || ch == 0) return SMTP_ERR_BAD_CHAR;
      if (ch < 33 || ch > 126 || ch == '=') return SMTP_ERR_SYNTAX;
    }
  }
  return SMTP_OK;
}

/* Add a parameter. Known ones are validated by the table's parser (the one
 * the server uses); the library's own (SIZE, BODY, SMTPUTF8, REQUIRETLS,
 * RET, ENVID, AUTH, NOTIFY, ORCPT) have setters of their own. */
static int txn_param_add(smtp_client_txn *t, int verb, size_t rcpt, const char *kw,
                         const char *val) {
  size_t kwlen, vlen, off_k, off_v = 0, room;
  const smtp__param_def *d;
  txn_param *p;
  int rc;
  if (!t || !kw) return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  if (verb == SMTP_VERB_RCPT && rcpt != SMTP_CLIENT_ALL_RCPTS && rcpt >= t->nrcpt)
    return SMTP_ERR_NOT_FOUND;
  kwlen = strlen(kw);
  vlen = val ? strlen(val) : 0;
  if (smtp__has_ctl(kw, kwlen)) return SMTP_ERR_BAD_CHAR;
  rc = check_esmtp_param(kw, kwlen, val, vlen);
  if (rc != SMTP_OK) return rc;
  d = smtp__param_find(verb, kw, kwlen);
  if (d) {
    char scratch[1024];
    size_t used = 0;
    smtp__pval v;
    smtp_span sv;
    int id = (int)(d - smtp__param_table);
    if (id < SMTP__P_MT_PRIORITY || id == SMTP__P_NOTIFY || id == SMTP__P_ORCPT)
      return SMTP_ERR_INVALID_ARGUMENT; /* the library sends these itself */
    sv.ptr = val ? val : "";
    sv.len = vlen;
    memset(&v, 0, sizeof v);
    if (smtp__param_parse(d, sv, val != NULL, &v, scratch, sizeof scratch, &used) != 0) return SMTP_ERR_PARAM;
    if (verb == SMTP_VERB_MAIL &&
        ((id == SMTP__P_HOLDFOR && txn_param_has(t, verb, rcpt, "HOLDUNTIL", 9)) ||
         (id == SMTP__P_HOLDUNTIL && txn_param_has(t, verb, rcpt, "HOLDFOR", 7))))
      return SMTP_ERR_PARAM; /* RFC 4865 4: one hold-param */
  }
  if (txn_param_has(t, verb, rcpt, kw, kwlen)) return SMTP_ERR_PARAM; /* twice */
  /* Room on the line: every recipient's line when @p rcpt is all of them. */
  room = 1 + kwlen + (val ? 1 + vlen : 0);
  if (verb == SMTP_VERB_MAIL || rcpt != SMTP_CLIENT_ALL_RCPTS) {
    if (txn_params_len(t, verb, rcpt) + room > EXTRA_PARAMS_MAX) return SMTP_ERR_TOO_LONG;
  } else {
    size_t i;
    if (txn_params_len(t, verb, SMTP_CLIENT_ALL_RCPTS - 1) + room > EXTRA_PARAMS_MAX)
      return SMTP_ERR_TOO_LONG;
    for (i = 0; i < t->nrcpt; i++)
      if (txn_params_len(t, verb, i) + room > EXTRA_PARAMS_MAX) return SMTP_ERR_TOO_LONG;
  }
  if (t->nparams == t->params_cap) {
    size_t cap = t->params_cap ? t->params_cap * 2 : 4;
    txn_param *np = smtp__realloc(&t->mem, t->params, cap * sizeof *np);
    if (!np) return SMTP_ERR_NOMEM;
    t->params = np;
    t->params_cap = cap;
  }
  rc = txn_store(t, kw, kwlen, &off_k);
  if (rc != SMTP_OK) return rc;
  if (val) {
    rc = txn_store(t, val, vlen, &off_v);
    if (rc != SMTP_OK) return rc;
  }
  p = &t->params[t->nparams++];
  p->verb = verb;
  p->rcpt = rcpt;
  p->kw_off = off_k;
  p->kw_len = kwlen;
  p->val_off = off_v;
  p->val_len = vlen;
  p->has_value = val != NULL;
  p->ext = d ? d->ext : 0;
  return SMTP_OK;
}

int smtp_client_txn_add_mail_param(smtp_client_txn *t, const char *keyword, const char *value) {
  return txn_param_add(t, SMTP_VERB_MAIL, SMTP_CLIENT_ALL_RCPTS, keyword, value);
}

int smtp_client_txn_add_rcpt_param(smtp_client_txn *t, size_t index, const char *keyword,
                                   const char *value) {
  return txn_param_add(t, SMTP_VERB_RCPT, index, keyword, value);
}

/* Format a typed value with the table's formatter and add it. */
static int txn_param_typed(smtp_client_txn *t, int verb, size_t rcpt, int id,
                           const smtp__pval *v) {
  const smtp__param_def *d = &smtp__param_table[id];
  char val[128];
  size_t n = d->format(v, val, sizeof val - 1);
  if (n >= sizeof val) return SMTP_ERR_TOO_LONG;
  val[n] = '\0';
  return txn_param_add(t, verb, rcpt, d->keyword, val);
}

int smtp_client_txn_set_mt_priority(smtp_client_txn *t, int priority) {
  smtp__pval v;
  if (priority < -9 || priority > 9) return SMTP_ERR_INVALID_ARGUMENT; /* RFC 6710 7 */
  memset(&v, 0, sizeof v);
  v.i = priority;
  return txn_param_typed(t, SMTP_VERB_MAIL, SMTP_CLIENT_ALL_RCPTS, SMTP__P_MT_PRIORITY, &v);
}

int smtp_client_txn_set_deliver_by(smtp_client_txn *t, int by_time, int mode, int trace_on) {
  smtp__pval v;
  if (by_time < -999999999 || by_time > 999999999 || (mode != 'N' && mode != 'R'))
    return SMTP_ERR_INVALID_ARGUMENT; /* RFC 2852 4 */
  memset(&v, 0, sizeof v);
  v.i = by_time;
  v.mode = mode;
  v.flag = trace_on ? 1 : 0;
  return txn_param_typed(t, SMTP_VERB_MAIL, SMTP_CLIENT_ALL_RCPTS, SMTP__P_BY, &v);
}

int smtp_client_txn_set_hold_for(smtp_client_txn *t, unsigned int seconds) {
  smtp__pval v;
  if (seconds == 0 || seconds > 999999999u) return SMTP_ERR_INVALID_ARGUMENT; /* RFC 4865 4 */
  memset(&v, 0, sizeof v);
  v.u = seconds;
  return txn_param_typed(t, SMTP_VERB_MAIL, SMTP_CLIENT_ALL_RCPTS, SMTP__P_HOLDFOR, &v);
}

int smtp_client_txn_set_hold_until(smtp_client_txn *t, const char *date_time) {
  if (!date_time) return SMTP_ERR_INVALID_ARGUMENT;
  return txn_param_add(t, SMTP_VERB_MAIL, SMTP_CLIENT_ALL_RCPTS, "HOLDUNTIL", date_time);
}

int smtp_client_txn_set_rrvs(smtp_client_txn *t, size_t index, const char *date_time, int mode) {
  smtp__pval v;
  int64_t tmp;
  if (!date_time || (mode != 0 && mode != 'C' && mode != 'R')) return SMTP_ERR_INVALID_ARGUMENT;
  if (smtp__datetime_parse(date_time, strlen(date_time), 0, &tmp) != 0) return SMTP_ERR_PARAM;
  memset(&v, 0, sizeof v);
  v.text.ptr = date_time;
  v.text.len = strlen(date_time);
  v.mode = mode;
  return txn_param_typed(t, SMTP_VERB_RCPT, index, SMTP__P_RRVS, &v);
}

/* Append the added parameters of the MAIL line (@p rcpt SIZE_MAX) or of a
 * recipient's line. */
static void put_params(const smtp_client_txn *t, int verb, size_t rcpt, char *buf, size_t cap,
                       size_t *n) {
  size_t i;
  for (i = 0; i < t->nparams; i++) {
    const txn_param *p = &t->params[i];
    if (p->verb != verb) continue;
    if (verb == SMTP_VERB_RCPT && p->rcpt != SMTP_CLIENT_ALL_RCPTS && p->rcpt != rcpt) continue;
    smtp__put(buf, cap, n, " ", 1);
    smtp__put(buf, cap, n, t->buf + p->kw_off, p->kw_len);
    if (p->has_value) {
      smtp__put(buf, cap, n, "=", 1);
      smtp__put(buf, cap, n, t->buf + p->val_off, p->val_len);
    }
  }
}

/* Every parameter of an extension must have been offered (an unknown one
 * is the application's business and goes out as it is). */
int smtp__cli_txn_params_offered(const smtp_client_txn *t, unsigned int ext) {
  size_t i;
  for (i = 0; i < t->nparams; i++)
    if (t->params[i].ext && !(t->params[i].ext & ext)) return 0;
  return 1;
}

/* ------------------------------------------------------------------ */
/* The session                                                          */

/* Format MAIL FROM with its parameters into @p buf, each through the
 * parameter table's formatter (lib/params.c), then the added ones. */
size_t smtp__cli_fmt_mail(const smtp_client_session *c, char *buf, size_t cap) {
  smtp_client_txn *t = c->txn;
  size_t n = 0;
  smtp__pval v;
  memset(&v, 0, sizeof v);
  smtp__put(buf, cap, &n, "MAIL FROM:<", 11);
  smtp__put(buf, cap, &n, t->buf + t->from_off, t->from_len);
  smtp__put(buf, cap, &n, ">", 1);
  if (c->plan.size) {
    v.u = c->plan.size_value;
    smtp__param_put(&smtp__param_table[SMTP__P_SIZE], &v, buf, cap, &n);
  }
  if (c->plan.binary || c->plan.eightbit) {
    v.mode = c->plan.binary ? SMTP_BODY_BINARYMIME : SMTP_BODY_8BITMIME;
    smtp__param_put(&smtp__param_table[SMTP__P_BODY], &v, buf, cap, &n);
  }
  if (c->plan.utf8) smtp__param_put(&smtp__param_table[SMTP__P_SMTPUTF8], &v, buf, cap, &n);
  if (c->plan.requiretls) smtp__param_put(&smtp__param_table[SMTP__P_REQUIRETLS], &v, buf, cap, &n);
  if (c->plan.dsn) {
    if (t->ret == SMTP_DSN_RET_FULL || t->ret == SMTP_DSN_RET_HDRS) {
      v.mode = t->ret == SMTP_DSN_RET_FULL ? SMTP_DSN_RET_FULL : SMTP_DSN_RET_HDRS;
      smtp__param_put(&smtp__param_table[SMTP__P_RET], &v, buf, cap, &n);
    }
    if (t->has_envid) {
      v.text.ptr = t->buf + t->envid_off;
      v.text.len = t->envid_len;
      smtp__param_put(&smtp__param_table[SMTP__P_ENVID], &v, buf, cap, &n);
    }
  }
  put_params(t, SMTP_VERB_MAIL, SMTP_CLIENT_ALL_RCPTS, buf, cap, &n);
  return n;
}

size_t smtp__cli_fmt_rcpt(const smtp_client_session *c, size_t i, char *buf, size_t cap) {
  smtp_client_txn *t = c->txn;
  const txn_rcpt *r = &t->rcpts[i];
  size_t n = 0;
  smtp__pval v;
  memset(&v, 0, sizeof v);
  smtp__put(buf, cap, &n, "RCPT TO:<", 9);
  smtp__put(buf, cap, &n, t->buf + r->addr_off, r->addr_len);
  smtp__put(buf, cap, &n, ">", 1);
  if (c->plan.dsn) {
    if (r->notify) {
      /* SMTP_DSN_NOTIFY_* and SMTP_SERVER_NOTIFY_* share their bits. */
      v.u = r->notify;
      smtp__param_put(&smtp__param_table[SMTP__P_NOTIFY], &v, buf, cap, &n);
    }
    if (r->has_orcpt) {
      v.type.ptr = "rfc822";
      v.type.len = 6;
      v.text.ptr = t->buf + r->orcpt_off;
      v.text.len = r->orcpt_len;
      smtp__param_put(&smtp__param_table[SMTP__P_ORCPT], &v, buf, cap, &n);
    }
  }
  put_params(t, SMTP_VERB_RCPT, i, buf, cap, &n);
  return n;
}

