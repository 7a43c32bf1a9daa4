/*
 * test_gc_internal.c: the collector's parts, through internal interfaces.
 *
 * - Knob grammars (GORTGC, GORTMEMLIMIT) against Go's: every accepted and
 *   rejected form.
 * - The pacer: goal = live x (1 + GORTGC/100), 4 MiB minimum scaled by
 *   GORTGC, "off", the memory limit capping the goal.
 * - Work buffers: every object pushed comes back exactly once, across
 *   buffer boundaries and through the global list, and balance() hands
 *   work over without losing any.
 * - The write barrier: stores the value with the flag down or up; while
 *   marking it greys both the old and the new pointer (so that the next
 *   mark finds them), and outside marking it greys nothing.
 * - Heap bits: a typed object's pointer words, a conservative object's
 *   words, and nothing beyond the size asked for.
 * - Sweep generations: after a cycle every GC span a thread caches has
 *   the current sweepgen.
 * - Roots: the data segments scanned leave out the runtime's own globals
 *   (mheap_ and the arena index's L2 block).
 */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "gort.h"
#include "arena.h"
#include "mheap.h"
#include "gcwork.h"
#include "mcache.h"
#include "mgc.h"
#include "sizeclass.h"
#include "thread.h"
#include "testing.h"

#include <link.h>
#include <stdint.h>
#include <string.h>

static void test_parse_gogc(void)
{
	int v = 7;
	CHECK(pacer_parse_gogc("100", &v) && v == 100);
	CHECK(pacer_parse_gogc("0", &v) && v == 0);
	CHECK(pacer_parse_gogc("off", &v) && v == -1);
	CHECK(pacer_parse_gogc("-5", &v) && v == -1);
	CHECK(pacer_parse_gogc("2147483647", &v) && v == 2147483647);
	v = 7;
	CHECK(!pacer_parse_gogc("", &v) && v == 7);
	CHECK(!pacer_parse_gogc("abc", &v));
	CHECK(!pacer_parse_gogc("10%", &v));
	CHECK(!pacer_parse_gogc("2147483648", &v));
	CHECK(!pacer_parse_gogc("OFF", &v));
}

static void test_parse_memlimit(void)
{
	int64_t v = 0;
	CHECK(pacer_parse_memlimit("off", &v) && v == INT64_MAX);
	CHECK(pacer_parse_memlimit("1024", &v) && v == 1024);
	CHECK(pacer_parse_memlimit("1024B", &v) && v == 1024);
	CHECK(pacer_parse_memlimit("4KiB", &v) && v == 4096);
	CHECK(pacer_parse_memlimit("512MiB", &v) && v == (int64_t)512 << 20);
	CHECK(pacer_parse_memlimit("3GiB", &v) && v == (int64_t)3 << 30);
	CHECK(pacer_parse_memlimit("2TiB", &v) && v == (int64_t)2 << 40);
	v = 5;
	CHECK(!pacer_parse_memlimit("", &v) && v == 5);
	CHECK(!pacer_parse_memlimit("MiB", &v));
	CHECK(!pacer_parse_memlimit("12XB", &v));
	CHECK(!pacer_parse_memlimit("1.5GiB", &v));
	CHECK(!pacer_parse_memlimit("-1", &v));
	CHECK(!pacer_parse_memlimit("10MB", &v)); /* Go takes only the IEC units */
	CHECK(!pacer_parse_memlimit("9999999999TiB", &v));
}

