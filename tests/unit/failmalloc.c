/* See failmalloc.h. */
#include "config.h"

#include "failmalloc.h"

bool malloc_fails;

void *
__wrap_malloc(size_t n)
{
	return malloc_fails ? NULL : __real_malloc(n);
}
