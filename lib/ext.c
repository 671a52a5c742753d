/* SMTP service extensions: parsing an EHLO/LHLO reply into capabilities
 * and building one from a server configuration.
 *
 * RFC 5321 4.1.1.1:
 *   ehlo-ok-rsp  = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
 *                / ( "250-" Domain [ SP ehlo-greet ] CRLF
 *                    *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF )
 *   ehlo-line    = ehlo-keyword *( SP ehlo-param )
 *   ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   ehlo-param   = 1*(%d33-126)
 *
 * The parser works on a reply already split into lines (smtp_reply, see
 * lib/reply.c); it never copies, every span points into the reply. No
 * allocation, no I/O. */
#include <limits.h>
#include <string.h>

#include <smtp/ext.h>

#include "internal.h"
#include "text.h"

/* ---------------------------------------------------------------- SASL names */

static const struct {
  unsigned int mech;
  const char *name;
} sasl_names[] = {
    {SMTP_SASL_PLAIN, "PLAIN"},             /* RFC 4616 */
    {SMTP_SASL_LOGIN, "LOGIN"},             /* draft-murchison-sasl-login */
    {SMTP_SASL_CRAM_MD5, "CRAM-MD5"},       /* RFC 2195 */
    {SMTP_SASL_XOAUTH2, "XOAUTH2"},         /* Google/Microsoft */
    {SMTP_SASL_OAUTHBEARER, "OAUTHBEARER"}, /* RFC 7628 */
    {SMTP_SASL_SCRAM_SHA_1, "SCRAM-SHA-1"}, /* RFC 5802 */
    {SMTP_SASL_SCRAM_SHA_256, "SCRAM-SHA-256"}, /* RFC 7677 */
    {SMTP_SASL_EXTERNAL, "EXTERNAL"},       /* RFC 4422 Appendix A */
    {SMTP_SASL_SCRAM_SHA_512, "SCRAM-SHA-512"},
    {SMTP_SASL_SCRAM_SHA_1_PLUS, "SCRAM-SHA-1-PLUS"},     /* RFC 5802 6 */
    {SMTP_SASL_SCRAM_SHA_256_PLUS, "SCRAM-SHA-256-PLUS"}, /* RFC 7677 */
    {SMTP_SASL_SCRAM_SHA_512_PLUS, "SCRAM-SHA-512-PLUS"},
};

#define SASL_ALL                                                                      \
  (SMTP_SASL_PLAIN | SMTP_SASL_LOGIN | SMTP_SASL_CRAM_MD5 | SMTP_SASL_XOAUTH2 |       \
   SMTP_SASL_OAUTHBEARER | SMTP_SASL_SCRAM_SHA_1 | SMTP_SASL_SCRAM_SHA_256 |          \
   SMTP_SASL_EXTERNAL | SMTP_SASL_SCRAM_SHA_512 | SMTP_SASL_SCRAM_SHA_1_PLUS |          \
   SMTP_SASL_SCRAM_SHA_256_PLUS | SMTP_SASL_SCRAM_SHA_512_PLUS)

unsigned int smtp_sasl_mech_from_name(const char *name, size_t len) {
  size_t i;
  if (!name) return 0;
  for (i = 0; i < SMTP__ARRAY_LEN(sasl_names); i++)
    if (smtp__casecmp(name, len, sasl_names[i].name, strlen(sasl_names[i].name)) == 0)
      return sasl_names[i].mech;
  return 0;
}

const char *smtp_sasl_mech_name(unsigned int mech) {
  size_t i;
  for (i = 0; i < SMTP__ARRAY_LEN(sasl_names); i++)
    if (sasl_names[i].mech == mech) return sasl_names[i].name;
  return NULL;
}

/* ------------------------------------------------------------ keyword table */

