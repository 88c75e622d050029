/*
 * Unit tests for the relay (src/relay.c).
 *
 * The relay runs in a thread of its own (relay_run) between a "local" fd
 * stream on two pipes and a "net" stream on a socketpair, plain or TLS.  The
 * test plays both outer ends from the main thread: it feeds the local input
 * pipe, reads the local output pipe and is the network peer.  One test
 * drives the step interface from its own poll loop instead.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/ioctl.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include <openssl/err.h>

#include "net.h"
#include "relay.h"
#include "status.h"
#include "stream.h"
#include "tls.h"
#include "testutil.h"

#define TIMEOUT		60000	/* ms; reached only when something hangs */
#define MiB		(1024 * 1024)

/*
 * One test's relay and the ends around it.  The relay joins two streams:
 * relay_local (it reads the input pipe, in_r, and writes the output pipe,
 * out_w) and relay_net (its end of the socketpair, net_fd).  The test holds
 * the three outer ends: local_in writes what the relay reads as its input,
 * local_out reads what the relay writes as its output, and peer is the
 * network peer on peer_fd.  A test that hands one of its ends to the pump to
 * close sets the field to NULL; teardown closes the rest.
 */
struct relay_fx {
	struct stream	*relay_local;
	struct stream	*relay_net;
	struct stream	*local_in;
	struct stream	*local_out;
	struct stream	*peer;
	int		 in_r, in_w, out_r, out_w;
	int		 net_fd, peer_fd;
	SSL_CTX		*peer_ctx;	/* the TLS peer's, a server */
	SSL_CTX		*net_ctx;	/* relay_net's, a client */

	struct relay_opts opts;
	pthread_t	 thread;
	bool		 started, joined;
	atomic_int	 done;
	enum status	 status;
	struct error	 err;
	struct relay_stats stats;
	int64_t		 t_start, t_end;
	int		 established;	/* on_established calls */
};

/*
 * The slots of a test's struct tu_ep array: each always holds the same end,
 * so that a test that turns from one direction to the other names what
 * each end does.  EP_IN and EP_PEER come first, for the one test that pumps
 * those two alone.
 */
enum { EP_IN, EP_PEER, EP_OUT, EP_COUNT };

static int
setup(void **state)
{
	struct relay_fx *f;
	int p[2], sv[2];

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f->in_r = p[0];
	f->in_w = p[1];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	f->out_r = p[0];
	f->out_w = p[1];
	tu_socketpair(sv);
	f->net_fd = sv[0];
	f->peer_fd = sv[1];
	/* The relay's pipe ends stay blocking, as stdin and stdout would. */
	f->relay_local = stream_fd_new(f->in_r, f->out_w, STREAM_OWN_FDS);
	assert_non_null(f->relay_local);
	/* The test's own ends never block. */
	tu_nonblock(f->in_w);
	tu_nonblock(f->out_r);
	f->local_in = stream_fd_new(-1, f->in_w, STREAM_OWN_FDS);
	f->local_out = stream_fd_new(f->out_r, -1, STREAM_OWN_FDS);
	assert_non_null(f->local_in);
	assert_non_null(f->local_out);
	f->opts.handshake_deadline = -1;
	f->opts.quit_after_eof_ms = -1;
	*state = f;
	return 0;
}

/* A plain relay_net and peer on the socketpair. */
static void
plain_net(struct relay_fx *f)
{
	f->relay_net = stream_fd_new(f->net_fd, f->net_fd, STREAM_OWN_FDS);
	f->peer = stream_fd_new(f->peer_fd, f->peer_fd, STREAM_OWN_FDS);
	assert_non_null(f->relay_net);
	assert_non_null(f->peer);
	assert_true(stream_fd_state(f->relay_net)->nonblocking);
}

static int
teardown(void **state)
{
	struct relay_fx *f = *state;

	if (f->started && !f->joined) {
		/* A failed test left the relay running: stop it in poll. */
		pthread_cancel(f->thread);
		pthread_join(f->thread, NULL);
	}
	stream_close(f->relay_local);
	stream_close(f->relay_net);
	stream_close(f->local_in);
	stream_close(f->local_out);
	stream_close(f->peer);
	SSL_CTX_free(f->peer_ctx);
	SSL_CTX_free(f->net_ctx);
	free(f);
	*state = NULL;
	ERR_clear_error();
	return 0;
}

static void *
relay_thread(void *arg)
{
	struct relay_fx *f = arg;

	f->status = relay_run(f->relay_local, f->relay_net, &f->opts,
	    &f->stats, &f->err);
	f->t_end = tu_now();
	atomic_store(&f->done, 1);
	return NULL;
}

static void
start(struct relay_fx *f)
{
	f->t_start = tu_now();
	assert_int_equal(pthread_create(&f->thread, NULL, relay_thread, f), 0);
	f->started = true;
}

/* Wait up to ms for the relay to end; true if it did. */
static bool
join_within(struct relay_fx *f, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(f->thread, NULL, &ts) != 0)
		return false;
	f->joined = true;
	return true;
}

