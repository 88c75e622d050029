/*
 * Unix domain sockets (-U): addresses, connect, listen, and the socket
 * files that must not outlive us.
 *
 * An address is a path, or "@name" for Linux's abstract namespace (no
 * file; the name is the bytes after '@').  Functions return a status and
 * fill a struct error; they never print.
 *
 * Files this process creates (a listener's socket, a datagram client's
 * own reply address) are removed at exit, whichever way it comes: a normal
 * return from main, exit(), or SIGINT, SIGTERM or SIGHUP arriving outside
 * the event loop.  Inside the loop those signals end the sessions cleanly
 * and main returns, so the same atexit handler runs.  A file is removed
 * only while it is still the one we made (same device and inode), and
 * only by the process that made it, never by a child between fork and
 * exec.
 */
#ifndef TLSNC_UNIXSOCK_H
#define TLSNC_UNIXSOCK_H

#include <sys/socket.h>
#include <sys/un.h>

#include <stdbool.h>

#include "net.h"
#include "status.h"

/*
 * Parse a -U operand into un and len: a path of 1 to 107 bytes, or "@"
 * and a name of 1 to 107 bytes.  ST_USAGE with a message otherwise.
 */
enum status	unix_addr_parse(const char *, struct sockaddr_un *,
		    socklen_t *, struct error *);

/*
 * Connect a stream or datagram socket to the -U address.  A datagram
 * client first binds a temporary path of its own in $TMPDIR (or /tmp), so
 * that the peer can answer; it is removed at exit.  The socket is
 * returned non-blocking; peer gets the address as text.
 */
enum status	unix_connect(const char *, bool dgram, int *fd,
		    char peer[ADDR_STR_MAX], struct error *);

/*
 * Listen on (stream) or bind (datagram) the -U address.  A socket file
 * already there is looked at first: a live listener is an error; one that
 * refuses connections was left by a listener that is gone, and is removed
 * only when unlink_stale (--unlink) says so, else it is an error naming
 * --unlink.  *removed tells that a stale file was removed.  A path that is
 * not a socket is never removed.  The new file is removed at exit.
 */
enum status	unix_listen(const char *, bool dgram, bool unlink_stale,
		    int *fd, bool *removed, char bound[ADDR_STR_MAX],
		    struct error *);

/* Remove the files registered for removal, now (also run at exit). */
void		unix_cleanup(void);

#endif
