/*
 * manual.c: what the manual gort heap does with a realistic mix of objects.
 *
 * The demo allocates 220,200 objects of mixed sizes (small, medium and
 * large, sizes drawn log-uniformly so that small ones dominate, as in real
 * programs), touches every byte, frees 90% of them (part of that from a
 * second thread: any thread may free any object), then watches the
 * background scavenger hand the free pages back to the kernel and finally
 * forces the rest back with gort_free_os_memory().  After each phase it
 * prints the process RSS (from /proc/self/statm) beside the heap's own
 * figures (gort_read_memstats), so one can see:
 *   - which size classes the objects landed in and how many spans each uses;
 *   - that freeing 90% of the objects frees far less than 90% of the spans
 *     (a span stays in use while any object in it lives);
 *   - RSS falling while the scavenger works, then dropping to the live heap.
 * The pseudo-random sizes are seeded, so every run does the same thing.
 */
#include "gort.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSMALL 200000 /* 8 B .. 1 KiB */
#define NMEDIUM 20000 /* 1 KiB .. 32 KiB */
#define NLARGE 200    /* 64 KiB .. 4 MiB */
#define NOBJS (NSMALL + NMEDIUM + NLARGE)
#define KEEP_EVERY 10 /* phase 3 keeps every 10th object */

static void *objs[NOBJS];
static size_t sizes[NOBJS];
static struct timespec t_start;

static double mib(uint64_t bytes)
{
	return (double)bytes / (1 << 20);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static double elapsed(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t_start.tv_sec) + (double)(t.tv_nsec - t_start.tv_nsec) / 1e9;
}

/* Resident set size in bytes: the second field of /proc/self/statm. */
static uint64_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Peak RSS in bytes (VmHWM in /proc/self/status); 0 if unknown. */
static uint64_t peak_rss_bytes(void)
{
	char line[256];
	unsigned long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return (uint64_t)kib << 10;
}

/* xorshift64*: a small seeded generator, so every run is the same. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1du;
}

/* A size in [lo, hi] drawn log-uniformly: as many objects of 8-16 B as of
 * 512 B-1 KiB, which is roughly how real programs allocate. */
static size_t log_uniform(size_t lo, size_t hi)
{
	unsigned lo_bits = 0, hi_bits = 0;
	while (((size_t)1 << (lo_bits + 1)) <= lo)
		lo_bits++;
	while (((size_t)1 << (hi_bits + 1)) <= hi)
		hi_bits++;
	unsigned bits = lo_bits + (unsigned)(rng() % (hi_bits - lo_bits));
	size_t base = (size_t)1 << bits;
	size_t n = base + (size_t)(rng() % base);
	return n < lo ? lo : n > hi ? hi : n;
}

static void heading(const char *title)
{
	printf("\n== %s  [t=%.1f s]\n", title, elapsed());
}

/* The heap's headline figures and RSS: three lines. */
static void figures(void)
{
	gort_memstats m;
	gort_read_memstats(&m);
	printf("  heap_inuse %7.1f MiB   heap_alloc    %7.1f MiB   heap_idle %7.1f MiB\n",
	       mib(m.heap_inuse), mib(m.heap_alloc), mib(m.heap_idle));
	printf("  heap_sys   %7.1f MiB   heap_released %7.1f MiB   RSS       %7.1f MiB\n",
	       mib(m.heap_sys), mib(m.heap_released), mib(rss_bytes()));
	printf("  mallocs %llu, frees %llu, live objects %llu\n", (unsigned long long)m.mallocs,
	       (unsigned long long)m.frees, (unsigned long long)m.heap_objects);
}

/* Spans and live objects per size class, only classes with spans in use,
 * three classes to a line, ascending down the columns; class 0 (large
 * objects, each in a span of its own) comes last. */
