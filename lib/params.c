/* MAIL and RCPT parameters of the service extensions: one table, one parser
 * and one formatter per parameter, used by the server to parse what a client
 * sent and by the client to format (and to check what the application gave)
 * before sending. No allocation, no I/O.
 *
 * esmtp-param = esmtp-keyword ["=" esmtp-value]       (RFC 5321 4.1.2)
 * esmtp-value = 1*(%d33-60 / %d62-126)
 * The line budgets ("Message Length Added") raise the 512-octet command
 * line limit of RFC 5321 4.5.3.1.4, as each extension says. */
#include <string.h>

#include <smtp/address.h>
#include <smtp/client.h>
#include <smtp/server.h>

#include "abnf.h"
#include "params.h"
#include "text.h"

/* ---------------------------------------------------------------- helpers */

static int span_ieq(smtp_span a, const char *b) {
  return smtp__casecmp(a.ptr, a.len, b, strlen(b)) == 0;
}

static int all_digits(const char *s, size_t n) {
  size_t i;
  if (n == 0) return 0;
  for (i = 0; i < n; i++)
    if (!smtp__is_digit((unsigned char)s[i])) return 0;
  return 1;
}

static uint64_t digits_value(const char *s, size_t n) {
  uint64_t v = 0;
  size_t i;
  for (i = 0; i < n; i++) v = v * 10 + (uint64_t)(s[i] - '0');
  return v;
}

/* Decode xtext into scratch; 0 and the span, or -1. */
static int xtext_into(smtp_span v, char *scratch, size_t cap, size_t *used, smtp_span *out) {
  size_t dl;
  if (*used > cap) return -1;
  if (smtp_xtext_decode(v.ptr, v.len, scratch + *used, cap - *used, &dl) != SMTP_OK || dl == 0)
    return -1;
  out->ptr = scratch + *used;
  out->len = dl;
  *used += dl;
  return 0;
}

/* Decimal numbers (text.h); the length needed even when it does not fit. */
static size_t fmt_u64(uint64_t v, char *buf, size_t cap) {
  size_t n = 0;
  smtp__put_u64(buf, cap, &n, v);
  return n;
}

static size_t fmt_i64(int64_t v, char *buf, size_t cap) {
  char t[SMTP__U64_DIGITS + 1];
  size_t n = 0;
  smtp__put(buf, cap, &n, t, smtp__fmt_i64(t, v));
  return n;
}

static size_t fmt_text(const smtp__pval *v, char *buf, size_t cap) {
  if (v->text.len <= cap) memcpy(buf, v->text.ptr, v->text.len);
  return v->text.len;
}

static size_t fmt_xtext(const smtp__pval *v, char *buf, size_t cap) {
  smtp_ssize x = smtp_xtext_encode(v->text.ptr, v->text.len, buf, cap);
  size_t i, need = 0;
  if (x >= 0) return (size_t)x;
  for (i = 0; i < v->text.len; i++) {
    unsigned char c = (unsigned char)v->text.ptr[i];
    need += (c < 33 || c > 126 || c == '+' || c == '=') ? 3 : 1;
  }
  return need;
}

static size_t fmt_none(const smtp__pval *v, char *buf, size_t cap) {
  (void)v;
  (void)buf;
  (void)cap;
  return 0;
}

static int no_value(smtp_span v, int has_value, smtp__pval *out, char *scratch, size_t cap,
                    size_t *used) {
  (void)v;
  (void)out;
  (void)scratch;
  (void)cap;
  (void)used;
  return has_value ? -1 : 0;
}

/* ------------------------------------------------------------- date-time */

