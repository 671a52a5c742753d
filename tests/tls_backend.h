/* The TLS tests run once per backend in the build: SMTP_TEST_TLS_BACKEND
 * names the backend ("openssl", "mbedtls"); unset or empty means the
 * build's default. Every configuration a test makes goes through
 * smtp_tls_config_new(), redirected here. */
#ifndef TESTS_TLS_BACKEND_H
#define TESTS_TLS_BACKEND_H

#include <stdio.h>
#include <stdlib.h>
#include <smtp/tls.h>

static inline int test_tls_backend(void) {
  const char *e = getenv("SMTP_TEST_TLS_BACKEND");
  int id;
  if (!e || !*e) return SMTP_TLS_BACKEND_DEFAULT;
  id = smtp_tls_backend_by_name(e);
  if (id < 0) {
    fprintf(stderr, "SMTP_TEST_TLS_BACKEND=%s: not in this build\n", e);
    exit(77); /* skipped */
  }
  return id;
}

#define smtp_tls_config_new(out, role, mem) \
  smtp_tls_config_new_backend((out), (role), test_tls_backend(), (mem))

#endif
