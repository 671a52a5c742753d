/* Resolver adapter on libunbound: a validating resolver in the process
 * (RFC 4035 5), so DANE does not have to trust the AD bit of a resolver
 * across the network. The trust anchor comes from a file (root or zone
 * DS/DNSKEY records). libunbound resolves in a thread of its own and
 * reports through ub_fd()/ub_process(); its verdict (secure, bogus,
 * insecure) comes with the raw answer, which smtp_dns_parse() reads like
 * any other. libunbound allocates its own memory with malloc. */
#include <string.h>
#include <time.h>
#include <unbound.h>

#include "dns.h"
#include "internal.h"

typedef struct uq {
  struct uq *next;
  struct ub *owner;
  int id;
  int ub_id;
  int done;
  int status;
  unsigned int security;
  unsigned char *wire;
  size_t len;
  long long until;
} uq;

typedef struct ub {
  smtp_mem mem;
  struct ub_ctx *ctx;
  uq *list;
  int next_id;
  int timeout_ms;
} ub;

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_result(void *arg, int err, struct ub_result *res) {
  uq *q = arg;
  q->done = 1;
  q->ub_id = -1;
  if (err != 0 || !res) {
    q->status = SMTP_DNS_TEMPFAIL;
  } else if (res->bogus) {
    q->status = SMTP_DNS_BOGUS;
    q->security = SMTP_DNS_SEC_BOGUS;
  } else if (!res->answer_packet || res->answer_len <= 0) {
    q->status = SMTP_DNS_TEMPFAIL;
  } else {
    q->wire = smtp__malloc(&q->owner->mem, (size_t)res->answer_len);
    if (q->wire) {
      memcpy(q->wire, res->answer_packet, (size_t)res->answer_len);
      q->len = (size_t)res->answer_len;
      q->status = SMTP_DNS_OK;
      q->security = res->secure ? SMTP_DNS_SEC_SECURE : SMTP_DNS_SEC_INSECURE;
    } else {
      q->status = SMTP_DNS_TEMPFAIL;
    }
  }
  if (res) ub_resolve_free(res);
}

static int ub_query(const char *name, unsigned int type, void *ud) {
  ub *u = ud;
  unsigned char w[256];
  uq *q;
  if (!name || type > 0xffff || smtp__dns_name_to_wire(name, w, sizeof w) < 0)
    return SMTP_ERR_INVALID_ARGUMENT;
  q = smtp__calloc(&u->mem, 1, sizeof *q);
  if (!q) return SMTP_ERR_NOMEM;
  q->owner = u;
  q->id = u->next_id++;
  if (u->next_id < 0) u->next_id = 0;
  q->until = mono_ms() + u->timeout_ms;
  if (ub_resolve_async(u->ctx, name, (int)type, 1, q, on_result, &q->ub_id) != 0) {
    smtp__free(&u->mem, q);
    return SMTP_ERR_DNS;
  }
  q->next = u->list;
  u->list = q;
  return q->id;
}

static int ub_fds(smtp_resolver_fd *fds, size_t cap, void *ud) {
  ub *u = ud;
  if (cap < 1) return 0;
  fds[0].fd = ub_fd(u->ctx);
  fds[0].events = SMTP_RESOLVER_READ;
  fds[0].revents = 0;
  return fds[0].fd >= 0 ? 1 : 0;
}

static int ub_timeout(void *ud) {
  ub *u = ud;
  long long best = -1, now = mono_ms();
  for (uq *q = u->list; q; q = q->next) {
    long long left;
    if (q->done) continue;
    left = q->until - now;
    if (left < 0) left = 0;
    if (best < 0 || left < best) best = left;
  }
  return best > 0x7fffffff ? 0x7fffffff : (int)best;
}

static int ub_proc(const smtp_resolver_fd *fds, size_t n, void *ud) {
  ub *u = ud;
  long long now = mono_ms();
  (void)fds;
  (void)n;
  if (ub_poll(u->ctx) && ub_process(u->ctx) != 0) return SMTP_ERR_DNS;
  for (uq *q = u->list; q; q = q->next) {
    if (!q->done && q->until <= now) {
      if (q->ub_id >= 0) ub_cancel(u->ctx, q->ub_id);
      q->ub_id = -1;
      q->done = 1;
      q->status = SMTP_DNS_TIMEOUT;
    }
  }
  return 0;
}

static uq *ub_find(ub *u, int id) {
  for (uq *q = u->list; q; q = q->next)
    if (q->id == id) return q;
  return NULL;
}

