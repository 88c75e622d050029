/*
 * Unit tests for the fd stream (src/stream.c) over socketpairs, pipes and a
 * loopback TCP pair: transfer, wants, EOF, half-close and errors.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "stream.h"

/* Bounds a broken run; a healthy one never waits this long. */
#define POLL_MS		5000
#define WATCHDOG_SECS	60

static volatile sig_atomic_t	sigpipes;

static void
count_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static bool
fd_is_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl != -1);
	return (fl & O_NONBLOCK) != 0;
}

static bool
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* Wait until a stream's want is satisfied. */
static void
wait_for(const struct stream *s, enum io want)
{
	struct pollfd pfd;

	pfd.fd = stream_want_fd(s, want, &pfd.events);
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, POLL_MS), 1);
}

static void
make_socketpair(struct stream **a, struct stream **b)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_non_null(*a = stream_fd_new(sv[0], sv[0], STREAM_OWN_FDS));
	assert_non_null(*b = stream_fd_new(sv[1], sv[1], STREAM_OWN_FDS));
}

/* A connected loopback TCP pair, made by hand: net.c is not linked here. */
static void
make_tcp_pair(int *c, int *s)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	int l;

	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&in, &len), 0);
	assert_true((*c = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(*c, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_true((*s = accept(l, NULL, NULL)) >= 0);
	close(l);
}

static void
write_all(struct stream *s, const void *buf, size_t len)
{
	const char *p = buf;
	size_t n;
	enum io io;

	while (len > 0) {
		io = stream_write(s, p, len, &n);
		if (io == IO_WANT_WRITE || io == IO_WANT_READ) {
			wait_for(s, io);
			continue;
		}
		if (io != IO_DONE)
			fail_msg("write: %d %s", (int)io, s->err.msg);
		assert_true(n > 0 && n <= len);
		p += n;
		len -= n;
	}
}

/* Read exactly len bytes, waiting as the stream asks. */
static void
read_exact(struct stream *s, void *buf, size_t len)
{
	char *p = buf;
	size_t n;
	enum io io;

	while (len > 0) {
		io = stream_read(s, p, len, &n);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			wait_for(s, io);
			continue;
		}
		if (io != IO_DONE)
			fail_msg("read: %d %s", (int)io, s->err.msg);
		assert_true(n > 0 && n <= len);
		p += n;
		len -= n;
	}
}

/* The next read result after waiting for readability. */
static enum io
read_next(struct stream *s, void *buf, size_t len, size_t *n)
{
	enum io io;

	while ((io = stream_read(s, buf, len, n)) == IO_WANT_READ)
		wait_for(s, IO_WANT_READ);
	return io;
}

/* ---- tests ---- */

static void
socketpair_roundtrip(void **state)
{
	struct stream *a, *b;
	char buf[64];
	size_t n = 99;

	(void)state;
	make_socketpair(&a, &b);
	assert_string_equal(a->ops->name, "fd");
	assert_int_equal(stream_handshake(a), IO_DONE);
	assert_int_equal(stream_pending(a), 0);

	assert_int_equal(stream_write(a, "hello, world", 12, &n), IO_DONE);
	assert_int_equal(n, 12);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read_next(b, buf, sizeof(buf), &n), IO_DONE);
	assert_int_equal(n, 12);
	assert_memory_equal(buf, "hello, world", 12);

	assert_int_equal(stream_write(b, "back", 4, &n), IO_DONE);
	assert_int_equal(n, 4);
	assert_int_equal(read_next(a, buf, sizeof(buf), &n), IO_DONE);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "back", 4);
	/* A short buffer takes what fits; the rest follows. */
	write_all(a, "abcdef", 6);
	assert_int_equal(read_next(b, buf, 4, &n), IO_DONE);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "abcd", 4);
	assert_int_equal(read_next(b, buf, sizeof(buf), &n), IO_DONE);
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "ef", 2);
	assert_int_equal(a->sys_errno, 0);
	assert_int_equal(b->sys_errno, 0);
	stream_close(a);
	stream_close(b);
}

