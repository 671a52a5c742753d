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

#include "adapters.h"

#define ERRBUF 256
#define IN_CAP (17u * 1024u)  /* ciphertext from the transport */
#define OUT_CAP (17u * 1024u) /* ciphertext to the transport: > one full record */

struct smtp_tls_config {
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
  char err[ERRBUF];
};

enum { ST_HANDSHAKE = 0, ST_OPEN = 1 };

struct smtp_tls_conn {
  smtp_mem mem;
  const smtp_tls_config *cfg;
  mbedtls_ssl_context ssl;
  char *in; /* ring-less: bytes at in + in_head .. in_head + in_len */
  size_t in_head, in_len;
  int in_eof;
  char *out;
  size_t out_head, out_len;
  int state;
  int err;              /* sticky error, 0 while healthy */
  size_t write_pending; /* length of a write that returned WOULDBLOCK */
  int in_sni;           /* inside the SNI callback */
  int sni_cert;         /* the SNI callback picked a certificate */
  int has_sni;
  size_t sni_len;
  char sni[256];
  char errbuf[ERRBUF];
};

/* ------------------------------------------------------------------ */

int smtp_tls_available(void) { return 1; }

const char *smtp_tls_backend(void) { return "Mbed TLS " MBEDTLS_VERSION_STRING; }

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

static void cfg_error(smtp_tls_config *cfg, const char *what, int ret) {
  char prefix[80];
  snprintf(prefix, sizeof prefix, "%s: ", what);
  set_text(cfg->err, prefix, ret);
}

static int apply_versions(smtp_tls_config *cfg) {
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
  mbedtls_ssl_conf_min_tls_version(&cfg->conf, cfg->min_version == SMTP_TLS_VERSION_1_3
                                                   ? MBEDTLS_SSL_VERSION_TLS1_3
                                                   : MBEDTLS_SSL_VERSION_TLS1_2);
  mbedtls_ssl_conf_max_tls_version(&cfg->conf, cfg->max_version == SMTP_TLS_VERSION_1_3
                                                   ? MBEDTLS_SSL_VERSION_TLS1_3
                                                   : MBEDTLS_SSL_VERSION_TLS1_2);
#else
  /* Before 3.2 (and in 2.28) versions are (major, minor) pairs: 3,3 is TLS 1.2. */
  mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
  return 0;
}

static int sni_trampoline(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len);

int smtp_tls_config_new(smtp_tls_config **out, int role, const smtp_mem *mem) {
  smtp_tls_config *cfg;
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
  mbedtls_x509_crt_init(&cfg->own_chain);
  mbedtls_pk_init(&cfg->own_key);
  mbedtls_x509_crt_init(&cfg->ca);
  ret = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func, &cfg->entropy,
                              (const unsigned char *)pers, sizeof pers - 1);
  if (ret != 0) {
    smtp_tls_config_del(cfg);
    return SMTP_ERR_TLS_CONFIG; /* no entropy source */
  }
  ret = mbedtls_ssl_config_defaults(&cfg->conf,
                                    role == SMTP_TLS_CLIENT ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
                                    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) {
    smtp_tls_config_del(cfg);
    return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
  }
  mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &cfg->drbg);
  mbedtls_ssl_conf_authmode(&cfg->conf, cfg->verify == SMTP_TLS_VERIFY_REQUIRED
                                            ? MBEDTLS_SSL_VERIFY_REQUIRED
                                            : cfg->verify == SMTP_TLS_VERIFY_OPTIONAL
                                                  ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                  : MBEDTLS_SSL_VERIFY_NONE);
  apply_versions(cfg);
#if defined(MBEDTLS_SSL_RENEGOTIATION)
  mbedtls_ssl_conf_renegotiation(&cfg->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
  if (role == SMTP_TLS_SERVER) mbedtls_ssl_conf_sni(&cfg->conf, sni_trampoline, cfg);
#endif
  mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
  *out = cfg;
  return SMTP_OK;
}

