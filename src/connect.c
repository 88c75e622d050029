/* The connect driver: one session with the named host or Unix socket. */
#include "config.h"

#include "drivers.h"
#include "net.h"
#include "unixsock.h"

int
mode_connect(const struct mode *m)
{
	const struct options *o = m->o;
	struct net_opts sock = {
		.family = o->family,
		.numeric = o->numeric,
		.src_addr = o->src_addr,
		.src_port = o->src_port,
		.udp = o->udp,
	};
	int64_t deadline = o->wait_ms > 0 ? now_ms() + o->wait_ms : -1;
	char peer[ADDR_STR_MAX];
	struct error e;
	enum status st;
	int fd;

	err_clear(&e);
	if (o->unix_sock)
		st = unix_connect(o->unix_path, o->udp, &fd, peer, &e);
	else
		st = net_connect(o->host, o->port, &sock, deadline, &fd, peer,
		    &e);
	if (st != ST_OK)
		return report_failure(&e);
	if (verbose >= 1)
		say("Connected to %s", peer);
	return run_reconnects(m, run_session(m, fd, deadline));
}
