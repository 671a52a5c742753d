/* TLS over memory with Mbed TLS (tls.h).
 *
 * Mbed TLS is driven through mbedtls_ssl_set_bio() with two callbacks that
 * read and write this connection's own ciphertext buffers and return
 * MBEDTLS_ERR_SSL_WANT_READ / WANT_WRITE when those are empty or full. All
 * Mbed TLS return codes become libsmtp errors in one function, map_ret().
 *
 * Every difference between Mbed TLS 2.28 and 3.x lives in this file behind
 * MBEDTLS_VERSION_NUMBER tests:
 *  - 3.x needs psa_crypto_init() before TLS 1.3 or PSA-backed crypto;
 *  - mbedtls_pk_parse_key/_keyfile and mbedtls_pk_check_pair take an RNG
 *    in 3.x;
 *  - versions: mbedtls_ssl_conf_min_tls_version(MBEDTLS_SSL_VERSION_TLS1_2)
 *    (3.2+) instead of mbedtls_ssl_conf_min_version(3, 3);
 *  - x509write serial: mbedtls_x509write_crt_set_serial_raw (3.4+) instead
 *    of an mbedtls_mpi;
 *  - TLS 1.3 (3.2+ with MBEDTLS_SSL_PROTO_TLS1_3): a client read may return
 *    MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET, which is not an error.
 * Only public struct fields are touched (crt->raw, crt->next, crt->pk).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/version.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ecp.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/bignum.h>
#include <mbedtls/md.h>

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#define SMTP__MBED3 1
#else
#define SMTP__MBED3 0
#endif

#if MBEDTLS_VERSION_NUMBER >= 0x03020000 && defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define SMTP__HAVE_TLS13 1
#else
#define SMTP__HAVE_TLS13 0
#endif

#include "tls_internal.h"

#define ERRBUF 256
#define IN_CAP (17u * 1024u)  /* ciphertext from the transport */
#define OUT_CAP (17u * 1024u) /* ciphertext to the transport: > one full record */

struct mb_gen {
  mbedtls_ssl_config conf;
  mbedtls_x509_crt chain;
  mbedtls_pk_context key;
  struct mb_gen *next;
};

typedef struct mb_config {
  smtp_tls_config b; /* common head (tls_internal.h) */
  smtp_mem mem;
  int role;
  int verify;
  int min_version, max_version;
  int have_own, have_ca, system_ca_tried;
  smtp_tls_on_sni sni_cb;
  void *sni_ud;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt own_chain;
  mbedtls_pk_context own_key;
  mbedtls_x509_crt ca;
  /* What new connections use: the embedded conf/own_chain/own_key, or the
   * newest generation made by a certificate replacement. Older
   * generations stay until the configuration is deleted (connections
   * made from them still point into them). */
  mbedtls_ssl_config *cur_conf;
  mbedtls_x509_crt *cur_chain;
  mbedtls_pk_context *cur_key;
  struct mb_gen *gens;
  int suites[160]; /* the cipher order, 0-terminated (Mbed TLS keeps the pointer) */
  char err[ERRBUF];
} mb_config;

enum { ST_HANDSHAKE = 0, ST_OPEN = 1 };

typedef struct mb_conn {
  smtp_tls_conn b; /* common head (tls_internal.h) */
  smtp_mem mem;
  const mb_config *cfg;
  mbedtls_ssl_context ssl;
  smtp__tls_queue in;  /* ciphertext from the transport, freed when drained */
  smtp__tls_queue out; /* ciphertext to the transport, freed when drained */
  int in_eof;
  int state;
  int err;              /* sticky error, 0 while healthy */
  size_t write_pending; /* length of a write that returned WOULDBLOCK */
  int in_sni;           /* inside the SNI callback */
  int sni_cert;         /* the SNI callback picked a certificate */
  int has_sni;
  size_t sni_len;
  char sni[256];
  char errbuf[ERRBUF];
  /* verification (the callback runs inside the handshake) */
  uint32_t vflags;          /* the library's flags over the whole chain */
  int verify_done;          /* the leaf was checked */
  int cb_refused;           /* the application's callback refused */
  const mbedtls_x509_crt *vchain; /* the peer's chain during the callback */
  const mb_config *sni_cfg; /* certificate picked by the SNI callback */
  const mbedtls_x509_crt *own_chain; /* server: the configuration's chain when made */
  char host[256];           /* expected name (client) */
#if !SMTP__MBED3 && defined(MBEDTLS_SSL_EXPORT_KEYS)
  /* TLS 1.2 exporter (RFC 5705) inputs, from the key export hook */
  int have_keys;
  mbedtls_tls_prf_types prf;
  unsigned char ms[48];
  unsigned char randoms[64];
#endif
} mb_conn;

/* ------------------------------------------------------------------ */

static const char *mb_version(void) { return "Mbed TLS " MBEDTLS_VERSION_STRING; }

static void set_text(char *dst, const char *prefix, int ret) {
  char tmp[ERRBUF - 64];
#if defined(MBEDTLS_ERROR_C)
  mbedtls_strerror(ret, tmp, sizeof tmp);
#else
  snprintf(tmp, sizeof tmp, "Mbed TLS error -0x%04x", (unsigned int)-ret);
#endif
  /* prefix then reason, truncated to ERRBUF (intentionally) */
  size_t n = 0;
  for (const char *q = prefix; *q && n + 1 < ERRBUF; q++) dst[n++] = *q;
  for (const char *q = tmp; *q && n + 1 < ERRBUF; q++) dst[n++] = *q;
  dst[n] = 0;
}

static void cfg_error(mb_config *cfg, const char *what, int ret) {
  char prefix[80];
  snprintf(prefix, sizeof prefix, "%s: ", what);
  set_text(cfg->err, prefix, ret);
}

