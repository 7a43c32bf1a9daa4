/*
 * malloc.c: the allocation entry points of the manual heap
 * (after Go's mallocgc in malloc.go).
 *
 * Small objects (<= 32 KiB): size -> class by table, a slot from the
 * thread's cached span by ctz on its alloc cache; no lock, no syscall, no
 * division.  Everything else (a cache miss, a large object) is in a
 * separate non-inlined slow path.  The collected heap's entry points,
 * and the tiny allocator, are in mallocgc.c.  Memory is cleared only when the caller
 * asked for zeroes and the span may hold old data (needzero): fresh pages
 * from the kernel are never cleared again.
 */
#include "gort.h"
#include "arena.h"
#include "check.h"
#include "debugvars.h"
#include "malloc.h"
#include "mcache.h"
#include "mheap.h"
#include "mprof.h"
#include "os.h"
#include "sizeclass.h"

#include <errno.h>
#include <string.h>

static GORT_NOINLINE void *malloc_small_slow(unsigned cls, size_t size, bool zero, void *fp)
{
	mcache *c = mcache_tls;
	if (unlikely(c == &mcache_empty)) {
		if (mcache_use_late()) {
			/* Not sampled: the thread has no cache to count toward a sample. */
			void *p = mcache_alloc_late(cls, size, zero);
			if (!p)
				errno = ENOMEM;
			return p;
		}
		c = mcache_self();
	}
	void *p = mcache_refill(c, &c->manual[cls], &mheap_.central_manual[cls]);
	if (unlikely(!p)) {
		errno = ENOMEM;
		return NULL;
	}
	owner_add(&c->nmalloc[cls], 1);
	if (zero && c->manual[cls]->needzero)
		memset(p, 0, size);
	if (mcache_sample_due(c, class_to_size[cls]))
		return mprof_sample(p, class_to_size[cls], NULL, false, fp);
	return p;
}

/* fp: the frame of the entry point the program called (for the profiler:
 * its return address is the allocation site), or NULL (ENTRY_FRAME). */
GORT_INLINE void *malloc_small(size_t size, bool zero, void *fp)
{
	unsigned cls = size_to_class(size);
	mcache *c = mcache_tls;
	mspan *s = c->manual[cls];
	void *p = mspan_next_free_fast(s);
	if (unlikely(!p))
		return malloc_small_slow(cls, size, zero, fp);
	owner_add(&c->nmalloc[cls], 1);
	if (zero && s->needzero)
		memset(p, 0, size);
	if (mcache_sample_due(c, s->elemsize))
		return mprof_sample(p, s->elemsize, NULL, false, fp);
	return p;
}

void *malloc_large(size_t size, size_t align, bool zero, void *fp)
{
	/* Past RAM + swap a request cannot be met (glibc's mmap is refused
	 * there too), and its page map alone (0.1%) could exhaust memory. */
	if (unlikely(size > MAX_ALLOC_BYTES) || os_beyond_alloc_cap(size)) {
		errno = ENOMEM;
		return NULL;
	}
	mheap_init();
	uintptr_t npages = align_up(size, PAGE_BYTES) >> PAGE_SHIFT;
	mspan *s = align > PAGE_BYTES ? mheap_alloc_span_aligned(npages, align, SPAN_MANUAL)
				      : mheap_alloc_span(npages, 0, 1, SPAN_MANUAL);
	if (unlikely(!s)) {
		errno = ENOMEM;
		return NULL;
	}
	/* One object, allocated: freeindex past it, nothing in the cache. */
	s->alloc_cache = 0;
	s->alloc_count = 1;
	store_relaxed(&s->freeindex, 1);
	store_seqcst(&s->where, SPAN_LARGE);
	fetch_add_relaxed(&mheap_.large_allocs, 1);
	fetch_add_relaxed(&mheap_.large_alloc_bytes, s->elemsize);
	if (zero && s->needzero)
		memset((void *)s->base, 0, size);
	/* Profiled as the pages it holds, as Go does: a bucket per distinct
	 * request size would make a bucket of nearly every sample. */
	return mprof_count_slow((void *)s->base, s->elemsize, NULL, false, fp);
}

GORT_INLINE void *malloc_fp(size_t size, void *fp)
{
	if (likely(size - 1 < MAX_SMALL_SIZE)) /* 1..32768; 0 wraps to large */
		return malloc_small(size, false, fp);
	if (size == 0)
		return malloc_small(1, false, fp);
	return malloc_large(size, PAGE_BYTES, false, fp);
}

