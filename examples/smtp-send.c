/* smtp-send: send one message to one server with the client session
 * (docs/examples.md). The application half (options, output lines, exit
 * status) is in send_app.c; this file is the transport: it connects
 * (getaddrinfo, non-blocking connect with a time limit), sets up TLS
 * (tls.h) from --starttls / --implicit-tls / --ca-file / --insecure /
 * --tls-servername, and lets the driver (driver.h) run the session over a
 * non-blocking socket with poll(2): STARTTLS or implicit TLS (RFC 8314),
 * the session's RFC 5321 4.5.3.2 deadlines, no plaintext fallback.
 *
 * Certificate verification (docs/examples.md):
 *   --implicit-tls, --starttls required: verified against --ca-file, or the
 *       system trust store, unless --insecure;
 *   --starttls opportunistic (default): verified only with --ca-file (then a
 *       failure ends the send); a failed handshake ends the send (exit 2);
 *   --insecure: never verified, and a warning on stderr says so.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <smtp/address.h>
#include <smtp/client.h>
#include <smtp/delivery.h>
#include <smtp/resolver.h>
#include <smtp/driver.h>
#include <smtp/io.h>
#include <smtp/tls.h>

#include "progress.h"
#include "send_app.h"

#define CONNECT_TIMEOUT_MS 30000 /* per address */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One address, non-blocking, bounded. Returns the connected (still
 * non-blocking) socket or -1 with errno set. */
static int connect_one(const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  long long until = now_ms() + CONNECT_TIMEOUT_MS;
  if (fd < 0) return -1;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS && errno != EINTR) goto fail;
  for (;;) {
    struct pollfd pf = {fd, POLLOUT, 0};
    long long left = until - now_ms();
    int soerr = 0, r;
    socklen_t sl = sizeof soerr;
    if (left <= 0) {
      errno = ETIMEDOUT;
      goto fail;
    }
    r = poll(&pf, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) goto fail;
    if (r == 0) continue;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) goto fail;
    if (soerr == 0) return fd;
    errno = soerr;
    goto fail;
  }
fail : {
  int e = errno;
  close(fd);
  errno = e;
  return -1;
}
}

static int tcp_connect(const char *host, const char *port, FILE *err) {
  struct addrinfo hints, *res = NULL, *ai;
  int fd = -1, rc, e = 0;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(err, "smtp-send: cannot resolve %s: %s\n", host, gai_strerror(rc));
    return -1;
  }
  for (ai = res; ai; ai = ai->ai_next) {
    fd = connect_one(ai);
    if (fd >= 0) break;
    e = errno;
  }
  freeaddrinfo(res);
  if (fd < 0) fprintf(err, "smtp-send: cannot connect to %s port %s: %s\n", host, port, strerror(e));
  return fd;
}

/* docs/examples.md: the host name when it is a valid domain, else the address literal
 * of the local socket address. */
static void default_helo(int fd, char *out, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char addr[INET6_ADDRSTRLEN];
  if (gethostname(out, cap) == 0) {
    out[cap - 1] = 0;
    if (smtp_parse_ehlo_arg(out, strlen(out), 0, NULL) == SMTP_OK) return;
  }
  snprintf(out, cap, "[127.0.0.1]");
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) return;
  if (ss.ss_family == AF_INET &&
      inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr))
    snprintf(out, cap, "[%s]", addr);
  else if (ss.ss_family == AF_INET6 &&
           inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr))
    snprintf(out, cap, "[IPv6:%s]", addr);
}

/* The TLS configuration the options ask for, or NULL when TLS is not used.
 * Returns 0, or an exit status after one line on @p err. */
static int setup_tls(const send_opts *o, smtp_tls_config **out, FILE *err) {
  smtp_tls_config *cfg = NULL;
  int strict = o->implicit_tls || o->starttls == SMTP_CLIENT_STARTTLS_REQUIRED;
  int mode, r;
  char why[256] = "";
  *out = NULL;
  if (!o->implicit_tls && o->starttls == SMTP_CLIENT_STARTTLS_OFF) return 0;
  if (!smtp_tls_available()) {
    if (!strict) return 0; /* opportunistic: the caller turns STARTTLS off */
    fputs("smtp-send: TLS is required but this build has no TLS\n", err);
    return SEND_EXIT_NONE;
  }
  if (o->insecure) {
    mode = SMTP_TLS_VERIFY_NONE;
    fputs("smtp-send: warning: --insecure: the server certificate is not verified\n", err);
  } else if (strict || o->ca_file) {
    mode = SMTP_TLS_VERIFY_REQUIRED;
  } else {
    mode = SMTP_TLS_VERIFY_NONE; /* opportunistic without --ca-file (RFC 7435) */
  }
  {
    int be = SMTP_TLS_BACKEND_DEFAULT;
    if (o->tls_backend && (be = smtp_tls_backend_by_name(o->tls_backend)) < 0) {
      fprintf(err, "smtp-send: TLS backend %s is not in this build\n", o->tls_backend);
      return SEND_EXIT_USAGE;
    }
    r = smtp_tls_config_new_backend(&cfg, SMTP_TLS_CLIENT, be, NULL);
  }
  if (r == 0) r = smtp_tls_config_set_verify(cfg, mode);
  if (r == 0 && o->tls_version && smtp_tls_config_set_versions(cfg, o->tls_version, o->tls_version) != 0) {
    fprintf(err, "smtp-send: --tls-version: this TLS backend cannot speak only that version\n");
    smtp_tls_config_del(cfg);
    return SEND_EXIT_USAGE;
  }
  if (r == 0 && o->tls_cert) {
    r = smtp_tls_config_cert_file(cfg, o->tls_cert, o->tls_key, NULL);
    if (r != 0) {
      smtp_tls_config_last_error(cfg, why, sizeof why);
      fprintf(err, "smtp-send: bad --tls-cert/--tls-key: %s (see --help)\n", why[0] ? why : smtp_strerror(r));
      smtp_tls_config_del(cfg);
      return SEND_EXIT_USAGE;
    }
  }
  if (r == 0 && o->ca_file && !o->insecure) {
    r = smtp_tls_config_ca_file(cfg, o->ca_file);
    if (r != 0) {
      smtp_tls_config_last_error(cfg, why, sizeof why);
      fprintf(err, "smtp-send: bad --ca-file %s: %s (see --help)\n", o->ca_file,
              why[0] ? why : smtp_strerror(r));
      smtp_tls_config_del(cfg);
      return SEND_EXIT_USAGE;
    }
  }
  if (r == 0 && mode == SMTP_TLS_VERIFY_REQUIRED && !o->ca_file) {
    r = smtp_tls_config_system_ca(cfg);
    if (r != 0) {
      smtp_tls_config_last_error(cfg, why, sizeof why);
      fprintf(err, "smtp-send: cannot load the system trust store: %s (use --ca-file or --insecure)\n",
              why[0] ? why : smtp_strerror(r));
      smtp_tls_config_del(cfg);
      return SEND_EXIT_NONE;
    }
  }
  if (r != 0) {
    fprintf(err, "smtp-send: TLS set-up failed: %s\n", smtp_strerror(r));
    smtp_tls_config_del(cfg);
    return SEND_EXIT_NONE;
  }
  *out = cfg;
  return 0;
}

