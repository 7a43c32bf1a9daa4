/*
 * alloc_api.h: the one switch between allocators.  Compiled with -DBENCH_GORT
 * the workloads call gort_*; without it they call malloc/free, and which
 * malloc that is (glibc, jemalloc, tcmalloc, mimalloc) is decided at link time.
 */
#ifndef BENCH_ALLOC_API_H
#define BENCH_ALLOC_API_H

#include <stdlib.h>

#include "common.h"

#ifdef BENCH_GORT
#include "gort.h"
#define B_MALLOC(n)     gort_malloc(n)
#define B_FREE(p)       gort_free(p)
#define B_REALLOC(p, n) gort_realloc((p), (n))
#define B_NAME          "gort"
#else
#define B_MALLOC(n)     malloc(n)
#define B_FREE(p)       free(p)
#define B_REALLOC(p, n) realloc((p), (n))
#define B_NAME          bench_alloc_name()

#endif

#endif
