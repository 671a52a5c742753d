/* smtp-server --capture: see capture_app.h. */
#include "capture_app.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static FILE *out;

int capture_app_open(const char *path) {
  if (strcmp(path, "-") == 0) {
    out = stdout;
    return 0;
  }
  out = fopen(path, "a");
  if (!out) {
    fprintf(stderr, "smtp-server: cannot open --capture %s: %s\n", path, strerror(errno));
    return 1;
  }
  return 0;
}

void capture_app_close(void) {
  if (out && out != stdout) fclose(out);
  out = NULL;
}

static void on_record(smtp_capture *c, const smtp_capture_record *rec, void *ud) {
  char stack[8192], *buf = stack, when[96];
  size_t need = 0;
  struct timespec ts;
  struct tm tm;
  (void)c;
  (void)ud;
  if (!out) return;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
  if (smtp_capture_record_json(rec, when, buf, sizeof stack, &need) == SMTP_ERR_BUFFER_TOO_SMALL) {
    buf = malloc(need + 1);
    if (!buf || smtp_capture_record_json(rec, when, buf, need + 1, NULL) != SMTP_OK) {
      free(buf);
      fprintf(stderr, "smtp-server: capture: out of memory, record lost\n");
      return;
    }
  }
  /* one write per line: readers never see half a record */
  fprintf(out, "%s\n", buf);
  fflush(out);
  if (buf != stack) free(buf);
}

smtp_capture *capture_app_conn_new(void) {
  smtp_capture *c = NULL;
  if (smtp_capture_new(&c, on_record, NULL, NULL) != SMTP_OK) return NULL;
  return c;
}

static void split(const struct sockaddr *sa, char *addr, size_t cap, int *port) {
  addr[0] = '\0';
  *port = -1;
  if (!sa) return;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
    inet_ntop(AF_INET, &s4->sin_addr, addr, (socklen_t)cap);
    *port = ntohs(s4->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
    inet_ntop(AF_INET6, &s6->sin6_addr, addr, (socklen_t)cap);
    *port = ntohs(s6->sin6_port);
  }
}

void capture_app_set_client(smtp_capture *c, const struct sockaddr *client,
                            const struct sockaddr *tcp_peer) {
  char a[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN];
  int ap, pp;
  if (!c) return;
  split(client, a, sizeof a, &ap);
  split(tcp_peer, p, sizeof p, &pp);
  (void)smtp_capture_set_client(c, a[0] ? a : NULL, ap, tcp_peer && p[0] ? p : NULL, pp);
}

void capture_app_note_cert(smtp_capture *c, const smtp_tls_conn *t) {
  uint8_t stack[8192], *der = stack;
  size_t len = 0;
  int r;
  if (!c || !t) return;
  r = smtp_tls_peer_cert(t, 0, stack, sizeof stack, &len);
  if (r == SMTP_ERR_BUFFER_TOO_SMALL && (der = malloc(len)) != NULL)
    r = smtp_tls_peer_cert(t, 0, der, len, &len);
  if (r == SMTP_OK) (void)smtp_capture_set_client_cert(c, der, len);
  if (der != stack) free(der);
}
