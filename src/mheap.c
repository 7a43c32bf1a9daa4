/*
 * mheap.c: the page heap (see mheap.h).
 *
 * Spans are carved from the page allocator under mheap_.lock; the span
 * record is initialised and published after the lock is dropped, since the
 * pages are then exclusively the caller's.  The heap grows a whole number
 * of 64 MiB arenas at a time (4 MiB steps under an address-space limit,
 * arena.h); fresh pages come from the kernel zeroed and are handed to the
 * page allocator as "scavenged", which is how a span knows it need not
 * clear them (needzero).  From Go's mheap.go.  When the heap can neither
 * find pages nor grow, a manual span waits for one reclaim pass before
 * the allocation fails (reclaim_for_room).
 */
#include "crit.h"
#include "mheap.h"
#include "mprof.h"
#include "arena.h"
#include "check.h"
#include "debugvars.h"
#include "fork.h"
#include "mcache.h"
#include "mgc.h"
#include "os.h"
#include "scavenge.h"
#include "sizeclass.h"
#include "thread.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* Not GORT_NOSCAN_DATA: roots.c skips it by address, and its all-zero
 * initialiser keeps it in .bss, so only the pages the heap touches are
 * resident (a named section would be file-backed, and the kernel maps a
 * file's pages in 64 KiB groups). */
struct mheap mheap_ = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t heap_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) && !defined(__POPCNT__)
bool cpu_popcnt;

static void cpu_init(void)
{
	unsigned a, b, c, d;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_POPCNT))
		__atomic_store_n(&cpu_popcnt, true, __ATOMIC_RELAXED);
}
#else
static void cpu_init(void) {}
#endif

static void heap_init_once(void)
{
	cpu_init();
	debugvars_init();
	const char *limit = os_getenv("GORTMEMLIMIT");
	if (limit)
		pacer_init_limit(limit);
	if (debug.memprofilerate >= 0)
		store_relaxed(&mprof_rate, (long)debug.memprofilerate);
	uintptr_t lo, hi;
	arena_init(&lo, &hi);
	pagealloc_init(&mheap_.pages, lo, hi);
	for (unsigned b = 0; b < MSPAN_BUCKETS; b++)
		/* Sizes in whole cache lines keep records line-aligned. */
		fixalloc_init(&mheap_.spanalloc[b],
			      align_up(sizeof(mspan) + 3 * sizeof(uint64_t) * (1u << b), GORT_CACHELINE));
	mcache_global_init();
}

void mheap_init(void)
{
	pthread_once(&heap_once, heap_init_once);
}

/* What the heap's first user must not do itself: pthread_atfork, atexit
 * and pthread_create may call malloc, which is gort's own in
 * libgort-malloc.so, and the first call into gort may come before libc
 * has finished starting (from the dynamic loader).  A constructor runs
 * when the library is loaded, after libc's, so late enough for all of
 * them and before any fork or exit of the program. */
bool gort_started;

static __attribute__((constructor)) void mheap_start(void)
{
	mheap_init();
	fork_init();
	thread_watch_main();
	heapprofile_init();
	store_release(&gort_started, true);
}

static unsigned bucket_for(uint32_t nelems)
{
	unsigned words = mspan_words(nelems), b = 0;
	while ((1u << b) < words)
		b++;
	GORT_ASSERT(1, b < MSPAN_BUCKETS);
	return b;
}

_Static_assert(ARENA_STEP_BYTES == PA_CHUNK_BYTES, "the heap grows by whole page-allocator chunks");

/* Adds enough address space for npages.  Heap lock held. */
static bool mheap_grow_locked(uintptr_t npages)
{
	uintptr_t bytes = align_up(npages * PAGE_BYTES, arena_grow_unit());
	uintptr_t base = arena_grow(bytes);
	if (!base)
		return false;
	if (!pagealloc_grow(&mheap_.pages, base, bytes)) {
		/* Its metadata could not be mapped: the process is out of
		 * address space or memory, which a limited one may well be. */
		arena_ungrow(base, bytes);
		return false;
	}
	return true;
}

