/* Message data framing (lib/data.c): un-stuffing and end-of-data detection
 * (RFC 5321 4.5.2, 4.1.1.4; docs/security.md 1, SMTP smuggling CVE-2023-51764,
 * CVE-2023-51765, CVE-2023-51766, CVE-2024-27305), dot-stuffing, line
 * limits (RFC 5321 4.5.3.1.6), body scanning and BDAT (RFC 3030 2).
 *
 * Every un-stuffer vector is fed whole, one byte at a time, at every single
 * split point, and at 100 random multi-way splits (seeded PRNG); output,
 * consumed bytes, the result and the seen bits must be identical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/data.h>

/* ------------------------------------------------------------------------ */
/* Deterministic PRNG (xorshift64*).                                         */

static uint64_t rng_state = 0x5eed5eed12345678u;
static void rng_seed(uint64_t s) { rng_state = s ? s : 1; }
static uint64_t rng_next(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Du;
}
static size_t rng_below(size_t n) { return n ? (size_t)(rng_next() % n) : 0; }

/* ------------------------------------------------------------------------ */
/* Un-stuffer driver.                                                        */

typedef struct ures {
  char *out;
  size_t outlen;
  size_t consumed;
  int ret;
  unsigned seen;
  uint64_t total;
} ures;

static void ures_free(ures *r) { free(r->out); }

/* Feed in[0..n) in chunks whose sizes come from sizes[] (cycled; 0 means
 * "the rest"). Each chunk is copied into its own exactly-sized heap buffer so
 * that a sanitizer sees any write past it. */
static ures unstuff_chunks(const char *in, size_t n, const size_t *sizes, size_t nsizes) {
  ures r;
  smtp_unstuffer d;
  size_t off = 0, k = 0;
  memset(&r, 0, sizeof(r));
  r.out = malloc(n + 1);
  assert_non_null(r.out);
  memset(&d, 0, sizeof(d));
  while (off < n) {
    size_t c = nsizes ? sizes[k++ % nsizes] : 0;
    size_t len, consumed = 12345;
    char *buf;
    int rc;
    if (c == 0 || c > n - off) c = n - off;
    buf = malloc(c);
    assert_non_null(buf);
    memcpy(buf, in + off, c);
    len = c;
    rc = smtp_unstuff(&d, buf, &len, &consumed);
    assert_true(rc == 0 || rc == 1);
    assert_true(len <= c); /* output never outruns input */
    assert_true(consumed <= c);
    memcpy(r.out + r.outlen, buf, len);
    r.outlen += len;
    off += consumed;
    free(buf);
    if (rc == 1) {
      r.ret = 1;
      break;
    }
    assert_int_equal(consumed, c); /* without end of data, everything is consumed */
  }
  r.consumed = off;
  r.seen = d.seen;
  r.total = d.total;
  assert_int_equal(r.total, r.outlen);
  return r;
}

static ures unstuff_whole(const char *in, size_t n) { return unstuff_chunks(in, n, NULL, 0); }

/* b must equal the whole feed a. One exception: when the input ends without
 * end of data, a split feed may still hold one carried byte (see lib/data.c:
 * a CR held after CRLF "." at a call boundary makes the output run one byte
 * late until the next dropped dot); it is then a one-byte-shorter prefix. The
 * same input with a terminator appended is checked for exact equality. */
static void assert_same(const ures *a, const ures *b, const char *name, const char *how) {
  size_t blen = b->outlen;
  if (a->ret == 0 && blen + 1 == a->outlen) blen++;
  if (a->ret != b->ret || a->consumed != b->consumed || a->outlen != blen ||
      a->seen != b->seen || memcmp(a->out, b->out, b->outlen) != 0) {
    print_error("vector '%s': %s differs from whole feed (ret %d/%d consumed %zu/%zu "
                "outlen %zu/%zu seen %x/%x)\n",
                name, how, a->ret, b->ret, a->consumed, b->consumed, a->outlen, b->outlen,
                a->seen, b->seen);
    fail();
  }
}

/* Whole, byte at a time, every 2-way split, 100 random multi-way splits. */
static ures unstuff_all_ways_1(const char *name, const char *in, size_t n) {
  ures whole = unstuff_whole(in, n);
  size_t one = 1, i, t;
  ures r = unstuff_chunks(in, n, &one, 1);
  assert_same(&whole, &r, name, "one byte at a time");
  ures_free(&r);
  for (i = 1; i < n; i++) {
    size_t two[2];
    two[0] = i;
    two[1] = 0;
    r = unstuff_chunks(in, n, two, 2);
    assert_same(&whole, &r, name, "two-way split");
    ures_free(&r);
  }
  rng_seed(0xDA7A0000u + n);
  for (t = 0; t < 100; t++) {
    size_t sizes[64];
    size_t ns = 1 + rng_below(64);
    for (i = 0; i < ns; i++) sizes[i] = 1 + rng_below(n < 8 ? 8 : n / 2);
    r = unstuff_chunks(in, n, sizes, ns);
    assert_same(&whole, &r, name, "random split");
    ures_free(&r);
  }
  return whole;
}

static ures unstuff_all_ways(const char *name, const char *in, size_t n) {
  ures whole = unstuff_all_ways_1(name, in, n);
  if (whole.ret == 0) {
    /* Append a terminator: now every split must give exactly the same. */
    char *ext = malloc(n + 5);
    ures w2, r;
    size_t one = 1, i;
    assert_non_null(ext);
    memcpy(ext, in, n);
    memcpy(ext + n, "\r\n.\r\n", 5);
    w2 = unstuff_all_ways_1(name, ext, n + 5);
    assert_int_equal(w2.ret, 1);
    r = unstuff_chunks(ext, n + 5, &one, 1);
    assert_int_equal(r.outlen, w2.outlen);
    ures_free(&r);
    for (i = 1; i < n + 5; i++) {
      size_t two[2];
      two[0] = i;
      two[1] = 0;
      r = unstuff_chunks(ext, n + 5, two, 2);
      assert_int_equal(r.outlen, w2.outlen);
      ures_free(&r);
    }
    ures_free(&w2);
    free(ext);
  }
  return whole;
}

/* ------------------------------------------------------------------------ */
/* Un-stuffer vectors.                                                       */

#define ALL ((size_t)-1)
typedef struct uvec {
  const char *name;
  const char *in;
  size_t inlen;
  const char *out;
  size_t outlen;
  int end;          /* 1 when end of data must be found */
  size_t consumed;  /* ALL = every input byte */
  unsigned seen;
} uvec;
#define UV(name, in, out, end, consumed, seen) \
  {name, in, sizeof(in) - 1, out, sizeof(out) - 1, end, consumed, seen}

#define CR_ SMTP_DATA_SEEN_BARE_CR
#define LF_ SMTP_DATA_SEEN_BARE_LF
#define NUL_ SMTP_DATA_SEEN_NUL
#define B8_ SMTP_DATA_SEEN_8BIT

