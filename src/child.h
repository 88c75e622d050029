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

/* Flags for child_spawn(). */
#define CHILD_SHELL	0x1	/* run cmd with /bin/sh -c */
#define CHILD_STDERR	0x2	/* its stderr goes where its stdout goes */

/*
 * Run cmd: split on whitespace and found through PATH, without a shell, or
 * with CHILD_SHELL as /bin/sh -c cmd.  Its stderr is ours, or with
 * CHILD_STDERR its stdout pipe.  envp is its whole environment (NULL:
 * ours).  *rfd reads its stdout and *wfd writes its stdin; both are
 * non-blocking and close-on-exec.  label names it in reports.  Returns the
 * child, or NULL with e filled in: a program that cannot be started is a
 * failure here, not a child that exits 127.
 */
struct child	*child_spawn(struct loop *, const char *cmd, unsigned flags,
		    char *const envp[], const char *label, int *rfd,
		    int *wfd, struct error *);
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
