/*
 * mheap.h: the page heap: spans from pages, central lists, heap growth.
 *
 * One global mheap_.  Its lock guards the page allocator, the span-record
 * fixallocs and the per-class span counts; it is never held across a call
 * into the OS other than growing the heap.  Lock order: mcentral.lock and
 * mheap_.lock are never nested; scav_lock and persistent_lock may be taken
 * under mheap_.lock (docs/DESIGN.md §10 has the whole order).
 */
#ifndef GORT_MHEAP_H
#define GORT_MHEAP_H

#include "fixalloc.h"
#include "mcentral.h"
#include "mspan.h"
#include "pagealloc.h"

#include <pthread.h>

#define MSPAN_BUCKETS 5 /* span records with room for 1, 2, 4, 8, 16 bitmap words */

struct mheap {
	pthread_mutex_t lock;
	pagealloc pages;
	fixalloc spanalloc[MSPAN_BUCKETS];
	uintptr_t spans_inuse[NUM_SIZE_CLASSES]; /* by size class; lock */
	uintptr_t slots_inuse[NUM_SIZE_CLASSES]; /* object slots of those spans; lock */
	/* Large objects, updated atomically (no lock on the free side). */
	uint64_t large_allocs, large_alloc_bytes, large_frees, large_free_bytes;
	mcentral central_manual[NUM_SIZE_CLASSES]; /* gort_malloc spans by size class */
	mcentral central_gc[NUM_SPAN_CLASSES];     /* collected spans by span class */
};

GORT_HIDDEN extern struct mheap mheap_;

/* The class of a central list, from its place in mheap_. */
GORT_INLINE unsigned mcentral_manual_class(const mcentral *c)
{
	return (unsigned)(c - mheap_.central_manual);
}
GORT_INLINE unsigned mcentral_gc_spanclass(const mcentral *c)
{
	return (unsigned)(c - mheap_.central_gc);
}

/* Initialises the heap once (knobs, tables, span records); idempotent. */
GORT_HIDDEN void mheap_init(void);
/* Set once the library's constructor has run (libc is fully up): until
 * then gort calls nothing that might allocate or load code. */
GORT_HIDDEN extern bool gort_started;
/* A new in-use span of npages for sizeclass (0 = large), published.
 * NULL when the OS has no more memory. */
GORT_HIDDEN mspan *mheap_alloc_span(uintptr_t npages, unsigned sizeclass, unsigned spanclass, unsigned kind);
/* A large span of npages whose base is aligned to align_bytes (a power of
 * two, at least PAGE_BYTES). */
GORT_HIDDEN mspan *mheap_alloc_span_aligned(uintptr_t npages, uintptr_t align_bytes, unsigned kind);
/* Manual spans at least this big are released as they are freed. */
#define HUGE_RELEASE_PAGES (((uintptr_t)32 << 20) / PAGE_BYTES)
/* Returns s's pages to the page heap; s holds no live object. */
GORT_HIDDEN void mheap_free_span(mspan *s);
/* A large manual span (its caller's live object) grown in place to npages
 * pages when the pages after it are free; false, changing nothing, when
 * they are not. */
GORT_HIDDEN bool mheap_grow_large(mspan *s, uintptr_t npages);
/* A large manual span shrunk in place to npages (>= 1) pages; its tail
 * goes back to the page heap (to the kernel too if huge). */
GORT_HIDDEN void mheap_shrink_large(mspan *s, uintptr_t npages);
/* Object slots in the spans in use, by size class (either heap's spans,
 * whatever their size), under the lock. */
GORT_HIDDEN void mheap_class_slots(uint64_t slots[NUM_SIZE_CLASSES]);
/* Page counts under the lock: in use (in spans), free and not released
 * (with those held while being released), released. */
GORT_HIDDEN void mheap_page_counts(uintptr_t *inuse, uintptr_t *idle, uintptr_t *released);

#endif
