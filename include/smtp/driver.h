/**
 * @file driver.h
 * @brief The driver: runs a server or client session over an I/O adapter
 *        (io.h), with TLS (tls.h) inserted at STARTTLS or from the first
 *        byte, and the session's deadlines enforced.
 *
 * The sessions are sans-I/O; the driver is the small loop that connects
 * one to a transport (a chain of layers):
 *
 * @verbatim
 *   session  <-- plaintext -->  [TLS connection]  <-- bytes -->  smtp_io
 * @endverbatim
 *
 * It pumps the session's output to the transport and the transport's
 * input to the session; when the session asks for TLS (the 220 reply to
 * STARTTLS was sent or received) it drops whatever plaintext it still
 * holds (RFC 3207 5: nothing pipelined behind STARTTLS is run), runs the handshake and tells the
 * session with its `tls_started` call; with ::SMTP_DRIVER_IMPLICIT_TLS the
 * handshake comes before the first SMTP byte (RFC 8314). It reads the
 * monotonic clock and calls the session's time-out function when the
 * session's deadline (RFC 5321 4.5.3.2) passes. A TLS close_notify or alert
 * ends the session; there is never a fallback to plaintext.
 *
 * Memory: a driver is about 500 octets until it needs its 32 KiB of
 * buffers (when TLS starts, or when the session leaves part of a plaintext
 * read unconsumed); plaintext is read into a 16 KiB buffer on the stack of
 * the calling thread and handed to the session at once, so an idle
 * plaintext connection never allocates them.
 *
 * Two ways to run it:
 * - blocking: smtp_driver_run() (or smtp_driver_run_server() /
 *   smtp_driver_run_client()) loops until the session is over, waiting
 *   with smtp_io::wait (poll(2) for the POSIX adapter) so deadlines hold;
 * - event loop: register the descriptor for smtp_driver_poll_events(),
 *   sleep at most smtp_driver_next_timeout_ms(), then call
 *   smtp_driver_on_readable() / smtp_driver_on_writable() /
 *   smtp_driver_on_timer(). Readiness is level-triggered: the driver reads
 *   at most once from the adapter per smtp_driver_on_readable(). After
 *   changing the session from outside a driver call (answering a deferred
 *   event with smtp_server_session_reply(), submitting a client
 *   transaction) call smtp_driver_pump().
 *
 * @code
 * // one thread, many sessions (see examples/smtp-eventloop.c)
 * for (;;) {
 *   for each driver d: set the fd's events to smtp_driver_poll_events(d)
 *   n = epoll_wait(ep, evs, 64, min over d of smtp_driver_next_timeout_ms(d));
 *   for each ready d: if (EPOLLIN)  smtp_driver_on_readable(d);
 *                     if (EPOLLOUT) smtp_driver_on_writable(d);
 *   for each d: smtp_driver_on_timer(d);
 *   for each d with smtp_driver_is_done(d): smtp_driver_del(d); smtp_server_session_del(s);
 * }
 * @endcode
 *
 * The driver does not own the session: delete the driver first, then the
 * session. It owns the I/O adapter given to it (closed by
 * smtp_driver_del()) and its TLS connection; the TLS configuration must
 * outlive it. One driver is used by one thread at a time.
 */
#ifndef SMTP_DRIVER_H
#define SMTP_DRIVER_H

#include <smtp/common.h>
#include <smtp/io.h>
#include <smtp/tls.h>
#include <smtp/endpoint.h>
#include <smtp/proxy.h>

