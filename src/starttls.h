/*
 * STARTTLS: a layer whose handshake speaks a protocol's plaintext preamble
 * (EHLO, then STARTTLS, for SMTP) on the stream below it, so that the TLS
 * layer put on top of it upgrades the same connection.  Nothing above it
 * knows that STARTTLS happened.
 *
 * Each protocol is a short list of steps: send a command (or nothing),
 * then read one reply and judge it with a reply parser.  A reply parser is
 * a pure function of the bytes received so far, bounded by
 * STARTTLS_REPLY_MAX, with no I/O: it says whether the reply is complete,
 * and what it means.  The last step's reply is the server's go-ahead;
 * anything the server sent after it, before the TLS handshake, is refused
 * (the STARTTLS injection class of attacks).
 */
#ifndef TLSNC_STARTTLS_H
#define TLSNC_STARTTLS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "stream.h"

/* A reply longer than this, still not complete, is refused as oversized. */
#define STARTTLS_REPLY_MAX	8192

enum starttls_verdict {
	STV_MORE,		/* not complete yet: read more */
	STV_OK,			/* complete, and it says go on */
	STV_REFUSED,		/* complete: the server refuses */
	STV_NOT_OFFERED,	/* complete: the server has no STARTTLS */
	STV_MALFORMED,		/* not a reply of this protocol */
	STV_OVERSIZED,		/* STARTTLS_REPLY_MAX bytes and no end */
};

/*
 * A reply parser: judge the reply at the start of buf[0..len).  On a
 * complete reply (any verdict but STV_MORE, STV_MALFORMED and
 * STV_OVERSIZED), *used is its length; bytes after it belong to what
 * follows.
 */
typedef enum starttls_verdict starttls_parser(const unsigned char *buf,
		    size_t len, size_t *used);

/*
 * Run parser p on at most STARTTLS_REPLY_MAX bytes of buf: STV_MORE with
 * that many bytes becomes STV_OVERSIZED.  This is the only way parsers are
 * called, in the layer and in the tests.
 */
enum starttls_verdict starttls_judge(starttls_parser *p,
		    const unsigned char *buf, size_t len, size_t *used);

/* The reply parsers, one per step of each protocol (starttls_parse.c). */
starttls_parser	stp_smtp_greeting, stp_smtp_ehlo, stp_smtp_starttls,
		stp_imap_greeting, stp_imap_capability, stp_imap_starttls,
		stp_pop3_greeting, stp_pop3_capa, stp_pop3_stls,
		stp_ftp_greeting, stp_ftp_auth,
		stp_postgres_ssl, stp_ldap_starttls,
		stp_xmpp_features, stp_xmpp_proceed,
		stp_nntp_greeting, stp_nntp_capabilities, stp_nntp_starttls,
		stp_sieve_capability, stp_sieve_starttls,
		stp_irc_starttls;

/* PostgreSQL's SSLRequest: length 8, code 80877103. */
extern const unsigned char starttls_postgres_request[8];
/* The LDAP StartTLS extended request, message ID 1 (a fixed encoding). */
extern const unsigned char starttls_ldap_request[];
extern const size_t starttls_ldap_request_len;

struct starttls_proto;

/* The protocol named name ("smtp", "xmpp-server", ...), or NULL. */
const struct starttls_proto *starttls_find(const char *name);
/* The names, separated by ", ", for messages and --help. */
const char	*starttls_names(void);
/* The usual port of a protocol. */
uint16_t	 starttls_port(const struct starttls_proto *);
/*
 * Whether the name sent in the preamble defaults to the target host (XMPP's
 * "to") rather than this host's name (EHLO, LHLO).
 */
int		 starttls_name_is_target(const struct starttls_proto *);

/* Where the layer reports the dialogue: dir is 'C' (sent) or 'S'. */
typedef void	 starttls_log_fn(void *arg, char dir, const char *line);

/*
 * The layer over lower (which it then owns).  name is the EHLO/LHLO name or
 * the XMPP domain.  log, when not NULL, is told every line of the dialogue.
 * Returns NULL with e filled in.
 */
struct stream	*starttls_new(const struct starttls_proto *, struct stream *lower,
		    const char *name, starttls_log_fn *log, void *log_arg,
		    struct error *e);

/*
 * After a handshake timeout: when a STARTTLS layer in s was still waiting
 * for the server, replace e's message by one that says which reply never
 * came.  Returns whether it did.
 */
int		 starttls_explain_timeout(const struct stream *s,
		    struct error *e);

/*
 * The bytes of a reply as one printable line: CR LF as " | ", other
 * unprintable bytes as \xNN, cut with "..." to fit out.
 */
const char	*starttls_quote(const unsigned char *buf, size_t len, char *out,
		    size_t outlen);

#endif
