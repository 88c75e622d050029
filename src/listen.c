/*
 * The listen drivers: one client (-l), or many at once (-l -k).
 *
 * Under -k each client is a relay between its network stream and a hub
 * port, all on one loop: what clients send goes to standard output, and
 * standard input goes to every client.  A client's failure is one warning
 * line; the listener goes on until SIGINT or SIGTERM, which close every
 * session cleanly.  With -e or -c there is no hub: each client's relay
 * runs between its network stream and a child of its own.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"
#include "hub.h"
#include "loop.h"
#include "net.h"

/* How soon accepting is tried again after running out of descriptors. */
#define ACCEPT_RETRY_MS	1000

struct client;

struct keep {
	const struct mode *m;
	struct loop	*loop;
	struct hub	*hub;
	struct loop_io	 lio;		/* the listening socket */
	struct loop_timer retry;	/* accepting again after EMFILE */
	int		 reserve;	/* a spare descriptor, for EMFILE */
	bool		 paused;	/* out of descriptors */
	bool		 warned;	/* and said so */
	struct client	*clients;
	size_t		 nclients;
	bool		 stopping;	/* a signal came */
	int		 status;	/* the exit status once over */
	bool		 over;
};

struct client {
	struct keep	*k;
	struct relay	*relay;
	struct stream	*port;		/* the hub port, or the child's pipes */
	struct child	*child;		/* with -e or -c */
	struct stream	*net;
	struct client	*prev, *next;
	char		 peer[ADDR_STR_MAX];
};

/* --- Clients. */

static void
resume_accepting(struct keep *k)
{
	struct error e;

	if (!k->paused || k->stopping)
		return;
	k->paused = false;
	loop_timer_stop(k->loop, &k->retry);
	(void)loop_io_set(k->loop, &k->lio, EPOLLIN, &e);
}

static void
client_free(struct client *c)
{
	struct keep *k = c->k;

	relay_free(c->relay);
	stream_close(c->port);
	stream_close(c->net);
	child_release(c->child);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		k->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	k->nclients--;
	free(c);
	resume_accepting(k);
}

/* The session is over: one line for a failure, one for -v, then free. */
static void
client_done(struct relay *r, void *arg)
{
	struct client *c = arg;
	struct relay_stats stats;
	struct error e;
	enum status st;
	uint64_t queued = c->child == NULL ? hub_port_queued(c->port) : 0;

	(void)relay_finished(r, &st, &e);
	relay_get_stats(r, &stats);
	session_end_report(c->k->m, c->net, st, &e);
	if (st != ST_OK)
		say("%s: %s", c->peer, e.msg);
	else if (queued + stats.unsent > 0 && !c->k->stopping)
		say("%s: %llu bytes of input were not sent to it", c->peer,
		    (unsigned long long)(queued + stats.unsent));
	if (verbose >= 1)
		say("Closed %s: %llu bytes sent, %llu bytes received",
		    c->peer, (unsigned long long)stats.sent,
		    (unsigned long long)stats.received);
	client_free(c);
}

/* Its queue stayed full: drop it, and say what it missed. */
static void
client_stalled(void *arg)
{
	struct client *c = arg;
	struct relay_stats stats;

	relay_get_stats(c->relay, &stats);
	relay_stop(c->relay, ST_RUNTIME, "dropped: it took no input for %d "
	    "s; %llu bytes of input were not sent to it", HUB_STALL_MS / 1000,
	    (unsigned long long)(hub_port_queued(c->port) + stats.unsent));
}

static void
client_new(struct keep *k, int fd, const char *peer)
{
	const struct mode *m = k->m;
	int64_t hs_ms = m->o->wait_ms > 0 ? m->o->wait_ms :
	    KEEP_OPEN_HANDSHAKE_MS;
	struct relay_opts ro;
	struct client *c;
	struct error e;

	err_clear(&e);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		say("%s: out of memory", peer);
		return;
	}
	c->k = k;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	session_opts(m, &ro);
	ro.handshake_deadline = now_ms() + hs_ms;
	ro.on_done = client_done;
	ro.done_arg = c;
	if ((c->net = net_stream_new(m, fd, &e)) == NULL ||
	    (k->hub == NULL && (c->port = exec_stream_new(m, k->loop, c->peer,
	    &c->child, &e)) == NULL) ||
	    (k->hub != NULL && (c->port = hub_port_new(k->hub, c)) == NULL) ||
	    (c->relay = relay_new(k->loop, c->port, c->net, &ro, &e)) ==
	    NULL) {
		say("%s: %s", peer, e.msg[0] != '\0' ? e.msg : "out of memory");
		stream_close(c->port);
		stream_close(c->net);
		child_release(c->child);
		free(c);
		return;
	}
	if (k->hub != NULL)
		hub_port_attach(c->port, c->relay);
	c->next = k->clients;
	if (k->clients != NULL)
		k->clients->prev = c;
	k->clients = c;
	k->nclients++;
	if (verbose >= 1)
		say("Connection from %s", peer);
	relay_start(c->relay);
}