static int two(const char *s) {
  if (!smtp__is_digit((unsigned char)s[0]) || !smtp__is_digit((unsigned char)s[1])) return -1;
  return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int64_t era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* RFC 3339 5.6:
 *   date-time = full-date "T" full-time
 *   full-date = 4DIGIT "-" 2DIGIT "-" 2DIGIT
 *   full-time = 2DIGIT ":" 2DIGIT ":" 2DIGIT [ "." 1*DIGIT ] time-offset
 *   time-offset = "Z" / ("+" / "-") 2DIGIT ":" 2DIGIT
 * "T" and "Z" may be lower case (RFC 3339 5.6 NOTE). At most 9 fraction
 * digits are taken (the value is truncated to the second); second 60 (a
 * leap second) counts as 59. */
int smtp__datetime_parse(const char *s, size_t n, int utc_only, int64_t *out) {
  int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
  size_t i = 19, f;
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (!s || n < 20) return -1;
  if (two(s) < 0 || two(s + 2) < 0 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':')
    return -1;
  y = two(s) * 100 + two(s + 2);
  mo = two(s + 5);
  d = two(s + 8);
  h = two(s + 11);
  mi = two(s + 14);
  sec = two(s + 17);
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      sec < 0 || sec > 60)
    return -1;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
  if (s[i] == '.') {
    for (f = i + 1; f < n && smtp__is_digit((unsigned char)s[f]); f++) {}
    if (f == i + 1 || f - i - 1 > 9) return -1;
    i = f;
  }
  if (i >= n) return -1;
  if (s[i] == 'Z' || s[i] == 'z') {
    i++;
  } else if (s[i] == '+' || s[i] == '-') {
    if (n - i < 6 || s[i + 3] != ':') return -1;
    sign = s[i] == '-' ? -1 : 1;
    oh = two(s + i + 1);
    om = two(s + i + 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return -1;
    if (utc_only && (oh || om)) return -1;
    i += 6;
  } else {
    return -1;
  }
  if (i != n) return -1;
  if (sec == 60) sec = 59;
  *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
         (int64_t)sign * (oh * 3600 + om * 60);
  return 0;
}

/* -------------------------------------------------------------- parsers */

/* RFC 1870 6: size-value ::= 1*20DIGIT. */
static int p_size(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv || !all_digits(v.ptr, v.len)) return -1;
  if (smtp_parse_u64(v.ptr, v.len, &o->u) != SMTP_OK) {
    o->u = UINT64_MAX; /* the caller refuses with 552 (too big), not 501 */
    o->flag = 1;
  }
  return 0;
}
static size_t f_size(const smtp__pval *v, char *buf, size_t cap) { return fmt_u64(v->u, buf, cap); }

/* RFC 6152 2 / RFC 3030 3: BODY=7BIT / 8BITMIME / BINARYMIME. */
static int p_body(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv) return -1;
  if (span_ieq(v, "7BIT")) o->mode = SMTP_BODY_7BIT;
  else if (span_ieq(v, "8BITMIME")) o->mode = SMTP_BODY_8BITMIME;
  else if (span_ieq(v, "BINARYMIME")) o->mode = SMTP_BODY_BINARYMIME;
  else return -1;
  return 0;
}
static size_t f_body(const smtp__pval *v, char *buf, size_t cap) {
  const char *s = v->mode == SMTP_BODY_BINARYMIME ? "BINARYMIME"
                  : v->mode == SMTP_BODY_8BITMIME ? "8BITMIME"
                                                          : "7BIT";
  size_t n = 0;
  smtp__put(buf, cap, &n, s, strlen(s));
  return n;
}

/* RFC 3461 4.3: RET=FULL / HDRS. */
static int p_ret(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv) return -1;
  if (span_ieq(v, "FULL")) o->mode = SMTP_DSN_RET_FULL;
  else if (span_ieq(v, "HDRS")) o->mode = SMTP_DSN_RET_HDRS;
  else return -1;
  return 0;
}
static size_t f_ret(const smtp__pval *v, char *buf, size_t cap) {
  size_t n = 0;
  smtp__put(buf, cap, &n, v->mode == SMTP_DSN_RET_HDRS ? "HDRS" : "FULL", 4);
  return n;
}

