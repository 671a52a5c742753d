/* Footprint probe: one program with both roles, for a device that sends
 * and receives mail: "fp_both client PORT" runs the client probe,
 * "fp_both server [CERT KEY]" the server probe (fp_client.c, fp_server.c).
 * Built by scripts/footprint like them. */
#include <string.h>

#define main fp_client_main
#include "fp_client.c"
#undef main
#define main fp_server_main
#include "fp_server.c"
#undef main

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "server") == 0) return fp_server_main(argc - 1, argv + 1);
  return fp_client_main(argc - 1, argv + 1);
}
