/* smtp-server: a small, real mail server built on the server session
 * (docs/examples.md). The application logic (options, policy, AUTH, Maildir
 * delivery) lives in server_app.c; this file is the transport:
 *
 *   - TCP: every --listen address (IPv4 and IPv6; a name such as
 *     "localhost" binds each of its addresses), many sessions at once in
 *     one thread with epoll(7) and the driver's non-blocking API
 *     (driver.h), STARTTLS or implicit TLS (RFC 8314) from
 *     --tls-cert/--tls-key or --tls-self-signed, each session bounded by
 *     its RFC 5321 4.5.3.2 deadlines;
 *   - --stdio: one session on stdin/stdout (inetd style) with the driver's
 *     blocking loop, TLS included.
 *
 *   smtp-server --listen 127.0.0.1:2525 --listen '[::1]:2525' \
 *               --tls-self-signed --auth-file users --maildir ./Maildir
 *   smtp-server --stdio --maildir ./Maildir --trace
 *
 * One line per listening socket goes to stderr at start-up:
 *   smtp-server: listening on 127.0.0.1:2525 (STARTTLS)
 * (port 0 picks a free port; the line shows which). SIGINT or SIGTERM: stop
 * accepting, send 421 4.3.2 to every session, exit 0 once they are gone
 * (at most 5 seconds later).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, epoll_pwait */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <unistd.h>

#include <smtp/smtp.h>

#include "capture_app.h"
#include "server_app.h"

#define EX_USAGE 64
#define MAX_LISTENERS (SERVER_APP_MAX_LISTEN * 4)
#define ACCEPT_BATCH 64          /* connections accepted per wakeup, so sessions are not starved */
#define ACCEPT_PAUSE_MS 200      /* after EMFILE and friends */
#define SHUTDOWN_GRACE_MS 5000   /* after SIGINT/SIGTERM */

struct server;

typedef struct conn {
  struct conn *prev, *next;
  struct server *sv;
  int fd;
  unsigned int events; /* registered with epoll */
  smtp_server_session *s;
  smtp_driver *d;
  server_app_conn *app;
  /* Maildir delivery on the worker thread (TCP): the session waits for its
   * deferred answer meanwhile. A connection dropped while its message is
   * with the worker is only unlinked ("orphan") and freed when it comes
   * back. */
  int inflight, orphan, ok;
  int tls_reported; /* --tls-client-ca: the client certificate was reported */
  struct conn *job_next;
} conn;

typedef struct listener {
  int fd;
  char name[INET6_ADDRSTRLEN + 16];
} listener;

typedef struct server {
  const server_app_config *cfg;
  smtp_tls_config *tls;       /* NULL: no TLS */
  unsigned int driver_flags;  /* SMTP_DRIVER_IMPLICIT_TLS or 0 */
  smtp_server_options *opt;   /* shared by every session */
  smtp_server_callbacks *cb;
  int ep;
  listener ls[MAX_LISTENERS];
  size_t nls;
  int accept_paused;
  int64_t accept_resume;
  conn *list;
  unsigned int active;
  unsigned long accepted;
  /* the delivery worker: a queue in, a queue out, an eventfd to wake the loop */
  pthread_t worker;
  int worker_running, worker_stop;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  conn *todo_head, *todo_tail, *done_head;
  int efd;
  /* resource limits (descriptors, memory): see "Resource limits" below */
  unsigned int max_conns;     /* --max-connections, or derived from RLIMIT_NOFILE */
  int spare_fd;               /* held back for EMFILE: accept, 421, close */
  int statm_fd;               /* /proc/self/statm, kept open (no descriptor needed later) */
  unsigned int peak_active;   /* since the last malloc_trim */
  int64_t next_trim;
  unsigned long shed_fd, shed_mem, shed_busy;
  int64_t next_shed_log;
} server;

static volatile sig_atomic_t stop_requested, reload_requested;
static void on_signal(int sig) {
  if (sig == SIGHUP) reload_requested = 1;
  else stop_requested = 1;
}

/* SIGHUP: re-read --tls-cert/--tls-key for the sessions from now on; a
 * pair that does not load leaves the old one in use. */
