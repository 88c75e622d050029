/*
 * Unit tests for the TLS stream (src/tls.c): pins and fingerprints, the
 * ephemeral certificate, contexts and their file errors, and handshakes and
 * transfers between two TLS streams over a socketpair, driven without
 * blocking.  Every certificate is made in the test.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <signal.h>

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include "status.h"
#include "stream.h"
#include "tls.h"
#include "testutil.h"

#define HS_TIMEOUT	10000
#define XFER_TIMEOUT	60000

/* What a test holds, so that teardown can release it even after a failure. */
struct fx {
	char		 dir[64];
	SSL_CTX		*sctx;
	SSL_CTX		*cctx;
	struct stream	*srv;
	struct stream	*cli;
	struct stream	*plain;		/* a non-TLS peer */
	struct tu_cert	 ca, leaf, other_ca;
	char		 srv_fp[TLS_FP_MAX];
};

static struct fx *fx;

static int
setup(void **state)
{
	(void)state;
	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	tu_tmpdir(fx->dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	stream_close(fx->srv);
	stream_close(fx->cli);
	stream_close(fx->plain);
	SSL_CTX_free(fx->sctx);
	SSL_CTX_free(fx->cctx);
	tu_cert_free(&fx->ca);
	tu_cert_free(&fx->leaf);
	tu_cert_free(&fx->other_ca);
	tu_rmtree(fx->dir);
	free(fx);
	fx = NULL;
	ERR_clear_error();
	return 0;
}

/* Free a context of the fixture, so that teardown does not free it again. */
static void
free_ctx(SSL_CTX **c)
{
	SSL_CTX_free(*c);
	*c = NULL;
}

/* A server context with an ephemeral certificate; its pin in fx->srv_fp. */
static void
make_ephemeral_server(const char *listen_name)
{
	struct tls_opts o = { .server = true, .listen_name = listen_name };
	struct error e = { ST_OK, "" };
	bool eph = false;

	fx->sctx = tls_ctx_new(&o, fx->srv_fp, &eph, &e);
	if (fx->sctx == NULL)
		fail_msg("server tls_ctx_new: %s", e.msg);
	assert_true(eph);
}

/* A server context from a certificate (and chain) written to PEM files. */
static void
make_file_server(const struct tu_cert *leaf, X509 *chain)
{
	struct tls_opts o = { .server = true };
	struct error e = { ST_OK, "" };
	char *cert, *key;
	bool eph = true;

	cert = tu_write_pem(fx->dir, "server.crt", leaf->cert, chain, NULL);
	key = tu_write_pem(fx->dir, "server.key", NULL, NULL, leaf->key);
	o.cert_file = cert;
	o.key_file = key;
	fx->sctx = tls_ctx_new(&o, fx->srv_fp, &eph, &e);
	if (fx->sctx == NULL)
		fail_msg("server tls_ctx_new: %s", e.msg);
	assert_false(eph);
	free(cert);
	free(key);
}

static void
make_client_ctx(const struct tls_opts *o)
{
	struct error e = { ST_OK, "" };

	fx->cctx = tls_ctx_new(o, NULL, NULL, &e);
	if (fx->cctx == NULL)
		fail_msg("client tls_ctx_new: %s", e.msg);
}

/* Close the pair, so that the next make_pair() starts afresh. */
static void
close_pair(void)
{
	stream_close(fx->cli);
	stream_close(fx->srv);
	fx->cli = fx->srv = NULL;
}

/* Client and server streams over a fresh socketpair. */
static void
make_pair(const struct tls_opts *co, const char *host)
{
	struct tls_opts so = { .server = true };
	int sv[2];

	tu_socketpair(sv);
	fx->cli = tu_tls_over(fx->cctx, sv[0], co, host);
	fx->srv = tu_tls_over(fx->sctx, sv[1], &so, NULL);
}

/* Handshake both streams; both must succeed. */
static void
handshake_ok(void)
{
	enum io rc, rs;

	assert_int_equal(tu_handshake(fx->cli, fx->srv, &rc, &rs,
	    HS_TIMEOUT), 0);
	if (rc != IO_DONE)
		fail_msg("client handshake: %s", fx->cli->err.msg);
	if (rs != IO_DONE)
		fail_msg("server handshake: %s", fx->srv->err.msg);
}

/*
 * Handshake where the client must fail with status st and a message that
 * holds want.  The server must fail too, not hang.
 */
static void
handshake_fails(enum status st, const char *want)
{
	enum io rc, rs;

	assert_int_equal(tu_handshake(fx->cli, fx->srv, &rc, &rs,
	    HS_TIMEOUT), 0);
	assert_int_equal(rc, IO_ERROR);
	assert_int_equal(fx->cli->err.status, st);
	if (strstr(fx->cli->err.msg, want) == NULL)
		fail_msg("client error \"%s\" lacks \"%s\"", fx->cli->err.msg,
		    want);
	assert_int_equal(rs, IO_ERROR);
}

static SSL_CTX	*ctx_expect_fail(const struct tls_opts *, enum status,
		    const char *, const char *);

static void
pin_of(const char *fp, struct tls_opts *o)
{
	assert_int_equal(tls_parse_pin(fp, o->pin), 0);
	o->have_pin = true;
}

/* Pins and fingerprints ------------------------------------------------ */

static void
test_fingerprint_format(void **state)
{
	EVP_PKEY *k;
	X509 *x;
	struct error e;
	char fp[TLS_FP_MAX], hex[65];
	unsigned char md[32], pin[TLS_PIN_LEN];
	unsigned int mdlen = 0;
	size_t i;

	(void)state;
	assert_int_equal(tls_make_ephemeral(NULL, &k, &x, &e), 0);
	assert_int_equal(tls_fingerprint(x, fp), 0);
	assert_int_equal(strlen(fp), 7 + 64);
	assert_memory_equal(fp, "SHA256:", 7);
	for (i = 7; i < 7 + 64; i++)
		assert_true(strchr("0123456789abcdef", fp[i]) != NULL);

	/* The same digest as X509_digest(SHA-256) of the DER. */
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &mdlen), 1);
	assert_int_equal(mdlen, 32);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(fp + 7, hex);

	/* And back: the fingerprint parses as a pin of the same bytes. */
	memset(pin, 0, sizeof(pin));
	assert_int_equal(tls_parse_pin(fp, pin), 0);
	assert_memory_equal(pin, md, 32);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_parse_pin_forms(void **state)
{
	static const char hex[] =
	    "00112233445566778899aabbccddeeff"
	    "0123456789abcdeffedcba9876543210";
	unsigned char want[TLS_PIN_LEN], got[TLS_PIN_LEN];
	char buf[300], colons[200], *p;
	size_t i;

	(void)state;
	for (i = 0; i < TLS_PIN_LEN; i++) {
		unsigned int v;

		sscanf(hex + 2 * i, "%2x", &v);
		want[i] = (unsigned char)v;
	}
	/* Bare hex, any case, with or without the prefix. */
	memset(got, 0, sizeof(got));
	assert_int_equal(tls_parse_pin(hex, got), 0);
	assert_memory_equal(got, want, TLS_PIN_LEN);
	snprintf(buf, sizeof(buf), "sha256:%s", hex);
	for (p = buf + 7; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	memset(got, 0, sizeof(got));
	assert_int_equal(tls_parse_pin(buf, got), 0);
	assert_memory_equal(got, want, TLS_PIN_LEN);

	/* Colons between the bytes, as openssl x509 -fingerprint prints. */
	p = colons;
	p += sprintf(p, "SHA256:");
	for (i = 0; i < TLS_PIN_LEN; i++)
		p += sprintf(p, i == 0 ? "%.2s" : ":%.2s", hex + 2 * i);
	memset(got, 0, sizeof(got));
	assert_int_equal(tls_parse_pin(colons, got), 0);
	assert_memory_equal(got, want, TLS_PIN_LEN);

	/* Malformed. */
	assert_int_equal(tls_parse_pin("", got), -1);
	assert_int_equal(tls_parse_pin("SHA256:", got), -1);
	snprintf(buf, sizeof(buf), "%.62s", hex);		/* short */
	assert_int_equal(tls_parse_pin(buf, got), -1);
	snprintf(buf, sizeof(buf), "%.63s", hex);		/* odd */
	assert_int_equal(tls_parse_pin(buf, got), -1);
	snprintf(buf, sizeof(buf), "%s00", hex);		/* long */
	assert_int_equal(tls_parse_pin(buf, got), -1);
	snprintf(buf, sizeof(buf), "%s", hex);
	buf[10] = 'g';					/* not hex */
	assert_int_equal(tls_parse_pin(buf, got), -1);
	snprintf(buf, sizeof(buf), ":%s", hex);		/* leading : */
	assert_int_equal(tls_parse_pin(buf, got), -1);
	snprintf(buf, sizeof(buf), "%s:", colons);		/* trailing */
	assert_int_equal(tls_parse_pin(buf, got), -1);
	snprintf(buf, sizeof(buf), "SHA1:%s", hex);	/* other hash */
	assert_int_equal(tls_parse_pin(buf, got), -1);
}

/* The ephemeral certificate ------------------------------------------- */

/* Collect the SAN as "DNS:x" / "IP:y" strings joined by commas. */
static void
san_string(X509 *x, char *out, size_t len)
{
	GENERAL_NAMES *gens;
	int i;
	size_t n = 0;

	out[0] = '\0';
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char ip[INET6_ADDRSTRLEN];

		if (g->type == GEN_DNS) {
			n += snprintf(out + n, len - n, "%sDNS:%s",
			    n > 0 ? "," : "",
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			int l = ASN1_STRING_length(g->d.iPAddress);

			assert_non_null(inet_ntop(l == 4 ? AF_INET : AF_INET6,
			    ASN1_STRING_get0_data(g->d.iPAddress), ip,
			    sizeof(ip)));
			n += snprintf(out + n, len - n, "%sIP:%s",
			    n > 0 ? "," : "", ip);
		} else {
			n += snprintf(out + n, len - n, "%s?",
			    n > 0 ? "," : "");
		}
		assert_true(n < len);
	}
	GENERAL_NAMES_free(gens);
}

static void
check_ephemeral(const char *name, const char *want_san)
{
	EVP_PKEY *k, *pub;
	X509 *x;
	struct error e = { ST_OK, "" };
	char group[64], san[600];
	size_t glen = 0;
	time_t now = time(NULL);

	if (tls_make_ephemeral(name, &k, &x, &e) != 0)
		fail_msg("tls_make_ephemeral: %s", e.msg);
	/* An ECDSA P-256 key, and the certificate carries it. */
	assert_true(EVP_PKEY_is_a(k, "EC"));
	assert_int_equal(EVP_PKEY_get_group_name(k, group, sizeof(group),
	    &glen), 1);
	assert_string_equal(group, "prime256v1");
	pub = X509_get0_pubkey(x);
	assert_non_null(pub);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	/*
	 * Self-signed: it names itself as issuer and its own key checks the
	 * signature.  (X509_check_issued would refuse it: it is no CA.)
	 */
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_issuer_name(x)), 0);
	assert_int_equal(X509_verify(x, k), 1);
	/* Valid now. */
	assert_true(X509_cmp_time(X509_get0_notBefore(x), &now) < 0);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &now) > 0);
	san_string(x, san, sizeof(san));
	assert_string_equal(san, want_san);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_ephemeral_cert(void **state)
{
	(void)state;
	check_ephemeral(NULL, "DNS:localhost,IP:127.0.0.1,IP:::1");
	check_ephemeral("host.example",
	    "DNS:localhost,IP:127.0.0.1,IP:::1,DNS:host.example");
	check_ephemeral("192.0.2.7",
	    "DNS:localhost,IP:127.0.0.1,IP:::1,IP:192.0.2.7");
	check_ephemeral("2001:db8::5",
	    "DNS:localhost,IP:127.0.0.1,IP:::1,IP:2001:db8::5");
	/* The defaults are not repeated. */
	check_ephemeral("localhost", "DNS:localhost,IP:127.0.0.1,IP:::1");
	check_ephemeral("::1", "DNS:localhost,IP:127.0.0.1,IP:::1");
	/* A name cannot smuggle more entries into the SAN. */
	check_ephemeral("a.example,DNS:evil.example",
	    "DNS:localhost,IP:127.0.0.1,IP:::1");
}

