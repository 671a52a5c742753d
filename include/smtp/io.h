/**
 * @file io.h
 * @brief The I/O adapter: a small versioned vtable that moves bytes
 *        between a driver (see driver.h) and a transport, plus two bundled
 *        adapters: POSIX file descriptors and an in-memory pipe pair.
 *
 * The sessions (server.h, client.h) never do I/O; a driver pumps their
 * bytes through an ::smtp_io. Applications and language bindings implement
 * ::smtp_io for their own transports (libuv, a TLS stack of their own, a
 * test harness); libsmtp copies the struct and checks it
 * (smtp_io_check()).
 *
 * Semantics every adapter keeps:
 * - `send` writes 1..len bytes and returns how many, or
 *   ::SMTP_ERR_WOULDBLOCK when nothing can be written now, or ::SMTP_ERR_IO.
 * - `recv` reads 1..len bytes and returns how many, or ::SMTP_ERR_EOF once
 *   the peer has closed its direction (and on every later call),
 *   ::SMTP_ERR_WOULDBLOCK when nothing is there now, or ::SMTP_ERR_IO.
 * - `close` releases the transport and the adapter's own state; it is
 *   called exactly once, after which no other function is called.
 * - `wait` (optional) blocks until one of the requested events is possible
 *   or @c timeout_ms passes.
 *
 * libsmtp maps anything else an adapter returns (0 from `send`, a value
 * larger than len, another negative code) in one place: 0 from `recv` is
 * ::SMTP_ERR_EOF, 0 from `send` is ::SMTP_ERR_WOULDBLOCK, everything else
 * out of range is ::SMTP_ERR_IO.
 */
#ifndef SMTP_IO_H
#define SMTP_IO_H

#include <smtp/common.h>
#include <smtp/features.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The ::smtp_io layout this header describes. */
#define SMTP_IO_VERSION 1

/** @brief smtp_io::wait event bit: readable (recv would not block). */
#define SMTP_IO_READ 1u
/** @brief smtp_io::wait event bit: writable (send would not block). */
#define SMTP_IO_WRITE 2u

/**
 * @brief An I/O adapter: a transport seen as four functions.
 *
 * The struct is copied by whoever takes it (smtp_driver_new_server(), ...);
 * @c user_data is the adapter's own state and is owned by the adapter
 * (released by @c close).
 */
typedef struct smtp_io {
  /** Set to ::SMTP_IO_VERSION. Later versions only append fields. */
  unsigned int version;
  /** Passed as the last argument to every function. */
  void *user_data;
  /**
   * Write up to @p len bytes of @p data (len >= 1).
   * @return bytes written (1..len), ::SMTP_ERR_WOULDBLOCK or ::SMTP_ERR_IO.
   */
  smtp_ssize (*send)(const char *data, size_t len, void *user_data);
  /**
   * Read up to @p len bytes into @p buf (len >= 1).
   * @return bytes read (1..len), ::SMTP_ERR_EOF, ::SMTP_ERR_WOULDBLOCK or
   *         ::SMTP_ERR_IO.
   */
  smtp_ssize (*recv)(char *buf, size_t len, void *user_data);
  /**
   * Release the transport and @c user_data. May be NULL (nothing to do).
   * @return 0 or ::SMTP_ERR_IO (informational: the adapter is gone either way).
   */
  int (*close)(void *user_data);
  /**
   * Optional (may be NULL): wait until one of @p events (::SMTP_IO_READ,
   * ::SMTP_IO_WRITE) is possible or @p timeout_ms passes (-1: no limit).
   * Drivers use it in their blocking loop to enforce deadlines; without it
   * a blocking driver relies on @c recv blocking.
   * @return the events that are ready (0 on time-out), or ::SMTP_ERR_IO.
   */
  int (*wait)(unsigned int events, int timeout_ms, void *user_data);
} smtp_io;

#if SMTP_HAVE_DRIVER
/**
 * @brief Check that @p io is usable: known version, @c send and @c recv set.
 * @param io the adapter to check (not modified).
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT when @p io is NULL or a required
 *         function is missing; ::SMTP_ERR_UNSUPPORTED when @c version is 0
 *         or newer than ::SMTP_IO_VERSION.
 */
SMTP_API int smtp_io_check(const smtp_io *io);
#endif

