/*
 * test_pagealloc.c: unit tests for the page allocator.
 *
 * The page allocator only keeps books on heap pages, so these tests grow it
 * with made-up address ranges that are never mapped.  Every case builds a
 * fresh allocator and runs pagealloc_check after each step.
 */
#include "os.h"
#include "pagealloc.h"
#include "testing.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((uintptr_t)1 << 20)
#define GiB ((uintptr_t)1 << 30)
#define PG PAGE_BYTES
/* A 16 GiB-aligned fake heap base: a root summary boundary. */
#define FAKE ((uintptr_t)0x7e0000000000)

static pagealloc *new_pa(void)
{
	pagealloc *pa = os_alloc(sizeof(*pa));
	if (!pa) {
		fprintf(stderr, "os_alloc failed\n");
		exit(1);
	}
	pagealloc_init(pa, 0, (uintptr_t)1 << HEAP_ADDR_BITS);
	pagealloc_check(pa);
	return pa;
}

static void del_pa(pagealloc *pa)
{
	/* The metadata reservation is left behind: there is no destructor,
	 * and address space is plentiful. */
	os_free(pa, sizeof(*pa));
}

static bool grow_chk(pagealloc *pa, uintptr_t base, uintptr_t bytes)
{
	bool ok = pagealloc_grow(pa, base, bytes);
	pagealloc_check(pa);
	return ok;
}

/* REQUIRE evaluates its condition twice, so it gets a saved result. */
#define REQUIRE_GROW(pa, base, bytes)                        \
	do {                                                 \
		bool grown_ = grow_chk(pa, base, bytes);     \
		REQUIRE(grown_);                             \
	} while (0)

static uintptr_t alloc_chk(pagealloc *pa, uintptr_t n, uintptr_t *scav)
{
	uintptr_t s = ~(uintptr_t)0;
	uintptr_t a = pagealloc_alloc(pa, n, &s);
	pagealloc_check(pa);
	if (scav)
		*scav = s;
	return a;
}

static void free_chk(pagealloc *pa, uintptr_t base, uintptr_t n)
{
	pagealloc_free(pa, base, n);
	pagealloc_check(pa);
}

static void test_grow_and_sizes(void)
{
	pagealloc *pa = new_pa();
	REQUIRE_GROW(pa, FAKE, 128 * MiB);
	pagealloc_check(pa);
	CHECK(pagealloc_total_pages(pa) == 16384);
	CHECK(pagealloc_free_pages(pa) == 16384);
	CHECK(pagealloc_scavenged_pages(pa) == 16384);

	uintptr_t s, off = 0;
	static const uintptr_t sizes[] = {1, 7, 512, 513, 8192};
	for (unsigned i = 0; i < ARRAY_LEN(sizes); i++) {
		uintptr_t a = alloc_chk(pa, sizes[i], &s);
		CHECKF(a == FAKE + off * PG, "size %lu at %#lx", (unsigned long)sizes[i], (unsigned long)a);
		CHECK(s == sizes[i]); /* fresh pages are scavenged */
		off += sizes[i];
	}
	CHECK(pagealloc_free_pages(pa) == 16384 - off);
	CHECK(pagealloc_scavenged_pages(pa) == 16384 - off);
	/* The rest of the range in one piece, then nothing. */
	uintptr_t rest = 16384 - off;
	CHECK(alloc_chk(pa, rest + 1, &s) == 0);
	CHECK(alloc_chk(pa, rest, &s) == FAKE + off * PG);
	CHECK(alloc_chk(pa, 1, &s) == 0 && s == 0);
	CHECK(pagealloc_free_pages(pa) == 0);
	del_pa(pa);
}