static int apply_versions(mb_config *cfg) {
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
  mbedtls_ssl_conf_min_tls_version(cfg->cur_conf, cfg->min_version == SMTP_TLS_VERSION_1_3
                                                   ? MBEDTLS_SSL_VERSION_TLS1_3
                                                   : MBEDTLS_SSL_VERSION_TLS1_2);
  mbedtls_ssl_conf_max_tls_version(cfg->cur_conf, cfg->max_version == SMTP_TLS_VERSION_1_3
                                                   ? MBEDTLS_SSL_VERSION_TLS1_3
                                                   : MBEDTLS_SSL_VERSION_TLS1_2);
#else
  /* Before 3.2 (and in 2.28) versions are (major, minor) pairs: 3,3 is TLS 1.2. */
  mbedtls_ssl_conf_min_version(cfg->cur_conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(cfg->cur_conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
  return 0;
}

static int sni_trampoline(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len);

/* Cipher order: AES-GCM first when the CPU has AES instructions, else
 * ChaCha20-Poly1305 first; then whatever else Mbed TLS enables by default.
 * Mbed TLS servers follow their own order. Suites this build lacks are
 * skipped. */
static void set_cipher_order(mb_config *cfg) {
  static const char *const gcm[] = {
      "TLS1-3-AES-128-GCM-SHA256", "TLS1-3-AES-256-GCM-SHA384",
      "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256", "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
      "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384", "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384"};
  static const char *const chacha[] = {"TLS1-3-CHACHA20-POLY1305-SHA256",
                                       "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
                                       "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256"};
  const int *defaults = mbedtls_ssl_list_ciphersuites();
  size_t n = 0;
  int aes = smtp__tls_cpu_has_aes();
  for (int pass = 0; pass < 2; pass++) {
    const char *const *list = (pass == 0) == (aes != 0) ? gcm : chacha;
    size_t len = (pass == 0) == (aes != 0) ? SMTP__ARRAY_LEN(gcm) : SMTP__ARRAY_LEN(chacha);
    for (size_t i = 0; i < len && n + 1 < SMTP__ARRAY_LEN(cfg->suites); i++) {
      int id = mbedtls_ssl_get_ciphersuite_id(list[i]);
      if (id != 0) cfg->suites[n++] = id;
    }
  }
  for (size_t i = 0; defaults[i] != 0 && n + 1 < SMTP__ARRAY_LEN(cfg->suites); i++) {
    size_t j;
    for (j = 0; j < n && cfg->suites[j] != defaults[i]; j++) {
    }
    if (j == n) cfg->suites[n++] = defaults[i];
  }
  cfg->suites[n] = 0;
}
static void mb_config_del(mb_config *cfg);
#if !SMTP__MBED3 && defined(MBEDTLS_SSL_EXPORT_KEYS)
static int keys_hook(void *p, const unsigned char *ms, const unsigned char *kb, size_t maclen,
                     size_t keylen, size_t ivlen, const unsigned char client_random[32],
                     const unsigned char server_random[32], mbedtls_tls_prf_types prf);
#endif

/* Everything a configuration's mbedtls_ssl_config needs besides
 * mbedtls_ssl_config_defaults() and the own certificate. */
static void conf_setup(mb_config *cfg, mbedtls_ssl_config *conf) {
  mbedtls_ssl_config *saved = cfg->cur_conf;
  mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &cfg->drbg);
  mbedtls_ssl_conf_authmode(conf, cfg->verify == SMTP_TLS_VERIFY_REQUIRED
                                      ? MBEDTLS_SSL_VERIFY_REQUIRED
                                      : cfg->verify == SMTP_TLS_VERIFY_OPTIONAL
                                            ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                            : MBEDTLS_SSL_VERIFY_NONE);
  cfg->cur_conf = conf;
  apply_versions(cfg);
  cfg->cur_conf = saved;
  mbedtls_ssl_conf_ciphersuites(conf, cfg->suites);
#if defined(MBEDTLS_SSL_RENEGOTIATION)
  mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
  if (cfg->role == SMTP_TLS_SERVER) mbedtls_ssl_conf_sni(conf, sni_trampoline, cfg);
#endif
  mbedtls_ssl_conf_ca_chain(conf, &cfg->ca, NULL);
#if !SMTP__MBED3 && defined(MBEDTLS_SSL_EXPORT_KEYS)
  mbedtls_ssl_conf_export_keys_ext_cb(conf, keys_hook, NULL);
#endif
}
static void mb_conn_del(mb_conn *conn);

static int mb_config_new(mb_config **out, int role, const smtp_mem *mem) {
  mb_config *cfg;
  int ret;
  static const char pers[] = "libsmtp";
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (role != SMTP_TLS_SERVER && role != SMTP_TLS_CLIENT) return SMTP_ERR_INVALID_ARGUMENT;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
#if SMTP__MBED3 && defined(MBEDTLS_PSA_CRYPTO_C)
  if (psa_crypto_init() != PSA_SUCCESS) return SMTP_ERR_TLS_CONFIG;
#endif
  cfg = smtp__calloc(mem, 1, sizeof *cfg);
  if (!cfg) return SMTP_ERR_NOMEM;
  cfg->mem = *mem;
  cfg->role = role;
  cfg->verify = role == SMTP_TLS_CLIENT ? SMTP_TLS_VERIFY_REQUIRED : SMTP_TLS_VERIFY_NONE;
  cfg->min_version = SMTP_TLS_VERSION_1_2;
  cfg->max_version = SMTP__HAVE_TLS13 ? SMTP_TLS_VERSION_1_3 : SMTP_TLS_VERSION_1_2;
  mbedtls_entropy_init(&cfg->entropy);
  mbedtls_ctr_drbg_init(&cfg->drbg);
  mbedtls_ssl_config_init(&cfg->conf);
  cfg->cur_conf = &cfg->conf;
  cfg->cur_chain = &cfg->own_chain;
  cfg->cur_key = &cfg->own_key;
  mbedtls_x509_crt_init(&cfg->own_chain);
  mbedtls_pk_init(&cfg->own_key);
  mbedtls_x509_crt_init(&cfg->ca);
  ret = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func, &cfg->entropy,
                              (const unsigned char *)pers, sizeof pers - 1);
  if (ret != 0) {
    mb_config_del(cfg);
    return SMTP_ERR_TLS_CONFIG; /* no entropy source */
  }
  ret = mbedtls_ssl_config_defaults(&cfg->conf,
                                    role == SMTP_TLS_CLIENT ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
                                    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) {
    mb_config_del(cfg);
    return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
  }
  set_cipher_order(cfg);
  conf_setup(cfg, &cfg->conf);
  *out = cfg;
  return SMTP_OK;
}

static void mb_config_del(mb_config *cfg) {
  smtp_mem mem;
  if (!cfg) return;
  mem = cfg->mem;
  while (cfg->gens) {
    struct mb_gen *g = cfg->gens;
    cfg->gens = g->next;
    mbedtls_ssl_config_free(&g->conf);
    mbedtls_pk_free(&g->key);
    mbedtls_x509_crt_free(&g->chain);
    smtp__free(&mem, g);
  }
  mbedtls_ssl_config_free(&cfg->conf);
  mbedtls_x509_crt_free(&cfg->ca);
  mbedtls_pk_free(&cfg->own_key);
  mbedtls_x509_crt_free(&cfg->own_chain);
  mbedtls_ctr_drbg_free(&cfg->drbg);
  mbedtls_entropy_free(&cfg->entropy);
  smtp__free(&mem, cfg);
}

/* Copy PEM into a NUL-terminated buffer (Mbed TLS needs the NUL, counted
 * in the length, to recognise PEM); DER is passed through. */
static int with_nul(const smtp_mem *mem, const char *data, size_t len, unsigned char **buf,
                    size_t *blen) {
  int pem = 0;
  static const char tag[] = "-----BEGIN";
  for (size_t i = 0; i + sizeof tag - 1 <= len && i < 4096; i++) {
    if (memcmp(data + i, tag, sizeof tag - 1) == 0) {
      pem = 1;
      break;
    }
  }
  if (!pem) {
    *buf = NULL;
    *blen = len;
    return 0;
  }
  if (len == SIZE_MAX) return SMTP_ERR_INVALID_ARGUMENT;
  *buf = smtp__malloc(mem, len + 1);
  if (!*buf) return SMTP_ERR_NOMEM;
  memcpy(*buf, data, len);
  (*buf)[len] = 0;
  *blen = len + 1;
  return 0;
}

static int parse_key_mem(mb_config *cfg, mbedtls_pk_context *pk, const char *key,
                         size_t key_len, const char *password) {
  unsigned char *tmp;
  size_t tlen;
  int ret = with_nul(&cfg->mem, key, key_len, &tmp, &tlen);
  if (ret != 0) return ret;
  ret = mbedtls_pk_parse_key(pk, tmp ? tmp : (const unsigned char *)key, tlen,
                             (const unsigned char *)password, password ? strlen(password) : 0
#if SMTP__MBED3
                             , mbedtls_ctr_drbg_random, &cfg->drbg
#endif
  );
  if (tmp) {
    mbedtls_platform_zeroize(tmp, tlen);
    smtp__free(&cfg->mem, tmp);
  }
  if (ret != 0) {
    cfg_error(cfg, "private key", ret);
    return ret == MBEDTLS_ERR_PK_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
  }
  return 0;
}

