/* libFuzzer target for EHLO capabilities (RFC 5321 4.1.1.1) and the EHLO
 * reply builder.
 *
 * Parse: the input, split at LF, is the text of the lines of a 250 reply
 * (line 0 the greeting). Invariants: no keyword ever comes from line 0;
 * every keyword span lies inside one line >= 1 and matches ehlo-keyword;
 * counts add up.
 * Build: the first bytes pick a configuration, the rest (up to the first
 * NUL) is an extra keyword line. When the builder accepts, its output is
 * well-formed reply lines, none longer than 512 octets, and parsing it gives
 * back at least the configured flags and exactly the configured values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/ext.h>

#include "../lib/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

#define MAXLINES 128

static int is_kw(int c, int first) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         (!first && c == '-');
}

static void fuzz_parse(const char *s, size_t size) {
  smtp_span lines[MAXLINES];
  smtp_reply r;
  smtp_capabilities caps;
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= size && n < MAXLINES; i++) {
    if (i == size || s[i] == '\n') {
      lines[n].ptr = s + start;
      lines[n].len = i - start;
      n++;
      start = i + 1;
    }
  }
  memset(&r, 0, sizeof(r));
  r.code = 250;
  r.nlines = n;
  r.lines = lines;
  CHECK(smtp_capabilities_parse(&r, &caps) == SMTP_OK);
  CHECK(caps.greeting.ptr == lines[0].ptr && caps.greeting.len == lines[0].len);
  CHECK(caps.nkeywords <= SMTP_CAPS_MAX_KEYWORDS);
  CHECK(caps.nkeywords + caps.ndropped <= n - 1);
  CHECK(caps.ndropped == 0 || caps.nkeywords == SMTP_CAPS_MAX_KEYWORDS);
  if (n == 1) CHECK(caps.flags == 0 && caps.nkeywords == 0);
  for (size_t k = 0; k < caps.nkeywords; k++) {
    const smtp_ext_keyword *kw = &caps.keywords[k];
    size_t li;
    for (li = 1; li < n; li++)
      if (kw->keyword.ptr == lines[li].ptr) break;
    CHECK(li < n); /* starts a line, and never line 0 */
    CHECK(kw->keyword.len > 0 && kw->keyword.len <= lines[li].len);
    for (size_t j = 0; j < kw->keyword.len; j++)
      CHECK(is_kw((unsigned char)kw->keyword.ptr[j], j == 0));
    CHECK(kw->params.ptr >= kw->keyword.ptr + kw->keyword.len);
    CHECK(kw->params.ptr + kw->params.len == lines[li].ptr + lines[li].len);
    CHECK(smtp_capabilities_find(&caps, "") == NULL);
    {
      /* The EHLO parameters of an extension with them (MT-PRIORITY profile,
       * DELIVERBY, FUTURERELEASE, NO-SOLICITING, BURL): the grammar check a
       * server applies to its own must not accept controls or SP runs. */
      const smtp_ext_info *e = smtp_ext_lookup(kw->keyword.ptr, kw->keyword.len);
      if (e && e->flag && smtp__ehlo_params_check(e->flag, kw->params.ptr, kw->params.len) == 0) {
        for (size_t j = 0; j < kw->params.len; j++) {
          unsigned char ch = (unsigned char)kw->params.ptr[j];
          CHECK(ch >= 32 && ch < 127);
          if (ch == ' ') CHECK(j > 0 && j + 1 < kw->params.len && kw->params.ptr[j + 1] != ' ');
        }
      }
    }
  }
  {
    /* the typed view (one parser per keyword, shared with the server) */
    smtp_ehlo_values v;
    CHECK(smtp_capabilities_values(&caps, &v) == SMTP_OK);
    CHECK(v.flags == caps.flags && (v.malformed & ~v.flags) == 0);
    CHECK(v.size_max == (caps.size_has_value ? caps.size_max : 0));
    CHECK((v.mt_priority_profile != SMTP_MT_PRIORITY_PROFILE_ABSENT) <=
          ((v.flags & SMTP_EXT_MT_PRIORITY) != 0));
    CHECK(v.mt_priority_profile_name.len <= 20);
    CHECK(v.deliverby_min <= 999999999u && (!v.deliverby_has_min || (v.flags & SMTP_EXT_DELIVERBY)));
    CHECK(v.futurerelease_max_interval <= 999999999u);
    CHECK(!v.futurerelease_max_interval || (v.flags & SMTP_EXT_FUTURERELEASE));
    CHECK(!v.burl_imap || (v.flags & SMTP_EXT_BURL));
  }
  if (caps.size_has_value) CHECK((caps.flags & SMTP_EXT_SIZE) && caps.size_max > 0);
  if (caps.auth_mechs) CHECK(caps.flags & SMTP_EXT_AUTH);
  if (caps.limits_rcptmax || caps.limits_mailmax || caps.limits_rcptdomainmax)
    CHECK(caps.flags & SMTP_EXT_LIMITS);
}

