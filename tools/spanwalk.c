/*
 * spanwalk.c: where a program's heap memory is at its peak RSS.
 *
 * Built with the drop-in's objects into build/release/spanwalk.so (`make
 * spanwalk`), used instead of libgort-malloc.so:
 *   SPANWALK=1 LD_PRELOAD=build/release/spanwalk.so PROGRAM...
 * (SPANWALK=FILE writes the report to FILE instead of stderr, for programs
 * that close stderr before they exit).
 * A thread walks every span of the heap every 2 ms and keeps the walk
 * taken at the highest RSS; at exit it prints, for each kind of span
 * (a thread's current span of a class, the spans threads keep, the central
 * lists' partial spans, spans parked full, large objects), the spans, their
 * bytes, their free slots and their resident bytes (mincore); the heap's
 * resident pages outside spans (free pages the scavenger has not released:
 * the arenas' resident bytes less the spans', so the least exact figure)
 * and the resident free pages by the length of their free run; then the
 * threads holding the most resident memory in their current and kept
 * spans, one line each (which of a program's threads wastes memory).
 *
 * A diagnostic, not part of the library: it reads span records and owner
 * caches without their owners' cooperation, so a walk racing with the
 * program can misfile a span or count one twice.  Figures are approximate;
 * the records it reads are never unmapped, so it cannot fault.
 */
#include "arena.h"
#include "mcache.h"
#include "mheap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { K_CURRENT, K_KEPT, K_PARTIAL, K_FULL, K_LARGE, NKINDS };
static const char *const kind_name[NKINDS] = {"current", "kept", "partial", "full", "large"};

/* A thread's current (k = 0) and kept (k = 1) spans. */
struct holder {
	const mcache *cache; /* NULL: unused entry */
	uintptr_t spans[2], bytes[2], free_bytes[2], resident[2];
};
#define NHOLDERS 64 /* threads told apart; later ones are not broken down */

struct walk {
	uintptr_t spans[NKINDS], bytes[NKINDS], free_bytes[NKINDS], resident[NKINDS];
	unsigned long rss_kib, rss_after_kib; /* when the walk started, ended */
	uintptr_t heap_resident;	      /* every resident page of the arenas, spans or free */
	uintptr_t freerun_res[6];	      /* resident free bytes by run length: 1, 2, 3-4, 5-8, 9-16, more pages */
	struct holder holders[NHOLDERS];
};

static struct walk peak;

static unsigned long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (unsigned long)(sysconf(_SC_PAGESIZE) / 1024);
}

static uintptr_t resident_bytes(uintptr_t base, uintptr_t len)
{
	static unsigned char vec[4096];
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), r = 0;
	while (len) {
		uintptr_t n = len / page < sizeof vec ? len / page : sizeof vec;
		if (mincore((void *)base, n * page, vec) != 0)
			break;
		for (uintptr_t i = 0; i < n; i++)
			r += vec[i] & 1;
		base += n * page;
		len -= n * page;
	}
	return r * page;
}

static uint32_t live_objects(const mspan *s)
{
	uint32_t live = 0;
	for (uint32_t i = 0; i < s->nelems; i++)
		live += mspan_is_allocated(s, i);
	return live;
}

static int kind_of(const mspan *s)
{
	if (s->sizeclass == 0)
		return K_LARGE;
	switch (load_relaxed(&s->where)) {
	case SPAN_CACHED: {
		const mcache *o = load_relaxed(&s->owner);
		return o && load_relaxed(&o->manual[s->sizeclass]) == s ? K_CURRENT : K_KEPT;
	}
	case SPAN_FULL:
		return K_FULL;
	default:
		return K_PARTIAL;
	}
}

static struct holder *holder_of(struct walk *w, const mcache *c)
{
	for (unsigned i = 0; i < NHOLDERS; i++) {
		if (w->holders[i].cache == c)
			return &w->holders[i];
		if (!w->holders[i].cache) {
			w->holders[i].cache = c;
			return &w->holders[i];
		}
	}
	return NULL;
}

static void walk_once(void)
{
	static struct walk w; /* the walker's only: too big for its stack */
	memset(&w, 0, sizeof w);
	w.rss_kib = rss_kib();
	if (w.rss_kib <= peak.rss_kib)
		return;
	uintptr_t lo = load_relaxed(&arena_heap_lo), hi = load_relaxed(&arena_heap_hi);
	for (uintptr_t p = lo; p < hi; p += PAGE_BYTES) {
		const mspan *s = span_of(p);
		/* A page's entry may be stale (its span freed, the record reused
		 * for a span elsewhere): a span is counted at its first page only. */
		if (!s || s->base != p || load_acquire(&s->state) != MSPAN_INUSE || s->kind != SPAN_MANUAL)
			continue;
		int k = kind_of(s);
		uintptr_t bytes = s->npages * PAGE_BYTES;
		uintptr_t free_bytes = k == K_LARGE ? 0 : (uintptr_t)(s->nelems - live_objects(s)) * s->elemsize;
		uintptr_t resident = resident_bytes(s->base, bytes);
		w.spans[k]++;
		w.bytes[k] += bytes;
		w.free_bytes[k] += free_bytes;
		w.resident[k] += resident;
		const mcache *owner = k == K_CURRENT || k == K_KEPT ? load_relaxed(&s->owner) : NULL;
		struct holder *h = owner ? holder_of(&w, owner) : NULL; /* NULL: the owner just let go */
		if (h) {
			int j = k == K_KEPT;
			h->spans[j]++;
			h->bytes[j] += bytes;
			h->free_bytes[j] += free_bytes;
			h->resident[j] += resident;
		}
	}
	w.heap_resident = resident_bytes(lo, hi - lo);
	uintptr_t run = 0;
	for (uintptr_t p = lo; p <= hi; p += PAGE_BYTES) {
		const mspan *s = p < hi ? span_of(p) : NULL;
		bool used = p < hi && s && load_acquire(&s->state) == MSPAN_INUSE && s->base <= p &&
			    p < s->base + s->npages * PAGE_BYTES;
		if (!used && p < hi) {
			if (!run)
				run = p;
			continue;
		}
		if (run) {
			uintptr_t n = (p - run) / PAGE_BYTES;
			int b = n <= 1 ? 0 : n <= 2 ? 1 : n <= 4 ? 2 : n <= 8 ? 3 : n <= 16 ? 4 : 5;
			w.freerun_res[b] += resident_bytes(run, p - run);
			run = 0;
		}
	}
	w.rss_after_kib = rss_kib();
	peak = w;
}

