/*
 * Unit tests for the layer chain (src/stream.c) and TLS over any stream
 * (src/tls.c).
 *
 * Fake layers, some with every slot and some with only read and write,
 * show what passes down: the handshake drives the lower layers first,
 * pending adds up, want_fd, shutdown_write and queries go to the layer
 * below.  Then TLS inside TLS moves 16 MiB each way at once, over a
 * socketpair (the outer TLS on the socket itself) and over two pipes (the
 * outer TLS through the stream BIO as well).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cases.h"
#include "status.h"
#include "stream.h"
#include "tls.h"
#include "testutil.h"

#define WATCHDOG_SECS	120	/* a hung transfer dies instead of hanging */
#define STALL_MS	10000	/* no event for this long: something hangs */
#define MiB		(1024 * 1024)

/* --- Fake layers. */

/*
 * A fake layer's answers.  Its handshake follows a script (IO_DONE once
 * the script is over) and logs the layer's name; its query slot answers
 * only the queries whose bit is in knows.
 */
struct lay {
	const char	*name;
	char		*log;		/* the fixture's handshake log */
	enum io		 hs[4];
	size_t		 nhs, hspos;
	size_t		 pending;
	int		 rfd, wfd;	/* want_fd's answers */
	enum io		 shut;
	int		 shut_calls;
	unsigned	 knows;		/* 1 << enum stream_query */
	int		 q_fd;
	bool		 q_eof_clean;
	bool		 q_nonblocking;
	bool		 q_datagram;
	int		 queries;
};

#define KNOWS(q)	(1u << (q))

static enum io
lay_handshake(struct stream *s)
{
	struct lay *l = s->ctx;
	enum io io;

	strcat(l->log, l->name);
	strcat(l->log, " ");
	if (l->hspos == l->nhs)
		return IO_DONE;
	io = l->hs[l->hspos++];
	if (io == IO_ERROR)
		return stream_fail(s, ST_HANDSHAKE, ECONNRESET,
		    "%s handshake failed", l->name);
	return io;
}

static enum io
lay_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	(void)s;
	(void)buf;
	(void)len;
	*n = 0;
	return IO_WANT_READ;
}

static enum io
lay_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	(void)s;
	(void)buf;
	(void)len;
	*n = 0;
	return IO_WANT_WRITE;
}

static enum io
lay_shutdown_write(struct stream *s)
{
	struct lay *l = s->ctx;

	l->shut_calls++;
	if (l->shut == IO_ERROR)
		return stream_fail(s, ST_RUNTIME, EPIPE, "%s shutdown failed",
		    l->name);
	return l->shut;
}

static size_t
lay_pending(const struct stream *s)
{
	const struct lay *l = s->ctx;

	return l->pending;
}

static int
lay_want_fd(const struct stream *s, enum io want, short *events)
{
	const struct lay *l = s->ctx;

	if (want == IO_WANT_WRITE) {
		*events = POLLOUT;
		return l->wfd;
	}
	*events = POLLIN;
	return l->rfd;
}

static int
lay_query(const struct stream *s, enum stream_query q, void *out)
{
	struct lay *l = s->ctx;

	l->queries++;
	if (!(l->knows & KNOWS(q)))
		return -1;
	switch (q) {
	case STREAM_Q_FD:
		*(int *)out = l->q_fd;
		return 0;
	case STREAM_Q_EOF_CLEAN:
		*(bool *)out = l->q_eof_clean;
		return 0;
	case STREAM_Q_NONBLOCKING:
		*(bool *)out = l->q_nonblocking;
		return 0;
	case STREAM_Q_DATAGRAM:
		*(bool *)out = l->q_datagram;
		return 0;
	default:
		return -1;
	}
}

/* Every slot filled in. */
static const struct stream_ops full_ops = {
	.name = "full",
	.handshake = lay_handshake,
	.read = lay_read,
	.write = lay_write,
	.shutdown_write = lay_shutdown_write,
	.pending = lay_pending,
	.want_fd = lay_want_fd,
	.query = lay_query,
};

/* Only read and write: everything else passes down. */
static const struct stream_ops bare_ops = {
	.name = "bare",
	.read = lay_read,
	.write = lay_write,
};

/* --- The fixture. */

