/* The allocator hook: every allocation in lib/ goes through a
 * session's copied smtp_mem. */
#include <stdlib.h>

#include "internal.h"

static void *default_malloc(size_t size, void *ud) { (void)ud; return malloc(size); }
static void default_free(void *ptr, void *ud) { (void)ud; free(ptr); }
static void *default_calloc(size_t n, size_t size, void *ud) { (void)ud; return calloc(n, size); }
static void *default_realloc(void *ptr, size_t size, void *ud) { (void)ud; return realloc(ptr, size); }

static const smtp_mem default_mem = {NULL, default_malloc, default_free, default_calloc,
                                     default_realloc};

const smtp_mem *smtp_mem_default(void) { return &default_mem; }

int smtp__mem_valid(const smtp_mem *mem) {
  return mem && mem->malloc && mem->free && mem->calloc && mem->realloc;
}

void *smtp__malloc(const smtp_mem *mem, size_t size) {
  if (!mem) mem = &default_mem;
  return mem->malloc(size, mem->user_data);
}

void *smtp__calloc(const smtp_mem *mem, size_t nmemb, size_t size) {
  if (!mem) mem = &default_mem;
  return mem->calloc(nmemb, size, mem->user_data);
}

void *smtp__realloc(const smtp_mem *mem, void *ptr, size_t size) {
  if (!mem) mem = &default_mem;
  return mem->realloc(ptr, size, mem->user_data);
}

void smtp__free(const smtp_mem *mem, void *ptr) {
  if (!ptr) return;
  if (!mem) mem = &default_mem;
  mem->free(ptr, mem->user_data);
}

int smtp__casecmp(const char *a, size_t alen, const char *b, size_t blen) {
  size_t i;
  if (alen != blen) return alen < blen ? -1 : 1;
  for (i = 0; i < alen; i++) {
    int ca = smtp__lower((unsigned char)a[i]), cb = smtp__lower((unsigned char)b[i]);
    if (ca != cb) return ca < cb ? -1 : 1;
  }
  return 0;
}