static void reload_tls(server *sv) {
  const server_app_config *cfg = sv->cfg;
  char why[256] = "";
  int r;
  reload_requested = 0;
  if (!sv->tls || !cfg->tls_cert) {
    fprintf(stderr, "smtp-server: SIGHUP: no --tls-cert/--tls-key to re-read\n");
    return;
  }
  r = smtp_tls_config_replace_cert_file(sv->tls, cfg->tls_cert, cfg->tls_key, NULL);
  if (r == 0) {
    fprintf(stderr, "smtp-server: SIGHUP: loaded %s, new sessions use it\n", cfg->tls_cert);
    return;
  }
  smtp_tls_config_last_error(sv->tls, why, sizeof why);
  fprintf(stderr, "smtp-server: SIGHUP: %s not loaded (%s); keeping the previous certificate\n",
          cfg->tls_cert, why[0] ? why : smtp_strerror(r));
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "HOST:PORT", "[v6]:PORT", ":PORT" or "*:PORT" (every address). Returns 0
 * or -1 (a usage error). */
static int split_hostport(const char *spec, char *host, size_t hcap, char *port, size_t pcap) {
  const char *p;
  size_t hl;
  unsigned long v = 0;
  if (spec[0] == '[') {
    const char *close_br = strchr(spec, ']');
    if (!close_br || close_br[1] != ':') return -1;
    hl = (size_t)(close_br - spec - 1);
    if (hl == 0 || hl >= hcap) return -1;
    memcpy(host, spec + 1, hl);
    p = close_br + 2;
  } else {
    const char *colon = strrchr(spec, ':');
    if (!colon) return -1;
    hl = (size_t)(colon - spec);
    if (hl >= hcap || memchr(spec, ':', hl)) return -1; /* IPv6 needs brackets */
    memcpy(host, spec, hl);
    p = colon + 1;
  }
  host[hl] = '\0';
  if (strcmp(host, "*") == 0) host[0] = '\0';
  if (!*p || strlen(p) > 5 || strlen(p) >= pcap) return -1;
  for (const char *q = p; *q; q++) {
    if (*q < '0' || *q > '9') return -1;
    v = v * 10 + (unsigned long)(*q - '0');
  }
  if (v > 65535) return -1;
  snprintf(port, pcap, "%lu", v);
  return 0;
}

/* "127.0.0.1:25" / "[::1]:25" for messages; @p literal gets the address
 * as an RFC 5321 4.1.3 address literal body ("127.0.0.1", "IPv6:::1") for
 * the Received field. */
static void format_addr(const struct sockaddr_storage *ss, char *name, size_t ncap, char *literal,
                        size_t lcap) {
  char a[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
    port = ntohs(s4->sin_port);
    if (name) snprintf(name, ncap, "%s:%u", a, port);
    if (literal) snprintf(literal, lcap, "%s", a);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
    port = ntohs(s6->sin6_port);
    if (name) snprintf(name, ncap, "[%s]:%u", a, port);
    if (literal) snprintf(literal, lcap, "IPv6:%s", a);
  } else {
    if (name) snprintf(name, ncap, "?");
    if (literal) literal[0] = '\0';
  }
}

/* Bind and listen on every address of @p spec. Returns the number of
 * sockets added, or -1 after a message. */
static int listen_on(server *sv, const char *spec) {
  char host[256], port[8];
  struct addrinfo hints, *res = NULL, *ai;
  int rc, added = 0, last_errno = 0;
  if (split_hostport(spec, host, sizeof host, port, sizeof port) != 0) return -2;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "smtp-server: cannot listen on %s: %s\n", spec, gai_strerror(rc));
    return -1;
  }
  for (ai = res; ai; ai = ai->ai_next) {
    int fd, one = 1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (sv->nls >= MAX_LISTENERS) break;
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sv->cfg->net.workers > 1) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    /* [::]:25 and 0.0.0.0:25 may both be given: keep the families apart. */
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
      last_errno = errno;
      close(fd);
      continue;
    }
    memset(&ss, 0, sizeof ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    format_addr(&ss, sv->ls[sv->nls].name, sizeof sv->ls[sv->nls].name, NULL, 0);
    sv->ls[sv->nls++].fd = fd;
    added++;
  }
  freeaddrinfo(res);
  if (added == 0) {
    fprintf(stderr, "smtp-server: cannot listen on %s: %s\n", spec,
            last_errno ? strerror(last_errno) : "no usable address");
    return -1;
  }
  return added;
}

