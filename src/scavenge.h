/*
 * scavenge.h: returning free pages to the kernel (Go's mgcscavenge.go).
 */
#ifndef GORT_SCAVENGE_H
#define GORT_SCAVENGE_H

#include "rt.h"

/* Starts the background scavenger once (unless GORTDEBUG=scavenger=0). */
GORT_HIDDEN void scavenger_start(void);
/* Starts it if the heap has had work for it (scav_wanted).  Called where
 * the caller holds no lock and is not inside the collector: after a span
 * allocation, a large free, or a span given back by the free and refill
 * paths (pthread_create allocates, and gort may be malloc). */
GORT_HIDDEN void scavenger_kick(void);
/* Whether the thread has been started (for tests). */
GORT_HIDDEN bool scavenger_running(void);
/* A span of npages was listed on a central list (no lock held): counts
 * toward the SCAVENGE_START_BYTES that start the thread, and wakes the
 * parked scavenger once enough have been, so their empty spans are
 * reclaimed. */
GORT_HIDDEN void scavenger_note_push(uintptr_t npages);
/* A span of npages was taken off a central list to be cached again. */
GORT_HIDDEN void scavenger_note_take(uintptr_t npages);
/* Heap lock held: pages were freed; wakes the scavenger when the heap keeps
 * more free pages than its goal allows. */
GORT_HIDDEN void scavenger_note_free_locked(void);
/* Releases up to max_bytes of free pages (all with max_bytes = 0, ignoring
 * the goal when force).  Returns bytes released. */
GORT_HIDDEN uintptr_t scavenge(uintptr_t max_bytes, bool force);
/* Sweeps the central lists, returning empty spans to the page heap; with
 * only_if_new, only lists that received spans since the last pass. */
GORT_HIDDEN uintptr_t reclaim_central_spans(bool only_if_new);
/* Waits until the runs other threads took to release before this call are
 * back in the page heap (heap lock not held). */
GORT_HIDDEN void scavenge_wait_releases(void);
/* fork() (fork.c): reclaim_lock and start_lock are taken first, scav_lock
 * after the heap lock (it nests inside it). */
GORT_HIDDEN void scavenge_fork_lock(void);
GORT_HIDDEN void scavenge_fork_lock_leaf(void);
GORT_HIDDEN void scavenge_fork_unlock(bool child);
/* Bytes of free, unreleased pages the goal allows to keep. */
GORT_HIDDEN uintptr_t scavenge_goal_idle_bytes(uintptr_t inuse_bytes);
/* The scavenger's pause after a burst of worked ns of its own CPU time,
 * at least 1 ms: it then uses 1% of the machine's ncpu CPUs, or 10% when
 * the rest of the process used under 5% of them (others ns of CPU time in
 * the last wall ns; wall 0: not known). */
GORT_HIDDEN int64_t scavenge_pause_ns(int64_t worked, int64_t others, int64_t wall, long ncpu);
/* Background passes run so far (tests). */
GORT_HIDDEN uint64_t scavenger_passes(void);
/* Pages held for release at this moment, by any thread: free pages that
 * the page allocator counts as allocated until their madvise is done. */
GORT_HIDDEN uintptr_t scavenge_releasing(void);
/* Tests: ns a release holds its run before its madvise (0: none). */
GORT_HIDDEN extern int64_t scavenge_test_hold_ns;

#endif
