/* Memory per idle session: what docs/footprint.md and bench/README.md
 * promise for a plaintext session with the default options after its
 * greeting and EHLO (the figure bench/bench_idle.c prints): at most
 * 3,584 octets for a server session, 3,993 for a client session, counted
 * through the smtp_mem hook. Built in every role set (each half only where
 * its role is), so the device builds check it too. Also: the rarely used
 * state that is kept out of an idle session (the TLS facts, the AUTH
 * buffers) arrives when it is used, and is freed with the session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <smtp/features.h>
#if SMTP_HAVE_SERVER
#include <smtp/server.h>
#endif
#if SMTP_HAVE_CLIENT
#include <smtp/client.h>
#endif
#include <smtp/sasl.h>

#define SERVER_IDLE_MAX 3584u /* 3.5 KiB */
#define CLIENT_IDLE_MAX 3993u /* 3.9 KiB */

/* A counting allocator: live bytes and allocations. Each block carries its
 * size in front (aligned for any type). */
typedef struct cnt_mem {
  smtp_mem mem;
  size_t bytes, count, live;
} cnt_mem;

typedef union hdr {
  size_t n;
  max_align_t align;
} hdr;

static void *cnt_malloc(size_t n, void *ud) {
  cnt_mem *m = ud;
  hdr *h = malloc(sizeof *h + n);
  if (!h) return NULL;
  h->n = n;
  m->bytes += n;
  m->count++;
  m->live++;
  return h + 1;
}

static void *cnt_calloc(size_t k, size_t n, void *ud) {
  void *p;
  if (n && k > SIZE_MAX / n) return NULL;
  p = ((cnt_mem *)ud)->mem.malloc(k * n, ud);
  if (p) memset(p, 0, k * n);
  return p;
}

static void cnt_free(void *p, void *ud) {
  cnt_mem *m = ud;
  hdr *h;
  if (!p) return;
  h = (hdr *)p - 1;
  m->bytes -= h->n;
  m->live--;
  free(h);
}

static void *cnt_realloc(void *p, size_t n, void *ud) {
  cnt_mem *m = ud;
  hdr *h;
  if (!p) return cnt_malloc(n, ud);
  h = realloc((hdr *)p - 1, sizeof *h + n);
  if (!h) return NULL;
  m->bytes = m->bytes - h->n + n;
  h->n = n;
  return h + 1;
}

static void cnt_init(cnt_mem *m) {
  memset(m, 0, sizeof *m);
  m->mem.malloc = cnt_malloc;
  m->mem.calloc = cnt_calloc;
  m->mem.realloc = cnt_realloc;
  m->mem.free = cnt_free;
  m->mem.user_data = m;
}

#if SMTP_HAVE_SERVER
static void srv_drain(smtp_server_session *s) {
  const char *out;
  smtp_ssize k;
  while ((k = smtp_server_session_mem_send(s, &out)) > 0)
    assert_int_equal(smtp_server_session_mem_consume(s, (size_t)k), SMTP_OK);
}

/* Default options, greeting, EHLO (RFC 5321 4.1.1.1): the idle figure. */
static void server_idle(void **state) {
  static const char ehlo[] = "EHLO client.example.net\r\n";
  smtp_server_options *o;
  smtp_server_session *s;
  cnt_mem m;
  (void)state;
  cnt_init(&m);
  assert_int_equal(smtp_server_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, o, &m.mem), SMTP_OK);
  smtp_server_options_del(o);
  srv_drain(s);
  assert_int_equal(smtp_server_session_mem_recv(s, ehlo, sizeof ehlo - 1),
                   (smtp_ssize)(sizeof ehlo - 1));
  srv_drain(s);
  assert_int_equal(m.live, 1);
  assert_true(m.bytes <= SERVER_IDLE_MAX);
  smtp_server_session_del(s);
  assert_int_equal(m.live, 0);
  assert_int_equal(m.bytes, 0);
}

/* The TLS facts are a block of their own, allocated when TLS starts
 * (here implicit TLS, RFC 8314 3, before the greeting), read back, freed
 * with the session. */
static void server_tls_block(void **state) {
  smtp_server_session *s;
  smtp_tls_info info, back;
  cnt_mem m;
  size_t idle;
  (void)state;
  cnt_init(&m);
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, NULL, &m.mem), SMTP_OK);
  idle = m.bytes;
  assert_int_equal(smtp_server_session_tls_info(s, &back), SMTP_ERR_INVALID_STATE);
  memset(&info, 0, sizeof info);
  info.protocol = "TLSv1.3";
  info.cipher = "TLS_AES_128_GCM_SHA256";
  info.sni = "mx.example.org";
  assert_int_equal(smtp_server_session_tls_started(s, &info), SMTP_OK);
  assert_int_equal(m.live, 2);
  assert_true(m.bytes > idle && m.bytes - idle <= 192);
  assert_int_equal(smtp_server_session_tls_info(s, &back), SMTP_OK);
  assert_string_equal(back.protocol, "TLSv1.3");
  assert_string_equal(back.cipher, "TLS_AES_128_GCM_SHA256");
  assert_string_equal(back.sni, "mx.example.org");
  smtp_server_session_del(s);
  assert_int_equal(m.live, 0);
  assert_int_equal(m.bytes, 0);
}

