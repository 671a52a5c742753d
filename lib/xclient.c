/* XCLIENT / XFORWARD attribute lists (xclient.h). Pure functions. */
#include <string.h>

#include <smtp/address.h>
#include <smtp/endpoint.h>
#include <smtp/xclient.h>

#include "internal.h"

static const char *const names[SMTP_XATTR_COUNT] = {"NAME",  "ADDR",     "PORT",     "PROTO",  "HELO",
                                                    "LOGIN", "DESTADDR", "DESTPORT", "SOURCE", "IDENT"};
/* which attributes each command knows */
#define XC_MASK 0x0ffu /* NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT */
#define XF_MASK 0x31fu /* NAME ADDR PORT PROTO HELO SOURCE IDENT */

const char *smtp_xattr_name(unsigned int attr) { return attr < SMTP_XATTR_COUNT ? names[attr] : NULL; }

static unsigned int known(unsigned int verb) { return verb == SMTP_XCLIENT ? XC_MASK : XF_MASK; }

/* Checks on one decoded value of attribute @a of command @verb. */
static int check_value(unsigned int verb, unsigned int a, const char *v, size_t n) {
  size_t i;
  if (n > SMTP_XATTR_VALUE_MAX) return SMTP_ERR_TOO_LONG;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c <= 32 || c >= 127) return SMTP_ERR_BAD_CHAR;
  }
  if (a == SMTP_XATTR_ADDR || a == SMTP_XATTR_DESTADDR) {
    smtp_endpoint e;
    /* IPv4, or "IPV6:" and an IPv6 address (any case) */
    if (n >= 5 && smtp__casecmp(v, 5, "IPv6:", 5) != 0 && memchr(v, ':', n)) return SMTP_ERR_SYNTAX;
    if (n < 5 && memchr(v, ':', n)) return SMTP_ERR_SYNTAX;
    if (smtp_endpoint_parse(&e, v, n, 0) != 0) return SMTP_ERR_SYNTAX;
  } else if (a == SMTP_XATTR_PORT || a == SMTP_XATTR_DESTPORT) {
    unsigned long p = 0;
    if (n == 0 || n > 5) return SMTP_ERR_SYNTAX;
    for (i = 0; i < n; i++) {
      if (!smtp__is_digit((unsigned char)v[i])) return SMTP_ERR_SYNTAX;
      p = p * 10 + (unsigned long)(v[i] - '0');
    }
    if (p > 65535) return SMTP_ERR_SYNTAX;
  } else if (a == SMTP_XATTR_PROTO && verb == SMTP_XCLIENT) {
    /* XCLIENT_README: "either SMTP or ESMTP" */
    if (smtp__casecmp(v, n, "SMTP", 4) != 0 && smtp__casecmp(v, n, "ESMTP", 5) != 0) return SMTP_ERR_SYNTAX;
  } else if (a == SMTP_XATTR_PROTO) {
    /* XFORWARD_README: an SMTP or non-SMTP protocol name of up to 64 characters */
    if (n == 0 || n > SMTP_XFORWARD_PROTO_MAX) return SMTP_ERR_SYNTAX;
  } else if (a == SMTP_XATTR_SOURCE) {
    if (smtp__casecmp(v, n, "LOCAL", 5) != 0 && smtp__casecmp(v, n, "REMOTE", 6) != 0) return SMTP_ERR_SYNTAX;
  } else if (n == 0) {
    return SMTP_ERR_SYNTAX;
  }
  return SMTP_OK;
}

