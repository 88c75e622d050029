/*
 * conns-client: the client half of bench/conns.  It opens COUNT TLS
 * connections to a loopback listener, drives each handshake to completion
 * on non-blocking sockets under epoll, with at most INFLIGHT connects and
 * handshakes under way at once, and then holds the connections idle until
 * it is told to stop.
 *
 * The certificate is not verified: this is a benchmark of a listener on
 * 127.0.0.1 that the script itself started, so there is nothing to
 * authenticate, and the client refuses any address outside 127.0.0.0/8.
 *
 * Output, on stdout, one line each:
 *   done ok=N failed=M     when every connection has either finished its
 *                          handshake or failed;
 *   held=N dropped=M       on SIGUSR1: connections still open, and
 *                          connections the listener closed after their
 *                          handshake.
 * Failures are summed up on stderr, with the first message of each kind.
 * SIGTERM or SIGINT, the end of the lifetime (-T), or the death of the
 * parent end the program, which then closes every connection by exiting.
 *
 * Built by bench/conns: cc -O2 conns-client.c -lssl -lcrypto
 */

#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum conn_state {
	CONN_IDLE,		/* not started yet */
	CONN_CONNECTING,	/* TCP connect under way */
	CONN_HANDSHAKE,		/* TLS handshake under way */
	CONN_HELD,		/* handshake done; held open */
	CONN_CLOSED		/* failed, or closed by the listener */
};

struct conn {
	int		 fd;
	SSL		*ssl;
	enum conn_state	 state;
	uint32_t	 events;	/* what epoll is asked for now */
	double		 started;	/* when the connect began */
};

/* The kinds of failure, each counted with its first message. */
enum fail_kind { FAIL_CONNECT, FAIL_HANDSHAKE, FAIL_TIMEOUT, FAIL_KINDS };

static const char *fail_names[FAIL_KINDS] = {
	"connect", "handshake", "handshake timeout"
};

struct client {
	struct sockaddr_in	 addr;
	SSL_CTX			*ctx;
	int			 ep;
	struct conn		*conns;
	int			 count;		/* connections to open */
	int			 max_inflight;
	double			 hs_timeout;	/* seconds per connection */
	int			 next;		/* next conn to start */
	int			 inflight;
	int			 ok;		/* handshakes completed */
	int			 held;		/* of those, still open */
	int			 dropped;	/* of those, closed by the peer */
	int			 failed[FAIL_KINDS];
	char			 first[FAIL_KINDS][256];
};

static volatile sig_atomic_t got_status;
static volatile sig_atomic_t got_stop;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_status = 1;
	else
		got_stop = 1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: conns-client [-n COUNT] [-b INFLIGHT] "
	    "[-t HS_SECONDS] [-T LIFETIME] [-q] ADDR PORT\n");
	exit(2);
}

/* parse_int: a decimal in [min, max], or exit with a message naming OPT. */
static int
parse_int(const char *s, int min, int max, char opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "conns-client: -%c: not a number in %d..%d: "
		    "%s\n", opt, min, max, s);
		exit(2);
	}
	return (int)v;
}

/* Count a failure of KIND, keeping the first message of each kind. */
static void
note_failure(struct client *cl, enum fail_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (cl->failed[kind]++ == 0) {
		va_start(ap, fmt);
		vsnprintf(cl->first[kind], sizeof(cl->first[kind]), fmt, ap);
		va_end(ap);
	}
}

/* Set the events epoll watches for C, touching epoll only on a change. */
static int
want_events(struct client *cl, int i, uint32_t events)
{
	struct conn *c = &cl->conns[i];
	struct epoll_event ev;

	if (c->events == events)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		return -1;
	c->events = events;
	return 0;
}

/* Close connection I and forget it; the caller has counted why. */
static void
conn_close(struct client *cl, int i)
{
	struct conn *c = &cl->conns[i];

	if (c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKE)
		cl->inflight--;
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd != -1)
		close(c->fd);	/* also removes it from the epoll set */
	c->ssl = NULL;
	c->fd = -1;
	c->state = CONN_CLOSED;
}

/*
 * Take one step of connection I's handshake.  On success the connection
 * is held and watched for input only, so that a close by the listener is
 * noticed.
 */
