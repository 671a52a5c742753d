/* TLS over memory with OpenSSL 3 (tls.h, tls_internal.h).
 *
 * OpenSSL reads and writes ciphertext through a custom BIO whose read and
 * write callbacks take from and append to this connection's two ciphertext
 * queues (tls_internal.h); the queues hold memory only while they hold
 * bytes, and SSL_MODE_RELEASE_BUFFERS makes OpenSSL free its own record
 * buffers between records, so an idle session keeps no record-sized
 * buffer at all. All OpenSSL results become libsmtp errors in map_err().
 *
 * Allocation: libsmtp's own structures and the ciphertext queues go
 * through the smtp_mem hook given to the configuration or connection.
 * OpenSSL's own allocations (SSL objects, handshake state, record buffers,
 * certificates) go through OpenSSL's allocator, which only the
 * application can replace, once for the whole process, with
 * CRYPTO_set_mem_functions() before OpenSSL is first used.
 *
 * Versions: TLS 1.2 and 1.3; renegotiation off (RFC 8446 has none, and
 * for 1.2 SSL_OP_NO_RENEGOTIATION refuses it); no session cache, no
 * tickets (SMTP sessions are not resumed). Cipher order: AES-GCM first
 * when the CPU has AES instructions, else ChaCha20-Poly1305 first; the
 * server's order wins (SSL_OP_CIPHER_SERVER_PREFERENCE).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <dirent.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>


#include "tls_internal.h"

#define ERRBUF SMTP__TLS_ERRBUF
#define IN_CAP (17u * 1024u)  /* ciphertext from the transport, at most */
#define OUT_CAP (17u * 1024u) /* ciphertext to the transport: > one full record */
#define MAX_WRITE 16384u      /* one record of plaintext (RFC 8446 5.1) */

typedef struct os_config {
  smtp_tls_config b; /* common head (tls_internal.h) */
  smtp_mem mem;
  int role;
  int verify;
  int have_own, have_ca, system_ca_tried;
  smtp_tls_on_sni sni_cb;
  void *sni_ud;
  SSL_CTX *ctx;
  char err[ERRBUF];
} os_config;

enum { ST_HANDSHAKE = 0, ST_OPEN = 1 };

typedef struct os_conn {
  smtp_tls_conn b; /* common head (tls_internal.h) */
  smtp_mem mem;
  const os_config *cfg;
  SSL *ssl;
  smtp__tls_queue in;
  smtp__tls_queue out;
  int in_eof;
  int starved; /* SSL_read wanted input and none was fed since */
  int state;
  int err;
  size_t write_pending;
  int in_sni, sni_cert, has_sni;
  size_t sni_len;
  int verify_done;  /* the certificate was checked */
  long vresult;     /* OpenSSL's X509_V_* verdict */
  int verified;     /* final: verdict or the callback's acceptance */
  int cb_refused;
  STACK_OF(X509) *vchain; /* the peer's chain during the callback */
  char sni[256];
  char host[256];
  char errbuf[ERRBUF];
} os_conn;

/* ------------------------------------------------------------------ */

static const char *os_version(void) { return OpenSSL_version(OPENSSL_VERSION); }

/* The reason of the oldest queued OpenSSL error, after @prefix. */
static void err_text(char *dst, const char *prefix) {
  char tmp[ERRBUF - 64];
  unsigned long e = ERR_peek_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  if (r) snprintf(tmp, sizeof tmp, "%s", r);
  else if (e) ERR_error_string_n(e, tmp, sizeof tmp);
  else snprintf(tmp, sizeof tmp, "unknown OpenSSL error");
  snprintf(dst, ERRBUF, "%s%s", prefix, tmp);
  ERR_clear_error();
}

static int is_nomem(void) {
  unsigned long e = ERR_peek_error();
  return e && ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE;
}

/* SSL_get_error() needs an empty error queue before the call it explains.
 * Every failure path here empties it, so it is nearly always empty
 * already: peeking costs far less than ERR_clear_error(), which walks and
 * resets all of the thread's slots, on every record. */
static void err_reset(void) {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

static void cfg_error(os_config *cfg, const char *what) {
  char prefix[80];
  snprintf(prefix, sizeof prefix, "%s: ", what);
  err_text(cfg->err, prefix);
}

/* ------------------------------------------------------------------ */
/* The BIO between OpenSSL and the ciphertext queues                     */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write_cb(BIO *bio, const char *data, size_t len, size_t *written) {
  os_conn *c = BIO_get_data(bio);
  smtp_ssize n;
  BIO_clear_retry_flags(bio);
  n = smtp__tls_queue_put(&c->mem, &c->out, data, len, OUT_CAP);
  if (n < 0) {
    ERR_raise(ERR_LIB_SSL, ERR_R_MALLOC_FAILURE);
    return 0;
  }
  if (n == 0) {
    BIO_set_retry_write(bio);
    return 0;
  }
  *written = (size_t)n;
  return 1;
}

static int bio_read_cb(BIO *bio, char *buf, size_t len, size_t *readbytes) {
  os_conn *c = BIO_get_data(bio);
  BIO_clear_retry_flags(bio);
  if (c->in.len == 0) {
    if (!c->in_eof) BIO_set_retry_read(bio);
    return 0; /* without retry: end of stream */
  }
  *readbytes = smtp__tls_queue_get(&c->mem, &c->in, buf, len);
  return 1;
}

static long bio_ctrl_cb(BIO *bio, int cmd, long num, void *ptr) {
  os_conn *c = BIO_get_data(bio);
  (void)num, (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH: return 1;
  case BIO_CTRL_PENDING: return c ? (long)c->in.len : 0;
  case BIO_CTRL_WPENDING: return c ? (long)c->out.len : 0;
  case BIO_CTRL_EOF: return c && c->in_eof && c->in.len == 0;
  default: return 0;
  }
}

static int bio_create_cb(BIO *bio) {
  BIO_set_init(bio, 1);
  return 1;
}

static void bio_method_init(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "libsmtp ciphertext");
  if (!m) return;
  if (!BIO_meth_set_write_ex(m, bio_write_cb) || !BIO_meth_set_read_ex(m, bio_read_cb) ||
      !BIO_meth_set_ctrl(m, bio_ctrl_cb) || !BIO_meth_set_create(m, bio_create_cb)) {
    BIO_meth_free(m);
    return;
  }
  bio_method = m;
}

