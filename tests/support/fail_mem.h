/* An allocator (smtp_mem) over cmocka's test_malloc & co. that fails one
 * chosen allocation and counts the blocks it has live, for the tests of
 * the I/O, TLS and driver adapters (test_io.c, test_tls.c, test_driver.c):
 *   fm_fail_at  the number of the allocation that fails (0: none)
 *   fm_count    allocations counted while fm_fail_at is set (reset it too)
 *   fm_live     blocks handed out and not freed
 *
 * Compiled once into the tests' support library (tests/support/fail_mem.c).
 * Names start with fm_ (nothing else in tests/ uses that prefix). */
#ifndef TESTS_SUPPORT_FAIL_MEM_H
#define TESTS_SUPPORT_FAIL_MEM_H

#include <smtp/common.h>

extern int fm_fail_at, fm_count, fm_live;
extern const smtp_mem fm_mem;

#endif
