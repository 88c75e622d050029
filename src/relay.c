/*
 * The relay loop.  Exit tests come first in relay_finished(); each
 * direction has one buffer; backpressure is nothing more than not asking
 * poll for a reader whose buffer is full.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "relay.h"

enum { END_LOCAL, END_NET };
enum { DIR_OUT, DIR_IN };	/* local -> net, net -> local */

struct dir {
	struct stream	*src;
	struct stream	*dst;
	char		*buf;
	size_t		 cap;
	size_t		 head;		/* first unsent byte */
	size_t		 len;		/* bytes buffered */
	enum io		 rwant;		/* what the reader waits for */
	enum io		 wwant;		/* what the writer waits for */
	bool		 src_eof;
	bool		 done;
	bool		 shut_sent;	/* the half-close went out */
	uint64_t	 bytes;
	int		 rslot;		/* pfd index for the reader, or -1 */
	int		 wslot;		/* pfd index for the writer or shutdown */
};

struct relay {
	struct relay_opts opts;
	struct stream	*end[2];
	bool		 established[2];
	enum io		 hs_want[2];
	struct dir	 dir[2];
	bool		 finished;
	bool		 truncated;
	enum status	 status;
	struct error	 err;
	int64_t		 last_activity;
	int64_t		 quit_at;	/* -1 until local EOF is fully sent */
	bool		 seen_data;	/* on_first_data has been called */
	/*
	 * Failures that wait for "in" to drain, so that what the peer sent
	 * first still reaches the output: the first receive error, and the
	 * send failure that found the peer gone.
	 */
	struct error	 in_err;
	struct error	 out_err;
};

static void
finish(struct relay *r, enum status st)
{
	if (!r->finished) {
		r->finished = true;
		r->status = st;
		if (st == ST_OK)
			err_clear(&r->err);
	}
}

static void fail(struct relay *, enum status, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct relay *r, enum status st, const char *fmt, ...)
{
	va_list ap;

	if (r->finished)
		return;
	r->err.status = st;
	va_start(ap, fmt);
	vsnprintf(r->err.msg, sizeof(r->err.msg), fmt, ap);
	va_end(ap);
	finish(r, st);
}

struct relay *
relay_new(struct stream *local, struct stream *net, const struct relay_opts *o)
{
	struct relay *r;
	size_t cap = o->bufsize != 0 ? o->bufsize : RELAY_BUFSIZE;
	int i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->opts = *o;
	r->end[END_LOCAL] = local;
	r->end[END_NET] = net;
	r->dir[DIR_OUT].src = local;
	r->dir[DIR_OUT].dst = net;
	r->dir[DIR_IN].src = net;
	r->dir[DIR_IN].dst = local;
	for (i = 0; i < 2; i++) {
		r->hs_want[i] = IO_DONE;
		r->dir[i].cap = cap;
		r->dir[i].rwant = IO_WANT_READ;
		r->dir[i].wwant = IO_WANT_WRITE;
		if ((r->dir[i].buf = malloc(cap)) == NULL) {
			relay_free(r);
			return NULL;
		}
	}
	if (o->recv_only) {
		r->dir[DIR_OUT].src_eof = true;
		r->dir[DIR_OUT].done = true;
	}
	r->last_activity = now_ms();
	r->quit_at = -1;
	return r;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	free(r->dir[0].buf);
	free(r->dir[1].buf);
	free(r);
}

/* Drive the handshakes; true once both ends are established. */
static bool
step_handshakes(struct relay *r)
{
	enum io io;
	int i;

	for (i = 0; i < 2; i++) {
		if (r->established[i])
			continue;
		io = stream_handshake(r->end[i]);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			r->hs_want[i] = io;
			continue;
		}
		if (io != IO_DONE) {
			r->err = r->end[i]->err;
			if (r->err.status == ST_OK) {
				r->err.status = ST_HANDSHAKE;
				snprintf(r->err.msg, sizeof(r->err.msg),
				    "handshake failed");
			}
			finish(r, r->err.status);
			return false;
		}
		r->established[i] = true;
		r->hs_want[i] = IO_DONE;
		if (r->end[i]->ops->handshake != NULL &&
		    r->opts.on_established != NULL) {
			enum status st = r->opts.on_established(r->end[i],
			    r->opts.arg, &r->err);

			if (st != ST_OK) {
				finish(r, st);
				return false;
			}
		}
	}
	return r->established[0] && r->established[1];
}

