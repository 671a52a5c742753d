/* The driver (driver.h) over the memory pipe and socketpair(2): byte
 * pumping, STARTTLS insertion (RFC 3207) with the pipelining rules of
 * docs/security.md 2, implicit TLS (RFC 8314), deadlines (RFC 5321 4.5.3.2) on
 * an injected clock, EOF and TLS close handling, the blocking loop.
 *
 * Part 1 drives two small scripted stand-in sessions through the internal
 * session vtable (smtp__driver_ops), so the driver is tested on its own.
 * Part 2 runs the real client and server sessions against each other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <smtp/client.h>
#include <smtp/driver.h>
#include <smtp/proxy.h>
#include <smtp/server.h>

#include "adapters.h"
#include "support/fail_mem.h"
#include "tls_backend.h"

/* ------------------------------------------------------------------ */
/* A scripted stand-in session (both roles).                          */
#define S(x) x, sizeof(x) - 1

typedef struct fake {
  int role;
  char out[8192];
  size_t out_len;
  char line[1024];
  size_t line_len;
  char log[16384]; /* every complete line received, as received */
  size_t log_len;
  int greeted, closed, tls_pending, tls_up, implicit, deferred, quit_sent;
  int err, lost, tls_failed_err, timeouts;
  unsigned int seq;
  int tmo;
  const char *const *script; /* client: commands, one per reply */
  size_t next;
  char proto[32];
  int peer_verified;
  smtp__ep addrs[3]; /* SMTP_ADDR_* as a session keeps them */
} fake;

static void queue(fake *f, const char *s) {
  size_t n = strlen(s);
  assert_true(f->out_len + n <= sizeof f->out);
  memcpy(f->out + f->out_len, s, n);
  f->out_len += n;
}

static void logline(fake *f, const char *l, size_t n) {
  assert_true(f->log_len + n + 1 <= sizeof f->log);
  memcpy(f->log + f->log_len, l, n);
  f->log_len += n;
  f->log[f->log_len] = 0;
}

static void client_next(fake *f) {
  const char *cmd = f->script[f->next];
  if (!cmd) return;
  f->next++;
  queue(f, cmd);
  queue(f, "\r\n");
  if (strcmp(cmd, "QUIT") == 0) f->quit_sent = 1;
}

/* one complete line (without CRLF) */
static int on_line(fake *f, const char *l, size_t n) {
  logline(f, l, n);
  logline(f, "\n", 1);
  if (f->role == SMTP_TLS_SERVER) {
    f->seq++;
    if (n == 8 && memcmp(l, "STARTTLS", 8) == 0 && !f->tls_up) {
      queue(f, "220 go\r\n");
      f->tls_pending = 1;
    } else if (n == 4 && memcmp(l, "QUIT", 4) == 0) {
      queue(f, "221 bye\r\n");
      f->closed = 1;
    } else if (n == 4 && memcmp(l, "SLOW", 4) == 0) {
      f->deferred = 1; /* the application answers later */
    } else {
      queue(f, "250 ");
      logline(f, "", 0);
      assert_true(f->out_len + n + 2 <= sizeof f->out);
      memcpy(f->out + f->out_len, l, n);
      f->out_len += n;
      queue(f, "\r\n");
    }
    return 0;
  }
  /* client: every line is a one-line reply */
  if (n >= 3 && memcmp(l, "221", 3) == 0) {
    f->closed = 1;
    return 0;
  }
  if (n >= 6 && memcmp(l, "220 go", 6) == 0) {
    f->tls_pending = 1;
    return 1; /* stop: bytes after this reply are an error */
  }
  client_next(f);
  return 0;
}

static smtp_ssize f_recv(void *s, const char *data, size_t len) {
  fake *f = s;
  size_t i = 0;
  if (f->closed) return len ? SMTP_ERR_CLOSED : 0;
  if (f->role == SMTP_TLS_SERVER && f->tls_pending) return (smtp_ssize)len; /* discard (RFC 3207 5) */
  if (f->role == SMTP_TLS_CLIENT && f->tls_pending && len) {
    f->closed = 1;
    f->err = SMTP_ERR_PROTOCOL;
    return SMTP_ERR_PROTOCOL;
  }
  while (i < len && !f->deferred && !f->closed && !f->tls_pending) {
    char c = data[i++];
    if (f->line_len < sizeof f->line) f->line[f->line_len++] = c;
    if (c == '\n' && f->line_len >= 2 && f->line[f->line_len - 2] == '\r') {
      int stop = on_line(f, f->line, f->line_len - 2);
      f->line_len = 0;
      if (stop && i < len) {
        f->closed = 1;
        f->err = SMTP_ERR_PROTOCOL;
        return SMTP_ERR_PROTOCOL;
      }
    }
  }
  return (smtp_ssize)i;
}

static smtp_ssize f_send(void *s, const char **data) {
  fake *f = s;
  if (f->role == SMTP_TLS_SERVER && !f->greeted && (!f->implicit || f->tls_up)) {
    f->greeted = 1;
    queue(f, "220 fake ESMTP\r\n");
  }
  *data = f->out;
  return (smtp_ssize)f->out_len;
}

static int f_consume(void *s, size_t n) {
  fake *f = s;
  assert_true(n <= f->out_len);
  memmove(f->out, f->out + n, f->out_len - n);
  f->out_len -= n;
  return 0;
}

static int f_want_read(const void *s) {
  const fake *f = s;
  return !f->closed && !f->deferred && !f->tls_pending;
}

static int f_want_tls(const void *s) {
  const fake *f = s;
  return f->tls_pending && f->out_len == 0;
}

static int f_tls_started(void *s, const smtp_tls_info *info) {
  fake *f = s;
  if (!f->tls_pending && !(f->implicit && !f->tls_up)) return SMTP_ERR_INVALID_STATE;
  f->tls_pending = 0;
  f->tls_up = 1;
  f->seq++;
  snprintf(f->proto, sizeof f->proto, "%s", info->protocol ? info->protocol : "?");
  f->peer_verified = info->peer_verified;
  if (f->role == SMTP_TLS_CLIENT && !f->implicit) client_next(f); /* EHLO again */
  return 0;
}

static int f_tls_failed(void *s, int error) {
  fake *f = s;
  f->tls_failed_err = error;
  f->closed = 1;
  f->err = error;
  return 0;
}

static int f_timeout_ms(const void *s) {
  const fake *f = s;
  return f->closed ? -1 : f->tmo;
}

static int f_seq(const void *s, unsigned int *seq) {
  *seq = ((const fake *)s)->seq;
  return 0;
}

static int f_timeout(void *s) {
  fake *f = s;
  f->timeouts++;
  if (f->closed) return SMTP_ERR_CLOSED;
  if (f->role == SMTP_TLS_SERVER) queue(f, "421 timeout\r\n");
  else f->err = SMTP_ERR_TIMEOUT;
  f->closed = 1;
  f->deferred = 0;
  return 0;
}

static int f_lost(void *s) {
  fake *f = s;
  f->lost = 1;
  if (!f->closed && !f->quit_sent) f->err = SMTP_ERR_CONNECTION_LOST;
  f->closed = 1;
  return 0;
}

static int f_is_done(const void *s) {
  const fake *f = s;
  return f->closed && f->out_len == 0;
}

static int f_error(const void *s) { return ((const fake *)s)->err; }

static const smtp__driver_ops server_ops = {SMTP_TLS_SERVER, f_recv, f_send, f_consume, f_want_read,
                                            f_want_tls, f_tls_started, NULL, f_timeout_ms, f_seq,
                                            f_timeout, NULL, f_is_done, NULL, NULL, NULL, NULL, NULL, NULL};
static const smtp__driver_ops client_ops = {SMTP_TLS_CLIENT, f_recv, f_send, f_consume, f_want_read,
                                            f_want_tls, f_tls_started, f_tls_failed, f_timeout_ms,
                                            NULL, f_timeout, f_lost, f_is_done, f_error, NULL, NULL, NULL,
                                            NULL, NULL};

/* The client waits for the greeting before its first command. */
static int greeted_client_recv_hook;

static void fake_init(fake *f, int role, const char *const *script) {
  memset(f, 0, sizeof *f);
  f->role = role;
  f->tmo = 300000;
  f->script = script;
}

/* ------------------------------------------------------------------ */

static smtp_tls_config *srv_cfg, *cli_cfg;

static int setup_all(void **state) {
  char pem[4096];
  size_t n;
  (void)state;
  if (!smtp_tls_available()) return 0;
  if (smtp_tls_config_new(&srv_cfg, SMTP_TLS_SERVER, NULL) ||
      smtp_tls_config_self_signed(srv_cfg, "mx.example.test") ||
      smtp_tls_config_export_cert(srv_cfg, pem, sizeof pem, &n) ||
      smtp_tls_config_new(&cli_cfg, SMTP_TLS_CLIENT, NULL) || smtp_tls_config_ca_mem(cli_cfg, pem, n))
    return -1;
  return 0;
}

static int teardown_all(void **state) {
  (void)state;
  smtp_tls_config_del(srv_cfg);
  smtp_tls_config_del(cli_cfg);
  return 0;
}

/* Pump two drivers in one thread until both are done. */
static void run_pair(smtp_driver *a, smtp_driver *b) {
  for (int i = 0; i < 100000 && !(smtp_driver_is_done(a) && smtp_driver_is_done(b)); i++) {
    if (!smtp_driver_is_done(a)) smtp_driver_on_readable(a);
    if (!smtp_driver_is_done(b)) smtp_driver_on_readable(b);
  }
  assert_true(smtp_driver_is_done(a));
  assert_true(smtp_driver_is_done(b));
}

static const char *const plain_script[] = {"EHLO client.example", "MAIL FROM:<a@example.org>",
                                           "QUIT", NULL};

