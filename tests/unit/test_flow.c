/*
 * Unit tests for flows (src/flow.c): one direction of bytes through a lazy
 * buffer.
 *
 * Real descriptors (socketpairs and pipes) show the buffer's life: none
 * while idle, small at first, grown when a read fills it, released when
 * the source ran dry and everything was written, never above the flow's
 * maximum.  A scripted fake stream makes the edge cases deterministic:
 * wants, partial writes, errors, and bytes held inside a layer.  Zero-copy
 * runs between pipes, sockets, files and a terminal, against a sink read
 * slowly, and falls back when it must.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "cases.h"
#include "failmalloc.h"
#include "flow.h"
#include "stream.h"
#include "tap.h"

#define WATCHDOG_SECS	60
#define FAKE_STEPS	8
#define FAKE_SINK_MAX	(1024 * 1024)

/* Byte i of every stream the tests send: a sequence that never repeats. */
static unsigned char
seq_byte(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 8) * 13 + (i >> 16));
}

static void
assert_seq(const unsigned char *buf, size_t len, size_t from)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != seq_byte(from + i))
			fail_msg("byte %zu: %#x, want %#x", from + i, buf[i],
			    seq_byte(from + i));
}

/* --- The fake stream. */

/* One scripted result: n bytes at most for IO_DONE, and pending after. */
struct fake_step {
	enum io		 io;
	size_t		 n;
	size_t		 pending;
};

/*
 * A stream that answers from scripts: reads produce the sequence, writes
 * keep what they are given.  A finished script wants I/O for ever.
 */
struct fake {
	struct fake_step steps[FAKE_STEPS];	/* reads or writes */
	size_t		 nsteps, pos;
	enum io		 shuts[FAKE_STEPS];	/* shutdown_write results */
	size_t		 nshuts, shutpos;
	bool		 nonblocking;
	size_t		 pending;		/* what the pending slot says */
	size_t		 next;			/* sequence position read */
	unsigned char	*sink;			/* what was written */
	size_t		 sinklen;
	size_t		 lens[FAKE_STEPS];	/* len offered to each call */
	size_t		 calls;
	bool		 zero_len;		/* a call offered no room */
};

static enum io
fake_next(struct stream *s, size_t len, size_t *n)
{
	struct fake *f = s->ctx;
	const struct fake_step *st;

	if (f->calls < FAKE_STEPS)
		f->lens[f->calls] = len;
	f->calls++;
	if (len == 0)
		f->zero_len = true;
	*n = 0;
	if (f->pos == f->nsteps)
		return f->sink != NULL ? IO_WANT_WRITE : IO_WANT_READ;
	st = &f->steps[f->pos++];
	f->pending = st->pending;
	if (st->io == IO_ERROR)
		return stream_fail(s, ST_RUNTIME, EIO, "fake %s",
		    f->sink != NULL ? "write" : "read");
	if (st->io == IO_DONE)
		*n = st->n < len ? st->n : len;
	return st->io;
}

static enum io
fake_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	struct fake *f = s->ctx;
	unsigned char *p = buf;
	enum io io = fake_next(s, len, n);
	size_t i;

	for (i = 0; i < *n; i++)
		p[i] = seq_byte(f->next++);
	return io;
}

static enum io
fake_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	struct fake *f = s->ctx;
	enum io io = fake_next(s, len, n);

	assert_true(f->sinklen + *n <= FAKE_SINK_MAX);
	memcpy(f->sink + f->sinklen, buf, *n);
	f->sinklen += *n;
	return io;
}

static enum io
fake_shutdown_write(struct stream *s)
{
	struct fake *f = s->ctx;

	if (f->shutpos == f->nshuts)
		return IO_DONE;
	if (f->shuts[f->shutpos] == IO_ERROR) {
		f->shutpos++;
		return stream_fail(s, ST_RUNTIME, EPIPE, "fake shutdown");
	}
	return f->shuts[f->shutpos++];
}

static size_t
fake_pending(const struct stream *s)
{
	const struct fake *f = s->ctx;

	return f->pending;
}

static int
fake_query(const struct stream *s, enum stream_query q, void *out)
{
	const struct fake *f = s->ctx;

	if (q != STREAM_Q_NONBLOCKING)
		return -1;
	*(bool *)out = f->nonblocking;
	return 0;
}

static const struct stream_ops fake_ops = {
	.name = "fake",
	.read = fake_read,
	.write = fake_write,
	.shutdown_write = fake_shutdown_write,
	.pending = fake_pending,
	.query = fake_query,
};

/* --- The fixture: a flow from a source to a sink, and the test's ends. */

struct flow_fx {
	struct flow	 f;
	struct stream	*src;
	struct stream	*dst;
	int		 src_peer;	/* the test writes the source here */
	int		 dst_peer;	/* and reads the sink here; -1: fakes */
	struct fake	 fsrc;
	struct fake	 fdst;
	size_t		 sent;		/* sequence bytes given to src_peer */
	size_t		 received;	/* sequence bytes read from dst_peer */
	const void	*param;		/* the table case */
};

static int
setup(void **state)
{
	struct flow_fx *fx = calloc(1, sizeof(*fx));

	/* The buffer's tests keep zero-copy off; its own tests turn it on. */
	setenv("TLSNC_NO_SPLICE", "1", 1);

	assert_non_null(fx);
	fx->param = *state;
	fx->src_peer = fx->dst_peer = -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct flow_fx *fx = *state;

	flow_release(&fx->f);
	stream_close(fx->src);
	stream_close(fx->dst);
	if (fx->src_peer >= 0)
		close(fx->src_peer);
	if (fx->dst_peer >= 0)
		close(fx->dst_peer);
	free(fx->fdst.sink);
	free(fx);
	return 0;
}

static void
set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl != -1);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/*
 * A flow between real descriptors: socketpairs (non-blocking streams on
 * both sides), or pipes, which the fd stream leaves blocking and writes one
 * block per readiness.
 */
static void
fx_real(struct flow_fx *fx, bool pipes, size_t max)
{
	int a[2], b[2];

	if (pipes) {
		assert_int_equal(pipe2(a, O_CLOEXEC), 0);
		assert_int_equal(pipe2(b, O_CLOEXEC), 0);
		fx->src = stream_fd_new(a[0], -1, STREAM_OWN_FDS);
		fx->src_peer = a[1];
		fx->dst = stream_fd_new(-1, b[1], STREAM_OWN_FDS);
		fx->dst_peer = b[0];
	} else {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0, a), 0);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0, b), 0);
		fx->src = stream_fd_new(a[1], a[1], STREAM_OWN_FDS);
		fx->src_peer = a[0];
		fx->dst = stream_fd_new(b[0], b[0], STREAM_OWN_FDS);
		fx->dst_peer = b[1];
	}
	assert_non_null(fx->src);
	assert_non_null(fx->dst);
	set_nonblocking(fx->src_peer);
	set_nonblocking(fx->dst_peer);
	flow_init(&fx->f, fx->src, fx->dst, max);
	assert_int_equal(fx->f.dst_nonblocking, !pipes);
}

