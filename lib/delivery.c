/* Outbound delivery to a domain: MX order (RFC 5321 5.1), null MX
 * (RFC 7505), addresses in RFC 8305 order, the TLS each host needs
 * (DANE RFC 7672, MTA-STS RFC 8461) and per-recipient results. No I/O:
 * DNS goes through the resolver adapter the application gave; connecting
 * and running the session are the application's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/delivery.h>
#include <smtp/endpoint.h>
#include <smtp/tls.h>

#include "delivery_internal.h"
#include "dns.h"
#include "internal.h"

#define TEXT_MAX 200

enum { PH_START, PH_MX, PH_ADDR, PH_TLSA, PH_READY, PH_DONE, PH_FAILED };

typedef struct {
  char *name;
  unsigned int pref;
  int q[3];               /* AAAA, A, TLSA query ids; -1 none */
  smtp_dns_result *r[3];
  int unusable;           /* DNS failure or no address: never tried */
  int tempfail;           /* the unusable reason is temporary */
  int skipped;            /* reported TEMPFAIL/TLS_FAILED */
  int secure;             /* MX and address answers authenticated */
  char *base;             /* CNAME-expanded name (RFC 7671 7), or NULL */
  int tlsa_stage;         /* 0: TLSA asked at base, 1: at name */
  const char *tls_name;   /* TLSA base domain: name or base */
  int verdict;            /* last result of smtp_delivery_tls_verify(); 0 none */
  int cb_ok;              /* the callback accepted this attempt's certificate under a policy */
  unsigned int ok_sessions; /* TLS-RPT: sessions that ran with the policy met */
  char last_ip[48];       /* address of the last target handed out */
  unsigned int tls;
  smtp_dns_rr *tlsa;
  size_t ntlsa;
  unsigned char addrs[8][17]; /* [0] = family (4/6), then the address */
  size_t naddrs;
} dhost;

typedef struct {
  char *addr;
  int state, code, error;
  char enhanced[16];
  char text[TEXT_MAX + 1];
  int host; /* -1 none */
  char addr_text[48];
} drcpt;


struct smtp_delivery {
  smtp_mem mem;
  smtp_resolver res;
  smtp_delivery_config cfg;
  char *domain;
  int phase;
  int q_mx;
  smtp_dns_result *r_mx;
  int mx_secure;
  dhost *hosts;
  size_t nhosts;
  size_t cur_host, cur_addr;
  drcpt *rcpts;
  size_t nrcpts;
  int fail_rc;
  unsigned int last_outcome;
  unsigned int sts_mode;
  uint32_t sts_max_age;
  char **sts_mx;
  size_t n_sts_mx;
  smtp_tlsrpt_failure *fails; /* strings owned */
  size_t nfails;
};

static char *dupstr(const smtp_mem *m, const char *s, size_t max) {
  size_t l = strlen(s);
  char *p;
  if (l > max) l = max;
  p = smtp__malloc(m, l + 1);
  if (!p) return NULL;
  memcpy(p, s, l);
  p[l] = 0;
  return p;
}

int smtp_delivery_new(smtp_delivery **out, const char *domain, const smtp_resolver *resolver,
                      const smtp_delivery_config *cfg, const smtp_mem *mem) {
  smtp_delivery *d;
  unsigned char w[256];
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!domain || smtp_resolver_check(resolver) != SMTP_OK || (mem && !smtp__mem_valid(mem)))
    return SMTP_ERR_INVALID_ARGUMENT;
  if (cfg && cfg->version != SMTP_DELIVERY_CONFIG_VERSION) return SMTP_ERR_INVALID_ARGUMENT;
  if (smtp__dns_name_to_wire(domain, w, sizeof w) <= 1) return SMTP_ERR_INVALID_ARGUMENT;
  d = smtp__calloc(mem, 1, sizeof *d);
  if (!d) return SMTP_ERR_NOMEM;
  d->mem = mem ? *mem : *smtp_mem_default();
  d->res = *resolver;
  if (cfg) d->cfg = *cfg;
  d->cfg.version = SMTP_DELIVERY_CONFIG_VERSION;
  if (!d->cfg.max_hosts) d->cfg.max_hosts = 10;
  if (!d->cfg.max_addrs || d->cfg.max_addrs > 8) d->cfg.max_addrs = d->cfg.max_addrs > 8 ? 8 : 4;
  if (!d->cfg.port) d->cfg.port = 25;
  d->q_mx = -1;
  d->domain = dupstr(&d->mem, domain, 255);
  if (!d->domain) {
    smtp__free(&d->mem, d);
    return SMTP_ERR_NOMEM;
  }
  for (char *p = d->domain; *p; p++) *p = (char)smtp__lower((unsigned char)*p);
  if (strlen(d->domain) > 1 && d->domain[strlen(d->domain) - 1] == '.') d->domain[strlen(d->domain) - 1] = 0;
  *out = d;
  return SMTP_OK;
}

static void host_free(smtp_delivery *d, dhost *h) {
  for (int k = 0; k < 3; k++) {
    if (h->q[k] >= 0) d->res.forget(h->q[k], d->res.user_data);
    smtp_dns_result_del(h->r[k]);
  }
  smtp__free(&d->mem, h->tlsa);
  smtp__free(&d->mem, h->base);
  smtp__free(&d->mem, h->name);
}