static const uvec unstuff_vectors[] = {
    /* RFC 5321 4.1.1.4: the message starts at a line start, so "." CRLF as
     * the very first bytes is an empty message. */
    UV("empty message", ".\r\n", "", 1, 3, 0),
    UV("one line", "Hello\r\n.\r\n", "Hello\r\n", 1, ALL, 0),
    UV("two lines", "a\r\nb\r\n.\r\n", "a\r\nb\r\n", 1, ALL, 0),
    UV("empty line then end", "\r\n.\r\n", "\r\n", 1, ALL, 0),
    UV("headers and body",
       "From: a@b\r\nTo: c@d\r\nSubject: hi\r\n\r\nbody\r\n.\r\n",
       "From: a@b\r\nTo: c@d\r\nSubject: hi\r\n\r\nbody\r\n", 1, ALL, 0),
    /* RFC 5321 4.5.2: a leading dot is removed. */
    UV("stuffed dot first line", "..foo\r\n.\r\n", ".foo\r\n", 1, ALL, 0),
    UV("stuffed lone dot", "a\r\n..\r\n.\r\n", "a\r\n.\r\n", 1, ALL, 0),
    UV("stuffed dot run", "....\r\n.\r\n", "...\r\n", 1, ALL, 0),
    UV("stuffed dots many lines", "..a\r\n..b\r\n...\r\n.\r\n", ".a\r\n.b\r\n..\r\n", 1, ALL, 0),
    UV("unstuffed dot text removed", "a\r\n.a\r\n.\r\n", "a\r\na\r\n", 1, ALL, 0),
    UV("dot space line", "a\r\n. \r\n.\r\n", "a\r\n \r\n", 1, ALL, 0),
    UV("dot tab line", "a\r\n.\t\r\n.\r\n", "a\r\n\t\r\n", 1, ALL, 0),
    UV("dot mid line kept", "a.b\r\n.\r\n", "a.b\r\n", 1, ALL, 0),
    UV("dot at line end kept", "a.\r\n.\r\n", "a.\r\n", 1, ALL, 0),
    UV("space dot not end", "a\r\n .\r\nb\r\n.\r\n", "a\r\n .\r\nb\r\n", 1, ALL, 0),
    /* Pipelining (RFC 2920): bytes after the terminator are the next
     * command and are left unconsumed and unreported. */
    UV("pipelined QUIT", "x\r\n.\r\nQUIT\r\n", "x\r\n", 1, 6, 0),
    UV("pipelined second message", "a\r\n.\r\nb\r\n.\r\n", "a\r\n", 1, 6, 0),
    UV("8bit after end not seen", "a\r\n.\r\n\xff\x00\n\r", "a\r\n", 1, 6, 0),
    UV("pipelined MAIL after empty", ".\r\nMAIL FROM:<a@b>\r\n", "", 1, 3, 0),
    /* docs/security.md 1 / CVE-2023-51764/5/6, CVE-2024-27305: none of these
     * ends data; all are passed through and reported. */
    UV("LF . LF", "a\n.\nb", "a\n.\nb", 0, ALL, LF_),
    UV("LF . CRLF", "a\n.\r\nb", "a\n.\r\nb", 0, ALL, LF_),
    UV("CRLF . LF", "a\r\n.\nb", "a\r\n\nb", 0, ALL, LF_),
    UV("CR . CR", "a\r.\rb", "a\r.\rb", 0, ALL, CR_),
    UV("CRLF . CR", "a\r\n.\rb", "a\r\n\rb", 0, ALL, CR_),
    UV("CRLF . CR CRLF", "a\r\n.\r\r\nb", "a\r\n\r\r\nb", 0, ALL, CR_),
    UV("CRLF NUL . CRLF", "a\r\n\0.\r\nb", "a\r\n\0.\r\nb", 0, ALL, NUL_),
    UV("CR . CRLF", "a\r.\r\nb", "a\r.\r\nb", 0, ALL, CR_),
    UV("LF . CR", "a\n.\rb", "a\n.\rb", 0, ALL, CR_ | LF_),
    UV("CRLF . LF . CRLF", "a\r\n.\n.\r\nb", "a\r\n\n.\r\nb", 0, ALL, LF_),
    UV("CRLF . CR . CRLF", "a\r\n.\r.\r\nb", "a\r\n\r.\r\nb", 0, ALL, CR_),
    UV("CRLF . CR at end held", "a\r\n.\r", "a\r\n", 0, ALL, 0),
    UV("CRLF . at end held", "a\r\n.", "a\r\n", 0, ALL, 0),
    UV("LF . LF first", "\n.\nX", "\n.\nX", 0, ALL, LF_),
    UV("dot LF first", ".\nX", "\nX", 0, ALL, LF_),
    UV("dot CR first", ".\rX", "\rX", 0, ALL, CR_),
    UV("dot CR CR first", ".\r\rX", "\r\rX", 0, ALL, CR_),
    UV("dot CR CR LF first", ".\r\r\nX", "\r\r\nX", 0, ALL, CR_),
    UV("CR LF dot CR dot", "\r\n.\r.", "\r\n\r.", 0, ALL, CR_),
    UV("bare CR only", "\r", "\r", 0, ALL, 0),
    UV("bare CR then text", "\rX", "\rX", 0, ALL, CR_),
    UV("bare LF only", "\n", "\n", 0, ALL, LF_),
    UV("NUL dot CRLF first", "\0.\r\n", "\0.\r\n", 0, ALL, NUL_),
    UV("LF CR LF dot LF", "\n\r\n.\n", "\n\r\n\n", 0, ALL, LF_),
    UV("CR CR dot", "\r\r.\r\n", "\r\r.\r\n", 0, ALL, CR_),
    /* The full smuggling payload (SEC Consult, CVE-2023-51766): one
     * message, never two. */
    UV("smuggle LF.LF payload",
       "Hi\r\n\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nevil\r\n.\r\n",
       "Hi\r\n\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nevil\r\n", 1, ALL, LF_),
    UV("smuggle CR.CR payload",
       "Hi\r\n\r.\rMAIL FROM:<evil@x>\r\nDATA\r\nevil\r\n.\r\n",
       "Hi\r\n\r.\rMAIL FROM:<evil@x>\r\nDATA\r\nevil\r\n", 1, ALL, CR_),
    UV("smuggle CRLF.LF payload",
       "Hi\r\n.\nMAIL FROM:<evil@x>\r\n.\r\n",
       "Hi\r\n\nMAIL FROM:<evil@x>\r\n", 1, ALL, LF_),
    UV("smuggle LF.CRLF payload",
       "Hi\n.\r\nMAIL FROM:<evil@x>\r\n.\r\n",
       "Hi\n.\r\nMAIL FROM:<evil@x>\r\n", 1, ALL, LF_),
    UV("smuggle CRLF NUL.CRLF payload",
       "Hi\r\n\0.\r\nMAIL FROM:<evil@x>\r\n.\r\n",
       "Hi\r\n\0.\r\nMAIL FROM:<evil@x>\r\n", 1, ALL, NUL_),
    /* The real terminator still ends data after odd bytes. */
    UV("bare CR then CRLF.CRLF", "a\r\r\n.\r\n", "a\r\r\n", 1, ALL, CR_),
    UV("bare LF then CRLF.CRLF", "a\n\r\n.\r\n", "a\n\r\n", 1, ALL, LF_),
    UV("dot CR CR LF then end", ".\r\r\n.\r\n", "\r\r\n", 1, ALL, CR_),
    UV("CRLF.CR then end", "a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", 1, ALL, CR_),
    UV("NUL then end", "a\0b\r\n.\r\n", "a\0b\r\n", 1, ALL, NUL_),
    UV("8bit line", "caf\xc3\xa9\r\n.\r\n", "caf\xc3\xa9\r\n", 1, ALL, B8_),
    UV("8bit and dot", "..\xe2\x82\xac\r\n.\r\n", ".\xe2\x82\xac\r\n", 1, ALL, B8_),
    UV("high byte 0x80", "\x80\r\n.\r\n", "\x80\r\n", 1, ALL, B8_),
    UV("long text no end", "The quick brown fox jumps over the lazy dog. 0123456789 abcdef",
       "The quick brown fox jumps over the lazy dog. 0123456789 abcdef", 0, ALL, 0),
    UV("long text with 8bit late",
       "The quick brown fox jumps over the lazy dog. 0123456789 abcdef\xff\r\n.\r\n",
       "The quick brown fox jumps over the lazy dog. 0123456789 abcdef\xff\r\n", 1, ALL, B8_),
    UV("long text NUL late",
       "The quick brown fox jumps over the lazy dog. 0123456789 abcd\0ef\r\n.\r\n",
       "The quick brown fox jumps over the lazy dog. 0123456789 abcd\0ef\r\n", 1, ALL, NUL_),
    UV("long text CR mid", "The quick brown fox jumps over\rthe lazy dog. 0123456789\r\n.\r\n",
       "The quick brown fox jumps over\rthe lazy dog. 0123456789\r\n", 1, ALL, CR_),
    UV("dot lines interleaved",
       "line one\r\n.line two\r\n..line three\r\nline four\r\n.\r\nNOOP\r\n",
       "line one\r\nline two\r\n.line three\r\nline four\r\n", 1, 49, 0),
};

