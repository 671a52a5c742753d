/* smtp-probe: conformance and security checks against an SMTP server.
 *
 *   smtp-probe --server HOST[:PORT] --from ADDR --to ADDR [options]
 *
 * Each check runs on its own connection and prints one line:
 * "PASS name: detail", "FAIL name: detail" or "SKIP name: reason" (or one
 * JSON object with --json). Exit status: 0 nothing failed, 1 something
 * failed, 2 the first connection (greeting, EHLO, STARTTLS) did not work,
 * 64 usage error. Every wait is bounded by --timeout, so a server that
 * stalls, sends garbage or closes mid-reply ends the run (exit 2) or its
 * check (FAIL) in bounded time.
 *
 * The probe writes raw bytes on purpose (bare CR/LF, smuggled commands,
 * over-long lines): the client session would never send them. Replies are
 * read with the library's reply parser (smtp/reply.h), capabilities with
 * smtp_capabilities_parse(), and STARTTLS runs the library's TLS connection
 * (smtp/tls.h) over the socket.
 *
 * It only ever uses the addresses it was given: --from as the sender, --to
 * as the recipient (and, for the postmaster check, <Postmaster> and
 * postmaster@ the domain of --to). Checks that need a message deliver small
 * test messages to --to.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <smtp/smtp.h>

#define EX_USAGE 64
#define MAX_CHECKS 64

enum { R_PASS, R_FAIL, R_SKIP };
static const char *const result_names[] = {"PASS", "FAIL", "SKIP"};

/* End-of-data look-alikes (RFC 5321 4.1.1.4 and 2.3.8: only CRLF "." CRLF
 * ends the data), with and without dots. */
static const struct {
  const char *name;
  const char *seq;
  size_t len;
} variants[] = {
    {"lf-dot-lf", "\n.\n", 3},
    {"lf-dot-crlf", "\n.\r\n", 4},
    {"crlf-dot-lf", "\r\n.\n", 4},
    {"cr-dot-cr", "\r.\r", 3},
    {"cr-dot-crlf", "\r.\r\n", 4},
    {"crlf-dot-cr", "\r\n.\r", 4},
    {"crlf-dot-cr-crlf", "\r\n.\r\r\n", 6},
    {"crlf-nul-dot-crlf", "\r\n\0.\r\n", 6},
    {"lf-lf", "\n\n", 2},
    {"cr-cr", "\r\r", 2},
    {"lf-crlf", "\n\r\n", 3},
    {"crlf-lf", "\r\n\n", 3},
};
#define NVARIANTS (sizeof variants / sizeof variants[0])

static const char *const plain_checks[] = {"starttls-injection", "bare-lf", "bare-cr", "size-enforced",
                                           "line-length", "postmaster", "null-sender", "pipelining",
                                           "chunking", "vrfy", "expn"};
#define NPLAIN (sizeof plain_checks / sizeof plain_checks[0])

typedef struct result {
  char name[48];
  int result;
  char detail[400];
} result;

typedef struct probe {
  char host[256], port[8];
  const char *from, *to;
  char helo[256];
  int starttls; /* 0 off, 1 opportunistic, 2 required */
  const char *ca_file;
  int json;
  int timeout_ms;
  const char *only[MAX_CHECKS];
  size_t nonly;
  smtp_tls_config *tls;
  result res[MAX_CHECKS + 32];
  size_t nres;
  int failed;
} probe;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(probe *P, const char *name, int r, const char *fmt, ...) {
  result *x;
  va_list ap;
  if (P->nres >= sizeof P->res / sizeof P->res[0]) return;
  x = &P->res[P->nres++];
  snprintf(x->name, sizeof x->name, "%s", name);
  x->result = r;
  va_start(ap, fmt);
  vsnprintf(x->detail, sizeof x->detail, fmt, ap);
  va_end(ap);
  if (r == R_FAIL) P->failed = 1;
  if (!P->json) {
    printf("%s %s: %s\n", result_names[r], x->name, x->detail);
    fflush(stdout);
  }
}

/* ------------------------------------------------------------------------ */
/* A connection: socket, optional TLS, reply parser, one deadline.           */

typedef struct pc {
  int fd;
  smtp_tls_conn *tls;
  smtp_reply_parser *rp;
  int64_t deadline;
  char buf[16384];
  size_t blen;
  int eof;
  char last[300];        /* the last reply, "250 2.0.0 text" (first line) */
  int code;              /* its code */
  unsigned int caps;     /* smtp_ext_flag bits of the last EHLO */
  uint64_t size_max;
  int size_has_value;
  const char *why;       /* why the last call failed */
} pc;

static int pc_left(const pc *c) {
  int64_t l = c->deadline - now_ms();
  return l < 0 ? 0 : l > 600000 ? 600000 : (int)l;
}