static void *walker(void *arg)
{
	for (;;) {
		walk_once();
		usleep(2000);
	}
	return arg;
}

__attribute__((constructor(200))) static void spanwalk_start(void)
{
	if (!getenv("SPANWALK"))
		return;
	pthread_t t;
	if (pthread_create(&t, NULL, walker, NULL) == 0)
		pthread_detach(t);
}

__attribute__((destructor(101))) static void spanwalk_report(void)
{
	const char *to = getenv("SPANWALK");
	if (!to)
		return;
	FILE *f = strcmp(to, "1") ? fopen(to, "w") : stderr;
	if (!f)
		return;
	fprintf(f, "spanwalk: at the peak RSS seen, %lu KiB (%lu KiB when the walk ended):\n", peak.rss_kib,
		peak.rss_after_kib);
	fprintf(f, "  %-8s %7s %10s %10s %10s\n", "kind", "spans", "KiB", "free KiB", "resident");
	for (int k = 0; k < NKINDS; k++)
		fprintf(f, "  %-8s %7lu %10lu %10lu %10lu\n", kind_name[k], (unsigned long)peak.spans[k],
			(unsigned long)(peak.bytes[k] >> 10), (unsigned long)(peak.free_bytes[k] >> 10),
			(unsigned long)(peak.resident[k] >> 10));
	uintptr_t in_spans = 0;
	for (int k = 0; k < NKINDS; k++)
		in_spans += peak.resident[k];
	fprintf(f, "  free pages %30lu resident (the heap's resident pages outside spans)\n",
		(unsigned long)((peak.heap_resident > in_spans ? peak.heap_resident - in_spans : 0) >> 10));
	fprintf(f, "  free resident KiB by run length (pages) 1: %lu, 2: %lu, 3-4: %lu, 5-8: %lu, 9-16: %lu, more: %lu\n",
		(unsigned long)(peak.freerun_res[0] >> 10), (unsigned long)(peak.freerun_res[1] >> 10),
		(unsigned long)(peak.freerun_res[2] >> 10), (unsigned long)(peak.freerun_res[3] >> 10),
		(unsigned long)(peak.freerun_res[4] >> 10), (unsigned long)(peak.freerun_res[5] >> 10));
	/* The threads by resident bytes held, most first. */
	struct holder *h = peak.holders;
	unsigned n = 0;
	while (n < NHOLDERS && h[n].cache)
		n++;
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && h[j].resident[0] + h[j].resident[1] > h[j - 1].resident[0] + h[j - 1].resident[1]; j--) {
			struct holder t = h[j];
			h[j] = h[j - 1];
			h[j - 1] = t;
		}
	if (n)
		fprintf(f, "  by thread, current + kept spans (most resident first):\n  %-18s %11s %10s %10s %10s\n",
			"cache", "spans", "KiB", "free KiB", "resident");
	for (unsigned i = 0; i < n && i < 8; i++)
		fprintf(f, "  %-18p %5lu + %-4lu %10lu %10lu %10lu\n", (const void *)h[i].cache,
			(unsigned long)h[i].spans[0], (unsigned long)h[i].spans[1],
			(unsigned long)((h[i].bytes[0] + h[i].bytes[1]) >> 10),
			(unsigned long)((h[i].free_bytes[0] + h[i].free_bytes[1]) >> 10),
			(unsigned long)((h[i].resident[0] + h[i].resident[1]) >> 10));
	if (n > 8) { /* the rest on one line, so that the lines add up to the kinds' figures */
		struct holder r = {0};
		for (unsigned i = 8; i < n; i++)
			for (int j = 0; j < 2; j++) {
				r.spans[j] += h[i].spans[j];
				r.bytes[j] += h[i].bytes[j];
				r.free_bytes[j] += h[i].free_bytes[j];
				r.resident[j] += h[i].resident[j];
			}
		char label[32];
		snprintf(label, sizeof label, "(%u more)", n - 8);
		fprintf(f, "  %-18s %5lu + %-4lu %10lu %10lu %10lu\n", label, (unsigned long)r.spans[0],
			(unsigned long)r.spans[1], (unsigned long)((r.bytes[0] + r.bytes[1]) >> 10),
			(unsigned long)((r.free_bytes[0] + r.free_bytes[1]) >> 10),
			(unsigned long)((r.resident[0] + r.resident[1]) >> 10));
	}
	uintptr_t inuse, idle, released;
	mheap_page_counts(&inuse, &idle, &released);
	fprintf(f, "  at exit: pages in use %lu KiB, free resident %lu KiB, released %lu KiB\n",
		(unsigned long)(inuse * PAGE_BYTES >> 10), (unsigned long)(idle * PAGE_BYTES >> 10),
		(unsigned long)(released * PAGE_BYTES >> 10));
	if (f != stderr)
		fclose(f);
}