/* A flow between two fake streams. */
static void
fx_fake(struct flow_fx *fx, bool nonblocking_sink, size_t max)
{
	fx->fdst.nonblocking = nonblocking_sink;
	fx->fdst.sink = malloc(FAKE_SINK_MAX);
	assert_non_null(fx->fdst.sink);
	fx->src = stream_layer_new(&fake_ops, &fx->fsrc, NULL);
	fx->dst = stream_layer_new(&fake_ops, &fx->fdst, NULL);
	assert_non_null(fx->src);
	assert_non_null(fx->dst);
	flow_init(&fx->f, fx->src, fx->dst, max);
	assert_int_equal(fx->f.dst_nonblocking, nonblocking_sink);
}

static void
script(struct fake *f, const struct fake_step *steps, size_t n)
{
	assert_true(n <= FAKE_STEPS);
	memcpy(f->steps, steps, n * sizeof(*steps));
	f->nsteps = n;
	f->pos = 0;
}

/* Give the source up to len more bytes of the sequence; returns how many. */
static size_t
send_seq(struct flow_fx *fx, size_t len)
{
	unsigned char buf[65536];
	size_t i, chunk, total = 0;
	ssize_t r;

	while (total < len) {
		chunk = len - total < sizeof(buf) ? len - total : sizeof(buf);
		for (i = 0; i < chunk; i++)
			buf[i] = seq_byte(fx->sent + i);
		r = write(fx->src_peer, buf, chunk);
		if (r == -1 && errno == EAGAIN)
			break;
		assert_true(r > 0);
		fx->sent += (size_t)r;
		total += (size_t)r;
	}
	return total;
}

/*
 * Read what the sink's peer has, up to EOF or until it would wait, and
 * check it against the sequence.
 */
static size_t
drain_sink(struct flow_fx *fx)
{
	unsigned char buf[65536];
	size_t total = 0;
	ssize_t r;

	while ((r = read(fx->dst_peer, buf, sizeof(buf))) > 0) {
		assert_seq(buf, (size_t)r, fx->received);
		fx->received += (size_t)r;
		total += (size_t)r;
	}
	if (r == -1 && errno != EAGAIN)
		fail_msg("read: %s", strerror(errno));
	return total;
}

static void
assert_no_buffer(const struct flow *f)
{
	assert_null(f->buf);
	assert_int_equal(f->cap, 0);
	assert_int_equal(f->len, 0);
}

/* --- Real descriptors. */

/* No buffer while idle; a small one for a little data; none after. */
static void
buffer_is_lazy(void **state)
{
	struct flow_fx *fx = *state;
	size_t got = 99;

	fx_real(fx, false, 0);
	assert_int_equal(fx->f.max, FLOW_BUF_MAX);
	assert_no_buffer(&fx->f);
	assert_true(flow_can_read(&fx->f));
	assert_false(flow_wants_sink(&fx->f));

	/* Nothing to read: still no buffer. */
	assert_int_equal(flow_read(&fx->f, &got), IO_WANT_READ);
	assert_int_equal(got, 0);
	assert_int_equal(fx->f.rwant, IO_WANT_READ);
	assert_no_buffer(&fx->f);

	assert_int_equal(send_seq(fx, 100), 100);
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, 100);
	assert_non_null(fx->f.buf);
	assert_int_equal(fx->f.cap, FLOW_BUF_SMALL);
	assert_int_equal(fx->f.len, 100);
	assert_true(flow_wants_sink(&fx->f));

	/* Everything written and the source ran dry: released. */
	assert_int_equal(flow_write(&fx->f), IO_DONE);
	assert_int_equal(fx->f.bytes, 100);
	assert_no_buffer(&fx->f);
	assert_false(flow_wants_sink(&fx->f));
	assert_int_equal(drain_sink(fx), 100);
}

/*
 * A read that fills the small buffer grows it to the maximum on the next
 * read.  A flow that was busy starts its next buffer at the maximum; one
 * that was not starts small again.
 */
static void
buffer_follows_load(void **state)
{
	struct flow_fx *fx = *state;
	size_t got;

	fx_real(fx, false, 0);
	assert_int_equal(send_seq(fx, 3 * FLOW_BUF_SMALL), 3 * FLOW_BUF_SMALL);
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, FLOW_BUF_SMALL);
	assert_int_equal(fx->f.cap, FLOW_BUF_SMALL);
	assert_true(flow_can_read(&fx->f));

	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, 2 * FLOW_BUF_SMALL);
	assert_int_equal(fx->f.cap, FLOW_BUF_MAX);
	assert_int_equal(fx->f.len, 3 * FLOW_BUF_SMALL);

	assert_int_equal(flow_write(&fx->f), IO_DONE);
	assert_int_equal(fx->f.bytes, 3 * FLOW_BUF_SMALL);
	/* Busy: the large buffer is kept for the next read. */
	assert_non_null(fx->f.buf);
	assert_int_equal(fx->f.cap, FLOW_BUF_MAX);
	assert_int_equal(fx->f.len, 0);
	assert_int_equal(drain_sink(fx), 3 * FLOW_BUF_SMALL);

	/* Busy lately: the next read still goes into a large one. */
	assert_int_equal(send_seq(fx, 100), 100);
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(fx->f.cap, FLOW_BUF_MAX);
	assert_int_equal(flow_write(&fx->f), IO_DONE);
	assert_no_buffer(&fx->f);

	/* A small read cooled it down: small again. */
	assert_int_equal(send_seq(fx, 100), 100);
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(fx->f.cap, FLOW_BUF_SMALL);
	assert_int_equal(flow_write(&fx->f), IO_DONE);
	assert_no_buffer(&fx->f);
	assert_int_equal(drain_sink(fx), 200);
	assert_int_equal(fx->f.bytes, 3 * FLOW_BUF_SMALL + 200);
}

/* Allocation failure: see failmalloc.h. */

/*
 * A flow that cannot get its first buffer fails the read, naming the
 * cause, rather than report success and be woken by the same readable
 * source for ever.  The bytes stay in the source.
 */
static void
no_memory_fails(void **state)
{
	struct flow_fx *fx = *state;
	size_t got = 99;
	enum io io;

	fx_real(fx, false, 0);
	assert_int_equal(send_seq(fx, 100), 100);
	malloc_fails = true;
	io = flow_read(&fx->f, &got);
	malloc_fails = false;
	assert_int_equal(io, IO_ERROR);
	assert_int_equal(got, 0);
	assert_no_buffer(&fx->f);
	assert_non_null(strstr(fx->f.src->err.msg, "memory"));
	assert_int_equal(fx->f.src->err.status, ST_RUNTIME);
	assert_int_equal(fx->f.taken, 0);
}

/*
 * The buffer never holds more than the flow's maximum, and a full flow
 * does not want its source.  Afterwards everything comes out in order.
 */
struct max_case {
	const char	*name;
	size_t		 max;		/* given to flow_init */
	size_t		 first_cap;	/* the first buffer */
	size_t		 full;		/* the most it holds */
};