static int parse_crt_mem(mb_config *cfg, mbedtls_x509_crt *chain, const char *data,
                         size_t len, const char *what) {
  unsigned char *tmp;
  size_t tlen;
  int ret = with_nul(&cfg->mem, data, len, &tmp, &tlen);
  if (ret != 0) return ret;
  ret = mbedtls_x509_crt_parse(chain, tmp ? tmp : (const unsigned char *)data, tlen);
  smtp__free(&cfg->mem, tmp);
  if (ret < 0 || chain->version == 0) {
    if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED) return SMTP_ERR_NOMEM;
    cfg_error(cfg, what, ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT);
    return SMTP_ERR_TLS_CONFIG;
  }
  return 0;
}

/* Check the key against the leaf and install the pair (once). */
static int install_own(mb_config *cfg) {
  int ret = mbedtls_pk_check_pair(&cfg->own_chain.pk, &cfg->own_key
#if SMTP__MBED3
                                  , mbedtls_ctr_drbg_random, &cfg->drbg
#endif
  );
  if (ret != 0) {
    cfg_error(cfg, "the key does not match the certificate", ret);
    goto fail;
  }
  ret = mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->own_chain, &cfg->own_key);
  if (ret != 0) {
    cfg_error(cfg, "certificate", ret);
    goto fail;
  }
  cfg->have_own = 1;
  return 0;
fail:
  mbedtls_x509_crt_free(&cfg->own_chain);
  mbedtls_x509_crt_init(&cfg->own_chain);
  mbedtls_pk_free(&cfg->own_key);
  mbedtls_pk_init(&cfg->own_key);
  return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
}

static void drop_own(mb_config *cfg) {
  mbedtls_x509_crt_free(&cfg->own_chain);
  mbedtls_x509_crt_init(&cfg->own_chain);
  mbedtls_pk_free(&cfg->own_key);
  mbedtls_pk_init(&cfg->own_key);
}

static int mb_config_cert_file(mb_config *cfg, const char *cert_file, const char *key_file,
                              const char *password) {
  int ret;
  if (!cfg || !cert_file || !key_file) return SMTP_ERR_INVALID_ARGUMENT;
  if (cfg->have_own) return SMTP_ERR_INVALID_STATE;
  cfg->err[0] = 0;
  ret = mbedtls_x509_crt_parse_file(&cfg->own_chain, cert_file);
  if (ret < 0 || cfg->own_chain.version == 0) {
    cfg_error(cfg, cert_file, ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT);
    drop_own(cfg);
    return ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
  }
  ret = mbedtls_pk_parse_keyfile(&cfg->own_key, key_file, password
#if SMTP__MBED3
                                 , mbedtls_ctr_drbg_random, &cfg->drbg
#endif
  );
  if (ret != 0) {
    cfg_error(cfg, key_file, ret);
    drop_own(cfg);
    return ret == MBEDTLS_ERR_PK_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
  }
  return install_own(cfg);
}

static int mb_config_cert_mem(mb_config *cfg, const char *cert, size_t cert_len,
                             const char *key, size_t key_len, const char *password) {
  int ret;
  if (!cfg || !cert || !key || cert_len == 0 || key_len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (cfg->have_own) return SMTP_ERR_INVALID_STATE;
  cfg->err[0] = 0;
  ret = parse_crt_mem(cfg, &cfg->own_chain, cert, cert_len, "certificate");
  if (ret == 0) ret = parse_key_mem(cfg, &cfg->own_key, key, key_len, password);
  if (ret != 0) {
    drop_own(cfg);
    return ret;
  }
  return install_own(cfg);
}

/* subjectAltName extension value: SEQUENCE { [2] IA5String dNSName }
 * (RFC 5280 4.2.1.6), DER with short or one-byte long lengths. */
static size_t der_san(unsigned char *buf, size_t cap, const char *host) {
  size_t n = strlen(host), inner = 1u + (n < 128 ? 1u : 2u) + n, p = 0;
  if (1u + (inner < 128 ? 1u : 2u) + inner > cap) return 0;
  buf[p++] = 0x30;
  if (inner >= 128) buf[p++] = 0x81;
  buf[p++] = (unsigned char)inner;
  buf[p++] = 0x82;
  if (n >= 128) buf[p++] = 0x81;
  buf[p++] = (unsigned char)n;
  memcpy(buf + p, host, n);
  return p + n;
}

static void fmt_time(char out[16], time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static int mb_config_self_signed(mb_config *cfg, const char *hostname) {
  mbedtls_x509write_cert crt;
  unsigned char serial[16], san[300], *der = NULL;
  char subject[300], not_before[16], not_after[16];
  size_t san_len, der_cap = 4096;
  int ret, rv = SMTP_ERR_TLS_CONFIG;
  time_t now;
  if (!cfg || !hostname || !smtp__tls_valid_dns_name(hostname)) return SMTP_ERR_INVALID_ARGUMENT;
  if (cfg->have_own) return SMTP_ERR_INVALID_STATE;
  cfg->err[0] = 0;
  mbedtls_x509write_crt_init(&crt);
  der = smtp__malloc(&cfg->mem, der_cap);
  if (!der) {
    rv = SMTP_ERR_NOMEM;
    goto done;
  }
  /* ECDSA P-256 key. */
  ret = mbedtls_pk_setup(&cfg->own_key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (ret == 0)
    ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(cfg->own_key),
                              mbedtls_ctr_drbg_random, &cfg->drbg);
  if (ret != 0) {
    cfg_error(cfg, "key generation", ret);
    goto done;
  }
  /* Positive, non-zero 128-bit serial (RFC 5280 4.1.2.2). */
  ret = mbedtls_ctr_drbg_random(&cfg->drbg, serial, sizeof serial);
  if (ret != 0) goto gen_fail;
  serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x01);
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
  ret = mbedtls_x509write_crt_set_serial_raw(&crt, serial, sizeof serial);
#else
  {
    mbedtls_mpi mpi;
    mbedtls_mpi_init(&mpi);
    ret = mbedtls_mpi_read_binary(&mpi, serial, sizeof serial);
    if (ret == 0) ret = mbedtls_x509write_crt_set_serial(&crt, &mpi);
    mbedtls_mpi_free(&mpi);
  }
#endif
  if (ret != 0) goto gen_fail;
  snprintf(subject, sizeof subject, "CN=%s", hostname); /* hostname is [A-Za-z0-9.-] only */
  now = time(NULL);
  fmt_time(not_before, now - 86400);
  fmt_time(not_after, now + 86400L * 3650);
  mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&crt, &cfg->own_key);
  mbedtls_x509write_crt_set_issuer_key(&crt, &cfg->own_key);
  if ((ret = mbedtls_x509write_crt_set_subject_name(&crt, subject)) != 0 ||
      (ret = mbedtls_x509write_crt_set_issuer_name(&crt, subject)) != 0 ||
      (ret = mbedtls_x509write_crt_set_validity(&crt, not_before, not_after)) != 0 ||
      (ret = mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0)) != 0 ||
      (ret = mbedtls_x509write_crt_set_key_usage(
           &crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_CERT_SIGN)) != 0 ||
      (ret = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) != 0 ||
      (ret = mbedtls_x509write_crt_set_authority_key_identifier(&crt)) != 0)
    goto gen_fail;
  san_len = der_san(san, sizeof san, hostname);
  ret = mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                            MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san,
                                            san_len);
  if (ret != 0) goto gen_fail;
  /* The DER is written at the end of the buffer. */
  ret = mbedtls_x509write_crt_der(&crt, der, der_cap, mbedtls_ctr_drbg_random, &cfg->drbg);
  if (ret <= 0) goto gen_fail;
  ret = mbedtls_x509_crt_parse_der(&cfg->own_chain, der + der_cap - (size_t)ret, (size_t)ret);
  if (ret != 0) goto gen_fail;
  rv = install_own(cfg);
  goto done;