static int sock_write(pc *c, const char *p, size_t n) {
  while (n) {
    struct pollfd pfd = {c->fd, POLLOUT, 0};
    ssize_t w;
    int pr = poll(&pfd, 1, pc_left(c));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      c->why = "timed out writing";
      return -1;
    }
    w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w <= 0) {
      c->why = "connection lost while writing";
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int tls_flush(pc *c) {
  const char *out;
  smtp_ssize n;
  while ((n = smtp_tls_pending_output(c->tls, &out)) > 0) {
    if (sock_write(c, out, (size_t)n) != 0) return -1;
    smtp_tls_consume_output(c->tls, (size_t)n);
  }
  return 0;
}

/* Read ciphertext or plaintext from the socket, waiting at most @p wait_ms
 * (and never past the deadline). Returns bytes, 0 on time-out, -1 at EOF. */
static smtp_ssize sock_read(pc *c, char *b, size_t cap, int wait_ms) {
  for (;;) {
    struct pollfd pfd = {c->fd, POLLIN, 0};
    int left = pc_left(c), pr;
    ssize_t r;
    if (wait_ms >= 0 && wait_ms < left) left = wait_ms;
    pr = poll(&pfd, 1, left);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return 0;
    r = recv(c->fd, b, cap, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) return -1;
    return (smtp_ssize)r;
  }
}

/* More plaintext into c->buf. Returns >0, 0 on time-out, -1 at EOF/error. */
static int pc_fill(pc *c, int wait_ms) {
  char tmp[16384];
  size_t room = sizeof c->buf - c->blen;
  if (room == 0) {
    c->why = "reply too long";
    return -1;
  }
  if (!c->tls) {
    smtp_ssize r = sock_read(c, c->buf + c->blen, room, wait_ms);
    if (r < 0) {
      c->eof = 1;
      c->why = "connection closed";
      return -1;
    }
    c->blen += (size_t)r;
    return (int)(r > 0);
  }
  for (;;) {
    smtp_ssize r = smtp_tls_read(c->tls, c->buf + c->blen, room);
    if (r > 0) {
      c->blen += (size_t)r;
      return 1;
    }
    if (r != SMTP_ERR_WOULDBLOCK) {
      c->why = "TLS connection ended";
      c->eof = 1;
      return -1;
    }
    if (tls_flush(c) != 0) return -1;
    r = sock_read(c, tmp, smtp_tls_feed_space(c->tls) < sizeof tmp ? smtp_tls_feed_space(c->tls) : sizeof tmp,
                  wait_ms);
    if (r == 0) return 0;
    if (r < 0) {
      smtp_tls_feed_eof(c->tls);
      continue; /* reads report the end */
    }
    smtp_tls_feed(c->tls, tmp, (size_t)r);
  }
}

static void summarize(pc *c, const smtp_reply *rep) {
  char enh[24] = "";
  const smtp_span *l = rep->nlines ? &rep->lines[0] : NULL;
  size_t n;
  if (rep->has_enhanced)
    snprintf(enh, sizeof enh, " %d.%d.%d", rep->enhanced.cls, rep->enhanced.subject, rep->enhanced.detail);
  n = l ? (l->len > 160 ? 160 : l->len) : 0;
  snprintf(c->last, sizeof c->last, "%d%s %.*s", rep->code, enh, (int)n, l ? l->ptr : "");
  /* keep the detail printable */
  for (char *p = c->last; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
  c->code = rep->code;
}

/* The next reply. @p wait_ms: at most this long for its first byte (-1:
 * until the deadline). Returns 1 with c->code/c->last set, 0 when nothing
 * came in time, -1 when the connection ended, -2 on a malformed reply. */
static int pc_reply_wait(pc *c, int wait_ms) {
  int started = 0;
  for (;;) {
    if (c->blen) {
      smtp_ssize k = smtp_reply_parser_feed(c->rp, c->buf, c->blen);
      if (k < 0) {
        c->why = "malformed reply";
        return -2;
      }
      memmove(c->buf, c->buf + k, c->blen - (size_t)k);
      c->blen -= (size_t)k;
      started = 1;
      if (smtp_reply_parser_done(c->rp)) {
        const smtp_reply *rep = smtp_reply_parser_reply(c->rp);
        if (rep->code == 250 && rep->nlines >= 1) {
          smtp_capabilities caps;
          if (smtp_capabilities_parse(rep, &caps) == SMTP_OK) {
            c->caps = caps.flags;
            c->size_max = caps.size_max;
            c->size_has_value = caps.size_has_value;
          }
        }
        summarize(c, rep);
        smtp_reply_parser_reset(c->rp);
        return 1;
      }
    }
    {
      int r = pc_fill(c, started ? -1 : wait_ms);
      if (r < 0) return started ? -2 : -1;
      if (r == 0) {
        if (started || pc_left(c) == 0) c->why = started ? "reply cut short (timed out)" : "timed out";
        return started ? -2 : 0;
      }
    }
  }
}

static int pc_reply(pc *c) {
  int r = pc_reply_wait(c, -1);
  if (r == 0) c->why = "timed out waiting for a reply";
  return r == 1 ? 0 : -1;
}

static int pc_write(pc *c, const char *p, size_t n) {
  if (!c->tls) return sock_write(c, p, n);
  while (n) {
    smtp_ssize w = smtp_tls_write(c->tls, p, n);
    if (w == SMTP_ERR_WOULDBLOCK) {
      if (tls_flush(c) != 0) return -1;
      continue;
    }
    if (w < 0) {
      c->why = "TLS write failed";
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return tls_flush(c);
}

/* Send "LINE\r\n" and read its reply. Returns 0 (c->code set) or -1. */
static int pc_cmd(pc *c, const char *fmt, ...) {
  char line[1200];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof line - 2, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line - 2) return -1;
  memcpy(line + n, "\r\n", 2);
  if (pc_write(c, line, (size_t)n + 2) != 0) return -1;
  return pc_reply(c);
}

static int tls_handshake(probe *P, pc *c) {
  int r;
  if (smtp_tls_conn_new(&c->tls, P->tls, P->ca_file ? P->host : NULL, NULL) != SMTP_OK) {
    c->why = "TLS set-up failed";
    return -1;
  }
  for (;;) {
    char tmp[16384];
    smtp_ssize k;
    r = smtp_tls_handshake(c->tls);
    if (tls_flush(c) != 0) return -1;
    if (r == 0) return 0;
    if (r != SMTP_ERR_WOULDBLOCK) {
      c->why = r == SMTP_ERR_TLS_VERIFY ? "TLS certificate did not verify" : "TLS handshake failed";
      return -1;
    }
    k = sock_read(c, tmp, smtp_tls_feed_space(c->tls) < sizeof tmp ? smtp_tls_feed_space(c->tls) : sizeof tmp,
                  -1);
    if (k == 0) {
      c->why = "TLS handshake timed out";
      return -1;
    }
    if (k < 0) smtp_tls_feed_eof(c->tls);
    else smtp_tls_feed(c->tls, tmp, (size_t)k);
  }
}

static void pc_close(pc *c) {
  if (c->fd >= 0) {
    if (!c->eof) {
      int64_t d = now_ms() + 1000;
      if (d < c->deadline) c->deadline = d;
      if (pc_write(c, "QUIT\r\n", 6) == 0) (void)pc_reply_wait(c, 1000);
    }
    close(c->fd);
  }
  c->fd = -1;
  smtp_tls_conn_del(c->tls);
  c->tls = NULL;
  smtp_reply_parser_del(c->rp);
  c->rp = NULL;
}

/* Connect, read the greeting, EHLO, STARTTLS as --starttls says. Returns 0,
 * or -1 with c->why set. @p no_tls: stay in plaintext (starttls-injection
 * does its own). */
static int pc_open(probe *P, pc *c, int no_tls) {
  struct addrinfo hints, *res = NULL, *ai;
  memset(c, 0, sizeof *c);
  c->fd = -1;
  c->deadline = now_ms() + P->timeout_ms;
  if (smtp_reply_parser_new(&c->rp, 0, 0, NULL) != SMTP_OK) {
    c->why = "out of memory";
    return -1;
  }
  smtp_reply_parser_set_enhanced(c->rp, 1);
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  if (getaddrinfo(P->host, P->port, &hints, &res) != 0) {
    c->why = "cannot resolve the server";
    return -1;
  }
  c->why = "cannot connect";
  for (ai = res; ai && c->fd < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    struct pollfd pfd;
    int err = 0;
    socklen_t el = sizeof err;
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      close(fd);
      continue;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, pc_left(c)) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
      close(fd);
      continue;
    }
    c->fd = fd;
  }
  freeaddrinfo(res);
  if (c->fd < 0) return -1;
  if (pc_reply(c) != 0) return -1;
  if (c->code != 220) {
    c->why = "greeting is not 220";
    return -1;
  }
  if (pc_cmd(c, "EHLO %s", P->helo) != 0) return -1;
  if (c->code != 250) {
    c->why = "EHLO refused";
    return -1;
  }
  if (no_tls || P->starttls == 0) return 0;
  if (!(c->caps & SMTP_EXT_STARTTLS) || !smtp_tls_available()) {
    if (P->starttls == 2) {
      c->why = smtp_tls_available() ? "STARTTLS not offered (--starttls required)" : "no TLS in this build";
      return -1;
    }
    return 0;
  }
  if (pc_cmd(c, "STARTTLS") != 0) return -1;
  if (c->code != 220) {
    if (P->starttls == 2) {
      c->why = "STARTTLS refused";
      return -1;
    }
    return 0;
  }
  c->blen = 0;
  if (tls_handshake(P, c) != 0) return -1;
  c->caps = 0;
  if (pc_cmd(c, "EHLO %s", P->helo) != 0) return -1;
  if (c->code != 250) {
    c->why = "EHLO after STARTTLS refused";
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Checks.                                                                   */

static int wanted(const probe *P, const char *name) {
  if (P->nonly == 0) return 1;
  for (size_t i = 0; i < P->nonly; i++)
    if (!strcmp(P->only[i], name)) return 1;
  return 0;
}

/* Open a connection for a check; on failure report it and return -1. */
static int open_for(probe *P, pc *c, const char *name, int no_tls) {
  if (pc_open(P, c, no_tls) == 0) return 0;
  report(P, name, R_FAIL, "session set-up failed: %s%s%s", c->why ? c->why : "error",
         c->last[0] ? ": " : "", c->last);
  pc_close(c);
  return -1;
}

/* MAIL and RCPT for the test transaction. Returns 0, or reports and returns -1. */
static int envelope(probe *P, pc *c, const char *name) {
  if (pc_cmd(c, "MAIL FROM:<%s>", P->from) != 0) {
    report(P, name, R_FAIL, "MAIL: %s", c->why);
    return -1;
  }
  if (c->code != 250) {
    report(P, name, R_SKIP, "MAIL refused: %s", c->last);
    return -1;
  }
  if (pc_cmd(c, "RCPT TO:<%s>", P->to) != 0) {
    report(P, name, R_FAIL, "RCPT: %s", c->why);
    return -1;
  }
  if (c->code / 100 != 2) {
    report(P, name, R_SKIP, "RCPT refused: %s", c->last);
    return -1;
  }
  return 0;
}

/* Collect replies until the server is quiet for @p idle_ms (or the
 * deadline). Returns how many came; codes in @p codes. *@p broken: the
 * connection ended or a reply was malformed. */
static int collect(pc *c, int first_wait, int idle_ms, int *codes, int max, char *first, size_t fcap,
                   int *broken) {
  int n = 0;
  *broken = 0;
  for (;;) {
    int r = pc_reply_wait(c, n == 0 ? first_wait : idle_ms);
    if (r == 1) {
      if (n == 0) snprintf(first, fcap, "%s", c->last);
      if (n < max) codes[n] = c->code;
      n++;
      continue;
    }
    if (r < 0) *broken = 1;
    return n;
  }
}

static void fmt_codes(char *out, size_t cap, const int *codes, int n, int max) {
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < n && i < max && len + 6 < cap; i++)
    len += (size_t)snprintf(out + len, cap - len, "%s%d", i ? " " : "", codes[i]);
}

/* smuggling-<variant> (DATA) and smuggling-bdat-<variant> (inside one BDAT
 * chunk): a message whose body holds an end-of-data look-alike followed by
 * a second transaction. A server that ends the data at the look-alike runs
 * that transaction: more than one reply comes back, and a 354 among them. */
static void check_smuggling(probe *P, size_t v, int bdat) {
  char name[64], msg[2048], hdr[64], first[300] = "", list[128];
  int codes[16], n, broken;
  size_t len = 0;
  pc c;
  snprintf(name, sizeof name, "smuggling-%s%s", bdat ? "bdat-" : "", variants[v].name);
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0) != 0) return;
  if (bdat && !(c.caps & SMTP_EXT_CHUNKING)) {
    report(P, name, R_SKIP, "CHUNKING not offered");
    pc_close(&c);
    return;
  }
  if (envelope(P, &c, name) != 0) {
    pc_close(&c);
    return;
  }
  len = (size_t)snprintf(msg, sizeof msg,
                         "From: <%s>\r\nTo: <%s>\r\nSubject: libsmtp probe %s\r\n\r\n"
                         "A test of end-of-data handling (RFC 5321 4.1.1.4).",
                         P->from, P->to, name);
  memcpy(msg + len, variants[v].seq, variants[v].len);
  len += variants[v].len;
  len += (size_t)snprintf(msg + len, sizeof msg - len,
                          "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\nSubject: libsmtp probe smuggled\r\n\r\n"
                          "smuggled\r\n",
                          P->from, P->to);
  if (!bdat) {
    if (pc_cmd(&c, "DATA") != 0 || c.code != 354) {
      report(P, name, c.code / 100 == 5 || c.code / 100 == 4 ? R_SKIP : R_FAIL, "DATA: %s",
             c.why && c.code != 354 && !c.last[0] ? c.why : c.last);
      pc_close(&c);
      return;
    }
    memcpy(msg + len, ".\r\n", 3);
    len += 3;
    if (pc_write(&c, msg, len) != 0) {
      report(P, name, R_FAIL, "%s", c.why);
      pc_close(&c);
      return;
    }
  } else {
    int k = snprintf(hdr, sizeof hdr, "BDAT %zu LAST\r\n", len);
    if (pc_write(&c, hdr, (size_t)k) != 0 || pc_write(&c, msg, len) != 0) {
      report(P, name, R_FAIL, "%s", c.why);
      pc_close(&c);
      return;
    }
  }
  n = collect(&c, -1, 1500, codes, 16, first, sizeof first, &broken);
  fmt_codes(list, sizeof list, codes, n, 16);
  if (n == 0) {
    report(P, name, R_FAIL, "no reply to the message (%s)", c.why ? c.why : "?");
  } else {
    int second = 0;
    for (int i = 1; i < n && i < 16; i++)
      if (codes[i] == 354) second = 1;
    if (second || n >= 3)
      report(P, name, R_FAIL, "the server ran a smuggled transaction: replies %s", list);
    else if (n == 2)
      report(P, name, R_FAIL, "two replies to one message: %s", list);
    else if (codes[0] / 100 == 2)
      report(P, name, R_PASS, "taken as one message: %s", first);
    else
      report(P, name, R_PASS, "refused: %s", first);
  }
  pc_close(&c);
}

