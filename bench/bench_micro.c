/* Micro benchmarks: throughput of libsmtp's byte-level hot paths against
 * the C library's memchr/memcpy over the same buffer, in the same run.
 *
 * Four buffers, each about the size given on the command line:
 *   mail text  generated lines of 60-79 octets ending in CRLF, about 1 in 40
 *              starting with a dot (as a wire carries them after stuffing):
 *              dot-unstuffing and dot-stuffing;
 *   commands   a realistic mix of pipelined command lines (EHLO, MAIL with
 *              SIZE/BODY, 1-5 RCPT, DATA, RSET, NOOP, QUIT): command
 *              splitting and full argument parsing;
 *   replies    what a server answers to those (250 with enhanced codes,
 *              354, multi-line EHLO replies): the incremental reply parser;
 *   paths      one Forward-path per line ("<local@domain>", some quoted
 *              local parts, some address literals): path parsing.
 * Every benchmark is one function that runs over its whole buffer once and
 * returns the bytes it processed (and counts items); it is timed RUNS times
 * and the median is reported, next to memchr (one call per line, the least
 * a line-oriented parser pays) and memcpy over the same buffer. Ratios, not
 * absolute figures, are what carries from one noisy machine to another.
 *
 * Usage: bench_micro [MiB]   (default 64 for mail text; 16 for the others) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <smtp/address.h>
#include <smtp/data.h>
#include <smtp/reply.h>

#define RUNS 5

typedef struct bench_ctx {
  const char *text; /* the buffer (CRLF lines) */
  size_t len;
  char *work;       /* scratch of at least SMTP_STUFF_MAX_OUTPUT(len) */
  size_t worklen;
  uint64_t items;   /* set by each run: lines, commands, replies, paths */
  smtp_reply_parser *rp;
  uint64_t sink;    /* defeats dead-code elimination */
} bench_ctx;

/* Prepare (untimed) and run (timed) one pass; run returns bytes processed. */
typedef struct bench {
  const char *name;
  void (*prepare)(bench_ctx *c);
  size_t (*run)(bench_ctx *c);
} bench;

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 32);
}

static void die(const char *what) {
  fprintf(stderr, "bench_micro: %s\n", what);
  exit(1);
}

/* --- buffers --------------------------------------------------------------- */

static char *make_text(size_t len) {
  static const char words[][10] = {"the", "of", "and", "to", "in", "is", "mail", "server",
                                   "message", "report", "please", "attached", "regards",
                                   "Subject:", "quarterly", "data", "a", "with", "for", "on"};
  char *t = malloc(len);
  size_t i = 0;
  if (!t) return NULL;
  while (i < len) {
    size_t line = 60 + rnd() % 20, n = 0;
    if (rnd() % 40 == 0 && i < len) {
      t[i++] = '.';
      n++;
    }
    while (n < line && i < len) {
      const char *w = words[rnd() % (sizeof(words) / sizeof(words[0]))];
      while (*w && n < line && i < len) {
        t[i++] = *w++;
        n++;
      }
      if (i < len && n < line) {
        t[i++] = ' ';
        n++;
      }
    }
    if (i < len) t[i++] = '\r';
    if (i < len) t[i++] = '\n';
  }
  /* Never let the buffer end in the middle of CRLF "." CRLF. */
  if (len >= 2) {
    t[len - 2] = '\r';
    t[len - 1] = '\n';
  }
  return t;
}

/* A growing buffer of whole lines; stops before exceeding its capacity. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, size_t n) {
  if (b->len + n > b->cap) return 0;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 1;
}

static int sb_str(sbuf *b, const char *s) { return sb_add(b, s, strlen(s)); }

static const char *const first_names[] = {"alice", "bob", "carol", "dave", "erin", "frank",
                                          "grace", "heidi", "ivan", "judy", "mallory",
                                          "oscar", "peggy", "trent", "victor", "walter"};
static const char *const domains[] = {"example.com", "mail.example.org", "lists.example.net",
                                      "smtp.corp.example.co.uk", "a.b.c.d.example.museum",
                                      "xn--bcher-kva.example"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A mailbox "first.lastNNN@domain", sometimes with a quoted local part or an
 * address literal. */
