/* libFuzzer target for strict base64 (RFC 4648 4).
 *
 * Invariants: decoding then re-encoding gives back the input exactly (a
 * strict decoder accepts only the canonical form); encoding then decoding
 * is the identity; lengths match the header's macros. */
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

#define MAXIN 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static unsigned char dec[MAXIN], back[MAXIN];
  static char enc[SMTP_BASE64_ENCODED_LEN(MAXIN)], enc2[SMTP_BASE64_ENCODED_LEN(MAXIN)];
  smtp_ssize n, m;

  if (size > MAXIN) size = MAXIN;

  /* Decode the input as base64. */
  n = smtp_base64_decode((const char *)data, size, dec, sizeof(dec));
  CHECK(n >= 0 || n == SMTP_ERR_BASE64);
  if (n >= 0) {
    CHECK(size % 4 == 0);
    CHECK((size_t)n <= SMTP_BASE64_DECODED_MAX(size));
    m = smtp_base64_encode(dec, (size_t)n, enc2, sizeof(enc2));
    CHECK(m == (smtp_ssize)size);
    CHECK(size == 0 || memcmp(enc2, data, size) == 0);
    /* One byte less of room is always too small (n > 0). */
    if (n > 0) CHECK(smtp_base64_decode((const char *)data, size, dec, (size_t)n - 1) ==
                     SMTP_ERR_BUFFER_TOO_SMALL);
  }

  /* Encode the input, decode it back. */
  n = smtp_base64_encode(data, size, enc, sizeof(enc));
  CHECK(n == (smtp_ssize)SMTP_BASE64_ENCODED_LEN(size));
  for (smtp_ssize i = 0; i < n; i++) {
    char c = enc[i];
    CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '+' || c == '/' || c == '=');
  }
  m = smtp_base64_decode(enc, (size_t)n, back, sizeof(back));
  CHECK(m == (smtp_ssize)size);
  CHECK(size == 0 || memcmp(back, data, size) == 0);
  return 0;
}
