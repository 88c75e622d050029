/* Ports, addresses, connect, listen and accept. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum status
parse_port(const char *s, bool allow_zero, uint16_t *port, struct error *e)
{
	struct servent *se;
	const char *p;
	unsigned long v;
	char *end;

	if (s == NULL || *s == '\0')
		return err_set(e, ST_USAGE, "empty port");
	for (p = s; *p != '\0' && isdigit((unsigned char)*p); p++)
		;
	if (*p == '\0') {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno != 0 || v > 65535 || (v == 0 && !allow_zero))
			return err_set(e, ST_USAGE, "invalid port '%s': "
			    "must be %d to 65535", s, allow_zero ? 0 : 1);
		*port = (uint16_t)v;
		return ST_OK;
	}
	if ((se = getservbyname(s, "tcp")) == NULL)
		return err_set(e, ST_USAGE, "invalid port '%s': not a number "
		    "or a known service name", s);
	*port = ntohs((uint16_t)se->s_port);
	return ST_OK;
}

/* A whole number of 1 to 5 digits, 1 to 65535; -1 for anything else. */
static long
port_number(const char *s, size_t len)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

static void
port_set_add(struct port_set *ps, long lo, long hi)
{
	long p;

	for (p = lo; p <= hi; p++) {
		if (!port_set_has(ps, (unsigned)p))
			ps->count++;
		ps->bits[p / 8] |= (uint8_t)(1u << (p % 8));
	}
}

/* One entry of a port list: "N", "N-M" or a service name. */
static enum status
parse_port_entry(const char *s, size_t len, struct port_set *ps,
    struct error *e)
{
	const char *dash = memchr(s, '-', len);
	char item[64];
	uint16_t port;
	long lo, hi;

	if (len >= sizeof(item))
		return err_set(e, ST_USAGE, "invalid port '%.*s...': too "
		    "long", 20, s);
	memcpy(item, s, len);
	item[len] = '\0';
	if (dash != NULL && isdigit((unsigned char)*s)) {
		lo = port_number(s, (size_t)(dash - s));
		hi = port_number(dash + 1, len - (size_t)(dash + 1 - s));
		if (lo < 0 || hi < 0)
			return err_set(e, ST_USAGE, "invalid port range '%s': "
			    "must be two ports from 1 to 65535", item);
		if (lo > hi)
			return err_set(e, ST_USAGE, "invalid port range '%s': "
			    "the first port is above the last", item);
		port_set_add(ps, lo, hi);
		return ST_OK;
	}
	if (parse_port(item, false, &port, e) != ST_OK)
		return ST_USAGE;
	port_set_add(ps, port, port);
	return ST_OK;
}

enum status
parse_port_list(const char *s, struct port_set *ps, struct error *e)
{
	const char *p = s;
	size_t len;

	if (*s == '\0')
		return err_set(e, ST_USAGE, "empty port list");
	for (;;) {
		len = strcspn(p, ",");
		if (len == 0)
			return err_set(e, ST_USAGE, "invalid port list '%s': "
			    "an empty entry", s);
		if (parse_port_entry(p, len, ps, e) != ST_OK)
			return ST_USAGE;
		if (p[len] == '\0')
			return ST_OK;
		p += len + 1;
	}
}

/* Ncat's time units: none or "s" for seconds, "ms", "m" and "h". */
static double
time_unit(const char *suffix)
{
	static const struct {
		const char	*name;
		double		 ms;
	} units[] = {
		{ "", 1000.0 }, { "s", 1000.0 }, { "ms", 1.0 },
		{ "m", 60000.0 }, { "h", 3600000.0 },
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(suffix, units[i].name) == 0)
			return units[i].ms;
	return 0;
}

