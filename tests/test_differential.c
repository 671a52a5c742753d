/* Differential checks where the client and the server meet.
 *
 * 1. What the client session emits, the server session accepts unchanged:
 *    a client and a server session talk in memory over many generated
 *    sessions (seeded): random mailboxes (dot-atoms with every atext
 *    character, quoted local parts with quoted-pairs, address literals of
 *    every form, UTF-8 with SMTPUTF8, the null path, Postmaster), DSN
 *    parameters (NOTIFY, ORCPT, RET, ENVID with characters xtext must
 *    encode), dot-heavy bodies with bare line ends and 8-bit octets, BINARYMIME,
 *    BDAT or DATA, pipelining on or off, memory / pushed / pulled bodies,
 *    several transactions per session, whole / byte / random splits. The
 *    server's callbacks must see exactly what the client was given
 *    (RFC 5321 4.1.2, 4.5.2; RFC 3461 4; RFC 6531 3; RFC 3030 2), and the
 *    capabilities the client read must be what the server offered.
 * 2. AUTH PLAIN and LOGIN with random credentials: the server sees the
 *    client's identities and password byte for byte (RFC 4616, RFC 4954).
 * 3. What the server side formats, the client-side parsers read back:
 *    smtp_reply_format() -> smtp_reply_parser (code, enhanced code, every
 *    line; RFC 5321 4.2, RFC 2034), smtp_ehlo_reply_build() ->
 *    smtp_capabilities_parse() (flags, SIZE, AUTH, LIMITS, extra lines;
 *    RFC 5321 4.1.1.1, RFC 1870, RFC 4954, RFC 9422).
 * 4. Every extension parameter (MT-PRIORITY, BY, HOLDFOR/HOLDUNTIL, SOLICIT,
 *    MTRK, SUBMITTER, RRVS) and an unknown one, set on the client, reaches
 *    the server's callbacks with the same values. */
#include "hardening_harness.h"

#include <smtp/address.h>
#include <smtp/ext.h>

#ifndef DIFF_SESSIONS
#define DIFF_SESSIONS 400
#endif

/* ------------------------------------------------------------------------ */
/* Generators.                                                               */

static const char atext[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                            "!#$%&'*+-/=?^_`{|}~";

static void gen_atom(uint32_t *r, hh_buf *b, size_t maxlen) {
  size_t n = 1 + hh_below(r, maxlen);
  for (size_t i = 0; i < n; i++) hh_buf_add(b, &atext[hh_below(r, sizeof atext - 1)], 1);
}

static const char *const utf8_bits[] = {"\xc3\xa9", "\xc3\xbc", "\xe6\x97\xa5\xe6\x9c\xac",
                                        "\xd0\xb4", "\xf0\x9f\x93\xa7", "\xce\xb1"};

static void gen_local(uint32_t *r, hh_buf *b, int utf8) {
  switch (hh_below(r, utf8 ? 5 : 4)) {
  case 0:
  case 1: { /* dot-atom */
    size_t atoms = 1 + hh_below(r, 3);
    for (size_t i = 0; i < atoms; i++) {
      if (i) hh_buf_add(b, ".", 1);
      gen_atom(r, b, 10);
    }
    break;
  }
  case 2:
  case 3: { /* quoted string: qtextSMTP and quoted-pairs (RFC 5321 4.1.2); never
              * empty ("" is refused by default: Erratum 5414, RFC 5321bis 4.1.2) */
    size_t n = 1 + hh_below(r, 13);
    hh_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
      char c = (char)(32 + hh_below(r, 95));
      if (c == '"' || c == '\\' || hh_below(r, 8) == 0) {
        hh_buf_add(b, "\\", 1);
        if (c != '"' && c != '\\') c = hh_below(r, 2) ? '"' : '\\';
      }
      hh_buf_add(b, &c, 1);
    }
    hh_buf_add(b, "\"", 1);
    break;
  }
  default: /* UTF-8 atoms (RFC 6531 3.3) */
    gen_atom(r, b, 4);
    hh_buf_str(b, utf8_bits[hh_below(r, sizeof utf8_bits / sizeof *utf8_bits)]);
    gen_atom(r, b, 4);
    break;
  }
}

static void gen_domain(uint32_t *r, hh_buf *b, int utf8) {
  switch (hh_below(r, 10)) {
  case 0: hh_buf_fmt(b, "[%u.%u.%u.%u]", (unsigned)hh_below(r, 256), (unsigned)hh_below(r, 256),
                     (unsigned)hh_below(r, 256), (unsigned)hh_below(r, 256)); return;
  case 1: hh_buf_fmt(b, "[IPv6:2001:db8::%x]", (unsigned)hh_below(r, 65536)); return;
  case 2:
    hh_buf_str(b, "[IPv6:");
    for (int i = 0; i < 8; i++) hh_buf_fmt(b, i ? ":%x" : "%x", (unsigned)hh_below(r, 65536));
    hh_buf_str(b, "]");
    return;
  case 3: hh_buf_fmt(b, "[IPv6:::ffff:192.0.2.%u]", (unsigned)hh_below(r, 256)); return;
  case 4: hh_buf_fmt(b, "[IPv6:fe80::%x:%x:1.2.3.%u]", (unsigned)hh_below(r, 65536),
                     (unsigned)hh_below(r, 65536), (unsigned)hh_below(r, 256)); return;
  case 5: hh_buf_fmt(b, "[x-tag%u:v%u]", (unsigned)hh_below(r, 10), (unsigned)hh_below(r, 1000)); return;
  default: {
    size_t labels = 1 + hh_below(r, 3);
    for (size_t i = 0; i < labels; i++) {
      size_t n = 1 + hh_below(r, 12);
      for (size_t k = 0; k < n; k++) {
        static const char ld[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        char c = ld[hh_below(r, sizeof ld - 1)];
        if (k > 0 && k + 1 < n && hh_below(r, 6) == 0) c = '-';
        hh_buf_add(b, &c, 1);
      }
      if (utf8 && hh_below(r, 3) == 0) hh_buf_str(b, utf8_bits[hh_below(r, 2)]);
      hh_buf_add(b, ".", 1);
    }
    hh_buf_str(b, hh_below(r, 2) ? "example" : "test");
  }
  }
}

static void gen_mailbox(uint32_t *r, hh_buf *b, int utf8) {
  gen_local(r, b, utf8);
  hh_buf_add(b, "@", 1);
  gen_domain(r, b, utf8);
}

static int is_utf8(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80) return 1;
  return 0;
}

/* A body that stresses dot-stuffing and line ends. @p bare: bare CR / LF
 * allowed; @p eight: 8-bit octets allowed; @p binary: anything but a NUL-free
 * constraint (BINARYMIME). */
/* @p sparse: line-start dots only on about one line in 200, so that runs
 * of several KiB between them take the client's zero-copy path. */