void smtp_delivery_del(smtp_delivery *d) {
  smtp_mem m;
  if (!d) return;
  m = d->mem;
  if (d->q_mx >= 0) d->res.forget(d->q_mx, d->res.user_data);
  smtp_dns_result_del(d->r_mx);
  for (size_t i = 0; i < d->nhosts; i++) host_free(d, &d->hosts[i]);
  smtp__free(&m, d->hosts);
  for (size_t i = 0; i < d->nrcpts; i++) smtp__free(&m, d->rcpts[i].addr);
  smtp__free(&m, d->rcpts);
  for (size_t i = 0; i < d->n_sts_mx; i++) smtp__free(&m, d->sts_mx[i]);
  smtp__free(&m, d->sts_mx);
  for (size_t i = 0; i < d->nfails; i++) {
    smtp__free(&m, (void *)(uintptr_t)d->fails[i].receiving_mx_hostname);
    smtp__free(&m, (void *)(uintptr_t)d->fails[i].receiving_ip);
    smtp__free(&m, (void *)(uintptr_t)d->fails[i].failure_reason_code);
  }
  smtp__free(&m, d->fails);
  smtp__free(&m, d->domain);
  smtp__free(&m, d);
}

int smtp_delivery_add_rcpt(smtp_delivery *d, const char *addr) {
  drcpt *n;
  if (!d || !addr || d->phase >= PH_READY || d->nrcpts >= 100000) return SMTP_ERR_INVALID_ARGUMENT;
  n = smtp__realloc(&d->mem, d->rcpts, (d->nrcpts + 1) * sizeof *n);
  if (!n) return SMTP_ERR_NOMEM;
  d->rcpts = n;
  n = &d->rcpts[d->nrcpts];
  memset(n, 0, sizeof *n);
  n->host = -1;
  n->addr = dupstr(&d->mem, addr, 512);
  if (!n->addr) return SMTP_ERR_NOMEM;
  return (int)d->nrcpts++;
}

static void set_result(drcpt *r, int state, int code, const char *enh, const char *text, int error) {
  r->state = state;
  r->code = code;
  r->error = error;
  snprintf(r->enhanced, sizeof r->enhanced, "%s", enh ? enh : "");
  snprintf(r->text, sizeof r->text, "%s", text ? text : "");
}

/* Every recipient without a final result gets this one. */
static void fail_pending(smtp_delivery *d, int state, int code, const char *enh, const char *text,
                         int error) {
  for (size_t i = 0; i < d->nrcpts; i++)
    if (d->rcpts[i].state == SMTP_DELIVERY_PENDING) set_result(&d->rcpts[i], state, code, enh, text, error);
}

static int fail(smtp_delivery *d, int rc, int state, int code, const char *enh, const char *text) {
  fail_pending(d, state, code, enh, text, rc);
  d->phase = PH_FAILED;
  d->fail_rc = rc;
  return rc;
}

static int record_fail(smtp_delivery *d, const char *mx, const char *ip, int result, int policy,
                       const char *reason) {
  smtp_tlsrpt_failure *n = smtp__realloc(&d->mem, d->fails, (d->nfails + 1) * sizeof *n);
  if (!n) return SMTP_ERR_NOMEM;
  d->fails = n;
  n = &d->fails[d->nfails];
  memset(n, 0, sizeof *n);
  n->receiving_mx_hostname = mx ? dupstr(&d->mem, mx, 255) : NULL;
  n->receiving_ip = ip ? dupstr(&d->mem, ip, 47) : NULL;
  n->failure_reason_code = reason ? dupstr(&d->mem, reason, TEXT_MAX) : NULL;
  n->result_type = result;
  n->policy_type = policy;
  d->nfails++; /* a string that could not be copied stays NULL */
  return SMTP_OK;
}

/* Answer of query *q, parsed into *r; 1 when there, 0 pending, <0 error. */
static int collect(smtp_delivery *d, int *q, const char *name, unsigned int type,
                   smtp_dns_result **r) {
  smtp_resolver_answer a;
  int rc;
  if (*q < 0) return 1;
  memset(&a, 0, sizeof a);
  rc = d->res.answer(*q, &a, d->res.user_data);
  if (rc == SMTP_ERR_WOULDBLOCK) return 0;
  if (rc != SMTP_OK) rc = smtp_dns_result_failed(SMTP_DNS_TEMPFAIL, name, r, &d->mem);
  else if (a.status == SMTP_DNS_OK) rc = smtp_dns_parse(a.wire, a.len, name, type, a.security, r, &d->mem);
  else rc = smtp_dns_result_failed(a.status, name, r, &d->mem);
  d->res.forget(*q, d->res.user_data);
  *q = -1;
  return rc == SMTP_OK ? 1 : rc;
}

/* An MX target that is not a host name: an address written as a name
 * (RFC 5321 5.1: literals are not used), or bytes outside LDH. */
static int unusable_target(const char *t) {
  unsigned char a[16];
  if (!*t) return 1;
  if (strchr(t, '\\') || strchr(t, '[')) return 1;
  return smtp__ip_parse(t, strlen(t), a) != 0;
}

typedef struct {
  unsigned int pref;
  size_t idx;
} mxent;

