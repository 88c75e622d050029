/*
 * TLS: contexts with secure defaults, the TLS stream, the ephemeral
 * certificate and SHA-256 pinning.
 */
#ifndef TLSNC_TLS_H
#define TLSNC_TLS_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "status.h"
#include "stream.h"

#define TLS_PIN_LEN	32			/* SHA-256 */
#define TLS_PINS_MAX	16			/* --ssl-pin, repeated */
/*
 * The TLS 1.2 cipher suites without --ssl-ciphers: forward secrecy (ECDHE)
 * and AEAD only, so neither static RSA key exchange nor CBC.  TLS 1.3
 * suites are all of that already, and are not affected.
 */
#define TLS_DEFAULT_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"
/* With TLS 1.0 or 1.1 allowed, their CBC suites too, still with ECDHE. */
#define TLS_LEGACY_CIPHERS	TLS_DEFAULT_CIPHERS ":ECDHE+AES"
#define TLS_CERTS_MAX	8			/* --ssl-cert, repeated */
#define TLS_ALPN_MAX	1024			/* --ssl-alpn, wire bytes */
#define TLS_FP_MAX	(7 + 2 * TLS_PIN_LEN + 1)	/* "SHA256:" hex NUL */

enum tls_ocsp {
	TLS_OCSP_OFF,
	TLS_OCSP_ASK,		/* --ssl-ocsp: ask, and report */
	TLS_OCSP_REQUIRE,	/* --ssl-ocsp=require: no good status, refuse */
};

struct tls_opts {
	bool		 server;
	const char	*cert_file;	/* --ssl-cert */
	const char	*key_file;	/* --ssl-key (default: cert_file) */
	const char	*key_pass;	/* --ssl-key-pass SOURCE, or NULL */
	const char	*trust_file;	/* --ssl-trustfile */
	bool		 no_verify;	/* --ssl-no-verify */
	/*
	 * --ssl-pin, which may be repeated (to rotate certificates): any one
	 * of the pins must match the server's own certificate.  The first has
	 * a field of its own, so that code with one pin sets have_pin and pin.
	 */
	bool		 have_pin;
	unsigned char	 pin[TLS_PIN_LEN];
	size_t		 n_more_pins;
	unsigned char	 more_pins[TLS_PINS_MAX - 1][TLS_PIN_LEN];
	/*
	 * A listener may have more certificates, chosen by SNI: the n-th
	 * --ssl-key goes with the n-th --ssl-cert, and a certificate with no
	 * key of its own has it in its own file.  The first pair is
	 * cert_file and key_file, the default.
	 */
	size_t		 n_more_certs;
	const char	*more_certs[TLS_CERTS_MAX - 1];
	size_t		 n_more_keys;
	const char	*more_keys[TLS_CERTS_MAX - 1];
	const char	*servername;	/* --ssl-servername: SNI and name */
	const char	*verify_name;	/* --ssl-verify-name: the name only */
	bool		 no_sni;	/* --no-sni */
	const char	*alpn;		/* --ssl-alpn: comma-separated */
	bool		 alpn_required;	/* --ssl-alpn-required */
	int		 min_version;	/* --ssl-min-version, or 0 */
	int		 max_version;	/* --ssl-max-version, or 0 */
	bool		 have_seclevel;
	int		 seclevel;	/* --ssl-seclevel */
	const char	*ciphers;	/* --ssl-ciphers: TLS 1.2 suites */
	const char	*ciphersuites;	/* --ssl-ciphersuites: TLS 1.3 */
	const char	*groups;	/* --ssl-groups */
	const char	*sigalgs;	/* --ssl-sigalgs */
	const char	*sess_in;	/* --ssl-sess-in: a session to resume */
	const char	*sess_out;	/* --ssl-sess-out: where to save it */
	unsigned	 reconnect;	/* --ssl-reconnect: more connections */
	enum tls_ocsp	 ocsp;		/* --ssl-ocsp */
	const char	*ocsp_response;	/* --ssl-ocsp-response: DER */
	const char	*client_ca;	/* --ssl-client-ca: verify clients */
	bool		 require_client_cert; /* --ssl-require-client-cert */
	const char	*listen_name;	/* server: added to the ephemeral SAN */
};

/* What a handshake negotiated and what the peer presented. */
struct tls_info {
	char	version[16];
	char	cipher[64];
	char	group[32];
	char	alpn[256];		/* the protocol chosen, or "" */
	char	sni[256];		/* SNI sent, or received, or "" */
	bool	resumed;		/* the session was resumed */
	char	ocsp[128];		/* with --ssl-ocsp: the status */
	bool	have_peer_cert;
	char	subject[256];
	char	issuer[256];
	char	fingerprint[TLS_FP_MAX];
	char	verify[600];		/* the verification result in words */
	bool	pin_mismatch;		/* pinned, and the certificate is not */
	char	pin_issuer[256];	/* a pin matched this CA instead, or "" */
};

