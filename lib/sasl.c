/* SASL PLAIN messages (RFC 4616 2) for AUTH PLAIN (RFC 4954 4).
 *
 *   message   = [authzid] UTF8NUL authcid UTF8NUL passwd
 *   authcid   = 1*SAFE ; MUST accept up to 255 octets
 *   authzid   = 1*SAFE ; MUST accept up to 255 octets
 *   passwd    = 1*SAFE ; MUST accept up to 255 octets
 *   SAFE      = UTF1 / UTF2 / UTF3 / UTF4 ; any UTF-8 character except NUL
 *
 * libsmtp takes 255 octets as the upper bound as well as the minimum a
 * server must accept, so that a PLAIN message is at most 767 octets and its
 * base64 form fits one AUTH line. The message is handled un-encoded here;
 * base64 is lib/base64.c. No allocation, no I/O. */
#include <string.h>

#include <smtp/address.h>
#include <smtp/sasl.h>

#include "internal.h"

/* RFC 4616 2: each field is at most 255 octets (the "MUST accept" bound). */
#define PLAIN_FIELD_MAX 255u

smtp_ssize smtp_sasl_plain_encode(const char *authzid, const char *authcid,
                                  const char *passwd, char *out, size_t outcap) {
  size_t zlen, clen, plen, need, o = 0;

  if (!authcid || !passwd || (!out && outcap)) return SMTP_ERR_INVALID_ARGUMENT;
  zlen = authzid ? strlen(authzid) : 0;
  clen = strlen(authcid);
  plen = strlen(passwd);
  /* RFC 4616 2: authcid and passwd are 1*SAFE; authzid may be absent. */
  if (clen == 0 || plen == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (zlen > PLAIN_FIELD_MAX || clen > PLAIN_FIELD_MAX || plen > PLAIN_FIELD_MAX)
    return SMTP_ERR_INVALID_ARGUMENT;
  /* RFC 4616 2: every field is UTF-8 (SAFE excludes only NUL, which a C
   * string cannot hold). */
  if (smtp_utf8_validate(authzid ? authzid : "", zlen) != SMTP_OK) return SMTP_ERR_UTF8;
  if (smtp_utf8_validate(authcid, clen) != SMTP_OK) return SMTP_ERR_UTF8;
  if (smtp_utf8_validate(passwd, plen) != SMTP_OK) return SMTP_ERR_UTF8;

  need = zlen + 1 + clen + 1 + plen;
  if (need > outcap) return SMTP_ERR_BUFFER_TOO_SMALL;
  if (zlen) memcpy(out, authzid, zlen);
  o = zlen;
  out[o++] = '\0';
  memcpy(out + o, authcid, clen);
  o += clen;
  out[o++] = '\0';
  memcpy(out + o, passwd, plen);
  o += plen;
  return (smtp_ssize)o;
}

int smtp_sasl_plain_decode(const char *msg, size_t len, smtp_sasl_plain *out) {
  const char *nul1, *nul2;
  size_t zlen, clen, plen;

  if (!out || (!msg && len)) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof(*out));
  if (len == 0) return SMTP_ERR_SYNTAX;
  /* Three fields of at most 255 octets and two NULs: a longer message is
   * refused before its bytes are read (RFC 4616 2). */
  if (len > 3 * 255 + 2) return SMTP_ERR_TOO_LONG;

  /* RFC 4616 2: exactly two NUL separators. */
  nul1 = memchr(msg, '\0', len);
  if (!nul1) return SMTP_ERR_SYNTAX;
  nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg));
  if (!nul2) return SMTP_ERR_SYNTAX;
  if (memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - msg))) return SMTP_ERR_SYNTAX;

  zlen = (size_t)(nul1 - msg);
  clen = (size_t)(nul2 - (nul1 + 1));
  plen = len - (size_t)(nul2 + 1 - msg);
  /* authcid = 1*SAFE, passwd = 1*SAFE; authzid is optional (empty). */
  if (clen == 0 || plen == 0) return SMTP_ERR_SYNTAX;
  if (zlen > PLAIN_FIELD_MAX || clen > PLAIN_FIELD_MAX || plen > PLAIN_FIELD_MAX)
    return SMTP_ERR_TOO_LONG;
  if (smtp_utf8_validate(msg, zlen) != SMTP_OK) return SMTP_ERR_UTF8;
  if (smtp_utf8_validate(nul1 + 1, clen) != SMTP_OK) return SMTP_ERR_UTF8;
  if (smtp_utf8_validate(nul2 + 1, plen) != SMTP_OK) return SMTP_ERR_UTF8;

  out->authzid.ptr = msg;
  out->authzid.len = zlen;
  out->authcid.ptr = nul1 + 1;
  out->authcid.len = clen;
  out->passwd.ptr = nul2 + 1;
  out->passwd.len = plen;
  return SMTP_OK;
}
