/*
 * The listen drivers: one client (-l), or many at once (-l -k).
 *
 * Under -k each client is a relay between its network stream and a hub
 * port, all on one loop: what clients send goes to standard output, and
 * standard input goes to every client.  A client's failure is one warning
 * line; the listener goes on until SIGINT or SIGTERM, which close every
 * session cleanly.  With -e or -c there is no hub: each client's relay
 * runs between its network stream and a child of its own.
 *
 * --broker and --chat are -k with the hub as a broker (hub.h): what a
 * client sends goes to every other client, and standard input to every
 * client, as in Ncat; nothing is written to standard output.  A client's
 * EOF ends its session there, as in Ncat, so that a client that leaves is
 * gone at once.  Under --chat, joins (after the TLS handshake) and leaves
 * are announced in Ncat's words, and each client is <userN> by its hub port's
 * number: 1 for the first client, 2 for the next, never reused in a run
 * (Ncat uses the descriptor, which is); standard input is <user0>.
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
#include "unixsock.h"

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
	struct stream	*port;		/* the hub port, or the program's end */
	struct stream	*net;
	bool		 announced;	/* chat: its join was */
	struct client	*prev, *next;
	char		 peer[ADDR_STR_MAX];
};

/* --- Clients. */

/*
 * Chat: tell everyone (the newcomer too) who joined and who was there,
 * as Ncat does, in one announcement.
 */
static void
announce_join(struct keep *k, struct client *c)
{
	struct client *o;
	size_t cap = 128 + k->nclients * (ADDR_STR_MAX + 48), n;
	char *text;
	bool any = false;

	if ((text = malloc(cap)) == NULL)
		return;
	n = (size_t)snprintf(text, cap, "<announce> %s is connected as "
	    "<user%lu>.\n<announce> already connected: ", c->peer,
	    hub_port_id(c->port));
	for (o = k->clients; o != NULL; o = o->next) {
		if (o == c || !o->announced)
			continue;
		n += (size_t)snprintf(text + n, cap - n, "%s%s as <user%lu>",
		    any ? ", " : "", o->peer, hub_port_id(o->port));
		any = true;
	}
	n += (size_t)snprintf(text + n, cap - n, "%s.\n", any ? "" :
	    "nobody");
	(void)hub_broadcast(k->hub, text, n);
	free(text);
}

static void
announce_leave(struct keep *k, unsigned long user)
{
	char text[80];
	int n;

	n = snprintf(text, sizeof(text), "<announce> <user%lu> is "
	    "disconnected.\n", user);
	(void)hub_broadcast(k->hub, text, (size_t)n);
}

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
	unsigned long user = c->announced ? hub_port_id(c->port) : 0;

	relay_free(c->relay);
	stream_close(c->port);
	stream_close(c->net);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		k->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	k->nclients--;
	free(c);
	if (user != 0 && !k->stopping)
		announce_leave(k, user);
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
	uint64_t queued = c->k->hub != NULL ? hub_port_queued(c->port) : 0;

	(void)relay_finished(r, &st, &e);
	relay_get_stats(r, &stats);
	session_end_report(c->k->m, c->net, st, &e);
	if (st != ST_OK)
		say("%s: %s", c->peer, e.msg);
	else if (queued + stats.unsent > 0 && !c->k->stopping &&
	    c->k->m->o->broker)
		say("%s: left with %llu bytes from the others not sent to it",
		    c->peer, (unsigned long long)(queued + stats.unsent));
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

/*
 * Broker over TLS: the client joins once its handshake is done, as in
 * Ncat, so that one that fails it never receives, nor is announced.
 */
static enum status
client_established(struct stream *s, void *arg, struct error *e)
{
	struct client *c = arg;

	hub_port_join(c->port);
	if (c->k->m->o->chat) {
		c->announced = true;
		announce_join(c->k, c);
	}
	return session_established(s, (void *)c->k->m, e);
}

