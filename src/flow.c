/*
 * One direction of bytes, with a buffer that follows the load, or with no
 * buffer at all when the kernel can move the bytes (zero-copy).
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow.h"
#include "net.h"

static int	zc_abandon(struct flow *, const char *call, int err);
static int	zc_leave(struct flow *, const char *why);

/* The flow moves its bytes in the kernel. */
static bool
zc_on(const struct flow *f)
{
	return f->zc == FLOW_ZC_SPLICE || f->zc == FLOW_ZC_SENDFILE ||
	    f->zc == FLOW_ZC_PIPE;
}

void
flow_init(struct flow *f, struct stream *src, struct stream *dst, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->src = src;
	f->dst = dst;
	f->max = max != 0 ? max : FLOW_BUF_MAX;
	f->rwant = IO_WANT_READ;
	f->wwant = IO_WANT_WRITE;
	f->dst_nonblocking = dst != NULL && stream_nonblocking(dst);
	f->src_records = src != NULL && stream_keeps_datagrams(src);
	f->record = f->src_records ||
	    (dst != NULL && stream_keeps_datagrams(dst));
	f->zc_src = f->zc_dst = -1;
	f->zc_pipe[0] = f->zc_pipe[1] = -1;
}

static void
buffer_free(struct flow *f)
{
	free(f->buf);
	f->buf = NULL;
	f->cap = f->head = f->len = 0;
}

static void
zc_pipe_close(struct flow *f)
{
	if (f->zc != FLOW_ZC_PIPE)
		return;
	close(f->zc_pipe[0]);
	close(f->zc_pipe[1]);
	f->zc_pipe[0] = f->zc_pipe[1] = -1;
}

void
flow_release(struct flow *f)
{
	buffer_free(f);
	zc_pipe_close(f);
	if (f->zc != FLOW_ZC_UNDECIDED)
		f->zc = FLOW_ZC_OFF;
	f->zc_held = f->zc_full = false;
}

/*
 * Make room to read into: allocate, grow or compact.  Returns the room, or
 * 0 when the buffer is full, or when there is no buffer because memory is
 * short (the caller fails then: nothing would ever make room).  A grow
 * that fails keeps the buffer it had, which waits like full.
 * "Full" leaves less than one read may need (flow_need()).
 */
static size_t
make_room(struct flow *f)
{
	size_t need = flow_need(f);
	/* Busy lately, or this read filled it: the large size. */
	bool full = f->buf != NULL && f->len + need > f->cap;
	/* A datagram larger than the buffer would be cut: take the most. */
	size_t want = f->hot || full || f->record ? f->max : FLOW_BUF_SMALL;
	size_t room;
	char *p;

	if (want > f->max)
		want = f->max;
	if (f->buf == NULL) {
		if ((f->buf = malloc(want)) == NULL)
			return 0;
		f->cap = want;
		f->head = f->len = 0;
	} else if (f->cap < want && (p = realloc(f->buf, want)) != NULL) {
		f->buf = p;
		f->cap = want;
	}
	if (f->head > 0 && f->head + f->len + need > f->cap) {
		memmove(f->buf, f->buf + f->head, f->len);
		f->head = 0;
	}
	if (f->len + need > f->max || f->head + f->len + need > f->cap)
		return 0;
	room = f->cap - f->head - f->len;
	return room;
}

/* An idle flow holds no buffer; a busy one keeps its large one. */
static void
release_if_idle(struct flow *f)
{
	if (f->len == 0 && (f->src_eof || (f->drained && !f->hot)))
		buffer_free(f);
}

/*
 * One read into the buffer, through the tap if there is one.  *n is what
 * the source gave and *asked the most it could have given.
 */
