/*
 * sizeclass.c: the size-class tables and the aligned-class search (see
 * sizeclass.h for the invariants).
 *
 * The tables themselves come from sizeclasses.inc, generated and self-checked
 * by tools/mksizeclasses.c; never edit them by hand.
 */
#include "sizeclass.h"

#include "sizeclasses.inc"

unsigned size_class_for_alignment(uintptr_t size, uintptr_t align)
{
	if (size > MAX_SMALL_SIZE || !is_pow2(align) || align > PAGE_BYTES)
		return 0;
	/* Sizes ascend, so the first match is also the smallest fit. */
	for (unsigned c = size_to_class(size); c < NUM_SIZE_CLASSES; c++)
		if ((class_to_size[c] & (align - 1)) == 0)
			return c;
	return 0; /* unreachable while MAX_SMALL_SIZE is a multiple of PAGE_BYTES */
}
