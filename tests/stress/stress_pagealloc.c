/*
 * stress_pagealloc.c: the page allocator against a shadow model.
 *
 * The shadow is one byte per page of a 32 GiB fake address window (never
 * mapped: the allocator only keeps books).  Random operations (allocations
 * biased to small sizes, frees of whole or partial live runs, scavenger
 * take/done, page caches, growth) are applied to both, and every result is
 * compared with what a naive scan of the shadow says it must be: first fit
 * for allocations, the highest free unscavenged run for the scavenger.
 * Usage: stress_pagealloc [seed [ops]]; the seed is printed so a failure
 * can be replayed.
 */
#include "os.h"
#include "pagealloc.h"
#include "testing.h"

#include <time.h>

#define PG PAGE_BYTES
#define WIN_PAGES ((uintptr_t)1 << 22) /* 32 GiB */
/* The window's middle is a 16 GiB boundary (a root summary entry's). */
#define WIN_BASE ((uintptr_t)0x7e0000000000 - (WIN_PAGES / 2) * PG)
#define MAX_GROWN_PAGES ((uintptr_t)160 * 1024) /* 1.25 GiB */
#define CHUNK_PAGES PA_CHUNK_PAGES
#define NONE (~(uintptr_t)0)

enum { S_NONE, S_FREE, S_SCAV, S_USED };

typedef struct prun {
	uintptr_t p, n; /* window page index, pages */
} prun;

static uint8_t *shadow;
static pagealloc *pa;
static prun ranges[4096];
static unsigned nranges;
static prun live[1 << 16];
static unsigned nlive;
static prun taken[8];
static unsigned ntaken;
static pagecache caches[4];
static uintptr_t exp_free, exp_scav, exp_total;
static uint64_t rng;
static unsigned long op;
static bool failed;
static unsigned long n_alloc, n_alloc_fail, n_extend, n_extend_fail, n_take, n_cache;

/* Everything above back to its start, for a second run in one process. */
static void reset_state(void)
{
	nranges = nlive = ntaken = 0;
	memset(caches, 0, sizeof caches);
	exp_free = exp_scav = exp_total = 0;
	op = 0;
	failed = false;
	n_alloc = n_alloc_fail = n_extend = n_extend_fail = n_take = n_cache = 0;
}

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static uintptr_t rndn(uintptr_t n)
{
	return (uintptr_t)(rnd() % n);
}

#define FAILF(...)                                                              \
	do {                                                                    \
		fprintf(stderr, "    op %lu: ", op);                             \
		fprintf(stderr, __VA_ARGS__);                                   \
		fputc('\n', stderr);                                            \
		t_failed_case = 1;                                              \
		failed = true;                                                  \
		return;                                                         \
	} while (0)

static uintptr_t addr_of(uintptr_t p)
{
	return WIN_BASE + p * PG;
}

static uintptr_t page_of(uintptr_t a)
{
	return (a - WIN_BASE) / PG;
}

static bool is_free(uintptr_t p)
{
	return shadow[p] == S_FREE || shadow[p] == S_SCAV;
}

/* ---- naive oracles over the shadow ---- */

/* The oracles skip 8 shadow bytes at a time where they can, which keeps
 * the sanitizer builds fast. */
#define BYTES8(b) ((uint64_t)(b) * 0x0101010101010101ULL)

static uint64_t load8(uintptr_t p)
{
	uint64_t w;
	memcpy(&w, shadow + p, 8);
	return w;
}

/* Whether some byte of w equals b. */
static bool has_byte(uint64_t w, uint8_t b)
{
	uint64_t x = w ^ BYTES8(b);
	return ((x - BYTES8(1)) & ~x & BYTES8(0x80)) != 0;
}

/* Lowest run of n free pages; runs continue across adjacent ranges. */
static uintptr_t naive_first_fit(uintptr_t n)
{
	uintptr_t run = 0, base = 0, prev_limit = NONE;
	for (unsigned r = 0; r < nranges; r++) {
		if (ranges[r].p != prev_limit)
			run = 0;
		uintptr_t lim = ranges[r].p + ranges[r].n;
		for (uintptr_t p = ranges[r].p; p < lim; p++) {
			if (run == 0 && !(p & 7) && p + 8 <= lim && load8(p) == BYTES8(S_USED)) {
				p += 7;
				continue;
			}
			if (!is_free(p)) {
				run = 0;
				continue;
			}
			if (run++ == 0)
				base = p;
			if (run == n)
				return base;
		}
		prev_limit = ranges[r].p + ranges[r].n;
	}
	return NONE;
}