/* --trace: one "TLS:" line when TLS comes up, before the first line of the
 * transcript that travels under it; then the line as send_app.c prints it. */
static smtp_driver *trace_driver;
static int trace_tls_shown;

static void on_trace(smtp_client_session *c, int dir, const char *line, size_t len, void *ud) {
  send_app *a = ud;
  smtp_tls_info info;
  if (!a->o->trace) return;
  if (!trace_tls_shown && trace_driver && smtp_driver_tls_info(trace_driver, &info) == 0) {
    trace_tls_shown = 1;
    fprintf(a->err, "TLS: %s %s, server certificate %s\n", info.protocol ? info.protocol : "?",
            info.cipher ? info.cipher : "?",
            info.peer_verified ? "verified" : a->o->insecure ? "not verified (--insecure)" : "not verified");
  }
  (void)c;
  {
    char prefix[4] = {(char)dir, ':', ' ', 0};
    send_app_print_escaped(a->err, prefix, line, len, 1);
  }
}

/* Run the driver over the non-blocking socket until the session is over. */
static void run(smtp_driver *d, int fd) {
  smtp_driver_pump(d);
  while (!smtp_driver_is_done(d)) {
    unsigned int ev = smtp_driver_poll_events(d);
    int tmo = smtp_driver_next_timeout_ms(d), r;
    struct pollfd pf;
    pf.fd = fd;
    pf.events = (short)(((ev & SMTP_DRIVER_POLLIN) ? POLLIN : 0) | ((ev & SMTP_DRIVER_POLLOUT) ? POLLOUT : 0));
    pf.revents = 0;
    if (ev == 0 && tmo < 0) break; /* nothing to wait for (cannot happen for this client) */
    r = poll(&pf, ev ? 1 : 0, tmo);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) {
      smtp_driver_on_timer(d);
      continue;
    }
    if (pf.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) smtp_driver_on_readable(d);
    if (pf.revents & POLLOUT) smtp_driver_on_writable(d);
  }
}

static int is_tls_error(int e) {
  return e == SMTP_ERR_TLS || e == SMTP_ERR_TLS_HANDSHAKE || e == SMTP_ERR_TLS_VERIFY ||
         e == SMTP_ERR_TLS_CLOSED || e == SMTP_ERR_TLS_CONFIG || e == SMTP_ERR_TLS_UNAVAILABLE;
}

/* ---- --mx: delivery to the recipients' domain (delivery.h) ---- */

#define MX_RESOLVE_MS 60000

static uint32_t rnd32(void *ud) {
  (void)ud;
  return arc4random(); /* equal MX preferences shuffled (RFC 5321 5.1) */
}

/* The attempt under way: its replies go into the delivery's per-recipient
 * results (smtp_delivery_rcpt_reply()). DANE and MTA-STS are checked in
 * the handshake by smtp_delivery_tls_verify(). */
static struct {
  smtp_delivery *d;
  const smtp_delivery_target *t;
  unsigned char accepted[256]; /* recipients a 2xx to RCPT left pending (SMTP: the DATA reply decides) */
} cur;

static void reply_text(const smtp_reply *r, char *out, size_t cap) {
  size_t o = 0;
  out[0] = 0;
  for (size_t i = 0; i < r->nlines && o + 1 < cap; i++) {
    size_t l = r->lines[i].len;
    if (i) out[o++] = ' ';
    if (l > cap - 1 - o) l = cap - 1 - o;
    memcpy(out + o, r->lines[i].ptr, l);
    o += l;
  }
  out[o] = 0;
}