/* Pages from the page allocator, growing the heap if needed.  Lock held. */
static uintptr_t pages_alloc_locked(uintptr_t npages, uintptr_t *scav)
{
	uintptr_t base = pagealloc_alloc(&mheap_.pages, npages, scav);
	if (base)
		return base;
	if (!mheap_grow_locked(npages))
		return 0;
	base = pagealloc_alloc(&mheap_.pages, npages, scav);
	if (!base)
		gort_throw("runtime: page allocator failed after heap growth");
	return base;
}

static mspan *span_publish(mspan *s, uintptr_t base, uintptr_t npages, unsigned sizeclass, unsigned spanclass,
			   unsigned kind, bool zeroed)
{
	mspan_init(s, base, npages, sizeclass);
	s->spanclass = (uint8_t)spanclass;
	s->kind = (uint8_t)kind;
	store_relaxed(&s->where, 0); /* a stale freer may still read it */
	s->needzero = !zeroed;
	arena_set_spans(s);
	store_release(&s->state, MSPAN_INUSE);
	return s;
}

/* Heap lock held, after an allocation.  Under a memory limit, the bytes
 * by which pages in use or free but not released, with the runtime's
 * metadata, now exceed it (Go's allocation-time scavenging: released
 * pages just put back in use are paid for with other free pages). */
static uintptr_t limit_overage_locked(void)
{
	int64_t limit = load_relaxed(&gc.memory_limit);
	if (likely(limit == INT64_MAX))
		return 0;
	uint64_t ready = (uint64_t)(pagealloc_total_pages(&mheap_.pages) - pagealloc_scavenged_pages(&mheap_.pages)) *
				 PAGE_BYTES +
			 pacer_runtime_overhead();
	return ready > (uint64_t)limit ? (uintptr_t)(ready - (uint64_t)limit) : 0;
}

/* A span record of bucket *b, or when the OS has no memory for a new one
 * (an address-space limit reached), a free record of a bigger bucket,
 * which holds any smaller one; *b is set to the bucket it came from, where
 * it goes back.  NULL if there is none.  Heap lock held. */
static mspan *span_record_locked(unsigned *b)
{
	mspan *s = fixalloc_try_alloc(&mheap_.spanalloc[*b], false);
	for (unsigned bb = *b + 1; !s && bb < MSPAN_BUCKETS; bb++) {
		if (mheap_.spanalloc[bb].list) {
			s = fixalloc_alloc(&mheap_.spanalloc[bb], false);
			*b = bb;
		}
	}
	return s;
}

/* The heap has no free run and cannot grow (an address-space limit, say):
 * spans emptied by frees may still be listed centrally, waiting for the
 * scavenger's reclaim pass, so that pass runs now (after the one the
 * scavenger may be running, which holds the lists it sweeps), and runs
 * the scavenger holds while it releases them come back.  True when it is
 * worth one more try.  Manual spans only, and not for the late cache,
 * whose lock comes after reclaim_lock in the runtime's lock order. */
static bool reclaim_for_room(unsigned kind)
{
	if (kind != SPAN_MANUAL || mcache_in_late_alloc())
		return false;
	reclaim_central_spans(false);
	scavenge_wait_releases();
	return true;
}

/* pages_alloc_locked, tried once more after reclaim_for_room (which runs
 * with the lock dropped) when it fails.  Lock held on entry and exit. */
static uintptr_t pages_alloc_or_reclaim_locked(uintptr_t npages, uintptr_t *scav, unsigned kind)
{
	uintptr_t base = pages_alloc_locked(npages, scav);
	if (likely(base))
		return base;
	mutex_unlock(&mheap_.lock);
	bool again = reclaim_for_room(kind);
	mutex_lock(&mheap_.lock);
	return again ? pages_alloc_locked(npages, scav) : 0;
}

