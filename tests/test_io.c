/* The I/O adapter layer: vtable checks and normalisation, the in-memory
 * pipe pair, the POSIX fd adapter over socketpair(2) and pipe(2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <smtp/io.h>

#include "adapters.h"
#include "support/fail_mem.h"

/* ---- vtable check / copy ---- */

static smtp_ssize fake_ret;
static smtp_ssize fake_send(const char *d, size_t l, void *ud) { (void)d; (void)l; (void)ud; return fake_ret; }
static smtp_ssize fake_recv(char *b, size_t l, void *ud) { (void)b; (void)l; (void)ud; return fake_ret; }

static void test_check(void **state) {
  (void)state;
  smtp_io io = {SMTP_IO_VERSION, NULL, fake_send, fake_recv, NULL, NULL};
  smtp_io copy;
  assert_int_equal(smtp_io_check(&io), 0);
  assert_int_equal(smtp_io_check(NULL), SMTP_ERR_INVALID_ARGUMENT);
  io.version = 0;
  assert_int_equal(smtp_io_check(&io), SMTP_ERR_UNSUPPORTED);
  io.version = SMTP_IO_VERSION + 1;
  assert_int_equal(smtp_io_check(&io), SMTP_ERR_UNSUPPORTED);
  assert_int_equal(smtp__io_copy(&copy, &io), SMTP_ERR_UNSUPPORTED);
  io.version = SMTP_IO_VERSION;
  io.recv = NULL;
  assert_int_equal(smtp_io_check(&io), SMTP_ERR_INVALID_ARGUMENT);
  io.recv = fake_recv;
  io.send = NULL;
  assert_int_equal(smtp_io_check(&io), SMTP_ERR_INVALID_ARGUMENT);
  io.send = fake_send;
  io.user_data = &io;
  assert_int_equal(smtp__io_copy(&copy, &io), 0);
  assert_ptr_equal(copy.user_data, &io);
  assert_ptr_equal(copy.send, fake_send);
  assert_null(copy.wait);
  assert_int_equal(smtp__io_wait(&copy, SMTP_IO_READ, 0), SMTP_ERR_UNSUPPORTED);
  assert_int_equal(smtp__io_close(&copy), 0); /* NULL close: nothing to do */
  assert_null(copy.send);
}

/* Every value an adapter may return, and what the library makes of it. */
static void test_normalise(void **state) {
  (void)state;
  static const struct {
    smtp_ssize ret;
    smtp_ssize want_send, want_recv;
  } rows[] = {
      {5, 5, 5},
      {10, 10, 10},
      {11, SMTP_ERR_IO, SMTP_ERR_IO}, /* more than asked for */
      {0, SMTP_ERR_WOULDBLOCK, SMTP_ERR_EOF},
      {SMTP_ERR_WOULDBLOCK, SMTP_ERR_WOULDBLOCK, SMTP_ERR_WOULDBLOCK},
      {SMTP_ERR_EOF, SMTP_ERR_IO, SMTP_ERR_EOF},
      {SMTP_ERR_IO, SMTP_ERR_IO, SMTP_ERR_IO},
      {-1, SMTP_ERR_IO, SMTP_ERR_IO},
      {SMTP_ERR_NOMEM, SMTP_ERR_IO, SMTP_ERR_IO},
      {-12345, SMTP_ERR_IO, SMTP_ERR_IO},
  };
  smtp_io io = {SMTP_IO_VERSION, NULL, fake_send, fake_recv, NULL, NULL};
  char buf[10];
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    fake_ret = rows[i].ret;
    assert_int_equal(smtp__io_send(&io, "0123456789", 10), rows[i].want_send);
    assert_int_equal(smtp__io_recv(&io, buf, 10), rows[i].want_recv);
  }
  /* Zero-length requests never reach the adapter. */
  fake_ret = SMTP_ERR_IO;
  assert_int_equal(smtp__io_send(&io, "", 0), 0);
  assert_int_equal(smtp__io_recv(&io, buf, 0), 0);
}

/* ---- memory pipe ---- */