/* ------------------------------------------------------------------ */
/* Configurations                                                       */

static int conn_index = -1; /* SSL ex_data slot: unused, SSL_get_app_data suffices */

static int verify_hook(X509_STORE_CTX *x, void *arg);
static int sni_hook(SSL *ssl, int *al, void *arg);

static void apply_verify(os_config *cfg) {
  int mode = SSL_VERIFY_NONE;
  if (cfg->verify != SMTP_TLS_VERIFY_NONE) {
    mode = SSL_VERIFY_PEER;
    if (cfg->role == SMTP_TLS_SERVER && cfg->verify == SMTP_TLS_VERIFY_REQUIRED)
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(cfg->ctx, mode, NULL);
}

static int os_config_new(smtp_tls_config **out, int role, const smtp_mem *mem) {
  os_config *cfg;
  int aes = smtp__tls_cpu_has_aes();
  static const char tls13_aes[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
  static const char tls13_chacha[] = "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384";
  static const char tls12_aes[] =
      "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:ECDHE+AES:!aNULL:!eNULL:!MD5:!DSS";
  static const char tls12_chacha[] =
      "ECDHE+CHACHA20:ECDHE+AESGCM:DHE+CHACHA20:DHE+AESGCM:ECDHE+AES:!aNULL:!eNULL:!MD5:!DSS";
  if (!mem) mem = smtp_mem_default();
  if (pthread_once(&bio_once, bio_method_init) != 0 || !bio_method) return SMTP_ERR_NOMEM;
  (void)conn_index;
  cfg = smtp__calloc(mem, 1, sizeof *cfg);
  if (!cfg) return SMTP_ERR_NOMEM;
  cfg->mem = *mem;
  cfg->role = role;
  cfg->verify = role == SMTP_TLS_CLIENT ? SMTP_TLS_VERIFY_REQUIRED : SMTP_TLS_VERIFY_NONE;
  ERR_clear_error();
  cfg->ctx = SSL_CTX_new(role == SMTP_TLS_CLIENT ? TLS_client_method() : TLS_server_method());
  if (!cfg->ctx) {
    smtp__free(mem, cfg);
    ERR_clear_error();
    return SMTP_ERR_NOMEM;
  }
  if (!SSL_CTX_set_min_proto_version(cfg->ctx, TLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(cfg->ctx, 0) ||
      !SSL_CTX_set_ciphersuites(cfg->ctx, aes ? tls13_aes : tls13_chacha) ||
      !SSL_CTX_set_cipher_list(cfg->ctx, aes ? tls12_aes : tls12_chacha)) {
    SSL_CTX_free(cfg->ctx);
    smtp__free(mem, cfg);
    ERR_clear_error();
    return SMTP_ERR_TLS_CONFIG;
  }
  SSL_CTX_set_options(cfg->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                    SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
  SSL_CTX_set_mode(cfg->ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(cfg->ctx, SSL_SESS_CACHE_OFF);
  if (role == SMTP_TLS_SERVER) {
    SSL_CTX_set_num_tickets(cfg->ctx, 0);
    SSL_CTX_set_tlsext_servername_callback(cfg->ctx, sni_hook);
    SSL_CTX_set_tlsext_servername_arg(cfg->ctx, cfg);
  }
  SSL_CTX_set_cert_verify_callback(cfg->ctx, verify_hook, cfg);
  apply_verify(cfg);
  *out = &cfg->b;
  return SMTP_OK;
}

static void os_config_del(smtp_tls_config *pub) {
  os_config *cfg = (os_config *)(void *)pub;
  smtp_mem mem = cfg->mem;
  SSL_CTX_free(cfg->ctx);
  smtp__free(&mem, cfg);
}

static int pem_pass_cb(char *buf, int size, int rwflag, void *u) {
  size_t n;
  (void)rwflag;
  if (!u || size <= 0) return 0;
  n = strlen(u);
  if (n > (size_t)size) n = (size_t)size;
  memcpy(buf, u, n);
  return (int)n;
}

static int looks_pem(const char *data, size_t len) {
  static const char tag[] = "-----BEGIN";
  for (size_t i = 0; i + sizeof tag - 1 <= len && i < 4096; i++)
    if (memcmp(data + i, tag, sizeof tag - 1) == 0) return 1;
  return 0;
}

/* Parse a chain (leaf first) and a key from memory, check they match and
 * install them (replacing any previous pair). On failure nothing changes. */
static int load_pair(os_config *cfg, const char *cert, size_t cert_len, const char *key,
                     size_t key_len, const char *password) {
  BIO *b = NULL;
  X509 *leaf = NULL;
  STACK_OF(X509) *chain = NULL;
  EVP_PKEY *pk = NULL;
  int rv = SMTP_ERR_TLS_CONFIG;
  if (cert_len > INT32_MAX || key_len > INT32_MAX) return SMTP_ERR_INVALID_ARGUMENT;
  ERR_clear_error();
  chain = sk_X509_new_null();
  b = BIO_new_mem_buf(cert, (int)cert_len);
  if (!chain || !b) goto nomem;
  if (looks_pem(cert, cert_len)) {
    X509 *x;
    leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    while (leaf && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
      if (!sk_X509_push(chain, x)) {
        X509_free(x);
        goto nomem;
      }
    }
  } else {
    leaf = d2i_X509_bio(b, NULL);
  }
  if (!leaf) {
    cfg_error(cfg, "certificate");
    goto done;
  }
  ERR_clear_error(); /* the end of the PEM list */
  BIO_free(b);
  b = BIO_new_mem_buf(key, (int)key_len);
  if (!b) goto nomem;
  if (looks_pem(key, key_len))
    pk = PEM_read_bio_PrivateKey(b, NULL, pem_pass_cb, (void *)(uintptr_t)password);
  else
    pk = d2i_PrivateKey_bio(b, NULL);
  if (!pk) {
    cfg_error(cfg, "private key");
    goto done;
  }
  if (!X509_check_private_key(leaf, pk)) {
    cfg_error(cfg, "the key does not match the certificate");
    goto done;
  }
  if (!SSL_CTX_use_cert_and_key(cfg->ctx, leaf, pk, chain, 1)) {
    if (is_nomem()) goto nomem;
    cfg_error(cfg, "certificate");
    goto done;
  }
  cfg->have_own = 1;
  rv = SMTP_OK;
  goto done;
nomem:
  ERR_clear_error();
  rv = SMTP_ERR_NOMEM;
done:
  BIO_free(b);
  X509_free(leaf);
  EVP_PKEY_free(pk);
  sk_X509_pop_free(chain, X509_free);
  return rv;
}

/* Read a whole (small) file: certificates and keys. */
static int read_file(os_config *cfg, const char *path, char **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;
  *data = NULL;
  *len = 0;
  if (!f) {
    snprintf(cfg->err, ERRBUF, "%s: cannot open", path);
    return SMTP_ERR_TLS_CONFIG;
  }
  for (;;) {
    size_t r;
    if (n == cap) {
      char *nb;
      if (cap >= (1u << 24)) { /* 16 MiB: not a certificate file */
        snprintf(cfg->err, ERRBUF, "%s: too large", path);
        smtp__free(&cfg->mem, buf);
        fclose(f);
        return SMTP_ERR_TLS_CONFIG;
      }
      cap = cap ? cap * 2 : 8192;
      nb = smtp__realloc(&cfg->mem, buf, cap);
      if (!nb) {
        smtp__free(&cfg->mem, buf);
        fclose(f);
        return SMTP_ERR_NOMEM;
      }
      buf = nb;
    }
    r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  fclose(f);
  *data = buf;
  *len = n;
  return SMTP_OK;
}

static void free_secret(const smtp_mem *mem, char *p, size_t n) {
  if (!p) return;
  OPENSSL_cleanse(p, n);
  smtp__free(mem, p);
}

static int os_cert_file(smtp_tls_config *pub, const char *cert_file, const char *key_file,
                        const char *password, int replace) {
  os_config *cfg = (os_config *)(void *)pub;
  char *cert = NULL, *key = NULL;
  size_t cl = 0, kl = 0;
  int rv;
  if (cfg->have_own && !replace) return SMTP_ERR_INVALID_STATE;
  cfg->err[0] = 0;
  rv = read_file(cfg, cert_file, &cert, &cl);
  if (rv == 0) rv = read_file(cfg, key_file, &key, &kl);
  if (rv == 0 && (cl == 0 || kl == 0)) {
    snprintf(cfg->err, ERRBUF, "%s: empty", cl == 0 ? cert_file : key_file);
    rv = SMTP_ERR_TLS_CONFIG;
  }
  if (rv == 0) {
    rv = load_pair(cfg, cert, cl, key, kl, password);
    if (rv == SMTP_ERR_TLS_CONFIG) {
      char tmp[ERRBUF];
      memcpy(tmp, cfg->err, sizeof tmp);
      snprintf(cfg->err, ERRBUF, "%.80s / %.80s: %.80s", cert_file, key_file, tmp);
    }
  }
  smtp__free(&cfg->mem, cert);
  free_secret(&cfg->mem, key, kl);
  return rv;
}

static int os_cert_mem(smtp_tls_config *pub, const char *cert, size_t cert_len, const char *key,
                       size_t key_len, const char *password) {
  os_config *cfg = (os_config *)(void *)pub;
  if (cfg->have_own) return SMTP_ERR_INVALID_STATE;
  cfg->err[0] = 0;
  return load_pair(cfg, cert, cert_len, key, key_len, password);
}

static int add_ext(X509 *x, int nid, const char *value) {
  X509V3_CTX v3;
  X509_EXTENSION *e;
  int ok;
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  if (!e) return 0;
  ok = X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  return ok;
}

static int os_self_signed(smtp_tls_config *pub, const char *hostname) {
  os_config *cfg = (os_config *)(void *)pub;
  EVP_PKEY *pk = NULL;
  X509 *x = NULL;
  BIGNUM *bn = NULL;
  unsigned char serial[16];
  char san[300];
  X509_NAME *name;
  int rv = SMTP_ERR_TLS_CONFIG;
  if (cfg->have_own) return SMTP_ERR_INVALID_STATE;
  cfg->err[0] = 0;
  ERR_clear_error();
  pk = EVP_EC_gen("P-256");
  x = X509_new();
  if (!pk || !x) {
    rv = is_nomem() ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
    cfg_error(cfg, "key generation");
    goto done;
  }
  /* Positive, non-zero 128-bit serial (RFC 5280 4.1.2.2). */
  if (RAND_bytes(serial, (int)sizeof serial) != 1) goto fail;
  serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x01);
  bn = BN_bin2bn(serial, (int)sizeof serial, NULL);
  snprintf(san, sizeof san, "DNS:%s", hostname); /* hostname is [A-Za-z0-9.*-] only */
  name = X509_get_subject_name(x);
  if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
      !X509_gmtime_adj(X509_getm_notBefore(x), -86400L) ||
      !X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650) || !X509_set_pubkey(x, pk) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1,
                                  -1, 0) ||
      !X509_set_issuer_name(x, name) ||
      !add_ext(x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !add_ext(x, NID_key_usage, "digitalSignature,keyCertSign") ||
      !add_ext(x, NID_subject_key_identifier, "hash") ||
      !add_ext(x, NID_authority_key_identifier, "keyid:always") ||
      !add_ext(x, NID_subject_alt_name, san) || X509_sign(x, pk, EVP_sha256()) <= 0)
    goto fail;
  if (!SSL_CTX_use_cert_and_key(cfg->ctx, x, pk, NULL, 1)) goto fail;
  cfg->have_own = 1;
  rv = SMTP_OK;
  goto done;
fail:
  rv = is_nomem() ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
  cfg_error(cfg, "self-signed certificate");
done:
  BN_free(bn);
  X509_free(x);
  EVP_PKEY_free(pk);
  return rv;
}

/* Append @x as PEM to @b. */
static int pem_out(BIO *b, X509 *x) { return PEM_write_bio_X509(b, x) == 1; }

static int bio_to_buf(BIO *b, char *buf, size_t len, size_t *out_len) {
  char *p = NULL;
  long n = BIO_get_mem_data(b, &p);
  size_t total = n > 0 ? (size_t)n : 0;
  *out_len = total;
  if (total + 1 > len) return SMTP_ERR_BUFFER_TOO_SMALL;
  if (total) memcpy(buf, p, total);
  buf[total] = 0;
  return SMTP_OK;
}

static int os_export_cert(const smtp_tls_config *pub, char *buf, size_t len, size_t *out_len) {
  const os_config *cfg = (const os_config *)(const void *)pub;
  X509 *leaf;
  STACK_OF(X509) *chain = NULL;
  BIO *b;
  int rv;
  if (!cfg->have_own || !(leaf = SSL_CTX_get0_certificate(cfg->ctx))) return SMTP_ERR_NOT_FOUND;
  b = BIO_new(BIO_s_mem());
  if (!b) return SMTP_ERR_NOMEM;
  SSL_CTX_get0_chain_certs(cfg->ctx, &chain);
  rv = pem_out(b, leaf) ? SMTP_OK : SMTP_ERR_NOMEM;
  for (int i = 0; rv == 0 && chain && i < sk_X509_num(chain); i++)
    if (!pem_out(b, sk_X509_value(chain, i))) rv = SMTP_ERR_NOMEM;
  if (rv == 0) rv = bio_to_buf(b, buf, len, out_len);
  BIO_free(b);
  ERR_clear_error();
  return rv;
}

static int os_export_key(const smtp_tls_config *pub, char *buf, size_t len) {
  const os_config *cfg = (const os_config *)(const void *)pub;
  EVP_PKEY *pk;
  BIO *b;
  size_t n;
  int rv;
  if (!cfg->have_own || !(pk = SSL_CTX_get0_privatekey(cfg->ctx))) return SMTP_ERR_NOT_FOUND;
  b = BIO_new(BIO_s_mem());
  if (!b) return SMTP_ERR_NOMEM;
  rv = PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) == 1 ? SMTP_OK : SMTP_ERR_NOMEM;
  if (rv == 0) rv = bio_to_buf(b, buf, len, &n);
  BIO_free(b);
  ERR_clear_error();
  return rv;
}

static int os_ca_file(smtp_tls_config *pub, const char *path) {
  os_config *cfg = (os_config *)(void *)pub;
  cfg->err[0] = 0;
  ERR_clear_error();
  if (!X509_STORE_load_file(SSL_CTX_get_cert_store(cfg->ctx), path)) {
    if (is_nomem()) {
      ERR_clear_error();
      return SMTP_ERR_NOMEM;
    }
    cfg_error(cfg, path);
    return SMTP_ERR_TLS_CONFIG;
  }
  cfg->have_ca = 1;
  return SMTP_OK;
}

static int os_ca_dir(smtp_tls_config *pub, const char *path) {
  os_config *cfg = (os_config *)(void *)pub;
  cfg->err[0] = 0;
  ERR_clear_error();
  /* Looked up by subject hash at verification time (c_rehash layout, as
   * /etc/ssl/certs); OpenSSL opens the directory only then, so check now
   * that it can be read. */
  {
    DIR *d = opendir(path);
    if (!d) {
      snprintf(cfg->err, ERRBUF, "%.200s: cannot open the directory", path);
      return SMTP_ERR_TLS_CONFIG;
    }
    closedir(d);
  }
  if (!X509_STORE_load_path(SSL_CTX_get_cert_store(cfg->ctx), path)) {
    cfg_error(cfg, path);
    return SMTP_ERR_TLS_CONFIG;
  }
  cfg->have_ca = 1;
  return SMTP_OK;
}

static int os_ca_mem(smtp_tls_config *pub, const char *pem, size_t len) {
  os_config *cfg = (os_config *)(void *)pub;
  X509_STORE *st = SSL_CTX_get_cert_store(cfg->ctx);
  BIO *b;
  X509 *x;
  int added = 0, rv = SMTP_OK;
  if (len > INT32_MAX) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->err[0] = 0;
  ERR_clear_error();
  b = BIO_new_mem_buf(pem, (int)len);
  if (!b) return SMTP_ERR_NOMEM;
  if (looks_pem(pem, len)) {
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
      if (X509_STORE_add_cert(st, x)) added++;
      else if (is_nomem()) rv = SMTP_ERR_NOMEM;
      X509_free(x);
    }
  } else if ((x = d2i_X509_bio(b, NULL)) != NULL) {
    if (X509_STORE_add_cert(st, x)) added++;
    X509_free(x);
  }
  BIO_free(b);
  if (rv != 0) {
    ERR_clear_error();
    return rv;
  }
  if (!added) {
    cfg_error(cfg, "CA certificate");
    return SMTP_ERR_TLS_CONFIG;
  }
  ERR_clear_error();
  cfg->have_ca = 1;
  return SMTP_OK;
}

static int os_system_ca(smtp_tls_config *pub) {
  os_config *cfg = (os_config *)(void *)pub;
  static const char *const paths[] = {SMTP_TLS_SYSTEM_CA_FILE, "/etc/pki/tls/certs/ca-bundle.crt",
                                      "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem"};
  int rv = SMTP_ERR_TLS_CONFIG;
  cfg->system_ca_tried = 1;
  for (size_t i = 0; i < SMTP__ARRAY_LEN(paths); i++) {
    rv = os_ca_file(pub, paths[i]);
    if (rv == SMTP_OK || rv == SMTP_ERR_NOMEM) return rv;
  }
  snprintf(cfg->err, ERRBUF, "no system trust store found (%s)", SMTP_TLS_SYSTEM_CA_FILE);
  return rv;
}

static int os_set_verify(smtp_tls_config *pub, int mode) {
  os_config *cfg = (os_config *)(void *)pub;
  cfg->verify = mode;
  apply_verify(cfg);
  return SMTP_OK;
}

static int os_set_versions(smtp_tls_config *pub, int min_version, int max_version) {
  os_config *cfg = (os_config *)(void *)pub;
  if (max_version == 0) max_version = SMTP_TLS_VERSION_1_3;
  if ((min_version != SMTP_TLS_VERSION_1_2 && min_version != SMTP_TLS_VERSION_1_3) ||
      (max_version != SMTP_TLS_VERSION_1_2 && max_version != SMTP_TLS_VERSION_1_3) ||
      min_version > max_version)
    return SMTP_ERR_INVALID_ARGUMENT;
  if (!SSL_CTX_set_min_proto_version(cfg->ctx, min_version == SMTP_TLS_VERSION_1_3 ? TLS1_3_VERSION
                                                                                 : TLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(cfg->ctx, max_version == SMTP_TLS_VERSION_1_3 ? TLS1_3_VERSION
                                                                                 : TLS1_2_VERSION)) {
    ERR_clear_error();
    return SMTP_ERR_UNSUPPORTED;
  }
  return SMTP_OK;
}

static int os_set_sni(smtp_tls_config *pub, smtp_tls_on_sni cb, void *ud) {
  os_config *cfg = (os_config *)(void *)pub;
  cfg->sni_cb = cb;
  cfg->sni_ud = ud;
  return SMTP_OK;
}

static int os_config_last_error(const smtp_tls_config *pub, char *buf, size_t len) {
  const os_config *cfg = (const os_config *)(const void *)pub;
  snprintf(buf, len, "%s", cfg->err);
  return SMTP_OK;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */

static os_conn *conn_of_ssl(const SSL *ssl) { return SSL_get_app_data(ssl); }

static int sni_hook(SSL *ssl, int *al, void *arg) {
  os_config *cfg = arg;
  os_conn *c = conn_of_ssl(ssl);
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  int r = 0;
  if (!c) return SSL_TLSEXT_ERR_ALERT_FATAL;
  if (name) {
    size_t len = strlen(name);
    /* Untrusted bytes: recorded bounded, never interpreted. */
    c->has_sni = 1;
    c->sni_len = len < sizeof c->sni - 1 ? len : sizeof c->sni - 1;
    memcpy(c->sni, name, c->sni_len);
    c->sni[c->sni_len] = 0;
    if (cfg->sni_cb) {
      c->in_sni = 1;
      r = cfg->sni_cb(&c->b, name, len, cfg->sni_ud);
      c->in_sni = 0;
    }
  }
  if (r == 0 && !cfg->have_own && !c->sni_cert) r = -1; /* never anonymous */
  if (r != 0) {
    *al = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

static int os_use_cert(smtp_tls_conn *pub, const smtp_tls_config *opub) {
  os_conn *c = (os_conn *)(void *)pub;
  const os_config *other = (const os_config *)(const void *)opub;
  X509 *leaf;
  EVP_PKEY *pk;
  STACK_OF(X509) *chain = NULL;
  if (!c->in_sni) return SMTP_ERR_INVALID_STATE;
  if (!other->have_own) return SMTP_ERR_NOT_FOUND;
  leaf = SSL_CTX_get0_certificate(other->ctx);
  pk = SSL_CTX_get0_privatekey(other->ctx);
  if (!leaf || !pk) return SMTP_ERR_NOT_FOUND;
  SSL_CTX_get0_chain_certs(other->ctx, &chain);
  if (!SSL_use_cert_and_key(c->ssl, leaf, pk, chain, 1)) {
    ERR_clear_error();
    return SMTP_ERR_NOMEM;
  }
  c->sni_cert = 1;
  return SMTP_OK;
}

/* Verification: OpenSSL's verdict on the chain (and, with SSL_set1_host,
 * the name), then the application's callback. Returns 1 to go on. */
static int verify_hook(X509_STORE_CTX *x, void *arg) {
  const os_config *cfg = arg;
  SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
  os_conn *c = ssl ? conn_of_ssl(ssl) : NULL;
  int ok = X509_verify_cert(x) == 1;
  long res = X509_STORE_CTX_get_error(x);
  if (!c) return ok;
  if (ok) res = X509_V_OK;
  else if (res == X509_V_OK) res = X509_V_ERR_UNSPECIFIED;
  c->verify_done = 1;
  c->vresult = res;
  c->verified = res == X509_V_OK && cfg->verify != SMTP_TLS_VERIFY_NONE;
  if (cfg->verify == SMTP_TLS_VERIFY_NONE) return 1;
  if (cfg->b.verify_cb) {
    STACK_OF(X509) *sk = X509_STORE_CTX_get0_untrusted(x);
    int accept;
    c->vchain = sk;
    accept = smtp__tls_call_verify(&c->b, c->host, res != X509_V_OK,
                                   res != X509_V_OK ? X509_verify_cert_error_string(res) : "",
                                   sk ? (size_t)sk_X509_num(sk) : 0);
    c->vchain = NULL;
    c->verified = accept;
    c->cb_refused = !accept;
    if (accept) X509_STORE_CTX_set_error(x, X509_V_OK);
    else if (res == X509_V_OK) X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
  }
  if (cfg->verify == SMTP_TLS_VERIFY_OPTIONAL) return 1;
  return c->verified;
}

static int ip_literal(const char *h) {
  for (; *h; h++)
    if (!(smtp__is_digit(*h) || *h == '.' || *h == ':' || (*h >= 'a' && *h <= 'f') ||
          (*h >= 'A' && *h <= 'F')))
      return 0;
  return 1;
}

static int is_ip(const char *h) {
  size_t dots = 0, colons = 0;
  if (!ip_literal(h)) return 0;
  for (const char *p = h; *p; p++) {
    if (*p == '.') dots++;
    if (*p == ':') colons++;
  }
  return colons >= 2 || dots == 3;
}

static void os_conn_del(smtp_tls_conn *pub);

static int os_conn_new(smtp_tls_conn **out, const smtp_tls_config *pcfg, const char *hostname,
                       const smtp_mem *mem) {
  const os_config *cfg = (const os_config *)(const void *)pcfg;
  os_config *mcfg = (os_config *)(void *)pcfg; /* only the lazy trust store below */
  os_conn *c;
  BIO *bio;
  int ret;
  if (cfg->role == SMTP_TLS_SERVER) {
    if (hostname) return SMTP_ERR_INVALID_ARGUMENT;
    if (!cfg->have_own && !cfg->sni_cb) {
      snprintf(mcfg->err, ERRBUF, "server configuration without certificate");
      return SMTP_ERR_TLS_CONFIG;
    }
  } else {
    if (cfg->verify != SMTP_TLS_VERIFY_NONE && (!hostname || !*hostname)) return SMTP_ERR_INVALID_ARGUMENT;
    if (cfg->verify != SMTP_TLS_VERIFY_NONE && !cfg->have_ca) {
      if (cfg->system_ca_tried) return SMTP_ERR_TLS_CONFIG;
      ret = os_system_ca(&mcfg->b);
      if (ret != 0) return ret;
    }
  }
  if (hostname && strlen(hostname) > 255) return SMTP_ERR_INVALID_ARGUMENT;
  if (!mem) mem = smtp_mem_default();
  c = smtp__calloc(mem, 1, sizeof *c);
  if (!c) return SMTP_ERR_NOMEM;
  c->mem = *mem;
  c->cfg = cfg;
  ERR_clear_error();
  c->ssl = SSL_new(cfg->ctx);
  bio = c->ssl ? BIO_new(bio_method) : NULL;
  if (!bio) {
    os_conn_del(&c->b);
    ERR_clear_error();
    return SMTP_ERR_NOMEM;
  }
  BIO_set_data(bio, c);
  SSL_set_bio(c->ssl, bio, bio); /* one BIO both ways: one reference taken */
  SSL_set_app_data(c->ssl, c);
  if (cfg->role == SMTP_TLS_CLIENT) {
    SSL_set_connect_state(c->ssl);
    if (hostname && *hostname) {
      snprintf(c->host, sizeof c->host, "%s", hostname);
      if (is_ip(hostname)) {
        ret = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), hostname);
      } else {
        SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ret = SSL_set_tlsext_host_name(c->ssl, hostname) == 1 &&
              (cfg->verify == SMTP_TLS_VERIFY_NONE || SSL_set1_host(c->ssl, hostname) == 1);
      }
      if (!ret) {
        os_conn_del(&c->b);
        ERR_clear_error();
        return SMTP_ERR_INVALID_ARGUMENT;
      }
    }
  } else {
    SSL_set_accept_state(c->ssl);
  }
  *out = &c->b;
  return SMTP_OK;
}

static void os_conn_del(smtp_tls_conn *pub) {
  os_conn *c = (os_conn *)(void *)pub;
  smtp_mem mem = c->mem;
  SSL_free(c->ssl);
  smtp__tls_queue_free(&mem, &c->in);
  smtp__tls_queue_free(&mem, &c->out);
  smtp__free(&mem, c);
}

/* Is the oldest queued error an alert the peer sent? */
static int peer_alert(void) {
  unsigned long e = ERR_peek_error();
  int r;
  if (!e || ERR_GET_LIB(e) != ERR_LIB_SSL) return 0;
  r = ERR_GET_REASON(e);
  /* SSL_R_SSLV3_ALERT_* and SSL_R_TLSV1_ALERT_* are 1000 + the alert. */
  return r >= 1000 && r < 1256;
}

/* The one place where OpenSSL results become libsmtp errors. WANT_* is
 * WOULDBLOCK (not sticky); everything else is sticky. */
static int map_err(os_conn *c, int ret, int handshake) {
  int e = SSL_get_error(c->ssl, ret);
  switch (e) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    err_reset();
    return SMTP_ERR_WOULDBLOCK;
  case SSL_ERROR_ZERO_RETURN:
    snprintf(c->errbuf, ERRBUF, "the peer sent close_notify");
    ERR_clear_error();
    c->err = handshake ? SMTP_ERR_TLS_HANDSHAKE : SMTP_ERR_TLS_CLOSED;
    return c->err;
  default: break;
  }
  if (is_nomem()) {
    snprintf(c->errbuf, ERRBUF, "out of memory");
    ERR_clear_error();
    c->err = SMTP_ERR_NOMEM;
    return c->err;
  }
  if (handshake && c->verify_done && !c->verified && c->cfg->verify == SMTP_TLS_VERIFY_REQUIRED) {
    if (c->cb_refused)
      snprintf(c->errbuf, ERRBUF, "certificate refused by the verification callback");
    else
      snprintf(c->errbuf, ERRBUF, "certificate verification failed: %s",
               X509_verify_cert_error_string(c->vresult));
    ERR_clear_error();
    c->err = SMTP_ERR_TLS_VERIFY;
    return c->err;
  }
  if (e == SSL_ERROR_SYSCALL ||
      (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
    snprintf(c->errbuf, ERRBUF, "the connection ended %s",
             handshake ? "during the handshake" : "without close_notify");
    ERR_clear_error();
    c->err = handshake ? SMTP_ERR_TLS_HANDSHAKE : SMTP_ERR_EOF;
    return c->err;
  }
  if (peer_alert()) {
    err_text(c->errbuf, "the peer sent a fatal alert: ");
    c->err = handshake ? SMTP_ERR_TLS_HANDSHAKE : SMTP_ERR_TLS_CLOSED;
    return c->err;
  }
  err_text(c->errbuf, handshake ? "handshake failed: " : "");
  c->err = handshake ? SMTP_ERR_TLS_HANDSHAKE : SMTP_ERR_TLS;
  return c->err;
}

static int os_handshake(smtp_tls_conn *pub) {
  os_conn *c = (os_conn *)(void *)pub;
  int ret;
  if (c->err) return c->err;
  if (c->state == ST_OPEN) return 0;
  ERR_clear_error();
  ret = SSL_do_handshake(c->ssl);
  if (ret == 1) {
    c->state = ST_OPEN;
    return 0;
  }
  return map_err(c, ret, 1);
}

static int os_is_established(const smtp_tls_conn *pub) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  return c->state == ST_OPEN && !c->err ? 1 : 0;
}

static smtp_ssize os_feed(smtp_tls_conn *pub, const char *data, size_t len) {
  os_conn *c = (os_conn *)(void *)pub;
  smtp_ssize n;
  if (c->in_eof) return SMTP_ERR_INVALID_STATE;
  n = smtp__tls_queue_put(&c->mem, &c->in, data, len, IN_CAP);
  if (n > 0) c->starved = 0;
  return n;
}

static size_t os_feed_space(const smtp_tls_conn *pub) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  return !c->in_eof ? IN_CAP - c->in.len : 0;
}

static int os_feed_eof(smtp_tls_conn *pub) {
  os_conn *c = (os_conn *)(void *)pub;
  c->in_eof = 1;
  c->starved = 0;
  return SMTP_OK;
}

static smtp_ssize os_pending_output(smtp_tls_conn *pub, const char **data) {
  os_conn *c = (os_conn *)(void *)pub;
  *data = c->out.p ? c->out.p + c->out.head : "";
  return (smtp_ssize)c->out.len;
}

static int os_consume_output(smtp_tls_conn *pub, size_t n) {
  os_conn *c = (os_conn *)(void *)pub;
  if (n > c->out.len) return SMTP_ERR_INVALID_ARGUMENT;
  if (n) smtp__tls_queue_drop(&c->mem, &c->out, n);
  return SMTP_OK;
}

static smtp_ssize os_read(smtp_tls_conn *pub, char *buf, size_t len) {
  os_conn *c = (os_conn *)(void *)pub;
  size_t n = 0;
  int ret;
  if (c->err) return c->err;
  if (c->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  if (len > INT32_MAX) len = INT32_MAX;
  /* OpenSSL asked for more ciphertext and none came since: asking again
   * would only say so again (after allocating and releasing its record
   * buffer). The driver reads after every wake-up, so this is the common
   * case on a busy session. */
  if (c->starved && c->in.len == 0) return SMTP_ERR_WOULDBLOCK;
  err_reset();
  ret = SSL_read_ex(c->ssl, buf, len, &n);
  if (ret == 1 && n > 0) return (smtp_ssize)n;
  ret = map_err(c, ret, 0);
  if (ret == SMTP_ERR_WOULDBLOCK && SSL_want_read(c->ssl)) c->starved = 1;
  return ret;
}

static int os_has_pending(const smtp_tls_conn *pub) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  if (c->err) return 0;
  if (c->ssl && SSL_has_pending(c->ssl)) return 1;
  return c->in.len > 0 ? 1 : 0;
}

static smtp_ssize os_write(smtp_tls_conn *pub, const char *data, size_t len) {
  os_conn *c = (os_conn *)(void *)pub;
  size_t n = 0;
  int ret, e;
  if (c->err) return c->err;
  if (c->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  if (c->write_pending) {
    /* OpenSSL wants the same length again after WANT_WRITE. */
    if (len < c->write_pending) return SMTP_ERR_INVALID_ARGUMENT;
    len = c->write_pending;
  } else if (len > MAX_WRITE) {
    len = MAX_WRITE;
  }
  err_reset();
  ret = SSL_write_ex(c->ssl, data, len, &n);
  if (ret == 1) {
    c->write_pending = 0;
    return (smtp_ssize)n;
  }
  e = map_err(c, ret, 0);
  if (e == SMTP_ERR_WOULDBLOCK) c->write_pending = len;
  return e;
}

static int os_close_notify(smtp_tls_conn *pub) {
  os_conn *c = (os_conn *)(void *)pub;
  int ret, e;
  if (c->state != ST_OPEN || c->err == SMTP_ERR_TLS_HANDSHAKE || c->err == SMTP_ERR_TLS_VERIFY ||
      c->err == SMTP_ERR_NOMEM)
    return SMTP_ERR_INVALID_STATE;
  ERR_clear_error();
  ret = SSL_shutdown(c->ssl);
  if (ret >= 0) return 0; /* 0: ours is out, the peer's not seen yet */
  e = SSL_get_error(c->ssl, ret);
  if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
    ERR_clear_error();
    return SMTP_ERR_WOULDBLOCK;
  }
  e = is_nomem() ? SMTP_ERR_NOMEM : SMTP_ERR_TLS;
  ERR_clear_error();
  return e;
}

static int os_get_info(const smtp_tls_conn *pub, smtp_tls_info *info) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  const SSL_CIPHER *ciph;
  if (c->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  memset(info, 0, sizeof *info);
  info->protocol = SSL_get_version(c->ssl);
  ciph = SSL_get_current_cipher(c->ssl);
  info->cipher = ciph ? SSL_CIPHER_standard_name(ciph) : NULL;
  info->sni = c->has_sni ? c->sni : NULL;
  info->has_peer_cert = SSL_get0_peer_certificate(c->ssl) ? 1 : 0;
  info->peer_verified = info->has_peer_cert && c->verified ? 1 : 0;
  return SMTP_OK;
}

static int os_last_error(const smtp_tls_conn *pub, char *buf, size_t len) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  snprintf(buf, len, "%s", c->errbuf);
  return SMTP_OK;
}

