/* The I/O adapter vtable: checking, copying and normalising
 * adapters in one place, and the in-memory pipe pair. No system calls
 * here; the POSIX adapter is in io_posix.c. */
#include <string.h>

#include "adapters.h"

int smtp_io_check(const smtp_io *io) {
  if (!io) return SMTP_ERR_INVALID_ARGUMENT;
  if (io->version == 0 || io->version > SMTP_IO_VERSION) return SMTP_ERR_UNSUPPORTED;
  if (!io->send || !io->recv) return SMTP_ERR_INVALID_ARGUMENT;
  return SMTP_OK;
}

int smtp__io_copy(smtp_io *dst, const smtp_io *src) {
  int rv;
  if (!dst) return SMTP_ERR_INVALID_ARGUMENT;
  rv = smtp_io_check(src);
  if (rv != SMTP_OK) return rv;
  /* Version 1 is the whole struct; a later version would copy only the
   * fields that src->version has and zero the rest (c-ares' _ex pattern). */
  memset(dst, 0, sizeof *dst);
  dst->version = src->version;
  dst->user_data = src->user_data;
  dst->send = src->send;
  dst->recv = src->recv;
  dst->close = src->close;
  dst->wait = src->wait;
  return SMTP_OK;
}

smtp_ssize smtp__io_send(const smtp_io *io, const char *data, size_t len) {
  smtp_ssize n;
  if (!io || !io->send) return SMTP_ERR_IO;
  if (len == 0) return 0;
  n = io->send(data, len, io->user_data);
  if (n > 0) return (size_t)n <= len ? n : SMTP_ERR_IO;
  if (n == 0 || n == SMTP_ERR_WOULDBLOCK) return SMTP_ERR_WOULDBLOCK;
  return SMTP_ERR_IO; /* EOF on send is a broken pipe, too */
}

smtp_ssize smtp__io_recv(const smtp_io *io, char *buf, size_t len) {
  smtp_ssize n;
  if (!io || !io->recv) return SMTP_ERR_IO;
  if (len == 0) return 0;
  n = io->recv(buf, len, io->user_data);
  if (n > 0) return (size_t)n <= len ? n : SMTP_ERR_IO;
  if (n == 0 || n == SMTP_ERR_EOF) return SMTP_ERR_EOF;
  if (n == SMTP_ERR_WOULDBLOCK) return SMTP_ERR_WOULDBLOCK;
  return SMTP_ERR_IO;
}

int smtp__io_wait(const smtp_io *io, unsigned int events, int timeout_ms) {
  int r;
  if (!io || !io->wait) return SMTP_ERR_UNSUPPORTED;
  r = io->wait(events, timeout_ms, io->user_data);
  if (r < 0) return SMTP_ERR_IO;
  return (int)((unsigned int)r & (SMTP_IO_READ | SMTP_IO_WRITE));
}

int smtp__io_close(smtp_io *io) {
  int r = 0;
  if (!io) return 0;
  if (io->close) r = io->close(io->user_data);
  memset(io, 0, sizeof *io);
  return r < 0 ? SMTP_ERR_IO : 0;
}

/* ------------------------------------------------------------------------
 * In-memory pipe pair: two bounded ring buffers shared by two ends.
 * ---------------------------------------------------------------------- */

typedef struct pipe_dir {
  char *buf;
  size_t cap, head, len; /* ring: bytes at head .. head+len (mod cap) */
  int writer_closed;     /* no more bytes will come: reader sees EOF */
  int reader_closed;     /* nobody reads: the writer gets SMTP_ERR_IO */
} pipe_dir;

typedef struct pipe_shared {
  smtp_mem mem;
  pipe_dir dir[2]; /* dir[i]: written by end i, read by end 1-i */
  int open_ends;
} pipe_shared;

typedef struct pipe_end {
  pipe_shared *sh;
  int idx;
  size_t chunk; /* max bytes per call; 0: no limit */
} pipe_end;

static size_t pipe_limit(const pipe_end *e, size_t len) {
  return (e->chunk && len > e->chunk) ? e->chunk : len;
}

static smtp_ssize pipe_send(const char *data, size_t len, void *ud) {
  pipe_end *e = ud;
  pipe_dir *d = &e->sh->dir[e->idx];
  size_t n, done = 0;
  if (d->writer_closed || d->reader_closed) return SMTP_ERR_IO;
  len = pipe_limit(e, len);
  n = d->cap - d->len;
  if (n == 0) return SMTP_ERR_WOULDBLOCK;
  if (len > n) len = n;
  while (done < len) {
    size_t tail = (d->head + d->len) % d->cap;
    size_t run = d->cap - tail;
    if (run > len - done) run = len - done;
    memcpy(d->buf + tail, data + done, run);
    d->len += run;
    done += run;
  }
  return (smtp_ssize)done;
}

