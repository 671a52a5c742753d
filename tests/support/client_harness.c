/* The client transcript harness (client_harness.h), compiled once into the
 * test support library. */
#include "client_harness.h"

uint32_t h_rand(harness *h) {
  h->seed = h->seed * 1103515245u + 12345u;
  return (h->seed >> 16) & 0x7fff;
}

void h_log(harness *h, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(h->log + h->loglen, sizeof h->log - h->loglen, fmt, ap);
  va_end(ap);
  if (n > 0) h->loglen += (size_t)n;
  if (h->loglen >= sizeof h->log) h->loglen = sizeof h->log - 1;
}

void h_log_event(harness *h, const smtp_client_event *ev) {
  int code = ev->reply ? ev->reply->code : 0;
  switch (ev->type) {
  case SMTP_CLIENT_EVENT_GREETING: h_log(h, "GREETING %d\n", code); break;
  case SMTP_CLIENT_EVENT_CAPABILITIES:
    h_log(h, "CAPS %x\n", ev->caps ? ev->caps->flags : 0u);
    break;
  case SMTP_CLIENT_EVENT_STARTTLS: h_log(h, "STARTTLS\n"); break;
  case SMTP_CLIENT_EVENT_AUTH: h_log(h, "AUTH %d %d\n", ev->error, code); break;
  case SMTP_CLIENT_EVENT_READY: h_log(h, "READY\n"); break;
  case SMTP_CLIENT_EVENT_MAIL: h_log(h, "MAIL %d\n", code); break;
  case SMTP_CLIENT_EVENT_RCPT: h_log(h, "RCPT %d %d\n", (int)ev->index, code); break;
  case SMTP_CLIENT_EVENT_BODY_START: h_log(h, "BODY %u\n", ev->part); break;
  case SMTP_CLIENT_EVENT_DATA:
    if (ev->index == SMTP_CLIENT_NO_INDEX) h_log(h, "DATA - %d\n", code);
    else h_log(h, "DATA %d %d\n", (int)ev->index, code);
    break;
  case SMTP_CLIENT_EVENT_TXN_DONE:
    h_log(h, "DONE %d %d %d\n", ev->result.status, (int)ev->result.naccepted,
          (int)ev->result.ndelivered);
    break;
  case SMTP_CLIENT_EVENT_CLOSED: h_log(h, "CLOSED %d\n", ev->error); break;
  case SMTP_CLIENT_EVENT_COMMAND: h_log(h, "COMMAND %d %d\n", ev->error, code); break;
  default: h_log(h, "EVENT %d\n", ev->type);
  }
}

int h_handle(harness *h, const smtp_client_event *ev) {
  smtp_client_session *c = h->c;
  h_log_event(h, ev);
  if (ev->type == SMTP_CLIENT_EVENT_TXN_DONE) {
    if (h->submit_again > 0) {
      h->submit_again--;
      h_log(h, "SUBMIT %d\n", smtp_client_session_submit(c, h->txn));
    } else if (h->quit_on_done) {
      smtp_client_session_quit(c);
    }
  }
  if (h->fail_on_event == ev->type) return -1;
  return h->pause_on ? SMTP_ERR_PAUSE : 0;
}

int h_on_event(smtp_client_session *c, const smtp_client_event *ev, void *ud) {
  harness *h = ud;
  if (!h->c) h->c = c;
  return h_handle(h, ev);
}

smtp_ssize h_read_body(smtp_client_session *c, smtp_client_txn *t, char *buf, size_t len,
                              int *eof, void *ud) {
  harness *h = ud;
  size_t n;
  (void)c;
  (void)t;
  if (h->read_fail) {
    int e = h->read_fail;
    h->read_fail = 0;
    return e;
  }
  n = h->read_len - h->read_off;
  if (h->read_chunk && n > h->read_chunk) n = h->read_chunk;
  if (n > len) n = len;
  memcpy(buf, h->read_src + h->read_off, n);
  h->read_off += n;
  if (h->read_off == h->read_len) *eof = 1;
  return (smtp_ssize)n;
}

