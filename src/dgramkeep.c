/*
 * The keep-open driver for datagrams (-l -k -u, and -l -k -u -U): many
 * peers at once on one socket.
 *
 * The design: one unconnected socket, demultiplexed here, rather than a
 * connected socket per peer beside the listening one.  Per-peer sockets
 * need SO_REUSEADDR or SO_REUSEPORT and rely on the kernel preferring a
 * connected socket, and the datagrams a new peer sends before its socket
 * is connected still land on the listening one.  Here every datagram is
 * read with recvfrom(), the sender's address finds its peer (a new address
 * makes a new peer and session), and the datagram is queued on that peer.
 * Replies go out with sendto() to the peer's address, so each peer gets
 * only its own.
 *
 * Each peer is a stream without a descriptor (want_fd gives -1): it keeps
 * datagram boundaries, so its relay runs record flows, and the driver
 * wakes the relay when a datagram arrives or the socket has room again.
 * The local end is a hub port (stdin to every peer, every peer to stdout)
 * or, with -e and -c, a child of the peer's own.  A peer's session ends
 * with -i, with -q after stdin's EOF, or at SIGINT or SIGTERM.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"
#include "hub.h"
#include "loop.h"
#include "net.h"

/* The most datagrams queued for one peer; more are dropped, and said. */
#define PEER_QUEUE_MAX	1024
/* Datagrams read per wake-up, so that a flood cannot starve the rest. */
#define RECV_BATCH	64
/* The receive buffer: a whole datagram of any kind we take. */
#define RECV_BUF	(256 * 1024)

struct dgram {
	struct dgram	*next;
	size_t		 len;
	char		 data[];
};

struct dkeep;

struct peer {
	struct dkeep	*k;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	char		 name[ADDR_STR_MAX];
	struct stream	*net;		/* this peer's datagrams */
	struct stream	*port;		/* the hub port, or the program's end */
	struct relay	*relay;
	struct dgram	*head, *tail;
	size_t		 queued;
	uint64_t	 dropped;
	bool		 blocked;	/* a sendto found no room */
	struct peer	*prev, *next;
};

struct dkeep {
	const struct mode *m;
	struct loop	*loop;
	struct hub	*hub;
	struct loop_io	 io;		/* the shared socket */
	char		*rbuf;
	struct peer	*peers;
	size_t		 npeers;
	bool		 stopping;
	bool		 over;
	int		 status;
};

/* --- The peer stream. */

static enum io
peer_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	struct peer *p = s->ctx;
	struct dgram *d;

	*n = 0;
	while ((d = p->head) != NULL) {
		p->head = d->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		/* The flow's buffer holds RECV_BUF: nothing is cut. */
		*n = d->len < len ? d->len : len;
		memcpy(buf, d->data, *n);
		free(d);
		if (*n > 0)
			return IO_DONE;
	}
	return IO_WANT_READ;
}

/* Queued datagrams are bytes that no descriptor will report. */
static size_t
peer_pending(const struct stream *s)
{
	const struct peer *p = s->ctx;

	return p->head == NULL ? 0 : p->head->len > 0 ? p->head->len : 1;
}

static void dkeep_want_out(struct dkeep *);

static enum io
peer_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	struct peer *p = s->ctx;
	ssize_t r;

	*n = 0;
	do
		r = sendto(p->k->io.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		    (struct sockaddr *)&p->addr, p->addrlen);
	while (r == -1 && errno == EINTR);
	if (r >= 0) {
		*n = len;
		return IO_DONE;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
		p->blocked = true;
		dkeep_want_out(p->k);
		return IO_WANT_WRITE;
	}
	return stream_fail(s, ST_RUNTIME, errno, "sendto");
}

static enum io
peer_shutdown(struct stream *s)
{
	(void)s;
	return IO_DONE;		/* datagrams have no EOF to send */
}

static int
peer_want_fd(const struct stream *s, enum io want, short *events)
{
	(void)s;
	(void)want;
	*events = 0;
	return -1;		/* the driver wakes the relay */
}

static int
peer_query(const struct stream *s, enum stream_query q, void *out)
{
	(void)s;
	switch (q) {
	case STREAM_Q_DATAGRAM:
	case STREAM_Q_NONBLOCKING:
		*(bool *)out = true;
		return 0;
	default:
		return -1;
	}
}

static const struct stream_ops peer_ops = {
	.name = "dgram-peer",
	.read = peer_read,
	.write = peer_write,
	.shutdown_write = peer_shutdown,
	.pending = peer_pending,
	.want_fd = peer_want_fd,
	.query = peer_query,
};

/* --- Peers. */

static void
peer_free(struct peer *p)
{
	struct dkeep *k = p->k;
	struct dgram *d;

	relay_free(p->relay);
	stream_close(p->port);
	stream_close(p->net);
	while ((d = p->head) != NULL) {
		p->head = d->next;
		free(d);
	}
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		k->peers = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	k->npeers--;
	free(p);
}

