/* Footprint probe: the smallest useful server. Listens on 127.0.0.1 (port
 * from the kernel, printed on stderr), accepts one connection and serves it
 * through the POSIX driver; messages are taken and dropped. Built by
 * scripts/footprint with -Os against the static library; with -DFP_TLS it
 * offers STARTTLS (RFC 3207) with the certificate and key named by argv[1]
 * and argv[2], so the TLS code is linked in. */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <smtp/driver.h>
#include <smtp/io.h>
#include <smtp/server.h>
#include <smtp/tls.h>

int main(int argc, char **argv) {
  smtp_server_callbacks *cb;
  smtp_server_options *opt;
  smtp_server_session *s;
  smtp_tls_config *tls = NULL;
  smtp_io io;
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t len = sizeof sa;
  int lfd, fd, rc;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 1) ||
      getsockname(lfd, (struct sockaddr *)&sa, &len))
    return 2;
  fprintf(stderr, "port %d\n", ntohs(sa.sin_port));
  if (smtp_server_callbacks_new(&cb, NULL) || smtp_server_options_new(&opt, NULL)) return 2;
  smtp_server_options_set_hostname(opt, "device.example");
#ifdef FP_TLS
  if (argc < 3 || smtp_tls_config_new(&tls, SMTP_TLS_SERVER, NULL) ||
      smtp_tls_config_cert_file(tls, argv[1], argv[2], NULL))
    return 2;
  smtp_server_options_set_tls_available(opt, 1);
#else
  (void)argc;
  (void)argv;
#endif
  fd = accept(lfd, NULL, NULL);
  close(lfd);
  if (fd < 0 || smtp_server_session_new(&s, cb, NULL, opt, NULL) ||
      smtp_io_posix_new(&io, fd, fd, SMTP_IO_POSIX_OWN_FD, NULL))
    return 2;
  rc = smtp_driver_run_server(s, &io, tls, 0, NULL);
  smtp_server_session_del(s);
  smtp_server_options_del(opt);
  smtp_server_callbacks_del(cb);
  smtp_tls_config_del(tls);
  return rc == 0 ? 0 : 1;
}
