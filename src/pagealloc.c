/*
 * pagealloc.c: the page allocator (see pagealloc.h), after Go's pageAlloc.
 *
 * Owns: the per-chunk bitmaps (in use, scavenged), the summary radix tree
 * over the 48-bit address space, the list of grown ranges, the scavenge
 * index and the page counters.  It keeps books only; heap pages are never
 * touched.
 *
 * Summaries.  Each entry packs (start, max, end): the free pages at the low
 * end of the memory it covers, its longest free run, and the free pages at
 * the high end.  A leaf entry covers one chunk, each level above covers 8
 * entries of the level below.  Memory that was never grown counts as in
 * use, so its entries are 0 and a search never descends into it.
 *
 * Invariants, all under the caller's heap lock (pagecache_alloc excepted: it
 * only touches a cache its thread owns):
 *  - Summary consistency: every leaf entry summarises its chunk's in-use
 *    bitmap and every upper entry is the merge of its 8 children, after
 *    each operation returns.
 *  - searchAddr rule: every grown page below pa->search_addr is in use,
 *    and search_addr is either inside a grown range or equal to pa->end.
 *    It moves up only past pages known to be in use, and down on
 *    free/grow.
 *  - scavenged is a subset of free: a page's scav bit is set only while
 *    its in-use bit is clear.
 *  - The scavenge index has the bit of every chunk holding a free page
 *    that is not scavenged (it may also have stale bits, cleared lazily).
 *  - free_pages / scav_pages / total_pages are exact.
 *
 * Metadata memory: one PROT_NONE reservation holds all summary levels and
 * the lower two levels of the scavenge index, for the whole address space
 * or, under an address-space limit, for the window the heap may use (each
 * array's pointer is biased so that it is indexed by chunk or entry
 * number either way); the parts that cover a grown range are mapped at
 * growth, 64 KiB at a time, recorded in meta_mapped so that a granule
 * shared with an earlier range is never remapped (which would zero it).
 * Chunk records come from os_alloc, 8192 at a time.
 */
#include "pagealloc.h"
#include "check.h"
#include "os.h"

#include <string.h>

#define PA_NONE (~(uintptr_t)0)
#define PA_LEAF (PA_LEVELS - 1)

/* log2 of the pages one entry of each level covers. */
static const unsigned level_log_pages[PA_LEVELS] = {21, 18, 15, 12, 9};
/* log2 of the chunks one entry of each level covers. */
#define LEVEL_CHUNKS_LOG(l) ((unsigned)(PA_LEAF - (l)) * PA_LEVEL_BITS)

/* ---- packed summaries ---- */

#define SUM_BITS 21
#define SUM_MASK (((uint64_t)1 << SUM_BITS) - 1)
/* A root entry may be entirely free: 2^21 pages does not fit in 21 bits,
 * so that one case is a flag. */
#define SUM_FULL_PAGES ((uintptr_t)1 << SUM_BITS)
#define SUM_FULL ((uint64_t)1 << 63)

GORT_INLINE uint64_t sum_pack(uintptr_t start, uintptr_t max, uintptr_t end)
{
	if (max == SUM_FULL_PAGES)
		return SUM_FULL;
	return (uint64_t)start | (uint64_t)max << SUM_BITS | (uint64_t)end << (2 * SUM_BITS);
}
GORT_INLINE uintptr_t sum_start(uint64_t s)
{
	return s & SUM_FULL ? SUM_FULL_PAGES : (uintptr_t)(s & SUM_MASK);
}
GORT_INLINE uintptr_t sum_max(uint64_t s)
{
	return s & SUM_FULL ? SUM_FULL_PAGES : (uintptr_t)(s >> SUM_BITS & SUM_MASK);
}
GORT_INLINE uintptr_t sum_end(uint64_t s)
{
	return s & SUM_FULL ? SUM_FULL_PAGES : (uintptr_t)(s >> (2 * SUM_BITS) & SUM_MASK);
}

/* ---- bit tricks on 64-page words (bit i = page i) ---- */

/* Lowest bit index starting n (1..64) consecutive set bits of x, or -1.
 * After each step bit p of y says "bits p..p+have-1 of x are all set";
 * doubling have gives O(log n) steps. */
static int word_find_run(uint64_t x, unsigned n)
{
	uint64_t y = x;
	unsigned have = 1;
	while (have < n && y) {
		unsigned s = have < n - have ? have : n - have;
		y &= y >> s;
		have += s;
	}
	return y ? (int)ctz64(y) : -1;
}

/* Longest run of clear bits strictly between the lowest and the highest
 * set bit of used (used != 0).  Walks the runs, so only used when the
 * caller's cheap bound says it could matter. */
static unsigned word_inner_max(uint64_t used)
{
	unsigned best = 0;
	used >>= ctz64(used);
	for (;;) {
		if (~used == 0)
			break;
		used >>= ctz64(~used); /* skip a run of set bits */
		if (used == 0)
			break; /* the rest is the high end, not inner */
		unsigned zeros = ctz64(used);
		if (zeros > best)
			best = zeros;
		used >>= zeros;
	}
	return best;
}

GORT_INLINE uint64_t word_mask(unsigned b0, unsigned nb)
{
	return nb == 64 ? ~(uint64_t)0 : (((uint64_t)1 << nb) - 1) << b0;
}

/* ---- chunk bitmaps ---- */

