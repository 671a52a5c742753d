/* smtp-send: send one message to one server with the client session
 * (docs/examples.md). The application half (options, output lines, exit
 * status) is in send_app.c; this file is the transport: it connects
 * (getaddrinfo, non-blocking connect with a time limit), sets up TLS
 * (tls.h) from --starttls / --implicit-tls / --ca-file / --insecure /
 * --tls-servername, and lets the driver (driver.h) run the session over a
 * non-blocking socket with poll(2): STARTTLS or implicit TLS (RFC 8314),
 * the session's RFC 5321 4.5.3.2 deadlines, no plaintext fallback.
 *
 * Certificate verification (docs/examples.md):
 *   --implicit-tls, --starttls required: verified against --ca-file, or the
 *       system trust store, unless --insecure;
 *   --starttls opportunistic (default): verified only with --ca-file (then a
 *       failure ends the send); a failed handshake ends the send (exit 2);
 *   --insecure: never verified, and a warning on stderr says so.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <smtp/address.h>
#include <smtp/client.h>
#include <smtp/driver.h>
#include <smtp/io.h>
#include <smtp/tls.h>

#include "progress.h"
#include "send_app.h"

#define CONNECT_TIMEOUT_MS 30000 /* per address */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One address, non-blocking, bounded. Returns the connected (still
 * non-blocking) socket or -1 with errno set. */
static int connect_one(const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  long long until = now_ms() + CONNECT_TIMEOUT_MS;
  if (fd < 0) return -1;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS && errno != EINTR) goto fail;
  for (;;) {
    struct pollfd pf = {fd, POLLOUT, 0};
    long long left = until - now_ms();
    int soerr = 0, r;
    socklen_t sl = sizeof soerr;
    if (left <= 0) {
      errno = ETIMEDOUT;
      goto fail;
    }
    r = poll(&pf, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) goto fail;
    if (r == 0) continue;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) goto fail;
    if (soerr == 0) return fd;
    errno = soerr;
    goto fail;
  }
fail : {
  int e = errno;
  close(fd);
  errno = e;
  return -1;
}
}

static int tcp_connect(const char *host, const char *port, FILE *err) {
  struct addrinfo hints, *res = NULL, *ai;
  int fd = -1, rc, e = 0;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(err, "smtp-send: cannot resolve %s: %s\n", host, gai_strerror(rc));
    return -1;
  }
  for (ai = res; ai; ai = ai->ai_next) {
    fd = connect_one(ai);
    if (fd >= 0) break;
    e = errno;
  }
  freeaddrinfo(res);
  if (fd < 0) fprintf(err, "smtp-send: cannot connect to %s port %s: %s\n", host, port, strerror(e));
  return fd;
}

/* docs/examples.md: the host name when it is a valid domain, else the address literal
 * of the local socket address. */
static void default_helo(int fd, char *out, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char addr[INET6_ADDRSTRLEN];
  if (gethostname(out, cap) == 0) {
    out[cap - 1] = 0;
    if (smtp_parse_ehlo_arg(out, strlen(out), 0, NULL) == SMTP_OK) return;
  }
  snprintf(out, cap, "[127.0.0.1]");
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) return;
  if (ss.ss_family == AF_INET &&
      inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr))
    snprintf(out, cap, "[%s]", addr);
  else if (ss.ss_family == AF_INET6 &&
           inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr))
    snprintf(out, cap, "[IPv6:%s]", addr);
}

/* The TLS configuration the options ask for, or NULL when TLS is not used.
 * Returns 0, or an exit status after one line on @p err. */
