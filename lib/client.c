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
 * application (smtp_client_txn_*) and grow only while being built. */
#include <string.h>

#include <smtp/address.h>
#include <smtp/client.h>
#include <smtp/data.h>
#include <smtp/sasl.h>
#include <smtp/server.h>
#include <smtp/xclient.h>

#include "client_auth.h"
#include "client_internal.h"
#include "data_internal.h"
#include "internal.h"
#include "params.h"

/* ------------------------------------------------------------------ */
/* Limits and timeouts                                                  */

/* RFC 5321 4.5.3.2: client timeouts. */
#define TMO_GREETING (5 * 60 * 1000)
#define TMO_MAIL (5 * 60 * 1000)
#define TMO_RCPT (5 * 60 * 1000)
#define TMO_DATA_INIT (2 * 60 * 1000)
#define TMO_DATA_BLOCK (3 * 60 * 1000)
#define TMO_DATA_FINAL (10 * 60 * 1000)
#define TMO_OTHER (5 * 60 * 1000)

#define RING_CAP 128u          /* commands outstanding at once */
#define RING_INIT 16u          /* ring entries in the session's allocation; more
                                  (doubling up to RING_CAP) only for pipelined
                                  groups that need them, and kept */
#define EVQ_CAP 32u            /* queued events (event mode) */
/* Un-encoded SASL message without a token: the longest is SCRAM's
 * client-final (bounded by its 2048-octet AuthMessage) or client-first;
 * PLAIN needs 767. A token adds its length (XOAUTH2 / OAUTHBEARER wrap it
 * in at most 786 more octets). */
#define SASL_RAW_BASE 2304u
/* The AUTH line: "AUTH " mechanism SP base64(message) (RFC 4954 4). */
#define LINE_CAP_FOR(raw) (32u + SMTP_BASE64_ENCODED_LEN(raw))
/* Copy of the EHLO keywords' text: at most 1 KiB with the default reply
 * limits (typical EHLO replies take 100-400 octets); with reply limits set,
 * what one reply may hold, at most 8 KiB. The copy is its own allocation
 * of the size the reply needs (kept for the next EHLO when that fits).
 * Flags and values are parsed from the whole reply whatever fits here;
 * keywords that do not fit are counted in smtp_capabilities::ndropped. */
#define CAPS_TEXT_DEFAULT 1024u
#define CAPS_TEXT_MAX 8192u
#define STAGE_CAP 4096u        /* body bytes read through read_body */
#define BDAT_HDR_RESERVE 32u   /* "BDAT " 20 digits " LAST" CRLF fits */
#define TOKEN_MAX 8192u
#define RCPT_MAX 100000u
#define ENVID_MAX 100u         /* RFC 3461 4.4 */
#define ORCPT_MAX 500u         /* RFC 3461 4.2 (encoded) */

/* ------------------------------------------------------------------ */
/* Callbacks and options objects                                        */

struct smtp_client_callbacks {
  smtp_client_on_greeting greeting;
  smtp_client_on_capabilities capabilities;
  smtp_client_on_starttls starttls;
  smtp_client_on_auth auth;
  smtp_client_on_mail mail;
  smtp_client_on_rcpt rcpt;
  smtp_client_on_body_start body_start;
  smtp_client_on_data data;
  smtp_client_on_txn_done txn_done;
  smtp_client_on_closed closed;
  smtp_client_on_event event;
  smtp_client_on_read_body read_body;
  smtp_client_on_trace trace;
  smtp_client_on_command command;
};

/* A callbacks object and the allocator that made it, in one block: the
 * session copies only the callbacks (the allocator is not part of every
 * session). */
typedef struct cb_box {
  smtp_mem mem;
  smtp_client_callbacks cbs;
} cb_box;

int smtp_client_callbacks_new(smtp_client_callbacks **out, const smtp_mem *mem) {
  cb_box *box;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  box = smtp__calloc(mem, 1, sizeof *box);
  if (!box) return SMTP_ERR_NOMEM;
  box->mem = *mem;
  *out = &box->cbs;
  return SMTP_OK;
}
void smtp_client_callbacks_del(smtp_client_callbacks *cbs) {
  cb_box *box;
  smtp_mem mem;
  if (!cbs) return;
  box = (cb_box *)(void *)((char *)cbs - offsetof(cb_box, cbs));
  mem = box->mem;
  smtp__free(&mem, box);
}

#define CB_SETTER(name, type)                                                        \
  void smtp_client_callbacks_set_##name(smtp_client_callbacks *cbs, type cb) {       \
    if (cbs) cbs->name = cb;                                                         \
  }
CB_SETTER(greeting, smtp_client_on_greeting)
CB_SETTER(capabilities, smtp_client_on_capabilities)
CB_SETTER(starttls, smtp_client_on_starttls)
CB_SETTER(auth, smtp_client_on_auth)
CB_SETTER(mail, smtp_client_on_mail)
CB_SETTER(rcpt, smtp_client_on_rcpt)
CB_SETTER(body_start, smtp_client_on_body_start)
CB_SETTER(data, smtp_client_on_data)
CB_SETTER(txn_done, smtp_client_on_txn_done)
CB_SETTER(closed, smtp_client_on_closed)
CB_SETTER(event, smtp_client_on_event)
CB_SETTER(read_body, smtp_client_on_read_body)
CB_SETTER(trace, smtp_client_on_trace)
CB_SETTER(command, smtp_client_on_command)

struct smtp_client_options {
  smtp_mem mem;
  char ehlo[SMTP_DOMAIN_MAX + 1];
  int lmtp, starttls, allow_plain, require_utf8, requiretls;
  unsigned int disabled, mech;
  size_t max_line, max_lines, out_cap;
  char authzid[256], user[256], pass[256];
  int have_password, have_token;
  char *token; /* allocated, NUL-terminated */
  int (*random)(void *buf, size_t len, void *user_data);
  void *random_ud;
  unsigned int auth_order[SMTP__AUTH_ORDER_MAX]; /* preference, strongest first */
  size_t auth_order_len;
  uint32_t scram_max_iter;
  smtp_sasl_mechanism custom[SMTP__CUSTOM_MAX]; /* application mechanisms */
  char custom_name[SMTP__CUSTOM_MAX][SMTP__MECH_NAME_MAX + 1];
  size_t ncustom;
  int tmo[SMTP_CLIENT_TIMEOUT_ALL];
  char *xclient; /* "XCLIENT ..." (allocated, NUL-terminated) and, after its
                  * NUL, the HELO attribute for the EHLO that follows (or "") */
  size_t xclient_len;
  char *xforward; /* "XFORWARD ..." (allocated, NUL-terminated), or NULL */
  size_t xforward_len;
};

/* RFC 5321 4.5.3.2 defaults, by smtp_client_timeout_phase. */
static const int tmo_default[SMTP_CLIENT_TIMEOUT_ALL] = {
    TMO_GREETING, TMO_MAIL, TMO_RCPT, TMO_DATA_INIT, TMO_DATA_BLOCK, TMO_DATA_FINAL, TMO_OTHER};

int smtp_client_options_set_timeout(smtp_client_options *opt, int phase, int ms) {
  int i;
  if (!opt || phase < 0 || phase > SMTP_CLIENT_TIMEOUT_ALL || ms < 1 || ms > 86400000)
    return SMTP_ERR_INVALID_ARGUMENT;
  for (i = 0; i < SMTP_CLIENT_TIMEOUT_ALL; i++)
    if (phase == SMTP_CLIENT_TIMEOUT_ALL || phase == i) opt->tmo[i] = ms;
  return SMTP_OK;
}

int smtp_client_options_new(smtp_client_options **out, const smtp_mem *mem) {
  smtp_client_options *o;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  o = smtp__calloc(mem, 1, sizeof *o);
  if (!o) return SMTP_ERR_NOMEM;
  o->mem = *mem;
  memcpy(o->ehlo, "localhost", 10);
  o->out_cap = SMTP_CLIENT_OUTPUT_DEFAULT;
  *out = o;
  return SMTP_OK;
}

void smtp_client_options_del(smtp_client_options *opt) {
  smtp_mem mem;
  if (!opt) return;
  mem = opt->mem;
  if (opt->token) {
    smtp__wipe(opt->token, strlen(opt->token));
    smtp__free(&mem, opt->token);
  }
  smtp__wipe(opt->pass, sizeof opt->pass);
  smtp__free(&mem, opt->xclient);
  smtp__free(&mem, opt->xforward);
  smtp__free(&mem, opt);
}

int smtp_client_options_set_xforward(smtp_client_options *opt, const smtp_xattrs *attrs) {
  char buf[SMTP_COMMAND_LINE_MAX];
  smtp_ssize n;
  char *p;
  if (!opt) return SMTP_ERR_INVALID_ARGUMENT;
  if (!attrs) {
    smtp__free(&opt->mem, opt->xforward);
    opt->xforward = NULL;
    opt->xforward_len = 0;
    return SMTP_OK;
  }
  n = smtp_xattrs_format(SMTP_XFORWARD, attrs, buf, sizeof buf - 11); /* "XFORWARD " + CRLF */
  if (n == SMTP_ERR_BUFFER_TOO_SMALL) return SMTP_ERR_TOO_LONG;
  if (n < 0) return (int)n;
  p = smtp__malloc(&opt->mem, (size_t)n + 10);
  if (!p) return SMTP_ERR_NOMEM;
  memcpy(p, "XFORWARD ", 9);
  memcpy(p + 9, buf, (size_t)n);
  p[n + 9] = 0;
  smtp__free(&opt->mem, opt->xforward);
  opt->xforward = p;
  opt->xforward_len = (size_t)n + 10;
  return SMTP_OK;
}

int smtp_client_options_set_xclient(smtp_client_options *opt, const smtp_xattrs *attrs) {
  char buf[SMTP_COMMAND_LINE_MAX];
  smtp_ssize n;
  char *p;
  if (!opt) return SMTP_ERR_INVALID_ARGUMENT;
  if (!attrs) {
    smtp__free(&opt->mem, opt->xclient);
    opt->xclient = NULL;
    opt->xclient_len = 0;
    return SMTP_OK;
  }
  n = smtp_xattrs_format(SMTP_XCLIENT, attrs, buf, sizeof buf - 10); /* "XCLIENT " + CRLF */
  if (n == SMTP_ERR_BUFFER_TOO_SMALL) return SMTP_ERR_TOO_LONG;
  if (n < 0) return (int)n;
  {
    /* the announced HELO name is the one to use in the EHLO after XCLIENT */
    size_t hl = 0;
    const char *h = NULL;
    if (attrs->state[SMTP_XATTR_HELO] == SMTP_XVALUE_SET &&
        smtp_parse_ehlo_arg(attrs->value[SMTP_XATTR_HELO].ptr, attrs->value[SMTP_XATTR_HELO].len, 0, NULL) ==
            SMTP_OK) {
      h = attrs->value[SMTP_XATTR_HELO].ptr;
      hl = attrs->value[SMTP_XATTR_HELO].len;
    }
    p = smtp__malloc(&opt->mem, (size_t)n + 8 + 1 + hl + 1);
    if (!p) return SMTP_ERR_NOMEM;
    memcpy(p, "XCLIENT ", 8);
    memcpy(p + 8, buf, (size_t)n);
    p[n + 8] = 0;
    if (hl) memcpy(p + n + 9, h, hl);
    p[n + 9 + (smtp_ssize)hl] = 0;
    smtp__free(&opt->mem, opt->xclient);
    opt->xclient = p;
    opt->xclient_len = (size_t)n + 8 + 1 + hl + 1;
  }
  return SMTP_OK;
}

/* Controls (C0, DEL) are never allowed in a value the client puts on the
 * wire (docs/security.md 3). */
static int has_ctl(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f) return 1;
  }
  return 0;
}

int smtp_client_options_set_ehlo_name(smtp_client_options *opt, const char *name) {
  size_t n;
  int rc;
  if (!opt || !name) return SMTP_ERR_INVALID_ARGUMENT;
  n = strlen(name);
  if (has_ctl(name, n)) return SMTP_ERR_BAD_CHAR;
  if (n == 0) return SMTP_ERR_SYNTAX;
  if (n > SMTP_DOMAIN_MAX) return SMTP_ERR_DOMAIN_TOO_LONG;
  rc = smtp_parse_ehlo_arg(name, n, 0, NULL);
  if (rc != SMTP_OK) return rc;
  memcpy(opt->ehlo, name, n + 1);
  return SMTP_OK;
}

int smtp_client_options_set_lmtp(smtp_client_options *opt, int on) {
  if (!opt || on < 0 || on > 1) return SMTP_ERR_INVALID_ARGUMENT;
  opt->lmtp = (unsigned char)on;
  return SMTP_OK;
}

