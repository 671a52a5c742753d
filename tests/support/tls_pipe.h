/* TLS over the in-memory pipe (io.h) for the TLS tests (test_tls.c,
 * test_dane_tls.c): each side is a TLS connection (tls.h) on one end of a
 * memory pipe; the helpers move its ciphertext to and from the pipe and
 * drive two sides' handshakes against each other.
 *
 * Compiled once into the tests' support library (tests/support/tls_pipe.c).
 * Names start with tp_ (nothing else in tests/ uses that prefix). */
#ifndef TESTS_SUPPORT_TLS_PIPE_H
#define TESTS_SUPPORT_TLS_PIPE_H

#include <stddef.h>

#include <smtp/io.h>
#include <smtp/tls.h>

/* One side: a TLS connection over one end of a memory pipe. */
typedef struct tp_side {
  smtp_tls_conn *c;
  smtp_io io;
} tp_side;

/* A pipe of @p cap bytes each way between @p cl and @p sv (asserted); no
 * connections yet (c = NULL). */
void tp_open(tp_side *cl, tp_side *sv, size_t cap);

/* The connection's pending ciphertext into the pipe, as much as it takes;
 * each consumed amount asserted accepted. */
void tp_flush(tp_side *s);

/* Ciphertext from the pipe into the connection while it has room (an end
 * of the pipe is fed as EOF); each feed asserted taken whole. */
void tp_fill(tp_side *s);

/* One round of two handshakes: the client's step (while *rc is
 * SMTP_ERR_WOULDBLOCK) and its output to the server, then the server's
 * step (while *rs is) and its output to the client. */
void tp_round(tp_side *cl, tp_side *sv, int *rc, int *rs);

/* Rounds from the start until neither handshake is in progress (at most
 * 2000); their results in *rc and *rs. */
void tp_handshake(tp_side *cl, tp_side *sv, int *rc, int *rs);

/* The side's connection deleted (c = NULL) and its end of the pipe closed. */
void tp_close(tp_side *s);

#endif
