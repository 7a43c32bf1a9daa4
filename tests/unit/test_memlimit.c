/*
 * test_memlimit.c: the memory limit (GORTMEMLIMIT, gort_set_memory_limit)
 * as the scavenger and the page heap obey it.
 *
 * - GORTMEMLIMIT is read with the heap, so a program that only mallocs
 *   has its limit (the test runs itself again with the variable set).
 * - Under the limit, an allocation that takes the heap's ready memory
 *   (pages in use, free pages not released, metadata) over it releases
 *   free pages first (Go's allocation-time scavenging): a heap left with
 *   5 MiB of 256 KiB holes that then takes 10 MiB of 1 MiB blocks stays
 *   within the limit, where without one it keeps the holes.
 * - The background scavenger's goal under a limit keeps everything ready
 *   under 95% of it, below the usual 10% of the heap in use.
 * - A limit far above the heap releases nothing: a collection that
 *   frees several MiB leaves their pages free for reuse (the enforcement once
 *   subtracted released pages twice, wrapped around, and released every
 *   free page after every collection).
 * The background scavenger is off (GORTDEBUG=scavenger=0), so that only
 * the limit releases memory.
 */
#include "gort.h"
#include "mgc.h"
#include "scavenge.h"
#include "testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#define MIB ((size_t)1 << 20)

static uint64_t ready_bytes(void)
{
	gort_memstats m;
	gort_read_memstats(&m);
	return m.heap_inuse + m.heap_idle - m.heap_released + m.other_sys;
}

/* 5 MiB of 256 KiB holes between live blocks, then 10 MiB of 1 MiB
 * blocks, which cannot use the holes.  Returns the ready bytes at the
 * end; frees everything after. */
static uint64_t holes_then_big(void)
{
	enum { NA = 40, NB = 10 };
	void *a[NA], *b[NB];
	for (int i = 0; i < NA; i++) {
		a[i] = gort_malloc(MIB / 4);
		memset(a[i], 1, MIB / 4);
	}
	for (int i = 1; i < NA; i += 2)
		gort_free(a[i]);
	for (int i = 0; i < NB; i++) {
		b[i] = gort_malloc(MIB);
		memset(b[i], 2, MIB);
	}
	uint64_t ready = ready_bytes();
	for (int i = 0; i < NA; i += 2)
		gort_free(a[i]);
	for (int i = 0; i < NB; i++)
		gort_free(b[i]);
	gort_free_os_memory();
	return ready;
}

/* Before any call that could start the collected heap (which reads the
 * knobs too), the malloc face alone obeys GORTMEMLIMIT. */
static void test_env_limit(void)
{
	uint64_t ready = holes_then_big();
	CHECKF(ready <= 18 * MIB + MIB / 4, "under GORTMEMLIMIT=18MiB: %.1f MiB ready", (double)ready / MIB);
	int64_t lim = gort_set_memory_limit(-1);
	CHECKF(lim == 18 << 20, "GORTMEMLIMIT=18MiB read as %lld", (long long)lim);
}

static void test_manual_heap_under_limit(void)
{
	int64_t lim = gort_set_memory_limit(INT64_MAX);
	uint64_t without = holes_then_big();
	CHECKF(without > (uint64_t)lim, "without a limit the heap keeps its holes: %.1f MiB ready, want > %.1f",
	       (double)without / MIB, (double)lim / MIB);
	gort_set_memory_limit(lim);
	uint64_t with = holes_then_big();
	CHECKF(with <= (uint64_t)lim + MIB / 4, "under an %.0f MiB limit: %.1f MiB ready", (double)lim / MIB,
	       (double)with / MIB);
}

static void test_scavenger_goal(void)
{
	int64_t old = gort_set_memory_limit(INT64_MAX);
	uintptr_t inuse = 16 * MIB;
	uintptr_t without = scavenge_goal_idle_bytes(inuse);
	gort_set_memory_limit(18 << 20);
	uintptr_t with = scavenge_goal_idle_bytes(inuse);
	uint64_t room = (uint64_t)(18 << 20) / 100 * 95, used = inuse + pacer_runtime_overhead();
	uint64_t want = room > used ? room - used : 0;
	CHECKF(without >= inuse / 10, "no limit: %zu KiB of free pages kept, want 10%% of 16 MiB", (size_t)without >> 10);
	CHECKF(with <= want + 8192 && with < without,
	       "an 18 MiB limit: %zu KiB of free pages kept, want at most %llu KiB (95%% of it less the heap in use)",
	       (size_t)with >> 10, (unsigned long long)want >> 10);
	gort_set_memory_limit(old);
}

static void *keep;

static void test_high_limit_releases_nothing(void)
{
	int64_t old = gort_set_memory_limit((int64_t)1 << 30);
	for (int i = 0; i < 2048; i++) {
		void *p = gort_alloc(4096, GORT_NOSCAN);
		memset(p, 1, 4096);
		if (i == 0)
			keep = p;
	}
	gort_gc();
	gort_memstats m;
	gort_read_memstats(&m);
	uint64_t unreleased = m.heap_idle - m.heap_released;
	CHECKF(unreleased >= MIB, "a 1 GiB limit released the freed pages of a small heap: %.1f MiB left free",
	       (double)unreleased / MIB);
	gort_keep_alive(keep);
	gort_set_memory_limit(old);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (!getenv("GORTMEMLIMIT")) {
		/* The heap reads its knobs before main: set them and start again. */
		setenv("GORTMEMLIMIT", "18MiB", 1);
		setenv("GORTDEBUG", "scavenger=0", 1);
		execv("/proc/self/exe", argv);
		perror("execv");
		return 1;
	}
	RUN(test_env_limit);
	RUN(test_manual_heap_under_limit);
	RUN(test_scavenger_goal);
	RUN(test_high_limit_releases_nothing);
	TEST_EXIT();
}
