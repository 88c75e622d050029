/* The JSON writer (json.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Room for n more bytes and the NUL; false once out of memory. */
static bool
jb_reserve(struct jbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap == 0 ? 256 : b->cap;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
jb_raw(struct jbuf *b, const char *s, size_t n)
{
	if (!jb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
jb_puts(struct jbuf *b, const char *s)
{
	jb_raw(b, s, strlen(s));
}

void
jb_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !jb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/*
 * The length of the well-formed UTF-8 sequence at s (at most n bytes), or 0
 * when it is not one: a stray continuation byte, an overlong form, a
 * surrogate, a code point above U+10FFFF or a cut sequence.
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;		/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;		/* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void
json_escape(struct jbuf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len;

	jb_raw(b, "\"", 1);
	while (i < n) {
		switch (s[i]) {
		case '"':	jb_raw(b, "\\\"", 2); i++; continue;
		case '\\':	jb_raw(b, "\\\\", 2); i++; continue;
		case '\n':	jb_raw(b, "\\n", 2); i++; continue;
		case '\r':	jb_raw(b, "\\r", 2); i++; continue;
		case '\t':	jb_raw(b, "\\t", 2); i++; continue;
		default:	break;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			jb_printf(b, "\\u%04x", s[i]);
			i++;
		} else if ((len = utf8_len(s + i, n - i)) == 0) {
			jb_raw(b, "\\ufffd", 6);
			i++;
		} else {
			jb_raw(b, (const char *)s + i, len);
			i += len;
		}
	}
	jb_raw(b, "\"", 1);
}

/* Before a value or a key: the comma, when something came before. */
static void
separate(struct jbuf *b)
{
	if (b->comma)
		jb_raw(b, ",", 1);
	b->comma = true;
}

void
json_open(struct jbuf *b, char c)
{
	separate(b);
	jb_raw(b, &c, 1);
	b->comma = false;
}

void
json_close(struct jbuf *b, char c)
{
	jb_raw(b, &c, 1);
	b->comma = true;
}

void
json_key(struct jbuf *b, const char *k)
{
	separate(b);
	json_escape(b, k, strlen(k));
	jb_raw(b, ":", 1);
	b->comma = false;
}

void
json_str(struct jbuf *b, const char *s)
{
	separate(b);
	if (s == NULL)
		jb_raw(b, "null", 4);
	else
		json_escape(b, s, strlen(s));
}

void
json_int(struct jbuf *b, long long v)
{
	separate(b);
	jb_printf(b, "%lld", v);
}

void
json_bool(struct jbuf *b, bool v)
{
	separate(b);
	jb_puts(b, v ? "true" : "false");
}

void
json_fixed(struct jbuf *b, double v, int decimals)
{
	separate(b);
	jb_printf(b, "%.*f", decimals, v);
}

void
json_null(struct jbuf *b)
{
	separate(b);
	jb_raw(b, "null", 4);
}

void
jb_free(struct jbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
