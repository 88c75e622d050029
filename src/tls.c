/*
 * The TLS stream and its contexts.
 *
 * The stream gives OpenSSL the socket itself when the lower stream is a
 * socket (the fast path, and the one kernel TLS can take over); OpenSSL's
 * results are mapped onto the stream vocabulary in one place, tls_result().
 */
#include "config.h"

#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "net.h"
#include "tls.h"

/*
 * OpenSSL's buffers follow the load, as a flow's do.  While full records
 * move, a session is busy: the read-ahead buffer is large enough for many
 * records per read(2), and OpenSSL keeps its buffers.  Once small records
 * move, it is idle: the read buffer holds one record, and OpenSSL frees
 * both buffers whenever they are empty (SSL_MODE_RELEASE_BUFFERS), so an
 * idle session holds none.  Freeing them between every two reads of a
 * bulk transfer would cost more than the transfer.
 */
#define TLS_READ_BUFFER_BUSY	(256 * 1024)
#define TLS_READ_BUFFER_IDLE	(17 * 1024)
/* TLS 1.3 session tickets a server sends after each full handshake. */
#define TLS_SERVER_TICKETS	1
#define TLS_FULL_RECORD		16384
#define TLS_SMALL_RECORD	4096

struct tls {
	SSL		*ssl;
	bool		 server;
	bool		 no_verify;
	bool		 have_pin;	/* npins > 0 */
	bool		 pin_ok;
	bool		 pin_mismatch;
	bool		 verify_failed;	/* the handshake failed on the peer cert */
	bool		 shut_sent;	/* close_notify is out */
	bool		 cert_requested; /* asked for a certificate we lack */
	bool		 starved;	/* the last read wanted the socket */
	bool		 busy;		/* full records move: keep buffers */
	bool		 large_rbuf;	/* ... and the read buffer is the large one */
	bool		 eof_unclean;	/* EOF came without close_notify */
	bool		 lower_failed;	/* the lower stream said IO_ERROR */
	bool		 leaf_is_ca;	/* refused: the leaf is a CA */
	bool		 refused_renegotiation;	/* no_renegotiation went out */
	bool		 ocsp_refused;	/* --ssl-ocsp=require refused it */
	const char	*ocsp;		/* the stapled status, in words */
	/*
	 * What only a refused certificate needs is kept by reference, and
	 * pins only when there are some: a listener may hold many sessions.
	 */
	unsigned char	(*pins)[TLS_PIN_LEN];
	size_t		 npins;
	X509		*pin_ca;	/* a pin matched this CA, not the leaf */
	int		 verify_err;	/* first X509_V_ERR_* seen, or 0 */
	int		 verify_depth;	/* ... at this depth in the chain */
	int		 sent_certs;	/* the peer sent this many certificates */
	X509		*err_cert;	/* ... and the certificate there */
	X509		*leaf;		/* the peer's certificate, even if refused */
	char		 name[256];	/* the name being verified */
};

static int tls_ex_index = -1;

/*
 * Kernel TLS.  Where the kernel has the tls module (its "tls" upper layer
 * is listed in /proc/sys/net/ipv4/tcp_available_ulp), a context asks
 * OpenSSL for it (SSL_OP_ENABLE_KTLS).  When the handshake has made the
 * traffic keys, OpenSSL hands them to the socket (setsockopt TCP_ULP
 * "tls", then TLS_TX and TLS_RX) and from then on the kernel seals and
 * opens the records: SSL_write() writes plaintext to the socket and
 * SSL_read() reads plaintext from it, and OpenSSL's record buffers and
 * their copies drop out.  Alerts and other records that are not data go
 * through control messages.  OpenSSL does this for each direction on its
 * own, only for ciphers the kernel has (AES-GCM; ChaCha20-Poly1305 on
 * newer kernels), only with full-size records and no record padding, and
 * only over a socket given with SSL_set_fd(), never through the stream
 * BIO below.  Anything else, a kernel without the module included, leaves
 * that direction to OpenSSL as before, and nothing is lost: the keys are
 * handed over only when the kernel takes them.  So does an OpenSSL built
 * without kernel TLS (Debian 12's 3.0 is; Debian 13's 3.5 is not).
 *
 * Read-ahead conflicts with kernel TLS on receive: the kernel must find
 * the socket at a record boundary when it takes over, and read-ahead may
 * already have taken bytes beyond it.  So a session that asks for kernel
 * TLS reads without read-ahead during the handshake; when the kernel did
 * not take the receive side, read-ahead goes back on once it is done.
 * (Where it did, OpenSSL 3.2 and later read ahead on their own: each
 * recvmsg(2) then gives one record's plaintext.)
 *
 * TLSNC_KTLS in the environment overrides the check: "off" never asks, and
 * "force" asks even when the module is not listed (a kernel may then load
 * it on demand, or refuse, which is the fallback's test).
 *
 * Zero-copy on top of it.  Once the kernel seals the send side, the socket
 * takes plaintext, so the TLS layer answers the flow's "raw fd to write"
 * question (STREAM_Q_RAW_WFD) with it, and the flow's own splice(2) and
 * sendfile(2) paths send a pipe or a file with no copy through tlsnc; the
 * flow still refuses when anything must see the bytes (a data option,
 * datagrams, TLSNC_NO_SPLICE).  The layer lends the socket only after the
 * handshake, before its close_notify, and with nothing unsent inside
 * OpenSSL; the flow asks once its first bytes have gone through SSL_write()
 * and starts only with its buffer empty, so no record of OpenSSL's is cut.
 * close_notify is still OpenSSL's: the half-close after the last spliced
 * byte is SSL_shutdown(), which the kernel sends as an alert record.
 *
 * Receiving the same way is safe, with one rule, and is done: splice(2)
 * from a socket whose receive side the kernel opens gives the plaintext of
 * data records only.  At a record that is not data (close_notify or
 * another alert, a TLS 1.3 ticket or key update) it fails (EINVAL) and
 * leaves the record queued, and at a FIN it returns 0; a plain read(2) of
 * such a socket cannot tell those apart.  So the layer lends its socket
 * for reading (STREAM_Q_RAW_RFD) only with nothing read and not handed out
 * inside OpenSSL and no close_notify seen, and the flow, on any result of
 * splice(2) but bytes or "would block", goes back to SSL_read() for the
 * rest of the flow: OpenSSL then reads the queued record, or the FIN, and
 * tells close_notify from a truncation (exit status 6) exactly as without
 * the kernel.  The bytes already spliced are written out first.
 *
 * -vv names the path ("zero-copy: sendfile (file -> kernel TLS socket)").
 * Whether the kernel took a direction is asked with BIO_ctrl() (see
 * ktls_sends()).  tests/ktls/run tests all this in a VM whose kernel and
 * OpenSSL have kernel TLS.
 */
enum ktls_use {
	KTLS_AUTO,		/* when the kernel lists the module */
	KTLS_OFF,
	KTLS_FORCE,
};

static enum ktls_use
ktls_wanted(void)
{
	const char *v = getenv("TLSNC_KTLS");

	if (v == NULL || *v == '\0' || strcmp(v, "auto") == 0)
		return KTLS_AUTO;
	if (strcmp(v, "force") == 0)
		return KTLS_FORCE;
	return KTLS_OFF;
}

