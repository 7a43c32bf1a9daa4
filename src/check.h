/*
 * check.h: fatal errors and graduated assertions.
 *
 * gort_throw() is always compiled in: it reports corruption or misuse in Go's
 * "fatal error: ..." form on stderr, never allocates, and exits with status 2
 * as Go does.  GORT_ASSERT(level, cond) checks are always compiled (so they
 * cannot rot) and optimised away unless GORT_CHECK_LEVEL >= level:
 *   1  cheap invariant checks on slow paths (the "check" build)
 *   2  checks on hot paths
 *   3  whole-structure walkers (*_check())
 */
#ifndef GORT_CHECK_H
#define GORT_CHECK_H

#include "rt.h"

#ifndef GORT_CHECK_LEVEL
#define GORT_CHECK_LEVEL 0
#endif

/* Prints "fatal error: <msg>" and exits(2).  Never returns. */
GORT_HIDDEN __attribute__((noreturn, cold)) void gort_throw(const char *msg);
/* Same, with " 0x<addr>" appended: the form used for bad pointers. */
GORT_HIDDEN __attribute__((noreturn, cold)) void gort_throw_addr(const char *msg, uintptr_t addr);

#define GORT_ASSERT(level, cond)                                                   \
	do {                                                                       \
		if (GORT_CHECK_LEVEL >= (level) && unlikely(!(cond)))              \
			gort_throw("assertion failed: " #cond " at " __FILE__ ":" \
				   GORT_STR(__LINE__));                            \
	} while (0)
#define GORT_STR(x) GORT_STR_(x)
#define GORT_STR_(x) #x

/* Allocation-free printing to stderr (print.c). */
GORT_HIDDEN void print_str(const char *s);
GORT_HIDDEN void print_uint(uint64_t v);
GORT_HIDDEN void print_hex(uint64_t v);
GORT_HIDDEN void print_flush(void);

#endif