/* RFC 3461 4.4: ENVID=xtext, decoded: 1 to 100 printable ASCII. */
static int p_envid(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  if (!hv || xtext_into(v, sc, cap, used, &o->text) != 0) return -1;
  if (o->text.len > 100 || !smtp__is_print(o->text.ptr, o->text.len)) return -1;
  return 0;
}

/* Decoded text without controls, valid UTF-8. */
static int sane_text(smtp_span t) {
  return !smtp__has_ctl(t.ptr, t.len) && smtp_utf8_validate(t.ptr, t.len) == SMTP_OK;
}

/* RFC 4954 5: AUTH=xtext(mailbox) / "<>". */
static int p_auth(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  if (!hv || xtext_into(v, sc, cap, used, &o->text) != 0) return -1;
  return sane_text(o->text) ? 0 : -1;
}

/* RFC 6710 7: priority-value = (["-"] NZDIGIT) / "0", -9..9. A leading "+"
 * is not in the grammar and is refused. */
static int p_prio(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv) return -1;
  if (v.len == 1 && smtp__is_digit((unsigned char)v.ptr[0])) {
    o->i = v.ptr[0] - '0';
    return 0;
  }
  if (v.len == 2 && v.ptr[0] == '-' && v.ptr[1] >= '1' && v.ptr[1] <= '9') {
    o->i = -(v.ptr[1] - '0');
    return 0;
  }
  return -1;
}
static size_t f_i64(const smtp__pval *v, char *buf, size_t cap) { return fmt_i64(v->i, buf, cap); }

/* RFC 2852 4: by-value = by-time ";" by-mode [by-trace];
 * by-time = ["-" / "+"] 1*9DIGIT; by-mode = "N" / "R"; by-trace = "T".
 * A zero or negative by-time with "R" is a syntax error (RFC 2852 4). */
static int p_by(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  size_t i = 0, d;
  int neg = 0;
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv || v.len == 0) return -1;
  if (v.ptr[0] == '-' || v.ptr[0] == '+') {
    neg = v.ptr[0] == '-';
    i = 1;
  }
  for (d = i; d < v.len && smtp__is_digit((unsigned char)v.ptr[d]); d++) {}
  if (d == i || d - i > 9 || d >= v.len || v.ptr[d] != ';') return -1;
  o->i = (int64_t)digits_value(v.ptr + i, d - i);
  if (neg) o->i = -o->i;
  d++;
  if (d >= v.len) return -1;
  if (v.ptr[d] == 'N' || v.ptr[d] == 'n') o->mode = 'N';
  else if (v.ptr[d] == 'R' || v.ptr[d] == 'r') o->mode = 'R';
  else return -1;
  d++;
  o->flag = 0;
  if (d < v.len) {
    if (v.ptr[d] != 'T' && v.ptr[d] != 't') return -1;
    o->flag = 1;
    d++;
  }
  if (d != v.len) return -1;
  if (o->mode == 'R' && o->i <= 0) return -1;
  return 0;
}
static size_t f_by(const smtp__pval *v, char *buf, size_t cap) {
  size_t n = fmt_i64(v->i, buf, cap);
  char m[2];
  m[0] = (char)v->mode;
  m[1] = 'T';
  smtp__put(buf, cap, &n, ";", 1);
  smtp__put(buf, cap, &n, m, v->flag ? 2 : 1);
  return n;
}

/* RFC 4865 4: future-release-integer = %x31-39 *8DIGIT (1..999999999). */
static int p_holdfor(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv || !all_digits(v.ptr, v.len) || v.len > 9 || v.ptr[0] == '0') return -1;
  o->u = digits_value(v.ptr, v.len);
  return 0;
}
static size_t f_u64(const smtp__pval *v, char *buf, size_t cap) { return fmt_u64(v->u, buf, cap); }

/* RFC 4865 4: future-release-date-time, a date-time normalised to UTC.
 * text: the value as sent; i: seconds since 1970. */
static int p_holduntil(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv || smtp__datetime_parse(v.ptr, v.len, 1, &o->i) != 0) return -1;
  o->text = v;
  return 0;
}

