/*
 * Unit tests for the hub (src/hub.c): standard input that cannot get a
 * chunk to read into.  The rest of the hub is driven by the -k tests
 * (tests/integration/keepopen.sh and broker.sh).
 *
 * malloc is wrapped (failmalloc.h) so that a test can make every
 * allocation fail from a chosen moment on.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failmalloc.h"
#include "hub.h"
#include "loop.h"
#include "status.h"
#include "stream.h"

struct seen {
	int		calls;
	struct error	err;
};

static void
on_input_error(const struct error *e, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->err = *e;
}

/*
 * Input is readable but no chunk can be had: the read fails, naming the
 * cause, and input ends there, rather than the hub returning to a loop
 * that wakes it for the same readable input for ever.
 */
static void
no_memory_ends_input(void **state)
{
	int in[2], out[2], turns;
	struct seen seen = { 0 };
	struct hub_opts o = { .on_input_error = on_input_error, .arg = &seen };
	struct stream *port;
	struct error e;
	struct loop *l;
	struct hub *h;

	(void)state;
	assert_int_equal(pipe2(in, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_NONBLOCK | O_CLOEXEC), 0);
	assert_non_null(l = loop_new(&e));
	h = hub_new(l, stream_fd_new(in[0], -1, 0),
	    stream_fd_new(-1, out[1], 0), &o, &e);
	assert_non_null(h);
	assert_non_null(port = hub_port_new(h, NULL, 0));
	assert_int_equal(write(in[1], "hello", 5), 5);

	malloc_fails = true;
	for (turns = 0; turns < 3 && seen.calls == 0; turns++)
		assert_int_equal(loop_once(l, &e), 0);
	malloc_fails = false;

	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.err.status, ST_RUNTIME);
	assert_non_null(strstr(seen.err.msg, "no memory for a buffer"));

	stream_close(port);
	hub_free(h);
	loop_free(l);
	close(in[1]);
	close(out[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_memory_ends_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
