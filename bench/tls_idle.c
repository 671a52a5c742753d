/* tls_idle: memory of an idle TLS session, per backend.
 *
 * Makes N client/server TLS connection pairs in this process (libsmtp's
 * memory interface, ciphertext moved directly between the two ends, no
 * sockets), completes every handshake, moves one SMTP-sized record each
 * way (a 250 reply and a NOOP), then deletes the client ends and reads
 * the heap in use (glibc mallinfo2) before and after: what stays is what
 * N idle server sessions cost, the TLS library's allocations included.
 *
 * Usage: tls_idle [-n pairs] [-b openssl|mbedtls] [-v 1.2|1.3]
 * Prints one line: backend, protocol, cipher, bytes per idle session. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/tls.h>

#include "adapters.h"

static void move(smtp_tls_conn *from, smtp_tls_conn *to) {
  const char *p;
  smtp_ssize n;
  while ((n = smtp_tls_pending_output(from, &p)) > 0) {
    smtp_ssize f = smtp_tls_feed(to, p, (size_t)n);
    if (f <= 0) break;
    smtp_tls_consume_output(from, (size_t)f);
  }
}

static int pair_up(smtp_tls_conn *c, smtp_tls_conn *s) {
  int rc = SMTP_ERR_WOULDBLOCK, rs = SMTP_ERR_WOULDBLOCK;
  for (int i = 0; i < 100 && (rc == SMTP_ERR_WOULDBLOCK || rs == SMTP_ERR_WOULDBLOCK); i++) {
    if (rc == SMTP_ERR_WOULDBLOCK) rc = smtp_tls_handshake(c);
    move(c, s);
    if (rs == SMTP_ERR_WOULDBLOCK) rs = smtp_tls_handshake(s);
    move(s, c);
  }
  return rc == 0 && rs == 0 ? 0 : -1;
}

static int exchange(smtp_tls_conn *from, smtp_tls_conn *to, const char *line) {
  char buf[256];
  smtp_ssize n;
  if (smtp_tls_write(from, line, strlen(line)) <= 0) return -1;
  move(from, to);
  n = smtp_tls_read(to, buf, sizeof buf);
  return n == (smtp_ssize)strlen(line) ? 0 : -1;
}

static size_t heap(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

int main(int argc, char **argv) {
  size_t n = 2000;
  int backend = SMTP_TLS_BACKEND_DEFAULT, maxv = 0;
  smtp_tls_config *scfg, *ccfg;
  smtp_tls_conn **cl, **sv;
  char pem[8192];
  size_t len, before = 0, with_both, servers_only;
  smtp_tls_info info;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-n")) n = (size_t)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "-b")) backend = smtp_tls_backend_by_name(argv[i + 1]);
    else if (!strcmp(argv[i], "-v")) maxv = !strcmp(argv[i + 1], "1.2") ? SMTP_TLS_VERSION_1_2 : SMTP_TLS_VERSION_1_3;
  }
  if (backend < 0 || n == 0) {
    fprintf(stderr, "usage: tls_idle [-n pairs] [-b openssl|mbedtls] [-v 1.2|1.3]\n");
    return 64;
  }
  if (smtp_tls_config_new_backend(&scfg, SMTP_TLS_SERVER, backend, NULL) ||
      smtp_tls_config_self_signed(scfg, "mx.example.test") ||
      smtp_tls_config_export_cert(scfg, pem, sizeof pem, &len) ||
      smtp_tls_config_new_backend(&ccfg, SMTP_TLS_CLIENT, backend, NULL) ||
      smtp_tls_config_ca_mem(ccfg, pem, len)) {
    fprintf(stderr, "tls_idle: TLS set-up failed\n");
    return 1;
  }
  if (maxv && (smtp_tls_config_set_versions(scfg, SMTP_TLS_VERSION_1_2, maxv) ||
               smtp_tls_config_set_versions(ccfg, SMTP_TLS_VERSION_1_2, maxv))) {
    fprintf(stderr, "tls_idle: version not available\n");
    return 1;
  }
  cl = calloc(n, sizeof *cl);
  sv = calloc(n, sizeof *sv);
  if (!cl || !sv) return 1;
  /* one pair first: lazy one-time allocations are not per session */
  for (int warm = 0; warm < 2; warm++) {
    size_t k = warm ? n : 1;
    if (warm) before = heap();
    for (size_t i = 0; i < k; i++) {
      if (smtp_tls_conn_new(&cl[i], ccfg, "mx.example.test", NULL) ||
          smtp_tls_conn_new(&sv[i], scfg, NULL, NULL) || pair_up(cl[i], sv[i]) ||
          exchange(sv[i], cl[i], "250 ok\r\n") || exchange(cl[i], sv[i], "NOOP\r\n")) {
        fprintf(stderr, "tls_idle: session %zu failed\n", i);
        return 1;
      }
    }
    if (!warm) {
      smtp_tls_get_info(cl[0], &info);
      smtp_tls_conn_del(cl[0]);
      smtp_tls_conn_del(sv[0]);
    }
  }
  with_both = heap();
  for (size_t i = 0; i < n; i++) smtp_tls_conn_del(cl[i]);
  malloc_trim(0);
  servers_only = heap();
  printf("tls_idle: %s (%s), %s %s: %zu idle server sessions: %.0f bytes each "
         "(client+server pair: %.0f)\n",
         smtp_tls_backend_name(smtp_tls_config_backend(scfg)), smtp_tls_backend_version(smtp_tls_config_backend(scfg)),
         info.protocol ? info.protocol : "?", info.cipher ? info.cipher : "?", n,
         (double)(servers_only - before) / (double)n, (double)(with_both - before) / (double)n);
  for (size_t i = 0; i < n; i++) smtp_tls_conn_del(sv[i]);
  free(cl);
  free(sv);
  smtp_tls_config_del(ccfg);
  smtp_tls_config_del(scfg);
  return 0;
}
