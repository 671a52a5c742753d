/* The server session without SASL (built with -Dsasl=false instead of
 * server_auth.c and server_sasl.c): AUTH is never offered in the EHLO reply
 * and the command is answered 502 5.5.1 as one this server does not
 * implement (RFC 5321 4.2.4). The AUTH functions of server.h are not built
 * (<smtp/features.h>). */
#include <string.h>

#include "server_impl.h"

unsigned int smtp__srv_auth_offered(const smtp_server_session *s) {
  (void)s;
  return 0;
}

int smtp__srv_auth_usable(const smtp_server_session *s) {
  (void)s;
  return 0;
}

void smtp__srv_auth_reset(smtp_server_session *s) {
  s->auth_active = 0;
  s->auth_exchange = 0;
  s->auth_mech = 0;
  s->auth_stepno = 0;
  s->auth_builtin = 0;
  s->login_stage = 0;
}

void smtp__srv_auth_complete(smtp_server_session *s, int code) {
  (void)code;
  smtp__srv_auth_reset(s);
}

void smtp__srv_auth_abort(smtp_server_session *s, int status_id) {
  s->op = SRV_OP_AUTH;
  (void)smtp__srv_finish_status(s, status_id);
}

static int auth_command(smtp_server_session *s, const char *args, size_t len) {
  (void)args;
  (void)len;
  s->auth_exchange = 0;
  smtp__srv_auth_abort(s, SMTP_STATUS_NOT_IMPLEMENTED);
  return SMTP_OK;
}

/* Never reached: no exchange starts, so no line is a SASL response. */
static int auth_line(smtp_server_session *s, const char *line, size_t len) {
  (void)line;
  (void)len;
  s->auth_active = 0;
  smtp__srv_auth_abort(s, SMTP_STATUS_NOT_IMPLEMENTED);
  return SMTP_OK;
}

const smtp__srv_auth_run smtp__srv_auth_impl = {auth_command, auth_line};

/* No built-in mechanism, so no per-session SASL state. */
int smtp__srv_sasl_init(smtp_server_session *s, const smtp_server_callbacks *cb,
                        const smtp_server_options *opt) {
  (void)s;
  (void)cb;
  (void)opt;
  return SMTP_OK;
}

/* The setters of the built-in verifiers' callbacks are not built. */
int smtp__srv_sasl_configured(const smtp_server_callbacks *cb) {
  (void)cb;
  return 0;
}

void smtp__srv_sasl_free(smtp_server_session *s) { (void)s; }

/* XCLIENT LOGIN= (server_xclient.c) names the client's identity without
 * AUTH; kept as server_auth.c keeps it. */
void smtp__srv_auth_set_identity(smtp_server_session *s, const char *id, size_t len) {
  memmove(s->user, id, len);
  s->user_len = (unsigned short)len;
  s->user[len] = '\0';
}
