/* Internals of the server session shared by server.c and server_auth.c.
 * Not installed. */
#ifndef SMTP_SERVER_IMPL_H
#define SMTP_SERVER_IMPL_H

#include <smtp/server.h>

#include "internal.h"
#include "text.h"

/* The callbacks a session copies (the allocator stays with the object). */
struct srv_callbacks {
  smtp_server_on_connect connect;
  smtp_server_on_ehlo ehlo;
  smtp_server_on_mail mail;
  smtp_server_on_rcpt rcpt;
  smtp_server_on_data_start data_start;
  smtp_server_on_data_chunk data_chunk;
  smtp_server_on_data_end data_end;
  smtp_server_on_rset rset;
  smtp_server_on_vrfy vrfy;
  smtp_server_on_expn expn;
  smtp_server_on_help help;
  smtp_server_on_noop noop;
  smtp_server_on_quit quit;
  smtp_server_on_unknown_command unknown_command;
  smtp_server_on_auth auth;
  smtp_server_on_auth_step auth_step;
  smtp_server_on_starttls starttls;
  smtp_server_on_trace trace;
  smtp_server_on_param param;
  smtp_server_on_etrn etrn;
  smtp_server_on_burl burl;
  smtp_server_on_bdat_chunk bdat_chunk;
};

/* The built-in SCRAM and bearer-token verifiers (server_sasl.c) are
 * reached only through run pointers that their callback setters store, so
 * a program that never sets those callbacks links neither verifier, nor
 * SASLprep's tables, nor the hashes (docs/footprint.md). A session copies
 * these into its SASL block (allocated only when one of them is set or
 * EXTERNAL is enabled), not into the session itself. */
typedef void (*smtp__srv_mech_run)(smtp_server_session *s, const char *data, size_t n);
struct srv_sasl_callbacks {
  smtp_server_on_scram_lookup scram_lookup;
  smtp_server_on_token token;
  smtp__srv_mech_run scram_run, token_run;
};

/* The AUTH command and the SASL lines of an exchange (server_auth.c, or
 * server_auth_none.c without SASL) are reached through this table, which
 * only the setters that turn AUTH on name (the auth, auth_step, scram_lookup
 * and token callbacks; EXTERNAL among the options' mechanisms): a server
 * that never sets them links no SASL code and answers AUTH 502 5.5.1
 * (RFC 5321 4.2.4), as one that offers no mechanism does. */
typedef struct smtp__srv_auth_run {
  int (*command)(smtp_server_session *s, const char *args, size_t len);
  int (*line)(smtp_server_session *s, const char *line, size_t len);
} smtp__srv_auth_run;
extern const smtp__srv_auth_run smtp__srv_auth_impl;

struct smtp_server_callbacks {
  smtp_mem mem;
  struct srv_callbacks f;
  struct srv_sasl_callbacks sasl;
  const smtp__srv_auth_run *auth_run; /* &smtp__srv_auth_impl once AUTH is set up */
};

#define SRV_NAME_MAX 255

/* The options a session copies (the host name goes to the session's tail,
 * sized to fit). */
struct srv_params {
  uint64_t max_size;
  size_t max_command_line;
  unsigned int max_rcpt;
  unsigned int max_transactions;
  unsigned int max_errors;
  unsigned int max_auth_failures;
  unsigned int extensions;
  unsigned int auth_mechs;
  int command_timeout;
  int data_timeout;
  int data_end_timeout;
  int data_total_timeout;
  unsigned char lmtp;
  unsigned char tls_available;
  unsigned char allow_plaintext_auth;
  unsigned char require_tls;
  unsigned char require_auth;
  unsigned char bare_policy;
  unsigned char reject_nul;
  unsigned char reject_long_lines;
  unsigned char authzid_policy;
  unsigned char lenient_colon;
  unsigned char xclient; /* SMTP_XCLIENT | SMTP_XFORWARD handled by the session */
};

/* SCRAM's settings: in the options, and in a session's SASL block only
 * (server_sasl.c), not in every session. */