static void record_reply(size_t index, const smtp_reply *r, int final) {
  char enh[32] = "", text[256];
  if (!cur.d || !cur.t || !r || r->code < 200 || r->code > 599) return;
  if (r->has_enhanced) smtp_enhanced_code_format(&r->enhanced, enh, sizeof enh);
  reply_text(r, text, sizeof text);
  smtp_delivery_rcpt_reply(cur.d, index, cur.t, r->code, enh[0] ? enh : NULL, text, final);
}

static int mx_on_event(smtp_client_session *c, const smtp_client_event *ev, void *ud) {
  send_app *a = ud;
  if (ev->type == SMTP_CLIENT_EVENT_MAIL && ev->reply) a->txn_started = 1; /* also with --json */
  if (ev->type == SMTP_CLIENT_EVENT_RCPT && ev->reply && !a->mail_refused) {
    int ok = ev->reply->code / 100 == 2;
    record_reply(ev->index, ev->reply, !ok);
    if (ok && ev->index < sizeof cur.accepted) cur.accepted[ev->index] = 1;
  } else if (ev->type == SMTP_CLIENT_EVENT_DATA && ev->reply && !a->mail_refused) {
    if (ev->index != SMTP_CLIENT_NO_INDEX) {
      record_reply(ev->index, ev->reply, 1); /* LMTP: one reply per recipient */
    } else {
      for (size_t i = 0; i < sizeof cur.accepted; i++)
        if (cur.accepted[i]) record_reply(i, ev->reply, 1);
    }
  } else if (ev->type == SMTP_CLIENT_EVENT_MAIL && ev->reply && ev->reply->code / 100 != 2) {
    for (size_t i = 0; i < a->o->nto; i++) record_reply(i, ev->reply, 1);
  }
  return send_app_on_event(c, ev, ud);
}

static int connect_target(const smtp_delivery_target *t) {
  struct sockaddr_storage ss;
  struct addrinfo ai;
  memset(&ss, 0, sizeof ss);
  memset(&ai, 0, sizeof ai);
  if (t->family == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)t->port);
    memcpy(&v4->sin_addr, t->addr, 4);
    ai.ai_family = AF_INET;
    ai.ai_addrlen = sizeof *v4;
  } else {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)t->port);
    memcpy(&v6->sin6_addr, t->addr, 16);
    ai.ai_family = AF_INET6;
    ai.ai_addrlen = sizeof *v6;
  }
  ai.ai_socktype = SOCK_STREAM;
  ai.ai_addr = (struct sockaddr *)&ss;
  return connect_one(&ai);
}

/* The TLS configuration a target needs (delivery.h SMTP_DELIVERY_TLS_*):
 * DANE and MTA-STS enforce verify in the handshake through the delivery's
 * callback; an MTA-STS testing policy sees the verdict without refusing. */
static int target_tls(const send_opts *o, smtp_delivery *d, const smtp_delivery_target *t,
                      smtp_tls_config **out, int *starttls) {
  smtp_tls_config *cfg = NULL;
  int strict = t->tls == SMTP_DELIVERY_TLS_DANE || t->tls == SMTP_DELIVERY_TLS_VERIFY;
  int check = strict || t->sts_testing;
  int be = SMTP_TLS_BACKEND_DEFAULT;
  *out = NULL;
  *starttls = t->tls == SMTP_DELIVERY_TLS_OPPORTUNISTIC ? SMTP_CLIENT_STARTTLS_OPPORTUNISTIC
                                                        : SMTP_CLIENT_STARTTLS_REQUIRED;
  if (!smtp_tls_available()) {
    if (t->tls != SMTP_DELIVERY_TLS_OPPORTUNISTIC) return -1;
    *starttls = SMTP_CLIENT_STARTTLS_OFF;
    return 0;
  }
  if (o->tls_backend && (be = smtp_tls_backend_by_name(o->tls_backend)) < 0) return -1;
  if (smtp_tls_config_new_backend(&cfg, SMTP_TLS_CLIENT, be, NULL) != 0) return -1;
  if (smtp_tls_config_set_verify(cfg, strict ? SMTP_TLS_VERIFY_REQUIRED
                                             : check ? SMTP_TLS_VERIFY_OPTIONAL : SMTP_TLS_VERIFY_NONE) != 0 ||
      smtp_tls_config_set_verify_callback(cfg, smtp_delivery_tls_verify, d) != 0) {
    smtp_tls_config_del(cfg);
    return -1;
  }
  /* trust anchors: the WebPKI verdict MTA-STS needs; under DANE the TLSA
   * records decide (RFC 7672 3.1) whatever the anchors say */
  if (check && (o->ca_file ? smtp_tls_config_ca_file(cfg, o->ca_file) : smtp_tls_config_system_ca(cfg)) != 0 &&
      t->tls != SMTP_DELIVERY_TLS_DANE) {
    smtp_tls_config_del(cfg);
    return -1;
  }
  *out = cfg;
  return 0;
}

static const char *tls_level(unsigned int l) {
  switch (l) {
  case SMTP_DELIVERY_TLS_ENCRYPT: return "TLS required";
  case SMTP_DELIVERY_TLS_DANE: return "DANE";
  case SMTP_DELIVERY_TLS_VERIFY: return "TLS verified (MTA-STS)";
  default: return "opportunistic TLS";
  }
}

/* --json with --mx: what each attempt did, for the "attempts" list. */
#define MX_MAX_ATTEMPTS 64
typedef struct {
  smtp_delivery_target t;
  unsigned int outcome;
  int dane;          /* smtp_delivery_dane_result() after the attempt */
  char error[160];   /* the local failure, "" when none */
} mx_attempt_rec;
static mx_attempt_rec attempts[MX_MAX_ATTEMPTS];
static size_t nattempts;
static char *json_base; /* the object send_app printed for the host that ran the transaction */
static time_t run_started; /* the TLS report's date range starts here */