gen_fail:
  cfg_error(cfg, "self-signed certificate", ret);
  rv = (ret == MBEDTLS_ERR_X509_ALLOC_FAILED) ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
done:
  if (rv != 0) drop_own(cfg);
  mbedtls_x509write_crt_free(&crt);
  smtp__free(&cfg->mem, der);
  return rv;
}

static int mb_config_export_cert(const mb_config *cfg, char *buf, size_t len, size_t *out_len) {
  size_t total = 0;
  const mbedtls_x509_crt *c;
  unsigned char *tmp;
  if (!cfg || !out_len || (!buf && len)) return SMTP_ERR_INVALID_ARGUMENT;
  *out_len = 0;
  if (!cfg->have_own) return SMTP_ERR_NOT_FOUND;
  for (c = cfg->cur_chain; c && c->version; c = c->next) {
    size_t cap = c->raw.len * 2 + 128, olen = 0;
    int ret;
    tmp = smtp__malloc(&cfg->mem, cap);
    if (!tmp) return SMTP_ERR_NOMEM;
    ret = mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                   c->raw.p, c->raw.len, tmp, cap, &olen);
    if (ret != 0 || olen == 0) {
      smtp__free(&cfg->mem, tmp);
      return SMTP_ERR_TLS;
    }
    olen--; /* olen counts the NUL */
    if (buf && total + olen < len) memcpy(buf + total, tmp, olen);
    total += olen;
    smtp__free(&cfg->mem, tmp);
  }
  *out_len = total;
  if (total + 1 > len) return SMTP_ERR_BUFFER_TOO_SMALL;
  buf[total] = 0;
  return SMTP_OK;
}

static int ca_result(mb_config *cfg, int ret, const char *what) {
  if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED) return SMTP_ERR_NOMEM;
  if (ret < 0 || cfg->ca.version == 0) {
    cfg_error(cfg, what, ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT);
    return SMTP_ERR_TLS_CONFIG;
  }
  cfg->have_ca = 1; /* ret > 0: some entries failed, the rest is in */
  return SMTP_OK;
}

static int mb_config_ca_file(mb_config *cfg, const char *path) {
  if (!cfg || !path) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->err[0] = 0;
  return ca_result(cfg, mbedtls_x509_crt_parse_file(&cfg->ca, path), path);
}

static int mb_config_ca_dir(mb_config *cfg, const char *path) {
  if (!cfg || !path) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->err[0] = 0;
  return ca_result(cfg, mbedtls_x509_crt_parse_path(&cfg->ca, path), path);
}

