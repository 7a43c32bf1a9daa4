/*
 * pair.c: the cost of one small malloc(32)+free pair, for instruction counts
 * under callgrind.  run.sh runs it with N and 2N pairs and divides the
 * difference in collected instructions by N, so start-up cost cancels out.
 * Usage: pair [pairs]   (1,000,000 by default)
 */
#include "bench.h"

int main(int argc, char **argv)
{
	long n = bench_count(argc, argv, 1000000L);

	double t0 = bench_now();
	for (long i = 0; i < n; i++) {
		void *p = B_MALLOC(32);
		B_ESCAPE(p);
		B_FREE(p);
	}
	bench_report("pair", bench_now() - t0);
	return 0;
}
