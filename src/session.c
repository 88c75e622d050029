/*
 * One session between standard input and output and the network, and what
 * the drivers share: printing, the relay options, the network stream.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drivers.h"
#include "loop.h"
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
static enum status
on_established(struct stream *s, void *arg, struct error *e)
{
	const struct mode *m = arg;
	struct tls_info info;

	(void)e;
	/* Under -k a summary per client is -vv's business. */
	if (verbose < (m->o->keep_open ? 2 : 1))
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
	ro->recv_only = o->recv_only;
	ro->no_shutdown = o->no_shutdown;
	ro->end_at_peer_eof = !o->recv_only && isatty(STDIN_FILENO);
	ro->hold_local_eof = stdout_is_socket();
	/*
	 * A child gets EOF on its stdin at the peer's EOF and may still
	 * answer; the session ends once it has closed its stdout.
	 */
	if (o->exec != NULL || o->sh_exec != NULL) {
		ro->end_at_peer_eof = false;
		ro->hold_local_eof = false;
	}
	ro->on_established = on_established;
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
exec_stream_new(const struct mode *m, struct loop *l, const char *label,
    struct child **child, struct error *e)
{
	const struct options *o = m->o;
	struct stream *s;
	int rfd, wfd;

	*child = child_spawn(l, o->exec != NULL ? o->exec : o->sh_exec,
	    o->exec == NULL, label, &rfd, &wfd, e);
	if (*child == NULL)
		return NULL;
	if ((s = stream_fd_new(rfd, wfd, STREAM_OWN_FDS)) == NULL) {
		close(rfd);
		close(wfd);
		child_release(*child);
		*child = NULL;
		err_set(e, ST_RUNTIME, "out of memory");
	}
	return s;
}

/* SIGINT and SIGTERM end the session cleanly: close_notify, then FIN. */
struct signalled {
	struct relay	*relay;
	int		 signo;
};

static void
on_signal(struct loop *l, int signo, void *arg)
{
	struct signalled *sg = arg;

	(void)l;
	if (sg->signo == 0)
		sg->signo = signo;
	relay_stop(sg->relay, ST_OK, NULL);
}

/* Release the child and wait until it is reaped: no zombie is left. */
static void
end_child(struct loop *loop, struct child *child)
{
	struct error e;

	if (child == NULL)
		return;
	child_release(child);
	while (child_count() > 0)
		if (loop_once(loop, &e) == -1)
			break;
}

static int
run_relay(const struct mode *m, struct stream *local, struct stream *net,
    int64_t deadline)
{
	bool exec = m->o->exec != NULL || m->o->sh_exec != NULL;
	struct child *child = NULL;
	struct signalled sg = { NULL, 0 };
	struct relay_opts ro;
	struct relay_stats stats;
	struct loop *loop;
	struct error e;
	enum status st;

	err_clear(&e);
	session_opts(m, &ro);
	ro.handshake_deadline = deadline;
	if ((loop = loop_new(&e)) == NULL ||
	    (exec && (loop_signal(loop, SIGCHLD, on_sigchld, NULL, &e) == -1 ||
	    (local = exec_stream_new(m, loop, "", &child, &e)) == NULL)) ||
	    (sg.relay = relay_new(loop, local, net, &ro, &e)) == NULL ||
	    loop_signal(loop, SIGINT, on_signal, &sg, &e) == -1 ||
	    loop_signal(loop, SIGTERM, on_signal, &sg, &e) == -1) {
		relay_free(sg.relay);
		if (exec)
			stream_close(local);
		end_child(loop, child);
		loop_free(loop);
		return report_failure(&e);
	}
	relay_start(sg.relay);
	while (!relay_finished(sg.relay, &st, &e))
		if (loop_once(loop, &e) == -1)
			relay_stop(sg.relay, e.status, "%s", e.msg);
	relay_get_stats(sg.relay, &stats);
	relay_free(sg.relay);
	if (exec) {
		stream_close(local);
		/* Writing to the child found it gone: that is its business. */
		stats.output_gone = false;
	}
	end_child(loop, child);
	loop_free(loop);
	if (st == ST_TIMEOUT)
		starttls_explain_timeout(net, &e);
	if (st != ST_OK) {
		say("%s", e.msg);
		if (st == ST_VERIFY && m->ctx != NULL && !m->o->listen &&
		    tls_verify_failed(net))
			verify_hint(net);
	}
	if (verbose >= 1)
		say("%llu bytes sent, %llu bytes received",
		    (unsigned long long)stats.sent,
		    (unsigned long long)stats.received);
	if (st == ST_OK && sg.signo != 0)
		return 128 + sg.signo;
	if (st == ST_OK && stats.output_gone)
		return EXIT_OUTPUT_GONE;
	return st;
}

int
run_session(const struct mode *m, int fd, int64_t deadline)
{
	struct stream *local, *net;
	struct error e;
	int rc;

	err_clear(&e);
	if ((net = net_stream_new(m, fd, &e)) == NULL)
		return report_failure(&e);
	if (m->o->exec != NULL || m->o->sh_exec != NULL)
		local = NULL;	/* run_relay() spawns the child */
	else if ((local = stream_fd_new(STDIN_FILENO, STDOUT_FILENO, 0)) ==
	    NULL) {
		stream_close(net);
		err_set(&e, ST_RUNTIME, "out of memory");
		return report_failure(&e);
	}
	rc = run_relay(m, local, net, deadline);
	stream_close(local);
	stream_close(net);
	return rc;
}