/* The run the scavenger must take: down from the highest free unscavenged
 * page, within its chunk, at most max pages. */
static prun naive_scav(uintptr_t max)
{
	for (unsigned r = nranges; r-- > 0;) {
		for (uintptr_t p = ranges[r].p + ranges[r].n; p-- > ranges[r].p;) {
			if ((p & 7) == 7 && p - 7 >= ranges[r].p && !has_byte(load8(p - 7), S_FREE)) {
				p -= 7;
				continue;
			}
			if (shadow[p] != S_FREE)
				continue;
			uintptr_t lo = p, floor = p & ~(CHUNK_PAGES - 1);
			/* (WIN_BASE is chunk-aligned, so window pages align like addresses.) */
			while (lo > floor && shadow[lo - 1] == S_FREE && p + 1 - lo < max)
				lo--;
			return (prun){lo, p + 1 - lo};
		}
	}
	return (prun){NONE, 0};
}

/* ---- bookkeeping ---- */

static void set_pages(uintptr_t p, uintptr_t n, uint8_t st)
{
	for (uintptr_t i = p; i < p + n; i++) {
		if (is_free(i))
			exp_free--;
		if (shadow[i] == S_SCAV)
			exp_scav--;
		shadow[i] = st;
		if (is_free(i))
			exp_free++;
		if (st == S_SCAV)
			exp_scav++;
	}
}

static void add_live(uintptr_t p, uintptr_t n)
{
	if (nlive < ARRAY_LEN(live))
		live[nlive++] = (prun){p, n};
	else { /* table full: give it back */
		pagealloc_free(pa, addr_of(p), n);
		set_pages(p, n, S_FREE);
	}
}

static void check_counters(void)
{
	if (pagealloc_free_pages(pa) != exp_free || pagealloc_scavenged_pages(pa) != exp_scav ||
	    pagealloc_total_pages(pa) != exp_total)
		FAILF("counters: free %lu/%lu scav %lu/%lu total %lu/%lu", (unsigned long)pagealloc_free_pages(pa),
		      (unsigned long)exp_free, (unsigned long)pagealloc_scavenged_pages(pa),
		      (unsigned long)exp_scav, (unsigned long)pagealloc_total_pages(pa),
		      (unsigned long)exp_total);
}

/* Compares every grown page's bits with the shadow. */
static void audit_bitmaps(void)
{
	for (unsigned r = 0; r < nranges; r++) {
		for (uintptr_t p = ranges[r].p; p < ranges[r].p + ranges[r].n; p++) {
			uintptr_t ap = addr_of(p) >> PAGE_SHIFT, ci = ap >> PA_CHUNK_PAGES_LOG;
			const pa_chunk *ch =
				&pa->chunks[ci >> PA_CHUNKS_L2_LOG][ci & (((uintptr_t)1 << PA_CHUNKS_L2_LOG) - 1)];
			unsigned w = (unsigned)(ap >> 6) & (PA_CHUNK_WORDS - 1), b = (unsigned)ap & 63;
			int inuse = (int)(ch->alloc[w] >> b & 1), sc = (int)(ch->scav[w] >> b & 1);
			int want_inuse = shadow[p] == S_USED, want_sc = shadow[p] == S_SCAV;
			if (inuse != want_inuse || sc != want_sc)
				FAILF("page %#lx: bits in use %d scav %d, shadow %d", (unsigned long)addr_of(p), inuse, sc,
				      shadow[p]);
		}
	}
}

/* ---- operations ---- */

static uintptr_t pick_size(void)
{
	uintptr_t r = rndn(100);
	if (r < 55)
		return 1 + rndn(4);
	if (r < 80)
		return 1 + rndn(64);
	if (r < 95)
		return 1 + rndn(600);
	return 1 + rndn(2000);
}

/* Adds a random chunk-aligned range of the window that overlaps nothing,
 * often right next to an existing one.  False if none was found. */
