/* The public TLS interface (tls.h) over one or more backends: argument
 * checks that need no backend, the choice of backend, then a call through
 * the configuration's or connection's vtable (tls_internal.h). */
#include <string.h>

#if defined(__linux__) && defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "delivery_internal.h"
#include "tls_internal.h"

#define INV SMTP_ERR_INVALID_ARGUMENT

/* Backends in this build, the default first (SMTP_TLS_FIRST_OPENSSL
 * chooses the order). */
static const smtp__tls_backend *const backends[] = {
#if defined(SMTP_TLS_FIRST_OPENSSL) && defined(SMTP_HAVE_OPENSSL)
    &smtp__tls_openssl,
#endif
#if defined(SMTP_HAVE_MBEDTLS)
    &smtp__tls_mbedtls,
#endif
#if !defined(SMTP_TLS_FIRST_OPENSSL) && defined(SMTP_HAVE_OPENSSL)
    &smtp__tls_openssl,
#endif
};

static const smtp__tls_backend *find(int id) {
  if (id == SMTP_TLS_BACKEND_DEFAULT) return backends[0];
  for (size_t i = 0; i < SMTP__ARRAY_LEN(backends); i++)
    if (backends[i]->id == id) return backends[i];
  return NULL;
}

int smtp_tls_available(void) { return 1; }

const char *smtp_tls_backend(void) { return backends[0]->version(); }

int smtp_tls_backends(int *ids, size_t cap) {
  size_t n = SMTP__ARRAY_LEN(backends);
  for (size_t i = 0; ids && i < n && i < cap; i++) ids[i] = backends[i]->id;
  return (int)n;
}

const char *smtp_tls_backend_name(int backend) {
  const smtp__tls_backend *be = find(backend);
  return be ? be->name : NULL;
}

const char *smtp_tls_backend_version(int backend) {
  const smtp__tls_backend *be = find(backend);
  return be ? be->version() : NULL;
}

int smtp_tls_backend_by_name(const char *name) {
  int id;
  if (!name) return INV;
  if (strcmp(name, "openssl") == 0) id = SMTP_TLS_BACKEND_OPENSSL;
  else if (strcmp(name, "mbedtls") == 0) id = SMTP_TLS_BACKEND_MBEDTLS;
  else return INV;
  return find(id) ? id : SMTP_ERR_TLS_UNAVAILABLE;
}

int smtp_tls_config_new_backend(smtp_tls_config **out, int role, int backend, const smtp_mem *mem) {
  const smtp__tls_backend *be;
  int r;
  if (!out) return INV;
  *out = NULL;
  if (backend != SMTP_TLS_BACKEND_DEFAULT && backend != SMTP_TLS_BACKEND_MBEDTLS &&
      backend != SMTP_TLS_BACKEND_OPENSSL)
    return INV;
  if (role != SMTP_TLS_SERVER && role != SMTP_TLS_CLIENT) return INV;
  if (mem && !smtp__mem_valid(mem)) return INV;
  be = find(backend);
  if (!be) return SMTP_ERR_TLS_UNAVAILABLE;
  r = be->config_new(out, role, mem);
  if (r == 0) {
    (*out)->be = be;
    (*out)->role = role;
  }
  return r;
}

int smtp_tls_config_new(smtp_tls_config **out, int role, const smtp_mem *mem) {
  return smtp_tls_config_new_backend(out, role, SMTP_TLS_BACKEND_DEFAULT, mem);
}

int smtp_tls_config_backend(const smtp_tls_config *cfg) { return cfg ? cfg->be->id : INV; }

void smtp_tls_config_del(smtp_tls_config *cfg) {
  if (cfg) cfg->be->config_del(cfg);
}

int smtp_tls_config_role(const smtp_tls_config *cfg) { return cfg ? cfg->role : INV; }

int smtp_tls_config_cert_file(smtp_tls_config *cfg, const char *cert_file, const char *key_file,
                              const char *password) {
  if (!cfg || !cert_file || !key_file) return INV;
  return cfg->be->cert_file(cfg, cert_file, key_file, password, 0);
}