static smtp_ssize pipe_recv(char *buf, size_t len, void *ud) {
  pipe_end *e = ud;
  pipe_dir *d = &e->sh->dir[1 - e->idx];
  size_t done = 0;
  if (d->len == 0) return d->writer_closed ? SMTP_ERR_EOF : SMTP_ERR_WOULDBLOCK;
  len = pipe_limit(e, len);
  if (len > d->len) len = d->len;
  while (done < len) {
    size_t run = d->cap - d->head;
    if (run > len - done) run = len - done;
    memcpy(buf + done, d->buf + d->head, run);
    d->head = (d->head + run) % d->cap;
    d->len -= run;
    done += run;
  }
  return (smtp_ssize)done;
}

static int pipe_wait(unsigned int events, int timeout_ms, void *ud) {
  pipe_end *e = ud;
  const pipe_dir *in = &e->sh->dir[1 - e->idx];
  const pipe_dir *out = &e->sh->dir[e->idx];
  unsigned int r = 0;
  (void)timeout_ms;
  if ((events & SMTP_IO_READ) && (in->len > 0 || in->writer_closed)) r |= SMTP_IO_READ;
  if ((events & SMTP_IO_WRITE) && (out->len < out->cap || out->reader_closed)) r |= SMTP_IO_WRITE;
  return (int)r;
}

static void pipe_free_shared(pipe_shared *sh) {
  smtp_mem mem = sh->mem;
  smtp__free(&mem, sh->dir[0].buf);
  smtp__free(&mem, sh->dir[1].buf);
  smtp__free(&mem, sh);
}

static int pipe_close(void *ud) {
  pipe_end *e = ud;
  pipe_shared *sh = e->sh;
  smtp_mem mem = sh->mem;
  sh->dir[e->idx].writer_closed = 1;     /* peer reads EOF after the rest */
  sh->dir[1 - e->idx].reader_closed = 1; /* peer's send fails (EPIPE) */
  smtp__free(&mem, e);
  if (--sh->open_ends == 0) pipe_free_shared(sh);
  return 0;
}

int smtp_io_pipe_new(smtp_io *a, smtp_io *b, size_t capacity, const smtp_mem *mem) {
  pipe_shared *sh;
  pipe_end *ea, *eb;
  if (!a || !b || a == b || capacity == 0) return SMTP_ERR_INVALID_ARGUMENT;
  if (!mem) mem = smtp_mem_default();
  if (!smtp__mem_valid(mem)) return SMTP_ERR_INVALID_ARGUMENT;
  sh = smtp__calloc(mem, 1, sizeof *sh);
  if (!sh) return SMTP_ERR_NOMEM;
  sh->mem = *mem;
  sh->dir[0].buf = smtp__malloc(mem, capacity);
  sh->dir[1].buf = sh->dir[0].buf ? smtp__malloc(mem, capacity) : NULL;
  ea = sh->dir[1].buf ? smtp__calloc(mem, 1, sizeof *ea) : NULL;
  eb = ea ? smtp__calloc(mem, 1, sizeof *eb) : NULL;
  if (!eb) {
    smtp__free(mem, ea);
    pipe_free_shared(sh);
    return SMTP_ERR_NOMEM;
  }
  sh->dir[0].cap = sh->dir[1].cap = capacity;
  sh->open_ends = 2;
  ea->sh = eb->sh = sh;
  ea->idx = 0;
  eb->idx = 1;
  memset(a, 0, sizeof *a);
  memset(b, 0, sizeof *b);
  a->version = b->version = SMTP_IO_VERSION;
  a->send = b->send = pipe_send;
  a->recv = b->recv = pipe_recv;
  a->close = b->close = pipe_close;
  a->wait = b->wait = pipe_wait;
  a->user_data = ea;
  b->user_data = eb;
  return SMTP_OK;
}

static pipe_end *pipe_of(const smtp_io *io) {
  if (!io || io->send != pipe_send || !io->user_data) return NULL;
  return io->user_data;
}

int smtp_io_pipe_set_chunk(const smtp_io *io, size_t max_per_call) {
  pipe_end *e = pipe_of(io);
  if (!e) return SMTP_ERR_INVALID_ARGUMENT;
  e->chunk = max_per_call;
  return SMTP_OK;
}

smtp_ssize smtp_io_pipe_pending(const smtp_io *io) {
  pipe_end *e = pipe_of(io);
  if (!e) return SMTP_ERR_INVALID_ARGUMENT;
  return (smtp_ssize)e->sh->dir[1 - e->idx].len;
}

int smtp_io_pipe_shutdown(const smtp_io *io) {
  pipe_end *e = pipe_of(io);
  if (!e) return SMTP_ERR_INVALID_ARGUMENT;
  e->sh->dir[e->idx].writer_closed = 1;
  return SMTP_OK;
}
