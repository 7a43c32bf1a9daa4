/*
 * mallocgc.c: allocation in the collected heap (Go's mallocgc): gort_alloc,
 * gort_new, gort_new_array, the tiny allocator, and the heap bits.
 *
 * The fast path is the manual heap's (a ctz on the cached span's alloc
 * cache), run inside a critical section (crit.h) so that the collector
 * never stops a thread half-way through taking a slot; after it come the
 * clearing of reused memory and, for objects that may hold pointers, their
 * heap bits.  A refill (slow path) first makes sure the thread is
 * registered, and starts a cycle when the heap has reached its trigger.
 *
 * Heap bits (arena.h) tell the markers which words of a small object to
 * scan: all the words asked for (conservative object), or the pointer
 * fields of its type repeated over the array.  They are rewritten at every
 * allocation, so a reused slot never inherits them.
 */
#include "gort.h"
#include "arena.h"
#include "atomic.h"
#include "check.h"
#include "crit.h"
#include "malloc.h"
#include "mcache.h"
#include "mgc.h"
#include "mheap.h"
#include "mprof.h"
#include "os.h"
#include "sizeclass.h"
#include "thread.h"

#include <string.h>

/* --- heap bits */

static void bits_write(uint64_t *hb, uintptr_t k, uintptr_t n, bool set)
{
	while (n) {
		unsigned shift = k & 63;
		uintptr_t take = min_uptr(64 - shift, n);
		uint64_t m = (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << shift;
		if (set)
			hb[k >> 6] |= m;
		else
			hb[k >> 6] &= ~m;
		k += take;
		n -= take;
	}
}

/* An object crossing into the next arena (its span does): word by word. */
static GORT_NOINLINE void heapbits_write_slow(uintptr_t p, uintptr_t nwords, bool set)
{
	for (uintptr_t i = 0; i < nwords; i++) {
		uintptr_t a = p + i * 8;
		bits_write(arena_of(a)->heapbits, (a & (ARENA_BYTES - 1)) >> 3, 1, set);
	}
}

GORT_INLINE bool crosses_arena(uintptr_t p, uintptr_t len)
{
	return ((p ^ (p + len - 1)) >> ARENA_SHIFT) != 0;
}

static void heapbits_conservative(uintptr_t p, uintptr_t elemsize, uintptr_t size)
{
	uintptr_t nw = elemsize >> 3, np = align_up(size, 8) >> 3;
	if (unlikely(crosses_arena(p, elemsize))) {
		heapbits_write_slow(p, nw, false);
		heapbits_write_slow(p, np, true);
		return;
	}
	uint64_t *hb = arena_of(p)->heapbits;
	uintptr_t k = (p & (ARENA_BYTES - 1)) >> 3;
	if (np < nw)
		bits_write(hb, k + np, nw - np, false);
	bits_write(hb, k, np, true);
}

static __attribute__((noreturn, cold)) void bad_type(const gort_type *t)
{
	gort_throw_addr("gort_new: bad type descriptor at", (uintptr_t)t);
}

/* n elements of t at p; checks the offsets as it goes. */
static void heapbits_typed(uintptr_t p, uintptr_t elemsize, const gort_type *t, uintptr_t n)
{
	if (unlikely(crosses_arena(p, elemsize))) {
		heapbits_write_slow(p, elemsize >> 3, false);
		for (uintptr_t e = 0; e < n; e++)
			for (uint32_t i = 0; i < t->nptrs; i++)
				heapbits_write_slow(p + e * t->size + t->ptroffs[i], 1, true);
		return;
	}
	uint64_t *hb = arena_of(p)->heapbits;
	uintptr_t k0 = (p & (ARENA_BYTES - 1)) >> 3;
	bits_write(hb, k0, elemsize >> 3, false);
	uintptr_t stride = t->size >> 3;
	for (uintptr_t e = 0, k = k0; e < n; e++, k += stride) {
		for (uint32_t i = 0; i < t->nptrs; i++) {
			uintptr_t w = k + (t->ptroffs[i] >> 3);
			hb[w >> 6] |= (uint64_t)1 << (w & 63);
		}
	}
}

/* A descriptor is checked in full at each gort_new: a few compares per
 * pointer field, against scanning garbage later. */
static void check_type(const gort_type *t)
{
	if (unlikely(!t || t->magic != GORT_TYPE_MAGIC || t->size == 0 || (t->nptrs && (t->size & 7)) ||
		     !is_pow2(t->align) || t->align > PAGE_BYTES || (t->nptrs && !t->ptroffs)))
		bad_type(t);
	size_t prev = 0;
	for (uint32_t i = 0; i < t->nptrs; i++) {
		size_t off = t->ptroffs[i];
		if (unlikely((off & 7) || off + 8 > t->size || (i && off <= prev)))
			bad_type(t);
		prev = off;
	}
}

/* --- allocation */

/* Slow-path preamble, outside any critical section: the thread must be
 * registered before it holds GC pointers, and may have to run a cycle. */
static void gc_prepare_thread(void)
{
	if (unlikely(!thread_self()) && !thread_register())
		gort_throw("gort_alloc: cannot register the calling thread (stack not found)");
	GORT_ASSERT(1, crit_depth == 0);
	gc_maybe_trigger();
}

/* Small objects are cleared by plain stores: memset's setup for a
 * variable length costs more than the stores themselves. */
GORT_INLINE void zero_words(void *p, uintptr_t nw)
{
	uintptr_t *w = p;
	switch (nw) { /* (a loop here is turned back into rep stos) */
	case 8: w[7] = 0; /* fallthrough */
	case 7: w[6] = 0; /* fallthrough */
	case 6: w[5] = 0; /* fallthrough */
	case 5: w[4] = 0; /* fallthrough */
	case 4: w[3] = 0; /* fallthrough */
	case 3: w[2] = 0; /* fallthrough */
	case 2: w[1] = 0; /* fallthrough */
	case 1: w[0] = 0; /* fallthrough */
	case 0: break;
	default: memset(p, 0, nw << 3);
	}
}

/* The usual case: an object of at most 64 words whose heap bits lie in
 * one word.  mask: its pointer words. */
GORT_INLINE bool heapbits_mask(mspan *s, uintptr_t p, uint64_t mask)
{
	uintptr_t rel = (p - s->base) >> 3, nw = s->elemsize >> 3;
	unsigned shift = rel & 63;
	if (unlikely(!s->heapbits || shift + nw > 64))
		return false;
	uint64_t objbits = (nw == 64 ? ~(uint64_t)0 : ((uint64_t)1 << nw) - 1) << shift;
	uint64_t *hb = &s->heapbits[rel >> 6];
	*hb = (*hb & ~objbits) | (mask << shift);
	return true;
}

/* heapbits_mask for an object whose bits straddle heap-bits words. */
static GORT_NOINLINE void heapbits_mask_slow(uintptr_t p, uintptr_t elemsize, uint64_t mask)
{
	heapbits_write_slow(p, elemsize >> 3, false);
	for (unsigned i = 0; mask; i++, mask >>= 1)
		if (mask & 1)
			heapbits_write_slow(p + i * 8, 1, true);
}

/* Clears and describes a small object just taken from span s: t and n
 * for a typed array, else mask for a typed object of up to 64 words, else
 * (t == NULL, mask == 0) a conservative object. */
GORT_INLINE void finish_small(mcache *c, mspan *s, void *p, size_t size, const gort_type *t, uintptr_t n,
			      uint64_t mask)
{
	owner_add(&c->nmalloc[s->sizeclass], 1);
	if (s->needzero)
		zero_words(p, align_up(size, 8) >> 3);
	if (s->spanclass & 1)
		return;
	if (!t && !mask) {
		uintptr_t np = align_up(size, 8) >> 3;
		if (likely(np <= 64) && heapbits_mask(s, (uintptr_t)p, np == 64 ? ~(uint64_t)0 : ((uint64_t)1 << np) - 1))
			return;
		heapbits_conservative((uintptr_t)p, s->elemsize, size);
	} else if (!t) {
		if (likely(heapbits_mask(s, (uintptr_t)p, mask)))
			return;
		heapbits_mask_slow((uintptr_t)p, s->elemsize, mask);
	} else {
		heapbits_typed((uintptr_t)p, s->elemsize, t, n);
	}
}

/* Where an allocation comes from, for the profiler: the type's name (or
 * NULL) and the frame of the entry point the program called. */
struct site {
	const char *type;
	void *fp;
};

static GORT_NOINLINE void *alloc_small_slow(unsigned spc, size_t size, const gort_type *t, uintptr_t n,
					    uint64_t mask, struct site w)
{
	gc_prepare_thread();
	crit_enter();
	mcache *c = mcache_self();
	void *p = mcache_refill_gc(c, spc);
	if (unlikely(!p)) {
		crit_exit();
		gc_throw_oom("gort_alloc", size);
	}
	mspan *s = c->alloc[spc];
	finish_small(c, s, p, size, t, n, mask);
	bool sample = mcache_sample_due(c, s->elemsize);
	uintptr_t elemsize = s->elemsize;
	crit_exit();
	if (sample)
		return mprof_sample(p, elemsize, w.type, true, w.fp);
	return p;
}

GORT_INLINE void *alloc_small(unsigned cls, bool noscan, size_t size, const gort_type *t, uintptr_t n,
			       uint64_t mask, struct site w)
{
	unsigned spc = cls << 1 | noscan;
	crit_enter();
	mcache *c = mcache_tls;
	mspan *s = c->alloc[spc];
	void *p = mspan_next_free_fast(s);
	if (likely(p)) {
		finish_small(c, s, p, size, t, n, mask);
		bool sample = mcache_sample_due(c, s->elemsize);
		crit_exit();
		if (sample)
			return mprof_sample(p, class_to_size[cls], w.type, true, w.fp);
		return p;
	}
	crit_exit();
	return alloc_small_slow(spc, size, t, n, mask, w);
}

static GORT_NOINLINE void *alloc_large(size_t size, bool noscan, const gort_type *t, uintptr_t align,
				       struct site w)
{
	if (unlikely(size > MAX_ALLOC_BYTES))
		gort_throw("gort_alloc: size out of range");
	if (os_beyond_alloc_cap(size))
		gc_throw_oom("gort_alloc", size); /* more than RAM + swap */
	gc_prepare_thread();
	uintptr_t npages = align_up(size, PAGE_BYTES) >> PAGE_SHIFT;
	crit_enter();
	mspan *s = align > PAGE_BYTES ? mheap_alloc_span_aligned(npages, align, SPAN_GC)
				      : mheap_alloc_span(npages, 0, noscan ? 1 : 0, SPAN_GC);
	if (unlikely(!s)) {
		crit_exit();
		gc_throw_oom("gort_alloc", size);
	}
	s->spanclass = noscan ? 1 : 0;
	s->alloc_cache = 0;
	s->alloc_count = 1;
	s->freeindex = 1;
	span_alloc_word(s, 0) = 1; /* so that markers need only the alloc bits */
	s->gcsize = size;
	s->gctype = t;
	s->gcflags = noscan ? 0 : t ? LARGE_TYPED : LARGE_CONSERVATIVE;
	store_relaxed(&s->where, SPAN_LARGE);
	fetch_add_relaxed(&mheap_.large_allocs, 1);
	fetch_add_relaxed(&mheap_.large_alloc_bytes, s->elemsize);
	fetch_add_relaxed(&gc.heap_live, (int64_t)s->elemsize);
	bool zero = s->needzero;
	uintptr_t bytes = s->elemsize; /* profiled as its pages, as Go does */
	void *p = (void *)s->base;
	gc_large_add(s);
	/* From here on only p keeps the object alive: the span record is not
	 * a heap pointer, and a cycle may run as soon as the critical section
	 * ends.  The empty asm makes p opaque, so that the compiler cannot
	 * drop it and reload s->base later (from a record the cycle may have
	 * freed and recycled). */
	__asm__ volatile("" : "+r"(p));
	crit_exit();
	/* Outside the critical section: a cycle may scan the object half
	 * cleared (it is only reachable from our stack), which is harmless. */
	if (zero)
		memset(p, 0, size);
	return mprof_count_slow(p, bytes, w.type, true, w.fp);
}

static void *malloc_tiny_fp(size_t size, void *fp)
{
	GORT_ASSERT(1, size > 0 && size < TINY_SIZE);
	crit_enter();
	mcache *c = mcache_tls;
	uintptr_t off = c->tinyoffset;
	/* Align within the block by the object's own natural alignment. */
	if ((size & 7) == 0)
		off = align_up(off, 8);
	else if ((size & 3) == 0)
		off = align_up(off, 4);
	else if ((size & 1) == 0)
		off = align_up(off, 2);
	if (off + size <= TINY_SIZE && c->tiny) {
		c->tinyoffset = off + size;
		owner_add(&c->tiny_allocs, 1);
		void *p = (void *)(c->tiny + off);
		crit_exit();
		return p;
	}
	const unsigned spc = TINY_SPAN_CLASS;
	mspan *s = c->alloc[spc];
	void *p = mspan_next_free_fast(s);
	if (!p) {
		crit_exit();
		gc_prepare_thread();
		crit_enter();
		c = mcache_self();
		p = mcache_refill_gc(c, spc);
		if (!p) {
			crit_exit();
			gc_throw_oom("the tiny allocator", TINY_SIZE);
		}
		s = c->alloc[spc];
	}
	owner_add(&c->nmalloc[TINY_SIZE_CLASS], 1);
	if (s->needzero)
		memset(p, 0, TINY_SIZE);
	/* Keep whichever block has more room left. */
	if (size < c->tinyoffset || !c->tiny) {
		c->tiny = (uintptr_t)p;
		c->tinyoffset = size;
	}
	bool sample = mcache_sample_due(c, size);
	crit_exit();
	if (sample)
		return mprof_sample(p, size, NULL, true, fp);
	return p;
}

void *malloc_tiny(size_t size)
{
	return malloc_tiny_fp(size, __builtin_frame_address(0));
}

void *gort_alloc(size_t size, unsigned flags)
{
	bool noscan = flags & GORT_NOSCAN;
	if (unlikely(size == 0))
		size = 1;
	if (likely(size <= MAX_SMALL_SIZE)) {
		if (noscan && size < TINY_SIZE)
			return malloc_tiny_fp(size, __builtin_frame_address(0));
		return alloc_small(size_to_class(size), noscan, size, NULL, 0, 0,
				   (struct site){NULL, __builtin_frame_address(0)});
	}
	return alloc_large(size, noscan, NULL, PAGE_BYTES, (struct site){NULL, __builtin_frame_address(0)});
}

static void *new_array(const gort_type *t, size_t n, void *fp)
{
	struct site w = {t ? t->name : NULL, fp};
	check_type(t);
	size_t size;
	if (unlikely(__builtin_mul_overflow(t->size, n, &size) || size > MAX_ALLOC_BYTES))
		gort_throw("gort_new_array: size overflow");
	if (size == 0)
		size = 8;
	bool noscan = t->nptrs == 0;
	if (size <= MAX_SMALL_SIZE) {
		unsigned cls = t->align <= 8 ? size_to_class(size) : size_class_for_alignment(size, t->align);
		if (cls)
			return alloc_small(cls, noscan, size, noscan ? NULL : t, n, 0, w);
	}
	return alloc_large(size, noscan, noscan ? NULL : t, t->align > PAGE_BYTES ? t->align : PAGE_BYTES, w);
}

/* Descriptors of small types this thread has checked in full, by address:
 * a program allocates from a few types over and over, and a descriptor is
 * const (GORT_TYPE puts it in read-only data), so one full check per type
 * and thread catches a corrupt one without paying for it at every call. */
#define CHECKED_TYPES 8 /* a power of two */
static __thread const gort_type *checked_types[CHECKED_TYPES] __attribute__((tls_model("initial-exec")));

GORT_INLINE unsigned checked_slot(const gort_type *t)
{
	return ((uintptr_t)t >> 4) & (CHECKED_TYPES - 1);
}

/* Objects of up to 64 words: the compile-time bitmap against the offsets. */
static GORT_NOINLINE bool check_small_type(const gort_type *t)
{
	if (!(t && t->magic == GORT_TYPE_MAGIC && t->size - 1 < 512 && t->align <= 8))
		return false;
	uint64_t seen = 0;
	size_t prev = 0;
	for (uint32_t i = 0; i < t->nptrs; i++) {
		size_t off = t->ptroffs[i];
		if (unlikely((off & 7) || off + 8 > t->size || (i && off <= prev)))
			bad_type(t);
		seen |= (uint64_t)1 << (off >> 3);
		prev = off;
	}
	if (unlikely(seen != t->ptrmask))
		bad_type(t);
	checked_types[checked_slot(t)] = t;
	return true;
}

/* gort_new for a type not in the checked cache, or not small. */
static GORT_NOINLINE void *new_unchecked(const gort_type *t, void *fp)
{
	if (check_small_type(t))
		return alloc_small(size_to_class(t->size), t->ptrmask == 0, t->size, NULL, 0, t->ptrmask,
				   (struct site){t->name, fp});
	return new_array(t, 1, fp);
}

void *gort_new(const gort_type *t)
{
	if (unlikely(checked_types[checked_slot(t)] != t || !t))
		return new_unchecked(t, __builtin_frame_address(0));
	/* alloc_small, spelled out so that the slow paths stay out of line
	 * and the fast path saves no registers. */
	uint64_t mask = t->ptrmask;
	size_t size = t->size;
	unsigned spc = size_to_class(size) << 1 | (mask == 0);
	crit_enter();
	mcache *c = mcache_tls;
	mspan *s = c->alloc[spc];
	void *p = mspan_next_free_fast(s);
	if (unlikely(!p)) {
		crit_exit();
		return alloc_small_slow(spc, size, NULL, 0, mask, (struct site){t->name, __builtin_frame_address(0)});
	}
	if (mask && unlikely(!heapbits_mask(s, (uintptr_t)p, mask)))
		heapbits_mask_slow((uintptr_t)p, s->elemsize, mask);
	owner_add(&c->nmalloc[s->sizeclass], 1);
	if (s->needzero)
		zero_words(p, align_up(size, 8) >> 3);
	bool sample = mcache_sample_due(c, s->elemsize);
	crit_exit();
	if (unlikely(sample))
		return mprof_sample(p, class_to_size[spc >> 1], t->name, true, __builtin_frame_address(0));
	return p;
}

void *gort_new_array(const gort_type *t, size_t n)
{
	return new_array(t, n, __builtin_frame_address(0));
}
