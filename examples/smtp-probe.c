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
 * Every connection is opened by the library's client session (smtp/client.h,
 * event mode): the greeting, EHLO (HELO when EHLO is refused), STARTTLS with
 * the library's TLS connection (smtp/tls.h) and the EHLO after it
 * (RFC 3207 4.2), the capabilities. The checks then go on with the session
 * where the session can say what they need:
 *   - null-sender, pipelining, chunking: a whole transaction of the session
 *     (MAIL FROM:<>; MAIL, RCPT and DATA pipelined; the body in BDAT);
 *   - vrfy, expn: smtp_client_session_command(), the session's call for a
 *     command line of the application's;
 *   - postmaster: MAIL and the two RCPTs of a session transaction (without
 *     PIPELINING, so nothing is sent after the last RCPT before the probe
 *     looks at its reply); the DATA the session then queues is never
 *     written: no message goes to the postmaster.
 *   - smuggling-*, bare-lf, bare-cr: MAIL, RCPT and DATA (the 354), or MAIL
 *     and RCPT before BDAT, by a session transaction; the body is written by
 *     the probe.
 * From the point noted above the probe writes the bytes itself and reads
 * the replies with the library's reply parser (smtp/reply.h): "taking the
 * connection over" deletes the session, whose pending output is dropped.
 * A raw write is needed exactly where the check sends what the client
 * session refuses to send, by design:
 *   - a body with an end-of-data look-alike, a bare CR or a bare LF, or a
 *     NUL (smuggling-*, bare-*): the session turns bare CR and LF into CRLF,
 *     dot-stuffs (RFC 5321 4.5.2) and refuses a NUL in a body;
 *   - a BDAT chunk whose length the probe chooses, around such a body
 *     (smuggling-bdat-*): the session frames the chunks itself;
 *   - a command pipelined behind STARTTLS (starttls-injection): RFC 2920 3.1
 *     and RFC 3207 4.2 make STARTTLS the last command of a group, and the
 *     session refuses STARTTLS through smtp_client_session_command();
 *   - a declared SIZE over the server's limit, and a body over it
 *     (size-enforced): the session refuses such a transaction locally
 *     (RFC 1870 6) and sends nothing;
 *   - a command line of 518 octets (line-length): the session refuses lines
 *     over 512 octets (RFC 5321 4.5.3.1.4).
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
/* A connection: socket, optional TLS, the client session until a check
 * takes the connection over, then the raw reply parser; one deadline. */