static void
test_ctx_server_ephemeral(void **state)
{
	char fp[TLS_FP_MAX];
	X509 *x;

	(void)state;
	make_ephemeral_server("host.example");
	x = SSL_CTX_get0_certificate(fx->sctx);
	assert_non_null(x);
	assert_int_equal(tls_fingerprint(x, fp), 0);
	assert_string_equal(fx->srv_fp, fp);
	assert_int_equal(X509_check_host(x, "host.example", 0, 0, NULL), 1);
	/* own_fp may be NULL. */
	{
		struct tls_opts o = { .server = true };
		struct error e;
		SSL_CTX *c = tls_ctx_new(&o, NULL, NULL, &e);

		assert_non_null(c);
		/* Each context gets a certificate of its own. */
		assert_int_equal(tls_fingerprint(SSL_CTX_get0_certificate(c),
		    fp), 0);
		assert_string_not_equal(fp, fx->srv_fp);
		SSL_CTX_free(c);
	}
}

/*
 * The TLS 1.2 suites a context offers: by default ECDHE with AEAD only;
 * with --ssl-ciphers, what it says; the TLS 1.3 suites either way.
 */
static void
count_suites(SSL_CTX *c, int *tls13, int *ecdhe_aead, int *other,
    const char *want)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(c);
	int i;

	*tls13 = *ecdhe_aead = *other = 0;
	for (i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *ci = sk_SSL_CIPHER_value(sk, i);

		if (SSL_CIPHER_get_kx_nid(ci) == NID_kx_any)	/* TLS 1.3 */
			(*tls13)++;
		else if (SSL_CIPHER_get_kx_nid(ci) == NID_kx_ecdhe &&
		    SSL_CIPHER_is_aead(ci))
			(*ecdhe_aead)++;
		else if (want == NULL ||
		    strcmp(SSL_CIPHER_get_name(ci), want) != 0)
			fail_msg("unexpected suite %s", SSL_CIPHER_get_name(ci));
		else
			(*other)++;
	}
}

static void
test_cipher_suites(void **state)
{
	struct tls_opts o = { .server = false, .no_verify = true };
	int tls13, good, other;

	(void)state;
	make_client_ctx(&o);
	count_suites(fx->cctx, &tls13, &good, &other, NULL);
	assert_true(tls13 >= 3);
	assert_true(good >= 4);
	assert_int_equal(other, 0);
	make_ephemeral_server(NULL);
	count_suites(fx->sctx, &tls13, &good, &other, NULL);
	assert_true(tls13 >= 3);
	assert_true(good >= 4);
	free_ctx(&fx->cctx);

	/* --ssl-ciphers replaces the TLS 1.2 list, and only that. */
	o.ciphers = "AES128-SHA";
	make_client_ctx(&o);
	count_suites(fx->cctx, &tls13, &good, &other, "AES128-SHA");
	assert_true(tls13 >= 3);
	assert_int_equal(good, 0);
	assert_int_equal(other, 1);
	free_ctx(&fx->cctx);

	o.ciphers = "NO-SUCH-SUITE";
	ctx_expect_fail(&o, ST_USAGE, "--ssl-ciphers: no TLS 1.2 cipher suite "
	    "matches 'NO-SUCH-SUITE'", NULL);
	o.ciphers = "";
	o.server = true;
	ctx_expect_fail(&o, ST_USAGE, "--ssl-ciphers: no TLS 1.2 cipher suite "
	    "matches ''", NULL);
}

/* Handshakes ----------------------------------------------------------- */

