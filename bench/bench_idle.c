/* Memory per idle session, plaintext, without sockets: the bytes a session
 * holds (counting smtp_mem) after its greeting and EHLO, for the server and
 * the client, with the default options and with other buffer sizes; then RSS growth per session with N such sessions alive
 * in one process (malloc overhead included). Targets: <= 3,584 octets
 * (3.5 KiB) per idle plaintext server session, <= 3,993 (3.9 KiB) per
 * client session (tests/test_idle_memory.c checks them).
 *
 * Usage: bench_idle [N]   (default 10000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/client.h>
#include <smtp/server.h>

#include "bench_common.h"

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) v = strtol(line + 6, NULL, 10);
  fclose(f);
  return v;
}

static void srv_drain(smtp_server_session *s) {
  const char *out;
  smtp_ssize k;
  while ((k = smtp_server_session_mem_send(s, &out)) > 0)
    smtp_server_session_mem_consume(s, (size_t)k);
}

static void cli_drain(smtp_client_session *c) {
  const char *out;
  smtp_ssize k;
  while ((k = smtp_client_session_mem_send(c, &out)) > 0)
    smtp_client_session_mem_consume(c, (size_t)k);
}

/* A server session that greeted and answered EHLO. */
static smtp_server_session *idle_server(const smtp_server_options *o, const smtp_mem *mem) {
  static const char ehlo[] = "EHLO client.example.net\r\n";
  smtp_server_session *s;
  if (smtp_server_session_new(&s, NULL, NULL, o, mem) != SMTP_OK) bench_die("server new");
  srv_drain(s);
  if (smtp_server_session_mem_recv(s, ehlo, sizeof ehlo - 1) != (smtp_ssize)(sizeof ehlo - 1))
    bench_die("server EHLO");
  srv_drain(s);
  return s;
}

static int txns_ok;
static int on_done(smtp_client_session *c, smtp_client_txn *t, const smtp_client_txn_result *r,
                   void *ud) {
  (void)c; (void)t; (void)ud;
  if (r->status == SMTP_OK && r->ndelivered == 1) txns_ok++;
  return 0;
}

/* A client session that got its greeting and EHLO reply (READY). */
static smtp_client_session *idle_client(const smtp_client_options *o, const smtp_mem *mem) {
  static const char greet[] = "220 mx.example.com ESMTP\r\n";
  static const char ehlo[] = "250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                             "250 ENHANCEDSTATUSCODES\r\n";
  smtp_client_session *c;
  smtp_client_callbacks *cb;
  if (smtp_client_callbacks_new(&cb, NULL) != SMTP_OK) bench_die("client callbacks");
  smtp_client_callbacks_set_txn_done(cb, on_done);
  if (smtp_client_session_new(&c, cb, NULL, o, mem) != SMTP_OK) bench_die("client new");
  smtp_client_callbacks_del(cb);
  if (smtp_client_session_mem_recv(c, greet, sizeof greet - 1) < 0) bench_die("client greeting");
  cli_drain(c);
  if (smtp_client_session_mem_recv(c, ehlo, sizeof ehlo - 1) < 0) bench_die("client EHLO");
  cli_drain(c);
  return c;
}

/* The same after one transaction with @p body (DATA, one recipient): what
 * a cached connection holds between messages. The transaction object is
 * the application's and is freed here. */
static smtp_client_session *used_client(const smtp_client_options *o, const smtp_mem *mem,
                                        const char *body, size_t blen) {
  static const char rep1[] = "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n";
  static const char rep2[] = "250 2.0.0 queued\r\n";
  smtp_client_session *c = idle_client(o, mem);
  smtp_client_txn *t;
  int before = txns_ok;
  if (smtp_client_txn_new(&t, NULL) != SMTP_OK) bench_die("txn");
  if (smtp_client_txn_set_from(t, "a@example.org", 13) != SMTP_OK ||
      smtp_client_txn_add_rcpt(t, "b@example.net", 13, 0, NULL, 0) != 0 ||
      smtp_client_txn_set_body(t, body, blen) != SMTP_OK || smtp_client_session_submit(c, t) != SMTP_OK)
    bench_die("txn setup");
  cli_drain(c);
  if (smtp_client_session_mem_recv(c, rep1, sizeof rep1 - 1) < 0) bench_die("client replies");
  cli_drain(c);
  if (smtp_client_session_mem_recv(c, rep2, sizeof rep2 - 1) < 0) bench_die("client end");
  cli_drain(c);
  if (txns_ok != before + 1) bench_die("client transaction not delivered");
  smtp_client_txn_del(t);
  return c;
}

