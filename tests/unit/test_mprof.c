/*
 * test_mprof.c: the heap profiler's sampling and bookkeeping, read back
 * through its buckets and the text format.
 *
 * - Rate 1: every allocation is recorded under its exact call stack (the
 *   allocating function first, then its callers, named by the symbolizer),
 *   with exact counts and bytes: one function reached by two paths gets two
 *   buckets; manual frees count at once; collected objects count as
 *   allocated once a collection has run and as freed once one has swept
 *   them (after gort_gc(), as after Go's runtime.GC()); allocations on
 *   several threads each under their own stack; a gort_type's name is the
 *   bucket's type.
 * - The default rate (512 KiB): 1M allocations of 1 KiB give ~2000
 *   samples; the unbiased estimate (Go's 1/(1 - e^(-size/rate)) scaling)
 *   must be within 12% of the truth (the sampling's relative standard
 *   deviation is 1/sqrt(2000) = 2.2%: 12% is over 5 deviations).
 * - Thousands of buckets (40 stack depths x 60 size classes; the bucket
 *   table doubles twice): each found again on a second round, none made
 *   twice, every count exact.
 * - Rate 0 records nothing; GORTDEBUG=memprofilerate is obeyed.
 * - The text format: its header's totals equal the sums of its records.
 * The allocating functions keep frame pointers (the test is built with
 * -fno-omit-frame-pointer) and never tail-call, so that each is a frame.
 */
#include "gort.h"
#include "mprof.h"
#include "sizeclass.h"
#include "symtab.h"
#include "testing.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	long v[2];
};
GORT_TYPE(node_type, struct node, next);

static TEST_NOIPA void *leaf_a(size_t n)
{
	void *p = gort_malloc(n);
	TEST_KEEP(p);
	return p;
}

static TEST_NOIPA void *mid1(size_t n)
{
	void *p = leaf_a(n);
	TEST_KEEP(p);
	return p;
}

static TEST_NOIPA void *mid2(size_t n)
{
	void *p = leaf_a(n);
	TEST_KEEP(p);
	return p;
}

static TEST_NOIPA struct node *gc_site(void)
{
	struct node *p = gort_new(&node_type);
	TEST_KEEP(p);
	return p;
}

static TEST_NOIPA void *thread_site(size_t n)
{
	void *p = gort_malloc(n);
	TEST_KEEP(p);
	return p;
}

/* The function that pc (a return address) returns into, or "". */
static const char *func_of(uintptr_t pc)
{
	symtab_info si;
	if (!symtab_lookup(pc - 1, &si) || !si.func)
		return "";
	return si.func;
}

/* The sum of the published records of every bucket whose first frames are
 * the functions named (NULL-terminated), optionally of one type.  Buckets
 * are copied under the profiler's lock and symbolized after it (the
 * symbolizer must not run under a runtime lock). */
static struct {
	const mbucket *b;
	struct memrecord r;
} snap[4096];

static struct memrecord sum_for(const char *const *funcs, const char *type)
{
	int n = 0;
	mprof_lock();
	for (const mbucket *b = mprof_buckets(); b && n < (int)(sizeof snap / sizeof snap[0]); b = b->allnext, n++) {
		snap[n].b = b;
		snap[n].r = b->active;
	}
	mprof_unlock();
	struct memrecord s = {0, 0, 0, 0};
	for (int i = 0; i < n; i++) {
		const mbucket *b = snap[i].b;
		bool match = true;
		for (uint32_t k = 0; funcs[k]; k++)
			if (k >= b->nstk || strcmp(func_of(b->stk[k]), funcs[k]) != 0) {
				match = false;
				break;
			}
		if (!match || (type && (!b->type || strcmp(b->type, type) != 0)))
			continue;
		s.allocs += snap[i].r.allocs;
		s.frees += snap[i].r.frees;
		s.alloc_bytes += snap[i].r.alloc_bytes;
		s.free_bytes += snap[i].r.free_bytes;
	}
	return s;
}

#define FUNCS(...) ((const char *const[]){__VA_ARGS__, NULL})

static TEST_NOIPA void test_rate1_manual(void)
{
	long old = gort_set_mem_profile_rate(1);
	CHECKF(old == MPROF_DEFAULT_RATE, "the default rate is %ld", old);
	void *keep[150];
	for (int i = 0; i < 100; i++)
		keep[i] = mid1(1000);
	for (int i = 100; i < 150; i++)
		keep[i] = mid2(1000);
	for (int i = 0; i < 40; i++)
		gort_free(keep[i]);
	gort_set_mem_profile_rate(0);

	/* 1000 bytes use the 1024-byte class, which is what is recorded. */
	struct memrecord a = sum_for(FUNCS("leaf_a", "mid1", "test_rate1_manual"), NULL);
	CHECKF(a.allocs == 100 && a.alloc_bytes == 102400 && a.frees == 40 && a.free_bytes == 40960,
	       "leaf_a via mid1: %llu allocs %llu B, %llu frees %llu B", (unsigned long long)a.allocs,
	       (unsigned long long)a.alloc_bytes, (unsigned long long)a.frees, (unsigned long long)a.free_bytes);
	struct memrecord b = sum_for(FUNCS("leaf_a", "mid2", "test_rate1_manual"), NULL);
	CHECKF(b.allocs == 50 && b.alloc_bytes == 51200 && b.frees == 0, "leaf_a via mid2: %llu allocs %llu B, %llu frees",
	       (unsigned long long)b.allocs, (unsigned long long)b.alloc_bytes, (unsigned long long)b.frees);
	struct memrecord all = sum_for(FUNCS("leaf_a"), NULL);
	CHECK(all.allocs == 150 && all.frees == 40);
	for (int i = 40; i < 150; i++)
		gort_free(keep[i]);
	all = sum_for(FUNCS("leaf_a"), NULL);
	CHECKF(all.frees == 150 && all.free_bytes == all.alloc_bytes, "frees after freeing all: %llu",
	       (unsigned long long)all.frees);
}

