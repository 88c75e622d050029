/* Children on pipes: spawn, kill, reap. */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "net.h"

#define LABEL_MAX	64

struct child {
	struct loop	*loop;
	pid_t		 pid;
	bool		 reaped;
	bool		 released;
	bool		 terminated;	/* we sent SIGTERM */
	struct loop_timer kill_timer;
	struct child	*prev, *next;
	char		 label[LABEL_MAX];
};

/* Every child not yet both reaped and released. */
static struct child *children;
static size_t nrunning;

static void
child_unlink(struct child *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		children = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
}

/* Split cmd on blanks into a NULL-terminated vector in buf; NULL if none. */
static char **
split_args(const char *cmd, char **buf)
{
	char **argv, *p, *save = NULL;
	size_t n = 0;

	if ((*buf = strdup(cmd)) == NULL ||
	    (argv = calloc(strlen(cmd) / 2 + 2, sizeof(*argv))) == NULL) {
		free(*buf);
		*buf = NULL;
		return NULL;
	}
	for (p = strtok_r(*buf, " \t\n", &save); p != NULL;
	    p = strtok_r(NULL, " \t\n", &save))
		argv[n++] = p;
	argv[n] = NULL;
	return argv;
}

/*
 * How the program starts: a process group of its own (so that killing it
 * reaches what it started too), an empty signal mask rather than the one
 * our loop keeps, and SIGPIPE back to the default that we ignore.
 */
static int
spawn_attrs(posix_spawnattr_t *a)
{
	sigset_t none, pipe;

	sigemptyset(&none);
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	if (posix_spawnattr_init(a) != 0)
		return -1;
	if (posix_spawnattr_setflags(a, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0 ||
	    posix_spawnattr_setpgroup(a, 0) != 0 ||
	    posix_spawnattr_setsigmask(a, &none) != 0 ||
	    posix_spawnattr_setsigdefault(a, &pipe) != 0) {
		posix_spawnattr_destroy(a);
		return -1;
	}
	return 0;
}

/*
 * Start argv with stdin from in and stdout (and with CHILD_STDERR stderr)
 * to out.  posix_spawn runs nothing of ours between fork and exec, and it
 * returns only once the program runs, so that its process group exists
 * before any kill, or with the errno of a program that could not start.
 * The pipes are close-on-exec and never 0-2 (main keeps those open), so
 * the program keeps only the copies made here, and where the C library
 * can, nothing else above stderr either.  Returns 0 or an errno.
 */
static int
spawn(char **argv, unsigned flags, char *const envp[], int in, int out,
    pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t a;
	int rc;

	if (spawn_attrs(&a) == -1)
		return ENOMEM;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		posix_spawnattr_destroy(&a);
		return rc;
	}
	if ((rc = posix_spawn_file_actions_adddup2(&fa, in,
	    STDIN_FILENO)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out,
	    STDOUT_FILENO)) == 0 && (flags & CHILD_STDERR))
		rc = posix_spawn_file_actions_adddup2(&fa, out,
		    STDERR_FILENO);
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	/* Ours are close-on-exec; this closes what our parent left open. */
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa,
		    STDERR_FILENO + 1);
#endif
	if (rc == 0)
		rc = (flags & CHILD_SHELL) ?
		    posix_spawn(pid, argv[0], &fa, &a, argv, envp) :
		    posix_spawnp(pid, argv[0], &fa, &a, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&a);
	return rc;
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
on_kill_timer(struct loop_timer *t)
{
	struct child *c = container_of(t, struct child, kill_timer);

	if (!c->reaped)
		(void)kill(-c->pid, SIGKILL);
}

/* Link a started child into the list of children. */
static void
child_link(struct child *c, struct loop *l, const char *label)
{
	c->loop = l;
	loop_timer_init(&c->kill_timer, on_kill_timer);
	snprintf(c->label, sizeof(c->label), "%s", label);
	c->next = children;
	if (children != NULL)
		children->prev = c;
	children = c;
	nrunning++;
}

struct child *
child_spawn(struct loop *l, const char *cmd, unsigned flags,
    char *const envp[], const char *label, int *rfd, int *wfd,
    struct error *e)
{
	char *sh_argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	char **argv = sh_argv, *buf = NULL;
	int to[2] = { -1, -1 }, from[2] = { -1, -1 }, rc;
	struct child *c;

	if ((c = calloc(1, sizeof(*c))) == NULL || (!(flags & CHILD_SHELL) &&
	    (argv = split_args(cmd, &buf)) == NULL)) {
		free(c);
		return err_set(e, ST_RUNTIME, "out of memory"), NULL;
	}
	if (pipe2(to, O_CLOEXEC) == -1 || pipe2(from, O_CLOEXEC) == -1 ||
	    set_nonblock(to[1]) == -1 || set_nonblock(from[0]) == -1) {
		err_errno(e, ST_RUNTIME, errno, "pipe");
		goto fail;
	}
	if ((rc = spawn(argv, flags, envp != NULL ? envp : environ, to[0],
	    from[1], &c->pid)) != 0) {
		err_errno(e, ST_RUNTIME, rc, "cannot run %s", argv[0]);
		goto fail;
	}
	close(to[0]);
	close(from[1]);
	if (argv != sh_argv) {
		free(argv);
		free(buf);
	}
	child_link(c, l, label);
	*rfd = from[0];
	*wfd = to[1];
	return c;
fail:
	if (to[0] >= 0) {
		close(to[0]);
		close(to[1]);
	}
	if (from[0] >= 0) {
		close(from[0]);
		close(from[1]);
	}
	if (argv != sh_argv) {
		free(argv);
		free(buf);
	}
	free(c);
	return NULL;
}

void
child_release(struct child *c)
{
	if (c == NULL)
		return;
	c->released = true;
	if (c->reaped) {
		child_unlink(c);
		return;
	}
	c->terminated = true;
	(void)kill(-c->pid, SIGTERM);
	(void)loop_timer_set(c->loop, &c->kill_timer, now_ms() +
	    CHILD_KILL_MS);
}

void
child_reap(child_exit_fn *on_exit)
{
	struct child *c;
	pid_t pid;
	int ws;

	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
		for (c = children; c != NULL && c->pid != pid; c = c->next)
			;
		if (c == NULL)
			continue;
		c->reaped = true;
		nrunning--;
		loop_timer_stop(c->loop, &c->kill_timer);
		if (on_exit != NULL && ((WIFEXITED(ws) &&
		    WEXITSTATUS(ws) != 0) || (WIFSIGNALED(ws) &&
		    !c->terminated)))
			on_exit(c->label, pid, ws);
		if (c->released)
			child_unlink(c);
	}
}

size_t
child_count(void)
{
	return nrunning;
}
