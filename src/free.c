/*
 * free.c: explicit free for the manual heap.
 *
 * A free marks the object in its span's freed bitmap; the span's holder
 * folds those bits into its alloc bits when it sweeps (mspan.h).  The
 * owning thread marks plainly (freed_local); any other thread marks with
 * one atomic OR (freed_remote) and, if that span was parked FULL, lists it
 * again so its new free slot can be found.  No lock on either path except
 * that revival, and large objects, whose pages go straight back to the
 * page heap.  One exception to "marks": the owner freeing the object its
 * current span handed out last steps the span back over it instead, so
 * that it is the next one handed out (mspan.h states the invariant).
 *
 * Validation is part of the fast path and costs a few compares: the
 * pointer must hit a live manual span at an object boundary, and the object
 * must be allocated and not already freed.  Otherwise the program stops
 * with a Go-style fatal error naming the address (GORTDEBUG=badfree=0
 * reports and ignores instead).
 */
#include "gort.h"
#include "arena.h"
#include "check.h"
#include "debugvars.h"
#include "mcache.h"
#include "mheap.h"
#include "scavenge.h"
#include "mprof.h"

static GORT_NOINLINE __attribute__((cold)) void bad_free(const char *what, uintptr_t p)
{
	debugvars_init(); /* the first call into gort may be a bad free */
	if (load_relaxed(&debug.badfree))
		gort_throw_addr(what, p);
	print_str("gort: ");
	print_str(what);
	print_str(" ");
	print_hex(p);
	print_str(" (ignored: GORTDEBUG=badfree=0)\n");
}

/* After the fetch_or below the object is free and its span may be swept,
 * freed and recycled by other threads at any moment, so everything read
 * from s is read before it, except the atomic where. */
static GORT_NOINLINE void free_remote(mcache *c, mspan *s, uintptr_t p, uint32_t idx)
{
	unsigned w = idx / 64;
	uint64_t m = (uint64_t)1 << (idx & 63);
	unsigned cls = s->sizeclass;
	uintptr_t elemsize = s->elemsize;
	uint32_t reuse_min = span_reuse_min(s->nelems);
	bool allocated = idx < load_acquire(&s->freeindex) || (load_relaxed(&span_alloc_word(s, w)) & m);
	if (unlikely(!allocated || (load_relaxed(&span_local_word(s, w)) & m))) {
		bad_free("gort_free: double free", p);
		return;
	}
	if (unlikely(fetch_or_seqcst(&span_remote_word(s, w), m) & m)) {
		bad_free("gort_free: double free", p);
		return;
	}
	if (cls == 0) {
		/* The one object of a large span: whoever set its bit owns the
		 * span now.  (Never decide this from where: by the time it is
		 * read, a small span may have been emptied, freed and its record
		 * reused for somebody else's large object.) */
		fetch_add_relaxed(&mheap_.large_frees, 1);
		fetch_add_relaxed(&mheap_.large_free_bytes, elemsize);
		mheap_free_span(s);
		scavenger_kick();
		return;
	}
	if (c != &mcache_empty)
		owner_add(&c->nfree[cls], 1);
	else
		mcache_count_orphan_free(cls);
	uint8_t where = load_seqcst(&s->where);
	if (where == SPAN_FULL && fetch_add_acqrel(&s->pending, 1) + 1 == reuse_min) {
		/* A successful CAS proves s is a live FULL span (possibly a
		 * recycled record of any class or kind, which a spurious
		 * revival does not harm), and orders its fields before our read
		 * of its central list. */
		uint8_t full = SPAN_FULL;
		if (cas_seqcst(&s->where, &full, SPAN_PARTIAL)) {
			mcentral_push_partial(s->central, s);
			scavenger_kick();
		}
	}
}

GORT_INLINE void free_object(mspan *s, uintptr_t p, uint32_t idx);
static GORT_NOINLINE void free_checked(mspan *s, uintptr_t p);

