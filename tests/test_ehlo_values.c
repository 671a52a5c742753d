/* The typed view of a server's EHLO keywords (smtp_capabilities_values(),
 * smtp_client_session_ehlo_values()): SIZE (RFC 1870 4), AUTH (RFC 4954
 * 3), MT-PRIORITY (RFC 6710 3), DELIVERBY (RFC 2852 3), FUTURERELEASE
 * (RFC 4865 3), LIMITS (RFC 9422), BURL (RFC 4468 3.1), NO-SOLICITING
 * (RFC 3865 2). Each vector is one EHLO reply, parsed from bytes fed whole,
 * one at a time and at random splits, and the values it must give; values
 * at and over their bounds, malformed parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <smtp/client.h>
#include <smtp/ext.h>
#include <smtp/reply.h>
#include <smtp/sasl.h>

/* What a vector expects: the values printed in one line. */
static void describe(const smtp_ehlo_values *v, char *out, size_t cap) {
  snprintf(out, cap,
           "mal=%x size=%d:%llu auth=%x[%.*s] mtp=%d[%.*s] by=%d:%u fr=%u:%lld[%.*s] "
           "lim=%u/%u/%u burl=%d[%.*s] sol=[%.*s]",
           v->malformed, v->size_has_value, (unsigned long long)v->size_max, v->auth_mechs,
           (int)v->auth_names.len, v->auth_names.ptr ? v->auth_names.ptr : "",
           v->mt_priority_profile, (int)v->mt_priority_profile_name.len,
           v->mt_priority_profile_name.ptr ? v->mt_priority_profile_name.ptr : "",
           v->deliverby_has_min, v->deliverby_min, v->futurerelease_max_interval,
           (long long)v->futurerelease_max_until, (int)v->futurerelease_max_until_text.len,
           v->futurerelease_max_until_text.ptr ? v->futurerelease_max_until_text.ptr : "",
           v->limits_rcptmax, v->limits_mailmax, v->limits_rcptdomainmax, v->burl_imap,
           (int)v->burl_types.len, v->burl_types.ptr ? v->burl_types.ptr : "",
           (int)v->solicitation_keywords.len,
           v->solicitation_keywords.ptr ? v->solicitation_keywords.ptr : "");
}

#define NONE_TAIL "by=0:0 fr=0:0[] lim=0/0/0 burl=0[] sol=[]"

