/*
 * splicepair: the loopback limit for a relay that never copies, to set
 * tlsnc's plain MB/s against.
 *
 * A sender process puts a block of zeros into a pipe with vmsplice(2) and
 * splices it to a TCP socket over 127.0.0.1; a receiver process splices
 * what arrives into a pipe and on into /dev/null.  No byte is copied
 * through user space on either side, so what it prints is about the most
 * the kernel's loopback moves on this machine.  It prints MB/s (10^6
 * bytes a second) of SIZE MiB, timed from the connection to the receiver's
 * EOF.
 *
 * Build: cc -O2 -o splicepair bench/splicepair.c
 * Usage: splicepair [-s SIZE_MIB]
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK	(64 * 1024)
#define PIPE_SZ	(1024 * 1024)

static char zeros[BLOCK] __attribute__((aligned(4096)));

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Move size bytes of zeros into sock, through a pipe, with no copy. */
static void
send_all(int sock, uint64_t size)
{
	struct iovec iov;
	int p[2];
	ssize_t n, m;
	size_t chunk;

	if (pipe(p) == -1)
		err(1, "pipe");
	(void)fcntl(p[1], F_SETPIPE_SZ, PIPE_SZ);
	while (size > 0) {
		chunk = size < BLOCK ? (size_t)size : BLOCK;
		iov.iov_base = zeros;
		iov.iov_len = chunk;
		if ((n = vmsplice(p[1], &iov, 1, 0)) <= 0)
			err(1, "vmsplice");
		while (n > 0) {
			m = splice(p[0], NULL, sock, NULL, (size_t)n,
			    SPLICE_F_MOVE | SPLICE_F_MORE);
			if (m <= 0)
				err(1, "splice to the socket");
			n -= m;
			size -= (uint64_t)m;
		}
	}
	close(sock);
}

/* Move everything from sock into /dev/null through a pipe; the count. */
static uint64_t
recv_all(int sock)
{
	uint64_t total = 0;
	int p[2], null;
	ssize_t n, m;

	if (pipe(p) == -1 || (null = open("/dev/null", O_WRONLY)) == -1)
		err(1, "pipe or /dev/null");
	(void)fcntl(p[1], F_SETPIPE_SZ, PIPE_SZ);
	for (;;) {
		n = splice(sock, NULL, p[1], NULL, PIPE_SZ, SPLICE_F_MOVE);
		if (n == -1)
			err(1, "splice from the socket");
		if (n == 0)
			return total;
		total += (uint64_t)n;
		while (n > 0) {
			if ((m = splice(p[0], NULL, null, NULL, (size_t)n,
			    SPLICE_F_MOVE)) <= 0)
				err(1, "splice to /dev/null");
			n -= m;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	uint64_t size = 1024, got;
	int lsock, sock, opt, status;
	double t0, t1;
	pid_t pid;

	while ((opt = getopt(argc, argv, "s:")) != -1) {
		if (opt != 's' || (size = strtoull(optarg, NULL, 10)) == 0) {
			fprintf(stderr, "usage: splicepair [-s SIZE_MIB]\n");
			return 2;
		}
	}
	size *= 1048576;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lsock = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lsock, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lsock, 1) == -1 ||
	    getsockname(lsock, (struct sockaddr *)&sin, &len) == -1)
		err(1, "listening socket");
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		close(lsock);
		if ((sock = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(sock, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			err(1, "connect");
		send_all(sock, size);
		_exit(0);
	}
	if ((sock = accept(lsock, NULL, NULL)) == -1)
		err(1, "accept");
	t0 = now_s();
	got = recv_all(sock);
	t1 = now_s();
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		errx(1, "the sender failed");
	if (got != size)
		errx(1, "received %llu of %llu bytes",
		    (unsigned long long)got, (unsigned long long)size);
	printf("splicepair: %llu MiB over 127.0.0.1 in %.3f s: %.1f MB/s\n",
	    (unsigned long long)(size / 1048576), t1 - t0,
	    (double)size / (t1 - t0) / 1e6);
	return 0;
}
