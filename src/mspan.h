/*
 * mspan.h: a span, a run of pages holding objects of one size class.
 *
 * All span metadata lives out of band, in the mspan record (fixalloc'd):
 * nothing is ever written into user memory.  Per object there are three
 * bits, in three bitmaps of nwords 64-bit words each, stored interleaved
 * word by word (span_alloc_word, span_local_word, span_remote_word):
 *   alloc_bits    allocated as of the last sweep (valid for idx >= freeindex)
 *   freed_local   freed by the owning thread since the last sweep (owner only)
 *   freed_remote  freed by any other thread since the last sweep (atomic OR)
 * An object idx is allocated iff (idx < freeindex || alloc_bit) and neither
 * freed bit is set.  alloc_cache holds the complement of the alloc bits from
 * freeindex to the next multiple of 64, so the fast path is a ctz; in a
 * span of one word (nelems <= 64) it covers every slot, so a fast path
 * that fails there means the span is dry.  freeindex only grows between
 * sweeps, except by one step back when the owner frees the object its
 * current span handed out last (free.c): that object's alloc bit is clear,
 * so it alone changes state.
 *
 * Sweeping (mspan_sweep) folds the freed bits into alloc_bits and resets
 * freeindex to 0; it is done by whoever holds the span exclusively:
 *
 * where (atomic)     holder                     frees by other threads
 * SPAN_CACHED        owner's mcache: its        set freed_remote only
 *                    current span of the class,
 *                    or one it keeps (mcache.h)
 * SPAN_PARTIAL       its mcentral (on or being  set freed_remote only
 *                    taken off the partial list)
 * SPAN_FULL          nobody: too few free      set freed_remote, count in
 *                    slots at the last sweep    pending; the free that makes
 *                                               it reach span_reuse_min CASes
 *                                               FULL->PARTIAL and lists it
 * SPAN_LARGE         nobody (one object)        the freer that sets the bit
 *                                               frees the span (decided by
 *                                               sizeclass 0, never by where)
 *
 * Transitions: FULL/PARTIAL -> CACHED (mcentral_cache_span), CACHED ->
 * PARTIAL/FULL (mcentral_uncache_span), FULL -> PARTIAL (a free, or the
 * uncacher seeing a racing free).  The FULL handshake is Dekker-style with
 * seq_cst on both sides, so a free racing with the uncache is never lost.
 *
 * state (atomic) says whether the span record describes live heap memory;
 * it is published last (release) when a span is made and cleared first when
 * it is freed, so lock-free readers (span_of, free) check it before trusting
 * the other fields.  free reads it in one word (gate) with kind and the
 * count of sampled objects.
 */
#ifndef GORT_MSPAN_H
#define GORT_MSPAN_H

#include "atomic.h"
#include "rt.h"
#include <stddef.h>

#define SPAN_REUSE_SHIFT 3 /* reuse a span once 1/8 of its slots are free */

enum mspan_state { MSPAN_DEAD = 0, MSPAN_INUSE = 1 };
enum mspan_where { SPAN_CACHED = 1, SPAN_PARTIAL, SPAN_FULL, SPAN_LARGE };
enum mspan_kind { SPAN_MANUAL = 0, SPAN_GC = 1 }; /* gort_malloc heap / collected heap */

struct mcache;
struct mcentral;

/* Layout: the first cache line holds everything the allocation and free
 * fast paths read; the bitmaps follow, interleaved per word (alloc, local,
 * remote) so that one free touches one line of them.  Records are 64-byte
 * aligned (mheap's fixallocs). */
