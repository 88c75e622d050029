/*
 * Unit tests for the handshake report: the JSON writer (src/json.c), the
 * ClientHello extension parsers (src/hello.c), and the report and key log
 * of real handshakes between two TLS streams over a socketpair
 * (src/report.c).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "hello.h"
#include "json.h"
#include "report.h"
#include "status.h"
#include "stream.h"
#include "tls.h"
#include "testutil.h"

#define HS_TIMEOUT	10000

/* --- JSON. */

struct esc_case {
	const char	*in;
	size_t		 len;		/* bytes of in, which may hold NULs */
	const char	*want;
};

#define ESC(s, w)	{ s, sizeof(s) - 1, w }

static void
test_json_escape(void **state)
{
	static const struct esc_case cases[] = {
		ESC("", "\"\""),
		ESC("plain text", "\"plain text\""),
		ESC("a\"b", "\"a\\\"b\""),
		ESC("back\\slash", "\"back\\\\slash\""),
		ESC("l1\nl2\r\t", "\"l1\\nl2\\r\\t\""),
		ESC("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""),
		ESC("nul\0byte", "\"nul\\u0000byte\""),
		ESC("caf\xc3\xa9", "\"caf\xc3\xa9\""),
		ESC("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\""),
		ESC("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""),
		/* Not UTF-8: each bad byte is one U+FFFD. */
		ESC("\x80", "\"\\ufffd\""),
		ESC("ab\xc3", "\"ab\\ufffd\""),
		ESC("\xc3(", "\"\\ufffd(\""),
		ESC("\xc0\xaf", "\"\\ufffd\\ufffd\""),		/* overlong */
		ESC("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""),
		ESC("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""), /* surrogate */
		ESC("\xf4\x90\x80\x80",
		    "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),	/* > U+10FFFF */
		ESC("\xf5\xff", "\"\\ufffd\\ufffd\""),
		ESC("\xe2\x82", "\"\\ufffd\\ufffd\""),		/* cut short */
	};
	struct jbuf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&b, 0, sizeof(b));
		json_escape(&b, cases[i].in, cases[i].len);
		assert_false(b.failed);
		if (strcmp(b.p, cases[i].want) != 0)
			fail_msg("case %zu: got %s, want %s", i, b.p,
			    cases[i].want);
		jb_free(&b);
	}
}

static void
test_json_structure(void **state)
{
	struct jbuf b;
	int i;

	(void)state;
	memset(&b, 0, sizeof(b));
	json_open(&b, '{');
	json_key(&b, "a");
	json_int(&b, -12);
	json_key(&b, "b");
	json_open(&b, '[');
	json_bool(&b, true);
	json_null(&b);
	json_str(&b, "x");
	json_str(&b, NULL);
	json_close(&b, ']');
	json_key(&b, "c");
	json_open(&b, '{');
	json_close(&b, '}');
	json_key(&b, "d");
	json_fixed(&b, 1.5, 3);
	json_key(&b, "e\"");
	json_open(&b, '[');
	json_open(&b, '{');
	json_close(&b, '}');
	json_open(&b, '{');
	json_close(&b, '}');
	json_close(&b, ']');
	json_close(&b, '}');
	assert_false(b.failed);
	assert_string_equal(b.p, "{\"a\":-12,\"b\":[true,null,\"x\",null],"
	    "\"c\":{},\"d\":1.500,\"e\\\"\":[{},{}]}");
	jb_free(&b);
	/* The buffer grows past its first allocation. */
	for (i = 0; i < 2000; i++)
		json_str(&b, "0123456789");
	assert_false(b.failed);
	assert_int_equal(b.len, 2000 * 13 - 1);
	jb_free(&b);
}

/* --- ClientHello extensions. */

struct list_case {
	const char	*name;
	unsigned	 type;
	const char	*body;
	size_t		 len;
	int		 rc;
	size_t		 n;		/* values parsed */
	uint16_t	 first;
};

#define LC(n, t, b, rc, cnt, f)	{ n, t, b, sizeof(b) - 1, rc, cnt, f }

static const struct hello_list *
list_for(const struct hello_offer *o, unsigned type)
{
	switch (type) {
	case HELLO_EXT_SUPPORTED_GROUPS:
		return &o->groups;
	case HELLO_EXT_SIGALGS:
		return &o->sigalgs;
	default:
		return &o->versions;
	}
}

static void
test_hello_lists(void **state)
{
	static const struct list_case cases[] = {
		LC("groups", HELLO_EXT_SUPPORTED_GROUPS,
		    "\x00\x04\x00\x1d\x00\x17", 0, 2, 0x001d),
		LC("empty groups", HELLO_EXT_SUPPORTED_GROUPS, "\x00\x00",
		    0, 0, 0),
		LC("odd length", HELLO_EXT_SUPPORTED_GROUPS,
		    "\x00\x03\x00\x1d\x00", -1, 0, 0),
		LC("prefix longer than body", HELLO_EXT_SUPPORTED_GROUPS,
		    "\x00\x06\x00\x1d\x00\x17", -1, 0, 0),
		LC("prefix shorter than body", HELLO_EXT_SUPPORTED_GROUPS,
		    "\x00\x02\x00\x1d\x00\x17", -1, 0, 0),
		LC("no prefix", HELLO_EXT_SUPPORTED_GROUPS, "\x00", -1, 0, 0),
		LC("empty body", HELLO_EXT_SIGALGS, "", -1, 0, 0),
		LC("sigalgs", HELLO_EXT_SIGALGS, "\x00\x02\x08\x04", 0, 1,
		    0x0804),
		LC("versions", HELLO_EXT_SUPPORTED_VERSIONS,
		    "\x04\x03\x04\x03\x03", 0, 2, 0x0304),
		LC("versions cut", HELLO_EXT_SUPPORTED_VERSIONS,
		    "\x04\x03\x04\x03", -1, 0, 0),
		LC("versions odd", HELLO_EXT_SUPPORTED_VERSIONS,
		    "\x01\x03", -1, 0, 0),
	};
	struct hello_offer o;
	const struct hello_list *l;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&o, 0, sizeof(o));
		rc = hello_parse_ext(&o, cases[i].type,
		    (const unsigned char *)cases[i].body, cases[i].len);
		l = list_for(&o, cases[i].type);
		if (rc != cases[i].rc || l->n != cases[i].n ||
		    o.malformed != (cases[i].rc == -1))
			fail_msg("%s: rc %d n %zu malformed %d", cases[i].name,
			    rc, l->n, o.malformed);
		if (l->n > 0 && l->v[0] != cases[i].first)
			fail_msg("%s: first 0x%04x", cases[i].name, l->v[0]);
	}
}

static void
test_hello_ciphers_and_overflow(void **state)
{
	unsigned char buf[2 + 2 * (HELLO_LIST_MAX + 3)];
	struct hello_list l;
	size_t i, n = HELLO_LIST_MAX + 3;

	(void)state;
	assert_int_equal(hello_parse_ciphers((const unsigned char *)
	    "\x13\x01\x00\xff", 4, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0], 0x1301);
	assert_int_equal(l.v[1], 0x00ff);
	assert_int_equal(hello_parse_ciphers((const unsigned char *)
	    "\x13\x01\x00", 3, &l), -1);
	/* More than the list holds: the rest are counted, not written. */
	buf[0] = (unsigned char)((2 * n) >> 8);
	buf[1] = (unsigned char)(2 * n);
	for (i = 0; i < n; i++) {
		buf[2 + 2 * i] = 0x00;
		buf[3 + 2 * i] = (unsigned char)i;
	}
	assert_int_equal(hello_parse_u16s(buf, sizeof(buf), 2, &l), 0);
	assert_int_equal(l.n, HELLO_LIST_MAX);
	assert_int_equal(l.dropped, 3);
	assert_int_equal(hello_parse_u16s(buf, sizeof(buf), 3, &l), -1);
}

struct sni_case {
	const char	*name;
	const char	*body;
	size_t		 len;
	int		 rc;
	const char	*sni;		/* NULL: none */
};

#define SC(n, b, rc, s)	{ n, b, sizeof(b) - 1, rc, s }

static void
test_hello_sni(void **state)
{
	static const struct sni_case cases[] = {
		SC("one name", "\x00\x0e\x00\x00\x0b" "example.com", 0,
		    "example.com"),
		SC("other type first", "\x00\x0a\x01\x00\x01x\x00\x00\x03"
		    "a.b", 0, "a.b"),
		SC("only another type", "\x00\x04\x01\x00\x01x", 0, NULL),
		SC("name runs past the end", "\x00\x0e\x00\x00\x0f"
		    "example.com", -1, NULL),
		SC("list length wrong", "\x00\x0f\x00\x00\x0b" "example.com",
		    -1, NULL),
		SC("entry header cut", "\x00\x02\x00\x00", -1, NULL),
		SC("empty body", "", -1, NULL),
		SC("NUL in the name", "\x00\x06\x00\x00\x03" "a\0b", 0, NULL),
		SC("empty name", "\x00\x03\x00\x00\x00", 0, NULL),
	};
	struct hello_offer o;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&o, 0, sizeof(o));
		rc = hello_parse_ext(&o, HELLO_EXT_SERVER_NAME,
		    (const unsigned char *)cases[i].body, cases[i].len);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d", cases[i].name, rc);
		if (cases[i].sni == NULL ? o.have_sni : !o.have_sni ||
		    strcmp(o.sni, cases[i].sni) != 0)
			fail_msg("%s: sni %s", cases[i].name,
			    o.have_sni ? o.sni : "(none)");
	}
}

