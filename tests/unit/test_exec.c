/*
 * Unit tests for the -e/-c local end (src/exec.c): the environment that
 * describes a connection, and the stream whose handshake starts the
 * program.
 *
 * The environment is a pure function of a base environment and a struct
 * exec_conn, so a table of connections (IPv4, IPv6, IPv4-mapped, Unix,
 * UDP, TLS with and without a peer certificate) checks every variable,
 * present or absent, and that stale copies in the base are dropped while
 * look-alike names are kept.  The stream runs real programs through
 * /bin/sh over a socketpair.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cases.h"
#include "child.h"
#include "exec.h"
#include "loop.h"
#include "stream.h"

#define WATCHDOG_SECS	60
#define NVARS		14

static const char *const all_names[NVARS] = {
	"TLSNC_REMOTE_ADDR", "TLSNC_REMOTE_PORT", "TLSNC_LOCAL_ADDR",
	"TLSNC_LOCAL_PORT", "TLSNC_PROTO", "NCAT_REMOTE_ADDR",
	"NCAT_REMOTE_PORT", "NCAT_LOCAL_ADDR", "NCAT_LOCAL_PORT",
	"NCAT_PROTO", "TLSNC_TLS_VERSION", "TLSNC_TLS_CIPHER",
	"TLSNC_PEER_SUBJECT", "TLSNC_PEER_SHA256",
};

/* The value of name in env, or NULL; the name must appear at most once. */
static const char *
env_get(char **env, const char *name)
{
	const char *found = NULL;
	size_t n = strlen(name), i;

	for (i = 0; env[i] != NULL; i++) {
		if (strncmp(env[i], name, n) != 0 || env[i][n] != '=')
			continue;
		if (found != NULL)
			fail_msg("%s appears twice", name);
		found = env[i] + n + 1;
	}
	return found;
}

static void
set_in(struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	struct sockaddr_in *in = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
}

static void
set_in6(struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	struct sockaddr_in6 *in6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
}

static void
set_un(struct sockaddr_storage *ss, const char *path)
{
	struct sockaddr_un *un = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	un->sun_family = AF_UNIX;
	snprintf(un->sun_path, sizeof(un->sun_path), "%s", path);
}

/* --- The environment, as a table. */

enum kind { K_IN, K_IN6, K_MAPPED, K_UNIX, K_UDP, K_TLS, K_TLS_PEER,
    K_UNKNOWN };

/* A connection, and the value each of all_names must have (NULL: none). */
struct env_case {
	const char	*name;
	enum kind	 kind;
	const char	*want[NVARS];
};

#define PEER_FP	"SHA256:" \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const struct env_case env_cases[] = {
	{ "ipv4", K_IN, { "192.0.2.1", "40000", "127.0.0.1", "9000", "TCP",
	    "192.0.2.1", "40000", "127.0.0.1", "9000", "TCP" } },
	{ "ipv6", K_IN6, { "2001:db8::1", "40001", "::1", "9001", "TCP",
	    "2001:db8::1", "40001", "::1", "9001", "TCP" } },
	{ "ipv4-mapped peer of a dual-stack listener", K_MAPPED,
	    { "192.0.2.7", "40002", "::", "9002", "TCP", "192.0.2.7",
	    "40002", "::", "9002", "TCP" } },
	{ "unix socket: a path and no port", K_UNIX,
	    { "", "", "/tmp/tlsnc.sock", "", "TCP", "", "",
	    "/tmp/tlsnc.sock", "", "TCP" } },
	{ "udp", K_UDP, { "192.0.2.1", "53", "127.0.0.1", "5353", "UDP",
	    "192.0.2.1", "53", "127.0.0.1", "5353", "UDP" } },
	{ "tls without a peer certificate", K_TLS,
	    { "192.0.2.1", "40000", "127.0.0.1", "9000", "TCP", "192.0.2.1",
	    "40000", "127.0.0.1", "9000", "TCP", "TLSv1.3",
	    "TLS_AES_256_GCM_SHA384" } },
	{ "tls with a peer certificate", K_TLS_PEER,
	    { "192.0.2.1", "40000", "127.0.0.1", "9000", "TCP", "192.0.2.1",
	    "40000", "127.0.0.1", "9000", "TCP", "TLSv1.2",
	    "ECDHE-ECDSA-AES128-GCM-SHA256", "CN=server.example,O=Example",
	    PEER_FP } },
	{ "unknown addresses are empty", K_UNKNOWN, { "", "", "", "", "TCP",
	    "", "", "", "", "TCP" } },
};

