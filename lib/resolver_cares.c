/* Resolver adapter on c-ares (the default). Queries are built here (RD, AD,
 * EDNS(0): dns.c) and sent with ares_send(); c-ares handles retries, the
 * TCP fallback for truncated answers and its per-try time-out; the raw
 * answer goes to smtp_dns_parse(). c-ares does not validate DNSSEC: the
 * answer's AD bit is the resolver's verdict (SMTP_DNS_SEC_FROM_AD). c-ares
 * allocates its own memory with malloc. */
#include <ares.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "internal.h"

typedef struct cq {
  struct cq *next;
  struct ca *owner;
  int id;
  int done;
  int orphan; /* forgotten while c-ares still holds it */
  int in_ares; /* c-ares has not called back yet */
  int status;
  unsigned char *wire;
  size_t len;
  long long until;
} cq;

typedef struct ca {
  smtp_mem mem;
  ares_channel ch;
  cq *list;
  int next_id;
  int timeout_ms;
} ca;

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void unlink_free(ca *c, cq *q) {
  for (cq **pp = &c->list; *pp; pp = &(*pp)->next) {
    if (*pp == q) {
      *pp = q->next;
      break;
    }
  }
  smtp__free(&c->mem, q->wire);
  smtp__free(&c->mem, q);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
  cq *q = arg;
  ca *c = q->owner;
  (void)timeouts;
  q->in_ares = 0;
  if (q->orphan || status == ARES_EDESTRUCTION) {
    if (q->orphan) unlink_free(c, q);
    return;
  }
  if (q->done) return; /* already expired by our own deadline */
  q->done = 1;
  if (status == ARES_SUCCESS && abuf && alen > 0) {
    q->wire = smtp__malloc(&c->mem, (size_t)alen);
    if (!q->wire) {
      q->status = SMTP_DNS_TEMPFAIL;
      return;
    }
    memcpy(q->wire, abuf, (size_t)alen);
    q->len = (size_t)alen;
    q->status = SMTP_DNS_OK;
  } else {
    q->status = status == ARES_ETIMEOUT ? SMTP_DNS_TIMEOUT : SMTP_DNS_TEMPFAIL;
  }
}

static int ca_query(const char *name, unsigned int type, void *ud) {
  ca *c = ud;
  unsigned char buf[SMTP__DNS_QUERY_MAX];
  int n = smtp__dns_build_query(0, name, type, buf, sizeof buf);
  cq *q;
  if (n < 0) return SMTP_ERR_INVALID_ARGUMENT;
  q = smtp__calloc(&c->mem, 1, sizeof *q);
  if (!q) return SMTP_ERR_NOMEM;
  q->owner = c;
  q->id = c->next_id++;
  if (c->next_id < 0) c->next_id = 0;
  q->until = mono_ms() + c->timeout_ms;
  q->next = c->list;
  c->list = q;
  q->in_ares = 1;
  ares_send(c->ch, buf, n, on_answer, q); /* may call on_answer at once */
  return q->id;
}

static int ca_fds(smtp_resolver_fd *fds, size_t cap, void *ud) {
  ca *c = ud;
  ares_socket_t socks[ARES_GETSOCK_MAXNUM];
  /* the bit layout of ares_getsock(), read unsigned: c-ares' own macros
   * shift a signed 1 into the sign bit for the 16th socket */
  unsigned int bits = (unsigned int)ares_getsock(c->ch, socks, ARES_GETSOCK_MAXNUM);
  int n = 0;
  for (unsigned int i = 0; i < ARES_GETSOCK_MAXNUM && (size_t)n < cap; i++) {
    unsigned int ev = 0;
    if (bits & (1u << i)) ev |= SMTP_RESOLVER_READ;
    if (bits & (1u << (i + ARES_GETSOCK_MAXNUM))) ev |= SMTP_RESOLVER_WRITE;
    if (!ev) continue;
    fds[n].fd = socks[i];
    fds[n].events = ev;
    fds[n].revents = 0;
    n++;
  }
  return n;
}

static int ca_timeout(void *ud) {
  ca *c = ud;
  struct timeval tv, *t;
  long long best = -1, now = mono_ms();
  int pending = 0;
  for (cq *q = c->list; q; q = q->next) {
    long long left;
    if (q->done || q->orphan) continue;
    pending = 1;
    left = q->until - now;
    if (left < 0) left = 0;
    if (best < 0 || left < best) best = left;
  }
  if (!pending) return -1;
  t = ares_timeout(c->ch, NULL, &tv);
  if (t) {
    long long ms = (long long)t->tv_sec * 1000 + t->tv_usec / 1000;
    if (ms < best) best = ms;
  }
  return best > 0x7fffffff ? 0x7fffffff : (int)best;
}

