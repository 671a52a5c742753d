/* Message data framing: the DATA un-stuffer (server side), the dot-stuffer
 * (client side), a body scanner and BDAT framing.
 *
 * Rules: RFC 5321 4.5.2 (transparency), 4.1.1.4 (end of data is CRLF "."
 * CRLF; the CRLF before the dot is the message's last line end), 4.5.3.1.6
 * (1000-octet text lines, the duplicated dot not counted), RFC 3030 2
 * (BDAT), and docs/security.md 1 (SMTP smuggling: CVE-2023-51764/5/6,
 * CVE-2024-27305): end of data is found on the raw bytes only, never after
 * any normalisation, and no other sequence ends data. */
#include <string.h>

#include <smtp/data.h>

#include "data_internal.h"
#include "internal.h"
#include "text.h"

#if defined(__SSE2__) && !defined(SMTP_DATA_NO_SIMD)
#include <emmintrin.h>
#define SMTP__DATA_SSE2 1
#endif

/* ------------------------------------------------------------------------ */
/* Scanner shared by the un-stuffer, the stuffer and smtp_data_scan().       */

#if defined(__GNUC__) || defined(__clang__)
#define SMTP__CTZ(x) ((unsigned)__builtin_ctz(x))
#define SMTP__CTZ64(x) ((unsigned)__builtin_ctzll(x))
#define SMTP__LIKELY(x) __builtin_expect(!!(x), 1)
#define SMTP__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
static unsigned smtp__ctz_slow(unsigned x) {
  unsigned n = 0;
  while (!(x & 1u)) {
    x >>= 1;
    n++;
  }
  return n;
}
#define SMTP__CTZ(x) smtp__ctz_slow(x)
#if defined(SMTP__DATA_SSE2)
static unsigned smtp__ctz64_slow(uint64_t x) {
  unsigned n = 0;
  while (!(x & 1u)) {
    x >>= 1;
    n++;
  }
  return n;
}
#define SMTP__CTZ64(x) smtp__ctz64_slow(x)
#endif
#define SMTP__LIKELY(x) (x)
#define SMTP__UNLIKELY(x) (x)
#endif

/* Scalar tail of scan_crlf(). */
static const unsigned char *scan_crlf_scalar(const unsigned char *p, const unsigned char *end,
                                             unsigned *seen) {
  unsigned s = 0;
  for (; p < end; p++) {
    unsigned char c = *p;
    if (c == '\r' || c == '\n') break;
    if (c == 0) s |= SMTP_DATA_SEEN_NUL;
    if (c & 0x80) s |= SMTP_DATA_SEEN_8BIT;
  }
  *seen |= s;
  return p;
}

/* Returns the first CR or LF in [p, end) (or end) and adds to *seen the NUL
 * and 8-bit bits of exactly the bytes before it: bytes past the stop point
 * may belong to the next command and must not be reported. */
static const unsigned char *scan_crlf(const unsigned char *p, const unsigned char *end,
                                      unsigned *seen) {
#if defined(SMTP__DATA_SSE2)
  const __m128i vcr = _mm_set1_epi8('\r');
  const __m128i vlf = _mm_set1_epi8('\n');
  const __m128i vz = _mm_setzero_si128();
  __m128i acc_hi = vz, acc_nul = vz;
  const unsigned char *stop = end;
  while (end - p >= 32) {
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i ma = _mm_or_si128(_mm_cmpeq_epi8(a, vcr), _mm_cmpeq_epi8(a, vlf));
    __m128i mb = _mm_or_si128(_mm_cmpeq_epi8(b, vcr), _mm_cmpeq_epi8(b, vlf));
    if (_mm_movemask_epi8(_mm_or_si128(ma, mb))) break;
    acc_hi = _mm_or_si128(acc_hi, _mm_or_si128(a, b));
    acc_nul = _mm_or_si128(acc_nul, _mm_or_si128(_mm_cmpeq_epi8(a, vz), _mm_cmpeq_epi8(b, vz)));
    p += 32;
  }
  while (end - p >= 16) {
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    unsigned m = (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(a, vcr), _mm_cmpeq_epi8(a, vlf)));
    __m128i z = _mm_cmpeq_epi8(a, vz);
    if (m) {
      unsigned idx = SMTP__CTZ(m);
      unsigned below = (1u << idx) - 1u;
      if ((unsigned)_mm_movemask_epi8(a) & below) *seen |= SMTP_DATA_SEEN_8BIT;
      if ((unsigned)_mm_movemask_epi8(z) & below) *seen |= SMTP_DATA_SEEN_NUL;
      stop = p + idx;
      break;
    }
    acc_hi = _mm_or_si128(acc_hi, a);
    acc_nul = _mm_or_si128(acc_nul, z);
    p += 16;
  }
  if (_mm_movemask_epi8(acc_hi)) *seen |= SMTP_DATA_SEEN_8BIT;
  if (_mm_movemask_epi8(acc_nul)) *seen |= SMTP_DATA_SEEN_NUL;
  if (stop != end) return stop;
  return scan_crlf_scalar(p, end, seen);
