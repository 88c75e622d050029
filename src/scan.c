/*
 * The scan driver (-z): which ports of one host accept a TCP connection.
 *
 * The host is resolved once.  Then up to --scan-concurrency non-blocking
 * connects are in flight on the event loop; each one that ends starts the
 * next port.  -w bounds each connect.  The results are kept per port and
 * printed in port order at the end, as OpenBSD nc words them: open ports
 * under -v, the others under -vv.  Nothing goes to standard output.
 *
 * With -u each port gets one empty datagram, in batches of the same width,
 * and the batch waits -w (or a second) for answers: a refusal (ICMP port
 * unreachable) marks the port closed, shown with -v; silence marks it
 * open|filtered, since UDP cannot tell an open port from a filtered one.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"
#include "loop.h"
#include "net.h"

#define SCAN_CONCURRENCY_DEFAULT	256
/* Descriptors kept free for stdio, the loop and the resolver. */
#define SCAN_FD_RESERVE			16
/* A port's result before its probe has ended. */
#define RESULT_UNKNOWN			(-1)
/* -z -u: neither an answer nor a refusal came within the wait. */
#define RESULT_OPEN_FILTERED		(-2)
/* -z -u: how long a batch of datagrams waits for refusals without -w. */
#define UDP_SCAN_WAIT_MS		1000

struct scan;

/* One connect in flight; a probe that ends takes the next port. */
struct probe {
	struct scan	*s;
	struct loop_io	 io;
	struct loop_timer timer;
	unsigned	 port;
	bool		 pending;	/* a connect is in flight */
};

struct scan {
	struct loop	*loop;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	int64_t		 wait_ms;	/* per probe, or <= 0: none */
	const struct port_set *ports;
	unsigned	 next;		/* the next port to look at */
	size_t		 in_flight;
	int		*result;	/* per port: 0 open, an errno, or unknown */
	bool		 failed;	/* e holds why the scan cannot go on */
	struct error	 e;
};

/* The next port of the set not yet started, or 0 when none is left. */
static unsigned
next_port(struct scan *s)
{
	while (s->next <= 65535) {
		unsigned p = s->next++;

		if (port_set_has(s->ports, p))
			return p;
	}
	return 0;
}

static void
set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)ss)->sin6_port =
		    htons((uint16_t)port);
	else
		((struct sockaddr_in *)(void *)ss)->sin_port =
		    htons((uint16_t)port);
}

static loop_io_fn	probe_ready;
static loop_timer_fn	probe_timeout;

/*
 * Watch p's pending connect on fd (and its -w timer).  False when the loop
 * refused: the scan then stops, with s->e saying why.
 */
static bool
probe_watch(struct probe *p, int fd)
{
	struct scan *s = p->s;

	loop_io_init(&p->io, fd, probe_ready);
	if (loop_io_set(s->loop, &p->io, EPOLLOUT, &s->e) == -1)
		goto fail;
	if (s->wait_ms > 0 && loop_timer_set(s->loop, &p->timer,
	    now_ms() + s->wait_ms) == -1) {
		err_set(&s->e, ST_RUNTIME, "out of memory");
		goto fail;
	}
	s->in_flight++;
	p->pending = true;
	return true;
fail:
	loop_io_del(s->loop, &p->io);
	close(fd);
	s->failed = true;
	return false;
}

/*
 * Start connects on p until one is pending or no port is left.  A connect
 * that ends at once records its result and moves on.  A socket that cannot
 * be made stops the scan: the ports after it would go unreported.
 */
static void
probe_start(struct probe *p)
{
	struct scan *s = p->s;
	unsigned port;
	int fd, rc;

	while (!s->failed && (port = next_port(s)) != 0) {
		fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, IPPROTO_TCP);
		if (fd == -1) {
			err_errno(&s->e, ST_RUNTIME, errno, "socket");
			s->failed = true;
			return;
		}
		set_port(&s->addr, port);
		rc = net_connect_start(fd, (struct sockaddr *)&s->addr,
		    s->addrlen);
		if (rc == EINPROGRESS) {
			p->port = port;
			probe_watch(p, fd);
			return;
		}
		s->result[port] = rc;
		close(fd);
	}
}

