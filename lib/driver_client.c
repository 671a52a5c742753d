/* The client session seen through the driver's session vtable
 * (smtp__driver_ops), and the public client entry points of driver.h. */
#include <string.h>

#include <smtp/client.h>

#include "adapters.h"
#include "cfilter.h"
#include "hash.h"

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

/* After the handshake: the channel binding (RFC 5056) for SCRAM -PLUS
 * (RFC 5802 6): "tls-exporter" (RFC 9266) under TLS 1.3; under TLS 1.2
 * "tls-server-end-point" (RFC 5929 4), which every backend can give on
 * both sides (Mbed TLS does not expose the Finished message tls-unique
 * needs, and RFC 9266 4.2 allows the exporter under TLS 1.2 only with the
 * extended master secret). Without data the session uses no -PLUS form. */
static int cl_tls_bind(void *s, const smtp_tls_conn *t) {
  smtp_tls_info info;
  uint8_t cb[128];
  size_t n = 0;
  int v13;
  (void)smtp_client_session_set_channel_binding(s, NULL, NULL, 0);
  if (smtp_tls_get_info(t, &info) != 0) return 0;
  v13 = info.protocol && strcmp(info.protocol, "TLSv1.3") == 0;
  if (v13 && smtp_tls_channel_binding(t, SMTP_TLS_CB_EXPORTER, cb, sizeof cb, &n) == 0)
    (void)smtp_client_session_set_channel_binding(s, "tls-exporter", cb, n);
  else if (smtp_tls_channel_binding(t, SMTP_TLS_CB_SERVER_END_POINT, cb, sizeof cb, &n) == 0)
    (void)smtp_client_session_set_channel_binding(s, "tls-server-end-point", cb, n);
  smtp__wipe(cb, sizeof cb);
  return 0;
}

/* No deadline sequence: the client session asks to re-arm whenever bytes
 * moved (client.h, smtp_client_session_timeout_ms()). */
static const smtp__driver_ops client_ops = {
    SMTP_TLS_CLIENT, cl_recv,       cl_send, cl_consume, cl_want_read, cl_want_tls, cl_tls_started,
    cl_tls_failed,   cl_timeout_ms, NULL,    cl_timeout, cl_lost,      cl_is_done,  cl_error,
    NULL,            NULL,
    cl_set_addr,     cl_get_addr,   cl_tls_bind};

int smtp_driver_new_client(smtp_driver **out, struct smtp_client_session *session, const smtp_io *io,
                           const smtp_tls_config *tls, const char *hostname, unsigned int flags,
                           const smtp_mem *mem) {
  return smtp__driver_create(out, &client_ops, &smtp__cf_proxy_writer,
                             session, io, tls, hostname, flags, mem);
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