static void
join_with(struct relay_fx *f, enum status want, const char *msg_part)
{
	if (!join_within(f, TIMEOUT))
		fail_msg("the relay did not end");
	if (f->status != want)
		fail_msg("relay status %d (%s), wanted %d", f->status,
		    f->err.msg, want);
	if (msg_part != NULL && strstr(f->err.msg, msg_part) == NULL)
		fail_msg("relay message \"%s\" lacks \"%s\"", f->err.msg,
		    msg_part);
}

/*
 * The relay must still be running.  Showing that something does not happen
 * takes a wait; 200 ms is far more than a finished relay needs to return.
 */
static void
assert_running(struct relay_fx *f)
{
	if (join_within(f, 200))
		fail_msg("the relay ended early: status %d (%s)", f->status,
		    f->err.msg);
}

static void
pump_ok(struct tu_ep *ep, int n)
{
	int rc = tu_pump(ep, n, TIMEOUT);

	if (rc != 0)
		fail_msg("pump: %s", rc == -1 ? "timed out" : "I/O error");
}

/* Endpoint set-up shorthands. */
static void
ep_writer(struct tu_ep *ep, struct stream *s, const unsigned char *src,
    size_t len, enum tu_eof how)
{
	memset(ep, 0, sizeof(*ep));
	ep->s = s;
	ep->src = src;
	ep->srclen = len;
	ep->eof_how = how;
}

static void
ep_reader(struct tu_ep *ep, struct stream *s, size_t cap)
{
	memset(ep, 0, sizeof(*ep));
	ep->s = s;
	ep->read = true;
	ep->dst = malloc(cap > 0 ? cap : 1);
	assert_non_null(ep->dst);
	ep->dstcap = cap;
}

/* Plain data ----------------------------------------------------------- */

static void
test_both_ways(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 4 * MiB + 17, nb = 3 * MiB + 5;
	unsigned char *a = tu_pattern(na, 10), *b = tu_pattern(nb, 11);
	struct tu_ep ep[EP_COUNT];

	plain_net(f);
	start(f);
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, a, na, TU_EOF_CLOSE);
	f->local_in = NULL;
	ep_reader(&ep[EP_OUT], f->local_out, nb);
	ep_reader(&ep[EP_PEER], f->peer, na);
	ep[EP_PEER].src = b;
	ep[EP_PEER].srclen = nb;
	ep[EP_PEER].eof_how = TU_EOF_SHUT;
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_OK, NULL);
	tu_assert_same(ep[EP_PEER].dst, ep[EP_PEER].dstlen, a, na);
	tu_assert_same(ep[EP_OUT].dst, ep[EP_OUT].dstlen, b, nb);
	assert_int_equal(f->stats.sent, na);
	assert_int_equal(f->stats.received, nb);
	assert_false(f->stats.truncated);
	free(ep[EP_OUT].dst);
	free(ep[EP_PEER].dst);
	free(a);
	free(b);
}

/*
 * Local EOF first: the peer sees the half-close, and what it sends after
 * that still reaches the local output.  The session waits for both.
 */
static void
test_half_close_out(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 2 * MiB, nb = 2 * MiB + 1;
	unsigned char *a = tu_pattern(na, 20), *b = tu_pattern(nb, 21);
	struct tu_ep ep[EP_COUNT];

	plain_net(f);
	start(f);
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, a, na, TU_EOF_CLOSE);
	f->local_in = NULL;
	ep_reader(&ep[EP_PEER], f->peer, na);
	pump_ok(ep, EP_COUNT);
	assert_true(ep[EP_PEER].got_eof);
	tu_assert_same(ep[EP_PEER].dst, ep[EP_PEER].dstlen, a, na);
	free(ep[EP_PEER].dst);
	assert_running(f);

	/* Now the peer answers, and only then closes. */
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_PEER], f->peer, b, nb, TU_EOF_SHUT);
	ep_reader(&ep[EP_OUT], f->local_out, nb);
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_OK, NULL);
	tu_assert_same(ep[EP_OUT].dst, ep[EP_OUT].dstlen, b, nb);
	assert_int_equal(f->stats.sent, na);
	assert_int_equal(f->stats.received, nb);
	free(ep[EP_OUT].dst);
	free(a);
	free(b);
}

/*
 * The peer's EOF first: it reaches the local output as EOF, and all of the
 * local input that follows is still delivered.
 */
static void
test_half_close_in(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 4 * MiB + 3, nb = 1000;
	unsigned char *a = tu_pattern(na, 30), *b = tu_pattern(nb, 31);
	struct tu_ep ep[EP_COUNT];

	plain_net(f);
	start(f);
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_PEER], f->peer, b, nb, TU_EOF_SHUT);
	ep_reader(&ep[EP_OUT], f->local_out, nb);
	pump_ok(ep, EP_COUNT);
	assert_true(ep[EP_OUT].got_eof);
	tu_assert_same(ep[EP_OUT].dst, ep[EP_OUT].dstlen, b, nb);
	free(ep[EP_OUT].dst);
	assert_running(f);

	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, a, na, TU_EOF_CLOSE);
	f->local_in = NULL;
	ep_reader(&ep[EP_PEER], f->peer, na);
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_OK, NULL);
	tu_assert_same(ep[EP_PEER].dst, ep[EP_PEER].dstlen, a, na);
	assert_int_equal(f->stats.sent, na);
	free(ep[EP_PEER].dst);
	free(a);
	free(b);
}

