/*
 * The relay.  Each wake-up runs one step: the handshakes, or each flow's
 * read, write and half-close, then the exit tests.  Afterwards the relay
 * tells the loop what it waits for: the descriptors its streams name, a
 * timer for the nearest deadline, and a deferred step when a layer holds
 * bytes that no descriptor will report.
 */
#include "config.h"

#include <sys/epoll.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "net.h"
#include "relay.h"

enum { END_LOCAL, END_NET };
enum { OUT, IN };	/* the flows: local -> net, net -> local */

/* A relay watches at most stdin, stdout and the network's descriptor. */
#define RELAY_WATCHES	4

struct watch {
	struct loop_io	 io;
	struct relay	*r;
	bool		 used;
};

struct relay {
	struct relay_opts opts;
	struct loop	*loop;
	struct stream	*end[2];
	bool		 established[2];
	enum io		 hs_want[2];
	struct flow	 flow[2];
	struct taps	*taps;		/* the data options, or NULL */
	struct watch	 watch[RELAY_WATCHES];
	struct loop_timer timer;
	struct loop_defer defer;
	/* What woke this step: a descriptor and its events, or a kick. */
	int		 ready_fd;
	uint32_t	 ready_ev;
	bool		 kicked;	/* relay_wake(): retry fd-less streams */
	bool		 fresh;		/* just established: try every read */
	bool		 over;		/* the outcome is decided */
	bool		 closing;	/* a clean end: close_notify going out */
	enum io		 close_want;	/* what the half-close waits for */
	int64_t		 close_deadline;
	bool		 close_started;	/* the half-close has been tried */
	bool		 closed;	/* all done: on_done may follow */
	bool		 done_told;	/* on_done has been called */
	bool		 truncated;
	bool		 seen_data;	/* on_first_data has been called */
	bool		 output_gone;	/* writing local found no reader */
	bool		 discard_in;	/* and what net sends is dropped */
	enum status	 status;
	struct error	 err;
	bool		 datagram;	/* net keeps datagrams: it has no EOF */
	int64_t		 last_activity;
	int64_t		 quit_at;	/* -1 until local EOF is fully sent */
	/*
	 * Failures that wait for "in" to drain, so that what the peer sent
	 * first still reaches the output: the first receive error, and the
	 * send failure that found the peer gone.
	 */
	struct error	 in_err;
	struct error	 out_err;
};

/*
 * The session is over.  A clean end says so even when no half-close went
 * out (--recv-only, --no-shutdown, -q, a terminal, a signal): without
 * close_notify a TLS peer could not tell the end from a truncation.  That
 * half-close may have to wait for room on the socket, so a clean end goes
 * through "closing" (see step_close) before it is closed; a failure is
 * closed at once.
 */
static void
finish(struct relay *r, enum status st)
{
	if (r->over)
		return;
	r->over = true;
	if (st == ST_OK && r->truncated) {
		st = ST_TRUNCATED;
		err_set(&r->err, ST_TRUNCATED, "the peer closed the "
		    "connection without close_notify: the data may be "
		    "truncated");
	}
	r->status = st;
	if (st == ST_OK)
		err_clear(&r->err);
	if (st == ST_OK && !r->flow[OUT].shut_sent) {
		r->closing = true;
		r->close_want = IO_WANT_WRITE;
		r->close_deadline = now_ms() + RELAY_CLOSE_MS;
	} else {
		r->closed = true;
	}
}

static void fail(struct relay *, enum status, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct relay *r, enum status st, const char *fmt, ...)
{
	va_list ap;

	if (r->over)
		return;
	va_start(ap, fmt);
	err_verrno(&r->err, st, 0, fmt, ap);
	va_end(ap);
	finish(r, st);
}