static void check_plain(const fake *sv, const fake *cl) {
  assert_string_equal(sv->log, "EHLO client.example\nMAIL FROM:<a@example.org>\nQUIT\n");
  assert_string_equal(cl->log, "220 fake ESMTP\n250 EHLO client.example\n250 MAIL FROM:<a@example.org>\n221 bye\n");
}

static void test_plain(void **state) {
  (void)state;
  for (size_t chunk = 0; chunk <= 3; chunk++) {
    fake sv, cl;
    smtp_io a, b;
    smtp_driver *ds, *dc;
    fake_init(&sv, SMTP_TLS_SERVER, NULL);
    fake_init(&cl, SMTP_TLS_CLIENT, plain_script);
    assert_int_equal(smtp_io_pipe_new(&a, &b, chunk ? 5 : 4096, NULL), 0);
    smtp_io_pipe_set_chunk(&a, chunk);
    smtp_io_pipe_set_chunk(&b, chunk);
    assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, NULL, NULL, 0, NULL), 0);
    assert_int_equal(smtp__driver_new(&dc, &client_ops, &cl, &b, NULL, NULL, 0, NULL), 0);
    run_pair(ds, dc);
    check_plain(&sv, &cl);
    assert_int_equal(smtp_driver_error(ds), 0);
    assert_int_equal(smtp_driver_error(dc), 0);
    assert_int_equal(smtp_driver_poll_events(ds), 0);
    assert_int_equal(smtp_driver_next_timeout_ms(ds), -1);
    assert_int_equal(smtp_driver_pump(ds), SMTP_ERR_CLOSED);
    {
      smtp_tls_info info;
      assert_int_equal(smtp_driver_tls_info(ds, &info), SMTP_ERR_INVALID_STATE);
    }
    smtp_driver_del(ds);
    smtp_driver_del(dc);
  }
}

static const char *const tls_script[] = {"EHLO client.example", "STARTTLS", "EHLO again.example",
                                         "MAIL FROM:<a@example.org>", "QUIT", NULL};

static void test_starttls(void **state) {
  (void)state;
  if (!smtp_tls_available()) skip();
  for (size_t chunk = 0; chunk <= 1; chunk++) {
    fake sv, cl;
    smtp_io a, b;
    smtp_driver *ds, *dc;
    smtp_tls_info info;
    fake_init(&sv, SMTP_TLS_SERVER, NULL);
    fake_init(&cl, SMTP_TLS_CLIENT, tls_script);
    assert_int_equal(smtp_io_pipe_new(&a, &b, chunk ? 100 : 65536, NULL), 0);
    smtp_io_pipe_set_chunk(&a, chunk * 13);
    smtp_io_pipe_set_chunk(&b, chunk * 7);
    assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, srv_cfg, NULL, 0, NULL), 0);
    assert_int_equal(smtp__driver_new(&dc, &client_ops, &cl, &b, cli_cfg, "mx.example.test", 0, NULL), 0);
    run_pair(ds, dc);
    assert_int_equal(smtp_driver_error(ds), 0);
    assert_int_equal(smtp_driver_error(dc), 0);
    assert_int_equal(sv.tls_up, 1);
    assert_int_equal(cl.tls_up, 1);
    assert_int_equal(cl.peer_verified, 1);
    assert_string_equal(sv.log, "EHLO client.example\nSTARTTLS\nEHLO again.example\nMAIL FROM:<a@example.org>\nQUIT\n");
    assert_string_equal(cl.log, "220 fake ESMTP\n250 EHLO client.example\n220 go\n250 EHLO again.example\n"
                                "250 MAIL FROM:<a@example.org>\n221 bye\n");
    assert_int_equal(smtp_driver_tls_info(dc, &info), 0);
    assert_string_equal(info.protocol, cl.proto);
    smtp_driver_del(ds);
    smtp_driver_del(dc);
  }
}

static void test_implicit_tls(void **state) {
  (void)state;
  if (!smtp_tls_available()) skip();
  fake sv, cl;
  smtp_io a, b;
  smtp_driver *ds, *dc;
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  fake_init(&cl, SMTP_TLS_CLIENT, plain_script);
  sv.implicit = cl.implicit = 1;
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, srv_cfg, NULL, SMTP_DRIVER_IMPLICIT_TLS, NULL), 0);
  assert_int_equal(smtp__driver_new(&dc, &client_ops, &cl, &b, cli_cfg, "mx.example.test", SMTP_DRIVER_IMPLICIT_TLS, NULL), 0);
  /* the client speaks first (ClientHello); the server sends no greeting yet */
  smtp_driver_pump(dc);
  smtp_driver_pump(ds);
  assert_true(smtp_io_pipe_pending(&a) > 0);
  assert_int_equal(sv.greeted, 0);
  run_pair(ds, dc);
  check_plain(&sv, &cl);
  assert_int_equal(sv.tls_up, 1);
  assert_int_equal(cl.tls_up, 1);
  assert_int_equal(smtp_driver_error(dc), 0);
  smtp_driver_del(ds);
  smtp_driver_del(dc);
}

/* RFC 3207 5 / docs/security.md 2 (CVE-2011-0411): a command pipelined behind
 * STARTTLS is never executed; the bytes are dropped and whatever follows
 * must be TLS. */
static void test_server_drops_pipelined_after_starttls(void **state) {
  (void)state;
  if (!smtp_tls_available()) skip();
  fake sv;
  smtp_io a, b;
  smtp_driver *ds;
  char buf[256];
  static const char evil[] = "EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<v@example.org>\r\n";
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, srv_cfg, NULL, 0, NULL), 0);
  assert_int_equal(smtp__io_send(&b, evil, sizeof evil - 1), (smtp_ssize)(sizeof evil - 1));
  for (int i = 0; i < 10; i++) smtp_driver_on_readable(ds);
  assert_string_equal(sv.log, "EHLO x\nSTARTTLS\n");
  /* the peer sees the greeting, 250, 220, and nothing else */
  {
    smtp_ssize n = smtp__io_recv(&b, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = 0;
    assert_string_equal(buf, "220 fake ESMTP\r\n250 EHLO x\r\n220 go\r\n");
  }
  /* plaintext now is a broken handshake, and the session ends */
  assert_int_equal(smtp__io_send(&b, "QUIT\r\n", 6), 6);
  for (int i = 0; i < 10 && !smtp_driver_is_done(ds); i++) smtp_driver_on_readable(ds);
  assert_true(smtp_driver_is_done(ds));
  assert_int_equal(smtp_driver_error(ds), SMTP_ERR_TLS_HANDSHAKE);
  assert_string_equal(sv.log, "EHLO x\nSTARTTLS\n");
  assert_int_equal(sv.tls_up, 0);
  smtp_driver_last_error(ds, buf, sizeof buf);
  assert_true(strlen(buf) > 0);
  smtp_driver_del(ds);
  smtp__io_close(&b);
}

/* docs/security.md 2: bytes after the server's 220 to STARTTLS and before the
 * handshake are an error for the client (CVE-2021-38371 / 2021-22947). */
static void test_client_refuses_injected_after_220(void **state) {
  (void)state;
  if (!smtp_tls_available()) skip();
  static const char *const script[] = {"STARTTLS", "MAIL FROM:<a@example.org>", NULL};
  fake cl;
  smtp_io a, b;
  smtp_driver *dc;
  char buf[256];
  fake_init(&cl, SMTP_TLS_CLIENT, script);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp__driver_new(&dc, &client_ops, &cl, &b, cli_cfg, "mx.example.test", 0, NULL), 0);
  smtp__io_send(&a, "220 hi\r\n", 8);
  smtp_driver_on_readable(dc);
  assert_true(smtp__io_recv(&a, buf, sizeof buf) > 0); /* STARTTLS */
  smtp__io_send(&a, "220 go\r\n250 injected\r\n", 22);
  for (int i = 0; i < 5 && !smtp_driver_is_done(dc); i++) smtp_driver_on_readable(dc);
  assert_true(smtp_driver_is_done(dc));
  assert_int_equal(smtp_driver_error(dc), SMTP_ERR_PROTOCOL);
  assert_int_equal(cl.tls_up, 0);
  smtp_driver_del(dc);
  smtp__io_close(&a);
}

/* The server's certificate does not verify: the client session learns it
 * (tls_failed), nothing more is sent in plaintext. */
static void test_client_verify_failure(void **state) {
  (void)state;
  if (!smtp_tls_available()) skip();
  fake sv, cl;
  smtp_io a, b;
  smtp_driver *ds, *dc;
  char why[256];
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  fake_init(&cl, SMTP_TLS_CLIENT, tls_script);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, srv_cfg, NULL, 0, NULL), 0);
  assert_int_equal(smtp__driver_new(&dc, &client_ops, &cl, &b, cli_cfg, "wrong.example.test", 0, NULL), 0);
  run_pair(ds, dc);
  assert_int_equal(smtp_driver_error(dc), SMTP_ERR_TLS_VERIFY);
  assert_int_equal(cl.tls_failed_err, SMTP_ERR_TLS_VERIFY);
  assert_int_not_equal(smtp_driver_error(ds), 0);
  assert_string_equal(sv.log, "EHLO client.example\nSTARTTLS\n");
  smtp_driver_last_error(dc, why, sizeof why);
  assert_non_null(strstr(why, "verif"));
  smtp_driver_del(ds);
  smtp_driver_del(dc);
}

/* A session that asks for TLS without a TLS configuration ends. */
static void test_starttls_without_config(void **state) {
  (void)state;
  fake sv, cl;
  smtp_io a, b;
  smtp_driver *ds, *dc;
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  fake_init(&cl, SMTP_TLS_CLIENT, tls_script);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, NULL, NULL, 0, NULL), 0);
  assert_int_equal(smtp__driver_new(&dc, &client_ops, &cl, &b, NULL, NULL, 0, NULL), 0);
  run_pair(ds, dc);
  assert_int_equal(smtp_driver_error(ds), SMTP_ERR_TLS_UNAVAILABLE);
  assert_int_equal(smtp_driver_error(dc), SMTP_ERR_TLS_UNAVAILABLE);
  smtp_driver_del(ds);
  smtp_driver_del(dc);
}

