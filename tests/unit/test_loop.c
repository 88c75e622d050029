/*
 * Unit tests for the event loop (src/loop.c): the timer heap, deferred
 * work, interest changes on descriptors, always-ready descriptors, watches
 * deleted in mid-batch, signals, and the cost of a turn.
 *
 * Nothing here measures time.  A turn that must not wait is given deferred
 * work, so that loop_once() returns at once whatever happens, and a timer
 * already due, which must fire in it.  A turn that must wait is repeated
 * until its guard timer has fired, and the test then checks what else ran.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cases.h"
#include "loop.h"
#include "net.h"
#include "status.h"

#define WATCHDOG_SECS	60	/* a hung loop dies instead of hanging make */
#define HOUR_MS		(3600 * 1000)
#define MAX_FDS		8	/* descriptors a fixture closes for its test */
#define LOG_MAX		64

/* A watch that counts its calls; its callback may delete another watch. */
struct probe {
	struct loop_io	 io;
	struct loop_fx	*fx;
	int		 calls;
	uint32_t	 last;		/* revents of the last call */
	struct probe	*victim;	/* deleted by this probe's callback */
};

/* A timer that logs its id; its callback may stop another timer. */
struct alarm {
	struct loop_timer t;
	struct loop_fx	*fx;
	int		 id;
	struct alarm	*victim;	/* stopped by this alarm's callback */
};

/* Deferred work that logs its id, and may cancel or defer other work. */
struct job {
	struct loop_defer d;
	struct loop_fx	*fx;
	int		 id;
	int		 runs;
	struct job	*cancel;	/* cancelled at the first run */
	struct job	*defer;		/* deferred at the first run */
};

/* What one test holds, so that teardown can release it after a failure. */
struct loop_fx {
	struct loop	*loop;
	struct error	 err;
	struct loop_timer guard;	/* ends a turn that would wait */
	bool		 guard_fired;
	struct loop_defer kick;		/* keeps a broken heap from waiting */
	int		 fds[MAX_FDS];
	int		 nfds;
	int		 log[LOG_MAX];	/* ids of alarms and jobs, in order */
	int		 nlog;
	const void	*param;		/* the table case, for table tests */
	struct probe	*many;		/* turn_costs_what_is_ready */
	int		 nmany;
};

static void
on_guard(struct loop_timer *t)
{
	struct loop_fx *fx = container_of(t, struct loop_fx, guard);

	fx->guard_fired = true;
}

static void
on_kick(struct loop_defer *d)
{
	(void)d;
}

static int
setup(void **state)
{
	struct loop_fx *fx;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->param = *state;
	memset(fx->err.msg, 'X', sizeof(fx->err.msg) - 1);
	fx->loop = loop_new(&fx->err);
	if (fx->loop == NULL)
		fail_msg("loop_new: %s", fx->err.msg);
	loop_timer_init(&fx->guard, on_guard);
	loop_defer_init(&fx->kick, on_kick);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct loop_fx *fx = *state;
	int i;

	loop_free(fx->loop);
	for (i = 0; i < fx->nfds; i++)
		close(fx->fds[i]);
	for (i = 0; i < fx->nmany; i++)
		close(fx->many[i].io.fd);
	free(fx->many);
	free(fx);
	return 0;
}

/* Close fd when the test ends. */
static int
keep_fd(struct loop_fx *fx, int fd)
{
	assert_true(fd >= 0);
	assert_true(fx->nfds < MAX_FDS);
	fx->fds[fx->nfds++] = fd;
	return fd;
}

static void
make_socketpair(struct loop_fx *fx, int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	keep_fd(fx, sv[0]);
	keep_fd(fx, sv[1]);
}

