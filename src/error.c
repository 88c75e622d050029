/* The error record: one status and one line of text per failure. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "status.h"

static void
vset(struct error *e, enum status st, const char *fmt, va_list ap)
{
	e->status = st;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

enum status
err_verrno(struct error *e, enum status st, int errnum, const char *fmt,
    va_list ap)
{
	size_t n;

	vset(e, st, fmt, ap);
	if (errnum != 0) {
		n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s",
		    strerror(errnum));
	}
	return st;
}

enum status
err_set(struct error *e, enum status st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, st, fmt, ap);
	va_end(ap);
	return st;
}

enum status
err_errno(struct error *e, enum status st, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vset(e, st, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
	return st;
}

enum status
err_ssl(struct error *e, enum status st, const char *fmt, ...)
{
	va_list ap;
	unsigned long code, last = 0;
	char reason[256];
	size_t n;

	va_start(ap, fmt);
	vset(e, st, fmt, ap);
	va_end(ap);
	/* The last queued error is usually the most specific one. */
	while ((code = ERR_get_error()) != 0)
		last = code;
	if (last != 0) {
		const char *r = ERR_reason_error_string(last);

		if (r == NULL) {
			ERR_error_string_n(last, reason, sizeof(reason));
			r = reason;
		}
		n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", r);
	}
	return st;
}

void
err_clear(struct error *e)
{
	e->status = ST_OK;
	e->msg[0] = '\0';
}

/* A status's place in the order of status_worse(), best first. */
static int
status_rank(enum status st)
{
	static const enum status order[] = {
		ST_OK, ST_RUNTIME, ST_TIMEOUT, ST_TRUNCATED,
		ST_STARTTLS_NOT_OFFERED, ST_STARTTLS_REFUSED,
		ST_STARTTLS_BAD_REPLY, ST_HANDSHAKE, ST_VERIFY, ST_USAGE,
	};
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (order[i] == st)
			return (int)i;
	return (int)i;
}

enum status
status_worse(enum status a, enum status b)
{
	return status_rank(b) > status_rank(a) ? b : a;
}