static bool grow_random(uintptr_t min_pages)
{
	uintptr_t chunks = (min_pages + CHUNK_PAGES - 1) / CHUNK_PAGES + rndn(16);
	uintptr_t n = chunks * CHUNK_PAGES;
	if (exp_total + n > MAX_GROWN_PAGES || nranges == ARRAY_LEN(ranges))
		return false;
	for (int tries = 0; tries < 50; tries++) {
		uintptr_t p;
		if (nranges && rndn(2)) {
			const prun *r = &ranges[rndn(nranges)];
			p = rndn(2) ? r->p + r->n : r->p - n; /* may wrap: rejected below */
		} else {
			p = rndn(WIN_PAGES / CHUNK_PAGES) * CHUNK_PAGES;
		}
		if (p >= WIN_PAGES || p + n > WIN_PAGES)
			continue;
		bool clash = false;
		for (unsigned i = 0; i < nranges && !clash; i++)
			clash = p < ranges[i].p + ranges[i].n && ranges[i].p < p + n;
		if (clash)
			continue;
		if (!pagealloc_grow(pa, addr_of(p), n * PG)) {
			t_failed_case = 1;
			failed = true;
			fprintf(stderr, "    op %lu: grow failed\n", op);
			return false;
		}
		unsigned i = nranges++;
		while (i > 0 && ranges[i - 1].p > p) {
			ranges[i] = ranges[i - 1];
			i--;
		}
		ranges[i] = (prun){p, n};
		memset(shadow + p, S_SCAV, n);
		exp_free += n;
		exp_scav += n;
		exp_total += n;
		return true;
	}
	return false;
}

static void do_alloc(uintptr_t n)
{
	uintptr_t want = naive_first_fit(n), scav = 12345;
	uintptr_t a = pagealloc_alloc(pa, n, &scav);
	if (want == NONE) {
		n_alloc_fail++;
		if (a != 0)
			FAILF("alloc(%lu) = %#lx, shadow has no such run", (unsigned long)n, (unsigned long)a);
		if (scav != 0)
			FAILF("failed alloc reported scav %lu", (unsigned long)scav);
		if (rndn(3) == 0 && grow_random(n))
			do_alloc(n);
		return;
	}
	if (a != addr_of(want))
		FAILF("alloc(%lu) = %#lx, first fit is %#lx", (unsigned long)n, (unsigned long)a,
		      (unsigned long)addr_of(want));
	uintptr_t s = 0;
	for (uintptr_t p = want; p < want + n; p++)
		s += shadow[p] == S_SCAV;
	if (s != scav)
		FAILF("alloc(%lu) at %#lx: scav %lu, shadow says %lu", (unsigned long)n, (unsigned long)a,
		      (unsigned long)scav, (unsigned long)s);
	n_alloc++;
	set_pages(want, n, S_USED);
	add_live(want, n);
}

/* Grows a live run in place (pagealloc_alloc_range at its end): it must
 * succeed exactly when every page after it is grown and free. */
static void do_extend(void)
{
	if (!nlive)
		return;
	unsigned i = (unsigned)rndn(nlive);
	uintptr_t q = live[i].p + live[i].n, k = rndn(4) ? 1 + rndn(16) : pick_size();
	if (q + k > WIN_PAGES)
		return;
	bool want = true;
	uintptr_t s = 0;
	for (uintptr_t p = q; p < q + k; p++) {
		want &= is_free(p);
		s += shadow[p] == S_SCAV;
	}
	uintptr_t scav = 12345;
	bool got = pagealloc_alloc_range(pa, addr_of(q), k, &scav);
	if (got != want) {
		FAILF("alloc_range(%#lx, %lu) = %d, shadow says %d", (unsigned long)addr_of(q), (unsigned long)k, got, want);
		return;
	}
	if (!got) {
		n_extend_fail++;
		return;
	}
	if (scav != s)
		FAILF("alloc_range(%#lx, %lu): scav %lu, shadow says %lu", (unsigned long)addr_of(q), (unsigned long)k,
		      (unsigned long)scav, (unsigned long)s);
	n_extend++;
	set_pages(q, k, S_USED);
	live[i].n += k;
}

static void do_free(void)
{
	if (!nlive)
		return;
	unsigned i = (unsigned)rndn(nlive);
	prun r = live[i];
	live[i] = live[--nlive];
	uintptr_t off = 0, k = r.n;
	if (r.n > 1 && rndn(3) == 0) {
		/* Free a piece; the rest stays live. */
		off = rndn(r.n);
		k = 1 + rndn(r.n - off);
		if (off)
			add_live(r.p, off);
		if (off + k < r.n)
			add_live(r.p + off + k, r.n - off - k);
	}
	pagealloc_free(pa, addr_of(r.p + off), k);
	set_pages(r.p + off, k, S_FREE);
}