#else
  /* Portable word-at-a-time scan (SWAR): a word is skipped whole when it has
   * no CR, LF or NUL; otherwise the scalar loop looks at that word. */
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  for (;;) {
    const unsigned char *wend, *q;
    uint64_t acc = 0;
    while (end - p >= 8) {
      uint64_t w, xc, xl;
      memcpy(&w, p, 8);
      xc = w ^ (ones * '\r');
      xl = w ^ (ones * '\n');
      if (((xc - ones) & ~xc & highs) | ((xl - ones) & ~xl & highs) | ((w - ones) & ~w & highs))
        break;
      acc |= w;
      p += 8;
    }
    if (acc & highs) *seen |= SMTP_DATA_SEEN_8BIT;
    wend = (end - p >= 8) ? p + 8 : end;
    q = scan_crlf_scalar(p, wend, seen);
    if (q != wend || q == end) return q;
    p = q;
  }
#endif
}

/* ------------------------------------------------------------------------ */
/* Un-stuffer (server side).                                                 */

/* smtp_unstuffer::state layout: bits 0-3 the phase; bit 8 set when one
 * output byte (bits 16-23) is carried over to the next call; see below. */
enum {
  U_BOL = 0,    /* at a line start: message start, or right after CRLF */
  U_TEXT = 1,   /* inside a line; the last raw byte was not CR */
  U_CR = 2,     /* inside a line; the last raw byte was CR (already output) */
  U_DOT = 3,    /* CRLF "." seen; the dot is dropped (RFC 5321 4.5.2) */
  U_DOT_CR = 4, /* CRLF "." CR seen; that CR is held back, not yet output */
  U_DONE = 5    /* end of data found */
};
#define U_PHASE_MASK 0xFu
#define U_CARRY 0x100u

/* Why a carry byte: "CRLF . CR" may end a call. The CR is held back; when
 * the next call starts with something other than LF, the CR is message data
 * and must be delivered, one byte more than that call's own input, which an
 * in-place decoder cannot write. So the output runs one byte late: the last
 * byte of each copied run is kept in the state and written in front of the
 * next one. The lag ends at the next dropped byte (a stuffing dot or the
 * terminator), so at most one byte is ever carried and none is lost. */

void smtp_unstuffer_reset(smtp_unstuffer *d) {
  if (d) memset(d, 0, sizeof(*d));
}

/* Write the raw run [*run, stop) to *q (they may overlap, *q <= *run), honouring
 * a carried byte. */
static void u_flush(unsigned char **q, const unsigned char *run, const unsigned char *stop,
                    int *has_carry, unsigned char *carry) {
  size_t n = (size_t)(stop - run);
  if (n == 0) return;
  if (!*has_carry) {
    if (*q != run) memmove(*q, run, n);
    *q += n;
  } else {
    /* Here *q == run: the carried byte goes first, everything moves up by
     * one, and the run's last byte becomes the new carry. */
    unsigned char last = stop[-1];
    if (n > 1) memmove(*q + 1, run, n - 1);
    **q = *carry;
    *carry = last;
    *q += n;
  }
}