static void fuzz_build(const uint8_t *data, size_t size) {
  static char out[8192], extra_buf[1024];
  smtp_span lines[MAXLINES];
  smtp_reply r;
  smtp_capabilities caps;
  smtp_ehlo_config cfg;
  const char *extra[1] = {extra_buf};
  uint8_t b[12] = {0};
  size_t i, n = 0, start = 0, xlen;

  memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
  data += size < sizeof(b) ? size : sizeof(b);
  size -= size < sizeof(b) ? size : sizeof(b);
  memset(&cfg, 0, sizeof(cfg));
  cfg.version = SMTP_EHLO_CONFIG_VERSION;
  cfg.flags = ((unsigned)b[0] | (unsigned)b[1] << 8 | (unsigned)b[2] << 16) &
              ((SMTP_EXT_HELP << 1) - 1u) & ~(unsigned)SMTP_EXT_FUTURERELEASE;
  cfg.auth_mechs = b[3];
  if (!cfg.auth_mechs) cfg.flags &= ~(unsigned)SMTP_EXT_AUTH;
  cfg.size_max = (uint64_t)b[4] << 32 | (uint64_t)b[5] << 8 | b[6];
  cfg.limits_rcptmax = ((unsigned)b[7] << 8 | b[8]) % 1000000u;
  cfg.limits_mailmax = ((unsigned)b[9] << 8 | b[10]) % 1000000u;
  xlen = size < sizeof(extra_buf) - 1 ? size : sizeof(extra_buf) - 1;
  memcpy(extra_buf, data, xlen);
  extra_buf[xlen] = 0;
  cfg.extra = extra;
  cfg.nextra = (b[11] & 1) ? 1 : 0;

  smtp_ssize len = smtp_ehlo_reply_build(out, sizeof(out), "fuzz.example",
                                         (b[11] & 2) ? "greets you" : NULL, &cfg);
  CHECK(len > 0 || len == SMTP_ERR_SYNTAX || len == SMTP_ERR_BAD_CHAR ||
        len == SMTP_ERR_TOO_LONG);
  if (len <= 0) return;
  for (i = 0; i < (size_t)len; i++) {
    if (out[i] == '\r') {
      CHECK(i + 1 < (size_t)len && out[i + 1] == '\n');
      size_t l = i - start;
      size_t ls = start;
      CHECK(l + 2 <= 512 && l >= 4 && n < MAXLINES);
      CHECK(memcmp(out + ls, "250", 3) == 0);
      lines[n].ptr = out + ls + 4;
      lines[n].len = l - 4;
      n++;
      i++;
      start = i + 1;
      /* RFC 5321 4.2.1: "250-" on every line but the last, "250 " on it. */
      CHECK(out[ls + 3] == (start == (size_t)len ? ' ' : '-'));
    } else {
      CHECK(out[i] != '\n' && out[i] != '\0');
    }
  }
  CHECK(start == (size_t)len);
  memset(&r, 0, sizeof(r));
  r.code = 250;
  r.nlines = n;
  r.lines = lines;
  CHECK(smtp_capabilities_parse(&r, &caps) == SMTP_OK);
  CHECK((caps.flags & cfg.flags) == cfg.flags);
  CHECK(caps.nkeywords == n - 1);
  if (cfg.flags & SMTP_EXT_AUTH) CHECK((caps.auth_mechs & cfg.auth_mechs) == cfg.auth_mechs);
  if (cfg.flags & SMTP_EXT_SIZE) CHECK(caps.size_max == cfg.size_max);
  /* An extra "LIMITS ..." line may add a value the built-in line omitted. */
  if ((cfg.flags & SMTP_EXT_LIMITS) && cfg.limits_rcptmax)
    CHECK(caps.limits_rcptmax == cfg.limits_rcptmax);
  if ((cfg.flags & SMTP_EXT_LIMITS) && cfg.limits_mailmax)
    CHECK(caps.limits_mailmax == cfg.limits_mailmax);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_parse((const char *)data, size);
  fuzz_build(data, size);
  return 0;
}
