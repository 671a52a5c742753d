/* Lower-case hex of bytes, for the tests that compare digests and
 * certificates with published or computed vectors (test_hash.c,
 * test_scram.c, test_delivery.c, test_dane_tls.c).
 *
 * Compiled once into the tests' support library (tests/support/hex.c). */
#ifndef TESTS_SUPPORT_HEX_H
#define TESTS_SUPPORT_HEX_H

#include <stddef.h>

/* The @p n bytes at @p b as 2 * @p n lower-case hex digits and a NUL into
 * @p out (room for 2 * n + 1). */
void hex_encode(const unsigned char *b, size_t n, char *out);

#endif
