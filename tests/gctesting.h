/*
 * gctesting.h: helpers shared by the collector's tests.
 *
 * A test that wants an object to die must leave no copy of its address
 * where the collector looks: hide() keeps it in a form no conservative
 * scan takes for a pointer, and wipe_stack() clears the dead frames below
 * the caller.  reexec_with() sets a GORTDEBUG knob, which gort reads
 * before main, by running the program again.
 */
#ifndef GORT_GCTESTING_H
#define GORT_GCTESTING_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HIDE_KEY ((uintptr_t)0xa5a5a5a5a5a5a5a5ull)
#ifndef NOINLINE
#define NOINLINE __attribute__((noinline))
#endif
#define GCT_UNUSED __attribute__((unused))

static inline uintptr_t hide(const void *p)
{
	return (uintptr_t)p ^ HIDE_KEY;
}

static inline void *unhide(uintptr_t h)
{
	return (void *)(h ^ HIDE_KEY);
}

static GCT_UNUSED double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Overwrites the stack below the caller, where dead frames may still hold
 * copies of a target's address.  Not instrumented: under AddressSanitizer
 * the buffer would sit between redzones, and the words above it (where the
 * caller's next callee puts its frame) would not be cleared. */
__attribute__((no_sanitize("address"))) static GCT_UNUSED NOINLINE void wipe_stack(void)
{
	volatile uint64_t buf[6 << 10]; /* 48 KiB */
	for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++)
		buf[i] = 0;
	__asm__ volatile("" : : "r"(buf) : "memory");
}

/* Runs this program again with knob added to GORTDEBUG, unless it is
 * there already (then returns). */
static GCT_UNUSED void reexec_with(char **argv, const char *knob)
{
	const char *cur = getenv("GORTDEBUG");
	if (cur && strstr(cur, knob))
		return;
	char buf[512];
	snprintf(buf, sizeof buf, "%s%s%s", cur ? cur : "", cur && *cur ? "," : "", knob);
	setenv("GORTDEBUG", buf, 1);
	execv("/proc/self/exe", argv);
	perror("execv /proc/self/exe");
	exit(1);
}

#endif