static void test_unstuff_vectors(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(unstuff_vectors) / sizeof(unstuff_vectors[0]); i++) {
    const uvec *v = &unstuff_vectors[i];
    ures r = unstuff_all_ways(v->name, v->in, v->inlen);
    size_t want_consumed = v->consumed == ALL ? v->inlen : v->consumed;
    if (r.ret != v->end || r.consumed != want_consumed || r.outlen != v->outlen ||
        memcmp(r.out, v->out, v->outlen) != 0 || r.seen != v->seen) {
      print_error("vector %zu '%s': ret %d want %d, consumed %zu want %zu, outlen %zu want %zu,"
                  " seen %x want %x\n",
                  i, v->name, r.ret, v->end, r.consumed, want_consumed, r.outlen, v->outlen,
                  r.seen, v->seen);
      fail();
    }
    ures_free(&r);
  }
}

/* RFC 5321 4.5.3.1.6: 1000 octets incl. CRLF, the stuffing dot not counted. */
static void test_unstuff_line_limit(void **state) {
  char *buf = malloc(2100);
  size_t n;
  ures r;
  (void)state;
  assert_non_null(buf);
  /* 998 + CRLF = 1000: fine. */
  memset(buf, 'x', 998);
  memcpy(buf + 998, "\r\n.\r\n", 5);
  r = unstuff_all_ways("998", buf, 1003);
  assert_int_equal(r.ret, 1);
  assert_int_equal(r.seen, 0);
  ures_free(&r);
  /* 999 + CRLF = 1001: long. */
  memset(buf, 'x', 999);
  memcpy(buf + 999, "\r\n.\r\n", 5);
  r = unstuff_all_ways("999", buf, 1004);
  assert_int_equal(r.ret, 1);
  assert_int_equal(r.seen, SMTP_DATA_SEEN_LONG_LINE);
  ures_free(&r);
  /* "." + 998 + CRLF: 1001 on the wire, 1000 unstuffed: fine. */
  buf[0] = '.';
  memset(buf + 1, '.', 998);
  memcpy(buf + 999, "\r\n.\r\n", 5);
  r = unstuff_all_ways("dot+998", buf, 1004);
  assert_int_equal(r.ret, 1);
  assert_int_equal(r.seen, 0);
  assert_int_equal(r.outlen, 1000);
  ures_free(&r);
  /* A long line's tail is never a line start (docs/security.md 1): a dot at
   * offset 1000, 1024, 2048 of one line is data. */
  memset(buf, 'y', 2090);
  buf[1000] = '.';
  buf[1024] = '.';
  buf[2048] = '.';
  memcpy(buf + 2049, "\r\n", 2);
  n = 2051;
  memcpy(buf + n, ".\r\n", 3);
  r = unstuff_all_ways("long with dots", buf, n + 3);
  assert_int_equal(r.ret, 1);
  assert_int_equal(r.outlen, n);
  assert_memory_equal(r.out, buf, n);
  assert_int_equal(r.seen, SMTP_DATA_SEEN_LONG_LINE);
  ures_free(&r);
  /* A line never ended: flagged once past 1000 octets. */
  memset(buf, 'z', 1500);
  r = unstuff_whole(buf, 1500);
  assert_int_equal(r.ret, 0);
  assert_int_equal(r.seen, SMTP_DATA_SEEN_LONG_LINE);
  ures_free(&r);
  free(buf);
}

/* 10 MB of 5000-octet lines passes through, LONG_LINE reported. */
static void test_unstuff_big_long_lines(void **state) {
  const size_t line = 5000, lines = 2000;
  size_t n = line * lines, off = 0;
  char *in = malloc(n + 3 + 6), *work = malloc(65536), *out = malloc(n);
  smtp_unstuffer d;
  size_t i;
  (void)state;
  assert_non_null(in);
  assert_non_null(work);
  assert_non_null(out);
  for (i = 0; i < lines; i++) {
    memset(in + i * line, (i % 7 == 0) ? '.' : 'm', line - 2);
    in[i * line + line - 2] = '\r';
    in[i * line + line - 1] = '\n';
  }
  memcpy(in + n, ".\r\nQUIT\r\n", 9);
  smtp_unstuffer_reset(&d);
  size_t outlen = 0;
  int rc = 0;
  while (off < n + 9) {
    size_t c = n + 9 - off < 65536 ? n + 9 - off : 65536, len = c, consumed;
    memcpy(work, in + off, c);
    rc = smtp_unstuff(&d, work, &len, &consumed);
    assert_true(rc >= 0);
    memcpy(out + outlen, work, len);
    outlen += len;
    off += consumed;
    if (rc == 1) break;
  }
  assert_int_equal(rc, 1);
  assert_int_equal(off, n + 3);
  /* Lines starting with a dot lose it (RFC 5321 4.5.2). */
  assert_int_equal(outlen, n - (lines + 6) / 7);
  assert_int_equal(d.total, outlen);
  assert_int_equal(d.seen, SMTP_DATA_SEEN_LONG_LINE);
  free(in);
  free(work);
  free(out);
}

static void test_unstuff_api(void **state) {
  smtp_unstuffer d;
  char buf[16] = ".\r\nX";
  size_t len = 4, consumed = 99;
  (void)state;
  memset(&d, 0, sizeof(d));
  assert_int_equal(smtp_unstuff(NULL, buf, &len, &consumed), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_unstuff(&d, NULL, &len, &consumed), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_unstuff(&d, buf, NULL, &consumed), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_unstuff(&d, buf, &len, NULL), SMTP_ERR_INVALID_ARGUMENT);
  len = 0;
  assert_int_equal(smtp_unstuff(&d, NULL, &len, &consumed), 0);
  assert_int_equal(consumed, 0);
  len = 4;
  assert_int_equal(smtp_unstuff(&d, buf, &len, &consumed), 1);
  assert_int_equal(len, 0);
  assert_int_equal(consumed, 3);
  /* After the end: nothing more is taken until reset. */
  len = 1;
  assert_int_equal(smtp_unstuff(&d, buf + 3, &len, &consumed), 1);
  assert_int_equal(len, 0);
  assert_int_equal(consumed, 0);
  smtp_unstuffer_reset(&d);
  assert_int_equal(d.state, 0);
  assert_int_equal(d.total, 0);
  d.state = 0xF;
  len = 1;
  assert_int_equal(smtp_unstuff(&d, buf, &len, &consumed), SMTP_ERR_INVALID_ARGUMENT);
  smtp_unstuffer_reset(NULL);
}

/* The held-back CR after CRLF "." at a call boundary, then more text: no
 * byte is lost, output never exceeds a call's input. */