static enum io
read_once(struct flow *f, size_t room, size_t *n, size_t *asked)
{
	char *at = f->buf + f->head + f->len;
	struct flow_tap *t = f->tap;
	enum io io;

	*asked = room;
	if (t == NULL || t->transform == NULL) {
		io = stream_read(f->src, at, room, n);
		if (io != IO_DONE)
			return io;
		if (t != NULL && t->on_read != NULL)
			t->on_read(t, at, *n);
		f->len += *n;
		return io;
	}
	*asked = room / flow_need(f);
	if (*asked > t->chunk)
		*asked = t->chunk;
	io = stream_read(f->src, t->scratch, *asked, n);
	if (io != IO_DONE)
		return io;
	if (t->on_read != NULL)
		t->on_read(t, t->scratch, *n);
	f->len += t->transform(t, t->scratch, *n, at);
	return io;
}

static enum io
read_buffered(struct flow *f, size_t *got)
{
	size_t n, room, asked, before = f->len, total = 0;
	bool filled = false;
	enum io io;

	for (;;) {
		if ((room = make_room(f)) == 0 || (f->record && f->len > 0)) {
			/* No buffer at all: waiting for room would spin. */
			if (f->buf == NULL) {
				*got = 0;
				return stream_fail(f->src, ST_RUNTIME, ENOMEM,
				    "no memory for a buffer");
			}
			io = IO_DONE;
			break;
		}
		/* Bytes bound for a datagram: no more than one carries. */
		if (f->record && !f->src_records && room > FLOW_RECORD_MAX)
			room = FLOW_RECORD_MAX;
		io = read_once(f, room, &n, &asked);
		if (io != IO_DONE) {
			if (io == IO_EOF)
				f->src_eof = true;
			else if (io != IO_ERROR)
				f->rwant = io;
			f->drained = true;
			break;
		}
		total += n;
		f->taken += n;
		f->rwant = IO_WANT_READ;
		f->drained = n < asked;
		filled |= n == asked;
		/* -d: the source rests after every read. */
		if (f->tap != NULL && f->tap->rest_ms > 0) {
			f->rest_until = now_ms() + f->tap->rest_ms;
			break;
		}
		/* Poll cannot see what the layer already holds. */
		if (stream_pending(f->src) == 0)
			break;
	}
	/* Large reads want a large buffer; small ones give it back. */
	if (total > 0 || io == IO_WANT_READ)
		f->hot = filled || total >= FLOW_BUF_SMALL;
	release_if_idle(f);
	*got = f->len - before;
	return io;
}

bool
flow_rest_over(struct flow *f, int64_t now)
{
	if (f->rest_until == 0 || now < f->rest_until)
		return false;
	f->rest_until = 0;
	return true;
}

bool
flow_inject(struct flow *f, const void *p, size_t n)
{
	size_t cap;
	char *nb;

	if (f->done)
		return false;
	if (f->zc_held && zc_abandon(f, NULL, 0) == -1)
		return false;
	if (f->buf != NULL && f->head > 0 && f->head + f->len + n > f->cap) {
		memmove(f->buf, f->buf + f->head, f->len);
		f->head = 0;
	}
	if (f->buf == NULL || f->head + f->len + n > f->cap) {
		cap = f->len + n > FLOW_BUF_SMALL ? f->len + n : FLOW_BUF_SMALL;
		if ((nb = realloc(f->buf, cap)) == NULL)
			return false;
		if (f->buf == NULL)
			f->head = f->len = 0;
		f->buf = nb;
		f->cap = cap;
	}
	memcpy(f->buf + f->head + f->len, p, n);
	f->len += n;
	return true;
}

static enum io
write_buffered(struct flow *f)
{
	size_t n;
	enum io io = IO_DONE;

	while (f->len > 0) {
		io = stream_write(f->dst, f->buf + f->head, f->len, &n);
		if (io != IO_DONE) {
			if (io != IO_ERROR)
				f->wwant = io;
			return io;
		}
		if (f->tap != NULL && f->tap->on_write != NULL)
			f->tap->on_write(f->tap, f->buf + f->head, n);
		f->head += n;
		f->len -= n;
		f->bytes += n;
		f->wwant = IO_WANT_WRITE;
		/* A sink that blocks is written once per readiness. */
		if (!f->dst_nonblocking)
			break;
	}
	if (f->len == 0) {
		f->head = 0;
		release_if_idle(f);
		/* Zero-copy goes on once the buffer is empty. */
		if (zc_on(f)) {
			buffer_free(f);
			f->zc_full = false;
		}
	}
	return io;
}

