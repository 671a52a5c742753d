/* libFuzzer target: every address parser on the same bytes (RFC 5321
 * 4.1.2, 4.1.3, 4.5.3.1; RFC 6531 3.3).
 *
 * Input layout: byte 0 holds the smtp_parse_flags (low 3 bits), the rest
 * is the text. Checked invariants: spans inside the input; accepted text
 * within the RFC 5321 4.5.3.1 limits, free of controls, ASCII unless
 * SMTP_PARSE_UTF8 and then valid UTF-8; the parsers agree with each other
 * (a mailbox's domain re-validates with smtp_parse_domain() or
 * smtp_parse_address_literal(); a literal is a valid EHLO argument). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/address.h>

#include "span_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

static void clean(const char *p, size_t n, unsigned flags) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    CHECK(c >= 0x20 && c != 0x7f);
    if (!(flags & SMTP_PARSE_UTF8)) CHECK(c < 0x80);
  }
  CHECK(smtp_utf8_validate(p, n) == SMTP_OK);
}

static void check_mailbox(const smtp_mailbox *m, unsigned flags) {
  int kind = -1;
  inside(m->local);
  inside(m->domain);
  CHECK(m->local.len >= 1 && m->local.len <= SMTP_LOCAL_PART_MAX);
  CHECK(m->domain.len >= 1);
  CHECK(m->local.ptr + m->local.len + 1 == m->domain.ptr);
  CHECK(m->local.ptr[m->local.len] == '@');
  CHECK(m->quoted == (m->local.ptr[0] == '"'));
  clean(m->local.ptr, m->local.len, flags);
  clean(m->domain.ptr, m->domain.len, flags);
  if (m->domain_kind == SMTP_DOMAIN_NAME) {
    CHECK(m->domain.len <= SMTP_DOMAIN_MAX);
    CHECK(smtp_parse_domain(m->domain.ptr, m->domain.len, flags) == SMTP_OK);
  } else {
    CHECK(smtp_parse_address_literal(m->domain.ptr, m->domain.len, &kind) == SMTP_OK);
    CHECK(kind == m->domain_kind);
  }
  if (!(flags & SMTP_PARSE_UTF8)) CHECK(m->utf8 == 0);
}

static void check_path(const smtp_path *p, size_t used, unsigned flags, int forward) {
  inside(p->raw);
  inside(p->address);
  inside(p->route);
  CHECK(p->raw.ptr == g_base && p->raw.len == used);
  CHECK(used >= 2 && used <= SMTP_PATH_MAX);
  CHECK(g_base[0] == '<' && g_base[used - 1] == '>');
  clean(p->raw.ptr, p->raw.len, flags);
  if (p->is_null) {
    CHECK(!forward && used == 2);
  } else if (p->is_postmaster) {
    CHECK(forward && used == 12);
  } else {
    check_mailbox(&p->mailbox, flags);
    CHECK(p->address.ptr == p->mailbox.local.ptr);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  smtp_mailbox m;
  smtp_path p;
  size_t used = 0;
  int kind = -1, kind2 = -1;
  unsigned flags;
  if (size < 1) return 0;
  flags = data[0] & 7u;
  g_base = (const char *)data + 1;
  g_len = size - 1;

  if (smtp_parse_mailbox(g_base, g_len, flags, &m) == SMTP_OK) {
    check_mailbox(&m, flags);
    CHECK(m.local.ptr == g_base && m.domain.ptr + m.domain.len == g_base + g_len);
  }
  if (smtp_parse_reverse_path(g_base, g_len, flags, &p, &used) == SMTP_OK)
    check_path(&p, used, flags, 0);
  else
    CHECK(used == 0);
  if (smtp_parse_forward_path(g_base, g_len, flags, &p, &used) == SMTP_OK)
    check_path(&p, used, flags, 1);
  if (smtp_parse_domain(g_base, g_len, flags) == SMTP_OK) {
    CHECK(g_len >= 1 && g_len <= SMTP_DOMAIN_MAX);
    clean(g_base, g_len, flags);
    CHECK(smtp_parse_ehlo_arg(g_base, g_len, flags, &kind2) == SMTP_OK);
    CHECK(kind2 == SMTP_DOMAIN_NAME);
  }
  if (smtp_parse_address_literal(g_base, g_len, &kind) == SMTP_OK) {
    clean(g_base, g_len, 0);
    CHECK(kind >= SMTP_DOMAIN_IPV4 && kind <= SMTP_DOMAIN_GENERAL);
    CHECK(smtp_parse_ehlo_arg(g_base, g_len, flags, &kind2) == SMTP_OK);
    CHECK(kind2 == kind);
  }
  {
    smtp_span rest = {g_base, g_len};
    smtp_param prm;
    int rc, n = 0;
    while ((rc = smtp_param_next(&rest, flags, &prm)) == 1) {
      inside(prm.keyword);
      inside(prm.value);
      inside(rest);
      clean(prm.keyword.ptr, prm.keyword.len, 0);
      clean(prm.value.ptr, prm.value.len, flags);
      CHECK((size_t)++n <= g_len);
    }
    CHECK(rc == 0 || rc == SMTP_ERR_PARAM);
  }
  return 0;
}