static void test_unstuff_carry(void **state) {
  smtp_unstuffer d;
  char a[] = "x\r\n.\r";
  char b[] = "abcdef";
  char c[] = "\r\n.\r\n";
  size_t len, consumed;
  (void)state;
  memset(&d, 0, sizeof(d));
  len = 5;
  assert_int_equal(smtp_unstuff(&d, a, &len, &consumed), 0);
  assert_int_equal(consumed, 5);
  assert_int_equal(len, 3);
  assert_memory_equal(a, "x\r\n", 3);
  len = 6;
  assert_int_equal(smtp_unstuff(&d, b, &len, &consumed), 0);
  assert_int_equal(consumed, 6);
  assert_int_equal(len, 6);
  assert_memory_equal(b, "\rabcde", 6); /* one byte ("f") runs late */
  len = 5;
  assert_int_equal(smtp_unstuff(&d, c, &len, &consumed), 1);
  assert_int_equal(consumed, 5);
  assert_int_equal(len, 3);
  assert_memory_equal(c, "f\r\n", 3);
  assert_int_equal(d.total, 12);
  assert_int_equal(d.seen, SMTP_DATA_SEEN_BARE_CR);
}

/* ------------------------------------------------------------------------ */
/* Stuffer.                                                                  */

typedef struct sres {
  char *out;
  size_t outlen;
  int err;          /* 0 or the first error */
  size_t err_at;    /* input offset at the error */
  unsigned seen;
} sres;

/* Stuff in[0..n) fed in chunks (sizes cycled, 0 = rest) with output room
 * limited to outcap per call (0 = the worst case), then finish. Canary
 * bytes after the room check that nothing is written past outcap. */
static sres stuff_chunks(const char *in, size_t n, unsigned flags, const size_t *sizes,
                         size_t nsizes, size_t outcap) {
  sres r;
  smtp_stuffer e;
  size_t off = 0, k = 0;
  memset(&r, 0, sizeof(r));
  r.out = malloc(SMTP_STUFF_MAX_OUTPUT(n) + SMTP_STUFF_FINISH_MAX);
  assert_non_null(r.out);
  smtp_stuffer_init(&e, flags);
  while (off < n) {
    size_t c = nsizes ? sizes[k++ % nsizes] : 0, consumed = 777, cap;
    unsigned char *o;
    smtp_ssize w;
    if (c == 0 || c > n - off) c = n - off;
    cap = outcap ? outcap : SMTP_STUFF_MAX_OUTPUT(c);
    o = malloc(cap + 8);
    assert_non_null(o);
    memset(o + cap, 0xA5, 8);
    w = smtp_stuff(&e, in + off, c, &consumed, (char *)o, cap);
    for (size_t j = 0; j < 8; j++) assert_int_equal(o[cap + j], 0xA5);
    if (w < 0) {
      r.err = (int)w;
      r.err_at = off + consumed;
      r.seen = e.seen;
      free(o);
      /* Errors are sticky. */
      assert_int_equal(smtp_stuff(&e, "a", 1, &consumed, (char *)r.out, 4), w);
      assert_int_equal(smtp_stuff_finish(&e, r.out, 8), w);
      return r;
    }
    assert_true((size_t)w <= cap);
    assert_true(consumed <= c);
    if (!outcap) assert_int_equal(consumed, c); /* SMTP_STUFF_MAX_OUTPUT suffices */
    assert_true(w > 0 || consumed > 0 || c == 0); /* progress with any outcap >= 1 */
    memcpy(r.out + r.outlen, o, (size_t)w);
    r.outlen += (size_t)w;
    off += consumed;
    free(o);
  }
  {
    /* finish, itself limited to outcap: BUFFER_TOO_SMALL is not sticky. */
    char fin[SMTP_STUFF_FINISH_MAX];
    smtp_ssize w = smtp_stuff_finish(&e, fin, outcap ? outcap : sizeof(fin));
    if (w == SMTP_ERR_BUFFER_TOO_SMALL) w = smtp_stuff_finish(&e, fin, sizeof(fin));
    if (w < 0) {
      r.err = (int)w;
      r.err_at = n;
      r.seen = e.seen;
      return r;
    }
    assert_true(w <= SMTP_STUFF_FINISH_MAX);
    memcpy(r.out + r.outlen, fin, (size_t)w);
    r.outlen += (size_t)w;
    assert_int_equal(smtp_stuff_finish(&e, fin, sizeof(fin)), SMTP_ERR_INVALID_STATE);
  }
  r.seen = e.seen;
  return r;
}

static void assert_sres_same(const sres *a, const sres *b, const char *name, const char *how) {
  int same = a->err == b->err && a->seen == b->seen;
  if (same && a->err) same = a->err_at == b->err_at;
  if (same && !a->err)
    same = a->outlen == b->outlen && memcmp(a->out, b->out, a->outlen) == 0;
  if (!same) {
    print_error("stuff '%s': %s differs (err %d/%d at %zu/%zu, outlen %zu/%zu, seen %x/%x)\n",
                name, how, a->err, b->err, a->err_at, b->err_at, a->outlen, b->outlen, a->seen,
                b->seen);
    fail();
  }
}

static sres stuff_all_ways(const char *name, const char *in, size_t n, unsigned flags) {
  sres whole = stuff_chunks(in, n, flags, NULL, 0, 0);
  size_t one = 1, i, t, cap;
  sres r = stuff_chunks(in, n, flags, &one, 1, 0);
  assert_sres_same(&whole, &r, name, "one byte at a time");
  free(r.out);
  for (cap = 1; cap <= 4; cap++) {
    r = stuff_chunks(in, n, flags, NULL, 0, cap);
    assert_sres_same(&whole, &r, name, "small outcap");
    free(r.out);
  }
  for (i = 1; i < n; i++) {
    size_t two[2];
    two[0] = i;
    two[1] = 0;
    r = stuff_chunks(in, n, flags, two, 2, 0);
    assert_sres_same(&whole, &r, name, "two-way split");
    free(r.out);
  }
  rng_seed(0x57FF0000u + n);
  for (t = 0; t < 100; t++) {
    size_t sizes[32];
    size_t ns = 1 + rng_below(32);
    for (i = 0; i < ns; i++) sizes[i] = 1 + rng_below(n < 8 ? 8 : n / 2);
    r = stuff_chunks(in, n, flags, sizes, ns, rng_below(3) ? 0 : 1 + rng_below(8));
    assert_sres_same(&whole, &r, name, "random split");
    free(r.out);
  }
  return whole;
}

typedef struct svec {
  const char *name;
  const char *in;
  size_t inlen;
  unsigned flags;
  const char *out; /* stuff + finish */
  size_t outlen;
  int err;
  size_t err_at;
  unsigned seen;
} svec;
#define SV(name, in, flags, out, err, err_at, seen) \
  {name, in, sizeof(in) - 1, flags, out, sizeof(out) - 1, err, err_at, seen}
#define RB SMTP_STUFF_REFUSE_BARE