/* --- Accepting. */

/*
 * Out of descriptors: take the waiting client with the spare descriptor
 * and close it, so that it is not left hanging, and stop accepting until a
 * client leaves or the retry timer fires.
 */
static void
out_of_fds(struct keep *k, int err)
{
	struct rlimit rl;
	char peer[ADDR_STR_MAX];
	int fd;

	if (!k->warned) {
		k->warned = true;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
			say("warning: out of file descriptors (%s, limit "
			    "%llu): accepting pauses until a client leaves",
			    strerror(err), (unsigned long long)rl.rlim_cur);
		else
			say("warning: out of file descriptors (%s): "
			    "accepting pauses until a client leaves",
			    strerror(err));
	}
	if (k->reserve >= 0) {
		close(k->reserve);
		if (net_try_accept(k->lio.fd, &fd, peer) == 0)
			close(fd);
		k->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	k->paused = true;
	loop_io_del(k->loop, &k->lio);
	/* Without the timer, accepting resumes when a client leaves. */
	(void)loop_timer_set(k->loop, &k->retry, now_ms() + ACCEPT_RETRY_MS);
}

static void
on_accept(struct loop_io *io, uint32_t revents)
{
	struct keep *k = container_of(io, struct keep, lio);
	unsigned max = k->m->o->max_conns;
	char peer[ADDR_STR_MAX];
	int fd, err, n;

	(void)revents;
	/* A bounded batch, so that a flood cannot starve the sessions. */
	for (n = 0; n < 64 && !k->paused; n++) {
		if ((err = net_try_accept(io->fd, &fd, peer)) == EAGAIN)
			break;
		if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
		    err == ENOMEM) {
			out_of_fds(k, err);
			break;
		}
		if (err != 0) {
			say("warning: accept: %s", strerror(err));
			break;
		}
		k->warned = false;
		if (max > 0 && k->nclients >= max) {
			close(fd);
			if (verbose >= 1)
				say("%s: refused: %u clients already "
				    "connected (-m %u)", peer, max, max);
			continue;
		}
		client_new(k, fd, peer);
	}
}

static void
on_retry(struct loop_timer *t)
{
	struct keep *k = container_of(t, struct keep, retry);

	resume_accepting(k);
}

/* --- Ending. */

static void
on_stop_signal(struct loop *l, int signo, void *arg)
{
	struct keep *k = arg;
	struct client *c;

	(void)l;
	(void)signo;
	/* A second signal does not wait for standard output to drain. */
	if (k->stopping)
		k->over = true;
	k->stopping = true;
	loop_io_del(k->loop, &k->lio);
	loop_timer_stop(k->loop, &k->retry);
	for (c = k->clients; c != NULL; c = c->next)
		relay_stop(c->relay, ST_OK, NULL);
}

static void
on_output_failed(const struct error *e, int errnum, void *arg)
{
	struct keep *k = arg;
	struct client *c;

	if (errnum == EPIPE) {
		/* Standard output's reader went away: end quietly. */
		k->status = EXIT_OUTPUT_GONE;
	} else {
		say("writing output: %s", e->msg);
		k->status = ST_RUNTIME;
	}
	k->stopping = true;
	loop_io_del(k->loop, &k->lio);
	for (c = k->clients; c != NULL; c = c->next)
		relay_stop(c->relay, ST_OK, NULL);
	if (k->nclients == 0)
		k->over = true;
}

static void
on_input_failed(const struct error *e, void *arg)
{
	(void)arg;
	say("warning: reading input: %s; the clients get no more of it",
	    e->msg);
}

/* Use every descriptor the hard limit allows. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The local end the clients share: stdin and stdout through a hub, or with
 * -e and -c none at all, for each client runs a child of its own.
 */