static void test_pacer_goal(void)
{
	gort_gc(); /* initialised, one cycle behind us */
	int old = gort_set_gc_percent(100);
	pthread_mutex_lock(&gc.lock);
	uint64_t saved = gc.heap_marked;
	gc.heap_marked = 100 << 20;
	pacer_commit();
	CHECKF(gc.goal == 200 << 20, "goal %llu", (unsigned long long)gc.goal);
	gc.gc_percent = 50;
	pacer_commit();
	CHECK(gc.goal == 150 << 20);
	gc.heap_marked = 1 << 20;
	gc.gc_percent = 100;
	pacer_commit();
	CHECKF(gc.goal == 4 << 20, "minimum %llu", (unsigned long long)gc.goal);
	gc.gc_percent = 200;
	pacer_commit();
	CHECK(gc.goal == 8 << 20); /* 4 MiB x GORTGC/100 */
	gc.gc_percent = -1;
	pacer_commit();
	CHECK(gc.goal == UINT64_MAX && gc.trigger == UINT64_MAX);
	gc.memory_limit = 64 << 20;
	pacer_commit();
	CHECKF(gc.goal < 64 << 20 && gc.goal > 48 << 20, "limited goal %llu", (unsigned long long)gc.goal);
	gc.heap_marked = 100 << 20; /* live above the limit: collect every MiB */
	pacer_commit();
	CHECK(gc.goal == (100 << 20) + (1 << 20));
	gc.memory_limit = INT64_MAX;
	gc.gc_percent = 100;
	gc.heap_marked = saved;
	pacer_commit();
	pthread_mutex_unlock(&gc.lock);
	gort_set_gc_percent(old);
	CHECK(gort_set_gc_percent(old) == old);
	CHECK(gort_set_memory_limit(-1) == INT64_MAX);
	CHECK(gort_set_memory_limit(1 << 30) == INT64_MAX);
	CHECK(gort_set_memory_limit(INT64_MAX) == 1 << 30);
}

static void test_workbufs(void)
{
	enum { N = 5000 };
	static uint8_t seen[N];
	memset(seen, 0, sizeof seen);
	gcwork w, other;
	gcwork_init(&w);
	gcwork_init(&other);
	for (uintptr_t i = 1; i <= N; i++) {
		gcwork_put(&w, i * 16);
		if (i % 700 == 0)
			gcwork_balance(&w);
	}
	gcwork_flush(&w);
	CHECK(gcwork_global_available());
	unsigned got = 0, dup = 0;
	for (uintptr_t p; (p = gcwork_get(&other)) != 0;) {
		uintptr_t i = p / 16 - 1;
		if (i >= N || seen[i]++)
			dup++;
		got++;
		if (got % 1000 == 0) /* some through balance, back via the list */
			gcwork_balance(&other);
	}
	CHECKF(got == N && dup == 0, "got %u of %u, %u duplicates or strays", got, N, dup);
	CHECK(!gcwork_global_available());
	gcwork_dispose(&w);
	gcwork_dispose(&other);
}

struct pair {
	void *a, *b;
};
GORT_TYPE(pair_type, struct pair, a, b);

static bool is_marked(void *p)
{
	return mark_is_marked((uintptr_t)p);
}

static void test_write_barrier(void)
{
	gort_gc();
	struct pair *holder = gort_new(&pair_type);
	void *old = gort_alloc(64, GORT_NOSCAN), *neu = gort_alloc(64, GORT_NOSCAN);
	gort_store(&holder->a, old);
	CHECK(holder->a == old);
	CHECK(!is_marked(old) && !is_marked(neu));
	/* Pretend a mark is running: both sides of the store are shaded. */
	pthread_mutex_lock(&gc.lock);
	store_relaxed(&gc.phase, GC_MARK);
	gort_write_barrier_enabled = 1;
	GORT_STORE(holder->a, neu);
	gort_write_barrier_enabled = 0;
	store_relaxed(&gc.phase, GC_OFF);
	pthread_mutex_unlock(&gc.lock);
	CHECK(holder->a == neu);
	CHECK(is_marked(old) && is_marked(neu));
	/* The shaded objects wait in the barrier's buffer for the markers;
	 * the next cycle drains it and clears the marks at sweep. */
	gort_gc();
	CHECK(holder->a == neu && !is_marked(neu));
	/* Flag up outside a mark (a stale read): store, shade nothing. */
	gort_write_barrier_enabled = 1;
	GORT_STORE(holder->b, old);
	gort_write_barrier_enabled = 0;
	CHECK(holder->b == old && !is_marked(old));
	gort_keep_alive(holder);
}

static bool heapbit(void *p, unsigned word)
{
	uintptr_t a = (uintptr_t)p + word * 8;
	uintptr_t k = (a & (ARENA_BYTES - 1)) >> 3;
	return (arena_of(a)->heapbits[k >> 6] >> (k & 63)) & 1;
}

