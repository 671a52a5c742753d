/* The server session's XCLIENT and XFORWARD attributes (Postfix's
 * XCLIENT_README and XFORWARD_README). server.c parses and answers the
 * commands; this file keeps what they said and answers the session's
 * accessors with it.
 *
 * XCLIENT "overrides one or more client-related session attributes" for
 * the rest of the connection: each attribute keeps its value until a later
 * XCLIENT gives it again. ADDR/PORT/DESTADDR/DESTPORT go into the session's
 * endpoints; NAME, PROTO and HELO name the client; LOGIN makes the session
 * authenticated as that user, as Postfix does (its SASL login name).
 *
 * XFORWARD "overrides one or more client-related logging attributes" for
 * the mail transaction that follows: they are kept apart and forgotten when
 * that transaction ends (with its end-of-data reply, whatever the outcome),
 * on RSET, HELO/EHLO, STARTTLS and XCLIENT, as Postfix's SMTP server forgets
 * them when it resets its mail state. Several XFORWARD commands add up
 * ("can be used to transmit client or message attributes incrementally").
 *
 * The block (about 2 KiB) is allocated when the application trusts the
 * session with a command the options enable
 * (smtp_server_session_allow_xclient()), so other sessions grow by one
 * pointer and no session allocates while it serves commands. */
#include <string.h>

#include <smtp/endpoint.h>
#include <smtp/xclient.h>

#include "hash.h"
#include "server_impl.h"

/* The longest value of each attribute the parser lets through (xclient.c):
 * NAME, HELO, LOGIN and IDENT 255; ADDR and DESTADDR "IPV6:" and the
 * longest IPv6 text (45); PORT 5 digits; PROTO 64 (XFORWARD); SOURCE
 * "REMOTE". The values of one command set sit in one buffer at these
 * offsets (1,200 octets of values, each NUL-terminated). */
static const uint16_t vcap[SMTP_XATTR_COUNT] = {255, 50, 5, SMTP_XFORWARD_PROTO_MAX, 255, 255, 50, 5, 6, 255};
#define XSET_BUF (255 + 50 + 5 + SMTP_XFORWARD_PROTO_MAX + 255 + 255 + 50 + 5 + 6 + 255 + SMTP_XATTR_COUNT)

struct xset {
  uint8_t state[SMTP_XATTR_COUNT]; /* SMTP_XVALUE_* */
  uint16_t len[SMTP_XATTR_COUNT];
  char buf[XSET_BUF];
};

static size_t voff(unsigned int a) {
  size_t o = 0;
  unsigned int i;
  for (i = 0; i < a; i++) o += (size_t)vcap[i] + 1;
  return o;
}

static char *val(struct xset *x, unsigned int a) { return x->buf + voff(a); }
static const char *cval(const struct xset *x, unsigned int a) { return x->buf + voff(a); }

struct smtp__srv_x {
  struct xset xc;     /* XCLIENT: the connection's */
  struct xset xf;     /* XFORWARD: the next (or current) transaction's */
  smtp__ep xf_client; /* XFORWARD's client endpoint, when xf_has_client */
  uint8_t xf_has_client;
};

int smtp__srv_x_prepare(smtp_server_session *s) {
  if (s->xs) return SMTP_OK;
  s->xs = smtp__calloc(&s->mem, 1, sizeof *s->xs);
  return s->xs ? SMTP_OK : SMTP_ERR_NOMEM;
}

void smtp__srv_x_free(smtp_server_session *s) {
  if (!s->xs) return;
  smtp__wipe(s->xs, sizeof *s->xs); /* a LOGIN name */
  smtp__free(&s->mem, s->xs);
  s->xs = NULL;
}

static void merge(struct xset *d, const smtp_xattrs *x) {
  unsigned int a;
  for (a = 0; a < SMTP_XATTR_COUNT; a++) {
    if (x->state[a] == SMTP_XVALUE_ABSENT) continue;
    d->state[a] = (uint8_t)x->state[a];
    d->len[a] = 0;
    if (x->state[a] == SMTP_XVALUE_SET) {
      size_t n = x->value[a].len; /* <= vcap[a]: checked by the parser */
      char *v = val(d, a);
      if (n > vcap[a]) n = vcap[a]; /* never; the slot is not overrun whatever happens */
      memcpy(v, x->value[a].ptr, n);
      v[n] = '\0';
      d->len[a] = (uint16_t)n;
    }
  }
}