enum status
parse_seconds(const char *opt, const char *s, int64_t *ms, struct error *e)
{
	size_t digits = strspn(s, "0123456789.");
	double v, unit = time_unit(s + digits);
	int64_t n;
	char *end;

	/* strtod would also take spaces, signs, hex, "inf" and "nan". */
	if (digits == 0 || unit == 0)
		return err_set(e, ST_USAGE, "%s: invalid time '%s' (seconds, "
		    "or a number with ms, s, m or h)", opt, s);
	errno = 0;
	v = strtod(s, &end);
	if (end != s + digits || errno != 0 || !isfinite(v) || v < 0 ||
	    v * unit > 86400.0 * 365 * 1000)
		return err_set(e, ST_USAGE, "%s: invalid time '%s' (seconds, "
		    "or a number with ms, s, m or h)", opt, s);
	/* To the nearest millisecond, but never from more than 0 to 0. */
	n = (int64_t)(v * unit + 0.5);
	if (n == 0 && v > 0)
		return err_set(e, ST_USAGE, "%s: %s is less than the "
		    "smallest unit, 1 ms", opt, s);
	*ms = n;
	return ST_OK;
}

/*
 * A Unix socket's name: its path, "@name" in the abstract namespace, or
 * "(unnamed socket)" for a client that bound none.  The address must have
 * been zeroed before the kernel filled it in, since no length comes with
 * it; bytes that are not printable show as '?'.
 */
static void
addr_format_unix(const struct sockaddr_un *un, char *out, size_t len)
{
	const char *p = un->sun_path;
	size_t max = sizeof(un->sun_path), n, i, o = 0;

	if (p[0] == '\0' && (max < 2 || p[1] == '\0')) {
		snprintf(out, len, "(unnamed socket)");
		return;
	}
	if (p[0] == '\0') {
		out[o++] = '@';
		p++;
		max--;
	}
	n = strnlen(p, max);
	for (i = 0; i < n && o + 1 < len; i++)
		out[o++] = p[i] >= ' ' && p[i] < 0x7f ? p[i] : '?';
	out[o] = '\0';
}

void
addr_format(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host,
			    sizeof(host));
			snprintf(out, len, "%s:%u", host,
			    ntohs(in6->sin6_port));
			return;
		}
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		addr_format_unix((const struct sockaddr_un *)(const void *)sa,
		    out, len);
	} else {
		snprintf(out, len, "(family %d)", sa->sa_family);
	}
}

bool
addr_is_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * "[::1]" is how a URL writes an IPv6 address, but not how a host is given
 * here; say how to give it, rather than fail to resolve it.
 */
static enum status
check_brackets(const char *host, struct error *e)
{
	char inner[INET6_ADDRSTRLEN + 16];
	unsigned char buf[sizeof(struct in6_addr)];
	size_t len = strlen(host);
	char *zone;
	bool ok;

	if (len < 3 || host[0] != '[' || host[len - 1] != ']' ||
	    len - 2 >= sizeof(inner))
		return ST_OK;
	memcpy(inner, host + 1, len - 2);
	inner[len - 2] = '\0';
	/* A zone ("fe80::1%eth0") follows the address itself. */
	if ((zone = strchr(inner, '%')) != NULL)
		*zone = '\0';
	ok = inet_pton(AF_INET6, inner, buf) == 1;
	if (zone != NULL)
		*zone = '%';
	if (!ok)
		return ST_OK;
	return err_set(e, ST_USAGE, "'%s': give an IPv6 address without "
	    "brackets: %s", host, inner);
}

/*
 * A name lookup on a thread of its own, so that a deadline can leave it
 * behind: getaddrinfo cannot be interrupted, and a resolver that does not
 * answer holds it for its own timeouts (10 s and more).  The caller and the
 * thread each hold a reference; whichever lets go last frees it, so a lookup
 * left behind finishes and cleans up by itself.
 */
struct lookup {
	pthread_mutex_t	 lock;
	int		 refs;
	bool		 done;
	int		 wake[2];	/* a pipe: the thread writes once done */
	char		*host;
	char		 serv[8];
	struct addrinfo	 hints;
	struct addrinfo	*res;
	int		 rc;		/* getaddrinfo's answer */
	int		 err;		/* and its errno, for EAI_SYSTEM */
};

