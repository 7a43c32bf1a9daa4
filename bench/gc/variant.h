/*
 * variant.h: the one switch between memory managers for the GC workloads.
 *
 *   -DBENCH_GORT    gort's collected heap: gort_new with a precise type,
 *                   pointer stores through GORT_STORE, nothing freed
 *   -DBENCH_BDWGC   the Boehm-Demers-Weiser collector (GC_MALLOC), nothing freed;
 *                   with -DBDWGC_PARALLEL_MARK as well, it starts its marker
 *                   threads (GC_start_mark_threads), which Debian's libgc
 *                   does by itself only once the client creates a thread
 *   (neither)       malloc/free, every tree freed explicitly; which malloc
 *                   (glibc, mimalloc) is decided at link time
 *
 * A workload defines its node type and uses:
 *   V_STORE(lvalue, value)   a pointer store into a heap node
 *   V_FREE(p)                frees p (malloc/free only; nothing otherwise)
 *   V_FREES                  1 when the program must free its trees itself
 *   gcstat_init()            first thing in main
 *   gcstat_poll()            now and then (after each round): gathers the
 *                            pauses of the cycles since the last call
 *   gcstat_report()          last thing in main: the RESULT line on stderr
 *
 * stderr gets two lines at exit:
 *   VARIANT <name>                                   the memory manager that ran
 *   RESULT gcs=<n> pause_med_us=<x> pause_max_us=<y>
 * gcs is the number of collections; the pauses are the stop-the-world
 * times of the cycles (gort: gort_memstats.pause_ns; bdwgc: the interval
 * from GC_EVENT_PRE_STOP_WORLD to GC_EVENT_POST_START_WORLD, timed here).
 */
#ifndef GC_VARIANT_H
#define GC_VARIANT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(BENCH_GORT) && defined(BENCH_BDWGC)
#error "BENCH_GORT and BENCH_BDWGC exclude each other"
#endif

/* The pauses seen so far, in ns, in libc-malloc'd memory: neither
 * collector scans it, and it adds nothing to their roots. */
#define GCSTAT_MAX (1u << 16)
static uint64_t *gcstat_pause;
static unsigned gcstat_n;       /* pauses recorded */
static unsigned long gcstat_lost; /* cycles whose pause fell out of the ring */

static inline uint64_t gcstat_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void gcstat_add(uint64_t ns)
{
	if (gcstat_n < GCSTAT_MAX)
		gcstat_pause[gcstat_n++] = ns;
	else
		gcstat_lost++;
}

static inline void gcstat_alloc_array(void)
{
	gcstat_pause = malloc(GCSTAT_MAX * sizeof *gcstat_pause);
	if (!gcstat_pause) {
		fprintf(stderr, "gcstat: out of memory\n");
		exit(2);
	}
}

#if defined(BENCH_GORT)
/* ---- gort ------------------------------------------------------------- */
#include "gort.h"

#define V_NAME "gort"
#define V_FREES 0
#define V_STORE(lv, v) GORT_STORE(lv, v)
#define V_FREE(p) ((void)(p))

static uint32_t gcstat_seen; /* cycles already gathered */
static gort_memstats *gcstat_ms; /* 6 KiB, libc-malloc'd: not a root */

/* pause_ns[k % 256] holds the pause of cycle k (counting from 0) while
 * k > num_gc - 256. */
static inline void gcstat_poll(void)
{
	gort_memstats *m = gcstat_ms;
	gort_read_memstats(m);
	for (uint32_t k = gcstat_seen; k < m->num_gc; k++) {
		if (m->num_gc - k <= 256)
			gcstat_add(m->pause_ns[k % 256]);
		else
			gcstat_lost++;
	}
	gcstat_seen = m->num_gc;
}

static inline void gcstat_init(void)
{
	gcstat_alloc_array();
	gcstat_ms = malloc(sizeof *gcstat_ms);
	if (!gcstat_ms) {
		fprintf(stderr, "gcstat: out of memory\n");
		exit(2);
	}
}

static inline unsigned long gcstat_count(void)
{
	return gcstat_seen;
}

#elif defined(BENCH_BDWGC)
/* ---- bdwgc ------------------------------------------------------------ */
#include <gc.h>
#ifndef GC_THREADS
/* In the library (Debian builds it with threads and parallel marking) but
 * declared by gc.h only for GC_THREADS clients, which these are not. */
GC_API int GC_CALL GC_get_parallel(void);
GC_API void GC_CALL GC_start_mark_threads(void);
#endif