struct mixed {
	long n;
	void *p;
	double d;
	void *q;
};
GORT_TYPE(mixed_type, struct mixed, p, q);

static void test_heap_bits(void)
{
	for (int round = 0; round < 3; round++) { /* fresh and reused slots */
		struct mixed *m = gort_new(&mixed_type);
		CHECK(!heapbit(m, 0) && heapbit(m, 1) && !heapbit(m, 2) && heapbit(m, 3));
		struct mixed *arr = gort_new_array(&mixed_type, 3);
		for (unsigned e = 0; e < 3; e++)
			CHECK(!heapbit(arr, 4 * e) && heapbit(arr, 4 * e + 1) && !heapbit(arr, 4 * e + 2) &&
			      heapbit(arr, 4 * e + 3));
		void *c = gort_alloc(40, 0); /* class 48: 5 words scanned, 6th not */
		for (unsigned w = 0; w < 5; w++)
			CHECK(heapbit(c, w));
		CHECK(!heapbit(c, 5));
		gort_gc();
	}
}

static void check_sweepgen(mspan *s, void *arg)
{
	unsigned *bad = arg;
	if (s->sweepgen != gc.sweepgen)
		(*bad)++;
}

static void test_sweepgen(void)
{
	for (int i = 0; i < 1000; i++)
		gort_alloc((size_t)(i % 200) * 8 + 8, i & 1 ? GORT_NOSCAN : 0);
	gort_gc(); /* swept everything before returning */
	unsigned bad = 0;
	pthread_mutex_lock(&gc.lock);
	stw_stop(); /* the background sweeper may still be at work */
	sweep_finish();
	mcache_flush_gc_all();
	sweep_for_each_span(check_sweepgen, &bad);
	stw_start();
	pthread_mutex_unlock(&gc.lock);
	CHECKF(bad == 0, "%u spans on swept lists with a stale sweepgen", bad);
	gort_alloc(24, 0);
	mcache *c = mcache_tls;
	CHECK(c->alloc[size_to_class(24) << 1] == &mspan_empty ||
	      c->alloc[size_to_class(24) << 1]->sweepgen == gc.sweepgen);
}

static int find_writable(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	uintptr_t p = *(uintptr_t *)arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W) && p >= lo && p < lo + ph->p_memsz)
			return 1;
	}
	return 0;
}

static bool is_in_writable_segment(uintptr_t p)
{
	return dl_iterate_phdr(find_writable, &p) != 0;
}

static int add_writable(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_W))
			*(uint64_t *)arg += info->dlpi_phdr[i].p_memsz;
	return 0;
}

/* The collector skips the runtime's own globals: the heap (mheap_, ~60
 * KiB) lies in this program's .bss, and scanning it would cost a mark that
 * much work and touch every page.  The roots are every writable segment
 * loaded (a sanitizer's runtime brings tens of MiB of its own): at least
 * the heap is missing.  The arena index's L2 block is mapped, not in a
 * segment (arena.h), so it is no root either. */
static void test_runtime_globals_skipped(void)
{
	gort_gc();
	uint64_t scanned = mark_global_bytes(), total = 0;
	dl_iterate_phdr(add_writable, &total);
	uint64_t skipped = sizeof mheap_;
	CHECKF(scanned > 0 && scanned + skipped <= total, "data segments scanned: %llu bytes of %llu",
	       (unsigned long long)scanned, (unsigned long long)total);
	uintptr_t l2 = (uintptr_t)arena_l1[0];
	CHECK(l2 != 0);
	CHECKF(!is_in_writable_segment(l2), "the L2 block at %#lx is in a data segment", (unsigned long)l2);
}

int main(void)
{
	RUN(test_parse_gogc);
	RUN(test_parse_memlimit);
	RUN(test_pacer_goal);
	RUN(test_workbufs);
	RUN(test_write_barrier);
	RUN(test_heap_bits);
	RUN(test_sweepgen);
	RUN(test_runtime_globals_skipped);
	TEST_EXIT();
}