static void
test_pin_ok_and_info(void **state)
{
	struct tls_opts co = { .server = false };
	struct tls_info ci, si;

	(void)state;
	make_ephemeral_server(NULL);
	pin_of(fx->srv_fp, &co);
	make_client_ctx(&co);
	make_pair(&co, "localhost");
	handshake_ok();
	assert_false(tls_verify_failed(fx->cli));

	tls_get_info(fx->cli, &ci);
	assert_string_equal(ci.version, "TLSv1.3");
	assert_true(strncmp(ci.cipher, "TLS_", 4) == 0);
	assert_true(ci.group[0] != '\0');
	assert_string_not_equal(ci.group, "none");
	assert_true(ci.have_peer_cert);
	assert_string_equal(ci.subject, "CN=tlsnc ephemeral");
	assert_string_equal(ci.issuer, "CN=tlsnc ephemeral");
	assert_string_equal(ci.fingerprint, fx->srv_fp);
	assert_string_equal(ci.verify, "ok (pinned certificate)");

	/* The server sees the same session and no client certificate. */
	tls_get_info(fx->srv, &si);
	assert_string_equal(si.version, ci.version);
	assert_string_equal(si.cipher, ci.cipher);
	assert_string_equal(si.group, ci.group);
	assert_false(si.have_peer_cert);
	assert_string_equal(si.verify, "no client certificate");
}

static void
test_pin_uppercase_colons(void **state)
{
	struct tls_opts co = { .server = false };
	char pin[200], *p;
	int i;

	(void)state;
	make_ephemeral_server(NULL);
	/* "SHA256:AA:BB:..." as another tool would print it. */
	p = pin + sprintf(pin, "SHA256:");
	for (i = 0; i < TLS_PIN_LEN; i++)
		p += sprintf(p, "%s%c%c", i > 0 ? ":" : "",
		    toupper((unsigned char)fx->srv_fp[7 + 2 * i]),
		    toupper((unsigned char)fx->srv_fp[8 + 2 * i]));
	pin_of(pin, &co);
	make_client_ctx(&co);
	/* A pin replaces name checks: any host name will do. */
	make_pair(&co, "not-in-the-san.example");
	handshake_ok();
}

static void
test_pin_mismatch(void **state)
{
	struct tls_opts co = { .server = false };
	struct tls_info ci;

	(void)state;
	make_ephemeral_server(NULL);
	pin_of(fx->srv_fp, &co);
	co.pin[TLS_PIN_LEN - 1] ^= 0x01;
	make_client_ctx(&co);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "pin mismatch");
	assert_true(tls_verify_failed(fx->cli));
	/* The message names what the peer did present. */
	assert_non_null(strstr(fx->cli->err.msg, fx->srv_fp));
	tls_get_info(fx->cli, &ci);
	assert_true(ci.have_peer_cert);
	assert_string_equal(ci.fingerprint, fx->srv_fp);
	assert_string_equal(ci.verify, "pin mismatch");
	assert_true(ci.pin_mismatch);
	assert_string_equal(ci.pin_issuer, "");
}

/* Several pins, for rotation: any one that matches the leaf will do. */
static void
test_several_pins(void **state)
{
	struct tls_opts co = { .server = false };
	size_t i;

	(void)state;
	make_ephemeral_server(NULL);
	/* The right pin last of TLS_PINS_MAX. */
	pin_of(fx->srv_fp, &co);
	co.pin[0] ^= 0x01;
	for (i = 0; i < TLS_PINS_MAX - 1; i++) {
		assert_int_equal(tls_parse_pin(fx->srv_fp, co.more_pins[i]), 0);
		if (i < TLS_PINS_MAX - 2)
			co.more_pins[i][5] ^= 0x40;
	}
	co.n_more_pins = TLS_PINS_MAX - 1;
	make_client_ctx(&co);
	make_pair(&co, "localhost");
	handshake_ok();
	close_pair();

	/* The right pin first. */
	co.pin[0] ^= 0x01;
	co.more_pins[TLS_PINS_MAX - 2][0] ^= 0x01;
	make_pair(&co, "localhost");
	handshake_ok();
	close_pair();

	/* None right. */
	co.pin[0] ^= 0x01;
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "pin mismatch: the peer presented");
}

/*
 * A pin of a CA in the chain, the intermediate that the server sends or the
 * root that the trust file adds, is not a pin of the server: the message
 * says which certificate it matched.
 */
static void
test_pin_of_issuer(void **state)
{
	struct tls_opts co = { .server = false };
	struct tu_cert inter;
	struct tls_info ci;
	char fp[TLS_FP_MAX], *trust;

	(void)state;
	tu_make_cert(&fx->ca, "Root CA", NULL, true, NULL, -3600, 86400);
	tu_make_cert(&inter, "Intermediate CA", NULL, true, &fx->ca, -3600,
	    86400);
	tu_make_cert(&fx->leaf, "pinned server", "DNS:localhost", false,
	    &inter, -3600, 86400);
	make_file_server(&fx->leaf, inter.cert);
	trust = tu_write_pem(fx->dir, "trust.pem", fx->ca.cert, NULL, NULL);
	co.trust_file = trust;

	assert_int_equal(tls_fingerprint(inter.cert, fp), 0);
	pin_of(fp, &co);
	make_client_ctx(&co);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "certificate verification failed: pin "
	    "mismatch: the pin matches the issuer certificate "
	    "CN=Intermediate CA, not the server's own certificate");
	assert_true(tls_verify_failed(fx->cli));
	tls_get_info(fx->cli, &ci);
	assert_true(ci.pin_mismatch);
	assert_string_equal(ci.pin_issuer, "CN=Intermediate CA");
	assert_string_equal(ci.verify, "pin mismatch");
	close_pair();
	free_ctx(&fx->cctx);

	/* The root, which the server does not send. */
	assert_int_equal(tls_fingerprint(fx->ca.cert, fp), 0);
	pin_of(fp, &co);
	make_client_ctx(&co);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "the pin matches the issuer certificate "
	    "CN=Root CA, not the server's own certificate");
	close_pair();

	/* A plain mismatch has no issuer to name. */
	co.pin[0] ^= 0x01;
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "pin mismatch: the peer presented");
	tls_get_info(fx->cli, &ci);
	assert_true(ci.pin_mismatch);
	assert_string_equal(ci.pin_issuer, "");
	free(trust);
	tu_cert_free(&inter);
}

/* A CA, and a server certificate it signed for localhost and 127.0.0.1. */
static void
make_ca_server(long not_before, long not_after)
{
	tu_make_cert(&fx->ca, "Unit Test CA", NULL, true, NULL, -3600,
	    86400);
	tu_make_cert(&fx->leaf, "unit server", "DNS:localhost,IP:127.0.0.1",
	    false, &fx->ca, not_before, not_after);
	make_file_server(&fx->leaf, NULL);
}

static void
client_trusting(X509 *anchor)
{
	struct tls_opts co = { .server = false };
	char *trust;

	trust = tu_write_pem(fx->dir, "trust.pem", anchor, NULL, NULL);
	co.trust_file = trust;
	make_client_ctx(&co);
	free(trust);
}

static void
test_ca_verify_ok(void **state)
{
	struct tls_opts co = { .server = false };
	struct tls_info ci;

	(void)state;
	make_ca_server(-3600, 86400);
	client_trusting(fx->ca.cert);
	make_pair(&co, "localhost");
	handshake_ok();
	assert_false(tls_verify_failed(fx->cli));
	tls_get_info(fx->cli, &ci);
	assert_string_equal(ci.subject, "CN=unit server");
	assert_string_equal(ci.issuer, "CN=Unit Test CA");
	assert_string_equal(ci.verify, "ok (trusted chain, name localhost)");
	close_pair();

	/* An IP literal is checked against the IP entries. */
	make_pair(&co, "127.0.0.1");
	handshake_ok();
}

static void
test_ca_name_mismatch(void **state)
{
	struct tls_opts co = { .server = false };

	(void)state;
	make_ca_server(-3600, 86400);
	client_trusting(fx->ca.cert);
	make_pair(&co, "other.example");
	handshake_fails(ST_VERIFY, "name mismatch");
	assert_non_null(strstr(fx->cli->err.msg, "other.example"));
	assert_true(tls_verify_failed(fx->cli));
	close_pair();

	make_pair(&co, "192.0.2.1");
	handshake_fails(ST_VERIFY, "name mismatch");
	assert_non_null(strstr(fx->cli->err.msg, "192.0.2.1"));
}