/* The peer's certificate at @index: the leaf first. */
static X509 *peer_at(const os_conn *c, size_t index) {
  STACK_OF(X509) *sk;
  X509 *leaf;
  if (c->vchain) return index < (size_t)sk_X509_num(c->vchain) ? sk_X509_value(c->vchain, (int)index) : NULL;
  leaf = SSL_get0_peer_certificate(c->ssl);
  if (!leaf) return NULL;
  if (index == 0) return leaf;
  sk = SSL_get_peer_cert_chain(c->ssl);
  if (!sk) return NULL;
  /* A client's view of the chain starts with the leaf; a server's not. */
  if (sk_X509_num(sk) > 0 && X509_cmp(sk_X509_value(sk, 0), leaf) == 0) index++;
  index--;
  return index < (size_t)sk_X509_num(sk) ? sk_X509_value(sk, (int)index) : NULL;
}

static int os_peer_cert(const smtp_tls_conn *pub, size_t index, uint8_t *buf, size_t cap,
                        size_t *len) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  X509 *x;
  int n;
  unsigned char *p = buf;
  if (!c->vchain && c->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  x = peer_at(c, index);
  if (!x) return SMTP_ERR_NOT_FOUND;
  n = i2d_X509(x, NULL);
  if (n <= 0) return SMTP_ERR_NOMEM;
  *len = (size_t)n;
  if ((size_t)n > cap) return SMTP_ERR_BUFFER_TOO_SMALL;
  if (i2d_X509(x, &p) != n) return SMTP_ERR_NOMEM;
  return SMTP_OK;
}