/** @brief smtp_io_posix_new() flag: close the descriptor(s) in smtp_io::close. */
#define SMTP_IO_POSIX_OWN_FD 1u

#if SMTP_HAVE_DRIVER
/**
 * @brief Fill @p io with an adapter over POSIX file descriptors.
 *
 * Works with blocking and non-blocking descriptors: EINTR is retried,
 * EAGAIN/EWOULDBLOCK become ::SMTP_ERR_WOULDBLOCK, ECONNRESET/EPIPE and
 * other failures ::SMTP_ERR_IO. Sockets are written with MSG_NOSIGNAL, so
 * a closed peer never raises SIGPIPE; for pipes and terminals (where that
 * flag does not exist) the application should ignore SIGPIPE itself. The
 * `wait` function uses poll(2).
 *
 * @param io     receives the adapter (overwritten).
 * @param rfd    descriptor to read from.
 * @param wfd    descriptor to write to (the same as @p rfd for a socket;
 *               e.g. 0 and 1 for inetd-style stdin/stdout).
 * @param flags  0 or ::SMTP_IO_POSIX_OWN_FD.
 * @param mem    allocator for the adapter's small state (NULL: default);
 *               copied.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT (NULL @p io, negative fd, unknown
 *         flag); ::SMTP_ERR_NOMEM. The state is freed by smtp_io::close.
 */
SMTP_API int smtp_io_posix_new(smtp_io *io, int rfd, int wfd, unsigned int flags,
                               const smtp_mem *mem);

/**
 * @brief The read descriptor behind a POSIX adapter.
 * @param io an adapter (may be of any kind).
 * @return the descriptor, or ::SMTP_ERR_INVALID_ARGUMENT when @p io is not
 *         an adapter made by smtp_io_posix_new().
 */
SMTP_API int smtp_io_posix_fd(const smtp_io *io);

/**
 * @brief Make a connected pair of in-memory adapters (for tests, fuzzers
 *        and running a client and a server session against each other in
 *        one thread).
 *
 * What is sent on @p a is received on @p b and the other way round. Each
 * direction holds at most @p capacity bytes: `send` on a full direction
 * returns ::SMTP_ERR_WOULDBLOCK, `recv` on an empty one returns
 * ::SMTP_ERR_WOULDBLOCK, or ::SMTP_ERR_EOF once the peer end is closed.
 * `send` after the peer end is closed returns ::SMTP_ERR_IO (like EPIPE).
 * `wait` never blocks: it reports what is possible now. Nothing is thread
 * safe; use both ends from one thread.
 *
 * @param a, b      receive the two ends; each must be closed (smtp_io::close)
 *                  exactly once; the shared state is freed with the second.
 * @param capacity  bytes per direction (>= 1).
 * @param mem       allocator (NULL: default); copied.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT; ::SMTP_ERR_NOMEM.
 */
SMTP_API int smtp_io_pipe_new(smtp_io *a, smtp_io *b, size_t capacity, const smtp_mem *mem);

/**
 * @brief Limit how many bytes one `send` or `recv` on this pipe end moves
 *        (1 forces byte-at-a-time I/O; 0 removes the limit). Tests use it
 *        to exercise short reads and writes.
 * @param io           a pipe end made by smtp_io_pipe_new().
 * @param max_per_call the limit in bytes, or 0 for none.
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT when @p io is not a pipe end.
 */
SMTP_API int smtp_io_pipe_set_chunk(const smtp_io *io, size_t max_per_call);

/**
 * @brief Bytes waiting to be received on this pipe end.
 * @param io a pipe end made by smtp_io_pipe_new().
 * @return the count, or ::SMTP_ERR_INVALID_ARGUMENT when @p io is not a
 *         pipe end.
 */
SMTP_API smtp_ssize smtp_io_pipe_pending(const smtp_io *io);

/**
 * @brief Close only the sending direction of a pipe end (like
 *        shutdown(SHUT_WR)): the peer's `recv` returns ::SMTP_ERR_EOF once
 *        the bytes already sent are read.
 * @param io a pipe end made by smtp_io_pipe_new().
 * @return 0; ::SMTP_ERR_INVALID_ARGUMENT when @p io is not a pipe end.
 */
SMTP_API int smtp_io_pipe_shutdown(const smtp_io *io);
#endif

#ifdef __cplusplus
}
#endif

#endif /* SMTP_IO_H */
