/*
 * Addresses and sockets: parse ports, resolve, connect with a deadline,
 * listen and accept.  Functions return a status and fill a struct error;
 * they never print.
 */
#ifndef TLSNC_NET_H
#define TLSNC_NET_H

#include <sys/socket.h>

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* "[v6]:port", or a whole Unix socket path or "@abstract" name. */
#define ADDR_STR_MAX	128

struct net_opts {
	int		 family;	/* AF_UNSPEC, AF_INET (-4), AF_INET6 (-6) */
	bool		 numeric;	/* -n: no name resolution */
	const char	*src_addr;	/* -s */
	const char	*src_port;	/* -p, for a client */
	bool		 udp;		/* -u: datagram sockets */
};

/* Milliseconds on the monotonic clock. */
int64_t		now_ms(void);

/*
 * Parse a port: a decimal number, or a service name from /etc/services.
 * Zero is accepted only when allow_zero (a listener asking for any port).
 */
enum status	parse_port(const char *, bool allow_zero, uint16_t *,
		    struct error *);
/*
 * Parse a count of seconds (may be fractional) into milliseconds, rounded
 * to the nearest.  A value above 0 that would round to 0 is refused.
 */
/* localhost, localhost. or a name under .localhost (RFC 6761). */
bool		net_is_localhost(const char *host);
enum status	parse_seconds(const char *opt, const char *, int64_t *ms,
		    struct error *);
/* "1.2.3.4:80" or "[::1]:80". */
void		addr_format(const struct sockaddr *, char *, size_t);
/* True for a literal IPv4 or IPv6 address. */
bool		addr_is_literal(const char *);

/*
 * The order in which to try the addresses of res (RFC 8305 section 4): the
 * resolver's order, with the families taking turns, starting with the
 * family of the first.  Fills out with at most max; returns how many.
 */
size_t		addr_interleave(const struct addrinfo *res,
		    const struct addrinfo **out, size_t max);

/*
 * The steps of one connect, for a caller that runs many on its own loop.
 * net_resolve: the first address of host (for o's family, honouring -n),
 * with port 0, within deadline (-1: none).
 * net_connect_start: connect the non-blocking socket fd to sa; 0 when it
 * connected at once, EINPROGRESS while pending, else the errno of failure.
 * net_connect_result: once a pending fd has an event, 0 when it connected
 * or the errno of failure (SO_ERROR); writable says whether the event
 * included writability (a hang-up alone with no error counts as a reset).
 */
enum status	net_resolve(const char *host, const struct net_opts *,
		    int64_t deadline, struct sockaddr_storage *, socklen_t *,
		    struct error *);
int		net_connect_start(int fd, const struct sockaddr *, socklen_t);
int		net_connect_result(int fd, bool writable);

/*
 * A set of TCP ports, as -z takes them: bit p is port p.
 */
struct port_set {
	uint8_t		 bits[65536 / 8];
	unsigned	 count;		/* ports in the set */
};

static inline bool
port_set_has(const struct port_set *ps, unsigned port)
{
	return (ps->bits[port / 8] >> (port % 8)) & 1;
}

/*
 * Add the ports of a list to ps: ports and ranges separated by commas, as
 * "22", "20-25,80,443", "1-65535" or "ssh".  A port is a number from 1 to
 * 65535 or a service name; a range is two numbers, the first not above
 * the second.  Returns ST_OK, or ST_USAGE with a message naming the bad
 * part.
 */
enum status	parse_port_list(const char *, struct port_set *,
		    struct error *);

/*
 * Connect to host:port.  The name is resolved (and the -s / -p source with
 * it), then its addresses are raced as RFC 8305 describes: in the order of
 * addr_interleave, each attempt has 250 ms before the next one starts
 * beside it, a failure starts the next at once, and the first to connect
 * wins; the others are closed.  All of it ends by deadline (now_ms() time,
 * or -1 for none).  The socket is returned non-blocking; peer gets its
 * address as text.  A failure names each address tried.
 */
enum status	net_connect(const char *host, uint16_t port,
		    const struct net_opts *, int64_t deadline, int *fd,
		    char peer[ADDR_STR_MAX], struct error *);
/*
 * Listen on host and port (0: any).  bound gets the address actually
 * bound, with the real port.  With no host: one dual-stack socket for
 * IPv6 and IPv4 both (or one family with -4 or -6).  On a host without
 * IPv6 (EAFNOSUPPORT or EADDRNOTAVAIL for ::) it listens on IPv4 only and
 * sets *no_ipv6 (when not NULL) to that errno, else to 0; any other failure
 * of the dual-stack socket, such as EADDRINUSE, is an error.
 */
enum status	net_listen(const char *host, uint16_t port,
		    const struct net_opts *, int *fd, char bound[ADDR_STR_MAX],
		    int *no_ipv6, struct error *);
/*
 * Accept one connection from a non-blocking listener, without waiting:
 * 0, or the errno of the failure (EAGAIN when no client is waiting).  The
 * new socket is non-blocking.
 */
int		net_try_accept(int lfd, int *fd, char peer[ADDR_STR_MAX]);
/* Accept one connection. */
enum status	net_accept(int lfd, int *fd, char peer[ADDR_STR_MAX],
		    struct error *);

#endif
