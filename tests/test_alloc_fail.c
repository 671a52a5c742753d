/* Allocation failure at every allocation index (after
 * nghttp2's failmalloc test): every run ends with a clean SMTP_ERR_NOMEM or
 * with success, and leaves nothing allocated. Covered: the server session
 * (callbacks, options, session), the client session (options, transactions,
 * session), both talking to each other in memory; the reply parser; the
 * in-memory pipe, both drivers and, when built with TLS, the TLS adapter
 * (configuration, and the connections the drivers make at STARTTLS and for
 * implicit TLS, RFC 3207 / RFC 8314). A second pass fails every allocation
 * from the index on (not only that one). The counting allocator also shows
 * that the sessions allocate nothing once created (their documented
 * one-allocation design), except the client's reply store when a reply is
 * larger than any before (af_client_large_reply). */
#include "hardening_harness.h"

#include <signal.h>

#include <smtp/driver.h>
#include <smtp/io.h>
#include <smtp/tls.h>
#include "tls_backend.h"

/* ------------------------------------------------------------------------ */
/* Server objects on one failing allocator.                                  */

static int af_srv_new(hh_srv *h, hh_mem *m, const hh_srv_cfg *cfg) {
  smtp_server_callbacks *cb = NULL;
  smtp_server_options *o = NULL;
  int r;
  memset(h, 0, sizeof *h);
  if (cfg) h->cfg = *cfg;
  r = smtp_server_callbacks_new(&cb, &m->mem);
  if (r != SMTP_OK) goto out;
  r = smtp_server_options_new(&o, &m->mem);
  if (r != SMTP_OK) goto out;
  smtp_server_callbacks_set_connect(cb, hh_s_connect);
  smtp_server_callbacks_set_ehlo(cb, hh_s_ehlo);
  smtp_server_callbacks_set_mail(cb, hh_s_mail);
  smtp_server_callbacks_set_rcpt(cb, hh_s_rcpt);
  smtp_server_callbacks_set_data_start(cb, hh_s_data_start);
  smtp_server_callbacks_set_data_chunk(cb, hh_s_chunk);
  smtp_server_callbacks_set_data_end(cb, hh_s_data_end);
  smtp_server_callbacks_set_quit(cb, hh_s_quit);
  smtp_server_callbacks_set_auth(cb, hh_s_auth);
  (void)smtp_server_options_set_hostname(o, "mx.example.test");
  (void)smtp_server_options_set_tls_available(o, h->cfg.tls);
  (void)smtp_server_options_set_allow_plaintext_auth(o, 1);
  r = smtp_server_session_new(&h->s, cb, h, o, &m->mem);
out:
  smtp_server_callbacks_del(cb);
  smtp_server_options_del(o);
  return r;
}

static const hh_cli_txn af_txns[2] = {
    {"alice@sender.example",
     {"bob@rcpt.example", "carol@rcpt.example", "dave@rcpt.example", "erin@rcpt.example",
      "frank@rcpt.example", "grace@rcpt.example", "heidi@rcpt.example", "ivan@rcpt.example"},
     {0, SMTP_DSN_NOTIFY_FAILURE, 0, 0, 0, 0, 0, 0},
     {NULL, "carol@rcpt.example", NULL, NULL, NULL, NULL, NULL, NULL},
     8, "Subject: one\r\n\r\n.dot\r\nbody\r\n", 28, 0, 0, SMTP_DSN_RET_HDRS, "envelope-1", 0},
    {"", {"Postmaster"}, {0}, {NULL}, 1, "second\r\n", 8, SMTP_CLIENT_BODY_PUSH, 0, 0, NULL, 0},
};

/* One run of both sessions; the failing allocator is the server's
 * (@p which 0) or the client's (@p which 1). Returns the allocations made. */