/* Keep the first failure that waits for "in" to drain. */
static void keep_first(struct error *, enum status, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
keep_first(struct error *e, enum status st, const char *fmt, ...)
{
	va_list ap;

	if (e->status != ST_OK)
		return;
	va_start(ap, fmt);
	err_verrno(e, st, 0, fmt, ap);
	va_end(ap);
}

/* --- Readiness. */

static uint32_t
epoll_events(short ev)
{
	return ((ev & POLLIN) ? EPOLLIN : 0) | ((ev & POLLOUT) ? EPOLLOUT : 0);
}

/* Does a descriptor satisfy want w of s, or does s wake us itself? */
static bool
has_fd(const struct stream *s, enum io w)
{
	short ev;

	return stream_want_fd(s, w, &ev) >= 0;
}

/* Is the want of s satisfied by what woke this step? */
static bool
is_ready(const struct relay *r, const struct stream *s, enum io want)
{
	short ev;
	int fd = stream_want_fd(s, want, &ev);

	if (fd < 0)
		return r->kicked;	/* it wakes us itself */
	return fd == r->ready_fd &&
	    (r->ready_ev & (epoll_events(ev) | EPOLLERR | EPOLLHUP)) != 0;
}

/* --- The handshakes. */

static void
established(struct relay *r, int i)
{
	enum status st;

	r->established[i] = true;
	r->hs_want[i] = IO_DONE;
	if (r->opts.on_established == NULL ||
	    r->end[i]->ops->handshake == NULL)
		return;
	st = r->opts.on_established(r->end[i], r->opts.arg, &r->err);
	if (st != ST_OK)
		finish(r, st);
}

/*
 * Drive the handshakes, the network end's first; true once both ends are
 * established.
 */
static bool
step_handshakes(struct relay *r)
{
	static const int order[2] = { END_NET, END_LOCAL };
	enum io io;
	int i, k;

	for (k = 0; k < 2 && !r->over; k++) {
		i = order[k];
		if (r->established[i])
			continue;
		if (i == END_LOCAL && r->opts.local_after_net &&
		    !r->established[END_NET])
			break;
		io = stream_handshake(r->end[i]);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			r->hs_want[i] = io;
			continue;
		}
		if (io != IO_DONE) {
			r->err = r->end[i]->err;
			if (r->err.status == ST_OK)
				err_set(&r->err, ST_HANDSHAKE,
				    "handshake failed");
			finish(r, r->err.status);
			return false;
		}
		established(r, i);
	}
	return !r->over && r->established[0] && r->established[1];
}

/* --- The flows. */

static void
flow_in_read(struct relay *r, struct flow *f)
{
	size_t got;
	enum io io = flow_read(f, &got);

	if (got > 0) {
		r->last_activity = now_ms();
		if (!r->seen_data) {
			r->seen_data = true;
			if (r->opts.on_first_data != NULL)
				r->opts.on_first_data(f->buf + f->head +
				    f->len - got, got, r->opts.arg);
		}
	}
	/* --send-only drops what comes: a truncation of it costs nothing. */
	if (io == IO_EOF && !stream_eof_clean(f->src) && !r->opts.send_only)
		r->truncated = true;
	if (io == IO_ERROR) {
		keep_first(&r->in_err, f->src->err.status, "receiving: %s",
		    f->src->err.msg);
		f->src_eof = true;
	}
}

static void
flow_out_read(struct relay *r, struct flow *f)
{
	size_t got;

	if (flow_read(f, &got) == IO_ERROR)
		fail(r, f->src->err.status, "reading input: %s",
		    f->src->err.msg);
	else if (got > 0)
		r->last_activity = now_ms();
}

static void
flow_do_write(struct relay *r, struct flow *f)
{
	uint64_t before = f->bytes;
	char msg[ERROR_MSG_MAX + 80];

	if (flow_write(f) != IO_ERROR) {
		if (f->bytes != before)
			r->last_activity = now_ms();
		return;
	}
	if (f == &r->flow[OUT]) {
		f->done = true;
		snprintf(msg, sizeof(msg), "%s%s", f->dst->err.msg,
		    f->src_eof ? "" : ", and the rest of the input");
		keep_first(&r->out_err, ST_RUNTIME, "the peer is gone (%s): "
		    "%llu bytes of input were not sent", msg,
		    (unsigned long long)f->len);
		flow_release(f);
	} else if (f->dst->sys_errno == EPIPE) {
		/*
		 * Whoever read our output has gone (tlsnc | head): end as
		 * Unix tools do on SIGPIPE, quietly, and close cleanly.  A
		 * program that stopped reading may still be writing: then
		 * what the peer sends is read and dropped, so that closing
		 * with unread bytes cannot reset the connection and lose
		 * the program's output on its way out.
		 */
		r->output_gone = true;
		if (r->opts.local_reader_may_leave) {
			r->discard_in = true;
			f->head = f->len = 0;
			return;
		}
		finish(r, ST_OK);
	} else {
		fail(r, f->dst->err.status ? f->dst->err.status : ST_RUNTIME,
		    "writing output: %s", f->dst->err.msg);
	}
}

/* Forget the watch on fd: its descriptor is about to be replaced. */
static void
watch_forget(struct relay *r, int fd)
{
	int i;

	for (i = 0; i < RELAY_WATCHES; i++)
		if (r->watch[i].used && r->watch[i].io.fd == fd)
			loop_io_del(r->loop, &r->watch[i].io);
}