/* Whether the kernel lists its "tls" upper layer protocol as loaded. */
static bool
kernel_has_tls(void)
{
	char buf[256], *w, *save = NULL;
	ssize_t n;
	int fd;

	if ((fd = open("/proc/sys/net/ipv4/tcp_available_ulp",
	    O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (w = strtok_r(buf, " \t\n", &save); w != NULL;
	    w = strtok_r(NULL, " \t\n", &save))
		if (strcmp(w, "tls") == 0)
			return true;
	return false;
}

/*
 * Whether the kernel took a direction.  Asked with BIO_ctrl() itself, not
 * BIO_get_ktls_send() or _recv(): those are macros that headers of an
 * OpenSSL built without kernel TLS (Debian 12's) make a constant 0, while
 * the library found at run time may have it (Debian 13's); a library
 * without it answers 0 to the control.
 */
static bool
ktls_sends(BIO *b)
{
	return b != NULL && BIO_ctrl(b, BIO_CTRL_GET_KTLS_SEND, 0, NULL) > 0;
}

static bool
ktls_receives(BIO *b)
{
	return b != NULL && BIO_ctrl(b, BIO_CTRL_GET_KTLS_RECV, 0, NULL) > 0;
}

/* Ask for kernel TLS where the kernel has it: see above. */
static void
ctx_ktls(SSL_CTX *ctx)
{
	enum ktls_use use = ktls_wanted();

	if (use == KTLS_OFF || (use == KTLS_AUTO && !kernel_has_tls()))
		return;
	SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_read_ahead(ctx, 0);
}

/*
 * After the handshake: a receive side that the kernel did not take gets
 * read-ahead back, for several records per read(2).
 */
static void
ktls_settle(struct tls *t)
{
	if ((SSL_get_options(t->ssl) & SSL_OP_ENABLE_KTLS) == 0 ||
	    ktls_receives(SSL_get_rbio(t->ssl)))
		return;
	SSL_set_read_ahead(t->ssl, 1);
}

/*
 * The socket, for zero-copy around OpenSSL in direction dir (see above and
 * STREAM_Q_RAW_RFD), or -1.  Only once the handshake is done, the kernel
 * does that direction's records and OpenSSL holds none of its bytes:
 * nothing unsent below a write, nothing read and not handed out above a
 * read, and no close_notify gone out or come in.
 */
static int
ktls_raw_fd(const struct tls *t, enum io dir)
{
	int shut = SSL_get_shutdown(t->ssl);
	BIO *b;

	if ((SSL_get_options(t->ssl) & SSL_OP_ENABLE_KTLS) == 0 ||
	    !SSL_is_init_finished(t->ssl))
		return -1;
	if (dir == IO_WANT_WRITE) {
		b = SSL_get_wbio(t->ssl);
		if (!ktls_sends(b) || BIO_wpending(b) != 0 ||
		    t->shut_sent || (shut & SSL_SENT_SHUTDOWN) != 0)
			return -1;
		return SSL_get_wfd(t->ssl);
	}
	b = SSL_get_rbio(t->ssl);
	if (!ktls_receives(b) || SSL_pending(t->ssl) > 0 ||
	    SSL_has_pending(t->ssl) || t->eof_unclean ||
	    (shut & SSL_RECEIVED_SHUTDOWN) != 0)
		return -1;
	return SSL_get_rfd(t->ssl);
}

const char *
tls_ktls_state(const SSL *ssl)
{
	bool tx, rx;

	if ((SSL_get_options(ssl) & SSL_OP_ENABLE_KTLS) == 0)
		return NULL;
	tx = ktls_sends(SSL_get_wbio(ssl));
	rx = ktls_receives(SSL_get_rbio(ssl));
	return tx && rx ? "send and receive" : tx ? "send" : rx ? "receive" :
	    "not in use";
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
tls_parse_pin(const char *s, unsigned char out[TLS_PIN_LEN])
{
	size_t i = 0;
	int hi, lo;

	if (strncasecmp(s, "SHA256:", 7) == 0)
		s += 7;
	while (*s != '\0') {
		if (*s == ':' && i > 0 && i < TLS_PIN_LEN && s[-1] != ':') {
			s++;
			continue;
		}
		if (i == TLS_PIN_LEN)
			return -1;
		if ((hi = hexval((unsigned char)s[0])) < 0 ||
		    (lo = hexval((unsigned char)s[1])) < 0)
			return -1;
		out[i++] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
	return i == TLS_PIN_LEN ? 0 : -1;
}

static int
cert_digest(X509 *x, unsigned char md[TLS_PIN_LEN])
{
	unsigned int len = 0;

	if (!X509_digest(x, EVP_sha256(), md, &len) || len != TLS_PIN_LEN)
		return -1;
	return 0;
}

int
tls_fingerprint(X509 *x, char out[TLS_FP_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[TLS_PIN_LEN];
	char *p = out;
	int i;

	if (cert_digest(x, md) == -1) {
		out[0] = '\0';
		return -1;
	}
	memcpy(p, "SHA256:", 7);
	p += 7;
	for (i = 0; i < TLS_PIN_LEN; i++) {
		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 0xf];
	}
	*p = '\0';
	return 0;
}

/* A name safe to put in an X509V3 configuration string. */
static bool
is_plain_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' &&
		    *s != ':' && *s != '_')
			return false;
	return true;
}

static int
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

int
tls_make_ephemeral(const char *name, EVP_PKEY **pkeyp, X509 **certp,
    struct error *e)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL, *y;
	X509_NAME *subj;
	BIGNUM *bn = NULL;
	char san[600];

	*pkeyp = NULL;
	*certp = NULL;
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1");
	if (name != NULL && is_plain_name(name) &&
	    strcmp(name, "localhost") != 0 && strcmp(name, "127.0.0.1") != 0 &&
	    strcmp(name, "::1") != 0) {
		size_t n = strlen(san);

		snprintf(san + n, sizeof(san) - n, ",%s:%s",
		    addr_is_literal(name) ? "IP" : "DNS", name);
	}
	if ((pkey = EVP_EC_gen("P-256")) == NULL ||
	    (x = X509_new()) == NULL || (bn = BN_new()) == NULL)
		goto fail;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	/* Valid from an hour ago, to tolerate clock skew, for 30 days. */
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) == NULL)
		goto fail;
	subj = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)"tlsnc ephemeral", -1, -1, 0) ||
	    !X509_set_issuer_name(x, subj) || !X509_set_pubkey(x, pkey))
		goto fail;
	if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") == -1 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") == -1 ||
	    add_ext(x, NID_subject_alt_name, san) == -1 ||
	    add_ext(x, NID_subject_key_identifier, "hash") == -1)
		goto fail;
	/*
	 * A certificate built in memory keeps no DER of itself, and every
	 * handshake would encode it again (twice) for its Certificate
	 * message; a copy decoded from DER keeps its encoding.
	 */
	if (X509_sign(x, pkey, EVP_sha256()) == 0 || (y = X509_dup(x)) == NULL)
		goto fail;
	BN_free(bn);
	X509_free(x);
	*pkeyp = pkey;
	*certp = y;
	return 0;
fail:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	err_ssl(e, ST_RUNTIME, "cannot make an ephemeral certificate");
	return -1;
}

static void	name_string(const X509_NAME *, char *, size_t);

/* Whether x's fingerprint is one of the pins. */
static bool
is_pinned(const struct tls *t, X509 *x)
{
	unsigned char md[TLS_PIN_LEN];
	bool hit = false;
	size_t i;

	if (x == NULL || cert_digest(x, md) == -1)
		return false;
	for (i = 0; i < t->npins; i++)
		hit |= CRYPTO_memcmp(md, t->pins[i], TLS_PIN_LEN) == 0;
	return hit;
}

/*
 * Decide the pin once per handshake: the leaf must be pinned.  When it is
 * not, but a pin matches a CA of the chain (as sent, or as built from the
 * trust store), remember which, so that the message can say so: that pin
 * was meant for a CA, and vouches for nothing the CA issued.
 */
static void
check_pins(struct tls *t, X509_STORE_CTX *xs, X509 *leaf)
{
	STACK_OF(X509) *sets[2];
	X509 *x;
	int i, j;

	if (is_pinned(t, leaf)) {
		t->pin_ok = true;
		return;
	}
	t->pin_mismatch = true;
	sets[0] = X509_STORE_CTX_get0_untrusted(xs);
	sets[1] = X509_STORE_CTX_get0_chain(xs);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < sk_X509_num(sets[i]); j++) {
			x = sk_X509_value(sets[i], j);
			if (X509_cmp(x, leaf) != 0 && is_pinned(t, x) &&
			    X509_up_ref(x)) {
				t->pin_ca = x;
				return;
			}
		}
	}
}

/*
 * Keep the first verification error, and what is needed to explain it:
 * how deep in the chain it was, the issuer named there, and how many
 * certificates the peer sent.
 */
static void
note_verify_error(struct tls *t, X509_STORE_CTX *xs)
{
	X509 *cur = X509_STORE_CTX_get_current_cert(xs);

	t->verify_err = X509_STORE_CTX_get_error(xs);
	t->verify_depth = X509_STORE_CTX_get_error_depth(xs);
	t->sent_certs = sk_X509_num(X509_STORE_CTX_get0_untrusted(xs));
	X509_free(t->err_cert);
	t->err_cert = NULL;
	if (cur != NULL && X509_up_ref(cur))
		t->err_cert = cur;
}

/*
 * The verification callback records why a certificate was refused, keeps
 * the peer's certificate so that its fingerprint can be shown even then, and
 * implements pinning and --ssl-no-verify.
 */
static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls *t = ssl != NULL ? SSL_get_ex_data(ssl, tls_ex_index) : NULL;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs), *cur;

	if (t == NULL)
		return ok;
	if (t->leaf == NULL && leaf != NULL && X509_up_ref(leaf))
		t->leaf = leaf;
	if (!ok && t->verify_err == 0)
		note_verify_error(t, xs);
	if (t->have_pin) {
		if (!t->pin_ok && !t->pin_mismatch)
			check_pins(t, xs, leaf);
		if (t->pin_mismatch)
			X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return t->pin_ok;
	}
	if (t->no_verify)
		return 1;
	/*
	 * A CA certificate is no server's certificate: a CA's key that signs
	 * for one name must not be taken for a server.  OpenSSL accepts such a
	 * leaf; the check is made once the rest of the leaf has passed.  (At
	 * depth 0 the current certificate is the leaf, or the trust store's
	 * copy of it.)
	 */
	cur = X509_STORE_CTX_get_current_cert(xs);
	if (ok && X509_STORE_CTX_get_error_depth(xs) == 0 && cur != NULL &&
	    X509_check_ca(cur) != 0) {
		t->leaf_is_ca = true;
		if (t->verify_err == 0)
			t->verify_err = X509_V_ERR_APPLICATION_VERIFICATION;
		X509_STORE_CTX_set_error(xs,
		    X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return ok;
}

/*
 * OpenSSL answers a peer's TLS 1.2 renegotiation (a HelloRequest from a
 * server, a new ClientHello from a client) with a no_renegotiation warning,
 * since renegotiation is off.  Note it, so that the failure that usually
 * follows can say what the peer tried.
 */
static void
note_alert(const SSL *ssl, int where, int ret)
{
	struct tls *t;

	if ((where & SSL_CB_WRITE_ALERT) == 0 ||
	    (ret & 0xff) != SSL_AD_NO_RENEGOTIATION)
		return;
	if ((t = SSL_get_ex_data(ssl, tls_ex_index)) != NULL)
		t->refused_renegotiation = true;
}

/*
 * Called when the server asks for a certificate and none was loaded: note
 * it, so that the server's refusal can be explained.
 */
static int
note_cert_request(SSL *ssl, X509 **x, EVP_PKEY **pkey)
{
	struct tls *t = SSL_get_ex_data(ssl, tls_ex_index);

	(void)x;
	(void)pkey;
	if (t != NULL)
		t->cert_requested = true;
	return 0;
}

/*
 * Certificate, key and trust files are read whole, once, and OpenSSL is
 * given the bytes.  A pipe or a FIFO (--ssl-cert <(...)) can be read only
 * once, so nothing may open the file twice; reading it here also lets the
 * message name the cause ("Is a directory") rather than "PEM lib".
 */
#define TLS_FILE_MAX	(16 * 1024 * 1024)

struct pem_file {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

/* Forget the bytes, which may hold a private key. */
static void
pem_file_free(struct pem_file *f)
{
	if (f->data != NULL)
		OPENSSL_clear_free(f->data, f->cap);
	memset(f, 0, sizeof(*f));
}

/* Make room for more; the old copy is wiped, not left in the heap. */
static int
pem_file_grow(struct pem_file *f)
{
	size_t cap = f->cap == 0 ? 16384 : 2 * f->cap;
	char *data;

	if ((data = OPENSSL_malloc(cap)) == NULL)
		return -1;
	if (f->len > 0)
		memcpy(data, f->data, f->len);
	if (f->data != NULL)
		OPENSSL_clear_free(f->data, f->cap);
	f->data = data;
	f->cap = cap;
	return 0;
}

/*
 * Read path (named by option opt) whole into f.  Returns 0, or -1 with e
 * filled in: ST_USAGE and "OPT PATH: strerror" for a file that cannot be
 * opened or read.
 */
static int
pem_file_read(struct pem_file *f, const char *opt, const char *path,
    struct error *e)
{
	ssize_t n;
	int fd, saved;

	memset(f, 0, sizeof(*f));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return err_errno(e, ST_USAGE, errno, "%s %s", opt, path), -1;
	for (;;) {
		if (f->len == f->cap) {
			if (f->cap >= TLS_FILE_MAX) {
				close(fd);
				pem_file_free(f);
				return err_set(e, ST_USAGE, "%s %s: larger than "
				    "%d MiB", opt, path, TLS_FILE_MAX >> 20), -1;
			}
			if (pem_file_grow(f) == -1) {
				close(fd);
				pem_file_free(f);
				return err_set(e, ST_RUNTIME, "out of memory"),
				    -1;
			}
		}
		n = read(fd, f->data + f->len, f->cap - f->len);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			pem_file_free(f);
			return err_errno(e, ST_USAGE, saved, "%s %s", opt, path),
			    -1;
		}
		f->len += (size_t)n;
	}
	close(fd);
	return 0;
}

/* A read-only BIO over the bytes of f, which must outlive it. */
static BIO *
pem_file_bio(const struct pem_file *f)
{
	return BIO_new_mem_buf(f->len > 0 ? f->data : "", (int)f->len);
}

/*
 * The passphrase callback for PEM blocks that should never be encrypted
 * (certificates): OpenSSL's default would prompt, and read standard input
 * when there is no terminal.
 */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The reading stopped at the end of the PEM blocks, not at an error. */
static bool
pem_at_end(void)
{
	unsigned long code = ERR_peek_last_error();

	if (code == 0 || (ERR_GET_LIB(code) == ERR_LIB_PEM &&
	    ERR_GET_REASON(code) == PEM_R_NO_START_LINE)) {
		ERR_clear_error();
		return true;
	}
	return false;
}

/*
 * The certificate, then any chain certificates after it, from the bytes of
 * the --ssl-cert file: what SSL_CTX_use_certificate_chain_file does with a
 * file name.
 */
static int
use_cert_chain(SSL_CTX *ctx, const struct pem_file *f, const char *path,
    struct error *e)
{
	BIO *b;
	X509 *x, *ca;
	int ok = 0;

	if ((b = pem_file_bio(f)) == NULL)
		return err_ssl(e, ST_RUNTIME, "out of memory"), -1;
	x = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL);
	if (x != NULL && SSL_CTX_use_certificate(ctx, x) == 1 &&
	    SSL_CTX_clear_chain_certs(ctx) == 1) {
		ok = 1;
		while (ok && (ca = PEM_read_bio_X509(b, NULL, no_passphrase,
		    NULL)) != NULL) {
			if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
				X509_free(ca);
				ok = 0;
			}
		}
		if (ok && !pem_at_end())
			ok = 0;
	}
	X509_free(x);
	BIO_free(b);
	if (!ok)
		return err_ssl(e, ST_USAGE,
		    "--ssl-cert %s: no usable PEM certificate", path), -1;
	return 0;
}

