/*
 * small.c: the small-object fast path on one thread.  Allocates and at once
 * frees objects of 16, 32, 64 and 128 bytes in turn (50M pairs by default),
 * writing one byte into each, so the time is the per-thread cache's
 * malloc+free round trip.
 * Usage: small [pairs]
 */
#include "bench.h"

int main(int argc, char **argv)
{
	static const size_t sizes[4] = {16, 32, 64, 128};
	long n = bench_count(argc, argv, 50000000L);

	double t0 = bench_now();
	for (long i = 0; i < n; i++) {
		size_t sz = sizes[i & 3];
		char *p = bench_check(B_MALLOC(sz), sz);
		p[0] = (char)i;
		B_ESCAPE(p);
		B_FREE(p);
	}
	bench_report("small", bench_now() - t0);
	return 0;
}
