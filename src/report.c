/*
 * The handshake report (report.h).  One walk over a session's facts feeds
 * an emitter that writes either text lines or JSON, so that the two forms
 * cannot drift apart.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hello.h"
#include "json.h"
#include "net.h"
#include "report.h"
#include "tls.h"

/* What is kept with each session (SSL ex_data), freed with the SSL. */
struct sess {
	struct timespec	 start;
	double		 elapsed_ms;	/* -1 until the report is built */
	bool		 reported;
	/*
	 * What the client offered, on a listener: some kilobytes, so it is
	 * freed once the report is built rather than held by the session.
	 */
	struct hello_offer *offer;
};

static int sess_index = -1;
static int keylog_fd = -1;
static int keylog_errno;	/* why writing the key log stopped, or 0 */

static void
sess_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct sess *s = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (s != NULL)
		free(s->offer);
	free(s);
}

/* The session's state, or NULL when report_begin() never made it. */
static struct sess *
sess_get(SSL *ssl)
{
	if (ssl == NULL || sess_index == -1)
		return NULL;
	return SSL_get_ex_data(ssl, sess_index);
}

/* The session's state, made on first use; NULL when out of memory. */
static struct sess *
sess_of(SSL *ssl)
{
	struct sess *s;

	if (ssl == NULL || sess_index == -1)
		return NULL;
	if ((s = SSL_get_ex_data(ssl, sess_index)) != NULL)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->elapsed_ms = -1;
	if (SSL_set_ex_data(ssl, sess_index, s) != 1) {
		free(s);
		return NULL;
	}
	return s;
}

/* --- What a client offered. */

static void
record_offer(SSL *ssl, struct hello_offer *o)
{
	const unsigned char *p;
	int *types = NULL;
	size_t ntypes, len, i;

	memset(o, 0, sizeof(*o));
	len = SSL_client_hello_get0_ciphers(ssl, &p);
	if (hello_parse_ciphers(p, len, &o->ciphers) == -1)
		o->malformed = true;
	if (SSL_client_hello_get1_extensions_present(ssl, &types,
	    &ntypes) == 1) {
		for (i = 0; i < ntypes; i++)
			if (SSL_client_hello_get0_ext(ssl, (unsigned)types[i],
			    &p, &len) == 1)
				(void)hello_parse_ext(o, (unsigned)types[i], p,
				    len);
		OPENSSL_free(types);
	}
	if (o->versions.n == 0)
		o->versions.v[o->versions.n++] = (uint16_t)
		    SSL_client_hello_get0_legacy_version(ssl);
}

static void
on_client_hello(SSL *ssl)
{
	struct sess *s = sess_of(ssl);

	/* A second ClientHello (after a HelloRetryRequest) replaces it. */
	if (s != NULL && !s->reported && (s->offer != NULL ||
	    (s->offer = malloc(sizeof(*s->offer))) != NULL))
		record_offer(ssl, s->offer);
}

/* --- The key log. */

static void
on_keylog(const SSL *ssl, const char *line)
{
	size_t len = strlen(line);
	char *buf;

	(void)ssl;
	if (keylog_fd < 0 || (buf = malloc(len + 1)) == NULL)
		return;
	memcpy(buf, line, len);
	buf[len] = '\n';
	/*
	 * One write per line, so that O_APPEND keeps lines whole.  After a
	 * failure (a full disk) no more is written, and the driver says so.
	 */
	if (write(keylog_fd, buf, len + 1) != (ssize_t)(len + 1)) {
		keylog_errno = errno != 0 ? errno : ENOSPC;
		keylog_fd = -1;
	}
	OPENSSL_cleanse(buf, len + 1);
	free(buf);
}

int
report_keylog_error(void)
{
	return keylog_errno;
}

int
report_keylog_open(const char *opt, const char *path, struct error *e)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
	    0600);
	if (fd == -1)
		return err_errno(e, ST_USAGE, errno, "%s %s", opt, path), -1;
	/*
	 * The umask may have taken bits away, never added any: fchmod sets
	 * 0600 exactly.  Only a regular file: a FIFO or a device (a pipe to
	 * a tool, /dev/null) is not ours to change.
	 */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    fchmod(fd, 0600) == -1) {
		err_errno(e, ST_USAGE, errno, "%s %s: cannot make it mode 0600",
		    opt, path);
		close(fd);
		return -1;
	}
	return fd;
}