static const struct max_case max_cases[] = {
	{ "max_below_small", 1000, 1000, 1000 },
	{ "max_above_small", 40000, FLOW_BUF_SMALL, 40000 },
	{ "max_default", 0, FLOW_BUF_SMALL, FLOW_BUF_MAX },
};

/* --- Taps. */

/* A tap that writes every byte twice, and counts what it sees. */
struct twice {
	struct flow_tap	 tap;
	unsigned char	 scratch[64];
	size_t		 seen_read;
	size_t		 seen_written;
};

static void
twice_on_read(struct flow_tap *t, const void *p, size_t n)
{
	struct twice *tw = (struct twice *)(void *)t;

	assert_seq(p, n, tw->seen_read);
	tw->seen_read += n;
}

static void
twice_on_write(struct flow_tap *t, const void *p, size_t n)
{
	struct twice *tw = (struct twice *)(void *)t;

	(void)p;
	tw->seen_written += n;
}

static size_t
twice_transform(struct flow_tap *t, const void *in, size_t n, void *out)
{
	const unsigned char *p = in;
	unsigned char *q = out;
	size_t i;

	assert_true(n <= t->chunk);
	for (i = 0; i < n; i++)
		q[2 * i] = q[2 * i + 1] = p[i];
	return 2 * n;
}

/*
 * A transform that doubles: the buffer never passes its maximum, every
 * byte arrives twice and in order, and the observers see the bytes before
 * and after.
 */
static void
tap_transform_grows(void **state)
{
	struct flow_fx *fx = *state;
	struct twice tw = {
		.tap = { .on_read = twice_on_read, .on_write = twice_on_write,
		    .transform = twice_transform, .grow = 2, .chunk = 64 },
	};
	unsigned char buf[4096];
	size_t got, total = 0, want = 3001, i;
	ssize_t r;
	int rounds = 0;

	tw.tap.scratch = tw.scratch;
	fx_real(fx, false, 101);
	assert_false(flow_needs_bytes(&fx->f));
	fx->f.tap = &tw.tap;
	assert_true(flow_needs_bytes(&fx->f));
	assert_int_equal(send_seq(fx, want), want);
	while (total < 2 * want && rounds++ < 10000) {
		(void)flow_read(&fx->f, &got);
		assert_true(fx->f.len <= fx->f.max);
		(void)flow_write(&fx->f);
		while ((r = read(fx->dst_peer, buf, sizeof(buf))) > 0) {
			for (i = 0; i < (size_t)r; i++)
				assert_int_equal(buf[i],
				    seq_byte((total + i) / 2));
			total += (size_t)r;
		}
	}
	assert_int_equal(total, 2 * want);
	assert_int_equal(tw.seen_read, want);
	assert_int_equal(tw.seen_written, 2 * want);
	assert_int_equal(fx->f.taken, want);
	assert_int_equal(fx->f.bytes, 2 * want);
}

/* A tap with rest_ms: no reading until the rest is over. */
static void
tap_rests(void **state)
{
	struct flow_fx *fx = *state;
	struct flow_tap tap = { .grow = 1, .rest_ms = 60000 };
	size_t got;

	fx_real(fx, false, 0);
	fx->f.tap = &tap;
	send_seq(fx, 100);
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, 100);
	assert_true(fx->f.rest_until > 0);
	assert_false(flow_can_read(&fx->f));
	assert_false(flow_rest_over(&fx->f, fx->f.rest_until - 1));
	assert_false(flow_can_read(&fx->f));
	assert_true(flow_rest_over(&fx->f, fx->f.rest_until));
	assert_true(flow_can_read(&fx->f));
	assert_false(flow_rest_over(&fx->f, INT64_MAX));
}

/* Injected bytes go out after what was buffered, and never after the end. */
static void
inject_follows_buffer(void **state)
{
	struct flow_fx *fx = *state;
	unsigned char buf[256];
	size_t got;
	ssize_t r;

	fx_real(fx, false, 0);
	assert_true(flow_inject(&fx->f, "AB", 2));
	send_seq(fx, 10);
	(void)flow_read(&fx->f, &got);
	assert_true(flow_inject(&fx->f, "XYZ", 3));
	assert_int_equal(fx->f.len, 15);
	(void)flow_write(&fx->f);
	r = read(fx->dst_peer, buf, sizeof(buf));
	assert_int_equal(r, 15);
	assert_memory_equal(buf, "AB", 2);
	assert_seq(buf + 2, 10, 0);
	assert_memory_equal(buf + 12, "XYZ", 3);
	fx->f.done = true;
	assert_false(flow_inject(&fx->f, "Q", 1));
}

/*
 * The session's taps (tap.c) on two flows: -t answers on the other flow
 * and keeps the data; --send-only keeps nothing; a finished flow gets no
 * answers.
 */
static void
taps_telnet_and_discard(void **state)
{
	struct flow_fx *fx = *state;
	struct flow back;	/* to the peer, for the answers */
	struct stream *bdst;
	struct tap_opts o = { .telnet = true };
	struct taps *tp;
	struct error e;
	unsigned char buf[64];
	int b[2];
	size_t got;

	fx_real(fx, false, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b),
	    0);
	set_nonblocking(b[1]);
	bdst = stream_fd_new(b[0], b[0], STREAM_OWN_FDS);
	assert_non_null(bdst);
	flow_init(&back, NULL, bdst, 0);
	tp = taps_new(&o, &back, &fx->f, &e);
	assert_non_null(tp);
	assert_true(flow_needs_bytes(&fx->f));
	assert_false(flow_needs_bytes(&back));
	assert_int_equal(write(fx->src_peer, "\xff\xfd\x01hi\xff\xfb\x03", 8),
	    8);
	(void)flow_read(&fx->f, &got);
	assert_int_equal(got, 2);
	assert_memory_equal(fx->f.buf + fx->f.head, "hi", 2);
	assert_int_equal(back.len, 6);
	(void)flow_write(&back);
	assert_int_equal(read(b[1], buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "\xff\xfc\x01\xff\xfe\x03", 6);
	/* Once "back" is finished, answers are dropped. */
	back.done = true;
	assert_int_equal(write(fx->src_peer, "\xff\xfd\x02", 3), 3);
	(void)flow_read(&fx->f, &got);
	assert_int_equal(back.len, 0);
	taps_free(tp);
	fx->f.tap = NULL;
	flow_release(&fx->f);

	/* --send-only: read, and nothing kept. */
	o.telnet = false;
	o.discard_in = true;
	tp = taps_new(&o, &back, &fx->f, &e);
	assert_non_null(tp);
	assert_int_equal(write(fx->src_peer, "dropped", 7), 7);
	(void)flow_read(&fx->f, &got);
	assert_int_equal(got, 0);
	assert_int_equal(fx->f.len, 0);
	assert_int_equal(fx->f.taken, 7 + 8 + 3);
	taps_free(tp);
	fx->f.tap = NULL;
	flow_release(&back);
	stream_close(bdst);
	close(b[1]);
}

