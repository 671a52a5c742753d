/* Transaction capture (smtp/capture.h): pairs a server session's traced
 * commands with their replies and builds one record per transaction. */
#include <stdio.h>
#include <string.h>

#include <smtp/address.h>
#include <smtp/capture.h>

#include "hash.h"
#include "internal.h"
#include "der.h"
#include "json.h"
#include "text.h"

#define CAP_ADDR_MAX 63
#define CAP_DN_MAX 1024
#define CAP_FILE_MAX 4095

typedef struct cap_rcpt {
  char *path;
  char *params;
  int code;
  char enhanced[16];
} cap_rcpt;

struct smtp_capture_record {
  char client[CAP_ADDR_MAX + 1];
  int client_port;
  char peer[CAP_ADDR_MAX + 1];
  int has_peer, peer_port;
  char *helo;
  char *name; /* the client's host name from XFORWARD or XCLIENT, or NULL */
  int tls;
  char tls_version[64], tls_cipher[64];
  int has_cert, cert_verified;
  char *cert_subject, *cert_issuer; /* RFC 4514 strings, or NULL */
  char cert_sha256[2 * SMTP__SHA256_LEN + 1]; /* lower-case hex, or "" */
  char *auth;
  char *mail;
  char *mail_params;
  cap_rcpt *rcpts;
  unsigned int nrcpts, rcpt_cap;
  int has_data;
  uint64_t size;
  int size_known;
  int data_code;
  char data_enhanced[16];
  char *file;
  int bdat;
};

enum { P_NONE = 0, P_MAIL, P_RCPT, P_DATA, P_DATA_END, P_BDAT, P_BDAT_LAST, P_RESET, P_OTHER };

struct smtp_capture {
  smtp_mem mem;
  smtp_capture_on_record cb;
  void *ud;
  char client[CAP_ADDR_MAX + 1];
  int client_port;
  char peer[CAP_ADDR_MAX + 1];
  int has_peer, peer_port;
  int pending;          /* P_*: the command waiting for its reply */
  char *pending_path;   /* MAIL/RCPT: address and parameters of the pending command */
  char *pending_params;
  int open;             /* a transaction is open (rec holds it) */
  int failed;           /* allocation failed: drop the transaction */
  unsigned int data_replies; /* LMTP: replies still expected after the data */
  int lmtp;
  char *file;
  char *cert_subject, *cert_issuer; /* smtp_capture_set_client_cert() */
  char cert_sha256[2 * SMTP__SHA256_LEN + 1];
  smtp_capture_record rec;
};

static char *dup_n(const smtp_mem *mem, const char *p, size_t n) {
  char *s = smtp__malloc(mem, n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

static void rec_clear(smtp_capture *c) {
  smtp_capture_record *r = &c->rec;
  smtp__free(&c->mem, r->helo);
  smtp__free(&c->mem, r->name);
  smtp__free(&c->mem, r->auth);
  smtp__free(&c->mem, r->mail);
  smtp__free(&c->mem, r->mail_params);
  smtp__free(&c->mem, r->file);
  smtp__free(&c->mem, r->cert_subject);
  smtp__free(&c->mem, r->cert_issuer);
  for (unsigned int i = 0; i < r->nrcpts; i++) {
    smtp__free(&c->mem, r->rcpts[i].path);
    smtp__free(&c->mem, r->rcpts[i].params);
  }
  smtp__free(&c->mem, r->rcpts);
  memset(r, 0, sizeof *r);
  c->open = 0;
  c->failed = 0;
  c->data_replies = 0;
}

static void pending_clear(smtp_capture *c) {
  smtp__free(&c->mem, c->pending_path);
  smtp__free(&c->mem, c->pending_params);
  c->pending_path = c->pending_params = NULL;
  c->pending = P_NONE;
}

int smtp_capture_new(smtp_capture **out, smtp_capture_on_record on_record, void *user_data,
                     const smtp_mem *mem) {
  smtp_capture *c;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!on_record || (mem && !smtp__mem_valid(mem))) return SMTP_ERR_INVALID_ARGUMENT;
  c = smtp__calloc(mem, 1, sizeof *c);
  if (!c) return SMTP_ERR_NOMEM;
  c->mem = mem ? *mem : *smtp_mem_default();
  c->cb = on_record;
  c->ud = user_data;
  c->client_port = -1;
  c->peer_port = -1;
  *out = c;
  return SMTP_OK;
}

void smtp_capture_del(smtp_capture *c) {
  smtp_mem mem;
  if (!c) return;
  rec_clear(c);
  pending_clear(c);
  mem = c->mem;
  smtp__free(&mem, c->file);
  smtp__free(&mem, c->cert_subject);
  smtp__free(&mem, c->cert_issuer);
  smtp__free(&mem, c);
}

static int addr_ok(const char *a) {
  size_t n;
  if (!a) return 1;
  n = strlen(a);
  if (n > CAP_ADDR_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)a[i] < 0x21 || (unsigned char)a[i] > 0x7e) return 0;
  return 1;
}