static void gen_body(uint32_t *r, hh_buf *b, int bare, int eight, int binary, size_t maxlen,
                     int sparse) {
  size_t target = hh_below(r, maxlen + 1);
  while (b->len < target) {
    size_t n;
    switch (sparse && hh_below(r, 200) ? 7 : hh_below(r, 8)) {
    case 0: hh_buf_str(b, "."); break;
    case 1: hh_buf_str(b, ".."); break;
    case 2: hh_buf_str(b, ".x"); break;
    default: break;
    }
    n = hh_below(r, hh_below(r, 10) == 0 ? 990 : 70);
    for (size_t i = 0; i < n; i++) {
      unsigned char c;
      if (binary) c = (unsigned char)hh_below(r, 256);
      else if (eight && hh_below(r, 20) == 0) c = (unsigned char)(0x80 + hh_below(r, 128));
      else c = (unsigned char)(32 + hh_below(r, 95));
      if (!binary && c == '\r') c = 'r';
      hh_buf_add(b, &c, 1);
    }
    if (bare && hh_below(r, 5) == 0) hh_buf_str(b, hh_below(r, 2) ? "\n" : "\r");
    else hh_buf_str(b, "\r\n");
  }
  /* sometimes no final line end */
  if (b->len >= 2 && hh_below(r, 4) == 0) b->len -= hh_below(r, 2) ? 1 : 2;
  if (b->p) b->p[b->len] = '\0';
}

static void gen_printable(uint32_t *r, hh_buf *b, size_t minlen, size_t maxlen) {
  size_t n = minlen + hh_below(r, maxlen - minlen + 1);
  for (size_t i = 0; i < n; i++) {
    /* xtext-heavy: '+' and '=' must be encoded (RFC 3461 4) */
    char c = hh_below(r, 5) == 0 ? (hh_below(r, 2) ? '+' : '=') : (char)(32 + hh_below(r, 95));
    hh_buf_add(b, &c, 1);
  }
}

/* ------------------------------------------------------------------------ */
/* 1. Client -> server transactions.                                          */

typedef struct gen_txn {
  hh_cli_txn spec;
  hh_buf from, rcpt[8], orcpt[8], body, envid;
  int utf8;
  int eight;
} gen_txn;

typedef struct gen_session {
  hh_srv_cfg scfg;
  hh_cli_cfg ccfg;
  gen_txn t[4];
  int ntxn;
  int mode;
  uint32_t seed;
  int dsn, chunking, binary;
} gen_session;

static void gen_free(gen_session *g) {
  for (int i = 0; i < 4; i++) {
    hh_buf_free(&g->t[i].from);
    hh_buf_free(&g->t[i].body);
    hh_buf_free(&g->t[i].envid);
    for (int k = 0; k < 8; k++) {
      hh_buf_free(&g->t[i].rcpt[k]);
      hh_buf_free(&g->t[i].orcpt[k]);
    }
  }
}

static void gen(gen_session *g, uint32_t seed) {
  uint32_t r = seed * 2654435761u + 1;
  unsigned ext = SMTP_EXT_ENHANCEDSTATUSCODES;
  memset(g, 0, sizeof *g);
  g->seed = seed;
  if (hh_below(&r, 4)) ext |= SMTP_EXT_PIPELINING;
  if (hh_below(&r, 2)) ext |= SMTP_EXT_SIZE;
  if (hh_below(&r, 3)) ext |= SMTP_EXT_8BITMIME;
  if (hh_below(&r, 2)) ext |= SMTP_EXT_CHUNKING;
  if ((ext & SMTP_EXT_CHUNKING) && hh_below(&r, 2)) ext |= SMTP_EXT_BINARYMIME;
  if (hh_below(&r, 2)) ext |= SMTP_EXT_SMTPUTF8;
  if (hh_below(&r, 2)) ext |= SMTP_EXT_DSN;
  if (hh_below(&r, 4) == 0) ext |= SMTP_EXT_LIMITS;
  /* with LIMITS, a small RCPTMAX makes the client split (RFC 9422 4.2) */
  if ((ext & SMTP_EXT_LIMITS) && hh_below(&r, 2)) g->scfg.max_rcpt = 1 + (unsigned)hh_below(&r, 3);
  g->scfg.extensions = ext;
  g->dsn = (ext & SMTP_EXT_DSN) != 0;
  g->ccfg.starttls = SMTP_CLIENT_STARTTLS_OFF;
  if (hh_below(&r, 4) == 0) g->ccfg.disabled |= SMTP_EXT_PIPELINING;
  if (hh_below(&r, 4) == 0) g->ccfg.disabled |= SMTP_EXT_CHUNKING;
  g->chunking = (ext & SMTP_EXT_CHUNKING) && !(g->ccfg.disabled & SMTP_EXT_CHUNKING);
  g->binary = g->chunking && (ext & SMTP_EXT_BINARYMIME);
  g->ntxn = 1 + (int)hh_below(&r, 4);
  g->mode = hh_below(&r, 8) == 0 ? HH_BYTES : hh_below(&r, 4) == 0 ? HH_WHOLE : HH_RANDOM;
  for (int i = 0; i < g->ntxn; i++) {
    gen_txn *t = &g->t[i];
    int utf8ok = (ext & SMTP_EXT_SMTPUTF8) != 0;
    int nr = 1 + (int)hh_below(&r, 8);
    int sparse = hh_below(&r, 3) == 0;
    size_t maxbody = g->mode == HH_BYTES ? 600 : (sparse || hh_below(&r, 10) == 0) ? 70000 : 3000;
    int src = (int)hh_below(&r, 3);
    if (hh_below(&r, 6) == 0) {
      hh_buf_str(&t->from, ""); /* the null reverse-path */
    } else {
      gen_mailbox(&r, &t->from, utf8ok && hh_below(&r, 3) == 0);
    }
    for (int k = 0; k < nr; k++) {
      if (hh_below(&r, 10) == 0) hh_buf_str(&t->rcpt[k], hh_below(&r, 2) ? "Postmaster" : "postmaster");
      else gen_mailbox(&r, &t->rcpt[k], utf8ok && hh_below(&r, 3) == 0);
      t->spec.rcpt[k] = hh_buf_cstr(&t->rcpt[k]);
      if (hh_below(&r, 2)) {
        static const unsigned nv[] = {SMTP_DSN_NOTIFY_NEVER, SMTP_DSN_NOTIFY_SUCCESS,
                                      SMTP_DSN_NOTIFY_FAILURE | SMTP_DSN_NOTIFY_DELAY,
                                      SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_FAILURE |
                                          SMTP_DSN_NOTIFY_DELAY};
        t->spec.notify[k] = nv[hh_below(&r, 4)];
      }
      if (hh_below(&r, 3) == 0) {
        gen_printable(&r, &t->orcpt[k], 1, 60);
        t->spec.orcpt[k] = hh_buf_cstr(&t->orcpt[k]);
      }
      if (is_utf8(t->spec.rcpt[k])) t->utf8 = 1;
    }
    if (is_utf8(hh_buf_cstr(&t->from))) t->utf8 = 1;
    t->spec.nrcpt = nr;
    t->spec.from = hh_buf_cstr(&t->from);
    if (hh_below(&r, 3) == 0) {
      t->spec.ret = (int)hh_below(&r, 3);
      gen_printable(&r, &t->envid, 1, 100);
      t->spec.envid = hh_buf_cstr(&t->envid);
    }
    if (g->binary && hh_below(&r, 3) == 0) {
      t->spec.body_type = SMTP_BODY_BINARYMIME;
      gen_body(&r, &t->body, 1, 1, 1, maxbody, sparse);
    } else {
      int bare = (int)hh_below(&r, 2);
      t->eight = (ext & SMTP_EXT_8BITMIME) && hh_below(&r, 3) == 0;
      gen_body(&r, &t->body, bare && !sparse, t->eight, 0, maxbody, sparse);
      /* what the body really holds decides BODY= (RFC 6152 3) */
      t->eight = 0;
      for (size_t k = 0; k < t->body.len; k++)
        if ((unsigned char)t->body.p[k] >= 0x80) t->eight = 1;
    }
    t->spec.body = t->body.p ? t->body.p : "";
    t->spec.body_len = t->body.len;
    t->spec.body_source = src == 0 ? 0 : src == 1 ? SMTP_CLIENT_BODY_PUSH : SMTP_CLIENT_BODY_READ;
  }
}