static void class_table(void)
{
	static gort_memstats m;
	unsigned used[GORT_NUM_SIZE_CLASSES], n = 0;
	gort_read_memstats(&m);
	for (unsigned c = 1; c < GORT_NUM_SIZE_CLASSES; c++)
		if (m.by_size[c].spans > 0)
			used[n++] = c;
	if (m.by_size[0].spans > 0)
		used[n++] = 0;
	unsigned rows = (n + 2) / 3;
	for (unsigned col = 0; col < 3 && col < n; col++)
		printf("%s", col ? " | cls   bytes spans   live" : "  cls   bytes spans   live");
	printf("\n");
	for (unsigned r = 0; r < rows; r++) {
		for (unsigned col = 0; col < 3; col++) {
			unsigned i = col * rows + r;
			if (i >= n)
				break;
			unsigned c = used[i];
			char size[16];
			if (c)
				snprintf(size, sizeof size, "%5u B", m.by_size[c].size);
			else
				snprintf(size, sizeof size, ">32 KiB");
			printf("%s%3u %7s %5llu %6llu", col ? " | " : "  ", c, size,
			       (unsigned long long)m.by_size[c].spans,
			       (unsigned long long)(m.by_size[c].mallocs - m.by_size[c].frees));
		}
		printf("\n");
	}
}

/* Phase 3's second thread: frees its half of the 90% (odd-numbered
 * groups of ten), objects the main thread allocated. */
static void *free_remote(void *arg)
{
	size_t *count = arg;
	for (size_t i = 0; i < NOBJS; i++)
		if (i % KEEP_EVERY != 0 && (i / KEEP_EVERY) % 2 == 1) {
			gort_free(objs[i]);
			objs[i] = NULL;
			(*count)++;
		}
	return NULL;
}

