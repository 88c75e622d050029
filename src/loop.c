/* The event loop: epoll, a timer heap, a deferred list and a signalfd. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "net.h"

#define LOOP_BATCH	256	/* events taken from the kernel per turn */

struct loop {
	int		 epfd;
	/* The batch being dispatched: a deleted watch is struck out of it. */
	struct epoll_event ev[LOOP_BATCH];
	int		 nev;
	int		 iev;
	struct loop_io	*ready;		/* always-ready watches, in turn */
	struct loop_io	*ready_tail;
	struct loop_io	*abatch[LOOP_BATCH];	/* those being run */
	size_t		 nabatch;
	struct loop_defer *dhead, *dtail;	/* deferred, in order */
	struct loop_defer *dlast;	/* the last one this turn runs */
	struct loop_timer **heap;
	size_t		 nheap;
	size_t		 capheap;
	size_t		 nkernel;
	uint64_t	 changes;
	/* Signals. */
	struct loop_io	 sigio;
	sigset_t	 sigset;
	loop_signal_fn	*sigfn[_NSIG];
	void		*sigarg[_NSIG];
};

struct loop *
loop_new(struct error *e)
{
	struct loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		err_errno(e, ST_RUNTIME, errno, "epoll_create1");
		free(l);
		return NULL;
	}
	sigemptyset(&l->sigset);
	l->sigio.fd = -1;
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	if (l->sigio.fd >= 0) {
		sigprocmask(SIG_UNBLOCK, &l->sigset, NULL);
		close(l->sigio.fd);
	}
	close(l->epfd);
	free(l->heap);
	free(l);
}

/* --- Descriptors. */

void
loop_io_init(struct loop_io *io, int fd, loop_io_fn *fn)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->fn = fn;
}

static void
ready_add(struct loop *l, struct loop_io *io)
{
	if (io->on_ready)
		return;
	io->on_ready = true;
	io->next_ready = NULL;
	io->prev_ready = l->ready_tail;
	if (l->ready_tail != NULL)
		l->ready_tail->next_ready = io;
	else
		l->ready = io;
	l->ready_tail = io;
}

static void
ready_remove(struct loop *l, struct loop_io *io)
{
	size_t i;

	if (!io->on_ready)
		return;
	if (io->prev_ready != NULL)
		io->prev_ready->next_ready = io->next_ready;
	else
		l->ready = io->next_ready;
	if (io->next_ready != NULL)
		io->next_ready->prev_ready = io->prev_ready;
	else
		l->ready_tail = io->prev_ready;
	for (i = 0; i < l->nabatch; i++)
		if (l->abatch[i] == io)
			l->abatch[i] = NULL;
	io->on_ready = false;
	io->next_ready = io->prev_ready = NULL;
}

/* Strike io out of the batch being dispatched. */
static void
batch_forget(struct loop *l, const struct loop_io *io)
{
	int i;

	for (i = l->iev; i < l->nev; i++)
		if (l->ev[i].data.ptr == io)
			l->ev[i].data.ptr = NULL;
}

static void
kernel_del(struct loop *l, struct loop_io *io)
{
	if (!io->in_kernel)
		return;
	/* The descriptor may already be closed or replaced: that is fine. */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->in_kernel = false;
	l->nkernel--;
	l->changes++;
	batch_forget(l, io);
}

int
loop_io_set(struct loop *l, struct loop_io *io, uint32_t events,
    struct error *e)
{
	struct epoll_event ev;

	if (events == io->events && (events == 0 || io->in_kernel ||
	    io->always))
		return 0;
	io->events = events;
	if (io->always) {
		if (events != 0)
			ready_add(l, io);
		else
			ready_remove(l, io);
		return 0;
	}
	/*
	 * No wants means no registration at all: epoll reports a hang-up
	 * even to a watch that wants nothing, and would wake us for ever.
	 */
	if (events == 0) {
		kernel_del(l, io);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = io;
	l->changes++;
	if (io->in_kernel) {
		if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) == 0)
			return 0;
		/* The descriptor was replaced under us (dup2): start over. */
		io->in_kernel = false;
		l->nkernel--;
		batch_forget(l, io);
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) == 0) {
		io->in_kernel = true;
		l->nkernel++;
		return 0;
	}
	if (errno == EPERM) {
		/* A file or /dev/null: never blocks, as poll(2) says too. */
		io->always = true;
		ready_add(l, io);
		return 0;
	}
	err_errno(e, ST_RUNTIME, errno, "epoll_ctl");
	return -1;
}

void
loop_io_del(struct loop *l, struct loop_io *io)
{
	kernel_del(l, io);
	ready_remove(l, io);
	io->events = 0;
	io->always = false;
}

/* --- Timers: a binary min-heap on the deadline. */

void
loop_timer_init(struct loop_timer *t, loop_timer_fn *fn)
{
	t->at = -1;
	t->slot = SIZE_MAX;
	t->fn = fn;
}

static void
heap_place(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->slot = i;
}

static void
heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0 && l->heap[(i - 1) / 2]->at > t->at) {
		heap_place(l, i, l->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_place(l, i, t);
}

static void
heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->at < l->heap[c]->at)
			c++;
		if (l->heap[c]->at >= t->at)
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

void
loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	size_t i = t->slot;
	struct loop_timer *last;

	if (i == SIZE_MAX)
		return;
	t->slot = SIZE_MAX;
	last = l->heap[--l->nheap];
	if (last == t)
		return;
	heap_place(l, i, last);
	heap_up(l, i);
	heap_down(l, last->slot);
}