enum io
flow_shutdown(struct flow *f)
{
	enum io io = stream_shutdown_write(f->dst);

	if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
		f->wwant = io;
		return io;
	}
	/* A failed half-close loses nothing: every byte was sent. */
	f->done = true;
	f->shut_sent = true;
	return io;
}

/* --- Zero-copy (see flow.h). */

/* What a descriptor is, as far as zero-copy cares. */
enum kind { K_OTHER, K_SOCKET, K_PIPE, K_FILE, K_DEVICE, K_TERMINAL };

static const char *const kind_names[] = {
	"descriptor", "socket", "pipe", "file", "device", "terminal",
};

static const char *const path_names[] = {
	[FLOW_ZC_SPLICE] = "zero-copy: splice",
	[FLOW_ZC_SENDFILE] = "zero-copy: sendfile",
	[FLOW_ZC_PIPE] = "zero-copy: splice through a pipe",
};

#define SPLICE_FLAGS	(SPLICE_F_NONBLOCK | SPLICE_F_MOVE)

static void (*path_log)(const char *, ...);

void
flow_set_log(void (*log)(const char *, ...))
{
	path_log = log;
}

static enum kind
fd_kind(int fd)
{
	struct stat st;
	int type = 0;
	socklen_t len = sizeof(type);

	if (fd < 0 || fstat(fd, &st) == -1)
		return K_OTHER;
	if (S_ISSOCK(st.st_mode))
		return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    type == SOCK_STREAM ? K_SOCKET : K_OTHER;
	if (S_ISFIFO(st.st_mode))
		return K_PIPE;
	if (S_ISREG(st.st_mode))
		return K_FILE;
	if (S_ISCHR(st.st_mode))
		return isatty(fd) ? K_TERMINAL : K_DEVICE;
	return K_OTHER;
}

/*
 * Say which path the flow takes, with its ends ("pipe -> socket"; a layer
 * by its name) and why, when there is a why.
 */
static const char *
end_name(const struct stream *s, int fd, unsigned char kind)
{
	if (fd < 0)
		return s->ops->name;
	/* Only a TLS layer whose records the kernel does answers with one. */
	if (stream_fd_state(s) == NULL)
		return "kernel TLS socket";
	return kind_names[kind];
}

static void
log_path(const struct flow *f, const char *path, const char *why)
{
	const char *from = end_name(f->src, f->zc_src, f->zc_src_kind);
	const char *to = end_name(f->dst, f->zc_dst, f->zc_dst_kind);

	if (path_log == NULL)
		return;
	if (why != NULL)
		path_log("%s (%s -> %s): %s", path, from, to, why);
	else
		path_log("%s (%s -> %s)", path, from, to);
}

static bool
is_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl == -1 || !(fl & O_NONBLOCK);
}

/* Why the flow must read and write, or NULL when it need not. */
static const char *
zc_refusal(const struct flow *f)
{
	const char *env = getenv("TLSNC_NO_SPLICE");
	enum kind sk = f->zc_src_kind, dk = f->zc_dst_kind;

	if (env != NULL && *env != '\0' && strcmp(env, "0") != 0)
		return "TLSNC_NO_SPLICE is set";
	if (f->tap != NULL)
		return "a data option sees the bytes";
	if (f->record)
		return "datagrams";
	if (f->zc_src < 0 || f->zc_dst < 0)
		return "a layer sees the bytes";
	if (sk == K_TERMINAL || dk == K_TERMINAL)
		return "a terminal";
	if (sk != K_SOCKET && sk != K_PIPE && sk != K_FILE)
		return "the source is no socket, pipe or file";
	if (dk == K_OTHER)
		return "the sink is no socket, pipe, file or device";
	/* A shared socket left blocking could stop the whole loop. */
	if ((sk == K_SOCKET && is_blocking(f->zc_src)) ||
	    (dk == K_SOCKET && is_blocking(f->zc_dst)))
		return "a blocking socket";
	return NULL;
}

