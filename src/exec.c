/* The -e/-c local end: a program started at its stream's handshake. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "exec.h"

/* --- The environment. */

enum {
	E_REMOTE_ADDR, E_REMOTE_PORT, E_LOCAL_ADDR, E_LOCAL_PORT, E_PROTO,
	E_NCAT,		/* the five above have Ncat's names too */
	E_TLS_VERSION = E_NCAT, E_TLS_CIPHER, E_PEER_SUBJECT, E_PEER_SHA256,
	E_COUNT
};

static const char *const tlsnc_names[E_COUNT] = {
	"TLSNC_REMOTE_ADDR", "TLSNC_REMOTE_PORT", "TLSNC_LOCAL_ADDR",
	"TLSNC_LOCAL_PORT", "TLSNC_PROTO", "TLSNC_TLS_VERSION",
	"TLSNC_TLS_CIPHER", "TLSNC_PEER_SUBJECT", "TLSNC_PEER_SHA256",
};

static const char *const ncat_names[E_NCAT] = {
	"NCAT_REMOTE_ADDR", "NCAT_REMOTE_PORT", "NCAT_LOCAL_ADDR",
	"NCAT_LOCAL_PORT", "NCAT_PROTO",
};

/* The values, NULL for a name that does not apply. */
struct env_values {
	const char	*v[E_COUNT];
	char		 raddr[NI_MAXHOST], rport[NI_MAXSERV];
	char		 laddr[NI_MAXHOST], lport[NI_MAXSERV];
};

void
exec_conn_from_socket(int fd, struct exec_conn *c)
{
	socklen_t len;

	memset(c, 0, sizeof(*c));
	len = sizeof(c->local);
	if (getsockname(fd, (struct sockaddr *)&c->local, &len) == -1)
		memset(&c->local, 0, sizeof(c->local));
	len = sizeof(c->remote);
	if (getpeername(fd, (struct sockaddr *)&c->remote, &len) == -1)
		memset(&c->remote, 0, sizeof(c->remote));
	len = sizeof(c->socktype);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &c->socktype, &len) == -1)
		c->socktype = SOCK_STREAM;
}

/*
 * A socket address as numeric host and port text: an IPv4-mapped address
 * in IPv4 form, a Unix socket's path and no port, and empty strings for
 * what is unknown.
 */
