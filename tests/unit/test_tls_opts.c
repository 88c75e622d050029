/*
 * Unit tests for the negotiation options (src/tls_opts.c): version names,
 * the ALPN wire encoding and its bounds, the server's ALPN choice, and the
 * values that a context refuses, each named in its message.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tls.h"

static struct error err;

/* Stale text must not make a later assertion pass. */
static void
reset_err(void)
{
	memset(&err, 'X', sizeof(err));
	err.msg[sizeof(err.msg) - 1] = '\0';
}

static void
version_names(void **state)
{
	(void)state;
	assert_int_equal(tls_parse_version("tls1"), TLS1_VERSION);
	assert_int_equal(tls_parse_version("tls1.1"), TLS1_1_VERSION);
	assert_int_equal(tls_parse_version("tls1.2"), TLS1_2_VERSION);
	assert_int_equal(tls_parse_version("TLS1.3"), TLS1_3_VERSION);
	assert_int_equal(tls_parse_version("tls1.4"), 0);
	assert_int_equal(tls_parse_version("ssl3"), 0);
	assert_int_equal(tls_parse_version(""), 0);
	assert_int_equal(tls_parse_version("tls1.2 "), 0);
	assert_string_equal(tls_version_name(TLS1_2_VERSION), "tls1.2");
	assert_string_equal(tls_version_name(TLS1_3_VERSION), "tls1.3");
	assert_string_equal(tls_version_name(SSL3_VERSION), "?");
}

static void
alpn_encoding(void **state)
{
	unsigned char out[TLS_ALPN_MAX];
	static const unsigned char want[] = "\x02h2\x08http/1.1";

	(void)state;
	reset_err();
	assert_int_equal(tls_alpn_encode("h2,http/1.1", out, sizeof(out),
	    &err), 12);
	assert_memory_equal(out, want, 12);
	assert_int_equal(tls_alpn_encode("x", out, sizeof(out), &err), 2);
	assert_memory_equal(out, "\x01x", 2);
}

/* Empty names, names over 255 bytes, and a list that does not fit. */
static void
alpn_bounds(void **state)
{
	unsigned char out[TLS_ALPN_MAX];
	char name[300];

	(void)state;
	reset_err();
	assert_int_equal(tls_alpn_encode("", out, sizeof(out), &err), -1);
	assert_int_equal(err.status, ST_USAGE);
	assert_string_equal(err.msg, "--ssl-alpn: empty list");
	reset_err();
	assert_int_equal(tls_alpn_encode(",h2", out, sizeof(out), &err), -1);
	assert_string_equal(err.msg, "--ssl-alpn: empty protocol name in "
	    "',h2'");
	reset_err();
	assert_int_equal(tls_alpn_encode("h2,", out, sizeof(out), &err), -1);
	assert_string_equal(err.msg, "--ssl-alpn: empty protocol name in "
	    "'h2,'");
	/* 255 bytes is the longest name. */
	memset(name, 'a', 255);
	name[255] = '\0';
	assert_int_equal(tls_alpn_encode(name, out, sizeof(out), &err), 256);
	assert_int_equal(out[0], 255);
	name[255] = 'a';
	name[256] = '\0';
	reset_err();
	assert_int_equal(tls_alpn_encode(name, out, sizeof(out), &err), -1);
	assert_string_equal(err.msg, "--ssl-alpn: the protocol name "
	    "'aaaaaaaaaaaaaaaaaaaa...' is longer than 255 bytes");
	/* Exactly full fits; one byte more does not. */
	assert_int_equal(tls_alpn_encode("abc,de", out, 7, &err), 7);
	reset_err();
	assert_int_equal(tls_alpn_encode("abc,def", out, 7, &err), -1);
	assert_string_equal(err.msg, "--ssl-alpn: the list is longer than 7 "
	    "bytes");
}

