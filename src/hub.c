/*
 * The hub: standard input broadcast to ports, ports gathered to stdout; or
 * as a broker, every port and standard input broadcast to the other ports.
 */
#include "config.h"

#include <sys/epoll.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "flow.h"
#include "hub.h"
#include "net.h"

/*
 * A chunk of input.  refs counts the ports reading it; a port that reaches
 * the end of the input waits with no chunk, and takes the next one that
 * grows.  Ports move through the chunks in order, so chunks are freed from
 * the oldest on, once no port holds them.  A sealed chunk takes no more
 * bytes.  The output queue uses chunks too, without refs.  origin is the
 * sender: 0 for standard input, else a port's id; a port skips its own.
 */
struct chunk {
	struct chunk	*next;
	unsigned	 refs;
	bool		 sealed;
	unsigned long	 origin;
	size_t		 cap;
	size_t		 len;
	char		 data[];
};

struct port {
	struct hub	*hub;
	struct stream	*stream;
	struct relay	*relay;
	void		*arg;
	struct port	*prev, *next;		/* every port */
	struct port	*wprev, *wnext;		/* ports waiting to write */
	bool		 wwaiting;
	struct chunk	*cur;		/* reading here, or NULL: next chunk */
	size_t		 off;
	uint64_t	 queued;	/* input bytes not yet read */
	bool		 full;
	struct loop_timer stall;
	unsigned long	 id;
	bool		 behind;	/* broker: BROKER_BEHIND queued */
	bool		 lagging;	/* and for BROKER_HOLD_MS */
	bool		 dropped;	/* broker: its queue overflowed */
	bool		 waiting;	/* not yet a receiver (HUB_PORT_WAIT) */
	struct chat_line *line;		/* chat: its partial line */
};

struct hub {
	struct hub_opts	 opts;
	struct loop	*loop;
	struct stream	*in;
	struct stream	*out;
	struct loop_io	 in_io;
	struct loop_io	 out_io;
	/* Input, oldest first. */
	struct chunk	*ihead, *itail;
	bool		 in_eof;
	bool		 in_hot;		/* reads fill their chunk */
	struct port	*ports;
	size_t		 nports;
	size_t		 nfull;
	/* Output, oldest first. */
	struct chunk	*ohead, *otail;
	size_t		 ooff;			/* written from ohead */
	size_t		 oqueued;
	struct port	*writers;		/* waiting for room */
	bool		 failed;
	/* The broker. */
	unsigned long	 next_id;
	size_t		 nholding;		/* behind, not lagging */
	size_t		 ndropped;		/* ports dropped, not closed */
	size_t		 nwaiting;		/* ports not yet joined */
	struct chat_line in_line;		/* chat: stdin's partial line */
};

static struct chunk *
chunk_new(size_t cap)
{
	struct chunk *c = malloc(sizeof(*c) + cap);

	if (c != NULL) {
		c->next = NULL;
		c->refs = 0;
		c->sealed = false;
		c->origin = 0;
		c->cap = cap;
		c->len = 0;
	}
	return c;
}

static void hub_arm(struct hub *);
static void wake_writers(struct hub *);

/* --- Input. */

/* Free the input chunks every port has finished. */
static void
trim_input(struct hub *h)
{
	struct chunk *c;

	while ((c = h->ihead) != NULL && c->refs == 0 &&
	    (c->sealed || h->nports == 0)) {
		h->ihead = c->next;
		if (h->itail == c)
			h->itail = NULL;
		free(c);
	}
}

static void
set_full(struct port *p, bool full)
{
	struct hub *h = p->hub;

	if (p->full == full)
		return;
	p->full = full;
	if (full) {
		h->nfull++;
		/* Without a timer it could stall the others for ever. */
		if (loop_timer_set(h->loop, &p->stall, now_ms() +
		    HUB_STALL_MS) == -1 && h->opts.on_stall != NULL)
			h->opts.on_stall(p->arg);
	} else {
		h->nfull--;
		loop_timer_stop(h->loop, &p->stall);
	}
}

