/*
 * pagealloc.h: the page allocator (Go's pageAlloc, mpagealloc.go and
 * friends): which 8 KiB heap pages are in use, which free pages have been
 * returned to the OS, and an O(levels) address-ordered first-fit search.
 *
 * The allocator only keeps books on heap pages; it never reads or writes the
 * pages themselves.  The caller's heap lock guards every pagealloc_* call;
 * pagecache_alloc works on a cache its thread owns and takes no lock.
 */
#ifndef GORT_PAGEALLOC_H
#define GORT_PAGEALLOC_H

#include "rt.h"

/* A chunk: 512 pages (4 MiB), the unit of growth and of the bitmaps. */
#define PA_CHUNK_SHIFT 22
#define PA_CHUNK_BYTES ((uintptr_t)1 << PA_CHUNK_SHIFT)
#define PA_CHUNK_PAGES_LOG (PA_CHUNK_SHIFT - PAGE_SHIFT) /* 9 */
#define PA_CHUNK_PAGES ((uintptr_t)1 << PA_CHUNK_PAGES_LOG)
#define PA_CHUNK_WORDS (PA_CHUNK_PAGES / 64) /* 8 */
#define PA_CHUNKS_LOG (HEAP_ADDR_BITS - PA_CHUNK_SHIFT) /* 25 on x86-64, 26 on aarch64 */

/* Chunk records live in a sparse two-level array. */
#define PA_CHUNKS_L2_LOG 13
#define PA_CHUNKS_L1_LOG (PA_CHUNKS_LOG - PA_CHUNKS_L2_LOG)

/* Summary radix tree: 5 levels of 8-way fan-out above the chunk leaves;
 * a root entry covers 16 GiB, a leaf entry one chunk. */
#define PA_LEVELS 5
#define PA_LEVEL_BITS 3
#define PA_ROOT_LOG (PA_CHUNKS_LOG - (PA_LEVELS - 1) * PA_LEVEL_BITS) /* 13 or 14 */

/* Metadata is reserved in one block and mapped in granules of this size
 * (a multiple of any OS page size we run on).  PA_META_BYTES: the block
 * for the whole address space; a window of it needs a slice of each
 * level (pagealloc_init). */
#define PA_GRANULE_SHIFT 16
#define PA_META_BYTES                                                                      \
	((((uintptr_t)1 << PA_ROOT_LOG) * 8) * 4681 /* summaries: 8^0 + .. + 8^4 */ +  \
	 ((uintptr_t)1 << (PA_CHUNKS_LOG - 3)) /* scavenge index leaves */ +            \
	 ((uintptr_t)1 << (PA_CHUNKS_LOG - 9))) /* scavenge index middle */
#define PA_META_GRANULES (PA_META_BYTES >> PA_GRANULE_SHIFT)

typedef struct pa_chunk {
	uint64_t alloc[PA_CHUNK_WORDS]; /* 1 = page in use */
	uint64_t scav[PA_CHUNK_WORDS];  /* 1 = page free and returned to the OS */
} pa_chunk;

typedef struct pa_range {
	uintptr_t base, limit; /* grown addresses [base, limit), chunk-aligned */
} pa_range;

typedef struct pagealloc {
	uintptr_t search_addr; /* every heap page below this address is in use */
	uintptr_t end;         /* limit of the highest grown range; 0 before growth */
	uintptr_t free_pages;  /* free pages, scavenged or not */
	uintptr_t scav_pages;  /* free pages that are scavenged */
	uintptr_t total_pages; /* pages ever added by grow */
	uint64_t *sum[PA_LEVELS]; /* summary levels, root first, in meta */
	uint64_t *sidx_leaf;      /* scavenge index: 1 bit per chunk, in meta */
	uint64_t *sidx_mid;       /* 1 bit per nonzero sidx_leaf word, in meta */
	char *meta;               /* the reserved metadata block */
	uintptr_t win_c0, win_c1; /* the chunks it covers (all of them, or a window) */
	pa_range *ranges;         /* grown ranges, sorted, adjacent ones merged */
	uint32_t nranges, cap_ranges;
	uint64_t meta_mapped[(PA_META_GRANULES + 63) / 64]; /* 1 = granule mapped */
	uint64_t sidx_top[((uintptr_t)1 << (PA_CHUNKS_LOG - 12)) / 64]; /* 1 bit per nonzero sidx_mid word */
	pa_chunk *chunks[(uintptr_t)1 << PA_CHUNKS_L1_LOG]; /* L2 blocks from os_alloc */
} pagealloc;