static unsigned int port_of(const smtp_xattrs *x, unsigned int a) {
  unsigned int p = 0;
  size_t i;
  for (i = 0; i < x->value[a].len; i++) p = p * 10 + (unsigned int)(x->value[a].ptr[i] - '0');
  return p;
}

/* @p ep updated with address attribute @p aa and port attribute @p pa. */
static int update_ep(smtp_endpoint *ep, const smtp_xattrs *x, unsigned int aa, unsigned int pa) {
  if (x->state[aa] == SMTP_XVALUE_ABSENT && x->state[pa] == SMTP_XVALUE_ABSENT) return 0;
  if (x->state[aa] == SMTP_XVALUE_SET) {
    uint16_t port = ep->port;
    (void)smtp_endpoint_parse(ep, x->value[aa].ptr, x->value[aa].len, port); /* checked by the parser */
  } else if (x->state[aa] != SMTP_XVALUE_ABSENT) {
    memset(ep, 0, sizeof *ep); /* [UNAVAILABLE]: no address */
  }
  if (x->state[pa] == SMTP_XVALUE_SET) ep->port = (uint16_t)port_of(x, pa);
  else if (x->state[pa] != SMTP_XVALUE_ABSENT) ep->port = 0;
  return 1;
}

void smtp__srv_x_apply(smtp_server_session *s, unsigned int verb, const smtp_xattrs *x) {
  struct smtp__srv_x *xs = s->xs;
  smtp_endpoint ep;
  if (verb == SMTP_XFORWARD) {
    if (xs->xf_has_client) smtp__ep_get(&xs->xf_client, 1, 0, &ep);
    else smtp__ep_get(s->addrs, 3, SMTP_ADDR_CLIENT, &ep);
    if (update_ep(&ep, x, SMTP_XATTR_ADDR, SMTP_XATTR_PORT)) {
      ep.origin = SMTP_ORIGIN_XFORWARD;
      smtp__ep_set(&xs->xf_client, 1, 0, &ep);
      xs->xf_has_client = 1;
    }
    merge(&xs->xf, x);
    return;
  }
  /* XCLIENT: called after the session started over (server.c) */
  smtp__ep_get(s->addrs, 3, SMTP_ADDR_CLIENT, &ep);
  if (update_ep(&ep, x, SMTP_XATTR_ADDR, SMTP_XATTR_PORT)) {
    ep.origin = SMTP_ORIGIN_XCLIENT;
    smtp__ep_set(s->addrs, 3, SMTP_ADDR_CLIENT, &ep);
  }
  smtp__ep_get(s->addrs, 3, SMTP_ADDR_SERVER, &ep);
  if (update_ep(&ep, x, SMTP_XATTR_DESTADDR, SMTP_XATTR_DESTPORT)) {
    ep.origin = SMTP_ORIGIN_XCLIENT;
    smtp__ep_set(s->addrs, 3, SMTP_ADDR_SERVER, &ep);
  }
  merge(&xs->xc, x);
  /* LOGIN: authenticated as that SASL login name; [UNAVAILABLE]: not
   * authenticated (the restart forgot any earlier authentication) */
  if (xs->xc.state[SMTP_XATTR_LOGIN] == SMTP_XVALUE_SET) {
    s->authed = 1;
    if (s->user) smtp__srv_auth_set_identity(s, cval(&xs->xc, SMTP_XATTR_LOGIN), xs->xc.len[SMTP_XATTR_LOGIN]);
  }
}

void smtp__srv_x_txn_end(smtp_server_session *s) {
  struct smtp__srv_x *xs = s->xs;
  if (!xs) return;
  memset(xs->xf.state, 0, sizeof xs->xf.state);
  memset(&xs->xf_client, 0, sizeof xs->xf_client);
  xs->xf_has_client = 0;
}

