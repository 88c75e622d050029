/*
 * A flow: one direction of bytes, from a source stream through a buffer to
 * a sink stream.  A relay is two flows.
 *
 * The buffer is lazy.  A flow that has nothing to move holds none: it is
 * allocated at the first read, small (FLOW_BUF_SMALL) unless the flow was
 * busy lately, grown to the flow's maximum when a read fills it, and freed
 * once everything read has been written and the source had nothing more.
 * So an idle session costs no buffer memory, and a bulk transfer still
 * reads and writes in large blocks.
 *
 * A flow in record mode (either end keeps datagram boundaries, as its
 * stream's query says) never merges or splits records: it holds one at a
 * time, read whole into a buffer of the flow's maximum size and written
 * whole.  What it reads from a byte stream to send as a datagram is cut at
 * FLOW_RECORD_MAX bytes, the most one UDP datagram over IPv4 carries.
 *
 * Zero-copy.  A flow whose two ends are bare descriptors (each stream's
 * top layer answers STREAM_Q_RAW_RFD or _WFD), with no tap and no records,
 * moves its bytes in the kernel once its first bytes have gone through the
 * buffer (so that the relay may look at them), the same bytes in the same
 * order as read(2) and write(2) would:
 *
 *   FLOW_ZC_SPLICE    one end is a pipe: splice(2) straight from the source
 *                     to the sink.  The source is peeked (FIONREAD, or a
 *                     file's size) and its bytes count as buffered, in len,
 *                     until they are spliced out by flow_write().
 *   FLOW_ZC_SENDFILE  a regular file to a socket: sendfile(2), the same way.
 *   FLOW_ZC_PIPE      otherwise (a socket to a file or a socket): splice(2)
 *                     into a pipe of the flow's own, whose bytes are len,
 *                     then out of it to the sink.
 *
 * A TLS layer answers with its socket only for a direction whose records
 * the kernel seals or opens (kernel TLS): the socket then carries plaintext.
 * A source that is such a layer is always FLOW_ZC_PIPE (its socket's
 * FIONREAD counts records, not plaintext), and its end of stream is the
 * layer's to read: at 0 from splice(2), as at any failure (a record that
 * is not data), the flow reads through the layer from there on, which
 * tells close_notify from a truncation.
 *
 * A terminal at either end, a socket that is not ours to make non-blocking
 * (it could block the loop), an environment that sets TLSNC_NO_SPLICE, or a
 * run-time failure of splice or sendfile keeps (or puts) the flow on
 * read(2)/write(2); after a failure, bytes already in the pipe are moved
 * into the buffer first, and the same call is tried the old way, so that
 * an error says what read(2) or write(2) would have said.  flow_set_log()
 * names the path each flow takes (-vv).
 *
 * flow_read() and flow_write() move what they can without waiting and
 * leave in rwant and wwant what the source and the sink wait for.  They
 * return the last stream result: IO_ERROR leaves the reason in the
 * stream's err, and the caller decides what it means.
 */
#ifndef TLSNC_FLOW_H
#define TLSNC_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream.h"

#define FLOW_BUF_SMALL	(16 * 1024)
#define FLOW_BUF_MAX	(256 * 1024)
#define FLOW_RECORD_MAX	65507

/*
 * A tap: code that sees, and may rewrite, the bytes of a flow between the
 * read and the write (-C, -t, -o, -x, --send-only, -d).  Every slot may be
 * NULL.  A flow without a tap reads straight into its buffer and writes
 * straight out of it; flow_needs_bytes() tells the caller whether it must
 * keep it that way (a zero-copy path must not bypass a tap).
 */
struct flow_tap {
	/* The bytes just read from the source, as they came. */
	void	(*on_read)(struct flow_tap *, const void *, size_t);
	/*
	 * Rewrite the n bytes just read (at most chunk) into out, which has
	 * room for n * grow bytes; returns how many it put there (0 too).
	 * The source is then read into scratch, then copied.
	 */
	size_t	(*transform)(struct flow_tap *, const void *in, size_t n,
		    void *out);
	/* The bytes just written to the sink. */
	void	(*on_write)(struct flow_tap *, const void *, size_t);
	size_t	 grow;		/* most bytes out per byte in (>= 1) */
	void	*scratch;	/* chunk bytes, for transform */
	size_t	 chunk;
	int64_t	 rest_ms;	/* after each read, the source rests (-d) */
};

