/* The client's output buffer and message body encoding: dot-stuffing for
 * DATA (RFC 5321 4.5.2), BDAT chunks with line-end normalisation (RFC 3030
 * 2), and the zero-copy spans that send a vetted memory body straight from
 * the application's memory. Called by the protocol state machine
 * (client.c) when the body may be written. */
#include <string.h>

#include "client_impl.h"
#include "data_internal.h"
#include "text.h"

/* Whether @p n octets of a vetted memory body go out from the body itself
 * rather than copied: always from DIRECT_MIN on; from DIRECT_SMALL on when
 * they do not fit the output's free room, so a small output never needs
 * to grow for such a body, while a short message still goes out in one
 * write with its final "." CRLF (or its BDAT line). */
static int use_direct(const smtp_client_session *c, size_t n) {
  return n >= DIRECT_MIN ||
         (n >= DIRECT_SMALL && n + SMTP_STUFF_FINISH_MAX > c->out.cap - c->out.tail + c->out.head);
}

void smtp__cli_out_compact(smtp_client_session *c) {
  size_t shift = c->out.head;
  if (shift == 0) return;
  if (c->out.tail > shift) memmove(c->out.buf, c->out.buf + shift, c->out.tail - shift);
  c->out.head = 0;
  c->out.ready -= shift;
  c->out.tail -= shift;
  if (c->body.chunk_open) c->body.chunk_hdr_pos -= shift;
}

/* Move the output to a block of out.max bytes, keeping its contents and
 * offsets. Returns 1 when it moved. */
int smtp__cli_out_grow(smtp_client_session *c) {
  char *nb;
  if (c->out.fixed || c->out.cap >= c->out.max) return 0;
  nb = (char *)smtp__malloc(&c->mem, c->out.max);
  if (!nb) {
    c->out.fixed = 1;
    return 0;
  }
  if (c->out.tail) memcpy(nb, c->out.buf, c->out.tail);
  smtp__free(&c->mem, c->out.block);
  c->out.buf = c->out.block = nb;
  c->out.cap = c->out.max;
  return 1;
}

/* Room for @p n more bytes at the tail (compacting when that helps). When
 * @p n does not fit even in the empty buffer, the buffer grows to out.max;
 * if that fails, the session ends with SMTP_ERR_NOMEM (out.nomem, seen by
 * produce()): waiting would not help. */
int smtp__cli_out_room_slow(smtp_client_session *c, size_t n) {
  if (c->out.head) smtp__cli_out_compact(c);
  if (c->out.cap - c->out.tail >= n) return 1;
  if (c->out.tail == 0 && n > c->out.cap && !smtp__cli_out_grow(c) && n <= c->out.max) c->out.nomem = 1;
  return c->out.cap - c->out.tail >= n;
}

/* ---------------- body ---------------- */

static void body_abort(smtp_client_session *c, int err) {
  /* docs/security.md 1: an invalid body after 354 ends the session without the
   * terminator, so nothing is delivered. */
  c->tx.local_error = err;
  smtp__cli_session_end(c, err);
}

/* BDAT (non-binary) line-end normalisation: bare CR / bare LF -> CRLF, NUL
 * and lines over 1000 octets refused, 8-bit noted. No dot-stuffing: BDAT
 * data is counted, never scanned for a terminator (RFC 3030 2). */