/*
 * The source is at EOF and everything is written: half-close the sink, and
 * for local input start the -q clock.  A half-close that wants I/O is
 * simply tried again at the next step.
 */
static void
flow_finish(struct relay *r, struct flow *f)
{
	short ev;

	if (f->done || r->over || !f->src_eof || f->len > 0)
		return;
	if ((f == &r->flow[OUT] && r->opts.no_shutdown) ||
	    (f == &r->flow[IN] && r->opts.hold_local_eof)) {
		f->done = true;
	} else {
		/* A pipe's half-close puts /dev/null in its place. */
		watch_forget(r, stream_want_fd(f->dst, IO_WANT_WRITE, &ev));
		(void)flow_shutdown(f);
	}
	if (f->done && f == &r->flow[OUT] && r->opts.quit_after_eof_ms >= 0)
		r->quit_at = now_ms() + r->opts.quit_after_eof_ms;
}

static void
step_flow(struct relay *r, struct flow *f)
{
	bool wready;
	size_t before;

	if (f->done)
		return;
	wready = f->len > 0 && is_ready(r, f->dst, f->wwant);
	if (flow_can_read(f) && (is_ready(r, f->src, f->rwant) ||
	    flow_has_hidden(f) || (r->fresh && stream_nonblocking(f->src)))) {
		before = f->len;
		if (f == &r->flow[IN]) {
			flow_in_read(r, f);
			if (r->discard_in)
				f->head = f->len = 0;
		} else {
			flow_out_read(r, f);
		}
		/* A sink that cannot block can take it straight away. */
		if (f->len > before && (f->dst_nonblocking ||
		    !has_fd(f->dst, f->wwant)))
			wready = true;
	}
	if (r->over)
		return;
	if (f->len > 0 && wready)
		flow_do_write(r, f);
	flow_finish(r, f);
}

/* --- The end of the session. */

static void
check_finished(struct relay *r)
{
	int64_t now;

	if (r->over)
		return;
	/* Datagrams have no EOF to wait for: a failure ends it at once. */
	if ((r->flow[IN].done || r->datagram) &&
	    (r->in_err.status != ST_OK || r->out_err.status != ST_OK)) {
		/*
		 * A protocol error the peer left behind (a TLS alert: our
		 * certificate refused, say) says why it went; otherwise the
		 * bytes that were not sent say the most.
		 */
		if (r->in_err.status != ST_OK &&
		    (r->in_err.status != ST_RUNTIME ||
		    r->out_err.status == ST_OK))
			r->err = r->in_err;
		else
			r->err = r->out_err;
		finish(r, r->err.status);
		return;
	}
	if ((r->flow[IN].done && (r->flow[OUT].done ||
	    r->opts.end_at_peer_eof)) ||
	    (r->opts.send_only && r->flow[OUT].done)) {
		finish(r, ST_OK);
		return;
	}
	now = now_ms();
	if (!r->established[0] || !r->established[1]) {
		if (r->opts.handshake_deadline >= 0 &&
		    now >= r->opts.handshake_deadline)
			fail(r, ST_TIMEOUT, "TLS handshake timed out");
		return;
	}
	if (r->quit_at >= 0 && now >= r->quit_at) {
		finish(r, ST_OK);
		return;
	}
	if (r->opts.idle_ms > 0 && now - r->last_activity >= r->opts.idle_ms)
		fail(r, ST_TIMEOUT, "idle timeout: nothing moved for %lld ms",
		    (long long)r->opts.idle_ms);
}

/* --- Telling the loop what the relay waits for. */

static void on_watch(struct loop_io *, uint32_t);

/* Add the descriptor and events that satisfy want w of s to the set. */
static void
want(uint32_t *ev, int *fds, int *n, const struct stream *s, enum io w)
{
	short pev;
	int fd = stream_want_fd(s, w, &pev), i;

	if (fd < 0)
		return;
	for (i = 0; i < *n; i++) {
		if (fds[i] == fd) {
			ev[i] |= epoll_events(pev);
			return;
		}
	}
	if (*n < RELAY_WATCHES) {
		fds[*n] = fd;
		ev[(*n)++] = epoll_events(pev);
	}
}

