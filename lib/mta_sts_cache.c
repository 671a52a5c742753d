/* The MTA-STS policy cache in a directory the application names (RFC 8461
 * 5.1): one file per domain, DIR/mta-sts-DOMAIN, holding the text of
 * smtp_mta_sts_cache_format(). Like the fetch, this is an adapter file: it
 * does file I/O (stdio, mkdir, rename); the policy logic stays pure. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <smtp/delivery.h>

#include "dns.h"
#include "internal.h"

#define CACHE_MAX (SMTP_MTA_STS_MAX_POLICY + 512)

/* DIR/mta-sts-DOMAIN; the domain must be a DNS name (no '/', no "..").
 * 0 or SMTP_ERR_INVALID_ARGUMENT. */
static int cache_path(const char *dir, const char *domain, char *out, size_t cap) {
  unsigned char w[256];
  size_t dl;
  int n;
  if (!dir || !*dir || !domain || smtp__dns_name_to_wire(domain, w, sizeof w) <= 1) return SMTP_ERR_INVALID_ARGUMENT;
  dl = strlen(domain);
  for (size_t i = 0; i < dl; i++) {
    unsigned char c = (unsigned char)domain[i];
    if (!(smtp__is_alpha(c) || smtp__is_digit(c) || c == '-' || c == '.' || c == '_'))
      return SMTP_ERR_INVALID_ARGUMENT;
  }
  n = snprintf(out, cap, "%s/mta-sts-%.*s", dir, (int)(domain[dl - 1] == '.' ? dl - 1 : dl), domain);
  if (n < 0 || (size_t)n >= cap) return SMTP_ERR_INVALID_ARGUMENT;
  for (char *p = out + strlen(dir); *p; p++) *p = (char)smtp__lower((unsigned char)*p);
  return SMTP_OK;
}

int smtp_mta_sts_cache_load(const char *dir, const char *domain, int64_t now,
                            smtp_mta_sts_policy **out, char *id, size_t idcap, int64_t *fetched,
                            const smtp_mem *mem) {
  char path[4096];
  char *buf;
  size_t n;
  int64_t t = 0;
  FILE *f;
  int rc;
  if (!out || !id || idcap < 33) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  id[0] = 0;
  if (mem && !smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  rc = cache_path(dir, domain, path, sizeof path);
  if (rc) return rc;
  f = fopen(path, "rb");
  if (!f) return SMTP_ERR_NOT_FOUND;
  buf = smtp__malloc(mem, CACHE_MAX);
  if (!buf) {
    fclose(f);
    return SMTP_ERR_NOMEM;
  }
  n = fread(buf, 1, CACHE_MAX, f);
  fclose(f);
  rc = n < CACHE_MAX ? smtp_mta_sts_cache_parse(buf, n, out, id, idcap, &t, mem) : SMTP_ERR_SYNTAX;
  smtp__free(mem, buf);
  if (rc == SMTP_ERR_NOMEM) return rc;
  if (rc) return SMTP_ERR_NOT_FOUND; /* unreadable: as if absent */
  if (fetched) *fetched = t;
  /* RFC 8461 5.1: usable until fetched + max_age */
  if (now < t || now - t >= (int64_t)smtp_mta_sts_policy_max_age(*out)) {
    smtp_mta_sts_policy_del(*out);
    *out = NULL;
    return SMTP_ERR_NOT_FOUND;
  }
  return SMTP_OK;
}

int smtp_mta_sts_cache_store(const char *dir, const char *domain, const smtp_mta_sts_policy *p,
                             const char *id, int64_t fetched, const smtp_mem *mem) {
  char path[4096], tmp[4200];
  char *buf;
  smtp_ssize n;
  FILE *f;
  int rc, ok;
  if (!p || !id || (mem && !smtp__mem_valid(mem))) return SMTP_ERR_INVALID_ARGUMENT;
  rc = cache_path(dir, domain, path, sizeof path);
  if (rc) return rc;
  buf = smtp__malloc(mem, CACHE_MAX);
  if (!buf) return SMTP_ERR_NOMEM;
  n = smtp_mta_sts_cache_format(p, id, fetched, buf, CACHE_MAX);
  if (n < 0) {
    smtp__free(mem, buf);
    return (int)n;
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    smtp__free(mem, buf);
    return SMTP_ERR_IO;
  }
  /* write a temporary file, then rename: readers never see half a policy */
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  f = fopen(tmp, "wb");
  if (!f) {
    smtp__free(mem, buf);
    return SMTP_ERR_IO;
  }
  ok = fwrite(buf, 1, (size_t)n, f) == (size_t)n;
  ok = (fclose(f) == 0) && ok;
  smtp__free(mem, buf);
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return SMTP_ERR_IO;
  }
  return SMTP_OK;
}