/* --tls-cert/--tls-key or --tls-self-signed; --tls-cert-out. */
static int setup_tls(server *sv, const server_app_config *cfg) {
  int r;
  char why[256] = "";
  if (!cfg->tls_cert && !cfg->tls_self_signed) return 0;
  if (!smtp_tls_available()) {
    fprintf(stderr, "smtp-server: TLS options given but this build has no TLS (-Dtls=disabled)\n");
    return -1;
  }
  {
    int be = SMTP_TLS_BACKEND_DEFAULT;
    if (cfg->tls_backend && (be = smtp_tls_backend_by_name(cfg->tls_backend)) < 0) {
      fprintf(stderr, "smtp-server: TLS backend %s is not in this build\n", cfg->tls_backend);
      return -1;
    }
    r = smtp_tls_config_new_backend(&sv->tls, SMTP_TLS_SERVER, be, NULL);
  }
  if (r == 0 && cfg->tls_client_ca) {
    /* ask for a client certificate; a session without one goes on */
    r = smtp_tls_config_ca_file(sv->tls, cfg->tls_client_ca);
    if (r == 0) r = smtp_tls_config_set_verify(sv->tls, SMTP_TLS_VERIFY_OPTIONAL);
  }
  if (r == 0) {
    if (cfg->tls_cert) {
      r = smtp_tls_config_cert_file(sv->tls, cfg->tls_cert, cfg->tls_key, NULL);
    } else {
      /* the certificate names the host; an address literal cannot be a dNSName */
      const char *name = cfg->hostname[0] == '[' ? "localhost" : cfg->hostname;
      r = smtp_tls_config_self_signed(sv->tls, name);
    }
  }
  if (r != 0) {
    if (sv->tls) smtp_tls_config_last_error(sv->tls, why, sizeof why);
    fprintf(stderr, "smtp-server: TLS set-up failed: %s\n", why[0] ? why : smtp_strerror(r));
    return -1;
  }
  if (cfg->tls_cert_out) {
    size_t need = 0;
    char *pem, tmp[4200];
    FILE *f;
    r = smtp_tls_config_export_cert(sv->tls, NULL, 0, &need);
    if (r != SMTP_ERR_BUFFER_TOO_SMALL && r != 0) {
      fprintf(stderr, "smtp-server: cannot export the certificate: %s\n", smtp_strerror(r));
      return -1;
    }
    pem = malloc(need + 1);
    if (!pem || smtp_tls_config_export_cert(sv->tls, pem, need + 1, &need) != 0) {
      free(pem);
      fprintf(stderr, "smtp-server: cannot export the certificate\n");
      return -1;
    }
    /* written whole under a temporary name, then renamed: whoever waits
     * for the file never reads half of it */
    if (snprintf(tmp, sizeof tmp, "%s.tmp", cfg->tls_cert_out) >= (int)sizeof tmp ||
        !(f = fopen(tmp, "w"))) {
      free(pem);
      fprintf(stderr, "smtp-server: cannot write %s: %s\n", cfg->tls_cert_out, strerror(errno));
      return -1;
    }
    r = fwrite(pem, 1, need, f) == need ? 0 : -1;
    if (fclose(f) != 0) r = -1;
    free(pem);
    if (r != 0 || rename(tmp, cfg->tls_cert_out) != 0) {
      fprintf(stderr, "smtp-server: cannot write %s: %s\n", cfg->tls_cert_out, strerror(errno));
      unlink(tmp);
      return -1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The event loop.                                                           */

static void update_events(server *sv, conn *c) {
  unsigned int want = smtp_driver_poll_events(c->d), ev = 0;
  struct epoll_event e;
  if (want & SMTP_DRIVER_POLLIN) ev |= EPOLLIN;
  if (want & SMTP_DRIVER_POLLOUT) ev |= EPOLLOUT;
  if (script_conn_wait_ms(server_app_conn_script(c->app)) > 0) ev &= ~(unsigned)EPOLLOUT; /* --script holds it */
  if (ev == c->events) return;
  memset(&e, 0, sizeof e);
  e.events = ev;
  e.data.ptr = c;
  epoll_ctl(sv->ep, EPOLL_CTL_MOD, c->fd, &e);
  c->events = ev;
}

static void drop(server *sv, conn *c) {
  if (c->prev) c->prev->next = c->next;
  else sv->list = c->next;
  if (c->next) c->next->prev = c->prev;
  epoll_ctl(sv->ep, EPOLL_CTL_DEL, c->fd, NULL); /* before the driver closes the fd */
  server_app_conn_set_driver(c->app, NULL);
  smtp_driver_del(c->d);                         /* closes the descriptor */
  smtp_server_session_del(c->s);
  c->d = NULL;
  c->s = NULL;
  sv->active--;
  if (c->inflight) {
    c->orphan = 1; /* the worker still writes its message: freed when it returns */
    return;
  }
  server_app_conn_del(c->app); /* drops an unfinished delivery */
  free(c);
}

/* ------------------------------------------------------------------------ */
/* Maildir delivery off the event loop: fsync can take milliseconds to
 * seconds on a busy disk, and every session of this one thread would wait
 * for it. The end of data is answered later instead (the session's
 * deferred answer, smtp_server_session_reply()).                            */

static void *worker_main(void *arg) {
  server *sv = arg;
  pthread_mutex_lock(&sv->mu);
  for (;;) {
    conn *c;
    int ok;
    uint64_t one = 1;
    while (!sv->todo_head && !sv->worker_stop) pthread_cond_wait(&sv->cv, &sv->mu);
    if (!sv->todo_head) break; /* stopping, and nothing left */
    c = sv->todo_head;
    sv->todo_head = c->job_next;
    if (!sv->todo_head) sv->todo_tail = NULL;
    pthread_mutex_unlock(&sv->mu);
    ok = server_app_deliver(c->app) == 0;
    pthread_mutex_lock(&sv->mu);
    c->ok = ok;
    c->job_next = sv->done_head;
    sv->done_head = c;
    (void)!write(sv->efd, &one, sizeof one);
  }
  pthread_mutex_unlock(&sv->mu);
  return NULL;
}

/* server_app's hook: the message is complete, hand it to the worker. */
static void deliver_async(server_app_conn *a, void *ud) {
  conn *c = ud;
  server *sv = c->sv;
  (void)a;
  c->inflight = 1;
  pthread_mutex_lock(&sv->mu);
  c->job_next = NULL;
  if (sv->todo_tail) sv->todo_tail->job_next = c;
  else sv->todo_head = c;
  sv->todo_tail = c;
  pthread_cond_signal(&sv->cv);
  pthread_mutex_unlock(&sv->mu);
}

/* On the loop: answer every delivery the worker finished. */
static void deliveries_done(server *sv) {
  uint64_t n;
  conn *list;
  (void)!read(sv->efd, &n, sizeof n);
  pthread_mutex_lock(&sv->mu);
  list = sv->done_head;
  sv->done_head = NULL;
  pthread_mutex_unlock(&sv->mu);
  while (list) {
    conn *c = list;
    list = c->job_next;
    c->inflight = 0;
    if (c->orphan) {
      server_app_conn_del(c->app);
      free(c);
      continue;
    }
    (void)server_app_delivered(c->app, c->s, c->ok);
    smtp_driver_pump(c->d); /* the loop below drops it or updates its events */
  }
}

static int worker_start(server *sv) {
  sv->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (sv->efd < 0) return -1;
  pthread_mutex_init(&sv->mu, NULL);
  pthread_cond_init(&sv->cv, NULL);
  if (pthread_create(&sv->worker, NULL, worker_main, sv) != 0) {
    close(sv->efd);
    sv->efd = -1;
    return -1;
  }
  sv->worker_running = 1;
  return 0;
}

/* After every connection was dropped: let the worker finish, free the orphans. */
static void worker_stop(server *sv) {
  if (!sv->worker_running) return;
  pthread_mutex_lock(&sv->mu);
  sv->worker_stop = 1;
  pthread_cond_signal(&sv->cv);
  pthread_mutex_unlock(&sv->mu);
  pthread_join(sv->worker, NULL);
  sv->worker_running = 0;
  deliveries_done(sv);
  close(sv->efd);
  sv->efd = -1;
  pthread_mutex_destroy(&sv->mu);
  pthread_cond_destroy(&sv->cv);
}

static void set_listeners(server *sv, unsigned int events) {
  for (size_t i = 0; i < sv->nls; i++) {
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = events;
    e.data.ptr = &sv->ls[i];
    epoll_ctl(sv->ep, EPOLL_CTL_MOD, sv->ls[i].fd, &e);
  }
}

static int is_listener(const server *sv, const void *p) {
  return p >= (const void *)&sv->ls[0] && p < (const void *)&sv->ls[MAX_LISTENERS];
}

/* ------------------------------------------------------------------------ */
/* Resource limits: descriptors and memory. A server that runs out of
 * descriptors must still answer: one descriptor is held back (the spare);
 * when accept(2) fails with EMFILE/ENFILE the spare is closed, the waiting
 * connection accepted with it, told 421 4.3.2 and closed, and the spare
 * re-opened, so the listen queue drains instead of leaving clients
 * without an answer. The default --max-connections leaves room for two
 * descriptors per session (the socket and a message file in tmp/) within
 * RLIMIT_NOFILE. Past --max-memory (resident set size), new connections
 * get 421 4.3.2. After a load peak, free heap pages go back to the system
 * (malloc_trim) once the number of sessions has fallen.                    */

#define FD_RESERVE 16          /* stdio, epoll, eventfd, spare, statm, TLS files, logs */
#define MAX_CONNS_DEFAULT 1000
#define TRIM_INTERVAL_MS 1000
#define SHED_LOG_INTERVAL_MS 1000

static void open_spare(server *sv) {
  if (sv->spare_fd < 0) sv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Raise the soft descriptor limit towards what the sessions need (two
 * descriptors each for --max-connections, or for MAX_CONNS_DEFAULT), within
 * the hard limit, and derive the default --max-connections from it. */
static void limits_setup(server *sv) {
  struct rlimit rl;
  unsigned int room;
  unsigned int target = sv->cfg->max_conns > MAX_CONNS_DEFAULT ? sv->cfg->max_conns : MAX_CONNS_DEFAULT;
  rlim_t want = (rlim_t)target * 2 + FD_RESERVE + sv->nls;
  sv->spare_fd = sv->statm_fd = -1;
  sv->max_conns = sv->cfg->max_conns;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
      struct rlimit up = rl;
      up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want) room = target;
    else if (rl.rlim_cur > FD_RESERVE + sv->nls + 2)
      room = (unsigned int)((rl.rlim_cur - FD_RESERVE - sv->nls) / 2);
    else room = 1;
    if (!sv->max_conns) sv->max_conns = room < MAX_CONNS_DEFAULT ? room : MAX_CONNS_DEFAULT;
    else if (sv->max_conns > room)
      fprintf(stderr, "smtp-server: note: --max-connections %u exceeds what RLIMIT_NOFILE (%llu) "
                      "allows (%u); connections past the descriptor limit get 421 4.3.2\n",
              sv->max_conns, (unsigned long long)rl.rlim_cur, room);
  }
  if (!sv->max_conns) sv->max_conns = MAX_CONNS_DEFAULT;
  if (sv->cfg->max_memory) sv->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  open_spare(sv);
}

static void limits_close(server *sv) {
  if (sv->spare_fd >= 0) close(sv->spare_fd);
  if (sv->statm_fd >= 0) close(sv->statm_fd);
  sv->spare_fd = sv->statm_fd = -1;
}

/* Resident set size in bytes, or 0 when unknown. */
static uint64_t rss_bytes(const server *sv) {
  char buf[128];
  ssize_t n;
  unsigned long long size = 0, res = 0;
  if (sv->statm_fd < 0) return 0;
  n = pread(sv->statm_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  if (sscanf(buf, "%llu %llu", &size, &res) != 2) return 0;
  return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void shed_log(server *sv) {
  int64_t t = now_ms();
  if (t < sv->next_shed_log) return;
  sv->next_shed_log = t + SHED_LOG_INTERVAL_MS;
  fprintf(stderr, "smtp-server: refused with 421 so far: %lu out of descriptors, %lu over --max-memory, "
                  "%lu over --max-connections\n", sv->shed_fd, sv->shed_mem, sv->shed_busy);
}

static void refuse_421(int fd, const char *line, size_t len) {
  (void)!write(fd, line, len); /* a fresh socket: the line fits its buffer */
  close(fd);
}

/* accept(2) failed with EMFILE/ENFILE: answer the waiting connections with
 * the spare descriptor. Returns 1 when the queue could be served, 0 when
 * the spare is gone too (the caller pauses accepting). */
static int shed_with_spare(server *sv, listener *l) {
  static const char msg[] = "421 4.3.2 Too many open connections, try again later\r\n";
  for (int i = 0; i < 64; i++) {
    int fd;
    if (sv->spare_fd < 0) return 0;
    close(sv->spare_fd);
    sv->spare_fd = -1;
    fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      refuse_421(fd, msg, sizeof msg - 1);
      sv->shed_fd++;
    }
    open_spare(sv);
    if (fd < 0) break; /* the queue is empty (EAGAIN) */
  }
  shed_log(sv);
  return sv->spare_fd >= 0;
}

/* Admission of a new connection: 1 to serve it, 0 when it was told 421 and
 * closed (too many sessions, or the process past --max-memory). */
static int admit_connection(server *sv, int fd) {
  static const char busy[] = "421 4.3.2 Too many connections, try again later\r\n";
  static const char mem[] = "421 4.3.2 System resources exhausted, try again later\r\n";
  if (sv->active >= sv->max_conns) { /* RFC 5321 3.1: 421 when busy */
    refuse_421(fd, busy, sizeof busy - 1);
    sv->shed_busy++;
    return 0;
  }
  if (sv->cfg->max_memory && rss_bytes(sv) > sv->cfg->max_memory) {
    refuse_421(fd, mem, sizeof mem - 1);
    sv->shed_mem++;
    shed_log(sv);
    return 0;
  }
  if (sv->active + 1 > sv->peak_active) sv->peak_active = sv->active + 1;
  return 1;
}

/* After load: once the sessions have fallen to half of the peak since the
 * last trim (or to none), give free heap pages back to the system. */
static void memory_after_load(server *sv) {
#ifdef __GLIBC__
  int64_t t;
  if (sv->peak_active < 16 || sv->active > sv->peak_active / 2) return;
  t = now_ms();
  if (t < sv->next_trim) return;
  sv->next_trim = t + TRIM_INTERVAL_MS;
  malloc_trim(0);
  sv->peak_active = sv->active;
#else
  (void)sv;
#endif
}

/* How long the loop may sleep before memory_after_load() has work: -1 when
 * it has none (so an idle server still gives the memory back). */
static int memory_wait_ms(const server *sv) {
#ifdef __GLIBC__
  int64_t left;
  if (sv->peak_active < 16 || sv->active > sv->peak_active / 2) return -1;
  left = sv->next_trim - now_ms();
  return left > 0 ? (int)left : 0;
#else
  (void)sv;
  return -1;
#endif
}

static void start_session(server *sv, int fd, const struct sockaddr_storage *peer) {
  char literal[INET6_ADDRSTRLEN + 8];
  smtp_io io;
  struct epoll_event e;
  conn *c;
  int one = 1;
  if (!admit_connection(sv, fd)) return;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  format_addr(peer, NULL, 0, literal, sizeof literal);
  c = calloc(1, sizeof *c);
  if (c) c->sv = sv;
  if (!c || !(c->app = server_app_conn_new(sv->cfg, literal[0] ? literal : NULL)) ||
      smtp_server_session_new(&c->s, sv->cb, c->app, sv->opt, NULL) != SMTP_OK) {
    if (c) {
      server_app_conn_del(c->app);
      free(c);
    }
    close(fd);
    return;
  }
  if (smtp_io_posix_new(&io, fd, fd, SMTP_IO_POSIX_OWN_FD, NULL) != SMTP_OK) {
    close(fd);
    goto fail;
  }
  if (server_app_conn_script(c->app)) script_conn_wrap_io(server_app_conn_script(c->app), &io, 0);
  capture_app_set_client(server_app_conn_capture(c->app), (const struct sockaddr *)peer, NULL);
  if (smtp_driver_new_server(&c->d, c->s, &io, sv->tls, sv->driver_flags, NULL) != SMTP_OK)
    goto fail; /* the driver closed io (and fd) */
  if (sv->driver_flags & SMTP_DRIVER_PROXY) smtp_driver_set_proxy_trusted(c->d, sv->cfg->net.trusted_list);
  server_app_conn_set_driver(c->app, c->d);
  if (sv->worker_running) server_app_conn_set_async(c->app, deliver_async, c);
  c->fd = fd;
  memset(&e, 0, sizeof e);
  e.data.ptr = c;
  if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
    smtp_driver_del(c->d);
    goto fail;
  }
  c->next = sv->list;
  if (sv->list) sv->list->prev = c;
  sv->list = c;
  sv->active++;
  sv->accepted++;
  smtp_driver_pump(c->d); /* the greeting, or the implicit TLS handshake */
  if (smtp_driver_is_done(c->d)) drop(sv, c);
  else update_events(sv, c);
  return;
fail:
  smtp_server_session_del(c->s);
  server_app_conn_del(c->app);
  free(c);
}

static void accept_some(server *sv, listener *l) {
  open_spare(sv); /* lost to another thread's open() after a shed: retry */
  for (int i = 0; i < ACCEPT_BATCH; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd;
    memset(&ss, 0, sizeof ss);
    fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if ((errno == EMFILE || errno == ENFILE) && shed_with_spare(sv, l)) return;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* no spare either: stop accepting for a moment, keep serving */
        fprintf(stderr, "smtp-server: accept: %s (pausing)\n", strerror(errno));
        sv->accept_paused = 1;
        sv->accept_resume = now_ms() + ACCEPT_PAUSE_MS;
        set_listeners(sv, 0);
      }
      return;
    }
    start_session(sv, fd, &ss);
  }
}