int smtp_tls_config_replace_cert_file(smtp_tls_config *cfg, const char *cert_file,
                                      const char *key_file, const char *password) {
  if (!cfg || !cert_file || !key_file) return INV;
  return cfg->be->cert_file(cfg, cert_file, key_file, password, 1);
}

int smtp_tls_config_cert_mem(smtp_tls_config *cfg, const char *cert, size_t cert_len,
                             const char *key, size_t key_len, const char *password) {
  if (!cfg || !cert || !key || cert_len == 0 || key_len == 0) return INV;
  return cfg->be->cert_mem(cfg, cert, cert_len, key, key_len, password);
}

int smtp_tls_config_self_signed(smtp_tls_config *cfg, const char *hostname) {
  if (!cfg || !hostname || !smtp__tls_valid_dns_name(hostname)) return INV;
  return cfg->be->self_signed(cfg, hostname);
}

int smtp_tls_config_export_cert(const smtp_tls_config *cfg, char *buf, size_t len, size_t *out_len) {
  if (!cfg || !out_len || (!buf && len)) return INV;
  *out_len = 0;
  return cfg->be->export_cert(cfg, buf, len, out_len);
}

int smtp__tls_export_key_pem(const smtp_tls_config *cfg, char *buf, size_t len) {
  if (!cfg || !buf || len == 0) return INV;
  return cfg->be->export_key(cfg, buf, len);
}

int smtp_tls_config_ca_file(smtp_tls_config *cfg, const char *path) {
  if (!cfg || !path) return INV;
  return cfg->be->ca_file(cfg, path);
}

int smtp_tls_config_ca_dir(smtp_tls_config *cfg, const char *path) {
  if (!cfg || !path) return INV;
  return cfg->be->ca_dir(cfg, path);
}

int smtp_tls_config_ca_mem(smtp_tls_config *cfg, const char *pem, size_t len) {
  if (!cfg || !pem || len == 0) return INV;
  return cfg->be->ca_mem(cfg, pem, len);
}

int smtp_tls_config_system_ca(smtp_tls_config *cfg) {
  if (!cfg) return INV;
  return cfg->be->system_ca(cfg);
}

int smtp_tls_config_set_verify(smtp_tls_config *cfg, int mode) {
  if (!cfg) return INV;
  if (mode != SMTP_TLS_VERIFY_NONE && mode != SMTP_TLS_VERIFY_OPTIONAL &&
      mode != SMTP_TLS_VERIFY_REQUIRED)
    return INV;
  return cfg->be->set_verify(cfg, mode);
}

int smtp_tls_config_set_versions(smtp_tls_config *cfg, int min_version, int max_version) {
  if (!cfg) return INV;
  return cfg->be->set_versions(cfg, min_version, max_version);
}

int smtp_tls_config_set_sni_callback(smtp_tls_config *cfg, smtp_tls_on_sni cb, void *user_data) {
  if (!cfg || cfg->role != SMTP_TLS_SERVER) return INV;
  return cfg->be->set_sni_callback(cfg, cb, user_data);
}

int smtp_tls_config_set_verify_callback(smtp_tls_config *cfg, smtp_tls_on_verify cb,
                                        void *user_data) {
  if (!cfg) return INV;
  cfg->verify_cb = cb;
  cfg->verify_ud = cb ? user_data : NULL;
  return SMTP_OK;
}

int smtp_tls_config_last_error(const smtp_tls_config *cfg, char *buf, size_t len) {
  if (!cfg || !buf || len == 0) return INV;
  return cfg->be->config_last_error(cfg, buf, len);
}

int smtp_tls_conn_new(smtp_tls_conn **out, const smtp_tls_config *cfg, const char *hostname,
                      const smtp_mem *mem) {
  int r;
  if (!out) return INV;
  *out = NULL;
  if (!cfg) return INV;
  if (mem && !smtp__mem_valid(mem)) return INV;
  r = cfg->be->conn_new(out, cfg, hostname, mem);
  if (r == 0) {
    (*out)->be = cfg->be;
    (*out)->base_cfg = cfg;
  }
  return r;
}

void smtp_tls_conn_del(smtp_tls_conn *conn) {
  if (conn) conn->be->conn_del(conn);
}

int smtp_tls_handshake(smtp_tls_conn *conn) { return conn ? conn->be->handshake(conn) : INV; }