/* Broker: it fell BROKER_QUEUE_MAX behind the others: drop it. */
static void
client_overflowed(void *arg, uint64_t queued)
{
	struct client *c = arg;
	struct relay_stats stats;

	relay_get_stats(c->relay, &stats);
	relay_stop(c->relay, ST_RUNTIME, "dropped: it fell more than %d KiB "
	    "behind the others; %llu bytes were not sent to it",
	    BROKER_QUEUE_MAX / 1024,
	    (unsigned long long)(queued + stats.unsent));
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
	/* A broker's client leaves at its EOF, as in Ncat. */
	if (m->o->broker)
		ro.end_at_peer_eof = true;
	if (m->o->broker && m->ctx != NULL) {
		ro.on_established = client_established;
		ro.arg = c;
	}
	if ((c->net = net_stream_new(m, fd, &e)) == NULL ||
	    (k->hub == NULL && (c->port = exec_local_new(m, k->loop, c->peer,
	    fd, c->net, &e)) == NULL) ||
	    (k->hub != NULL && (c->port = hub_port_new(k->hub, c,
	    m->o->broker && m->ctx != NULL ? HUB_PORT_WAIT : 0)) == NULL) ||
	    (c->relay = relay_new(k->loop, c->port, c->net, &ro, &e)) ==
	    NULL) {
		say("%s: %s", peer, e.msg[0] != '\0' ? e.msg : "out of memory");
		stream_close(c->port);
		stream_close(c->net);
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
	if (verbose >= 1 && m->o->chat)
		say("Connection from %s as <user%lu>", peer,
		    hub_port_id(c->port));
	else if (verbose >= 1)
		say("Connection from %s", peer);
	if (m->o->chat && m->ctx == NULL) {
		c->announced = true;
		announce_join(k, c);
	}
	relay_start(c->relay);
}

/* --- Accepting. */

/*
 * Whether --allow and --deny let the client on fd in.  A refused one is
 * closed here, before any TLS work is spent on it, and -v names it.
 */
static bool
client_allowed(const struct mode *m, int fd, const char *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	enum access_verdict v;

	if (m->access == NULL)
		return true;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1) {
		/* It is gone already (ENOTCONN): nothing to check or keep. */
		if (verbose >= 1)
			say("%s: refused: %s", peer, strerror(errno));
		close(fd);
		return false;
	}
	if ((v = access_check(m->access, (struct sockaddr *)&ss)) ==
	    ACCESS_ALLOWED)
		return true;
	close(fd);
	if (verbose >= 1)
		say("%s: refused: %s", peer, access_verdict_str(v));
	return false;
}

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
		if (!client_allowed(k->m, fd, peer))
			continue;
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
		.broker = k->m->o->broker,
		.chat = k->m->o->chat,
		.on_overflow = client_overflowed,
		.on_stall = client_stalled,
		.on_input_error = on_input_failed,
		.on_fatal = on_output_failed,
		.arg = k,
	};
	struct stream *in, *out;

	if (k->m->o->exec != NULL || k->m->o->sh_exec != NULL)
		return loop_signal(k->loop, SIGCHLD, on_sigchld, NULL, e);
	in = stream_fd_new(STDIN_FILENO, -1, 0);
	/* A broker writes nothing to standard output, as in Ncat. */
	out = k->m->o->broker ? NULL : stream_fd_new(-1, STDOUT_FILENO, 0);
	if (in == NULL || (out == NULL && !k->m->o->broker) ||
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

/*
 * A datagram listener (-u): wait for the first datagram, and from then on
 * talk only to its sender, as Ncat does: the socket is connected to it,
 * so the kernel drops what others send.  The datagram itself stays queued
 * for the session to read.
 */
static enum status
first_peer(int fd, char peer[ADDR_STR_MAX], struct error *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char byte;

	for (;;) {
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (recvfrom(fd, &byte, sizeof(byte), MSG_PEEK,
		    (struct sockaddr *)&ss, &len) >= 0)
			break;
		if (errno != EINTR)
			return err_errno(e, ST_RUNTIME, errno, "receiving");
	}
	addr_format((struct sockaddr *)&ss, peer, ADDR_STR_MAX);
	/* A Unix client that bound no name cannot be answered. */
	if (ss.ss_family == AF_UNIX && len <= sizeof(sa_family_t))
		return err_set(e, ST_RUNTIME, "the first datagram came from "
		    "an unnamed socket, which cannot be answered");
	if (connect(fd, (struct sockaddr *)&ss, len) == -1)
		return err_errno(e, ST_RUNTIME, errno, "connect to %s", peer);
	return ST_OK;
}

/* Bind or listen as the options say; prints nothing. */
static enum status
listen_socket(const struct options *o, int *lfd, char bound[ADDR_STR_MAX],
    int *no_ipv6, struct error *e)
{
	struct net_opts sock = {
		.family = o->family,
		.numeric = o->numeric,
		.udp = o->udp,
	};
	bool removed = false;

	*no_ipv6 = 0;
	if (!o->unix_sock)
		return net_listen(o->host, o->port, &sock, lfd, bound, no_ipv6,
		    e);
	if (unix_listen(o->unix_path, o->udp, o->unlink_stale, lfd,
	    &removed, bound, e) != ST_OK)
		return e->status;
	if (removed && verbose >= 1)
		say("removed the stale socket file %s (--unlink)",
		    o->unix_path);
	return ST_OK;
}

/* With an ephemeral certificate: the fingerprint and how to pin it. */
static void
say_ephemeral(const struct mode *m, const char *bound, int no_ipv6)
{
	const struct options *o = m->o;

	say("ephemeral certificate %s", m->own_fp);
	if (o->unix_sock)
		say("connect with: tlsnc --ssl --ssl-pin %s -U %s", m->own_fp,
		    o->unix_path);
	else
		say("connect with: tlsnc --ssl --ssl-pin %s %s %s", m->own_fp,
		    hint_host(o, no_ipv6), strrchr(bound, ':') + 1);
}

/*
 * Running -e or -c for any client that can reach a non-loopback address is
 * a remote shell for the network: say so, unless --allow limits who that
 * is.  (There is no TLS client authentication yet to limit it either.)
 */
static void
warn_open_exec(const struct mode *m, int lfd, const char *bound)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if ((m->o->exec == NULL && m->o->sh_exec == NULL) ||
	    (m->access != NULL && m->access->restricted))
		return;
	/* A Unix socket's own file permissions say who may connect. */
	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_UNIX ||
	    access_is_loopback((struct sockaddr *)&ss)))
		return;
	say("warning: %s: anyone who can connect to %s runs the %s; limit "
	    "the clients with --allow", m->o->exec != NULL ? "-e" : "-c",
	    bound, m->o->exec != NULL ? "program" : "command");
}