static void test_first_fit(void)
{
	pagealloc *pa = new_pa();
	REQUIRE_GROW(pa, FAKE, 64 * MiB);
	uintptr_t a[64];
	for (unsigned i = 0; i < 64; i++) {
		a[i] = alloc_chk(pa, 4, NULL);
		CHECK(a[i] == FAKE + i * 4 * PG);
	}
	/* Holes of 4 pages at 10, 20 and a hole of 8 pages at 40-41. */
	free_chk(pa, a[10], 4);
	free_chk(pa, a[20], 4);
	free_chk(pa, a[40], 4);
	free_chk(pa, a[41], 4);
	CHECK(alloc_chk(pa, 6, NULL) == a[40]);  /* only the 8-page hole fits */
	CHECK(alloc_chk(pa, 2, NULL) == a[10]);  /* lowest hole first */
	CHECK(alloc_chk(pa, 3, NULL) == a[20]);  /* 2 left at a[10]+2 do not fit 3 */
	CHECK(alloc_chk(pa, 2, NULL) == a[10] + 2 * PG);
	CHECK(alloc_chk(pa, 2, NULL) == a[40] + 6 * PG);
	CHECK(alloc_chk(pa, 1, NULL) == a[20] + 3 * PG);
	CHECK(alloc_chk(pa, 1, NULL) == FAKE + 256 * PG); /* past the used prefix */
	del_pa(pa);
}

static void test_coalesce(void)
{
	pagealloc *pa = new_pa();
	REQUIRE_GROW(pa, FAKE, 64 * MiB);
	uintptr_t x = alloc_chk(pa, 10, NULL), y = alloc_chk(pa, 20, NULL), z = alloc_chk(pa, 30, NULL);
	uintptr_t guard = alloc_chk(pa, 1, NULL);
	CHECK(y == x + 10 * PG && z == y + 20 * PG && guard == z + 30 * PG);
	free_chk(pa, x, 10);
	free_chk(pa, z, 30);
	CHECK(alloc_chk(pa, 31, NULL) == guard + PG); /* nothing fits below yet */
	free_chk(pa, y, 20);
	uintptr_t s;
	CHECK(alloc_chk(pa, 60, &s) == x);
	CHECK(s == 0); /* freed pages are not scavenged */
	/* Partial frees coalesce too. */
	free_chk(pa, x + 5 * PG, 10);
	free_chk(pa, x + 15 * PG, 10);
	CHECK(alloc_chk(pa, 20, NULL) == x + 5 * PG);
	del_pa(pa);
}

static void test_chunk_boundaries(void)
{
	pagealloc *pa = new_pa();
	REQUIRE_GROW(pa, FAKE, 128 * MiB);
	/* 4 MiB chunk boundary: 12 pages left in chunk 0. */
	CHECK(alloc_chk(pa, 500, NULL) == FAKE);
	CHECK(alloc_chk(pa, 100, NULL) == FAKE + 500 * PG);
	CHECK(alloc_chk(pa, 1, NULL) == FAKE + 600 * PG);
	/* 32 MiB boundary (4096 pages): a run from 4000 to 4200. */
	CHECK(alloc_chk(pa, 4000 - 601, NULL) == FAKE + 601 * PG);
	CHECK(alloc_chk(pa, 200, NULL) == FAKE + 4000 * PG);
	/* Free a run straddling both kinds of boundary and refill it. */
	free_chk(pa, FAKE + 400 * PG, 3800);
	CHECK(alloc_chk(pa, 3800, NULL) == FAKE + 400 * PG);
	/* A run spanning several whole chunks and a partial one. */
	CHECK(alloc_chk(pa, 2000, NULL) == FAKE + 4200 * PG);
	del_pa(pa);

	/* A 16 GiB root boundary in the middle of one grown range. */
	pa = new_pa();
	uintptr_t X = FAKE + 16 * GiB;
	REQUIRE_GROW(pa, X - 64 * MiB, 192 * MiB);
	CHECK(alloc_chk(pa, 8000, NULL) == X - 64 * MiB);
	CHECK(alloc_chk(pa, 400, NULL) == X - 192 * PG);
	free_chk(pa, X - 64 * MiB, 8000);
	CHECK(alloc_chk(pa, 8001, NULL) == X + 208 * PG); /* 8000 below do not fit */
	CHECK(alloc_chk(pa, 8000, NULL) == X - 64 * MiB);
	del_pa(pa);
}