static void
test_ca_unknown(void **state)
{
	struct tls_opts co = { .server = false };

	(void)state;
	make_ca_server(-3600, 86400);
	tu_make_cert(&fx->other_ca, "Other CA", NULL, true, NULL, -3600, 86400);
	client_trusting(fx->other_ca.cert);
	make_pair(&co, "localhost");
	/* The server sent only its own certificate: either cause may be. */
	handshake_fails(ST_VERIFY, "certificate verification failed: unknown "
	    "CA: the issuer CN=Unit Test CA is not trusted; if it is an "
	    "intermediate CA, the server did not send its intermediate "
	    "certificate");
	assert_true(tls_verify_failed(fx->cli));
}

/*
 * A server that sends its chain, up to a root that is not trusted: the
 * issuer is not trusted, and nothing is missing.  The same server without
 * its intermediate, whose root is trusted: the intermediate is missing.
 */
static void
test_missing_intermediate(void **state)
{
	struct tls_opts co = { .server = false };
	struct tu_cert inter;

	(void)state;
	tu_make_cert(&fx->ca, "Root CA", NULL, true, NULL, -3600, 86400);
	tu_make_cert(&inter, "Intermediate CA", NULL, true, &fx->ca, -3600,
	    86400);
	tu_make_cert(&fx->leaf, "chained server", "DNS:localhost", false,
	    &inter, -3600, 86400);
	tu_make_cert(&fx->other_ca, "Other CA", NULL, true, NULL, -3600, 86400);

	make_file_server(&fx->leaf, inter.cert);
	client_trusting(fx->other_ca.cert);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "certificate verification failed: unknown "
	    "CA: the issuer is not trusted");
	assert_null(strstr(fx->cli->err.msg, "intermediate"));
	close_pair();
	free_ctx(&fx->cctx);
	free_ctx(&fx->sctx);

	make_file_server(&fx->leaf, NULL);
	client_trusting(fx->ca.cert);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "certificate verification failed: unknown "
	    "CA: the issuer CN=Intermediate CA is not trusted; if it is an "
	    "intermediate CA, the server did not send its intermediate "
	    "certificate");
	close_pair();
	free_ctx(&fx->cctx);

	/* With the intermediate in the trust file, nothing is missing. */
	{
		char *trust = tu_write_pem(fx->dir, "bundle.pem", fx->ca.cert,
		    inter.cert, NULL);

		co.trust_file = trust;
		make_client_ctx(&co);
		free(trust);
	}
	make_pair(&co, "localhost");
	handshake_ok();
	tu_cert_free(&inter);
}

static void
test_ca_expired(void **state)
{
	struct tls_opts co = { .server = false };

	(void)state;
	make_ca_server(-7 * 86400, -86400);
	client_trusting(fx->ca.cert);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "expired");
	assert_true(tls_verify_failed(fx->cli));
}

/* A server certificate with no subjectAltName names no host: the CN=localhost
 * of its subject is not used. */
static void
test_ca_no_san(void **state)
{
	struct tls_opts co = { .server = false };

	(void)state;
	tu_make_cert(&fx->ca, "Unit Test CA", NULL, true, NULL, -3600, 86400);
	tu_make_cert(&fx->leaf, "localhost", NULL, false, &fx->ca, -3600,
	    86400);
	make_file_server(&fx->leaf, NULL);
	client_trusting(fx->ca.cert);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "certificate verification failed: name "
	    "mismatch: the certificate is not valid for localhost: it has no "
	    "subjectAltName, and its subject CN is not used");
	assert_true(tls_verify_failed(fx->cli));
}

/*
 * A certificate with basicConstraints CA:TRUE, which a server presents as
 * its own, signed by issuer (or by itself when issuer is NULL).  Its key
 * usage allows signing, and no purpose check refuses it: only its being a
 * CA is wrong.
 */
static void
make_ca_leaf(struct tu_cert *out, const struct tu_cert *issuer)
{
	X509 *x;
	X509 *icert;

	assert_non_null(out->key = EVP_EC_gen("P-256"));
	assert_non_null(x = X509_new());
	out->cert = x;
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"ca leaf", -1, -1, 0),
	    1);
	icert = issuer != NULL ? issuer->cert : x;
	assert_int_equal(X509_set_issuer_name(x,
	    X509_get_subject_name(icert)), 1);
	assert_int_equal(X509_set_pubkey(x, out->key), 1);
	tu_add_ext(x, icert, NID_basic_constraints, "critical,CA:TRUE");
	tu_add_ext(x, icert, NID_key_usage,
	    "critical,digitalSignature,keyCertSign");
	tu_add_ext(x, icert, NID_ext_key_usage, "serverAuth");
	tu_add_ext(x, icert, NID_subject_alt_name, "DNS:localhost");
	assert_true(X509_sign(x, issuer != NULL ? issuer->key : out->key,
	    EVP_sha256()) > 0);
}

static void
test_leaf_is_ca(void **state)
{
	struct tls_opts co = { .server = false };
	struct tls_info ci;

	(void)state;
	tu_make_cert(&fx->ca, "Unit Test CA", NULL, true, NULL, -3600, 86400);
	make_ca_leaf(&fx->leaf, &fx->ca);
	make_file_server(&fx->leaf, NULL);
	client_trusting(fx->ca.cert);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "certificate verification failed: the "
	    "certificate is a CA certificate (CA:TRUE), not a server's");
	assert_true(tls_verify_failed(fx->cli));
	tls_get_info(fx->cli, &ci);
	assert_string_equal(ci.verify, "failed: the certificate is a CA "
	    "certificate (CA:TRUE), not a server's");
}

/* The same when it is self-signed and is itself the trust anchor. */
static void
test_leaf_is_trusted_ca(void **state)
{
	struct tls_opts co = { .server = false };

	(void)state;
	make_ca_leaf(&fx->leaf, NULL);
	make_file_server(&fx->leaf, NULL);
	client_trusting(fx->leaf.cert);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "the certificate is a CA certificate "
	    "(CA:TRUE), not a server's");
	close_pair();
	free_ctx(&fx->cctx);

	/* A pin takes the certificate as it is, CA or not. */
	{
		struct tls_opts po = { .server = false };
		char fp[TLS_FP_MAX];

		assert_int_equal(tls_fingerprint(fx->leaf.cert, fp), 0);
		pin_of(fp, &po);
		make_client_ctx(&po);
		make_pair(&po, "localhost");
		handshake_ok();
	}
}

static void
test_self_signed_refused(void **state)
{
	struct tls_opts co = { .server = false };

	(void)state;
	make_ephemeral_server(NULL);
	/* A trust store that does not hold the server's certificate. */
	tu_make_cert(&fx->other_ca, "Other CA", NULL, true, NULL, -3600, 86400);
	client_trusting(fx->other_ca.cert);
	make_pair(&co, "localhost");
	handshake_fails(ST_VERIFY, "self-signed");
	assert_true(tls_verify_failed(fx->cli));
}

static void
test_self_signed_trusted(void **state)
{
	struct tls_opts co = { .server = false };

	(void)state;
	make_ephemeral_server(NULL);
	/* The server's own certificate as the trust file. */
	client_trusting(SSL_CTX_get0_certificate(fx->sctx));
	make_pair(&co, "localhost");
	handshake_ok();
}

static void
test_no_verify(void **state)
{
	struct tls_opts co = { .server = false, .no_verify = true };
	struct tls_info ci;
	char *trust;

	(void)state;
	make_ephemeral_server(NULL);
	/* Nothing in the trust store vouches for it, and the name is wrong. */
	tu_make_cert(&fx->other_ca, "Other CA", NULL, true, NULL, -3600, 86400);
	trust = tu_write_pem(fx->dir, "trust.pem", fx->other_ca.cert, NULL,
	    NULL);
	co.trust_file = trust;
	make_client_ctx(&co);
	free(trust);
	make_pair(&co, "wrong.example");
	handshake_ok();
	assert_false(tls_verify_failed(fx->cli));
	tls_get_info(fx->cli, &ci);
	if (strstr(ci.verify, "--ssl-no-verify (it would fail") == NULL)
		fail_msg("verify text: %s", ci.verify);
}

