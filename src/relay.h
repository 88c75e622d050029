/*
 * The relay: moves bytes both ways between two streams in one poll loop.
 *
 * It drives any pending handshakes first, then copies local->net ("out")
 * and net->local ("in") with one buffer per direction.  A full buffer stops
 * its reader; an empty one stops its writer.  It never asks what kind of
 * stream it holds: each stream names the descriptor and events it waits on.
 *
 * A session ends when both directions are finished (see DESIGN.md): "in" at
 * the peer's EOF once everything is written out, "out" at local EOF once
 * everything is sent and the half-close has gone out.
 *
 * relay_run() is the whole loop for one session.  The step functions below
 * it let a multi-session loop drive many relays from one poll().
 */
#ifndef TLSNC_RELAY_H
#define TLSNC_RELAY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "stream.h"

#define RELAY_BUFSIZE	(256 * 1024)
#define RELAY_MAX_PFDS	8

struct relay_opts {
	size_t	 bufsize;		/* per direction; 0 means RELAY_BUFSIZE */
	int64_t	 handshake_deadline;	/* now_ms() time, or -1 */
	int64_t	 idle_ms;		/* -i: 0 for none */
	int64_t	 quit_after_eof_ms;	/* -q: -1 for never */
	bool	 recv_only;		/* never read local */
	bool	 no_shutdown;		/* no half-close on local EOF */
	bool	 end_at_peer_eof;	/* local is a terminal */
	/* Called once a stream's handshake completes; non-OK aborts. */
	enum status (*on_established)(struct stream *, void *, struct error *);
	/* Called once with the first bytes that arrive from net, or NULL. */
	void	(*on_first_data)(const void *, size_t, void *);
	void	*arg;
};

struct relay_stats {
	uint64_t sent;			/* local -> net */
	uint64_t received;		/* net -> local */
	bool	 truncated;		/* net EOF without close_notify */
};

enum status	relay_run(struct stream *local, struct stream *net,
		    const struct relay_opts *, struct relay_stats *,
		    struct error *);

/* Step interface. */
struct relay;
struct relay	*relay_new(struct stream *local, struct stream *net,
		    const struct relay_opts *);
void		 relay_free(struct relay *);
/* Fill pfds (at most RELAY_MAX_PFDS); *timeout is in ms, -1 for none. */
int		 relay_prepare(struct relay *, struct pollfd *, int *timeout);
/* Act on poll's answer for the pfds relay_prepare gave. */
void		 relay_handle(struct relay *, const struct pollfd *, int n);
/* True once the session is over; then status and e are final. */
bool		 relay_finished(struct relay *, enum status *, struct error *);
void		 relay_get_stats(const struct relay *, struct relay_stats *);

#endif
