/* libFuzzer target: xtext (RFC 3461 4).
 *
 * Input layout: byte 0 is reserved for flags (unused by xtext), the rest is
 * the payload. Checked invariants: encode(payload) uses only xchar and
 * "+" with two upper-case hex digits, is at most 3x longer, and decodes
 * back to the payload (encode then decode is the identity); when the
 * payload decodes, the result is no longer than the input and encode then
 * decode of it is again the identity. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/address.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

#define MAXIN 4096

static int is_uhex(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

static void round_trip(const char *in, size_t len) {
  static char enc[3 * MAXIN], dec[MAXIN];
  size_t n = 0;
  smtp_ssize e = smtp_xtext_encode(in, len, enc, sizeof enc);
  CHECK(e >= 0 && (size_t)e >= len && (size_t)e <= 3 * len);
  for (size_t i = 0; i < (size_t)e; i++) {
    unsigned char c = (unsigned char)enc[i];
    if (c == '+') {
      CHECK(i + 2 < (size_t)e && is_uhex((unsigned char)enc[i + 1]) &&
            is_uhex((unsigned char)enc[i + 2]));
      i += 2;
    } else {
      CHECK(c >= 33 && c <= 126 && c != '=');
    }
  }
  CHECK(smtp_xtext_decode(enc, (size_t)e, dec, sizeof dec, &n) == SMTP_OK);
  CHECK(n == len && (len == 0 || memcmp(dec, in, len) == 0));
  /* One octet short of the encoded length never overflows. */
  if (e > 0) CHECK(smtp_xtext_encode(in, len, enc, (size_t)e - 1) == SMTP_ERR_BUFFER_TOO_SMALL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char dec[MAXIN];
  const char *in;
  size_t len, n = 0;
  int rc;
  if (size < 1) return 0;
  in = (const char *)data + 1;
  len = size - 1;
  if (len > MAXIN) len = MAXIN;
  round_trip(in, len);
  rc = smtp_xtext_decode(in, len, dec, sizeof dec, &n);
  CHECK(rc == SMTP_OK || rc == SMTP_ERR_XTEXT);
  if (rc == SMTP_OK) {
    CHECK(n <= len);
    round_trip(dec, n);
  } else {
    CHECK(n == 0);
  }
  return 0;
}
