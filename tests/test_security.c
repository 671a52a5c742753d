/* The security suite: every class of docs/security.md (sections 1-7),
 * at least three concrete inputs each, for the server and the client role,
 * each citing the CVE or RFC it comes from. Server input is fed whole, one
 * byte at a time and at HH_SPLITS random split points (seeded); the server's
 * output must always parse as well-formed replies (RFC 5321 4.2), and no
 * run may leak (counting allocator). The client runs against a scripted
 * server, or against a real server session in memory.
 *
 * Test names: s<section>_<what> for the server role, c<section>_<what> for
 * the client role. */
#include "hardening_harness.h"

#include <smtp/address.h>
#include <smtp/sasl.h>

/* ------------------------------------------------------------------------ */
/* Running the server in every mode.                                         */

typedef void (*srv_check_fn)(hh_srv *h, const void *arg);

typedef struct srv_case {
  const char *name;
  hh_srv_cfg cfg;
  const char *pre;   /* client bytes before a TLS handshake (or all of them) */
  size_t prelen;     /* 0: strlen */
  const char *post;  /* after the handshake; NULL: no handshake */
  size_t postlen;
  const char *sni;
} srv_case;

static void srv_one(const srv_case *c, int mode, uint32_t seed, srv_check_fn check,
                    const void *arg) {
  hh_srv h;
  snprintf(hh_ctx, sizeof hh_ctx, "%s, %s, seed %u", c->name, hh_mode_name(mode), seed);
  hh_srv_new(&h, &c->cfg, 0);
  h.mode = mode;
  h.rng = seed;
  hh_srv_feed(&h, c->pre, c->prelen ? c->prelen : strlen(c->pre));
  if (c->post) {
    hh_srv_tls(&h, c->sni);
    hh_srv_feed(&h, c->post, c->postlen ? c->postlen : strlen(c->post));
  }
  hh_srv_drain(&h);
  check(&h, arg);
  hh_srv_free(&h);
}

static void srv_all(const srv_case *c, srv_check_fn check, const void *arg) {
  srv_one(c, HH_WHOLE, 0, check, arg);
  srv_one(c, HH_BYTES, 0, check, arg);
  for (uint32_t seed = 1; seed <= HH_SPLITS; seed++) srv_one(c, HH_RANDOM, seed * 7919u, check, arg);
}

/* The simplest expectation: the reply codes and, optionally, the event log. */
typedef struct expect {
  const char *codes;
  const char *log;      /* exact event log, or NULL */
  int closed;           /* -1: do not care */
  int n_mail;           /* -1: do not care */
} expect;

static void check_expect(hh_srv *h, const void *arg) {
  const expect *e = arg;
  hh_buf codes = {0};
  hh_srv_codes(h, &codes);
  if (e->codes) HH_CHECK_STR(hh_buf_cstr(&codes), e->codes);
  if (e->log) HH_CHECK_STR(hh_buf_cstr(&h->log), e->log);
  if (e->closed >= 0) HH_CHECK(smtp_server_session_is_closed(h->s) == e->closed);
  if (e->n_mail >= 0) HH_CHECK(h->n_mail == e->n_mail);
  hh_buf_free(&codes);
}

static void srv_expect(const char *name, const hh_srv_cfg *cfg, const char *in, size_t inlen,
                       const char *codes, const char *log, int closed, int n_mail) {
  srv_case c;
  expect e = {codes, log, closed, n_mail};
  memset(&c, 0, sizeof c);
  c.name = name;
  if (cfg) c.cfg = *cfg;
  c.pre = in;
  c.prelen = inlen;
  srv_all(&c, check_expect, &e);
}

#define EHLO "EHLO client.example\r\n"
#define MAIL_A "MAIL FROM:<alice@sender.example>\r\n"
#define RCPT_B "RCPT TO:<bob@rcpt.example>\r\n"
#define TXN EHLO MAIL_A RCPT_B
#define EVIL "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@rcpt.example>\r\nDATA\r\n"

/* ======================================================================== */
/* 1. End of data and line endings                                           */
/* ======================================================================== */

/* The end-of-data look-alikes of SMTP smuggling: CVE-2023-51764 (Postfix),
 * CVE-2023-51765 (Sendmail), CVE-2023-51766 (Exim), CVE-2024-27305
 * (aiosmtpd), plus docs/security.md 1's list. None of them ends data. */
static const struct {
  const char *seq;
  size_t len;
  int refused; /* under the default policy */
} smuggle[] = {
    {"\n.\n", 3, SMTP_ERR_BARE_LF},
    {"\n.\r\n", 4, SMTP_ERR_BARE_LF},
    {"\r\n.\n", 4, SMTP_ERR_BARE_LF},
    {"\r.\r", 3, SMTP_ERR_BARE_CR},
    {"\r\n.\r", 4, SMTP_ERR_BARE_CR},
    {"\r\n.\r\r\n", 6, SMTP_ERR_BARE_CR},
    {"\r\n\0.\r\n", 6, SMTP_ERR_NUL},
    {"\n\r.\r\n", 5, SMTP_ERR_BARE_LF},
    {"\r\r.\r\r", 5, SMTP_ERR_BARE_CR},
};

typedef struct smuggle_arg {
  int accept;
  int refused;
  const char *body;
  size_t bodylen;
} smuggle_arg;

static void check_smuggle(hh_srv *h, const void *arg) {
  const smuggle_arg *a = arg;
  hh_buf codes = {0};
  hh_srv_codes(h, &codes);
  /* Exactly one transaction, one message; the smuggled MAIL is message text. */
  HH_CHECK(h->n_mail == 1);
  HH_CHECK(h->n_rcpt == 1);
  HH_CHECK(h->n_end == 1);
  HH_CHECK(h->ntxn == 1);
  if (a->accept) {
    /* The message is the raw text with the dot at each line start removed
     * (RFC 5321 4.5.2); a line starts only after CRLF. */
    hh_buf want = {0};
    for (size_t i = 0; i < a->bodylen; i++) {
      int bol = i == 0 || (i >= 2 && a->body[i - 2] == '\r' && a->body[i - 1] == '\n');
      if (!(bol && a->body[i] == '.')) hh_buf_add(&want, &a->body[i], 1);
    }
    HH_CHECK_STR(hh_buf_cstr(&codes), "220 250 250 250 354 250 221");
    HH_CHECK(h->txn[0].refused == 0);
    HH_CHECK(h->txn[0].data.len == want.len &&
             memcmp(hh_buf_cstr(&h->txn[0].data), hh_buf_cstr(&want), want.len) == 0);
    hh_buf_free(&want);
  } else {
    HH_CHECK_STR(hh_buf_cstr(&codes), a->refused == SMTP_ERR_NUL ? "220 250 250 250 354 554 221"
                                                                  : "220 250 250 250 354 550 221");
    HH_CHECK(h->txn[0].refused == a->refused);
  }
  HH_CHECK(strstr(hh_buf_cstr(&h->log), "evil@") == NULL);
  hh_buf_free(&codes);
}

static void s1_smuggling(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof smuggle / sizeof smuggle[0]; i++) {
    for (int accept = 0; accept <= 1; accept++) {
      hh_buf in = {0}, body = {0};
      srv_case c;
      smuggle_arg a;
      memset(&c, 0, sizeof c);
      c.name = accept ? "smuggling (bare accepted)" : "smuggling (default policy)";
      c.cfg.bare_accept = accept;
      c.cfg.nul_accept = accept;
      hh_buf_str(&in, TXN "DATA\r\nSubject: t\r\n\r\nbody");
      hh_buf_str(&body, "Subject: t\r\n\r\nbody");
      hh_buf_add(&in, smuggle[i].seq, smuggle[i].len);
      hh_buf_add(&body, smuggle[i].seq, smuggle[i].len);
      hh_buf_str(&in, EVIL "smuggled\r\n");
      hh_buf_str(&body, EVIL "smuggled\r\n");
      hh_buf_str(&in, "\r\n.\r\nQUIT\r\n");
      hh_buf_str(&body, "\r\n");
      c.pre = in.p;
      c.prelen = in.len;
      a.accept = accept;
      a.refused = smuggle[i].refused;
      a.body = body.p;
      a.bodylen = body.len;
      srv_all(&c, check_smuggle, &a);
      hh_buf_free(&in);
      hh_buf_free(&body);
    }
  }
}

/* Bare CR / LF inside command lines (RFC 5321 2.3.8; docs/security.md 1): the
 * whole line is one error, never two commands. */
static void s1_bare_in_commands(void **state) {
  (void)state;
  srv_expect("NOOP LF RSET", NULL, EHLO "NOOP\nRSET\r\nQUIT\r\n", 0, "220 250 500 221",
             "connect\nehlo client.example\nquit\n", 1, 0);
  srv_expect("MAIL CR RCPT", NULL, EHLO "MAIL FROM:<a@x.example>\rRCPT TO:<b@y.example>\r\nQUIT\r\n",
             0, "220 250 500 221", "connect\nehlo client.example\nquit\n", 1, 0);
  srv_expect("EHLO LF QUIT", NULL, "EHLO c.example\nQUIT\r\nNOOP\r\n", 0, "220 500 250",
             "connect\nnoop\n", 0, 0);
  srv_expect("NOOP CR CR QUIT", NULL, "NOOP\r\rQUIT\r\nNOOP\r\n", 0, "220 500 250",
             "connect\nnoop\n", 0, 0);
  srv_expect("RSET CR NUL LF QUIT", NULL, "RSET\r\0\nQUIT\r\nNOOP\r\n", 19, "220 500 250",
             "connect\nnoop\n", 0, 0);
  srv_expect("LF only", NULL, "\n\nQUIT\nNOOP\r\n", 0, "220 500", "connect\n", 0, 0);
}

/* A line longer than the buffer is one line: its tail never starts a new
 * one (docs/security.md 1, 4; RFC 5321 4.5.3.1.4). Commands: 500, the "QUIT" at
 * its tail is not run. */
static void s1_long_command_tail(void **state) {
  static const size_t lens[] = {507, 600, 1017, 1018, 1019, 1024, 1025, 3072, 70000};
  (void)state;
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    hh_buf in = {0};
    hh_srv_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.input_buffer = 1024;
    for (size_t k = 0; k < lens[i]; k++) hh_buf_add(&in, "X", 1);
    hh_buf_str(&in, "QUIT\r\nNOOP\r\n");
    srv_expect("long command line", &cfg, in.p, in.len, "220 500 250", "connect\nnoop\n", 0, 0);
    hh_buf_free(&in);
  }
}

/* Message data: a dot right at a buffer boundary after a long line is not
 * end of data (the line did not start there). */
static void s1_long_data_line(void **state) {
  static const size_t lens[] = {999, 1000, 1001, 1022, 1023, 1024, 1025, 2047, 2048, 4096};
  (void)state;
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    hh_buf in = {0}, body = {0};
    srv_case c;
    smuggle_arg a;
    memset(&c, 0, sizeof c);
    c.name = "long data line";
    c.cfg.input_buffer = 1024;
    hh_buf_str(&in, TXN "DATA\r\n");
    for (size_t k = 0; k < lens[i]; k++) hh_buf_add(&body, "x", 1);
    hh_buf_str(&body, ".\r\n" EVIL "\r\n");
    hh_buf_add(&in, body.p, body.len);
    hh_buf_str(&in, ".\r\nQUIT\r\n");
    c.pre = in.p;
    c.prelen = in.len;
    a.accept = 1;
    a.refused = 0;
    a.body = body.p;
    a.bodylen = body.len;
    srv_all(&c, check_smuggle, &a);
    hh_buf_free(&in);
    hh_buf_free(&body);
  }
}

/* BDAT chunks are counted, never scanned (RFC 3030 2; Exim CVE-2017-16944);
 * a refused BDAT still consumes its chunk. */
static void check_bdat_chunk(hh_srv *h, const void *arg) {
  const char *chunk = arg;
  hh_buf codes = {0};
  hh_srv_codes(h, &codes);
  HH_CHECK_STR(hh_buf_cstr(&codes), "220 250 250 250 250 221");
  HH_CHECK(h->n_mail == 1 && h->n_end == 1);
  HH_CHECK(h->txn[0].bdat == 1);
  HH_CHECK(h->txn[0].data.len == strlen(chunk) && memcmp(h->txn[0].data.p, chunk, strlen(chunk)) == 0);
  HH_CHECK(strstr(hh_buf_cstr(&h->log), "rset") == NULL);
  hh_buf_free(&codes);
}

static void s1_bdat_not_scanned(void **state) {
  static const char *chunks[] = {
      "line\r\n.\r\n" EVIL "RSET\r\n",
      ".\r\n",
      "\r\n.\r\nQUIT\r\n",
      "a\n.\nMAIL FROM:<evil@attacker.example>\r\n",
  };
  (void)state;
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    hh_buf in = {0};
    srv_case c;
    memset(&c, 0, sizeof c);
    c.name = "BDAT chunk with dots";
    hh_buf_fmt(&in, TXN "BDAT %zu LAST\r\n", strlen(chunks[i]));
    hh_buf_str(&in, chunks[i]);
    hh_buf_str(&in, "QUIT\r\n");
    c.pre = in.p;
    c.prelen = in.len;
    srv_all(&c, check_bdat_chunk, chunks[i]);
    hh_buf_free(&in);
  }
}