static void
fill_conn(enum kind k, struct exec_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->socktype = k == K_UDP ? SOCK_DGRAM : SOCK_STREAM;
	if (k == K_IN6) {
		set_in6(&c->remote, "2001:db8::1", 40001);
		set_in6(&c->local, "::1", 9001);
	} else if (k == K_MAPPED) {
		set_in6(&c->remote, "::ffff:192.0.2.7", 40002);
		set_in6(&c->local, "::", 9002);
	} else if (k == K_UNIX) {
		set_un(&c->remote, "");
		set_un(&c->local, "/tmp/tlsnc.sock");
	} else if (k == K_UDP) {
		set_in(&c->remote, "192.0.2.1", 53);
		set_in(&c->local, "127.0.0.1", 5353);
	} else if (k != K_UNKNOWN) {
		set_in(&c->remote, "192.0.2.1", 40000);
		set_in(&c->local, "127.0.0.1", 9000);
	}
	if (k == K_TLS || k == K_TLS_PEER) {
		c->tls = true;
		snprintf(c->tls_info.version, sizeof(c->tls_info.version),
		    "%s", k == K_TLS ? "TLSv1.3" : "TLSv1.2");
		snprintf(c->tls_info.cipher, sizeof(c->tls_info.cipher), "%s",
		    k == K_TLS ? "TLS_AES_256_GCM_SHA384" :
		    "ECDHE-ECDSA-AES128-GCM-SHA256");
	}
	if (k == K_TLS_PEER) {
		c->tls_info.have_peer_cert = true;
		snprintf(c->tls_info.subject, sizeof(c->tls_info.subject),
		    "CN=server.example,O=Example");
		snprintf(c->tls_info.fingerprint,
		    sizeof(c->tls_info.fingerprint), "%s", PEER_FP);
	}
}

/*
 * Every variable has the value of the table, and the base's entries with
 * our names, stale ones included, are gone; others stay, in order.
 */
static void
env_matches_case(void **state)
{
	const struct env_case *tc = *state;
	char *base[] = {
		"PATH=/usr/bin:/bin", "TLSNC_PEER_SUBJECT=CN=stale",
		"NCAT_PROTO=SCTP", "TLSNC_TLS_VERSION=SSLv3",
		"TLSNC_REMOTE_ADDRESS=kept", "NCAT_PROTOCOL=kept",
		"TLSNC_PROTO_X=kept", "HOME=/root", NULL,
	};
	struct exec_conn c;
	char **env;
	size_t i, n;

	fill_conn(tc->kind, &c);
	env = exec_env_new(base, &c);
	assert_non_null(env);
	for (i = 0; i < NVARS; i++) {
		const char *got = env_get(env, all_names[i]);

		if (tc->want[i] == NULL && got != NULL)
			fail_msg("%s=%s is set, and should not be",
			    all_names[i], got);
		if (tc->want[i] != NULL && got == NULL)
			fail_msg("%s is not set", all_names[i]);
		if (tc->want[i] != NULL)
			assert_string_equal(got, tc->want[i]);
	}
	/* The base's other entries come first, in their order. */
	assert_string_equal(env[0], "PATH=/usr/bin:/bin");
	assert_string_equal(env[1], "TLSNC_REMOTE_ADDRESS=kept");
	assert_string_equal(env[2], "NCAT_PROTOCOL=kept");
	assert_string_equal(env[3], "TLSNC_PROTO_X=kept");
	assert_string_equal(env[4], "HOME=/root");
	for (n = 0; env[n] != NULL; n++)
		;
	for (i = 0; i < NVARS; i++)
		if (tc->want[i] != NULL)
			n--;
	assert_int_equal(n, 5);
	free(env);
}