static void
max_is_respected(void **state)
{
	struct flow_fx *fx = *state;
	const struct max_case *c = fx->param;
	size_t got, before;
	int rounds = 0;

	fx_real(fx, false, c->max);
	for (;;) {
		send_seq(fx, c->full + 10000 - fx->sent);
		before = fx->f.len;
		assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
		assert_int_equal(fx->f.len, before + got);
		if (rounds++ == 0)
			assert_int_equal(fx->f.cap, c->first_cap);
		if (fx->f.len > c->full)
			fail_msg("holds %zu bytes, the maximum is %zu",
			    fx->f.len, c->full);
		if (!flow_can_read(&fx->f))
			break;
		assert_true(rounds < 1000);
	}
	assert_int_equal(fx->f.len, c->full);
	assert_int_equal(fx->f.cap, c->full);
	/* Full: a read takes nothing. */
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, 0);
	assert_int_equal(fx->f.len, c->full);

	/* Written out, with room again, and the rest follows in order. */
	while (fx->received < c->full + 10000) {
		send_seq(fx, c->full + 10000 - fx->sent);
		assert_int_not_equal(flow_write(&fx->f), IO_ERROR);
		drain_sink(fx);
		if (flow_can_read(&fx->f))
			assert_int_not_equal(flow_read(&fx->f, &got),
			    IO_ERROR);
		assert_true(fx->f.len <= c->full);
		assert_true(rounds++ < 100000);
	}
	assert_int_equal(fx->f.bytes, fx->sent);
	assert_int_equal(fx->received, c->full + 10000);
}

/*
 * EOF from the source, then the half-close of the sink: the sink's peer
 * reads everything, then EOF.  Over a socket, the other direction stays
 * open.
 */
struct eof_case {
	const char	*name;
	bool		 pipes;
};

static const struct eof_case eof_cases[] = {
	{ "eof_and_shutdown_sockets", false },
	{ "eof_and_shutdown_pipes", true },
};

static void
eof_and_shutdown(void **state)
{
	struct flow_fx *fx = *state;
	const struct eof_case *c = fx->param;
	unsigned char back;
	size_t got;

	fx_real(fx, c->pipes, 0);
	assert_int_equal(send_seq(fx, 10), 10);
	assert_int_equal(close(fx->src_peer), 0);
	fx->src_peer = -1;

	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, 10);
	assert_false(fx->f.src_eof);
	assert_int_equal(flow_read(&fx->f, &got), IO_EOF);
	assert_int_equal(got, 0);
	assert_true(fx->f.src_eof);
	assert_false(flow_can_read(&fx->f));
	assert_true(flow_wants_sink(&fx->f));
	assert_int_equal(fx->f.len, 10);

	assert_int_equal(flow_write(&fx->f), IO_DONE);
	assert_int_equal(fx->f.bytes, 10);
	assert_no_buffer(&fx->f);
	assert_true(flow_wants_sink(&fx->f));	/* the half-close */
	assert_false(fx->f.done);

	assert_int_equal(flow_shutdown(&fx->f), IO_DONE);
	assert_true(fx->f.done);
	assert_true(fx->f.shut_sent);
	assert_false(flow_wants_sink(&fx->f));

	assert_int_equal(drain_sink(fx), 10);
	assert_int_equal(read(fx->dst_peer, &back, 1), 0);
	if (!c->pipes) {
		/* Half-closed only: the peer can still answer. */
		assert_int_equal(write(fx->dst_peer, "y", 1), 1);
		assert_int_equal(stream_read(fx->dst, &back, 1, &got),
		    IO_DONE);
		assert_int_equal(got, 1);
		assert_int_equal(back, 'y');
	}
}

/* --- Scripted streams. */

#define DONE(n)		{ IO_DONE, (n), 0 }
#define DONE_P(n, p)	{ IO_DONE, (n), (p) }
#define WANT_R		{ IO_WANT_READ, 0, 0 }
#define WANT_W		{ IO_WANT_WRITE, 0, 0 }
#define FAIL		{ IO_ERROR, 0, 0 }
#define END		{ IO_EOF, 0, 0 }

/*
 * One flow_read over a scripted source, and the state it leaves.  A read
 * that leaves nothing buffered and the source dry leaves no buffer.
 */
struct read_case {
	const char	*name;
	struct fake_step src[4];
	size_t		 nsrc;
	enum io		 io;		/* flow_read's answer */
	size_t		 got;
	size_t		 calls;		/* reads it made */
	enum io		 rwant;		/* IO_ERROR: not checked */
	bool		 src_eof;
	bool		 has_buf;
};

static const struct read_case read_cases[] = {
	{ "read_wants_read", { WANT_R }, 1,
	    IO_WANT_READ, 0, 1, IO_WANT_READ, false, false },
	{ "read_wants_write", { WANT_W }, 1,
	    IO_WANT_WRITE, 0, 1, IO_WANT_WRITE, false, false },
	{ "read_error", { FAIL }, 1,
	    IO_ERROR, 0, 1, IO_ERROR, false, false },
	{ "read_eof", { END }, 1,
	    IO_EOF, 0, 1, IO_WANT_READ, true, false },
	{ "read_once_without_pending", { DONE(10), DONE(5) }, 2,
	    IO_DONE, 10, 1, IO_WANT_READ, false, true },
	{ "read_on_while_pending", { DONE_P(10, 5), DONE_P(5, 2), DONE(7),
	    DONE(1) }, 4,
	    IO_DONE, 22, 3, IO_WANT_READ, false, true },
	{ "read_pending_then_want", { DONE_P(10, 5), WANT_R }, 2,
	    IO_WANT_READ, 10, 2, IO_WANT_READ, false, true },
	{ "read_pending_then_eof", { DONE_P(10, 1), END }, 2,
	    IO_EOF, 10, 2, IO_WANT_READ, true, true },
	{ "read_pending_then_error", { DONE_P(10, 1), FAIL }, 2,
	    IO_ERROR, 10, 2, IO_ERROR, false, true },
};

static void
read_table(void **state)
{
	struct flow_fx *fx = *state;
	const struct read_case *c = fx->param;
	size_t got;

	fx_fake(fx, true, 0);
	script(&fx->fsrc, c->src, c->nsrc);
	assert_int_equal(flow_read(&fx->f, &got), c->io);
	assert_int_equal(got, c->got);
	assert_int_equal(fx->fsrc.calls, c->calls);
	assert_false(fx->fsrc.zero_len);
	if (c->rwant != IO_ERROR)
		assert_int_equal(fx->f.rwant, c->rwant);
	assert_int_equal(fx->f.src_eof, c->src_eof);
	assert_int_equal(fx->f.len, c->got);
	if (c->has_buf) {
		assert_non_null(fx->f.buf);
		assert_seq((unsigned char *)fx->f.buf + fx->f.head, fx->f.len,
		    0);
	} else {
		assert_no_buffer(&fx->f);
	}
	if (c->io == IO_ERROR)
		assert_string_equal(fx->src->err.msg,
		    "fake read: Input/output error");
}

