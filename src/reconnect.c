/*
 * --ssl-reconnect N: after the session, N more connections to the same
 * server, each with only a TLS handshake, offering the latest session the
 * server gave (tls.c keeps it).  One line each says whether it resumed.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "drivers.h"
#include "net.h"
#include "tls.h"

/* Drive s's handshake alone with poll(2), until done or the deadline. */
static enum status
handshake_alone(struct stream *s, int64_t deadline, struct error *e)
{
	struct pollfd pfd;
	int64_t left;
	enum io io;

	for (;;) {
		io = stream_handshake(s);
		if (io == IO_DONE)
			return ST_OK;
		if (io != IO_WANT_READ && io != IO_WANT_WRITE) {
			*e = s->err;
			return e->status != ST_OK ? e->status : ST_HANDSHAKE;
		}
		pfd.fd = stream_want_fd(s, io, &pfd.events);
		left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left <= 0)
			return err_set(e, ST_TIMEOUT, "TLS handshake timed out");
		if (poll(&pfd, 1, left < 0 ? -1 : (int)left) == -1 &&
		    errno != EINTR)
			return err_errno(e, ST_RUNTIME, errno, "poll");
	}
}

/* One more connection: connect, handshake, report, close_notify, close. */
static enum status
reconnect_once(const struct mode *m, unsigned n, struct error *e)
{
	const struct options *o = m->o;
	struct net_opts sock = {
		.family = o->family,
		.numeric = o->numeric,
		.src_addr = o->src_addr,
	};
	int64_t deadline = now_ms() + (o->wait_ms > 0 ? o->wait_ms :
	    KEEP_OPEN_HANDSHAKE_MS);
	struct tls_info info;
	struct stream *net;
	char peer[ADDR_STR_MAX];
	enum status st;
	int fd;

	if ((st = net_connect(o->host, o->port, &sock, deadline, &fd, peer,
	    e)) != ST_OK)
		return st;
	if ((net = net_stream_new(m, fd, e)) == NULL)
		return e->status;
	st = handshake_alone(net, deadline, e);
	if (st == ST_OK) {
		tls_get_info(net, &info);
		say("reconnect %u: TLS session %s (%s, %s)", n,
		    info.resumed ? "resumed" : "new", info.version,
		    info.cipher);
		stream_shutdown_write(net);
	}
	stream_close(net);
	return st;
}

int
run_reconnects(const struct mode *m, int rc)
{
	struct error e;
	enum status st;
	unsigned i;

	for (i = 1; i <= m->o->tls.reconnect; i++) {
		err_clear(&e);
		if ((st = reconnect_once(m, i, &e)) != ST_OK) {
			say("reconnect %u: %s", i, e.msg);
			if (rc == ST_OK)
				rc = st;
		}
	}
	return rc;
}
