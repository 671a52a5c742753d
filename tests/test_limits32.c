/* Sizes at the 32-bit edges (2^31 and 2^32), where a build with a 32-bit
 * size_t or long would truncate or wrap if a count passed through one:
 * SIZE values (RFC 1870 3, 6) in EHLO replies and MAIL parameters, BDAT
 * chunk sizes (RFC 3030 2), the server's message size limit. Every value
 * is a uint64_t all the way; on a 64-bit host these pass trivially, the
 * armhf cross build (cross/arm-linux-gnueabihf.txt) is where they bite.
 * Transcripts are fed whole, byte by byte and at random splits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/data.h>
#include <smtp/ext.h>
#include <smtp/reply.h>
#include <smtp/server.h>

#include "server_scripts.h"
#include "transcript.h"

#define RSET_OK "C: RSET\nS: 250 2.0.0 Reset\n"
#define S552 "S: 552 5.3.4 Message size exceeds fixed limit\n"
#define EHLO_SIZE(v)                                                                        \
  "C: EHLO client.example\nS: 250-localhost\nS: 250-PIPELINING\nS: 250-SIZE " v "\n"    \
  "S: 250-8BITMIME\nS: 250-BINARYMIME\nS: 250-CHUNKING\nS: 250-SMTPUTF8\n"               \
  "S: 250-ENHANCEDSTATUSCODES\nS: 250 LIMITS RCPTMAX=100\n"

static const uint64_t edges[] = {
    2147483647u, 2147483648u, 2147483649u, 4294967295u, 4294967296u, 4294967297u,
    4294967296u + 2147483648u, 8589934593u};

/* smtp_parse_u64 / smtp_bdat_format / smtp_bdat_parse round trip. */
static void u64_edges(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    char buf[64], dec[32];
    uint64_t v = 0;
    int last = -1;
    int n = snprintf(dec, sizeof dec, "%llu", (unsigned long long)edges[i]);
    assert_true(n > 0);
    assert_int_equal(smtp_parse_u64(dec, (size_t)n, &v), SMTP_OK);
    assert_true(v == edges[i]);
    smtp_ssize k = smtp_bdat_format(buf, sizeof buf, edges[i], 1);
    assert_true(k > 0);
    assert_memory_equal(buf, "BDAT ", 5);
    assert_memory_equal(buf + 5, dec, (size_t)n);
    /* smtp_bdat_parse takes the arguments after "BDAT ", without CRLF */
    assert_int_equal(smtp_bdat_parse(buf + 5, (size_t)k - 7, &v, &last), SMTP_OK);
    assert_true(v == edges[i]);
    assert_int_equal(last, 1);
  }
}

/* An EHLO reply's SIZE value at the edges (RFC 1870 4). */
static void ehlo_size_edges(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    char text[128];
    smtp_reply_parser *p = NULL;
    smtp_capabilities c;
    int n = snprintf(text, sizeof text, "250-mx.example\r\n250 SIZE %llu\r\n",
                     (unsigned long long)edges[i]);
    assert_true(n > 0);
    assert_int_equal(smtp_reply_parser_new(&p, 0, 0, NULL), SMTP_OK);
    assert_int_equal(smtp_reply_parser_feed(p, text, (size_t)n), n);
    assert_int_equal(smtp_reply_parser_done(p), 1);
    assert_int_equal(smtp_capabilities_parse(smtp_reply_parser_reply(p), &c), SMTP_OK);
    assert_true(c.flags & SMTP_EXT_SIZE);
    assert_int_equal(c.size_has_value, 1);
    assert_true(c.size_max == edges[i]);
    smtp_reply_parser_del(p);
  }
}

/* A limit of 2^31: values that a 32-bit truncation would make small
 * (2^32 -> 0, 2^32 + 100 -> 100) are over the limit. */
static void server_limit_2_31(void **state) {
  (void)state;
  tr_check("O: max_size 2147483648\n" GREETING EHLO_SIZE("2147483648")
           "C: MAIL FROM:<a@b.example> SIZE=2147483648\n" MAIL_OK RSET_OK
           "C: MAIL FROM:<a@b.example> SIZE=2147483649\n" S552
           "C: MAIL FROM:<a@b.example> SIZE=4294967296\n" S552
           "C: MAIL FROM:<a@b.example> SIZE=4294967396\n" S552
           "C: MAIL FROM:<a@b.example> SIZE=2147483647\n" MAIL_OK,
           NULL);
}

/* A limit of 2^32 (above what 32 bits hold): advertised and enforced
 * exactly; BDAT chunks declared over it are refused (RFC 3030 2: 552). */
static void server_limit_2_32(void **state) {
  (void)state;
  tr_check("O: max_size 4294967296\n" GREETING EHLO_SIZE("4294967296")
           "C: MAIL FROM:<a@b.example> SIZE=4294967296\n" MAIL_OK RSET_OK
           "C: MAIL FROM:<a@b.example> SIZE=4294967297\n" S552
           "C: MAIL FROM:<a@b.example> SIZE=4294967295\n" MAIL_OK
           "C: RCPT TO:<c@d.example>\n" RCPT_OK
           "C: BDAT 4294967297 LAST\n" S552 "C- \\{2000:Q}\nZ: open\n",
           NULL);
}

/* A limit of 2^32 + 1: a chunk of 2^32 fits and is taken (the server
 * waits for its octets; a 32-bit count would have taken 0 and answered). */
static void server_bdat_2_32(void **state) {
  (void)state;
  tr_check("O: max_size 4294967297\n" GREETING EHLO_SIZE("4294967297")
           "C: MAIL FROM:<a@b.example>\n" MAIL_OK "C: RCPT TO:<c@d.example>\n" RCPT_OK
           "C: BDAT 4294967296 LAST\nC- \\{2000:Q}\nZ: open\n",
           NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(u64_edges),
      cmocka_unit_test(ehlo_size_edges),
      cmocka_unit_test(server_limit_2_31),
      cmocka_unit_test(server_limit_2_32),
      cmocka_unit_test(server_bdat_2_32),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