int smtp_capture_set_client(smtp_capture *c, const char *addr, int port, const char *peer_addr,
                            int peer_port) {
  if (!c || port < -1 || port > 65535 || peer_port < -1 || peer_port > 65535 || !addr_ok(addr) ||
      !addr_ok(peer_addr))
    return SMTP_ERR_INVALID_ARGUMENT;
  snprintf(c->client, sizeof c->client, "%s", addr ? addr : "");
  c->client_port = port;
  c->has_peer = peer_addr != NULL;
  snprintf(c->peer, sizeof c->peer, "%s", peer_addr ? peer_addr : "");
  c->peer_port = peer_port;
  return SMTP_OK;
}

/* ------------------------------------------------------------------------ */
/* The client certificate: issuer and subject as RFC 4514 strings, read from
 * the DER (RFC 5280 4.1) with a bounded walker, and its SHA-256. Reads only
 * inside the buffer it is given; every length is checked. */

typedef smtp__der der_el;

static int der_get(const unsigned char *b, size_t n, der_el *e) { return smtp__der_read(b, n, e); }

typedef struct dn_buf {
  char *p;
  size_t len, cap;
  int full;
} dn_buf;

/* Append whole units only: a string cut short never ends inside an escape. */
static void dn_put(dn_buf *b, const char *s, size_t n) {
  if (b->full || n > b->cap - 1 - b->len) {
    b->full = 1;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void dn_hex(dn_buf *b, const char *lead, unsigned char ch) {
  static const char hx[] = "0123456789ABCDEF";
  char e[4];
  size_t k = 0;
  if (lead) e[k++] = *lead;
  e[k++] = hx[ch >> 4];
  e[k++] = hx[ch & 15];
  dn_put(b, e, k);
}

/* The attribute type: RFC 4514 3's short names, else the dotted OID
 * (returns 1 for a short name, 0 for dotted, -1 when malformed). */
static int dn_type(dn_buf *b, const unsigned char *o, size_t n) {
  static const struct {
    const char *name;
    unsigned char len;
    unsigned char oid[10];
  } names[] = {
      {"CN", 3, {0x55, 0x04, 0x03}},
      {"L", 3, {0x55, 0x04, 0x07}},
      {"ST", 3, {0x55, 0x04, 0x08}},
      {"O", 3, {0x55, 0x04, 0x0a}},
      {"OU", 3, {0x55, 0x04, 0x0b}},
      {"C", 3, {0x55, 0x04, 0x06}},
      {"STREET", 3, {0x55, 0x04, 0x09}},
      {"DC", 10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19}},
      {"UID", 10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01}},
  };
  unsigned long long arc = 0;
  int first = 1;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (n == names[i].len && memcmp(o, names[i].oid, n) == 0) {
      dn_put(b, names[i].name, strlen(names[i].name));
      return 1;
    }
  if (n == 0 || (o[n - 1] & 0x80)) return -1;
  for (size_t i = 0; i < n; i++) {
    char t[48];
    int k;
    if (arc == 0 && o[i] == 0x80) return -1; /* X.690 8.19.2: minimal */
    if (arc > (1ull << 32)) return -1;
    arc = arc << 7 | (o[i] & 0x7f);
    if (o[i] & 0x80) continue;
    if (first) { /* X.690 8.19.4: the first two arcs share one number */
      unsigned long long x = arc < 40 ? 0 : arc < 80 ? 1 : 2;
      k = snprintf(t, sizeof t, "%llu.%llu", x, arc - 40 * x);
      first = 0;
    } else {
      k = snprintf(t, sizeof t, ".%llu", arc);
    }
    dn_put(b, t, (size_t)k);
    arc = 0;
  }
  return 0;
}