/* ---- deadlines on an injected clock ---- */
static int64_t fake_now;
static int64_t fake_clock(void *ud) {
  (void)ud;
  return fake_now;
}

/* RFC 5321 4.5.3.2.7 / docs/security.md 7: a client that drips bytes without
 * ever finishing a command hits the deadline of that command. */
static void test_timeout_slow_drip(void **state) {
  (void)state;
  fake sv;
  smtp_io a, b;
  smtp_driver *ds;
  char buf[256];
  smtp_ssize n;
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  fake_now = 1000000;
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, NULL, NULL, 0, NULL), 0);
  smtp__driver_set_clock(ds, fake_clock, NULL);
  smtp_driver_pump(ds);
  assert_int_equal(smtp_driver_next_timeout_ms(ds), 300000);
  assert_int_equal(smtp_driver_poll_events(ds), SMTP_DRIVER_POLLIN);
  smtp__io_recv(&b, buf, sizeof buf); /* greeting */
  /* a complete command re-arms the deadline */
  fake_now += 200000;
  smtp__io_send(&b, "NOOP\r\n", 6);
  smtp_driver_on_readable(ds);
  assert_int_equal(smtp_driver_next_timeout_ms(ds), 300000);
  /* one byte every 100 s: no new deadline */
  for (int i = 0; i < 2; i++) {
    fake_now += 100000;
    smtp__io_send(&b, "X", 1);
    smtp_driver_on_readable(ds);
    assert_int_equal(smtp_driver_next_timeout_ms(ds), 300000 - 100000 * (i + 1));
    assert_false(smtp_driver_is_done(ds));
  }
  fake_now += 100000;
  assert_int_equal(smtp_driver_next_timeout_ms(ds), 0);
  smtp_driver_on_timer(ds);
  assert_int_equal(sv.timeouts, 1);
  assert_true(smtp_driver_is_done(ds));
  assert_int_equal(smtp_driver_error(ds), SMTP_ERR_TIMEOUT);
  n = smtp__io_recv(&b, buf, sizeof buf - 1);
  assert_true(n > 0);
  buf[n] = 0;
  assert_string_equal(buf, "250 NOOP\r\n421 timeout\r\n"); /* the 421 went out */
  smtp_driver_del(ds);
  smtp__io_close(&b);
}

/* The 421 cannot be flushed (the peer reads nothing): give up after the
 * linger time. A handshake that never finishes times out too. */
static void test_timeout_linger_and_handshake(void **state) {
  (void)state;
  fake sv;
  smtp_io a, b;
  smtp_driver *ds;
  static char junk[64];
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  fake_now = 5000;
  assert_int_equal(smtp_io_pipe_new(&a, &b, 16, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, NULL, NULL, 0, NULL), 0);
  smtp__driver_set_clock(ds, fake_clock, NULL);
  smtp_driver_pump(ds);
  smtp__io_send(&b, "NOOP\r\n", 6); /* the peer never reads: replies pile up */
  smtp_driver_on_readable(ds);
  fake_now += 300000;
  smtp_driver_on_timer(ds);
  assert_false(smtp_driver_is_done(ds));
  assert_int_equal(smtp_driver_poll_events(ds), SMTP_DRIVER_POLLOUT);
  assert_int_equal(smtp_driver_next_timeout_ms(ds), SMTP_DRIVER_LINGER_MS);
  fake_now += SMTP_DRIVER_LINGER_MS;
  smtp_driver_on_timer(ds);
  assert_true(smtp_driver_is_done(ds));
  assert_int_equal(smtp_driver_error(ds), SMTP_ERR_TIMEOUT);
  smtp_driver_del(ds);
  smtp__io_close(&b);
  (void)junk;

  if (!smtp_tls_available()) return;
  /* a handshake that never completes: the session's deadline applies */
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  sv.implicit = 1;
  fake_now = 0;
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, srv_cfg, NULL, SMTP_DRIVER_IMPLICIT_TLS, NULL), 0);
  smtp__driver_set_clock(ds, fake_clock, NULL);
  smtp_driver_pump(ds);
  assert_int_equal(smtp_driver_next_timeout_ms(ds), 300000);
  assert_int_equal(smtp_driver_poll_events(ds), SMTP_DRIVER_POLLIN);
  smtp__io_send(&b, "\x16\x03\x01", 3); /* the start of a record, then nothing */
  smtp_driver_on_readable(ds);
  fake_now += 300000;
  smtp_driver_on_timer(ds);
  assert_true(smtp_driver_is_done(ds));
  assert_int_equal(smtp_driver_error(ds), SMTP_ERR_TIMEOUT);
  assert_int_equal(sv.greeted, 0);
  smtp_driver_del(ds);
  smtp__io_close(&b);
}

/* The peer vanishes: the server driver ends with CONNECTION_LOST, the
 * client session is told (connection_lost). */
static void test_eof(void **state) {
  (void)state;
  fake sv, cl;
  smtp_io a, b;
  smtp_driver *ds, *dc;
  char buf[64];
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 4096, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, NULL, NULL, 0, NULL), 0);
  smtp_driver_pump(ds);
  smtp__io_send(&b, "EHLO x\r\nMAIL", 12);
  smtp__io_close(&b);
  for (int i = 0; i < 5; i++) smtp_driver_on_readable(ds);
  assert_true(smtp_driver_is_done(ds));
  /* reading the EOF or writing the reply to the closed peer (EPIPE) */
  assert_true(smtp_driver_error(ds) == SMTP_ERR_CONNECTION_LOST || smtp_driver_error(ds) == SMTP_ERR_IO);
  assert_string_equal(sv.log, "EHLO x\n");
  smtp_driver_del(ds);

  static const char *const script[] = {"EHLO c", "MAIL FROM:<>", NULL};
  fake_init(&cl, SMTP_TLS_CLIENT, script);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 4096, NULL), 0);
  assert_int_equal(smtp__driver_new(&dc, &client_ops, &cl, &b, NULL, NULL, 0, NULL), 0);
  smtp__io_send(&a, "220 x\r\n", 7);
  smtp_driver_on_readable(dc);
  smtp__io_recv(&a, buf, sizeof buf);
  smtp__io_close(&a);
  for (int i = 0; i < 5; i++) smtp_driver_on_readable(dc);
  assert_true(smtp_driver_is_done(dc));
  assert_int_equal(cl.lost, 1);
  assert_int_equal(smtp_driver_error(dc), SMTP_ERR_CONNECTION_LOST);
  smtp_driver_del(dc);
}

/* A close_notify in the middle of a session ends it: TLS_CLOSED, and
 * nothing continues in plaintext (docs/security.md 2, CVE-2020-28018 class). */
static void test_tls_close_mid_session(void **state) {
  (void)state;
  if (!smtp_tls_available()) skip();
  fake sv;
  smtp_io a, b;
  smtp_driver *ds;
  smtp_tls_conn *raw;
  int r = SMTP_ERR_WOULDBLOCK;
  char buf[4096];
  const char *p;
  smtp_ssize n;
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  sv.implicit = 1;
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, srv_cfg, NULL, SMTP_DRIVER_IMPLICIT_TLS, NULL), 0);
  assert_int_equal(smtp_tls_conn_new(&raw, cli_cfg, "mx.example.test", NULL), 0);
  for (int i = 0; i < 50 && r == SMTP_ERR_WOULDBLOCK; i++) {
    r = smtp_tls_handshake(raw);
    while ((n = smtp_tls_pending_output(raw, &p)) > 0) {
      smtp__io_send(&b, p, (size_t)n);
      smtp_tls_consume_output(raw, (size_t)n);
    }
    smtp_driver_on_readable(ds);
    while ((n = smtp__io_recv(&b, buf, sizeof buf)) > 0) smtp_tls_feed(raw, buf, (size_t)n);
  }
  assert_int_equal(r, 0);
  assert_int_equal(sv.tls_up, 1);
  assert_int_equal(smtp_tls_close_notify(raw), 0);
  while ((n = smtp_tls_pending_output(raw, &p)) > 0) {
    smtp__io_send(&b, p, (size_t)n);
    smtp_tls_consume_output(raw, (size_t)n);
  }
  smtp__io_send(&b, "QUIT\r\n", 6); /* plaintext after close_notify: never read */
  for (int i = 0; i < 5 && !smtp_driver_is_done(ds); i++) smtp_driver_on_readable(ds);
  assert_true(smtp_driver_is_done(ds));
  assert_int_equal(smtp_driver_error(ds), SMTP_ERR_TLS_CLOSED);
  assert_string_equal(sv.log, "");
  smtp_tls_conn_del(raw);
  smtp_driver_del(ds);
  smtp__io_close(&b);
}

/* A deferred answer: no events to wait for, no busy loop; pump after the
 * application answered. */
static void test_deferred(void **state) {
  (void)state;
  fake sv;
  smtp_io a, b;
  smtp_driver *ds;
  char buf[128];
  smtp_ssize n;
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 4096, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops, &sv, &a, NULL, NULL, 0, NULL), 0);
  smtp__io_send(&b, "SLOW\r\nNOOP\r\n", 12);
  smtp_driver_on_readable(ds);
  assert_int_equal(smtp_driver_poll_events(ds), 0);
  assert_string_equal(sv.log, "SLOW\n");
  sv.deferred = 0;
  queue(&sv, "250 slow done\r\n");
  smtp_driver_pump(ds);
  assert_string_equal(sv.log, "SLOW\nNOOP\n");
  n = smtp__io_recv(&b, buf, sizeof buf - 1);
  buf[n] = 0;
  assert_string_equal(buf, "220 fake ESMTP\r\n250 slow done\r\n250 NOOP\r\n");
  assert_int_equal(smtp_driver_poll_events(ds), SMTP_DRIVER_POLLIN);
  smtp_driver_del(ds);
  smtp__io_close(&b);
}