static void
test_not_tls_peer(void **state)
{
	static const char http[] = "HTTP/1.0 200 OK\r\n\r\n";
	struct tls_opts co = { .server = false, .no_verify = true };
	enum io rc;
	int sv[2];
	ssize_t w;

	(void)state;
	make_client_ctx(&co);
	tu_socketpair(sv);
	fx->cli = tu_tls_over(fx->cctx, sv[0], &co, "localhost");
	fx->plain = stream_fd_new(sv[1], sv[1], STREAM_OWN_FDS);
	w = write(sv[1], http, sizeof(http) - 1);
	assert_int_equal(w, (ssize_t)sizeof(http) - 1);
	assert_int_equal(tu_handshake(fx->cli, NULL, &rc, NULL, HS_TIMEOUT), 0);
	assert_int_equal(rc, IO_ERROR);
	assert_int_equal(fx->cli->err.status, ST_HANDSHAKE);
	if (strstr(fx->cli->err.msg, "TLS handshake") == NULL ||
	    strstr(fx->cli->err.msg, "speaking TLS") == NULL)
		fail_msg("message: %s", fx->cli->err.msg);
	assert_false(tls_verify_failed(fx->cli));
}

static void
test_peer_closes_in_handshake(void **state)
{
	struct tls_opts co = { .server = false, .no_verify = true };
	enum io rc;
	int sv[2];

	(void)state;
	make_client_ctx(&co);
	tu_socketpair(sv);
	fx->cli = tu_tls_over(fx->cctx, sv[0], &co, "localhost");
	/* The peer hangs up without a word. */
	assert_int_equal(close(sv[1]), 0);
	assert_int_equal(tu_handshake(fx->cli, NULL, &rc, NULL, HS_TIMEOUT), 0);
	assert_int_equal(rc, IO_ERROR);
	assert_int_equal(fx->cli->err.status, ST_HANDSHAKE);
}

/* Transfers ------------------------------------------------------------ */

static void
pinned_pair(void)
{
	struct tls_opts co = { .server = false };

	make_ephemeral_server(NULL);
	pin_of(fx->srv_fp, &co);
	make_client_ctx(&co);
	make_pair(&co, "localhost");
	handshake_ok();
}

static void
test_transfer_both_ways(void **state)
{
	const size_t len_up = 3 * 1024 * 1024 + 123;
	const size_t len_down = 2 * 1024 * 1024 + 4567;
	unsigned char *up, *down;
	struct tu_ep ep[2];

	(void)state;
	pinned_pair();
	up = tu_pattern(len_up, 1);
	down = tu_pattern(len_down, 2);
	memset(ep, 0, sizeof(ep));
	/* Client: writes up, reads down in small and varying pieces. */
	ep[0].s = fx->cli;
	ep[0].src = up;
	ep[0].srclen = len_up;
	ep[0].wchunk = 100000;
	ep[0].eof_how = TU_EOF_SHUT;
	ep[0].read = true;
	ep[0].dst = malloc(len_down);
	ep[0].dstcap = len_down;
	ep[0].rchunk = 3000;
	ep[0].rvary = true;
	/* Server: the other way round. */
	ep[1].s = fx->srv;
	ep[1].src = down;
	ep[1].srclen = len_down;
	ep[1].wchunk = 70000;
	ep[1].eof_how = TU_EOF_SHUT;
	ep[1].read = true;
	ep[1].dst = malloc(len_up);
	ep[1].dstcap = len_up;
	ep[1].rchunk = 1000;
	assert_non_null(ep[0].dst);
	assert_non_null(ep[1].dst);

	assert_int_equal(tu_pump(ep, 2, XFER_TIMEOUT), 0);
	tu_assert_same(ep[1].dst, ep[1].dstlen, up, len_up);
	tu_assert_same(ep[0].dst, ep[0].dstlen, down, len_down);
	/* Both ended with close_notify. */
	assert_false(ep[0].eof_unclean);
	assert_false(ep[1].eof_unclean);
	/* Small reads left bytes inside OpenSSL, and the stream said so. */
	assert_true(ep[0].saw_pending);
	assert_true(ep[1].saw_pending);
	/* Large writes into a full socket were taken in part. */
	assert_true(ep[0].saw_partial || ep[1].saw_partial);
	free(ep[0].dst);
	free(ep[1].dst);
	free(up);
	free(down);
}

/*
 * A record that has only partly arrived sits in OpenSSL's read-ahead
 * buffer.  Once a read has said IO_WANT_READ, stream_pending must say 0:
 * only poll can tell when the rest comes, and a caller that trusted
 * SSL_has_pending here would spin.  The test takes the server's encrypted
 * bytes off the client's socket and puts them back in two parts.
 */
static void
test_partial_record_not_pending(void **state)
{
	static const char hello[] = "hello, partial record";
	unsigned char raw[8192], buf[100];
	int cfd, sfd;
	ssize_t got;
	size_t n;
	enum io io;

	(void)state;
	pinned_pair();
	cfd = stream_fd_state(fx->cli->lower)->rfd;
	sfd = stream_fd_state(fx->srv->lower)->wfd;
	assert_int_equal(stream_write(fx->srv, hello, sizeof(hello), &n),
	    IO_DONE);
	assert_int_equal(n, sizeof(hello));
	got = recv(cfd, raw, sizeof(raw), 0);
	assert_true(got > 10);
	/* All but the last 5 bytes: the last record is incomplete. */
	assert_int_equal(send(sfd, raw, (size_t)got - 5, 0), got - 5);
	io = stream_read(fx->cli, buf, sizeof(buf), &n);
	assert_int_equal(io, IO_WANT_READ);
	assert_int_equal(stream_pending(fx->cli), 0);
	/* The rest arrives; poll wakes and the record reads whole. */
	assert_int_equal(send(sfd, raw + got - 5, 5, 0), 5);
	do {
		struct pollfd pfd;
		short ev;

		pfd.fd = stream_want_fd(fx->cli, IO_WANT_READ, &ev);
		pfd.events = ev;
		assert_int_equal(poll(&pfd, 1, HS_TIMEOUT), 1);
		io = stream_read(fx->cli, buf, sizeof(buf), &n);
	} while (io == IO_WANT_READ);
	assert_int_equal(io, IO_DONE);
	assert_int_equal(n, sizeof(hello));
	assert_memory_equal(buf, hello, sizeof(hello));
}

/* Bytes OpenSSL holds are reported by stream_pending, not by poll. */
static void
test_pending_invisible_to_poll(void **state)
{
	unsigned char *msg, buf[100];
	struct pollfd pfd;
	size_t n, off = 0;
	enum io io;
	short ev;

	(void)state;
	pinned_pair();
	msg = tu_pattern(10000, 3);
	while (off < 10000) {
		io = stream_write(fx->srv, msg + off, 10000 - off, &n);
		assert_int_equal(io, IO_DONE);
		off += n;
	}
	/* The client reads 100 bytes once the record is in. */
	pfd.fd = stream_want_fd(fx->cli, IO_WANT_READ, &ev);
	pfd.events = ev;
	do {
		assert_int_equal(poll(&pfd, 1, HS_TIMEOUT), 1);
		io = stream_read(fx->cli, buf, sizeof(buf), &n);
	} while (io == IO_WANT_READ);
	assert_int_equal(io, IO_DONE);
	assert_int_equal(n, 100);
	assert_memory_equal(buf, msg, 100);
	assert_int_equal(stream_pending(fx->cli), 10000 - 100);
	/* The socket is drained: poll would sleep on what is left. */
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, 0), 0);
	io = stream_read(fx->cli, buf, sizeof(buf), &n);
	assert_int_equal(io, IO_DONE);
	assert_memory_equal(buf, msg + 100, 100);
	free(msg);
}