static void close_listeners(server *sv) {
  for (size_t i = 0; i < sv->nls; i++) {
    epoll_ctl(sv->ep, EPOLL_CTL_DEL, sv->ls[i].fd, NULL);
    close(sv->ls[i].fd);
  }
  sv->nls = 0;
}

/* --tls-client-ca: once TLS is up, say whose certificate the client
 * presented and whether it verified against the CA file. */
static void report_client_cert(conn *c) {
  const smtp_tls_conn *t = smtp_driver_tls_conn(c->d);
  smtp_tls_info info;
  char subject[256], why[128];
  if (!t || smtp_tls_get_info(t, &info) != 0) return;
  c->tls_reported = 1;
  if (!info.has_peer_cert) return;
  if (smtp_tls_peer_subject(t, subject, sizeof subject) != 0) subject[0] = 0;
  if (info.peer_verified)
    fprintf(stderr, "smtp-server: client certificate: %s (verified)\n", subject);
  else {
    if (smtp_tls_peer_verify_result(t, why, sizeof why) == SMTP_OK) why[0] = 0;
    fprintf(stderr, "smtp-server: client certificate: %s (not verified: %s)\n", subject, why);
  }
}

static int serve_tcp(server *sv) {
  struct epoll_event evs[128];
  sigset_t none, block;
  int64_t shutdown_until = -1;
  sigemptyset(&none);
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  /* Signals arrive only inside epoll_pwait: no lost wake-up. */
  sigprocmask(SIG_BLOCK, &block, NULL);
  sv->ep = epoll_create1(EPOLL_CLOEXEC);
  if (sv->ep < 0) {
    fprintf(stderr, "smtp-server: epoll: %s\n", strerror(errno));
    return 1;
  }
  for (size_t i = 0; i < sv->nls; i++) {
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = EPOLLIN;
    e.data.ptr = &sv->ls[i];
    epoll_ctl(sv->ep, EPOLL_CTL_ADD, sv->ls[i].fd, &e);
  }
  sv->efd = -1;
  if (sv->cfg->maildir) {
    /* without the worker, deliveries fsync inline (still correct) */
    if (worker_start(sv) == 0) {
      struct epoll_event e;
      memset(&e, 0, sizeof e);
      e.events = EPOLLIN;
      e.data.ptr = &sv->efd;
      epoll_ctl(sv->ep, EPOLL_CTL_ADD, sv->efd, &e);
    } else {
      fprintf(stderr, "smtp-server: no delivery thread (%s): delivering inline\n", strerror(errno));
    }
  }
  for (;;) {
    int timeout = -1, n;
    int64_t t;
    if (reload_requested) reload_tls(sv);
    if (stop_requested && shutdown_until < 0) {
      /* stop accepting; every session gets 421 4.3.2 and closes */
      close_listeners(sv);
      shutdown_until = now_ms() + SHUTDOWN_GRACE_MS;
      for (conn *c = sv->list, *next; c; c = next) {
        next = c->next;
        (void)smtp_server_session_shutdown(c->s);
        smtp_driver_pump(c->d);
        if (smtp_driver_is_done(c->d)) drop(sv, c);
        else update_events(sv, c);
      }
    }
    if (shutdown_until >= 0 && (!sv->list || now_ms() >= shutdown_until)) break;
    for (conn *c = sv->list; c; c = c->next) {
      int tm = smtp_driver_next_timeout_ms(c->d);
      int sw = script_conn_wait_ms(server_app_conn_script(c->app));
      if (sw >= 0 && (tm < 0 || sw < tm)) tm = sw;
      if (tm >= 0 && (timeout < 0 || tm < timeout)) timeout = tm;
    }
    {
      int tm = memory_wait_ms(sv);
      if (tm >= 0 && (timeout < 0 || tm < timeout)) timeout = tm;
    }
    if (sv->accept_paused) {
      int64_t left = sv->accept_resume - now_ms();
      int tm = left > 0 ? (int)left : 0;
      if (timeout < 0 || tm < timeout) timeout = tm;
    }
    if (shutdown_until >= 0) {
      int64_t left = shutdown_until - now_ms();
      int tm = left > 0 ? (int)left : 0;
      if (timeout < 0 || tm < timeout) timeout = tm;
    }
    n = epoll_pwait(sv->ep, evs, (int)(sizeof evs / sizeof evs[0]), timeout, &none);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "smtp-server: epoll_wait: %s\n", strerror(errno));
      break;
    }
    for (int i = 0; i < n; i++) {
      void *p = evs[i].data.ptr;
      conn *c;
      if (p == &sv->efd) {
        deliveries_done(sv);
        continue;
      }
      if (is_listener(sv, p)) {
        accept_some(sv, p);
        continue;
      }
      c = p;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) smtp_driver_on_readable(c->d);
      if (evs[i].events & EPOLLOUT) smtp_driver_on_writable(c->d);
    }
    /* deadlines, finished sessions, what each driver waits for next */
    t = now_ms();
    if (sv->accept_paused && t >= sv->accept_resume && shutdown_until < 0) {
      sv->accept_paused = 0;
      set_listeners(sv, EPOLLIN);
    }
    for (conn *c = sv->list, *next; c; c = next) {
      next = c->next;
      if (script_conn_wait_ms(server_app_conn_script(c->app)) == 0) { /* --script's gate opened */
        script_conn_woken(server_app_conn_script(c->app));
        smtp_driver_on_writable(c->d);
      }
      if (sv->cfg->tls_client_ca && !c->tls_reported) report_client_cert(c);
      if (smtp_driver_next_timeout_ms(c->d) == 0) smtp_driver_on_timer(c->d);
      if (smtp_driver_is_done(c->d)) drop(sv, c);
      else update_events(sv, c);
    }
    memory_after_load(sv);
  }
  while (sv->list) drop(sv, sv->list);
  worker_stop(sv);
  close_listeners(sv);
  close(sv->ep);
  return 0;
}

