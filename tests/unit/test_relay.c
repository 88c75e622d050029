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

/* The relay under test and the three ends the test holds. */
struct rh {
	struct stream	*local;		/* relay: reads in_r, writes out_w */
	struct stream	*net;		/* relay: its socketpair end */
	struct stream	*tin;		/* test: writes the local input */
	struct stream	*tout;		/* test: reads the local output */
	struct stream	*peer;		/* test: the network peer */
	int		 in_r, in_w, out_r, out_w;
	int		 sv[2];
	SSL_CTX		*sctx, *cctx;

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

static struct rh *h;

static int
setup(void **state)
{
	int p[2];

	(void)state;
	h = calloc(1, sizeof(*h));
	assert_non_null(h);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	h->in_r = p[0];
	h->in_w = p[1];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	h->out_r = p[0];
	h->out_w = p[1];
	tu_socketpair(h->sv);
	/* The relay's pipe ends stay blocking, as stdin and stdout would. */
	h->local = stream_fd_new(h->in_r, h->out_w, STREAM_OWN_FDS);
	assert_non_null(h->local);
	/* The test's own ends never block. */
	tu_nonblock(h->in_w);
	tu_nonblock(h->out_r);
	h->tin = stream_fd_new(-1, h->in_w, STREAM_OWN_FDS);
	h->tout = stream_fd_new(h->out_r, -1, STREAM_OWN_FDS);
	assert_non_null(h->tin);
	assert_non_null(h->tout);
	h->opts.handshake_deadline = -1;
	h->opts.quit_after_eof_ms = -1;
	return 0;
}

/* A plain net stream and peer on the socketpair. */
static void
plain_net(void)
{
	h->net = stream_fd_new(h->sv[0], h->sv[0], STREAM_OWN_FDS);
	h->peer = stream_fd_new(h->sv[1], h->sv[1], STREAM_OWN_FDS);
	assert_non_null(h->net);
	assert_non_null(h->peer);
	assert_true(stream_fd_state(h->net)->nonblocking);
}

static int
teardown(void **state)
{
	(void)state;
	if (h->started && !h->joined) {
		/* A failed test left the relay running: stop it in poll. */
		pthread_cancel(h->thread);
		pthread_join(h->thread, NULL);
	}
	stream_close(h->local);
	stream_close(h->net);
	stream_close(h->tin);
	stream_close(h->tout);
	stream_close(h->peer);
	SSL_CTX_free(h->sctx);
	SSL_CTX_free(h->cctx);
	free(h);
	h = NULL;
	ERR_clear_error();
	return 0;
}

static void *
relay_thread(void *arg)
{
	struct rh *r = arg;

	r->status = relay_run(r->local, r->net, &r->opts, &r->stats, &r->err);
	r->t_end = tu_now();
	atomic_store(&r->done, 1);
	return NULL;
}

static void
start(void)
{
	h->t_start = tu_now();
	assert_int_equal(pthread_create(&h->thread, NULL, relay_thread, h), 0);
	h->started = true;
}

/* Wait up to ms for the relay to end; true if it did. */
static bool
join_within(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(h->thread, NULL, &ts) != 0)
		return false;
	h->joined = true;
	return true;
}

static void
join_with(enum status want, const char *msg_part)
{
	if (!join_within(TIMEOUT))
		fail_msg("the relay did not end");
	if (h->status != want)
		fail_msg("relay status %d (%s), wanted %d", h->status,
		    h->err.msg, want);
	if (msg_part != NULL && strstr(h->err.msg, msg_part) == NULL)
		fail_msg("relay message \"%s\" lacks \"%s\"", h->err.msg,
		    msg_part);
}

/*
 * The relay must still be running.  Showing that something does not happen
 * takes a wait; 200 ms is far more than a finished relay needs to return.
 */
