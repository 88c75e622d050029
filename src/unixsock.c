/* Unix domain sockets: -U addresses, connect, listen, and clean-up. */
#include "config.h"

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unixsock.h"

/* --- Files removed at exit. */

#define CLEANUP_MAX	2	/* a listener's file, a client's own */

struct owned_file {
	char	 path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	dev_t	 dev;
	ino_t	 ino;
	bool	 used;
};

static struct owned_file owned[CLEANUP_MAX];
static pid_t owner_pid;
static bool hooks_set;

/*
 * Remove what is still ours.  Async-signal-safe: lstat, unlink and getpid
 * only, and no allocation.
 */
void
unix_cleanup(void)
{
	struct stat st;
	size_t i;

	if (owner_pid == 0 || getpid() != owner_pid)
		return;
	for (i = 0; i < CLEANUP_MAX; i++) {
		if (!owned[i].used)
			continue;
		owned[i].used = false;
		if (lstat(owned[i].path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    st.st_dev == owned[i].dev && st.st_ino == owned[i].ino)
			(void)unlink(owned[i].path);
	}
}

/* A signal that kills us outside the loop: clean up, then die of it. */
static void
on_fatal_signal(int signo)
{
	int saved = errno;

	unix_cleanup();
	signal(signo, SIG_DFL);
	raise(signo);
	errno = saved;
}

static void
set_hooks(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	size_t i;

	if (hooks_set)
		return;
	hooks_set = true;
	owner_pid = getpid();
	atexit(unix_cleanup);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
}

/* Remember path, just bound, for removal at exit. */
static void
remove_at_exit(const char *path)
{
	struct stat st;
	size_t i;

	if (lstat(path, &st) == -1)
		return;
	set_hooks();
	for (i = 0; i < CLEANUP_MAX; i++) {
		if (owned[i].used)
			continue;
		snprintf(owned[i].path, sizeof(owned[i].path), "%s", path);
		owned[i].dev = st.st_dev;
		owned[i].ino = st.st_ino;
		owned[i].used = true;
		return;
	}
}

/* --- Addresses. */

enum status
unix_addr_parse(const char *arg, struct sockaddr_un *un, socklen_t *len,
    struct error *e)
{
	size_t n = strlen(arg), max = sizeof(un->sun_path) - 1;
	bool abstract = arg[0] == '@';

	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	if (n == 0 || (abstract && n == 1))
		return err_set(e, ST_USAGE, "-U: empty %s", abstract ?
		    "abstract socket name after '@'" : "socket path");
	if ((abstract ? n - 1 : n) > max)
		return err_set(e, ST_USAGE, "-U: %s is %zu bytes long; a Unix "
		    "socket %s holds at most %zu", abstract ? "the name" :
		    "the path", abstract ? n - 1 : n, abstract ? "name" :
		    "path", max);
	if (abstract) {
		/* The name is the bytes after a leading NUL, and no more. */
		memcpy(un->sun_path + 1, arg + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		memcpy(un->sun_path, arg, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
		    1);
	}
	return ST_OK;
}

static int
unix_socket(bool dgram)
{
	return socket(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_CLOEXEC, 0);
}

static void
set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* --- Connecting. */

/*
 * Bind fd to a new path in $TMPDIR (or /tmp): tlsnc-dgram.XXXXXXXX.sock,
 * with random letters; bind() itself refuses a name already taken.
 */
static enum status
bind_temp_path(int fd, struct error *e)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	const char *dir = getenv("TMPDIR");
	struct sockaddr_un un;
	unsigned char rnd[8];
	char path[sizeof(un.sun_path) + 16], tag[sizeof(rnd) + 1];
	int tries, n;
	size_t i;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	for (tries = 0; tries < 100; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return err_errno(e, ST_RUNTIME, errno, "getrandom");
		for (i = 0; i < sizeof(rnd); i++)
			tag[i] = abc[rnd[i] % (sizeof(abc) - 1)];
		tag[sizeof(rnd)] = '\0';
		n = snprintf(path, sizeof(path), "%s/tlsnc-dgram.%s.sock",
		    dir, tag);
		if (n < 0 || (size_t)n >= sizeof(un.sun_path))
			return err_set(e, ST_RUNTIME, "TMPDIR '%s' is too long "
			    "for a Unix socket path of our own", dir);
		memset(&un, 0, sizeof(un));
		un.sun_family = AF_UNIX;
		memcpy(un.sun_path, path, (size_t)n);
		if (bind(fd, (struct sockaddr *)&un, sizeof(un)) == 0) {
			remove_at_exit(path);
			return ST_OK;
		}
		if (errno != EADDRINUSE)
			return err_errno(e, ST_RUNTIME, errno, "cannot bind a "
			    "reply address %s", path);
	}
	return err_set(e, ST_RUNTIME, "cannot find a free reply address in "
	    "%s", dir);
}

enum status
unix_connect(const char *arg, bool dgram, int *fdp, char peer[ADDR_STR_MAX],
    struct error *e)
{
	struct sockaddr_un un;
	socklen_t len;
	enum status st;
	int fd;

	*fdp = -1;
	if ((st = unix_addr_parse(arg, &un, &len, e)) != ST_OK)
		return st;
	if ((fd = unix_socket(dgram)) == -1)
		return err_errno(e, ST_RUNTIME, errno, "socket");
	if (dgram && (st = bind_temp_path(fd, e)) != ST_OK) {
		close(fd);
		return st;
	}
	if (connect(fd, (struct sockaddr *)&un, len) == -1) {
		err_errno(e, ST_RUNTIME, errno, "connect to %s", arg);
		close(fd);
		unix_cleanup();
		return ST_RUNTIME;
	}
	set_nonblocking(fd);
	addr_format((struct sockaddr *)&un, peer, ADDR_STR_MAX);
	*fdp = fd;
	return ST_OK;
}

/* --- Listening. */

/*
 * Does /proc/net/unix show a socket bound to path, as given or made
 * absolute?  Its last field is the path each socket was bound with.  A
 * "no" proves nothing (the owner may have bound another spelling of the
 * path), but a "yes" spares a live listener the probe below, which it
 * would accept as a client.
 */
static bool
bound_in_proc(const char *path)
{
	char line[512], abs[PATH_MAX + 8], cwd[PATH_MAX];
	size_t n, plen = strlen(path), alen = 0;
	bool found = false;
	FILE *f;

	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL &&
	    snprintf(abs, sizeof(abs), "%s/%s", cwd, path) < (int)sizeof(abs))
		alen = strlen(abs);
	if ((f = fopen("/proc/net/unix", "re")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		n = strcspn(line, "\n");
		line[n] = '\0';
		found = (n > plen && line[n - plen - 1] == ' ' &&
		    strcmp(line + n - plen, path) == 0) ||
		    (alen > 0 && n > alen && line[n - alen - 1] == ' ' &&
		    strcmp(line + n - alen, abs) == 0);
	}
	fclose(f);
	return found;
}

/*
 * Is someone listening at un?  0: yes; ECONNREFUSED: a socket file with
 * no one behind it; another errno: cannot tell.
 */
static int
probe_listener(const struct sockaddr_un *un, socklen_t len)
{
	int fd, err = 0, type;
	bool dgram;

	if (bound_in_proc(un->sun_path))
		return 0;

	for (type = 0; type < 2; type++) {
		dgram = type == 1;
		if ((fd = unix_socket(dgram)) == -1)
			return errno;
		err = connect(fd, (const struct sockaddr *)un, len) == 0 ? 0 :
		    errno;
		close(fd);
		/* A socket of the other type answers EPROTOTYPE. */
		if (err != EPROTOTYPE)
			break;
	}
	return err;
}

/*
 * What is at the path before we bind: nothing; a live listener (error);
 * a stale socket file (error, or removed with --unlink); not a socket at
 * all (error, never removed).
 */
static enum status
clear_path(const char *path, const struct sockaddr_un *un, socklen_t len,
    bool unlink_stale, bool *removed, struct error *e)
{
	struct stat st;
	int err;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? ST_OK : err_errno(e, ST_RUNTIME,
		    errno, "cannot listen on %s", path);
	if (!S_ISSOCK(st.st_mode))
		return err_set(e, ST_RUNTIME, "cannot listen on %s: it exists "
		    "and is not a socket (it is left alone)", path);
	err = probe_listener(un, len);
	if (err == 0)
		return err_set(e, ST_RUNTIME, "cannot listen on %s: another "
		    "listener is using it", path);
	if (err != ECONNREFUSED)
		return err_errno(e, ST_RUNTIME, err, "cannot listen on %s: "
		    "a socket file is there, and connecting to it failed",
		    path);
	if (!unlink_stale)
		return err_set(e, ST_RUNTIME, "cannot listen on %s: a stale "
		    "socket file is there (left by a listener that is gone: "
		    "connecting is refused); add --unlink to remove it", path);
	if (unlink(path) == -1)
		return err_errno(e, ST_RUNTIME, errno, "cannot remove the "
		    "stale socket file %s", path);
	*removed = true;
	return ST_OK;
}

enum status
unix_listen(const char *arg, bool dgram, bool unlink_stale, int *fdp,
    bool *removed, char bound[ADDR_STR_MAX], struct error *e)
{
	struct sockaddr_un un;
	socklen_t len;
	enum status st;
	bool abstract = arg[0] == '@';
	int fd;

	*fdp = -1;
	*removed = false;
	if ((st = unix_addr_parse(arg, &un, &len, e)) != ST_OK)
		return st;
	if (!abstract && (st = clear_path(arg, &un, len, unlink_stale,
	    removed, e)) != ST_OK)
		return st;
	if ((fd = unix_socket(dgram)) == -1)
		return err_errno(e, ST_RUNTIME, errno, "socket");
	if (bind(fd, (struct sockaddr *)&un, len) == -1) {
		err_errno(e, ST_RUNTIME, errno, "cannot listen on %s", arg);
		close(fd);
		return ST_RUNTIME;
	}
	if (!abstract)
		remove_at_exit(arg);
	if (!dgram && listen(fd, SOMAXCONN) == -1) {
		err_errno(e, ST_RUNTIME, errno, "cannot listen on %s", arg);
		close(fd);
		unix_cleanup();
		return ST_RUNTIME;
	}
	addr_format((struct sockaddr *)&un, bound, ADDR_STR_MAX);
	*fdp = fd;
	return ST_OK;
}
