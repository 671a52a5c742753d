/* The application logic of examples/smtp-server; see server_app.h. */
#include "server_app.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "capture_app.h"

/* ------------------------------------------------------------------------ */
/* Options.                                                                  */

static void usage(FILE *f) {
  fputs("usage: smtp-server [options]\n"
        "  --listen HOST:PORT      listen on TCP (repeatable; default 127.0.0.1:2525)\n"
        "  --stdio                 serve one session on stdin/stdout, then exit\n"
        "  --hostname NAME         domain in the greeting and EHLO reply\n"
        "  --maildir DIR           deliver into DIR (tmp/ then new/)\n"
        "  --discard               accept and drop messages (default without --maildir)\n"
        "  --tls-cert FILE --tls-key FILE   PEM certificate chain and key (STARTTLS)\n"
        "  --tls-self-signed       make a throw-away self-signed certificate\n"
        "  --implicit-tls          TLS from the first byte\n"
        "  --tls-backend NAME      mbedtls or openssl (default: the build's first)\n"
        "  --tls-client-ca FILE    request client certificates, verified against FILE;\n"
        "                          a verified one permits AUTH EXTERNAL as its commonName\n"
        "  --auth-file FILE        enable AUTH; FILE holds user:password lines and SCRAM\n"
        "                          stored-key lines (user:SCRAM-SHA-256:iterations:salt:\n"
        "                          storedkey:serverkey, base64 fields)\n"
        "  --make-scram-record USER  read a password from stdin, print USER's stored-key\n"
        "                          line for --auth-file, exit\n"
        "  --scram-mech MECH       with --make-scram-record: SCRAM-SHA-1, SCRAM-SHA-256\n"
        "                          (default) or SCRAM-SHA-512\n"
        "  --scram-iterations N    with --make-scram-record: iteration count (default 4096)\n"
        "  --oauth-token USER:TOKEN  accept this bearer token for USER with XOAUTH2 and\n"
        "                          OAUTHBEARER (repeatable)\n"
        "  --require-auth          refuse MAIL (530 5.7.0) until authenticated\n"
        "  --require-tls           refuse MAIL (530 5.7.0) until TLS is up\n"
        "  --allow-plaintext-auth  offer AUTH without TLS\n"
        "  --lmtp                  speak LMTP (RFC 2033)\n"
        "  --max-size N            message size limit in octets (default 52428800; 0: none)\n"
        "  --max-rcpt N            recipients per transaction (default 100)\n"
        "  --reject ADDR           RCPT for ADDR gets 550 5.1.1 (repeatable)\n"
        "  --tempfail ADDR         RCPT for ADDR gets 450 4.2.0 (repeatable)\n"
        "  --trace                 print the protocol transcript to stderr\n"
        "  --tls-cert-out FILE     write the certificate in use (PEM), e.g. for a client's CA file\n"
        "  --max-connections N     concurrent TCP sessions (default: what RLIMIT_NOFILE allows,\n"
        "                          two descriptors each, at most 1000); past it: 421 4.3.2\n"
        "  --max-memory BYTES      process memory ceiling (resident set): past it new\n"
        "                          connections get 421 4.3.2 and are closed (default: none)\n"
        "  --timeout SECONDS       every deadline: between commands, per data block, and the\n"
        "                          whole of one DATA or BDAT chunk, which no data renews\n"
        "                          (default: 300, 180 and 600, RFC 5321 4.5.3.2)\n"
        "  --enable-ext KEYWORD    offer an extension the library implements (repeatable):\n"
        "                          DSN, REQUIRETLS, MT-PRIORITY, DELIVERBY, FUTURERELEASE, RRVS,\n"
        "                          NO-SOLICITING, MTRK, SUBMITTER, ETRN, BURL, CHUNKING, BINARYMIME,\n"
        "                          SMTPUTF8, PIPELINING, 8BITMIME, SIZE, ENHANCEDSTATUSCODES, LIMITS,\n"
        "                          VRFY, EXPN, HELP\n"
        "  --disable-ext KEYWORD   do not offer it (repeatable)\n"
        "  --ehlo-keyword 'KEYWORD [PARAMS]'  advertise a keyword the library does not know\n"
        "                          (repeatable); MAIL/RCPT parameters of that name are accepted\n"
        "  --script FILE           test harness: scripted replies, delays, disconnects (rules per line)\n"
        "  --capture FILE          append one JSON line per finished transaction ('-': stdout)\n"
        "  --help                  this text\n",
        f);
  fputs(server_conn_usage, f);
}

static int usage_error(const char *msg, const char *arg) {
  if (arg) fprintf(stderr, "smtp-server: %s: %s (see --help)\n", msg, arg);
  else fprintf(stderr, "smtp-server: %s (see --help)\n", msg);
  return 64;
}

/* Digits only, no overflow. */
static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

static int push(const char ***arr, size_t *n, const char *v) {
  const char **a = realloc((void *)*arr, (*n + 1) * sizeof **arr);
  if (!a) return -1;
  a[(*n)++] = v;
  *arr = a;
  return 0;
}

/* An address given on the command line: a Mailbox (no angle brackets),
 * or "Postmaster". */
static int valid_addr(const char *a) {
  smtp_mailbox mb;
  size_t n = strlen(a);
  if (n == 0 || n > SMTP_PATH_MAX) return 0;
  if (strcasecmp(a, "postmaster") == 0) return 1;
  return smtp_parse_mailbox(a, n, SMTP_PARSE_UTF8, &mb) == SMTP_OK;
}

/* The flag of a keyword the server session implements (--enable-ext). */
static unsigned int ext_flag(const char *kw) {
  const smtp_ext_info *e = smtp_ext_lookup(kw, strlen(kw));
  const unsigned int served =
      SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME |
      SMTP_EXT_CHUNKING | SMTP_EXT_SMTPUTF8 | SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_DSN |
      SMTP_EXT_REQUIRETLS | SMTP_EXT_LIMITS | SMTP_EXT_VRFY | SMTP_EXT_EXPN | SMTP_EXT_HELP |
      SMTP_EXT_MT_PRIORITY | SMTP_EXT_DELIVERBY | SMTP_EXT_FUTURERELEASE | SMTP_EXT_RRVS |
      SMTP_EXT_NO_SOLICITING | SMTP_EXT_MTRK | SMTP_EXT_SUBMITTER | SMTP_EXT_ETRN | SMTP_EXT_BURL;
  return e && (e->flag & served) ? e->flag : 0;
}