enum flow_zc {
	FLOW_ZC_UNDECIDED = 0,	/* until the first bytes went through */
	FLOW_ZC_OFF,		/* read(2) and write(2) */
	FLOW_ZC_SPLICE,
	FLOW_ZC_SENDFILE,
	FLOW_ZC_PIPE,
};

struct flow {
	struct stream	*src;
	struct stream	*dst;
	char		*buf;		/* NULL while idle */
	size_t		 cap;
	size_t		 head;		/* first unwritten byte */
	size_t		 len;		/* bytes buffered */
	size_t		 max;		/* the most it buffers */
	enum io		 rwant;		/* what the source waits for */
	enum io		 wwant;		/* what the sink waits for */
	bool		 src_eof;	/* the source is finished */
	bool		 done;		/* and the sink has been told */
	bool		 shut_sent;	/* the half-close went out */
	bool		 hot;		/* recent reads were large */
	bool		 drained;	/* the last read emptied the source */
	bool		 dst_nonblocking;
	bool		 record;	/* one datagram at a time */
	bool		 src_records;	/* the source keeps boundaries */
	uint64_t	 bytes;		/* written to the sink */
	uint64_t	 taken;		/* read from the source */
	struct flow_tap	*tap;		/* or NULL */
	int64_t		 rest_until;	/* now_ms() time, or 0: not resting */
	/* Zero-copy (see above). */
	enum flow_zc	 zc;
	bool		 zc_held;	/* len counts bytes outside buf */
	bool		 zc_full;	/* no more to take until a write */
	unsigned char	 zc_src_kind;	/* what the source descriptor is */
	unsigned char	 zc_dst_kind;
	int		 zc_src;	/* the raw descriptors */
	int		 zc_dst;
	int		 zc_pipe[2];	/* FLOW_ZC_PIPE: read and write ends */
};

void	flow_init(struct flow *, struct stream *src, struct stream *dst,
	    size_t max);
/* Free the buffer (and a zero-copy pipe); what it held is discarded. */
void	flow_release(struct flow *);
/*
 * Where the one line that names a flow's path goes (printf-like), or NULL
 * (the default) for nowhere.
 */
void	flow_set_log(void (*log)(const char *, ...));

/*
 * Read until the buffer is full or the source waits, and while a layer
 * holds bytes that poll cannot see.  *got is what was read this time.
 * IO_EOF sets src_eof.
 */
enum io	flow_read(struct flow *, size_t *got);
/* Write until the buffer is empty or the sink waits. */
enum io	flow_write(struct flow *);
/* Half-close the sink (IO_DONE once out, or a want to retry on). */
enum io	flow_shutdown(struct flow *);

/*
 * Append n bytes to the buffer to go out after what it holds (a Telnet
 * answer), even beyond max.  False once the sink is finished, or when
 * memory is short: the bytes are then dropped.
 */
bool	flow_inject(struct flow *, const void *, size_t n);
/*
 * A flow that rests (tap rest_ms) is not read until rest_until.  At now
 * (now_ms()) or later the rest ends: returns true when one just did, so
 * the source is worth trying again.
 */
bool	flow_rest_over(struct flow *, int64_t now);

/* The most bytes one byte read may become in the buffer. */
static inline size_t
flow_need(const struct flow *f)
{
	return f->tap != NULL && f->tap->grow > 1 ? f->tap->grow : 1;
}

/* Room to read into, so the source is worth watching. */
static inline bool
flow_can_read(const struct flow *f)
{
	return !f->src_eof && !f->done && f->rest_until == 0 && !f->zc_full &&
	    f->len + flow_need(f) <= f->max && (!f->record || f->len == 0);
}

/* A tap must see the bytes: a zero-copy path would go around it. */
static inline bool
flow_needs_bytes(const struct flow *f)
{
	return f->tap != NULL;
}

/* Bytes to write, or a half-close to send. */
static inline bool
flow_wants_sink(const struct flow *f)
{
	return !f->done && (f->len > 0 || f->src_eof);
}

/* The source holds bytes inside a layer: read again without waiting. */
static inline bool
flow_has_hidden(const struct flow *f)
{
	return flow_can_read(f) && f->rwant == IO_WANT_READ &&
	    stream_pending(f->src) > 0;
}

#endif