static void
test_hello_alpn(void **state)
{
	static const struct sni_case cases[] = {
		/* sni holds the names, joined with ',' */
		SC("two", "\x00\x06\x02h2\x02x1", 0, "h2,x1"),
		SC("one", "\x00\x09\x08http/1.1", 0, "http/1.1"),
		SC("empty name", "\x00\x03\x02h2\x00", -1, ""),
		SC("name past the end", "\x00\x03\x05h2", -1, ""),
		SC("list length wrong", "\x00\x05\x02h2", -1, ""),
		SC("empty body", "", -1, ""),
		SC("empty list", "\x00\x00", 0, ""),
	};
	unsigned char many[2 + 2 * (HELLO_ALPN_MAX + 2)];
	struct hello_offer o;
	char got[256];
	size_t i, j;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&o, 0, sizeof(o));
		rc = hello_parse_ext(&o, HELLO_EXT_ALPN,
		    (const unsigned char *)cases[i].body, cases[i].len);
		got[0] = '\0';
		for (j = 0; j < o.nalpn; j++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got),
			    "%s%s", j > 0 ? "," : "", o.alpn[j].name);
		if (rc != cases[i].rc || strcmp(got, cases[i].sni) != 0)
			fail_msg("%s: rc %d names '%s'", cases[i].name, rc,
			    got);
	}
	/* More names than are kept: counted, not written. */
	many[0] = 0;
	many[1] = 2 * (HELLO_ALPN_MAX + 2);
	for (j = 0; j < HELLO_ALPN_MAX + 2; j++) {
		many[2 + 2 * j] = 1;
		many[3 + 2 * j] = (unsigned char)('a' + j);
	}
	memset(&o, 0, sizeof(o));
	assert_int_equal(hello_parse_alpn(many, sizeof(many), &o), 0);
	assert_int_equal(o.nalpn, HELLO_ALPN_MAX);
	assert_int_equal(o.alpn_dropped, 2);
	assert_string_equal(o.alpn[HELLO_ALPN_MAX - 1].name, "p");
}