int server_app_parse_args(server_app_config *cfg, int argc, char **argv) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_size = 52428800u;
  cfg->max_rcpt = 100;
  cfg->max_conns = 0; /* derived from RLIMIT_NOFILE at start (smtp-server.c) */
  server_conn_defaults(cfg);
  if (gethostname(cfg->hostname, sizeof cfg->hostname - 1) != 0 ||
      smtp_parse_domain(cfg->hostname, strlen(cfg->hostname), 0) != SMTP_OK)
    snprintf(cfg->hostname, sizeof cfg->hostname, "localhost");
  for (int i = 1; i < argc; i++) {
    int cr;
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDS_VALUE()                                               \
  do {                                                              \
    if (!v) return usage_error("option needs a value", a);          \
    i++;                                                            \
  } while (0)
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 1;
    } else if (!strcmp(a, "--listen")) {
      NEEDS_VALUE();
      if (cfg->nlisten >= SERVER_APP_MAX_LISTEN) return usage_error("too many --listen", v);
      if (!strchr(v, ':')) return usage_error("--listen wants HOST:PORT", v);
      cfg->listen[cfg->nlisten++] = v;
    } else if (!strcmp(a, "--stdio")) {
      cfg->stdio = 1;
    } else if (!strcmp(a, "--hostname")) {
      NEEDS_VALUE();
      if (strlen(v) >= sizeof cfg->hostname || smtp_parse_ehlo_arg(v, strlen(v), 0, NULL) != SMTP_OK)
        return usage_error("bad --hostname", v);
      snprintf(cfg->hostname, sizeof cfg->hostname, "%s", v);
    } else if (!strcmp(a, "--maildir")) {
      NEEDS_VALUE();
      if (!*v) return usage_error("bad --maildir", v);
      cfg->maildir = v;
    } else if (!strcmp(a, "--discard")) {
      cfg->discard = 1;
    } else if (!strcmp(a, "--tls-cert")) {
      NEEDS_VALUE();
      cfg->tls_cert = v;
    } else if (!strcmp(a, "--tls-key")) {
      NEEDS_VALUE();
      cfg->tls_key = v;
    } else if (!strcmp(a, "--tls-self-signed")) {
      cfg->tls_self_signed = 1;
    } else if (!strcmp(a, "--implicit-tls")) {
      cfg->implicit_tls = 1;
    } else if (!strcmp(a, "--tls-backend")) {
      NEEDS_VALUE();
      if (strcmp(v, "mbedtls") != 0 && strcmp(v, "openssl") != 0)
        return usage_error("--tls-backend takes mbedtls or openssl", v);
      cfg->tls_backend = v;
    } else if (!strcmp(a, "--tls-client-ca")) {
      NEEDS_VALUE();
      cfg->tls_client_ca = v;
    } else if (!strcmp(a, "--auth-file")) {
      NEEDS_VALUE();
      cfg->auth_file = v;
    } else if (!strcmp(a, "--oauth-token")) {
      const char *colon;
      NEEDS_VALUE();
      colon = strchr(v, ':');
      if (!colon || colon == v || !colon[1]) return usage_error("bad --oauth-token (USER:TOKEN)", v);
      if (push(&cfg->tokens, &cfg->ntokens, v)) return usage_error("out of memory", NULL);
    } else if (!strcmp(a, "--make-scram-record")) {
      NEEDS_VALUE();
      if (!*v || strchr(v, ':') || strlen(v) > 255) return usage_error("bad --make-scram-record user", v);
      cfg->make_scram_user = v;
    } else if (!strcmp(a, "--scram-mech")) {
      NEEDS_VALUE();
      cfg->make_scram_mech = smtp_sasl_mech_from_name(v, strlen(v));
      if (!(cfg->make_scram_mech &
            (SMTP_SASL_SCRAM_SHA_1 | SMTP_SASL_SCRAM_SHA_256 | SMTP_SASL_SCRAM_SHA_512)))
        return usage_error("bad --scram-mech", v);
    } else if (!strcmp(a, "--scram-iterations")) {
      uint64_t n;
      NEEDS_VALUE();
      if (parse_u64(v, &n) != 0 || n < 4096 || n > 10000000) return usage_error("bad --scram-iterations", v);
      cfg->make_scram_iter = (unsigned)n;
    } else if (!strcmp(a, "--require-auth")) {
      cfg->require_auth = 1;
    } else if (!strcmp(a, "--require-tls")) {
      cfg->require_tls = 1;
    } else if (!strcmp(a, "--allow-plaintext-auth")) {
      cfg->allow_plaintext_auth = 1;
    } else if (!strcmp(a, "--lmtp")) {
      cfg->lmtp = 1;
    } else if (!strcmp(a, "--max-size")) {
      NEEDS_VALUE();
      if (parse_u64(v, &cfg->max_size) != 0) return usage_error("bad --max-size", v);
    } else if (!strcmp(a, "--max-rcpt")) {
      uint64_t n;
      NEEDS_VALUE();
      if (parse_u64(v, &n) != 0 || n == 0 || n > 100000) return usage_error("bad --max-rcpt", v);
      cfg->max_rcpt = (unsigned)n;
    } else if (!strcmp(a, "--reject") || !strcmp(a, "--tempfail")) {
      NEEDS_VALUE();
      if (!valid_addr(v)) return usage_error("bad address", v);
      if (a[2] == 'r' ? push(&cfg->reject, &cfg->nreject, v) : push(&cfg->tempfail, &cfg->ntempfail, v))
        return usage_error("out of memory", NULL);
    } else if (!strcmp(a, "--trace")) {
      cfg->trace = 1;
    } else if (!strcmp(a, "--tls-cert-out")) {
      NEEDS_VALUE();
      if (!*v) return usage_error("bad --tls-cert-out", v);
      cfg->tls_cert_out = v;
    } else if (!strcmp(a, "--max-connections")) {
      uint64_t n;
      NEEDS_VALUE();
      if (parse_u64(v, &n) != 0 || n == 0 || n > 100000) return usage_error("bad --max-connections", v);
      cfg->max_conns = (unsigned)n;
    } else if (!strcmp(a, "--enable-ext") || !strcmp(a, "--disable-ext")) {
      unsigned int f;
      NEEDS_VALUE();
      f = ext_flag(v);
      if (!f) return usage_error("extension not implemented by the library", v);
      if (a[2] == 'e') {
        cfg->ext_on |= f;
        cfg->ext_off &= ~f;
      } else {
        cfg->ext_off |= f;
        cfg->ext_on &= ~f;
      }
    } else if (!strcmp(a, "--ehlo-keyword")) {
      smtp_server_options *probe = NULL;
      int bad;
      NEEDS_VALUE();
      /* The library's own check of an ehlo-line (RFC 5321 4.1.1.1). */
      if (smtp_server_options_new(&probe, NULL) != SMTP_OK) return usage_error("out of memory", NULL);
      for (size_t k = 0; k < cfg->nehlo_kw; k++) (void)smtp_server_options_add_ehlo_keyword(probe, cfg->ehlo_kw[k]);
      bad = smtp_server_options_add_ehlo_keyword(probe, v) != SMTP_OK;
      smtp_server_options_del(probe);
      if (bad) return usage_error("bad --ehlo-keyword (an ehlo-line the library does not implement, not twice)", v);
      if (push(&cfg->ehlo_kw, &cfg->nehlo_kw, v)) return usage_error("out of memory", NULL);
    } else if (!strcmp(a, "--max-memory")) {
      uint64_t n;
      NEEDS_VALUE();
      if (parse_u64(v, &n) != 0 || n < 1048576u) return usage_error("bad --max-memory (at least 1048576)", v);
      cfg->max_memory = n;
    } else if (!strcmp(a, "--timeout")) {
      uint64_t n;
      NEEDS_VALUE();
      if (parse_u64(v, &n) != 0 || n == 0 || n > 86400) return usage_error("bad --timeout", v);
      cfg->timeout_ms = (int)n * 1000;
    } else if ((cr = server_conn_parse_opt(cfg, argc, argv, &i)) >= 0) {
      if (cr) return cr;
    } else if (!strcmp(a, "--script")) {
      int r;
      NEEDS_VALUE();
      if (cfg->script) return usage_error("--script given twice", v);
      if ((r = script_app_load(v, &cfg->script)) != 0) return r;
    } else if (!strcmp(a, "--capture")) {
      NEEDS_VALUE();
      if (!*v) return usage_error("bad --capture", v);
      cfg->capture = v;
    } else if (a[0] == '-') {
      return usage_error("unknown option", a);
    } else {
      return usage_error("unexpected argument", a);
    }
