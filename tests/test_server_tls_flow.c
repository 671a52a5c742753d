/* How the server driver moves replies, in plaintext and under TLS with
 * every backend of the build, counted at the transport:
 *  - the replies to a group of pipelined commands that arrived in one read
 *    leave in one transport write (RFC 2920 3.1 lets a server batch its
 *    replies to a group; under TLS, one record): MAIL/RCPT.../DATA, and the
 *    end of a message's data followed by the next MAIL/RCPT/DATA;
 *  - a reply is never held back once the driver waits for input: a client
 *    that sends one command at a time and waits (no PIPELINING, RFC 5321
 *    4.1.1) always finds its reply there, so nothing deadlocks;
 *  - under TLS, a client's memory body, which the client session hands out
 *    in place one span per line-start dot, leaves in full records, one
 *    transport write each, not one per span;
 * and the TLS connection's reads on their own (tls.h): nothing to read
 * without input, a record fed in pieces, two records in one feed, a read
 * buffer smaller than a record, and the end of the stream after the
 * connection last said it needed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/client.h>
#include <smtp/driver.h>
#include <smtp/io.h>
#include <smtp/server.h>
#include <smtp/tls.h>

#define WB SMTP_ERR_WOULDBLOCK

/* ------------------------------------------------------------------ */
/* A transport that counts the server's writes.                        */

typedef struct counted {
  smtp_io inner;
  int sends;
} counted;

static smtp_ssize c_send(const char *data, size_t len, void *ud) {
  counted *c = ud;
  smtp_ssize w = c->inner.send(data, len, c->inner.user_data);
  if (w > 0) c->sends++;
  return w;
}

static smtp_ssize c_recv(char *buf, size_t len, void *ud) {
  counted *c = ud;
  return c->inner.recv(buf, len, c->inner.user_data);
}

static int c_close(void *ud) {
  counted *c = ud;
  return c->inner.close ? c->inner.close(c->inner.user_data) : 0;
}

/* ------------------------------------------------------------------ */
/* The test's side of the pipe: plaintext, or a TLS client on it.       */

typedef struct peer {
  smtp_io io;          /* the client's end of the pipe */
  smtp_tls_conn *tls;  /* after STARTTLS */
  char in[16384];      /* replies received, not yet checked */
  size_t in_len;
  int closing; /* QUIT sent */
} peer;

typedef struct rig {
  counted cnt;
  smtp_io wrapped;
  smtp_server_callbacks *cb;
  smtp_server_options *opt;
  smtp_server_session *s;
  smtp_driver *d;
  peer p;
  int messages;
} rig;

static int on_end(smtp_server_session *s, const smtp_server_data_end *end, void *ud) {
  rig *r = ud;
  (void)s;
  assert_int_equal(end->refused, 0);
  r->messages++;
  return 0;
}

static void flush_tls(peer *p) {
  const char *o;
  smtp_ssize n;
  while ((n = smtp_tls_pending_output(p->tls, &o)) > 0) {
    assert_int_equal(p->io.send(o, (size_t)n, p->io.user_data), n);
    assert_int_equal(smtp_tls_consume_output(p->tls, (size_t)n), 0);
  }
}

/* The client writes @p text in one transport write (under TLS: one record). */
static void peer_write(peer *p, const char *text) {
  size_t n = strlen(text);
  if (!p->tls) {
    assert_int_equal(p->io.send(text, n, p->io.user_data), (smtp_ssize)n);
    return;
  }
  assert_int_equal(smtp_tls_write(p->tls, text, n), (smtp_ssize)n);
  flush_tls(p);
}

