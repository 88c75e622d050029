/* Chat framing: lines, the prefix and the escaping (chat.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chat.h"

/* Feed in as the broker does and return every formatted line, joined. */
static char *
frame_all(unsigned long user, const char *in, size_t len, size_t step,
    size_t *outlen)
{
	struct chat_line *l = calloc(1, sizeof(*l));
	char *out = malloc(4 * len + 33 * (len + 1) + 1);
	size_t n = 0, k, chunk;
	bool done;

	assert_non_null(l);
	assert_non_null(out);
	while (len > 0) {
		chunk = len < step ? len : step;
		len -= chunk;
		while (chunk > 0) {
			k = chat_line_take(l, in, chunk, &done);
			in += k;
			chunk -= k;
			if (done) {
				n += chat_format(user, l->buf, l->len,
				    out + n);
				l->len = 0;
			}
		}
	}
	out[n] = '\0';
	*outlen = n;
	free(l);
	return out;
}

struct escape_case {
	const char	*in;
	size_t		 len;
	const char	*want;
};

static void
test_escaping(void **state)
{
	static const struct escape_case cases[] = {
		{ "hello world", 11, "<user3> hello world\n" },
		{ "", 0, "<user3> \n" },
		{ "tab\there\r", 9, "<user3> tab\there\r\n" },
		{ "\033[2J", 4, "<user3> \\033[2J\n" },
		{ "a\0b", 3, "<user3> a\\000b\n" },
		{ "\x7f\x01", 2, "<user3> \\177\\001\n" },
		{ "caf\xc3\xa9", 5, "<user3> caf\\303\\251\n" },
		{ "\\n", 2, "<user3> \\n\n" },
	};
	char out[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'X', sizeof(out));
		n = chat_format(3, cases[i].in, cases[i].len, out);
		assert_true(n <= chat_format_max(cases[i].len));
		out[n] = '\0';
		assert_string_equal(out, cases[i].want);
	}
}

static void
test_prefix_numbers(void **state)
{
	char out[64];
	size_t n;

	(void)state;
	n = chat_format(0, "x", 1, out);
	out[n] = '\0';
	assert_string_equal(out, "<user0> x\n");
	n = chat_format(4294967295UL, "", 0, out);
	out[n] = '\0';
	assert_string_equal(out, "<user4294967295> \n");
}

/* Lines come whole however the bytes are cut. */
static void
test_lines_any_cut(void **state)
{
	static const char in[] = "one\ntwo two\n\nthree";
	static const char want[] =
	    "<user1> one\n<user1> two two\n<user1> \n";
	size_t step, n;
	char *out;

	(void)state;
	for (step = 1; step <= sizeof(in); step++) {
		out = frame_all(1, in, sizeof(in) - 1, step, &n);
		/* "three" has no newline yet: it waits. */
		assert_string_equal(out, want);
		free(out);
	}
}

/* A line longer than CHAT_LINE_MAX is cut; nothing is lost. */
static void
test_long_line(void **state)
{
	size_t len = 2 * CHAT_LINE_MAX + 10, n, i;
	char *in = malloc(len + 1), *out, *second, *third;

	(void)state;
	assert_non_null(in);
	for (i = 0; i < len; i++)
		in[i] = (char)('a' + i % 26);
	in[len] = '\n';
	out = frame_all(7, in, len + 1, 1000, &n);
	/* Three lines: MAX, MAX, then 10 bytes. */
	assert_int_equal(n, 3 * strlen("<user7> \n") + len);
	assert_memory_equal(out + 8, in, CHAT_LINE_MAX);
	assert_int_equal(out[8 + CHAT_LINE_MAX], '\n');
	second = out + 8 + CHAT_LINE_MAX + 1;
	assert_memory_equal(second, "<user7> ", 8);
	assert_memory_equal(second + 8, in + CHAT_LINE_MAX, CHAT_LINE_MAX);
	third = second + 8 + CHAT_LINE_MAX + 1;
	assert_memory_equal(third, "<user7> ", 8);
	assert_memory_equal(third + 8, in + 2 * CHAT_LINE_MAX, 10);
	assert_int_equal(third[18], '\n');
	free(out);
	free(in);
}

/* Exactly CHAT_LINE_MAX bytes and a newline: one line, no empty one. */
static void
test_full_line_then_newline(void **state)
{
	char *in = malloc(CHAT_LINE_MAX + 1), *out;
	size_t n, step;

	(void)state;
	assert_non_null(in);
	memset(in, 'z', CHAT_LINE_MAX);
	in[CHAT_LINE_MAX] = '\n';
	for (step = CHAT_LINE_MAX - 1; step <= CHAT_LINE_MAX + 1; step++) {
		out = frame_all(2, in, CHAT_LINE_MAX + 1, step, &n);
		assert_int_equal(n, strlen("<user2> \n") + CHAT_LINE_MAX);
		free(out);
	}
	free(in);
}

/* take() stops after the newline: the rest stays for the next line. */
static void
test_take_counts(void **state)
{
	struct chat_line l;
	bool done;

	(void)state;
	l.len = 0;
	assert_int_equal(chat_line_take(&l, "ab\ncd", 5, &done), 3);
	assert_true(done);
	assert_int_equal(l.len, 2);
	assert_memory_equal(l.buf, "ab", 2);
	l.len = 0;
	assert_int_equal(chat_line_take(&l, "cd", 2, &done), 2);
	assert_false(done);
	assert_int_equal(l.len, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_prefix_numbers),
		cmocka_unit_test(test_lines_any_cut),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_full_line_then_newline),
		cmocka_unit_test(test_take_counts),
	};

	return cmocka_run_group_tests_name("chat", tests, NULL, NULL);
}