static void
lookup_unref(struct lookup *l)
{
	bool last;

	pthread_mutex_lock(&l->lock);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	if (l->res != NULL)
		freeaddrinfo(l->res);
	close(l->wake[0]);
	close(l->wake[1]);
	pthread_mutex_destroy(&l->lock);
	free(l->host);
	free(l);
}

static void *
lookup_run(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo *res = NULL;
	ssize_t n;
	int rc, err;

	rc = getaddrinfo(l->host, l->serv, &l->hints, &res);
	err = errno;
	pthread_mutex_lock(&l->lock);
	l->rc = rc;
	l->err = err;
	l->res = res;
	l->done = true;
	pthread_mutex_unlock(&l->lock);
	do
		n = write(l->wake[1], "", 1);
	while (n == -1 && errno == EINTR);
	lookup_unref(l);
	return NULL;
}

/*
 * Start a lookup on its thread, with every signal blocked there so that
 * signals keep going to the main thread.  NULL if it cannot be started.
 */
static struct lookup *
lookup_start(const char *host, const char *serv,
    const struct addrinfo *hints)
{
	struct lookup *l;
	sigset_t all, old;
	pthread_t tid;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->host = strdup(host)) == NULL) {
		free(l);
		return NULL;
	}
	if (pipe2(l->wake, O_CLOEXEC) == -1) {
		free(l->host);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->refs = 2;
	snprintf(l->serv, sizeof(l->serv), "%s", serv);
	l->hints = *hints;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, NULL, lookup_run, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		l->refs = 1;
		lookup_unref(l);
		return NULL;
	}
	pthread_detach(tid);
	return l;
}

/*
 * getaddrinfo, given up at deadline (now_ms() time; -1 for none).  Returns
 * getaddrinfo's code, with errno set for EAI_SYSTEM; *timed_out tells a
 * lookup given up from one that failed.
 */
static int
getaddrinfo_until(const char *host, const char *serv,
    const struct addrinfo *hints, int64_t deadline, struct addrinfo **res,
    bool *timed_out)
{
	struct lookup *l;
	struct pollfd pfd;
	int64_t left;
	int rc, err;

	*timed_out = false;
	/* Numbers and the wildcard never wait for a resolver. */
	if (deadline < 0 || host == NULL || addr_is_literal(host) ||
	    (hints->ai_flags & AI_NUMERICHOST) ||
	    (l = lookup_start(host, serv, hints)) == NULL)
		return getaddrinfo(host, serv, hints, res);
	pfd.fd = l->wake[0];
	pfd.events = POLLIN;
	for (;;) {
		left = deadline - now_ms();
		if (left < 0)
			left = 0;
		rc = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (rc != -1 || errno != EINTR)
			break;
	}
	pthread_mutex_lock(&l->lock);
	if (l->done) {
		rc = l->rc;
		err = l->err;
		*res = l->res;
		l->res = NULL;
	} else {
		*timed_out = true;
		rc = EAI_AGAIN;
		err = 0;
	}
	pthread_mutex_unlock(&l->lock);
	lookup_unref(l);
	errno = err;
	return rc;
}

/*
 * "localhost", "localhost." and names under ".localhost" are loopback
 * (RFC 6761), whatever /etc/hosts or a name server says, as curl does: a
 * minimal system without /etc/hosts still reaches them.
 */
bool
net_is_localhost(const char *host)
{
	size_t n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
		return true;
	return n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0;
}

/*
 * Resolve host (NULL: the wildcard) and port for o's family, within
 * deadline (-1: none).  A client's localhost is asked of no resolver:
 * getaddrinfo gives the loopback addresses of o's family for no name
 * without AI_PASSIVE.
 */
