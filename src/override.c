/*
 * override.c: the C library's malloc family, for libgort-malloc.so only.
 *
 * Linked into libgort-malloc.so (never into libgort.a or libgort.so), this
 * file makes gort's manual heap the process's malloc, whether the library
 * is preloaded (LD_PRELOAD) or linked (-lgort-malloc) ahead of libc.  The
 * entry points are thin: each checks what POSIX and glibc promise of its
 * arguments and goes on to gort_malloc and friends, as a tail call where it
 * can (the library is linked -Bsymbolic-functions, so that is a direct
 * jump), which also leaves the program's frame where the profiler looks
 * for the allocation site.
 *
 * C++: libstdc++'s operator new and delete, all their forms, call malloc,
 * free and aligned_alloc, so they reach gort through these names; the
 * library defines no C++ symbol and needs no C++ runtime.
 *
 * What glibc programs also call: the __libc_* names (some programs and
 * debuggers look them up with dlsym), malloc_trim (returns idle pages to
 * the kernel), mallinfo/mallinfo2 (gort's figures, mapped below) and
 * malloc_stats and malloc_info (glibc's XML with gort's figures).  mallopt
 * and the malloc hooks are glibc's own: they act on glibc's arenas, which
 * hold nothing here.
 */
#include "rt.h"
#include "malloc.h"
#include "mheap.h"
#include "os.h"
#include "sizeclass.h"

#include <errno.h>
#include <gort.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* <malloc.h> is shadowed by src/malloc.h on the include path: its
 * declarations and structures (a stable ABI) are repeated here. */
struct mallinfo {
	int arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
struct mallinfo2 {
	size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
void *memalign(size_t align, size_t size);
void *pvalloc(size_t size);
size_t malloc_usable_size(void *p);
int malloc_trim(size_t pad);
struct mallinfo2 mallinfo2(void);
struct mallinfo mallinfo(void);
void malloc_stats(void);
int malloc_info(int options, FILE *fp);
void *__libc_malloc(size_t size);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);

GORT_EXPORT void *malloc(size_t size)
{
	return gort_malloc(size);
}

GORT_EXPORT void free(void *p)
{
	gort_free(p);
}

GORT_EXPORT void *calloc(size_t n, size_t size)
{
	return gort_calloc(n, size);
}

/* glibc's: realloc(p, 0) frees p and returns NULL; realloc(NULL, n) is
 * malloc(n).  gort_realloc does both. */
GORT_EXPORT void *realloc(void *p, size_t size)
{
	return gort_realloc(p, size);
}

GORT_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return gort_realloc(p, total);
}

/* glibc's memalign takes any alignment: below the minimum it is malloc,
 * and one that is not a power of two is rounded up to the next. */
GORT_EXPORT void *memalign(size_t align, size_t size)
{
	if (align <= 8)
		return gort_malloc(size);
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (align & (align - 1))
		align = (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
	return gort_aligned_alloc(align, size);
}

/* C11 and glibc 2.38: the alignment must be a power of two (EINVAL). */
GORT_EXPORT void *aligned_alloc(size_t align, size_t size)
{
	return gort_aligned_alloc(align, size);
}

/* Returns the error instead of setting errno, and leaves *out alone on
 * failure, as POSIX says. */
GORT_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	int saved = errno;
	/* Not a tail call: this frame, not gort_aligned_alloc's, is the one
	 * whose caller the profiler must record. */
	void *p = malloc_aligned_fp(align, size, __builtin_frame_address(0));
	if (!p) {
		int err = errno;
		errno = saved;
		return err ? err : ENOMEM;
	}
	*out = p;
	return 0;
}

GORT_EXPORT void *valloc(size_t size)
{
	return gort_aligned_alloc((size_t)os_phys_page_bytes(), size);
}

/* valloc with the size rounded up to whole pages (at least one). */
GORT_EXPORT void *pvalloc(size_t size)
{
	size_t page = (size_t)os_phys_page_bytes();
	if (size > SIZE_MAX - page) {
		errno = ENOMEM;
		return NULL;
	}
	size = size ? (size + page - 1) & ~(page - 1) : page;
	return gort_aligned_alloc(page, size);
}

GORT_EXPORT size_t malloc_usable_size(void *p)
{
	return p ? gort_usable_size(p) : 0;
}

/* The glibc-internal names some programs call directly.  Functions, not
 * aliases: an alias would have to repeat every attribute glibc's headers
 * give the targets (gcc warns otherwise), and a tail jump costs nothing. */
GORT_EXPORT void *__libc_malloc(size_t size)
{
	return gort_malloc(size);
}

GORT_EXPORT void __libc_free(void *p)
{
	gort_free(p);
}

GORT_EXPORT void *__libc_calloc(size_t n, size_t size)
{
	return gort_calloc(n, size);
}

GORT_EXPORT void *__libc_realloc(void *p, size_t size)
{
	return gort_realloc(p, size);
}

GORT_EXPORT void *__libc_memalign(size_t align, size_t size)
{
	return memalign(align, size);
}

GORT_EXPORT void *__libc_valloc(size_t size)
{
	return valloc(size);
}

GORT_EXPORT void *__libc_pvalloc(size_t size)
{
	return pvalloc(size);
}

/* Returns every idle page to the kernel (Go's debug.FreeOSMemory); 1 if
 * that released memory, as glibc answers.  pad: nothing is kept back. */