static size_t af_sessions(int which, size_t fail_at, int fail_all) {
  hh_pair p;
  int rs = SMTP_OK, rc = SMTP_OK;
  size_t setup;
  memset(&p, 0, sizeof p);
  snprintf(hh_ctx, sizeof hh_ctx, "%s allocation %zu%s", which == 0 ? "server" : "client", fail_at,
           fail_all ? " and on" : "");
  if (which == 0) {
    /* the server's objects use sm (the session keeps a copy of the hook) */
    hh_mem sm;
    hh_mem_init(&sm, fail_at);
    sm.fail_all = fail_all;
    rs = af_srv_new(&p.srv, &sm, NULL);
    HH_CHECK(rs == SMTP_OK || rs == SMTP_ERR_NOMEM);
    if (rs == SMTP_OK) {
      rc = hh_cli_new(&p.cli, NULL, af_txns, 2, 0);
      HH_CHECK(rc == SMTP_OK);
      setup = sm.count;
      p.mode = p.srv.mode = p.cli.mode = HH_RANDOM;
      p.rng = p.srv.rng = p.cli.rng = (uint32_t)fail_at + 1;
      hh_pair_run(&p);
      /* the server session allocates nothing after creation */
      HH_CHECK(sm.count == setup);
      HH_CHECK(p.cli.ndone == 2 && p.cli.done_status[0] == SMTP_OK && p.cli.done_status[1] == SMTP_OK);
      HH_CHECK(p.srv.n_end == 2);
    } else {
      HH_CHECK(p.srv.s == NULL);
    }
    hh_srv_release(&p.srv);
    hh_cli_free(&p.cli);
    HH_CHECK(sm.live == 0 && sm.bytes == 0);
    hh_buf_free(&p.c2s);
    hh_buf_free(&p.s2c);
    hh_buf_free(&p.c2s_all);
    return sm.count;
  }
  /* client side fails */
  {
    hh_srv_new(&p.srv, NULL, 0);
    rc = hh_cli_new(&p.cli, NULL, af_txns, 2, fail_at);
    p.cli.mem.fail_all = fail_all;
    HH_CHECK(rc == SMTP_OK || rc == SMTP_ERR_NOMEM);
    if (rc == SMTP_OK) {
      setup = p.cli.mem.count;
      p.mode = p.srv.mode = p.cli.mode = HH_RANDOM;
      p.rng = p.srv.rng = p.cli.rng = (uint32_t)fail_at + 1;
      hh_pair_run(&p);
      /* after creation, per connection: the copy of the EHLO keywords
       * (setup + 1; when it fails the session ends with SMTP_ERR_NOMEM) and
       * the output's move for the pushed body of the second transaction
       * (setup + 2; when it fails that body goes out in smaller writes);
       * nothing per transaction */
      HH_CHECK(p.cli.mem.count == setup + 2 ||
               (p.cli.mem.count == setup + 1 && p.cli.closed_error == SMTP_ERR_NOMEM));
      if (p.cli.mem.failed && fail_at <= setup + 1) {
        HH_CHECK(p.cli.nclosed == 1 && p.cli.closed_error == SMTP_ERR_NOMEM);
        HH_CHECK(p.cli.ndone == 0 || p.cli.done_status[0] == SMTP_ERR_NOMEM);
      } else {
        HH_CHECK(p.cli.ndone == 2 && p.cli.done_status[0] == SMTP_OK &&
                 p.cli.done_status[1] == SMTP_OK);
      }
    }
    {
      size_t n = p.cli.mem.count;
      hh_pair_free(&p); /* checks that nothing is left */
      return n;
    }
  }
}

static void af_sessions_every_index(void **state) {
  (void)state;
  for (int which = 0; which <= 1; which++) {
    size_t total = af_sessions(which, 0, 0);
    HH_CHECK(total > 0);
    print_message("%s side: %zu allocations, each failed once and from there on\n",
                  which == 0 ? "server" : "client", total);
    for (size_t k = 1; k <= total + 1; k++) {
      af_sessions(which, k, 0);
      af_sessions(which, k, 1);
    }
  }
}

/* The client's setters that allocate fail cleanly too, and leave the
 * object usable (the transaction keeps what it had). */
static void af_client_txn_growth(void **state) {
  (void)state;
  for (size_t k = 1; k < 200; k++) {
    hh_mem m;
    smtp_client_txn *t = NULL;
    int r, failed = 0;
    size_t added = 0;
    hh_mem_init(&m, k);
    snprintf(hh_ctx, sizeof hh_ctx, "txn growth, allocation %zu", k);
    r = smtp_client_txn_new(&t, &m.mem);
    HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
    if (r == SMTP_OK) {
      for (int i = 0; i < 100; i++) {
        char a[64];
        smtp_ssize ri;
        snprintf(a, sizeof a, "recipient-%03d-with-a-longer-local-part@rcpt.example", i);
        ri = smtp_client_txn_add_rcpt(t, a, strlen(a), 0, a, strlen(a));
        HH_CHECK(ri >= 0 || ri == SMTP_ERR_NOMEM);
        if (ri < 0) {
          failed = 1;
          break;
        }
        added++;
      }
      HH_CHECK(smtp_client_txn_rcpt_count(t) == added);
      for (size_t i = 0; i < added; i++) {
        char a[64];
        size_t len = 0;
        const char *got = smtp_client_txn_rcpt_address(t, i, &len);
        snprintf(a, sizeof a, "recipient-%03zu-with-a-longer-local-part@rcpt.example", i);
        HH_CHECK(got && len == strlen(a) && memcmp(got, a, len) == 0);
      }
      r = smtp_client_txn_set_from(t, "alice@sender.example", 20);
      HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
      smtp_client_txn_del(t);
    }
    HH_CHECK(m.live == 0);
    if (!failed && m.failed == 0 && r == SMTP_OK) break; /* past the last allocation */
  }
}