static int format_mailbox(char *out, size_t cap, int variety) {
  const char *f = first_names[rnd() % NELEM(first_names)];
  const char *d = domains[rnd() % NELEM(domains)];
  unsigned n = rnd() % 1000, k = variety ? rnd() % 20 : 1;
  if (k == 0) return snprintf(out, cap, "\"%s smith\"@%s", f, d);
  if (k == 1) return snprintf(out, cap, "%s.m%u@[192.0.2.%u]", f, n, n % 250);
  if (k == 2) return snprintf(out, cap, "%s+tag%u@[IPv6:2001:db8::%x]", f, n, n);
  return snprintf(out, cap, "%s.%s%u@%s", f, first_names[rnd() % NELEM(first_names)], n, d);
}

/* Pipelined command lines of many transactions. */
static char *make_commands(size_t cap, size_t *len) {
  sbuf b = {malloc(cap), 0, cap};
  char line[600], mb[300];
  if (!b.p) return NULL;
  for (;;) {
    unsigned nrcpt = 1 + rnd() % 5, i;
    int n;
    if (rnd() % 8 == 0) {
      n = snprintf(line, sizeof line, "EHLO client%u.%s\r\n", rnd() % 100,
                   domains[rnd() % NELEM(domains)]);
      if (!sb_add(&b, line, (size_t)n)) break;
    }
    format_mailbox(mb, sizeof mb, 1);
    n = snprintf(line, sizeof line, "MAIL FROM:<%s> SIZE=%u BODY=8BITMIME\r\n", mb,
                 1000 + rnd() % 100000);
    if (!sb_add(&b, line, (size_t)n)) break;
    for (i = 0; i < nrcpt; i++) {
      format_mailbox(mb, sizeof mb, 1);
      n = snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", mb);
      if (!sb_add(&b, line, (size_t)n)) goto out;
    }
    if (!sb_str(&b, "DATA\r\n")) break;
    if (rnd() % 4 == 0 && !sb_str(&b, "RSET\r\n")) break;
    if (rnd() % 8 == 0 && !sb_str(&b, "NOOP\r\n")) break;
    if (rnd() % 16 == 0 && !sb_str(&b, "QUIT\r\n")) break;
  }
out:
  *len = b.len;
  return b.p;
}

/* The replies a server sends to such commands. */
static char *make_replies(size_t cap, size_t *len) {
  static const char ehlo[] =
      "250-mx.example.com Hello client.example.net [192.0.2.7]\r\n"
      "250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
      "250-CHUNKING\r\n250-BINARYMIME\r\n250-SMTPUTF8\r\n250 LIMITS RCPTMAX=100\r\n";
  sbuf b = {malloc(cap), 0, cap};
  char line[200];
  if (!b.p) return NULL;
  for (;;) {
    unsigned nrcpt = 1 + rnd() % 5, i;
    int n;
    if (rnd() % 8 == 0 && !sb_add(&b, ehlo, sizeof ehlo - 1)) break;
    if (!sb_str(&b, "250 2.1.0 Sender ok\r\n")) break;
    for (i = 0; i < nrcpt; i++) {
      if (rnd() % 10 == 0) {
        if (!sb_str(&b, "550 5.1.1 No such user here\r\n")) goto out;
      } else if (!sb_str(&b, "250 2.1.5 Recipient ok\r\n")) {
        goto out;
      }
    }
    if (!sb_str(&b, "354 End data with <CR><LF>.<CR><LF>\r\n")) break;
    n = snprintf(line, sizeof line, "250 2.0.0 Ok: queued as %08X%04X\r\n", rnd(),
                 rnd() & 0xFFFF);
    if (!sb_add(&b, line, (size_t)n)) break;
  }
out:
  *len = b.len;
  return b.p;
}