static void s1_bdat_refused_consumed(void **state) {
  const char *chunk = "RSET\r\nMAIL FROM:<evil@attacker.example>\r\nQUIT\r\n";
  hh_buf in = {0};
  hh_srv_cfg cfg;
  (void)state;
  /* before MAIL: 503 */
  hh_buf_fmt(&in, EHLO "BDAT %zu\r\n%sNOOP\r\n", strlen(chunk), chunk);
  srv_expect("BDAT before MAIL", NULL, in.p, in.len, "220 250 503 250",
             "connect\nehlo client.example\nnoop\n", 0, 0);
  hh_buf_free(&in);
  /* CHUNKING not offered: 502 */
  memset(&cfg, 0, sizeof cfg);
  cfg.extensions = SMTP_EXT_PIPELINING | SMTP_EXT_8BITMIME | SMTP_EXT_ENHANCEDSTATUSCODES;
  hh_buf_fmt(&in, TXN "BDAT %zu LAST\r\n%sNOOP\r\n", strlen(chunk), chunk);
  srv_expect("BDAT not offered", &cfg, in.p, in.len, "220 250 250 250 502 250", NULL, 0, 1);
  hh_buf_free(&in);
  /* over the size limit: 552 (RFC 1870 6.3) */
  memset(&cfg, 0, sizeof cfg);
  cfg.max_size = 10;
  hh_buf_fmt(&in, TXN "BDAT %zu LAST\r\n%sNOOP\r\n", strlen(chunk), chunk);
  srv_expect("BDAT over SIZE", &cfg, in.p, in.len, "220 250 250 250 552 250", NULL, 0, 1);
  hh_buf_free(&in);
  /* no recipient: 554 (RFC 5321 3.3) */
  hh_buf_fmt(&in, EHLO MAIL_A "BDAT %zu LAST\r\n%sNOOP\r\n", strlen(chunk), chunk);
  srv_expect("BDAT without RCPT", NULL, in.p, in.len, "220 250 250 554 250", NULL, 0, 1);
  hh_buf_free(&in);
  /* after DATA was refused in the same transaction: BDAT after a failed chunk */
  memset(&cfg, 0, sizeof cfg);
  cfg.max_size = 60;
  hh_buf_fmt(&in, TXN "BDAT %zu\r\n%sBDAT %zu LAST\r\n%sNOOP\r\n", strlen(chunk), chunk,
             strlen(chunk), chunk);
  srv_expect("second BDAT over SIZE", &cfg, in.p, in.len, "220 250 250 250 250 552 250", NULL, 0, 1);
  hh_buf_free(&in);
}

/* ---- client role ---------------------------------------------------------- */

/* Bodies that stress dot-stuffing and line ends (RFC 5321 4.5.2, 2.3.8). */
static const struct {
  const char *b;
  size_t n;
} bodies[] = {
    {".leading dot\r\nsecond\r\n", 0},
    {"a\n.\nb", 0},
    {"a\r\n.\r\n" "MAIL FROM:<evil@attacker.example>\r\n", 0},
    {"no final line end", 0},
    {"bare\rcr\r.\r", 0},
    {".", 0},
    {"..", 0},
    {"\r\n.\r\n", 0},
    {"", 0},
    {"x\r\n..\r\n...\r\n.\r\n", 0},
    {".\n.\n.\n", 0},
};

typedef struct c1_arg {
  const char *body;
  size_t len;
  int bdat;
} c1_arg;

/* Client bytes: the DATA section must unstuff to the normalised body, end
 * at its one terminator, and hold no bare CR, bare LF or NUL. */
static void check_client_wire(const hh_buf *wire, const char *body, size_t len) {
  hh_buf norm = {0};
  const char *d = hh_find(wire->p, wire->len, "DATA\r\n", 6);
  smtp_unstuffer un;
  char *copy;
  size_t n, used;
  int r;
  hh_normalise(body, len, &norm);
  HH_CHECK(d != NULL);
  if (!d) return;
  d += 6;
  n = wire->len - (size_t)(d - wire->p);
  copy = malloc(n + 1);
  assert_non_null(copy);
  memcpy(copy, d, n);
  memset(&un, 0, sizeof un);
  used = 0;
  r = smtp_unstuff(&un, copy, &n, &used);
  HH_CHECK(r == 1);
  HH_CHECK(n == norm.len && memcmp(copy, norm.p ? norm.p : "", n) == 0);
  /* after the terminator: QUIT and nothing else */
  HH_CHECK(wire->len - (size_t)(d - wire->p) - used == 6 &&
           memcmp(d + used, "QUIT\r\n", 6) == 0);
  free(copy);
  for (size_t i = 0; i < wire->len; i++) {
    char ch = wire->p[i];
    HH_CHECK(ch != '\0');
    if (ch == '\r') HH_CHECK(i + 1 < wire->len && wire->p[i + 1] == '\n');
    if (ch == '\n') HH_CHECK(i > 0 && wire->p[i - 1] == '\r');
  }
  hh_buf_free(&norm);
}

static void pair_one(hh_pair *p, const hh_srv_cfg *scfg, const hh_cli_cfg *ccfg,
                     const hh_cli_txn *txns, int ntxn, int mode, uint32_t seed) {
  memset(p, 0, sizeof *p);
  hh_srv_new(&p->srv, scfg, 0);
  p->srv.mode = mode;
  p->srv.rng = seed ^ 0x5a5a5a5au;
  assert_int_equal(hh_cli_new(&p->cli, ccfg, txns, ntxn, 0), SMTP_OK);
  p->cli.mode = mode;
  p->cli.rng = seed ^ 0xa5a5a5a5u;
  p->mode = mode;
  p->rng = seed;
  hh_pair_run(p);
}

/* The client configuration and the one transaction (alice to bob) of the
 * client body tests: no STARTTLS, DATA (CHUNKING disabled) unless
 * @p chunking; @p body from source @p src (0: memory, 1: pushed, 2: read). */
static void body_txn(hh_cli_cfg *ccfg, hh_cli_txn *t, int chunking, const char *body, size_t len,
                     int src) {
  memset(ccfg, 0, sizeof *ccfg);
  ccfg->starttls = SMTP_CLIENT_STARTTLS_OFF;
  if (!chunking) ccfg->disabled = SMTP_EXT_CHUNKING;
  memset(t, 0, sizeof *t);
  t->from = "alice@sender.example";
  t->rcpt[0] = "bob@rcpt.example";
  t->nrcpt = 1;
  t->body = body;
  t->body_len = len;
  t->body_source = src == 0 ? 0 : src == 1 ? SMTP_CLIENT_BODY_PUSH : SMTP_CLIENT_BODY_READ;
}

/* What the client sent after its DATA command at @p d never ends the data:
 * no CRLF.CRLF, no "." line first (docs/security.md 1). */
static void check_no_terminator(const hh_pair *p, const char *d) {
  size_t rest = p->c2s_all.len - (size_t)(d + 6 - p->c2s_all.p);
  HH_CHECK(hh_find(d + 6, rest, "\r\n.\r\n", 5) == NULL);
  HH_CHECK(!(rest >= 3 && memcmp(d + 6, ".\r\n", 3) == 0));
}

static void c1_stuffing(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    for (int src = 0; src < 3; src++) {
      for (int m = 0; m < 2 + HH_SPLITS / 3; m++) {
        int mode = m == 0 ? HH_WHOLE : m == 1 ? HH_BYTES : HH_RANDOM;
        uint32_t seed = (uint32_t)(m * 104729 + 1);
        hh_pair p;
        hh_cli_cfg ccfg;
        hh_cli_txn t;
        hh_buf norm = {0};
        body_txn(&ccfg, &t, 0, bodies[i].b, strlen(bodies[i].b), src); /* DATA, not BDAT */
        snprintf(hh_ctx, sizeof hh_ctx, "client stuffing body %zu source %d, %s, seed %u", i, src,
                 hh_mode_name(mode), seed);
        pair_one(&p, NULL, &ccfg, &t, 1, mode, seed);
        HH_CHECK(p.cli.ndone == 1 && p.cli.done_status[0] == SMTP_OK);
        HH_CHECK(p.cli.nclosed == 1 && p.cli.closed_error == 0);
        check_client_wire(&p.c2s_all, t.body, t.body_len);
        /* and the server got exactly the normalised body */
        hh_normalise(t.body, t.body_len, &norm);
        HH_CHECK(p.srv.ntxn == 1);
        HH_CHECK(p.srv.txn[0].data.len == norm.len &&
                 memcmp(hh_buf_cstr(&p.srv.txn[0].data), hh_buf_cstr(&norm), norm.len) == 0);
        hh_buf_free(&norm);
        hh_pair_free(&p);
      }
    }
  }
}

/* Worst-case growth of the stuffed output ("\n." becomes "\r\n..", curl
 * CVE-2018-0500) through the smallest output buffer. */
static void c1_worst_case_growth(void **state) {
  static const char *units[] = {"\n.", "\r.", ".\n", "\r\n."};
  (void)state;
  for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
    for (int src = 0; src < 3; src++) {
      hh_buf body = {0};
      hh_pair p;
      hh_cli_cfg ccfg;
      hh_cli_txn t;
      for (int k = 0; k < 20000; k++) {
        hh_buf_str(&body, units[u]);
        /* memory bodies: a CRLF now and then (see regress_client_memory_bare_lf_body) */
        if (src == 0 && k % 100 == 99) hh_buf_str(&body, "\r\n");
      }
      body_txn(&ccfg, &t, 0, body.p, body.len, src);
      ccfg.output_buffer = SMTP_CLIENT_OUTPUT_MIN;
      snprintf(hh_ctx, sizeof hh_ctx, "worst-case growth unit %zu source %d", u, src);
      pair_one(&p, NULL, &ccfg, &t, 1, HH_RANDOM, (uint32_t)(u * 31 + (size_t)src + 1));
      HH_CHECK(p.cli.ndone == 1 && p.cli.done_status[0] == SMTP_OK);
      check_client_wire(&p.c2s_all, t.body, t.body_len);
      hh_pair_free(&p);
      hh_buf_free(&body);
    }
  }
}

/* Invalid bodies: refused before MAIL when known (memory), else the session
 * ends after 354 without the terminator (docs/security.md 1). */
static void c1_invalid_body(void **state) {
  hh_buf longline = {0};
  (void)state;
  for (int k = 0; k < 999; k++) hh_buf_add(&longline, "y", 1);
  hh_buf_str(&longline, "\r\n"); /* 1001 octets with CRLF (RFC 5321 4.5.3.1.6) */
  {
    const struct {
      const char *b;
      size_t n;
      int err;
    } bad[] = {
        {"nul\0byte\r\n", 10, SMTP_ERR_NUL},
        {"ok\r\n.\r\n\0", 9, SMTP_ERR_NUL},
        {longline.p, longline.len, SMTP_ERR_LINE_TOO_LONG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      for (int src = 0; src < 3; src++) {
        hh_pair p;
        hh_cli_cfg ccfg;
        hh_cli_txn t;
        const char *d;
        body_txn(&ccfg, &t, 0, bad[i].b, bad[i].n, src);
        snprintf(hh_ctx, sizeof hh_ctx, "invalid body %zu source %d", i, src);
        pair_one(&p, NULL, &ccfg, &t, 1, HH_RANDOM, (uint32_t)(i * 3 + (size_t)src + 1));
        HH_CHECK(p.cli.ndone == 1 && p.cli.done_status[0] != SMTP_OK);
        HH_CHECK(p.srv.n_end == 0); /* nothing was delivered */
        d = hh_find(p.c2s_all.p, p.c2s_all.len, "DATA\r\n", 6);
        if (src == 0) {
          /* known before MAIL: nothing sent for it */
          HH_CHECK(p.cli.done_status[0] == bad[i].err);
          HH_CHECK(!HH_HAS(p.c2s_all, "MAIL FROM"));
        } else if (d) {
          /* after 354: no terminator was ever sent */
          check_no_terminator(&p, d);
        }
        hh_pair_free(&p);
      }
    }
  }
  hh_buf_free(&longline);
}

/* A body source failing after 354 (docs/security.md 1): close without the terminator. */
static void c1_read_fails_after_354(void **state) {
  static const int fail_at[] = {0, 1, 7, 100};
  hh_buf body = {0};
  (void)state;
  for (int k = 0; k < 40; k++) hh_buf_str(&body, "line of text\r\n");
  for (size_t i = 0; i < sizeof fail_at / sizeof fail_at[0]; i++) {
    hh_pair p;
    hh_cli_cfg ccfg;
    hh_cli_txn t;
    const char *d;
    body_txn(&ccfg, &t, 0, body.p, body.len, 2);
    snprintf(hh_ctx, sizeof hh_ctx, "read_body fails at %d", fail_at[i]);
    memset(&p, 0, sizeof p);
    hh_srv_new(&p.srv, NULL, 0);
    assert_int_equal(hh_cli_new(&p.cli, &ccfg, &t, 1, 0), SMTP_OK);
    p.cli.read_fail_at = fail_at[i];
    p.mode = p.cli.mode = p.srv.mode = HH_WHOLE;
    hh_pair_run(&p);
    HH_CHECK(p.cli.ndone == 1 && p.cli.done_status[0] != SMTP_OK);
    HH_CHECK(p.srv.n_end == 0);
    d = hh_find(p.c2s_all.p, p.c2s_all.len, "DATA\r\n", 6);
    HH_CHECK(d != NULL);
    if (d) check_no_terminator(&p, d);
    hh_pair_free(&p);
  }
  hh_buf_free(&body);
}

/* BDAT from the client: counted chunks, no stuffing; what the server
 * receives is the normalised body (RFC 3030 2). */
static void c1_bdat_counted(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    for (int src = 0; src < 3; src++) {
      hh_pair p;
      hh_cli_cfg ccfg;
      hh_cli_txn t;
      hh_buf norm = {0};
      uint64_t total = 0;
      const char *q;
      body_txn(&ccfg, &t, 1, bodies[i].b, strlen(bodies[i].b), src);
      snprintf(hh_ctx, sizeof hh_ctx, "client BDAT body %zu source %d", i, src);
      pair_one(&p, NULL, &ccfg, &t, 1, HH_RANDOM, (uint32_t)(i * 5 + (size_t)src + 3));
      HH_CHECK(p.cli.ndone == 1 && p.cli.done_status[0] == SMTP_OK);
      HH_CHECK(!HH_HAS(p.c2s_all, "DATA\r\n"));
      hh_normalise(t.body, t.body_len, &norm);
      HH_CHECK(p.srv.ntxn == 1 && p.srv.txn[0].bdat == 1);
      HH_CHECK(p.srv.txn[0].data.len == norm.len &&
               memcmp(hh_buf_cstr(&p.srv.txn[0].data), hh_buf_cstr(&norm), norm.len) == 0);
      /* the chunk sizes add up to the body */
      q = p.c2s_all.p;
      while ((q = hh_find(q, p.c2s_all.len - (size_t)(q - p.c2s_all.p), "BDAT ", 5)) != NULL) {
        uint64_t v = 0;
        q += 5;
        while (*q >= '0' && *q <= '9') v = v * 10 + (uint64_t)(*q++ - '0');
        total += v;
        q = hh_find(q, p.c2s_all.len - (size_t)(q - p.c2s_all.p), "\r\n", 2);
        if (!q) break;
        q += 2 + v;
      }
      HH_CHECK(total == norm.len);
      hh_buf_free(&norm);
      hh_pair_free(&p);
    }
  }
}

