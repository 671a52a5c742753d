/* Connection endpoints and trusted-network lists (endpoint.h). Pure
 * functions: the text forms go through inet_pton/inet_ntop, which do no
 * I/O. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <smtp/endpoint.h>

#include "internal.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int smtp_endpoint_from_sockaddr(smtp_endpoint *ep, const void *sa, size_t salen) {
  sa_family_t fam;
  if (!ep || !sa || salen < sizeof(sa_family_t)) return SMTP_ERR_INVALID_ARGUMENT;
  memset(ep, 0, sizeof *ep);
  memcpy(&fam, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof fam);
  if (fam == AF_INET) {
    struct sockaddr_in in;
    if (salen < sizeof in) return SMTP_ERR_INVALID_ARGUMENT;
    memcpy(&in, sa, sizeof in);
    ep->family = SMTP_AF_INET;
    ep->port = ntohs(in.sin_port);
    memcpy(ep->addr, &in.sin_addr, 4);
  } else if (fam == AF_INET6) {
    struct sockaddr_in6 in6;
    if (salen < sizeof in6) return SMTP_ERR_INVALID_ARGUMENT;
    memcpy(&in6, sa, sizeof in6);
    ep->port = ntohs(in6.sin6_port);
    if (memcmp(&in6.sin6_addr, v4mapped, 12) == 0) {
      ep->family = SMTP_AF_INET;
      memcpy(ep->addr, (const uint8_t *)&in6.sin6_addr + 12, 4);
    } else {
      ep->family = SMTP_AF_INET6;
      memcpy(ep->addr, &in6.sin6_addr, 16);
    }
  } else if (fam == AF_UNIX) {
    ep->family = SMTP_AF_UNIX;
  } else {
    return SMTP_ERR_UNSUPPORTED;
  }
  ep->origin = SMTP_ORIGIN_TRANSPORT;
  return SMTP_OK;
}

int smtp_endpoint_parse(smtp_endpoint *ep, const char *text, size_t len, unsigned int port) {
  char tmp[INET6_ADDRSTRLEN + 1];
  if (!ep || (!text && len) || port > 65535) return SMTP_ERR_INVALID_ARGUMENT;
  memset(ep, 0, sizeof *ep);
  if (len >= 5 && smtp__casecmp(text, 5, "IPv6:", 5) == 0) {
    text += 5;
    len -= 5;
    if (len == 0 || len >= sizeof tmp) return SMTP_ERR_SYNTAX;
    memcpy(tmp, text, len);
    tmp[len] = 0;
    if (memchr(text, 0, len) || inet_pton(AF_INET6, tmp, ep->addr) != 1) return SMTP_ERR_SYNTAX;
    ep->family = SMTP_AF_INET6;
  } else {
    if (len == 0 || len >= sizeof tmp || memchr(text, 0, len)) return SMTP_ERR_SYNTAX;
    memcpy(tmp, text, len);
    tmp[len] = 0;
    if (inet_pton(AF_INET, tmp, ep->addr) == 1) ep->family = SMTP_AF_INET;
    else if (inet_pton(AF_INET6, tmp, ep->addr) == 1) ep->family = SMTP_AF_INET6;
    else return SMTP_ERR_SYNTAX;
  }
  ep->port = (uint16_t)port;
  ep->origin = SMTP_ORIGIN_APPLICATION;
  return SMTP_OK;
}

int smtp_endpoint_format(const smtp_endpoint *ep, char *buf, size_t len) {
  char tmp[INET6_ADDRSTRLEN + 1];
  const char *t = tmp;
  size_t n;
  if (!ep || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (ep->family == SMTP_AF_INET) {
    if (!inet_ntop(AF_INET, ep->addr, tmp, sizeof tmp)) return SMTP_ERR_INVALID_ARGUMENT;
  } else if (ep->family == SMTP_AF_INET6) {
    if (!inet_ntop(AF_INET6, ep->addr, tmp, sizeof tmp)) return SMTP_ERR_INVALID_ARGUMENT;
  } else if (ep->family == SMTP_AF_UNIX) {
    t = "unix";
  } else {
    t = "unknown";
  }
  n = strlen(t);
  if (n >= len) return SMTP_ERR_BUFFER_TOO_SMALL;
  memcpy(buf, t, n + 1);
  return (int)n;
}

/* --- trusted networks --- */

struct cidr {
  uint8_t family; /* SMTP_AF_INET, SMTP_AF_INET6, SMTP_AF_UNIX */
  uint8_t prefix;
  uint8_t addr[16];
};

struct smtp_cidr_list {
  smtp_mem mem;
  struct cidr *v;
  unsigned int n, cap;
};

int smtp_cidr_list_new(smtp_cidr_list **out, const smtp_mem *mem) {
  smtp_cidr_list *l;
  if (!out) return SMTP_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!mem) mem = smtp_mem_default();
  l = smtp__calloc(mem, 1, sizeof *l);
  if (!l) return SMTP_ERR_NOMEM;
  l->mem = *mem;
  *out = l;
  return SMTP_OK;
}

void smtp_cidr_list_del(smtp_cidr_list *l) {
  smtp_mem mem;
  if (!l) return;
  mem = l->mem;
  smtp__free(&mem, l->v);
  smtp__free(&mem, l);
}