void h_trace(smtp_client_session *c, int dir, const char *line, size_t len, void *ud) {
  harness *h = ud;
  (void)c;
  if (h->trace) h_log(h, "T%c %.*s\n", dir, (int)len, line);
}

void h_drain(harness *h) {
  for (int guard = 0; guard < 100000; guard++) {
    const char *p;
    smtp_ssize n = smtp_client_session_mem_send(h->c, &p);
    if (n < 0) {
      h_log(h, "SEND %d\n", (int)n);
      return;
    }
    if (n == 0) return;
    assert_true(h->outlen + (size_t)n <= sizeof h->out);
    /* write a random amount in random mode to exercise partial consumes */
    size_t w = (size_t)n;
    if (h->mode == FEED_RANDOM && w > 1) w = 1 + h_rand(h) % w;
    memcpy(h->out + h->outlen, p, w);
    h->outlen += w;
    assert_int_equal(smtp_client_session_mem_consume(h->c, w), SMTP_OK);
  }
  fail_msg("client output never ends");
}

void h_check_output(harness *h) {
  h_drain(h);
  if (h->outlen != h->explen || memcmp(h->out, h->expect, h->explen) != 0) {
    print_error("client output differs (mode %d)\n--- expected ---\n%.*s\n--- got ---\n%.*s\n",
                h->mode, (int)h->explen, h->expect, (int)h->outlen, h->out);
    fail();
  }
}

size_t h_unescape(const char *s, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\\' && i + 1 < n) {
      char e = s[++i];
      if (e == 'r') out[o++] = '\r';
      else if (e == 'n') out[o++] = '\n';
      else if (e == '0') out[o++] = '\0';
      else if (e == 't') out[o++] = '\t';
      else if (e == 'x' && i + 2 < n) {
        char hx[3] = {s[i + 1], s[i + 2], 0};
        out[o++] = (char)strtol(hx, NULL, 16);
        i += 2;
      } else out[o++] = e;
    } else {
      out[o++] = s[i];
    }
  }
  return o;
}

void h_feed(harness *h, const char *data, size_t len) {
  size_t off = 0;
  int spins = 0;
  while (off < len) {
    size_t n = len - off;
    if (h->mode == FEED_BYTES) n = 1;
    else if (h->mode == FEED_RANDOM) n = 1 + h_rand(h) % (n < 17 ? n : 17);
    smtp_ssize k = smtp_client_session_mem_recv(h->c, data + off, n);
    if (k < 0) {
      h_log(h, "RECV %d\n", (int)k);
      return;
    }
    if (h->event_mode) {
      smtp_client_event ev;
      while (smtp_client_session_next_event(h->c, &ev)) h_handle(h, &ev);
    }
    off += (size_t)k;
    if (k == 0 && ++spins > 1000) fail_msg("recv makes no progress");
    /* the transport writes between reads: keep output drained like a real loop */
    h_drain(h);
  }
}

void h_events(harness *h) {
  if (h->event_mode) {
    smtp_client_event ev;
    while (smtp_client_session_next_event(h->c, &ev)) h_handle(h, &ev);
  }
}

