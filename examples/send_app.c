/* smtp-send's application half: see send_app.h and docs/examples.md. */
#include "send_app.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

#include <smtp/driver.h>
#include <smtp/ext.h>

static const char *const USAGE =
    "usage: smtp-send --server HOST[:PORT] --from ADDR --to ADDR [--to ADDR ...] [options] [FILE]\n"
    "Send one message (FILE, or stdin when absent or \"-\") to one SMTP/LMTP server.\n"
    "\n"
    "  --server HOST[:PORT]   server (default port 25; 465 implies --implicit-tls;\n"
    "                         IPv6 as [addr]:port)\n"
    "  --from ADDR            reverse-path; --from '' sends the null path <>\n"
    "  --to ADDR              a recipient (repeatable, at least one)\n"
    "  --helo NAME            EHLO/LHLO name (default: the host name, or [local address])\n"
    "  --starttls POLICY      required | opportunistic (default) | off\n"
    "  --implicit-tls         TLS from the first byte\n"
    "  --ca-file FILE         trust anchors for verifying the server\n"
    "  --insecure             do not verify the server certificate\n"
    "  --tls-cert FILE --tls-key FILE  present a client certificate\n"
    "  --tls-backend NAME     mbedtls or openssl (default: the build's first)\n"
    "  --tls-servername NAME  SNI and name to verify (default: the host of --server)\n"
    "  --auth USER:PASS       authenticate (PASS is the token for XOAUTH2/OAUTHBEARER)\n"
    "  --auth-mech MECH       PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256,\n"
    "                         SCRAM-SHA-512, their -PLUS forms, XOAUTH2, OAUTHBEARER,\n"
    "                         EXTERNAL (needs no --auth)\n"
    "  --allow-plaintext-auth permit credentials without TLS\n"
    "  --lmtp                 speak LMTP (RFC 2033)\n"
    "  --no-pipelining        do not use PIPELINING\n"
    "  --no-chunking          do not use CHUNKING (BDAT)\n"
    "  --no-8bitmime          do not use 8BITMIME\n"
    "  --smtputf8             require SMTPUTF8\n"
    "  --requiretls           REQUIRETLS (RFC 8689)\n"
    "  --dsn-notify LIST      NEVER, or a comma list of SUCCESS,FAILURE,DELAY\n"
    "  --dsn-ret FULL|HDRS    DSN RET parameter\n"
    "  --envid ID             DSN ENVID parameter\n"
    "  --mail-param K[=V]     extra MAIL FROM parameter (repeatable; RFC 5321 esmtp-param)\n"
    "  --rcpt-param K[=V]     extra RCPT TO parameter on every recipient (repeatable)\n"
    "  --mt-priority N        MT-PRIORITY=N, -9..9 (RFC 6710)\n"
    "  --deliver-by SPEC      BY=SPEC, e.g. 120;R or -30;NT (RFC 2852)\n"
    "  --hold-for SECONDS     HOLDFOR=SECONDS (RFC 4865)\n"
    "  --hold-until DATE-TIME HOLDUNTIL=DATE-TIME, UTC, e.g. 2027-01-01T00:00:00Z (RFC 4865)\n"
    "  --rrvs DATE-TIME[;C|R] RRVS on every recipient (RFC 7293)\n"
    "  --timeout SECONDS      every per-phase deadline (default: RFC 5321 4.5.3.2's)\n"
    "  --json                 print one JSON object instead of the lines\n"
    "  --trace                print the protocol transcript to stderr\n"
    "  --proxy-header v1|v2|v2-crc32c  send a PROXY protocol header first (HAProxy's spec;\n"
    "                         v2-crc32c: with its PP2_TYPE_CRC32C checksum)\n"
    "  --proxy-source ADDR:PORT  the client it announces (default: this socket's address)\n"
    "  --xclient 'NAME=VALUE ...'  send XCLIENT with these attributes when offered, then EHLO again\n"
    "  --xforward 'NAME=VALUE ...' send XFORWARD with these attributes when offered\n"
    "  --mx                   deliver to the recipients' domain (all must share one)\n"
    "                         through its MX hosts, instead of --server\n"
    "  --port N               with --mx: the SMTP port of the MX hosts (default 25)\n"
    "  --resolver HOST[:PORT] the DNS server to ask (default: the system's)\n"
    "  --dane                 with --mx: DANE (RFC 7672) from DNSSEC-validated TLSA records\n"
    "  --dnssec-anchor FILE   validate DNSSEC here (libunbound) with this trust anchor\n"
    "                         instead of trusting the resolver's AD bit\n"
    "  --mta-sts              with --mx: MTA-STS (RFC 8461), policies cached under\n"
    "                         $XDG_CACHE_HOME/libsmtp (default ~/.cache/libsmtp)\n"
    "  --mta-sts-port N       port of the policy server (default 443; for tests)\n"
    "  --help                 this text\n"
    "\n"
    "With --mx and a null MX (RFC 7505): \"RCPT <addr> 556 5.1.10 ...\" per recipient, exit 2.\n"
    "Output: one line per recipient, \"RCPT <addr> <code> <enhanced> <text>\", then\n"
    "\"DATA <code> <enhanced> <text>\" (LMTP: \"DATA <addr> ...\" per recipient).\n"
    "Exit status: 0 all recipients accepted, 1 some, 2 none, 64 usage error.\n";

/* One line on stderr and EX_USAGE (docs/examples.md). */
#define usage_error(err, fmt, arg) \
  (fprintf((err), "smtp-send: " fmt " (see --help)\n", (arg)), SEND_EXIT_USAGE)