static void
test_close_notify_half_close(void **state)
{
	static const char hello[] = "hello, then close_notify";
	static const char reply[] = "the server still writes after EOF";
	unsigned char got[256];
	struct tu_ep ep[2];

	(void)state;
	pinned_pair();
	memset(ep, 0, sizeof(ep));
	/* The client says hello and half-closes; the server reads to EOF. */
	ep[0].s = fx->cli;
	ep[0].src = (const unsigned char *)hello;
	ep[0].srclen = strlen(hello);
	ep[0].eof_how = TU_EOF_SHUT;
	ep[1].s = fx->srv;
	ep[1].read = true;
	ep[1].dst = got;
	ep[1].dstcap = sizeof(got);
	assert_int_equal(tu_pump(ep, 2, XFER_TIMEOUT), 0);
	assert_true(ep[1].got_eof);
	assert_false(ep[1].eof_unclean);
	assert_true(stream_eof_clean(fx->srv));
	assert_int_equal(ep[1].dstlen, strlen(hello));
	assert_memory_equal(got, hello, strlen(hello));

	/* Now the other direction, still open, carries the reply. */
	memset(ep, 0, sizeof(ep));
	ep[0].s = fx->srv;
	ep[0].src = (const unsigned char *)reply;
	ep[0].srclen = strlen(reply);
	ep[0].eof_how = TU_EOF_SHUT;
	ep[1].s = fx->cli;
	ep[1].read = true;
	ep[1].dst = got;
	ep[1].dstcap = sizeof(got);
	assert_int_equal(tu_pump(ep, 2, XFER_TIMEOUT), 0);
	assert_int_equal(ep[1].dstlen, strlen(reply));
	assert_memory_equal(got, reply, strlen(reply));
	assert_true(ep[1].got_eof);
	assert_false(ep[1].eof_unclean);
}

static void
test_truncation(void **state)
{
	static const char part[] = "part of a message";
	unsigned char got[256];
	struct tu_ep ep[2];
	size_t n;

	(void)state;
	pinned_pair();
	memset(ep, 0, sizeof(ep));
	/*
	 * The client takes in what the server sent (the session tickets): a
	 * socket closed with unread data resets the connection instead.
	 */
	assert_int_equal(stream_read(fx->cli, got, sizeof(got), &n),
	    IO_WANT_READ);
	/* The client sends, then its socket closes without close_notify. */
	ep[0].s = fx->cli;
	ep[0].src = (const unsigned char *)part;
	ep[0].srclen = strlen(part);
	ep[0].eof_how = TU_EOF_CLOSE;
	fx->cli = NULL;
	ep[1].s = fx->srv;
	ep[1].read = true;
	ep[1].dst = got;
	ep[1].dstcap = sizeof(got);
	assert_int_equal(tu_pump(ep, 2, XFER_TIMEOUT), 0);
	assert_int_equal(ep[1].dstlen, strlen(part));
	assert_memory_equal(got, part, strlen(part));
	assert_true(ep[1].got_eof);
	assert_true(ep[1].eof_unclean);
	assert_false(stream_eof_clean(fx->srv));
}

static void
test_truncation_fin_only(void **state)
{
	unsigned char got[16];
	struct tu_ep ep;

	(void)state;
	pinned_pair();
	/* A bare FIN, the socket still open: no close_notify either. */
	assert_int_equal(shutdown(stream_fd_state(fx->cli->lower)->wfd, SHUT_WR), 0);
	memset(&ep, 0, sizeof(ep));
	ep.s = fx->srv;
	ep.read = true;
	ep.dst = got;
	ep.dstcap = sizeof(got);
	assert_int_equal(tu_pump(&ep, 1, XFER_TIMEOUT), 0);
	assert_int_equal(ep.dstlen, 0);
	assert_true(ep.eof_unclean);
}

/* Certificate and key files ------------------------------------------- */

static SSL_CTX *
ctx_expect_fail(const struct tls_opts *o, enum status st, const char *want1,
    const char *want2)
{
	struct error e = { ST_OK, "" };
	SSL_CTX *c;

	c = tls_ctx_new(o, NULL, NULL, &e);
	if (c != NULL) {
		SSL_CTX_free(c);
		fail_msg("tls_ctx_new succeeded; wanted \"%s\"", want1);
	}
	assert_int_equal(e.status, st);
	if (strstr(e.msg, want1) == NULL ||
	    (want2 != NULL && strstr(e.msg, want2) == NULL))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", e.msg, want1,
		    want2 != NULL ? want2 : "");
	/* Nothing is left behind for the next error to pick up. */
	assert_int_equal(ERR_peek_error(), 0);
	return NULL;
}

/*
 * The files test_cert_file_errors gives as --ssl-cert, --ssl-key and
 * --ssl-trustfile, by name; set up once, each row picks what it needs.
 */
enum cf {
	CF_NONE,	/* the option is not given */
	CF_MISSING,	/* a path with no file */
	CF_GARBLED,	/* a PEM block that is not a certificate */
	CF_EMPTY,	/* an empty file */
	CF_ACERT,	/* certificate a alone */
	CF_AKEY,	/* a's key alone */
	CF_BKEY,	/* the key of another certificate, b */
	CF_RSAKEY,	/* an RSA key, for a's ECDSA certificate */
	CF_DIR,		/* a directory */
	CF_COUNT
};

/* One complete input to tls_ctx_new and what it must answer. */
struct cf_case {
	const char	*what;
	bool		 server;
	enum cf		 cert, key, trust;
	const char	*want;		/* a fragment of the message */
	const char	*want2;		/* another one, or NULL */
	enum cf		 named;		/* a file whose path it names */
};

static const struct cf_case cf_cases[] = {
	{ "missing certificate", true, CF_MISSING, CF_NONE, CF_NONE,
	    "--ssl-cert", NULL, CF_MISSING },
	{ "garbled certificate", true, CF_GARBLED, CF_AKEY, CF_NONE,
	    "--ssl-cert", NULL, CF_GARBLED },
	{ "empty certificate", true, CF_EMPTY, CF_AKEY, CF_NONE,
	    "--ssl-cert", NULL, CF_EMPTY },
	{ "missing key", true, CF_ACERT, CF_MISSING, CF_NONE,
	    "--ssl-key", NULL, CF_MISSING },
	{ "key file with no key", true, CF_ACERT, CF_GARBLED, CF_NONE,
	    "--ssl-key", NULL, CF_GARBLED },
	{ "certificate alone, no key", true, CF_ACERT, CF_NONE, CF_NONE,
	    "--ssl-cert", "no usable PEM private key", CF_ACERT },
	{ "key of another certificate", true, CF_ACERT, CF_BKEY, CF_NONE,
	    "does not match", NULL, CF_BKEY },
	{ "RSA key, ECDSA certificate", true, CF_ACERT, CF_RSAKEY, CF_NONE,
	    "does not match", NULL, CF_RSAKEY },
	{ "key without certificate", true, CF_NONE, CF_AKEY, CF_NONE,
	    "--ssl-key needs --ssl-cert", NULL, CF_NONE },
	{ "client: key of another certificate", false, CF_ACERT, CF_BKEY,
	    CF_NONE, "does not match", NULL, CF_BKEY },
	{ "client: missing trust file", false, CF_NONE, CF_NONE, CF_MISSING,
	    "--ssl-trustfile", NULL, CF_MISSING },
	{ "client: garbled trust file", false, CF_NONE, CF_NONE, CF_GARBLED,
	    "--ssl-trustfile", NULL, CF_GARBLED },
	{ "client: trust file a directory", false, CF_NONE, CF_NONE, CF_DIR,
	    "--ssl-trustfile", "Is a directory", CF_NONE },
	{ "client: certificate a directory", false, CF_DIR, CF_NONE, CF_NONE,
	    "--ssl-cert", "Is a directory", CF_NONE },
	{ "client: key a directory", false, CF_ACERT, CF_DIR, CF_NONE,
	    "--ssl-key", "Is a directory", CF_NONE },
};

/*
 * Run one row on fresh options; path[] holds the files by name.  A failure
 * names the row.
 */
