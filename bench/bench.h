/*
 * bench.h: helpers shared by the workloads: wall clock, peak RSS, a seeded
 * RNG, an optimisation barrier, and the one result line each program prints.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "alloc_api.h"

/* Makes the compiler believe p escapes and memory was read: keeps an
 * allocation, and the bytes written into it, from being optimised away. */
#define B_ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline long bench_peak_rss_kb(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

/* argv[1], if given, overrides the default operation count. */
static inline long bench_count(int argc, char **argv, long def)
{
	if (argc > 1) {
		long n = strtol(argv[1], NULL, 0);
		if (n > 0)
			return n;
	}
	return def;
}

static inline void *bench_check(void *p, size_t n)
{
	if (p == NULL) {
		fprintf(stderr, "%s: allocation of %zu bytes failed\n", B_NAME, n);
		exit(2);
	}
	return p;
}

static inline void bench_report(const char *workload, double seconds)
{
	printf("%s time_s=%.4f rss_kb=%ld alloc=%s\n", workload, seconds,
	       bench_peak_rss_kb(), B_NAME);
	fflush(stdout);
}

#endif
