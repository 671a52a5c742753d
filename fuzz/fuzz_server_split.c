/* libFuzzer target: the server session fed at split points chosen by the
 * input, with random partial draining of its output; the output must equal
 * that of the same bytes fed whole (chunk boundaries are where sans-I/O
 * parsers break; SECURITY.md, STYLE.md 10). See server_fuzz.h. */
#include "server_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t seed = 0;
  sfz_out whole, split;
  for (size_t i = 3; i < 11 && i < size; i++) seed = (seed << 8) | data[i];
  whole = sfz_run(data, size, 1, 0);
  /* The "whole" run of the split target also has TLS off: run it unsplit. */
  split = sfz_run(data, size, 2, seed);
  if (whole.len != split.len || (whole.len && memcmp(whole.p, split.p, whole.len) != 0)) {
    fprintf(stderr, "split output differs from whole output\n");
    abort();
  }
  free(whole.p);
  free(split.p);
  return 0;
}
