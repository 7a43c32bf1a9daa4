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
#include <stdio.h>

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

/* --- The garbage-collected heap ------------------------------------------
 *
 * Objects from gort_alloc / gort_new are freed by the collector once no
 * root reaches them.  Roots: the data and bss of the program and of every
 * loaded shared object (of the program's link-map namespace: not of a
 * library dlmopen'ed into a new one), the stacks and registers of
 * registered threads, the ranges given to gort_add_roots, and objects
 * queued for finalization.
 * The manual heap (gort_malloc) is NOT scanned: a GC pointer kept only in
 * gort_malloc'd (or libc malloc'd) memory does not keep its object alive;
 * register such memory with gort_add_roots.  Thread-local variables are not
 * roots either.  Freeing a GC object with gort_free is a fatal error. */

#define GORT_NOSCAN 1u /* the object holds no pointers: never scanned */

/* Allocates size zeroed bytes, collected when unreachable.  Without flags
 * every aligned word of the object may be a pointer (a conservative
 * object); GORT_NOSCAN objects are never scanned.  Never returns NULL:
 * running out of memory is a fatal error that prints the heap figures. */
GORT_EXPORT void *gort_alloc(size_t size, unsigned flags);

/* A precise type: only the words at ptroffs are scanned.  Build one with
 * GORT_TYPE; gort checks the descriptor (magic, sizes, offsets) when it is
 * first used and stops the program on a corrupt one. */
typedef struct gort_type {
	uint32_t magic;           /* GORT_TYPE_MAGIC */
	uint32_t nptrs;           /* entries in ptroffs */
	size_t size;              /* sizeof the type (the array stride) */
	size_t align;             /* _Alignof the type */
	const char *name;
	const size_t *ptroffs;    /* byte offsets of the pointer fields, ascending */
	uint64_t ptrmask;         /* bit i: word i is a pointer (first 64 words) */
} gort_type;

#define GORT_TYPE_MAGIC 0x67727479u /* "gryt" */

/* GORT_TYPE(var, struct T, field...): defines `const gort_type var` for the
 * struct T whose pointer fields are the fields listed (up to 16), in
 * declaration order; each must be a pointer-sized, pointer-aligned member.
 * The pointer bitmap of the first 64 words is computed at compile time. */
