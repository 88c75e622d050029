/*
 * Helpers shared by the unit-test drivers that need sockets, certificates
 * and TLS: socketpairs, certificates made in memory, PEM files in a private
 * temporary directory, a non-blocking handshake driver and a "pump" that
 * moves data through streams with poll.
 *
 * Everything here is static: each driver includes this header once, after
 * config.h, the cmocka headers and the src/ headers it uses.
 */
#ifndef TLSNC_TESTUTIL_H
#define TLSNC_TESTUTIL_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "stream.h"
#include "tls.h"

#define TU_FN	static __attribute__((unused))

/* Milliseconds on the monotonic clock (the tests do not depend on net.c). */
TU_FN int64_t
tu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TU_FN void
tu_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl != -1);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

TU_FN void
tu_socketpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
}

/* Deterministic pseudo-random bytes, different for each seed. */
TU_FN unsigned char *
tu_pattern(size_t len, uint32_t seed)
{
	unsigned char *p = malloc(len > 0 ? len : 1);
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)(x >> 11);
	}
	return p;
}

/* SHA-256 of a buffer as hex, for messages that name a mismatch. */
TU_FN void
tu_sha256(const void *buf, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	int i;

	assert_int_equal(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL),
	    1);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

#define tu_assert_same(a, alen, b, blen) do {				\
	char ha_[65], hb_[65];						\
	tu_sha256((a), (alen), ha_);					\
	tu_sha256((b), (blen), hb_);					\
	assert_int_equal((alen), (blen));				\
	assert_string_equal(ha_, hb_);					\
} while (0)

/* Certificates ------------------------------------------------------- */

struct tu_cert {
	EVP_PKEY	*key;
	X509		*cert;
};

TU_FN void
tu_cert_free(struct tu_cert *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	c->cert = NULL;
	c->key = NULL;
}

TU_FN void
tu_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/*
 * Make a P-256 certificate for cn.  issuer NULL makes it self-signed; ca
 * makes it a CA; san (may be NULL) is an X509v3 subjectAltName value.  It is
 * valid from not_before to not_after seconds from now.
 */