#ifdef __cplusplus
extern "C" {
#endif

struct smtp_server_session;
struct smtp_client_session;

/** @brief A running connection (opaque). */
typedef struct smtp_driver smtp_driver;

/** @brief Flag: TLS from the first byte (implicit TLS, RFC 8314 "submissions", port 465). */
#define SMTP_DRIVER_IMPLICIT_TLS 1u

/**
 * @brief Flag: a PROXY protocol filter (proxy.h) sits on the transport.
 *
 * Server: the connection must begin with a version 1 or 2 header from a
 * trusted source (smtp_driver_set_proxy_trusted(); without a list every
 * source is refused). Nothing is written, not even the greeting, until the
 * header is read; a missing, malformed or oversized header
 * (::SMTP_ERR_PROXY_HEADER), an untrusted source (::SMTP_ERR_UNTRUSTED) or
 * the end of the connection before the header end the driver without a
 * byte sent. A PROXY command's addresses replace the session's client and
 * server endpoints (the transport's peer stays readable as
 * ::SMTP_ADDR_PEER); LOCAL keeps them. With ::SMTP_DRIVER_IMPLICIT_TLS the
 * handshake follows the header.
 *
 * Client: the header set with smtp_driver_set_proxy_header() is written
 * before anything else (before the TLS handshake with implicit TLS).
 *
 * The filter's state (about 800 octets) is part of the driver's one
 * allocation; octets that arrive in the same read right behind the header
 * are kept in a buffer of their size until the next layer takes them.
 */
#define SMTP_DRIVER_PROXY 2u

/** @brief How long a server driver with ::SMTP_DRIVER_PROXY waits for the
 *  whole PROXY header (or the session's own deadline, when shorter), in
 *  milliseconds; then it ends with ::SMTP_ERR_TIMEOUT, without a byte sent. */
#define SMTP_DRIVER_PROXY_TIMEOUT_MS 30000

/** @brief smtp_driver_poll_events() bit: wait until the transport is readable. */
#define SMTP_DRIVER_POLLIN 1u
/** @brief smtp_driver_poll_events() bit: wait until the transport is writable. */
#define SMTP_DRIVER_POLLOUT 2u

/** @brief How long the driver keeps trying to flush its last bytes (a 421
 *  after a time-out, a close_notify) before it gives up, in milliseconds. */
#define SMTP_DRIVER_LINGER_MS 30000

/**
 * @brief Create a driver for a server session.
 * @param out      receives the driver (NULL on failure).
 * @param session  the session (not owned; must outlive the driver).
 * @param io       the transport; copied and checked (smtp_io_check()). The
 *                 driver owns it from now on, also when this call fails
 *                 (then it is closed here).
 * @param tls      server TLS configuration for STARTTLS / implicit TLS, or
 *                 NULL (then a session asking for TLS ends with
 *                 ::SMTP_ERR_TLS_UNAVAILABLE). Not copied: must outlive the driver.
 * @param flags    0, ::SMTP_DRIVER_IMPLICIT_TLS and/or ::SMTP_DRIVER_PROXY.
 * @param mem      allocator (NULL: default); copied.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL, unknown flag, implicit TLS
 *         without @p tls, a client @p tls); ::SMTP_ERR_UNSUPPORTED (io
 *         version); ::SMTP_ERR_NOMEM; ::SMTP_ERR_TLS_UNAVAILABLE.
 */
SMTP_API int smtp_driver_new_server(smtp_driver **out, struct smtp_server_session *session,
                                    const smtp_io *io, const smtp_tls_config *tls,
                                    unsigned int flags, const smtp_mem *mem);

/**
 * @brief Create a driver for a client session.
 * @param out, session, io, flags, mem  as smtp_driver_new_server().
 * @param tls       client TLS configuration, or NULL.
 * @param hostname  the server's name for SNI and certificate verification
 *                  (RFC 7817); may be NULL only when @p tls verifies nothing.
 *                  Copied.
 * @return as smtp_driver_new_server().
 */
SMTP_API int smtp_driver_new_client(smtp_driver **out, struct smtp_client_session *session,
                                    const smtp_io *io, const smtp_tls_config *tls,
                                    const char *hostname, unsigned int flags,
                                    const smtp_mem *mem);

/**
 * @brief Free the driver and its TLS connection, and close its I/O
 *        adapter. The session is untouched.
 * @param d the driver, or NULL (nothing happens).
 */
SMTP_API void smtp_driver_del(smtp_driver *d);

/**
 * @brief Run until the session is over (blocking).
 * @param d the driver.
 * @return 0 when the session ended normally (QUIT, or the session's own
 *         decision), else the reason: ::SMTP_ERR_TIMEOUT,
 *         ::SMTP_ERR_CONNECTION_LOST, ::SMTP_ERR_IO, a TLS error
 *         (::SMTP_ERR_TLS_HANDSHAKE, ::SMTP_ERR_TLS_VERIFY,
 *         ::SMTP_ERR_TLS_CLOSED, ::SMTP_ERR_TLS_UNAVAILABLE, ...), the session's own fatal error; ::SMTP_ERR_INVALID_STATE
 *         when the session waits for an application answer that cannot
 *         come (a deferred event in a blocking loop) and has no deadline.
 */
SMTP_API int smtp_driver_run(smtp_driver *d);

/**
 * @brief smtp_driver_new_server() + smtp_driver_run() + smtp_driver_del().
 * @param session, io, tls, flags, mem  as smtp_driver_new_server().
 * @return as smtp_driver_new_server(), then as smtp_driver_run().
 */
SMTP_API int smtp_driver_run_server(struct smtp_server_session *session, const smtp_io *io,
                                    const smtp_tls_config *tls, unsigned int flags,
                                    const smtp_mem *mem);

/**
 * @brief smtp_driver_new_client() + smtp_driver_run() + smtp_driver_del().
 * @param session, io, tls, hostname, flags, mem  as smtp_driver_new_client().
 * @return as smtp_driver_new_client(), then as smtp_driver_run().
 */
SMTP_API int smtp_driver_run_client(struct smtp_client_session *session, const smtp_io *io,
                                    const smtp_tls_config *tls, const char *hostname,
                                    unsigned int flags, const smtp_mem *mem);

/**
 * @brief Move every byte that can move now, without blocking on a
 *        non-blocking adapter, and check the deadline.
 * @param d the driver.
 * @return 0 while running; ::SMTP_ERR_CLOSED once the driver is done (see
 *         smtp_driver_error()); ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_driver_pump(smtp_driver *d);

/**
 * @brief The transport is readable: read once, then pump.
 * @param d the driver.
 * @return as smtp_driver_pump().
 */
SMTP_API int smtp_driver_on_readable(smtp_driver *d);

/**
 * @brief The transport is writable: pump.
 * @param d the driver.
 * @return as smtp_driver_pump().
 */
SMTP_API int smtp_driver_on_writable(smtp_driver *d);

/**
 * @brief Time passed: enforce the deadline, then pump.
 * @param d the driver.
 * @return as smtp_driver_pump().
 */
SMTP_API int smtp_driver_on_timer(smtp_driver *d);

/**
 * @brief What to wait for.
 * @param d the driver.
 * @return ::SMTP_DRIVER_POLLIN and/or ::SMTP_DRIVER_POLLOUT; 0 while the
 *         session waits for the application (or when done, or for NULL).
 */
SMTP_API unsigned int smtp_driver_poll_events(const smtp_driver *d);

/**
 * @brief Time left until the current deadline.
 * @param d the driver.
 * @return milliseconds (0: due now, call smtp_driver_on_timer()), or -1
 *         when there is none.
 */
SMTP_API int smtp_driver_next_timeout_ms(const smtp_driver *d);

/**
 * @brief Whether the driver is done (the connection can be closed with
 *        smtp_driver_del()).
 * @param d the driver.
 * @return 1 when done, else 0.
 */
SMTP_API int smtp_driver_is_done(const smtp_driver *d);

/**
 * @brief Why the driver finished.
 * @param d the driver.
 * @return 0 (normal end, or still running) or an error code as
 *         smtp_driver_run() returns; ::SMTP_ERR_INVALID_ARGUMENT for NULL.
 */
SMTP_API int smtp_driver_error(const smtp_driver *d);

/**
 * @brief The TLS facts of the connection.
 * @param d    the driver.
 * @param info filled in; its strings stay valid until smtp_driver_del().
 * @return 0; ::SMTP_ERR_INVALID_STATE (no TLS established);
 *         ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_driver_tls_info(const smtp_driver *d, smtp_tls_info *info);

/**
 * @brief The driver's TLS connection, for the policy functions of tls.h
 *        (peer certificate, channel binding, ...).
 * @param d the driver.
 * @return the connection once the handshake completed (owned by the
 *         driver, valid until smtp_driver_del()); NULL before, without
 *         TLS, or for NULL.
 */
SMTP_API const smtp_tls_conn *smtp_driver_tls_conn(const smtp_driver *d);

/**
 * @brief A text for the last failure (e.g. the TLS library's reason for a
 *        handshake or verification failure), NUL-terminated, truncated to
 *        @p len; "" when none.
 * @param d   the driver.
 * @param buf destination.
 * @param len size of @p buf.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT.
 */
SMTP_API int smtp_driver_last_error(const smtp_driver *d, char *buf, size_t len);


/**
 * @brief The sources allowed to send a PROXY header (server drivers made
 *        with ::SMTP_DRIVER_PROXY), checked against the session's client
 *        endpoint as the transport gave it (the driver records it from the
 *        socket; an application with its own transport sets it with
 *        smtp_server_session_set_addr() before the first pump).
 * @param d        the driver.
 * @param trusted  the list; not copied, must outlive the driver. NULL:
 *                 nobody (every header refused).
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_INVALID_STATE (no
 *         PROXY filter, a client driver, or the check already ran).
 */
SMTP_API int smtp_driver_set_proxy_trusted(smtp_driver *d, const smtp_cidr_list *trusted);

/** @brief OR with version 2 in smtp_driver_set_proxy_header(): the header
 *  carries its CRC-32C (::SMTP_PP2_TYPE_CRC32C). */
#define SMTP_DRIVER_PROXY_CRC32C 0x100u

/**
 * @brief The header a client driver made with ::SMTP_DRIVER_PROXY writes
 *        first (smtp_proxy_write_v1() / smtp_proxy_write_v2(); version 2
 *        with both endpoints NULL is a LOCAL header). Call before the first
 *        pump; without it the first pump ends the driver with
 *        ::SMTP_ERR_INVALID_STATE.
 * @param d        the driver.
 * @param version  1 or 2; 2 | ::SMTP_DRIVER_PROXY_CRC32C adds a
 *                 PP2_TYPE_CRC32C record (the header's checksum, which the
 *                 reader checks).
 * @param src      the client to announce (copied into the header), or NULL.
 * @param dst      the server to announce, or NULL.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_INVALID_STATE (no
 *         PROXY filter, a server driver, or the header is being written).
 */
SMTP_API int smtp_driver_set_proxy_header(smtp_driver *d, unsigned int version,
                                          const smtp_endpoint *src, const smtp_endpoint *dst);

/**
 * @brief The PROXY header a server driver read (for its records:
 *        smtp_proxy_reader_tlv(), smtp_proxy_reader_info()).
 * @param d the driver.
 * @return the reader, valid until smtp_driver_del(); NULL before a header
 *         was read completely, or without a PROXY filter.
 */
SMTP_API const smtp_proxy_reader *smtp_driver_proxy_reader(const smtp_driver *d);

/**
 * @brief The names of the connection's filters, from the session's side
 *        down to the transport, separated by spaces (e.g. "tls proxy-reader
 *        transport"); for logs and tests.
 * @param d    the driver.
 * @param buf  destination, NUL-terminated.
 * @param len  its size.
 * @return the text length; ::SMTP_ERR_INVALID_ARGUMENT;
 *         ::SMTP_ERR_BUFFER_TOO_SMALL.
 */
SMTP_API int smtp_driver_filters(const smtp_driver *d, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* SMTP_DRIVER_H */