/* One end of a TLS-in-TLS connection and what it moves. */
struct end {
	const char	*name;
	struct stream	*s;		/* inner TLS; owns the layers below */
	struct stream	*outer;		/* outer TLS */
	struct stream	*base;		/* fd stream */
	enum io		 want;		/* handshake */
	bool		 done;		/* handshake, or half-close */
	unsigned char	*src;		/* what it sends */
	size_t		 srcoff;
	unsigned char	*dst;		/* what it received */
	size_t		 dstlen;
	enum io		 wwant, rwant;
	bool		 got_eof;
};

struct layers_fx {
	/* Fake chains: top, middle, bottom. */
	struct lay	 lay[3];
	struct stream	*top;
	char		 log[256];
	/* TLS. */
	SSL_CTX		*sctx, *cctx;
	struct tls_opts	 so, co;
	char		 fp[TLS_FP_MAX];
	struct end	 client, server;
	size_t		 xfer;		/* bytes each way */
	const void	*param;
};

static int
setup(void **state)
{
	struct layers_fx *fx = calloc(1, sizeof(*fx));
	int i;

	assert_non_null(fx);
	fx->param = *state;
	for (i = 0; i < 3; i++) {
		fx->lay[i].name = i == 0 ? "top" : i == 1 ? "mid" : "bottom";
		fx->lay[i].log = fx->log;
		fx->lay[i].rfd = fx->lay[i].wfd = -1;
	}
	fx->client.name = "client";
	fx->server.name = "server";
	*state = fx;
	return 0;
}

static void
end_free(struct end *e)
{
	stream_close(e->s);
	free(e->src);
	free(e->dst);
}

static int
teardown(void **state)
{
	struct layers_fx *fx = *state;

	stream_close(fx->top);
	end_free(&fx->client);
	end_free(&fx->server);
	SSL_CTX_free(fx->sctx);
	SSL_CTX_free(fx->cctx);
	free(fx);
	ERR_clear_error();
	return 0;
}

/* A chain of three fake layers, top first; NULL ops: bare. */
static void
build_chain(struct layers_fx *fx, const struct stream_ops *top,
    const struct stream_ops *mid, const struct stream_ops *bottom)
{
	const struct stream_ops *ops[3] = { top, mid, bottom };
	struct stream *below = NULL;
	int i;

	for (i = 2; i >= 0; i--) {
		below = stream_layer_new(ops[i] != NULL ? ops[i] : &bare_ops,
		    &fx->lay[i], below);
		assert_non_null(below);
	}
	fx->top = below;
}

/* An ephemeral server, and a client that pins its certificate. */
static void
make_contexts(struct layers_fx *fx)
{
	struct error e = { ST_OK, "" };
	bool eph = false;

	fx->so.server = true;
	fx->sctx = tls_ctx_new(&fx->so, fx->fp, &eph, &e);
	if (fx->sctx == NULL)
		fail_msg("server tls_ctx_new: %s", e.msg);
	assert_true(eph);
	fx->co.have_pin = true;
	assert_int_equal(tls_parse_pin(fx->fp, fx->co.pin), 0);
	fx->cctx = tls_ctx_new(&fx->co, NULL, NULL, &e);
	if (fx->cctx == NULL)
		fail_msg("client tls_ctx_new: %s", e.msg);
}

/* --- Pass-down defaults. */

/*
 * The handshake of a chain: what each call of stream_handshake() on the
 * top answers, and in which order the layers' own handshakes ran.
 */
struct hs_case {
	const char	*name;
	bool		 top_has, bottom_has;	/* else bare */
	enum io		 top[3], bottom[3];
	size_t		 ntop, nbottom;
	enum io		 results[4];
	size_t		 ncalls;
	const char	*log;
};

static const struct hs_case hs_cases[] = {
	{ "handshake_passes_lower_want_up", false, true,
	    { IO_DONE }, { IO_WANT_READ, IO_DONE }, 0, 2,
	    { IO_WANT_READ, IO_DONE }, 2,
	    "bottom bottom " },
	{ "handshake_runs_lower_first", true, true,
	    { IO_WANT_WRITE, IO_DONE }, { IO_WANT_READ, IO_WANT_WRITE,
	    IO_DONE }, 2, 3,
	    { IO_WANT_READ, IO_WANT_WRITE, IO_WANT_WRITE, IO_DONE }, 4,
	    "bottom bottom bottom top bottom top " },
	{ "handshake_lower_error_goes_up", true, true,
	    { IO_DONE }, { IO_WANT_READ, IO_ERROR }, 1, 2,
	    { IO_WANT_READ, IO_ERROR }, 2,
	    "bottom bottom " },
	{ "handshake_none_anywhere", false, false,
	    { IO_DONE }, { IO_DONE }, 0, 0,
	    { IO_DONE }, 1,
	    "" },
};