static char *make_body(size_t n, int lf) {
  char *b = malloc(n);
  size_t i;
  if (!b) bench_die("out of memory");
  for (i = 0; i < n; i++) b[i] = (char)('a' + i % 26);
  for (i = 78; i + 1 < n; i += 80) {
    b[i] = lf ? 'x' : '\r';
    b[i + 1] = '\n';
  }
  if (n >= 2) {
    b[n - 2] = '\r';
    b[n - 1] = '\n';
  }
  return b;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000, i;
  smtp_server_options *smin;
  smtp_client_options *cdef, *cmin;
  bench_mem_stats st;
  smtp_mem mem;
  void **v;
  long r0, r1;
  if (n == 0) n = 1;
  if (smtp_server_options_new(&smin, NULL) != SMTP_OK) bench_die("options");
  smtp_server_options_set_input_buffer(smin, 1024);
  smtp_server_options_set_output_buffer(smin, 1024);
  smtp_client_options_new(&cdef, NULL);
  smtp_client_options_set_starttls(cdef, SMTP_CLIENT_STARTTLS_OFF);
  smtp_client_options_new(&cmin, NULL);
  smtp_client_options_set_starttls(cmin, SMTP_CLIENT_STARTTLS_OFF);
  smtp_client_options_set_output_buffer(cmin, 16384);

  printf("memory per idle plaintext session (after greeting and EHLO), targets: server <= 3584, client <= 3993\n");
  printf("%-46s %10s %10s\n", "session", "own bytes", "allocs");
#define ROW(label, expr, del)                                                        \
  do {                                                                               \
    memset(&st, 0, sizeof st);                                                       \
    mem = bench_mem(&st);                                                            \
    {                                                                                \
      void *obj = (expr);                                                            \
      printf("%-46s %10zu %10llu\n", label, st.cur, (unsigned long long)st.allocs); \
      del(obj);                                                                      \
    }                                                                                \
  } while (0)
  ROW("server, default options", idle_server(NULL, &mem), smtp_server_session_del);
  ROW("server, input 1024 + output 1024 (minimum)", idle_server(smin, &mem),
      smtp_server_session_del);
  ROW("client, default options", idle_client(cdef, &mem), smtp_client_session_del);
  ROW("client, output up to 16384", idle_client(cmin, &mem), smtp_client_session_del);
  {
    char *b1 = make_body(1024, 0), *b100 = make_body(102400, 0), *blf = make_body(10240, 1);
    printf("after one DATA transaction (a cached connection between messages)\n");
    ROW("client, 1 KiB CRLF body", used_client(cdef, &mem, b1, 1024), smtp_client_session_del);
    ROW("client, 100 KiB CRLF body (sent in place)", used_client(cdef, &mem, b100, 102400),
        smtp_client_session_del);
    ROW("client, 10 KiB LF body (stuffed: output grown)", used_client(cdef, &mem, blf, 10240),
        smtp_client_session_del);
    free(b1);
    free(b100);
    free(blf);
  }

  /* RSS growth with n sessions alive (default allocator: malloc overhead in). */
  v = calloc(n, sizeof *v);
  if (!v) bench_die("out of memory");
  printf("\nRSS growth per session with %zu idle sessions in one process (no sockets)\n", n);
  r0 = rss_kib();
  for (i = 0; i < n; i++) v[i] = idle_server(NULL, NULL);
  r1 = rss_kib();
  printf("%-46s %10.0f\n", "server, default options (octets)", (double)(r1 - r0) * 1024.0 / (double)n);
  for (i = 0; i < n; i++) smtp_server_session_del(v[i]);
  r0 = rss_kib();
  for (i = 0; i < n; i++) v[i] = idle_server(smin, NULL);
  r1 = rss_kib();
  printf("%-46s %10.0f\n", "server, minimum buffers (octets)", (double)(r1 - r0) * 1024.0 / (double)n);
  for (i = 0; i < n; i++) smtp_server_session_del(v[i]);
  r0 = rss_kib();
  for (i = 0; i < n; i++) v[i] = idle_client(cdef, NULL);
  r1 = rss_kib();
  printf("%-46s %10.0f\n", "client, default options (octets)", (double)(r1 - r0) * 1024.0 / (double)n);
  for (i = 0; i < n; i++) smtp_client_session_del(v[i]);
  free(v);
  smtp_server_options_del(smin);
  smtp_client_options_del(cdef);
  smtp_client_options_del(cmin);
  return 0;
}