/*
 * An encrypted key's passphrase.  It comes from --ssl-key-pass, read before
 * the key, or from a prompt on the terminal when the key asks for one.
 * Standard input is never read for it: it carries the data, and a
 * passphrase read from it would swallow the first block of that data.
 */
#define TLS_PASS_MAX	1024

struct passphrase {
	const char	*key_path;	/* for the prompt and the messages */
	char		 text[TLS_PASS_MAX];
	int		 len;		/* -1 until there is one */
	bool		 wanted;	/* the key asked for it */
	bool		 no_terminal;	/* no source given, and no terminal */
	bool		 failed;	/* the prompt failed: err says why */
	struct error	 err;
};

bool
tls_pass_source_ok(const char *s)
{
	if (strncmp(s, "pass:", 5) == 0)
		return true;
	if (strncmp(s, "env:", 4) == 0 || strncmp(s, "file:", 5) == 0)
		return strchr(s, ':')[1] != '\0';
	if (strncmp(s, "fd:", 3) == 0) {
		s += 3;
		return *s != '\0' && strlen(s) <= 9 &&
		    s[strspn(s, "0123456789")] == '\0';
	}
	return false;
}

/* Set by the handlers that the terminal prompt installs. */
static volatile sig_atomic_t prompt_signal;

static void
on_prompt_signal(int signo)
{
	prompt_signal = signo;
}

/*
 * Read the first line of fd into pp->text, one byte at a time, so that
 * nothing after the line is taken from a descriptor that others share.
 * The line ends at a newline (dropped, with a carriage return before it)
 * or at EOF.  Returns 0, or an errno value (EINTR once a prompt signal
 * came), or ENAMETOOLONG for a line that does not fit.
 */
static int
read_pass_line(int fd, struct passphrase *pp)
{
	struct pollfd pfd;
	size_t len = 0;
	ssize_t n;
	char c;

	for (;;) {
		n = read(fd, &c, 1);
		if (n == 0 || (n == 1 && c == '\n'))
			break;
		if (n == -1) {
			if (errno == EINTR && prompt_signal == 0)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				pfd.fd = fd;
				pfd.events = POLLIN;
				if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
					return errno;
				continue;
			}
			return errno;
		}
		if (len == sizeof(pp->text) - 1)
			return ENAMETOOLONG;
		pp->text[len++] = c;
	}
	if (len > 0 && pp->text[len - 1] == '\r')
		len--;
	pp->text[len] = '\0';
	pp->len = (int)len;
	return 0;
}

/* Get the passphrase from an --ssl-key-pass source, before the key. */
static int
read_pass_source(const char *src, struct passphrase *pp, struct error *e)
{
	const char *v;
	int fd, rc;

	if (!tls_pass_source_ok(src))
		return err_set(e, ST_USAGE, TLS_PASS_FORMS), -1;
	v = strchr(src, ':') + 1;
	if (strncmp(src, "env:", 4) == 0 && (v = getenv(v)) == NULL)
		return err_set(e, ST_USAGE, "--ssl-key-pass %s: the variable "
		    "is not set", src), -1;
	if (strncmp(src, "pass:", 5) == 0 || strncmp(src, "env:", 4) == 0) {
		if (strlen(v) >= sizeof(pp->text))
			return err_set(e, ST_USAGE, "--ssl-key-pass: the "
			    "passphrase is longer than %zu bytes",
			    sizeof(pp->text) - 1), -1;
		pp->len = (int)strlen(v);
		memcpy(pp->text, v, (size_t)pp->len + 1);
		return 0;
	}
	if (strncmp(src, "file:", 5) == 0) {
		if ((fd = open(v, O_RDONLY | O_CLOEXEC)) == -1)
			return err_errno(e, ST_USAGE, errno,
			    "--ssl-key-pass %s", src), -1;
		rc = read_pass_line(fd, pp);
		close(fd);
	} else {
		rc = read_pass_line(atoi(v), pp);
	}
	if (rc == ENAMETOOLONG)
		return err_set(e, ST_USAGE, "--ssl-key-pass %s: the passphrase "
		    "is longer than %zu bytes", src, sizeof(pp->text) - 1), -1;
	if (rc != 0)
		return err_errno(e, ST_USAGE, rc, "--ssl-key-pass %s", src), -1;
	return 0;
}

/*
 * Ask for the passphrase on the terminal, with echo off.  A signal that
 * would end tlsnc ends the prompt first, so that the terminal gets its echo
 * back, and is then raised again.  Returns 0, or -1 with pp->no_terminal
 * set when there is no terminal, or pp->failed and pp->err.
 */
static int
prompt_terminal(struct passphrase *pp)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa, old_sa[4];
	struct termios old, quiet;
	bool restore;
	int fd, rc;
	size_t i;

	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		pp->no_terminal = true;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_prompt_signal;	/* no SA_RESTART: read stops */
	sigemptyset(&sa.sa_mask);
	prompt_signal = 0;
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old_sa[i]);
	/* Echo goes off before the prompt, so that nothing typed shows. */
	restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSANOW, &quiet);
	}
	dprintf(fd, "Passphrase for %s: ", pp->key_path);
	rc = read_pass_line(fd, pp);
	if (restore)
		tcsetattr(fd, TCSANOW, &old);
	dprintf(fd, "\n");
	close(fd);
	for (i = 0; i < 4; i++)
		sigaction(sigs[i], &old_sa[i], NULL);
	if (prompt_signal != 0)
		raise(prompt_signal);
	if (rc == 0)
		return 0;
	pp->failed = true;
	if (rc == ENAMETOOLONG)
		err_set(&pp->err, ST_USAGE, "the passphrase is longer than %zu "
		    "bytes", sizeof(pp->text) - 1);
	else if (rc == EINTR)
		err_set(&pp->err, ST_USAGE, "the passphrase prompt was "
		    "interrupted");
	else
		err_errno(&pp->err, ST_USAGE, rc, "reading the passphrase "
		    "from /dev/tty");
	return -1;
}

/* OpenSSL's passphrase callback: the passphrase, obtained once. */
static int
key_passphrase(char *buf, int size, int rwflag, void *u)
{
	struct passphrase *pp = u;

	(void)rwflag;
	pp->wanted = true;
	if (pp->len < 0 && (pp->no_terminal || pp->failed ||
	    prompt_terminal(pp) == -1))
		return -1;
	if (pp->len >= size)
		return -1;
	memcpy(buf, pp->text, (size_t)pp->len);
	return pp->len;
}

/* The private key from the bytes of its file, named by key_opt. */
static int
use_key(SSL_CTX *ctx, const struct pem_file *f, struct passphrase *pp,
    const char *key_opt, const char *key, const char *cert,
    struct error *e)
{
	EVP_PKEY *pkey;
	BIO *b;
	int ok;

	if ((b = pem_file_bio(f)) == NULL)
		return err_ssl(e, ST_RUNTIME, "out of memory"), -1;
	pkey = PEM_read_bio_PrivateKey(b, NULL, key_passphrase, pp);
	BIO_free(b);
	if (pkey == NULL) {
		if (!pp->wanted)
			return err_ssl(e, ST_USAGE, "%s %s: no usable PEM "
			    "private key", key_opt, key), -1;
		ERR_clear_error();
		if (pp->no_terminal)
			return err_set(e, ST_USAGE, "the key in %s is "
			    "encrypted: give its passphrase with "
			    "--ssl-key-pass", key), -1;
		if (pp->failed)
			return err_set(e, ST_USAGE, "%s %s: %s", key_opt, key,
			    pp->err.msg), -1;
		return err_set(e, ST_USAGE, "%s %s: the passphrase is wrong",
		    key_opt, key), -1;
	}
	ok = SSL_CTX_use_PrivateKey(ctx, pkey);
	EVP_PKEY_free(pkey);
	if (ok != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			return err_set(e, ST_USAGE, "%s %s: the key does not "
			    "match the certificate in %s", key_opt, key, cert),
			    -1;
		}
		return err_ssl(e, ST_USAGE,
		    "%s %s: no usable PEM private key", key_opt, key), -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return err_ssl(e, ST_USAGE,
		    "%s %s: the key does not match the certificate in %s",
		    key_opt, key, cert), -1;
	return 0;
}

