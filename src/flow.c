/* One direction of bytes, with a buffer that follows the load. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "net.h"

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
}

void
flow_release(struct flow *f)
{
	free(f->buf);
	f->buf = NULL;
	f->cap = f->head = f->len = 0;
}

/*
 * Make room to read into: allocate, grow or compact.  Returns the room, or
 * 0 when the buffer is full (or memory is short, which waits like full).
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
		flow_release(f);
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

enum io
flow_read(struct flow *f, size_t *got)
{
	size_t n, room, asked, before = f->len, total = 0;
	bool filled = false;
	enum io io;

	for (;;) {
		if ((room = make_room(f)) == 0 || (f->record && f->len > 0)) {
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

enum io
flow_write(struct flow *f)
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
