/*
 * bufgrow: a buffer grown by realloc to 256 MiB in 64 KiB steps, each
 * step written, as a program reading a large input into memory does.
 * Prints the wall time; peak RSS comes from measure (or /usr/bin/time).
 * What it shows: whether realloc grows a large block in place (glibc
 * moves its mmapped chunk with mremap) or copies it, and whether the old
 * and the new copy are resident together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	size_t step = (size_t)64 << 10, total = (size_t)256 << 20;
	if (argc > 1)
		total = (size_t)atol(argv[1]) << 20;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned char *p = NULL;
	unsigned long sum = 0;
	for (size_t n = 0; n < total; n += step) {
		unsigned char *q = realloc(p, n + step);
		if (!q) {
			fprintf(stderr, "bufgrow: realloc(%zu) failed\n", n + step);
			return 1;
		}
		p = q;
		memset(p + n, (int)(n >> 16), step);
		sum += p[n / 2];
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(p);
	printf("bufgrow wall_s=%.3f sum=%lu\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       sum);
	return 0;
}
