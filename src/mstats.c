/*
 * mstats.c: gort_read_memstats, Go's MemStats for the fields that apply.
 *
 * Object counts come from per-thread counters (summed under cache_lock),
 * page figures from the page allocator (under the heap lock); the two are
 * read one after the other, not in one stop-the-world snapshot, so a busy
 * program may see them a few objects apart.  Accounting identities:
 *   heap_sys = heap_inuse + heap_idle,  heap_idle includes heap_released,
 *   heap_objects = mallocs - frees,  alloc = heap_alloc.
 * Tiny allocations count as both a malloc and a free, as in Go: the
 * 16-byte block is what the heap tracks.
 */
#include "crit.h"
#include "gort.h"
#include "arena.h"
#include "fixalloc.h"
#include "mcache.h"
#include "mheap.h"
#include "mgc.h"
#include "os.h"
#include "sizeclass.h"

#include <string.h>

void gort_read_memstats(gort_memstats *m)
{
	mheap_init();
	memset(m, 0, sizeof *m);
	uint64_t nmalloc[NUM_SIZE_CLASSES], nfree[NUM_SIZE_CLASSES], tiny;
	uintptr_t mcache_bytes;
	mcache_sum_stats(nmalloc, nfree, &tiny, &mcache_bytes);

	uint64_t large_n = load_relaxed(&mheap_.large_allocs), large_b = load_relaxed(&mheap_.large_alloc_bytes);
	/* Frees: the manual heap's, plus the collector's (counted by the
	 * sweeper; dead objects not yet swept still count as allocated, as
	 * in Go). */
	uint64_t large_fn = load_relaxed(&mheap_.large_frees) + load_relaxed(&gc.nfree[0]);
	uint64_t large_fb = load_relaxed(&mheap_.large_free_bytes) + load_relaxed(&gc.large_free_bytes);
	m->by_size[0].mallocs = large_n;
	m->by_size[0].frees = large_fn;
	m->mallocs = large_n + tiny;
	m->frees = large_fn + tiny;
	m->total_alloc = large_b;
	m->heap_alloc = large_b - large_fb;
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
		uint64_t size = class_to_size[c];
		m->by_size[c].size = (uint32_t)size;
		m->by_size[c].mallocs = nmalloc[c];
		nfree[c] += load_relaxed(&gc.nfree[c]);
		m->by_size[c].frees = nfree[c];
		m->mallocs += nmalloc[c];
		m->frees += nfree[c];
		m->total_alloc += nmalloc[c] * size;
		m->heap_alloc += (nmalloc[c] - nfree[c]) * size;
	}
	m->alloc = m->heap_alloc;
	m->heap_objects = m->mallocs - m->frees;

	uintptr_t inuse, idle, released, spanbytes = 0;
	mutex_lock(&mheap_.lock);
	for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++)
		m->by_size[c].spans = mheap_.spans_inuse[c];
	for (unsigned b = 0; b < MSPAN_BUCKETS; b++)
		spanbytes += mheap_.spanalloc[b].inuse;
	uintptr_t heap_mapped = arena_heap_bytes(), meta = arena_meta_bytes();
	mutex_unlock(&mheap_.lock);
	mheap_page_counts(&inuse, &idle, &released);
	m->heap_inuse = (uint64_t)inuse * PAGE_BYTES;
	m->heap_idle = (uint64_t)(idle + released) * PAGE_BYTES;
	m->heap_released = (uint64_t)released * PAGE_BYTES;
	m->heap_sys = m->heap_inuse + m->heap_idle;
	m->mspan_inuse = spanbytes;
	m->mcache_inuse = mcache_bytes;
	m->other_sys = persistent_sys_bytes() + meta;
	m->sys = heap_mapped + m->other_sys;

	gc_init();
	pthread_mutex_lock(&gc.lock);
	m->next_gc = gc.goal == UINT64_MAX ? 0 : gc.goal;
	m->last_gc = gc.last_gc_unix;
	m->pause_total_ns = gc.pause_total_ns;
	memcpy(m->pause_ns, gc.pause_ns, sizeof m->pause_ns);
	memcpy(m->pause_end, gc.pause_end, sizeof m->pause_end);
	m->num_gc = gc.numgc;
	m->num_forced_gc = gc.numforced;
	int64_t elapsed = (os_nanotime() - gc.init_time) * (int64_t)gc.nproc;
	m->gc_cpu_fraction = elapsed > 0 ? (double)gc.gc_cpu_ns / (double)elapsed : 0;
	int64_t live = load_relaxed(&gc.heap_live);
	m->gc_heap_live = live > 0 ? (uint64_t)live : 0;
	m->gc_heap_marked = gc.heap_marked;
	pthread_mutex_unlock(&gc.lock);
}