/*
 * Broker: the port was behind for BROKER_HOLD_MS: it holds the senders
 * back no longer, and falls further behind until it reads or overflows.
 */
static void
set_lagging(struct port *p)
{
	struct hub *h = p->hub;

	if (!p->behind || p->lagging)
		return;
	p->lagging = true;
	h->nholding--;
	wake_writers(h);
	hub_arm(h);
}

/*
 * Broker: the port has BROKER_BEHIND bytes queued, or no longer.  While
 * it is behind, and for at most BROKER_HOLD_MS, the senders wait for it.
 */
static void
set_behind(struct port *p, bool behind)
{
	struct hub *h = p->hub;

	if (p->behind == behind)
		return;
	p->behind = behind;
	if (behind) {
		h->nholding++;
		/* Without a timer it could hold the others for ever. */
		if (loop_timer_set(h->loop, &p->stall, now_ms() +
		    BROKER_HOLD_MS) == -1)
			set_lagging(p);
		return;
	}
	loop_timer_stop(h->loop, &p->stall);
	if (p->lagging)
		p->lagging = false;
	else
		h->nholding--;
	wake_writers(h);
	hub_arm(h);
}

/*
 * Broker: the port fell too far behind.  It leaves the hub now: what it
 * held is released, and it takes nothing more; its session is told.
 */
static void
drop_port(struct port *p)
{
	struct hub *h = p->hub;
	uint64_t queued = p->queued;

	if (p->cur != NULL)
		p->cur->refs--;
	p->cur = NULL;
	p->queued = 0;
	set_behind(p, false);
	p->dropped = true;
	h->ndropped++;
	if (p->line != NULL)
		p->line->len = 0;
	if (h->opts.on_overflow != NULL)
		h->opts.on_overflow(p->arg, queued);
}

/*
 * The input grew by n bytes in chunk c: every port but its sender has
 * more to read.  Nothing is freed here (the caller trims after).
 */
static void
input_grew(struct hub *h, struct chunk *c, size_t n)
{
	struct port *p;

	for (p = h->ports; p != NULL; p = p->next) {
		if (p->id == c->origin || p->dropped || p->waiting)
			continue;
		if (p->cur == NULL) {
			p->cur = c;
			p->off = c->len - n;
			c->refs++;
		}
		p->queued += n;
		if (h->opts.broker && p->queued > BROKER_QUEUE_MAX) {
			drop_port(p);
			continue;
		}
		if (h->opts.broker)
			set_behind(p, p->queued >= BROKER_BEHIND);
		else if (p->queued >= HUB_PORT_MAX)
			set_full(p, true);
		if (p->relay != NULL)
			relay_wake(p->relay);
	}
}

/* --- The broker's input: whole chunks, one per sender's write. */

/* Add a sealed chunk from origin to the input, for the other ports. */
static void
append_input(struct hub *h, struct chunk *c, unsigned long origin)
{
	c->sealed = true;
	c->origin = origin;
	if (h->itail != NULL) {
		h->itail->sealed = true;
		h->itail->next = c;
	} else {
		h->ihead = c;
	}
	h->itail = c;
	input_grew(h, c, c->len);
	trim_input(h);
}

/* Send len bytes from origin to the other ports.  -1: out of memory. */
static int
publish(struct hub *h, unsigned long origin, const char *data, size_t len)
{
	struct chunk *c;

	if (len == 0)
		return 0;
	if ((c = chunk_new(len)) == NULL)
		return -1;
	memcpy(c->data, data, len);
	c->len = len;
	append_input(h, c, origin);
	return 0;
}

