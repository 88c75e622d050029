/*
 * Table-driven cmocka drivers: each row of a table of cases becomes a
 * named test of its own, run with the driver's setup() and teardown() and
 * the row as its state parameter.  A row's first member is its name.
 */
#ifndef TLSNC_TEST_CASES_H
#define TLSNC_TEST_CASES_H

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define CASE(f)		cmocka_unit_test_setup_teardown(f, setup, teardown)

/* Append one test per row of table t, each running fn, to tests[n++]. */
#define ADD_TABLE(t, fn) do {						\
	size_t i_;							\
	for (i_ = 0; i_ < NELEM(t); i_++)				\
		tests[n++] = (struct CMUnitTest){ (t)[i_].name, (fn),	\
		    setup, teardown, (void *)&(t)[i_] };		\
} while (0)

#endif
