/* libFuzzer target for SASL PLAIN messages (RFC 4616 2), raw and as the
 * base64 an AUTH PLAIN line carries (RFC 4954 4).
 *
 * Invariants: a message that decodes has exactly two NULs, a non-empty
 * authcid and passwd, fields of at most 255 octets and no NUL inside a
 * field; re-encoding the fields gives back the message byte for byte. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/sasl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

static void check_message(const char *msg, size_t len) {
  smtp_sasl_plain p;
  char z[256], c[256], w[256], out[1024];
  int rc = smtp_sasl_plain_decode(msg, len, &p);
  CHECK(rc == SMTP_OK || rc == SMTP_ERR_SYNTAX || rc == SMTP_ERR_UTF8 ||
        rc == SMTP_ERR_TOO_LONG);
  if (rc != SMTP_OK) return;
  CHECK(p.authcid.len > 0 && p.passwd.len > 0);
  CHECK(p.authzid.len <= 255 && p.authcid.len <= 255 && p.passwd.len <= 255);
  CHECK(p.authzid.len + p.authcid.len + p.passwd.len + 2 == len);
  CHECK(!memchr(p.authcid.ptr, 0, p.authcid.len) && !memchr(p.passwd.ptr, 0, p.passwd.len));
  CHECK(p.authzid.len == 0 || !memchr(p.authzid.ptr, 0, p.authzid.len));
  memcpy(z, p.authzid.ptr ? p.authzid.ptr : "", p.authzid.len);
  z[p.authzid.len] = 0;
  memcpy(c, p.authcid.ptr, p.authcid.len);
  c[p.authcid.len] = 0;
  memcpy(w, p.passwd.ptr, p.passwd.len);
  w[p.passwd.len] = 0;
  smtp_ssize n = smtp_sasl_plain_encode(p.authzid.len ? z : NULL, c, w, out, sizeof(out));
  CHECK(n == (smtp_ssize)len);
  CHECK(memcmp(out, msg, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char dec[4096];
  if (size > 4096) size = 4096;
  check_message((const char *)data, size);
  smtp_ssize n = smtp_base64_decode((const char *)data, size, dec, sizeof(dec));
  if (n >= 0) check_message(dec, (size_t)n);
  return 0;
}