/* A certificate, and its key from key_file or else from its own file. */
struct cert_pair {
	const char	*cert;
	const char	*key;		/* or NULL */
	const char	*key_pass;	/* --ssl-key-pass, or NULL */
};

static int
load_cert_and_key(SSL_CTX *ctx, const struct cert_pair *cp, struct error *e)
{
	/* With no --ssl-key, the key is looked for in the --ssl-cert file. */
	const char *key = cp->key != NULL ? cp->key : cp->cert;
	const char *key_opt = cp->key != NULL ? "--ssl-key" : "--ssl-cert";
	struct pem_file cert, keyf;
	const struct pem_file *kf = &cert;
	struct passphrase pp;
	int rc = -1;

	memset(&keyf, 0, sizeof(keyf));
	memset(&pp, 0, sizeof(pp));
	pp.len = -1;
	pp.key_path = key;
	/* Read both first, so that a missing file is named before a bad one. */
	if (pem_file_read(&cert, "--ssl-cert", cp->cert, e) == -1)
		return -1;
	if (strcmp(key, cp->cert) != 0) {
		if (pem_file_read(&keyf, key_opt, key, e) == -1)
			goto out;
		kf = &keyf;
	}
	if (cp->key_pass != NULL &&
	    read_pass_source(cp->key_pass, &pp, e) == -1)
		goto out;
	if (use_cert_chain(ctx, &cert, cp->cert, e) == -1 ||
	    use_key(ctx, kf, &pp, key_opt, key, cp->cert, e) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(&pp, sizeof(pp));
	pem_file_free(&cert);
	pem_file_free(&keyf);
	return rc;
}

/* The n-th pair of --ssl-cert and --ssl-key; 0 is the default. */
static void
cert_pair(const struct tls_opts *o, size_t n, struct cert_pair *cp)
{
	cp->key_pass = o->key_pass;
	if (n == 0) {
		cp->cert = o->cert_file;
		cp->key = o->key_file;
		return;
	}
	cp->cert = o->more_certs[n - 1];
	cp->key = n <= o->n_more_keys ? o->more_keys[n - 1] : NULL;
}

/*
 * The CA certificates of the --ssl-trustfile file, from its bytes, as the
 * only trust anchors.
 */
static int
load_trust_file(SSL_CTX *ctx, const char *opt, const char *path,
    struct error *e)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509_INFO) *infos = NULL;
	struct pem_file f;
	BIO *b;
	int i, n = 0, rc = -1;

	if (pem_file_read(&f, opt, path, e) == -1)
		return -1;
	if ((b = pem_file_bio(&f)) == NULL) {
		err_ssl(e, ST_RUNTIME, "out of memory");
		goto out;
	}
	infos = PEM_X509_INFO_read_bio(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (infos == NULL)
		goto garbled;
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->x509 == NULL)
			continue;
		if (X509_STORE_add_cert(store, xi->x509) != 1)
			goto garbled;
		n++;
	}
	if (n == 0)
		goto garbled;
	ERR_clear_error();
	rc = 0;
	goto out;
garbled:
	err_ssl(e, ST_USAGE, "%s %s: no usable PEM certificate", opt, path);
out:
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	pem_file_free(&f);
	return rc;
}

/*
 * What a context keeps for its callbacks, freed with it: the ALPN list,
 * and on a listener the contexts of its other certificates, by SNI.
 */
struct ctx_data {
	const char	*alpn_list;		/* --ssl-alpn, as given */
	unsigned char	 alpn[TLS_ALPN_MAX];	/* ... in wire format */
	size_t		 alpn_len;		/* 0: no --ssl-alpn */
	bool		 alpn_required;
	SSL_CTX		*by_name[TLS_CERTS_MAX - 1];
	size_t		 n_by_name;
	/*
	 * A client's session to resume: the one of --ssl-sess-in, then,
	 * with --ssl-reconnect, the latest that a server gave.
	 */
	SSL_SESSION	*session;
	enum tls_ocsp	 ocsp;			/* client: --ssl-ocsp */
	unsigned char	*ocsp_der;		/* server: to staple */
	size_t		 ocsp_len;
	void		(*on_hello)(SSL *);	/* see tls_ctx_on_hello() */
};

static int ctx_ex_index = -1;

static void
ctx_data_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct ctx_data *d = ptr;
	size_t i;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (d == NULL)
		return;
	for (i = 0; i < d->n_by_name; i++)
		SSL_CTX_free(d->by_name[i]);
	SSL_SESSION_free(d->session);
	free(d->ocsp_der);
	free(d);
}

static struct ctx_data *
ctx_data_of(const SSL_CTX *ctx)
{
	return SSL_CTX_get_ex_data(ctx, ctx_ex_index);
}

/*
 * The server's ALPN choice: the first protocol of its own list that the
 * client offered.  With none in common, no protocol is acknowledged, or,
 * with --ssl-alpn-required, the handshake fails with no_application_protocol.
 */
static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct ctx_data *d = ctx_data_of(SSL_get_SSL_CTX(ssl));

	(void)arg;
	if (d == NULL || d->alpn_len == 0)
		return SSL_TLSEXT_ERR_NOACK;
	if (tls_alpn_pick(d->alpn, d->alpn_len, in, inlen, out, outlen))
		return SSL_TLSEXT_ERR_OK;
	return d->alpn_required ? SSL_TLSEXT_ERR_ALERT_FATAL :
	    SSL_TLSEXT_ERR_NOACK;
}

/*
 * With --ssl-alpn-required, a client that offers no ALPN at all has no
 * protocol in common either; select_alpn() is not called for it.
 */
static int
check_client_hello(SSL *ssl, int *al, void *arg)
{
	const struct ctx_data *d = ctx_data_of(SSL_get_SSL_CTX(ssl));
	const unsigned char *ext;
	size_t len;

	(void)arg;
	if (d != NULL && d->on_hello != NULL)
		d->on_hello(ssl);
	if (d != NULL && d->alpn_required && SSL_client_hello_get0_ext(ssl,
	    TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
	    &len) != 1) {
		*al = SSL_AD_NO_APPLICATION_PROTOCOL;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * OpenSSL keeps one ClientHello callback per context: check_client_hello()
 * is it, and it shows the ClientHello to fn first (the report's record of
 * what the client offered), before it may refuse it.
 */
int
tls_ctx_on_hello(SSL_CTX *ctx, void (*fn)(SSL *))
{
	struct ctx_data *d = ctx_data_of(ctx);

	if (d == NULL)
		return -1;
	d->on_hello = fn;
	SSL_CTX_set_client_hello_cb(ctx, check_client_hello, NULL);
	return 0;
}

/* The ALPN list of --ssl-alpn, offered by a client, chosen from by a server. */
static int
alpn_setup(SSL_CTX *ctx, const struct tls_opts *o, struct ctx_data *d,
    struct error *e)
{
	int n;

	d->alpn_required = o->alpn_required;
	if (o->alpn == NULL)
		return 0;
	if ((n = tls_alpn_encode(o->alpn, d->alpn, sizeof(d->alpn), e)) < 0)
		return -1;
	d->alpn_len = (size_t)n;
	d->alpn_list = o->alpn;
	if (o->server) {
		SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
		SSL_CTX_set_client_hello_cb(ctx, check_client_hello, NULL);
	} else if (SSL_CTX_set_alpn_protos(ctx, d->alpn,
	    (unsigned int)d->alpn_len) != 0) {
		return err_ssl(e, ST_RUNTIME, "TLS set-up failed"), -1;
	}
	return 0;
}

/*
 * The status of the server's certificate in a stapled OCSP response: the
 * response must be signed by the certificate's issuer, or by a responder
 * it trusts, be current, and name the certificate.  Returns "good",
 * "revoked", "unknown", or why the response is no good.
 */
static const char *
ocsp_status(SSL *ssl, const unsigned char *der, long len)
{
	STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &der, len);
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	ASN1_GENERALIZEDTIME *this_upd, *next_upd;
	const char *why;
	int st, reason;

	if (resp == NULL || OCSP_response_status(resp) !=
	    OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL)
		why = "bad (not a successful OCSP response)";
	else if (sk_X509_num(chain) < 2)
		why = "bad (the certificate's issuer is not known)";
	else if (OCSP_basic_verify(bs, SSL_get_peer_cert_chain(ssl),
	    SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), 0) <= 0)
		why = "bad (its signature does not verify)";
	else if ((id = OCSP_cert_to_id(NULL, sk_X509_value(chain, 0),
	    sk_X509_value(chain, 1))) == NULL ||
	    OCSP_resp_find_status(bs, id, &st, &reason, NULL, &this_upd,
	    &next_upd) != 1)
		why = "bad (it does not name the certificate)";
	else if (OCSP_check_validity(this_upd, next_upd, 300, -1) != 1)
		why = "bad (it is out of date)";
	else
		why = st == V_OCSP_CERTSTATUS_GOOD ? "good" :
		    st == V_OCSP_CERTSTATUS_REVOKED ? "revoked" : "unknown";
	ERR_clear_error();
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return why;
}

/*
 * A client's OCSP callback, once the server's chain is verified: note the
 * stapled status; with --ssl-ocsp=require anything but "good" fails the
 * handshake (bad_certificate_status_response).
 */
static int
check_ocsp(SSL *ssl, void *arg)
{
	struct tls *t = SSL_get_ex_data(ssl, tls_ex_index);
	const struct ctx_data *d = ctx_data_of(SSL_get_SSL_CTX(ssl));
	const unsigned char *der = NULL;
	long len;

	(void)arg;
	if (t == NULL || d == NULL)
		return 1;
	len = SSL_get_tlsext_status_ocsp_resp(ssl, &der);
	t->ocsp = der == NULL || len <= 0 ? "none (the server stapled no "
	    "response)" : ocsp_status(ssl, der, len);
	if (d->ocsp != TLS_OCSP_REQUIRE || strcmp(t->ocsp, "good") == 0)
		return 1;
	t->ocsp_refused = true;
	return 0;
}