/* One attempt at one address. Returns the outcome for smtp_delivery_report()
 * and, for SMTP_DELIVERY_DONE, the exit status in *status. */
static unsigned int mx_attempt(const send_opts *o, smtp_delivery *d, const smtp_delivery_target *t,
                               const char *msg, size_t msglen, int *status) {
  send_app app;
  smtp_client_session *c = NULL;
  smtp_tls_config *tls = NULL;
  smtp_driver *drv = NULL;
  smtp_io io;
  char helo[256], why[160] = "";
  int fd, starttls, rc;
  unsigned int outcome = SMTP_DELIVERY_TEMPFAIL;
  size_t nfail0 = 0;
  char *jbuf = NULL;
  size_t jlen = 0;
  FILE *jout = NULL;
  mx_attempt_rec *rec = nattempts < MX_MAX_ATTEMPTS ? &attempts[nattempts++] : NULL;
  smtp_delivery_tls_failures(d, &nfail0);
  if (rec) {
    memset(rec, 0, sizeof *rec);
    rec->t = *t;
  }
  if (o->trace)
    fprintf(stderr, "MX: %s (preference %u) %s port %u, %s%s%s\n", t->host, t->preference, t->addr_text,
            t->port, tls_level(t->tls), strcmp(t->tls_name, t->host) ? ", TLSA base " : "",
            strcmp(t->tls_name, t->host) ? t->tls_name : "");
  fd = connect_target(t);
  if (fd < 0) {
    snprintf(why, sizeof why, "cannot connect: %s", strerror(errno));
    fprintf(stderr, "smtp-send: cannot connect to %s [%s] port %u: %s\n", t->host, t->addr_text, t->port,
            strerror(errno));
    outcome = SMTP_DELIVERY_CONNECT_FAILED;
    goto rec;
  }
  if (target_tls(o, d, t, &tls, &starttls) != 0) {
    snprintf(why, sizeof why, "TLS is required (%s) but cannot be set up", tls_level(t->tls));
    fprintf(stderr, "smtp-send: %s: %s\n", t->host, why);
    close(fd);
    outcome = SMTP_DELIVERY_TLS_FAILED;
    goto rec;
  }
  default_helo(fd, helo, sizeof helo);
  if (o->json) jout = open_memstream(&jbuf, &jlen);
  rc = send_app_init(&app, o, helo, msg, msglen, jout ? jout : stdout, stderr);
  if (rc) {
    close(fd);
    smtp_tls_config_del(tls);
    send_app_free(&app);
    if (jout) fclose(jout);
    free(jbuf);
    *status = rc;
    if (rec) rec->outcome = SMTP_DELIVERY_DONE;
    return SMTP_DELIVERY_DONE;
  }
  smtp_client_callbacks_set_trace(app.cbs, on_trace);
  smtp_client_callbacks_set_event(app.cbs, mx_on_event);
  smtp_client_options_set_starttls(app.opt, starttls);
  memset(&cur, 0, sizeof cur);
  cur.d = d;
  cur.t = t;
  if (smtp_client_session_new(&c, app.cbs, &app, app.opt, NULL) != SMTP_OK ||
      smtp_io_posix_new(&io, fd, fd, SMTP_IO_POSIX_OWN_FD, NULL) != SMTP_OK) {
    close(fd);
    goto out;
  }
  /* the connection's name: the TLSA base domain (SNI, RFC 7672 8.1) */
  if (smtp_driver_new_client(&drv, c, &io, tls, tls ? t->tls_name : NULL, 0, NULL) != SMTP_OK) goto out;
  trace_driver = drv;
  trace_tls_shown = 0;
  smtp_client_session_submit(c, app.txn);
  smtp_client_session_quit(c);
  run(drv, fd);
  {
    int e = smtp_driver_error(drv);
    smtp_tls_info info;
    if (is_tls_error(e) && !app.tls_error) app.tls_error = e;
    if (smtp_driver_tls_info(drv, &info) == 0) {
      app.have_tls = 1;
      snprintf(app.tls_protocol, sizeof app.tls_protocol, "%s", info.protocol ? info.protocol : "");
      snprintf(app.tls_cipher, sizeof app.tls_cipher, "%s", info.cipher ? info.cipher : "");
      app.tls_verified = info.peer_verified;
    }
  }
  if (o->trace && smtp_delivery_dane_result(d, t) > 0)
    fprintf(stderr, "DANE: %s matched\n", smtp_delivery_dane_result(d, t) == SMTP_DANE_MATCH_EE ? "DANE-EE" : "DANE-TA");
  if (!smtp_client_session_is_closed(c)) smtp_client_session_connection_lost(c);
  if (app.txn_started) {
    *status = send_app_finish(&app);
    outcome = SMTP_DELIVERY_DONE;
  } else if (app.tls_error || app.closed_error == SMTP_ERR_TLS_REQUIRED ||
             (app.got_result && app.result.status == SMTP_ERR_TLS_REQUIRED)) {
    int e = app.tls_error ? app.tls_error : SMTP_ERR_TLS_REQUIRED;
    size_t nfail = 0;
    smtp_delivery_tls_failures(d, &nfail);
    if (smtp_delivery_dane_result(d, t) < 0)
      snprintf(why, sizeof why, "DANE: the certificate matches none of the TLSA records");
    else
      snprintf(why, sizeof why, "%s", smtp_strerror(e));
    fprintf(stderr, "smtp-send: %s [%s]: %s\n", t->host, t->addr_text, why);
    if (nfail == nfail0) /* not recorded by the verification callback */
      smtp_delivery_tls_failure(d, t,
                                e == SMTP_ERR_TLS_REQUIRED ? SMTP_TLSRPT_STARTTLS_NOT_SUPPORTED
                                : e == SMTP_ERR_TLS_VERIFY ? SMTP_TLSRPT_CERTIFICATE_NOT_TRUSTED
                                                           : SMTP_TLSRPT_VALIDATION_FAILURE,
                                smtp_strerror(e));
    outcome = SMTP_DELIVERY_TLS_FAILED;
  } else {
    int e = app.closed_error ? app.closed_error : app.got_result ? app.result.status : SMTP_ERR_CONNECTION_LOST;
    snprintf(why, sizeof why, "%s", smtp_strerror(e));
    fprintf(stderr, "smtp-send: %s [%s]: %s; trying the next host\n", t->host, t->addr_text, why);
  }
out:
  trace_driver = NULL;
  memset(&cur, 0, sizeof cur);
  smtp_driver_del(drv);
  smtp_client_session_del(c);
  send_app_free(&app);
  smtp_tls_config_del(tls);
  if (jout) {
    fclose(jout);
    if (outcome == SMTP_DELIVERY_DONE && jbuf) {
      free(json_base);
      json_base = jbuf;
      jbuf = NULL;
    }
    free(jbuf);
  }
rec:
  if (rec) {
    rec->outcome = outcome;
    rec->dane = smtp_delivery_dane_result(d, t);
    snprintf(rec->error, sizeof rec->error, "%s", why);
  }
  return outcome;
}