static int norm_bdat(smtp_client_session *c, const char *in, size_t inlen, size_t *consumed,
                     char *out, size_t cap, size_t *outlen) {
  const char *p = in, *end = in + inlen;
  char *o = out, *oend = out + cap;
  for (;;) {
    const char *s;
    size_t take, n, budget;
    unsigned sn = 0;
    if (c->body.norm_cr) {
      /* The CR before this byte: CRLF either way (a bare CR is normalised). */
      if (p == end || oend - o < 2) break;
      c->body.norm_cr = 0;
      o[0] = '\r';
      o[1] = '\n';
      o += 2;
      c->body.norm_line = 0;
      if (*p == '\n') p++;
      continue;
    }
    if (p == end || o == oend) break;
    c->body.norm_started = 1;
    /* A run of line octets up to the next CR or LF, one octet past the
     * line's 998 (RFC 5321 4.5.3.1.6), as far as the output holds. */
    take = (size_t)(end - p) < (size_t)(oend - o) ? (size_t)(end - p) : (size_t)(oend - o);
    budget = SMTP_TEXT_LINE_MAX - 2 - (size_t)c->body.norm_line;
    if (take > budget + 1) take = budget + 1;
    s = smtp__data_scan_crlf(p, p + take, &sn);
    n = (size_t)(s - p);
    if (sn & (SMTP_DATA_SEEN_NUL | SMTP_DATA_SEEN_8BIT)) {
      /* The first offending octet decides, as if read one by one. */
      size_t i;
      for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == 0) return SMTP_ERR_NUL;
        if (ch >= 0x80 && !c->plan.allow_8bit) return SMTP_ERR_NEEDS_8BITMIME;
      }
    }
    if (n > budget) return SMTP_ERR_LINE_TOO_LONG;
    memcpy(o, p, n);
    o += n;
    p += n;
    c->body.norm_line += n;
    if (p == end || s == p - n + take) continue; /* the run went to the end of what fits */
    if (*p == '\r') {
      p++;
      c->body.norm_cr = 1;
      continue;
    }
    /* A bare LF: CRLF. */
    if (oend - o < 2) break;
    o[0] = '\r';
    o[1] = '\n';
    o += 2;
    p++;
    c->body.norm_line = 0;
  }
  *consumed = (size_t)(p - in);
  *outlen = (size_t)(o - out);
  return SMTP_OK;
}

void smtp__cli_chunk_close(smtp_client_session *c, int last) {
  char hdr[BDAT_HDR_RESERVE + 8];
  smtp_ssize h;
  size_t data_at;
  if (!c->body.chunk_open) return;
  if (c->body.chunk_len == 0 && !last) {
    c->out.tail = c->body.chunk_hdr_pos;
    c->body.chunk_open = 0;
    return;
  }
  h = smtp_bdat_format(hdr, sizeof hdr, c->body.chunk_len, last);
  if (h <= 2) h = 0;
  data_at = c->body.chunk_hdr_pos + BDAT_HDR_RESERVE;
  memmove(c->out.buf + c->body.chunk_hdr_pos + (size_t)h, c->out.buf + data_at, c->body.chunk_len);
  memcpy(c->out.buf + c->body.chunk_hdr_pos, hdr, (size_t)h);
  trace(c, 'C', hdr, (size_t)h - 2);
  c->out.tail = c->body.chunk_hdr_pos + (size_t)h + c->body.chunk_len;
  c->out.ready = c->out.tail;
  c->out.produced += (size_t)h + c->body.chunk_len;
  c->body.chunk_open = 0;
  ring_push(c, last ? K_BDAT_LAST : K_BDAT, last && c->opt.lmtp ? c->tx.accepted : 1);
  if (last) c->body.phase = B_DONE;
}

/* Convert body bytes into the output. Returns bytes of @p src consumed, or a
 * negative error (the session has then ended). At @p eof with everything
 * consumed, the message is finished. */