/* The flags the server offers for this configuration (no TLS, no AUTH). */
static unsigned offered(unsigned ext) {
  unsigned f = ext;
  if (!(f & SMTP_EXT_CHUNKING)) f &= ~(unsigned)SMTP_EXT_BINARYMIME;
  f &= ~(unsigned)(SMTP_EXT_REQUIRETLS | SMTP_EXT_STARTTLS | SMTP_EXT_AUTH);
  return f;
}

/* Recipients per server transaction: the client splits a transaction that
 * has more recipients than LIMITS RCPTMAX (RFC 9422 4.2). */
static int parts_of(const gen_session *g, int i, int *per) {
  int n = g->t[i].spec.nrcpt;
  *per = n;
  if ((g->scfg.extensions & SMTP_EXT_LIMITS) && g->scfg.max_rcpt && (int)g->scfg.max_rcpt < n) {
    *per = (int)g->scfg.max_rcpt;
    return (n + *per - 1) / *per;
  }
  return 1;
}

static void check_session(gen_session *g, hh_pair *p) {
  char caps[64];
  int want_srv = 0, want_end = 0, j = 0;
  for (int i = 0; i < g->ntxn; i++) {
    int per;
    want_srv += parts_of(g, i, &per);
    want_end += g->scfg.lmtp ? g->t[i].spec.nrcpt : parts_of(g, i, &per); /* RFC 2033 4.2 */
  }
  HH_CHECK(p->cli.nclosed == 1 && p->cli.closed_error == 0);
  if (p->cli.ndone != g->ntxn || p->srv.ntxn != want_srv)
    print_error("client log:\n%s\nserver log:\n%s\n", hh_buf_cstr(&p->cli.log), hh_buf_cstr(&p->srv.log));
  HH_CHECK(p->cli.ndone == g->ntxn);
  HH_CHECK(p->srv.ntxn == want_srv);
  HH_CHECK(p->srv.n_end == want_end);
  HH_CHECK(p->srv.recv_error == 0 && p->cli.recv_error == 0);
  /* the capabilities the client read are the ones the server offered */
  snprintf(caps, sizeof caps, "CAPS %x\n", offered(g->scfg.extensions));
  HH_CHECK(strstr(hh_buf_cstr(&p->cli.log), caps) != NULL);
  for (int i = 0; i < g->ntxn; i++) {
    gen_txn *t = &g->t[i];
    int per, parts = parts_of(g, i, &per);
    HH_CHECK(p->cli.done_status[i] == SMTP_OK);
    for (int part = 0; part < parts && j < p->srv.ntxn; part++, j++) {
      hh_srv_txn *st = &p->srv.txn[j];
      hh_buf want = {0};
      /* MAIL: the exact reverse-path (RFC 5321 4.1.2) */
      HH_CHECK(st->from.len == t->from.len &&
               memcmp(hh_buf_cstr(&st->from), hh_buf_cstr(&t->from), t->from.len) == 0);
      /* RCPT: exact forward-paths, NOTIFY, ORCPT (RFC 3461 4.1, 4.2), in order */
      for (int k = part * per; k < t->spec.nrcpt && k < (part + 1) * per; k++) {
        const char *a = t->spec.rcpt[k];
        if (strcmp(a, "Postmaster") == 0 || strcmp(a, "postmaster") == 0) hh_buf_str(&want, "Postmaster");
        else hh_buf_escaped(&want, a, strlen(a));
        hh_buf_fmt(&want, "|%u|", g->dsn ? t->spec.notify[k] : 0u);
        if (g->dsn && t->spec.orcpt[k]) {
          hh_buf_str(&want, "rfc822;");
          hh_buf_escaped(&want, t->spec.orcpt[k], strlen(t->spec.orcpt[k]));
        }
        hh_buf_str(&want, "\n");
      }
      HH_CHECK_STR(hh_buf_cstr(&st->rcpts), hh_buf_cstr(&want));
      hh_buf_free(&want);
      /* ENVID, RET (RFC 3461 4.3, 4.4), SMTPUTF8 (RFC 6531 3.4) */
      if (g->dsn && t->spec.envid) {
        HH_CHECK(st->has_envid);
        HH_CHECK_STR(hh_buf_cstr(&st->envid), t->spec.envid);
      } else {
        HH_CHECK(!st->has_envid);
      }
      HH_CHECK(st->ret == (g->dsn ? t->spec.ret : 0));
      HH_CHECK(st->utf8 == t->utf8);
      if (t->spec.body_type == SMTP_BODY_BINARYMIME) HH_CHECK(st->body_param == SMTP_BODY_BINARYMIME);
      else if (t->eight) HH_CHECK(st->body_param == SMTP_BODY_8BITMIME);
      /* SIZE (RFC 1870 3, 4): the octets as sent when offered: the memory
       * body itself for BINARYMIME, else with line ends normalised to CRLF */
      if ((g->scfg.extensions & SMTP_EXT_SIZE) && t->spec.body_source == 0) {
        hh_buf sized = {0};
        size_t want_size = t->spec.body_len;
        if (t->spec.body_type != SMTP_BODY_BINARYMIME) {
          hh_normalise(t->spec.body, t->spec.body_len, &sized);
          want_size = sized.len;
        }
        HH_CHECK(st->has_size && st->mail_size == want_size);
        hh_buf_free(&sized);
      }
      /* the message: BINARYMIME unchanged, else the normalised text */
      if (t->spec.body_type == SMTP_BODY_BINARYMIME) {
        HH_CHECK(st->data.len == t->body.len &&
                 memcmp(hh_buf_cstr(&st->data), hh_buf_cstr(&t->body), t->body.len) == 0);
      } else {
        hh_buf norm = {0};
        hh_normalise(t->spec.body, t->spec.body_len, &norm);
        if (st->data.len != norm.len || memcmp(hh_buf_cstr(&st->data), hh_buf_cstr(&norm), norm.len) != 0)
          print_error("message %d part %d differs: got %zu octets, want %zu\n", i, part, st->data.len, norm.len);
        HH_CHECK(st->data.len == norm.len && memcmp(hh_buf_cstr(&st->data), hh_buf_cstr(&norm), norm.len) == 0);
        hh_buf_free(&norm);
      }
      HH_CHECK(st->bdat == g->chunking);
      HH_CHECK(st->refused == 0);
    }
  }
}

static struct {
  unsigned long split, txns, rcpts, octets, bdat, pipelining, utf8, dsn, binary, quoted, literals, nullpath;
} stats;