/* A listener staples --ssl-ocsp-response for a client that asks. */
static int
staple_ocsp(SSL *ssl, void *arg)
{
	const struct ctx_data *d = arg;
	unsigned char *copy;

	if (SSL_get_tlsext_status_type(ssl) != TLSEXT_STATUSTYPE_ocsp)
		return SSL_TLSEXT_ERR_NOACK;
	if ((copy = OPENSSL_memdup(d->ocsp_der, d->ocsp_len)) == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)d->ocsp_len) != 1)
	{
		OPENSSL_free(copy);
		return SSL_TLSEXT_ERR_NOACK;
	}
	return SSL_TLSEXT_ERR_OK;
}

/*
 * OCSP: a client asks for the status with --ssl-ocsp; a listener reads
 * the DER response of --ssl-ocsp-response once, checks that it is one,
 * and staples it (for its first certificate, which it is about).
 */
static int
ocsp_setup(SSL_CTX *ctx, const struct tls_opts *o, struct ctx_data *d,
    struct error *e)
{
	const unsigned char *p;
	OCSP_RESPONSE *resp;
	struct pem_file f;

	d->ocsp = o->ocsp;
	if (!o->server && o->ocsp != TLS_OCSP_OFF) {
		SSL_CTX_set_tlsext_status_type(ctx, TLSEXT_STATUSTYPE_ocsp);
		SSL_CTX_set_tlsext_status_cb(ctx, check_ocsp);
	}
	if (!o->server || o->ocsp_response == NULL)
		return 0;
	if (pem_file_read(&f, "--ssl-ocsp-response", o->ocsp_response,
	    e) == -1)
		return -1;
	p = (const unsigned char *)f.data;
	resp = f.len > 0 ? d2i_OCSP_RESPONSE(NULL, &p, (long)f.len) : NULL;
	OCSP_RESPONSE_free(resp);
	if (resp == NULL) {
		pem_file_free(&f);
		return err_ssl(e, ST_USAGE, "--ssl-ocsp-response %s: no DER "
		    "OCSP response", o->ocsp_response), -1;
	}
	if ((d->ocsp_der = malloc(f.len)) != NULL)
		memcpy(d->ocsp_der, f.data, f.len);
	d->ocsp_len = f.len;
	pem_file_free(&f);
	if (d->ocsp_der == NULL)
		return err_set(e, ST_RUNTIME, "out of memory"), -1;
	SSL_CTX_set_tlsext_status_cb(ctx, staple_ocsp);
	SSL_CTX_set_tlsext_status_arg(ctx, d);
	return 0;
}

/*
 * What every context has: versions, modes, ciphers, no renegotiation, and
 * what was asked for with the negotiation options.
 */
static int
ctx_defaults(SSL_CTX *ctx, const struct tls_opts *o, struct error *e)
{
	struct ctx_data *d;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    !SSL_CTX_set_ex_data(ctx, ctx_ex_index, d)) {
		free(d);
		return err_set(e, ST_RUNTIME, "out of memory"), -1;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(ctx, 1);
	if (SSL_CTX_set_cipher_list(ctx, o->ciphers != NULL ? o->ciphers :
	    o->min_version != 0 && o->min_version < TLS1_2_VERSION ?
	    TLS_LEGACY_CIPHERS : TLS_DEFAULT_CIPHERS) != 1) {
		if (o->ciphers == NULL)
			return err_ssl(e, ST_RUNTIME, "TLS set-up failed"), -1;
		ERR_clear_error();
		return err_set(e, ST_USAGE, "--ssl-ciphers: no TLS 1.2 cipher "
		    "suite matches '%s'", o->ciphers), -1;
	}
	if (tls_ctx_negotiation(ctx, o, e) == -1 ||
	    alpn_setup(ctx, o, d, e) == -1)
		return -1;
	/* A pin covers the first handshake only: no TLS 1.2 renegotiation. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_info_callback(ctx, note_alert);
	SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_BUFFER_IDLE);
	ctx_ktls(ctx);
	if (o->key_file != NULL && o->cert_file == NULL)
		return err_set(e, ST_USAGE, "--ssl-key needs --ssl-cert"), -1;
	return 0;
}

/* Name the CAs of the store in the CertificateRequest. */
static int
name_client_cas(SSL_CTX *ctx, struct error *e)
{
	STACK_OF(X509_OBJECT) *objs;
	X509 *x;
	int i;

	objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		if (x != NULL && SSL_CTX_add_client_CA(ctx, x) != 1)
			return err_ssl(e, ST_RUNTIME, "TLS set-up failed"), -1;
	}
	return 0;
}

/*
 * A listener asks for a client certificate with --ssl-client-ca (and then
 * verifies it against those CAs) or --ssl-pin (and then takes only a
 * pinned one).  A client without one is refused with
 * --ssl-require-client-cert, or when it must be pinned.
 */
static int
client_auth_setup(SSL_CTX *ctx, const struct tls_opts *o, struct error *e)
{
	int mode = SSL_VERIFY_PEER;

	if (o->client_ca == NULL && !o->have_pin) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (o->client_ca != NULL &&
	    (load_trust_file(ctx, "--ssl-client-ca", o->client_ca, e) == -1 ||
	    name_client_cas(ctx, e) == -1))
		return -1;
	if (o->require_client_cert || o->have_pin)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, verify_cb);
	return 0;
}

/* A server presents --ssl-cert (the pair n), or an ephemeral certificate. */
static int
server_setup(SSL_CTX *ctx, const struct tls_opts *o, size_t n, char *own_fp,
    bool *ephemeral, struct error *e)
{
	struct cert_pair cp;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	int rc = 0;

	cert_pair(o, n, &cp);
	if (cp.cert != NULL) {
		if (load_cert_and_key(ctx, &cp, e) == -1)
			return -1;
	} else if (tls_make_ephemeral(o->listen_name, &pkey, &x, e) == -1) {
		return -1;
	} else if (SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		err_ssl(e, ST_RUNTIME, "TLS set-up failed");
		rc = -1;
	} else if (ephemeral != NULL) {
		*ephemeral = true;
	}
	X509_free(x);
	EVP_PKEY_free(pkey);
	if (rc == 0 && own_fp != NULL)
		tls_fingerprint(SSL_CTX_get0_certificate(ctx), own_fp);
	if (rc == 0 && client_auth_setup(ctx, o, e) == -1)
		return -1;
	/* The contexts SNI chooses staple nothing: it is about the first. */
	if (rc == 0 && n == 0 && ocsp_setup(ctx, o, ctx_data_of(ctx), e) == -1)
		return -1;
	/*
	 * Sessions are resumed under -k (with tickets, by default); a
	 * session verified against --ssl-client-ca must be resumed only by
	 * a context of the same kind, which this names.
	 */
	if (rc == 0 && SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)"tlsnc", 5) != 1)
		return err_ssl(e, ST_RUNTIME, "TLS set-up failed"), -1;
	/*
	 * One TLS 1.3 ticket per handshake, not OpenSSL's two: each costs a
	 * key derivation, an encoding and an encryption of the session, and
	 * a client that resumes gets a fresh one every time.
	 */
	if (rc == 0 && SSL_CTX_set_num_tickets(ctx, TLS_SERVER_TICKETS) != 1)
		return err_ssl(e, ST_RUNTIME, "TLS set-up failed"), -1;
	return rc;
}

/*
 * The sessions of a client: the one of --ssl-sess-in to resume, read at
 * start-up, and the file of --ssl-sess-out, created at start-up so that a
 * path that cannot be written is refused before any connection.
 */
static int
session_setup(const struct tls_opts *o, struct ctx_data *d, struct error *e)
{
	struct pem_file f;
	BIO *b;
	int fd = -1;

	if (o->sess_out != NULL && (fd = open(o->sess_out, O_WRONLY |
	    O_CREAT | O_CLOEXEC, 0600)) == -1)
		return err_errno(e, ST_USAGE, errno, "--ssl-sess-out %s",
		    o->sess_out), -1;
	if (o->sess_out != NULL)
		close(fd);
	if (o->sess_in == NULL)
		return 0;
	if (pem_file_read(&f, "--ssl-sess-in", o->sess_in, e) == -1)
		return -1;
	if ((b = pem_file_bio(&f)) != NULL)
		d->session = PEM_read_bio_SSL_SESSION(b, NULL, no_passphrase,
		    NULL);
	BIO_free(b);
	pem_file_free(&f);
	if (d->session == NULL)
		return err_ssl(e, ST_USAGE, "--ssl-sess-in %s: no usable PEM "
		    "TLS session", o->sess_in), -1;
	return 0;
}

/*
 * With --ssl-reconnect, each session the server gives (a TLS 1.3 ticket,
 * or a TLS 1.2 session) becomes the one the next connection resumes.
 */
static int
keep_session(SSL *ssl, SSL_SESSION *sess)
{
	struct ctx_data *d = ctx_data_of(SSL_get_SSL_CTX(ssl));

	if (d == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	SSL_SESSION_free(d->session);
	d->session = sess;
	return 1;	/* the reference is kept */
}

/*
 * A client that pins, and asks for no OCSP status, trusts the pins alone:
 * it need not read the system's CA bundle, which OpenSSL would parse whole
 * at start-up (about 0.8 MB of heap on Debian).  The only loss is a hint:
 * a pin that matches a CA of the system store, not sent by the server, is
 * reported as a plain mismatch.
 */
static bool
pin_only(const struct tls_opts *o)
{
	return o->have_pin && o->ocsp == TLS_OCSP_OFF;
}

/*
 * Whether dir holds a CA under a hashed name ("5ad8a5d6.0"), as c_rehash
 * and update-ca-certificates make them.
 */
static bool
has_hashed_names(const char *dir)
{
	struct dirent *de;
	bool found = false;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL)
		found = strlen(de->d_name) == 10 && de->d_name[8] == '.' &&
		    strspn(de->d_name, "0123456789abcdef") == 8 &&
		    isdigit((unsigned char)de->d_name[9]);
	closedir(d);
	return found;
}

/*
 * The system trust store.  OpenSSL's default file, one bundle of every CA,
 * is parsed whole at start-up, which costs a client some 20 ms here before
 * it connects; its default directory is read by hashed name, only for the
 * CAs a chain needs.  Where that directory has hashed names (Debian's
 * update-ca-certificates makes them from the same CAs as the bundle) and
 * SSL_CERT_FILE names no file of its own, the directory alone is used.
 */
static int
load_default_trust(SSL_CTX *ctx, struct error *e)
{
	const char *dir = getenv(X509_get_default_cert_dir_env());

	if (dir == NULL)
		dir = X509_get_default_cert_dir();
	if (getenv(X509_get_default_cert_file_env()) == NULL &&
	    strchr(dir, ':') == NULL && has_hashed_names(dir) &&
	    SSL_CTX_set_default_verify_dir(ctx) == 1)
		return 0;
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		return err_ssl(e, ST_RUNTIME, "TLS set-up failed"), -1;
	return 0;
}