int smtp_xattrs_parse(unsigned int verb, const char *args, size_t len, smtp_xattrs *out, char *scratch,
                      size_t cap) {
  size_t i = 0, used = 0;
  unsigned int mask;
  if (!out || (!args && len) || (!scratch && cap) || (verb != SMTP_XCLIENT && verb != SMTP_XFORWARD))
    return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  mask = known(verb);
  if (len == 0) return SMTP_ERR_SYNTAX;
  while (i < len) {
    size_t start = i, eq = 0, end, nl, vl, dl = 0;
    unsigned int a;
    int r;
    while (i < len && args[i] != ' ') {
      if (args[i] == '=' && !eq) eq = i;
      i++;
    }
    end = i;
    if (end == start || !eq || eq == start) return SMTP_ERR_SYNTAX;
    if (i < len) {
      i++; /* the single space */
      if (i == len || args[i] == ' ') return SMTP_ERR_SYNTAX;
    }
    nl = eq - start;
    for (a = 0; a < SMTP_XATTR_COUNT; a++)
      if (smtp__casecmp(args + start, nl, names[a], strlen(names[a])) == 0) break;
    if (a == SMTP_XATTR_COUNT || !(mask & (1u << a))) return SMTP_ERR_PARAM;
    if (out->state[a] != SMTP_XVALUE_ABSENT) return SMTP_ERR_PARAM;
    vl = end - eq - 1;
    if (cap - used < vl) return SMTP_ERR_BUFFER_TOO_SMALL;
    r = smtp_xtext_decode(args + eq + 1, vl, scratch + used, cap - used, &dl);
    if (r != SMTP_OK) return r == SMTP_ERR_BUFFER_TOO_SMALL ? r : SMTP_ERR_XTEXT;
    /* XCLIENT_README Note 3 / XFORWARD_README Note 3: any case */
    if (dl == 13 && smtp__casecmp(scratch + used, 13, "[UNAVAILABLE]", 13) == 0) {
      out->state[a] = SMTP_XVALUE_UNAVAILABLE;
      continue;
    }
    if (dl == 13 && smtp__casecmp(scratch + used, 13, "[TEMPUNAVAIL]", 13) == 0) {
      /* XCLIENT_README: a transient host name lookup failure; no other
       * attribute has this value */
      if (verb != SMTP_XCLIENT || a != SMTP_XATTR_NAME) return SMTP_ERR_SYNTAX;
      out->state[a] = SMTP_XVALUE_TEMPUNAVAIL;
      continue;
    }
    r = check_value(verb, a, scratch + used, dl);
    if (r != SMTP_OK) return r;
    out->state[a] = SMTP_XVALUE_SET;
    out->value[a].ptr = scratch + used;
    out->value[a].len = dl;
    used += dl;
  }
  return SMTP_OK;
}

smtp_ssize smtp_xattrs_format(unsigned int verb, const smtp_xattrs *in, char *buf, size_t cap) {
  size_t n = 0;
  unsigned int a, mask, any = 0;
  if (!in || !buf || (verb != SMTP_XCLIENT && verb != SMTP_XFORWARD)) return SMTP_ERR_INVALID_ARGUMENT;
  mask = known(verb);
  for (a = 0; a < SMTP_XATTR_COUNT; a++) {
    const char *v;
    size_t vl, nl = strlen(names[a]);
    smtp_ssize k;
    if (in->state[a] == SMTP_XVALUE_ABSENT) continue;
    if (!(mask & (1u << a)) || in->state[a] > SMTP_XVALUE_TEMPUNAVAIL) return SMTP_ERR_PARAM;
    if (in->state[a] == SMTP_XVALUE_SET) {
      int r;
      v = in->value[a].ptr;
      vl = in->value[a].len;
      if (!v && vl) return SMTP_ERR_INVALID_ARGUMENT;
      r = check_value(verb, a, v, vl);
      if (r != SMTP_OK) return r;
    } else {
      if (in->state[a] == SMTP_XVALUE_TEMPUNAVAIL && (verb != SMTP_XCLIENT || a != SMTP_XATTR_NAME))
        return SMTP_ERR_SYNTAX;
      v = in->state[a] == SMTP_XVALUE_UNAVAILABLE ? "[UNAVAILABLE]" : "[TEMPUNAVAIL]";
      vl = 13;
    }
    if (cap - n < (any ? 1 : 0) + nl + 1) return SMTP_ERR_BUFFER_TOO_SMALL;
    if (any) buf[n++] = ' ';
    memcpy(buf + n, names[a], nl);
    n += nl;
    buf[n++] = '=';
    k = smtp_xtext_encode(v, vl, buf + n, cap - n);
    if (k < 0) return SMTP_ERR_BUFFER_TOO_SMALL;
    n += (size_t)k;
    any = 1;
  }
  if (!any) return SMTP_ERR_PARAM;
  return (smtp_ssize)n;
}
