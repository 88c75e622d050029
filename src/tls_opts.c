/*
 * What a TLS context negotiates: protocol versions, the security level,
 * cipher suites, groups, signature algorithms and ALPN.  The parsing here
 * is pure (and unit-tested); tls_ctx_negotiation() applies the options to
 * a context at start-up, so that a bad value is a usage error naming it
 * before any connection is made.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

static const struct {
	const char	*name;
	int		 version;
} versions[] = {
	{ "tls1", TLS1_VERSION },
	{ "tls1.1", TLS1_1_VERSION },
	{ "tls1.2", TLS1_2_VERSION },
	{ "tls1.3", TLS1_3_VERSION },
};

#define NVERSIONS	(sizeof(versions) / sizeof(versions[0]))

int
tls_parse_version(const char *name)
{
	size_t i;

	for (i = 0; i < NVERSIONS; i++)
		if (strcasecmp(name, versions[i].name) == 0)
			return versions[i].version;
	return 0;
}

const char *
tls_version_name(int version)
{
	size_t i;

	for (i = 0; i < NVERSIONS; i++)
		if (versions[i].version == version)
			return versions[i].name;
	return "?";
}

int
tls_alpn_encode(const char *list, unsigned char *out, size_t outsz,
    struct error *e)
{
	const char *p = list, *end;
	size_t len, n = 0;

	if (*list == '\0')
		return err_set(e, ST_USAGE, "--ssl-alpn: empty list"), -1;
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len == 0)
			return err_set(e, ST_USAGE, "--ssl-alpn: empty protocol "
			    "name in '%.200s'", list), -1;
		if (len > 255)
			return err_set(e, ST_USAGE, "--ssl-alpn: the protocol "
			    "name '%.20s...' is longer than 255 bytes", p), -1;
		if (n + 1 + len > outsz)
			return err_set(e, ST_USAGE, "--ssl-alpn: the list is "
			    "longer than %zu bytes", outsz), -1;
		out[n++] = (unsigned char)len;
		memcpy(out + n, p, len);
		n += len;
		if (end == NULL)
			return (int)n;
		p = end + 1;
	}
}

/* Whether the wire-format list has the protocol proto (len bytes). */
static bool
alpn_has(const unsigned char *list, size_t listlen, const unsigned char *proto,
    size_t len)
{
	size_t i = 0;

	while (i < listlen) {
		size_t l = list[i];

		if (i + 1 + l > listlen)
			return false;	/* malformed: offers nothing more */
		if (l == len && memcmp(list + i + 1, proto, len) == 0)
			return true;
		i += 1 + l;
	}
	return false;
}

bool
tls_alpn_pick(const unsigned char *ours, size_t ourlen,
    const unsigned char *theirs, size_t theirlen,
    const unsigned char **out, unsigned char *outlen)
{
	size_t i = 0;

	while (i < ourlen) {
		size_t l = ours[i];

		if (i + 1 + l > ourlen)
			break;
		if (l > 0 && alpn_has(theirs, theirlen, ours + i + 1, l)) {
			*out = ours + i + 1;
			*outlen = (unsigned char)l;
			return true;
		}
		i += 1 + l;
	}
	return false;
}

/*
 * Apply a colon-separated list with set().  Each element is tried alone
 * first, so that the message names the one that is bad: OpenSSL may skip
 * an unknown name without a word, or refuse the whole list without naming
 * it.
 */