static void
addr_text(const struct sockaddr_storage *ss, char *host, size_t hlen,
    char *port, size_t plen)
{
	const struct sockaddr_in6 *in6 = (const void *)ss;
	const struct sockaddr_un *un = (const void *)ss;
	struct sockaddr_in in;
	const struct sockaddr *sa = (const void *)ss;
	socklen_t len = sizeof(struct sockaddr_in6);

	host[0] = port[0] = '\0';
	if (ss->ss_family == AF_UNIX) {
		/* An unnamed or abstract socket has no path to give. */
		snprintf(host, hlen, "%.*s", (int)strnlen(un->sun_path,
		    sizeof(un->sun_path)), un->sun_path);
		return;
	}
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		memset(&in, 0, sizeof(in));
		in.sin_family = AF_INET;
		in.sin_port = in6->sin6_port;
		memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
		sa = (const struct sockaddr *)&in;
	}
	if (sa->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (sa->sa_family != AF_INET6)
		return;
	if (getnameinfo(sa, len, host, (socklen_t)hlen, port, (socklen_t)plen,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		host[0] = port[0] = '\0';
}

static void
env_values(const struct exec_conn *c, struct env_values *ev)
{
	const struct tls_info *t = &c->tls_info;

	memset(ev->v, 0, sizeof(ev->v));
	addr_text(&c->remote, ev->raddr, sizeof(ev->raddr), ev->rport,
	    sizeof(ev->rport));
	addr_text(&c->local, ev->laddr, sizeof(ev->laddr), ev->lport,
	    sizeof(ev->lport));
	ev->v[E_REMOTE_ADDR] = ev->raddr;
	ev->v[E_REMOTE_PORT] = ev->rport;
	ev->v[E_LOCAL_ADDR] = ev->laddr;
	ev->v[E_LOCAL_PORT] = ev->lport;
	ev->v[E_PROTO] = c->socktype == SOCK_DGRAM ? "UDP" : "TCP";
	if (!c->tls)
		return;
	ev->v[E_TLS_VERSION] = t->version;
	ev->v[E_TLS_CIPHER] = t->cipher;
	if (t->have_peer_cert) {
		ev->v[E_PEER_SUBJECT] = t->subject;
		ev->v[E_PEER_SHA256] = t->fingerprint;
	}
}

/* Whether "NAME=value" has one of the names that we set or leave out. */
static bool
is_ours(const char *entry)
{
	size_t i, n;

	for (i = 0; i < E_COUNT; i++) {
		n = strlen(tlsnc_names[i]);
		if (strncmp(entry, tlsnc_names[i], n) == 0 && entry[n] == '=')
			return true;
		if (i >= E_NCAT)
			continue;
		n = strlen(ncat_names[i]);
		if (strncmp(entry, ncat_names[i], n) == 0 && entry[n] == '=')
			return true;
	}
	return false;
}

/* Append "name=value" at *text, and point *slot at it. */
static void
put_var(char **slot, char **text, const char *name, const char *value)
{
	size_t n = strlen(name) + 1 + strlen(value) + 1;

	snprintf(*text, n, "%s=%s", name, value);
	*slot = *text;
	*text += n;
}

char **
exec_env_new(char *const base[], const struct exec_conn *c)
{
	struct env_values ev;
	size_t i, nvars = 1, size = 0;
	char **env, *text;

	env_values(c, &ev);
	for (i = 0; base[i] != NULL; i++)
		nvars += !is_ours(base[i]);
	for (i = 0; i < E_COUNT; i++) {
		if (ev.v[i] == NULL)
			continue;
		size += strlen(tlsnc_names[i]) + strlen(ev.v[i]) + 2;
		nvars++;
		if (i < E_NCAT) {
			size += strlen(ncat_names[i]) + strlen(ev.v[i]) + 2;
			nvars++;
		}
	}
	if ((env = malloc(nvars * sizeof(*env) + size)) == NULL)
		return NULL;
	text = (char *)(env + nvars);
	nvars = 0;
	for (i = 0; base[i] != NULL; i++)
		if (!is_ours(base[i]))
			env[nvars++] = base[i];
	for (i = 0; i < E_COUNT; i++) {
		if (ev.v[i] == NULL)
			continue;
		put_var(&env[nvars++], &text, tlsnc_names[i], ev.v[i]);
		if (i < E_NCAT)
			put_var(&env[nvars++], &text, ncat_names[i], ev.v[i]);
	}
	env[nvars] = NULL;
	return env;
}

/* --- The stream. */

struct exec_ctx {
	struct loop		*loop;
	const char		*cmd;
	unsigned		 flags;
	char			 label[64];
	const struct stream	*net;
	struct exec_conn	 conn;
	struct child		*child;
};

/* Start the program, with its pipes as the layer below. */
static enum io
exec_handshake(struct stream *s)
{
	struct exec_ctx *x = s->ctx;
	struct stream *pipes;
	struct error e;
	char **env;
	void *tls;
	int rfd, wfd;

	if (s->lower != NULL)
		return IO_DONE;
	if (stream_query(x->net, STREAM_Q_TLS, &tls) == 0) {
		x->conn.tls = true;
		tls_get_info(x->net, &x->conn.tls_info);
	}
	if ((env = exec_env_new(environ, &x->conn)) == NULL)
		return stream_fail(s, ST_RUNTIME, 0, "out of memory");
	x->child = child_spawn(x->loop, x->cmd, x->flags, env, x->label, &rfd,
	    &wfd, &e);
	free(env);
	if (x->child == NULL)
		return stream_fail(s, e.status, 0, "%s", e.msg);
	if ((pipes = stream_fd_new(rfd, wfd, STREAM_OWN_FDS)) == NULL) {
		close(rfd);
		close(wfd);
		return stream_fail(s, ST_RUNTIME, 0, "out of memory");
	}
	s->lower = pipes;
	return IO_DONE;
}

/* A failure below is this layer's: the relay reads it from here. */
static enum io
pass_up(struct stream *s, enum io io)
{
	if (io == IO_ERROR) {
		s->err = s->lower->err;
		s->sys_errno = s->lower->sys_errno;
	}
	return io;
}

static enum io
exec_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	*n = 0;
	if (s->lower == NULL)
		return IO_WANT_READ;	/* not started: nothing to read yet */
	return pass_up(s, stream_read(s->lower, buf, len, n));
}

static enum io
exec_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	*n = 0;
	if (s->lower == NULL)
		return IO_WANT_WRITE;
	return pass_up(s, stream_write(s->lower, buf, len, n));
}

static void
exec_close(struct stream *s)
{
	struct exec_ctx *x = s->ctx;

	child_release(x->child);
	free(x);
}

static const struct stream_ops exec_ops = {
	.name = "exec",
	.handshake = exec_handshake,
	.read = exec_read,
	.write = exec_write,
	.close = exec_close,
};

struct stream *
exec_stream_new(struct loop *l, const struct exec_spec *spec, int sock,
    const struct stream *net, struct error *e)
{
	struct exec_ctx *x;
	struct stream *s;

	if ((x = calloc(1, sizeof(*x))) == NULL ||
	    (s = stream_layer_new(&exec_ops, x, NULL)) == NULL) {
		free(x);
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	x->loop = l;
	x->cmd = spec->cmd;
	x->flags = spec->flags;
	snprintf(x->label, sizeof(x->label), "%s", spec->label);
	x->net = net;
	exec_conn_from_socket(sock, &x->conn);
	return s;
}