static enum status
resolve(const char *host, uint16_t port, const struct net_opts *o,
    bool passive, int64_t deadline, struct addrinfo **res, struct error *e)
{
	struct addrinfo hints;
	enum status st;
	bool timed_out = false;
	char serv[8];
	int rc, err;

	if (host != NULL && (st = check_brackets(host, e)) != ST_OK)
		return st;
	if (host != NULL && o->family != AF_UNSPEC) {
		unsigned char buf[sizeof(struct in6_addr)];
		int other = o->family == AF_INET ? AF_INET6 : AF_INET;

		if (inet_pton(other, host, buf) == 1)
			return err_set(e, ST_USAGE, "%s given, but '%s' is an "
			    "%s address", o->family == AF_INET ? "-4" : "-6",
			    host, other == AF_INET ? "IPv4" : "IPv6");
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = o->family;
	hints.ai_socktype = o->udp ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_protocol = o->udp ? IPPROTO_UDP : IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) |
	    (o->numeric ? AI_NUMERICHOST : 0);
	snprintf(serv, sizeof(serv), "%u", port);
	if (host != NULL && !passive && !o->numeric && net_is_localhost(host))
		rc = getaddrinfo(NULL, serv, &hints, res);
	else
		rc = getaddrinfo_until(host, serv, &hints, deadline, res,
		    &timed_out);
	err = errno;
	if (rc == 0)
		return ST_OK;
	if (timed_out)
		return err_set(e, ST_TIMEOUT, "cannot resolve '%s': timed out",
		    host);
	if (rc == EAI_NONAME && o->numeric && host != NULL &&
	    !addr_is_literal(host))
		return err_set(e, ST_USAGE, "-n given, but '%s' is not a "
		    "numeric address", host);
	if (rc == EAI_SYSTEM)
		return err_errno(e, ST_RUNTIME, err, "cannot resolve '%s'",
		    host != NULL ? host : "*");
	return err_set(e, ST_RUNTIME, "cannot resolve '%s': %s",
	    host != NULL ? host : "*", gai_strerror(rc));
}

/* freeaddrinfo, which need not take NULL. */
static void
free_addrs(struct addrinfo *ai)
{
	if (ai != NULL)
		freeaddrinfo(ai);
}

/* The source address and port of a client (-s, -p), resolved once. */
static enum status
resolve_source(const struct net_opts *o, int64_t deadline,
    struct addrinfo **src, struct error *e)
{
	uint16_t port = 0;
	enum status st;

	*src = NULL;
	if (o->src_addr == NULL && o->src_port == NULL)
		return ST_OK;
	if (o->src_port != NULL &&
	    (st = parse_port(o->src_port, true, &port, e)) != ST_OK)
		return st;
	return resolve(o->src_addr, port, o, true, deadline, src, e);
}

static bool
has_family(const struct addrinfo *ai, int family)
{
	for (; ai != NULL; ai = ai->ai_next)
		if (ai->ai_family == family)
			return true;
	return false;
}

/*
 * -s names addresses of one family only, and host has none of that family:
 * a usage error when host is an address itself, else a runtime one.
 */
static enum status
source_family_mismatch(const char *host, const char *src_addr,
    const struct addrinfo *src, struct error *e)
{
	const char *fam = has_family(src, AF_INET) ? "IPv4" : "IPv6";
	const char *other = has_family(src, AF_INET) ? "IPv6" : "IPv4";
	char what[64];

	if (addr_is_literal(src_addr))
		snprintf(what, sizeof(what), "is an %s address", fam);
	else
		snprintf(what, sizeof(what), "has only %s addresses", fam);
	if (addr_is_literal(host))
		return err_set(e, ST_USAGE, "-s '%s' %s, but '%s' is an %s "
		    "address", src_addr, what, host, other);
	return err_set(e, ST_RUNTIME, "-s '%s' %s, but '%s' has no %s "
	    "address", src_addr, what, host, fam);
}

/* Bind a client socket to the source (-s / -p) of its family, if any. */
static enum status
bind_source(int fd, int family, const struct addrinfo *src,
    const struct net_opts *o, struct error *e)
{
	const struct addrinfo *ai;
	int one = 1, err = EAFNOSUPPORT;

	if (src == NULL)
		return ST_OK;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	for (ai = src; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != family)
			continue;
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			return ST_OK;
		err = errno;
	}
	return err_errno(e, ST_RUNTIME, err, "cannot bind source address %s "
	    "port %s", o->src_addr ? o->src_addr : "*",
	    o->src_port ? o->src_port : "*");
}

