/* TLS over the in-memory pipe (tls_pipe.h), compiled once into the test
 * support library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapters.h"
#include "tls_pipe.h"

void tp_open(tp_side *cl, tp_side *sv, size_t cap) {
  cl->c = sv->c = NULL;
  assert_int_equal(smtp_io_pipe_new(&cl->io, &sv->io, cap, NULL), 0);
}

void tp_flush(tp_side *s) {
  const char *p;
  smtp_ssize n;
  while ((n = smtp_tls_pending_output(s->c, &p)) > 0) {
    smtp_ssize w = smtp__io_send(&s->io, p, (size_t)n);
    if (w <= 0) break;
    assert_int_equal(smtp_tls_consume_output(s->c, (size_t)w), 0);
  }
}

void tp_fill(tp_side *s) {
  char buf[4096];
  size_t space;
  while ((space = smtp_tls_feed_space(s->c)) > 0) {
    smtp_ssize r = smtp__io_recv(&s->io, buf, space < sizeof buf ? space : sizeof buf);
    if (r == SMTP_ERR_EOF) {
      smtp_tls_feed_eof(s->c);
      break;
    }
    if (r <= 0) break;
    assert_int_equal(smtp_tls_feed(s->c, buf, (size_t)r), r);
  }
}

void tp_round(tp_side *cl, tp_side *sv, int *rc, int *rs) {
  if (*rc == SMTP_ERR_WOULDBLOCK) *rc = smtp_tls_handshake(cl->c);
  tp_flush(cl);
  tp_fill(sv);
  if (*rs == SMTP_ERR_WOULDBLOCK) *rs = smtp_tls_handshake(sv->c);
  tp_flush(sv);
  tp_fill(cl);
}

void tp_handshake(tp_side *cl, tp_side *sv, int *rc, int *rs) {
  *rc = *rs = SMTP_ERR_WOULDBLOCK;
  for (int i = 0; i < 2000 && (*rc == SMTP_ERR_WOULDBLOCK || *rs == SMTP_ERR_WOULDBLOCK); i++)
    tp_round(cl, sv, rc, rs);
}

void tp_close(tp_side *s) {
  smtp_tls_conn_del(s->c);
  s->c = NULL;
  smtp__io_close(&s->io);
}