static void
grow_pipe(int fd, size_t size)
{
	int now = fcntl(fd, F_GETPIPE_SZ);

	if (now != -1 && (size_t)now < size)
		(void)fcntl(fd, F_SETPIPE_SZ, (int)size);
}

/*
 * Choose the path, once the first bytes have been read into the buffer.  A
 * source whose bytes can be counted where they are (the bare fd layer) is
 * moved straight to the sink when splice or sendfile allows it; any other
 * goes through a pipe of the flow's own.
 */
static void
zc_decide(struct flow *f)
{
	bool countable = stream_fd_state(f->src) != NULL;
	const char *why;

	f->zc = FLOW_ZC_OFF;
	f->zc_src = stream_raw_fd(f->src, IO_WANT_READ);
	f->zc_dst = stream_raw_fd(f->dst, IO_WANT_WRITE);
	f->zc_src_kind = (unsigned char)fd_kind(f->zc_src);
	f->zc_dst_kind = (unsigned char)fd_kind(f->zc_dst);
	/*
	 * A pipe's default 64 KiB means a wake-up on each side for every
	 * 64 KiB, on either path: let it hold a buffer's worth.  Only a pipe
	 * smaller than that grows, and a failure changes nothing.
	 */
	if (countable && f->zc_src_kind == K_PIPE)
		grow_pipe(f->zc_src, f->max);
	if (f->zc_dst_kind == K_PIPE && stream_fd_state(f->dst) != NULL)
		grow_pipe(f->zc_dst, f->max);
	if ((why = zc_refusal(f)) != NULL) {
		log_path(f, "read/write", why);
		return;
	}
	if (countable && (f->zc_src_kind == K_PIPE ||
	    f->zc_dst_kind == K_PIPE)) {
		f->zc = FLOW_ZC_SPLICE;
	} else if (countable && f->zc_src_kind == K_FILE &&
	    f->zc_dst_kind == K_SOCKET) {
		f->zc = FLOW_ZC_SENDFILE;
	} else if (pipe2(f->zc_pipe, O_NONBLOCK | O_CLOEXEC) == 0) {
		/* Room for a whole buffer; the default size works too. */
		(void)fcntl(f->zc_pipe[1], F_SETPIPE_SZ, (int)f->max);
		f->zc = FLOW_ZC_PIPE;
	} else {
		log_path(f, "read/write", strerror(errno));
		return;
	}
	/* The buffer's bytes go out first; then it is not needed. */
	if (f->len > 0)
		f->zc_full = true;
	else
		buffer_free(f);
	log_path(f, path_names[f->zc], NULL);
}

/* The bytes in the pipe, into the buffer.  Returns 0, or -1. */
static int
pipe_to_buffer(struct flow *f)
{
	size_t cap = f->len > f->max ? f->len : f->max, have = 0;
	char *buf;
	ssize_t n;

	if ((buf = malloc(cap)) == NULL)
		return -1;
	while (have < f->len) {
		n = read(f->zc_pipe[0], buf + have, f->len - have);
		if (n > 0)
			have += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else {
			free(buf);
			return -1;
		}
	}
	free(f->buf);
	f->buf = buf;
	f->cap = cap;
	f->head = 0;
	return 0;
}

/*
 * Leave zero-copy for the rest of the flow, after call failed with err (or
 * because a tap adds bytes, when call is NULL).  Bytes in the pipe move
 * into the buffer; bytes only counted at the source are uncounted, and
 * read(2) finds them there.  Returns 0, or -1 when memory is short: the
 * flow is then left as it was.
 */
