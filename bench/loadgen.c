/* loadgen: an SMTP load generator built on libsmtp's client session, like
 * Postfix's smtp-source but pipelining (RFC 2920: MAIL, RCPT... and DATA go
 * out in one write) and optionally using BDAT (RFC 3030) when the server
 * offers CHUNKING. N sessions run concurrently in one thread: non-blocking
 * sockets, epoll, and the driver's event-loop API (smtp_driver_on_readable
 * / on_writable / poll_events). Each session reuses one transaction object
 * and the body is one shared buffer in memory, so the steady state
 * allocates nothing per message.
 *
 * Usage: loadgen [options] host:port
 *   -s sessions   concurrent sessions (default 1)
 *   -m messages   messages in total (default 1)
 *   -l length     payload octets per message, headers not included (default 1024)
 *   -r rcpts      recipients per message (default 1)
 *   -d            keep each connection for all its messages (as smtp-source -d);
 *                 without it, one message per connection
 *   -B            use BDAT when CHUNKING is offered (else CHUNKING is not used)
 *   -o bytes      client output buffer per session (default 262144: bodies
 *                 go out in large writes, as smtp-source's do)
 *   -T            STARTTLS (required; the server's certificate is not verified)
 *   -I            idle mode: open the sessions (greeting, EHLO, STARTTLS with -T),
 *                 send no mail, print "loadgen: <n> sessions idle" and hold them
 *                 until stdin closes (for measuring a server's memory per session)
 *   -q            print only the summary line
 *   -X            smtp-source's body shape (80-octet lines of a digit and "X",
 *                 no dots) instead of word lines with some line-start dots
 * Prints: "loadgen: <messages> messages (<failed> failed) in <s> s: <rate> msg/s".
 * Exit status 0 when every message was accepted. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <smtp/client.h>
#include <smtp/driver.h>
#include <smtp/io.h>
#include <smtp/tls.h>

#include "bench_common.h"

typedef struct slot slot;

typedef struct gen {
  int ep;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  const char *body;
  size_t body_len;
  unsigned nrcpt;
  int keep, bdat, quiet, idle;
  unsigned ready;     /* sessions that reached READY */
  unsigned opening;   /* connections started that have not reached READY yet */
  smtp_tls_config *tls;
  uint64_t to_submit; /* messages not yet handed to a session */
  uint64_t ok, failed, conn_failed;
  int active;         /* slots with a connection */
  smtp_client_callbacks *cbs;
  smtp_client_options *opt;
} gen;

struct slot {
  gen *g;
  int fd;
  int connecting;
  unsigned events; /* registered epoll events */
  smtp_client_session *c;
  smtp_driver *d;
  smtp_client_txn *txn;
  unsigned sent_here;
  int is_ready;
};

/* Connections being opened at once: more would overflow the server's
 * listen backlog, and a server-speaks-first protocol then leaves the
 * dropped ones hanging until the greeting times out. */
#define MAX_OPENING 64

static int fill_and_submit(slot *sl) {
  gen *g = sl->g;
  unsigned i;
  char rc[64];
  int r;
  if (g->to_submit == 0 || (!g->keep && sl->sent_here > 0)) return 0;
  g->to_submit--;
  sl->sent_here++;
  if (smtp_client_txn_reset(sl->txn) != SMTP_OK) bench_die("txn_reset");
  if (smtp_client_txn_set_from(sl->txn, "loadgen@example.com", 19) != SMTP_OK)
    bench_die("set_from");
  for (i = 0; i < g->nrcpt; i++) {
    int n = snprintf(rc, sizeof rc, "%urcpt@example.org", i);
    if (smtp_client_txn_add_rcpt(sl->txn, rc, (size_t)n, 0, NULL, 0) < 0) bench_die("add_rcpt");
  }
  if (smtp_client_txn_set_body(sl->txn, g->body, g->body_len) != SMTP_OK) bench_die("set_body");
  r = smtp_client_session_submit(sl->c, sl->txn);
  if (r != SMTP_OK) bench_die("submit: %s", smtp_strerror(r));
  return 1;
}