/* RFC 8461: the policy to apply, from the cache or fetched; NULL for none. */
static smtp_mta_sts_policy *sts_policy(const send_opts *o, const smtp_resolver *res) {
  char dir[512], id[33] = "", cid[33] = "", why[256];
  const char *base = getenv("XDG_CACHE_HOME");
  smtp_mta_sts_policy *cached = NULL, *p = NULL;
  smtp_dns_result *r = NULL;
  int64_t now = (int64_t)time(NULL);
  int valid_cache, ntxt = 0, rc;
  if (base && *base) snprintf(dir, sizeof dir, "%s/libsmtp", base);
  else snprintf(dir, sizeof dir, "%s/.cache/libsmtp", getenv("HOME") ? getenv("HOME") : ".");
  valid_cache = smtp_mta_sts_cache_load(dir, o->domain, now, &cached, cid, sizeof cid, NULL, NULL) == 0;
  /* the TXT record (RFC 8461 3.1): exactly one starting with v=STSv1 */
  {
    char name[300];
    snprintf(name, sizeof name, "_mta-sts.%s", o->domain);
    if (smtp_resolver_lookup(res, name, SMTP_DNS_TXT, 10000, &r, NULL) == 0) {
      for (size_t i = 0; i < smtp_dns_result_count(r); i++) {
        const smtp_dns_rr *x = smtp_dns_result_record(r, i);
        if (x->data_len >= 7 && memcmp(x->data, "v=STSv1", 7) == 0) {
          ntxt++;
          if (smtp_mta_sts_txt_parse((const char *)x->data, x->data_len, id, sizeof id) != 0) id[0] = 0;
        }
      }
    }
    smtp_dns_result_del(r);
  }
  if (ntxt != 1 || !id[0] || (valid_cache && strcmp(id, cid) == 0)) {
    if (o->trace && valid_cache) fprintf(stderr, "MTA-STS: %s: cached policy (id %s)\n", o->domain, cid);
    if (valid_cache) return cached;
    if (o->trace) fprintf(stderr, "MTA-STS: %s: no policy\n", o->domain);
    return NULL;
  }
  /* fetch from mta-sts.DOMAIN, resolved through the same resolver */
  {
    char host[300], to[80] = "";
    unsigned int port = o->mta_sts_port ? o->mta_sts_port : 443;
    snprintf(host, sizeof host, "mta-sts.%s", o->domain);
    for (unsigned int type = SMTP_DNS_A; !to[0]; type = SMTP_DNS_AAAA) {
      if (smtp_resolver_lookup(res, host, type, 10000, &r, NULL) == 0 && smtp_dns_result_count(r)) {
        const smtp_dns_rr *x = smtp_dns_result_record(r, 0);
        char a[64];
        inet_ntop(x->addr_len == 4 ? AF_INET : AF_INET6, x->addr, a, sizeof a);
        snprintf(to, sizeof to, x->addr_len == 4 ? "%s:%u" : "[%s]:%u", a, port);
      }
      smtp_dns_result_del(r);
      r = NULL;
      if (type == SMTP_DNS_AAAA) break;
    }
    if (!to[0]) {
      fprintf(stderr, "smtp-send: MTA-STS: cannot resolve %s\n", host);
    } else {
      rc = smtp_mta_sts_fetch(o->domain, o->ca_file, to, 30000, &p, why, sizeof why, NULL);
      if (rc != 0)
        fprintf(stderr, "smtp-send: MTA-STS policy fetch for %s failed: %s\n", o->domain,
                why[0] ? why : smtp_strerror(rc));
    }
  }
  if (!p) /* RFC 8461 5.1: keep using a valid cached policy */
    return valid_cache ? cached : NULL;
  smtp_mta_sts_policy_del(cached);
  /* the base directory may not exist yet: make it, then the cache stores */
  {
    char *sl;
    for (sl = strchr(dir + 1, '/'); sl; sl = strchr(sl + 1, '/')) {
      *sl = 0;
      mkdir(dir, 0700);
      *sl = '/';
    }
  }
  rc = smtp_mta_sts_cache_store(dir, o->domain, p, id, now, NULL);
  if (rc != 0) fprintf(stderr, "smtp-send: cannot cache the MTA-STS policy in %s: %s\n", dir, smtp_strerror(rc));
  if (o->trace) fprintf(stderr, "MTA-STS: %s: fetched policy (id %s)\n", o->domain, id);
  return p;
}

