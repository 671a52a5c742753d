/* smtp-send's application half (docs/examples.md, "smtp-send"): option
 * parsing, reading the message, building the client options and the
 * transaction, the per-recipient output lines and the exit status. The
 * transport (examples/smtp-send.c) only moves bytes. */
#ifndef SEND_APP_H
#define SEND_APP_H

#include <stdio.h>

#include <smtp/address.h>
#include <smtp/client.h>

/* Exit statuses (docs/examples.md). */
#define SEND_EXIT_ALL 0      /* every recipient accepted the message */
#define SEND_EXIT_SOME 1     /* some did, some did not */
#define SEND_EXIT_NONE 2     /* delivered to none: rejected, connection/TLS failure, timeout */
#define SEND_EXIT_USAGE 64   /* EX_USAGE */

typedef struct send_opts {
  char host[256];
  char port[8];
  const char *from;
  const char **to;
  size_t nto;
  const char *helo;
  int starttls;          /* smtp_client_starttls_policy */
  int implicit_tls;
  const char *ca_file;
  int insecure;
  const char *tls_backend;             /* --tls-backend (NULL: the build's default) */
  const char *tls_cert, *tls_key;      /* --tls-cert/--tls-key: a client certificate */
  const char *servername;
  char *auth_user, *auth_pass; /* split copies of --auth */
  unsigned int auth_mech;      /* 0: the strongest both sides have */
  int allow_plaintext_auth;
  int lmtp, no_pipelining, no_chunking, no_8bitmime, smtputf8, requiretls;
  unsigned int dsn_notify;
  int dsn_ret;
  const char *envid;
  int trace;
  const char *file;      /* NULL or "-": stdin */
  const char **mail_params; /* --mail-param K[=V] (argv strings) */
  size_t nmail_params;
  const char **rcpt_params; /* --rcpt-param K[=V], every recipient */
  size_t nrcpt_params;
  int has_mt_priority, mt_priority;
  const char *deliver_by;   /* BY= value */
  const char *hold_for;     /* HOLDFOR= value */
  const char *hold_until;   /* HOLDUNTIL= value */
  const char *rrvs;         /* RRVS= value on every RCPT */
  int timeout_s;            /* 0: RFC 5321 4.5.3.2 defaults */
  int json;
  unsigned int proxy_version;  /* --proxy-header v1|v2|v2-crc32c: 1, 2 or 2|SMTP_DRIVER_PROXY_CRC32C; 0 none */
  int have_proxy_source;       /* --proxy-source ADDR:PORT */
  smtp_endpoint proxy_source;
  const char *xclient;         /* --xclient 'NAME=VALUE ...' (xtext values) */
  const char *xforward;        /* --xforward 'NAME=VALUE ...' */
  /* delivery to the recipients' domain (docs/examples.md) */
  int mx, dane, mta_sts;
  const char *resolver;      /* --resolver HOST[:PORT] */
  const char *dnssec_anchor; /* --dnssec-anchor FILE */
  unsigned int mx_port;      /* --port N (default 25) */
  unsigned int mta_sts_port; /* --mta-sts-port N (default 443; tests) */
  const char *domain;        /* the recipients' domain (points into an argv string) */
} send_opts;

/* Parse argv. Returns 0 to go on, SEND_EXIT_USAGE after printing one line
 * on @p err, or -1 after printing --help on @p out (exit 0). */
int send_parse_args(int argc, char **argv, send_opts *o, FILE *out, FILE *err);
void send_opts_free(send_opts *o);

/* Read the message (FILE or stdin). Returns 0 or -1 (message on @p err). */
int send_read_message(const char *file, char **buf, size_t *len, FILE *err);

/* The state the callbacks update. */
typedef struct send_app {
  const send_opts *o;
  FILE *out, *err;
  smtp_client_options *opt;
  smtp_client_txn *txn;
  smtp_client_callbacks *cbs;
  int mail_refused;
  int txn_started;  /* a reply to MAIL came: the transaction ran on this host */
  int got_result;
  smtp_client_txn_result result;
  int closed_error;
  int printed;      /* a stdout line was printed */
  int tls_error;    /* set by the transport */
  char detail[256]; /* set by the transport: the TLS library's reason, appended to the stderr line */
  /* --json: what the object reports (replies copied as they come) */
  char *json_rcpts;  /* ",{...}" items, malloc'ed */
  size_t json_rcpts_len;
  char *json_data;   /* the data reply object(s) */
  size_t json_data_len;
  char *json_mail;   /* the refused MAIL reply, or NULL */
  int have_tls;      /* set by the transport */
  char tls_protocol[64], tls_cipher[128];
  int tls_verified;
  /* Replies owed after the data: per recipient 1 accepted, 2 its DATA line
   * printed (LMTP); the SMTP DATA line; whether the data phase began. */
  unsigned char *rcpt_state;
  int data_line, body_started, missing_done;
} send_app;

/* The event callback send_app_init() installs (prints the result lines);
 * a transport may wrap it. */
int send_app_on_event(smtp_client_session *c, const smtp_client_event *ev, void *ud);

/* Build options and transaction; @p default_helo is used without --helo.
 * Returns 0, or SEND_EXIT_USAGE for an invalid address/parameter (one line
 * on err, nothing sent), or SEND_EXIT_NONE on another failure. */
int send_app_init(send_app *a, const send_opts *o, const char *default_helo, const char *msg,
                  size_t msglen, FILE *out, FILE *err);
void send_app_free(send_app *a);

/* The exit status once the session is over (prints the stderr line for a
 * failure without a reply). */
int send_app_finish(send_app *a);

/* Print prefix, then @p p escaped with smtp_escape_text(), then a newline
 * when @p newline: how every byte from the network reaches stdout/stderr. */
void send_app_print_escaped(FILE *f, const char *prefix, const char *p, size_t n, int newline);

/* Validate the command-line addresses and parameters without a session
 * (same rules as send_app_init); 0 or SEND_EXIT_USAGE. */
int send_check_inputs(const send_opts *o, FILE *err);

#endif