TU_FN void
tu_make_cert(struct tu_cert *out, const char *cn, const char *san, bool ca,
    const struct tu_cert *issuer, long not_before, long not_after)
{
	static long serial = 1000;
	X509 *x;
	EVP_PKEY *key;
	X509 *icert;

	key = EVP_EC_gen("P-256");
	assert_non_null(key);
	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++),
	    1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), not_before));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), not_after));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0), 1);
	icert = issuer != NULL ? issuer->cert : x;
	assert_int_equal(X509_set_issuer_name(x,
	    X509_get_subject_name(icert)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (ca) {
		tu_add_ext(x, icert, NID_basic_constraints, "critical,CA:TRUE");
		tu_add_ext(x, icert, NID_key_usage,
		    "critical,keyCertSign,cRLSign");
	} else {
		tu_add_ext(x, icert, NID_basic_constraints, "CA:FALSE");
		tu_add_ext(x, icert, NID_ext_key_usage,
		    "serverAuth,clientAuth");
	}
	tu_add_ext(x, icert, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		tu_add_ext(x, icert, NID_authority_key_identifier, "keyid");
	if (san != NULL)
		tu_add_ext(x, icert, NID_subject_alt_name, san);
	assert_true(X509_sign(x, issuer != NULL ? issuer->key : key,
	    EVP_sha256()) > 0);
	out->key = key;
	out->cert = x;
}

/* Temporary files ---------------------------------------------------- */

/* A private directory for PEM files; path must hold 64 bytes. */
TU_FN void
tu_tmpdir(char path[64])
{
	snprintf(path, 64, "/tmp/tlsnc-unit-XXXXXX");
	assert_non_null(mkdtemp(path));
}

/* Remove the directory made by tu_tmpdir and the files in it. */
TU_FN void
tu_rmtree(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char p[512];

	if (dir == NULL || dir[0] == '\0' || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Write cert, then chain, then key (each may be NULL) to f in PEM; close f. */
TU_FN void
tu_pem_to(FILE *f, X509 *cert, X509 *chain, EVP_PKEY *key)
{
	if (cert != NULL)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (chain != NULL)
		assert_int_equal(PEM_write_X509(f, chain), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0,
		    NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
}

/*
 * Write dir/name holding cert, then chain (may be NULL), then key (may be
 * NULL), in PEM.  Returns the path, which the caller frees.
 */
TU_FN char *
tu_write_pem(const char *dir, const char *name, X509 *cert, X509 *chain,
    EVP_PKEY *key)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	tu_pem_to(f, cert, chain, key);
	return path;
}

/* Write arbitrary text to dir/name; returns the path to free. */
TU_FN char *
tu_write_text(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* TLS ---------------------------------------------------------------- */

/* A TLS stream over one end of a socketpair; the stream owns fd. */
TU_FN struct stream *
tu_tls_over(SSL_CTX *ctx, int fd, const struct tls_opts *o, const char *host)
{
	struct stream *lower, *s;
	struct error e = { ST_OK, "" };

	lower = stream_fd_new(fd, fd, STREAM_OWN_FDS);
	assert_non_null(lower);
	s = tls_stream_new(ctx, lower, o, host, &e);
	if (s == NULL)
		fail_msg("tls_stream_new: %s", e.msg);
	return s;
}

/*
 * Drive the handshakes of a and b (b may be NULL) with poll until each has
 * finished, i.e. returned anything but a want.  *ra and *rb get the final
 * results.  Returns 0, or -1 if timeout_ms passed first.
 */
TU_FN int
tu_handshake(struct stream *a, struct stream *b, enum io *ra, enum io *rb,
    int timeout_ms)
{
	struct stream *s[2] = { a, b };
	enum io r[2] = { IO_WANT_READ, IO_WANT_READ };
	bool fin[2] = { false, b == NULL };
	struct pollfd pfd[2];
	int64_t end = tu_now() + timeout_ms;
	int i, n;
	short ev;

	for (;;) {
		for (i = 0; i < 2; i++) {
			if (fin[i])
				continue;
			r[i] = stream_handshake(s[i]);
			if (r[i] != IO_WANT_READ && r[i] != IO_WANT_WRITE)
				fin[i] = true;
		}
		if (fin[0] && fin[1])
			break;
		n = 0;
		for (i = 0; i < 2; i++) {
			if (fin[i])
				continue;
			pfd[n].fd = stream_want_fd(s[i], r[i], &ev);
			pfd[n].events = ev;
			pfd[n].revents = 0;
			n++;
		}
		if (tu_now() >= end)
			break;
		if (poll(pfd, (nfds_t)n, (int)(end - tu_now())) == -1 &&
		    errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
	}
	*ra = r[0];
	if (rb != NULL)
		*rb = r[1];
	return fin[0] && fin[1] ? 0 : -1;
}

/* The pump ----------------------------------------------------------- */

enum tu_eof { TU_EOF_NONE, TU_EOF_SHUT, TU_EOF_CLOSE };

/*
 * One endpoint of a transfer.  It writes src (then does eof_how), and if
 * read is set it reads into dst until EOF, or until want_bytes arrived when
 * that is nonzero.  The pump fills in the rest.
 */
struct tu_ep {
	struct stream	*s;
	const unsigned char *src;
	size_t		 srclen;
	size_t		 wchunk;	/* bytes per write, 0: 64 KiB */
	enum tu_eof	 eof_how;
	bool		 read;
	unsigned char	*dst;
	size_t		 dstcap;
	size_t		 want_bytes;
	size_t		 rchunk;	/* bytes per read, 0: 64 KiB */
	bool		 rvary;		/* vary it, 1..rchunk */

	size_t		 srcoff;
	bool		 eof_done;
	size_t		 dstlen;
	bool		 got_eof;
	bool		 eof_unclean;
	enum io		 wwant;
	enum io		 rwant;
	bool		 saw_partial;	/* a write took less */
	bool		 saw_pending;	/* pending after a read */
	uint32_t	 rng;
};

/* The reader has the bytes it wanted (when it wants a count). */
TU_FN bool
tu_ep_have_all(const struct tu_ep *p)
{
	return p->want_bytes > 0 && p->dstlen >= p->want_bytes;
}

TU_FN bool
tu_ep_satisfied(const struct tu_ep *p)
{
	if (p->srcoff < p->srclen)
		return false;
	if (p->eof_how != TU_EOF_NONE && !p->eof_done)
		return false;
	if (!p->read)
		return true;
	if (p->want_bytes > 0)
		return p->dstlen >= p->want_bytes;
	return p->got_eof;
}

/* Write what can be written without waiting; -1 on an error. */
TU_FN int
tu_ep_write(struct tu_ep *p)
{
	size_t chunk = p->wchunk != 0 ? p->wchunk : 65536, len, n;
	enum io io;

	while (p->srcoff < p->srclen) {
		/* A retry after a want offers the same bytes again. */
		len = p->srclen - p->srcoff;
		if (len > chunk)
			len = chunk;
		io = stream_write(p->s, p->src + p->srcoff, len, &n);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			p->wwant = io;
			return 0;
		}
		if (io != IO_DONE) {
			print_error("pump write: %s\n", p->s->err.msg);
			return -1;
		}
		if (n < len)
			p->saw_partial = true;
		p->srcoff += n;
		p->wwant = IO_WANT_WRITE;
	}
	if (p->eof_how == TU_EOF_SHUT && !p->eof_done) {
		io = stream_shutdown_write(p->s);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			p->wwant = io;
			return 0;
		}
		if (io != IO_DONE) {
			print_error("pump shutdown: %s\n", p->s->err.msg);
			return -1;
		}
		p->eof_done = true;
	} else if (p->eof_how == TU_EOF_CLOSE && !p->eof_done) {
		stream_close(p->s);
		p->s = NULL;
		p->eof_done = true;
	}
	return 0;
}

/* Read what can be read without waiting; -1 on an error. */
TU_FN int
tu_ep_read(struct tu_ep *p)
{
	size_t chunk = p->rchunk != 0 ? p->rchunk : 65536, len, n;
	unsigned char extra;
	enum io io;

	while (!p->got_eof) {
		len = chunk;
		if (p->rvary) {
			p->rng = p->rng * 1103515245u + 12345u;
			len = 1 + (p->rng >> 8) % chunk;
		}
		if (len > p->dstcap - p->dstlen)
			len = p->dstcap - p->dstlen;
		/* When dst is full, only EOF may come. */
		if (len == 0)
			io = stream_read(p->s, &extra, 1, &n);
		else
			io = stream_read(p->s, p->dst + p->dstlen, len, &n);
		if (io == IO_WANT_READ || io == IO_WANT_WRITE) {
			p->rwant = io;
			return 0;
		}
		if (io == IO_EOF) {
			p->got_eof = true;
			p->eof_unclean = !stream_eof_clean(p->s);
			return 0;
		}
		if (io != IO_DONE) {
			print_error("pump read: %s\n", p->s->err.msg);
			return -1;
		}
		if (len == 0) {
			print_error("pump read: more than %zu bytes\n",
			    p->dstcap);
			return -1;
		}
		assert_true(n > 0 && n <= len);
		p->dstlen += n;
		p->rwant = IO_WANT_READ;
		if (stream_pending(p->s) > 0)
			p->saw_pending = true;
		if (p->want_bytes > 0 && p->dstlen >= p->want_bytes)
			return 0;
	}
	return 0;
}

/*
 * Run the endpoints until each is satisfied.  Returns 0, -1 on a timeout
 * and -2 on an I/O error (printed).
 */
TU_FN int
tu_pump(struct tu_ep *eps, int neps, int timeout_ms)
{
	struct pollfd pfd[16];
	int64_t end = tu_now() + timeout_ms;
	int i, n, left;
	short ev;
	bool all;

	assert_true(neps <= 8);
	for (i = 0; i < neps; i++) {
		eps[i].wwant = IO_WANT_WRITE;
		eps[i].rwant = IO_WANT_READ;
		eps[i].rng = (uint32_t)i * 7919u + 17u;
	}
	for (;;) {
		all = true;
		for (i = 0; i < neps; i++) {
			struct tu_ep *p = &eps[i];

			if (tu_ep_write(p) == -1)
				return -2;
			if (p->read && p->s != NULL && !tu_ep_have_all(p) &&
			    tu_ep_read(p) == -1)
				return -2;
			if (!tu_ep_satisfied(p))
				all = false;
		}
		if (all)
			return 0;
		n = 0;
		for (i = 0; i < neps; i++) {
			struct tu_ep *p = &eps[i];

			if (p->s == NULL)
				continue;
			if (p->srcoff < p->srclen ||
			    (p->eof_how == TU_EOF_SHUT && !p->eof_done)) {
				pfd[n].fd = stream_want_fd(p->s, p->wwant, &ev);
				pfd[n].events = ev;
				pfd[n++].revents = 0;
			}
			if (p->read && !p->got_eof && !tu_ep_have_all(p)) {
				pfd[n].fd = stream_want_fd(p->s, p->rwant, &ev);
				pfd[n].events = ev;
				pfd[n++].revents = 0;
			}
		}
		left = (int)(end - tu_now());
		if (left <= 0)
			return -1;
		/* tu_ep_read drained what TLS held: nothing waits unseen. */
		if (poll(pfd, (nfds_t)n, left) == -1 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
	}
}

#endif
