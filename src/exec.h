/*
 * The local end of -e and -c: a stream whose program starts only once the
 * network end is established, and whose environment describes the
 * connection.
 *
 * The stream is a layer with nothing below it at first.  Its handshake
 * slot starts the program and puts the program's pipes below it; every
 * other slot then passes down to them.  A relay that sets up its local end
 * after the network's (relay_opts.local_after_net) therefore starts the
 * program after the TLS handshake: the program never runs for a handshake
 * that fails, never sees a byte before it is done, and finds what was
 * negotiated in its environment.  Closing the stream hands the program to
 * child_release().
 */
#ifndef TLSNC_EXEC_H
#define TLSNC_EXEC_H

#include <sys/socket.h>

#include <stdbool.h>

#include "loop.h"
#include "status.h"
#include "stream.h"
#include "tls.h"

/*
 * What a program's environment says about its connection: the addresses
 * of both ends, the socket type, and with TLS what the handshake
 * negotiated and what the peer presented.
 */
struct exec_conn {
	struct sockaddr_storage	 local;		/* family 0: unknown */
	struct sockaddr_storage	 remote;
	int			 socktype;	/* SOCK_STREAM, SOCK_DGRAM */
	bool			 tls;		/* tls_info is filled in */
	struct tls_info		 tls_info;
};

/* The addresses and type of a connected socket (what cannot be found is
 * left unknown). */
void	exec_conn_from_socket(int fd, struct exec_conn *);

/*
 * A new environment: base (such as environ) with these set, replacing any
 * of the same name that base has, and with every name of this list that
 * does not apply left out, so that a stale one cannot mislead:
 *
 *   TLSNC_REMOTE_ADDR, TLSNC_REMOTE_PORT   the peer's address and port
 *   TLSNC_LOCAL_ADDR, TLSNC_LOCAL_PORT     ours
 *   TLSNC_PROTO                            "TCP" or "UDP"
 *   NCAT_REMOTE_ADDR ... NCAT_PROTO        the same five, as Ncat names them
 *   TLSNC_TLS_VERSION, TLSNC_TLS_CIPHER    with TLS: what was negotiated
 *   TLSNC_PEER_SUBJECT, TLSNC_PEER_SHA256  when the peer sent a certificate:
 *                                          its subject (RFC 2253) and
 *                                          fingerprint (SHA256:hex)
 *
 * Addresses are numeric, IPv4 peers of a dual-stack socket in IPv4 form;
 * a Unix socket's address is its path and its port is empty.  One
 * allocation: free() it.  NULL when out of memory.
 */
char	**exec_env_new(char *const base[], const struct exec_conn *);

/* Flags: CHILD_SHELL and CHILD_STDERR (child.h). */
struct exec_spec {
	const char	*cmd;		/* outlives the stream */
	unsigned	 flags;
	const char	*label;		/* names the program in reports */
};

/*
 * The local end of a session on socket sock, whose network stream is net
 * (it must outlive this stream; TLS information is read from it when the
 * program starts).  The program starts at this stream's handshake, on loop
 * l, which must watch SIGCHLD.  Returns NULL with e filled in.
 */
struct stream	*exec_stream_new(struct loop *l, const struct exec_spec *,
		    int sock, const struct stream *net, struct error *e);

#endif
