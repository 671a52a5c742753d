/* The SMTP TLS Reporting document (RFC 8460 4): the sessions and failures
 * of deliveries to one policy domain, gathered over a reporting period,
 * written as the JSON report (RFC 8460 4.4). No I/O, no clock: the caller
 * gives the period; sending the report (RFC 8460 5) is the application's. */
#include <stdio.h>
#include <string.h>

#include <smtp/delivery.h>

#include "json.h"
#include "delivery_internal.h"
#include "dns.h"
#include "internal.h"

#define MAX_POLICIES 64
#define MAX_FAILS 256
#define MAX_STR 512

typedef struct {
  int result;
  char *mx, *ip, *reason;
  uint64_t count;
} rfail;

typedef struct {
  int type;      /* 0 no-policy-found, 1 sts, 2 tlsa */
  char **str;    /* policy-string */
  size_t nstr;
  char **mx;     /* mx-host */
  size_t nmx;
  uint64_t ok, failed;
  rfail *f;
  size_t nf;
} rpolicy;

struct smtp_tlsrpt_report {
  smtp_mem mem;
  char *org, *contact, *id, *domain, *sending_ip;
  int64_t start, end;
  rpolicy pol[MAX_POLICIES];
  size_t npol;
};

static char *dup_n(const smtp_mem *m, const char *s, size_t max) {
  size_t l;
  char *p;
  if (!s) return NULL;
  l = strlen(s);
  if (l > max) l = max;
  p = smtp__malloc(m, l + 1);
  if (!p) return NULL;
  memcpy(p, s, l);
  p[l] = 0;
  return p;
}

static void free_strs(const smtp_mem *m, char **v, size_t n) {
  for (size_t i = 0; i < n; i++) smtp__free(m, v[i]);
  smtp__free(m, v);
}

static void policy_free(const smtp_mem *m, rpolicy *p) {
  free_strs(m, p->str, p->nstr);
  free_strs(m, p->mx, p->nmx);
  for (size_t i = 0; i < p->nf; i++) {
    smtp__free(m, p->f[i].mx);
    smtp__free(m, p->f[i].ip);
    smtp__free(m, p->f[i].reason);
  }
  smtp__free(m, p->f);
  memset(p, 0, sizeof *p);
}

static int printable(const char *s, size_t max) {
  size_t l = strlen(s);
  if (l == 0 || l > max) return 0;
  for (size_t i = 0; i < l; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
  return 1;
}

int smtp_tlsrpt_report_new(smtp_tlsrpt_report **out, const smtp_tlsrpt_report_info *info,
                           const smtp_mem *mem) {
  smtp_tlsrpt_report *r;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!info || info->version != SMTP_TLSRPT_REPORT_INFO_VERSION || (mem && !smtp__mem_valid(mem)))
    return SMTP_ERR_INVALID_ARGUMENT;
  if (!info->organization_name || !printable(info->organization_name, 200) || !info->contact_info ||
      !printable(info->contact_info, 200) || !info->report_id || !printable(info->report_id, 200) ||
      !info->policy_domain || !printable(info->policy_domain, 253) ||
      (info->sending_mta_ip && !printable(info->sending_mta_ip, 47)) || info->end < info->start ||
      info->start < 0 || info->end > 253402300799) /* 9999-12-31T23:59:59Z */
    return SMTP_ERR_INVALID_ARGUMENT;
  r = smtp__calloc(mem, 1, sizeof *r);
  if (!r) return SMTP_ERR_NOMEM;
  r->mem = mem ? *mem : *smtp_mem_default();
  r->org = dup_n(&r->mem, info->organization_name, 200);
  r->contact = dup_n(&r->mem, info->contact_info, 200);
  r->id = dup_n(&r->mem, info->report_id, 200);
  r->domain = dup_n(&r->mem, info->policy_domain, 253);
  r->sending_ip = info->sending_mta_ip ? dup_n(&r->mem, info->sending_mta_ip, 47) : NULL;
  r->start = info->start;
  r->end = info->end;
  if (!r->org || !r->contact || !r->id || !r->domain || (info->sending_mta_ip && !r->sending_ip)) {
    smtp_tlsrpt_report_del(r);
    return SMTP_ERR_NOMEM;
  }
  for (char *p = r->domain; *p; p++) *p = (char)smtp__lower((unsigned char)*p);
  if (r->domain[strlen(r->domain) - 1] == '.') r->domain[strlen(r->domain) - 1] = 0;
  *out = r;
  return SMTP_OK;
}