/* A terminal on stdin: the session ends at the peer's EOF. */
static void
test_end_at_peer_eof(void **state)
{
	struct relay_fx *f = *state;
	static const char b[] = "bye from the peer\n";
	struct tu_ep ep[EP_COUNT];

	plain_net(f);
	f->opts.end_at_peer_eof = true;
	start(f);
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_PEER], f->peer, (const unsigned char *)b, strlen(b),
	    TU_EOF_SHUT);
	ep_reader(&ep[EP_OUT], f->local_out, 100);
	pump_ok(ep, EP_COUNT);
	/* The local input is still open, yet the session is over. */
	join_with(f, ST_OK, NULL);
	assert_int_equal(ep[EP_OUT].dstlen, strlen(b));
	assert_memory_equal(ep[EP_OUT].dst, b, strlen(b));
	free(ep[EP_OUT].dst);
}

/* Without end_at_peer_eof the same session goes on. */
static void
test_peer_eof_alone_does_not_end(void **state)
{
	struct relay_fx *f = *state;
	struct tu_ep ep[EP_COUNT];

	plain_net(f);
	start(f);
	assert_int_equal(shutdown(f->peer_fd, SHUT_WR), 0);
	memset(ep, 0, sizeof(ep));
	ep_reader(&ep[EP_OUT], f->local_out, 10);
	pump_ok(ep, EP_COUNT);
	assert_int_equal(ep[EP_OUT].dstlen, 0);
	free(ep[EP_OUT].dst);
	assert_running(f);
	/* Closing the input ends it. */
	stream_close(f->local_in);
	f->local_in = NULL;
	join_with(f, ST_OK, NULL);
}

static void
test_recv_only(void **state)
{
	struct relay_fx *f = *state;
	static const char unread[] = "input the relay must leave alone";
	static const char b[] = "data from the peer";
	char buf[100];
	struct tu_ep ep[EP_COUNT];
	ssize_t r;

	plain_net(f);
	assert_int_equal(write(f->in_w, unread, strlen(unread)),
	    (ssize_t)strlen(unread));
	f->opts.recv_only = true;
	start(f);
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_PEER], f->peer, (const unsigned char *)b, strlen(b),
	    TU_EOF_SHUT);
	ep_reader(&ep[EP_OUT], f->local_out, 100);
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_OK, NULL);
	assert_int_equal(ep[EP_OUT].dstlen, strlen(b));
	assert_memory_equal(ep[EP_OUT].dst, b, strlen(b));
	free(ep[EP_OUT].dst);
	assert_int_equal(f->stats.sent, 0);
	/* The input is still in the pipe, every byte of it. */
	tu_nonblock(f->in_r);
	r = read(f->in_r, buf, sizeof(buf));
	assert_int_equal(r, (ssize_t)strlen(unread));
	assert_memory_equal(buf, unread, strlen(unread));
	/*
	 * And the peer got no data, only the half-close that every clean end
	 * sends (relay_run), so that a TLS peer sees close_notify.
	 */
	r = recv(f->peer_fd, buf, sizeof(buf), MSG_DONTWAIT);
	assert_int_equal(r, 0);
}

static void
test_no_shutdown(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 300000, nb = 200000;
	unsigned char *a = tu_pattern(na, 40), *b = tu_pattern(nb, 41);
	struct tu_ep ep[EP_COUNT];
	struct pollfd pfd;
	char c;

	plain_net(f);
	f->opts.no_shutdown = true;
	start(f);
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, a, na, TU_EOF_CLOSE);
	f->local_in = NULL;
	ep_reader(&ep[EP_PEER], f->peer, na);
	ep[EP_PEER].want_bytes = na;
	pump_ok(ep, EP_COUNT);
	tu_assert_same(ep[EP_PEER].dst, ep[EP_PEER].dstlen, a, na);
	free(ep[EP_PEER].dst);
	/* Local EOF, yet no FIN reaches the peer. */
	pfd.fd = f->peer_fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, 200), 0);

	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_PEER], f->peer, b, nb, TU_EOF_SHUT);
	ep_reader(&ep[EP_OUT], f->local_out, nb);
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_OK, NULL);
	tu_assert_same(ep[EP_OUT].dst, ep[EP_OUT].dstlen, b, nb);
	/* The clean end of the session sends it (see relay_run). */
	assert_int_equal(recv(f->peer_fd, &c, 1, MSG_DONTWAIT), 0);
	free(ep[EP_OUT].dst);
	free(a);
	free(b);
}