static int mb_config_ca_mem(mb_config *cfg, const char *pem, size_t len) {
  int ret;
  if (!cfg || !pem || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->err[0] = 0;
  ret = parse_crt_mem(cfg, &cfg->ca, pem, len, "CA certificate");
  if (ret == 0) cfg->have_ca = 1;
  return ret;
}

static int mb_config_system_ca(mb_config *cfg) {
  static const char *const paths[] = {SMTP_TLS_SYSTEM_CA_FILE, "/etc/pki/tls/certs/ca-bundle.crt",
                                      "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem"};
  int rv = SMTP_ERR_TLS_CONFIG;
  if (!cfg) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->system_ca_tried = 1;
  for (size_t i = 0; i < SMTP__ARRAY_LEN(paths); i++) {
    rv = mb_config_ca_file(cfg, paths[i]);
    if (rv == SMTP_OK || rv == SMTP_ERR_NOMEM) return rv;
  }
  snprintf(cfg->err, ERRBUF, "no system trust store found (%s)", SMTP_TLS_SYSTEM_CA_FILE);
  return rv;
}

static int mb_config_set_verify(mb_config *cfg, int mode) {
  if (!cfg) return SMTP_ERR_INVALID_ARGUMENT;
  switch (mode) {
  case SMTP_TLS_VERIFY_NONE: mbedtls_ssl_conf_authmode(cfg->cur_conf, MBEDTLS_SSL_VERIFY_NONE); break;
  case SMTP_TLS_VERIFY_OPTIONAL: mbedtls_ssl_conf_authmode(cfg->cur_conf, MBEDTLS_SSL_VERIFY_OPTIONAL); break;
  case SMTP_TLS_VERIFY_REQUIRED: mbedtls_ssl_conf_authmode(cfg->cur_conf, MBEDTLS_SSL_VERIFY_REQUIRED); break;
  default: return SMTP_ERR_INVALID_ARGUMENT;
  }
  cfg->verify = mode;
  return SMTP_OK;
}

static int mb_config_set_versions(mb_config *cfg, int min_version, int max_version) {
  if (!cfg) return SMTP_ERR_INVALID_ARGUMENT;
  if (max_version == 0) max_version = SMTP_TLS_VERSION_1_3; /* clamped below */
  if ((min_version != SMTP_TLS_VERSION_1_2 && min_version != SMTP_TLS_VERSION_1_3) ||
      (max_version != SMTP_TLS_VERSION_1_2 && max_version != SMTP_TLS_VERSION_1_3) ||
      min_version > max_version)
    return SMTP_ERR_INVALID_ARGUMENT;
  if (!SMTP__HAVE_TLS13) {
    if (min_version == SMTP_TLS_VERSION_1_3) return SMTP_ERR_UNSUPPORTED;
    max_version = SMTP_TLS_VERSION_1_2;
  }
  cfg->min_version = min_version;
  cfg->max_version = max_version;
  return apply_versions(cfg);
}

static int mb_config_set_sni_callback(mb_config *cfg, smtp_tls_on_sni cb, void *user_data) {
  if (!cfg || cfg->role != SMTP_TLS_SERVER) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->sni_cb = cb;
  cfg->sni_ud = user_data;
  return SMTP_OK;
}

static int mb_export_key(const mb_config *cfg, char *buf, size_t len) {
  if (!cfg || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (!cfg->have_own) return SMTP_ERR_NOT_FOUND;
  if (mbedtls_pk_write_key_pem(cfg->cur_key, (unsigned char *)buf, len) != 0)
    return SMTP_ERR_BUFFER_TOO_SMALL;
  return SMTP_OK;
}

static int mb_config_last_error(const mb_config *cfg, char *buf, size_t len) {
  if (!cfg || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  snprintf(buf, len, "%s", cfg->err);
  return SMTP_OK;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */

static mb_conn *conn_of(mbedtls_ssl_context *ssl) {
  return (mb_conn *)(void *)((char *)ssl - offsetof(mb_conn, ssl));
}

static int sni_trampoline(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len) {
  mb_config *cfg = p;
  mb_conn *c = conn_of(ssl);
  int r = 0;
  /* Untrusted bytes (docs/security.md 2): recorded bounded, never interpreted. */
  c->has_sni = 1;
  c->sni_len = len < sizeof c->sni - 1 ? len : sizeof c->sni - 1;
  memcpy(c->sni, name, c->sni_len);
  c->sni[c->sni_len] = 0;
  if (cfg->sni_cb) {
    c->in_sni = 1;
    r = cfg->sni_cb(&c->b, (const char *)name, len, cfg->sni_ud);
    c->in_sni = 0;
  }
  if (r == 0 && !cfg->have_own && !c->sni_cert) {
    /* no certificate at all: fail rather than handshake anonymously */
    r = -1;
  }
  return r == 0 ? 0 : -1;
}

static int mb_conn_use_cert(mb_conn *conn, const mb_config *other) {
  if (!conn || !other || other->role != SMTP_TLS_SERVER) return SMTP_ERR_INVALID_ARGUMENT;
  if (!conn->in_sni) return SMTP_ERR_INVALID_STATE;
  if (!other->have_own) return SMTP_ERR_NOT_FOUND;
  /* Mbed TLS keeps the pointers for this handshake only. */
  if (mbedtls_ssl_set_hs_own_cert(&conn->ssl, other->cur_chain, other->cur_key) != 0)
    return SMTP_ERR_NOMEM;
  conn->sni_cert = 1;
  conn->sni_cfg = other;
  return SMTP_OK;
}

/* Verification hook: Mbed TLS calls it for every certificate of the
 * chain it built, the top first and the peer's own (depth 0) last. The
 * flags are gathered; at depth 0 the application's callback (if any)
 * decides, and its decision replaces the flags. */
static int vrfy_hook(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  mb_conn *c = p;
  const mb_config *cfg = c->cfg;
  c->vflags |= *flags;
  if (depth > 0) {
    if (cfg->b.verify_cb) *flags = 0; /* decided at depth 0 */
    return 0;
  }
  c->verify_done = 1;
  if (cfg->b.verify_cb) {
    char reason[ERRBUF - 40] = "";
    size_t n = 0;
    int ok;
    for (const mbedtls_x509_crt *q = crt; q && q->version; q = q->next) n++;
    if (c->vflags) {
      int r = mbedtls_x509_crt_verify_info(reason, sizeof reason, "", c->vflags);
      if (r > 0 && reason[r - 1] == '\n') reason[r - 1] = 0;
    }
    c->vchain = crt;
    ok = smtp__tls_call_verify(&c->b, c->host, c->vflags != 0, reason, n);
    c->vchain = NULL;
    c->cb_refused = !ok;
    *flags = ok ? 0 : (c->vflags | MBEDTLS_X509_BADCERT_OTHER);
  }
  return 0;
}

#if !SMTP__MBED3 && defined(MBEDTLS_SSL_EXPORT_KEYS)
/* Mbed TLS 2.28 hands the master secret to a configuration-wide hook with
 * no connection argument: the connection being driven is remembered per
 * thread around each handshake step. */
static _Thread_local mb_conn *current_conn;

static int keys_hook(void *p, const unsigned char *ms, const unsigned char *kb, size_t maclen,
                     size_t keylen, size_t ivlen, const unsigned char client_random[32],
                     const unsigned char server_random[32], mbedtls_tls_prf_types prf) {
  mb_conn *c = current_conn;
  (void)p, (void)kb, (void)maclen, (void)keylen, (void)ivlen;
  if (!c) return 0;
  memcpy(c->ms, ms, sizeof c->ms);
  memcpy(c->randoms, client_random, 32);
  memcpy(c->randoms + 32, server_random, 32);
  c->prf = prf;
  c->have_keys = 1;
  return 0;
}
#endif

static const mbedtls_x509_crt *peer_chain(const mb_conn *c) {
  if (c->vchain) return c->vchain;
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
  if (c->state == ST_OPEN) return mbedtls_ssl_get_peer_cert(&c->ssl);
#endif
  return NULL;
}

static int mb_peer_cert(const mb_conn *c, size_t index, uint8_t *buf, size_t cap, size_t *len) {
  const mbedtls_x509_crt *q = peer_chain(c);
  if (!q) return c->state == ST_OPEN ? SMTP_ERR_NOT_FOUND : SMTP_ERR_INVALID_STATE;
  for (; q && q->version && index > 0; q = q->next) index--;
  if (!q || !q->version) return SMTP_ERR_NOT_FOUND;
  return smtp__tls_copy_out(q->raw.p, q->raw.len, buf, cap, len);
}

static int mb_peer_verify_result(const mb_conn *c, char *reason, size_t len) {
  if (!c->verify_done) {
    if (c->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
    return SMTP_ERR_NOT_FOUND;
  }
  if (c->vflags == 0) return SMTP_OK;
  if (reason) {
    int r = mbedtls_x509_crt_verify_info(reason, len, "", c->vflags);
    if (r > 0 && reason[r - 1] == '\n') reason[r - 1] = 0;
    if (r <= 0) reason[0] = 0;
  }
  return SMTP_ERR_TLS_VERIFY;
}

static int mb_peer_subject(const mb_conn *c, char *buf, size_t len) {
  const mbedtls_x509_crt *q;
  if (c->state != ST_OPEN && !c->vchain) return SMTP_ERR_INVALID_STATE;
  q = peer_chain(c);
  if (!q || !q->version) return SMTP_ERR_NOT_FOUND;
  if (mbedtls_x509_dn_gets(buf, len, &q->subject) < 0) buf[0] = 0;
  return SMTP_OK;
}

static int mb_peer_cn(const mb_conn *c, char *buf, size_t cap, size_t *len) {
  const mbedtls_x509_crt *q;
  const mbedtls_x509_name *n, *cn = NULL;
  if (c->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  q = peer_chain(c);
  if (!q || !q->version) return SMTP_ERR_NOT_FOUND;
  for (n = &q->subject; n; n = n->next) {
    if (!n->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0) continue;
    if (cn) return SMTP_ERR_NOT_FOUND; /* more than one */
    cn = n;
  }
  if (!cn || (cn->val.tag != MBEDTLS_ASN1_UTF8_STRING && cn->val.tag != MBEDTLS_ASN1_PRINTABLE_STRING &&
              cn->val.tag != MBEDTLS_ASN1_IA5_STRING))
    return SMTP_ERR_NOT_FOUND;
  return smtp__tls_copy_out(cn->val.p, cn->val.len, (uint8_t *)buf, cap, len);
}

static int mb_channel_binding(const mb_conn *c, int type, uint8_t *out, size_t cap, size_t *len) {
  static const char label[] = "EXPORTER-Channel-Binding";
  unsigned char tmp[64];
  if (type == SMTP_TLS_CB_SERVER_END_POINT) {
    const mbedtls_x509_crt *crt;
    const mbedtls_md_info_t *md;
    mbedtls_md_type_t t;
    if (c->cfg->role == SMTP_TLS_CLIENT) crt = peer_chain(c);
    else crt = c->sni_cfg ? c->sni_cfg->cur_chain : c->own_chain;
    if (!crt || !crt->version) return SMTP_ERR_UNSUPPORTED;
    /* RFC 5929 4.1: the signature's hash, SHA-256 for MD5 and SHA-1. */
    {
      mbedtls_pk_type_t pk;
      if (mbedtls_oid_get_sig_alg(&crt->sig_oid, &t, &pk) != 0) t = MBEDTLS_MD_NONE;
    }
    if (t == MBEDTLS_MD_MD5 || t == MBEDTLS_MD_SHA1 || t == MBEDTLS_MD_NONE) t = MBEDTLS_MD_SHA256;
    md = mbedtls_md_info_from_type(t);
    if (!md || mbedtls_md(md, crt->raw.p, crt->raw.len, tmp) != 0) return SMTP_ERR_UNSUPPORTED;
    return smtp__tls_copy_out(tmp, mbedtls_md_get_size(md), out, cap, len);
  }
  if (type == SMTP_TLS_CB_EXPORTER) {
#if SMTP__MBED3 && defined(MBEDTLS_SSL_KEYING_MATERIAL_EXPORT)
    if (mbedtls_ssl_export_keying_material((mbedtls_ssl_context *)&c->ssl, tmp, 32, label,
                                           sizeof label - 1, NULL, 0, 0) != 0)
      return SMTP_ERR_UNSUPPORTED;
    return smtp__tls_copy_out(tmp, 32, out, cap, len);
#elif !SMTP__MBED3 && defined(MBEDTLS_SSL_EXPORT_KEYS)
    /* RFC 5705 4 (TLS 1.2): PRF(master_secret, label, client_random +
     * server_random), no context. */
    if (!c->have_keys) return SMTP_ERR_UNSUPPORTED;
    if (mbedtls_ssl_tls_prf(c->prf, c->ms, sizeof c->ms, label, c->randoms, sizeof c->randoms, tmp,
                            32) != 0)
      return SMTP_ERR_UNSUPPORTED;
    return smtp__tls_copy_out(tmp, 32, out, cap, len);
#else
    (void)label;
    return SMTP_ERR_UNSUPPORTED;
#endif
  }
  (void)out, (void)cap, (void)len;
  return SMTP_ERR_UNSUPPORTED; /* tls-unique: Mbed TLS does not expose the Finished message */
}

/* BIO: Mbed TLS writes ciphertext into conn->out. */
static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  mb_conn *c = ctx;
  smtp_ssize n;
  if (len > INT32_MAX) len = INT32_MAX;
  n = smtp__tls_queue_put(&c->mem, &c->out, buf, len, OUT_CAP);
  if (n < 0) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
  return n == 0 ? MBEDTLS_ERR_SSL_WANT_WRITE : (int)n;
}

/* BIO: Mbed TLS reads ciphertext from conn->in; 0 is end of stream. */
static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  mb_conn *c = ctx;
  if (c->in.len == 0) return c->in_eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
  if (len > INT32_MAX) len = INT32_MAX;
  return (int)smtp__tls_queue_get(&c->mem, &c->in, buf, len);
}

/* The one place where Mbed TLS results become libsmtp errors. WANT_* is
 * WOULDBLOCK (not sticky); everything else is sticky. */
static int map_ret(mb_conn *c, int ret, int handshake) {
  int e;
  uint32_t flags;
  switch (ret) {
  case MBEDTLS_ERR_SSL_WANT_READ:
  case MBEDTLS_ERR_SSL_WANT_WRITE:
  case MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS:
  case MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS:
    return SMTP_ERR_WOULDBLOCK;
  default: break;
  }
  flags = mbedtls_ssl_get_verify_result(&c->ssl);
  if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
      (handshake && c->cfg->verify == SMTP_TLS_VERIFY_REQUIRED && flags != 0 && flags != (uint32_t)-1 &&
       ret != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && ret != MBEDTLS_ERR_SSL_CONN_EOF)) {
    char info[ERRBUF - 40];
    int n = mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
    if (n > 0 && info[n - 1] == '\n') info[n - 1] = 0;
    if (n <= 0) snprintf(info, sizeof info, "flags 0x%08x", (unsigned int)flags);
    if (c->cb_refused) snprintf(c->errbuf, ERRBUF, "certificate refused by the verification callback");
    else snprintf(c->errbuf, ERRBUF, "certificate verification failed: %s", info);
    e = SMTP_ERR_TLS_VERIFY;
  } else if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
    snprintf(c->errbuf, ERRBUF, "the peer sent close_notify");
    e = handshake ? SMTP_ERR_TLS_HANDSHAKE : SMTP_ERR_TLS_CLOSED;
  } else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
    set_text(c->errbuf, "the peer sent a fatal alert: ", ret);
    e = handshake ? SMTP_ERR_TLS_HANDSHAKE : SMTP_ERR_TLS_CLOSED;
  } else if (ret == MBEDTLS_ERR_SSL_CONN_EOF) {
    snprintf(c->errbuf, ERRBUF, "the connection ended %s",
             handshake ? "during the handshake" : "without close_notify");
    e = handshake ? SMTP_ERR_TLS_HANDSHAKE : SMTP_ERR_EOF;
  } else if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
    snprintf(c->errbuf, ERRBUF, "out of memory");
    e = SMTP_ERR_NOMEM;
  } else {
    set_text(c->errbuf, handshake ? "handshake failed: " : "", ret);
    e = handshake ? SMTP_ERR_TLS_HANDSHAKE : SMTP_ERR_TLS;
  }
  c->err = e;
  return e;
}

