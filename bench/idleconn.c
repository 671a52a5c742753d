/* idleconn: open N TCP connections to an SMTP server, read each greeting,
 * send EHLO and read its reply, then hold every connection idle until
 * stdin closes (or -t seconds pass), so the server's memory per idle
 * session can be read from outside (bench/run-loopback measures the
 * server's RSS). One thread, non-blocking sockets, epoll. Raises
 * RLIMIT_NOFILE as far as the hard limit allows.
 *
 * Usage: idleconn [-n connections] [-t seconds] [-e] host:port
 *   -e  stop after the greeting (no EHLO)
 * Prints "idleconn: <ready> of <n> connections idle" once all are set up,
 * then waits. Exit status 0 when all N became idle. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"

enum { C_CONNECTING, C_GREETING, C_EHLO, C_IDLE, C_FAILED };

typedef struct conn {
  int fd, state;
  size_t have;
  char buf[512];
} conn;

/* 1 when buf holds a complete (last-line) reply. */
static int reply_complete(const char *b, size_t n) {
  size_t start = 0, i;
  for (i = 0; i + 1 < n; i++) {
    if (b[i] == '\r' && b[i + 1] == '\n') {
      if (i - start >= 3 && (i - start == 3 || b[start + 3] == ' ')) return 1;
      start = i + 2;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  unsigned n = 1000, i, ready = 0, failed = 0;
  int secs = -1, no_ehlo = 0, opt, ep;
  char host[256];
  const char *target, *colon;
  struct addrinfo hints, *res;
  struct rlimit rl;
  conn *cs;
  while ((opt = getopt(argc, argv, "n:t:e")) != -1) {
    switch (opt) {
    case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
    case 't': secs = atoi(optarg); break;
    case 'e': no_ehlo = 1; break;
    default: fprintf(stderr, "usage: idleconn [-n N] [-t seconds] [-e] host:port\n"); return 2;
    }
  }
  if (optind != argc - 1 || n == 0) {
    fprintf(stderr, "usage: idleconn [-n N] [-t seconds] [-e] host:port\n");
    return 2;
  }
  target = argv[optind];
  colon = strrchr(target, ':');
  if (!colon || (size_t)(colon - target) >= sizeof host) bench_die("idleconn: host:port");
  memcpy(host, target, (size_t)(colon - target));
  host[colon - target] = 0;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, colon + 1, &hints, &res) != 0) bench_die("idleconn: cannot resolve %s", target);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)n + 16)
      bench_die("idleconn: RLIMIT_NOFILE %llu is too small for %u connections",
                (unsigned long long)rl.rlim_cur, n);
  }
  cs = calloc(n, sizeof *cs);
  ep = epoll_create1(0);
  if (!cs || ep < 0) bench_die("idleconn: setup failed");
  /* Connect in batches so the server's accept queue is not overrun. */
  for (i = 0; i < n || ready + failed < n;) {
    struct epoll_event evs[256];
    int k, m;
    unsigned pending = i - ready - failed;
    while (i < n && pending < 256) {
      struct epoll_event ev;
      conn *c = &cs[i++];
      c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (c->fd < 0) bench_die("idleconn: socket: %s", strerror(errno));
      if (connect(c->fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS)
        bench_die("idleconn: connect: %s", strerror(errno));
      c->state = C_GREETING;
      memset(&ev, 0, sizeof ev);
      ev.events = EPOLLIN;
      ev.data.ptr = c;
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
      pending++;
    }
    m = epoll_wait(ep, evs, 256, 10000);
    if (m == 0) bench_die("idleconn: no progress for 10 s (%u idle, %u failed)", ready, failed);
    for (k = 0; k < m; k++) {
      conn *c = evs[k].data.ptr;
      ssize_t r = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        c->state = C_FAILED;
        failed++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        continue;
      }
      c->have += (size_t)r;
      if (c->have == sizeof c->buf) c->have = 0; /* long reply: keep only the tail */
      if (!reply_complete(c->buf, c->have)) continue;
      c->have = 0;
      if (c->state == C_GREETING && !no_ehlo) {
        static const char ehlo[] = "EHLO idle.example.com\r\n";
        if (send(c->fd, ehlo, sizeof ehlo - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof ehlo - 1))
          bench_die("idleconn: send failed");
        c->state = C_EHLO;
        continue;
      }
      c->state = C_IDLE;
      ready++;
      epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    }
  }
  freeaddrinfo(res);
  printf("idleconn: %u of %u connections idle\n", ready, n);
  fflush(stdout);
  if (secs >= 0) {
    sleep((unsigned)secs);
  } else {
    char b[64];
    while (read(0, b, sizeof b) > 0) {
    }
  }
  for (i = 0; i < n; i++) close(cs[i].fd);
  free(cs);
  return ready == n ? 0 : 1;
}
