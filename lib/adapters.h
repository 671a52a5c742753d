/* Internal interfaces of the adapter layer (io*.c, tls*.c, driver.c).
 * Not installed. */
#ifndef SMTP_ADAPTERS_H
#define SMTP_ADAPTERS_H

#include <smtp/io.h>
#include <smtp/tls.h>

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

/* --- tls_mbedtls.c / tls_none.c --- */

/* The own private key as PEM, NUL-terminated (tests, demos). */
int smtp__tls_export_key_pem(const smtp_tls_config *cfg, char *buf, size_t len);

#endif
