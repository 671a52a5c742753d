/* The MTA-STS policy fetch (RFC 8461 3.3) over libcurl: HTTPS only,
 * certificate verified for mta-sts.DOMAIN, no redirects, at most
 * SMTP_MTA_STS_MAX_POLICY octets, one deadline for the whole fetch,
 * status 200 with a text/plain body. An adapter file: it does network
 * I/O. libcurl allocates its own memory with malloc; curl_global_init()
 * runs on the first call (not thread safe: make the first call before
 * starting threads). */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include <smtp/delivery.h>

#include "dns.h"
#include "internal.h"

typedef struct {
  const smtp_mem *mem;
  char *buf;
  size_t len, cap;
  int too_long, nomem;
} body;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
  body *b = ud;
  size_t add = size * n;
  if (add > SMTP_MTA_STS_MAX_POLICY || b->len + add > SMTP_MTA_STS_MAX_POLICY) {
    b->too_long = 1;
    return 0; /* aborts the transfer */
  }
  if (b->len + add > b->cap) {
    size_t nc = b->cap ? b->cap : 4096;
    char *nb;
    while (nc < b->len + add) nc *= 2;
    nb = smtp__realloc(b->mem, b->buf, nc);
    if (!nb) {
      b->nomem = 1;
      return 0;
    }
    b->buf = nb;
    b->cap = nc;
  }
  memcpy(b->buf + b->len, ptr, add);
  b->len += add;
  return add;
}

static void say(char *err, size_t cap, const char *what, const char *detail) {
  if (err && cap) snprintf(err, cap, "%s%s%s", what, detail && *detail ? ": " : "", detail ? detail : "");
}

int smtp_mta_sts_fetch(const char *domain, const char *ca_file, const char *connect_to,
                       int timeout_ms, smtp_mta_sts_policy **out, char *err, size_t errcap,
                       const smtp_mem *mem) {
  static int global_done;
  unsigned char w[256];
  char url[400], ct_buf[400], ebuf[CURL_ERROR_SIZE];
  struct curl_slist *conn = NULL;
  body b;
  CURL *h;
  CURLcode cc;
  long status = 0;
  char *ctype = NULL;
  int rc;
  if (err && errcap) err[0] = 0;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!domain || timeout_ms < 0 || (mem && !smtp__mem_valid(mem)) || smtp__dns_name_to_wire(domain, w, sizeof w) <= 1 ||
      strlen(domain) > 240)
    return SMTP_ERR_INVALID_ARGUMENT;
  if (connect_to && (strlen(connect_to) > 300 || strpbrk(connect_to, " \r\n\t")))
    return SMTP_ERR_INVALID_ARGUMENT;
  if (timeout_ms == 0) timeout_ms = 60000;
  if (!global_done) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return SMTP_ERR_UNSUPPORTED;
    global_done = 1;
  }
  h = curl_easy_init();
  if (!h) return SMTP_ERR_NOMEM;
  memset(&b, 0, sizeof b);
  b.mem = mem;
  ebuf[0] = 0;
  snprintf(url, sizeof url, "https://mta-sts.%s/.well-known/mta-sts.txt", domain);
  if (connect_to) {
    /* "mta-sts.DOMAIN:443:HOST:PORT": connect there, verify the real name */
    snprintf(ct_buf, sizeof ct_buf, "mta-sts.%s:443:%s", domain, connect_to);
    conn = curl_slist_append(NULL, ct_buf);
    if (!conn) {
      curl_easy_cleanup(h);
      return SMTP_ERR_NOMEM;
    }
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, conn);
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* RFC 8461 3.3: no redirects */
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, ""); /* no proxy from the environment */
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SMTP_MTA_STS_MAX_POLICY);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "libsmtp-mta-sts");
  cc = curl_easy_perform(h);
  if (cc == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
  }
  if (b.nomem) {
    rc = SMTP_ERR_NOMEM;
  } else if (b.too_long || cc == CURLE_FILESIZE_EXCEEDED) {
    say(err, errcap, "policy larger than 64 KiB", NULL);
    rc = SMTP_ERR_TOO_LONG;
  } else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
             cc == CURLE_SSL_ISSUER_ERROR) {
    say(err, errcap, "certificate not valid for the policy host", ebuf[0] ? ebuf : curl_easy_strerror(cc));
    rc = SMTP_ERR_TLS_VERIFY;
  } else if (cc != CURLE_OK) {
    say(err, errcap, "fetch failed", ebuf[0] ? ebuf : curl_easy_strerror(cc));
    rc = SMTP_ERR_MTA_STS;
  } else if (status != 200) {
    char s[32];
    snprintf(s, sizeof s, "HTTP status %ld", status);
    say(err, errcap, "fetch failed", s); /* a 3xx is not followed */
    rc = SMTP_ERR_MTA_STS;
  } else if (!ctype || strncmp(ctype, "text/plain", 10) != 0 ||
             (ctype[10] && ctype[10] != ';' && ctype[10] != ' ')) {
    say(err, errcap, "fetch failed", "the media type is not text/plain");
    rc = SMTP_ERR_MTA_STS;
  } else {
    rc = smtp_mta_sts_policy_parse(b.buf ? b.buf : "", b.len, out, mem);
    if (rc == SMTP_ERR_SYNTAX || rc == SMTP_ERR_TOO_LONG) say(err, errcap, "invalid policy", NULL);
  }
  smtp__free(mem, b.buf);
  curl_slist_free_all(conn);
  curl_easy_cleanup(h);
  return rc;
}