/* Chat: send the complete line l as origin's, and empty it. */
static int
publish_line(struct hub *h, unsigned long origin, struct chat_line *l)
{
	struct chunk *c, *small;

	if ((c = chunk_new(chat_format_max(l->len))) == NULL)
		return -1;
	c->len = chat_format(origin, l->buf, l->len, c->data);
	c->cap = c->len;
	/* Escaping may take four bytes for one: keep only what is used. */
	if ((small = realloc(c, sizeof(*c) + c->len)) != NULL)
		c = small;
	l->len = 0;
	append_input(h, c, origin);
	return 0;
}

/* Chat: cut len bytes from origin into lines and send the complete ones. */
static int
publish_lines(struct hub *h, unsigned long origin, struct chat_line *l,
    const char *data, size_t len)
{
	size_t k;
	bool done;

	while (len > 0) {
		k = chat_line_take(l, data, len, &done);
		data += k;
		len -= k;
		if (done && publish_line(h, origin, l) == -1)
			return -1;
	}
	return 0;
}

static int
publish_any(struct hub *h, unsigned long origin, struct chat_line *l,
    const char *data, size_t len)
{
	if (h->opts.chat)
		return publish_lines(h, origin, l, data, len);
	return publish(h, origin, data, len);
}

/* Broker: standard input is one more sender, number 0. */
static void
read_input_broker(struct hub *h)
{
	char buf[FLOW_BUF_SMALL];
	struct error e;
	size_t n;
	enum io io;

	io = stream_read(h->in, buf, sizeof(buf), &n);
	if (io == IO_DONE &&
	    publish_any(h, 0, &h->in_line, buf, n) == 0)
		return;
	if (io == IO_DONE) {
		err_set(&e, ST_RUNTIME, "out of memory");
		if (h->opts.on_input_error != NULL)
			h->opts.on_input_error(&e, h->opts.arg);
	} else if (io == IO_EOF || io == IO_ERROR) {
		if (io == IO_ERROR && h->opts.on_input_error != NULL)
			h->opts.on_input_error(&h->in->err, h->opts.arg);
		/* A last line without its newline still goes out. */
		if (h->opts.chat && h->in_line.len > 0)
			(void)publish_line(h, 0, &h->in_line);
	} else {
		return;
	}
	h->in_eof = true;
}

/* The chunk that takes the next read, or NULL when memory is short. */
static struct chunk *
input_tail(struct hub *h)
{
	struct chunk *c = h->itail;

	if (c != NULL && !c->sealed && c->len < c->cap)
		return c;
	if (c != NULL)
		c->sealed = true;
	if ((c = chunk_new(h->in_hot ? FLOW_BUF_MAX : FLOW_BUF_SMALL)) == NULL)
		return NULL;
	if (h->itail != NULL)
		h->itail->next = c;
	else
		h->ihead = c;
	h->itail = c;
	return c;
}

static void
read_input(struct hub *h)
{
	struct chunk *c;
	struct port *p;
	size_t n;
	enum io io;

	/* No chunk to read into: waiting would spin on a readable input. */
	if ((c = input_tail(h)) == NULL)
		io = stream_fail(h->in, ST_RUNTIME, ENOMEM,
		    "no memory for a buffer");
	else
		io = stream_read(h->in, c->data + c->len, c->cap - c->len, &n);
	if (io == IO_DONE) {
		h->in_hot = n == c->cap - c->len && n >= FLOW_BUF_SMALL / 2;
		c->len += n;
		input_grew(h, c, n);
	} else if (io == IO_EOF || io == IO_ERROR) {
		/* A failed read ends the input as EOF does, and says so. */
		if (io == IO_ERROR && h->opts.on_input_error != NULL)
			h->opts.on_input_error(&h->in->err, h->opts.arg);
		h->in_eof = true;
		for (p = h->ports; p != NULL; p = p->next)
			if (p->relay != NULL)
				relay_wake(p->relay);
	}
	trim_input(h);
}

static void
on_input(struct loop_io *io, uint32_t revents)
{
	struct hub *h = container_of(io, struct hub, in_io);

	(void)revents;
	if (h->opts.broker)
		read_input_broker(h);
	else
		read_input(h);
	hub_arm(h);
}

