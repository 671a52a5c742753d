/* Server side of AUTH (RFC 4954): the command's checks, SASL PLAIN
 * (RFC 4616) and LOGIN built in, and a step hook for every other mechanism.
 *
 * Rules kept here: AUTH only after EHLO, once, outside a transaction
 * (RFC 4954 4); only under TLS unless the application allows plaintext
 * (RFC 4954 4 and 14, answered 538 5.7.11); strict base64 (501 5.5.2);
 * "*" cancels (501 5.7.0); a PLAIN message needs exactly two NULs and an
 * authzid other than the authcid is refused unless allowed; SASL lines over
 * the input buffer give 500 5.5.6; failed exchanges are counted and the
 * session closes with 421 at the limit (docs/security.md 4). Credentials never
 * reach the trace; decoded secrets are wiped from the input buffer, where
 * they are decoded (see server_impl.h).
 *
 * The identity of an exchange is kept in the session's `user` buffer, which
 * is free while no AUTH succeeded (AUTH is refused after a success, RFC
 * 4954 4); it becomes the authenticated identity on 235. */
#include <string.h>

#include <smtp/sasl.h>

#include "server_impl.h"

#define BUILTIN_MECHS (SMTP_SASL_PLAIN | SMTP_SASL_LOGIN)

unsigned int smtp__srv_auth_offered(const smtp_server_session *s) {
  unsigned int m = 0;
  if (s->cb.auth || s->cb.auth_step) m |= s->opt.auth_mechs & BUILTIN_MECHS;
  if (s->cb.auth_step) m |= s->opt.auth_mechs & ~(unsigned)BUILTIN_MECHS;
  m |= s->opt.auth_mechs & smtp__srv_sasl_builtin(s);
  return m;
}

int smtp__srv_auth_usable(const smtp_server_session *s) {
  return smtp__srv_auth_offered(s) != 0 && (s->tls || s->opt.allow_plaintext_auth);
}

static void wipe(void *p, size_t n) {
  volatile unsigned char *q = p;
  while (n--) *q++ = 0;
}

/* The decoded SASL data of the current line, in the input buffer. */
static void wipe_decoded(smtp_server_session *s) { wipe(s->in, s->in_cap); }

void smtp__srv_auth_reset(smtp_server_session *s) {
  s->auth_active = 0;
  s->auth_exchange = 0;
  s->auth_mech = 0;
  s->auth_stepno = 0;
  s->auth_builtin = 0;
  s->login_stage = 0;
  smtp__srv_sasl_reset(s);
  if (!s->authed) {
    /* The identity of an exchange that did not succeed. */
    if (s->user) wipe(s->user, SRV_NAME_MAX + 1);
    s->user_len = 0;
  }
}

/* Called from apply() with the answer to an AUTH event. */
void smtp__srv_auth_complete(smtp_server_session *s, int code) {
  if (code == 334) {
    s->auth_active = 1; /* the client's next line is a SASL response */
    return;
  }
  if (code == 235) {
    s->authed = 1; /* the identity is in s->user already (set_identity()) */
  } else if (s->auth_exchange) {
    s->auth_failures++;
  }
  wipe_decoded(s);
  smtp__srv_auth_reset(s);
}

/* End the exchange with a session-made failure. */
void smtp__srv_auth_abort(smtp_server_session *s, int status_id) {
  s->op = SRV_OP_AUTH;
  (void)smtp__srv_finish_status(s, status_id);
}

/* "334 " base64(data) CRLF as one line, whatever its length (RFC 4954 4). */
static int emit_challenge(smtp_server_session *s, const void *data, size_t len) {
  size_t b64 = SMTP_BASE64_ENCODED_LEN(len), need = 4 + b64 + 2;
  char *o;
  smtp_ssize n;
  if (len > s->out_cap) return SMTP_ERR_TOO_LONG;
  o = smtp__srv_out_reserve(s, need);
  if (!o) return SMTP_ERR_TOO_LONG;
  memcpy(o, "334 ", 4);
  n = smtp_base64_encode(data, len, o + 4, b64);
  if (n < 0) return (int)n;
  o[4 + n] = '\r';
  o[5 + n] = '\n';
  smtp__srv_out_commit(s, 6 + (size_t)n);
  return SMTP_OK;
}

int smtp__srv_auth_emit_challenge(smtp_server_session *s, const void *data, size_t len) {
  int r = emit_challenge(s, data, len);
  if (r != SMTP_OK) return r;
  s->op = SRV_OP_AUTH;
  smtp__srv_apply(s, 334);
  return SMTP_OK;
}

/* A session-made challenge for the built-in mechanisms. */
static void builtin_challenge(smtp_server_session *s, const char *text) {
  if (emit_challenge(s, text, strlen(text)) != SMTP_OK) {
    smtp__srv_set_fatal(s, SMTP_ERR_CALLBACK_FAILURE); /* cannot happen: tiny */
    return;
  }
  s->op = SRV_OP_AUTH;
  smtp__srv_apply(s, 334);
}

