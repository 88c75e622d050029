/*
 * Access control for listeners: --allow, --deny, --allowfile, --denyfile.
 *
 * As in Ncat: when any allow rule was given (--allow or --allowfile), only a
 * client that matches one is accepted; a client that matches a deny rule is
 * refused, even if it is also allowed.  With neither, every client gets in.
 *
 * A spec is an IPv4 or IPv6 address (10.0.0.1, ::1), a CIDR range of either
 * (10.0.0.0/8, fe80::/10; host bits are ignored, as 10.1.2.3/8 is
 * 10.0.0.0/8) or a host name, which is resolved once, at start-up, into all
 * of its addresses.  An IPv4 client that a dual-stack listener sees as
 * ::ffff:a.b.c.d is matched as the IPv4 address it is, and a rule written
 * as a mapped address is an IPv4 rule (::ffff:10.0.0.0/104 is 10.0.0.0/8).
 *
 * Two layers.  The pure one parses one spec into a rule and matches an
 * address against rules: no I/O, no allocation, bounded by ACCESS_SPEC_MAX,
 * so that it can be fuzzed.  The loader on top splits lists, reads the
 * files, resolves names and builds the lists a listener checks; like every
 * module it returns a status and leaves the message in a struct error.
 */
#ifndef TLSNC_ACCESS_H
#define TLSNC_ACCESS_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

/* The longest spec: a host name of 253 characters, or an address/prefix. */
#define ACCESS_SPEC_MAX		255

struct access_rule {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned	 prefix;	/* leading bits that must match */
	unsigned char	 addr[16];	/* network order, host bits zero; */
					/* IPv4 in the first four bytes */
};

enum access_spec {
	ACCESS_SPEC_BAD,	/* *why says what is wrong with it */
	ACCESS_SPEC_ADDR,	/* an address or a range, in *rule */
	ACCESS_SPEC_NAME,	/* a host name, for the caller to resolve */
};

/*
 * Parse the len bytes at spec (no NUL needed) as one spec.  On
 * ACCESS_SPEC_BAD, *why is a constant phrase such as "an IPv4 prefix length
 * is at most 32", to be printed after the spec.
 */
enum access_spec access_parse_spec(const char *spec, size_t len,
		    struct access_rule *, const char **why);
/* The rule that matches exactly sa (an AF_INET or AF_INET6 address). */
int		access_rule_of_addr(const struct sockaddr *,
		    struct access_rule *);
/* Whether sa's address is inside the rule's range. */
bool		access_rule_match(const struct access_rule *,
		    const struct sockaddr *);
/* Whether sa is a loopback address: 127.0.0.0/8 or ::1 (mapped too). */
bool		access_is_loopback(const struct sockaddr *);

struct access_rules {
	struct access_rule *v;
	size_t		 n, cap;
};

struct access {
	struct access_rules allow, deny;
	bool		 restricted;	/* an allow rule was given */
};

enum access_verdict {
	ACCESS_ALLOWED,
	ACCESS_NOT_ALLOWED,	/* there are allow rules; none matches */
	ACCESS_DENIED,		/* a deny rule matches */
};

/* What the rules say of a client at sa. */
enum access_verdict access_check(const struct access *,
		    const struct sockaddr *);
/* "not in the allow list", or "in the deny list", for a log line. */
const char	*access_verdict_str(enum access_verdict);

/* --- The loader. */

/* One --allow, --deny, --allowfile or --denyfile, as it was given. */
struct access_source {
	const char	*option;	/* its long name: "allow", ... */
	const char	*value;		/* a list of specs, or a file name */
	bool		 deny;
	bool		 file;
};

/*
 * Check a list of specs without resolving anything: ST_OK, or ST_USAGE
 * with "OPTION: 'SPEC': why" in e.  Specs are separated by commas or
 * blanks; an empty list is refused.
 */
enum status	access_check_list(const char *option, const char *list,
		    struct error *);
/*
 * Build a from the sources, in order: lists, files (one or more specs a
 * line, '#' to the end of a line is a comment) and the addresses of host
 * names (refused when numeric, as with -n).  A bad spec is ST_USAGE, as
 * "FILE:LINE: 'SPEC': why" for a file; a file that cannot be read is
 * ST_USAGE; a name that does not resolve is ST_RUNTIME.  On failure a is
 * freed.
 */
enum status	access_load(struct access *, const struct access_source *,
		    size_t n, bool numeric, struct error *);
void		access_free(struct access *);

#endif