int
report_ctx_setup(SSL_CTX *ctx, bool offers, int klfd, struct error *e)
{
	if (sess_index == -1 && (sess_index = SSL_get_ex_new_index(0, NULL,
	    NULL, NULL, sess_free)) == -1)
		return err_ssl(e, ST_RUNTIME, "SSL_get_ex_new_index"), -1;
	if (offers && tls_ctx_on_hello(ctx, on_client_hello) == -1)
		return err_set(e, ST_RUNTIME, "TLS set-up failed: no context "
		    "data for the ClientHello"), -1;
	if (klfd >= 0) {
		keylog_fd = klfd;
		SSL_CTX_set_keylog_callback(ctx, on_keylog);
	}
	return 0;
}

void
report_begin(struct stream *st)
{
	(void)sess_of(tls_get_ssl(st));
}

bool
report_pending(struct stream *st)
{
	struct sess *s = sess_get(tls_get_ssl(st));

	return s != NULL && !s->reported;
}

/* --- The emitter: the same calls write text lines or JSON. */

struct emit {
	struct jbuf	 b;
	bool		 json;
	const char	*prefix;
	int		 depth;		/* text: indentation */
	bool		 inline_list;	/* text: items go on the current line */
	bool		 first_item;
};

/* Text: the start of a line, "prefix" and two spaces per level. */
static void
text_line(struct emit *e, const char *key)
{
	jb_printf(&e->b, "%s%*s%s:", e->prefix, 2 * e->depth, "", key);
}

/* Text: s with control characters as \xNN, so that no terminal obeys them. */
static void
text_value(struct emit *e, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			jb_printf(&e->b, "\\x%02x", c);
		else
			jb_raw(&e->b, s, 1);
	}
}

static void
e_obj(struct emit *e, const char *key)
{
	if (e->json) {
		if (key != NULL)
			json_key(&e->b, key);
		json_open(&e->b, '{');
	} else if (key != NULL) {
		text_line(e, key);
		jb_puts(&e->b, "\n");
		e->depth++;
	}
}

static void
e_end_obj(struct emit *e, bool keyed)
{
	if (e->json)
		json_close(&e->b, '}');
	else if (keyed)
		e->depth--;
}

/* A list: of strings on one text line (inline), or of objects. */
static void
e_arr(struct emit *e, const char *key, bool inline_list)
{
	if (e->json) {
		json_key(&e->b, key);
		json_open(&e->b, '[');
		return;
	}
	e->inline_list = inline_list;
	e->first_item = true;
	if (inline_list)
		text_line(e, key);
}

static void
e_end_arr(struct emit *e)
{
	if (e->json) {
		json_close(&e->b, ']');
		return;
	}
	if (e->inline_list)
		jb_puts(&e->b, e->first_item ? " none\n" : "\n");
	e->inline_list = false;
}

static void
e_item(struct emit *e, const char *v)
{
	if (e->json) {
		json_str(&e->b, v);
		return;
	}
	jb_puts(&e->b, e->first_item ? " " : ", ");
	text_value(e, v);
	e->first_item = false;
}

/* A string member; NULL is JSON's null, and "none" in text. */
static void
e_str(struct emit *e, const char *key, const char *v)
{
	if (e->json) {
		json_key(&e->b, key);
		json_str(&e->b, v);
		return;
	}
	text_line(e, key);
	jb_puts(&e->b, " ");
	text_value(e, v != NULL ? v : "none");
	jb_puts(&e->b, "\n");
}

static void
e_int(struct emit *e, const char *key, long long v)
{
	char buf[32];

	if (e->json) {
		json_key(&e->b, key);
		json_int(&e->b, v);
		return;
	}
	snprintf(buf, sizeof(buf), "%lld", v);
	e_str(e, key, buf);
}

static void
e_bool(struct emit *e, const char *key, bool v)
{
	if (e->json) {
		json_key(&e->b, key);
		json_bool(&e->b, v);
		return;
	}
	e_str(e, key, v ? "yes" : "no");
}

/* Milliseconds, to the microsecond. */
static void
e_ms(struct emit *e, const char *key, double ms)
{
	char buf[32];

	if (e->json) {
		json_key(&e->b, key);
		json_fixed(&e->b, ms, 3);
		return;
	}
	snprintf(buf, sizeof(buf), "%.3f", ms);
	e_str(e, key, buf);
}