/* --stdio: one session over stdin/stdout with the driver's blocking loop. */
static int serve_stdio(server *sv) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char literal[INET6_ADDRSTRLEN + 8] = "";
  smtp_server_session *s = NULL;
  server_app_conn *app;
  smtp_io io;
  memset(&ss, 0, sizeof ss);
  /* inetd hands over a socket: name the peer in the Received field */
  if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &sl) == 0)
    format_addr(&ss, NULL, 0, literal, sizeof literal);
  app = server_app_conn_new(sv->cfg, literal[0] ? literal : NULL);
  if (!app || smtp_server_session_new(&s, sv->cb, app, sv->opt, NULL) != SMTP_OK ||
      smtp_io_posix_new(&io, STDIN_FILENO, STDOUT_FILENO, 0, NULL) != SMTP_OK) {
    fprintf(stderr, "smtp-server: cannot create a session\n");
    smtp_server_session_del(s);
    server_app_conn_del(app);
    return 1;
  }
  if (server_app_conn_script(app)) script_conn_wrap_io(server_app_conn_script(app), &io, 1);
  if (literal[0]) capture_app_set_client(server_app_conn_capture(app), (const struct sockaddr *)&ss, NULL);
  /* The end of the session is the end of the program, whatever the reason
   * (QUIT, EOF, time-out, a failed handshake): exit 0 (docs/examples.md). */
  {
    smtp_driver *d;
    if (smtp_driver_new_server(&d, s, &io, sv->tls, sv->driver_flags, NULL) == SMTP_OK) {
      if (sv->driver_flags & SMTP_DRIVER_PROXY) smtp_driver_set_proxy_trusted(d, sv->cfg->net.trusted_list);
      server_app_conn_set_driver(app, d);
      (void)smtp_driver_run(d);
      server_app_conn_set_driver(app, NULL);
      smtp_driver_del(d);
    }
  }
  smtp_server_session_del(s);
  server_app_conn_del(app);
  return 0;
}

