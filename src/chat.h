/*
 * Chat framing (--chat): what a client sends is cut into lines, and each
 * line goes out as "<userN> " and the line, with its control characters
 * escaped, and a newline.  Pure functions, so that tests can drive them.
 *
 * A line ends at a newline, or when CHAT_LINE_MAX bytes have come without
 * one: the bytes so far then go out as a line of their own, and the rest
 * follows as the next line.  No byte is lost.
 *
 * Escaping follows Ncat: printable ASCII, tab and carriage return pass;
 * every other byte (other control characters, DEL, and bytes of 0x80 and
 * up) becomes a backslash and three octal digits, as "\033".
 */
#ifndef TLSNC_CHAT_H
#define TLSNC_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_LINE_MAX	4096

/* A line being gathered from one sender. */
struct chat_line {
	size_t	len;
	char	buf[CHAT_LINE_MAX];
};

/*
 * Take bytes of in into the line: up to and including the first newline
 * (which is not stored), or until the line is full.  Returns how many
 * bytes were taken; *done is true when the line is complete, and the
 * caller then formats it and sets len to 0.
 */
size_t	chat_line_take(struct chat_line *, const char *in, size_t len,
	    bool *done);

/* The most bytes chat_format() writes for a line of len bytes. */
size_t	chat_format_max(size_t len);

/*
 * Write "<userN> ", the line escaped, and a newline into out, which has
 * room for chat_format_max(len) bytes.  Returns the bytes written (no NUL).
 */
size_t	chat_format(unsigned long user, const char *line, size_t len,
	    char *out);

#endif