static void
send_byte(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

/*
 * One turn that does not wait: deferred work keeps it from sleeping, and a
 * timer already due must fire in it.
 */
static void
turn(struct loop_fx *fx)
{
	fx->guard_fired = false;
	loop_timer_set(fx->loop, &fx->guard, now_ms() - 1);
	loop_defer(fx->loop, &fx->kick);
	if (loop_once(fx->loop, &fx->err) != 0)
		fail_msg("loop_once: %s", fx->err.msg);
	assert_true(fx->guard_fired);
}

/*
 * Turns until a timer ms from now has fired: the loop really sleeps, and
 * whatever wakes it before the timer shows up in the probes' counts.
 */
static void
turn_until_timer(struct loop_fx *fx, int ms)
{
	int turns = 0;

	fx->guard_fired = false;
	loop_timer_set(fx->loop, &fx->guard, now_ms() + ms);
	while (!fx->guard_fired) {
		if (loop_once(fx->loop, &fx->err) != 0)
			fail_msg("loop_once: %s", fx->err.msg);
		/* A spurious wake-up repeats for ever: stop counting. */
		if (++turns > 1000)
			fail_msg("the loop woke 1000 times before its timer");
	}
}

static void
log_id(struct loop_fx *fx, int id)
{
	assert_true(fx->nlog < LOG_MAX);
	fx->log[fx->nlog++] = id;
}

/* The log holds exactly the ids in want, which ends with 0. */
static void
assert_log(const struct loop_fx *fx, const int *want)
{
	int i;

	for (i = 0; want[i] != 0; i++) {
		if (i >= fx->nlog)
			fail_msg("log entry %d: missing, want %d", i, want[i]);
		if (fx->log[i] != want[i])
			fail_msg("log entry %d: %d, want %d", i, fx->log[i],
			    want[i]);
	}
	if (fx->nlog != i)
		fail_msg("log has %d entries, want %d (next: %d)", fx->nlog, i,
		    fx->log[i]);
}

static void
on_probe(struct loop_io *io, uint32_t revents)
{
	struct probe *p = container_of(io, struct probe, io);

	p->calls++;
	p->last = revents;
	if (p->victim != NULL)
		loop_io_del(p->fx->loop, &p->victim->io);
}

static void
probe_init(struct loop_fx *fx, struct probe *p, int fd)
{
	memset(p, 0, sizeof(*p));
	p->fx = fx;
	loop_io_init(&p->io, fd, on_probe);
}

static void
probe_want(struct loop_fx *fx, struct probe *p, uint32_t events)
{
	if (loop_io_set(fx->loop, &p->io, events, &fx->err) != 0)
		fail_msg("loop_io_set(%d, %#x): %s", p->io.fd,
		    (unsigned)events, fx->err.msg);
}

/* --- Timers. */

static void
on_alarm(struct loop_timer *t)
{
	struct alarm *a = container_of(t, struct alarm, t);

	log_id(a->fx, a->id);
	assert_false(loop_timer_armed(t));
	if (a->victim != NULL)
		loop_timer_stop(a->fx->loop, &a->victim->t);
}

static void
alarms_init(struct loop_fx *fx, struct alarm *a, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].fx = fx;
		a[i].id = i + 1;
		loop_timer_init(&a[i].t, on_alarm);
		assert_false(loop_timer_armed(&a[i].t));
	}
}

/* Timers set in shuffled order fire in deadline order, in one turn. */
static void
timers_fire_in_deadline_order(void **state)
{
	struct loop_fx *fx = *state;
	/* Deadlines in the past, in ms before now, by id. */
	static const int ago[8] = { 50, 700, 3, 400, 90, 1000, 20, 600 };
	static const int order[] = { 6, 2, 8, 4, 5, 1, 7, 3, 0 };
	struct alarm a[8];
	int64_t now = now_ms();
	int i;

	alarms_init(fx, a, 8);
	for (i = 0; i < 8; i++)
		loop_timer_set(fx->loop, &a[i].t, now - ago[i]);
	turn(fx);
	assert_log(fx, order);
	for (i = 0; i < 8; i++)
		assert_false(loop_timer_armed(&a[i].t));
	/* Nothing fires twice. */
	turn(fx);
	assert_log(fx, order);
}

/* Setting again replaces the deadline; stopping disarms. */
static void
timers_reset_and_stop(void **state)
{
	struct loop_fx *fx = *state;
	struct alarm a[5];
	int64_t now = now_ms(), later = now + HOUR_MS;
	static const int first[] = { 2, 3, 0 };
	static const int second[] = { 2, 3, 1, 0 };

	alarms_init(fx, a, 5);
	/* 1: due, then moved an hour ahead: it must wait. */
	loop_timer_set(fx->loop, &a[0].t, now - 10);
	loop_timer_set(fx->loop, &a[0].t, later);
	/* 2: an hour ahead, then moved into the past: it fires. */
	loop_timer_set(fx->loop, &a[1].t, later);
	loop_timer_set(fx->loop, &a[1].t, now - 5);
	/* 3: set twice to the same time: it fires once. */
	loop_timer_set(fx->loop, &a[2].t, now - 1);
	loop_timer_set(fx->loop, &a[2].t, now - 1);
	/* 4: due, then stopped; stopping again is harmless. */
	loop_timer_set(fx->loop, &a[3].t, now - 20);
	loop_timer_stop(fx->loop, &a[3].t);
	loop_timer_stop(fx->loop, &a[3].t);
	/* 5: never set; stopping it is harmless. */
	loop_timer_stop(fx->loop, &a[4].t);

	assert_true(loop_timer_armed(&a[0].t));
	assert_false(loop_timer_armed(&a[3].t));
	assert_int_equal(a[0].t.at, later);
	turn(fx);
	assert_log(fx, first);
	assert_true(loop_timer_armed(&a[0].t));

	/* Moving the waiting one back into the past fires it. */
	loop_timer_set(fx->loop, &a[0].t, now - 1);
	turn(fx);
	assert_log(fx, second);
	assert_false(loop_timer_armed(&a[0].t));
}