static int parse_server(send_opts *o, const char *s, FILE *err) {
  const char *host = s, *port = NULL;
  size_t hl;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close) return usage_error(err, "bad --server value: %s", s);
    host = s + 1;
    hl = (size_t)(close - host);
    if (close[1] == ':') port = close + 2;
    else if (close[1] != '\0') return usage_error(err, "bad --server value: %s", s);
  } else {
    const char *colon = strchr(s, ':');
    if (colon && strchr(colon + 1, ':')) return usage_error(err, "IPv6 needs brackets: %s", s);
    hl = colon ? (size_t)(colon - s) : strlen(s);
    if (colon) port = colon + 1;
  }
  if (hl == 0 || hl >= sizeof o->host) return usage_error(err, "bad --server value: %s", s);
  memcpy(o->host, host, hl);
  o->host[hl] = 0;
  for (size_t i = 0; i < hl; i++) {
    unsigned char ch = (unsigned char)o->host[i];
    if (ch <= 0x20 || ch >= 0x7f) return usage_error(err, "bad --server host: %s", s);
  }
  if (port) {
    size_t pl = strlen(port);
    long v = 0;
    if (pl == 0 || pl > 5) return usage_error(err, "bad --server port: %s", s);
    for (size_t i = 0; i < pl; i++) {
      if (port[i] < '0' || port[i] > '9') return usage_error(err, "bad --server port: %s", s);
      v = v * 10 + (port[i] - '0');
    }
    if (v < 1 || v > 65535) return usage_error(err, "bad --server port: %s", s);
    snprintf(o->port, sizeof o->port, "%ld", v);
  } else {
    memcpy(o->port, "25", 3);
  }
  if (strcmp(o->port, "465") == 0) o->implicit_tls = 1; /* RFC 8314 */
  return 0;
}

static int parse_port(const char *v, unsigned int *out, const char *opt, FILE *err) {
  unsigned long n = 0;
  size_t l = strlen(v);
  if (l == 0 || l > 5) return usage_error(err, "bad %s value", opt);
  for (size_t i = 0; i < l; i++) {
    if (v[i] < '0' || v[i] > '9') return usage_error(err, "bad %s value", opt);
    n = n * 10 + (unsigned long)(v[i] - '0');
  }
  if (n < 1 || n > 65535) return usage_error(err, "bad %s value", opt);
  *out = (unsigned int)n;
  return 0;
}

/* --resolver: an address (IPv4, [IPv6]) with an optional port. */
static int check_resolver(const char *v, FILE *err) {
  size_t l = strlen(v);
  if (l == 0 || l > 64) return usage_error(err, "bad --resolver value: %s", v);
  for (size_t i = 0; i < l; i++) {
    char c = v[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
          c == ':' || c == '[' || c == ']'))
      return usage_error(err, "bad --resolver value (an address): %s", v);
  }
  return 0;
}

/* --mx: every recipient in one domain, returned lower-case in place. */
static int mx_domain(send_opts *o, FILE *err) {
  for (size_t i = 0; i < o->nto; i++) {
    const char *at = strrchr(o->to[i], '@');
    if (!at || !at[1] || at[1] == '[') return usage_error(err, "--mx needs a domain in every --to: %s", o->to[i]);
    if (!o->domain) o->domain = at + 1;
    else if (strcasecmp(o->domain, at + 1) != 0)
      return usage_error(err, "--mx: every --to must have the same domain: %s", o->to[i]);
  }
  return 0;
}

static int parse_notify(send_opts *o, const char *s, FILE *err) {
  char buf[64];
  char *tok, *save = NULL;
  unsigned v = 0;
  if (strlen(s) >= sizeof buf || !*s) return usage_error(err, "bad --dsn-notify value: %s", s);
  strcpy(buf, s);
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (strcasecmp(tok, "NEVER") == 0) v |= SMTP_DSN_NOTIFY_NEVER;
    else if (strcasecmp(tok, "SUCCESS") == 0) v |= SMTP_DSN_NOTIFY_SUCCESS;
    else if (strcasecmp(tok, "FAILURE") == 0) v |= SMTP_DSN_NOTIFY_FAILURE;
    else if (strcasecmp(tok, "DELAY") == 0) v |= SMTP_DSN_NOTIFY_DELAY;
    else return usage_error(err, "bad --dsn-notify value: %s", s);
  }
  /* RFC 3461 4.1: NEVER stands alone */
  if ((v & SMTP_DSN_NOTIFY_NEVER) && v != SMTP_DSN_NOTIFY_NEVER)
    return usage_error(err, "--dsn-notify NEVER must stand alone: %s", s);
  o->dsn_notify = v;
  return 0;
}

/* --proxy-source ADDR:PORT ([v6]:PORT for IPv6). */
static int parse_endpoint(smtp_endpoint *e, const char *v) {
  const char *colon, *a = v;
  size_t alen;
  unsigned long port = 0;
  if (v[0] == '[') {
    const char *rb = strchr(v, ']');
    if (!rb || rb[1] != ':') return -1;
    a = v + 1;
    alen = (size_t)(rb - a);
    colon = rb + 1;
  } else {
    colon = strrchr(v, ':');
    if (!colon) return -1;
    alen = (size_t)(colon - v);
  }
  if (!colon[1] || strlen(colon + 1) > 5) return -1;
  for (const char *p = colon + 1; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    port = port * 10 + (unsigned long)(*p - '0');
  }
  if (port > 65535) return -1;
  return smtp_endpoint_parse(e, a, alen, (unsigned int)port) == 0 ? 0 : -1;
}

/* Connection-level options: -1 not one of them, 0 taken, else usage. */
static int parse_net_opt(send_opts *o, int argc, char **argv, int *i, FILE *err) {
  const char *a = argv[*i];
  if (strcmp(a, "--proxy-header") && strcmp(a, "--proxy-source") && strcmp(a, "--xclient") &&
      strcmp(a, "--xforward"))
    return -1;
  if (*i + 1 >= argc) return usage_error(err, "%s needs a value", a);
  (*i)++;
  if (!strcmp(a, "--xclient") || !strcmp(a, "--xforward")) {
    smtp_xattrs x;
    char scratch[SMTP_COMMAND_LINE_MAX];
    const char *v = argv[*i];
    int fwd = a[3] == 'f';
    if (strlen(v) >= sizeof scratch ||
        smtp_xattrs_parse(fwd ? SMTP_XFORWARD : SMTP_XCLIENT, v, strlen(v), &x, scratch, sizeof scratch) != 0)
      return fwd ? usage_error(err, "bad --xforward (NAME=VALUE ... with XFORWARD's names, xtext values): %s", v)
                 : usage_error(err, "bad --xclient (NAME=VALUE ... with XCLIENT's names, xtext values): %s", v);
    if (fwd) o->xforward = v;
    else o->xclient = v;
    return 0;
  }
  if (!strcmp(a, "--proxy-header")) {
    const char *v = argv[*i];
    if (!strcmp(v, "v1")) o->proxy_version = 1;
    else if (!strcmp(v, "v2")) o->proxy_version = 2;
    else if (!strcmp(v, "v2-crc32c")) o->proxy_version = 2 | SMTP_DRIVER_PROXY_CRC32C;
    else return usage_error(err, "bad --proxy-header (v1, v2 or v2-crc32c): %s", v);
    return 0;
  }
  if (parse_endpoint(&o->proxy_source, argv[*i]) != 0)
    return usage_error(err, "bad --proxy-source (ADDR:PORT, [v6]:PORT): %s", argv[*i]);
  o->have_proxy_source = 1;
  return 0;
}