/* Keywords libsmtp understands, in the order the builder advertises them. */
static const struct {
  unsigned int flag;
  const char *name;
} ext_names[] = {
    {SMTP_EXT_PIPELINING, "PIPELINING"},                   /* RFC 2920 */
    {SMTP_EXT_SIZE, "SIZE"},                               /* RFC 1870 */
    {SMTP_EXT_8BITMIME, "8BITMIME"},                       /* RFC 6152 */
    {SMTP_EXT_BINARYMIME, "BINARYMIME"},                   /* RFC 3030 */
    {SMTP_EXT_CHUNKING, "CHUNKING"},                       /* RFC 3030 */
    {SMTP_EXT_SMTPUTF8, "SMTPUTF8"},                       /* RFC 6531 */
    {SMTP_EXT_ENHANCEDSTATUSCODES, "ENHANCEDSTATUSCODES"}, /* RFC 2034 */
    {SMTP_EXT_DSN, "DSN"},                                 /* RFC 3461 */
    {SMTP_EXT_STARTTLS, "STARTTLS"},                       /* RFC 3207 */
    {SMTP_EXT_AUTH, "AUTH"},                               /* RFC 4954 */
    {SMTP_EXT_REQUIRETLS, "REQUIRETLS"},                   /* RFC 8689 */
    {SMTP_EXT_LIMITS, "LIMITS"},                           /* RFC 9422 */
    {SMTP_EXT_DELIVERBY, "DELIVERBY"},                     /* RFC 2852 */
    {SMTP_EXT_MT_PRIORITY, "MT-PRIORITY"},                 /* RFC 6710 */
    {SMTP_EXT_FUTURERELEASE, "FUTURERELEASE"},             /* RFC 4865 */
    {SMTP_EXT_ETRN, "ETRN"},                               /* RFC 1985 */
    {SMTP_EXT_VRFY, "VRFY"},                               /* RFC 5321 */
    {SMTP_EXT_EXPN, "EXPN"},                               /* RFC 5321 */
    {SMTP_EXT_HELP, "HELP"},                               /* RFC 5321 */
    {SMTP_EXT_RRVS, "RRVS"},                               /* RFC 7293 */
    {SMTP_EXT_NO_SOLICITING, "NO-SOLICITING"},             /* RFC 3865 */
    {SMTP_EXT_MTRK, "MTRK"},                               /* RFC 3885 */
    {SMTP_EXT_SUBMITTER, "SUBMITTER"},                     /* RFC 4405 */
    {SMTP_EXT_BURL, "BURL"},                               /* RFC 4468 */
};

#define EXT_ALL ((SMTP_EXT_BURL << 1) - 1u)

static unsigned int ext_flag_of(const char *kw, size_t len) {
  size_t i;
  for (i = 0; i < SMTP__ARRAY_LEN(ext_names); i++)
    if (smtp__casecmp(kw, len, ext_names[i].name, strlen(ext_names[i].name)) == 0)
      return ext_names[i].flag;
  return 0;
}

/* ------------------------------------------------------------------ parsing */

static int is_keyword_start(int c) { return smtp__is_alpha(c) || smtp__is_digit(c); }
static int is_keyword_char(int c) { return is_keyword_start(c) || c == '-'; }
/* ehlo-param octets: %d33-126 (RFC 5321 4.1.1.1). */
static int is_param_char(int c) { return c >= 33 && c <= 126; }

/* Unsigned decimal, digits only, into *out; 0 when not all digits, empty or
 * over @p max. */
static int parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  size_t i;
  if (len == 0) return 0;
  for (i = 0; i < len; i++) {
    unsigned d;
    if (!smtp__is_digit((unsigned char)s[i])) return 0;
    d = (unsigned)(s[i] - '0');
    if (v > (max - d) / 10) return 0; /* v * 10 + d > max */
    v = v * 10 + d;
  }
  *out = v;
  return 1;
}

/* Next SP-separated word of @p s starting at *pos; returns 0 at the end.
 * Runs of SP are taken as one separator (tolerated: some servers pad). */
static int next_word(const char *s, size_t len, size_t *pos, smtp_span *word) {
  size_t i = *pos, start;
  while (i < len && s[i] == ' ') i++;
  if (i >= len) {
    *pos = i;
    return 0;
  }
  start = i;
  while (i < len && s[i] != ' ') i++;
  word->ptr = s + start;
  word->len = i - start;
  *pos = i;
  return 1;
}