static int cmp_mx(const void *a, const void *b) {
  const mxent *x = a, *y = b;
  if (x->pref != y->pref) return x->pref < y->pref ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static uint32_t rnd_below(smtp_delivery *d, uint32_t n) {
  uint32_t lim = (uint32_t)(-n) % n, v; /* reject the biased low range */
  do v = d->cfg.random(d->cfg.random_user_data);
  while (v < lim);
  return v % n;
}

static int sts_match(const smtp_delivery *d, const char *host) {
  for (size_t i = 0; i < d->n_sts_mx; i++)
    if (smtp__mta_sts_pattern_match(d->sts_mx[i], host)) return 1;
  return 0;
}

static int add_host(smtp_delivery *d, const char *name, unsigned int pref) {
  dhost *h;
  for (size_t i = 0; i < d->nhosts; i++)
    if (smtp__dns_name_eq(d->hosts[i].name, name)) return SMTP_OK; /* listed twice */
  h = &d->hosts[d->nhosts];
  memset(h, 0, sizeof *h);
  h->q[0] = h->q[1] = h->q[2] = -1;
  h->pref = pref;
  h->name = dupstr(&d->mem, name, 255);
  if (!h->name) return SMTP_ERR_NOMEM;
  h->tls_name = h->name;
  d->nhosts++;
  return SMTP_OK;
}

/* The MX answer is in: the ordered host list, or a final failure. */
static int mx_done(smtp_delivery *d) {
  smtp_dns_result *r = d->r_mx;
  int st = smtp_dns_result_status(r);
  size_t n = smtp_dns_result_count(r), cap;
  mxent *ord;
  int any_bad = 0, any_null = 0;
  d->mx_secure = smtp_dns_result_authenticated(r);
  switch (st) {
  case SMTP_DNS_NXDOMAIN:
    return fail(d, SMTP_ERR_NOT_FOUND, SMTP_DELIVERY_PERMANENT, 550, "5.1.2",
                "the recipient domain does not exist");
  case SMTP_DNS_BOGUS:
    return fail(d, SMTP_ERR_DNSSEC_BOGUS, SMTP_DELIVERY_RETRY, 451, "4.4.3",
                "the MX answer failed DNSSEC validation");
  case SMTP_DNS_OK:
  case SMTP_DNS_NODATA:
    break;
  default:
    return fail(d, SMTP_ERR_DNS, SMTP_DELIVERY_RETRY, 451, "4.4.3", "MX lookup failed");
  }
  cap = n ? n : 1;
  if (cap > d->cfg.max_hosts) cap = d->cfg.max_hosts;
  d->hosts = smtp__calloc(&d->mem, cap, sizeof *d->hosts);
  if (!d->hosts) return SMTP_ERR_NOMEM;
  if (st == SMTP_DNS_NODATA) {
    /* RFC 5321 5.1: no MX, the domain itself (after its CNAME chain) */
    int rc = add_host(d, smtp_dns_result_name(r), 0);
    return rc;
  }
  /* RFC 7505 3: a single MX with the root as exchange: no mail at all */
  for (size_t i = 0; i < n; i++) {
    const smtp_dns_rr *x = smtp_dns_result_record(r, i);
    if (!*x->target) any_null = 1;
    else if (unusable_target(x->target)) any_bad = 1;
  }
  if (any_null && n == 1)
    return fail(d, SMTP_ERR_NULL_MX, SMTP_DELIVERY_PERMANENT, 556, "5.1.10",
                "the recipient domain has a null MX and accepts no mail (RFC 7505)");
  ord = smtp__calloc(&d->mem, n, sizeof *ord);
  if (!ord) return SMTP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    ord[i].pref = smtp_dns_result_record(r, i)->preference;
    ord[i].idx = i;
  }
  qsort(ord, n, sizeof *ord, cmp_mx);
  if (d->cfg.random) { /* shuffle each run of equal preference (RFC 5321 5.1) */
    size_t s = 0;
    while (s < n) {
      size_t e = s + 1;
      while (e < n && ord[e].pref == ord[s].pref) e++;
      for (size_t k = e - s; k > 1; k--) {
        size_t j = s + rnd_below(d, (uint32_t)k);
        mxent t = ord[s + k - 1];
        ord[s + k - 1] = ord[j];
        ord[j] = t;
      }
      s = e;
    }
  }
  for (size_t i = 0; i < n && d->nhosts < cap; i++) {
    const smtp_dns_rr *x = smtp_dns_result_record(r, ord[i].idx);
    int rc;
    if (unusable_target(x->target)) continue;
    if (d->sts_mode == SMTP_MTA_STS_ENFORCE && !sts_match(d, x->target)) {
      rc = record_fail(d, x->target, NULL, SMTP_TLSRPT_VALIDATION_FAILURE, 1, "mx not listed in the MTA-STS policy");
      if (rc) {
        smtp__free(&d->mem, ord);
        return rc;
      }
      continue;
    }
    rc = add_host(d, x->target, x->preference);
    if (rc) {
      smtp__free(&d->mem, ord);
      return rc;
    }
  }
  smtp__free(&d->mem, ord);
  if (d->nhosts == 0) {
    if (d->sts_mode == SMTP_MTA_STS_ENFORCE && !any_bad && !any_null)
      return fail(d, SMTP_ERR_MTA_STS, SMTP_DELIVERY_RETRY, 451, "4.7.5",
                  "the MTA-STS policy (enforce) lists none of the MX hosts");
    return fail(d, SMTP_ERR_NO_ROUTE, SMTP_DELIVERY_PERMANENT, 550, "5.4.4",
                "no usable MX host (RFC 5321 5.1)");
  }
  return SMTP_OK;
}