/* Decode a SASL response to the start of the input buffer; -1 when not
 * strict base64 (RFC 4954 4). The response may itself sit in the input
 * buffer at or after its start: smtp_base64_decode() reads each 4-octet
 * quantum before it writes its (at most) 3 octets, so the output never
 * overtakes the input. The line is at most in_cap octets, its decoding
 * 3/4 of that. */
static smtp_ssize decode(smtp_server_session *s, const char *in, size_t len) {
  smtp_ssize n;
  if (len == 1 && in[0] == '=') return 0; /* empty initial response */
  n = smtp_base64_decode(in, len, s->in, s->in_cap);
  return n < 0 ? -1 : n;
}

static void call_auth(smtp_server_session *s, const smtp_server_auth *info) {
  int rv = 0;
  s->op = SRV_OP_AUTH;
  s->answered = 0;
  s->auth_builtin = 1;
  if (s->cb.auth) {
    SMTP__SRV_CALL(s, 1, rv, s->cb.auth(s, info, s->user_data));
  } else {
    rv = SMTP_ERR_CALLBACK_REFUSED;
  }
  /* The decoded password never outlives the callback. */
  wipe_decoded(s);
  (void)smtp__srv_after_cb(s, rv);
}

/* s->user exists: AUTH events need an auth or auth_step callback. */
static void set_identity(smtp_server_session *s, smtp_span id) {
  memmove(s->user, id.ptr, id.len);
  s->user_len = (unsigned short)id.len;
  s->user[id.len] = '\0';
}

void smtp__srv_auth_set_identity(smtp_server_session *s, const char *id, size_t len) {
  smtp_span sp;
  sp.ptr = id;
  sp.len = len;
  set_identity(s, sp);
}

/* RFC 4616 2: [authzid] NUL authcid NUL passwd. */
static void plain_check(smtp_server_session *s, const char *msg, size_t len) {
  smtp_sasl_plain p;
  smtp_server_auth info;
  if (smtp_sasl_plain_decode(msg, len, &p) != SMTP_OK || p.authcid.len > SRV_NAME_MAX ||
      p.authzid.len > SRV_NAME_MAX || smtp__has_ctl(p.authcid.ptr, p.authcid.len) ||
      smtp__has_ctl(p.authzid.ptr, p.authzid.len)) {
    smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_FAILED); /* docs/security.md 4: never authenticates */
    return;
  }
  if (p.authzid.len && s->opt.authzid_policy == SMTP_SERVER_AUTHZID_SAME &&
      (p.authzid.len != p.authcid.len || memcmp(p.authzid.ptr, p.authcid.ptr, p.authcid.len))) {
    smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_FAILED);
    return;
  }
  set_identity(s, p.authzid.len ? p.authzid : p.authcid);
  memset(&info, 0, sizeof info);
  info.mech = SMTP_SASL_PLAIN;
  info.authzid = p.authzid;
  info.authcid = p.authcid;
  info.password = p.passwd;
  call_auth(s, &info);
}

/* LOGIN: the user name, then the password, each its own response. */
static void login_user(smtp_server_session *s, const char *u, size_t n) {
  smtp_span id;
  if (n == 0 || n > SRV_NAME_MAX || smtp__has_ctl(u, n) || smtp_utf8_validate(u, n) != SMTP_OK) {
    smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_FAILED);
    return;
  }
  id.ptr = u;
  id.len = n;
  set_identity(s, id);
  s->login_stage = 1;
  builtin_challenge(s, "Password:");
}

static void login_pass(smtp_server_session *s, const char *pw, size_t n) {
  smtp_server_auth info;
  if (n == 0 || memchr(pw, '\0', n)) {
    smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_FAILED);
    return;
  }
  memset(&info, 0, sizeof info);
  info.mech = SMTP_SASL_LOGIN;
  info.authzid.ptr = s->user;
  info.authzid.len = 0;
  info.authcid.ptr = s->user;
  info.authcid.len = s->user_len;
  info.password.ptr = pw;
  info.password.len = n;
  call_auth(s, &info);
}

static void step(smtp_server_session *s, const char *data, size_t len, int has) {
  smtp_server_auth_step info;
  int rv = 0;
  memset(&info, 0, sizeof info);
  info.mech = s->auth_mech;
  info.mech_name = smtp_sasl_mech_name(s->auth_mech);
  info.step = s->auth_stepno;
  info.response.ptr = data;
  info.response.len = len;
  info.has_response = has;
  s->op = SRV_OP_AUTH;
  s->answered = 0;
  s->auth_builtin = 0;
  if (s->cb.auth_step) {
    SMTP__SRV_CALL(s, 1, rv, s->cb.auth_step(s, &info, s->user_data));
  } else {
    rv = SMTP_ERR_CALLBACK_REFUSED;
  }
  wipe_decoded(s);
  (void)smtp__srv_after_cb(s, rv);
}