static int
zc_abandon(struct flow *f, const char *call, int err)
{
	char why[128];

	if (call != NULL)
		snprintf(why, sizeof(why), "%s failed: %s", call,
		    err != 0 ? strerror(err) : "it moved nothing");
	else
		snprintf(why, sizeof(why), "bytes were added");
	return zc_leave(f, why);
}

/* Leave zero-copy, saying why: see zc_abandon(). */
static int
zc_leave(struct flow *f, const char *why)
{
	if (f->zc_held && f->zc == FLOW_ZC_PIPE && pipe_to_buffer(f) == -1)
		return -1;
	if (f->zc_held && f->zc != FLOW_ZC_PIPE) {
		f->taken -= f->len;
		f->len = 0;
	}
	zc_pipe_close(f);
	f->zc = FLOW_ZC_OFF;
	f->zc_held = f->zc_full = false;
	log_path(f, "read/write from here", why);
	return 0;
}

/*
 * How many bytes the source holds now, as a read would return them:
 * FIONREAD on a socket or pipe, what is left of a file.  -1 on failure.
 */
static int
source_avail(const struct flow *f, size_t *avail)
{
	struct stat st;
	off_t pos;
	int n;

	if (f->zc_src_kind == K_FILE) {
		if (fstat(f->zc_src, &st) == -1 ||
		    (pos = lseek(f->zc_src, 0, SEEK_CUR)) == -1)
			return -1;
		*avail = st.st_size > pos ? (size_t)(st.st_size - pos) : 0;
		return 0;
	}
	if (ioctl(f->zc_src, FIONREAD, &n) == -1)
		return -1;
	*avail = n > 0 ? (size_t)n : 0;
	return 0;
}

/*
 * FLOW_ZC_SPLICE and _SENDFILE: count what the source holds, up to max,
 * as buffered.  Nothing more is taken until a write has moved it all.  An
 * empty source is read the old way, which tells EOF from "not yet".
 */
static enum io
count_source(struct flow *f, size_t *got)
{
	size_t avail;

	*got = 0;
	if (source_avail(f, &avail) == -1) {
		if (zc_abandon(f, "FIONREAD", errno) == -1)
			return stream_fail(f->src, ST_RUNTIME, ENOMEM,
			    "out of memory");
		return read_buffered(f, got);
	}
	if (avail == 0 && f->len == 0)
		return read_buffered(f, got);
	if (avail > f->max)
		avail = f->max;
	if (avail > f->len) {
		*got = avail - f->len;
		f->taken += *got;
		f->len = avail;
		f->zc_held = true;
	}
	f->zc_full = true;
	f->rwant = IO_WANT_READ;
	return IO_DONE;
}

/*
 * FLOW_ZC_PIPE: splice from the source into the pipe.  "Would block" with
 * bytes in the pipe may mean the pipe is full: nothing more is taken until
 * a write has made room.  A socket gives all it holds to one splice(2); a
 * layer's socket (kernel TLS) gives one record, so it is asked again until
 * the pipe holds max or the socket has no more.
 */
static enum io
fill_pipe(struct flow *f, size_t *got)
{
	bool layered = stream_fd_state(f->src) == NULL;
	ssize_t n = 0;

	*got = 0;
	while (f->len < f->max) {
		do
			n = splice(f->zc_src, NULL, f->zc_pipe[1], NULL,
			    f->max - f->len, SPLICE_FLAGS);
		while (n == -1 && errno == EINTR);
		if (n <= 0)
			break;
		*got += (size_t)n;
		f->len += (size_t)n;
		f->taken += (size_t)n;
		f->zc_held = true;
		f->rwant = IO_WANT_READ;
		if (!layered)
			return IO_DONE;
	}
	/* What stopped the loop is met again by the next call. */
	if (*got > 0 || f->len >= f->max)
		return IO_DONE;
	/*
	 * A layer that lent its socket (kernel TLS) reads its own end: only
	 * it can tell close_notify from a truncation.  The same for a record
	 * that is not data (an alert, a TLS 1.3 ticket or key update), which
	 * splice(2) refuses (EINVAL) and leaves for the layer to read; any
	 * other failure falls back below.
	 */
	if (layered && (n == 0 || errno == EINVAL)) {
		if (zc_leave(f, n == 0 ? "the layer reads the end of its stream" :
		    "a record that is not data: the layer reads it") == -1)
			return stream_fail(f->src, ST_RUNTIME, ENOMEM,
			    "out of memory");
		return read_buffered(f, got);
	}
	if (n == 0) {
		f->src_eof = true;
		return IO_EOF;
	}
	if (errno == EAGAIN && f->len == 0) {
		f->rwant = IO_WANT_READ;
		return IO_WANT_READ;
	}
	if (errno == EAGAIN) {
		f->zc_full = true;
		return IO_DONE;
	}
	if (zc_abandon(f, "splice", errno) == -1)
		return stream_fail(f->src, ST_RUNTIME, ENOMEM, "out of memory");
	return read_buffered(f, got);
}

