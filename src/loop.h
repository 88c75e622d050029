/*
 * The event loop: descriptors, timers, deferred work and signals, for any
 * number of sessions.
 *
 * Everything the loop watches is an object embedded in its owner's state;
 * the loop never allocates per watch.  Callbacks receive that object, and
 * the owner finds itself with container_of().  A callback may add, change or
 * delete any watch, its own included, and may free its owner after deleting
 * its watches: the loop touches nothing of a watch once it has been deleted.
 *
 *   struct loop_io     a descriptor and the events wanted on it (EPOLLIN,
 *                      EPOLLOUT).  The kernel is told only when the wanted
 *                      events change.  A descriptor that epoll refuses (a
 *                      regular file, /dev/null) counts as always ready, as
 *                      poll(2) would report it.  One loop_io per descriptor:
 *                      an owner that reads and writes one socket merges its
 *                      wants into one set.
 *   struct loop_timer  a deadline on the monotonic clock (now_ms()), kept in
 *                      a binary heap.
 *   struct loop_defer  work to run at the next turn without waiting, such as
 *                      a stream holding bytes inside a layer that no
 *                      descriptor will report.
 *   loop_signal()      a signal delivered as an event (signalfd).
 *
 * One turn of the loop costs work in proportion to what is ready, not to
 * what is watched.
 */
#ifndef TLSNC_LOOP_H
#define TLSNC_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

struct loop;

struct loop_io;
typedef void	loop_io_fn(struct loop_io *, uint32_t revents);

struct loop_io {
	int		 fd;
	uint32_t	 events;	/* wanted now: EPOLLIN, EPOLLOUT */
	bool		 in_kernel;	/* registered with epoll */
	bool		 always;	/* epoll refused it: always ready */
	loop_io_fn	*fn;
	struct loop_io	*next_ready, *prev_ready;	/* always-ready list */
	bool		 on_ready;
};

struct loop_timer;
typedef void	loop_timer_fn(struct loop_timer *);

struct loop_timer {
	int64_t		 at;		/* now_ms() time */
	size_t		 slot;		/* index in the heap, or SIZE_MAX */
	loop_timer_fn	*fn;
};

struct loop_defer;
typedef void	loop_defer_fn(struct loop_defer *);

struct loop_defer {
	struct loop_defer *next, *prev;
	bool		 queued;
	loop_defer_fn	*fn;
};

typedef void	loop_signal_fn(struct loop *, int signo, void *arg);

struct loop	*loop_new(struct error *);
void		 loop_free(struct loop *);

/* Prepare a watch; nothing is registered until loop_io_set(). */
void		 loop_io_init(struct loop_io *, int fd, loop_io_fn *);
/* Want these events (0: none).  Returns 0, or -1 with e filled in. */
int		 loop_io_set(struct loop *, struct loop_io *, uint32_t events,
		    struct error *);
/* Forget the watch (before its descriptor is closed or replaced). */
void		 loop_io_del(struct loop *, struct loop_io *);

void		 loop_timer_init(struct loop_timer *, loop_timer_fn *);
/*
 * Fire at time at (replacing any earlier setting).  Returns 0, or -1 when
 * the heap could not grow (out of memory): the timer is then not armed.
 */
int		 loop_timer_set(struct loop *, struct loop_timer *, int64_t at);
void		 loop_timer_stop(struct loop *, struct loop_timer *);
static inline bool
loop_timer_armed(const struct loop_timer *t)
{
	return t->slot != SIZE_MAX;
}

void		 loop_defer_init(struct loop_defer *, loop_defer_fn *);
/* Run fn at the next turn (once, however often it is asked). */
void		 loop_defer(struct loop *, struct loop_defer *);
void		 loop_defer_cancel(struct loop *, struct loop_defer *);

/*
 * Deliver signo as an event from now on: it is blocked and read from a
 * signalfd.  Returns 0, or -1 with e filled in.
 */
int		 loop_signal(struct loop *, int signo, loop_signal_fn *,
		    void *arg, struct error *);

/*
 * One turn: wait for the first ready event or timer (not at all when work
 * is deferred or a descriptor is always ready), then run what is due.
 * Returns 0, or -1 with e filled in when waiting itself failed.
 */
int		 loop_once(struct loop *, struct error *);

/* Counters for tests: watches registered with the kernel, and changes. */
size_t		 loop_kernel_watches(const struct loop *);
uint64_t	 loop_kernel_changes(const struct loop *);

#endif