/* smtp_driver_run over a socketpair, the server in a child process. */
static void test_run_blocking(void **state) {
  (void)state;
  int sv_[2];
  pid_t pid;
  fake cl;
  smtp_io io;
  int status;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv_), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    fake sv;
    smtp_driver *ds;
    close(sv_[1]);
    fake_init(&sv, SMTP_TLS_SERVER, NULL);
    if (smtp_io_posix_new(&io, sv_[0], sv_[0], SMTP_IO_POSIX_OWN_FD, NULL) != 0) _exit(2);
    if (smtp__driver_new(&ds, &server_ops, &sv, &io, srv_cfg, NULL, 0, NULL) != 0) _exit(3);
    int r = smtp_driver_run(ds);
    smtp_driver_del(ds);
    _exit(r == 0 && strstr(sv.log, "QUIT") ? 0 : 4);
  }
  close(sv_[0]);
  fake_init(&cl, SMTP_TLS_CLIENT, smtp_tls_available() ? tls_script : plain_script);
  {
    smtp_driver *dc;
    assert_int_equal(smtp_io_posix_new(&io, sv_[1], sv_[1], SMTP_IO_POSIX_OWN_FD, NULL), 0);
    assert_int_equal(smtp__driver_new(&dc, &client_ops, &cl, &io, cli_cfg, "mx.example.test", 0, NULL), 0);
    assert_int_equal(smtp_driver_run(dc), 0);
    smtp_driver_del(dc);
  }
  assert_non_null(strstr(cl.log, "221 bye"));
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- allocation failures: NOMEM, the adapter closed, nothing leaked ---- */

static void test_alloc_fail(void **state) {
  (void)state;
  int n;
  for (int implicit = 0; implicit <= (smtp_tls_available() ? 1 : 0); implicit++) {
    for (n = 1; n < 20; n++) {
      fake cl;
      smtp_io a, b;
      smtp_driver *d = NULL;
      char c;
      int r;
      fake_init(&cl, SMTP_TLS_CLIENT, plain_script);
      assert_int_equal(smtp_io_pipe_new(&a, &b, 64, NULL), 0);
      fm_fail_at = n;
      fm_count = 0;
      r = smtp__driver_new(&d, &client_ops, &cl, &b, cli_cfg, "mx.example.test",
                           implicit ? SMTP_DRIVER_IMPLICIT_TLS : 0, &fm_mem);
      fm_fail_at = 0;
      if (r == 0) {
        smtp_driver_del(d);
      } else {
        assert_int_equal(r, SMTP_ERR_NOMEM);
        assert_null(d);
        assert_int_equal(smtp__io_recv(&a, &c, 1), SMTP_ERR_EOF); /* b was closed */
      }
      smtp__io_close(&a);
      assert_int_equal(fm_live, 0);
      if (r == 0) break;
    }
    assert_true(n > 1 && n < 20);
  }
}

static void test_args(void **state) {
  (void)state;
  fake sv;
  smtp_io a, b, bad;
  smtp_driver *d;
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 64, NULL), 0);
  bad = a;
  bad.version = 99;
  assert_int_equal(smtp__driver_new(&d, &server_ops, &sv, &bad, NULL, NULL, 0, NULL), SMTP_ERR_UNSUPPORTED);
  assert_null(d);
  /* a rejected driver closes the adapter it was given: the peer sees EOF */
  assert_int_equal(smtp__driver_new(&d, &server_ops, &sv, &a, NULL, NULL, SMTP_DRIVER_IMPLICIT_TLS, NULL),
                   SMTP_ERR_INVALID_ARGUMENT);
  {
    char c;
    assert_int_equal(smtp__io_recv(&b, &c, 1), SMTP_ERR_EOF);
  }
  smtp__io_close(&b);
  if (smtp_tls_available()) {
    assert_int_equal(smtp_io_pipe_new(&a, &b, 64, NULL), 0);
    assert_int_equal(smtp__driver_new(&d, &server_ops, &sv, &a, cli_cfg, NULL, 0, NULL),
                     SMTP_ERR_INVALID_ARGUMENT); /* wrong role */
    smtp__io_close(&b);
  }
  assert_int_equal(smtp_driver_pump(NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_driver_poll_events(NULL), 0);
  assert_int_equal(smtp_driver_next_timeout_ms(NULL), -1);
  assert_int_equal(smtp_driver_is_done(NULL), 0);
  assert_int_equal(smtp_driver_run(NULL), SMTP_ERR_INVALID_ARGUMENT);
  smtp_driver_del(NULL);
  (void)greeted_client_recv_hook;
}

/* ------------------------------------------------------------------ */
/* Part 2: the real client and server sessions against each other.    */

typedef struct srv_app {
  char body[8192];
  size_t body_len;
  int data_ends;
  smtp_endpoint client; /* the session's client at the end of the data */
  char helo[64];        /* and its HELO name */
  size_t helo_len;
  int xforward_ends;    /* data ends with XFORWARD's client */
} srv_app;

static int app_chunk(smtp_server_session *s, const char *data, size_t len, void *ud) {
  srv_app *a = ud;
  (void)s;
  assert_true(a->body_len + len <= sizeof a->body);
  memcpy(a->body + a->body_len, data, len);
  a->body_len += len;
  return 0;
}

static int app_end(smtp_server_session *s, const smtp_server_data_end *end, void *ud) {
  srv_app *a = ud;
  const char *h;
  size_t hl = 0;
  assert_int_equal(end->refused, 0);
  a->data_ends++;
  assert_int_equal(smtp_server_session_addr(s, SMTP_ADDR_CLIENT, &a->client), 0);
  h = smtp_server_session_helo_name(s, &hl);
  a->helo_len = h && hl < sizeof a->helo ? hl : 0;
  if (a->helo_len) memcpy(a->helo, h, hl);
  if (a->client.origin == SMTP_ORIGIN_XFORWARD) a->xforward_ends++;
  return 0;
}

typedef struct cli_app {
  int done;
  smtp_client_txn_result result;
  int closed, closed_error;
  smtp_client_txn *next; /* submitted from the first txn_done */
  int quit_at_end;       /* then QUIT from the last txn_done */
} cli_app;

static int app_txn_done(smtp_client_session *c, smtp_client_txn *t, const smtp_client_txn_result *r,
                        void *ud) {
  cli_app *a = ud;
  (void)t;
  a->done++;
  a->result = *r;
  if (a->next) {
    smtp_client_txn *n = a->next;
    a->next = NULL;
    assert_int_equal(smtp_client_session_submit(c, n), 0);
  } else if (a->quit_at_end) {
    assert_int_equal(smtp_client_session_quit(c), 0);
  }
  return 0;
}

static int app_closed(smtp_client_session *c, int error, void *ud) {
  cli_app *a = ud;
  (void)c;
  a->closed++;
  a->closed_error = error;
  return 0;
}

static const char real_body[] = "Subject: driver test\r\n\r\n.leading dot\r\nline two\r\n";

/* A client and a server session over the memory pipe: STARTTLS (required
 * by the client), EHLO again, one message, QUIT; the message arrives byte
 * for byte (RFC 5321 4.5.2 transparency undone by the server). */
/* A transaction from alice@example.org to @p rcpt with real_body. */
static smtp_client_txn *real_txn(const char *rcpt) {
  smtp_client_txn *t;
  assert_int_equal(smtp_client_txn_new(&t, NULL), 0);
  assert_int_equal(smtp_client_txn_set_from(t, "alice@example.org", 17), 0);
  assert_int_equal(smtp_client_txn_add_rcpt(t, rcpt, strlen(rcpt), 0, NULL, 0), 0);
  assert_int_equal(smtp_client_txn_set_body(t, real_body, sizeof real_body - 1), 0);
  return t;
}

static void run_real(size_t chunk, unsigned int flags) {
  smtp_server_callbacks *scb;
  smtp_server_options *so;
  smtp_server_session *ss;
  smtp_client_callbacks *ccb;
  smtp_client_options *co;
  smtp_client_session *cs;
  smtp_client_txn *t;
  smtp_driver *ds, *dc;
  smtp_io a, b;
  srv_app sapp;
  cli_app capp;
  smtp_tls_info info;
  memset(&sapp, 0, sizeof sapp);
  memset(&capp, 0, sizeof capp);
  assert_int_equal(smtp_server_callbacks_new(&scb, NULL), 0);
  smtp_server_callbacks_set_data_chunk(scb, app_chunk);
  smtp_server_callbacks_set_data_end(scb, app_end);
  assert_int_equal(smtp_server_options_new(&so, NULL), 0);
  assert_int_equal(smtp_server_options_set_hostname(so, "mx.example.test"), 0);
  assert_int_equal(smtp_server_options_set_tls_available(so, 1), 0);
  assert_int_equal(smtp_server_session_new(&ss, scb, &sapp, so, NULL), 0);
  assert_int_equal(smtp_client_callbacks_new(&ccb, NULL), 0);
  smtp_client_callbacks_set_txn_done(ccb, app_txn_done);
  smtp_client_callbacks_set_closed(ccb, app_closed);
  assert_int_equal(smtp_client_options_new(&co, NULL), 0);
  assert_int_equal(smtp_client_options_set_ehlo_name(co, "client.example.test"), 0);
  assert_int_equal(smtp_client_options_set_starttls(co, (flags & SMTP_DRIVER_IMPLICIT_TLS)
                                                            ? SMTP_CLIENT_STARTTLS_OFF
                                                            : SMTP_CLIENT_STARTTLS_REQUIRED), 0);
  assert_int_equal(smtp_client_session_new(&cs, ccb, &capp, co, NULL), 0);
  t = real_txn("bob@example.org");
  assert_int_equal(smtp_client_session_submit(cs, t), 0);
  assert_int_equal(smtp_client_session_quit(cs), 0);

  assert_int_equal(smtp_io_pipe_new(&a, &b, chunk ? 64 : 65536, NULL), 0);
  smtp_io_pipe_set_chunk(&a, chunk);
  smtp_io_pipe_set_chunk(&b, chunk);
  assert_int_equal(smtp_driver_new_server(&ds, ss, &a, srv_cfg, flags, NULL), 0);
  assert_int_equal(smtp_driver_new_client(&dc, cs, &b, cli_cfg, "mx.example.test", flags, NULL), 0);
  run_pair(ds, dc);
  assert_int_equal(smtp_driver_error(ds), 0);
  assert_int_equal(smtp_driver_error(dc), 0);
  assert_int_equal(capp.done, 1);
  assert_int_equal(capp.result.status, SMTP_OK);
  assert_int_equal(capp.result.ndelivered, 1);
  assert_int_equal(capp.closed, 1);
  assert_int_equal(capp.closed_error, 0);
  assert_int_equal(sapp.data_ends, 1);
  assert_int_equal(sapp.body_len, sizeof real_body - 1);
  assert_memory_equal(sapp.body, real_body, sizeof real_body - 1);
  assert_int_equal(smtp_client_session_tls_active(cs), 1);
  assert_int_equal(smtp_driver_tls_info(dc, &info), 0);
  assert_int_equal(info.peer_verified, 1);
  assert_int_equal(smtp_server_session_tls_info(ss, &info), 0);
  assert_non_null(info.protocol);

  smtp_driver_del(ds);
  smtp_driver_del(dc);
  smtp_client_txn_del(t);
  smtp_client_session_del(cs);
  smtp_client_options_del(co);
  smtp_client_callbacks_del(ccb);
  smtp_server_session_del(ss);
  smtp_server_options_del(so);
  smtp_server_callbacks_del(scb);
}

