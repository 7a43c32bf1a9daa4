/*
 * churn.c: random-size churn against a live set.  100k slots are filled,
 * then each step frees a random slot and puts a new object of random size in
 * it (mostly 8..128 bytes, fewer up to 4 KiB, a few up to 32 KiB), writing
 * its first and last byte (6M steps by default): fragmentation, size-class
 * spread, span reuse.
 * Usage: churn [steps]
 */
#include "bench.h"

#define SLOTS 100000

static size_t pick_size(uint64_t *rng)
{
	uint64_t r = bench_rand(rng);
	unsigned bucket = (unsigned)(r % 1000);
	uint64_t v = r >> 16;

	if (bucket < 700)		/* 70%: 8..128 */
		return 8 + v % 121;
	if (bucket < 930)		/* 23%: 129..1024 */
		return 129 + v % 896;
	if (bucket < 995)		/* 6.5%: 1025..4096 */
		return 1025 + v % 3072;
	return 4097 + v % 28672;	/* 0.5%: 4097..32768 */
}

static void *fill(size_t sz)
{
	char *p = bench_check(B_MALLOC(sz), sz);
	p[0] = (char)sz;
	p[sz - 1] = (char)sz;
	return p;
}

int main(int argc, char **argv)
{
	static void *slot[SLOTS];
	long steps = bench_count(argc, argv, 6000000L);
	uint64_t rng = 0x9E3779B97F4A7C15ULL;

	double t0 = bench_now();
	for (long i = 0; i < SLOTS; i++)
		slot[i] = fill(pick_size(&rng));
	for (long i = 0; i < steps; i++) {
		size_t k = (size_t)(bench_rand(&rng) % SLOTS);
		B_FREE(slot[k]);
		slot[k] = fill(pick_size(&rng));
	}
	for (long i = 0; i < SLOTS; i++)
		B_FREE(slot[i]);
	bench_report("churn", bench_now() - t0);
	return 0;
}