static void test_pipe_basic(void **state) {
  (void)state;
  smtp_io a, b;
  char buf[64];
  assert_int_equal(smtp_io_pipe_new(&a, &b, 8, &fm_mem), 0);
  assert_int_equal(smtp_io_check(&a), 0);
  /* empty: WOULDBLOCK both ways */
  assert_int_equal(smtp__io_recv(&a, buf, sizeof buf), SMTP_ERR_WOULDBLOCK);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), SMTP_ERR_WOULDBLOCK);
  assert_int_equal(smtp__io_wait(&b, SMTP_IO_READ | SMTP_IO_WRITE, -1), SMTP_IO_WRITE);
  /* bounded: 8 bytes fit, then WOULDBLOCK */
  assert_int_equal(smtp__io_send(&a, "hello, world", 12), 8);
  assert_int_equal(smtp__io_send(&a, "x", 1), SMTP_ERR_WOULDBLOCK);
  assert_int_equal(smtp__io_wait(&a, SMTP_IO_WRITE, 0), 0);
  assert_int_equal(smtp_io_pipe_pending(&b), 8);
  assert_int_equal(smtp_io_pipe_pending(&a), 0);
  assert_int_equal(smtp__io_wait(&b, SMTP_IO_READ, -1), SMTP_IO_READ);
  assert_int_equal(smtp__io_recv(&b, buf, 3), 3);
  assert_memory_equal(buf, "hel", 3);
  /* wrap around the ring */
  assert_int_equal(smtp__io_send(&a, "orld", 4), 3);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), 8);
  assert_memory_equal(buf, "lo, worl", 8);
  /* the other direction is independent */
  assert_int_equal(smtp__io_send(&b, "QUIT\r\n", 6), 6);
  assert_int_equal(smtp__io_recv(&a, buf, sizeof buf), 6);
  assert_memory_equal(buf, "QUIT\r\n", 6);
  assert_int_equal(smtp__io_close(&a), 0);
  assert_int_equal(smtp__io_close(&b), 0);
  assert_int_equal(fm_live, 0);
}

static void test_pipe_eof(void **state) {
  (void)state;
  smtp_io a, b;
  char buf[16];
  assert_int_equal(smtp_io_pipe_new(&a, &b, 16, &fm_mem), 0);
  assert_int_equal(smtp__io_send(&a, "tail", 4), 4);
  assert_int_equal(smtp__io_close(&a), 0);
  /* buffered bytes first, then EOF, and EOF again (sticky) */
  assert_int_equal(smtp__io_wait(&b, SMTP_IO_READ, -1), SMTP_IO_READ);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), 4);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), SMTP_ERR_EOF);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), SMTP_ERR_EOF);
  assert_int_equal(smtp__io_wait(&b, SMTP_IO_READ, -1), SMTP_IO_READ);
  /* sending to a closed peer is a hard error (EPIPE), not a signal */
  assert_int_equal(smtp__io_send(&b, "x", 1), SMTP_ERR_IO);
  assert_int_equal(smtp__io_close(&b), 0);
  assert_int_equal(fm_live, 0);
}