static void do_scav_done(unsigned i)
{
	prun t = taken[i];
	taken[i] = taken[--ntaken];
	pagealloc_scavenge_done(pa, addr_of(t.p), t.n);
	set_pages(t.p, t.n, S_SCAV);
}

static void do_scav_take(void)
{
	uintptr_t max = rndn(4) ? 1 + rndn(64) : 1 + rndn(600), b = 0, n = 0;
	prun want = naive_scav(max);
	bool ok = pagealloc_scavenge_take(pa, max, &b, &n);
	if (!ok) {
		if (want.p != NONE)
			FAILF("scavenge_take(%lu) found nothing, shadow has %lu pages at %#lx", (unsigned long)max,
			      (unsigned long)want.n, (unsigned long)addr_of(want.p));
		return;
	}
	if (want.p == NONE || b != addr_of(want.p) || n != want.n)
		FAILF("scavenge_take(%lu) = %lu pages at %#lx, shadow says %lu at %#lx", (unsigned long)max,
		      (unsigned long)n, (unsigned long)b, (unsigned long)want.n,
		      (unsigned long)(want.p == NONE ? 0 : addr_of(want.p)));
	n_take++;
	set_pages(want.p, want.n, S_USED);
	taken[ntaken++] = want;
	if (ntaken == ARRAY_LEN(taken) || rndn(2))
		do_scav_done((unsigned)rndn(ntaken));
}

static void do_cache_flush(pagecache *c)
{
	if (c->base) {
		uintptr_t wp = page_of(c->base);
		for (unsigned i = 0; i < 64; i++)
			if (c->cache >> i & 1)
				set_pages(wp + i, 1, c->scav >> i & 1 ? S_SCAV : S_FREE);
	}
	pagealloc_flush_cache(pa, c);
}

static void do_cache_fill(pagecache *c)
{
	do_cache_flush(c);
	uintptr_t first = naive_first_fit(1);
	*c = pagealloc_alloc_cache(pa);
	if (first == NONE) {
		if (c->base || c->cache || c->scav)
			FAILF("alloc_cache on a full heap gave base %#lx", (unsigned long)c->base);
		return;
	}
	uintptr_t wp = first & ~(uintptr_t)63;
	uint64_t want_cache = 0, want_scav = 0;
	for (unsigned i = 0; i < 64; i++) {
		want_cache |= (uint64_t)is_free(wp + i) << i;
		want_scav |= (uint64_t)(shadow[wp + i] == S_SCAV) << i;
	}
	if (c->base != addr_of(wp) || c->cache != want_cache || c->scav != want_scav)
		FAILF("alloc_cache = {%#lx %#lx %#lx}, want {%#lx %#lx %#lx}", (unsigned long)c->base,
		      (unsigned long)c->cache, (unsigned long)c->scav, (unsigned long)addr_of(wp),
		      (unsigned long)want_cache, (unsigned long)want_scav);
	for (unsigned i = 0; i < 64; i++)
		if (want_cache >> i & 1)
			set_pages(wp + i, 1, S_USED);
}

static void do_cache_alloc(pagecache *c)
{
	uintptr_t n = rndn(4) ? 1 : 1 + rndn(20), s = 777;
	int want = -1;
	for (unsigned i = 0; i + n <= 64 && want < 0; i++) {
		uint64_t m = n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1) << i;
		if ((c->cache & m) == m)
			want = (int)i;
	}
	uint64_t scav_before = c->scav;
	uintptr_t a = pagecache_alloc(c, n, &s);
	if (want < 0) {
		if (a != 0)
			FAILF("pagecache_alloc(%lu) = %#lx from a cache without room", (unsigned long)n,
			      (unsigned long)a);
		return;
	}
	uint64_t m = (((uint64_t)1 << n) - 1) << want;
	if (a != c->base + (uintptr_t)want * PG || s != popcount64(scav_before & m))
		FAILF("pagecache_alloc(%lu) = %#lx scav %lu, want offset %d", (unsigned long)n, (unsigned long)a,
		      (unsigned long)s, want);
	n_cache++;
	add_live(page_of(a), n);
}