static void
step_handshake(struct client *cl, int i)
{
	struct conn *c = &cl->conns[i];
	unsigned long e;
	int r, err, saved;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	saved = errno;
	if (r == 1) {
		cl->inflight--;
		c->state = CONN_HELD;
		cl->ok++;
		cl->held++;
		if (want_events(cl, i, EPOLLIN | EPOLLRDHUP) == -1) {
			/* Cannot watch it; it still counts as held. */
			perror("conns-client: epoll_ctl");
		}
		return;
	}
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		if (want_events(cl, i, EPOLLIN) == 0)
			return;
	} else if (err == SSL_ERROR_WANT_WRITE) {
		if (want_events(cl, i, EPOLLOUT) == 0)
			return;
	}
	e = ERR_peek_error();
	if (e != 0)
		note_failure(cl, FAIL_HANDSHAKE, "%s",
		    ERR_reason_error_string(e) ? ERR_reason_error_string(e) :
		    "OpenSSL error");
	else if (err == SSL_ERROR_SYSCALL && saved != 0)
		note_failure(cl, FAIL_HANDSHAKE, "%s", strerror(saved));
	else
		note_failure(cl, FAIL_HANDSHAKE, "closed by the listener");
	conn_close(cl, i);
}

/* The TCP connect of connection I has finished: check it, start TLS. */
static void
step_connected(struct client *cl, int i)
{
	struct conn *c = &cl->conns[i];
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		note_failure(cl, FAIL_CONNECT, "%s", strerror(err));
		conn_close(cl, i);
		return;
	}
	c->ssl = SSL_new(cl->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		note_failure(cl, FAIL_HANDSHAKE, "SSL_new failed");
		conn_close(cl, i);
		return;
	}
	SSL_set_connect_state(c->ssl);
	c->state = CONN_HANDSHAKE;
	step_handshake(cl, i);
}

/* Start connection I: a non-blocking connect, watched for writability. */
static void
start_conn(struct client *cl, int i)
{
	struct conn *c = &cl->conns[i];
	struct epoll_event ev;

	c->started = now();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		note_failure(cl, FAIL_CONNECT, "socket: %s", strerror(errno));
		c->state = CONN_CLOSED;
		return;
	}
	c->state = CONN_CONNECTING;
	cl->inflight++;
	if (connect(c->fd, (struct sockaddr *)&cl->addr,
	    sizeof(cl->addr)) == -1 && errno != EINPROGRESS) {
		note_failure(cl, FAIL_CONNECT, "%s", strerror(errno));
		conn_close(cl, i);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(cl->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		note_failure(cl, FAIL_CONNECT, "epoll_ctl: %s",
		    strerror(errno));
		conn_close(cl, i);
		return;
	}
	c->events = EPOLLOUT;
}

/*
 * Input on a held connection: session tickets, data the listener
 * broadcast, or its close.  Read until OpenSSL wants more; a close or an
 * error drops the connection.
 */
static void
step_held(struct client *cl, int i)
{
	struct conn *c = &cl->conns[i];
	char buf[4096];
	int r;

	for (;;) {
		ERR_clear_error();
		r = SSL_read(c->ssl, buf, sizeof(buf));
		if (r > 0)
			continue;
		if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
			return;
		break;
	}
	cl->held--;
	cl->dropped++;
	conn_close(cl, i);
}

static void
step(struct client *cl, int i)
{
	switch (cl->conns[i].state) {
	case CONN_CONNECTING:
		step_connected(cl, i);
		break;
	case CONN_HANDSHAKE:
		step_handshake(cl, i);
		break;
	case CONN_HELD:
		step_held(cl, i);
		break;
	default:
		break;
	}
}

/* Fail every connect or handshake that has run past its time limit. */
static void
expire(struct client *cl, double t)
{
	int i;

	for (i = 0; i < cl->next; i++) {
		enum conn_state s = cl->conns[i].state;

		if ((s == CONN_CONNECTING || s == CONN_HANDSHAKE) &&
		    t - cl->conns[i].started > cl->hs_timeout) {
			note_failure(cl, FAIL_TIMEOUT, "no %s after %.0f s",
			    s == CONN_CONNECTING ? "connect" : "handshake",
			    cl->hs_timeout);
			conn_close(cl, i);
		}
	}
}

static void
report_failures(const struct client *cl)
{
	int k;

	for (k = 0; k < FAIL_KINDS; k++)
		if (cl->failed[k] > 0)
			fprintf(stderr, "conns-client: %d failed (%s); the "
			    "first: %s\n", cl->failed[k], fail_names[k],
			    cl->first[k]);
}

