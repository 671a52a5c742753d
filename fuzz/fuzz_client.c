/* libFuzzer target: the client session against arbitrary server bytes
 * (SECURITY.md §6). The driver and its invariants are in client_fuzz.h. */
#include "client_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)fz_run(data, size, 0, 0);
  return 0;
}
