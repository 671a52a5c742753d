/* smtp-send: send one message to one server with the client session
 * (shared/CLI.md). The application half (options, output lines, exit
 * status) is in send_app.c; this file is the transport: a minimal blocking
 * TCP loop (getaddrinfo, connect, poll) that pumps bytes between the socket
 * and smtp_client_session_mem_recv()/_mem_send(), with the session's
 * RFC 5321 4.5.3.2 deadlines. TLS is a stub until the TLS adapter and
 * driver take this loop over. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <smtp/address.h>
#include <smtp/client.h>

#include "send_app.h"

static int tcp_connect(const char *host, const char *port, FILE *err) {
  struct addrinfo hints, *res = NULL, *ai;
  int fd = -1, rc;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(err, "smtp-send: cannot resolve %s: %s\n", host, gai_strerror(rc));
    return -1;
  }
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) fprintf(err, "smtp-send: cannot connect to %s port %s: %s\n", host, port, strerror(errno));
  return fd;
}

/* CLI.md: the host name when it is a valid domain, else the address literal
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

/* Placeholder for the TLS adapter: the options are parsed and carried here
 * so the command line is stable; the handshake itself is not available in
 * this transport yet. */
static int tls_start_stub(const send_opts *o, FILE *err) {
  (void)o->ca_file;
  (void)o->servername;
  if (o->insecure) fputs("smtp-send: warning: --insecure: the server certificate is not verified\n", err);
  fputs("smtp-send: TLS not available in this build yet\n", err);
  return SMTP_ERR_TLS_UNAVAILABLE;
}

/* Write everything the session has, waiting with its deadline. */
static int flush_out(smtp_client_session *c, int fd) {
  for (;;) {
    const char *p;
    smtp_ssize n = smtp_client_session_mem_send(c, &p);
    if (n < 0) return (int)n;
    if (n == 0) return 0;
    ssize_t w = send(fd, p, (size_t)n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd pf = {fd, POLLOUT, 0};
        int r = poll(&pf, 1, smtp_client_session_timeout_ms(c));
        if (r == 0) {
          smtp_client_session_on_timeout(c);
          return SMTP_ERR_TIMEOUT;
        }
        continue;
      }
      smtp_client_session_connection_lost(c);
      return SMTP_ERR_CONNECTION_LOST;
    }
    smtp_client_session_mem_consume(c, (size_t)w);
  }
}

static void run(smtp_client_session *c, int fd, send_app *app, const send_opts *o, FILE *err) {
  char buf[16384];
  for (;;) {
    if (flush_out(c, fd) < 0) return;
    if (smtp_client_session_want_tls(c)) {
      int e = tls_start_stub(o, err);
      app->tls_error = e;
      smtp_client_session_tls_failed(c, e);
      return;
    }
    if (!smtp_client_session_want_read(c) && !smtp_client_session_want_write(c)) return;
    if (!smtp_client_session_want_read(c)) continue;
    struct pollfd pf = {fd, POLLIN, 0};
    int r = poll(&pf, 1, smtp_client_session_timeout_ms(c));
    if (r < 0) {
      if (errno == EINTR) continue;
      smtp_client_session_connection_lost(c);
      return;
    }
    if (r == 0) {
      smtp_client_session_on_timeout(c);
      return;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      smtp_client_session_connection_lost(c);
      return;
    }
    for (size_t off = 0; off < (size_t)n;) {
      smtp_ssize k = smtp_client_session_mem_recv(c, buf + off, (size_t)n - off);
      if (k < 0) return; /* protocol error: the session reported it */
      off += (size_t)k;
      if (smtp_client_session_want_tls(c) || smtp_client_session_is_closed(c)) break;
      if (flush_out(c, fd) < 0) return;
    }
  }
}

int main(int argc, char **argv) {
  send_opts o;
  send_app app;
  smtp_client_session *c = NULL;
  char *msg = NULL;
  size_t msglen = 0;
  char helo[256];
  int fd, rc;

  signal(SIGPIPE, SIG_IGN);
  rc = send_parse_args(argc, argv, &o, stdout, stderr);
  if (rc) {
    send_opts_free(&o);
    return rc < 0 ? 0 : rc;
  }
  if (send_read_message(o.file, &msg, &msglen, stderr) != 0) {
    send_opts_free(&o);
    return SEND_EXIT_NONE;
  }
  fd = tcp_connect(o.host, o.port, stderr);
  if (fd < 0) {
    free(msg);
    send_opts_free(&o);
    return SEND_EXIT_NONE;
  }
  default_helo(fd, helo, sizeof helo);
  rc = send_app_init(&app, &o, helo, msg, msglen, stdout, stderr);
  if (rc == 0 && smtp_client_session_new(&c, app.cbs, &app, app.opt, NULL) != SMTP_OK) rc = SEND_EXIT_NONE;
  if (rc == 0) {
    smtp_client_session_submit(c, app.txn);
    smtp_client_session_quit(c);
    if (o.implicit_tls) {
      int e = tls_start_stub(&o, stderr);
      app.tls_error = e;
      smtp_client_session_tls_failed(c, e);
    } else {
      run(c, fd, &app, &o, stderr);
    }
    if (!smtp_client_session_is_closed(c)) smtp_client_session_connection_lost(c);
    rc = send_app_finish(&app);
  }
  smtp_client_session_del(c);
  close(fd);
  send_app_free(&app);
  free(msg);
  send_opts_free(&o);
  return rc;
}
