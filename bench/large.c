/*
 * large.c: large objects.  Allocates blocks of 64 KiB .. 4 MiB (log-uniform),
 * writes their first and last page, and frees them through a live window of
 * 8 (200k operations by default): the page heap, mmap/munmap traffic and
 * page faults, i.e. how well freed large blocks are reused.
 * Usage: large [ops]
 */
#include "bench.h"

#define WINDOW 8

int main(int argc, char **argv)
{
	void *live[WINDOW] = {0};
	long ops = bench_count(argc, argv, 200000L);
	uint64_t rng = 0x13198A2E03707344ULL;

	double t0 = bench_now();
	for (long i = 0; i < ops; i++) {
		uint64_t r = bench_rand(&rng);
		unsigned shift = 16 + (unsigned)(r % 6);	/* [2^shift, 2^(shift+1)): 64 KiB .. 4 MiB */
		size_t sz = ((size_t)1 << shift) + (size_t)((r >> 8) % ((uint64_t)1 << shift));
		char *p = bench_check(B_MALLOC(sz), sz);
		p[0] = 1;
		p[sz - 1] = 1;
		B_ESCAPE(p);
		B_FREE(live[i % WINDOW]);
		live[i % WINDOW] = p;
	}
	for (int i = 0; i < WINDOW; i++)
		B_FREE(live[i]);
	bench_report("large", bench_now() - t0);
	return 0;
}