GORT_EXPORT int malloc_trim(size_t pad)
{
	(void)pad;
	gort_memstats before, after;
	gort_read_memstats(&before);
	gort_free_os_memory();
	gort_read_memstats(&after);
	return after.heap_released > before.heap_released;
}

/*
 * mallinfo2 in gort's terms (fields glibc defines that mean nothing here
 * are 0):
 *   arena     bytes of heap mapped and not returned to the kernel
 *             (HeapSys - HeapReleased)
 *   uordblks  bytes in allocated objects (HeapAlloc)
 *   fordblks  bytes mapped but not in objects (arena - uordblks)
 *   keepcost  idle pages still held, which malloc_trim would return
 *             (HeapIdle - HeapReleased)
 *   hblks, hblkhd  large objects (> 32 KiB, their own spans) are part of
 *             the heap, not separate mappings: 0
 *   ordblks   allocated objects (HeapObjects): glibc counts free chunks,
 *             which gort does not keep
 */
GORT_EXPORT struct mallinfo2 mallinfo2(void)
{
	gort_memstats m;
	gort_read_memstats(&m);
	struct mallinfo2 mi;
	memset(&mi, 0, sizeof mi);
	mi.arena = m.heap_sys - m.heap_released;
	mi.uordblks = m.heap_alloc;
	mi.fordblks = mi.arena > mi.uordblks ? mi.arena - mi.uordblks : 0;
	mi.keepcost = m.heap_idle - m.heap_released;
	mi.ordblks = m.heap_objects;
	return mi;
}

/* The old interface: int fields, saturated. */
GORT_EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2 = mallinfo2();
	struct mallinfo mi;
	memset(&mi, 0, sizeof mi);
#define SAT(x) ((x) > INT_MAX ? INT_MAX : (int)(x))
	mi.arena = SAT(m2.arena);
	mi.ordblks = SAT(m2.ordblks);
	mi.uordblks = SAT(m2.uordblks);
	mi.fordblks = SAT(m2.fordblks);
	mi.keepcost = SAT(m2.keepcost);
#undef SAT
	return mi;
}

/* glibc prints its arenas' figures on stderr; this prints gort's. */
GORT_EXPORT void malloc_stats(void)
{
	gort_memstats m;
	gort_read_memstats(&m);
	fprintf(stderr,
		"gort heap: HeapSys %llu  HeapInuse %llu  HeapIdle %llu  HeapReleased %llu\n"
		"           HeapAlloc %llu  HeapObjects %llu  Mallocs %llu  Frees %llu\n",
		(unsigned long long)m.heap_sys, (unsigned long long)m.heap_inuse,
		(unsigned long long)m.heap_idle, (unsigned long long)m.heap_released,
		(unsigned long long)m.heap_alloc, (unsigned long long)m.heap_objects,
		(unsigned long long)m.mallocs, (unsigned long long)m.frees);
}

/*
 * malloc_info: glibc's XML, one heap, in gort's terms.  glibc lists its
 * free chunks by size; gort's counterpart is the free slots of each size
 * class's spans (the slots of its spans in use, whatever their size, less
 * the objects in use), each class a <size> line.  "rest" totals those
 * slots plus the free pages still resident; "system current" is the heap
 * mapped and not released, "aspace total" all of it.  gort keeps no peak
 * of its own: "system max" repeats "current".
 */
GORT_EXPORT int malloc_info(int options, FILE *fp)
{
	if (options != 0) {
		/* What glibc returns (its manual says -1 and errno). */
		errno = EINVAL;
		return EINVAL;
	}
	gort_memstats m;
	gort_read_memstats(&m);
	uint64_t cap[NUM_SIZE_CLASSES], slots = 0, slot_bytes = 0;
	mheap_class_slots(cap);
	fputs("<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n", fp);
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
		uint64_t live = m.by_size[c].mallocs - m.by_size[c].frees;
		uint64_t free_slots = cap[c] > live ? cap[c] - live : 0;
		if (!free_slots)
			continue;
		fprintf(fp, "  <size from=\"%u\" to=\"%u\" total=\"%llu\" count=\"%llu\"/>\n",
			class_to_size[c - 1] + 1, class_to_size[c],
			(unsigned long long)(free_slots * class_to_size[c]), (unsigned long long)free_slots);
		slots += free_slots;
		slot_bytes += free_slots * class_to_size[c];
	}
	uint64_t idle = m.heap_idle - m.heap_released, current = m.heap_sys - m.heap_released;
	char totals[512];
	snprintf(totals, sizeof totals,
		 "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
		 "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n",
		 (unsigned long long)slots, (unsigned long long)(slot_bytes + idle));
	char system[512];
	snprintf(system, sizeof system,
		 "<system type=\"current\" size=\"%llu\"/>\n"
		 "<system type=\"max\" size=\"%llu\"/>\n"
		 "<aspace type=\"total\" size=\"%llu\"/>\n"
		 "<aspace type=\"mprotect\" size=\"%llu\"/>\n",
		 (unsigned long long)current, (unsigned long long)current, (unsigned long long)m.heap_sys,
		 (unsigned long long)m.heap_sys);
	fprintf(fp, "</sizes>\n%s%s</heap>\n%s<total type=\"mmap\" count=\"0\" size=\"0\"/>\n%s</malloc>\n", totals,
		system, totals, system);
	return 0;
}
