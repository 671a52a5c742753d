/* bench_proxy: what the connection layer costs.
 *
 *  1. PROXY header parse time (smtp_proxy_reader_init + _feed + _info) for
 *     a version 2 INET header (28 octets), a version 2 header with
 *     AUTHORITY, SSL, UNIQUE_ID and NOOP records (87 octets), a version 1 TCP4
 *     line, and a version 2 header fed one octet at a time: nanoseconds per
 *     header (median of 7 runs of 2,000,000), and the allocations made
 *     (the reader has no allocator: always 0).
 *  2. Allocations and bytes of a server driver with and without the PROXY
 *     filter, through the header and the greeting over a memory pipe
 *     (counting smtp_mem): the filter's state is inside the driver's one
 *     allocation.
 *  3. Bytes an idle server session holds after greeting and EHLO, with and
 *     without a recorded client/server address (the endpoints are inside
 *     the session: recording one allocates nothing), and the octets the
 *     session keeps for them.
 *
 * Usage: bench_proxy [-q]  (-q: fewer iterations, for a smoke run) */
#include <stdio.h>
#include <string.h>

#include <smtp/driver.h>
#include <smtp/proxy.h>
#include <smtp/server.h>

#include "bench_common.h"
#include "server_impl.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"
static const char v2_inet[] = SIG "\x21\x11\x00\x0c" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04\x00\x19";
static const char v2_tlv[] = SIG "\x21\x11\x00\x47" "\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\xdc\x04\x00\x19"
                             "\x02\x00\x0a" "mx.example"
                             "\x20\x00\x18" "\x01" "\x00\x00\x00\x00" "\x21\x00\x07" "TLSv1.3" "\x22\x00\x06" "client"
                             "\x05\x00\x0b" "conn-123456"
                             "\x04\x00\x02" "\x00\x00";