static void mask_bits(uint8_t *a, unsigned int nbytes, unsigned int prefix) {
  unsigned int i;
  for (i = 0; i < nbytes; i++) {
    unsigned int bits = prefix > i * 8 ? prefix - i * 8 : 0;
    if (bits >= 8) continue;
    a[i] = (uint8_t)(a[i] & (uint8_t)(0xffu << (8 - bits)));
  }
}

int smtp_cidr_list_add(smtp_cidr_list *l, const char *cidr) {
  struct cidr c;
  smtp_endpoint ep;
  const char *slash;
  size_t alen;
  unsigned int prefix, max;
  if (!l || !cidr) return SMTP_ERR_INVALID_ARGUMENT;
  memset(&c, 0, sizeof c);
  if (strcmp(cidr, "unix") == 0) {
    c.family = SMTP_AF_UNIX;
  } else {
    slash = strchr(cidr, '/');
    alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (smtp_endpoint_parse(&ep, cidr, alen, 0) != 0) return SMTP_ERR_SYNTAX;
    max = ep.family == SMTP_AF_INET ? 32 : 128;
    prefix = max;
    if (slash) {
      const char *p = slash + 1;
      if (!smtp__is_digit((unsigned char)*p) || (p[0] == '0' && p[1])) return SMTP_ERR_SYNTAX;
      prefix = 0;
      while (smtp__is_digit((unsigned char)*p)) {
        prefix = prefix * 10 + (unsigned int)(*p - '0');
        if (prefix > max) return SMTP_ERR_SYNTAX;
        p++;
      }
      if (*p) return SMTP_ERR_SYNTAX;
    }
    c.family = (uint8_t)ep.family;
    c.prefix = (uint8_t)prefix;
    memcpy(c.addr, ep.addr, 16);
    mask_bits(c.addr, ep.family == SMTP_AF_INET ? 4 : 16, prefix);
  }
  if (l->n == l->cap) {
    unsigned int ncap = l->cap ? l->cap * 2 : 4;
    struct cidr *nv = smtp__realloc(&l->mem, l->v, (size_t)ncap * sizeof *nv);
    if (!nv) return SMTP_ERR_NOMEM;
    l->v = nv;
    l->cap = ncap;
  }
  l->v[l->n++] = c;
  return SMTP_OK;
}

int smtp_cidr_list_match(const smtp_cidr_list *l, const smtp_endpoint *ep) {
  uint8_t a[16];
  unsigned int i, fam;
  if (!l || !ep) return 0;
  fam = ep->family;
  memcpy(a, ep->addr, 16);
  if (fam == SMTP_AF_INET6 && memcmp(a, v4mapped, 12) == 0) {
    fam = SMTP_AF_INET;
    memmove(a, a + 12, 4);
    memset(a + 4, 0, 12);
  }
  for (i = 0; i < l->n; i++) {
    const struct cidr *c = &l->v[i];
    uint8_t m[16];
    if (c->family != fam) continue;
    if (fam == SMTP_AF_UNIX) return 1;
    memcpy(m, a, 16);
    mask_bits(m, fam == SMTP_AF_INET ? 4 : 16, c->prefix);
    if (memcmp(m, c->addr, fam == SMTP_AF_INET ? 4 : 16) == 0) return 1;
  }
  return 0;
}

size_t smtp_cidr_list_count(const smtp_cidr_list *l) { return l ? l->n : 0; }

/* --- the sessions' compact copies --- */

int smtp__ep_set(smtp__ep *slots, unsigned int n, unsigned int which, const smtp_endpoint *ep) {
  smtp__ep *d;
  if (which >= n) return SMTP_ERR_INVALID_ARGUMENT;
  if (ep && ep->family != SMTP_AF_NONE && ep->family != SMTP_AF_UNIX &&
      ep->family != SMTP_AF_INET && ep->family != SMTP_AF_INET6)
    return SMTP_ERR_INVALID_ARGUMENT;
  d = &slots[which];
  if (which == SMTP_ADDR_CLIENT && ep && n > SMTP_ADDR_PEER && ep->origin >= SMTP_ORIGIN_PROXY &&
      d->origin < SMTP_ORIGIN_PROXY && d->family != SMTP_AF_NONE &&
      slots[SMTP_ADDR_PEER].family == SMTP_AF_NONE)
    slots[SMTP_ADDR_PEER] = *d;
  memset(d, 0, sizeof *d);
  if (!ep) return SMTP_OK;
  d->family = (uint8_t)ep->family;
  d->origin = (uint8_t)(ep->origin > 255 ? SMTP_ORIGIN_APPLICATION : ep->origin);
  d->port = ep->port;
  if (ep->family == SMTP_AF_INET) memcpy(d->addr, ep->addr, 4);
  else if (ep->family == SMTP_AF_INET6) memcpy(d->addr, ep->addr, 16);
  return SMTP_OK;
}

int smtp__ep_get(const smtp__ep *slots, unsigned int n, unsigned int which, smtp_endpoint *out) {
  if (!out || which >= n) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  out->family = slots[which].family;
  out->origin = slots[which].origin;
  out->port = slots[which].port;
  memcpy(out->addr, slots[which].addr, 16);
  return SMTP_OK;
}