static int start_addr_queries(smtp_delivery *d) {
  for (size_t i = 0; i < d->nhosts; i++) {
    dhost *h = &d->hosts[i];
    for (int k = 0; k < 2; k++) {
      if (d->cfg.flags & (k == 0 ? SMTP_DELIVERY_NO_IPV6 : SMTP_DELIVERY_NO_IPV4)) continue;
      h->q[k] = d->res.query(h->name, k == 0 ? SMTP_DNS_AAAA : SMTP_DNS_A, d->res.user_data);
      if (h->q[k] == SMTP_ERR_NOMEM) {
        h->q[k] = -1;
        return SMTP_ERR_NOMEM;
      }
      if (h->q[k] < 0) { /* the adapter refused the name: the host has no address */
        h->q[k] = -1;
        h->tempfail = 1;
      }
    }
  }
  return SMTP_OK;
}

/* Addresses are in: RFC 8305 4 order (IPv6 first, then alternating). */
static void addrs_done(smtp_delivery *d, dhost *h) {
  const smtp_dns_result *r6 = h->r[0], *r4 = h->r[1];
  size_t n6 = smtp_dns_result_count(r6), n4 = smtp_dns_result_count(r4), i6 = 0, i4 = 0;
  int sec = d->mx_secure, temp = 0;
  for (int k = 0; k < 2; k++) {
    const smtp_dns_result *r = h->r[k];
    int st;
    if (!r) continue;
    st = smtp_dns_result_status(r);
    if (st != SMTP_DNS_OK && st != SMTP_DNS_NODATA && st != SMTP_DNS_NXDOMAIN) temp = 1;
    if (!smtp_dns_result_authenticated(r)) sec = 0;
  }
  while (h->naddrs < d->cfg.max_addrs && (i6 < n6 || i4 < n4)) {
    const smtp_dns_rr *x = NULL;
    int fam;
    if (i6 < n6 && (i4 >= n4 || h->naddrs % 2 == 0)) {
      x = smtp_dns_result_record(r6, i6++);
      fam = 6;
    } else {
      x = smtp_dns_result_record(r4, i4++);
      fam = 4;
    }
    h->addrs[h->naddrs][0] = (unsigned char)fam;
    memcpy(h->addrs[h->naddrs] + 1, x->addr, x->addr_len);
    h->naddrs++;
  }
  h->secure = sec;
  if (h->naddrs == 0) {
    h->unusable = 1;
    h->tempfail = h->tempfail || temp;
  }
}

/* The name the address records were found at after the CNAME chain (the
 * parser followed it); "" when no answer had records. */
static const char *expanded_name(const dhost *h) {
  for (int k = 0; k < 2; k++)
    if (h->r[k] && smtp_dns_result_count(h->r[k]) > 0) return smtp_dns_result_name(h->r[k]);
  return "";
}

/* _PORT._tcp.NAME for the host's current TLSA stage (RFC 7672 2.2.1). */
static void tlsa_qname(const smtp_delivery *d, const dhost *h, char *q, size_t cap) {
  snprintf(q, cap, "_%u._tcp.%s", d->cfg.port, h->tlsa_stage == 0 ? h->base : h->name);
}

static int start_tlsa(smtp_delivery *d, dhost *h) {
  char q[300];
  tlsa_qname(d, h, q, sizeof q);
  h->q[2] = d->res.query(q, SMTP_DNS_TLSA, d->res.user_data);
  if (h->q[2] == SMTP_ERR_NOMEM) {
    h->q[2] = -1;
    return SMTP_ERR_NOMEM;
  }
  if (h->q[2] < 0) { /* the adapter refused the name: no safe TLS policy */
    h->q[2] = -1;
    h->unusable = h->tempfail = 1;
  }
  return SMTP_OK;
}

static int tlsa_usable(const smtp_dns_rr *x) {
  if (x->usage != 2 && x->usage != 3) return 0; /* RFC 7672 3.1.3: PKIX usages unused */
  if (x->selector > 1) return 0;
  if (x->matching == 0) return x->data_len > 0;
  if (x->matching == 1) return x->data_len == 32;
  if (x->matching == 2) return x->data_len == 64;
  return 0;
}

static int tlsa_done(smtp_delivery *d, dhost *h) {
  const smtp_dns_result *r = h->r[2];
  int st = smtp_dns_result_status(r);
  size_t n = smtp_dns_result_count(r), k = 0;
  if (!r) return SMTP_OK;
  if (st == SMTP_DNS_NXDOMAIN || st == SMTP_DNS_NODATA) return SMTP_OK; /* no DANE */
  if (st != SMTP_DNS_OK) {
    /* RFC 7672 2.2: a failed TLSA lookup for a secure host: do not use it */
    h->unusable = 1;
    h->tempfail = 1;
    return record_fail(d, h->name, NULL,
                       st == SMTP_DNS_BOGUS ? SMTP_TLSRPT_DNSSEC_INVALID : SMTP_TLSRPT_TLSA_INVALID, 2,
                       st == SMTP_DNS_BOGUS ? "TLSA answer failed DNSSEC validation" : "TLSA lookup failed");
  }
  if (!smtp_dns_result_authenticated(r)) return SMTP_OK; /* insecure: RFC 7672 2.2 */
  h->tlsa = smtp__calloc(&d->mem, n, sizeof *h->tlsa);
  if (!h->tlsa) return SMTP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    const smtp_dns_rr *x = smtp_dns_result_record(r, i);
    if (tlsa_usable(x)) h->tlsa[k++] = *x;
  }
  h->ntlsa = k;
  h->tls = k ? SMTP_DELIVERY_TLS_DANE : SMTP_DELIVERY_TLS_ENCRYPT;
  return SMTP_OK;
}

