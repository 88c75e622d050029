/*
 * Unit tests for the data options' pure parts: the -C and -t transforms
 * (src/transform.c) and the -o/-x recorder (src/record.c).
 *
 * Every transform case runs three ways: in one read, cut in two at every
 * possible place, and one byte per read.  The state carried across reads
 * must make all three give the same bytes.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cases.h"
#include "record.h"
#include "transform.h"

/* A byte string with its length: it may hold NULs. */
#define B(s)	{ s, sizeof(s) - 1 }

struct bytes {
	const char	*p;
	size_t		 len;
};

#define BIG	4096

static int
setup(void **state)
{
	(void)state;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return 0;
}

static void
assert_bytes(const struct bytes *want, const unsigned char *got, size_t len,
    const char *what, size_t cut)
{
	if (len == want->len && memcmp(got, want->p, len) == 0)
		return;
	fail_msg("%s (cut at %zu): %zu bytes, want %zu", what, cut, len,
	    want->len);
}

/* --- -C */

struct crlf_case {
	const char	*name;
	struct bytes	 in;
	struct bytes	 out;
};

static const struct crlf_case crlf_cases[] = {
	{ "crlf: empty", B(""), B("") },
	{ "crlf: no newline", B("abc"), B("abc") },
	{ "crlf: LF becomes CRLF", B("a\nb\n"), B("a\r\nb\r\n") },
	{ "crlf: CRLF stays", B("a\r\nb\r\n"), B("a\r\nb\r\n") },
	{ "crlf: a lone CR stays", B("a\rb"), B("a\rb") },
	{ "crlf: LF LF", B("\n\n"), B("\r\n\r\n") },
	{ "crlf: CR CR LF", B("\r\r\n"), B("\r\r\n") },
	{ "crlf: LF CR LF", B("\n\r\n"), B("\r\n\r\n") },
	{ "crlf: NUL bytes pass", B("\0\n\0"), B("\0\r\n\0") },
};

/* Run in through crlf_convert, cut into reads at cut (0: none) or of
 * one byte each (cut == SIZE_MAX). */
static size_t
crlf_run(const struct bytes *in, size_t cut, unsigned char *out)
{
	struct crlf_state st = { false };
	size_t i, k = 0, step;

	for (i = 0; i < in->len; i += step) {
		step = cut == SIZE_MAX ? 1 : cut == 0 || i >= cut ?
		    in->len - i : cut - i;
		k += crlf_convert(&st, in->p + i, step, out + k);
	}
	return k;
}

static void
crlf_table(void **state)
{
	const struct crlf_case *c = *state;
	unsigned char out[BIG];
	size_t cut, n;

	n = crlf_run(&c->in, 0, out);
	assert_bytes(&c->out, out, n, "one read", 0);
	for (cut = 1; cut < c->in.len; cut++) {
		n = crlf_run(&c->in, cut, out);
		assert_bytes(&c->out, out, n, "two reads", cut);
	}
	n = crlf_run(&c->in, SIZE_MAX, out);
	assert_bytes(&c->out, out, n, "one byte per read", 1);
}

/* The worst case doubles, and no more. */
static void
crlf_all_newlines(void **state)
{
	static unsigned char in[1000], out[1000 * CRLF_GROW];
	struct crlf_state st = { false };
	size_t i;

	(void)state;
	memset(in, '\n', sizeof(in));
	assert_int_equal(crlf_convert(&st, in, sizeof(in), out), sizeof(out));
	for (i = 0; i < sizeof(out); i += 2) {
		assert_int_equal(out[i], '\r');
		assert_int_equal(out[i + 1], '\n');
	}
}

/* --- -t */

struct telnet_case {
	const char	*name;
	struct bytes	 in;
	struct bytes	 out;
	struct bytes	 reply;
};