/* --workers N: N processes, each with its own SO_REUSEPORT socket on every
 * listening address (the kernel spreads new connections over them); the
 * parent only forwards SIGINT/SIGTERM and waits. Worker 0 keeps the
 * sockets bound at start-up (so port 0 resolves once, for all). */
static int reopen_listeners(server *sv) {
  for (size_t i = 0; i < sv->nls; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int one = 1, fd;
    memset(&ss, 0, sizeof ss);
    if (getsockname(sv->ls[i].fd, (struct sockaddr *)&ss, &sl) != 0) return -1;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 511) != 0) {
      close(fd);
      return -1;
    }
    close(sv->ls[i].fd);
    sv->ls[i].fd = fd;
  }
  return 0;
}

static int serve_workers(server *sv) {
  unsigned int n = sv->cfg->net.workers, alive = 0;
  pid_t pids[256] = {0};
  int status = 0;
  for (unsigned int k = 0; k < n; k++) {
    pid_t p = fork();
    if (p < 0) {
      fprintf(stderr, "smtp-server: fork: %s\n", strerror(errno));
      break;
    }
    if (p == 0) {
      if (k > 0 && reopen_listeners(sv) != 0) {
        fprintf(stderr, "smtp-server: worker %u: cannot open its sockets: %s\n", k, strerror(errno));
        _exit(1);
      }
      _exit(serve_tcp(sv));
    }
    pids[alive++] = p;
  }
  close_listeners(sv); /* the workers hold them */
  fprintf(stderr, "smtp-server: %u worker processes\n", alive);
  fflush(stderr);
  while (alive > 0) {
    int st;
    pid_t p = waitpid(-1, &st, 0);
    if (p < 0) {
      if (errno != EINTR) break;
      if (stop_requested)
        for (unsigned int k = 0; k < n && k < 256; k++)
          if (pids[k] > 0) kill(pids[k], SIGTERM);
      continue;
    }
    for (unsigned int k = 0; k < n; k++)
      if (pids[k] == p) pids[k] = 0;
    alive--;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) status = 1;
  }
  return status;
}