/* An empty base gets just our variables. */
static void
env_from_empty_base(void **state)
{
	char *base[] = { NULL };
	struct exec_conn c;
	char **env;
	size_t n;

	(void)state;
	fill_conn(K_IN, &c);
	env = exec_env_new(base, &c);
	assert_non_null(env);
	for (n = 0; env[n] != NULL; n++)
		;
	assert_int_equal(n, 10);
	assert_string_equal(env_get(env, "TLSNC_LOCAL_PORT"), "9000");
	free(env);
}

/* A real TCP connection: both ends' addresses, as the kernel has them. */
static void
conn_from_tcp_socket(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct exec_conn c;
	char **env, *base[] = { NULL }, port[16], cport[16];
	int l, cl, sv;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	assert_true((cl = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(cl, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_true((sv = accept(l, NULL, NULL)) >= 0);
	exec_conn_from_socket(sv, &c);
	env = exec_env_new(base, &c);
	assert_non_null(env);
	snprintf(port, sizeof(port), "%u", ntohs(sa.sin_port));
	len = sizeof(sa);
	assert_int_equal(getsockname(cl, (struct sockaddr *)&sa, &len), 0);
	snprintf(cport, sizeof(cport), "%u", ntohs(sa.sin_port));
	assert_string_equal(env_get(env, "TLSNC_LOCAL_ADDR"), "127.0.0.1");
	assert_string_equal(env_get(env, "TLSNC_LOCAL_PORT"), port);
	assert_string_equal(env_get(env, "TLSNC_REMOTE_ADDR"), "127.0.0.1");
	assert_string_equal(env_get(env, "TLSNC_REMOTE_PORT"), cport);
	assert_string_equal(env_get(env, "NCAT_PROTO"), "TCP");
	assert_null(env_get(env, "TLSNC_TLS_VERSION"));
	free(env);
	close(sv);
	close(cl);
	close(l);
}

/* --- The stream. */

struct fixture {
	struct loop	*loop;
	int		 sp[2];		/* the "connection": sp[0] is ours */
	struct stream	*net;
	struct stream	*exec;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct error e;

	if (f == NULL || (f->loop = loop_new(&e)) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, f->sp) == -1 ||
	    (f->net = stream_fd_new(f->sp[0], f->sp[0], STREAM_OWN_FDS)) ==
	    NULL)
		return -1;
	*state = f;
	return 0;
}

/* Close the stream (which kills the program if it still runs), reap it. */
static int
teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	stream_close(f->exec);
	for (i = 0; i < 5000 && child_count() > 0; i++) {
		child_reap(NULL);
		if (child_count() > 0)
			nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	stream_close(f->net);
	close(f->sp[1]);
	loop_free(f->loop);
	free(f);
	return child_count() == 0 ? 0 : -1;
}

static void
start(struct fixture *f, const char *cmd, unsigned flags)
{
	struct exec_spec spec = { .cmd = cmd, .flags = flags, .label = "" };
	struct error e;

	f->exec = exec_stream_new(f->loop, &spec, f->sp[0], f->net, &e);
	assert_non_null(f->exec);
}

/* Read the program's output until EOF, waiting with poll. */
static void
read_all(struct stream *s, char *buf, size_t cap)
{
	struct pollfd p;
	size_t len = 0, n;
	short ev;
	enum io io;

	for (;;) {
		assert_true(len < cap - 1);
		io = stream_read(s, buf + len, cap - 1 - len, &n);
		if (io == IO_EOF)
			break;
		assert_int_not_equal(io, IO_ERROR);
		len += n;
		if (io == IO_WANT_READ) {
			p.fd = stream_want_fd(s, IO_WANT_READ, &ev);
			p.events = ev;
			assert_true(poll(&p, 1, WATCHDOG_SECS * 1000) > 0);
		}
	}
	buf[len] = '\0';
}

/* Nothing runs before the handshake; after it, the program has its env. */
static void
program_starts_at_handshake(void **state)
{
	struct fixture *f = *state;
	char buf[256];
	size_t n;
	short ev;

	start(f, "printf '%s %s|' \"$TLSNC_PROTO\" \"$NCAT_PROTO\"; "
	    "printf '%s' \"${TLSNC_TLS_VERSION-unset}\"", CHILD_SHELL);
	assert_int_equal(child_count(), 0);
	assert_int_equal(stream_read(f->exec, buf, sizeof(buf), &n),
	    IO_WANT_READ);
	assert_int_equal(n, 0);
	assert_int_equal(stream_want_fd(f->exec, IO_WANT_READ, &ev), -1);
	assert_int_equal(stream_handshake(f->exec), IO_DONE);
	assert_int_equal(child_count(), 1);
	assert_true(stream_want_fd(f->exec, IO_WANT_READ, &ev) >= 0);
	read_all(f->exec, buf, sizeof(buf));
	assert_string_equal(buf, "TCP TCP|unset");
}

/* Without a shell: the words of cmd, found through PATH. */
static void
program_without_shell(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	start(f, "  echo  one   two ", 0);
	assert_int_equal(stream_handshake(f->exec), IO_DONE);
	read_all(f->exec, buf, sizeof(buf));
	assert_string_equal(buf, "one two\n");
}

/* CHILD_STDERR: what the program writes to stderr comes out too. */
static void
stderr_joins_stdout(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	start(f, "echo out; echo err >&2; echo end", CHILD_SHELL |
	    CHILD_STDERR);
	assert_int_equal(stream_handshake(f->exec), IO_DONE);
	read_all(f->exec, buf, sizeof(buf));
	assert_string_equal(buf, "out\nerr\nend\n");
}

/* A program that cannot start fails the handshake, and says why. */
static void
missing_program_fails(void **state)
{
	struct fixture *f = *state;

	start(f, "/nonexistent/tlsnc-prog arg", 0);
	assert_int_equal(stream_handshake(f->exec), IO_ERROR);
	assert_int_equal(f->exec->err.status, ST_RUNTIME);
	assert_string_equal(f->exec->err.msg, "cannot run "
	    "/nonexistent/tlsnc-prog: No such file or directory");
	assert_int_equal(child_count(), 0);
}

/* Writes reach the program's stdin; the half-close gives it EOF. */
static void
half_close_reaches_program(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	size_t n;

	start(f, "wc -c", CHILD_SHELL);
	assert_int_equal(stream_handshake(f->exec), IO_DONE);
	assert_int_equal(stream_write(f->exec, "12345", 5, &n), IO_DONE);
	assert_int_equal(n, 5);
	assert_int_equal(stream_shutdown_write(f->exec), IO_DONE);
	read_all(f->exec, buf, sizeof(buf));
	assert_int_equal(atoi(buf), 5);
}

int
main(void)
{
	struct CMUnitTest tests[NELEM(env_cases) + 8];
	size_t n = 0, i;

	/* The table's rows are their state: no fixture for these. */
	for (i = 0; i < NELEM(env_cases); i++)
		tests[n++] = (struct CMUnitTest){ env_cases[i].name,
		    env_matches_case, NULL, NULL, (void *)&env_cases[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(env_from_empty_base);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(conn_from_tcp_socket);
	tests[n++] = (struct CMUnitTest)CASE(program_starts_at_handshake);
	tests[n++] = (struct CMUnitTest)CASE(program_without_shell);
	tests[n++] = (struct CMUnitTest)CASE(stderr_joins_stdout);
	tests[n++] = (struct CMUnitTest)CASE(missing_program_fails);
	tests[n++] = (struct CMUnitTest)CASE(half_close_reaches_program);
	signal(SIGPIPE, SIG_IGN);
	alarm(WATCHDOG_SECS);
	return _cmocka_run_group_tests("exec", tests, n, NULL, NULL);
}
