/*
 * tlsnc: a netcat that speaks TLS.
 *
 * main() parses the command line and hands over to a mode driver: connect or
 * listen.  Only this file prints diagnostics and chooses the exit status.
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

#include "net.h"
#include "options.h"
#include "relay.h"
#include "stream.h"
#include "tls.h"

static int verbose;

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tlsnc: %s\n", line);
}

static int
die_with(const struct error *e)
{
	say("%s", e->msg[0] != '\0' ? e->msg : "failed");
	return e->status != ST_OK ? (int)e->status : ST_RUNTIME;
}

/* Keep descriptors 0-2 valid so that nothing else lands on them. */
static void
sanitize_stdio(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			int null = open("/dev/null", fd == 0 ? O_RDONLY :
			    O_WRONLY);

			if (null != fd && null >= 0)
				close(null);
		}
	}
}

/* The handshake summary, printed with -v once TLS is established. */
static enum status
on_established(struct stream *s, void *arg, struct error *e)
{
	struct tls_info info;

	(void)arg;
	(void)e;
	if (verbose < 1)
		return ST_OK;
	tls_get_info(s, &info);
	say("TLS %s, cipher %s, group %s", info.version, info.cipher,
	    info.group);
	if (info.have_peer_cert) {
		say("peer certificate subject: %s", info.subject);
		say("peer certificate issuer: %s", info.issuer);
		say("peer certificate %s", info.fingerprint);
	} else {
		say("peer certificate: none");
	}
	say("verification: %s", info.verify);
	return ST_OK;
}

/*
 * A plain session whose peer opens with a TLS handshake record (content
 * type 22, version 3.x) most likely wanted --ssl.
 */
static void
on_first_data(const void *buf, size_t n, void *arg)
{
	const unsigned char *p = buf;

	(void)arg;
	if (verbose >= 1 && n >= 3 && p[0] == 0x16 && p[1] == 0x03 &&
	    p[2] <= 0x04)
		say("warning: the peer began a TLS handshake; use --ssl to "
		    "speak TLS");
}

/* After a refused certificate: what it was, and how to get through. */
static void
verify_hint(struct stream *net)
{
	struct tls_info info;

	tls_get_info(net, &info);
	if (!info.have_peer_cert)
		return;
	say("the peer's certificate is %s (subject %s)", info.fingerprint,
	    info.subject);
	say("to accept exactly this certificate, add --ssl-pin %s; "
	    "--ssl-no-verify accepts any (insecure)", info.fingerprint);
}

static int
run_session(const struct options *o, SSL_CTX *ctx, int fd, int64_t deadline)
{
	struct relay_opts ro;
	struct relay_stats stats;
	struct stream *local, *net;
	struct error e;
	enum status st;

	err_clear(&e);
	if ((net = stream_fd_new(fd, fd, true)) == NULL) {
		close(fd);
		return err_set(&e, ST_RUNTIME, "out of memory"), die_with(&e);
	}
	if (ctx != NULL) {
		struct stream *t = tls_stream_new(ctx, net, &o->tls,
		    o->listen ? NULL : o->host, &e);

		if (t == NULL) {
			stream_close(net);
			return die_with(&e);
		}
		net = t;
	}
	if ((local = stream_fd_new(STDIN_FILENO, STDOUT_FILENO,
	    false)) == NULL) {
		stream_close(net);
		return err_set(&e, ST_RUNTIME, "out of memory"), die_with(&e);
	}
	memset(&ro, 0, sizeof(ro));
	ro.handshake_deadline = deadline;
	ro.idle_ms = o->idle_ms;
	ro.quit_after_eof_ms = o->quit_ms;
	ro.recv_only = o->recv_only;
	ro.no_shutdown = o->no_shutdown;
	ro.end_at_peer_eof = !o->recv_only && isatty(STDIN_FILENO);
	ro.on_established = on_established;
	if (ctx == NULL)
		ro.on_first_data = on_first_data;

	st = relay_run(local, net, &ro, &stats, &e);
	if (st != ST_OK) {
		say("%s", e.msg);
		if (st == ST_VERIFY && ctx != NULL && !o->listen &&
		    tls_verify_failed(net))
			verify_hint(net);
	}
	if (verbose >= 1)
		say("%llu bytes sent, %llu bytes received",
		    (unsigned long long)stats.sent,
		    (unsigned long long)stats.received);
	stream_close(local);
	stream_close(net);
	return st;
}