static int os_peer_verify_result(const smtp_tls_conn *pub, char *reason, size_t len) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  if (!c->verify_done || c->cfg->verify == SMTP_TLS_VERIFY_NONE)
    return c->state == ST_OPEN || c->verify_done ? SMTP_ERR_NOT_FOUND : SMTP_ERR_INVALID_STATE;
  if (c->vresult == X509_V_OK) return SMTP_OK;
  if (reason) snprintf(reason, len, "%s", X509_verify_cert_error_string(c->vresult));
  return SMTP_ERR_TLS_VERIFY;
}

static int os_peer_subject(const smtp_tls_conn *pub, char *buf, size_t len) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  X509 *x;
  BIO *b;
  char *p = NULL;
  long n;
  if (!c->vchain && c->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  x = peer_at(c, 0);
  if (!x) return SMTP_ERR_NOT_FOUND;
  b = BIO_new(BIO_s_mem());
  if (!b) return SMTP_ERR_NOMEM;
  X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  n = BIO_get_mem_data(b, &p);
  snprintf(buf, len, "%.*s", n > 0 ? (int)n : 0, p ? p : "");
  BIO_free(b);
  ERR_clear_error();
  return SMTP_OK;
}

static int os_peer_cn(const smtp_tls_conn *pub, char *buf, size_t cap, size_t *len) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  X509 *x;
  X509_NAME *nm;
  const ASN1_STRING *v;
  int i, t;
  if (c->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  x = peer_at(c, 0);
  if (!x) return SMTP_ERR_NOT_FOUND;
  nm = X509_get_subject_name(x);
  i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
  if (i < 0 || X509_NAME_get_index_by_NID(nm, NID_commonName, i) >= 0) return SMTP_ERR_NOT_FOUND;
  v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i));
  t = v ? ASN1_STRING_type(v) : -1;
  if (t != V_ASN1_UTF8STRING && t != V_ASN1_PRINTABLESTRING && t != V_ASN1_IA5STRING)
    return SMTP_ERR_NOT_FOUND;
  return smtp__tls_copy_out(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v), (uint8_t *)buf,
                            cap, len);
}

