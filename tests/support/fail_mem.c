/* The failing, counting allocator (fail_mem.h), compiled once into the
 * test support library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "fail_mem.h"

int fm_fail_at, fm_count, fm_live;

static void *f_malloc(size_t n, void *ud) {
  (void)ud;
  if (fm_fail_at && ++fm_count == fm_fail_at) return NULL;
  fm_live++;
  return test_malloc(n);
}

static void f_free(void *p, void *ud) {
  (void)ud;
  if (p) fm_live--;
  test_free(p);
}

static void *f_calloc(size_t n, size_t s, void *ud) {
  (void)ud;
  if (fm_fail_at && ++fm_count == fm_fail_at) return NULL;
  fm_live++;
  return test_calloc(n, s);
}

static void *f_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  if (fm_fail_at && ++fm_count == fm_fail_at) return NULL;
  if (!p) fm_live++;
  return test_realloc(p, n);
}

const smtp_mem fm_mem = {NULL, f_malloc, f_free, f_calloc, f_realloc};
