/* MTA-STS (RFC 8461): the _mta-sts TXT record (3.1), the policy body
 * (3.2), MX pattern matching (4.1) and a text form for an application's
 * cache (5.1). Pure parsing: no I/O (the HTTPS fetch is mta_sts_fetch.c). */
#include <stdio.h>
#include <string.h>

#include <smtp/delivery.h>

#include "delivery_internal.h"
#include "internal.h"

#define MAX_MX 256
#define MAX_AGE_LIMIT 31557600u /* RFC 8461 3.2: one year */

struct smtp_mta_sts_policy {
  smtp_mem mem;
  unsigned int mode;
  uint32_t max_age;
  size_t nmx;
  char *mx[MAX_MX];
};

static int is_wsp(int c) { return c == ' ' || c == '\t'; }
static int is_alnum(int c) { return smtp__is_alpha(c) || smtp__is_digit(c); }

int smtp__mta_sts_pattern_match(const char *pattern, const char *host) {
  size_t pl = strlen(pattern), hl = strlen(host);
  if (pl && pattern[pl - 1] == '.') pl--;
  if (hl && host[hl - 1] == '.') hl--;
  if (!pl || !hl) return 0;
  if (pl > 2 && pattern[0] == '*' && pattern[1] == '.') {
    const char *dot = memchr(host, '.', hl);
    size_t first;
    if (!dot) return 0;
    first = (size_t)(dot - host);
    if (first == 0) return 0;
    /* exactly one label in place of the "*" */
    return smtp__casecmp(dot + 1, hl - first - 1, pattern + 2, pl - 2) == 0;
  }
  if (memchr(pattern, '*', pl)) return 0;
  return smtp__casecmp(pattern, pl, host, hl) == 0;
}

int smtp_mta_sts_txt_parse(const char *txt, size_t len, char *id, size_t idcap) {
  size_t i = 0;
  int have_id = 0;
  if (!txt || !id || idcap < 33) return SMTP_ERR_INVALID_ARGUMENT;
  id[0] = 0;
  /* sts-version = "v" *WSP "=" *WSP "STSv1" */
  if (len < 1 || txt[0] != 'v') return SMTP_ERR_SYNTAX;
  i = 1;
  while (i < len && is_wsp((unsigned char)txt[i])) i++;
  if (i >= len || txt[i] != '=') return SMTP_ERR_SYNTAX;
  i++;
  while (i < len && is_wsp((unsigned char)txt[i])) i++;
  if (len - i < 5 || memcmp(txt + i, "STSv1", 5) != 0) return SMTP_ERR_SYNTAX;
  i += 5;
  for (;;) {
    size_t ns, nl, vs, vl;
    /* sts-sep = *WSP ";" *WSP; a trailing separator is allowed */
    while (i < len && is_wsp((unsigned char)txt[i])) i++;
    if (i == len) break;
    if (txt[i] != ';') return SMTP_ERR_SYNTAX;
    i++;
    while (i < len && is_wsp((unsigned char)txt[i])) i++;
    if (i == len) break;
    ns = i;
    while (i < len && (is_alnum((unsigned char)txt[i]) || txt[i] == '_' || txt[i] == '-' || txt[i] == '.')) i++;
    nl = i - ns;
    if (nl == 0 || nl > 32) return SMTP_ERR_SYNTAX;
    while (i < len && is_wsp((unsigned char)txt[i])) i++;
    if (i == len || txt[i] != '=') return SMTP_ERR_SYNTAX;
    i++;
    while (i < len && is_wsp((unsigned char)txt[i])) i++;
    vs = i;
    while (i < len && (unsigned char)txt[i] > 0x20 && (unsigned char)txt[i] < 0x7f && txt[i] != ';' && txt[i] != '=') i++;
    vl = i - vs;
    if (vl == 0) return SMTP_ERR_SYNTAX;
    if (nl == 2 && memcmp(txt + ns, "id", 2) == 0) {
      if (have_id || vl > 32) return SMTP_ERR_SYNTAX;
      for (size_t k = 0; k < vl; k++)
        if (!is_alnum((unsigned char)txt[vs + k])) return SMTP_ERR_SYNTAX;
      memcpy(id, txt + vs, vl);
      id[vl] = 0;
      have_id = 1;
    }
  }
  return have_id ? SMTP_OK : SMTP_ERR_SYNTAX;
}

/* Domain (RFC 5321 4.1.2): labels of letters, digits and hyphens, not
 * starting or ending with a hyphen; at most 253 octets. */
static int valid_domain(const char *s, size_t len) {
  size_t lab = 0;
  if (len == 0 || len > 253) return 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || s[i] == '.') {
      if (lab == 0 || lab > 63 || s[i - 1] == '-') return 0;
      lab = 0;
      continue;
    }
    if (!is_alnum((unsigned char)s[i]) && !(s[i] == '-' && lab > 0)) return 0;
    lab++;
  }
  return 1;
}