static const struct vec {
  const char *keywords; /* EHLO lines after the greeting, '\n'-separated */
  const char *want;
} vecs[] = {
    /* nothing offered */
    {"", "mal=0 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    /* SIZE: a limit, none, zero (no fixed limit), 20 digits over 64 bits */
    {"SIZE 52428800", "mal=0 size=1:52428800 auth=0[] mtp=0[] " NONE_TAIL},
    {"SIZE", "mal=0 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"SIZE 0", "mal=0 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"SIZE 18446744073709551615", "mal=0 size=1:18446744073709551615 auth=0[] mtp=0[] " NONE_TAIL},
    {"SIZE 18446744073709551616", "mal=0 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    /* AUTH: known bits, unknown names kept in the list as sent */
    {"AUTH PLAIN LOGIN X-FOO SCRAM-SHA-256", "mal=0 size=0:0 auth=43[PLAIN LOGIN X-FOO SCRAM-SHA-256] mtp=0[] " NONE_TAIL},
    {"AUTH PLAIN\nAUTH=LOGIN", "mal=0 size=0:0 auth=3[PLAIN] mtp=0[] " NONE_TAIL},
    /* MT-PRIORITY: registered profiles (any case), other names, none, over 20, bad octet */
    {"MT-PRIORITY MIXER", "mal=0 size=0:0 auth=0[] mtp=2[MIXER] " NONE_TAIL},
    {"MT-PRIORITY stanag4406", "mal=0 size=0:0 auth=0[] mtp=3[stanag4406] " NONE_TAIL},
    {"MT-PRIORITY NSEP", "mal=0 size=0:0 auth=0[] mtp=4[NSEP] " NONE_TAIL},
    {"MT-PRIORITY X.my_profile-1", "mal=0 size=0:0 auth=0[] mtp=5[X.my_profile-1] " NONE_TAIL},
    {"MT-PRIORITY", "mal=0 size=0:0 auth=0[] mtp=1[] " NONE_TAIL},
    {"MT-PRIORITY ABCDEFGHIJ0123456789", "mal=0 size=0:0 auth=0[] mtp=5[ABCDEFGHIJ0123456789] " NONE_TAIL},
    {"MT-PRIORITY ABCDEFGHIJ0123456789K", "mal=2000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"MT-PRIORITY MIX/ER", "mal=2000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    /* DELIVERBY: min-by-time 0..9 digits, extension tokens allowed, malformed lists */
    {"DELIVERBY 240", "mal=0 size=0:0 auth=0[] mtp=0[] by=1:240 fr=0:0[] lim=0/0/0 burl=0[] sol=[]"},
    {"DELIVERBY", "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=0:0[] lim=0/0/0 burl=0[] sol=[]"},
    {"DELIVERBY 999999999", "mal=0 size=0:0 auth=0[] mtp=0[] by=1:999999999 fr=0:0[] lim=0/0/0 burl=0[] sol=[]"},
    {"DELIVERBY 1000000000", "mal=1000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"DELIVERBY 60,x-ext,y", "mal=0 size=0:0 auth=0[] mtp=0[] by=1:60 fr=0:0[] lim=0/0/0 burl=0[] sol=[]"},
    {"DELIVERBY ,x-ext", "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=0:0[] lim=0/0/0 burl=0[] sol=[]"},
    {"DELIVERBY 60,", "mal=1000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"DELIVERBY 60,,x", "mal=1000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"DELIVERBY 6O", "mal=1000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    /* FUTURERELEASE: both parameters, bounds of the interval, UTC only */
    {"FUTURERELEASE 604800 2027-06-01T00:00:00Z",
     "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=604800:1811808000[2027-06-01T00:00:00Z] lim=0/0/0 burl=0[] sol=[]"},
    {"FUTURERELEASE 999999999 2199-12-31T23:59:59Z",
     "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=999999999:7258118399[2199-12-31T23:59:59Z] lim=0/0/0 burl=0[] sol=[]"},
    {"FUTURERELEASE 1 1970-01-01T00:00:00Z",
     "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=1:0[1970-01-01T00:00:00Z] lim=0/0/0 burl=0[] sol=[]"},
    {"FUTURERELEASE 1000000000 2027-06-01T00:00:00Z", "mal=4000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"FUTURERELEASE 0 2027-06-01T00:00:00Z", "mal=4000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"FUTURERELEASE 604800", "mal=4000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"FUTURERELEASE", "mal=4000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"FUTURERELEASE 604800 2027-06-01T02:00:00+02:00", "mal=4000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"FUTURERELEASE 604800 2027-02-30T00:00:00Z", "mal=4000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    /* LIMITS (RFC 9422): values kept, unknown names ignored */
    {"LIMITS RCPTMAX=100 MAILMAX=1000 RCPTDOMAINMAX=10 X=1",
     "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=0:0[] lim=100/1000/10 burl=0[] sol=[]"},
    {"LIMITS RCPTMAX=0", "mal=0 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    /* BURL: URL types, "imap" in any case and position, none, malformed spacing */
    {"BURL imap", "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=0:0[] lim=0/0/0 burl=1[imap] sol=[]"},
    {"BURL", "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=0:0[] lim=0/0/0 burl=0[] sol=[]"},
    {"BURL x-foo IMAP", "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=0:0[] lim=0/0/0 burl=1[x-foo IMAP] sol=[]"},
    {"BURL imaps", "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=0:0[] lim=0/0/0 burl=0[imaps] sol=[]"},
    {"BURL imap  x", "mal=800000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    /* NO-SOLICITING keywords */
    {"NO-SOLICITING net.example:ADV,org.example:x",
     "mal=0 size=0:0 auth=0[] mtp=0[] by=0:0 fr=0:0[] lim=0/0/0 burl=0[] sol=[net.example:ADV,org.example:x]"},
    {"NO-SOLICITING", "mal=0 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    {"NO-SOLICITING a,,b", "mal=100000 size=0:0 auth=0[] mtp=0[] " NONE_TAIL},
    /* everything at once; one malformed keyword does not hide the others */
    {"PIPELINING\nSIZE 1000\nAUTH PLAIN\nMT-PRIORITY MIXER\nDELIVERBY 30\n"
     "FUTURERELEASE 60 2030-01-01T00:00:00Z\nLIMITS RCPTMAX=5\nBURL imap\nNO-SOLICITING x\n"
     "DELIVERBY 40",
     "mal=0 size=1:1000 auth=1[PLAIN] mtp=2[MIXER] by=1:30 fr=60:1893456000[2030-01-01T00:00:00Z] "
     "lim=5/0/0 burl=1[imap] sol=[x]"},
    {"MT-PRIORITY bad/name\nDELIVERBY 30\nBURL imap",
     "mal=2000 size=0:0 auth=0[] mtp=0[] by=1:30 fr=0:0[] lim=0/0/0 burl=1[imap] sol=[]"},
};

static uint32_t prng(uint32_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 17;
  *x ^= *x << 5;
  return *x;
}

/* The reply "250-mx\r\n250-K1\r\n...250 Kn\r\n" for @p keywords. */
static size_t build_reply(const char *keywords, char *out, size_t cap) {
  size_t n = 0;
  const char *p = keywords;
  int more = *p != 0;
  n += (size_t)snprintf(out + n, cap - n, "250%cmx.example greets you\r\n", more ? '-' : ' ');
  while (more) {
    const char *e = strchr(p, '\n');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    more = e != NULL;
    n += (size_t)snprintf(out + n, cap - n, "250%c%.*s\r\n", more ? '-' : ' ', (int)l, p);
    p = e ? e + 1 : p + l;
  }
  return n;
}

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    char reply[4096], got[1024];
    size_t rl = build_reply(vecs[i].keywords, reply, sizeof reply);
    for (int mode = 0; mode < 6; mode++) {
      smtp_reply_parser *rp;
      smtp_capabilities caps;
      smtp_ehlo_values v;
      uint32_t r = (uint32_t)(mode * 7919 + 1);
      size_t off = 0;
      assert_int_equal(smtp_reply_parser_new(&rp, 0, 0, NULL), SMTP_OK);
      while (off < rl) {
        /* mode 0 whole, 1 byte by byte, 2-5 random splits */
        size_t k = mode == 0 ? rl - off : mode == 1 ? 1 : 1 + prng(&r) % (rl - off);
        smtp_ssize n = smtp_reply_parser_feed(rp, reply + off, k);
        assert_true(n > 0);
        off += (size_t)n;
      }
      assert_non_null(smtp_reply_parser_reply(rp));
      assert_int_equal(smtp_capabilities_parse(smtp_reply_parser_reply(rp), &caps), SMTP_OK);
      assert_int_equal(smtp_capabilities_values(&caps, &v), SMTP_OK);
      assert_int_equal(v.flags, caps.flags);
      describe(&v, got, sizeof got);
      if (strcmp(got, vecs[i].want) != 0)
        fail_msg("vector %zu (%s), mode %d:\n  got:  %s\n  want: %s", i, vecs[i].keywords, mode, got,
                 vecs[i].want);
      smtp_reply_parser_del(rp);
    }
  }
}

static void test_null(void **state) {
  smtp_ehlo_values v;
  smtp_capabilities caps;
  (void)state;
  memset(&v, 0xff, sizeof v);
  assert_int_equal(smtp_capabilities_values(NULL, &v), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(v.flags, 0); /* zeroed also on error */
  memset(&caps, 0, sizeof caps);
  assert_int_equal(smtp_capabilities_values(&caps, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_client_session_ehlo_values(NULL, &v), SMTP_ERR_INVALID_ARGUMENT);
}

/* The client session's view: nothing before the EHLO reply, the values
 * after it (from the session's own copy of the keywords), nothing again
 * after STARTTLS until the new EHLO is answered (RFC 3207 4.2). */
static void test_session(void **state) {
  static const char ehlo[] =
      "250-mx.example\r\n250-STARTTLS\r\n250-MT-PRIORITY STANAG4406\r\n250-DELIVERBY 120\r\n"
      "250-FUTURERELEASE 86400 2031-01-01T00:00:00Z\r\n250-LIMITS RCPTMAX=7 MAILMAX=3\r\n"
      "250-AUTH SCRAM-SHA-256 PLAIN\r\n250-SIZE 777\r\n250 BURL imap\r\n";
  smtp_client_options *o;
  smtp_client_session *c;
  smtp_ehlo_values v;
  char got[1024];
  const char *p;
  (void)state;
  assert_int_equal(smtp_client_options_new(&o, NULL), SMTP_OK);
  assert_int_equal(smtp_client_options_set_starttls(o, SMTP_CLIENT_STARTTLS_OPPORTUNISTIC), SMTP_OK);
  assert_int_equal(smtp_client_session_new(&c, NULL, NULL, o, NULL), SMTP_OK); /* event mode */
  smtp_client_options_del(o);
  assert_int_equal(smtp_client_session_ehlo_values(c, &v), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_client_session_mem_recv(c, "220 mx\r\n", 8), 8);
  for (smtp_client_event ev; smtp_client_session_next_event(c, &ev);) {}
  assert_true(smtp_client_session_mem_send(c, &p) > 0);
  assert_int_equal(smtp_client_session_mem_consume(c, strlen("EHLO localhost\r\n")), SMTP_OK);
  assert_int_equal(smtp_client_session_ehlo_values(c, &v), SMTP_ERR_INVALID_STATE);
  assert_int_equal(smtp_client_session_mem_recv(c, ehlo, sizeof ehlo - 1), (smtp_ssize)(sizeof ehlo - 1));
  for (smtp_client_event ev; smtp_client_session_next_event(c, &ev);) {}
  assert_int_equal(smtp_client_session_ehlo_values(c, &v), SMTP_OK);
  describe(&v, got, sizeof got);
  assert_string_equal(got, "mal=0 size=1:777 auth=41[SCRAM-SHA-256 PLAIN] mtp=3[STANAG4406] by=1:120 "
                           "fr=86400:1924992000[2031-01-01T00:00:00Z] lim=7/3/0 burl=1[imap] sol=[]");
  /* STARTTLS, 220, TLS up: everything learnt before is forgotten */
  assert_true(smtp_client_session_mem_send(c, &p) > 0);
  assert_int_equal(strncmp(p, "STARTTLS\r\n", 10), 0);
  assert_int_equal(smtp_client_session_mem_consume(c, 10), SMTP_OK);
  assert_int_equal(smtp_client_session_mem_recv(c, "220 go\r\n", 8), 8);
  for (smtp_client_event ev; smtp_client_session_next_event(c, &ev);) {}
  {
    smtp_tls_info info = {"TLSv1.3", "TLS_AES_128_GCM_SHA256", NULL, 1, 1};
    assert_int_equal(smtp_client_session_tls_started(c, &info), SMTP_OK);
  }
  assert_int_equal(smtp_client_session_ehlo_values(c, &v), SMTP_ERR_INVALID_STATE);
  assert_int_equal(v.flags, 0);
  smtp_client_session_del(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_null),
      cmocka_unit_test(test_session),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