static void
handshake_table(void **state)
{
	struct layers_fx *fx = *state;
	const struct hs_case *c = fx->param;
	size_t i;
	enum io io;

	memcpy(fx->lay[0].hs, c->top, sizeof(c->top));
	fx->lay[0].nhs = c->ntop;
	memcpy(fx->lay[2].hs, c->bottom, sizeof(c->bottom));
	fx->lay[2].nhs = c->nbottom;
	build_chain(fx, c->top_has ? &full_ops : NULL, NULL,
	    c->bottom_has ? &full_ops : NULL);
	for (i = 0; i < c->ncalls; i++)
		if ((io = stream_handshake(fx->top)) != c->results[i])
			fail_msg("call %zu: %d, want %d (log: %s)", i, (int)io,
			    (int)c->results[i], fx->log);
	assert_string_equal(fx->log, c->log);
	if (c->results[c->ncalls - 1] == IO_ERROR) {
		/* The reason climbs to the top, through the bare middle. */
		assert_string_equal(fx->top->err.msg,
		    "bottom handshake failed: Connection reset by peer");
		assert_int_equal(fx->top->err.status, ST_HANDSHAKE);
		assert_int_equal(fx->top->sys_errno, ECONNRESET);
	}
}

/* Pending adds what every layer holds; a bare layer holds nothing. */
static void
pending_adds_all_layers(void **state)
{
	struct layers_fx *fx = *state;
	static const struct {
		size_t	 top, mid, bottom, want;
	} cases[] = {
		{ 0, 0, 0, 0 },
		{ 3, 0, 0, 3 },
		{ 0, 0, 5, 5 },
		{ 3, 0, 5, 8 },
		{ 1, 20, 300, 321 },
	};
	size_t i, got;

	build_chain(fx, &full_ops, &full_ops, &full_ops);
	for (i = 0; i < NELEM(cases); i++) {
		fx->lay[0].pending = cases[i].top;
		fx->lay[1].pending = cases[i].mid;
		fx->lay[2].pending = cases[i].bottom;
		if ((got = stream_pending(fx->top)) != cases[i].want)
			fail_msg("case %zu: pending %zu, want %zu", i, got,
			    cases[i].want);
	}
	/* Bare layers add nothing, and let the bottom's bytes through. */
	stream_close(fx->top);
	build_chain(fx, NULL, NULL, &full_ops);
	fx->lay[0].pending = 1000;	/* not asked: no slot */
	fx->lay[2].pending = 7;
	assert_int_equal(stream_pending(fx->top), 7);
	assert_int_equal(stream_pending(fx->top->lower), 7);
}

/* want_fd goes down to the first layer that has the slot. */
static void
want_fd_passes_down(void **state)
{
	struct layers_fx *fx = *state;
	short ev = 0x7fff;

	fx->lay[2].rfd = 41;
	fx->lay[2].wfd = 42;
	build_chain(fx, NULL, NULL, &full_ops);
	assert_int_equal(stream_want_fd(fx->top, IO_WANT_READ, &ev), 41);
	assert_int_equal(ev, POLLIN);
	assert_int_equal(stream_want_fd(fx->top, IO_WANT_WRITE, &ev), 42);
	assert_int_equal(ev, POLLOUT);

	/* A middle layer fed from inside the process has no descriptor. */
	stream_close(fx->top);
	build_chain(fx, NULL, &full_ops, &full_ops);
	ev = 0x7fff;
	assert_int_equal(stream_want_fd(fx->top, IO_WANT_READ, &ev), -1);

	/* No layer has the slot: no descriptor, no events. */
	stream_close(fx->top);
	build_chain(fx, NULL, NULL, NULL);
	ev = 0x7fff;
	assert_int_equal(stream_want_fd(fx->top, IO_WANT_WRITE, &ev), -1);
	assert_int_equal(ev, 0);
}