static void
assert_running(void)
{
	if (join_within(200))
		fail_msg("the relay ended early: status %d (%s)", h->status,
		    h->err.msg);
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
	const size_t na = 4 * MiB + 17, nb = 3 * MiB + 5;
	unsigned char *a = tu_pattern(na, 10), *b = tu_pattern(nb, 11);
	struct tu_ep ep[3];

	(void)state;
	plain_net();
	start();
	ep_writer(&ep[0], h->tin, a, na, TU_EOF_CLOSE);
	h->tin = NULL;
	ep_reader(&ep[1], h->tout, nb);
	ep_reader(&ep[2], h->peer, na);
	ep[2].src = b;
	ep[2].srclen = nb;
	ep[2].eof_how = TU_EOF_SHUT;
	pump_ok(ep, 3);
	join_with(ST_OK, NULL);
	tu_assert_same(ep[2].dst, ep[2].dstlen, a, na);
	tu_assert_same(ep[1].dst, ep[1].dstlen, b, nb);
	assert_int_equal(h->stats.sent, na);
	assert_int_equal(h->stats.received, nb);
	assert_false(h->stats.truncated);
	free(ep[1].dst);
	free(ep[2].dst);
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
	const size_t na = 2 * MiB, nb = 2 * MiB + 1;
	unsigned char *a = tu_pattern(na, 20), *b = tu_pattern(nb, 21);
	struct tu_ep ep[2];

	(void)state;
	plain_net();
	start();
	ep_writer(&ep[0], h->tin, a, na, TU_EOF_CLOSE);
	h->tin = NULL;
	ep_reader(&ep[1], h->peer, na);
	pump_ok(ep, 2);
	assert_true(ep[1].got_eof);
	tu_assert_same(ep[1].dst, ep[1].dstlen, a, na);
	free(ep[1].dst);
	assert_running();

	/* Now the peer answers, and only then closes. */
	ep_writer(&ep[0], h->peer, b, nb, TU_EOF_SHUT);
	ep_reader(&ep[1], h->tout, nb);
	pump_ok(ep, 2);
	join_with(ST_OK, NULL);
	tu_assert_same(ep[1].dst, ep[1].dstlen, b, nb);
	assert_int_equal(h->stats.sent, na);
	assert_int_equal(h->stats.received, nb);
	free(ep[1].dst);
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
	const size_t na = 4 * MiB + 3, nb = 1000;
	unsigned char *a = tu_pattern(na, 30), *b = tu_pattern(nb, 31);
	struct tu_ep ep[2];

	(void)state;
	plain_net();
	start();
	ep_writer(&ep[0], h->peer, b, nb, TU_EOF_SHUT);
	ep_reader(&ep[1], h->tout, nb);
	pump_ok(ep, 2);
	assert_true(ep[1].got_eof);
	tu_assert_same(ep[1].dst, ep[1].dstlen, b, nb);
	free(ep[1].dst);
	assert_running();

	ep_writer(&ep[0], h->tin, a, na, TU_EOF_CLOSE);
	h->tin = NULL;
	ep_reader(&ep[1], h->peer, na);
	pump_ok(ep, 2);
	join_with(ST_OK, NULL);
	tu_assert_same(ep[1].dst, ep[1].dstlen, a, na);
	assert_int_equal(h->stats.sent, na);
	free(ep[1].dst);
	free(a);
	free(b);
}

/* A terminal on stdin: the session ends at the peer's EOF. */
static void
test_end_at_peer_eof(void **state)
{
	static const char b[] = "bye from the peer\n";
	struct tu_ep ep[2];

	(void)state;
	plain_net();
	h->opts.end_at_peer_eof = true;
	start();
	ep_writer(&ep[0], h->peer, (const unsigned char *)b, strlen(b),
	    TU_EOF_SHUT);
	ep_reader(&ep[1], h->tout, 100);
	pump_ok(ep, 2);
	/* The local input is still open, yet the session is over. */
	join_with(ST_OK, NULL);
	assert_int_equal(ep[1].dstlen, strlen(b));
	assert_memory_equal(ep[1].dst, b, strlen(b));
	free(ep[1].dst);
}

/* Without end_at_peer_eof the same session goes on. */
static void
test_peer_eof_alone_does_not_end(void **state)
{
	struct tu_ep ep;

	(void)state;
	plain_net();
	start();
	assert_int_equal(shutdown(h->sv[1], SHUT_WR), 0);
	ep_reader(&ep, h->tout, 10);
	pump_ok(&ep, 1);
	assert_int_equal(ep.dstlen, 0);
	free(ep.dst);
	assert_running();
	/* Closing the input ends it. */
	stream_close(h->tin);
	h->tin = NULL;
	join_with(ST_OK, NULL);
}

