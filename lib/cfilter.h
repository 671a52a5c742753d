/* Connection filters inside the driver (driver.c): a chain of small
 * objects, each with a vtable, between the transport and the session,
 * after curl's connection filters (lib/cfilters.h there):
 *
 *   session
 *     ^ v   plaintext
 *   [TLS]            smtp_tls adapter (tls.h), at STARTTLS or from the start
 *     ^ v
 *   [PROXY]          reader (server: the header before the greeting) or
 *     ^ v            writer (client: the header before anything else)
 *   transport        the smtp_io adapter (io.h)
 *
 * A filter is connected once its own start-up is over (TLS handshake,
 * PROXY header read or written); the driver runs the lowest unconnected
 * filter's connect step and moves no session byte until every filter is
 * connected. Adding a filter never touches the sessions. Not installed. */
#ifndef SMTP_CFILTER_H
#define SMTP_CFILTER_H

#include "adapters.h"

typedef struct smtp__cf smtp__cf;

typedef struct smtp__cf_type {
  const char *name;
  /* Start-up: 0 done (connected), SMTP_ERR_WOULDBLOCK not yet (waiting
   * for the transport), another negative code: failed. NULL: nothing to
   * do. */
  int (*connect)(smtp__cf *f, int *prog);
  /* 1..len octets for the layer above, SMTP_ERR_WOULDBLOCK, SMTP_ERR_EOF,
   * or another negative code. */
  smtp_ssize (*recv)(smtp__cf *f, char *buf, size_t len, int *prog);
  /* 1..len octets taken from the layer above, SMTP_ERR_WOULDBLOCK, or a
   * negative code. */
  smtp_ssize (*send)(smtp__cf *f, const char *data, size_t len, int *prog);
  /* Push the filter's own pending octets down: 0 (flushed, or blocked
   * with the driver told to wait for writability), negative on failure.
   * NULL: the filter holds none. */
  int (*flush)(smtp__cf *f, int *prog);
  /* Release the filter's own state (NULL: none). */
  void (*destroy)(smtp__cf *f);
} smtp__cf_type;

struct smtp__cf {
  const smtp__cf_type *t;
  smtp__cf *next; /* the filter below; NULL for the transport */
  smtp_driver *d;
  int connected;
};

/* The PROXY filters (driver.c): the reader for a server session, the
 * writer for a client session. */
extern const smtp__cf_type smtp__cf_proxy_reader;
extern const smtp__cf_type smtp__cf_proxy_writer;

/* smtp__driver_new() with the PROXY filter type given (used when
 * SMTP_DRIVER_PROXY is set): the public entry points pass their role's,
 * so a one-role program links only that filter. */
int smtp__driver_create(smtp_driver **out, const smtp__driver_ops *ops,
                        const smtp__cf_type *proxy_type, void *session, const smtp_io *io,
                        const smtp_tls_config *tls, const char *hostname, unsigned int flags,
                        const smtp_mem *mem);

#endif