#undef NEEDS_VALUE
  }
  if (cfg->stdio && cfg->nlisten) return usage_error("--stdio and --listen exclude each other", NULL);
  if (cfg->stdio && cfg->capture && !strcmp(cfg->capture, "-"))
    return usage_error("--capture - writes to stdout, which --stdio speaks SMTP on", NULL);
  if (!!cfg->tls_cert != !!cfg->tls_key) return usage_error("--tls-cert and --tls-key go together", NULL);
  if (cfg->maildir && cfg->discard) return usage_error("--maildir and --discard exclude each other", NULL);
  if (cfg->require_auth && !cfg->auth_file && !cfg->ntokens && !cfg->tls_client_ca)
    return usage_error("--require-auth needs --auth-file, --oauth-token or --tls-client-ca", NULL);
  if (cfg->tls_cert && cfg->tls_self_signed)
    return usage_error("--tls-cert and --tls-self-signed exclude each other", NULL);
  if ((cfg->implicit_tls || cfg->tls_cert_out) && !cfg->tls_cert && !cfg->tls_self_signed)
    return usage_error("--implicit-tls and --tls-cert-out need --tls-cert/--tls-key or --tls-self-signed", NULL);
  if (cfg->nlisten == 0) cfg->listen[cfg->nlisten++] = "127.0.0.1:2525";
  return server_conn_check(cfg);
}

static int mkdir_one(const char *path) {
  if (mkdir(path, 0700) == 0 || errno == EEXIST) return 0;
  return -1;
}

static int load_users(server_app_config *cfg) {
  FILE *f = fopen(cfg->auth_file, "r");
  char line[1024];
  if (!f) {
    fprintf(stderr, "smtp-server: cannot read %s: %s\n", cfg->auth_file, strerror(errno));
    return 1;
  }
  while (fgets(line, sizeof line, f)) {
    char *colon, *end = line + strlen(line);
    server_app_user *u;
    smtp_scram_record rec;
    smtp_span name;
    while (end > line && (end[-1] == '\n' || end[-1] == '\r')) *--end = '\0';
    if (!line[0] || line[0] == '#') continue;
    colon = strchr(line, ':');
    if (colon && !strncmp(colon + 1, "SCRAM-", 6)) {
      /* user:SCRAM-SHA-256:iterations:salt_b64:storedkey_b64:serverkey_b64 */
      if (smtp_scram_record_parse(line, strlen(line), &name, &rec) != SMTP_OK) {
        fprintf(stderr, "smtp-server: %s: malformed SCRAM line for %.*s\n", cfg->auth_file,
                (int)(colon - line), line);
        fclose(f);
        return 1;
      }
      u = realloc(cfg->users, (cfg->nusers + 1) * sizeof *u);
      if (!u) {
        fclose(f);
        return 1;
      }
      cfg->users = u;
      memset(&cfg->users[cfg->nusers], 0, sizeof *u);
      cfg->users[cfg->nusers].name = strndup(name.ptr, name.len);
      cfg->users[cfg->nusers].scram = rec;
      cfg->nusers++;
      cfg->scram_mechs |= rec.mech;
      continue;
    }
    colon = strchr(line, ':');
    if (!colon || colon == line) {
      fprintf(stderr, "smtp-server: %s: malformed line (want user:password)\n", cfg->auth_file);
      fclose(f);
      return 1;
    }
    *colon = '\0';
    u = realloc(cfg->users, (cfg->nusers + 1) * sizeof *u);
    if (!u) {
      fclose(f);
      return 1;
    }
    cfg->users = u;
    memset(&cfg->users[cfg->nusers], 0, sizeof *u);
    cfg->users[cfg->nusers].name = strdup(line);
    cfg->users[cfg->nusers].password = strdup(colon + 1);
    cfg->nusers++;
  }
  fclose(f);
  return 0;
}

/* Maildir convention (qmail's maildir(5)): a file in tmp/ not touched for
 * 36 hours is the remains of a delivery that never finished (a killed
 * server); remove it at start. Files of this process's own failed
 * deliveries are removed at once (drop_message(), server_app_deliver()). */
#define MAILDIR_TMP_STALE_S (36 * 3600)

static void maildir_clean_tmp(const char *maildir) {
  char dir[4096], p[4096];
  DIR *d;
  struct dirent *e;
  time_t now = time(NULL);
  unsigned long removed = 0;
  snprintf(dir, sizeof dir, "%s/tmp", maildir);
  d = opendir(dir);
  if (!d) return;
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    time_t last;
    if (e->d_name[0] == '.') continue;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p) continue;
    if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    last = st.st_mtime > st.st_atime ? st.st_mtime : st.st_atime;
    if (now - last > MAILDIR_TMP_STALE_S && unlink(p) == 0) removed++;
  }
  closedir(d);
  if (removed) fprintf(stderr, "smtp-server: removed %lu stale file(s) from %s\n", removed, dir);
}

int server_app_prepare(server_app_config *cfg) {
  if (cfg->auth_file && load_users(cfg)) return 1;
  if (server_conn_prepare(cfg)) {
    fprintf(stderr, "smtp-server: cannot build the --trusted-proxy list\n");
    return 1;
  }
  if (cfg->capture && capture_app_open(cfg->capture) != 0) return 1;
  if (cfg->maildir) {
    static const char *const sub[] = {"tmp", "new", "cur"};
    char p[4096];
    if (mkdir_one(cfg->maildir) != 0) {
      fprintf(stderr, "smtp-server: cannot create %s: %s\n", cfg->maildir, strerror(errno));
      return 1;
    }
    for (size_t i = 0; i < 3; i++) {
      snprintf(p, sizeof p, "%s/%s", cfg->maildir, sub[i]);
      if (mkdir_one(p) != 0) {
        fprintf(stderr, "smtp-server: cannot create %s: %s\n", p, strerror(errno));
        return 1;
      }
    }
    maildir_clean_tmp(cfg->maildir);
  }
  return 0;
}

