/*
 * Unit tests for access control (src/access.c): the spec parser on good and
 * bad specs with their exact messages, matching (mapped addresses, /0, /32,
 * /128 and odd prefixes), the verdicts, and the loader on real files.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"
#include "cases.h"

#define WATCHDOG_SECS	60

static int
setup(void **state)
{
	(void)state;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return 0;
}

/* Stale text must not make a later assertion pass. */
static void
spoil(struct error *e)
{
	memset(e, 'X', sizeof(*e));
	e->msg[sizeof(e->msg) - 1] = '\0';
}

/*
 * A socket address from text: "1.2.3.4" (AF_INET), "::1" (AF_INET6),
 * "mapped:1.2.3.4" (::ffff:1.2.3.4, as a dual-stack listener sees an IPv4
 * client) or "unix" (AF_UNIX).
 */
static void
sockaddr_of(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char buf[64];

	memset(ss, 0, sizeof(*ss));
	if (strcmp(text, "unix") == 0) {
		ss->ss_family = AF_UNIX;
	} else if (strncmp(text, "mapped:", 7) == 0) {
		snprintf(buf, sizeof(buf), "::ffff:%s", text + 7);
		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, buf, &in6->sin6_addr), 1);
		assert_true(IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr));
	} else if (strchr(text, ':') != NULL) {
		in6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	} else {
		in->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
	}
}

static struct access_rule
parse_ok(const char *spec)
{
	struct access_rule r;
	const char *why = "stale";

	if (access_parse_spec(spec, strlen(spec), &r, &why) !=
	    ACCESS_SPEC_ADDR)
		fail_msg("'%s' was not taken as an address: %s", spec,
		    why != NULL ? why : "(a name)");
	return r;
}

/* ---- Good specs: family, prefix, and the address with host bits cut. */

struct good_case {
	const char	*name;
	const char	*spec;
	int		 family;
	unsigned	 prefix;
	const char	*addr;
};

static const struct good_case good_cases[] = {
	{ "v4 host", "10.1.2.3", AF_INET, 32, "10.1.2.3" },
	{ "v4 /32", "10.1.2.3/32", AF_INET, 32, "10.1.2.3" },
	{ "v4 /8 drops host bits", "10.1.2.3/8", AF_INET, 8, "10.0.0.0" },
	{ "v4 /7", "11.255.0.0/7", AF_INET, 7, "10.0.0.0" },
	{ "v4 /31", "10.0.0.3/31", AF_INET, 31, "10.0.0.2" },
	{ "v4 /0", "1.2.3.4/0", AF_INET, 0, "0.0.0.0" },
	{ "v4 prefix with leading zeros", "10.0.0.0/008", AF_INET, 8,
	  "10.0.0.0" },
	{ "v6 ::1", "::1", AF_INET6, 128, "::1" },
	{ "v6 ::1/128", "::1/128", AF_INET6, 128, "::1" },
	{ "v6 fe80::/10", "fe80::1234/10", AF_INET6, 10, "fe80::" },
	{ "v6 /9", "ffff::/9", AF_INET6, 9, "ff80::" },
	{ "v6 /33", "2001:db8:ffff::/33", AF_INET6, 33, "2001:db8:8000::" },
	{ "v6 /0", "::/0", AF_INET6, 0, "::" },
	{ "v6 upper case", "FE80::AB", AF_INET6, 128, "fe80::ab" },
	{ "mapped host is v4", "::ffff:127.0.0.1", AF_INET, 32, "127.0.0.1" },
	{ "mapped /104 is v4 /8", "::ffff:10.9.9.9/104", AF_INET, 8,
	  "10.0.0.0" },
	{ "mapped /96 is v4 /0", "::ffff:0:0/96", AF_INET, 0, "0.0.0.0" },
	{ "mapped /95 stays v6", "::ffff:10.0.0.0/95", AF_INET6, 95,
	  "::fffe:0:0" },
	{ "v4-compatible stays v6", "::1.2.3.4", AF_INET6, 128, "::1.2.3.4" },
};

