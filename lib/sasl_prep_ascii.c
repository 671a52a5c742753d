/* SASLprep (RFC 4013) for ASCII only, built instead of sasl_prep.c with
 * -Dsaslprep=ascii for devices that cannot carry the Unicode 3.2 tables
 * (about 66 KiB; docs/footprint.md).
 *
 * For ASCII input the result is the full profile's: no ASCII character is
 * mapped to nothing (RFC 3454 B.1) or is a non-ASCII space (C.1.2),
 * normalization form KC leaves ASCII as it is, no ASCII character is
 * unassigned (A.1) or right-to-left (D.1), and the prohibited ones are the
 * controls U+0000..U+001F and U+007F (C.2.1). So printable ASCII passes
 * unchanged and the controls fail with SMTP_ERR_SASLPREP, as there.
 * Non-ASCII text, which the full profile would map, normalize and check
 * against its tables, is refused with SMTP_ERR_SASLPREP (after the same
 * UTF-8 check, so malformed input is still SMTP_ERR_UTF8): a user name or
 * password with non-ASCII characters cannot be used for SCRAM in such a
 * build. Nothing else differs: same arguments, limits and errors. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <smtp/address.h>
#include <smtp/sasl.h>

#include "internal.h"

smtp_ssize smtp_sasl_saslprep(const char *in, size_t len, unsigned int flags, char *out,
                              size_t outcap) {
  size_t i;
  int rc;
  if ((!in && len) || (!out && outcap) || (flags & ~(unsigned)SMTP_SASLPREP_QUERY))
    return SMTP_ERR_INVALID_ARGUMENT;
  if (len > SMTP_SASLPREP_MAX) return SMTP_ERR_TOO_LONG;
  rc = smtp_utf8_validate(in, len);
  if (rc != SMTP_OK) return rc;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c < 0x20 || c >= 0x7F) return SMTP_ERR_SASLPREP; /* C.2.1, or not ASCII */
  }
  if (len > outcap) return SMTP_ERR_BUFFER_TOO_SMALL;
  if (len) memcpy(out, in, len);
  if (len < outcap) out[len] = '\0';
  return (smtp_ssize)len;
}