/* Accept the first client that --allow and --deny let in. */
static enum status
accept_allowed(const struct mode *m, int lfd, int *fd,
    char peer[ADDR_STR_MAX], struct error *e)
{
	enum status st;

	do {
		if ((st = net_accept(lfd, fd, peer, e)) != ST_OK)
			return st;
	} while (!client_allowed(m, *fd, peer));
	return ST_OK;
}

int
mode_listen(const struct mode *m)
{
	const struct options *o = m->o;
	char bound[ADDR_STR_MAX], peer[ADDR_STR_MAX];
	struct error e;
	int lfd, fd, no_ipv6;

	err_clear(&e);
	if (listen_socket(o, &lfd, bound, &no_ipv6, &e) != ST_OK)
		return report_failure(&e);
	if (no_ipv6 != 0 && verbose >= 1)
		say("no IPv6 here (%s): listening on IPv4 only",
		    strerror(no_ipv6));
	if (m->ephemeral)
		say_ephemeral(m, bound, no_ipv6);
	else if (m->ctx != NULL && verbose >= 1)
		say("certificate %s", m->own_fp);
	warn_open_exec(m, lfd, bound);
	if (verbose >= 1)
		say("Listening on %s", bound);
	if (o->keep_open && o->udp)
		return mode_dgram_keep_open(m, lfd);
	if (o->keep_open)
		return mode_keep_open(m, lfd);
	if (o->udp) {
		if (first_peer(lfd, peer, &e) != ST_OK) {
			close(lfd);
			return report_failure(&e);
		}
		fd = lfd;
	} else {
		if (accept_allowed(m, lfd, &fd, peer, &e) != ST_OK) {
			close(lfd);
			return report_failure(&e);
		}
		close(lfd);
	}
	if (verbose >= 1)
		say("Connection from %s", peer);
	return run_session(m, fd, o->wait_ms > 0 ? now_ms() + o->wait_ms :
	    -1);
}