static int
sync_watches(struct relay *r, const int *fds, const uint32_t *ev, int n)
{
	struct watch *w, *free_w;
	uint32_t set;
	int i, j;

	for (i = 0; i < RELAY_WATCHES; i++) {
		w = &r->watch[i];
		if (!w->used)
			continue;
		set = 0;
		for (j = 0; j < n; j++)
			if (fds[j] == w->io.fd)
				set = ev[j];
		if (loop_io_set(r->loop, &w->io, set, &r->err) == -1)
			return -1;
	}
	for (j = 0; j < n; j++) {
		free_w = NULL;
		for (i = 0; i < RELAY_WATCHES; i++) {
			w = &r->watch[i];
			if (w->used && w->io.fd == fds[j])
				break;
			if (!w->used && free_w == NULL)
				free_w = w;
		}
		if (i < RELAY_WATCHES || free_w == NULL)
			continue;
		free_w->used = true;
		free_w->r = r;
		loop_io_init(&free_w->io, fds[j], on_watch);
		if (loop_io_set(r->loop, &free_w->io, ev[j], &r->err) == -1)
			return -1;
	}
	return 0;
}

static int64_t
next_deadline(const struct relay *r)
{
	int64_t at = -1;

	if (r->closing)
		return r->close_deadline;
	if (!r->established[0] || !r->established[1])
		return r->opts.handshake_deadline;
	if (r->opts.idle_ms > 0)
		at = r->last_activity + r->opts.idle_ms;
	if (r->quit_at >= 0 && (at < 0 || r->quit_at < at))
		at = r->quit_at;
	if (r->flow[OUT].rest_until > 0 && (at < 0 ||
	    r->flow[OUT].rest_until < at))
		at = r->flow[OUT].rest_until;
	return at;
}

static void
arm(struct relay *r)
{
	uint32_t ev[RELAY_WATCHES];
	int fds[RELAY_WATCHES], n = 0, i;
	int64_t at;

	if (r->closing) {
		want(ev, fds, &n, r->end[END_NET], r->close_want);
	} else if (!r->established[0] || !r->established[1]) {
		for (i = 0; i < 2; i++)
			if (!r->established[i])
				want(ev, fds, &n, r->end[i], r->hs_want[i]);
	} else {
		for (i = 0; i < 2; i++) {
			struct flow *f = &r->flow[i];

			if (f->done)
				continue;
			if (flow_can_read(f))
				want(ev, fds, &n, f->src, f->rwant);
			if (flow_wants_sink(f))
				want(ev, fds, &n, f->dst, f->wwant);
			if (flow_has_hidden(f))
				loop_defer(r->loop, &r->defer);
		}
	}
	if (sync_watches(r, fds, ev, n) == -1) {
		finish(r, r->err.status);
		loop_defer(r->loop, &r->defer);
		return;
	}
	/* A later deadline can wait: the timer re-arms when it fires. */
	at = next_deadline(r);
	if (at < 0) {
		loop_timer_stop(r->loop, &r->timer);
	} else if ((!loop_timer_armed(&r->timer) || at < r->timer.at) &&
	    loop_timer_set(r->loop, &r->timer, at) == -1) {
		fail(r, ST_RUNTIME, "out of memory");
		loop_defer(r->loop, &r->defer);
	}
}

/* --- Steps. */

/*
 * A clean end: what was read from local and not yet sent goes out first
 * (a TLS record half written must be finished before any alert can
 * follow), then close_notify and FIN.  Tried until they are out, they
 * fail, or RELAY_CLOSE_MS pass, so that a peer that reads nothing cannot
 * keep us.
 */
static void
step_close(struct relay *r)
{
	struct flow *out = &r->flow[OUT];
	struct stream *net = r->end[END_NET];
	short ev;
	enum io io;

	if (now_ms() >= r->close_deadline) {
		r->closed = true;
		return;
	}
	if (out->len > 0) {
		if (flow_write(out) == IO_ERROR) {
			r->closed = true;
			return;
		}
		if (out->len > 0) {
			r->close_want = out->wwant;
			return;
		}
	}
	if (!r->close_started) {
		/* A pipe's half-close puts /dev/null in its place. */
		watch_forget(r, stream_want_fd(net, IO_WANT_WRITE, &ev));
		r->close_started = true;
	}
	io = stream_shutdown_write(net);
	if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
		r->close_want = io;
		return;
	}
	r->closed = true;
}

static void
step(struct relay *r)
{
	int i;

	if (!r->over && (!r->established[0] || !r->established[1])) {
		/* Data may already be waiting: try what cannot block. */
		if (step_handshakes(r))
			r->fresh = true;
	}
	/* -d: a source that has rested is tried again, fd or not. */
	if (r->flow[OUT].rest_until != 0 &&
	    flow_rest_over(&r->flow[OUT], now_ms()))
		r->kicked = true;
	if (!r->over && r->established[0] && r->established[1])
		for (i = 0; i < 2 && !r->over; i++)
			step_flow(r, &r->flow[i]);
	check_finished(r);
	if (r->closing && !r->closed)
		step_close(r);
	r->kicked = false;
	r->fresh = false;
	if (!r->closed) {
		arm(r);
		return;
	}
	if (!r->done_told) {
		r->done_told = true;
		loop_timer_stop(r->loop, &r->timer);
		if (r->opts.on_done != NULL)
			r->opts.on_done(r, r->opts.done_arg); /* may free r */
	}
}