/* The first of our protocols that the client offered, in our order. */
static void
alpn_choice(void **state)
{
	static const unsigned char ours[] = "\x02h2\x08http/1.1";
	static const unsigned char theirs[] = "\x03"
	    "foo\x08http/1.1\x02h2";
	static const unsigned char other[] = "\x03" "foo\x02h3";
	static const unsigned char bad[] = "\x09h2";	/* length overruns */
	const unsigned char *p = NULL;
	unsigned char len = 0;
	const size_t tlen = sizeof(theirs) - 1;

	(void)state;
	assert_true(tls_alpn_pick(ours, 12, theirs, tlen, &p, &len));
	assert_int_equal(len, 2);
	assert_memory_equal(p, "h2", 2);
	/* Their order does not matter; a prefix is no match. */
	assert_true(tls_alpn_pick(ours + 3, 9, theirs, tlen, &p, &len));
	assert_int_equal(len, 8);
	assert_memory_equal(p, "http/1.1", 8);
	assert_false(tls_alpn_pick(ours, 12, other, 7, &p, &len));
	assert_false(tls_alpn_pick(ours, 12, bad, 3, &p, &len));
	assert_false(tls_alpn_pick(ours, 12, theirs, 0, &p, &len));
	/* A client that offers the empty name never gets it. */
	assert_false(tls_alpn_pick((const unsigned char *)"\0", 1,
	    (const unsigned char *)"\0", 1, &p, &len));
}

/* Apply o to a new context; returns what tls_ctx_negotiation did. */
static int
negotiate(const struct tls_opts *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int rc;

	assert_non_null(ctx);
	reset_err();
	rc = tls_ctx_negotiation(ctx, o, &err);
	SSL_CTX_free(ctx);
	return rc;
}

#define REFUSED(want_, o_) do {						\
	assert_int_equal(negotiate(o_), -1);				\
	assert_int_equal(err.status, ST_USAGE);				\
	assert_string_equal(err.msg, (want_));				\
} while (0)

static void
bad_values_named(void **state)
{
	struct tls_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.groups = "X25519:P-256";
	o.sigalgs = "ECDSA+SHA256:rsa_pss_rsae_sha256";
	o.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256";
	assert_int_equal(negotiate(&o), 0);
	o.groups = "X25519:P-999";
	REFUSED("--ssl-groups: 'P-999' is not a group that this OpenSSL "
	    "knows", &o);
	o.groups = "X25519::P-256";
	REFUSED("--ssl-groups: empty name in 'X25519::P-256'", &o);
	o.groups = NULL;
	o.sigalgs = "ECDSA+MD4";
	REFUSED("--ssl-sigalgs: 'ECDSA+MD4' is not a signature algorithm "
	    "that this OpenSSL knows", &o);
	o.sigalgs = NULL;
	/* OpenSSL alone would skip the unknown suite without a word. */
	o.ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_512_GCM";
	REFUSED("--ssl-ciphersuites: 'TLS_AES_512_GCM' is not a TLS 1.3 "
	    "cipher suite that this OpenSSL knows", &o);
	o.ciphersuites = "";
	REFUSED("--ssl-ciphersuites: empty list", &o);
	o.ciphersuites = NULL;
	o.min_version = TLS1_3_VERSION;
	o.max_version = TLS1_2_VERSION;
	REFUSED("--ssl-max-version tls1.2 is below the minimum version tls1.3",
	    &o);
	o.max_version = 0;
	o.min_version = TLS1_1_VERSION;
	o.have_seclevel = true;
	o.seclevel = 1;
	REFUSED("--ssl-min-version tls1.1: OpenSSL allows TLS 1.0 and 1.1 "
	    "only at security level 0 (this is level 1); add --ssl-seclevel "
	    "0 to allow them knowingly", &o);
	o.seclevel = 0;
	assert_int_equal(negotiate(&o), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(version_names),
		cmocka_unit_test(alpn_encoding),
		cmocka_unit_test(alpn_bounds),
		cmocka_unit_test(alpn_choice),
		cmocka_unit_test(bad_values_named),
	};

	return cmocka_run_group_tests_name("tls_opts", tests, NULL, NULL);
}