/* RFC 3865: SOLICIT=solicitation-keywords; a comma-separated list of
 * keywords (ALPHA / DIGIT and "-" "." ":" "_"), at most 512 octets here. */
int smtp__solicit_check(const char *s, size_t n) {
  size_t i, run = 0;
  if (!s || n == 0 || n > 512) return -1;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == ',') {
      if (run == 0) return -1;
      run = 0;
    } else if (smtp__is_alpha(c) || smtp__is_digit(c) || c == '-' || c == '.' || c == ':' ||
               c == '_') {
      run++;
    } else {
      return -1;
    }
  }
  return run ? 0 : -1;
}
static int p_solicit(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv || smtp__solicit_check(v.ptr, v.len) != 0) return -1;
  o->text = v;
  return 0;
}

/* RFC 3885 3: MTRK=certifier [":" timeout]. The certifier is taken as
 * 1 to 128 esmtp-value octets other than ":"; the timeout 1*9DIGIT. */
static int p_mtrk(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  size_t i;
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv || v.len == 0) return -1;
  for (i = 0; i < v.len && v.ptr[i] != ':'; i++)
    if (!SMTP__IS(v.ptr[i], SMTP__A_ESMTPV)) return -1;
  if (i == 0 || i > 128) return -1;
  o->text.ptr = v.ptr;
  o->text.len = i;
  o->u = 0;
  o->flag = 0;
  if (i < v.len) {
    if (!all_digits(v.ptr + i + 1, v.len - i - 1) || v.len - i - 1 > 9) return -1;
    o->u = digits_value(v.ptr + i + 1, v.len - i - 1);
    o->flag = 1;
  }
  return 0;
}
static size_t f_mtrk(const smtp__pval *v, char *buf, size_t cap) {
  size_t n = fmt_text(v, buf, cap);
  if (v->flag) {
    smtp__put(buf, cap, &n, ":", 1);
    n += fmt_u64(v->u, n <= cap ? buf + n : buf, n <= cap ? cap - n : 0);
  }
  return n;
}

/* RFC 4405 4: SUBMITTER=xtext(Mailbox). */
static int p_submitter(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  smtp_mailbox mb;
  if (!hv || xtext_into(v, sc, cap, used, &o->text) != 0) return -1;
  if (!sane_text(o->text)) return -1;
  if (smtp_parse_mailbox(o->text.ptr, o->text.len, SMTP_PARSE_UTF8, &mb) != SMTP_OK) return -1;
  return 0;
}

/* RFC 3461 4.1: NOTIFY="NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY"). */
static int p_notify(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  size_t i = 0;
  unsigned int bits = 0;
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv) return -1;
  while (i <= v.len) {
    size_t j = i;
    smtp_span w;
    unsigned int b;
    while (j < v.len && v.ptr[j] != ',') j++;
    w.ptr = v.ptr + i;
    w.len = j - i;
    if (span_ieq(w, "NEVER")) b = SMTP_DSN_NOTIFY_NEVER;
    else if (span_ieq(w, "SUCCESS")) b = SMTP_DSN_NOTIFY_SUCCESS;
    else if (span_ieq(w, "FAILURE")) b = SMTP_DSN_NOTIFY_FAILURE;
    else if (span_ieq(w, "DELAY")) b = SMTP_DSN_NOTIFY_DELAY;
    else return -1;
    if (bits & b) return -1;
    bits |= b;
    i = j + 1;
  }
  if ((bits & SMTP_DSN_NOTIFY_NEVER) && bits != SMTP_DSN_NOTIFY_NEVER) return -1;
  o->u = bits;
  return 0;
}
static size_t f_notify(const smtp__pval *v, char *buf, size_t cap) {
  static const struct {
    unsigned int bit;
    const char *name;
  } w[] = {{SMTP_DSN_NOTIFY_NEVER, "NEVER"},
           {SMTP_DSN_NOTIFY_SUCCESS, "SUCCESS"},
           {SMTP_DSN_NOTIFY_FAILURE, "FAILURE"},
           {SMTP_DSN_NOTIFY_DELAY, "DELAY"}};
  size_t n = 0, k;
  int first = 1;
  for (k = 0; k < SMTP__ARRAY_LEN(w); k++) {
    if (!(v->u & w[k].bit)) continue;
    if (!first) smtp__put(buf, cap, &n, ",", 1);
    smtp__put(buf, cap, &n, w[k].name, strlen(w[k].name));
    first = 0;
  }
  return n;
}