static const struct telnet_case telnet_cases[] = {
	{ "telnet: plain data", B("hello\r\n"), B("hello\r\n"), B("") },
	{ "telnet: DO is refused with WONT",
	  B("\xff\xfd\x01"), B(""), B("\xff\xfc\x01") },
	{ "telnet: WILL is refused with DONT",
	  B("\xff\xfb\x03"), B(""), B("\xff\xfe\x03") },
	{ "telnet: DONT is answered WONT, as Ncat does",
	  B("\xff\xfe\x05"), B(""), B("\xff\xfc\x05") },
	{ "telnet: WONT is answered DONT, as Ncat does",
	  B("\xff\xfc\x06"), B(""), B("\xff\xfe\x06") },
	{ "telnet: option 0 and option 255",
	  B("\xff\xfd\x00\xff\xfb\xff"), B(""),
	  B("\xff\xfc\x00\xff\xfe\xff") },
	{ "telnet: IAC IAC is a data byte 255",
	  B("a\xff\xff" "b"), B("a\xff" "b"), B("") },
	{ "telnet: subnegotiation is stripped",
	  B("x\xff\xfa\x18\x01\xff\xf0y"), B("xy"), B("") },
	{ "telnet: IAC IAC inside a subnegotiation",
	  B("\xff\xfa\x18\xff\xff\x01\xff\xf0z"), B("z"), B("") },
	{ "telnet: a bare SE does not end a subnegotiation",
	  B("\xff\xfa\x18\xf0\xff\xf0q"), B("q"), B("") },
	{ "telnet: two-byte commands vanish",
	  B("a\xff\xf1" "b\xff\xf9" "c\xff\xf4"), B("abc"), B("") },
	{ "telnet: a stray IAC goes, its byte stays",
	  B("\xff" "A"), B("A"), B("") },
	{ "telnet: a server's greeting",
	  B("\xff\xfd\x18\xff\xfd\x20\xff\xfb\x01login: "), B("login: "),
	  B("\xff\xfc\x18\xff\xfc\x20\xff\xfe\x01") },
	{ "telnet: requests between data",
	  B("one\xff\xfd\x1ftwo\xff\xfb\x03three"), B("onetwothree"),
	  B("\xff\xfc\x1f\xff\xfe\x03") },
};

static void
telnet_run(const struct bytes *in, size_t cut, unsigned char *out,
    size_t *nout, unsigned char *reply, size_t *nreply)
{
	struct telnet_state st = { TELNET_DATA, 0 };
	size_t i, step, nr;

	*nout = *nreply = 0;
	for (i = 0; i < in->len; i += step) {
		step = cut == SIZE_MAX ? 1 : cut == 0 || i >= cut ?
		    in->len - i : cut - i;
		*nout += telnet_filter(&st, in->p + i, step, out + *nout,
		    reply + *nreply, &nr);
		assert_true(nr <= step * TELNET_REPLY_GROW);
		*nreply += nr;
	}
	assert_true(*nout <= in->len);
}

static void
telnet_table(void **state)
{
	const struct telnet_case *c = *state;
	unsigned char out[BIG], reply[BIG];
	size_t cut, n, nr;

	telnet_run(&c->in, 0, out, &n, reply, &nr);
	assert_bytes(&c->out, out, n, "data, one read", 0);
	assert_bytes(&c->reply, reply, nr, "answers, one read", 0);
	for (cut = 1; cut < c->in.len; cut++) {
		telnet_run(&c->in, cut, out, &n, reply, &nr);
		assert_bytes(&c->out, out, n, "data, two reads", cut);
		assert_bytes(&c->reply, reply, nr, "answers, two reads", cut);
	}
	telnet_run(&c->in, SIZE_MAX, out, &n, reply, &nr);
	assert_bytes(&c->out, out, n, "data, one byte per read", 1);
	assert_bytes(&c->reply, reply, nr, "answers, one byte per read", 1);
}

/* --- -x lines */

struct hex_case {
	const char	*name;
	enum record_dir	 dir;
	uint64_t	 offset;
	struct bytes	 in;
	const char	*line;
};

static const struct hex_case hex_cases[] = {
	{ "hex: a short line is padded", RECORD_SENT, 0, B("hello\n"),
	  "> 00000000  68 65 6c 6c 6f 0a                                 "
	  "|hello.|\n" },
	{ "hex: a full line", RECORD_RECEIVED, 0x10,
	  B("0123456789abcdef"),
	  "< 00000010  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  "
	  "|0123456789abcdef|\n" },
	{ "hex: eight bytes", RECORD_SENT, 3, B("\x00\x01\x7f\x80\xff ~\t"),
	  "> 00000003  00 01 7f 80 ff 20 7e 09                           "
	  "|..... ~.|\n" },
	{ "hex: nine bytes", RECORD_RECEIVED, 0, B("ABCDEFGHI"),
	  "< 00000000  41 42 43 44 45 46 47 48  49                       "
	  "|ABCDEFGHI|\n" },
	{ "hex: an offset past 4 GiB", RECORD_SENT, 0x123456789ULL, B("z"),
	  "> 123456789  7a                                                "
	  "|z|\n" },
};

static void
hex_table(void **state)
{
	const struct hex_case *c = *state;
	char line[HEX_LINE_MAX];
	size_t n = hex_line(c->dir, c->offset, c->in.p, c->in.len, line);

	assert_true(n <= HEX_LINE_MAX);
	line[n < HEX_LINE_MAX ? n : HEX_LINE_MAX - 1] = '\0';
	assert_string_equal(line, c->line);
	assert_int_equal(n, strlen(c->line));
}

