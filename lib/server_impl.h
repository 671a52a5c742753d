/* Internals of the server session shared by server.c and server_auth.c.
 * Not installed. */
#ifndef SMTP_SERVER_IMPL_H
#define SMTP_SERVER_IMPL_H

#include <smtp/server.h>

#include "internal.h"

struct smtp_server_callbacks {
  smtp_mem mem;
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
};

#define SRV_NAME_MAX 255

struct smtp_server_options {
  smtp_mem mem;
  char hostname[SRV_NAME_MAX + 1];
  size_t max_command_line;
  size_t input_buffer;
  size_t output_buffer;
  unsigned int max_rcpt;
  unsigned int max_transactions;
  unsigned int max_errors;
  unsigned int max_auth_failures;
  uint64_t max_size;
  unsigned int extensions;
  unsigned int auth_mechs;
  int lmtp;
  int tls_available;
  int allow_plaintext_auth;
  int require_tls;
  int require_auth;
  int bare_policy;
  int reject_nul;
  int reject_long_lines;
  int authzid_policy;
  int lenient_colon;
  int command_timeout;
  int data_timeout;
  int data_end_timeout;
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
  SRV_OP_UNKNOWN
};

#define SRV_TLS_STR 64

struct smtp_server_session {
  smtp_mem mem;
  struct smtp_server_callbacks cb;
  struct smtp_server_options opt;
  void *user_data;

  /* One allocation: this struct, then the three buffers. */
  char *in;          /* partial command line; work buffer for DATA */
  size_t in_cap, in_len;
  char *scratch;     /* decoded xtext / base64 */
  size_t scratch_cap;
  char *out;         /* pending output [out_start, out_end) */
  size_t out_cap, out_start, out_end;
  size_t reply_max;  /* largest reply; also the backpressure threshold */
  size_t mail_line_max, rcpt_line_max; /* CRLF included */

  /* Session state. */
  int started;       /* greeting produced (or being produced) */
  int closed;        /* no more input */
  int fatal;         /* sticky fatal error or 0 */
  int mode;
  int discard_cr;
  int refused_greeting; /* 0, or 554 / 521: only QUIT is served */
  int helo_verb;     /* 0 until HELO/EHLO/LHLO accepted */
  char helo_name[SRV_NAME_MAX + 1];
  size_t helo_len;
  unsigned int offered; /* extensions offered in the last EHLO reply */
  int tls;
  char tls_protocol[SRV_TLS_STR], tls_cipher[SRV_TLS_STR], tls_sni[SRV_TLS_STR];
  int tls_verified, tls_has_cert;
  int starttls_pending; /* 220 to STARTTLS queued; input discarded */
  int authed;
  char user[SRV_NAME_MAX + 1];
  size_t user_len;
  unsigned int errors, auth_failures, transactions;
  unsigned int seq;

  /* Transaction. */
  int in_mail;
  char rpath[SMTP_PATH_MAX + 1];
  size_t rpath_len;
  unsigned int tflags; /* SMTP_SERVER_FLAG_SMTPUTF8 | BDAT | REQUIRETLS | 8BITMIME | BINARYMIME */
  unsigned int rcpts;
  int bdat_failed;

  /* Values of the command waiting for its answer, committed on success. */
  int p_verb;
  char p_name[SMTP_PATH_MAX + 1];
  size_t p_name_len;
  unsigned int p_flags;

  /* The event in progress. */
  int op;
  int in_cb;      /* an event callback runs */
  int in_any_cb;  /* any callback runs (mem_recv refused) */
  int answered;   /* the running callback answered */
  int deferred;   /* waiting for smtp_server_session_reply() */
  int paused;

  /* Message data. */
  smtp_unstuffer un;
  uint64_t msg_size;
  int msg_refused;   /* the application refused a chunk */
  int msg_too_big;   /* a BDAT chunk was announced past the size limit */
  int data_block;  /* a data block arrived in this mem_recv */
  uint64_t bdat_left;
  uint64_t bdat_size;
  int bdat_last;
  int bdat_deliver;

  /* End-of-data reply sequence (one reply, or one per recipient in LMTP). */
  int eod;
  unsigned int eod_index, eod_count;

  /* AUTH exchange. */
  int auth_active;     /* an exchange runs; the next line is a SASL response */
  int auth_exchange;   /* the current AUTH passed its checks (failures count) */
  unsigned int auth_mech;
  unsigned int auth_stepno;
  int auth_builtin;    /* PLAIN/LOGIN handled here */
  int login_stage;     /* LOGIN: 0 user name expected, 1 password expected */
  char auth_id[SRV_NAME_MAX + 1]; /* identity on success (LOGIN: the user name) */
  size_t auth_id_len;
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

/* server_auth.c */
int smtp__srv_auth_command(smtp_server_session *s, const char *args, size_t len);
int smtp__srv_auth_line(smtp_server_session *s, const char *line, size_t len);
void smtp__srv_auth_abort(smtp_server_session *s, int status_id);
void smtp__srv_auth_reset(smtp_server_session *s);
unsigned int smtp__srv_auth_offered(const smtp_server_session *s);
int smtp__srv_auth_usable(const smtp_server_session *s);
void smtp__srv_auth_complete(smtp_server_session *s, int code);

#endif
