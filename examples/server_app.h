/* The application side of examples/smtp-server: command-line options
 * (docs/examples.md), the callbacks (policy, AUTH against a user:password
 * file, Maildir delivery with Return-Path / Delivered-To / Received header
 * fields), and a blocking --stdio loop. smtp-server.c only chooses how to
 * serve (stdio here; TCP, TLS and event loops are added on top), so every
 * transport shares this logic. */
#ifndef EXAMPLES_SERVER_APP_H
#define EXAMPLES_SERVER_APP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <smtp/capture.h>
#include <smtp/script.h>
#include <smtp/server.h>

#include "script_app.h"

#define SERVER_APP_MAX_LISTEN 16

typedef struct server_app_user {
  char *name;
  char *password;            /* NULL for a SCRAM stored-key line */
  smtp_scram_record scram;   /* with password == NULL */
} server_app_user;

/* Connection-level options (server_conn.c): PROXY protocol, trusted
 * proxies, XCLIENT/XFORWARD, per-client limits, worker processes. */
typedef struct server_app_net {
  int proxy_protocol;        /* --proxy-protocol */
  const char **trusted;      /* --trusted-proxy CIDR (repeatable) */
  size_t ntrusted;
  smtp_cidr_list *trusted_list; /* built by server_conn_prepare() */
  int xclient, xforward;     /* --xclient, --xforward */
  unsigned int max_per_ip;   /* --max-per-ip N, default 50; 0: none */
  unsigned int rate_per_ip;  /* --rate-per-ip N per minute, default 0: none */
  unsigned int workers;      /* --workers N, default 1 */
} server_app_net;

typedef struct server_app_config {
  const char *listen[SERVER_APP_MAX_LISTEN]; /* --listen HOST:PORT (repeatable) */
  size_t nlisten;
  int stdio;                 /* --stdio */
  char hostname[256];        /* --hostname, default: the host name (or "localhost") */
  const char *maildir;       /* --maildir DIR, NULL: discard */
  int discard;               /* --discard */
  const char *tls_cert;      /* --tls-cert */
  const char *tls_key;       /* --tls-key */
  int tls_self_signed;       /* --tls-self-signed */
  int implicit_tls;          /* --implicit-tls */
  const char *tls_backend;   /* --tls-backend NAME (NULL: the build's default) */
  const char *tls_client_ca; /* --tls-client-ca FILE: request client certificates */
  const char *auth_file;     /* --auth-file */
  int require_auth;          /* --require-auth */
  int require_tls;           /* --require-tls */
  int allow_plaintext_auth;  /* --allow-plaintext-auth */
  int lmtp;                  /* --lmtp */
  uint64_t max_size;         /* --max-size, default 52428800; 0: no limit */
  unsigned int max_rcpt;     /* --max-rcpt, default 100 */
  const char **reject;       /* --reject ADDR (repeatable) */
  size_t nreject;
  const char **tempfail;     /* --tempfail ADDR (repeatable) */
  size_t ntempfail;
  int trace;                 /* --trace */
  const char *tls_cert_out;  /* --tls-cert-out FILE: write the certificate in use (PEM) */
  unsigned int max_conns;    /* --max-connections N (TCP); 0: derived from RLIMIT_NOFILE */
  uint64_t max_memory;       /* --max-memory BYTES: RSS ceiling for new connections; 0: none */
  int timeout_ms;            /* --timeout SECONDS: command and data deadlines; 0: RFC 5321 defaults */
  unsigned int ext_on;       /* --enable-ext KEYWORD (smtp_ext_flag bits) */
  unsigned int ext_off;      /* --disable-ext KEYWORD */
  const char **ehlo_kw;      /* --ehlo-keyword 'KEYWORD [PARAMS]' (repeatable) */
  size_t nehlo_kw;
  server_app_net net;        /* server_conn.c */
  smtp_script *script;       /* --script FILE, parsed (script_app.c) */
  const char *capture;       /* --capture FILE ("-": stdout; capture_app.c) */
  server_app_user *users;    /* loaded from auth_file */
  size_t nusers;
  unsigned int scram_mechs;  /* SCRAM families with at least one stored-key line */
  const char **tokens;       /* --oauth-token USER:TOKEN (repeatable) */
  size_t ntokens;
  const char *make_scram_user;   /* --make-scram-record USER */
  unsigned int make_scram_mech;  /* --scram-mech, default SCRAM-SHA-256 */
  unsigned int make_scram_iter;  /* --scram-iterations, default 4096 */
} server_app_config;

/* Parse argv. Returns 0 to go on, 1 when --help was printed (exit 0), or 64
 * after printing a one-line error to stderr (exit 64, EX_USAGE). Unknown
 * options are usage errors; the first non-option argument too. */
