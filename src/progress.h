/*
 * --progress: one line on stderr about a session that is moving bytes.
 *
 * On a terminal the line is redrawn in place every PROGRESS_TTY_MS;
 * elsewhere a plain line is printed every PROGRESS_LOG_MS.  It shows the
 * bytes sent and received, the current and the average rate, and, when
 * standard input is a regular file of known size, the percentage of it
 * sent and the time left.  The end prints a one-line summary.
 *
 * It is a timer of its own on the session's loop that reads the relay's
 * counters: the relay does no work for it.
 */
#ifndef TLSNC_PROGRESS_H
#define TLSNC_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loop.h"
#include "relay.h"

#define PROGRESS_TTY_MS	250
#define PROGRESS_LOG_MS	3000

struct progress;

/*
 * Start reporting on r to f (a terminal when tty).  total is the size of
 * the input, or -1 when it is not known.  NULL when memory is short.
 */
struct progress	*progress_start(struct loop *, struct relay *, FILE *f,
		    bool tty, int64_t total);
/* The summary line of what the relay moved, then free. */
void		 progress_end(struct progress *);

/* "12.3 MiB": n bytes with a binary unit, into out. */
const char	*progress_size(uint64_t n, char *out, size_t len);

#endif