/*
 * Make sure COUNT sockets fit under the descriptor limit, raising the soft
 * limit towards the hard one if need be.
 */
static void
check_fd_limit(int count)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)count + 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur >= need)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		fprintf(stderr, "conns-client: %d connections need %llu "
		    "descriptors, and the hard limit (ulimit -Hn) is %llu\n",
		    count, (unsigned long long)need,
		    (unsigned long long)rl.rlim_max);
		exit(1);
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		perror("conns-client: setrlimit");
		exit(1);
	}
}

static SSL_CTX *
make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		fprintf(stderr, "conns-client: SSL_CTX_new failed\n");
		exit(1);
	}
	/* Loopback benchmark: no verification (see the top of the file). */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* Every connection makes a full handshake: no resumption. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Idle connections give their buffers back: the client stays small. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

int
main(int argc, char **argv)
{
	struct client cl;
	struct epoll_event evs[256];
	struct sigaction sa;
	double t, end_of_life = 0, last_expire = 0;
	int lifetime = 0, quit_when_done = 0, reported = 0;
	pid_t parent = getppid();
	int ch, n, k;

	memset(&cl, 0, sizeof(cl));
	cl.count = 10000;
	cl.max_inflight = 200;
	cl.hs_timeout = 20;
	while ((ch = getopt(argc, argv, "n:b:t:T:q")) != -1) {
		switch (ch) {
		case 'n':
			cl.count = parse_int(optarg, 1, 1000000, 'n');
			break;
		case 'b':
			cl.max_inflight = parse_int(optarg, 1, 100000, 'b');
			break;
		case 't':
			cl.hs_timeout = parse_int(optarg, 1, 3600, 't');
			break;
		case 'T':
			lifetime = parse_int(optarg, 1, 86400, 'T');
			break;
		case 'q':
			quit_when_done = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	cl.addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[optind], &cl.addr.sin_addr) != 1) {
		fprintf(stderr, "conns-client: not an IPv4 address: %s\n",
		    argv[optind]);
		return 2;
	}
	if ((ntohl(cl.addr.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "conns-client: %s is not a loopback address; "
		    "this client does not verify certificates\n", argv[optind]);
		return 2;
	}
	cl.addr.sin_port = htons((uint16_t)parse_int(argv[optind + 1], 1,
	    65535, 'p'));

	/* Never outlive the script that started us. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake epoll_wait */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	check_fd_limit(cl.count);
	cl.ctx = make_ctx();
	cl.conns = calloc((size_t)cl.count, sizeof(*cl.conns));
	cl.ep = epoll_create1(EPOLL_CLOEXEC);
	if (cl.conns == NULL || cl.ep == -1) {
		perror("conns-client");
		return 1;
	}
	for (k = 0; k < cl.count; k++)
		cl.conns[k].fd = -1;
	if (lifetime > 0)
		end_of_life = now() + lifetime;

	while (!got_stop) {
		while (cl.inflight < cl.max_inflight && cl.next < cl.count)
			start_conn(&cl, cl.next++);
		if (!reported && cl.next == cl.count && cl.inflight == 0) {
			report_failures(&cl);
			printf("done ok=%d failed=%d\n", cl.ok,
			    cl.count - cl.ok);
			reported = 1;
			if (quit_when_done)
				break;
		}
		if (got_status) {
			got_status = 0;
			printf("held=%d dropped=%d\n", cl.held, cl.dropped);
		}
		n = epoll_wait(cl.ep, evs, (int)(sizeof(evs) / sizeof(evs[0])),
		    100);
		if (n == -1 && errno != EINTR) {
			perror("conns-client: epoll_wait");
			return 1;
		}
		for (k = 0; k < n; k++)
			step(&cl, (int)evs[k].data.u32);
		t = now();
		if (cl.inflight > 0 && t - last_expire >= 0.1) {
			expire(&cl, t);
			last_expire = t;
		}
		if (end_of_life > 0 && t > end_of_life) {
			fprintf(stderr, "conns-client: lifetime of %d s is "
			    "over; exiting\n", lifetime);
			break;
		}
	}
	/* Exiting closes every socket; no close_notify is needed here. */
	return 0;
}
