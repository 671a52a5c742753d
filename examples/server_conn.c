/* smtp-server's connection-level options: the PROXY protocol behind a
 * load balancer, trusted proxies, XCLIENT/XFORWARD, and the per-client
 * limits (concurrent sessions and new sessions per minute per address),
 * counted on the address the session reports (the PROXY header's, when
 * there is one), so one address cannot take every slot. */
#include "server_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char server_conn_usage[] =
    "  --proxy-protocol        every connection begins with a PROXY header (v1 or v2) from a\n"
    "                          --trusted-proxy source; else it is closed without a greeting\n"
    "  --trusted-proxy CIDR    sources allowed to send PROXY headers, XCLIENT, XFORWARD (repeatable)\n"
    "  --xclient, --xforward   offer XCLIENT / XFORWARD to --trusted-proxy clients\n"
    "  --max-per-ip N          concurrent sessions per client address, per worker (default 50; 0: none)\n"
    "  --rate-per-ip N         new sessions per client address per minute, per worker (default 0: none)\n"
    "  --workers N             N processes serving the same sockets (SO_REUSEPORT; default 1)\n";

void server_conn_defaults(server_app_config *cfg) {
  memset(&cfg->net, 0, sizeof cfg->net);
  cfg->net.max_per_ip = 50;
  cfg->net.workers = 1;
}

static int bad(const char *msg, const char *arg) {
  fprintf(stderr, "smtp-server: %s: %s (see --help)\n", msg, arg ? arg : "");
  return 64;
}

static int num(const char *v, unsigned long max, unsigned int *out) {
  unsigned long n = 0;
  if (!v || !*v) return -1;
  for (; *v; v++) {
    if (*v < '0' || *v > '9') return -1;
    n = n * 10 + (unsigned long)(*v - '0');
    if (n > max) return -1;
  }
  *out = (unsigned int)n;
  return 0;
}

int server_conn_parse_opt(server_app_config *cfg, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
  server_app_net *n = &cfg->net;
  if (!strcmp(a, "--proxy-protocol")) {
    n->proxy_protocol = 1;
    return 0;
  }
  if (!strcmp(a, "--xclient")) {
    n->xclient = 1;
    return 0;
  }
  if (!strcmp(a, "--xforward")) {
    n->xforward = 1;
    return 0;
  }
  if (strcmp(a, "--trusted-proxy") && strcmp(a, "--max-per-ip") && strcmp(a, "--rate-per-ip") &&
      strcmp(a, "--workers"))
    return -1;
  if (!v) return bad("option needs a value", a);
  (*i)++;
  if (!strcmp(a, "--trusted-proxy")) {
    smtp_cidr_list *probe;
    const char **nv;
    int r;
    if (smtp_cidr_list_new(&probe, NULL) != 0) return bad("out of memory", a);
    r = smtp_cidr_list_add(probe, v);
    smtp_cidr_list_del(probe);
    if (r != 0) return bad("bad --trusted-proxy (ADDR or ADDR/PREFIX, IPv4 or IPv6)", v);
    nv = realloc(n->trusted, (n->ntrusted + 1) * sizeof *nv);
    if (!nv) return bad("out of memory", a);
    n->trusted = nv;
    n->trusted[n->ntrusted++] = v;
    return 0;
  }
  if (!strcmp(a, "--max-per-ip")) return num(v, 1000000, &n->max_per_ip) ? bad("bad --max-per-ip", v) : 0;
  if (!strcmp(a, "--rate-per-ip")) return num(v, 1000000, &n->rate_per_ip) ? bad("bad --rate-per-ip", v) : 0;
  if (num(v, 256, &n->workers) || n->workers == 0) return bad("bad --workers (1..256)", v);
  return 0;
}

int server_conn_check(const server_app_config *cfg) {
  const server_app_net *n = &cfg->net;
  if ((n->proxy_protocol || n->xclient || n->xforward) && n->ntrusted == 0)
    return bad("--proxy-protocol, --xclient and --xforward need --trusted-proxy", NULL);
  if (n->workers > 1 && cfg->stdio) return bad("--workers needs TCP (not --stdio)", NULL);
  return 0;
}

int server_conn_prepare(server_app_config *cfg) {
  server_app_net *n = &cfg->net;
  if (smtp_cidr_list_new(&n->trusted_list, NULL) != 0) return 1;
  for (size_t i = 0; i < n->ntrusted; i++)
    if (smtp_cidr_list_add(n->trusted_list, n->trusted[i]) != 0) return 1;
  return 0;
}

void server_conn_free(server_app_config *cfg) {
  smtp_cidr_list_del(cfg->net.trusted_list);
  free((void *)cfg->net.trusted);
  cfg->net.trusted_list = NULL;
  cfg->net.trusted = NULL;
}

/* ---- per-client counters: a small hash table, one per process ---- */

typedef struct ip_slot {
  struct ip_slot *next;
  uint16_t family;
  uint8_t addr[16];
  unsigned int active;     /* sessions now */
  unsigned int in_window;  /* sessions started in the current minute */
  time_t window;           /* the minute's start */
} ip_slot;

#define IP_BUCKETS 4096
static ip_slot *buckets[IP_BUCKETS];

static unsigned int hash_ep(const smtp_endpoint *e) {
  unsigned int h = 2166136261u ^ e->family;
  for (int i = 0; i < 16; i++) h = (h ^ e->addr[i]) * 16777619u;
  return h % IP_BUCKETS;
}