static void
socket_flags(void **state)
{
	struct stream *s;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_false(fd_is_nonblocking(sv[0]));
	assert_non_null(s = stream_fd_new(sv[0], sv[0], STREAM_OWN_FDS));
	assert_int_equal(stream_fd_state(s)->rfd, sv[0]);
	assert_int_equal(stream_fd_state(s)->wfd, sv[0]);
	assert_true(stream_fd_state(s)->flags & STREAM_OWN_FDS);
	assert_true(stream_fd_state(s)->is_socket);
	assert_true(stream_fd_state(s)->nonblocking);
	assert_true(fd_is_nonblocking(sv[0]));
	assert_null(s->lower);
	assert_true(stream_eof_clean(s));
	stream_close(s);
	assert_false(fd_is_open(sv[0]));
	close(sv[1]);
}

static void
want_read_when_empty(void **state)
{
	struct stream *a, *b;
	char buf[16];
	size_t n = 99;

	(void)state;
	make_socketpair(&a, &b);
	assert_int_equal(stream_read(a, buf, sizeof(buf), &n), IO_WANT_READ);
	assert_int_equal(n, 0);
	assert_int_equal(a->sys_errno, 0);
	/* Once data comes, the same call is done. */
	write_all(b, "x", 1);
	wait_for(a, IO_WANT_READ);
	assert_int_equal(stream_read(a, buf, sizeof(buf), &n), IO_DONE);
	assert_int_equal(n, 1);
	assert_int_equal(stream_read(a, buf, sizeof(buf), &n), IO_WANT_READ);
	stream_close(a);
	stream_close(b);
}

static void
eof_after_peer_close(void **state)
{
	struct stream *a, *b;
	char buf[16];
	size_t n = 99;

	(void)state;
	make_socketpair(&a, &b);
	write_all(b, "last", 4);
	stream_close(b);
	/* Data sent before the close comes first, then EOF, for good. */
	assert_int_equal(read_next(a, buf, sizeof(buf), &n), IO_DONE);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "last", 4);
	n = 99;
	assert_int_equal(stream_read(a, buf, sizeof(buf), &n), IO_EOF);
	assert_int_equal(n, 0);
	assert_int_equal(stream_read(a, buf, sizeof(buf), &n), IO_EOF);
	assert_true(stream_eof_clean(a));
	stream_close(a);
}

