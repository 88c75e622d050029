/*
 * The byte transforms of the data options, as pure functions over a small
 * state that carries across reads: a sequence split between two reads is
 * handled as if it had come in one.
 *
 *   -C  crlf_convert()    LF becomes CR LF; a CR LF stays as it is.
 *   -t  telnet_filter()   Telnet commands are taken out of the data, and
 *                         option negotiation is refused.
 */
#ifndef TLSNC_TRANSFORM_H
#define TLSNC_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>

/* The most bytes one byte in may become. */
#define CRLF_GROW	2
#define TELNET_GROW	1
/* The most answer bytes one byte in may cause (IAC, verb, option). */
#define TELNET_REPLY_GROW	3

struct crlf_state {
	bool	 after_cr;	/* the last byte seen was CR */
};

/*
 * Copy n bytes from in to out, with a CR before every LF that does not
 * follow one.  out has room for n * CRLF_GROW bytes.  Returns the bytes
 * put in out.
 */
size_t	crlf_convert(struct crlf_state *, const void *in, size_t n,
	    void *out);

/* Where the Telnet parser is: in data, or inside a command. */
enum telnet_at {
	TELNET_DATA = 0,
	TELNET_IAC,		/* after IAC */
	TELNET_OPTION,		/* after IAC and a DO, DONT, WILL or WONT */
	TELNET_SB,		/* inside a subnegotiation */
	TELNET_SB_IAC,		/* after IAC inside one */
};

struct telnet_state {
	enum telnet_at	 at;
	unsigned char	 verb;	/* the DO, DONT, WILL or WONT */
};

#define TELNET_IAC_BYTE	255
#define TELNET_DONT	254
#define TELNET_DO	253
#define TELNET_WONT	252
#define TELNET_WILL	251
#define TELNET_SB_BYTE	250
#define TELNET_SE	240

/*
 * Take the Telnet commands out of n bytes of data from in, into out (room
 * for n bytes): IAC IAC is a data byte 255; a subnegotiation (IAC SB ...
 * IAC SE) and the other two-byte commands (NOP, GA, ...) vanish; an IAC
 * before a byte that is no command is dropped, and the byte kept.  Each option
 * request is refused as Ncat does: DO and DONT are answered WONT, WILL and
 * WONT are answered DONT.  The answers go to reply (room for n *
 * TELNET_REPLY_GROW bytes) and *nreply says how many.  Returns the bytes
 * put in out.
 */
size_t	telnet_filter(struct telnet_state *, const void *in, size_t n,
	    void *out, void *reply, size_t *nreply);

#endif
