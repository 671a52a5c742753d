/* smtp-eventloop: one thread, many SMTP sessions, with epoll(7).
 *
 * Every connection is a server session (server.h) driven by a driver
 * (driver.h) over a non-blocking POSIX descriptor (io.h); STARTTLS comes
 * from a throw-away self-signed certificate with --tls-self-signed. The
 * loop waits for what each driver asks (smtp_driver_poll_events()) and for
 * the nearest deadline (smtp_driver_next_timeout_ms()). Messages are
 * counted and dropped; one line per message goes to stdout:
 *   MSG <session-number> <octets> <recipients>
 *
 *   usage: smtp-eventloop [--listen HOST:PORT] [--hostname NAME]
 *                         [--tls-self-signed] [--max-connections N]
 *                         [--max-sessions N] [--help]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <smtp/smtp.h>

#define EX_USAGE 64

typedef struct conn {
  struct conn *next;
  int fd;
  unsigned long id;
  unsigned int events; /* registered with epoll */
  smtp_server_session *s;
  smtp_driver *d;
  uint64_t octets;
  unsigned int rcpts;
} conn;

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static int on_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud) {
  conn *c = ud;
  (void)s;
  (void)r;
  c->rcpts++;
  return 0;
}

static int on_data_start(smtp_server_session *s, void *ud) {
  conn *c = ud;
  (void)s;
  c->octets = 0;
  return 0;
}

static int on_chunk(smtp_server_session *s, const char *data, size_t len, void *ud) {
  conn *c = ud;
  (void)s;
  (void)data;
  c->octets += len;
  return 0;
}

static int on_data_end(smtp_server_session *s, const smtp_server_data_end *end, void *ud) {
  conn *c = ud;
  (void)s;
  if (!end->refused) printf("MSG %lu %llu %u\n", c->id, (unsigned long long)end->size, c->rcpts);
  fflush(stdout);
  c->rcpts = 0;
  return 0;
}

static int on_rset(smtp_server_session *s, void *ud) {
  (void)s;
  ((conn *)ud)->rcpts = 0;
  return 0;
}

static void usage(FILE *f) {
  fputs("usage: smtp-eventloop [--listen HOST:PORT] [--hostname NAME] [--tls-self-signed]\n"
        "                      [--max-connections N] [--max-sessions N] [--help]\n"
        "Serves many SMTP sessions in one thread (epoll); messages are counted and dropped.\n",
        f);
}