static void
want_write_when_full(void **state)
{
	static unsigned char chunk[1024], got[4096];
	struct stream *a, *b;
	size_t total = 0, drained = 0, n, i;
	int small = 4096;
	enum io io;

	(void)state;
	make_socketpair(&a, &b);
	assert_int_equal(setsockopt(stream_fd_state(a)->wfd, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	assert_int_equal(setsockopt(stream_fd_state(b)->rfd, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	/* A counting pattern, so that loss or reordering shows. */
	for (;;) {
		for (i = 0; i < sizeof(chunk); i++)
			chunk[i] = (unsigned char)((total + i) % 251);
		io = stream_write(a, chunk, sizeof(chunk), &n);
		if (io == IO_WANT_WRITE)
			break;
		assert_int_equal(io, IO_DONE);
		assert_true(n > 0 && n <= sizeof(chunk));
		total += n;
		if (total > 64 * 1024 * 1024)
			fail_msg("the socket never filled");
	}
	assert_int_equal(n, 0);
	assert_int_equal(a->sys_errno, 0);
	assert_true(total > 0);

	/* Drain everything and check it. */
	while (drained < total) {
		assert_int_equal(read_next(b, got, sizeof(got), &n), IO_DONE);
		for (i = 0; i < n; i++)
			if (got[i] != (unsigned char)((drained + i) % 251))
				fail_msg("byte %zu is wrong", drained + i);
		drained += n;
	}
	assert_int_equal(drained, total);
	assert_int_equal(stream_read(b, got, sizeof(got), &n), IO_WANT_READ);

	/* Room again: the want is satisfied and a write goes through. */
	wait_for(a, IO_WANT_WRITE);
	assert_int_equal(stream_write(a, "z", 1, &n), IO_DONE);
	assert_int_equal(n, 1);
	stream_close(a);
	stream_close(b);
}

static void
half_close_socketpair(void **state)
{
	struct stream *a, *b;
	char buf[16];
	size_t n;

	(void)state;
	make_socketpair(&a, &b);
	write_all(a, "req", 3);
	assert_int_equal(stream_shutdown_write(a), IO_DONE);
	/* The peer reads what was sent, then EOF... */
	read_exact(b, buf, 3);
	assert_memory_equal(buf, "req", 3);
	assert_int_equal(read_next(b, buf, sizeof(buf), &n), IO_EOF);
	/* ...and can still answer, which a reads. */
	write_all(b, "response", 8);
	read_exact(a, buf, 8);
	assert_memory_equal(buf, "response", 8);
	stream_close(b);
	assert_int_equal(read_next(a, buf, sizeof(buf), &n), IO_EOF);
	stream_close(a);
}

static void
half_close_tcp(void **state)
{
	struct stream *c, *s;
	char buf[16];
	size_t n;
	int cfd, sfd;

	(void)state;
	make_tcp_pair(&cfd, &sfd);
	assert_non_null(c = stream_fd_new(cfd, cfd, STREAM_OWN_FDS));
	assert_non_null(s = stream_fd_new(sfd, sfd, STREAM_OWN_FDS));
	assert_true(stream_fd_state(c)->is_socket && stream_fd_state(c)->nonblocking);
	write_all(c, "ping", 4);
	assert_int_equal(stream_shutdown_write(c), IO_DONE);
	read_exact(s, buf, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(read_next(s, buf, sizeof(buf), &n), IO_EOF);
	write_all(s, "pong", 4);
	read_exact(c, buf, 4);
	assert_memory_equal(buf, "pong", 4);
	/* A second shutdown is harmless. */
	assert_int_equal(stream_shutdown_write(c), IO_DONE);
	assert_int_equal(stream_shutdown_write(s), IO_DONE);
	assert_int_equal(read_next(c, buf, sizeof(buf), &n), IO_EOF);
	stream_close(c);
	stream_close(s);
}

static void
shutdown_unconnected_socket(void **state)
{
	struct stream *s;
	int fd;

	(void)state;
	/* ENOTCONN is not an error: there is nobody to tell. */
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_non_null(s = stream_fd_new(fd, fd, STREAM_OWN_FDS));
	assert_int_equal(stream_shutdown_write(s), IO_DONE);
	stream_close(s);
}

/* stdin/stdout-like: read one pipe, write another. */
static void
pipe_distinct_fds(void **state)
{
	struct stream *s;
	int in[2], out[2];
	char buf[16];
	size_t n;

	(void)state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	assert_non_null(s = stream_fd_new(in[0], out[1], STREAM_OWN_FDS));
	assert_int_equal(stream_fd_state(s)->rfd, in[0]);
	assert_int_equal(stream_fd_state(s)->wfd, out[1]);
	assert_false(stream_fd_state(s)->is_socket);
	/* Shared descriptors keep their blocking mode. */
	assert_false(stream_fd_state(s)->nonblocking);
	assert_false(fd_is_nonblocking(in[0]));
	assert_false(fd_is_nonblocking(out[1]));

	assert_int_equal(write(in[1], "input", 5), 5);
	assert_int_equal(read_next(s, buf, sizeof(buf), &n), IO_DONE);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "input", 5);
	assert_int_equal(stream_write(s, "output", 6, &n), IO_DONE);
	assert_int_equal(n, 6);
	assert_int_equal(read(out[0], buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "output", 6);

	close(in[1]);
	assert_int_equal(read_next(s, buf, sizeof(buf), &n), IO_EOF);
	stream_close(s);
	assert_false(fd_is_open(in[0]));
	assert_false(fd_is_open(out[1]));
	close(out[0]);
}

static void
pipe_set_nonblocking_by_caller(void **state)
{
	struct stream *s;
	int p[2];
	char buf[4];
	size_t n;

	(void)state;
	/* A descriptor the caller made non-blocking reports the want. */
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_non_null(s = stream_fd_new(p[0], p[1], STREAM_OWN_FDS));
	assert_int_equal(stream_read(s, buf, sizeof(buf), &n), IO_WANT_READ);
	assert_int_equal(n, 0);
	stream_close(s);
}

static void
pipe_shutdown_write(void **state)
{
	struct stream *s;
	struct stat st, null_st;
	int in[2], out[2];
	char buf[16];
	size_t n;

	(void)state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	assert_non_null(s = stream_fd_new(in[0], out[1], STREAM_OWN_FDS));
	write_all(s, "tail", 4);
	assert_int_equal(stream_shutdown_write(s), IO_DONE);

	/* The reader gets the data and then EOF. */
	assert_int_equal(read(out[0], buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "tail", 4);
	assert_int_equal(read(out[0], buf, sizeof(buf)), 0);

	/* The number stays taken, by /dev/null, so nothing reuses it. */
	assert_int_equal(stream_fd_state(s)->wfd, out[1]);
	assert_true(fd_is_open(out[1]));
	assert_int_equal(fstat(out[1], &st), 0);
	assert_int_equal(stat("/dev/null", &null_st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_true(st.st_rdev == null_st.st_rdev);

	/* The read side still works. */
	assert_int_equal(write(in[1], "more", 4), 4);
	read_exact(s, buf, 4);
	assert_memory_equal(buf, "more", 4);
	close(in[1]);
	assert_int_equal(read_next(s, buf, sizeof(buf), &n), IO_EOF);
	stream_close(s);
	assert_false(fd_is_open(out[1]));
	close(out[0]);
}

/* One non-socket descriptor both ways (a tty, a file): nothing to close. */
static void
shutdown_same_fd_not_socket(void **state)
{
	char path[] = "/tmp/test_stream.XXXXXX";
	struct stat before, after;
	struct stream *s;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	unlink(path);
	assert_int_equal(fstat(fd, &before), 0);
	assert_non_null(s = stream_fd_new(fd, fd, 0));
	assert_false(stream_fd_state(s)->is_socket);
	assert_int_equal(stream_shutdown_write(s), IO_DONE);
	assert_int_equal(fstat(fd, &after), 0);
	assert_true(before.st_ino == after.st_ino);
	assert_true(before.st_dev == after.st_dev);
	stream_close(s);
	/* Not owned: still open. */
	assert_true(fd_is_open(fd));
	close(fd);
}

static void
not_owned_fds_stay_open(void **state)
{
	struct stream *s;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_non_null(s = stream_fd_new(sv[0], sv[0], 0));
	assert_false(stream_fd_state(s)->flags & STREAM_OWN_FDS);
	stream_close(s);
	assert_true(fd_is_open(sv[0]));
	close(sv[0]);
	close(sv[1]);
	/* stream_close(NULL) is a no-op. */
	stream_close(NULL);
}

static void
write_to_closed_socket(void **state)
{
	struct sigaction sa, old;
	struct stream *a, *b;
	size_t n = 99;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_sigpipe;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &sa, &old), 0);
	sigpipes = 0;

	make_socketpair(&a, &b);
	stream_close(b);
	assert_int_equal(stream_write(a, "lost", 4, &n), IO_ERROR);
	assert_int_equal(n, 0);
	assert_int_equal(a->sys_errno, EPIPE);
	assert_int_equal(a->err.status, ST_RUNTIME);
	assert_string_equal(a->err.msg, "write: Broken pipe");
	/* MSG_NOSIGNAL: a socket never raises SIGPIPE. */
	assert_int_equal(sigpipes, 0);
	stream_close(a);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

static void
write_after_own_shutdown(void **state)
{
	struct stream *a, *b;
	size_t n;

	(void)state;
	make_socketpair(&a, &b);
	assert_int_equal(stream_shutdown_write(a), IO_DONE);
	assert_int_equal(stream_write(a, "late", 4, &n), IO_ERROR);
	assert_int_equal(a->sys_errno, EPIPE);
	assert_int_equal(a->err.status, ST_RUNTIME);
	stream_close(a);
	stream_close(b);
}

static void
write_to_closed_pipe(void **state)
{
	struct sigaction sa, old;
	struct stream *s;
	int p[2];
	size_t n;

	(void)state;
	/* main() ignores SIGPIPE; plain write() on a pipe relies on that. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &sa, &old), 0);
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	assert_non_null(s = stream_fd_new(-1, p[1], STREAM_OWN_FDS));
	assert_int_equal(stream_write(s, "lost", 4, &n), IO_ERROR);
	assert_int_equal(s->sys_errno, EPIPE);
	assert_int_equal(s->err.status, ST_RUNTIME);
	assert_string_equal(s->err.msg, "write: Broken pipe");
	stream_close(s);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

static void
read_error(void **state)
{
	struct stream *s;
	int p[2];
	char buf[4];
	size_t n = 99;

	(void)state;
	/* Reading the write end of a pipe fails with EBADF. */
	assert_int_equal(pipe(p), 0);
	assert_non_null(s = stream_fd_new(p[1], p[1], 0));
	assert_int_equal(stream_read(s, buf, sizeof(buf), &n), IO_ERROR);
	assert_int_equal(n, 0);
	assert_int_equal(s->sys_errno, EBADF);
	assert_int_equal(s->err.status, ST_RUNTIME);
	assert_string_equal(s->err.msg, "read: Bad file descriptor");
	stream_close(s);
	close(p[0]);
	close(p[1]);
}

static void
want_fd_events(void **state)
{
	struct stream *s;
	short ev;
	int sv[2], p[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_non_null(s = stream_fd_new(sv[0], sv[0], STREAM_OWN_FDS));
	ev = 0;
	assert_int_equal(stream_want_fd(s, IO_WANT_READ, &ev), sv[0]);
	assert_int_equal(ev, POLLIN);
	ev = 0;
	assert_int_equal(stream_want_fd(s, IO_WANT_WRITE, &ev), sv[0]);
	assert_int_equal(ev, POLLOUT);
	stream_close(s);
	close(sv[1]);

	/* Distinct descriptors: each want names its own side. */
	assert_int_equal(pipe(p), 0);
	assert_non_null(s = stream_fd_new(p[0], p[1], STREAM_OWN_FDS));
	ev = 0;
	assert_int_equal(stream_want_fd(s, IO_WANT_READ, &ev), p[0]);
	assert_int_equal(ev, POLLIN);
	ev = 0;
	assert_int_equal(stream_want_fd(s, IO_WANT_WRITE, &ev), p[1]);
	assert_int_equal(ev, POLLOUT);
	stream_close(s);
}

/* Mixed pairs: is_socket follows the write side; only rfd == wfd switches. */
static void
mixed_fd_flags(void **state)
{
	struct stream *s;
	int sv[2], p[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);

	assert_non_null(s = stream_fd_new(p[0], sv[0], 0));
	assert_true(stream_fd_state(s)->is_socket);
	assert_false(stream_fd_state(s)->nonblocking);
	assert_false(fd_is_nonblocking(sv[0]));
	stream_close(s);

	assert_non_null(s = stream_fd_new(sv[0], p[1], 0));
	assert_false(stream_fd_state(s)->is_socket);
	assert_false(stream_fd_state(s)->nonblocking);
	assert_false(fd_is_nonblocking(sv[0]));
	stream_close(s);

	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

/*
 * A blocking FIFO (stdout redirected to a named pipe) with little room left:
 * a large write must take only what fits instead of blocking.  A FIFO opened
 * by name takes the path without RWF_NOWAIT.  The watchdog alarm ends the
 * driver if the write blocks.
 */
static void
blocking_fifo_write_takes_only_room(void **state)
{
	char dir[] = "/tmp/tlsnc-fifo.XXXXXX", path[64];
	static char big[256 * 1024];
	struct stream *s;
	int rfd, wfd, fill, cap, queued;
	size_t n;
	ssize_t r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_true((rfd = open(path, O_RDONLY | O_NONBLOCK)) >= 0);
	assert_true((wfd = open(path, O_WRONLY)) >= 0);		/* blocking */
	assert_true((fill = open(path, O_WRONLY | O_NONBLOCK)) >= 0);
	assert_true((cap = fcntl(wfd, F_GETPIPE_SZ)) > 16384);
	assert_true((size_t)cap - 16384 <= sizeof(big));
	/* Leave about 16 KiB of room. */
	r = write(fill, big, (size_t)cap - 16384);
	assert_int_equal(r, cap - 16384);

	s = stream_fd_new(-1, wfd, STREAM_OWN_FDS);
	assert_non_null(s);
	assert_false(stream_fd_state(s)->nonblocking);
	assert_int_equal(stream_write(s, big, sizeof(big), &n), IO_DONE);
	assert_true(n > 0 && n <= 16384);
	assert_int_equal(ioctl(rfd, FIONREAD, &queued), 0);
	assert_int_equal(queued, cap - 16384 + (int)n);

	stream_close(s);
	close(fill);
	close(rfd);
	unlink(path);
	rmdir(dir);
}

/*
 * stdout may be a blocking socket (socat EXEC:, inetd).  A write to it
 * when it is full must say IO_WANT_WRITE rather than block the loop.
 */
static void
blocking_socket_write_does_not_block(void **state)
{
	static char big[64 * 1024];
	struct stream *s;
	int sv[2], p[2];
	size_t n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	/* Distinct read and write fds: the socket is left blocking. */
	s = stream_fd_new(p[0], sv[0], STREAM_OWN_FDS);
	assert_non_null(s);
	assert_true(stream_fd_state(s)->is_socket);
	assert_false(stream_fd_state(s)->nonblocking);
	while (send(sv[0], big, sizeof(big), MSG_DONTWAIT) > 0)
		;
	assert_int_equal(stream_write(s, big, sizeof(big), &n),
	    IO_WANT_WRITE);
	assert_int_equal(n, 0);
	stream_close(s);
	close(p[1]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(socketpair_roundtrip),
		cmocka_unit_test(socket_flags),
		cmocka_unit_test(want_read_when_empty),
		cmocka_unit_test(eof_after_peer_close),
		cmocka_unit_test(want_write_when_full),
		cmocka_unit_test(half_close_socketpair),
		cmocka_unit_test(half_close_tcp),
		cmocka_unit_test(shutdown_unconnected_socket),
		cmocka_unit_test(pipe_distinct_fds),
		cmocka_unit_test(pipe_set_nonblocking_by_caller),
		cmocka_unit_test(pipe_shutdown_write),
		cmocka_unit_test(shutdown_same_fd_not_socket),
		cmocka_unit_test(not_owned_fds_stay_open),
		cmocka_unit_test(write_to_closed_socket),
		cmocka_unit_test(write_after_own_shutdown),
		cmocka_unit_test(write_to_closed_pipe),
		cmocka_unit_test(read_error),
		cmocka_unit_test(want_fd_events),
		cmocka_unit_test(mixed_fd_flags),
		cmocka_unit_test(blocking_fifo_write_takes_only_room),
		cmocka_unit_test(blocking_socket_write_does_not_block),
	};

	/*
	 * A stream that wrongly blocks would hang make check; die instead,
	 * and the TAP driver reports the missing results.
	 */
	alarm(WATCHDOG_SECS);
	return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