/* A callback stops timers due in the same turn, and itself harmlessly. */
static void
timer_callback_stops_others(void **state)
{
	struct loop_fx *fx = *state;
	struct alarm a[5];
	int64_t now = now_ms();
	static const int want[] = { 1, 3, 5, 0 };
	int i;

	alarms_init(fx, a, 5);
	for (i = 0; i < 5; i++)
		loop_timer_set(fx->loop, &a[i].t, now - 100 + i);
	a[0].victim = &a[1];	/* due in this turn, after it */
	a[2].victim = &a[3];
	a[4].victim = &a[4];	/* itself: already disarmed */
	turn(fx);
	assert_log(fx, want);
	for (i = 0; i < 5; i++)
		assert_false(loop_timer_armed(&a[i].t));
	turn(fx);
	assert_log(fx, want);
}

/* A timer callback may also stop one that is not due yet. */
static void
timer_callback_stops_future(void **state)
{
	struct loop_fx *fx = *state;
	struct alarm a[3];
	int64_t now = now_ms();
	static const int want[] = { 1, 3, 0 };

	alarms_init(fx, a, 3);
	loop_timer_set(fx->loop, &a[0].t, now - 2);
	loop_timer_set(fx->loop, &a[1].t, now + HOUR_MS);
	loop_timer_set(fx->loop, &a[2].t, now - 1);
	a[0].victim = &a[1];
	turn(fx);
	assert_log(fx, want);
	assert_false(loop_timer_armed(&a[1].t));
}

/*
 * Many random sets and stops, some due and some an hour ahead, then one
 * turn: exactly the due ones fire, in the order of a sorted model, and the
 * others stay armed.  Repeated, so that firing, stopping and setting mix.
 */
#define RT_TIMERS	97
#define RT_ROUNDS	200
#define RT_OPS		150

struct rt_timer {
	struct loop_timer t;
	struct rt_model	*m;
	int		 idx;
};

struct rt_model {
	bool		 armed[RT_TIMERS];
	int64_t		 at[RT_TIMERS];
	int		 fired[RT_TIMERS];	/* in firing order */
	int		 nfired;
};

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
on_rt_timer(struct loop_timer *t)
{
	struct rt_timer *r = container_of(t, struct rt_timer, t);

	if (r->m->nfired < RT_TIMERS)
		r->m->fired[r->m->nfired] = r->idx;
	r->m->nfired++;
}

static uint32_t
rng_next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void
timers_random_against_model(void **state)
{
	struct loop_fx *fx = *state;
	static struct rt_timer tm[RT_TIMERS];
	static struct rt_model m;
	int64_t due[RT_TIMERS], now = now_ms();
	int round, op, i, k, ndue;
	uint32_t rng = 0x9e3779b9u;
	bool seen[RT_TIMERS];

	memset(&m, 0, sizeof(m));
	for (i = 0; i < RT_TIMERS; i++) {
		tm[i].m = &m;
		tm[i].idx = i;
		loop_timer_init(&tm[i].t, on_rt_timer);
	}
	for (round = 0; round < RT_ROUNDS; round++) {
		for (op = 0; op < RT_OPS; op++) {
			i = (int)(rng_next(&rng) % RT_TIMERS);
			switch (rng_next(&rng) % 4) {
			case 0:
				loop_timer_stop(fx->loop, &tm[i].t);
				m.armed[i] = false;
				break;
			case 1:
				/* An hour ahead: it must not fire. */
				m.at[i] = now + HOUR_MS +
				    (int64_t)(rng_next(&rng) % 5000);
				loop_timer_set(fx->loop, &tm[i].t, m.at[i]);
				m.armed[i] = true;
				break;
			default:
				/* Due; equal deadlines happen too. */
				m.at[i] = now - 1 -
				    (int64_t)(rng_next(&rng) % 500);
				loop_timer_set(fx->loop, &tm[i].t, m.at[i]);
				m.armed[i] = true;
				break;
			}
		}
		for (i = 0; i < RT_TIMERS; i++)
			if (loop_timer_armed(&tm[i].t) != m.armed[i])
				fail_msg("round %d: timer %d armed %d, model "
				    "%d", round, i, loop_timer_armed(&tm[i].t),
				    m.armed[i]);
		ndue = 0;
		for (i = 0; i < RT_TIMERS; i++)
			if (m.armed[i] && m.at[i] < now)
				due[ndue++] = m.at[i];
		qsort(due, (size_t)ndue, sizeof(due[0]), cmp_i64);
		m.nfired = 0;
		turn(fx);
		if (m.nfired != ndue)
			fail_msg("round %d: %d timers fired, %d were due",
			    round, m.nfired, ndue);
		memset(seen, 0, sizeof(seen));
		for (k = 0; k < ndue; k++) {
			i = m.fired[k];
			if (!m.armed[i] || m.at[i] >= now || seen[i])
				fail_msg("round %d: timer %d fired but was "
				    "not due (or fired twice)", round, i);
			if (m.at[i] != due[k])
				fail_msg("round %d: firing %d had deadline "
				    "%lld, the sorted model says %lld", round,
				    k, (long long)m.at[i], (long long)due[k]);
			seen[i] = true;
			m.armed[i] = false;
		}
		for (i = 0; i < RT_TIMERS; i++)
			if (loop_timer_armed(&tm[i].t) != m.armed[i])
				fail_msg("round %d: after the turn, timer %d "
				    "armed %d, model %d", round, i,
				    loop_timer_armed(&tm[i].t), m.armed[i]);
	}
	for (i = 0; i < RT_TIMERS; i++)
		loop_timer_stop(fx->loop, &tm[i].t);
}

