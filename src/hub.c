/* The hub: standard input broadcast to ports, ports gathered to stdout. */
#include "config.h"

#include <sys/epoll.h>

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "hub.h"
#include "net.h"

/*
 * A chunk of input.  refs counts the ports reading it; a port that reaches
 * the end of the input waits with no chunk, and takes the next one that
 * grows.  Ports move through the chunks in order, so chunks are freed from
 * the oldest on, once no port holds them.  A sealed chunk takes no more
 * bytes.  The output queue uses chunks too, without refs.
 */
struct chunk {
	struct chunk	*next;
	unsigned	 refs;
	bool		 sealed;
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
};

static struct chunk *
chunk_new(size_t cap)
{
	struct chunk *c = malloc(sizeof(*c) + cap);

	if (c != NULL) {
		c->next = NULL;
		c->refs = 0;
		c->sealed = false;
		c->cap = cap;
		c->len = 0;
	}
	return c;
}

static void hub_arm(struct hub *);

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

/* The input grew by n bytes in chunk c: every port has more to read. */
static void
input_grew(struct hub *h, struct chunk *c, size_t n)
{
	struct port *p;

	for (p = h->ports; p != NULL; p = p->next) {
		if (p->cur == NULL) {
			p->cur = c;
			p->off = c->len - n;
			c->refs++;
		}
		p->queued += n;
		if (p->queued >= HUB_PORT_MAX)
			set_full(p, true);
		if (p->relay != NULL)
			relay_wake(p->relay);
	}
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

	if ((c = input_tail(h)) == NULL)
		return;
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

static void
hub_arm(struct hub *h)
{
	struct error e;
	bool reading = h->in != NULL && !h->in_eof && !h->opts.no_input &&
	    h->nports > 0 && h->nfull == 0;

	if (h->failed)
		return;
	if (h->in != NULL)
		(void)loop_io_set(h->loop, &h->in_io, reading ? EPOLLIN : 0,
		    &e);
	(void)loop_io_set(h->loop, &h->out_io, h->oqueued > 0 ? EPOLLOUT : 0,
	    &e);
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
		/* Finished with a sealed chunk: on to the next. */
		c->refs--;
		p->cur = c->next;
		p->off = 0;
		if (p->cur != NULL)
			p->cur->refs++;
	}
	if (*n == 0)
		return h->in_eof || h->opts.no_input ? IO_EOF : IO_WANT_READ;
	p->queued -= *n;
	if (p->full && p->queued < HUB_PORT_MAX) {
		set_full(p, false);
		if (h->nfull == 0)
			hub_arm(h);
	}
	trim_input(h);
	return IO_DONE;
}

static enum io
port_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	struct port *p = s->ctx;
	struct hub *h = p->hub;
	struct chunk *c = h->otail;
	size_t k;

	*n = 0;
	if (h->oqueued >= HUB_OUT_MAX || h->failed) {
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

	if (p->full && p->hub->opts.on_stall != NULL)
		p->hub->opts.on_stall(p->arg);
}

struct stream *
hub_port_new(struct hub *h, void *arg)
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
	loop_timer_init(&p->stall, on_stall);
	/* It reads from the next chunk on: seal the one being filled. */
	if (h->itail != NULL)
		h->itail->sealed = true;
	p->next = h->ports;
	if (h->ports != NULL)
		h->ports->prev = p;
	h->ports = p;
	h->nports++;
	hub_arm(h);
	return s;
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
	loop_io_init(&h->out_io, stream_want_fd(out, IO_WANT_WRITE, &ev),
	    on_output);
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