/* One Forward-path per line. */
static char *make_paths(size_t cap, size_t *len) {
  sbuf b = {malloc(cap), 0, cap};
  char line[300], mb[280];
  if (!b.p) return NULL;
  for (;;) {
    int n;
    if (rnd() % 50 == 0) {
      n = snprintf(line, sizeof line, "<Postmaster>\r\n");
    } else {
      format_mailbox(mb, sizeof mb, 1);
      n = snprintf(line, sizeof line, "<%s>\r\n", mb);
    }
    if (!sb_add(&b, line, (size_t)n)) break;
  }
  *len = b.len;
  return b.p;
}

/* --- benchmarks ---------------------------------------------------------- */

static void prep_none(bench_ctx *c) { (void)c; }

/* memchr for '\n' across the buffer, one call per line: the baseline a
 * line-oriented parser pays. */
static size_t run_memchr(bench_ctx *c) {
  const char *p = c->text, *end = c->text + c->len;
  uint64_t lines = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break;
    lines++;
    p = nl + 1;
  }
  c->sink += lines;
  c->items = lines;
  return c->len;
}

static size_t run_memcpy(bench_ctx *c) {
  memcpy(c->work, c->text, c->len);
  c->sink += (unsigned char)c->work[c->len / 2];
  c->items = 0;
  return c->len;
}

/* In place, so each run first gets a fresh copy (untimed). */
static void prep_unstuff(bench_ctx *c) { memcpy(c->work, c->text, c->len); }

static size_t run_unstuff(bench_ctx *c) {
  smtp_unstuffer d;
  size_t len = c->len, consumed = 0;
  smtp_unstuffer_reset(&d);
  if (smtp_unstuff(&d, c->work, &len, &consumed) != 0 || consumed != c->len)
    die("unstuff: unexpected result");
  c->sink += len + d.seen;
  c->items = 0;
  return c->len;
}

/* The same, in 64 KiB reads, as a server would see it. */
static size_t run_unstuff_64k(bench_ctx *c) {
  smtp_unstuffer d;
  size_t off = 0;
  smtp_unstuffer_reset(&d);
  while (off < c->len) {
    size_t n = c->len - off < 65536 ? c->len - off : 65536, len = n, consumed;
    if (smtp_unstuff(&d, c->work + off, &len, &consumed) != 0) die("unstuff 64K");
    off += consumed;
  }
  c->sink += d.total;
  c->items = 0;
  return c->len;
}

static size_t run_stuff(bench_ctx *c) {
  smtp_stuffer e;
  size_t consumed = 0;
  smtp_ssize w;
  smtp_stuffer_init(&e, 0);
  w = smtp_stuff(&e, c->text, c->len, &consumed, c->work, c->worklen);
  if (w < 0 || consumed != c->len) die("stuff: unexpected result");
  c->sink += (uint64_t)w;
  c->items = 0;
  return c->len;
}

/* Command lines: split each line at CRLF (memchr), then smtp_parse_command. */
static size_t run_cmd_split(bench_ctx *c) {
  const char *p = c->text, *end = c->text + c->len;
  uint64_t n = 0, verbs = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    smtp_command cmd;
    if (!nl) break;
    if (smtp_parse_command(p, (size_t)(nl - p) - 1, &cmd) != SMTP_OK) die("parse_command");
    verbs += (unsigned)cmd.verb;
    n++;
    p = nl + 1;
  }
  c->sink += verbs;
  c->items = n;
  return c->len;
}

/* What a server does per line: split, then parse the arguments (paths and
 * every esmtp parameter of MAIL/RCPT, the domain of EHLO). */
static size_t run_cmd_full(bench_ctx *c) {
  const char *p = c->text, *end = c->text + c->len;
  uint64_t n = 0, acc = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    smtp_command cmd;
    if (!nl) break;
    if (smtp_parse_command(p, (size_t)(nl - p) - 1, &cmd) != SMTP_OK) die("parse_command");
    if (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT) {
      smtp_path path;
      smtp_span params;
      smtp_param prm;
      int r = smtp_parse_mail_rcpt_args(cmd.args.ptr, cmd.args.len, cmd.verb == SMTP_VERB_RCPT,
                                        0, &path, &params);
      if (r != SMTP_OK) die("parse_mail_rcpt_args");
      acc += path.address.len;
      while ((r = smtp_param_next(&params, 0, &prm)) == 1) acc += prm.value.len;
      if (r != 0) die("param_next");
    } else if (cmd.verb == SMTP_VERB_EHLO) {
      int kind;
      if (smtp_parse_ehlo_arg(cmd.args.ptr, cmd.args.len, 0, &kind) != SMTP_OK) die("ehlo arg");
      acc += (unsigned)kind + 1;
    }
    n++;
    p = nl + 1;
  }
  c->sink += acc;
  c->items = n;
  return c->len;
}