static void diff_one(uint32_t seed) {
  gen_session g;
  hh_pair p;
  hh_cli_txn specs[4];
  gen(&g, seed);
  for (int i = 0; i < g.ntxn; i++) specs[i] = g.t[i].spec;
  snprintf(hh_ctx, sizeof hh_ctx, "generated session %u (%s, ext %x, disabled %x, %d txn)", seed,
           hh_mode_name(g.mode), g.scfg.extensions, g.ccfg.disabled, g.ntxn);
  memset(&p, 0, sizeof p);
  hh_srv_new(&p.srv, &g.scfg, 0);
  {
    int rc = hh_cli_new(&p.cli, &g.ccfg, specs, g.ntxn, 0);
    if (rc != SMTP_OK) {
      for (int i = 0; i < g.ntxn; i++) {
        smtp_mailbox mb;
        if (g.t[i].from.len &&
            smtp_parse_mailbox(g.t[i].from.p, g.t[i].from.len, SMTP_PARSE_UTF8, &mb) != SMTP_OK)
          print_error("from: %s\n", g.t[i].from.p);
        for (int k = 0; k < g.t[i].spec.nrcpt; k++) {
          int e = smtp_parse_mailbox(g.t[i].spec.rcpt[k], strlen(g.t[i].spec.rcpt[k]), SMTP_PARSE_UTF8, &mb);
          if (e != SMTP_OK) print_error("rcpt (%d): %s\n", e, g.t[i].spec.rcpt[k]);
        }
      }
    }
    HH_CHECK(rc == SMTP_OK);
  }
  p.mode = p.srv.mode = p.cli.mode = g.mode;
  p.rng = seed;
  p.srv.rng = seed ^ 0x1234567u;
  p.cli.rng = seed ^ 0x7654321u;
  hh_pair_run(&p);
  check_session(&g, &p);
  stats.txns += (unsigned long)g.ntxn;
  for (int i = 0; i < g.ntxn; i++) {
    int per;
    stats.split += parts_of(&g, i, &per) > 1;
  }
  stats.bdat += g.chunking ? (unsigned long)g.ntxn : 0;
  stats.pipelining += ((g.scfg.extensions & SMTP_EXT_PIPELINING) && !(g.ccfg.disabled & SMTP_EXT_PIPELINING));
  stats.dsn += (unsigned long)g.dsn;
  for (int i = 0; i < g.ntxn; i++) {
    stats.rcpts += (unsigned long)g.t[i].spec.nrcpt;
    stats.octets += g.t[i].body.len;
    stats.utf8 += (unsigned long)g.t[i].utf8;
    stats.binary += g.t[i].spec.body_type == SMTP_BODY_BINARYMIME;
    stats.nullpath += g.t[i].from.len == 0;
    for (int k = 0; k < g.t[i].spec.nrcpt; k++) {
      stats.quoted += g.t[i].spec.rcpt[k][0] == '"';
      stats.literals += strstr(g.t[i].spec.rcpt[k], "@[") != NULL;
    }
  }
  hh_pair_free(&p);
  gen_free(&g);
}

static void diff_client_to_server(void **state) {
  (void)state;
  memset(&stats, 0, sizeof stats);
  for (uint32_t seed = 1; seed <= DIFF_SESSIONS; seed++) diff_one(seed);
  print_message("%d sessions (%lu with pipelining, %lu with DSN): %lu transactions (%lu split by LIMITS, %lu BDAT, %lu "
                "BINARYMIME, %lu SMTPUTF8, %lu null reverse-paths), %lu recipients (%lu quoted, %lu "
                "address literals), %lu body octets\n",
                DIFF_SESSIONS, stats.pipelining, stats.dsn, stats.txns, stats.split, stats.bdat, stats.binary,
                stats.utf8, stats.nullpath, stats.rcpts, stats.quoted, stats.literals, stats.octets);
}

/* LMTP (RFC 2033): the same transactions over LHLO, one reply per recipient. */
static void diff_lmtp(void **state) {
  (void)state;
  for (uint32_t seed = 1; seed <= DIFF_SESSIONS / 8; seed++) {
    gen_session g;
    hh_pair p;
    hh_cli_txn specs[4];
    gen(&g, seed + 100000);
    g.scfg.lmtp = 1;
    g.ccfg.lmtp = 1;
    for (int i = 0; i < g.ntxn; i++) specs[i] = g.t[i].spec;
    snprintf(hh_ctx, sizeof hh_ctx, "generated LMTP session %u (%s, ext %x)", seed, hh_mode_name(g.mode),
             g.scfg.extensions);
    memset(&p, 0, sizeof p);
    hh_srv_new(&p.srv, &g.scfg, 0);
    assert_int_equal(hh_cli_new(&p.cli, &g.ccfg, specs, g.ntxn, 0), SMTP_OK);
    p.mode = p.srv.mode = p.cli.mode = g.mode;
    p.rng = p.srv.rng = p.cli.rng = seed;
    hh_pair_run(&p);
    /* the same expectations as SMTP; LMTP changes only the replies */
    check_session(&g, &p);
    hh_pair_free(&p);
    gen_free(&g);
  }
}

/* ------------------------------------------------------------------------ */
/* 2. AUTH credentials.                                                      */

static hh_buf want_authzid, want_user, want_pass;
static int auth_calls;

static int diff_auth_hook(smtp_server_session *s, const smtp_server_auth *a, void *h) {
  (void)s;
  (void)h;
  auth_calls++;
  HH_CHECK(a->authcid.len == want_user.len && memcmp(a->authcid.ptr, want_user.p, want_user.len) == 0);
  HH_CHECK(a->password.len == want_pass.len && memcmp(a->password.ptr, want_pass.p, want_pass.len) == 0);
  if (a->mech == SMTP_SASL_PLAIN)
    HH_CHECK(a->authzid.len == want_authzid.len &&
             (want_authzid.len == 0 || memcmp(a->authzid.ptr, want_authzid.p, want_authzid.len) == 0));
  return 0;
}

static void gen_cred(uint32_t *r, hh_buf *b, size_t maxlen) {
  size_t n = 1 + hh_below(r, maxlen);
  for (size_t i = 0; i < n; i++) {
    if (hh_below(r, 10) == 0) hh_buf_str(b, utf8_bits[hh_below(r, sizeof utf8_bits / sizeof *utf8_bits)]);
    else {
      char c = (char)(32 + hh_below(r, 95));
      hh_buf_add(b, &c, 1);
    }
  }
}