static void test_huge_runs(void)
{
	/* Runs larger than a root entry (16 GiB = 2^21 pages): whole free root
	 * entries use the packed "full" summary. */
	pagealloc *pa = new_pa();
	REQUIRE_GROW(pa, FAKE, 40 * GiB);
	uintptr_t n = (uintptr_t)1 << 21;
	CHECK(alloc_chk(pa, 1, NULL) == FAKE);
	CHECK(alloc_chk(pa, n + 5, NULL) == FAKE + PG);
	CHECK(alloc_chk(pa, n, NULL) == FAKE + (n + 6) * PG);
	free_chk(pa, FAKE, 1);
	free_chk(pa, FAKE + PG, n + 5);
	CHECK(alloc_chk(pa, 2 * n + 6, NULL) == 0);
	CHECK(alloc_chk(pa, n + 6, NULL) == FAKE);
	del_pa(pa);
}

static void test_two_ranges(void)
{
	pagealloc *pa = new_pa();
	uintptr_t A = FAKE, B = FAKE + 100 * GiB;
	REQUIRE_GROW(pa, B, 64 * MiB);
	CHECK(alloc_chk(pa, 1, NULL) == B);
	REQUIRE_GROW(pa, A, 64 * MiB); /* lower: becomes first fit */
	pagealloc_check(pa);
	CHECK(alloc_chk(pa, 8192, NULL) == A);
	CHECK(alloc_chk(pa, 1, NULL) == B + PG);
	CHECK(alloc_chk(pa, 8191, NULL) == 0); /* B has 8190 left */
	free_chk(pa, A, 8192);
	/* A run cannot cross the hole between A and B. */
	CHECK(alloc_chk(pa, 8193, NULL) == 0);
	CHECK(alloc_chk(pa, 8190, NULL) == A);
	CHECK(alloc_chk(pa, 8190, NULL) == B + 2 * PG);
	/* A range grown right after B merges with it. */
	REQUIRE_GROW(pa, B + 64 * MiB, 64 * MiB);
	pagealloc_check(pa);
	CHECK(pagealloc_total_pages(pa) == 3 * 8192);
	CHECK(alloc_chk(pa, 3, NULL) == B + 64 * MiB); /* A has 2 left, B none */
	CHECK(alloc_chk(pa, 2, NULL) == A + 8190 * PG);
	CHECK(alloc_chk(pa, 97, NULL) == B + 64 * MiB + 3 * PG);
	free_chk(pa, B + 8000 * PG, 192);
	CHECK(alloc_chk(pa, 300, NULL) == B + 64 * MiB + 100 * PG);
	CHECK(alloc_chk(pa, 192, NULL) == B + 8000 * PG);
	/* A run across the join of B and the range merged after it. */
	free_chk(pa, B + 8100 * PG, 92);
	free_chk(pa, B + 64 * MiB, 100);
	CHECK(alloc_chk(pa, 192, NULL) == B + 8100 * PG);
	/* A range grown in the hole, touching neither. */
	REQUIRE_GROW(pa, A + 128 * MiB, 4 * MiB);
	CHECK(alloc_chk(pa, 512, NULL) == A + 128 * MiB);
	del_pa(pa);
}

static void test_exhaustion(void)
{
	pagealloc *pa = new_pa();
	CHECK(alloc_chk(pa, 1, NULL) == 0); /* nothing grown */
	REQUIRE_GROW(pa, FAKE, 4 * MiB);
	for (unsigned i = 0; i < 512; i++)
		CHECK(alloc_chk(pa, 1, NULL) == FAKE + i * PG);
	CHECK(alloc_chk(pa, 1, NULL) == 0);
	CHECK(alloc_chk(pa, 1, NULL) == 0);
	free_chk(pa, FAKE + 300 * PG, 1);
	CHECK(alloc_chk(pa, 2, NULL) == 0);
	CHECK(alloc_chk(pa, 1, NULL) == FAKE + 300 * PG);
	CHECK(pagealloc_free_pages(pa) == 0);
	del_pa(pa);
}

