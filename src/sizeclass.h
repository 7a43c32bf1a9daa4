/*
 * sizeclass.h: the small-object size classes and the lookups built on them.
 *
 * Owns: the generated tables (sizeclasses.inc, written by
 * tools/mksizeclasses.c with Go's algorithm; regenerate with
 * `make sizeclasses`), size -> class and offset -> object-index helpers, and
 * the class search for over-aligned requests.
 *
 * Invariants (checked by the generator and by tests/unit/test_sizeclass.c):
 *  - Class 0 means "large": one object over MAX_SMALL_SIZE in its own span;
 *    its table entries are 0.  Classes 1..NUM_SIZE_CLASSES-1 have strictly
 *    ascending sizes, from 8 up to MAX_SMALL_SIZE.
 *  - Every class size is a multiple of 8, sizes >= 32 of 16, and sizes above
 *    SMALL_SIZE_MAX of LARGE_SIZE_DIV (which is what makes the coarse table
 *    exact).  Since spans start page-aligned, objects inherit these
 *    alignments.
 *  - A span of class c is class_to_allocnpages[c] pages holding
 *    class_to_nelems[c] objects (manual heap: manual_allocnpages[c], a
 *    multiple, holding manual_nelems[c]); its unused tail is at most 1/8 of
 *    the span.
 *  - obj_index with class_to_divmagic[c] equals offset / size for every
 *    offset in [0, span bytes] of either span.
 */
#ifndef GORT_SIZECLASS_H
#define GORT_SIZECLASS_H

#include "rt.h"

/* Lookup granularity: 8 bytes up to SMALL_SIZE_MAX, 128 bytes above it. */
#define SMALL_SIZE_MAX 1024 /* bytes */
#define SMALL_SIZE_DIV 8    /* bytes */
#define LARGE_SIZE_DIV 128  /* bytes */
#define SIZE_TO_CLASS8_LEN (SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1)                     /* 129 */
#define SIZE_TO_CLASS128_LEN ((MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1) /* 249 */

extern GORT_HIDDEN const uint32_t class_to_size[NUM_SIZE_CLASSES];       /* bytes per object */
extern GORT_HIDDEN const uint8_t class_to_allocnpages[NUM_SIZE_CLASSES]; /* pages per span */
extern GORT_HIDDEN const uint16_t class_to_nelems[NUM_SIZE_CLASSES];     /* objects per span */
extern GORT_HIDDEN const uint32_t class_to_divmagic[NUM_SIZE_CLASSES];   /* UINT32_MAX/size + 1 */
/* The manual heap's spans: Go's span of the class repeated until it holds
 * 32 objects or would pass 8 pages (tools/mksizeclasses.c says why). */
extern GORT_HIDDEN const uint8_t manual_allocnpages[NUM_SIZE_CLASSES];
extern GORT_HIDDEN const uint16_t manual_nelems[NUM_SIZE_CLASSES];
/* Entry i: smallest class holding SMALL_SIZE_DIV*i bytes (entry 0: class 1). */
extern GORT_HIDDEN const uint8_t size_to_class8[SIZE_TO_CLASS8_LEN];
/* Entry i: smallest class holding SMALL_SIZE_MAX + LARGE_SIZE_DIV*i bytes. */
extern GORT_HIDDEN const uint8_t size_to_class128[SIZE_TO_CLASS128_LEN];

/*
 * The class for a small request, 0 <= size <= MAX_SMALL_SIZE (0 gets class 1,
 * like 1).  Sizes 1017..1023 take the coarse table, whose entry 0 is 1024:
 * Go gets there by letting size - 1024 wrap and + 127 wrap back; adding
 * before subtracting reaches the same index without wrapping.
 */
GORT_INLINE unsigned size_to_class(uintptr_t size)
{
	if (size <= SMALL_SIZE_MAX - SMALL_SIZE_DIV)
		return size_to_class8[(size + SMALL_SIZE_DIV - 1) / SMALL_SIZE_DIV];
	return size_to_class128[(size + LARGE_SIZE_DIV - 1 - SMALL_SIZE_MAX) / LARGE_SIZE_DIV];
}

/*
 * offset / size for a byte offset within a span (0 <= offset <= span bytes),
 * by multiplication: divmagic = ceil(2^32 / size) is exact over that range
 * (the generator tries every offset).  divmagic 0 (large spans) maps every
 * offset to object 0.
 */
GORT_INLINE uint32_t obj_index(uintptr_t offset, uint32_t divmagic)
{
	return (uint32_t)(((uint64_t)offset * divmagic) >> 32);
}

/*
 * The smallest class that holds size bytes at an address that is a multiple
 * of align (a power of two): the first class from size_to_class(size) whose
 * size is a multiple of align.  Spans start on 8 KiB page boundaries and
 * object i sits at base + i*size, so when align <= PAGE_BYTES divides size it
 * divides every object's address.  Returns 0 (no small class) when
 * size > MAX_SMALL_SIZE, align > PAGE_BYTES or align is not a power of two.
 */
GORT_HIDDEN unsigned size_class_for_alignment(uintptr_t size, uintptr_t align);

#endif