static void diff_auth(void **state) {
  (void)state;
  for (uint32_t seed = 1; seed <= 200; seed++) {
    uint32_t r = seed * 40503u + 7;
    hh_pair p;
    hh_srv_cfg scfg;
    hh_cli_cfg ccfg;
    hh_cli_txn t;
    unsigned mech = hh_below(&r, 2) ? SMTP_SASL_PLAIN : SMTP_SASL_LOGIN;
    hh_buf_free(&want_authzid);
    hh_buf_free(&want_user);
    hh_buf_free(&want_pass);
    gen_cred(&r, &want_user, 40);
    gen_cred(&r, &want_pass, 60);
    if (mech == SMTP_SASL_PLAIN && hh_below(&r, 3) == 0) gen_cred(&r, &want_authzid, 30);
    hh_buf_add(&want_authzid, "", 0);
    memset(&scfg, 0, sizeof scfg);
    scfg.auth = 1;
    scfg.plaintext_auth = 1;
    scfg.authzid_any = 1;
    scfg.auth_hook = diff_auth_hook;
    memset(&ccfg, 0, sizeof ccfg);
    ccfg.starttls = SMTP_CLIENT_STARTTLS_OFF;
    ccfg.plaintext_auth = 1;
    ccfg.user = want_user.p;
    ccfg.pass = want_pass.p;
    ccfg.authzid = want_authzid.len ? want_authzid.p : NULL;
    ccfg.auth_mech = mech;
    memset(&t, 0, sizeof t);
    t.from = "alice@sender.example";
    t.rcpt[0] = "bob@rcpt.example";
    t.nrcpt = 1;
    t.body = "x\r\n";
    t.body_len = 3;
    snprintf(hh_ctx, sizeof hh_ctx, "AUTH %s session %u", mech == SMTP_SASL_PLAIN ? "PLAIN" : "LOGIN", seed);
    auth_calls = 0;
    memset(&p, 0, sizeof p);
    hh_srv_new(&p.srv, &scfg, 0);
    assert_int_equal(hh_cli_new(&p.cli, &ccfg, &t, 1, 0), SMTP_OK);
    p.mode = p.srv.mode = p.cli.mode = (int)hh_below(&r, 3);
    p.rng = p.srv.rng = p.cli.rng = seed;
    hh_pair_run(&p);
    HH_CHECK(auth_calls == 1);
    HH_CHECK(p.cli.auth_error == 0);
    HH_CHECK(p.cli.ndone == 1 && p.cli.done_status[0] == SMTP_OK);
    HH_CHECK(smtp_client_session_auth_mechanism(p.cli.c) == mech);
    hh_pair_free(&p);
  }
  hh_buf_free(&want_authzid);
  hh_buf_free(&want_user);
  hh_buf_free(&want_pass);
}

/* ------------------------------------------------------------------------ */
/* 3. Formatters against parsers.                                            */

static void diff_reply_format(void **state) {
  (void)state;
  for (uint32_t seed = 1; seed <= 3000; seed++) {
    uint32_t r = seed * 69069u + 3;
    int code = 200 + (int)hh_below(&r, 4) * 100 + (int)hh_below(&r, 6) * 10 + (int)hh_below(&r, 10);
    smtp_enhanced_code enh;
    int with_enh = hh_below(&r, 2) && code / 100 != 3;
    hh_buf text = {0}, flat = {0}, got = {0};
    size_t nlines = 1 + hh_below(&r, hh_below(&r, 10) == 0 ? 120 : 5);
    int long_lines = 0;
    char *buf;
    size_t cap = 200000;
    smtp_ssize n;
    smtp_reply_parser *rp;
    const smtp_reply *rep;
    enh.cls = code / 100;
    enh.subject = (int)hh_below(&r, 1000);
    enh.detail = (int)hh_below(&r, 1000);
    if (code / 100 == 3) with_enh = 0;
    for (size_t i = 0; i < nlines; i++) {
      size_t len = hh_below(&r, hh_below(&r, 8) == 0 ? 1500 : 60);
      if (i) hh_buf_add(&text, "\n", 1);
      if (len > 400) long_lines = 1;
      for (size_t k = 0; k < len; k++) {
        if (hh_below(&r, 30) == 0) {
          const char *u = utf8_bits[hh_below(&r, sizeof utf8_bits / sizeof *utf8_bits)];
          hh_buf_str(&text, u);
          hh_buf_str(&flat, u);
        } else {
          char c = hh_below(&r, 40) == 0 ? '\t' : (char)(33 + hh_below(&r, 94));
          if (k > 0 && hh_below(&r, 6) == 0) c = ' ';
          hh_buf_add(&text, &c, 1);
          hh_buf_add(&flat, &c, 1);
        }
      }
    }
    snprintf(hh_ctx, sizeof hh_ctx, "reply format seed %u, code %d, %zu lines", seed, code, nlines);
    buf = malloc(cap);
    assert_non_null(buf);
    n = smtp_reply_format(buf, cap, code, with_enh ? &enh : NULL, hh_buf_cstr(&text), text.len);
    HH_CHECK(n > 0);
    if (n <= 0) {
      free(buf);
      continue;
    }
    /* parse it back with limits large enough for the line count */
    /* a large line bound also raises the whole-reply bound (8 lines' worth) */
    HH_CHECK(smtp_reply_parser_new(&rp, 65536, 10000, NULL) == SMTP_OK);
    smtp_reply_parser_set_enhanced(rp, with_enh);
    HH_CHECK(smtp_reply_parser_feed(rp, buf, (size_t)n) == n);
    HH_CHECK(smtp_reply_parser_done(rp));
    rep = smtp_reply_parser_reply(rp);
    HH_CHECK(rep != NULL);
    if (rep) {
      HH_CHECK(rep->code == code);
      HH_CHECK(rep->has_enhanced == with_enh);
      if (with_enh)
        HH_CHECK(rep->enhanced.cls == enh.cls && rep->enhanced.subject == enh.subject &&
                 rep->enhanced.detail == enh.detail);
      for (size_t i = 0; i < rep->nlines; i++) hh_buf_add(&got, rep->lines[i].ptr, rep->lines[i].len);
      /* every text byte comes back (lines split at 512 octets concatenate) */
      HH_CHECK(got.len == flat.len && memcmp(hh_buf_cstr(&got), hh_buf_cstr(&flat), flat.len) == 0);
      if (!long_lines) {
        /* line for line */
        const char *q = hh_buf_cstr(&text);
        HH_CHECK(rep->nlines == nlines);
        for (size_t i = 0; i < rep->nlines && i < nlines; i++) {
          const char *e = strchr(q, '\n');
          size_t l = e ? (size_t)(e - q) : strlen(q);
          HH_CHECK(rep->lines[i].len == l && memcmp(rep->lines[i].ptr, q, l) == 0);
          q = e ? e + 1 : q + l;
        }
      }
    }
    smtp_reply_parser_del(rp);
    free(buf);
    hh_buf_free(&text);
    hh_buf_free(&flat);
    hh_buf_free(&got);
  }
}