int send_parse_args(int argc, char **argv, send_opts *o, FILE *out, FILE *err) {
  int have_server = 0;
  memset(o, 0, sizeof *o);
  o->starttls = SMTP_CLIENT_STARTTLS_OPPORTUNISTIC;
  o->to = calloc((size_t)argc + 1, sizeof *o->to);
  o->mail_params = calloc((size_t)argc + 1, sizeof *o->mail_params);
  o->rcpt_params = calloc((size_t)argc + 1, sizeof *o->rcpt_params);
  if (!o->to || !o->mail_params || !o->rcpt_params) return usage_error(err, "%s", "out of memory");
  for (int i = 1; i < argc; i++) {
    int nr;
    const char *a = argv[i];
    const char *v = NULL;
#define NEEDS_VALUE()                                                      \
  do {                                                                     \
    if (i + 1 >= argc) return usage_error(err, "%s needs a value", a);     \
    v = argv[++i];                                                         \
  } while (0)
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(USAGE, out);
      return -1;
    } else if (strcmp(a, "--server") == 0) {
      NEEDS_VALUE();
      if (parse_server(o, v, err)) return SEND_EXIT_USAGE;
      have_server = 1;
    } else if (strcmp(a, "--from") == 0) {
      NEEDS_VALUE();
      o->from = v;
    } else if (strcmp(a, "--to") == 0) {
      NEEDS_VALUE();
      o->to[o->nto++] = v;
    } else if (strcmp(a, "--helo") == 0) {
      NEEDS_VALUE();
      o->helo = v;
    } else if (strcmp(a, "--starttls") == 0) {
      NEEDS_VALUE();
      if (strcmp(v, "required") == 0) o->starttls = SMTP_CLIENT_STARTTLS_REQUIRED;
      else if (strcmp(v, "opportunistic") == 0) o->starttls = SMTP_CLIENT_STARTTLS_OPPORTUNISTIC;
      else if (strcmp(v, "off") == 0) o->starttls = SMTP_CLIENT_STARTTLS_OFF;
      else return usage_error(err, "bad --starttls value: %s", v);
    } else if (strcmp(a, "--implicit-tls") == 0) {
      o->implicit_tls = 1;
    } else if (strcmp(a, "--ca-file") == 0) {
      NEEDS_VALUE();
      o->ca_file = v;
    } else if (strcmp(a, "--insecure") == 0) {
      o->insecure = 1;
    } else if (strcmp(a, "--tls-cert") == 0) {
      NEEDS_VALUE();
      o->tls_cert = v;
    } else if (strcmp(a, "--tls-key") == 0) {
      NEEDS_VALUE();
      o->tls_key = v;
    } else if (strcmp(a, "--tls-backend") == 0) {
      NEEDS_VALUE();
      if (strcmp(v, "mbedtls") != 0 && strcmp(v, "openssl") != 0)
        return usage_error(err, "--tls-backend takes mbedtls or openssl: %s", v);
      o->tls_backend = v;
    } else if (strcmp(a, "--tls-servername") == 0) {
      NEEDS_VALUE();
      o->servername = v;
    } else if (strcmp(a, "--auth") == 0) {
      const char *colon;
      NEEDS_VALUE();
      colon = strchr(v, ':');
      if (!colon || colon == v || !colon[1]) return usage_error(err, "bad --auth value (USER:PASS): %s", "");
      free(o->auth_user);
      free(o->auth_pass);
      o->auth_user = strndup(v, (size_t)(colon - v));
      o->auth_pass = strdup(colon + 1);
      if (!o->auth_user || !o->auth_pass) return usage_error(err, "%s", "out of memory");
    } else if (strcmp(a, "--auth-mech") == 0) {
      NEEDS_VALUE();
      o->auth_mech = smtp_sasl_mech_from_name(v, strlen(v));
      if (!o->auth_mech)
        return usage_error(err, "unsupported --auth-mech: %s", v);
    } else if (strcmp(a, "--allow-plaintext-auth") == 0) {
      o->allow_plaintext_auth = 1;
    } else if (strcmp(a, "--lmtp") == 0) {
      o->lmtp = 1;
    } else if (strcmp(a, "--no-pipelining") == 0) {
      o->no_pipelining = 1;
    } else if (strcmp(a, "--no-chunking") == 0) {
      o->no_chunking = 1;
    } else if (strcmp(a, "--no-8bitmime") == 0) {
      o->no_8bitmime = 1;
    } else if (strcmp(a, "--smtputf8") == 0) {
      o->smtputf8 = 1;
    } else if (strcmp(a, "--requiretls") == 0) {
      o->requiretls = 1;
    } else if (strcmp(a, "--dsn-notify") == 0) {
      NEEDS_VALUE();
      if (parse_notify(o, v, err)) return SEND_EXIT_USAGE;
    } else if (strcmp(a, "--dsn-ret") == 0) {
      NEEDS_VALUE();
      if (strcasecmp(v, "FULL") == 0) o->dsn_ret = SMTP_DSN_RET_FULL;
      else if (strcasecmp(v, "HDRS") == 0) o->dsn_ret = SMTP_DSN_RET_HDRS;
      else return usage_error(err, "bad --dsn-ret value: %s", v);
    } else if (strcmp(a, "--envid") == 0) {
      NEEDS_VALUE();
      o->envid = v;
    } else if (strcmp(a, "--trace") == 0) {
      o->trace = 1;
    } else if (strcmp(a, "--mail-param") == 0) {
      NEEDS_VALUE();
      o->mail_params[o->nmail_params++] = v;
    } else if (strcmp(a, "--rcpt-param") == 0) {
      NEEDS_VALUE();
      o->rcpt_params[o->nrcpt_params++] = v;
    } else if (strcmp(a, "--mt-priority") == 0) {
      char *end;
      long n;
      NEEDS_VALUE();
      errno = 0;
      n = strtol(v, &end, 10);
      /* RFC 6710 7: priority-value = (["-"] NZDIGIT) / "0" (no "+") */
      if (!*v || *v == '+' || *end || errno || n < -9 || n > 9)
        return usage_error(err, "bad --mt-priority value: %s", v);
      o->has_mt_priority = 1;
      o->mt_priority = (int)n;
    } else if (strcmp(a, "--deliver-by") == 0) {
      NEEDS_VALUE();
      o->deliver_by = v;
    } else if (strcmp(a, "--hold-for") == 0) {
      NEEDS_VALUE();
      o->hold_for = v;
    } else if (strcmp(a, "--hold-until") == 0) {
      NEEDS_VALUE();
      o->hold_until = v;
    } else if (strcmp(a, "--rrvs") == 0) {
      NEEDS_VALUE();
      o->rrvs = v;
    } else if (strcmp(a, "--timeout") == 0) {
      char *end;
      long n;
      NEEDS_VALUE();
      errno = 0;
      n = strtol(v, &end, 10);
      if (!*v || *end || errno || n < 1 || n > 86400) return usage_error(err, "bad --timeout value: %s", v);
      o->timeout_s = (int)n;
    } else if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (strcmp(a, "--mx") == 0) {
      o->mx = 1;
    } else if (strcmp(a, "--dane") == 0) {
      o->dane = 1;
    } else if (strcmp(a, "--mta-sts") == 0) {
      o->mta_sts = 1;
    } else if (strcmp(a, "--resolver") == 0) {
      NEEDS_VALUE();
      if (check_resolver(v, err)) return SEND_EXIT_USAGE;
      o->resolver = v;
    } else if (strcmp(a, "--dnssec-anchor") == 0) {
      NEEDS_VALUE();
      if (!*v) return usage_error(err, "%s", "bad --dnssec-anchor value");
      o->dnssec_anchor = v;
    } else if (strcmp(a, "--port") == 0) {
      NEEDS_VALUE();
      if (parse_port(v, &o->mx_port, "--port", err)) return SEND_EXIT_USAGE;
    } else if (strcmp(a, "--mta-sts-port") == 0) {
      NEEDS_VALUE();
      if (parse_port(v, &o->mta_sts_port, "--mta-sts-port", err)) return SEND_EXIT_USAGE;
    } else if ((nr = parse_net_opt(o, argc, argv, &i, err)) >= 0) {
      if (nr) return nr;
    } else if (a[0] == '-' && a[1] != '\0') {
      return usage_error(err, "unknown option: %s", a);
    } else {
      if (o->file) return usage_error(err, "more than one FILE: %s", a);
      o->file = a;
    }
#undef NEEDS_VALUE
  }
  if (o->mx && have_server) return usage_error(err, "%s", "--mx and --server exclude each other");
  if (!o->mx && (o->dane || o->mta_sts || o->mx_port || o->mta_sts_port))
    return usage_error(err, "%s", "--dane, --mta-sts and --port need --mx");
  if (!o->mx && !have_server) return usage_error(err, "%s", "--server is required");
  if (!o->from) return usage_error(err, "%s", "--from is required (--from '' for <>)");
  if (o->nto == 0) return usage_error(err, "%s", "at least one --to is required");
  if (!!o->tls_cert != !!o->tls_key) return usage_error(err, "%s", "--tls-cert and --tls-key go together");
  if (o->mx && mx_domain(o, err)) return SEND_EXIT_USAGE;
  if (o->mx && !o->mx_port) o->mx_port = 25;
  if (!o->servername && !o->mx) o->servername = o->host;
  if (o->have_proxy_source && !o->proxy_version)
    return usage_error(err, "%s", "--proxy-source needs --proxy-header");
  return send_check_inputs(o, err);
}