static void test_real_starttls(void **state) {
  (void)state;
  if (!smtp_tls_available()) skip();
  run_real(0, 0);
  run_real(3, 0); /* three bytes per read and write */
}

static int mails_seen;
static int count_mail(smtp_server_session *s, const smtp_server_mail *m, void *ud) {
  (void)s;
  (void)m;
  (void)ud;
  mails_seen++;
  return 0;
}

/* docs/security.md 2 with the real server session: MAIL pipelined behind
 * STARTTLS is never executed, and plaintext after the 220 is not TLS. */
static void test_real_starttls_injection(void **state) {
  (void)state;
  if (!smtp_tls_available()) skip();
  smtp_server_callbacks *scb;
  smtp_server_options *so;
  smtp_server_session *ss;
  smtp_driver *ds;
  smtp_io a, b;
  char buf[2048];
  smtp_ssize n;
  static const char evil[] = "EHLO x.example\r\nSTARTTLS\r\nMAIL FROM:<evil@example.org>\r\n";
  mails_seen = 0;
  assert_int_equal(smtp_server_callbacks_new(&scb, NULL), 0);
  smtp_server_callbacks_set_mail(scb, count_mail);
  assert_int_equal(smtp_server_options_new(&so, NULL), 0);
  assert_int_equal(smtp_server_options_set_hostname(so, "mx.example.test"), 0);
  assert_int_equal(smtp_server_options_set_tls_available(so, 1), 0);
  assert_int_equal(smtp_server_session_new(&ss, scb, NULL, so, NULL), 0);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp_driver_new_server(&ds, ss, &a, srv_cfg, 0, NULL), 0);
  smtp_driver_pump(ds);
  assert_int_equal(smtp__io_send(&b, evil, sizeof evil - 1), (smtp_ssize)(sizeof evil - 1));
  for (int i = 0; i < 10; i++) smtp_driver_on_readable(ds);
  n = smtp__io_recv(&b, buf, sizeof buf - 1);
  assert_true(n > 0);
  buf[n] = 0;
  assert_non_null(strstr(buf, "\r\n220 "));       /* the answer to STARTTLS */
  assert_null(strstr(strstr(buf, "\r\n220 ") + 2, "250")); /* nothing after it */
  smtp__io_send(&b, "MAIL FROM:<evil2@example.org>\r\n", 31);
  for (int i = 0; i < 10 && !smtp_driver_is_done(ds); i++) smtp_driver_on_readable(ds);
  assert_true(smtp_driver_is_done(ds));
  assert_int_equal(smtp_driver_error(ds), SMTP_ERR_TLS_HANDSHAKE);
  assert_int_equal(mails_seen, 0);
  smtp_driver_del(ds);
  smtp__io_close(&b);
  smtp_server_session_del(ss);
  smtp_server_options_del(so);
  smtp_server_callbacks_del(scb);
}

/* ---- the whole-data deadline (RFC 5321 4.5.3.2.5/4.5.3.2.6 shape) ---- */

typedef struct dl_app {
  uint64_t size;
  int ends;
} dl_app;

static int dl_chunk(smtp_server_session *s, const char *p, size_t n, void *ud) {
  (void)s;
  (void)p;
  ((dl_app *)ud)->size += n;
  return 0;
}

static int dl_end(smtp_server_session *s, const smtp_server_data_end *end, void *ud) {
  (void)s;
  (void)end;
  ((dl_app *)ud)->ends++;
  return 0;
}

typedef struct dl_run {
  smtp_server_callbacks *cb;
  smtp_server_options *o;
  smtp_server_session *ss;
  smtp_driver *d;
  smtp_io b;
  dl_app app;
  char out[4096];
  size_t out_len;
} dl_run;

static void dl_drain(dl_run *r) {
  char buf[1024];
  smtp_ssize n;
  while ((n = smtp__io_recv(&r->b, buf, sizeof buf)) > 0) {
    size_t k = (size_t)n;
    if (k > sizeof r->out - 1 - r->out_len) k = sizeof r->out - 1 - r->out_len;
    memcpy(r->out + r->out_len, buf, k);
    r->out_len += k;
    r->out[r->out_len] = 0;
  }
}

/* Send bytes at the current fake time (the pipe holds 64 KiB). */
static void dl_send(dl_run *r, const char *p, size_t n) {
  while (n > 0) {
    smtp_ssize w = smtp__io_send(&r->b, p, n);
    assert_true(w > 0);
    p += w;
    n -= (size_t)w;
    smtp_driver_on_readable(r->d);
    dl_drain(r);
  }
}

static void dl_sends(dl_run *r, const char *p) { dl_send(r, p, strlen(p)); }

/* A session through the real driver on the fake clock, after EHLO, MAIL
 * and RCPT. total_ms 0: the default. */