int main(int argc, char **argv) {
  server_app_config cfg;
  server sv;
  int r;
  struct sigaction sa;

  r = server_app_parse_args(&cfg, argc, argv);
  if (r == 1) return 0;
  if (r != 0) return r;
  if (cfg.make_scram_user) {
    r = server_app_make_scram_record(&cfg);
    server_app_config_free(&cfg);
    return r;
  }
  memset(&sv, 0, sizeof sv);
  sv.cfg = &cfg;
  sv.ep = -1;
  sv.spare_fd = sv.statm_fd = -1;
  /* Check every --listen before doing anything (usage errors are 64). */
  if (!cfg.stdio) {
    for (size_t i = 0; i < cfg.nlisten; i++) {
      char h[256], p[8];
      if (split_hostport(cfg.listen[i], h, sizeof h, p, sizeof p) != 0) {
        fprintf(stderr, "smtp-server: bad --listen value (HOST:PORT, [v6]:PORT): %s (see --help)\n",
                cfg.listen[i]);
        server_app_config_free(&cfg);
        return EX_USAGE;
      }
    }
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL); /* the stdio adapter writes to a pipe */
  sigaction(SIGXFSZ, &sa, NULL); /* past RLIMIT_FSIZE a write fails (EFBIG): 451, file removed */

  r = 1;
  if (server_app_prepare(&cfg) != 0) goto out;
  if (setup_tls(&sv, &cfg) != 0) goto out;
  if (cfg.implicit_tls) sv.driver_flags = SMTP_DRIVER_IMPLICIT_TLS;
  if (cfg.net.proxy_protocol) sv.driver_flags |= SMTP_DRIVER_PROXY;
  /* STARTTLS is offered when there is a certificate and TLS does not
   * start with the first byte. */
  if (server_app_session_setup(&cfg, sv.tls && !cfg.implicit_tls, &sv.opt, &sv.cb) != 0) {
    fprintf(stderr, "smtp-server: cannot set up the session options\n");
    goto out;
  }
  if (cfg.auth_file && !sv.tls && !cfg.allow_plaintext_auth)
    fprintf(stderr, "smtp-server: note: no TLS, so AUTH is not offered (RFC 4954 4); "
                    "see --tls-self-signed or --allow-plaintext-auth\n");
  if (cfg.stdio) {
    r = serve_stdio(&sv);
    goto out;
  }
  /* TCP: SIGINT/SIGTERM end the loop gracefully (--stdio keeps the default
   * action: the one session ends with the process). */
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  for (size_t i = 0; i < cfg.nlisten; i++) {
    size_t first = sv.nls;
    int k = listen_on(&sv, cfg.listen[i]);
    if (k < 0) goto out;
    for (size_t j = first; j < sv.nls; j++)
      fprintf(stderr, "smtp-server: listening on %s (%s%s)\n", sv.ls[j].name,
              cfg.implicit_tls ? "implicit TLS" : sv.tls ? "STARTTLS" : "plaintext",
              cfg.lmtp ? ", LMTP" : "");
  }
  limits_setup(&sv);
  fflush(stderr);
  if (cfg.net.workers > 1) r = serve_workers(&sv);
  else r = serve_tcp(&sv);
out:
  limits_close(&sv);
  close_listeners(&sv);
  smtp_server_options_del(sv.opt);
  smtp_server_callbacks_del(sv.cb);
  smtp_tls_config_del(sv.tls);
  server_app_config_free(&cfg);
  return r;
}
