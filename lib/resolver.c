/* The resolver adapter's generic part (check, wait, blocking lookup) and
 * the scripted adapter for tests. Like io_posix.c this is an adapter file:
 * it may poll(2) and read the monotonic clock. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "internal.h"

#define WAIT_FDS 16

int smtp_resolver_check(const smtp_resolver *r) {
  if (!r) return SMTP_ERR_INVALID_ARGUMENT;
  if (r->version == 0 || r->version > SMTP_RESOLVER_VERSION) return SMTP_ERR_UNSUPPORTED;
  if (!r->query || !r->fds || !r->timeout_ms || !r->process || !r->answer || !r->forget)
    return SMTP_ERR_INVALID_ARGUMENT;
  return SMTP_OK;
}

void smtp_resolver_close(smtp_resolver *r) {
  if (!r) return;
  if (r->close) r->close(r->user_data);
  memset(r, 0, sizeof *r);
}

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int smtp_resolver_wait(const smtp_resolver *r, int max_ms) {
  smtp_resolver_fd fds[WAIT_FDS];
  struct pollfd pf[WAIT_FDS];
  int n, t, rc;
  if (smtp_resolver_check(r) != SMTP_OK) return SMTP_ERR_INVALID_ARGUMENT;
  n = r->fds(fds, WAIT_FDS, r->user_data);
  if (n < 0 || n > WAIT_FDS) return SMTP_ERR_DNS;
  t = r->timeout_ms(r->user_data);
  if (max_ms >= 0 && (t < 0 || t > max_ms)) t = max_ms;
  for (int i = 0; i < n; i++) {
    pf[i].fd = fds[i].fd;
    pf[i].events = (short)(((fds[i].events & SMTP_RESOLVER_READ) ? POLLIN : 0) |
                           ((fds[i].events & SMTP_RESOLVER_WRITE) ? POLLOUT : 0));
    pf[i].revents = 0;
  }
  if (n == 0 && t < 0) return SMTP_OK; /* nothing pending */
  rc = poll(pf, (nfds_t)n, t);
  if (rc < 0 && errno != EINTR) return SMTP_ERR_DNS;
  for (int i = 0; i < n; i++) {
    fds[i].revents = 0;
    if (rc > 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR))) fds[i].revents |= SMTP_RESOLVER_READ;
    if (rc > 0 && (pf[i].revents & POLLOUT)) fds[i].revents |= SMTP_RESOLVER_WRITE;
  }
  return r->process(fds, (size_t)n, r->user_data) == 0 ? SMTP_OK : SMTP_ERR_DNS;
}

int smtp_resolver_lookup(const smtp_resolver *r, const char *name, unsigned int type,
                         int timeout_ms, smtp_dns_result **out, const smtp_mem *mem) {
  long long until;
  int id, rc;
  smtp_resolver_answer ans;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (smtp_resolver_check(r) != SMTP_OK || !name || timeout_ms < 0 || (mem && !smtp__mem_valid(mem)))
    return SMTP_ERR_INVALID_ARGUMENT;
  id = r->query(name, type, r->user_data);
  if (id < 0) return id;
  until = mono_ms() + timeout_ms;
  for (;;) {
    long long left;
    memset(&ans, 0, sizeof ans);
    rc = r->answer(id, &ans, r->user_data);
    if (rc == SMTP_OK) break;
    if (rc != SMTP_ERR_WOULDBLOCK) {
      r->forget(id, r->user_data);
      return SMTP_ERR_DNS;
    }
    left = until - mono_ms();
    if (left <= 0) {
      r->forget(id, r->user_data);
      return smtp_dns_result_failed(SMTP_DNS_TIMEOUT, name, out, mem);
    }
    rc = smtp_resolver_wait(r, (int)left);
    if (rc != SMTP_OK) {
      r->forget(id, r->user_data);
      return rc;
    }
  }
  if (ans.status == SMTP_DNS_OK)
    rc = smtp_dns_parse(ans.wire, ans.len, name, type, ans.security, out, mem);
  else
    rc = smtp_dns_result_failed(ans.status, name, out, mem);
  r->forget(id, r->user_data);
  return rc;
}

/* ---- the scripted adapter ---- */

typedef struct script_rr {
  struct script_rr *next;
  char *name;
  uint32_t hash; /* of the name, case and a final dot ignored */
  unsigned int type, flags, delay_ms;
  size_t rdlen;
  unsigned char rdata[];
} script_rr;

typedef struct {
  int id;
  int used;
  unsigned int type;
  long long due;
  int status;
  unsigned int security;
  unsigned char *wire;
  size_t len;
  char name[SMTP__DNS_NAME_MAX + 2];
} script_query;