static const svec stuff_vectors[] = {
    /* RFC 5321 4.1.1.4 / 4.5.2; docs/security.md 1 (client side). */
    SV("empty body", "", 0, ".\r\n", 0, 0, 0),
    SV("no final CRLF", "a", 0, "a\r\n.\r\n", 0, 0, 0),
    SV("final CRLF kept", "a\r\n", 0, "a\r\n.\r\n", 0, 0, 0),
    SV("first line dot", ".a\r\n", 0, "..a\r\n.\r\n", 0, 0, 0),
    SV("lone dot body", ".", 0, "..\r\n.\r\n", 0, 0, 0),
    SV("lone dot line", "a\r\n.\r\nb", 0, "a\r\n..\r\nb\r\n.\r\n", 0, 0, 0),
    SV("dot run", "...\r\n", 0, "....\r\n.\r\n", 0, 0, 0),
    SV("dot mid line", "a.b\r\n", 0, "a.b\r\n.\r\n", 0, 0, 0),
    SV("two dot lines", ".\r\n.\r\n", 0, "..\r\n..\r\n.\r\n", 0, 0, 0),
    SV("bare LF normalised", "a\nb", 0, "a\r\nb\r\n.\r\n", 0, 0, LF_),
    SV("bare LF dot", "a\n.b", 0, "a\r\n..b\r\n.\r\n", 0, 0, LF_),
    SV("bare LF dot LF", "\n.\n", 0, "\r\n..\r\n.\r\n", 0, 0, LF_),
    SV("bare CR normalised", "a\rb", 0, "a\r\nb\r\n.\r\n", 0, 0, CR_),
    SV("bare CR dot", "a\r.b", 0, "a\r\n..b\r\n.\r\n", 0, 0, CR_),
    SV("CR dot CR", "\r.\r", 0, "\r\n..\r\n.\r\n", 0, 0, CR_),
    SV("trailing CR", "a\r", 0, "a\r\n.\r\n", 0, 0, CR_),
    SV("CR CR LF", "\r\r\n", 0, "\r\n\r\n.\r\n", 0, 0, CR_),
    SV("LF CR", "\n\r", 0, "\r\n\r\n.\r\n", 0, 0, CR_ | LF_),
    SV("CRLF dot CR CRLF", "\r\n.\r\r\n", 0, "\r\n..\r\n\r\n.\r\n", 0, 0, CR_),
    SV("8bit passes", "caf\xc3\xa9\r\n", 0, "caf\xc3\xa9\r\n.\r\n", 0, 0, B8_),
    SV("NUL refused", "ab\0c", 0, "", SMTP_ERR_NUL, 2, NUL_),
    SV("NUL first", "\0", 0, "", SMTP_ERR_NUL, 0, NUL_),
    SV("NUL after dot", ".\0", 0, "", SMTP_ERR_NUL, 1, NUL_),
    SV("refuse bare LF", "a\nb", RB, "", SMTP_ERR_BARE_LF, 1, LF_),
    SV("refuse bare CR", "a\rb", RB, "", SMTP_ERR_BARE_CR, 2, CR_),
    SV("refuse trailing CR", "a\r", RB, "", SMTP_ERR_BARE_CR, 2, CR_),
    SV("refuse CR dot", "a\r\n.\rb", RB, "", SMTP_ERR_BARE_CR, 5, CR_),
    SV("refuse mode CRLF fine", "a\r\n.b\r\n", RB, "a\r\n..b\r\n.\r\n", 0, 0, 0),
    SV("text lines",
       "From: a@b\r\nSubject: x\r\n\r\n.hidden\r\nend", 0,
       "From: a@b\r\nSubject: x\r\n\r\n..hidden\r\nend\r\n.\r\n", 0, 0, 0),
};

static void test_stuff_vectors(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(stuff_vectors) / sizeof(stuff_vectors[0]); i++) {
    const svec *v = &stuff_vectors[i];
    sres r = stuff_all_ways(v->name, v->in, v->inlen, v->flags);
    int ok = r.err == v->err && r.seen == v->seen;
    if (ok && v->err) ok = r.err_at == v->err_at;
    if (ok && !v->err) ok = r.outlen == v->outlen && memcmp(r.out, v->out, v->outlen) == 0;
    if (!ok) {
      print_error("stuff vector %zu '%s': err %d want %d at %zu want %zu, outlen %zu want %zu,"
                  " seen %x want %x\n",
                  i, v->name, r.err, v->err, r.err_at, v->err_at, r.outlen, v->outlen, r.seen,
                  v->seen);
      fail();
    }
    free(r.out);
  }
}

/* RFC 5321 4.5.3.1.6 on the client: refuse a line over 1000 octets with
 * its CRLF, unless asked not to. */
static void test_stuff_line_limit(void **state) {
  char in[1200], out[3000];
  size_t consumed;
  smtp_stuffer e;
  smtp_ssize w;
  sres r;
  (void)state;
  memset(in, 'q', sizeof(in));
  in[998] = '\r';
  in[999] = '\n';
  r = stuff_all_ways("998", in, 1000, 0);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.outlen, 1003);
  free(r.out);
  /* Leading dot: not counted (998 content + CRLF, 1001 on the wire). */
  in[0] = '.';
  r = stuff_all_ways("dot 998", in, 1000, 0);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.outlen, 1004);
  free(r.out);
  in[0] = 'q';
  in[998] = 'q';
  in[999] = '\r';
  in[1000] = '\n';
  r = stuff_all_ways("999", in, 1001, 0);
  assert_int_equal(r.err, SMTP_ERR_LINE_TOO_LONG);
  assert_int_equal(r.err_at, 998);
  assert_int_equal(r.seen, SMTP_DATA_SEEN_LONG_LINE);
  free(r.out);
  /* A NUL as the 999th octet: the line limit is hit first, whatever the
   * output room (found by fuzz_stuff). */
  in[998] = '\0';
  r = stuff_all_ways("NUL at 999", in, 1001, 0);
  assert_int_equal(r.err, SMTP_ERR_LINE_TOO_LONG);
  assert_int_equal(r.err_at, 998);
  free(r.out);
  in[998] = 'q';
  r = stuff_all_ways("999 allowed", in, 1001, SMTP_STUFF_ALLOW_LONG_LINES);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.outlen, 1004);
  assert_int_equal(r.seen, SMTP_DATA_SEEN_LONG_LINE);
  free(r.out);
  /* Last line without CRLF: 998 octets fit (the CRLF is added), 999 not. */
  smtp_stuffer_init(&e, 0);
  w = smtp_stuff(&e, in, 998, &consumed, out, sizeof(out));
  assert_int_equal(w, 998);
  w = smtp_stuff(&e, in, 1, &consumed, out, sizeof(out));
  assert_int_equal(w, SMTP_ERR_LINE_TOO_LONG);
  assert_int_equal(consumed, 0);
  /* A bare LF ends the line when normalised, so the count restarts. */
  memset(in, 'q', sizeof(in));
  in[600] = '\n';
  r = stuff_all_ways("bare LF resets", in, 1200, 0);
  assert_int_equal(r.err, 0);
  free(r.out);
}

static void test_stuff_api(void **state) {
  smtp_stuffer e;
  char out[16];
  size_t consumed = 5;
  (void)state;
  smtp_stuffer_init(&e, 0);
  assert_int_equal(smtp_stuff(NULL, "a", 1, &consumed, out, 16), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_stuff(&e, NULL, 1, &consumed, out, 16), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_stuff(&e, "a", 1, NULL, out, 16), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_stuff(&e, "a", 1, &consumed, NULL, 16), SMTP_ERR_INVALID_ARGUMENT);
  /* outcap 0: nothing happens. */
  assert_int_equal(smtp_stuff(&e, "a", 1, &consumed, out, 0), 0);
  assert_int_equal(consumed, 0);
  /* outcap 1 with a leading dot: "." now, the second "." owed. */
  assert_int_equal(smtp_stuff(&e, ".x", 2, &consumed, out, 1), 1);
  assert_int_equal(consumed, 1);
  assert_int_equal(out[0], '.');
  assert_int_equal(smtp_stuff(&e, "x", 1, &consumed, out, 1), 1);
  assert_int_equal(consumed, 0);
  assert_int_equal(out[0], '.');
  assert_int_equal(smtp_stuff(&e, "x", 1, &consumed, out, 1), 1);
  assert_int_equal(consumed, 1);
  /* finish needs room: not sticky. */
  assert_int_equal(smtp_stuff_finish(&e, out, 4), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_stuff_finish(&e, out, 5), 5);
  assert_memory_equal(out, "\r\n.\r\n", 5);
  assert_int_equal(smtp_stuff(&e, "a", 1, &consumed, out, 16), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_stuff_finish(NULL, out, 16), SMTP_ERR_INVALID_ARGUMENT);
  /* Owed dot at finish: 6 bytes, the maximum. */
  smtp_stuffer_init(&e, 0);
  assert_int_equal(smtp_stuff(&e, ".", 1, &consumed, out, 1), 1);
  assert_int_equal(smtp_stuff_finish(&e, out, 5), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_stuff_finish(&e, out, SMTP_STUFF_FINISH_MAX), 6);
  assert_memory_equal(out, ".\r\n.\r\n", 6);
  smtp_stuffer_init(NULL, 0);
}