mspan *mheap_alloc_span(uintptr_t npages, unsigned sizeclass, unsigned spanclass, unsigned kind)
{
	uint32_t nelems = sizeclass ? span_nelems(sizeclass, npages) : 1;
	unsigned b = bucket_for(nelems);
	uintptr_t scav = 0;
	if (kind == SPAN_MANUAL)
		heapprofile_gate_poll();
	mutex_lock(&mheap_.lock);
	uintptr_t base = pages_alloc_or_reclaim_locked(npages, &scav, kind);
	if (unlikely(!base)) {
		mutex_unlock(&mheap_.lock);
		return NULL;
	}
	mspan *s = span_record_locked(&b);
	if (unlikely(!s)) { /* no memory for the record: as good as no pages */
		pagealloc_free(&mheap_.pages, base, npages);
		mutex_unlock(&mheap_.lock);
		return NULL;
	}
	mheap_.spans_inuse[sizeclass]++;
	mheap_.slots_inuse[sizeclass] += nelems;
	uintptr_t over = limit_overage_locked();
	mutex_unlock(&mheap_.lock);
	if (unlikely(over))
		scavenge(over, true);
	scavenger_kick(); /* once the heap has given memory back */
	s->bucket = (uint8_t)b;
	/* Released pages read as zero only when they went back with DONTNEED. */
	bool zeroed = scav == npages && load_relaxed(&debug.madvdontneed);
	return span_publish(s, base, npages, sizeclass, spanclass, kind, zeroed);
}

mspan *mheap_alloc_span_aligned(uintptr_t npages, uintptr_t align_bytes, unsigned kind)
{
	GORT_ASSERT(1, is_pow2(align_bytes) && align_bytes >= PAGE_BYTES);
	uintptr_t extra = align_bytes / PAGE_BYTES - 1, scav = 0;
	if (kind == SPAN_MANUAL)
		heapprofile_gate_poll();
	mutex_lock(&mheap_.lock);
	uintptr_t base = pages_alloc_or_reclaim_locked(npages + extra, &scav, kind);
	if (unlikely(!base)) {
		mutex_unlock(&mheap_.lock);
		return NULL;
	}
	/* Give back the pages before and after the aligned run. */
	uintptr_t aligned = align_up(base, align_bytes);
	uintptr_t head = (aligned - base) / PAGE_BYTES, tail = extra - head;
	if (head)
		pagealloc_free(&mheap_.pages, base, head);
	if (tail)
		pagealloc_free(&mheap_.pages, aligned + npages * PAGE_BYTES, tail);
	unsigned b = 0;
	mspan *s = span_record_locked(&b);
	if (unlikely(!s)) {
		pagealloc_free(&mheap_.pages, aligned, npages);
		mutex_unlock(&mheap_.lock);
		return NULL;
	}
	mheap_.spans_inuse[0]++;
	mheap_.slots_inuse[0]++;
	uintptr_t over = limit_overage_locked();
	mutex_unlock(&mheap_.lock);
	if (unlikely(over))
		scavenge(over, true);
	scavenger_kick();
	s->bucket = (uint8_t)b;
	return span_publish(s, aligned, npages, 0, kind == SPAN_MANUAL ? 1 : 0, kind,
			    scav == npages + extra && load_relaxed(&debug.madvdontneed));
}

/* Heap lock held.  Frees pages, as released if the caller has just given
 * them back to the kernel. */
static void pages_free_locked(uintptr_t base, uintptr_t npages, bool released)
{
	if (released)
		pagealloc_scavenge_done(&mheap_.pages, base, npages);
	else
		pagealloc_free(&mheap_.pages, base, npages);
	scavenger_note_free_locked();
}