/*
 * Connecting to a name with several addresses (RFC 8305, Happy Eyeballs
 * v2): the addresses take turns by family, each attempt has
 * ATTEMPT_DELAY_MS to itself before the next one starts beside it, a
 * failure starts the next one at once, and the first to connect wins.
 */
#define ATTEMPT_DELAY_MS	250

struct attempt {
	const struct addrinfo *ai;
	int		 fd;		/* while pending, or once it has won */
	int		 err;		/* why it failed */
	bool		 started;
};

struct race {
	const char	*host;
	uint16_t	 port;
	const struct net_opts *o;
	int64_t		 deadline;	/* -1: none */
	struct addrinfo	*res;		/* the host's addresses */
	struct addrinfo	*src;		/* -s / -p, or NULL */
	struct attempt	*a;		/* in the order they are tried */
	struct pollfd	*pfd;
	size_t		*slot;		/* pfd[i] watches a[slot[i]] */
	size_t		 n;
	size_t		 next;		/* the next attempt to start */
	size_t		 pending;
	int64_t		 next_at;	/* and when it may start */
	ssize_t		 won;		/* the attempt that connected, or -1 */
};

static const struct addrinfo *
next_of(const struct addrinfo *ai, int family, bool same)
{
	while (ai != NULL && (ai->ai_family == family) != same)
		ai = ai->ai_next;
	return ai;
}

size_t
addr_interleave(const struct addrinfo *res, const struct addrinfo **out,
    size_t max)
{
	const struct addrinfo *cur[2];
	size_t n = 0;
	int first, turn = 0;

	if (res == NULL)
		return 0;
	first = res->ai_family;
	cur[0] = res;
	cur[1] = next_of(res, first, false);
	while (n < max && (cur[0] != NULL || cur[1] != NULL)) {
		if (cur[turn] == NULL)
			turn = !turn;
		out[n++] = cur[turn];
		cur[turn] = next_of(cur[turn]->ai_next, first, turn == 0);
		turn = !turn;
	}
	return n;
}

/*
 * Resolve the host and the source, and line up the attempts: interleaved,
 * and only of the families that -s has.
 */
static enum status
race_setup(struct race *r, struct error *e)
{
	const struct addrinfo **order;
	const struct addrinfo *ai;
	const struct net_opts *o = r->o;
	enum status st;
	size_t i, count = 0;

	if ((st = resolve(r->host, r->port, o, false, r->deadline, &r->res,
	    e)) != ST_OK ||
	    (st = resolve_source(o, r->deadline, &r->src, e)) != ST_OK)
		return st;
	for (ai = r->res; ai != NULL; ai = ai->ai_next)
		count++;
	order = calloc(count, sizeof(*order));
	r->a = calloc(count, sizeof(*r->a));
	r->pfd = calloc(count, sizeof(*r->pfd));
	r->slot = calloc(count, sizeof(*r->slot));
	if (order == NULL || r->a == NULL || r->pfd == NULL ||
	    r->slot == NULL) {
		free(order);
		return err_set(e, ST_RUNTIME, "out of memory");
	}
	count = addr_interleave(r->res, order, count);
	for (i = 0; i < count; i++) {
		/* Only addresses of the families that -s has are reachable. */
		if (o->src_addr != NULL &&
		    !has_family(r->src, order[i]->ai_family))
			continue;
		r->a[r->n].ai = order[i];
		r->a[r->n].fd = -1;
		r->n++;
	}
	free(order);
	if (r->n == 0)
		return source_family_mismatch(r->host, o->src_addr, r->src, e);
	return ST_OK;
}