typedef struct mspan {
	/* line 0: the hot fields */
	uintptr_t base;            /* first byte */
	uintptr_t elemsize;        /* object size (large: npages * PAGE_BYTES) */
	uint64_t alloc_cache;      /* owner only */
	struct mcache *owner;      /* atomic; set and cleared by the owner only */
	uint32_t freeindex;        /* owner writes (relaxed); freers read */
	uint32_t nelems;
	uint32_t divmagic;         /* obj_index multiplier; 0 for large spans */
	uint32_t pending;          /* atomic: frees counted since parked FULL */
	/* gort_free reads these three as one word (gate) and takes its fast
	 * path only on SPAN_GATE_MANUAL: a live manual span, nothing sampled. */
	union {
		struct {
			uint8_t kind;      /* enum mspan_kind */
			uint8_t state;     /* enum mspan_state, atomic */
			uint16_t profiled; /* sampled objects in the span (mprof.c: prof_lock; read relaxed) */
		};
		uint32_t gate;
	};
	uint8_t sizeclass;         /* 0 = large */
	uint8_t where;             /* enum mspan_where, atomic */
	uint8_t nwords;            /* words per bitmap */
	uint8_t needzero;          /* free slots may hold old data */
	uint8_t spanclass;         /* sizeclass << 1 | noscan */
	uint8_t bucket;            /* record size bucket (mheap's fixalloc) */
	uint16_t nlocal;           /* owner only: frees by the owner since the last sweep */
	uint16_t trigger;          /* owner only: a kept span's nlocal that wakes mcache_kept_free; 0 = none */
	/* line 1: the rest */
	uint32_t alloc_count;      /* allocated objects at the last sweep */
	uint8_t kept_ready;        /* owner only: a kept span with enough free slots to reuse */
	uint8_t reclaim;           /* atomic: enum span_reclaim (mcache.c, idle owners) */
	uint8_t busy;              /* atomic: the scavenger is looking at this kept span */
	uint8_t released;          /* kept span whose pages the scavenger released (under busy) */
	uint64_t *sampled;         /* small spans: a bit per sampled object (mprof.c); allocated at
				    * the record's first sample and kept with it, all bits clear
				    * whenever profiled is 0 */
	uintptr_t npages;
	uintptr_t limit;           /* end of object data: base + nelems * elemsize */
	struct mspan *next, *prev; /* mcentral partial list (its lock), or the owner's kept list */
	struct mcentral *central;  /* the list a small span returns to */
	/* The collected heap (kind SPAN_GC) only: */
	uint32_t sweepgen;         /* == gc.sweepgen: swept this cycle (mgc.h) */
	uint64_t *heapbits;        /* small scan span: its first heap-bits word, if the
				    * span is within one arena; else NULL */
	uint32_t gcflags;          /* large objects: LARGE_* below */
	const struct gort_type *gctype; /* large typed object: its element type */
	uintptr_t gcsize;          /* large object: bytes asked for (scan bound) */
	uint64_t bits[];           /* per word w: alloc, freed_local, freed_remote */
} mspan;

/* Whether the scavenger may release a manual span's pages.  A kept span
 * (mcache.h) is open to it: it releases the pages of one whose objects
 * other threads have all freed while its owner is idle, and the owner
 * claims a kept span back before it takes it off its list (mcache.c says
 * how the two agree without an atomic read-modify-write on the owner's
 * side).  Every other span is held. */
enum span_reclaim {
	SPAN_RECLAIM_OPEN = 0, /* on its owner's kept list */
	SPAN_RECLAIM_HELD = 1, /* not kept, or claimed back by its owner */
};

/* The gate word of a live manual span holding no sampled object. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SPAN_GATE_MANUAL ((uint32_t)SPAN_MANUAL | (uint32_t)MSPAN_INUSE << 8)
#else
#define SPAN_GATE_MANUAL ((uint32_t)SPAN_MANUAL << 24 | (uint32_t)MSPAN_INUSE << 16)
#endif
_Static_assert(offsetof(mspan, kind) == offsetof(mspan, gate) && offsetof(mspan, state) == offsetof(mspan, gate) + 1 &&
		       offsetof(mspan, profiled) == offsetof(mspan, gate) + 2,
	       "the gate word is kind, state, profiled");

/* A large GC object's layout (gcflags). */
#define LARGE_CONSERVATIVE 1u /* every word may be a pointer */
#define LARGE_TYPED 2u        /* an array of gctype, gcsize bytes */