/* RFC 3461 4.2: ORCPT=addr-type ";" xtext; decoded: printable ASCII, or
 * UTF-8 for the utf-8 addr-type (RFC 6533), at most 500 octets. */
static int p_orcpt(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  size_t k = 0, i;
  smtp_span x;
  if (!hv) return -1;
  while (k < v.len && v.ptr[k] != ';') k++;
  if (k == 0 || k + 1 >= v.len || k > 64) return -1;
  for (i = 0; i < k; i++) {
    char ch = v.ptr[i];
    if (!smtp__is_alpha(ch) && !smtp__is_digit(ch) && ch != '-') return -1;
  }
  x.ptr = v.ptr + k + 1;
  x.len = v.len - k - 1;
  if (xtext_into(x, sc, cap, used, &o->text) != 0 || o->text.len > 500) return -1;
  o->type.ptr = v.ptr;
  o->type.len = k;
  if (!smtp__is_print(o->text.ptr, o->text.len)) {
    if (!span_ieq(o->type, "utf-8") || !sane_text(o->text)) return -1;
  }
  return 0;
}
static size_t f_orcpt(const smtp__pval *v, char *buf, size_t cap) {
  size_t n = 0;
  smtp__put(buf, cap, &n, v->type.ptr, v->type.len);
  smtp__put(buf, cap, &n, ";", 1);
  return n + fmt_xtext(v, n <= cap ? buf + n : buf, n <= cap ? cap - n : 0);
}

/* RFC 7293 3.1: RRVS=date-time [";" ("C" / "R")]. */
static int p_rrvs(smtp_span v, int hv, smtp__pval *o, char *sc, size_t cap, size_t *used) {
  size_t n;
  (void)sc;
  (void)cap;
  (void)used;
  if (!hv) return -1;
  n = v.len;
  o->mode = 0;
  if (n >= 2 && v.ptr[n - 2] == ';') {
    char m = v.ptr[n - 1];
    if (m == 'C' || m == 'c') o->mode = 'C';
    else if (m == 'R' || m == 'r') o->mode = 'R';
    else return -1;
    n -= 2;
  }
  if (smtp__datetime_parse(v.ptr, n, 0, &o->i) != 0) return -1;
  o->text.ptr = v.ptr;
  o->text.len = n;
  return 0;
}
static size_t f_rrvs(const smtp__pval *v, char *buf, size_t cap) {
  size_t n = fmt_text(v, buf, cap);
  if (v->mode) {
    char m[2];
    m[0] = ';';
    m[1] = (char)v->mode;
    smtp__put(buf, cap, &n, m, 2);
  }
  return n;
}

/* ----------------------------------------------------------------- table */

/* Budgets: RFC 1870 (26), RFC 6152/3030 (16 for " BODY=BINARYMIME"),
 * RFC 6531 3.4 (10), RFC 8689 4 (11), RFC 3461 5 (RET and ENVID 124,
 * NOTIFY and ORCPT 530), RFC 4954 5 (500), RFC 6710 3 (15), RFC 2852 3
 * (17), RFC 4865 3 (34 for the one hold-param: HOLDFOR counts 0, it never
 * comes with HOLDUNTIL). RRVS, SOLICIT, MTRK and SUBMITTER: the longest
 * value this file accepts, with the keyword and its SP. */
