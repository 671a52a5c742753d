/* Delivery planning for 100 domains through the scripted resolver
 * (delivery.h, resolver.h): each domain has three MX hosts (two of equal
 * preference, shuffled), each host an A and an AAAA record, all answers
 * DNSSEC-authenticated, TLSA records for half of the hosts (DANE on). The
 * 100 deliveries resolve concurrently over one adapter; then each takes
 * its first target, records a recipient's reply and reports DONE.
 *
 * Prints: wall time per run of all 100 (median of the runs), with answers
 * at once and with every answer delayed (a slow resolver: the deliveries
 * wait together, so the total stays near three round trips); DNS queries;
 * memory of the deliveries (peak and per domain, counted through smtp_mem)
 * and of the scripted adapter's table.
 *
 *   bench_delivery [RUNS] [DELAY_MS]     (defaults 20 and 20) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/delivery.h>

#include "bench_common.h"

#define NDOM 100

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void *ud) {
  (void)ud;
  return bench_rnd(&seed);
}

static void fill(const smtp_resolver *r, unsigned int delay) {
  char name[128], rd[200];
  for (int d = 0; d < NDOM; d++) {
    snprintf(name, sizeof name, "d%d.example", d);
    for (int h = 0; h < 3; h++) {
      char host[128];
      snprintf(host, sizeof host, "mx%d.d%d.example", h, d);
      snprintf(rd, sizeof rd, "%d %s", h < 2 ? 10 : 20, host);
      smtp_resolver_scripted_add(r, name, SMTP_DNS_MX, rd, SMTP_SCRIPTED_SECURE, delay);
      snprintf(rd, sizeof rd, "192.0.%d.%d", d, h + 1);
      smtp_resolver_scripted_add(r, host, SMTP_DNS_A, rd, SMTP_SCRIPTED_SECURE, delay);
      snprintf(rd, sizeof rd, "2001:db8:%x::%x", d, h + 1);
      smtp_resolver_scripted_add(r, host, SMTP_DNS_AAAA, rd, SMTP_SCRIPTED_SECURE, delay);
      if ((d + h) % 2 == 0) {
        char tl[140];
        snprintf(tl, sizeof tl, "_25._tcp.%s", host);
        smtp_resolver_scripted_add(r, tl, SMTP_DNS_TLSA,
                                   "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                   SMTP_SCRIPTED_SECURE, delay);
      }
    }
  }
}

/* One run: 100 deliveries planned and finished. Returns seconds. */
static double run(const smtp_resolver *res, bench_mem_stats *st, size_t *dane_targets) {
  smtp_mem m = bench_mem(st);
  smtp_delivery *d[NDOM];
  smtp_delivery_config cfg;
  double t0 = bench_now();
  int pending;
  memset(&cfg, 0, sizeof cfg);
  cfg.version = SMTP_DELIVERY_CONFIG_VERSION;
  cfg.flags = SMTP_DELIVERY_DANE;
  cfg.random = rnd;
  for (int i = 0; i < NDOM; i++) {
    char dom[64], rc[80];
    snprintf(dom, sizeof dom, "d%d.example", i);
    snprintf(rc, sizeof rc, "user%d@%s", i, dom);
    if (smtp_delivery_new(&d[i], dom, res, &cfg, &m) != 0 || smtp_delivery_add_rcpt(d[i], rc) != 0)
      bench_die("delivery_new failed");
  }
  do {
    pending = 0;
    for (int i = 0; i < NDOM; i++) {
      int r = smtp_delivery_resolve(d[i]);
      if (r == SMTP_ERR_WOULDBLOCK) pending = 1;
      else if (r != 0) bench_die("resolve d%d: %s", i, smtp_strerror(r));
    }
    if (pending) smtp_resolver_wait(res, 1000);
  } while (pending);
  for (int i = 0; i < NDOM; i++) {
    smtp_delivery_target t;
    smtp_delivery_rcpt_result rr;
    if (smtp_delivery_next(d[i], &t) != 0) bench_die("no target for d%d", i);
    if (t.tls == SMTP_DELIVERY_TLS_DANE) (*dane_targets)++;
    smtp_delivery_rcpt_reply(d[i], 0, &t, 250, "2.0.0", "queued", 1);
    smtp_delivery_report(d[i], &t, SMTP_DELIVERY_DONE);
    smtp_delivery_rcpt(d[i], 0, &rr);
    if (rr.state != SMTP_DELIVERY_DELIVERED) bench_die("not delivered");
  }
  {
    double t = bench_now() - t0;
    for (int i = 0; i < NDOM; i++) smtp_delivery_del(d[i]);
    return t;
  }
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 20;
  unsigned int delay = argc > 2 ? (unsigned int)atoi(argv[2]) : 20;
  if (runs < 1 || runs > 1000) bench_die("RUNS 1..1000");
  for (int pass = 0; pass < 2; pass++) {
    unsigned int dl = pass ? delay : 0;
    bench_mem_stats rst, dst;
    smtp_mem rm;
    smtp_resolver res;
    double *t = calloc((size_t)runs, sizeof *t);
    size_t dane = 0;
    int q0;
    memset(&rst, 0, sizeof rst);
    memset(&dst, 0, sizeof dst);
    rm = bench_mem(&rst);
    smtp_resolver_scripted_new(&res, &rm);
    fill(&res, dl);
    q0 = smtp_resolver_scripted_queries(&res, 0);
    for (int i = 0; i < runs; i++) t[i] = run(&res, &dst, &dane);
    printf("delivery to %d domains, answers delayed %u ms: median %.3f ms per run of %d (min-max over %d runs: %.3f-%.3f ms), %.1f us per domain\n",
           NDOM, dl, bench_median(t, (size_t)runs) * 1e3, NDOM, runs, t[0] * 1e3, t[runs - 1] * 1e3,
           bench_median(t, (size_t)runs) * 1e6 / NDOM);
    printf("  DNS queries per run: %d (MX, A, AAAA, TLSA); DANE targets: %zu of %d\n",
           (smtp_resolver_scripted_queries(&res, 0) - q0) / runs, dane / (size_t)runs, NDOM);
    printf("  deliveries' memory: peak %zu B for %d at once (%zu B per domain), %llu allocations per run, %zu B held after\n",
           dst.peak, NDOM, dst.peak / NDOM, (unsigned long long)(bench_mem_calls(&dst) / (uint64_t)runs), dst.cur);
    smtp_resolver_close(&res);
    printf("  scripted resolver: peak %zu B (table of %d records and its answers)\n", rst.peak, NDOM * 3 * 3 + NDOM * 3 / 2);
    free(t);
  }
  return 0;
}