static void af_reply_parser(void **state) {
  (void)state;
  for (size_t k = 1; k <= 3; k++) {
    hh_mem m;
    smtp_reply_parser *p = NULL;
    int r;
    hh_mem_init(&m, k);
    snprintf(hh_ctx, sizeof hh_ctx, "reply parser, allocation %zu", k);
    r = smtp_reply_parser_new(&p, 0, 0, &m.mem);
    HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
    if (r == SMTP_OK) {
      HH_CHECK(smtp_reply_parser_feed(p, "250-a\r\n250 b\r\n", 14) == 14);
      HH_CHECK(smtp_reply_parser_done(p));
    } else {
      HH_CHECK(p == NULL);
    }
    smtp_reply_parser_del(p);
    HH_CHECK(m.live == 0);
  }
}

/* The client's reply store grows for an EHLO reply longer than any before
 * (60 lines, 3 KB): allocation failure there ends the session with
 * SMTP_ERR_NOMEM, sticky, and nothing leaks; without failure the
 * capabilities are all there. */
static void af_client_large_reply(void **state) {
  char ehlo[4096];
  size_t n = 0;
  (void)state;
  n += (size_t)snprintf(ehlo + n, sizeof ehlo - n, "250-mx.example.test greets you\r\n");
  for (int i = 0; i < 58; i++)
    n += (size_t)snprintf(ehlo + n, sizeof ehlo - n, "250-X-KEYWORD-%02d some parameters here\r\n", i);
  n += (size_t)snprintf(ehlo + n, sizeof ehlo - n, "250 PIPELINING\r\n");
  for (size_t k = 1;; k++) {
    hh_mem m;
    smtp_client_callbacks *cb = NULL;
    smtp_client_options *o = NULL;
    smtp_client_session *c = NULL;
    const char *out;
    smtp_ssize r;
    hh_mem_init(&m, k);
    snprintf(hh_ctx, sizeof hh_ctx, "client large EHLO reply, allocation %zu", k);
    HH_CHECK(smtp_client_callbacks_new(&cb, NULL) == SMTP_OK);
    HH_CHECK(smtp_client_options_new(&o, NULL) == SMTP_OK);
    smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_OFF);
    if (smtp_client_session_new(&c, cb, NULL, o, &m.mem) != SMTP_OK) {
      HH_CHECK(c == NULL && m.live == 0);
      smtp_client_callbacks_del(cb);
      smtp_client_options_del(o);
      continue;
    }
    HH_CHECK(smtp_client_session_mem_recv(c, "220 mx ESMTP\r\n", 14) == 14);
    while ((r = smtp_client_session_mem_send(c, &out)) > 0)
      smtp_client_session_mem_consume(c, (size_t)r);
    r = smtp_client_session_mem_recv(c, ehlo, n);
    if (r == SMTP_ERR_NOMEM) {
      HH_CHECK(m.failed == 1);
      HH_CHECK(smtp_client_session_mem_recv(c, "250 OK\r\n", 8) == SMTP_ERR_NOMEM);
      HH_CHECK(smtp_client_session_capabilities(c) == NULL);
    } else {
      const smtp_capabilities *caps;
      HH_CHECK(r == (smtp_ssize)n);
      HH_CHECK(m.failed == 0);
      /* built on request, in its own allocation: NULL when that fails,
       * and the next call tries again */
      caps = smtp_client_session_capabilities(c);
      if (caps == NULL) {
        HH_CHECK(m.failed == 1);
        m.fail_at = 0;
        caps = smtp_client_session_capabilities(c);
      }
      HH_CHECK(caps != NULL);
      HH_CHECK(caps->nkeywords + caps->ndropped == 59);
      HH_CHECK((caps->flags & SMTP_EXT_PIPELINING) != 0);
    }
    smtp_client_session_del(c);
    smtp_client_callbacks_del(cb);
    smtp_client_options_del(o);
    HH_CHECK(m.live == 0);
    if (m.failed == 0) {
      HH_CHECK(k > 3); /* session, parser, a store move, the keywords' copy */
      break;
    }
    HH_CHECK(k < 20);
  }
}