/* SMTP_STUFF_MAX_OUTPUT(n) is enough for any n bytes in any state (curl
 * CVE-2018-0500 was an undersized buffer). */
static void test_stuff_max_output(void **state) {
  static const char alphabet[] = ".\n\r.a";
  char in[64], out[SMTP_STUFF_MAX_OUTPUT(64)];
  size_t t, consumed;
  (void)state;
  rng_seed(42);
  for (t = 0; t < 2000; t++) {
    smtp_stuffer e;
    size_t n = 1 + rng_below(sizeof(in)), i;
    smtp_ssize w;
    smtp_stuffer_init(&e, SMTP_STUFF_ALLOW_LONG_LINES);
    /* Reach a random state first (pending CR, mid-line, line start). */
    w = smtp_stuff(&e, t % 3 == 0 ? "\r" : (t % 3 == 1 ? "x" : "\r\n"), t % 3 == 2 ? 2 : 1,
                   &consumed, out, sizeof(out));
    assert_true(w >= 0);
    for (i = 0; i < n; i++) in[i] = alphabet[rng_below(sizeof(alphabet) - 1)];
    w = smtp_stuff(&e, in, n, &consumed, out, SMTP_STUFF_MAX_OUTPUT(n));
    assert_true(w >= 0);
    assert_int_equal(consumed, n);
  }
  /* Worst case reached exactly: pending CR, then "\n." repeated. */
  {
    smtp_stuffer e;
    smtp_ssize w;
    smtp_stuffer_init(&e, 0);
    assert_int_equal(smtp_stuff(&e, "\r", 1, &consumed, out, 8), 0);
    w = smtp_stuff(&e, ".\n.\n", 4, &consumed, out, SMTP_STUFF_MAX_OUTPUT(4));
    assert_int_equal(consumed, 4);
    assert_int_equal(w, 10);
    assert_memory_equal(out, "\r\n..\r\n..\r\n", 10);
  }
}

/* ------------------------------------------------------------------------ */
/* Round trip: stuff then unstuff gives the CRLF-normalised body and exactly
 * one end of data, whatever the body and however both sides are split. */

static size_t normalise(const char *in, size_t n, char *out) {
  size_t i, o = 0;
  for (i = 0; i < n; i++) {
    if (in[i] == '\r') {
      out[o++] = '\r';
      out[o++] = '\n';
      if (i + 1 < n && in[i + 1] == '\n') i++;
    } else if (in[i] == '\n') {
      out[o++] = '\r';
      out[o++] = '\n';
    } else {
      out[o++] = in[i];
    }
  }
  if (o && !(o >= 2 && out[o - 2] == '\r' && out[o - 1] == '\n')) {
    out[o++] = '\r';
    out[o++] = '\n';
  }
  return o;
}

static void test_round_trip(void **state) {
  static const char alphabet[] = "...\r\n\r\nabc \x80";
  size_t t;
  (void)state;
  rng_seed(0xC0FFEE);
  for (t = 0; t < 1500; t++) {
    size_t n = rng_below(t < 1000 ? 40 : 3000), i, wlen, nl;
    char *body = malloc(n + 1), *norm = malloc(2 * n + 3), *wire;
    sres s;
    ures u;
    size_t sizes[8];
    assert_non_null(body);
    assert_non_null(norm);
    for (i = 0; i < n; i++) {
      if (rng_below(5) == 0) {
        /* a long dot run */
        size_t run = 1 + rng_below(12);
        while (run-- && i < n) body[i++] = '.';
        i--;
      } else {
        body[i] = alphabet[rng_below(sizeof(alphabet) - 1)];
      }
    }
    for (i = 0; i < 8; i++) sizes[i] = 1 + rng_below(n < 4 ? 4 : n / 2);
    s = stuff_chunks(body, n, SMTP_STUFF_ALLOW_LONG_LINES, sizes, 1 + rng_below(8),
                     rng_below(4) == 0 ? 1 + rng_below(5) : 0);
    assert_int_equal(s.err, 0);
    /* The wire never carries a bare CR, a bare LF or NUL. */
    assert_int_equal(smtp_data_scan(s.out, s.outlen) &
                         (unsigned)(SMTP_DATA_SEEN_BARE_CR | SMTP_DATA_SEEN_BARE_LF |
                                    SMTP_DATA_SEEN_NUL),
                     0);
    /* Pipeline a command behind it. */
    wlen = s.outlen;
    wire = malloc(wlen + 6);
    assert_non_null(wire);
    memcpy(wire, s.out, wlen);
    memcpy(wire + wlen, "QUIT\r\n", 6);
    for (i = 0; i < 8; i++) sizes[i] = 1 + rng_below(wlen < 4 ? 4 : wlen / 2);
    u = unstuff_chunks(wire, wlen + 6, sizes, 1 + rng_below(8));
    nl = normalise(body, n, norm);
    assert_int_equal(u.ret, 1);
    assert_int_equal(u.consumed, wlen);
    assert_int_equal(u.outlen, nl);
    assert_memory_equal(u.out, norm, nl);
    assert_int_equal(u.seen & (unsigned)(SMTP_DATA_SEEN_BARE_CR | SMTP_DATA_SEEN_BARE_LF |
                                         SMTP_DATA_SEEN_NUL),
                     0);
    /* Exactly one end of data: the wire without its last byte never ends. */
    ures_free(&u);
    u = unstuff_chunks(wire, wlen - 1, sizes, 1 + rng_below(8));
    assert_int_equal(u.ret, 0);
    ures_free(&u);
    free(s.out);
    free(wire);
    free(body);
    free(norm);
  }
}

/* Stuffer split invariance on random bodies (whole vs random splits and
 * small output buffers). */
static void test_stuff_split_invariance(void **state) {
  static const char alphabet[] = ".\r\nab";
  size_t t;
  (void)state;
  rng_seed(777);
  for (t = 0; t < 60; t++) {
    char body[96];
    size_t n = rng_below(sizeof(body)), i;
    sres r;
    for (i = 0; i < n; i++) body[i] = alphabet[rng_below(sizeof(alphabet) - 1)];
    r = stuff_all_ways("random", body, n, (t & 1) ? SMTP_STUFF_REFUSE_BARE : 0);
    free(r.out);
  }
}

/* ------------------------------------------------------------------------ */
/* smtp_data_scan                                                            */

