/*
 * malloc.h: internal allocation entry points shared by the faces.
 */
#ifndef GORT_MALLOC_H
#define GORT_MALLOC_H

#include "rt.h"

#define TINY_SIZE_CLASS 2 /* the 16-byte class */
#define TINY_SPAN_CLASS (TINY_SIZE_CLASS << 1 | 1)

/* The frame an entry point hands the profiler (mprof_sample).  In the
 * release build (-O2, GORT_TAIL_CALLS from the Makefile) none: NULL, so
 * that malloc's fast path keeps no frame (six of its ~45 instructions),
 * and the sampler starts from its own frame, which returns straight into
 * the program, since built with frame pointers a function that makes any
 * call but a tail call keeps a frame, so one that keeps none reached the
 * sampler by tail calls only (tests/unit/test_mprof and test_override's
 * profile sites check the leaf frames).  Builds without sibling-call
 * optimisation (-O1: debug, sanitizers) pass the entry point's own frame,
 * and so does clang, which keeps malloc's frame anyway and reaches the
 * sampler of a large object by a call. */
#if defined(GORT_TAIL_CALLS) && !defined(__clang__)
#define ENTRY_FRAME() NULL
#else
#define ENTRY_FRAME() __builtin_frame_address(0)
#endif

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
