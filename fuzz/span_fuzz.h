/* Shared check of the parser fuzz targets (fuzz_address.c,
 * fuzz_command.c): every span a parser returns lies inside the input
 * (g_base, g_len), which the target sets before each parse. */
#ifndef SPAN_FUZZ_H
#define SPAN_FUZZ_H

#include <stddef.h>
#include <stdlib.h>

#include <smtp/common.h>

static const char *g_base;
static size_t g_len;

/* abort() unless @p s is inside the input; an empty span may be NULL. */
static void inside(smtp_span s) {
  if (s.len == 0) {
    if (!(s.ptr == NULL || (s.ptr >= g_base && s.ptr <= g_base + g_len))) abort();
    return;
  }
  if (!(s.ptr >= g_base && s.ptr + s.len <= g_base + g_len)) abort();
}

#endif