/* shutdown_write goes down past bare layers, and its failure comes up. */
static void
shutdown_passes_down(void **state)
{
	struct layers_fx *fx = *state;

	build_chain(fx, NULL, NULL, &full_ops);
	fx->lay[2].shut = IO_WANT_WRITE;
	assert_int_equal(stream_shutdown_write(fx->top), IO_WANT_WRITE);
	fx->lay[2].shut = IO_DONE;
	assert_int_equal(stream_shutdown_write(fx->top), IO_DONE);
	assert_int_equal(fx->lay[2].shut_calls, 2);

	fx->lay[2].shut = IO_ERROR;
	memset(fx->top->err.msg, 'X', sizeof(fx->top->err.msg) - 1);
	assert_int_equal(stream_shutdown_write(fx->top), IO_ERROR);
	assert_string_equal(fx->top->err.msg,
	    "bottom shutdown failed: Broken pipe");
	assert_int_equal(fx->top->sys_errno, EPIPE);

	/* A layer with its own slot takes the call. */
	stream_close(fx->top);
	fx->lay[0].shut = IO_WANT_READ;
	fx->lay[2].shut_calls = 0;
	build_chain(fx, &full_ops, NULL, &full_ops);
	assert_int_equal(stream_shutdown_write(fx->top), IO_WANT_READ);
	assert_int_equal(fx->lay[0].shut_calls, 1);
	assert_int_equal(fx->lay[2].shut_calls, 0);

	/* Nobody has the slot: nothing to do. */
	stream_close(fx->top);
	build_chain(fx, NULL, NULL, NULL);
	assert_int_equal(stream_shutdown_write(fx->top), IO_DONE);
}

/*
 * Queries: the topmost layer that knows answers; the typed queries give
 * their documented default when nobody does.
 */
static void
query_topmost_that_knows(void **state)
{
	struct layers_fx *fx = *state;
	struct lay *top = &fx->lay[0], *mid = &fx->lay[1], *bot = &fx->lay[2];
	int out = 12345;

	build_chain(fx, &full_ops, &full_ops, &full_ops);
	top->knows = KNOWS(STREAM_Q_EOF_CLEAN);
	top->q_eof_clean = false;
	mid->knows = KNOWS(STREAM_Q_NONBLOCKING);
	mid->q_nonblocking = true;
	bot->knows = KNOWS(STREAM_Q_FD) | KNOWS(STREAM_Q_EOF_CLEAN) |
	    KNOWS(STREAM_Q_NONBLOCKING);
	bot->q_fd = 7;
	bot->q_eof_clean = true;
	bot->q_nonblocking = false;

	assert_false(stream_eof_clean(fx->top));
	assert_int_equal(bot->queries, 0);	/* the top knew */
	assert_true(stream_nonblocking(fx->top));
	assert_int_equal(bot->queries, 0);
	assert_int_equal(stream_fd(fx->top), 7);
	assert_int_equal(bot->queries, 1);
	assert_int_equal(top->queries, 3);

	/* Nobody knows: -1, the output untouched, and the defaults. */
	assert_int_equal(stream_query(fx->top, STREAM_Q_DATAGRAM, &out), -1);
	assert_int_equal(out, 12345);
	assert_false(stream_keeps_datagrams(fx->top));
	top->knows = mid->knows = bot->knows = 0;
	assert_true(stream_eof_clean(fx->top));
	assert_false(stream_nonblocking(fx->top));
	assert_int_equal(stream_fd(fx->top), -1);
	assert_int_equal(stream_query(fx->top, STREAM_Q_TLS, &out), -1);

	/* The top says "no descriptor" even though the bottom has one. */
	top->knows = KNOWS(STREAM_Q_FD);
	top->q_fd = -1;
	bot->knows = KNOWS(STREAM_Q_FD);
	assert_int_equal(stream_fd(fx->top), -1);

	/* Bare layers let every query through. */
	stream_close(fx->top);
	build_chain(fx, NULL, NULL, &full_ops);
	bot->knows = KNOWS(STREAM_Q_DATAGRAM) | KNOWS(STREAM_Q_FD);
	bot->q_datagram = true;
	assert_true(stream_keeps_datagrams(fx->top));
	assert_int_equal(stream_fd(fx->top), 7);
}

/*
 * A TLS stream has no raw descriptor; a stream without TLS has no TLS
 * info; a layer without a query slot lets the TLS layer below answer.  The
 * TLS stream is a server whose peer left before saying anything: a failed
 * handshake, which tls_get_info() must describe too.
 */
