/* Access control: parse specs, match clients, load the lists. */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"

/* The longest host name (RFC 1035), and the longest label in one. */
#define NAME_MAX_LEN	253
#define LABEL_MAX_LEN	63

/* How much of a refused spec a message repeats. */
#define SHOWN_MAX	64

/* Separators within a list or a line of a file. */
#define SEPARATORS	" \t\r\n,"

/* --- Parsing one spec (pure). */

static enum access_spec
bad(const char **why, const char *text)
{
	*why = text;
	return ACCESS_SPEC_BAD;
}

/*
 * The prefix length after '/': decimal digits, saturating at 999 so that a
 * long one reads as too large.  -1 when there are none, or other bytes.
 */
static int
parse_prefix(const char *s, size_t len)
{
	int n = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
		if (n > 999)
			n = 999;
	}
	return n;
}

/* Whether every byte of s is in set. */
static bool
only_of(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

/*
 * Why the NUL-terminated s cannot be a host name, or NULL: dot-separated
 * labels of ASCII letters, digits, '-' and '_', of 1 to 63 characters, 253
 * in all.
 */
static const char *
name_problem(const char *s)
{
	size_t label = 0;

	if (strlen(s) > NAME_MAX_LEN)
		return "a host name is at most 253 characters";
	for (;; s++) {
		if (*s == '.' || *s == '\0') {
			if (label == 0)
				return "a host name has no empty label";
			if (*s == '\0')
				return NULL;
			label = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return "it is not an IP address, a CIDR range or a "
			    "host name";
		if (++label > LABEL_MAX_LEN)
			return "a label of a host name is at most 63 "
			    "characters";
	}
}

/*
 * s (NUL-terminated, before any '/') is not an address: say why, in the
 * terms of what it looks like, or return ACCESS_SPEC_NAME.
 */
static enum access_spec
not_an_address(const char *s, bool has_prefix, const char **why)
{
	const char *problem;

	if (s[0] == '[' || strchr(s, ']') != NULL)
		return bad(why, "give an IPv6 address without brackets");
	if (strchr(s, ':') != NULL && strchr(s, '%') != NULL)
		return bad(why, "an IPv6 zone (%...) is not supported");
	if (strchr(s, ':') != NULL)
		return bad(why, "it is not an IPv6 address");
	if (strchr(s, '*') != NULL)
		return bad(why, "wildcards are not supported; give a CIDR "
		    "range, as 10.0.0.0/8");
	if (strchr(s, '-') != NULL && only_of(s, "0123456789.-"))
		return bad(why, "octet ranges are not supported; give a CIDR "
		    "range, as 10.0.0.0/24");
	if (only_of(s, "0123456789."))
		return bad(why, "it is not an IPv4 address");
	if ((problem = name_problem(s)) != NULL)
		return bad(why, problem);
	if (has_prefix)
		return bad(why, "a prefix length needs an IP address, not a "
		    "host name");
	return ACCESS_SPEC_NAME;
}

/* Clear the bits of the rule's address past its prefix. */
static void
mask_rule(struct access_rule *r)
{
	size_t bytes = r->family == AF_INET ? 4 : 16;
	size_t i = r->prefix / 8;

	if (r->prefix % 8 != 0) {
		r->addr[i] &= (unsigned char)(0xff << (8 - r->prefix % 8));
		i++;
	}
	for (; i < bytes; i++)
		r->addr[i] = 0;
}

/* An IPv6 rule inside ::ffff:0:0/96 is the IPv4 rule it stands for. */
static void
unmap_rule(struct access_rule *r)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (r->family != AF_INET6 || r->prefix < 96 ||
	    memcmp(r->addr, mapped, sizeof(mapped)) != 0)
		return;
	r->family = AF_INET;
	r->prefix -= 96;
	memmove(r->addr, r->addr + 12, 4);
	memset(r->addr + 4, 0, 12);
}

enum access_spec
access_parse_spec(const char *spec, size_t len, struct access_rule *r,
    const char **why)
{
	char buf[ACCESS_SPEC_MAX + 1];
	const char *slash;
	unsigned max;
	size_t i, alen;
	int prefix = -1;

	memset(r, 0, sizeof(*r));
	*why = NULL;
	if (len == 0)
		return bad(why, "it is empty");
	if (len > ACCESS_SPEC_MAX)
		return bad(why, "it is longer than 255 characters");
	for (i = 0; i < len; i++)
		if ((unsigned char)spec[i] <= ' ' ||
		    (unsigned char)spec[i] >= 0x7f)
			return bad(why, "it has a blank, a control or a "
			    "non-ASCII character");
	slash = memchr(spec, '/', len);
	alen = slash != NULL ? (size_t)(slash - spec) : len;
	memcpy(buf, spec, alen);
	buf[alen] = '\0';
	if (slash != NULL &&
	    (prefix = parse_prefix(slash + 1, len - alen - 1)) < 0)
		return bad(why, "the prefix length after '/' is not a number");
	if (inet_pton(AF_INET, buf, r->addr) == 1)
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, r->addr) == 1)
		r->family = AF_INET6;
	else
		return not_an_address(buf, slash != NULL, why);
	max = r->family == AF_INET ? 32 : 128;
	if (prefix > (int)max)
		return bad(why, r->family == AF_INET ?
		    "an IPv4 prefix length is at most 32" :
		    "an IPv6 prefix length is at most 128");
	r->prefix = prefix < 0 ? max : (unsigned)prefix;
	mask_rule(r);
	unmap_rule(r);
	return ACCESS_SPEC_ADDR;
}