static int ca_process(const smtp_resolver_fd *fds, size_t n, void *ud) {
  ca *c = ud;
  long long now = mono_ms();
  int any = 0;
  for (size_t i = 0; i < n; i++) {
    if (!fds[i].revents) continue;
    any = 1;
    ares_process_fd(c->ch, (fds[i].revents & SMTP_RESOLVER_READ) ? fds[i].fd : ARES_SOCKET_BAD,
                    (fds[i].revents & SMTP_RESOLVER_WRITE) ? fds[i].fd : ARES_SOCKET_BAD);
  }
  if (!any) ares_process_fd(c->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* time-outs, retries */
  for (cq *q = c->list; q; q = q->next) {
    if (!q->done && !q->orphan && q->until <= now) {
      q->done = 1;
      q->status = SMTP_DNS_TIMEOUT;
    }
  }
  return 0;
}

static cq *ca_find(ca *c, int id) {
  for (cq *q = c->list; q; q = q->next)
    if (q->id == id && !q->orphan) return q;
  return NULL;
}

static int ca_answer(int id, smtp_resolver_answer *out, void *ud) {
  ca *c = ud;
  cq *q = ca_find(c, id);
  if (!q) return SMTP_ERR_NOT_FOUND;
  if (!q->done) return SMTP_ERR_WOULDBLOCK;
  out->status = q->status;
  out->security = SMTP_DNS_SEC_FROM_AD;
  out->wire = q->wire;
  out->len = q->len;
  return SMTP_OK;
}

static void ca_forget(int id, void *ud) {
  ca *c = ud;
  cq *q = ca_find(c, id);
  if (!q) return;
  if (!q->in_ares) {
    unlink_free(c, q);
    return;
  }
  /* c-ares still holds it and will call back (pending, or our own
   * deadline expired it first): free it then */
  q->orphan = 1;
  smtp__free(&c->mem, q->wire);
  q->wire = NULL;
}

static void ca_close(void *ud) {
  ca *c = ud;
  smtp_mem m = c->mem;
  cq *q;
  ares_destroy(c->ch); /* pending callbacks run with ARES_EDESTRUCTION */
  q = c->list;
  while (q) {
    cq *n = q->next;
    smtp__free(&m, q->wire);
    smtp__free(&m, q);
    q = n;
  }
  smtp__free(&m, c);
}

int smtp_resolver_cares_new(smtp_resolver *out, const char *server, int timeout_ms,
                            const smtp_mem *mem) {
  static int lib_ready;
  struct ares_options opts;
  ca *c;
  int rc;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (timeout_ms < 0 || (mem && !smtp__mem_valid(mem))) return SMTP_ERR_INVALID_ARGUMENT;
  if (timeout_ms == 0) timeout_ms = 5000;
  if (server) {
    size_t l = strlen(server);
    if (l == 0 || l > 300) return SMTP_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < l; i++)
      if ((unsigned char)server[i] <= 0x20 || (unsigned char)server[i] >= 0x7f || server[i] == ',')
        return SMTP_ERR_INVALID_ARGUMENT;
  }
  if (!lib_ready) {
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) return SMTP_ERR_DNS;
    lib_ready = 1;
  }
  c = smtp__calloc(mem, 1, sizeof *c);
  if (!c) return SMTP_ERR_NOMEM;
  c->mem = mem ? *mem : *smtp_mem_default();
  c->timeout_ms = timeout_ms;
  memset(&opts, 0, sizeof opts);
  opts.timeout = timeout_ms / 2 > 0 ? timeout_ms / 2 : 1;
  opts.tries = 2;
  rc = ares_init_options(&c->ch, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
  if (rc != ARES_SUCCESS) {
    smtp__free(&c->mem, c);
    return rc == ARES_ENOMEM ? SMTP_ERR_NOMEM : SMTP_ERR_DNS;
  }
  if (server && ares_set_servers_ports_csv(c->ch, server) != ARES_SUCCESS) {
    ares_destroy(c->ch);
    smtp__free(&c->mem, c);
    return SMTP_ERR_INVALID_ARGUMENT;
  }
  out->version = SMTP_RESOLVER_VERSION;
  out->user_data = c;
  out->query = ca_query;
  out->fds = ca_fds;
  out->timeout_ms = ca_timeout;
  out->process = ca_process;
  out->answer = ca_answer;
  out->forget = ca_forget;
  out->close = ca_close;
  return SMTP_OK;
}