/* windowed: the allocator's metadata covers only the test's window (as
 * under an address-space limit), not the whole address space; its ends are
 * off the summary levels' 8-entry blocks (by 3 and 5 chunks), which the
 * slices must still hold whole. */
static void stress(uint64_t seed, unsigned long nops, bool windowed)
{
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	shadow = calloc(WIN_PAGES, 1);
	pa = os_alloc(sizeof(*pa));
	REQUIRE(shadow && pa);
	if (windowed)
		pagealloc_init(pa, WIN_BASE - 3 * PA_CHUNK_BYTES, WIN_BASE + WIN_PAGES * PG + 5 * PA_CHUNK_BYTES);
	else
		pagealloc_init(pa, 0, (uintptr_t)1 << HEAP_ADDR_BITS);
	grow_random(1);
	for (op = 0; op < nops && !failed; op++) {
		uintptr_t r = rndn(1000);
		if (r < 400)
			do_alloc(pick_size());
		else if (r < 430)
			do_extend();
		else if (r < 800)
			do_free();
		else if (r < 860)
			do_scav_take();
		else if (r < 880 && ntaken)
			do_scav_done((unsigned)rndn(ntaken));
		else if (r < 900)
			do_cache_fill(&caches[rndn(ARRAY_LEN(caches))]);
		else if (r < 980) {
			pagecache *c = &caches[rndn(ARRAY_LEN(caches))];
			if (c->base)
				do_cache_alloc(c);
		} else if (r < 990)
			do_cache_flush(&caches[rndn(ARRAY_LEN(caches))]);
		else
			grow_random(1);
		if (failed)
			break;
		check_counters();
		if (op % 64 == 0)
			pagealloc_check(pa);
		if (op % 4096 == 0)
			audit_bitmaps();
	}
	if (failed)
		return;
	/* Drain everything; the whole heap must come back as one free state. */
	for (unsigned i = 0; i < ARRAY_LEN(caches); i++)
		do_cache_flush(&caches[i]);
	while (ntaken)
		do_scav_done(0);
	while (nlive)
		do_free();
	check_counters();
	pagealloc_check(pa);
	audit_bitmaps();
	CHECK(pagealloc_free_pages(pa) == pagealloc_total_pages(pa));
	/* Scavenge it all, then each range must be allocatable whole. */
	uintptr_t b, n;
	while (!failed && pagealloc_scavenge_take(pa, 1 + rndn(512), &b, &n))
		pagealloc_scavenge_done(pa, b, n);
	CHECK(pagealloc_scavenged_pages(pa) == pagealloc_free_pages(pa));
	for (unsigned r = 0; r < nranges && !failed; r++) {
		uintptr_t len = ranges[r].n;
		unsigned q = r;
		while (q + 1 < nranges && ranges[q + 1].p == ranges[q].p + ranges[q].n)
			len += ranges[++q].n;
		uintptr_t s = 0, a = pagealloc_alloc(pa, len, &s);
		CHECKF(a == addr_of(ranges[r].p) && s == len, "whole range %u: %#lx", r, (unsigned long)a);
		r = q;
	}
	CHECK(pagealloc_alloc(pa, 1, NULL) == 0 && pagealloc_free_pages(pa) == 0);
	pagealloc_check(pa);
	printf("    %lu ops: %lu allocs (%lu found no run), %lu runs grown in place (%lu could not), %lu scavenge "
	       "takes, %lu cache allocs; %u ranges, %lu pages grown\n",
	       op, n_alloc, n_alloc_fail, n_extend, n_extend_fail, n_take, n_cache, nranges, (unsigned long)exp_total);
	free(shadow);
}

static uint64_t seed;
static unsigned long nops = 40000;

static void stress_pagealloc(void)
{
	stress(seed, nops, false);
}

static void stress_pagealloc_window(void)
{
	reset_state();
	stress(seed ^ 0x5bd1e995, nops, true);
}

int main(int argc, char **argv)
{
	seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL);
	if (argc > 2)
		nops = strtoul(argv[2], NULL, 0);
	printf("seed=%llu\n", (unsigned long long)seed);
	fflush(stdout);
	RUN(stress_pagealloc);
	RUN(stress_pagealloc_window);
	TEST_EXIT();
}