/* Replies: feed the whole buffer; the parser stops after each reply. */
static size_t run_replies(bench_ctx *c) {
  const char *p = c->text;
  size_t left = c->len;
  uint64_t n = 0, acc = 0;
  smtp_reply_parser_reset(c->rp);
  while (left > 0) {
    smtp_ssize k = smtp_reply_parser_feed(c->rp, p, left);
    const smtp_reply *r;
    if (k <= 0) die("reply_parser_feed");
    p += k;
    left -= (size_t)k;
    r = smtp_reply_parser_reply(c->rp);
    if (!r) die("reply incomplete");
    acc += (unsigned)r->code + r->nlines;
    n++;
  }
  c->sink += acc;
  c->items = n;
  return c->len;
}

/* Paths: split at CRLF, then smtp_parse_forward_path on the line. */
static size_t run_paths(bench_ctx *c) {
  const char *p = c->text, *end = c->text + c->len;
  uint64_t n = 0, acc = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    smtp_path path;
    size_t used;
    if (!nl) break;
    if (smtp_parse_forward_path(p, (size_t)(nl - p) - 1, 0, &path, &used) != SMTP_OK)
      die("parse_forward_path");
    acc += used + path.mailbox.domain.len;
    n++;
    p = nl + 1;
  }
  c->sink += acc;
  c->items = n;
  return c->len;
}

/* --- driver ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct result {
  double gibs;  /* median GiB/s */
  double items; /* median items/s */
} result;

/* Medians over RUNS runs (of GiB/s and of items/s). */
static result measure(const bench *b, bench_ctx *c) {
  double gibs[RUNS], its[RUNS];
  result res;
  int r;
  for (r = 0; r < RUNS; r++) {
    double t0, t1, dt;
    size_t bytes;
    b->prepare(c);
    t0 = now_sec();
    bytes = b->run(c);
    t1 = now_sec();
    dt = t1 - t0 > 1e-9 ? t1 - t0 : 1e-9;
    gibs[r] = (double)bytes / (1024.0 * 1024.0 * 1024.0) / dt;
    its[r] = (double)c->items / dt;
  }
  qsort(gibs, RUNS, sizeof(gibs[0]), cmp_double);
  qsort(its, RUNS, sizeof(its[0]), cmp_double);
  res.gibs = gibs[RUNS / 2];
  res.items = its[RUNS / 2];
  return res;
}

/* One group: memchr and memcpy first, then the group's own benchmarks,
 * each printed with its ratio to both. Returns the row results. */