/* -q: the session ends a while after local EOF though the peer stays. */
static void
test_quit_after_eof(void **state)
{
	struct relay_fx *f = *state;
	static const char a[] = "last words";
	struct tu_ep ep[EP_COUNT];
	int64_t t_eof;

	plain_net(f);
	f->opts.quit_after_eof_ms = 300;
	start(f);
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, (const unsigned char *)a, strlen(a),
	    TU_EOF_CLOSE);
	f->local_in = NULL;
	ep_reader(&ep[EP_PEER], f->peer, 100);
	pump_ok(ep, EP_COUNT);
	t_eof = tu_now();
	assert_int_equal(ep[EP_PEER].dstlen, strlen(a));
	free(ep[EP_PEER].dst);
	join_with(f, ST_OK, NULL);
	/* Not before the delay; not much after it either. */
	assert_true(f->t_end - f->t_start >= 300);
	assert_true(f->t_end - t_eof < 5000);
}

/* -q 0: the session ends as soon as local EOF has gone out. */
static void
test_quit_after_eof_zero(void **state)
{
	struct relay_fx *f = *state;

	plain_net(f);
	f->opts.quit_after_eof_ms = 0;
	start(f);
	stream_close(f->local_in);
	f->local_in = NULL;
	join_with(f, ST_OK, NULL);
}

static void
test_idle_timeout(void **state)
{
	struct relay_fx *f = *state;
	static const char a[] = "x";
	struct tu_ep ep[EP_COUNT];
	int64_t t_last;

	plain_net(f);
	f->opts.idle_ms = 300;
	start(f);
	/* Activity puts the timeout off. */
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, (const unsigned char *)a, 1,
	    TU_EOF_NONE);
	ep_reader(&ep[EP_PEER], f->peer, 10);
	ep[EP_PEER].want_bytes = 1;
	pump_ok(ep, EP_COUNT);
	t_last = tu_now();
	free(ep[EP_PEER].dst);
	join_with(f, ST_TIMEOUT, "idle timeout");
	assert_true(f->t_end - f->t_start >= 300);
	/* Measured from the last byte, within scheduling slack. */
	assert_true(f->t_end - t_last >= 250);
}

/* Backpressure --------------------------------------------------------- */

/*
 * Write src into s until the reader on the other side has stopped taking
 * bytes: EAGAIN, and no room for 300 ms.  Returns the bytes taken.
 */
static size_t
fill_until_stalled(int fd, const unsigned char *src, size_t len)
{
	struct pollfd pfd;
	size_t off = 0;
	ssize_t w;

	for (;;) {
		while (off < len && (w = write(fd, src + off,
		    len - off > 4096 ? 4096 : len - off)) > 0)
			off += (size_t)w;
		if (off == len)
			return off;
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		pfd.fd = fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, 300) == 0)
			return off;
	}
}

static int
sndbuf(int fd)
{
	int v = 0;
	socklen_t l = sizeof(v);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l), 0);
	return v;
}

/* The peer stalls: the relay stops reading local input. */
static void
test_backpressure_out(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 4 * MiB;
	unsigned char *a = tu_pattern(na, 50);
	size_t taken, bound, pipesz;
	int small = 16384, n;
	struct tu_ep ep[EP_COUNT];

	plain_net(f);
	assert_int_equal(setsockopt(f->net_fd, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	f->opts.bufsize = 4096;
	pipesz = (size_t)fcntl(f->in_w, F_GETPIPE_SZ);
	start(f);
	taken = fill_until_stalled(f->in_w, a, na);
	/*
	 * What the input pipe, the relay's buffer and the socket can hold, and
	 * no more: an unbounded relay would have taken all of it.
	 */
	bound = pipesz + f->opts.bufsize + (size_t)sndbuf(f->net_fd);
	if (taken > bound || taken >= na)
		fail_msg("took %zu bytes while the peer stalled (bound %zu)",
		    taken, bound);
	assert_true(taken >= pipesz);
	/* The pipe is full: the relay is not reading it. */
	assert_int_equal(ioctl(f->in_w, FIONREAD, &n), 0);
	assert_true((size_t)n + 4096 >= pipesz);

	/* The peer resumes; everything arrives in order. */
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, a + taken, na - taken, TU_EOF_CLOSE);
	f->local_in = NULL;
	ep_reader(&ep[EP_PEER], f->peer, na);
	ep[EP_PEER].eof_how = TU_EOF_SHUT;
	ep_reader(&ep[EP_OUT], f->local_out, 0);
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_OK, NULL);
	tu_assert_same(ep[EP_PEER].dst, ep[EP_PEER].dstlen, a, na);
	free(ep[EP_PEER].dst);
	free(ep[EP_OUT].dst);
	free(a);
}

/* The local output stalls: the relay stops reading the network. */
static void
test_backpressure_in(void **state)
{
	struct relay_fx *f = *state;
	const size_t nb = 4 * MiB;
	unsigned char *b = tu_pattern(nb, 60);
	size_t taken, bound, pipesz;
	struct tu_ep ep[EP_COUNT];
	int n;

	plain_net(f);
	f->opts.bufsize = 4096;
	pipesz = (size_t)fcntl(f->out_w, F_GETPIPE_SZ);
	start(f);
	taken = fill_until_stalled(f->peer_fd, b, nb);
	bound = pipesz + f->opts.bufsize + (size_t)sndbuf(f->peer_fd);
	if (taken > bound || taken >= nb)
		fail_msg("took %zu bytes while the output stalled (bound %zu)",
		    taken, bound);
	/* The output pipe is full and the socket holds the rest. */
	assert_int_equal(ioctl(f->out_r, FIONREAD, &n), 0);
	assert_true((size_t)n + 4096 >= pipesz);

	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_PEER], f->peer, b + taken, nb - taken, TU_EOF_SHUT);
	ep_reader(&ep[EP_OUT], f->local_out, nb);
	ep_writer(&ep[EP_IN], f->local_in, NULL, 0, TU_EOF_CLOSE);
	f->local_in = NULL;
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_OK, NULL);
	tu_assert_same(ep[EP_OUT].dst, ep[EP_OUT].dstlen, b, nb);
	free(ep[EP_OUT].dst);
	free(b);
}