/* --- Certificates. */

/* Print into a memory BIO with f, and copy what it wrote to out. */
static void
bio_string(X509 *x, int (*f)(BIO *, X509 *), char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (f(b, x) > 0) {
		l = BIO_get_mem_data(b, &p);
		snprintf(out, len, "%.*s", (int)l, p);
	}
	BIO_free(b);
}

static int
print_subject(BIO *b, X509 *x)
{
	return X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253) >= 0;
}

static int
print_issuer(BIO *b, X509 *x)
{
	return X509_NAME_print_ex(b, X509_get_issuer_name(x), 0,
	    XN_FLAG_RFC2253) >= 0;
}

/* The serial as openssl x509 -serial prints it: upper-case hex. */
static int
print_serial(BIO *b, X509 *x)
{
	return i2a_ASN1_INTEGER(b, X509_get0_serialNumber(x)) > 0;
}

/* "2026-12-03T22:05:00Z", or "" when the time does not parse. */
static void
iso_time(const ASN1_TIME *t, char out[32])
{
	struct tm tm;

	out[0] = '\0';
	if (t != NULL && ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
emit_sans(struct emit *e, X509 *x)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	char buf[300], ip[INET6_ADDRSTRLEN];
	const GENERAL_NAME *g;
	const unsigned char *p;
	int i, len, type;

	e_arr(e, "san", true);
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		g = sk_GENERAL_NAME_value(names, i);
		type = g->type;
		buf[0] = '\0';
		if (type == GEN_DNS || type == GEN_EMAIL || type == GEN_URI) {
			p = ASN1_STRING_get0_data(g->d.ia5);
			len = ASN1_STRING_length(g->d.ia5);
			snprintf(buf, sizeof(buf), "%s:%.*s", type == GEN_DNS ?
			    "DNS" : type == GEN_EMAIL ? "email" : "URI", len, p);
		} else if (type == GEN_IPADD) {
			p = ASN1_STRING_get0_data(g->d.ip);
			len = ASN1_STRING_length(g->d.ip);
			if ((len == 4 || len == 16) && inet_ntop(len == 4 ?
			    AF_INET : AF_INET6, p, ip, sizeof(ip)) != NULL)
				snprintf(buf, sizeof(buf), "IP:%s", ip);
		}
		if (buf[0] != '\0')
			e_item(e, buf);
	}
	e_end_arr(e);
	GENERAL_NAMES_free(names);
}

static void
emit_key(struct emit *e, X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	char group[64];
	size_t glen = 0;

	e_str(e, "key_type", k != NULL ? EVP_PKEY_get0_type_name(k) : NULL);
	e_int(e, "key_bits", k != NULL ? EVP_PKEY_get_bits(k) : 0);
	if (k == NULL || EVP_PKEY_get_group_name(k, group, sizeof(group),
	    &glen) != 1)
		e_str(e, "key_group", NULL);
	else
		e_str(e, "key_group", group);
}

int
report_days_left(X509 *x)
{
	int days = 0, secs = 0;

	(void)ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
	/* A part of a day gone past notAfter counts as a whole one. */
	return days - (days <= 0 && secs < 0 ? 1 : 0);
}

static void
emit_cert(struct emit *e, X509 *x, int depth)
{
	char buf[1024], label[32], fp[TLS_FP_MAX];
	int nid = X509_get_signature_nid(x);

	snprintf(label, sizeof(label), "certificate %d", depth);
	e_obj(e, e->json ? NULL : label);
	e_int(e, "depth", depth);
	bio_string(x, print_subject, buf, sizeof(buf));
	e_str(e, "subject", buf);
	bio_string(x, print_issuer, buf, sizeof(buf));
	e_str(e, "issuer", buf);
	bio_string(x, print_serial, buf, sizeof(buf));
	e_str(e, "serial", buf);
	iso_time(X509_get0_notBefore(x), buf);
	e_str(e, "not_before", buf);
	iso_time(X509_get0_notAfter(x), buf);
	e_str(e, "not_after", buf);
	e_int(e, "days_left", report_days_left(x));
	emit_sans(e, x);
	emit_key(e, x);
	e_str(e, "signature_algorithm", nid != NID_undef ? OBJ_nid2ln(nid) :
	    NULL);
	tls_fingerprint(x, fp);
	e_str(e, "sha256", fp);
	e_end_obj(e, !e->json);
}