static void diff_ehlo_build(void **state) {
  static const unsigned buildable[] = {SMTP_EXT_PIPELINING, SMTP_EXT_SIZE, SMTP_EXT_8BITMIME,
                                       SMTP_EXT_BINARYMIME, SMTP_EXT_CHUNKING, SMTP_EXT_SMTPUTF8,
                                       SMTP_EXT_ENHANCEDSTATUSCODES, SMTP_EXT_DSN, SMTP_EXT_STARTTLS,
                                       SMTP_EXT_AUTH, SMTP_EXT_REQUIRETLS, SMTP_EXT_LIMITS,
                                       SMTP_EXT_DELIVERBY, SMTP_EXT_MT_PRIORITY, SMTP_EXT_ETRN,
                                       SMTP_EXT_VRFY, SMTP_EXT_EXPN, SMTP_EXT_HELP};
  (void)state;
  for (uint32_t seed = 1; seed <= 3000; seed++) {
    uint32_t r = seed * 1103515245u + 12345u;
    smtp_ehlo_config cfg;
    char buf[8192];
    char extra_store[4][64];
    const char *extra[4];
    smtp_ssize n;
    smtp_reply_parser *rp;
    const smtp_reply *rep;
    smtp_capabilities caps;
    const char *greet = hh_below(&r, 2) ? "ESMTP ready (libsmtp)" : NULL;
    memset(&cfg, 0, sizeof cfg);
    cfg.version = SMTP_EHLO_CONFIG_VERSION;
    for (size_t i = 0; i < sizeof buildable / sizeof *buildable; i++)
      if (hh_below(&r, 2)) cfg.flags |= buildable[i];
    if (cfg.flags & SMTP_EXT_SIZE) {
      switch (hh_below(&r, 3)) {
      case 0: cfg.size_max = 0; break;
      case 1: cfg.size_max = 1 + hh_below(&r, 100000000); break;
      default: cfg.size_max = UINT64_MAX - hh_below(&r, 3); break;
      }
    }
    if (cfg.flags & SMTP_EXT_AUTH)
      while (!cfg.auth_mechs) cfg.auth_mechs = (unsigned)hh_below(&r, 256);
    if (cfg.flags & SMTP_EXT_LIMITS) {
      cfg.limits_rcptmax = hh_below(&r, 2) ? (unsigned)hh_below(&r, 1000000) : 0;
      cfg.limits_mailmax = hh_below(&r, 2) ? (unsigned)hh_below(&r, 1000000) : 0;
    }
    cfg.nextra = hh_below(&r, 5);
    for (size_t i = 0; i < cfg.nextra; i++) {
      if (hh_below(&r, 2))
        snprintf(extra_store[i], sizeof extra_store[i], "X-EXT%u p=%u", (unsigned)i, (unsigned)hh_below(&r, 1000));
      else
        snprintf(extra_store[i], sizeof extra_store[i], "X-EXT%u", (unsigned)i);
      extra[i] = extra_store[i];
    }
    cfg.extra = cfg.nextra ? extra : NULL;
    snprintf(hh_ctx, sizeof hh_ctx, "EHLO build seed %u, flags %x", seed, cfg.flags);
    n = smtp_ehlo_reply_build(buf, sizeof buf, "mx.example.test", greet, &cfg);
    HH_CHECK(n > 0);
    if (n <= 0) continue;
    HH_CHECK(smtp_reply_parser_new(&rp, 0, 0, NULL) == SMTP_OK);
    HH_CHECK(smtp_reply_parser_feed(rp, buf, (size_t)n) == n);
    rep = smtp_reply_parser_reply(rp);
    HH_CHECK(rep && rep->code == 250);
    HH_CHECK(smtp_capabilities_parse(rep, &caps) == SMTP_OK);
    if (caps.flags != cfg.flags)
      print_error("built:\n%.*s\nparsed flags %x\n", (int)n, buf, caps.flags);
    HH_CHECK(caps.flags == cfg.flags);
    if (cfg.flags & SMTP_EXT_SIZE) {
      HH_CHECK(caps.size_has_value == (cfg.size_max != 0));
      HH_CHECK(caps.size_max == cfg.size_max);
    }
    if (cfg.flags & SMTP_EXT_AUTH) HH_CHECK(caps.auth_mechs == cfg.auth_mechs);
    if (cfg.flags & SMTP_EXT_LIMITS) {
      HH_CHECK(caps.limits_rcptmax == cfg.limits_rcptmax);
      HH_CHECK(caps.limits_mailmax == cfg.limits_mailmax);
    }
    {
      char first[128];
      snprintf(first, sizeof first, "mx.example.test%s%s", greet ? " " : "", greet ? greet : "");
      HH_CHECK(caps.greeting.len == strlen(first) && memcmp(caps.greeting.ptr, first, caps.greeting.len) == 0);
    }
    for (size_t i = 0; i < cfg.nextra; i++) {
      char kw[32];
      const smtp_ext_keyword *k;
      snprintf(kw, sizeof kw, "X-EXT%u", (unsigned)i);
      k = smtp_capabilities_find(&caps, kw);
      HH_CHECK(k != NULL);
    }
    smtp_reply_parser_del(rp);
  }
}

/* ------------------------------------------------------------------------ */
/* 4. Every extension parameter from the client through the server: what   */
/*    the application gives the client (typed setters, or the wire value)  */
/*    arrives at the server's callbacks unchanged (RFC 6710, RFC 2852,      */
/*    RFC 4865, RFC 3865, RFC 3885, RFC 4405, RFC 7293; unknown parameters  */
/*    through the parameter hook, RFC 5321 4.1.2).                          */

typedef struct dp_want {
  int prio, by_time, by_mode, by_trace, hold_kind; /* hold_kind 0 none, 1 for, 2 until */
  unsigned hold_for;
  char hold_until[48];
  int64_t hold_until_t;
  char solicit[64], mtrk[40], submitter[80];
  unsigned mtrk_timeout;
  int mtrk_has_timeout;
  char rrvs[3][48];
  int rrvs_mode[3];
  int64_t rrvs_t[3];
  char xkw[16], xval[32];
  int nrcpt;
} dp_want;

typedef struct dp_got {
  hh_buf log;
  int mails, rcpts, params, done, closed;
} dp_got;

static int dp_on_mail(smtp_server_session *s, const smtp_server_mail *m, void *ud) {
  dp_got *g = ud;
  (void)s;
  g->mails++;
  hh_buf_fmt(&g->log, "prio %d %d|", m->has_mt_priority, m->mt_priority);
  hh_buf_fmt(&g->log, "by %d %d %c %d|", m->has_by, m->by_time, m->by_mode ? m->by_mode : '-', m->by_trace);
  hh_buf_fmt(&g->log, "hold %d %u %d %lld ", m->has_hold_for, m->hold_for, m->has_hold_until,
             (long long)m->hold_until);
  hh_buf_add(&g->log, m->hold_until_text.ptr, m->hold_until_text.len);
  hh_buf_fmt(&g->log, "|solicit %d ", m->has_solicit);
  hh_buf_add(&g->log, m->solicit.ptr, m->solicit.len);
  hh_buf_fmt(&g->log, "|mtrk %d ", m->has_mtrk);
  hh_buf_add(&g->log, m->mtrk_certifier.ptr, m->mtrk_certifier.len);
  hh_buf_fmt(&g->log, " %u|submitter %d ", m->mtrk_timeout, m->has_submitter);
  hh_buf_add(&g->log, m->submitter.ptr, m->submitter.len);
  hh_buf_str(&g->log, "\n");
  return 0;
}

static int dp_on_rcpt(smtp_server_session *s, const smtp_server_rcpt *r, void *ud) {
  dp_got *g = ud;
  (void)s;
  g->rcpts++;
  hh_buf_fmt(&g->log, "rcpt %d %lld %c ", r->has_rrvs, (long long)r->rrvs_time,
             r->rrvs_mode ? r->rrvs_mode : '-');
  hh_buf_add(&g->log, r->rrvs_text.ptr, r->rrvs_text.len);
  hh_buf_str(&g->log, "\n");
  return 0;
}

static int dp_on_param(smtp_server_session *s, const smtp_server_param *p, void *ud) {
  dp_got *g = ud;
  (void)s;
  g->params++;
  hh_buf_fmt(&g->log, "param %s ", p->verb == SMTP_VERB_MAIL ? "MAIL" : "RCPT");
  hh_buf_add(&g->log, p->keyword.ptr, p->keyword.len);
  hh_buf_str(&g->log, "=");
  hh_buf_add(&g->log, p->value.ptr, p->value.len);
  hh_buf_str(&g->log, "\n");
  return 0;
}