static int mb_conn_new(mb_conn **out, const mb_config *cfg, const char *hostname,
                      const smtp_mem *mem) {
  mb_conn *c;
  mb_config *mcfg = (mb_config *)cfg; /* only the lazy trust store below */
  int ret;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!cfg) return SMTP_ERR_INVALID_ARGUMENT;
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
      ret = mb_config_system_ca(mcfg);
      if (ret != 0) return ret;
    }
  }
  if (hostname && strlen(hostname) > 255) return SMTP_ERR_INVALID_ARGUMENT;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  c = smtp__calloc(mem, 1, sizeof *c);
  if (!c) return SMTP_ERR_NOMEM;
  c->mem = *mem;
  c->cfg = cfg;
  mbedtls_ssl_init(&c->ssl);
  c->own_chain = cfg->cur_chain;
  ret = mbedtls_ssl_setup(&c->ssl, cfg->cur_conf);
  if (ret == 0 && hostname && *hostname) ret = mbedtls_ssl_set_hostname(&c->ssl, hostname);
  if (ret != 0) {
    mb_conn_del(c);
    return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
  }
  mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
  mbedtls_ssl_set_verify(&c->ssl, vrfy_hook, c);
  if (hostname) snprintf(c->host, sizeof c->host, "%s", hostname);
  *out = c;
  return SMTP_OK;
}

static void mb_conn_del(mb_conn *conn) {
  smtp_mem mem;
  if (!conn) return;
  mem = conn->mem;
  mbedtls_ssl_free(&conn->ssl);
  smtp__tls_queue_free(&mem, &conn->in);
  smtp__tls_queue_free(&mem, &conn->out);
  smtp__free(&mem, conn);
}

static int mb_handshake(mb_conn *conn) {
  int ret;
  if (!conn) return SMTP_ERR_INVALID_ARGUMENT;
  if (conn->err) return conn->err;
  if (conn->state == ST_OPEN) return 0;
#if !SMTP__MBED3 && defined(MBEDTLS_SSL_EXPORT_KEYS)
  current_conn = conn;
  ret = mbedtls_ssl_handshake(&conn->ssl);
  current_conn = NULL;
#else
  ret = mbedtls_ssl_handshake(&conn->ssl);
#endif
  if (ret == 0) {
    conn->state = ST_OPEN;
    return 0;
  }
  return map_ret(conn, ret, 1);
}

