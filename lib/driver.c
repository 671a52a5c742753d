/* The driver (driver.h): pumps bytes between an smtp_io transport, a
 * chain of connection filters (cfilter.h: PROXY reader or writer, TLS) and
 * a session seen through smtp__driver_ops, so one loop serves the server
 * and the client session. It reads the monotonic clock to enforce the
 * session's deadlines (RFC 5321 4.5.3.2).
 *
 * Chain (docs/io.md):  session <-> [TLS] <-> [PROXY] <-> transport (smtp_io)
 *
 * The pump is a loop of small steps, each moving bytes where it can, until
 * a step makes no progress. Reads from the transport happen only after a
 * readiness signal (smtp_driver_on_readable(), or the blocking loop's
 * wait), once per signal, so a blocking descriptor never blocks the pump
 * unexpectedly; writes are attempted whenever there is output. */
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cfilter.h"

#define DRV_IN_CAP 16384u     /* plaintext held for the session */
#define DRV_CIPHER_CAP 16384u /* one transport read of ciphertext (on the stack) */
#define DRV_GATHER_CAP 16384u /* session output gathered into one TLS record (on the stack) */
#define DRV_GATHER_MIN 4096u  /* below this, a short TLS write is not taken for the record size */
#define DRV_MAX_ROUNDS 100000 /* safety bound on one pump */
#define DRV_HANDSHAKE_MS 300000

enum { TS_NONE = 0, TS_HANDSHAKE = 1, TS_UP = 2 };
enum { NOTIFY_NONE = 0, NOTIFY_LOST = 1, NOTIFY_TLS_FAILED = 2 };

/* The PROXY filter's state, in the driver's own allocation (after the
 * struct) when SMTP_DRIVER_PROXY is set: no allocation per connection. */
struct proxy_cf {
  smtp_proxy_reader rd;       /* server */
  const smtp_cidr_list *trusted;
  char *pb;                   /* octets read behind the header (own allocation, rare) */
  size_t pb_len, pb_off;
  int checked;
  int have_hdr;               /* client: a header was set */
  size_t hdr_len, hdr_off;    /* client: header octets, sent so far */
  char hdr[SMTP_PROXY_V2_FIXED + 36];
};

struct smtp_driver {
  smtp_mem mem;
  const smtp__driver_ops *ops;
  void *s;
  smtp_io io;
  const smtp_tls_config *tls_cfg;
  char *hostname;
  smtp_tls_conn *tls;
  int tls_state;
  int notify_sent; /* close_notify queued */
  unsigned int flags;
  int readable;     /* a readiness signal not yet used */
  int eof;          /* the transport ended */
  int need_in, need_out;
  int closing, done, err;
  int timed_out;
  int moved; /* bytes moved since the last deadline update */
  int have_seq;
  unsigned int seq;
  int last_tmo;
  int64_t deadline, linger;
  int64_t idle_deadline;  /* the session's timeout_ms(), re-armed per its seq */
  int64_t total_deadline; /* ops->total_ms(), armed per total_seq, never renewed */
  unsigned int total_seq;
  int have_total_seq;
  int64_t (*clock)(void *ud);
  void *clock_ud;
  char errbuf[256];
  size_t in_len;
  /* in[] (plaintext held for the session, DRV_IN_CAP) is allocated only
   * while the session leaves part of a read unconsumed, and freed when
   * that is taken. Plaintext (and, under TLS, ciphertext and the plaintext it
   * yields) is read into a stack buffer and given on at once, so an idle
   * connection, with or without TLS, has none. */
  char *in;
  /* Under TLS, session output gathered for one record that the TLS layer
   * could not take yet (its output queue was full: the transport is slower
   * than the session); allocated only then, freed once written. */
  char *stage;
  size_t stage_len;
  /* How much output to gather for one record: DRV_GATHER_CAP until the TLS
   * layer takes less in one write (its record payload is smaller, as with
   * TLS 1.3 in some Mbed TLS versions); then that, so a gathered buffer is
   * one record and not a full one plus a sliver. 0 means DRV_GATHER_CAP. */
  size_t gather_cap;
  /* the filter chain: top is the session's side */
  smtp__cf cf_io, cf_proxy, cf_tls;
  smtp__cf *top;
  struct proxy_cf *px;
};

/* The buffers, allocated on first need. */
static int ensure_bufs(smtp_driver *d) {
  char *p;
  if (d->in) return 0;
  p = smtp__malloc(&d->mem, DRV_IN_CAP);
  if (!p) return SMTP_ERR_NOMEM;
  d->in = p;
  return 0;
}

/* Give the buffers back once nothing is held in them. */
static void release_bufs(smtp_driver *d) {
  if (!d->in || d->in_len > 0) return;
  smtp__free(&d->mem, d->in);
  d->in = NULL;
}