static int
run_connect(const struct options *o, SSL_CTX *ctx)
{
	struct net_opts no = {
		.family = o->family,
		.numeric = o->numeric,
		.src_addr = o->src_addr,
		.src_port = o->src_port,
	};
	int64_t deadline = o->wait_ms > 0 ? now_ms() + o->wait_ms : -1;
	char peer[ADDR_STR_MAX];
	struct error e;
	int fd;

	err_clear(&e);
	if (net_connect(o->host, o->port, &no, deadline, &fd, peer, &e) !=
	    ST_OK)
		return die_with(&e);
	if (verbose >= 1)
		say("Connected to %s", peer);
	return run_session(o, ctx, fd, deadline);
}

static int
run_listen(const struct options *o, SSL_CTX *ctx, const char *own_fp,
    bool ephemeral)
{
	struct net_opts no = {
		.family = o->family,
		.numeric = o->numeric,
	};
	char bound[ADDR_STR_MAX], peer[ADDR_STR_MAX];
	const char *port;
	struct error e;
	int lfd, fd;

	err_clear(&e);
	if (net_listen(o->host, o->port, &no, &lfd, bound, &e) != ST_OK)
		return die_with(&e);
	port = strrchr(bound, ':') + 1;
	if (ephemeral) {
		say("ephemeral certificate %s", own_fp);
		say("connect with: tlsnc --ssl --ssl-pin %s %s %s", own_fp,
		    o->host != NULL ? o->host : "localhost", port);
	} else if (ctx != NULL && verbose >= 1) {
		say("certificate %s", own_fp);
	}
	if (verbose >= 1)
		say("Listening on %s", bound);
	if (net_accept(lfd, &fd, peer, &e) != ST_OK) {
		close(lfd);
		return die_with(&e);
	}
	close(lfd);
	if (verbose >= 1)
		say("Connection from %s", peer);
	return run_session(o, ctx, fd, o->wait_ms > 0 ?
	    now_ms() + o->wait_ms : -1);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct error e;
	SSL_CTX *ctx = NULL;
	char own_fp[TLS_FP_MAX] = "";
	bool ephemeral = false;
	int rc;

	sanitize_stdio();
	signal(SIGPIPE, SIG_IGN);
	if (options_parse(argc, argv, &o, &e) != ST_OK) {
		say("%s", e.msg);
		fprintf(stderr, "Try 'tlsnc --help' for more information.\n");
		return ST_USAGE;
	}
	if (o.help) {
		options_usage(stdout);
		return fflush(stdout) == 0 ? ST_OK : ST_RUNTIME;
	}
	if (o.version) {
		printf("tlsnc %s (%s)\n", PACKAGE_VERSION,
		    OpenSSL_version(OPENSSL_VERSION));
		return fflush(stdout) == 0 ? ST_OK : ST_RUNTIME;
	}
	verbose = o.verbose;
	if (o.ssl) {
		if ((ctx = tls_ctx_new(&o.tls, own_fp, &ephemeral, &e)) == NULL)
			return die_with(&e);
		if (o.tls.no_verify)
			say("warning: --ssl-no-verify: the server is not "
			    "verified; anyone in the path can read and change "
			    "the data");
	}
	rc = o.listen ? run_listen(&o, ctx, own_fp, ephemeral) :
	    run_connect(&o, ctx);
	SSL_CTX_free(ctx);
	return rc;
}