/* STARTTLS with a NOOP in the same packet (RFC 3207 4.2, CVE-2011-0411):
 * nothing sent before the handshake may be answered after it. */
static void check_starttls_injection(probe *P) {
  const char *name = "starttls-injection";
  pc c;
  int r;
  if (!wanted(P, name)) return;
  if (!smtp_tls_available()) {
    report(P, name, R_SKIP, "this build has no TLS");
    return;
  }
  if (open_for(P, &c, name, 1) != 0) return;
  if (!(c.caps & SMTP_EXT_STARTTLS)) {
    report(P, name, R_SKIP, "STARTTLS not offered");
    pc_close(&c);
    return;
  }
  if (pc_write(&c, "STARTTLS\r\nNOOP\r\n", 16) != 0 || pc_reply(&c) != 0) {
    report(P, name, R_FAIL, "STARTTLS: %s", c.why);
    pc_close(&c);
    return;
  }
  if (c.code != 220) {
    report(P, name, R_SKIP, "STARTTLS refused: %s", c.last);
    pc_close(&c);
    return;
  }
  if (c.blen) {
    report(P, name, R_FAIL, "the NOOP was answered in plaintext before the handshake");
    pc_close(&c);
    return;
  }
  if (tls_handshake(P, &c) != 0) {
    report(P, name, R_SKIP, "%s", c.why);
    pc_close(&c);
    return;
  }
  /* before we send anything under TLS, the server must stay silent */
  r = pc_reply_wait(&c, 1500);
  if (r == 1)
    report(P, name, R_FAIL, "a command pipelined behind STARTTLS ran inside TLS: %s", c.last);
  else if (pc_cmd(&c, "EHLO %s", P->helo) != 0)
    report(P, name, R_FAIL, "EHLO under TLS: %s", c.why);
  else if (c.code != 250)
    report(P, name, R_FAIL, "EHLO under TLS got %s", c.last);
  else
    report(P, name, R_PASS, "the NOOP sent with STARTTLS was discarded");
  pc_close(&c);
}