static void
tls_answers_its_queries(void **state)
{
	struct layers_fx *fx = *state;
	struct tls_info info;
	struct stream *tls, *bare;
	int sv[2];

	make_contexts(fx);
	tu_socketpair(sv);
	tls = fx->server.s = tu_tls_over(fx->sctx, sv[1], &fx->so, NULL);
	close(sv[0]);
	assert_int_equal(stream_fd(tls->lower), sv[1]);
	assert_int_equal(stream_fd(tls), -1);
	assert_int_equal(stream_handshake(tls), IO_ERROR);
	assert_int_equal(tls->err.status, ST_HANDSHAKE);
	assert_string_equal(tls->err.msg, "TLS handshake: the peer closed the "
	    "connection (is it speaking TLS?)");

	memset(&info, 'X', sizeof(info));
	tls_get_info(tls, &info);
	assert_string_equal(info.cipher, "none");
	assert_string_equal(info.group, "none");
	assert_false(info.have_peer_cert);
	assert_string_equal(info.verify, "no client certificate");

	memset(&info, 'X', sizeof(info));
	tls_get_info(tls->lower, &info);
	assert_string_equal(info.version, "none");
	assert_string_equal(info.cipher, "none");
	assert_string_equal(info.group, "none");
	assert_string_equal(info.verify, "no TLS");
	assert_false(info.have_peer_cert);

	/* A chain of fakes has no TLS either. */
	build_chain(fx, NULL, NULL, &full_ops);
	tls_get_info(fx->top, &info);
	assert_string_equal(info.version, "none");

	/* A layer without a query slot over TLS: the TLS layer answers. */
	bare = stream_layer_new(&bare_ops, &fx->lay[0], tls);
	assert_non_null(bare);
	fx->server.s = bare;
	assert_int_equal(stream_fd(bare), -1);
	/* The peer left without close_notify: not the default answer. */
	assert_false(stream_eof_clean(bare));
	tls_get_info(bare, &info);
	assert_string_equal(info.verify, "no client certificate");
}

/* --- TLS inside TLS. */

static struct stream *
tls_layer(SSL_CTX *ctx, struct stream *lower, const struct tls_opts *o)
{
	struct error e = { ST_OK, "" };
	struct stream *s;

	s = tls_stream_new(ctx, lower, o, o->server ? NULL : "localhost", &e);
	if (s == NULL)
		fail_msg("tls_stream_new: %s", e.msg);
	return s;
}

/* TLS over TLS over base, for one end. */
static void
stack_end(struct layers_fx *fx, struct end *e, struct stream *base,
    bool server)
{
	e->base = base;
	e->outer = tls_layer(server ? fx->sctx : fx->cctx, base,
	    server ? &fx->so : &fx->co);
	e->s = tls_layer(server ? fx->sctx : fx->cctx, e->outer,
	    server ? &fx->so : &fx->co);
}

/* Add a pollfd for what s wants; returns the new count. */
static int
add_poll(struct pollfd *pfd, int n, const struct stream *s, enum io want)
{
	short ev;

	pfd[n].fd = stream_want_fd(s, want, &ev);
	assert_true(pfd[n].fd >= 0);
	pfd[n].events = ev;
	pfd[n].revents = 0;
	return n + 1;
}

/*
 * Wait for any of the descriptors, or not at all when a layer holds bytes
 * that poll cannot see.  A long silence means a hang.
 */
static void
wait_any(struct layers_fx *fx, struct pollfd *pfd, int n, const char *phase)
{
	bool hidden = stream_pending(fx->client.s) > 0 ||
	    stream_pending(fx->server.s) > 0;
	int r;

	assert_true(n > 0);
	r = poll(pfd, (nfds_t)n, hidden ? 0 : STALL_MS);
	if (r == -1 && errno != EINTR)
		fail_msg("poll: %s", strerror(errno));
	if (r == 0 && !hidden)
		fail_msg("%s: no progress (client %zu/%zu, server %zu/%zu)",
		    phase, fx->client.dstlen, fx->xfer, fx->server.dstlen,
		    fx->xfer);
}

/* Handshake one step; fails the test on an error. */
static void
step_handshake(struct end *e)
{
	enum io io;

	if (e->done)
		return;
	io = stream_handshake(e->s);
	if (io == IO_DONE)
		e->done = true;
	else if (io == IO_WANT_READ || io == IO_WANT_WRITE)
		e->want = io;
	else
		fail_msg("%s handshake: %d %s", e->name, (int)io,
		    e->s->err.msg);
}

static void
handshake_both(struct layers_fx *fx)
{
	struct pollfd pfd[2];
	int n;

	fx->client.done = fx->server.done = false;
	for (;;) {
		step_handshake(&fx->client);
		step_handshake(&fx->server);
		if (fx->client.done && fx->server.done)
			break;
		n = 0;
		if (!fx->client.done)
			n = add_poll(pfd, n, fx->client.s, fx->client.want);
		if (!fx->server.done)
			n = add_poll(pfd, n, fx->server.s, fx->server.want);
		wait_any(fx, pfd, n, "handshake");
	}
}