static void
race_free(struct race *r)
{
	size_t i;

	for (i = 0; r->a != NULL && i < r->n; i++)
		if (r->a[i].fd >= 0)
			close(r->a[i].fd);
	free(r->a);
	free(r->pfd);
	free(r->slot);
	free_addrs(r->src);
	free_addrs(r->res);
}

int
net_connect_start(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	/*
	 * On loopback the kernel often knows the answer before connect()
	 * returns.  Asking again costs one call, where waiting for it costs
	 * several: EALREADY means still pending, EISCONN connected.
	 */
	if (connect(fd, sa, len) == 0 || errno == EISCONN)
		return 0;
	return errno == EALREADY ? EINPROGRESS : errno;
}

int
net_connect_result(int fd, bool writable)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return errno;
	if (soerr == 0 && !writable)
		return ECONNRESET;	/* hung up, with no error to say */
	return soerr;
}

enum status
net_resolve(const char *host, const struct net_opts *o, int64_t deadline,
    struct sockaddr_storage *ss, socklen_t *len, struct error *e)
{
	struct addrinfo *res;
	enum status st;

	if ((st = resolve(host, 0, o, false, deadline, &res, e)) != ST_OK)
		return st;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	free_addrs(res);
	return ST_OK;
}

/*
 * Start the next attempt.  It is then pending, or has connected at once
 * (r->won), or has failed (a->err); -1 only for a source that cannot be
 * bound, which no other address would fix.
 */
static int
attempt_start(struct race *r, struct error *e)
{
	struct attempt *a = &r->a[r->next];
	const struct addrinfo *ai = a->ai;
	int fd;

	a->started = true;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1) {
		a->err = errno;
		return 0;
	}
	if (bind_source(fd, ai->ai_family, r->src, r->o, e) != ST_OK) {
		close(fd);
		return -1;
	}
	switch (a->err = net_connect_start(fd, ai->ai_addr, ai->ai_addrlen)) {
	case 0:
		a->fd = fd;
		r->won = (ssize_t)r->next;
		break;
	case EINPROGRESS:
		a->err = 0;
		a->fd = fd;
		r->pending++;
		break;
	default:
		close(fd);
		break;
	}
	return 0;
}

/* Start every attempt whose turn has come; -1 as attempt_start. */
static int
start_due(struct race *r, struct error *e)
{
	int64_t now = now_ms();

	while (r->won < 0 && r->next < r->n &&
	    (r->pending == 0 || now >= r->next_at)) {
		if (attempt_start(r, e) == -1)
			return -1;
		/* A failure lets the next address start at once. */
		r->next_at = r->a[r->next].fd >= 0 ? now + ATTEMPT_DELAY_MS :
		    now;
		r->next++;
	}
	return 0;
}

/* A pending attempt's socket has an event: it has connected or failed. */
static void
attempt_finish(struct race *r, size_t i, short revents)
{
	struct attempt *a = &r->a[i];
	int soerr;

	soerr = net_connect_result(a->fd, (revents & POLLOUT) != 0);
	r->pending--;
	if (soerr == 0) {
		r->won = (ssize_t)i;
		return;
	}
	a->err = soerr;
	close(a->fd);
	a->fd = -1;
	r->next_at = now_ms();
}

/*
 * Wait for the pending attempts until one of them has news, the next one
 * is due, or the deadline passes; -1 if poll fails.
 */
static int
race_wait(struct race *r, struct error *e)
{
	int64_t now = now_ms(), wait = -1, t;
	nfds_t np = 0;
	size_t i;
	int rc;

	if (r->deadline >= 0)
		wait = r->deadline > now ? r->deadline - now : 0;
	if (r->next < r->n) {
		t = r->next_at > now ? r->next_at - now : 0;
		if (wait < 0 || t < wait)
			wait = t;
	}
	for (i = 0; i < r->n; i++) {
		if (r->a[i].fd < 0)
			continue;
		r->pfd[np].fd = r->a[i].fd;
		r->pfd[np].events = POLLOUT;
		r->pfd[np].revents = 0;
		r->slot[np++] = i;
	}
	rc = poll(r->pfd, np, wait > INT_MAX ? INT_MAX : (int)wait);
	if (rc == -1 && errno != EINTR)
		return err_errno(e, ST_RUNTIME, errno, "poll"), -1;
	for (i = 0; rc > 0 && i < np && r->won < 0; i++)
		if (r->pfd[i].revents != 0)
			attempt_finish(r, r->slot[i], r->pfd[i].revents);
	return 0;
}