static int mb_is_established(const mb_conn *conn) {
  return conn && conn->state == ST_OPEN && !conn->err ? 1 : 0;
}

static smtp_ssize mb_feed(mb_conn *conn, const char *data, size_t len) {
  if (!conn || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (conn->in_eof) return SMTP_ERR_INVALID_STATE;
  return smtp__tls_queue_put(&conn->mem, &conn->in, data, len, IN_CAP);
}

static size_t mb_feed_space(const mb_conn *conn) {
  return conn && !conn->in_eof ? IN_CAP - conn->in.len : 0;
}

static int mb_feed_eof(mb_conn *conn) {
  if (!conn) return SMTP_ERR_INVALID_ARGUMENT;
  conn->in_eof = 1;
  return SMTP_OK;
}

static smtp_ssize mb_pending_output(mb_conn *conn, const char **data) {
  if (!conn || !data) return SMTP_ERR_INVALID_ARGUMENT;
  *data = conn->out.p ? conn->out.p + conn->out.head : "";
  return (smtp_ssize)conn->out.len;
}

static int mb_consume_output(mb_conn *conn, size_t n) {
  if (!conn || n > conn->out.len) return SMTP_ERR_INVALID_ARGUMENT;
  if (n) smtp__tls_queue_drop(&conn->mem, &conn->out, n);
  return SMTP_OK;
}

static smtp_ssize mb_read(mb_conn *conn, char *buf, size_t len) {
  int ret;
  if (!conn || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (conn->err) return conn->err;
  if (conn->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  if (len > INT32_MAX) len = INT32_MAX;
  for (;;) {
    ret = mbedtls_ssl_read(&conn->ssl, (unsigned char *)buf, len);
    if (ret > 0) return ret;
#if SMTP__HAVE_TLS13 && defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) continue; /* TLS 1.3: not data */
#endif
    break;
  }
  if (ret == 0) ret = MBEDTLS_ERR_SSL_CONN_EOF;
  return map_ret(conn, ret, 0);
}

static int mb_has_pending(const mb_conn *conn) {
  if (!conn || conn->err) return 0;
  if (mbedtls_ssl_check_pending(&conn->ssl)) return 1;
  return conn->in.len > 0 ? 1 : 0;
}

static smtp_ssize mb_write(mb_conn *conn, const char *data, size_t len) {
  int ret;
  size_t max;
  if (!conn || !data || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (conn->err) return conn->err;
  if (conn->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  if (conn->write_pending) {
    /* Mbed TLS wants the very same arguments after WANT_WRITE. */
    if (len < conn->write_pending) return SMTP_ERR_INVALID_ARGUMENT;
    len = conn->write_pending;
  } else {
    ret = mbedtls_ssl_get_max_out_record_payload(&conn->ssl);
    max = ret > 0 ? (size_t)ret : 1024;
    if (len > max) len = max;
  }
  ret = mbedtls_ssl_write(&conn->ssl, (const unsigned char *)data, len);
  if (ret > 0) {
    conn->write_pending = 0;
    return ret;
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) {
    conn->write_pending = len;
    return SMTP_ERR_WOULDBLOCK;
  }
  return map_ret(conn, ret == 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : ret, 0);
}

static int mb_close_notify(mb_conn *conn) {
  int ret;
  if (!conn) return SMTP_ERR_INVALID_ARGUMENT;
  if (conn->state != ST_OPEN || conn->err == SMTP_ERR_TLS_HANDSHAKE ||
      conn->err == SMTP_ERR_TLS_VERIFY || conn->err == SMTP_ERR_NOMEM)
    return SMTP_ERR_INVALID_STATE;
  ret = mbedtls_ssl_close_notify(&conn->ssl);
  if (ret == 0) return 0;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) return SMTP_ERR_WOULDBLOCK;
  return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS;
}

static int mb_get_info(const mb_conn *conn, smtp_tls_info *info) {
  const mbedtls_x509_crt *peer = NULL;
  if (!conn || !info) return SMTP_ERR_INVALID_ARGUMENT;
  if (conn->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
  memset(info, 0, sizeof *info);
  info->protocol = mbedtls_ssl_get_version(&conn->ssl);
  info->cipher = mbedtls_ssl_get_ciphersuite(&conn->ssl);
  info->sni = conn->has_sni ? conn->sni : NULL;
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
  peer = mbedtls_ssl_get_peer_cert(&conn->ssl);
#endif
  info->peer_verified = conn->cfg->verify != SMTP_TLS_VERIFY_NONE &&
                                mbedtls_ssl_get_verify_result(&conn->ssl) == 0
                            ? 1
                            : 0;
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
  info->has_peer_cert = peer ? 1 : 0;
  if (!peer) info->peer_verified = 0;
#else
  (void)peer;
  info->has_peer_cert = info->peer_verified;
#endif
  return SMTP_OK;
}

static int mb_last_error(const mb_conn *conn, char *buf, size_t len) {
  if (!conn || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  snprintf(buf, len, "%s", conn->errbuf);
  return SMTP_OK;
}

/* A new generation: its own mbedtls_ssl_config with the new pair; the
 * current one is kept (connections use it) until the configuration goes. */
static int mb_replace(mb_config *cfg, const char *cert_file, const char *key_file,
                      const char *password) {
  struct mb_gen *g = smtp__calloc(&cfg->mem, 1, sizeof *g);
  int ret;
  if (!g) return SMTP_ERR_NOMEM;
  cfg->err[0] = 0;
  mbedtls_ssl_config_init(&g->conf);
  mbedtls_x509_crt_init(&g->chain);
  mbedtls_pk_init(&g->key);
  ret = mbedtls_x509_crt_parse_file(&g->chain, cert_file);
  if (ret < 0 || g->chain.version == 0) {
    cfg_error(cfg, cert_file, ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT);
    ret = ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
    goto fail;
  }
  ret = mbedtls_pk_parse_keyfile(&g->key, key_file, password
#if SMTP__MBED3
                                 , mbedtls_ctr_drbg_random, &cfg->drbg
#endif
  );
  if (ret != 0) {
    cfg_error(cfg, key_file, ret);
    ret = ret == MBEDTLS_ERR_PK_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
    goto fail;
  }
  ret = mbedtls_pk_check_pair(&g->chain.pk, &g->key
#if SMTP__MBED3
                              , mbedtls_ctr_drbg_random, &cfg->drbg
#endif
  );
  if (ret != 0) {
    cfg_error(cfg, "the key does not match the certificate", ret);
    ret = SMTP_ERR_TLS_CONFIG;
    goto fail;
  }
  ret = mbedtls_ssl_config_defaults(&g->conf,
                                    cfg->role == SMTP_TLS_CLIENT ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
                                    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret == 0) {
    conf_setup(cfg, &g->conf);
    ret = mbedtls_ssl_conf_own_cert(&g->conf, &g->chain, &g->key);
  }
  if (ret != 0) {
    cfg_error(cfg, "certificate", ret);
    ret = ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
    goto fail;
  }
  g->next = cfg->gens;
  cfg->gens = g;
  cfg->cur_conf = &g->conf;
  cfg->cur_chain = &g->chain;
  cfg->cur_key = &g->key;
  return SMTP_OK;
fail:
  mbedtls_ssl_config_free(&g->conf);
  mbedtls_pk_free(&g->key);
  mbedtls_x509_crt_free(&g->chain);
  smtp__free(&cfg->mem, g);
  return ret;
}

/* ------------------------------------------------------------------ */
/* The vtable (tls_internal.h)                                          */

#define CFG(x) ((mb_config *)(void *)(x))
#define CCFG(x) ((const mb_config *)(const void *)(x))
#define CONN(x) ((mb_conn *)(void *)(x))
#define CCONN(x) ((const mb_conn *)(const void *)(x))

static int v_config_new(smtp_tls_config **out, int role, const smtp_mem *mem) {
  return mb_config_new((mb_config **)(void *)out, role, mem);
}
static void v_config_del(smtp_tls_config *c) { mb_config_del(CFG(c)); }
static int v_cert_file(smtp_tls_config *c, const char *cert, const char *key, const char *pw,
                       int replace) {
  if (replace && CFG(c)->have_own) return mb_replace(CFG(c), cert, key, pw);
  return mb_config_cert_file(CFG(c), cert, key, pw);
}
static int v_cert_mem(smtp_tls_config *c, const char *cert, size_t cl, const char *key, size_t kl,
                      const char *pw) {
  return mb_config_cert_mem(CFG(c), cert, cl, key, kl, pw);
}
static int v_self_signed(smtp_tls_config *c, const char *h) { return mb_config_self_signed(CFG(c), h); }
static int v_export_cert(const smtp_tls_config *c, char *b, size_t l, size_t *o) {
  return mb_config_export_cert(CCFG(c), b, l, o);
}
static int v_export_key(const smtp_tls_config *c, char *b, size_t l) { return mb_export_key(CCFG(c), b, l); }
static int v_ca_file(smtp_tls_config *c, const char *p) { return mb_config_ca_file(CFG(c), p); }
static int v_ca_dir(smtp_tls_config *c, const char *p) { return mb_config_ca_dir(CFG(c), p); }
static int v_ca_mem(smtp_tls_config *c, const char *p, size_t l) { return mb_config_ca_mem(CFG(c), p, l); }
static int v_system_ca(smtp_tls_config *c) { return mb_config_system_ca(CFG(c)); }
static int v_set_verify(smtp_tls_config *c, int m) { return mb_config_set_verify(CFG(c), m); }
static int v_set_versions(smtp_tls_config *c, int a, int b) {
  return mb_config_set_versions(CFG(c), a, b);
}
static int v_set_sni(smtp_tls_config *c, smtp_tls_on_sni cb, void *ud) {
  return mb_config_set_sni_callback(CFG(c), cb, ud);
}
static int v_config_last_error(const smtp_tls_config *c, char *b, size_t l) {
  return mb_config_last_error(CCFG(c), b, l);
}
static int v_conn_new(smtp_tls_conn **out, const smtp_tls_config *cfg, const char *h,
                      const smtp_mem *mem) {
  return mb_conn_new((mb_conn **)(void *)out, CCFG(cfg), h, mem);
}
static void v_conn_del(smtp_tls_conn *c) { mb_conn_del(CONN(c)); }
static int v_handshake(smtp_tls_conn *c) { return mb_handshake(CONN(c)); }
static int v_is_established(const smtp_tls_conn *c) { return mb_is_established(CCONN(c)); }
static smtp_ssize v_feed(smtp_tls_conn *c, const char *d, size_t l) { return mb_feed(CONN(c), d, l); }
static size_t v_feed_space(const smtp_tls_conn *c) { return mb_feed_space(CCONN(c)); }
static int v_feed_eof(smtp_tls_conn *c) { return mb_feed_eof(CONN(c)); }
static smtp_ssize v_pending_output(smtp_tls_conn *c, const char **d) {
  return mb_pending_output(CONN(c), d);
}
static int v_consume_output(smtp_tls_conn *c, size_t n) { return mb_consume_output(CONN(c), n); }
static smtp_ssize v_read(smtp_tls_conn *c, char *b, size_t l) { return mb_read(CONN(c), b, l); }
static int v_has_pending(const smtp_tls_conn *c) { return mb_has_pending(CCONN(c)); }
static smtp_ssize v_write(smtp_tls_conn *c, const char *d, size_t l) { return mb_write(CONN(c), d, l); }
static int v_close_notify(smtp_tls_conn *c) { return mb_close_notify(CONN(c)); }
static int v_get_info(const smtp_tls_conn *c, smtp_tls_info *i) { return mb_get_info(CCONN(c), i); }
static int v_last_error(const smtp_tls_conn *c, char *b, size_t l) { return mb_last_error(CCONN(c), b, l); }
static int v_use_cert(smtp_tls_conn *c, const smtp_tls_config *o) { return mb_conn_use_cert(CONN(c), CCFG(o)); }
static int v_peer_cert(const smtp_tls_conn *c, size_t i, uint8_t *b, size_t cap, size_t *l) {
  return mb_peer_cert(CCONN(c), i, b, cap, l);
}
static int v_peer_verify_result(const smtp_tls_conn *c, char *r, size_t l) {
  return mb_peer_verify_result(CCONN(c), r, l);
}
static int v_peer_subject(const smtp_tls_conn *c, char *b, size_t l) { return mb_peer_subject(CCONN(c), b, l); }
static int v_channel_binding(const smtp_tls_conn *c, int t, uint8_t *o, size_t cap, size_t *l) {
  return mb_channel_binding(CCONN(c), t, o, cap, l);
}
static int v_peer_cn(const smtp_tls_conn *c, char *b, size_t cap, size_t *l) {
  return mb_peer_cn(CCONN(c), b, cap, l);
}

/* DANE-TA's chain step (RFC 7672 3.1.2): mbedTLS's chain verification
 * with the issuer as the only trust anchor; validity dates are not part of
 * the match (as for DANE-EE, RFC 7672 3.1.1), so only those flags are
 * tolerated. */
static int v_x509_signed_by(const unsigned char *child, size_t child_len,
                            const unsigned char *issuer, size_t issuer_len) {
  mbedtls_x509_crt c, i;
  uint32_t flags = 0;
  int rc, ok = 0;
  mbedtls_x509_crt_init(&c);
  mbedtls_x509_crt_init(&i);
  rc = mbedtls_x509_crt_parse_der(&c, child, child_len);
  if (rc == 0) rc = mbedtls_x509_crt_parse_der(&i, issuer, issuer_len);
  if (rc == 0) {
    rc = mbedtls_x509_crt_verify(&c, &i, NULL, NULL, &flags, NULL, NULL);
    flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    ok = (rc == 0 || rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) && flags == 0;
  }
  mbedtls_x509_crt_free(&c);
  mbedtls_x509_crt_free(&i);
  return ok;
}

const smtp__tls_backend smtp__tls_mbedtls = {
    SMTP_TLS_BACKEND_MBEDTLS, "mbedtls", mb_version,
    v_config_new, v_config_del, v_cert_file, v_cert_mem, v_self_signed, v_export_cert, v_export_key,
    v_ca_file, v_ca_dir, v_ca_mem, v_system_ca, v_set_verify, v_set_versions, v_set_sni,
    v_config_last_error, v_conn_new, v_conn_del, v_handshake, v_is_established, v_feed,
    v_feed_space, v_feed_eof, v_pending_output, v_consume_output, v_read, v_has_pending, v_write,
    v_close_notify, v_get_info, v_last_error, v_use_cert, v_peer_cert, v_peer_verify_result,
    v_peer_subject, v_channel_binding, v_x509_signed_by, v_peer_cn,
};