static void
cf_run(const struct cf_case *c, char *const path[CF_COUNT])
{
	struct tls_opts o = { .server = c->server };
	struct error e = { ST_OK, "X" };
	const char *named = path[c->named];
	SSL_CTX *ctx;

	o.cert_file = path[c->cert];
	o.key_file = path[c->key];
	o.trust_file = path[c->trust];
	ctx = tls_ctx_new(&o, NULL, NULL, &e);
	if (ctx != NULL) {
		SSL_CTX_free(ctx);
		fail_msg("%s: tls_ctx_new succeeded", c->what);
	}
	if (e.status != ST_USAGE)
		fail_msg("%s: status %d, wanted %d (%s)", c->what, e.status,
		    ST_USAGE, e.msg);
	if (strstr(e.msg, c->want) == NULL ||
	    (c->want2 != NULL && strstr(e.msg, c->want2) == NULL) ||
	    (named != NULL && strstr(e.msg, named) == NULL))
		fail_msg("%s: message \"%s\" lacks \"%s\" / \"%s\" / \"%s\"",
		    c->what, e.msg, c->want, c->want2 != NULL ? c->want2 : "",
		    named != NULL ? named : "");
	/* Nothing is left behind for the next error to pick up. */
	if (ERR_peek_error() != 0)
		fail_msg("%s: OpenSSL errors left behind", c->what);
}

/* The good cases, so that the failures mean something. */
static void
cf_good(const struct tu_cert *a, const char *both, const char *acert,
    const char *akey)
{
	struct error e = { ST_OK, "" };
	struct tls_opts ok = { .server = true, .cert_file = both };
	char fp[TLS_FP_MAX], afp[TLS_FP_MAX];
	bool eph = true;
	SSL_CTX *c = tls_ctx_new(&ok, fp, &eph, &e);

	if (c == NULL)
		fail_msg("cert and key in one file: %s", e.msg);
	assert_false(eph);
	assert_int_equal(tls_fingerprint(a->cert, afp), 0);
	assert_string_equal(fp, afp);
	SSL_CTX_free(c);
	ok.cert_file = acert;
	ok.key_file = akey;
	c = tls_ctx_new(&ok, NULL, NULL, &e);
	if (c == NULL)
		fail_msg("cert and key files: %s", e.msg);
	SSL_CTX_free(c);
}

static void
test_cert_file_errors(void **state)
{
	char *path[CF_COUNT] = { NULL }, *both;
	struct tu_cert a, b;
	EVP_PKEY *rsa;
	size_t i;

	(void)state;
	tu_make_cert(&a, "a", "DNS:localhost", false, NULL, -3600, 86400);
	tu_make_cert(&b, "b", "DNS:localhost", false, NULL, -3600, 86400);
	assert_true(asprintf(&path[CF_MISSING], "%s/no-such.pem", fx->dir) >
	    0);
	assert_non_null(strstr(path[CF_MISSING], "no-such.pem"));
	path[CF_GARBLED] = tu_write_text(fx->dir, "garbled.pem",
	    "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
	    "-----END CERTIFICATE-----\n");
	path[CF_EMPTY] = tu_write_text(fx->dir, "empty.pem", "");
	path[CF_ACERT] = tu_write_pem(fx->dir, "a.crt", a.cert, NULL, NULL);
	path[CF_AKEY] = tu_write_pem(fx->dir, "a.key", NULL, NULL, a.key);
	path[CF_BKEY] = tu_write_pem(fx->dir, "b.key", NULL, NULL, b.key);
	rsa = EVP_RSA_gen(2048);
	assert_non_null(rsa);
	path[CF_RSAKEY] = tu_write_pem(fx->dir, "rsa.key", NULL, NULL, rsa);
	EVP_PKEY_free(rsa);
	assert_non_null(path[CF_DIR] = strdup(fx->dir));
	both = tu_write_pem(fx->dir, "a-both.pem", a.cert, NULL, a.key);

	for (i = 0; i < sizeof(cf_cases) / sizeof(cf_cases[0]); i++)
		cf_run(&cf_cases[i], path);
	cf_good(&a, both, path[CF_ACERT], path[CF_AKEY]);
	for (i = 0; i < CF_COUNT; i++)
		free(path[i]);
	free(both);
	tu_cert_free(&a);
	tu_cert_free(&b);
}

/*
 * A pipe's read end, named as /dev/fd/N, holding cert, chain and key (each
 * may be NULL) in PEM, its write end closed: a file that can be read once,
 * as --ssl-cert <(...) gives.  path must hold 32 bytes.
 */
static int
pem_pipe(char path[32], X509 *cert, X509 *chain, EVP_PKEY *key)
{
	int p[2];
	FILE *f;

	assert_int_equal(pipe(p), 0);
	assert_non_null(f = fdopen(p[1], "w"));
	tu_pem_to(f, cert, chain, key);
	snprintf(path, 32, "/dev/fd/%d", p[0]);
	return p[0];
}

/*
 * Certificates, keys and trust files from pipes, which can be read only
 * once: each is read whole, once, even when the key is in the certificate
 * file.
 */
static void
test_files_from_pipes(void **state)
{
	struct tls_opts so = { .server = true }, co = { .server = false };
	struct error e = { ST_OK, "" };
	struct tu_cert inter;
	char cpath[32], kpath[32], tpath[32], fp[TLS_FP_MAX], want[TLS_FP_MAX];
	int cfd, kfd, tfd;

	(void)state;
	tu_make_cert(&fx->ca, "Root CA", NULL, true, NULL, -3600, 86400);
	tu_make_cert(&inter, "Intermediate CA", NULL, true, &fx->ca, -3600,
	    86400);
	tu_make_cert(&fx->leaf, "piped server", "DNS:localhost", false,
	    &inter, -3600, 86400);

	/* The certificate, its chain and the key in one pipe. */
	cfd = pem_pipe(cpath, fx->leaf.cert, inter.cert, fx->leaf.key);
	so.cert_file = cpath;
	fx->sctx = tls_ctx_new(&so, fp, NULL, &e);
	if (fx->sctx == NULL)
		fail_msg("cert and key in one pipe: %s", e.msg);
	assert_int_equal(tls_fingerprint(fx->leaf.cert, want), 0);
	assert_string_equal(fp, want);
	close(cfd);
	free_ctx(&fx->sctx);

	/* The certificate and the key in pipes of their own. */
	cfd = pem_pipe(cpath, fx->leaf.cert, inter.cert, NULL);
	kfd = pem_pipe(kpath, NULL, NULL, fx->leaf.key);
	so.cert_file = cpath;
	so.key_file = kpath;
	fx->sctx = tls_ctx_new(&so, NULL, NULL, &e);
	if (fx->sctx == NULL)
		fail_msg("cert and key in two pipes: %s", e.msg);
	close(cfd);
	close(kfd);

	/* The trust file from a pipe: the chain verifies against it. */
	tfd = pem_pipe(tpath, fx->ca.cert, NULL, NULL);
	co.trust_file = tpath;
	make_client_ctx(&co);
	close(tfd);
	so.cert_file = so.key_file = NULL;
	make_pair(&co, "localhost");
	handshake_ok();
	tu_cert_free(&inter);
}

/*
 * An encrypted key, unlocked by --ssl-key-pass in each form; a wrong
 * passphrase and a source that cannot give one are named.  (Without a
 * source tlsnc would prompt on the terminal, which a test cannot answer.)
 */