/* Append to a message, cut short rather than overrun. */
static void __attribute__((format(printf, 3, 4)))
append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/*
 * Every attempt failed, or the deadline came first: name each address
 * tried and how it failed.  A host that is one address needs no list.
 */
static enum status
race_failed(const struct race *r, bool timed_out, struct error *e)
{
	char list[ERROR_MSG_MAX], addr[ADDR_STR_MAX], *colon;
	const struct attempt *a;
	size_t i, untried = 0;

	if (r->n == 1 && addr_is_literal(r->host)) {
		if (timed_out)
			return err_set(e, ST_TIMEOUT, "connect to %s port %u: "
			    "timed out", r->host, r->port);
		return err_errno(e, ST_RUNTIME, r->a[0].err, "connect to %s "
		    "port %u", r->host, r->port);
	}
	list[0] = '\0';
	for (i = 0; i < r->n; i++) {
		a = &r->a[i];
		if (!a->started) {
			untried++;
			continue;
		}
		addr_format(a->ai->ai_addr, addr, sizeof(addr));
		if ((colon = strrchr(addr, ':')) != NULL)
			*colon = '\0';	/* the port is said once */
		append(list, sizeof(list), "%s%s: %s", list[0] ? "; " : "",
		    addr, a->fd >= 0 ? "no answer" : strerror(a->err));
	}
	if (untried > 0)
		append(list, sizeof(list), "%s%zu %s not tried",
		    list[0] ? "; " : "", untried,
		    untried == 1 ? "address" : "addresses");
	if (timed_out)
		return err_set(e, ST_TIMEOUT, "connect to %s port %u: timed "
		    "out (%s)", r->host, r->port, list);
	return err_set(e, ST_RUNTIME, "connect to %s port %u: %s", r->host,
	    r->port, list);
}

/* Race the attempts until one connects (r->won), all fail, or time is up. */
static enum status
race_run(struct race *r, struct error *e)
{
	for (;;) {
		if (r->deadline >= 0 && now_ms() >= r->deadline)
			return race_failed(r, true, e);
		if (start_due(r, e) == -1)
			return e->status;
		if (r->won >= 0)
			return ST_OK;
		if (r->pending == 0 && r->next == r->n)
			return race_failed(r, false, e);
		if (race_wait(r, e) == -1)
			return e->status;
		if (r->won >= 0)
			return ST_OK;
	}
}

enum status
net_connect(const char *host, uint16_t port, const struct net_opts *o,
    int64_t deadline, int *fdp, char peer[ADDR_STR_MAX], struct error *e)
{
	struct race r;
	enum status st;

	*fdp = -1;
	memset(&r, 0, sizeof(r));
	r.host = host;
	r.port = port;
	r.o = o;
	r.deadline = deadline;
	r.won = -1;
	if ((st = race_setup(&r, e)) == ST_OK &&
	    (st = race_run(&r, e)) == ST_OK) {
		*fdp = r.a[r.won].fd;
		r.a[r.won].fd = -1;
		addr_format(r.a[r.won].ai->ai_addr, peer, ADDR_STR_MAX);
	}
	race_free(&r);
	return st;
}

/*
 * A listening socket on sa (for UDP, a bound one), or -1 with e filled in
 * and *err its errno.
 */
