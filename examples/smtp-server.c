/* smtp-server: a small, real mail server built on the server session
 * (../shared/CLI.md). The application logic (options, policy, AUTH, Maildir
 * delivery) lives in server_app.c; this file chooses how to serve.
 *
 *   smtp-server --stdio --maildir ./Maildir --trace      (inetd style)
 */
#include <stdio.h>
#include <unistd.h>

#include "server_app.h"

int main(int argc, char **argv) {
  server_app_config cfg;
  int r = server_app_parse_args(&cfg, argc, argv);
  if (r == 1) return 0;
  if (r != 0) return r;
  if (server_app_prepare(&cfg) != 0) {
    server_app_config_free(&cfg);
    return 1;
  }
  if (cfg.stdio) {
    if (cfg.implicit_tls || cfg.tls_cert || cfg.tls_self_signed)
      fprintf(stderr, "smtp-server: TLS is not wired into --stdio yet; serving plaintext\n");
    r = server_app_serve_fd(&cfg, STDIN_FILENO, STDOUT_FILENO);
  } else {
    fprintf(stderr, "smtp-server: TCP listening is not available in this build; use --stdio\n");
    r = 1;
  }
  server_app_config_free(&cfg);
  return r;
}
