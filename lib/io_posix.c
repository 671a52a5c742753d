/* The bundled POSIX file-descriptor adapter (io.h). Blocking and
 * non-blocking descriptors alike: EINTR is retried, EAGAIN/EWOULDBLOCK
 * become SMTP_ERR_WOULDBLOCK in smtp__io_errno(), sockets are written with
 * MSG_NOSIGNAL so a vanished peer never raises SIGPIPE. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "adapters.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* BSDs without it: SO_NOSIGPIPE is set below instead */
#endif

typedef struct posix_io {
  smtp_mem mem;
  int rfd, wfd;
  int rsock, wsock; /* the descriptor is a socket: use recv/send */
  unsigned int flags;
} posix_io;

smtp_ssize smtp__io_errno(int err) {
  if (err == EAGAIN || err == EWOULDBLOCK) return SMTP_ERR_WOULDBLOCK;
  return SMTP_ERR_IO;
}

static smtp_ssize posix_send(const char *data, size_t len, void *ud) {
  posix_io *p = ud;
  for (;;) {
    ssize_t n = p->wsock ? send(p->wfd, data, len, MSG_NOSIGNAL) : write(p->wfd, data, len);
    if (n >= 0) return n == 0 ? SMTP_ERR_WOULDBLOCK : (smtp_ssize)n;
    if (errno != EINTR) return smtp__io_errno(errno);
  }
}

static smtp_ssize posix_recv(char *buf, size_t len, void *ud) {
  posix_io *p = ud;
  for (;;) {
    ssize_t n = p->rsock ? recv(p->rfd, buf, len, 0) : read(p->rfd, buf, len);
    if (n > 0) return (smtp_ssize)n;
    if (n == 0) return SMTP_ERR_EOF;
    if (errno != EINTR) return smtp__io_errno(errno);
  }
}

static int posix_wait(unsigned int events, int timeout_ms, void *ud) {
  posix_io *p = ud;
  struct pollfd fds[2];
  nfds_t n = 0;
  int r;
  unsigned int ready = 0;
  if (events & SMTP_IO_READ) {
    fds[n].fd = p->rfd;
    fds[n].events = POLLIN;
    fds[n].revents = 0;
    n++;
  }
  if (events & SMTP_IO_WRITE) {
    if (n == 1 && p->wfd == p->rfd) {
      fds[0].events |= POLLOUT;
    } else {
      fds[n].fd = p->wfd;
      fds[n].events = POLLOUT;
      fds[n].revents = 0;
      n++;
    }
  }
  /* n == 0: just sleep for the timeout (a driver with only a deadline). */
  /* EINTR: return 0 ("nothing ready") and let the caller re-check its
   * deadline, rather than restarting with a stale timeout. */
  r = poll(fds, n, timeout_ms);
  if (r < 0) return errno == EINTR ? 0 : SMTP_ERR_IO;
  for (nfds_t i = 0; i < n; i++) {
    /* Errors and hang-ups count as ready: the next recv/send reports them. */
    if (fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
      if (fds[i].fd == p->rfd && (events & SMTP_IO_READ)) ready |= SMTP_IO_READ;
    }
    if (fds[i].revents & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)) {
      if (fds[i].fd == p->wfd && (events & SMTP_IO_WRITE)) ready |= SMTP_IO_WRITE;
    }
  }
  return (int)ready;
}

static int io_posix_close(void *ud) {
  posix_io *p = ud;
  smtp_mem mem = p->mem;
  int r = 0;
  if (p->flags & SMTP_IO_POSIX_OWN_FD) {
    if (close(p->rfd) != 0 && errno != EINTR) r = SMTP_ERR_IO;
    if (p->wfd != p->rfd && close(p->wfd) != 0 && errno != EINTR) r = SMTP_ERR_IO;
  }
  smtp__free(&mem, p);
  return r;
}

static int is_socket(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  return S_ISSOCK(st.st_mode) ? 1 : 0;
}

int smtp_io_posix_new(smtp_io *io, int rfd, int wfd, unsigned int flags, const smtp_mem *mem) {
  posix_io *p;
  if (!io || rfd < 0 || wfd < 0 || (flags & ~SMTP_IO_POSIX_OWN_FD)) return SMTP_ERR_INVALID_ARGUMENT;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  p = smtp__calloc(mem, 1, sizeof *p);
  if (!p) return SMTP_ERR_NOMEM;
  p->mem = *mem;
  p->rfd = rfd;
  p->wfd = wfd;
  p->rsock = is_socket(rfd);
  p->wsock = is_socket(wfd);
  p->flags = flags;
#if defined(SO_NOSIGPIPE)
  if (p->wsock) {
    int one = 1;
    (void)setsockopt(wfd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
  }
#endif
  io->version = SMTP_IO_VERSION;
  io->user_data = p;
  io->send = posix_send;
  io->recv = posix_recv;
  io->close = io_posix_close;
  io->wait = posix_wait;
  return SMTP_OK;
}

int smtp_io_posix_fd(const smtp_io *io) {
  if (!io || io->send != posix_send || !io->user_data) return SMTP_ERR_INVALID_ARGUMENT;
  return ((const posix_io *)io->user_data)->rfd;
}