/* A layer that holds bytes makes the flow read again without waiting. */
static void
hidden_bytes_are_seen(void **state)
{
	struct flow_fx *fx = *state;
	static const struct fake_step src[] = { WANT_R, END };
	size_t got;

	fx_fake(fx, true, 0);
	script(&fx->fsrc, src, NELEM(src));
	assert_int_equal(flow_read(&fx->f, &got), IO_WANT_READ);
	assert_false(flow_has_hidden(&fx->f));
	fx->fsrc.pending = 3;
	assert_true(flow_has_hidden(&fx->f));
	assert_int_equal(flow_read(&fx->f, &got), IO_EOF);
	/* At EOF nothing more is read, hidden or not. */
	fx->fsrc.pending = 3;
	assert_false(flow_has_hidden(&fx->f));
}

/*
 * flow_write over a scripted sink, after one read of 20 bytes: the answer
 * of each call, and the bytes written so far.
 */
struct write_call {
	enum io		 io;
	uint64_t	 bytes;		/* the counter after the call */
	enum io		 wwant;
	bool		 released;
};

struct write_case {
	const char	*name;
	bool		 nonblocking;
	struct fake_step sink[5];
	size_t		 nsink;
	struct write_call calls[4];
	size_t		 ncalls;
	size_t		 lens[6];	/* offered to the sink, 0-terminated */
};

static const struct write_case write_cases[] = {
	{ "write_all_at_once", true, { DONE(100) }, 1,
	    { { IO_DONE, 20, IO_WANT_WRITE, true } }, 1,
	    { 20, 0 } },
	{ "write_partial_then_want", true,
	    { DONE(3), DONE(5), WANT_W, DONE(100) }, 4,
	    { { IO_WANT_WRITE, 8, IO_WANT_WRITE, false },
	      { IO_DONE, 20, IO_WANT_WRITE, true } }, 2,
	    { 20, 17, 12, 12, 0 } },
	{ "write_blocking_sink_once_per_call", false,
	    { DONE(3), DONE(5), DONE(100) }, 3,
	    { { IO_DONE, 3, IO_WANT_WRITE, false },
	      { IO_DONE, 8, IO_WANT_WRITE, false },
	      { IO_DONE, 20, IO_WANT_WRITE, true } }, 3,
	    { 20, 17, 12, 0 } },
	{ "write_wants_read", true, { DONE(4), WANT_R, DONE(100) }, 3,
	    { { IO_WANT_READ, 4, IO_WANT_READ, false },
	      { IO_DONE, 20, IO_WANT_WRITE, true } }, 2,
	    { 20, 16, 16, 0 } },
	{ "write_error_keeps_the_rest", true, { DONE(4), FAIL }, 2,
	    { { IO_ERROR, 4, IO_WANT_WRITE, false } }, 1,
	    { 20, 16, 0 } },
};

static void
write_table(void **state)
{
	struct flow_fx *fx = *state;
	const struct write_case *c = fx->param;
	static const struct fake_step src[] = { DONE(20) };
	size_t got, i;

	fx_fake(fx, c->nonblocking, 0);
	script(&fx->fsrc, src, NELEM(src));
	script(&fx->fdst, c->sink, c->nsink);
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, 20);
	for (i = 0; i < c->ncalls; i++) {
		assert_int_equal(flow_write(&fx->f), c->calls[i].io);
		assert_int_equal(fx->f.bytes, c->calls[i].bytes);
		assert_int_equal(fx->f.wwant, c->calls[i].wwant);
		assert_int_equal(fx->fdst.sinklen, c->calls[i].bytes);
		if (c->calls[i].released) {
			assert_no_buffer(&fx->f);
		} else {
			assert_non_null(fx->f.buf);
			assert_int_equal(fx->f.len, 20 - c->calls[i].bytes);
		}
	}
	for (i = 0; c->lens[i] != 0; i++)
		assert_int_equal(fx->fdst.lens[i], c->lens[i]);
	assert_int_equal(fx->fdst.calls, i);
	assert_seq(fx->fdst.sink, fx->fdst.sinklen, 0);
	if (c->calls[c->ncalls - 1].io == IO_ERROR)
		assert_string_equal(fx->dst->err.msg,
		    "fake write: Input/output error");
}

/*
 * Everything written, but the last read filled the buffer: the source may
 * have more, so the buffer stays until a read finds it dry.
 */
static void
kept_until_source_dry(void **state)
{
	struct flow_fx *fx = *state;
	static const struct fake_step src[] = { DONE(FLOW_BUF_SMALL) };
	static const struct fake_step sink[] = { DONE(FLOW_BUF_SMALL) };
	size_t got;

	fx_fake(fx, true, 0);
	script(&fx->fsrc, src, NELEM(src));
	script(&fx->fdst, sink, NELEM(sink));
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, FLOW_BUF_SMALL);
	assert_int_equal(flow_write(&fx->f), IO_DONE);
	assert_int_equal(fx->f.len, 0);
	assert_non_null(fx->f.buf);
	assert_int_equal(fx->f.cap, FLOW_BUF_SMALL);

	assert_int_equal(flow_read(&fx->f, &got), IO_WANT_READ);
	assert_no_buffer(&fx->f);
}

/*
 * Held bytes keep one flow_read going: it grows the buffer once the small
 * one is full, offers exactly the room left, and stops at the maximum.
 * A partial write then makes room at the front, and the bytes still come
 * out in order.
 */
static void
grows_and_stops_at_max(void **state)
{
	struct flow_fx *fx = *state;
	static const struct fake_step src[] = {
		DONE_P(FLOW_BUF_SMALL, 1), DONE_P(100000, 1),
		DONE_P(100000, 1), DONE(100000),
	};
	static const struct fake_step sink[] = {
		DONE(10000), WANT_W, DONE(100000), DONE(100000),
	};
	const size_t max = 40000;
	size_t got;

	fx_fake(fx, true, max);
	script(&fx->fsrc, src, NELEM(src));
	script(&fx->fdst, sink, NELEM(sink));
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, max);
	assert_int_equal(fx->fsrc.calls, 2);
	assert_int_equal(fx->fsrc.lens[0], FLOW_BUF_SMALL);
	assert_int_equal(fx->fsrc.lens[1], max - FLOW_BUF_SMALL);
	assert_int_equal(fx->f.cap, max);
	assert_int_equal(fx->f.len, max);
	assert_false(flow_can_read(&fx->f));

	/* Full: no read is even tried. */
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, 0);
	assert_int_equal(fx->fsrc.calls, 2);

	assert_int_equal(flow_write(&fx->f), IO_WANT_WRITE);
	assert_int_equal(fx->f.bytes, 10000);
	assert_true(flow_can_read(&fx->f));
	/* The room is at the front: the buffer is compacted. */
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(got, 10000);
	assert_int_equal(fx->fsrc.lens[2], 10000);
	assert_int_equal(fx->f.len, max);
	assert_int_equal(fx->f.cap, max);

	assert_int_equal(flow_write(&fx->f), IO_DONE);
	assert_int_equal(fx->f.bytes, max + 10000);
	assert_int_equal(fx->fdst.sinklen, max + 10000);
	assert_seq(fx->fdst.sink, fx->fdst.sinklen, 0);
	assert_false(fx->fsrc.zero_len);
}