void *gort_malloc(size_t size)
{
	return malloc_fp(size, ENTRY_FRAME());
}

void *gort_calloc(size_t n, size_t size)
{
	size_t total;
	if (unlikely(__builtin_mul_overflow(n, size, &total))) {
		errno = ENOMEM;
		return NULL;
	}
	void *fp = ENTRY_FRAME();
	if (likely(total - 1 < MAX_SMALL_SIZE))
		return malloc_small(total, true, fp);
	if (total == 0)
		return malloc_small(1, true, fp);
	return malloc_large(total, PAGE_BYTES, true, fp);
}

void *gort_aligned_alloc(size_t align, size_t size)
{
	return malloc_aligned_fp(align, size, __builtin_frame_address(0));
}

void *malloc_aligned_fp(size_t align, size_t size, void *fp)
{
	if (unlikely(!is_pow2(align))) {
		errno = EINVAL;
		return NULL;
	}
	if (size == 0)
		size = 1;
	if (align <= 8)
		return malloc_fp(size, fp);
	if (unlikely(align > MAX_ALLOC_BYTES || size > MAX_ALLOC_BYTES - align)) {
		errno = ENOMEM;
		return NULL;
	}
	if (size <= MAX_SMALL_SIZE && align <= PAGE_BYTES) {
		/* A class whose size is a multiple of align has every object
		 * aligned, since spans start on a page boundary. */
		unsigned cls = size_class_for_alignment(size, align);
		if (cls)
			return malloc_small(class_to_size[cls], false, fp);
	}
	return malloc_large(size, align > PAGE_BYTES ? align : PAGE_BYTES, false, fp);
}

/* The span of a pointer the caller claims came from gort_malloc. */
static mspan *owning_span(const void *ptr, const char *who)
{
	uintptr_t p = (uintptr_t)ptr;
	mspan *s = span_of_heap(p);
	if (!s || s->kind != SPAN_MANUAL || obj_index_of(s, p - s->base) * s->elemsize != p - s->base)
		gort_throw_addr(who, p);
	return s;
}

size_t gort_usable_size(const void *p)
{
	if (!p)
		return 0;
	return owning_span(p, "gort_usable_size: invalid pointer")->elemsize;
}

void *gort_realloc(void *p, size_t size)
{
	void *fp = __builtin_frame_address(0);
	if (!p)
		return malloc_fp(size, fp);
	if (size == 0) {
		gort_free(p);
		return NULL;
	}
	mspan *s = owning_span(p, "gort_realloc: invalid pointer");
	size_t old = s->elemsize;
	/* Keep the object when the new size still uses its class well. */
	if (size <= old && size > old / 2)
		return p;
	/* A large object that stays large is resized in place when it can:
	 * grown over free pages right after it (no copy, and never the old and
	 * the new block resident together), or shrunk by giving its tail
	 * back.  To the profiler a growth allocates the bytes added (a sample
	 * then records the whole object anew); a shrunk sample keeps the size
	 * it recorded. */
	if (s->sizeclass == 0 && size > MAX_SMALL_SIZE && size <= MAX_ALLOC_BYTES && !os_beyond_alloc_cap(size)) {
		uintptr_t npages = align_up(size, PAGE_BYTES) >> PAGE_SHIFT;
		if (size < old) {
			mheap_shrink_large(s, npages);
			return p;
		}
		bool sampled = load_acquire(&s->gate) != SPAN_GATE_MANUAL;
		if (mheap_grow_large(s, npages)) {
			mcache *c = mcache_tls;
			if (c == &mcache_empty || !mcache_sample_due(c, s->elemsize - old))
				return p;
			if (sampled)
				mprof_free_manual((uintptr_t)p);
			return mprof_sample(p, s->elemsize, NULL, false, fp);
		}
	}
	/* A large object grown by realloc is a buffer being built and will
	 * likely grow again: a quarter more room makes the copies of a buffer
	 * grown in small steps geometric (O(1) per byte) instead of one per
	 * page.  The room is not touched, so it costs address space, and
	 * resident memory only where reused pages were resident already. */
	size_t want = size;
	if (size > old && size > MAX_SMALL_SIZE && size <= MAX_ALLOC_BYTES / 2)
		want = size + size / 4;
	void *q = malloc_fp(want, fp);
	if (!q)
		return NULL;
	memcpy(q, p, size < old ? size : old);
	gort_free(p);
	return q;
}
