/* The fd stream, and the parts every stream shares. */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"

enum io
stream_fail(struct stream *s, enum status st, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_verrno(&s->err, st, errnum, fmt, ap);
	va_end(ap);
	s->sys_errno = errnum;
	return IO_ERROR;
}

struct stream *
stream_layer_new(const struct stream_ops *ops, void *ctx, struct stream *lower)
{
	struct stream *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->ops = ops;
	s->ctx = ctx;
	s->lower = lower;
	return s;
}

enum io
stream_handshake(struct stream *s)
{
	enum io r;

	if (s->lower != NULL && (r = stream_handshake(s->lower)) != IO_DONE) {
		if (r == IO_ERROR) {
			s->err = s->lower->err;
			s->sys_errno = s->lower->sys_errno;
		}
		return r;
	}
	return s->ops->handshake != NULL ? s->ops->handshake(s) : IO_DONE;
}

size_t
stream_pending(const struct stream *s)
{
	size_t n = 0;

	for (; s != NULL; s = s->lower)
		if (s->ops->pending != NULL)
			n += s->ops->pending(s);
	return n;
}

int
stream_want_fd(const struct stream *s, enum io want, short *events)
{
	for (; s != NULL; s = s->lower)
		if (s->ops->want_fd != NULL)
			return s->ops->want_fd(s, want, events);
	*events = 0;
	return -1;
}

enum io
stream_shutdown_write(struct stream *s)
{
	enum io r;

	if (s->ops->shutdown_write != NULL)
		return s->ops->shutdown_write(s);
	if (s->lower == NULL)
		return IO_DONE;
	if ((r = stream_shutdown_write(s->lower)) == IO_ERROR) {
		s->err = s->lower->err;
		s->sys_errno = s->lower->sys_errno;
	}
	return r;
}

int
stream_query(const struct stream *s, enum stream_query q, void *out)
{
	for (; s != NULL; s = s->lower)
		if (s->ops->query != NULL && s->ops->query(s, q, out) == 0)
			return 0;
	return -1;
}

int
stream_fd(const struct stream *s)
{
	int fd = -1;

	return stream_query(s, STREAM_Q_FD, &fd) == 0 ? fd : -1;
}

static bool
query_bool(const struct stream *s, enum stream_query q, bool dflt)
{
	bool b = dflt;

	return stream_query(s, q, &b) == 0 ? b : dflt;
}

bool
stream_eof_clean(const struct stream *s)
{
	return query_bool(s, STREAM_Q_EOF_CLEAN, true);
}

bool
stream_nonblocking(const struct stream *s)
{
	return query_bool(s, STREAM_Q_NONBLOCKING, false);
}

bool
stream_keeps_datagrams(const struct stream *s)
{
	return query_bool(s, STREAM_Q_DATAGRAM, false);
}

/* The top layer only: see STREAM_Q_RAW_RFD in stream.h. */
int
stream_raw_fd(const struct stream *s, enum io dir)
{
	enum stream_query q = dir == IO_WANT_WRITE ? STREAM_Q_RAW_WFD :
	    STREAM_Q_RAW_RFD;
	int fd = -1;

	if (s == NULL || s->ops->query == NULL || s->ops->query(s, q, &fd) != 0)
		return -1;
	return fd;
}

void
stream_close(struct stream *s)
{
	struct stream *lower;

	while (s != NULL) {
		lower = s->lower;
		if (s->ops->close != NULL)
			s->ops->close(s);
		free(s);
		s = lower;
	}
}

/*
 * A failed read or write.  On a connected datagram socket, ECONNREFUSED is
 * the ICMP "port unreachable" (or, for a Unix socket, no one bound there)
 * that a datagram sent earlier brought back: say what it means.
 */
static enum io
fd_fail(struct stream *s, const char *what)
{
	const struct fd_state *f = s->ctx;
	int err = errno;

	if (f->datagram && err == ECONNREFUSED)
		return stream_fail(s, ST_RUNTIME, err, "%s: the peer refused "
		    "a datagram (no one is listening on its port)", what);
	return stream_fail(s, ST_RUNTIME, err, "%s", what);
}

static enum io
fd_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	struct fd_state *f = s->ctx;
	ssize_t r;

	*n = 0;
	for (;;) {
		r = read(f->rfd, buf, len);
		if (r > 0) {
			*n = (size_t)r;
			return IO_DONE;
		}
		/* An empty datagram is no EOF: datagrams have none. */
		if (r == 0 && f->datagram)
			continue;
		if (r == 0) {
			f->eof = true;
			return IO_EOF;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_WANT_READ;
		return fd_fail(s, "read");
	}
}

/*
 * A descriptor we may not make non-blocking (stdout, say) is written only
 * once poll says it is writable, but a write larger than the room in a pipe
 * would still block the whole loop.  RWF_NOWAIT asks the kernel not to wait.
 * Where it is not supported (a FIFO opened by name, older kernels), the
 * write is cut to the room left in the pipe: its size less what is queued,
 * less a page for each partly filled buffer at either end.  A writable pipe
 * always has room for PIPE_BUF.
 */
static size_t
pipe_room(int fd, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	int cap, queued;
	long room;

	if (page <= 0)
		page = 4096;
	if ((cap = fcntl(fd, F_GETPIPE_SZ)) == -1 ||
	    ioctl(fd, FIONREAD, &queued) == -1)
		return len < PIPE_BUF ? len : PIPE_BUF;
	room = (long)cap - ((long)queued + page - 1) / page * page - page;
	if (room < PIPE_BUF)
		room = PIPE_BUF;
	return len < (size_t)room ? len : (size_t)room;
}