static int os_channel_binding(const smtp_tls_conn *pub, int type, uint8_t *out, size_t cap,
                              size_t *len) {
  const os_conn *c = (const os_conn *)(const void *)pub;
  static const char label[] = "EXPORTER-Channel-Binding";
  unsigned char tmp[EVP_MAX_MD_SIZE];
  if (type == SMTP_TLS_CB_EXPORTER) {
    /* RFC 9266 2: 32 bytes, empty context (no context value). */
    if (SSL_export_keying_material(c->ssl, tmp, 32, label, sizeof label - 1, NULL, 0, 0) != 1) {
      ERR_clear_error();
      return SMTP_ERR_UNSUPPORTED;
    }
    return smtp__tls_copy_out(tmp, 32, out, cap, len);
  }
  if (type == SMTP_TLS_CB_SERVER_END_POINT) {
    X509 *x = c->cfg->role == SMTP_TLS_CLIENT ? SSL_get0_peer_certificate(c->ssl)
                                               : SSL_get_certificate(c->ssl);
    const EVP_MD *md = NULL;
    int mdnid = NID_undef;
    unsigned int n = 0;
    if (!x) return SMTP_ERR_UNSUPPORTED;
    /* RFC 5929 4.1: the signature's hash; SHA-256 for MD5 and SHA-1. */
    if (X509_get_signature_info(x, &mdnid, NULL, NULL, NULL) == 1 && mdnid != NID_undef &&
        mdnid != NID_md5 && mdnid != NID_sha1)
      md = EVP_get_digestbynid(mdnid);
    if (!md) md = EVP_sha256();
    if (X509_digest(x, md, tmp, &n) != 1) {
      ERR_clear_error();
      return SMTP_ERR_UNSUPPORTED;
    }
    return smtp__tls_copy_out(tmp, n, out, cap, len);
  }
  /* tls-unique (RFC 5929 3.1): the first Finished of the handshake, TLS
   * 1.2 only. Without resumption the client sends it. */
  if (SSL_version(c->ssl) != TLS1_2_VERSION || SSL_session_reused(c->ssl))
    return SMTP_ERR_UNSUPPORTED;
  {
    size_t n = c->cfg->role == SMTP_TLS_CLIENT ? SSL_get_finished(c->ssl, tmp, sizeof tmp)
                                               : SSL_get_peer_finished(c->ssl, tmp, sizeof tmp);
    if (n == 0 || n > sizeof tmp) return SMTP_ERR_UNSUPPORTED;
    return smtp__tls_copy_out(tmp, n, out, cap, len);
  }
}