/*
 * Build a client or server context.  A server without cert_file gets an
 * ephemeral ECDSA P-256 certificate; its fingerprint goes to own_fp (which
 * may be NULL), and *ephemeral says whether one was made.  Returns NULL with
 * e filled in (ST_USAGE for unusable files).
 *
 * An encrypted key's passphrase comes from key_pass, or else from a prompt
 * on /dev/tty; standard input, which carries the data, is never read for it.
 */
SSL_CTX		*tls_ctx_new(const struct tls_opts *, char *own_fp,
		    bool *ephemeral, struct error *);

/*
 * Layer TLS over lower (which the new stream then owns).  host is the name
 * the client connected to: it is verified, and sent as SNI unless it is an
 * IP literal.  --ssl-servername takes its place for both, and is likewise
 * never sent as SNI when it is an IP literal (RFC 6066).
 */
struct stream	*tls_stream_new(SSL_CTX *, struct stream *lower,
		    const struct tls_opts *, const char *host, struct error *);

/* Fill info from an established (or failed) TLS stream. */
void		 tls_get_info(const struct stream *, struct tls_info *);
/*
 * Write the stream's session, in PEM, to path (created with mode 0600), so
 * that --ssl-sess-in can resume it.  Sets *saved, false when the peer gave
 * no session that can be resumed (nothing is written then).  Returns ST_OK,
 * or ST_RUNTIME with e when the file cannot be written.
 */
enum status	 tls_save_session(const struct stream *, const char *path,
		    bool *saved, struct error *);
/* True when the stream failed because the peer's certificate was refused. */
bool		 tls_verify_failed(const struct stream *);
/* The OpenSSL session of a TLS stream (for the report), or NULL. */
SSL		*tls_get_ssl(const struct stream *);
/*
 * Whether the kernel seals and opens the records of an established
 * session: "send and receive", "send", "receive" or "not in use"; NULL
 * when kernel TLS was not asked for (see tls.c).
 */
const char	*tls_ktls_state(const SSL *);
/* The peer's certificate as the verification saw it, even if refused. */
X509		*tls_peer_leaf(const SSL *);

/* "SHA256:<64 lowercase hex>" of a certificate's DER encoding. */
int		 tls_fingerprint(X509 *, char out[TLS_FP_MAX]);
/*
 * Parse a pin: "SHA256:" (any case, optional) then 64 hex digits, with or
 * without colons between bytes.  Returns 0, or -1 if malformed.
 */
int		 tls_parse_pin(const char *, unsigned char out[TLS_PIN_LEN]);
/*
 * Whether s names where a key's passphrase comes from, in one of openssl's
 * forms: "pass:TEXT", "env:VAR", "file:PATH" or "fd:N" (the first line of
 * the file or descriptor).
 */
bool		 tls_pass_source_ok(const char *s);
/* The message for a source that is not one of them; it never echoes one. */
#define TLS_PASS_FORMS	"--ssl-key-pass: give the passphrase as pass:TEXT, " \
			"env:VAR, file:PATH or fd:N"
/* Make a self-signed ECDSA P-256 certificate; names go into the SAN. */
int		 tls_make_ephemeral(const char *name, EVP_PKEY **, X509 **,
		    struct error *);

/* --- Negotiation (tls_opts.c). */

/* TLS1_VERSION ... TLS1_3_VERSION for "tls1" ... "tls1.3", or 0. */
int		 tls_parse_version(const char *);
/* "tls1.2" for TLS1_2_VERSION, and so on. */
const char	*tls_version_name(int);
/*
 * Encode a comma-separated ALPN list into the wire format (each name
 * prefixed by its length) in out.  Returns the length, or -1 with e
 * (ST_USAGE) for an empty list or name, a name over 255 bytes, or a list
 * longer than outsz.
 */
int		 tls_alpn_encode(const char *list, unsigned char *out,
		    size_t outsz, struct error *);
/*
 * The first protocol of ours (wire format) that theirs also has: true with
 * *out and *outlen set, or false when they have none in common.
 */
bool		 tls_alpn_pick(const unsigned char *ours, size_t ourlen,
		    const unsigned char *theirs, size_t theirlen,
		    const unsigned char **out, unsigned char *outlen);
/*
 * Apply the version bounds, security level, TLS 1.3 suites, groups and
 * signature algorithms of o to ctx.  Returns 0, or -1 with e (ST_USAGE,
 * naming the bad value).
 */
int		 tls_ctx_negotiation(SSL_CTX *, const struct tls_opts *,
		    struct error *);

/*
 * Show each ClientHello a server context receives to fn, before the
 * context's own checks of it.  -1 for a context not made by tls_ctx_new.
 */
int	tls_ctx_on_hello(SSL_CTX *, void (*fn)(SSL *));

#endif
