/*
 * Streams: one byte-stream interface for plain descriptors and TLS.
 *
 * A stream is a small object with a const table of operations, in the manner
 * of curl's connection filters.  Every operation answers in one vocabulary:
 *
 *   IO_DONE        the call made progress (*n bytes moved, or the step is done)
 *   IO_WANT_READ   nothing moved; call again when stream_want_fd() for
 *                  IO_WANT_READ polls readable
 *   IO_WANT_WRITE  the same, for writable
 *   IO_EOF         (read only) the peer will send nothing more
 *   IO_ERROR       failed; the reason is in stream->err, never in errno
 *
 * Streams form a chain of layers: TLS over a socket, TLS over TLS, a
 * proxy dialogue under TLS.  A slot that a layer leaves NULL passes down:
 * the handshake runs the lower layers' set-up first, pending adds up the
 * bytes held in every layer, and want_fd and shutdown_write go to the layer
 * below.  Bytes that a layer has already taken off the wire but not handed
 * out are reported by stream_pending(): poll cannot see them, so the caller
 * must read again before it sleeps.
 */
#ifndef TLSNC_STREAM_H
#define TLSNC_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

enum io {
	IO_DONE = 0,
	IO_WANT_READ,
	IO_WANT_WRITE,
	IO_EOF,
	IO_ERROR,
};

struct stream;

/*
 * What a caller may ask of a stream, instead of looking inside it.  Each
 * layer answers what it knows and passes the rest down; the answer comes
 * from the topmost layer that knows.
 */
enum stream_query {
	STREAM_Q_FD,		/* int: the socket, when the stream is an
				   unlayered socket; -1 otherwise */
	STREAM_Q_TLS,		/* struct tls *: the topmost TLS layer */
	STREAM_Q_EOF_CLEAN,	/* bool: the last EOF was a clean one (a FIN,
				   or close_notify under TLS) */
	STREAM_Q_DATAGRAM,	/* bool: reads keep datagram boundaries */
	STREAM_Q_NONBLOCKING,	/* bool: I/O may be tried at any time; false
				   means only once the want is ready */
	/*
	 * int: the descriptor that this stream's bytes may be read from
	 * (written to) directly, by splice(2) or sendfile(2), going around
	 * the stream; -1 when they may not.  Unlike the others, these two
	 * are asked of the topmost layer only and never passed down: a layer
	 * that the bytes would go around must answer for itself.  The fd
	 * layer answers with its descriptor (none for datagrams); a TLS
	 * layer may answer with its socket once the kernel does the record
	 * layer (kernel TLS), and any other answers nothing: -1.
	 */
	STREAM_Q_RAW_RFD,
	STREAM_Q_RAW_WFD,
};

struct stream_ops {
	const char *name;
	/*
	 * Complete this layer's protocol set-up (the TLS handshake).  IO_DONE
	 * once established.  The lower layers' set-up runs first; NULL: none.
	 */
	enum io	(*handshake)(struct stream *);
	/* Like read(2): IO_DONE with *n > 0, or IO_EOF, never *n == 0. */
	enum io	(*read)(struct stream *, void *, size_t, size_t *n);
	/* Like write(2): IO_DONE with 0 < *n <= len; partial writes happen. */
	enum io	(*write)(struct stream *, const void *, size_t, size_t *n);
	/*
	 * Tell the peer no more data follows (close_notify, then FIN).
	 * Reading goes on working afterwards.  May want I/O; call again.
	 * NULL: pass the half-close down.
	 */
	enum io	(*shutdown_write)(struct stream *);
	/* Bytes held inside this layer that poll cannot report; NULL: none. */
	size_t	(*pending)(const struct stream *);
	/*
	 * The descriptor and poll events that satisfy a want, or -1 when no
	 * descriptor will (a stream fed from inside the process wakes its
	 * user itself).  NULL: ask the layer below.
	 */
	int	(*want_fd)(const struct stream *, enum io want, short *events);
	/* Answer a query into *out and return 0, or -1 to pass it down. */
	int	(*query)(const struct stream *, enum stream_query, void *out);
	/* Release this layer's own state (the lower layer is closed after). */
	void	(*close)(struct stream *);
};

/* Every layer has just this; its own state hangs off ctx. */
struct stream {
	const struct stream_ops *ops;
	struct stream	*lower;		/* the layer below (owned), or NULL */
	void		*ctx;		/* the implementation's own state */
	int		 sys_errno;	/* errno of the last IO_ERROR, or 0 */
	struct error	 err;		/* why the last IO_ERROR happened */
};

/* Flags for stream_fd_new(). */
#define STREAM_OWN_FDS	0x1	/* close the descriptors with the stream */

/*
 * An fd stream reads rfd and writes wfd; they may be one socket, or two
 * descriptors such as stdin/stdout or a child's pipes.  Sockets are switched
 * to non-blocking mode; other descriptors are left as they are, since they
 * may be shared with other processes, and are only used once poll says they
 * are ready.
 */
struct stream	*stream_fd_new(int rfd, int wfd, unsigned flags);

/* What an fd stream found out about its descriptors. */
struct fd_state {
	int	 rfd;
	int	 wfd;
	unsigned flags;		/* STREAM_OWN_FDS */
	bool	 nonblocking;	/* we made the socket non-blocking */
	bool	 is_socket;	/* wfd is a socket (shutdown applies) */
	bool	 datagram;	/* one socket that keeps message boundaries */
	bool	 w_pipe;	/* wfd is a pipe or FIFO */
	bool	 w_nowait;	/* RWF_NOWAIT writes are worth trying */
	bool	 eof;		/* read saw EOF */
};
/* The state of an fd stream, or NULL for any other kind of layer. */
const struct fd_state *stream_fd_state(const struct stream *);

/*
 * A new layer over lower (NULL for a bottom layer), which it then owns.
 * For implementations: the ops and ctx are theirs.
 */
struct stream	*stream_layer_new(const struct stream_ops *, void *ctx,
		    struct stream *lower);

/* Driving a stream: these pass down through the layers as the slots say. */
enum io		 stream_handshake(struct stream *);
size_t		 stream_pending(const struct stream *);
int		 stream_want_fd(const struct stream *, enum io want,
		    short *events);
enum io		 stream_shutdown_write(struct stream *);
int		 stream_query(const struct stream *, enum stream_query,
		    void *out);

static inline enum io
stream_read(struct stream *s, void *buf, size_t len, size_t *n)
{
	return s->ops->read(s, buf, len, n);
}

static inline enum io
stream_write(struct stream *s, const void *buf, size_t len, size_t *n)
{
	return s->ops->write(s, buf, len, n);
}

/* Typed queries, with the answer a stream that does not know gives. */
int		 stream_fd(const struct stream *);		/* -1 */
bool		 stream_eof_clean(const struct stream *);	/* true */
bool		 stream_nonblocking(const struct stream *);	/* false */
bool		 stream_keeps_datagrams(const struct stream *);	/* false */
/* STREAM_Q_RAW_RFD for IO_WANT_READ, STREAM_Q_RAW_WFD for IO_WANT_WRITE. */
int		 stream_raw_fd(const struct stream *, enum io dir); /* -1 */

void	stream_close(struct stream *);

/* For implementations: record the failure in s->err; returns IO_ERROR. */
enum io	stream_fail(struct stream *, enum status, int errnum, const char *,
	    ...) __attribute__((format(printf, 4, 5)));

#endif