/* Split one line into keyword and params. Returns 0 when the line is not an
 * ehlo-line. Accepts SP or "=" after the keyword (the "=" form is the
 * pre-RFC 2554 "AUTH=PLAIN LOGIN" some servers still send) and runs of SP
 * between parameters, but nothing outside %d32-126 in the parameters. */
static int split_line(smtp_span line, smtp_ext_keyword *out) {
  const char *s = line.ptr;
  size_t len = line.len, i = 0, j;
  if (len == 0 || !s || !is_keyword_start((unsigned char)s[0])) return 0;
  while (i < len && is_keyword_char((unsigned char)s[i])) i++;
  out->keyword.ptr = s;
  out->keyword.len = i;
  out->params.ptr = s + i;
  out->params.len = 0;
  if (i == len) return 1;
  if (s[i] != ' ' && s[i] != '=') return 0; /* e.g. "X_FOO", "SIZE\t100" */
  i++;
  for (j = i; j < len; j++)
    if (s[j] != ' ' && !is_param_char((unsigned char)s[j])) return 0;
  out->params.ptr = s + i;
  out->params.len = len - i;
  return 1;
}

/* RFC 1870 4: size-param ::= [1*DIGIT]; a missing value or 0 means no
 * fixed maximum. Anything else (letters, a second word, more than 64 bits)
 * leaves SIZE unset. */
static void parse_size(smtp_span params, smtp_capabilities *caps) {
  size_t pos = 0;
  smtp_span w, extra;
  uint64_t v;
  if (caps->flags & SMTP_EXT_SIZE) return; /* the first SIZE line counts */
  if (!next_word(params.ptr, params.len, &pos, &w)) {
    caps->flags |= SMTP_EXT_SIZE;
    return;
  }
  if (next_word(params.ptr, params.len, &pos, &extra)) return;
  if (!parse_decimal(w.ptr, w.len, UINT64_MAX, &v)) return;
  caps->flags |= SMTP_EXT_SIZE;
  caps->size_max = v;
  caps->size_has_value = v != 0;
}

/* RFC 4954 3: "AUTH" SP mechanism *(SP mechanism); unknown names ignored.
 * Several AUTH lines (a server sending both "AUTH" and "AUTH=") add up. */
static void parse_auth(smtp_span params, smtp_capabilities *caps) {
  size_t pos = 0;
  smtp_span w;
  caps->flags |= SMTP_EXT_AUTH;
  while (next_word(params.ptr, params.len, &pos, &w))
    caps->auth_mechs |= smtp_sasl_mech_from_name(w.ptr, w.len);
}

/* RFC 9422 4: "LIMITS" SP limit-name "=" limit-value *(SP ...), names
 * case-insensitive, unknown names ignored. The registry gives the value
 * syntax %x31-39 0*5DIGIT; the parser is lenient about the six-digit bound
 * (anything from 1 to UINT_MAX is kept) but ignores 0, non-digits and
 * values that overflow. The first valid value of each name counts. */
static void parse_limits(smtp_span params, smtp_capabilities *caps) {
  size_t pos = 0;
  smtp_span w;
  caps->flags |= SMTP_EXT_LIMITS;
  while (next_word(params.ptr, params.len, &pos, &w)) {
    const char *eq = memchr(w.ptr, '=', w.len);
    size_t nlen;
    uint64_t v;
    unsigned int *slot;
    if (!eq) continue;
    nlen = (size_t)(eq - w.ptr);
    if (smtp__casecmp(w.ptr, nlen, "RCPTMAX", 7) == 0)
      slot = &caps->limits_rcptmax;
    else if (smtp__casecmp(w.ptr, nlen, "MAILMAX", 7) == 0)
      slot = &caps->limits_mailmax;
    else if (smtp__casecmp(w.ptr, nlen, "RCPTDOMAINMAX", 13) == 0)
      slot = &caps->limits_rcptdomainmax;
    else
      continue;
    if (*slot != 0) continue;
    if (!parse_decimal(eq + 1, w.len - nlen - 1, UINT_MAX, &v) || v == 0) continue;
    *slot = (unsigned int)v;
  }
}