typedef struct pc {
  int fd;
  smtp_tls_conn *tls;
  smtp_client_session *cs; /* the library's client; NULL once taken over */
  smtp_client_options *opt;
  smtp_client_txn *txn;    /* the check's transaction on the session */
  int cs_closed;           /* the session's CLOSED event came */
  int cs_failed;           /* mem_recv() failed (sticky) */
  unsigned int write_lines;/* most command lines the session had in one write */
  int body_started;        /* the session's BODY_START came (the 354 to DATA, or BDAT's turn) */
  smtp_reply_parser *rp;   /* replies once the probe writes the bytes itself */
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

/* The TLS handshake over the socket. Returns 0, or an SMTP_ERR_TLS_*
 * code with c->why set. */
static int tls_handshake(probe *P, pc *c) {
  int r;
  if (smtp_tls_conn_new(&c->tls, P->tls, P->ca_file ? P->host : NULL, NULL) != SMTP_OK) {
    c->why = "TLS set-up failed";
    return SMTP_ERR_TLS_HANDSHAKE;
  }
  for (;;) {
    char tmp[16384];
    smtp_ssize k;
    r = smtp_tls_handshake(c->tls);
    if (tls_flush(c) != 0) return SMTP_ERR_TLS_HANDSHAKE;
    if (r == 0) return 0;
    if (r != SMTP_ERR_WOULDBLOCK) {
      c->why = r == SMTP_ERR_TLS_VERIFY ? "TLS certificate did not verify" : "TLS handshake failed";
      return r == SMTP_ERR_TLS_VERIFY ? r : SMTP_ERR_TLS_HANDSHAKE;
    }
    k = sock_read(c, tmp, smtp_tls_feed_space(c->tls) < sizeof tmp ? smtp_tls_feed_space(c->tls) : sizeof tmp,
                  -1);
    if (k == 0) {
      c->why = "TLS handshake timed out";
      return SMTP_ERR_TLS_HANDSHAKE;
    }
    if (k < 0) smtp_tls_feed_eof(c->tls);
    else smtp_tls_feed(c->tls, tmp, (size_t)k);
  }
}

/* Run the client session until its next event: write what it queues, run
 * the TLS handshake when it asks, feed it what the server sends. Returns 1
 * with *ev (its reply summarized into c->last/c->code), or -1 when the
 * session is over without one (c->why says why). */
static int cs_next(probe *P, pc *c, smtp_client_event *ev) {
  for (;;) {
    const char *out;
    smtp_ssize n;
    int r;
    if (smtp_client_session_next_event(c->cs, ev)) {
      if (ev->reply) summarize(c, ev->reply);
      if (ev->type == SMTP_CLIENT_EVENT_CAPABILITIES && ev->caps) {
        c->caps = ev->caps->flags;
        c->size_max = ev->caps->size_max;
        c->size_has_value = ev->caps->size_has_value;
      } else if (ev->type == SMTP_CLIENT_EVENT_GREETING && ev->reply && ev->reply->code != 220) {
        c->why = "greeting is not 220";
      } else if (ev->type == SMTP_CLIENT_EVENT_BODY_START) {
        c->body_started = 1;
      } else if (ev->type == SMTP_CLIENT_EVENT_CLOSED) {
        c->cs_closed = 1;
        if (ev->error && !c->why) c->why = smtp_strerror(ev->error);
      }
      return 1;
    }
    if (c->cs_closed || c->cs_failed) {
      if (!c->why) c->why = "the session ended";
      return -1;
    }
    n = smtp_client_session_mem_send(c->cs, &out);
    if (n < 0) {
      c->why = smtp_strerror((int)n);
      c->cs_failed = 1;
      continue;
    }
    if (n > 0) {
      unsigned int lines = 0;
      for (smtp_ssize i = 0; i + 1 < n; i++)
        if (out[i] == '\r' && out[i + 1] == '\n') lines++;
      if (lines > c->write_lines) c->write_lines = lines;
      if (pc_write(c, out, (size_t)n) != 0) {
        (void)smtp_client_session_connection_lost(c->cs);
        continue;
      }
      (void)smtp_client_session_mem_consume(c->cs, (size_t)n);
      continue;
    }
    if (smtp_client_session_want_tls(c->cs)) {
      /* the session refuses bytes after the 220 to STARTTLS itself */
      if ((r = tls_handshake(P, c)) != 0) {
        (void)smtp_client_session_tls_failed(c->cs, r);
      } else {
        smtp_tls_info ti;
        memset(&ti, 0, sizeof ti);
        (void)smtp_tls_get_info(c->tls, &ti);
        (void)smtp_client_session_tls_started(c->cs, &ti);
      }
      continue;
    }
    if (!smtp_client_session_want_read(c->cs) && !smtp_client_session_want_write(c->cs)) {
      if (!c->why) c->why = "the session ended";
      return -1;
    }
    if (c->blen) {
      smtp_ssize k = smtp_client_session_mem_recv(c->cs, c->buf, c->blen);
      if (k < 0) {
        if (!c->why) c->why = k == SMTP_ERR_PROTOCOL ? "malformed reply" : smtp_strerror((int)k);
        c->cs_failed = 1;
        continue;
      }
      memmove(c->buf, c->buf + k, c->blen - (size_t)k);
      c->blen -= (size_t)k;
      continue;
    }
    r = pc_fill(c, -1);
    if (r < 0) {
      (void)smtp_client_session_connection_lost(c->cs);
    } else if (r == 0) {
      c->why = "timed out";
      (void)smtp_client_session_timeout(c->cs);
    }
  }
}

/* From here on the probe writes the bytes itself: the session is deleted
 * with whatever it still had queued (the reasons are in the header). */
static void pc_takeover(pc *c) {
  smtp_client_session_del(c->cs);
  c->cs = NULL;
  smtp_client_txn_del(c->txn);
  c->txn = NULL;
}

static void pc_close(probe *P, pc *c) {
  if (c->fd >= 0) {
    int64_t d = now_ms() + 1000;
    if (d < c->deadline) c->deadline = d;
    if (c->cs && !c->cs_closed) {
      smtp_client_event ev;
      if (smtp_client_session_quit(c->cs) == SMTP_OK)
        while (cs_next(P, c, &ev) == 1 && ev.type != SMTP_CLIENT_EVENT_CLOSED) {
        }
    } else if (!c->cs && !c->eof) {
      if (pc_write(c, "QUIT\r\n", 6) == 0) (void)pc_reply_wait(c, 1000);
    }
    close(c->fd);
  }
  c->fd = -1;
  smtp_client_session_del(c->cs);
  c->cs = NULL;
  smtp_client_txn_del(c->txn);
  c->txn = NULL;
  smtp_client_options_del(c->opt);
  c->opt = NULL;
  smtp_tls_conn_del(c->tls);
  c->tls = NULL;
  smtp_reply_parser_del(c->rp);
  c->rp = NULL;
}

/* Connect and let the client session read the greeting, send EHLO and run
 * STARTTLS as --starttls says, until it is ready for transactions. Returns
 * 0, or -1 with c->why set. @p no_tls: stay in plaintext (starttls-injection
 * does its own); @p disable: smtp_ext_flag bits the session must not use. */
static int pc_open(probe *P, pc *c, int no_tls, unsigned int disable) {
  struct addrinfo hints, *res = NULL, *ai;
  smtp_client_event ev;
  int policy = no_tls || P->starttls == 0 || !smtp_tls_available() ? SMTP_CLIENT_STARTTLS_OFF
               : P->starttls == 2                                  ? SMTP_CLIENT_STARTTLS_REQUIRED
                                                                   : SMTP_CLIENT_STARTTLS_OPPORTUNISTIC;
  memset(c, 0, sizeof *c);
  c->fd = -1;
  c->deadline = now_ms() + P->timeout_ms;
  if (smtp_reply_parser_new(&c->rp, 0, 0, NULL) != SMTP_OK || smtp_client_options_new(&c->opt, NULL) != SMTP_OK ||
      smtp_client_options_set_ehlo_name(c->opt, P->helo) != SMTP_OK ||
      smtp_client_options_set_starttls(c->opt, policy) != SMTP_OK ||
      (disable && smtp_client_options_set_disabled_extensions(c->opt, disable) != SMTP_OK) ||
      smtp_client_session_new(&c->cs, NULL, NULL, c->opt, NULL) != SMTP_OK) {
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
  c->why = NULL;
  while (cs_next(P, c, &ev) == 1) {
    if (ev.type == SMTP_CLIENT_EVENT_READY) return 0;
    if (ev.type == SMTP_CLIENT_EVENT_CAPABILITIES && policy == SMTP_CLIENT_STARTTLS_REQUIRED && !c->tls &&
        !(c->caps & SMTP_EXT_STARTTLS))
      c->why = "STARTTLS not offered (--starttls required)";
    if (ev.type == SMTP_CLIENT_EVENT_CLOSED) break;
  }
  if (!c->why) c->why = "the session ended";
  return -1;
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
static int open_for(probe *P, pc *c, const char *name, int no_tls, unsigned int disable) {
  if (pc_open(P, c, no_tls, disable) == 0) return 0;
  report(P, name, R_FAIL, "session set-up failed: %s%s%s", c->why ? c->why : "error",
         c->last[0] ? ": " : "", c->last);
  pc_close(P, c);
  return -1;
}

/* Hand the session a transaction from @p from to @p rcpts (body pushed).
 * Returns 0, or reports and returns -1. */
static int submit(probe *P, pc *c, const char *name, const char *from, const char *const *rcpts, size_t n,
                  const char *body) {
  int ok = smtp_client_txn_new(&c->txn, NULL) == SMTP_OK &&
           smtp_client_txn_set_from(c->txn, from, strlen(from)) == SMTP_OK;
  for (size_t i = 0; ok && i < n; i++)
    ok = smtp_client_txn_add_rcpt(c->txn, rcpts[i], strlen(rcpts[i]), 0, NULL, 0) >= 0;
  ok = ok && (body ? smtp_client_txn_set_body(c->txn, body, strlen(body))
                   : smtp_client_txn_set_body_source(c->txn, SMTP_CLIENT_BODY_PUSH)) == SMTP_OK;
  ok = ok && smtp_client_session_submit(c->cs, c->txn) == SMTP_OK;
  if (!ok) report(P, name, R_FAIL, "the client session would not take the transaction");
  return ok ? 0 : -1;
}

/* The session's transaction to --to, up to the point where the body is
 * wanted: the 354 to DATA, or (CHUNKING) every RCPT answered before BDAT.
 * Returns 0 there; else reports (SKIP when the server refused the
 * envelope, FAIL when the connection failed) and returns -1. */
static int envelope(probe *P, pc *c, const char *name) {
  const char *rcpt[1];
  char refused[320] = "";
  smtp_client_event ev;
  rcpt[0] = P->to;
  if (submit(P, c, name, P->from, rcpt, 1, NULL) != 0) return -1;
  while (cs_next(P, c, &ev) == 1) {
    switch (ev.type) {
    case SMTP_CLIENT_EVENT_BODY_START: return 0;
    case SMTP_CLIENT_EVENT_MAIL:
      if (c->code / 100 != 2 && !refused[0]) snprintf(refused, sizeof refused, "MAIL refused: %s", c->last);
      break;
    case SMTP_CLIENT_EVENT_RCPT:
      if (c->code / 100 != 2 && !refused[0]) snprintf(refused, sizeof refused, "RCPT refused: %s", c->last);
      break;
    case SMTP_CLIENT_EVENT_DATA:
      if (!refused[0]) snprintf(refused, sizeof refused, "%s: %s", (c->caps & SMTP_EXT_CHUNKING) ? "BDAT" : "DATA", c->last);
      if (c->code / 100 != 4 && c->code / 100 != 5) {
        report(P, name, R_FAIL, "%s", refused);
        return -1;
      }
      break;
    case SMTP_CLIENT_EVENT_TXN_DONE:
      if (refused[0]) report(P, name, R_SKIP, "%s", refused);
      else /* the server never answered the whole envelope: nothing of the check was sent */
        report(P, name, R_FAIL, "not tested: the envelope got no complete answer (%s%s%s)",
               c->why ? c->why : smtp_strerror(ev.result.status), c->last[0] ? " after " : "", c->last);
      return -1;
    case SMTP_CLIENT_EVENT_CLOSED:
      report(P, name, R_FAIL, "%s%s%s", c->why ? c->why : "connection ended", c->last[0] ? " after " : "",
             c->last);
      return -1;
    default: break;
    }
  }
  report(P, name, R_FAIL, "%s", c->why ? c->why : "the session ended");
  return -1;
}

/* MAIL and RCPT written by the probe (after a take-over). Returns 0, or
 * reports and returns -1. */
static int raw_envelope(probe *P, pc *c, const char *name) {
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
  /* DATA: the session must not use BDAT; BDAT: it does when offered */
  if (open_for(P, &c, name, 0, bdat ? 0u : (unsigned)(SMTP_EXT_CHUNKING | SMTP_EXT_BINARYMIME)) != 0) return;
  if (bdat && !(c.caps & SMTP_EXT_CHUNKING)) {
    report(P, name, R_SKIP, "CHUNKING not offered");
    pc_close(P, &c);
    return;
  }
  if (envelope(P, &c, name) != 0) {
    pc_close(P, &c);
    return;
  }
  pc_takeover(&c); /* the body is the probe's: see the header */
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
    /* the session got the 354 */
    memcpy(msg + len, ".\r\n", 3);
    len += 3;
    if (pc_write(&c, msg, len) != 0) {
      report(P, name, R_FAIL, "%s", c.why);
      pc_close(P, &c);
      return;
    }
  } else {
    int k = snprintf(hdr, sizeof hdr, "BDAT %zu LAST\r\n", len);
    if (pc_write(&c, hdr, (size_t)k) != 0 || pc_write(&c, msg, len) != 0) {
      report(P, name, R_FAIL, "%s", c.why);
      pc_close(P, &c);
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
  pc_close(P, &c);
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
  if (open_for(P, &c, name, 1, 0) != 0) return;
  if (!(c.caps & SMTP_EXT_STARTTLS)) {
    report(P, name, R_SKIP, "STARTTLS not offered");
    pc_close(P, &c);
    return;
  }
  pc_takeover(&c); /* NOOP pipelined behind STARTTLS: see the header */
  if (pc_write(&c, "STARTTLS\r\nNOOP\r\n", 16) != 0 || pc_reply(&c) != 0) {
    report(P, name, R_FAIL, "STARTTLS: %s", c.why);
    pc_close(P, &c);
    return;
  }
  if (c.code != 220) {
    report(P, name, R_SKIP, "STARTTLS refused: %s", c.last);
    pc_close(P, &c);
    return;
  }
  if (c.blen) {
    report(P, name, R_FAIL, "the NOOP was answered in plaintext before the handshake");
    pc_close(P, &c);
    return;
  }
  if (tls_handshake(P, &c) != 0) {
    report(P, name, R_SKIP, "%s", c.why);
    pc_close(P, &c);
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
  pc_close(P, &c);
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
  if (open_for(P, &c, name, 0, (unsigned)(SMTP_EXT_CHUNKING | SMTP_EXT_BINARYMIME)) != 0) return;
  if (envelope(P, &c, name) != 0) {
    pc_close(P, &c);
    return;
  }
  pc_takeover(&c); /* a body with a bare CR or LF: see the header */
  k = snprintf(msg, sizeof msg, "From: <%s>\r\nTo: <%s>\r\nSubject: libsmtp probe %s\r\n\r\nline one%sline two\r\n.\r\n",
               P->from, P->to, name, lf ? "\n" : "\r");
  if (pc_write(&c, msg, (size_t)k) != 0) {
    report(P, name, R_FAIL, "%s", c.why);
    pc_close(P, &c);
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
  pc_close(P, &c);
}

/* SIZE (RFC 1870 4-6): a declared size over the advertised limit is
 * refused at MAIL (552), and so is a message over it at the end of data. */
static void check_size(probe *P) {
  const char *name = "size-enforced";
  pc c;
  uint64_t lim;
  char declared[300];
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0, 0) != 0) return;
  if (!(c.caps & SMTP_EXT_SIZE) || !c.size_has_value) {
    report(P, name, R_SKIP, (c.caps & SMTP_EXT_SIZE) ? "SIZE without a fixed limit" : "SIZE not offered");
    pc_close(P, &c);
    return;
  }
  pc_takeover(&c); /* SIZE over the limit, declared and sent: see the header */
  lim = c.size_max;
  if (pc_cmd(&c, "MAIL FROM:<%s> SIZE=%llu", P->from, (unsigned long long)lim + 1) != 0) {
    report(P, name, R_FAIL, "MAIL SIZE=%llu: %s", (unsigned long long)lim + 1, c.why);
    pc_close(P, &c);
    return;
  }
  if (c.code / 100 == 2) {
    report(P, name, R_FAIL, "MAIL with SIZE=%llu over the advertised %llu accepted: %s",
           (unsigned long long)lim + 1, (unsigned long long)lim, c.last);
    pc_close(P, &c);
    return;
  }
  snprintf(declared, sizeof declared, "%s", c.last);
  if (lim > 4u * 1024 * 1024) {
    report(P, name, R_PASS, "SIZE=%llu refused: %s (limit %llu; message not sent, too large)",
           (unsigned long long)lim + 1, declared, (unsigned long long)lim);
    pc_close(P, &c);
    return;
  }
  /* send lim + 5% + 1 KiB of data without declaring it (RSET first: Postfix
   * keeps refusing MAIL after a refused SIZE until then). The margin: RFC 1870
   * counts CRLF as two octets, but some servers count their stored form
   * (Exim: LF line ends, 1.3% less with these 78-octet lines), and the
   * check is about the limit being enforced, not where exactly. */
  if (pc_cmd(&c, "RSET") != 0 || raw_envelope(P, &c, name) != 0) {
    pc_close(P, &c);
    return;
  }
  if (pc_cmd(&c, "DATA") != 0 || c.code != 354) {
    report(P, name, R_SKIP, "DATA: %s", c.last);
    pc_close(P, &c);
    return;
  }
  {
    static char line[80];
    uint64_t sent = 0;
    int ok = 1;
    memset(line, 'x', 76);
    memcpy(line + 76, "\r\n", 2);
    if (pc_write(&c, "Subject: libsmtp probe size-enforced\r\n\r\n", 40) != 0) ok = 0;
    while (ok && sent < lim + lim / 20 + 1024) {
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
  pc_close(P, &c);
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
  if (open_for(P, &c, name, 0, 0) != 0) return;
  pc_takeover(&c); /* a 518-octet line: see the header */
  memcpy(line, "NOOP ", 5);
  memset(line + 5, 'x', 507);
  memcpy(line + 512, "QUIT\r\n", 6);
  if (pc_write(&c, line, 518) != 0) {
    report(P, name, R_FAIL, "%s", c.why);
    pc_close(P, &c);
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
  pc_close(P, &c);
}

/* RFC 5321 4.5.1: <Postmaster> without a domain must be accepted. MAIL and
 * both RCPTs are the session's (without PIPELINING: it waits for each
 * reply); after the last RCPT reply the probe takes the connection over, so
 * the DATA the session queues is never written and nothing is delivered. */
static void check_postmaster(probe *P) {
  const char *name = "postmaster";
  const char *at = strrchr(P->to, '@');
  char dom_addr[300], bare[300] = "", dom[300] = "";
  const char *rcpts[2];
  size_t n = 1, got = 0;
  smtp_client_event ev;
  int r;
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0, (unsigned)SMTP_EXT_PIPELINING) != 0) return;
  rcpts[0] = "Postmaster";
  if (at) {
    snprintf(dom_addr, sizeof dom_addr, "postmaster@%s", at + 1);
    rcpts[n++] = dom_addr;
  }
  if (submit(P, &c, name, P->from, rcpts, n, NULL) != 0) {
    pc_close(P, &c);
    return;
  }
  while ((r = cs_next(P, &c, &ev)) == 1 && got < n) {
    if (ev.type == SMTP_CLIENT_EVENT_MAIL && c.code / 100 != 2) {
      report(P, name, c.code / 100 >= 4 ? R_SKIP : R_FAIL, "MAIL: %s", c.last);
      pc_close(P, &c);
      return;
    }
    if (ev.type == SMTP_CLIENT_EVENT_RCPT) {
      snprintf(ev.index == 0 ? bare : dom, sizeof bare, "%s", c.last);
      if (ev.index == 0 && c.code / 100 != 2) {
        report(P, name, R_FAIL, "RCPT TO:<Postmaster> refused: %s", bare);
        pc_close(P, &c);
        return;
      }
      got++;
    }
    if (ev.type == SMTP_CLIENT_EVENT_TXN_DONE || ev.type == SMTP_CLIENT_EVENT_CLOSED) break;
  }
  if (got < n && !bare[0]) {
    report(P, name, R_FAIL, "RCPT TO:<Postmaster>: %s", c.why ? c.why : "no reply");
    pc_close(P, &c);
    return;
  }
  pc_takeover(&c); /* the session's queued DATA is dropped; QUIT follows */
  if (dom[0])
    report(P, name, R_PASS, "<Postmaster>: %s; <postmaster@%s>: %s", bare, at + 1, dom);
  else
    report(P, name, R_PASS, "<Postmaster>: %s", bare);
  pc_close(P, &c);
}

/* The session's whole transaction with a small message; @p mail, @p rcpt
 * and @p data get the replies ("" when none came). Returns the session's
 * transaction status, or SMTP_ERR_CLOSED when it ended without one. */
static int run_txn(probe *P, pc *c, const char *name, const char *from, const char *body, char *mail, char *rcpt,
                   char *data, size_t cap) {
  const char *rcpts[1];
  smtp_client_event ev;
  rcpts[0] = P->to;
  mail[0] = rcpt[0] = data[0] = '\0';
  c->body_started = 0;
  if (submit(P, c, name, from, rcpts, 1, body) != 0) return SMTP_ERR_INVALID_ARGUMENT;
  while (cs_next(P, c, &ev) == 1) {
    if (ev.type == SMTP_CLIENT_EVENT_MAIL) snprintf(mail, cap, "%s", c->last);
    else if (ev.type == SMTP_CLIENT_EVENT_RCPT) snprintf(rcpt, cap, "%s", c->last);
    else if (ev.type == SMTP_CLIENT_EVENT_DATA) snprintf(data, cap, "%s", c->last);
    else if (ev.type == SMTP_CLIENT_EVENT_TXN_DONE) return ev.result.status;
    else if (ev.type == SMTP_CLIENT_EVENT_CLOSED) break;
  }
  return SMTP_ERR_CLOSED;
}

static void test_body(const probe *P, const char *name, const char *text, char *out, size_t cap) {
  snprintf(out, cap, "From: <%s>\r\nTo: <%s>\r\nSubject: libsmtp probe %s\r\n\r\n%s\r\n", P->from, P->to, name,
           text);
}

/* RFC 5321 4.5.5 / 6.1: the null reverse-path must be accepted (the
 * session's transaction from <>, with a small message). */
static void check_null_sender(probe *P) {
  const char *name = "null-sender";
  char body[600], mail[300], rcpt[300], data[300];
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0, 0) != 0) return;
  test_body(P, name, "A test of the null reverse-path (RFC 5321 4.5.5).", body, sizeof body);
  (void)run_txn(P, &c, name, "", body, mail, rcpt, data, sizeof mail);
  if (!mail[0])
    report(P, name, R_FAIL, "MAIL FROM:<>: %s", c.why ? c.why : "no reply");
  else if (mail[0] != '2')
    report(P, name, R_FAIL, "MAIL FROM:<> refused: %s", mail);
  else if (!rcpt[0])
    report(P, name, R_FAIL, "RCPT after MAIL FROM:<>: %s", c.why ? c.why : "no reply");
  else if (rcpt[0] != '2')
    report(P, name, R_FAIL, "RCPT after MAIL FROM:<> refused: %s", rcpt);
  else
    report(P, name, R_PASS, "MAIL FROM:<>: %s; RCPT: %s; message: %s", mail, rcpt,
           data[0] ? data : c.why ? c.why : "no reply");
  pc_close(P, &c);
}

/* RFC 2920: with PIPELINING the session sends MAIL, RCPT and DATA in one
 * write; each gets its reply, in order (the session checks the order). */
static void check_pipelining(probe *P) {
  const char *name = "pipelining";
  char body[600], mail[300], rcpt[300], data[300];
  int st;
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0, (unsigned)(SMTP_EXT_CHUNKING | SMTP_EXT_BINARYMIME)) != 0) return;
  if (!(c.caps & SMTP_EXT_PIPELINING)) {
    report(P, name, R_SKIP, "PIPELINING not offered");
    pc_close(P, &c);
    return;
  }
  c.write_lines = 0;
  test_body(P, name, "A test of command pipelining (RFC 2920).", body, sizeof body);
  st = run_txn(P, &c, name, P->from, body, mail, rcpt, data, sizeof mail);
  if (c.write_lines < 3)
    report(P, name, R_SKIP, "the client session did not pipeline (%u command lines in one write)", c.write_lines);
  else if (!mail[0] || !rcpt[0])
    report(P, name, R_FAIL, "MAIL, RCPT and DATA in one write: %s after %s", c.why ? c.why : "no reply",
           mail[0] ? mail : "no reply at all");
  else if (mail[0] != '2' || rcpt[0] != '2')
    report(P, name, R_PASS, "MAIL, RCPT and DATA in one write, replies in order (MAIL %s; RCPT %s)", mail, rcpt);
  else if (!data[0] && st != SMTP_OK && !c.body_started)
    report(P, name, R_FAIL, "MAIL, RCPT and DATA in one write: %s after MAIL %s, RCPT %s (no reply to DATA)",
           c.why ? c.why : smtp_strerror(st), mail, rcpt);
  else /* the three pipelined commands were answered; the reply after the data is not pipelining's */
    report(P, name, R_PASS, "MAIL, RCPT and DATA in one write, replies in order: MAIL %.3s, RCPT %.3s, message: %s",
           mail, rcpt, data[0] ? data : c.why ? c.why : "no reply");
  pc_close(P, &c);
}

/* RFC 3030: the message in BDAT (the session frames it when CHUNKING is
 * offered); the last chunk is answered. */
static void check_chunking(probe *P) {
  const char *name = "chunking";
  char body[600], mail[300], rcpt[300], data[300];
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0, 0) != 0) return;
  if (!(c.caps & SMTP_EXT_CHUNKING)) {
    report(P, name, R_SKIP, "CHUNKING not offered");
    pc_close(P, &c);
    return;
  }
  test_body(P, name, "A test of BDAT (RFC 3030).", body, sizeof body);
  (void)run_txn(P, &c, name, P->from, body, mail, rcpt, data, sizeof mail);
  if (mail[0] && mail[0] != '2')
    report(P, name, R_SKIP, "MAIL refused: %s", mail);
  else if (rcpt[0] && rcpt[0] != '2')
    report(P, name, R_SKIP, "RCPT refused: %s", rcpt);
  else if (!data[0])
    report(P, name, R_FAIL, "BDAT %zu LAST: %s", strlen(body), c.why ? c.why : "no reply");
  else if (data[0] != '2')
    report(P, name, R_FAIL, "BDAT %zu LAST refused: %s", strlen(body), data);
  else
    report(P, name, R_PASS, "BDAT %zu LAST: %s", strlen(body), data);
  pc_close(P, &c);
}