/* pa is zero-initialised storage.  Reserves the metadata for the heap
 * addresses [lo, hi) (chunk-aligned; 0 and 1 << HEAP_ADDR_BITS for all of
 * them: ~300 MiB of address space on x86-64, never touched but where the
 * heap grows); throws on failure.  Growth must stay within [lo, hi). */
GORT_HIDDEN void pagealloc_init(pagealloc *pa, uintptr_t lo, uintptr_t hi);
/* Adds [base, base+bytes) (chunk-aligned, not overlapping earlier growth)
 * as free, scavenged pages.  False if metadata could not be mapped, in which
 * case nothing was added. */
GORT_HIDDEN bool pagealloc_grow(pagealloc *pa, uintptr_t base, uintptr_t bytes);
/* The lowest run of npages (>= 1) free pages, now in use, or 0.  *scav_pages
 * (if not NULL) receives how many of them had been scavenged. */
GORT_HIDDEN uintptr_t pagealloc_alloc(pagealloc *pa, uintptr_t npages, uintptr_t *scav_pages);
/* Puts exactly [base, base + npages pages) in use if every page of it is
 * grown and free (false, changing nothing, otherwise); *scav_pages
 * receives how many had been scavenged.  Lets a span grow in place. */
GORT_HIDDEN bool pagealloc_alloc_range(pagealloc *pa, uintptr_t base, uintptr_t npages, uintptr_t *scav_pages);
/* Frees npages in-use pages at base (as not scavenged); throws otherwise. */
GORT_HIDDEN void pagealloc_free(pagealloc *pa, uintptr_t base, uintptr_t npages);
/* Takes the highest run of free, unscavenged pages, at most max_pages and
 * never crossing a 4 MiB chunk boundary, marking it in use so it can be
 * released without the lock.  False when nothing is left to scavenge. */
GORT_HIDDEN bool pagealloc_scavenge_take(pagealloc *pa, uintptr_t max_pages, uintptr_t *base,
					 uintptr_t *npages);
/* Returns a taken run: frees it with its scavenged bits set. */
GORT_HIDDEN void pagealloc_scavenge_done(pagealloc *pa, uintptr_t base, uintptr_t npages);
/* Exact page counters.  Pages taken by the scavenger or held in a page
 * cache count as in use. */
GORT_HIDDEN uintptr_t pagealloc_free_pages(const pagealloc *pa);
GORT_HIDDEN uintptr_t pagealloc_scavenged_pages(const pagealloc *pa);
GORT_HIDDEN uintptr_t pagealloc_total_pages(const pagealloc *pa);

/* Per-thread page cache (Go's pageCache): free pages of one 64-page-aligned
 * window, taken out of the global bitmap. */
#define PAGECACHE_PAGES 64
typedef struct pagecache {
	uintptr_t base; /* 0 = empty */
	uint64_t cache; /* 1 = free */
	uint64_t scav;  /* 1 = scavenged; a subset of cache */
} pagecache;

/* Takes every free page of the 64-page window holding the lowest free page;
 * an empty cache when no page is free. */
GORT_HIDDEN pagecache pagealloc_alloc_cache(pagealloc *pa);
/* Lock-free: the lowest run of npages (1..64) in c, or 0. */
GORT_HIDDEN uintptr_t pagecache_alloc(pagecache *c, uintptr_t npages, uintptr_t *scav_pages);
/* Gives c's remaining pages back with their scavenged state; empties c. */
GORT_HIDDEN void pagealloc_flush_cache(pagealloc *pa, pagecache *c);

/* Recomputes every summary, index bit and counter; throws on a mismatch. */
GORT_HIDDEN void pagealloc_check(pagealloc *pa);

#endif