/* A bare LF / bare CR inside a message (RFC 5321 2.3.8). Refusing and
 * accepting are both conforming; what fails is no reply, a closed
 * connection or more than one reply to one message. */
static void check_bare(probe *P, int lf) {
  const char *name = lf ? "bare-lf" : "bare-cr";
  char msg[512], first[300] = "", list[64];
  int codes[8], n, broken, k;
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0) != 0) return;
  if (envelope(P, &c, name) != 0) {
    pc_close(&c);
    return;
  }
  if (pc_cmd(&c, "DATA") != 0 || c.code != 354) {
    report(P, name, c.code / 100 >= 4 ? R_SKIP : R_FAIL, "DATA: %s", c.last[0] ? c.last : c.why);
    pc_close(&c);
    return;
  }
  k = snprintf(msg, sizeof msg, "From: <%s>\r\nTo: <%s>\r\nSubject: libsmtp probe %s\r\n\r\nline one%sline two\r\n.\r\n",
               P->from, P->to, name, lf ? "\n" : "\r");
  if (pc_write(&c, msg, (size_t)k) != 0) {
    report(P, name, R_FAIL, "%s", c.why);
    pc_close(&c);
    return;
  }
  n = collect(&c, -1, 1000, codes, 8, first, sizeof first, &broken);
  fmt_codes(list, sizeof list, codes, n, 8);
  if (n == 0)
    report(P, name, R_FAIL, "no reply to the message (%s)", c.why ? c.why : "?");
  else if (n > 1)
    report(P, name, R_FAIL, "%d replies to one message: %s", n, list);
  else if (codes[0] / 100 == 2)
    report(P, name, R_PASS, "accepted inside the message: %s", first);
  else
    report(P, name, R_PASS, "refused: %s", first);
  pc_close(&c);
}

