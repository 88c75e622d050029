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

#include "access.h"
#include "child.h"
#include "loop.h"
#include "options.h"
#include "record.h"
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
	const struct access *access;	/* --allow and --deny, or NULL */
	struct recorder	*rec;		/* -o, -x, or NULL */
	int		 report_fd;	/* --ssl-info's output, or -1 */
};

int	mode_connect(const struct mode *);
int	mode_listen(const struct mode *);
int	mode_keep_open(const struct mode *, int lfd);
/* -l -k -u: many datagram peers on one bound socket (dgramkeep.c). */
int	mode_dgram_keep_open(const struct mode *, int fd);
int	mode_scan(const struct mode *);

/* --- Shared by the drivers (session.c). */

/*
 * Set up --ssl-info, --ssl-save-chain and --ssl-keylog (or SSLKEYLOGFILE)
 * on m once its context exists: open the files, warn that a key log is
 * secret.  Returns 0, or -1 with e filled in.
 */
int	report_setup(struct mode *, struct error *);
/*
 * A session's handshake ended: write its report and save the peer's chain,
 * once, when asked to.  failure is NULL once established.  Returns ST_OK,
 * or the status with e filled in when the chain could not be saved.
 */
enum status session_report(const struct mode *, struct stream *net,
	    enum status st, const char *failure, struct error *e);
/* Write a report to m's --ssl-info output; one that cannot is dropped. */
void	report_write(const struct mode *, const char *text);
/* At a session's end: the report of a handshake that never completed. */
void	session_end_report(const struct mode *, struct stream *net,
	    enum status st, const struct error *why);

extern int verbose;

/* "tlsnc: " and one line on stderr. */
void	say(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Print e and return the exit status it stands for. */
int	report_failure(const struct error *);
/*
 * The relay's on_established of every session (arg: the mode): with -v,
 * the handshake summary.
 */
enum status session_established(struct stream *, void *mode,
	    struct error *);
/* The relay options every session shares, from the command line. */
void	session_opts(const struct mode *, struct relay_opts *);
/* Layer TLS over a connected socket when asked; NULL with e filled in. */
struct stream *net_stream_new(const struct mode *, int fd, struct error *);
/* Say what a failed certificate was and how to get through. */
void	verify_hint(struct stream *net);
/*
 * With -e or -c: the local end of the session on socket fd, whose network
 * stream is net.  Its program starts once net is established (see exec.h);
 * label names it in reports.  NULL with e filled in.  The loop must watch
 * SIGCHLD (on_sigchld).
 */
struct stream *exec_local_new(const struct mode *, struct loop *,
	    const char *label, int fd, const struct stream *net,
	    struct error *);
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
