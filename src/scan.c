/*
 * The scan driver (-z): which ports of one host accept a TCP connection.
 *
 * The host is resolved once.  Then up to --scan-concurrency non-blocking
 * connects are in flight on the event loop; each one that ends starts the
 * next port.  -w bounds each connect.  The results are kept per port and
 * printed in port order at the end, as OpenBSD nc words them: open ports
 * under -v, the others under -vv.  Nothing goes to standard output.
 *
 * With --ssl (a probe) each port that accepts gets a TLS handshake, through
 * the same TLS stream as a connect, on the same loop, with the one context
 * main() built for the whole scan.  -w bounds the connect and the handshake
 * together (without -w the handshake gets SCAN_HANDSHAKE_MS).  Once it is
 * established the probe sends close_notify and FIN, and reads until the
 * peer's own close (at most SCAN_CLOSE_MS), so that the peer sees a clean
 * end and no reset.  What each port showed is kept, and printed in port
 * order with the others: a line per open port under -v (always for a port
 * whose probe failed), and with --ssl-info one report per port of the list.
 *
 * The exit status of a probe scan is 1 when no port accepted; otherwise the
 * worst status of the ports that accepted, in the order of status_worse()
 * (status.h): 5 (a refused certificate) over 4 (a failed handshake) over 3
 * (a handshake timeout) over 1 over 0.  Closed ports do not count, as in a
 * plain scan.
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
#include "report.h"
#include "tls.h"

#define SCAN_CONCURRENCY_DEFAULT	256
/* Descriptors kept free for stdio, the loop and the resolver. */
#define SCAN_FD_RESERVE			16
/* A port's result before its probe has ended. */
#define RESULT_UNKNOWN			(-1)
/* -z -u: neither an answer nor a refusal came within the wait. */
#define RESULT_OPEN_FILTERED		(-2)
/* -z -u: how long a batch of datagrams waits for refusals without -w. */
#define UDP_SCAN_WAIT_MS		1000
/* -z --ssl: the handshake's bound without -w. */
#define SCAN_HANDSHAKE_MS		10000
/* -z --ssl: the most a probe waits for the peer's close after its own. */
#define SCAN_CLOSE_MS			2000
/* -z --ssl: the most reads of what a peer sends while we close. */
#define SCAN_CLOSE_READS		64

struct scan;

/* What a probe is waiting for. */
enum probe_step {
	STEP_CONNECT,
	STEP_HANDSHAKE,		/* --ssl */
	STEP_CLOSE,		/* --ssl: close_notify, then the peer's end */
};

/* One connect in flight; a probe that ends takes the next port. */
struct probe {
	struct scan	*s;
	struct loop_io	 io;
	struct loop_timer timer;
	unsigned	 port;
	bool		 pending;	/* a connect is in flight */
	enum probe_step	 step;
	struct stream	*net;		/* --ssl: TLS over the socket, or NULL */
	bool		 shut;		/* close_notify and FIN are out */
};

/* What a TLS probe found on a port that accepted. */
struct found {
	enum status	 st;		/* ST_OK, or why the probe failed */
	char		*line;		/* the summary, after "host port N: " */
	char		*report;	/* --ssl-info's report, or NULL */
};

struct scan {
	const struct mode *m;
	struct loop	*loop;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	int64_t		 wait_ms;	/* per probe, or <= 0: none */
	const struct port_set *ports;
	unsigned	 next;		/* the next port to look at */
	size_t		 in_flight;
	int		*result;	/* per port: 0 open, an errno, or unknown */
	struct found	**found;	/* --ssl: per port, or NULL */
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
	p->step = STEP_CONNECT;
	p->net = NULL;
	p->shut = false;
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
 * that ends at once records its result and moves on; with --ssl, one that
 * succeeded at once is watched too, and its handshake starts from the loop.
 * A socket that cannot be made stops the scan: the ports after it would go
 * unreported.
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
		if (rc == EINPROGRESS || (rc == 0 && s->m->ctx != NULL)) {
			p->port = port;
			probe_watch(p, fd);
			return;
		}
		s->result[port] = rc;
		close(fd);
	}
}