int smtp_client_options_set_starttls(smtp_client_options *opt, int policy) {
  if (!opt || policy < SMTP_CLIENT_STARTTLS_OPPORTUNISTIC || policy > SMTP_CLIENT_STARTTLS_OFF)
    return SMTP_ERR_INVALID_ARGUMENT;
  opt->starttls = policy;
  return SMTP_OK;
}

/* An identity or password: UTF-8, no controls, 1..255 octets. */
static int check_cred(const char *s, size_t *len, int may_be_empty) {
  size_t n = s ? strlen(s) : 0;
  *len = n;
  if (!s) return may_be_empty ? SMTP_OK : SMTP_ERR_INVALID_ARGUMENT;
  if (n == 0) return may_be_empty ? SMTP_OK : SMTP_ERR_INVALID_ARGUMENT;
  if (has_ctl(s, n)) return SMTP_ERR_BAD_CHAR;
  if (n > 255) return SMTP_ERR_TOO_LONG;
  if (smtp_utf8_validate(s, n) != SMTP_OK) return SMTP_ERR_UTF8;
  return SMTP_OK;
}

int smtp_client_options_set_credentials(smtp_client_options *opt, const char *authzid,
                                        const char *user, const char *password) {
  size_t zl, ul, pl;
  int rc;
  if (!opt) return SMTP_ERR_INVALID_ARGUMENT;
  if ((rc = check_cred(authzid, &zl, 1)) != SMTP_OK) return rc;
  if ((rc = check_cred(user, &ul, 0)) != SMTP_OK) return rc;
  if ((rc = check_cred(password, &pl, 0)) != SMTP_OK) return rc;
  memcpy(opt->authzid, authzid ? authzid : "", zl + 1);
  memcpy(opt->user, user, ul + 1);
  memcpy(opt->pass, password, pl + 1);
  opt->have_password = 1;
  return SMTP_OK;
}

int smtp_client_options_set_oauth_token(smtp_client_options *opt, const char *user,
                                        const char *token) {
  size_t ul, tl, i;
  int rc;
  char *copy;
  if (!opt || !token) return SMTP_ERR_INVALID_ARGUMENT;
  if ((rc = check_cred(user, &ul, 1)) != SMTP_OK) return rc;
  tl = strlen(token);
  if (tl == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (tl > TOKEN_MAX) return SMTP_ERR_TOO_LONG;
  /* RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
  for (i = 0; i < tl; i++) {
    unsigned char ch = (unsigned char)token[i];
    if (ch < 0x21 || ch > 0x7e) return SMTP_ERR_BAD_CHAR;
  }
  copy = smtp__malloc(&opt->mem, tl + 1);
  if (!copy) return SMTP_ERR_NOMEM;
  memcpy(copy, token, tl + 1);
  if (opt->token) smtp__free(&opt->mem, opt->token);
  opt->token = copy;
  if (!opt->have_password) memcpy(opt->user, user ? user : "", ul + 1);
  opt->have_token = 1;
  return SMTP_OK;
}

int smtp_client_options_set_auth_mechanism(smtp_client_options *opt, unsigned int mech) {
  if (!opt) return SMTP_ERR_INVALID_ARGUMENT;
  if (mech == 0) {
    opt->mech = 0;
    return SMTP_OK;
  }
  if (mech & (mech - 1)) return SMTP_ERR_INVALID_ARGUMENT;
  if (!(smtp__sasl_client_supported(1, 1, 1) & mech)) return SMTP_ERR_UNSUPPORTED;
  opt->mech = mech;
  return SMTP_OK;
}

int smtp_client_options_set_allow_plaintext_auth(smtp_client_options *opt, int on) {
  if (!opt || on < 0 || on > 1) return SMTP_ERR_INVALID_ARGUMENT;
  opt->allow_plain = (unsigned char)on;
  return SMTP_OK;
}
int smtp_client_options_set_disabled_extensions(smtp_client_options *opt, unsigned int f) {
  if (!opt) return SMTP_ERR_INVALID_ARGUMENT;
  opt->disabled = f;
  return SMTP_OK;
}
int smtp_client_options_set_require_smtputf8(smtp_client_options *opt, int on) {
  if (!opt || on < 0 || on > 1) return SMTP_ERR_INVALID_ARGUMENT;
  opt->require_utf8 = (unsigned char)on;
  return SMTP_OK;
}
int smtp_client_options_set_requiretls(smtp_client_options *opt, int on) {
  if (!opt || on < 0 || on > 1) return SMTP_ERR_INVALID_ARGUMENT;
  opt->requiretls = (unsigned char)on;
  return SMTP_OK;
}
int smtp_client_options_set_reply_limits(smtp_client_options *opt, size_t max_line,
                                         size_t max_lines) {
  if (!opt) return SMTP_ERR_INVALID_ARGUMENT;
  if (max_line && (max_line < 64 || max_line > 65536)) return SMTP_ERR_INVALID_ARGUMENT;
  if (max_lines > 10000) return SMTP_ERR_INVALID_ARGUMENT;
  opt->max_line = max_line;
  opt->max_lines = max_lines;
  return SMTP_OK;
}
int smtp_client_options_set_output_buffer(smtp_client_options *opt, size_t bytes) {
  if (!opt || bytes < SMTP_CLIENT_OUTPUT_MIN || bytes > (16u << 20)) return SMTP_ERR_INVALID_ARGUMENT;
  opt->out_cap = bytes;
  return SMTP_OK;
}
int smtp_client_options_set_random(smtp_client_options *opt,
                                   int (*fn)(void *buf, size_t len, void *user_data),
                                   void *user_data) {
  if (!opt) return SMTP_ERR_INVALID_ARGUMENT;
  opt->random = fn;
  opt->random_ud = user_data;
  return SMTP_OK;
}

/* ------------------------------------------------------------------ */
/* Transactions                                                         */

typedef struct txn_rcpt {
  size_t addr_off, addr_len;
  size_t orcpt_off, orcpt_len;
  int has_orcpt;
  unsigned int notify;
  int rcpt_code, data_code;
  int accepted;
} txn_rcpt;

/* A parameter added by the application (kept in the txn buffer). */
typedef struct txn_param {
  int verb;            /* SMTP_VERB_MAIL or SMTP_VERB_RCPT */
  size_t rcpt;         /* RCPT: the recipient, or SMTP_CLIENT_ALL_RCPTS */
  size_t kw_off, kw_len, val_off, val_len;
  int has_value;
  unsigned int ext;    /* the extension that owns it, 0 when unknown */
} txn_param;

struct smtp_client_txn {
  smtp_mem mem;
  txn_param *params;
  size_t nparams, params_cap;
  char *buf;
  size_t buf_len, buf_cap;
  txn_rcpt *rcpts;
  size_t nrcpt, rcpt_cap;
  int has_from;
  size_t from_off, from_len;
  int utf8;        /* some address needs SMTPUTF8 */
  int ret;
  int has_envid;
  size_t envid_off, envid_len;
  uint64_t size_hint;
  int has_size;
  int body_type;
  int body_source;
  const char *body;
  size_t body_len;
  int requiretls;
  smtp_client_session *owner; /* set while submitted */
};

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
  if (has_ctl(a, n)) return SMTP_ERR_BAD_CHAR;
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
    if (has_ctl(orcpt, orcpt_len)) return SMTP_ERR_BAD_CHAR;
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
  return SMTP_OK;
}

int smtp_client_txn_set_body_source(smtp_client_txn *t, int source) {
  if (!t || (source != SMTP_CLIENT_BODY_READ && source != SMTP_CLIENT_BODY_PUSH))
    return SMTP_ERR_INVALID_ARGUMENT;
  if (t->owner) return SMTP_ERR_INVALID_STATE;
  t->body_source = source;
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

static void bput(char *buf, size_t cap, size_t *n, const char *s, size_t l);

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
  if (has_ctl(kw, kwlen)) return SMTP_ERR_BAD_CHAR;
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
    if (d->parse(sv, val != NULL, &v, scratch, sizeof scratch, &used) != 0) return SMTP_ERR_PARAM;
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
    bput(buf, cap, n, " ", 1);
    bput(buf, cap, n, t->buf + p->kw_off, p->kw_len);
    if (p->has_value) {
      bput(buf, cap, n, "=", 1);
      bput(buf, cap, n, t->buf + p->val_off, p->val_len);
    }
  }
}

/* Every parameter of an extension must have been offered (an unknown one
 * is the application's business and goes out as it is). */
static int txn_params_offered(const smtp_client_txn *t, unsigned int ext) {
  size_t i;
  for (i = 0; i < t->nparams; i++)
    if (t->params[i].ext && !(t->params[i].ext & ext)) return 0;
  return 1;
}

/* ------------------------------------------------------------------ */
/* The session                                                          */

enum kind {
  K_GREETING, K_EHLO, K_HELO, K_STARTTLS, K_AUTH, K_MAIL, K_RCPT, K_DATA, K_DATA_END,
  K_BDAT, K_BDAT_LAST, K_RSET, K_QUIT, K_RAW, K_XCLIENT, K_XFORWARD
};

typedef struct pend {
  uint64_t end;   /* output offset just after the command's bytes */
  int kind;
  unsigned int index; /* K_RCPT: recipient (< RCPT_MAX); K_DATA_END/K_BDAT_LAST: replies left */
} pend;

enum phase {
  PH_GREETING, PH_EHLO, PH_STARTTLS, PH_TLS, PH_AUTH, PH_READY, PH_TXN, PH_QUIT, PH_CLOSED
};

/* Single commands produce() owes (bit flags). */
#define T_EHLO 1u
#define T_HELO 2u
#define T_STARTTLS 4u
#define T_LINE 8u   /* c->line: AUTH and its responses */
#define T_RSET 16u
#define T_QUIT 32u
#define T_DOT 64u   /* ".\r\n" after an unexpected 354 (RFC 2920 3.1 example) */
#define T_XCLIENT 128u /* XCLIENT (Postfix's XCLIENT_README), once, when offered */
#define T_XFORWARD 256u /* XFORWARD (Postfix's XFORWARD_README), after the last EHLO, when offered */

enum body_phase { B_NONE, B_WAIT, B_SEND, B_DONE };

/* What a session keeps of its options. The EHLO name and the credentials
 * are copied into the session's allocation (the credentials only when set). */
/* What the session keeps of a server's capabilities to act on them. */
typedef struct caps_lite {
  unsigned int flags, auth_mechs;
  uint64_t size_max;
  int size_has_value;
  unsigned int limits_rcptmax, limits_mailmax, limits_rcptdomainmax;
  size_t nkeywords, ndropped;
} caps_lite;

typedef struct sess_opt {
  const char *ehlo;
  int lmtp, starttls, allow_plain, require_utf8, requiretls;
  unsigned int disabled, mech;
  size_t max_line, max_lines;
  int have_password, have_token;
  int (*random)(void *buf, size_t len, void *user_data);
  void *random_ud;
  int tmo[SMTP_CLIENT_TIMEOUT_ALL];
  const char *xclient; /* "XCLIENT ..." in the session's allocation, or NULL */
  size_t xclient_len;
  const char *xhelo;   /* the EHLO name after XCLIENT's 220 ("" : the own) */
  const char *xforward; /* "XFORWARD ..." in the session's allocation, or NULL */
} sess_opt;

struct smtp_client_session {
  smtp_mem mem;
  smtp_client_callbacks cb;
  int event_mode;
  void *ud;
  sess_opt opt;
  smtp__sasl_creds creds;
  char *cred_copy;       /* authzid, user, password and token copies (wiped) */
  size_t cred_copy_len;
  smtp_reply_parser *rp;

  /* output: out_cap bytes, OUT_INIT in the session's allocation until a
   * longer line or a body that must be stuffed moves it to out_block at
   * out_max (the configured size), where it stays */
  char *out;
  size_t out_cap, out_head, out_ready, out_tail;
  size_t out_max;
  char *out_block;
  int out_fixed;  /* a move failed: no more tries */
  int out_nomem;  /* a line could not fit even in an empty buffer */
  uint64_t produced, consumed;
  /* Zero-copy message data: a span of the application's memory body that
   * is sent after everything in `out`, straight from that memory (nothing
   * else is produced until it is consumed). */
  const char *direct;
  size_t direct_len;

  /* state */
  int phase;
  unsigned int todo;
  int error;        /* sticky: set when the session ended */
  int end_error;    /* reason to report once QUIT is answered */
  int closed_sent;
  int paused;
  int tls_active, tls_wanted;
  int tls_verified; /* the server's certificate verified (smtp_tls_info) */
  int recv_started;
  int helo_mode;
  int ehlo_sent_after_tls;
  unsigned int ext; /* usable extensions: offered minus disabled */
  int quit_requested;
  int one_reply;    /* test knob: return from mem_recv after each reply */
  unsigned long mails_sent; /* MAIL commands on this connection (LIMITS MAILMAX) */