static int auth_command(smtp_server_session *s, const char *args, size_t len) {
  unsigned int offered = smtp__srv_auth_offered(s), mech;
  size_t m = 0;
  int has_ir;
  smtp_ssize n = 0;
  s->op = SRV_OP_AUTH;
  s->auth_exchange = 0;
  if (!offered) {
    smtp__srv_auth_abort(s, SMTP_STATUS_NOT_IMPLEMENTED);
    return SMTP_OK;
  }
  /* RFC 4954 4: after EHLO; not after a successful AUTH; not in a transaction. */
  if (s->state != SRV_ST_HELO || s->helo_verb == SMTP_VERB_HELO || s->authed) {
    smtp__srv_auth_abort(s, SMTP_STATUS_BAD_SEQUENCE);
    return SMTP_OK;
  }
  if (!s->tls && !s->opt.allow_plaintext_auth) {
    smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_ENCRYPTION_REQUIRED);
    return SMTP_OK;
  }
  while (m < len && args[m] != ' ') m++;
  has_ir = m < len;
  if (m == 0 || (has_ir && m + 1 >= len)) {
    smtp__srv_auth_abort(s, SMTP_STATUS_PARAM_SYNTAX);
    return SMTP_OK;
  }
  mech = smtp_sasl_mech_from_name(args, m);
  if (!(mech & offered)) {
    smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_MECH_UNKNOWN); /* RFC 4954 4: 504 */
    return SMTP_OK;
  }
  s->auth_exchange = 1;
  s->auth_mech = mech;
  s->auth_stepno = 0;
  s->login_stage = 0;
  if (has_ir) {
    n = decode(s, args + m + 1, len - m - 1);
    if (n < 0) {
      smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_BAD_BASE64);
      return SMTP_OK;
    }
  }
  if (mech & smtp__srv_sasl_builtin(s)) {
    s->auth_builtin = 1;
    smtp__srv_sasl_start(s, mech, s->in, (size_t)n, has_ir);
    return SMTP_OK;
  }
  if ((mech & BUILTIN_MECHS) && s->cb.auth) {
    s->auth_builtin = 1;
    if (mech == SMTP_SASL_PLAIN) {
      if (has_ir) plain_check(s, s->in, (size_t)n);
      else builtin_challenge(s, ""); /* "334 " (RFC 4954 4) */
    } else {
      if (has_ir) login_user(s, s->in, (size_t)n);
      else builtin_challenge(s, "Username:");
    }
    return SMTP_OK;
  }
  step(s, s->in, (size_t)n, has_ir);
  return SMTP_OK;
}

static int auth_line(smtp_server_session *s, const char *line, size_t len) {
  smtp_ssize n;
  s->auth_active = 0;
  if (len == 1 && line[0] == '*') {
    smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_CANCELLED); /* RFC 4954 4: 501 */
    return SMTP_OK;
  }
  n = smtp_base64_decode(line, len, s->in, s->in_cap); /* in place: see decode() */
  if (n < 0) {
    smtp__srv_auth_abort(s, SMTP_STATUS_AUTH_BAD_BASE64);
    return SMTP_OK;
  }
  if (s->auth_builtin) {
    if (!(s->auth_mech & BUILTIN_MECHS)) smtp__srv_sasl_line(s, s->in, (size_t)n);
    else if (s->auth_mech == SMTP_SASL_PLAIN) plain_check(s, s->in, (size_t)n);
    else if (s->login_stage == 0) login_user(s, s->in, (size_t)n);
    else login_pass(s, s->in, (size_t)n);
    return SMTP_OK;
  }
  s->auth_stepno++;
  step(s, s->in, (size_t)n, 1);
  return SMTP_OK;
}

const smtp__srv_auth_run smtp__srv_auth_impl = {auth_command, auth_line};

int smtp_server_session_auth_challenge(smtp_server_session *s, const void *data, size_t len) {
  int r = smtp__srv_answer_begin(s);
  if (r != SMTP_OK) return r;
  if (s->op != SRV_OP_AUTH || s->auth_builtin) return SMTP_ERR_INVALID_STATE;
  if (!data && len) return SMTP_ERR_INVALID_ARGUMENT;
  r = emit_challenge(s, data, len);
  if (r != SMTP_OK) return r;
  smtp__srv_apply(s, 334);
  return smtp__srv_answer_end(s);
}

int smtp_server_session_auth_accept(smtp_server_session *s, const char *identity, size_t len) {
  smtp_span id;
  int r = smtp__srv_answer_begin(s);
  if (r != SMTP_OK) return r;
  if (s->op != SRV_OP_AUTH) return SMTP_ERR_INVALID_STATE;
  if (!identity || len == 0 || len > SRV_NAME_MAX || smtp__has_ctl(identity, len) ||
      smtp_utf8_validate(identity, len) != SMTP_OK)
    return SMTP_ERR_INVALID_ARGUMENT;
  id.ptr = identity;
  id.len = len;
  set_identity(s, id);
  r = smtp__srv_finish_status(s, SMTP_STATUS_AUTH_OK);
  if (r != SMTP_OK) return r;
  return smtp__srv_answer_end(s);
}