int server_app_parse_args(server_app_config *cfg, int argc, char **argv);

/* Load the auth file and create the Maildir folders. Returns 0, or prints
 * one line to stderr and returns 1. */
int server_app_prepare(server_app_config *cfg);

/* --make-scram-record: read a password line from stdin, print the
 * stored-key line on stdout. Returns the exit status. */
int server_app_make_scram_record(const server_app_config *cfg);

void server_app_config_free(server_app_config *cfg);

/* Options and callbacks for one session. @p tls_available: the transport
 * can do STARTTLS. Free with smtp_server_options_del/_callbacks_del. */
int server_app_session_setup(const server_app_config *cfg, int tls_available,
                             smtp_server_options **opt, smtp_server_callbacks **cb);

/* Per-connection state: the session's user_data. */
typedef struct server_app_conn server_app_conn;

/* @p peer: e.g. "192.0.2.1" for the Received field, or NULL. */
server_app_conn *server_app_conn_new(const server_app_config *cfg, const char *peer);
/* Drops an unfinished delivery (its file in tmp/). */
void server_app_conn_del(server_app_conn *c);

/* The connection's script state (NULL without --script) and capture
 * (NULL without --capture). */
script_conn *server_app_conn_script(server_app_conn *c);
smtp_capture *server_app_conn_capture(server_app_conn *c);

/* Asynchronous delivery (smtp-server's TCP event loop). With a hook set,
 * the end of a message bound for a Maildir does not fsync inside the
 * callback (a slow disk would stall every session of the loop): the hook
 * gets the connection, the session's answer is deferred
 * (SMTP_ERR_DEFERRED), the caller runs server_app_deliver() on another
 * thread and then server_app_delivered() on the session's thread, which
 * answers. The session calls no other callback in between. */
typedef void (*server_app_async_fn)(server_app_conn *c, void *ud);
void server_app_conn_set_async(server_app_conn *c, server_app_async_fn fn, void *ud);
/* fsync the message, move it into new/, fsync new/. Touches only @p c's
 * message (any thread). Returns 0, or -1 (the message is dropped). */
int server_app_deliver(server_app_conn *c);
/* On the session's thread after server_app_deliver(): record the outcome
 * (LMTP answers every recipient with it) and give the deferred answer.
 * Returns 0, or -1 when the session would not take it. */
int server_app_delivered(server_app_conn *c, smtp_server_session *s, int ok);

/* Print prefix, then @p p escaped with smtp_escape_text(), then a newline:
 * how every byte from the network reaches stderr (--trace, logs). */
void server_app_print_escaped(FILE *f, const char *prefix, const char *p, size_t n);

/* --- server_conn.c: connection-level options and per-client limits --- */

/* Defaults into cfg->net. */
void server_conn_defaults(server_app_config *cfg);
/* One option at argv[*i] (value argv[*i + 1]): -1 not one of these, 0
 * taken (*i moved past its value), 64 usage error (printed). */
int server_conn_parse_opt(server_app_config *cfg, int argc, char **argv, int *i);
/* The option lines for --help. */
extern const char server_conn_usage[];
/* Checks between options: 0 or 64 (printed). */
int server_conn_check(const server_app_config *cfg);
/* Build the trusted list: 0, or 1 after a message. */
int server_conn_prepare(server_app_config *cfg);
void server_conn_free(server_app_config *cfg);
/* The connect callback's part: per-client limits on the session's client
 * address (after PROXY). Returns 0 (admitted; *slot is set and must be
 * given to server_conn_release()), or 1 after answering 421 4.7.0. */
int server_conn_admit(const server_app_config *cfg, smtp_server_session *s, void **slot);
void server_conn_release(void *slot);
/* The EHLO callback's part: a session from a trusted XCLIENT proxy is
 * counted for the client XCLIENT announced, once, at the EHLO that follows
 * XCLIENT. Same results as server_conn_admit() (1: answered 421 4.7.0). */
int server_conn_admit_xclient(const server_app_config *cfg, smtp_server_session *s, void **slot);
/* The client's address as a Received "from" TCP-info address literal body
 * ("192.0.2.1", "IPv6:2001:db8::1"), from the session; "" when unknown. */
void server_conn_client_literal(const smtp_server_session *s, char *buf, size_t cap);
/* The client's host name as XFORWARD (this transaction) or XCLIENT said
 * it: the name, "unknown" for [UNAVAILABLE]/[TEMPUNAVAIL], "" when not said. */
void server_conn_client_name(const smtp_server_session *s, char *buf, size_t cap);

/* One session on fds @p in / @p out, blocking, with the RFC 5321 deadlines.
 * Returns the exit status (0 when the session ended normally, also on EOF). */
int server_app_serve_fd(const server_app_config *cfg, int in, int out);

#endif
