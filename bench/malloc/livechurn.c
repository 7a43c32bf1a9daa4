/*
 * livechurn.c: random sizes against a live set.  LIVE slots are filled with
 * objects of log-uniform random size, 8 B .. 32 KiB (as many of 8..16 B as
 * of 16..32 KiB; about 4 KiB on average), then each of STEPS steps frees a
 * random slot and refills it.  Every page of a new object is written, so the
 * peak RSS is the live set plus what the allocator wastes (fragmentation,
 * caches, headers).  One thread.
 * Usage: livechurn [steps=3000000] [live=30000]
 */
#include "mb.h"

int main(int argc, char **argv)
{
	long steps = mb_arg(argc, argv, 1, 3000000);
	long live = mb_arg(argc, argv, 2, 30000);
	uint64_t rng = 0x452821E638D01377ULL;
	unsigned char **slot = mb_check(calloc((size_t)live, sizeof *slot), sizeof *slot);
	size_t *size = mb_check(calloc((size_t)live, sizeof *size), sizeof *size);
	unsigned long sum = 0;

	for (long i = 0; i < live + steps; i++) {
		long k = i < live ? i : (long)(bench_rand(&rng) % (uint64_t)live);
		if (slot[k]) {
			sum += slot[k][size[k] - 1];
			free(slot[k]);
		}
		size[k] = mb_logsize(&rng, 8, 32768);
		slot[k] = mb_check(malloc(size[k]), size[k]);
		mb_touch(slot[k], size[k], (unsigned char)k);
	}
	for (long k = 0; k < live; k++)
		free(slot[k]);
	free(slot);
	free(size);
	char check[64];
	snprintf(check, sizeof check, "sum=%lu", sum);
	mb_report("livechurn", check);
	return 0;
}