/* A Name (RDNSequence) as an RFC 4514 string: RDNs last first, joined by
 * ','; the values of a multi-valued RDN by '+'. String values are escaped
 * (2.4), octets outside printable ASCII as \XX; other value types, and
 * every value of a dotted type, as '#' and the hex of their DER. */
static int dn_format(const unsigned char *name, size_t n, dn_buf *b) {
  const unsigned char *rdn_at[64];
  size_t rdn_len[64], nrdn = 0;
  der_el e;
  while (n) {
    if (der_get(name, n, &e) != 0 || e.tag != 0x31 || nrdn == 64) return -1;
    rdn_at[nrdn] = e.p;
    rdn_len[nrdn++] = e.len;
    name += e.len;
    n -= e.len;
  }
  for (size_t r = nrdn; r-- > 0;) {
    der_el set, ava, type, val;
    const unsigned char *q;
    size_t left;
    (void)der_get(rdn_at[r], rdn_len[r], &set);
    q = set.c;
    left = set.clen;
    if (!left) return -1;
    if (r + 1 != nrdn) dn_put(b, ",", 1);
    for (int first = 1; left; first = 0) {
      int named;
      if (der_get(q, left, &ava) != 0 || ava.tag != 0x30) return -1;
      q += ava.len;
      left -= ava.len;
      if (der_get(ava.c, ava.clen, &type) != 0 || type.tag != 0x06 ||
          der_get(type.c + type.clen, ava.clen - type.len, &val) != 0 || type.len + val.len != ava.clen)
        return -1;
      if (!first) dn_put(b, "+", 1);
      if ((named = dn_type(b, type.c, type.clen)) < 0) return -1;
      dn_put(b, "=", 1);
      if (!named || (val.tag != 0x0c && val.tag != 0x13 && val.tag != 0x16 && val.tag != 0x14 &&
                     val.tag != 0x1a)) {
        dn_put(b, "#", 1);
        for (size_t i = 0; i < val.len; i++) dn_hex(b, NULL, val.p[i]);
        continue;
      }
      for (size_t i = 0; i < val.clen; i++) {
        unsigned char ch = val.c[i];
        if (ch < 0x20 || ch >= 0x7f) {
          dn_hex(b, "\\", ch);
        } else if (ch == '"' || ch == '+' || ch == ',' || ch == ';' || ch == '<' || ch == '>' || ch == '\\' ||
                   (i == 0 && (ch == ' ' || ch == '#')) || (i + 1 == val.clen && ch == ' ')) {
          char e2[2] = {'\\', (char)ch};
          dn_put(b, e2, 2);
        } else {
          dn_put(b, (const char *)&ch, 1);
        }
      }
    }
  }
  return 0;
}

/* Issuer and subject of a DER certificate (RFC 5280 4.1.1.1, 4.1.2). */
static int cert_names(const unsigned char *p, size_t n, der_el *issuer, der_el *subject) {
  der_el cert, tbs, e;
  const unsigned char *q;
  size_t left;
  if (der_get(p, n, &cert) != 0 || cert.tag != 0x30 || cert.len != n) return -1;
  if (der_get(cert.c, cert.clen, &tbs) != 0 || tbs.tag != 0x30) return -1;
  q = tbs.c;
  left = tbs.clen;
  for (int i = 0; i < 6; i++) {
    static const unsigned int want[6] = {0xa0, 0x02, 0x30, 0x30, 0x30, 0x30};
    if (i == 0 && (!left || q[0] != 0xa0)) continue; /* version is optional (v1) */
    if (der_get(q, left, &e) != 0 || e.tag != want[i]) return -1;
    if (i == 3) *issuer = e;
    if (i == 5) *subject = e;
    q += e.len;
    left -= e.len;
  }
  return 0;
}

