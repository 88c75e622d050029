/* The ClientHello extension parsers (hello.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "hello.h"

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
list_add(struct hello_list *l, uint16_t v)
{
	if (l->n < HELLO_LIST_MAX)
		l->v[l->n++] = v;
	else
		l->dropped++;
}

int
hello_parse_ciphers(const unsigned char *p, size_t len, struct hello_list *l)
{
	size_t i;

	memset(l, 0, sizeof(*l));
	if (len % 2 != 0)
		return -1;
	for (i = 0; i < len; i += 2)
		list_add(l, get16(p + i));
	return 0;
}

int
hello_parse_u16s(const unsigned char *p, size_t len, size_t lenbytes,
    struct hello_list *l)
{
	size_t n;

	memset(l, 0, sizeof(*l));
	if ((lenbytes != 1 && lenbytes != 2) || len < lenbytes)
		return -1;
	n = lenbytes == 1 ? p[0] : get16(p);
	if (n != len - lenbytes || n % 2 != 0)
		return -1;
	return hello_parse_ciphers(p + lenbytes, n, l);
}

int
hello_parse_sni(const unsigned char *p, size_t len, struct hello_offer *o)
{
	size_t n, at, nl;

	o->have_sni = false;
	o->sni[0] = '\0';
	if (len < 2 || (n = get16(p)) != len - 2)
		return -1;
	for (at = 2; at < len; at += 3 + nl) {
		if (len - at < 3)
			return -1;
		nl = get16(p + at + 1);
		if (nl > len - at - 3)
			return -1;
		/* The first host_name (type 0) that fits; others are skipped. */
		if (p[at] == 0 && !o->have_sni && nl > 0 &&
		    nl < sizeof(o->sni) && memchr(p + at + 3, '\0', nl) == NULL) {
			memcpy(o->sni, p + at + 3, nl);
			o->sni[nl] = '\0';
			o->have_sni = true;
		}
	}
	return 0;
}

int
hello_parse_alpn(const unsigned char *p, size_t len, struct hello_offer *o)
{
	size_t at, nl;

	o->nalpn = 0;
	o->alpn_dropped = 0;
	if (len < 2 || get16(p) != len - 2)
		return -1;
	for (at = 2; at < len; at += 1 + nl) {
		nl = p[at];
		if (nl == 0 || nl > len - at - 1) {
			o->nalpn = 0;
			o->alpn_dropped = 0;
			return -1;
		}
		if (o->nalpn < HELLO_ALPN_MAX) {
			o->alpn[o->nalpn].len = nl;
			memcpy(o->alpn[o->nalpn].name, p + at + 1, nl);
			o->alpn[o->nalpn].name[nl] = '\0';
			o->nalpn++;
		} else {
			o->alpn_dropped++;
		}
	}
	return 0;
}

int
hello_parse_ext(struct hello_offer *o, unsigned type, const unsigned char *p,
    size_t len)
{
	int rc = 0;

	switch (type) {
	case HELLO_EXT_SERVER_NAME:
		rc = hello_parse_sni(p, len, o);
		break;
	case HELLO_EXT_STATUS_REQUEST:
		o->status_request = true;
		break;
	case HELLO_EXT_SUPPORTED_GROUPS:
		rc = hello_parse_u16s(p, len, 2, &o->groups);
		break;
	case HELLO_EXT_SIGALGS:
		rc = hello_parse_u16s(p, len, 2, &o->sigalgs);
		break;
	case HELLO_EXT_ALPN:
		rc = hello_parse_alpn(p, len, o);
		break;
	case HELLO_EXT_SESSION_TICKET:
		/* An empty one only says the client takes tickets. */
		o->ticket = len > 0;
		break;
	case HELLO_EXT_PRE_SHARED_KEY:
		o->psk = true;
		break;
	case HELLO_EXT_SUPPORTED_VERSIONS:
		rc = hello_parse_u16s(p, len, 1, &o->versions);
		break;
	default:
		break;
	}
	if (rc == -1)
		o->malformed = true;
	return rc;
}