/* --- Output. */

static void
wake_writers(struct hub *h)
{
	struct port *p;

	while ((p = h->writers) != NULL) {
		h->writers = p->wnext;
		p->wwaiting = false;
		p->wnext = p->wprev = NULL;
		if (h->writers != NULL)
			h->writers->wprev = NULL;
		if (p->relay != NULL)
			relay_wake(p->relay);
	}
}

static void
write_output(struct hub *h)
{
	struct chunk *c;
	size_t n;
	enum io io;

	while ((c = h->ohead) != NULL) {
		io = stream_write(h->out, c->data + h->ooff, c->len - h->ooff,
		    &n);
		if (io == IO_ERROR) {
			h->failed = true;
			if (h->opts.on_fatal != NULL)
				h->opts.on_fatal(&h->out->err,
				    h->out->sys_errno, h->opts.arg);
			return;
		}
		if (io != IO_DONE)
			break;
		h->ooff += n;
		h->oqueued -= n;
		if (h->ooff < c->len)
			break;	/* a blocking descriptor: once per wake-up */
		h->ohead = c->next;
		if (h->otail == c)
			h->otail = NULL;
		free(c);
		h->ooff = 0;
	}
	if (h->oqueued < HUB_OUT_MAX)
		wake_writers(h);
}

static void
on_output(struct loop_io *io, uint32_t revents)
{
	struct hub *h = container_of(io, struct hub, out_io);

	(void)revents;
	write_output(h);
	if (!h->failed)
		hub_arm(h);
}

/*
 * Broker: whether sender p (NULL: standard input) waits, because a port
 * it sends to is behind and has not been for long (BROKER_HOLD_MS).
 */
static bool
sender_waits(const struct hub *h, const struct port *p)
{
	return h->nholding - (p != NULL && p->behind && !p->lagging ? 1 : 0) >
	    0;
}

static void
hub_arm(struct hub *h)
{
	struct error e;
	bool reading = h->in != NULL && !h->in_eof && !h->opts.no_input &&
	    h->nports > h->ndropped + h->nwaiting;

	if (h->failed)
		return;
	if (h->opts.broker)
		reading = reading && !sender_waits(h, NULL);
	else
		reading = reading && h->nfull == 0;
	if (h->in != NULL)
		(void)loop_io_set(h->loop, &h->in_io, reading ? EPOLLIN : 0,
		    &e);
	if (h->out != NULL)
		(void)loop_io_set(h->loop, &h->out_io, h->oqueued > 0 ?
		    EPOLLOUT : 0, &e);
}

/* --- Ports. */

static enum io
port_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	struct port *p = s->ctx;
	struct hub *h = p->hub;
	struct chunk *c;
	size_t k;

	*n = 0;
	while (*n < len && (c = p->cur) != NULL) {
		k = c->len - p->off;
		if (k > len - *n)
			k = len - *n;
		memcpy((char *)buf + *n, c->data + p->off, k);
		p->off += k;
		*n += k;
		if (p->off < c->len || !c->sealed)
			break;
		/* Finished with a sealed chunk: on to the next not its own. */
		c->refs--;
		for (c = c->next; c != NULL && c->origin == p->id; c = c->next)
			;
		p->cur = c;
		p->off = 0;
		if (p->cur != NULL)
			p->cur->refs++;
	}
	/* A broker's port has no end of input: other clients may talk. */
	if (*n == 0)
		return !h->opts.broker && (h->in_eof || h->opts.no_input) ?
		    IO_EOF : IO_WANT_READ;
	p->queued -= *n;
	if (h->opts.broker)
		set_behind(p, p->queued >= BROKER_BEHIND);
	if (p->full && p->queued < HUB_PORT_MAX) {
		set_full(p, false);
		if (h->nfull == 0)
			hub_arm(h);
	}
	trim_input(h);
	return IO_DONE;
}