int smtp_capture_set_client_cert(smtp_capture *c, const void *der, size_t len) {
  static const char hx[] = "0123456789abcdef";
  der_el is, su;
  char *sub = NULL, *iss = NULL;
  unsigned char md[SMTP__SHA256_LEN];
  int rc = SMTP_OK;
  memset(&is, 0, sizeof is);
  memset(&su, 0, sizeof su);
  if (!c || (!der && len)) return SMTP_ERR_INVALID_ARGUMENT;
  if (der) {
    dn_buf b;
    if (cert_names(der, len, &is, &su) != 0) return SMTP_ERR_SYNTAX;
    sub = smtp__malloc(&c->mem, CAP_DN_MAX + 1);
    iss = smtp__malloc(&c->mem, CAP_DN_MAX + 1);
    if (!sub || !iss) {
      rc = SMTP_ERR_NOMEM;
      goto fail;
    }
    b.p = sub, b.len = 0, b.cap = CAP_DN_MAX + 1, b.full = 0, sub[0] = '\0';
    if (dn_format(su.c, su.clen, &b) != 0) rc = SMTP_ERR_SYNTAX;
    b.p = iss, b.len = 0, b.cap = CAP_DN_MAX + 1, b.full = 0, iss[0] = '\0';
    if (rc == SMTP_OK && dn_format(is.c, is.clen, &b) != 0) rc = SMTP_ERR_SYNTAX;
    if (rc == SMTP_OK && smtp__sha256(der, len, md) != 0) rc = SMTP_ERR_NOMEM;
    if (rc != SMTP_OK) goto fail;
  }
  smtp__free(&c->mem, c->cert_subject);
  smtp__free(&c->mem, c->cert_issuer);
  c->cert_subject = sub;
  c->cert_issuer = iss;
  c->cert_sha256[0] = '\0';
  if (der) {
    for (size_t i = 0; i < sizeof md; i++) {
      c->cert_sha256[2 * i] = hx[md[i] >> 4];
      c->cert_sha256[2 * i + 1] = hx[md[i] & 15];
    }
    c->cert_sha256[2 * sizeof md] = '\0';
  }
  return SMTP_OK;
fail:
  smtp__free(&c->mem, sub);
  smtp__free(&c->mem, iss);
  return rc;
}

int smtp_capture_set_file(smtp_capture *c, const char *path) {
  char *p = NULL;
  if (!c) return SMTP_ERR_INVALID_ARGUMENT;
  if (path) {
    size_t n = strlen(path);
    if (n > CAP_FILE_MAX) return SMTP_ERR_INVALID_ARGUMENT;
    if (!(p = dup_n(&c->mem, path, n))) return SMTP_ERR_NOMEM;
  }
  smtp__free(&c->mem, c->file);
  c->file = p;
  return SMTP_OK;
}

int smtp_capture_data_end(smtp_capture *c, const smtp_server_data_end *end) {
  if (!c || !end) return SMTP_ERR_INVALID_ARGUMENT;
  if (c->open && end->rcpt_index <= 0) {
    c->rec.size = end->size;
    c->rec.size_known = 1;
    c->rec.bdat = end->bdat ? 1 : 0;
  }
  return SMTP_OK;
}

/* The transaction is over: hand the record over, then forget it. */
static void finish(smtp_capture *c) {
  if (c->open && !c->failed) {
    if (c->rec.has_data && c->file && !c->rec.file) {
      c->rec.file = c->file;
      c->file = NULL;
    }
    c->cb(c, &c->rec, c->ud);
  }
  smtp__free(&c->mem, c->file);
  c->file = NULL;
  rec_clear(c);
}

void smtp_capture_end(smtp_capture *c) {
  if (!c) return;
  pending_clear(c);
  finish(c);
}