/* Everything the server sent so far, decrypted, appended to p->in. */
static void peer_read(peer *p) {
  char buf[16384];
  smtp_ssize n;
  while ((n = p->io.recv(buf, sizeof buf, p->io.user_data)) > 0) {
    if (!p->tls) {
      assert_true(p->in_len + (size_t)n <= sizeof p->in);
      memcpy(p->in + p->in_len, buf, (size_t)n);
      p->in_len += (size_t)n;
      continue;
    }
    assert_int_equal(smtp_tls_feed(p->tls, buf, (size_t)n), n);
  }
  assert_int_equal(n, WB);
  if (p->tls) {
    while ((n = smtp_tls_read(p->tls, p->in + p->in_len, sizeof p->in - p->in_len)) > 0)
      p->in_len += (size_t)n;
    /* after QUIT the server's close_notify follows its 221 */
    if (n != SMTP_ERR_TLS_CLOSED || !p->closing) assert_int_equal(n, WB);
  }
}

/* The reply codes received since the last call, e.g. "250 250 354". */
static void expect_replies(peer *p, const char *codes) {
  char got[256];
  size_t g = 0, i = 0;
  peer_read(p);
  while (i < p->in_len) {
    const char *eol = memchr(p->in + i, '\n', p->in_len - i);
    assert_non_null(eol);
    assert_true(eol - (p->in + i) >= 4);
    if (p->in[i + 3] == ' ') { /* the last line of a reply */
      assert_true(g + 4 < sizeof got);
      if (g) got[g++] = ' ';
      memcpy(got + g, p->in + i, 3);
      g += 3;
    }
    i = (size_t)(eol - p->in) + 1;
  }
  got[g] = 0;
  assert_string_equal(got, codes);
  p->in_len = 0;
}

/* The server reads what the client wrote; returns its transport writes. */
static int server_turn(rig *r) {
  int before = r->cnt.sends;
  assert_int_equal(smtp_driver_on_readable(r->d), 0);
  /* it waits for input now: nothing of its own may be left unsent */
  assert_true(smtp_driver_poll_events(r->d) & SMTP_DRIVER_POLLIN);
  assert_false(smtp_driver_poll_events(r->d) & SMTP_DRIVER_POLLOUT);
  return r->cnt.sends - before;
}

static void rig_open(rig *r, const smtp_tls_config *srv) {
  smtp_io a;
  memset(r, 0, sizeof *r);
  assert_int_equal(smtp_server_callbacks_new(&r->cb, NULL), 0);
  smtp_server_callbacks_set_data_end(r->cb, on_end);
  assert_int_equal(smtp_server_options_new(&r->opt, NULL), 0);
  assert_int_equal(smtp_server_options_set_hostname(r->opt, "mx.example.test"), 0);
  if (srv) assert_int_equal(smtp_server_options_set_tls_available(r->opt, 1), 0);
  assert_int_equal(smtp_server_session_new(&r->s, r->cb, r, r->opt, NULL), 0);
  assert_int_equal(smtp_io_pipe_new(&a, &r->p.io, 1 << 20, NULL), 0);
  r->cnt.inner = a;
  r->wrapped.version = SMTP_IO_VERSION;
  r->wrapped.user_data = &r->cnt;
  r->wrapped.send = c_send;
  r->wrapped.recv = c_recv;
  r->wrapped.close = c_close;
  assert_int_equal(smtp_driver_new_server(&r->d, r->s, &r->wrapped, srv, 0, NULL), 0);
  assert_int_equal(smtp_driver_pump(r->d), 0);
  assert_int_equal(r->cnt.sends, 1);
  expect_replies(&r->p, "220");
}

static void rig_close(rig *r) {
  peer_write(&r->p, "QUIT\r\n");
  r->p.closing = 1;
  for (int i = 0; i < 10 && !smtp_driver_is_done(r->d); i++) smtp_driver_on_readable(r->d);
  assert_true(smtp_driver_is_done(r->d));
  assert_int_equal(smtp_driver_error(r->d), 0);
  expect_replies(&r->p, "221");
  smtp_driver_del(r->d);
  smtp_tls_conn_del(r->p.tls);
  r->p.io.close(r->p.io.user_data);
  smtp_server_session_del(r->s);
  smtp_server_options_del(r->opt);
  smtp_server_callbacks_del(r->cb);
}

