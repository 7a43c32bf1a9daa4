/*
 * large.c: large blocks.  Allocates blocks of 64 KiB .. 4 MiB (log-uniform),
 * writes every page of each, and frees them through a live window of WINDOW
 * blocks (OPS blocks in all): the page heap, mmap/munmap and page-fault
 * traffic, and how well freed large blocks are reused.  One thread.
 * Usage: large [ops=25000] [window=16]
 */
#include "mb.h"

int main(int argc, char **argv)
{
	long ops = mb_arg(argc, argv, 1, 25000);
	long window = mb_arg(argc, argv, 2, 16);
	uint64_t rng = 0x13198A2E03707344ULL;
	unsigned char **live = mb_check(calloc((size_t)window, sizeof *live), sizeof *live);
	size_t *size = mb_check(calloc((size_t)window, sizeof *size), sizeof *size);
	unsigned long sum = 0;

	for (long i = 0; i < ops; i++) {
		long k = i % window;
		if (live[k]) {
			sum += live[k][size[k] - 1];
			free(live[k]);
		}
		size[k] = mb_logsize(&rng, 64 * 1024, 4 * 1024 * 1024);
		live[k] = mb_check(malloc(size[k]), size[k]);
		mb_touch(live[k], size[k], (unsigned char)i);
	}
	for (long k = 0; k < window; k++)
		free(live[k]);
	free(live);
	free(size);
	char check[64];
	snprintf(check, sizeof check, "sum=%lu", sum);
	mb_report("large", check);
	return 0;
}