void server_app_config_free(server_app_config *cfg) {
  server_conn_free(cfg);
  for (size_t i = 0; i < cfg->nusers; i++) {
    if (cfg->users[i].password) memset(cfg->users[i].password, 0, strlen(cfg->users[i].password));
    free(cfg->users[i].name);
    free(cfg->users[i].password);
  }
  free(cfg->users);
  free((void *)cfg->reject);
  free((void *)cfg->tempfail);
  free((void *)cfg->tokens);
  free((void *)cfg->ehlo_kw);
  smtp_script_del(cfg->script);
  if (cfg->capture) capture_app_close();
  memset(cfg, 0, sizeof *cfg);
}

/* ------------------------------------------------------------------------ */
/* Per connection.                                                           */

/* Per-connection state. The recipients of a transaction are kept back to
 * back in one buffer that is reused by the next transaction, so once it has
 * grown to the largest transaction seen, no message allocates. */
struct server_app_conn {
  const server_app_config *cfg;
  char peer[64];
  char *rcpt_buf;       /* accepted recipients, NUL-terminated, back to back */
  size_t rcpt_len, rcpt_buf_cap;
  size_t *rcpt_off;     /* offset of recipient i in rcpt_buf, i < nrcpt */
  size_t rcpt_off_cap;
  unsigned nrcpt;
  int fd;               /* message being written into tmp/, or -1 */
  char name[512];       /* unique file name (its tmp/ path: tmp_path()) */
  int result_code;      /* LMTP: the delivery's answer for every recipient */
  char result_text[600];
  void *limit_slot;     /* per-client counters (server_conn.c) */
  server_app_async_fn async_fn; /* deliver on another thread (TCP loop) */
  void *async_ud;
  script_conn *script;  /* --script */
  smtp_capture *cap;    /* --capture */
  const smtp_driver *drv; /* the connection's driver (TLS facts for --capture) */
  int cert_noted;       /* --capture has the client certificate (or there is none) */
};

script_conn *server_app_conn_script(server_app_conn *c) { return c ? c->script : NULL; }
smtp_capture *server_app_conn_capture(server_app_conn *c) { return c ? c->cap : NULL; }
void server_app_conn_set_driver(server_app_conn *c, const smtp_driver *d) {
  if (c) c->drv = d;
}

void server_app_conn_set_async(server_app_conn *c, server_app_async_fn fn, void *ud) {
  c->async_fn = fn;
  c->async_ud = ud;
}

server_app_conn *server_app_conn_new(const server_app_config *cfg, const char *peer) {
  server_app_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->cfg = cfg;
  c->fd = -1;
  if (peer) snprintf(c->peer, sizeof c->peer, "%s", peer);
  if ((cfg->script && !(c->script = script_conn_new(cfg->script))) ||
      (cfg->capture && !(c->cap = capture_app_conn_new()))) {
    server_app_conn_del(c);
    return NULL;
  }
  return c;
}

/* The message's file in tmp/ (Maildir). */
static void tmp_path(const server_app_conn *c, char *out, size_t cap) {
  snprintf(out, cap, "%s/tmp/%s", c->cfg->maildir, c->name);
}

static void drop_message(server_app_conn *c) {
  if (c->fd >= 0) {
    char p[4096];
    close(c->fd);
    tmp_path(c, p, sizeof p);
    unlink(p);
    c->fd = -1;
  }
}

void server_app_conn_del(server_app_conn *c) {
  if (!c) return;
  server_conn_release(c->limit_slot);
  drop_message(c);
  smtp_capture_end(c->cap); /* a transaction left open is recorded without data */
  smtp_capture_del(c->cap);
  script_conn_del(c->script);
  free(c->rcpt_buf);
  free(c->rcpt_off);
  free(c);
}

/* Recipient i of the current transaction, or NULL. */
static const char *rcpt_at(const server_app_conn *c, unsigned i) {
  return i < c->nrcpt ? c->rcpt_buf + c->rcpt_off[i] : NULL;
}

/* Keep an accepted recipient. Its index is the number accepted before it in
 * the transaction, so index 0 starts a new list. Buffers grow by doubling
 * and are kept: no allocation once they fit. */
static int rcpt_keep(server_app_conn *c, unsigned index, const char *addr, size_t n) {
  if (index == 0) {
    c->nrcpt = 0;
    c->rcpt_len = 0;
  }
  if (index != c->nrcpt) return -1; /* cannot happen: indexes come in order */
  if (c->nrcpt >= c->rcpt_off_cap) {
    size_t cap = c->rcpt_off_cap ? c->rcpt_off_cap * 2 : 8;
    size_t *a = realloc(c->rcpt_off, cap * sizeof *a);
    if (!a) return -1;
    c->rcpt_off = a;
    c->rcpt_off_cap = cap;
  }
  if (c->rcpt_len + n + 1 > c->rcpt_buf_cap) {
    size_t cap = c->rcpt_buf_cap ? c->rcpt_buf_cap : 512;
    char *b;
    while (cap < c->rcpt_len + n + 1) cap *= 2;
    b = realloc(c->rcpt_buf, cap);
    if (!b) return -1;
    c->rcpt_buf = b;
    c->rcpt_buf_cap = cap;
  }
  memcpy(c->rcpt_buf + c->rcpt_len, addr, n + 1);
  c->rcpt_off[c->nrcpt++] = c->rcpt_len;
  c->rcpt_len += n + 1;
  return 0;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int on_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud) {
  server_app_conn *c = ud;
  char addr[SMTP_PATH_MAX + 1];
  size_t n = r->path->address.len;
  if (n > SMTP_PATH_MAX) return SMTP_ERR_CALLBACK_REFUSED;
  memcpy(addr, r->path->address.ptr, n);
  addr[n] = '\0';
  if (c->script) { /* --script: a scripted reply replaces the policy below */
    int code = script_conn_event(c->script, s, SMTP_SCRIPT_RCPT, NULL, 0);
    if (code / 100 == 2 && rcpt_keep(c, r->index, addr, n) != 0) return -1;
    if (code) return 0;
  }
  /* docs/examples.md: whole address, case-insensitive. */
  for (size_t i = 0; i < c->cfg->nreject; i++)
    if (strcasecmp(addr, c->cfg->reject[i]) == 0)
      return smtp_server_session_reply(s, 550, "5.1.1", "Mailbox unknown") == SMTP_OK
                 ? 0
                 : SMTP_ERR_CALLBACK_REFUSED;
  for (size_t i = 0; i < c->cfg->ntempfail; i++)
    if (strcasecmp(addr, c->cfg->tempfail[i]) == 0)
      return smtp_server_session_reply(s, 450, "4.2.0", "Mailbox temporarily unavailable") ==
                     SMTP_OK
                 ? 0
                 : SMTP_ERR_CALLBACK_REFUSED;
  if (rcpt_keep(c, r->index, addr, n) != 0)
    return smtp_server_session_reply(s, 452, "4.3.1", "Out of memory") == SMTP_OK ? 0 : -1;
  return 0;
}