int smtp_tls_is_established(const smtp_tls_conn *conn) {
  return conn ? conn->be->is_established(conn) : 0;
}

smtp_ssize smtp_tls_feed(smtp_tls_conn *conn, const char *data, size_t len) {
  if (!conn || (!data && len)) return INV;
  return conn->be->feed(conn, data, len);
}

size_t smtp_tls_feed_space(const smtp_tls_conn *conn) {
  return conn ? conn->be->feed_space(conn) : 0;
}

int smtp_tls_feed_eof(smtp_tls_conn *conn) { return conn ? conn->be->feed_eof(conn) : INV; }

smtp_ssize smtp_tls_pending_output(smtp_tls_conn *conn, const char **data) {
  if (!conn || !data) return INV;
  return conn->be->pending_output(conn, data);
}

int smtp_tls_consume_output(smtp_tls_conn *conn, size_t n) {
  return conn ? conn->be->consume_output(conn, n) : INV;
}

smtp_ssize smtp_tls_read(smtp_tls_conn *conn, char *buf, size_t len) {
  if (!conn || !buf || len == 0) return INV;
  return conn->be->read(conn, buf, len);
}

int smtp_tls_has_pending(const smtp_tls_conn *conn) { return conn ? conn->be->has_pending(conn) : 0; }

smtp_ssize smtp_tls_write(smtp_tls_conn *conn, const char *data, size_t len) {
  if (!conn || !data || len == 0) return INV;
  return conn->be->write(conn, data, len);
}

int smtp_tls_close_notify(smtp_tls_conn *conn) { return conn ? conn->be->close_notify(conn) : INV; }

int smtp_tls_get_info(const smtp_tls_conn *conn, smtp_tls_info *info) {
  if (!conn || !info) return INV;
  return conn->be->get_info(conn, info);
}

int smtp_tls_last_error(const smtp_tls_conn *conn, char *buf, size_t len) {
  if (!conn || !buf || len == 0) return INV;
  return conn->be->last_error(conn, buf, len);
}

int smtp_tls_conn_use_cert(smtp_tls_conn *conn, const smtp_tls_config *other) {
  if (!conn || !other || other->role != SMTP_TLS_SERVER) return INV;
  if (other->be != conn->be) return INV; /* a certificate of another TLS library */
  return conn->be->use_cert(conn, other);
}

int smtp_tls_peer_cert(const smtp_tls_conn *conn, size_t index, uint8_t *buf, size_t cap,
                       size_t *len) {
  if (!conn || !len || (!buf && cap)) return INV;
  *len = 0;
  return conn->be->peer_cert(conn, index, buf, cap, len);
}

int smtp_tls_peer_verify_result(const smtp_tls_conn *conn, char *reason, size_t len) {
  if (!conn || (reason && len == 0)) return INV;
  if (reason) reason[0] = 0;
  return conn->be->peer_verify_result(conn, reason, reason ? len : 0);
}

int smtp_tls_peer_subject(const smtp_tls_conn *conn, char *buf, size_t len) {
  if (!conn || !buf || len == 0) return INV;
  buf[0] = 0;
  return conn->be->peer_subject(conn, buf, len);
}

int smtp_tls_channel_binding(const smtp_tls_conn *conn, int type, uint8_t *out, size_t cap,
                             size_t *len) {
  if (!conn || !len || (!out && cap)) return INV;
  *len = 0;
  if (type != SMTP_TLS_CB_UNIQUE && type != SMTP_TLS_CB_SERVER_END_POINT &&
      type != SMTP_TLS_CB_EXPORTER)
    return INV;
  if (!conn->be->is_established(conn)) return SMTP_ERR_INVALID_STATE;
  return conn->be->channel_binding(conn, type, out, cap, len);
}

/* ------------------------------------------------------------------ */