void send_opts_free(send_opts *o) {
  free(o->to);
  free(o->mail_params);
  free(o->rcpt_params);
  free(o->auth_user);
  if (o->auth_pass) {
    memset(o->auth_pass, 0, strlen(o->auth_pass));
    free(o->auth_pass);
  }
  memset(o, 0, sizeof *o);
}

int send_read_message(const char *file, char **buf, size_t *len, FILE *err) {
  FILE *f = stdin;
  size_t cap = 65536, n = 0;
  char *b;
  if (file && strcmp(file, "-") != 0) {
    f = fopen(file, "rb");
    if (!f) {
      fprintf(err, "smtp-send: cannot open %s\n", file);
      return -1;
    }
  }
  b = malloc(cap);
  if (!b) return -1;
  for (;;) {
    size_t r;
    if (n == cap) {
      char *nb = realloc(b, cap * 2);
      if (!nb) {
        free(b);
        if (f != stdin) fclose(f);
        fputs("smtp-send: out of memory\n", err);
        return -1;
      }
      b = nb;
      cap *= 2;
    }
    r = fread(b + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f)) {
    fputs("smtp-send: cannot read the message\n", err);
    free(b);
    if (f != stdin) fclose(f);
    return -1;
  }
  if (f != stdin) fclose(f);
  *buf = b;
  *len = n;
  return 0;
}

/* ---- building ---- */

/* Echo a command-line value without its control characters. */
static const char *clean(const char *s) {
  static char buf[512];
  size_t i;
  for (i = 0; s[i] && i < sizeof buf - 1; i++) {
    unsigned char ch = (unsigned char)s[i];
    buf[i] = (char)(ch < 0x20 || ch == 0x7f ? '?' : ch);
  }
  buf[i] = 0;
  return buf;
}

/* Split "K[=V]" and add it as a MAIL (@p rcpt 0) or RCPT parameter. */
static int add_param(smtp_client_txn *t, int rcpt, const char *kv, const char *opt, FILE *err) {
  char buf[1100];
  char *eq;
  int rc;
  if (strlen(kv) >= sizeof buf) {
    fprintf(err, "smtp-send: bad %s value: too long (see --help)\n", opt);
    return SEND_EXIT_USAGE;
  }
  strcpy(buf, kv);
  eq = strchr(buf, '=');
  if (eq) *eq++ = '\0';
  rc = rcpt ? smtp_client_txn_add_rcpt_param(t, SMTP_CLIENT_ALL_RCPTS, buf, eq)
            : smtp_client_txn_add_mail_param(t, buf, eq);
  if (rc != SMTP_OK) {
    fprintf(err, "smtp-send: bad %s value: %s (%s) (see --help)\n", opt, clean(kv), smtp_strerror(rc));
    return SEND_EXIT_USAGE;
  }
  return 0;
}