struct srv_scram_params {
  int (*random)(void *buf, size_t len, void *user_data);
  void *random_ud;
  unsigned char fake_secret[32]; /* made-up SCRAM salts for unknown users */
  unsigned char have_fake_secret;
  unsigned int scram_min_iter, scram_max_iter;
};

struct smtp_server_options {
  smtp_mem mem;
  char hostname[SRV_NAME_MAX + 1];
  struct srv_params p;
  size_t input_buffer, output_buffer; /* used at creation only: not in p */
  struct srv_scram_params sp;
  const smtp__srv_auth_run *auth_run; /* set with EXTERNAL among the mechanisms */
  /* Extra EHLO lines, each NUL-terminated: the EHLO parameters of
   * extensions (ext_with_params says which) and application keywords. */
  char ehlo_extra[SMTP_SERVER_EHLO_EXTRA_MAX];
  size_t ehlo_extra_len;
  unsigned int ext_with_params;
};

/* Input modes. */
enum { SRV_M_LINE = 0, SRV_M_DISCARD, SRV_M_DATA, SRV_M_BDAT };

/* The event waiting for an answer. */
enum {
  SRV_OP_NONE = 0,
  SRV_OP_GREETING,
  SRV_OP_HELO,
  SRV_OP_MAIL,
  SRV_OP_RCPT,
  SRV_OP_DATA,
  SRV_OP_BDAT,
  SRV_OP_DATA_END,
  SRV_OP_RSET,
  SRV_OP_VRFY,
  SRV_OP_EXPN,
  SRV_OP_HELP,
  SRV_OP_NOOP,
  SRV_OP_QUIT,
  SRV_OP_STARTTLS,
  SRV_OP_AUTH,
  SRV_OP_UNKNOWN,
  SRV_OP_ETRN,
  SRV_OP_BURL,
  SRV_OP_BDAT_CHUNK /* the end of a BDAT chunk but the first's start and the LAST */
};

/* Where the dialogue is (RFC 5321 4.1.4 command order, 3.3 transactions).
 * Commands check it for sequencing; replies move it (apply() in server.c).
 * The session's end is separate (`closed`: no more input), so what the
 * application may still ask after QUIT (the envelope, say) is unchanged. */
enum srv_state {
  SRV_ST_START,   /* the greeting is not produced yet */
  SRV_ST_GREETED, /* greeted; no HELO/EHLO/LHLO accepted (or reset by STARTTLS) */
  SRV_ST_HELO,    /* HELO/EHLO/LHLO accepted, no transaction */
  SRV_ST_MAIL     /* MAIL accepted: a transaction is open */
};

/* Call an application callback: the session knows a callback runs
 * (in_any_cb: no re-entry through mem_recv) and, for an event callback
 * that may answer the command itself (@p may_answer), that it may do so
 * (in_cb). @p rv receives the callback's result. Every callback of the
 * server (server.c, server_auth.c, server_sasl.c) is called through this. */
#define SMTP__SRV_CALL(s, may_answer, rv, call)                             \
  do {                                                                      \
    if (may_answer) (s)->in_cb = 1;                                         \
    (s)->in_any_cb++;                                                       \
    (rv) = (call);                                                          \
    (s)->in_any_cb--;                                                       \
    if (may_answer) (s)->in_cb = 0;                                         \
  } while (0)

#define SRV_TLS_STR 64

/* What smtp_server_session_tls_started() was told, allocated then: a
 * plaintext session holds only the pointer. */
struct srv_tls_names {
  char protocol[SRV_TLS_STR], cipher[SRV_TLS_STR], sni[SRV_TLS_STR];
};

/* One allocation holds the struct, then the input buffer, the output
 * buffer, the host name and, only with an auth or auth_step callback, the
 * AUTH identity (SRV_NAME_MAX + 1). Memory per idle session is what this
 * costs (at most 4 KiB with the defaults, bench/bench_idle.c), so rarely used state has no
 * buffer of its own:
 *  - the input buffer is also the scratch area of the command being run
 *    (decoded xtext of MAIL/RCPT parameters after the line when the line
 *    sits in the buffer, else from its start; decoded SASL data at its
 *    start, in place when the line sits there: base64 output never passes
 *    the input it was read from) and keeps the argument of a HELO/EHLO/LHLO
 *    waiting for its answer (no input is taken while an answer is pending);
 *  - a MAIL reverse-path is written straight to rpath (unused outside a
 *    transaction, and MAIL is refused inside one);
 *  - flags are octets. */