smtp_ssize smtp__cli_body_feed(smtp_client_session *c, const char *src, size_t len, int eof) {
  size_t used = 0;
  /* A memory body stays put until its transaction ends (client.h), so its
   * vetted runs can be sent from where they are (the direct span). */
  int stable = c->txn && c->txn->body_source == SMTP_CLIENT_BODY_MEMORY;
  for (;;) {
    if (c->body.phase != B_SEND) return (smtp_ssize)used;
    if (!c->plan.bdat) {
      size_t room, consumed = 0;
      smtp_ssize n;
      if (used == len) {
        char fin[SMTP_STUFF_FINISH_MAX];
        smtp_ssize f;
        char note[64];
        size_t nl;
        if (!eof) return (smtp_ssize)used;
        if (ring_full(c) || !smtp__cli_out_room(c, SMTP_STUFF_FINISH_MAX)) return (smtp_ssize)used;
        if (c->plan.verbatim) {
          /* the final CRLF when the body lacks it, then "." CRLF */
          size_t fl = 0;
          if (c->plan.verbatim_crlf) {
            fin[fl++] = '\r';
            fin[fl++] = '\n';
          }
          fin[fl++] = '.';
          fin[fl++] = '\r';
          fin[fl++] = '\n';
          f = (smtp_ssize)fl;
        } else {
          f = smtp_stuff_finish(&c->body.st, fin, sizeof fin);
        }
        if (f < 0) {
          body_abort(c, (int)f);
          return f;
        }
        out_put(c, fin, (size_t)f);
        /* trace a summary, never the content */
        memcpy(note, "<message: ", 10);
        nl = 10 + smtp__fmt_u64(note + 10, c->body.total);
        memcpy(note + nl, " octets>", 8);
        nl += 8;
        trace(c, 'C', note, nl);
        trace(c, 'C', ".", 1);
        ring_push(c, K_DATA_END, c->opt.lmtp ? c->tx.accepted : 1);
        c->body.phase = B_DONE;
        return (smtp_ssize)used;
      }
      size_t dot_at = SIZE_MAX; /* next line-start dot, when already searched */
      if (stable && c->plan.verbatim && len - used >= DIRECT_SMALL) {
        /* Zero copy: the run up to the next line-start dot goes out from
         * the body itself, through that dot; the next run starts at the
         * same dot (not at a line start any more), so the dot is sent
         * twice (RFC 5321 4.5.2) without copying a byte. */
        size_t rest = len - used;
        size_t k = smtp__data_find_bol_dot(src + used, rest, c->body.bol);
        size_t span = k < rest ? k + 1 : rest;
        dot_at = k; /* a short run is copied below without a second search */
        if (use_direct(c, span)) {
          size_t adv = k < rest ? k : rest;
          c->out.direct = src + used;
          c->out.direct_len = span;
          c->out.produced += span;
          used += adv;
          c->body.total += adv;
          c->body.bol = k < rest ? 0 : src[used - 1] == '\n';
          return (smtp_ssize)used; /* nothing more until it is consumed */
        }
      }
      if (!smtp__cli_out_room(c, 16)) return (smtp_ssize)used;
      room = c->out.cap - c->out.tail;
      if (c->plan.verbatim) {
        /* A vetted memory body with CRLF line ends only (txn_plan): the
         * stuffer would only double the dots that start lines (RFC 5321
         * 4.5.2), so copy the runs between those. One octet of the room is
         * kept for such a dot. */
        size_t take = len - used < room - 1 ? len - used : room - 1;
        size_t k = dot_at != SIZE_MAX ? (dot_at < take ? dot_at : take)
                                      : smtp__data_find_bol_dot(src + used, take, c->body.bol);
        char *o = c->out.buf + c->out.tail;
        if (k < take) {
          memcpy(o, src + used, k);
          o[k] = '.';
          o[k + 1] = '.';
          n = (smtp_ssize)(k + 2);
          consumed = k + 1;
        } else {
          memcpy(o, src + used, take);
          n = (smtp_ssize)take;
          consumed = take;
        }
        c->body.bol = src[used + consumed - 1] == '\n';
      } else {
        n = smtp_stuff(&c->body.st, src + used, len - used, &consumed, c->out.buf + c->out.tail, room);
      }
      if (n < 0) {
        body_abort(c, (int)n);
        return n;
      }
      if ((c->body.st.seen & SMTP_DATA_SEEN_8BIT) && !c->plan.allow_8bit) {
        body_abort(c, SMTP_ERR_NEEDS_8BITMIME);
        return SMTP_ERR_NEEDS_8BITMIME;
      }
      c->out.tail += (size_t)n;
      c->out.ready = c->out.tail;
      c->out.produced += (uint64_t)n;
      used += consumed;
      c->body.total += consumed;
      if (consumed == 0 && n == 0) return (smtp_ssize)used;
    } else {
      size_t consumed = 0, outlen = 0, room;
      if (!c->body.chunk_open && stable && (c->plan.binary || c->plan.verbatim) &&
          use_direct(c, len - used + BDAT_HDR_RESERVE)) {
        /* Zero copy: one chunk of the rest of the body, sent from the
         * body itself after its BDAT line (RFC 3030 2: the data is
         * counted, never scanned). A missing final CRLF follows as a
         * chunk of its own. */
        char hdr[BDAT_HDR_RESERVE + 8];
        size_t rest = len - used;
        int last = eof && (c->plan.binary || !c->plan.verbatim_crlf);
        smtp_ssize h;
        if (!(c->ext & SMTP_EXT_PIPELINING) && ring_has(c, K_BDAT)) return (smtp_ssize)used;
        if (ring_full(c)) return (smtp_ssize)used;
        h = smtp_bdat_format(hdr, sizeof hdr, rest, last);
        if (h <= 2 || !smtp__cli_out_room(c, (size_t)h)) return (smtp_ssize)used;
        trace(c, 'C', hdr, (size_t)h - 2);
        out_put(c, hdr, (size_t)h);
        c->out.direct = src + used;
        c->out.direct_len = rest;
        c->out.produced += rest;
        used = len;
        c->body.total += rest;
        ring_push(c, last ? K_BDAT_LAST : K_BDAT, last && c->opt.lmtp ? c->tx.accepted : 1);
        if (last) c->body.phase = B_DONE;
        return (smtp_ssize)used;
      }
      if (!c->body.chunk_open) {
        /* Without PIPELINING each BDAT waits for the previous reply. */
        if (!(c->ext & SMTP_EXT_PIPELINING) && ring_has(c, K_BDAT)) return (smtp_ssize)used;
        if (ring_full(c)) return (smtp_ssize)used;
        if (!smtp__cli_out_room(c, BDAT_HDR_RESERVE + 64)) return (smtp_ssize)used;
        c->body.chunk_open = 1;
        c->body.chunk_hdr_pos = c->out.tail;
        c->body.chunk_len = 0;
        c->out.tail += BDAT_HDR_RESERVE;
      }
      if (used == len) {
        if (!eof) return (smtp_ssize)used;
        if (!c->plan.binary) {
          /* finish: a pending CR, and a final CRLF when missing */
          if (c->out.cap - c->out.tail < 2) {
            smtp__cli_chunk_close(c, 0);
            continue;
          }
          if (c->plan.verbatim ? c->plan.verbatim_crlf : (c->body.norm_cr || c->body.norm_line > 0)) {
            c->out.buf[c->out.tail++] = '\r';
            c->out.buf[c->out.tail++] = '\n';
            c->body.chunk_len += 2;
            c->body.norm_cr = 0;
            c->body.norm_line = 0;
          }
        }
        smtp__cli_chunk_close(c, 1);
        return (smtp_ssize)used;
      }
      room = c->out.cap - c->out.tail;
      if (c->plan.binary || c->plan.verbatim) {
        consumed = len - used < room ? len - used : room;
        memcpy(c->out.buf + c->out.tail, src + used, consumed);
        outlen = consumed;
      } else {
        int rc = norm_bdat(c, src + used, len - used, &consumed, c->out.buf + c->out.tail, room,
                           &outlen);
        if (rc != SMTP_OK) {
          body_abort(c, rc);
          return rc;
        }
      }
      c->out.tail += outlen;
      c->body.chunk_len += outlen;
      used += consumed;
      c->body.total += consumed;
      if (consumed == 0) smtp__cli_chunk_close(c, 0); /* full: send what we have */
    }
  }
}