static int
keep_local_new(struct keep *k, struct error *e)
{
	struct hub_opts ho = {
		.no_input = k->m->o->recv_only,
		.on_stall = client_stalled,
		.on_input_error = on_input_failed,
		.on_fatal = on_output_failed,
		.arg = k,
	};
	struct stream *in, *out;

	if (k->m->o->exec != NULL || k->m->o->sh_exec != NULL)
		return loop_signal(k->loop, SIGCHLD, on_sigchld, NULL, e);
	in = stream_fd_new(STDIN_FILENO, -1, 0);
	out = stream_fd_new(-1, STDOUT_FILENO, 0);
	if (in == NULL || out == NULL ||
	    (k->hub = hub_new(k->loop, in, out, &ho, e)) == NULL) {
		stream_close(in);
		stream_close(out);
		return err_set(e, ST_RUNTIME, "out of memory"), -1;
	}
	return 0;
}

static int
keep_setup(struct keep *k, int lfd, struct error *e)
{
	int fl;

	if ((fl = fcntl(lfd, F_GETFL)) == -1 ||
	    fcntl(lfd, F_SETFL, fl | O_NONBLOCK) == -1)
		return err_errno(e, ST_RUNTIME, errno, "fcntl"), -1;
	if ((k->loop = loop_new(e)) == NULL || keep_local_new(k, e) == -1)
		return -1;
	loop_io_init(&k->lio, lfd, on_accept);
	loop_timer_init(&k->retry, on_retry);
	if (loop_io_set(k->loop, &k->lio, EPOLLIN, e) == -1 ||
	    loop_signal(k->loop, SIGINT, on_stop_signal, k, e) == -1 ||
	    loop_signal(k->loop, SIGTERM, on_stop_signal, k, e) == -1)
		return -1;
	return 0;
}

int
mode_keep_open(const struct mode *m, int lfd)
{
	struct keep k;
	struct error e;

	memset(&k, 0, sizeof(k));
	k.m = m;
	err_clear(&e);
	raise_fd_limit();
	k.reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (keep_setup(&k, lfd, &e) == -1) {
		k.status = report_failure(&e);
		k.over = true;
	}
	while (!k.over) {
		if (loop_once(k.loop, &e) == -1) {
			k.status = report_failure(&e);
			break;
		}
		/*
		 * Stopped: once every session is closed, output written and
		 * every child reaped.
		 */
		if (k.stopping && k.nclients == 0 && (k.hub == NULL ||
		    hub_output_queued(k.hub) == 0) && child_count() == 0)
			k.over = true;
	}
	while (k.clients != NULL)
		client_free(k.clients);
	if (k.loop != NULL)
		loop_io_del(k.loop, &k.lio);
	hub_free(k.hub);
	loop_free(k.loop);
	if (k.reserve >= 0)
		close(k.reserve);
	close(lfd);
	return k.status;
}

/*
 * The host that the "connect with" line names: the listen address when one
 * was given (loopback for a wildcard), else the loopback address of the
 * only family listened on, else localhost.
 */
static const char *
hint_host(const struct options *o, int no_ipv6)
{
	if (o->host != NULL && strcmp(o->host, "0.0.0.0") == 0)
		return "127.0.0.1";
	if (o->host != NULL && strcmp(o->host, "::") == 0)
		return "::1";
	if (o->host != NULL)
		return o->host;
	if (o->family == AF_INET6)
		return "::1";
	if (o->family == AF_INET || no_ipv6 != 0)
		return "127.0.0.1";
	return "localhost";
}

int
mode_listen(const struct mode *m)
{
	const struct options *o = m->o;
	struct net_opts no = {
		.family = o->family,
		.numeric = o->numeric,
	};
	char bound[ADDR_STR_MAX], peer[ADDR_STR_MAX];
	const char *port;
	struct error e;
	int lfd, fd, no_ipv6;

	err_clear(&e);
	if (net_listen(o->host, o->port, &no, &lfd, bound, &no_ipv6, &e) !=
	    ST_OK)
		return report_failure(&e);
	if (no_ipv6 != 0 && verbose >= 1)
		say("no IPv6 here (%s): listening on IPv4 only",
		    strerror(no_ipv6));
	port = strrchr(bound, ':') + 1;
	if (m->ephemeral) {
		say("ephemeral certificate %s", m->own_fp);
		say("connect with: tlsnc --ssl --ssl-pin %s %s %s", m->own_fp,
		    hint_host(o, no_ipv6), port);
	} else if (m->ctx != NULL && verbose >= 1) {
		say("certificate %s", m->own_fp);
	}
	if (verbose >= 1)
		say("Listening on %s", bound);
	if (o->keep_open)
		return mode_keep_open(m, lfd);
	if (net_accept(lfd, &fd, peer, &e) != ST_OK) {
		close(lfd);
		return report_failure(&e);
	}
	close(lfd);
	if (verbose >= 1)
		say("Connection from %s", peer);
	return run_session(m, fd, o->wait_ms > 0 ? now_ms() + o->wait_ms :
	    -1);
}
