/* Footprint reference: libcurl's SMTP client sending the same one message
 * as fp_client.c (scripts/footprint --refs links it against an SMTP-only
 * libcurl built from Debian's curl source). With -DFP_TLS: STARTTLS
 * required (CURLOPT_USE_SSL), verified against the CA file in argv[2]. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static const char body[] = "Subject: alert\r\n\r\nfan 3 stopped\r\n";

static size_t rd(char *buf, size_t size, size_t n, void *ud) {
  size_t *off = ud, left = sizeof body - 1 - *off, k = size * n < left ? size * n : left;
  memcpy(buf, body + *off, k);
  *off += k;
  return k;
}

int main(int argc, char **argv) {
  char url[64] = "smtp://127.0.0.1:";
  size_t off = 0;
  struct curl_slist *rcpt = curl_slist_append(NULL, "<ops@example.org>");
  CURL *c = curl_easy_init();
  CURLcode rc;
  if (!c || !rcpt) return 2;
  strncat(url, argc > 1 ? argv[1] : "25", 8);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, "<dev@example.org>");
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, rd);
  curl_easy_setopt(c, CURLOPT_READDATA, &off);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
#ifdef FP_TLS
  curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
  if (argc > 2) curl_easy_setopt(c, CURLOPT_CAINFO, argv[2]);
#endif
  rc = curl_easy_perform(c);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
  return rc == CURLE_OK ? 0 : 1;
}
