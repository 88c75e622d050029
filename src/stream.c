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
	size_t n;

	va_start(ap, fmt);
	s->err.status = st;
	vsnprintf(s->err.msg, sizeof(s->err.msg), fmt, ap);
	va_end(ap);
	s->sys_errno = errnum;
	if (errnum != 0) {
		n = strlen(s->err.msg);
		snprintf(s->err.msg + n, sizeof(s->err.msg) - n, ": %s",
		    strerror(errnum));
	}
	return IO_ERROR;
}

/* Plain descriptors wait on their own read or write side. */
int
stream_default_want_fd(const struct stream *s, enum io want, short *events)
{
	if (s->lower != NULL)
		return stream_want_fd(s->lower, want, events);
	if (want == IO_WANT_WRITE) {
		*events = POLLOUT;
		return s->wfd;
	}
	*events = POLLIN;
	return s->rfd;
}

void
stream_close(struct stream *s)
{
	if (s != NULL)
		s->ops->close(s);
}

static enum io
fd_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	ssize_t r;

	*n = 0;
	for (;;) {
		r = read(s->rfd, buf, len);
		if (r > 0) {
			*n = (size_t)r;
			return IO_DONE;
		}
		if (r == 0)
			return IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_WANT_READ;
		return stream_fail(s, ST_RUNTIME, errno, "read");
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
write_blocking_fd(struct stream *s, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	ssize_t r;

	if (s->w_nowait) {
		r = pwritev2(s->wfd, &iov, 1, -1, RWF_NOWAIT);
		if (r >= 0 || (errno != EOPNOTSUPP && errno != EINVAL))
			return r;
		s->w_nowait = false;
	}
	if (s->w_pipe)
		len = pipe_room(s->wfd, len);
	return write(s->wfd, buf, len);
}

static enum io
fd_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	ssize_t r;

	*n = 0;
	for (;;) {
		if (s->is_socket)
			/* Never block, even on a shared blocking socket. */
			r = send(s->wfd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		else if (s->nonblocking)
			r = write(s->wfd, buf, len);
		else
			r = write_blocking_fd(s, buf, len);
		if (r >= 0) {
			*n = (size_t)r;
			return r > 0 ? IO_DONE : IO_WANT_WRITE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_WANT_WRITE;
		return stream_fail(s, ST_RUNTIME, errno, "write");
	}
}

static enum io
fd_shutdown_write(struct stream *s)
{
	int null;

	if (s->is_socket) {
		if (shutdown(s->wfd, SHUT_WR) == -1 && errno != ENOTCONN)
			return stream_fail(s, ST_RUNTIME, errno, "shutdown");
		return IO_DONE;
	}
	if (s->wfd == s->rfd)
		return IO_DONE;
	/*
	 * A pipe or file: the reader downstream sees EOF once our end is
	 * closed.  Keep the descriptor number valid by putting /dev/null
	 * there, so that stdout never gets reused by a later open().
	 */
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null == -1)
		return stream_fail(s, ST_RUNTIME, errno, "/dev/null");
	if (dup2(null, s->wfd) == -1) {
		int e = errno;

		close(null);
		return stream_fail(s, ST_RUNTIME, e, "dup2");
	}
	close(null);
	return IO_DONE;
}

static void
fd_close(struct stream *s)
{
	if (s->own_fds) {
		if (s->rfd >= 0)
			close(s->rfd);
		if (s->wfd >= 0 && s->wfd != s->rfd)
			close(s->wfd);
	}
	free(s);
}

static const struct stream_ops fd_ops = {
	.name = "fd",
	.handshake = NULL,
	.read = fd_read,
	.write = fd_write,
	.shutdown_write = fd_shutdown_write,
	.pending = NULL,
	.want_fd = stream_default_want_fd,
	.close = fd_close,
};

struct stream *
stream_fd_new(int rfd, int wfd, bool own_fds)
{
	struct stream *s;
	struct stat st;
	int fl;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->ops = &fd_ops;
	s->rfd = rfd;
	s->wfd = wfd;
	s->own_fds = own_fds;
	if (wfd >= 0 && fstat(wfd, &st) == 0) {
		s->is_socket = S_ISSOCK(st.st_mode);
		s->w_pipe = S_ISFIFO(st.st_mode);
		s->w_nowait = s->w_pipe;
	}
	/* Only a socket of our own is made non-blocking; see stream.h. */
	if (s->is_socket && rfd == wfd) {
		if ((fl = fcntl(rfd, F_GETFL)) != -1 &&
		    fcntl(rfd, F_SETFL, fl | O_NONBLOCK) != -1)
			s->nonblocking = true;
	}
	return s;
}