/* ------------------------------------------------------------------------ */
/* Drivers over the in-memory pipe, with STARTTLS or implicit TLS.           */

static smtp_tls_config *srv_tls, *cli_tls;

static int setup_tls(void **state) {
  char pem[8192];
  size_t n = 0;
  (void)state;
  if (!smtp_tls_available()) return 0;
  if (smtp_tls_config_new(&srv_tls, SMTP_TLS_SERVER, NULL) ||
      smtp_tls_config_self_signed(srv_tls, "mx.example.test") ||
      smtp_tls_config_export_cert(srv_tls, pem, sizeof pem, &n) ||
      smtp_tls_config_new(&cli_tls, SMTP_TLS_CLIENT, NULL) || smtp_tls_config_ca_mem(cli_tls, pem, n))
    return -1;
  return 0;
}

static int teardown_tls(void **state) {
  (void)state;
  smtp_tls_config_del(srv_tls);
  smtp_tls_config_del(cli_tls);
  return 0;
}

/* Everything on one failing allocator: pipe, server session, client
 * session and transaction, both drivers (and their TLS connections).
 * Returns the allocations made. */
static size_t af_drivers(size_t fail_at, int fail_all, int tls_mode) {
  hh_mem m;
  hh_srv srv;
  hh_cli cli;
  smtp_io a, b;
  smtp_driver *ds = NULL, *dc = NULL;
  const smtp_tls_config *st = tls_mode ? srv_tls : NULL, *ct = tls_mode ? cli_tls : NULL;
  unsigned flags = tls_mode == 2 ? SMTP_DRIVER_IMPLICIT_TLS : 0;
  int r, have_pipe = 0, nomem_seen = 0;
  hh_srv_cfg scfg;
  hh_cli_cfg ccfg;
  hh_cli_txn t = af_txns[0];
  memset(&scfg, 0, sizeof scfg);
  memset(&ccfg, 0, sizeof ccfg);
  scfg.tls = tls_mode == 1;
  ccfg.starttls = tls_mode == 1 ? SMTP_CLIENT_STARTTLS_REQUIRED : SMTP_CLIENT_STARTTLS_OFF;
  hh_mem_init(&m, fail_at);
  m.fail_all = fail_all;
  memset(&cli, 0, sizeof cli);
  snprintf(hh_ctx, sizeof hh_ctx, "drivers (tls %d) allocation %zu%s", tls_mode, fail_at,
           fail_all ? " and on" : "");
  r = smtp_io_pipe_new(&a, &b, 4096, &m.mem);
  HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
  if (r != SMTP_OK) {
    nomem_seen = 1;
    goto done;
  }
  have_pipe = 1;
  r = af_srv_new(&srv, &m, &scfg);
  HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
  if (r != SMTP_OK) {
    nomem_seen = 1;
    goto done;
  }
  /* the client objects on the same allocator: build them by hand */
  r = hh_cli_new(&cli, &ccfg, &t, 1, 0);
  HH_CHECK(r == SMTP_OK);
  smtp_client_session_del(cli.c);
  cli.c = NULL;
  r = smtp_client_session_new(&cli.c, cli.cbs, &cli, cli.opt, &m.mem);
  HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
  if (r != SMTP_OK) {
    nomem_seen = 1;
    goto done;
  }
  cli.next = 0;
  hh_cli_submit_next(&cli);
  have_pipe = 0; /* the drivers own the pipe ends from here, even on failure */
  r = smtp_driver_new_server(&ds, srv.s, &a, st, flags, &m.mem);
  HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
  if (r != SMTP_OK) {
    nomem_seen = 1;
    if (b.close) b.close(b.user_data); /* b is still ours */
    goto done;
  }
  r = smtp_driver_new_client(&dc, cli.c, &b, ct, "mx.example.test", flags, &m.mem);
  HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
  if (r != SMTP_OK) {
    nomem_seen = 1;
    goto done;
  }
  /* Pump both; a driver that is done is deleted at once, closing its end
   * of the pipe, as an application would (the peer then sees EOF). */
  {
    int es = 1, ec = 1; /* 1: still running */
    for (int i = 0; i < 100000 && (ds || dc); i++) {
      if (ds) {
        smtp_driver_on_readable(ds);
        if (smtp_driver_is_done(ds)) {
          es = smtp_driver_error(ds);
          smtp_driver_del(ds);
          ds = NULL;
        }
      }
      if (dc) {
        smtp_driver_on_readable(dc);
        if (smtp_driver_is_done(dc)) {
          ec = smtp_driver_error(dc);
          smtp_driver_del(dc);
          dc = NULL;
        }
      }
    }
    if (ds || dc)
      print_error("not done: server %d (%d), client %d (%d); failed=%zu\nclient log:\n%s\nserver log:\n%s\n",
                  ds != NULL, es, dc != NULL, ec, m.failed, hh_buf_cstr(&cli.log), hh_buf_cstr(&srv.log));
    HH_CHECK(ds == NULL && dc == NULL);
    if (m.failed == 0) {
      /* nothing failed: a normal, complete run */
      HH_CHECK(es == 0 && ec == 0);
      HH_CHECK(cli.ndone == 1 && cli.done_status[0] == SMTP_OK);
      HH_CHECK(srv.n_end == 1);
    } else {
      /* an allocation failed during the run: one side says so */
      if (!(es == SMTP_ERR_NOMEM || ec == SMTP_ERR_NOMEM))
        print_error("driver errors %d / %d after %zu failed allocation(s)\n", es, ec, m.failed);
      HH_CHECK(es == SMTP_ERR_NOMEM || ec == SMTP_ERR_NOMEM);
      nomem_seen = 1;
    }
  }
done:
  smtp_driver_del(ds);
  smtp_driver_del(dc);
  if (have_pipe) {
    if (a.close) a.close(a.user_data);
    if (b.close) b.close(b.user_data);
  }
  hh_srv_release(&srv);
  hh_cli_free(&cli);
  HH_CHECK(m.failed == 0 || nomem_seen);
  HH_CHECK(m.live == 0 && m.bytes == 0);
  return m.count;
}