enum io
flow_read(struct flow *f, size_t *got)
{
	if (f->zc == FLOW_ZC_UNDECIDED && f->taken > 0)
		zc_decide(f);
	if (!zc_on(f))
		return read_buffered(f, got);
	if (!f->zc_held && f->len > 0) {
		/* The buffer's bytes go out first. */
		*got = 0;
		f->zc_full = true;
		return IO_DONE;
	}
	if (f->zc == FLOW_ZC_PIPE)
		return fill_pipe(f, got);
	return count_source(f, got);
}

/* One splice or sendfile of what is held, to the sink. */
static ssize_t
zc_move(const struct flow *f)
{
	switch (f->zc) {
	case FLOW_ZC_SENDFILE:
		return sendfile(f->zc_dst, f->zc_src, NULL, f->len);
	case FLOW_ZC_PIPE:
		return splice(f->zc_pipe[0], NULL, f->zc_dst, NULL, f->len,
		    SPLICE_FLAGS);
	default:
		return splice(f->zc_src, NULL, f->zc_dst, NULL, f->len,
		    SPLICE_FLAGS);
	}
}

/*
 * Straight from the source, "would block" or nothing moved may also mean
 * that the source holds less than was counted (another reader of a shared
 * stdin took some): count again.  True when what is left is really there.
 */
static bool
recount_source(struct flow *f)
{
	size_t avail;

	if (f->zc == FLOW_ZC_PIPE || source_avail(f, &avail) == -1)
		return true;
	if (avail >= f->len)
		return true;
	f->taken -= f->len - avail;
	f->len = avail;
	return false;
}

/*
 * Move what is held to the sink, until it is all out or the sink waits.
 * A failure leaves zero-copy; the bytes in the pipe are then written the
 * old way, which says what the failure was.
 */
static enum io
write_held(struct flow *f)
{
	ssize_t n;
	int err;

	while (f->len > 0) {
		if ((n = zc_move(f)) > 0) {
			f->len -= (size_t)n;
			f->bytes += (uint64_t)n;
			f->wwant = IO_WANT_WRITE;
			if (f->zc == FLOW_ZC_PIPE)
				f->zc_full = false;
			continue;
		}
		err = n == 0 ? 0 : errno;
		if (err == EINTR)
			continue;
		if (err == EAGAIN && recount_source(f)) {
			f->wwant = IO_WANT_WRITE;
			return IO_WANT_WRITE;
		}
		if (err == EAGAIN || (err == 0 && !recount_source(f)))
			continue;
		if (zc_abandon(f, f->zc == FLOW_ZC_SENDFILE ? "sendfile" :
		    "splice", err) == -1)
			return stream_fail(f->dst, ST_RUNTIME, ENOMEM,
			    "out of memory");
		return write_buffered(f);
	}
	f->zc_held = f->zc_full = false;
	return IO_DONE;
}

enum io
flow_write(struct flow *f)
{
	if (f->zc_held)
		return write_held(f);
	return write_buffered(f);
}