void smtp_tls_config_del(smtp_tls_config *cfg) {
  smtp_mem mem;
  if (!cfg) return;
  mem = cfg->mem;
  mbedtls_ssl_config_free(&cfg->conf);
  mbedtls_x509_crt_free(&cfg->ca);
  mbedtls_pk_free(&cfg->own_key);
  mbedtls_x509_crt_free(&cfg->own_chain);
  mbedtls_ctr_drbg_free(&cfg->drbg);
  mbedtls_entropy_free(&cfg->entropy);
  smtp__free(&mem, cfg);
}

int smtp_tls_config_role(const smtp_tls_config *cfg) {
  return cfg ? cfg->role : SMTP_ERR_INVALID_ARGUMENT;
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

static int parse_key_mem(smtp_tls_config *cfg, mbedtls_pk_context *pk, const char *key,
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

static int parse_crt_mem(smtp_tls_config *cfg, mbedtls_x509_crt *chain, const char *data,
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
static int install_own(smtp_tls_config *cfg) {
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

static void drop_own(smtp_tls_config *cfg) {
  mbedtls_x509_crt_free(&cfg->own_chain);
  mbedtls_x509_crt_init(&cfg->own_chain);
  mbedtls_pk_free(&cfg->own_key);
  mbedtls_pk_init(&cfg->own_key);
}

int smtp_tls_config_cert_file(smtp_tls_config *cfg, const char *cert_file, const char *key_file,
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

int smtp_tls_config_cert_mem(smtp_tls_config *cfg, const char *cert, size_t cert_len,
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

/* A DNS name, or "*." + DNS name: a wildcard only as the whole left-most
 * label (RFC 6125 6.4.3, RFC 7817). */
static int valid_dns_name(const char *h) {
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

int smtp_tls_config_self_signed(smtp_tls_config *cfg, const char *hostname) {
  mbedtls_x509write_cert crt;
  unsigned char serial[16], san[300], *der = NULL;
  char subject[300], not_before[16], not_after[16];
  size_t san_len, der_cap = 4096;
  int ret, rv = SMTP_ERR_TLS_CONFIG;
  time_t now;
  if (!cfg || !hostname || !valid_dns_name(hostname)) return SMTP_ERR_INVALID_ARGUMENT;
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

int smtp_tls_config_export_cert(const smtp_tls_config *cfg, char *buf, size_t len, size_t *out_len) {
  size_t total = 0;
  const mbedtls_x509_crt *c;
  unsigned char *tmp;
  if (!cfg || !out_len || (!buf && len)) return SMTP_ERR_INVALID_ARGUMENT;
  *out_len = 0;
  if (!cfg->have_own) return SMTP_ERR_NOT_FOUND;
  for (c = &cfg->own_chain; c && c->version; c = c->next) {
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

static int ca_result(smtp_tls_config *cfg, int ret, const char *what) {
  if (ret == MBEDTLS_ERR_X509_ALLOC_FAILED) return SMTP_ERR_NOMEM;
  if (ret < 0 || cfg->ca.version == 0) {
    cfg_error(cfg, what, ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT);
    return SMTP_ERR_TLS_CONFIG;
  }
  cfg->have_ca = 1; /* ret > 0: some entries failed, the rest is in */
  return SMTP_OK;
}

int smtp_tls_config_ca_file(smtp_tls_config *cfg, const char *path) {
  if (!cfg || !path) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->err[0] = 0;
  return ca_result(cfg, mbedtls_x509_crt_parse_file(&cfg->ca, path), path);
}

int smtp_tls_config_ca_dir(smtp_tls_config *cfg, const char *path) {
  if (!cfg || !path) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->err[0] = 0;
  return ca_result(cfg, mbedtls_x509_crt_parse_path(&cfg->ca, path), path);
}

int smtp_tls_config_ca_mem(smtp_tls_config *cfg, const char *pem, size_t len) {
  int ret;
  if (!cfg || !pem || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->err[0] = 0;
  ret = parse_crt_mem(cfg, &cfg->ca, pem, len, "CA certificate");
  if (ret == 0) cfg->have_ca = 1;
  return ret;
}

int smtp_tls_config_system_ca(smtp_tls_config *cfg) {
  static const char *const paths[] = {SMTP_TLS_SYSTEM_CA_FILE, "/etc/pki/tls/certs/ca-bundle.crt",
                                      "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem"};
  int rv = SMTP_ERR_TLS_CONFIG;
  if (!cfg) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->system_ca_tried = 1;
  for (size_t i = 0; i < SMTP__ARRAY_LEN(paths); i++) {
    rv = smtp_tls_config_ca_file(cfg, paths[i]);
    if (rv == SMTP_OK || rv == SMTP_ERR_NOMEM) return rv;
  }
  snprintf(cfg->err, ERRBUF, "no system trust store found (%s)", SMTP_TLS_SYSTEM_CA_FILE);
  return rv;
}

int smtp_tls_config_set_verify(smtp_tls_config *cfg, int mode) {
  if (!cfg) return SMTP_ERR_INVALID_ARGUMENT;
  switch (mode) {
  case SMTP_TLS_VERIFY_NONE: mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE); break;
  case SMTP_TLS_VERIFY_OPTIONAL: mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_OPTIONAL); break;
  case SMTP_TLS_VERIFY_REQUIRED: mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED); break;
  default: return SMTP_ERR_INVALID_ARGUMENT;
  }
  cfg->verify = mode;
  return SMTP_OK;
}

int smtp_tls_config_set_versions(smtp_tls_config *cfg, int min_version, int max_version) {
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

int smtp_tls_config_set_sni_callback(smtp_tls_config *cfg, smtp_tls_on_sni cb, void *user_data) {
  if (!cfg || cfg->role != SMTP_TLS_SERVER) return SMTP_ERR_INVALID_ARGUMENT;
  cfg->sni_cb = cb;
  cfg->sni_ud = user_data;
  return SMTP_OK;
}

int smtp__tls_export_key_pem(const smtp_tls_config *cfg, char *buf, size_t len) {
  if (!cfg || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (!cfg->have_own) return SMTP_ERR_NOT_FOUND;
  if (mbedtls_pk_write_key_pem((mbedtls_pk_context *)&cfg->own_key, (unsigned char *)buf, len) != 0)
    return SMTP_ERR_BUFFER_TOO_SMALL;
  return SMTP_OK;
}

int smtp_tls_config_last_error(const smtp_tls_config *cfg, char *buf, size_t len) {
  if (!cfg || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  snprintf(buf, len, "%s", cfg->err);
  return SMTP_OK;
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */

static smtp_tls_conn *conn_of(mbedtls_ssl_context *ssl) {
  return (smtp_tls_conn *)(void *)((char *)ssl - offsetof(smtp_tls_conn, ssl));
}

static int sni_trampoline(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len) {
  smtp_tls_config *cfg = p;
  smtp_tls_conn *c = conn_of(ssl);
  int r = 0;
  /* Untrusted bytes (docs/security.md 2): recorded bounded, never interpreted. */
  c->has_sni = 1;
  c->sni_len = len < sizeof c->sni - 1 ? len : sizeof c->sni - 1;
  memcpy(c->sni, name, c->sni_len);
  c->sni[c->sni_len] = 0;
  if (cfg->sni_cb) {
    c->in_sni = 1;
    r = cfg->sni_cb(c, (const char *)name, len, cfg->sni_ud);
    c->in_sni = 0;
  }
  if (r == 0 && !cfg->have_own && !c->sni_cert) {
    /* no certificate at all: fail rather than handshake anonymously */
    r = -1;
  }
  return r == 0 ? 0 : -1;
}

int smtp_tls_conn_use_cert(smtp_tls_conn *conn, const smtp_tls_config *other) {
  if (!conn || !other || other->role != SMTP_TLS_SERVER) return SMTP_ERR_INVALID_ARGUMENT;
  if (!conn->in_sni) return SMTP_ERR_INVALID_STATE;
  if (!other->have_own) return SMTP_ERR_NOT_FOUND;
  /* Mbed TLS keeps the pointers for this handshake only. */
  if (mbedtls_ssl_set_hs_own_cert(&conn->ssl, (mbedtls_x509_crt *)&other->own_chain,
                                  (mbedtls_pk_context *)&other->own_key) != 0)
    return SMTP_ERR_NOMEM;
  conn->sni_cert = 1;
  return SMTP_OK;
}

/* BIO: Mbed TLS writes ciphertext into conn->out. */
static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  smtp_tls_conn *c = ctx;
  size_t room;
  if (c->out_head > 0 && c->out_head + c->out_len + len > OUT_CAP) {
    memmove(c->out, c->out + c->out_head, c->out_len);
    c->out_head = 0;
  }
  room = OUT_CAP - c->out_head - c->out_len;
  if (room == 0) return MBEDTLS_ERR_SSL_WANT_WRITE;
  if (len > room) len = room;
  memcpy(c->out + c->out_head + c->out_len, buf, len);
  c->out_len += len;
  return (int)len;
}

/* BIO: Mbed TLS reads ciphertext from conn->in; 0 is end of stream. */
static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  smtp_tls_conn *c = ctx;
  if (c->in_len == 0) return c->in_eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
  if (len > c->in_len) len = c->in_len;
  if (len > INT32_MAX) len = INT32_MAX;
  memcpy(buf, c->in + c->in_head, len);
  c->in_head += len;
  c->in_len -= len;
  if (c->in_len == 0) c->in_head = 0;
  return (int)len;
}

/* The one place where Mbed TLS results become libsmtp errors. WANT_* is
 * WOULDBLOCK (not sticky); everything else is sticky. */
static int map_ret(smtp_tls_conn *c, int ret, int handshake) {
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
    snprintf(c->errbuf, ERRBUF, "certificate verification failed: %s", info);
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

int smtp_tls_conn_new(smtp_tls_conn **out, const smtp_tls_config *cfg, const char *hostname,
                      const smtp_mem *mem) {
  smtp_tls_conn *c;
  smtp_tls_config *mcfg = (smtp_tls_config *)cfg; /* only the lazy trust store below */
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
      ret = smtp_tls_config_system_ca(mcfg);
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
  c->in = smtp__malloc(mem, IN_CAP);
  c->out = c->in ? smtp__malloc(mem, OUT_CAP) : NULL;
  if (!c->out) {
    smtp_tls_conn_del(c);
    return SMTP_ERR_NOMEM;
  }
  ret = mbedtls_ssl_setup(&c->ssl, &cfg->conf);
  if (ret == 0 && hostname && *hostname) ret = mbedtls_ssl_set_hostname(&c->ssl, hostname);
  if (ret != 0) {
    smtp_tls_conn_del(c);
    return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTP_ERR_NOMEM : SMTP_ERR_TLS_CONFIG;
  }
  mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
  *out = c;
  return SMTP_OK;
}

void smtp_tls_conn_del(smtp_tls_conn *conn) {
  smtp_mem mem;
  if (!conn) return;
  mem = conn->mem;
  mbedtls_ssl_free(&conn->ssl);
  if (conn->in) mbedtls_platform_zeroize(conn->in, IN_CAP);
  smtp__free(&mem, conn->in);
  smtp__free(&mem, conn->out);
  smtp__free(&mem, conn);
}

int smtp_tls_handshake(smtp_tls_conn *conn) {
  int ret;
  if (!conn) return SMTP_ERR_INVALID_ARGUMENT;
  if (conn->err) return conn->err;
  if (conn->state == ST_OPEN) return 0;
  ret = mbedtls_ssl_handshake(&conn->ssl);
  if (ret == 0) {
    conn->state = ST_OPEN;
    return 0;
  }
  return map_ret(conn, ret, 1);
}

int smtp_tls_is_established(const smtp_tls_conn *conn) {
  return conn && conn->state == ST_OPEN && !conn->err ? 1 : 0;
}

smtp_ssize smtp_tls_feed(smtp_tls_conn *conn, const char *data, size_t len) {
  size_t room;
  if (!conn || (!data && len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (conn->in_eof) return SMTP_ERR_INVALID_STATE;
  if (conn->in_head > 0) {
    memmove(conn->in, conn->in + conn->in_head, conn->in_len);
    conn->in_head = 0;
  }
  room = IN_CAP - conn->in_len;
  if (len > room) len = room;
  if (len) memcpy(conn->in + conn->in_len, data, len);
  conn->in_len += len;
  return (smtp_ssize)len;
}

size_t smtp_tls_feed_space(const smtp_tls_conn *conn) {
  return conn && !conn->in_eof ? IN_CAP - conn->in_len : 0;
}

int smtp_tls_feed_eof(smtp_tls_conn *conn) {
  if (!conn) return SMTP_ERR_INVALID_ARGUMENT;
  conn->in_eof = 1;
  return SMTP_OK;
}

smtp_ssize smtp_tls_pending_output(smtp_tls_conn *conn, const char **data) {
  if (!conn || !data) return SMTP_ERR_INVALID_ARGUMENT;
  *data = conn->out + conn->out_head;
  return (smtp_ssize)conn->out_len;
}

int smtp_tls_consume_output(smtp_tls_conn *conn, size_t n) {
  if (!conn || n > conn->out_len) return SMTP_ERR_INVALID_ARGUMENT;
  conn->out_head += n;
  conn->out_len -= n;
  if (conn->out_len == 0) conn->out_head = 0;
  return SMTP_OK;
}

smtp_ssize smtp_tls_read(smtp_tls_conn *conn, char *buf, size_t len) {
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

int smtp_tls_has_pending(const smtp_tls_conn *conn) {
  if (!conn || conn->err) return 0;
  if (mbedtls_ssl_check_pending(&conn->ssl)) return 1;
  return conn->in_len > 0 ? 1 : 0;
}

smtp_ssize smtp_tls_write(smtp_tls_conn *conn, const char *data, size_t len) {
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

int smtp_tls_close_notify(smtp_tls_conn *conn) {
  int ret;
  if (!conn) return SMTP_ERR_INVALID_ARGUMENT;
  if (conn->state != ST_OPEN || conn->err == SMTP_ERR_TLS_HANDSHAKE ||
      conn->err == SMTP_ERR_TLS_VERIFY || conn->err == SMTP_ERR_NOMEM)
    return SMTP_ERR_INVALID_STATE;
  ret = mbedtls_ssl_close_notify(&conn->ssl);
  if (ret == 0) return 0;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) return SMTP_ERR_WOULDBLOCK;
  return SMTP_ERR_TLS;
}

int smtp_tls_get_info(const smtp_tls_conn *conn, smtp_tls_info *info) {
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

int smtp_tls_peer_cert(const smtp_tls_conn *conn, size_t index, const unsigned char **der,
                       size_t *len) {
  if (!conn || !der || !len) return SMTP_ERR_INVALID_ARGUMENT;
  *der = NULL;
  *len = 0;
  if (conn->state != ST_OPEN) return SMTP_ERR_INVALID_STATE;
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
  {
    const mbedtls_x509_crt *c = mbedtls_ssl_get_peer_cert(&conn->ssl);
    for (size_t i = 0; c && i < index; i++) c = c->next;
    if (!c || !c->raw.p || c->raw.len == 0) return SMTP_ERR_NOT_FOUND;
    *der = c->raw.p;
    *len = c->raw.len;
    return SMTP_OK;
  }
#else
  (void)index;
  return SMTP_ERR_UNSUPPORTED;
#endif
}

int smtp_tls_last_error(const smtp_tls_conn *conn, char *buf, size_t len) {
  if (!conn || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  snprintf(buf, len, "%s", conn->errbuf);
  return SMTP_OK;
}
