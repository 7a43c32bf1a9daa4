/*
 * mb.h: what the allocator workloads share.  They call plain malloc/free and
 * are linked with no allocator; run.sh picks one with LD_PRELOAD.  Each
 * program prints one line, "<workload> alloc=<malloc in use> <check>", and
 * exits 0; the check is deterministic where the workload is (single-threaded
 * or with fixed work per thread).
 */
#ifndef MB_H
#define MB_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common.h"

/* Keeps the compiler from dropping an allocation or the bytes written to it. */
#define MB_ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

/* A size in [lo, hi], log-uniform: as many in 8..16 B as in 16..32 KiB. */
static inline size_t mb_logsize(uint64_t *s, size_t lo, size_t hi)
{
	uint64_t r = bench_rand(s);
	unsigned lo_bits = 63 - (unsigned)__builtin_clzll(lo);
	unsigned hi_bits = 63 - (unsigned)__builtin_clzll(hi);
	unsigned b = lo_bits + (unsigned)(r % (hi_bits - lo_bits + 1));
	size_t n = ((size_t)1 << b) + (size_t)((r >> 8) & (((uint64_t)1 << b) - 1));
	return n < lo ? lo : n > hi ? hi : n;
}

/* argv[i], if given and positive, else def. */
static inline long mb_arg(int argc, char **argv, int i, long def)
{
	if (argc > i) {
		long n = strtol(argv[i], NULL, 0);
		if (n > 0)
			return n;
	}
	return def;
}

static inline void *mb_check(void *p, size_t n)
{
	if (p == NULL && n != 0) {
		fprintf(stderr, "allocation of %zu bytes failed\n", n);
		exit(2);
	}
	return p;
}

/* Writes one byte per 4 KiB page and the last byte: every page is touched. */
static inline void mb_touch(void *p, size_t n, unsigned char v)
{
	unsigned char *c = p;
	for (size_t o = 0; o < n; o += 4096)
		c[o] = v;
	c[n - 1] = v;
}

static inline void mb_report(const char *workload, const char *check)
{
	printf("%s alloc=%s %s\n", workload, bench_alloc_name(), check);
	fflush(stdout);
}

#endif