/* Write what can be written without waiting. */
static void
step_write(struct layers_fx *fx, struct end *e)
{
	size_t len, n;
	enum io io;

	while (e->srcoff < fx->xfer) {
		/* A retry after a want offers the same bytes again. */
		len = fx->xfer - e->srcoff;
		if (len > 65536)
			len = 65536;
		io = stream_write(e->s, e->src + e->srcoff, len, &n);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			e->wwant = io;
			return;
		}
		if (io != IO_DONE)
			fail_msg("%s write: %d %s", e->name, (int)io,
			    e->s->err.msg);
		assert_true(n > 0 && n <= len);
		e->srcoff += n;
		e->wwant = IO_WANT_WRITE;
	}
}

/*
 * Read as the relay does: once per wake-up, and again only while a layer
 * holds bytes that poll cannot report.  A layer that hides its bytes
 * leaves them stranded, and the transfer stalls.
 */
static void
step_read(struct layers_fx *fx, struct end *e)
{
	size_t len, n;
	enum io io;

	do {
		len = fx->xfer - e->dstlen;
		if (len > 65536)
			len = 65536;
		io = stream_read(e->s, e->dst + e->dstlen, len, &n);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			e->rwant = io;
			return;
		}
		if (io != IO_DONE)
			fail_msg("%s read after %zu bytes: %d %s", e->name,
			    e->dstlen, (int)io, e->s->err.msg);
		assert_true(n > 0 && n <= len);
		e->dstlen += n;
		e->rwant = IO_WANT_READ;
	} while (e->dstlen < fx->xfer && stream_pending(e->s) > 0);
}

static bool
end_moved(const struct layers_fx *fx, const struct end *e)
{
	return e->srcoff == fx->xfer && e->dstlen == fx->xfer;
}

/* Both ends write and read at the same time until both have all. */
static void
transfer_both(struct layers_fx *fx)
{
	struct end *ends[2] = { &fx->client, &fx->server };
	struct pollfd pfd[4];
	int i, n;

	for (i = 0; i < 2; i++) {
		ends[i]->wwant = IO_WANT_WRITE;
		ends[i]->rwant = IO_WANT_READ;
	}
	for (;;) {
		for (i = 0; i < 2; i++) {
			step_write(fx, ends[i]);
			if (ends[i]->dstlen < fx->xfer)
				step_read(fx, ends[i]);
		}
		if (end_moved(fx, &fx->client) && end_moved(fx, &fx->server))
			break;
		n = 0;
		for (i = 0; i < 2; i++) {
			if (ends[i]->srcoff < fx->xfer)
				n = add_poll(pfd, n, ends[i]->s,
				    ends[i]->wwant);
			if (ends[i]->dstlen < fx->xfer)
				n = add_poll(pfd, n, ends[i]->s,
				    ends[i]->rwant);
		}
		wait_any(fx, pfd, n, "transfer");
	}
}

/* Half-close, then read until EOF; nothing more may arrive. */
static void
step_close(struct end *e)
{
	unsigned char byte;
	size_t n;
	enum io io;

	if (!e->done) {
		io = stream_shutdown_write(e->s);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			e->wwant = io;
			return;
		}
		if (io != IO_DONE)
			fail_msg("%s shutdown: %d %s", e->name, (int)io,
			    e->s->err.msg);
		e->done = true;
	}
	if (e->got_eof)
		return;
	io = stream_read(e->s, &byte, 1, &n);
	if (io == IO_WANT_READ || io == IO_WANT_WRITE)
		e->rwant = io;
	else if (io == IO_EOF)
		e->got_eof = true;
	else if (io == IO_DONE)
		fail_msg("%s: a byte after the transfer", e->name);
	else
		fail_msg("%s read at the end: %d %s", e->name, (int)io,
		    e->s->err.msg);
}