void smtp_tlsrpt_report_del(smtp_tlsrpt_report *r) {
  smtp_mem m;
  if (!r) return;
  m = r->mem;
  for (size_t i = 0; i < r->npol; i++) policy_free(&m, &r->pol[i]);
  smtp__free(&m, r->org);
  smtp__free(&m, r->contact);
  smtp__free(&m, r->id);
  smtp__free(&m, r->domain);
  smtp__free(&m, r->sending_ip);
  smtp__free(&m, r);
}

/* ---- building the policies of one delivery ---- */

typedef struct {
  int type;
  char *str[MAX_STR];
  size_t nstr;
  const char *mx[260];
  size_t nmx;
} tmp_policy;

static int strs_eq(char *const *a, size_t na, char *const *b, size_t nb) {
  if (na != nb) return 0;
  for (size_t i = 0; i < na; i++)
    if (strcmp(a[i], b[i]) != 0) return 0;
  return 1;
}

static int cstrs_eq(char *const *a, size_t na, const char *const *b, size_t nb) {
  if (na != nb) return 0;
  for (size_t i = 0; i < na; i++)
    if (strcmp(a[i], b[i]) != 0) return 0;
  return 1;
}

/* The report's entry for this policy (same type, strings and hosts),
 * made when new; takes ownership of t->str. NULL: no memory or full. */
static rpolicy *policy_get(smtp_tlsrpt_report *r, tmp_policy *t) {
  rpolicy *p;
  for (size_t i = 0; i < r->npol; i++) {
    p = &r->pol[i];
    if (p->type == t->type && strs_eq(p->str, p->nstr, t->str, t->nstr) &&
        cstrs_eq(p->mx, p->nmx, t->mx, t->nmx)) {
      for (size_t k = 0; k < t->nstr; k++) smtp__free(&r->mem, t->str[k]);
      t->nstr = 0;
      return p;
    }
  }
  if (r->npol >= MAX_POLICIES) return NULL;
  p = &r->pol[r->npol];
  memset(p, 0, sizeof *p);
  p->type = t->type;
  if (t->nstr) {
    p->str = smtp__calloc(&r->mem, t->nstr, sizeof *p->str);
    if (!p->str) return NULL;
    memcpy(p->str, t->str, t->nstr * sizeof *p->str);
    p->nstr = t->nstr;
    t->nstr = 0;
  }
  if (t->nmx) {
    p->mx = smtp__calloc(&r->mem, t->nmx, sizeof *p->mx);
    if (!p->mx) {
      policy_free(&r->mem, p);
      return NULL;
    }
    for (size_t i = 0; i < t->nmx; i++) {
      p->mx[i] = dup_n(&r->mem, t->mx[i], 255);
      if (!p->mx[i]) {
        p->nmx = i;
        policy_free(&r->mem, p);
        return NULL;
      }
      p->nmx = i + 1;
    }
  }
  r->npol++;
  return p;
}

static void tmp_free(const smtp_mem *m, tmp_policy *t) {
  for (size_t i = 0; i < t->nstr; i++) smtp__free(m, t->str[i]);
  t->nstr = 0;
}

static int tmp_add(const smtp_mem *m, tmp_policy *t, const char *s) {
  if (t->nstr >= MAX_STR) return SMTP_OK; /* a policy longer than this is cut */
  t->str[t->nstr] = dup_n(m, s, 4096);
  if (!t->str[t->nstr]) return SMTP_ERR_NOMEM;
  t->nstr++;
  return SMTP_OK;
}