static void
test_recv_only(void **state)
{
	static const char unread[] = "input the relay must leave alone";
	static const char b[] = "data from the peer";
	char buf[100];
	struct tu_ep ep[2];
	ssize_t r;

	(void)state;
	plain_net();
	assert_int_equal(write(h->in_w, unread, strlen(unread)),
	    (ssize_t)strlen(unread));
	h->opts.recv_only = true;
	start();
	ep_writer(&ep[0], h->peer, (const unsigned char *)b, strlen(b),
	    TU_EOF_SHUT);
	ep_reader(&ep[1], h->tout, 100);
	pump_ok(ep, 2);
	join_with(ST_OK, NULL);
	assert_int_equal(ep[1].dstlen, strlen(b));
	assert_memory_equal(ep[1].dst, b, strlen(b));
	free(ep[1].dst);
	assert_int_equal(h->stats.sent, 0);
	/* The input is still in the pipe, every byte of it. */
	tu_nonblock(h->in_r);
	r = read(h->in_r, buf, sizeof(buf));
	assert_int_equal(r, (ssize_t)strlen(unread));
	assert_memory_equal(buf, unread, strlen(unread));
	/*
	 * And the peer got no data, only the half-close that every clean end
	 * sends (relay_run), so that a TLS peer sees close_notify.
	 */
	r = recv(h->sv[1], buf, sizeof(buf), MSG_DONTWAIT);
	assert_int_equal(r, 0);
}

static void
test_no_shutdown(void **state)
{
	const size_t na = 300000, nb = 200000;
	unsigned char *a = tu_pattern(na, 40), *b = tu_pattern(nb, 41);
	struct tu_ep ep[2];
	struct pollfd pfd;
	char c;

	(void)state;
	plain_net();
	h->opts.no_shutdown = true;
	start();
	ep_writer(&ep[0], h->tin, a, na, TU_EOF_CLOSE);
	h->tin = NULL;
	ep_reader(&ep[1], h->peer, na);
	ep[1].want_bytes = na;
	pump_ok(ep, 2);
	tu_assert_same(ep[1].dst, ep[1].dstlen, a, na);
	free(ep[1].dst);
	/* Local EOF, yet no FIN reaches the peer. */
	pfd.fd = h->sv[1];
	pfd.events = POLLIN;
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, 200), 0);

	ep_writer(&ep[0], h->peer, b, nb, TU_EOF_SHUT);
	ep_reader(&ep[1], h->tout, nb);
	pump_ok(ep, 2);
	join_with(ST_OK, NULL);
	tu_assert_same(ep[1].dst, ep[1].dstlen, b, nb);
	/* The clean end of the session sends it (see relay_run). */
	assert_int_equal(recv(h->sv[1], &c, 1, MSG_DONTWAIT), 0);
	free(ep[1].dst);
	free(a);
	free(b);
}

/* -q: the session ends a while after local EOF though the peer stays. */
static void
test_quit_after_eof(void **state)
{
	static const char a[] = "last words";
	struct tu_ep ep[2];
	int64_t t_eof;

	(void)state;
	plain_net();
	h->opts.quit_after_eof_ms = 300;
	start();
	ep_writer(&ep[0], h->tin, (const unsigned char *)a, strlen(a),
	    TU_EOF_CLOSE);
	h->tin = NULL;
	ep_reader(&ep[1], h->peer, 100);
	pump_ok(ep, 2);
	t_eof = tu_now();
	assert_int_equal(ep[1].dstlen, strlen(a));
	free(ep[1].dst);
	join_with(ST_OK, NULL);
	/* Not before the delay; not much after it either. */
	assert_true(h->t_end - h->t_start >= 300);
	assert_true(h->t_end - t_eof < 5000);
}

/* -q 0: the session ends as soon as local EOF has gone out. */
static void
test_quit_after_eof_zero(void **state)
{
	(void)state;
	plain_net();
	h->opts.quit_after_eof_ms = 0;
	start();
	stream_close(h->tin);
	h->tin = NULL;
	join_with(ST_OK, NULL);
}