static void test_pipe_shutdown_and_chunk(void **state) {
  (void)state;
  smtp_io a, b;
  char buf[16];
  assert_int_equal(smtp_io_pipe_new(&a, &b, 16, NULL), 0);
  assert_int_equal(smtp_io_pipe_set_chunk(&a, 1), 0);
  assert_int_equal(smtp__io_send(&a, "abc", 3), 1);
  assert_int_equal(smtp__io_send(&a, "bc", 2), 1);
  assert_int_equal(smtp_io_pipe_set_chunk(&b, 0), 0);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), 2);
  assert_int_equal(smtp_io_pipe_shutdown(&a), 0);
  assert_int_equal(smtp__io_send(&a, "c", 1), SMTP_ERR_IO);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), SMTP_ERR_EOF);
  /* half-closed: b can still send to a */
  assert_int_equal(smtp__io_send(&b, "ok", 2), 2);
  assert_int_equal(smtp__io_recv(&a, buf, sizeof buf), 1); /* chunk 1 on a */
  /* not a pipe */
  smtp_io other = {SMTP_IO_VERSION, NULL, fake_send, fake_recv, NULL, NULL};
  assert_int_equal(smtp_io_pipe_set_chunk(&other, 1), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_io_pipe_pending(&other), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_io_pipe_shutdown(NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_io_pipe_new(&a, &a, 16, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_io_pipe_new(&other, &b, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
  smtp__io_close(&b);
  smtp__io_close(&a);
}

/* Every allocation smtp_io_pipe_new makes can fail; nothing leaks. */
static void test_pipe_alloc_fail(void **state) {
  (void)state;
  smtp_io a, b;
  int n;
  for (n = 1;; n++) {
    fm_fail_at = n;
    fm_count = 0;
    int r = smtp_io_pipe_new(&a, &b, 32, &fm_mem);
    if (r == 0) break;
    assert_int_equal(r, SMTP_ERR_NOMEM);
    assert_int_equal(fm_live, 0);
  }
  fm_fail_at = 0;
  assert_true(n > 1);
  smtp__io_close(&a);
  smtp__io_close(&b);
  assert_int_equal(fm_live, 0);
}

/* ---- POSIX adapter ---- */

static void test_posix_socketpair(void **state) {
  (void)state;
  int sv[2];
  smtp_io a, b;
  char buf[64];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(smtp_io_posix_new(&a, sv[0], sv[0], SMTP_IO_POSIX_OWN_FD, &fm_mem), 0);
  assert_int_equal(smtp_io_posix_new(&b, sv[1], sv[1], 0, &fm_mem), 0);
  assert_int_equal(smtp_io_posix_fd(&a), sv[0]);
  assert_int_equal(smtp_io_posix_fd(&b), sv[1]);
  /* blocking descriptors: send and recv move bytes */
  assert_int_equal(smtp__io_send(&a, "EHLO x\r\n", 8), 8);
  assert_int_equal(smtp__io_wait(&b, SMTP_IO_READ, 1000), SMTP_IO_READ);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), 8);
  assert_memory_equal(buf, "EHLO x\r\n", 8);
  /* non-blocking: EAGAIN -> WOULDBLOCK; wait times out with 0 */
  assert_int_equal(fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK), 0);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), SMTP_ERR_WOULDBLOCK);
  assert_int_equal(smtp__io_wait(&b, SMTP_IO_READ, 10), 0);
  assert_int_equal(smtp__io_wait(&b, SMTP_IO_READ | SMTP_IO_WRITE, 10), SMTP_IO_WRITE);
  /* fill the socket buffer until WOULDBLOCK */
  {
    static char big[65536];
    smtp_ssize n;
    size_t total = 0;
    while ((n = smtp__io_send(&b, big, sizeof big)) > 0) total += (size_t)n;
    assert_int_equal(n, SMTP_ERR_WOULDBLOCK);
    assert_true(total > 0);
    assert_int_equal(smtp__io_wait(&b, SMTP_IO_WRITE, 0), 0);
  }
  /* peer closes: its fd is closed by OWN_FD */
  assert_int_equal(smtp__io_close(&a), 0);
  assert_int_equal(fcntl(sv[0], F_GETFD), -1); /* really closed */
  {
    smtp_ssize n;
    /* unread data was discarded by the close: the peer sees reset or EOF */
    while ((n = smtp__io_recv(&b, buf, sizeof buf)) > 0) {
    }
    assert_true(n == SMTP_ERR_EOF || n == SMTP_ERR_IO);
  }
  /* writing to a closed peer: SMTP_ERR_IO, and no SIGPIPE (MSG_NOSIGNAL) */
  {
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
    assert_int_equal(smtp__io_send(&b, "x", 1), SMTP_ERR_IO);
    signal(SIGPIPE, old);
  }
  assert_int_equal(smtp__io_close(&b), 0);
  assert_int_not_equal(fcntl(sv[1], F_GETFD), -1); /* not owned: still open */
  close(sv[1]);
  assert_int_equal(fm_live, 0);
}

static void test_posix_eof(void **state) {
  (void)state;
  int sv[2];
  smtp_io b;
  char buf[8];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(smtp_io_posix_new(&b, sv[1], sv[1], SMTP_IO_POSIX_OWN_FD, NULL), 0);
  assert_int_equal(write(sv[0], "abc", 3), 3);
  shutdown(sv[0], SHUT_WR);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), 3);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), SMTP_ERR_EOF);
  assert_int_equal(smtp__io_recv(&b, buf, sizeof buf), SMTP_ERR_EOF);
  close(sv[0]);
  smtp__io_close(&b);
}