/* SIZE (RFC 1870 4-6): a declared size over the advertised limit is
 * refused at MAIL (552), and so is a message over it at the end of data. */
static void check_size(probe *P) {
  const char *name = "size-enforced";
  pc c;
  uint64_t lim;
  char declared[300];
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0) != 0) return;
  if (!(c.caps & SMTP_EXT_SIZE) || !c.size_has_value) {
    report(P, name, R_SKIP, (c.caps & SMTP_EXT_SIZE) ? "SIZE without a fixed limit" : "SIZE not offered");
    pc_close(&c);
    return;
  }
  lim = c.size_max;
  if (pc_cmd(&c, "MAIL FROM:<%s> SIZE=%llu", P->from, (unsigned long long)lim + 1) != 0) {
    report(P, name, R_FAIL, "MAIL SIZE=%llu: %s", (unsigned long long)lim + 1, c.why);
    pc_close(&c);
    return;
  }
  if (c.code / 100 == 2) {
    report(P, name, R_FAIL, "MAIL with SIZE=%llu over the advertised %llu accepted: %s",
           (unsigned long long)lim + 1, (unsigned long long)lim, c.last);
    pc_close(&c);
    return;
  }
  snprintf(declared, sizeof declared, "%s", c.last);
  if (lim > 4u * 1024 * 1024) {
    report(P, name, R_PASS, "SIZE=%llu refused: %s (limit %llu; message not sent, too large)",
           (unsigned long long)lim + 1, declared, (unsigned long long)lim);
    pc_close(&c);
    return;
  }
  /* send lim + 1 KiB of data without declaring it (RSET first: Postfix keeps
   * refusing MAIL after a refused SIZE until then) */
  if (pc_cmd(&c, "RSET") != 0 || envelope(P, &c, name) != 0) {
    pc_close(&c);
    return;
  }
  if (pc_cmd(&c, "DATA") != 0 || c.code != 354) {
    report(P, name, R_SKIP, "DATA: %s", c.last);
    pc_close(&c);
    return;
  }
  {
    static char line[80];
    uint64_t sent = 0;
    int ok = 1;
    memset(line, 'x', 76);
    memcpy(line + 76, "\r\n", 2);
    if (pc_write(&c, "Subject: libsmtp probe size-enforced\r\n\r\n", 40) != 0) ok = 0;
    while (ok && sent < lim + 1024) {
      if (pc_write(&c, line, 78) != 0) ok = 0;
      sent += 78;
    }
    if (ok && pc_write(&c, ".\r\n", 3) != 0) ok = 0;
    if (ok && pc_reply(&c) == 0) {
      if (c.code / 100 == 2)
        report(P, name, R_FAIL, "a message of %llu octets over the limit %llu accepted: %s",
               (unsigned long long)sent, (unsigned long long)lim, c.last);
      else
        report(P, name, R_PASS, "SIZE=%llu refused (%s); %llu octets refused (%s)",
               (unsigned long long)lim + 1, declared, (unsigned long long)sent, c.last);
    } else if (c.eof) {
      report(P, name, R_PASS, "SIZE=%llu refused (%s); the oversized message ended the connection",
             (unsigned long long)lim + 1, declared);
    } else {
      report(P, name, R_FAIL, "oversized message: %s", c.why ? c.why : "no reply");
    }
  }
  pc_close(&c);
}

/* A command line over 512 octets (RFC 5321 4.5.3.1.4): refused (500) or
 * accepted whole; its tail must never run as a command of its own. The
 * line is "NOOP xxx...xxxQUIT" with QUIT at octet 513; then a NOOP alone. */
static void check_line_length(probe *P) {
  const char *name = "line-length";
  char line[600], first[300] = "", list[64];
  int codes[8], n, broken;
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0) != 0) return;
  memcpy(line, "NOOP ", 5);
  memset(line + 5, 'x', 507);
  memcpy(line + 512, "QUIT\r\n", 6);
  if (pc_write(&c, line, 518) != 0) {
    report(P, name, R_FAIL, "%s", c.why);
    pc_close(&c);
    return;
  }
  n = collect(&c, -1, 1000, codes, 8, first, sizeof first, &broken);
  fmt_codes(list, sizeof list, codes, n, 8);
  if (n == 0) {
    report(P, name, R_FAIL, "no reply to a 518-octet line (%s)", c.why ? c.why : "?");
  } else if (n > 1 || codes[0] == 221) {
    report(P, name, R_FAIL, "the tail of a long line ran as a command: replies %s", list);
  } else if (broken) {
    report(P, name, R_FAIL, "%s after %s", c.why ? c.why : "connection ended", first);
  } else if (pc_cmd(&c, "NOOP") != 0) {
    report(P, name, R_FAIL, "NOOP after the long line: %s", c.why);
  } else if (c.code != 250) {
    report(P, name, R_FAIL, "NOOP after the long line got %s", c.last);
  } else {
    report(P, name, R_PASS, "%s: %s; the session goes on", codes[0] / 100 == 5 ? "refused" : "accepted", first);
  }
  pc_close(&c);
}

