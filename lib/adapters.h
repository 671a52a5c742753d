/* Internal interfaces of the adapter layer (io*.c, tls*.c, driver.c).
 * Not installed. */
#ifndef SMTP_ADAPTERS_H
#define SMTP_ADAPTERS_H

#include <smtp/io.h>
#include <smtp/tls.h>
#include <smtp/driver.h>
#include <smtp/endpoint.h>
#include <smtp/proxy.h>

#include "internal.h"

/* --- io.c: the one place that checks, copies and normalises adapters. --- */

/* Check @src (smtp_io_check) and copy the fields its version has into @dst;
 * fields of later versions are zeroed. */
int smtp__io_copy(smtp_io *dst, const smtp_io *src);

/* Call io->send / io->recv and map every out-of-range result (see io.h):
 * the result is 1..len, SMTP_ERR_WOULDBLOCK, SMTP_ERR_EOF (recv only) or
 * SMTP_ERR_IO. */
smtp_ssize smtp__io_send(const smtp_io *io, const char *data, size_t len);
smtp_ssize smtp__io_recv(const smtp_io *io, char *buf, size_t len);

/* io->wait when present: ready events, 0 on time-out, SMTP_ERR_IO; when
 * absent: SMTP_ERR_UNSUPPORTED. */
int smtp__io_wait(const smtp_io *io, unsigned int events, int timeout_ms);

/* Call io->close once and clear @io (safe to call again). */
int smtp__io_close(smtp_io *io);

/* --- io_posix.c --- */

/* Map an errno value after a failed read/write/send/recv in one place:
 * EAGAIN/EWOULDBLOCK -> SMTP_ERR_WOULDBLOCK, anything else SMTP_ERR_IO. */
smtp_ssize smtp__io_errno(int err);

/* --- driver.c: the session seen through a small vtable, so one pump
 * serves the server and the client session (driver_server.c,
 * driver_client.c fill it in). --- */

typedef struct smtp__driver_ops {
  int tls_role; /* SMTP_TLS_SERVER or SMTP_TLS_CLIENT */
  smtp_ssize (*recv)(void *s, const char *data, size_t len); /* bytes taken */
  smtp_ssize (*send)(void *s, const char **data);            /* peek */
  int (*consume)(void *s, size_t n);
  int (*want_read)(const void *s);
  int (*want_tls)(const void *s);
  int (*tls_started)(void *s, const smtp_tls_info *info);
  int (*tls_failed)(void *s, int error);      /* may be NULL */
  int (*timeout_ms)(const void *s);            /* -1: none */
  int (*deadline_seq)(const void *s, unsigned int *seq); /* may be NULL: re-arm on progress */
  int (*timeout)(void *s);
  int (*connection_lost)(void *s);             /* may be NULL */
  int (*is_done)(const void *s);               /* over, all output consumed */
  int (*error)(const void *s);                 /* may be NULL: the session's end reason */
  /* A second deadline that data does not renew (server message data); both
   * may be NULL. Armed when total_seq changes, cleared when total_ms < 0. */
  int (*total_ms)(const void *s);
  unsigned int (*total_seq)(const void *s);
  /* endpoints (SMTP_ADDR_*): may be NULL (then the driver records none) */
  int (*set_addr)(void *s, unsigned int which, const smtp_endpoint *ep);
  int (*get_addr)(const void *s, unsigned int which, smtp_endpoint *out);
  /* After tls_started: hand the session what the TLS connection knows for
   * SASL (channel binding, the client certificate's identity); may be NULL. */
  int (*tls_bind)(void *s, const smtp_tls_conn *conn);
} smtp__driver_ops;

int smtp__driver_new(smtp_driver **out, const smtp__driver_ops *ops, void *session,
                     const smtp_io *io, const smtp_tls_config *tls, const char *hostname,
                     unsigned int flags, const smtp_mem *mem);

/* Tests: replace the monotonic clock (milliseconds). */
void smtp__driver_set_clock(smtp_driver *d, int64_t (*now_ms)(void *ud), void *ud);

/* --- tls.c / tls_none.c: the subject commonName of the peer's leaf
 * certificate when it has exactly one (see tls_internal.h), for the
 * driver's EXTERNAL identity. --- */
int smtp__tls_peer_cn(const smtp_tls_conn *conn, char *buf, size_t cap, size_t *len);

/* --- tls_mbedtls.c / tls_none.c --- */

/* The own private key as PEM, NUL-terminated (tests, demos). */
int smtp__tls_export_key_pem(const smtp_tls_config *cfg, char *buf, size_t len);

#endif