static int key_is(const char *k, size_t kl, const char *name) {
  return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

void smtp_mta_sts_policy_del(smtp_mta_sts_policy *p) {
  smtp_mem m;
  if (!p) return;
  m = p->mem;
  for (size_t i = 0; i < p->nmx; i++) smtp__free(&m, p->mx[i]);
  smtp__free(&m, p);
}

int smtp_mta_sts_policy_parse(const char *body, size_t len, smtp_mta_sts_policy **out,
                              const smtp_mem *mem) {
  smtp_mta_sts_policy *p;
  size_t i = 0;
  int have_version = 0, have_mode = 0, have_age = 0, rc = SMTP_ERR_SYNTAX;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if ((!body && len) || (mem && !smtp__mem_valid(mem))) return SMTP_ERR_INVALID_ARGUMENT;
  if (len > SMTP_MTA_STS_MAX_POLICY) return SMTP_ERR_TOO_LONG;
  p = smtp__calloc(mem, 1, sizeof *p);
  if (!p) return SMTP_ERR_NOMEM;
  p->mem = mem ? *mem : *smtp_mem_default();
  while (i < len) {
    size_t ls = i, le, ks, kl, vs, ve;
    while (i < len && body[i] != '\n') i++;
    le = i;
    if (i < len) i++; /* the LF */
    if (le > ls && body[le - 1] == '\r') le--;
    /* key *WSP ":" *WSP value *WSP (RFC 8461 3.2) */
    ks = ls;
    while (ls < le && (is_alnum((unsigned char)body[ls]) || body[ls] == '_' || body[ls] == '-' || body[ls] == '.')) ls++;
    kl = ls - ks;
    if (kl == 0 || kl > 32) goto bad;
    while (ls < le && is_wsp((unsigned char)body[ls])) ls++;
    if (ls == le || body[ls] != ':') goto bad;
    ls++;
    while (ls < le && is_wsp((unsigned char)body[ls])) ls++;
    vs = ls;
    ve = le;
    while (ve > vs && is_wsp((unsigned char)body[ve - 1])) ve--;
    for (size_t k = vs; k < ve; k++) {
      unsigned char c = (unsigned char)body[k];
      if (c < 0x20 ? c != '\t' : c >= 0x7f) goto bad; /* VCHAR / WSP only */
    }
    if (ve == vs) goto bad;
    if (key_is(body + ks, kl, "version")) {
      if (have_version || ve - vs != 5 || memcmp(body + vs, "STSv1", 5) != 0) goto bad;
      have_version = 1;
    } else if (key_is(body + ks, kl, "mode")) {
      if (have_mode) goto bad;
      if (ve - vs == 7 && memcmp(body + vs, "enforce", 7) == 0) p->mode = SMTP_MTA_STS_ENFORCE;
      else if (ve - vs == 7 && memcmp(body + vs, "testing", 7) == 0) p->mode = SMTP_MTA_STS_TESTING;
      else if (ve - vs == 4 && memcmp(body + vs, "none", 4) == 0) p->mode = SMTP_MTA_STS_NONE;
      else goto bad;
      have_mode = 1;
    } else if (key_is(body + ks, kl, "max_age")) {
      uint32_t v = 0;
      if (have_age || ve - vs > 10) goto bad;
      for (size_t k = vs; k < ve; k++) {
        if (!smtp__is_digit((unsigned char)body[k])) goto bad;
        if (v > (MAX_AGE_LIMIT - (unsigned)(body[k] - '0')) / 10) goto bad;
        v = v * 10 + (uint32_t)(body[k] - '0');
      }
      p->max_age = v;
      have_age = 1;
    } else if (key_is(body + ks, kl, "mx")) {
      size_t s = vs, l = ve - vs;
      char *m;
      if (l > 2 && body[s] == '*' && body[s + 1] == '.') {
        s += 2;
        l -= 2;
      }
      if (!valid_domain(body + s, l)) goto bad;
      if (p->nmx == MAX_MX) {
        rc = SMTP_ERR_TOO_LONG;
        goto bad;
      }
      m = smtp__malloc(&p->mem, ve - vs + 1);
      if (!m) {
        rc = SMTP_ERR_NOMEM;
        goto bad;
      }
      for (size_t k = 0; k < ve - vs; k++) m[k] = (char)smtp__lower((unsigned char)body[vs + k]);
      m[ve - vs] = 0;
      p->mx[p->nmx++] = m;
    } /* other keys: extensions, ignored (RFC 8461 3.2) */
  }
  if (!have_version || !have_mode || !have_age) goto bad;
  if (p->mode != SMTP_MTA_STS_NONE && p->nmx == 0) goto bad;
  *out = p;
  return SMTP_OK;
bad:
  smtp_mta_sts_policy_del(p);
  return rc;
}

unsigned int smtp_mta_sts_policy_mode(const smtp_mta_sts_policy *p) {
  return p ? p->mode : SMTP_MTA_STS_NONE;
}

uint32_t smtp_mta_sts_policy_max_age(const smtp_mta_sts_policy *p) { return p ? p->max_age : 0; }

size_t smtp_mta_sts_policy_mx_count(const smtp_mta_sts_policy *p) { return p ? p->nmx : 0; }

const char *smtp_mta_sts_policy_mx(const smtp_mta_sts_policy *p, size_t i) {
  return p && i < p->nmx ? p->mx[i] : NULL;
}

int smtp_mta_sts_mx_match(const smtp_mta_sts_policy *p, const char *host) {
  if (!p || !host) return 0;
  for (size_t i = 0; i < p->nmx; i++)
    if (smtp__mta_sts_pattern_match(p->mx[i], host)) return 1;
  return 0;
}

#define CACHE_MAGIC "libsmtp-mta-sts 1\n"

smtp_ssize smtp_mta_sts_cache_format(const smtp_mta_sts_policy *p, const char *id, int64_t fetched,
                                     char *buf, size_t cap) {
  static const char *const modes[] = {"none", "testing", "enforce"};
  size_t o;
  int n;
  if (!p || !id || !buf) return SMTP_ERR_INVALID_ARGUMENT;
  if (strlen(id) == 0 || strlen(id) > 32) return SMTP_ERR_INVALID_ARGUMENT;
  for (const char *c = id; *c; c++)
    if (!is_alnum((unsigned char)*c)) return SMTP_ERR_INVALID_ARGUMENT;
  n = snprintf(buf, cap, CACHE_MAGIC "id: %s\nfetched: %lld\nversion: STSv1\nmode: %s\nmax_age: %lu\n",
               id, (long long)fetched, modes[p->mode], (unsigned long)p->max_age);
  if (n < 0 || (size_t)n >= cap) return SMTP_ERR_BUFFER_TOO_SMALL;
  o = (size_t)n;
  for (size_t i = 0; i < p->nmx; i++) {
    n = snprintf(buf + o, cap - o, "mx: %s\n", p->mx[i]);
    if (n < 0 || (size_t)n >= cap - o) return SMTP_ERR_BUFFER_TOO_SMALL;
    o += (size_t)n;
  }
  return (smtp_ssize)o;
}

int smtp_mta_sts_cache_parse(const char *buf, size_t len, smtp_mta_sts_policy **out, char *id,
                             size_t idcap, int64_t *fetched, const smtp_mem *mem) {
  size_t ml = strlen(CACHE_MAGIC), i, s;
  int64_t t = 0;
  int neg = 0;
  if (!out || !buf || !id || idcap < 33 || !fetched) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (len < ml || memcmp(buf, CACHE_MAGIC, ml) != 0) return SMTP_ERR_SYNTAX;
  i = ml;
  if (len - i < 4 || memcmp(buf + i, "id: ", 4) != 0) return SMTP_ERR_SYNTAX;
  i += 4;
  s = i;
  while (i < len && is_alnum((unsigned char)buf[i])) i++;
  if (i == s || i - s > 32 || i >= len || buf[i] != '\n') return SMTP_ERR_SYNTAX;
  memcpy(id, buf + s, i - s);
  id[i - s] = 0;
  i++;
  if (len - i < 9 || memcmp(buf + i, "fetched: ", 9) != 0) return SMTP_ERR_SYNTAX;
  i += 9;
  if (i < len && buf[i] == '-') {
    neg = 1;
    i++;
  }
  s = i;
  while (i < len && smtp__is_digit((unsigned char)buf[i]) && i - s < 18) t = t * 10 + (buf[i++] - '0');
  if (i == s || i >= len || buf[i] != '\n') return SMTP_ERR_SYNTAX;
  *fetched = neg ? -t : t;
  i++;
  return smtp_mta_sts_policy_parse(buf + i, len - i, out, mem);
}

#if !defined(SMTP_HAVE_CURL)
int smtp_mta_sts_fetch(const char *domain, const char *ca_file, const char *connect_to,
                       int timeout_ms, smtp_mta_sts_policy **out, char *err, size_t errcap,
                       const smtp_mem *mem) {
  (void)domain;
  (void)ca_file;
  (void)connect_to;
  (void)timeout_ms;
  (void)mem;
  if (out) *out = NULL;
  if (err && errcap) snprintf(err, errcap, "built without libcurl");
  return SMTP_ERR_UNSUPPORTED;
}
#endif