static int on_auth(smtp_server_session *s, const smtp_server_auth *a, void *ud) {
  server_app_conn *c = ud;
  if (c->script && script_conn_event(c->script, s, SMTP_SCRIPT_AUTH, NULL, 0)) return 0;
  for (size_t i = 0; i < c->cfg->nusers; i++) {
    const server_app_user *u = &c->cfg->users[i];
    size_t pl;
    unsigned diff = 0;
    if (!u->password) continue; /* a SCRAM line: no password to compare with */
    pl = strlen(u->password);
    if (strlen(u->name) != a->authcid.len || memcmp(u->name, a->authcid.ptr, a->authcid.len))
      continue;
    /* Compare the whole password whatever its content (no early exit). */
    diff = pl != a->password.len;
    for (size_t k = 0; k < a->password.len; k++)
      diff |= (unsigned)(unsigned char)a->password.ptr[k] ^
              (unsigned)(unsigned char)u->password[k < pl ? k : 0];
    return diff ? SMTP_ERR_CALLBACK_REFUSED : 0;
  }
  return SMTP_ERR_CALLBACK_REFUSED;
}

/* SCRAM: the stored-key record of a user for the family asked for. */
static int on_scram_lookup(smtp_server_session *s, unsigned int mech, const char *user,
                           size_t len, smtp_scram_record *rec, void *ud) {
  server_app_conn *c = ud;
  (void)s;
  for (size_t i = 0; i < c->cfg->nusers; i++) {
    const server_app_user *u = &c->cfg->users[i];
    if (u->password || u->scram.mech != mech || strlen(u->name) != len ||
        memcmp(u->name, user, len) != 0)
      continue;
    *rec = u->scram;
    return 0;
  }
  return SMTP_ERR_NOT_FOUND;
}

/* XOAUTH2 / OAUTHBEARER: the token must be the one given for the user. */
static int on_token(smtp_server_session *s, const smtp_server_token *t, void *ud) {
  server_app_conn *c = ud;
  (void)s;
  for (size_t i = 0; i < c->cfg->ntokens; i++) {
    const char *e = c->cfg->tokens[i], *colon = strchr(e, ':');
    size_t ul = (size_t)(colon - e), tl = strlen(colon + 1);
    unsigned diff;
    if (ul != t->user.len || memcmp(e, t->user.ptr, ul) != 0) continue;
    diff = tl != t->token.len;
    for (size_t k = 0; k < t->token.len; k++)
      diff |= (unsigned)(unsigned char)t->token.ptr[k] ^ (unsigned)(unsigned char)colon[1 + (k < tl ? k : 0)];
    return diff ? SMTP_ERR_CALLBACK_REFUSED : 0;
  }
  return SMTP_ERR_CALLBACK_REFUSED;
}