/* Start a transaction after a positive reply to MAIL. */
static void open_transaction(smtp_capture *c, const smtp_server_session *s) {
  smtp_capture_record *r = &c->rec;
  smtp_tls_info ti;
  const char *h, *a;
  size_t n;
  smtp_endpoint ep;
  rec_clear(c);
  c->open = 1;
  memcpy(r->client, c->client, sizeof r->client);
  r->client_port = c->client_port;
  memcpy(r->peer, c->peer, sizeof r->peer);
  r->has_peer = c->has_peer;
  r->peer_port = c->peer_port;
  /* The session's own endpoints win when it has them: a PROXY header or
   * XCLIENT changes the client after the connection opened, and the TCP
   * peer is then kept as the session's peer endpoint. */
  if (smtp_server_session_addr(s, SMTP_ADDR_CLIENT, &ep) == 0 &&
      (ep.family == SMTP_AF_INET || ep.family == SMTP_AF_INET6) &&
      smtp_endpoint_format(&ep, r->client, sizeof r->client) > 0) {
    r->client_port = ep.port;
    if (smtp_server_session_addr(s, SMTP_ADDR_PEER, &ep) == 0 &&
        (ep.family == SMTP_AF_INET || ep.family == SMTP_AF_INET6) &&
        smtp_endpoint_format(&ep, r->peer, sizeof r->peer) > 0) {
      r->has_peer = 1;
      r->peer_port = ep.port;
    }
  }
  r->mail = c->pending_path;
  r->mail_params = c->pending_params;
  c->pending_path = c->pending_params = NULL;
  if ((h = smtp_server_session_helo_name(s, &n)) != NULL && !(r->helo = dup_n(&c->mem, h, n)))
    c->failed = 1;
  {
    /* the host name a trusted proxy gave: this transaction's XFORWARD
     * NAME, else XCLIENT's; "unknown" when its lookup failed */
    smtp_xattrs x;
    unsigned int st = SMTP_XVALUE_ABSENT;
    if (smtp_server_session_xattrs(s, SMTP_XFORWARD, &x) == SMTP_OK) st = x.state[SMTP_XATTR_NAME];
    if (st == SMTP_XVALUE_ABSENT && smtp_server_session_xattrs(s, SMTP_XCLIENT, &x) == SMTP_OK)
      st = x.state[SMTP_XATTR_NAME];
    if (st == SMTP_XVALUE_SET) h = x.value[SMTP_XATTR_NAME].ptr, n = x.value[SMTP_XATTR_NAME].len;
    else if (st != SMTP_XVALUE_ABSENT) h = "unknown", n = 7;
    if (st != SMTP_XVALUE_ABSENT && !(r->name = dup_n(&c->mem, h, n))) c->failed = 1;
  }
  if ((a = smtp_server_session_auth_user(s, &n)) != NULL && !(r->auth = dup_n(&c->mem, a, n)))
    c->failed = 1;
  if (smtp_server_session_tls_info(s, &ti) == SMTP_OK) {
    r->tls = 1;
    snprintf(r->tls_version, sizeof r->tls_version, "%s", ti.protocol ? ti.protocol : "");
    snprintf(r->tls_cipher, sizeof r->tls_cipher, "%s", ti.cipher ? ti.cipher : "");
    r->has_cert = ti.has_peer_cert || c->cert_subject ? 1 : 0;
    r->cert_verified = ti.peer_verified ? 1 : 0;
    if (c->cert_subject) {
      if (!(r->cert_subject = dup_n(&c->mem, c->cert_subject, strlen(c->cert_subject))) ||
          !(r->cert_issuer = dup_n(&c->mem, c->cert_issuer, strlen(c->cert_issuer))))
        c->failed = 1;
      memcpy(r->cert_sha256, c->cert_sha256, sizeof r->cert_sha256);
    }
  }
  c->lmtp = (smtp_server_session_flags(s) & SMTP_SERVER_FLAG_LMTP) != 0;
}

static void add_rcpt(smtp_capture *c, int code, const char *enh) {
  smtp_capture_record *r = &c->rec;
  cap_rcpt *x;
  if (r->nrcpts == r->rcpt_cap) {
    unsigned int cap = r->rcpt_cap ? r->rcpt_cap * 2 : 4;
    cap_rcpt *a = smtp__realloc(&c->mem, r->rcpts, cap * sizeof *a);
    if (!a) {
      c->failed = 1;
      return;
    }
    r->rcpts = a;
    r->rcpt_cap = cap;
  }
  x = &r->rcpts[r->nrcpts++];
  x->path = c->pending_path;
  x->params = c->pending_params;
  c->pending_path = c->pending_params = NULL;
  x->code = code;
  snprintf(x->enhanced, sizeof x->enhanced, "%s", enh);
}