#ifdef BDWGC_PARALLEL_MARK
#define V_NAME "bdwgc-par"
#else
#define V_NAME "bdwgc"
#endif
#define V_FREES 0
#define V_STORE(lv, v) ((lv) = (v))
#define V_FREE(p) ((void)(p))

/* Called by the collecting thread with the allocation lock held. */
static uint64_t gcstat_t_stop, gcstat_t_start;
static unsigned long gcstat_stw, gcstat_cycles;
static uint64_t *gcstat_whole; /* START..END of each cycle, kept apart */
static unsigned gcstat_nwhole;
static unsigned long gcstat_gc_no0; /* GC_INIT's own (empty-heap) collection */

static void gcstat_event(GC_EventType e)
{
	switch (e) {
	case GC_EVENT_START:
		gcstat_t_start = gcstat_now_ns();
		break;
	case GC_EVENT_END:
		gcstat_cycles++;
		if (gcstat_nwhole < GCSTAT_MAX)
			gcstat_whole[gcstat_nwhole++] = gcstat_now_ns() - gcstat_t_start;
		break;
	case GC_EVENT_PRE_STOP_WORLD:
		gcstat_t_stop = gcstat_now_ns();
		break;
	case GC_EVENT_POST_START_WORLD:
		gcstat_stw++;
		gcstat_add(gcstat_now_ns() - gcstat_t_stop);
		break;
	default:
		break;
	}
}

static inline void gcstat_init(void)
{
	GC_INIT();
	gcstat_alloc_array();
	gcstat_whole = malloc(GCSTAT_MAX * sizeof *gcstat_whole);
	if (!gcstat_whole) {
		fprintf(stderr, "gcstat: out of memory\n");
		exit(2);
	}
	GC_set_on_collection_event(gcstat_event);
	gcstat_gc_no0 = (unsigned long)GC_get_gc_no();
#ifdef BDWGC_PARALLEL_MARK
	/* Not the default: a client that never starts a thread marks on one
	 * thread unless it asks for the marker threads. */
	GC_start_mark_threads();
#endif
}

static inline void gcstat_poll(void)
{
}

static inline unsigned long gcstat_count(void)
{
	return (unsigned long)GC_get_gc_no() - gcstat_gc_no0;
}

#else
/* ---- malloc/free -------------------------------------------------------- */
#include <dlfcn.h>

#define V_FREES 1
#define V_STORE(lv, v) ((lv) = (v))
#define V_FREE(p) free(p)
#define V_NAME gcstat_libc_name()

/* Which malloc the linker really bound: mimalloc exports one of its own. */
static inline const char *gcstat_libc_name(void)
{
	return dlsym(RTLD_DEFAULT, "mi_malloc") ? "mimalloc" : "glibc";
}

static inline void gcstat_init(void)
{
	gcstat_alloc_array();
}

static inline void gcstat_poll(void)
{
}

static inline unsigned long gcstat_count(void)
{
	return 0;
}
#endif

static int gcstat_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The median (mean of the middle two for an even count) and the max, in µs. */
static inline void gcstat_summary(uint64_t *p, unsigned n, double *med_us, double *max_us)
{
	*med_us = *max_us = 0;
	if (n == 0)
		return;
	qsort(p, n, sizeof *p, gcstat_cmp);
	*med_us = (n % 2 ? (double)p[n / 2] : ((double)p[n / 2 - 1] + (double)p[n / 2]) / 2) / 1e3;
	*max_us = (double)p[n - 1] / 1e3;
}

static inline void gcstat_report(void)
{
	double med, max;
	gcstat_poll();
	fflush(stdout);
	fprintf(stderr, "VARIANT %s\n", V_NAME);
#if defined(BENCH_BDWGC)
	/* The whole collection (GC_EVENT_START..END) as well: the program's
	 * only thread waits for all of it, not just the world-stopped part. */
	gcstat_summary(gcstat_whole, gcstat_nwhole, &med, &max);
	fprintf(stderr, "bdwgc: %lu cycles ended, %lu world stops; whole collection median %.1f us, max %.1f us;"
			" parallel marking %s\n",
		gcstat_cycles, gcstat_stw, med, max, GC_get_parallel() ? "on" : "off");
#endif
	if (gcstat_lost)
		fprintf(stderr, "gcstat: the pauses of %lu cycles were not seen (ring overrun)\n", gcstat_lost);
	gcstat_summary(gcstat_pause, gcstat_n, &med, &max);
	fprintf(stderr, "RESULT gcs=%lu pause_med_us=%.1f pause_max_us=%.1f\n", gcstat_count(), med, max);
}

#endif