  pend *ring;          /* ring_cap entries: ring_init, or ring_block once grown */
  pend *ring_block;
  size_t ring_cap, ring_head, ring_count;
  int ring_fixed;      /* a move failed: the ring keeps its size from then on */
  pend ring_init[RING_INIT];

  /* capabilities: what the session acts on is kept here; the greeting and
   * the keywords' text are copied, NUL after each item, into caps_text; the
   * whole smtp_capabilities (1.6 KB) exists only in event mode (in the
   * session's allocation, for the queued event) or once the application
   * asks smtp_client_session_capabilities() for it (caps_full). */
  int have_caps;
  int caps_full_ok;       /* caps_full is built from the current EHLO */
  caps_lite caps;
  char *caps_text;        /* caps_tcap bytes, caps_tlen used */
  size_t caps_tcap, caps_tlen, caps_limit;
  smtp_capabilities *caps_full;
  int caps_full_own;      /* caps_full is its own allocation */

  /* AUTH: the buffers exist only when credentials or a token were set */
  smtp__sasl_client *sasl;
  smtp__client_auth_cfg *acfg; /* preference, SCRAM bound, channel binding (with AUTH) */
  unsigned int auth_mech;
  int auth_cancelled;
  int ir_pending;  /* initial response waits for the first 334 */
  size_t ir_len;
  char *line;
  size_t line_cap, line_len;
  int line_redact; /* trace only the verb */
  char *sasl_raw;
  size_t raw_cap;

  /* transaction */
  smtp_client_txn *txn;
  int txn_active;
  unsigned int part, nparts;
  size_t part_first, part_end, rcpt_next;
  size_t part_replies, part_accepted, lmtp_next;
  int mail_emitted, data_emitted, mail_ok, part_failed_code;
  int part_done;
  int use_bdat, use_8bit, use_binary, use_utf8, use_size, use_requiretls, use_dsn;
  int allow_8bit_stream;
  uint64_t size_value;
  size_t naccepted, ndelivered;
  int any_temp, any_perm, local_error;
  int body_phase;
  int bdat_failed;
  smtp_stuffer st;
  int norm_cr;          /* BDAT normaliser: a CR is pending */
  uint64_t norm_line;   /* BDAT normaliser: octets of the current line */
  int norm_started;     /* BDAT normaliser: some byte was seen */
  int body_verbatim;    /* vetted memory body without bare CR/LF: sent as it is in
                           BDAT, with only line-start dots doubled in DATA */
  int verbatim_crlf;    /* ... and a final CRLF is added */
  int verbatim_bol;     /* verbatim DATA: the next octet starts a line */
  uint64_t body_off;    /* memory body: next byte */
  uint64_t body_total;  /* octets taken from the source */
  int src_eof;
  int read_blocked;
  int chunk_open;
  size_t chunk_hdr_pos, chunk_len;
  char *stage;
  size_t stage_off, stage_len;

  smtp__ep addrs[2]; /* SMTP_ADDR_CLIENT (local), SMTP_ADDR_SERVER (remote) */
  int xclient_done;  /* XCLIENT was sent on this connection */
  int xclient_ok;    /* ... and accepted: EHLO with its HELO name */
  int xforward_offered; /* the last EHLO reply listed XFORWARD */
  int xforward_done;    /* sent after that EHLO */

  /* events (event mode only) */
  smtp_client_event *evq;
  size_t evq_head, evq_count;
};

/* ---------------- helpers ---------------- */

static size_t ring_index(const smtp_client_session *c, size_t i) {
  return (c->ring_head + i) % c->ring_cap;
}

/* Whether the ring is full: a full ring below RING_CAP moves to a block
 * twice its size first. When that allocation fails the ring keeps its size
 * for the rest of the session (no retry on every command) and the pipeline
 * waits for replies to free entries: fewer commands in flight, never an
 * error. */
static int ring_full(smtp_client_session *c) {
  pend *nr;
  size_t i, cap;
  if (c->ring_count < c->ring_cap) return 0;
  if (c->ring_cap >= RING_CAP || c->ring_fixed) return 1;
  cap = c->ring_cap * 2 > RING_CAP ? RING_CAP : c->ring_cap * 2;
  nr = (pend *)smtp__malloc(&c->mem, cap * sizeof *nr);
  if (!nr) {
    c->ring_fixed = 1;
    return 1;
  }
  for (i = 0; i < c->ring_count; i++) nr[i] = c->ring[ring_index(c, i)];
  smtp__free(&c->mem, c->ring_block);
  c->ring = c->ring_block = nr;
  c->ring_cap = cap;
  c->ring_head = 0;
  return 0;
}

static int ring_push(smtp_client_session *c, int kind, size_t index) {
  pend *p;
  if (ring_full(c)) return 0;
  p = &c->ring[ring_index(c, c->ring_count)];
  p->kind = kind;
  p->index = (unsigned int)index; /* recipients < RCPT_MAX */
  p->end = c->produced;
  c->ring_count++;
  return 1;
}

static pend *ring_front(smtp_client_session *c) {
  return c->ring_count ? &c->ring[c->ring_head] : NULL;
}

static void ring_pop(smtp_client_session *c) {
  if (!c->ring_count) return;
  c->ring_head = (c->ring_head + 1) % c->ring_cap;
  c->ring_count--;
}

static int ring_has(const smtp_client_session *c, int kind) {
  size_t i;
  for (i = 0; i < c->ring_count; i++)
    if (c->ring[ring_index(c, i)].kind == kind) return 1;
  return 0;
}

static void trace(smtp_client_session *c, int dir, const char *s, size_t n) {
  if (c->cb.trace) c->cb.trace(c, dir, s, n, c->ud);
}