/* --- Deferred work. */

static void
on_job(struct loop_defer *d)
{
	struct job *j = container_of(d, struct job, d);

	log_id(j->fx, j->id);
	if (j->runs++ > 0)
		return;
	if (j->cancel != NULL)
		loop_defer_cancel(j->fx->loop, &j->cancel->d);
	if (j->defer != NULL)
		loop_defer(j->fx->loop, &j->defer->d);
}

static void
jobs_init(struct loop_fx *fx, struct job *j, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		memset(&j[i], 0, sizeof(j[i]));
		j[i].fx = fx;
		j[i].id = i + 1;
		loop_defer_init(&j[i].d, on_job);
	}
}

/* Deferred however often, work runs once, at the next turn. */
static void
defer_runs_once_at_next_turn(void **state)
{
	struct loop_fx *fx = *state;
	struct job j[1];
	static const int none[] = { 0 };
	static const int once[] = { 1, 0 };

	jobs_init(fx, j, 1);
	loop_defer(fx->loop, &j[0].d);
	loop_defer(fx->loop, &j[0].d);
	loop_defer(fx->loop, &j[0].d);
	assert_log(fx, none);
	turn(fx);
	assert_log(fx, once);
	turn(fx);
	assert_log(fx, once);
}

/* The loop does not wait while work is deferred, even with no timer due. */
static void
defer_does_not_wait(void **state)
{
	struct loop_fx *fx = *state;
	struct job j[1];
	static const int once[] = { 1, 0 };

	jobs_init(fx, j, 1);
	/* Were the loop to wait for this timer, the watchdog would fire. */
	loop_timer_set(fx->loop, &fx->guard, now_ms() + 10 * HOUR_MS);
	loop_defer(fx->loop, &j[0].d);
	assert_int_equal(loop_once(fx->loop, &fx->err), 0);
	assert_log(fx, once);
	assert_false(fx->guard_fired);
}

/*
 * Deferral, cancellation and deferral from inside callbacks, as a table:
 * what is queued before the first turn, what callbacks do at their first
 * run, and the log after each of three turns.
 */
struct defer_case {
	const char	*name;
	int		 queue[5];	/* ids, 0-terminated */
	int		 cancel_first;	/* cancelled before the turn, or 0 */
	struct {
		int	 who, cancel, defer;	/* ids, 0: none */
	}		 acts[3];
	int		 turns[3][8];	/* the log after each turn */
};

static const struct defer_case defer_cases[] = {
	{ "defer_in_order", { 3, 1, 4, 2, 0 }, 0, { { 0, 0, 0 } },
	    { { 3, 1, 4, 2, 0 }, { 3, 1, 4, 2, 0 }, { 3, 1, 4, 2, 0 } } },
	{ "defer_from_callback_waits", { 1, 2, 0 }, 0,
	    { { 1, 0, 3 }, { 3, 0, 4 } },
	    { { 1, 2, 0 }, { 1, 2, 3, 0 }, { 1, 2, 3, 4, 0 } } },
	{ "defer_self_from_callback_waits", { 1, 2, 0 }, 0,
	    { { 1, 0, 1 } },
	    { { 1, 2, 0 }, { 1, 2, 1, 0 }, { 1, 2, 1, 0 } } },
	{ "defer_cancel_before_turn", { 1, 2, 3, 0 }, 2, { { 0, 0, 0 } },
	    { { 1, 3, 0 }, { 1, 3, 0 }, { 1, 3, 0 } } },
	{ "defer_cancel_only_one", { 1, 0 }, 1, { { 0, 0, 0 } },
	    { { 0 }, { 0 }, { 0 } } },
	{ "defer_cancel_next_from_callback", { 1, 2, 3, 0 }, 0,
	    { { 1, 2, 0 } },
	    { { 1, 3, 0 }, { 1, 3, 0 }, { 1, 3, 0 } } },
	{ "defer_cancel_last_from_callback", { 1, 2, 3, 0 }, 0,
	    { { 1, 3, 0 } },
	    { { 1, 2, 0 }, { 1, 2, 0 }, { 1, 2, 0 } } },
	{ "defer_cancel_done_from_callback", { 1, 2, 3, 0 }, 0,
	    { { 3, 1, 0 } },
	    { { 1, 2, 3, 0 }, { 1, 2, 3, 0 }, { 1, 2, 3, 0 } } },
	{ "defer_cancel_last_and_defer_new", { 1, 2, 0 }, 0,
	    { { 1, 2, 3 } },
	    { { 1, 0 }, { 1, 3, 0 }, { 1, 3, 0 } } },
	{ "defer_cancel_then_requeue", { 1, 2, 3, 0 }, 0,
	    { { 1, 2, 2 } },
	    { { 1, 3, 0 }, { 1, 3, 2, 0 }, { 1, 3, 2, 0 } } },
	{ "defer_cancel_new_from_callback", { 1, 2, 0 }, 0,
	    { { 1, 0, 3 }, { 2, 3, 0 } },
	    { { 1, 2, 0 }, { 1, 2, 0 }, { 1, 2, 0 } } },
};

