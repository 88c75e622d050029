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
 * A layered stream (TLS) sits on a lower stream and asks it for the
 * descriptor to poll.  Bytes that a layer has already taken off the wire but
 * not handed out are reported by stream_pending(): poll cannot see them, so
 * the caller must read again before it sleeps.
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

struct stream_ops {
	const char *name;
	/*
	 * Complete any protocol set-up (the TLS handshake).  IO_DONE once
	 * established; NULL when the stream needs none.
	 */
	enum io	(*handshake)(struct stream *);
	/* Like read(2): IO_DONE with *n > 0, or IO_EOF, never *n == 0. */
	enum io	(*read)(struct stream *, void *, size_t, size_t *n);
	/* Like write(2): IO_DONE with 0 < *n <= len; partial writes happen. */
	enum io	(*write)(struct stream *, const void *, size_t, size_t *n);
	/*
	 * Tell the peer no more data follows (close_notify, then FIN).
	 * Reading goes on working afterwards.  May want I/O; call again.
	 */
	enum io	(*shutdown_write)(struct stream *);
	/* Bytes held inside the layer that poll cannot report. */
	size_t	(*pending)(const struct stream *);
	/* The descriptor and poll events that satisfy a want. */
	int	(*want_fd)(const struct stream *, enum io want, short *events);
	/* Release the stream (and its lower stream, which it owns). */
	void	(*close)(struct stream *);
};

struct stream {
	const struct stream_ops *ops;
	struct stream	*lower;		/* the layer below, or NULL */
	void		*ctx;		/* the implementation's own state */
	int		 rfd;		/* fd streams: read side */
	int		 wfd;		/* fd streams: write side */
	bool		 own_fds;	/* close rfd/wfd on close */
	bool		 nonblocking;	/* I/O may be tried without polling */
	bool		 is_socket;	/* wfd is a socket (shutdown applies) */
	bool		 eof_unclean;	/* EOF came without close_notify */
	bool		 w_nowait;	/* fd stream: try RWF_NOWAIT writes */
	bool		 w_pipe;	/* fd stream: wfd is a pipe or FIFO */
	int		 sys_errno;	/* errno of the last IO_ERROR, or 0 */
	struct error	 err;		/* why the last IO_ERROR happened */
};

/*
 * An fd stream reads rfd and writes wfd; they may be one socket, or two
 * descriptors such as stdin/stdout or a child's pipes.  own_fds closes them
 * with the stream.  Sockets are switched to non-blocking mode; other
 * descriptors are left as they are, since they may be shared with other
 * processes, and are only used once poll says they are ready.
 */
struct stream	*stream_fd_new(int rfd, int wfd, bool own_fds);

static inline enum io
stream_handshake(struct stream *s)
{
	return s->ops->handshake != NULL ? s->ops->handshake(s) : IO_DONE;
}

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

static inline enum io
stream_shutdown_write(struct stream *s)
{
	return s->ops->shutdown_write(s);
}

static inline size_t
stream_pending(const struct stream *s)
{
	return s->ops->pending != NULL ? s->ops->pending(s) : 0;
}

static inline int
stream_want_fd(const struct stream *s, enum io want, short *events)
{
	return s->ops->want_fd(s, want, events);
}

void	stream_close(struct stream *);

/* Helpers for implementations. */
enum io	stream_fail(struct stream *, enum status, int errnum, const char *,
	    ...) __attribute__((format(printf, 4, 5)));
int	stream_default_want_fd(const struct stream *, enum io, short *);

#endif
