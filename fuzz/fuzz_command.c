/* libFuzzer target: command line -> verb -> MAIL/RCPT arguments ->
 * esmtp parameters, and EHLO/HELO arguments (RFC 5321 4.1.1, 4.1.2).
 *
 * Input layout: byte 0 holds the smtp_parse_flags (low 3 bits), the rest
 * is one command line without CRLF. Checked invariants: every span lies
 * inside the input; accepted text obeys the limits of RFC 5321 4.5.3.1
 * and holds no CR, LF or NUL; non-ASCII only with SMTP_PARSE_UTF8 and then
 * valid UTF-8; a path's address re-parses as the same mailbox. Every
 * MAIL/RCPT parameter of the shared table (lib/params.c) goes through its
 * parser; an accepted value formatted by its formatter parses again to the
 * same value (the client's output is what the server reads). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/address.h>

#include "../lib/params.h"
#include "span_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

static void clean(smtp_span s, unsigned flags) {
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.ptr[i];
    CHECK(c != 0 && c != '\r' && c != '\n');
    if (!(flags & SMTP_PARSE_UTF8)) CHECK(c < 0x80);
  }
  CHECK(smtp_utf8_validate(s.ptr, s.len) == SMTP_OK);
}

static void check_path(const smtp_path *p, unsigned flags) {
  inside(p->raw);
  inside(p->address);
  inside(p->route);
  inside(p->mailbox.local);
  inside(p->mailbox.domain);
  CHECK(p->raw.len >= 2 && p->raw.len <= SMTP_PATH_MAX);
  CHECK(p->raw.ptr[0] == '<' && p->raw.ptr[p->raw.len - 1] == '>');
  clean(p->raw, flags);
  if (p->is_null || p->is_postmaster) {
    CHECK(p->mailbox.local.len == 0 && p->mailbox.domain.len == 0);
    return;
  }
  CHECK(p->mailbox.local.len >= 1 && p->mailbox.local.len <= SMTP_LOCAL_PART_MAX);
  if (p->mailbox.domain_kind == SMTP_DOMAIN_NAME) CHECK(p->mailbox.domain.len <= SMTP_DOMAIN_MAX);
  smtp_mailbox again;
  CHECK(smtp_parse_mailbox(p->address.ptr, p->address.len, flags, &again) == SMTP_OK);
  CHECK(again.local.ptr == p->mailbox.local.ptr && again.local.len == p->mailbox.local.len);
  CHECK(again.domain.len == p->mailbox.domain.len);
  CHECK(again.domain_kind == p->mailbox.domain_kind);
}

static int same_val(const smtp__pval *a, const smtp__pval *b) {
  return a->u == b->u && a->i == b->i && a->mode == b->mode && a->flag == b->flag &&
         a->text.len == b->text.len && (a->text.len == 0 || memcmp(a->text.ptr, b->text.ptr, a->text.len) == 0) &&
         a->type.len == b->type.len && (a->type.len == 0 || memcmp(a->type.ptr, b->type.ptr, a->type.len) == 0);
}

static void check_table_param(int verb, const smtp_param *prm) {
  static char scratch[2048], scratch2[2048], out[4096];
  const smtp__param_def *d = smtp__param_find(verb, prm->keyword.ptr, prm->keyword.len);
  smtp__pval v, w;
  size_t used = 0, used2 = 0, n;
  smtp_span sv;
  if (!d) return;
  memset(&v, 0, sizeof v);
  if (smtp__param_parse(d, prm->value, prm->has_value, &v, scratch, sizeof scratch, &used) != 0) return;
  CHECK(used <= sizeof scratch);
  CHECK(d->has_value ? prm->has_value : !prm->has_value);
  /* round trip: format, parse again, same value */
  n = d->format(&v, out, sizeof out);
  CHECK(n <= sizeof out);
  CHECK(d->has_value ? n >= 1 : n == 0);
  for (size_t i = 0; i < n; i++) CHECK(out[i] >= 33 && out[i] <= 126 && out[i] != '=');
  sv.ptr = out;
  sv.len = n;
  memset(&w, 0, sizeof w);
  CHECK(smtp__param_parse(d, sv, d->has_value, &w, scratch2, sizeof scratch2, &used2) == 0);
  if (d - smtp__param_table == SMTP__P_SIZE && v.flag) return; /* overflow marker */
  /* text spans point into different buffers: compare the bytes */
  CHECK(same_val(&v, &w));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  smtp_command cmd;
  unsigned flags;
  int rc;
  if (size < 1) return 0;
  flags = data[0] & 7u;
  g_base = (const char *)data + 1;
  g_len = size - 1;
  rc = smtp_parse_command(g_base, g_len, &cmd);
  if (rc != SMTP_OK) return 0;
  CHECK(g_len <= SMTP_COMMAND_LINE_MAX - 2);
  inside(cmd.verb_text);
  inside(cmd.args);
  CHECK(cmd.verb_text.ptr == g_base && cmd.verb_text.len >= 1);
  for (size_t i = 0; i < g_len; i++) CHECK(data[1 + i] != 0 && data[1 + i] != '\r' && data[1 + i] != '\n');
  if (cmd.verb == SMTP_VERB_MAIL || cmd.verb == SMTP_VERB_RCPT) {
    smtp_path path;
    smtp_span params, rest;
    smtp_param prm;
    int n = 0;
    rc = smtp_parse_mail_rcpt_args(cmd.args.ptr, cmd.args.len, cmd.verb == SMTP_VERB_RCPT,
                                   flags, &path, &params);
    if (rc != SMTP_OK) return 0;
    check_path(&path, flags);
    CHECK(cmd.verb == SMTP_VERB_MAIL ? !path.is_postmaster : !path.is_null);
    inside(params);
    rest = params;
    while ((rc = smtp_param_next(&rest, flags, &prm)) == 1) {
      inside(prm.keyword);
      inside(prm.value);
      inside(rest);
      CHECK(prm.keyword.len >= 1);
      CHECK(prm.has_value ? prm.value.len >= 1 : prm.value.len == 0);
      clean(prm.value, flags);
      CHECK(++n <= SMTP_COMMAND_LINE_MAX);
      check_table_param(cmd.verb, &prm);
    }
    CHECK(rc == 0 || rc == SMTP_ERR_PARAM);
  } else if (cmd.verb == SMTP_VERB_EHLO || cmd.verb == SMTP_VERB_HELO ||
             cmd.verb == SMTP_VERB_LHLO) {
    int kind = -1;
    if (smtp_parse_ehlo_arg(cmd.args.ptr, cmd.args.len, flags, &kind) == SMTP_OK) {
      clean(cmd.args, flags);
      CHECK(kind >= SMTP_DOMAIN_NAME && kind <= SMTP_DOMAIN_GENERAL);
    }
  }
  return 0;
}