static void
close_both(struct layers_fx *fx)
{
	struct end *ends[2] = { &fx->client, &fx->server };
	struct pollfd pfd[4];
	int i, n;

	for (i = 0; i < 2; i++) {
		ends[i]->done = false;
		ends[i]->rwant = IO_WANT_READ;
	}
	for (;;) {
		for (i = 0; i < 2; i++)
			step_close(ends[i]);
		if (fx->client.got_eof && fx->server.got_eof &&
		    fx->client.done && fx->server.done)
			break;
		n = 0;
		for (i = 0; i < 2; i++) {
			if (!ends[i]->done)
				n = add_poll(pfd, n, ends[i]->s,
				    ends[i]->wwant);
			else if (!ends[i]->got_eof)
				n = add_poll(pfd, n, ends[i]->s,
				    ends[i]->rwant);
		}
		wait_any(fx, pfd, n, "close");
	}
}

/* Read s, a layer of e, until EOF; nothing but EOF may come. */
static void
read_to_eof(struct end *e, struct stream *s)
{
	struct pollfd pfd;
	unsigned char byte;
	size_t n;
	enum io io;

	for (;;) {
		io = stream_read(s, &byte, 1, &n);
		if (io == IO_EOF)
			return;
		if (io != IO_WANT_READ && io != IO_WANT_WRITE)
			fail_msg("%s %s layer: %d instead of EOF (%s)", e->name,
			    s->ops->name, (int)io,
			    io == IO_ERROR ? s->err.msg : "");
		pfd.fd = stream_want_fd(s, io, &pfd.events);
		pfd.revents = 0;
		if (poll(&pfd, 1, STALL_MS) == 0)
			fail_msg("%s %s layer: no EOF", e->name, s->ops->name);
	}
}

/* The bytes arrived whole: the same length and content, compared fully. */
static void
assert_received(const struct end *from, const struct end *to, size_t len)
{
	size_t i;

	assert_int_equal(to->dstlen, len);
	if (memcmp(from->src, to->dst, len) == 0)
		return;
	for (i = 0; from->src[i] == to->dst[i]; i++)
		;
	fail_msg("%s -> %s: first difference at byte %zu of %zu", from->name,
	    to->name, i, len);
}

struct nest_case {
	const char	*name;
	bool		 pipes;		/* else a socketpair */
	size_t		 xfer;
};

static const struct nest_case nest_cases[] = {
	{ "tls_in_tls_socketpair", false, 16 * MiB },
	{ "tls_in_tls_pipes", true, 16 * MiB },
};

/*
 * Client: TLS over TLS over the fd stream, and the server likewise.  Both
 * handshakes without blocking, then 16 MiB each way at once, then both
 * half-close and both see a clean EOF, at every layer.
 */
static void
tls_in_tls(void **state)
{
	struct layers_fx *fx = *state;
	const struct nest_case *c = fx->param;
	struct stream *cbase, *sbase;
	struct tls_info ci, si;
	int sv[2] = { -1, -1 }, up[2], down[2], i;

	make_contexts(fx);
	if (c->pipes) {
		/* Pipes block unless told otherwise. */
		assert_int_equal(pipe2(up, O_CLOEXEC), 0);
		assert_int_equal(pipe2(down, O_CLOEXEC), 0);
		for (i = 0; i < 2; i++) {
			tu_nonblock(up[i]);
			tu_nonblock(down[i]);
		}
		cbase = stream_fd_new(down[0], up[1], STREAM_OWN_FDS);
		sbase = stream_fd_new(up[0], down[1], STREAM_OWN_FDS);
	} else {
		tu_socketpair(sv);
		cbase = stream_fd_new(sv[0], sv[0], STREAM_OWN_FDS);
		sbase = stream_fd_new(sv[1], sv[1], STREAM_OWN_FDS);
	}
	assert_non_null(cbase);
	assert_non_null(sbase);
	/* A bare socket gets SSL_set_fd; two pipes get the stream BIO. */
	assert_int_equal(stream_fd(cbase), c->pipes ? -1 : sv[0]);
	assert_int_equal(stream_fd(sbase), c->pipes ? -1 : sv[1]);
	stack_end(fx, &fx->client, cbase, false);
	stack_end(fx, &fx->server, sbase, true);
	assert_int_equal(stream_fd(fx->client.outer), -1);

	handshake_both(fx);
	tls_get_info(fx->client.s, &ci);
	assert_string_equal(ci.version, "TLSv1.3");
	assert_string_equal(ci.fingerprint, fx->fp);
	assert_string_equal(ci.verify, "ok (pinned certificate)");
	tls_get_info(fx->client.outer, &ci);
	assert_string_equal(ci.verify, "ok (pinned certificate)");
	tls_get_info(fx->server.s, &si);
	assert_string_equal(si.version, "TLSv1.3");

	fx->xfer = c->xfer;
	fx->client.src = tu_pattern(fx->xfer, 1);
	fx->server.src = tu_pattern(fx->xfer, 2);
	assert_non_null(fx->client.dst = malloc(fx->xfer));
	assert_non_null(fx->server.dst = malloc(fx->xfer));
	transfer_both(fx);
	assert_received(&fx->client, &fx->server, fx->xfer);
	assert_received(&fx->server, &fx->client, fx->xfer);

	close_both(fx);
	assert_true(stream_eof_clean(fx->client.s));
	assert_true(stream_eof_clean(fx->server.s));
	/* Below the inner close_notify, the outer one and the FIN came. */
	for (i = 0; i < 2; i++) {
		struct end *e = i == 0 ? &fx->client : &fx->server;

		read_to_eof(e, e->outer);
		assert_true(stream_eof_clean(e->outer));
		read_to_eof(e, e->base);
	}
}