bool
hello_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

struct code_name {
	uint16_t	 code;
	const char	*name;
};

static const char *
lookup(const struct code_name *t, size_t n, uint16_t v,
    char buf[HELLO_NAME_MAX])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].code == v)
			return t[i].name;
	if (hello_is_grease(v))
		snprintf(buf, HELLO_NAME_MAX, "GREASE");
	else
		snprintf(buf, HELLO_NAME_MAX, "0x%04x", v);
	return buf;
}

#define LOOKUP(t, v, buf)	lookup(t, sizeof(t) / sizeof(t[0]), v, buf)

const char *
hello_version_name(uint16_t v, char buf[HELLO_NAME_MAX])
{
	static const struct code_name t[] = {
		{ 0x0300, "SSLv3" }, { 0x0301, "TLSv1" },
		{ 0x0302, "TLSv1.1" }, { 0x0303, "TLSv1.2" },
		{ 0x0304, "TLSv1.3" },
	};

	return LOOKUP(t, v, buf);
}

/* The names OpenSSL's -groups takes, for the IANA NamedGroup values. */
const char *
hello_group_name(uint16_t v, char buf[HELLO_NAME_MAX])
{
	static const struct code_name t[] = {
		{ 0x0017, "secp256r1" }, { 0x0018, "secp384r1" },
		{ 0x0019, "secp521r1" }, { 0x001d, "x25519" },
		{ 0x001e, "x448" }, { 0x001a, "brainpoolP256r1" },
		{ 0x001b, "brainpoolP384r1" }, { 0x001c, "brainpoolP512r1" },
		{ 0x0100, "ffdhe2048" }, { 0x0101, "ffdhe3072" },
		{ 0x0102, "ffdhe4096" }, { 0x0103, "ffdhe6144" },
		{ 0x0104, "ffdhe8192" }, { 0x11ec, "X25519MLKEM768" },
		{ 0x6399, "X25519Kyber768Draft00" },
	};

	return LOOKUP(t, v, buf);
}

/* The IANA SignatureScheme names. */
const char *
hello_sigalg_name(uint16_t v, char buf[HELLO_NAME_MAX])
{
	static const struct code_name t[] = {
		{ 0x0401, "rsa_pkcs1_sha256" }, { 0x0501, "rsa_pkcs1_sha384" },
		{ 0x0601, "rsa_pkcs1_sha512" },
		{ 0x0403, "ecdsa_secp256r1_sha256" },
		{ 0x0503, "ecdsa_secp384r1_sha384" },
		{ 0x0603, "ecdsa_secp521r1_sha512" },
		{ 0x0804, "rsa_pss_rsae_sha256" },
		{ 0x0805, "rsa_pss_rsae_sha384" },
		{ 0x0806, "rsa_pss_rsae_sha512" },
		{ 0x0807, "ed25519" }, { 0x0808, "ed448" },
		{ 0x0809, "rsa_pss_pss_sha256" },
		{ 0x080a, "rsa_pss_pss_sha384" },
		{ 0x080b, "rsa_pss_pss_sha512" },
		{ 0x081a, "ecdsa_brainpoolP256r1tls13_sha256" },
		{ 0x081b, "ecdsa_brainpoolP384r1tls13_sha384" },
		{ 0x081c, "ecdsa_brainpoolP512r1tls13_sha512" },
		{ 0x0201, "rsa_pkcs1_sha1" }, { 0x0203, "ecdsa_sha1" },
		{ 0x0301, "rsa_pkcs1_sha224" }, { 0x0303, "ecdsa_sha224" },
		{ 0x0402, "dsa_sha256" }, { 0x0502, "dsa_sha384" },
		{ 0x0602, "dsa_sha512" }, { 0x0202, "dsa_sha1" },
		{ 0x0302, "dsa_sha224" },
	};

	return LOOKUP(t, v, buf);
}