static int64_t mono_ms(void *ud) {
  struct timespec ts;
  (void)ud;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now(const smtp_driver *d) { return d->clock(d->clock_ud); }

void smtp__driver_set_clock(smtp_driver *d, int64_t (*now_ms)(void *ud), void *ud) {
  if (!d) return;
  d->clock = now_ms ? now_ms : mono_ms;
  d->clock_ud = ud;
}

/* The TLS library's text for a TLS failure, kept now (the connection goes
 * away); any other error's text is smtp_strerror()'s, looked up only when
 * smtp_driver_last_error() is called, so a program that never asks does
 * not link the error strings. */
static void set_errtext(smtp_driver *d, int err) {
  if (d->tls && (err == SMTP_ERR_TLS_HANDSHAKE || err == SMTP_ERR_TLS_VERIFY ||
                 err == SMTP_ERR_TLS_CLOSED || err == SMTP_ERR_TLS || err == SMTP_ERR_EOF))
    smtp_tls_last_error(d->tls, d->errbuf, sizeof d->errbuf);
}

/* ---- the transport filter: the smtp_io adapter ---- */

/* One read from the transport, only after a readiness signal. */
static smtp_ssize io_recv(smtp__cf *f, char *buf, size_t len, int *prog) {
  smtp_driver *d = f->d;
  smtp_ssize r;
  if (len == 0) return SMTP_ERR_WOULDBLOCK;
  if (!d->readable) {
    d->need_in = 1;
    return SMTP_ERR_WOULDBLOCK;
  }
  d->readable = 0;
  r = smtp__io_recv(&d->io, buf, len);
  if (r > 0) {
    *prog = 1;
    return r;
  }
  if (r == SMTP_ERR_WOULDBLOCK) {
    d->need_in = 1;
    return r;
  }
  if (r == SMTP_ERR_EOF) {
    d->eof = 1;
    *prog = 1;
  }
  return r;
}

static smtp_ssize io_send(smtp__cf *f, const char *data, size_t len, int *prog) {
  smtp_ssize w = smtp__io_send(&f->d->io, data, len);
  if (w == SMTP_ERR_WOULDBLOCK) {
    f->d->need_out = 1;
    return w;
  }
  if (w < 0) return SMTP_ERR_IO;
  *prog = 1;
  return w;
}

static const smtp__cf_type cf_type_io = {"transport", NULL, io_recv, io_send, NULL, NULL};

/* ---- the TLS filter: the smtp_tls adapter (tls.h) unchanged ---- */

/* Send what TLS produced (alerts, records) to the filter below. */
static int tls_flush(smtp__cf *f, int *prog) {
  smtp_driver *d = f->d;
  const char *p;
  smtp_ssize n;
  if (!d->tls) return 0;
  while ((n = smtp_tls_pending_output(d->tls, &p)) > 0) {
    smtp_ssize w = f->next->t->send(f->next, p, (size_t)n, prog);
    if (w == SMTP_ERR_WOULDBLOCK) return 0;
    if (w < 0) return SMTP_ERR_IO;
    smtp_tls_consume_output(d->tls, (size_t)w);
    *prog = 1;
  }
  return 0;
}

/* Read ciphertext from below into the TLS engine: 1 fed (or EOF fed),
 * 0 nothing there, negative on failure. */
static int tls_pull(smtp__cf *f, int *prog) {
  smtp_driver *d = f->d;
  size_t space = smtp_tls_feed_space(d->tls);
  char ct[DRV_CIPHER_CAP]; /* ciphertext is read on the stack and copied into the TLS engine */
  smtp_ssize n = f->next->t->recv(f->next, ct, space < sizeof ct ? space : sizeof ct, prog);
  if (n > 0) {
    /* the engine holds ciphertext only while it has some: this may allocate */
    smtp_ssize fed = smtp_tls_feed(d->tls, ct, (size_t)n);
    return fed < 0 ? (int)fed : 1;
  }
  if (n == SMTP_ERR_EOF) {
    smtp_tls_feed_eof(d->tls);
    return 1;
  }
  if (n == SMTP_ERR_WOULDBLOCK) return 0;
  return SMTP_ERR_IO;
}

static int tls_connect(smtp__cf *f, int *prog) {
  smtp_driver *d = f->d;
  const char *p;
  int r = smtp_tls_handshake(d->tls), k;
  if (tls_flush(f, prog) < 0) return SMTP_ERR_IO;
  if (r == 0) return 0;
  if (r != SMTP_ERR_WOULDBLOCK) return r == SMTP_ERR_EOF ? SMTP_ERR_TLS_HANDSHAKE : r;
  if (smtp_tls_pending_output(d->tls, &p) > 0) return SMTP_ERR_WOULDBLOCK; /* flush first */
  k = tls_pull(f, prog);
  return k < 0 ? k : SMTP_ERR_WOULDBLOCK;
}

static smtp_ssize tls_recv(smtp__cf *f, char *buf, size_t len, int *prog) {
  for (;;) {
    smtp_ssize r = smtp_tls_read(f->d->tls, buf, len);
    int k;
    if (r > 0) {
      *prog = 1;
      return r;
    }
    if (r != SMTP_ERR_WOULDBLOCK) return r; /* SMTP_ERR_EOF, TLS_CLOSED, TLS */
    k = tls_pull(f, prog);
    if (k <= 0) return k < 0 ? k : SMTP_ERR_WOULDBLOCK;
  }
}

static smtp_ssize tls_send(smtp__cf *f, const char *data, size_t len, int *prog) {
  smtp_ssize w = smtp_tls_write(f->d->tls, data, len);
  if (w == SMTP_ERR_WOULDBLOCK) {
    f->d->need_out = 1;
    return w;
  }
  if (w < 0) return w;
  if (tls_flush(f, prog) < 0) return SMTP_ERR_IO;
  return w;
}

static const smtp__cf_type cf_type_tls = {"tls", tls_connect, tls_recv, tls_send, tls_flush, NULL};

/* ---- the PROXY filter: reader (server) or writer (client) ---- */

static int proxy_read_connect(smtp__cf *f, int *prog) {
  smtp_driver *d = f->d;
  struct proxy_cf *px = d->px;
  char tmp[DRV_IN_CAP];
  smtp_ssize n, k;
  if (!px->checked) {
    /* only a trusted source may speak for its clients */
    smtp_endpoint peer;
    memset(&peer, 0, sizeof peer);
    if (d->ops->get_addr) d->ops->get_addr(d->s, SMTP_ADDR_CLIENT, &peer);
    if (!smtp_cidr_list_match(px->trusted, &peer)) return SMTP_ERR_UNTRUSTED;
    px->checked = 1;
  }
  n = f->next->t->recv(f->next, tmp, sizeof tmp, prog);
  if (n == SMTP_ERR_WOULDBLOCK) return (int)n;
  if (n == SMTP_ERR_EOF) return SMTP_ERR_CONNECTION_LOST;
  if (n < 0) return SMTP_ERR_IO;
  k = smtp_proxy_reader_feed(&px->rd, tmp, (size_t)n);
  if (k < 0) return (int)k;
  if (smtp_proxy_reader_done(&px->rd) != 1) {
    d->need_in = 1;
    return SMTP_ERR_WOULDBLOCK;
  }
  if (k < n) {
    /* the next layer's first octets came with the header: keep them */
    px->pb = smtp__malloc(&d->mem, (size_t)(n - k));
    if (!px->pb) return SMTP_ERR_NOMEM;
    memcpy(px->pb, tmp + k, (size_t)(n - k));
    px->pb_len = (size_t)(n - k);
    px->pb_off = 0;
  }
  {
    smtp_proxy_info info;
    smtp_proxy_reader_info(&px->rd, &info);
    if (d->ops->set_addr && info.command == SMTP_PROXY_CMD_PROXY &&
        info.source.family != SMTP_AF_NONE) {
      d->ops->set_addr(d->s, SMTP_ADDR_CLIENT, &info.source);
      d->ops->set_addr(d->s, SMTP_ADDR_SERVER, &info.destination);
    }
  }
  return 0;
}

static smtp_ssize proxy_recv(smtp__cf *f, char *buf, size_t len, int *prog) {
  struct proxy_cf *px = f->d->px;
  if (px->pb) {
    size_t n = px->pb_len - px->pb_off;
    if (n > len) n = len;
    memcpy(buf, px->pb + px->pb_off, n);
    px->pb_off += n;
    if (px->pb_off == px->pb_len) {
      smtp__free(&f->d->mem, px->pb);
      px->pb = NULL;
    }
    *prog = 1;
    return (smtp_ssize)n;
  }
  return f->next->t->recv(f->next, buf, len, prog);
}

static smtp_ssize proxy_send(smtp__cf *f, const char *data, size_t len, int *prog) {
  return f->next->t->send(f->next, data, len, prog);
}

static int proxy_write_connect(smtp__cf *f, int *prog) {
  struct proxy_cf *px = f->d->px;
  if (!px->have_hdr) return SMTP_ERR_INVALID_STATE;
  while (px->hdr_off < px->hdr_len) {
    smtp_ssize w = f->next->t->send(f->next, px->hdr + px->hdr_off, px->hdr_len - px->hdr_off, prog);
    if (w < 0) return w == SMTP_ERR_WOULDBLOCK ? SMTP_ERR_WOULDBLOCK : SMTP_ERR_IO;
    px->hdr_off += (size_t)w;
  }
  return 0;
}

static void proxy_destroy(smtp__cf *f) {
  struct proxy_cf *px = f->d->px;
  smtp__free(&f->d->mem, px->pb);
  px->pb = NULL;
}

/* Not static: the server's entry points name the reader and the client's
 * the writer (smtp__driver_create()), so a program with one role does not
 * link the other's PROXY code. */
const smtp__cf_type smtp__cf_proxy_reader = {"proxy-reader", proxy_read_connect, proxy_recv,
                                             proxy_send, NULL, proxy_destroy};
const smtp__cf_type smtp__cf_proxy_writer = {"proxy-writer", proxy_write_connect, proxy_recv,
                                             proxy_send, NULL, proxy_destroy};

/* The lowest filter whose start-up is not over, or NULL. */
static smtp__cf *chain_pending(const smtp_driver *d) {
  smtp__cf *f, *low = NULL;
  for (f = d->top; f; f = f->next)
    if (!f->connected) low = f;
  return low;
}

/* Every filter's own pending octets, top down. */
static int chain_flush(smtp_driver *d, int *prog) {
  smtp__cf *f;
  for (f = d->top; f; f = f->next)
    if (f->t->flush && f->t->flush(f, prog) < 0) return SMTP_ERR_IO;
  return 0;
}

/* The driver is over: record why, tell the session where it needs to know. */
static void finish(smtp_driver *d, int err, int notify) {
  int prog = 0;
  if (d->done) return;
  d->done = 1;
  if (notify == NOTIFY_TLS_FAILED && d->ops->tls_failed) d->ops->tls_failed(d->s, err);
  else if (notify == NOTIFY_LOST && d->ops->connection_lost) d->ops->connection_lost(d->s);
  if (err == 0 && d->ops->error) err = d->ops->error(d->s);
  if (err == 0 && d->timed_out) err = SMTP_ERR_TIMEOUT;
  d->err = err;
  set_errtext(d, err);
  if (d->tls) (void)tls_flush(&d->cf_tls, &prog); /* best effort: a pending alert */
  d->need_in = d->need_out = 0;
  d->deadline = -1;
}

static int start_handshake(smtp_driver *d) {
  int r, tmo;
  r = smtp_tls_conn_new(&d->tls, d->tls_cfg, d->ops->tls_role == SMTP_TLS_CLIENT ? d->hostname : NULL,
                        &d->mem);
  if (r != 0) return r;
  d->tls_state = TS_HANDSHAKE;
  d->deadline = -1; /* update_deadline() starts the handshake's deadline */
  d->cf_tls.t = &cf_type_tls;
  d->cf_tls.d = d;
  d->cf_tls.connected = 0;
  d->cf_tls.next = d->top;
  d->top = &d->cf_tls;
  (void)tmo;
  return 0;
}

/* Run the start-up of the lowest unconnected filter. */
static void step_connect(smtp_driver *d, smtp__cf *f, int *prog) {
  int r = f->t->connect(f, prog);
  if (r == SMTP_ERR_WOULDBLOCK) return;
  if (r < 0) {
    if (f == &d->cf_tls) finish(d, r, NOTIFY_TLS_FAILED);
    else finish(d, r, d->ops->connection_lost ? NOTIFY_LOST : NOTIFY_NONE);
    return;
  }
  f->connected = 1;
  *prog = 1;
  d->have_seq = 0;
  d->deadline = d->idle_deadline = -1; /* re-armed from the session's state */
  if (f == &d->cf_tls) {
    smtp_tls_info info;
    d->tls_state = TS_UP;
    smtp_tls_get_info(d->tls, &info);
    r = d->ops->tls_started(d->s, &info);
    if (r >= 0 && d->ops->tls_bind) r = d->ops->tls_bind(d->s, d->tls);
    if (r < 0) finish(d, r, NOTIFY_NONE);
  }
}

static void step_closing(smtp_driver *d, int *prog) {
  const char *p;
  if (d->tls_state == TS_UP && !d->notify_sent) {
    int r = smtp_tls_close_notify(d->tls);
    if (r == SMTP_ERR_WOULDBLOCK) return; /* flush, then again */
    if (r == SMTP_ERR_NOMEM) { /* no room for the alert: say why it is missing */
      finish(d, r, NOTIFY_NONE);
      return;
    }
    d->notify_sent = 1;
    *prog = 1;
    if (tls_flush(&d->cf_tls, prog) < 0) {
      finish(d, 0, NOTIFY_NONE); /* the peer is gone: the session ended anyway */
      return;
    }
  }
  if (d->tls && smtp_tls_pending_output(d->tls, &p) > 0) return;
  finish(d, 0, NOTIFY_NONE);
}

static void step_output(smtp_driver *d, int *prog) {
  const char *p;
  smtp_ssize n = d->ops->send(d->s, &p), w;
  if (n < 0) {
    finish(d, (int)n, NOTIFY_NONE);
    return;
  }
  if (n == 0) return;
  w = d->top->t->send(d->top, p, (size_t)n, prog);
  if (w == SMTP_ERR_WOULDBLOCK) return;
  if (w < 0) {
    finish(d, (int)w, NOTIFY_LOST);
    return;
  }
  *prog = 1;
  d->moved = 1;
  if (d->ops->consume(d->s, (size_t)w) < 0) finish(d, SMTP_ERR_CALLBACK_FAILURE, NOTIFY_NONE);
}

/* Write gathered output to the TLS filter; what it cannot take yet is kept
 * in d->stage (written again, unchanged, as smtp_tls_write() requires).
 * 0, or -1 once finish() was called. */
static int write_gathered(smtp_driver *d, const char *buf, size_t len, int *prog) {
  size_t off = 0;
  while (off < len) {
    smtp_ssize w = d->top->t->send(d->top, buf + off, len - off, prog);
    if (w == SMTP_ERR_WOULDBLOCK) break;
    if (w < 0) {
      finish(d, (int)w, NOTIFY_LOST);
      return -1;
    }
    *prog = 1;
    d->moved = 1;
    /* a record's worth taken and more left: the layer's record payload */
    if ((size_t)w < len - off && (size_t)w >= DRV_GATHER_MIN &&
        (d->gather_cap == 0 || (size_t)w < d->gather_cap))
      d->gather_cap = (size_t)w;
    off += (size_t)w;
  }
  if (buf == d->stage) {
    if (off > 0) memmove(d->stage, d->stage + off, len - off);
    d->stage_len = len - off;
    if (d->stage_len == 0) {
      smtp__free(&d->mem, d->stage);
      d->stage = NULL;
    }
  } else if (off < len) {
    d->stage = smtp__malloc(&d->mem, len - off);
    if (!d->stage) {
      finish(d, SMTP_ERR_NOMEM, NOTIFY_LOST);
      return -1;
    }
    memcpy(d->stage, buf + off, len - off);
    d->stage_len = len - off;
  }
  return 0;
}

/* Session output under TLS. A session hands its output out in spans (the
 * client, for example, sends a memory body in place, one span from each
 * line-start dot to the next), and each TLS write is a record and, at
 * once, a transport write: spans shorter than a record are gathered into
 * one record's worth first, so a body goes out in full records rather
 * than in one record and one system call per span. Nothing waits: the
 * gathering stops when the session has no more output. A span of a whole
 * record or more goes out in place as before. */
static void step_output_tls(smtp_driver *d, int *prog) {
  char buf[DRV_GATHER_CAP];
  size_t len = 0, cap = d->gather_cap ? d->gather_cap : DRV_GATHER_CAP;
  if (d->stage_len > 0) {
    if (write_gathered(d, d->stage, d->stage_len, prog) < 0 || d->stage_len > 0) return;
  }
  for (;;) {
    const char *p;
    size_t take;
    smtp_ssize n = d->ops->send(d->s, &p);
    if (n < 0) {
      if (len == 0 || write_gathered(d, buf, len, prog) == 0) finish(d, (int)n, NOTIFY_NONE);
      return;
    }
    if (n == 0) break;
    if (len == 0 && (size_t)n >= cap) {
      step_output(d, prog); /* a whole record in place */
      return;
    }
    take = (size_t)n < cap - len ? (size_t)n : cap - len;
    memcpy(buf + len, p, take);
    len += take;
    *prog = 1;
    if (d->ops->consume(d->s, take) < 0) {
      finish(d, SMTP_ERR_CALLBACK_FAILURE, NOTIFY_NONE);
      return;
    }
    if (len == cap) break;
  }
  if (len > 0) (void)write_gathered(d, buf, len, prog);
}

/* The session asked for TLS (STARTTLS done): drop held plaintext, start. */
static void step_starttls(smtp_driver *d, int *prog) {
  int r;
  *prog = 1;
  if (!d->tls_cfg) {
    finish(d, SMTP_ERR_TLS_UNAVAILABLE, NOTIFY_TLS_FAILED);
    return;
  }
  if (d->in_len > 0) {
    if (d->ops->tls_role == SMTP_TLS_CLIENT) {
      /* bytes after the server's 220 and before the handshake: an
       * injection attempt (docs/security.md 2, CVE-2021-38371 class) */
      finish(d, SMTP_ERR_PROTOCOL, NOTIFY_TLS_FAILED);
      return;
    }
    d->in_len = 0; /* server: never execute what was pipelined behind STARTTLS (RFC 3207 5) */
  }
  r = start_handshake(d);
  if (r != 0) finish(d, r, NOTIFY_TLS_FAILED);
}

/* The transport ended (EOF, TLS close) while the session still reads. */
static void transport_ended(smtp_driver *d, int err) {
  if (d->ops->is_done(d->s)) {
    finish(d, 0, NOTIFY_NONE);
    return;
  }
  if (d->ops->connection_lost) {
    /* client: the session decides (after QUIT this is the normal end) */
    finish(d, err == SMTP_ERR_EOF ? 0 : err, NOTIFY_LOST);
    return;
  }
  finish(d, err == SMTP_ERR_EOF ? SMTP_ERR_CONNECTION_LOST : err, NOTIFY_NONE);
}

static void step_input(smtp_driver *d, int *prog) {
  smtp_ssize k;
  if (!d->ops->want_read(d->s)) return;
  if (d->in_len > 0) {
    k = d->ops->recv(d->s, d->in, d->in_len);
    if (k < 0) {
      finish(d, (int)k, NOTIFY_NONE);
      return;
    }
    if (k > 0) {
      memmove(d->in, d->in + k, d->in_len - (size_t)k);
      d->in_len -= (size_t)k;
      *prog = 1;
      d->moved = 1;
      if (d->in_len == 0) release_bufs(d); /* idle sessions hold no buffer */
    }
    return; /* the next round reads more, or the session is busy */
  }
  if (d->eof && d->tls_state != TS_UP) {
    transport_ended(d, SMTP_ERR_EOF);
    return;
  }
  if (d->tls_state == TS_UP) {
    /* Plaintext from the TLS filter lands in a stack buffer and goes to
     * the session at once; only what the session leaves is kept (in[]). */
    char tmp[DRV_IN_CAP];
    smtp_ssize r = d->top->t->recv(d->top, tmp, sizeof tmp, prog);
    if (r > 0) {
      smtp_ssize used = d->ops->recv(d->s, tmp, (size_t)r);
      *prog = 1;
      if (used < 0) {
        finish(d, (int)used, NOTIFY_NONE);
        return;
      }
      if (used > 0) d->moved = 1;
      if (used < r) {
        if (ensure_bufs(d) != 0) {
          finish(d, SMTP_ERR_NOMEM, NOTIFY_LOST);
          return;
        }
        memcpy(d->in, tmp + used, (size_t)(r - used));
        d->in_len = (size_t)(r - used);
      }
    } else if (r != SMTP_ERR_WOULDBLOCK) {
      transport_ended(d, (int)r); /* SMTP_ERR_EOF, TLS_CLOSED, TLS, IO */
    }
    return;
  }
  {
    /* Plaintext: read on the stack and hand it over at once; only what
     * the session leaves (paused, busy, or STARTTLS pipelined) is kept. */
    char tmp[DRV_IN_CAP];
    k = d->top->t->recv(d->top, tmp, sizeof tmp, prog);
    if (k > 0) {
      smtp_ssize used = d->ops->recv(d->s, tmp, (size_t)k);
      if (used < 0) {
        finish(d, (int)used, NOTIFY_NONE);
        return;
      }
      if (used > 0) d->moved = 1;
      if (used < k) {
        if (ensure_bufs(d) != 0) {
          finish(d, SMTP_ERR_NOMEM, NOTIFY_LOST);
          return;
        }
        memcpy(d->in, tmp + used, (size_t)(k - used));
        d->in_len = (size_t)(k - used);
      }
      return;
    }
  }
  if (k == SMTP_ERR_EOF) transport_ended(d, SMTP_ERR_EOF);
  else if (k != SMTP_ERR_WOULDBLOCK) transport_ended(d, SMTP_ERR_IO);
}

static void step(smtp_driver *d, int *prog) {
  smtp__cf *pending;
  if (chain_flush(d, prog) < 0) {
    finish(d, SMTP_ERR_IO, d->tls_state == TS_HANDSHAKE ? NOTIFY_TLS_FAILED : NOTIFY_LOST);
    return;
  }
  pending = chain_pending(d);
  if (pending) {
    /* no session byte moves before every filter is up: the greeting
     * waits for the PROXY header, the first command for TLS */
    step_connect(d, pending, prog);
    return;
  }
  if (d->closing) {
    step_closing(d, prog);
    return;
  }
  if (d->tls_state == TS_UP) step_output_tls(d, prog);
  else step_output(d, prog);
  if (d->done) return;
  if (d->tls_state == TS_NONE && d->ops->want_tls(d->s)) {
    step_starttls(d, prog);
    return;
  }
  step_input(d, prog);
  if (d->done) return;
  if (d->stage_len == 0 && d->ops->is_done(d->s)) {
    d->closing = 1;
    d->linger = now(d) + SMTP_DRIVER_LINGER_MS;
    *prog = 1;
  }
}

/* The non-renewable deadline (server message data: the whole DATA, one
 * BDAT chunk), armed when its sequence changes and never moved by data. */
static void update_total(smtp_driver *d) {
  int t;
  unsigned int seq;
  if (!d->ops->total_ms || !d->ops->total_seq) return;
  t = d->ops->total_ms(d->s);
  seq = d->ops->total_seq(d->s);
  if (t < 0) {
    d->total_deadline = -1;
  } else if (!d->have_total_seq || seq != d->total_seq || d->total_deadline < 0) {
    d->total_deadline = now(d) + t;
  }
  d->total_seq = seq;
  d->have_total_seq = 1;
}

static void update_deadline(smtp_driver *d) {
  int tmo, rearm = 0;
  if (d->done) {
    d->deadline = -1;
    return;
  }
  if (d->closing || d->timed_out) {
    d->deadline = d->linger;
    return;
  }
  tmo = d->ops->timeout_ms(d->s);
  if (chain_pending(d)) {
    /* one deadline for the whole start-up, from its start; a PROXY header
     * comes right after the connection or not at all */
    if (chain_pending(d) == &d->cf_proxy && (tmo < 0 || tmo > SMTP_DRIVER_PROXY_TIMEOUT_MS))
      tmo = SMTP_DRIVER_PROXY_TIMEOUT_MS;
    if (d->deadline < 0) d->deadline = now(d) + (tmo >= 0 ? tmo : DRV_HANDSHAKE_MS);
    return;
  }
  update_total(d);
  if (tmo < 0) {
    d->idle_deadline = -1;
    d->last_tmo = tmo;
    d->moved = 0;
  } else {
    if (d->ops->deadline_seq) {
      unsigned int seq = 0;
      d->ops->deadline_seq(d->s, &seq);
      if (!d->have_seq || seq != d->seq) rearm = 1;
      d->seq = seq;
      d->have_seq = 1;
    } else if (d->moved) {
      rearm = 1; /* the client session: re-arm whenever bytes moved */
    }
    if (tmo != d->last_tmo || d->idle_deadline < 0) rearm = 1;
    d->moved = 0;
    d->last_tmo = tmo;
    if (rearm) d->idle_deadline = now(d) + tmo;
  }
  d->deadline = d->idle_deadline;
  if (d->total_deadline >= 0 && (d->deadline < 0 || d->total_deadline < d->deadline))
    d->deadline = d->total_deadline;
}

static void check_deadline(smtp_driver *d) {
  int64_t t;
  if (d->done || d->deadline < 0) return;
  t = now(d);
  if (t < d->deadline) return;
  if (d->closing || d->timed_out) {
    /* could not flush the last bytes in time: give up */
    finish(d, d->timed_out ? SMTP_ERR_TIMEOUT : 0, NOTIFY_NONE);
    return;
  }
  d->timed_out = 1;
  if (chain_pending(d)) {
    d->ops->timeout(d->s);
    finish(d, SMTP_ERR_TIMEOUT, NOTIFY_NONE);
    return;
  }
  /* The session queues its 421 (server) or ends (client); the pump sends
   * what it can within the linger time. */
  d->ops->timeout(d->s);
  d->linger = t + SMTP_DRIVER_LINGER_MS;
  d->deadline = d->linger;
}

static int pump(smtp_driver *d) {
  int rounds = 0, prog;
  if (d->done) return SMTP_ERR_CLOSED;
  check_deadline(d);
  do {
    prog = 0;
    d->need_in = d->need_out = 0;
    step(d, &prog);
  } while (prog && !d->done && ++rounds < DRV_MAX_ROUNDS);
  if (rounds >= DRV_MAX_ROUNDS) d->need_out = 1; /* come back soon */
  update_deadline(d);
  return d->done ? SMTP_ERR_CLOSED : 0;
}

/* The socket's own addresses go to the session, unless it has some. */
static void record_addresses(smtp_driver *d, int fd) {
  struct sockaddr_storage ss;
  socklen_t sl;
  smtp_endpoint peer, local, cur;
  int server = d->ops->tls_role == SMTP_TLS_SERVER;
  if (fd < 0 || !d->ops->set_addr || !d->ops->get_addr) return;
  sl = sizeof ss;
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
      smtp_endpoint_from_sockaddr(&peer, &ss, sl) != 0)
    return; /* not a socket (a pipe, a terminal) */
  sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
      smtp_endpoint_from_sockaddr(&local, &ss, sl) != 0)
    memset(&local, 0, sizeof local);
  if (d->ops->get_addr(d->s, SMTP_ADDR_CLIENT, &cur) == 0 && cur.family == SMTP_AF_NONE)
    d->ops->set_addr(d->s, SMTP_ADDR_CLIENT, server ? &peer : &local);
  if (d->ops->get_addr(d->s, SMTP_ADDR_SERVER, &cur) == 0 && cur.family == SMTP_AF_NONE)
    d->ops->set_addr(d->s, SMTP_ADDR_SERVER, server ? &local : &peer);
}