/* "3 1 1 ABCD..." (RFC 6698 2.2 presentation form, upper-case hex). */
static char *tlsa_text(const smtp_mem *m, const smtp_dns_rr *x) {
  static const char hx[] = "0123456789ABCDEF";
  size_t n = 16 + 2 * x->data_len;
  char *p = smtp__malloc(m, n);
  int o;
  if (!p) return NULL;
  o = snprintf(p, n, "%u %u %u ", x->usage, x->selector, x->matching);
  for (size_t i = 0; i < x->data_len; i++) {
    p[o++] = hx[x->data[i] >> 4];
    p[o++] = hx[x->data[i] & 15];
  }
  p[o] = 0;
  return p;
}

static int sts_policy(smtp_tlsrpt_report *r, const smtp_delivery *d, tmp_policy *t) {
  const char *const *mx;
  size_t nmx;
  uint32_t max_age;
  unsigned int mode = smtp__delivery_sts(d, &mx, &nmx, &max_age);
  char line[300];
  int rc;
  memset(t, 0, sizeof *t);
  t->type = 1;
  /* the policy as RFC 8461 3.2 writes it, one line per string (RFC 8460 4.4) */
  rc = tmp_add(&r->mem, t, "version: STSv1");
  snprintf(line, sizeof line, "mode: %s", mode == SMTP_MTA_STS_ENFORCE ? "enforce" : mode == SMTP_MTA_STS_TESTING ? "testing" : "none");
  if (!rc) rc = tmp_add(&r->mem, t, line);
  for (size_t i = 0; i < nmx && !rc; i++) {
    snprintf(line, sizeof line, "mx: %s", mx[i]);
    rc = tmp_add(&r->mem, t, line);
    if (t->nmx < sizeof t->mx / sizeof t->mx[0]) t->mx[t->nmx++] = mx[i];
  }
  snprintf(line, sizeof line, "max_age: %u", (unsigned int)max_age);
  if (!rc) rc = tmp_add(&r->mem, t, line);
  return rc;
}

static int tlsa_policy(smtp_tlsrpt_report *r, const smtp__tlsrpt_host *h, tmp_policy *t) {
  memset(t, 0, sizeof *t);
  t->type = 2;
  for (size_t i = 0; i < h->ntlsa && t->nstr < MAX_STR; i++) {
    t->str[t->nstr] = tlsa_text(&r->mem, &h->tlsa[i]);
    if (!t->str[t->nstr]) return SMTP_ERR_NOMEM;
    t->nstr++;
  }
  t->mx[t->nmx++] = h->name;
  return SMTP_OK;
}

static int add_fail(smtp_tlsrpt_report *r, rpolicy *p, const smtp_tlsrpt_failure *f) {
  rfail *n;
  for (size_t i = 0; i < p->nf; i++) {
    rfail *x = &p->f[i];
    if (x->result == f->result_type && !strcmp(x->mx ? x->mx : "", f->receiving_mx_hostname ? f->receiving_mx_hostname : "") &&
        !strcmp(x->ip ? x->ip : "", f->receiving_ip ? f->receiving_ip : "") &&
        !strcmp(x->reason ? x->reason : "", f->failure_reason_code ? f->failure_reason_code : "")) {
      x->count++;
      p->failed++;
      return SMTP_OK;
    }
  }
  if (p->nf >= MAX_FAILS) { /* counted, not detailed */
    p->failed++;
    return SMTP_OK;
  }
  n = smtp__realloc(&r->mem, p->f, (p->nf + 1) * sizeof *n);
  if (!n) return SMTP_ERR_NOMEM;
  p->f = n;
  n = &p->f[p->nf];
  memset(n, 0, sizeof *n);
  n->result = f->result_type;
  n->count = 1;
  if ((f->receiving_mx_hostname && !(n->mx = dup_n(&r->mem, f->receiving_mx_hostname, 255))) ||
      (f->receiving_ip && !(n->ip = dup_n(&r->mem, f->receiving_ip, 47))) ||
      (f->failure_reason_code && !(n->reason = dup_n(&r->mem, f->failure_reason_code, 200)))) {
    smtp__free(&r->mem, n->mx);
    smtp__free(&r->mem, n->ip);
    return SMTP_ERR_NOMEM;
  }
  p->nf++;
  p->failed++;
  return SMTP_OK;
}