static int setup_tls(const send_opts *o, smtp_tls_config **out, FILE *err) {
  smtp_tls_config *cfg = NULL;
  int strict = o->implicit_tls || o->starttls == SMTP_CLIENT_STARTTLS_REQUIRED;
  int mode, r;
  char why[256] = "";
  *out = NULL;
  if (!o->implicit_tls && o->starttls == SMTP_CLIENT_STARTTLS_OFF) return 0;
  if (!smtp_tls_available()) {
    if (!strict) return 0; /* opportunistic: the caller turns STARTTLS off */
    fputs("smtp-send: TLS is required but this build has no TLS\n", err);
    return SEND_EXIT_NONE;
  }
  if (o->insecure) {
    mode = SMTP_TLS_VERIFY_NONE;
    fputs("smtp-send: warning: --insecure: the server certificate is not verified\n", err);
  } else if (strict || o->ca_file) {
    mode = SMTP_TLS_VERIFY_REQUIRED;
  } else {
    mode = SMTP_TLS_VERIFY_NONE; /* opportunistic without --ca-file (RFC 7435) */
  }
  {
    int be = SMTP_TLS_BACKEND_DEFAULT;
    if (o->tls_backend && (be = smtp_tls_backend_by_name(o->tls_backend)) < 0) {
      fprintf(err, "smtp-send: TLS backend %s is not in this build\n", o->tls_backend);
      return SEND_EXIT_USAGE;
    }
    r = smtp_tls_config_new_backend(&cfg, SMTP_TLS_CLIENT, be, NULL);
  }
  if (r == 0) r = smtp_tls_config_set_verify(cfg, mode);
  if (r == 0 && o->tls_cert) {
    r = smtp_tls_config_cert_file(cfg, o->tls_cert, o->tls_key, NULL);
    if (r != 0) {
      smtp_tls_config_last_error(cfg, why, sizeof why);
      fprintf(err, "smtp-send: bad --tls-cert/--tls-key: %s (see --help)\n", why[0] ? why : smtp_strerror(r));
      smtp_tls_config_del(cfg);
      return SEND_EXIT_USAGE;
    }
  }
  if (r == 0 && o->ca_file && !o->insecure) {
    r = smtp_tls_config_ca_file(cfg, o->ca_file);
    if (r != 0) {
      smtp_tls_config_last_error(cfg, why, sizeof why);
      fprintf(err, "smtp-send: bad --ca-file %s: %s (see --help)\n", o->ca_file,
              why[0] ? why : smtp_strerror(r));
      smtp_tls_config_del(cfg);
      return SEND_EXIT_USAGE;
    }
  }
  if (r == 0 && mode == SMTP_TLS_VERIFY_REQUIRED && !o->ca_file) {
    r = smtp_tls_config_system_ca(cfg);
    if (r != 0) {
      smtp_tls_config_last_error(cfg, why, sizeof why);
      fprintf(err, "smtp-send: cannot load the system trust store: %s (use --ca-file or --insecure)\n",
              why[0] ? why : smtp_strerror(r));
      smtp_tls_config_del(cfg);
      return SEND_EXIT_NONE;
    }
  }
  if (r != 0) {
    fprintf(err, "smtp-send: TLS set-up failed: %s\n", smtp_strerror(r));
    smtp_tls_config_del(cfg);
    return SEND_EXIT_NONE;
  }
  *out = cfg;
  return 0;
}

/* --trace: one "TLS:" line when TLS comes up, before the first line of the
 * transcript that travels under it; then the line as send_app.c prints it. */
static smtp_driver *trace_driver;
static int trace_tls_shown;

static void on_trace(smtp_client_session *c, int dir, const char *line, size_t len, void *ud) {
  send_app *a = ud;
  smtp_tls_info info;
  if (!a->o->trace) return;
  if (!trace_tls_shown && trace_driver && smtp_driver_tls_info(trace_driver, &info) == 0) {
    trace_tls_shown = 1;
    fprintf(a->err, "TLS: %s %s, server certificate %s\n", info.protocol ? info.protocol : "?",
            info.cipher ? info.cipher : "?",
            info.peer_verified ? "verified" : a->o->insecure ? "not verified (--insecure)" : "not verified");
  }
  (void)c;
  {
    char prefix[4] = {(char)dir, ':', ' ', 0};
    send_app_print_escaped(a->err, prefix, line, len, 1);
  }
}

/* Run the driver over the non-blocking socket until the session is over. */
static void run(smtp_driver *d, int fd) {
  smtp_driver_pump(d);
  while (!smtp_driver_is_done(d)) {
    unsigned int ev = smtp_driver_poll_events(d);
    int tmo = smtp_driver_next_timeout_ms(d), r;
    struct pollfd pf;
    pf.fd = fd;
    pf.events = (short)(((ev & SMTP_DRIVER_POLLIN) ? POLLIN : 0) | ((ev & SMTP_DRIVER_POLLOUT) ? POLLOUT : 0));
    pf.revents = 0;
    if (ev == 0 && tmo < 0) break; /* nothing to wait for (cannot happen for this client) */
    r = poll(&pf, ev ? 1 : 0, tmo);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) {
      smtp_driver_on_timer(d);
      continue;
    }
    if (pf.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) smtp_driver_on_readable(d);
    if (pf.revents & POLLOUT) smtp_driver_on_writable(d);
  }
}

static int is_tls_error(int e) {
  return e == SMTP_ERR_TLS || e == SMTP_ERR_TLS_HANDSHAKE || e == SMTP_ERR_TLS_VERIFY ||
         e == SMTP_ERR_TLS_CLOSED || e == SMTP_ERR_TLS_CONFIG || e == SMTP_ERR_TLS_UNAVAILABLE;
}