/* ======================================================================== */
/* 2. STARTTLS                                                               */
/* ======================================================================== */

/* Commands pipelined behind STARTTLS are never run (CVE-2011-0411 Postfix,
 * CVE-2021-38371 Exim, CVE-2024-34083 aiosmtpd; RFC 3207 5), whatever the
 * spelling; after the handshake every earlier state is gone (RFC 3207 4.2). */
static void check_starttls_injection(hh_srv *h, const void *arg) {
  const char *codes = arg;
  hh_buf c = {0};
  hh_srv_codes(h, &c);
  HH_CHECK_STR(hh_buf_cstr(&c), codes);
  HH_CHECK(h->n_tls == 1);
  HH_CHECK(h->n_mail == 0 && h->n_auth == 0);
  HH_CHECK(strstr(hh_buf_cstr(&h->log), "evil") == NULL);
  HH_CHECK(strstr(hh_buf_cstr(&h->log), "rset") == NULL);
  HH_CHECK(strstr(hh_buf_cstr(&h->log), "auth ") == NULL);
  HH_CHECK(strstr(hh_buf_cstr(&h->log), "quit") == NULL);
  HH_CHECK(!smtp_server_session_is_closed(h->s));
  hh_buf_free(&c);
}

static void s2_starttls_injection(void **state) {
  static const char *inject[] = {
      "STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\n",
      "starttls\r\nRSET\r\n",
      "StartTLS\r\nEHLO evil.example\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
      "STARTTLS\r\n\r\nNOOP\r\nMAIL FROM:<evil@attacker.example>\r\n",
      "STARTTLS\r\nQUIT\r\n",
      "STARTTLS\r\nRSET\nMAIL FROM:<evil@attacker.example>\r\n",
  };
  (void)state;
  for (size_t i = 0; i < sizeof inject / sizeof inject[0]; i++) {
    hh_buf pre = {0};
    srv_case c;
    memset(&c, 0, sizeof c);
    c.name = "STARTTLS with pipelined commands";
    c.cfg.tls = 1;
    c.cfg.auth = 1;
    hh_buf_str(&pre, EHLO);
    hh_buf_str(&pre, inject[i]);
    c.pre = pre.p;
    c.prelen = pre.len;
    /* MAIL after the handshake but before EHLO: 503 (state forgotten) */
    c.post = "MAIL FROM:<alice@sender.example>\r\nEHLO client.example\r\nNOOP\r\n";
    c.sni = "mx.example.test";
    srv_all(&c, check_starttls_injection, "220 250 220 503 250 250");
    hh_buf_free(&pre);
  }
}

/* After the handshake: no EHLO, no AUTH, no transaction (RFC 3207 4.2). */
static void check_tls_forgets(hh_srv *h, const void *arg) {
  hh_buf c = {0};
  (void)arg;
  hh_srv_codes(h, &c);
  HH_CHECK_STR(hh_buf_cstr(&c), "220 250 235 220 503 503 250");
  HH_CHECK(h->n_auth == 1);
  HH_CHECK(smtp_server_session_auth_user(h->s, NULL) == NULL);
  HH_CHECK(!(smtp_server_session_flags(h->s) & SMTP_SERVER_FLAG_AUTH));
  HH_CHECK(smtp_server_session_flags(h->s) & SMTP_SERVER_FLAG_TLS);
  HH_CHECK(smtp_server_session_transaction_count(h->s) == 0);
  hh_buf_free(&c);
}

static void s2_tls_forgets_state(void **state) {
  srv_case c;
  (void)state;
  memset(&c, 0, sizeof c);
  c.name = "state forgotten after TLS";
  c.cfg.tls = 1;
  c.cfg.auth = 1;
  c.cfg.plaintext_auth = 1;
  c.pre = EHLO "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nSTARTTLS\r\n";
  c.post = "MAIL FROM:<alice@sender.example>\r\nRCPT TO:<bob@rcpt.example>\r\nEHLO client.example\r\n";
  c.sni = "mx.example.test";
  srv_all(&c, check_tls_forgets, NULL);
}