/* Bitmap words by index, computed rather than loaded. */
#define span_alloc_word(s, w) ((s)->bits[3 * (w)])
#define span_local_word(s, w) ((s)->bits[3 * (w) + 1])
#define span_remote_word(s, w) ((s)->bits[3 * (w) + 2])
/* Spans of the collected heap are never freed into, so the collector uses
 * the freed_local and freed_remote words as its mark and checkmark bits:
 * an object is allocated iff idx < freeindex or its alloc bit is set, and
 * marked in the current cycle iff its mark bit is set (set atomically by
 * the markers; cleared by the sweep that turns mark bits into alloc bits). */
#define span_mark_word(s, w) ((s)->bits[3 * (w) + 1])
#define span_checkmark_word(s, w) ((s)->bits[3 * (w) + 2])

/* Sets up s for objects of sizeclass (0 = one large object) over
 * [base, base + npages pages).  Does not publish state. */
GORT_HIDDEN void mspan_init(mspan *s, uintptr_t base, uintptr_t npages, unsigned sizeclass);
/* Go's nextFreeIndex: the next free slot at or after freeindex, advancing
 * the cache; nelems when the span has no free slot before its next sweep. */
GORT_HIDDEN uint32_t mspan_next_free_index(mspan *s);
/* Folds freed bits into alloc bits; caller holds s exclusively.
 * Returns the number of free slots.  *nfreed gets the objects reclaimed.
 * Spans of one bitmap word (most classes above 128 bytes) take a shorter
 * path, chosen here so that the refill's common case makes one call. */
GORT_HIDDEN uint32_t mspan_sweep_one_word(mspan *s, uint32_t *nfreed);
GORT_HIDDEN uint32_t mspan_sweep_words(mspan *s, uint32_t *nfreed);
GORT_INLINE uint32_t mspan_sweep(mspan *s, uint32_t *nfreed)
{
	return s->nwords == 1 ? mspan_sweep_one_word(s, nfreed) : mspan_sweep_words(s, nfreed);
}
/* Whether object idx is allocated, from any thread (racy but safe reads). */
GORT_HIDDEN bool mspan_is_allocated(const mspan *s, uint32_t idx);
/* Objects in a span of sizeclass (not 0) over npages: a collected-heap or
 * a manual-heap span (sizeclass.h). */
GORT_HIDDEN uint32_t span_nelems(unsigned sizeclass, uintptr_t npages);
/* Number of bitmap words for n objects. */
GORT_INLINE unsigned mspan_words(uint32_t n) { return (n + 63) / 64; }

/* Fewest free slots worth handing a span to an allocating cache: reviving
 * a span for one slot would cycle it through the central list per object. */
GORT_INLINE uint32_t span_reuse_min(uint32_t nelems)
{
	return (nelems >> SPAN_REUSE_SHIFT) + 1;
}

/* Object index of byte offset off, by multiply-shift (never division). */
GORT_INLINE uint32_t obj_index_of(const mspan *s, uintptr_t off)
{
	return (uint32_t)(((uint64_t)off * s->divmagic) >> 32);
}

/* The inlined fast path (Go's nextFreeFast): a slot from the alloc cache, or
 * NULL when the cache is empty or would need refilling. */
GORT_INLINE void *mspan_next_free_fast(mspan *s)
{
	uint64_t cache = s->alloc_cache;
	if (likely(cache != 0)) {
		unsigned bit = ctz64(cache);
		uint32_t idx = s->freeindex + bit;
		uint32_t next = idx + 1;
		if (likely(idx < s->nelems) && ((next & 63) != 0 || next == s->nelems)) {
			s->alloc_cache = (cache >> bit) >> 1;
			store_relaxed(&s->freeindex, next);
			void *p = (void *)(s->base + (uintptr_t)idx * s->elemsize);
			if (p == NULL) /* never: lets the callers' NULL test fold away */
				__builtin_unreachable();
			return p;
		}
	}
	return NULL;
}

#endif