static int dp_on_done(smtp_client_session *c, smtp_client_txn *t, const smtp_client_txn_result *r,
                      void *ud) {
  dp_got *g = ud;
  (void)t;
  g->done = r->status == SMTP_OK ? 1 : r->status;
  smtp_client_session_quit(c);
  return 0;
}

static int dp_on_closed(smtp_client_session *c, int error, void *ud) {
  dp_got *g = ud;
  (void)c;
  g->closed = error == 0 ? 1 : error;
  return 0;
}

/* A random RFC 3339 date-time (UTC only when @p utc) and its seconds. */
static void dp_datetime(uint32_t *r, int utc, char *out, size_t cap, int64_t *t) {
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y = 1971 + (int)hh_below(r, 200), mo = 1 + (int)hh_below(r, 12);
  int d = 1 + (int)hh_below(r, (size_t)mdays[mo - 1]);
  int h = (int)hh_below(r, 24), mi = (int)hh_below(r, 60), se = (int)hh_below(r, 60);
  int oh = utc ? 0 : (int)hh_below(r, 15), om = utc ? 0 : (int)hh_below(r, 2) * 30;
  int neg = !utc && hh_below(r, 2);
  char frac[16] = "";
  int64_t days;
  if (hh_below(r, 3) == 0) snprintf(frac, sizeof frac, ".%u", (unsigned)hh_below(r, 1000000));
  /* the ranges are bounded above; % keeps the compiler's length estimate too */
  if (utc || (oh == 0 && om == 0 && hh_below(r, 2)))
    snprintf(out, cap, "%04u-%02u-%02uT%02u:%02u:%02u%.8sZ", (unsigned)y % 10000u, (unsigned)mo % 100u,
             (unsigned)d % 100u, (unsigned)h % 100u, (unsigned)mi % 100u, (unsigned)se % 100u, frac);
  else
    snprintf(out, cap, "%04u-%02u-%02uT%02u:%02u:%02u%.8s%c%02u:%02u", (unsigned)y % 10000u,
             (unsigned)mo % 100u, (unsigned)d % 100u, (unsigned)h % 100u, (unsigned)mi % 100u,
             (unsigned)se % 100u, frac, neg ? '-' : '+', (unsigned)oh % 100u, (unsigned)om % 100u);
  /* days since 1970 by counting (independent of the library's arithmetic) */
  days = 0;
  for (int yy = 1970; yy < y; yy++) days += ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0) ? 366 : 365;
  for (int mm = 1; mm < mo; mm++)
    days += mdays[mm - 1] + (mm == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
  days += d - 1;
  *t = days * 86400 + h * 3600 + mi * 60 + se - (neg ? -1 : 1) * (oh * 3600 + om * 60);
}

static void dp_word(uint32_t *r, char *out, size_t maxlen, const char *alphabet) {
  size_t n = 1 + hh_below(r, maxlen), al = strlen(alphabet);
  for (size_t i = 0; i < n; i++) out[i] = alphabet[hh_below(r, al)];
  out[n] = '\0';
}

/* Pump bytes both ways in the split mode until nothing moves. */
static void dp_pump(smtp_client_session *c, smtp_server_session *s, int mode, uint32_t *r) {
  for (int iter = 0; iter < 100000; iter++) {
    const char *p;
    smtp_ssize n;
    int moved = 0;
    n = smtp_client_session_mem_send(c, &p);
    if (n > 0) {
      size_t k = mode == HH_WHOLE ? (size_t)n : mode == HH_BYTES ? 1 : 1 + hh_below(r, (size_t)n);
      smtp_ssize t = smtp_server_session_mem_recv(s, p, k);
      HH_CHECK(t >= 0);
      if (t > 0) {
        smtp_client_session_mem_consume(c, (size_t)t);
        moved = 1;
      }
    }
    n = smtp_server_session_mem_send(s, &p);
    if (n > 0) {
      size_t k = mode == HH_WHOLE ? (size_t)n : mode == HH_BYTES ? 1 : 1 + hh_below(r, (size_t)n);
      smtp_ssize t = smtp_client_session_mem_recv(c, p, k);
      HH_CHECK(t >= 0);
      if (t > 0) {
        smtp_server_session_mem_consume(s, (size_t)t);
        moved = 1;
      }
    }
    if (!moved) return;
  }
}