int smtp__driver_new(smtp_driver **out, const smtp__driver_ops *ops, void *session, const smtp_io *io,
                     const smtp_tls_config *tls, const char *hostname, unsigned int flags,
                     const smtp_mem *mem) {
  const smtp__cf_type *px = ops && ops->tls_role == SMTP_TLS_SERVER ? &smtp__cf_proxy_reader
                                                                     : &smtp__cf_proxy_writer;
  return smtp__driver_create(out, ops, px, session, io, tls, hostname, flags, mem);
}

int smtp__driver_create(smtp_driver **out, const smtp__driver_ops *ops,
                        const smtp__cf_type *proxy_type, void *session, const smtp_io *io,
                        const smtp_tls_config *tls, const char *hostname, unsigned int flags,
                        const smtp_mem *mem) {
  smtp_driver *d;
  smtp_io copy;
  int r;
  if (out) *out = NULL;
  r = smtp__io_copy(&copy, io);
  if (r != 0) return r; /* a broken adapter cannot even be closed */
  if (!out || !ops || !session || (flags & ~(SMTP_DRIVER_IMPLICIT_TLS | SMTP_DRIVER_PROXY)) ||
      ((flags & SMTP_DRIVER_IMPLICIT_TLS) && !tls) ||
      (tls && smtp_tls_config_role(tls) != ops->tls_role) || (mem && !smtp__mem_valid(mem))) {
    smtp__io_close(&copy);
    return SMTP_ERR_INVALID_ARGUMENT;
  }
  if (!mem) mem = smtp_mem_default();
  {
    /* the PROXY filter's state goes in the same allocation */
    size_t sz = sizeof *d;
    if (flags & SMTP_DRIVER_PROXY) sz = ((sz + 15) & ~(size_t)15) + sizeof(struct proxy_cf);
    d = smtp__malloc(mem, sz);
    if (d) memset(d, 0, sizeof *d);
  }
  if (!d) {
    smtp__io_close(&copy);
    return SMTP_ERR_NOMEM;
  }
  d->mem = *mem;
  d->ops = ops;
  d->s = session;
  d->io = copy;
  d->tls_cfg = tls;
  d->flags = flags;
  d->deadline = d->linger = -1;
  d->idle_deadline = d->total_deadline = -1;
  d->last_tmo = -2;
  d->clock = mono_ms;
  d->cf_io.t = &cf_type_io;
  d->cf_io.d = d;
  d->cf_io.connected = 1;
  d->top = &d->cf_io;
  record_addresses(d, smtp_io_posix_fd(&d->io));
  if (flags & SMTP_DRIVER_PROXY) {
    d->px = (struct proxy_cf *)(void *)((char *)d + ((sizeof *d + 15) & ~(size_t)15));
    memset(d->px, 0, sizeof *d->px);
    smtp_proxy_reader_init(&d->px->rd, 0);
    d->cf_proxy.t = proxy_type;
    d->cf_proxy.d = d;
    d->cf_proxy.next = d->top;
    d->top = &d->cf_proxy;
  }
  if (hostname) {
    size_t n = strlen(hostname);
    d->hostname = smtp__malloc(mem, n + 1);
    if (!d->hostname) {
      smtp_driver_del(d);
      return SMTP_ERR_NOMEM;
    }
    memcpy(d->hostname, hostname, n + 1);
  }
  if (flags & SMTP_DRIVER_IMPLICIT_TLS) {
    r = start_handshake(d);
    if (r != 0) {
      smtp_driver_del(d);
      return r;
    }
  }
  *out = d;
  return SMTP_OK;
}

