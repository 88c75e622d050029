/*
 * The data options of one session, as taps on its two flows (flow.h):
 *
 *   out (local -> net)   -d rests after each read, -C adds CRs, and what
 *                        is written goes to the recorder;
 *   in  (net -> local)   what is read goes to the recorder, then -t takes
 *                        the Telnet commands out and queues its answers on
 *                        "out", or --send-only drops it all.
 *
 * A session with none of them gets no taps, and its flows stay as fast as
 * they were.
 */
#ifndef TLSNC_TAP_H
#define TLSNC_TAP_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "record.h"
#include "status.h"

struct tap_opts {
	int64_t		 delay_ms;	/* -d: 0 for none */
	bool		 crlf;		/* -C */
	bool		 telnet;	/* -t */
	bool		 discard_in;	/* --send-only */
	struct recorder	*rec;		/* -o, -x (shared), or NULL */
};

struct taps;

/* Whether the options ask for any tap at all. */
bool		 tap_opts_any(const struct tap_opts *);
/*
 * Put taps on the flows of one session.  Returns them, or NULL with e
 * filled in.  The flows must outlive them.
 */
struct taps	*taps_new(const struct tap_opts *, struct flow *out,
		    struct flow *in, struct error *);
void		 taps_free(struct taps *);

#endif