#define NJOBS	4

static void
defer_table(void **state)
{
	struct loop_fx *fx = *state;
	const struct defer_case *c = fx->param;
	struct job j[NJOBS];
	int i;

	jobs_init(fx, j, NJOBS);
	for (i = 0; i < 3; i++) {
		if (c->acts[i].who == 0)
			continue;
		if (c->acts[i].cancel != 0)
			j[c->acts[i].who - 1].cancel = &j[c->acts[i].cancel - 1];
		if (c->acts[i].defer != 0)
			j[c->acts[i].who - 1].defer = &j[c->acts[i].defer - 1];
	}
	for (i = 0; c->queue[i] != 0; i++)
		loop_defer(fx->loop, &j[c->queue[i] - 1].d);
	if (c->cancel_first != 0) {
		loop_defer_cancel(fx->loop, &j[c->cancel_first - 1].d);
		loop_defer_cancel(fx->loop, &j[c->cancel_first - 1].d);
	}
	for (i = 0; i < 3; i++) {
		turn(fx);
		assert_log(fx, c->turns[i]);
	}
	/* Every job has run its course: a fourth turn runs nothing. */
	for (i = 0; i < NJOBS; i++)
		assert_false(j[i].d.queued);
	turn(fx);
	assert_log(fx, c->turns[2]);
}

/* --- Interest in descriptors. */

/*
 * The kernel hears only of changes: each step sets the wanted events and
 * says how many watches the kernel then has and how many changes it took.
 */
static void
interest_changes_only_when_wants_change(void **state)
{
	struct loop_fx *fx = *state;
	static const struct {
		int		 del;		/* loop_io_del instead */
		uint32_t	 events;
		size_t		 watches;
		uint64_t	 changes;
	} steps[] = {
		{ 0, EPOLLIN, 1, 1 },
		{ 0, EPOLLIN, 1, 0 },
		{ 0, EPOLLIN | EPOLLOUT, 1, 1 },
		{ 0, EPOLLIN | EPOLLOUT, 1, 0 },
		{ 0, EPOLLOUT, 1, 1 },
		{ 0, 0, 0, 1 },
		{ 0, 0, 0, 0 },
		{ 0, EPOLLIN, 1, 1 },
		{ 1, 0, 0, 1 },
		{ 1, 0, 0, 0 },
		{ 0, EPOLLIN, 1, 1 },
	};
	struct probe p;
	uint64_t before;
	size_t i;
	int sv[2];

	make_socketpair(fx, sv);
	probe_init(fx, &p, sv[0]);
	assert_int_equal(loop_kernel_watches(fx->loop), 0);
	assert_int_equal(loop_kernel_changes(fx->loop), 0);
	for (i = 0; i < NELEM(steps); i++) {
		before = loop_kernel_changes(fx->loop);
		if (steps[i].del)
			loop_io_del(fx->loop, &p.io);
		else
			probe_want(fx, &p, steps[i].events);
		if (loop_kernel_watches(fx->loop) != steps[i].watches ||
		    loop_kernel_changes(fx->loop) - before != steps[i].changes)
			fail_msg("step %zu: %zu watches and %llu changes, want "
			    "%zu and %llu", i, loop_kernel_watches(fx->loop),
			    (unsigned long long)(loop_kernel_changes(fx->loop) -
			    before), steps[i].watches,
			    (unsigned long long)steps[i].changes);
		assert_int_equal(p.io.in_kernel, steps[i].watches == 1);
	}
	loop_io_del(fx->loop, &p.io);
}