/* BURL (RFC 4468 3.4): one command per URL, the last with the LAST
 * end-marker, as far as the ring and the output allow; without PIPELINING
 * each waits for the reply to the one before (RFC 4468 3.4 allows BURL in
 * a pipelined group like BDAT, RFC 3030 4). */
void smtp__cli_burl_pump(smtp_client_session *c) {
  const smtp_client_txn *t = c->txn;
  while (c->body.phase == B_SEND && c->body.url_next < t->nurls) {
    const txn_url *u = &t->urls[c->body.url_next];
    int last = c->body.url_next + 1 == t->nurls;
    char line[SMTP_COMMAND_LINE_MAX];
    size_t n = 0;
    if (!(c->ext & SMTP_EXT_PIPELINING) && ring_has(c, K_BDAT)) return;
    if (ring_full(c) || !smtp__cli_out_room(c, u->len + 12)) return;
    smtp__put(line, sizeof line, &n, "BURL ", 5);
    smtp__put(line, sizeof line, &n, t->buf + u->off, u->len);
    if (last) smtp__put(line, sizeof line, &n, " LAST", 5);
    if (u->trace_len < u->len) {
      /* the URLAUTH token stays out of the trace (RFC 4467 9) */
      char tr[SMTP_COMMAND_LINE_MAX + 16];
      size_t k = 0;
      smtp__put(tr, sizeof tr, &k, line, 5 + u->trace_len);
      smtp__put(tr, sizeof tr, &k, "<redacted>", 10);
      if (last) smtp__put(tr, sizeof tr, &k, " LAST", 5);
      trace(c, 'C', tr, k);
    } else {
      trace(c, 'C', line, n);
    }
    out_put(c, line, n);
    out_put(c, "\r\n", 2);
    ring_push(c, last ? K_BDAT_LAST : K_BDAT, last && c->opt.lmtp ? c->tx.accepted : 1);
    c->body.url_next++;
    if (last) c->body.phase = B_DONE;
  }
}