/* --- Matching (pure). */

/*
 * sa's family and address as a rule holds them, a mapped IPv4 address as
 * IPv4.  Returns -1 for another family.
 */
static int
addr_of(const struct sockaddr *sa, int *family, unsigned char addr[16])
{
	const struct sockaddr_in *in = (const void *)sa;
	const struct sockaddr_in6 *in6 = (const void *)sa;

	memset(addr, 0, 16);
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(addr, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		*family = AF_INET;
		memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
	} else if (sa->sa_family == AF_INET6) {
		*family = AF_INET6;
		memcpy(addr, &in6->sin6_addr, 16);
	} else {
		return -1;
	}
	return 0;
}

int
access_rule_of_addr(const struct sockaddr *sa, struct access_rule *r)
{
	memset(r, 0, sizeof(*r));
	if (addr_of(sa, &r->family, r->addr) == -1)
		return -1;
	r->prefix = r->family == AF_INET ? 32 : 128;
	return 0;
}

/* Whether family and addr (as addr_of gives them) are inside r. */
static bool
rule_covers(const struct access_rule *r, int family,
    const unsigned char addr[16])
{
	size_t full = r->prefix / 8;
	unsigned char mask;

	if (family != r->family || memcmp(addr, r->addr, full) != 0)
		return false;
	if (r->prefix % 8 == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - r->prefix % 8));
	return ((addr[full] ^ r->addr[full]) & mask) == 0;
}

bool
access_rule_match(const struct access_rule *r, const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family;

	return addr_of(sa, &family, addr) == 0 &&
	    rule_covers(r, family, addr);
}

bool
access_is_loopback(const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family;

	if (addr_of(sa, &family, addr) == -1)
		return false;
	if (family == AF_INET)
		return addr[0] == 127;
	return memcmp(addr, &in6addr_loopback, 16) == 0;
}

static bool
any_covers(const struct access_rules *rs, int family,
    const unsigned char addr[16])
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		if (rule_covers(&rs->v[i], family, addr))
			return true;
	return false;
}

enum access_verdict
access_check(const struct access *a, const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family;

	/* Not an IP client at all: only a list that allows all lets it in. */
	if (addr_of(sa, &family, addr) == -1)
		return a->restricted ? ACCESS_NOT_ALLOWED : ACCESS_ALLOWED;
	if (any_covers(&a->deny, family, addr))
		return ACCESS_DENIED;
	if (a->restricted && !any_covers(&a->allow, family, addr))
		return ACCESS_NOT_ALLOWED;
	return ACCESS_ALLOWED;
}

const char *
access_verdict_str(enum access_verdict v)
{
	switch (v) {
	case ACCESS_ALLOWED:
		return "allowed";
	case ACCESS_NOT_ALLOWED:
		return "not in the allow list";
	case ACCESS_DENIED:
		return "in the deny list";
	}
	return "?";
}

/* --- Lists of specs. */

/* A comma or a blank.  A NUL is not: in a file it is part of a bad spec. */
static bool
is_separator(char c)
{
	return c != '\0' && strchr(SEPARATORS, c) != NULL;
}

/*
 * The next spec of the bytes from *p to end: skip separators, set *tok and
 * return its length, and move *p past it.  0 at the end.
 */
static size_t
next_spec(const char **p, const char *end, const char **tok)
{
	const char *s = *p;

	while (s < end && is_separator(*s))
		s++;
	*tok = s;
	while (s < end && !is_separator(*s))
		s++;
	*p = s;
	return (size_t)(s - *tok);
}

/* "WHERE: 'SPEC': why", the spec cut short if long, left out if garbled. */
static enum status
spec_error(struct error *e, const char *where, const char *tok, size_t len,
    const char *why)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)tok[i] < ' ' ||
		    (unsigned char)tok[i] >= 0x7f)
			return err_set(e, ST_USAGE, "%s: %s", where, why);
	if (len > SHOWN_MAX)
		return err_set(e, ST_USAGE, "%s: '%.*s...': %s", where,
		    SHOWN_MAX, tok, why);
	return err_set(e, ST_USAGE, "%s: '%.*s': %s", where, (int)len, tok,
	    why);
}