int smtp_tlsrpt_report_add(smtp_tlsrpt_report *r, const smtp_delivery *d) {
  size_t nf = 0, nh;
  const smtp_tlsrpt_failure *f;
  tmp_policy t;
  rpolicy *sts = NULL, *none = NULL;
  const char *const *mx;
  size_t nmx;
  uint32_t max_age;
  int rc;
  if (!r || !d || !smtp__dns_name_eq(smtp__delivery_domain(d), r->domain)) return SMTP_ERR_INVALID_ARGUMENT;
  f = smtp_delivery_tls_failures(d, &nf);
  nh = smtp__delivery_nhosts(d);
  if (smtp__delivery_sts(d, &mx, &nmx, &max_age) != SMTP_MTA_STS_NONE) {
    rc = sts_policy(r, d, &t);
    if (!rc && !(sts = policy_get(r, &t))) rc = SMTP_ERR_NOMEM;
    tmp_free(&r->mem, &t);
    if (rc) return rc;
  }
  for (size_t i = 0; i < nh; i++) {
    smtp__tlsrpt_host h;
    rpolicy *p = sts;
    smtp__delivery_host(d, i, &h);
    if (h.dane) { /* DANE wins where it applies (RFC 8461 2) */
      rc = tlsa_policy(r, &h, &t);
      if (!rc && !(p = policy_get(r, &t))) rc = SMTP_ERR_NOMEM;
      tmp_free(&r->mem, &t);
      if (rc) return rc;
    }
    if (p) p->ok += h.ok_sessions;
  }
  for (size_t i = 0; i < nf; i++) {
    rpolicy *p = NULL;
    if (f[i].policy_type == 2) {
      /* the host's TLSA policy; a host whose TLSA lookup failed has none:
       * an empty policy string for it */
      smtp__tlsrpt_host h;
      int found = 0;
      for (size_t k = 0; k < nh && f[i].receiving_mx_hostname && !found; k++) {
        smtp__delivery_host(d, k, &h);
        found = smtp__dns_name_eq(h.name, f[i].receiving_mx_hostname);
      }
      if (!found) {
        memset(&h, 0, sizeof h);
        h.name = f[i].receiving_mx_hostname ? f[i].receiving_mx_hostname : "";
      }
      if (!h.dane) h.ntlsa = 0; /* e.g. its TLSA answer was bogus */
      rc = tlsa_policy(r, &h, &t);
      if (!rc && !(p = policy_get(r, &t))) rc = SMTP_ERR_NOMEM;
      tmp_free(&r->mem, &t);
      if (rc) return rc;
    } else if (f[i].policy_type == 1 && sts) {
      p = sts;
    } else {
      if (!none) {
        memset(&t, 0, sizeof t);
        if (!(none = policy_get(r, &t))) return SMTP_ERR_NOMEM;
      }
      p = none;
    }
    rc = add_fail(r, p, &f[i]);
    if (rc) return rc;
  }
  return SMTP_OK;
}

/* ---- JSON ---- */

typedef smtp__jw jw;

static void put(jw *w, const char *s, size_t n) { smtp__jw_put(w, s, n); }
static void puts_(jw *w, const char *s) { smtp__jw_puts(w, s); }
static void jstr(jw *w, const char *s) { smtp__jw_str_n(w, s, strlen(s)); }

static void jkey(jw *w, const char *k) {
  jstr(w, k);
  put(w, ":", 1);
}

static void jnum(jw *w, uint64_t v) { smtp__jw_u64(w, v); }