int smtp_capabilities_parse(const smtp_reply *reply, smtp_capabilities *caps) {
  size_t i;
  if (!caps) return SMTP_ERR_INVALID_ARGUMENT;
  memset(caps, 0, sizeof(*caps));
  if (!reply || reply->code != 250 || reply->nlines == 0 || !reply->lines)
    return SMTP_ERR_INVALID_ARGUMENT;

  /* RFC 5321 4.1.1.1: the first line is Domain [SP ehlo-greet]; whatever
   * the greeting says ("... STARTTLS ...") is never a keyword. */
  caps->greeting = reply->lines[0];

  for (i = 1; i < reply->nlines; i++) {
    smtp_ext_keyword kw;
    unsigned int flag;
    if (!split_line(reply->lines[i], &kw)) continue; /* malformed: skipped */
    if (caps->nkeywords < SMTP_CAPS_MAX_KEYWORDS)
      caps->keywords[caps->nkeywords++] = kw;
    else
      caps->ndropped++; /* its flag and values still count below */

    flag = ext_flag_of(kw.keyword.ptr, kw.keyword.len);
    switch (flag) {
      case 0:
        break;
      case SMTP_EXT_SIZE:
        parse_size(kw.params, caps);
        break;
      case SMTP_EXT_AUTH:
        parse_auth(kw.params, caps);
        break;
      case SMTP_EXT_LIMITS:
        parse_limits(kw.params, caps);
        break;
      default:
        caps->flags |= flag;
        break;
    }
  }
  return SMTP_OK;
}

const smtp_ext_keyword *smtp_capabilities_find(const smtp_capabilities *caps,
                                               const char *keyword) {
  size_t i, n;
  if (!caps || !keyword) return NULL;
  n = strlen(keyword);
  for (i = 0; i < caps->nkeywords && i < SMTP_CAPS_MAX_KEYWORDS; i++)
    if (smtp__casecmp(caps->keywords[i].keyword.ptr, caps->keywords[i].keyword.len, keyword,
                      n) == 0)
      return &caps->keywords[i];
  return NULL;
}

/* ----------------------------------------------------------------- building */

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets including CRLF. */
#define REPLY_LINE_MAX 512u
/* RFC 9422 4: limit values are %x31-39 0*5DIGIT. */
#define LIMIT_VALUE_MAX 999999u

typedef struct writer {
  char *buf;
  size_t cap;
  size_t len;
  size_t line_start; /* offset of the current line's first octet */
  int overflow;
} writer;