int smtp_unstuff(smtp_unstuffer *d, char *buf, size_t *len, size_t *consumed) {
  unsigned char *const base = (unsigned char *)buf;
  const unsigned char *p, *end, *run;
  unsigned char *q;
  unsigned phase, seen;
  uint64_t line_len;
  int has_carry;
  unsigned char carry;
  int rc = 0;

  if (!d || !len || !consumed || (!buf && *len)) return SMTP_ERR_INVALID_ARGUMENT;
  phase = d->state & U_PHASE_MASK;
  if (phase > U_DONE) return SMTP_ERR_INVALID_ARGUMENT;
  if (phase == U_DONE) {
    *len = 0;
    *consumed = 0;
    return 1;
  }
  if (*len == 0) {
    *consumed = 0;
    return 0;
  }
  p = run = q = base;
  end = base + *len;
  seen = d->seen;
  line_len = d->line_len;
  has_carry = (d->state & U_CARRY) != 0;
  carry = (unsigned char)(d->state >> 16);

  switch (phase) {
  case U_BOL: goto at_bol;
  case U_CR: goto after_cr;
  case U_DOT: goto after_dot;
  case U_DOT_CR: goto after_dot_cr;
  default: break; /* U_TEXT */
  }

text:
  /* Fast path: a run of line bytes up to the next CR or LF. */
  {
    const unsigned char *s = scan_crlf(p, end, &seen);
    line_len += (uint64_t)(s - p);
    p = s;
  }
  if (p == end) {
    phase = U_TEXT;
    goto out;
  }
  if (*p == '\n') {
    /* Bare LF: data, not a line end; the next byte is not a line start. */
    seen |= SMTP_DATA_SEEN_BARE_LF;
    p++;
    line_len++;
    goto text;
  }
  p++; /* CR */
  line_len++;
after_cr:
  if (p == end) {
    phase = U_CR;
    goto out;
  }
  if (*p != '\n') {
    seen |= SMTP_DATA_SEEN_BARE_CR;
    goto text;
  }
  p++; /* CRLF: the line ends (RFC 5321 2.3.8) */
  line_len++;
  if (line_len > SMTP_TEXT_LINE_MAX) seen |= SMTP_DATA_SEEN_LONG_LINE;
  line_len = 0;
at_bol:
  if (p == end) {
    phase = U_BOL;
    goto out;
  }
  if (*p != '.') goto text;
  /* A dot at a line start is removed (RFC 5321 4.5.2); it is either
   * transparency or the start of the terminator. Not counted in the line
   * length (4.5.3.1.6). */
  u_flush(&q, run, p, &has_carry, &carry);
  p++;
  run = p;
  if (has_carry) {
    *q++ = carry; /* the dropped dot makes room */
    has_carry = 0;
  }
after_dot:
  if (p == end) {
    phase = U_DOT;
    goto out;
  }
  if (*p != '\r') goto text;
  p++; /* hold this CR back: CRLF "." CR may be the terminator */
  run = p;
after_dot_cr:
  if (p == end) {
    phase = U_DOT_CR;
    goto out;
  }
  if (*p == '\n') {
    /* CRLF "." CRLF on the raw bytes: end of data (RFC 5321 4.1.1.4). */
    p++;
    run = p;
    phase = U_DONE;
    rc = 1;
    goto out;
  }
  /* The held CR is a bare CR inside the line ".<CR>...": deliver it. */
  seen |= SMTP_DATA_SEEN_BARE_CR;
  line_len++;
  if (q < p) {
    *q++ = '\r';
  } else {
    /* Start of a call: no room yet, carry it (q == p == run here). */
    has_carry = 1;
    carry = '\r';
  }
  goto text;

out:
  u_flush(&q, run, p, &has_carry, &carry);
  if (rc == 1 && has_carry) {
    /* Unreachable in practice (a dot was dropped in this call, which
     * flushed the carry), kept for safety: the terminator made room. */
    *q++ = carry;
    has_carry = 0;
  }
  if (line_len > SMTP_TEXT_LINE_MAX) seen |= SMTP_DATA_SEEN_LONG_LINE;
  d->state = phase | (has_carry ? (U_CARRY | ((unsigned)carry << 16)) : 0u);
  d->seen = seen;
  d->line_len = line_len;
  *len = (size_t)(q - base);
  d->total += *len;
  *consumed = (size_t)(p - base);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Stuffer (client side).                                                    */

/* smtp_stuffer::state layout: bits 0-3 the phase; bits 8-15 the negated
 * sticky error in S_ERR. */
enum {
  S_BOL = 0,     /* at a line start (message start or after CRLF was written) */
  S_TEXT = 1,    /* inside a line */
  S_CR = 2,      /* a CR was consumed and not written: the next byte decides */
  S_OWE_LF = 3,  /* "\r" of a CRLF written, "\n" still owed (then S_BOL) */
  S_OWE_DOT = 4, /* "." of a stuffed ".." written, the second "." owed (then S_TEXT) */
  S_ERR = 5,     /* failed; the error is sticky */
  S_DONE = 6     /* smtp_stuff_finish() done */
};
#define S_PHASE_MASK 0xFu
/* Longest line content (CRLF excluded): 1000 - 2 (RFC 5321 4.5.3.1.6). */
#define S_MAX_CONTENT ((uint64_t)SMTP_TEXT_LINE_MAX - 2u)

void smtp_stuffer_init(smtp_stuffer *e, unsigned int flags) {
  if (!e) return;
  memset(e, 0, sizeof(*e));
  e->flags = flags;
}

static smtp_ssize s_fail(smtp_stuffer *e, int err) {
  e->state = S_ERR | ((unsigned)(-err) << 8);
  return err;
}

smtp_ssize smtp_stuff(smtp_stuffer *e, const char *in, size_t inlen, size_t *consumed,
                      char *out, size_t outcap) {
  const unsigned char *p, *end;
  unsigned char *o, *oend;
  unsigned phase;
  uint64_t line_len;
  int allow_long, refuse_bare;

  if (!e || !consumed || (!in && inlen) || (!out && outcap)) return SMTP_ERR_INVALID_ARGUMENT;
  *consumed = 0;
  phase = e->state & S_PHASE_MASK;
  if (phase == S_ERR) return -(smtp_ssize)((e->state >> 8) & 0xFFu);
  if (phase == S_DONE) return SMTP_ERR_INVALID_STATE;
  if (phase > S_DONE) return SMTP_ERR_INVALID_ARGUMENT;

  p = (const unsigned char *)in;
  end = p + inlen;
  o = (unsigned char *)out;
  oend = o + outcap;
  line_len = e->line_len;
  allow_long = (e->flags & SMTP_STUFF_ALLOW_LONG_LINES) != 0;
  refuse_bare = (e->flags & SMTP_STUFF_REFUSE_BARE) != 0;

  while (o < oend) {
    switch (phase) {
    case S_OWE_LF:
      *o++ = '\n';
      phase = S_BOL;
      line_len = 0;
      continue;
    case S_OWE_DOT:
      *o++ = '.';
      phase = S_TEXT;
      continue;
    case S_CR:
      if (p == end) goto out;
      if (*p == '\n') {
        p++;
      } else {
        /* Bare CR: never sent bare (docs/security.md 1); normalised or refused. */
        e->seen |= SMTP_DATA_SEEN_BARE_CR;
        if (refuse_bare) {
          *consumed = (size_t)(p - (const unsigned char *)in);
          e->line_len = line_len;
          return s_fail(e, SMTP_ERR_BARE_CR);
        }
      }
      *o++ = '\r';
      phase = S_OWE_LF;
      continue;
    case S_BOL:
      if (p == end) goto out;
      if (*p == '.') {
        /* Every line that starts with "." gets one more, the first line
         * included (RFC 5321 4.5.2). */
        p++;
        *o++ = '.';
        phase = S_OWE_DOT;
        line_len = 1;
        continue;
      }
      phase = S_TEXT;
      /* fall through */
    default: { /* S_TEXT */
      const unsigned char *s;
      size_t take, n;
      unsigned sn = 0;
      int budget_cut = 0, nul_stop = 0;
      if (p == end) goto out;
      /* Plain bytes are copied one for one: scan no further than fits in
       * the output, nor (unless allowed) past the line's 998 content octets. */
      take = (size_t)(oend - o) < (size_t)(end - p) ? (size_t)(oend - o) : (size_t)(end - p);
      if (!allow_long) {
        uint64_t budget = line_len >= S_MAX_CONTENT ? 0 : S_MAX_CONTENT - line_len;
        if ((uint64_t)take > budget) {
          take = (size_t)budget;
          budget_cut = 1;
        }
      }
      s = scan_crlf(p, p + take, &sn);
      if (SMTP__UNLIKELY(sn & SMTP_DATA_SEEN_NUL)) {
        /* Stop at the NUL; the bits are those of the bytes before it. */
        s = memchr(p, 0, (size_t)(s - p));
        nul_stop = 1;
        sn = 0;
        (void)scan_crlf(p, s, &sn);
      }
      n = (size_t)(s - p);
      memcpy(o, p, n);
      o += n;
      p += n;
      line_len += n;
      e->seen |= sn;
      if (line_len > S_MAX_CONTENT) e->seen |= SMTP_DATA_SEEN_LONG_LINE;
      phase = S_TEXT;
      if (p == end) goto out;
      if (*p == '\r') {
        if (end - p >= 3 && oend - o >= 2 && p[1] == '\n' && p[2] != '.') {
          /* Fast path: CRLF followed by an ordinary line start. */
          o[0] = '\r';
          o[1] = '\n';
          o += 2;
          p += 2;
          line_len = 0;
          continue;
        }
        p++;
        phase = S_CR;
        continue;
      }
      if (*p == '\n') {
        /* Bare LF: normalised to CRLF, or refused. */
        if (o == oend) goto out;
        e->seen |= SMTP_DATA_SEEN_BARE_LF;
        if (refuse_bare) {
          *consumed = (size_t)(p - (const unsigned char *)in);
          e->line_len = line_len;
          return s_fail(e, SMTP_ERR_BARE_LF);
        }
        p++;
        *o++ = '\r';
        phase = S_OWE_LF;
        continue;
      }
      if (budget_cut && n == take) {
        /* The 999th content octet: the line would exceed 1000 octets with
         * its CRLF (RFC 5321 4.5.3.1.6). */
        e->seen |= SMTP_DATA_SEEN_LONG_LINE;
        *consumed = (size_t)(p - (const unsigned char *)in);
        e->line_len = line_len;
        return s_fail(e, SMTP_ERR_LINE_TOO_LONG);
      }
      if (nul_stop) {
        /* NUL is never sent (RFC 5321 4.5.2 "text"; docs/security.md 1). */
        e->seen |= SMTP_DATA_SEEN_NUL;
        *consumed = (size_t)(p - (const unsigned char *)in);
        e->line_len = line_len;
        return s_fail(e, SMTP_ERR_NUL);
      }
      continue; /* the output is full: the next call looks at *p */
    }
    }
  }
out:
  e->state = phase;
  e->line_len = line_len;
  *consumed = (size_t)(p - (const unsigned char *)in);
  return (smtp_ssize)(o - (unsigned char *)out);
}

smtp_ssize smtp_stuff_finish(smtp_stuffer *e, char *out, size_t outcap) {
  char tmp[SMTP_STUFF_FINISH_MAX];
  size_t n = 0;
  unsigned phase;
  if (!e || (!out && outcap)) return SMTP_ERR_INVALID_ARGUMENT;
  phase = e->state & S_PHASE_MASK;
  if (phase == S_ERR) return -(smtp_ssize)((e->state >> 8) & 0xFFu);
  if (phase == S_DONE) return SMTP_ERR_INVALID_STATE;
  if (phase > S_DONE) return SMTP_ERR_INVALID_ARGUMENT;
  switch (phase) {
  case S_CR: /* a trailing CR is a bare CR */
    e->seen |= SMTP_DATA_SEEN_BARE_CR;
    if (e->flags & SMTP_STUFF_REFUSE_BARE) return s_fail(e, SMTP_ERR_BARE_CR);
    tmp[n++] = '\r';
    tmp[n++] = '\n';
    break;
  case S_OWE_LF: tmp[n++] = '\n'; break;
  case S_OWE_DOT:
    tmp[n++] = '.';
    tmp[n++] = '\r';
    tmp[n++] = '\n';
    break;
  case S_TEXT: /* the body lacks its final CRLF: add it */
    tmp[n++] = '\r';
    tmp[n++] = '\n';
    break;
  default: break; /* S_BOL */
  }
  tmp[n++] = '.';
  tmp[n++] = '\r';
  tmp[n++] = '\n';
  if (n > outcap) return SMTP_ERR_BUFFER_TOO_SMALL;
  memcpy(out, tmp, n);
  e->state = S_DONE;
  e->line_len = 0;
  return (smtp_ssize)n;
}

/* ------------------------------------------------------------------------ */

unsigned int smtp_data_scan(const char *body, size_t len) {
  const unsigned char *p = (const unsigned char *)body, *end;
  unsigned seen = 0;
  uint64_t line_len = 0;
  if (!body) return 0;
  end = p + len;
  while (p < end) {
    const unsigned char *s = scan_crlf(p, end, &seen);
    line_len += (uint64_t)(s - p);
    p = s;
    if (p == end) break;
    if (*p == '\n') {
      seen |= SMTP_DATA_SEEN_BARE_LF;
      line_len++;
      p++;
      continue;
    }
    p++;
    if (p < end && *p == '\n') {
      p++;
      if (line_len + 2 > SMTP_TEXT_LINE_MAX) seen |= SMTP_DATA_SEEN_LONG_LINE;
      line_len = 0;
    } else {
      seen |= SMTP_DATA_SEEN_BARE_CR;
      line_len++;
    }
  }
  /* A last line without CRLF gets one when sent. */
  if (line_len && line_len + 2 > SMTP_TEXT_LINE_MAX) seen |= SMTP_DATA_SEEN_LONG_LINE;
  return seen;
}

/* smtp_data_measure()'s line ends: the CR or LF at pos ends the line that
 * started at line_start. A CRLF's LF is skipped (skip); a bare CR or bare
 * LF is sent as CRLF (one octet more) and ends the line there. A macro, so
 * that the state stays in registers. */
#define MEASURE_END(pos)                                                              \
  do {                                                                                \
    size_t p_ = (pos);                                                                \
    if (b[p_] == '\r' && p_ + 1 < len && b[p_ + 1] == '\n') {                          \
      skip = p_ + 2;                                                                  \
    } else {                                                                          \
      seen |= b[p_] == '\r' ? SMTP_DATA_SEEN_BARE_CR : SMTP_DATA_SEEN_BARE_LF;         \
      added++;                                                                        \
      skip = p_ + 1;                                                                  \
    }                                                                                 \
    if (p_ - line_start + 2 > SMTP_TEXT_LINE_MAX) seen |= SMTP_DATA_SEEN_LONG_LINE;   \
    line_start = skip;                                                                \
  } while (0)

unsigned int smtp_data_measure(const char *body, size_t len, uint64_t *wire_size) {
  const unsigned char *b = (const unsigned char *)body;
  unsigned seen = 0;
  uint64_t added = 0;
  size_t i = 0, line_start = 0, skip = 0;
  if (wire_size) *wire_size = 0;
  if (!body || len == 0) return 0;
#if defined(SMTP__DATA_SSE2)
  {
    /* NUL and 8-bit are flags of the whole body, so they are gathered over
     * every block; each block's CR and LF positions are visited from its
     * bit mask, so a line costs a few instructions, not a call. */
    const __m128i vcr = _mm_set1_epi8('\r');
    const __m128i vlf = _mm_set1_epi8('\n');
    const __m128i vz = _mm_setzero_si128();
    __m128i acc_hi = vz, acc_nul = vz;
#define MEASURE_MASK(a) \
  ((uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(a, vcr), _mm_cmpeq_epi8(a, vlf))))
    for (; len - i >= 64; i += 64) {
      const __m128i *q = (const __m128i *)(const void *)(b + i);
      __m128i a0 = _mm_loadu_si128(q), a1 = _mm_loadu_si128(q + 1);
      __m128i a2 = _mm_loadu_si128(q + 2), a3 = _mm_loadu_si128(q + 3);
      uint64_t m = MEASURE_MASK(a0) | MEASURE_MASK(a1) << 16 | MEASURE_MASK(a2) << 32 |
                   MEASURE_MASK(a3) << 48;
      acc_hi = _mm_or_si128(acc_hi, _mm_or_si128(_mm_or_si128(a0, a1), _mm_or_si128(a2, a3)));
      acc_nul = _mm_or_si128(
          acc_nul, _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(a0, vz), _mm_cmpeq_epi8(a1, vz)),
                                _mm_or_si128(_mm_cmpeq_epi8(a2, vz), _mm_cmpeq_epi8(a3, vz))));
      while (m) {
        size_t pos = i + SMTP__CTZ64(m);
        m &= m - 1u;
        if (pos >= skip) MEASURE_END(pos);
      }
    }
    for (; len - i >= 16; i += 16) {
      __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
      unsigned m = (unsigned)MEASURE_MASK(a);
      acc_hi = _mm_or_si128(acc_hi, a);
      acc_nul = _mm_or_si128(acc_nul, _mm_cmpeq_epi8(a, vz));
      while (m) {
        size_t pos = i + SMTP__CTZ(m);
        m &= m - 1u;
        if (pos >= skip) MEASURE_END(pos);
      }
    }