static void diff_params_one(uint32_t seed, int mode) {
  uint32_t r = seed * 2654435761u + 7;
  dp_want w;
  dp_got g;
  hh_buf want = {0};
  smtp_server_options *so;
  smtp_server_callbacks *scb;
  smtp_server_session *s;
  smtp_client_callbacks *ccb;
  smtp_client_session *c;
  smtp_client_txn *t;
  static const char *const rcpts[3] = {"a@x.example", "b@x.example", "c@x.example"};
  memset(&w, 0, sizeof w);
  memset(&g, 0, sizeof g);
  snprintf(hh_ctx, sizeof hh_ctx, "parameter session %u (%s)", seed, hh_mode_name(mode));
  /* the server: every extension with parameters, the parameter hook */
  HH_CHECK(smtp_server_options_new(&so, NULL) == SMTP_OK);
  HH_CHECK(smtp_server_options_set_extensions(
               so, SMTP_SERVER_DEFAULT_EXTENSIONS | SMTP_EXT_MT_PRIORITY | SMTP_EXT_DELIVERBY |
                       SMTP_EXT_FUTURERELEASE | SMTP_EXT_RRVS | SMTP_EXT_NO_SOLICITING |
                       SMTP_EXT_MTRK | SMTP_EXT_SUBMITTER) == SMTP_OK);
  HH_CHECK(smtp_server_options_set_ext_params(so, SMTP_EXT_FUTURERELEASE,
                                              "999999999 2199-12-31T23:59:59Z") == SMTP_OK);
  HH_CHECK(smtp_server_options_add_ehlo_keyword(so, "XPARAM") == SMTP_OK);
  HH_CHECK(smtp_server_callbacks_new(&scb, NULL) == SMTP_OK);
  smtp_server_callbacks_set_mail(scb, dp_on_mail);
  smtp_server_callbacks_set_rcpt(scb, dp_on_rcpt);
  smtp_server_callbacks_set_param(scb, dp_on_param);
  HH_CHECK(smtp_server_session_new(&s, scb, &g, so, NULL) == SMTP_OK);
  smtp_server_options_del(so);
  smtp_server_callbacks_del(scb);
  /* the client and its transaction */
  HH_CHECK(smtp_client_callbacks_new(&ccb, NULL) == SMTP_OK);
  smtp_client_callbacks_set_txn_done(ccb, dp_on_done);
  smtp_client_callbacks_set_closed(ccb, dp_on_closed);
  HH_CHECK(smtp_client_session_new(&c, ccb, &g, NULL, NULL) == SMTP_OK);
  smtp_client_callbacks_del(ccb);
  HH_CHECK(smtp_client_txn_new(&t, NULL) == SMTP_OK);
  HH_CHECK(smtp_client_txn_set_from(t, "s@y.example", 11) == SMTP_OK);
  w.nrcpt = 1 + (int)hh_below(&r, 3);
  for (int k = 0; k < w.nrcpt; k++) HH_CHECK(smtp_client_txn_add_rcpt(t, rcpts[k], 11, 0, NULL, 0) == k);
  HH_CHECK(smtp_client_txn_set_body(t, "m\r\n", 3) == SMTP_OK);
  w.prio = hh_below(&r, 4) ? (int)hh_below(&r, 19) - 9 : 100;
  if (w.prio != 100) HH_CHECK(smtp_client_txn_set_mt_priority(t, w.prio) == SMTP_OK);
  if (hh_below(&r, 4)) {
    w.by_mode = hh_below(&r, 2) ? 'R' : 'N';
    w.by_time = w.by_mode == 'R' ? 1 + (int)hh_below(&r, 999999999)
                                 : (int)hh_below(&r, 1999999999) - 999999999;
    w.by_trace = (int)hh_below(&r, 2);
    HH_CHECK(smtp_client_txn_set_deliver_by(t, w.by_time, w.by_mode, w.by_trace) == SMTP_OK);
  }
  w.hold_kind = (int)hh_below(&r, 3);
  if (w.hold_kind == 1) {
    w.hold_for = 1 + (unsigned)hh_below(&r, 999999999);
    HH_CHECK(smtp_client_txn_set_hold_for(t, w.hold_for) == SMTP_OK);
  } else if (w.hold_kind == 2) {
    dp_datetime(&r, 1, w.hold_until, sizeof w.hold_until, &w.hold_until_t);
    HH_CHECK(smtp_client_txn_set_hold_until(t, w.hold_until) == SMTP_OK);
  }
  if (hh_below(&r, 2)) {
    char k1[20], k2[20];
    dp_word(&r, k1, 18, "abcXYZ019.-:_");
    dp_word(&r, k2, 18, "abcXYZ019.-:_");
    if (hh_below(&r, 2)) snprintf(w.solicit, sizeof w.solicit, "%s,%s", k1, k2);
    else snprintf(w.solicit, sizeof w.solicit, "%s", k1);
    HH_CHECK(smtp_client_txn_add_mail_param(t, "SOLICIT", w.solicit) == SMTP_OK);
  }
  if (hh_below(&r, 2)) {
    char v[64];
    dp_word(&r, w.mtrk, 30, "ABCxyz0189+/-.");
    w.mtrk_has_timeout = (int)hh_below(&r, 2);
    w.mtrk_timeout = w.mtrk_has_timeout ? (unsigned)hh_below(&r, 1000000000) : 0;
    if (w.mtrk_has_timeout) snprintf(v, sizeof v, "%s:%u", w.mtrk, w.mtrk_timeout);
    else snprintf(v, sizeof v, "%s", w.mtrk);
    HH_CHECK(smtp_client_txn_add_mail_param(t, "MTRK", v) == SMTP_OK);
  }
  if (hh_below(&r, 2)) {
    /* the mailbox with characters xtext must encode ('+', '=') */
    char local[24], x[200];
    smtp_ssize xn;
    dp_word(&r, local, 12, "ab+=9.");
    if (local[0] == '.') local[0] = 'a';
    {
      size_t L = strlen(local);
      if (local[L - 1] == '.') local[L - 1] = 'z';
      for (size_t i = 1; i < L; i++)
        if (local[i] == '.' && local[i - 1] == '.') local[i] = 'q';
    }
    snprintf(w.submitter, sizeof w.submitter, "%s@sub.example", local);
    xn = smtp_xtext_encode(w.submitter, strlen(w.submitter), x, sizeof x - 1);
    HH_CHECK(xn > 0);
    x[xn] = '\0';
    HH_CHECK(smtp_client_txn_add_mail_param(t, "SUBMITTER", x) == SMTP_OK);
  }
  for (int k = 0; k < w.nrcpt; k++) {
    if (hh_below(&r, 2)) {
      static const int modes[3] = {0, 'C', 'R'};
      w.rrvs_mode[k] = modes[hh_below(&r, 3)];
      dp_datetime(&r, 0, w.rrvs[k], sizeof w.rrvs[k], &w.rrvs_t[k]);
      HH_CHECK(smtp_client_txn_set_rrvs(t, (size_t)k, w.rrvs[k], w.rrvs_mode[k]) == SMTP_OK);
    }
  }
  if (hh_below(&r, 2)) {
    snprintf(w.xkw, sizeof w.xkw, "XPARAM");
    dp_word(&r, w.xval, 20, "abc!\"#$%&'()*+,-./0189:;<>?@[\\]^_`{|}~");
    HH_CHECK(smtp_client_txn_add_mail_param(t, w.xkw, w.xval) == SMTP_OK);
  }
  HH_CHECK(smtp_client_session_submit(c, t) == SMTP_OK);
  dp_pump(c, s, mode, &r);
  HH_CHECK(g.done == 1);
  HH_CHECK(g.closed == 1);
  /* what the server must have seen, in callback order */
  if (w.xkw[0]) hh_buf_fmt(&want, "param MAIL %s=%s\n", w.xkw, w.xval);
  hh_buf_fmt(&want, "prio %d %d|", w.prio != 100, w.prio != 100 ? w.prio : 0);
  hh_buf_fmt(&want, "by %d %d %c %d|", w.by_mode != 0, w.by_time, w.by_mode ? w.by_mode : '-', w.by_trace);
  hh_buf_fmt(&want, "hold %d %u %d %lld ", w.hold_kind == 1, w.hold_for, w.hold_kind == 2,
             (long long)w.hold_until_t);
  hh_buf_str(&want, w.hold_until);
  hh_buf_fmt(&want, "|solicit %d %s", w.solicit[0] != 0, w.solicit);
  hh_buf_fmt(&want, "|mtrk %d %s %u", w.mtrk[0] != 0, w.mtrk, w.mtrk_timeout);
  hh_buf_fmt(&want, "|submitter %d %s\n", w.submitter[0] != 0, w.submitter);
  for (int k = 0; k < w.nrcpt; k++) {
    hh_buf_fmt(&want, "rcpt %d %lld %c %s\n", w.rrvs[k][0] != 0, (long long)w.rrvs_t[k],
               w.rrvs_mode[k] ? w.rrvs_mode[k] : '-', w.rrvs[k]);
  }
  HH_CHECK_STR(hh_buf_cstr(&g.log), hh_buf_cstr(&want));
  hh_buf_free(&want);
  hh_buf_free(&g.log);
  smtp_client_txn_del(t);
  smtp_client_session_del(c);
  smtp_server_session_del(s);
}

static void diff_params(void **state) {
  (void)state;
  for (uint32_t seed = 1; seed <= DIFF_SESSIONS; seed++)
    diff_params_one(seed, seed % 8 == 0 ? HH_BYTES : seed % 4 == 0 ? HH_WHOLE : HH_RANDOM);
  print_message("%d parameter sessions: every extension parameter arrived unchanged\n", DIFF_SESSIONS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(diff_client_to_server),
      cmocka_unit_test(diff_lmtp),
      cmocka_unit_test(diff_auth),
      cmocka_unit_test(diff_reply_format),
      cmocka_unit_test(diff_ehlo_build),
      cmocka_unit_test(diff_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
