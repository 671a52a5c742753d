/* Internal: the client's objects as the client files share them (client.c
 * the protocol state machine, client_options.c the options and callbacks,
 * client_txn.c the transaction builder, client_body.c the output buffer
 * and the body encoding with its zero-copy spans). Not installed. */
#ifndef SMTP_CLIENT_IMPL_H
#define SMTP_CLIENT_IMPL_H

#include <string.h>

#include <smtp/client.h>
#include <smtp/data.h>
#include <smtp/address.h>
#include <smtp/reply.h>

#include "client_auth.h"
#include "internal.h"

/* ------------------------------------------------------------------ */
/* Limits and timeouts                                                  */

/* RFC 5321 4.5.3.2: client timeouts. */
#define TMO_GREETING (5 * 60 * 1000)
#define TMO_MAIL (5 * 60 * 1000)
#define TMO_RCPT (5 * 60 * 1000)
#define TMO_DATA_INIT (2 * 60 * 1000)
#define TMO_DATA_BLOCK (3 * 60 * 1000)
#define TMO_DATA_FINAL (10 * 60 * 1000)
#define TMO_OTHER (5 * 60 * 1000)

#define RING_CAP 128u          /* commands outstanding at once */
#define RING_INIT 16u          /* ring entries in the session's allocation; more
                                  (doubling up to RING_CAP) only for pipelined
                                  groups that need them, and kept */
#define EVQ_CAP 32u            /* queued events (event mode) */
/* Un-encoded SASL message without a token: the longest is SCRAM's
 * client-final (bounded by its 2048-octet AuthMessage) or client-first;
 * PLAIN needs 767. A token adds its length (XOAUTH2 / OAUTHBEARER wrap it
 * in at most 786 more octets). */
#define SASL_RAW_BASE 2304u
/* The AUTH line: "AUTH " mechanism SP base64(message) (RFC 4954 4). */
#define LINE_CAP_FOR(raw) (32u + SMTP_BASE64_ENCODED_LEN(raw))
/* Copy of the EHLO keywords' text: at most 1 KiB with the default reply
 * limits (typical EHLO replies take 100-400 octets); with reply limits set,
 * what one reply may hold, at most 8 KiB. The copy is its own allocation
 * of the size the reply needs (kept for the next EHLO when that fits).
 * Flags and values are parsed from the whole reply whatever fits here;
 * keywords that do not fit are counted in smtp_capabilities::ndropped. */
#define CAPS_TEXT_DEFAULT 1024u
#define CAPS_TEXT_MAX 8192u
#define STAGE_CAP 4096u        /* body bytes read through read_body */
#define BDAT_HDR_RESERVE 32u   /* "BDAT " 20 digits " LAST" CRLF fits */
#define TOKEN_MAX 8192u
#define RCPT_MAX 100000u
#define ENVID_MAX 100u         /* RFC 3461 4.4 */
#define ORCPT_MAX 500u         /* RFC 3461 4.2 (encoded) */

struct smtp_client_callbacks {
  smtp_client_on_greeting greeting;
  smtp_client_on_capabilities capabilities;
  smtp_client_on_starttls starttls;
  smtp_client_on_auth auth;
  smtp_client_on_mail mail;
  smtp_client_on_rcpt rcpt;
  smtp_client_on_body_start body_start;
  smtp_client_on_data data;
  smtp_client_on_txn_done txn_done;
  smtp_client_on_closed closed;
  smtp_client_on_event event;
  smtp_client_on_read_body read_body;
  smtp_client_on_trace trace;
  smtp_client_on_command command;
};

struct smtp_client_options {
  smtp_mem mem;
  char ehlo[SMTP_DOMAIN_MAX + 1];
  int lmtp, starttls, allow_plain, require_utf8, requiretls;
  unsigned int disabled, mech;
  size_t max_line, max_lines, out_cap;
  char authzid[256], user[256], pass[256];
  int have_password, have_token;
  const smtp__sasl_client_ops *sasl; /* set by the setters that turn AUTH on */
  char *token; /* allocated, NUL-terminated */
  int (*random)(void *buf, size_t len, void *user_data);
  void *random_ud;
  unsigned int auth_order[SMTP__AUTH_ORDER_MAX]; /* preference, strongest first */
  size_t auth_order_len;
  uint32_t scram_max_iter;
  smtp_sasl_mechanism custom[SMTP__CUSTOM_MAX]; /* application mechanisms */
  char custom_name[SMTP__CUSTOM_MAX][SMTP__MECH_NAME_MAX + 1];
  size_t ncustom;
  int tmo[SMTP_CLIENT_TIMEOUT_ALL];
  char *xclient; /* "XCLIENT ..." (allocated, NUL-terminated) and, after its
                  * NUL, the HELO attribute for the EHLO that follows (or "") */
  size_t xclient_len;
  char *xforward; /* "XFORWARD ..." (allocated, NUL-terminated), or NULL */
  size_t xforward_len;
};

