/*
 * mcache.h: the per-thread cache (Go's per-P mcache).
 *
 * One cached span per size class for the manual heap and per span class
 * for the collected heap, plus the tiny allocator's current block and the
 * thread's allocation counters.  Only the owning thread touches a cache,
 * except that gort_read_memstats reads its counters (relaxed).  A thread
 * starts on mcache_empty, whose spans are all the empty span, so the
 * allocation fast path needs no "initialised?" test: its first miss lands
 * in the slow path, which creates the thread's cache.  The cache goes back
 * (spans uncached, counters folded into the global totals) when the thread
 * exits.
 *
 * A manual span the thread has filled stays the thread's: it goes on the
 * class's kept list (owner still set, where SPAN_CACHED) instead of back to
 * the central list, so the thread's own later frees into it stay plain
 * stores (free.c) rather than atomics, as in mimalloc's thread-owned pages.
 * The list is circular, ready spans first: a kept span is ready once the
 * owner's frees (nlocal) have made span_reuse_min slots free; the free that
 * gets there (s->trigger) moves it to the front, and the free that empties
 * it gives it back to the central list, unless it is the class's only kept
 * span.  Frees by other threads are not counted as they happen: a refill
 * that finds no ready span counts them in the four oldest kept spans (their
 * bits, without sweeping) and takes the first with enough free slots; if
 * none has, the oldest goes to the back.  A class whose objects the owner's
 * sweeps find freed mostly by other threads (a producer's) keeps nothing:
 * its filled spans are parked FULL, and those frees revive them at once.
 * Kept spans go back to the central lists when the thread exits; while the
 * thread is idle, the scavenger may release the pages of those whose
 * objects other threads have all freed (mcache_release_idle_kept).
 */
#ifndef GORT_MCACHE_H
#define GORT_MCACHE_H

#include "atomic.h"
#include "mcentral.h"
#include "mspan.h"

typedef struct mcache {
	mspan *manual[NUM_SIZE_CLASSES];
	mspan *alloc[NUM_SPAN_CLASSES];
	mspan *kept[NUM_SIZE_CLASSES];     /* kept list head: ready spans first, then oldest first */
	uint16_t nkept[NUM_SIZE_CLASSES];
	uint8_t remote_freed[NUM_SIZE_CLASSES]; /* the class's frees are mostly other threads' */
	uintptr_t tiny;       /* current tiny block, or 0 */
	uintptr_t tinyoffset; /* bytes used in it */
	uint64_t tiny_allocs;
	intptr_t next_sample; /* bytes to the next profiled allocation; relaxed (rate changes reset it) */
	uint64_t nmalloc[NUM_SIZE_CLASSES]; /* owner writes, relaxed */
	uint64_t nfree[NUM_SIZE_CLASSES];
	struct mcache *allnext, *allprev; /* all caches; cache_lock */
	uint64_t scav_nmalloc; /* allocations at the scavenger's previous look (cache_lock) */
} mcache;

GORT_HIDDEN extern __thread mcache *mcache_tls __attribute__((tls_model("initial-exec")));
GORT_HIDDEN extern mcache mcache_empty;
GORT_HIDDEN extern mspan mspan_empty;

GORT_HIDDEN void mcache_global_init(void);

/* The profiler's countdown (mprof.h): true when this allocation of size
 * bytes is to be sampled.  One subtraction and one branch. */
GORT_INLINE bool mcache_sample_due(mcache *c, uintptr_t size)
{
#if defined(__x86_64__) && !defined(GORT_TSAN) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	/* One subtract from memory, branching on its sign (as owner_add). */
	bool negative;
	__asm__("subq %2, %0" : "+m"(c->next_sample), "=@ccs"(negative) : "er"((intptr_t)size));
	return unlikely(negative);
#else
	intptr_t ns = load_relaxed(&c->next_sample) - (intptr_t)size;
	store_relaxed(&c->next_sample, ns);
	return unlikely(ns < 0);
#endif
}
/* Samples p (outside critical sections): draws the next distance and
 * records the allocation if profiling is on.  Returns p.  fp: the entry
 * point's frame, or NULL when the entry point keeps none and reached here
 * by tail calls only (ENTRY_FRAME, malloc.h), so that this function's own
 * frame returns into the program. */