#define GORT_TYPE(var, T, ...)                                                   \
	static const size_t var##_gort_offs[] = {GORT__FE(GORT__OFF, T, __VA_ARGS__)}; \
	const gort_type var = {GORT_TYPE_MAGIC,                                 \
			       sizeof(var##_gort_offs) / sizeof(size_t),        \
			       sizeof(T), _Alignof(T), #T, var##_gort_offs,     \
			       0 GORT__FE(GORT__BIT, T, __VA_ARGS__)}
/* A type without pointer fields (allocated as GORT_NOSCAN). */
#define GORT_TYPE_NOPTRS(var, T) \
	const gort_type var = {GORT_TYPE_MAGIC, 0, sizeof(T), _Alignof(T), #T, 0, 0}

#define GORT__OFF(T, f) offsetof(T, f),
#define GORT__BIT(T, f) | (offsetof(T, f) < 512 ? (uint64_t)1 << (offsetof(T, f) / 8 % 64) : 0)
#define GORT__N(_16, _15, _14, _13, _12, _11, _10, _9, _8, _7, _6, _5, _4, _3, _2, _1, N, ...) N
#define GORT__FE(M, T, ...)                                                                \
	GORT__N(__VA_ARGS__, GORT__FE16, GORT__FE15, GORT__FE14, GORT__FE13, GORT__FE12,   \
		GORT__FE11, GORT__FE10, GORT__FE9, GORT__FE8, GORT__FE7, GORT__FE6,        \
		GORT__FE5, GORT__FE4, GORT__FE3, GORT__FE2, GORT__FE1, )(M, T, __VA_ARGS__)
#define GORT__FE1(M, T, a) M(T, a)
#define GORT__FE2(M, T, a, ...) M(T, a) GORT__FE1(M, T, __VA_ARGS__)
#define GORT__FE3(M, T, a, ...) M(T, a) GORT__FE2(M, T, __VA_ARGS__)
#define GORT__FE4(M, T, a, ...) M(T, a) GORT__FE3(M, T, __VA_ARGS__)
#define GORT__FE5(M, T, a, ...) M(T, a) GORT__FE4(M, T, __VA_ARGS__)
#define GORT__FE6(M, T, a, ...) M(T, a) GORT__FE5(M, T, __VA_ARGS__)
#define GORT__FE7(M, T, a, ...) M(T, a) GORT__FE6(M, T, __VA_ARGS__)
#define GORT__FE8(M, T, a, ...) M(T, a) GORT__FE7(M, T, __VA_ARGS__)
#define GORT__FE9(M, T, a, ...) M(T, a) GORT__FE8(M, T, __VA_ARGS__)
#define GORT__FE10(M, T, a, ...) M(T, a) GORT__FE9(M, T, __VA_ARGS__)
#define GORT__FE11(M, T, a, ...) M(T, a) GORT__FE10(M, T, __VA_ARGS__)
#define GORT__FE12(M, T, a, ...) M(T, a) GORT__FE11(M, T, __VA_ARGS__)
#define GORT__FE13(M, T, a, ...) M(T, a) GORT__FE12(M, T, __VA_ARGS__)
#define GORT__FE14(M, T, a, ...) M(T, a) GORT__FE13(M, T, __VA_ARGS__)
#define GORT__FE15(M, T, a, ...) M(T, a) GORT__FE14(M, T, __VA_ARGS__)
#define GORT__FE16(M, T, a, ...) M(T, a) GORT__FE15(M, T, __VA_ARGS__)

/* A zeroed object of type t; gort_new_array: n of them, laid out as a C
 * array.  An n * size overflow is a fatal error. */
GORT_EXPORT void *gort_new(const gort_type *t);
GORT_EXPORT void *gort_new_array(const gort_type *t, size_t n);

/* The write barrier.  Every store of a pointer into a GC object or into a
 * registered root range must go through it, so that programs written now
 * stay correct under a concurrent collector.  While no collection is
 * marking it costs one predictable branch. */
GORT_EXPORT extern int gort_write_barrier_enabled; /* nonzero while marking */
GORT_EXPORT void gort_write_barrier_slow(void **slot, void *value);
static inline void gort_store(void **slot, void *value)
{
	if (__builtin_expect(__atomic_load_n(&gort_write_barrier_enabled, __ATOMIC_RELAXED) != 0, 0))
		gort_write_barrier_slow(slot, value);
	else
		*slot = value;
}
#define GORT_STORE(lvalue, value)                                                     \
	do {                                                                          \
		__typeof__(lvalue) *gort__slot = &(lvalue);                           \
		__typeof__(lvalue) gort__val = (value);                               \
		gort_store((void **)(void *)gort__slot, (void *)gort__val);          \
	} while (0)

/* Extra roots: [p, p + len) is scanned conservatively until removed.
 * gort_remove_roots takes the p given to gort_add_roots. */
GORT_EXPORT void gort_add_roots(void *p, size_t len);
GORT_EXPORT void gort_remove_roots(void *p);

/* Threads.  A thread started with pthread_create while gort is loaded is
 * registered by itself (and so is the first thread to use the GC heap); a
 * thread created otherwise calls gort_thread_register before it keeps GC
 * pointers on its stack.  Registered threads are stopped during marking,
 * even in system calls or loops that never call gort.  Both idempotent. */
GORT_EXPORT void gort_thread_register(void);
GORT_EXPORT void gort_thread_unregister(void);

/* Runs a full collection and sweeps the heap before returning (Go's
 * runtime.GC). */
GORT_EXPORT void gort_gc(void);
/* Go's debug.SetGCPercent: the heap may grow by percent% of the live heap
 * before the next collection; negative turns the collector off (except for
 * the memory limit).  Returns the previous setting.  Default: GORTGC, else 100. */
GORT_EXPORT int gort_set_gc_percent(int percent);
/* Go's debug.SetMemoryLimit: a soft limit on the memory the heap may use,
 * in bytes; a negative value only reads it.  Returns the previous limit.
 * Default: GORTMEMLIMIT, else INT64_MAX (no limit). */
GORT_EXPORT int64_t gort_set_memory_limit(int64_t limit);

/* Arranges for fn(obj, arg) to run once, on gort's finalizer thread, after
 * obj (the start of a GC object) becomes unreachable; obj stays allocated
 * for that call and is freed by a later cycle if still unreachable.  arg is
 * a root until then.  fn == NULL removes obj's finalizer.  Objects reachable
 * from a finalizable object are kept until its finalizer has run, so a
 * cycle through finalizable objects is never collected (as in Go). */
GORT_EXPORT void gort_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg);
/* Keeps p reachable up to this call (Go's runtime.KeepAlive). */
GORT_EXPORT void gort_keep_alive(const void *p);

/* --- Heap profile (Go's runtime.MemProfileRate and heap profile) -------- */

/* Sets the average number of bytes allocated between two sampled
 * allocations (Go's runtime.MemProfileRate; default 512 KiB, also set by
 * GORTDEBUG=memprofilerate=N): 0 turns sampling off, 1 samples every
 * allocation.  Returns the previous rate; a negative rate changes nothing
 * and returns the current one.  Sampling covers both heaps.  As Go's
 * linker does for a program that never reads its profile, gort samples
 * nothing by default when nothing can read the profile: no loaded object
 * binds this function or the writers below and GORTHEAPPROFILE is unset
 * (a program given libgort-malloc.so by LD_PRELOAD); an object dlopen'ed
 * later that binds them turns sampling on soon after (gort looks for new
 * objects as its heap grows: at the latest 32 new spans later).
 * The manual heap's figures are current at all times; the collected
 * heap's are those of the last completed collection, as in Go (an object
 * counts as allocated once a collection has run after its allocation, and
 * as freed once a sweep has found it dead): after gort_gc() returns, the
 * profile is up to date, as after Go's runtime.GC(). */
GORT_EXPORT long gort_set_mem_profile_rate(long rate);
/* Writes the heap profile to path as a gzipped pprof protobuf that
 * `go tool pprof` reads on any machine (locations already symbolized).
 * Returns 0, or -1 with errno set. */
GORT_EXPORT int gort_write_heap_profile(const char *path);
/* Writes the heap profile in Go's legacy text format (debug=1). */
GORT_EXPORT int gort_write_heap_profile_text(FILE *f);

/* --- Memory back to the kernel ----------------------------------------- */

/* Returns every free page to the kernel now (Go's debug.FreeOSMemory),
 * after a full collection if the collected heap is in use.  When it
 * returns, every page free when it was called has been released, those
 * another thread had begun to release included. */
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
	/* The collector (Go's names in brackets). */
	uint64_t next_gc;        /* heap goal of the next cycle [NextGC] */
	uint64_t last_gc;        /* end of the last cycle, ns since 1970 [LastGC] */
	uint64_t pause_total_ns; /* cumulative stop-the-world time [PauseTotalNs] */
	uint64_t pause_ns[256];  /* recent pauses, pause_ns[(num_gc + 255) % 256] the latest */
	uint64_t pause_end[256]; /* their end times, ns since 1970 */
	uint32_t num_gc;         /* completed cycles [NumGC] */
	uint32_t num_forced_gc;  /* cycles forced by gort_gc [NumForcedGC] */
	double gc_cpu_fraction;  /* share of CPU time spent in the collector since start */
	uint64_t gc_heap_live;   /* bytes of GC objects: marked at the last cycle + allocated since */
	uint64_t gc_heap_marked; /* live GC bytes found by the last cycle */
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
