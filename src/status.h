/*
 * Exit statuses and the error record that modules fill in.
 *
 * Modules never print and never exit: they return one of the statuses below
 * and, on failure, leave a one-line message in a struct error.  Only main()
 * and the mode drivers decide what reaches stderr.
 */
#ifndef TLSNC_STATUS_H
#define TLSNC_STATUS_H

#include <stdarg.h>
#include <stddef.h>

enum status {
	ST_OK = 0,		/* success */
	ST_RUNTIME = 1,		/* refused, reset, resolution, I/O, listen */
	ST_USAGE = 2,		/* bad option, value, combination, cert/key file */
	ST_TIMEOUT = 3,		/* connect, handshake or idle timeout */
	ST_HANDSHAKE = 4,	/* TLS alert, version, cipher, protocol mismatch */
	ST_VERIFY = 5,		/* chain, name, expiry, pin, client certificate */
	ST_TRUNCATED = 6,	/* TLS peer closed without close_notify */
	ST_STARTTLS_NOT_OFFERED = 7,	/* the server has no STARTTLS */
	ST_STARTTLS_REFUSED = 8,	/* the server refused STARTTLS */
	ST_STARTTLS_BAD_REPLY = 9,	/* malformed or oversized reply, or
					   plaintext after the go-ahead */
};

#define ERROR_MSG_MAX 512

struct error {
	enum status	status;
	char		msg[ERROR_MSG_MAX];
};

/* Record status and a printf-style message; returns status. */
enum status	err_set(struct error *, enum status, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/* Like err_set, with ": strerror(errnum)" appended. */
enum status	err_errno(struct error *, enum status, int errnum,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
/* The same from a va_list; errnum 0 appends nothing. */
enum status	err_verrno(struct error *, enum status, int errnum,
		    const char *, va_list);
/* Append the most useful OpenSSL error-queue entry (and clear the queue). */
enum status	err_ssl(struct error *, enum status, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		err_clear(struct error *);

/*
 * The worse of two statuses, for a result made of many (the ports of a
 * -z --ssl scan).  From best to worst: 0 (success), 1 (runtime error),
 * 3 (timeout), 6 (truncated), 7, 8 and 9 (STARTTLS), 4 (handshake
 * failure), 5 (verification failure), 2 (usage: nothing could be tested
 * as asked).  A refused certificate is the most telling finding about a
 * service, a timeout the least.  A status not listed is worse than all.
 */
enum status	status_worse(enum status, enum status);

#endif