/* The half-close may want I/O, and is retried until it is out. */
struct shut_case {
	const char	*name;
	enum io		 shuts[3];
	size_t		 nshuts;
};

static const struct shut_case shut_cases[] = {
	{ "shutdown_done", { IO_DONE }, 1 },
	{ "shutdown_wants_then_done", { IO_WANT_WRITE, IO_WANT_READ,
	    IO_DONE }, 3 },
	{ "shutdown_error_still_done", { IO_WANT_WRITE, IO_ERROR }, 2 },
};

static void
shutdown_table(void **state)
{
	struct flow_fx *fx = *state;
	const struct shut_case *c = fx->param;
	static const struct fake_step src[] = { END };
	size_t got, i;
	enum io io;

	fx_fake(fx, true, 0);
	script(&fx->fsrc, src, NELEM(src));
	memcpy(fx->fdst.shuts, c->shuts, c->nshuts * sizeof(c->shuts[0]));
	fx->fdst.nshuts = c->nshuts;
	assert_int_equal(flow_read(&fx->f, &got), IO_EOF);
	for (i = 0; i < c->nshuts; i++) {
		assert_true(flow_wants_sink(&fx->f));
		io = flow_shutdown(&fx->f);
		assert_int_equal(io, c->shuts[i]);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			assert_int_equal(fx->f.wwant, io);
			assert_false(fx->f.done);
			assert_false(fx->f.shut_sent);
		}
	}
	assert_int_equal(fx->fdst.shutpos, c->nshuts);
	assert_true(fx->f.done);
	assert_true(fx->f.shut_sent);
	assert_false(flow_wants_sink(&fx->f));
	assert_false(flow_can_read(&fx->f));
	assert_int_equal(fx->f.bytes, 0);
}

/* --- Record mode: datagrams are never merged or split. */

/* A datagram socket pair: [0] for the test, [1] for the stream. */
static void
dgram_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	set_nonblocking(sv[0]);
}

/* Datagrams in, a byte stream out: one datagram per read, whole. */
static void
record_from_datagrams(void **state)
{
	static const size_t sizes[] = { 10, 0, 20, 30 };
	struct stream *src, *dst;
	struct flow f;
	unsigned char buf[64];
	size_t i, got, from = 0;
	int sv[2], p[2];

	(void)state;
	dgram_pair(sv);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	src = stream_fd_new(sv[1], sv[1], STREAM_OWN_FDS);
	dst = stream_fd_new(-1, p[1], STREAM_OWN_FDS);
	assert_true(stream_keeps_datagrams(src));
	flow_init(&f, src, dst, 0);
	assert_true(f.record);
	for (i = 0; i < NELEM(sizes); i++) {
		for (got = 0; got < sizes[i]; got++)
			buf[got] = seq_byte(from + got);
		from += sizes[i];
		assert_int_equal(send(sv[0], buf, sizes[i], 0),
		    (ssize_t)sizes[i]);
	}
	from = 0;
	for (i = 0; i < NELEM(sizes); i++) {
		if (sizes[i] == 0)
			continue;	/* an empty datagram is no EOF */
		assert_int_equal(flow_read(&f, &got), IO_DONE);
		assert_int_equal(got, sizes[i]);
		/* One record at a time: the next waits for this one. */
		assert_false(flow_can_read(&f));
		assert_int_equal(flow_write(&f), IO_DONE);
		assert_int_equal(read(p[0], buf, sizeof(buf)),
		    (ssize_t)sizes[i]);
		assert_seq(buf, sizes[i], from);
		from += sizes[i];
	}
	assert_int_equal(flow_read(&f, &got), IO_WANT_READ);
	assert_false(f.src_eof);
	flow_release(&f);
	stream_close(src);
	stream_close(dst);
	close(sv[0]);
	close(p[0]);
}

/* A byte stream in, datagrams out: cut at FLOW_RECORD_MAX, never merged. */
static void
record_to_datagrams(void **state)
{
	const size_t total = FLOW_RECORD_MAX + 4493;
	unsigned char *buf = malloc(total);
	struct stream *src, *dst;
	struct flow f;
	size_t i, got;
	int sv[2], ss[2];

	(void)state;
	assert_non_null(buf);
	dgram_pair(sv);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    ss), 0);
	for (i = 0; i < total; i++)
		buf[i] = seq_byte(i);
	assert_int_equal(write(ss[0], buf, total), (ssize_t)total);
	src = stream_fd_new(ss[1], ss[1], STREAM_OWN_FDS);
	dst = stream_fd_new(sv[1], sv[1], STREAM_OWN_FDS);
	flow_init(&f, src, dst, 0);
	assert_true(f.record);
	assert_int_equal(flow_read(&f, &got), IO_DONE);
	assert_int_equal(got, FLOW_RECORD_MAX);
	assert_int_equal(flow_write(&f), IO_DONE);
	assert_int_equal(flow_read(&f, &got), IO_DONE);
	assert_int_equal(got, 4493);
	assert_int_equal(flow_write(&f), IO_DONE);
	assert_int_equal(recv(sv[0], buf, total, 0), FLOW_RECORD_MAX);
	assert_seq(buf, FLOW_RECORD_MAX, 0);
	assert_int_equal(recv(sv[0], buf, total, 0), 4493);
	assert_seq(buf, 4493, FLOW_RECORD_MAX);
	flow_release(&f);
	stream_close(src);
	stream_close(dst);
	close(sv[0]);
	close(ss[0]);
	free(buf);
}


/* --- Zero-copy. */

/* What one end of a zero-copy flow is. */
enum end {
	END_PIPE,
	END_SOCKET,
	END_FILE,
	END_APPEND,	/* a file opened for appending: splice refuses it */
	END_TERMINAL,	/* a pty, raw */
	END_BLOCKING,	/* a socket left blocking (not ours) */
};

struct zc_case {
	const char	*name;
	enum end	 src, dst;
	bool		 no_splice;	/* TLSNC_NO_SPLICE=1 */
	bool		 tap;		/* a tap that only looks */
	size_t		 total;
	size_t		 drain;		/* the sink's reader takes this a turn */
	enum flow_zc	 first;		/* the path chosen */
	enum flow_zc	 last;		/* the path at the end */
	const char	*said;		/* the logged line */
};

#define BIG	(3 * FLOW_BUF_MAX + 4097)