void mheap_free_span(mspan *s)
{
	/* Unpublish first: lock-free readers that still reach this record
	 * through a stale page map entry see a dead span.  where = 0 keeps a
	 * late FULL->PARTIAL CAS from reviving the recycled record. */
	store_seqcst(&s->where, 0);
	store_release(&s->state, MSPAN_DEAD);
	/* A huge block of the manual heap goes back to the kernel at once, as
	 * glibc, jemalloc and mimalloc return blocks this size: the background
	 * scavenger, paced at 1% CPU, would take seconds over it.  Its pages
	 * are still in use for the page allocator, so nobody can take them
	 * while the lock is not held. */
	bool release = s->npages >= HUGE_RELEASE_PAGES && s->kind == SPAN_MANUAL;
	if (release)
		os_unused((void *)s->base, s->npages * PAGE_BYTES, load_relaxed(&debug.madvdontneed));
	mutex_lock(&mheap_.lock);
	pages_free_locked(s->base, s->npages, release);
	mheap_.spans_inuse[s->sizeclass]--;
	mheap_.slots_inuse[s->sizeclass] -= s->nelems;
	fixalloc_free(&mheap_.spanalloc[s->bucket], s);
	mutex_unlock(&mheap_.lock);
}

bool mheap_grow_large(mspan *s, uintptr_t npages)
{
	GORT_ASSERT(1, s->sizeclass == 0 && s->kind == SPAN_MANUAL && npages > s->npages);
	uintptr_t end = s->base + s->npages * PAGE_BYTES, extra = npages - s->npages, scav;
	mutex_lock(&mheap_.lock);
	bool ok = pagealloc_alloc_range(&mheap_.pages, end, extra, &scav);
	/* A span that ends the heap grows it: the next arena is reserved right
	 * after the last when the address space allows (arena.c), so a buffer
	 * grown by realloc is not copied at every arena boundary. */
	if (!ok && end == mheap_.pages.end && mheap_grow_locked(extra))
		ok = pagealloc_alloc_range(&mheap_.pages, end, extra, &scav);
	uintptr_t over = ok ? limit_overage_locked() : 0;
	mutex_unlock(&mheap_.lock);
	if (!ok)
		return false;
	/* The span is its caller's object: nobody else reads these fields
	 * but a program's stray free, which finds the object's base either
	 * way. */
	s->npages = npages;
	s->elemsize = npages * PAGE_BYTES;
	s->limit = s->base + s->elemsize;
	arena_set_span_pages(s, end, s->limit);
	fetch_add_relaxed(&mheap_.large_alloc_bytes, extra * PAGE_BYTES);
	if (unlikely(over))
		scavenge(over, true);
	return true;
}

void mheap_shrink_large(mspan *s, uintptr_t npages)
{
	GORT_ASSERT(1, s->sizeclass == 0 && s->kind == SPAN_MANUAL && npages >= 1 && npages < s->npages);
	uintptr_t tail = s->base + npages * PAGE_BYTES, n = s->npages - npages;
	s->npages = npages;
	s->elemsize = npages * PAGE_BYTES;
	s->limit = s->base + s->elemsize;
	/* The tail's page map entries still name s, whose limit now excludes
	 * them, until a span that takes those pages overwrites them. */
	bool release = n >= HUGE_RELEASE_PAGES;
	if (release)
		os_unused((void *)tail, n * PAGE_BYTES, load_relaxed(&debug.madvdontneed));
	fetch_add_relaxed(&mheap_.large_free_bytes, n * PAGE_BYTES);
	mutex_lock(&mheap_.lock);
	pages_free_locked(tail, n, release);
	mutex_unlock(&mheap_.lock);
}

void mheap_class_slots(uint64_t slots[NUM_SIZE_CLASSES])
{
	mutex_lock(&mheap_.lock);
	for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++)
		slots[c] = mheap_.slots_inuse[c];
	mutex_unlock(&mheap_.lock);
}

void mheap_page_counts(uintptr_t *inuse, uintptr_t *idle, uintptr_t *released)
{
	mutex_lock(&mheap_.lock);
	uintptr_t total = pagealloc_total_pages(&mheap_.pages);
	uintptr_t free = pagealloc_free_pages(&mheap_.pages);
	uintptr_t scav = pagealloc_scavenged_pages(&mheap_.pages);
	free += scavenge_releasing(); /* free pages, held while released */
	mutex_unlock(&mheap_.lock);
	*inuse = total - free;
	*idle = free - scav;
	*released = scav;
}