static void put(writer *w, const char *s, size_t n) {
  if (w->overflow || n > w->cap - w->len) {
    w->overflow = 1;
    w->len += n; /* keeps counting so the line length check still works */
    return;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
}

static void put_str(writer *w, const char *s) { put(w, s, strlen(s)); }

static void put_u64(writer *w, uint64_t v) {
  char tmp[SMTP__U64_DIGITS];
  put(w, tmp, smtp__fmt_u64(tmp, v));
}

/* Start a line; the code and separator are written by end_line() once it is
 * known whether this is the last line. */
static void begin_line(writer *w) {
  w->line_start = w->len;
  put(w, "250-", 4);
}

static int end_line(writer *w) {
  put(w, "\r\n", 2);
  if (w->len - w->line_start > REPLY_LINE_MAX) return SMTP_ERR_TOO_LONG;
  return SMTP_OK;
}

/* CR, LF, NUL, other C0 controls and DEL are refused outright. */
static int check_controls(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  for (; *p; p++)
    if (*p < 32 || *p == 127) return SMTP_ERR_BAD_CHAR;
  return SMTP_OK;
}

/* RFC 5321 4.1.2: Domain = sub-domain *("." sub-domain), sub-domain =
 * Let-dig [Ldh-str]; or an address literal "[" ... "]" whose content is
 * dcontent (%d33-90 / %d94-126) and not empty. At most 255 octets
 * (RFC 5321 4.5.3.1.2). ASCII only: A-labels, not U-labels. */
static int check_domain(const char *d) {
  size_t n = strlen(d), i, label = 0;
  if (n == 0 || n > 255) return SMTP_ERR_SYNTAX;
  if (d[0] == '[') {
    if (n < 3 || d[n - 1] != ']') return SMTP_ERR_SYNTAX;
    for (i = 1; i < n - 1; i++) {
      unsigned char c = (unsigned char)d[i];
      if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']') return SMTP_ERR_SYNTAX;
    }
    return SMTP_OK;
  }
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)d[i];
    if (c == '.') {
      if (label == 0 || d[i - 1] == '-') return SMTP_ERR_SYNTAX;
      label = 0;
    } else if (smtp__is_alpha(c) || smtp__is_digit(c)) {
      label++;
    } else if (c == '-') {
      if (label == 0) return SMTP_ERR_SYNTAX;
      label++;
    } else {
      return SMTP_ERR_SYNTAX;
    }
    if (label > 63) return SMTP_ERR_SYNTAX;
  }
  if (label == 0 || d[n - 1] == '-') return SMTP_ERR_SYNTAX;
  return SMTP_OK;
}

/* ehlo-greet = 1*(%d0-9 / %d11-12 / %d14-127) in RFC 5321, but libsmtp
 * sends printable ASCII and SP only (controls were refused before). */
static int check_greeting(const char *g) {
  const unsigned char *p = (const unsigned char *)g;
  for (; *p; p++)
    if (*p > 126) return SMTP_ERR_SYNTAX;
  return SMTP_OK;
}

/* An extra line must be an ehlo-line exactly: keyword, then single SPs
 * between non-empty params (RFC 5321 4.1.1.1). */
static int check_ehlo_line(const char *s) {
  size_t i = 0, n = strlen(s);
  if (n == 0 || !is_keyword_start((unsigned char)s[0])) return SMTP_ERR_SYNTAX;
  while (i < n && is_keyword_char((unsigned char)s[i])) i++;
  while (i < n) {
    size_t start;
    if (s[i] != ' ') return SMTP_ERR_SYNTAX;
    start = ++i;
    while (i < n && is_param_char((unsigned char)s[i])) i++;
    if (i == start) return SMTP_ERR_SYNTAX; /* empty param: double or trailing SP */
  }
  return SMTP_OK;
}

/* AUTH mechanisms, strongest first (the builder's advertising order). */
static const unsigned int auth_order[] = {
    SMTP_SASL_EXTERNAL, SMTP_SASL_SCRAM_SHA_512_PLUS, SMTP_SASL_SCRAM_SHA_256_PLUS,
    SMTP_SASL_SCRAM_SHA_1_PLUS, SMTP_SASL_SCRAM_SHA_512, SMTP_SASL_SCRAM_SHA_256,
    SMTP_SASL_SCRAM_SHA_1,
    SMTP_SASL_OAUTHBEARER, SMTP_SASL_XOAUTH2, SMTP_SASL_CRAM_MD5,
    SMTP_SASL_PLAIN, SMTP_SASL_LOGIN,
};