/* p's connect has ended with rc (0: open); take the next port. */
static void
probe_done(struct probe *p, int rc)
{
	struct scan *s = p->s;

	loop_io_del(s->loop, &p->io);
	loop_timer_stop(s->loop, &p->timer);
	close(p->io.fd);
	s->result[p->port] = rc;
	s->in_flight--;
	p->pending = false;
	probe_start(p);
}

static void
probe_ready(struct loop_io *io, uint32_t revents)
{
	struct probe *p = container_of(io, struct probe, io);

	probe_done(p, net_connect_result(io->fd, (revents & EPOLLOUT) != 0));
}

/* A probe still pending at -w counts as closed (or filtered). */
static void
probe_timeout(struct loop_timer *t)
{
	probe_done(container_of(t, struct probe, timer), ETIMEDOUT);
}

/*
 * How many probes may be in flight: the number asked for, but below the
 * limit of open files, whose soft value is first raised to the hard one.
 */
static size_t
scan_width(unsigned asked, unsigned nports)
{
	struct rlimit rl;
	size_t n = asked != 0 ? asked : SCAN_CONCURRENCY_DEFAULT;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rlim_t soft = rl.rlim_cur;

			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				rl.rlim_cur = soft;
		}
		if (rl.rlim_cur != RLIM_INFINITY) {
			rlim_t room = rl.rlim_cur > SCAN_FD_RESERVE + 1 ?
			    rl.rlim_cur - SCAN_FD_RESERVE : 1;

			if (n > room)
				n = (size_t)room;
		}
	}
	if (n > nports)
		n = nports;
	return n;
}

/* --- -z -u: datagrams, in batches of the scan's width. */

/*
 * Send one empty datagram to port on a connected socket; -1 when the
 * socket cannot be made (the scan stops), else the socket, or -2 with the
 * result recorded when the send itself already failed.
 */
static int
udp_probe_send(struct scan *s, unsigned port)
{
	int fd;

	fd = socket(s->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd == -1) {
		err_errno(&s->e, ST_RUNTIME, errno, "socket");
		s->failed = true;
		return -1;
	}
	set_port(&s->addr, port);
	if (connect(fd, (struct sockaddr *)&s->addr, s->addrlen) == -1 ||
	    send(fd, "", 0, 0) == -1) {
		s->result[port] = errno;
		close(fd);
		return -2;
	}
	return fd;
}

/*
 * Wait for the batch's answers until the deadline: a refusal (ICMP port
 * unreachable, read back as ECONNREFUSED) closes a port, any datagram back
 * opens it, and silence leaves it open|filtered.
 */
static void
udp_batch_wait(struct scan *s, struct pollfd *pfd, const unsigned *ports,
    size_t n, int64_t deadline)
{
	size_t left = n, i;
	int64_t now;
	char byte;
	int rc;

	while (left > 0 && (now = now_ms()) < deadline) {
		rc = poll(pfd, n, (int)(deadline - now));
		if (rc == -1 && errno != EINTR)
			break;
		for (i = 0; rc > 0 && i < n; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			s->result[ports[i]] = recv(pfd[i].fd, &byte, 1, 0) >= 0 ?
			    0 : errno;
			close(pfd[i].fd);
			pfd[i].fd = -1;
			left--;
		}
	}
	for (i = 0; i < n; i++)
		if (pfd[i].fd >= 0) {
			s->result[ports[i]] = RESULT_OPEN_FILTERED;
			close(pfd[i].fd);
		}
}

