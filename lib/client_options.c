/* The client's callbacks and options objects: what a session copies when
 * it is created (client.c). */
#include <string.h>

#include <smtp/address.h>
#include <smtp/xclient.h>

#include "client_impl.h"
#include "text.h"

/* ------------------------------------------------------------------ */
/* Callbacks and options objects                                        */

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

int smtp_client_options_set_ehlo_name(smtp_client_options *opt, const char *name) {
  size_t n;
  int rc;
  if (!opt || !name) return SMTP_ERR_INVALID_ARGUMENT;
  n = strlen(name);
  if (smtp__has_ctl(name, n)) return SMTP_ERR_BAD_CHAR;
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
  if (smtp__has_ctl(s, n)) return SMTP_ERR_BAD_CHAR;
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