/* A command line from the client. */
static int on_in(smtp_capture *c, const char *line, size_t len) {
  smtp_command cmd;
  pending_clear(c);
  if (smtp_parse_command(line, len, &cmd) != SMTP_OK) {
    c->pending = P_OTHER;
    return SMTP_OK;
  }
  switch (cmd.verb) {
  case SMTP_VERB_MAIL:
  case SMTP_VERB_RCPT: {
    smtp_path path;
    smtp_span params;
    int is_rcpt = cmd.verb == SMTP_VERB_RCPT;
    c->pending = P_OTHER;
    if (smtp_parse_mail_rcpt_args(cmd.args.ptr, cmd.args.len, is_rcpt,
                                  SMTP_PARSE_UTF8 | SMTP_PARSE_SPACE_AFTER_COLON |
                                      SMTP_PARSE_EMPTY_QUOTED,
                                  &path, &params) != SMTP_OK)
      break; /* the session refuses it too */
    c->pending_path = dup_n(&c->mem, path.address.ptr, path.address.len);
    c->pending_params = dup_n(&c->mem, params.ptr, params.len);
    if (!c->pending_path || !c->pending_params) {
      pending_clear(c);
      c->pending = P_OTHER;
      if (c->open) c->failed = 1;
      return SMTP_ERR_NOMEM;
    }
    c->pending = is_rcpt ? P_RCPT : P_MAIL;
    break;
  }
  case SMTP_VERB_DATA:
    c->pending = P_DATA;
    break;
  case SMTP_VERB_BDAT: {
    /* "BDAT" SP chunk-size [SP end-marker] (RFC 3030 2) */
    const char *a = cmd.args.ptr;
    size_t n = cmd.args.len;
    while (n && a[n - 1] == ' ') n--;
    c->pending = (n >= 5 && smtp__casecmp(a + n - 5, 5, " LAST", 5) == 0) ? P_BDAT_LAST : P_BDAT;
    break;
  }
  case SMTP_VERB_RSET:
  case SMTP_VERB_HELO:
  case SMTP_VERB_EHLO:
  case SMTP_VERB_LHLO:
  case SMTP_VERB_STARTTLS:
  case SMTP_VERB_QUIT:
    c->pending = P_RESET;
    break;
  default:
    c->pending = P_OTHER;
    break;
  }
  return SMTP_OK;
}

/* A final reply line ("250 ..." or "250"): its code and enhanced code. */
static int parse_final(const char *line, size_t len, int *code, char enh[16]) {
  size_t i = 4, j;
  enh[0] = '\0';
  if (len < 3 || !smtp__is_digit((unsigned char)line[0]) || !smtp__is_digit((unsigned char)line[1]) ||
      !smtp__is_digit((unsigned char)line[2]))
    return -1;
  if (len > 3 && line[3] != ' ') return 0; /* "250-..." continues */
  *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (len > 4 && line[4] == (char)('0' + *code / 100)) {
    smtp_enhanced_code ec;
    j = i;
    while (j < len && line[j] != ' ') j++;
    if (j - i < 16 && smtp_enhanced_code_parse(line + i, j - i, &ec, NULL) == SMTP_OK) {
      memcpy(enh, line + i, j - i);
      enh[j - i] = '\0';
    }
  }
  return 1;
}

static void data_reply(smtp_capture *c, const smtp_server_session *s, int code, const char *enh) {
  smtp_capture_record *r = &c->rec;
  if (!r->has_data) {
    r->has_data = 1;
    r->data_code = code;
    snprintf(r->data_enhanced, sizeof r->data_enhanced, "%s", enh);
    if (!r->size_known) r->size = smtp_server_session_message_size(s);
  }
}

static void on_out(smtp_capture *c, const smtp_server_session *s, const char *line, size_t len) {
  int code = 0, k;
  char enh[16];
  k = parse_final(line, len, &code, enh);
  if (k != 1) return;
  switch (c->pending) {
  case P_MAIL:
    if (code / 100 == 2) {
      finish(c); /* cannot happen (MAIL inside a transaction is refused), but be safe */
      open_transaction(c, s);
    }
    break;
  case P_RCPT:
    if (c->open) add_rcpt(c, code, enh);
    break;
  case P_DATA:
    if (!c->open) break;
    if (code == 354) {
      unsigned int ok = 0;
      for (unsigned int i = 0; i < c->rec.nrcpts; i++) ok += c->rec.rcpts[i].code / 100 == 2;
      c->data_replies = c->lmtp && ok ? ok : 1;
      pending_clear(c);
      c->pending = P_DATA_END;
      return;
    }
    break; /* DATA refused: the transaction goes on */
  case P_DATA_END:
    if (!c->open) break;
    data_reply(c, s, code, enh);
    if (c->data_replies > 1) {
      c->data_replies--;
      return; /* LMTP: one reply per accepted recipient */
    }
    finish(c);
    break;
  case P_BDAT:
  case P_BDAT_LAST:
    if (!c->open) break;
    c->rec.bdat = 1;
    if (code / 100 != 2) {
      data_reply(c, s, code, enh);
      finish(c);
    } else if (c->pending == P_BDAT_LAST) {
      if (c->lmtp) {
        unsigned int ok = 0;
        for (unsigned int i = 0; i < c->rec.nrcpts; i++) ok += c->rec.rcpts[i].code / 100 == 2;
        data_reply(c, s, code, enh);
        if (ok > 1) {
          c->data_replies = ok - 1;
          pending_clear(c);
          c->pending = P_DATA_END;
          return;
        }
      } else {
        data_reply(c, s, code, enh);
      }
      finish(c);
    }
    break;
  case P_RESET:
    /* RSET, HELO/EHLO, STARTTLS (220), QUIT (221) end a transaction when
     * accepted; a refused one leaves it open */
    if (code / 100 == 2) finish(c);
    break;
  default:
    break;
  }
  if (code == 421) finish(c); /* the session closes */
  pending_clear(c);
}