void smtp_driver_del(smtp_driver *d) {
  smtp_mem mem;
  if (!d) return;
  mem = d->mem;
  if (d->px) proxy_destroy(&d->cf_proxy);
  smtp_tls_conn_del(d->tls);
  smtp__io_close(&d->io);
  smtp__free(&mem, d->hostname);
  smtp__free(&mem, d->in);
  smtp__free(&mem, d->stage);
  smtp__free(&mem, d);
}

int smtp_driver_pump(smtp_driver *d) {
  if (!d) return SMTP_ERR_INVALID_ARGUMENT;
  return pump(d);
}

int smtp_driver_on_readable(smtp_driver *d) {
  if (!d) return SMTP_ERR_INVALID_ARGUMENT;
  d->readable = 1;
  return pump(d);
}

int smtp_driver_on_writable(smtp_driver *d) {
  if (!d) return SMTP_ERR_INVALID_ARGUMENT;
  return pump(d);
}

int smtp_driver_on_timer(smtp_driver *d) {
  if (!d) return SMTP_ERR_INVALID_ARGUMENT;
  return pump(d); /* pump checks the deadline first */
}

unsigned int smtp_driver_poll_events(const smtp_driver *d) {
  unsigned int ev = 0;
  if (!d || d->done) return 0;
  if (d->need_in) ev |= SMTP_DRIVER_POLLIN;
  if (d->need_out) ev |= SMTP_DRIVER_POLLOUT;
  return ev;
}

