/*
 * The STARTTLS reply parsers: pure functions of the bytes received, with no
 * I/O and no state, each bounded by the length it is given (see
 * starttls.h).  Text protocols end a line with CR LF; a bare LF is taken
 * too, since reading it costs nothing and refusing it helps nobody.
 */
#define _GNU_SOURCE	/* memmem */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "starttls.h"

enum starttls_verdict
starttls_judge(starttls_parser *p, const unsigned char *buf, size_t len,
    size_t *used)
{
	enum starttls_verdict v;

	*used = 0;
	if (len > STARTTLS_REPLY_MAX)
		len = STARTTLS_REPLY_MAX;
	v = p(buf, len, used);
	if (v == STV_MORE && len >= STARTTLS_REPLY_MAX)
		return STV_OVERSIZED;
	if (v != STV_OK && v != STV_REFUSED && v != STV_NOT_OFFERED)
		*used = 0;
	return v;
}

/* --- Lines and words. */

/*
 * The line starting at off: its text ends at *end (before CR LF) and the
 * next line starts at *next.  Returns false while no LF has come.
 */
static bool
line_at(const unsigned char *buf, size_t len, size_t off, size_t *end,
    size_t *next)
{
	const unsigned char *lf;

	if (off >= len || (lf = memchr(buf + off, '\n', len - off)) == NULL)
		return false;
	*next = (size_t)(lf - buf) + 1;
	*end = *next - 1;
	if (*end > off && buf[*end - 1] == '\r')
		(*end)--;
	return true;
}

/* Whether p[0..len) starts with word (any case), then a blank or its end. */
static bool
starts_word(const unsigned char *p, size_t len, const char *word)
{
	size_t w = strlen(word);

	return len >= w && strncasecmp((const char *)p, word, w) == 0 &&
	    (len == w || p[w] == ' ' || p[w] == '\t');
}

/* Whether word is one of the blank-separated words of p[0..len). */
static bool
has_word(const unsigned char *p, size_t len, const char *word)
{
	size_t i = 0, start;

	while (i < len) {
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		start = i;
		while (i < len && p[i] != ' ' && p[i] != '\t')
			i++;
		if (i > start && starts_word(p + start, i - start, word))
			return true;
	}
	return false;
}

/* Whether a line of buf[from..to) starts with word. */
static bool
line_starts_word(const unsigned char *buf, size_t from, size_t to,
    const char *word)
{
	size_t off = from, end, next;

	while (line_at(buf, to, off, &end, &next)) {
		if (starts_word(buf + off, end - off, word))
			return true;
		off = next;
	}
	return false;
}

/* --- Numbered replies: SMTP, LMTP, FTP, NNTP. */

