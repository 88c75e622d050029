/* -o and -x: a copy of the session in a file, raw or as a hex dump. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

/* One file and its buffer. */
struct rec_file {
	int		 fd;		/* -1: not recording */
	const char	*path;
	const char	*opt;		/* "-o" or "-x" */
	char		*buf;
	size_t		 len;
	int		 err;		/* errno of the first failed write */
};

struct recorder {
	struct rec_file	 raw;
	struct rec_file	 hex;
};

static const char hexdigit[] = "0123456789abcdef";

size_t
hex_line(enum record_dir dir, uint64_t offset, const void *p, size_t n,
    char *out)
{
	const unsigned char *b = p;
	size_t i, k, digits = 8;

	/* By hand: snprintf would cost more than the rest of the line. */
	while (digits < 16 && (offset >> (4 * digits)) != 0)
		digits++;
	out[0] = (char)dir;
	out[1] = ' ';
	for (i = 0; i < digits; i++)
		out[2 + i] = hexdigit[(offset >> (4 * (digits - 1 - i))) & 0xf];
	k = 2 + digits;
	out[k++] = ' ';
	out[k++] = ' ';
	for (i = 0; i < 16; i++) {
		if (i < n) {
			out[k++] = hexdigit[b[i] >> 4];
			out[k++] = hexdigit[b[i] & 0xf];
		} else {
			out[k++] = ' ';
			out[k++] = ' ';
		}
		out[k++] = ' ';
		if (i == 7 || i == 15)
			out[k++] = ' ';
	}
	out[k++] = '|';
	for (i = 0; i < n; i++)
		out[k++] = b[i] >= ' ' && b[i] < 0x7f ? (char)b[i] : '.';
	out[k++] = '|';
	out[k++] = '\n';
	return k;
}

/* Write n bytes straight out; the first failure ends the recording. */
static void
rec_write(struct rec_file *f, const char *p, size_t n)
{
	ssize_t w;

	while (f->fd >= 0 && n > 0) {
		w = write(f->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			f->err = w < 0 ? errno : EIO;
			close(f->fd);
			f->fd = -1;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Write out what is buffered. */
static void
rec_flush(struct rec_file *f)
{
	rec_write(f, f->buf, f->len);
	f->len = 0;
}

/*
 * Append n bytes, writing the buffer out when they do not fit.  A block
 * as large as the buffer goes straight out, uncopied.
 */
static void
rec_put(struct rec_file *f, const void *p, size_t n)
{
	const char *s = p;
	size_t k;

	if (n >= RECORD_BUF) {
		rec_flush(f);
		rec_write(f, s, n);
		return;
	}
	while (f->fd >= 0 && n > 0) {
		if (f->len == RECORD_BUF)
			rec_flush(f);
		k = RECORD_BUF - f->len;
		if (k > n)
			k = n;
		memcpy(f->buf + f->len, s, k);
		f->len += k;
		s += k;
		n -= k;
	}
}

static int
rec_open(struct rec_file *f, const char *opt, const char *path, bool append,
    struct error *e)
{
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC |
	    (append ? O_APPEND : O_TRUNC);

	f->fd = -1;
	f->opt = opt;
	f->path = path;
	if (path == NULL)
		return 0;
	if ((f->buf = malloc(RECORD_BUF)) == NULL)
		return err_set(e, ST_RUNTIME, "out of memory"), -1;
	if ((f->fd = open(path, flags, 0666)) == -1)
		return err_errno(e, ST_USAGE, errno, "%s: cannot open '%s'",
		    opt, path), -1;
	return 0;
}

static void
rec_close(struct rec_file *f)
{
	rec_flush(f);
	if (f->fd >= 0 && close(f->fd) == -1 && f->err == 0)
		f->err = errno;
	f->fd = -1;
	free(f->buf);
	f->buf = NULL;
}

struct recorder *
recorder_open(const char *raw_path, const char *hex_path, bool append,
    struct error *e)
{
	struct recorder *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		err_set(e, ST_RUNTIME, "out of memory");
		return NULL;
	}
	if (rec_open(&r->raw, "-o", raw_path, append, e) == -1 ||
	    rec_open(&r->hex, "-x", hex_path, append, e) == -1) {
		(void)recorder_close(r, NULL);
		return NULL;
	}
	return r;
}

void
recorder_add(struct recorder *r, enum record_dir dir, uint64_t offset,
    const void *p, size_t n)
{
	const unsigned char *b = p;
	char line[HEX_LINE_MAX];
	size_t i, k;

	rec_put(&r->raw, p, n);
	for (i = 0; r->hex.fd >= 0 && i < n; i += k) {
		k = n - i < 16 ? n - i : 16;
		rec_put(&r->hex, line, hex_line(dir, offset + i, b + i, k,
		    line));
	}
}

int
recorder_close(struct recorder *r, struct error *e)
{
	const struct rec_file *bad = NULL;

	if (r == NULL)
		return 0;
	rec_close(&r->raw);
	rec_close(&r->hex);
	if (r->raw.err != 0)
		bad = &r->raw;
	else if (r->hex.err != 0)
		bad = &r->hex;
	if (bad != NULL && e != NULL)
		err_errno(e, ST_RUNTIME, bad->err, "%s: writing '%s' failed, "
		    "and the recording is incomplete", bad->opt, bad->path);
	free(r);
	return bad != NULL ? -1 : 0;
}