/* Every cut of a well-formed body, and every body grown by a byte, fails. */
static void
test_hello_every_truncation(void **state)
{
	static const struct {
		unsigned	 type;
		const char	*body;
		size_t		 len;
	} good[] = {
		{ HELLO_EXT_SERVER_NAME, "\x00\x06\x00\x00\x03" "a.b", 8 },
		{ HELLO_EXT_ALPN, "\x00\x06\x02h2\x02x1", 8 },
		{ HELLO_EXT_SUPPORTED_GROUPS, "\x00\x04\x00\x1d\x00\x17", 6 },
		{ HELLO_EXT_SIGALGS, "\x00\x02\x08\x04", 4 },
		{ HELLO_EXT_SUPPORTED_VERSIONS, "\x04\x03\x04\x03\x03", 5 },
	};
	unsigned char buf[16];
	struct hello_offer o;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&o, 0, sizeof(o));
		assert_int_equal(hello_parse_ext(&o, good[i].type,
		    (const unsigned char *)good[i].body, good[i].len), 0);
		for (n = 0; n < good[i].len; n++) {
			memset(&o, 0, sizeof(o));
			if (hello_parse_ext(&o, good[i].type,
			    (const unsigned char *)good[i].body, n) != -1 ||
			    !o.malformed)
				fail_msg("type %u: a cut to %zu bytes passed",
				    good[i].type, n);
		}
		memcpy(buf, good[i].body, good[i].len);
		buf[good[i].len] = 0x01;
		memset(&o, 0, sizeof(o));
		if (hello_parse_ext(&o, good[i].type, buf, good[i].len + 1) !=
		    -1)
			fail_msg("type %u: a byte too many passed", good[i].type);
	}
}