/* The port waits for room: it is woken with the other writers. */
static enum io
wait_for_room(struct port *p)
{
	struct hub *h = p->hub;

	if (!p->wwaiting) {
		p->wwaiting = true;
		p->wprev = NULL;
		p->wnext = h->writers;
		if (h->writers != NULL)
			h->writers->wprev = p;
		h->writers = p;
	}
	return IO_WANT_WRITE;
}

/* Broker: what a client sent goes to the other ports. */
static enum io
broker_write(struct port *p, const void *buf, size_t len, size_t *n)
{
	struct hub *h = p->hub;

	*n = 0;
	if (p->dropped) {
		/* Its session is ending: what it sends goes nowhere. */
		*n = len;
		return IO_DONE;
	}
	if (sender_waits(h, p))
		return wait_for_room(p);
	if (h->opts.chat && p->line == NULL &&
	    (p->line = calloc(1, sizeof(*p->line))) == NULL)
		return stream_fail(p->stream, ST_RUNTIME, 0, "out of memory");
	if (publish_any(h, p->id, p->line, buf, len) == -1)
		return stream_fail(p->stream, ST_RUNTIME, 0, "out of memory");
	*n = len;
	hub_arm(h);
	return IO_DONE;
}

static enum io
port_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	struct port *p = s->ctx;
	struct hub *h = p->hub;
	struct chunk *c = h->otail;
	size_t k;

	if (h->opts.broker)
		return broker_write(p, buf, len, n);
	*n = 0;
	if (h->oqueued >= HUB_OUT_MAX || h->failed)
		return wait_for_room(p);
	if (c == NULL || c->len == c->cap) {
		if ((c = chunk_new(len > FLOW_BUF_SMALL ? FLOW_BUF_MAX :
		    FLOW_BUF_SMALL)) == NULL)
			return stream_fail(s, ST_RUNTIME, 0, "out of memory");
		if (h->otail != NULL)
			h->otail->next = c;
		else
			h->ohead = c;
		h->otail = c;
	}
	k = c->cap - c->len < len ? c->cap - c->len : len;
	memcpy(c->data + c->len, buf, k);
	c->len += k;
	h->oqueued += k;
	*n = k;
	hub_arm(h);
	return IO_DONE;
}

/* A session's end of input leaves standard output open for the others. */
static enum io
port_shutdown_write(struct stream *s)
{
	(void)s;
	return IO_DONE;
}

static size_t
port_pending(const struct stream *s)
{
	const struct port *p = s->ctx;

	return (size_t)p->queued;
}

static int
port_want_fd(const struct stream *s, enum io want, short *events)
{
	(void)s;
	(void)want;
	*events = 0;
	return -1;	/* the hub wakes the relay */
}

static int
port_query(const struct stream *s, enum stream_query q, void *out)
{
	(void)s;
	switch (q) {
	case STREAM_Q_NONBLOCKING:
	case STREAM_Q_EOF_CLEAN:
		*(bool *)out = true;
		return 0;
	case STREAM_Q_FD:
		*(int *)out = -1;
		return 0;
	default:
		return -1;
	}
}

static void
port_close(struct stream *s)
{
	struct port *p = s->ctx;
	struct hub *h = p->hub;

	set_full(p, false);
	if (p->wwaiting) {
		if (p->wprev != NULL)
			p->wprev->wnext = p->wnext;
		else
			h->writers = p->wnext;
		if (p->wnext != NULL)
			p->wnext->wprev = p->wprev;
	}
	if (p->cur != NULL)
		p->cur->refs--;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		h->ports = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	h->nports--;
	loop_timer_stop(h->loop, &p->stall);
	if (p->behind && !p->lagging)
		h->nholding--;
	if (p->dropped)
		h->ndropped--;
	if (p->waiting)
		h->nwaiting--;
	/* Chat: a last line without its newline still goes out. */
	if (p->line != NULL && p->line->len > 0)
		(void)publish_line(h, p->id, p->line);
	free(p->line);
	/* One receiver fewer: a sender may no longer wait. */
	if (h->opts.broker)
		wake_writers(h);
	trim_input(h);
	hub_arm(h);
	free(p);
}

