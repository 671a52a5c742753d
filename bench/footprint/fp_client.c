/* Footprint probe: the smallest useful client. Connects to 127.0.0.1:PORT,
 * sends one message through the POSIX driver, quits. Built by
 * scripts/footprint with -Os against the static library; with
 * -DFP_TLS it requires STARTTLS (RFC 3207) and verifies the server against
 * the system's CA store, so the TLS code is linked in. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <smtp/client.h>
#include <smtp/driver.h>
#include <smtp/io.h>
#include <smtp/tls.h>

int main(int argc, char **argv) {
  static const char body[] = "Subject: alert\r\n\r\nfan 3 stopped\r\n";
  smtp_client_callbacks *cb;
  smtp_client_options *opt;
  smtp_client_txn *txn;
  smtp_client_session *c;
  smtp_tls_config *tls = NULL;
  smtp_io io;
  struct sockaddr_in sa = {.sin_family = AF_INET};
  int fd, rc;
  sa.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 25));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return 2;
  if (smtp_client_callbacks_new(&cb, NULL) || smtp_client_options_new(&opt, NULL)) return 2;
  smtp_client_options_set_ehlo_name(opt, "device.example");
#ifdef FP_TLS
  if (smtp_tls_config_new(&tls, SMTP_TLS_CLIENT, NULL) || smtp_tls_config_system_ca(tls)) return 2;
  smtp_client_options_set_starttls(opt, SMTP_CLIENT_STARTTLS_REQUIRED);
#else
  smtp_client_options_set_starttls(opt, SMTP_CLIENT_STARTTLS_OFF);
#endif
  if (smtp_client_txn_new(&txn, NULL) || smtp_client_txn_set_from(txn, "dev@example.org", 15) ||
      smtp_client_txn_add_rcpt(txn, "ops@example.org", 15, SMTP_DSN_NOTIFY_DEFAULT, NULL, 0) < 0 ||
      smtp_client_txn_set_body(txn, body, sizeof body - 1))
    return 2;
  if (smtp_client_session_new(&c, cb, NULL, opt, NULL) || smtp_client_session_submit(c, txn) ||
      smtp_client_session_quit(c) || smtp_io_posix_new(&io, fd, fd, SMTP_IO_POSIX_OWN_FD, NULL))
    return 2;
  rc = smtp_driver_run_client(c, &io, tls, "localhost", 0, NULL);
  smtp_client_session_del(c);
  smtp_client_txn_del(txn);
  smtp_client_options_del(opt);
  smtp_client_callbacks_del(cb);
  smtp_tls_config_del(tls);
  return rc == 0 ? 0 : 1;
}