static void test_scavenged(void)
{
	pagealloc *pa = new_pa();
	REQUIRE_GROW(pa, FAKE, 64 * MiB);
	uintptr_t s, b, n;
	CHECK(!pagealloc_scavenge_take(pa, 100, &b, &n)); /* all fresh: scavenged */
	uintptr_t a = alloc_chk(pa, 1000, &s);
	CHECK(a == FAKE && s == 1000);
	free_chk(pa, FAKE + 100 * PG, 50);  /* chunk 0 */
	free_chk(pa, FAKE + 600 * PG, 300); /* chunk 1 */
	CHECK(pagealloc_free_pages(pa) == 8192 - 1000 + 350);
	CHECK(pagealloc_scavenged_pages(pa) == 8192 - 1000);

	/* Highest run first, capped by max_pages, from the top down. */
	CHECK(pagealloc_scavenge_take(pa, 100, &b, &n));
	CHECK(b == FAKE + 800 * PG && n == 100);
	pagealloc_check(pa);
	CHECK(pagealloc_free_pages(pa) == 8192 - 1000 + 250); /* taken pages count as in use */
	/* While taken, nobody allocates them: 250 pages fit only at 1000. */
	uintptr_t c = alloc_chk(pa, 250, &s);
	CHECK(c == FAKE + 1000 * PG && s == 250);
	free_chk(pa, c, 250);
	CHECK(pagealloc_scavenged_pages(pa) == 8192 - 1000 - 250);
	pagealloc_scavenge_done(pa, b, n);
	pagealloc_check(pa);
	CHECK(pagealloc_free_pages(pa) == 8192 - 1000 + 350);
	CHECK(pagealloc_scavenged_pages(pa) == 8192 - 1000 - 250 + 100);
	/* 1000..1249 now spans chunks 1 and 2: the top part goes first. */
	static const uintptr_t want[][2] = {{1024, 226}, {1000, 24}, {600, 200}, {100, 50}};
	for (unsigned i = 0; i < ARRAY_LEN(want); i++) {
		CHECK(pagealloc_scavenge_take(pa, 1000, &b, &n));
		CHECKF(b == FAKE + want[i][0] * PG && n == want[i][1], "take %u: page %lu, %lu pages", i,
		       (unsigned long)((b - FAKE) / PG), (unsigned long)n);
		pagealloc_check(pa);
		pagealloc_scavenge_done(pa, b, n);
		pagealloc_check(pa);
	}
	CHECK(!pagealloc_scavenge_take(pa, 1000, &b, &n));
	CHECK(pagealloc_scavenged_pages(pa) == pagealloc_free_pages(pa));
	CHECK(pagealloc_free_pages(pa) == 8192 - 1000 + 350);

	/* A run across a chunk boundary is taken one chunk at a time. */
	free_chk(pa, FAKE + 400 * PG, 200);
	CHECK(pagealloc_scavenge_take(pa, 1000, &b, &n));
	CHECK(b == FAKE + 512 * PG && n == 88);
	CHECK(pagealloc_scavenge_take(pa, 1000, &b, &n));
	CHECK(b == FAKE + 400 * PG && n == 112);
	pagealloc_scavenge_done(pa, FAKE + 512 * PG, 88);
	pagealloc_scavenge_done(pa, FAKE + 400 * PG, 112);
	pagealloc_check(pa);

	/* Allocation reports exactly the scavenged part of a mixed run. */
	a = alloc_chk(pa, 8192 - 1000 + 350 + 200, &s);
	CHECK(a == 0);
	a = alloc_chk(pa, 1000, &s);
	CHECK(a == FAKE + 1000 * PG && s == 1000);
	free_chk(pa, FAKE + 1500 * PG, 10);
	free_chk(pa, FAKE, 100); /* 0..150 free: 100 unscavenged, 50 scavenged */
	CHECK(alloc_chk(pa, 150, &s) == FAKE && s == 50);
	CHECK(pagealloc_scavenged_pages(pa) == 8192 - 2000 + 300 + 200);
	del_pa(pa);
}