static void dl_open(dl_run *r, int total_ms) {
  smtp_io a;
  memset(r, 0, sizeof *r);
  assert_int_equal(smtp_server_callbacks_new(&r->cb, NULL), 0);
  smtp_server_callbacks_set_data_chunk(r->cb, dl_chunk);
  smtp_server_callbacks_set_data_end(r->cb, dl_end);
  assert_int_equal(smtp_server_options_new(&r->o, NULL), 0);
  assert_int_equal(smtp_server_options_set_max_message_size(r->o, 0), 0);
  if (total_ms) assert_int_equal(smtp_server_options_set_data_total_timeout(r->o, total_ms), 0);
  assert_int_equal(smtp_server_session_new(&r->ss, r->cb, &r->app, r->o, NULL), 0);
  assert_int_equal(smtp_io_pipe_new(&a, &r->b, 65536, NULL), 0);
  assert_int_equal(smtp_driver_new_server(&r->d, r->ss, &a, NULL, 0, NULL), 0);
  smtp__driver_set_clock(r->d, fake_clock, NULL);
  smtp_driver_pump(r->d);
  dl_drain(r);
  dl_sends(r, "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
  assert_non_null(strstr(r->out, "250 2.1.5"));
}

static void dl_close(dl_run *r) {
  smtp_driver_del(r->d);
  smtp__io_close(&r->b);
  smtp_server_session_del(r->ss);
  smtp_server_options_del(r->o);
  smtp_server_callbacks_del(r->cb);
}

/* Advance the fake clock by ms, firing the timer when the deadline passes. */
static void dl_wait(dl_run *r, int64_t ms) {
  int64_t end = fake_now + ms;
  while (!smtp_driver_is_done(r->d)) {
    int t = smtp_driver_next_timeout_ms(r->d);
    if (t < 0 || fake_now + t > end) break;
    fake_now += t;
    smtp_driver_on_timer(r->d);
    dl_drain(r);
  }
  fake_now = end;
}

/* One octet every 2 s inside DATA: each block re-arms the 3-minute block
 * deadline, but the whole DATA ends 10 minutes after its 354. Returns the
 * simulated time the session was kept after the 354. */
static int64_t drip_data(int total_ms, int step_ms) {
  dl_run r;
  int64_t t0;
  dl_open(&r, total_ms);
  fake_now = 1000;
  dl_sends(&r, "DATA\r\n");
  assert_non_null(strstr(r.out, "354 "));
  t0 = fake_now;
  for (int i = 0; i < 100000 && !smtp_driver_is_done(r.d); i++) {
    dl_wait(&r, step_ms);
    if (smtp_driver_is_done(r.d) || strstr(r.out, "421 ")) break;
    dl_sends(&r, "x");
  }
  assert_non_null(strstr(r.out, "421 4.4.2 localhost Timeout"));
  assert_int_equal(r.app.ends, 0); /* the message was never accepted */
  dl_wait(&r, SMTP_DRIVER_LINGER_MS);
  assert_true(smtp_driver_is_done(r.d));
  assert_int_equal(smtp_driver_error(r.d), SMTP_ERR_TIMEOUT);
  dl_close(&r);
  return t0;
}

static void test_data_total_deadline_drip(void **state) {
  (void)state;
  /* default: 600 s from the 354, whatever the drip rate below 180 s */
  int64_t t0 = drip_data(0, 2000);
  assert_true(fake_now - SMTP_DRIVER_LINGER_MS - t0 >= 600000);
  assert_true(fake_now - SMTP_DRIVER_LINGER_MS - t0 <= 600000 + 2000);
  t0 = drip_data(0, 170000);
  assert_true(fake_now - SMTP_DRIVER_LINGER_MS - t0 <= 600000 + 170000);
  /* the example server's --timeout 5 sets 5 s */
  t0 = drip_data(5000, 2000);
  assert_true(fake_now - SMTP_DRIVER_LINGER_MS - t0 <= 6000);
  /* silence longer than the block deadline still ends it at 180 s */
  t0 = drip_data(0, 200000);
  assert_true(fake_now - SMTP_DRIVER_LINGER_MS - t0 <= 200000);
}

/* The session's side of the rule: in DATA each block changes the
 * per-block deadline's counter but not the whole-data one; each BDAT chunk
 * starts a new whole-data bound; outside message data there is none. */
static void test_total_seq_rules(void **state) {
  (void)state;
  dl_run r;
  unsigned int t0, s0;
  dl_open(&r, 0);
  assert_int_equal(smtp_server_session_total_timeout_ms(r.ss), -1);
  dl_sends(&r, "DATA\r\n");
  t0 = smtp_server_session_total_seq(r.ss);
  assert_int_equal(smtp_server_session_total_timeout_ms(r.ss), 600000);
  for (int i = 0; i < 5; i++) {
    s0 = smtp_server_session_deadline_seq(r.ss);
    dl_sends(&r, "line\r\n");
    assert_int_not_equal(smtp_server_session_deadline_seq(r.ss), s0); /* per block */
    assert_int_equal(smtp_server_session_total_seq(r.ss), t0);        /* not renewed */
  }
  dl_sends(&r, ".\r\n");
  assert_int_equal(smtp_server_session_total_timeout_ms(r.ss), -1);
  dl_sends(&r, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 10\r\nabc");
  t0 = smtp_server_session_total_seq(r.ss);
  assert_int_equal(smtp_server_session_total_timeout_ms(r.ss), 600000);
  dl_sends(&r, "defghij");
  assert_int_equal(smtp_server_session_total_timeout_ms(r.ss), -1);
  dl_sends(&r, "BDAT 3 LAST\r\nx");
  assert_int_not_equal(smtp_server_session_total_seq(r.ss), t0); /* a new chunk, a new bound */
  dl_sends(&r, "yz");
  assert_int_equal(r.app.ends, 2);
  assert_int_equal(smtp_server_session_total_timeout_ms(NULL), -1);
  assert_int_equal(smtp_server_session_total_seq(NULL), 0);
  /* the option's range, as the other deadlines: 1 ms .. one day */
  assert_int_equal(smtp_server_options_set_data_total_timeout(r.o, 0), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_data_total_timeout(r.o, 86400001), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_server_options_set_data_total_timeout(r.o, 86400000), SMTP_OK);
  assert_int_equal(smtp_server_options_set_data_total_timeout(NULL, 1000), SMTP_ERR_INVALID_ARGUMENT);
  dl_close(&r);
}

/* An honest slow client: 50 MB at 100 kB/s (500 s) fits in the default. */
static void test_data_total_deadline_honest(void **state) {
  (void)state;
  static char block[10000];
  dl_run r;
  memset(block, 'a', sizeof block);
  for (size_t i = 99; i < sizeof block; i += 100) {
    block[i - 1] = '\r';
    block[i] = '\n';
  }
  dl_open(&r, 0);
  fake_now = 1000;
  dl_sends(&r, "DATA\r\n");
  for (int i = 0; i < 5000; i++) { /* 10 kB every 100 ms */
    dl_wait(&r, 100);
    assert_false(smtp_driver_is_done(r.d));
    dl_send(&r, block, sizeof block);
  }
  dl_sends(&r, ".\r\n");
  assert_int_equal(r.app.ends, 1);
  assert_int_equal(r.app.size, 50000000u);
  assert_non_null(strstr(r.out, "250 2.0.0"));
  assert_null(strstr(r.out, "421"));
  /* back to the command deadline: no whole-data bound any more */
  assert_int_equal(smtp_server_session_total_timeout_ms(r.ss), -1);
  assert_int_equal(smtp_driver_next_timeout_ms(r.d), 300000);
  dl_close(&r);
}

/* BDAT: each chunk is bounded from its command line; pipelined chunks
 * that keep arriving each get their own bound (RFC 3030 2). */
static void test_bdat_chunk_deadline(void **state) {
  (void)state;
  dl_run r;
  int64_t t0;
  dl_open(&r, 0);
  fake_now = 1000;
  dl_sends(&r, "BDAT 4\r\nabcd");
  assert_non_null(strstr(r.out, "250 2.0.0 4 octets"));
  assert_int_equal(smtp_server_session_total_timeout_ms(r.ss), -1);
  dl_sends(&r, "BDAT 100000 LAST\r\n");
  t0 = fake_now;
  assert_int_equal(smtp_server_session_total_timeout_ms(r.ss), 600000);
  for (int i = 0; i < 1000 && !strstr(r.out, "421 "); i++) {
    dl_wait(&r, 2000);
    if (strstr(r.out, "421 ")) break;
    dl_sends(&r, "y");
  }
  assert_non_null(strstr(r.out, "421 4.4.2"));
  assert_true(fake_now - t0 >= 600000 && fake_now - t0 <= 602000);
  assert_int_equal(r.app.ends, 0);
  dl_close(&r);
}

static void test_real_implicit_tls(void **state) {
  (void)state;
  if (!smtp_tls_available()) skip();
  run_real(0, SMTP_DRIVER_IMPLICIT_TLS);
}



/* XCLIENT from the real client session to the real server session
 * (Postfix's XCLIENT_README): sent once when offered, EHLO again with the
 * announced HELO name, the transaction goes on; refused (550 5.7.0) when
 * the server does not trust the client, and the session goes on as itself. */
static void run_xclient(int trusted, size_t chunk, int forward) {
  smtp_server_callbacks *scb;
  smtp_server_options *so;
  smtp_server_session *ss;
  smtp_client_callbacks *ccb;
  smtp_client_options *co;
  smtp_client_session *cs;
  smtp_client_txn *t, *t2;
  smtp_driver *ds, *dc;
  smtp_io a, b;
  srv_app sapp;
  cli_app capp;
  smtp_xattrs x;
  smtp_endpoint e;
  char scratch[256], txt[SMTP_ENDPOINT_TEXT_MAX];
  const char *h;
  size_t hl;
  static const char attrs[] = "NAME=orig.example ADDR=192.0.2.44 PORT=5555 HELO=orig.example";
  static const char fattrs[] = "NAME=orig.example ADDR=IPV6:2001:db8::77 HELO=fwd.example SOURCE=REMOTE";
  unsigned int verb = forward ? SMTP_XFORWARD : SMTP_XCLIENT;
  memset(&sapp, 0, sizeof sapp);
  memset(&capp, 0, sizeof capp);
  assert_int_equal(smtp_server_callbacks_new(&scb, NULL), 0);
  smtp_server_callbacks_set_data_chunk(scb, app_chunk);
  smtp_server_callbacks_set_data_end(scb, app_end);
  assert_int_equal(smtp_server_options_new(&so, NULL), 0);
  assert_int_equal(smtp_server_options_set_hostname(so, "mx.example.test"), 0);
  assert_int_equal(smtp_server_options_set_xclient(so, verb), 0);
  assert_int_equal(smtp_server_session_new(&ss, scb, &sapp, so, NULL), 0);
  if (trusted) assert_int_equal(smtp_server_session_allow_xclient(ss, verb), 0);
  assert_int_equal(smtp_client_callbacks_new(&ccb, NULL), 0);
  smtp_client_callbacks_set_txn_done(ccb, app_txn_done);
  smtp_client_callbacks_set_closed(ccb, app_closed);
  assert_int_equal(smtp_client_options_new(&co, NULL), 0);
  assert_int_equal(smtp_client_options_set_ehlo_name(co, "client.example.test"), 0);
  if (forward) {
    assert_int_equal(smtp_xattrs_parse(SMTP_XFORWARD, fattrs, sizeof fattrs - 1, &x, scratch, sizeof scratch), 0);
    assert_int_equal(smtp_client_options_set_xforward(co, &x), 0);
  } else {
    assert_int_equal(smtp_xattrs_parse(SMTP_XCLIENT, attrs, sizeof attrs - 1, &x, scratch, sizeof scratch), 0);
    assert_int_equal(smtp_client_options_set_xclient(co, &x), 0);
  }
  assert_int_equal(smtp_client_session_new(&cs, ccb, &capp, co, NULL), 0);
  t = real_txn("bob@example.org");
  assert_int_equal(smtp_client_session_submit(cs, t), 0);
  /* XFORWARD: a second transaction, which gets its own XFORWARD */
  t2 = real_txn("carol@example.org");
  if (forward) {
    capp.next = t2; /* submitted when the first is done */
    capp.quit_at_end = 1;
  } else {
    assert_int_equal(smtp_client_session_quit(cs), 0);
  }
  assert_int_equal(smtp_io_pipe_new(&a, &b, chunk ? 64 : 65536, NULL), 0);
  smtp_io_pipe_set_chunk(&a, chunk);
  smtp_io_pipe_set_chunk(&b, chunk);
  assert_int_equal(smtp_driver_new_server(&ds, ss, &a, NULL, 0, NULL), 0);
  assert_int_equal(smtp_driver_new_client(&dc, cs, &b, NULL, NULL, 0, NULL), 0);
  run_pair(ds, dc);
  assert_int_equal(smtp_driver_error(ds), 0);
  assert_int_equal(smtp_driver_error(dc), 0);
  assert_int_equal(capp.result.ndelivered, 1);
  assert_int_equal(sapp.data_ends, forward ? 2 : 1);
  assert_int_equal(sapp.xforward_ends, trusted && forward ? 2 : 0);
  assert_int_equal(smtp_server_session_addr(ss, SMTP_ADDR_CLIENT, &e), 0);
  h = smtp_server_session_helo_name(ss, &hl);
  assert_non_null(h);
  if (trusted && forward) {
    /* during the transaction: XFORWARD's client and HELO name */
    smtp_endpoint_format(&sapp.client, txt, sizeof txt);
    assert_string_equal(txt, "2001:db8::77");
    assert_int_equal(sapp.client.origin, SMTP_ORIGIN_XFORWARD);
    assert_int_equal(sapp.helo_len, 11);
    assert_memory_equal(sapp.helo, "fwd.example", 11);
    /* after it (XFORWARD_README: per transaction): the session's own */
    assert_int_equal(e.family, SMTP_AF_NONE);
    assert_int_equal(hl, 19);
    assert_memory_equal(h, "client.example.test", 19);
  } else if (trusted) {
    smtp_endpoint_format(&e, txt, sizeof txt);
    assert_string_equal(txt, "192.0.2.44");
    assert_int_equal(e.port, 5555);
    assert_int_equal(e.origin, SMTP_ORIGIN_XCLIENT);
    assert_int_equal(hl, 12);
    assert_memory_equal(h, "orig.example", 12); /* the EHLO after XCLIENT */
  } else {
    assert_int_equal(e.family, SMTP_AF_NONE);
    assert_int_equal(hl, 19);
    assert_memory_equal(h, "client.example.test", 19);
  }
  smtp_driver_del(ds);
  smtp_driver_del(dc);
  smtp_client_txn_del(t);
  smtp_client_session_del(cs);
  smtp_client_txn_del(t2);
  smtp_client_options_del(co);
  smtp_client_callbacks_del(ccb);
  smtp_server_session_del(ss);
  smtp_server_options_del(so);
  smtp_server_callbacks_del(scb);
}

static void test_real_xclient(void **state) {
  (void)state;
  run_xclient(1, 0, 0);
  run_xclient(1, 3, 0);
  run_xclient(0, 0, 0);
  run_xclient(1, 0, 1); /* XFORWARD */
  run_xclient(1, 2, 1);
  run_xclient(0, 0, 1);
}

/* ------------------------------------------------------------------ */
/* The PROXY filter (HAProxy's PROXY protocol, versions 1 and 2).      */

static int f_set_addr(void *s, unsigned int which, const smtp_endpoint *ep) {
  return smtp__ep_set(((fake *)s)->addrs, 3, which, ep);
}
static int f_get_addr(const void *s, unsigned int which, smtp_endpoint *out) {
  return smtp__ep_get(((const fake *)s)->addrs, 3, which, out);
}
static const smtp__driver_ops server_ops_a = {SMTP_TLS_SERVER, f_recv, f_send, f_consume, f_want_read,
                                              f_want_tls, f_tls_started, NULL, f_timeout_ms, f_seq,
                                              f_timeout, NULL, f_is_done, NULL, NULL, NULL, f_set_addr,
                                              f_get_addr, NULL};
static const smtp__driver_ops client_ops_a = {SMTP_TLS_CLIENT, f_recv, f_send, f_consume, f_want_read,
                                              f_want_tls, f_tls_started, f_tls_failed, f_timeout_ms,
                                              NULL, f_timeout, f_lost, f_is_done, f_error, NULL, NULL,
                                              f_set_addr, f_get_addr, NULL};

static void ep(smtp_endpoint *e, const char *a, unsigned int port, unsigned int origin) {
  assert_int_equal(smtp_endpoint_parse(e, a, strlen(a), port), 0);
  e->origin = origin;
}

static void assert_ep(const fake *f, unsigned int which, const char *text, unsigned int port,
                      unsigned int origin) {
  smtp_endpoint e;
  char b[SMTP_ENDPOINT_TEXT_MAX];
  assert_int_equal(smtp__ep_get(f->addrs, 3, which, &e), 0);
  assert_true(smtp_endpoint_format(&e, b, sizeof b) > 0);
  assert_string_equal(b, text);
  assert_int_equal(e.port, port);
  assert_int_equal(e.origin, origin);
}

/* A client announcing 192.0.2.1:56324 -> 198.51.100.2:25 through a proxy
 * at 127.0.0.1; both versions, implicit TLS or not, pipes moving 1..3
 * octets at a time (the header arrives in many reads). */
static void test_proxy_end_to_end(void **state) {
  smtp_cidr_list *trusted;
  (void)state;
  assert_int_equal(smtp_cidr_list_new(&trusted, NULL), 0);
  assert_int_equal(smtp_cidr_list_add(trusted, "127.0.0.0/8"), 0);
  /* version 3 here: 2 with a PP2_TYPE_CRC32C record */
  for (unsigned int vv = 1; vv <= 3; vv++) {
    unsigned int version = vv == 3 ? 2 : vv, hv = vv == 3 ? 2 | SMTP_DRIVER_PROXY_CRC32C : vv;
    for (int tls = 0; tls <= (smtp_tls_available() ? 1 : 0); tls++) {
      for (size_t chunk = 0; chunk <= 3; chunk++) {
        fake sv, cl;
        smtp_io a, b;
        smtp_driver *ds, *dc;
        smtp_endpoint src, dst, t;
        unsigned int fl = SMTP_DRIVER_PROXY | (tls ? SMTP_DRIVER_IMPLICIT_TLS : 0);
        char names[64];
        fake_init(&sv, SMTP_TLS_SERVER, NULL);
        fake_init(&cl, SMTP_TLS_CLIENT, plain_script);
        sv.implicit = cl.implicit = tls;
        ep(&t, "127.0.0.1", 40000, SMTP_ORIGIN_TRANSPORT);
        smtp__ep_set(sv.addrs, 3, SMTP_ADDR_CLIENT, &t);
        ep(&src, "192.0.2.1", 56324, SMTP_ORIGIN_APPLICATION);
        ep(&dst, "198.51.100.2", 25, SMTP_ORIGIN_APPLICATION);
        assert_int_equal(smtp_io_pipe_new(&a, &b, chunk ? 64 : 65536, NULL), 0);
        smtp_io_pipe_set_chunk(&a, chunk);
        smtp_io_pipe_set_chunk(&b, chunk);
        assert_int_equal(smtp__driver_new(&ds, &server_ops_a, &sv, &a, tls ? srv_cfg : NULL, NULL, fl, NULL), 0);
        assert_int_equal(smtp__driver_new(&dc, &client_ops_a, &cl, &b, tls ? cli_cfg : NULL,
                                          "mx.example.test", fl, NULL), 0);
        assert_int_equal(smtp_driver_set_proxy_trusted(ds, trusted), 0);
        assert_int_equal(smtp_driver_set_proxy_trusted(dc, trusted), SMTP_ERR_INVALID_STATE);
        assert_int_equal(smtp_driver_set_proxy_header(dc, hv, &src, &dst), 0);
        assert_int_equal(smtp_driver_set_proxy_header(ds, hv, &src, &dst), SMTP_ERR_INVALID_STATE);
        assert_true(smtp_driver_filters(ds, names, sizeof names) > 0);
        assert_string_equal(names, tls ? "tls proxy-reader transport" : "proxy-reader transport");
        assert_true(smtp_driver_filters(dc, names, sizeof names) > 0);
        assert_string_equal(names, tls ? "tls proxy-writer transport" : "proxy-writer transport");
        /* the server writes nothing, not even the greeting, before the header */
        smtp_driver_on_readable(ds);
        assert_int_equal(sv.greeted, 0);
        assert_int_equal(smtp_io_pipe_pending(&b), 0);
        assert_null(smtp_driver_proxy_reader(ds));
        run_pair(ds, dc);
        check_plain(&sv, &cl);
        assert_int_equal(smtp_driver_error(ds), 0);
        assert_int_equal(smtp_driver_error(dc), 0);
        assert_int_equal(sv.tls_up, tls);
        assert_ep(&sv, SMTP_ADDR_CLIENT, "192.0.2.1", 56324, SMTP_ORIGIN_PROXY);
        assert_ep(&sv, SMTP_ADDR_SERVER, "198.51.100.2", 25, SMTP_ORIGIN_PROXY);
        assert_ep(&sv, SMTP_ADDR_PEER, "127.0.0.1", 40000, SMTP_ORIGIN_TRANSPORT);
        {
          const smtp_proxy_reader *r = smtp_driver_proxy_reader(ds);
          smtp_proxy_info info;
          assert_non_null(r);
          const uint8_t *cv;
          size_t cl4;
          assert_int_equal(smtp_proxy_reader_info(r, &info), 0);
          assert_int_equal(info.version, version);
          assert_int_equal(smtp_proxy_reader_tlv(r, SMTP_PP2_TYPE_CRC32C, &cv, &cl4),
                           vv == 3 ? SMTP_OK : SMTP_ERR_NOT_FOUND);
        }
        smtp_driver_del(ds);
        smtp_driver_del(dc);
      }
    }
  }
  smtp_cidr_list_del(trusted);
}

/* Server side given raw bytes: what must end the connection without a
 * greeting, and the next layer's bytes arriving in the same read as the
 * header. */
static int proxy_server_raw(const char *bytes, size_t len, const char *peer, smtp_cidr_list *trusted,
                            fake *sv, size_t *written) {
  smtp_io a, b;
  smtp_driver *ds;
  smtp_endpoint t;
  int err;
  fake_init(sv, SMTP_TLS_SERVER, NULL);
  ep(&t, peer, 40000, SMTP_ORIGIN_TRANSPORT);
  smtp__ep_set(sv->addrs, 3, SMTP_ADDR_CLIENT, &t);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
  assert_int_equal(smtp__driver_new(&ds, &server_ops_a, sv, &a, NULL, NULL, SMTP_DRIVER_PROXY, NULL), 0);
  if (trusted) assert_int_equal(smtp_driver_set_proxy_trusted(ds, trusted), 0);
  if (len) assert_int_equal(b.send(bytes, len, b.user_data), (smtp_ssize)len);
  /* the client is done sending; unless it ends with QUIT, it closes */
  if (len < 6 || memcmp(bytes + len - 6, "QUIT\r\n", 6) != 0) {
    assert_int_equal(b.close(b.user_data), 0);
    b.close = NULL;
  }
  for (int i = 0; i < 100 && !smtp_driver_is_done(ds); i++) smtp_driver_on_readable(ds);
  assert_true(smtp_driver_is_done(ds));
  err = smtp_driver_error(ds);
  *written = (size_t)sv->greeted;
  if (!sv->greeted && b.close) assert_int_equal(smtp_io_pipe_pending(&b), 0);
  smtp_driver_del(ds);
  if (b.close) b.close(b.user_data);
  return err;
}

static void test_proxy_refusals(void **state) {
  smtp_cidr_list *trusted;
  fake sv;
  size_t greeted;
  static const char v1[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n";
  static const char both[] = "PROXY TCP6 2001:db8::1 2001:db8::2 1 25\r\nEHLO client.example\r\nQUIT\r\n";
  (void)state;
  assert_int_equal(smtp_cidr_list_new(&trusted, NULL), 0);
  assert_int_equal(smtp_cidr_list_add(trusted, "127.0.0.1"), 0);
  assert_int_equal(smtp_cidr_list_add(trusted, "::1"), 0);
  /* no header where one is required */
  assert_int_equal(proxy_server_raw(S("EHLO client.example\r\n"), "127.0.0.1", trusted, &sv, &greeted),
                   SMTP_ERR_PROXY_HEADER);
  assert_int_equal(greeted, 0);
  assert_string_equal(sv.log, "");
  /* an untrusted source, even with a good header */
  assert_int_equal(proxy_server_raw(S(v1), "203.0.113.9", trusted, &sv, &greeted), SMTP_ERR_UNTRUSTED);
  assert_int_equal(greeted, 0);
  /* no list: nobody is trusted */
  assert_int_equal(proxy_server_raw(S(v1), "127.0.0.1", NULL, &sv, &greeted), SMTP_ERR_UNTRUSTED);
  /* malformed, oversized */
  assert_int_equal(proxy_server_raw(S("PROXY TCP4 192.0.2.256 1.2.3.4 1 2\r\n"), "127.0.0.1", trusted, &sv,
                                    &greeted), SMTP_ERR_PROXY_HEADER);
  assert_int_equal(greeted, 0);
  {
    char longline[200];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "PROXY UNKNOWN ", 14);
    assert_int_equal(proxy_server_raw(longline, sizeof longline, "127.0.0.1", trusted, &sv, &greeted),
                     SMTP_ERR_PROXY_HEADER);
    assert_int_equal(greeted, 0);
  }
  /* the connection ends inside the header */
  assert_int_equal(proxy_server_raw(v1, 20, "127.0.0.1", trusted, &sv, &greeted), SMTP_ERR_CONNECTION_LOST);
  assert_int_equal(greeted, 0);
  /* header and commands in one read: the commands reach the session */
  assert_int_equal(proxy_server_raw(S(both), "::1", trusted, &sv, &greeted), 0);
  assert_int_equal(greeted, 1);
  assert_string_equal(sv.log, "EHLO client.example\nQUIT\n");
  assert_ep(&sv, SMTP_ADDR_CLIENT, "2001:db8::1", 1, SMTP_ORIGIN_PROXY);
  assert_ep(&sv, SMTP_ADDR_PEER, "::1", 40000, SMTP_ORIGIN_TRANSPORT);
  /* LOCAL (a health check): the transport's addresses stay */
  assert_int_equal(proxy_server_raw(S("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00" "QUIT\r\n"), "127.0.0.1", trusted,
                                    &sv, &greeted), 0);
  assert_int_equal(greeted, 1);
  assert_ep(&sv, SMTP_ADDR_CLIENT, "127.0.0.1", 40000, SMTP_ORIGIN_TRANSPORT);
  smtp_cidr_list_del(trusted);
}


/* A PROXY header must come at once: 30 s without it (or with half of it)
 * end the connection without a greeting. */
static void test_proxy_header_deadline(void **state) {
  smtp_cidr_list *trusted;
  (void)state;
  assert_int_equal(smtp_cidr_list_new(&trusted, NULL), 0);
  assert_int_equal(smtp_cidr_list_add(trusted, "127.0.0.1"), 0);
  for (int half = 0; half <= 1; half++) {
    fake sv;
    smtp_io a, b;
    smtp_driver *ds;
    smtp_endpoint t;
    fake_init(&sv, SMTP_TLS_SERVER, NULL);
    ep(&t, "127.0.0.1", 40000, SMTP_ORIGIN_TRANSPORT);
    smtp__ep_set(sv.addrs, 3, SMTP_ADDR_CLIENT, &t);
    fake_now = 5000000;
    assert_int_equal(smtp_io_pipe_new(&a, &b, 65536, NULL), 0);
    assert_int_equal(smtp__driver_new(&ds, &server_ops_a, &sv, &a, NULL, NULL, SMTP_DRIVER_PROXY, NULL), 0);
    smtp__driver_set_clock(ds, fake_clock, NULL);
    assert_int_equal(smtp_driver_set_proxy_trusted(ds, trusted), 0);
    if (half) assert_int_equal(b.send("PROXY TCP4 192.0.2.1", 20, b.user_data), 20);
    smtp_driver_on_readable(ds);
    assert_int_equal(smtp_driver_next_timeout_ms(ds), SMTP_DRIVER_PROXY_TIMEOUT_MS);
    fake_now += SMTP_DRIVER_PROXY_TIMEOUT_MS - 1;
    smtp_driver_on_timer(ds);
    assert_false(smtp_driver_is_done(ds));
    fake_now += 1;
    smtp_driver_on_timer(ds);
    assert_true(smtp_driver_is_done(ds));
    assert_int_equal(smtp_driver_error(ds), SMTP_ERR_TIMEOUT);
    assert_int_equal(sv.greeted, 0);
    assert_int_equal(smtp_io_pipe_pending(&b), 0);
    smtp_driver_del(ds);
    b.close(b.user_data);
  }
  smtp_cidr_list_del(trusted);
}

/* A client driver with the filter but no header refuses to start. */
static void test_proxy_writer_needs_header(void **state) {
  fake cl;
  smtp_io a, b;
  smtp_driver *dc;
  (void)state;
  fake_init(&cl, SMTP_TLS_CLIENT, plain_script);
  assert_int_equal(smtp_io_pipe_new(&a, &b, 4096, NULL), 0);
  assert_int_equal(smtp__driver_new(&dc, &client_ops_a, &cl, &b, NULL, NULL, SMTP_DRIVER_PROXY, NULL), 0);
  assert_int_equal(smtp_driver_set_proxy_header(dc, 3, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_driver_set_proxy_header(dc, 1 | SMTP_DRIVER_PROXY_CRC32C, NULL, NULL),
                   SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_driver_pump(dc), SMTP_ERR_CLOSED);
  assert_int_equal(smtp_driver_error(dc), SMTP_ERR_INVALID_STATE);
  smtp_driver_del(dc);
  a.close(a.user_data);
}

/* A real socket: the driver records the socket's addresses in the session. */
static void test_addresses_from_socket(void **state) {
  int sv_fd[2];
  smtp_io io;
  smtp_driver *d;
  fake sv;
  smtp_endpoint e;
  (void)state;
  fake_init(&sv, SMTP_TLS_SERVER, NULL);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv_fd), 0);
  assert_int_equal(smtp_io_posix_new(&io, sv_fd[0], sv_fd[0], SMTP_IO_POSIX_OWN_FD, NULL), 0);
  assert_int_equal(smtp__driver_new(&d, &server_ops_a, &sv, &io, NULL, NULL, 0, NULL), 0);
  assert_int_equal(smtp__ep_get(sv.addrs, 3, SMTP_ADDR_CLIENT, &e), 0);
  assert_int_equal(e.family, SMTP_AF_UNIX);
  assert_int_equal(e.origin, SMTP_ORIGIN_TRANSPORT);
  smtp_driver_del(d);
  close(sv_fd[1]);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_starttls),
      cmocka_unit_test(test_implicit_tls),
      cmocka_unit_test(test_server_drops_pipelined_after_starttls),
      cmocka_unit_test(test_client_refuses_injected_after_220),
      cmocka_unit_test(test_client_verify_failure),
      cmocka_unit_test(test_starttls_without_config),
      cmocka_unit_test(test_timeout_slow_drip),
      cmocka_unit_test(test_timeout_linger_and_handshake),
      cmocka_unit_test(test_eof),
      cmocka_unit_test(test_tls_close_mid_session),
      cmocka_unit_test(test_deferred),
      cmocka_unit_test(test_run_blocking),
      cmocka_unit_test(test_args),
      cmocka_unit_test(test_alloc_fail),
      cmocka_unit_test(test_real_starttls),
      cmocka_unit_test(test_real_implicit_tls),
      cmocka_unit_test(test_real_starttls_injection),
      cmocka_unit_test(test_real_xclient),
      cmocka_unit_test(test_proxy_end_to_end),
      cmocka_unit_test(test_proxy_refusals),
      cmocka_unit_test(test_proxy_writer_needs_header),
      cmocka_unit_test(test_proxy_header_deadline),
      cmocka_unit_test(test_addresses_from_socket),
      cmocka_unit_test(test_total_seq_rules),
      cmocka_unit_test(test_data_total_deadline_drip),
      cmocka_unit_test(test_data_total_deadline_honest),
      cmocka_unit_test(test_bdat_chunk_deadline),
  };
  return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