/*
 * The peer's chain, leaf first, as a new stack (of references).  A client
 * is given the leaf in the chain; a server is not.
 */
static STACK_OF(X509) *
peer_chain(SSL *ssl)
{
	STACK_OF(X509) *sent = SSL_get_peer_cert_chain(ssl), *out;
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	int i;

	if ((out = sk_X509_new_null()) == NULL)
		return NULL;
	if (SSL_is_server(ssl) && leaf != NULL && X509_up_ref(leaf) &&
	    sk_X509_push(out, leaf) == 0)
		X509_free(leaf);
	for (i = 0; i < sk_X509_num(sent); i++) {
		X509 *x = sk_X509_value(sent, i);

		if (X509_up_ref(x) && sk_X509_push(out, x) == 0)
			X509_free(x);
	}
	if (sk_X509_num(out) == 0 && (leaf = tls_peer_leaf(ssl)) != NULL &&
	    X509_up_ref(leaf) && sk_X509_push(out, leaf) == 0)
		X509_free(leaf);
	return out;
}

static void
emit_chain(struct emit *e, SSL *ssl)
{
	STACK_OF(X509) *chain = peer_chain(ssl);
	int i;

	e_arr(e, "chain", false);
	for (i = 0; i < sk_X509_num(chain); i++)
		emit_cert(e, sk_X509_value(chain, i), i);
	if (!e->json && sk_X509_num(chain) <= 0) {
		text_line(e, "chain");
		jb_puts(&e->b, " none\n");
	}
	e_end_arr(e);
	sk_X509_pop_free(chain, X509_free);
}

int
report_save_chain(struct stream *st, const char *path, struct error *e)
{
	SSL *ssl = tls_get_ssl(st);
	STACK_OF(X509) *chain;
	BIO *b;
	int i, ok = 1;

	if (ssl == NULL || (chain = peer_chain(ssl)) == NULL)
		return 1;
	if (sk_X509_num(chain) == 0) {
		sk_X509_free(chain);
		return 1;
	}
	if ((b = BIO_new_file(path, "w")) == NULL) {
		sk_X509_pop_free(chain, X509_free);
		return err_errno(e, ST_RUNTIME, errno, "--ssl-save-chain %s",
		    path), -1;
	}
	for (i = 0; i < sk_X509_num(chain) && ok; i++)
		ok = PEM_write_bio_X509(b, sk_X509_value(chain, i));
	if (BIO_flush(b) != 1)
		ok = 0;
	BIO_free(b);
	sk_X509_pop_free(chain, X509_free);
	if (!ok)
		return err_ssl(e, ST_RUNTIME, "--ssl-save-chain %s: cannot "
		    "write it", path), -1;
	return 0;
}

/* --- The session. */

/* "ECDSA+SHA256": the peer's handshake signature, or NULL. */
static const char *
peer_signature(SSL *ssl, char *buf, size_t len)
{
	int type = NID_undef, hash = NID_undef;
	const char *t;

	if (SSL_get_peer_signature_type_nid(ssl, &type) != 1)
		return NULL;
	switch (type) {
	case EVP_PKEY_RSA:	t = "RSA-PKCS1"; break;
	case EVP_PKEY_RSA_PSS:	t = "RSA-PSS"; break;
	case EVP_PKEY_EC:	t = "ECDSA"; break;
	case EVP_PKEY_ED25519:	return "Ed25519";
	case EVP_PKEY_ED448:	return "Ed448";
	default:		t = OBJ_nid2sn(type); break;
	}
	if (SSL_get_peer_signature_nid(ssl, &hash) == 1 && hash != NID_undef)
		snprintf(buf, len, "%s+%s", t, OBJ_nid2sn(hash));
	else
		snprintf(buf, len, "%s", t);
	return buf;
}