/* The extension options and the extra parameters (docs/examples.md);
 * every value is checked by the library's parameter table. */
static int fill_params(smtp_client_txn *t, const send_opts *o, FILE *err) {
  char kv[128];
  int rc;
  if (o->has_mt_priority) {
    rc = smtp_client_txn_set_mt_priority(t, o->mt_priority);
    if (rc != SMTP_OK) {
      fprintf(err, "smtp-send: bad --mt-priority value (%s) (see --help)\n", smtp_strerror(rc));
      return SEND_EXIT_USAGE;
    }
  }
#define KV(opt, key, val)                                              \
  do {                                                                 \
    if (strlen(val) + sizeof key + 1 > sizeof kv) {                    \
      fprintf(err, "smtp-send: bad %s value: too long (see --help)\n", opt); \
      return SEND_EXIT_USAGE;                                          \
    }                                                                  \
    snprintf(kv, sizeof kv, "%s=%s", key, val);                        \
  } while (0)
  if (o->deliver_by) {
    KV("--deliver-by", "BY", o->deliver_by);
    if ((rc = add_param(t, 0, kv, "--deliver-by", err)) != 0) return rc;
  }
  if (o->hold_for) {
    KV("--hold-for", "HOLDFOR", o->hold_for);
    if ((rc = add_param(t, 0, kv, "--hold-for", err)) != 0) return rc;
  }
  if (o->hold_until) {
    KV("--hold-until", "HOLDUNTIL", o->hold_until);
    if ((rc = add_param(t, 0, kv, "--hold-until", err)) != 0) return rc;
  }
  if (o->rrvs) {
    KV("--rrvs", "RRVS", o->rrvs);
    if ((rc = add_param(t, 1, kv, "--rrvs", err)) != 0) return rc;
  }
#undef KV
  for (size_t i = 0; i < o->nmail_params; i++)
    if ((rc = add_param(t, 0, o->mail_params[i], "--mail-param", err)) != 0) return rc;
  for (size_t i = 0; i < o->nrcpt_params; i++)
    if ((rc = add_param(t, 1, o->rcpt_params[i], "--rcpt-param", err)) != 0) return rc;
  return 0;
}

/* Random bytes for SCRAM nonces (RFC 5802 5.1): the kernel's generator,
 * /dev/urandom when getrandom(2) is not there. */
static int random_bytes(void *buf, size_t len, void *ud) {
  unsigned char *p = buf;
  (void)ud;
  while (len) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
      if (fd < 0) return -1;
      while (len) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          close(fd);
          return -1;
        }
        p += r;
        len -= (size_t)r;
      }
      close(fd);
      return 0;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int fill_txn(smtp_client_txn *t, const send_opts *o, FILE *err) {
  int rc = smtp_client_txn_set_from(t, o->from, strlen(o->from));
  if (rc != SMTP_OK) {
    fprintf(err, "smtp-send: bad --from address: %s (%s)\n", clean(o->from), smtp_strerror(rc));
    return SEND_EXIT_USAGE;
  }
  for (size_t i = 0; i < o->nto; i++) {
    /* RFC 3461 4.2: with NOTIFY, the original recipient goes along as
     * ORCPT=rfc822;<addr> (xtext-encoded by the library). */
    const char *orcpt = o->dsn_notify ? o->to[i] : NULL;
    size_t olen = orcpt ? strlen(orcpt) : 0;
    smtp_ssize r;
    if (orcpt && olen >= 2 && orcpt[0] == '<' && orcpt[olen - 1] == '>') {
      orcpt++;
      olen -= 2;
    }
    if (orcpt && olen == 0) orcpt = NULL; /* nothing to record */
    r = smtp_client_txn_add_rcpt(t, o->to[i], strlen(o->to[i]), o->dsn_notify, orcpt, olen);
    if (r < 0) {
      fprintf(err, "smtp-send: bad --to address: %s (%s)\n", clean(o->to[i]), smtp_strerror((int)r));
      return SEND_EXIT_USAGE;
    }
  }
  if (o->dsn_ret || o->envid) {
    rc = smtp_client_txn_set_dsn(t, o->dsn_ret, o->envid, o->envid ? strlen(o->envid) : 0);
    if (rc != SMTP_OK) {
      fprintf(err, "smtp-send: bad --envid value (%s)\n", smtp_strerror(rc));
      return SEND_EXIT_USAGE;
    }
  }
  if (o->requiretls) smtp_client_txn_set_requiretls(t, 1);
  return fill_params(t, o, err);
}