static void
test_encrypted_key(void **state)
{
	static const char pass[] = "unit-test-passphrase";
	struct tls_opts o = { .server = true };
	struct error e = { ST_OK, "" };
	char *cert, *key, *passfile, *src, msg[600];
	int p[2];
	FILE *f;

	(void)state;
	tu_make_cert(&fx->leaf, "locked", "DNS:localhost", false, NULL, -3600,
	    86400);
	cert = tu_write_pem(fx->dir, "locked.crt", fx->leaf.cert, NULL, NULL);
	assert_true(asprintf(&key, "%s/locked.key", fx->dir) > 0);
	assert_non_null(f = fopen(key, "w"));
	assert_int_equal(PEM_write_PrivateKey(f, fx->leaf.key,
	    EVP_aes_256_cbc(), (const unsigned char *)pass,
	    (int)strlen(pass), NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
	passfile = tu_write_text(fx->dir, "pass.txt", "unit-test-passphrase\r\n"
	    "the second line is not part of it\n");
	o.cert_file = cert;
	o.key_file = key;

	o.key_pass = "pass:unit-test-passphrase";
	assert_non_null(fx->sctx = tls_ctx_new(&o, NULL, NULL, &e));
	free_ctx(&fx->sctx);
	setenv("TLSNC_UNIT_PASS", pass, 1);
	o.key_pass = "env:TLSNC_UNIT_PASS";
	assert_non_null(fx->sctx = tls_ctx_new(&o, NULL, NULL, &e));
	free_ctx(&fx->sctx);
	assert_true(asprintf(&src, "file:%s", passfile) > 0);
	o.key_pass = src;
	fx->sctx = tls_ctx_new(&o, NULL, NULL, &e);
	if (fx->sctx == NULL)
		fail_msg("file: %s", e.msg);
	free_ctx(&fx->sctx);
	free(src);
	/* fd: takes the first line, and leaves the rest to be read. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "unit-test-passphrase\nrest", 25), 25);
	assert_true(asprintf(&src, "fd:%d", p[0]) > 0);
	o.key_pass = src;
	fx->sctx = tls_ctx_new(&o, NULL, NULL, &e);
	if (fx->sctx == NULL)
		fail_msg("fd: %s", e.msg);
	free_ctx(&fx->sctx);
	assert_int_equal(read(p[0], msg, sizeof(msg)), 4);
	assert_memory_equal(msg, "rest", 4);
	close(p[0]);
	close(p[1]);
	free(src);

	o.key_pass = "pass:wrong";
	snprintf(msg, sizeof(msg), "--ssl-key %s: the passphrase is wrong",
	    key);
	ctx_expect_fail(&o, ST_USAGE, msg, NULL);
	o.key_pass = "env:TLSNC_UNIT_NO_SUCH_VAR";
	ctx_expect_fail(&o, ST_USAGE, "--ssl-key-pass "
	    "env:TLSNC_UNIT_NO_SUCH_VAR: the variable is not set", NULL);
	o.key_pass = "fd:987654";
	ctx_expect_fail(&o, ST_USAGE, "--ssl-key-pass fd:987654: Bad file "
	    "descriptor", NULL);
	o.key_pass = "secret";
	ctx_expect_fail(&o, ST_USAGE, "--ssl-key-pass: give the passphrase",
	    NULL);
	/* An unencrypted key does not need it, and does not mind it. */
	free(key);
	key = tu_write_pem(fx->dir, "open.key", NULL, NULL, fx->leaf.key);
	o.key_file = key;
	o.key_pass = "pass:unused";
	fx->sctx = tls_ctx_new(&o, NULL, NULL, &e);
	if (fx->sctx == NULL)
		fail_msg("plain key: %s", e.msg);
	unsetenv("TLSNC_UNIT_PASS");
	free(cert);
	free(key);
	free(passfile);
}

/* A server certificate file with its chain; the client trusts the root. */
static void
test_chain_file(void **state)
{
	struct tls_opts co = { .server = false };
	struct tu_cert inter;
	struct tls_info ci;

	(void)state;
	tu_make_cert(&fx->ca, "Root CA", NULL, true, NULL, -3600, 86400);
	tu_make_cert(&inter, "Intermediate CA", NULL, true, &fx->ca, -3600,
	    86400);
	tu_make_cert(&fx->leaf, "chained server", "DNS:localhost", false,
	    &inter, -3600, 86400);
	make_file_server(&fx->leaf, inter.cert);
	client_trusting(fx->ca.cert);
	make_pair(&co, "localhost");
	handshake_ok();
	tls_get_info(fx->cli, &ci);
	assert_string_equal(ci.issuer, "CN=Intermediate CA");
	tu_cert_free(&inter);
}

/* A connected pair of TCP sockets on loopback: kernel TLS needs TCP. */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_true((sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) >= 0);
	assert_int_equal(connect(sv[0], (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	assert_true((sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0);
	close(l);
}

/*
 * The socket that zero-copy may use around a TLS stream in direction dir:
 * the stream's own socket when the kernel does that direction's records,
 * and -1 (no zero-copy) otherwise.
 */
static int
ktls_fd_expected(const struct stream *s, enum io dir)
{
	SSL *ssl = tls_get_ssl(s);

	if (dir == IO_WANT_WRITE)
		return BIO_ctrl(SSL_get_wbio(ssl), BIO_CTRL_GET_KTLS_SEND, 0,
		    NULL) > 0 ? SSL_get_wfd(ssl) : -1;
	return BIO_ctrl(SSL_get_rbio(ssl), BIO_CTRL_GET_KTLS_RECV, 0, NULL) > 0 ?
	    SSL_get_rfd(ssl) : -1;
}

/*
 * Kernel TLS asked for (TLSNC_KTLS=force) or not (off), over TCP: before
 * the handshake no TLS stream lends its socket; after it, one does only
 * for a direction the kernel took, so where the kernel has no tls module
 * (or with off) zero-copy is refused and the flow reads and writes.  The
 * stream's -v state agrees.
 */
static void
test_ktls_raw_fd(void **state)
{
	static const char *const modes[] = { "force", "off" };
	struct tls_opts co = { .server = false }, so = { .server = true };
	int sv[2];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(setenv("TLSNC_KTLS", modes[i], 1), 0);
		make_ephemeral_server("localhost");
		pin_of(fx->srv_fp, &co);
		make_client_ctx(&co);
		tcp_pair(sv);
		fx->cli = tu_tls_over(fx->cctx, sv[0], &co, "localhost");
		fx->srv = tu_tls_over(fx->sctx, sv[1], &so, NULL);
		assert_int_equal(stream_raw_fd(fx->cli, IO_WANT_WRITE), -1);
		assert_int_equal(stream_raw_fd(fx->srv, IO_WANT_READ), -1);
		handshake_ok();
		for (int d = 0; d < 2; d++) {
			enum io dir = d ? IO_WANT_WRITE : IO_WANT_READ;

			assert_int_equal(stream_raw_fd(fx->cli, dir),
			    ktls_fd_expected(fx->cli, dir));
			assert_int_equal(stream_raw_fd(fx->srv, dir),
			    ktls_fd_expected(fx->srv, dir));
		}
		/* Off: not asked for, so no direction can be lent. */
		if (i == 1) {
			assert_null(tls_ktls_state(tls_get_ssl(fx->cli)));
			assert_int_equal(stream_raw_fd(fx->cli, IO_WANT_WRITE),
			    -1);
			assert_int_equal(stream_raw_fd(fx->srv, IO_WANT_READ),
			    -1);
		}
		close_pair();
		free_ctx(&fx->sctx);
		free_ctx(&fx->cctx);
	}
	unsetenv("TLSNC_KTLS");
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fingerprint_format),
		T(test_parse_pin_forms),
		T(test_ephemeral_cert),
		T(test_ctx_server_ephemeral),
		T(test_cipher_suites),
		T(test_pin_ok_and_info),
		T(test_pin_uppercase_colons),
		T(test_pin_mismatch),
		T(test_several_pins),
		T(test_pin_of_issuer),
		T(test_ca_verify_ok),
		T(test_ca_name_mismatch),
		T(test_ca_unknown),
		T(test_missing_intermediate),
		T(test_ca_expired),
		T(test_ca_no_san),
		T(test_leaf_is_ca),
		T(test_leaf_is_trusted_ca),
		T(test_self_signed_refused),
		T(test_self_signed_trusted),
		T(test_no_verify),
		T(test_chain_file),
		T(test_files_from_pipes),
		T(test_encrypted_key),
		T(test_not_tls_peer),
		T(test_peer_closes_in_handshake),
		T(test_transfer_both_ways),
		T(test_pending_invisible_to_poll),
		T(test_partial_record_not_pending),
		T(test_close_notify_half_close),
		T(test_truncation),
		T(test_truncation_fin_only),
		T(test_cert_file_errors),
		T(test_ktls_raw_fd),
	};

	/* OpenSSL writes to the socket itself; main() ignores SIGPIPE too. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