int main(void)
{
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("gort %s demo: a mix of objects allocated, mostly freed, and given back\n", GORT_VERSION);

	/* 1. Start. */
	heading("1. Start: nothing allocated yet");
	gort_memstats m;
	gort_read_memstats(&m);
	printf("  RSS %.1f MiB (from /proc/self/statm; MiB = 2^20 bytes)\n", mib(rss_bytes()));
	printf("  gort_read_memstats: heap_sys %.1f MiB, heap_inuse %.1f MiB, sys %.1f MiB, mallocs %llu\n",
	       mib(m.heap_sys), mib(m.heap_inuse), mib(m.sys), (unsigned long long)m.mallocs);

	/* 2. Allocate, interleaving the three kinds as a program would. */
	uint64_t asked = 0;
	size_t ns = 0, nm = 0, nl = 0;
	for (size_t i = 0; i < NOBJS; i++) {
		/* Spread medium and large objects evenly among the small ones. */
		if (nl < NLARGE && i * NLARGE / NOBJS >= nl)
			sizes[i] = log_uniform(64 << 10, 4 << 20), nl++;
		else if (nm < NMEDIUM && i * NMEDIUM / NOBJS >= nm)
			sizes[i] = log_uniform(1024 + 1, 32 << 10), nm++;
		else if (ns < NSMALL)
			sizes[i] = log_uniform(8, 1024), ns++;
		else if (nm < NMEDIUM)
			sizes[i] = log_uniform(1024 + 1, 32 << 10), nm++;
		else
			sizes[i] = log_uniform(64 << 10, 4 << 20), nl++;
		asked += sizes[i];
	}
	char title[128];
	snprintf(title, sizeof title, "2. Allocate %d objects, %.1f MiB in all, and touch every byte", NOBJS,
		 mib(asked));
	heading(title);
	printf("  %zu small (8 B-1 KiB), %zu medium (1-32 KiB), %zu large (64 KiB-4 MiB)\n", ns, nm, nl);
	for (size_t i = 0; i < NOBJS; i++) {
		objs[i] = gort_malloc(sizes[i]);
		if (!objs[i]) {
			fprintf(stderr, "demo: gort_malloc(%zu) failed\n", sizes[i]);
			return 1;
		}
		memset(objs[i], (int)(i & 0xff), sizes[i]);
	}
	class_table();
	figures();
	gort_read_memstats(&m);
	uint64_t peak_alloc = m.heap_alloc, peak_inuse = m.heap_inuse;

	/* 3. Free 90%: every object except every 10th, half of them from a
	 * second thread while the main thread frees the other half. */
	heading("3. Free 90% of the objects, half of them from a second thread");
	size_t freed_main = 0, freed_remote = 0;
	pthread_t t;
	if (pthread_create(&t, NULL, free_remote, &freed_remote) != 0) {
		fprintf(stderr, "demo: pthread_create failed\n");
		return 1;
	}
	for (size_t i = 0; i < NOBJS; i++)
		if (i % KEEP_EVERY != 0 && (i / KEEP_EVERY) % 2 == 0) {
			gort_free(objs[i]);
			objs[i] = NULL;
			freed_main++;
		}
	pthread_join(t, NULL);
	printf("  main thread freed %zu, second thread freed %zu (all allocated by main)\n", freed_main,
	       freed_remote);
	figures();
	gort_read_memstats(&m);
	printf("  heap_alloc fell to %.0f%% of its peak, heap_inuse only to %.0f%% (spans emptied by\n",
	       pct(m.heap_alloc, peak_alloc), pct(m.heap_inuse, peak_inuse));
	printf("  the frees are swept later), and RSS barely moved: freed pages are still resident\n");

	/* 4. The background scavenger returns free pages at ~1% of the CPU. */
	heading("4. RSS before and after the scavenger gives memory back");
	uint64_t rss_before = rss_bytes(), last_released = UINT64_MAX;
	int still = 0;
	double waited = 0;
	for (int tick = 1; tick <= 6; tick++) {
		struct timespec half = {0, 500000000};
		nanosleep(&half, NULL);
		waited = tick * 0.5;
		gort_read_memstats(&m);
		uint64_t rss = rss_bytes();
		printf("  %.1f s: RSS %6.1f MiB   heap_released %6.1f MiB   heap_inuse %6.1f MiB\n",
		       waited, mib(rss), mib(m.heap_released), mib(m.heap_inuse));
		/* Stop early once the scavenger has reached its goal. */
		still = m.heap_released == last_released ? still + 1 : 0;
		if (still >= 2)
			break;
		last_released = m.heap_released;
	}
	uint64_t rss_scav = rss_bytes();
	gort_free_os_memory();
	gort_read_memstats(&m);
	uint64_t rss_after = rss_bytes();
	printf("  RSS after the frees                      %6.1f MiB\n", mib(rss_before));
	printf("  RSS after %.1f s of scavenging at ~1%% CPU %6.1f MiB\n", waited, mib(rss_scav));
	printf("  RSS after gort_free_os_memory()          %6.1f MiB  (heap_released = heap_idle)\n",
	       mib(rss_after));
	printf("  What stays is heap_inuse, %.1f MiB (%.0f%% of its peak): a span holding even one\n",
	       mib(m.heap_inuse), pct(m.heap_inuse, peak_inuse));
	printf("  of the live objects (%.1f MiB in all, heap_alloc) stays in use\n", mib(m.heap_alloc));

	/* 5. Free the rest. */
	heading("5. Free the remaining 10%");
	for (size_t i = 0; i < NOBJS; i++)
		if (objs[i]) {
			gort_free(objs[i]);
			objs[i] = NULL;
		}
	gort_read_memstats(&m);
	printf("  live objects %llu, heap_alloc %.1f MiB, heap_idle %.1f MiB (until the scavenger's\n",
	       (unsigned long long)m.heap_objects, mib(m.heap_alloc), mib(m.heap_idle));
	printf("  next passes), RSS %.1f MiB; peak RSS %.1f MiB, %.1f s in all\n", mib(rss_bytes()),
	       mib(peak_rss_bytes()), elapsed());
	return 0;
}
