/* Chat framing: lines, the "<userN> " prefix and Ncat's escaping. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "chat.h"

/* "<user" + 20 digits + "> " */
#define CHAT_PREFIX_MAX	32

size_t
chat_line_take(struct chat_line *l, const char *in, size_t len, bool *done)
{
	size_t i;

	*done = false;
	for (i = 0; i < len; i++) {
		if (in[i] == '\n') {
			*done = true;
			return i + 1;
		}
		/* Full: the newline may still be next; anything else waits. */
		if (l->len == CHAT_LINE_MAX) {
			*done = true;
			return i;
		}
		l->buf[l->len++] = in[i];
	}
	return i;
}

size_t
chat_format_max(size_t len)
{
	return CHAT_PREFIX_MAX + 4 * len + 1;
}

size_t
chat_format(unsigned long user, const char *line, size_t len, char *out)
{
	size_t i, n;
	unsigned char c;

	n = (size_t)snprintf(out, CHAT_PREFIX_MAX, "<user%lu> ", user);
	for (i = 0; i < len; i++) {
		c = (unsigned char)line[i];
		if ((c >= ' ' && c < 0x7f) || c == '\t' || c == '\r') {
			out[n++] = (char)c;
		} else {
			out[n++] = '\\';
			out[n++] = (char)('0' + (c >> 6));
			out[n++] = (char)('0' + ((c >> 3) & 7));
			out[n++] = (char)('0' + (c & 7));
		}
	}
	out[n++] = '\n';
	return n;
}