static size_t fail_after; /* allocations that succeed before one fails */
static void *fail_malloc(size_t n, void *ud) {
  if (fail_after == 0) return NULL;
  fail_after--;
  return cnt_malloc(n, ud);
}

/* No memory for the TLS facts: SMTP_ERR_NOMEM and nothing changed. */
static void server_tls_nomem(void **state) {
  static const char ehlo[] = "EHLO client.example.net\r\n";
  smtp_server_options *o;
  smtp_server_session *s;
  smtp_tls_info info, back;
  cnt_mem m;
  (void)state;
  cnt_init(&m);
  m.mem.malloc = fail_malloc;
  fail_after = 1;
  assert_int_equal(smtp_server_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_server_options_set_tls_available(o, 1), SMTP_OK);
  assert_int_equal(smtp_server_session_new(&s, NULL, NULL, o, &m.mem), SMTP_OK);
  smtp_server_options_del(o);
  srv_drain(s);
  assert_int_equal(smtp_server_session_mem_recv(s, ehlo, sizeof ehlo - 1),
                   (smtp_ssize)(sizeof ehlo - 1));
  srv_drain(s);
  assert_int_equal(smtp_server_session_mem_recv(s, "STARTTLS\r\n", 10), 10);
  srv_drain(s);
  assert_true(smtp_server_session_want_tls(s));
  memset(&info, 0, sizeof info);
  info.protocol = "TLSv1.3";
  assert_int_equal(smtp_server_session_tls_started(s, &info), SMTP_ERR_NOMEM);
  assert_int_equal(smtp_server_session_tls_info(s, &back), SMTP_ERR_INVALID_STATE);
  assert_true(smtp_server_session_want_tls(s)); /* still waiting for the handshake */
  fail_after = 1;
  assert_int_equal(smtp_server_session_tls_started(s, &info), SMTP_OK);
  assert_int_equal(smtp_server_session_tls_info(s, &back), SMTP_OK);
  assert_string_equal(back.protocol, "TLSv1.3");
  assert_string_equal(back.cipher, "");
  smtp_server_session_del(s);
  assert_int_equal(m.live, 0);
}
#endif

#if SMTP_HAVE_CLIENT
static int on_done(smtp_client_session *c, smtp_client_txn *t, const smtp_client_txn_result *r,
                   void *ud) {
  (void)c;
  (void)t;
  (void)r;
  (void)ud;
  return 0;
}

static void cli_drain(smtp_client_session *c) {
  const char *out;
  smtp_ssize k;
  while ((k = smtp_client_session_mem_send(c, &out)) > 0)
    assert_int_equal(smtp_client_session_mem_consume(c, (size_t)k), SMTP_OK);
}

/* Default options, greeting and EHLO reply taken: the idle figure. */
static void client_idle(void **state) {
  static const char greet[] = "220 mx.example.com ESMTP\r\n";
  static const char ehlo[] = "250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                             "250 ENHANCEDSTATUSCODES\r\n";
  smtp_client_callbacks *cb;
  smtp_client_session *c;
  cnt_mem m;
  (void)state;
  cnt_init(&m);
  assert_int_equal(smtp_client_callbacks_new(&cb, NULL), SMTP_OK);
  smtp_client_callbacks_set_txn_done(cb, on_done);
  assert_int_equal(smtp_client_session_new(&c, cb, NULL, NULL, &m.mem), SMTP_OK);
  smtp_client_callbacks_del(cb);
  assert_int_equal(smtp_client_session_mem_recv(c, greet, sizeof greet - 1),
                   (smtp_ssize)(sizeof greet - 1));
  cli_drain(c);
  assert_int_equal(smtp_client_session_mem_recv(c, ehlo, sizeof ehlo - 1),
                   (smtp_ssize)(sizeof ehlo - 1));
  cli_drain(c);
  assert_true(m.bytes <= CLIENT_IDLE_MAX);
  smtp_client_session_del(c);
  assert_int_equal(m.live, 0);
  assert_int_equal(m.bytes, 0);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
#if SMTP_HAVE_SERVER
      cmocka_unit_test(server_idle),
      cmocka_unit_test(server_tls_block),
      cmocka_unit_test(server_tls_nomem),
#endif
#if SMTP_HAVE_CLIENT
      cmocka_unit_test(client_idle),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