/* One command line through smtp_client_session_command(); its reply in
 * c->code / c->last. Returns 0, or -1 with c->why set. */
static int command(probe *P, pc *c, const char *fmt, ...) {
  char line[600];
  smtp_client_event ev;
  va_list ap;
  int n, r;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line) return -1;
  if ((r = smtp_client_session_command(c->cs, line, (size_t)n)) != SMTP_OK) {
    c->why = smtp_strerror(r);
    return -1;
  }
  while (cs_next(P, c, &ev) == 1) {
    if (ev.type == SMTP_CLIENT_EVENT_COMMAND) return 0;
    if (ev.type == SMTP_CLIENT_EVENT_CLOSED) break;
  }
  return -1;
}

/* VRFY / EXPN (RFC 5321 3.5, 7.3): informational; 252 or 502 expose
 * nothing, 250 confirms addresses. Only a broken reply fails. */
static void check_vrfy_expn(probe *P, int expn) {
  const char *name = expn ? "expn" : "vrfy";
  pc c;
  if (!wanted(P, name)) return;
  if (open_for(P, &c, name, 0, 0) != 0) return;
  if (command(P, &c, "%s %s", expn ? "EXPN" : "VRFY", P->to) != 0)
    report(P, name, R_FAIL, "%s: %s", expn ? "EXPN" : "VRFY", c.why ? c.why : "no reply");
  else if (c.code == 250 || c.code == 251)
    report(P, name, R_PASS, "exposed: %s confirms <%s>: %s", expn ? "EXPN" : "VRFY", P->to, c.last);
  else
    report(P, name, R_PASS, "not exposed: %s", c.last);
  pc_close(P, &c);
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
  if (pc_open(&P, &c, 0, 0) != 0) {
    fprintf(stderr, "smtp-probe: %s:%s: %s%s%s\n", P.host, P.port, c.why ? c.why : "failed",
            c.last[0] ? ": " : "", c.last);
    if (P.json) {
      printf("{\"server\":");
      json_str(P.host);
      printf(",\"port\":%s,\"error\":", P.port);
      json_str(c.why ? c.why : "failed");
      printf(",\"checks\":[]}\n");
    }
    pc_close(&P, &c);
    smtp_tls_config_del(P.tls);
    return 2;
  }
  pc_close(&P, &c);

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
