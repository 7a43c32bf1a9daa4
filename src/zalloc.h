/*
 * zalloc.h: zlib's allocation functions over os_alloc, for the pprof
 * writer (deflate) and the symbolizer (inflating compressed debug
 * sections).  zlib would otherwise call malloc, which may be gort itself
 * (libgort-malloc.so) and must not hold the profiler's own bookkeeping.
 * The size os_free needs is kept in the 16 bytes before the block, which
 * keeps zlib's blocks 16-byte aligned.
 */
#ifndef GORT_ZALLOC_H
#define GORT_ZALLOC_H

#include "os.h"

#include <stdint.h>
#include <zlib.h>

static inline voidpf zalloc_os(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	uintptr_t n = (uintptr_t)items * size + 16;
	char *p = os_alloc(n);
	if (!p)
		return Z_NULL;
	*(uintptr_t *)p = n;
	return p + 16;
}

static inline void zfree_os(voidpf opaque, voidpf ptr)
{
	(void)opaque;
	if (ptr) {
		char *p = (char *)ptr - 16;
		os_free(p, *(uintptr_t *)p);
	}
}

#endif