/* Note a failure to report once "in" has drained; the first one stays. */
static void note(struct error *, enum status, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
note(struct error *e, enum status st, const char *fmt, ...)
{
	va_list ap;

	if (e->status != ST_OK)
		return;
	e->status = st;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static void
dir_shutdown(struct relay *r, struct dir *d)
{
	enum io io;

	if (d == &r->dir[DIR_OUT] && r->opts.no_shutdown) {
		d->done = true;
		return;
	}
	io = stream_shutdown_write(d->dst);
	if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
		d->wwant = io;
		return;
	}
	/* A failed half-close loses nothing: every byte was sent. */
	d->done = true;
	d->shut_sent = true;
}

static void
dir_read(struct relay *r, struct dir *d)
{
	size_t n, room;
	enum io io;

	for (;;) {
		if (d->head > 0 && d->head + d->len == d->cap) {
			memmove(d->buf, d->buf + d->head, d->len);
			d->head = 0;
		}
		room = d->cap - d->head - d->len;
		if (room == 0)
			return;
		io = stream_read(d->src, d->buf + d->head + d->len, room, &n);
		switch (io) {
		case IO_DONE:
			if (d == &r->dir[DIR_IN] && !r->seen_data) {
				r->seen_data = true;
				if (r->opts.on_first_data != NULL)
					r->opts.on_first_data(d->buf + d->head +
					    d->len, n, r->opts.arg);
			}
			d->len += n;
			d->rwant = IO_WANT_READ;
			r->last_activity = now_ms();
			/* Poll cannot see what the layer already holds. */
			if (stream_pending(d->src) > 0)
				continue;
			return;
		case IO_WANT_READ:
		case IO_WANT_WRITE:
			d->rwant = io;
			return;
		case IO_EOF:
			d->src_eof = true;
			if (d == &r->dir[DIR_IN] && d->src->eof_unclean)
				r->truncated = true;
			return;
		case IO_ERROR:
		default:
			if (d == &r->dir[DIR_IN]) {
				note(&r->in_err, d->src->err.status,
				    "receiving: %s", d->src->err.msg);
				d->src_eof = true;
			} else
				fail(r, d->src->err.status,
				    "reading input: %s", d->src->err.msg);
			return;
		}
	}
}

static void
dir_write(struct relay *r, struct dir *d)
{
	size_t n;
	enum io io;
	char msg[ERROR_MSG_MAX + 80];

	while (d->len > 0) {
		io = stream_write(d->dst, d->buf + d->head, d->len, &n);
		if (io == IO_DONE) {
			d->head += n;
			d->len -= n;
			d->bytes += n;
			d->wwant = IO_WANT_WRITE;
			r->last_activity = now_ms();
			if (d->len == 0)
				d->head = 0;
			if (!d->dst->nonblocking)
				return;
			continue;
		}
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			d->wwant = io;
			return;
		}
		if (d == &r->dir[DIR_OUT]) {
			d->done = true;
			snprintf(msg, sizeof(msg), "%s%s", d->dst->err.msg,
			    d->src_eof ? "" : ", and the rest of the input");
			note(&r->out_err, ST_RUNTIME, "the peer is gone (%s): "
			    "%llu bytes of input were not sent", msg,
			    (unsigned long long)d->len);
		} else {
			fail(r, d->dst->err.status ? d->dst->err.status :
			    ST_RUNTIME, "writing output: %s", d->dst->err.msg);
		}
		return;
	}
}

/*
 * The source is at EOF and everything is written: half-close the sink, and
 * for local input start the -q clock.  A half-close that wants I/O is
 * simply tried again after the next poll.
 */
static void
dir_finish(struct relay *r, struct dir *d)
{
	if (d->done || r->finished || !d->src_eof || d->len > 0)
		return;
	dir_shutdown(r, d);
	if (d->done && d == &r->dir[DIR_OUT] && r->opts.quit_after_eof_ms >= 0)
		r->quit_at = now_ms() + r->opts.quit_after_eof_ms;
}

static int
add_pfd(struct pollfd *pfds, int *n, int fd, short events)
{
	int i;

	for (i = 0; i < *n; i++) {
		if (pfds[i].fd == fd) {
			pfds[i].events |= events;
			return i;
		}
	}
	pfds[*n].fd = fd;
	pfds[*n].events = events;
	pfds[*n].revents = 0;
	return (*n)++;
}

static void
deadline_min(int64_t *t, int64_t at)
{
	if (at >= 0 && (*t < 0 || at < *t))
		*t = at;
}