static void
good_spec(void **state)
{
	const struct good_case *c = *state;
	struct access_rule r = parse_ok(c->spec);
	char text[INET6_ADDRSTRLEN];
	unsigned i;

	assert_int_equal(r.family, c->family);
	assert_int_equal(r.prefix, c->prefix);
	assert_non_null(inet_ntop(r.family, r.addr, text, sizeof(text)));
	assert_string_equal(text, c->addr);
	/* Nothing left past an IPv4 address. */
	for (i = r.family == AF_INET ? 4 : 16; i < 16; i++)
		assert_int_equal(r.addr[i], 0);
}

/* ---- Host names: the parser leaves them to the caller. */

struct name_case {
	const char	*name;
	const char	*spec;
};

static const struct name_case name_cases[] = {
	{ "localhost", "localhost" },
	{ "dotted name", "trusted.example.com" },
	{ "dash and underscore", "a-b_c.example" },
	{ "IDNA form", "xn--bcher-kva.example" },
	{ "hex-looking name", "0x7f.0.0.1" },
	{ "63-character label",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x" },
};

static void
name_spec(void **state)
{
	const struct name_case *c = *state;
	struct access_rule r;
	const char *why = "stale";

	assert_int_equal(access_parse_spec(c->spec, strlen(c->spec), &r,
	    &why), ACCESS_SPEC_NAME);
	assert_null(why);
}

/* ---- Bad lists: the exact message of access_check_list. */

struct bad_case {
	const char	*name;
	const char	*list;
	const char	*msg;
};

#define A62	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A63	A62 "a"
#define A64	A63 "a"

static const struct bad_case bad_cases[] = {
	{ "v4 /33", "10.0.0.0/33",
	  "--allow: '10.0.0.0/33': an IPv4 prefix length is at most 32" },
	{ "v4 /999", "10.0.0.0/1000",
	  "--allow: '10.0.0.0/1000': an IPv4 prefix length is at most 32" },
	{ "v6 /129", "::1/129",
	  "--allow: '::1/129': an IPv6 prefix length is at most 128" },
	{ "mapped /129", "::ffff:1.2.3.4/129",
	  "--allow: '::ffff:1.2.3.4/129': an IPv6 prefix length is at most "
	  "128" },
	{ "empty prefix", "10.0.0.0/",
	  "--allow: '10.0.0.0/': the prefix length after '/' is not a number" },
	{ "negative prefix", "10.0.0.0/-1",
	  "--allow: '10.0.0.0/-1': the prefix length after '/' is not a "
	  "number" },
	{ "netmask prefix", "10.0.0.0/255.0.0.0",
	  "--allow: '10.0.0.0/255.0.0.0': the prefix length after '/' is not "
	  "a number" },
	{ "two slashes", "10.0.0.0/8/8",
	  "--allow: '10.0.0.0/8/8': the prefix length after '/' is not a "
	  "number" },
	{ "octet too big", "300.1.1.1",
	  "--allow: '300.1.1.1': it is not an IPv4 address" },
	{ "three octets", "10.0.0",
	  "--allow: '10.0.0': it is not an IPv4 address" },
	{ "leading zero", "010.0.0.1",
	  "--allow: '010.0.0.1': it is not an IPv4 address" },
	{ "bad v6", "1::2::3",
	  "--allow: '1::2::3': it is not an IPv6 address" },
	{ "bad v6 range", "fe80:/10",
	  "--allow: 'fe80:/10': it is not an IPv6 address" },
	{ "v6 zone", "fe80::1%eth0",
	  "--allow: 'fe80::1%eth0': an IPv6 zone (%...) is not supported" },
	{ "brackets", "[::1]",
	  "--allow: '[::1]': give an IPv6 address without brackets" },
	{ "octet range", "192.168.0.0-255",
	  "--allow: '192.168.0.0-255': octet ranges are not supported; give "
	  "a CIDR range, as 10.0.0.0/24" },
	{ "wildcard", "10.0.*.*",
	  "--allow: '10.0.*.*': wildcards are not supported; give a CIDR "
	  "range, as 10.0.0.0/8" },
	{ "name with prefix", "host.example/24",
	  "--allow: 'host.example/24': a prefix length needs an IP address, "
	  "not a host name" },
	{ "empty label", "a..example",
	  "--allow: 'a..example': a host name has no empty label" },
	{ "leading dot", ".example",
	  "--allow: '.example': a host name has no empty label" },
	{ "bad character", "exa$mple.com",
	  "--allow: 'exa$mple.com': it is not an IP address, a CIDR range or "
	  "a host name" },
	{ "64-character label", A64 ".x",
	  "--allow: '" A64 "...': a label of a host name is at most 63 "
	  "characters" },
	{ "254-character name", A63 "." A63 "." A63 "." A62,
	  "--allow: '" A63 "....': a host name is at most 253 characters" },
	{ "256-character spec", A63 "." A63 "." A63 "." A63 "....",
	  "--allow: '" A63 "....': it is longer than 255 characters" },
	{ "empty list", "",
	  "--allow: no address, range or host name given" },
	{ "only separators", " , ,",
	  "--allow: no address, range or host name given" },
	{ "second of a list", "10.0.0.1,::1 127.0.0.0/33",
	  "--allow: '127.0.0.0/33': an IPv4 prefix length is at most 32" },
	{ "control character", "10.0.0.1\x01",
	  "--allow: it has a blank, a control or a non-ASCII character" },
	{ "non-ASCII name", "b\xc3\xbc" "cher.example",
	  "--allow: it has a blank, a control or a non-ASCII character" },
};

static void
bad_list(void **state)
{
	const struct bad_case *c = *state;
	struct error e;

	spoil(&e);
	assert_int_equal(access_check_list("allow", c->list, &e), ST_USAGE);
	assert_int_equal(e.status, ST_USAGE);
	assert_string_equal(e.msg, c->msg);
}

/* The same bad spec, alone, through the parser: why is set, not a rule. */
static void
bad_spec_direct(void **state)
{
	struct access_rule r;
	const char *why = NULL;

	(void)state;
	assert_int_equal(access_parse_spec("10.0.0.0/33", 11, &r, &why),
	    ACCESS_SPEC_BAD);
	assert_string_equal(why, "an IPv4 prefix length is at most 32");
	assert_int_equal(access_parse_spec("", 0, &r, &why), ACCESS_SPEC_BAD);
	assert_string_equal(why, "it is empty");
	/* The length bounds the spec: no NUL is needed, none is read past. */
	assert_int_equal(access_parse_spec("10.0.0.1junk", 8, &r, &why),
	    ACCESS_SPEC_ADDR);
	assert_int_equal(r.prefix, 32);
}

/*
 * The parser on many random inputs, mostly of the bytes that addresses are
 * made of, with a fixed seed: each in a buffer of exactly its length, so
 * that the sanitizers catch a read past it.  Whatever it says must hold
 * together: a refusal has a reason, a name has none, and a rule has a
 * family, a prefix in range, no host bits, and reads back as itself.
 */
static void
random_specs(void **state)
{
	static const char alphabet[] = "0123456789abcdefABCDEF.:/%[]-*,#_x "
	    "\001\377";
	static const char *const seeds[] = {
		"10.0.0.0/8", "::ffff:127.0.0.1/104", "fe80::/10", "localhost",
		"2001:db8::1", "192.168.1.1/24",
	};
	struct access_rule r, back;
	char text[INET6_ADDRSTRLEN + 8], *buf;
	const char *why;
	size_t i, j, len;

	(void)state;
	srand(20261203);
	for (i = 0; i < 200000; i++) {
		if (i % 2 == 0) {
			len = (size_t)rand() % 48;
			assert_non_null(buf = malloc(len + 1));
			for (j = 0; j < len; j++)
				buf[j] = alphabet[rand() %
				    (int)(sizeof(alphabet) - 1)];
		} else {
			/* A valid spec with one byte changed. */
			const char *seed = seeds[(size_t)rand() % NELEM(seeds)];

			len = strlen(seed);
			assert_non_null(buf = malloc(len));
			memcpy(buf, seed, len);
			buf[(size_t)rand() % len] = alphabet[rand() %
			    (int)(sizeof(alphabet) - 1)];
		}
		switch (access_parse_spec(buf, len, &r, &why)) {
		case ACCESS_SPEC_BAD:
			assert_non_null(why);
			assert_true(why[0] != '\0');
			break;
		case ACCESS_SPEC_NAME:
			assert_null(why);
			break;
		case ACCESS_SPEC_ADDR:
			assert_true(r.family == AF_INET ||
			    r.family == AF_INET6);
			assert_true(r.prefix <= (r.family == AF_INET ? 32u :
			    128u));
			assert_non_null(inet_ntop(r.family, r.addr, text,
			    INET6_ADDRSTRLEN));
			snprintf(text + strlen(text), 8, "/%u", r.prefix);
			assert_int_equal(access_parse_spec(text, strlen(text),
			    &back, &why), ACCESS_SPEC_ADDR);
			assert_memory_equal(&back, &r, sizeof(r));
			break;
		}
		free(buf);
	}
}

/* ---- Matching. */

struct match_case {
	const char	*name;
	const char	*rule;
	const char	*peer;
	bool		 match;
};

static const struct match_case match_cases[] = {
	{ "/8 inside", "10.0.0.0/8", "10.255.255.255", true },
	{ "/8 outside", "10.0.0.0/8", "11.0.0.0", false },
	{ "/7 inside", "10.0.0.0/7", "11.1.1.1", true },
	{ "/7 outside", "10.0.0.0/7", "12.0.0.0", false },
	{ "/31 inside", "10.0.0.0/31", "10.0.0.1", true },
	{ "/31 outside", "10.0.0.0/31", "10.0.0.2", false },
	{ "/32 itself", "1.2.3.4/32", "1.2.3.4", true },
	{ "/32 neighbour", "1.2.3.4/32", "1.2.3.5", false },
	{ "v4 /0 any v4", "0.0.0.0/0", "255.255.255.255", true },
	{ "v4 /0 not v6", "0.0.0.0/0", "::1", false },
	{ "v6 /0 any v6", "::/0", "2001:db8::1", true },
	{ "v6 /0 not v4", "::/0", "1.2.3.4", false },
	{ "v6 /0 not a mapped v4", "::/0", "mapped:1.2.3.4", false },
	{ "/128 itself", "::1/128", "::1", true },
	{ "/128 neighbour", "::1/128", "::2", false },
	{ "fe80::/10 inside", "fe80::/10", "fe80::1", true },
	{ "fe80::/10 top", "fe80::/10", "febf:ffff::1", true },
	{ "fe80::/10 outside", "fe80::/10", "fec0::1", false },
	{ "v6 /33 inside", "2001:db8::/33", "2001:db8:7fff::1", true },
	{ "v6 /33 outside", "2001:db8::/33", "2001:db8:8000::1", false },
	{ "v4 rule, mapped peer", "127.0.0.1", "mapped:127.0.0.1", true },
	{ "v4 range, mapped peer", "127.0.0.0/8", "mapped:127.9.9.9", true },
	{ "v4 rule, other mapped peer", "127.0.0.1", "mapped:127.0.0.2",
	  false },
	{ "mapped rule, v4 peer", "::ffff:127.0.0.1", "127.0.0.1", true },
	{ "v4 rule, v6 peer", "127.0.0.1", "::1", false },
	{ "v6 rule, v4 peer", "::1", "0.0.0.1", false },
	{ "not an IP peer", "0.0.0.0/0", "unix", false },
};

static void
match_table(void **state)
{
	const struct match_case *c = *state;
	struct access_rule r = parse_ok(c->rule);
	struct sockaddr_storage ss;

	sockaddr_of(c->peer, &ss);
	assert_int_equal(access_rule_match(&r, (struct sockaddr *)&ss),
	    c->match);
}

static void
loopback_addresses(void **state)
{
	static const struct {
		const char	*addr;
		bool		 loop;
	} cases[] = {
		{ "127.0.0.1", true }, { "127.255.0.9", true },
		{ "mapped:127.0.0.1", true }, { "::1", true },
		{ "0.0.0.0", false }, { "::", false }, { "10.0.0.1", false },
		{ "mapped:10.0.0.1", false }, { "::2", false },
		{ "unix", false },
	};
	struct sockaddr_storage ss;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		sockaddr_of(cases[i].addr, &ss);
		if (access_is_loopback((struct sockaddr *)&ss) !=
		    cases[i].loop)
			fail_msg("%s: loopback should be %d", cases[i].addr,
			    (int)cases[i].loop);
	}
}