static int
apply_list(SSL_CTX *ctx, const char *opt, const char *what, const char *list,
    int (*set)(SSL_CTX *, const char *), struct error *e)
{
	char one[256];
	const char *p = list;
	size_t len;

	if (*list == '\0')
		return err_set(e, ST_USAGE, "%s: empty list", opt), -1;
	while (*p != '\0') {
		len = strcspn(p, ":");
		if (len == 0)
			return err_set(e, ST_USAGE, "%s: empty name in "
			    "'%.200s'", opt, list), -1;
		snprintf(one, sizeof(one), "%.*s", (int)len, p);
		if ( len >= sizeof(one) || set(ctx, one) != 1) {
			ERR_clear_error();
			return err_set(e, ST_USAGE, "%s: '%.100s' is not a %s "
			    "that this OpenSSL knows", opt, one, what), -1;
		}
		p += len + (p[len] == ':');
	}
	if (set(ctx, list) != 1) {
		ERR_clear_error();
		return err_set(e, ST_USAGE, "%s: '%.200s' is not a usable "
		    "list of %s", opt, list, what), -1;
	}
	return 0;
}

static int
set_groups(SSL_CTX *ctx, const char *s)
{
	return SSL_CTX_set1_groups_list(ctx, s);
}

static int
set_sigalgs(SSL_CTX *ctx, const char *s)
{
	return SSL_CTX_set1_sigalgs_list(ctx, s);
}

/* How many TLS 1.3 suites ctx has. */
static int
count_tls13_suites(SSL_CTX *ctx)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	int i, n = 0;

	for (i = 0; i < sk_SSL_CIPHER_num(sk); i++)
		if (strcmp(SSL_CIPHER_get_version(sk_SSL_CIPHER_value(sk, i)),
		    "TLSv1.3") == 0)
			n++;
	return n;
}

/*
 * OpenSSL skips the TLS 1.3 suites it does not know without a word, so
 * each name is tried alone: one that yields no suite is named.
 */
static int
set_suites(SSL_CTX *ctx, const char *s)
{
	return SSL_CTX_set_ciphersuites(ctx, s) == 1 &&
	    count_tls13_suites(ctx) > 0 ? 1 : 0;
}

/*
 * The version bounds.  OpenSSL 3 refuses TLS 1.0 and 1.1 above security
 * level 0 (their handshake signatures use SHA-1), and says so only when a
 * handshake fails; so a bound that needs them is refused here, unless
 * --ssl-seclevel 0 lowers the level knowingly.
 */
static int
set_versions(SSL_CTX *ctx, const struct tls_opts *o, struct error *e)
{
	int min = o->min_version != 0 ? o->min_version : TLS1_2_VERSION;

	if (o->max_version != 0 && o->max_version < min)
		return err_set(e, ST_USAGE, "--ssl-max-version %s is below "
		    "the minimum version %s", tls_version_name(o->max_version),
		    tls_version_name(min)), -1;
	if (min < TLS1_2_VERSION && SSL_CTX_get_security_level(ctx) > 0)
		return err_set(e, ST_USAGE, "--ssl-min-version %s: OpenSSL "
		    "allows TLS 1.0 and 1.1 only at security level 0 (this is "
		    "level %d); add --ssl-seclevel 0 to allow them knowingly",
		    tls_version_name(min), SSL_CTX_get_security_level(ctx)),
		    -1;
	if (!SSL_CTX_set_min_proto_version(ctx, min) ||
	    !SSL_CTX_set_max_proto_version(ctx, o->max_version))
		return err_ssl(e, ST_USAGE, "cannot set the TLS version "
		    "bounds"), -1;
	return 0;
}

int
tls_ctx_negotiation(SSL_CTX *ctx, const struct tls_opts *o, struct error *e)
{
	if (o->have_seclevel)
		SSL_CTX_set_security_level(ctx, o->seclevel);
	if (set_versions(ctx, o, e) == -1)
		return -1;
	if (o->ciphersuites != NULL && apply_list(ctx, "--ssl-ciphersuites",
	    "TLS 1.3 cipher suite", o->ciphersuites, set_suites, e) == -1)
		return -1;
	if (o->groups != NULL && apply_list(ctx, "--ssl-groups", "group",
	    o->groups, set_groups, e) == -1)
		return -1;
	if (o->sigalgs != NULL && apply_list(ctx, "--ssl-sigalgs",
	    "signature algorithm", o->sigalgs, set_sigalgs, e) == -1)
		return -1;
	return 0;
}