/* SNI is untrusted bytes (docs/security.md 2): stored without controls. */
static void check_sni(hh_srv *h, const void *arg) {
  smtp_tls_info info;
  (void)arg;
  HH_CHECK(smtp_server_session_tls_info(h->s, &info) == SMTP_OK);
  HH_CHECK(info.sni != NULL);
  if (info.sni)
    for (const char *q = info.sni; *q; q++) HH_CHECK((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f);
}

static void s2_sni_untrusted(void **state) {
  static const char *snis[] = {"mx.example\r\nMAIL FROM:<evil@x>", "\x1b[31mred\x1b[0m",
                               "caf\xc3\xa9.example", "a\tb\x7f"};
  (void)state;
  for (size_t i = 0; i < sizeof snis / sizeof snis[0]; i++) {
    srv_case c;
    memset(&c, 0, sizeof c);
    c.name = "SNI with controls";
    c.cfg.tls = 1;
    c.pre = EHLO "STARTTLS\r\n";
    c.post = EHLO;
    c.sni = snis[i];
    srv_all(&c, check_sni, NULL);
  }
}

/* A refused STARTTLS leaves the session in clear text and executes what
 * follows normally; STARTTLS inside a transaction or twice is refused
 * (RFC 3207 4). */
static void s2_starttls_refusals(void **state) {
  hh_srv_cfg cfg;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  srv_expect("STARTTLS not offered", &cfg, EHLO "STARTTLS\r\nNOOP\r\n", 0, "220 250 502 250", NULL, 0, 0);
  cfg.tls = 1;
  srv_expect("STARTTLS in a transaction", &cfg, EHLO MAIL_A "STARTTLS\r\nNOOP\r\n", 0,
             "220 250 250 503 250", NULL, 0, 1);
  srv_expect("STARTTLS with an argument", &cfg, EHLO "STARTTLS now\r\nNOOP\r\n", 0, "220 250 501 250",
             NULL, 0, 0);
  srv_expect("STARTTLS before EHLO", &cfg, "STARTTLS\r\nNOOP\r\n", 0, "220 503 250", NULL, 0, 0);
  cfg.refuse_starttls = 1;
  srv_expect("STARTTLS refused by the application", &cfg, EHLO "STARTTLS\r\nNOOP\r\n", 0,
             "220 250 454 250", NULL, 0, 0);
}

/* ---- client role ---------------------------------------------------------- */

typedef void (*cli_check_fn)(hh_cli *h, const void *arg);

#define GREET "220 mx.example.test ESMTP\r\n"
#define EHLO_PLAIN "250 mx.example.test\r\n"
#define EHLO_TLS "250-mx.example.test\r\n250 STARTTLS\r\n"

static const hh_cli_txn default_txn = {
    "alice@sender.example", {"bob@rcpt.example"}, {0}, {NULL}, 1, "hello\r\n", 7, 0, 0, 0, NULL, 0};

enum { M_WHOLE = 1, M_BYTES = 2, M_RANDOM = 4, M_ALL = 7 };

static void cli_script_all(const char *name, const hh_cli_cfg *cfg, const hh_cli_txn *txn,
                           const char *const *steps, size_t n, cli_check_fn check, const void *arg,
                           int modes) {
  for (int m = 0; m < 2 + HH_SPLITS; m++) {
    int mode = m == 0 ? HH_WHOLE : m == 1 ? HH_BYTES : HH_RANDOM;
    uint32_t seed = (uint32_t)m * 2654435761u;
    hh_cli h;
    if (!(modes & (1 << mode))) continue;
    snprintf(hh_ctx, sizeof hh_ctx, "%s, %s, seed %u", name, hh_mode_name(mode), seed);
    assert_int_equal(hh_cli_new(&h, cfg, txn ? txn : &default_txn, 1, 0), SMTP_OK);
    h.mode = mode;
    h.rng = seed;
    hh_cli_script(&h, steps, n);
    check(&h, arg);
    hh_cli_free(&h);
  }
}

typedef struct cexpect {
  int closed_error;     /* expected CLOSED error (INT32_MIN: any) */
  int txn_ok;           /* 1: delivered, 0: not delivered, -1: do not care */
  const char *absent;   /* a string the client must never have written */
  const char *present;  /* a string it must have written */
} cexpect;

#define ANY_ERR (-2147483647 - 1)

static void check_cexpect(hh_cli *h, const void *arg) {
  const cexpect *e = arg;
  HH_CHECK(h->nclosed == 1);
  if (e->closed_error != ANY_ERR) {
    if (h->closed_error != e->closed_error)
      print_error("closed with %d, want %d; log:\n%s\n", h->closed_error, e->closed_error,
                  hh_buf_cstr(&h->log));
    HH_CHECK(h->closed_error == e->closed_error);
  }
  if (e->txn_ok >= 0) {
    HH_CHECK(h->ndone == 1);
    if (e->txn_ok) HH_CHECK(h->done_status[0] == SMTP_OK);
    else HH_CHECK(h->done_status[0] != SMTP_OK);
  }
  if (e->absent) HH_CHECK(strstr(hh_buf_cstr(&h->out), e->absent) == NULL);
  if (e->present) HH_CHECK(strstr(hh_buf_cstr(&h->out), e->present) != NULL);
}

/* Bytes after the 220 to STARTTLS, before the handshake, are a protocol
 * error (CVE-2021-22947 curl, CVE-2011-0411 client side, MailKit
 * GHSA-9j88-vvj5-vhgr): never read as the post-TLS capabilities. */
static void c2_starttls_response_injection(void **state) {
  static const char *inject[] = {"250-mx.example.test\r\n250 AUTH PLAIN\r\n", "421 bye\r\n", "2",
                                 "\r\n"};
  hh_cli_cfg cfg;
  cexpect e = {SMTP_ERR_PROTOCOL, 0, "MAIL FROM", "STARTTLS\r\n"};
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.user = "alice";
  cfg.pass = "secret";
  for (size_t i = 0; i < sizeof inject / sizeof inject[0]; i++) {
    char s220[128];
    const char *steps[] = {GREET, EHLO_TLS, s220, "@TLS", "250-mx.example.test\r\n250 AUTH PLAIN\r\n",
                           "235 ok\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n"};
    snprintf(s220, sizeof s220, "220 2.0.0 Ready to start TLS\r\n%s", inject[i]);
    cli_script_all("STARTTLS response injection", &cfg, NULL, steps, sizeof steps / sizeof *steps,
                   check_cexpect, &e, M_ALL);
  }
}

/* Only the capabilities after TLS count (RFC 3207 4.2). */
static void c2_caps_after_tls_only(void **state) {
  hh_cli_cfg cfg;
  hh_cli_txn t = default_txn;
  char body[101];
  (void)state;
  memset(body, 'b', 98);
  memcpy(body + 98, "\r\n", 3);
  t.body = body;
  t.body_len = 100;
  memset(&cfg, 0, sizeof cfg);
  {
    /* pre-TLS SIZE 10 would refuse the 100-octet body; post-TLS allows it */
    const char *steps[] = {GREET, "250-mx.example.test\r\n250-SIZE 10\r\n250 STARTTLS\r\n",
                           "220 go\r\n", "@TLS", "250-mx.example.test\r\n250 SIZE 100000\r\n",
                           "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n", "221 bye\r\n"};
    cexpect e = {0, 1, NULL, "SIZE=100"};
    cli_script_all("SIZE only after TLS", &cfg, &t, steps, sizeof steps / sizeof *steps, check_cexpect,
                   &e, M_ALL);
  }
  {
    /* pre-TLS CHUNKING, post-TLS none: DATA, never BDAT */
    const char *steps[] = {GREET, "250-mx.example.test\r\n250-CHUNKING\r\n250 STARTTLS\r\n",
                           "220 go\r\n", "@TLS", "250 mx.example.test\r\n",
                           "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n", "221 bye\r\n"};
    cexpect e = {0, 1, "BDAT", "DATA\r\n"};
    cli_script_all("CHUNKING only before TLS", &cfg, &t, steps, sizeof steps / sizeof *steps,
                   check_cexpect, &e, M_ALL);
  }
  {
    /* pre-TLS AUTH CRAM-MD5, post-TLS AUTH LOGIN: LOGIN is used */
    const char *steps[] = {GREET, "250-mx.example.test\r\n250-AUTH CRAM-MD5\r\n250 STARTTLS\r\n",
                           "220 go\r\n", "@TLS", "250-mx.example.test\r\n250 AUTH LOGIN\r\n",
                           "535 5.7.8 no\r\n", "221 bye\r\n"};
    cexpect e = {ANY_ERR, -1, "AUTH CRAM-MD5", "AUTH LOGIN"};
    cfg.user = "alice";
    cfg.pass = "secret";
    cli_script_all("AUTH list only after TLS", &cfg, &t, steps, sizeof steps / sizeof *steps,
                   check_cexpect, &e, M_ALL);
  }
}

/* TLS required: every failure ends the session before AUTH or MAIL
 * (RFC 3207 4.1 / RFC 8314; docs/security.md 2); credentials never travel in
 * clear text unless allowed (RFC 4954 4). */
static void c2_tls_required(void **state) {
  hh_cli_cfg cfg;
  cexpect e = {SMTP_ERR_TLS_REQUIRED, 0, "MAIL FROM", NULL};
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.starttls = SMTP_CLIENT_STARTTLS_REQUIRED;
  cfg.user = "alice";
  cfg.pass = "secret";
  {
    const char *steps[] = {GREET, "250-mx.example.test\r\n250 AUTH PLAIN\r\n", "221 bye\r\n"};
    cli_script_all("TLS required, not offered", &cfg, NULL, steps, 3, check_cexpect, &e, M_ALL);
  }
  {
    const char *steps[] = {GREET, "250-mx.example.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
                           "454 4.7.0 TLS not available\r\n", "221 bye\r\n"};
    cexpect e2 = {ANY_ERR, 0, "AUTH", NULL};
    cli_script_all("TLS required, 454", &cfg, NULL, steps, 4, check_cexpect, &e2, M_ALL);
  }
  {
    const char *steps[] = {GREET, "250-mx.example.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
                           "502 5.5.1 no\r\n", "221 bye\r\n"};
    cexpect e2 = {ANY_ERR, 0, "AUTH", NULL};
    cli_script_all("TLS required, 502", &cfg, NULL, steps, 4, check_cexpect, &e2, M_ALL);
  }
  {
    const char *steps[] = {GREET, "250-mx.example.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
                           "220 go\r\n", "@TLSFAIL", "250 mx.example.test\r\n"};
    cexpect e2 = {SMTP_ERR_TLS_HANDSHAKE, 0, "AUTH", NULL};
    cli_script_all("TLS required, handshake fails", &cfg, NULL, steps, 5, check_cexpect, &e2, M_ALL);
    cfg.starttls = SMTP_CLIENT_STARTTLS_OPPORTUNISTIC;
    /* opportunistic: a failed handshake is not followed by clear text either */
    cli_script_all("opportunistic, handshake fails", &cfg, NULL, steps, 5, check_cexpect, &e2, M_ALL);
  }
  {
    /* no TLS, AUTH offered, plaintext not allowed: no AUTH line at all */
    const char *steps[] = {GREET, "250-mx.example.test\r\n250 AUTH PLAIN LOGIN\r\n", "250 ok\r\n",
                           "250 ok\r\n", "354 go\r\n", "250 ok\r\n", "221 bye\r\n"};
    cexpect e2 = {ANY_ERR, -1, "AUTH", NULL};
    cfg.starttls = SMTP_CLIENT_STARTTLS_OPPORTUNISTIC;
    cli_script_all("credentials without TLS", &cfg, NULL, steps, 7, check_cexpect, &e2, M_ALL);
  }
}

/* A TLS close or alert ends the SMTP session: nothing more is written in
 * clear text (Exim CVE-2020-28018 / CVE-2020-28024 class). */
static void check_tls_closed(hh_cli *h, const void *arg) {
  const char *after = strstr(hh_buf_cstr(&h->out), (const char *)arg);
  HH_CHECK(h->nclosed == 1);
  HH_CHECK(h->closed_error == SMTP_ERR_TLS_CLOSED);
  HH_CHECK(h->ndone == 1 && h->done_status[0] != SMTP_OK);
  HH_CHECK(after != NULL);
  /* nothing after the last command written before the close */
  if (after) HH_CHECK(strlen(after) == strlen((const char *)arg));
}

static void c2_tls_close_ends(void **state) {
  hh_cli_cfg cfg;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.disabled = SMTP_EXT_PIPELINING;
  {
    const char *steps[] = {GREET, EHLO_TLS, "220 go\r\n", "@TLS", EHLO_PLAIN, "@TLSCLOSED", "250 ok\r\n"};
    cli_script_all("TLS closed after MAIL", &cfg, NULL, steps, 7, check_tls_closed,
                   "MAIL FROM:<alice@sender.example>\r\n", M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_TLS, "220 go\r\n", "@TLS", EHLO_PLAIN, "250 ok\r\n",
                           "@TLSCLOSED", "250 ok\r\n"};
    cli_script_all("TLS closed after RCPT", &cfg, NULL, steps, 8, check_tls_closed,
                   "RCPT TO:<bob@rcpt.example>\r\n", M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_TLS, "220 go\r\n", "@TLS", EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n",
                           "354 go\r\n", "@TLSCLOSED", "250 ok\r\n"};
    cli_script_all("TLS closed after the data", &cfg, NULL, steps, 10, check_tls_closed,
                   "hello\r\n.\r\n", M_ALL);
  }
}

/* ======================================================================== */
/* 3. Injection through API inputs                                           */
/* ======================================================================== */

/* Client: every string is validated before a byte is written; CR, LF, NUL
 * and other controls are errors (bpo-43124 smtplib, nodemailer
 * GHSA-c7w3-x93f-qmm8, RFC 5321 4.1.2). */
static void c3_api_injection(void **state) {
  static const struct {
    const char *s;
    size_t n;
  } bad_addr[] = {
      {"alice@sender.example\r\nRCPT TO:<evil@attacker.example>", 0},
      {"alice@sender.example>\r\nRSET", 0},
      {"alice\0@sender.example", 21},
      {"<alice@sender.example> SIZE=1", 0},
      {"alice@sender.example\n", 0},
      {"alice@sender.example\r", 0},
      {"ali\x01" "ce@sender.example", 0},
      {"alice@sender.example\x7f", 0},
      {"alice@sender.example> AUTH=<evil", 0},
  };
  smtp_client_txn *t;
  smtp_client_options *o;
  (void)state;
  snprintf(hh_ctx, sizeof hh_ctx, "API injection");
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  for (size_t i = 0; i < sizeof bad_addr / sizeof bad_addr[0]; i++) {
    size_t n = bad_addr[i].n ? bad_addr[i].n : strlen(bad_addr[i].s);
    snprintf(hh_ctx, sizeof hh_ctx, "API injection address %zu", i);
    HH_CHECK(smtp_client_txn_set_from(t, bad_addr[i].s, n) < 0);
    HH_CHECK(smtp_client_txn_add_rcpt(t, bad_addr[i].s, n, 0, NULL, 0) < 0);
  }
  HH_CHECK(smtp_client_txn_set_from(t, "a\r\nb@x.example", 14) == SMTP_ERR_BAD_CHAR);
  HH_CHECK(smtp_client_txn_rcpt_count(t) == 0);
  /* ORCPT (RFC 3461 4.2), ENVID (4.4), NOTIFY (4.1) */
  HH_CHECK(smtp_client_txn_add_rcpt(t, "bob@rcpt.example", 16, 0, "bob@rcpt.example\r\nRSET", 22) ==
           SMTP_ERR_BAD_CHAR);
  HH_CHECK(smtp_client_txn_add_rcpt(t, "bob@rcpt.example", 16, 0, "b\0b", 3) == SMTP_ERR_BAD_CHAR);
  HH_CHECK(smtp_client_txn_add_rcpt(t, "bob@rcpt.example", 16, 0x10, NULL, 0) == SMTP_ERR_INVALID_ARGUMENT);
  HH_CHECK(smtp_client_txn_add_rcpt(t, "bob@rcpt.example", 16,
                                    SMTP_DSN_NOTIFY_NEVER | SMTP_DSN_NOTIFY_SUCCESS, NULL, 0) ==
           SMTP_ERR_INVALID_ARGUMENT);
  HH_CHECK(smtp_client_txn_set_dsn(t, SMTP_DSN_RET_FULL, "id\r\nRSET", 8) == SMTP_ERR_BAD_CHAR);
  HH_CHECK(smtp_client_txn_set_dsn(t, SMTP_DSN_RET_FULL, "id\x7f", 3) == SMTP_ERR_BAD_CHAR);
  HH_CHECK(smtp_client_txn_set_dsn(t, SMTP_DSN_RET_FULL, "caf\xc3\xa9", 5) == SMTP_ERR_BAD_CHAR);
  HH_CHECK(smtp_client_txn_set_dsn(t, 7, "id", 2) == SMTP_ERR_INVALID_ARGUMENT);
  /* EHLO name (RFC 5321 4.1.1.1) */
  HH_CHECK(smtp_client_options_set_ehlo_name(o, "c.example\r\nMAIL FROM:<evil@x>") < 0);
  HH_CHECK(smtp_client_options_set_ehlo_name(o, "c example") < 0);
  HH_CHECK(smtp_client_options_set_ehlo_name(o, "c.example\n") < 0);
  HH_CHECK(smtp_client_options_set_ehlo_name(o, "[1.2.3.4]\r\n") < 0);
  /* credentials (RFC 4954, RFC 4616) */
  HH_CHECK(smtp_client_options_set_credentials(o, NULL, "alice\r\nMAIL FROM:<x>", "secret") < 0);
  HH_CHECK(smtp_client_options_set_credentials(o, NULL, "alice", "se\ncret") < 0);
  HH_CHECK(smtp_client_options_set_credentials(o, "\x01", "alice", "secret") < 0);
  HH_CHECK(smtp_client_options_set_credentials(o, NULL, "\xc0\xaf", "secret") < 0);
  HH_CHECK(smtp_client_options_set_oauth_token(o, "alice", "tok\r\nen") < 0);
  smtp_client_txn_del(t);
  smtp_client_options_del(o);
}

/* Server: decoded values are validated again before the application sees
 * them (docs/security.md 3; Exim CVE-2020-28021 AUTH= parameter; RFC 3461 4). */
static void s3_decoded_values(void **state) {
  hh_srv_cfg cfg;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.extensions = SMTP_SERVER_DEFAULT_EXTENSIONS | SMTP_EXT_DSN;
  cfg.auth = 1;
  cfg.plaintext_auth = 1;
  srv_expect("ENVID with CRLF", &cfg, EHLO "MAIL FROM:<a@x.example> ENVID=id+0D+0ARSET\r\n", 0,
             "220 250 501", NULL, 0, 0);
  srv_expect("ENVID with NUL", &cfg, EHLO "MAIL FROM:<a@x.example> ENVID=id+00x\r\n", 0, "220 250 501",
             NULL, 0, 0);
  srv_expect("ENVID with 8-bit", &cfg, EHLO "MAIL FROM:<a@x.example> ENVID=id+C3+A9\r\n", 0,
             "220 250 501", NULL, 0, 0);
  srv_expect("AUTH= with CRLF (CVE-2020-28021)", &cfg,
             EHLO "MAIL FROM:<a@x.example> AUTH=<a+0D+0A@x.example>\r\n", 0, "220 250 501", NULL, 0, 0);
  srv_expect("AUTH= with a bad xtext", &cfg, EHLO "MAIL FROM:<a@x.example> AUTH=a+0\r\n", 0,
             "220 250 501", NULL, 0, 0);
  srv_expect("ORCPT with CRLF", &cfg,
             EHLO "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example> ORCPT=rfc822;b+0D+0Ac@y.example\r\n",
             0, "220 250 250 501", NULL, 0, 1);
  srv_expect("ORCPT with NUL", &cfg,
             EHLO "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example> ORCPT=rfc822;b+00@y.example\r\n", 0,
             "220 250 250 501", NULL, 0, 1);
  srv_expect("ORCPT utf-8 with controls", &cfg,
             EHLO "MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example> ORCPT=utf-8;b+0A@y.example\r\n", 0,
             "220 250 250 501", NULL, 0, 1);
  /* AUTH PLAIN whose decoded authcid holds CRLF never authenticates */
  srv_expect("PLAIN authcid with CRLF", &cfg, EHLO "AUTH PLAIN AGFsaWNlDQpYAHNlY3JldA==\r\n", 0,
             "220 250 535", "connect\nehlo client.example\n", 0, 0);
  srv_expect("PLAIN authcid overlong UTF-8", &cfg, EHLO "AUTH PLAIN AMCvYWxpY2UAc2VjcmV0\r\n", 0,
             "220 250 535", "connect\nehlo client.example\n", 0, 0);
  srv_expect("LOGIN user with LF", &cfg, EHLO "AUTH LOGIN YWxpY2UKcm9vdA==\r\n", 0, "220 250 535",
             "connect\nehlo client.example\n", 0, 0);
}

/* ======================================================================== */
/* 4. Bounds and arithmetic                                                  */
/* ======================================================================== */

/* Command lines over 512 octets: 500, the rest discarded, the session goes
 * on (RFC 5321 4.5.3.1.4; Exim 21Nails CVE-2020-28019 class). */
static void s4_command_line_limit(void **state) {
  hh_buf in = {0};
  (void)state;
  /* 512 octets with CRLF: fine */
  hh_buf_str(&in, "NOOP ");
  while (in.len < 510) hh_buf_add(&in, "a", 1);
  hh_buf_str(&in, "\r\n");
  srv_expect("512-octet NOOP", NULL, in.p, in.len, "220 250", "connect\nnoop\n", 0, 0);
  hh_buf_free(&in);
  /* 513 octets: 500 5.5.6 */
  hh_buf_str(&in, "NOOP ");
  while (in.len < 511) hh_buf_add(&in, "a", 1);
  hh_buf_str(&in, "\r\nNOOP\r\n");
  srv_expect("513-octet NOOP", NULL, in.p, in.len, "220 500 250", "connect\nnoop\n", 0, 0);
  hh_buf_free(&in);
  /* VRFY, HELP, EHLO just over */
  hh_buf_str(&in, "VRFY ");
  while (in.len < 600) hh_buf_add(&in, "v", 1);
  hh_buf_str(&in, "\r\nEHLO ");
  while (in.len < 1300) hh_buf_add(&in, "h", 1);
  hh_buf_str(&in, "\r\nNOOP\r\n");
  srv_expect("long VRFY and EHLO", NULL, in.p, in.len, "220 500 500 250", "connect\nnoop\n", 0, 0);
  hh_buf_free(&in);
}

/* A peer that never sends CRLF costs bounded memory: one allocation, the
 * session's own (docs/security.md 4). */
static void check_bounded(hh_srv *h, const void *arg) {
  hh_buf c = {0};
  (void)arg;
  hh_srv_codes(h, &c);
  HH_CHECK_STR(hh_buf_cstr(&c), "220 500 250");
  HH_CHECK(h->mem.count == 1);
  hh_buf_free(&c);
}

static void s4_no_crlf_bounded(void **state) {
  static const size_t sizes[] = {4096, 100000, 1 << 20};
  (void)state;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char *in = malloc(sizes[i] + 16);
    srv_case c;
    assert_non_null(in);
    memset(in, i == 1 ? '\r' : 'A', sizes[i]); /* CRs without LF, too */
    memcpy(in + sizes[i], "\r\nNOOP\r\n", 8);
    memset(&c, 0, sizeof c);
    c.name = "never CRLF";
    c.pre = in;
    c.prelen = sizes[i] + 8;
    if (sizes[i] > 200000) {
      srv_one(&c, HH_WHOLE, 0, check_bounded, NULL);
      srv_one(&c, HH_RANDOM, 5, check_bounded, NULL);
    } else {
      srv_all(&c, check_bounded, NULL);
    }
    free(in);
  }
}

/* SIZE and BDAT numbers: digits only, overflow-checked, never wrapped
 * (RFC 1870 6, RFC 3030 2; Exim CVE-2019-16928 / 21Nails class). */
