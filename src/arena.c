/*
 * arena.c: arena reservation and the two-level arena index (see arena.h).
 *
 * Arenas are reserved 64 MiB-aligned, first at Go's hint addresses
 * (0x00c000000000 upward, so heap pointers are easy to recognise in a
 * debugger) and otherwise wherever the kernel has room.  Under an
 * address-space limit the heap stays in a window at the first hint and is
 * mapped 4 MiB at a time (arena.h), each step exactly where the last one
 * ended unless something else is mapped there.  Arena metadata and
 * index blocks come from os_alloc: they are never freed, so a lock-free
 * reader can never see them disappear.  Writers hold the heap lock.
 */
#include "arena.h"
#include "check.h"
#include "debugvars.h"
#include "os.h"

heaparena **arena_l1[1 << ARENA_L1_BITS];
GORT_NOSCAN_DATA uintptr_t arena_heap_lo, arena_heap_hi; /* heap lock; read racily as a filter */

#define ARENA_FIRST_HINT ((uintptr_t)0x00c0 << 32)
GORT_NOSCAN_DATA static uintptr_t arena_hint = ARENA_FIRST_HINT;
static uintptr_t heap_mapped_bytes;
static uintptr_t meta_bytes;
static uintptr_t window_hi; /* 0, or the end of the window the heap keeps to */

void arena_init(uintptr_t *lo, uintptr_t *hi)
{
	uint64_t need = os_address_space_limit();
	if (os_overcommit_strict() && os_alloc_cap_bytes() > need)
		need = os_alloc_cap_bytes();
	/* The window may not pass the top of the address space. */
	uint64_t room = ((uint64_t)1 << HEAP_ADDR_BITS) - ARENA_FIRST_HINT;
	*lo = 0;
	*hi = (uintptr_t)1 << HEAP_ADDR_BITS;
	if (!need || need >= room)
		return;
	window_hi = ARENA_FIRST_HINT + (uintptr_t)align_up(need, ARENA_WINDOW_BYTES);
	if (window_hi - ARENA_FIRST_HINT > room)
		window_hi = ARENA_FIRST_HINT + room;
	*lo = ARENA_FIRST_HINT;
	*hi = window_hi;
}

uintptr_t arena_grow_unit(void)
{
	return window_hi ? ARENA_STEP_BYTES : ARENA_BYTES;
}

/* In the window: the next bytes at the hint, or past whatever is mapped
 * there; 0 when the window is used up or the kernel has no room. */
static uintptr_t window_grow(uintptr_t bytes)
{
	while (arena_hint + bytes <= window_hi) {
		bool no_room;
		if (os_map_exact((void *)arena_hint, bytes, &no_room)) {
			arena_hint += bytes;
			return arena_hint - bytes;
		}
		if (no_room)
			return 0;
		/* Another mapping is in the way: try the next arena. */
		arena_hint = align_up(arena_hint + 1, ARENA_BYTES);
	}
	return 0;
}

/* Where the kernel backs anonymous memory with transparent huge pages
 * unasked (THP "always"), a program's first touch of any 2 MiB of its heap
 * would make all of it resident: a small program's heap would cost 2 MiB
 * or more instead of a few pages.  So the heap's first SMALL_HEAP_BYTES
 * (where a small heap lives: the page allocator is first fit by address)
 * are advised against them; a heap that grows past it gets them where the
 * kernel gives them, and its TLB the benefit.  GORTDEBUG=disablethp=1
 * advises against them everywhere (Go's knob).  Heap lock held; base,
 * bytes: a growth about to be counted in heap_mapped_bytes. */
#define SMALL_HEAP_BYTES ((uintptr_t)16 << 20)
static void no_huge_pages(uintptr_t base, uintptr_t bytes)
{
	if (!load_relaxed(&debug.disablethp)) {
		if (heap_mapped_bytes >= SMALL_HEAP_BYTES)
			return;
		bytes = min_uptr(bytes, SMALL_HEAP_BYTES - heap_mapped_bytes);
	}
	os_no_huge_pages((void *)base, bytes);
}

