/*
 * tlsnc: a netcat that speaks TLS.
 *
 * main() parses the command line and hands over to a mode driver (connect.c,
 * listen.c), which runs the sessions and returns the exit status.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "drivers.h"
#include "flow.h"
#include "options.h"
#include "report.h"
#include "tls.h"

/*
 * Keep descriptors 0-2 valid so that nothing else lands on them.  A closed
 * stdout gets /dev/null opened read-only, so that writing output fails
 * (EBADF) as it would have, and is reported, rather than vanishing.
 */
static void
sanitize_stdio(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			int null = open("/dev/null", fd == 2 ? O_WRONLY :
			    O_RDONLY);

			if (null != fd && null >= 0)
				close(null);
		}
	}
}

/*
 * Flush what --help or --version wrote.  A failed write is reported, as cat
 * does: output that did not arrive is not a success.  errno was cleared
 * before the output, so a write that failed while stdio was filling its
 * buffer is still named if the final flush succeeds.  Returns the status.
 */
static int
finish_output(void)
{
	int saved;

	if (fflush(stdout) == 0 && !ferror(stdout))
		return ST_OK;
	saved = errno;
	say("writing output: %s", saved != 0 ? strerror(saved) :
	    "write error");
	return ST_RUNTIME;
}

/*
 * Build the access lists of --allow, --deny, --allowfile and --denyfile,
 * when any was given: read the files, resolve the names.  Returns ST_OK,
 * or the exit status after saying why.
 */
static int
load_access(const struct options *o, struct access *acl, struct mode *m)
{
	struct error e;

	if (o->access.n == 0)
		return ST_OK;
	if (access_load(acl, o->access.v, o->access.n, o->numeric, &e) !=
	    ST_OK)
		return report_failure(&e);
	if (acl->restricted && acl->allow.n == 0)
		say("warning: the allow list is empty: every client will be "
		    "refused");
	m->access = acl;
	return ST_OK;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct error e;
	struct access acl = { .restricted = false };
	struct mode m = { .o = &o, .report_fd = -1 };
	char own_fp[TLS_FP_MAX] = "";
	int rc;

	sanitize_stdio();
	signal(SIGPIPE, SIG_IGN);
	if (options_parse(argc, argv, &o, &e) != ST_OK) {
		say("%s", e.msg);
		fprintf(stderr, "Try 'tlsnc --help' for more information.\n");
		return ST_USAGE;
	}
	if (o.help) {
		errno = 0;
		options_usage(stdout);
		return finish_output();
	}
	if (o.version) {
		errno = 0;
		printf("tlsnc %s (%s)\n", PACKAGE_VERSION,
		    OpenSSL_version(OPENSSL_VERSION));
		return finish_output();
	}
	verbose = o.verbose;
	/* -vv: each flow names its path (zero-copy or read/write). */
	if (verbose >= 2)
		flow_set_log(say);
	m.own_fp = own_fp;
	if ((rc = load_access(&o, &acl, &m)) != ST_OK)
		return rc;
	if (o.ssl) {
		if ((m.ctx = tls_ctx_new(&o.tls, own_fp, &m.ephemeral,
		    &e)) == NULL) {
			access_free(&acl);
			return report_failure(&e);
		}
		if (report_setup(&m, &e) == -1) {
			SSL_CTX_free(m.ctx);
			access_free(&acl);
			return report_failure(&e);
		}
		if (o.tls.no_verify)
			say("warning: --ssl-no-verify: the server is not "
			    "verified; anyone in the path can read and change "
			    "the data");
	}
	if ((o.output != NULL || o.hex_dump != NULL) &&
	    (m.rec = recorder_open(o.output, o.hex_dump, o.append_output,
	    &e)) == NULL) {
		SSL_CTX_free(m.ctx);
		return report_failure(&e);
	}
	if (o.scan)
		rc = mode_scan(&m);
	else
		rc = o.listen ? mode_listen(&m) : mode_connect(&m);
	if (report_keylog_error() != 0)
		say("warning: writing the key log failed (%s): the sessions "
		    "after that are not in it", strerror(report_keylog_error()));
	SSL_CTX_free(m.ctx);
	access_free(&acl);
	/* A recording that lost bytes is not a success. */
	if (recorder_close(m.rec, &e) == -1) {
		say("%s", e.msg);
		if (rc == ST_OK)
			rc = ST_RUNTIME;
	}
	return rc;
}