struct smtp_server_session {
  char *in;          /* partial command line; DATA work buffer; scratch (above) */
  size_t in_cap, in_len;
  char *out;         /* pending output [out_start, out_end) */
  size_t out_cap, out_start, out_end;
  size_t reply_max;  /* largest reply; also the backpressure threshold */
  size_t mail_line_max, rcpt_line_max; /* CRLF included */
  size_t scratch_off; /* where the current command's scratch starts in `in` */

  struct srv_callbacks cb;
  void *user_data;
  struct srv_params opt;
  const char *hostname; /* in the tail */
  size_t hostname_len;
  const char *ehlo_extra; /* extra EHLO lines (tail), see smtp_server_options */
  size_t ehlo_extra_len;
  unsigned int ext_with_params;
  char *user;           /* AUTH identity (tail), NULL without AUTH callbacks */
  struct smtp__srv_sasl *sx; /* built-in SCRAM/EXTERNAL/token state (server_sasl.c) */
  const smtp__srv_auth_run *auth_run; /* NULL: AUTH was never set up (502) */
  smtp_mem mem;

  /* Message data. */
  smtp_unstuffer un;
  uint64_t msg_size;
  uint64_t bdat_left;
  uint64_t bdat_size;

  int fatal;            /* sticky fatal error or 0 */
  int refused_greeting; /* 0, or 554 / 521: only QUIT is served */
  unsigned int offered; /* extensions offered in the last EHLO reply */
  unsigned int errors, auth_failures, transactions;
  unsigned int seq;
  unsigned int total_seq; /* a new whole-data deadline (DATA after 354, each BDAT chunk) */
  unsigned int tflags; /* SMTP_SERVER_FLAG_SMTPUTF8 | BDAT | REQUIRETLS | 8BITMIME | BINARYMIME */
  unsigned int rcpts;
  unsigned int p_flags; /* flags of the MAIL waiting for its answer; for an EHLO
                           waiting for its answer, the extensions it hides
                           (smtp_server_session_ehlo_hide()) */
  unsigned int eod_index, eod_count; /* end-of-data replies (one per recipient in LMTP) */
  unsigned int auth_mech;
  unsigned int auth_stepno;
  unsigned short helo_len, rpath_len, user_len;
  unsigned short p_name_len; /* HELO argument or MAIL address waiting for its answer */

  /* Session state. */
  unsigned char state;    /* enum srv_state: where the dialogue is */
  unsigned char closed;   /* no more input */
  unsigned char mode;
  unsigned char discard_cr;
  unsigned char helo_verb; /* 0 until HELO/EHLO/LHLO accepted */
  unsigned char p_verb;    /* verb of the HELO waiting for its answer */
  unsigned char tls;
  unsigned char tls_verified, tls_has_cert;
  unsigned char starttls_pending; /* 220 to STARTTLS queued; input discarded */
  unsigned char authed;
  unsigned char bdat_failed;
  unsigned char no_count; /* the reply being sent is not an error (RFC 3030 2 discard) */
  /* The event in progress. */
  unsigned char op;
  unsigned char in_cb;      /* an event callback runs */
  unsigned char in_any_cb;  /* callbacks running (mem_recv refused); at most 2 (trace) */
  unsigned char answered;   /* the running callback answered */
  unsigned char deferred;   /* waiting for smtp_server_session_reply() */
  unsigned char paused;
  unsigned char in_param_cb; /* the param callback runs: only 4yz/5yz answers */
  unsigned char burl_last;   /* the BURL waiting for its answer had LAST */
  unsigned char msg_refused; /* the application refused a chunk */
  unsigned char msg_too_big; /* a BDAT chunk was announced past the size limit */
  unsigned char data_block;  /* a data block arrived in this mem_recv */
  unsigned char bdat_last;
  unsigned char bdat_deliver;
  unsigned char eod;         /* end-of-data reply sequence running */
  /* AUTH exchange. */
  unsigned char auth_active;   /* an exchange runs; the next line is a SASL response */
  unsigned char auth_exchange; /* the current AUTH passed its checks (failures count) */
  unsigned char auth_builtin;  /* PLAIN/LOGIN handled here */
  unsigned char login_stage;   /* LOGIN: 0 user name expected, 1 password expected */