/* p's port is done with: release its socket, and take the next port. */
static void
probe_next(struct probe *p)
{
	struct scan *s = p->s;

	loop_io_del(s->loop, &p->io);
	loop_timer_stop(s->loop, &p->timer);
	if (p->net != NULL)
		stream_close(p->net);	/* it owns the socket */
	else
		close(p->io.fd);
	p->net = NULL;
	s->in_flight--;
	p->pending = false;
	probe_start(p);
}

/* p's connect has ended with rc (0: open); take the next port. */
static void
probe_done(struct probe *p, int rc)
{
	p->s->result[p->port] = rc;
	probe_next(p);
}

/* --- -z --ssl: the handshake, and a clean close. */

static void
found_free(struct found *f)
{
	if (f == NULL)
		return;
	free(f->line);
	free(f->report);
	free(f);
}

/*
 * The summary of what p's handshake found: the version, the cipher, the
 * peer's subject, its days left and the verification; or, when no
 * certificate was seen, why the handshake failed.
 */
static char *
probe_summary(struct probe *p, enum status st, const char *failure)
{
	SSL *ssl = tls_get_ssl(p->net);
	X509 *leaf = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	struct tls_info info;
	char line[2048];

	if (leaf == NULL && ssl != NULL)
		leaf = tls_peer_leaf(ssl);
	tls_get_info(p->net, &info);
	if (leaf == NULL || (st != ST_OK && st != ST_VERIFY))
		snprintf(line, sizeof(line), "%s", failure != NULL ? failure :
		    "no peer certificate");
	else
		snprintf(line, sizeof(line), "%s, %s, subject %s, %d days "
		    "left, %s%s", info.version, info.cipher, info.subject,
		    report_days_left(leaf), st == ST_OK ? "verification " : "",
		    st == ST_OK ? info.verify : failure);
	return strdup(line);
}

/*
 * Keep what p's handshake found, replacing what was kept before (a peer
 * may refuse our certificate only after our side of the handshake is
 * over).  Out of memory stops the scan.
 */
static void
probe_found(struct probe *p, enum status st, const char *failure)
{
	struct scan *s = p->s;
	const struct options *o = s->m->o;
	struct found *f = calloc(1, sizeof(*f));

	if (f != NULL && (f->line = probe_summary(p, st, failure)) != NULL &&
	    (o->ssl_info == REPORT_NONE || (f->report = report_build_port(
	    p->net, o->ssl_info, s->m->report_fd == STDERR_FILENO ?
	    "tlsnc: " : "", p->port, st, failure)) != NULL)) {
		f->st = st;
		found_free(s->found[p->port]);
		s->found[p->port] = f;
		return;
	}
	found_free(f);
	err_set(&s->e, ST_RUNTIME, "out of memory");
	s->failed = true;
}

static uint32_t
epoll_events(short ev)
{
	return ((ev & POLLIN) ? EPOLLIN : 0) | ((ev & POLLOUT) ? EPOLLOUT : 0);
}

/* Wait for what p's stream wants; false (the scan stops) when we cannot. */
static bool
probe_want(struct probe *p, enum io want)
{
	struct scan *s = p->s;
	short ev = 0;

	if (stream_want_fd(p->net, want, &ev) != p->io.fd) {
		err_set(&s->e, ST_RUNTIME, "port %u: the TLS stream waits on "
		    "another descriptor", p->port);
		s->failed = true;
		return false;
	}
	if (loop_io_set(s->loop, &p->io, epoll_events(ev), &s->e) == -1) {
		s->failed = true;
		return false;
	}
	return true;
}

/*
 * Send close_notify and FIN, then read until the peer's own end: closing
 * with its unread bytes (TLS 1.3 tickets) would send it a reset.  A peer
 * that refuses our certificate only now, after our handshake, fails the
 * probe after all.
 */
static void
probe_close(struct probe *p)
{
	char buf[4096];
	size_t n;
	enum io io = IO_DONE;
	int i;

	if (!p->shut) {
		io = stream_shutdown_write(p->net);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			if (probe_want(p, io))
				return;
			io = IO_ERROR;
		}
		if (io != IO_DONE) {
			probe_next(p);
			return;
		}
		p->shut = true;
	}
	for (i = 0; i < SCAN_CLOSE_READS && (io = stream_read(p->net, buf,
	    sizeof(buf), &n)) == IO_DONE; i++)
		continue;
	/* A peer that goes on sending is not waited for. */
	if (io == IO_DONE) {
		probe_next(p);
		return;
	}
	if ((io == IO_WANT_READ || io == IO_WANT_WRITE) && probe_want(p, io))
		return;
	if (io == IO_ERROR && p->net->err.status == ST_VERIFY)
		probe_found(p, ST_VERIFY, p->net->err.msg);
	probe_next(p);
}