void h_start(harness *h, harness_setup_fn setup, int mode, uint32_t seed) {
  memset(h, 0, sizeof *h);
  h->mode = mode;
  h->seed = seed;
  assert_int_equal(smtp_client_options_new(&h->opt, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_ehlo_name(h->opt, "client.example"), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(h->opt, SMTP_CLIENT_STARTTLS_OFF), SMTP_OK);
  assert_int_equal(smtp_client_txn_new(&h->txn, NULL), SMTP_OK);
  assert_int_equal(smtp_client_callbacks_new(&h->cbs, NULL), SMTP_OK);
  smtp_client_callbacks_set_event(h->cbs, h_on_event);
  smtp_client_callbacks_set_read_body(h->cbs, h_read_body);
  smtp_client_callbacks_set_trace(h->cbs, h_trace);
  h->quit_on_done = 1;
  if (setup) setup(h);
  h->new_rc = smtp_client_session_new(&h->c, h->event_mode ? NULL : h->cbs, h, h->opt, h->mem);
  assert_int_equal(h->new_rc, SMTP_OK);
  if (!h->no_submit && smtp_client_txn_rcpt_count(h->txn) > 0)
    assert_int_equal(smtp_client_session_submit(h->c, h->txn), SMTP_OK);
}

void h_end(harness *h) {
  smtp_client_session_del(h->c);
  smtp_client_txn_del(h->txn);
  smtp_client_options_del(h->opt);
  smtp_client_callbacks_del(h->cbs);
  h->c = NULL;
}

void h_run(harness *h, const char *script) {
  const char *p = script;
  char sbuf[65536];
  size_t slen = 0;
  h_events(h);
  while (*p) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    const char *next = e ? e + 1 : p + n;
    int is_s = n >= 3 && (memcmp(p, "S: ", 3) == 0 || memcmp(p, "R: ", 3) == 0);
    if (!is_s && slen) {
      h_feed(h, sbuf, slen);
      slen = 0;
    }
    if (n >= 3 && memcmp(p, "S: ", 3) == 0) {
      slen += h_unescape(p + 3, n - 3, sbuf + slen);
      sbuf[slen++] = '\r';
      sbuf[slen++] = '\n';
    } else if (n >= 3 && memcmp(p, "R: ", 3) == 0) {
      slen += h_unescape(p + 3, n - 3, sbuf + slen);
    } else if (n >= 3 && memcmp(p, "C: ", 3) == 0) {
      h->explen += h_unescape(p + 3, n - 3, h->expect + h->explen);
      h->expect[h->explen++] = '\r';
      h->expect[h->explen++] = '\n';
      /* compare when the next step is not another C line */
      if (!(strncmp(next, "C: ", 3) == 0 || strncmp(next, "X: ", 3) == 0)) h_check_output(h);
    } else if (n >= 3 && memcmp(p, "X: ", 3) == 0) {
      /* raw client bytes, nothing appended */
      h->explen += h_unescape(p + 3, n - 3, h->expect + h->explen);
      if (!(strncmp(next, "C: ", 3) == 0 || strncmp(next, "X: ", 3) == 0)) h_check_output(h);
    } else if (n == 3 && memcmp(p, "TLS", 3) == 0) {
      smtp_tls_info info = {"TLSv1.3", "TLS_AES_128_GCM_SHA256", NULL, 1, 1};
      h_log(h, "TLS %d\n", smtp_client_session_tls_started(h->c, &info));
      h_events(h);
    } else if (n == 4 && memcmp(p, "TLSU", 4) == 0) {
      /* TLS up, the server's certificate not verified */
      smtp_tls_info info = {"TLSv1.3", "TLS_AES_128_GCM_SHA256", NULL, 0, 1};
      h_log(h, "TLS %d\n", smtp_client_session_tls_started(h->c, &info));
      h_events(h);
    } else if (n == 4 && memcmp(p, "LOST", 4) == 0) {
      smtp_client_session_connection_lost(h->c);
      h_events(h);
    } else if (n == 7 && memcmp(p, "TIMEOUT", 7) == 0) {
      smtp_client_session_timeout(h->c);
      h_events(h);
    } else if (n == 4 && memcmp(p, "QUIT", 4) == 0) {
      smtp_client_session_quit(h->c);
      h_events(h);
    } else if (n >= 4 && memcmp(p, "CMD ", 4) == 0) {
      /* smtp_client_session_command() with the rest of the line */
      char cmd[1024];
      size_t cl = h_unescape(p + 4, n - 4, cmd);
      h_log(h, "CMD %d\n", smtp_client_session_command(h->c, cmd, cl));
      h_events(h);
    } else if (n == 6 && memcmp(p, "SUBMIT", 6) == 0) {
      h_log(h, "SUBMIT %d\n", smtp_client_session_submit(h->c, h->txn));
      h_events(h);
    } else if (n >= 5 && memcmp(p, "PUSH", 4) == 0) {
      int last = n >= 8 && memcmp(p, "PUSHLAST", 8) == 0;
      const char *t = p + (last ? 8 : 4);
      size_t tl = n - (size_t)(t - p);
      char body[8192];
      size_t bl;
      if (tl && *t == ' ') { t++; tl--; }
      bl = h_unescape(t, tl, body);
      size_t off = 0;
      for (int guard = 0; guard < 10000; guard++) {
        smtp_ssize k = smtp_client_session_body_push(h->c, body + off, bl - off, last);
        if (k < 0) {
          h_log(h, "PUSH %d\n", (int)k);
          break;
        }
        off += (size_t)k;
        h_drain(h);
        if (off == bl) break;
      }
      h_events(h);
    } else if (n > 0 && p[0] != '#') {
      fail_msg("bad script line: %.*s", (int)n, p);
    }
    p = next;
  }
  if (slen) h_feed(h, sbuf, slen);
  h_check_output(h);
}