static int
listen_on(const struct sockaddr *sa, socklen_t salen, int v6only, bool udp,
    const char *what, int *err, struct error *e)
{
	int fd, one = 1;

	fd = socket(sa->sa_family, (udp ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_CLOEXEC, udp ? IPPROTO_UDP : IPPROTO_TCP);
	if (fd == -1) {
		*err = errno;
		err_errno(e, ST_RUNTIME, *err, "cannot listen on %s", what);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6 && v6only >= 0)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only));
	if (bind(fd, sa, salen) == -1 ||
	    (!udp && listen(fd, SOMAXCONN) == -1)) {
		*err = errno;
		err_errno(e, ST_RUNTIME, *err, "cannot listen on %s", what);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * No host: one socket on ::, dual-stack (IPv6 only with -6), or on 0.0.0.0
 * with -4.  Without -4 or -6, a host that has no IPv6 at all (the socket or
 * the address is refused) gets 0.0.0.0 instead, and *no_ipv6 says why; any
 * other failure, such as the port being in use, is an error.
 */
static int
listen_any(uint16_t port, int family, bool udp, int *no_ipv6,
    struct error *e)
{
	struct sockaddr_in6 in6;
	struct sockaddr_in in;
	char what[64];
	int fd, err = 0;

	if (family != AF_INET) {
		memset(&in6, 0, sizeof(in6));
		in6.sin6_family = AF_INET6;
		in6.sin6_addr = in6addr_any;
		in6.sin6_port = htons(port);
		snprintf(what, sizeof(what), ":: port %u%s", port,
		    family == AF_INET6 ? "" : " (IPv6 and IPv4)");
		fd = listen_on((struct sockaddr *)&in6, sizeof(in6),
		    family == AF_INET6 ? 1 : 0, udp, what, &err, e);
		if (fd >= 0 || family == AF_INET6 ||
		    (err != EAFNOSUPPORT && err != EADDRNOTAVAIL))
			return fd;
		*no_ipv6 = err;
	}
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_ANY);
	in.sin_port = htons(port);
	snprintf(what, sizeof(what), "0.0.0.0 port %u", port);
	return listen_on((struct sockaddr *)&in, sizeof(in), -1, udp, what,
	    &err, e);
}

enum status
net_listen(const char *host, uint16_t port, const struct net_opts *o,
    int *fdp, char bound[ADDR_STR_MAX], int *no_ipv6, struct error *e)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct addrinfo *res, *ai;
	char what[ADDR_STR_MAX + 16];
	enum status st;
	int fd = -1, err, ignored;

	*fdp = -1;
	if (no_ipv6 == NULL)
		no_ipv6 = &ignored;
	*no_ipv6 = 0;
	if (host == NULL) {
		if ((fd = listen_any(port, o->family, o->udp, no_ipv6, e)) ==
		    -1)
			return e->status;
	} else {
		if ((st = resolve(host, port, o, true, -1, &res, e)) != ST_OK)
			return st;
		snprintf(what, sizeof(what), "%s port %u", host, port);
		for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
			fd = listen_on(ai->ai_addr, ai->ai_addrlen, 1, o->udp,
			    what, &err, e);
		freeaddrinfo(res);
		if (fd == -1)
			return e->status;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		close(fd);
		return err_errno(e, ST_RUNTIME, errno, "getsockname");
	}
	addr_format((struct sockaddr *)&ss, bound, ADDR_STR_MAX);
	*fdp = fd;
	return ST_OK;
}

enum status
net_accept(int lfd, int *fdp, char peer[ADDR_STR_MAX], struct error *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	for (;;) {
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		return err_errno(e, ST_RUNTIME, errno, "accept");
	}
	addr_format((struct sockaddr *)&ss, peer, ADDR_STR_MAX);
	*fdp = fd;
	return ST_OK;
}

int
net_try_accept(int lfd, int *fdp, char peer[ADDR_STR_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	*fdp = -1;
	do {
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
	} while (fd == -1 && (errno == EINTR || errno == ECONNABORTED));
	if (fd == -1)
		return errno == EWOULDBLOCK ? EAGAIN : errno;
	addr_format((struct sockaddr *)&ss, peer, ADDR_STR_MAX);
	*fdp = fd;
	return 0;
}