static void test_page_cache(void)
{
	pagealloc *pa = new_pa();
	pagecache c = pagealloc_alloc_cache(pa);
	CHECK(c.base == 0 && c.cache == 0);
	REQUIRE_GROW(pa, FAKE, 64 * MiB);
	CHECK(alloc_chk(pa, 70, NULL) == FAKE); /* first free page is 70, in window 64..127 */
	free_chk(pa, FAKE + 10 * PG, 2);        /* now the first free page is 10 */
	c = pagealloc_alloc_cache(pa);
	pagealloc_check(pa);
	CHECK(c.base == FAKE);
	CHECK(c.cache == (uint64_t)3 << 10);
	CHECK(c.scav == 0);
	/* The next cache is the window at 64: pages 70..127, all scavenged. */
	pagecache d = pagealloc_alloc_cache(pa);
	pagealloc_check(pa);
	CHECK(d.base == FAKE + 64 * PG);
	CHECK(d.cache == ~(uint64_t)0 << 6 && d.scav == d.cache);
	CHECK(pagealloc_free_pages(pa) == 8192 - 128);

	uintptr_t s;
	CHECK(pagecache_alloc(&c, 3, &s) == 0);
	CHECK(pagecache_alloc(&c, 2, &s) == FAKE + 10 * PG && s == 0);
	CHECK(pagecache_alloc(&c, 1, &s) == 0 && c.cache == 0);
	CHECK(pagecache_alloc(&d, 1, &s) == FAKE + 70 * PG && s == 1);
	CHECK(pagecache_alloc(&d, 5, &s) == FAKE + 71 * PG && s == 5);
	CHECK(pagecache_alloc(&d, 58, &s) == 0);
	CHECK(pagecache_alloc(&d, 52, &s) == FAKE + 76 * PG && s == 52);
	CHECK(d.cache == 0);
	pagealloc_flush_cache(pa, &c);
	pagealloc_flush_cache(pa, &d);
	pagealloc_check(pa);
	CHECK(pagealloc_free_pages(pa) == 8192 - 128);
	del_pa(pa);
}

static void test_page_cache_flush(void)
{
	pagealloc *pa = new_pa();
	REQUIRE_GROW(pa, FAKE, 64 * MiB);
	CHECK(alloc_chk(pa, 20, NULL) == FAKE);
	free_chk(pa, FAKE + 5 * PG, 5); /* 5..9 free, not scavenged; 20..63 scavenged */
	pagecache c = pagealloc_alloc_cache(pa);
	pagealloc_check(pa);
	CHECK(c.base == FAKE);
	CHECK(c.cache == ((uint64_t)0x1f << 5 | ~(uint64_t)0 << 20));
	CHECK(c.scav == ~(uint64_t)0 << 20);
	CHECK(pagealloc_free_pages(pa) == 8192 - 64);
	CHECK(pagealloc_scavenged_pages(pa) == 8192 - 64);
	/* The search skipped the cached window. */
	CHECK(alloc_chk(pa, 1, NULL) == FAKE + 64 * PG);
	uintptr_t s;
	CHECK(pagecache_alloc(&c, 6, &s) == FAKE + 20 * PG && s == 6);
	CHECK(pagecache_alloc(&c, 1, &s) == FAKE + 5 * PG && s == 0);
	pagealloc_flush_cache(pa, &c);
	pagealloc_check(pa);
	CHECK(c.base == 0 && c.cache == 0 && c.scav == 0);
	CHECK(pagealloc_free_pages(pa) == 8192 - 64 + 4 + 38 - 1);
	CHECK(pagealloc_scavenged_pages(pa) == 8192 - 64 - 1 + 38);
	/* Freed cache pages are allocatable again, lowest first. */
	CHECK(alloc_chk(pa, 4, &s) == FAKE + 6 * PG && s == 0);
	CHECK(alloc_chk(pa, 38, &s) == FAKE + 26 * PG && s == 38);
	/* Flushing an empty cache is a no-op. */
	pagealloc_flush_cache(pa, &c);
	pagealloc_check(pa);
	del_pa(pa);
}

static void test_page_cache_scavenge_index(void)
{
	/* Unscavenged pages that go through a cache must be found by the
	 * scavenger once the cache is flushed. */
	pagealloc *pa = new_pa();
	REQUIRE_GROW(pa, FAKE, 64 * MiB);
	uintptr_t b, n;
	CHECK(alloc_chk(pa, 64, NULL) == FAKE);
	free_chk(pa, FAKE + 10 * PG, 10);
	pagecache c = pagealloc_alloc_cache(pa);
	pagealloc_check(pa);
	CHECK(c.base == FAKE && c.cache == (uint64_t)0x3ff << 10 && c.scav == 0);
	CHECK(!pagealloc_scavenge_take(pa, 1000, &b, &n)); /* nothing left outside the cache */
	pagealloc_check(pa);
	pagealloc_flush_cache(pa, &c);
	pagealloc_check(pa);
	CHECK(pagealloc_scavenge_take(pa, 1000, &b, &n));
	CHECK(b == FAKE + 10 * PG && n == 10);
	pagealloc_scavenge_done(pa, b, n);
	pagealloc_check(pa);
	CHECK(pagealloc_scavenged_pages(pa) == 8192 - 64 + 10);
	del_pa(pa);
}