int
loop_timer_set(struct loop *l, struct loop_timer *t, int64_t at)
{
	struct loop_timer **h;
	size_t cap;

	if (loop_timer_armed(t)) {
		if (t->at == at)
			return 0;
		loop_timer_stop(l, t);
	}
	if (l->nheap == l->capheap) {
		cap = l->capheap == 0 ? 64 : 2 * l->capheap;
		if ((h = realloc(l->heap, cap * sizeof(*h))) == NULL)
			return -1;
		l->heap = h;
		l->capheap = cap;
	}
	t->at = at;
	heap_place(l, l->nheap++, t);
	heap_up(l, t->slot);
	return 0;
}

/* --- Deferred work. */

void
loop_defer_init(struct loop_defer *d, loop_defer_fn *fn)
{
	memset(d, 0, sizeof(*d));
	d->fn = fn;
}

void
loop_defer(struct loop *l, struct loop_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = NULL;
	d->prev = l->dtail;
	if (l->dtail != NULL)
		l->dtail->next = d;
	else
		l->dhead = d;
	l->dtail = d;
}

void
loop_defer_cancel(struct loop *l, struct loop_defer *d)
{
	if (!d->queued)
		return;
	if (d == l->dlast)
		l->dlast = d->prev;	/* NULL: nothing left for this turn */
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		l->dhead = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	else
		l->dtail = d->prev;
	d->queued = false;
	d->next = d->prev = NULL;
}

/* --- Signals. */

static void
on_signal(struct loop_io *io, uint32_t revents)
{
	struct loop *l = container_of(io, struct loop, sigio);
	struct signalfd_siginfo si;
	ssize_t n;
	int signo;

	(void)revents;
	while ((n = read(io->fd, &si, sizeof(si))) == (ssize_t)sizeof(si)) {
		signo = (int)si.ssi_signo;
		if (signo > 0 && signo < _NSIG && l->sigfn[signo] != NULL)
			l->sigfn[signo](l, signo, l->sigarg[signo]);
	}
}

int
loop_signal(struct loop *l, int signo, loop_signal_fn *fn, void *arg,
    struct error *e)
{
	sigset_t set = l->sigset;
	int fd;

	if (signo <= 0 || signo >= _NSIG)
		return err_set(e, ST_RUNTIME, "bad signal %d", signo), -1;
	/* Nothing changes for good until the signalfd is watched. */
	sigaddset(&set, signo);
	fd = signalfd(l->sigio.fd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		return err_errno(e, ST_RUNTIME, errno, "signalfd"), -1;
	if (l->sigio.fd < 0) {
		loop_io_init(&l->sigio, fd, on_signal);
		if (loop_io_set(l, &l->sigio, EPOLLIN, e) == -1) {
			close(fd);
			l->sigio.fd = -1;
			return -1;
		}
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return err_errno(e, ST_RUNTIME, errno, "sigprocmask"), -1;
	l->sigset = set;
	l->sigfn[signo] = fn;
	l->sigarg[signo] = arg;
	return 0;
}

/* --- One turn. */

static int
next_timeout(const struct loop *l)
{
	int64_t left;

	if (l->dhead != NULL || l->ready != NULL)
		return 0;
	if (l->nheap == 0)
		return -1;
	left = l->heap[0]->at - now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static void
run_timers(struct loop *l)
{
	struct loop_timer *t;
	int64_t now = now_ms();

	while (l->nheap > 0 && l->heap[0]->at <= now) {
		t = l->heap[0];
		loop_timer_stop(l, t);
		t->fn(t);
	}
}

/* Run what was deferred before this turn; what it defers waits a turn. */
static void
run_deferred(struct loop *l)
{
	struct loop_defer *d;

	l->dlast = l->dtail;
	while (l->dlast != NULL) {
		d = l->dhead;
		if (d == l->dlast)
			l->dlast = NULL;
		loop_defer_cancel(l, d);
		d->fn(d);
	}
}

/*
 * Always-ready watches: each is called once per turn with the events it
 * wants.  Callbacks may delete watches, so the turn works on a copy of the
 * list from which deleted ones are struck out.
 */
static void
run_always_ready(struct loop *l)
{
	struct loop_io *io, *first = NULL;
	size_t i;

	/*
	 * Take a batch from the front and move it to the back, so that a
	 * list longer than a batch is served in turn.
	 */
	l->nabatch = 0;
	while ((io = l->ready) != NULL && l->nabatch < LOOP_BATCH &&
	    io != first) {
		if (first == NULL)
			first = io;
		ready_remove(l, io);
		ready_add(l, io);
		l->abatch[l->nabatch++] = io;
	}
	for (i = 0; i < l->nabatch; i++) {
		/* A watch deleted by an earlier callback is struck out. */
		if ((io = l->abatch[i]) != NULL)
			io->fn(io, io->events);
	}
	l->nabatch = 0;
}

int
loop_once(struct loop *l, struct error *e)
{
	struct loop_io *io;
	int n, timeout = next_timeout(l);

	n = epoll_wait(l->epfd, l->ev, LOOP_BATCH, timeout);
	if (n == -1) {
		if (errno == EINTR)
			return 0;
		return err_errno(e, ST_RUNTIME, errno, "epoll_wait"), -1;
	}
	l->nev = n;
	for (l->iev = 0; l->iev < l->nev; l->iev++) {
		io = l->ev[l->iev].data.ptr;
		if (io != NULL)
			io->fn(io, l->ev[l->iev].events);
	}
	l->nev = l->iev = 0;
	if (l->ready != NULL)
		run_always_ready(l);
	run_timers(l);
	run_deferred(l);
	return 0;
}

size_t
loop_kernel_watches(const struct loop *l)
{
	return l->nkernel;
}

uint64_t
loop_kernel_changes(const struct loop *l)
{
	return l->changes;
}