/* A JSON string; bytes outside printable ASCII (text from the network)
 * as \u00XX escapes. NULL prints null. */
static void jstr(FILE *f, const char *s) {
  if (!s) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

static const char *tls_policy_name(unsigned int l) {
  switch (l) {
  case SMTP_DELIVERY_TLS_ENCRYPT: return "encrypt";
  case SMTP_DELIVERY_TLS_DANE: return "dane";
  case SMTP_DELIVERY_TLS_VERIFY: return "verify";
  default: return "opportunistic";
  }
}

static const char *outcome_name(unsigned int o) {
  switch (o) {
  case SMTP_DELIVERY_CONNECT_FAILED: return "connect-failed";
  case SMTP_DELIVERY_TEMPFAIL: return "tempfail";
  case SMTP_DELIVERY_TLS_FAILED: return "tls-failed";
  default: return "done";
  }
}

/* --json with --mx (docs/examples.md): the object of the host that ran the
 * transaction (or one with null replies), plus "domain", "attempts",
 * "recipients" and "tls_failures". */
static void mx_json(const send_opts *o, smtp_delivery *d, int status, int error) {
  FILE *f = stdout;
  size_t nf = 0;
  const smtp_tlsrpt_failure *fl = smtp_delivery_tls_failures(d, &nf);
  size_t bl = json_base ? strlen(json_base) : 0;
  static const char *const states[] = {"pending", "delivered", "permanent", "retry"};
  while (bl && (json_base[bl - 1] == '\n' || json_base[bl - 1] == '}')) {
    int brace = json_base[bl - 1] == '}';
    bl--;
    if (brace) break;
  }
  if (json_base && bl) {
    fwrite(json_base, 1, bl, f);
  } else {
    fputs("{\"mail\":null,\"rcpts\":[],\"data\":null,\"tls\":null,\"error\":", f);
    jstr(f, error ? smtp_strerror(error) : NULL);
    fprintf(f, ",\"exit\":%d", status);
  }
  fputs(",\"domain\":", f);
  jstr(f, o->domain);
  fputs(",\"attempts\":[", f);
  for (size_t i = 0; i < nattempts; i++) {
    const mx_attempt_rec *r = &attempts[i];
    fputs(i ? ",{\"host\":" : "{\"host\":", f);
    jstr(f, r->t.host);
    fprintf(f, ",\"preference\":%u,\"addr\":", r->t.preference);
    jstr(f, r->t.addr_text);
    fprintf(f, ",\"port\":%u,\"tls_policy\":\"%s\",\"tls_name\":", r->t.port, tls_policy_name(r->t.tls));
    jstr(f, r->t.tls_name);
    fprintf(f, ",\"dnssec\":%s,\"outcome\":\"%s\",\"dane\":%s,\"error\":", r->t.dnssec ? "true" : "false",
            outcome_name(r->outcome),
            r->dane == SMTP_DANE_MATCH_EE ? "\"EE\"" : r->dane == SMTP_DANE_MATCH_TA ? "\"TA\""
                                         : r->dane < 0                               ? "\"mismatch\""
                                                                                     : "null");
    jstr(f, r->error[0] ? r->error : NULL);
    fputc('}', f);
  }
  fputs("],\"recipients\":[", f);
  for (size_t i = 0; i < smtp_delivery_rcpt_count(d); i++) {
    smtp_delivery_rcpt_result rr;
    if (smtp_delivery_rcpt(d, i, &rr) != 0) continue;
    fputs(i ? ",{\"addr\":" : "{\"addr\":", f);
    jstr(f, rr.addr);
    fprintf(f, ",\"state\":\"%s\",\"code\":", states[rr.state >= 0 && rr.state <= 3 ? rr.state : 0]);
    if (rr.code) fprintf(f, "%d", rr.code);
    else fputs("null", f);
    fputs(",\"enhanced\":", f);
    jstr(f, rr.enhanced[0] ? rr.enhanced : NULL);
    fputs(",\"text\":", f);
    jstr(f, rr.text && *rr.text ? rr.text : NULL);
    fputs(",\"host\":", f);
    jstr(f, rr.host);
    fputs(",\"ip\":", f);
    jstr(f, rr.addr_text);
    fputc('}', f);
  }
  fputs("],\"tls_failures\":[", f);
  for (size_t i = 0; i < nf; i++) {
    fprintf(f, "%s{\"result_type\":\"%s\",\"policy_type\":\"%s\",\"receiving_mx_hostname\":", i ? "," : "",
            smtp_tlsrpt_result_name(fl[i].result_type),
            fl[i].policy_type == 1 ? "sts" : fl[i].policy_type == 2 ? "tlsa" : "no-policy-found");
    jstr(f, fl[i].receiving_mx_hostname);
    fputs(",\"receiving_ip\":", f);
    jstr(f, fl[i].receiving_ip);
    fputs(",\"failure_reason_code\":", f);
    jstr(f, fl[i].failure_reason_code);
    fputc('}', f);
  }
  fputc(']', f);
  /* the same failures as an RFC 8460 4.4 report document for this run */
  {
    smtp_tlsrpt_report_info ri;
    smtp_tlsrpt_report *rep = NULL;
    char id[300], contact[300];
    size_t len = 0;
    char *doc = NULL;
    memset(&ri, 0, sizeof ri);
    ri.version = SMTP_TLSRPT_REPORT_INFO_VERSION;
    ri.organization_name = "libsmtp smtp-send";
    snprintf(contact, sizeof contact, "mailto:%s", o->from && *o->from ? o->from : "postmaster");
    snprintf(id, sizeof id, "%lld_%s", (long long)run_started, o->domain);
    ri.contact_info = contact;
    ri.report_id = id;
    ri.policy_domain = o->domain;
    ri.start = run_started;
    ri.end = (int64_t)time(NULL);
    if (smtp_tlsrpt_report_new(&rep, &ri, NULL) == 0 && smtp_tlsrpt_report_add(rep, d) == 0 &&
        smtp_tlsrpt_report_format(rep, NULL, 0, &len) == SMTP_ERR_BUFFER_TOO_SMALL &&
        (doc = malloc(len + 1)) != NULL && smtp_tlsrpt_report_format(rep, doc, len + 1, &len) == 0) {
      fputs(",\"tls_report\":", f);
      fputs(doc, f);
    }
    free(doc);
    smtp_tlsrpt_report_del(rep);
  }
  fputs("}\n", f);
}

static int run_mx(const send_opts *o, const char *msg, size_t msglen) {
  smtp_resolver res;
  smtp_delivery *d = NULL;
  smtp_delivery_config cfg;
  smtp_delivery_target t;
  smtp_mta_sts_policy *sts = NULL;
  long long until = now_ms() + MX_RESOLVE_MS;
  int rc, status = SEND_EXIT_NONE, done = 0, error = 0;
  run_started = time(NULL);
  if (o->tls_backend && smtp_tls_backend_by_name(o->tls_backend) < 0) {
    fprintf(stderr, "smtp-send: TLS backend %s is not in this build\n", o->tls_backend);
    return SEND_EXIT_USAGE;
  }
  rc = o->dnssec_anchor ? smtp_resolver_unbound_new(&res, o->resolver, o->dnssec_anchor, 10000, NULL)
                        : smtp_resolver_cares_new(&res, o->resolver, 5000, NULL);
  if (rc != 0) {
    fprintf(stderr, "smtp-send: cannot set up the resolver (%s): %s\n",
            o->dnssec_anchor ? "libunbound" : "c-ares", smtp_strerror(rc));
    return SEND_EXIT_NONE;
  }
  memset(&cfg, 0, sizeof cfg);
  cfg.version = SMTP_DELIVERY_CONFIG_VERSION;
  cfg.flags = o->dane ? SMTP_DELIVERY_DANE : 0;
  cfg.port = o->mx_port;
  cfg.random = rnd32;
  if (o->mta_sts) sts = sts_policy(o, &res);
  rc = smtp_delivery_new(&d, o->domain, &res, &cfg, NULL);
  if (rc != 0) {
    fprintf(stderr, "smtp-send: bad recipient domain %s: %s\n", o->domain, smtp_strerror(rc));
    smtp_resolver_close(&res);
    smtp_mta_sts_policy_del(sts);
    return SEND_EXIT_USAGE;
  }
  for (size_t i = 0; i < o->nto; i++) smtp_delivery_add_rcpt(d, o->to[i]);
  if (sts && smtp_mta_sts_policy_mode(sts) != SMTP_MTA_STS_NONE) smtp_delivery_set_mta_sts(d, sts);
  while ((rc = smtp_delivery_resolve(d)) == SMTP_ERR_WOULDBLOCK) {
    long long left = until - now_ms();
    if (left <= 0) break;
    smtp_resolver_wait(&res, (int)left);
  }
  if (rc == 0) {
    while (!done && smtp_delivery_next(d, &t) == 0) {
      unsigned int outcome = mx_attempt(o, d, &t, msg, msglen, &status);
      smtp_delivery_report(d, &t, outcome);
      if (outcome == SMTP_DELIVERY_DONE) done = 1;
    }
    if (!done) error = SMTP_ERR_NO_ROUTE;
  } else if (rc == SMTP_ERR_WOULDBLOCK) {
    fprintf(stderr, "smtp-send: DNS lookups for %s timed out\n", o->domain);
    error = SMTP_ERR_TIMEOUT;
  } else {
    error = rc;
  }
  if (!done) {
    /* no host took the transaction: one line per recipient with the reason
     * (RFC 7505 null MX: 556 5.1.10) */
    for (size_t i = 0; i < smtp_delivery_rcpt_count(d) && !o->json; i++) {
      smtp_delivery_rcpt_result rr;
      if (smtp_delivery_rcpt(d, i, &rr) != 0 || rr.code == 0) continue;
      printf("RCPT %s %d %s %s\n", rr.addr, rr.code, rr.enhanced[0] ? rr.enhanced : "-", rr.text);
    }
    status = SEND_EXIT_NONE;
  }
  if (o->json) mx_json(o, d, status, error);
  if (o->trace) {
    size_t nf = 0;
    const smtp_tlsrpt_failure *f = smtp_delivery_tls_failures(d, &nf);
    for (size_t i = 0; i < nf; i++)
      fprintf(stderr, "TLS-RPT: %s mx=%s ip=%s %s\n", smtp_tlsrpt_result_name(f[i].result_type),
              f[i].receiving_mx_hostname ? f[i].receiving_mx_hostname : "-",
              f[i].receiving_ip ? f[i].receiving_ip : "-", f[i].failure_reason_code ? f[i].failure_reason_code : "");
  }
  fflush(stdout);
  free(json_base);
  json_base = NULL;
  smtp_delivery_del(d);
  smtp_mta_sts_policy_del(sts);
  smtp_resolver_close(&res);
  return status;
}

int main(int argc, char **argv) {
  send_opts o;
  send_app app;
  smtp_client_session *c = NULL;
  smtp_tls_config *tls = NULL;
  smtp_driver *d = NULL;
  smtp_io io;
  char *msg = NULL;
  size_t msglen = 0;
  char helo[256];
  progress prog;
  int fd = -1, sock, rc;

  signal(SIGPIPE, SIG_IGN);
  memset(&app, 0, sizeof app);
  rc = send_parse_args(argc, argv, &o, stdout, stderr);
  if (rc) {
    send_opts_free(&o);
    return rc < 0 ? 0 : rc;
  }
  if (o.mx) {
    if (send_read_message(o.file, &msg, &msglen, stderr) != 0) rc = SEND_EXIT_NONE;
    else rc = run_mx(&o, msg, msglen);
    goto out;
  }
  rc = setup_tls(&o, &tls, stderr);
  if (rc) goto out;
  if (send_read_message(o.file, &msg, &msglen, stderr) != 0) {
    rc = SEND_EXIT_NONE;
    goto out;
  }
  fd = tcp_connect(o.host, o.port, stderr);
  if (fd < 0) {
    rc = SEND_EXIT_NONE;
    goto out;
  }
  default_helo(fd, helo, sizeof helo);
  rc = send_app_init(&app, &o, helo, msg, msglen, stdout, stderr);
  if (rc) goto out;
  smtp_client_callbacks_set_trace(app.cbs, on_trace);
  /* Opportunistic STARTTLS in a build without TLS: do not ask for it. */
  if (!tls && !o.implicit_tls) smtp_client_options_set_starttls(app.opt, SMTP_CLIENT_STARTTLS_OFF);
  if (smtp_client_session_new(&c, app.cbs, &app, app.opt, NULL) != SMTP_OK ||
      smtp_io_posix_new(&io, fd, fd, SMTP_IO_POSIX_OWN_FD, NULL) != SMTP_OK) {
    fputs("smtp-send: out of memory\n", stderr);
    rc = SEND_EXIT_NONE;
    goto out;
  }
  progress_wrap(&prog, &io, msglen, stderr); /* a progress line for big messages on a tty */
  sock = fd;
  fd = -1; /* the adapter owns it now (and the driver the adapter) */
  rc = smtp_driver_new_client(&d, c, &io, tls, tls ? o.servername : NULL,
                              (o.implicit_tls ? SMTP_DRIVER_IMPLICIT_TLS : 0) |
                                  (o.proxy_version ? SMTP_DRIVER_PROXY : 0),
                              NULL);
  if (rc == SMTP_OK && o.proxy_version) {
    /* announce --proxy-source (default: this socket's own address) as the
     * client, and the server's address as the destination */
    smtp_endpoint src, dst;
    smtp_client_session_addr(c, SMTP_ADDR_CLIENT, &src);
    smtp_client_session_addr(c, SMTP_ADDR_SERVER, &dst);
    if (o.have_proxy_source) src = o.proxy_source;
    rc = smtp_driver_set_proxy_header(d, o.proxy_version, &src, &dst);
  }
  if (rc != SMTP_OK) {
    fprintf(stderr, "smtp-send: %s\n", smtp_strerror(rc));
    rc = SEND_EXIT_NONE;
    goto out;
  }
  trace_driver = d;
  smtp_client_session_submit(c, app.txn);
  smtp_client_session_quit(c);
  run(d, sock);
  progress_done(&prog);
  {
    int e = smtp_driver_error(d);
    if (is_tls_error(e)) {
      char why[200] = "", one[200];
      size_t k = 0;
      app.tls_error = e;
      smtp_driver_last_error(d, why, sizeof why);
      /* one line on stderr (docs/examples.md): the TLS library may give several */
      for (const char *p = why; *p && k + 3 < sizeof one; p++) {
        if (*p != '\n' && *p != '\r') one[k++] = *p;
        else if (p[1] && p[1] != '\n' && p[1] != '\r') one[k++] = ';', one[k++] = ' ';
      }
      one[k] = '\0';
      if (one[0] && strcmp(one, smtp_strerror(e)) != 0)
        snprintf(app.detail, sizeof app.detail, "(%s)", one);
    }
  }
  {
    smtp_tls_info info;
    if (smtp_driver_tls_info(d, &info) == 0) {
      app.have_tls = 1;
      snprintf(app.tls_protocol, sizeof app.tls_protocol, "%s", info.protocol ? info.protocol : "");
      snprintf(app.tls_cipher, sizeof app.tls_cipher, "%s", info.cipher ? info.cipher : "");
      app.tls_verified = info.peer_verified;
    }
  }
  if (!smtp_client_session_is_closed(c)) smtp_client_session_connection_lost(c);
  rc = send_app_finish(&app);
out:
  trace_driver = NULL;
  smtp_driver_del(d); /* closes the socket */
  smtp_client_session_del(c);
  if (fd >= 0) close(fd);
  send_app_free(&app);
  smtp_tls_config_del(tls);
  free(msg);
  send_opts_free(&o);
  return rc;
}