/* The code of a line "ddd", "ddd text" or "ddd-text", or -1. */
static int
line_code(const unsigned char *p, size_t len)
{
	if (len < 3 || p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9')
		return -1;
	if (len > 3 && p[3] != ' ' && p[3] != '-')
		return -1;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/*
 * A reply of numbered lines (RFC 5321 4.2, RFC 959 4.2): "250-..." lines,
 * ended by "250 ..." or "250".  FTP lets other lines come in between.
 */
static enum starttls_verdict
code_reply(const unsigned char *buf, size_t len, int *code, size_t *used)
{
	size_t off = 0, end, next;
	int first = -1;

	while (line_at(buf, len, off, &end, &next)) {
		int c = line_code(buf + off, end - off);

		if (off == 0 && (first = c) == -1)
			return STV_MALFORMED;
		if (c == first && (end - off == 3 || buf[off + 3] == ' ')) {
			*code = c;
			*used = next;
			return STV_OK;
		}
		off = next;
	}
	/* The first line can be judged before it ends. */
	if (len >= 4 && buf[3] != '\r' && buf[3] != '\n' &&
	    line_code(buf, 4) == -1)
		return STV_MALFORMED;
	return STV_MORE;
}

/*
 * What a numbered reply means: ok is the code that goes on; "command not
 * recognised or not implemented" means not offered; other 4xx and 5xx
 * codes refuse.
 */
static enum starttls_verdict
code_verdict(int code, int ok)
{
	if (code == ok)
		return STV_OK;
	if (code == 500 || code == 502 || code == 504)
		return STV_NOT_OFFERED;
	if (code >= 400)
		return STV_REFUSED;
	return STV_MALFORMED;
}

static enum starttls_verdict
numbered(const unsigned char *buf, size_t len, size_t *used, int ok,
    bool unknown_refuses)
{
	enum starttls_verdict v;
	int code;

	if ((v = code_reply(buf, len, &code, used)) != STV_OK)
		return v;
	v = code_verdict(code, ok);
	return v == STV_NOT_OFFERED && unknown_refuses ? STV_REFUSED : v;
}

/* 220: the server is ready; 421, 554: it will not talk. */
enum starttls_verdict
stp_smtp_greeting(const unsigned char *buf, size_t len, size_t *used)
{
	return numbered(buf, len, used, 220, true);
}

/* Whether a "250" line of buf[0..len) names the extension word. */
static bool
has_extension(const unsigned char *buf, size_t len, const char *word)
{
	size_t off = 0, end, next;

	while (line_at(buf, len, off, &end, &next)) {
		if (end - off > 4 && line_code(buf + off, end - off) == 250 &&
		    starts_word(buf + off + 4, end - off - 4, word))
			return true;
		off = next;
	}
	return false;
}

/* 250, with STARTTLS among the extensions (RFC 3207). */
enum starttls_verdict
stp_smtp_ehlo(const unsigned char *buf, size_t len, size_t *used)
{
	enum starttls_verdict v = numbered(buf, len, used, 250, false);

	if (v == STV_OK && !has_extension(buf, *used, "STARTTLS"))
		return STV_NOT_OFFERED;
	return v;
}

/* 220: go ahead; 454: TLS not available now. */
enum starttls_verdict
stp_smtp_starttls(const unsigned char *buf, size_t len, size_t *used)
{
	return numbered(buf, len, used, 220, false);
}

enum starttls_verdict
stp_ftp_greeting(const unsigned char *buf, size_t len, size_t *used)
{
	return numbered(buf, len, used, 220, true);
}

/* 234: go ahead (RFC 4217); 500, 502, 504: AUTH or TLS is unknown. */
enum starttls_verdict
stp_ftp_auth(const unsigned char *buf, size_t len, size_t *used)
{
	return numbered(buf, len, used, 234, false);
}

/* --- Dot-terminated lists: POP3 CAPA, NNTP CAPABILITIES. */

/* The lines from off up to a line that is only ".": *used ends after it. */
static enum starttls_verdict
dot_block(const unsigned char *buf, size_t len, size_t off, size_t *used)
{
	size_t end, next;

	while (line_at(buf, len, off, &end, &next)) {
		if (end - off == 1 && buf[off] == '.') {
			*used = next;
			return STV_OK;
		}
		off = next;
	}
	return STV_MORE;
}

/* NNTP (RFC 3977): 200 or 201 is ready; 400 and 502 will not talk. */
enum starttls_verdict
stp_nntp_greeting(const unsigned char *buf, size_t len, size_t *used)
{
	enum starttls_verdict v;
	int code;

	if ((v = code_reply(buf, len, &code, used)) != STV_OK)
		return v;
	if (code == 200 || code == 201)
		return STV_OK;
	return code >= 400 ? STV_REFUSED : STV_MALFORMED;
}

/* 101 and the capability list, with STARTTLS in it (RFC 4642). */
enum starttls_verdict
stp_nntp_capabilities(const unsigned char *buf, size_t len, size_t *used)
{
	enum starttls_verdict v;
	size_t head;
	int code;

	if ((v = code_reply(buf, len, &code, &head)) != STV_OK)
		return v;
	if (code != 101) {
		*used = head;
		return code_verdict(code, 101);
	}
	if ((v = dot_block(buf, len, head, used)) != STV_OK)
		return v;
	return line_starts_word(buf, head, *used, "STARTTLS") ? STV_OK :
	    STV_NOT_OFFERED;
}

/* 382: go ahead; 580: TLS cannot start; 502: not now. */
enum starttls_verdict
stp_nntp_starttls(const unsigned char *buf, size_t len, size_t *used)
{
	return numbered(buf, len, used, 382, false);
}

/* --- POP3 (RFC 1939, 2449, 2595). */

/* The status line: 1 for "+OK", 0 for "-ERR", -1 for anything else. */
static int
pop3_status(const unsigned char *buf, size_t end)
{
	if (starts_word(buf, end, "+OK"))
		return 1;
	if (starts_word(buf, end, "-ERR"))
		return 0;
	return -1;
}

static enum starttls_verdict
pop3_line(const unsigned char *buf, size_t len, size_t *used,
    enum starttls_verdict on_err)
{
	size_t end;

	if (!line_at(buf, len, 0, &end, used))
		return len >= 4 && buf[0] != '+' && buf[0] != '-' ?
		    STV_MALFORMED : STV_MORE;
	switch (pop3_status(buf, end)) {
	case 1:
		return STV_OK;
	case 0:
		return on_err;
	default:
		return STV_MALFORMED;
	}
}

enum starttls_verdict
stp_pop3_greeting(const unsigned char *buf, size_t len, size_t *used)
{
	return pop3_line(buf, len, used, STV_REFUSED);
}

/* +OK and a list with STLS in it; -ERR: no CAPA, so no STLS either. */
enum starttls_verdict
stp_pop3_capa(const unsigned char *buf, size_t len, size_t *used)
{
	enum starttls_verdict v;
	size_t head;

	if ((v = pop3_line(buf, len, &head, STV_NOT_OFFERED)) != STV_OK) {
		*used = head;
		return v;
	}
	if ((v = dot_block(buf, len, head, used)) != STV_OK)
		return v;
	return line_starts_word(buf, head, *used, "STLS") ? STV_OK :
	    STV_NOT_OFFERED;
}

enum starttls_verdict
stp_pop3_stls(const unsigned char *buf, size_t len, size_t *used)
{
	return pop3_line(buf, len, used, STV_REFUSED);
}

/* --- IMAP (RFC 3501): untagged lines, then the tagged result. */

/*
 * Untagged ("* ...") and continuation lines up to the line tagged tag;
 * *result is where its result word (OK, NO, BAD) starts.
 */
static enum starttls_verdict
tagged_reply(const unsigned char *buf, size_t len, const char *tag,
    size_t *used, size_t *result, size_t *result_end)
{
	size_t off = 0, end, next, tl = strlen(tag);

	while (line_at(buf, len, off, &end, &next)) {
		if (end - off > tl && strncasecmp((const char *)buf + off, tag,
		    tl) == 0 && buf[off + tl] == ' ') {
			*used = next;
			*result = off + tl + 1;
			*result_end = end;
			return STV_OK;
		}
		if (end - off < 2 || (buf[off] != '*' && buf[off] != '+') ||
		    buf[off + 1] != ' ')
			return STV_MALFORMED;
		off = next;
	}
	return STV_MORE;
}

enum starttls_verdict
stp_imap_greeting(const unsigned char *buf, size_t len, size_t *used)
{
	size_t end;

	if (!line_at(buf, len, 0, &end, used))
		return len >= 2 && (buf[0] != '*' || buf[1] != ' ') ?
		    STV_MALFORMED : STV_MORE;
	if (end < 2 || buf[0] != '*' || buf[1] != ' ')
		return STV_MALFORMED;
	if (starts_word(buf + 2, end - 2, "OK"))
		return STV_OK;
	/* PREAUTH: no STARTTLS after authentication (RFC 3501 6.2.1). */
	if (starts_word(buf + 2, end - 2, "PREAUTH") ||
	    starts_word(buf + 2, end - 2, "BYE"))
		return STV_REFUSED;
	return STV_MALFORMED;
}

static enum starttls_verdict
imap_result(const unsigned char *buf, size_t r, size_t end)
{
	if (starts_word(buf + r, end - r, "OK"))
		return STV_OK;
	if (starts_word(buf + r, end - r, "NO") ||
	    starts_word(buf + r, end - r, "BAD"))
		return STV_REFUSED;
	return STV_MALFORMED;
}

/* "* CAPABILITY ... STARTTLS ...", then "A1 OK". */
enum starttls_verdict
stp_imap_capability(const unsigned char *buf, size_t len, size_t *used)
{
	enum starttls_verdict v;
	size_t off = 0, end, next, r, rend;

	if ((v = tagged_reply(buf, len, "A1", used, &r, &rend)) != STV_OK ||
	    (v = imap_result(buf, r, rend)) != STV_OK)
		return v;
	while (line_at(buf, *used, off, &end, &next)) {
		if (end - off > 2 && starts_word(buf + off + 2, end - off - 2,
		    "CAPABILITY") && has_word(buf + off, end - off, "STARTTLS"))
			return STV_OK;
		off = next;
	}
	return STV_NOT_OFFERED;
}

enum starttls_verdict
stp_imap_starttls(const unsigned char *buf, size_t len, size_t *used)
{
	enum starttls_verdict v;
	size_t r, rend;

	if ((v = tagged_reply(buf, len, "A2", used, &r, &rend)) != STV_OK)
		return v;
	return imap_result(buf, r, rend);
}

/* --- ManageSieve (RFC 5804). */

/*
 * A response: quoted capability lines, ended by a line starting OK, NO or
 * BYE.  *result is that line's offset.
 */
static enum starttls_verdict
sieve_response(const unsigned char *buf, size_t len, size_t *used,
    size_t *result, size_t *result_end)
{
	size_t off = 0, end, next;

	while (line_at(buf, len, off, &end, &next)) {
		const unsigned char *p = buf + off;
		size_t n = end - off;

		if (starts_word(p, n, "OK") || starts_word(p, n, "NO") ||
		    starts_word(p, n, "BYE")) {
			*used = next;
			*result = off;
			*result_end = end;
			return STV_OK;
		}
		if (n == 0 || p[0] != '"')
			return STV_MALFORMED;
		off = next;
	}
	return STV_MORE;
}

static enum starttls_verdict
sieve_result(const unsigned char *buf, size_t r, size_t end)
{
	return starts_word(buf + r, end - r, "OK") ? STV_OK : STV_REFUSED;
}

/* The greeting: capabilities, "STARTTLS" among them, then OK. */
enum starttls_verdict
stp_sieve_capability(const unsigned char *buf, size_t len, size_t *used)
{
	enum starttls_verdict v;
	size_t r, rend;

	if ((v = sieve_response(buf, len, used, &r, &rend)) != STV_OK ||
	    (v = sieve_result(buf, r, rend)) != STV_OK)
		return v;
	return line_starts_word(buf, 0, r, "\"STARTTLS\"") ? STV_OK :
	    STV_NOT_OFFERED;
}

enum starttls_verdict
stp_sieve_starttls(const unsigned char *buf, size_t len, size_t *used)
{
	enum starttls_verdict v;
	size_t r, rend;

	if ((v = sieve_response(buf, len, used, &r, &rend)) != STV_OK)
		return v;
	if (r != 0)
		return STV_MALFORMED;	/* capabilities come only after TLS */
	return sieve_result(buf, r, rend);
}

/* --- IRC (the IRCv3 STARTTLS extension): 670 goes ahead, 691 fails. */

enum starttls_verdict
stp_irc_starttls(const unsigned char *buf, size_t len, size_t *used)
{
	size_t off = 0, end, next, p, c;

	while (line_at(buf, len, off, &end, &next)) {
		p = off;
		if (p < end && buf[p] == ':') {		/* the prefix */
			while (p < end && buf[p] != ' ')
				p++;
			while (p < end && buf[p] == ' ')
				p++;
		}
		c = end - p;
		*used = next;
		if (starts_word(buf + p, c, "670"))
			return STV_OK;
		if (starts_word(buf + p, c, "691") ||
		    starts_word(buf + p, c, "ERROR"))
			return STV_REFUSED;
		/* Unknown command; not registered (some servers say that). */
		if (starts_word(buf + p, c, "421") ||
		    starts_word(buf + p, c, "451"))
			return STV_NOT_OFFERED;
		if (c == 0 || buf[p] < ' ' || buf[p] >= 0x7f)
			return STV_MALFORMED;
		off = next;	/* NOTICE and the like: read on */
	}
	*used = 0;
	return STV_MORE;
}

/* --- PostgreSQL: SSLRequest's one-byte answer. */

const unsigned char starttls_postgres_request[8] = {
	0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f	/* length 8, code 80877103 */
};

/*
 * 'S' goes ahead and 'N' says no.  'E' is an error: an ErrorResponse
 * ('E', a length, fields), or from servers older than protocol 3 a text
 * ended by NUL; it is read whole, to be quoted.
 */
enum starttls_verdict
stp_postgres_ssl(const unsigned char *buf, size_t len, size_t *used)
{
	const unsigned char *nul;
	unsigned long n;

	if (len == 0)
		return STV_MORE;
	*used = 1;
	if (buf[0] == 'S')
		return STV_OK;
	if (buf[0] == 'N')
		return STV_NOT_OFFERED;
	if (buf[0] != 'E')
		return STV_MALFORMED;
	if (len < 5)
		return STV_MORE;
	n = (unsigned long)buf[1] << 24 | (unsigned long)buf[2] << 16 |
	    (unsigned long)buf[3] << 8 | buf[4];
	if (n >= 4 && n < STARTTLS_REPLY_MAX) {
		if (len < 1 + n)
			return STV_MORE;
		*used = 1 + n;
		return STV_REFUSED;
	}
	if ((nul = memchr(buf, '\0', len)) == NULL)
		return STV_MORE;
	*used = (size_t)(nul - buf) + 1;
	return STV_REFUSED;
}

/* --- LDAP (RFC 4511 4.14): the StartTLS extended operation, in BER. */

#define LDAP_STARTTLS_OID	"1.3.6.1.4.1.1466.20037"

/* LDAPMessage { messageID 1, [APPLICATION 23] { [0] the OID } } */
const unsigned char starttls_ldap_request[] = {
	0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16,
	'1', '.', '3', '.', '6', '.', '1', '.', '4', '.', '1', '.',
	'1', '4', '6', '6', '.', '2', '0', '0', '3', '7'
};
const size_t starttls_ldap_request_len = sizeof(starttls_ldap_request);

/*
 * One BER element at p[0..len), in the definite form with a one-byte tag:
 * its tag, and its contents at p + *hdr, *clen bytes long.  Returns 1, 0
 * when more bytes are needed, or -1 when it is not such an element.  The
 * contents may run past len; the caller checks.
 */
static int
ber_element(const unsigned char *p, size_t len, unsigned *tag, size_t *hdr,
    size_t *clen)
{
	size_t n, i;

	if (len < 2)
		return 0;
	if ((p[0] & 0x1f) == 0x1f)
		return -1;		/* a multi-byte tag: not in LDAP */
	*tag = p[0];
	if (p[1] < 0x80) {
		*hdr = 2;
		*clen = p[1];
		return 1;
	}
	n = p[1] & 0x7f;
	if (n == 0 || n > 4)
		return -1;		/* indefinite, or absurdly long */
	if (len < 2 + n)
		return 0;
	for (*clen = 0, i = 0; i < n; i++)
		*clen = (*clen << 8) | p[2 + i];
	*hdr = 2 + n;
	return 1;
}

/* A whole element inside p[0..len) with the given tag: its contents. */
static int
ber_expect(const unsigned char *p, size_t len, unsigned want,
    const unsigned char **content, size_t *clen, size_t *total)
{
	unsigned tag;
	size_t hdr;

	if (ber_element(p, len, &tag, &hdr, clen) != 1 || tag != want ||
	    *clen > len - hdr)
		return -1;
	*content = p + hdr;
	*total = hdr + *clen;
	return 0;
}

/* A small non-negative INTEGER or ENUMERATED, or -1. */
static long
ber_small_int(const unsigned char *p, size_t len)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 3 || (p[0] & 0x80))
		return -1;
	for (i = 0; i < len; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * The ExtendedResponse to message 1: resultCode 0 goes ahead, and
 * protocolError (2) is what servers say for an operation they do not
 * know.  An unsolicited notice (message 0) means the server is closing.
 */
enum starttls_verdict
stp_ldap_starttls(const unsigned char *buf, size_t len, size_t *used)
{
	const unsigned char *msg, *c;
	size_t mlen, clen, t, hdr, total;
	unsigned tag;
	long id, code;
	int r;

	if ((r = ber_element(buf, len, &tag, &hdr, &mlen)) != 1)
		return r == 0 ? STV_MORE : STV_MALFORMED;
	if (tag != 0x30)
		return STV_MALFORMED;
	if (mlen > STARTTLS_REPLY_MAX - hdr)
		return STV_OVERSIZED;
	if (len < hdr + mlen)
		return STV_MORE;
	*used = hdr + mlen;
	msg = buf + hdr;
	if (ber_expect(msg, mlen, 0x02, &c, &clen, &t) == -1 ||
	    (id = ber_small_int(c, clen)) < 0)
		return STV_MALFORMED;
	msg += t;
	mlen -= t;
	if (ber_expect(msg, mlen, 0x78, &msg, &mlen, &total) == -1 ||
	    ber_expect(msg, mlen, 0x0a, &c, &clen, &t) == -1 ||
	    (code = ber_small_int(c, clen)) < 0)
		return STV_MALFORMED;
	if (id == 0)
		return STV_REFUSED;	/* a notice of disconnection */
	if (id != 1)
		return STV_MALFORMED;
	if (code == 0)
		return STV_OK;
	return code == 2 ? STV_NOT_OFFERED : STV_REFUSED;
}

/* --- XMPP (RFC 6120 5.4): the stream header and features, then proceed. */

#define XMPP_TLS_NS	"urn:ietf:params:xml:ns:xmpp-tls"

static const unsigned char *
find(const unsigned char *buf, size_t len, const char *s)
{
	return memmem(buf, len, s, strlen(s));
}

/* Skip XML white space from off. */
static size_t
skip_space(const unsigned char *buf, size_t len, size_t off)
{
	while (off < len && (buf[off] == ' ' || buf[off] == '\t' ||
	    buf[off] == '\r' || buf[off] == '\n'))
		off++;
	return off;
}

/*
 * The server's stream header (after an optional XML declaration), then
 * its features: <starttls xmlns='urn:...:xmpp-tls'> among them goes on.
 * A stream error refuses.  This is no XML parser: it looks for the
 * elements that matter, in the bytes before the features end.
 */
enum starttls_verdict
stp_xmpp_features(const unsigned char *buf, size_t len, size_t *used)
{
	const unsigned char *end, *st, *err;
	size_t off = skip_space(buf, len, 0);
	static const char *ends[] = { "</stream:features>",
	    "<stream:features/>" };
	size_t i;

	if (off < len && buf[off] != '<')
		return STV_MALFORMED;
	if ((err = find(buf, len, "</stream:error>")) != NULL) {
		*used = (size_t)(err - buf) + strlen("</stream:error>");
		return STV_REFUSED;
	}
	for (i = 0; i < 2; i++) {
		if ((end = find(buf, len, ends[i])) == NULL)
			continue;
		*used = (size_t)(end - buf) + strlen(ends[i]);
		if (find(buf, *used, "<stream:stream") == NULL)
			return STV_MALFORMED;
		st = find(buf, *used, "<starttls");
		if (st != NULL && find(st, *used - (size_t)(st - buf),
		    XMPP_TLS_NS) != NULL)
			return STV_OK;
		return STV_NOT_OFFERED;
	}
	return STV_MORE;
}

/* Whether p[0..len) opens the element name: "<name" then a blank, / or >. */
static bool
opens(const unsigned char *p, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && memcmp(p, name, n) == 0 &&
	    (p[n] == ' ' || p[n] == '/' || p[n] == '>');
}

/* <proceed xmlns='urn:...:xmpp-tls'/> goes ahead; <failure .../> fails. */
enum starttls_verdict
stp_xmpp_proceed(const unsigned char *buf, size_t len, size_t *used)
{
	const unsigned char *gt, *p;
	size_t off = skip_space(buf, len, 0), n;

	if (off == len)
		return STV_MORE;
	if (buf[off] != '<')
		return STV_MALFORMED;
	if ((gt = memchr(buf + off, '>', len - off)) == NULL)
		return STV_MORE;
	*used = (size_t)(gt - buf) + 1;
	p = buf + off;
	n = *used - off;
	if (opens(p, n, "<stream:error"))
		return STV_REFUSED;
	if (find(p, n, XMPP_TLS_NS) == NULL)
		return STV_MALFORMED;
	if (opens(p, n, "<proceed"))
		return STV_OK;
	return opens(p, n, "<failure") ? STV_REFUSED : STV_MALFORMED;
}