/* Pull body bytes from memory or the read callback as far as output room
 * allows; or send the BURL commands. */
void smtp__cli_body_pump(smtp_client_session *c, int allow_read) {
  smtp_client_txn *t = c->txn;
  if (t->body_source == SMTP_CLIENT_BODY_URL) {
    /* set by smtp_client_txn_add_body_url(), the only way to this source,
     * so a program that sends no BURL does not link it */
    if (c->phase == PH_TXN) t->burl_pump(c);
    return;
  }
  while (c->body.phase == B_SEND && c->phase == PH_TXN) {
    smtp_ssize n;
    if (t->body_source == SMTP_CLIENT_BODY_MEMORY) {
      size_t off = (size_t)c->body.off;
      n = smtp__cli_body_feed(c, t->body + off, t->body_len - off, 1);
      if (n < 0) return;
      c->body.off += (uint64_t)n;
      return;
    }
    if (t->body_source == SMTP_CLIENT_BODY_PUSH) {
      if (c->body.src_eof) smtp__cli_body_feed(c, "", 0, 1); /* the pushed end could not be written yet */
      return;
    }
    if (t->body_source != SMTP_CLIENT_BODY_READ) return;
    if (c->body.stage_off < c->body.stage_len || c->body.src_eof) {
      n = smtp__cli_body_feed(c, c->body.stage + c->body.stage_off, c->body.stage_len - c->body.stage_off, c->body.src_eof);
      if (n < 0) return;
      c->body.stage_off += (size_t)n;
      if (c->body.stage_off < c->body.stage_len || c->body.src_eof) return; /* output full, or finished */
    }
    if (!allow_read || c->body.read_blocked) return;
    {
      int eof = 0;
      smtp_ssize r = c->cb.read_body(c, t, c->body.stage, STAGE_CAP, &eof, c->ud);
      if (r == SMTP_ERR_WOULDBLOCK || r == SMTP_ERR_DEFERRED) {
        c->body.read_blocked = 1;
        return;
      }
      if (r < 0 || (size_t)r > STAGE_CAP) {
        body_abort(c, r < 0 ? (int)r : SMTP_ERR_CALLBACK_FAILURE);
        return;
      }
      c->body.stage_off = 0;
      c->body.stage_len = (size_t)r;
      if (eof) c->body.src_eof = 1;
      if (r == 0 && !eof) {
        c->body.read_blocked = 1; /* treat "nothing" as would-block */
        return;
      }
    }
  }
}

