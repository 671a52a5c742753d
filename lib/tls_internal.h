/* The TLS adapter vtable: tls.c implements the public functions of tls.h
 * once (argument checks, backend choice) and calls the backend of the
 * configuration or connection through this table. Each backend
 * (tls_openssl.c, tls_mbedtls.c) embeds the common head below as the first
 * member of its own configuration and connection structures. Not
 * installed. */
#ifndef SMTP_TLS_INTERNAL_H
#define SMTP_TLS_INTERNAL_H

#include "adapters.h"

#define SMTP__TLS_ERRBUF 256

typedef struct smtp__tls_backend smtp__tls_backend;

/* Common head of every backend's configuration. */
struct smtp_tls_config {
  const smtp__tls_backend *be;
  int role;
  smtp_tls_on_verify verify_cb;
  void *verify_ud;
};

/* Common head of every backend's connection. */
struct smtp_tls_conn {
  const smtp__tls_backend *be;
  const smtp_tls_config *base_cfg;
};

struct smtp__tls_backend {
  int id;           /* SMTP_TLS_BACKEND_* */
  const char *name; /* "openssl", "mbedtls" */
  const char *(*version)(void);
  int (*config_new)(smtp_tls_config **out, int role, const smtp_mem *mem);
  void (*config_del)(smtp_tls_config *cfg);
  int (*cert_file)(smtp_tls_config *cfg, const char *cert, const char *key, const char *pw,
                   int replace);
  int (*cert_mem)(smtp_tls_config *cfg, const char *cert, size_t cert_len, const char *key,
                  size_t key_len, const char *pw);
  int (*self_signed)(smtp_tls_config *cfg, const char *hostname);
  int (*export_cert)(const smtp_tls_config *cfg, char *buf, size_t len, size_t *out_len);
  int (*export_key)(const smtp_tls_config *cfg, char *buf, size_t len);
  int (*ca_file)(smtp_tls_config *cfg, const char *path);
  int (*ca_dir)(smtp_tls_config *cfg, const char *path);
  int (*ca_mem)(smtp_tls_config *cfg, const char *pem, size_t len);
  int (*system_ca)(smtp_tls_config *cfg);
  int (*set_verify)(smtp_tls_config *cfg, int mode);
  int (*set_versions)(smtp_tls_config *cfg, int min_version, int max_version);
  int (*set_sni_callback)(smtp_tls_config *cfg, smtp_tls_on_sni cb, void *ud);
  int (*config_last_error)(const smtp_tls_config *cfg, char *buf, size_t len);
  int (*conn_new)(smtp_tls_conn **out, const smtp_tls_config *cfg, const char *hostname,
                  const smtp_mem *mem);
  void (*conn_del)(smtp_tls_conn *conn);
  int (*handshake)(smtp_tls_conn *conn);
  int (*is_established)(const smtp_tls_conn *conn);
  smtp_ssize (*feed)(smtp_tls_conn *conn, const char *data, size_t len);
  size_t (*feed_space)(const smtp_tls_conn *conn);
  int (*feed_eof)(smtp_tls_conn *conn);
  smtp_ssize (*pending_output)(smtp_tls_conn *conn, const char **data);
  int (*consume_output)(smtp_tls_conn *conn, size_t n);
  smtp_ssize (*read)(smtp_tls_conn *conn, char *buf, size_t len);
  int (*has_pending)(const smtp_tls_conn *conn);
  smtp_ssize (*write)(smtp_tls_conn *conn, const char *data, size_t len);
  int (*close_notify)(smtp_tls_conn *conn);
  int (*get_info)(const smtp_tls_conn *conn, smtp_tls_info *info);
  int (*last_error)(const smtp_tls_conn *conn, char *buf, size_t len);
  int (*use_cert)(smtp_tls_conn *conn, const smtp_tls_config *other);
  int (*peer_cert)(const smtp_tls_conn *conn, size_t index, uint8_t *buf, size_t cap, size_t *len);
  int (*peer_verify_result)(const smtp_tls_conn *conn, char *reason, size_t len);
  int (*peer_subject)(const smtp_tls_conn *conn, char *buf, size_t len);
  int (*channel_binding)(const smtp_tls_conn *conn, int type, uint8_t *out, size_t cap,
                         size_t *len);
  /* 1 when DER @p child is signed by DER @p issuer (name and signature;
   * dates ignored), 0 when not or when either does not parse. */
  int (*x509_signed_by)(const unsigned char *child, size_t child_len,
                        const unsigned char *issuer, size_t issuer_len);
  /* The subject commonName of the peer's leaf certificate when it has
   * exactly one, given as UTF8String, PrintableString or IA5String (the
   * value's octets, not NUL-terminated); SMTP_ERR_NOT_FOUND otherwise. */
  int (*peer_cn)(const smtp_tls_conn *conn, char *buf, size_t cap, size_t *len);
};

#if defined(SMTP_HAVE_MBEDTLS)
extern const smtp__tls_backend smtp__tls_mbedtls;
#endif
#if defined(SMTP_HAVE_OPENSSL)
extern const smtp__tls_backend smtp__tls_openssl;
#endif


/* A byte queue that holds memory only while it holds bytes: an idle
 * connection keeps no ciphertext buffer of its own (the queue is freed
 * when it drains). Bytes live at p + head .. p + head + len. */
typedef struct smtp__tls_queue {
  char *p;
  size_t head, len, cap;
} smtp__tls_queue;

/* Append up to @n bytes, never holding more than @limit; returns the
 * number taken (0 when full) or SMTP_ERR_NOMEM. */
smtp_ssize smtp__tls_queue_put(const smtp_mem *mem, smtp__tls_queue *q, const void *data, size_t n,
                               size_t limit);
/* Take up to @n bytes into @dst; returns the number taken. */
size_t smtp__tls_queue_get(const smtp_mem *mem, smtp__tls_queue *q, void *dst, size_t n);
/* Drop @n bytes from the front (n <= len). */
void smtp__tls_queue_drop(const smtp_mem *mem, smtp__tls_queue *q, size_t n);
/* Free (zeroing what was held). */
void smtp__tls_queue_free(const smtp_mem *mem, smtp__tls_queue *q);

/* Copy @n bytes into a caller's buffer with the usual length protocol. */
int smtp__tls_copy_out(const void *src, size_t n, uint8_t *out, size_t cap, size_t *len);

/* Call the application's verification callback; returns 1 to accept. */
int smtp__tls_call_verify(smtp_tls_conn *conn, const char *expected_name, int verdict,
                          const char *reason, size_t chain_len);

/* AES instructions on this CPU (AES-NI with PCLMULQDQ, ARMv8 AES): then
 * AES-GCM is the fastest AEAD and goes first in the cipher order. */
int smtp__tls_cpu_has_aes(void);

/* A DNS name, or "*." + DNS name (RFC 6125 6.4.3): shared by the
 * self-signed certificate makers. */
int smtp__tls_valid_dns_name(const char *h);

#endif