/* STARTTLS, then the handshake driven from the client's side. */
static void rig_starttls(rig *r, const smtp_tls_config *cli) {
  peer_write(&r->p, "STARTTLS\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "220");
  assert_int_equal(smtp_tls_conn_new(&r->p.tls, cli, "mx.example.test", NULL), 0);
  for (int i = 0; i < 50; i++) {
    char buf[16384];
    smtp_ssize n;
    int h = smtp_tls_handshake(r->p.tls);
    flush_tls(&r->p);
    smtp_driver_on_readable(r->d);
    while ((n = r->p.io.recv(buf, sizeof buf, r->p.io.user_data)) > 0)
      assert_int_equal(smtp_tls_feed(r->p.tls, buf, (size_t)n), n);
    if (h == 0 && smtp_tls_handshake(r->p.tls) == 0) break;
  }
  assert_int_equal(smtp_tls_handshake(r->p.tls), 0);
  flush_tls(&r->p);
}

static void conversation(rig *r) {
  /* RFC 2920 3.1: MAIL, RCPTs and DATA as one group, one write back */
  peer_write(&r->p, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
                    "RCPT TO:<c@example.org>\r\nDATA\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "250 250 250 354");
  /* the end of the data and the next transaction's group together */
  peer_write(&r->p, "Subject: one\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@example.org>\r\n"
                    "RCPT TO:<b@example.org>\r\nDATA\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "250 250 250 354");
  assert_int_equal(r->messages, 1);
  /* one command at a time, each waiting for its reply (RFC 5321 4.1.1) */
  peer_write(&r->p, "Subject: two\r\n\r\nbody\r\n.\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "250");
  assert_int_equal(r->messages, 2);
  peer_write(&r->p, "RSET\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "250");
  peer_write(&r->p, "NOOP\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "250");
  peer_write(&r->p, "MAIL FROM:<a@example.org>\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "250");
  peer_write(&r->p, "RCPT TO:<b@example.org>\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "250");
  peer_write(&r->p, "DATA\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "354");
  /* a body line split across two writes: no reply until it is complete */
  peer_write(&r->p, "Subject: three\r\n\r\nbo");
  assert_int_equal(server_turn(r), 0);
  peer_write(&r->p, "dy\r\n.\r\n");
  assert_int_equal(server_turn(r), 1);
  expect_replies(&r->p, "250");
  assert_int_equal(r->messages, 3);
}

static void test_plaintext_batching(void **state) {
  rig r;
  (void)state;
  rig_open(&r, NULL);
  peer_write(&r.p, "EHLO client.example\r\n");
  assert_int_equal(server_turn(&r), 1);
  expect_replies(&r.p, "250");
  conversation(&r);
  rig_close(&r);
}

/* ------------------------------------------------------------------ */
/* Under TLS, each backend.                                             */

static void make_configs(int backend, smtp_tls_config **srv, smtp_tls_config **cli) {
  char pem[4096];
  size_t n;
  assert_int_equal(smtp_tls_config_new_backend(srv, SMTP_TLS_SERVER, backend, NULL), 0);
  assert_int_equal(smtp_tls_config_self_signed(*srv, "mx.example.test"), 0);
  assert_int_equal(smtp_tls_config_export_cert(*srv, pem, sizeof pem, &n), 0);
  assert_int_equal(smtp_tls_config_new_backend(cli, SMTP_TLS_CLIENT, backend, NULL), 0);
  assert_int_equal(smtp_tls_config_ca_mem(*cli, pem, n), 0);
}

static void test_tls_batching(void **state) {
  int ids[8];
  int n = smtp_tls_backends(ids, 8);
  (void)state;
  if (n <= 0) skip();
  for (int i = 0; i < n; i++) {
    smtp_tls_config *srv, *cli;
    rig r;
    make_configs(ids[i], &srv, &cli);
    rig_open(&r, srv);
    peer_write(&r.p, "EHLO client.example\r\n");
    assert_int_equal(server_turn(&r), 1);
    expect_replies(&r.p, "250");
    rig_starttls(&r, cli);
    peer_write(&r.p, "EHLO client.example\r\n");
    assert_int_equal(server_turn(&r), 1);
    expect_replies(&r.p, "250");
    conversation(&r);
    rig_close(&r);
    smtp_tls_config_del(srv);
    smtp_tls_config_del(cli);
  }
}

#if SMTP_HAVE_CLIENT
/* ------------------------------------------------------------------ */
/* A client's body under TLS: records, not spans.                       */

#define BIG_BODY (256u * 1024u)
static char big_body[BIG_BODY];
static char big_got[BIG_BODY];
static size_t big_got_len;

static int big_chunk(smtp_server_session *s, const char *data, size_t len, void *ud) {
  (void)s;
  (void)ud;
  assert_true(big_got_len + len <= sizeof big_got);
  memcpy(big_got + big_got_len, data, len);
  big_got_len += len;
  return 0;
}

static int big_done(smtp_client_session *c, smtp_client_txn *t, const smtp_client_txn_result *r,
                    void *ud) {
  (void)t;
  *(int *)ud = r->status == SMTP_OK ? 1 : -1;
  return smtp_client_session_quit(c);
}

static void test_tls_body_records(void **state) {
  int ids[8];
  int nb = smtp_tls_backends(ids, 8);
  size_t i = 0, line = 0;
  (void)state;
  if (nb <= 0) skip();
  /* 64-octet lines, every 80th starting with a dot (stuffed on the wire,
   * RFC 5321 4.5.2): the client sends the 5 KiB runs between those dots
   * in place, one span each */
  while (i + 64 <= BIG_BODY) {
    memset(big_body + i, 'a' + (int)(line % 26), 62);
    if (line % 80 == 0) big_body[i] = '.';
    big_body[i + 62] = '\r';
    big_body[i + 63] = '\n';
    i += 64;
    line++;
  }
  /* each backend with a roomy pipe, then with a narrow one that keeps the
   * client's transport blocked, so that gathered output waits for it */
  for (int b = 0; b < 2 * nb; b++) {
    int narrow = b >= nb;
    smtp_tls_config *srv, *cli;
    smtp_server_callbacks *scb;
    smtp_server_options *so;
    smtp_server_session *ss;
    smtp_client_callbacks *ccb;
    smtp_client_options *co;
    smtp_client_session *cs;
    smtp_client_txn *t;
    smtp_driver *ds, *dc;
    smtp_io a, pb;
    counted cnt;
    smtp_io wrapped;
    int done = 0, body_sends;
    make_configs(ids[b % nb], &srv, &cli);
    big_got_len = 0;
    assert_int_equal(smtp_server_callbacks_new(&scb, NULL), 0);
    smtp_server_callbacks_set_data_chunk(scb, big_chunk);
    assert_int_equal(smtp_server_options_new(&so, NULL), 0);
    assert_int_equal(smtp_server_options_set_hostname(so, "mx.example.test"), 0);
    assert_int_equal(smtp_server_options_set_tls_available(so, 1), 0);
    assert_int_equal(smtp_server_session_new(&ss, scb, NULL, so, NULL), 0);
    assert_int_equal(smtp_client_callbacks_new(&ccb, NULL), 0);
    smtp_client_callbacks_set_txn_done(ccb, big_done);
    assert_int_equal(smtp_client_options_new(&co, NULL), 0);
    assert_int_equal(smtp_client_options_set_ehlo_name(co, "client.example.test"), 0);
    assert_int_equal(smtp_client_options_set_starttls(co, SMTP_CLIENT_STARTTLS_REQUIRED), 0);
    /* DATA, not BDAT: BDAT would send the body as one span */
    assert_int_equal(smtp_client_options_set_disabled_extensions(co, SMTP_EXT_CHUNKING | SMTP_EXT_BINARYMIME), 0);
    assert_int_equal(smtp_client_session_new(&cs, ccb, &done, co, NULL), 0);
    assert_int_equal(smtp_client_txn_new(&t, NULL), 0);
    assert_int_equal(smtp_client_txn_set_from(t, "alice@example.org", 17), 0);
    assert_int_equal(smtp_client_txn_add_rcpt(t, "bob@example.org", 15, 0, NULL, 0), 0);
    assert_int_equal(smtp_client_txn_set_body(t, big_body, i), 0);
    assert_int_equal(smtp_client_session_submit(cs, t), 0);
    assert_int_equal(smtp_io_pipe_new(&a, &pb, narrow ? 3000 : 4u << 20, NULL), 0);
    if (narrow) smtp_io_pipe_set_chunk(&pb, 1000);
    memset(&cnt, 0, sizeof cnt);
    cnt.inner = pb;
    memset(&wrapped, 0, sizeof wrapped);
    wrapped.version = SMTP_IO_VERSION;
    wrapped.user_data = &cnt;
    wrapped.send = c_send;
    wrapped.recv = c_recv;
    wrapped.close = c_close;
    assert_int_equal(smtp_driver_new_server(&ds, ss, &a, srv, 0, NULL), 0);
    assert_int_equal(smtp_driver_new_client(&dc, cs, &wrapped, cli, "mx.example.test", 0, NULL), 0);
    body_sends = -1;
    for (int k = 0; k < 100000 && !(smtp_driver_is_done(ds) && smtp_driver_is_done(dc)); k++) {
      if (!smtp_driver_is_done(ds)) smtp_driver_on_readable(ds);
      if (body_sends < 0 && smtp_client_session_tls_active(cs)) body_sends = cnt.sends;
      if (!smtp_driver_is_done(dc)) smtp_driver_on_readable(dc);
    }
    assert_true(smtp_driver_is_done(ds) && smtp_driver_is_done(dc));
    assert_int_equal(done, 1);
    assert_int_equal(big_got_len, i);
    assert_memory_equal(big_got, big_body, i);
    /* after the handshake: EHLO, MAIL/RCPT/DATA, the body (at most one
     * write per full record: 17 records for 256 KiB and its stuffing
     * dots), QUIT; a write per span would be 52 for the body */
    assert_true(body_sends > 0);
    if (!narrow) assert_true(cnt.sends - body_sends <= 17 + 6);
    smtp_driver_del(ds);
    smtp_driver_del(dc);
    smtp_client_txn_del(t);
    smtp_client_session_del(cs);
    smtp_client_options_del(co);
    smtp_client_callbacks_del(ccb);
    smtp_server_session_del(ss);
    smtp_server_options_del(so);
    smtp_server_callbacks_del(scb);
    smtp_tls_config_del(srv);
    smtp_tls_config_del(cli);
  }
}
#endif

/* ------------------------------------------------------------------ */
/* A TLS connection's reads (tls.h), both ends in memory.              */

/* Handshake a client and a server connection against each other. */
static void tls_pair(const smtp_tls_config *srv, const smtp_tls_config *cli, smtp_tls_conn **s,
                     smtp_tls_conn **c) {
  assert_int_equal(smtp_tls_conn_new(s, srv, NULL, NULL), 0);
  assert_int_equal(smtp_tls_conn_new(c, cli, "mx.example.test", NULL), 0);
  for (int i = 0; i < 50; i++) {
    const char *o;
    smtp_ssize k;
    int hc = smtp_tls_handshake(*c), hs;
    while ((k = smtp_tls_pending_output(*c, &o)) > 0) {
      assert_int_equal(smtp_tls_feed(*s, o, (size_t)k), k);
      smtp_tls_consume_output(*c, (size_t)k);
    }
    hs = smtp_tls_handshake(*s);
    while ((k = smtp_tls_pending_output(*s, &o)) > 0) {
      assert_int_equal(smtp_tls_feed(*c, o, (size_t)k), k);
      smtp_tls_consume_output(*s, (size_t)k);
    }
    if (hc == 0 && hs == 0) break;
  }
  assert_int_equal(smtp_tls_handshake(*c), 0);
  assert_int_equal(smtp_tls_handshake(*s), 0);
  /* TLS 1.3: the client takes whatever the server sent after its Finished */
  {
    char b[64];
    assert_int_equal(smtp_tls_read(*c, b, sizeof b), WB);
  }
}

/* The ciphertext of @p text written by @p from, taken out of it. */
static size_t record_of(smtp_tls_conn *from, const char *text, char *out, size_t cap) {
  const char *o;
  smtp_ssize k;
  size_t n = 0;
  assert_int_equal(smtp_tls_write(from, text, strlen(text)), (smtp_ssize)strlen(text));
  while ((k = smtp_tls_pending_output(from, &o)) > 0) {
    assert_true(n + (size_t)k <= cap);
    memcpy(out + n, o, (size_t)k);
    n += (size_t)k;
    smtp_tls_consume_output(from, (size_t)k);
  }
  return n;
}

static void test_tls_reads(void **state) {
  int ids[8];
  int nb = smtp_tls_backends(ids, 8);
  (void)state;
  if (nb <= 0) skip();
  for (int b = 0; b < nb; b++) {
    smtp_tls_config *srv, *cli;
    smtp_tls_conn *s, *c;
    char rec[4096], rec2[4096], buf[256];
    size_t n, n2;
    make_configs(ids[b], &srv, &cli);
    tls_pair(srv, cli, &s, &c);
    /* nothing fed: nothing to read, asked twice */
    assert_int_equal(smtp_tls_read(s, buf, sizeof buf), WB);
    assert_int_equal(smtp_tls_read(s, buf, sizeof buf), WB);
    assert_int_equal(smtp_tls_has_pending(s), 0);
    /* one record fed in two pieces: the first is not enough, the second is */
    n = record_of(c, "MAIL FROM:<a@example.org>\r\n", rec, sizeof rec);
    assert_true(n > 10);
    assert_int_equal(smtp_tls_feed(s, rec, 3), 3);
    assert_int_equal(smtp_tls_read(s, buf, sizeof buf), WB);
    assert_int_equal(smtp_tls_read(s, buf, sizeof buf), WB);
    assert_int_equal(smtp_tls_feed(s, rec + 3, n - 3), (smtp_ssize)(n - 3));
    assert_int_equal(smtp_tls_read(s, buf, sizeof buf), 27);
    assert_memory_equal(buf, "MAIL FROM:<a@example.org>\r\n", 27);
    assert_int_equal(smtp_tls_read(s, buf, sizeof buf), WB);
    /* two records in one feed, read into a buffer smaller than either */
    n = record_of(c, "RCPT TO:<b@example.org>\r\n", rec, sizeof rec);
    n2 = record_of(c, "DATA\r\n", rec2, sizeof rec2);
    assert_true(n + n2 <= sizeof rec);
    memcpy(rec + n, rec2, n2);
    assert_int_equal(smtp_tls_feed(s, rec, n + n2), (smtp_ssize)(n + n2));
    {
      char all[64];
      size_t got = 0;
      smtp_ssize k;
      while ((k = smtp_tls_read(s, buf, 5)) > 0) {
        assert_true(got + (size_t)k <= sizeof all);
        memcpy(all + got, buf, (size_t)k);
        got += (size_t)k;
      }
      assert_int_equal(k, WB);
      assert_int_equal(got, 31);
      assert_memory_equal(all, "RCPT TO:<b@example.org>\r\nDATA\r\n", 31);
    }
    /* the end of the stream after "need more input": reported, not waited for */
    assert_int_equal(smtp_tls_read(s, buf, sizeof buf), WB);
    assert_int_equal(smtp_tls_feed_eof(s), 0);
    assert_int_equal(smtp_tls_read(s, buf, sizeof buf), SMTP_ERR_EOF);
    smtp_tls_conn_del(s);
    smtp_tls_conn_del(c);
    smtp_tls_config_del(srv);
    smtp_tls_config_del(cli);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plaintext_batching),
      cmocka_unit_test(test_tls_batching),
      cmocka_unit_test(test_tls_reads),
#if SMTP_HAVE_CLIENT
      cmocka_unit_test(test_tls_body_records),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