static void
emit_negotiated(struct emit *e, SSL *ssl, const struct sess *s,
    const struct tls_info *info)
{
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	char buf[256];
	bool up = SSL_is_init_finished(ssl);

	e_str(e, "version", up ? info->version : NULL);
	e_str(e, "cipher", up ? info->cipher : NULL);
	e_str(e, "group", up && strcmp(info->group, "none") != 0 ?
	    info->group : NULL);
	e_str(e, "peer_signature", peer_signature(ssl, buf, sizeof(buf)));
	SSL_get0_alpn_selected(ssl, &alpn, &alen);
	snprintf(buf, sizeof(buf), "%.*s", (int)alen, alpn != NULL ?
	    (const char *)alpn : "");
	e_str(e, "alpn", alen > 0 ? buf : NULL);
	/*
	 * A server reports the name it received, which OpenSSL does not
	 * give for a resumed TLS 1.2 session.
	 */
	if (s->offer != NULL)
		sni = s->offer->have_sni ? s->offer->sni : NULL;
	e_str(e, "sni", sni);
	e_bool(e, "resumed", up && SSL_session_reused(ssl));
	/* No OCSP response is asked for or stapled yet. */
	e_str(e, "ocsp", "none");
	e_str(e, "kernel_tls", up && tls_ktls_state(ssl) != NULL ?
	    tls_ktls_state(ssl) : "off");
}

/*
 * The verification: its result in one word, the X509_V_ERR code, the
 * reason it failed, and the whole sentence that -v prints.
 */
static void
emit_verify(struct emit *e, SSL *ssl, const struct tls_info *info)
{
	const char *v = info->verify, *result, *reason = NULL, *p;
	long code = SSL_get_verify_result(ssl);
	char would[sizeof(info->verify)];

	if (SSL_is_server(ssl))
		result = "none";
	else if (!info->have_peer_cert)
		result = "none";
	else if (strncmp(v, "ok (pinned", 10) == 0)
		result = "pinned";
	else if (strncmp(v, "ok", 2) == 0)
		result = "ok";
	else if (strncmp(v, "disabled", 8) == 0)
		result = "disabled";
	else
		result = "failed";
	if (strcmp(result, "failed") == 0)
		reason = strncmp(v, "failed: ", 8) == 0 ? v + 8 : v;
	/* --ssl-no-verify: why it would have failed, out of the brackets. */
	if (strcmp(result, "disabled") == 0 &&
	    (p = strstr(v, "(it would fail: ")) != NULL) {
		snprintf(would, sizeof(would), "%s", p + 16);
		if (strlen(would) > 0 && would[strlen(would) - 1] == ')')
			would[strlen(would) - 1] = '\0';
		reason = would;
	}
	e_obj(e, "verify");
	e_str(e, "result", result);
	e_int(e, "code", code);
	e_str(e, "reason", reason);
	/* In text, the reason of a failure says it all already. */
	if (e->json || reason == NULL)
		e_str(e, "detail", strcmp(result, "none") == 0 &&
		    !SSL_is_server(ssl) ? "no peer certificate" : v);
	e_end_obj(e, true);
}

static void
emit_list(struct emit *e, const char *key, const struct hello_list *l,
    const char *(*name)(uint16_t, char *), SSL *ssl)
{
	char buf[HELLO_NAME_MAX];
	const SSL_CIPHER *c;
	unsigned char id[2];
	size_t i;

	e_arr(e, key, true);
	for (i = 0; i < l->n; i++) {
		if (name != NULL) {
			e_item(e, name(l->v[i], buf));
			continue;
		}
		id[0] = (unsigned char)(l->v[i] >> 8);
		id[1] = (unsigned char)l->v[i];
		if ((c = SSL_CIPHER_find(ssl, id)) != NULL)
			e_item(e, SSL_CIPHER_get_name(c));
		else
			e_item(e, hello_version_name(l->v[i], buf));
	}
	e_end_arr(e);
}