/* DANE-TA's chain step (RFC 7672 3.1.2): the issuer's subject names the
 * child's issuer (and its key identifier, when both carry one) and its key
 * verifies the child's signature. */
static int os_x509_signed_by(const unsigned char *child, size_t child_len,
                             const unsigned char *issuer, size_t issuer_len) {
  const unsigned char *cp = child, *ip = issuer;
  X509 *c, *i;
  int ok = 0;
  if (child_len > LONG_MAX || issuer_len > LONG_MAX) return 0;
  c = d2i_X509(NULL, &cp, (long)child_len);
  i = d2i_X509(NULL, &ip, (long)issuer_len);
  if (c && i && X509_check_issued(i, c) == X509_V_OK) {
    EVP_PKEY *k = X509_get0_pubkey(i);
    ok = k && X509_verify(c, k) == 1;
  }
  X509_free(c);
  X509_free(i);
  ERR_clear_error();
  return ok;
}

const smtp__tls_backend smtp__tls_openssl = {
    SMTP_TLS_BACKEND_OPENSSL, "openssl", os_version,
    os_config_new, os_config_del, os_cert_file, os_cert_mem, os_self_signed, os_export_cert,
    os_export_key, os_ca_file, os_ca_dir, os_ca_mem, os_system_ca, os_set_verify, os_set_versions,
    os_set_sni, os_config_last_error, os_conn_new, os_conn_del, os_handshake, os_is_established,
    os_feed, os_feed_space, os_feed_eof, os_pending_output, os_consume_output, os_read,
    os_has_pending, os_write, os_close_notify, os_get_info, os_last_error, os_use_cert,
    os_peer_cert, os_peer_verify_result, os_peer_subject, os_channel_binding,
    os_x509_signed_by, os_peer_cn,
};