const smtp__param_def smtp__param_table[SMTP__P_COUNT] = {
    {"SIZE", SMTP_EXT_SIZE, SMTP_VERB_MAIL, 1, 4, 26, "1*20DIGIT", p_size, f_size},
    {"BODY", SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME, SMTP_VERB_MAIL, 1, 4, 16,
     "\"7BIT\" / \"8BITMIME\" / \"BINARYMIME\"", p_body, f_body},
    {"SMTPUTF8", SMTP_EXT_SMTPUTF8, SMTP_VERB_MAIL, 0, 4, 10, "(none)", no_value, fmt_none},
    {"REQUIRETLS", SMTP_EXT_REQUIRETLS, SMTP_VERB_MAIL, 0, 4, 11, "(none)", no_value, fmt_none},
    {"RET", SMTP_EXT_DSN, SMTP_VERB_MAIL, 1, 4, 8, "\"FULL\" / \"HDRS\"", p_ret, f_ret},
    {"ENVID", SMTP_EXT_DSN, SMTP_VERB_MAIL, 1, 4, 116, "xtext (1-100 printable ASCII)", p_envid,
     fmt_xtext},
    {"AUTH", SMTP_EXT_AUTH, SMTP_VERB_MAIL, 1, 4, 500, "xtext (mailbox) / \"<>\"", p_auth,
     fmt_xtext},
    {"MT-PRIORITY", SMTP_EXT_MT_PRIORITY, SMTP_VERB_MAIL, 1, 2, 15, "([\"-\"] %x31-39) / \"0\"",
     p_prio, f_i64},
    {"BY", SMTP_EXT_DELIVERBY, SMTP_VERB_MAIL, 1, 4, 17,
     "[\"-\" / \"+\"] 1*9DIGIT \";\" (\"N\" / \"R\") [\"T\"]", p_by, f_by},
    {"HOLDFOR", SMTP_EXT_FUTURERELEASE, SMTP_VERB_MAIL, 1, 4, 0, "%x31-39 *8DIGIT", p_holdfor,
     f_u64},
    {"HOLDUNTIL", SMTP_EXT_FUTURERELEASE, SMTP_VERB_MAIL, 1, 4, 34, "date-time (UTC, RFC 3339)",
     p_holduntil, fmt_text},
    {"SOLICIT", SMTP_EXT_NO_SOLICITING, SMTP_VERB_MAIL, 1, 4, 521,
     "keyword *(\",\" keyword), at most 512 octets", p_solicit, fmt_text},
    {"MTRK", SMTP_EXT_MTRK, SMTP_VERB_MAIL, 1, 4, 144, "certifier [\":\" 1*9DIGIT]", p_mtrk,
     f_mtrk},
    {"SUBMITTER", SMTP_EXT_SUBMITTER, SMTP_VERB_MAIL, 1, 4, 500, "xtext (Mailbox)", p_submitter,
     fmt_xtext},
    {"NOTIFY", SMTP_EXT_DSN, SMTP_VERB_RCPT, 1, 4, 30,
     "\"NEVER\" / 1#(\"SUCCESS\" / \"FAILURE\" / \"DELAY\")", p_notify, f_notify},
    {"ORCPT", SMTP_EXT_DSN, SMTP_VERB_RCPT, 1, 4, 500, "addr-type \";\" xtext", p_orcpt, f_orcpt},
    {"RRVS", SMTP_EXT_RRVS, SMTP_VERB_RCPT, 1, 4, 43, "date-time [\";\" (\"C\" / \"R\")]",
     p_rrvs, f_rrvs},
};

const smtp__param_def *smtp__param_find(int cmd, const char *kw, size_t len) {
  size_t i;
  for (i = 0; i < SMTP__P_COUNT; i++) {
    const smtp__param_def *d = &smtp__param_table[i];
    if (d->cmd == cmd && smtp__casecmp(kw, len, d->keyword, strlen(d->keyword)) == 0) return d;
  }
  return NULL;
}

void smtp__param_put(const smtp__param_def *d, const smtp__pval *v, char *buf, size_t cap,
                     size_t *n) {
  smtp__put(buf, cap, n, " ", 1);
  smtp__put(buf, cap, n, d->keyword, strlen(d->keyword));
  if (d->has_value) {
    smtp__put(buf, cap, n, "=", 1);
    *n += d->format(v, *n <= cap ? buf + *n : buf, *n <= cap ? cap - *n : 0);
  }
}