smtp_ssize smtp_ehlo_reply_build(char *buf, size_t buflen, const char *domain,
                                  const char *greeting, const smtp_ehlo_config *cfg) {
  static const smtp_ehlo_config empty_cfg = {SMTP_EHLO_CONFIG_VERSION, 0, 0, 0, 0, 0, NULL, 0};
  writer w;
  size_t i, last_line;
  int rc;

  if (!domain || (!buf && buflen)) return SMTP_ERR_INVALID_ARGUMENT;
  if (!cfg) cfg = &empty_cfg;
  if (cfg->version != SMTP_EHLO_CONFIG_VERSION) return SMTP_ERR_INVALID_ARGUMENT;
  if ((cfg->flags & ~(unsigned)EXT_ALL) || (cfg->auth_mechs & ~(unsigned)SASL_ALL) ||
      (cfg->nextra && !cfg->extra))
    return SMTP_ERR_INVALID_ARGUMENT;
  /* RFC 4954 3: AUTH lists at least one mechanism. */
  if ((cfg->flags & SMTP_EXT_AUTH) && cfg->auth_mechs == 0) return SMTP_ERR_INVALID_ARGUMENT;
  /* RFC 4865 3: FUTURERELEASE needs two parameters this config cannot hold;
   * give the whole line in extra instead. */
  if (cfg->flags & SMTP_EXT_FUTURERELEASE) return SMTP_ERR_INVALID_ARGUMENT;
  if (cfg->limits_rcptmax > LIMIT_VALUE_MAX || cfg->limits_mailmax > LIMIT_VALUE_MAX)
    return SMTP_ERR_INVALID_ARGUMENT;
  for (i = 0; i < cfg->nextra; i++)
    if (!cfg->extra[i]) return SMTP_ERR_INVALID_ARGUMENT;

  /* Injection first: no CR, LF, NUL or other control anywhere. */
  if ((rc = check_controls(domain)) != SMTP_OK) return rc;
  if (greeting && (rc = check_controls(greeting)) != SMTP_OK) return rc;
  for (i = 0; i < cfg->nextra; i++)
    if ((rc = check_controls(cfg->extra[i])) != SMTP_OK) return rc;
  if ((rc = check_domain(domain)) != SMTP_OK) return rc;
  if (greeting && (rc = check_greeting(greeting)) != SMTP_OK) return rc;
  for (i = 0; i < cfg->nextra; i++)
    if ((rc = check_ehlo_line(cfg->extra[i])) != SMTP_OK) return rc;

  w.buf = buf;
  w.cap = buflen;
  w.len = 0;
  w.overflow = 0;

  begin_line(&w);
  put_str(&w, domain);
  if (greeting && *greeting) {
    put(&w, " ", 1);
    put_str(&w, greeting);
  }
  if ((rc = end_line(&w)) != SMTP_OK) return rc;

  for (i = 0; i < SMTP__ARRAY_LEN(ext_names); i++) {
    unsigned int f = ext_names[i].flag;
    if (!(cfg->flags & f)) continue;
    begin_line(&w);
    put_str(&w, ext_names[i].name);
    if (f == SMTP_EXT_SIZE && cfg->size_max > 0) { /* RFC 1870 4 */
      put(&w, " ", 1);
      put_u64(&w, cfg->size_max);
    } else if (f == SMTP_EXT_AUTH) { /* RFC 4954 3 */
      size_t k;
      for (k = 0; k < SMTP__ARRAY_LEN(auth_order); k++) {
        if (!(cfg->auth_mechs & auth_order[k])) continue;
        put(&w, " ", 1);
        put_str(&w, smtp_sasl_mech_name(auth_order[k]));
      }
    } else if (f == SMTP_EXT_LIMITS) { /* RFC 9422 4 */
      if (cfg->limits_rcptmax) {
        put_str(&w, " RCPTMAX=");
        put_u64(&w, cfg->limits_rcptmax);
      }
      if (cfg->limits_mailmax) {
        put_str(&w, " MAILMAX=");
        put_u64(&w, cfg->limits_mailmax);
      }
    }
    if ((rc = end_line(&w)) != SMTP_OK) return rc;
  }
  for (i = 0; i < cfg->nextra; i++) {
    begin_line(&w);
    put_str(&w, cfg->extra[i]);
    if ((rc = end_line(&w)) != SMTP_OK) return rc;
  }

  if (w.overflow) return SMTP_ERR_BUFFER_TOO_SMALL;
  if (w.len > (size_t)PTRDIFF_MAX) return SMTP_ERR_BUFFER_TOO_SMALL;
  /* RFC 5321 4.2.1: the last line has SP after the code, the others "-". */
  last_line = w.line_start;
  buf[last_line + 3] = ' ';
  return (smtp_ssize)w.len;
}