typedef struct txn_rcpt {
  size_t addr_off, addr_len;
  size_t orcpt_off, orcpt_len;
  int has_orcpt;
  unsigned int notify;
  int rcpt_code, data_code;
  int accepted;
} txn_rcpt;

/* A parameter added by the application (kept in the txn buffer). */
typedef struct txn_param {
  int verb;            /* SMTP_VERB_MAIL or SMTP_VERB_RCPT */
  size_t rcpt;         /* RCPT: the recipient, or SMTP_CLIENT_ALL_RCPTS */
  size_t kw_off, kw_len, val_off, val_len;
  int has_value;
  unsigned int ext;    /* the extension that owns it, 0 when unknown */
} txn_param;

/* A BURL URL (kept in the txn buffer); trace_len: the octets the trace
 * shows (up to a URLAUTH token). */
typedef struct txn_url {
  size_t off, len, trace_len;
} txn_url;

struct smtp_client_txn {
  smtp_mem mem;
  txn_param *params;
  size_t nparams, params_cap;
  char *buf;
  size_t buf_len, buf_cap;
  txn_rcpt *rcpts;
  size_t nrcpt, rcpt_cap;
  int has_from;
  size_t from_off, from_len;
  int utf8;        /* some address needs SMTPUTF8 */
  int ret;
  int has_envid;
  size_t envid_off, envid_len;
  uint64_t size_hint;
  int has_size;
  int body_type;
  int body_source;
  const char *body;
  size_t body_len;
  int requiretls;
  txn_url *urls;   /* SMTP_CLIENT_BODY_URL: the BURL URLs, in order */
  size_t nurls, urls_cap;
  void (*burl_pump)(smtp_client_session *c); /* set with the first URL */
  smtp_client_session *owner; /* set while submitted */
};

enum kind {
  K_GREETING, K_EHLO, K_HELO, K_STARTTLS, K_AUTH, K_MAIL, K_RCPT, K_DATA, K_DATA_END,
  K_BDAT, K_BDAT_LAST, K_RSET, K_QUIT, K_RAW, K_XCLIENT, K_XFORWARD
};

typedef struct pend {
  uint64_t end;   /* output offset just after the command's bytes */
  int kind;
  unsigned int index; /* K_RCPT: recipient (< RCPT_MAX); K_DATA_END/K_BDAT_LAST: replies left */
} pend;

enum phase {
  PH_GREETING, PH_EHLO, PH_STARTTLS, PH_TLS, PH_AUTH, PH_READY, PH_TXN, PH_QUIT, PH_CLOSED
};

/* Single commands produce() owes (bit flags). */
#define T_EHLO 1u
#define T_HELO 2u
#define T_STARTTLS 4u
#define T_LINE 8u   /* c->auth.line: AUTH and its responses */
#define T_RSET 16u
#define T_QUIT 32u
#define T_DOT 64u   /* ".\r\n" after an unexpected 354 (RFC 2920 3.1 example) */
#define T_XCLIENT 128u /* XCLIENT (Postfix's XCLIENT_README), once, when offered */
#define T_XFORWARD 256u /* XFORWARD (Postfix's XFORWARD_README), after the last EHLO, when offered */

enum body_phase { B_NONE, B_WAIT, B_SEND, B_DONE };

/* What the session keeps of a server's capabilities to act on them. */
typedef struct caps_lite {
  unsigned int flags, auth_mechs;
  uint64_t size_max;
  int size_has_value;
  unsigned int limits_rcptmax, limits_mailmax, limits_rcptdomainmax;
  size_t nkeywords, ndropped;
} caps_lite;

/* What a session keeps of its options. The EHLO name and the credentials
 * are copied into the session's allocation (the credentials only when set). */
typedef struct sess_opt {
  const char *ehlo;
  unsigned int disabled, mech;
  size_t max_line, max_lines;
  int tmo[SMTP_CLIENT_TIMEOUT_ALL];
  /* flags and small enums as octets: every session carries them */
  unsigned char lmtp, starttls, allow_plain, require_utf8, requiretls;
  unsigned char have_password, have_token;
  const char *xclient; /* "XCLIENT ..." in the session's allocation, or NULL */
  size_t xclient_len;
  const char *xhelo;   /* the EHLO name after XCLIENT's 220 ("" : the own) */
  const char *xforward; /* "XFORWARD ..." in the session's allocation, or NULL */
} sess_opt;

/* The output: `cap` bytes, OUT_INIT in the session's allocation until a
 * longer line or a body that must be stuffed moves it to `block` at `max`
 * (the configured size), where it stays. */