static int finish(smtp_delivery *d) {
  int usable = 0, temp = 0;
  for (size_t i = 0; i < d->nhosts; i++) {
    dhost *h = &d->hosts[i];
    if (h->tls == SMTP_DELIVERY_TLS_OPPORTUNISTIC && d->sts_mode == SMTP_MTA_STS_ENFORCE)
      h->tls = SMTP_DELIVERY_TLS_VERIFY; /* DANE wins where it applies (RFC 8461 2) */
    if (!h->unusable) usable = 1;
    else if (h->tempfail) temp = 1;
  }
  if (!usable) {
    if (temp) return fail(d, SMTP_ERR_NO_ROUTE, SMTP_DELIVERY_RETRY, 451, "4.4.3",
                          "no MX host could be resolved");
    return fail(d, SMTP_ERR_NO_ROUTE, SMTP_DELIVERY_PERMANENT, 550, "5.4.4",
                "no MX host has an address");
  }
  d->phase = PH_READY;
  return SMTP_OK;
}

static int resolve_step(smtp_delivery *d) {
  int rc, pending = 0;
  switch (d->phase) {
  case PH_READY:
  case PH_DONE: return SMTP_OK;
  case PH_FAILED: return d->fail_rc;
  case PH_START:
    d->q_mx = d->res.query(d->domain, SMTP_DNS_MX, d->res.user_data);
    if (d->q_mx < 0) {
      rc = d->q_mx;
      d->q_mx = -1;
      if (rc == SMTP_ERR_NOMEM) return rc;
      return fail(d, SMTP_ERR_DNS, SMTP_DELIVERY_RETRY, 451, "4.4.3", "MX lookup failed");
    }
    d->phase = PH_MX;
    /* fall through */
  case PH_MX:
    rc = collect(d, &d->q_mx, d->domain, SMTP_DNS_MX, &d->r_mx);
    if (rc < 0) return rc;
    if (rc == 0) return SMTP_ERR_WOULDBLOCK;
    rc = mx_done(d);
    if (rc) return rc;
    rc = start_addr_queries(d);
    if (rc) return rc;
    d->phase = PH_ADDR;
    /* fall through */
  case PH_ADDR:
    for (size_t i = 0; i < d->nhosts; i++) {
      dhost *h = &d->hosts[i];
      for (int k = 0; k < 2; k++) {
        rc = collect(d, &h->q[k], h->name, k == 0 ? SMTP_DNS_AAAA : SMTP_DNS_A, &h->r[k]);
        if (rc < 0) return rc;
        if (rc == 0) pending = 1;
      }
    }
    if (pending) return SMTP_ERR_WOULDBLOCK;
    for (size_t i = 0; i < d->nhosts; i++) {
      dhost *h = &d->hosts[i];
      addrs_done(d, h);
      /* RFC 7672 2.2: TLSA only when the MX and the addresses validated */
      if ((d->cfg.flags & SMTP_DELIVERY_DANE) && h->secure && !h->unusable) {
        const char *exp = expanded_name(h);
        h->tlsa_stage = 1;
        if (*exp && !smtp__dns_name_eq(exp, h->name)) {
          /* RFC 7672 2.2.2, RFC 7671 7: a secure CNAME chain: the
           * expanded name first */
          h->base = dupstr(&d->mem, exp, 255);
          if (!h->base) return SMTP_ERR_NOMEM;
          h->tlsa_stage = 0;
        }
        rc = start_tlsa(d, h);
        if (rc) return rc;
      }
    }
    d->phase = PH_TLSA;
    /* fall through */
  case PH_TLSA:
    for (size_t i = 0; i < d->nhosts; i++) {
      dhost *h = &d->hosts[i];
      char q[300];
      if (h->q[2] < 0) continue;
      tlsa_qname(d, h, q, sizeof q);
      rc = collect(d, &h->q[2], q, SMTP_DNS_TLSA, &h->r[2]);
      if (rc < 0) return rc;
      if (rc == 0) {
        pending = 1;
        continue;
      }
      if (h->tlsa_stage == 0) {
        int st = smtp_dns_result_status(h->r[2]);
        if (st == SMTP_DNS_NXDOMAIN || st == SMTP_DNS_NODATA) {
          /* RFC 7671 7: no TLSA records at the expanded name: the
           * original name's decide */
          smtp_dns_result_del(h->r[2]);
          h->r[2] = NULL;
          h->tlsa_stage = 1;
          rc = start_tlsa(d, h);
          if (rc) return rc;
          if (h->q[2] >= 0) pending = 1;
          continue;
        }
      }
      rc = tlsa_done(d, h);
      if (rc) return rc;
      /* RFC 7672 2.2.2: the TLSA base domain names the server (SNI) */
      if (h->tlsa_stage == 0 && h->tls != SMTP_DELIVERY_TLS_OPPORTUNISTIC) h->tls_name = h->base;
    }
    if (pending) return SMTP_ERR_WOULDBLOCK;
    return finish(d);
  default:
    return SMTP_ERR_INVALID_STATE;
  }
}

