/* libFuzzer target: the capture's client certificate reader
 * (smtp_capture_set_client_cert(): issuer and subject of a DER X.509
 * certificate as RFC 4514 strings, its SHA-256).
 *
 * Checked invariants: the call gives SMTP_OK or SMTP_ERR_SYNTAX; after a
 * success the record of a transaction under TLS carries a subject and an
 * issuer of at most 1024 octets, printable ASCII only (every other octet
 * escaped), never ending inside an escape, and 64 lower-case hex digits;
 * after a failure the certificate given before stays; the JSON record
 * formats. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/capture.h>
#include <smtp/server.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

static int seen, want_subject_null;

static void check_dn(const char *s) {
  size_t n = strlen(s);
  CHECK(n <= 1024);
  for (size_t i = 0; i < n; i++) CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
  /* a trailing backslash would be half an escape */
  if (n) {
    size_t k = 0;
    while (k < n && s[n - 1 - k] == '\\') k++;
    CHECK(k % 2 == 0);
  }
}

static void on_record(smtp_capture *c, const smtp_capture_record *rec, void *ud) {
  const char *sub, *iss, *fp;
  int v;
  char json[8192];
  size_t need = 0;
  (void)c;
  (void)ud;
  seen = 1;
  CHECK(smtp_capture_record_client_cert(rec, &sub, &iss, &fp, &v) == SMTP_OK);
  if (want_subject_null) {
    CHECK(!sub && !iss && !fp);
  } else {
    CHECK(sub && iss && fp);
    check_dn(sub);
    check_dn(iss);
    CHECK(strlen(fp) == 64);
    for (const char *p = fp; *p; p++) CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
  }
  CHECK(smtp_capture_record_json(rec, NULL, json, sizeof json, &need) == SMTP_OK);
}

static int on_trace(smtp_server_session *s, int dir, const char *line, size_t len, void *ud) {
  CHECK(smtp_capture_trace(ud, s, dir, line, len) == SMTP_OK);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const parts[2] = {"EHLO c.example\r\nSTARTTLS\r\n",
                                       "EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n"};
  smtp_capture *cap;
  smtp_server_callbacks *cb;
  smtp_server_options *o;
  smtp_server_session *s;
  smtp_tls_info ti;
  int rc;
  CHECK(smtp_capture_new(&cap, on_record, NULL, NULL) == SMTP_OK);
  rc = smtp_capture_set_client_cert(cap, data, size);
  CHECK(rc == SMTP_OK || rc == SMTP_ERR_SYNTAX);
  want_subject_null = rc != SMTP_OK;
  seen = 0;
  CHECK(smtp_server_callbacks_new(&cb, NULL) == SMTP_OK);
  CHECK(smtp_server_options_new(&o, NULL) == SMTP_OK);
  CHECK(smtp_server_options_set_tls_available(o, 1) == SMTP_OK);
  smtp_server_callbacks_set_trace(cb, on_trace);
  CHECK(smtp_server_session_new(&s, cb, cap, o, NULL) == SMTP_OK);
  for (int k = 0; k < 2; k++) {
    const char *p;
    smtp_ssize n;
    CHECK(smtp_server_session_mem_recv(s, parts[k], strlen(parts[k])) == (smtp_ssize)strlen(parts[k]));
    while ((n = smtp_server_session_mem_send(s, &p)) > 0) smtp_server_session_mem_consume(s, (size_t)n);
    if (k == 0) {
      memset(&ti, 0, sizeof ti);
      ti.protocol = "TLSv1.3";
      ti.has_peer_cert = 1;
      CHECK(smtp_server_session_tls_started(s, &ti) == SMTP_OK);
    }
  }
  smtp_capture_end(cap);
  CHECK(seen); /* the transaction was recorded: its checks ran */
  smtp_capture_del(cap);
  smtp_server_session_del(s);
  smtp_server_callbacks_del(cb);
  smtp_server_options_del(o);
  return 0;
}