/* The leaf summary of a chunk's in-use bitmap. */
static uint64_t chunk_summarize(const uint64_t *alloc)
{
	uintptr_t start = 0, max = 0, run = 0;
	bool head = true;
	for (unsigned w = 0; w < PA_CHUNK_WORDS; w++) {
		uint64_t used = alloc[w];
		if (used == 0) {
			run += 64;
			continue;
		}
		unsigned lo = ctz64(used), hi = clz64(used);
		run += lo;
		if (head) {
			start = run;
			head = false;
		}
		if (run > max)
			max = run;
		/* Free pages between the ends bound the inner run. */
		if (64 - popcount64(used) - lo - hi > max) {
			unsigned inner = word_inner_max(used);
			if (inner > max)
				max = inner;
		}
		run = hi;
	}
	if (head)
		return sum_pack(PA_CHUNK_PAGES, PA_CHUNK_PAGES, PA_CHUNK_PAGES);
	if (run > max)
		max = run;
	return sum_pack(start, max, run);
}

/* Lowest page index >= from of a run of n free pages lying inside the
 * chunk, or PA_NONE. */
static uintptr_t chunk_find(const uint64_t *alloc, uintptr_t n, unsigned from)
{
	uintptr_t run = 0, runbase = 0;
	for (unsigned w = from >> 6; w < PA_CHUNK_WORDS; w++) {
		uint64_t used = alloc[w];
		if (w == from >> 6)
			used |= ((uint64_t)1 << (from & 63)) - 1; /* pages below from are off limits */
		if (used == 0) {
			if (run == 0)
				runbase = (uintptr_t)w << 6;
			run += 64;
			if (run >= n)
				return runbase;
			continue;
		}
		unsigned lo = ctz64(used);
		if (run + lo >= n)
			return run ? runbase : (uintptr_t)w << 6;
		if (n < 64) {
			int p = word_find_run(~used, (unsigned)n);
			if (p >= 0)
				return ((uintptr_t)w << 6) + (unsigned)p;
		}
		run = clz64(used);
		runbase = ((uintptr_t)w << 6) + 64 - run;
	}
	return PA_NONE;
}

GORT_INLINE pa_chunk *chunk_of(const pagealloc *pa, uintptr_t ci)
{
	return &pa->chunks[ci >> PA_CHUNKS_L2_LOG][ci & (((uintptr_t)1 << PA_CHUNKS_L2_LOG) - 1)];
}

/* ---- metadata mapping ---- */

/* Entries [*lo, *hi) of level l that a window of chunks [c0, c1) needs.
 * Below the root whole 8-entry blocks are kept: a search reads all
 * children of an entry it descends into. */
static void level_window(unsigned l, uintptr_t c0, uintptr_t c1, uintptr_t *lo, uintptr_t *hi)
{
	unsigned sh = LEVEL_CHUNKS_LOG(l);
	*lo = c0 >> sh;
	*hi = ((c1 - 1) >> sh) + 1;
	if (l != 0) {
		*lo = align_down(*lo, 8);
		*hi = align_up(*hi, 8);
	}
}

/* Maps the granules covering [lo, hi) (addresses in the metadata block)
 * that are not mapped yet. */
static bool meta_map(pagealloc *pa, const void *lo, const void *hi)
{
	uintptr_t a = (uintptr_t)lo - (uintptr_t)pa->meta, b = (uintptr_t)hi - (uintptr_t)pa->meta;
	for (uintptr_t g = a >> PA_GRANULE_SHIFT; g << PA_GRANULE_SHIFT < b; g++) {
		uint64_t bit = (uint64_t)1 << (g & 63);
		if (pa->meta_mapped[g >> 6] & bit)
			continue;
		if (!os_map(pa->meta + (g << PA_GRANULE_SHIFT), (uintptr_t)1 << PA_GRANULE_SHIFT))
			return false;
		pa->meta_mapped[g >> 6] |= bit;
	}
	return true;
}

static bool meta_is_mapped(const pagealloc *pa, const void *p)
{
	uintptr_t g = ((uintptr_t)p - (uintptr_t)pa->meta) >> PA_GRANULE_SHIFT;
	return pa->meta_mapped[g >> 6] >> (g & 63) & 1;
}

/* A pointer that puts element lo of an array at p: entries are indexed by
 * chunk (or summary) number whatever the window. */
static uint64_t *biased(char *p, uintptr_t lo)
{
	return (uint64_t *)((uintptr_t)p - lo * sizeof(uint64_t));
}