#undef MEASURE_MASK
    if (_mm_movemask_epi8(acc_hi)) seen |= SMTP_DATA_SEEN_8BIT;
    if (_mm_movemask_epi8(acc_nul)) seen |= SMTP_DATA_SEEN_NUL;
  }
#endif
  for (; i < len; i++) {
    unsigned char ch = b[i];
    if (ch == '\r' || ch == '\n') {
      if (i >= skip) MEASURE_END(i);
      continue;
    }
    if (ch == 0) seen |= SMTP_DATA_SEEN_NUL;
    if (ch & 0x80) seen |= SMTP_DATA_SEEN_8BIT;
  }
  if (line_start < len) {
    /* The last line has no line end: smtp_stuff_finish() adds CRLF. */
    if (len - line_start + 2 > SMTP_TEXT_LINE_MAX) seen |= SMTP_DATA_SEEN_LONG_LINE;
    added += 2;
  }
  if (wire_size) *wire_size = (uint64_t)len + added;
  return seen;
}
#undef MEASURE_END

const char *smtp__data_scan_crlf(const char *p, const char *end, unsigned int *seen) {
  return (const char *)scan_crlf((const unsigned char *)p, (const unsigned char *)end, seen);
}

size_t smtp__data_find_bol_dot(const char *p, size_t n, int at_bol) {
  const unsigned char *b = (const unsigned char *)p;
  size_t i = 0;
  unsigned bol = at_bol ? 1u : 0u;
#if defined(SMTP__DATA_SSE2)
  {
    const __m128i vdot = _mm_set1_epi8('.');
    const __m128i vlf = _mm_set1_epi8('\n');
    /* 64 octets at a time; blocks without any dot (most of them) cost one
     * test, and a line start is only looked for where there is a dot. */
    for (; n - i >= 64; i += 64) {
      const __m128i *q = (const __m128i *)(const void *)(b + i);
      __m128i a0 = _mm_loadu_si128(q), a1 = _mm_loadu_si128(q + 1);
      __m128i a2 = _mm_loadu_si128(q + 2), a3 = _mm_loadu_si128(q + 3);
      __m128i d0 = _mm_cmpeq_epi8(a0, vdot), d1 = _mm_cmpeq_epi8(a1, vdot);
      __m128i d2 = _mm_cmpeq_epi8(a2, vdot), d3 = _mm_cmpeq_epi8(a3, vdot);
      if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(d0, d1), _mm_or_si128(d2, d3)))) {
        uint64_t md = (uint64_t)(unsigned)_mm_movemask_epi8(d0) |
                      (uint64_t)(unsigned)_mm_movemask_epi8(d1) << 16 |
                      (uint64_t)(unsigned)_mm_movemask_epi8(d2) << 32 |
                      (uint64_t)(unsigned)_mm_movemask_epi8(d3) << 48;
        uint64_t ml = (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a0, vlf)) |
                      (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a1, vlf)) << 16 |
                      (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a2, vlf)) << 32 |
                      (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a3, vlf)) << 48;
        uint64_t hit = md & ((ml << 1) | bol);
        if (hit) return i + SMTP__CTZ64(hit);
      }
      bol = b[i + 63] == '\n';
    }
    for (; n - i >= 16; i += 16) {
      __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
      unsigned md = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, vdot));
      unsigned ml = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, vlf));
      unsigned hit = md & ((ml << 1) | bol); /* a dot right after LF (or at the start) */
      if (hit) return i + SMTP__CTZ(hit);
      bol = (ml >> 15) & 1u;
    }
  }
  for (; i < n; i++) {
    if (b[i] == '.' && bol) return i;
    bol = b[i] == '\n';
  }
  return n;