static void s4_numbers(void **state) {
  hh_srv_cfg cfg;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  srv_expect("SIZE 2^64", NULL, EHLO "MAIL FROM:<a@x.example> SIZE=18446744073709551616\r\n", 0,
             "220 250 552", NULL, 0, 0);
  srv_expect("SIZE 10^23", NULL, EHLO "MAIL FROM:<a@x.example> SIZE=99999999999999999999999\r\n", 0,
             "220 250 552", NULL, 0, 0);
  srv_expect("SIZE -1", NULL, EHLO "MAIL FROM:<a@x.example> SIZE=-1\r\n", 0, "220 250 501", NULL, 0, 0);
  srv_expect("SIZE +5", NULL, EHLO "MAIL FROM:<a@x.example> SIZE=+5\r\n", 0, "220 250 501", NULL, 0, 0);
  srv_expect("SIZE 1e3", NULL, EHLO "MAIL FROM:<a@x.example> SIZE=1e3\r\n", 0, "220 250 501", NULL, 0, 0);
  srv_expect("SIZE 0x10", NULL, EHLO "MAIL FROM:<a@x.example> SIZE=0x10\r\n", 0, "220 250 501", NULL, 0, 0);
  srv_expect("SIZE empty", NULL, EHLO "MAIL FROM:<a@x.example> SIZE=\r\n", 0, "220 250 501", NULL, 0, 0);
  cfg.max_size = 1000;
  srv_expect("SIZE over the limit", &cfg, EHLO "MAIL FROM:<a@x.example> SIZE=1001\r\n", 0, "220 250 552",
             NULL, 0, 0);
  srv_expect("SIZE at the limit", &cfg, EHLO "MAIL FROM:<a@x.example> SIZE=1000\r\n", 0, "220 250 250",
             NULL, 0, 1);
  srv_expect("SIZE 2^64+1000 (would wrap to 999)", &cfg,
             EHLO "MAIL FROM:<a@x.example> SIZE=18446744073709552615\r\n", 0, "220 250 552", NULL, 0, 0);
  srv_expect("BDAT 2^64", NULL, TXN "BDAT 18446744073709551616 LAST\r\nNOOP\r\n", 0,
             "220 250 250 250 501 250", NULL, 0, 1);
  srv_expect("BDAT -1", NULL, TXN "BDAT -1\r\nNOOP\r\n", 0, "220 250 250 250 501 250", NULL, 0, 1);
  srv_expect("BDAT 0x10", NULL, TXN "BDAT 0x10\r\nNOOP\r\n", 0, "220 250 250 250 501 250", NULL, 0, 1);
  srv_expect("BDAT trailing junk", NULL, TXN "BDAT 1 LAST x\r\nNOOP\r\n", 0, "220 250 250 250 501 250",
             NULL, 0, 1);
  srv_expect("BDAT two spaces", NULL, TXN "BDAT 1  LAST\r\nNOOP\r\n", 0, "220 250 250 250 501 250", NULL,
             0, 1);
  cfg.max_size = 100;
  srv_expect("BDAT 2^64-1 over the limit", &cfg, TXN "BDAT 18446744073709551615 LAST\r\n", 0,
             "220 250 250 250 552", NULL, 0, 1);
}

/* Oversize data is counted and discarded, refused after its end with 552
 * (RFC 1870 6.3), never handed on past the limit. */
static void check_oversize(hh_srv *h, const void *arg) {
  const uint64_t *total = arg;
  hh_buf c = {0};
  hh_srv_codes(h, &c);
  HH_CHECK_STR(hh_buf_cstr(&c), "220 250 250 250 354 552 250");
  HH_CHECK(h->n_end == 1 && h->txn[0].refused == SMTP_ERR_MESSAGE_TOO_BIG);
  HH_CHECK(h->txn[0].size == *total);
  HH_CHECK(h->txn[0].data.len <= 1000);
  HH_CHECK(h->mem.count == 1);
  hh_buf_free(&c);
}

static void s4_oversize_data(void **state) {
  static const size_t sizes[] = {1001, 5000, 200000};
  (void)state;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    hh_buf in = {0};
    srv_case c;
    uint64_t total;
    hh_buf_str(&in, TXN "DATA\r\n");
    for (size_t k = 0; k < sizes[i] / 48 + 1; k++)
      hh_buf_str(&in, "0123456789012345678901234567890123456789012345\r\n");
    total = (uint64_t)(sizes[i] / 48 + 1) * 48;
    hh_buf_str(&in, ".\r\nNOOP\r\n");
    memset(&c, 0, sizeof c);
    c.name = "oversize DATA";
    c.cfg.max_size = 1000;
    c.pre = in.p;
    c.prelen = in.len;
    srv_all(&c, check_oversize, &total);
    hh_buf_free(&in);
  }
}

/* Recipients past the limit: 452 (RFC 5321 4.5.3.1.10). */
static void s4_recipient_limit(void **state) {
  hh_srv_cfg cfg;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.max_rcpt = 3;
  srv_expect("5 recipients, limit 3", &cfg,
             EHLO MAIL_A "RCPT TO:<r1@y.example>\r\nRCPT TO:<r2@y.example>\r\nRCPT TO:<r3@y.example>\r\n"
                         "RCPT TO:<r4@y.example>\r\nRCPT TO:<r5@y.example>\r\n",
             0, "220 250 250 250 250 250 452 452", NULL, 0, 1);
  cfg.max_rcpt = 1;
  srv_expect("2 recipients, limit 1", &cfg,
             EHLO MAIL_A "RCPT TO:<r1@y.example>\r\nRCPT TO:<Postmaster>\r\nDATA\r\nx\r\n.\r\n", 0,
             "220 250 250 250 452 354 250", NULL, 0, 1);
  /* the limit is per transaction */
  srv_expect("limit per transaction", &cfg,
             EHLO MAIL_A "RCPT TO:<r1@y.example>\r\nRSET\r\n" MAIL_A "RCPT TO:<r2@y.example>\r\n", 0,
             "220 250 250 250 250 250 250", NULL, 0, 2);
}

/* Errors past the limit: 421 and close (RFC 5321 4.2.2 / 3.8). */
static void s4_error_limit(void **state) {
  hh_buf in = {0}, want = {0};
  hh_srv_cfg cfg;
  (void)state;
  for (int i = 0; i < 25; i++) hh_buf_str(&in, "XYZZY\r\n");
  hh_buf_str(&want, "220");
  for (int i = 0; i < 20; i++) hh_buf_str(&want, " 500");
  hh_buf_str(&want, " 421");
  srv_expect("25 unknown commands", NULL, in.p, in.len, want.p, NULL, 1, 0);
  hh_buf_free(&in);
  hh_buf_free(&want);
  memset(&cfg, 0, sizeof cfg);
  cfg.max_errors = 3;
  srv_expect("3 bad sequences", &cfg, "RCPT TO:<a@x.example>\r\nDATA\r\nMAIL FROM:<a@x.example>\r\nNOOP\r\n",
             0, "220 503 503 503 421", NULL, 1, 0);
  srv_expect("3 syntax errors", &cfg, EHLO "MAIL FROM:a@x.example\r\nMAIL FROM:<a@@x>\r\nRSET x\r\nNOOP\r\n",
             0, "220 250 501 501 501 421", NULL, 1, 0);
}

/* A client that pipelines without reading replies is served as its output
 * drains, with bounded memory (RFC 2920 3.1; docs/security.md 4). */
static void s4_pipelining_backpressure(void **state) {
  static const char *cmds[] = {"NOOP\r\n", "RSET\r\n", "VRFY postmaster\r\n"};
  (void)state;
  for (size_t ci = 0; ci < sizeof cmds / sizeof cmds[0]; ci++) {
    hh_buf in = {0};
    hh_srv h;
    const char *p;
    size_t off = 0, replies = 0;
    int n = 20000;
    snprintf(hh_ctx, sizeof hh_ctx, "pipelining without reading: %s", cmds[ci]);
    for (int i = 0; i < n; i++) hh_buf_str(&in, cmds[ci]);
    hh_srv_new(&h, NULL, 0);
    /* give everything without reading: the session takes only some */
    {
      smtp_ssize r = smtp_server_session_mem_recv(h.s, in.p, in.len);
      smtp_ssize pend = smtp_server_session_mem_send(h.s, &p);
      HH_CHECK(r > 0 && (size_t)r < in.len);
      HH_CHECK(pend > 0 && pend <= 2048);
      HH_CHECK(smtp_server_session_want_read(h.s) == 0);
      off = (size_t)r;
    }
    /* now drain and give the rest, as a transport would */
    while (off < in.len) {
      smtp_ssize r;
      hh_srv_drain(&h);
      r = smtp_server_session_mem_recv(h.s, in.p + off, in.len - off);
      HH_CHECK(r > 0);
      if (r <= 0) break;
      off += (size_t)r;
    }
    hh_srv_drain(&h);
    replies = hh_count(h.out.p, h.out.len, "\r\n", 2);
    HH_CHECK(replies == (size_t)n + 1);
    HH_CHECK(h.mem.count == 1);
    hh_srv_free(&h);
    hh_buf_free(&in);
  }
}

/* AUTH: strict base64, structure, authzid policy, failure limit (RFC 4954
 * 4, RFC 4616 2; docs/security.md 4). */
static void s4_auth(void **state) {
  hh_srv_cfg cfg;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.auth = 1;
  cfg.plaintext_auth = 1;
  srv_expect("PLAIN good", &cfg, EHLO "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", 0, "220 250 235", NULL, 0, 0);
  srv_expect("PLAIN bad base64 (*)", &cfg, EHLO "AUTH PLAIN AGFsaWNl*AHNlY3JldA==\r\nNOOP\r\n", 0,
             "220 250 501 250", "connect\nehlo client.example\nnoop\n", 0, 0);
  srv_expect("PLAIN bad padding", &cfg, EHLO "AUTH PLAIN AGFsaWNlAHNlY3JldA=\r\nNOOP\r\n", 0,
             "220 250 501 250", "connect\nehlo client.example\nnoop\n", 0, 0);
  srv_expect("PLAIN non-zero pad bits", &cfg, EHLO "AUTH PLAIN AGFsaWNlAHNlY3JldB==\r\nNOOP\r\n", 0,
             "220 250 501 250", "connect\nehlo client.example\nnoop\n", 0, 0);
  srv_expect("PLAIN one NUL", &cfg, EHLO "AUTH PLAIN YWxpY2UAc2VjcmV0\r\n", 0, "220 250 535",
             "connect\nehlo client.example\n", 0, 0);
  srv_expect("PLAIN three NULs", &cfg, EHLO "AUTH PLAIN AAAA\r\n", 0, "220 250 535",
             "connect\nehlo client.example\n", 0, 0);
  srv_expect("PLAIN empty password", &cfg, EHLO "AUTH PLAIN AGFsaWNlAA==\r\n", 0, "220 250 535",
             "connect\nehlo client.example\n", 0, 0);
  srv_expect("PLAIN other authzid", &cfg, EHLO "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n", 0,
             "220 250 535", "connect\nehlo client.example\n", 0, 0);
  srv_expect("PLAIN cancelled", &cfg, EHLO "AUTH PLAIN\r\n*\r\nNOOP\r\n", 0, "220 250 334 501 250", NULL,
             0, 0);
  cfg.authzid_any = 1;
  srv_expect("PLAIN other authzid allowed", &cfg, EHLO "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n", 0,
             "220 250 235", "connect\nehlo client.example\nauth bob/alice\n", 0, 0);
  cfg.authzid_any = 0;
  {
    hh_buf in = {0}, want = {0};
    hh_buf_str(&in, EHLO);
    hh_buf_str(&want, "220 250");
    for (int i = 0; i < 6; i++) hh_buf_str(&in, "AUTH PLAIN AGFsaWNlAHdyb25n\r\n");
    for (int i = 0; i < 5; i++) hh_buf_str(&want, " 535");
    hh_buf_str(&want, " 421");
    srv_expect("5 failed AUTH", &cfg, in.p, in.len, want.p, NULL, 1, 0);
    hh_buf_free(&in);
    hh_buf_free(&want);
  }
  /* AUTH without TLS and without permission: 538 (RFC 4954 4) */
  cfg.plaintext_auth = 0;
  cfg.tls = 1;
  srv_expect("AUTH in clear text", &cfg, EHLO "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", 0, "220 250 538",
             "connect\nehlo client.example\n", 0, 0);
}

/* ---- client role ---------------------------------------------------------- */

/* Numbers from the server: SIZE never wraps (RFC 1870 4). */
static void c4_size_from_server(void **state) {
  hh_cli_cfg cfg;
  hh_cli_txn t = default_txn;
  char body[101];
  (void)state;
  memset(body, 'b', 98);
  memcpy(body + 98, "\r\n", 3);
  t.body = body;
  t.body_len = 100;
  memset(&cfg, 0, sizeof cfg);
  {
    static const char *caps[] = {"250-mx.example.test\r\n250 SIZE 18446744073709551616\r\n",
                                 "250-mx.example.test\r\n250 SIZE 99999999999999999999999\r\n",
                                 "250-mx.example.test\r\n250 SIZE 18446744073709551715\r\n",
                                 "250-mx.example.test\r\n250 SIZE -1\r\n"};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
      const char *steps[] = {GREET, caps[i], "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 ok\r\n",
                             "221 bye\r\n"};
      cexpect e = {0, 1, NULL, "DATA\r\n"};
      cli_script_all("huge SIZE from the server", &cfg, &t, steps, 7, check_cexpect, &e, M_ALL);
    }
  }
  {
    const char *steps[] = {GREET, "250-mx.example.test\r\n250 SIZE 99\r\n", "221 bye\r\n"};
    cexpect e = {ANY_ERR, 0, "MAIL FROM", NULL};
    cli_script_all("SIZE 99 refuses 100 octets", &cfg, &t, steps, 3, check_cexpect, &e, M_ALL);
  }
}

/* Reply bounds: line length and line count (RFC 5321 4.5.3.1.5; OpenSMTPD
 * CVE-2020-8794, curl CVE-2019-3823). */
static void c4_reply_bounds(void **state) {
  hh_cli_cfg cfg;
  hh_buf longline = {0}, many = {0}, endless = {0};
  cexpect e = {SMTP_ERR_PROTOCOL, 0, "MAIL FROM", NULL};
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  hh_buf_str(&longline, "220 ");
  while (longline.len < 600) hh_buf_add(&longline, "x", 1);
  hh_buf_str(&longline, "\r\n");
  for (int i = 0; i < 101; i++) hh_buf_str(&many, "250-line\r\n");
  hh_buf_str(&many, "250 last\r\n");
  hh_buf_str(&endless, "220 ");
  for (int i = 0; i < 200000; i++) hh_buf_add(&endless, "y", 1);
  {
    const char *steps[] = {longline.p};
    cli_script_all("600-octet greeting", &cfg, NULL, steps, 1, check_cexpect, &e, M_ALL);
  }
  {
    const char *steps[] = {GREET, many.p};
    cli_script_all("102-line EHLO reply", &cfg, NULL, steps, 2, check_cexpect, &e, M_ALL);
  }
  {
    const char *steps[] = {endless.p};
    cli_script_all("greeting without end", &cfg, NULL, steps, 1, check_cexpect, &e, M_WHOLE | M_RANDOM);
  }
  hh_buf_free(&longline);
  hh_buf_free(&many);
  hh_buf_free(&endless);
}