typedef struct {
  smtp_mem mem;
  script_rr *rrs, *last;
  script_query *q;
  size_t nq, capq;
  size_t *freel, nfree; /* free slots */
  int next_id;
  unsigned int count[64];
  unsigned int total;
} scripted;

static int sc_query(const char *name, unsigned int type, void *ud);
static int sc_fds(smtp_resolver_fd *fds, size_t cap, void *ud) {
  (void)fds;
  (void)cap;
  (void)ud;
  return 0;
}

/* Query ids are (generation << 16 | slot): found without a search. */
static script_query *sc_find(scripted *s, int id) {
  size_t slot = (size_t)id & 0xffffu;
  if (id < 0 || slot >= s->nq || !s->q[slot].used || s->q[slot].id != id) return NULL;
  return &s->q[slot];
}

static int sc_timeout(void *ud) {
  scripted *s = ud;
  long long now = mono_ms(), best = -1;
  for (size_t i = 0; i < s->nq; i++) {
    script_query *q = &s->q[i];
    long long left;
    if (!q->used || q->status >= 0) continue;
    left = q->due - now;
    if (left < 0) left = 0;
    if (best < 0 || left < best) best = left;
  }
  return best > 0x7fffffff ? 0x7fffffff : (int)best;
}

/* FNV-1a over the lower-cased name without a final dot: a quick filter
 * before the name comparison. */
static uint32_t name_hash(const char *n) {
  uint32_t h = 2166136261u;
  size_t l = strlen(n);
  if (l && n[l - 1] == '.') l--;
  for (size_t i = 0; i < l; i++) h = (h ^ (uint32_t)smtp__lower((unsigned char)n[i])) * 16777619u;
  return h;
}

/* Whether the table knows the name at all, the flags and delay for the pair. */
static int sc_lookup(const scripted *s, const char *name, unsigned int type, unsigned int *flags,
                     unsigned int *delay, size_t *count, size_t *bytes) {
  int known = 0;
  uint32_t h = name_hash(name);
  for (const script_rr *e = s->rrs; e; e = e->next) {
    if (e->hash != h || !smtp__dns_name_eq(e->name, name)) continue;
    known = 1;
    if (e->type != type) continue;
    *flags |= e->flags;
    if (e->delay_ms > *delay) *delay = e->delay_ms;
    if (e->rdlen) {
      (*count)++;
      *bytes += strlen(e->name) + 2 + 10 + e->rdlen;
    }
  }
  return known;
}

/* A name from the table (wire form, plain labels) back to text. */
static void wire_name_text(const unsigned char *w, size_t len, char *out) {
  size_t p = 0, o = 0;
  while (p < len && w[p]) {
    if (o) out[o++] = '.';
    memcpy(out + o, w + p + 1, w[p]);
    o += w[p];
    p += (size_t)w[p] + 1;
  }
  out[o] = 0;
}