static void trace_reply(smtp_client_session *c, const smtp_reply *r) {
  char buf[600];
  size_t i;
  if (!c->cb.trace) return;
  for (i = 0; i < r->nlines; i++) {
    size_t n = 0, tl = r->lines[i].len;
    buf[n++] = (char)('0' + r->code / 100);
    buf[n++] = (char)('0' + r->code / 10 % 10);
    buf[n++] = (char)('0' + r->code % 10);
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

static size_t out_pending(const smtp_client_session *c) { return c->out_ready - c->out_head; }

/* Everything waiting for the transport: the buffer, then the direct span. */
static size_t send_pending(const smtp_client_session *c) { return out_pending(c) + c->direct_len; }

/* Spans shorter than this are copied into the output instead (one transport
 * write per span: short runs between line-start dots are cheaper copied). */
#define DIRECT_MIN 4096u
/* Output in the session's allocation: command lines (a long AUTH line
 * moves it to out_max) and short messages copied whole. */
#define OUT_INIT 1536u
#define DIRECT_SMALL 512u

/* Whether @p n octets of a vetted memory body go out from the body itself
 * rather than copied: always from DIRECT_MIN on; from DIRECT_SMALL on when
 * they do not fit the output's free room, so a small output never needs
 * to grow for such a body, while a short message still goes out in one
 * write with its final "." CRLF (or its BDAT line). */
static int use_direct(const smtp_client_session *c, size_t n) {
  return n >= DIRECT_MIN ||
         (n >= DIRECT_SMALL && n + SMTP_STUFF_FINISH_MAX > c->out_cap - c->out_tail + c->out_head);
}

static void out_compact(smtp_client_session *c) {
  size_t shift = c->out_head;
  if (shift == 0) return;
  if (c->out_tail > shift) memmove(c->out, c->out + shift, c->out_tail - shift);
  c->out_head = 0;
  c->out_ready -= shift;
  c->out_tail -= shift;
  if (c->chunk_open) c->chunk_hdr_pos -= shift;
}

/* Move the output to a block of out_max bytes, keeping its contents and
 * offsets. Returns 1 when it moved. */
static int out_grow(smtp_client_session *c) {
  char *nb;
  if (c->out_fixed || c->out_cap >= c->out_max) return 0;
  nb = (char *)smtp__malloc(&c->mem, c->out_max);
  if (!nb) {
    c->out_fixed = 1;
    return 0;
  }
  if (c->out_tail) memcpy(nb, c->out, c->out_tail);
  smtp__free(&c->mem, c->out_block);
  c->out = c->out_block = nb;
  c->out_cap = c->out_max;
  return 1;
}

/* Room for @p n more bytes at the tail (compacting when that helps). When
 * @p n does not fit even in the empty buffer, the buffer grows to out_max;
 * if that fails, the session ends with SMTP_ERR_NOMEM (out_nomem, seen by
 * produce()): waiting would not help. */
static int out_room(smtp_client_session *c, size_t n) {
  if (c->out_cap - c->out_tail >= n) return 1;
  if (c->out_head) out_compact(c);
  if (c->out_cap - c->out_tail >= n) return 1;
  if (c->out_tail == 0 && n > c->out_cap && !out_grow(c) && n <= c->out_max) c->out_nomem = 1;
  return c->out_cap - c->out_tail >= n;
}

/* Append finished bytes (only when no BDAT chunk is open). */
static void out_put(smtp_client_session *c, const char *s, size_t n) {
  memcpy(c->out + c->out_tail, s, n);
  c->out_tail += n;
  c->out_ready = c->out_tail;
  c->produced += n;
}

/* Queue one command line (without CRLF) and its expected reply. */
static int emit_line(smtp_client_session *c, int kind, size_t index, const char *s, size_t n,
                     size_t trace_len) {
  if (ring_full(c) || !out_room(c, n + 2)) return 0;
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
  ev.txn = c->txn_active ? c->txn : NULL;
  ev.part = c->part;
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
  ev.part = c->part;
  ev.result.nrcpt = t->nrcpt;
  ev.result.naccepted = c->txn_active ? c->naccepted : 0;
  ev.result.ndelivered = c->txn_active ? c->ndelivered : 0;
  if (ev.result.ndelivered > 0) ev.result.status = SMTP_OK;
  else if (status_override) ev.result.status = status_override;
  else if (c->local_error) ev.result.status = c->local_error;
  else if (c->any_temp) ev.result.status = SMTP_ERR_TEMPFAIL;
  else ev.result.status = SMTP_ERR_REJECTED;
  ev.error = ev.result.status;
  t->owner = NULL;
  c->txn = NULL;
  c->txn_active = 0;
  c->body_phase = B_NONE;
  c->chunk_open = 0;
  /* Never hand out the application's body after its transaction ended. */
  c->direct = NULL;
  c->direct_len = 0;
  if (c->phase == PH_TXN) c->phase = PH_READY;
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
static void session_end(smtp_client_session *c, int err) {
  if (c->phase == PH_CLOSED) return;
  if (c->txn) txn_finish(c, txn_status_for(err));
  c->phase = PH_CLOSED;
  c->error = err;
  c->todo = 0;
  c->out_head = c->out_ready = c->out_tail = 0;
  c->direct = NULL;
  c->direct_len = 0;
  c->ring_count = 0;
  c->tls_wanted = 0;
  c->body_phase = B_NONE;
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
  c->ring_count = 0;
  c->out_head = c->out_ready = c->out_tail = 0;
  c->direct = NULL;
  c->direct_len = 0;
  if (c->txn) {
    c->txn->owner = NULL;
    c->txn = NULL;
  }
  c->txn_active = 0;
}

/* End politely: fail what is open, send QUIT, report @p err after its reply. */
static void fail_quit(smtp_client_session *c, int err) {
  if (c->phase == PH_CLOSED || c->phase == PH_QUIT) return;
  c->end_error = err;
  if (c->txn) txn_finish(c, err);
  c->todo = T_QUIT;
  c->phase = PH_QUIT;
  c->tls_wanted = 0;
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
  want_auth = o->have_password || (o->have_token && o->token) || o->mech == SMTP_SASL_EXTERNAL ||
              o->ncustom > 0;
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
  c->opt.lmtp = o->lmtp;
  c->opt.starttls = o->starttls;
  c->opt.allow_plain = o->allow_plain;
  c->opt.require_utf8 = o->require_utf8;
  c->opt.requiretls = o->requiretls;
  c->opt.disabled = o->disabled;
  c->opt.mech = o->mech;
  c->opt.max_line = o->max_line;
  c->opt.max_lines = o->max_lines;
  c->opt.random = o->random;
  c->opt.random_ud = o->random_ud;
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
  c->out = base + off_out;
  c->out_cap = out_cap;
  c->out_max = out_max;
  c->stage = base + off_stage;
  c->caps_limit = caps_cap;
  if (event_mode) c->caps_full = (smtp_capabilities *)(void *)(base + off_full);
  if (want_auth) {
    char *q = base + off_cred;
    c->sasl = (smtp__sasl_client *)(void *)(base + off_sasl);
    memset(c->sasl, 0, sizeof *c->sasl);
    c->acfg = (smtp__client_auth_cfg *)(void *)(base + off_sasl +
                                                ALIGN16(sizeof(smtp__sasl_client)));
    memset(c->acfg, 0, sizeof *c->acfg);
    memcpy(c->acfg->order, o->auth_order, sizeof o->auth_order);
    c->acfg->order_len = o->auth_order_len;
    c->acfg->max_iter = o->scram_max_iter;
    memcpy(c->acfg->custom, o->custom, sizeof o->custom);
    memcpy(c->acfg->custom_name, o->custom_name, sizeof o->custom_name);
    c->acfg->ncustom = o->ncustom;
    for (size_t k = 0; k < o->ncustom; k++) c->acfg->custom[k].name = c->acfg->custom_name[k];
    c->line = base + off_line;
    c->line_cap = line_cap;
    c->sasl_raw = base + off_raw;
    c->raw_cap = raw_cap;
    c->cred_copy = q;
    c->cred_copy_len = cred_len;
    memcpy(q, o->authzid, zl + 1);
    c->creds.authzid = q;
    c->creds.authzid_len = zl;
    q += zl + 1;
    memcpy(q, o->user, ul + 1);
    c->creds.user = q;
    c->creds.user_len = ul;
    q += ul + 1;
    if (o->have_password) {
      memcpy(q, o->pass, pl + 1);
      c->creds.pass = q;
      c->creds.pass_len = pl;
      c->opt.have_password = 1;
    } else {
      *q = 0;
    }
    q += pl + 1;
    if (tok_len) {
      memcpy(q, o->token, tok_len + 1);
      c->creds.token = q;
      c->creds.token_len = tok_len;
      c->opt.have_token = 1;
    } else {
      *q = 0;
    }
  }
  rc = smtp_reply_parser_new(&c->rp, o->max_line, o->max_lines, mem);
  if (rc != SMTP_OK) {
    if (c->cred_copy) smtp__wipe(c->cred_copy, c->cred_copy_len);
    smtp__free(mem, c);
    return rc;
  }
  c->ring = c->ring_init;
  c->ring_cap = RING_INIT;
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
  if (c->sasl) smtp__sasl_client_wipe(c->sasl);
  if (c->acfg) smtp__wipe(c->acfg, sizeof *c->acfg);
  if (c->line) smtp__wipe(c->line, c->line_cap);
  if (c->sasl_raw) smtp__wipe(c->sasl_raw, c->raw_cap);
  if (c->cred_copy) smtp__wipe(c->cred_copy, c->cred_copy_len);
  smtp__free(&mem, c->ring_block);
  smtp__free(&mem, c->out_block);
  smtp__free(&mem, c->caps_text);
  if (c->caps_full_own) smtp__free(&mem, c->caps_full);
  smtp__free(&mem, c);
}

/* ---------------- capabilities ---------------- */

/* Copy @p sp's bytes and a NUL into the capability text and point @p sp
 * at the copy. */
static void caps_copy(smtp_client_session *c, smtp_span *sp) {
  size_t l = sp->len;
  if (l) memcpy(c->caps_text + c->caps_tlen, sp->ptr, l);
  c->caps_text[c->caps_tlen + l] = '\0';
  sp->ptr = c->caps_text + c->caps_tlen;
  c->caps_tlen += l + 1;
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
  gl = caps->greeting.len + 1 > c->caps_limit ? c->caps_limit - 1 : caps->greeting.len;
  need = gl + 1;
  for (i = 0; i < caps->nkeywords; i++) {
    size_t kl = caps->keywords[i].keyword.len + caps->keywords[i].params.len + 2;
    if (kl > c->caps_limit - need) break;
    need += kl;
  }
  if (need > c->caps_tcap) {
    char *t = (char *)smtp__malloc(&c->mem, need);
    if (!t) return SMTP_ERR_NOMEM;
    smtp__free(&c->mem, c->caps_text);
    c->caps_text = t;
    c->caps_tcap = need;
  }
  c->caps_tlen = 0;
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
  c->caps.flags = caps->flags;
  c->caps.auth_mechs = caps->auth_mechs;
  c->caps.size_max = caps->size_max;
  c->caps.size_has_value = caps->size_has_value;
  c->caps.limits_rcptmax = caps->limits_rcptmax;
  c->caps.limits_mailmax = caps->limits_mailmax;
  c->caps.limits_rcptdomainmax = caps->limits_rcptdomainmax;
  c->caps.nkeywords = caps->nkeywords;
  c->caps.ndropped = caps->ndropped;
  c->have_caps = 1;
  c->caps_full_ok = 0;
  return SMTP_OK;
}

/* Build the whole smtp_capabilities from what the session kept. */
static void caps_build(const smtp_client_session *c, smtp_capabilities *caps) {
  const char *t = c->caps_text;
  size_t i;
  memset(caps, 0, sizeof *caps);
  caps->flags = c->caps.flags;
  caps->auth_mechs = c->caps.auth_mechs;
  caps->size_max = c->caps.size_max;
  caps->size_has_value = c->caps.size_has_value;
  caps->limits_rcptmax = c->caps.limits_rcptmax;
  caps->limits_mailmax = c->caps.limits_mailmax;
  caps->limits_rcptdomainmax = c->caps.limits_rcptdomainmax;
  caps->nkeywords = c->caps.nkeywords;
  caps->ndropped = c->caps.ndropped;
  caps->greeting.ptr = "";
  if (!c->caps_tlen) return; /* HELO, or no copy */
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
  memset(&c->caps, 0, sizeof c->caps);
  c->caps_tlen = 0;
  c->have_caps = 0;
  c->caps_full_ok = 0;
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

/* Put "<prefix>" + base64(raw) into c->line. */
static int line_b64(smtp_client_session *c, const char *prefix, const char *raw, size_t n) {
  size_t pl = strlen(prefix);
  smtp_ssize k;
  if (pl > c->line_cap) return SMTP_ERR_TOO_LONG;
  memcpy(c->line, prefix, pl);
  if (n == 0 && pl) {
    /* RFC 4954 4: an empty initial response is sent as "=". */
    if (pl + 1 > c->line_cap) return SMTP_ERR_TOO_LONG;
    c->line[pl] = '=';
    c->line_len = pl + 1;
    return SMTP_OK;
  }
  k = smtp_base64_encode(raw, n, c->line + pl, c->line_cap - pl);
  if (k < 0) return SMTP_ERR_TOO_LONG;
  c->line_len = pl + (size_t)k;
  return SMTP_OK;
}

/* 1 when the AUTH keyword of the last EHLO lists @p name. The keywords'
 * text: greeting NUL, then keyword NUL params NUL for each. */
static int auth_offers_name(const smtp_client_session *c, const char *name) {
  const char *t = c->caps_text, *end;
  size_t nl = strlen(name);
  if (!t || !c->caps_tlen) return 0;
  end = t + c->caps_tlen;
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
  for (i = 0; i < c->acfg->ncustom; i++)
    if (auth_offers_name(c, c->acfg->custom_name[i])) break;
  if (i == c->acfg->ncustom) return 0;
  /* RFC 4954 4: no credentials in clear text unless allowed. */
  if (!c->tls_active && !c->opt.allow_plain) {
    auth_fail(c, SMTP_ERR_PLAINTEXT_AUTH, NULL);
    return 1;
  }
  rc = smtp__sasl_client_start_custom(c->sasl, &c->acfg->custom[i], &c->creds, c->sasl_raw,
                                      c->raw_cap, &rawlen, &has_ir);
  if (rc != SMTP_OK) {
    smtp__sasl_client_wipe(c->sasl);
    auth_fail(c, rc == SMTP_ERR_CALLBACK_REFUSED ? SMTP_ERR_AUTH_FAILED : SMTP_ERR_AUTH_UNAVAILABLE,
              NULL);
    return 1;
  }
  c->auth_mech = 0;
  c->ir_pending = 0;
  nl = strlen(c->acfg->custom_name[i]);
  if (has_ir && 6 + nl + SMTP_BASE64_ENCODED_LEN(rawlen) + 2 > SMTP_COMMAND_LINE_MAX) {
    c->ir_pending = 1; /* RFC 4954 4: sent after the empty 334 instead */
    c->ir_len = rawlen;
    has_ir = 0;
  }
  memcpy(c->line, "AUTH ", 5);
  memcpy(c->line + 5, c->acfg->custom_name[i], nl);
  if (has_ir) {
    char prefix[8 + SMTP__MECH_NAME_MAX];
    memcpy(prefix, c->line, 5 + nl);
    prefix[5 + nl] = ' ';
    prefix[6 + nl] = 0;
    rc = line_b64(c, prefix, c->sasl_raw, rawlen);
    c->line_redact = (int)(6 + nl);
  } else {
    c->line_len = 5 + nl;
    c->line_redact = -1;
  }
  if (!c->ir_pending) smtp__wipe(c->sasl_raw, rawlen);
  if (rc != SMTP_OK) {
    smtp__sasl_client_wipe(c->sasl);
    auth_fail(c, SMTP_ERR_AUTH_UNAVAILABLE, NULL);
    return 1;
  }
  c->auth_cancelled = 0;
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

  offered = c->caps.auth_mechs;
  if (!c->opt.mech && c->acfg->ncustom && start_custom(c)) return;
  if (!(c->ext & SMTP_EXT_AUTH)) {
    auth_fail(c, SMTP_ERR_AUTH_UNAVAILABLE, NULL);
    return;
  }
  /* RFC 4954 4 / docs/security.md 2: no credentials in clear text unless allowed. */
  if (!c->tls_active && !c->opt.allow_plain) {
    auth_fail(c, SMTP_ERR_PLAINTEXT_AUTH, NULL);
    return;
  }
  supported = smtp__sasl_client_supported(c->opt.have_password, c->opt.have_token,
                                          c->opt.random != NULL);
  /* RFC 5802 6: the -PLUS forms only with channel-binding data. */
  smtp__client_auth_creds_cb(&c->creds, &c->acfg->cbind, c->acfg->max_iter);
  if (!c->acfg->cbind.len) supported &= ~(unsigned)SMTP__SASL_SCRAM_PLUS;
  if (c->opt.mech)
    mech = ((offered & supported & c->opt.mech) || (offered & smtp__scram_plus_of(c->opt.mech)))
               ? c->opt.mech /* a SCRAM family whose -PLUS form is offered: see below */
               : 0;
  else if (c->acfg->order_len)
    mech = smtp__sasl_client_choose_order(offered, supported, c->acfg->order,
                                          c->acfg->order_len);
  else mech = smtp__sasl_client_choose(offered, supported);
  if (mech) mech = smtp__sasl_client_cb_policy(mech, offered, c->acfg->cbind.len != 0, &rc);
  else rc = SMTP_ERR_AUTH_UNAVAILABLE;
  if (!mech) {
    auth_fail(c, rc, NULL);
    return;
  }
  if (smtp__scram_alg(mech)) {
    unsigned char rnd[18];
    smtp_ssize k;
    if (!c->opt.random || c->opt.random(rnd, sizeof rnd, c->opt.random_ud) != 0) {
      auth_fail(c, SMTP_ERR_AUTH_UNAVAILABLE, NULL);
      return;
    }
    k = smtp_base64_encode(rnd, sizeof rnd, nonce, sizeof nonce);
    nonce_len = k > 0 ? (size_t)k : 0;
  }
  rc = smtp__sasl_client_start(c->sasl, mech, &c->creds, nonce, nonce_len, c->sasl_raw,
                               c->raw_cap, &rawlen, &has_ir);
  if (rc != SMTP_OK) {
    auth_fail(c, rc == SMTP_ERR_SASLPREP ? rc : SMTP_ERR_AUTH_UNAVAILABLE, NULL);
    return;
  }
  name = smtp_sasl_mech_name(mech);
  if (!name) name = "PLAIN";
  c->auth_mech = mech;
  c->ir_pending = 0;
  if (has_ir && 5 + strlen(name) + 1 + SMTP_BASE64_ENCODED_LEN(rawlen) + 2 > SMTP_COMMAND_LINE_MAX) {
    /* RFC 4954 4: an initial response that would make the AUTH line longer
     * than 512 octets is sent after the server's empty 334 instead. */
    c->ir_pending = 1;
    c->ir_len = rawlen;
    has_ir = 0;
  }
  if (has_ir) {
    size_t nl = strlen(name);
    memcpy(prefix, "AUTH ", 5);
    memcpy(prefix + 5, name, nl);
    prefix[5 + nl] = ' ';
    prefix[6 + nl] = 0;
    rc = line_b64(c, prefix, c->sasl_raw, rawlen);
    c->line_redact = (int)(6 + nl);
  } else {
    size_t nl = strlen(name);
    memcpy(c->line, "AUTH ", 5);
    memcpy(c->line + 5, name, nl);
    c->line_len = 5 + nl;
    c->line_redact = -1;
    rc = SMTP_OK;
  }
  if (!c->ir_pending) smtp__wipe(c->sasl_raw, rawlen);
  if (rc != SMTP_OK) {
    auth_fail(c, SMTP_ERR_AUTH_UNAVAILABLE, NULL);
    return;
  }
  c->auth_cancelled = 0;
  c->phase = PH_AUTH;
  c->todo |= T_LINE;
}

static void after_tls_decision(smtp_client_session *c) {
  if (c->opt.xforward && c->xforward_offered && !c->xforward_done) {
    /* the attributes go with this EHLO's session; the reply continues here */
    c->xforward_done = 1;
    c->todo |= T_XFORWARD;
    return;
  }
  if (c->sasl) start_auth(c);
  else ready(c);
}

/* After the capabilities are known: STARTTLS, AUTH or ready. */
static void after_ehlo(smtp_client_session *c) {
  if (!c->tls_active && c->opt.starttls != SMTP_CLIENT_STARTTLS_OFF) {
    if (c->caps.flags & SMTP_EXT_STARTTLS) {
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
  c->rcpt_next = c->part_first;
  c->part_replies = 0;
  c->part_accepted = 0;
  c->lmtp_next = c->part_first;
  c->mail_emitted = c->data_emitted = 0;
  c->mail_ok = 0;
  c->part_failed_code = 0;
  c->part_done = 0;
  c->body_phase = B_NONE;
  c->bdat_failed = 0;
  c->chunk_open = 0;
  c->body_off = 0;
  c->body_total = 0;
  c->src_eof = 0;
  c->read_blocked = 0;
  c->stage_off = c->stage_len = 0;
  c->norm_cr = 0;
  c->norm_line = 0;
  c->norm_started = 0;
  c->verbatim_bol = 1;
  smtp_stuffer_init(&c->st, 0);
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

  c->body_verbatim = c->verbatim_crlf = 0;
  c->use_bdat = c->use_8bit = c->use_binary = c->use_utf8 = c->use_size = 0;
  c->use_requiretls = c->use_dsn = 0;
  c->allow_8bit_stream = 0;
  if (t->body_source == SMTP_CLIENT_BODY_READ && !c->cb.read_body) return SMTP_ERR_INVALID_ARGUMENT;
  /* RFC 8689 4.1: REQUIRETLS only over TLS and only when offered. */
  if (want_requiretls) {
    if (!c->tls_active) return SMTP_ERR_TLS_REQUIRED;
    /* ... and only when the server's certificate was validated. */
    if (!c->tls_verified) return SMTP_ERR_TLS_NOT_VERIFIED;
    if (!(x & SMTP_EXT_REQUIRETLS)) return SMTP_ERR_UNSUPPORTED;
    c->use_requiretls = 1;
  }
  /* RFC 6531 3.4: non-ASCII addresses need SMTPUTF8. */
  if (t->utf8 || c->opt.require_utf8) {
    if (!(x & SMTP_EXT_SMTPUTF8)) return SMTP_ERR_NEEDS_SMTPUTF8;
    c->use_utf8 = 1;
  }
  if (type == SMTP_BODY_BINARYMIME) {
    /* RFC 3030 3: BINARYMIME needs CHUNKING, the body goes in BDAT. */
    if (!(x & SMTP_EXT_BINARYMIME) || !(x & SMTP_EXT_CHUNKING)) return SMTP_ERR_NEEDS_BINARYMIME;
    c->use_binary = 1;
    c->use_bdat = 1;
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
        c->use_8bit = 1;
      }
    }
    if (type == SMTP_BODY_8BITMIME) {
      if (!(x & SMTP_EXT_8BITMIME)) return SMTP_ERR_NEEDS_8BITMIME;
      c->use_8bit = 1;
    }
    if (type == SMTP_BODY_UNSPECIFIED && t->body_source != SMTP_CLIENT_BODY_MEMORY &&
        (x & SMTP_EXT_8BITMIME))
      c->use_8bit = 1; /* unknown content: 8BITMIME covers 7-bit too (RFC 6152 3) */
    c->allow_8bit_stream = c->use_8bit;
    if (x & SMTP_EXT_CHUNKING) c->use_bdat = 1;
    if (t->body_source == SMTP_CLIENT_BODY_MEMORY) {
      /* Vetted above and without bare CR / bare LF: BDAT sends it as it
       * is, plus a final CRLF when it lacks one. */
      c->body_verbatim = !(seen & (SMTP_DATA_SEEN_BARE_CR | SMTP_DATA_SEEN_BARE_LF));
      c->verbatim_crlf = wire != (uint64_t)t->body_len; /* only the final CRLF is added */
    }
  }
  /* RFC 1870 4: declare SIZE, refuse locally what the server cannot take. */
  if (t->body_source == SMTP_CLIENT_BODY_MEMORY) {
    /* BINARYMIME goes out byte for byte in BDAT; text is normalised. */
    size = c->use_binary ? (uint64_t)t->body_len : wire;
    have_size = 1;
  } else if (t->has_size) {
    size = t->size_hint;
    have_size = 1;
  }
  if (have_size && (x & SMTP_EXT_SIZE)) {
    if (c->caps.size_has_value && c->caps.size_max > 0 && size > c->caps.size_max)
      return SMTP_ERR_MESSAGE_TOO_BIG;
    c->use_size = 1;
    c->size_value = size;
  }
  if (x & SMTP_EXT_DSN) c->use_dsn = 1;
  /* A parameter of an extension the server did not offer: refused here
   * (RFC 5321 4.1.1.11 would give 555). */
  if (!txn_params_offered(t, x)) return SMTP_ERR_UNSUPPORTED;
  /* RFC 9422: LIMITS RCPTMAX splits the recipients over transactions. */
  c->nparts = 1;
  if (c->caps.limits_rcptmax && t->nrcpt > c->caps.limits_rcptmax)
    c->nparts = (unsigned int)((t->nrcpt + c->caps.limits_rcptmax - 1) / c->caps.limits_rcptmax);
  /* RFC 9422 (LIMITS MAILMAX): no more transactions than the server takes
   * on one connection; the application must reconnect for the rest. */
  if (c->caps.limits_mailmax && c->mails_sent + c->nparts > c->caps.limits_mailmax)
    return SMTP_ERR_LIMIT;
  return SMTP_OK;
}

static void part_bounds(smtp_client_session *c) {
  size_t per = c->nparts > 1 ? c->caps.limits_rcptmax : c->txn->nrcpt;
  c->part_first = (size_t)c->part * per;
  c->part_end = c->part_first + per;
  if (c->part_end > c->txn->nrcpt) c->part_end = c->txn->nrcpt;
}

static void txn_start(smtp_client_session *c) {
  int rc;
  size_t i;
  for (i = 0; i < c->txn->nrcpt; i++) {
    c->txn->rcpts[i].rcpt_code = c->txn->rcpts[i].data_code = 0;
    c->txn->rcpts[i].accepted = 0;
  }
  c->naccepted = c->ndelivered = 0;
  c->any_temp = c->any_perm = 0;
  c->local_error = 0;
  c->part = 0;
  rc = txn_plan(c);
  if (rc != SMTP_OK) {
    c->local_error = rc;
    txn_finish(c, rc);
    return;
  }
  c->txn_active = 1;
  c->phase = PH_TXN;
  part_bounds(c);
  part_reset(c);
}

static void note_code(smtp_client_session *c, int code) {
  if (class_of(code) == 4) c->any_temp = 1;
  else if (class_of(code) == 5) c->any_perm = 1;
}

/* This part is over; @p need_rset when the server may hold transaction state. */
static void part_over(smtp_client_session *c, int need_rset) {
  c->part_done = 1;
  c->body_phase = B_NONE;
  c->chunk_open = 0;
  if (need_rset) c->todo |= T_RSET;
}

static void body_start(smtp_client_session *c) {
  smtp_client_event ev;
  c->body_phase = B_SEND;
  /* A body that is stuffed, normalised or read goes through the output:
   * give it the configured size (fewer, larger writes). A vetted memory
   * body goes out from the application's memory or in short copies, and
   * leaves the buffer small. A failed move only means smaller writes. */
  if (!c->body_verbatim) (void)out_grow(c);
  ev_init(&ev, SMTP_CLIENT_EVENT_BODY_START);
  ev.txn = c->txn;
  ev.part = c->part;
  emit(c, &ev);
}

/* Append to a command buffer; past its end only the length grows, so the
 * caller sees the overflow and refuses the line. */
static void bput(char *buf, size_t cap, size_t *n, const char *s, size_t l) {
  if (*n <= cap && l <= cap - *n) memcpy(buf + *n, s, l);
  *n += l;
}

/* Format MAIL FROM with its parameters into @p buf, each through the
 * parameter table's formatter (lib/params.c), then the added ones. */
static size_t fmt_mail(smtp_client_session *c, char *buf, size_t cap) {
  smtp_client_txn *t = c->txn;
  size_t n = 0;
  smtp__pval v;
  memset(&v, 0, sizeof v);
  bput(buf, cap, &n, "MAIL FROM:<", 11);
  bput(buf, cap, &n, t->buf + t->from_off, t->from_len);
  bput(buf, cap, &n, ">", 1);
  if (c->use_size) {
    v.u = c->size_value;
    smtp__param_put(&smtp__param_table[SMTP__P_SIZE], &v, buf, cap, &n);
  }
  if (c->use_binary || c->use_8bit) {
    v.mode = c->use_binary ? SMTP_BODY_BINARYMIME : SMTP_BODY_8BITMIME;
    smtp__param_put(&smtp__param_table[SMTP__P_BODY], &v, buf, cap, &n);
  }
  if (c->use_utf8) smtp__param_put(&smtp__param_table[SMTP__P_SMTPUTF8], &v, buf, cap, &n);
  if (c->use_requiretls) smtp__param_put(&smtp__param_table[SMTP__P_REQUIRETLS], &v, buf, cap, &n);
  if (c->use_dsn) {
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

static size_t fmt_rcpt(smtp_client_session *c, size_t i, char *buf, size_t cap) {
  smtp_client_txn *t = c->txn;
  const txn_rcpt *r = &t->rcpts[i];
  size_t n = 0;
  smtp__pval v;
  memset(&v, 0, sizeof v);
  bput(buf, cap, &n, "RCPT TO:<", 9);
  bput(buf, cap, &n, t->buf + r->addr_off, r->addr_len);
  bput(buf, cap, &n, ">", 1);
  if (c->use_dsn) {
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

/* ---------------- body ---------------- */

static void body_abort(smtp_client_session *c, int err) {
  /* docs/security.md 1: an invalid body after 354 ends the session without the
   * terminator, so nothing is delivered. */
  c->local_error = err;
  session_end(c, err);
}

/* BDAT (non-binary) line-end normalisation: bare CR / bare LF -> CRLF, NUL
 * and lines over 1000 octets refused, 8-bit noted. No dot-stuffing: BDAT
 * data is counted, never scanned for a terminator (RFC 3030 2). */
static int norm_bdat(smtp_client_session *c, const char *in, size_t inlen, size_t *consumed,
                     char *out, size_t cap, size_t *outlen) {
  const char *p = in, *end = in + inlen;
  char *o = out, *oend = out + cap;
  for (;;) {
    const char *s;
    size_t take, n, budget;
    unsigned sn = 0;
    if (c->norm_cr) {
      /* The CR before this byte: CRLF either way (a bare CR is normalised). */
      if (p == end || oend - o < 2) break;
      c->norm_cr = 0;
      o[0] = '\r';
      o[1] = '\n';
      o += 2;
      c->norm_line = 0;
      if (*p == '\n') p++;
      continue;
    }
    if (p == end || o == oend) break;
    c->norm_started = 1;
    /* A run of line octets up to the next CR or LF, one octet past the
     * line's 998 (RFC 5321 4.5.3.1.6), as far as the output holds. */
    take = (size_t)(end - p) < (size_t)(oend - o) ? (size_t)(end - p) : (size_t)(oend - o);
    budget = SMTP_TEXT_LINE_MAX - 2 - (size_t)c->norm_line;
    if (take > budget + 1) take = budget + 1;
    s = smtp__data_scan_crlf(p, p + take, &sn);
    n = (size_t)(s - p);
    if (sn & (SMTP_DATA_SEEN_NUL | SMTP_DATA_SEEN_8BIT)) {
      /* The first offending octet decides, as if read one by one. */
      size_t i;
      for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == 0) return SMTP_ERR_NUL;
        if (ch >= 0x80 && !c->allow_8bit_stream) return SMTP_ERR_NEEDS_8BITMIME;
      }
    }
    if (n > budget) return SMTP_ERR_LINE_TOO_LONG;
    memcpy(o, p, n);
    o += n;
    p += n;
    c->norm_line += n;
    if (p == end || s == p - n + take) continue; /* the run went to the end of what fits */
    if (*p == '\r') {
      p++;
      c->norm_cr = 1;
      continue;
    }
    /* A bare LF: CRLF. */
    if (oend - o < 2) break;
    o[0] = '\r';
    o[1] = '\n';
    o += 2;
    p++;
    c->norm_line = 0;
  }
  *consumed = (size_t)(p - in);
  *outlen = (size_t)(o - out);
  return SMTP_OK;
}

static void chunk_close(smtp_client_session *c, int last) {
  char hdr[BDAT_HDR_RESERVE + 8];
  smtp_ssize h;
  size_t data_at;
  if (!c->chunk_open) return;
  if (c->chunk_len == 0 && !last) {
    c->out_tail = c->chunk_hdr_pos;
    c->chunk_open = 0;
    return;
  }
  h = smtp_bdat_format(hdr, sizeof hdr, c->chunk_len, last);
  if (h <= 2) h = 0;
  data_at = c->chunk_hdr_pos + BDAT_HDR_RESERVE;
  memmove(c->out + c->chunk_hdr_pos + (size_t)h, c->out + data_at, c->chunk_len);
  memcpy(c->out + c->chunk_hdr_pos, hdr, (size_t)h);
  trace(c, 'C', hdr, (size_t)h - 2);
  c->out_tail = c->chunk_hdr_pos + (size_t)h + c->chunk_len;
  c->out_ready = c->out_tail;
  c->produced += (size_t)h + c->chunk_len;
  c->chunk_open = 0;
  ring_push(c, last ? K_BDAT_LAST : K_BDAT, last && c->opt.lmtp ? c->part_accepted : 1);
  if (last) c->body_phase = B_DONE;
}

/* Convert body bytes into the output. Returns bytes of @p src consumed, or a
 * negative error (the session has then ended). At @p eof with everything
 * consumed, the message is finished. */
static smtp_ssize body_feed(smtp_client_session *c, const char *src, size_t len, int eof) {
  size_t used = 0;
  /* A memory body stays put until its transaction ends (client.h), so its
   * vetted runs can be sent from where they are (the direct span). */
  int stable = c->txn && c->txn->body_source == SMTP_CLIENT_BODY_MEMORY;
  for (;;) {
    if (c->body_phase != B_SEND) return (smtp_ssize)used;
    if (!c->use_bdat) {
      size_t room, consumed = 0;
      smtp_ssize n;
      if (used == len) {
        char fin[SMTP_STUFF_FINISH_MAX];
        smtp_ssize f;
        char note[64];
        int nl;
        if (!eof) return (smtp_ssize)used;
        if (ring_full(c) || !out_room(c, SMTP_STUFF_FINISH_MAX)) return (smtp_ssize)used;
        if (c->body_verbatim) {
          /* the final CRLF when the body lacks it, then "." CRLF */
          size_t fl = 0;
          if (c->verbatim_crlf) {
            fin[fl++] = '\r';
            fin[fl++] = '\n';
          }
          fin[fl++] = '.';
          fin[fl++] = '\r';
          fin[fl++] = '\n';
          f = (smtp_ssize)fl;
        } else {
          f = smtp_stuff_finish(&c->st, fin, sizeof fin);
        }
        if (f < 0) {
          body_abort(c, (int)f);
          return f;
        }
        out_put(c, fin, (size_t)f);
        nl = 0;
        {
          /* trace a summary, never the content */
          uint64_t v = c->body_total;
          char num[24];
          int k = 0;
          do { num[k++] = (char)('0' + v % 10); v /= 10; } while (v);
          memcpy(note, "<message: ", 10);
          nl = 10;
          while (k) note[nl++] = num[--k];
          memcpy(note + nl, " octets>", 8);
          nl += 8;
        }
        trace(c, 'C', note, (size_t)nl);
        trace(c, 'C', ".", 1);
        ring_push(c, K_DATA_END, c->opt.lmtp ? c->part_accepted : 1);
        c->body_phase = B_DONE;
        return (smtp_ssize)used;
      }
      size_t dot_at = SIZE_MAX; /* next line-start dot, when already searched */
      if (stable && c->body_verbatim && len - used >= DIRECT_SMALL) {
        /* Zero copy: the run up to the next line-start dot goes out from
         * the body itself, through that dot; the next run starts at the
         * same dot (not at a line start any more), so the dot is sent
         * twice (RFC 5321 4.5.2) without copying a byte. */
        size_t rest = len - used;
        size_t k = smtp__data_find_bol_dot(src + used, rest, c->verbatim_bol);
        size_t span = k < rest ? k + 1 : rest;
        dot_at = k; /* a short run is copied below without a second search */
        if (use_direct(c, span)) {
          size_t adv = k < rest ? k : rest;
          c->direct = src + used;
          c->direct_len = span;
          c->produced += span;
          used += adv;
          c->body_total += adv;
          c->verbatim_bol = k < rest ? 0 : src[used - 1] == '\n';
          return (smtp_ssize)used; /* nothing more until it is consumed */
        }
      }
      if (!out_room(c, 16)) return (smtp_ssize)used;
      room = c->out_cap - c->out_tail;
      if (c->body_verbatim) {
        /* A vetted memory body with CRLF line ends only (txn_plan): the
         * stuffer would only double the dots that start lines (RFC 5321
         * 4.5.2), so copy the runs between those. One octet of the room is
         * kept for such a dot. */
        size_t take = len - used < room - 1 ? len - used : room - 1;
        size_t k = dot_at != SIZE_MAX ? (dot_at < take ? dot_at : take)
                                      : smtp__data_find_bol_dot(src + used, take, c->verbatim_bol);
        char *o = c->out + c->out_tail;
        if (k < take) {
          memcpy(o, src + used, k);
          o[k] = '.';
          o[k + 1] = '.';
          n = (smtp_ssize)(k + 2);
          consumed = k + 1;
        } else {
          memcpy(o, src + used, take);
          n = (smtp_ssize)take;
          consumed = take;
        }
        c->verbatim_bol = src[used + consumed - 1] == '\n';
      } else {
        n = smtp_stuff(&c->st, src + used, len - used, &consumed, c->out + c->out_tail, room);
      }
      if (n < 0) {
        body_abort(c, (int)n);
        return n;
      }
      if ((c->st.seen & SMTP_DATA_SEEN_8BIT) && !c->allow_8bit_stream) {
        body_abort(c, SMTP_ERR_NEEDS_8BITMIME);
        return SMTP_ERR_NEEDS_8BITMIME;
      }
      c->out_tail += (size_t)n;
      c->out_ready = c->out_tail;
      c->produced += (uint64_t)n;
      used += consumed;
      c->body_total += consumed;
      if (consumed == 0 && n == 0) return (smtp_ssize)used;
    } else {
      size_t consumed = 0, outlen = 0, room;
      if (!c->chunk_open && stable && (c->use_binary || c->body_verbatim) &&
          use_direct(c, len - used + BDAT_HDR_RESERVE)) {
        /* Zero copy: one chunk of the rest of the body, sent from the
         * body itself after its BDAT line (RFC 3030 2: the data is
         * counted, never scanned). A missing final CRLF follows as a
         * chunk of its own. */
        char hdr[BDAT_HDR_RESERVE + 8];
        size_t rest = len - used;
        int last = eof && (c->use_binary || !c->verbatim_crlf);
        smtp_ssize h;
        if (!(c->ext & SMTP_EXT_PIPELINING) && ring_has(c, K_BDAT)) return (smtp_ssize)used;
        if (ring_full(c)) return (smtp_ssize)used;
        h = smtp_bdat_format(hdr, sizeof hdr, rest, last);
        if (h <= 2 || !out_room(c, (size_t)h)) return (smtp_ssize)used;
        trace(c, 'C', hdr, (size_t)h - 2);
        out_put(c, hdr, (size_t)h);
        c->direct = src + used;
        c->direct_len = rest;
        c->produced += rest;
        used = len;
        c->body_total += rest;
        ring_push(c, last ? K_BDAT_LAST : K_BDAT, last && c->opt.lmtp ? c->part_accepted : 1);
        if (last) c->body_phase = B_DONE;
        return (smtp_ssize)used;
      }
      if (!c->chunk_open) {
        /* Without PIPELINING each BDAT waits for the previous reply. */
        if (!(c->ext & SMTP_EXT_PIPELINING) && ring_has(c, K_BDAT)) return (smtp_ssize)used;
        if (ring_full(c)) return (smtp_ssize)used;
        if (!out_room(c, BDAT_HDR_RESERVE + 64)) return (smtp_ssize)used;
        c->chunk_open = 1;
        c->chunk_hdr_pos = c->out_tail;
        c->chunk_len = 0;
        c->out_tail += BDAT_HDR_RESERVE;
      }
      if (used == len) {
        if (!eof) return (smtp_ssize)used;
        if (!c->use_binary) {
          /* finish: a pending CR, and a final CRLF when missing */
          if (c->out_cap - c->out_tail < 2) {
            chunk_close(c, 0);
            continue;
          }
          if (c->body_verbatim ? c->verbatim_crlf : (c->norm_cr || c->norm_line > 0)) {
            c->out[c->out_tail++] = '\r';
            c->out[c->out_tail++] = '\n';
            c->chunk_len += 2;
            c->norm_cr = 0;
            c->norm_line = 0;
          }
        }
        chunk_close(c, 1);
        return (smtp_ssize)used;
      }
      room = c->out_cap - c->out_tail;
      if (c->use_binary || c->body_verbatim) {
        consumed = len - used < room ? len - used : room;
        memcpy(c->out + c->out_tail, src + used, consumed);
        outlen = consumed;
      } else {
        int rc = norm_bdat(c, src + used, len - used, &consumed, c->out + c->out_tail, room,
                           &outlen);
        if (rc != SMTP_OK) {
          body_abort(c, rc);
          return rc;
        }
      }
      c->out_tail += outlen;
      c->chunk_len += outlen;
      used += consumed;
      c->body_total += consumed;
      if (consumed == 0) chunk_close(c, 0); /* full: send what we have */
    }
  }
}

/* Pull body bytes from memory or the read callback as far as output room allows. */
static void body_pump(smtp_client_session *c, int allow_read) {
  smtp_client_txn *t = c->txn;
  while (c->body_phase == B_SEND && c->phase == PH_TXN) {
    smtp_ssize n;
    if (t->body_source == SMTP_CLIENT_BODY_MEMORY) {
      size_t off = (size_t)c->body_off;
      n = body_feed(c, t->body + off, t->body_len - off, 1);
      if (n < 0) return;
      c->body_off += (uint64_t)n;
      return;
    }
    if (t->body_source == SMTP_CLIENT_BODY_PUSH) {
      if (c->src_eof) body_feed(c, "", 0, 1); /* the pushed end could not be written yet */
      return;
    }
    if (t->body_source != SMTP_CLIENT_BODY_READ) return;
    if (c->stage_off < c->stage_len || c->src_eof) {
      n = body_feed(c, c->stage + c->stage_off, c->stage_len - c->stage_off, c->src_eof);
      if (n < 0) return;
      c->stage_off += (size_t)n;
      if (c->stage_off < c->stage_len || c->src_eof) return; /* output full, or finished */
    }
    if (!allow_read || c->read_blocked) return;
    {
      int eof = 0;
      smtp_ssize r = c->cb.read_body(c, t, c->stage, STAGE_CAP, &eof, c->ud);
      if (r == SMTP_ERR_WOULDBLOCK || r == SMTP_ERR_DEFERRED) {
        c->read_blocked = 1;
        return;
      }
      if (r < 0 || (size_t)r > STAGE_CAP) {
        body_abort(c, r < 0 ? (int)r : SMTP_ERR_CALLBACK_FAILURE);
        return;
      }
      c->stage_off = 0;
      c->stage_len = (size_t)r;
      if (eof) c->src_eof = 1;
      if (r == 0 && !eof) {
        c->read_blocked = 1; /* treat "nothing" as would-block */
        return;
      }
    }
  }
}

/* ---------------- producing output ---------------- */

static void produce_txn(smtp_client_session *c) {
  char buf[2048];
  size_t n;
  int pipelining = (c->ext & SMTP_EXT_PIPELINING) != 0;
  if (c->part_done) return;
  if (!c->mail_emitted) {
    if (c->ring_count) return; /* after RSET/earlier replies */
    n = fmt_mail(c, buf, sizeof buf);
    if (n > sizeof buf || !emit_line(c, K_MAIL, 0, buf, n, n)) return;
    c->mail_emitted = 1;
    c->mails_sent++;
  }
  while (c->rcpt_next < c->part_end) {
    if (!pipelining && (c->ring_count || !c->mail_ok)) return;
    n = fmt_rcpt(c, c->rcpt_next, buf, sizeof buf);
    if (n > sizeof buf || !emit_line(c, K_RCPT, c->rcpt_next, buf, n, n)) return;
    c->rcpt_next++;
  }
  if (!c->data_emitted && !c->use_bdat) {
    /* Every reply of the part is in and nothing was accepted (DATA did not
     * fit the pipelined group): no DATA at all, RSET. */
    if (c->ring_count == 0 && c->part_replies == c->part_end - c->part_first &&
        c->part_accepted == 0) {
      part_over(c, 1);
      return;
    }
    /* RFC 2920 3.1: DATA ends the pipelined group; without PIPELINING only
     * after a recipient was accepted. */
    if (!pipelining && (c->ring_count || c->part_accepted == 0)) return;
    if (!emit_line(c, K_DATA, 0, "DATA", 4, 4)) return;
    c->data_emitted = 1;
    c->body_phase = B_WAIT;
  }
}

static void produce_some(smtp_client_session *c, int allow_read);

static void produce(smtp_client_session *c, int allow_read) {
  produce_some(c, allow_read);
  if (c->out_nomem) session_end(c, SMTP_ERR_NOMEM);
}

static void produce_some(smtp_client_session *c, int allow_read) {
  for (;;) {
    unsigned int before = c->todo;
    int phase = c->phase;
    if (c->phase == PH_CLOSED || c->error) return;
    if (c->direct_len) return; /* bytes after a direct span wait for it */
    if (c->todo & T_EHLO) {
      char buf[SMTP_DOMAIN_MAX + 8];
      const char *name = c->xclient_ok && c->opt.xhelo[0] ? c->opt.xhelo : c->opt.ehlo;
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
      size_t tl = c->line_redact < 0 ? c->line_len : (size_t)c->line_redact;
      if (c->line_len + 2 > c->out_max) {
        auth_fail(c, SMTP_ERR_TOO_LONG, NULL);
        continue;
      }
      if (ring_full(c) || !out_room(c, c->line_len + 2)) return;
      if (c->line_redact >= 0) {
        char red[64];
        size_t k = tl < 40 ? tl : 40;
        memcpy(red, c->line, k);
        memcpy(red + k, "<redacted>", 10);
        trace(c, 'C', red, k + 10);
      } else {
        trace(c, 'C', c->line, c->line_len);
      }
      out_put(c, c->line, c->line_len);
      out_put(c, "\r\n", 2);
      ring_push(c, K_AUTH, 0);
      smtp__wipe(c->line, c->line_len);
      c->todo &= ~T_LINE;
    }
    if (c->todo & T_DOT) {
      if (ring_full(c) || !out_room(c, 3)) return;
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
    if (c->phase == PH_TXN && c->txn_active) {
      if (c->part_done) {
        if (c->ring_count) return;
        if (c->part + 1 < c->nparts) {
          c->part++;
          part_bounds(c);
          part_reset(c);
        } else {
          txn_finish(c, 0);
        }
        continue;
      }
      produce_txn(c);
      if (c->body_phase == B_SEND) body_pump(c, allow_read);
      return;
    }
    if (c->phase == PH_READY && c->ring_count == 0) {
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

/* Dispatch the reply to the oldest outstanding command. */
/* 250 to EHLO/LHLO (capabilities) or HELO (none). */
static int on_ehlo_ok(smtp_client_session *c, const smtp_reply *r, int kind) {
  smtp_capabilities caps;
  smtp_client_event ev;
  if (kind == K_EHLO) {
    int rc = store_caps(c, r, &caps);
    if (rc != SMTP_OK) return rc;
    c->ext = c->caps.flags & ~c->opt.disabled;
    if (!c->caps.auth_mechs) c->ext &= ~(unsigned)SMTP_EXT_AUTH;
    smtp_reply_parser_set_enhanced(c->rp, (c->ext & SMTP_EXT_ENHANCEDSTATUSCODES) != 0);
  } else {
    caps_clear(c);
    c->helo_mode = 1;
    c->have_caps = 1;
    caps_build(c, &caps);
  }
  ev_init(&ev, SMTP_CLIENT_EVENT_CAPABILITIES);
  ev.reply = r;
  if (c->event_mode) {
    /* the queued event's pointer lives until the next EHLO */
    *c->caps_full = caps;
    c->caps_full_ok = 1;
    ev.caps = c->caps_full;
  } else {
    ev.caps = &caps; /* valid during the callback */
  }
  emit(c, &ev);
  if (c->phase == PH_CLOSED) return SMTP_OK;
  c->xforward_offered = kind == K_EHLO && smtp_capabilities_find(&caps, "XFORWARD") != NULL;
  c->xforward_done = 0;
  if (kind == K_EHLO && c->opt.xclient && !c->xclient_done && smtp_capabilities_find(&caps, "XCLIENT")) {
    /* once per connection: the server starts over with a 220, then EHLO again */
    c->xclient_done = 1;
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
  if (!p || p->end > c->consumed) {
    /* Unsolicited, or ahead of its command: only 421 may do that (RFC 5321
     * 3.8); anything else is a protocol error (docs/security.md 6). */
    if (r->code == 421) {
      if (c->phase == PH_QUIT) {
        session_end(c, c->end_error);
        return SMTP_OK;
      }
      session_end(c, SMTP_ERR_SERVICE_UNAVAILABLE);
      return SMTP_OK;
    }
    return SMTP_ERR_PROTOCOL;
  }
  return handle_reply(c, r, rest);
}

static int handle_421(smtp_client_session *c, const smtp_reply *r) {
  (void)r;
  session_end(c, c->phase == PH_QUIT ? c->end_error : SMTP_ERR_SERVICE_UNAVAILABLE);
  return SMTP_OK;
}

static int handle_reply(smtp_client_session *c, const smtp_reply *r, size_t rest) {
  pend *p = ring_front(c);
  int kind = p->kind;
  size_t index = p->index;
  int code = r->code;
  smtp_client_event ev;

  /* Multi-reply entries stay until their last reply. */
  if ((kind == K_DATA_END || kind == K_BDAT_LAST) && index > 1) p->index--;
  else ring_pop(c);

  switch (kind) {
  case K_GREETING:
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
      session_end(c, SMTP_ERR_PROTOCOL);
    }
    return SMTP_OK;

  case K_EHLO:
  case K_HELO:
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

  case K_XFORWARD:
    if (code == 421) return handle_421(c, r);
    /* accepted or not (a server that refuses them keeps its own view) */
    after_tls_decision(c);
    return SMTP_OK;

  case K_XCLIENT:
    if (code == 421) return handle_421(c, r);
    if (code == 220) {
      /* the session is the announced client's now: EHLO again */
      c->xclient_ok = 1;
      c->todo |= T_EHLO;
      return SMTP_OK;
    }
    /* refused (550 5.7.0 untrusted, 501, ...): go on as the proxy itself */
    after_ehlo(c);
    return SMTP_OK;

  case K_STARTTLS:
    if (code == 421) return handle_421(c, r);
    if (code == 220) {
      /* RFC 3207 4.2, docs/security.md 2: nothing may follow the 220 before the
       * handshake; such bytes would be injected into the TLS session. */
      if (rest) return SMTP_ERR_PROTOCOL;
      c->phase = PH_TLS;
      c->tls_wanted = 1;
      emit_simple(c, SMTP_CLIENT_EVENT_STARTTLS, 0, r);
      return SMTP_OK;
    }
    if (c->opt.starttls == SMTP_CLIENT_STARTTLS_REQUIRED) {
      fail_quit(c, SMTP_ERR_TLS_REQUIRED);
      return SMTP_OK;
    }
    after_tls_decision(c); /* opportunistic: go on in clear text */
    return SMTP_OK;

  case K_AUTH:
    if (code == 334 && !c->auth_cancelled) {
      /* RFC 4954 4: a base64 challenge; answer it. */
      const smtp_span *l = &r->lines[0];
      smtp_ssize dn;
      size_t rawlen = 0;
      int rc;
      char chal[600];
      if (r->nlines != 1) return SMTP_ERR_PROTOCOL;
      dn = smtp_base64_decode(l->ptr, l->len, chal, sizeof chal);
      if (c->ir_pending) {
        /* the initial response, held back for the line limit */
        c->ir_pending = 0;
        rawlen = c->ir_len;
        rc = dn == 0 ? 0 : 1;
      } else if (dn < 0) {
        rc = 1; /* undecodable challenge: cancel */
      } else {
        rc = smtp__sasl_client_step(c->sasl, &c->creds, chal, (size_t)dn, c->sasl_raw,
                                    c->raw_cap, &rawlen);
      }
      if (rc == 0) {
        rc = line_b64(c, "", c->sasl_raw, rawlen);
        smtp__wipe(c->sasl_raw, rawlen);
        if (rc != SMTP_OK) rc = 1;
        c->line_redact = 0;
      }
      if (rc != 0) {
        /* RFC 4954 4: "*" cancels; the server answers 501. */
        c->line[0] = '*';
        c->line_len = 1;
        c->line_redact = -1;
        c->auth_cancelled = 1;
      }
      c->todo |= T_LINE;
      return SMTP_OK;
    }
    if (code == 421) {
      emit_simple(c, SMTP_CLIENT_EVENT_AUTH, SMTP_ERR_AUTH_TEMP, r);
      return handle_421(c, r);
    }
    if (code == 235 && !c->auth_cancelled && smtp__sasl_client_success_ok(c->sasl)) {
      smtp__sasl_client_wipe(c->sasl);
      emit_simple(c, SMTP_CLIENT_EVENT_AUTH, 0, r);
      if (c->phase != PH_CLOSED) ready(c);
      return SMTP_OK;
    }
    smtp__sasl_client_wipe(c->sasl);
    {
      int err;
      if (code == 535) err = SMTP_ERR_AUTH_FAILED;
      else if (code == 534) err = SMTP_ERR_AUTH_TOO_WEAK;
      else if (code == 454) err = SMTP_ERR_AUTH_TEMP;
      else if (is_2xx(code)) err = SMTP_ERR_AUTH_FAILED; /* unverified server (SCRAM) */
      else if (class_of(code) == 4) err = SMTP_ERR_TEMPFAIL;
      else if (c->auth_cancelled) err = SMTP_ERR_AUTH_FAILED;
      else err = SMTP_ERR_REJECTED;
      auth_fail(c, err, r);
    }
    return SMTP_OK;

  case K_MAIL:
    ev_init(&ev, SMTP_CLIENT_EVENT_MAIL);
    ev.reply = r;
    ev.txn = c->txn;
    ev.part = c->part;
    emit(c, &ev);
    if (!c->txn_active) return SMTP_OK;
    if (code == 421) return handle_421(c, r);
    note_code(c, is_2xx(code) ? 200 : code);
    c->mail_ok = is_2xx(code);
    if (!c->mail_ok && !(c->ext & SMTP_EXT_PIPELINING)) part_over(c, 1);
    else if (!c->mail_ok && c->use_bdat && !ring_has(c, K_RCPT)) part_over(c, 1);
    return SMTP_OK;

  case K_RCPT: {
    txn_rcpt *rc_ = &c->txn->rcpts[index];
    rc_->rcpt_code = code;
    /* RFC 5321 3.4 / 7.4: 251 is a success and 551 a refusal, reported as
     * they are; the client never follows the forward-path they name. */
    if (is_2xx(code) && c->mail_ok) {
      rc_->accepted = 1;
      c->part_accepted++;
      c->naccepted++;
    } else {
      note_code(c, code);
    }
    c->part_replies++;
    ev_init(&ev, SMTP_CLIENT_EVENT_RCPT);
    ev.reply = r;
    ev.txn = c->txn;
    ev.index = index;
    ev.part = c->part;
    emit(c, &ev);
    if (!c->txn_active) return SMTP_OK;
    if (code == 421) return handle_421(c, r);
    if (c->part_replies == c->part_end - c->part_first) {
      if (c->use_bdat) {
        if (c->mail_ok && c->part_accepted) body_start(c);
        else part_over(c, 1);
      } else if (!(c->ext & SMTP_EXT_PIPELINING) && c->part_accepted == 0) {
        part_over(c, 1); /* no DATA was sent */
      }
    }
    return SMTP_OK;
  }

  case K_DATA:
    if (code == 354) {
      if (c->mail_ok && c->part_accepted) {
        body_start(c);
      } else {
        /* RFC 2920 3.1: DATA accepted with no valid recipient: send an empty
         * message's terminator only; its reply must be a failure. */
        c->body_phase = B_DONE;
        c->todo |= T_DOT;
      }
      return SMTP_OK;
    }
    ev_init(&ev, SMTP_CLIENT_EVENT_DATA);
    ev.reply = r;
    ev.txn = c->txn;
    ev.part = c->part;
    emit(c, &ev);
    if (!c->txn_active) return SMTP_OK;
    if (code == 421) return handle_421(c, r);
    note_code(c, is_2xx(code) ? 554 : code); /* a 2xx to DATA is not a 354 */
    part_over(c, 1);
    return SMTP_OK;

  case K_BDAT:
    if (c->bdat_failed) return SMTP_OK; /* RFC 3030 2: chunks after a failure are discarded */
    if (is_2xx(code)) return SMTP_OK;
    ev_init(&ev, SMTP_CLIENT_EVENT_DATA);
    ev.reply = r;
    ev.txn = c->txn;
    ev.part = c->part;
    emit(c, &ev);
    if (!c->txn_active) return SMTP_OK;
    if (code == 421) return handle_421(c, r);
    note_code(c, code);
    c->bdat_failed = 1;
    /* RFC 3030 2: no more chunks after a failed BDAT. */
    c->body_phase = B_DONE;
    if (c->chunk_open) {
      c->out_tail = c->chunk_hdr_pos;
      c->chunk_open = 0;
    }
    c->part_done = 1;
    c->todo |= T_RSET;
    return SMTP_OK;

  case K_DATA_END:
  case K_BDAT_LAST: {
    size_t who = SMTP_CLIENT_NO_INDEX;
    int nothing_accepted = !(c->mail_ok && c->part_accepted);
    if (kind == K_BDAT_LAST && c->bdat_failed) return SMTP_OK;
    if (c->opt.lmtp && !nothing_accepted) {
      /* RFC 2033 4.2: one reply per accepted recipient, in RCPT order. */
      while (c->lmtp_next < c->part_end && !c->txn->rcpts[c->lmtp_next].accepted) c->lmtp_next++;
      if (c->lmtp_next < c->part_end) who = c->lmtp_next++;
    }
    if (!nothing_accepted) {
      if (who != SMTP_CLIENT_NO_INDEX) {
        c->txn->rcpts[who].data_code = code;
        if (is_2xx(code)) c->ndelivered++;
      } else {
        size_t i;
        for (i = c->part_first; i < c->part_end; i++)
          if (c->txn->rcpts[i].accepted) c->txn->rcpts[i].data_code = code;
        if (is_2xx(code)) c->ndelivered += c->part_accepted;
      }
      note_code(c, code);
    }
    ev_init(&ev, SMTP_CLIENT_EVENT_DATA);
    ev.reply = r;
    ev.txn = c->txn;
    ev.index = who;
    ev.part = c->part;
    emit(c, &ev);
    if (!c->txn_active) return SMTP_OK;
    if (code == 421) return handle_421(c, r);
    if (!ring_has(c, kind)) part_over(c, nothing_accepted);
    return SMTP_OK;
  }

  case K_RSET:
    if (code == 421) return handle_421(c, r);
    if (!is_2xx(code)) fail_quit(c, SMTP_ERR_PROTOCOL);
    return SMTP_OK;

  case K_QUIT:
    /* RFC 5321 4.1.1.10: 221, then the server closes. Any reply ends it. */
    session_end(c, c->end_error);
    return SMTP_OK;

  case K_RAW:
    /* smtp_client_session_command(): the reply is the application's. */
    emit_simple(c, SMTP_CLIENT_EVENT_COMMAND, class_of(code) == 2 || class_of(code) == 3 ? 0
                                              : class_of(code) == 4 ? SMTP_ERR_TEMPFAIL
                                                                    : SMTP_ERR_REJECTED, r);
    if (c->phase == PH_CLOSED) return SMTP_OK;
    if (code == 421) return handle_421(c, r);
    return SMTP_OK;
  }
  (void)rest;
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
    session_end(c, SMTP_ERR_PROTOCOL);
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
      session_end(c, e);
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
      session_end(c, rc);
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
  if (c->chunk_open && c->chunk_len > 0) chunk_close(c, 0);
  if (out_pending(c) == 0 && c->direct_len) {
    *data = c->direct;
    return (smtp_ssize)c->direct_len;
  }
  *data = c->out + c->out_head;
  return (smtp_ssize)out_pending(c);
}

int smtp_client_session_mem_consume(smtp_client_session *c, size_t n) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (out_pending(c) == 0 && c->direct_len) {
    /* The direct span (mem_send gave it when the buffer was empty). */
    if (n > c->direct_len) return SMTP_ERR_INVALID_ARGUMENT;
    c->direct += n;
    c->direct_len -= n;
    c->consumed += n;
    if (!c->direct_len) c->direct = NULL;
    return SMTP_OK;
  }
  if (n > out_pending(c)) return SMTP_ERR_INVALID_ARGUMENT;
  c->out_head += n;
  c->consumed += n;
  if (c->out_head == c->out_tail && !c->chunk_open) c->out_head = c->out_ready = c->out_tail = 0;
  else if (c->out_head == c->out_ready && !c->chunk_open) out_compact(c);
  return SMTP_OK;
}

int smtp_client_session_want_read(const smtp_client_session *c) {
  if (!c || c->phase == PH_CLOSED || c->phase == PH_TLS) return 0;
  return c->ring_count > 0;
}

int smtp_client_session_want_write(const smtp_client_session *c) {
  if (!c || c->phase == PH_CLOSED) return 0;
  if (send_pending(c) > 0 || (c->chunk_open && c->chunk_len)) return 1;
  if (c->todo) return 1;
  if (c->phase == PH_READY && c->ring_count == 0 && (c->txn || c->quit_requested)) return 1;
  if (c->body_phase == B_SEND && c->txn && c->txn->body_source != SMTP_CLIENT_BODY_PUSH &&
      !c->read_blocked)
    return 1;
  return 0;
}

int smtp_client_session_want_tls(const smtp_client_session *c) {
  return c && c->phase == PH_TLS && c->tls_wanted;
}

int smtp_client_session_tls_started(smtp_client_session *c, const smtp_tls_info *info) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_GREETING && !c->recv_started && c->produced == 0 && !c->tls_active) {
    c->tls_active = 1; /* implicit TLS (RFC 8314): before any byte */
    c->tls_verified = info && info->peer_verified ? 1 : 0;
    return SMTP_OK;
  }
  if (c->phase != PH_TLS) return SMTP_ERR_INVALID_STATE;
  /* RFC 3207 4.2: forget everything learnt before TLS, EHLO again. */
  c->tls_active = 1;
  c->tls_verified = info && info->peer_verified ? 1 : 0;
  c->tls_wanted = 0;
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
  session_end(c, error < 0 ? error : SMTP_ERR_TLS_HANDSHAKE);
  return SMTP_OK;
}

int smtp_client_session_tls_active(const smtp_client_session *c) { return c ? c->tls_active : 0; }

int smtp_client_session_timeout_ms(const smtp_client_session *c) {
  const pend *p;
  const int *t;
  if (!c || c->phase == PH_CLOSED) return -1;
  t = c->opt.tmo;
  if (c->phase == PH_TLS) return t[SMTP_CLIENT_TIMEOUT_OTHER];
  if ((c->body_phase == B_SEND || c->body_phase == B_DONE) && send_pending(c))
    return t[SMTP_CLIENT_TIMEOUT_DATA_BLOCK]; /* message data still being written */
  if (c->ring_count == 0) return send_pending(c) ? t[SMTP_CLIENT_TIMEOUT_OTHER] : -1;
  p = &c->ring[c->ring_head];
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

int smtp_client_session_on_timeout(smtp_client_session *c) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  session_end(c, SMTP_ERR_TIMEOUT);
  return SMTP_OK;
}

int smtp_client_session_connection_lost(smtp_client_session *c) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_CLOSED) return SMTP_OK;
  if (c->phase == PH_QUIT && !c->txn) {
    session_end(c, c->end_error);
    return SMTP_OK;
  }
  session_end(c, SMTP_ERR_CONNECTION_LOST);
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
  c->txn_active = 0;
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
  if (c->body_phase != B_SEND || c->phase != PH_TXN) return SMTP_ERR_WOULDBLOCK;
  if (c->src_eof) return SMTP_ERR_INVALID_STATE; /* the last bytes were pushed already */
  n = body_feed(c, data ? data : "", len, last ? 1 : 0);
  if (n < 0) return n;
  if (last && (size_t)n == len) c->src_eof = 1; /* finished now or by produce() later */
  if (n == 0 && len) return SMTP_ERR_WOULDBLOCK;
  return n;
}

int smtp_client_session_want_body(const smtp_client_session *c) {
  return c && c->phase == PH_TXN && c->body_phase == B_SEND && c->txn &&
         c->txn->body_source == SMTP_CLIENT_BODY_PUSH;
}

int smtp_client_session_resume_body(smtp_client_session *c) {
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  c->read_blocked = 0;
  return SMTP_OK;
}

int smtp_client_session_command(smtp_client_session *c, const char *line, size_t len) {
  static const char *const refused[] = {"MAIL", "RCPT", "DATA", "BDAT", "BURL", "RSET", "QUIT",
                                        "STARTTLS", "AUTH", "HELO", "EHLO", "LHLO"};
  size_t v = 0, i;
  if (!c || !line || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (has_ctl(line, len)) return SMTP_ERR_BAD_CHAR;
  if (len > SMTP_COMMAND_LINE_MAX - 2) return SMTP_ERR_TOO_LONG;
  while (v < len && smtp__is_alpha((unsigned char)line[v])) v++;
  if (v == 0 || (v < len && line[v] != ' ')) return SMTP_ERR_INVALID_ARGUMENT;
  for (i = 0; i < SMTP__ARRAY_LEN(refused); i++)
    if (smtp__casecmp(line, v, refused[i], strlen(refused[i])) == 0)
      return SMTP_ERR_INVALID_ARGUMENT;
  if (c->phase == PH_CLOSED) return SMTP_ERR_CLOSED;
  /* The safe point: ready, no transaction running, nothing outstanding. */
  if (c->phase != PH_READY || c->txn_active || c->ring_count || c->todo || c->quit_requested)
    return SMTP_ERR_INVALID_STATE;
  if (!emit_line(c, K_RAW, 0, line, len, len)) return c->out_nomem ? SMTP_ERR_NOMEM : SMTP_ERR_INVALID_STATE;
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
  if (!c || !c->have_caps) return NULL;
  if (!m->caps_full) {
    m->caps_full = (smtp_capabilities *)smtp__malloc(&m->mem, sizeof *m->caps_full);
    if (!m->caps_full) return NULL;
    m->caps_full_own = 1;
  }
  if (!m->caps_full_ok) {
    caps_build(m, m->caps_full);
    m->caps_full_ok = 1;
  }
  return m->caps_full;
}

int smtp_client_session_error(const smtp_client_session *c) { return c ? c->error : 0; }

int smtp_client_session_is_closed(const smtp_client_session *c) {
  return c ? c->phase == PH_CLOSED : 1;
}

void smtp__client_session_set_one_reply(smtp_client_session *c, int on) {
  if (c) c->one_reply = on ? 1 : 0;
}

unsigned int smtp_client_session_auth_mechanism(const smtp_client_session *c) {
  return c ? c->auth_mech : 0;
}

/* ---------------- AUTH settings: preference, SCRAM bound, channel binding */

int smtp_client_options_set_auth_preference(smtp_client_options *opt, const unsigned int *mechs,
                                            size_t n) {
  size_t i;
  unsigned int known = smtp__sasl_client_supported(1, 1, 1);
  if (!opt || (!mechs && n) || n > SMTP__AUTH_ORDER_MAX) return SMTP_ERR_INVALID_ARGUMENT;
  for (i = 0; i < n; i++)
    if (mechs[i] == 0 || (mechs[i] & (mechs[i] - 1)) || !(mechs[i] & known))
      return SMTP_ERR_INVALID_ARGUMENT;
  for (i = 0; i < n; i++) opt->auth_order[i] = mechs[i];
  opt->auth_order_len = n;
  return SMTP_OK;
}

int smtp_client_options_set_scram_max_iterations(smtp_client_options *opt, unsigned int n) {
  if (!opt || (n && n < SMTP__SCRAM_MIN_ITER)) return SMTP_ERR_INVALID_ARGUMENT;
  opt->scram_max_iter = n;
  return SMTP_OK;
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
  if (!c->acfg) return SMTP_OK; /* no AUTH in this session */
  smtp__wipe(&c->acfg->cbind, sizeof c->acfg->cbind);
  if (!type) return SMTP_OK;
  memcpy(c->acfg->cbind.name, type, tl);
  memcpy(c->acfg->cbind.data, data, len);
  c->acfg->cbind.len = len;
  return SMTP_OK;
}

int smtp_client_options_add_sasl_mechanism(smtp_client_options *opt, const smtp_sasl_mechanism *m) {
  size_t n;
  if (!opt || !m || m->version != SMTP_SASL_MECHANISM_VERSION || !m->start || !m->step ||
      !smtp__sasl_mech_name_ok(m->name))
    return SMTP_ERR_INVALID_ARGUMENT;
  if (opt->ncustom >= SMTP__CUSTOM_MAX) return SMTP_ERR_LIMIT;
  n = opt->ncustom++;
  opt->custom[n] = *m;
  memcpy(opt->custom_name[n], m->name, strlen(m->name) + 1);
  opt->custom[n].name = opt->custom_name[n];
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