static int on_txn_done(smtp_client_session *c, smtp_client_txn *t,
                       const smtp_client_txn_result *res, void *ud) {
  slot *sl = ud;
  (void)t;
  if (res->status == SMTP_OK) sl->g->ok++;
  else {
    sl->g->failed++;
    if (!sl->g->quiet && sl->g->failed <= 5)
      fprintf(stderr, "loadgen: message failed: %s\n", smtp_strerror(res->status));
  }
  if (!fill_and_submit(sl)) smtp_client_session_quit(c);
  return 0;
}

static int on_event(smtp_client_session *c, const smtp_client_event *ev, void *ud) {
  slot *sl = ud;
  (void)c;
  if (ev->type == SMTP_CLIENT_EVENT_READY && !sl->is_ready) {
    sl->is_ready = 1;
    sl->g->ready++;
    sl->g->opening--;
  }
  return 0;
}

static int on_closed(smtp_client_session *c, int error, void *ud) {
  slot *sl = ud;
  (void)c;
  if (error && !sl->g->quiet) fprintf(stderr, "loadgen: session ended: %s\n", smtp_strerror(error));
  return 0;
}

static void set_events(slot *sl, unsigned want) {
  struct epoll_event ev;
  if (want == sl->events) return;
  memset(&ev, 0, sizeof ev);
  ev.events = want;
  ev.data.ptr = sl;
  if (epoll_ctl(sl->g->ep, EPOLL_CTL_MOD, sl->fd, &ev) != 0) bench_die("epoll_ctl MOD");
  sl->events = want;
}

static void sync_events(slot *sl) {
  unsigned pe = smtp_driver_poll_events(sl->d), want = 0;
  if (pe & SMTP_DRIVER_POLLIN) want |= EPOLLIN;
  if (pe & SMTP_DRIVER_POLLOUT) want |= EPOLLOUT;
  set_events(sl, want);
}

static void start_connect(slot *sl) {
  gen *g = sl->g;
  struct epoll_event ev;
  int one = 1;
  sl->fd = socket(g->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (sl->fd < 0) bench_die("socket: %s", strerror(errno));
  setsockopt(sl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(sl->fd, (struct sockaddr *)&g->addr, g->addrlen) != 0 && errno != EINPROGRESS)
    bench_die("connect: %s", strerror(errno));
  sl->connecting = 1;
  sl->sent_here = 0;
  sl->is_ready = 0;
  g->opening++;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLOUT;
  ev.data.ptr = sl;
  if (epoll_ctl(g->ep, EPOLL_CTL_ADD, sl->fd, &ev) != 0) bench_die("epoll_ctl ADD");
  sl->events = EPOLLOUT;
  g->active++;
}

/* The connection is up: a session and a driver over it. */
static void start_session(slot *sl) {
  gen *g = sl->g;
  smtp_io io;
  int err = 0, r;
  socklen_t el = sizeof err;
  getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &el);
  if (err) bench_die("connect: %s", strerror(err));
  sl->connecting = 0;
  r = smtp_client_session_new(&sl->c, g->cbs, sl, g->opt, NULL);
  if (r != SMTP_OK) bench_die("client session: %s", smtp_strerror(r));
  if (!fill_and_submit(sl) && !g->idle) smtp_client_session_quit(sl->c);
  if (smtp_io_posix_new(&io, sl->fd, sl->fd, 0, NULL) != 0) bench_die("io");
  r = smtp_driver_new_client(&sl->d, sl->c, &io, g->tls, g->tls ? "localhost" : NULL, 0, NULL);
  if (r != SMTP_OK) bench_die("driver: %s", smtp_strerror(r));
  smtp_driver_pump(sl->d);
  sync_events(sl);
}

static void end_session(slot *sl) {
  gen *g = sl->g;
  int err = smtp_driver_error(sl->d);
  if (err && err != SMTP_ERR_CLOSED) {
    g->conn_failed++;
    if (!g->quiet && g->conn_failed <= 5)
      fprintf(stderr, "loadgen: connection ended: %s\n", smtp_strerror(err));
  }
  epoll_ctl(g->ep, EPOLL_CTL_DEL, sl->fd, NULL);
  smtp_driver_del(sl->d); /* does not close the fd (not owned) */
  smtp_client_session_del(sl->c);
  close(sl->fd);
  sl->d = NULL;
  sl->c = NULL;
  sl->fd = -1;
  g->active--;
  if (!sl->is_ready) g->opening--;
  else if (g->idle) g->ready--;
  sl->is_ready = 0;
  if (g->to_submit > 0) start_connect(sl);
}