/* Thousands of pipelined recipients: at most a bounded number of commands
 * in flight (the client's ring), every reply matched to its command, memory
 * bounded on both sides (RFC 2920 3.1; docs/security.md 4): the server allocates
 * nothing after creation, the client the copy of the EHLO keywords and at
 * most the three moves of its ring (16 -> 32 -> 64 -> 128 entries), all
 * kept until the session ends. */
static void c4_many_recipients(void **state) {
  (void)state;
  for (int variant = 0; variant < 8; variant++) {
    hh_pair p;
    hh_srv_cfg scfg;
    smtp_client_txn *t;
    size_t allocs;
    const int n = 3000;
    /* RFC 2033 4.2: one reply per recipient after the data */
    int lmtp = variant == 4 || variant == 5 || variant == 7;
    /* 6, 7: every client allocation after the EHLO keywords' copy fails:
     * the ring cannot grow, the pipeline keeps 16 commands in flight, all
     * delivered */
    int refuse = variant >= 6;
    memset(&scfg, 0, sizeof scfg);
    scfg.max_rcpt = 100000;
    scfg.lmtp = lmtp;
    if (variant & 1) scfg.extensions = SMTP_EXT_PIPELINING | SMTP_EXT_8BITMIME; /* DATA */
    snprintf(hh_ctx, sizeof hh_ctx, "%d pipelined recipients, variant %d", n, variant);
    memset(&p, 0, sizeof p);
    hh_srv_new(&p.srv, &scfg, 0);
    hh_mem_init(&p.cli.mem, 0);
    p.cli.read_fail_at = -1;
    assert_int_equal(smtp_client_callbacks_new(&p.cli.cbs, NULL), SMTP_OK);
    smtp_client_callbacks_set_event(p.cli.cbs, hh_c_event);
    assert_int_equal(smtp_client_options_new(&p.cli.opt, &p.cli.mem.mem), SMTP_OK);
    assert_int_equal(smtp_client_options_set_starttls(p.cli.opt, SMTP_CLIENT_STARTTLS_OFF), SMTP_OK);
    smtp_client_options_set_lmtp(p.cli.opt, lmtp);
    assert_int_equal(smtp_client_txn_new(&t, &p.cli.mem.mem), SMTP_OK);
    assert_int_equal(smtp_client_txn_set_from(t, "alice@sender.example", 20), SMTP_OK);
    for (int i = 0; i < n; i++) {
      char a[64];
      snprintf(a, sizeof a, "rcpt%05d@rcpt.example", i);
      assert_true(smtp_client_txn_add_rcpt(t, a, strlen(a), 0, NULL, 0) == i);
    }
    assert_int_equal(smtp_client_txn_set_body(t, "many\r\n", 6), SMTP_OK);
    p.cli.txn[0] = t;
    p.cli.ntxn = 1;
    p.cli.next = 1;
    assert_int_equal(smtp_client_session_new(&p.cli.c, p.cli.cbs, &p.cli, p.cli.opt, &p.cli.mem.mem),
                     SMTP_OK);
    assert_int_equal(smtp_client_session_submit(p.cli.c, t), SMTP_OK);
    allocs = p.cli.mem.count;
    if (refuse) {
      p.cli.mem.fail_at = allocs + 2;
      p.cli.mem.fail_all = 1;
    }
    p.mode = p.srv.mode = p.cli.mode = variant & 2 ? HH_RANDOM : HH_WHOLE;
    p.rng = p.srv.rng = p.cli.rng = (uint32_t)variant + 1;
    hh_pair_run(&p);
    HH_CHECK(p.cli.ndone == 1 && p.cli.done_status[0] == SMTP_OK);
    HH_CHECK(p.cli.nclosed == 1 && p.cli.closed_error == 0);
    HH_CHECK(p.srv.n_rcpt == n && p.srv.n_end == (lmtp ? n : 1));
    if (lmtp) HH_CHECK(hh_count(p.cli.log.p, p.cli.log.len, "DATA ", 5) == (size_t)n);
    HH_CHECK(p.cli.mem.count - allocs <= 1 + 3 && p.srv.mem.count == 1);
    HH_CHECK(refuse ? p.cli.mem.failed >= 1 : p.cli.mem.failed == 0);
    HH_CHECK(hh_count(p.c2s_all.p, p.c2s_all.len, "RCPT TO:<", 9) == (size_t)n);
    hh_pair_free(&p);
  }
}

/* ======================================================================== */
/* 5. Addresses                                                              */
/* ======================================================================== */

/* Exact bytes, never interpreted: $ { } | / are atext (RFC 5321 4.1.2;
 * OpenSMTPD CVE-2020-7247, Exim CVE-2019-10149). */
static void s5_addresses_exact(void **state) {
  (void)state;
  srv_expect("shell characters are atext", NULL,
             EHLO "MAIL FROM:<$x{y}|z/w@example.com>\r\nRCPT TO:<{a}|b$/c@example.com>\r\n", 0,
             "220 250 250 250",
             "connect\nehlo client.example\nmail <$x{y}|z/w@example.com>\nrcpt <{a}|b$/c@example.com>\n",
             0, 1);
  srv_expect("quoted local part", NULL, EHLO "MAIL FROM:<\"a b;c\"@example.com>\r\n", 0, "220 250 250",
             "connect\nehlo client.example\nmail <\"a b;c\"@example.com>\n", 0, 1);
  srv_expect("quoted pair", NULL, EHLO "MAIL FROM:<\"a\\\"b\\\\c\"@example.com>\r\n", 0, "220 250 250",
             "connect\nehlo client.example\nmail <\"a\\\\\"b\\\\\\\\c\"@example.com>\n", 0, 1);
  srv_expect("source route dropped", NULL, EHLO "MAIL FROM:<@a.example,@b.example:u@example.com>\r\n", 0,
             "220 250 250", "connect\nehlo client.example\nmail <u@example.com>\n", 0, 1);
}

static void s5_addresses_refused(void **state) {
  static const char *bad[] = {
      "MAIL FROM:<;sleep 66;>",                                       /* CVE-2020-7247 */
      "MAIL FROM:<;sleep 66;@example.com>",
      "MAIL FROM:<${run{\\x2Fbin\\x2Fsh\\t-c\\t\\x22id\\x22}}@localhost>", /* CVE-2019-10149 */
      "MAIL FROM:<\"a\x01" "b\"@example.com>",                         /* control in quotes */
      "MAIL FROM:<\"a\\\x01\"@example.com>",                           /* quoted-pair of a control */
      "MAIL FROM:<\"a\x7f\"@example.com>",
      "MAIL FROM:<a@[256.0.0.1]>",                                    /* RFC 5321 4.1.3 */
      "MAIL FROM:<a@[1.2.3]>",
      "MAIL FROM:<a@[1.2.3.4.5]>",
      "MAIL FROM:<a@[IPv6:1::2::3]>",
      "MAIL FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>",
      "MAIL FROM:<a@[IPv6:12345::1]>",
      "MAIL FROM:<a@[]>",
      "MAIL FROM:<a@[1.2.3.4>",
      "MAIL FROM:<a@b@example.com>",
      "MAIL FROM:<a..b@example.com>",
      "MAIL FROM:<.a@example.com>",
      "MAIL FROM:<a@-example.com>",
      "MAIL FROM:<a@example..com>",
      "MAIL FROM:<a b@example.com>",
      "MAIL FROM:<a@example.com",
      "MAIL FROM:a@example.com",
  };
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    hh_buf in = {0};
    hh_buf_str(&in, EHLO);
    hh_buf_str(&in, bad[i]);
    hh_buf_str(&in, "\r\nNOOP\r\n");
    srv_expect(bad[i], NULL, in.p, in.len, "220 250 501 250", "connect\nehlo client.example\nnoop\n", 0, 0);
    hh_buf_free(&in);
  }
}

static void s5_address_literals_ok(void **state) {
  static const char *good[] = {"a@[192.0.2.1]", "a@[0.0.0.0]", "a@[255.255.255.255]", "a@[IPv6:::1]",
                               "a@[IPv6:2001:db8::1]", "a@[IPv6:1:2:3:4:5:6:7:8]",
                               "a@[IPv6:::ffff:192.0.2.1]", "a@[IPv6:1:2:3:4:5:6:1.2.3.4]",
                               "a@[x-tag:abc]"};
  (void)state;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    hh_buf in = {0}, log = {0};
    hh_buf_fmt(&in, EHLO "MAIL FROM:<%s>\r\n", good[i]);
    hh_buf_fmt(&log, "connect\nehlo client.example\nmail <%s>\n", good[i]);
    srv_expect(good[i], NULL, in.p, in.len, "220 250 250", log.p, 0, 1);
    hh_buf_free(&in);
    hh_buf_free(&log);
  }
}

/* Non-ASCII only with SMTPUTF8, and only valid shortest-form UTF-8
 * (RFC 6531 3.3, RFC 3629 3). */
static void s5_utf8(void **state) {
  static const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3", "\xe0\x80\xaf",
                              "\xff", "\xc3\xa9\x80"};
  (void)state;
  srv_expect("UTF-8 with SMTPUTF8", NULL, EHLO "MAIL FROM:<\xc3\xa9l\xc3\xa8ve@\xc3\xa9" "cole.example> SMTPUTF8\r\n",
             0, "220 250 250", NULL, 0, 1);
  srv_expect("UTF-8 without SMTPUTF8", NULL, EHLO "MAIL FROM:<\xc3\xa9l\xc3\xa8ve@example.com>\r\n", 0,
             "220 250 553", NULL, 0, 0);
  srv_expect("UTF-8 RCPT without SMTPUTF8 MAIL", NULL,
             EHLO MAIL_A "RCPT TO:<\xc3\xa9@example.com>\r\n", 0, "220 250 250 553", NULL, 0, 1);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    hh_buf in = {0};
    hh_buf_fmt(&in, EHLO "MAIL FROM:<a%sb@example.com> SMTPUTF8\r\nNOOP\r\n", bad[i]);
    srv_expect("invalid UTF-8", NULL, in.p, in.len, "220 250 501 250", "connect\nehlo client.example\nnoop\n",
               0, 0);
    hh_buf_free(&in);
  }
}

/* Client: the same rules before a byte is written, and valid addresses go
 * out exactly as given. */
static void c5_addresses(void **state) {
  static const char *bad[] = {";sleep 66;", "${run{\\x2Fbin\\x2Fsh}}@localhost", "\"a\x01\"@example.com",
                              "a@[256.0.0.1]", "a@[IPv6:1::2::3]", "a\xc0\xaf@example.com",
                              "a\xed\xa0\x80@example.com", "a..b@example.com", "a@b@example.com"};
  static const char *good[] = {"$x{y}|z/w@example.com", "\"a b;c\"@example.com", "a@[IPv6:::1]",
                               "a@[192.0.2.1]", "\xc3\xa9l\xc3\xa8ve@\xc3\xa9" "cole.example"};
  smtp_client_txn *t;
  (void)state;
  assert_int_equal(smtp_client_txn_new(&t, NULL), SMTP_OK);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(hh_ctx, sizeof hh_ctx, "client bad address %zu", i);
    HH_CHECK(smtp_client_txn_set_from(t, bad[i], strlen(bad[i])) < 0);
    HH_CHECK(smtp_client_txn_add_rcpt(t, bad[i], strlen(bad[i]), 0, NULL, 0) < 0);
  }
  smtp_client_txn_del(t);
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    hh_pair p;
    hh_cli_cfg ccfg;
    hh_cli_txn tx = default_txn;
    hh_buf want = {0};
    memset(&ccfg, 0, sizeof ccfg);
    ccfg.starttls = SMTP_CLIENT_STARTTLS_OFF;
    tx.from = good[i];
    tx.rcpt[0] = good[i];
    snprintf(hh_ctx, sizeof hh_ctx, "client address %zu goes out exactly", i);
    pair_one(&p, NULL, &ccfg, &tx, 1, HH_RANDOM, (uint32_t)i + 11);
    HH_CHECK(p.cli.ndone == 1 && p.cli.done_status[0] == SMTP_OK);
    HH_CHECK(p.srv.ntxn == 1);
    HH_CHECK_STR(hh_buf_cstr(&p.srv.txn[0].from), good[i]);
    hh_buf_fmt(&want, "MAIL FROM:<%s>", good[i]);
    HH_CHECK(strstr(hh_buf_cstr(&p.c2s_all), want.p) != NULL);
    hh_buf_free(&want);
    hh_pair_free(&p);
  }
}

/* ======================================================================== */
/* 6. Reply parsing in the client                                            */
/* ======================================================================== */

/* Malformed replies are protocol errors, never success (RFC 5321 4.2;
 * OpenSMTPD CVE-2020-8794, curl CVE-2019-3823). */
static const char *const bad_replies[] = {
    "220-mx.example.test\r\n250 mx.example.test\r\n", /* codes differ */
    "22 mx\r\n",
    "2200 mx\r\n",
    "220mx\r\n",
    "600 mx\r\n",
    "099 mx\r\n",
    "220-mx\r\n220x\r\n",
    "\r\n",
    "abc def\r\n",
    "220\tmx\r\n",
    "220 mx\rinjected\r\n", /* bare CR inside a reply line */
    "220 mx\n250 mx\r\n",    /* bare LF ends no reply line */
    "220 mx \x1b[2J\r\n",    /* terminal escape (a control) */
    "220 mx\x7f\r\n",
};

static void c6_malformed_greeting(void **state) {
  hh_cli_cfg cfg;
  cexpect e = {SMTP_ERR_PROTOCOL, 0, "MAIL FROM", NULL};
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  for (size_t i = 0; i < sizeof bad_replies / sizeof bad_replies[0]; i++) {
    const char *steps[] = {bad_replies[i], EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "354 go\r\n",
                           "250 ok\r\n"};
    cli_script_all(bad_replies[i], &cfg, NULL, steps, 6, check_cexpect, &e, M_ALL);
  }
}