static void
rule_of_addr(void **state)
{
	struct sockaddr_storage ss;
	struct access_rule r;

	(void)state;
	sockaddr_of("mapped:192.0.2.7", &ss);
	assert_int_equal(access_rule_of_addr((struct sockaddr *)&ss, &r), 0);
	assert_int_equal(r.family, AF_INET);
	assert_int_equal(r.prefix, 32);
	sockaddr_of("2001:db8::7", &ss);
	assert_int_equal(access_rule_of_addr((struct sockaddr *)&ss, &r), 0);
	assert_int_equal(r.family, AF_INET6);
	assert_int_equal(r.prefix, 128);
	assert_true(access_rule_match(&r, (struct sockaddr *)&ss));
	sockaddr_of("unix", &ss);
	assert_int_equal(access_rule_of_addr((struct sockaddr *)&ss, &r), -1);
}

/* ---- Verdicts, over lists loaded from option values. */

struct verdict_case {
	const char	*name;
	const char	*allow;		/* or NULL */
	const char	*deny;		/* or NULL */
	const char	*peer;
	enum access_verdict want;
};

static const struct verdict_case verdict_cases[] = {
	{ "no lists", NULL, NULL, "192.0.2.1", ACCESS_ALLOWED },
	{ "allowed", "10.0.0.0/8", NULL, "10.1.1.1", ACCESS_ALLOWED },
	{ "allow list is a whitelist", "10.0.0.0/8", NULL, "192.0.2.1",
	  ACCESS_NOT_ALLOWED },
	{ "deny only", NULL, "10.0.0.0/8", "10.1.1.1", ACCESS_DENIED },
	{ "deny only, others in", NULL, "10.0.0.0/8", "192.0.2.1",
	  ACCESS_ALLOWED },
	{ "deny wins over allow", "10.0.0.0/8", "10.1.0.0/16", "10.1.1.1",
	  ACCESS_DENIED },
	{ "allowed beside the denied", "10.0.0.0/8", "10.1.0.0/16",
	  "10.2.1.1", ACCESS_ALLOWED },
	{ "mapped peer denied by v4", "::1", "127.0.0.0/8",
	  "mapped:127.0.0.1", ACCESS_DENIED },
	{ "mapped peer allowed by v4", "127.0.0.1,::1", NULL,
	  "mapped:127.0.0.1", ACCESS_ALLOWED },
	{ "not an IP peer, allow list", "0.0.0.0/0,::/0", NULL, "unix",
	  ACCESS_NOT_ALLOWED },
	{ "not an IP peer, deny list", NULL, "0.0.0.0/0,::/0", "unix",
	  ACCESS_ALLOWED },
};