/*
 * Random bodies: whatever the bytes, a parser answers 0 or -1, keeps to
 * its bounds (ASan watches the reads) and NUL-terminates what it keeps.
 */
static void
test_hello_random_bodies(void **state)
{
	static const unsigned types[] = {
		HELLO_EXT_SERVER_NAME, HELLO_EXT_ALPN,
		HELLO_EXT_SUPPORTED_GROUPS, HELLO_EXT_SIGALGS,
		HELLO_EXT_SUPPORTED_VERSIONS, HELLO_EXT_SESSION_TICKET,
	};
	struct hello_offer *o = malloc(sizeof(*o));
	unsigned char *body;
	size_t i, j, len;
	int rc;

	(void)state;
	assert_non_null(o);
	for (i = 0; i < 3000; i++) {
		len = i % 300;
		body = tu_pattern(len, (uint32_t)i);
		/* Small length prefixes, so that some bodies nearly parse. */
		if (len >= 2 && i % 3 == 0) {
			body[0] = 0;
			body[1] = (unsigned char)(len - 2 - i % 2);
		}
		memset(o, 0, sizeof(*o));
		rc = hello_parse_ext(o, types[i % 6], body, len);
		assert_true(rc == 0 || rc == -1);
		assert_true(o->nalpn <= HELLO_ALPN_MAX);
		for (j = 0; j < o->nalpn; j++)
			assert_int_equal(o->alpn[j].name[o->alpn[j].len], '\0');
		assert_true(strlen(o->sni) < sizeof(o->sni));
		free(body);
	}
	free(o);
}

static void
test_hello_flags_and_names(void **state)
{
	struct hello_offer o;
	char buf[HELLO_NAME_MAX];

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(hello_parse_ext(&o, HELLO_EXT_SESSION_TICKET,
	    (const unsigned char *)"", 0), 0);
	assert_false(o.ticket);		/* empty: only "I take tickets" */
	assert_int_equal(hello_parse_ext(&o, HELLO_EXT_SESSION_TICKET,
	    (const unsigned char *)"\x01\x02", 2), 0);
	assert_true(o.ticket);
	assert_int_equal(hello_parse_ext(&o, HELLO_EXT_PRE_SHARED_KEY,
	    (const unsigned char *)"\x00", 1), 0);
	assert_true(o.psk);
	assert_int_equal(hello_parse_ext(&o, HELLO_EXT_STATUS_REQUEST,
	    (const unsigned char *)"\x01", 1), 0);
	assert_true(o.status_request);
	assert_int_equal(hello_parse_ext(&o, 0xfe0d,
	    (const unsigned char *)"\x01", 1), 0);
	assert_false(o.malformed);
	assert_string_equal(hello_version_name(0x0304, buf), "TLSv1.3");
	assert_string_equal(hello_version_name(0x0303, buf), "TLSv1.2");
	assert_string_equal(hello_group_name(0x001d, buf), "x25519");
	assert_string_equal(hello_group_name(0x0018, buf), "secp384r1");
	assert_string_equal(hello_sigalg_name(0x0403, buf),
	    "ecdsa_secp256r1_sha256");
	assert_string_equal(hello_sigalg_name(0x0804, buf),
	    "rsa_pss_rsae_sha256");
	assert_string_equal(hello_group_name(0x3a3a, buf), "GREASE");
	assert_string_equal(hello_group_name(0x3a3b, buf), "0x3a3b");
	assert_string_equal(hello_sigalg_name(0xfeed, buf), "0xfeed");
	assert_true(hello_is_grease(0xfafa));
	assert_false(hello_is_grease(0xfa0a));
}

/* --- Reports of real handshakes. */