static struct node *gc_keep[200];

static TEST_NOIPA void test_rate1_collected(void)
{
	gort_add_roots(gc_keep, sizeof gc_keep);
	gort_gc(); /* a clean start: nothing pending */
	gort_set_mem_profile_rate(1);
	for (int i = 0; i < 200; i++)
		GORT_STORE(gc_keep[i], gc_site());
	gort_set_mem_profile_rate(0);
	/* Not yet: the profile is that of the last completed collection. */
	struct memrecord r = sum_for(FUNCS("gc_site", "test_rate1_collected"), "struct node");
	CHECKF(r.allocs == 0, "allocations published before a collection: %llu", (unsigned long long)r.allocs);
	for (int i = 0; i < 80; i++)
		GORT_STORE(gc_keep[i], NULL);
	gort_gc();
	r = sum_for(FUNCS("gc_site", "test_rate1_collected"), "struct node");
	CHECKF(r.allocs == 200 && r.alloc_bytes == 200 * 24 && r.frees == 80 && r.free_bytes == 80 * 24,
	       "after gort_gc: %llu allocs %llu B, %llu frees %llu B", (unsigned long long)r.allocs,
	       (unsigned long long)r.alloc_bytes, (unsigned long long)r.frees, (unsigned long long)r.free_bytes);
	for (int i = 80; i < 200; i++)
		GORT_STORE(gc_keep[i], NULL);
	gort_gc();
	r = sum_for(FUNCS("gc_site"), NULL);
	CHECKF(r.frees == 200, "after dropping all: %llu frees", (unsigned long long)r.frees);
	gort_remove_roots(gc_keep);
}

static void *thread_main(void *arg)
{
	for (int i = 0; i < 30; i++)
		gort_free(thread_site((size_t)(uintptr_t)arg));
	return NULL;
}

static TEST_NOIPA void *large_site(size_t n)
{
	void *p = gort_malloc(n);
	TEST_KEEP(p); /* not a tail call: the site is this function */
	return p;
}

/* A large object is profiled as the pages it holds, as Go does: requests
 * of different sizes that take the same pages share one bucket. */
static TEST_NOIPA void test_rate1_large_by_pages(void)
{
	gort_set_mem_profile_rate(1);
	static const size_t sizes[3] = {40000, 40001, 40960};
	void *p[3];
	volatile int count = 3; /* a loop the compiler cannot unroll: one call site, one stack */
	for (int i = 0; i < count; i++)
		p[i] = large_site(sizes[i]);
	gort_set_mem_profile_rate(0);
	int n = 0;
	mprof_lock();
	for (const mbucket *b = mprof_buckets(); b; b = b->allnext)
		if (b->nstk > 0 && strcmp(func_of(b->stk[0]), "large_site") == 0) {
			n++;
			CHECKF(b->size == 40960 && b->active.allocs == 3, "bucket of %zu B, %llu allocs", (size_t)b->size,
			       (unsigned long long)b->active.allocs);
		}
	mprof_unlock();
	CHECKF(n == 1, "%d buckets for three requests of five pages", n);
	for (int i = 0; i < 3; i++)
		gort_free(p[i]);
}

static TEST_NOIPA void test_rate1_threads(void)
{
	gort_set_mem_profile_rate(1);
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)(3000 + i * 2000));
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	gort_set_mem_profile_rate(0);
	struct memrecord r = sum_for(FUNCS("thread_site", "thread_main"), NULL);
	/* 3000, 5000, 7000 bytes: classes 3072, 5376, 8192. */
	CHECKF(r.allocs == 90 && r.frees == 90 && r.alloc_bytes == 30 * (3072 + 5376 + 8192),
	       "threads: %llu allocs %llu B, %llu frees", (unsigned long long)r.allocs, (unsigned long long)r.alloc_bytes,
	       (unsigned long long)r.frees);
}

static TEST_NOIPA void sampled_site(int n)
{
	for (int i = 0; i < n; i++) {
		void *p = gort_malloc(1024);
		TEST_KEEP(p);
		gort_free(p);
	}
}