static void
test_idle_timeout(void **state)
{
	static const char a[] = "x";
	struct tu_ep ep[2];
	int64_t t_last;

	(void)state;
	plain_net();
	h->opts.idle_ms = 300;
	start();
	/* Activity puts the timeout off. */
	ep_writer(&ep[0], h->tin, (const unsigned char *)a, 1, TU_EOF_NONE);
	ep_reader(&ep[1], h->peer, 10);
	ep[1].want_bytes = 1;
	pump_ok(ep, 2);
	t_last = tu_now();
	free(ep[1].dst);
	join_with(ST_TIMEOUT, "idle timeout");
	assert_true(h->t_end - h->t_start >= 300);
	/* Measured from the last byte, within scheduling slack. */
	assert_true(h->t_end - t_last >= 250);
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
	const size_t na = 4 * MiB;
	unsigned char *a = tu_pattern(na, 50);
	size_t taken, bound, pipesz;
	int small = 16384, n;
	struct tu_ep ep[3];

	(void)state;
	plain_net();
	assert_int_equal(setsockopt(h->sv[0], SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	h->opts.bufsize = 4096;
	pipesz = (size_t)fcntl(h->in_w, F_GETPIPE_SZ);
	start();
	taken = fill_until_stalled(h->in_w, a, na);
	/*
	 * What the input pipe, the relay's buffer and the socket can hold, and
	 * no more: an unbounded relay would have taken all of it.
	 */
	bound = pipesz + h->opts.bufsize + (size_t)sndbuf(h->sv[0]);
	if (taken > bound || taken >= na)
		fail_msg("took %zu bytes while the peer stalled (bound %zu)",
		    taken, bound);
	assert_true(taken >= pipesz);
	/* The pipe is full: the relay is not reading it. */
	assert_int_equal(ioctl(h->in_w, FIONREAD, &n), 0);
	assert_true((size_t)n + 4096 >= pipesz);

	/* The peer resumes; everything arrives in order. */
	ep_writer(&ep[0], h->tin, a + taken, na - taken, TU_EOF_CLOSE);
	h->tin = NULL;
	ep_reader(&ep[1], h->peer, na);
	ep[1].eof_how = TU_EOF_SHUT;
	ep_reader(&ep[2], h->tout, 0);
	pump_ok(ep, 3);
	join_with(ST_OK, NULL);
	tu_assert_same(ep[1].dst, ep[1].dstlen, a, na);
	free(ep[1].dst);
	free(ep[2].dst);
	free(a);
}

/* The local output stalls: the relay stops reading the network. */
static void
test_backpressure_in(void **state)
{
	const size_t nb = 4 * MiB;
	unsigned char *b = tu_pattern(nb, 60);
	size_t taken, bound, pipesz;
	struct tu_ep ep[3];
	int n;

	(void)state;
	plain_net();
	h->opts.bufsize = 4096;
	pipesz = (size_t)fcntl(h->out_w, F_GETPIPE_SZ);
	start();
	taken = fill_until_stalled(h->sv[1], b, nb);
	bound = pipesz + h->opts.bufsize + (size_t)sndbuf(h->sv[1]);
	if (taken > bound || taken >= nb)
		fail_msg("took %zu bytes while the output stalled (bound %zu)",
		    taken, bound);
	/* The output pipe is full and the socket holds the rest. */
	assert_int_equal(ioctl(h->out_r, FIONREAD, &n), 0);
	assert_true((size_t)n + 4096 >= pipesz);

	ep_writer(&ep[0], h->peer, b + taken, nb - taken, TU_EOF_SHUT);
	ep_reader(&ep[1], h->tout, nb);
	ep_writer(&ep[2], h->tin, NULL, 0, TU_EOF_CLOSE);
	h->tin = NULL;
	pump_ok(ep, 3);
	join_with(ST_OK, NULL);
	tu_assert_same(ep[1].dst, ep[1].dstlen, b, nb);
	free(ep[1].dst);
	free(b);
}

/* The peer gone ---------------------------------------------------------- */

static void
test_peer_gone(void **state)
{
	const size_t na = 32768;
	unsigned char *a = tu_pattern(na, 70);
	struct tu_ep ep;
	char want[64];
	const char *p;
	unsigned long long lost;

	(void)state;
	plain_net();
	/* The peer closes altogether before any input is sent. */
	stream_close(h->peer);
	h->peer = NULL;
	start();
	/* The relay passes the peer's EOF on to the local output. */
	ep_reader(&ep, h->tout, 10);
	pump_ok(&ep, 1);
	free(ep.dst);
	/* Then input arrives with nowhere to go. */
	ep_writer(&ep, h->tin, a, na, TU_EOF_CLOSE);
	h->tin = NULL;
	pump_ok(&ep, 1);
	join_with(ST_RUNTIME, "not sent");
	assert_non_null(strstr(h->err.msg, "the peer is gone"));
	/*
	 * It says how much was lost: the bytes it had read, and the rest of
	 * the input when it had not read all of it (buffers start small).
	 */
	p = strstr(h->err.msg, "): ");
	assert_non_null(p);
	lost = strtoull(p + 3, NULL, 10);
	assert_true(lost > 0 && lost <= na);
	snprintf(want, sizeof(want), "%llu bytes of input were not sent",
	    lost);
	if (strstr(h->err.msg, want) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", h->err.msg, want);
	if (lost < na && strstr(h->err.msg, "and the rest of the input") ==
	    NULL)
		fail_msg("\"%s\" does not mention the rest", h->err.msg);
	assert_int_equal(h->stats.sent, 0);
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
	const size_t na = 32768, nb = 50000;
	unsigned char *a = tu_pattern(na, 71), *b = tu_pattern(nb, 72);
	struct tu_ep ep;
	size_t off = 0, n;

	(void)state;
	plain_net();
	while (off < nb) {
		assert_int_equal(stream_write(h->peer, b + off, nb - off, &n),
		    IO_DONE);
		off += n;
	}
	stream_close(h->peer);
	h->peer = NULL;
	/* Input is already waiting when the relay starts, so it sends first. */
	assert_int_equal(write(h->in_w, a, na), (ssize_t)na);
	start();
	ep_reader(&ep, h->tout, nb + 1);
	pump_ok(&ep, 1);
	assert_true(ep.got_eof);
	assert_int_equal(ep.dstlen, nb);
	assert_memory_equal(ep.dst, b, nb);
	free(ep.dst);
	join_with(ST_RUNTIME, "not sent");
	free(a);
	free(b);
}

/* TLS -------------------------------------------------------------------- */

static enum status
count_established(struct stream *s, void *arg, struct error *e)
{
	struct rh *r = arg;

	/* This runs in the relay's thread: record, and assert later. */
	(void)e;
	if (s == r->net)
		r->established++;
	else
		r->established = -1000;
	return ST_OK;
}

/*
 * net is a TLS client over the socketpair, pinned to the peer, a TLS server
 * with an ephemeral certificate; wrong_pin spoils the pin.
 */
static void
tls_net(bool wrong_pin)
{
	struct tls_opts so = { .server = true }, co = { .server = false };
	struct error e = { ST_OK, "" };
	char fp[TLS_FP_MAX];

	h->sctx = tls_ctx_new(&so, fp, NULL, &e);
	if (h->sctx == NULL)
		fail_msg("server context: %s", e.msg);
	assert_int_equal(tls_parse_pin(fp, co.pin), 0);
	co.have_pin = true;
	if (wrong_pin)
		co.pin[0] ^= 0x80;
	h->cctx = tls_ctx_new(&co, NULL, NULL, &e);
	if (h->cctx == NULL)
		fail_msg("client context: %s", e.msg);
	h->net = tu_tls_over(h->cctx, h->sv[0], &co, "localhost");
	h->peer = tu_tls_over(h->sctx, h->sv[1], &so, NULL);
	h->opts.on_established = count_established;
	h->opts.arg = h;
}

static void
peer_handshake(void)
{
	enum io r;

	assert_int_equal(tu_handshake(h->peer, NULL, &r, NULL, TIMEOUT), 0);
	if (r != IO_DONE)
		fail_msg("peer handshake: %s", h->peer->err.msg);
}

static void
test_tls_both_ways(void **state)
{
	const size_t na = 3 * MiB + 1, nb = 2 * MiB + 999;
	unsigned char *a = tu_pattern(na, 80), *b = tu_pattern(nb, 81);
	struct tu_ep ep[3];

	(void)state;
	tls_net(false);
	/* A buffer smaller than a record leaves bytes inside OpenSSL. */
	h->opts.bufsize = 5000;
	start();
	peer_handshake();
	ep_writer(&ep[0], h->tin, a, na, TU_EOF_CLOSE);
	h->tin = NULL;
	ep_reader(&ep[1], h->tout, nb);
	ep_reader(&ep[2], h->peer, na);
	ep[2].src = b;
	ep[2].srclen = nb;
	ep[2].eof_how = TU_EOF_SHUT;
	pump_ok(ep, 3);
	join_with(ST_OK, NULL);
	tu_assert_same(ep[2].dst, ep[2].dstlen, a, na);
	tu_assert_same(ep[1].dst, ep[1].dstlen, b, nb);
	/* close_notify both ways. */
	assert_false(ep[2].eof_unclean);
	assert_false(h->stats.truncated);
	assert_int_equal(h->stats.sent, na);
	assert_int_equal(h->stats.received, nb);
	assert_int_equal(h->established, 1);
	free(ep[1].dst);
	free(ep[2].dst);
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
	const size_t nb = 12000;
	unsigned char *b = tu_pattern(nb, 85);
	struct tu_ep ep[3];
	int rc;

	(void)state;
	tls_net(false);
	h->opts.bufsize = 1000;
	start();
	peer_handshake();
	/* One write, one record; then the peer keeps still. */
	ep_writer(&ep[0], h->peer, b, nb, TU_EOF_NONE);
	ep[0].wchunk = nb;
	pump_ok(ep, 1);
	ep_reader(&ep[1], h->tout, nb);
	ep[1].want_bytes = nb;
	rc = tu_pump(&ep[1], 1, 5000);
	if (rc != 0)
		fail_msg("%zu of %zu bytes arrived; the rest is stranded",
		    ep[1].dstlen, nb);
	tu_assert_same(ep[1].dst, ep[1].dstlen, b, nb);
	free(ep[1].dst);

	/* End the session cleanly. */
	ep_writer(&ep[0], h->tin, NULL, 0, TU_EOF_CLOSE);
	h->tin = NULL;
	ep_reader(&ep[1], h->peer, 10);
	ep[1].eof_how = TU_EOF_SHUT;
	ep_reader(&ep[2], h->tout, 0);
	pump_ok(ep, 3);
	join_with(ST_OK, NULL);
	assert_int_equal(h->stats.received, nb);
	free(ep[1].dst);
	free(ep[2].dst);
	free(b);
}

/*
 * The peer answers the relay's close_notify with data and then a close of
 * its own: with close_notify first (clean) or without (truncated).
 */
static void
tls_peer_closes(bool clean)
{
	static const char b[] = "the last of the data";
	struct tu_ep ep[3];
	unsigned char got[16];

	tls_net(false);
	start();
	peer_handshake();
	/* Empty input: the relay sends close_notify at once. */
	ep_writer(&ep[0], h->tin, NULL, 0, TU_EOF_CLOSE);
	h->tin = NULL;
	memset(&ep[1], 0, sizeof(ep[1]));
	ep[1].s = h->peer;
	ep[1].read = true;
	ep[1].dst = got;
	ep[1].dstcap = sizeof(got);
	ep[1].src = (const unsigned char *)b;
	ep[1].srclen = strlen(b);
	ep[1].eof_how = clean ? TU_EOF_SHUT : TU_EOF_NONE;
	ep_reader(&ep[2], h->tout, 100);
	ep[2].want_bytes = strlen(b);
	pump_ok(ep, 2);
	assert_int_equal(ep[1].dstlen, 0);
	assert_false(ep[1].eof_unclean);
	/* Gone, without a word unless clean. */
	stream_close(h->peer);
	h->peer = NULL;
	ep[2].want_bytes = 0;
	pump_ok(&ep[2], 1);
	assert_int_equal(ep[2].dstlen, strlen(b));
	assert_memory_equal(ep[2].dst, b, strlen(b));
	free(ep[2].dst);
}

static void
test_tls_truncated(void **state)
{
	(void)state;
	tls_peer_closes(false);
	join_with(ST_TRUNCATED, "close_notify");
	assert_true(h->stats.truncated);
	assert_int_equal(h->stats.received, strlen("the last of the data"));
}

static void
test_tls_clean_close(void **state)
{
	(void)state;
	tls_peer_closes(true);
	join_with(ST_OK, NULL);
	assert_false(h->stats.truncated);
}

static void
test_tls_verify_fails(void **state)
{
	enum io r;

	(void)state;
	tls_net(true);
	start();
	assert_int_equal(tu_handshake(h->peer, NULL, &r, NULL, TIMEOUT), 0);
	assert_int_equal(r, IO_ERROR);
	join_with(ST_VERIFY, "pin mismatch");
	assert_int_equal(h->established, 0);
	assert_int_equal(h->stats.sent, 0);
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
	(void)state;
	tls_net(false);
	h->opts.on_established = refuse_established;
	start();
	peer_handshake();
	join_with(ST_VERIFY, "refused by policy");
	assert_int_equal(h->stats.sent, 0);
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

	(void)state;
	tls_net(false);
	assert_int_equal(setsockopt(h->sv[0], SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	assert_int_equal(setsockopt(h->sv[1], SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	assert_non_null(loop = loop_new(&e));
	assert_non_null(r = relay_new(loop, h->local, h->net, &h->opts, &e));
	/* Each turn ends within 10 ms, whatever the relay waits for. */
	loop_timer_init(&wake, tick);
	relay_start(r);
	for (; !relay_finished(r, &st, &e); turns++) {
		assert_true(turns < 100000);
		if (!peer_up) {
			io = stream_handshake(h->peer);
			assert_true(io != IO_ERROR);
			peer_up = io == IO_DONE;
		} else if (!stopped) {
			/*
			 * Input until the relay holds bytes it cannot send,
			 * since the peer is not reading.  Then stop it, as a
			 * signal would: a clean end with data in flight.
			 */
			w = write(h->in_w, a + off, na - off);
			if (w > 0)
				off += (size_t)w;
			relay_get_stats(r, &stats);
			if (w == -1 && stats.unsent > 0) {
				relay_stop(r, ST_OK, NULL);
				stopped = true;
			}
		} else {
			/* Now the peer reads, and room appears. */
			while (stream_read(h->peer, buf, sizeof(buf), &n) ==
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
	stream_close(h->net);
	h->net = NULL;
	for (;;) {
		io = stream_read(h->peer, buf, sizeof(buf), &n);
		if (io == IO_DONE) {
			got += n;
			continue;
		}
		if (io != IO_WANT_READ)
			break;
		assert_true(turns++ < 1000000);
	}
	if (io != IO_EOF || !stream_eof_clean(h->peer))
		fail_msg("the peer saw %s after %zu bytes: %s",
		    io == IO_EOF ? "an unclean EOF" : "an error", got,
		    h->peer->err.msg);
	/* What the relay had read was sent before the close_notify. */
	assert_int_equal(got, stats.sent + stats.unsent);
	free(a);
}

/* A peer that never answers the ClientHello. */
static void
test_handshake_deadline(void **state)
{
	struct tls_opts co = { .server = false, .no_verify = true };
	struct error e = { ST_OK, "" };

	(void)state;
	h->cctx = tls_ctx_new(&co, NULL, NULL, &e);
	assert_non_null(h->cctx);
	h->net = tu_tls_over(h->cctx, h->sv[0], &co, "localhost");
	h->peer = stream_fd_new(h->sv[1], h->sv[1], STREAM_OWN_FDS);
	h->opts.handshake_deadline = now_ms() + 300;
	start();
	join_with(ST_TIMEOUT, "timed out");
	assert_true(h->t_end - h->t_start >= 300);
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
	const size_t na = 20000, nb = 30000;
	unsigned char *a = tu_pattern(na, 90), *b = tu_pattern(nb, 91);
	struct loop *loop;
	struct relay *r;
	struct relay_stats st;
	struct error e;
	enum status s;
	struct tu_ep ep[2];
	int rounds = 0, done = 0;
	int64_t end;

	(void)state;
	plain_net();
	/* Both inputs fit in the kernel buffers; write them up front. */
	ep_writer(&ep[0], h->tin, a, na, TU_EOF_CLOSE);
	h->tin = NULL;
	ep_writer(&ep[1], h->peer, b, nb, TU_EOF_SHUT);
	pump_ok(ep, 2);

	assert_non_null(loop = loop_new(&e));
	h->opts.on_done = count_done;
	h->opts.done_arg = &done;
	r = relay_new(loop, h->local, h->net, &h->opts, &e);
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

	ep_reader(&ep[0], h->peer, na);
	ep_reader(&ep[1], h->tout, nb);
	pump_ok(ep, 2);
	tu_assert_same(ep[0].dst, ep[0].dstlen, a, na);
	tu_assert_same(ep[1].dst, ep[1].dstlen, b, nb);
	free(ep[0].dst);
	free(ep[1].dst);
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
	const size_t nb = 2 * MiB;
	unsigned char *b = tu_pattern(nb, 60);

	(void)state;
	plain_net();
	h->opts.idle_ms = 300;
	start();
	(void)fill_until_stalled(h->sv[1], b, nb);
	if (!join_within(5000))
		fail_msg("relay still running 5 s after the output stalled");
	assert_int_equal(h->status, ST_TIMEOUT);
	assert_non_null(strstr(h->err.msg, "idle timeout"));
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