/* A client verifies the server, and may present --ssl-cert. */
static int
client_setup(SSL_CTX *ctx, const struct tls_opts *o, struct error *e)
{
	struct cert_pair cp;

	cert_pair(o, 0, &cp);
	if (cp.cert != NULL && load_cert_and_key(ctx, &cp, e) == -1)
		return -1;
	if (session_setup(o, ctx_data_of(ctx), e) == -1 ||
	    ocsp_setup(ctx, o, ctx_data_of(ctx), e) == -1)
		return -1;
	if (o->reconnect > 0) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, keep_session);
	}
	if (o->trust_file != NULL) {
		if (load_trust_file(ctx, "--ssl-trustfile", o->trust_file,
		    e) == -1)
			return -1;
	} else if (!pin_only(o) && load_default_trust(ctx, e) == -1) {
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	/*
	 * Names come from the subjectAltName only: a certificate without
	 * one names no host, whatever its subject's CN says.
	 */
	X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(ctx),
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	SSL_CTX_set_client_cert_cb(ctx, note_cert_request);
	return 0;
}

/*
 * A listener with several certificates: the first whose names cover the
 * client's SNI (exactly, or by a wildcard SAN) is presented; with no SNI,
 * or none that matches, the default, the first.
 */
static int
select_cert(SSL *ssl, int *al, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const struct ctx_data *d = arg;
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	size_t i;

	(void)al;
	if (name == NULL || X509_check_host(SSL_CTX_get0_certificate(ctx),
	    name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) == 1)
		return SSL_TLSEXT_ERR_OK;
	for (i = 0; i < d->n_by_name; i++) {
		if (X509_check_host(SSL_CTX_get0_certificate(d->by_name[i]),
		    name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) == 1) {
			SSL_set_SSL_CTX(ssl, d->by_name[i]);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

/* One context, with the certificate pair n when it is a listener's. */
static SSL_CTX *
ctx_build(const struct tls_opts *o, size_t n, char *own_fp, bool *ephemeral,
    struct error *e)
{
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(o->server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL) {
		err_ssl(e, ST_RUNTIME, "cannot create a TLS context");
		return NULL;
	}
	if (ctx_defaults(ctx, o, e) == -1 || (o->server ?
	    server_setup(ctx, o, n, own_fp, ephemeral, e) :
	    client_setup(ctx, o, e)) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The contexts of a listener's other certificates, chosen by SNI. */
static int
sni_setup(SSL_CTX *ctx, const struct tls_opts *o, struct error *e)
{
	struct ctx_data *d = ctx_data_of(ctx);
	size_t i;

	if (o->n_more_certs == 0)
		return 0;
	for (i = 1; i <= o->n_more_certs; i++) {
		if ((d->by_name[d->n_by_name] = ctx_build(o, i, NULL, NULL,
		    e)) == NULL)
			return -1;
		d->n_by_name++;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, select_cert);
	SSL_CTX_set_tlsext_servername_arg(ctx, d);
	return 0;
}

SSL_CTX *
tls_ctx_new(const struct tls_opts *o, char *own_fp, bool *ephemeral,
    struct error *e)
{
	SSL_CTX *ctx;

	if (ephemeral != NULL)
		*ephemeral = false;
	if (own_fp != NULL)
		own_fp[0] = '\0';
	if (tls_ex_index == -1 &&
	    (tls_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL)) == -1) {
		err_ssl(e, ST_RUNTIME, "SSL_get_ex_new_index");
		return NULL;
	}
	if (ctx_ex_index == -1 &&
	    (ctx_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    ctx_data_free)) == -1) {
		err_ssl(e, ST_RUNTIME, "SSL_CTX_get_ex_new_index");
		return NULL;
	}
	if ((ctx = ctx_build(o, 0, own_fp, ephemeral, e)) == NULL)
		return NULL;
	if (o->server && sni_setup(ctx, o, e) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	ERR_clear_error();
	return ctx;
}

static bool
cert_alert(int reason)
{
	switch (reason) {
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
		return true;
	default:
		return false;
	}
}

static const char *
verify_reason(const struct tls *t, char *buf, size_t len)
{
	switch (t->verify_err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "certificate has expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate is not yet valid";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		/*
		 * The leaf's issuer is nowhere, and the server sent nothing
		 * but the leaf.  Its issuer may be a CA that is not trusted,
		 * or an intermediate CA that the server should have sent
		 * (the usual fault of a server's set-up): the certificates at
		 * hand cannot tell which, so the message names the issuer
		 * and both causes.
		 */
		if (t->verify_depth == 0 && t->sent_certs <= 1 &&
		    t->err_cert != NULL) {
			char issuer[256];

			name_string(X509_get_issuer_name(t->err_cert), issuer,
			    sizeof(issuer));
			snprintf(buf, len, "unknown CA: the issuer %s is not "
			    "trusted; if it is an intermediate CA, the %s "
			    "did not send its intermediate certificate", issuer,
			    t->server ? "client" : "server");
			return buf;
		}
		return "unknown CA: the issuer is not trusted";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return "self-signed certificate";
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "unknown CA: self-signed certificate in the chain";
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(buf, len, "name mismatch: the certificate is not "
		    "valid for %s%s", t->name, t->leaf != NULL &&
		    X509_get_ext_by_NID(t->leaf, NID_subject_alt_name, -1) < 0 ?
		    ": it has no subjectAltName, and its subject CN is not "
		    "used" : "");
		return buf;
	case X509_V_ERR_APPLICATION_VERIFICATION:
		if (t->leaf_is_ca)
			return "the certificate is a CA certificate "
			    "(CA:TRUE), not a server's";
		return "refused";
	default:
		snprintf(buf, len, "%s",
		    X509_verify_cert_error_string(t->verify_err));
		return buf;
	}
}

/* SSL_ERROR_SYSCALL: the transport failed, or ended mid-stream. */
static enum io
syscall_result(struct stream *s, int sys, const char *what)
{
	struct tls *t = s->ctx;

	if (t->lower_failed) {
		/* A lower stream said why; errno means nothing. */
		t->lower_failed = false;
		ERR_clear_error();
		s->err = s->lower->err;
		s->sys_errno = s->lower->sys_errno;
		return IO_ERROR;
	}
	/* No error and no errno: the transport ended mid-stream. */
	if (ERR_peek_error() == 0 && sys == 0) {
		t->eof_unclean = true;
		return IO_EOF;
	}
	ERR_clear_error();
	return stream_fail(s, ST_RUNTIME, sys, "%s", what);
}

/* The handshake failed because we refused the peer's certificate. */
static enum io
verify_result(struct stream *s)
{
	struct tls *t = s->ctx;
	char fp[TLS_FP_MAX] = "", buf[400];

	t->verify_failed = true;
	ERR_clear_error();
	if (t->pin_mismatch && t->pin_ca != NULL) {
		name_string(X509_get_subject_name(t->pin_ca), buf, sizeof(buf));
		return stream_fail(s, ST_VERIFY, 0, "certificate verification "
		    "failed: pin mismatch: the pin matches the issuer "
		    "certificate %s, not the %s's own certificate", buf,
		    t->server ? "client" : "server");
	}
	if (t->pin_mismatch) {
		if (t->leaf != NULL)
			tls_fingerprint(t->leaf, fp);
		return stream_fail(s, ST_VERIFY, 0, "%scertificate "
		    "verification failed: pin mismatch: the %s presented %s",
		    t->server ? "client " : "", t->server ? "client" : "peer",
		    fp);
	}
	return stream_fail(s, ST_VERIFY, 0, "%scertificate verification "
	    "failed: %s", t->server ? "client " : "",
	    verify_reason(t, buf, sizeof(buf)));
}

/*
 * A listener's own refusals in the handshake, for a reason that is not the
 * certificate's content: no client certificate where one is required, or
 * no ALPN protocol in common with --ssl-alpn-required.  Returns IO_ERROR
 * with the message, or IO_DONE when the failure is something else.
 */
static enum io
server_refusal(struct stream *s, int reason, const char *what)
{
	struct tls *t = s->ctx;
	const struct ctx_data *d = ctx_data_of(SSL_get_SSL_CTX(t->ssl));

	if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
		ERR_clear_error();
		return stream_fail(s, ST_VERIFY, 0, "%s: the client presented "
		    "no certificate, and one is required", what);
	}
	if (d != NULL && d->alpn_required &&
	    (reason == SSL_R_NO_APPLICATION_PROTOCOL ||
	    reason == SSL_R_CALLBACK_FAILED)) {
		ERR_clear_error();
		return stream_fail(s, ST_HANDSHAKE, 0, "%s: the client offered "
		    "no protocol of --ssl-alpn %s (--ssl-alpn-required)", what,
		    d->alpn_list);
	}
	return IO_DONE;
}

/* SSL_ERROR_SSL: a protocol failure, ours or the peer's. */
static enum io
ssl_result(struct stream *s, const char *what)
{
	struct tls *t = s->ctx;
	int reason = ERR_GET_REASON(ERR_peek_last_error());
	size_t l;

	if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_clear_error();
		t->eof_unclean = true;
		return IO_EOF;
	}
	if (t->pin_mismatch || (t->verify_err != 0 && !t->no_verify &&
	    !t->have_pin))
		return verify_result(s);
	if (t->server && server_refusal(s, reason, what) == IO_ERROR)
		return IO_ERROR;
	if (t->ocsp_refused) {
		ERR_clear_error();
		return stream_fail(s, ST_VERIFY, 0, "certificate verification "
		    "failed: OCSP status %s (--ssl-ocsp=require)", t->ocsp);
	}
	/*
	 * The peer refused our certificate, or asked for one we do not
	 * have: the fault is on our side, so the caller must not offer hints
	 * about the peer's certificate.
	 */
	if (t->cert_requested && (cert_alert(reason) ||
	    reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)) {
		err_ssl(&s->err, ST_VERIFY, "%s: the peer requires a client "
		    "certificate (--ssl-cert)", what);
		return IO_ERROR;
	}
	if (cert_alert(reason)) {
		err_ssl(&s->err, ST_VERIFY, "%s: the peer refused the "
		    "certificate", what);
		return IO_ERROR;
	}
	err_ssl(&s->err, ST_HANDSHAKE, "%s", what);
	if (reason == SSL_R_WRONG_VERSION_NUMBER ||
	    reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
	    reason == SSL_R_HTTP_REQUEST) {
		l = strlen(s->err.msg);
		snprintf(s->err.msg + l, sizeof(s->err.msg) - l,
		    " (is the peer speaking TLS?)");
	}
	return IO_ERROR;
}

/* Map an OpenSSL return onto the stream vocabulary, in one place. */
static enum io
tls_result(struct stream *s, int ret, const char *what)
{
	struct tls *t = s->ctx;
	int sys = errno;	/* before anything else can change it */
	int err = SSL_get_error(t->ssl, ret);
	char renego[200];

	/* Whatever failed after a refused renegotiation, that is the cause. */
	if (t->refused_renegotiation) {
		snprintf(renego, sizeof(renego), "%s: the peer tried to "
		    "renegotiate TLS 1.2, which tlsnc refuses", what);
		what = renego;
	}
	switch (err) {
	case SSL_ERROR_WANT_READ:
		return IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return IO_EOF;
	case SSL_ERROR_SYSCALL:
		return syscall_result(s, sys, what);
	case SSL_ERROR_SSL:
		return ssl_result(s, what);
	default:
		ERR_clear_error();
		return stream_fail(s, ST_HANDSHAKE, 0, "%s: TLS error %d",
		    what, err);
	}
}

/*
 * A client with --ssl-alpn-required refuses a server that chose none of
 * its protocols.  (A server refuses such a client in the handshake, with
 * the no_application_protocol alert.)
 */
static enum io
check_alpn(struct stream *s)
{
	struct tls *t = s->ctx;
	const struct ctx_data *d = ctx_data_of(SSL_get_SSL_CTX(t->ssl));
	const unsigned char *p;
	unsigned int len = 0;

	if (t->server || d == NULL || !d->alpn_required)
		return IO_DONE;
	SSL_get0_alpn_selected(t->ssl, &p, &len);
	if (len > 0)
		return IO_DONE;
	return stream_fail(s, ST_HANDSHAKE, 0, "TLS handshake: the server "
	    "chose no protocol of --ssl-alpn %s (--ssl-alpn-required)",
	    d->alpn_list);
}

/*
 * A resumed session skips the verification of the server's certificate:
 * the session file may have been saved by another command line, with
 * other pins, another name or --ssl-no-verify.  So the certificate of the
 * session is checked again, against this command line's pins, or its
 * trust result and name.
 */
static enum io
check_resumed(struct stream *s)
{
	struct tls *t = s->ctx;
	X509 *peer = SSL_get0_peer_certificate(t->ssl);
	bool ok;

	if (t->server || !SSL_session_reused(t->ssl) || t->no_verify)
		return IO_DONE;
	if (t->have_pin)
		ok = (t->pin_ok = is_pinned(t, peer));
	else if (addr_is_literal(t->name))
		ok = SSL_get_verify_result(t->ssl) == X509_V_OK &&
		    X509_check_ip_asc(peer, t->name, 0) == 1;
	else
		ok = SSL_get_verify_result(t->ssl) == X509_V_OK &&
		    X509_check_host(peer, t->name, 0,
		    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) == 1;
	if (ok)
		return IO_DONE;
	t->verify_failed = true;
	return stream_fail(s, ST_VERIFY, 0, "certificate verification failed: "
	    "the resumed session (--ssl-sess-in) was not verified for %s",
	    t->have_pin ? "these pins" : t->name);
}

static enum io
tls_handshake(struct stream *s)
{
	struct tls *t = s->ctx;
	enum io r;
	int ret;

	errno = 0;
	ret = SSL_do_handshake(t->ssl);
	if (ret == 1) {
		ktls_settle(t);
		return check_resumed(s) == IO_DONE ? check_alpn(s) : IO_ERROR;
	}
	r = tls_result(s, ret, "TLS handshake");
	if (r == IO_EOF)
		return stream_fail(s, ST_HANDSHAKE, 0, "TLS handshake: the "
		    "peer closed the connection (is it speaking TLS?)");
	/* A reset in mid-handshake is still a failed handshake. */
	if (r == IO_ERROR && s->err.status == ST_RUNTIME)
		s->err.status = ST_HANDSHAKE;
	return r;
}

/* A read or write of n bytes: busy, or idle? */
static void
follow_load(struct tls *t, size_t n)
{
	if (!t->busy && n >= TLS_FULL_RECORD) {
		t->busy = true;
		SSL_clear_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
		SSL_set_default_read_buffer_len(t->ssl, TLS_READ_BUFFER_BUSY);
	} else if (t->busy && n < TLS_SMALL_RECORD) {
		t->busy = false;
		t->large_rbuf = false;
		SSL_set_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
		SSL_set_default_read_buffer_len(t->ssl, TLS_READ_BUFFER_IDLE);
	}
}

/*
 * OpenSSL allocates its read buffer at the size set when it allocates it,
 * and a busy session no longer releases it: so the small buffer of the
 * handshake would stay, and every read(2) would take one record.  Once
 * busy, the buffers are freed as soon as they are empty (nothing read and
 * not handed out, nothing unsent), and the next read allocates the large
 * one.  Measured: 256 MiB took 16,483 read(2) calls of at most 17,405
 * bytes before, and several records per call after.
 */
static void
grow_read_buffer(struct tls *t)
{
	if (!t->busy || t->large_rbuf || SSL_pending(t->ssl) > 0 ||
	    SSL_has_pending(t->ssl))
		return;
	if (SSL_free_buffers(t->ssl) == 1)
		t->large_rbuf = true;
}

static enum io
tls_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	struct tls *t = s->ctx;
	enum io r;
	int ret;

	*n = 0;
	errno = 0;
	ret = SSL_read_ex(t->ssl, buf, len, n);
	if (ret == 1) {
		t->starved = false;
		follow_load(t, *n);
		grow_read_buffer(t);
		return IO_DONE;
	}
	r = tls_result(s, ret, "TLS read");
	/* What is left in the buffer is a partial record: poll will wake. */
	t->starved = r == IO_WANT_READ;
	return r;
}

static enum io
tls_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	struct tls *t = s->ctx;
	enum io r;
	int ret;

	*n = 0;
	errno = 0;
	ret = SSL_write_ex(t->ssl, buf, len, n);
	if (ret == 1) {
		follow_load(t, *n);
		return IO_DONE;
	}
	r = tls_result(s, ret, "TLS write");
	/* A write can only end in EOF when the peer is gone. */
	if (r == IO_EOF)
		return stream_fail(s, ST_RUNTIME, EPIPE, "TLS write");
	return r;
}