#else
  /* Dots are rare: let memchr find each and look at the octet before it. */
  while (i < n) {
    const unsigned char *q = memchr(b + i, '.', n - i);
    size_t at;
    if (!q) return n;
    at = (size_t)(q - b);
    if (at == 0 ? bol != 0 : b[at - 1] == '\n') return at;
    i = at + 1;
  }
  return n;
#endif
}

/* ------------------------------------------------------------------------ */
/* Numbers and BDAT (RFC 3030 2).                                            */

int smtp_parse_u64(const char *s, size_t len, uint64_t *out) {
  uint64_t v = 0;
  size_t i;
  if ((!s && len) || !out) return SMTP_ERR_INVALID_ARGUMENT;
  if (len == 0) return SMTP_ERR_SYNTAX;
  for (i = 0; i < len; i++)
    if (!smtp__is_digit((unsigned char)s[i])) return SMTP_ERR_SYNTAX;
  if (len > 20) return SMTP_ERR_OVERFLOW;
  for (i = 0; i < len; i++) {
    unsigned dgt = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - dgt) / 10u) return SMTP_ERR_OVERFLOW;
    v = v * 10u + dgt;
  }
  *out = v;
  return SMTP_OK;
}

smtp_ssize smtp_bdat_format(char *buf, size_t buflen, uint64_t size, int last) {
  char digits[SMTP__U64_DIGITS];
  size_t nd, need, i = 0;
  if (!buf && buflen) return SMTP_ERR_INVALID_ARGUMENT;
  nd = smtp__fmt_u64(digits, size);
  need = 5 + nd + (last ? 5 : 0) + 2;
  if (need > buflen) return SMTP_ERR_BUFFER_TOO_SMALL;
  memcpy(buf, "BDAT ", 5);
  memcpy(buf + 5, digits, nd);
  i = 5 + nd;
  if (last) {
    memcpy(buf + i, " LAST", 5);
    i += 5;
  }
  buf[i++] = '\r';
  buf[i++] = '\n';
  return (smtp_ssize)i;
}

int smtp_bdat_parse(const char *args, size_t len, uint64_t *size, int *last) {
  size_t nd = 0, z = 0;
  uint64_t v = 0;
  int rc, is_last = 0;
  if ((!args && len) || !size) return SMTP_ERR_INVALID_ARGUMENT;
  while (nd < len && smtp__is_digit((unsigned char)args[nd])) nd++;
  if (nd == 0) return SMTP_ERR_SYNTAX; /* chunk-size = 1*DIGIT */
  if (nd < len) {
    /* [ SP end-marker ], end-marker = "LAST", case-insensitive (RFC 5234 2.3) */
    if (len - nd != 5 || args[nd] != ' ' || smtp__casecmp(args + nd + 1, 4, "LAST", 4) != 0)
      return SMTP_ERR_SYNTAX;
    is_last = 1;
  }
  /* Leading zeros are valid 1*DIGIT; skip them before the 20-digit bound. */
  while (z + 1 < nd && args[z] == '0') z++;
  rc = smtp_parse_u64(args + z, nd - z, &v);
  if (rc != SMTP_OK) return rc;
  *size = v;
  if (last) *last = is_last;
  return SMTP_OK;
}