/* RFC 5321 4.5.1: <Postmaster> without a domain must be accepted. */
static void check_postmaster(probe *P) {
  const char *name = "postmaster";
  const char *at = strrchr(P->to, '@');
  char bare[300] = "", dom[300] = "";
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0) != 0) return;
  if (pc_cmd(&c, "MAIL FROM:<%s>", P->from) != 0 || c.code != 250) {
    report(P, name, c.code / 100 >= 4 ? R_SKIP : R_FAIL, "MAIL: %s", c.last[0] ? c.last : c.why);
    pc_close(&c);
    return;
  }
  if (pc_cmd(&c, "RCPT TO:<Postmaster>") != 0) {
    report(P, name, R_FAIL, "RCPT TO:<Postmaster>: %s", c.why);
    pc_close(&c);
    return;
  }
  snprintf(bare, sizeof bare, "%s", c.last);
  if (c.code / 100 != 2) {
    report(P, name, R_FAIL, "RCPT TO:<Postmaster> refused: %s", bare);
    pc_close(&c);
    return;
  }
  if (at && pc_cmd(&c, "RCPT TO:<postmaster@%s>", at + 1) == 0) snprintf(dom, sizeof dom, "%s", c.last);
  (void)pc_cmd(&c, "RSET");
  if (at && dom[0])
    report(P, name, R_PASS, "<Postmaster>: %s; <postmaster@%s>: %s", bare, at + 1, dom);
  else
    report(P, name, R_PASS, "<Postmaster>: %s", bare);
  pc_close(&c);
}

/* RFC 5321 4.5.5 / 6.1: the null reverse-path must be accepted. */
static void check_null_sender(probe *P) {
  const char *name = "null-sender";
  char mail[300];
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0) != 0) return;
  if (pc_cmd(&c, "MAIL FROM:<>") != 0) {
    report(P, name, R_FAIL, "MAIL FROM:<>: %s", c.why);
  } else if (c.code / 100 != 2) {
    report(P, name, R_FAIL, "MAIL FROM:<> refused: %s", c.last);
  } else {
    snprintf(mail, sizeof mail, "%s", c.last);
    if (pc_cmd(&c, "RCPT TO:<%s>", P->to) != 0)
      report(P, name, R_FAIL, "RCPT after MAIL FROM:<>: %s", c.why);
    else if (c.code / 100 != 2)
      report(P, name, R_FAIL, "RCPT after MAIL FROM:<> refused: %s", c.last);
    else
      report(P, name, R_PASS, "MAIL FROM:<>: %s; RCPT: %s", mail, c.last);
    (void)pc_cmd(&c, "RSET");
  }
  pc_close(&c);
}

/* RFC 2920: with PIPELINING, a group of commands in one write gets one
 * reply each, in order. */
static void check_pipelining(probe *P) {
  const char *name = "pipelining";
  char buf[800], first[300], list[64];
  int codes[8], n, broken, k;
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0) != 0) return;
  if (!(c.caps & SMTP_EXT_PIPELINING)) {
    report(P, name, R_SKIP, "PIPELINING not offered");
    pc_close(&c);
    return;
  }
  k = snprintf(buf, sizeof buf, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nRSET\r\nNOOP\r\n", P->from, P->to);
  if (pc_write(&c, buf, (size_t)k) != 0) {
    report(P, name, R_FAIL, "%s", c.why);
    pc_close(&c);
    return;
  }
  n = collect(&c, -1, 1000, codes, 8, first, sizeof first, &broken);
  fmt_codes(list, sizeof list, codes, n, 8);
  if (n != 4)
    report(P, name, R_FAIL, "%d replies to 4 pipelined commands: %s", n, n ? list : "(none)");
  else if (codes[0] == 250 && codes[1] / 100 == 2 && codes[2] == 250 && codes[3] == 250)
    report(P, name, R_PASS, "4 pipelined commands, 4 replies in order: %s", list);
  else if (codes[2] == 250 && codes[3] == 250)
    report(P, name, R_PASS, "4 replies in order (MAIL/RCPT refused: %s)", list);
  else
    report(P, name, R_FAIL, "replies %s to MAIL RCPT RSET NOOP", list);
  pc_close(&c);
}

/* RFC 3030: BDAT chunks (one empty LAST chunk included) are each answered. */
static void check_chunking(probe *P) {
  const char *name = "chunking";
  char buf[400], r1[300];
  int k;
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0) != 0) return;
  if (!(c.caps & SMTP_EXT_CHUNKING)) {
    report(P, name, R_SKIP, "CHUNKING not offered");
    pc_close(&c);
    return;
  }
  if (envelope(P, &c, name) != 0) {
    pc_close(&c);
    return;
  }
  k = snprintf(buf, sizeof buf, "Subject: libsmtp probe chunking\r\n\r\nfirst chunk\r\n");
  {
    char hdr[64];
    int h = snprintf(hdr, sizeof hdr, "BDAT %d\r\n", k);
    if (pc_write(&c, hdr, (size_t)h) != 0 || pc_write(&c, buf, (size_t)k) != 0 || pc_reply(&c) != 0) {
      report(P, name, R_FAIL, "BDAT %d: %s", k, c.why);
      pc_close(&c);
      return;
    }
  }
  snprintf(r1, sizeof r1, "%s", c.last);
  if (c.code / 100 != 2) {
    report(P, name, R_FAIL, "BDAT chunk refused: %s", r1);
    pc_close(&c);
    return;
  }
  if (pc_cmd(&c, "BDAT 0 LAST") != 0) {
    report(P, name, R_FAIL, "BDAT 0 LAST: %s", c.why);
  } else if (c.code / 100 != 2) {
    report(P, name, R_FAIL, "BDAT 0 LAST refused: %s", c.last);
  } else {
    report(P, name, R_PASS, "BDAT %d: %s; BDAT 0 LAST: %s", k, r1, c.last);
  }
  pc_close(&c);
}