static int ub_ans(int id, smtp_resolver_answer *out, void *ud) {
  ub *u = ud;
  uq *q = ub_find(u, id);
  if (!q) return SMTP_ERR_NOT_FOUND;
  if (!q->done) return SMTP_ERR_WOULDBLOCK;
  out->status = q->status;
  out->security = q->security;
  out->wire = q->wire;
  out->len = q->len;
  return SMTP_OK;
}

static void ub_forget(int id, void *ud) {
  ub *u = ud;
  uq *q = ub_find(u, id);
  if (!q) return;
  if (!q->done && q->ub_id >= 0) ub_cancel(u->ctx, q->ub_id); /* no callback after this */
  for (uq **pp = &u->list; *pp; pp = &(*pp)->next) {
    if (*pp == q) {
      *pp = q->next;
      break;
    }
  }
  smtp__free(&u->mem, q->wire);
  smtp__free(&u->mem, q);
}

static void ub_close(void *ud) {
  ub *u = ud;
  smtp_mem m = u->mem;
  uq *q;
  for (q = u->list; q; q = q->next)
    if (!q->done && q->ub_id >= 0) ub_cancel(u->ctx, q->ub_id);
  ub_ctx_delete(u->ctx);
  q = u->list;
  while (q) {
    uq *n = q->next;
    smtp__free(&m, q->wire);
    smtp__free(&m, q);
    q = n;
  }
  smtp__free(&m, u);
}

/* "HOST", "HOST:PORT", "[v6]:PORT" -> libunbound's "HOST@PORT". */
static int fwd_spec(const char *server, char *out, size_t cap) {
  const char *host = server, *port = NULL;
  size_t hl;
  if (server[0] == '[') {
    const char *e = strchr(server, ']');
    if (!e) return -1;
    host = server + 1;
    hl = (size_t)(e - host);
    if (e[1] == ':') port = e + 2;
    else if (e[1]) return -1;
  } else {
    const char *c = strchr(server, ':');
    if (c && strchr(c + 1, ':')) { /* bare IPv6 */
      hl = strlen(server);
    } else {
      hl = c ? (size_t)(c - server) : strlen(server);
      if (c) port = c + 1;
    }
  }
  if (hl == 0 || hl + 8 > cap) return -1;
  memcpy(out, host, hl);
  out[hl] = 0;
  if (port) {
    size_t pl = strlen(port);
    if (pl == 0 || pl > 5) return -1;
    for (size_t i = 0; i < pl; i++)
      if (!smtp__is_digit((unsigned char)port[i])) return -1;
    out[hl] = '@';
    memcpy(out + hl + 1, port, pl + 1);
  }
  return 0;
}

int smtp_resolver_unbound_new(smtp_resolver *out, const char *server, const char *anchor_file,
                              int timeout_ms, const smtp_mem *mem) {
  ub *u;
  char fwd[320];
  int rc = 0;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (timeout_ms < 0 || (server && fwd_spec(server, fwd, sizeof fwd) != 0) || (mem && !smtp__mem_valid(mem)))
    return SMTP_ERR_INVALID_ARGUMENT;
  if (timeout_ms == 0) timeout_ms = 10000;
  u = smtp__calloc(mem, 1, sizeof *u);
  if (!u) return SMTP_ERR_NOMEM;
  u->mem = mem ? *mem : *smtp_mem_default();
  u->timeout_ms = timeout_ms;
  u->ctx = ub_ctx_create();
  if (!u->ctx) {
    smtp__free(&u->mem, u);
    return SMTP_ERR_NOMEM;
  }
  ub_ctx_set_option(u->ctx, "do-not-query-localhost:", "no");
  if (server) rc = ub_ctx_set_fwd(u->ctx, fwd);
  else rc = ub_ctx_resolvconf(u->ctx, NULL);
  if (rc == 0 && anchor_file) rc = ub_ctx_add_ta_file(u->ctx, anchor_file);
  if (rc == 0) rc = ub_ctx_async(u->ctx, 1);
  if (rc != 0) {
    ub_ctx_delete(u->ctx);
    smtp__free(&u->mem, u);
    return SMTP_ERR_DNS;
  }
  out->version = SMTP_RESOLVER_VERSION;
  out->user_data = u;
  out->query = ub_query;
  out->fds = ub_fds;
  out->timeout_ms = ub_timeout;
  out->process = ub_proc;
  out->answer = ub_ans;
  out->forget = ub_forget;
  out->close = ub_close;
  return SMTP_OK;
}