static enum io
tls_shutdown_write(struct stream *s)
{
	struct tls *t = s->ctx;
	enum io r;
	int ret;

	if (!t->shut_sent) {
		errno = 0;
		ret = SSL_shutdown(t->ssl);
		if (ret < 0) {
			r = tls_result(s, ret, "TLS close_notify");
			if (r != IO_EOF)
				return r;
		}
		t->shut_sent = true;
	}
	/* close_notify is out; now the transport's FIN. */
	return stream_shutdown_write(s->lower);
}

static size_t
tls_pending(const struct stream *s)
{
	const struct tls *t = s->ctx;
	int n = SSL_pending(t->ssl);

	if (n > 0)
		return (size_t)n;
	return !t->starved && SSL_has_pending(t->ssl) ? 1 : 0;
}

static int
tls_query(const struct stream *s, enum stream_query q, void *out)
{
	struct tls *t = s->ctx;

	switch (q) {
	case STREAM_Q_TLS:
		*(struct tls **)out = t;
		return 0;
	case STREAM_Q_FD:
		*(int *)out = -1;	/* the bytes below are not the data */
		return 0;
	case STREAM_Q_EOF_CLEAN:
		*(bool *)out = !t->eof_unclean;
		return 0;
	case STREAM_Q_DATAGRAM:
		*(bool *)out = false;
		return 0;
	case STREAM_Q_RAW_RFD:
		*(int *)out = ktls_raw_fd(t, IO_WANT_READ);
		return 0;
	case STREAM_Q_RAW_WFD:
		*(int *)out = ktls_raw_fd(t, IO_WANT_WRITE);
		return 0;
	default:
		return -1;
	}
}

static void
tls_close(struct stream *s)
{
	struct tls *t = s->ctx;

	SSL_free(t->ssl);
	X509_free(t->leaf);
	X509_free(t->pin_ca);
	X509_free(t->err_cert);
	free(t->pins);
	free(t);
}

static const struct stream_ops tls_ops = {
	.name = "tls",
	.handshake = tls_handshake,
	.read = tls_read,
	.write = tls_write,
	.shutdown_write = tls_shutdown_write,
	.pending = tls_pending,
	.query = tls_query,
	.close = tls_close,
};

/*
 * TLS over a stream that is not a bare socket: OpenSSL's record I/O goes
 * through this BIO to the lower stream, and the stream's wants come back as
 * the BIO's retry flags, so that SSL_get_error() reports them.
 */
static int
sbio_result(BIO *b, enum io r)
{
	struct tls *t;

	switch (r) {
	case IO_DONE:
		return 1;
	case IO_WANT_READ:
		BIO_set_retry_read(b);
		return 0;
	case IO_WANT_WRITE:
		BIO_set_retry_write(b);
		return 0;
	case IO_EOF:
		return 0;
	default:
		t = BIO_get_app_data(b);
		if (t != NULL)
			t->lower_failed = true;
		return 0;
	}
}

static int
sbio_read(BIO *b, char *buf, size_t len, size_t *n)
{
	BIO_clear_retry_flags(b);
	*n = 0;
	return sbio_result(b, stream_read(BIO_get_data(b), buf, len, n));
}

static int
sbio_write(BIO *b, const char *buf, size_t len, size_t *n)
{
	BIO_clear_retry_flags(b);
	*n = 0;
	return sbio_result(b, stream_write(BIO_get_data(b), buf, len, n));
}

static long
sbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	/* Writes go straight down, so there is nothing to flush. */
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *
stream_bio_method(void)
{
	static BIO_METHOD *m;

	if (m != NULL)
		return m;
	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "tlsnc stream");
	if (m == NULL || !BIO_meth_set_read_ex(m, sbio_read) ||
	    !BIO_meth_set_write_ex(m, sbio_write) ||
	    !BIO_meth_set_ctrl(m, sbio_ctrl)) {
		BIO_meth_free(m);
		m = NULL;
	}
	return m;
}