int smtp_delivery_resolve(smtp_delivery *d) {
  int rc;
  if (!d) return SMTP_ERR_INVALID_ARGUMENT;
  rc = resolve_step(d);
  if (rc == SMTP_ERR_NOMEM) /* sticky: a half-built step is not redone */
    return fail(d, SMTP_ERR_NOMEM, SMTP_DELIVERY_RETRY, 451, "4.3.0", "out of memory");
  return rc;
}

/* The address as text through the one formatter the library has
 * (smtp_endpoint_format(), RFC 5952 for IPv6). */
static void fmt_addr(const unsigned char *a, unsigned int fam, char *out, size_t cap) {
  smtp_endpoint ep;
  memset(&ep, 0, sizeof ep);
  ep.family = fam == 4 ? SMTP_AF_INET : SMTP_AF_INET6;
  memcpy(ep.addr, a, fam == 4 ? 4 : 16);
  if (smtp_endpoint_format(&ep, out, cap) < 0 && cap) out[0] = 0;
}

int smtp_delivery_next(smtp_delivery *d, smtp_delivery_target *t) {
  if (!d || !t) return SMTP_ERR_INVALID_ARGUMENT;
  if (d->phase != PH_READY) return SMTP_ERR_INVALID_STATE;
  while (d->cur_host < d->nhosts) {
    dhost *h = &d->hosts[d->cur_host];
    if (h->unusable || h->skipped || d->cur_addr >= h->naddrs) {
      d->cur_host++;
      d->cur_addr = 0;
      continue;
    }
    memset(t, 0, sizeof *t);
    t->host = h->name;
    t->preference = h->pref;
    t->host_index = (unsigned int)d->cur_host;
    t->family = h->addrs[d->cur_addr][0];
    memcpy(t->addr, h->addrs[d->cur_addr] + 1, t->family == 4 ? 4 : 16);
    fmt_addr(t->addr, t->family, t->addr_text, sizeof t->addr_text);
    t->port = d->cfg.port;
    t->tls = h->tls;
    t->tls_name = h->tls_name;
    snprintf(h->last_ip, sizeof h->last_ip, "%s", t->addr_text);
    h->cb_ok = 0;
    t->dnssec = (unsigned int)h->secure;
    t->sts_testing = d->sts_mode == SMTP_MTA_STS_TESTING && h->tls == SMTP_DELIVERY_TLS_OPPORTUNISTIC;
    d->cur_addr++;
    return SMTP_OK;
  }
  switch (d->last_outcome) {
  case SMTP_DELIVERY_TLS_FAILED:
    fail_pending(d, SMTP_DELIVERY_RETRY, 451, "4.7.5", "TLS with every MX host failed", SMTP_ERR_NO_ROUTE);
    break;
  case SMTP_DELIVERY_TEMPFAIL:
    fail_pending(d, SMTP_DELIVERY_RETRY, 451, "4.4.2", "every MX host failed temporarily", SMTP_ERR_NO_ROUTE);
    break;
  default:
    fail_pending(d, SMTP_DELIVERY_RETRY, 451, "4.4.1", "no MX host accepted a connection", SMTP_ERR_NO_ROUTE);
    break;
  }
  d->phase = PH_DONE;
  return SMTP_ERR_NO_ROUTE;
}

int smtp_delivery_report(smtp_delivery *d, const smtp_delivery_target *t, unsigned int outcome) {
  if (!d || !t || t->host_index >= d->nhosts || outcome < 1 || outcome > 4) return SMTP_ERR_INVALID_ARGUMENT;
  if (d->phase != PH_READY) return SMTP_ERR_INVALID_STATE;
  d->last_outcome = outcome;
  switch (outcome) {
  case SMTP_DELIVERY_CONNECT_FAILED:
    break; /* the next address of the same host */
  case SMTP_DELIVERY_TEMPFAIL:
  case SMTP_DELIVERY_TLS_FAILED:
    d->hosts[t->host_index].skipped = 1;
    break;
  default:
    if (d->hosts[t->host_index].cb_ok) d->hosts[t->host_index].ok_sessions++;
    fail_pending(d, SMTP_DELIVERY_RETRY, 451, "4.4.2", "no final reply for this recipient",
                 SMTP_ERR_CONNECTION_LOST);
    d->phase = PH_DONE;
    break;
  }
  return SMTP_OK;
}

int smtp_delivery_rcpt_reply(smtp_delivery *d, size_t index, const smtp_delivery_target *t, int code,
                             const char *enhanced, const char *text, int final) {
  drcpt *r;
  if (!d || index >= d->nrcpts || !t || t->host_index >= d->nhosts || code < 200 || code > 599)
    return SMTP_ERR_INVALID_ARGUMENT;
  r = &d->rcpts[index];
  r->host = (int)t->host_index;
  snprintf(r->addr_text, sizeof r->addr_text, "%s", t->addr_text);
  if (code < 400 && !final) {
    r->code = code;
    return SMTP_OK;
  }
  set_result(r, code < 400 ? SMTP_DELIVERY_DELIVERED : code < 500 ? SMTP_DELIVERY_RETRY : SMTP_DELIVERY_PERMANENT,
             code, enhanced, text, 0);
  return SMTP_OK;
}

