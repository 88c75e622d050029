/*
 * What a client offered in its ClientHello, parsed from the bodies of its
 * extensions.  The parsers are pure: they take the bytes of one extension's
 * body (as SSL_client_hello_get0_ext gives them), check every length
 * against the bytes there are, and fill a struct hello_offer.  A body that
 * is malformed or truncated leaves the field empty and returns -1; nothing
 * is read past the body.
 */
#ifndef TLSNC_HELLO_H
#define TLSNC_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extension types (IANA TLS ExtensionType values). */
#define HELLO_EXT_SERVER_NAME		0
#define HELLO_EXT_STATUS_REQUEST	5
#define HELLO_EXT_SUPPORTED_GROUPS	10
#define HELLO_EXT_SIGALGS		13
#define HELLO_EXT_ALPN			16
#define HELLO_EXT_SESSION_TICKET	35
#define HELLO_EXT_PRE_SHARED_KEY	41
#define HELLO_EXT_SUPPORTED_VERSIONS	43

#define HELLO_LIST_MAX	128	/* code points kept per list */
#define HELLO_ALPN_MAX	16	/* ALPN protocols kept */

/* A list of 16-bit code points; more than HELLO_LIST_MAX are counted. */
struct hello_list {
	uint16_t v[HELLO_LIST_MAX];
	size_t	 n;
	size_t	 dropped;	/* beyond HELLO_LIST_MAX */
};

struct hello_proto {
	size_t	 len;
	char	 name[256];	/* len bytes, then a NUL (it may hold NULs) */
};

struct hello_offer {
	struct hello_list versions;	/* supported_versions, else legacy */
	struct hello_list ciphers;
	struct hello_list groups;
	struct hello_list sigalgs;
	struct hello_proto alpn[HELLO_ALPN_MAX];
	size_t	 nalpn;
	size_t	 alpn_dropped;	/* beyond HELLO_ALPN_MAX */
	bool	 have_sni;
	char	 sni[256];	/* host_name, NUL-terminated */
	bool	 ticket;	/* a non-empty session_ticket */
	bool	 psk;		/* pre_shared_key */
	bool	 status_request; /* asked for an OCSP staple */
	bool	 malformed;	/* some extension did not parse */
};

/*
 * A list of 16-bit values with a length prefix of lenbytes (1 or 2) bytes
 * that must cover the rest of the body exactly, and be even.
 */
int	hello_parse_u16s(const unsigned char *, size_t, size_t lenbytes,
	    struct hello_list *);
/* The cipher suites: a bare sequence of 16-bit values (no prefix). */
int	hello_parse_ciphers(const unsigned char *, size_t, struct hello_list *);
/* server_name: the first host_name of the list. */
int	hello_parse_sni(const unsigned char *, size_t, struct hello_offer *);
/* application_layer_protocol_negotiation: the protocol names. */
int	hello_parse_alpn(const unsigned char *, size_t, struct hello_offer *);
/*
 * One extension of type type: dispatch to the parsers above, or note a flag.
 * A malformed body sets o->malformed and returns -1.
 */
int	hello_parse_ext(struct hello_offer *, unsigned type,
	    const unsigned char *, size_t);

/* Names: "TLSv1.3", "x25519", "ecdsa_secp256r1_sha256"; else "0x%04x". */
#define HELLO_NAME_MAX	32
const char *hello_version_name(uint16_t, char buf[HELLO_NAME_MAX]);
const char *hello_group_name(uint16_t, char buf[HELLO_NAME_MAX]);
const char *hello_sigalg_name(uint16_t, char buf[HELLO_NAME_MAX]);
/* GREASE values (RFC 8701): 0x?a?a with both bytes equal. */
bool	hello_is_grease(uint16_t);

#endif
