/*
 * A small JSON writer: values appended to a growing buffer, with the commas
 * placed by the writer.  Strings are escaped so that the output is valid
 * JSON whatever the bytes: quotes, backslashes and control characters are
 * escaped, and bytes that are not well-formed UTF-8 become U+FFFD.
 *
 * A failed allocation sets failed and makes every later call a no-op, so
 * callers check once at the end.
 */
#ifndef TLSNC_JSON_H
#define TLSNC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jbuf {
	char	*p;		/* NUL-terminated once anything is written */
	size_t	 len;
	size_t	 cap;
	bool	 comma;		/* a value came before: the next needs ',' */
	bool	 failed;	/* out of memory */
};

/* Append text as it is (no escaping, no comma). */
void	jb_raw(struct jbuf *, const char *, size_t);
void	jb_puts(struct jbuf *, const char *);
void	jb_printf(struct jbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Append the n bytes of s as a quoted, escaped JSON string. */
void	json_escape(struct jbuf *, const char *s, size_t n);

/* Start an object ('{') or array ('['), and end it. */
void	json_open(struct jbuf *, char);
void	json_close(struct jbuf *, char);
/* A member's name: the value written next belongs to it. */
void	json_key(struct jbuf *, const char *);
/* Values.  json_str(NULL) writes null. */
void	json_str(struct jbuf *, const char *);
void	json_int(struct jbuf *, long long);
void	json_bool(struct jbuf *, bool);
/* A number with this many decimals. */
void	json_fixed(struct jbuf *, double, int decimals);
void	json_null(struct jbuf *);

/* Release the buffer. */
void	jb_free(struct jbuf *);

#endif