static int usage_error(const char *msg, const char *arg) {
  fprintf(stderr, "smtp-eventloop: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  return EX_USAGE;
}

static int parse_count(const char *s, unsigned long *out) {
  char *end;
  if (!s || !*s || *s == '-') return -1;
  errno = 0;
  *out = strtoul(s, &end, 10);
  return (errno || *end) ? -1 : 0;
}

/* "HOST:PORT" or "[v6]:PORT" -> a listening, non-blocking socket. */
static int listen_on(const char *spec) {
  char host[256];
  const char *port;
  struct addrinfo hints, *res, *ai;
  int fd = -1, one = 1;
  if (spec[0] == '[') {
    const char *close_br = strchr(spec, ']');
    if (!close_br || close_br[1] != ':' || (size_t)(close_br - spec - 1) >= sizeof host) return -2;
    memcpy(host, spec + 1, (size_t)(close_br - spec - 1));
    host[close_br - spec - 1] = 0;
    port = close_br + 2;
  } else {
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host) return -2;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = 0;
    port = colon + 1;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0) return -2;
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

static void update_events(int ep, conn *c) {
  unsigned int want = smtp_driver_poll_events(c->d), ev = 0;
  struct epoll_event e;
  if (want & SMTP_DRIVER_POLLIN) ev |= EPOLLIN;
  if (want & SMTP_DRIVER_POLLOUT) ev |= EPOLLOUT;
  if (ev == c->events) return;
  memset(&e, 0, sizeof e);
  e.events = ev;
  e.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
  c->events = ev;
}

static void drop(int ep, conn **list, conn *c) {
  conn **pp;
  for (pp = list; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); /* before the driver closes the fd */
  smtp_driver_del(c->d);
  smtp_server_session_del(c->s);
  free(c);
}

int main(int argc, char **argv) {
  const char *listen_spec = "127.0.0.1:2525", *hostname = "localhost";
  int self_signed = 0, lfd, ep;
  unsigned long max_conns = 0, max_sessions = 1000, accepted = 0, active = 0;
  smtp_tls_config *tls = NULL;
  smtp_server_callbacks *cbs = NULL;
  smtp_server_options *opts = NULL;
  conn *list = NULL;
  struct epoll_event lev;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--listen") == 0) {
      if (++i >= argc) return usage_error("missing value for", a);
      listen_spec = argv[i];
    } else if (strcmp(a, "--hostname") == 0) {
      if (++i >= argc) return usage_error("missing value for", a);
      hostname = argv[i];
    } else if (strcmp(a, "--tls-self-signed") == 0) {
      self_signed = 1;
    } else if (strcmp(a, "--max-connections") == 0) {
      if (++i >= argc || parse_count(argv[i], &max_conns) != 0) return usage_error("bad value for", a);
    } else if (strcmp(a, "--max-sessions") == 0) {
      if (++i >= argc || parse_count(argv[i], &max_sessions) != 0 || max_sessions == 0)
        return usage_error("bad value for", a);
    } else {
      return usage_error("unknown option", a);
    }
  }

  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  if (smtp_server_callbacks_new(&cbs, NULL) != 0 || smtp_server_options_new(&opts, NULL) != 0) {
    fputs("smtp-eventloop: out of memory\n", stderr);
    return 1;
  }
  smtp_server_callbacks_set_rcpt(cbs, on_rcpt);
  smtp_server_callbacks_set_data_start(cbs, on_data_start);
  smtp_server_callbacks_set_data_chunk(cbs, on_chunk);
  smtp_server_callbacks_set_data_end(cbs, on_data_end);
  smtp_server_callbacks_set_rset(cbs, on_rset);
  if (smtp_server_options_set_hostname(opts, hostname) != 0) return usage_error("bad --hostname", hostname);
  if (self_signed) {
    int r = smtp_tls_config_new(&tls, SMTP_TLS_SERVER, NULL);
    if (r == 0) r = smtp_tls_config_self_signed(tls, hostname);
    if (r != 0) {
      fprintf(stderr, "smtp-eventloop: TLS: %s\n", smtp_strerror(r));
      return 1;
    }
    smtp_server_options_set_tls_available(opts, 1);
  }

  lfd = listen_on(listen_spec);
  if (lfd == -2) return usage_error("bad --listen", listen_spec);
  if (lfd < 0) {
    fprintf(stderr, "smtp-eventloop: cannot listen on %s: %s\n", listen_spec, strerror(errno));
    return 1;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  memset(&lev, 0, sizeof lev);
  lev.events = EPOLLIN;
  lev.data.ptr = NULL; /* NULL marks the listener */
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  fprintf(stderr, "smtp-eventloop: listening on %s%s\n", listen_spec, tls ? " (STARTTLS)" : "");

  while (!stop && !(max_conns && accepted >= max_conns && active == 0)) {
    struct epoll_event evs[64];
    int timeout = -1, n;
    for (conn *c = list; c; c = c->next) {
      int t = smtp_driver_next_timeout_ms(c->d);
      if (t >= 0 && (timeout < 0 || t < timeout)) timeout = t;
    }
    n = epoll_wait(ep, evs, 64, timeout);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (!c) { /* accept everything pending */
        for (;;) {
          int fd;
          smtp_io io;
          struct epoll_event e;
          if (max_conns && accepted >= max_conns) break;
          fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          if (active >= max_sessions) { /* RFC 5321 3.1: 421 when busy */
            static const char busy[] = "421 4.3.2 Too many sessions, try later\r\n";
            (void)!write(fd, busy, sizeof busy - 1);
            close(fd);
            continue;
          }
          c = calloc(1, sizeof *c);
          if (!c) {
            close(fd);
            continue;
          }
          c->fd = fd;
          c->id = ++accepted;
          if (smtp_server_session_new(&c->s, cbs, c, opts, NULL) != 0 ||
              smtp_io_posix_new(&io, fd, fd, SMTP_IO_POSIX_OWN_FD, NULL) != 0) {
            smtp_server_session_del(c->s);
            close(fd);
            free(c);
            continue;
          }
          if (smtp_driver_new_server(&c->d, c->s, &io, tls, 0, NULL) != 0) { /* closes io */
            smtp_server_session_del(c->s);
            free(c);
            continue;
          }
          memset(&e, 0, sizeof e);
          e.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
          c->next = list;
          list = c;
          active++;
          smtp_driver_pump(c->d); /* the greeting */
          update_events(ep, c);
        }
        continue;
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) smtp_driver_on_readable(c->d);
      if (evs[i].events & EPOLLOUT) smtp_driver_on_writable(c->d);
    }
    /* deadlines, state changes, finished sessions */
    for (conn *c = list, *next; c; c = next) {
      next = c->next;
      if (smtp_driver_next_timeout_ms(c->d) == 0) smtp_driver_on_timer(c->d);
      if (smtp_driver_is_done(c->d)) {
        drop(ep, &list, c);
        active--;
      } else {
        update_events(ep, c);
      }
    }
  }

  while (list) drop(ep, &list, list);
  close(ep);
  close(lfd);
  smtp_tls_config_del(tls);
  smtp_server_options_del(opts);
  smtp_server_callbacks_del(cbs);
  return 0;
}