static int fill_options(smtp_client_options *opt, const send_opts *o, const char *helo, FILE *err) {
  int rc;
  unsigned int disabled = 0;
  if (helo) {
    rc = smtp_client_options_set_ehlo_name(opt, helo);
    if (rc != SMTP_OK) {
      fprintf(err, "smtp-send: bad --helo name: %s (%s)\n", clean(helo), smtp_strerror(rc));
      return SEND_EXIT_USAGE;
    }
  }
  smtp_client_options_set_lmtp(opt, o->lmtp);
  smtp_client_options_set_starttls(opt, o->implicit_tls ? SMTP_CLIENT_STARTTLS_OFF : o->starttls);
  /* SCRAM nonces come from the application (the library reads no device). */
  smtp_client_options_set_random(opt, random_bytes, NULL);
  if (!o->auth_user && o->auth_mech == SMTP_SASL_EXTERNAL) {
    rc = smtp_client_options_set_auth_mechanism(opt, SMTP_SASL_EXTERNAL);
    if (rc != SMTP_OK) return SEND_EXIT_USAGE;
  }
  if (o->auth_user) {
    int oauth = o->auth_mech == SMTP_SASL_XOAUTH2 || o->auth_mech == SMTP_SASL_OAUTHBEARER;
    rc = oauth ? smtp_client_options_set_oauth_token(opt, o->auth_user, o->auth_pass)
               : smtp_client_options_set_credentials(opt, NULL, o->auth_user, o->auth_pass);
    if (rc != SMTP_OK) {
      fprintf(err, "smtp-send: bad --auth value (%s)\n", smtp_strerror(rc));
      return SEND_EXIT_USAGE;
    }
    if (o->auth_mech) {
      rc = smtp_client_options_set_auth_mechanism(opt, o->auth_mech);
      if (rc != SMTP_OK) {
        fprintf(err, "smtp-send: --auth-mech %s is not available in this build\n",
                smtp_sasl_mech_name(o->auth_mech));
        return SEND_EXIT_USAGE;
      }
    }
  }
  smtp_client_options_set_allow_plaintext_auth(opt, o->allow_plaintext_auth);
  if (o->timeout_s) smtp_client_options_set_timeout(opt, SMTP_CLIENT_TIMEOUT_ALL, o->timeout_s * 1000);
  if (o->no_pipelining) disabled |= SMTP_EXT_PIPELINING;
  if (o->no_chunking) disabled |= SMTP_EXT_CHUNKING;
  if (o->no_8bitmime) disabled |= SMTP_EXT_8BITMIME;
  smtp_client_options_set_disabled_extensions(opt, disabled);
  smtp_client_options_set_require_smtputf8(opt, o->smtputf8);
  if (o->xclient) {
    smtp_xattrs x;
    char scratch[SMTP_COMMAND_LINE_MAX];
    if (smtp_xattrs_parse(SMTP_XCLIENT, o->xclient, strlen(o->xclient), &x, scratch, sizeof scratch) != 0 ||
        smtp_client_options_set_xclient(opt, &x) != 0) {
      fprintf(err, "smtp-send: bad --xclient: %s\n", o->xclient);
      return SEND_EXIT_USAGE;
    }
  }
  if (o->xforward) {
    smtp_xattrs x;
    char scratch[SMTP_COMMAND_LINE_MAX];
    if (smtp_xattrs_parse(SMTP_XFORWARD, o->xforward, strlen(o->xforward), &x, scratch, sizeof scratch) != 0 ||
        smtp_client_options_set_xforward(opt, &x) != 0) {
      fprintf(err, "smtp-send: bad --xforward: %s\n", o->xforward);
      return SEND_EXIT_USAGE;
    }
  }
  return 0;
}

int send_check_inputs(const send_opts *o, FILE *err) {
  smtp_client_options *opt = NULL;
  smtp_client_txn *t = NULL;
  int rc = SEND_EXIT_USAGE;
  if (smtp_client_options_new(&opt, NULL) != SMTP_OK || smtp_client_txn_new(&t, NULL) != SMTP_OK) {
    fputs("smtp-send: out of memory\n", err);
    goto out;
  }
  if (fill_txn(t, o, err) || fill_options(opt, o, o->helo, err)) goto out;
  rc = 0;
out:
  smtp_client_txn_del(t);
  smtp_client_options_del(opt);
  return rc;
}

/* ---- output ---- */

/* Bytes from the network on a terminal or a log: escaped with
 * smtp_escape_text() (control bytes, C1 and direction controls, invalid
 * UTF-8), never raw. */
void send_app_print_escaped(FILE *f, const char *prefix, const char *p, size_t n, int newline) {
  char stack[2048];
  char *buf = stack;
  size_t need = smtp_escape_text(stack, sizeof stack, p, n);
  if (need >= sizeof stack) {
    buf = malloc(need + 1);
    if (buf) smtp_escape_text(buf, need + 1, p, n);
    else buf = stack; /* the truncated text, still escaped */
  }
  fprintf(f, "%s%s%s", prefix, buf, newline ? "\n" : "");
  if (buf != stack) free(buf);
}

static void print_reply_tail(FILE *f, const smtp_reply *r) {
  char ec[32] = "-";
  if (r->has_enhanced) smtp_enhanced_code_format(&r->enhanced, ec, sizeof ec);
  fprintf(f, "%d %s", r->code, ec);
  for (size_t i = 0; i < r->nlines; i++) {
    const smtp_span *l = &r->lines[i];
    /* the text as sent, escaped (it came from the network) */
    send_app_print_escaped(f, " ", l->ptr, l->len, 0);
  }
  fputc('\n', f);
}

/* ---- --json ---- */

static void js_put(char **b, size_t *n, const char *s, size_t l) {
  char *nb = realloc(*b, *n + l + 1);
  if (!nb) return;
  memcpy(nb + *n, s, l);
  *n += l;
  nb[*n] = '\0';
  *b = nb;
}

/* A JSON string: quotes, backslash and controls escaped, other bytes kept
 * only when printable ASCII (text from the network). */
static void js_str(char **b, size_t *n, const char *s, size_t l) {
  js_put(b, n, "\"", 1);
  for (size_t i = 0; i < l; i++) {
    unsigned char ch = (unsigned char)s[i];
    char e[8];
    if (ch == '"' || ch == '\\') {
      e[0] = '\\';
      e[1] = (char)ch;
      js_put(b, n, e, 2);
    } else if (ch < 0x20 || ch >= 0x7f) {
      snprintf(e, sizeof e, "\\u%04x", ch);
      js_put(b, n, e, 6);
    } else {
      js_put(b, n, (const char *)&s[i], 1);
    }
  }
  js_put(b, n, "\"", 1);
}

/* "code":N,"enhanced":"x.y.z"|null,"text":"..." of a reply. */
static void js_reply(char **b, size_t *n, const smtp_reply *r) {
  char t[64];
  snprintf(t, sizeof t, "\"code\":%d,\"enhanced\":", r->code);
  js_put(b, n, t, strlen(t));
  if (r->has_enhanced) {
    smtp_enhanced_code_format(&r->enhanced, t, sizeof t);
    js_str(b, n, t, strlen(t));
  } else {
    js_put(b, n, "null", 4);
  }
  js_put(b, n, ",\"text\":", 8);
  {
    char *txt = NULL;
    size_t tl = 0;
    for (size_t i = 0; i < r->nlines; i++) {
      if (i) js_put(&txt, &tl, " ", 1);
      js_put(&txt, &tl, r->lines[i].ptr, r->lines[i].len);
    }
    js_str(b, n, txt ? txt : "", tl);
    free(txt);
  }
}