static void c6_malformed_final_reply(void **state) {
  hh_cli_cfg cfg;
  cexpect e = {SMTP_ERR_PROTOCOL, 0, NULL, "hello\r\n.\r\n"};
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.disabled = SMTP_EXT_PIPELINING;
  for (size_t i = 0; i < sizeof bad_replies / sizeof bad_replies[0]; i++) {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", bad_replies[i],
                           "221 bye\r\n"};
    if (i == 0) continue; /* a 220-/250 mix starts with 220: a valid code, tested at the greeting */
    cli_script_all(bad_replies[i], &cfg, NULL, steps, 7, check_cexpect, &e, M_ALL);
  }
  {
    /* the mixed codes after the data: "250-" then "550 ": not delivered */
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "354 go\r\n",
                           "250-queued\r\n550 no\r\n", "221 bye\r\n"};
    cli_script_all("250-/550 after the data", &cfg, NULL, steps, 7, check_cexpect, &e, M_ALL);
  }
}

/* A bare "250" is a valid reply (RFC 5321 4.2: the text is optional). */
static void c6_bare_250(void **state) {
  hh_cli_cfg cfg;
  cexpect e = {0, 1, NULL, "QUIT\r\n"};
  const char *steps[] = {"220\r\n", "250\r\n", "250\r\n", "250\r\n", "354\r\n", "250\r\n", "221\r\n"};
  const char *steps2[] = {"220 \r\n", "250 \r\n", "250 \r\n", "250 \r\n", "354 \r\n", "250 \r\n", "221 \r\n"};
  const char *steps3[] = {GREET, "250-mx\r\n250 PIPELINING\r\n", "250\r\n250\r\n354\r\n", "250\r\n",
                          "221\r\n"};
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.disabled = SMTP_EXT_PIPELINING;
  cli_script_all("bare codes", &cfg, NULL, steps, 7, check_cexpect, &e, M_ALL);
  cli_script_all("codes and a space", &cfg, NULL, steps2, 7, check_cexpect, &e, M_ALL);
  cfg.disabled = 0;
  cli_script_all("bare codes, pipelined", &cfg, NULL, steps3, 5, check_cexpect, &e, M_WHOLE);
}

/* Only a well-formed 2xx after the data means delivered; a lost connection
 * or a 421 there is a temporary failure (RFC 5321 4.1.1.4, 3.8). */
static void check_tempfail(hh_cli *h, const void *arg) {
  const int *closed = arg;
  HH_CHECK(h->nclosed == 1);
  HH_CHECK(h->ndone == 1);
  if (h->ndone == 1 && h->done_status[0] != SMTP_ERR_TEMPFAIL)
    print_error("status %d; log:\n%s\n", h->done_status[0], hh_buf_cstr(&h->log));
  HH_CHECK(h->done_status[0] == SMTP_ERR_TEMPFAIL);
  HH_CHECK(h->closed_error == *closed);
}

static void c6_final_reply_lost(void **state) {
  hh_cli_cfg cfg;
  static const int lost = SMTP_ERR_CONNECTION_LOST, s421 = SMTP_ERR_SERVICE_UNAVAILABLE;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.disabled = SMTP_EXT_PIPELINING;
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "@LOST"};
    cli_script_all("lost after the data", &cfg, NULL, steps, 6, check_tempfail, &lost, M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250-queued\r\n",
                           "@LOST"};
    cli_script_all("lost inside the final reply", &cfg, NULL, steps, 7, check_tempfail, &lost, M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queu", "@LOST"};
    cli_script_all("lost inside the final line", &cfg, NULL, steps, 7, check_tempfail, &lost, M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "354 go\r\n",
                           "421 4.3.2 shutting down\r\n", "@LOST"};
    cli_script_all("421 after the data", &cfg, NULL, steps, 7, check_tempfail, &s421, M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "421 4.3.2 bye\r\n", "@LOST"};
    cli_script_all("421 to RCPT", &cfg, NULL, steps, 5, check_tempfail, &s421, M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "421 4.3.2 bye\r\n", "@LOST"};
    cli_script_all("421 to MAIL", &cfg, NULL, steps, 4, check_tempfail, &s421, M_ALL);
  }
}

/* Replies that arrive before their command was sent are a protocol error
 * (RFC 2920 3.1; docs/security.md 6). The client's output is not taken here, so
 * every reply after the greeting is early, however the bytes are split. */
static void c6_reply_before_command(void **state) {
  static const char *early[] = {"220 mx.example.test\r\n250 mx.example.test\r\n",
                                "220 mx.example.test\r\n250-mx\r\n250 AUTH PLAIN\r\n",
                                "220 mx.example.test\r\n221 bye\r\n"};
  (void)state;
  for (size_t i = 0; i < sizeof early / sizeof early[0]; i++) {
    for (int m = 0; m < 2 + HH_SPLITS; m++) {
      int mode = m == 0 ? HH_WHOLE : m == 1 ? HH_BYTES : HH_RANDOM;
      uint32_t rng = (uint32_t)m + 1;
      hh_cli h;
      size_t off = 0, len = strlen(early[i]);
      int err = 0;
      snprintf(hh_ctx, sizeof hh_ctx, "early reply %zu, %s", i, hh_mode_name(mode));
      assert_int_equal(hh_cli_new(&h, NULL, &default_txn, 1, 0), SMTP_OK);
      while (off < len && !err) {
        size_t k = hh_chunk(mode, &rng, len - off);
        smtp_ssize r = smtp_client_session_mem_recv(h.c, early[i] + off, k);
        if (r < 0) err = (int)r;
        else if (r == 0) break;
        else off += (size_t)r;
      }
      HH_CHECK(err == SMTP_ERR_PROTOCOL);
      HH_CHECK(h.closed_error == SMTP_ERR_PROTOCOL);
      hh_cli_free(&h);
    }
  }
}

/* Server role: whatever the application answers, the replies on the wire
 * are well formed, and invalid answers are refused (RFC 5321 4.2, RFC 3463). */
static int reply_hook_case;

static int noop_reply_hook(smtp_server_session *s, void *hv) {
  hh_srv *h = hv;
  int r = 0;
  switch (reply_hook_case) {
  case 0: r = smtp_server_session_reply(s, 250, NULL, "line one\nline two\n\nline four"); break;
  case 1: r = smtp_server_session_reply(s, 250, NULL, "bad\r\nline"); break;
  case 2: r = smtp_server_session_reply(s, 250, NULL, "nul\x01"); break;
  case 3: r = smtp_server_session_reply(s, 250, "5.0.0", "class mismatch"); break;
  case 4: r = smtp_server_session_reply(s, 600, NULL, "bad code"); break;
  case 5: r = smtp_server_session_reply(s, 199, NULL, "bad code"); break;
  case 6: r = smtp_server_session_reply(s, 250, "2.0", "short enhanced"); break;
  case 7: r = smtp_server_session_reply(s, 354, NULL, "354 to NOOP"); break;
  case 8: {
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    r = smtp_server_session_reply(s, 250, NULL, big);
    break;
  }
  default: break;
  }
  hh_buf_fmt(&h->log, "reply=%d\n", r);
  return 0;
}

static void s6_server_replies_well_formed(void **state) {
  static const struct {
    int rc;
  } want[] = {{SMTP_OK}, {SMTP_ERR_BAD_CHAR}, {SMTP_ERR_BAD_CHAR}, {SMTP_ERR_INVALID_ARGUMENT},
              {SMTP_ERR_INVALID_ARGUMENT}, {SMTP_ERR_INVALID_ARGUMENT}, {SMTP_ERR_INVALID_ARGUMENT},
              {SMTP_ERR_INVALID_ARGUMENT}, {SMTP_ERR_TOO_LONG}};
  (void)state;
  for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++) {
    hh_srv_cfg cfg;
    char log[128];
    memset(&cfg, 0, sizeof cfg);
    cfg.noop_hook = noop_reply_hook;
    reply_hook_case = i;
    snprintf(log, sizeof log, "connect\nnoop\nreply=%d\n", want[i].rc);
    /* an invalid answer is not sent: the default 250 goes out instead */
    srv_expect("application replies", &cfg, "NOOP\r\n", 0, "220 250", log, 0, 0);
  }
}


/* Replies that do not fit the command: a 354 after every recipient was
 * refused gets an empty message (RFC 2920 3.1), never the body; anything but
 * 354 to DATA is no invitation to send the body (RFC 5321 4.1.1.4, 4.3.2). */
static void check_no_body(hh_cli *h, const void *arg) {
  (void)arg;
  if (h->nclosed != 1 || h->ndone != 1 || h->done_status[0] == SMTP_OK)
    print_error("client log:\n%s\nclient wrote:\n%s\n", hh_buf_cstr(&h->log), hh_buf_cstr(&h->out));
  HH_CHECK(h->nclosed == 1);
  HH_CHECK(h->ndone == 1 && h->done_status[0] != SMTP_OK);
  HH_CHECK(strstr(hh_buf_cstr(&h->out), "hello") == NULL);
}

static void c6_replies_out_of_place(void **state) {
  hh_cli_cfg cfg;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  {
    /* pipelined MAIL, RCPT, DATA: 250, 550, 354 */
    const char *steps[] = {GREET, "250-mx.example.test\r\n250 PIPELINING\r\n",
                           "250 ok\r\n550 no such user\r\n354 go\r\n", "554 no valid recipients\r\n",
                           "250 reset\r\n", "221 bye\r\n"};
    cli_script_all("354 after the only RCPT failed", &cfg, NULL, steps, 6, check_no_body, NULL, M_WHOLE);
  }
  cfg.disabled = SMTP_EXT_PIPELINING;
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "250 reset\r\n",
                           "221 bye\r\n"};
    cli_script_all("250 to DATA", &cfg, NULL, steps, 7, check_no_body, NULL, M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "334 VXNlcm5hbWU6\r\n",
                           "250 reset\r\n", "221 bye\r\n"};
    cli_script_all("334 to DATA", &cfg, NULL, steps, 7, check_no_body, NULL, M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "354 go\r\n", "250 reset\r\n", "221 bye\r\n"};
    cli_script_all("354 to MAIL", &cfg, NULL, steps, 5, check_no_body, NULL, M_ALL);
  }
}

/* SASL lines are bounded (RFC 4954 4: 500 5.5.6), a second STARTTLS is
 * refused (RFC 3207 4). */
static void s4_auth_line_and_second_starttls(void **state) {
  hh_buf in = {0};
  srv_case c;
  hh_srv_cfg cfg;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.auth = 1;
  cfg.plaintext_auth = 1;
  hh_buf_str(&in, EHLO "AUTH PLAIN\r\n");
  for (int i = 0; i < 5000; i++) hh_buf_str(&in, "QUFB");
  hh_buf_str(&in, "\r\nNOOP\r\n");
  srv_expect("SASL line over the buffer", &cfg, in.p, in.len, "220 250 334 500 250",
             "connect\nehlo client.example\nnoop\n", 0, 0);
  hh_buf_free(&in);
  srv_expect("AUTH LOGIN then a command", &cfg, EHLO "AUTH LOGIN\r\nMAIL FROM:<a@x.example>\r\nNOOP\r\n", 0,
             "220 250 334 501 250", "connect\nehlo client.example\nnoop\n", 0, 0);
  memset(&c, 0, sizeof c);
  c.name = "STARTTLS twice";
  c.cfg.tls = 1;
  c.pre = EHLO "STARTTLS\r\n";
  c.post = EHLO "STARTTLS\r\nNOOP\r\n";
  c.sni = "mx.example.test";
  {
    expect e = {"220 250 220 250 503 250", NULL, 0, 0};
    srv_all(&c, check_expect, &e);
  }
}

/* ======================================================================== */
/* 7. Time                                                                   */
/* ======================================================================== */

/* RFC 5321 4.5.3.2: 5 minutes per command (4.5.3.2.7), 3 per data block
 * (4.5.3.2.5), 10 for the end of data (4.5.3.2.6). A slow-drip client
 * hits the deadline of the command it is sending. */
static void s7_deadlines(void **state) {
  hh_srv h;
  unsigned seq;
  const char *cmd = "MAIL FROM:<slow@drip.example>\r\n";
  (void)state;
  snprintf(hh_ctx, sizeof hh_ctx, "server deadlines");
  hh_srv_new(&h, NULL, 0);
  hh_srv_feed(&h, EHLO, strlen(EHLO));
  HH_CHECK(smtp_server_session_timeout_ms(h.s) == 300000);
  seq = smtp_server_session_deadline_seq(h.s);
  /* slow drip: no new deadline until the command is complete */
  for (size_t i = 0; i + 1 < strlen(cmd); i++) {
    HH_CHECK(smtp_server_session_mem_recv(h.s, cmd + i, 1) == 1);
    HH_CHECK(smtp_server_session_deadline_seq(h.s) == seq);
    HH_CHECK(smtp_server_session_timeout_ms(h.s) == 300000);
  }
  HH_CHECK(smtp_server_session_mem_recv(h.s, cmd + strlen(cmd) - 1, 1) == 1);
  HH_CHECK(smtp_server_session_deadline_seq(h.s) != seq);
  hh_srv_feed(&h, RCPT_B "DATA\r\n", strlen(RCPT_B "DATA\r\n"));
  HH_CHECK(smtp_server_session_timeout_ms(h.s) == 180000);
  /* each block of data starts a new deadline */
  seq = smtp_server_session_deadline_seq(h.s);
  HH_CHECK(smtp_server_session_mem_recv(h.s, "abc", 3) == 3);
  HH_CHECK(smtp_server_session_deadline_seq(h.s) != seq);
  seq = smtp_server_session_deadline_seq(h.s);
  HH_CHECK(smtp_server_session_mem_recv(h.s, "def", 3) == 3);
  HH_CHECK(smtp_server_session_deadline_seq(h.s) != seq);
  HH_CHECK(smtp_server_session_timeout_ms(h.s) == 180000);
  /* the deadline passes: 421 4.4.2 and closed */
  HH_CHECK(smtp_server_session_timeout(h.s) == SMTP_OK);
  hh_srv_drain(&h);
  HH_CHECK(smtp_server_session_is_closed(h.s));
  HH_CHECK(HH_HAS(h.out, "421 4.4.2"));
  HH_CHECK(smtp_server_session_mem_recv(h.s, "NOOP\r\n", 6) == SMTP_ERR_CLOSED);
  HH_CHECK(smtp_server_session_timeout_ms(h.s) == -1);
  HH_CHECK(h.n_end == 0);
  hh_srv_free(&h);
}

