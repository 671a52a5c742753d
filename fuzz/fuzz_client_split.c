/* libFuzzer target: the client session fed the same server bytes whole,
 * one byte at a time and at PRNG split points (seed from byte 1) must end
 * in the same events and the same output. The session is told to return
 * after every reply (the driver writes between reads), so read sizes are
 * the only difference between the runs. */
#include "client_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t whole, bytes, split;
  if (size < 2) return 0;
  whole = fz_run(data, size, 0, 1);
  split = fz_run(data, size, 1u + data[1], 1);
  CHECK(whole == split);
  if (size < 4096) {
    /* one byte at a time: a "split" whose chunks are all 1 */
    bytes = fz_run(data, size, 0xffffffffu, 1);
    CHECK(bytes == whole);
  }
  return 0;
}