/* VRFY / EXPN (RFC 5321 3.5, 7.3): informational; 252 or 502 expose
 * nothing, 250 confirms addresses. Only a broken reply fails. */
static void check_vrfy_expn(probe *P, int expn) {
  const char *name = expn ? "expn" : "vrfy";
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0) != 0) return;
  if (pc_cmd(&c, "%s %s", expn ? "EXPN" : "VRFY", P->to) != 0)
    report(P, name, R_FAIL, "%s: %s", expn ? "EXPN" : "VRFY", c.why);
  else if (c.code == 250 || c.code == 251)
    report(P, name, R_PASS, "exposed: %s confirms <%s>: %s", expn ? "EXPN" : "VRFY", P->to, c.last);
  else
    report(P, name, R_PASS, "not exposed: %s", c.last);
  pc_close(&c);
}

/* ------------------------------------------------------------------------ */

static void usage(FILE *f) {
  fputs("usage: smtp-probe --server HOST[:PORT] --from ADDR --to ADDR [options]\n"
        "Conformance and security checks against an SMTP server. Each check runs on its own\n"
        "connection and prints \"PASS name: detail\", \"FAIL name: detail\" or \"SKIP name: reason\".\n"
        "\n"
        "The probe uses only the addresses it is given: --from as the sender and --to as the\n"
        "recipient (the postmaster check also sends RCPT TO:<Postmaster> and\n"
        "postmaster@<domain of --to>, without sending a message). Several checks deliver a\n"
        "small test message to --to; the smuggling checks may deliver two when the server\n"
        "is vulnerable.\n"
        "\n"
        "  --server HOST[:PORT]  the server (default port 25; IPv6 as [addr]:port)\n"
        "  --from ADDR           reverse-path of the test messages\n"
        "  --to ADDR             the recipient to use (required; the first one given is used)\n"
        "  --helo NAME           EHLO name (default: the host name, or localhost)\n"
        "  --starttls POLICY     off | opportunistic (default) | required: STARTTLS before the checks\n"
        "  --ca-file FILE        verify the server's certificate (default: not verified)\n"
        "  --check NAME          run only this check (repeatable)\n"
        "  --timeout SECONDS     deadline of each check's connection (default 10)\n"
        "  --json                print one JSON object instead of the lines\n"
        "  --help                this text\n"
        "\n"
        "Checks: smuggling-<variant> and smuggling-bdat-<variant> for the variants\n"
        "  lf-dot-lf lf-dot-crlf crlf-dot-lf cr-dot-cr cr-dot-crlf crlf-dot-cr crlf-dot-cr-crlf\n"
        "  crlf-nul-dot-crlf lf-lf cr-cr lf-crlf crlf-lf (FAIL when the server runs a second,\n"
        "  smuggled transaction); starttls-injection bare-lf bare-cr size-enforced line-length\n"
        "  postmaster null-sender pipelining chunking vrfy expn.\n"
        "Exit status: 0 nothing failed, 1 something failed, 2 no working first connection,\n"
        "64 usage error.\n",
        f);
}

static int usage_error(const char *msg, const char *arg) {
  if (arg) fprintf(stderr, "smtp-probe: %s: %s (see --help)\n", msg, arg);
  else fprintf(stderr, "smtp-probe: %s (see --help)\n", msg);
  return EX_USAGE;
}

static int known_check(const char *n) {
  for (size_t i = 0; i < NPLAIN; i++)
    if (!strcmp(n, plain_checks[i])) return 1;
  if (!strncmp(n, "smuggling-", 10)) {
    const char *v = n + 10;
    if (!strncmp(v, "bdat-", 5)) v += 5;
    for (size_t i = 0; i < NVARIANTS; i++)
      if (!strcmp(v, variants[i].name)) return 1;
  }
  return 0;
}

static int parse_server(probe *P, const char *s) {
  const char *host = s, *port = NULL;
  size_t hl;
  if (s[0] == '[') {
    const char *cl = strchr(s, ']');
    if (!cl || (cl[1] && cl[1] != ':')) return -1;
    host = s + 1;
    hl = (size_t)(cl - host);
    if (cl[1] == ':') port = cl + 2;
  } else {
    const char *colon = strchr(s, ':');
    if (colon && strchr(colon + 1, ':')) return -1;
    hl = colon ? (size_t)(colon - s) : strlen(s);
    if (colon) port = colon + 1;
  }
  if (hl == 0 || hl >= sizeof P->host) return -1;
  memcpy(P->host, host, hl);
  P->host[hl] = '\0';
  for (size_t i = 0; i < hl; i++)
    if ((unsigned char)P->host[i] <= 0x20 || (unsigned char)P->host[i] >= 0x7f) return -1;
  if (port) {
    long v = 0;
    size_t pl = strlen(port);
    if (pl == 0 || pl > 5) return -1;
    for (size_t i = 0; i < pl; i++) {
      if (port[i] < '0' || port[i] > '9') return -1;
      v = v * 10 + (port[i] - '0');
    }
    if (v < 1 || v > 65535) return -1;
    snprintf(P->port, sizeof P->port, "%ld", v);
  } else {
    snprintf(P->port, sizeof P->port, "25");
  }
  return 0;
}

static int valid_mailbox(const char *a, int allow_null) {
  smtp_mailbox mb;
  size_t n = strlen(a);
  if (n == 0) return allow_null;
  return n <= SMTP_PATH_MAX && smtp_parse_mailbox(a, n, SMTP_PARSE_UTF8, &mb) == SMTP_OK;
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') printf("\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f) printf("\\u%04x", ch);
    else putchar(ch);
  }
  putchar('"');
}