void h_expect_log(harness *h, const char *expected) {
  if (strcmp(h->log, expected) != 0) {
    print_error("event log differs (mode %d seed %u)\n--- expected ---\n%s--- got ---\n%s",
                h->mode, h->seed, expected, h->log);
    fail();
  }
}

void h_transcript(harness_setup_fn setup, const char *script, const char *expected_log) {
  static const struct { int mode; uint32_t seed; } runs[] = {
      {FEED_WHOLE, 0}, {FEED_BYTES, 0}, {FEED_RANDOM, 1}, {FEED_RANDOM, 7},
      {FEED_RANDOM, 1234}, {FEED_RANDOM, 99991}};
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h_start(h, setup, runs[i].mode, runs[i].seed);
    h_run(h, script);
    h_expect_log(h, expected_log);
    h_end(h);
    free(h);
  }
}

void h_txn(harness *h, const char *from, const char *const *rcpts, size_t n,
                  const char *body) {
  assert_int_equal(smtp_client_txn_set_from(h->txn, from, strlen(from)), SMTP_OK);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(smtp_client_txn_add_rcpt(h->txn, rcpts[i], strlen(rcpts[i]), 0, NULL, 0),
                     (smtp_ssize)i);
  if (body) assert_int_equal(smtp_client_txn_set_body(h->txn, body, strlen(body)), SMTP_OK);
}

void fs_reply(fake_server *fs, const char *s) {
  size_t n = strlen(s);
  assert_true(fs->rlen + n <= sizeof fs->replies);
  memcpy(fs->replies + fs->rlen, s, n);
  fs->rlen += n;
}

void fs_body(fake_server *fs, const char *p, size_t n) {
  if (fs->bodylen + n > fs->bodycap) {
    fs->bodycap = (fs->bodylen + n) * 2 + 1024;
    fs->body = realloc(fs->body, fs->bodycap);
    assert_non_null(fs->body);
  }
  memcpy(fs->body + fs->bodylen, p, n);
  fs->bodylen += n;
}

void fs_final(fake_server *fs) {
  size_t i;
  if (fs->lmtp) {
    for (i = 0; i < fs->ok_in_txn; i++) fs_reply(fs, "250 2.0.0 delivered\r\n");
  } else {
    fs_reply(fs, fs->ok_in_txn ? "250 2.0.0 queued\r\n" : "554 5.5.1 no valid recipients\r\n");
  }
  fs->rcpt_in_txn = fs->ok_in_txn = 0;
}

