/* alert-send: what a device sends when something breaks. One message to
 * one recipient through a smarthost, with STARTTLS required (RFC 3207; the
 * server's certificate verified against one CA file) and AUTH (RFC 4954)
 * before MAIL, written the way firmware is written:
 *
 *  - fixed buffers: the message is formatted into a static buffer, the
 *    configuration comes from argv (a device would read it from flash);
 *  - no heap: every allocation libsmtp makes goes through the smtp_mem hook
 *    into a static arena (a first-fit allocator over a fixed array). The
 *    program prints the arena's peak use. One thing stays outside it:
 *    mbedTLS allocates its own buffers unless it was built with
 *    MBEDTLS_PLATFORM_MEMORY (Debian's is not; a firmware build would
 *    enable it and hand mbedtls_platform_set_calloc_free() the same arena);
 *  - a hard deadline: connect, handshake, dialogue and QUIT all happen
 *    before one absolute monotonic deadline, or the connection is dropped.
 *    The loop is the driver's non-blocking interface under poll(2).
 *
 * Usage: alert-send [-d DEADLINE_MS] IPV4 PORT SERVERNAME CAFILE USER PASSWORD FROM TO TEXT
 * Exit: 0 accepted; 1 refused by the server; 2 usage or set-up; 3 deadline
 * passed; 4 connection, TLS or AUTH failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <smtp/client.h>
#include <smtp/driver.h>
#include <smtp/io.h>
#include <smtp/tls.h>

/* ---- the arena: every libsmtp allocation comes from here ---- */

#define ARENA_SIZE (128u * 1024u) /* peak measured on x86-64: 124,512 bytes (tests/interop/alert_send.sh) */
#define ALIGN 16u

typedef struct blk {
  size_t size;      /* bytes after the header */
  struct blk *next; /* next free block (address order), free blocks only */
} blk;

#define HDR ((sizeof(blk) + ALIGN - 1) / ALIGN * ALIGN)

static _Alignas(16) unsigned char arena[ARENA_SIZE];
static blk *free_list;
static size_t arena_used, arena_peak, arena_failed;

static void arena_init(void) {
  free_list = (blk *)(void *)arena;
  free_list->size = ARENA_SIZE - HDR;
  free_list->next = NULL;
}

static void *a_malloc(size_t n, void *ud) {
  blk **pp, *b;
  (void)ud;
  if (n == 0) n = 1;
  if (n > ARENA_SIZE) goto fail;
  n = (n + ALIGN - 1) / ALIGN * ALIGN;
  for (pp = &free_list; (b = *pp) != NULL; pp = &b->next) {
    if (b->size < n) continue;
    if (b->size >= n + HDR + ALIGN) { /* split: the tail stays free */
      blk *t = (blk *)(void *)((unsigned char *)b + HDR + n);
      t->size = b->size - n - HDR;
      t->next = b->next;
      b->size = n;
      *pp = t;
    } else {
      *pp = b->next;
    }
    arena_used += b->size + HDR;
    if (arena_used > arena_peak) arena_peak = arena_used;
    return (unsigned char *)b + HDR;
  }
fail:
  arena_failed++;
  return NULL;
}

static void a_free(void *p, void *ud) {
  blk *b, **pp;
  (void)ud;
  if (!p) return;
  b = (blk *)(void *)((unsigned char *)p - HDR);
  arena_used -= b->size + HDR;
  for (pp = &free_list; *pp && *pp < b; pp = &(*pp)->next) {
  }
  b->next = *pp;
  *pp = b;
  /* merge with the next block, then the previous one with this */
  if (b->next && (unsigned char *)b + HDR + b->size == (unsigned char *)b->next) {
    b->size += HDR + b->next->size;
    b->next = b->next->next;
  }
  if (pp != &free_list) {
    blk *prev = (blk *)(void *)((unsigned char *)pp - offsetof(blk, next));
    if ((unsigned char *)prev + HDR + prev->size == (unsigned char *)b) {
      prev->size += HDR + b->size;
      prev->next = b->next;
    }
  }
}

static void *a_calloc(size_t n, size_t size, void *ud) {
  void *p;
  if (size && n > SIZE_MAX / size) return NULL;
  p = a_malloc(n * size, ud);
  if (p) memset(p, 0, n * size);
  return p;
}

static void *a_realloc(void *p, size_t n, void *ud) {
  void *q;
  size_t old;
  if (!p) return a_malloc(n, ud);
  old = ((blk *)(void *)((unsigned char *)p - HDR))->size;
  if (n <= old) return p;
  q = a_malloc(n, ud);
  if (!q) return NULL;
  memcpy(q, p, old);
  a_free(p, ud);
  return q;
}

static const smtp_mem arena_mem = {NULL, a_malloc, a_free, a_calloc, a_realloc};

/* ---- the deadline ---- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline) {
  int64_t l = deadline - now_ms();
  return l <= 0 ? 0 : (l > 60000 ? 60000 : (int)l);
}

/* Non-blocking connect that gives up at the deadline. */
static int connect_by(const struct sockaddr_in *sa, int64_t deadline) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), err = 0;
  socklen_t len = sizeof err;
  struct pollfd p;
  if (fd < 0) return -1;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) goto fail;
  if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0) return fd;
  if (errno != EINPROGRESS) goto fail;
  p.fd = fd;
  p.events = POLLOUT;
  if (poll(&p, 1, left_ms(deadline)) != 1) goto fail;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) goto fail;
  return fd;
fail:
  close(fd);
  return -1;
}

/* ---- the message ---- */

static char message[2048];
static int txn_status = SMTP_ERR_TEMPFAIL;

static int on_txn_done(smtp_client_session *c, smtp_client_txn *txn,
                       const smtp_client_txn_result *r, void *ud) {
  (void)c;
  (void)txn;
  (void)ud;
  txn_status = r->status;
  return 0;
}