struct fx {
	char		 dir[64];
	struct tu_cert	 ca, inter, leaf, other_ca;
	SSL_CTX		*sctx, *cctx;
	struct stream	*cli, *srv;
	char		*keylog;	/* the key-log path */
	int		 klfd;
};

static struct fx *fx;

static int
setup(void **state)
{
	(void)state;
	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->klfd = -1;
	tu_tmpdir(fx->dir);
	tu_make_cert(&fx->ca, "report CA", NULL, true, NULL, -3600, 86400 * 30);
	tu_make_cert(&fx->inter, "report int", NULL, true, &fx->ca, -3600,
	    86400 * 30);
	/* Ten days and an hour left: days_left is 10. */
	tu_make_cert(&fx->leaf, "localhost", "DNS:localhost,IP:127.0.0.1",
	    false, &fx->inter, -3600, 86400 * 10 + 3600);
	tu_make_cert(&fx->other_ca, "other CA", NULL, true, NULL, -3600,
	    86400);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	stream_close(fx->cli);
	stream_close(fx->srv);
	SSL_CTX_free(fx->sctx);
	SSL_CTX_free(fx->cctx);
	if (fx->klfd >= 0)
		close(fx->klfd);
	free(fx->keylog);
	tu_cert_free(&fx->ca);
	tu_cert_free(&fx->inter);
	tu_cert_free(&fx->leaf);
	tu_cert_free(&fx->other_ca);
	tu_rmtree(fx->dir);
	free(fx);
	fx = NULL;
	ERR_clear_error();
	return 0;
}

/*
 * Contexts: the server presents leaf and intermediate and records offers;
 * the client trusts trust_ca, and logs its keys to fx->keylog when asked.
 */
static void
make_ctxs(X509 *trust_ca, bool keylog)
{
	struct tls_opts so = { .server = true }, co = { .server = false };
	struct error e = { ST_OK, "" };
	char *cert, *key, *ca;

	cert = tu_write_pem(fx->dir, "srv.crt", fx->leaf.cert, fx->inter.cert,
	    NULL);
	key = tu_write_pem(fx->dir, "srv.key", NULL, NULL, fx->leaf.key);
	ca = tu_write_pem(fx->dir, "ca.pem", trust_ca, NULL, NULL);
	so.cert_file = cert;
	so.key_file = key;
	co.trust_file = ca;
	if ((fx->sctx = tls_ctx_new(&so, NULL, NULL, &e)) == NULL ||
	    (fx->cctx = tls_ctx_new(&co, NULL, NULL, &e)) == NULL)
		fail_msg("tls_ctx_new: %s", e.msg);
	if (keylog) {
		assert_true(asprintf(&fx->keylog, "%s/keylog", fx->dir) > 0);
		fx->klfd = report_keylog_open("--ssl-keylog", fx->keylog, &e);
		if (fx->klfd < 0)
			fail_msg("report_keylog_open: %s", e.msg);
	}
	if (report_ctx_setup(fx->sctx, true, -1, &e) == -1 ||
	    report_ctx_setup(fx->cctx, false, fx->klfd, &e) == -1)
		fail_msg("report_ctx_setup: %s", e.msg);
	free(cert);
	free(key);
	free(ca);
}

/* A client and a server stream on a socketpair, both counted from now. */
static void
make_pair(void)
{
	struct tls_opts so = { .server = true }, co = { .server = false };
	int sv[2];

	tu_socketpair(sv);
	fx->cli = tu_tls_over(fx->cctx, sv[0], &co, "localhost");
	fx->srv = tu_tls_over(fx->sctx, sv[1], &so, NULL);
	report_begin(fx->cli);
	report_begin(fx->srv);
	assert_true(report_pending(fx->cli));
}

static void
handshake(enum io want_cli)
{
	enum io rc, rs;

	assert_int_equal(tu_handshake(fx->cli, fx->srv, &rc, &rs,
	    HS_TIMEOUT), 0);
	if (rc != want_cli)
		fail_msg("client handshake: %d %s", rc, fx->cli->err.msg);
}

#define assert_has(hay, needle) do {					\
	if (strstr((hay), (needle)) == NULL)				\
		fail_msg("lacks %s in:\n%s", (needle), (hay));		\
} while (0)

