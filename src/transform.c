/* -C and -t: the data options that rewrite bytes. */
#include "config.h"

#include <string.h>

#include "transform.h"

size_t
crlf_convert(struct crlf_state *st, const void *in, size_t n, void *out)
{
	const unsigned char *p = in, *lf;
	unsigned char *q = out;
	size_t run, k = 0;

	while (n > 0) {
		/* Copy up to the next LF in one go. */
		lf = memchr(p, '\n', n);
		run = lf != NULL ? (size_t)(lf - p) : n;
		if (run > 0) {
			memcpy(q + k, p, run);
			k += run;
			st->after_cr = p[run - 1] == '\r';
			p += run;
			n -= run;
		}
		if (n == 0)
			break;
		if (!st->after_cr)
			q[k++] = '\r';
		q[k++] = '\n';
		st->after_cr = false;
		p++;
		n--;
	}
	return k;
}

/* The refusal of an option request: WONT for DO and DONT, else DONT. */
static unsigned char
telnet_refusal(unsigned char verb)
{
	return verb == TELNET_DO || verb == TELNET_DONT ? TELNET_WONT :
	    TELNET_DONT;
}

/* One byte after IAC, outside a subnegotiation. */
static enum telnet_at
telnet_command(struct telnet_state *st, unsigned char c, unsigned char *out,
    size_t *k)
{
	if (c == TELNET_IAC_BYTE) {
		out[(*k)++] = c;
		return TELNET_DATA;
	}
	if (c >= TELNET_WILL) {
		st->verb = c;
		return TELNET_OPTION;
	}
	if (c == TELNET_SB_BYTE)
		return TELNET_SB;
	/* Not a command: the stray IAC goes, the byte stays. */
	if (c < TELNET_SE)
		out[(*k)++] = c;
	return TELNET_DATA;
}

size_t
telnet_filter(struct telnet_state *st, const void *in, size_t n, void *out,
    void *reply, size_t *nreply)
{
	const unsigned char *p = in;
	unsigned char *q = out, *r = reply;
	size_t i, k = 0;

	*nreply = 0;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		switch (st->at) {
		case TELNET_DATA:
			if (c == TELNET_IAC_BYTE)
				st->at = TELNET_IAC;
			else
				q[k++] = c;
			break;
		case TELNET_IAC:
			st->at = telnet_command(st, c, q, &k);
			break;
		case TELNET_OPTION:
			r[(*nreply)++] = TELNET_IAC_BYTE;
			r[(*nreply)++] = telnet_refusal(st->verb);
			r[(*nreply)++] = c;
			st->at = TELNET_DATA;
			break;
		case TELNET_SB:
			if (c == TELNET_IAC_BYTE)
				st->at = TELNET_SB_IAC;
			break;
		case TELNET_SB_IAC:
			/* IAC SE ends it; IAC IAC is a 255 inside it. */
			st->at = c == TELNET_SE ? TELNET_DATA : TELNET_SB;
			break;
		}
	}
	return k;
}