static void test_data_scan(void **state) {
  static const struct {
    const char *in;
    size_t len;
    unsigned want;
  } v[] = {
      {"", 0, 0},
      {"plain\r\ntext\r\n", 13, 0},
      {"no final crlf", 13, 0},
      {"a\nb", 3, LF_},
      {"a\rb", 3, CR_},
      {"a\r", 2, CR_},
      {"a\0b", 3, NUL_},
      {"caf\xc3\xa9", 5, B8_},
      {"\r\r\n", 3, CR_},
      {"\n\r\n", 3, LF_},
  };
  size_t i;
  char *big = malloc(1100);
  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) assert_int_equal(smtp_data_scan(v[i].in, v[i].len), v[i].want);
  assert_non_null(big);
  memset(big, 'w', 1100);
  assert_int_equal(smtp_data_scan(big, 998), 0);
  assert_int_equal(smtp_data_scan(big, 999), SMTP_DATA_SEEN_LONG_LINE);
  memcpy(big + 998, "\r\n", 2);
  assert_int_equal(smtp_data_scan(big, 1000), 0);
  assert_int_equal(smtp_data_scan(big, 1100), 0);
  big[998] = 'w';
  big[999] = '\r';
  big[1000] = '\n';
  assert_int_equal(smtp_data_scan(big, 1001), SMTP_DATA_SEEN_LONG_LINE);
  assert_int_equal(smtp_data_scan(NULL, 5), 0);
  free(big);
}

/* ------------------------------------------------------------------------ */
/* smtp_data_measure: the body as the stuffer sends it (bare CR / bare LF end
 * lines and become CRLF), and its RFC 1870 3 size.                          */

/* Octet at a time, straight from the definition. */
static unsigned ref_measure(const unsigned char *p, size_t n, uint64_t *wire) {
  unsigned seen = 0;
  uint64_t line = 0, w = 0;
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char ch = p[i];
    if (ch == '\r' || ch == '\n') {
      if (ch == '\r' && i + 1 < n && p[i + 1] == '\n') i++;
      else seen |= ch == '\r' ? CR_ : LF_;
      w += 2;
      if (line + 2 > 1000) seen |= SMTP_DATA_SEEN_LONG_LINE;
      line = 0;
      continue;
    }
    if (ch == 0) seen |= NUL_;
    if (ch & 0x80) seen |= B8_;
    line++;
    w++;
  }
  if (line) { /* the final CRLF smtp_stuff_finish() adds */
    w += 2;
    if (line + 2 > 1000) seen |= SMTP_DATA_SEEN_LONG_LINE;
  }
  *wire = w;
  return seen;
}

static void test_data_measure(void **state) {
  static const struct {
    const char *in;
    size_t len;
    unsigned want;
    uint64_t wire;
  } v[] = {
      {"", 0, 0, 0},
      {"a", 1, 0, 3},                 /* final CRLF added */
      {"a\r\n", 3, 0, 3},
      {"a\n", 2, LF_, 3},             /* bare LF -> CRLF */
      {"a\r", 2, CR_, 3},             /* bare CR at the end -> CRLF */
      {"a\rb", 3, CR_, 6},            /* "a" CRLF "b" CRLF */
      {"\r\r\n", 3, CR_, 4},
      {"\n\r\n", 3, LF_, 4},
      {"\n\n", 2, LF_, 4},
      {"\r\n\r\n", 4, 0, 4},
      {".\r\n..\r\n", 7, 0, 7},     /* dot-stuffing is not counted */
      {"a\0b", 3, NUL_, 5},
      {"caf\xc3\xa9\r\n", 7, B8_, 7},
      {"x\n\xff\0\r", 5, LF_ | CR_ | NUL_ | B8_, 7},
  };
  size_t i;
  uint64_t w;
  char *big = malloc(2100);
  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    w = 12345;
    assert_int_equal(smtp_data_measure(v[i].in, v[i].len, &w), v[i].want);
    assert_int_equal(w, v[i].wire);
  }
  /* RFC 5321 4.5.3.1.6: 998 octets + CRLF is the longest line. */
  assert_non_null(big);
  memset(big, 'w', 2100);
  assert_int_equal(smtp_data_measure(big, 998, &w), 0);
  assert_int_equal(w, 1000);
  assert_int_equal(smtp_data_measure(big, 999, &w), SMTP_DATA_SEEN_LONG_LINE);
  assert_int_equal(w, 1001);
  big[998] = '\n'; /* a bare LF ends the line: 998 + CRLF */
  assert_int_equal(smtp_data_measure(big, 999, &w), LF_);
  assert_int_equal(w, 1000);
  big[998] = '\r'; /* a bare CR too, also with more text after it */
  assert_int_equal(smtp_data_measure(big, 1100, &w), CR_);
  assert_int_equal(w, 1103);
  /* where smtp_data_scan() sees one long line (it ends lines at CRLF only) */
  assert_int_equal(smtp_data_scan(big, 1100), CR_ | SMTP_DATA_SEEN_LONG_LINE);
  memset(big, 'w', 2100);
  memcpy(big + 999, "\r\n", 2);
  assert_int_equal(smtp_data_measure(big, 1001, &w), SMTP_DATA_SEEN_LONG_LINE);
  assert_int_equal(w, 1001);
  /* NULL body and NULL wire_size */
  w = 7;
  assert_int_equal(smtp_data_measure(NULL, 5, &w), 0);
  assert_int_equal(w, 0);
  assert_int_equal(smtp_data_measure("a\n", 2, NULL), LF_);
  free(big);
}

/* Random bodies (every length 0..3000, runs near the line limit, the SIMD
 * block edges at random offsets) against the reference; and, where the
 * stuffer accepts the body, the size against what it sends: its output,
 * un-stuffed, is exactly wire_size octets (RFC 1870 3). */
static void test_data_measure_random(void **state) {
  static const char alphabet[] = "ab .\r\n\r\n\0\xc3\x80x";
  size_t t;
  (void)state;
  rng_seed(0x3EA5u);
  for (t = 0; t < 4000; t++) {
    size_t n = rng_below(t < 2000 ? 80 : 3000), i, cap, outlen = 0, consumed = 0;
    unsigned char *body = malloc(n ? n : 1);
    unsigned want, got;
    uint64_t wref, w;
    char *wire;
    smtp_stuffer st;
    smtp_ssize k;
    assert_non_null(body);
    for (i = 0; i < n;) {
      if (rng_below(40) == 0) {
        size_t run = 990 + rng_below(16); /* around 998 octets */
        while (run-- && i < n) body[i++] = 'x';
      } else if (rng_below(4) == 0) {
        size_t run = 1 + rng_below(40);
        while (run-- && i < n) body[i++] = 'q';
      } else {
        body[i++] = (unsigned char)alphabet[rng_below(sizeof(alphabet) - 1)];
      }
    }
    want = ref_measure(body, n, &wref);
    w = 0;
    got = smtp_data_measure((const char *)body, n, &w);
    assert_int_equal(got, want);
    assert_int_equal(w, wref);
    if (!(got & (NUL_ | SMTP_DATA_SEEN_LONG_LINE))) {
      smtp_unstuffer u;
      size_t ulen, uc;
      int rc;
      cap = SMTP_STUFF_MAX_OUTPUT(n) + SMTP_STUFF_FINISH_MAX;
      wire = malloc(cap);
      assert_non_null(wire);
      smtp_stuffer_init(&st, 0);
      k = smtp_stuff(&st, (const char *)body, n, &consumed, wire, cap);
      assert_true(k >= 0);
      assert_int_equal(consumed, n);
      outlen = (size_t)k;
      k = smtp_stuff_finish(&st, wire + outlen, cap - outlen);
      assert_true(k > 0);
      outlen += (size_t)k;
      smtp_unstuffer_reset(&u);
      ulen = outlen;
      rc = smtp_unstuff(&u, wire, &ulen, &uc);
      assert_int_equal(rc, 1);
      assert_int_equal(uc, outlen);
      assert_int_equal((uint64_t)ulen, w);
      free(wire);
    }
    free(body);
  }
}