/* EPOLLIN fires when data arrives, not before. */
static void
readable_fires_only_with_data(void **state)
{
	struct loop_fx *fx = *state;
	struct probe p;
	int sv[2];

	make_socketpair(fx, sv);
	probe_init(fx, &p, sv[0]);
	probe_want(fx, &p, EPOLLIN);
	turn_until_timer(fx, 20);
	assert_int_equal(p.calls, 0);
	send_byte(sv[1]);
	turn(fx);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.last, EPOLLIN);
	loop_io_del(fx->loop, &p.io);
}

/* EPOLLOUT fires while the socket has room, and not while it is full. */
static void
writable_fires_when_room(void **state)
{
	struct loop_fx *fx = *state;
	static char junk[65536];
	struct probe p;
	int sv[2];

	make_socketpair(fx, sv);
	probe_init(fx, &p, sv[0]);
	probe_want(fx, &p, EPOLLOUT);
	turn(fx);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.last, EPOLLOUT);

	while (write(sv[0], junk, sizeof(junk)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	p.calls = 0;
	turn_until_timer(fx, 20);
	assert_int_equal(p.calls, 0);

	while (read(sv[1], junk, sizeof(junk)) > 0)
		;
	turn(fx);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.last, EPOLLOUT);
	loop_io_del(fx->loop, &p.io);
}

/*
 * A watch that wants nothing is not woken by a hang-up: epoll reports
 * EPOLLHUP even to a registration with no events, which is why events 0
 * drops the registration.  The loop must sleep until its timer.
 */
static void
hangup_does_not_wake_idle_watch(void **state)
{
	struct loop_fx *fx = *state;
	struct probe p;
	int sv[2];

	make_socketpair(fx, sv);
	probe_init(fx, &p, sv[0]);
	probe_want(fx, &p, EPOLLIN);
	probe_want(fx, &p, 0);
	/* Both directions gone: EPOLLHUP, not only EPOLLRDHUP. */
	assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
	assert_int_equal(shutdown(sv[1], SHUT_RDWR), 0);
	turn_until_timer(fx, 20);
	assert_int_equal(p.calls, 0);

	/* Wanted again, the hang-up is there to be seen. */
	probe_want(fx, &p, EPOLLIN);
	turn(fx);
	assert_int_equal(p.calls, 1);
	assert_true(p.last & EPOLLHUP);
	loop_io_del(fx->loop, &p.io);
}

/*
 * The descriptor of a watch was replaced (dup2): the next change finds the
 * kernel's registration gone and registers the new one.
 */
static void
replaced_descriptor_registers_again(void **state)
{
	struct loop_fx *fx = *state;
	struct probe p;
	int sv[2], other[2];

	make_socketpair(fx, sv);
	make_socketpair(fx, other);
	probe_init(fx, &p, sv[0]);
	probe_want(fx, &p, EPOLLIN);
	assert_int_equal(dup2(other[0], sv[0]), sv[0]);
	probe_want(fx, &p, EPOLLOUT);
	assert_int_equal(loop_kernel_watches(fx->loop), 1);
	assert_true(p.io.in_kernel);
	turn(fx);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.last, EPOLLOUT);
	loop_io_del(fx->loop, &p.io);
	assert_int_equal(loop_kernel_watches(fx->loop), 0);
}

/* A descriptor that epoll knows nothing of is an error, with its reason. */
static void
bad_descriptor_fails(void **state)
{
	struct loop_fx *fx = *state;
	struct probe p;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	close(fd);
	probe_init(fx, &p, fd);
	assert_int_equal(loop_io_set(fx->loop, &p.io, EPOLLIN, &fx->err), -1);
	assert_int_equal(fx->err.status, ST_RUNTIME);
	assert_string_equal(fx->err.msg, "epoll_ctl: Bad file descriptor");
	assert_int_equal(loop_kernel_watches(fx->loop), 0);
	assert_false(p.io.in_kernel);
	assert_false(p.io.always);
}

/* --- Always-ready descriptors. */

struct file_case {
	const char	*name;
	bool		 regular;	/* a temporary file, else /dev/null */
};

static const struct file_case file_cases[] = {
	{ "always_ready_regular_file", true },
	{ "always_ready_dev_null", false },
};

static int
open_file(struct loop_fx *fx, bool regular)
{
	char path[] = "/tmp/tlsnc-loop-XXXXXX";
	int fd;

	if (regular) {
		fd = mkstemp(path);
		assert_true(fd >= 0);
		unlink(path);
	} else {
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	}
	return keep_fd(fx, fd);
}

