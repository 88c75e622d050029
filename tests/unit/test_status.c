/*
 * Unit tests for the order of the exit statuses (src/error.c:
 * status_worse), which a -z --ssl scan uses to pick its one status.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "status.h"

/* The documented order, best first (status.h, tlsnc(1) EXIT STATUS). */
static const enum status order[] = {
	ST_OK, ST_RUNTIME, ST_TIMEOUT, ST_TRUNCATED, ST_STARTTLS_NOT_OFFERED,
	ST_STARTTLS_REFUSED, ST_STARTTLS_BAD_REPLY, ST_HANDSHAKE, ST_VERIFY,
	ST_USAGE,
};
#define NORDER	(sizeof(order) / sizeof(order[0]))

/* Every pair, both ways round: the later one in the order wins. */
static void
test_every_pair(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < NORDER; i++)
		for (j = 0; j < NORDER; j++) {
			enum status want = order[i > j ? i : j];

			if (status_worse(order[i], order[j]) != want)
				fail_msg("status_worse(%d, %d) is %d, not %d",
				    order[i], order[j],
				    status_worse(order[i], order[j]), want);
		}
}

/* The cases a scan meets, spelt out. */
static void
test_scan_cases(void **state)
{
	(void)state;
	assert_int_equal(status_worse(ST_OK, ST_OK), ST_OK);
	assert_int_equal(status_worse(ST_VERIFY, ST_HANDSHAKE), ST_VERIFY);
	assert_int_equal(status_worse(ST_HANDSHAKE, ST_VERIFY), ST_VERIFY);
	assert_int_equal(status_worse(ST_TIMEOUT, ST_HANDSHAKE),
	    ST_HANDSHAKE);
	assert_int_equal(status_worse(ST_RUNTIME, ST_TIMEOUT), ST_TIMEOUT);
	assert_int_equal(status_worse(ST_OK, ST_RUNTIME), ST_RUNTIME);
}

/* A status outside the table (a signal's 128 + n) is worse than all. */
static void
test_unknown_is_worst(void **state)
{
	enum status odd = (enum status)130;
	size_t i;

	(void)state;
	for (i = 0; i < NORDER; i++) {
		assert_int_equal(status_worse(order[i], odd), odd);
		assert_int_equal(status_worse(odd, order[i]), odd);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_pair),
		cmocka_unit_test(test_scan_cases),
		cmocka_unit_test(test_unknown_is_worst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