static void
verdict_table(void **state)
{
	const struct verdict_case *c = *state;
	struct access_source src[2];
	struct sockaddr_storage ss;
	struct access a;
	struct error e;
	size_t n = 0;

	memset(src, 0, sizeof(src));
	if (c->allow != NULL)
		src[n++] = (struct access_source){ "allow", c->allow, false,
		    false };
	if (c->deny != NULL)
		src[n++] = (struct access_source){ "deny", c->deny, true,
		    false };
	spoil(&e);
	assert_int_equal(access_load(&a, src, n, true, &e), ST_OK);
	assert_int_equal(a.restricted, c->allow != NULL);
	sockaddr_of(c->peer, &ss);
	assert_int_equal(access_check(&a, (struct sockaddr *)&ss), c->want);
	access_free(&a);
}

static void
verdict_strings(void **state)
{
	(void)state;
	assert_string_equal(access_verdict_str(ACCESS_NOT_ALLOWED),
	    "not in the allow list");
	assert_string_equal(access_verdict_str(ACCESS_DENIED),
	    "in the deny list");
}

/* ---- The loader, on files. */

struct file_fixture {
	char		 dir[64];
	char		 path[128];
};

/* A file with these bytes (len of them) in a new directory. */
static void
write_file(struct file_fixture *f, const char *bytes, size_t len)
{
	FILE *fp;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_access.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hosts", f->dir);
	assert_non_null(fp = fopen(f->path, "w"));
	assert_int_equal(fwrite(bytes, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
remove_file(struct file_fixture *f)
{
	unlink(f->path);
	rmdir(f->dir);
}

/* Load one file as --allowfile (or --denyfile); returns the status. */
static enum status
load_file(struct file_fixture *f, bool deny, bool numeric,
    struct access *a, struct error *e)
{
	struct access_source src = {
		deny ? "denyfile" : "allowfile", f->path, deny, true
	};

	spoil(e);
	return access_load(a, &src, 1, numeric, e);
}

static bool
allows(const struct access *a, const char *peer)
{
	struct sockaddr_storage ss;

	sockaddr_of(peer, &ss);
	return access_check(a, (struct sockaddr *)&ss) == ACCESS_ALLOWED;
}

static void
file_comments_and_blanks(void **state)
{
	static const char text[] =
	    "# trusted hosts\n"
	    "\n"
	    "   \t\n"
	    "10.0.0.0/8   # the office\n"
	    "192.0.2.1, 192.0.2.2 2001:db8::/32\r\n"
	    "#192.0.2.9\n"
	    "::1";		/* no newline at the end */
	struct file_fixture f;
	struct access a;
	struct error e;

	(void)state;
	write_file(&f, text, sizeof(text) - 1);
	assert_int_equal(load_file(&f, false, true, &a, &e), ST_OK);
	assert_int_equal(a.allow.n, 5);
	assert_int_equal(a.deny.n, 0);
	assert_true(a.restricted);
	assert_true(allows(&a, "10.3.3.3"));
	assert_true(allows(&a, "192.0.2.2"));
	assert_true(allows(&a, "2001:db8:1::1"));
	assert_true(allows(&a, "::1"));
	assert_false(allows(&a, "192.0.2.9"));
	assert_false(allows(&a, "192.0.2.3"));
	access_free(&a);
	remove_file(&f);
}

static void
file_empty_allows_none(void **state)
{
	struct file_fixture f;
	struct access a;
	struct error e;

	(void)state;
	write_file(&f, "# nobody\n\n", 10);
	assert_int_equal(load_file(&f, false, true, &a, &e), ST_OK);
	assert_true(a.restricted);
	assert_int_equal(a.allow.n, 0);
	assert_false(allows(&a, "127.0.0.1"));
	access_free(&a);
	/* An empty deny file refuses no one. */
	assert_int_equal(load_file(&f, true, true, &a, &e), ST_OK);
	assert_false(a.restricted);
	assert_true(allows(&a, "127.0.0.1"));
	access_free(&a);
	remove_file(&f);
}

static void
file_bad_line(void **state)
{
	static const char text[] =
	    "# line 1\n"
	    "10.0.0.0/8\n"
	    "\n"
	    "192.0.2.1 10.0.0.0/33 # line 4\n"
	    "also.bad/8\n";
	struct file_fixture f;
	struct access a;
	struct error e;
	char want[256];

	(void)state;
	write_file(&f, text, sizeof(text) - 1);
	assert_int_equal(load_file(&f, true, true, &a, &e), ST_USAGE);
	snprintf(want, sizeof(want), "%s:4: '10.0.0.0/33': an IPv4 prefix "
	    "length is at most 32", f.path);
	assert_string_equal(e.msg, want);
	assert_null(a.deny.v);
	remove_file(&f);
}

static void
file_nul_byte(void **state)
{
	static const char text[] = "10.0.0.1\n10.0.\0000.2\n";
	struct file_fixture f;
	struct access a;
	struct error e;
	char want[256];

	(void)state;
	write_file(&f, text, sizeof(text) - 1);
	assert_int_equal(load_file(&f, false, true, &a, &e), ST_USAGE);
	snprintf(want, sizeof(want), "%s:2: it has a blank, a control or a "
	    "non-ASCII character", f.path);
	assert_string_equal(e.msg, want);
	remove_file(&f);
}

static void
file_missing(void **state)
{
	struct file_fixture f;
	struct access a;
	struct error e;
	char want[256];

	(void)state;
	write_file(&f, "", 0);
	remove_file(&f);
	assert_int_equal(load_file(&f, false, true, &a, &e), ST_USAGE);
	snprintf(want, sizeof(want), "--allowfile: cannot open '%s': %s",
	    f.path, strerror(ENOENT));
	assert_string_equal(e.msg, want);
}

static void
file_is_a_directory(void **state)
{
	struct file_fixture f;
	struct access a;
	struct error e;
	char want[256];

	(void)state;
	write_file(&f, "", 0);
	snprintf(f.path, sizeof(f.path), "%s", f.dir);
	assert_int_equal(load_file(&f, true, true, &a, &e), ST_USAGE);
	snprintf(want, sizeof(want), "--denyfile: reading '%s': %s", f.dir,
	    strerror(EISDIR));
	assert_string_equal(e.msg, want);
	snprintf(f.path, sizeof(f.path), "%s/hosts", f.dir);
	remove_file(&f);
}

static void
file_name_with_nodns(void **state)
{
	struct file_fixture f;
	struct access a;
	struct error e;
	char want[256];

	(void)state;
	write_file(&f, "10.0.0.1\nlocalhost\n", 19);
	assert_int_equal(load_file(&f, false, true, &a, &e), ST_USAGE);
	snprintf(want, sizeof(want), "%s:2: 'localhost' is a host name, and "
	    "-n forbids resolving names", f.path);
	assert_string_equal(e.msg, want);
	remove_file(&f);
}

/* localhost comes from /etc/hosts, which every test system has. */
static void
name_is_resolved(void **state)
{
	struct access_source src = { "allow", "localhost", false, false };
	struct access a;
	struct error e;

	(void)state;
	spoil(&e);
	assert_int_equal(access_load(&a, &src, 1, false, &e), ST_OK);
	assert_true(a.allow.n >= 1);
	assert_true(allows(&a, "127.0.0.1"));
	assert_true(allows(&a, "mapped:127.0.0.1"));
	assert_false(allows(&a, "127.0.0.2"));
	access_free(&a);
}

static void
name_does_not_resolve(void **state)
{
	struct access_source src = {
		"deny", "10.0.0.1,nonexistent.invalid", true, false
	};
	static const char want[] =
	    "--deny: cannot resolve 'nonexistent.invalid': ";
	struct access a;
	struct error e;

	(void)state;
	spoil(&e);
	assert_int_equal(access_load(&a, &src, 1, false, &e), ST_RUNTIME);
	assert_int_equal(strncmp(e.msg, want, sizeof(want) - 1), 0);
	assert_true(strlen(e.msg) > sizeof(want) - 1);
	assert_null(a.deny.v);
}

/* Many rules: the lists grow, and the last one still counts. */
static void
many_rules(void **state)
{
	struct file_fixture f;
	struct access a;
	struct error e;
	char *text, *p;
	size_t i, cap = 1000 * 20;

	(void)state;
	assert_non_null(text = malloc(cap));
	p = text;
	for (i = 0; i < 1000; i++)
		p += snprintf(p, cap - (size_t)(p - text), "10.%zu.%zu.0/24\n",
		    i / 256, i % 256);
	write_file(&f, text, (size_t)(p - text));
	free(text);
	assert_int_equal(load_file(&f, true, true, &a, &e), ST_OK);
	assert_int_equal(a.deny.n, 1000);
	assert_false(allows(&a, "10.3.231.9"));
	assert_true(allows(&a, "10.3.232.9"));
	access_free(&a);
	remove_file(&f);
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		CASE(bad_spec_direct),
		CASE(random_specs),
		CASE(loopback_addresses),
		CASE(rule_of_addr),
		CASE(verdict_strings),
		CASE(file_comments_and_blanks),
		CASE(file_empty_allows_none),
		CASE(file_bad_line),
		CASE(file_nul_byte),
		CASE(file_missing),
		CASE(file_is_a_directory),
		CASE(file_name_with_nodns),
		CASE(name_is_resolved),
		CASE(name_does_not_resolve),
		CASE(many_rules),
	};
	struct CMUnitTest tests[NELEM(fixed) + NELEM(good_cases) +
	    NELEM(name_cases) + NELEM(bad_cases) + NELEM(match_cases) +
	    NELEM(verdict_cases)];
	size_t n = 0, i;

	for (i = 0; i < NELEM(fixed); i++)
		tests[n++] = fixed[i];
	ADD_TABLE(good_cases, good_spec);
	ADD_TABLE(name_cases, name_spec);
	ADD_TABLE(bad_cases, bad_list);
	ADD_TABLE(match_cases, match_table);
	ADD_TABLE(verdict_cases, verdict_table);

	alarm(WATCHDOG_SECS);
	return _cmocka_run_group_tests("access", tests, n, NULL, NULL);
}