void pagealloc_init(pagealloc *pa, uintptr_t lo, uintptr_t hi)
{
	uintptr_t c0 = lo >> PA_CHUNK_SHIFT, c1 = hi >> PA_CHUNK_SHIFT;
	if ((lo | hi) & (PA_CHUNK_BYTES - 1) || c0 >= c1 || c1 > (uintptr_t)1 << PA_CHUNKS_LOG)
		gort_throw_addr("pagealloc: bad address window", lo);
	pa->win_c0 = c0;
	pa->win_c1 = c1;
	/* The block: each summary level's slice of the window, then the scavenge
	 * index's leaf and middle words.  The whole address space gives
	 * PA_META_BYTES. */
	uintptr_t off[PA_LEVELS + 2], elo[PA_LEVELS + 2], bytes = 0;
	for (unsigned l = 0; l < PA_LEVELS; l++) {
		uintptr_t ehi;
		level_window(l, c0, c1, &elo[l], &ehi);
		off[l] = bytes;
		bytes += (ehi - elo[l]) * 8;
	}
	elo[PA_LEVELS] = c0 >> 6; /* leaf words */
	off[PA_LEVELS] = bytes;
	bytes += (((c1 - 1) >> 6) + 1 - elo[PA_LEVELS]) * 8;
	elo[PA_LEVELS + 1] = c0 >> 12; /* middle words */
	off[PA_LEVELS + 1] = bytes;
	uintptr_t mid_bytes = (((c1 - 1) >> 12) + 1 - elo[PA_LEVELS + 1]) * 8;
	bytes = align_up(bytes + mid_bytes, (uintptr_t)1 << PA_GRANULE_SHIFT);
	GORT_ASSERT(1, bytes <= PA_META_BYTES);
	pa->meta = os_reserve(NULL, bytes);
	if (!pa->meta)
		gort_throw("pagealloc: cannot reserve address space for its metadata "
			   "(about 300 MiB on x86-64, 600 MiB on aarch64, never touched)");
	for (unsigned l = 0; l < PA_LEVELS; l++)
		pa->sum[l] = biased(pa->meta + off[l], elo[l]);
	pa->sidx_leaf = biased(pa->meta + off[PA_LEVELS], elo[PA_LEVELS]);
	pa->sidx_mid = biased(pa->meta + off[PA_LEVELS + 1], elo[PA_LEVELS + 1]);
	/* The root level is scanned between grown ranges, so all of it is
	 * mapped; so is the small middle of the scavenge index. */
	if (!meta_map(pa, pa->meta, pa->meta + off[1]) ||
	    !meta_map(pa, pa->meta + off[PA_LEVELS + 1], pa->meta + off[PA_LEVELS + 1] + mid_bytes))
		gort_throw("pagealloc: cannot map metadata");
	pa->search_addr = 0;
	pa->end = 0;
}

/* ---- grown ranges ---- */