GORT_HIDDEN GORT_NOINLINE void *mprof_sample(void *p, uintptr_t size, const char *type, bool collected, void *fp);
/* The countdown for paths where the cache may not exist yet (large
 * objects): creates it, counts, samples if due.  Returns p. */
GORT_HIDDEN GORT_NOINLINE void *mprof_count_slow(void *p, uintptr_t size, const char *type, bool collected, void *fp);
/* gort_set_mem_profile_rate: every cache redraws at its next allocation. */
GORT_HIDDEN void mcache_reset_samples(void);
/* The calling thread's own cache, created if needed; NULL if out of memory. */
GORT_HIDDEN mcache *mcache_self(void);
/* True when this thread's small allocations go to the late cache: its
 * cache is gone, or it borrows (below). */
GORT_HIDDEN bool mcache_use_late(void);
/* While on, a thread without a cache borrows the late cache's spans instead
 * of making its own: thread registration, where libc's pthread_getattr_np
 * allocates and frees a few bytes, and a thread that never allocates
 * itself would otherwise get a cache and two spans for them. */
GORT_HIDDEN void mcache_borrow_late(bool on);
/* True inside mcache_alloc_late on this thread. */
GORT_HIDDEN bool mcache_in_late_alloc(void);
/* A small manual object of class cls for a thread whose cache is gone,
 * from the shared late cache; NULL when out of memory. */
GORT_HIDDEN void *mcache_alloc_late(unsigned cls, size_t size, bool zero);
/* Slow path: the next object from *slot's span, refilling from the kept
 * list or central.  NULL when the heap is out of memory. */
GORT_HIDDEN void *mcache_refill(mcache *c, mspan **slot, mcentral *central);
/* free(): the owner's free into s made s->nlocal reach s->trigger. */
GORT_HIDDEN GORT_NOINLINE void mcache_kept_free(mcache *c, mspan *s);
/* The collected heap's refill: the next object of span class spc, taking a
 * swept span from the central list (sweeping one if need be).  Inside a
 * critical section.  NULL when out of memory. */
GORT_HIDDEN void *mcache_refill_gc(mcache *c, unsigned spc);
/* Gives c's GC spans back (cache_lock held; c's owner is stopped, in this
 * call, or gone). */
GORT_HIDDEN void mcache_release_gc_locked(mcache *c);
/* Gives the calling thread's GC spans back. */
GORT_HIDDEN void mcache_release_gc_self(void);
/* World stopped: every cache's GC spans back to the central lists, so the
 * collector owns every span (Go's flushing of each P's mcache). */
GORT_HIDDEN void mcache_flush_gc_all(void);
/* The scavenger's pass over idle threads (mcache.c): releases the pages of
 * kept spans whose objects other threads have all freed, in caches that
 * have not allocated since the previous pass (every cache with all).
 * Returns the bytes released.  Callers exclude fork (scavenge.c takes
 * reclaim_lock). */
GORT_HIDDEN uintptr_t mcache_release_idle_kept(bool all);
/* Gives every cached and kept span back (thread exit, gort_free_os_memory). */
GORT_HIDDEN void mcache_release_all(mcache *c);
/* fork(): hold and release cache_lock around the fork (fork.c). */
GORT_HIDDEN void mcache_fork_lock(void);
GORT_HIDDEN void mcache_fork_unlock(void);
/* Counts a free made by a thread without a cache. */
GORT_HIDDEN void mcache_count_orphan_free(unsigned sizeclass);
/* Sums allocation counters over all caches, live and dead. */
GORT_HIDDEN void mcache_sum_stats(uint64_t nmalloc[NUM_SIZE_CLASSES], uint64_t nfree[NUM_SIZE_CLASSES],
				  uint64_t *tiny_allocs, uintptr_t *inuse_bytes);

#endif