typedef struct cli_out {
  char *buf;
  size_t cap, head, ready, tail;
  size_t max;
  char *block;
  int fixed;  /* a move failed: no more tries */
  int nomem;  /* a line could not fit even in an empty buffer */
  uint64_t produced, consumed;
  /* Zero-copy message data: a span of the application's memory body that
   * is sent after everything in `buf`, straight from that memory (nothing
   * else is produced until it is consumed). */
  const char *direct;
  size_t direct_len;
} cli_out;

/* Commands waiting for their replies, oldest first. */
typedef struct cli_ring {
  pend *buf;          /* cap entries: init, or block once grown */
  pend *block;
  size_t cap, head, count;
  int fixed;          /* a move failed: the ring keeps its size from then on */
  pend init[RING_INIT];
} cli_ring;

/* Capabilities: what the session acts on is kept in `v`; the greeting and
 * the keywords' text are copied, NUL after each item, into `text`; the
 * whole smtp_capabilities (1.6 KB) exists only in event mode (in the
 * session's allocation, for the queued event) or once the application
 * asks smtp_client_session_capabilities() for it (`full`). */
typedef struct cli_caps {
  int have;
  int full_ok;            /* full is built from the current EHLO */
  caps_lite v;
  char *text;             /* tcap bytes, tlen used */
  size_t tcap, tlen, limit;
  smtp_capabilities *full;
  int full_own;           /* full is its own allocation */
} cli_caps;

/* AUTH: the buffers exist only when credentials or a token were set. */
typedef struct cli_auth {
  smtp__sasl_client *sasl;
  smtp__client_auth_cfg *cfg; /* preference, SCRAM bound, channel binding,
                                 credentials and the raw message buffer */
  unsigned int mech;
  int cancelled;
  int ir_pending;  /* initial response waits for the first 334 */
  int line_redact; /* trace only the verb */
  char *line;
  size_t line_cap, line_len;
} cli_auth;

/* How the running transaction goes out (decided by txn_plan()). */
typedef struct cli_plan {
  int bdat, eightbit, binary, utf8, size, requiretls, dsn;
  int burl;             /* the body comes from URLs (RFC 4468) */
  int allow_8bit;       /* 8-bit octets may appear in a streamed body */
  uint64_t size_value;
  int verbatim;         /* vetted memory body without bare CR/LF: sent as it is in
                           BDAT, with only line-start dots doubled in DATA */
  int verbatim_crlf;    /* ... and a final CRLF is added */
} cli_plan;

/* Where the running transaction is: its part (LIMITS RCPTMAX splits the
 * recipients), the commands written and the replies counted. */
typedef struct cli_tx {
  int active;
  unsigned int part, nparts;
  size_t first, end, rcpt_next;
  size_t replies, accepted, lmtp_next;
  int mail_emitted, data_emitted, mail_ok, failed_code;
  int done;
  size_t naccepted, ndelivered;
  int any_temp, any_perm, local_error;
} cli_tx;

/* The message body being encoded (client_body.c). */
typedef struct cli_body {
  int phase;            /* enum body_phase */
  int bdat_failed;
  smtp_stuffer st;
  int norm_cr;          /* BDAT normaliser: a CR is pending */
  uint64_t norm_line;   /* BDAT normaliser: octets of the current line */
  int norm_started;     /* BDAT normaliser: some byte was seen */
  int bol;              /* verbatim DATA: the next octet starts a line */
  uint64_t off;         /* memory body: next byte */
  uint64_t total;       /* octets taken from the source */
  int src_eof;
  int read_blocked;
  int chunk_open;
  size_t chunk_hdr_pos, chunk_len;
  size_t url_next;      /* BURL: the next URL to send */
  char *stage;
  size_t stage_off, stage_len;
} cli_body;

typedef struct cli_tls {
  unsigned char active, wanted;
  unsigned char verified; /* the server's certificate verified (smtp_tls_info) */
} cli_tls;

/* XCLIENT and XFORWARD (Postfix's XCLIENT_README and XFORWARD_README). */
typedef struct cli_xc {
  unsigned char client_done;   /* XCLIENT was sent on this connection */
  unsigned char client_ok;     /* ... and accepted: EHLO with its HELO name */
  unsigned char forward_offered; /* the last EHLO reply listed XFORWARD */
  unsigned char forward_done;    /* sent after that EHLO */
} cli_xc;

struct smtp_client_session {
  smtp_mem mem;
  smtp_client_callbacks cb;
  int event_mode;
  void *ud;
  sess_opt opt;
  smtp_reply_parser *rp;

  /* protocol state */
  int phase;            /* enum phase */
  unsigned int todo;    /* T_* commands owed */
  int error;            /* sticky: set when the session ended */
  int end_error;        /* reason to report once QUIT is answered */
  int closed_sent;
  int paused;
  int recv_started;
  int helo_mode;
  unsigned int ext;     /* usable extensions: offered minus disabled */
  int quit_requested;
  int one_reply;        /* test knob: return from mem_recv after each reply */
  unsigned long mails_sent; /* MAIL commands on this connection (LIMITS MAILMAX) */

