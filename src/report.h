/*
 * The handshake report (--ssl-info), the peer chain as PEM
 * (--ssl-save-chain) and the key log (--ssl-keylog, SSLKEYLOGFILE).
 *
 * What the report needs that only the handshake sees (when it began, what
 * a client offered) is kept with each TLS session from report_begin() on,
 * and freed with it.  report_build() then turns a session, established or
 * failed, into text lines or one line of JSON; the driver writes it.  The
 * JSON keys are documented in tlsnc(1) and do not change.
 */
#ifndef TLSNC_REPORT_H
#define TLSNC_REPORT_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "status.h"
#include "stream.h"

enum report_format {
	REPORT_NONE,
	REPORT_TEXT,
	REPORT_JSON,
};

/*
 * Set up a context: with offers, a listener records what each client
 * offered (the ClientHello callback); with keylog_fd >= 0, every session's
 * secrets are written there as NSS key-log lines.  Returns 0, or -1 with e
 * filled in.
 */
int	report_ctx_setup(SSL_CTX *, bool offers, int keylog_fd,
	    struct error *);
/*
 * Open a key-log file for appending, created with mode 0600 whatever the
 * umask; an existing regular file is made 0600 too (a FIFO or a device is
 * left as it is).  Returns the descriptor, or -1 with e filled in
 * (ST_USAGE, naming opt and path).
 */
int	report_keylog_open(const char *opt, const char *path, struct error *);
/* Why writing the key log failed (an errno value; none is written since). */
int	report_keylog_error(void);

/* A TLS stream's handshake begins now: its time is counted from here. */
void	report_begin(struct stream *);
/* Whether report_begin() was called, and the report is not yet built. */
bool	report_pending(struct stream *);
/*
 * The report of a TLS session, which established or failed with status st
 * and message failure (NULL once established).  Text lines each start with
 * prefix; JSON is one object on one line.  Returns a string to free(), or
 * NULL when out of memory or without report_begin().  The session counts as
 * reported from then on.
 */
char	*report_build(struct stream *, enum report_format, const char *prefix,
	    enum status st, const char *failure);
/*
 * The report of a -z probe of port, which accepted the connection: as
 * report_build(), with the members "port" and "open" (true) after "peer".
 */
char	*report_build_port(struct stream *, enum report_format,
	    const char *prefix, unsigned port, enum status st,
	    const char *failure);
/*
 * The report of a -z probe of port that did not accept the connection:
 * only "side", "peer" (the address tried), "port", "open" (false),
 * "result" ("closed"), "status" and "error".  A string to free(), or NULL
 * when out of memory.
 */
char	*report_build_closed(enum report_format, const char *prefix,
	    const char *peer, unsigned port, enum status st,
	    const char *error);
/* Whole days from now until x's notAfter; negative once it has passed. */
int	report_days_left(X509 *x);
/*
 * Write the peer's chain, leaf first, as PEM to path (replacing it).
 * Returns 0, -1 with e filled in, or 1 when the peer sent no certificate.
 */
int	report_save_chain(struct stream *, const char *path, struct error *);

#endif