static void parse_target(gen *g, const char *target) {
  char host[256];
  const char *colon = strrchr(target, ':');
  struct addrinfo hints, *res;
  size_t hl;
  int r;
  if (!colon || colon == target || (hl = (size_t)(colon - target)) >= sizeof host)
    bench_die("loadgen: target must be host:port");
  memcpy(host, target, hl);
  host[hl] = 0;
  if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
    memmove(host, host + 1, hl - 2);
    host[hl - 2] = 0;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  r = getaddrinfo(host, colon + 1, &hints, &res);
  if (r != 0) bench_die("loadgen: %s: %s", target, gai_strerror(r));
  memcpy(&g->addr, res->ai_addr, res->ai_addrlen);
  g->addrlen = res->ai_addrlen;
  freeaddrinfo(res);
}

/* Headers like smtp-source's, then `length` octets of text lines: words in
 * lines of 62-79 octets with a line-start dot on one line in 40 (the
 * default), or with @p xlines smtp-source's own shape (a digit, 77 "X",
 * CRLF: 80-octet lines, no dots), so that both clients hand smtp-sink the
 * same number of lines per message. */
static char *make_message(size_t length, size_t *out_len, int xlines) {
  char *m = malloc(length + 512);
  int n;
  if (!m) bench_die("out of memory");
  n = snprintf(m, 512,
               "From: <loadgen@example.com>\r\nTo: <rcpt@example.org>\r\n"
               "Date: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-Id: <loadgen.1@example.com>\r\n"
               "Subject: loadgen\r\n\r\n");
  if (xlines) {
    size_t i = 0, line = 0;
    while (i < length) {
      size_t k = length - i < 80 ? length - i : 80;
      char *o = m + (size_t)n + i;
      for (size_t j = 0; j < k; j++) o[j] = j == 0 ? (char)('0' + line % 10) : 'X';
      if (k >= 2) memcpy(o + k - 2, "\r\n", 2);
      i += k;
      line++;
    }
  } else if (length >= 64) bench_make_body(m + n, length, 7);
  else {
    memset(m + n, 'x', length);
    if (length >= 2) memcpy(m + n + length - 2, "\r\n", 2);
  }
  *out_len = (size_t)n + length;
  return m;
}