static int app_random(void *buf, size_t len, void *ud) {
  unsigned char *p = buf;
  (void)ud;
  while (len) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int server_app_make_scram_record(const server_app_config *cfg) {
  char pw[1024], line[1024];
  unsigned char salt[16];
  smtp_scram_record rec;
  size_t n;
  int r;
  if (!fgets(pw, sizeof pw, stdin)) {
    fprintf(stderr, "smtp-server: --make-scram-record: no password on stdin\n");
    return 1;
  }
  n = strlen(pw);
  while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r')) pw[--n] = '\0';
  if (app_random(salt, sizeof salt, NULL) != 0) {
    fprintf(stderr, "smtp-server: no random bytes\n");
    return 1;
  }
  r = smtp_scram_make_record(cfg->make_scram_mech ? cfg->make_scram_mech : SMTP_SASL_SCRAM_SHA_256,
                             pw, salt, sizeof salt,
                             cfg->make_scram_iter ? cfg->make_scram_iter : 4096, &rec);
  memset(pw, 0, sizeof pw);
  if (r == SMTP_OK && smtp_scram_record_format(cfg->make_scram_user, &rec, line, sizeof line) < 0)
    r = SMTP_ERR_INVALID_ARGUMENT;
  if (r != SMTP_OK) {
    fprintf(stderr, "smtp-server: --make-scram-record: %s\n", smtp_strerror(r));
    return 1;
  }
  printf("%s\n", line);
  return 0;
}

/* Bytes from the network on the operator's terminal or log: escaped
 * (control bytes, C1 and direction controls, invalid UTF-8), never raw. */
void server_app_print_escaped(FILE *f, const char *prefix, const char *p, size_t n) {
  char stack[2048];
  char *buf = stack;
  size_t need = smtp_escape_text(stack, sizeof stack, p, n);
  if (need >= sizeof stack) {
    buf = malloc(need + 1);
    if (buf) smtp_escape_text(buf, need + 1, p, n);
    else buf = stack; /* the truncated text, still escaped */
  }
  fprintf(f, "%s%s\n", prefix, buf);
  if (buf != stack) free(buf);
}

static int on_trace(smtp_server_session *s, int dir, const char *line, size_t len, void *ud) {
  server_app_conn *c = ud;
  if (c->cap && !c->cert_noted && c->drv && smtp_driver_tls_conn(c->drv)) {
    /* the first line after the handshake, long before any MAIL */
    c->cert_noted = 1;
    capture_app_note_cert(c->cap, smtp_driver_tls_conn(c->drv));
  }
  if (c->cap) (void)smtp_capture_trace(c->cap, s, dir, line, len);
  if (c->script && dir == SMTP_SERVER_TRACE_IN && len > 5 && strncasecmp(line, "BDAT ", 5) == 0) {
    /* --script: every BDAT line (RFC 3030 2). A chunk after the first of
     * the transaction is counted here (the first one at data_start); its
     * scripted reply waits for the chunk's octets (on_bdat_chunk, or the
     * end-of-data reply for LAST). */
    uint64_t size;
    int last;
    if (smtp_bdat_parse(line + 5, len - 5, &size, &last) == SMTP_OK) {
      script_conn_note_bdat(c->script, size, last);
      if (smtp_server_session_flags(s) & SMTP_SERVER_FLAG_BDAT) (void)script_conn_bdat(c->script);
    }
  }
  if (!c->cfg->trace) return 0;
  server_app_print_escaped(stderr, dir == SMTP_SERVER_TRACE_IN ? "C: " : "S: ", line, len);
  return 0;
}

/* Maildir file name: time.MusecPpidQcounter.host (unique per delivery).
 * The counter is the process's (names are made on the event loop's thread
 * only), so Q also gives the order of arrival. */
static void unique_name(server_app_conn *c) {
  static unsigned long counter;
  struct timeval tv;
  char host[256];
  size_t i;
  gettimeofday(&tv, NULL);
  snprintf(host, sizeof host, "%s", c->cfg->hostname);
  for (i = 0; host[i]; i++)
    if (host[i] == '/' || host[i] == ':') host[i] = '_';
  snprintf(c->name, sizeof c->name, "%lld.M%ldP%ldQ%lu.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
           (long)getpid(), ++counter, host);
}

/* Return-Path, one Delivered-To per recipient, Received (RFC 5321 4.4), CRLF. */
static int write_headers(server_app_conn *c, smtp_server_session *s) {
  char buf[4096];
  size_t rlen = 0, hlen = 0;
  const char *rp = smtp_server_session_reverse_path(s, &rlen);
  const char *helo = smtp_server_session_helo_name(s, &hlen);
  unsigned n = smtp_server_session_rcpt_count(s);
  char date[64], lit[64], name[SMTP_XATTR_VALUE_MAX + 2];
  time_t now = time(NULL);
  struct tm tm;
  int k;
  localtime_r(&now, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
  /* the client as the session knows it (after a PROXY header or XCLIENT) */
  server_conn_client_literal(s, lit, sizeof lit);
  if (!lit[0]) snprintf(lit, sizeof lit, "%s", c->peer);
  /* RFC 5321 4.4 TCP-info: Domain FWS address-literal, the name as a
   * trusted proxy (XCLIENT, XFORWARD) gave it */
  server_conn_client_name(s, name, sizeof name - 1);
  if (name[0] && lit[0]) strcat(name, " ");
  k = snprintf(buf, sizeof buf, "Return-Path: <%.*s>\r\n", (int)rlen, rp ? rp : "");
  if (write_all(c->fd, buf, (size_t)k)) return -1;
  for (unsigned i = 0; i < n && rcpt_at(c, i); i++) {
    k = snprintf(buf, sizeof buf, "Delivered-To: %s\r\n", rcpt_at(c, i));
    if (write_all(c->fd, buf, (size_t)k)) return -1;
  }
  k = snprintf(buf, sizeof buf,
               "Received: from %.*s%s%s%s%s%s\r\n\tby %s (libsmtp example) with %s id %s%s%s%s;\r\n\t%s\r\n",
               (int)(helo ? hlen : 7), helo ? helo : "unknown", lit[0] ? " (" : "", lit[0] ? name : "", lit[0] ? "[" : "", lit,
               lit[0] ? "])" : "", c->cfg->hostname, smtp_server_session_received_protocol(s),
               c->name, n == 1 && rcpt_at(c, 0) ? "\r\n\tfor <" : "",
               n == 1 && rcpt_at(c, 0) ? rcpt_at(c, 0) : "", n == 1 && rcpt_at(c, 0) ? ">" : "",
               date);
  if (k < 0 || (size_t)k >= sizeof buf) return -1;
  return write_all(c->fd, buf, (size_t)k);
}

static int on_data_start(smtp_server_session *s, void *ud) {
  server_app_conn *c = ud;
  char p[4096];
  drop_message(c);
  c->result_code = 0;
  if (c->script && (smtp_server_session_flags(s) & SMTP_SERVER_FLAG_BDAT)) {
    /* the first chunk: its scripted reply follows its octets */
    if (script_conn_bdat_first(c->script, s)) return 0; /* a first BDAT 0 refused */
  } else if (c->script) {
    int code = script_conn_event(c->script, s, SMTP_SCRIPT_DATA, NULL, 0);
    if (code && code != 354) return 0; /* refused by the script */
    if (code && c->cfg->maildir) {
      /* the reply is set: a file that cannot be made drops the message silently */
      unique_name(c);
      tmp_path(c, p, sizeof p);
      c->fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (c->fd >= 0 && write_headers(c, s) != 0) drop_message(c);
      return 0;
    }
  }
  if (!c->cfg->maildir) return 0;
  unique_name(c);
  tmp_path(c, p, sizeof p);
  c->fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (c->fd < 0 || write_headers(c, s) != 0) {
    drop_message(c);
    return smtp_server_session_reply(s, 451, "4.3.0", "Cannot store the message") == SMTP_OK ? 0 : -1;
  }
  return 0;
}

/* --script: the end of a BDAT chunk but the last: its scripted reply
 * (RFC 3030 2); a 4yz/5yz fails the transaction, so the message goes. */
static int on_bdat_chunk(smtp_server_session *s, uint64_t size, void *ud) {
  server_app_conn *c = ud;
  int code = script_conn_chunk_reply(c->script, s);
  (void)size;
  if (code && code / 100 != 2) drop_message(c);
  return 0;
}

static int on_data_chunk(smtp_server_session *s, const char *p, size_t n, void *ud) {
  server_app_conn *c = ud;
  (void)s;
  if (c->fd < 0) return 0;
  if (write_all(c->fd, p, n) != 0) {
    drop_message(c);
    return SMTP_ERR_CALLBACK_REFUSED; /* 451 after the end */
  }
  return 0;
}

/* tmp/ then fsync, rename into new/, fsync the folder (Maildir). */
int server_app_deliver(server_app_conn *c) {
  char src[4096], dst[4096], dir[4096];
  int dfd, r = 0;
  tmp_path(c, src, sizeof src);
  if (fsync(c->fd) != 0) r = -1;
  if (close(c->fd) != 0) r = -1;
  c->fd = -1;
  if (r) {
    unlink(src);
    return -1;
  }
  snprintf(dst, sizeof dst, "%s/new/%s", c->cfg->maildir, c->name);
  if (rename(src, dst) != 0) {
    unlink(src);
    return -1;
  }
  snprintf(dir, sizeof dir, "%s/new", c->cfg->maildir);
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;
}

static void set_result(server_app_conn *c, int ok) {
  if (ok && c->cap && c->cfg->maildir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/new/%s", c->cfg->maildir, c->name);
    (void)smtp_capture_set_file(c->cap, p);
  }
  if (!ok) {
    c->result_code = 451;
    snprintf(c->result_text, sizeof c->result_text, "Cannot store the message");
  } else {
    c->result_code = 250;
    snprintf(c->result_text, sizeof c->result_text, "Message accepted as %s",
             c->cfg->maildir ? c->name : "discarded");
  }
}

static int answer(server_app_conn *c, smtp_server_session *s) {
  return smtp_server_session_reply(s, c->result_code, c->result_code == 250 ? "2.0.0" : "4.3.0",
                                   c->result_text) == SMTP_OK
             ? 0
             : -1;
}

static int on_data_end(smtp_server_session *s, const smtp_server_data_end *e, void *ud) {
  server_app_conn *c = ud;
  if (c->cap) (void)smtp_capture_data_end(c->cap, e);
  if (c->script) {
    const char *enh, *text;
    int code;
    if (e->rcpt_index <= 0) {
      code = script_conn_decide_eod(c->script, e->bdat);
      if (code && !e->refused) {
        /* store first (a 2yz the script gives is a delivery), then answer */
        if (code / 100 == 2 && c->cfg->maildir && c->fd >= 0 && server_app_deliver(c) == 0) {
          char p[4096];
          snprintf(p, sizeof p, "%s/new/%s", c->cfg->maildir, c->name);
          if (c->cap) (void)smtp_capture_set_file(c->cap, p);
        }
        drop_message(c);
      }
      if (code && !e->refused) code = script_conn_reply(c->script, s);
    } else {
      code = script_conn_last_reply(c->script, &enh, &text); /* LMTP: the same for every recipient */
      if (code && smtp_server_session_reply(s, code, enh, text) != SMTP_OK) code = 0;
    }
    if (code && !e->refused) return 0;
  }
  if (e->refused) {
    drop_message(c);
    return 0; /* the session answers */
  }
  if (e->rcpt_index <= 0) {
    /* The message once; LMTP gives each recipient the same outcome. */
    if (c->cfg->maildir && c->fd >= 0 && c->async_fn) {
      c->async_fn(c, c->async_ud); /* answered by server_app_delivered() */
      return SMTP_ERR_DEFERRED;
    }
    set_result(c, !c->cfg->maildir || (c->fd >= 0 && server_app_deliver(c) == 0));
  }
  return answer(c, s);
}

int server_app_delivered(server_app_conn *c, smtp_server_session *s, int ok) {
  set_result(c, ok);
  return answer(c, s);
}

/* --ehlo-keyword: a parameter named like an advertised keyword is the
 * application's and accepted; any other unknown one gets 555 5.5.4. */
static int on_param(smtp_server_session *s, const smtp_server_param *p, void *ud) {
  server_app_conn *c = ud;
  (void)s;
  for (size_t i = 0; i < c->cfg->nehlo_kw; i++) {
    const char *kw = c->cfg->ehlo_kw[i];
    size_t n = strcspn(kw, " ");
    if (n == p->keyword.len && strncasecmp(kw, p->keyword.ptr, n) == 0) return 0;
  }
  return SMTP_ERR_CALLBACK_REFUSED;
}

/* ETRN (RFC 1985): this server keeps no queue for other hosts. */
static int on_etrn(smtp_server_session *s, const smtp_server_etrn *e, void *ud) {
  char t[300];
  (void)ud;
  snprintf(t, sizeof t, "OK, no messages waiting for node %.*s", (int)e->node.len, e->node.ptr);
  return smtp_server_session_reply(s, 251, "2.0.0", t);
}

/* BURL (RFC 4468): nothing is fetched; the session's default is 554 5.6.6. */
static int on_burl(smtp_server_session *s, const smtp_server_burl *b, void *ud) {
  (void)s;
  (void)b;
  (void)ud;
  return 0;
}

/* --enable-ext / --disable-ext / --ehlo-keyword. */
static int ext_setup(const server_app_config *cfg, smtp_server_options *o, smtp_server_callbacks *k) {
  unsigned int ext = (SMTP_SERVER_DEFAULT_EXTENSIONS | cfg->ext_on) & ~cfg->ext_off;
  int r;
  if (ext & SMTP_EXT_FUTURERELEASE) {
    /* RFC 4865 3: the longest hold (7 days) and the latest release time. */
    char p[64];
    time_t t = time(NULL) + 7 * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(p, sizeof p, "604800 %04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if ((r = smtp_server_options_set_ext_params(o, SMTP_EXT_FUTURERELEASE, p)) != 0) return r;
  }
  if ((r = smtp_server_options_set_extensions(o, ext)) != 0) return r;
  for (size_t i = 0; i < cfg->nehlo_kw; i++)
    if ((r = smtp_server_options_add_ehlo_keyword(o, cfg->ehlo_kw[i])) != 0) return r;
  smtp_server_callbacks_set_param(k, on_param);
  if (ext & SMTP_EXT_ETRN) smtp_server_callbacks_set_etrn(k, on_etrn);
  if (ext & SMTP_EXT_BURL) smtp_server_callbacks_set_burl(k, on_burl);
  return 0;
}

/* The greeting: per-client limits on the session's client address. */
static int on_connect(smtp_server_session *s, void *ud) {
  server_app_conn *c = ud;
  (void)server_conn_admit(c->cfg, s, &c->limit_slot);
  return 0;
}

/* After XCLIENT: the limits on the announced client. */
static int on_ehlo(smtp_server_session *s, const smtp_server_helo *h, void *ud) {
  server_app_conn *c = ud;
  (void)h;
  (void)server_conn_admit_xclient(c->cfg, s, &c->limit_slot);
  return 0;
}

int server_app_session_setup(const server_app_config *cfg, int tls_available,
                             smtp_server_options **opt, smtp_server_callbacks **cb) {
  smtp_server_options *o = NULL;
  smtp_server_callbacks *k = NULL;
  int r;
  if ((r = smtp_server_options_new(&o, NULL)) || (r = smtp_server_callbacks_new(&k, NULL))) goto fail;
  if ((r = smtp_server_options_set_hostname(o, cfg->hostname)) ||
      (r = smtp_server_options_set_max_message_size(o, cfg->max_size)) ||
      (r = smtp_server_options_set_max_recipients(o, cfg->max_rcpt)) ||
      (r = smtp_server_options_set_lmtp(o, cfg->lmtp)) ||
      (r = smtp_server_options_set_tls_available(o, tls_available)) ||
      (r = smtp_server_options_set_allow_plaintext_auth(o, cfg->allow_plaintext_auth)) ||
      (r = smtp_server_options_set_require_auth(o, cfg->require_auth)) ||
      (r = smtp_server_options_set_require_tls(o, cfg->require_tls)))
    goto fail;
  if (cfg->timeout_ms && ((r = smtp_server_options_set_command_timeout(o, cfg->timeout_ms)) ||
                          (r = smtp_server_options_set_data_timeout(o, cfg->timeout_ms)) ||
                          (r = smtp_server_options_set_data_total_timeout(o, cfg->timeout_ms))))
    goto fail;
  if ((r = ext_setup(cfg, o, k)) != 0) goto fail;
  if (cfg->net.max_per_ip || cfg->net.rate_per_ip || cfg->net.xclient || cfg->net.xforward)
    smtp_server_callbacks_set_connect(k, on_connect);
  if ((cfg->net.max_per_ip || cfg->net.rate_per_ip) && cfg->net.xclient) smtp_server_callbacks_set_ehlo(k, on_ehlo);
  if ((r = smtp_server_options_set_xclient(o, (cfg->net.xclient ? SMTP_XCLIENT : 0u) |
                                                  (cfg->net.xforward ? SMTP_XFORWARD : 0u))))
    goto fail;
  smtp_server_callbacks_set_rcpt(k, on_rcpt);
  smtp_server_callbacks_set_data_start(k, on_data_start);
  smtp_server_callbacks_set_data_chunk(k, on_data_chunk);
  smtp_server_callbacks_set_data_end(k, on_data_end);
  if (cfg->script) {
    /* --script: drop-keyword rules, and the stages left to the session */
    unsigned int drop = smtp_script_drop_mask(cfg->script);
    if ((drop & ~(unsigned)(SMTP_EXT_STARTTLS | SMTP_EXT_AUTH)) &&
        (r = smtp_server_options_set_extensions(o, SMTP_SERVER_DEFAULT_EXTENSIONS & ~drop)))
      goto fail;
    if ((drop & SMTP_EXT_STARTTLS) && (r = smtp_server_options_set_tls_available(o, 0))) goto fail;
    script_app_install(k);
    smtp_server_callbacks_set_bdat_chunk(k, on_bdat_chunk);
  }
  if ((cfg->auth_file || cfg->ntokens || cfg->tls_client_ca) &&
      !(cfg->script && (smtp_script_drop_mask(cfg->script) & SMTP_EXT_AUTH))) {
    unsigned int mechs = 0;
    /* a verified client certificate authenticates as its commonName (the
     * driver tells the session after the handshake) */
    if (cfg->tls_client_ca) mechs |= SMTP_SASL_EXTERNAL;
    if (cfg->ntokens) {
      mechs |= SMTP_SASL_XOAUTH2 | SMTP_SASL_OAUTHBEARER;
      smtp_server_callbacks_set_token(k, on_token);
    }
    if (cfg->auth_file) {
      mechs |= SMTP_SASL_PLAIN | SMTP_SASL_LOGIN;
      smtp_server_callbacks_set_auth(k, on_auth);
    }
    if (cfg->scram_mechs) {
      /* the families with stored keys, and their -PLUS forms (offered once
       * the transport gives the session channel-binding data) */
      mechs |= cfg->scram_mechs;
      if (cfg->scram_mechs & SMTP_SASL_SCRAM_SHA_1) mechs |= SMTP_SASL_SCRAM_SHA_1_PLUS;
      if (cfg->scram_mechs & SMTP_SASL_SCRAM_SHA_256) mechs |= SMTP_SASL_SCRAM_SHA_256_PLUS;
      if (cfg->scram_mechs & SMTP_SASL_SCRAM_SHA_512) mechs |= SMTP_SASL_SCRAM_SHA_512_PLUS;
      smtp_server_callbacks_set_scram_lookup(k, on_scram_lookup);
      smtp_server_options_set_random(o, app_random, NULL);
    }
    if ((r = smtp_server_options_set_auth_mechs(o, mechs))) goto fail;
  }
  if (cfg->trace || cfg->capture || cfg->script) smtp_server_callbacks_set_trace(k, on_trace);
  *opt = o;
  *cb = k;
  return 0;
fail:
  smtp_server_options_del(o);
  smtp_server_callbacks_del(k);
  return r;
}

/* ------------------------------------------------------------------------ */
/* --stdio: one session over two file descriptors, blocking.                 */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int flush_out(smtp_server_session *s, int out) {
  for (;;) {
    const char *p;
    smtp_ssize n = smtp_server_session_mem_send(s, &p);
    if (n < 0) return -1;
    if (n == 0) return 0;
    if (write_all(out, p, (size_t)n) != 0) return -1;
    if (smtp_server_session_mem_consume(s, (size_t)n) != SMTP_OK) return -1;
  }
}

int server_app_serve_fd(const server_app_config *cfg, int in, int out) {
  smtp_server_options *o;
  smtp_server_callbacks *cb;
  smtp_server_session *s = NULL;
  server_app_conn *c;
  static char buf[16384];
  size_t have = 0;
  unsigned seq = 0, total_seq = 0;
  long long deadline = 0, total_deadline = -1;
  int status = 0;
  if (server_app_session_setup(cfg, 0, &o, &cb) != 0) return 1;
  c = server_app_conn_new(cfg, NULL);
  if (!c || smtp_server_session_new(&s, cb, c, o, NULL) != SMTP_OK) {
    fprintf(stderr, "smtp-server: cannot create a session\n");
    smtp_server_options_del(o);
    smtp_server_callbacks_del(cb);
    server_app_conn_del(c);
    return 1;
  }
  smtp_server_options_del(o);
  smtp_server_callbacks_del(cb);
  for (;;) {
    smtp_ssize n;
    if (flush_out(s, out) != 0) break;
    if (smtp_server_session_want_close(s)) break;
    /* Give back what an earlier call did not take. */
    if (have && smtp_server_session_want_read(s)) {
      n = smtp_server_session_mem_recv(s, buf, have);
      if (n < 0) break;
      memmove(buf, buf + n, have - (size_t)n);
      have -= (size_t)n;
      if (n > 0) continue;
    }
    if (!smtp_server_session_want_read(s) && !smtp_server_session_want_write(s)) {
      /* Nothing to read (closed, or an answer is pending; this app never
       * defers): resume pending work once more, then stop. */
      if (smtp_server_session_mem_recv(s, NULL, 0) < 0 || !smtp_server_session_want_write(s)) break;
      continue;
    }
    if (smtp_server_session_deadline_seq(s) != seq || deadline == 0) {
      seq = smtp_server_session_deadline_seq(s);
      deadline = now_ms() + smtp_server_session_timeout_ms(s);
    }
    /* The whole DATA / one BDAT chunk: a bound no data renews. */
    if (smtp_server_session_total_timeout_ms(s) < 0) {
      total_deadline = -1;
    } else if (total_deadline < 0 || smtp_server_session_total_seq(s) != total_seq) {
      total_seq = smtp_server_session_total_seq(s);
      total_deadline = now_ms() + smtp_server_session_total_timeout_ms(s);
    }
    if (total_deadline >= 0 && total_deadline < deadline) deadline = total_deadline;
    {
      struct pollfd pfd = {in, POLLIN, 0};
      long long left = deadline - now_ms();
      int pr = left > 0 ? poll(&pfd, 1, left > 60000 ? 60000 : (int)left) : 0;
      ssize_t r;
      if (pr < 0 && errno == EINTR) continue;
      if (pr == 0) {
        if (now_ms() < deadline) continue;
        (void)smtp_server_session_timeout(s); /* RFC 5321 4.5.3.2 */
        (void)flush_out(s, out);
        break;
      }
      if (have == sizeof buf) break; /* cannot happen: the session takes input */
      r = read(in, buf + have, sizeof buf - have);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break; /* EOF: the client went away */
      have += (size_t)r;
      n = smtp_server_session_mem_recv(s, buf, have);
      if (n < 0) {
        if (n != SMTP_ERR_CLOSED) status = 0;
        (void)flush_out(s, out);
        break;
      }
      memmove(buf, buf + n, have - (size_t)n);
      have -= (size_t)n;
    }
  }
  smtp_server_session_del(s);
  server_app_conn_del(c);
  return status;
}
