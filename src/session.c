/*
 * One session between standard input and output and the network, and what
 * the drivers share: printing, the relay options, the network stream.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"
#include "exec.h"
#include "loop.h"
#include "progress.h"
#include "report.h"
#include "starttls.h"
#include "tls.h"

int verbose;

void
say(const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tlsnc: %s\n", line);
}

int
report_failure(const struct error *e)
{
	say("%s", e->msg[0] != '\0' ? e->msg : "failed");
	return e->status != ST_OK ? (int)e->status : ST_RUNTIME;
}

/* The handshake summary, printed with -v once TLS is established. */
enum status
session_established(struct stream *s, void *arg, struct error *e)
{
	const struct mode *m = arg;
	struct tls_info info;
	const char *ktls;
	void *tls;

	/* Only a TLS layer has a summary; a program's start has none. */
	if (stream_query(s, STREAM_Q_TLS, &tls) != 0)
		return ST_OK;
	if (session_report(m, s, ST_OK, NULL, e) != ST_OK)
		return e->status;
	/* Under -k a summary per client is -vv's business. */
	if (verbose < (m->o->keep_open ? 2 : 1))
		return ST_OK;
	tls_get_info(s, &info);
	say("TLS %s, cipher %s, group %s", info.version, info.cipher,
	    info.group);
	say("SNI %s: %s", m->o->listen ? "received" : "sent",
	    info.sni[0] != '\0' ? info.sni : "none");
	say("TLS session: %s", info.resumed ? "resumed" : "new");
	if ((ktls = tls_ktls_state(tls_get_ssl(s))) != NULL)
		say("kernel TLS: %s", ktls);
	if (info.ocsp[0] != '\0')
		say("OCSP status: %s", info.ocsp);
	if (m->o->tls.alpn != NULL || info.alpn[0] != '\0')
		say("ALPN protocol: %s", info.alpn[0] != '\0' ? info.alpn :
		    "none");
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

int
report_setup(struct mode *m, struct error *e)
{
	const struct options *o = m->o;
	const char *keylog = o->ssl_keylog, *opt = "--ssl-keylog";
	int klfd = -1;

	m->report_fd = o->ssl_info != REPORT_NONE ? STDERR_FILENO : -1;
	if (m->ctx == NULL)
		return 0;
	if (keylog == NULL && (keylog = getenv("SSLKEYLOGFILE")) != NULL) {
		opt = "SSLKEYLOGFILE";
		if (*keylog == '\0')
			keylog = NULL;
	}
	if (o->ssl_info_file != NULL && (m->report_fd = open(o->ssl_info_file,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644)) == -1)
		return err_errno(e, ST_USAGE, errno, "--ssl-info-file %s",
		    o->ssl_info_file), -1;
	if (keylog != NULL &&
	    (klfd = report_keylog_open(opt, keylog, e)) == -1)
		return -1;
	if (keylog != NULL)
		say("warning: %s %s holds the session secrets: whoever reads "
		    "it can decrypt the traffic", opt, keylog);
	/* The descriptors stay open until exit. */
	return report_ctx_setup(m->ctx, o->listen && o->ssl_info !=
	    REPORT_NONE, klfd, e);
}

/* Write all of buf to fd; a report that cannot be written is dropped. */
static void
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void
report_write(const struct mode *m, const char *text)
{
	if (m->report_fd >= 0)
		write_all(m->report_fd, text, strlen(text));
}

enum status
session_report(const struct mode *m, struct stream *net, enum status st,
    const char *failure, struct error *e)
{
	const struct options *o = m->o;
	char *text;
	int rc;

	if (m->ctx == NULL || (o->ssl_info == REPORT_NONE &&
	    o->ssl_save_chain == NULL) || !report_pending(net))
		return ST_OK;
	if (failure == NULL && st != ST_OK)
		failure = "failed";
	text = report_build(net, o->ssl_info != REPORT_NONE ? o->ssl_info :
	    REPORT_TEXT, m->report_fd == STDERR_FILENO ? "tlsnc: " : "", st,
	    failure);
	if (text != NULL && m->report_fd >= 0)
		write_all(m->report_fd, text, strlen(text));
	free(text);
	if (o->ssl_save_chain == NULL)
		return ST_OK;
	rc = report_save_chain(net, o->ssl_save_chain, e);
	/* A listener's clients send none unless asked: no news there. */
	if (rc == 1 && failure == NULL && !o->listen)
		say("warning: --ssl-save-chain: the peer sent no certificate");
	return rc == -1 ? e->status : ST_OK;
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

/*
 * After a refused server certificate: show it, and say what would let a
 * connection through.  With no pin, that is a pin of exactly this
 * certificate.  After a pin mismatch it is not: the certificate just
 * presented is the one that may be an attacker's, so a new pin must come
 * from elsewhere.
 */
void
verify_hint(struct stream *net)
{
	struct tls_info info;

	tls_get_info(net, &info);
	if (!info.have_peer_cert)
		return;
	say("the peer's certificate is %s (subject %s)", info.fingerprint,
	    info.subject);
	if (info.pin_issuer[0] != '\0') {
		say("--ssl-pin accepts only the server's own certificate; to "
		    "verify the server against a CA, give the CA's certificate "
		    "with --ssl-trustfile");
		return;
	}
	if (info.pin_mismatch) {
		say("this is not the pinned certificate, and it may be an "
		    "attacker's: take a new pin only from a channel you trust, "
		    "never from this connection");
		return;
	}
	say("to accept exactly this certificate, add --ssl-pin %s; "
	    "--ssl-no-verify accepts any (insecure)", info.fingerprint);
}

/*
 * A socket on stdout belongs to a parent that watches it (socat EXEC:,
 * inetd) and takes EOF there for "the child is done", even while our input
 * is still going; a pipe's reader waits for EOF to answer.  So only a pipe
 * or a file is half-closed at the peer's EOF; a socket waits for the exit.
 */
static bool
stdout_is_socket(void)
{
	struct stat st;

	return fstat(STDOUT_FILENO, &st) == 0 && S_ISSOCK(st.st_mode);
}

void
session_opts(const struct mode *m, struct relay_opts *ro)
{
	const struct options *o = m->o;

	memset(ro, 0, sizeof(*ro));
	ro->handshake_deadline = -1;
	ro->idle_ms = o->idle_ms;
	ro->quit_after_eof_ms = o->quit_ms;
	/*
	 * Datagrams have no EOF, so a UDP client would never end: as Ncat
	 * does, it quits at stdin EOF unless -q gives replies time to come.
	 * A listener goes on (its stdin is often /dev/null) until -q, -i or
	 * a signal.
	 */
	if (o->udp && !o->listen && o->quit_ms < 0)
		ro->quit_after_eof_ms = 0;
	ro->recv_only = o->recv_only;
	ro->send_only = o->send_only;
	ro->no_shutdown = o->no_shutdown;
	ro->end_at_peer_eof = !o->recv_only && !o->send_only &&
	    isatty(STDIN_FILENO);
	ro->hold_local_eof = stdout_is_socket();
	/*
	 * A child gets EOF on its stdin at the peer's EOF and may still
	 * answer; the session ends once it has closed its stdout.
	 */
	if (o->exec != NULL || o->sh_exec != NULL) {
		ro->end_at_peer_eof = false;
		ro->hold_local_eof = false;
		ro->local_after_net = true;
		ro->local_reader_may_leave = true;
	}
	ro->taps.delay_ms = o->delay_ms;
	ro->taps.crlf = o->crlf;
	ro->taps.telnet = o->telnet;
	ro->taps.discard_in = o->send_only;
	ro->taps.rec = m->rec;
	ro->on_established = session_established;
	if (m->ctx == NULL)
		ro->on_first_data = on_first_data;
	ro->arg = (void *)m;
}

/* Under -v, the STARTTLS dialogue, on stderr. */
static void
log_starttls(void *arg, char dir, const char *line)
{
	(void)arg;
	if (verbose >= 1)
		say("STARTTLS %s %s", dir == 'C' ? ">" : "<", line);
}

/* With --starttls, the preamble's layer goes between socket and TLS. */
static struct stream *
starttls_layer(const struct options *o, struct stream *net,
    struct error *e)
{
	const char *name = o->starttls_name;
	struct stream *s;

	if (o->starttls == NULL)
		return net;
	if (name == NULL && starttls_name_is_target(o->starttls))
		name = o->host;
	if ((s = starttls_new(o->starttls, net, name, log_starttls, NULL,
	    e)) == NULL)
		stream_close(net);
	return s;
}

struct stream *
net_stream_new(const struct mode *m, int fd, struct error *e)
{
	struct stream *net, *t;

	if ((net = stream_fd_new(fd, fd, STREAM_OWN_FDS)) == NULL) {
		close(fd);
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	if (m->ctx == NULL)
		return net;
	if ((net = starttls_layer(m->o, net, e)) == NULL)
		return NULL;
	t = tls_stream_new(m->ctx, net, &m->o->tls,
	    m->o->listen ? NULL : m->o->host, e);
	if (t == NULL)
		stream_close(net);
	else if (m->o->ssl_info != REPORT_NONE || m->o->ssl_save_chain != NULL)
		report_begin(t);
	return t;
}

/* Under -v, one line for a child that failed. */
static void
report_child_exit(const char *label, pid_t pid, int ws)
{
	if (verbose < 1)
		return;
	if (WIFEXITED(ws))
		say("%s%sthe program (pid %ld) exited with status %d", label,
		    label[0] != '\0' ? ": " : "", (long)pid, WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		say("%s%sthe program (pid %ld) was killed by signal %d", label,
		    label[0] != '\0' ? ": " : "", (long)pid, WTERMSIG(ws));
}

void
on_sigchld(struct loop *l, int signo, void *arg)
{
	(void)l;
	(void)signo;
	(void)arg;
	child_reap(report_child_exit);
}

struct stream *
exec_local_new(const struct mode *m, struct loop *l, const char *label,
    int fd, const struct stream *net, struct error *e)
{
	const struct options *o = m->o;
	struct exec_spec spec = {
		.cmd = o->exec != NULL ? o->exec : o->sh_exec,
		.flags = (o->exec == NULL ? CHILD_SHELL : 0) |
		    (o->exec_stderr ? CHILD_STDERR : 0),
		.label = label,
	};

	return exec_stream_new(l, &spec, fd, net, e);
}

/*
 * How a session ended.  While the relay runs, SIGINT and SIGTERM end it
 * cleanly (close_notify, then FIN); after, they only end the wait for a
 * program.
 */
struct outcome {
	struct relay	*relay;		/* while it runs */
	enum status	 st;
	struct error	 e;
	struct relay_stats stats;
	int		 signo;		/* the signal that ended it, or 0 */
};

static void
on_signal(struct loop *l, int signo, void *arg)
{
	struct outcome *out = arg;

	(void)l;
	if (out->signo == 0)
		out->signo = signo;
	if (out->relay != NULL)
		relay_stop(out->relay, ST_OK, NULL);
}

/*
 * With --progress: what is left of standard input when it is a regular
 * file, else -1 (unknown).
 */
static int64_t
input_size(const struct mode *m)
{
	struct stat st;
	off_t at;

	if (m->o->exec != NULL || m->o->sh_exec != NULL || m->o->recv_only ||
	    fstat(STDIN_FILENO, &st) == -1 || !S_ISREG(st.st_mode))
		return -1;
	if ((at = lseek(STDIN_FILENO, 0, SEEK_CUR)) == -1 || at > st.st_size)
		at = 0;
	return (int64_t)(st.st_size - at);
}

/* Wait until every child is reaped: no zombie is left. */
static void
wait_children(struct loop *loop)
{
	struct error e;

	while (child_count() > 0)
		if (loop_once(loop, &e) == -1)
			break;
}

/*
 * A session that ended before its handshake completed still gets its
 * report, which says why.  A failure to save the chain is only a warning
 * here: the session's own status says more.
 */
void
session_end_report(const struct mode *m, struct stream *net, enum status st,
    const struct error *why)
{
	struct error e;

	err_clear(&e);
	if (m->ctx == NULL || net == NULL || !report_pending(net))
		return;
	if (session_report(m, net, st, st != ST_OK ? why->msg :
	    "the session ended before the handshake completed", &e) != ST_OK)
		say("warning: %s", e.msg);
}

/*
 * --ssl-sess-out: once the session is over, and the server's tickets have
 * come, save the session.  Returns the status to exit with.
 */
static int
save_session(const struct mode *m, struct stream *net, int rc)
{
	const char *path = m->o->tls.sess_out;
	struct error e;
	bool saved;

	if (path == NULL || m->o->listen || rc != ST_OK)
		return rc;
	err_clear(&e);
	if (tls_save_session(net, path, &saved, &e) != ST_OK)
		return report_failure(&e);
	if (!saved)
		say("warning: --ssl-sess-out: the server gave no session that "
		    "can be resumed; %s is left empty", path);
	else if (verbose >= 1)
		say("TLS session saved to %s", path);
	return rc;
}

/* Say how the session ended; returns the exit status. */
static int
session_end(const struct mode *m, struct stream *net,
    const struct outcome *out)
{
	session_end_report(m, net, out->st, &out->e);
	if (out->st != ST_OK) {
		say("%s", out->e.msg);
		if (out->st == ST_VERIFY && m->ctx != NULL && !m->o->listen &&
		    tls_verify_failed(net))
			verify_hint(net);
	}
	if (verbose >= 1)
		say("%llu bytes sent, %llu bytes received",
		    (unsigned long long)out->stats.sent,
		    (unsigned long long)out->stats.received);
	if (out->st == ST_OK && out->signo != 0)
		return 128 + out->signo;
	if (out->st == ST_OK && out->stats.output_gone)
		return EXIT_OUTPUT_GONE;
	return out->st;
}

/*
 * Run the relay between local and net on loop until the session ends, and
 * fill in out.  Returns -1 with out->e filled in when it could not start.
 */
static int
run_relay(const struct mode *m, struct loop *loop, struct stream *local,
    struct stream *net, int64_t deadline, struct outcome *out)
{
	struct progress *prog = NULL;
	struct relay_opts ro;

	session_opts(m, &ro);
	ro.handshake_deadline = deadline;
	if ((out->relay = relay_new(loop, local, net, &ro, &out->e)) == NULL ||
	    loop_signal(loop, SIGINT, on_signal, out, &out->e) == -1 ||
	    loop_signal(loop, SIGTERM, on_signal, out, &out->e) == -1)
		return -1;
	relay_start(out->relay);
	if (m->o->progress)
		prog = progress_start(loop, out->relay, stderr,
		    isatty(STDERR_FILENO), input_size(m));
	while (!relay_finished(out->relay, &out->st, &out->e))
		if (loop_once(loop, &out->e) == -1)
			relay_stop(out->relay, out->e.status, "%s",
			    out->e.msg);
	progress_end(prog);
	relay_get_stats(out->relay, &out->stats);
	/* Writing to a program found it gone: that is its business. */
	if (m->o->exec != NULL || m->o->sh_exec != NULL)
		out->stats.output_gone = false;
	return 0;
}

/*
 * The local end: standard input and output, or with -e and -c a program
 * (the loop then watches SIGCHLD).  NULL with e filled in.
 */
static struct stream *
session_local_new(const struct mode *m, struct loop *loop, int fd,
    const struct stream *net, struct error *e)
{
	struct stream *local;

	if (m->o->exec != NULL || m->o->sh_exec != NULL) {
		if (loop_signal(loop, SIGCHLD, on_sigchld, NULL, e) == -1)
			return NULL;
		return exec_local_new(m, loop, "", fd, net, e);
	}
	if ((local = stream_fd_new(STDIN_FILENO, STDOUT_FILENO, 0)) == NULL)
		err_set(e, ST_RUNTIME, "out of memory");
	return local;
}

int
run_session(const struct mode *m, int fd, int64_t deadline)
{
	struct stream *local = NULL, *net;
	struct loop *loop;
	struct outcome out;
	int rc = -1;

	memset(&out, 0, sizeof(out));
	if ((net = net_stream_new(m, fd, &out.e)) == NULL)
		return report_failure(&out.e);
	if ((loop = loop_new(&out.e)) == NULL ||
	    (local = session_local_new(m, loop, fd, net, &out.e)) == NULL ||
	    run_relay(m, loop, local, net, deadline, &out) == -1)
		rc = report_failure(&out.e);
	relay_free(out.relay);
	out.relay = NULL;
	/* A program still running gets SIGTERM here, and is waited for. */
	stream_close(local);
	if (loop != NULL)
		wait_children(loop);
	loop_free(loop);
	/* A STARTTLS dialogue that timed out says what it waited for. */
	if (rc == -1 && out.st == ST_TIMEOUT)
		starttls_explain_timeout(net, &out.e);
	if (rc == -1)
		rc = session_end(m, net, &out);
	rc = save_session(m, net, rc);
	stream_close(net);
	return rc;
}