static const char *rcpt_addr(const send_app *a, size_t index) {
  return index < a->o->nto ? a->o->to[index] : "?";
}

static void json_event(send_app *a, const smtp_client_event *ev) {
  switch (ev->type) {
  case SMTP_CLIENT_EVENT_MAIL:
    if (ev->reply && ev->reply->code / 100 != 2) {
      size_t n = 0;
      a->mail_refused = 1;
      js_put(&a->json_mail, &n, "{", 1);
      js_reply(&a->json_mail, &n, ev->reply);
      js_put(&a->json_mail, &n, "}", 1);
    }
    break;
  case SMTP_CLIENT_EVENT_RCPT:
    if (a->mail_refused || !ev->reply) break;
    js_put(&a->json_rcpts, &a->json_rcpts_len, a->json_rcpts_len ? ",{\"addr\":" : "{\"addr\":",
           a->json_rcpts_len ? 9 : 8);
    js_str(&a->json_rcpts, &a->json_rcpts_len, rcpt_addr(a, ev->index), strlen(rcpt_addr(a, ev->index)));
    js_put(&a->json_rcpts, &a->json_rcpts_len, ",", 1);
    js_reply(&a->json_rcpts, &a->json_rcpts_len, ev->reply);
    js_put(&a->json_rcpts, &a->json_rcpts_len, "}", 1);
    break;
  case SMTP_CLIENT_EVENT_DATA:
    if (a->mail_refused || !ev->reply) break;
    js_put(&a->json_data, &a->json_data_len, a->json_data_len ? ",{" : "{", a->json_data_len ? 2 : 1);
    if (ev->index != SMTP_CLIENT_NO_INDEX) {
      js_put(&a->json_data, &a->json_data_len, "\"addr\":", 7);
      js_str(&a->json_data, &a->json_data_len, rcpt_addr(a, ev->index), strlen(rcpt_addr(a, ev->index)));
      js_put(&a->json_data, &a->json_data_len, ",", 1);
    }
    js_reply(&a->json_data, &a->json_data_len, ev->reply);
    js_put(&a->json_data, &a->json_data_len, "}", 1);
    break;
  default:
    break;
  }
}

/* The connection ended before the server answered the data for every
 * accepted recipient (LMTP: one reply each, RFC 2033 4.2) or for the
 * message (SMTP): each missing answer still gets its line, with the local
 * failure: `DATA <addr> 421 - connection lost` (LMTP), `DATA 421 -
 * connection lost` (SMTP); "timeout" instead when a deadline passed, else
 * the library's description of the error. */
static void print_missing_data_lines(send_app *a, int error) {
  const char *why;
  if (a->missing_done || !a->body_started || a->mail_refused || a->o->json) return;
  a->missing_done = 1;
  why = error == SMTP_ERR_TIMEOUT ? "timeout"
        : (error == 0 || error == SMTP_ERR_CONNECTION_LOST || error == SMTP_ERR_EOF ||
           error == SMTP_ERR_CLOSED || error == SMTP_ERR_IO || error == SMTP_ERR_TEMPFAIL ||
           error == SMTP_ERR_SERVICE_UNAVAILABLE)
            ? "connection lost"
            : smtp_strerror(error);
  if (a->o->lmtp) {
    for (size_t i = 0; i < a->o->nto && a->rcpt_state; i++)
      if (a->rcpt_state[i] == 1) {
        fprintf(a->out, "DATA %s 421 - %s\n", rcpt_addr(a, i), why);
        a->rcpt_state[i] = 2;
        a->printed = 1;
      }
  } else if (!a->data_line) {
    int any = 0;
    for (size_t i = 0; i < a->o->nto && a->rcpt_state; i++) any |= a->rcpt_state[i] != 0;
    if (any) {
      fprintf(a->out, "DATA 421 - %s\n", why);
      a->data_line = 1;
      a->printed = 1;
    }
  }
}

int send_app_on_event(smtp_client_session *c, const smtp_client_event *ev, void *ud) {
  send_app *a = ud;
  (void)c;
  if (a->o->json &&
      (ev->type == SMTP_CLIENT_EVENT_MAIL || ev->type == SMTP_CLIENT_EVENT_RCPT ||
       ev->type == SMTP_CLIENT_EVENT_DATA)) {
    json_event(a, ev);
    return 0;
  }
  switch (ev->type) {
  case SMTP_CLIENT_EVENT_MAIL:
    if (ev->reply) a->txn_started = 1;
    if (ev->reply && ev->reply->code / 100 != 2) {
      a->mail_refused = 1;
      fputs("MAIL ", a->out);
      print_reply_tail(a->out, ev->reply);
      a->printed = 1;
    }
    break;
  case SMTP_CLIENT_EVENT_RCPT:
    if (a->mail_refused || !ev->reply) break;
    fprintf(a->out, "RCPT %s ", rcpt_addr(a, ev->index));
    print_reply_tail(a->out, ev->reply);
    a->printed = 1;
    if (ev->reply->code / 100 == 2 && a->rcpt_state && ev->index < a->o->nto) a->rcpt_state[ev->index] = 1;
    break;
  case SMTP_CLIENT_EVENT_BODY_START:
    a->body_started = 1;
    break;
  case SMTP_CLIENT_EVENT_DATA:
    if (a->mail_refused || !ev->reply) break;
    if (ev->index != SMTP_CLIENT_NO_INDEX) {
      fprintf(a->out, "DATA %s ", rcpt_addr(a, ev->index));
      if (a->rcpt_state && ev->index < a->o->nto) a->rcpt_state[ev->index] = 2;
    } else {
      fputs("DATA ", a->out);
      a->data_line = 1;
    }
    print_reply_tail(a->out, ev->reply);
    a->printed = 1;
    break;
  case SMTP_CLIENT_EVENT_AUTH:
    if (ev->error) {
      if (ev->reply) {
        fprintf(a->err, "smtp-send: authentication failed: ");
        print_reply_tail(a->err, ev->reply);
      } else {
        fprintf(a->err, "smtp-send: authentication not possible: %s\n", smtp_strerror(ev->error));
      }
      a->printed = 1;
    }
    break;
  case SMTP_CLIENT_EVENT_TXN_DONE:
    a->got_result = 1;
    a->result = ev->result;
    break;
  case SMTP_CLIENT_EVENT_CLOSED:
    a->closed_error = ev->error;
    print_missing_data_lines(a, ev->error);
    break;
  default:
    break;
  }
  fflush(a->out);
  return 0;
}