/* The peer gone ---------------------------------------------------------- */

static void
test_peer_gone(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 32768;
	unsigned char *a = tu_pattern(na, 70);
	struct tu_ep ep[EP_COUNT];
	char want[64];
	const char *p;
	unsigned long long lost;

	plain_net(f);
	/* The peer closes altogether before any input is sent. */
	stream_close(f->peer);
	f->peer = NULL;
	start(f);
	/* The relay passes the peer's EOF on to the local output. */
	memset(ep, 0, sizeof(ep));
	ep_reader(&ep[EP_OUT], f->local_out, 10);
	pump_ok(ep, EP_COUNT);
	free(ep[EP_OUT].dst);
	/* Then input arrives with nowhere to go. */
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, a, na, TU_EOF_CLOSE);
	f->local_in = NULL;
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_RUNTIME, "not sent");
	assert_non_null(strstr(f->err.msg, "the peer is gone"));
	/*
	 * It says how much was lost: the bytes it had read, and the rest of
	 * the input when it had not read all of it (buffers start small).
	 */
	p = strstr(f->err.msg, "): ");
	assert_non_null(p);
	lost = strtoull(p + 3, NULL, 10);
	assert_true(lost > 0 && lost <= na);
	snprintf(want, sizeof(want), "%llu bytes of input were not sent",
	    lost);
	if (strstr(f->err.msg, want) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", f->err.msg, want);
	if (lost < na && strstr(f->err.msg, "and the rest of the input") ==
	    NULL)
		fail_msg("\"%s\" does not mention the rest", f->err.msg);
	assert_int_equal(f->stats.sent, 0);
	free(a);
}

/*
 * The peer answers and goes away before reading our input, as a server
 * refusing an upload does.  Sending fails first, but its answer must still
 * reach the local output before the relay reports the unsent input.
 */
static void
test_peer_answer_survives_send_failure(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 32768, nb = 50000;
	unsigned char *a = tu_pattern(na, 71), *b = tu_pattern(nb, 72);
	struct tu_ep ep[EP_COUNT];
	size_t off = 0, n;

	plain_net(f);
	while (off < nb) {
		assert_int_equal(stream_write(f->peer, b + off, nb - off, &n),
		    IO_DONE);
		off += n;
	}
	stream_close(f->peer);
	f->peer = NULL;
	/* Input is already waiting when the relay starts, so it sends first. */
	assert_int_equal(write(f->in_w, a, na), (ssize_t)na);
	start(f);
	memset(ep, 0, sizeof(ep));
	ep_reader(&ep[EP_OUT], f->local_out, nb + 1);
	pump_ok(ep, EP_COUNT);
	assert_true(ep[EP_OUT].got_eof);
	assert_int_equal(ep[EP_OUT].dstlen, nb);
	assert_memory_equal(ep[EP_OUT].dst, b, nb);
	free(ep[EP_OUT].dst);
	join_with(f, ST_RUNTIME, "not sent");
	free(a);
	free(b);
}

/* TLS -------------------------------------------------------------------- */

static enum status
count_established(struct stream *s, void *arg, struct error *e)
{
	struct relay_fx *f = arg;

	/* This runs in the relay's thread: record, and assert later. */
	(void)e;
	if (s == f->relay_net)
		f->established++;
	else
		f->established = -1000;
	return ST_OK;
}

/*
 * net is a TLS client over the socketpair, pinned to the peer, a TLS server
 * with an ephemeral certificate; wrong_pin spoils the pin.
 */
static void
tls_net(struct relay_fx *f, bool wrong_pin)
{
	struct tls_opts so = { .server = true }, co = { .server = false };
	struct error e = { ST_OK, "" };
	char fp[TLS_FP_MAX];

	f->peer_ctx = tls_ctx_new(&so, fp, NULL, &e);
	if (f->peer_ctx == NULL)
		fail_msg("server context: %s", e.msg);
	assert_int_equal(tls_parse_pin(fp, co.pin), 0);
	co.have_pin = true;
	if (wrong_pin)
		co.pin[0] ^= 0x80;
	f->net_ctx = tls_ctx_new(&co, NULL, NULL, &e);
	if (f->net_ctx == NULL)
		fail_msg("client context: %s", e.msg);
	f->relay_net = tu_tls_over(f->net_ctx, f->net_fd, &co, "localhost");
	f->peer = tu_tls_over(f->peer_ctx, f->peer_fd, &so, NULL);
	f->opts.on_established = count_established;
	f->opts.arg = f;
}