int smtp_driver_next_timeout_ms(const smtp_driver *d) {
  int64_t left;
  if (!d || d->done || d->deadline < 0) return -1;
  left = d->deadline - now(d);
  if (left <= 0) return 0;
  return left > INT32_MAX ? INT32_MAX : (int)left;
}

int smtp_driver_is_done(const smtp_driver *d) { return d && d->done ? 1 : 0; }

int smtp_driver_error(const smtp_driver *d) { return d ? d->err : SMTP_ERR_INVALID_ARGUMENT; }

const smtp_tls_conn *smtp_driver_tls_conn(const smtp_driver *d) {
  return d && d->tls_state == TS_UP ? d->tls : NULL;
}

int smtp_driver_tls_info(const smtp_driver *d, smtp_tls_info *info) {
  if (!d || !info) return SMTP_ERR_INVALID_ARGUMENT;
  if (d->tls_state != TS_UP) return SMTP_ERR_INVALID_STATE;
  return smtp_tls_get_info(d->tls, info);
}


int smtp_driver_last_error(const smtp_driver *d, char *buf, size_t len) {
  const char *t;
  size_t n;
  if (!d || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  t = d->errbuf[0] || !d->err ? d->errbuf : smtp_strerror(d->err);
  n = strlen(t);
  if (n >= len) n = len - 1;
  memcpy(buf, t, n);
  buf[n] = 0;
  return SMTP_OK;
}

int smtp_driver_run(smtp_driver *d) {
  if (!d) return SMTP_ERR_INVALID_ARGUMENT;
  pump(d);
  while (!d->done) {
    unsigned int ev = smtp_driver_poll_events(d), want = 0;
    int tmo = smtp_driver_next_timeout_ms(d);
    if (ev == 0 && tmo < 0) {
      /* waiting for an application answer that nobody can give here */
      finish(d, SMTP_ERR_INVALID_STATE, NOTIFY_NONE);
      break;
    }
    if (ev & SMTP_DRIVER_POLLIN) want |= SMTP_IO_READ;
    if (ev & SMTP_DRIVER_POLLOUT) want |= SMTP_IO_WRITE;
    if (d->io.wait) {
      int w = smtp__io_wait(&d->io, want, tmo);
      if (w < 0) {
        finish(d, SMTP_ERR_IO, NOTIFY_LOST);
        break;
      }
      if ((unsigned int)w & SMTP_IO_READ) d->readable = 1;
    } else if (want & SMTP_IO_READ) {
      d->readable = 1; /* a blocking recv waits for us */
    } else if (!(want & SMTP_IO_WRITE) && tmo > 0) {
      struct timespec ts;
      ts.tv_sec = tmo / 1000;
      ts.tv_nsec = (long)(tmo % 1000) * 1000000L;
      nanosleep(&ts, NULL);
    }
    pump(d);
  }
  return d->err;
}

int smtp_driver_set_proxy_trusted(smtp_driver *d, const smtp_cidr_list *trusted) {
  if (!d) return SMTP_ERR_INVALID_ARGUMENT;
  if (!d->px || d->ops->tls_role != SMTP_TLS_SERVER || d->px->checked) return SMTP_ERR_INVALID_STATE;
  d->px->trusted = trusted;
  return SMTP_OK;
}

int smtp_driver_set_proxy_header(smtp_driver *d, unsigned int version, const smtp_endpoint *src,
                                 const smtp_endpoint *dst) {
  static const smtp_proxy_tlv crc = {SMTP_PP2_TYPE_CRC32C, 4, NULL};
  struct proxy_cf *px;
  unsigned int with_crc = version & SMTP_DRIVER_PROXY_CRC32C;
  int n;
  version &= ~(unsigned int)SMTP_DRIVER_PROXY_CRC32C;
  if (!d || (version != 1 && version != 2) || (with_crc && version != 2)) return SMTP_ERR_INVALID_ARGUMENT;
  px = d->px;
  if (!px || d->ops->tls_role != SMTP_TLS_CLIENT || px->hdr_off > 0) return SMTP_ERR_INVALID_STATE;
  if (version == 1) n = smtp_proxy_write_v1(px->hdr, sizeof px->hdr, src, dst);
  else
    n = smtp_proxy_write_v2(px->hdr, sizeof px->hdr, src && dst ? SMTP_PROXY_CMD_PROXY : SMTP_PROXY_CMD_LOCAL,
                            src, dst, with_crc ? &crc : NULL, with_crc ? 1 : 0);
  if (n < 0) return n;
  px->hdr_len = (size_t)n;
  px->have_hdr = 1;
  return SMTP_OK;
}

const smtp_proxy_reader *smtp_driver_proxy_reader(const smtp_driver *d) {
  if (!d || !d->px || d->ops->tls_role != SMTP_TLS_SERVER || smtp_proxy_reader_done(&d->px->rd) != 1)
    return NULL;
  return &d->px->rd;
}

int smtp_driver_filters(const smtp_driver *d, char *buf, size_t len) {
  const smtp__cf *f;
  size_t n = 0;
  if (!d || !buf || len == 0) return SMTP_ERR_INVALID_ARGUMENT;
  buf[0] = 0;
  for (f = d->top; f; f = f->next) {
    size_t k = strlen(f->t->name);
    if (n + k + (f->next ? 1 : 0) >= len) return SMTP_ERR_BUFFER_TOO_SMALL;
    memcpy(buf + n, f->t->name, k);
    n += k;
    if (f->next) buf[n++] = ' ';
    buf[n] = 0;
  }
  return (int)n;
}