int smtp_capture_trace(smtp_capture *c, const smtp_server_session *s, int dir, const char *line,
                       size_t len) {
  if (!c || !s || (!line && len > 0)) return SMTP_ERR_INVALID_ARGUMENT;
  if (dir == SMTP_SERVER_TRACE_IN) return on_in(c, line, len);
  if (dir != SMTP_SERVER_TRACE_OUT) return SMTP_ERR_INVALID_ARGUMENT;
  on_out(c, s, line, len);
  return SMTP_OK;
}

/* ------------------------------------------------------------------------ */
/* JSON.                                                                     */

typedef smtp__jw jw;

static void put(jw *w, const char *s, size_t n) { smtp__jw_put(w, s, n); }
static void puts_(jw *w, const char *s) { smtp__jw_puts(w, s); }
static void str_n(jw *w, const char *s, size_t n) { smtp__jw_str_n(w, s, n); }
static void str(jw *w, const char *s) { str_n(w, s, strlen(s)); }

static void str_or_null(jw *w, const char *s, int present) {
  if (present && s) str(w, s);
  else puts_(w, "null");
}

static void num(jw *w, unsigned long long v) { smtp__jw_u64(w, (uint64_t)v); }

/* "params": upper-cased names, raw values or true (RFC 5321 4.1.2
 * esmtp-param; values as sent, xtext not decoded). */