static ip_slot **find(const smtp_endpoint *e) {
  ip_slot **pp = &buckets[hash_ep(e)];
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->family == e->family && memcmp((*pp)->addr, e->addr, 16) == 0) break;
  return pp;
}

static void maybe_free(ip_slot *s, time_t now) {
  smtp_endpoint e;
  ip_slot **pp;
  if (s->active || (s->in_window && now - s->window < 60)) return;
  memset(&e, 0, sizeof e);
  e.family = s->family;
  memcpy(e.addr, s->addr, 16);
  pp = find(&e);
  if (*pp == s) {
    *pp = s->next;
    free(s);
  }
}

static int at_greeting = 1; /* refuse() answers the greeting, else an EHLO */

static int refuse(smtp_server_session *s, const char *why) {
  /* a greeting carries no enhanced code field (RFC 2034 3): it goes in the
   * text; the reply to EHLO has one */
  if (at_greeting) smtp_server_session_reply(s, 421, NULL, why);
  else smtp_server_session_reply(s, 421, "4.7.0", why + 6);
  return 1;
}

int server_conn_admit(const server_app_config *cfg, smtp_server_session *s, void **slot) {
  const server_app_net *n = &cfg->net;
  smtp_endpoint e;
  ip_slot **pp, *sl;
  time_t now = time(NULL);
  *slot = NULL;
  if ((n->xclient || n->xforward) && smtp_server_session_addr(s, SMTP_ADDR_CLIENT, &e) == 0 &&
      smtp_cidr_list_match(n->trusted_list, &e)) {
    smtp_server_session_allow_xclient(s, (n->xclient ? SMTP_XCLIENT : 0u) | (n->xforward ? SMTP_XFORWARD : 0u));
    /* a proxy that may send XCLIENT is not the client: the limits count
     * the client it announces, at its EHLO (server_conn_admit_xclient()) */
    if (n->xclient) return 0;
  }
  if (!n->max_per_ip && !n->rate_per_ip) return 0;
  if (smtp_server_session_addr(s, SMTP_ADDR_CLIENT, &e) != 0 ||
      (e.family != SMTP_AF_INET && e.family != SMTP_AF_INET6))
    return 0; /* no address to count (a pipe, a UNIX socket) */
  e.origin = 0;
  e.port = 0;
  pp = find(&e);
  sl = *pp;
  if (!sl) {
    sl = calloc(1, sizeof *sl);
    if (!sl) return 0;
    sl->family = e.family;
    memcpy(sl->addr, e.addr, 16);
    sl->window = now;
    *pp = sl;
  }
  if (now - sl->window >= 60) {
    sl->window = now;
    sl->in_window = 0;
  }
  if (n->max_per_ip && sl->active >= n->max_per_ip)
    return refuse(s, "4.7.0 Too many connections from your address, try again later");
  if (n->rate_per_ip && sl->in_window >= n->rate_per_ip)
    return refuse(s, "4.7.0 Too many new connections from your address, slow down");
  sl->active++;
  if (n->rate_per_ip) sl->in_window++;
  *slot = sl;
  return 0;
}

int server_conn_admit_xclient(const server_app_config *cfg, smtp_server_session *s, void **slot) {
  smtp_endpoint e;
  int r;
  if (*slot || !cfg->net.xclient || smtp_server_session_addr(s, SMTP_ADDR_CLIENT, &e) != 0 ||
      e.origin != SMTP_ORIGIN_XCLIENT)
    return 0;
  at_greeting = 0;
  r = server_conn_admit(cfg, s, slot);
  at_greeting = 1;
  return r;
}

void server_conn_release(void *slot) {
  ip_slot *sl = slot;
  if (!sl) return;
  sl->active--;
  maybe_free(sl, time(NULL));
}

void server_conn_client_literal(const smtp_server_session *s, char *buf, size_t cap) {
  smtp_endpoint e;
  char t[SMTP_ENDPOINT_TEXT_MAX];
  buf[0] = 0;
  if (smtp_server_session_addr(s, SMTP_ADDR_CLIENT, &e) != 0) return;
  if (e.family != SMTP_AF_INET && e.family != SMTP_AF_INET6) return;
  if (smtp_endpoint_format(&e, t, sizeof t) < 0) return;
  snprintf(buf, cap, "%s%s", e.family == SMTP_AF_INET6 ? "IPv6:" : "", t);
}

void server_conn_client_name(const smtp_server_session *s, char *buf, size_t cap) {
  smtp_xattrs x;
  unsigned int st = SMTP_XVALUE_ABSENT;
  buf[0] = 0;
  if (smtp_server_session_xattrs(s, SMTP_XFORWARD, &x) == 0) st = x.state[SMTP_XATTR_NAME];
  if (st == SMTP_XVALUE_ABSENT && smtp_server_session_xattrs(s, SMTP_XCLIENT, &x) == 0)
    st = x.state[SMTP_XATTR_NAME];
  if (st == SMTP_XVALUE_SET)
    snprintf(buf, cap, "%.*s", (int)x.value[SMTP_XATTR_NAME].len, x.value[SMTP_XATTR_NAME].ptr);
  else if (st != SMTP_XVALUE_ABSENT)
    snprintf(buf, cap, "unknown"); /* the lookup failed (Postfix writes the same) */
}