static void
peer_done(struct relay *r, void *arg)
{
	struct peer *p = arg;
	struct relay_stats stats;
	struct error e;
	enum status st;

	(void)relay_finished(r, &st, &e);
	relay_get_stats(r, &stats);
	if (st != ST_OK)
		say("%s: %s", p->name, e.msg);
	if (verbose >= 1)
		say("Closed %s: %llu bytes sent, %llu bytes received", p->name,
		    (unsigned long long)stats.sent,
		    (unsigned long long)stats.received);
	peer_free(p);
}

static void
peer_stalled(void *arg)
{
	struct peer *p = arg;

	relay_stop(p->relay, ST_RUNTIME, "dropped: it took no input for %d "
	    "s", HUB_STALL_MS / 1000);
}

/* A new peer and its session, or NULL (said why). */
static struct peer *
peer_new(struct dkeep *k, const struct sockaddr_storage *ss, socklen_t len,
    const char *name)
{
	const struct mode *m = k->m;
	struct relay_opts ro;
	struct peer *p;
	struct error e;

	err_clear(&e);
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		say("%s: out of memory", name);
		return NULL;
	}
	p->k = k;
	memcpy(&p->addr, ss, len);
	p->addrlen = len;
	snprintf(p->name, sizeof(p->name), "%s", name);
	session_opts(m, &ro);
	ro.on_done = peer_done;
	ro.done_arg = p;
	if ((p->net = stream_layer_new(&peer_ops, p, NULL)) == NULL ||
	    (k->hub == NULL && (p->port = exec_local_new(m, k->loop, p->name,
	    k->io.fd, p->net, &e)) == NULL) ||
	    (k->hub != NULL && (p->port = hub_port_new(k->hub, p, 0)) == NULL) ||
	    (p->relay = relay_new(k->loop, p->port, p->net, &ro, &e)) ==
	    NULL) {
		say("%s: %s", name, e.msg[0] != '\0' ? e.msg : "out of memory");
		stream_close(p->port);
		stream_close(p->net);
		free(p);
		return NULL;
	}
	if (k->hub != NULL)
		hub_port_attach(p->port, p->relay);
	p->next = k->peers;
	if (k->peers != NULL)
		k->peers->prev = p;
	k->peers = p;
	k->npeers++;
	if (verbose >= 1)
		say("Connection from %s", name);
	relay_start(p->relay);
	return p;
}

static struct peer *
peer_find(struct dkeep *k, const struct sockaddr_storage *ss, socklen_t len)
{
	struct peer *p;

	for (p = k->peers; p != NULL; p = p->next)
		if (p->addrlen == len && memcmp(&p->addr, ss, len) == 0)
			return p;
	return NULL;
}

/* Queue a datagram for p, or drop it when p is too far behind. */
static void
peer_queue(struct peer *p, const char *data, size_t len)
{
	struct dgram *d;

	if (p->queued >= PEER_QUEUE_MAX ||
	    (d = malloc(sizeof(*d) + len)) == NULL) {
		if (p->dropped++ == 0)
			say("warning: %s: its session is not keeping up; "
			    "datagrams from it are dropped", p->name);
		return;
	}
	d->next = NULL;
	d->len = len;
	memcpy(d->data, data, len);
	if (p->tail != NULL)
		p->tail->next = d;
	else
		p->head = d;
	p->tail = d;
	p->queued++;
	relay_wake(p->relay);
}

/* --- The shared socket. */

static void
dkeep_want_out(struct dkeep *k)
{
	struct error e;

	if (loop_io_set(k->loop, &k->io, k->io.events | EPOLLOUT, &e) == -1)
		say("warning: %s", e.msg);
}

/* One datagram in: to its peer, new or known. */
static void
dkeep_take(struct dkeep *k, const struct sockaddr_storage *ss,
    socklen_t len, size_t n)
{
	unsigned max = k->m->o->max_conns;
	char name[ADDR_STR_MAX];
	struct peer *p;

	if ((p = peer_find(k, ss, len)) == NULL) {
		addr_format((const struct sockaddr *)ss, name, sizeof(name));
		if (ss->ss_family == AF_UNIX && len <= sizeof(sa_family_t)) {
			if (verbose >= 1)
				say("a datagram from an unnamed socket, which "
				    "cannot be answered, is dropped");
			return;
		}
		if (k->stopping || (max > 0 && k->npeers >= max)) {
			if (verbose >= 1 && !k->stopping)
				say("%s: refused: %u peers already (-m %u)",
				    name, max, max);
			return;
		}
		if ((p = peer_new(k, ss, len, name)) == NULL)
			return;
	}
	peer_queue(p, k->rbuf, n);
}