static void
scan_udp(struct scan *s, size_t width)
{
	struct pollfd *pfd = calloc(width, sizeof(*pfd));
	unsigned *ports = calloc(width, sizeof(*ports));
	unsigned port = 1;
	size_t n;
	int fd;

	if (pfd == NULL || ports == NULL) {
		err_set(&s->e, ST_RUNTIME, "out of memory");
		s->failed = true;
	}
	while (!s->failed && port != 0) {
		for (n = 0; n < width && (port = next_port(s)) != 0; ) {
			if ((fd = udp_probe_send(s, port)) == -1)
				break;
			if (fd < 0)
				continue;
			pfd[n].fd = fd;
			pfd[n].events = POLLIN;
			ports[n++] = port;
		}
		udp_batch_wait(s, pfd, ports, n, now_ms() + (s->wait_ms > 0 ?
		    s->wait_ms : UDP_SCAN_WAIT_MS));
	}
	free(pfd);
	free(ports);
}

/* Print the results in port order; returns the exit status. */
static int
scan_report(const struct scan *s, const char *host, const char *proto)
{
	struct servent *se;
	bool any_open = false;
	unsigned port;
	int rc;

	for (port = 1; port <= 65535; port++) {
		if (!port_set_has(s->ports, port))
			continue;
		if ((rc = s->result[port]) == 0) {
			any_open = true;
			if (verbose < 1)
				continue;
			se = getservbyport(htons((uint16_t)port), proto);
			fprintf(stderr, "Connection to %s %u port [%s/%s] "
			    "succeeded!\n", host, port, proto,
			    se != NULL ? se->s_name : "*");
		} else if (rc == RESULT_OPEN_FILTERED) {
			any_open = true;
			if (verbose >= 1)
				say("%s port %u (udp): open|filtered: no "
				    "answer and no refusal", host, port);
		} else if (rc != RESULT_UNKNOWN && (verbose >= 2 ||
		    (verbose >= 1 && rc == ECONNREFUSED &&
		    strcmp(proto, "udp") == 0)))
			say("connect to %s port %u (%s) failed: %s", host,
			    port, proto, strerror(rc));
	}
	return any_open ? ST_OK : ST_RUNTIME;
}

int
mode_scan(const struct mode *m)
{
	const struct options *o = m->o;
	struct net_opts no = { .family = o->family, .numeric = o->numeric,
	    .udp = o->udp };
	struct scan s;
	struct probe *probes = NULL;
	size_t i, n;
	int rc;

	memset(&s, 0, sizeof(s));
	err_clear(&s.e);
	s.ports = &o->scan_ports;
	s.wait_ms = o->wait_ms;
	s.next = 1;
	if (net_resolve(o->host, &no, o->wait_ms > 0 ? now_ms() + o->wait_ms :
	    -1, &s.addr, &s.addrlen, &s.e) != ST_OK)
		return report_failure(&s.e);
	n = scan_width(o->scan_concurrency, s.ports->count);
	s.result = malloc(65536 * sizeof(*s.result));
	probes = calloc(n, sizeof(*probes));
	if (s.result == NULL || probes == NULL ||
	    (s.loop = loop_new(&s.e)) == NULL) {
		if (s.e.msg[0] == '\0')
			err_set(&s.e, ST_RUNTIME, "out of memory");
		rc = report_failure(&s.e);
		goto out;
	}
	for (i = 0; i < 65536; i++)
		s.result[i] = RESULT_UNKNOWN;
	for (i = 0; i < n && !o->udp; i++) {
		probes[i].s = &s;
		loop_timer_init(&probes[i].timer, probe_timeout);
		probe_start(&probes[i]);
	}
	if (o->udp)
		scan_udp(&s, n);
	while (s.in_flight > 0 && !s.failed)
		if (loop_once(s.loop, &s.e) == -1)
			s.failed = true;
	rc = s.failed ? report_failure(&s.e) : scan_report(&s, o->host,
	    o->udp ? "udp" : "tcp");
out:
	/* After a failure some probes may still be pending: close them. */
	for (i = 0; probes != NULL && i < n; i++)
		if (probes[i].pending) {
			loop_io_del(s.loop, &probes[i].io);
			loop_timer_stop(s.loop, &probes[i].timer);
			close(probes[i].io.fd);
		}
	if (s.loop != NULL)
		loop_free(s.loop);
	free(probes);
	free(s.result);
	return rc;
}
