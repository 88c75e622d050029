/*
 * Programs on the socket (-e, -c): a child whose stdin and stdout are
 * pipes, killed when its connection ends and reaped through SIGCHLD.
 *
 * The driver watches SIGCHLD on its loop (loop_signal) before the first
 * child_spawn(), and calls child_reap() from that handler.  When a session
 * ends it hands its child back with child_release(): a child still running
 * gets SIGTERM, and SIGKILL CHILD_KILL_MS later, both sent to its process
 * group (a child is the leader of its own), so that what it started ends
 * too.  The module frees a child
 * once it is both released and reaped; child_count() tells a driver when
 * none is left to wait for.
 */
#ifndef TLSNC_CHILD_H
#define TLSNC_CHILD_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"
#include "status.h"

/* How long a child has after SIGTERM before SIGKILL. */
#define CHILD_KILL_MS	2000

struct child;

/*
 * Run cmd: split on whitespace and run without a shell, or with shell
 * true as /bin/sh -c cmd.  Its stderr is ours.  *rfd reads its stdout and
 * *wfd writes its stdin; both are non-blocking and close-on-exec.  label
 * names it in reports.  Returns the child, or NULL with e filled in.
 */
struct child	*child_spawn(struct loop *, const char *cmd, bool shell,
		    const char *label, int *rfd, int *wfd, struct error *);
/* Its connection is over: kill it if it still runs; freed once reaped. */
void		 child_release(struct child *);
/*
 * Reap every child that has exited.  on_exit, if not NULL, hears of each
 * that exited with a non-zero status or from a signal that we did not send.
 */
typedef void	child_exit_fn(const char *label, pid_t, int wstatus);
void		 child_reap(child_exit_fn *on_exit);
/* Children spawned and not yet reaped. */
size_t		 child_count(void);

#endif