/* Answer the query the way a recursive server would, CNAMEs followed. */
static void sc_complete(scripted *s, script_query *q) {
  unsigned int flags = 0, delay = 0;
  size_t count = 0, bytes = 12 + 260 + 4, nrr = 0;
  const char *cur = q->name;
  smtp__dns_wire_rr *rrs = NULL;
  char tgt[21][SMTP__DNS_NAME_MAX + 2], nxt[SMTP__DNS_NAME_MAX + 2];
  size_t ncname = 0;
  int known, n, chain = 0, insecure_link = 0;
  /* First pass: sizes (chain bounded at 20 links). */
  known = sc_lookup(s, cur, q->type, &flags, &delay, &count, &bytes);
  while (known && count == 0 && q->type != SMTP_DNS_CNAME && chain < 20) {
    size_t c2 = 0;
    const script_rr *cn = NULL;
    uint32_t h = name_hash(cur);
    for (const script_rr *e = s->rrs; e; e = e->next)
      if (e->type == SMTP_DNS_CNAME && e->rdlen && e->hash == h && smtp__dns_name_eq(e->name, cur)) cn = e;
    if (!cn) break;
    chain++;
    {
      /* the answer is authenticated only when every link of the chain is */
      unsigned int cf = 0;
      sc_lookup(s, cur, SMTP_DNS_CNAME, &cf, &delay, &c2, &bytes);
      if (!(cf & SMTP_SCRIPTED_SECURE)) insecure_link = 1;
      flags |= cf;
    }
    ncname += c2;
    wire_name_text(cn->rdata, cn->rdlen, tgt[chain]);
    cur = tgt[chain];
    known = sc_lookup(s, cur, q->type, &flags, &delay, &count, &bytes);
  }
  count += ncname;
  if (insecure_link) flags &= ~SMTP_SCRIPTED_SECURE;
  (void)delay;
  q->security = (flags & SMTP_SCRIPTED_BOGUS) ? SMTP_DNS_SEC_BOGUS : SMTP_DNS_SEC_FROM_AD;
  if (flags & SMTP_SCRIPTED_TIMEOUT) {
    q->status = SMTP_DNS_TIMEOUT;
    return;
  }
  q->wire = smtp__malloc(&s->mem, bytes);
  rrs = count ? smtp__calloc(&s->mem, count, sizeof *rrs) : NULL;
  if (!q->wire || (count && !rrs)) {
    smtp__free(&s->mem, rrs);
    q->status = SMTP_DNS_TEMPFAIL;
    return;
  }
  /* Second pass: the records, in table order along the chain. */
  cur = q->name;
  for (int link = 0; link <= chain; link++) {
    const script_rr *cn = NULL;
    uint32_t h = name_hash(cur);
    for (const script_rr *e = s->rrs; e; e = e->next) {
      if (!e->rdlen || e->hash != h || !smtp__dns_name_eq(e->name, cur)) continue;
      if (e->type == q->type && nrr < count) {
        rrs[nrr].owner = e->name;
        rrs[nrr].type = e->type;
        rrs[nrr].rdata = e->rdata;
        rrs[nrr++].rdlen = e->rdlen;
      } else if (link < chain && e->type == SMTP_DNS_CNAME && nrr < count) {
        cn = e;
      }
    }
    if (cn) {
      rrs[nrr].owner = cn->name;
      rrs[nrr].type = SMTP_DNS_CNAME;
      rrs[nrr].rdata = cn->rdata;
      rrs[nrr++].rdlen = cn->rdlen;
      wire_name_text(cn->rdata, cn->rdlen, nxt); /* next owner: the target */
      cur = nxt;
    }
  }
  n = smtp__dns_build_answer((uint16_t)q->id, q->name, q->type,
                             (flags & SMTP_SCRIPTED_SERVFAIL) ? 2u : (!known && nrr == 0) || (flags & SMTP_SCRIPTED_NXDOMAIN) ? 3u : 0u,
                             (flags & SMTP_SCRIPTED_SECURE) != 0, rrs, nrr, q->wire, bytes);
  smtp__free(&s->mem, rrs);
  if (n < 0) {
    q->status = SMTP_DNS_TEMPFAIL;
    return;
  }
  q->len = (size_t)n;
  if (flags & SMTP_SCRIPTED_MALFORMED) q->len = q->len > 20 ? q->len - 7 : 5;
  q->status = SMTP_DNS_OK;
}

static int sc_process(const smtp_resolver_fd *fds, size_t n, void *ud) {
  scripted *s = ud;
  long long now = mono_ms();
  (void)fds;
  (void)n;
  for (size_t i = 0; i < s->nq; i++)
    if (s->q[i].used && s->q[i].status < 0 && s->q[i].due <= now) sc_complete(s, &s->q[i]);
  return 0;
}

static int sc_answer(int id, smtp_resolver_answer *out, void *ud) {
  scripted *s = ud;
  script_query *q = sc_find(s, id);
  if (!q) return SMTP_ERR_NOT_FOUND;
  if (q->status < 0) {
    if (q->due > mono_ms()) return SMTP_ERR_WOULDBLOCK;
    sc_complete(s, q);
  }
  out->status = q->status;
  out->security = q->security;
  out->wire = q->wire;
  out->len = q->len;
  return SMTP_OK;
}

static void sc_forget(int id, void *ud) {
  scripted *s = ud;
  script_query *q = sc_find(s, id);
  if (!q) return;
  smtp__free(&s->mem, q->wire);
  memset(q, 0, sizeof *q);
  s->freel[s->nfree++] = (size_t)(q - s->q);
}

static void sc_close(void *ud) {
  scripted *s = ud;
  smtp_mem m = s->mem;
  script_rr *e = s->rrs;
  while (e) {
    script_rr *n = e->next;
    smtp__free(&m, e->name);
    smtp__free(&m, e);
    e = n;
  }
  for (size_t i = 0; i < s->nq; i++) smtp__free(&m, s->q[i].wire);
  smtp__free(&m, s->q);
  smtp__free(&m, s->freel);
  smtp__free(&m, s);
}