/* Index of the first range whose limit is above addr (nranges if none). */
static uint32_t range_succ(const pagealloc *pa, uintptr_t addr)
{
	uint32_t lo = 0, hi = pa->nranges;
	while (lo < hi) {
		uint32_t mid = (lo + hi) >> 1;
		if (pa->ranges[mid].limit <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool range_overlaps(const pagealloc *pa, uintptr_t base, uintptr_t limit)
{
	uint32_t i = range_succ(pa, base);
	return i < pa->nranges && pa->ranges[i].base < limit;
}

/* The lowest grown address >= addr, or pa->end.  Holes count as in use,
 * so moving the search address across one keeps its rule. */
static uintptr_t skip_hole(const pagealloc *pa, uintptr_t addr)
{
	uint32_t i = range_succ(pa, addr);
	if (i == pa->nranges)
		return pa->end;
	return addr < pa->ranges[i].base ? pa->ranges[i].base : addr;
}

/* Whether [base, base + npages pages) is page-aligned, not empty and inside
 * one grown range. */
static bool is_grown(const pagealloc *pa, uintptr_t base, uintptr_t npages)
{
	uint32_t i = range_succ(pa, base);
	return !(base & (PAGE_BYTES - 1)) && npages != 0 && i < pa->nranges && base >= pa->ranges[i].base &&
	       npages <= (pa->ranges[i].limit - base) >> PAGE_SHIFT;
}

static void check_grown(const pagealloc *pa, uintptr_t base, uintptr_t npages, const char *msg)
{
	if (unlikely(!is_grown(pa, base, npages)))
		gort_throw_addr(msg, base);
}

static bool ranges_reserve(pagealloc *pa)
{
	if (pa->nranges < pa->cap_ranges)
		return true;
	uint32_t cap = pa->cap_ranges ? pa->cap_ranges * 2 : 256;
	pa_range *r = os_alloc(cap * sizeof(pa_range));
	if (!r)
		return false;
	if (pa->ranges) {
		memcpy(r, pa->ranges, pa->nranges * sizeof(pa_range));
		os_free(pa->ranges, pa->cap_ranges * sizeof(pa_range));
	}
	pa->ranges = r;
	pa->cap_ranges = cap;
	return true;
}

static void ranges_insert(pagealloc *pa, uintptr_t base, uintptr_t limit)
{
	uint32_t i = range_succ(pa, base);
	bool join_prev = i > 0 && pa->ranges[i - 1].limit == base;
	bool join_next = i < pa->nranges && pa->ranges[i].base == limit;
	if (join_prev && join_next) {
		pa->ranges[i - 1].limit = pa->ranges[i].limit;
		memmove(&pa->ranges[i], &pa->ranges[i + 1], (pa->nranges - i - 1) * sizeof(pa_range));
		pa->nranges--;
	} else if (join_prev) {
		pa->ranges[i - 1].limit = limit;
	} else if (join_next) {
		pa->ranges[i].base = base;
	} else {
		memmove(&pa->ranges[i + 1], &pa->ranges[i], (pa->nranges - i) * sizeof(pa_range));
		pa->ranges[i] = (pa_range){base, limit};
		pa->nranges++;
	}
	if (limit > pa->end)
		pa->end = limit;
}

/* ---- scavenge index: a three-level bitset over chunk indices ---- */

static void sidx_set(pagealloc *pa, uintptr_t ci)
{
	pa->sidx_leaf[ci >> 6] |= (uint64_t)1 << (ci & 63);
	pa->sidx_mid[ci >> 12] |= (uint64_t)1 << (ci >> 6 & 63);
	pa->sidx_top[ci >> 18] |= (uint64_t)1 << (ci >> 12 & 63);
}

static void sidx_clear(pagealloc *pa, uintptr_t ci)
{
	if ((pa->sidx_leaf[ci >> 6] &= ~((uint64_t)1 << (ci & 63))) != 0)
		return;
	if ((pa->sidx_mid[ci >> 12] &= ~((uint64_t)1 << (ci >> 6 & 63))) != 0)
		return;
	pa->sidx_top[ci >> 18] &= ~((uint64_t)1 << (ci >> 12 & 63));
}

/* The highest chunk in the index, or PA_NONE.  Upper bits are set exactly
 * when a word below is nonzero, so one top-level scan finds it. */
static uintptr_t sidx_highest(const pagealloc *pa)
{
	for (uintptr_t t = ARRAY_LEN(pa->sidx_top); t-- > 0;) {
		if (!pa->sidx_top[t])
			continue;
		uintptr_t m = t << 6 | (63 - clz64(pa->sidx_top[t]));
		uintptr_t w = m << 6 | (63 - clz64(pa->sidx_mid[m]));
		return w << 6 | (63 - clz64(pa->sidx_leaf[w]));
	}
	return PA_NONE;
}

/* ---- summary maintenance ---- */

/* Merges 8 children of child_log pages each.  The start run grows only
 * through fully free children; the end run restarts at each child that is
 * not fully free; a run can straddle children (end + next start). */
static uint64_t sum_merge(const uint64_t *kids, unsigned child_log)
{
	uintptr_t full = (uintptr_t)1 << child_log;
	uintptr_t start = 0, max = 0, end = 0;
	bool head = true;
	for (unsigned k = 0; k < 8; k++) {
		uintptr_t ks = sum_start(kids[k]), km = sum_max(kids[k]), ke = sum_end(kids[k]);
		if (head) {
			start += ks;
			head = ks == full;
		}
		if (km > max)
			max = km;
		if (end + ks > max)
			max = end + ks;
		end = ks == full ? end + full : ke;
	}
	return sum_pack(start, max, end);
}

/* Recomputes the leaves of chunks [c0, c1) and every ancestor, stopping
 * early once a level comes out unchanged. */
static void pa_update(pagealloc *pa, uintptr_t c0, uintptr_t c1)
{
	bool changed = false;
	for (uintptr_t c = c0; c < c1; c++) {
		uint64_t s = chunk_summarize(chunk_of(pa, c)->alloc);
		if (s != pa->sum[PA_LEAF][c]) {
			pa->sum[PA_LEAF][c] = s;
			changed = true;
		}
	}
	for (unsigned l = PA_LEAF; l-- > 0 && changed;) {
		c0 >>= PA_LEVEL_BITS;
		c1 = ((c1 - 1) >> PA_LEVEL_BITS) + 1;
		changed = false;
		for (uintptr_t i = c0; i < c1; i++) {
			uint64_t s = sum_merge(&pa->sum[l + 1][i << PA_LEVEL_BITS], level_log_pages[l + 1]);
			if (s != pa->sum[l][i]) {
				pa->sum[l][i] = s;
				changed = true;
			}
		}
	}
}

/* ---- bitmap updates ---- */

enum pa_op { OP_ALLOC, OP_FREE, OP_FREE_SCAV };

/* Applies op to pages [p, p + n) (page numbers), then refreshes counters,
 * index and summaries.  Returns how many pages were scavenged (OP_ALLOC). */
static uintptr_t pa_apply(pagealloc *pa, uintptr_t p, uintptr_t n, enum pa_op op)
{
	uintptr_t end = p + n, scav = 0;
	for (uintptr_t q = p; q < end;) {
		pa_chunk *ch = chunk_of(pa, q >> PA_CHUNK_PAGES_LOG);
		unsigned w = (unsigned)(q >> 6) & (PA_CHUNK_WORDS - 1);
		uintptr_t wend = min_uptr(end, (q | 63) + 1);
		uint64_t m = word_mask((unsigned)q & 63, (unsigned)(wend - q));
		if (op == OP_ALLOC) {
			if (unlikely(ch->alloc[w] & m))
				gort_throw_addr("pagealloc: allocating a page in use", q << PAGE_SHIFT);
			scav += popcount64(ch->scav[w] & m);
			ch->alloc[w] |= m;
			ch->scav[w] &= ~m;
		} else {
			if (unlikely((ch->alloc[w] & m) != m))
				gort_throw_addr("pagealloc: freeing a page not in use", q << PAGE_SHIFT);
			ch->alloc[w] &= ~m;
			if (op == OP_FREE_SCAV)
				ch->scav[w] |= m;
		}
		q = wend;
	}
	uintptr_t c0 = p >> PA_CHUNK_PAGES_LOG, c1 = ((end - 1) >> PA_CHUNK_PAGES_LOG) + 1;
	if (op == OP_ALLOC) {
		pa->free_pages -= n;
		pa->scav_pages -= scav;
	} else {
		pa->free_pages += n;
		if (op == OP_FREE_SCAV)
			pa->scav_pages += n;
		else
			for (uintptr_t c = c0; c < c1; c++)
				sidx_set(pa, c);
		if ((p << PAGE_SHIFT) < pa->search_addr)
			pa->search_addr = p << PAGE_SHIFT;
	}
	pa_update(pa, c0, c1);
	return scav;
}

/* ---- growth ---- */

bool pagealloc_grow(pagealloc *pa, uintptr_t base, uintptr_t bytes)
{
	uintptr_t limit = base + bytes;
	if (unlikely(!base || !bytes || ((base | bytes) & (PA_CHUNK_BYTES - 1)) || limit < base ||
		     limit > (uintptr_t)1 << HEAP_ADDR_BITS))
		gort_throw_addr("pagealloc: bad growth range", base);
	if (unlikely(range_overlaps(pa, base, limit)))
		gort_throw_addr("pagealloc: growth overlaps the heap", base);
	uintptr_t c0 = base >> PA_CHUNK_SHIFT, c1 = limit >> PA_CHUNK_SHIFT;
	if (unlikely(c0 < pa->win_c0 || c1 > pa->win_c1))
		gort_throw_addr("pagealloc: growth outside the window its metadata covers", base);

	/* Everything that can fail comes first, so a failure adds nothing. */
	for (unsigned l = 1; l < PA_LEVELS; l++) {
		uintptr_t lo, hi;
		level_window(l, c0, c1, &lo, &hi);
		if (!meta_map(pa, &pa->sum[l][lo], &pa->sum[l][hi]))
			return false;
	}
	if (!meta_map(pa, &pa->sidx_leaf[c0 >> 6], &pa->sidx_leaf[((c1 - 1) >> 6) + 1]))
		return false;
	for (uintptr_t b = c0 >> PA_CHUNKS_L2_LOG; b <= (c1 - 1) >> PA_CHUNKS_L2_LOG; b++) {
		if (pa->chunks[b])
			continue;
		pa->chunks[b] = os_alloc(((uintptr_t)1 << PA_CHUNKS_L2_LOG) * sizeof(pa_chunk));
		if (!pa->chunks[b])
			return false;
	}
	if (!ranges_reserve(pa))
		return false;

	ranges_insert(pa, base, limit);
	for (uintptr_t c = c0; c < c1; c++) {
		pa_chunk *ch = chunk_of(pa, c);
		memset(ch->alloc, 0, sizeof(ch->alloc));
		memset(ch->scav, 0xff, sizeof(ch->scav)); /* fresh from the kernel */
	}
	uintptr_t npages = bytes >> PAGE_SHIFT;
	pa->total_pages += npages;
	pa->free_pages += npages;
	pa->scav_pages += npages;
	pa_update(pa, c0, c1);
	/* The old search address may sit at the end of the heap or in what
	 * was a hole; re-anchor it inside a grown range. */
	pa->search_addr = skip_hole(pa, min_uptr(pa->search_addr, base));
	if (GORT_CHECK_LEVEL >= 3)
		pagealloc_check(pa);
	return true;
}

/* ---- search ---- */

/* Address-ordered first fit for npages over the summary tree.  Returns
 * the page number of the run, or PA_NONE.  *first_free receives a page
 * number such that every grown page in [search_addr, *first_free) is in use:
 * the first nonzero entry met while walking down the path that holds the
 * lowest free page, refined to the exact page when the walk reaches it. */
static uintptr_t pa_find(const pagealloc *pa, uintptr_t npages, uintptr_t *first_free)
{
	uintptr_t sp = pa->search_addr >> PAGE_SHIFT;
	uintptr_t ff = sp, idx = 0;
	bool on_path = true; /* every level so far descended into its first nonzero entry */
	for (unsigned l = 0; l < PA_LEVELS; l++) {
		unsigned lg = level_log_pages[l];
		uintptr_t lo, hi, sidx = sp >> lg;
		if (l == 0) {
			lo = sidx;
			hi = (((pa->end - 1) >> PAGE_SHIFT) >> lg) + 1;
		} else {
			lo = idx << PA_LEVEL_BITS;
			hi = lo + 8;
			if (sidx >> PA_LEVEL_BITS == idx)
				lo = sidx; /* entries below the search address hold nothing free */
		}
		uintptr_t size = 0, runbase = 0, first = PA_NONE;
		bool found = false;
		for (uintptr_t j = lo; j < hi; j++) {
			uint64_t s = pa->sum[l][j];
			if (s == 0) {
				size = 0;
				continue;
			}
			if (first == PA_NONE) {
				first = j;
				if (on_path && (j << lg) > ff)
					ff = j << lg;
			}
			uintptr_t st = sum_start(s);
			if (size + st >= npages) {
				/* A run ending in this entry's start: it begins
				 * below anything inside the entry. */
				*first_free = ff;
				return size ? runbase : j << lg;
			}
			if (sum_max(s) >= npages) {
				idx = j;
				found = true;
				break;
			}
			if (st == (uintptr_t)1 << lg) {
				if (size == 0)
					runbase = j << lg;
				size += st;
			} else {
				size = sum_end(s);
				runbase = ((j + 1) << lg) - size;
			}
		}
		if (!found) {
			if (unlikely(l != 0))
				gort_throw("pagealloc: summary promises a run that is not there");
			*first_free = first == PA_NONE ? pa->end >> PAGE_SHIFT : ff;
			return PA_NONE;
		}
		on_path = on_path && first == idx;
	}
	const uint64_t *alloc = chunk_of(pa, idx)->alloc;
	unsigned from = (sp >> PA_CHUNK_PAGES_LOG) == idx ? (unsigned)sp & (PA_CHUNK_PAGES - 1) : 0;
	uintptr_t i = chunk_find(alloc, npages, from);
	if (unlikely(i == PA_NONE))
		gort_throw("pagealloc: leaf summary promises a run that is not there");
	if (on_path) {
		uintptr_t f = npages == 1 ? i : chunk_find(alloc, 1, from);
		ff = (idx << PA_CHUNK_PAGES_LOG) + f;
	}
	*first_free = ff;
	return (idx << PA_CHUNK_PAGES_LOG) + i;
}

/* First fit, trying the chunk at the search address before the tree. */
static uintptr_t pa_find_fast(const pagealloc *pa, uintptr_t npages, uintptr_t *first_free)
{
	uintptr_t sp = pa->search_addr >> PAGE_SHIFT, ci = sp >> PA_CHUNK_PAGES_LOG;
	/* search_addr < end puts it inside a grown range: its leaf is mapped.
	 * A run that fits this chunk cannot start lower: the pages below the
	 * search address are in use. */
	if (sum_max(pa->sum[PA_LEAF][ci]) >= npages) {
		const uint64_t *alloc = chunk_of(pa, ci)->alloc;
		unsigned from = (unsigned)sp & (PA_CHUNK_PAGES - 1);
		uintptr_t i = chunk_find(alloc, npages, from);
		if (i != PA_NONE) {
			uintptr_t f = npages == 1 ? i : chunk_find(alloc, 1, from);
			*first_free = (ci << PA_CHUNK_PAGES_LOG) + f;
			return (ci << PA_CHUNK_PAGES_LOG) + i;
		}
	}
	return pa_find(pa, npages, first_free);
}

/* Raises the search address to page ff, or past the run [p, p+n) when the
 * run starts there. */
static void pa_advance(pagealloc *pa, uintptr_t ff, uintptr_t p, uintptr_t n)
{
	if (p == ff)
		ff += n;
	uintptr_t a = ff << PAGE_SHIFT;
	if (a > pa->search_addr)
		pa->search_addr = skip_hole(pa, a);
}

uintptr_t pagealloc_alloc(pagealloc *pa, uintptr_t npages, uintptr_t *scav_pages)
{
	GORT_ASSERT(1, npages >= 1);
	if (scav_pages)
		*scav_pages = 0;
	if (npages > pa->free_pages || pa->search_addr >= pa->end)
		return 0;
	uintptr_t ff, p = pa_find_fast(pa, npages, &ff);
	if (p == PA_NONE) {
		pa_advance(pa, ff, PA_NONE, 0);
		return 0;
	}
	uintptr_t scav = pa_apply(pa, p, npages, OP_ALLOC);
	pa_advance(pa, ff, p, npages);
	if (scav_pages)
		*scav_pages = scav;
	if (GORT_CHECK_LEVEL >= 3)
		pagealloc_check(pa);
	return p << PAGE_SHIFT;
}

bool pagealloc_alloc_range(pagealloc *pa, uintptr_t base, uintptr_t npages, uintptr_t *scav_pages)
{
	if (!is_grown(pa, base, npages))
		return false;
	uintptr_t end = (base >> PAGE_SHIFT) + npages;
	for (uintptr_t q = base >> PAGE_SHIFT; q < end;) {
		const pa_chunk *ch = chunk_of(pa, q >> PA_CHUNK_PAGES_LOG);
		unsigned w = (unsigned)(q >> 6) & (PA_CHUNK_WORDS - 1);
		uintptr_t wend = min_uptr(end, (q | 63) + 1);
		if (ch->alloc[w] & word_mask((unsigned)q & 63, (unsigned)(wend - q)))
			return false;
		q = wend;
	}
	/* Pages put in use: the search address's rule still holds. */
	*scav_pages = pa_apply(pa, base >> PAGE_SHIFT, npages, OP_ALLOC);
	if (GORT_CHECK_LEVEL >= 3)
		pagealloc_check(pa);
	return true;
}

void pagealloc_free(pagealloc *pa, uintptr_t base, uintptr_t npages)
{
	check_grown(pa, base, npages, "pagealloc: freeing pages outside the heap");
	pa_apply(pa, base >> PAGE_SHIFT, npages, OP_FREE);
	if (GORT_CHECK_LEVEL >= 3)
		pagealloc_check(pa);
}

/* ---- scavenger support ---- */

bool pagealloc_scavenge_take(pagealloc *pa, uintptr_t max_pages, uintptr_t *base, uintptr_t *npages)
{
	if (max_pages == 0)
		return false;
	for (;;) {
		uintptr_t ci = sidx_highest(pa);
		if (ci == PA_NONE)
			return false;
		const pa_chunk *ch = chunk_of(pa, ci);
		uint64_t cand[PA_CHUNK_WORDS];
		int top = -1;
		for (unsigned w = 0; w < PA_CHUNK_WORDS; w++) {
			cand[w] = ~ch->alloc[w] & ~ch->scav[w];
			if (cand[w])
				top = (int)w;
		}
		if (top < 0) {
			sidx_clear(pa, ci); /* stale: its free pages were reused or released */
			continue;
		}
		/* Walk down from the highest candidate page, a word at a time. */
		uintptr_t hi = ((uintptr_t)top << 6) + 64 - clz64(cand[top]), lo = hi;
		for (;;) {
			unsigned w = (unsigned)(lo - 1) >> 6, b = (unsigned)(lo - 1) & 63;
			uint64_t x = ~(cand[w] << (63 - b)); /* page lo-1 now at bit 63 */
			unsigned r = x ? clz64(x) : 64;
			lo -= r;
			if (r <= b || lo == 0 || hi - lo >= max_pages)
				break;
		}
		uintptr_t n = min_uptr(hi - lo, max_pages);
		uintptr_t p = (ci << PA_CHUNK_PAGES_LOG) + hi - n;
		pa_apply(pa, p, n, OP_ALLOC);
		bool more = false;
		for (unsigned w = 0; w < PA_CHUNK_WORDS; w++)
			more |= (~ch->alloc[w] & ~ch->scav[w]) != 0;
		if (!more)
			sidx_clear(pa, ci);
		*base = p << PAGE_SHIFT;
		*npages = n;
		if (GORT_CHECK_LEVEL >= 3)
			pagealloc_check(pa);
		return true;
	}
}

void pagealloc_scavenge_done(pagealloc *pa, uintptr_t base, uintptr_t npages)
{
	check_grown(pa, base, npages, "pagealloc: scavenged pages outside the heap");
	pa_apply(pa, base >> PAGE_SHIFT, npages, OP_FREE_SCAV);
	if (GORT_CHECK_LEVEL >= 3)
		pagealloc_check(pa);
}

uintptr_t pagealloc_free_pages(const pagealloc *pa)
{
	return pa->free_pages;
}

uintptr_t pagealloc_scavenged_pages(const pagealloc *pa)
{
	return pa->scav_pages;
}

uintptr_t pagealloc_total_pages(const pagealloc *pa)
{
	return pa->total_pages;
}

/* ---- page cache ---- */

pagecache pagealloc_alloc_cache(pagealloc *pa)
{
	if (pa->free_pages == 0 || pa->search_addr >= pa->end)
		return (pagecache){0, 0, 0};
	uintptr_t ff, p = pa_find_fast(pa, 1, &ff);
	if (unlikely(p == PA_NONE))
		gort_throw("pagealloc: free pages counted but none found");
	uintptr_t ci = p >> PA_CHUNK_PAGES_LOG;
	unsigned w = (unsigned)(p >> 6) & (PA_CHUNK_WORDS - 1);
	pa_chunk *ch = chunk_of(pa, ci);
	pagecache c = {(p & ~(uintptr_t)63) << PAGE_SHIFT, ~ch->alloc[w], ch->scav[w]};
	ch->alloc[w] = ~(uint64_t)0;
	ch->scav[w] = 0;
	pa->free_pages -= popcount64(c.cache);
	pa->scav_pages -= popcount64(c.scav);
	pa_update(pa, ci, ci + 1);
	/* p was the lowest free page, so everything below the window's end
	 * is now in use. */
	uintptr_t wend = c.base + PAGECACHE_PAGES * PAGE_BYTES;
	if (wend > pa->search_addr)
		pa->search_addr = skip_hole(pa, wend);
	if (GORT_CHECK_LEVEL >= 3)
		pagealloc_check(pa);
	return c;
}

uintptr_t pagecache_alloc(pagecache *c, uintptr_t npages, uintptr_t *scav_pages)
{
	GORT_ASSERT(2, npages >= 1 && npages <= PAGECACHE_PAGES);
	if (scav_pages)
		*scav_pages = 0;
	if (c->cache == 0)
		return 0;
	unsigned i;
	uint64_t m;
	if (npages == 1) {
		i = ctz64(c->cache);
		m = (uint64_t)1 << i;
	} else {
		int r = word_find_run(c->cache, (unsigned)npages);
		if (r < 0)
			return 0;
		i = (unsigned)r;
		m = word_mask(i, (unsigned)npages);
	}
	if (scav_pages)
		*scav_pages = popcount64(c->scav & m);
	c->cache &= ~m;
	c->scav &= ~m;
	return c->base + ((uintptr_t)i << PAGE_SHIFT);
}

void pagealloc_flush_cache(pagealloc *pa, pagecache *c)
{
	if (c->base && c->cache) {
		uintptr_t p = c->base >> PAGE_SHIFT, ci = p >> PA_CHUNK_PAGES_LOG;
		check_grown(pa, c->base, PAGECACHE_PAGES, "pagealloc: flushing a cache outside the heap");
		if (unlikely((p & 63) || (c->scav & ~c->cache)))
			gort_throw_addr("pagealloc: flushing a corrupt page cache", c->base);
		pa_chunk *ch = chunk_of(pa, ci);
		unsigned w = (unsigned)(p >> 6) & (PA_CHUNK_WORDS - 1);
		if (unlikely((ch->alloc[w] & c->cache) != c->cache))
			gort_throw_addr("pagealloc: flushing cached pages that are free", c->base);
		ch->alloc[w] &= ~c->cache;
		ch->scav[w] |= c->scav;
		pa->free_pages += popcount64(c->cache);
		pa->scav_pages += popcount64(c->scav);
		if (c->cache & ~c->scav)
			sidx_set(pa, ci);
		if (c->base < pa->search_addr)
			pa->search_addr = c->base;
		pa_update(pa, ci, ci + 1);
		if (GORT_CHECK_LEVEL >= 3)
			pagealloc_check(pa);
	}
	*c = (pagecache){0, 0, 0};
}

/* ---- check walker ---- */

void pagealloc_check(pagealloc *pa)
{
	uintptr_t free = 0, scav = 0, total = 0;
	uintptr_t sp = pa->search_addr >> PAGE_SHIFT;

	for (uint32_t r = 0; r < pa->nranges; r++) {
		const pa_range *rg = &pa->ranges[r];
		if (rg->base >= rg->limit || (r > 0 && rg->base <= pa->ranges[r - 1].limit))
			gort_throw_addr("pagealloc check: ranges unsorted or unmerged", rg->base);
		total += (rg->limit - rg->base) >> PAGE_SHIFT;
		for (uintptr_t c = rg->base >> PA_CHUNK_SHIFT; c < rg->limit >> PA_CHUNK_SHIFT; c++) {
			const pa_chunk *ch = chunk_of(pa, c);
			bool unscav = false;
			for (unsigned w = 0; w < PA_CHUNK_WORDS; w++) {
				uint64_t fr = ~ch->alloc[w];
				if (ch->scav[w] & ~fr)
					gort_throw_addr("pagealloc check: scavenged page in use", c << PA_CHUNK_SHIFT);
				free += popcount64(fr);
				scav += popcount64(ch->scav[w]);
				unscav |= (fr & ~ch->scav[w]) != 0;
				/* Pages below the search address must be in use. */
				uintptr_t p0 = (c << PA_CHUNK_PAGES_LOG) + ((uintptr_t)w << 6);
				if (p0 < sp) {
					uintptr_t below = min_uptr(sp - p0, 64);
					if (fr & word_mask(0, (unsigned)below))
						gort_throw_addr("pagealloc check: free page below search address",
							   p0 << PAGE_SHIFT);
				}
			}
			if (unscav && !(pa->sidx_leaf[c >> 6] >> (c & 63) & 1))
				gort_throw_addr("pagealloc check: chunk missing from scavenge index", c << PA_CHUNK_SHIFT);
		}
	}
	if (free != pa->free_pages || scav != pa->scav_pages || total != pa->total_pages)
		gort_throw_addr("pagealloc check: page counters disagree with the bitmaps", free);
	if (pa->end != (pa->nranges ? pa->ranges[pa->nranges - 1].limit : 0))
		gort_throw_addr("pagealloc check: bad end", pa->end);
	if (pa->search_addr != pa->end && !range_overlaps(pa, pa->search_addr, pa->search_addr + 1))
		gort_throw_addr("pagealloc check: search address outside the heap", pa->search_addr);

	/* Summaries, leaves upward.  Every mapped block next to a grown range
	 * is checked: entries covering nothing grown must be 0. */
	for (unsigned l = PA_LEVELS; l-- > 0;) {
		unsigned lg = level_log_pages[l];
		uintptr_t next = 0; /* avoids rechecking blocks shared by ranges */
		/* The root is wholly mapped and checked in one pass; below it,
		 * the blocks each range mapped. */
		uint32_t passes = l == 0 ? 1 : pa->nranges;
		for (uint32_t r = 0; r < passes; r++) {
			uintptr_t lo, hi;
			if (l == 0) {
				level_window(0, pa->win_c0, pa->win_c1, &lo, &hi);
			} else {
				level_window(l, pa->ranges[r].base >> PA_CHUNK_SHIFT,
					     pa->ranges[r].limit >> PA_CHUNK_SHIFT, &lo, &hi);
				lo = max_uptr(lo, next);
			}
			for (uintptr_t i = lo; i < hi; i++) {
				uint64_t want = 0;
				uintptr_t a0 = (i << lg) << PAGE_SHIFT, a1 = ((i + 1) << lg) << PAGE_SHIFT;
				if (range_overlaps(pa, a0, a1))
					want = l == PA_LEAF ? chunk_summarize(chunk_of(pa, i)->alloc)
							    : sum_merge(&pa->sum[l + 1][i << PA_LEVEL_BITS],
									level_log_pages[l + 1]);
				if (!meta_is_mapped(pa, &pa->sum[l][i]))
					gort_throw_addr("pagealloc check: summary not mapped", a0);
				if (pa->sum[l][i] != want) {
					print_str("pagealloc check: level ");
					print_uint(l);
					print_str(" entry ");
					print_uint(i);
					print_str(" is ");
					print_hex(pa->sum[l][i]);
					print_str(" want ");
					print_hex(want);
					print_str("\n");
					gort_throw_addr("pagealloc check: summary mismatch", a0);
				}
			}
			next = max_uptr(next, hi);
		}
	}

	/* Index consistency: upper bits set exactly over nonzero words, and
	 * leaf bits only for grown chunks. */
	uintptr_t m0 = pa->win_c0 >> 12, m1 = ((pa->win_c1 - 1) >> 12) + 1;
	uintptr_t w0 = pa->win_c0 >> 6, w1 = ((pa->win_c1 - 1) >> 6) + 1;
	for (uintptr_t t = 0; t < ARRAY_LEN(pa->sidx_top); t++) {
		for (uintptr_t m = t << 6; m < (t + 1) << 6; m++) {
			bool mid_bit = pa->sidx_top[t] >> (m & 63) & 1;
			if (m < m0 || m >= m1) {
				if (mid_bit)
					gort_throw_addr("pagealloc check: scavenge index top bit outside the window", m);
				continue;
			}
			if (!mid_bit) {
				if (pa->sidx_mid[m])
					gort_throw_addr("pagealloc check: scavenge index middle word not in top", m);
				continue;
			}
			if (!pa->sidx_mid[m])
				gort_throw_addr("pagealloc check: scavenge index top bit over empty word", m);
			for (uintptr_t w = m << 6; w < (m + 1) << 6; w++) {
				bool set = pa->sidx_mid[m] >> (w & 63) & 1;
				if (w < w0 || w >= w1) {
					if (set)
						gort_throw_addr("pagealloc check: scavenge index middle bit outside the window", w);
					continue;
				}
				if (set != (meta_is_mapped(pa, &pa->sidx_leaf[w]) && pa->sidx_leaf[w] != 0))
					gort_throw_addr("pagealloc check: scavenge index middle bit wrong", w);
				if (!set)
					continue;
				for (uintptr_t c = w << 6; c < (w + 1) << 6; c++)
					if ((pa->sidx_leaf[w] >> (c & 63) & 1) &&
					    !range_overlaps(pa, c << PA_CHUNK_SHIFT, (c + 1) << PA_CHUNK_SHIFT))
						gort_throw_addr("pagealloc check: scavenge index names an ungrown chunk",
							   c << PA_CHUNK_SHIFT);
			}
		}
	}
}