/* Called each turn with what it wants while it wants something. */
static void
always_ready(void **state)
{
	struct loop_fx *fx = *state;
	const struct file_case *c = fx->param;
	struct probe p;
	int i;

	probe_init(fx, &p, open_file(fx, c->regular));
	probe_want(fx, &p, EPOLLIN);
	assert_true(p.io.always);
	assert_false(p.io.in_kernel);
	assert_int_equal(loop_kernel_watches(fx->loop), 0);
	for (i = 1; i <= 3; i++) {
		turn(fx);
		assert_int_equal(p.calls, i);
		assert_int_equal(p.last, EPOLLIN);
	}
	probe_want(fx, &p, EPOLLIN | EPOLLOUT);
	turn(fx);
	assert_int_equal(p.calls, 4);
	assert_int_equal(p.last, EPOLLIN | EPOLLOUT);

	probe_want(fx, &p, 0);
	turn(fx);
	turn(fx);
	assert_int_equal(p.calls, 4);

	probe_want(fx, &p, EPOLLOUT);
	turn(fx);
	assert_int_equal(p.calls, 5);
	assert_int_equal(p.last, EPOLLOUT);

	loop_io_del(fx->loop, &p.io);
	turn(fx);
	assert_int_equal(p.calls, 5);
	assert_int_equal(loop_kernel_watches(fx->loop), 0);
}

/*
 * Two watches ready in the same turn, each of whose callbacks deletes the
 * other: whichever runs first, the other is not called.
 */
struct batch_case {
	const char	*name;
	bool		 files;		/* always ready, else socketpairs */
};

static const struct batch_case batch_cases[] = {
	{ "deleted_in_batch_sockets", false },
	{ "deleted_in_batch_files", true },
};

static void
deleted_in_batch(void **state)
{
	struct loop_fx *fx = *state;
	const struct batch_case *c = fx->param;
	struct probe p[2];
	int sv[2], sw[2], i;

	if (c->files) {
		probe_init(fx, &p[0], open_file(fx, true));
		probe_init(fx, &p[1], open_file(fx, false));
	} else {
		make_socketpair(fx, sv);
		make_socketpair(fx, sw);
		probe_init(fx, &p[0], sv[0]);
		probe_init(fx, &p[1], sw[0]);
		send_byte(sv[1]);
		send_byte(sw[1]);
	}
	p[0].victim = &p[1];
	p[1].victim = &p[0];
	for (i = 0; i < 2; i++)
		probe_want(fx, &p[i], EPOLLIN);
	turn(fx);
	if (p[0].calls + p[1].calls != 1)
		fail_msg("%d and %d calls: a deleted watch was called",
		    p[0].calls, p[1].calls);
	/* The survivor goes on; the deleted one stays silent. */
	i = p[0].calls == 1 ? 0 : 1;
	p[i].victim = NULL;
	turn(fx);
	assert_int_equal(p[i].calls, 2);
	assert_int_equal(p[1 - i].calls, 0);
	loop_io_del(fx->loop, &p[i].io);
}

/* An owner freed by its own callback, after deleting its watch. */
struct owner {
	struct loop_io	 io;
	struct loop	*loop;
	int		*calls;
};

static void
on_owner(struct loop_io *io, uint32_t revents)
{
	struct owner *o = container_of(io, struct owner, io);

	(void)revents;
	(*o->calls)++;
	loop_io_del(o->loop, &o->io);
	free(o);
}

static void
callback_frees_its_owner(void **state)
{
	struct loop_fx *fx = *state;
	struct owner *o[2];
	int sv[2], calls = 0, i;

	make_socketpair(fx, sv);
	send_byte(sv[1]);
	for (i = 0; i < 2; i++) {
		o[i] = calloc(1, sizeof(*o[i]));
		assert_non_null(o[i]);
		o[i]->loop = fx->loop;
		o[i]->calls = &calls;
	}
	loop_io_init(&o[0]->io, sv[0], on_owner);
	loop_io_init(&o[1]->io, open_file(fx, true), on_owner);
	for (i = 0; i < 2; i++)
		assert_int_equal(loop_io_set(fx->loop, &o[i]->io, EPOLLIN,
		    &fx->err), 0);
	turn(fx);
	assert_int_equal(calls, 2);
	turn(fx);
	assert_int_equal(calls, 2);
	assert_int_equal(loop_kernel_watches(fx->loop), 0);
}

/* --- Signals. */

struct sig_seen {
	struct loop	*loop;
	int		 count[3];	/* SIGUSR1, SIGUSR2, other */
};

static void
on_sig(struct loop *l, int signo, void *arg)
{
	struct sig_seen *s = arg;

	assert_ptr_equal(l, s->loop);
	s->count[signo == SIGUSR1 ? 0 : signo == SIGUSR2 ? 1 : 2]++;
}

/*
 * A raised signal arrives as an event, once.  Both signals are ignored
 * meanwhile, so that a loop that failed to block them cannot kill the
 * test run; a blocked signal stays pending even when ignored.
 */