static int sc_query(const char *name, unsigned int type, void *ud) {
  scripted *s = ud;
  unsigned char w[256];
  unsigned int flags = 0, delay = 0;
  size_t c = 0, b = 0, slot;
  script_query *q;
  if (!name || type > 0xffff || smtp__dns_name_to_wire(name, w, sizeof w) < 0 || strlen(name) > SMTP__DNS_NAME_MAX)
    return SMTP_ERR_INVALID_ARGUMENT;
  slot = s->nq;
  if (s->nfree) slot = s->freel[--s->nfree];
  if (slot == s->nq) {
    if (s->nq >= 0xffff) return SMTP_ERR_NOMEM; /* 65535 queries pending */
    if (s->nq == s->capq) {
      size_t nc = s->capq ? s->capq * 2 : 16;
      script_query *nq = smtp__realloc(&s->mem, s->q, nc * sizeof *nq);
      size_t *nf;
      if (!nq) return SMTP_ERR_NOMEM;
      s->q = nq;
      nf = smtp__realloc(&s->mem, s->freel, nc * sizeof *nf);
      if (!nf) return SMTP_ERR_NOMEM;
      s->freel = nf;
      s->capq = nc;
    }
    s->nq++;
  }
  q = &s->q[slot];
  memset(q, 0, sizeof *q);
  q->used = 1;
  q->id = (int)(((unsigned int)s->next_id++ & 0x7fffu) << 16 | (unsigned int)slot);
  q->type = type;
  q->status = -1;
  strcpy(q->name, name);
  sc_lookup(s, name, type, &flags, &delay, &c, &b);
  q->due = mono_ms() + delay;
  s->count[type < 64 ? type : 0]++;
  s->total++;
  return q->id;
}

int smtp_resolver_scripted_new(smtp_resolver *out, const smtp_mem *mem) {
  scripted *s;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (mem && !smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  s = smtp__calloc(mem, 1, sizeof *s);
  if (!s) return SMTP_ERR_NOMEM;
  s->mem = mem ? *mem : *smtp_mem_default();
  out->version = SMTP_RESOLVER_VERSION;
  out->user_data = s;
  out->query = sc_query;
  out->fds = sc_fds;
  out->timeout_ms = sc_timeout;
  out->process = sc_process;
  out->answer = sc_answer;
  out->forget = sc_forget;
  out->close = sc_close;
  return SMTP_OK;
}

int smtp_resolver_scripted_add(const smtp_resolver *r, const char *name, unsigned int type,
                               const char *rdata, unsigned int flags, unsigned int delay_ms) {
  scripted *s;
  unsigned char w[256], rd[4096];
  int rl = 0;
  size_t nl;
  script_rr *e;
  if (!r || r->query != sc_query || !name || type == 0 || type > 0xffff) return SMTP_ERR_INVALID_ARGUMENT;
  if (smtp__dns_name_to_wire(name, w, sizeof w) < 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (rdata) {
    rl = smtp__dns_rdata_from_text(type, rdata, rd, sizeof rd);
    if (rl < 0) return SMTP_ERR_INVALID_ARGUMENT;
  }
  s = r->user_data;
  e = smtp__calloc(&s->mem, 1, sizeof *e + (size_t)rl);
  nl = strlen(name);
  if (!e) return SMTP_ERR_NOMEM;
  e->name = smtp__malloc(&s->mem, nl + 1);
  if (!e->name) {
    smtp__free(&s->mem, e);
    return SMTP_ERR_NOMEM;
  }
  memcpy(e->name, name, nl + 1);
  e->hash = name_hash(name);
  e->type = type;
  e->flags = flags;
  e->delay_ms = delay_ms;
  e->rdlen = (size_t)rl;
  if (rl) memcpy(e->rdata, rd, (size_t)rl);
  if (s->last) s->last->next = e;
  else s->rrs = e;
  s->last = e;
  return SMTP_OK;
}

int smtp_resolver_scripted_queries(const smtp_resolver *r, unsigned int type) {
  const scripted *s;
  if (!r || r->query != sc_query) return SMTP_ERR_INVALID_ARGUMENT;
  s = r->user_data;
  if (type == 0) return (int)s->total;
  return type < 64 ? (int)s->count[type] : 0;
}

#if !defined(SMTP_HAVE_CARES)
int smtp_resolver_cares_new(smtp_resolver *out, const char *server, int timeout_ms,
                            const smtp_mem *mem) {
  (void)server;
  (void)timeout_ms;
  (void)mem;
  if (out) memset(out, 0, sizeof *out);
  return SMTP_ERR_UNSUPPORTED;
}
#endif

#if !defined(SMTP_HAVE_UNBOUND)
int smtp_resolver_unbound_new(smtp_resolver *out, const char *server, const char *anchor_file,
                              int timeout_ms, const smtp_mem *mem) {
  (void)server;
  (void)anchor_file;
  (void)timeout_ms;
  (void)mem;
  if (out) memset(out, 0, sizeof *out);
  return SMTP_ERR_UNSUPPORTED;
}
#endif