/* --- The recorder */

static char *
slurp(const char *path, size_t *len)
{
	static char buf[RECORD_BUF * 4];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_true(n >= 0);
	*len = (size_t)n;
	return buf;
}

/* Both files, then both again with --append-output. */
static void
recorder_writes_and_appends(void **state)
{
	char dir[] = "/tmp/tlsnc-rec.XXXXXX", raw[64], hex[64];
	struct recorder *r;
	struct error e;
	const char *want_hex =
	    "> 00000000  61 62 0a                                          "
	    "|ab.|\n"
	    "< 00000000  63                                                "
	    "|c|\n";
	size_t len;
	char *got;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(raw, sizeof(raw), "%s/raw", dir);
	snprintf(hex, sizeof(hex), "%s/hex", dir);
	for (i = 0; i < 2; i++) {
		r = recorder_open(raw, hex, i == 1, &e);
		assert_non_null(r);
		recorder_add(r, RECORD_SENT, 0, "ab\n", 3);
		recorder_add(r, RECORD_RECEIVED, 0, "c", 1);
		assert_int_equal(recorder_close(r, &e), 0);
	}
	got = slurp(raw, &len);
	assert_int_equal(len, 8);
	assert_memory_equal(got, "ab\ncab\nc", 8);
	got = slurp(hex, &len);
	assert_int_equal(len, 2 * strlen(want_hex));
	assert_memory_equal(got, want_hex, strlen(want_hex));
	assert_memory_equal(got + strlen(want_hex), want_hex,
	    strlen(want_hex));
	/* Without append, the file starts again. */
	r = recorder_open(raw, NULL, false, &e);
	assert_non_null(r);
	recorder_add(r, RECORD_SENT, 0, "x", 1);
	assert_int_equal(recorder_close(r, &e), 0);
	got = slurp(raw, &len);
	assert_int_equal(len, 1);
	unlink(raw);
	unlink(hex);
	rmdir(dir);
}

/* More than the buffer holds arrives whole and in order. */
static void
recorder_flushes_when_full(void **state)
{
	char path[] = "/tmp/tlsnc-rec.XXXXXX";
	static char data[RECORD_BUF * 2 + 100];
	struct recorder *r;
	struct error e;
	size_t i, len;
	char *got;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + (i >> 9));
	r = recorder_open(path, NULL, false, &e);
	assert_non_null(r);
	for (i = 0; i < sizeof(data); i += 1000)
		recorder_add(r, RECORD_SENT, i, data + i,
		    sizeof(data) - i < 1000 ? sizeof(data) - i : 1000);
	assert_int_equal(recorder_close(r, &e), 0);
	got = slurp(path, &len);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(got, data, sizeof(data));
	unlink(path);
}

static void
recorder_open_fails(void **state)
{
	struct error e;

	(void)state;
	memset(e.msg, 'X', sizeof(e.msg));
	assert_null(recorder_open(NULL, "/nonexistent/dir/dump", false, &e));
	assert_int_equal(e.status, ST_USAGE);
	assert_string_equal(e.msg, "-x: cannot open '/nonexistent/dir/dump': "
	    "No such file or directory");
}

/* A write that fails is not a silent success. */
static void
recorder_write_fails(void **state)
{
	static char data[RECORD_BUF + 1];
	struct recorder *r;
	struct error e;

	(void)state;
	if (access("/dev/full", W_OK) != 0)
		skip();
	memset(e.msg, 'X', sizeof(e.msg));
	r = recorder_open("/dev/full", NULL, false, &e);
	assert_non_null(r);
	recorder_add(r, RECORD_SENT, 0, data, sizeof(data));
	assert_int_equal(recorder_close(r, &e), -1);
	assert_int_equal(e.status, ST_RUNTIME);
	assert_string_equal(e.msg, "-o: writing '/dev/full' failed, and the "
	    "recording is incomplete: No space left on device");
}

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		CASE(crlf_all_newlines),
		CASE(recorder_writes_and_appends),
		CASE(recorder_flushes_when_full),
		CASE(recorder_open_fails),
		CASE(recorder_write_fails),
	};
	struct CMUnitTest tests[NELEM(fixed) + NELEM(crlf_cases) +
	    NELEM(telnet_cases) + NELEM(hex_cases)];
	size_t n = 0, i;

	for (i = 0; i < NELEM(fixed); i++)
		tests[n++] = fixed[i];
	ADD_TABLE(crlf_cases, crlf_table);
	ADD_TABLE(telnet_cases, telnet_table);
	ADD_TABLE(hex_cases, hex_table);
	return _cmocka_run_group_tests("transform", tests, n, NULL, NULL);
}