int main(int argc, char **argv) {
  gen g;
  slot *slots;
  unsigned nsess = 1, i, next;
  uint64_t total = 1;
  size_t length = 1024, outbuf = 262144;
  int opt, xlines = 0;
  double t0, t1;
  struct rlimit rl;
  memset(&g, 0, sizeof g);
  g.nrcpt = 1;
  while ((opt = getopt(argc, argv, "s:m:l:r:o:dBTIqX")) != -1) {
    switch (opt) {
    case 's': nsess = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'm': total = strtoull(optarg, NULL, 10); break;
    case 'l': length = strtoull(optarg, NULL, 10); break;
    case 'r': g.nrcpt = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'o': outbuf = strtoull(optarg, NULL, 10); break;
    case 'd': g.keep = 1; break;
    case 'B': g.bdat = 1; break;
    case 'T':
      if (smtp_tls_config_new(&g.tls, SMTP_TLS_CLIENT, NULL) != SMTP_OK ||
          smtp_tls_config_set_verify(g.tls, SMTP_TLS_VERIFY_NONE) != SMTP_OK)
        bench_die("loadgen: TLS is not available in this build");
      break;
    case 'I': g.idle = 1; break;
    case 'q': g.quiet = 1; break;
    case 'X': xlines = 1; break;
    default:
      fprintf(stderr, "usage: loadgen [-s sessions] [-m messages] [-l length] [-r rcpts] [-d] [-B]"
                      " [-o outbuf] [-q] [-X] host:port\n");
      return 2;
    }
  }
  if (optind != argc - 1 || nsess == 0 || total == 0 || g.nrcpt == 0 || g.nrcpt > 1000) {
    fprintf(stderr, "usage: loadgen [-s sessions] [-m messages] [-l length] [-r rcpts] [-d] [-B]"
                    " [-o outbuf] [-q] [-X] host:port\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  parse_target(&g, argv[optind]);
  g.body = make_message(length, &g.body_len, xlines);
  g.to_submit = g.idle ? 0 : total;
  if (!g.idle && nsess > total) nsess = (unsigned)total;

  if (smtp_client_callbacks_new(&g.cbs, NULL) != SMTP_OK) bench_die("callbacks");
  smtp_client_callbacks_set_txn_done(g.cbs, on_txn_done);
  smtp_client_callbacks_set_closed(g.cbs, on_closed);
  smtp_client_callbacks_set_event(g.cbs, on_event);
  if (smtp_client_options_new(&g.opt, NULL) != SMTP_OK) bench_die("options");
  smtp_client_options_set_starttls(g.opt, g.tls ? SMTP_CLIENT_STARTTLS_REQUIRED
                                                 : SMTP_CLIENT_STARTTLS_OFF);
  smtp_client_options_set_ehlo_name(g.opt, "loadgen.example.com");
  if (smtp_client_options_set_output_buffer(g.opt, outbuf) != SMTP_OK)
    bench_die("loadgen: bad output buffer size %zu", outbuf);
  if (!g.bdat)
    smtp_client_options_set_disabled_extensions(g.opt, SMTP_EXT_CHUNKING | SMTP_EXT_BINARYMIME);

  g.ep = epoll_create1(EPOLL_CLOEXEC);
  if (g.ep < 0) bench_die("epoll_create1");
  slots = calloc(nsess, sizeof *slots);
  if (!slots) bench_die("out of memory");
  t0 = bench_now();
  for (i = 0; i < nsess; i++) {
    slots[i].g = &g;
    slots[i].fd = -1;
    if (smtp_client_txn_new(&slots[i].txn, NULL) != SMTP_OK) bench_die("txn_new");
  }
  next = 0;
  while (g.active > 0 || next < nsess) {
    struct epoll_event evs[256];
    while (next < nsess && g.opening < MAX_OPENING) start_connect(&slots[next++]);
    if (g.idle && g.ready == nsess) {
      char b[64];
      printf("loadgen: %u sessions idle\n", g.ready);
      fflush(stdout);
      while (read(0, b, sizeof b) > 0) {
      }
      return 0;
    }
    int n = epoll_wait(g.ep, evs, 256, 1000), k;
    if (n < 0) {
      if (errno == EINTR) continue;
      bench_die("epoll_wait: %s", strerror(errno));
    }
    if (n == 0) {
      for (i = 0; i < nsess; i++)
        if (slots[i].d) {
          smtp_driver_on_timer(slots[i].d);
          if (smtp_driver_is_done(slots[i].d)) end_session(&slots[i]);
          else sync_events(&slots[i]);
        }
      continue;
    }
    for (k = 0; k < n; k++) {
      slot *sl = evs[k].data.ptr;
      if (sl->connecting) {
        start_session(sl);
      } else {
        if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) smtp_driver_on_readable(sl->d);
        if ((evs[k].events & EPOLLOUT) && !smtp_driver_is_done(sl->d))
          smtp_driver_on_writable(sl->d);
      }
      if (sl->d && smtp_driver_is_done(sl->d)) end_session(sl);
      else if (sl->d) sync_events(sl);
    }
  }
  t1 = bench_now();
  printf("loadgen: %llu messages (%llu failed) in %.3f s: %.1f msg/s\n",
         (unsigned long long)(g.ok + g.failed), (unsigned long long)g.failed, t1 - t0,
         (double)g.ok / (t1 - t0));
  for (i = 0; i < nsess; i++) smtp_client_txn_del(slots[i].txn);
  free(slots);
  free((void *)g.body);
  smtp_client_callbacks_del(g.cbs);
  smtp_client_options_del(g.opt);
  smtp_tls_config_del(g.tls);
  close(g.ep);
  return g.failed || g.ok != total ? 1 : 0;
}