static void
test_report_json_both_sides(void **state)
{
	char fp[TLS_FP_MAX], want[128], *r;

	(void)state;
	make_ctxs(fx->ca.cert, false);
	make_pair();
	handshake(IO_DONE);
	r = report_build(fx->cli, REPORT_JSON, NULL, ST_OK, NULL);
	assert_non_null(r);
	assert_false(report_pending(fx->cli));
	/* One line: one object, then the newline. */
	assert_ptr_equal(strchr(r, '\n'), r + strlen(r) - 1);
	assert_int_equal(r[0], '{');
	assert_has(r, "\"side\":\"client\"");
	assert_has(r, "\"result\":\"ok\",\"status\":0,\"error\":null");
	assert_has(r, "\"version\":\"TLSv1.3\"");
	assert_has(r, "\"sni\":\"localhost\"");
	assert_has(r, "\"verify\":{\"result\":\"ok\",\"code\":0");
	assert_has(r, "\"depth\":0,\"subject\":\"CN=localhost\","
	    "\"issuer\":\"CN=report int\"");
	assert_has(r, "\"depth\":1,\"subject\":\"CN=report int\"");
	assert_has(r, "\"days_left\":10,");
	assert_has(r, "\"san\":[\"DNS:localhost\",\"IP:127.0.0.1\"]");
	assert_has(r, "\"key_type\":\"EC\",\"key_bits\":256");
	assert_has(r, "\"signature_algorithm\":\"ecdsa-with-SHA256\"");
	assert_has(r, "\"peer_signature\":\"ECDSA+SHA256\"");
	tls_fingerprint(fx->leaf.cert, fp);
	snprintf(want, sizeof(want), "\"sha256\":\"%s\"", fp);
	assert_has(r, want);
	assert_has(r, "\"offered\":null}");
	free(r);
	r = report_build(fx->srv, REPORT_JSON, NULL, ST_OK, NULL);
	assert_non_null(r);
	assert_has(r, "\"side\":\"server\"");
	assert_has(r, "\"chain\":[]");
	assert_has(r, "\"offered\":{\"versions\":[\"TLSv1.3\",\"TLSv1.2\"]");
	assert_has(r, "\"sni\":\"localhost\",\"session_ticket\":false");
	assert_has(r, "\"ciphers\":[\"TLS_AES_256_GCM_SHA384\"");
	assert_has(r, "\"malformed\":false,\"truncated\":false}");
	free(r);
}

static void
test_report_text(void **state)
{
	char *r, *line;

	(void)state;
	make_ctxs(fx->ca.cert, false);
	make_pair();
	handshake(IO_DONE);
	r = report_build(fx->cli, REPORT_TEXT, "P: ", ST_OK, NULL);
	assert_non_null(r);
	assert_has(r, "P: TLS report:\n");
	assert_has(r, "P:   version: TLSv1.3\n");
	assert_has(r, "P:   certificate 1:\nP:     depth: 1\n");
	assert_has(r, "P:     san: DNS:localhost, IP:127.0.0.1\n");
	assert_has(r, "P:     result: ok\n");
	/* Every line has the prefix. */
	for (line = r; *line != '\0'; line = strchr(line, '\n') + 1)
		assert_int_equal(strncmp(line, "P: ", 3), 0);
	free(r);
}

static void
test_report_failed_handshake(void **state)
{
	char *r;

	(void)state;
	make_ctxs(fx->other_ca.cert, false);
	make_pair();
	handshake(IO_ERROR);
	assert_int_equal(fx->cli->err.status, ST_VERIFY);
	r = report_build(fx->cli, REPORT_JSON, NULL, ST_VERIFY,
	    fx->cli->err.msg);
	assert_non_null(r);
	assert_has(r, "\"result\":\"failed\",\"status\":5,\"error\":"
	    "\"certificate verification failed: unknown CA");
	assert_has(r, "\"version\":null");
	assert_has(r, "\"verify\":{\"result\":\"failed\",\"code\":20,"
	    "\"reason\":\"unknown CA");
	/* What was learnt: the certificate that was refused. */
	assert_has(r, "\"depth\":0,\"subject\":\"CN=localhost\"");
	free(r);
}

