/*
 * arena.h: the heap's address space, 64 MiB arenas, and the arena index.
 *
 * Every arena has a heaparena record mapping each of its 8192 pages to the
 * mspan that owns it.  The index is two levels (l1 of 2^ARENA_L1_BITS
 * entries, l2 blocks of 2^ARENA_L2_BITS) over the 48-bit address space; on
 * 64-bit Linux l1 has one entry, as in Go.  L2 blocks are mapped at the
 * first arena they cover, not kept in .bss: a 16 MiB .bss would make the
 * library's own mapping big enough for the kernel to align it to 2 MiB,
 * and where it lands decides where libc lands (its resident text varies
 * by ~200 KiB with that).  Index entries and
 * spans[] entries only go from NULL to non-NULL or between spans, are
 * written under the heap lock and published with release stores, so
 * span_of() takes no lock: one shift, two dependent loads (three with an
 * L1 level).  A spans[] entry may be stale (a freed span):
 * callers check the span's state and bounds.
 */
#ifndef GORT_ARENA_H
#define GORT_ARENA_H

#include "atomic.h"
#include "mspan.h"
#include "rt.h"

/* Heap bits: one bit per heap word, set where an object of the collected
 * heap may hold a pointer (Go's heap bitmap).  Written by the allocating
 * thread for the words of the object it hands out (small scan spans only;
 * large objects describe themselves in their span), read by the markers
 * with the world stopped.  Spans start on page boundaries, so a span's bits
 * are whole words and two spans never share one. */
#define HEAPBITS_WORDS (ARENA_BYTES / 8 / 64)

typedef struct heaparena {
	mspan *spans[PAGES_PER_ARENA];
	uint64_t heapbits[HEAPBITS_WORDS]; /* demand-paged: 1 MiB reserved per arena */
} heaparena;

#define ARENA_L2_ENTRIES ((uintptr_t)1 << ARENA_L2_BITS)
GORT_HIDDEN extern heaparena **arena_l1[1 << ARENA_L1_BITS];

/* The span record for the page holding p, possibly stale; NULL if p is not
 * in any arena. */
GORT_INLINE mspan *span_of(uintptr_t p)
{
	uintptr_t ai = p >> ARENA_SHIFT;
	if (unlikely(ai >> (ARENA_L1_BITS + ARENA_L2_BITS)))
		return NULL;
	/* The L2 pointer does not depend on p: its load overlaps the rest. */
	heaparena **l2 = load_acquire(&arena_l1[ai >> ARENA_L2_BITS]);
	if (unlikely(!l2))
		return NULL;
	heaparena *ha = load_acquire(&l2[ai & (ARENA_L2_ENTRIES - 1)]);
	if (unlikely(!ha))
		return NULL;
	return load_acquire(&ha->spans[(p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)]);
}

/* The arena record of p, which must be in the heap. */
GORT_INLINE heaparena *arena_of(uintptr_t p)
{
	uintptr_t ai = p >> ARENA_SHIFT;
	return load_acquire(&arena_l1[ai >> ARENA_L2_BITS])[ai & (ARENA_L2_ENTRIES - 1)];
}

/* Lowest and highest heap addresses ever mapped (a cheap pre-filter for
 * conservative pointers). */
GORT_HIDDEN extern uintptr_t arena_heap_lo, arena_heap_hi;

/* span_of, but only for a live span holding p in its object area. */
GORT_HIDDEN mspan *span_of_heap(uintptr_t p);

/* The object containing p: its base, span and index; false if p is not
 * inside an allocated heap object.  Lock-free, O(1). */
GORT_HIDDEN bool find_object(uintptr_t p, uintptr_t *base, mspan **sp, uint32_t *idx);

/* Under a limit on what the process may map (RLIMIT_AS, or RLIMIT_DATA,
 * which counts private writable mappings: os_address_space_limit), the
 * heap keeps to a window at the first hint, a multiple of
 * ARENA_WINDOW_BYTES at least as big as the limit, and grows
 * ARENA_STEP_BYTES at a time instead of an arena at a time: a reservation
 * of all the address space the page allocator could cover (~300 MiB) or a
 * 64 MiB arena would take much of what a limited program may map.  So it
 * does under strict overcommit accounting
 * (vm.overcommit_memory=2), which charges a whole read-write arena to the
 * system's commit limit however little of it is used; its window covers
 * RAM and swap. */
#define ARENA_WINDOW_BYTES ((uintptr_t)64 << 30)
#define ARENA_STEP_BYTES ((uintptr_t)4 << 20) /* one page-allocator chunk */

/* Called once, by mheap_init before any growth: the heap addresses
 * arenas may take, [*lo, *hi): all of them, or the window above. */
GORT_HIDDEN void arena_init(uintptr_t *lo, uintptr_t *hi);
/* What the heap grows by: ARENA_BYTES, or ARENA_STEP_BYTES in a window. */
GORT_HIDDEN uintptr_t arena_grow_unit(void);
/* Reserves and maps at least bytes (a multiple of arena_grow_unit()) of
 * fresh address space aligned to that unit, and registers its arenas.
 * Heap lock held.  Returns the base, or 0 when the OS refuses. */
GORT_HIDDEN uintptr_t arena_grow(uintptr_t bytes);
/* Unmaps what the last arena_grow returned, which the heap could not use
 * (its page-allocator metadata could not be mapped).  Heap lock held. */
GORT_HIDDEN void arena_ungrow(uintptr_t base, uintptr_t bytes);
/* Points every page of s at s (release stores).  Caller owns those pages. */
GORT_HIDDEN void arena_set_spans(mspan *s);
/* The same for the pages of [p, end) only (a span grown in place). */
GORT_HIDDEN void arena_set_span_pages(mspan *s, uintptr_t p, uintptr_t end);
/* Bytes of address space mapped for the heap, and of arena metadata. */
GORT_HIDDEN uintptr_t arena_heap_bytes(void);
GORT_HIDDEN uintptr_t arena_meta_bytes(void);

#endif