int smtp__tls_copy_out(const void *src, size_t n, uint8_t *out, size_t cap, size_t *len) {
  *len = n;
  if (n > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
  if (n) memcpy(out, src, n);
  return SMTP_OK;
}

int smtp__tls_call_verify(smtp_tls_conn *conn, const char *expected_name, int verdict,
                          const char *reason, size_t chain_len) {
  const smtp_tls_config *cfg = conn->base_cfg;
  smtp_tls_verify_info vi;
  memset(&vi, 0, sizeof vi);
  vi.size = (unsigned int)sizeof vi;
  vi.role = cfg->role == SMTP_TLS_CLIENT ? SMTP_TLS_CLIENT : SMTP_TLS_SERVER;
  vi.expected_name = expected_name && *expected_name ? expected_name : NULL;
  vi.verdict = verdict ? SMTP_ERR_TLS_VERIFY : 0;
  vi.reason = verdict && reason ? reason : "";
  vi.chain_len = chain_len;
  return cfg->verify_cb(conn, &vi, cfg->verify_ud) == SMTP_TLS_VERIFY_ACCEPT ? 1 : 0;
}

int smtp__tls_valid_dns_name(const char *h) {
  size_t n = strlen(h), label = 0, i = 0;
  if (n == 0 || n > 253) return 0;
  if (n > 2 && h[0] == '*' && h[1] == '.') i = 2;
  for (; i < n; i++) {
    unsigned char c = (unsigned char)h[i];
    if (c == '.') {
      if (label == 0) return 0;
      label = 0;
      continue;
    }
    if (!(smtp__is_alpha(c) || smtp__is_digit(c) || c == '-')) return 0;
    if (++label > 63) return 0;
  }
  return label > 0;
}

/* ------------------------------------------------------------------ */
/* Ciphertext queues                                                    */

void smtp__tls_queue_free(const smtp_mem *mem, smtp__tls_queue *q) {
  smtp__free(mem, q->p); /* ciphertext: nothing secret to wipe */
  q->p = NULL;
  q->head = q->len = q->cap = 0;
}

smtp_ssize smtp__tls_queue_put(const smtp_mem *mem, smtp__tls_queue *q, const void *data, size_t n,
                               size_t limit) {
  size_t room;
  if (q->len >= limit) return 0;
  if (n > limit - q->len) n = limit - q->len;
  if (n == 0) return 0;
  if (q->head + q->len + n > q->cap) {
    if (q->head > 0) {
      memmove(q->p, q->p + q->head, q->len);
      q->head = 0;
    }
    if (q->len + n > q->cap) {
      size_t want = q->len + n;
      char *np;
      if (want < 2048) want = 2048;
      if (want > limit) want = limit;
      np = smtp__malloc(mem, want);
      if (!np) return SMTP_ERR_NOMEM;
      if (q->len) memcpy(np, q->p, q->len);
      smtp__free(mem, q->p);
      q->p = np;
      q->cap = want;
    }
  }
  room = q->cap - q->head - q->len;
  if (n > room) n = room;
  memcpy(q->p + q->head + q->len, data, n);
  q->len += n;
  return (smtp_ssize)n;
}

void smtp__tls_queue_drop(const smtp_mem *mem, smtp__tls_queue *q, size_t n) {
  q->head += n;
  q->len -= n;
  if (q->len == 0) smtp__tls_queue_free(mem, q); /* idle: hold nothing */
}

size_t smtp__tls_queue_get(const smtp_mem *mem, smtp__tls_queue *q, void *dst, size_t n) {
  if (n > q->len) n = q->len;
  if (n) {
    memcpy(dst, q->p + q->head, n);
    smtp__tls_queue_drop(mem, q, n);
  }
  return n;
}

int smtp__tls_cpu_has_aes(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__linux__) && defined(__aarch64__) && defined(HWCAP_AES)
  return (getauxval(AT_HWCAP) & HWCAP_AES) ? 1 : 0;
#else
  return 0;
#endif
}

int smtp__tls_x509_signed_by(const unsigned char *child, size_t child_len,
                             const unsigned char *issuer, size_t issuer_len) {
  if (!child || !issuer || !child_len || !issuer_len) return 0;
  return backends[0]->x509_signed_by(child, child_len, issuer, issuer_len);
}

int smtp__tls_peer_cn(const smtp_tls_conn *conn, char *buf, size_t cap, size_t *len) {
  if (!conn || !len || (!buf && cap)) return SMTP_ERR_INVALID_ARGUMENT;
  return conn->be->peer_cn(conn, buf, cap, len);
}