/* A -z probe's report: "port" and "open" after "peer", the rest as ever. */
static void
test_report_port(void **state)
{
	char *r;

	(void)state;
	make_ctxs(fx->ca.cert, false);
	make_pair();
	handshake(IO_DONE);
	r = report_build_port(fx->cli, REPORT_JSON, NULL, 8443, ST_OK, NULL);
	assert_non_null(r);
	assert_has(r, "{\"side\":\"client\",\"peer\":");
	assert_has(r, ",\"port\":8443,\"open\":true,\"result\":\"ok\","
	    "\"status\":0,\"error\":null,\"handshake_ms\":");
	assert_has(r, "\"days_left\":10,");
	assert_ptr_equal(strchr(r, '\n'), r + strlen(r) - 1);
	free(r);
	r = report_build_port(fx->cli, REPORT_TEXT, "P: ", 8443, ST_OK, NULL);
	assert_non_null(r);
	assert_has(r, "P:   port: 8443\nP:   open: yes\nP:   result: ok\n");
	free(r);
}

/* A port that did not accept: only what is known, in both forms. */
static void
test_report_closed(void **state)
{
	char *r;

	(void)state;
	r = report_build_closed(REPORT_JSON, "tlsnc: ", "127.0.0.1:9", 9,
	    ST_RUNTIME, "Connection refused");
	assert_non_null(r);
	assert_string_equal(r, "{\"side\":\"client\",\"peer\":"
	    "\"127.0.0.1:9\",\"port\":9,\"open\":false,\"result\":"
	    "\"closed\",\"status\":1,\"error\":\"Connection refused\"}\n");
	free(r);
	r = report_build_closed(REPORT_TEXT, "P: ", "[::1]:9", 9, ST_TIMEOUT,
	    "Connection timed out");
	assert_non_null(r);
	assert_string_equal(r, "P: TLS report:\nP:   side: client\n"
	    "P:   peer: [::1]:9\nP:   port: 9\nP:   open: no\n"
	    "P:   result: closed\nP:   status: 3\n"
	    "P:   error: Connection timed out\n");
	free(r);
}

/* Days left: rounded down, so a certificate a second past is at -1. */
static void
test_days_left(void **state)
{
	static const struct {
		long	 secs;		/* notAfter, from now */
		int	 want;
	} cases[] = {
		{ 10 * 86400 + 3600, 10 },
		{ 86400 - 60, 0 },
		{ 60, 0 },
		{ -60, -1 },
		{ -86400 + 60, -1 },
		{ -2 * 86400 - 60, -3 },
	};
	X509 *x = X509_new();
	size_t i;

	(void)state;
	assert_non_null(x);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x),
		    cases[i].secs));
		if (report_days_left(x) != cases[i].want)
			fail_msg("notAfter in %ld s: %d days left, not %d",
			    cases[i].secs, report_days_left(x), cases[i].want);
	}
	X509_free(x);
}

/* Sessions that were not asked for a report cost nothing and get none. */
static void
test_no_report_without_begin(void **state)
{
	struct tls_opts so = { .server = true }, co = { .server = false };
	int sv[2];

	(void)state;
	make_ctxs(fx->ca.cert, false);
	tu_socketpair(sv);
	fx->cli = tu_tls_over(fx->cctx, sv[0], &co, "localhost");
	fx->srv = tu_tls_over(fx->sctx, sv[1], &so, NULL);
	handshake(IO_DONE);
	assert_false(report_pending(fx->cli));
	assert_null(report_build(fx->cli, REPORT_JSON, NULL, ST_OK, NULL));
	/* (The server's context records offers: that is asking for one.) */
}