/* RFC 3339 5.6 date-time in UTC from seconds since the epoch (the civil
 * calendar from a day count, proleptic Gregorian). */
static void jdate(jw *w, int64_t t) {
  int64_t days = t / 86400, secs = t % 86400, z, era, doe, yoe, y, doy, mp, dd, mm;
  char b[96]; /* room for any int64 the compiler can imagine */
  z = days + 719468;
  era = z / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  dd = doy - (153 * mp + 2) / 5 + 1;
  mm = mp < 10 ? mp + 3 : mp - 9;
  if (mm <= 2) y++;
  snprintf(b, sizeof b, "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"", (int)y, (int)mm, (int)dd, (int)(secs / 3600),
           (int)(secs / 60 % 60), (int)(secs % 60));
  puts_(w, b);
}

int smtp_tlsrpt_report_format(const smtp_tlsrpt_report *r, char *buf, size_t cap, size_t *len) {
  static const char *const types[] = {"no-policy-found", "sts", "tlsa"};
  jw w;
  if (!r || !len || (!buf && cap)) return SMTP_ERR_INVALID_ARGUMENT;
  w.buf = buf;
  w.cap = cap;
  w.len = 0;
  put(&w, "{", 1);
  jkey(&w, "organization-name");
  jstr(&w, r->org);
  puts_(&w, ",\"date-range\":{\"start-datetime\":");
  jdate(&w, r->start);
  puts_(&w, ",\"end-datetime\":");
  jdate(&w, r->end);
  puts_(&w, "},");
  jkey(&w, "contact-info");
  jstr(&w, r->contact);
  put(&w, ",", 1);
  jkey(&w, "report-id");
  jstr(&w, r->id);
  puts_(&w, ",\"policies\":[");
  for (size_t i = 0; i < r->npol; i++) {
    const rpolicy *p = &r->pol[i];
    if (i) put(&w, ",", 1);
    puts_(&w, "{\"policy\":{\"policy-type\":");
    jstr(&w, types[p->type]);
    if (p->type != 0) {
      puts_(&w, ",\"policy-string\":[");
      for (size_t k = 0; k < p->nstr; k++) {
        if (k) put(&w, ",", 1);
        jstr(&w, p->str[k]);
      }
      put(&w, "]", 1);
    }
    put(&w, ",", 1);
    jkey(&w, "policy-domain");
    jstr(&w, r->domain);
    if (p->nmx) {
      puts_(&w, ",\"mx-host\":[");
      for (size_t k = 0; k < p->nmx; k++) {
        if (k) put(&w, ",", 1);
        jstr(&w, p->mx[k]);
      }
      put(&w, "]", 1);
    }
    puts_(&w, "},\"summary\":{\"total-successful-session-count\":");
    jnum(&w, p->ok);
    puts_(&w, ",\"total-failure-session-count\":");
    jnum(&w, p->failed);
    put(&w, "}", 1);
    if (p->nf) {
      puts_(&w, ",\"failure-details\":[");
      for (size_t k = 0; k < p->nf; k++) {
        const rfail *x = &p->f[k];
        if (k) put(&w, ",", 1);
        puts_(&w, "{\"result-type\":");
        jstr(&w, smtp_tlsrpt_result_name(x->result));
        if (r->sending_ip) {
          puts_(&w, ",\"sending-mta-ip\":");
          jstr(&w, r->sending_ip);
        }
        if (x->mx) {
          puts_(&w, ",\"receiving-mx-hostname\":");
          jstr(&w, x->mx);
        }
        if (x->ip) {
          puts_(&w, ",\"receiving-ip\":");
          jstr(&w, x->ip);
        }
        puts_(&w, ",\"failed-session-count\":");
        jnum(&w, x->count);
        if (x->reason) {
          puts_(&w, ",\"failure-reason-code\":");
          jstr(&w, x->reason);
        }
        put(&w, "}", 1);
      }
      put(&w, "]", 1);
    }
    put(&w, "}", 1);
  }
  puts_(&w, "]}");
  *len = w.len;
  if (w.len >= cap) return SMTP_ERR_BUFFER_TOO_SMALL;
  buf[w.len] = 0;
  return SMTP_OK;
}