/* Give OpenSSL the socket itself when there is one, else the BIO. */
static int
attach_lower(struct tls *t, struct stream *lower)
{
	BIO_METHOD *m;
	BIO *b;
	int fd = stream_fd(lower);

	if (fd >= 0)
		return SSL_set_fd(t->ssl, fd) == 1 ? 0 : -1;
	/* The kernel cannot seal records for a BIO: keep read-ahead. */
	if ((SSL_get_options(t->ssl) & SSL_OP_ENABLE_KTLS) != 0) {
		SSL_clear_options(t->ssl, SSL_OP_ENABLE_KTLS);
		SSL_set_read_ahead(t->ssl, 1);
	}
	if ((m = stream_bio_method()) == NULL || (b = BIO_new(m)) == NULL)
		return -1;
	BIO_set_data(b, lower);
	BIO_set_app_data(b, t);
	BIO_set_init(b, 1);
	SSL_set_bio(t->ssl, b, b);
	return 0;
}

/*
 * Offer a copy of sess: OpenSSL marks a TLS 1.3 session that it resumes as
 * used up, and every --ssl-reconnect offers the same one.
 */
static int
offer_session(SSL *ssl, SSL_SESSION *sess)
{
	SSL_SESSION *copy = SSL_SESSION_dup(sess);
	int ok = copy != NULL && SSL_set_session(ssl, copy) == 1;

	SSL_SESSION_free(copy);
	return ok ? 0 : -1;
}

struct stream *
tls_stream_new(SSL_CTX *ctx, struct stream *lower, const struct tls_opts *o,
    const char *host, struct error *e)
{
	struct stream *s = NULL;
	struct tls *t;
	const char *sni = o->servername != NULL ? o->servername : host;
	const char *name = o->verify_name != NULL ? o->verify_name : sni;
	const struct ctx_data *d;
	size_t i;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (s = stream_layer_new(&tls_ops, t, lower)) == NULL) {
		free(t);
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	t->server = o->server;
	t->no_verify = o->no_verify;
	if (o->have_pin) {
		if ((t->pins = calloc(TLS_PINS_MAX, TLS_PIN_LEN)) == NULL)
			goto ssl_fail;
		memcpy(t->pins[0], o->pin, TLS_PIN_LEN);
		t->npins = 1;
		for (i = 0; i < o->n_more_pins && t->npins < TLS_PINS_MAX; i++)
			memcpy(t->pins[t->npins++], o->more_pins[i],
			    TLS_PIN_LEN);
	}
	t->have_pin = t->npins > 0;
	if ((t->ssl = SSL_new(ctx)) == NULL)
		goto ssl_fail;
	SSL_set_ex_data(t->ssl, tls_ex_index, t);
	if (attach_lower(t, lower) == -1)
		goto ssl_fail;
	if (o->server) {
		SSL_set_accept_state(t->ssl);
	} else {
		SSL_set_connect_state(t->ssl);
		/* RFC 6066: SNI names a host, never an address. */
		if (sni != NULL && !o->no_sni && !addr_is_literal(sni) &&
		    SSL_set_tlsext_host_name(t->ssl, sni) != 1)
			goto ssl_fail;
		d = ctx_data_of(ctx);
		/* A resumed session carries no OCSP status to require. */
		if (d != NULL && d->session != NULL &&
		    d->ocsp != TLS_OCSP_REQUIRE &&
		    offer_session(t->ssl, d->session) == -1)
			goto ssl_fail;
		if (name != NULL) {
			snprintf(t->name, sizeof(t->name), "%s", name);
			if (!o->have_pin) {
				X509_VERIFY_PARAM *p = SSL_get0_param(t->ssl);

				if (addr_is_literal(name) ?
				    X509_VERIFY_PARAM_set1_ip_asc(p, name) != 1 :
				    SSL_set1_host(t->ssl, name) != 1)
					goto ssl_fail;
			}
		}
	}
	return s;
ssl_fail:
	err_ssl(e, ST_RUNTIME, "TLS set-up failed");
	SSL_free(t->ssl);
	free(t->pins);
	free(t);
	free(s);
	return NULL;
}

/* The topmost TLS layer of s, or NULL. */
static struct tls *
tls_of(const struct stream *s)
{
	struct tls *t = NULL;

	return stream_query(s, STREAM_Q_TLS, &t) == 0 ? t : NULL;
}

bool
tls_verify_failed(const struct stream *s)
{
	const struct tls *t = tls_of(s);

	return t != NULL && t->verify_failed;
}

SSL *
tls_get_ssl(const struct stream *s)
{
	const struct tls *t = tls_of(s);

	return t != NULL ? t->ssl : NULL;
}

X509 *
tls_peer_leaf(const SSL *ssl)
{
	const struct tls *t = SSL_get_ex_data(ssl, tls_ex_index);

	return t != NULL ? t->leaf : NULL;
}

static void
name_string(const X509_NAME *n, char *out, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long l;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
		l = BIO_get_mem_data(b, &p);
		snprintf(out, len, "%.*s", (int)l, p);
	}
	BIO_free(b);
}

/* The ALPN protocol chosen, and the SNI sent or received. */
static void
negotiated_names(const struct tls *t, struct tls_info *info)
{
	const unsigned char *p;
	unsigned int len = 0;
	const char *sni;

	SSL_get0_alpn_selected(t->ssl, &p, &len);
	snprintf(info->alpn, sizeof(info->alpn), "%.*s", (int)len,
	    len > 0 ? (const char *)p : "");
	sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
	snprintf(info->sni, sizeof(info->sni), "%s", sni != NULL ? sni : "");
	info->resumed = SSL_session_reused(t->ssl) == 1;
	snprintf(info->ocsp, sizeof(info->ocsp), "%s",
	    t->ocsp != NULL ? t->ocsp : "");
}

enum status
tls_save_session(const struct stream *s, const char *path, bool *saved,
    struct error *e)
{
	const struct tls *t = tls_of(s);
	SSL_SESSION *sess = t != NULL ? SSL_get1_session(t->ssl) : NULL;
	BIO *b = NULL;
	int fd, ok;

	*saved = false;
	if (sess == NULL || !SSL_SESSION_is_resumable(sess)) {
		SSL_SESSION_free(sess);
		return ST_OK;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		SSL_SESSION_free(sess);
		return err_errno(e, ST_RUNTIME, errno, "--ssl-sess-out %s",
		    path);
	}
	if ((b = BIO_new_fd(fd, BIO_CLOSE)) == NULL)
		close(fd);
	ok = b != NULL && PEM_write_bio_SSL_SESSION(b, sess) == 1 &&
	    BIO_flush(b) == 1;
	BIO_free(b);
	SSL_SESSION_free(sess);
	if (!ok)
		return err_ssl(e, ST_RUNTIME, "--ssl-sess-out %s: cannot write "
		    "the session", path);
	*saved = true;
	return ST_OK;
}

/* What a listener made of the client's certificate. */
static void
server_verify_info(const struct tls *t, X509 *peer, struct tls_info *info)
{
	char buf[400];
	const char *v;

	if (SSL_session_reused(t->ssl) && peer != NULL)
		v = "ok (client certificate verified for the resumed session)";
	else if (SSL_get_verify_mode(t->ssl) == SSL_VERIFY_NONE)
		v = peer != NULL ? "client certificate not verified" :
		    "no client certificate";
	else if (t->have_pin)
		v = t->pin_ok ? "ok (pinned client certificate)" :
		    peer != NULL || t->leaf != NULL ? "pin mismatch" :
		    "no client certificate";
	else if (t->verify_err != 0)
		v = verify_reason(t, buf, sizeof(buf));
	else if (peer == NULL)
		v = "no client certificate";
	else
		v = "ok (trusted client certificate)";
	snprintf(info->verify, sizeof(info->verify), "%s%s",
	    t->verify_err != 0 && !t->have_pin ? "failed: " : "", v);
}

void
tls_get_info(const struct stream *s, struct tls_info *info)
{
	const struct tls *t = tls_of(s);
	const SSL_CIPHER *c;
	X509 *peer;
	const char *g = NULL;
	int nid;
	char buf[400];

	memset(info, 0, sizeof(*info));
	if (t == NULL) {
		snprintf(info->version, sizeof(info->version), "none");
		snprintf(info->cipher, sizeof(info->cipher), "none");
		snprintf(info->group, sizeof(info->group), "none");
		snprintf(info->verify, sizeof(info->verify), "no TLS");
		return;
	}
	c = SSL_get_current_cipher(t->ssl);
	peer = SSL_get0_peer_certificate(t->ssl);
	snprintf(info->version, sizeof(info->version), "%s",
	    SSL_get_version(t->ssl));
	snprintf(info->cipher, sizeof(info->cipher), "%s",
	    c != NULL ? SSL_CIPHER_get_name(c) : "none");
	/* Before 3.5, OpenSSL crashes here if no session was ever made. */
	nid = SSL_get_session(t->ssl) != NULL ?
	    SSL_get_negotiated_group(t->ssl) : 0;
	if (nid > 0)
		g = SSL_group_to_name(t->ssl, nid);
	snprintf(info->group, sizeof(info->group), "%s", g != NULL ? g : "none");
	negotiated_names(t, info);
	if (peer == NULL)
		peer = t->leaf;
	if (peer != NULL) {
		info->have_peer_cert = true;
		name_string(X509_get_subject_name(peer), info->subject,
		    sizeof(info->subject));
		name_string(X509_get_issuer_name(peer), info->issuer,
		    sizeof(info->issuer));
		tls_fingerprint(peer, info->fingerprint);
	}
	if (t->server) {
		server_verify_info(t, peer, info);
	} else if (t->have_pin) {
		snprintf(info->verify, sizeof(info->verify), "%s",
		    t->pin_ok ? "ok (pinned certificate)" : "pin mismatch");
		info->pin_mismatch = t->pin_mismatch;
		if (t->pin_ca != NULL)
			name_string(X509_get_subject_name(t->pin_ca),
			    info->pin_issuer, sizeof(info->pin_issuer));
	} else if (t->no_verify) {
		if (t->verify_err != 0)
			snprintf(info->verify, sizeof(info->verify),
			    "disabled by --ssl-no-verify (it would fail: %s)",
			    verify_reason(t, buf, sizeof(buf)));
		else
			snprintf(info->verify, sizeof(info->verify),
			    "disabled by --ssl-no-verify (it would pass)");
	} else if (t->verify_err != 0) {
		snprintf(info->verify, sizeof(info->verify), "failed: %s",
		    verify_reason(t, buf, sizeof(buf)));
	} else {
		snprintf(info->verify, sizeof(info->verify),
		    "ok (trusted chain, name %s)", t->name);
	}
}
