/* Shared harness of the hardening tests (test_security.c, test_differential.c,
 * test_alloc_fail.c): a counting allocator, a seeded PRNG, a server session
 * fed whole / byte by byte / at random splits, a client session driven by a
 * scripted server, and a client and a server session talking to each other
 * in memory (with an optional man in the middle on the server's bytes).
 *
 * The functions are compiled once into the tests' support library
 * (tests/support/hardening.c). Names start with hh_ (nothing else in tests/
 * uses that prefix). */
#ifndef HARDENING_HARNESS_H
#define HARDENING_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/client.h>
#include <smtp/data.h>
#include <smtp/reply.h>
#include <smtp/server.h>

enum { HH_WHOLE = 0, HH_BYTES = 1, HH_RANDOM = 2 };

/* Random splits per input in the "all modes" loops. */
#ifndef HH_SPLITS
#define HH_SPLITS 12
#endif

/* Context printed when a check fails: which input, which mode, which seed. */
extern char hh_ctx[512];

#define HH_CHECK(cond)                                                        \
  do {                                                                        \
    if (!(cond)) {                                                            \
      print_error("%s:%d: check failed: %s\n  [%s]\n", __FILE__, __LINE__,    \
                  #cond, hh_ctx);                                             \
      fail();                                                                 \
    }                                                                         \
  } while (0)

#define HH_CHECK_STR(got, want)                                               \
  do {                                                                        \
    const char *g_ = (got), *w_ = (want);                                     \
    if (strcmp(g_, w_) != 0) {                                                \
      print_error("%s:%d: %s\n  got:  %s\n  want: %s\n  [%s]\n", __FILE__,    \
                  __LINE__, #got, g_, w_, hh_ctx);                            \
      fail();                                                                 \
    }                                                                         \
  } while (0)

const char *hh_mode_name(int mode);

/* ------------------------------------------------------------------------ */
/* PRNG (xorshift32, deterministic per seed).                                */

uint32_t hh_rand(uint32_t *st);

size_t hh_below(uint32_t *st, size_t n);

/* Chunk length for a mode: everything, one byte, or 1..97 bytes (sometimes
 * up to 3000, to cross buffer sizes). */
size_t hh_chunk(int mode, uint32_t *st, size_t left);

/* ------------------------------------------------------------------------ */
/* A growable byte buffer.                                                   */

typedef struct hh_buf {
  char *p;
  size_t len, cap;
} hh_buf;

void hh_buf_add(hh_buf *b, const void *d, size_t n);

void hh_buf_str(hh_buf *b, const char *s);

void hh_buf_fmt(hh_buf *b, const char *fmt, ...);

void hh_buf_free(hh_buf *b);

const char *hh_buf_cstr(const hh_buf *b);

/* Printable form: \r \n \0 \t \\ and \xHH for other non-printables. */
void hh_buf_escaped(hh_buf *b, const char *p, size_t n);

/* Occurrences of a byte string in a buffer. */
size_t hh_count(const char *hay, size_t n, const char *needle, size_t m);

const char *hh_find(const char *hay, size_t n, const char *needle, size_t m);

#define HH_HAS(buf, lit) (hh_find((buf).p ? (buf).p : "", (buf).len, (lit), sizeof(lit) - 1) != NULL)

/* ------------------------------------------------------------------------ */
/* Counting allocator: every block carries a header with its size; live    */
/* blocks, bytes and the peak are tracked; allocation number fail_at fails */
/* (1-based; 0 = never), or every allocation from it on when fail_all.     */

typedef struct hh_mem {
  smtp_mem mem;
  size_t count;   /* allocation attempts */
  size_t live;    /* blocks not freed */
  size_t bytes;   /* bytes in live blocks */
  size_t peak;    /* most bytes at once */
  size_t fail_at;
  int fail_all;
  size_t failed;  /* allocations refused */
} hh_mem;

#define HH_HDR 16

int hh_mem_fail(hh_mem *m);

void *hh_mem_track(hh_mem *m, char *raw, size_t n);

void *hh_malloc(size_t n, void *ud);

void *hh_calloc(size_t k, size_t n, void *ud);

void hh_free(void *p, void *ud);

void *hh_realloc(void *p, size_t n, void *ud);

void hh_mem_init(hh_mem *m, size_t fail_at);

/* ------------------------------------------------------------------------ */
/* Server side: a session with logging callbacks.                            */

typedef struct hh_srv_cfg {
  int tls;               /* STARTTLS offered */
  int plaintext_auth;    /* AUTH without TLS */
  int auth;              /* an auth callback (PLAIN, LOGIN): alice / secret */
  int authzid_any;
  uint64_t max_size;
  unsigned max_rcpt;     /* 0: default */
  unsigned max_errors;   /* 0: default; use HH_UNLIMITED for 0 */
  unsigned max_auth_failures;
  unsigned extensions;   /* 0: default set */
  int bare_accept;
  int nul_accept;
  int lmtp;
  size_t input_buffer, output_buffer, max_line;
  int require_tls;
  int refuse_starttls;
  int lenient_colon;
  int defer_data_end;    /* data_end returns SMTP_ERR_DEFERRED */
  /* PLAIN/LOGIN credentials go to this hook when set (its return value is the callback's). */
  int (*auth_hook)(smtp_server_session *s, const smtp_server_auth *a, void *h);
  /* NOOP answers through this hook when set (its return value is the callback's). */
  int (*noop_hook)(smtp_server_session *s, void *h);
} hh_srv_cfg;

#define HH_UNLIMITED 0xffffffffu

/* One transaction as the server's callbacks saw it. */
typedef struct hh_srv_txn {
  hh_buf from;        /* reverse-path address (exact bytes) */
  hh_buf mailinfo;    /* "size=.. body=.. utf8=.. ret=.. envid=.. auth=.." */
  hh_buf rcpts;       /* per recipient: "addr|notify|orcpt_type;orcpt\n" (escaped) */
  hh_buf data;        /* message bytes as delivered */
  hh_buf envid;       /* decoded ENVID */
  int has_envid, has_size, body_param, utf8, ret;
  uint64_t mail_size;
  int ended;          /* data_end fired */
  int refused;        /* data_end's refused */
  int bdat;
  uint64_t size;
  unsigned seen;
} hh_srv_txn;

#define HH_MAX_TXN 64

typedef struct hh_srv {
  smtp_server_session *s;
  hh_mem mem;
  hh_srv_cfg cfg;
  hh_buf out;         /* every byte the server sent */
  hh_buf log;         /* event log, one "name args" per line */
  hh_srv_txn txn[HH_MAX_TXN];
  int ntxn;           /* transactions with a MAIL callback */
  int n_end, n_mail, n_rcpt, n_auth, n_starttls, n_tls;
  int recv_error;     /* first negative mem_recv() result */
  size_t discarded;   /* bytes given while closed */
  uint32_t rng;
  int mode;
} hh_srv;

hh_srv_txn *hh_srv_cur(hh_srv *h);

void hh_log_span(hh_buf *b, const char *p, size_t n);

int hh_s_connect(smtp_server_session *s, void *ud);

int hh_s_ehlo(smtp_server_session *s, const smtp_server_helo *h, void *ud);

int hh_s_mail(smtp_server_session *s, const smtp_server_mail *m, void *ud);

int hh_s_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud);

int hh_s_data_start(smtp_server_session *s, void *ud);

int hh_s_chunk(smtp_server_session *s, const char *d, size_t n, void *ud);

int hh_s_data_end(smtp_server_session *s, const smtp_server_data_end *e, void *ud);

int hh_s_rset(smtp_server_session *s, void *ud);

int hh_s_noop(smtp_server_session *s, void *ud);

int hh_s_quit(smtp_server_session *s, void *ud);

int hh_s_vrfy(smtp_server_session *s, const char *a, size_t n, void *ud);

int hh_s_unknown(smtp_server_session *s, const smtp_command *c, void *ud);

int hh_s_starttls(smtp_server_session *s, void *ud);

/* PLAIN / LOGIN: alice / secret authenticates, anything else is refused. */
int hh_s_auth(smtp_server_session *s, const smtp_server_auth *a, void *ud);

void hh_srv_new(hh_srv *h, const hh_srv_cfg *cfg, size_t fail_at);

/* Free the session and check that it left nothing allocated. */
void hh_srv_free(hh_srv *h);

/* Free the session without that check (its allocator is not h->mem). */
void hh_srv_release(hh_srv *h);

/* Take the server's pending output (in random mode, in random pieces). */
void hh_srv_drain(hh_srv *h);

/* Give bytes the way a transport would: chunks per the mode, each given
 * again until taken (draining output in between), dropped once the session
 * no longer reads. */
void hh_srv_feed(hh_srv *h, const char *d, size_t len);

/* Simulate the TLS handshake when the session asks for it; returns 1 if done. */
int hh_srv_tls(hh_srv *h, const char *sni);

/* The reply codes the server sent, as "220 250 ..."; every reply must parse
 * (RFC 5321 4.2: well-formed, one code per multi-line reply). */
void hh_reply_codes(const char *p, size_t n, hh_buf *codes);

void hh_srv_codes(hh_srv *h, hh_buf *codes);

/* ------------------------------------------------------------------------ */
/* Client side: a session with a generic event callback and transactions.    */

typedef struct hh_cli_txn {
  const char *from;
  const char *rcpt[8];
  unsigned notify[8];
  const char *orcpt[8];
  int nrcpt;
  const char *body;
  size_t body_len;
  int body_source;   /* 0 memory, SMTP_CLIENT_BODY_PUSH, SMTP_CLIENT_BODY_READ */
  int body_type;
  int ret;
  const char *envid;
  int requiretls;
} hh_cli_txn;

typedef struct hh_cli_cfg {
  int starttls;        /* policy */
  const char *user, *pass, *authzid;
  int plaintext_auth;
  int lmtp;
  size_t output_buffer;
  size_t max_line, max_lines;
  unsigned disabled;
  int require_smtputf8;
  const char *ehlo;
  unsigned auth_mech;  /* force one SASL mechanism (0: the library chooses) */
} hh_cli_cfg;

typedef struct hh_cli {
  smtp_client_session *c;
  smtp_client_callbacks *cbs;
  smtp_client_options *opt;
  hh_mem mem;
  hh_cli_cfg cfg;
  smtp_client_txn *txn[HH_MAX_TXN];
  hh_cli_txn spec[HH_MAX_TXN];
  int ntxn, next;      /* transactions, next to submit */
  int submit_errors;
  hh_buf out;          /* every byte the client wrote */
  hh_buf log;          /* events */
  int done_status[HH_MAX_TXN];
  int ndone, nclosed, closed_error, auth_error, n_starttls, n_ready;
  int recv_error;
  /* body source for push/read */
  size_t body_off;
  int body_eof_sent;
  int read_fail_at;    /* read_body fails once body_off reaches this (-1: never) */
  int push_error;
  uint32_t rng;
  int mode;
} hh_cli;

hh_cli_txn *hh_cli_spec_cur(hh_cli *h);

void hh_cli_submit_next(hh_cli *h);

int hh_c_event(smtp_client_session *c, const smtp_client_event *ev, void *ud);

smtp_ssize hh_c_read(smtp_client_session *c, smtp_client_txn *t, char *buf, size_t len, int *eof, void *ud);

/* Build the session, its options and the transactions (all must be valid). */
int hh_cli_new(hh_cli *h, const hh_cli_cfg *cfg, const hh_cli_txn *txns, int ntxn, size_t fail_at);

void hh_cli_free(hh_cli *h);

/* Push body bytes while the session wants them (SMTP_CLIENT_BODY_PUSH). */
int hh_cli_push(hh_cli *h);

/* Take the client's pending output into @p sink (and h->out). */
int hh_cli_drain(hh_cli *h, hh_buf *sink);

/* Feed server bytes to the client per the mode, re-giving what it did not
 * take (after draining its output), as the documented loop does. */
void hh_cli_feed(hh_cli *h, const char *d, size_t len);

/* Run a scripted server against the client. Steps: server bytes, or
 * "@TLS" (handshake done), "@TLSFAIL", "@LOST", "@TIMEOUT". Each step is
 * given after the client's output so far has been taken. */
void hh_cli_script(hh_cli *h, const char *const *steps, size_t nsteps);

/* ------------------------------------------------------------------------ */
/* A client and a server session connected in memory.                        */

/* Man in the middle on server->client bytes: may change @p b (which holds
 * what the server just sent); @p c2s is everything the client sent so far. */
typedef void (*hh_mitm_fn)(hh_buf *b, const hh_buf *c2s, void *arg);

typedef struct hh_pair {
  hh_srv srv;
  hh_cli cli;
  hh_buf c2s, s2c;     /* in flight */
  size_t c2s_head, s2c_head;
  hh_buf c2s_all;      /* everything the client sent */
  hh_mitm_fn mitm;
  void *mitm_arg;
  int tls_done;
  int mode;
  uint32_t rng;
} hh_pair;

void hh_pair_run(hh_pair *p);

void hh_pair_free(hh_pair *p);

/* Normalise a body as the client must send it (RFC 5321 2.3.8, 4.5.2):
 * bare CR and bare LF become CRLF and a final CRLF is added when missing
 * (not for an empty body). */
void hh_normalise(const char *b, size_t n, hh_buf *out);

#endif