static TEST_NOIPA void test_default_rate_unbiased(void)
{
	gort_set_mem_profile_rate(MPROF_DEFAULT_RATE);
	const int n = 1000000;
	sampled_site(n);
	gort_set_mem_profile_rate(0);
	struct memrecord r = sum_for(FUNCS("sampled_site", "test_default_rate_unbiased"), NULL);
	double scale = 1 / (1 - exp(-1024.0 / MPROF_DEFAULT_RATE));
	double est = (double)r.allocs * scale;
	printf("    %llu samples of %d allocations: estimate %.0f (%.1f%% off)\n", (unsigned long long)r.allocs, n, est,
	       100 * fabs(est - n) / n);
	CHECKF(fabs(est - n) < 0.12 * n, "estimate %.0f of %d allocations", est, n);
	CHECK(r.frees == r.allocs);
}

static TEST_NOIPA void unsampled_site(void)
{
	for (int i = 0; i < 10000; i++) {
		void *p = gort_malloc(4096);
		TEST_KEEP(p);
		gort_free(p);
	}
}

static TEST_NOIPA void test_rate0(void)
{
	gort_set_mem_profile_rate(0);
	unsampled_site();
	struct memrecord r = sum_for(FUNCS("unsampled_site"), NULL);
	CHECK(r.allocs == 0);
}

/* Parses the text format: the header's totals against the records'. */
static TEST_NOIPA void test_text_format(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	REQUIRE(f);
	CHECK(gort_write_heap_profile_text(f) == 0);
	fclose(f);
	unsigned long long h[4], s[4] = {0, 0, 0, 0};
	long rate2 = 0;
	REQUIRE(sscanf(buf, "heap profile: %llu: %llu [%llu: %llu] @ heap/%ld", &h[0], &h[1], &h[2], &h[3], &rate2) ==
		5);
	CHECKF(rate2 == 0, "heap/%ld with sampling off", rate2);
	int records = 0;
	for (char *line = strchr(buf, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		unsigned long long v[4];
		if (line[1] >= '0' && line[1] <= '9' && /* (sscanf would skip blank lines) */
		    sscanf(line + 1, "%llu: %llu [%llu: %llu] @", &v[0], &v[1], &v[2], &v[3]) == 4) {
			for (int i = 0; i < 4; i++)
				s[i] += v[i];
			records++;
		}
	}
	CHECK(records > 0);
	for (int i = 0; i < 4; i++)
		CHECKF(h[i] == s[i], "header field %d: %llu, records sum to %llu", i, h[i], s[i]);
	CHECK(strstr(buf, "\tleaf_a+0x") != NULL); /* frames are named */
	CHECK(strstr(buf, "# runtime.MemStats\n") != NULL);
	free(buf);
}

/* depth frames of itself above the allocation: a stack per depth. */
static TEST_NOIPA void *deep_site(int depth, size_t n)
{
	void *p = depth ? deep_site(depth - 1, n) : gort_malloc(n);
	TEST_KEEP(p);
	return p;
}

enum { DEEP_DEPTHS = 40, DEEP_SIZES = 60 };

/* The buckets allocated from deep_site: how many, and whether each holds
 * exactly want allocations. */
static int deep_buckets(uint64_t want, bool *exact)
{
	int n = 0, found = 0;
	mprof_lock();
	for (const mbucket *b = mprof_buckets(); b && n < (int)(sizeof snap / sizeof snap[0]); b = b->allnext, n++) {
		snap[n].b = b;
		snap[n].r = b->active;
	}
	mprof_unlock();
	*exact = true;
	for (int i = 0; i < n; i++) {
		if (snap[i].b->nstk == 0 || strcmp(func_of(snap[i].b->stk[0]), "deep_site") != 0)
			continue;
		found++;
		if (snap[i].r.allocs != want || snap[i].r.frees != want)
			*exact = false;
	}
	return found;
}

static TEST_NOIPA void test_many_buckets(void)
{
	gort_set_mem_profile_rate(1);
	for (int round = 1; round <= 2; round++) {
		for (int d = 0; d < DEEP_DEPTHS; d++)
			for (int s = 0; s < DEEP_SIZES; s++)
				gort_free(deep_site(d, class_to_size[s + 1])); /* 60 classes: 8 B .. 18 KiB */
		bool exact;
		int n = deep_buckets((uint64_t)round, &exact);
		CHECKF(n == DEEP_DEPTHS * DEEP_SIZES, "round %d: %d buckets from deep_site, want %d", round, n,
		       DEEP_DEPTHS * DEEP_SIZES);
		CHECKF(exact, "round %d: a deep_site bucket does not hold exactly %d allocations and frees", round,
		       round);
	}
	gort_set_mem_profile_rate(0);
}

int main(void)
{
	RUN(test_rate1_manual);
	RUN(test_rate1_collected);
	RUN(test_rate1_threads);
	RUN(test_rate1_large_by_pages);
	RUN(test_default_rate_unbiased);
	RUN(test_many_buckets);
	RUN(test_rate0);
	RUN(test_text_format);
	TEST_EXIT();
}