static const struct zc_case zc_cases[] = {
	{ "zc_pipe_to_socket", END_PIPE, END_SOCKET, false, false, BIG, 0,
	    FLOW_ZC_SPLICE, FLOW_ZC_SPLICE,
	    "zero-copy: splice (pipe -> socket)" },
	{ "zc_pipe_to_socket_slow", END_PIPE, END_SOCKET, false, false, BIG,
	    4093, FLOW_ZC_SPLICE, FLOW_ZC_SPLICE, NULL },
	{ "zc_socket_to_pipe", END_SOCKET, END_PIPE, false, false, BIG, 0,
	    FLOW_ZC_SPLICE, FLOW_ZC_SPLICE,
	    "zero-copy: splice (socket -> pipe)" },
	{ "zc_socket_to_pipe_slow", END_SOCKET, END_PIPE, false, false, BIG,
	    1000, FLOW_ZC_SPLICE, FLOW_ZC_SPLICE, NULL },
	{ "zc_file_to_socket", END_FILE, END_SOCKET, false, false, BIG, 0,
	    FLOW_ZC_SENDFILE, FLOW_ZC_SENDFILE,
	    "zero-copy: sendfile (file -> socket)" },
	{ "zc_file_to_socket_slow", END_FILE, END_SOCKET, false, false, BIG,
	    7001, FLOW_ZC_SENDFILE, FLOW_ZC_SENDFILE, NULL },
	{ "zc_file_to_pipe", END_FILE, END_PIPE, false, false, BIG, 0,
	    FLOW_ZC_SPLICE, FLOW_ZC_SPLICE, NULL },
	{ "zc_socket_to_file", END_SOCKET, END_FILE, false, false, BIG, 0,
	    FLOW_ZC_PIPE, FLOW_ZC_PIPE,
	    "zero-copy: splice through a pipe (socket -> file)" },
	{ "zc_socket_to_socket_slow", END_SOCKET, END_SOCKET, false, false,
	    BIG, 3000, FLOW_ZC_PIPE, FLOW_ZC_PIPE, NULL },
	{ "zc_one_byte", END_PIPE, END_SOCKET, false, false, 1, 0,
	    FLOW_ZC_SPLICE, FLOW_ZC_SPLICE, NULL },
	{ "zc_no_splice", END_PIPE, END_SOCKET, true, false, BIG, 0,
	    FLOW_ZC_OFF, FLOW_ZC_OFF,
	    "read/write (pipe -> socket): TLSNC_NO_SPLICE is set" },
	{ "zc_tap", END_SOCKET, END_PIPE, false, true, BIG, 0,
	    FLOW_ZC_OFF, FLOW_ZC_OFF,
	    "read/write (socket -> pipe): a data option sees the bytes" },
	{ "zc_terminal", END_SOCKET, END_TERMINAL, false, false, 65537, 0,
	    FLOW_ZC_OFF, FLOW_ZC_OFF,
	    "read/write (socket -> terminal): a terminal" },
	{ "zc_blocking_socket", END_PIPE, END_BLOCKING, false, false, 65537,
	    0, FLOW_ZC_OFF, FLOW_ZC_OFF,
	    "read/write (pipe -> socket): a blocking socket" },
	{ "zc_append_falls_back", END_SOCKET, END_APPEND, false, false, BIG,
	    0, FLOW_ZC_PIPE, FLOW_ZC_OFF, "read/write from here (socket -> "
	    "file): splice failed: Invalid argument" },
	{ "zc_append_direct_falls_back", END_PIPE, END_APPEND, false, false,
	    BIG, 0, FLOW_ZC_SPLICE, FLOW_ZC_OFF, "read/write from here "
	    "(pipe -> file): splice failed: Invalid argument" },
};

static char zc_said[1024];

static void
zc_log(const char *fmt, ...)
{
	size_t at = strlen(zc_said);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(zc_said + at, sizeof(zc_said) - at, fmt, ap);
	va_end(ap);
	at = strlen(zc_said);
	if (at + 1 < sizeof(zc_said))
		strcpy(zc_said + at, "\n");
}

/* A file, open twice: *wfd to write (appending or not), *rfd to read. */
static void
temp_file(int *wfd, int *rfd, bool append)
{
	char path[] = "/tmp/test_flow.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	*wfd = open(path, O_WRONLY | O_CLOEXEC | (append ? O_APPEND : 0));
	*rfd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(*wfd >= 0 && *rfd >= 0);
	unlink(path);
	close(fd);
}

/* A raw pty: *sink is the terminal, *peer its master. */
static void
temp_pty(int *sink, int *peer)
{
	struct termios t;

	*peer = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(*peer >= 0);
	assert_int_equal(grantpt(*peer), 0);
	assert_int_equal(unlockpt(*peer), 0);
	*sink = open(ptsname(*peer), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(*sink >= 0);
	assert_int_equal(tcgetattr(*sink, &t), 0);
	cfmakeraw(&t);
	assert_int_equal(tcsetattr(*sink, TCSANOW, &t), 0);
	/* One thread reads and writes it: a full terminal must not wait. */
	set_nonblocking(*sink);
}

/* The source end: the stream reads *fd, the test writes *peer. */
static struct stream *
zc_source(enum end e, int *peer)
{
	int p[2];

	switch (e) {
	case END_PIPE:
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		*peer = p[1];
		return stream_fd_new(p[0], -1, STREAM_OWN_FDS);
	case END_FILE:
		temp_file(peer, &p[0], false);
		return stream_fd_new(p[0], -1, STREAM_OWN_FDS);
	default:
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0, p), 0);
		*peer = p[0];
		return stream_fd_new(p[1], p[1], STREAM_OWN_FDS);
	}
}

/* The sink end: the stream writes, the test reads *peer. */
static struct stream *
zc_sink(enum end e, int *peer)
{
	int p[2];

	switch (e) {
	case END_PIPE:
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		*peer = p[0];
		return stream_fd_new(-1, p[1], STREAM_OWN_FDS);
	case END_FILE:
	case END_APPEND:
		temp_file(&p[1], peer, e == END_APPEND);
		return stream_fd_new(-1, p[1], STREAM_OWN_FDS);
	case END_TERMINAL:
		temp_pty(&p[1], peer);
		return stream_fd_new(-1, p[1], STREAM_OWN_FDS);
	case END_BLOCKING:
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0, p), 0);
		*peer = p[0];
		return stream_fd_new(-1, p[1], STREAM_OWN_FDS);
	default:
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0, p), 0);
		*peer = p[0];
		return stream_fd_new(p[1], p[1], STREAM_OWN_FDS);
	}
}

/* At most max bytes from the sink's reader (0: all it has). */
static void
drain_some(struct flow_fx *fx, size_t max)
{
	unsigned char buf[65536];
	size_t want = max != 0 && max < sizeof(buf) ? max : sizeof(buf);
	ssize_t r;

	while ((r = read(fx->dst_peer, buf, want)) > 0) {
		assert_seq(buf, (size_t)r, fx->received);
		fx->received += (size_t)r;
		if (max != 0)
			break;
	}
	if (r == -1 && errno != EAGAIN && errno != EIO)
		fail_msg("read: %s", strerror(errno));
}

static void
look(struct flow_tap *t, const void *p, size_t n)
{
	(void)t;
	(void)p;
	(void)n;
}