static void af_drivers_every_index(void **state) {
  (void)state;
  for (int tls_mode = 0; tls_mode <= 2; tls_mode++) {
    size_t total;
    if (tls_mode && !smtp_tls_available()) continue;
    total = af_drivers(0, 0, tls_mode);
    HH_CHECK(total > 0);
    print_message("drivers, %s: %zu allocations, each failed once and from there on\n",
                  tls_mode == 0 ? "no TLS" : tls_mode == 1 ? "STARTTLS" : "implicit TLS", total);
    for (size_t k = 1; k <= total + 1; k++) {
      af_drivers(k, 0, tls_mode);
      af_drivers(k, 1, tls_mode);
    }
  }
}

/* The TLS configuration itself (key generation, certificate export). */
static void af_tls_config(void **state) {
  size_t total = 0;
  (void)state;
  if (!smtp_tls_available()) skip();
  for (size_t k = 0; k < 64; k++) {
    hh_mem m;
    smtp_tls_config *cfg = NULL;
    char pem[8192];
    size_t n = 0;
    int r;
    hh_mem_init(&m, k);
    snprintf(hh_ctx, sizeof hh_ctx, "TLS config, allocation %zu", k);
    r = smtp_tls_config_new(&cfg, SMTP_TLS_SERVER, &m.mem);
    HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
    if (r == SMTP_OK) {
      r = smtp_tls_config_self_signed(cfg, "mx.example.test");
      HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
      if (r == SMTP_OK) {
        r = smtp_tls_config_export_cert(cfg, pem, sizeof pem, &n);
        HH_CHECK(r == SMTP_OK || r == SMTP_ERR_NOMEM);
      }
      smtp_tls_config_del(cfg);
    }
    HH_CHECK(m.live == 0);
    if (k == 0) total = m.count;
    if (k > total) break;
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(af_sessions_every_index),
      cmocka_unit_test(af_client_txn_growth),
      cmocka_unit_test(af_reply_parser),
      cmocka_unit_test(af_client_large_reply),
      cmocka_unit_test(af_drivers_every_index),
      cmocka_unit_test(af_tls_config),
  };
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, setup_tls, teardown_tls);
}