void gort_free(void *ptr)
{
	uintptr_t p = (uintptr_t)ptr;
	if (!p)
		return;
	mspan *s = span_of(p);
	if (unlikely(!s)) {
		bad_free("gort_free: invalid pointer", p);
		return;
	}
	/* A live manual span with no sampled object, in one load (mspan.h);
	 * anything else is told apart by free_checked. */
	if (unlikely(load_acquire(&s->gate) != SPAN_GATE_MANUAL)) {
		free_checked(s, p); /* a tail call: the fast path saves no registers */
		return;
	}
	uintptr_t off = p - s->base;
	uint32_t idx = obj_index_of(s, off);
	/* An object start inside the span: the index is in range and maps
	 * back to the offset exactly (a wrapped or huge offset cannot). */
	if (unlikely(idx >= s->nelems || (uintptr_t)idx * s->elemsize != off)) {
		bad_free("gort_free: invalid pointer", p);
		return;
	}
	free_object(s, p, idx);
}

/* The span's gate says something other than "live manual span, nothing
 * sampled": a stale pointer, a pointer into the collected heap, or a span
 * holding sampled objects, in the order the fast path would have found
 * them.  A sampled object leaves the profile before it is free, since
 * once free its address may be handed out (and sampled) again at once. */
static GORT_NOINLINE void free_checked(mspan *s, uintptr_t p)
{
	if (load_acquire(&s->state) != MSPAN_INUSE) {
		/* The page belonged to a span that has been freed: a stale
		 * pointer, most likely freed before. */
		bad_free("gort_free: double free", p);
		return;
	}
	uintptr_t off = p - s->base;
	uint32_t idx = obj_index_of(s, off);
	if (idx >= s->nelems || (uintptr_t)idx * s->elemsize != off) {
		bad_free("gort_free: invalid pointer", p);
		return;
	}
	if (s->kind != SPAN_MANUAL) {
		bad_free("gort_free: pointer to a garbage-collected object", p);
		return;
	}
	if (mprof_is_sampled(s, idx))
		mprof_free_manual(p);
	free_object(s, p, idx);
}

GORT_INLINE void free_object(mspan *s, uintptr_t p, uint32_t idx)
{
	mcache *c = mcache_tls;
	if (load_relaxed(&s->owner) != c) {
		free_remote(c, s, p, idx);
		return;
	}
	/* The owner: plain bit operations, no atomics. */
	uintptr_t w = idx / 64; /* pointer-sized: the three words fold into one address */
	uint64_t m = (uint64_t)1 << (idx & 63);
	uint64_t fl = span_local_word(s, w);
	bool allocated = idx < s->freeindex || (span_alloc_word(s, w) & m);
	if (unlikely(!allocated || ((fl | load_relaxed(&span_remote_word(s, w))) & m))) {
		bad_free("gort_free: double free", p);
		return;
	}
	if (idx + 1 == s->freeindex && (idx & 63) != 63 && c->manual[s->sizeclass] == s) {
		/* The object the current span handed out last: step freeindex
		 * back over it, so that it is the next one handed out (a
		 * temporary freed at once reuses the same, cache-hot memory,
		 * and a thread that allocates and frees one object at a time
		 * stays on one slot).  Its alloc bit is clear, as the cache
		 * offered it; the cache's bits shift up one (none is lost:
		 * idx + 1 is not a word boundary).  It may hold data now. */
		s->alloc_cache = s->alloc_cache << 1 | 1;
		s->needzero = 1;
		store_relaxed(&s->freeindex, idx);
		owner_add(&c->nfree[s->sizeclass], 1);
		return;
	}
	store_relaxed(&span_local_word(s, w), fl | m);
	owner_add(&c->nfree[s->sizeclass], 1);
	uint16_t n = (uint16_t)(s->nlocal + 1);
	store_relaxed(&s->nlocal, n); /* the scavenger may read it (mcache.c, idle owners) */
	if (unlikely(n == s->trigger))
		mcache_kept_free(c, s); /* a kept span became ready or empty */
}