static void
dkeep_recv(struct dkeep *k)
{
	struct sockaddr_storage ss;
	socklen_t len;
	ssize_t n;
	int i;

	for (i = 0; i < RECV_BATCH && !k->stopping; i++) {
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		n = recvfrom(k->io.fd, k->rbuf, RECV_BUF, MSG_DONTWAIT |
		    MSG_TRUNC, (struct sockaddr *)&ss, &len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			/* Not fatal: the socket serves the other peers. */
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				say("warning: receiving: %s", strerror(errno));
			return;
		}
		if ((size_t)n > RECV_BUF) {
			say("warning: a datagram of %zd bytes was cut to %d",
			    n, RECV_BUF);
			n = RECV_BUF;
		}
		dkeep_take(k, &ss, len, (size_t)n);
	}
}

static void
on_socket(struct loop_io *io, uint32_t revents)
{
	struct dkeep *k = container_of(io, struct dkeep, io);
	struct error e;
	struct peer *p;

	if (revents & EPOLLOUT) {
		(void)loop_io_set(k->loop, &k->io, k->stopping ? 0 : EPOLLIN,
		    &e);
		for (p = k->peers; p != NULL; p = p->next)
			if (p->blocked) {
				p->blocked = false;
				relay_wake(p->relay);
			}
	}
	if (revents & (EPOLLIN | EPOLLERR))
		dkeep_recv(k);
}

/* --- Ending. */

static void
dkeep_stop(struct dkeep *k)
{
	struct error e;
	struct peer *p;

	k->stopping = true;
	(void)loop_io_set(k->loop, &k->io, 0, &e);
	for (p = k->peers; p != NULL; p = p->next)
		relay_stop(p->relay, ST_OK, NULL);
}

static void
on_stop_signal(struct loop *l, int signo, void *arg)
{
	struct dkeep *k = arg;

	(void)l;
	(void)signo;
	/* A second signal does not wait for standard output to drain. */
	if (k->stopping)
		k->over = true;
	dkeep_stop(k);
}

static void
on_output_failed(const struct error *e, int errnum, void *arg)
{
	struct dkeep *k = arg;

	if (errnum == EPIPE) {
		k->status = EXIT_OUTPUT_GONE;
	} else {
		say("writing output: %s", e->msg);
		k->status = ST_RUNTIME;
	}
	dkeep_stop(k);
	if (k->npeers == 0)
		k->over = true;
}

static void
on_input_failed(const struct error *e, void *arg)
{
	(void)arg;
	say("warning: reading input: %s; the peers get no more of it",
	    e->msg);
}

static int
dkeep_setup(struct dkeep *k, int fd, struct error *e)
{
	const struct options *o = k->m->o;
	struct hub_opts ho = {
		.no_input = o->recv_only,
		.on_stall = peer_stalled,
		.on_input_error = on_input_failed,
		.on_fatal = on_output_failed,
		.arg = k,
	};
	struct stream *in, *out;

	if ((k->rbuf = malloc(RECV_BUF)) == NULL)
		return err_set(e, ST_RUNTIME, "out of memory"), -1;
	if ((k->loop = loop_new(e)) == NULL)
		return -1;
	if (o->exec != NULL || o->sh_exec != NULL) {
		if (loop_signal(k->loop, SIGCHLD, on_sigchld, NULL, e) == -1)
			return -1;
	} else {
		in = stream_fd_new(STDIN_FILENO, -1, 0);
		out = stream_fd_new(-1, STDOUT_FILENO, 0);
		if (in == NULL || out == NULL ||
		    (k->hub = hub_new(k->loop, in, out, &ho, e)) == NULL) {
			stream_close(in);
			stream_close(out);
			return err_set(e, ST_RUNTIME, "out of memory"), -1;
		}
	}
	loop_io_init(&k->io, fd, on_socket);
	if (loop_io_set(k->loop, &k->io, EPOLLIN, e) == -1 ||
	    loop_signal(k->loop, SIGINT, on_stop_signal, k, e) == -1 ||
	    loop_signal(k->loop, SIGTERM, on_stop_signal, k, e) == -1)
		return -1;
	return 0;
}

int
mode_dgram_keep_open(const struct mode *m, int fd)
{
	struct dkeep k;
	struct error e;

	memset(&k, 0, sizeof(k));
	k.m = m;
	err_clear(&e);
	if (dkeep_setup(&k, fd, &e) == -1) {
		k.status = report_failure(&e);
		k.over = true;
	}
	while (!k.over) {
		if (loop_once(k.loop, &e) == -1) {
			k.status = report_failure(&e);
			break;
		}
		if (k.stopping && k.npeers == 0 && (k.hub == NULL ||
		    hub_output_queued(k.hub) == 0) && child_count() == 0)
			k.over = true;
	}
	while (k.peers != NULL)
		peer_free(k.peers);
	if (k.loop != NULL)
		loop_io_del(k.loop, &k.io);
	hub_free(k.hub);
	loop_free(k.loop);
	free(k.rbuf);
	close(fd);
	return k.status;
}
