/*
 * fixalloc.h: off-heap metadata allocators (Go's persistentalloc and fixalloc).
 *
 * The runtime never allocates its own metadata from the heap it manages:
 * spans, caches and bitmaps come from here, carved from memory obtained
 * directly with os_alloc.  persistent_alloc is a locked bump allocator whose
 * memory is never freed; fixalloc recycles fixed-size records on a free list
 * and is guarded by whichever lock its owner names.
 */
#ifndef GORT_FIXALLOC_H
#define GORT_FIXALLOC_H

#include "rt.h"

/* Zeroed, never freed; thread-safe.  Throws when the OS refuses memory. */
GORT_HIDDEN void *persistent_alloc(uintptr_t size, uintptr_t align);
/* The same, but NULL when the OS refuses (a caller that can fail softly:
 * an allocation under an address-space limit). */
GORT_HIDDEN void *persistent_try_alloc(uintptr_t size, uintptr_t align);
/* fork(): hold and release persistent_lock around the fork (fork.c). */
GORT_HIDDEN void persistent_fork_lock(void);
GORT_HIDDEN void persistent_fork_unlock(void);
/* Bytes obtained from the OS by persistent_alloc (for MemStats.other_sys). */
GORT_HIDDEN uintptr_t persistent_sys_bytes(void);

typedef struct fixalloc {
	uintptr_t size;   /* bytes per record, a multiple of 16 */
	void *list;       /* free records; the first word links them */
	char *chunk;      /* bump region */
	uintptr_t nchunk; /* bytes left in chunk */
	uintptr_t inuse;  /* bytes handed out and not freed */
	uintptr_t sys;    /* bytes taken from persistent_alloc */
} fixalloc;

GORT_HIDDEN void fixalloc_init(fixalloc *f, uintptr_t size);
/* A record; zeroed when fresh, or when zero is set. The caller holds f's
 * lock.  Throws when the OS refuses memory; fixalloc_try_alloc returns
 * NULL instead. */
GORT_HIDDEN void *fixalloc_alloc(fixalloc *f, bool zero);
GORT_HIDDEN void *fixalloc_try_alloc(fixalloc *f, bool zero);
GORT_HIDDEN void fixalloc_free(fixalloc *f, void *p);

#endif
