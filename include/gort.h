/*
 * gort.h: the public API of gort, Go's runtime memory system for C programs.
 *
 * One heap, built as Go's runtime builds its heap: size classes up to 32 KiB
 * on 8 KiB pages, spans with out-of-band bitmaps, a per-thread cache, central
 * span lists, a page allocator over 64 MiB arenas, and a background scavenger
 * that returns free pages to the kernel.
 *
 * This header is the whole public surface; everything else is internal.
 * All functions are thread-safe.  Memory from gort_malloc and friends is the
 * manual heap: it lives until gort_free, and the garbage collector (when it
 * runs) never scans it.
 *
 * Knobs are read once, from the environment, at the first call:
 *   GORTDEBUG=key=value,key=value   (Go's GODEBUG grammar)
 *     madvdontneed=1   scavenger returns pages with MADV_DONTNEED (default);
 *                      0 selects MADV_FREE (cheaper; RSS falls only under
 *                      memory pressure)
 *     scavenger=1      run the background scavenger (default); 0 disables it
 *     scavtrace=1      one line on stderr per scavenger pass
 *     badfree=1        an invalid or double free is a fatal error (default);
 *                      0 reports it on stderr and ignores the call
 *   Unknown keys and bad values are reported on stderr and ignored.
 */
#ifndef GORT_H
#define GORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GORT_VERSION "0.1.0"

/* gort builds with hidden visibility; the public API is exported. */
#if defined(__GNUC__)
#define GORT_EXPORT __attribute__((visibility("default")))
#else
#define GORT_EXPORT
#endif

/* --- The manual heap ---------------------------------------------------- */

/* Allocates size bytes, aligned to 16 bytes, except that requests of up to
 * 8 bytes and of 17..24 bytes (the 8- and 24-byte size classes) are aligned
 * to 8: no C type of such a size needs more (the C23 rule for malloc).
 * Returns NULL with errno = ENOMEM if the request cannot be served.
 * gort_malloc(0) returns a unique pointer that must be freed. */
GORT_EXPORT void *gort_malloc(size_t size);

/* Allocates n * size zeroed bytes; NULL with ENOMEM on overflow. */
GORT_EXPORT void *gort_calloc(size_t n, size_t size);

/* Resizes p (which may be NULL) keeping its contents up to the smaller size.
 * gort_realloc(p, 0) frees p and returns NULL.  On failure p is untouched
 * and NULL is returned with errno = ENOMEM. */
GORT_EXPORT void *gort_realloc(void *p, size_t size);

/* Frees p, which must have come from this heap; NULL is ignored.  Any thread
 * may free any object.  An address gort did not hand out, or an object freed
 * twice, stops the program with "fatal error: gort_free: invalid pointer
 * 0x..." (or "double free") unless GORTDEBUG=badfree=0. */
GORT_EXPORT void gort_free(void *p);

/* Allocates size bytes aligned to alignment, a power of two.
 * NULL with errno = EINVAL for a bad alignment, ENOMEM when out of memory. */
GORT_EXPORT void *gort_aligned_alloc(size_t alignment, size_t size);

/* The number of bytes usable at p (at least the size asked for); 0 for NULL. */
GORT_EXPORT size_t gort_usable_size(const void *p);

/* --- Memory back to the kernel ----------------------------------------- */

/* Returns every free page to the kernel now (Go's debug.FreeOSMemory). */
GORT_EXPORT void gort_free_os_memory(void);

/* --- Statistics (Go's runtime.MemStats, the fields that apply) ---------- */

#define GORT_NUM_SIZE_CLASSES 68

typedef struct gort_memstats {
	uint64_t alloc;          /* bytes of allocated heap objects (= heap_alloc) */
	uint64_t total_alloc;    /* cumulative bytes allocated */
	uint64_t sys;            /* bytes obtained from the OS for heap and metadata */
	uint64_t mallocs;        /* cumulative objects allocated */
	uint64_t frees;          /* cumulative objects freed */
	uint64_t heap_alloc;     /* bytes of allocated heap objects */
	uint64_t heap_sys;       /* heap_inuse + heap_idle */
	uint64_t heap_idle;      /* bytes in free pages (no span) */
	uint64_t heap_inuse;     /* bytes in in-use spans */
	uint64_t heap_released;  /* idle bytes returned to the OS */
	uint64_t heap_objects;   /* mallocs - frees */
	uint64_t mspan_inuse;    /* span metadata in use */
	uint64_t mcache_inuse;   /* per-thread cache metadata in use */
	uint64_t other_sys;      /* other runtime metadata */
	struct {
		uint32_t size;    /* object size of the class; 0 for class 0 (large) */
		uint64_t mallocs;
		uint64_t frees;
		uint64_t spans;   /* spans of this class currently in use */
	} by_size[GORT_NUM_SIZE_CLASSES];
} gort_memstats;

/* Fills *m.  Frees made on other threads are counted as they happen;
 * figures are a consistent-enough snapshot, not a stop-the-world one. */
GORT_EXPORT void gort_read_memstats(gort_memstats *m);

#ifdef __cplusplus
}
#endif
#endif