int main(int argc, char **argv) {
  static probe P;
  pc c;
  int have_to = 0;
  P.starttls = 1;
  P.timeout_ms = 10000;
  if (gethostname(P.helo, sizeof P.helo - 1) != 0 || smtp_parse_domain(P.helo, strlen(P.helo), 0) != SMTP_OK)
    snprintf(P.helo, sizeof P.helo, "localhost");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--json")) {
      P.json = 1;
      continue;
    }
    if (a[0] != '-') return usage_error("unexpected argument", a);
    if (strcmp(a, "--server") && strcmp(a, "--from") && strcmp(a, "--to") && strcmp(a, "--helo") &&
        strcmp(a, "--starttls") && strcmp(a, "--ca-file") && strcmp(a, "--check") && strcmp(a, "--timeout"))
      return usage_error("unknown option", a);
    if (!v) return usage_error("option needs a value", a);
    i++;
    if (!strcmp(a, "--server")) {
      if (parse_server(&P, v) != 0) return usage_error("bad --server value", v);
    } else if (!strcmp(a, "--from")) {
      if (!valid_mailbox(v, 1)) return usage_error("bad --from address", v);
      P.from = v;
    } else if (!strcmp(a, "--to")) {
      if (!valid_mailbox(v, 0)) return usage_error("bad --to address", v);
      if (!have_to) P.to = v;
      have_to = 1;
    } else if (!strcmp(a, "--helo")) {
      if (strlen(v) >= sizeof P.helo || smtp_parse_ehlo_arg(v, strlen(v), 0, NULL) != SMTP_OK)
        return usage_error("bad --helo", v);
      snprintf(P.helo, sizeof P.helo, "%s", v);
    } else if (!strcmp(a, "--starttls")) {
      if (!strcmp(v, "off")) P.starttls = 0;
      else if (!strcmp(v, "opportunistic")) P.starttls = 1;
      else if (!strcmp(v, "required")) P.starttls = 2;
      else return usage_error("bad --starttls (off, opportunistic, required)", v);
    } else if (!strcmp(a, "--ca-file")) {
      if (!*v) return usage_error("bad --ca-file", v);
      P.ca_file = v;
    } else if (!strcmp(a, "--check")) {
      if (!known_check(v)) return usage_error("unknown check", v);
      if (P.nonly >= MAX_CHECKS) return usage_error("too many --check", v);
      P.only[P.nonly++] = v;
    } else if (!strcmp(a, "--timeout")) {
      char *end;
      double d = strtod(v, &end);
      if (*end || end == v || !(d >= 0.1 && d <= 3600)) return usage_error("bad --timeout (0.1..3600)", v);
      P.timeout_ms = (int)(d * 1000);
    }
  }
  if (!P.host[0]) return usage_error("--server is required", NULL);
  if (!P.from) return usage_error("--from is required ('' for the null path)", NULL);
  if (!P.to) return usage_error("--to is required", NULL);
  if (P.starttls == 2 && !smtp_tls_available()) {
    fprintf(stderr, "smtp-probe: --starttls required but this build has no TLS\n");
    return 2;
  }
  if (smtp_tls_available()) {
    if (smtp_tls_config_new(&P.tls, SMTP_TLS_CLIENT, NULL) != SMTP_OK ||
        (P.ca_file ? smtp_tls_config_ca_file(P.tls, P.ca_file) != SMTP_OK ||
                         smtp_tls_config_set_verify(P.tls, SMTP_TLS_VERIFY_REQUIRED) != SMTP_OK
                   : smtp_tls_config_set_verify(P.tls, SMTP_TLS_VERIFY_NONE) != SMTP_OK)) {
      fprintf(stderr, "smtp-probe: TLS set-up failed%s%s\n", P.ca_file ? " for " : "", P.ca_file ? P.ca_file : "");
      smtp_tls_config_del(P.tls);
      return P.ca_file ? EX_USAGE : 2;
    }
  }

  /* The first connection: can we talk to it at all? */
  if (pc_open(&P, &c, 0) != 0) {
    fprintf(stderr, "smtp-probe: %s:%s: %s%s%s\n", P.host, P.port, c.why ? c.why : "failed",
            c.last[0] ? ": " : "", c.last);
    if (P.json) {
      printf("{\"server\":");
      json_str(P.host);
      printf(",\"port\":%s,\"error\":", P.port);
      json_str(c.why ? c.why : "failed");
      printf(",\"checks\":[]}\n");
    }
    pc_close(&c);
    smtp_tls_config_del(P.tls);
    return 2;
  }
  pc_close(&c);

  for (size_t v = 0; v < NVARIANTS; v++) check_smuggling(&P, v, 0);
  for (size_t v = 0; v < NVARIANTS; v++) check_smuggling(&P, v, 1);
  check_starttls_injection(&P);
  check_bare(&P, 1);
  check_bare(&P, 0);
  check_size(&P);
  check_line_length(&P);
  check_postmaster(&P);
  check_null_sender(&P);
  check_pipelining(&P);
  check_chunking(&P);
  check_vrfy_expn(&P, 0);
  check_vrfy_expn(&P, 1);

  if (P.json) {
    printf("{\"server\":");
    json_str(P.host);
    printf(",\"port\":%s,\"checks\":[", P.port);
    for (size_t i = 0; i < P.nres; i++) {
      printf("%s{\"name\":", i ? "," : "");
      json_str(P.res[i].name);
      printf(",\"result\":\"%s\",\"detail\":", result_names[P.res[i].result]);
      json_str(P.res[i].detail);
      putchar('}');
    }
    printf("]}\n");
  }
  smtp_tls_config_del(P.tls);
  return P.failed ? 1 : 0;
}
