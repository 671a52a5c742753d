/* TLS interface (tls.h) for builds without TLS (-Dtls=disabled): every
 * call that would need TLS returns SMTP_ERR_TLS_UNAVAILABLE; deleters
 * accept anything (only NULL can exist). */
#include <stdio.h>

#include "adapters.h"
#include "delivery_internal.h"

int smtp_tls_available(void) { return 0; }
const char *smtp_tls_backend(void) { return "none"; }

int smtp_tls_config_new(smtp_tls_config **out, int role, const smtp_mem *mem) {
  (void)role;
  (void)mem;
  if (out) *out = NULL;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
void smtp_tls_config_del(smtp_tls_config *cfg) { (void)cfg; }
int smtp_tls_config_role(const smtp_tls_config *cfg) {
  (void)cfg;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_cert_file(smtp_tls_config *cfg, const char *cert_file, const char *key_file,
                              const char *password) {
  (void)cfg, (void)cert_file, (void)key_file, (void)password;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_cert_mem(smtp_tls_config *cfg, const char *cert, size_t cert_len,
                             const char *key, size_t key_len, const char *password) {
  (void)cfg, (void)cert, (void)cert_len, (void)key, (void)key_len, (void)password;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_self_signed(smtp_tls_config *cfg, const char *hostname) {
  (void)cfg, (void)hostname;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_export_cert(const smtp_tls_config *cfg, char *buf, size_t len, size_t *out_len) {
  (void)cfg, (void)buf, (void)len;
  if (out_len) *out_len = 0;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_ca_file(smtp_tls_config *cfg, const char *path) {
  (void)cfg, (void)path;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_ca_dir(smtp_tls_config *cfg, const char *path) {
  (void)cfg, (void)path;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_ca_mem(smtp_tls_config *cfg, const char *pem, size_t len) {
  (void)cfg, (void)pem, (void)len;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_system_ca(smtp_tls_config *cfg) {
  (void)cfg;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_set_verify(smtp_tls_config *cfg, int mode) {
  (void)cfg, (void)mode;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_set_versions(smtp_tls_config *cfg, int min_version, int max_version) {
  (void)cfg, (void)min_version, (void)max_version;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_set_sni_callback(smtp_tls_config *cfg, smtp_tls_on_sni cb, void *user_data) {
  (void)cfg, (void)cb, (void)user_data;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_last_error(const smtp_tls_config *cfg, char *buf, size_t len) {
  (void)cfg;
  if (!buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  snprintf(buf, len, "libsmtp was built without TLS");
  return SMTP_OK;
}
int smtp_tls_conn_new(smtp_tls_conn **out, const smtp_tls_config *cfg, const char *hostname,
                      const smtp_mem *mem) {
  (void)cfg, (void)hostname, (void)mem;
  if (out) *out = NULL;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
void smtp_tls_conn_del(smtp_tls_conn *conn) { (void)conn; }
int smtp_tls_handshake(smtp_tls_conn *conn) {
  (void)conn;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_is_established(const smtp_tls_conn *conn) {
  (void)conn;
  return 0;
}
smtp_ssize smtp_tls_feed(smtp_tls_conn *conn, const char *data, size_t len) {
  (void)conn, (void)data, (void)len;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
size_t smtp_tls_feed_space(const smtp_tls_conn *conn) {
  (void)conn;
  return 0;
}
int smtp_tls_feed_eof(smtp_tls_conn *conn) {
  (void)conn;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
smtp_ssize smtp_tls_pending_output(smtp_tls_conn *conn, const char **data) {
  (void)conn;
  if (data) *data = NULL;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_consume_output(smtp_tls_conn *conn, size_t n) {
  (void)conn, (void)n;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
smtp_ssize smtp_tls_read(smtp_tls_conn *conn, char *buf, size_t len) {
  (void)conn, (void)buf, (void)len;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_has_pending(const smtp_tls_conn *conn) {
  (void)conn;
  return 0;
}
smtp_ssize smtp_tls_write(smtp_tls_conn *conn, const char *data, size_t len) {
  (void)conn, (void)data, (void)len;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_close_notify(smtp_tls_conn *conn) {
  (void)conn;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_get_info(const smtp_tls_conn *conn, smtp_tls_info *info) {
  (void)conn, (void)info;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_last_error(const smtp_tls_conn *conn, char *buf, size_t len) {
  (void)conn;
  return smtp_tls_config_last_error(NULL, buf, len);
}
int smtp_tls_conn_use_cert(smtp_tls_conn *conn, const smtp_tls_config *other) {
  (void)conn, (void)other;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp__tls_export_key_pem(const smtp_tls_config *cfg, char *buf, size_t len) {
  (void)cfg, (void)buf, (void)len;
  return SMTP_ERR_TLS_UNAVAILABLE;
}

int smtp_tls_backends(int *ids, size_t cap) {
  (void)ids, (void)cap;
  return 0;
}
const char *smtp_tls_backend_name(int backend) {
  (void)backend;
  return NULL;
}
const char *smtp_tls_backend_version(int backend) {
  (void)backend;
  return NULL;
}
int smtp_tls_backend_by_name(const char *name) {
  if (!name) return SMTP_ERR_INVALID_ARGUMENT;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_new_backend(smtp_tls_config **out, int role, int backend, const smtp_mem *mem) {
  (void)role, (void)backend, (void)mem;
  if (out) *out = NULL;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_backend(const smtp_tls_config *cfg) {
  (void)cfg;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_peer_cert(const smtp_tls_conn *conn, size_t index, uint8_t *buf, size_t cap, size_t *len) {
  (void)conn, (void)index, (void)buf, (void)cap;
  if (len) *len = 0;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_peer_verify_result(const smtp_tls_conn *conn, char *reason, size_t len) {
  (void)conn;
  if (reason && len) reason[0] = 0;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_peer_subject(const smtp_tls_conn *conn, char *buf, size_t len) {
  (void)conn;
  if (buf && len) buf[0] = 0;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_set_verify_callback(smtp_tls_config *cfg, smtp_tls_on_verify cb, void *user_data) {
  (void)cfg, (void)cb, (void)user_data;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_config_replace_cert_file(smtp_tls_config *cfg, const char *cert_file, const char *key_file,
                                      const char *password) {
  (void)cfg, (void)cert_file, (void)key_file, (void)password;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
int smtp_tls_channel_binding(const smtp_tls_conn *conn, int type, uint8_t *out, size_t cap, size_t *len) {
  (void)conn, (void)type, (void)out, (void)cap;
  if (len) *len = 0;
  return SMTP_ERR_TLS_UNAVAILABLE;
}

int smtp__tls_x509_signed_by(const unsigned char *child, size_t child_len,
                             const unsigned char *issuer, size_t issuer_len) {
  (void)child, (void)child_len, (void)issuer, (void)issuer_len;
  return SMTP_ERR_UNSUPPORTED;
}

int smtp__tls_peer_cn(const smtp_tls_conn *conn, char *buf, size_t cap, size_t *len) {
  (void)conn, (void)buf, (void)cap;
  if (len) *len = 0;
  return SMTP_ERR_TLS_UNAVAILABLE;
}