static const struct stream_ops port_ops = {
	.name = "hub port",
	.read = port_read,
	.write = port_write,
	.shutdown_write = port_shutdown_write,
	.pending = port_pending,
	.want_fd = port_want_fd,
	.query = port_query,
	.close = port_close,
};

static void
on_stall(struct loop_timer *t)
{
	struct port *p = container_of(t, struct port, stall);

	if (p->hub->opts.broker)
		set_lagging(p);
	else if (p->full && p->hub->opts.on_stall != NULL)
		p->hub->opts.on_stall(p->arg);
}

struct stream *
hub_port_new(struct hub *h, void *arg, unsigned flags)
{
	struct stream *s;
	struct port *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((s = stream_layer_new(&port_ops, p, NULL)) == NULL) {
		free(p);
		return NULL;
	}
	p->hub = h;
	p->stream = s;
	p->arg = arg;
	p->id = ++h->next_id;
	p->waiting = (flags & HUB_PORT_WAIT) != 0;
	if (p->waiting)
		h->nwaiting++;
	loop_timer_init(&p->stall, on_stall);
	/* It reads from the next chunk on: seal the one being filled. */
	if (h->itail != NULL)
		h->itail->sealed = true;
	p->next = h->ports;
	if (h->ports != NULL)
		h->ports->prev = p;
	h->ports = p;
	h->nports++;
	/* One receiver more, and not behind: a sender may go on. */
	if (h->opts.broker)
		wake_writers(h);
	hub_arm(h);
	return s;
}

void
hub_port_join(struct stream *s)
{
	struct port *p = s->ctx;
	struct hub *h = p->hub;

	if (!p->waiting)
		return;
	p->waiting = false;
	h->nwaiting--;
	/* It reads from the next chunk on, as a new port does. */
	if (h->itail != NULL)
		h->itail->sealed = true;
	if (h->opts.broker)
		wake_writers(h);
	hub_arm(h);
}

void
hub_port_attach(struct stream *s, struct relay *r)
{
	struct port *p = s->ctx;

	p->relay = r;
}

size_t
hub_output_queued(const struct hub *h)
{
	return h->failed ? 0 : h->oqueued;
}

uint64_t
hub_port_queued(const struct stream *s)
{
	const struct port *p = s->ctx;

	return p->queued;
}

unsigned long
hub_port_id(const struct stream *s)
{
	const struct port *p = s->ctx;

	return p->id;
}

int
hub_broadcast(struct hub *h, const char *text, size_t len)
{
	int rc = publish(h, 0, text, len);

	hub_arm(h);
	return rc;
}

/* --- The hub. */

struct hub *
hub_new(struct loop *loop, struct stream *in, struct stream *out,
    const struct hub_opts *o, struct error *e)
{
	struct hub *h;
	short ev;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	h->opts = *o;
	h->loop = loop;
	h->in = in;
	h->out = out;
	if (in != NULL)
		loop_io_init(&h->in_io, stream_want_fd(in, IO_WANT_READ, &ev),
		    on_input);
	if (out != NULL)
		loop_io_init(&h->out_io, stream_want_fd(out, IO_WANT_WRITE,
		    &ev), on_output);
	return h;
}

void
hub_free(struct hub *h)
{
	struct chunk *c;

	if (h == NULL)
		return;
	if (h->in != NULL)
		loop_io_del(h->loop, &h->in_io);
	if (h->out != NULL)
		loop_io_del(h->loop, &h->out_io);
	while ((c = h->ihead) != NULL) {
		h->ihead = c->next;
		free(c);
	}
	while ((c = h->ohead) != NULL) {
		h->ohead = c->next;
		free(c);
	}
	stream_close(h->in);
	stream_close(h->out);
	free(h);
}