  cli_out out;
  cli_ring ring;
  cli_tls tls;
  cli_caps caps;
  cli_auth auth;

  /* transaction */
  smtp_client_txn *txn;
  cli_tx tx;
  cli_plan plan;
  cli_body body;

  smtp__ep addrs[2]; /* SMTP_ADDR_CLIENT (local), SMTP_ADDR_SERVER (remote) */
  cli_xc xc;

  /* events (event mode only) */
  smtp_client_event *evq;
  size_t evq_head, evq_count;
};

/* ---------------- helpers shared by the client files ---------------- */

/* client.c: the protocol state machine */
int smtp__cli_ring_grow(smtp_client_session *c);
void smtp__cli_session_end(smtp_client_session *c, int err);

/* client_body.c: the output buffer and the body encoding */
int smtp__cli_out_room_slow(smtp_client_session *c, size_t n);
int smtp__cli_out_grow(smtp_client_session *c);
void smtp__cli_out_compact(smtp_client_session *c);
void smtp__cli_chunk_close(smtp_client_session *c, int last);
smtp_ssize smtp__cli_body_feed(smtp_client_session *c, const char *src, size_t len, int eof);
void smtp__cli_body_pump(smtp_client_session *c, int allow_read);
/* BURL commands (RFC 4468 3.4), reached through smtp_client_txn::burl_pump */
void smtp__cli_burl_pump(smtp_client_session *c);

/* client_txn.c: the transaction's MAIL and RCPT lines */
size_t smtp__cli_fmt_mail(const smtp_client_session *c, char *buf, size_t cap);
size_t smtp__cli_fmt_rcpt(const smtp_client_session *c, size_t i, char *buf, size_t cap);
int smtp__cli_txn_params_offered(const smtp_client_txn *t, unsigned int ext);

static inline size_t ring_index(const smtp_client_session *c, size_t i) {
  return (c->ring.head + i) % c->ring.cap;
}

/* Whether the ring is full: a full ring below RING_CAP moves to a block
 * twice its size first (smtp__cli_ring_grow()). */
static inline int ring_full(smtp_client_session *c) {
  return c->ring.count < c->ring.cap ? 0 : smtp__cli_ring_grow(c);
}

static inline int ring_push(smtp_client_session *c, int kind, size_t index) {
  pend *p;
  if (ring_full(c)) return 0;
  p = &c->ring.buf[ring_index(c, c->ring.count)];
  p->kind = kind;
  p->index = (unsigned int)index; /* recipients < RCPT_MAX */
  p->end = c->out.produced;
  c->ring.count++;
  return 1;
}

static inline pend *ring_front(smtp_client_session *c) {
  return c->ring.count ? &c->ring.buf[c->ring.head] : NULL;
}

static inline void ring_pop(smtp_client_session *c) {
  if (!c->ring.count) return;
  c->ring.head = (c->ring.head + 1) % c->ring.cap;
  c->ring.count--;
}

static inline int ring_has(const smtp_client_session *c, int kind) {
  size_t i;
  for (i = 0; i < c->ring.count; i++)
    if (c->ring.buf[ring_index(c, i)].kind == kind) return 1;
  return 0;
}

static inline void trace(smtp_client_session *c, int dir, const char *s, size_t n) {
  if (c->cb.trace) c->cb.trace(c, dir, s, n, c->ud);
}

static inline size_t out_pending(const smtp_client_session *c) { return c->out.ready - c->out.head; }

/* Everything waiting for the transport: the buffer, then the direct span. */
static inline size_t send_pending(const smtp_client_session *c) { return out_pending(c) + c->out.direct_len; }

/* Spans shorter than this are copied into the output instead (one transport
 * write per span: short runs between line-start dots are cheaper copied). */
#define DIRECT_MIN 4096u
/* Output in the session's allocation: command lines (a long AUTH line
 * moves it to out.max) and short messages copied whole. */
#define OUT_INIT 1536u
#define DIRECT_SMALL 512u

/* Room for @p n more bytes at the tail (smtp__cli_out_room_slow() when
 * the free room at the tail is short). */
static inline int smtp__cli_out_room(smtp_client_session *c, size_t n) {
  return c->out.cap - c->out.tail >= n ? 1 : smtp__cli_out_room_slow(c, n);
}

/* Append finished bytes (only when no BDAT chunk is open). */
static inline void out_put(smtp_client_session *c, const char *s, size_t n) {
  memcpy(c->out.buf + c->out.tail, s, n);
  c->out.tail += n;
  c->out.ready = c->out.tail;
  c->out.produced += n;
}


#endif