/* ---- the _smtp._tls TXT record (RFC 8460 3) ---- */

static int is_wsp(char c) { return c == ' ' || c == '\t'; }

/* RFC 8460 3: tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E) */
static int ext_value_char(unsigned char c) { return c >= 0x21 && c <= 0x7e && c != ';' && c != '='; }

static int uri_char(unsigned char c) { return c > 0x20 && c < 0x7f && c != ',' && c != ';'; }

static int has_prefix_ci(const char *p, size_t n, const char *pre) {
  size_t l = strlen(pre);
  if (n < l) return 0;
  for (size_t i = 0; i < l; i++)
    if (smtp__lower((unsigned char)p[i]) != (unsigned char)pre[i]) return 0;
  return 1;
}

int smtp_tlsrpt_txt_parse(const char *txt, size_t len, smtp_span *uris, size_t cap, size_t *count) {
  size_t i = 10, n = 0;
  int have_rua = 0;
  if (!txt || !count || (cap && !uris)) return SMTP_ERR_INVALID_ARGUMENT;
  *count = 0;
  if (len < 10 || memcmp(txt, "v=TLSRPTv1", 10) != 0) return SMTP_ERR_SYNTAX; /* %s: case-sensitive */
  for (;;) {
    size_t ns, ne;
    /* field-delim = *WSP ";" *WSP */
    while (i < len && is_wsp(txt[i])) i++;
    if (i == len) break;
    if (txt[i] != ';') return SMTP_ERR_SYNTAX;
    i++;
    while (i < len && is_wsp(txt[i])) i++;
    if (i == len) break; /* a trailing delimiter */
    ns = i;
    while (i < len && txt[i] != '=' && !is_wsp(txt[i]) && txt[i] != ';') i++;
    ne = i;
    if (i == len || txt[i] != '=' || ne == ns || ne - ns > 32) return SMTP_ERR_SYNTAX;
    i++;
    if (ne - ns == 3 && memcmp(txt + ns, "rua", 3) == 0) {
      if (have_rua) return SMTP_ERR_SYNTAX;
      have_rua = 1;
      for (;;) {
        size_t us = i;
        while (i < len && uri_char((unsigned char)txt[i])) i++;
        if (i == us) return SMTP_ERR_SYNTAX;
        /* RFC 8460 3: reports go by mail or HTTPS; other schemes are skipped */
        if (has_prefix_ci(txt + us, i - us, "mailto:") || has_prefix_ci(txt + us, i - us, "https:")) {
          if (n < cap) {
            uris[n].ptr = txt + us;
            uris[n].len = i - us;
          }
          n++;
        }
        {
          size_t j = i;
          while (j < len && is_wsp(txt[j])) j++;
          if (j < len && txt[j] == ',') {
            i = j + 1;
            while (i < len && is_wsp(txt[i])) i++;
            continue;
          }
        }
        break;
      }
    } else {
      /* tlsrpt-ext: name (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."), a value */
      size_t vs = i;
      if (!(smtp__is_alpha((unsigned char)txt[ns]) || smtp__is_digit((unsigned char)txt[ns]))) return SMTP_ERR_SYNTAX;
      for (size_t k = ns; k < ne; k++) {
        unsigned char c = (unsigned char)txt[k];
        if (!(smtp__is_alpha(c) || smtp__is_digit(c) || c == '_' || c == '-' || c == '.')) return SMTP_ERR_SYNTAX;
      }
      while (i < len && ext_value_char((unsigned char)txt[i])) i++;
      if (i == vs) return SMTP_ERR_SYNTAX;
    }
  }
  if (!have_rua) return SMTP_ERR_SYNTAX;
  *count = n;
  return SMTP_OK;
}
