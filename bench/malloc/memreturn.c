/*
 * memreturn: how soon freed memory goes back to the kernel.
 *
 * A program allocates 512 MiB, writes it, frees it all and then only
 * sleeps; the resident set is printed right after the frees and 0.1, 1 and
 * 4 s later.  Modes:
 *   small    3000-byte objects, allocated and freed by one thread
 *   busy     as small, but the program then computes instead of sleeping
 *            (a scavenger paced by the program's CPU use works slower)
 *   xthread  3000-byte objects allocated by a thread that then exits,
 *            freed by the main thread (which allocates nothing more)
 *   large    4 MiB blocks
 *   huge     64 MiB blocks
 * Run it under each allocator by LD_PRELOAD (memreturn.sh does).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOTAL ((size_t)512 << 20)

static size_t size, count;
static char **blocks;

static long rss_mib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, resident = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * sysconf(_SC_PAGESIZE) >> 20;
}

static int busy;

/* Waits us microseconds: asleep, or in busy mode computing. */
static void wait_us(long us)
{
	if (!busy) {
		usleep((useconds_t)us);
		return;
	}
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	volatile unsigned long sink = 0;
	do {
		for (int k = 0; k < 10000; k++)
			sink += (unsigned long)k;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static void *fill(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < count; i++) {
		blocks[i] = malloc(size);
		if (!blocks[i]) {
			fprintf(stderr, "memreturn: out of memory\n");
			exit(1);
		}
		memset(blocks[i], 1, size);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "small";
	busy = !strcmp(mode, "busy");
	if (!strcmp(mode, "small") || !strcmp(mode, "xthread") || busy)
		size = 3000;
	else if (!strcmp(mode, "large"))
		size = (size_t)4 << 20;
	else if (!strcmp(mode, "huge"))
		size = (size_t)64 << 20;
	else {
		fprintf(stderr, "usage: memreturn small|busy|xthread|large|huge\n");
		return 2;
	}
	count = TOTAL / size;
	blocks = calloc(count, sizeof *blocks);
	if (!blocks)
		return 1;
	if (!strcmp(mode, "xthread")) {
		pthread_t t;
		if (pthread_create(&t, NULL, fill, NULL) != 0)
			return 1;
		pthread_join(t, NULL);
	} else {
		fill(NULL);
	}
	long peak = rss_mib();
	for (size_t i = 0; i < count; i++)
		free(blocks[i]);
	long at0 = rss_mib();
	wait_us(100000);
	long at01 = rss_mib();
	wait_us(900000);
	long at1 = rss_mib();
	wait_us(3000000);
	printf("%s peak=%ld freed=%ld t0.1=%ld t1=%ld t4=%ld\n", mode, peak, at0, at01, at1, rss_mib());
	return 0;
}
