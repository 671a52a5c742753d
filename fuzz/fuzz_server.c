/* libFuzzer target: the server session against arbitrary client bytes,
 * with options, deferred answers, STARTTLS and AUTH steps chosen by the
 * input (SECURITY.md; STYLE.md 18). See server_fuzz.h for the properties. */
#include "server_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sfz_out o = sfz_run(data, size, 0, 0);
  free(o.p);
  return 0;
}