/*
 * The server's outer layer ends (close_notify, FIN) without the inner
 * close_notify: the client's inner stream may have been cut short, and
 * says so with an unclean EOF.
 */
static void
tls_in_tls_truncated(void **state)
{
	struct layers_fx *fx = *state;
	const struct nest_case *c = fx->param;
	struct pollfd pfd;
	unsigned char byte;
	size_t n;
	enum io io;
	int sv[2], up[2], down[2], i;

	make_contexts(fx);
	if (c->pipes) {
		assert_int_equal(pipe2(up, O_CLOEXEC), 0);
		assert_int_equal(pipe2(down, O_CLOEXEC), 0);
		for (i = 0; i < 2; i++) {
			tu_nonblock(up[i]);
			tu_nonblock(down[i]);
		}
		stack_end(fx, &fx->client, stream_fd_new(down[0], up[1],
		    STREAM_OWN_FDS), false);
		stack_end(fx, &fx->server, stream_fd_new(up[0], down[1],
		    STREAM_OWN_FDS), true);
	} else {
		tu_socketpair(sv);
		stack_end(fx, &fx->client, stream_fd_new(sv[0], sv[0],
		    STREAM_OWN_FDS), false);
		stack_end(fx, &fx->server, stream_fd_new(sv[1], sv[1],
		    STREAM_OWN_FDS), true);
	}
	handshake_both(fx);
	while ((io = stream_shutdown_write(fx->server.outer)) != IO_DONE) {
		if (io != IO_WANT_READ && io != IO_WANT_WRITE)
			fail_msg("server shutdown: %s", fx->server.outer->err.msg);
		pfd.fd = stream_want_fd(fx->server.outer, io, &pfd.events);
		assert_int_equal(poll(&pfd, 1, STALL_MS), 1);
	}
	for (;;) {
		io = stream_read(fx->client.s, &byte, 1, &n);
		if (io != IO_WANT_READ && io != IO_WANT_WRITE)
			break;
		pfd.fd = stream_want_fd(fx->client.s, io, &pfd.events);
		assert_int_equal(poll(&pfd, 1, STALL_MS), 1);
	}
	if (io != IO_EOF)
		fail_msg("client read: %d %s", (int)io,
		    io == IO_ERROR ? fx->client.s->err.msg : "");
	assert_false(stream_eof_clean(fx->client.s));
}

static const struct nest_case truncated_cases[] = {
	{ "tls_in_tls_truncated_socketpair", false, 0 },
	{ "tls_in_tls_truncated_pipes", true, 0 },
};

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		CASE(pending_adds_all_layers),
		CASE(want_fd_passes_down),
		CASE(shutdown_passes_down),
		CASE(query_topmost_that_knows),
		CASE(tls_answers_its_queries),
	};
	struct CMUnitTest tests[NELEM(fixed) + NELEM(hs_cases) +
	    NELEM(nest_cases) + NELEM(truncated_cases)];
	size_t n = 0, i;

	for (i = 0; i < NELEM(fixed); i++)
		tests[n++] = fixed[i];
	ADD_TABLE(hs_cases, handshake_table);
	ADD_TABLE(nest_cases, tls_in_tls);
	ADD_TABLE(truncated_cases, tls_in_tls_truncated);

	/* OpenSSL writes to the socket itself; main() ignores SIGPIPE too. */
	signal(SIGPIPE, SIG_IGN);
	alarm(WATCHDOG_SECS);
	return _cmocka_run_group_tests("layers", tests, n, NULL, NULL);
}
