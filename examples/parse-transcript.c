/* parse-transcript: feeds a sample server transcript through the reply
 * parser and the EHLO capability parser, and prints what they found. With
 * a FILE argument it parses that file's bytes instead (server replies,
 * CRLF line ends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/smtp.h>

static const char sample[] =
    "220 mx.example.org ESMTP ready\r\n"
    "250-mx.example.org greets client.example.com\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 52428800\r\n"
    "250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n"
    "250-CHUNKING\r\n"
    "250-STARTTLS\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-AUTH SCRAM-SHA-256 PLAIN LOGIN\r\n"
    "250-LIMITS RCPTMAX=50 MAILMAX=10\r\n"
    "250 X-EXPERIMENTAL foo\r\n"
    "250 2.1.0 Sender <alice@example.org> OK\r\n"
    "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
    "550 5.1.1 Please check the address.\r\n"
    "354 End data with <CR><LF>.<CR><LF>\r\n"
    "250 2.0.0 Ok: queued as 4Xyz\r\n"
    "221 2.0.0 Bye\r\n";

static void print_caps(const smtp_reply *r) {
  smtp_capabilities caps;
  if (smtp_capabilities_parse(r, &caps) != SMTP_OK) return;
  printf("    capabilities (greeting line: \"%.*s\"):\n", (int)caps.greeting.len,
         caps.greeting.ptr);
  for (size_t i = 0; i < caps.nkeywords; i++) {
    const smtp_ext_keyword *k = &caps.keywords[i];
    const smtp_ext_info *info = smtp_ext_lookup(k->keyword.ptr, k->keyword.len);
    printf("      %-22.*s %-24.*s %s\n", (int)k->keyword.len, k->keyword.ptr,
           (int)k->params.len, k->params.ptr,
           info ? info->reference : "(not in the IANA registry)");
  }
  if (caps.flags & SMTP_EXT_SIZE)
    printf("      -> SIZE limit %llu octets\n", (unsigned long long)caps.size_max);
  printf("      -> AUTH mechanisms:");
  for (unsigned m = 1; m && m <= SMTP_SASL_EXTERNAL; m <<= 1)
    if (caps.auth_mechs & m) printf(" %s", smtp_sasl_mech_name(m));
  printf("\n");
}

int main(int argc, char **argv) {
  const char *data = sample;
  size_t len = sizeof sample - 1;
  char *file = NULL;
  if (argc > 1) {
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    file = malloc(1 << 20);
    if (!file) { fclose(f); return 2; }
    len = fread(file, 1, 1 << 20, f);
    fclose(f);
    data = file;
  }
  smtp_reply_parser *p;
  int rv = smtp_reply_parser_new(&p, 0, 0, NULL);
  if (rv != SMTP_OK) { fprintf(stderr, "%s\n", smtp_strerror(rv)); free(file); return 2; }
  smtp_reply_parser_set_enhanced(p, 1);
  size_t off = 0;
  int n = 0;
  while (off < len) {
    smtp_ssize used = smtp_reply_parser_feed(p, data + off, len - off);
    if (used < 0) {
      fprintf(stderr, "reply %d: %s\n", n + 1, smtp_strerror((int)used));
      break;
    }
    off += (size_t)used;
    if (!smtp_reply_parser_done(p)) break;
    const smtp_reply *r = smtp_reply_parser_reply(p);
    char enh[16] = "-";
    if (r->has_enhanced) smtp_enhanced_code_format(&r->enhanced, enh, sizeof enh);
    static const char *const cls[] = {"invalid", "", "positive completion",
                                      "positive intermediate", "transient negative",
                                      "permanent negative"};
    printf("reply %d: code %d (%s), enhanced %s, %zu line(s)\n", ++n, r->code,
           cls[smtp_reply_code_class(r->code)], enh, r->nlines);
    for (size_t i = 0; i < r->nlines; i++)
      printf("    | %.*s\n", (int)r->lines[i].len, r->lines[i].ptr);
    if (r->code == 250 && r->nlines > 1) print_caps(r);
  }
  smtp_reply_parser_del(p);
  free(file);
  return 0;
}
