/* libFuzzer target: the TLS adapters (lib/tls.c and every backend built in)
 * fed arbitrary bytes as the peer's side of the connection.
 *
 * Input layout: byte 0 selects
 *   bit 0    the role under test: 0 = a server-role connection (the input
 *            is what a client sent), 1 = a client-role connection that
 *            verifies the server against a CA (the input is what a server
 *            sent);
 *   bit 1    0 = the input arrives during the handshake; 1 = a real
 *            handshake with a connection of the same backend is done first
 *            (in memory), then the input arrives as the peer's records;
 *   bits 2-3 the backend (index into smtp_tls_backends(), modulo their
 *            number);
 *   bits 4-7 seed of the split points;
 * byte 1 the largest piece handed to smtp_tls_feed() at once (1..256,
 * pieces of random length up to it). The rest is the peer's bytes; after
 * them the transport ends (smtp_tls_feed_eof()).
 *
 * Checked invariants (abort on violation): no fuzzed peer ever completes a
 * handshake (it would need the server's private key, or the key-exchange
 * secret of our side: RFC 8446 4.4, RFC 5246 7.4.9), so smtp_tls_handshake()
 * only returns SMTP_ERR_WOULDBLOCK or one of its documented errors, and an
 * error is sticky; after a real handshake no fuzzed record yields
 * plaintext (AEAD records authenticate, RFC 8446 5.2 / RFC 5288), reads
 * return only documented errors and stay failed; feed takes at most what
 * it is given and never more than it announced as space; pending output is
 * consumed without error. ASan/UBSan watch every access and the
 * connections are freed each run. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <smtp/common.h>
#include <smtp/tls.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do { \
    if (!(x)) abort(); \
  } while (0)

#define MAX_BACKENDS 4

static int nbackends = -1;
static int backend_ids[MAX_BACKENDS];
static smtp_tls_config *server_cfg[MAX_BACKENDS]; /* self-signed mx.example.test */
static smtp_tls_config *client_cfg[MAX_BACKENDS]; /* trusts only that certificate */

static void setup(void) {
  char pem[8192];
  size_t len;
  int i;
  nbackends = 0;
  if (!smtp_tls_available()) return;
  int n = smtp_tls_backends(backend_ids, MAX_BACKENDS);
  if (n <= 0) return;
  if (n > MAX_BACKENDS) n = MAX_BACKENDS;
  for (i = 0; i < n; i++) {
    if (smtp_tls_config_new_backend(&server_cfg[i], SMTP_TLS_SERVER, backend_ids[i], NULL) != 0 ||
        smtp_tls_config_self_signed(server_cfg[i], "mx.example.test") != 0 ||
        smtp_tls_config_export_cert(server_cfg[i], pem, sizeof pem, &len) != 0)
      abort();
    if (smtp_tls_config_new_backend(&client_cfg[i], SMTP_TLS_CLIENT, backend_ids[i], NULL) != 0 ||
        smtp_tls_config_ca_mem(client_cfg[i], pem, len) != 0 ||
        smtp_tls_config_set_verify(client_cfg[i], SMTP_TLS_VERIFY_REQUIRED) != 0)
      abort();
  }
  nbackends = n;
}