static void
on_watch(struct loop_io *io, uint32_t revents)
{
	struct watch *w = container_of(io, struct watch, io);

	w->r->ready_fd = io->fd;
	w->r->ready_ev = revents;
	step(w->r);
}

static void
on_timer(struct loop_timer *t)
{
	struct relay *r = container_of(t, struct relay, timer);

	r->ready_fd = -1;
	step(r);
}

static void
on_defer(struct loop_defer *d)
{
	struct relay *r = container_of(d, struct relay, defer);

	r->ready_fd = -1;
	step(r);
}

/* --- The interface. */

struct relay *
relay_new(struct loop *loop, struct stream *local, struct stream *net,
    const struct relay_opts *o, struct error *e)
{
	struct relay *r;
	size_t cap = o->bufsize != 0 ? o->bufsize : RELAY_BUFSIZE;
	int i;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	r->opts = *o;
	r->loop = loop;
	r->end[END_LOCAL] = local;
	r->end[END_NET] = net;
	flow_init(&r->flow[OUT], local, net, cap);
	flow_init(&r->flow[IN], net, local, cap);
	r->datagram = stream_keeps_datagrams(net);
	for (i = 0; i < 2; i++)
		r->hs_want[i] = IO_DONE;
	if (o->recv_only) {
		r->flow[OUT].src_eof = true;
		r->flow[OUT].done = true;
	}
	if (tap_opts_any(&o->taps) && (r->taps = taps_new(&o->taps,
	    &r->flow[OUT], &r->flow[IN], e)) == NULL) {
		free(r);
		return NULL;
	}
	loop_timer_init(&r->timer, on_timer);
	loop_defer_init(&r->defer, on_defer);
	r->last_activity = now_ms();
	r->quit_at = -1;
	r->ready_fd = -1;
	return r;
}

void
relay_start(struct relay *r)
{
	r->kicked = true;
	loop_defer(r->loop, &r->defer);
}

void
relay_wake(struct relay *r)
{
	r->kicked = true;
	loop_defer(r->loop, &r->defer);
}

void
relay_stop(struct relay *r, enum status st, const char *fmt, ...)
{
	va_list ap;

	if (r->over) {
		/* A failure while closing gives up on the close_notify. */
		if (st != ST_OK && !r->closed) {
			r->closed = true;
			loop_defer(r->loop, &r->defer);
		}
		return;
	}
	if (fmt != NULL) {
		va_start(ap, fmt);
		err_verrno(&r->err, st, 0, fmt, ap);
		va_end(ap);
	}
	finish(r, st);
	loop_defer(r->loop, &r->defer);
}

bool
relay_finished(struct relay *r, enum status *st, struct error *e)
{
	if (!r->closed)
		return false;
	*st = r->status;
	*e = r->err;
	return true;
}

void
relay_get_stats(const struct relay *r, struct relay_stats *s)
{
	s->sent = r->flow[OUT].bytes;
	s->received = r->flow[IN].bytes;
	s->truncated = r->truncated;
	s->unsent = r->flow[OUT].len;
	s->taken = r->flow[OUT].taken;
	s->output_gone = r->output_gone;
}

void
relay_free(struct relay *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < RELAY_WATCHES; i++)
		if (r->watch[i].used)
			loop_io_del(r->loop, &r->watch[i].io);
	loop_timer_stop(r->loop, &r->timer);
	loop_defer_cancel(r->loop, &r->defer);
	flow_release(&r->flow[OUT]);
	flow_release(&r->flow[IN]);
	taps_free(r->taps);
	free(r);
}

enum status
relay_run(struct stream *local, struct stream *net,
    const struct relay_opts *o, struct relay_stats *stats, struct error *e)
{
	struct loop *loop;
	struct relay *r;
	enum status st = ST_RUNTIME;

	if ((loop = loop_new(e)) == NULL)
		return e->status;
	if ((r = relay_new(loop, local, net, o, e)) == NULL) {
		loop_free(loop);
		return e->status;
	}
	relay_start(r);
	while (!relay_finished(r, &st, e)) {
		if (loop_once(loop, e) == -1) {
			relay_stop(r, e->status, "%s", e->msg);
			(void)relay_finished(r, &st, e);
			break;
		}
	}
	if (stats != NULL)
		relay_get_stats(r, stats);
	relay_free(r);
	loop_free(loop);
	return st;
}