  smtp__ep addrs[3]; /* SMTP_ADDR_CLIENT, _SERVER, _PEER */
  unsigned char x_allowed; /* XCLIENT/XFORWARD allowed to this client */
  struct smtp__srv_x *xs;  /* XCLIENT/XFORWARD attributes (server_xclient.c), NULL until used */
  struct srv_tls_names *tn; /* NULL until TLS started */

  char helo_name[SRV_NAME_MAX + 1];
  char rpath[SMTP_PATH_MAX + 1];
};

/* server.c */
int smtp__srv_emit(smtp_server_session *s, int code, const smtp_enhanced_code *enh,
                   const char *text, size_t textlen, size_t max);
int smtp__srv_finish(smtp_server_session *s, int code, const smtp_enhanced_code *enh,
                     const char *text, size_t textlen);
int smtp__srv_finish_status(smtp_server_session *s, int id);
int smtp__srv_after_cb(smtp_server_session *s, int rv);
void smtp__srv_trace(smtp_server_session *s, int dir, const char *line, size_t len);
void smtp__srv_set_fatal(smtp_server_session *s, int err);
int smtp__srv_answer_begin(smtp_server_session *s);
int smtp__srv_answer_end(smtp_server_session *s);
void smtp__srv_apply(smtp_server_session *s, int code);
char *smtp__srv_out_reserve(smtp_server_session *s, size_t need);
void smtp__srv_out_commit(smtp_server_session *s, size_t n);

/* server_auth.c (the command and the SASL lines: smtp__srv_auth_impl) */
void smtp__srv_auth_abort(smtp_server_session *s, int status_id);
void smtp__srv_auth_reset(smtp_server_session *s);
unsigned int smtp__srv_auth_offered(const smtp_server_session *s);
int smtp__srv_auth_usable(const smtp_server_session *s);
void smtp__srv_auth_complete(smtp_server_session *s, int code);
int smtp__srv_auth_emit_challenge(smtp_server_session *s, const void *data, size_t len);
void smtp__srv_auth_set_identity(smtp_server_session *s, const char *id, size_t len);

/* server_xclient.c: the attributes XCLIENT and XFORWARD gave (Postfix's
 * XCLIENT_README and XFORWARD_README), allocated on first use. */
int smtp__srv_x_prepare(smtp_server_session *s);
void smtp__srv_x_apply(smtp_server_session *s, unsigned int verb, const struct smtp_xattrs *x);
void smtp__srv_x_txn_end(smtp_server_session *s);
void smtp__srv_x_free(smtp_server_session *s);
int smtp__srv_x_addr(const smtp_server_session *s, unsigned int which, struct smtp_endpoint *out);
int smtp__srv_x_helo(const smtp_server_session *s, const char **name, size_t *len);
const char *smtp__srv_x_login(const smtp_server_session *s, size_t *len);
int smtp__srv_x_proto(const smtp_server_session *s);

/* server_sasl.c: SCRAM, EXTERNAL, XOAUTH2/OAUTHBEARER run by the session */
unsigned int smtp__srv_sasl_builtin(const smtp_server_session *s);
void smtp__srv_sasl_start(smtp_server_session *s, unsigned int mech, const char *ir, size_t n,
                          int has_ir);
void smtp__srv_sasl_line(smtp_server_session *s, const char *data, size_t n);
void smtp__srv_sasl_reset(smtp_server_session *s);
void smtp__srv_sasl_free(smtp_server_session *s);
/* At creation: the state block, when a built-in verifier may run
 * (@p cb and @p opt may be NULL). */
int smtp__srv_sasl_init(smtp_server_session *s, const smtp_server_callbacks *cb,
                        const smtp_server_options *opt);
/* Whether @p cb names a built-in verifier's callback (SCRAM, token). */
int smtp__srv_sasl_configured(const smtp_server_callbacks *cb);

#endif