static uint32_t rng_next(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* Throw away what the connection wants to send (the fuzzer is the peer
 * and does not listen). */
static void drain(smtp_tls_conn *c) {
  const char *p;
  smtp_ssize n;
  int guard = 0;
  while ((n = smtp_tls_pending_output(c, &p)) > 0 && guard++ < 1000) {
    CHECK(p != NULL);
    CHECK(smtp_tls_consume_output(c, (size_t)n) == 0);
  }
  CHECK(n >= 0);
}

/* Move pending output of one connection into the other. */
static int pass(smtp_tls_conn *from, smtp_tls_conn *to) {
  const char *p;
  smtp_ssize n;
  int moved = 0;
  while ((n = smtp_tls_pending_output(from, &p)) > 0) {
    smtp_ssize f = smtp_tls_feed(to, p, (size_t)n);
    if (f <= 0) break;
    CHECK(smtp_tls_consume_output(from, (size_t)f) == 0);
    moved = 1;
  }
  return moved;
}

/* A real handshake between a client and a server connection of backend
 * index b; 0 when both are established. */
static int real_pair(int b, smtp_tls_conn **cl, smtp_tls_conn **sv) {
  int rc = SMTP_ERR_WOULDBLOCK, rs = SMTP_ERR_WOULDBLOCK, i;
  char buf[256];
  if (smtp_tls_conn_new(cl, client_cfg[b], "mx.example.test", NULL) != 0) return -1;
  if (smtp_tls_conn_new(sv, server_cfg[b], NULL, NULL) != 0) return -1;
  for (i = 0; i < 200 && (rc == SMTP_ERR_WOULDBLOCK || rs == SMTP_ERR_WOULDBLOCK); i++) {
    if (rc == SMTP_ERR_WOULDBLOCK) rc = smtp_tls_handshake(*cl);
    pass(*cl, *sv);
    if (rs == SMTP_ERR_WOULDBLOCK) rs = smtp_tls_handshake(*sv);
    pass(*sv, *cl);
  }
  if (rc != 0 || rs != 0) return -1;
  /* TLS 1.3 tickets and the like: let the client take them now */
  smtp_tls_write(*sv, "220 go\r\n", 8);
  pass(*sv, *cl);
  for (i = 0; i < 10; i++) {
    smtp_ssize r = smtp_tls_read(*cl, buf, sizeof buf);
    if (r == SMTP_ERR_WOULDBLOCK) break;
    if (r < 0) return -1;
  }
  drain(*cl);
  drain(*sv);
  return 0;
}

static int handshake_error(int r) {
  return r == SMTP_ERR_TLS_HANDSHAKE || r == SMTP_ERR_TLS_VERIFY || r == SMTP_ERR_TLS_CLOSED ||
         r == SMTP_ERR_EOF || r == SMTP_ERR_TLS;
}

static int read_error(smtp_ssize r) {
  return r == SMTP_ERR_TLS_CLOSED || r == SMTP_ERR_EOF || r == SMTP_ERR_TLS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  smtp_tls_conn *c = NULL, *peer = NULL;
  int client_role, post, b, err = 0;
  uint32_t seed;
  size_t maxpiece, off = 2;
  char buf[512];

  if (nbackends < 0) setup();
  if (nbackends == 0 || size < 2) return 0;
  client_role = data[0] & 1;
  post = (data[0] >> 1) & 1;
  b = ((data[0] >> 2) & 3) % nbackends;
  seed = 0x9e3779b9u ^ ((uint32_t)(data[0] >> 4) * 0x01000193u);
  maxpiece = (size_t)data[1] + 1;

  if (post) {
    smtp_tls_conn *cl = NULL, *sv = NULL;
    if (real_pair(b, &cl, &sv) != 0) abort(); /* two of our own must agree */
    c = client_role ? cl : sv;
    peer = client_role ? sv : cl;
  } else {
    if (client_role) CHECK(smtp_tls_conn_new(&c, client_cfg[b], "mx.example.test", NULL) == 0);
    else CHECK(smtp_tls_conn_new(&c, server_cfg[b], NULL, NULL) == 0);
    /* a client speaks first: its ClientHello goes nowhere */
    err = smtp_tls_handshake(c);
    CHECK(err == SMTP_ERR_WOULDBLOCK);
    err = 0;
    drain(c);
  }

  for (size_t round = 0; round < 2 * size + 64; round++) {
    int at_end = off >= size;
    if (!at_end) {
      size_t want = 1 + rng_next(&seed) % maxpiece, space = smtp_tls_feed_space(c);
      smtp_ssize f;
      if (want > size - off) want = size - off;
      if (space == 0 && err == 0) {
        /* the input buffer is full: the next step must make room */
      } else {
        f = smtp_tls_feed(c, (const char *)data + off, want);
        if (f < 0) break; /* after an error the connection may refuse input */
        CHECK((size_t)f <= want);
        CHECK((size_t)f <= space);
        off += (size_t)f;
      }
    } else {
      smtp_tls_feed_eof(c);
    }
    if (!post) {
      int r = smtp_tls_handshake(c);
      CHECK(r != 0);                  /* nobody without the keys completes one */
      CHECK(!smtp_tls_is_established(c));
      if (r != SMTP_ERR_WOULDBLOCK) {
        CHECK(handshake_error(r));
        CHECK(err == 0 || r == err || handshake_error(r)); /* sticky: still an error */
        CHECK(smtp_tls_handshake(c) != 0);
        err = r;
      } else {
        CHECK(err == 0); /* no way back from an error */
      }
    } else {
      for (int i = 0; i < 64; i++) {
        smtp_ssize r = smtp_tls_read(c, buf, sizeof buf);
        CHECK(r <= 0); /* no forged record decrypts */
        if (r == SMTP_ERR_WOULDBLOCK) {
          CHECK(err == 0);
          break;
        }
        CHECK(read_error(r));
        CHECK(smtp_tls_read(c, buf, sizeof buf) < 0);
        err = (int)r;
        break;
      }
    }
    drain(c);
    if (at_end || err != 0) break;
  }
  smtp_tls_conn_del(c);
  smtp_tls_conn_del(peer);
  return 0;
}