enum status
access_check_list(const char *option, const char *list, struct error *e)
{
	const char *p = list, *end = list + strlen(list), *tok;
	struct access_rule r;
	const char *why;
	char where[64];
	size_t len, n = 0;

	snprintf(where, sizeof(where), "--%s", option);
	while ((len = next_spec(&p, end, &tok)) > 0) {
		n++;
		if (access_parse_spec(tok, len, &r, &why) == ACCESS_SPEC_BAD)
			return spec_error(e, where, tok, len, why);
	}
	if (n == 0)
		return err_set(e, ST_USAGE, "%s: no address, range or host "
		    "name given", where);
	return ST_OK;
}

/* --- The loader. */

static enum status
rules_add(struct access_rules *rs, const struct access_rule *r,
    struct error *e)
{
	struct access_rule *v;
	size_t cap;

	if (rs->n == rs->cap) {
		cap = rs->cap == 0 ? 8 : rs->cap * 2;
		if ((v = realloc(rs->v, cap * sizeof(*v))) == NULL)
			return err_set(e, ST_RUNTIME, "out of memory");
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = *r;
	return ST_OK;
}

/* Resolve the host name tok and add a rule for each of its addresses. */
static enum status
add_name(struct access_rules *rs, const char *where, const char *tok,
    size_t len, bool numeric, struct error *e)
{
	struct addrinfo hints, *res, *ai;
	struct access_rule r;
	char name[ACCESS_SPEC_MAX + 1];
	enum status st = ST_OK;
	int rc;

	snprintf(name, sizeof(name), "%.*s", (int)len, tok);
	if (numeric)
		return err_set(e, ST_USAGE, "%s: '%s' is a host name, and -n "
		    "forbids resolving names", where, name);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(name, NULL, &hints, &res)) != 0)
		return err_set(e, ST_RUNTIME, "%s: cannot resolve '%s': %s",
		    where, name, rc == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(rc));
	for (ai = res; ai != NULL && st == ST_OK; ai = ai->ai_next)
		if (access_rule_of_addr(ai->ai_addr, &r) == 0)
			st = rules_add(rs, &r, e);
	freeaddrinfo(res);
	return st;
}

/* Add every spec of the len bytes at list; where names it in messages. */
static enum status
add_specs(struct access *a, const struct access_source *src,
    const char *where, const char *list, size_t len, bool numeric,
    struct error *e)
{
	struct access_rules *rs = src->deny ? &a->deny : &a->allow;
	const char *p = list, *tok, *why;
	struct access_rule r;
	enum status st = ST_OK;
	size_t n;

	while (st == ST_OK && (n = next_spec(&p, list + len, &tok)) > 0) {
		switch (access_parse_spec(tok, n, &r, &why)) {
		case ACCESS_SPEC_BAD:
			return spec_error(e, where, tok, n, why);
		case ACCESS_SPEC_ADDR:
			st = rules_add(rs, &r, e);
			break;
		case ACCESS_SPEC_NAME:
			st = add_name(rs, where, tok, n, numeric, e);
			break;
		}
	}
	return st;
}

/* Add the specs of a file, line by line; a '#' starts a comment. */
static enum status
add_file(struct access *a, const struct access_source *src, bool numeric,
    struct error *e)
{
	char where[ERROR_MSG_MAX / 2], *line = NULL, *hash;
	unsigned long lineno = 0;
	enum status st = ST_OK;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	if ((f = fopen(src->value, "r")) == NULL)
		return err_errno(e, ST_USAGE, errno, "--%s: cannot open '%s'",
		    src->option, src->value);
	errno = 0;
	while (st == ST_OK && (n = getline(&line, &cap, f)) != -1) {
		lineno++;
		if ((hash = memchr(line, '#', (size_t)n)) != NULL)
			n = hash - line;
		snprintf(where, sizeof(where), "%s:%lu", src->value, lineno);
		st = add_specs(a, src, where, line, (size_t)n, numeric, e);
		errno = 0;
	}
	if (st == ST_OK && ferror(f))
		st = err_errno(e, ST_USAGE, errno != 0 ? errno : EIO,
		    "--%s: reading '%s'", src->option, src->value);
	free(line);
	fclose(f);
	return st;
}

enum status
access_load(struct access *a, const struct access_source *src, size_t n,
    bool numeric, struct error *e)
{
	enum status st = ST_OK;
	char where[64];
	size_t i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < n && st == ST_OK; i++) {
		if (!src[i].deny)
			a->restricted = true;
		if (src[i].file) {
			st = add_file(a, &src[i], numeric, e);
			continue;
		}
		snprintf(where, sizeof(where), "--%s", src[i].option);
		if ((st = access_check_list(src[i].option, src[i].value, e)) ==
		    ST_OK)
			st = add_specs(a, &src[i], where, src[i].value,
			    strlen(src[i].value), numeric, e);
	}
	if (st != ST_OK)
		access_free(a);
	return st;
}

void
access_free(struct access *a)
{
	free(a->allow.v);
	free(a->deny.v);
	memset(a, 0, sizeof(*a));
}