/* A step of p's handshake; at its end, what it found is kept. */
static void
probe_handshake(struct probe *p)
{
	struct scan *s = p->s;
	enum io io = stream_handshake(p->net);
	enum status st;

	if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
		if (!probe_want(p, io))
			probe_next(p);
		return;
	}
	if (io != IO_DONE) {
		st = p->net->err.status != ST_OK ? p->net->err.status :
		    ST_HANDSHAKE;
		probe_found(p, st, p->net->err.msg);
		probe_next(p);
		return;
	}
	probe_found(p, ST_OK, NULL);
	p->step = STEP_CLOSE;
	if (loop_timer_set(s->loop, &p->timer, now_ms() + SCAN_CLOSE_MS) ==
	    -1) {
		probe_next(p);
		return;
	}
	probe_close(p);
}

/*
 * p's port accepted: layer TLS over its socket (as a connect does, with the
 * scan's one context) and start the handshake.  Without -w the handshake
 * gets SCAN_HANDSHAKE_MS.
 */
static void
probe_tls_begin(struct probe *p)
{
	struct scan *s = p->s;
	int fd = p->io.fd;

	s->result[p->port] = 0;
	loop_io_del(s->loop, &p->io);
	if ((p->net = net_stream_new(s->m, fd, &s->e)) == NULL) {
		/* The socket is closed already. */
		loop_timer_stop(s->loop, &p->timer);
		s->in_flight--;
		p->pending = false;
		s->failed = true;
		return;
	}
	p->step = STEP_HANDSHAKE;
	if (s->wait_ms <= 0 && loop_timer_set(s->loop, &p->timer,
	    now_ms() + SCAN_HANDSHAKE_MS) == -1) {
		err_set(&s->e, ST_RUNTIME, "out of memory");
		s->failed = true;
		probe_next(p);
		return;
	}
	probe_handshake(p);
}

static void
probe_ready(struct loop_io *io, uint32_t revents)
{
	struct probe *p = container_of(io, struct probe, io);
	int rc;

	switch (p->step) {
	case STEP_CONNECT:
		rc = net_connect_result(io->fd, (revents & EPOLLOUT) != 0);
		if (rc == 0 && p->s->m->ctx != NULL)
			probe_tls_begin(p);
		else
			probe_done(p, rc);
		break;
	case STEP_HANDSHAKE:
		probe_handshake(p);
		break;
	case STEP_CLOSE:
		probe_close(p);
		break;
	}
}

/*
 * A connect still pending at -w counts as closed (or filtered); a
 * handshake still going is a timeout.  A close that the peer does not
 * answer is only given up.
 */