size_t smtp__param_budget(int cmd, unsigned int ext) {
  size_t i, sum = 0;
  for (i = 0; i < SMTP__P_COUNT; i++) {
    const smtp__param_def *d = &smtp__param_table[i];
    if (d->cmd == cmd && (d->ext & ext)) sum += d->budget;
  }
  return sum;
}

/* ----------------------------------------------------- EHLO parameters */

/* ------------------------------------------------------------------ */
/* EHLO keyword parameters: one parser per keyword, used by the server to
 * check the parameters it is configured to announce and by the client's
 * typed view of a server's EHLO reply (smtp_capabilities_values()). With
 * @p strict (the server's own line), only what libsmtp itself honours. */

typedef int (*ehlo_parse_fn)(const char *p, size_t n, int strict, smtp_ehlo_values *v);

/* RFC 6710 3: "MT-PRIORITY" [SP priority-profile],
 * priority-profile = 1*20(ALPHA / DIGIT / "-" / "_" / "."). */
static int e_mt_priority(const char *p, size_t n, int strict, smtp_ehlo_values *v) {
  static const struct { const char *name; int id; } known[] = {
      {"MIXER", SMTP_MT_PRIORITY_PROFILE_MIXER},
      {"STANAG4406", SMTP_MT_PRIORITY_PROFILE_STANAG4406},
      {"NSEP", SMTP_MT_PRIORITY_PROFILE_NSEP}};
  size_t i;
  (void)strict;
  if (n > 20) return -1;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (!smtp__is_alpha(c) && !smtp__is_digit(c) && c != '-' && c != '_' && c != '.') return -1;
  }
  v->mt_priority_profile = n ? SMTP_MT_PRIORITY_PROFILE_OTHER : SMTP_MT_PRIORITY_PROFILE_UNNAMED;
  for (i = 0; n && i < SMTP__ARRAY_LEN(known); i++)
    if (smtp__casecmp(p, n, known[i].name, strlen(known[i].name)) == 0)
      v->mt_priority_profile = known[i].id;
  v->mt_priority_profile_name.ptr = p;
  v->mt_priority_profile_name.len = n;
  return 0;
}

/* RFC 2852 3: deliverby-param = min-by-time *( ',' extension-token ),
 * min-by-time = [1*9DIGIT], extension-token = 1*<CHAR but SP, ",", CTLs>.
 * The server announces no extension tokens (it defines none). */
static int e_deliverby(const char *p, size_t n, int strict, smtp_ehlo_values *v) {
  size_t m = 0, i, run = 1;
  while (m < n && p[m] != ',') m++;
  if (m > 9 || (m && !all_digits(p, m))) return -1;
  if (strict && m < n) return -1;
  for (i = m; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == ',') {
      if (run == 0) return -1;
      run = 0;
    } else if (c <= 0x20 || c >= 0x7f) {
      return -1;
    } else {
      run++;
    }
  }
  if (m < n && run == 0) return -1;
  v->deliverby_has_min = m > 0;
  v->deliverby_min = m ? (uint32_t)digits_value(p, m) : 0;
  return 0;
}

/* RFC 4865 3: max-future-release-interval SP max-future-release-date-time,
 * the interval %x31-39 *8DIGIT, the date-time normalised to UTC. */
static int e_futurerelease(const char *p, size_t n, int strict, smtp_ehlo_values *v) {
  size_t sp;
  int64_t t;
  (void)strict;
  for (sp = 0; sp < n && p[sp] != ' '; sp++) {}
  if (sp == 0 || sp >= n || sp > 9 || !all_digits(p, sp) || p[0] == '0') return -1;
  if (smtp__datetime_parse(p + sp + 1, n - sp - 1, 1, &t) != 0) return -1;
  v->futurerelease_max_interval = (uint32_t)digits_value(p, sp);
  v->futurerelease_max_until = t;
  v->futurerelease_max_until_text.ptr = p + sp + 1;
  v->futurerelease_max_until_text.len = n - sp - 1;
  return 0;
}

