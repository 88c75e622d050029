/*
 * The hub: standard input and output shared by many sessions (-k).
 *
 * Each session gets a port, a stream without a descriptor that its relay
 * uses as the local end.  Reading a port gives what standard input brought
 * since the port was made; writing a port queues bytes for standard output.
 * Input is kept once, in chunks that every port reads in turn and that are
 * freed when the last port has read them.
 *
 * Backpressure: standard input is read only while some port is open and no
 * port has HUB_PORT_MAX bytes queued.  A port that stays that full for
 * HUB_STALL_MS is reported through on_stall, so that its session can be
 * dropped instead of holding up the others.  A port whose writes find the
 * output queue full waits (IO_WANT_WRITE) and is woken when it drains.
 * Ports wake their relay themselves (relay_wake), since no descriptor will.
 *
 * The broker (--broker, --chat) is the same hub with the ports as sources
 * too: what a port's relay writes is stored once, in a chunk marked with
 * its sender, and every other port reads it; standard input is one more
 * sender (number 0) and standard output is not used.  Under --chat each
 * sender's bytes are cut into lines and prefixed (chat.h) first.
 *
 * The broker does not wait for a slow client.  A port with BROKER_BEHIND
 * bytes or more queued holds the senders back, but for BROKER_HOLD_MS at
 * most: a reader that only lags a little (a busy moment, a slower TLS
 * peer) keeps every byte, and one that cannot keep up then falls further
 * behind while the others go on.  A port whose queue passes
 * BROKER_QUEUE_MAX is reported through on_overflow (its session should
 * go), and is then dropped from the hub at once, so that the chunks it
 * held are freed.
 */
#ifndef TLSNC_HUB_H
#define TLSNC_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "relay.h"
#include "status.h"
#include "stream.h"

#define HUB_PORT_MAX	(256 * 1024)
#define HUB_OUT_MAX	(1024 * 1024)
#define HUB_STALL_MS	2000
#define BROKER_BEHIND	(256 * 1024)
#define BROKER_HOLD_MS	1000
#define BROKER_QUEUE_MAX (1024 * 1024)

struct hub;

struct hub_opts {
	bool	 no_input;	/* --recv-only: never read standard input */
	bool	 broker;	/* ports send to each other; no stdout */
	bool	 chat;		/* and line by line, as "<userN> " */
	/*
	 * Broker: a port's queue passed BROKER_QUEUE_MAX with queued bytes
	 * for it; its session should go.  arg is the port's.
	 */
	void	(*on_overflow)(void *port_arg, uint64_t queued);
	/* A port stayed full: its session should go.  arg is the port's. */
	void	(*on_stall)(void *port_arg);
	/* Reading standard input failed: it ends there, as at EOF. */
	void	(*on_input_error)(const struct error *, void *);
	/* Standard output failed (errnum: its errno): the hub is done. */
	void	(*on_fatal)(const struct error *, int errnum, void *);
	void	*arg;
};

/*
 * The hub takes stdin and stdout as fd streams (it owns them).  A broker
 * has no stdout (out is NULL); in may be NULL for no input at all.
 */
struct hub	*hub_new(struct loop *, struct stream *in, struct stream *out,
		    const struct hub_opts *, struct error *);
void		 hub_free(struct hub *);

/* Flags for hub_port_new(). */
#define HUB_PORT_WAIT	0x1	/* it receives nothing until hub_port_join() */

/*
 * A new port; arg goes to on_stall.  Until hub_port_attach() names its
 * relay, nothing is woken.  The port is freed with stream_close().
 */
struct stream	*hub_port_new(struct hub *, void *arg, unsigned flags);
/* A HUB_PORT_WAIT port becomes a receiver, from what comes next on. */
void		 hub_port_join(struct stream *);
void		 hub_port_attach(struct stream *, struct relay *);
/* Bytes queued for standard output; 0 also once output has failed. */
size_t		 hub_output_queued(const struct hub *);
/* Input queued for the port and not yet read by its relay. */
uint64_t	 hub_port_queued(const struct stream *);
/* The port's number: 1 for the first, and on; never reused.  Not 0. */
unsigned long	 hub_port_id(const struct stream *);
/*
 * Broker: send text to every port as it is (an announcement).  Returns 0,
 * or -1 when memory is short.
 */
int		 hub_broadcast(struct hub *, const char *, size_t);

#endif