static void
test_save_chain(void **state)
{
	struct error e = { ST_OK, "" };
	char *path;
	X509 *x;
	FILE *f;

	(void)state;
	make_ctxs(fx->ca.cert, false);
	make_pair();
	handshake(IO_DONE);
	assert_true(asprintf(&path, "%s/chain.pem", fx->dir) > 0);
	assert_int_equal(report_save_chain(fx->cli, path, &e), 0);
	/* The server sent no chain to the client's side of things. */
	assert_int_equal(report_save_chain(fx->srv, path, &e), 1);
	f = fopen(path, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	assert_non_null(x);
	assert_int_equal(X509_cmp(x, fx->leaf.cert), 0);
	X509_free(x);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	assert_non_null(x);
	assert_int_equal(X509_cmp(x, fx->inter.cert), 0);
	X509_free(x);
	assert_null(PEM_read_X509(f, NULL, NULL, NULL));
	ERR_clear_error();
	fclose(f);
	free(path);
}

/* --- The key log. */

static void
hex_of(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/*
 * Read the key log; every line must name the client's random of this
 * session.  Returns the labels found, joined by spaces.
 */
static void
keylog_labels(char *labels, size_t len)
{
	unsigned char rnd[SSL3_RANDOM_SIZE];
	char want[2 * SSL3_RANDOM_SIZE + 1], line[512], label[64], cr[80];
	FILE *f;

	assert_int_equal(SSL_get_client_random(tls_get_ssl(fx->cli), rnd,
	    sizeof(rnd)), sizeof(rnd));
	hex_of(rnd, sizeof(rnd), want);
	labels[0] = '\0';
	f = fopen(fx->keylog, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		assert_int_equal(sscanf(line, "%63s %79s", label, cr), 2);
		if (strcmp(cr, want) != 0)
			fail_msg("line %s: client random %s, want %s", label,
			    cr, want);
		snprintf(labels + strlen(labels), len - strlen(labels), "%s ",
		    label);
	}
	fclose(f);
}

static void
test_keylog_tls13(void **state)
{
	char labels[1024];

	(void)state;
	make_ctxs(fx->ca.cert, true);
	make_pair();
	handshake(IO_DONE);
	keylog_labels(labels, sizeof(labels));
	assert_has(labels, "CLIENT_HANDSHAKE_TRAFFIC_SECRET ");
	assert_has(labels, "SERVER_HANDSHAKE_TRAFFIC_SECRET ");
	assert_has(labels, "CLIENT_TRAFFIC_SECRET_0 ");
	assert_has(labels, "SERVER_TRAFFIC_SECRET_0 ");
	assert_has(labels, "EXPORTER_SECRET ");
}

static void
test_keylog_tls12(void **state)
{
	char labels[1024];

	(void)state;
	make_ctxs(fx->ca.cert, true);
	assert_int_equal(SSL_CTX_set_max_proto_version(fx->cctx,
	    TLS1_2_VERSION), 1);
	make_pair();
	handshake(IO_DONE);
	keylog_labels(labels, sizeof(labels));
	assert_string_equal(labels, "CLIENT_RANDOM ");
}

/* The key log is 0600 whatever the umask, and is appended to. */
static void
test_keylog_mode(void **state)
{
	struct error e = { ST_OK, "" };
	static const mode_t masks[] = { 0, 022, 0477 };
	mode_t old;
	struct stat st;
	char *path;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		assert_true(asprintf(&path, "%s/kl%zu", fx->dir, i) > 0);
		old = umask(masks[i]);
		fd = report_keylog_open("--ssl-keylog", path, &e);
		umask(old);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		close(fd);
		free(path);
	}
	/* An existing file keeps what it holds, and is made 0600. */
	path = tu_write_text(fx->dir, "old", "FIRST\n");
	assert_int_equal(chmod(path, 0644), 0);
	fd = report_keylog_open("--ssl-keylog", path, &e);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "SECOND\n", 7), 7);
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 13);
	free(path);
	/* A file that cannot be made is a usage error that names it. */
	assert_int_equal(report_keylog_open("--ssl-keylog",
	    "/nonexistent/dir/kl", &e), -1);
	assert_int_equal(e.status, ST_USAGE);
	assert_string_equal(e.msg, "--ssl-keylog /nonexistent/dir/kl: No "
	    "such file or directory");
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_structure),
		cmocka_unit_test(test_hello_lists),
		cmocka_unit_test(test_hello_ciphers_and_overflow),
		cmocka_unit_test(test_hello_sni),
		cmocka_unit_test(test_hello_alpn),
		cmocka_unit_test(test_hello_every_truncation),
		cmocka_unit_test(test_hello_random_bodies),
		cmocka_unit_test(test_hello_flags_and_names),
		T(test_report_json_both_sides),
		T(test_report_text),
		T(test_report_failed_handshake),
		T(test_no_report_without_begin),
		T(test_report_port),
		cmocka_unit_test(test_report_closed),
		cmocka_unit_test(test_days_left),
		T(test_save_chain),
		T(test_keylog_tls13),
		T(test_keylog_tls12),
		T(test_keylog_mode),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