static const char v1_tcp4[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n";

static volatile unsigned sink;

static double time_parse(const char *h, size_t len, int bytewise, long iters) {
  double runs[7];
  for (int k = 0; k < 7; k++) {
    double t0 = bench_now();
    for (long i = 0; i < iters; i++) {
      smtp_proxy_reader r;
      smtp_proxy_info info;
      smtp_proxy_reader_init(&r, 0);
      if (bytewise) {
        for (size_t j = 0; j < len; j++) (void)smtp_proxy_reader_feed(&r, h + j, 1);
      } else if (smtp_proxy_reader_feed(&r, h, len) != (smtp_ssize)len) {
        bench_die("parse failed");
      }
      if (smtp_proxy_reader_info(&r, &info) != 0) bench_die("not complete");
      sink += info.source.port;
    }
    runs[k] = (bench_now() - t0) * 1e9 / (double)iters;
  }
  return bench_median(runs, 7);
}

/* A server driver over a memory pipe through the greeting: allocations and
 * bytes held (driver + session + pipe). */
static void driver_cost(int proxy, uint64_t *allocs, size_t *bytes) {
  bench_mem_stats st;
  smtp_mem m;
  smtp_server_session *s;
  smtp_driver *d;
  smtp_io a, b;
  smtp_endpoint peer;
  char buf[256];
  memset(&st, 0, sizeof st);
  m = bench_mem(&st);
  if (smtp_server_session_new(&s, NULL, NULL, NULL, &m) != 0) bench_die("session");
  if (smtp_io_pipe_new(&a, &b, 4096, &m) != 0) bench_die("pipe");
  smtp_endpoint_parse(&peer, "127.0.0.1", 9, 40000);
  smtp_server_session_set_addr(s, SMTP_ADDR_CLIENT, &peer);
  {
    uint64_t before = bench_mem_calls(&st);
    size_t cur = st.cur;
    smtp_cidr_list *trusted = NULL;
    if (smtp_driver_new_server(&d, s, &a, NULL, proxy ? SMTP_DRIVER_PROXY : 0, &m) != 0) bench_die("driver");
    if (proxy) {
      smtp_cidr_list_new(&trusted, NULL); /* the application's, not counted */
      smtp_cidr_list_add(trusted, "127.0.0.1");
      smtp_driver_set_proxy_trusted(d, trusted);
      b.send(v2_inet, sizeof v2_inet - 1, b.user_data);
    }
    smtp_driver_on_readable(d);
    if (b.recv(buf, sizeof buf, b.user_data) <= 0) bench_die("no greeting");
    *allocs = bench_mem_calls(&st) - before;
    *bytes = st.cur - cur;
    smtp_driver_del(d);
    smtp_cidr_list_del(trusted);
  }
  b.close(b.user_data);
  smtp_server_session_del(s);
}

static size_t idle_session(int with_addr, uint64_t *allocs) {
  bench_mem_stats st;
  smtp_mem m;
  smtp_server_session *s;
  const char *out;
  smtp_ssize k;
  static const char ehlo[] = "EHLO client.example\r\n";
  size_t held;
  memset(&st, 0, sizeof st);
  m = bench_mem(&st);
  if (smtp_server_session_new(&s, NULL, NULL, NULL, &m) != 0) bench_die("session");
  if (with_addr) {
    smtp_endpoint c, v;
    smtp_endpoint_parse(&c, "IPv6:2001:db8::1", 16, 50123);
    smtp_endpoint_parse(&v, "192.0.2.25", 10, 25);
    smtp_server_session_set_addr(s, SMTP_ADDR_CLIENT, &c);
    smtp_server_session_set_addr(s, SMTP_ADDR_SERVER, &v);
  }
  while ((k = smtp_server_session_mem_send(s, &out)) > 0) smtp_server_session_mem_consume(s, (size_t)k);
  smtp_server_session_mem_recv(s, ehlo, sizeof ehlo - 1);
  while ((k = smtp_server_session_mem_send(s, &out)) > 0) smtp_server_session_mem_consume(s, (size_t)k);
  held = st.cur;
  *allocs = bench_mem_calls(&st);
  smtp_server_session_del(s);
  return held;
}

int main(int argc, char **argv) {
  long iters = argc > 1 && !strcmp(argv[1], "-q") ? 100000 : 2000000;
  uint64_t a0, a1, sa0, sa1;
  size_t b0, b1, h0, h1;
  printf("PROXY header parse (init + feed + info), ns per header, median of 7 x %ld\n", iters);
  printf("  %-44s %8.1f\n", "v2 INET, 28 octets, one feed", time_parse(v2_inet, sizeof v2_inet - 1, 0, iters));
  printf("  %-44s %8.1f\n", "v2 INET + 4 records, 87 octets, one feed", time_parse(v2_tlv, sizeof v2_tlv - 1, 0, iters));
  printf("  %-44s %8.1f\n", "v1 TCP4, 45 octets, one feed", time_parse(v1_tcp4, sizeof v1_tcp4 - 1, 0, iters));
  printf("  %-44s %8.1f\n", "v2 INET, 28 octets, one octet per feed", time_parse(v2_inet, sizeof v2_inet - 1, 1, iters / 4));
  printf("  allocations by the reader: 0 (it has no allocator; state: %zu octets, caller-placed)\n",
         sizeof(smtp_proxy_reader));
  driver_cost(0, &a0, &b0);
  driver_cost(1, &a1, &b1);
  printf("server driver through the greeting (counting smtp_mem)\n");
  printf("  %-44s %8llu allocations %8zu octets\n", "without PROXY filter", (unsigned long long)a0, b0);
  printf("  %-44s %8llu allocations %8zu octets\n", "with PROXY filter, v2 header read", (unsigned long long)a1, b1);
  printf("  added by the filter: %lld allocations, %lld octets\n", (long long)a1 - (long long)a0,
         (long long)b1 - (long long)b0);
  h0 = idle_session(0, &sa0);
  h1 = idle_session(1, &sa1);
  printf("idle server session after greeting and EHLO (default options)\n");
  printf("  %-44s %8zu octets, %llu allocations\n", "no address recorded", h0, (unsigned long long)sa0);
  printf("  %-44s %8zu octets, %llu allocations\n", "client and server address recorded", h1, (unsigned long long)sa1);
  printf("  octets the session keeps for endpoints: %zu (3 x %zu) + %zu (XCLIENT trust) + %zu (pointer to the\n"
         "  XCLIENT/XFORWARD attributes, allocated only when a trusted client sends one)\n",
         sizeof(((struct smtp_server_session *)0)->addrs), sizeof(smtp__ep),
         sizeof(((struct smtp_server_session *)0)->x_allowed), sizeof(((struct smtp_server_session *)0)->xs));
  return (int)(sink & 0);
}