static void run_group(const char *title, const char *unit, bench_ctx *c, const bench *benches,
                      size_t n, result *out) {
  static const bench base[] = {{"memchr '\\n' per line", prep_none, run_memchr},
                               {"memcpy", prep_none, run_memcpy}};
  result rb[2];
  size_t i;
  printf("\n== %s: %.1f MiB ==\n", title, (double)c->len / (1024.0 * 1024.0));
  printf("%-26s %9s %12s %10s %10s\n", "benchmark", "GiB/s", unit, "x memchr", "x memcpy");
  for (i = 0; i < 2; i++) rb[i] = measure(&base[i], c);
  for (i = 0; i < 2; i++) {
    char items[32] = "";
    if (rb[i].items > 0) snprintf(items, sizeof items, "%.2f l", rb[i].items / 1e6);
    printf("%-26s %9.2f %12s %10.2f %10.2f\n", base[i].name, rb[i].gibs, items,
           rb[i].gibs / rb[0].gibs, rb[i].gibs / rb[1].gibs);
  }
  for (i = 0; i < n; i++) {
    result r = measure(&benches[i], c);
    char items[32] = "";
    if (r.items > 0) snprintf(items, sizeof items, "%.2f", r.items / 1e6);
    printf("%-26s %9.2f %12s %10.2f %10.2f\n", benches[i].name, r.gibs, items,
           r.gibs / rb[0].gibs, r.gibs / rb[1].gibs);
    if (out) out[i] = r;
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  static const bench text_benches[] = {
      {"smtp_unstuff", prep_unstuff, run_unstuff},
      {"smtp_unstuff 64K reads", prep_unstuff, run_unstuff_64k},
      {"smtp_stuff", prep_none, run_stuff},
  };
  static const bench cmd_benches[] = {
      {"smtp_parse_command", prep_none, run_cmd_split},
      {"command + args + params", prep_none, run_cmd_full},
  };
  static const bench reply_benches[] = {
      {"smtp_reply_parser_feed", prep_none, run_replies},
  };
  static const bench path_benches[] = {
      {"smtp_parse_forward_path", prep_none, run_paths},
  };
  result text_res[3], cmd_res[2], reply_res[1], path_res[1];
  size_t mib = 64, small, i;
  const char *bufs[4];
  size_t lens[4] = {0, 0, 0, 0};
  bench_ctx c;
  if (argc > 1) mib = (size_t)strtoul(argv[1], NULL, 10);
  if (mib == 0) mib = 64;
  small = mib < 16 ? mib : 16;
  memset(&c, 0, sizeof(c));

  lens[0] = mib * 1024 * 1024;
  bufs[0] = make_text(lens[0]);
  bufs[1] = make_commands(small * 1024 * 1024, &lens[1]);
  bufs[2] = make_replies(small * 1024 * 1024, &lens[2]);
  bufs[3] = make_paths(small * 1024 * 1024, &lens[3]);
  c.worklen = SMTP_STUFF_MAX_OUTPUT(lens[0]);
  c.work = malloc(c.worklen);
  if (!bufs[0] || !bufs[1] || !bufs[2] || !bufs[3] || !c.work) die("out of memory");
  memset(c.work, 0, c.worklen); /* fault the pages in before timing */
  if (smtp_reply_parser_new(&c.rp, 0, 0, NULL) != SMTP_OK) die("reply parser");
  smtp_reply_parser_set_enhanced(c.rp, 1);

  printf("libsmtp micro benchmarks, median of %d runs; ratios against memchr (one call per\n"
         "line) and memcpy over the same buffer in the same run\n",
         RUNS);

  c.text = bufs[0];
  c.len = lens[0];
  run_group("mail text (~70-octet CRLF lines, 1 in 40 dot-stuffed)", "", &c, text_benches, 3,
            text_res);
  c.text = bufs[1];
  c.len = lens[1];
  run_group("command lines (EHLO/MAIL/RCPT/DATA/RSET/NOOP/QUIT mix)", "Mcmd/s", &c, cmd_benches,
            2, cmd_res);
  c.text = bufs[2];
  c.len = lens[2];
  run_group("replies (250 x.y.z, 354, 550, multi-line EHLO)", "Mreply/s", &c, reply_benches, 1,
            reply_res);
  c.text = bufs[3];
  c.len = lens[3];
  run_group("forward-paths (one per line)", "Mpath/s", &c, path_benches, 1, path_res);

  printf("\nsummary\n");
  printf("  unstuff              %6.2f GiB/s\n", text_res[0].gibs);
  printf("  stuff                %6.2f GiB/s\n", text_res[2].gibs);
  printf("  commands/s (split)   %6.2f M\n", cmd_res[0].items / 1e6);
  printf("  commands/s (full)    %6.2f M\n", cmd_res[1].items / 1e6);
  printf("  replies/s            %6.2f M\n", reply_res[0].items / 1e6);
  printf("  paths/s              %6.2f M\n", path_res[0].items / 1e6);
  printf("(sink %llu)\n", (unsigned long long)c.sink);
  smtp_reply_parser_del(c.rp);
  for (i = 0; i < 4; i++) free((void *)bufs[i]);
  free(c.work);
  return 0;
}