static void s7_deadline_end_of_data(void **state) {
  hh_srv h;
  hh_srv_cfg cfg;
  (void)state;
  snprintf(hh_ctx, sizeof hh_ctx, "server end-of-data deadline");
  memset(&cfg, 0, sizeof cfg);
  cfg.defer_data_end = 1;
  hh_srv_new(&h, &cfg, 0);
  hh_srv_feed(&h, TXN "DATA\r\nx\r\n.\r\n", strlen(TXN "DATA\r\nx\r\n.\r\n"));
  HH_CHECK(h.n_end == 1);
  HH_CHECK(smtp_server_session_timeout_ms(h.s) == 600000);
  HH_CHECK(smtp_server_session_want_read(h.s) == 0);
  HH_CHECK(smtp_server_session_reply(h.s, 250, NULL, NULL) == SMTP_OK);
  HH_CHECK(smtp_server_session_timeout_ms(h.s) == 300000);
  hh_srv_free(&h);
  /* a slow drip of message data: per block, never past the command's own */
  hh_srv_new(&h, NULL, 0);
  hh_srv_feed(&h, TXN "DATA\r\n", strlen(TXN "DATA\r\n"));
  for (int i = 0; i < 100; i++) {
    unsigned seq = smtp_server_session_deadline_seq(h.s);
    HH_CHECK(smtp_server_session_mem_recv(h.s, "z", 1) == 1);
    HH_CHECK(smtp_server_session_deadline_seq(h.s) != seq);
    HH_CHECK(smtp_server_session_timeout_ms(h.s) == 180000);
  }
  hh_srv_free(&h);
}

/* Client deadlines per state (RFC 5321 4.5.3.2.1-6) and a timeout during
 * the final reply: a temporary failure. */
static void c7_deadlines(void **state) {
  hh_cli h;
  hh_cli_cfg cfg;
  (void)state;
  snprintf(hh_ctx, sizeof hh_ctx, "client deadlines");
  memset(&cfg, 0, sizeof cfg);
  cfg.disabled = SMTP_EXT_PIPELINING;
  assert_int_equal(hh_cli_new(&h, &cfg, &default_txn, 1, 0), SMTP_OK);
  HH_CHECK(smtp_client_session_timeout_ms(h.c) == 300000); /* 4.5.3.2.1 greeting */
  {
    const char *steps[] = {GREET, EHLO_PLAIN};
    hh_cli_script(&h, steps, 2);
  }
  HH_CHECK(smtp_client_session_timeout_ms(h.c) == 300000); /* 4.5.3.2.2 MAIL */
  {
    const char *steps[] = {"250 ok\r\n"};
    hh_cli_script(&h, steps, 1);
  }
  HH_CHECK(smtp_client_session_timeout_ms(h.c) == 300000); /* 4.5.3.2.3 RCPT */
  {
    const char *steps[] = {"250 ok\r\n"};
    hh_cli_script(&h, steps, 1);
  }
  HH_CHECK(smtp_client_session_timeout_ms(h.c) == 120000); /* 4.5.3.2.4 DATA initiation */
  {
    const char *steps[] = {"354 go\r\n"};
    hh_cli_script(&h, steps, 1);
  }
  HH_CHECK(smtp_client_session_timeout_ms(h.c) == 600000); /* 4.5.3.2.6 final reply */
  {
    const char *steps[] = {"250-que", "@TIMEOUT"};
    hh_cli_script(&h, steps, 2);
  }
  HH_CHECK(h.ndone == 1 && h.done_status[0] == SMTP_ERR_TEMPFAIL);
  HH_CHECK(h.closed_error == SMTP_ERR_TIMEOUT);
  HH_CHECK(smtp_client_session_timeout_ms(h.c) == -1);
  hh_cli_free(&h);
}

static void c7_timeouts_fail_temporarily(void **state) {
  hh_cli_cfg cfg;
  static const int tmo = SMTP_ERR_TIMEOUT;
  (void)state;
  memset(&cfg, 0, sizeof cfg);
  cfg.disabled = SMTP_EXT_PIPELINING;
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "@TIMEOUT"};
    cli_script_all("timeout on MAIL", &cfg, NULL, steps, 3, check_tempfail, &tmo, M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "@TIMEOUT"};
    cli_script_all("timeout on DATA", &cfg, NULL, steps, 5, check_tempfail, &tmo, M_ALL);
  }
  {
    const char *steps[] = {GREET, EHLO_PLAIN, "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "@TIMEOUT"};
    cli_script_all("timeout after the data", &cfg, NULL, steps, 6, check_tempfail, &tmo, M_ALL);
  }
}


/* ======================================================================== */
/* Random token streams: the same replies and events however the bytes are  */
/* split (docs/security.md: chunk boundaries are where sans-I/O parsers break),  */
/* well-formed replies, no leak, one allocation. A deterministic, structured */
/* cousin of fuzz_server_split that runs in every test run.                 */
/* ======================================================================== */

static const char *const tokens[] = {
    "EHLO client.example\r\n", "HELO client.example\r\n", "LHLO client.example\r\n",
    "MAIL FROM:<a@x.example>\r\n", "MAIL FROM:<> SIZE=100 BODY=8BITMIME\r\n",
    "MAIL FROM:<\xc3\xa9@x.example> SMTPUTF8\r\n", "MAIL FROM:<a@x.example> RET=HDRS ENVID=a+2Bb\r\n",
    "RCPT TO:<b@y.example>\r\n", "RCPT TO:<Postmaster>\r\n",
    "RCPT TO:<c@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+40y\r\n", "DATA\r\n", "BDAT 5\r\n",
    "BDAT 3 LAST\r\n", "BDAT 0 LAST\r\n", "RSET\r\n", "NOOP\r\n", "VRFY postmaster\r\n", "HELP\r\n",
    "STARTTLS\r\n", "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "AUTH LOGIN\r\n", "YWxpY2U=\r\n", "c2VjcmV0\r\n",
    "*\r\n", "XYZZY\r\n", "\r\n", "\r\n.\r\n", ".\r\n", "..\r\n", "\n.\n", "\r.\r", "\n", "\r", "\0",
    "text line\r\n", "x", ".", "\xff", "MAIL FROM:<a@x.example> SIZE=18446744073709551616\r\n",
    "BDAT 18446744073709551616\r\n", "QUIT\r\n"};

static void gen_stream(uint32_t *r, hh_buf *b) {
  size_t n = 1 + hh_below(r, 60);
  for (size_t i = 0; i < n; i++) {
    size_t t = hh_below(r, sizeof tokens / sizeof tokens[0]);
    if (t == sizeof tokens / sizeof tokens[0] - 1 && hh_below(r, 4)) t = 0; /* QUIT: rarely */
    if (hh_below(r, 40) == 0) {
      size_t k = hh_below(r, 3000);
      for (size_t j = 0; j < k; j++) hh_buf_add(b, "L", 1);
    }
    if (strcmp(tokens[t], "\0") == 0) hh_buf_add(b, "", 1);
    else hh_buf_str(b, tokens[t]);
  }
}

typedef struct stream_ref {
  hh_buf out, log;
  int have;
} stream_ref;

static void check_stream(hh_srv *h, const void *arg) {
  stream_ref *ref = (stream_ref *)(uintptr_t)arg;
  hh_buf codes = {0};
  hh_srv_codes(h, &codes); /* every reply parses */
  hh_buf_free(&codes);
  HH_CHECK(h->mem.count == 1);
  if (!ref->have) {
    hh_buf_add(&ref->out, h->out.p ? h->out.p : "", h->out.len);
    hh_buf_add(&ref->log, h->log.p ? h->log.p : "", h->log.len);
    ref->have = 1;
    return;
  }
  if (h->out.len != ref->out.len || memcmp(hh_buf_cstr(&h->out), hh_buf_cstr(&ref->out), ref->out.len))
    print_error("output differs from the whole feed:\n--- whole ---\n%s\n--- this ---\n%s\n",
                hh_buf_cstr(&ref->out), hh_buf_cstr(&h->out));
  HH_CHECK(h->out.len == ref->out.len &&
           memcmp(hh_buf_cstr(&h->out), hh_buf_cstr(&ref->out), ref->out.len) == 0);
  HH_CHECK_STR(hh_buf_cstr(&h->log), hh_buf_cstr(&ref->log));
}

static void s_random_token_streams(void **state) {
  (void)state;
  for (uint32_t seed = 1; seed <= 600; seed++) {
    uint32_t r = seed * 2246822519u + 1;
    hh_buf in = {0};
    srv_case c;
    stream_ref ref;
    char name[64];
    memset(&c, 0, sizeof c);
    memset(&ref, 0, sizeof ref);
    snprintf(name, sizeof name, "token stream %u", seed);
    c.name = name;
    c.cfg.auth = (int)hh_below(&r, 2);
    c.cfg.plaintext_auth = (int)hh_below(&r, 2);
    c.cfg.bare_accept = hh_below(&r, 4) == 0;
    c.cfg.max_size = hh_below(&r, 3) == 0 ? 1 + hh_below(&r, 200) : 0;
    c.cfg.max_rcpt = hh_below(&r, 3) == 0 ? 1 + (unsigned)hh_below(&r, 3) : 0;
    c.cfg.lmtp = hh_below(&r, 6) == 0;
    c.cfg.tls = (int)hh_below(&r, 2);
    if (hh_below(&r, 2)) c.cfg.extensions = SMTP_SERVER_DEFAULT_EXTENSIONS | SMTP_EXT_DSN;
    gen_stream(&r, &in);
    c.pre = in.p;
    c.prelen = in.len;
    srv_one(&c, HH_WHOLE, 0, check_stream, &ref);
    srv_one(&c, HH_BYTES, 0, check_stream, &ref);
    for (uint32_t k = 1; k <= 3; k++) srv_one(&c, HH_RANDOM, seed * 31 + k, check_stream, &ref);
    hh_buf_free(&ref.out);
    hh_buf_free(&ref.log);
    hh_buf_free(&in);
  }
}

/* ======================================================================== */
/* Regressions of defects this suite found in the sessions.                  */
/* ======================================================================== */

/* lib/client.c (fixed in 49cc2e3): smtp_client_txn_set_body() documents that
 * bare CR and bare LF become CRLF, but the memory-body pre-scan ended lines
 * only at CRLF, so a Unix-style body ("\n" line ends) longer than 1000
 * octets was refused with SMTP_ERR_LINE_TOO_LONG before MAIL although no
 * line of what is sent exceeds RFC 5321 4.5.3.1.6. */
static void regress_client_memory_bare_lf_body(void **state) {
  hh_buf body = {0};
  hh_pair p;
  hh_cli_cfg ccfg;
  hh_cli_txn t;
  (void)state;
  for (int k = 0; k < 100; k++) hh_buf_str(&body, "a short unix line\n"); /* 1800 octets */
  body_txn(&ccfg, &t, 0, body.p, body.len, 0);
  snprintf(hh_ctx, sizeof hh_ctx, "memory body with bare LF line ends (regression)");
  pair_one(&p, NULL, &ccfg, &t, 1, HH_WHOLE, 1);
  HH_CHECK(p.cli.ndone == 1);
  HH_CHECK(p.cli.done_status[0] == SMTP_OK); /* was SMTP_ERR_LINE_TOO_LONG */
  check_client_wire(&p.c2s_all, t.body, t.body_len);
  hh_pair_free(&p);
  hh_buf_free(&body);
}

/* ======================================================================== */
/* main                                                                      */
/* ======================================================================== */

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(s1_smuggling),
      cmocka_unit_test(s1_bare_in_commands),
      cmocka_unit_test(s1_long_command_tail),
      cmocka_unit_test(s1_long_data_line),
      cmocka_unit_test(s1_bdat_not_scanned),
      cmocka_unit_test(s1_bdat_refused_consumed),
      cmocka_unit_test(c1_stuffing),
      cmocka_unit_test(c1_worst_case_growth),
      cmocka_unit_test(c1_invalid_body),
      cmocka_unit_test(c1_read_fails_after_354),
      cmocka_unit_test(c1_bdat_counted),
      cmocka_unit_test(s2_starttls_injection),
      cmocka_unit_test(s2_tls_forgets_state),
      cmocka_unit_test(s2_sni_untrusted),
      cmocka_unit_test(s2_starttls_refusals),
      cmocka_unit_test(c2_starttls_response_injection),
      cmocka_unit_test(c2_caps_after_tls_only),
      cmocka_unit_test(c2_tls_required),
      cmocka_unit_test(c2_tls_close_ends),
      cmocka_unit_test(c3_api_injection),
      cmocka_unit_test(s3_decoded_values),
      cmocka_unit_test(s4_command_line_limit),
      cmocka_unit_test(s4_no_crlf_bounded),
      cmocka_unit_test(s4_numbers),
      cmocka_unit_test(s4_oversize_data),
      cmocka_unit_test(s4_recipient_limit),
      cmocka_unit_test(s4_error_limit),
      cmocka_unit_test(s4_pipelining_backpressure),
      cmocka_unit_test(s4_auth),
      cmocka_unit_test(c4_size_from_server),
      cmocka_unit_test(c4_reply_bounds),
      cmocka_unit_test(c4_many_recipients),
      cmocka_unit_test(s5_addresses_exact),
      cmocka_unit_test(s5_addresses_refused),
      cmocka_unit_test(s5_address_literals_ok),
      cmocka_unit_test(s5_utf8),
      cmocka_unit_test(c5_addresses),
      cmocka_unit_test(c6_malformed_greeting),
      cmocka_unit_test(c6_malformed_final_reply),
      cmocka_unit_test(c6_bare_250),
      cmocka_unit_test(c6_final_reply_lost),
      cmocka_unit_test(c6_reply_before_command),
      cmocka_unit_test(c6_replies_out_of_place),
      cmocka_unit_test(s4_auth_line_and_second_starttls),
      cmocka_unit_test(s6_server_replies_well_formed),
      cmocka_unit_test(s7_deadlines),
      cmocka_unit_test(s7_deadline_end_of_data),
      cmocka_unit_test(c7_deadlines),
      cmocka_unit_test(c7_timeouts_fail_temporarily),
      cmocka_unit_test(s_random_token_streams),
      cmocka_unit_test(regress_client_memory_bare_lf_body),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