static bool arena_register(uintptr_t base)
{
	uintptr_t ai = base >> ARENA_SHIFT;
	heaparena ***slot = &arena_l1[ai >> ARENA_L2_BITS];
	heaparena **l2 = *slot;
	if (!l2) {
		/* Up to 32 MiB of address space, but demand-paged: only the
		 * pages holding live entries are ever touched, so (as Go does)
		 * it is not counted as runtime memory (and never in huge
		 * pages: os_alloc). */
		l2 = os_alloc(ARENA_L2_ENTRIES * sizeof(heaparena *));
		if (!l2)
			return false;
		store_release(slot, l2);
	}
	heaparena **hslot = &l2[ai & (ARENA_L2_ENTRIES - 1)];
	if (!*hslot) {
		heaparena *ha = os_alloc(sizeof(heaparena));
		if (!ha)
			return false;
		meta_bytes += sizeof(heaparena);
		store_release(hslot, ha);
	}
	return true;
}

uintptr_t arena_grow(uintptr_t bytes)
{
	GORT_ASSERT(1, bytes % arena_grow_unit() == 0);
	uintptr_t base = 0;
	if (window_hi) {
		base = window_grow(bytes);
		if (!base)
			return 0;
	} else if (arena_hint) {
		void *p = os_reserve((void *)arena_hint, bytes);
		if (p == (void *)arena_hint) {
			base = arena_hint;
			arena_hint += bytes;
			if ((arena_hint >> HEAP_ADDR_BITS) != 0)
				arena_hint = 0;
		} else {
			if (p)
				os_free(p, bytes);
			arena_hint = 0; /* the hint region is taken: stop trying */
		}
	}
	if (!window_hi) {
		if (!base) {
			void *p = os_reserve_aligned(bytes, ARENA_BYTES);
			if (!p)
				return 0;
			base = (uintptr_t)p;
		}
		if ((base + bytes - 1) >> HEAP_ADDR_BITS) {
			os_free((void *)base, bytes);
			return 0;
		}
		if (!os_map((void *)base, bytes)) {
			os_free((void *)base, bytes);
			return 0;
		}
	}
	for (uintptr_t a = align_down(base, ARENA_BYTES); a < base + bytes; a += ARENA_BYTES) {
		if (arena_register(a))
			continue;
		/* No memory for the records (a limit reached, say): out of
		 * memory, not a fatal error.  Records already made stay (they
		 * are never freed); the hint goes back to retry here. */
		os_free((void *)base, bytes);
		if (arena_hint == base + bytes)
			arena_hint = base;
		return 0;
	}
	no_huge_pages(base, bytes);
	heap_mapped_bytes += bytes;
	if (!arena_heap_lo || base < arena_heap_lo)
		store_relaxed(&arena_heap_lo, base);
	if (base + bytes > arena_heap_hi)
		store_relaxed(&arena_heap_hi, base + bytes);
	return base;
}

void arena_ungrow(uintptr_t base, uintptr_t bytes)
{
	os_free((void *)base, bytes);
	heap_mapped_bytes -= bytes;
	if (window_hi && base + bytes == arena_hint)
		arena_hint = base;
}

void arena_set_spans(mspan *s)
{
	arena_set_span_pages(s, s->base, s->base + s->npages * PAGE_BYTES);
}

void arena_set_span_pages(mspan *s, uintptr_t p, uintptr_t end)
{
	while (p < end) {
		uintptr_t ai = p >> ARENA_SHIFT;
		heaparena *ha = arena_l1[ai >> ARENA_L2_BITS][ai & (ARENA_L2_ENTRIES - 1)];
		uintptr_t i = (p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1);
		uintptr_t n = min_uptr(PAGES_PER_ARENA - i, (end - p) >> PAGE_SHIFT);
		/* A recycled record often returns to the pages it had: reading
		 * first spares dirtying the map for large spans. */
		for (uintptr_t k = i; k < i + n; k++)
			if (load_relaxed(&ha->spans[k]) != s)
				store_release(&ha->spans[k], s);
		p += n * PAGE_BYTES;
	}
}

mspan *span_of_heap(uintptr_t p)
{
	mspan *s = span_of(p);
	if (!s || load_acquire(&s->state) != MSPAN_INUSE)
		return NULL;
	if (p < s->base || p >= s->limit)
		return NULL;
	return s;
}

bool find_object(uintptr_t p, uintptr_t *base, mspan **sp, uint32_t *idx)
{
	mspan *s = span_of_heap(p);
	if (!s)
		return false;
	uint32_t i = obj_index_of(s, p - s->base);
	if (!mspan_is_allocated(s, i))
		return false;
	*base = s->base + (uintptr_t)i * s->elemsize;
	*sp = s;
	*idx = i;
	return true;
}

uintptr_t arena_heap_bytes(void)
{
	return heap_mapped_bytes;
}

uintptr_t arena_meta_bytes(void)
{
	return meta_bytes;
}