/* Runs fn in a child and reports whether it died with gort_throw's status. */
static bool throws(void (*fn)(pagealloc *), pagealloc *pa)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		fn(pa);
		_exit(0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 2;
}

static void double_free(pagealloc *pa)
{
	pagealloc_free(pa, FAKE + 10 * PG, 1);
}

static void free_outside(pagealloc *pa)
{
	pagealloc_free(pa, FAKE + 64 * MiB, 1);
}

static void free_straddling_end(pagealloc *pa)
{
	pagealloc_free(pa, FAKE + 64 * MiB - 2 * PG, 3);
}

static void test_bad_free_throws(void)
{
	pagealloc *pa = new_pa();
	REQUIRE_GROW(pa, FAKE, 64 * MiB);
	CHECK(alloc_chk(pa, 20, NULL) == FAKE);
	free_chk(pa, FAKE + 10 * PG, 1);
	CHECK(throws(double_free, pa));
	CHECK(throws(free_outside, pa));
	CHECK(alloc_chk(pa, 8172, NULL) == FAKE + 20 * PG);
	CHECK(throws(free_straddling_end, pa));
	pagealloc_check(pa);
	del_pa(pa);
}

static void grow_below_window(pagealloc *pa)
{
	pagealloc_grow(pa, FAKE - 4 * MiB, 8 * MiB);
}

static void grow_above_window(pagealloc *pa)
{
	pagealloc_grow(pa, FAKE + 20 * GiB, 4 * MiB);
}

/* Metadata for a window of addresses only (as under an address-space
 * limit): runs at both ends of it, across a root entry's boundary inside
 * it, and growth outside it refused loudly. */
static void test_window(void)
{
	pagealloc *pa = os_alloc(sizeof(*pa));
	REQUIRE(pa);
	pagealloc_init(pa, FAKE, FAKE + 20 * GiB);
	pagealloc_check(pa);
	uintptr_t top = FAKE + 20 * GiB - 8 * MiB, mid = FAKE + 16 * GiB - 4 * MiB;
	REQUIRE_GROW(pa, top, 8 * MiB);
	CHECK(alloc_chk(pa, 3, NULL) == top);
	REQUIRE_GROW(pa, FAKE, 4 * MiB);
	CHECK(alloc_chk(pa, 512, NULL) == FAKE);
	CHECK(alloc_chk(pa, 600, NULL) == top + 3 * PG);
	REQUIRE_GROW(pa, mid, 8 * MiB); /* two chunks, one each side of 16 GiB */
	CHECK(alloc_chk(pa, 1024, NULL) == mid);
	free_chk(pa, mid + 100 * PG, 800);
	CHECK(alloc_chk(pa, 700, NULL) == mid + 100 * PG);
	uintptr_t b, n;
	CHECK(pagealloc_scavenge_take(pa, 1024, &b, &n));
	pagealloc_scavenge_done(pa, b, n);
	pagealloc_check(pa);
	CHECK(throws(grow_below_window, pa));
	CHECK(throws(grow_above_window, pa));
	CHECK(pagealloc_total_pages(pa) == 5 * 512);
	del_pa(pa);
}

int main(void)
{
	RUN(test_grow_and_sizes);
	RUN(test_first_fit);
	RUN(test_coalesce);
	RUN(test_chunk_boundaries);
	RUN(test_huge_runs);
	RUN(test_two_ranges);
	RUN(test_exhaustion);
	RUN(test_scavenged);
	RUN(test_page_cache);
	RUN(test_page_cache_flush);
	RUN(test_page_cache_scavenge_index);
	RUN(test_bad_free_throws);
	RUN(test_window);
	TEST_EXIT();
}
