/*
 * malloc.h: internal allocation entry points shared by the faces.
 */
#ifndef GORT_MALLOC_H
#define GORT_MALLOC_H

#include "rt.h"

#define TINY_SIZE_CLASS 2 /* the 16-byte class */
#define TINY_SPAN_CLASS (TINY_SIZE_CLASS << 1 | 1)

/* A large (own-span) object of the manual heap; NULL + ENOMEM on failure. */
GORT_HIDDEN void *malloc_large(size_t size, size_t align, bool zero, void *fp);
/* gort_aligned_alloc for an entry point of its own (posix_memalign): fp is
 * that entry's frame, whose return address the profiler records. */
GORT_HIDDEN void *malloc_aligned_fp(size_t align, size_t size, void *fp);
/* The tiny allocator: size (1..15) bytes of pointer-free memory packed into
 * 16-byte blocks of the collected heap, as Go does.  Such objects cannot be
 * freed one by one: only the collector (which sees the block) reclaims
 * them, so the manual heap never packs (docs/DESIGN.md). */
GORT_HIDDEN void *malloc_tiny(size_t size);

#endif
