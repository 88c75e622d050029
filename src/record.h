/*
 * Recording a session: -o writes the bytes of both directions as they
 * pass, -x a hex dump of them.  The bytes are those of the connection:
 * what was sent to the peer (after -C, with -t's answers) and what came
 * from it (before -t takes the Telnet commands out).
 *
 * The hex dump has one line per 16 bytes of one read or write:
 *
 *   > 00000000  68 65 6c 6c 6f 0a                                 |hello.|
 *
 * the direction ('>' sent, '<' received), a space, the offset of the
 * line's first byte in that direction's stream (8 or more hex digits), two
 * spaces, the bytes in hex, each followed by a space, with one more space
 * after the eighth and the sixteenth (a short line is padded to the full
 * width), then the bytes as ASCII between '|', with '.' for what is not
 * printable.  That is hexdump -C's line, after the direction.
 *
 * The writers buffer (RECORD_BUF bytes per file) and write when the buffer
 * fills and at the end, so a session pays for little more than the copy.
 * A failed write stops that file's recording; recorder_close() says so.
 */
#ifndef TLSNC_RECORD_H
#define TLSNC_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define RECORD_BUF	(64 * 1024)
/* The longest hex dump line, with its newline. */
#define HEX_LINE_MAX	(2 + 16 + 2 + 16 * 3 + 2 + 1 + 16 + 1 + 1)

enum record_dir {
	RECORD_SENT = '>',
	RECORD_RECEIVED = '<',
};

struct recorder;

/*
 * Open the files (either path may be NULL): truncated, or appended to
 * with append.  Returns NULL with e filled in (status 2, naming the
 * option and the file).
 */
struct recorder	*recorder_open(const char *raw_path, const char *hex_path,
		    bool append, struct error *);
/* n bytes that went in direction dir, at offset in that direction. */
void		 recorder_add(struct recorder *, enum record_dir,
		    uint64_t offset, const void *, size_t n);
/*
 * Write what is buffered and close.  Returns 0, or -1 with e filled in
 * when some of the recording was lost.
 */
int		 recorder_close(struct recorder *, struct error *);

/*
 * One hex dump line of n (1 to 16) bytes into out (HEX_LINE_MAX bytes),
 * newline included.  Returns its length.
 */
size_t		 hex_line(enum record_dir, uint64_t offset, const void *,
		    size_t n, char *out);

#endif