int
relay_prepare(struct relay *r, struct pollfd *pfds, int *timeout)
{
	int64_t at = -1, now;
	bool immediate = false;	/* some work needs no poll */
	short ev;
	int n = 0, i, fd;

	for (i = 0; i < 2; i++)
		r->dir[i].rslot = r->dir[i].wslot = -1;
	if (r->finished) {
		*timeout = 0;
		return 0;
	}
	if (!r->established[0] || !r->established[1]) {
		for (i = 0; i < 2; i++) {
			if (r->established[i])
				continue;
			fd = stream_want_fd(r->end[i], r->hs_want[i], &ev);
			(void)add_pfd(pfds, &n, fd, ev);
		}
		deadline_min(&at, r->opts.handshake_deadline);
	} else {
		for (i = 0; i < 2; i++) {
			struct dir *d = &r->dir[i];

			if (d->done)
				continue;
			if (!d->src_eof && d->len < d->cap) {
				if (stream_pending(d->src) > 0 &&
				    d->rwant == IO_WANT_READ)
					immediate = true;
				fd = stream_want_fd(d->src, d->rwant, &ev);
				d->rslot = add_pfd(pfds, &n, fd, ev);
			}
			if (d->len > 0 || d->src_eof) {
				fd = stream_want_fd(d->dst, d->wwant, &ev);
				d->wslot = add_pfd(pfds, &n, fd, ev);
			}
		}
		if (r->opts.idle_ms > 0)
			deadline_min(&at, r->last_activity + r->opts.idle_ms);
		deadline_min(&at, r->quit_at);
	}
	if (immediate) {
		*timeout = 0;
	} else if (at < 0) {
		*timeout = -1;
	} else {
		now = now_ms();
		*timeout = at <= now ? 0 : (at - now > INT_MAX ? INT_MAX :
		    (int)(at - now));
	}
	return n;
}

static bool
slot_ready(const struct pollfd *pfds, int n, int slot, enum io want)
{
	short ev = want == IO_WANT_WRITE ? POLLOUT : POLLIN;

	if (slot < 0 || slot >= n)
		return false;
	return (pfds[slot].revents & (ev | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

static void
check_finished(struct relay *r)
{
	int64_t now;

	if (r->finished)
		return;
	if (r->dir[DIR_IN].done &&
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
	if (r->dir[DIR_IN].done && (r->dir[DIR_OUT].done ||
	    r->opts.end_at_peer_eof)) {
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

void
relay_handle(struct relay *r, const struct pollfd *pfds, int n)
{
	int i;

	if (r->finished)
		return;
	if (!r->established[0] || !r->established[1]) {
		if (!step_handshakes(r)) {
			check_finished(r);
			return;
		}
		/* Fall through: data may already be waiting. */
		pfds = NULL;
		n = 0;
		for (i = 0; i < 2; i++)
			if (!r->dir[i].done && !r->dir[i].src_eof &&
			    r->dir[i].src->nonblocking)
				dir_read(r, &r->dir[i]);
	}
	for (i = 0; i < 2 && !r->finished; i++) {
		struct dir *d = &r->dir[i];
		bool wready = slot_ready(pfds, n, d->wslot, d->wwant);

		if (d->done)
			continue;
		if (!d->src_eof && (slot_ready(pfds, n, d->rslot, d->rwant) ||
		    (stream_pending(d->src) > 0 && d->rwant == IO_WANT_READ))) {
			size_t before = d->len;

			dir_read(r, d);
			/* A non-blocking writer can take it straight away. */
			if (d->len > before && d->dst->nonblocking)
				wready = true;
		}
		if (r->finished)
			break;
		if (d->len > 0 && wready)
			dir_write(r, d);
		dir_finish(r, d);
	}
	check_finished(r);
}

bool
relay_finished(struct relay *r, enum status *st, struct error *e)
{
	if (!r->finished)
		check_finished(r);
	if (!r->finished)
		return false;
	if (r->status == ST_OK && r->truncated) {
		r->status = ST_TRUNCATED;
		snprintf(r->err.msg, sizeof(r->err.msg), "the peer closed the "
		    "connection without close_notify: the data may be "
		    "truncated");
		r->err.status = ST_TRUNCATED;
	}
	*st = r->status;
	*e = r->err;
	return true;
}

void
relay_get_stats(const struct relay *r, struct relay_stats *s)
{
	s->sent = r->dir[DIR_OUT].bytes;
	s->received = r->dir[DIR_IN].bytes;
	s->truncated = r->truncated;
}

enum status
relay_run(struct stream *local, struct stream *net,
    const struct relay_opts *o, struct relay_stats *stats, struct error *e)
{
	struct pollfd pfds[RELAY_MAX_PFDS];
	struct relay *r;
	enum status st;
	int n, timeout, rc;

	if ((r = relay_new(local, net, o)) == NULL)
		return err_set(e, ST_RUNTIME, "out of memory");
	/* Start the handshakes before the first poll. */
	relay_handle(r, NULL, 0);
	while (!relay_finished(r, &st, e)) {
		n = relay_prepare(r, pfds, &timeout);
		rc = poll(pfds, (nfds_t)n, timeout);
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			st = err_errno(e, ST_RUNTIME, errno, "poll");
			break;
		}
		relay_handle(r, pfds, n);
	}
	/*
	 * A clean end says so even when no half-close went out (--recv-only,
	 * --no-shutdown, -q, a terminal): without close_notify a TLS peer
	 * could not tell the end from a truncation.
	 */
	if (st == ST_OK && !r->dir[DIR_OUT].shut_sent)
		(void)stream_shutdown_write(net);
	if (stats != NULL)
		relay_get_stats(r, stats);
	relay_free(r);
	return st;
}
