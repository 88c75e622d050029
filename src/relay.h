/*
 * The relay: moves bytes both ways between two streams, as a client of the
 * event loop.
 *
 * It drives any pending handshakes first, then runs two flows: local->net
 * ("out") and net->local ("in").  A full buffer stops its reader; an empty
 * one stops its writer.  It never asks what kind of stream it holds: each
 * stream names the descriptor and events it waits on, and a stream with no
 * descriptor (a hub port) wakes the relay with relay_wake().
 *
 * A session ends when both directions are finished (see DESIGN.md): "in" at
 * the peer's EOF once everything is written out, "out" at local EOF once
 * everything is sent and the half-close has gone out.  A clean end always
 * sends close_notify and FIN, whatever ended it.
 *
 * The data options (-d, -C, -t, -o, -x, --send-only) ride on the flows as
 * taps (tap.h), set up from opts.taps; without them the flows are left as
 * they are.
 *
 * relay_run() is a loop with one relay in it.  A driver with many sessions
 * makes one relay per session on its own loop, and hears of each end
 * through on_done.
 */
#ifndef TLSNC_RELAY_H
#define TLSNC_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "status.h"
#include "stream.h"
#include "tap.h"

#define RELAY_BUFSIZE	(256 * 1024)
/* The most a clean end waits for room to send close_notify and FIN. */
#define RELAY_CLOSE_MS	2000

struct relay;

struct relay_opts {
	size_t	 bufsize;		/* per direction; 0 means RELAY_BUFSIZE */
	int64_t	 handshake_deadline;	/* now_ms() time, or -1 */
	int64_t	 idle_ms;		/* -i: 0 for none */
	int64_t	 quit_after_eof_ms;	/* -q: -1 for never */
	bool	 recv_only;		/* never read local */
	/* End once local EOF is sent; what net sends is dropped (taps). */
	bool	 send_only;
	bool	 no_shutdown;		/* no half-close on local EOF */
	bool	 end_at_peer_eof;	/* local is a terminal */
	/*
	 * Leave local's write side open until the process exits, rather
	 * than half-close it at the peer's EOF: a parent watching our stdout
	 * (socat EXEC:, inetd) takes EOF there for "the child is done".
	 */
	bool	 hold_local_eof;
	/*
	 * Set up the local end only once the network end is established:
	 * a program started at the local end's handshake (exec.h) then
	 * runs only after the TLS handshake, and knows what it negotiated.
	 */
	bool	 local_after_net;
	/*
	 * Local's reader may go while its writer goes on (a program that
	 * exits or closes its stdin without reading everything): what net
	 * sends is then read and dropped until its EOF, and the session
	 * ends as usual once local's output has been sent too.  Otherwise
	 * a reader gone ends the session, as SIGPIPE would.
	 */
	bool	 local_reader_may_leave;
	/* Called once a stream's handshake completes; non-OK aborts. */
	enum status (*on_established)(struct stream *, void *, struct error *);
	/* Called once with the first bytes that arrive from net, or NULL. */
	void	(*on_first_data)(const void *, size_t, void *);
	/*
	 * Called once when the session is over, as the relay's last act: it
	 * may free the relay and its streams.  relay_finished() then tells
	 * how it ended.
	 */
	void	(*on_done)(struct relay *, void *done_arg);
	void	*arg;			/* for on_established, on_first_data */
	struct tap_opts taps;		/* the data options (tap.h) */
	void	*done_arg;
};

struct relay_stats {
	uint64_t sent;			/* local -> net */
	uint64_t received;		/* net -> local */
	bool	 truncated;		/* net EOF without close_notify */
	uint64_t unsent;		/* local bytes read but not sent */
	uint64_t taken;			/* read from local (before -C) */
	bool	 output_gone;		/* local's reader went away (EPIPE) */
};

/* One session in a loop of its own, until it ends. */
enum status	relay_run(struct stream *local, struct stream *net,
		    const struct relay_opts *, struct relay_stats *,
		    struct error *);

/* A relay on the caller's loop.  It owns neither stream. */
struct relay	*relay_new(struct loop *, struct stream *local,
		    struct stream *net, const struct relay_opts *,
		    struct error *);
/* Start the handshakes (at the loop's next turn). */
void		 relay_start(struct relay *);
/* A stream without a descriptor may have changed: try it again. */
void		 relay_wake(struct relay *);
/*
 * End the session now with st and a message (NULL for none).  ST_OK is a
 * clean end: close_notify and FIN go out.  on_done follows at the next
 * turn.
 */
void		 relay_stop(struct relay *, enum status, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/* True once the session is over; then status and e are final. */
bool		 relay_finished(struct relay *, enum status *, struct error *);
void		 relay_get_stats(const struct relay *, struct relay_stats *);
/* Forget the relay's watches and free it; the streams stay open. */
void		 relay_free(struct relay *);

#endif