static void
probe_timeout(struct loop_timer *t)
{
	struct probe *p = container_of(t, struct probe, timer);

	switch (p->step) {
	case STEP_CONNECT:
		probe_done(p, ETIMEDOUT);
		return;
	case STEP_HANDSHAKE:
		probe_found(p, ST_TIMEOUT, "TLS handshake timed out");
		break;
	case STEP_CLOSE:
		break;
	}
	probe_next(p);
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

/* The service name of port, as /etc/services has it, or "*". */
static const char *
service_of(unsigned port, const char *proto)
{
	struct servent *se = getservbyport(htons((uint16_t)port), proto);

	return se != NULL ? se->s_name : "*";
}

/*
 * --ssl: what the probe of an open port found, and the worse of worst and
 * its status.  The summary is printed under -v, and always after a
 * failure, so that a status other than 0 comes with its reason.
 */
static enum status
report_probe(const struct scan *s, const char *host, unsigned port,
    enum status worst)
{
	const struct found *f = s->found[port];

	if (f == NULL)
		return worst;
	if (verbose >= 1 || f->st != ST_OK)
		say("%s port %u [tcp/%s]: %s", host, port,
		    service_of(port, "tcp"), f->line);
	if (f->report != NULL)
		report_write(s->m, f->report);
	return status_worse(worst, f->st);
}

/* --ssl-info: the report of a port that did not accept (rc: its errno). */
static void
report_closed(const struct scan *s, unsigned port, int rc)
{
	const struct mode *m = s->m;
	struct sockaddr_storage ss = s->addr;
	char peer[ADDR_STR_MAX], *text;

	set_port(&ss, port);
	addr_format((struct sockaddr *)&ss, peer, sizeof(peer));
	text = report_build_closed(m->o->ssl_info, m->report_fd ==
	    STDERR_FILENO ? "tlsnc: " : "", peer, port, rc == ETIMEDOUT ?
	    ST_TIMEOUT : ST_RUNTIME, strerror(rc));
	if (text != NULL)
		report_write(m, text);
	free(text);
}

/*
 * Print the results in port order; returns the exit status: 1 when no
 * port is open, else 0, or with --ssl the worst status of the open ports.
 */
static int
scan_report(const struct scan *s, const char *host, const char *proto)
{
	enum status worst = ST_OK;
	bool any_open = false;
	unsigned port;
	int rc;

	for (port = 1; port <= 65535; port++) {
		if (!port_set_has(s->ports, port) ||
		    (rc = s->result[port]) == RESULT_UNKNOWN)
			continue;
		if (rc == 0) {
			any_open = true;
			if (s->found != NULL)
				worst = report_probe(s, host, port, worst);
			else if (verbose >= 1)
				fprintf(stderr, "Connection to %s %u port "
				    "[%s/%s] succeeded!\n", host, port, proto,
				    service_of(port, proto));
			continue;
		}
		if (rc == RESULT_OPEN_FILTERED) {
			any_open = true;
			if (verbose >= 1)
				say("%s port %u (udp): open|filtered: no "
				    "answer and no refusal", host, port);
			continue;
		}
		if (verbose >= 2 || (verbose >= 1 && rc == ECONNREFUSED &&
		    strcmp(proto, "udp") == 0))
			say("connect to %s port %u (%s) failed: %s", host,
			    port, proto, strerror(rc));
		if (s->found != NULL && s->m->o->ssl_info != REPORT_NONE)
			report_closed(s, port, rc);
	}
	return any_open ? (int)worst : ST_RUNTIME;
}

/* Close what the probes still hold (after a failure) and free the rest. */
static void
scan_free(struct scan *s, struct probe *probes, size_t n)
{
	size_t i;

	for (i = 0; probes != NULL && i < n; i++) {
		if (!probes[i].pending)
			continue;
		loop_io_del(s->loop, &probes[i].io);
		loop_timer_stop(s->loop, &probes[i].timer);
		if (probes[i].net != NULL)
			stream_close(probes[i].net);
		else
			close(probes[i].io.fd);
	}
	for (i = 0; s->found != NULL && i < 65536; i++)
		found_free(s->found[i]);
	if (s->loop != NULL)
		loop_free(s->loop);
	free(probes);
	free(s->found);
	free(s->result);
}

int
mode_scan(const struct mode *m)
{
	const struct options *o = m->o;
	struct net_opts sock = { .family = o->family, .numeric = o->numeric,
	    .udp = o->udp };
	struct scan s;
	struct probe *probes = NULL;
	size_t i, n;
	int rc;

	memset(&s, 0, sizeof(s));
	err_clear(&s.e);
	s.m = m;
	s.ports = &o->scan_ports;
	s.wait_ms = o->wait_ms;
	s.next = 1;
	if (net_resolve(o->host, &sock, o->wait_ms > 0 ? now_ms() + o->wait_ms :
	    -1, &s.addr, &s.addrlen, &s.e) != ST_OK)
		return report_failure(&s.e);
	n = scan_width(o->scan_concurrency, s.ports->count);
	s.result = malloc(65536 * sizeof(*s.result));
	probes = calloc(n, sizeof(*probes));
	if (m->ctx != NULL)
		s.found = calloc(65536, sizeof(*s.found));
	if (s.result == NULL || probes == NULL || (m->ctx != NULL &&
	    s.found == NULL) || (s.loop = loop_new(&s.e)) == NULL) {
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
	scan_free(&s, probes, n);
	return rc;
}
