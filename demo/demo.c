/*
 * demo.c: gort's first face at work, the collected heap running the
 * Benchmarks Game's binary-trees, with Go's gctrace on, then a MemStats
 * summary.
 *
 * binary-trees allocates millions of short-lived tree nodes around one
 * long-lived tree: the program never frees anything, the collector finds
 * the dead trees.  Each node is a precise object (GORT_TYPE names its two
 * pointer fields) and every pointer store goes through GORT_STORE, the
 * write barrier.  The gctrace lines on stderr are in Go's format (see
 * docs/DESIGN.md for the fields): cycle number, time since start, GC CPU
 * share, the stop-the-world times, heap before -> after -> live, goal.
 *
 *   demo [max_depth]      default 18; GORTDEBUG / GORTGC / GORTMAXPROCS apply
 */
#include "gort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct node {
	struct node *left, *right;
};
GORT_TYPE(node_type, struct node, left, right);

static struct node *bottom_up(int depth)
{
	struct node *n = gort_new(&node_type);
	if (depth > 0) {
		GORT_STORE(n->left, bottom_up(depth - 1));
		GORT_STORE(n->right, bottom_up(depth - 1));
	}
	return n;
}

static long check(const struct node *n)
{
	return n->left ? 1 + check(n->left) + check(n->right) : 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

int main(int argc, char **argv)
{
	int max_depth = argc > 1 ? atoi(argv[1]) : 18;
	if (max_depth < 6)
		max_depth = 6;
	/* gctrace on unless the caller chose GORTDEBUG themselves.  gort reads
	 * its knobs once, before main (as Go reads GODEBUG at start-up), so
	 * the setting takes effect by running ourselves again with it. */
	if (!getenv("GORTDEBUG")) {
		setenv("GORTDEBUG", "gctrace=1", 1);
		execv("/proc/self/exe", argv);
		perror("demo: re-exec with GORTDEBUG=gctrace=1");
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	int stretch = max_depth + 1;
	printf("stretch tree of depth %d\t check: %ld\n", stretch, check(bottom_up(stretch)));
	struct node *long_lived = bottom_up(max_depth);
	for (int d = 4; d <= max_depth; d += 2) {
		long iters = 1L << (max_depth - d + 4), sum = 0;
		for (long i = 0; i < iters; i++)
			sum += check(bottom_up(d));
		printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, sum);
	}
	printf("long lived tree of depth %d\t check: %ld\n", max_depth, check(long_lived));
	gort_keep_alive(long_lived);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	gort_memstats m;
	gort_read_memstats(&m);
	unsigned n = m.num_gc < 256 ? m.num_gc : 256;
	uint64_t pauses[256];
	memcpy(pauses, m.pause_ns, sizeof pauses);
	qsort(pauses, n, sizeof pauses[0], cmp_u64);
	printf("\nMemStats after %.2f s:\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("  NumGC         %u (forced %u)\n", m.num_gc, m.num_forced_gc);
	printf("  PauseTotal    %.2f ms; median %.3f ms, max %.3f ms (last %u cycles)\n", ms(m.pause_total_ns),
	       n ? ms(pauses[n / 2]) : 0.0, n ? ms(pauses[n - 1]) : 0.0, n);
	printf("  GCCPUFraction %.3f\n", m.gc_cpu_fraction);
	printf("  Mallocs       %llu\n  Frees         %llu\n  HeapObjects   %llu\n", (unsigned long long)m.mallocs,
	       (unsigned long long)m.frees, (unsigned long long)m.heap_objects);
	printf("  HeapAlloc     %.1f MiB (live at the last cycle %.1f MiB)\n", m.heap_alloc / 1048576.0,
	       m.gc_heap_marked / 1048576.0);
	printf("  HeapInuse     %.1f MiB\n  HeapIdle      %.1f MiB (released %.1f MiB)\n  HeapSys       %.1f MiB\n",
	       m.heap_inuse / 1048576.0, m.heap_idle / 1048576.0, m.heap_released / 1048576.0,
	       m.heap_sys / 1048576.0);
	printf("  NextGC        %.1f MiB\n  Sys           %.1f MiB\n", m.next_gc / 1048576.0, m.sys / 1048576.0);
	return 0;
}
