/* smtp-send's progress line: an I/O adapter that wraps the transport,
 * counts the bytes written and, for a message over 1 MiB with a terminal
 * on stderr, redraws one line there ("sent 12.0 of 48.0 MiB, 9.8 MiB/s")
 * at most four times a second. Silent otherwise. */
#ifndef SMTP_EXAMPLE_PROGRESS_H
#define SMTP_EXAMPLE_PROGRESS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <smtp/io.h>

#define PROGRESS_MIN_SIZE (1024u * 1024u) /* messages over 1 MiB */

typedef struct progress {
  smtp_io inner;   /* the wrapped transport (owned: closed by our close) */
  FILE *out;       /* stderr */
  size_t total;    /* message size */
  uint64_t sent;   /* bytes written to the transport so far */
  double start, last;
  int shown;       /* a line is on the terminal */
} progress;

/* Wrap *io in place when stderr is a terminal and the message is over
 * 1 MiB; otherwise leave it as it is. @p p must outlive the adapter. */
void progress_wrap(progress *p, smtp_io *io, size_t total, FILE *out);
/* End the line (a final figure and a newline) if one was drawn. */
void progress_done(progress *p);
#endif