int main(int argc, char **argv) {
  send_opts o;
  send_app app;
  smtp_client_session *c = NULL;
  smtp_tls_config *tls = NULL;
  smtp_driver *d = NULL;
  smtp_io io;
  char *msg = NULL;
  size_t msglen = 0;
  char helo[256];
  progress prog;
  int fd = -1, sock, rc;

  signal(SIGPIPE, SIG_IGN);
  memset(&app, 0, sizeof app);
  rc = send_parse_args(argc, argv, &o, stdout, stderr);
  if (rc) {
    send_opts_free(&o);
    return rc < 0 ? 0 : rc;
  }
  rc = setup_tls(&o, &tls, stderr);
  if (rc) goto out;
  if (send_read_message(o.file, &msg, &msglen, stderr) != 0) {
    rc = SEND_EXIT_NONE;
    goto out;
  }
  fd = tcp_connect(o.host, o.port, stderr);
  if (fd < 0) {
    rc = SEND_EXIT_NONE;
    goto out;
  }
  default_helo(fd, helo, sizeof helo);
  rc = send_app_init(&app, &o, helo, msg, msglen, stdout, stderr);
  if (rc) goto out;
  smtp_client_callbacks_set_trace(app.cbs, on_trace);
  /* Opportunistic STARTTLS in a build without TLS: do not ask for it. */
  if (!tls && !o.implicit_tls) smtp_client_options_set_starttls(app.opt, SMTP_CLIENT_STARTTLS_OFF);
  if (smtp_client_session_new(&c, app.cbs, &app, app.opt, NULL) != SMTP_OK ||
      smtp_io_posix_new(&io, fd, fd, SMTP_IO_POSIX_OWN_FD, NULL) != SMTP_OK) {
    fputs("smtp-send: out of memory\n", stderr);
    rc = SEND_EXIT_NONE;
    goto out;
  }
  progress_wrap(&prog, &io, msglen, stderr); /* a progress line for big messages on a tty */
  sock = fd;
  fd = -1; /* the adapter owns it now (and the driver the adapter) */
  rc = smtp_driver_new_client(&d, c, &io, tls, tls ? o.servername : NULL,
                              (o.implicit_tls ? SMTP_DRIVER_IMPLICIT_TLS : 0) |
                                  (o.proxy_version ? SMTP_DRIVER_PROXY : 0),
                              NULL);
  if (rc == SMTP_OK && o.proxy_version) {
    /* announce --proxy-source (default: this socket's own address) as the
     * client, and the server's address as the destination */
    smtp_endpoint src, dst;
    smtp_client_session_addr(c, SMTP_ADDR_CLIENT, &src);
    smtp_client_session_addr(c, SMTP_ADDR_SERVER, &dst);
    if (o.have_proxy_source) src = o.proxy_source;
    rc = smtp_driver_set_proxy_header(d, o.proxy_version, &src, &dst);
  }
  if (rc != SMTP_OK) {
    fprintf(stderr, "smtp-send: %s\n", smtp_strerror(rc));
    rc = SEND_EXIT_NONE;
    goto out;
  }
  trace_driver = d;
  smtp_client_session_submit(c, app.txn);
  smtp_client_session_quit(c);
  run(d, sock);
  progress_done(&prog);
  {
    int e = smtp_driver_error(d);
    if (is_tls_error(e)) {
      char why[200] = "", one[200];
      size_t k = 0;
      app.tls_error = e;
      smtp_driver_last_error(d, why, sizeof why);
      /* one line on stderr (docs/examples.md): the TLS library may give several */
      for (const char *p = why; *p && k + 3 < sizeof one; p++) {
        if (*p != '\n' && *p != '\r') one[k++] = *p;
        else if (p[1] && p[1] != '\n' && p[1] != '\r') one[k++] = ';', one[k++] = ' ';
      }
      one[k] = '\0';
      if (one[0] && strcmp(one, smtp_strerror(e)) != 0)
        snprintf(app.detail, sizeof app.detail, "(%s)", one);
    }
  }
  {
    smtp_tls_info info;
    if (smtp_driver_tls_info(d, &info) == 0) {
      app.have_tls = 1;
      snprintf(app.tls_protocol, sizeof app.tls_protocol, "%s", info.protocol ? info.protocol : "");
      snprintf(app.tls_cipher, sizeof app.tls_cipher, "%s", info.cipher ? info.cipher : "");
      app.tls_verified = info.peer_verified;
    }
  }
  if (!smtp_client_session_is_closed(c)) smtp_client_session_connection_lost(c);
  rc = send_app_finish(&app);
out:
  trace_driver = NULL;
  smtp_driver_del(d); /* closes the socket */
  smtp_client_session_del(c);
  if (fd >= 0) close(fd);
  send_app_free(&app);
  smtp_tls_config_del(tls);
  free(msg);
  send_opts_free(&o);
  return rc;
}