size_t smtp_delivery_rcpt_count(const smtp_delivery *d) { return d ? d->nrcpts : 0; }

int smtp_delivery_rcpt(const smtp_delivery *d, size_t index, smtp_delivery_rcpt_result *out) {
  const drcpt *r;
  if (!d || !out || index >= d->nrcpts) return SMTP_ERR_INVALID_ARGUMENT;
  r = &d->rcpts[index];
  memset(out, 0, sizeof *out);
  out->addr = r->addr;
  out->state = r->state;
  out->code = r->code;
  memcpy(out->enhanced, r->enhanced, sizeof out->enhanced);
  out->text = r->text;
  out->host = r->host >= 0 ? d->hosts[r->host].name : NULL;
  out->addr_text = r->host >= 0 ? r->addr_text : NULL;
  out->error = r->error;
  return SMTP_OK;
}

const smtp_dns_rr *smtp_delivery_tlsa(const smtp_delivery *d, const smtp_delivery_target *t,
                                      size_t *count) {
  if (count) *count = 0;
  if (!d || !t || !count || t->host_index >= d->nhosts) return NULL;
  *count = d->hosts[t->host_index].ntlsa;
  return *count ? d->hosts[t->host_index].tlsa : NULL;
}

int smtp_delivery_set_mta_sts(smtp_delivery *d, const smtp_mta_sts_policy *p) {
  size_t n;
  char **mx;
  if (!d || !p) return SMTP_ERR_INVALID_ARGUMENT;
  if (d->phase != PH_START || d->sts_mx) return SMTP_ERR_INVALID_STATE;
  n = smtp_mta_sts_policy_mx_count(p);
  mx = n ? smtp__calloc(&d->mem, n, sizeof *mx) : NULL;
  if (n && !mx) return SMTP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    mx[i] = dupstr(&d->mem, smtp_mta_sts_policy_mx(p, i), 255);
    if (!mx[i]) {
      for (size_t k = 0; k < i; k++) smtp__free(&d->mem, mx[k]);
      smtp__free(&d->mem, mx);
      return SMTP_ERR_NOMEM;
    }
  }
  d->sts_mx = mx;
  d->n_sts_mx = n;
  d->sts_mode = smtp_mta_sts_policy_mode(p);
  d->sts_max_age = smtp_mta_sts_policy_max_age(p);
  return SMTP_OK;
}

int smtp_delivery_tls_failure(smtp_delivery *d, const smtp_delivery_target *t, int result,
                              const char *reason) {
  if (!d || result < SMTP_TLSRPT_STARTTLS_NOT_SUPPORTED || result > SMTP_TLSRPT_STS_WEBPKI_INVALID)
    return SMTP_ERR_INVALID_ARGUMENT;
  return record_fail(d, t ? t->host : NULL, t ? t->addr_text : NULL, result,
                     t && t->tls == SMTP_DELIVERY_TLS_DANE ? 2 : d->sts_mode ? 1 : 0, reason);
}

const smtp_tlsrpt_failure *smtp_delivery_tls_failures(const smtp_delivery *d, size_t *count) {
  if (count) *count = 0;
  if (!d || !count || !d->nfails) return NULL;
  *count = d->nfails;
  return d->fails;
}

const char *smtp_tlsrpt_result_name(int r) {
  static const char *const names[] = {"", "starttls-not-supported", "certificate-host-mismatch",
                                      "certificate-expired", "certificate-not-trusted",
                                      "validation-failure", "tlsa-invalid", "dnssec-invalid",
                                      "dane-required", "sts-policy-fetch-error",
                                      "sts-policy-invalid", "sts-webpki-invalid"};
  if (r < 1 || r > SMTP_TLSRPT_STS_WEBPKI_INVALID) return "";
  return names[r];
}

/* ---- DANE and MTA-STS inside the TLS handshake ---- */

static dhost *host_by_tls_name(smtp_delivery *d, const char *name) {
  for (size_t i = 0; i < d->nhosts; i++)
    if (smtp__dns_name_eq(d->hosts[i].tls_name, name)) return &d->hosts[i];
  for (size_t i = 0; i < d->nhosts; i++)
    if (smtp__dns_name_eq(d->hosts[i].name, name)) return &d->hosts[i];
  return NULL;
}

/* The peer's chain (at most 16 certificates) against the host's TLSA
 * records; reference identifiers for DANE-TA (RFC 7672 3.2.2): the TLSA
 * base domain, the MX host name it was reached through, the next-hop
 * domain. */
static int dane_check(smtp_delivery *d, const dhost *h, const smtp_tls_conn *conn, size_t n) {
  const unsigned char *chain[16];
  size_t lens[16], total = 0, off = 0, nn = 0;
  const char *names[3];
  unsigned char *buf;
  int rc;
  if (n > 16) n = 16;
  for (size_t i = 0; i < n; i++) {
    rc = smtp_tls_peer_cert(conn, i, NULL, 0, &lens[i]);
    if (rc != SMTP_ERR_BUFFER_TOO_SMALL && rc != SMTP_OK) {
      n = i;
      break;
    }
    total += lens[i];
  }
  if (n == 0 || total == 0) return SMTP_ERR_DANE;
  buf = smtp__malloc(&d->mem, total);
  if (!buf) return SMTP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    if (smtp_tls_peer_cert(conn, i, buf + off, total - off, &lens[i]) != SMTP_OK) {
      n = i;
      break;
    }
    chain[i] = buf + off;
    off += lens[i];
  }
  names[nn++] = h->tls_name;
  if (h->tls_name != h->name) names[nn++] = h->name;
  else if (h->base) names[nn++] = h->base;
  names[nn++] = d->domain;
  rc = n ? smtp_dane_match(h->tlsa, h->ntlsa, chain, lens, n, names, nn) : SMTP_ERR_DANE;
  smtp__free(&d->mem, buf);
  return rc;
}

