/*
 * mspan.c: span initialisation, slot search and sweeping (see mspan.h for
 * the bitmaps, the ownership table and the invariants).
 *
 * Ideas from Go's mbitmap.go (nextFreeIndex, refillAllocCache) and
 * mgcsweep.go; sweeping here folds explicit-free bitmaps instead of GC mark
 * bits, which the collector will add as a fourth bitmap.
 */
#include "mspan.h"
#include "check.h"
#include "sizeclass.h"


uint32_t span_nelems(unsigned sizeclass, uintptr_t npages)
{
	if (npages == class_to_allocnpages[sizeclass])
		return class_to_nelems[sizeclass];
	GORT_ASSERT(1, npages == manual_allocnpages[sizeclass]);
	return manual_nelems[sizeclass];
}

void mspan_init(mspan *s, uintptr_t base, uintptr_t npages, unsigned sizeclass)
{
	s->base = base;
	s->npages = npages;
	s->next = s->prev = NULL;
	s->sizeclass = (uint8_t)sizeclass;
	s->owner = NULL;
	if (sizeclass == 0) {
		s->elemsize = npages * PAGE_BYTES;
		s->nelems = 1;
		s->divmagic = 0; /* every interior offset maps to object 0 */
	} else {
		s->elemsize = class_to_size[sizeclass];
		s->nelems = span_nelems(sizeclass, npages);
		s->divmagic = class_to_divmagic[sizeclass];
	}
	s->limit = base + (uintptr_t)s->nelems * s->elemsize;
	s->nwords = (uint8_t)mspan_words(s->nelems);
	/* Atomic stores: a late freer may still read a recycled record's
	 * bits (see park_full, free_remote); it must see a value, not a race. */
	for (unsigned i = 0; i < 3u * s->nwords; i++)
		store_relaxed(&s->bits[i], 0);
	s->freeindex = 0;
	s->alloc_cache = ~(uint64_t)0;
	s->alloc_count = 0;
	s->nlocal = s->trigger = 0;
	s->kept_ready = 0;
	store_relaxed(&s->reclaim, SPAN_RECLAIM_HELD);
	s->released = 0; /* busy is the scavenger's: it always leaves it 0 */
	store_relaxed(&s->profiled, 0);
	store_relaxed(&s->pending, 0);
}

uint32_t mspan_next_free_index(mspan *s)
{
	uint32_t fi = s->freeindex, n = s->nelems;
	if (fi >= n)
		return n;
	uint64_t cache = s->alloc_cache;
	while (cache == 0) {
		/* The cache covers up to the next multiple of 64: move there. */
		fi = (fi + 64) & ~(uint32_t)63;
		if (fi >= n) {
			store_relaxed(&s->freeindex, n);
			return n;
		}
		cache = ~load_relaxed(&span_alloc_word(s, fi / 64));
	}
	uint32_t idx = fi + ctz64(cache);
	if (idx >= n) { /* only padding bits past nelems were free */
		s->alloc_cache = 0;
		store_relaxed(&s->freeindex, n);
		return n;
	}
	cache = (cache >> (idx - fi)) >> 1;
	fi = idx + 1;
	if ((fi & 63) == 0 && fi != n)
		cache = ~load_relaxed(&span_alloc_word(s, fi / 64));
	s->alloc_cache = cache;
	store_relaxed(&s->freeindex, fi);
	return idx;
}

/* What both sweeps end with, once the new alloc bits are stored: freeindex
 * drops to 0 (release: a racing free then sees its object allocated by
 * its alloc bit), the cache reloads from the first word, and the counts
 * restart.  Returns the free slots. */
static uint32_t sweep_done(mspan *s, uint32_t live, uint32_t freed, uint32_t *nfreed)
{
	store_release(&s->freeindex, 0);
	s->alloc_cache = ~span_alloc_word(s, 0);
	s->alloc_count = live;
	store_relaxed(&s->nlocal, 0);
	if (freed)
		s->needzero = 1;
	if (nfreed)
		*nfreed = freed;
	return s->nelems - live;
}

