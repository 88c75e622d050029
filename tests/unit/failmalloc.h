/*
 * Allocation failure for unit tests, through the linker's --wrap of malloc:
 * a test program linked with tests/unit/failmalloc.c and
 * -Wl,--wrap=malloc (Makefile.am) has every malloc made by its own objects
 * return NULL while malloc_fails is set.  Libraries keep the real malloc.
 */
#ifndef TLSNC_FAILMALLOC_H
#define TLSNC_FAILMALLOC_H

#include <stdbool.h>
#include <stddef.h>

extern bool	malloc_fails;

void	*__real_malloc(size_t);
void	*__wrap_malloc(size_t);

#endif
