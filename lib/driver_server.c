/* The server session seen through the driver's session vtable
 * (smtp__driver_ops), and the public server entry points of driver.h. */
#include <smtp/server.h>

#include "cfilter.h"

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

/* The server session has no "TLS failed" or "connection lost" entry: the
 * driver just ends and the application deletes the session. */
static const smtp__driver_ops server_ops = {
    SMTP_TLS_SERVER, sv_recv, sv_send,    sv_consume, sv_want_read, sv_want_tls, sv_tls_started,
    NULL,            sv_timeout_ms, sv_seq, sv_timeout, NULL,        sv_is_done,  NULL,
    sv_total_ms,     sv_total_seq,
    sv_set_addr,     sv_get_addr};

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