static ssize_t
write_blocking_fd(struct fd_state *f, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	ssize_t r;

	if (f->w_nowait) {
		r = pwritev2(f->wfd, &iov, 1, -1, RWF_NOWAIT);
		if (r >= 0 || (errno != EOPNOTSUPP && errno != EINVAL))
			return r;
		f->w_nowait = false;
	}
	if (f->w_pipe)
		len = pipe_room(f->wfd, len);
	return write(f->wfd, buf, len);
}

static enum io
fd_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	struct fd_state *f = s->ctx;
	ssize_t r;

	*n = 0;
	for (;;) {
		if (f->is_socket)
			/* Never block, even on a shared blocking socket. */
			r = send(f->wfd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		else if (f->nonblocking)
			r = write(f->wfd, buf, len);
		else
			r = write_blocking_fd(f, buf, len);
		if (r >= 0) {
			*n = (size_t)r;
			return r > 0 ? IO_DONE : IO_WANT_WRITE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_WANT_WRITE;
		return fd_fail(s, "write");
	}
}

static enum io
fd_shutdown_write(struct stream *s)
{
	struct fd_state *f = s->ctx;
	int null;

	if (f->is_socket) {
		if (shutdown(f->wfd, SHUT_WR) == -1 && errno != ENOTCONN)
			return stream_fail(s, ST_RUNTIME, errno, "shutdown");
		return IO_DONE;
	}
	if (f->wfd == f->rfd || f->wfd < 0)
		return IO_DONE;
	/*
	 * A pipe or file: the reader downstream sees EOF once our end is
	 * closed.  Keep the descriptor number valid by putting /dev/null
	 * there, so that stdout never gets reused by a later open().
	 */
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null == -1)
		return stream_fail(s, ST_RUNTIME, errno, "/dev/null");
	if (dup2(null, f->wfd) == -1) {
		int e = errno;

		close(null);
		return stream_fail(s, ST_RUNTIME, e, "dup2");
	}
	close(null);
	return IO_DONE;
}

/* Plain descriptors wait on their own read or write side. */
static int
fd_want_fd(const struct stream *s, enum io want, short *events)
{
	const struct fd_state *f = s->ctx;

	if (want == IO_WANT_WRITE) {
		*events = POLLOUT;
		return f->wfd;
	}
	*events = POLLIN;
	return f->rfd;
}

static int
fd_query(const struct stream *s, enum stream_query q, void *out)
{
	const struct fd_state *f = s->ctx;

	switch (q) {
	case STREAM_Q_FD:
		*(int *)out = f->is_socket && f->rfd == f->wfd ? f->rfd : -1;
		return 0;
	case STREAM_Q_NONBLOCKING:
		*(bool *)out = f->nonblocking;
		return 0;
	case STREAM_Q_EOF_CLEAN:
		*(bool *)out = true;
		return 0;
	case STREAM_Q_DATAGRAM:
		*(bool *)out = f->datagram;
		return 0;
	case STREAM_Q_RAW_RFD:
		*(int *)out = f->datagram ? -1 : f->rfd;
		return 0;
	case STREAM_Q_RAW_WFD:
		*(int *)out = f->datagram ? -1 : f->wfd;
		return 0;
	default:
		return -1;
	}
}

static void
fd_close(struct stream *s)
{
	struct fd_state *f = s->ctx;

	if (f->flags & STREAM_OWN_FDS) {
		if (f->rfd >= 0)
			close(f->rfd);
		if (f->wfd >= 0 && f->wfd != f->rfd)
			close(f->wfd);
	}
	free(f);
}

static const struct stream_ops fd_ops = {
	.name = "fd",
	.read = fd_read,
	.write = fd_write,
	.shutdown_write = fd_shutdown_write,
	.want_fd = fd_want_fd,
	.query = fd_query,
	.close = fd_close,
};

const struct fd_state *
stream_fd_state(const struct stream *s)
{
	return s != NULL && s->ops == &fd_ops ? s->ctx : NULL;
}

struct stream *
stream_fd_new(int rfd, int wfd, unsigned flags)
{
	struct stream *s;
	struct fd_state *f;
	struct stat st;
	int fl;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if ((s = stream_layer_new(&fd_ops, f, NULL)) == NULL) {
		free(f);
		return NULL;
	}
	f->rfd = rfd;
	f->wfd = wfd;
	f->flags = flags;
	if (wfd >= 0 && fstat(wfd, &st) == 0) {
		f->is_socket = S_ISSOCK(st.st_mode);
		f->w_pipe = S_ISFIFO(st.st_mode);
		f->w_nowait = f->w_pipe;
	}
	/* Only a socket of our own is made non-blocking; see stream.h. */
	if (f->is_socket && rfd == wfd) {
		int type = 0;
		socklen_t tlen = sizeof(type);

		f->datagram = getsockopt(rfd, SOL_SOCKET, SO_TYPE, &type,
		    &tlen) == 0 && type == SOCK_DGRAM;
		if ((fl = fcntl(rfd, F_GETFL)) != -1 &&
		    fcntl(rfd, F_SETFL, fl | O_NONBLOCK) != -1)
			f->nonblocking = true;
	}
	return s;
}