/*
 * The bytes of a flow between two descriptors, moved the way its case
 * says, arrive whole and in order, however slowly the sink is read; the
 * flow never counts what it does not hold (taken = bytes + len), and at
 * the source's end it says EOF.
 */
static void
zc_table(void **state)
{
	struct flow_fx *fx = *state;
	const struct zc_case *c = fx->param;
	struct flow_tap tap = { .on_read = look, .grow = 1 };
	size_t got;
	int rounds = 0;
	enum io io = IO_DONE;

	if (c->no_splice)
		setenv("TLSNC_NO_SPLICE", "1", 1);
	else
		unsetenv("TLSNC_NO_SPLICE");
	zc_said[0] = '\0';
	flow_set_log(zc_log);
	fx->src = zc_source(c->src, &fx->src_peer);
	fx->dst = zc_sink(c->dst, &fx->dst_peer);
	assert_non_null(fx->src);
	assert_non_null(fx->dst);
	set_nonblocking(fx->src_peer);
	set_nonblocking(fx->dst_peer);
	flow_init(&fx->f, fx->src, fx->dst, 0);
	if (c->tap)
		fx->f.tap = &tap;
	if (c->src == END_FILE)
		assert_int_equal(send_seq(fx, c->total), c->total);
	while ((io != IO_EOF || fx->f.len > 0) && rounds++ < 200000) {
		if (fx->sent < c->total)
			(void)send_seq(fx, c->total - fx->sent);
		else if (c->src != END_FILE && fx->src_peer >= 0) {
			close(fx->src_peer);
			fx->src_peer = -1;
		}
		if (flow_can_read(&fx->f))
			io = flow_read(&fx->f, &got);
		if (fx->f.zc != FLOW_ZC_UNDECIDED && fx->f.zc != c->last)
			assert_int_equal(fx->f.zc, c->first);
		if (fx->f.len > 0)
			assert_int_not_equal(flow_write(&fx->f), IO_ERROR);
		drain_some(fx, c->drain);
		assert_true(fx->f.len <= fx->f.max);
		assert_int_equal(fx->f.taken, fx->f.bytes + fx->f.len);
		assert_false(fx->f.zc_held && fx->f.buf != NULL);
	}
	while (fx->received < c->total && rounds++ < 200000)
		drain_some(fx, 0);
	assert_int_equal(io, IO_EOF);
	assert_int_equal(fx->received, c->total);
	assert_int_equal(fx->f.bytes, c->total);
	assert_int_equal(fx->f.len, 0);
	assert_int_equal(fx->f.zc, c->last);
	if (c->said != NULL && strstr(zc_said, c->said) == NULL)
		fail_msg("logged \"%s\", want \"%s\"", zc_said, c->said);
	flow_set_log(NULL);
}

/*
 * Straight from a pipe: what the source holds counts as buffered, and the
 * flow takes nothing more (so the relay stops watching the source) until
 * a write has moved it all, even when the sink is full.
 */
static void
zc_counts_then_waits(void **state)
{
	struct flow_fx *fx = *state;
	size_t got;

	unsetenv("TLSNC_NO_SPLICE");
	fx_real(fx, true, 0);
	assert_int_equal(send_seq(fx, 10), 10);
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(flow_write(&fx->f), IO_DONE);
	assert_int_equal(fx->f.zc, FLOW_ZC_UNDECIDED);
	assert_int_equal(send_seq(fx, 5000), 5000);
	assert_int_equal(flow_read(&fx->f, &got), IO_DONE);
	assert_int_equal(fx->f.zc, FLOW_ZC_SPLICE);
	assert_int_equal(got, 5000);
	assert_int_equal(fx->f.len, 5000);
	assert_true(fx->f.zc_held);
	assert_null(fx->f.buf);
	assert_true(flow_wants_sink(&fx->f));
	assert_false(flow_can_read(&fx->f));
	assert_int_equal(flow_write(&fx->f), IO_DONE);
	assert_int_equal(fx->f.bytes, 5010);
	assert_true(flow_can_read(&fx->f));
	assert_int_equal(drain_sink(fx), 5010);
	/* Nothing there yet: "not yet", and no EOF (a read must not wait). */
	set_nonblocking(stream_fd_state(fx->src)->rfd);
	assert_int_equal(flow_read(&fx->f, &got), IO_WANT_READ);
	assert_int_equal(got, 0);
	assert_false(fx->f.src_eof);
}

/*
 * The raw descriptors are asked of the top layer only: a layer over an fd
 * stream that does not answer for itself hides them (the bytes would go
 * around it), though a passed-down query would find them.
 */
static void
raw_fd_top_only(void **state)
{
	struct fake ctx = { .nonblocking = true };
	struct stream *s, *layer;
	int sv[2], fd = -1;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	s = stream_fd_new(sv[1], sv[1], STREAM_OWN_FDS);
	assert_non_null(s);
	assert_int_equal(stream_raw_fd(s, IO_WANT_READ), sv[1]);
	assert_int_equal(stream_raw_fd(s, IO_WANT_WRITE), sv[1]);
	layer = stream_layer_new(&fake_ops, &ctx, s);
	assert_non_null(layer);
	assert_int_equal(stream_query(layer, STREAM_Q_RAW_RFD, &fd), 0);
	assert_int_equal(fd, sv[1]);
	assert_int_equal(stream_raw_fd(layer, IO_WANT_READ), -1);
	assert_int_equal(stream_raw_fd(layer, IO_WANT_WRITE), -1);
	stream_close(layer);
	close(sv[0]);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		CASE(buffer_is_lazy),
		CASE(buffer_follows_load),
		CASE(hidden_bytes_are_seen),
		CASE(kept_until_source_dry),
		CASE(grows_and_stops_at_max),
		cmocka_unit_test(record_from_datagrams),
		cmocka_unit_test(record_to_datagrams),
		CASE(tap_transform_grows),
		CASE(tap_rests),
		CASE(inject_follows_buffer),
		CASE(taps_telnet_and_discard),
		CASE(zc_counts_then_waits),
		CASE(no_memory_fails),
		cmocka_unit_test(raw_fd_top_only),
	};
	struct CMUnitTest tests[NELEM(fixed) + NELEM(max_cases) +
	    NELEM(eof_cases) + NELEM(read_cases) + NELEM(write_cases) +
	    NELEM(shut_cases) + NELEM(zc_cases)];
	size_t n = 0, i;

	for (i = 0; i < NELEM(fixed); i++)
		tests[n++] = fixed[i];
	ADD_TABLE(max_cases, max_is_respected);
	ADD_TABLE(eof_cases, eof_and_shutdown);
	ADD_TABLE(read_cases, read_table);
	ADD_TABLE(write_cases, write_table);
	ADD_TABLE(shut_cases, shutdown_table);
	ADD_TABLE(zc_cases, zc_table);

	alarm(WATCHDOG_SECS);
	return _cmocka_run_group_tests("flow", tests, n, NULL, NULL);
}