static void on_trace(smtp_client_session *c, int dir, const char *line, size_t len, void *ud) {
  send_app *a = ud;
  (void)c;
  char prefix[4] = {(char)dir, ':', ' ', 0};
  if (!a->o->trace) return;
  send_app_print_escaped(a->err, prefix, line, len, 1);
}

int send_app_init(send_app *a, const send_opts *o, const char *default_helo, const char *msg,
                  size_t msglen, FILE *out, FILE *err) {
  int rc;
  memset(a, 0, sizeof *a);
  a->o = o;
  a->out = out;
  a->err = err;
  if (smtp_client_options_new(&a->opt, NULL) != SMTP_OK || smtp_client_txn_new(&a->txn, NULL) != SMTP_OK ||
      smtp_client_callbacks_new(&a->cbs, NULL) != SMTP_OK) {
    fputs("smtp-send: out of memory\n", err);
    return SEND_EXIT_NONE;
  }
  rc = fill_options(a->opt, o, o->helo ? o->helo : default_helo, err);
  if (rc) return rc;
  if ((rc = fill_txn(a->txn, o, err)) != 0) return rc;
  /* docs/examples.md: bare CR/LF become CRLF; NUL, long lines, 8-bit without
   * 8BITMIME fail before any of the message is sent. */
  smtp_client_txn_set_body(a->txn, msg, msglen);
  smtp_client_callbacks_set_event(a->cbs, send_app_on_event);
  smtp_client_callbacks_set_trace(a->cbs, on_trace);
  a->rcpt_state = calloc(o->nto ? o->nto : 1, 1);
  if (!a->rcpt_state) {
    fputs("smtp-send: out of memory\n", err);
    return SEND_EXIT_NONE;
  }
  return 0;
}

/* --json: one object on stdout (docs/examples.md). */
static void json_print(send_app *a, int status, int exit_code) {
  char *b = NULL;
  size_t n = 0;
  char t[64];
  js_put(&b, &n, "{\"mail\":", 8);
  if (a->json_mail) js_put(&b, &n, a->json_mail, strlen(a->json_mail));
  else js_put(&b, &n, "null", 4);
  js_put(&b, &n, ",\"rcpts\":[", 10);
  if (a->json_rcpts) js_put(&b, &n, a->json_rcpts, a->json_rcpts_len);
  js_put(&b, &n, "],\"data\":", 9);
  if (!a->json_data) js_put(&b, &n, "null", 4);
  else if (a->o->lmtp) {
    js_put(&b, &n, "[", 1);
    js_put(&b, &n, a->json_data, a->json_data_len);
    js_put(&b, &n, "]", 1);
  } else {
    js_put(&b, &n, a->json_data, a->json_data_len);
  }
  js_put(&b, &n, ",\"tls\":", 7);
  if (a->have_tls) {
    js_put(&b, &n, "{\"version\":", 11);
    js_str(&b, &n, a->tls_protocol, strlen(a->tls_protocol));
    js_put(&b, &n, ",\"cipher\":", 10);
    js_str(&b, &n, a->tls_cipher, strlen(a->tls_cipher));
    js_put(&b, &n, a->tls_verified ? ",\"verified\":true}" : ",\"verified\":false}",
           a->tls_verified ? 17 : 18);
  } else {
    js_put(&b, &n, "null", 4);
  }
  js_put(&b, &n, ",\"error\":", 9);
  if (status && status != SMTP_ERR_REJECTED && status != SMTP_ERR_TEMPFAIL) {
    const char *e = smtp_strerror(status);
    js_str(&b, &n, e, strlen(e));
  } else {
    js_put(&b, &n, "null", 4);
  }
  snprintf(t, sizeof t, ",\"exit\":%d}\n", exit_code);
  js_put(&b, &n, t, strlen(t));
  if (b) fputs(b, a->out);
  fflush(a->out);
  free(b);
}

void send_app_free(send_app *a) {
  free(a->json_rcpts);
  free(a->json_data);
  free(a->json_mail);
  a->json_rcpts = a->json_data = a->json_mail = NULL;
  smtp_client_txn_del(a->txn);
  smtp_client_options_del(a->opt);
  smtp_client_callbacks_del(a->cbs);
  free(a->rcpt_state);
  a->rcpt_state = NULL;
  a->txn = NULL;
  a->opt = NULL;
  a->cbs = NULL;
}

static int finish_lines(send_app *a);

int send_app_finish(send_app *a) {
  int rc;
  FILE *out = a->out;
  if (a->o->json) {
    int status = a->got_result ? a->result.status : a->closed_error;
    if (a->tls_error) status = a->tls_error;
    if (status == 0) status = a->closed_error;
    a->printed = 1; /* the object explains it */
    rc = finish_lines(a);
    json_print(a, a->got_result && a->result.ndelivered > 0 ? 0 : status, rc);
    a->out = out;
    return rc;
  }
  return finish_lines(a);
}

static int finish_lines(send_app *a) {
  int status;
  print_missing_data_lines(a, a->closed_error);
  if (a->got_result && a->result.ndelivered > 0) {
    if (a->result.ndelivered == a->result.nrcpt) return SEND_EXIT_ALL;
    return SEND_EXIT_SOME;
  }
  status = a->got_result ? a->result.status : a->closed_error;
  if (a->tls_error) status = a->tls_error;
  /* A failure that no printed reply explains gets one line on stderr. */
  if (status != SMTP_ERR_REJECTED && status != SMTP_ERR_TEMPFAIL) {
    if (status == SMTP_OK || status == 0) status = a->closed_error;
    if (status != 0 && !(a->printed && (status <= SMTP_ERR_AUTH_FAILED && status >= SMTP_ERR_PLAINTEXT_AUTH)))
      fprintf(a->err, "smtp-send: %s%s%s\n", smtp_strerror(status), a->detail[0] ? " " : "", a->detail);
  } else if (!a->printed) {
    fprintf(a->err, "smtp-send: %s\n", smtp_strerror(a->closed_error ? a->closed_error : status));
  }
  return SEND_EXIT_NONE;
}