static void
signal_arrives_as_event(void **state)
{
	struct loop_fx *fx = *state;
	struct sigaction ign, old1, old2;
	struct sig_seen seen = { fx->loop, { 0, 0, 0 } };

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGUSR1, &ign, &old1), 0);
	assert_int_equal(sigaction(SIGUSR2, &ign, &old2), 0);

	assert_int_equal(loop_signal(fx->loop, SIGUSR1, on_sig, &seen,
	    &fx->err), 0);
	turn(fx);
	assert_int_equal(seen.count[0], 0);
	assert_int_equal(raise(SIGUSR1), 0);
	turn(fx);
	assert_int_equal(seen.count[0], 1);
	turn(fx);
	assert_int_equal(seen.count[0], 1);

	/* A second signal shares the descriptor. */
	assert_int_equal(loop_signal(fx->loop, SIGUSR2, on_sig, &seen,
	    &fx->err), 0);
	assert_int_equal(raise(SIGUSR2), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	turn(fx);
	assert_int_equal(seen.count[0], 2);
	assert_int_equal(seen.count[1], 1);
	assert_int_equal(seen.count[2], 0);

	loop_free(fx->loop);
	fx->loop = NULL;
	assert_int_equal(sigaction(SIGUSR1, &old1, NULL), 0);
	assert_int_equal(sigaction(SIGUSR2, &old2, NULL), 0);
}

static void
signal_out_of_range_fails(void **state)
{
	struct loop_fx *fx = *state;
	static const int bad[] = { 0, -1, _NSIG };
	char want[64];
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		memset(fx->err.msg, 'X', sizeof(fx->err.msg) - 1);
		assert_int_equal(loop_signal(fx->loop, bad[i], on_sig, NULL,
		    &fx->err), -1);
		snprintf(want, sizeof(want), "bad signal %d", bad[i]);
		assert_string_equal(fx->err.msg, want);
		assert_int_equal(fx->err.status, ST_RUNTIME);
	}
}

/* --- The cost of a turn. */

#define IDLE_WATCHES	1000

/* With 1000 idle watches and one ready, a turn calls one callback. */
static void
turn_costs_what_is_ready(void **state)
{
	struct loop_fx *fx = *state;
	struct probe *p;
	uint64_t one = 1, changes;
	int i, calls, ready = IDLE_WATCHES / 2;

	fx->many = p = calloc(IDLE_WATCHES, sizeof(*p));
	assert_non_null(p);
	for (i = 0; i < IDLE_WATCHES; i++) {
		probe_init(fx, &p[i], eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
		assert_true(p[i].io.fd >= 0);
		fx->nmany++;
		probe_want(fx, &p[i], EPOLLIN);
	}
	assert_int_equal(loop_kernel_watches(fx->loop), IDLE_WATCHES);
	turn_until_timer(fx, 10);
	for (i = 0; i < IDLE_WATCHES; i++)
		assert_int_equal(p[i].calls, 0);

	assert_int_equal(write(p[ready].io.fd, &one, sizeof(one)),
	    sizeof(one));
	changes = loop_kernel_changes(fx->loop);
	turn(fx);
	for (i = 0, calls = 0; i < IDLE_WATCHES; i++)
		calls += p[i].calls;
	assert_int_equal(calls, 1);
	assert_int_equal(p[ready].calls, 1);
	assert_int_equal(p[ready].last, EPOLLIN);
	assert_int_equal(loop_kernel_changes(fx->loop), changes);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		CASE(timers_fire_in_deadline_order),
		CASE(timers_reset_and_stop),
		CASE(timer_callback_stops_others),
		CASE(timer_callback_stops_future),
		CASE(timers_random_against_model),
		CASE(defer_runs_once_at_next_turn),
		CASE(defer_does_not_wait),
		CASE(interest_changes_only_when_wants_change),
		CASE(readable_fires_only_with_data),
		CASE(writable_fires_when_room),
		CASE(hangup_does_not_wake_idle_watch),
		CASE(replaced_descriptor_registers_again),
		CASE(bad_descriptor_fails),
		CASE(callback_frees_its_owner),
		CASE(signal_arrives_as_event),
		CASE(signal_out_of_range_fails),
		CASE(turn_costs_what_is_ready),
	};
	/* The fixed tests, then one test per case of each table. */
	struct CMUnitTest tests[NELEM(fixed) + NELEM(defer_cases) +
	    NELEM(file_cases) + NELEM(batch_cases)];
	size_t n = 0, i;

	for (i = 0; i < NELEM(fixed); i++)
		tests[n++] = fixed[i];
	ADD_TABLE(defer_cases, defer_table);
	ADD_TABLE(file_cases, always_ready);
	ADD_TABLE(batch_cases, deleted_in_batch);

	alarm(WATCHDOG_SECS);
	return _cmocka_run_group_tests("loop", tests, n, NULL, NULL);
}
