/* See progress.h. */
#include "progress.h"

#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void draw(progress *p, double t) {
  double mib = 1024.0 * 1024.0, secs = t - p->start;
  double rate = secs > 0 ? (double)p->sent / mib / secs : 0.0;
  /* The wire carries the commands and dot-stuffing too: never over 100 %. */
  double done = (double)p->sent > (double)p->total ? (double)p->total : (double)p->sent;
  fprintf(p->out, "\rsent %.1f of %.1f MiB, %.1f MiB/s ", done / mib, (double)p->total / mib,
          rate);
  fflush(p->out);
  p->shown = 1;
  p->last = t;
}

static smtp_ssize progress_send(const char *data, size_t len, void *ud) {
  progress *p = ud;
  smtp_ssize n = p->inner.send(data, len, p->inner.user_data);
  if (n > 0) {
    double t;
    p->sent += (uint64_t)n;
    t = now_s();
    if (t - p->last >= 0.25) draw(p, t);
  }
  return n;
}

static smtp_ssize progress_recv(char *buf, size_t len, void *ud) {
  progress *p = ud;
  return p->inner.recv(buf, len, p->inner.user_data);
}

static int progress_close(void *ud) {
  progress *p = ud;
  return p->inner.close ? p->inner.close(p->inner.user_data) : 0;
}

static int progress_wait(unsigned int events, int timeout_ms, void *ud) {
  progress *p = ud;
  return p->inner.wait(events, timeout_ms, p->inner.user_data);
}

void progress_wrap(progress *p, smtp_io *io, size_t total, FILE *out) {
  p->shown = 0;
  if (total <= PROGRESS_MIN_SIZE || !isatty(fileno(out))) return;
  p->inner = *io;
  p->out = out;
  p->total = total;
  p->sent = 0;
  p->start = p->last = now_s();
  io->user_data = p;
  io->send = progress_send;
  io->recv = progress_recv;
  io->close = progress_close;
  io->wait = p->inner.wait ? progress_wait : NULL;
}

void progress_done(progress *p) {
  if (!p->shown) return;
  draw(p, now_s());
  fputc('\n', p->out);
  fflush(p->out);
  p->shown = 0;
}