/* RFC 3865 2: "NO-SOLICITING" [SP solicitation-keywords]. */
static int e_no_soliciting(const char *p, size_t n, int strict, smtp_ehlo_values *v) {
  (void)strict;
  if (n && smtp__solicit_check(p, n) != 0) return -1;
  v->solicitation_keywords.ptr = p;
  v->solicitation_keywords.len = n;
  return 0;
}

/* RFC 4468 3.1: "BURL" [SP burl-param *(SP burl-param)], URL types such
 * as "imap" (octets 33-126, single SPs between them). */
static int e_burl(const char *p, size_t n, int strict, smtp_ehlo_values *v) {
  size_t i, w = 0;
  (void)strict;
  for (i = 0; i <= n; i++) {
    unsigned char c = i < n ? (unsigned char)p[i] : ' ';
    if (c == ' ') {
      if (i < n && (i == 0 || i + 1 == n || p[i - 1] == ' ')) return -1;
      if (i > w && smtp__casecmp(p + w, i - w, "imap", 4) == 0) v->burl_imap = 1;
      w = i + 1;
    } else if (c < 33 || c > 126) {
      return -1;
    }
  }
  v->burl_types.ptr = p;
  v->burl_types.len = n;
  return 0;
}

static const struct ehlo_def {
  unsigned int ext;
  const char *keyword;
  ehlo_parse_fn parse;
} ehlo_defs[] = {
    {SMTP_EXT_MT_PRIORITY, "MT-PRIORITY", e_mt_priority},
    {SMTP_EXT_DELIVERBY, "DELIVERBY", e_deliverby},
    {SMTP_EXT_FUTURERELEASE, "FUTURERELEASE", e_futurerelease},
    {SMTP_EXT_NO_SOLICITING, "NO-SOLICITING", e_no_soliciting},
    {SMTP_EXT_BURL, "BURL", e_burl},
};

int smtp__ehlo_params_check(unsigned int ext, const char *p, size_t n) {
  smtp_ehlo_values v;
  size_t i;
  if (!p && n) return -1;
  for (i = 0; i < SMTP__ARRAY_LEN(ehlo_defs); i++)
    if (ehlo_defs[i].ext == ext) {
      memset(&v, 0, sizeof v);
      return ehlo_defs[i].parse(p ? p : "", n, 1, &v);
    }
  return n == 0 ? 0 : -1;
}

int smtp_capabilities_values(const smtp_capabilities *caps, smtp_ehlo_values *out) {
  const smtp_ext_keyword *k;
  size_t i;
  if (out) memset(out, 0, sizeof *out);
  if (!caps || !out) return SMTP_ERR_INVALID_ARGUMENT;
  out->flags = caps->flags;
  out->size_max = caps->size_has_value ? caps->size_max : 0;
  out->size_has_value = caps->size_has_value ? 1 : 0;
  out->auth_mechs = caps->auth_mechs;
  out->limits_rcptmax = caps->limits_rcptmax;
  out->limits_mailmax = caps->limits_mailmax;
  out->limits_rcptdomainmax = caps->limits_rcptdomainmax;
  k = smtp_capabilities_find(caps, "AUTH");
  if (k) out->auth_names = k->params;
  for (i = 0; i < SMTP__ARRAY_LEN(ehlo_defs); i++) {
    const struct ehlo_def *d = &ehlo_defs[i];
    smtp_ehlo_values v;
    if (!(caps->flags & d->ext)) continue;
    k = smtp_capabilities_find(caps, d->keyword);
    if (!k) continue; /* dropped past SMTP_CAPS_MAX_KEYWORDS */
    v = *out;
    if (d->parse(k->params.len ? k->params.ptr : "", k->params.len, 0, &v) == 0) *out = v;
    else out->malformed |= d->ext;
  }
  return SMTP_OK;
}
