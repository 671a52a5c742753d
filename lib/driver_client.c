/* The client session seen through the driver's session vtable
 * (smtp__driver_ops), and the public client entry points of driver.h. */
#include <smtp/client.h>

#include "adapters.h"

static smtp_ssize cl_recv(void *s, const char *data, size_t len) {
  return smtp_client_session_mem_recv(s, data, len);
}
static smtp_ssize cl_send(void *s, const char **data) { return smtp_client_session_mem_send(s, data); }
static int cl_consume(void *s, size_t n) { return smtp_client_session_mem_consume(s, n); }
static int cl_want_read(const void *s) { return smtp_client_session_want_read(s); }
static int cl_want_tls(const void *s) { return smtp_client_session_want_tls(s); }
static int cl_tls_started(void *s, const smtp_tls_info *info) {
  return smtp_client_session_tls_started(s, info);
}
static int cl_tls_failed(void *s, int error) { return smtp_client_session_tls_failed(s, error); }
static int cl_timeout_ms(const void *s) { return smtp_client_session_timeout_ms(s); }
static int cl_timeout(void *s) { return smtp_client_session_timeout(s); }
static int cl_lost(void *s) { return smtp_client_session_connection_lost(s); }
/* Over: the CLOSED event was delivered and nothing is left to send (a
 * QUIT queued after a refused greeting still goes out). */
static int cl_is_done(const void *s) {
  return smtp_client_session_is_closed(s) && !smtp_client_session_want_write(s);
}
static int cl_error(const void *s) { return smtp_client_session_error(s); }
static int cl_set_addr(void *s, unsigned int which, const smtp_endpoint *ep) {
  return smtp_client_session_set_addr(s, which, ep);
}
static int cl_get_addr(const void *s, unsigned int which, smtp_endpoint *out) {
  return smtp_client_session_addr(s, which, out);
}

/* No deadline sequence: the client session asks to re-arm whenever bytes
 * moved (client.h, smtp_client_session_timeout_ms()). */
static const smtp__driver_ops client_ops = {
    SMTP_TLS_CLIENT, cl_recv,       cl_send, cl_consume, cl_want_read, cl_want_tls, cl_tls_started,
    cl_tls_failed,   cl_timeout_ms, NULL,    cl_timeout, cl_lost,      cl_is_done,  cl_error,
    NULL,            NULL,
    cl_set_addr,     cl_get_addr};

int smtp_driver_new_client(smtp_driver **out, struct smtp_client_session *session, const smtp_io *io,
                           const smtp_tls_config *tls, const char *hostname, unsigned int flags,
                           const smtp_mem *mem) {
  return smtp__driver_new(out, &client_ops, session, io, tls, hostname, flags, mem);
}

int smtp_driver_run_client(struct smtp_client_session *session, const smtp_io *io,
                           const smtp_tls_config *tls, const char *hostname, unsigned int flags,
                           const smtp_mem *mem) {
  smtp_driver *d;
  int r = smtp_driver_new_client(&d, session, io, tls, hostname, flags, mem);
  if (r != 0) return r;
  r = smtp_driver_run(d);
  smtp_driver_del(d);
  return r;
}
