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

struct hub;

struct hub_opts {
	bool	 no_input;	/* --recv-only: never read standard input */
	/* A port stayed full: its session should go.  arg is the port's. */
	void	(*on_stall)(void *port_arg);
	/* Reading standard input failed: it ends there, as at EOF. */
	void	(*on_input_error)(const struct error *, void *);
	/* Standard output failed (errnum: its errno): the hub is done. */
	void	(*on_fatal)(const struct error *, int errnum, void *);
	void	*arg;
};

/* The hub takes stdin and stdout as fd streams (it owns them). */
struct hub	*hub_new(struct loop *, struct stream *in, struct stream *out,
		    const struct hub_opts *, struct error *);
void		 hub_free(struct hub *);

/*
 * A new port; arg goes to on_stall.  Until hub_port_attach() names its
 * relay, nothing is woken.  The port is freed with stream_close().
 */
struct stream	*hub_port_new(struct hub *, void *arg);
void		 hub_port_attach(struct stream *, struct relay *);
/* Bytes queued for standard output; 0 also once output has failed. */
size_t		 hub_output_queued(const struct hub *);
/* Input queued for the port and not yet read by its relay. */
uint64_t	 hub_port_queued(const struct stream *);

#endif