static void
peer_handshake(struct relay_fx *f)
{
	enum io r;

	assert_int_equal(tu_handshake(f->peer, NULL, &r, NULL, TIMEOUT), 0);
	if (r != IO_DONE)
		fail_msg("peer handshake: %s", f->peer->err.msg);
}

static void
test_tls_both_ways(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 3 * MiB + 1, nb = 2 * MiB + 999;
	unsigned char *a = tu_pattern(na, 80), *b = tu_pattern(nb, 81);
	struct tu_ep ep[EP_COUNT];

	tls_net(f, false);
	/* A buffer smaller than a record leaves bytes inside OpenSSL. */
	f->opts.bufsize = 5000;
	start(f);
	peer_handshake(f);
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, a, na, TU_EOF_CLOSE);
	f->local_in = NULL;
	ep_reader(&ep[EP_OUT], f->local_out, nb);
	ep_reader(&ep[EP_PEER], f->peer, na);
	ep[EP_PEER].src = b;
	ep[EP_PEER].srclen = nb;
	ep[EP_PEER].eof_how = TU_EOF_SHUT;
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_OK, NULL);
	tu_assert_same(ep[EP_PEER].dst, ep[EP_PEER].dstlen, a, na);
	tu_assert_same(ep[EP_OUT].dst, ep[EP_OUT].dstlen, b, nb);
	/* close_notify both ways. */
	assert_false(ep[EP_PEER].eof_unclean);
	assert_false(f->stats.truncated);
	assert_int_equal(f->stats.sent, na);
	assert_int_equal(f->stats.received, nb);
	assert_int_equal(f->established, 1);
	free(ep[EP_OUT].dst);
	free(ep[EP_PEER].dst);
	free(a);
	free(b);
}

/*
 * A record larger than the relay's buffer: the rest of it waits inside
 * OpenSSL, where poll cannot see it, and must still be delivered while the
 * peer sends nothing more.
 */
static void
test_tls_nothing_stranded(void **state)
{
	struct relay_fx *f = *state;
	const size_t nb = 12000;
	unsigned char *b = tu_pattern(nb, 85);
	struct tu_ep ep[EP_COUNT];
	int rc;

	tls_net(f, false);
	f->opts.bufsize = 1000;
	start(f);
	peer_handshake(f);
	/* One write, one record; then the peer keeps still. */
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_PEER], f->peer, b, nb, TU_EOF_NONE);
	ep[EP_PEER].wchunk = nb;
	pump_ok(ep, EP_COUNT);
	memset(ep, 0, sizeof(ep));
	ep_reader(&ep[EP_OUT], f->local_out, nb);
	ep[EP_OUT].want_bytes = nb;
	rc = tu_pump(&ep[EP_OUT], 1, 5000);
	if (rc != 0)
		fail_msg("%zu of %zu bytes arrived; the rest is stranded",
		    ep[EP_OUT].dstlen, nb);
	tu_assert_same(ep[EP_OUT].dst, ep[EP_OUT].dstlen, b, nb);
	free(ep[EP_OUT].dst);

	/* End the session cleanly. */
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, NULL, 0, TU_EOF_CLOSE);
	f->local_in = NULL;
	ep_reader(&ep[EP_PEER], f->peer, 10);
	ep[EP_PEER].eof_how = TU_EOF_SHUT;
	ep_reader(&ep[EP_OUT], f->local_out, 0);
	pump_ok(ep, EP_COUNT);
	join_with(f, ST_OK, NULL);
	assert_int_equal(f->stats.received, nb);
	free(ep[EP_PEER].dst);
	free(ep[EP_OUT].dst);
	free(b);
}

/*
 * The peer answers the relay's close_notify with data and then a close of
 * its own: with close_notify first (clean) or without (truncated).
 */
static void
tls_peer_closes(struct relay_fx *f, bool clean)
{
	static const char b[] = "the last of the data";
	struct tu_ep ep[EP_COUNT];
	unsigned char got[16];

	tls_net(f, false);
	start(f);
	peer_handshake(f);
	/* Empty input: the relay sends close_notify at once. */
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, NULL, 0, TU_EOF_CLOSE);
	f->local_in = NULL;
	memset(&ep[EP_PEER], 0, sizeof(ep[EP_PEER]));
	ep[EP_PEER].s = f->peer;
	ep[EP_PEER].read = true;
	ep[EP_PEER].dst = got;
	ep[EP_PEER].dstcap = sizeof(got);
	ep[EP_PEER].src = (const unsigned char *)b;
	ep[EP_PEER].srclen = strlen(b);
	ep[EP_PEER].eof_how = clean ? TU_EOF_SHUT : TU_EOF_NONE;
	ep_reader(&ep[EP_OUT], f->local_out, 100);
	ep[EP_OUT].want_bytes = strlen(b);
	/* The input and the peer only: the output is read after the close. */
	pump_ok(ep, EP_OUT);
	assert_int_equal(ep[EP_PEER].dstlen, 0);
	assert_false(ep[EP_PEER].eof_unclean);
	/* Gone, without a word unless clean. */
	stream_close(f->peer);
	f->peer = NULL;
	ep[EP_OUT].want_bytes = 0;
	pump_ok(&ep[EP_OUT], 1);
	assert_int_equal(ep[EP_OUT].dstlen, strlen(b));
	assert_memory_equal(ep[EP_OUT].dst, b, strlen(b));
	free(ep[EP_OUT].dst);
}