void fs_command(fake_server *fs, const char *l, size_t n) {
  if (n >= 4 && (strncasecmp(l, "EHLO", 4) == 0 || strncasecmp(l, "LHLO", 4) == 0)) {
    fs_reply(fs, fs->ehlo);
  } else if (n >= 4 && strncasecmp(l, "MAIL", 4) == 0) {
    fs->nmail++;
    fs->rcpt_in_txn = fs->ok_in_txn = 0;
    fs_reply(fs, "250 2.1.0 ok\r\n");
  } else if (n >= 4 && strncasecmp(l, "RCPT", 4) == 0) {
    int k = fs->nrcpt++;
    fs->rcpt_in_txn++;
    if (fs->rcpt_fail_every && k % fs->rcpt_fail_every == 0) {
      fs_reply(fs, "550 5.1.1 no\r\n");
    } else {
      fs->ok_in_txn++;
      fs_reply(fs, "250 2.1.5 ok\r\n");
    }
  } else if (n == 4 && strncasecmp(l, "DATA", 4) == 0) {
    fs->ndata++;
    if (fs->ok_in_txn) {
      fs_reply(fs, "354 go\r\n");
      fs->state = 1;
      smtp_unstuffer_reset(&fs->un);
    } else {
      fs_reply(fs, "554 5.5.1 no valid recipients\r\n");
    }
  } else if (n >= 5 && strncasecmp(l, "BDAT ", 5) == 0) {
    uint64_t size;
    int last;
    assert_int_equal(smtp_bdat_parse(l + 5, n - 5, &size, &last), SMTP_OK);
    fs->nbdat++;
    fs->bdat_left = size;
    fs->bdat_last = last;
    fs->state = 2;
    if (size == 0) {
      fs->state = 0;
      if (last) fs_final(fs);
      else fs_reply(fs, "250 2.0.0 chunk ok\r\n");
    }
  } else if (n == 4 && strncasecmp(l, "RSET", 4) == 0) {
    fs->nrset++;
    fs->rcpt_in_txn = fs->ok_in_txn = 0;
    fs_reply(fs, "250 2.0.0 reset\r\n");
  } else if (n == 4 && strncasecmp(l, "QUIT", 4) == 0) {
    fs_reply(fs, "221 2.0.0 bye\r\n");
    fs->closed = 1;
  } else {
    fs_reply(fs, "500 5.5.2 what\r\n");
  }
}

void fs_input(fake_server *fs, const char *p, size_t n) {
  size_t i = 0;
  while (i < n && !fs->closed) {
    if (fs->state == 1) {
      char buf[4096];
      size_t take = n - i < sizeof buf ? n - i : sizeof buf, len = take, used = 0;
      memcpy(buf, p + i, take);
      int r = smtp_unstuff(&fs->un, buf, &len, &used);
      assert_true(r >= 0);
      fs_body(fs, buf, len);
      i += used;
      if (r == 1) {
        fs->state = 0;
        fs_final(fs);
      }
      continue;
    }
    if (fs->state == 2) {
      size_t take = n - i;
      if (take > fs->bdat_left) take = (size_t)fs->bdat_left;
      fs_body(fs, p + i, take);
      fs->bdat_left -= take;
      i += take;
      if (fs->bdat_left == 0) {
        fs->state = 0;
        if (fs->bdat_last) fs_final(fs);
        else fs_reply(fs, "250 2.0.0 chunk ok\r\n");
      }
      continue;
    }
    char ch = p[i++];
    assert_true(fs->linelen < sizeof fs->line);
    fs->line[fs->linelen++] = ch;
    if (fs->linelen >= 2 && fs->line[fs->linelen - 2] == '\r' && ch == '\n') {
      fs_command(fs, fs->line, fs->linelen - 2);
      fs->linelen = 0;
    }
  }
}

void fs_run(harness *h, fake_server *fs, const char *greeting) {
  fs_reply(fs, greeting);
  for (int rounds = 0; rounds < 1000000; rounds++) {
    size_t before = h->outlen;
    if (fs->rlen) {
      char tmp[1 << 16];
      size_t n = fs->rlen < sizeof tmp ? fs->rlen : sizeof tmp;
      memcpy(tmp, fs->replies, n);
      memmove(fs->replies, fs->replies + n, fs->rlen - n);
      fs->rlen -= n;
      h_feed(h, tmp, n); /* drains the client's output too */
    } else {
      h_drain(h);
    }
    if (h->outlen > before) {
      fs_input(fs, h->out + before, h->outlen - before);
      h->outlen = before; /* keep the collection buffer small */
    }
    if (smtp_client_session_is_closed(h->c)) return;
    if (!fs->rlen && h->outlen == before && !smtp_client_session_want_write(h->c)) {
      if (fs->closed) {
        smtp_client_session_connection_lost(h->c);
        return;
      }
      fail_msg("fake server: no progress");
    }
  }
  fail_msg("fake server: too many rounds");
}
