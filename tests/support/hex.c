/* Lower-case hex (hex.h), compiled once into the test support library. */
#include "hex.h"

void hex_encode(const unsigned char *b, size_t n, char *out) {
  static const char h[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = h[b[i] >> 4];
    out[2 * i + 1] = h[b[i] & 15];
  }
  out[2 * n] = 0;
}