int smtp__srv_x_addr(const smtp_server_session *s, unsigned int which, smtp_endpoint *out) {
  const struct smtp__srv_x *xs = s->xs;
  if (!xs || !xs->xf_has_client || !out) return 0;
  if (which == SMTP_ADDR_CLIENT) {
    smtp__ep_get(&xs->xf_client, 1, 0, out);
    return 1;
  }
  /* the client XFORWARD replaced is the session's peer, unless a PROXY
   * header or XCLIENT already recorded the transport's */
  if (which == SMTP_ADDR_PEER && s->addrs[SMTP_ADDR_PEER].family == SMTP_AF_NONE &&
      s->addrs[SMTP_ADDR_CLIENT].family != SMTP_AF_NONE) {
    smtp__ep_get(s->addrs, 3, SMTP_ADDR_CLIENT, out);
    return 1;
  }
  return 0;
}

/* 1 when XFORWARD or XCLIENT say what the HELO name is (*name NULL for
 * [UNAVAILABLE]), else 0. */
int smtp__srv_x_helo(const smtp_server_session *s, const char **name, size_t *len) {
  const struct smtp__srv_x *xs = s->xs;
  const struct xset *set;
  if (!xs) return 0;
  if (xs->xf.state[SMTP_XATTR_HELO] != SMTP_XVALUE_ABSENT) set = &xs->xf;
  else if (xs->xc.state[SMTP_XATTR_HELO] != SMTP_XVALUE_ABSENT) set = &xs->xc;
  else return 0;
  if (set->state[SMTP_XATTR_HELO] == SMTP_XVALUE_SET) {
    *name = cval(set, SMTP_XATTR_HELO);
    if (len) *len = set->len[SMTP_XATTR_HELO];
  } else {
    *name = NULL;
    if (len) *len = 0;
  }
  return 1;
}

const char *smtp__srv_x_login(const smtp_server_session *s, size_t *len) {
  const struct smtp__srv_x *xs = s->xs;
  if (!xs || xs->xc.state[SMTP_XATTR_LOGIN] != SMTP_XVALUE_SET) return NULL;
  if (len) *len = xs->xc.len[SMTP_XATTR_LOGIN];
  return cval(&xs->xc, SMTP_XATTR_LOGIN);
}

/* 1: the client spoke SMTP (HELO), 2: ESMTP, 0: not said. XFORWARD's PROTO
 * (other protocol names say nothing here) before XCLIENT's. */
int smtp__srv_x_proto(const smtp_server_session *s) {
  const struct smtp__srv_x *xs = s->xs;
  const struct xset *set = NULL;
  if (!xs) return 0;
  if (xs->xf.state[SMTP_XATTR_PROTO] == SMTP_XVALUE_SET) set = &xs->xf;
  else if (xs->xc.state[SMTP_XATTR_PROTO] == SMTP_XVALUE_SET) set = &xs->xc;
  if (!set) return 0;
  if (smtp__casecmp(cval(set, SMTP_XATTR_PROTO), set->len[SMTP_XATTR_PROTO], "SMTP", 4) == 0) return 1;
  if (smtp__casecmp(cval(set, SMTP_XATTR_PROTO), set->len[SMTP_XATTR_PROTO], "ESMTP", 5) == 0) return 2;
  return 0;
}

int smtp_server_session_xattrs(const smtp_server_session *s, unsigned int verb, smtp_xattrs *out) {
  const struct xset *set;
  unsigned int a;
  if (!s || !out || (verb != SMTP_XCLIENT && verb != SMTP_XFORWARD)) return SMTP_ERR_INVALID_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (!s->xs) return SMTP_OK;
  set = verb == SMTP_XCLIENT ? &s->xs->xc : &s->xs->xf;
  for (a = 0; a < SMTP_XATTR_COUNT; a++) {
    out->state[a] = set->state[a];
    if (set->state[a] == SMTP_XVALUE_SET) {
      out->value[a].ptr = cval(set, a);
      out->value[a].len = set->len[a];
    }
  }
  return SMTP_OK;
}
