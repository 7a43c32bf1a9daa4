/*
 * mcentral.h: the central list of spans for one span class.
 *
 * Holds the PARTIAL spans of its class (free slots known or suspected) on a
 * FIFO doubly linked list under its own spinlock; FULL spans are on no list (a free
 * puts them back, see mspan.h) and CACHED spans belong to an mcache.  The
 * lock is only taken when a cache refills or gives a span back, and when a
 * free revives a FULL span, never on the allocation or free fast paths.
 * Lock order: an mcentral lock is never held while taking another lock.
 */
#ifndef GORT_MCENTRAL_H
#define GORT_MCENTRAL_H

#include "mspan.h"

#include "spinlock.h"

typedef struct mcentral {
	spinlock lock;
	mspan *partial;      /* list head (oldest) */
	mspan *tail;         /* newest */
	uintptr_t npartial;  /* spans on the list */
	uintptr_t pushes;    /* spans ever listed (lock); lets the reclaimer skip quiet lists */
	uintptr_t reclaimed_at; /* pushes at the last reclaim (reclaim_lock) */
	/* The collected heap (sweep.c): LIFO lists through s->next, indexed
	 * by sweepgen parity: [gc_swept_index()] swept this cycle, the other
	 * unswept.  partial: some slot free; full: none. */
	mspan *gcpartial[2], *gcfull[2];
	/* No class fields: a list's class is its place in mheap_ (mheap.h),
	 * so a list starts as zeroes and the lists of classes a program never
	 * uses are never written, and cost it no memory. */
} GORT_ALIGNED_CL mcentral;

struct mcache;

/* A swept span with at least one free slot, now CACHED by owner; NULL when
 * the heap is out of memory.  The manual heap's lists only (the collected
 * heap's go through gc_cache_span, sweep.c). */
GORT_HIDDEN mspan *mcentral_cache_span(mcentral *c, struct mcache *owner);
/* Takes back a span from its owning cache; the caller has swept it. */
GORT_HIDDEN void mcentral_uncache_span(mcentral *c, mspan *s);
/* A free revived a FULL span (the freer won the FULL->PARTIAL CAS). */
GORT_HIDDEN void mcentral_push_partial(mcentral *c, mspan *s);
/* Sweeps every listed span, returning empty ones to the page heap.  With
 * only_if_new, does nothing unless spans were listed since the last pass.
 * Returns the number of spans freed.  Callers serialise passes. */
GORT_HIDDEN uintptr_t mcentral_reclaim(mcentral *c, bool only_if_new);

#endif