static void params(jw *w, const char *text) {
  smtp_span rest;
  smtp_param p;
  int first = 1;
  rest.ptr = text;
  rest.len = text ? strlen(text) : 0;
  put(w, "{", 1);
  while (smtp_param_next(&rest, SMTP_PARSE_UTF8, &p) == 1) {
    char name[128];
    size_t kn = p.keyword.len < sizeof name - 1 ? p.keyword.len : sizeof name - 1;
    for (size_t i = 0; i < kn; i++) {
      char ch = p.keyword.ptr[i];
      name[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
    }
    name[kn] = '\0';
    if (!first) put(w, ",", 1);
    first = 0;
    str(w, name);
    put(w, ":", 1);
    if (!p.has_value) {
      puts_(w, "true");
      continue;
    }
    str_n(w, p.value.ptr, p.value.len);
  }
  put(w, "}", 1);
}

int smtp_capture_record_json(const smtp_capture_record *r, const char *time, char *buf, size_t cap,
                             size_t *needed) {
  jw w;
  if (!r) return SMTP_ERR_INVALID_ARGUMENT;
  w.buf = buf;
  w.cap = buf ? cap : 0;
  w.len = 0;
  puts_(&w, "{\"time\":");
  str_or_null(&w, time, 1);
  puts_(&w, ",\"client\":{\"addr\":");
  str_or_null(&w, r->client, r->client[0] != '\0');
  puts_(&w, ",\"port\":");
  if (r->client_port >= 0) num(&w, (unsigned long long)r->client_port);
  else puts_(&w, "null");
  puts_(&w, ",\"name\":");
  str_or_null(&w, r->name, 1);
  puts_(&w, "},\"peer\":");
  if (r->has_peer) {
    puts_(&w, "{\"addr\":");
    str(&w, r->peer);
    puts_(&w, ",\"port\":");
    if (r->peer_port >= 0) num(&w, (unsigned long long)r->peer_port);
    else puts_(&w, "null");
    puts_(&w, "}");
  } else {
    puts_(&w, "null");
  }
  puts_(&w, ",\"helo\":");
  str_or_null(&w, r->helo, 1);
  puts_(&w, ",\"tls\":");
  if (r->tls) {
    puts_(&w, "{\"version\":");
    str_or_null(&w, r->tls_version, r->tls_version[0] != '\0');
    puts_(&w, ",\"cipher\":");
    str_or_null(&w, r->tls_cipher, r->tls_cipher[0] != '\0');
    puts_(&w, ",\"client_cert\":");
    if (r->has_cert) {
      puts_(&w, "{\"subject\":");
      str_or_null(&w, r->cert_subject, r->cert_subject != NULL);
      puts_(&w, ",\"issuer\":");
      str_or_null(&w, r->cert_issuer, r->cert_issuer != NULL);
      puts_(&w, ",\"sha256\":");
      str_or_null(&w, r->cert_sha256, r->cert_sha256[0] != '\0');
      puts_(&w, r->cert_verified ? ",\"verified\":true}" : ",\"verified\":false}");
    } else {
      puts_(&w, "null");
    }
    puts_(&w, "}");
  } else {
    puts_(&w, "null");
  }
  puts_(&w, ",\"auth\":");
  str_or_null(&w, r->auth, 1);
  puts_(&w, ",\"mail\":{\"path\":");
  str(&w, r->mail ? r->mail : "");
  puts_(&w, ",\"params\":");
  params(&w, r->mail_params);
  puts_(&w, "},\"rcpts\":[");
  for (unsigned int i = 0; i < r->nrcpts; i++) {
    const cap_rcpt *x = &r->rcpts[i];
    if (i) put(&w, ",", 1);
    puts_(&w, "{\"path\":");
    str(&w, x->path ? x->path : "");
    puts_(&w, ",\"params\":");
    params(&w, x->params);
    puts_(&w, ",\"code\":");
    num(&w, (unsigned long long)x->code);
    puts_(&w, ",\"enhanced\":");
    str_or_null(&w, x->enhanced, x->enhanced[0] != '\0');
    puts_(&w, "}");
  }
  puts_(&w, "],\"data\":");
  if (r->has_data) {
    puts_(&w, "{\"size\":");
    num(&w, (unsigned long long)r->size);
    puts_(&w, ",\"code\":");
    num(&w, (unsigned long long)r->data_code);
    puts_(&w, ",\"enhanced\":");
    str_or_null(&w, r->data_enhanced, r->data_enhanced[0] != '\0');
    puts_(&w, ",\"file\":");
    str_or_null(&w, r->file, 1);
    puts_(&w, r->bdat ? ",\"bdat\":true}" : ",\"bdat\":false}");
  } else {
    puts_(&w, "null");
  }
  puts_(&w, "}");
  if (needed) *needed = w.len;
  if (!buf || w.len >= cap) return SMTP_ERR_BUFFER_TOO_SMALL;
  buf[w.len] = '\0';
  return SMTP_OK;
}

const char *smtp_capture_record_mail(const smtp_capture_record *rec) {
  return rec && rec->mail ? rec->mail : "";
}

size_t smtp_capture_record_rcpt_count(const smtp_capture_record *rec) {
  return rec ? rec->nrcpts : 0;
}

const char *smtp_capture_record_rcpt(const smtp_capture_record *rec, size_t i, int *code) {
  if (!rec || i >= rec->nrcpts) return NULL;
  if (code) *code = rec->rcpts[i].code;
  return rec->rcpts[i].path ? rec->rcpts[i].path : "";
}

int smtp_capture_record_data(const smtp_capture_record *rec, uint64_t *size) {
  if (!rec || !rec->has_data) {
    if (size) *size = 0;
    return 0;
  }
  if (size) *size = rec->size;
  return rec->data_code;
}

int smtp_capture_record_client_cert(const smtp_capture_record *rec, const char **subject,
                                    const char **issuer, const char **sha256, int *verified) {
  if (subject) *subject = NULL;
  if (issuer) *issuer = NULL;
  if (sha256) *sha256 = NULL;
  if (verified) *verified = 0;
  if (!rec) return SMTP_ERR_INVALID_ARGUMENT;
  if (!rec->has_cert) return SMTP_ERR_NOT_FOUND;
  if (subject) *subject = rec->cert_subject;
  if (issuer) *issuer = rec->cert_issuer;
  if (sha256) *sha256 = rec->cert_sha256[0] ? rec->cert_sha256 : NULL;
  if (verified) *verified = rec->cert_verified;
  return SMTP_OK;
}
