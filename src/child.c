/* Children on pipes: spawn, kill, reap. */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
 * In the child: a process group of its own (so that killing it reaches
 * what it started too), stdin and stdout onto the pipes, the signal mask
 * and SIGPIPE as a program expects them, then exec.  Never returns.
 */
static void
child_exec(char **argv, int in, int out)
{
	sigset_t set;

	(void)setpgid(0, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	if (dup2(in, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1)
		_exit(127);
	execvp(argv[0], argv);
	fprintf(stderr, "tlsnc: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
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

struct child *
child_spawn(struct loop *l, const char *cmd, bool shell, const char *label,
    int *rfd, int *wfd, struct error *e)
{
	char *sh_argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	char **argv = sh_argv, *buf = NULL;
	int to[2] = { -1, -1 }, from[2] = { -1, -1 };
	struct child *c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (!shell && (argv = split_args(cmd, &buf)) == NULL)) {
		free(c);
		return err_set(e, ST_RUNTIME, "out of memory"), NULL;
	}
	if (pipe2(to, O_CLOEXEC) == -1 || pipe2(from, O_CLOEXEC) == -1 ||
	    set_nonblock(to[1]) == -1 || set_nonblock(from[0]) == -1) {
		err_errno(e, ST_RUNTIME, errno, "pipe");
		goto fail;
	}
	if ((c->pid = fork()) == -1) {
		err_errno(e, ST_RUNTIME, errno, "fork");
		goto fail;
	}
	if (c->pid == 0)
		child_exec(argv, to[0], from[1]);
	/* Set here too, so that a kill cannot come before the child's own. */
	(void)setpgid(c->pid, c->pid);
	close(to[0]);
	close(from[1]);
	if (argv != sh_argv) {
		free(argv);
		free(buf);
	}
	c->loop = l;
	loop_timer_init(&c->kill_timer, on_kill_timer);
	snprintf(c->label, sizeof(c->label), "%s", label);
	c->next = children;
	if (children != NULL)
		children->prev = c;
	children = c;
	nrunning++;
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