/* ------------------------------------------------------------------------ */
/* BDAT (RFC 3030 2) and numbers.                                            */

static void test_bdat_parse(void **state) {
  static const struct {
    const char *in;
    int rc;
    uint64_t size;
    int last;
  } v[] = {
      {"0", SMTP_OK, 0, 0},
      {"100", SMTP_OK, 100, 0},
      {"100 LAST", SMTP_OK, 100, 1},
      {"100 last", SMTP_OK, 100, 1},
      {"100 LaSt", SMTP_OK, 100, 1},
      {"0 LAST", SMTP_OK, 0, 1},
      {"18446744073709551615", SMTP_OK, UINT64_MAX, 0},
      {"000000000000000000000000042 LAST", SMTP_OK, 42, 1},
      {"18446744073709551616", SMTP_ERR_OVERFLOW, 0, 0},
      {"99999999999999999999", SMTP_ERR_OVERFLOW, 0, 0},
      {"123456789012345678901", SMTP_ERR_OVERFLOW, 0, 0},
      {"", SMTP_ERR_SYNTAX, 0, 0},
      {" 100", SMTP_ERR_SYNTAX, 0, 0},
      {"100 ", SMTP_ERR_SYNTAX, 0, 0},
      {"100  LAST", SMTP_ERR_SYNTAX, 0, 0},
      {"100 LAST ", SMTP_ERR_SYNTAX, 0, 0},
      {"100 LASTX", SMTP_ERR_SYNTAX, 0, 0},
      {"100 LAS", SMTP_ERR_SYNTAX, 0, 0},
      {"100\tLAST", SMTP_ERR_SYNTAX, 0, 0},
      {"100 LAST\r\n", SMTP_ERR_SYNTAX, 0, 0},
      {"-1", SMTP_ERR_SYNTAX, 0, 0},
      {"+1", SMTP_ERR_SYNTAX, 0, 0},
      {"1e3", SMTP_ERR_SYNTAX, 0, 0},
      {"0x10", SMTP_ERR_SYNTAX, 0, 0},
      {"LAST", SMTP_ERR_SYNTAX, 0, 0},
      {"10 20", SMTP_ERR_SYNTAX, 0, 0},
      {"\xd9\xa3", SMTP_ERR_SYNTAX, 0, 0}, /* Arabic-Indic digit three */
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    uint64_t size = 12345;
    int last = 7;
    int rc = smtp_bdat_parse(v[i].in, strlen(v[i].in), &size, &last);
    if (rc != v[i].rc) {
      print_error("bdat '%s': rc %d want %d\n", v[i].in, rc, v[i].rc);
      fail();
    }
    if (rc == SMTP_OK) {
      assert_true(size == v[i].size);
      assert_int_equal(last, v[i].last);
    } else {
      assert_true(size == 12345); /* untouched on error */
    }
  }
  {
    uint64_t size;
    /* A NUL inside is a syntax error, not a terminator. */
    assert_int_equal(smtp_bdat_parse("10\0 LAST", 8, &size, NULL), SMTP_ERR_SYNTAX);
    assert_int_equal(smtp_bdat_parse("10 LAST", 7, &size, NULL), SMTP_OK);
    assert_int_equal(smtp_bdat_parse("10", 2, NULL, NULL), SMTP_ERR_INVALID_ARGUMENT);
    assert_int_equal(smtp_bdat_parse(NULL, 2, &size, NULL), SMTP_ERR_INVALID_ARGUMENT);
  }
}

static void test_bdat_format(void **state) {
  char buf[64];
  size_t need;
  (void)state;
  assert_int_equal(smtp_bdat_format(buf, sizeof(buf), 0, 0), 8);
  assert_memory_equal(buf, "BDAT 0\r\n", 8);
  assert_int_equal(smtp_bdat_format(buf, sizeof(buf), 86, 1), 14);
  assert_memory_equal(buf, "BDAT 86 LAST\r\n", 14);
  need = strlen("BDAT 18446744073709551615 LAST\r\n");
  assert_int_equal(smtp_bdat_format(buf, sizeof(buf), UINT64_MAX, 1), (smtp_ssize)need);
  assert_memory_equal(buf, "BDAT 18446744073709551615 LAST\r\n", need);
  for (size_t cap = 0; cap < need; cap++)
    assert_int_equal(smtp_bdat_format(buf, cap, UINT64_MAX, 1), SMTP_ERR_BUFFER_TOO_SMALL);
  assert_int_equal(smtp_bdat_format(NULL, 10, 1, 0), SMTP_ERR_INVALID_ARGUMENT);
  /* Round trip through the parser. */
  {
    uint64_t sizes[] = {0, 1, 9, 10, 65536, 4294967296u, UINT64_MAX};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
      for (int last = 0; last < 2; last++) {
        smtp_ssize n = smtp_bdat_format(buf, sizeof(buf), sizes[i], last);
        uint64_t got;
        int glast;
        assert_true(n > 7);
        assert_int_equal(smtp_bdat_parse(buf + 5, (size_t)n - 7, &got, &glast), SMTP_OK);
        assert_true(got == sizes[i]);
        assert_int_equal(glast, last);
      }
    }
  }
}

static void test_parse_u64(void **state) {
  static const struct {
    const char *in;
    int rc;
    uint64_t v;
  } v[] = {
      {"0", SMTP_OK, 0},
      {"7", SMTP_OK, 7},
      {"00012", SMTP_OK, 12},
      {"4294967296", SMTP_OK, 4294967296u},
      {"18446744073709551615", SMTP_OK, UINT64_MAX},
      {"18446744073709551616", SMTP_ERR_OVERFLOW, 0},
      {"20000000000000000000", SMTP_ERR_OVERFLOW, 0},
      {"100000000000000000000", SMTP_ERR_OVERFLOW, 0},
      {"", SMTP_ERR_SYNTAX, 0},
      {" 1", SMTP_ERR_SYNTAX, 0},
      {"1 ", SMTP_ERR_SYNTAX, 0},
      {"-1", SMTP_ERR_SYNTAX, 0},
      {"+1", SMTP_ERR_SYNTAX, 0},
      {"1a", SMTP_ERR_SYNTAX, 0},
      {"1.5", SMTP_ERR_SYNTAX, 0},
  };
  size_t i;
  uint64_t out;
  (void)state;
  for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    out = 99;
    int rc = smtp_parse_u64(v[i].in, strlen(v[i].in), &out);
    if (rc != v[i].rc) {
      print_error("u64 '%s': rc %d want %d\n", v[i].in, rc, v[i].rc);
      fail();
    }
    if (rc == SMTP_OK) assert_true(out == v[i].v);
  }
  assert_int_equal(smtp_parse_u64("1\0", 2, &out), SMTP_ERR_SYNTAX);
  assert_int_equal(smtp_parse_u64("1", 1, NULL), SMTP_ERR_INVALID_ARGUMENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unstuff_vectors),
      cmocka_unit_test(test_unstuff_line_limit),
      cmocka_unit_test(test_unstuff_big_long_lines),
      cmocka_unit_test(test_unstuff_api),
      cmocka_unit_test(test_unstuff_carry),
      cmocka_unit_test(test_stuff_vectors),
      cmocka_unit_test(test_stuff_line_limit),
      cmocka_unit_test(test_stuff_api),
      cmocka_unit_test(test_stuff_max_output),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_stuff_split_invariance),
      cmocka_unit_test(test_data_scan),
      cmocka_unit_test(test_data_measure),
      cmocka_unit_test(test_data_measure_random),
      cmocka_unit_test(test_bdat_parse),
      cmocka_unit_test(test_bdat_format),
      cmocka_unit_test(test_parse_u64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
