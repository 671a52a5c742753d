/* The server session seen through the driver's session vtable
 * (smtp__driver_ops), and the public server entry points of driver.h. */
#include <string.h>

#include <smtp/server.h>

#include "adapters.h"
#include "cfilter.h"
#include "hash.h"

static smtp_ssize sv_recv(void *s, const char *data, size_t len) {
  return smtp_server_session_mem_recv(s, data, len);
}
static smtp_ssize sv_send(void *s, const char **data) { return smtp_server_session_mem_send(s, data); }
static int sv_consume(void *s, size_t n) { return smtp_server_session_mem_consume(s, n); }
static int sv_want_read(const void *s) { return smtp_server_session_want_read(s); }
static int sv_want_tls(const void *s) { return smtp_server_session_want_tls(s); }
static int sv_tls_started(void *s, const smtp_tls_info *info) {
  return smtp_server_session_tls_started(s, info);
}
static int sv_timeout_ms(const void *s) { return smtp_server_session_timeout_ms(s); }
static int sv_seq(const void *s, unsigned int *seq) {
  *seq = smtp_server_session_deadline_seq(s);
  return 0;
}
static int sv_timeout(void *s) { return smtp_server_session_timeout(s); }
static int sv_is_done(const void *s) { return smtp_server_session_want_close(s); }
static int sv_total_ms(const void *s) { return smtp_server_session_total_timeout_ms(s); }
static unsigned int sv_total_seq(const void *s) { return smtp_server_session_total_seq(s); }
static int sv_set_addr(void *s, unsigned int which, const smtp_endpoint *ep) {
  return smtp_server_session_set_addr(s, which, ep);
}
static int sv_get_addr(const void *s, unsigned int which, smtp_endpoint *out) {
  return smtp_server_session_addr(s, which, out);
}

/* After the handshake: every channel binding (RFC 5056) this connection
 * gives, so that a SCRAM -PLUS client (RFC 5802 6) finds the type it
 * uses: "tls-exporter" (RFC 9266) under TLS 1.3, "tls-unique" (RFC 5929 3,
 * TLS 1.2, when the backend exposes the Finished message) under TLS 1.2,
 * and "tls-server-end-point" (RFC 5929 4) under both. The exporter is not
 * offered under TLS 1.2, where RFC 9266 4.2 wants the extended master
 * secret. A verified client certificate with exactly one subject
 * commonName makes that name the EXTERNAL identity (RFC 4422 appendix A).
 * Failures here only leave the mechanisms unoffered. */
#if SMTP_HAVE_SASL
static int sv_tls_bind(void *s, const smtp_tls_conn *t) {
  static const struct {
    int type;
    const char *name;
    int v13; /* 1: TLS 1.3 only, 0: TLS 1.2 only, -1: both */
  } types[] = {{SMTP_TLS_CB_EXPORTER, "tls-exporter", 1},
               {SMTP_TLS_CB_UNIQUE, "tls-unique", 0},
               {SMTP_TLS_CB_SERVER_END_POINT, "tls-server-end-point", -1}};
  smtp_tls_info info;
  uint8_t cb[128];
  char cn[256];
  size_t n, i;
  int v13;
  if (smtp_tls_get_info(t, &info) != 0) return 0;
  v13 = info.protocol && strcmp(info.protocol, "TLSv1.3") == 0;
  (void)smtp_server_session_set_channel_binding(s, NULL, NULL, 0);
  for (i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (types[i].v13 >= 0 && types[i].v13 != v13) continue;
    if (smtp_tls_channel_binding(t, types[i].type, cb, sizeof cb, &n) == 0)
      (void)smtp_server_session_set_channel_binding(s, types[i].name, cb, n);
  }
  smtp__wipe(cb, sizeof cb);
  (void)smtp_server_session_set_external_identity(s, NULL, 0);
  if (info.peer_verified && smtp__tls_peer_cn(t, cn, sizeof cn - 1, &n) == 0 && n > 0)
    (void)smtp_server_session_set_external_identity(s, cn, n);
  return 0;
}
#else
/* A build without the SASL part has no mechanism to hand the binding to. */
static int sv_tls_bind(void *s, const smtp_tls_conn *t) {
  (void)s;
  (void)t;
  return 0;
}
#endif

/* The server session has no "TLS failed" or "connection lost" entry: the
 * driver just ends and the application deletes the session. */
static const smtp__driver_ops server_ops = {
    SMTP_TLS_SERVER, sv_recv, sv_send,    sv_consume, sv_want_read, sv_want_tls, sv_tls_started,
    NULL,            sv_timeout_ms, sv_seq, sv_timeout, NULL,        sv_is_done,  NULL,
    sv_total_ms,     sv_total_seq,
    sv_set_addr,     sv_get_addr,  sv_tls_bind};

int smtp_driver_new_server(smtp_driver **out, struct smtp_server_session *session, const smtp_io *io,
                           const smtp_tls_config *tls, unsigned int flags, const smtp_mem *mem) {
  return smtp__driver_create(out, &server_ops, &smtp__cf_proxy_reader,
                             session, io, tls, NULL, flags, mem);
}

int smtp_driver_run_server(struct smtp_server_session *session, const smtp_io *io,
                           const smtp_tls_config *tls, unsigned int flags, const smtp_mem *mem) {
  smtp_driver *d;
  int r = smtp_driver_new_server(&d, session, io, tls, flags, mem);
  if (r != 0) return r;
  r = smtp_driver_run(d);
  smtp_driver_del(d);
  return r;
}
