/*
 * The mode drivers: connect, listen, keep-open and scan.  They set up the
 * streams and the loop, print what a user sees, and return the exit
 * status; main() only parses and dispatches.  Drivers (and main) are the
 * only code that prints.
 */
#ifndef TLSNC_DRIVERS_H
#define TLSNC_DRIVERS_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "child.h"
#include "loop.h"
#include "options.h"
#include "relay.h"
#include "status.h"
#include "stream.h"

/*
 * The status when standard output's reader went away, as a shell reports a
 * tool that SIGPIPE ended: 128 + 13.
 */
#define EXIT_OUTPUT_GONE	141

/* Default handshake deadline of each -k client when -w is not given. */
#define KEEP_OPEN_HANDSHAKE_MS	10000

/* What every driver gets: the options and the TLS context (or NULL). */
struct mode {
	const struct options *o;
	SSL_CTX		*ctx;
	const char	*own_fp;	/* our certificate's fingerprint */
	bool		 ephemeral;	/* it was made for this run */
};

int	mode_connect(const struct mode *);
int	mode_listen(const struct mode *);
int	mode_keep_open(const struct mode *, int lfd);
int	mode_scan(const struct mode *);

/* --- Shared by the drivers (session.c). */

extern int verbose;

/* "tlsnc: " and one line on stderr. */
void	say(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Print e and return the exit status it stands for. */
int	report_failure(const struct error *);
/* The relay options every session shares, from the command line. */
void	session_opts(const struct mode *, struct relay_opts *);
/* Layer TLS over a connected socket when asked; NULL with e filled in. */
struct stream *net_stream_new(const struct mode *, int fd, struct error *);
/* Say what a failed certificate was and how to get through. */
void	verify_hint(struct stream *net);
/*
 * With -e or -c: the local end of a session is a new child, on pipes.
 * Returns its stream (which owns the pipes) and sets *child, or NULL with
 * e filled in.  The loop must already watch SIGCHLD (on_sigchld).
 */
struct stream *exec_stream_new(const struct mode *, struct loop *,
	    const char *label, struct child **, struct error *);
/* The SIGCHLD handler of a driver that runs children: reap them. */
void	on_sigchld(struct loop *, int signo, void *arg);
/*
 * Run one session between stdin/stdout (or the -e/-c child) and a
 * connected socket until it ends, on a loop of its own that also takes SIGINT and SIGTERM.
 */
int	run_session(const struct mode *, int fd, int64_t deadline);
/*
 * --ssl-reconnect: after a client's session, the more connections that
 * try to resume it (reconnect.c).  Returns rc, or the first failure's
 * status when rc is ST_OK.
 */
int	run_reconnects(const struct mode *, int rc);

#endif