static int usage(void) {
  fprintf(stderr, "usage: alert-send [-d DEADLINE_MS] IPV4 PORT SERVERNAME CAFILE USER PASSWORD "
                  "FROM TO TEXT\n");
  return 2;
}

int main(int argc, char **argv) {
  smtp_client_callbacks *cb = NULL;
  smtp_client_options *opt = NULL;
  smtp_client_txn *txn = NULL;
  smtp_client_session *c = NULL;
  smtp_tls_config *tls = NULL;
  smtp_driver *d = NULL;
  smtp_io io;
  struct sockaddr_in sa;
  int64_t deadline;
  long deadline_ms = 20000;
  int fd, n, rc, ex;
  char **a = argv + 1;

  if (argc > 2 && strcmp(a[0], "-d") == 0) {
    deadline_ms = strtol(a[1], NULL, 10);
    a += 2;
    argc -= 2;
  }
  if (argc != 10 || deadline_ms <= 0) return usage();
  deadline = now_ms() + deadline_ms;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(a[1]));
  if (inet_pton(AF_INET, a[0], &sa.sin_addr) != 1) return usage();
  n = snprintf(message, sizeof message,
               "From: <%s>\r\nTo: <%s>\r\nSubject: ALERT\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", a[6], a[7], a[8]);
  if (n < 0 || (size_t)n >= sizeof message) return usage();

  /* Start-up: everything is allocated here, from the arena. */
  arena_init();
  if (smtp_client_callbacks_new(&cb, &arena_mem) != SMTP_OK || smtp_client_options_new(&opt, &arena_mem) ||
      smtp_tls_config_new(&tls, SMTP_TLS_CLIENT, &arena_mem) ||
      smtp_tls_config_ca_file(tls, a[3]) ||
      smtp_tls_config_set_verify(tls, SMTP_TLS_VERIFY_REQUIRED) ||
      smtp_client_options_set_ehlo_name(opt, "device.invalid") ||
      smtp_client_options_set_starttls(opt, SMTP_CLIENT_STARTTLS_REQUIRED) ||
      smtp_client_options_set_credentials(opt, NULL, a[4], a[5]) ||
      smtp_client_txn_new(&txn, &arena_mem) || smtp_client_txn_set_from(txn, a[6], strlen(a[6])) ||
      smtp_client_txn_add_rcpt(txn, a[7], strlen(a[7]), SMTP_DSN_NOTIFY_DEFAULT, NULL, 0) < 0 ||
      smtp_client_txn_set_body(txn, message, (size_t)n)) {
    fprintf(stderr, "alert-send: set-up failed\n");
    return 2;
  }
  smtp_client_callbacks_set_txn_done(cb, on_txn_done);
  if (smtp_client_session_new(&c, cb, NULL, opt, &arena_mem) || smtp_client_session_submit(c, txn) ||
      smtp_client_session_quit(c)) {
    fprintf(stderr, "alert-send: set-up failed\n");
    return 2;
  }

  fd = connect_by(&sa, deadline);
  if (fd < 0) {
    ex = left_ms(deadline) == 0 ? 3 : 4;
    fprintf(stderr, "alert-send: cannot connect\n");
    goto out;
  }
  if (smtp_io_posix_new(&io, fd, fd, SMTP_IO_POSIX_OWN_FD, &arena_mem) ||
      smtp_driver_new_client(&d, c, &io, tls, a[2], 0, &arena_mem)) {
    fprintf(stderr, "alert-send: set-up failed\n");
    ex = 2;
    goto out;
  }

  /* The dialogue, under the deadline. */
  rc = smtp_driver_pump(d);
  while (rc == 0 && !smtp_driver_is_done(d)) {
    unsigned int want = smtp_driver_poll_events(d);
    int t = smtp_driver_next_timeout_ms(d), left = left_ms(deadline), r;
    struct pollfd p;
    if (left == 0) break;
    if (t < 0 || t > left) t = left;
    p.fd = fd;
    p.events = (short)(((want & SMTP_DRIVER_POLLIN) ? POLLIN : 0) |
                       ((want & SMTP_DRIVER_POLLOUT) ? POLLOUT : 0));
    p.revents = 0;
    r = poll(&p, 1, t);
    if (r < 0 && errno != EINTR) break;
    if (r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) rc = smtp_driver_on_readable(d);
    else if (r > 0 && (p.revents & POLLOUT)) rc = smtp_driver_on_writable(d);
    else if (smtp_driver_next_timeout_ms(d) == 0) rc = smtp_driver_on_timer(d);
  }
  if (!smtp_driver_is_done(d)) {
    fprintf(stderr, "alert-send: deadline of %ld ms passed\n", deadline_ms);
    ex = 3;
  } else if (txn_status == SMTP_OK) {
    fprintf(stderr, "alert-send: accepted\n");
    ex = 0;
  } else if (txn_status == SMTP_ERR_REJECTED) {
    fprintf(stderr, "alert-send: refused: %s\n", smtp_strerror(txn_status));
    ex = 1;
  } else {
    rc = smtp_driver_error(d);
    fprintf(stderr, "alert-send: failed: %s\n", smtp_strerror(rc ? rc : txn_status));
    ex = 4;
  }
out:
  smtp_driver_del(d); /* closes the socket */
  smtp_client_session_del(c);
  smtp_client_txn_del(txn);
  smtp_client_options_del(opt);
  smtp_tls_config_del(tls);
  smtp_client_callbacks_del(cb);
  fprintf(stderr, "alert-send: arena peak %zu of %u bytes, %zu allocations refused, %zu in use at exit\n",
          arena_peak, ARENA_SIZE, arena_failed, arena_used);
  return ex;
}