static void
test_tls_truncated(void **state)
{
	struct relay_fx *f = *state;

	tls_peer_closes(f, false);
	join_with(f, ST_TRUNCATED, "close_notify");
	assert_true(f->stats.truncated);
	assert_int_equal(f->stats.received, strlen("the last of the data"));
}

static void
test_tls_clean_close(void **state)
{
	struct relay_fx *f = *state;

	tls_peer_closes(f, true);
	join_with(f, ST_OK, NULL);
	assert_false(f->stats.truncated);
}

static void
test_tls_verify_fails(void **state)
{
	struct relay_fx *f = *state;
	enum io r;

	tls_net(f, true);
	start(f);
	assert_int_equal(tu_handshake(f->peer, NULL, &r, NULL, TIMEOUT), 0);
	assert_int_equal(r, IO_ERROR);
	join_with(f, ST_VERIFY, "pin mismatch");
	assert_int_equal(f->established, 0);
	assert_int_equal(f->stats.sent, 0);
}

static enum status
refuse_established(struct stream *s, void *arg, struct error *e)
{
	(void)s;
	(void)arg;
	return err_set(e, ST_VERIFY, "refused by policy");
}

static void
test_tls_on_established_refuses(void **state)
{
	struct relay_fx *f = *state;

	tls_net(f, false);
	f->opts.on_established = refuse_established;
	start(f);
	peer_handshake(f);
	join_with(f, ST_VERIFY, "refused by policy");
	assert_int_equal(f->stats.sent, 0);
}

/*
 * A clean end whose close_notify finds no room on the socket: the relay
 * is stopped (as by a signal) while its peer is not reading, so the
 * close_notify has to wait.  It must still go out once the peer reads,
 * rather than be dropped, which the peer would take for a truncation.
 */
static void
tick(struct loop_timer *t)
{
	(void)t;
}