/* RFC 8460 4.3 result type of a failed WebPKI verification, from the TLS
 * library's reason text. */
static int webpki_result(const char *reason) {
  char low[200];
  size_t i = 0;
  for (; reason && reason[i] && i + 1 < sizeof low; i++) low[i] = (char)smtp__lower((unsigned char)reason[i]);
  low[i] = 0;
  if (strstr(low, "expired")) return SMTP_TLSRPT_CERTIFICATE_EXPIRED;
  if (strstr(low, "hostname") || strstr(low, "name mismatch") || strstr(low, "cn does not match") ||
      strstr(low, "common name"))
    return SMTP_TLSRPT_CERTIFICATE_HOST_MISMATCH;
  return SMTP_TLSRPT_CERTIFICATE_NOT_TRUSTED;
}

int smtp_delivery_tls_verify(smtp_tls_conn *conn, const smtp_tls_verify_info *info, void *user_data) {
  smtp_delivery *d = user_data;
  dhost *h;
  int rc;
  if (!d || !conn || !info || !info->expected_name || info->role != SMTP_TLS_CLIENT)
    return SMTP_TLS_VERIFY_REFUSE;
  h = host_by_tls_name(d, info->expected_name);
  if (!h) return SMTP_TLS_VERIFY_REFUSE;
  switch (h->tls) {
  case SMTP_DELIVERY_TLS_DANE:
    /* RFC 7672 3.1: the TLSA records decide, the WebPKI verdict does not */
    rc = dane_check(d, h, conn, info->chain_len);
    h->verdict = rc;
    if (rc == SMTP_DANE_MATCH_EE || rc == SMTP_DANE_MATCH_TA) {
      h->cb_ok = 1;
      return SMTP_TLS_VERIFY_ACCEPT;
    }
    record_fail(d, h->name, h->last_ip[0] ? h->last_ip : NULL, SMTP_TLSRPT_VALIDATION_FAILURE, 2,
                rc == SMTP_ERR_DANE ? "the certificate matches none of the TLSA records"
                                    : smtp_strerror(rc));
    return SMTP_TLS_VERIFY_REFUSE;
  case SMTP_DELIVERY_TLS_VERIFY:
    /* RFC 8461 4.2: chain and name verified for the MX host */
    if (info->verdict == 0) {
      h->cb_ok = 1;
      return SMTP_TLS_VERIFY_ACCEPT;
    }
    record_fail(d, h->name, h->last_ip[0] ? h->last_ip : NULL, webpki_result(info->reason), 1,
                info->reason && *info->reason ? info->reason : "certificate not verified");
    return SMTP_TLS_VERIFY_REFUSE;
  default:
    /* unauthenticated TLS is enough (RFC 7672 2.2, RFC 7435); an
     * MTA-STS policy in testing mode reports what enforce would refuse */
    if (info->verdict == 0 && d->sts_mode == SMTP_MTA_STS_TESTING) h->cb_ok = 1;
    if (info->verdict != 0 && d->sts_mode == SMTP_MTA_STS_TESTING)
      record_fail(d, h->name, h->last_ip[0] ? h->last_ip : NULL, webpki_result(info->reason), 1,
                  info->reason && *info->reason ? info->reason : "certificate not verified");
    return SMTP_TLS_VERIFY_ACCEPT;
  }
}

int smtp_delivery_dane_result(const smtp_delivery *d, const smtp_delivery_target *t) {
  if (!d || !t || t->host_index >= d->nhosts) return SMTP_ERR_INVALID_ARGUMENT;
  return d->hosts[t->host_index].verdict;
}

/* ---- what a TLS report needs (tlsrpt.c) ---- */

const char *smtp__delivery_domain(const smtp_delivery *d) { return d->domain; }

size_t smtp__delivery_nhosts(const smtp_delivery *d) { return d->nhosts; }

int smtp__delivery_host(const smtp_delivery *d, size_t i, smtp__tlsrpt_host *out) {
  const dhost *h;
  if (i >= d->nhosts) return SMTP_ERR_INVALID_ARGUMENT;
  h = &d->hosts[i];
  out->name = h->name;
  out->tlsa = h->ntlsa ? h->tlsa : NULL;
  out->ntlsa = h->ntlsa;
  out->dane = h->tls == SMTP_DELIVERY_TLS_DANE;
  out->ok_sessions = h->ok_sessions;
  return SMTP_OK;
}

unsigned int smtp__delivery_sts(const smtp_delivery *d, const char *const **mx, size_t *nmx,
                                uint32_t *max_age) {
  *mx = (const char *const *)d->sts_mx;
  *nmx = d->n_sts_mx;
  *max_age = d->sts_max_age;
  return d->sts_mx ? d->sts_mode : SMTP_MTA_STS_NONE;
}