/* Separate read and write descriptors over pipe(2), like inetd's stdin
 * and stdout: write(2) is used since they are not sockets. */
static void test_posix_two_fds(void **state) {
  (void)state;
  int in[2], out[2];
  smtp_io io;
  char buf[16];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(out), 0);
  assert_int_equal(smtp_io_posix_new(&io, in[0], out[1], SMTP_IO_POSIX_OWN_FD, NULL), 0);
  assert_int_equal(write(in[1], "220 hi\r\n", 8), 8);
  assert_int_equal(smtp__io_wait(&io, SMTP_IO_READ | SMTP_IO_WRITE, 100), SMTP_IO_READ | SMTP_IO_WRITE);
  assert_int_equal(smtp__io_recv(&io, buf, sizeof buf), 8);
  assert_int_equal(smtp__io_send(&io, "QUIT\r\n", 6), 6);
  assert_int_equal(read(out[0], buf, sizeof buf), 6);
  assert_memory_equal(buf, "QUIT\r\n", 6);
  close(in[1]);
  assert_int_equal(smtp__io_recv(&io, buf, sizeof buf), SMTP_ERR_EOF);
  smtp__io_close(&io);
  assert_int_equal(fcntl(in[0], F_GETFD), -1);
  assert_int_equal(fcntl(out[1], F_GETFD), -1);
  close(out[0]);
}

/* A signal without SA_RESTART interrupts a blocking recv (EINTR): the
 * adapter retries, and the caller only ever sees the data. */
static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static void test_posix_eintr(void **state) {
  (void)state;
  int sv[2];
  smtp_io io;
  char buf[16];
  struct sigaction sa, old;
  struct itimerval it = {{0, 5000}, {0, 5000}}, stop = {{0, 0}, {0, 0}};
  pid_t pid;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(sv[1]);
    usleep(100 * 1000);
    if (write(sv[0], "250 OK\r\n", 8) != 8) _exit(1);
    _exit(0);
  }
  close(sv[0]);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm; /* no SA_RESTART: recv fails with EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, &old);
  alarms = 0;
  setitimer(ITIMER_REAL, &it, NULL);
  assert_int_equal(smtp_io_posix_new(&io, sv[1], sv[1], SMTP_IO_POSIX_OWN_FD, NULL), 0);
  assert_int_equal(smtp__io_recv(&io, buf, sizeof buf), 8);
  setitimer(ITIMER_REAL, &stop, NULL);
  sigaction(SIGALRM, &old, NULL);
  assert_true(alarms > 0); /* the recv really was interrupted */
  assert_memory_equal(buf, "250 OK\r\n", 8);
  smtp__io_close(&io);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_posix_args(void **state) {
  (void)state;
  smtp_io io;
  assert_int_equal(smtp_io_posix_new(NULL, 0, 1, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_io_posix_new(&io, -1, 1, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_io_posix_new(&io, 0, -1, 0, NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp_io_posix_new(&io, 0, 1, 0x80, NULL), SMTP_ERR_INVALID_ARGUMENT);
  fm_fail_at = 1;
  fm_count = 0;
  assert_int_equal(smtp_io_posix_new(&io, 0, 1, 0, &fm_mem), SMTP_ERR_NOMEM);
  fm_fail_at = 0;
  assert_int_equal(smtp_io_posix_fd(NULL), SMTP_ERR_INVALID_ARGUMENT);
  assert_int_equal(smtp__io_errno(EAGAIN), SMTP_ERR_WOULDBLOCK);
  assert_int_equal(smtp__io_errno(EWOULDBLOCK), SMTP_ERR_WOULDBLOCK);
  assert_int_equal(smtp__io_errno(ECONNRESET), SMTP_ERR_IO);
  assert_int_equal(smtp__io_errno(EPIPE), SMTP_ERR_IO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_normalise),
      cmocka_unit_test(test_pipe_basic),
      cmocka_unit_test(test_pipe_eof),
      cmocka_unit_test(test_pipe_shutdown_and_chunk),
      cmocka_unit_test(test_pipe_alloc_fail),
      cmocka_unit_test(test_posix_socketpair),
      cmocka_unit_test(test_posix_eof),
      cmocka_unit_test(test_posix_two_fds),
      cmocka_unit_test(test_posix_eintr),
      cmocka_unit_test(test_posix_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