static void
test_clean_end_waits_for_room(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 4 * MiB;
	unsigned char *a = tu_pattern(na, 85), buf[65536];
	int small = 4096, turns = 0;
	struct loop_timer wake;
	struct relay_stats stats;
	struct loop *loop;
	struct relay *r;
	struct error e;
	enum status st = ST_RUNTIME;
	enum io io;
	size_t n, got = 0, off = 0;
	ssize_t w;
	bool peer_up = false, stopped = false;

	tls_net(f, false);
	assert_int_equal(setsockopt(f->net_fd, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	assert_int_equal(setsockopt(f->peer_fd, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	assert_non_null(loop = loop_new(&e));
	r = relay_new(loop, f->relay_local, f->relay_net, &f->opts, &e);
	assert_non_null(r);
	/* Each turn ends within 10 ms, whatever the relay waits for. */
	loop_timer_init(&wake, tick);
	relay_start(r);
	for (; !relay_finished(r, &st, &e); turns++) {
		assert_true(turns < 100000);
		if (!peer_up) {
			io = stream_handshake(f->peer);
			assert_true(io != IO_ERROR);
			peer_up = io == IO_DONE;
		} else if (!stopped) {
			/*
			 * Input until the relay holds bytes it cannot send,
			 * since the peer is not reading.  Then stop it, as a
			 * signal would: a clean end with data in flight.
			 */
			w = write(f->in_w, a + off, na - off);
			if (w > 0)
				off += (size_t)w;
			relay_get_stats(r, &stats);
			if (w == -1 && stats.unsent > 0) {
				relay_stop(r, ST_OK, NULL);
				stopped = true;
			}
		} else {
			/* Now the peer reads, and room appears. */
			while (stream_read(f->peer, buf, sizeof(buf), &n) ==
			    IO_DONE)
				got += n;
		}
		assert_int_equal(loop_timer_set(loop, &wake, now_ms() + 10), 0);
		assert_int_equal(loop_once(loop, &e), 0);
	}
	assert_true(stopped);
	assert_int_equal(st, ST_OK);
	loop_timer_stop(loop, &wake);
	relay_free(r);
	loop_free(loop);
	/* As at exit: the socket closes.  The peer must see close_notify. */
	stream_close(f->relay_net);
	f->relay_net = NULL;
	for (;;) {
		io = stream_read(f->peer, buf, sizeof(buf), &n);
		if (io == IO_DONE) {
			got += n;
			continue;
		}
		if (io != IO_WANT_READ)
			break;
		assert_true(turns++ < 1000000);
	}
	if (io != IO_EOF || !stream_eof_clean(f->peer))
		fail_msg("the peer saw %s after %zu bytes: %s",
		    io == IO_EOF ? "an unclean EOF" : "an error", got,
		    f->peer->err.msg);
	/* What the relay had read was sent before the close_notify. */
	assert_int_equal(got, stats.sent + stats.unsent);
	free(a);
}

/* A peer that never answers the ClientHello. */
static void
test_handshake_deadline(void **state)
{
	struct relay_fx *f = *state;
	struct tls_opts co = { .server = false, .no_verify = true };
	struct error e = { ST_OK, "" };

	f->net_ctx = tls_ctx_new(&co, NULL, NULL, &e);
	assert_non_null(f->net_ctx);
	f->relay_net = tu_tls_over(f->net_ctx, f->net_fd, &co, "localhost");
	f->peer = stream_fd_new(f->peer_fd, f->peer_fd, STREAM_OWN_FDS);
	f->opts.handshake_deadline = now_ms() + 300;
	start(f);
	join_with(f, ST_TIMEOUT, "timed out");
	assert_true(f->t_end - f->t_start >= 300);
}

/* A relay on the caller's loop ------------------------------------------ */

static void
count_done(struct relay *r, void *arg)
{
	enum status st;
	struct error e;

	/* on_done comes once, and only when the session is over. */
	assert_true(relay_finished(r, &st, &e));
	(*(int *)arg)++;
}

static void
test_loop_api(void **state)
{
	struct relay_fx *f = *state;
	const size_t na = 20000, nb = 30000;
	unsigned char *a = tu_pattern(na, 90), *b = tu_pattern(nb, 91);
	struct loop *loop;
	struct relay *r;
	struct relay_stats st;
	struct error e;
	enum status s;
	struct tu_ep ep[EP_COUNT];
	int rounds = 0, done = 0;
	int64_t end;

	plain_net(f);
	/* Both inputs fit in the kernel buffers; write them up front. */
	memset(ep, 0, sizeof(ep));
	ep_writer(&ep[EP_IN], f->local_in, a, na, TU_EOF_CLOSE);
	f->local_in = NULL;
	ep_writer(&ep[EP_PEER], f->peer, b, nb, TU_EOF_SHUT);
	pump_ok(ep, EP_COUNT);

	assert_non_null(loop = loop_new(&e));
	f->opts.on_done = count_done;
	f->opts.done_arg = &done;
	r = relay_new(loop, f->relay_local, f->relay_net, &f->opts, &e);
	assert_non_null(r);
	end = tu_now() + TIMEOUT;
	relay_start(r);
	while (done == 0) {
		assert_int_equal(loop_once(loop, &e), 0);
		assert_true(tu_now() < end);
		rounds++;
	}
	/* More turns tell it nothing more. */
	assert_int_equal(loop_once(loop, &e), 0);
	assert_int_equal(done, 1);
	assert_true(relay_finished(r, &s, &e));
	relay_get_stats(r, &st);
	relay_free(r);
	/* Every watch went with the relay. */
	assert_int_equal(loop_kernel_watches(loop), 0);
	loop_free(loop);
	assert_int_equal(s, ST_OK);
	assert_int_equal(st.sent, na);
	assert_int_equal(st.received, nb);
	assert_true(rounds > 0);

	memset(ep, 0, sizeof(ep));
	ep_reader(&ep[EP_PEER], f->peer, na);
	ep_reader(&ep[EP_OUT], f->local_out, nb);
	pump_ok(ep, EP_COUNT);
	tu_assert_same(ep[EP_PEER].dst, ep[EP_PEER].dstlen, a, na);
	tu_assert_same(ep[EP_OUT].dst, ep[EP_OUT].dstlen, b, nb);
	free(ep[EP_PEER].dst);
	free(ep[EP_OUT].dst);
	free(a);
	free(b);
}

/*
 * A blocking local output that nobody reads must not freeze the loop: the
 * idle timeout still fires while the output pipe is full.
 */
static void
test_blocked_output_keeps_loop_alive(void **state)
{
	struct relay_fx *f = *state;
	const size_t nb = 2 * MiB;
	unsigned char *b = tu_pattern(nb, 60);

	plain_net(f);
	f->opts.idle_ms = 300;
	start(f);
	(void)fill_until_stalled(f->peer_fd, b, nb);
	if (!join_within(f, 5000))
		fail_msg("relay still running 5 s after the output stalled");
	assert_int_equal(f->status, ST_TIMEOUT);
	assert_non_null(strstr(f->err.msg, "idle timeout"));
	free(b);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_both_ways),
		T(test_half_close_out),
		T(test_half_close_in),
		T(test_end_at_peer_eof),
		T(test_peer_eof_alone_does_not_end),
		T(test_recv_only),
		T(test_no_shutdown),
		T(test_quit_after_eof),
		T(test_quit_after_eof_zero),
		T(test_idle_timeout),
		T(test_backpressure_out),
		T(test_backpressure_in),
		T(test_peer_gone),
		T(test_peer_answer_survives_send_failure),
		T(test_tls_both_ways),
		T(test_tls_nothing_stranded),
		T(test_tls_truncated),
		T(test_tls_clean_close),
		T(test_tls_verify_fails),
		T(test_tls_on_established_refuses),
		T(test_handshake_deadline),
		T(test_loop_api),
		T(test_clean_end_waits_for_room),
		T(test_blocked_output_keeps_loop_alive),
	};

	/* As in main(): writing to a closed socket fails, without a signal. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