/* mspan_sweep for a span of at most 64 objects: one word, so the live
 * count is a popcount. */
uint32_t mspan_sweep_one_word(mspan *s, uint32_t *nfreed)
{
	uint32_t fi = s->freeindex, n = s->nelems;
	uint64_t freed = load_relaxed(&span_local_word(s, 0));
	if (freed)
		store_relaxed(&span_local_word(s, 0), 0);
	if (load_relaxed(&span_remote_word(s, 0)))
		freed |= exchange_acqrel(&span_remote_word(s, 0), 0);
	uint64_t used = fi >= 64 ? ~(uint64_t)0 : span_alloc_word(s, 0) | (((uint64_t)1 << fi) - 1);
	if (n < 64)
		used &= ((uint64_t)1 << n) - 1;
	if (unlikely(freed & ~used))
		gort_throw_addr("sweep: freed bit set on a free object in span", s->base);
	uint64_t alloc = used & ~freed;
	store_relaxed(&span_alloc_word(s, 0), alloc); /* before freeindex drops */
	return sweep_done(s, popcount64(alloc), freed ? popcount64(freed) : 0, nfreed);
}

uint32_t mspan_sweep_words(mspan *s, uint32_t *nfreed)
{
	uint32_t fi = s->freeindex, n = s->nelems, freed_total = 0;
	/* Live objects = live at the last sweep + handed out since - freed.
	 * "Handed out since" is every free slot below freeindex: all of them
	 * when the span ran dry (the usual case), none when it was not used;
	 * only a span given back mid-way needs counting. */
	uint32_t since = fi >= n ? n - s->alloc_count : 0;
	bool count_since = fi > 0 && fi < n;
	for (unsigned w = 0; w < s->nwords; w++) {
		uint32_t lo = w * 64;
		uint64_t freed = load_relaxed(&span_local_word(s, w));
		if (freed)
			store_relaxed(&span_local_word(s, w), 0);
		if (load_relaxed(&span_remote_word(s, w)))
			freed |= exchange_acqrel(&span_remote_word(s, w), 0);
		uint64_t old = span_alloc_word(s, w), used = old;
		if (fi >= lo + 64) {
			used = ~(uint64_t)0;
		} else if (fi > lo) {
			uint64_t below = ((uint64_t)1 << (fi - lo)) - 1;
			used |= below;
			if (count_since)
				since += popcount64(below & ~old);
		}
		if (count_since && fi >= lo + 64)
			since += popcount64(~old);
		if (n < lo + 64)
			used &= ((uint64_t)1 << (n - lo)) - 1;
		if (unlikely(freed & ~used))
			gort_throw_addr("sweep: freed bit set on a free object in span", s->base);
		/* New alloc bits must be visible before freeindex drops to 0
		 * (the release below), so a racing free still sees its object
		 * as allocated. */
		store_relaxed(&span_alloc_word(s, w), used & ~freed);
		if (freed)
			freed_total += popcount64(freed);
	}
	uint32_t live = s->alloc_count + since - freed_total;
	if (GORT_CHECK_LEVEL >= 2) {
		uint32_t count = 0;
		for (unsigned w = 0; w < s->nwords; w++)
			count += popcount64(span_alloc_word(s, w));
		GORT_ASSERT(2, count == live);
	}
	return sweep_done(s, live, freed_total, nfreed);
}

bool mspan_is_allocated(const mspan *s, uint32_t idx)
{
	uint32_t w = idx / 64;
	uint64_t m = (uint64_t)1 << (idx & 63);
	bool alloc = idx < load_acquire(&s->freeindex) || (load_relaxed(&span_alloc_word(s, w)) & m);
	bool freed = (load_relaxed(&span_local_word(s, w)) | load_relaxed(&span_remote_word(s, w))) & m;
	return alloc && !freed;
}
