/* The data options of one session, as taps on its flows. */
#include "config.h"

#include <stdlib.h>

#include "loop.h"
#include "tap.h"
#include "transform.h"

/* The most one transformed read takes from its source. */
#define TAP_CHUNK	(64 * 1024)
/* Telnet input is filtered in slices, so that the answers fit. */
#define TELNET_SLICE	4096
/*
 * Answers wait behind at most this much of "out": a peer that floods us
 * with requests and reads nothing gets no more answers.
 */
#define TELNET_ANSWER_LIMIT	(4 * FLOW_BUF_MAX)

struct taps {
	struct tap_opts	 o;
	struct flow_tap	 out_tap;
	struct flow_tap	 in_tap;
	struct flow	*out;
	struct crlf_state crlf;
	struct telnet_state telnet;
	uint64_t	 sent;		/* offsets for the hex dump */
	uint64_t	 received;
	unsigned char	 answers[TELNET_SLICE * TELNET_REPLY_GROW];
};

bool
tap_opts_any(const struct tap_opts *o)
{
	return o->delay_ms > 0 || o->crlf || o->telnet || o->discard_in ||
	    o->rec != NULL;
}

static void
record_sent(struct flow_tap *t, const void *p, size_t n)
{
	struct taps *tp = container_of(t, struct taps, out_tap);

	recorder_add(tp->o.rec, RECORD_SENT, tp->sent, p, n);
	tp->sent += n;
}

static void
record_received(struct flow_tap *t, const void *p, size_t n)
{
	struct taps *tp = container_of(t, struct taps, in_tap);

	recorder_add(tp->o.rec, RECORD_RECEIVED, tp->received, p, n);
	tp->received += n;
}

static size_t
add_crs(struct flow_tap *t, const void *in, size_t n, void *out)
{
	struct taps *tp = container_of(t, struct taps, out_tap);

	return crlf_convert(&tp->crlf, in, n, out);
}

/* Keep the data, and send the refusals after what "out" holds. */
static size_t
strip_telnet(struct flow_tap *t, const void *in, size_t n, void *out)
{
	struct taps *tp = container_of(t, struct taps, in_tap);
	const unsigned char *p = in;
	unsigned char *q = out;
	size_t i, k, na, total = 0;

	for (i = 0; i < n; i += k) {
		k = n - i < TELNET_SLICE ? n - i : TELNET_SLICE;
		total += telnet_filter(&tp->telnet, p + i, k, q + total,
		    tp->answers, &na);
		if (na > 0 && tp->out->len < TELNET_ANSWER_LIMIT)
			(void)flow_inject(tp->out, tp->answers, na);
	}
	return tp->o.discard_in ? 0 : total;
}

/* --send-only: what the peer sends goes nowhere. */
static size_t
discard(struct flow_tap *t, const void *in, size_t n, void *out)
{
	(void)t;
	(void)in;
	(void)n;
	(void)out;
	return 0;
}

/* Hook t on f when it has something to do there. */
static int
tap_init(struct flow_tap *t, struct flow *f, size_t grow,
    size_t (*transform)(struct flow_tap *, const void *, size_t, void *))
{
	t->grow = grow;
	t->transform = transform;
	if (transform == NULL && t->on_read == NULL && t->on_write == NULL &&
	    t->rest_ms == 0)
		return 0;
	f->tap = t;
	if (transform == NULL)
		return 0;
	t->chunk = TAP_CHUNK;
	return (t->scratch = malloc(t->chunk)) == NULL ? -1 : 0;
}

struct taps *
taps_new(const struct tap_opts *o, struct flow *out, struct flow *in,
    struct error *e)
{
	struct taps *tp;

	if ((tp = calloc(1, sizeof(*tp))) == NULL) {
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	tp->o = *o;
	tp->out = out;
	tp->out_tap.rest_ms = o->delay_ms;
	if (o->rec != NULL) {
		tp->out_tap.on_write = record_sent;
		tp->in_tap.on_read = record_received;
	}
	if (tap_init(&tp->out_tap, out, o->crlf ? CRLF_GROW : 1,
	    o->crlf ? add_crs : NULL) == -1 ||
	    tap_init(&tp->in_tap, in, TELNET_GROW, o->telnet ? strip_telnet :
	    o->discard_in ? discard : NULL) == -1) {
		out->tap = in->tap = NULL;
		taps_free(tp);
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	return tp;
}

void
taps_free(struct taps *tp)
{
	if (tp == NULL)
		return;
	free(tp->out_tap.scratch);
	free(tp->in_tap.scratch);
	free(tp);
}