static void
emit_offer(struct emit *e, SSL *ssl, const struct sess *s)
{
	const struct hello_offer *o = s->offer;
	size_t i;

	if (o == NULL) {
		if (e->json) {
			json_key(&e->b, "offered");
			json_null(&e->b);
		}
		return;
	}
	e_obj(e, "offered");
	emit_list(e, "versions", &o->versions, hello_version_name, ssl);
	emit_list(e, "ciphers", &o->ciphers, NULL, ssl);
	emit_list(e, "groups", &o->groups, hello_group_name, ssl);
	emit_list(e, "signature_algorithms", &o->sigalgs, hello_sigalg_name,
	    ssl);
	e_arr(e, "alpn", true);
	/* A name may hold any byte: a NUL in it ends it here. */
	for (i = 0; i < o->nalpn; i++)
		e_item(e, o->alpn[i].name);
	e_end_arr(e);
	e_str(e, "sni", o->have_sni ? o->sni : NULL);
	e_bool(e, "session_ticket", o->ticket);
	e_bool(e, "psk", o->psk);
	e_bool(e, "ocsp_request", o->status_request);
	e_bool(e, "malformed", o->malformed);
	/* The lists keep HELLO_LIST_MAX names, and ALPN HELLO_ALPN_MAX. */
	e_bool(e, "truncated", o->versions.dropped + o->ciphers.dropped +
	    o->groups.dropped + o->sigalgs.dropped + o->alpn_dropped > 0);
	e_end_obj(e, true);
}

/* The peer's address, from the socket under the session, or "". */
static void
peer_address(SSL *ssl, char out[ADDR_STR_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = SSL_get_fd(ssl);

	out[0] = '\0';
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, out, ADDR_STR_MAX);
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The start of a report: its heading, and the keys every one has. */
static void
emit_head(struct emit *e, const char *side, const char *peer, unsigned port)
{
	if (!e->json)
		jb_printf(&e->b, "%sTLS report:\n", e->prefix);
	e_obj(e, NULL);
	if (!e->json)
		e->depth++;
	e_str(e, "side", side);
	e_str(e, "peer", peer != NULL && peer[0] != '\0' ? peer : NULL);
	if (port != 0)
		e_int(e, "port", port);
}

static void
emit_session(struct emit *e, struct stream *st, SSL *ssl, struct sess *s,
    unsigned port, enum status status, const char *failure)
{
	struct tls_info info;
	char peer[ADDR_STR_MAX];

	tls_get_info(st, &info);
	peer_address(ssl, peer);
	emit_head(e, SSL_is_server(ssl) ? "server" : "client", peer, port);
	/* A -z probe's port accepted the connection. */
	if (port != 0)
		e_bool(e, "open", true);
	e_str(e, "result", failure == NULL ? "ok" : "failed");
	e_int(e, "status", failure == NULL ? 0 : (long long)status);
	e_str(e, "error", failure);
	e_ms(e, "handshake_ms", s->elapsed_ms);
	emit_negotiated(e, ssl, s, &info);
	emit_verify(e, ssl, &info);
	emit_chain(e, ssl);
	emit_offer(e, ssl, s);
	e_end_obj(e, false);
	if (e->json)
		jb_puts(&e->b, "\n");
}

/* The emitter's text as a string to free(), or NULL when out of memory. */
static char *
emit_result(struct emit *e)
{
	if (e->b.failed) {
		jb_free(&e->b);
		return NULL;
	}
	return e->b.p;
}

char *
report_build(struct stream *st, enum report_format fmt, const char *prefix,
    enum status status, const char *failure)
{
	return report_build_port(st, fmt, prefix, 0, status, failure);
}

char *
report_build_port(struct stream *st, enum report_format fmt,
    const char *prefix, unsigned port, enum status status,
    const char *failure)
{
	SSL *ssl = tls_get_ssl(st);
	struct sess *s = sess_get(ssl);
	struct emit e;

	if (s == NULL)
		return NULL;
	if (!s->reported)
		s->elapsed_ms = ms_since(&s->start);
	s->reported = true;
	memset(&e, 0, sizeof(e));
	e.json = fmt == REPORT_JSON;
	e.prefix = prefix != NULL ? prefix : "";
	emit_session(&e, st, ssl, s, port, status, failure);
	free(s->offer);
	s->offer = NULL;
	return emit_result(&e);
}

char *
report_build_closed(enum report_format fmt, const char *prefix,
    const char *peer, unsigned port, enum status status, const char *error)
{
	struct emit e;

	memset(&e, 0, sizeof(e));
	e.json = fmt == REPORT_JSON;
	e.prefix = prefix != NULL ? prefix : "";
	emit_head(&e, "client", peer, port);
	e_bool(&e, "open", false);
	e_str(&e, "result", "closed");
	e_int(&e, "status", (long long)status);
	e_str(&e, "error", error);
	e_end_obj(&e, false);
	if (e.json)
		jb_puts(&e.b, "\n");
	return emit_result(&e);
}
