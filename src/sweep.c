/*
 * sweep.c: the collected heap's central lists and sweeping (Go's
 * mcentral.go for GC spans and mgcsweep.go).
 *
 * Sweeping a span turns its mark bits into its allocation bits: what the
 * last mark did not reach is free again, all at once, without touching the
 * objects (unless GORTDEBUG=gcpoison=1 asks for them to be overwritten).
 * An empty span goes back to the page heap; a large object is freed as soon
 * as its span is swept unmarked.
 *
 * Each GC central keeps its spans on four LIFO lists, two per sweep state,
 * chosen by the parity of gc.sweepgen (Go's partial/full swept/unswept
 * sets): a cycle flips the parity with the world stopped, so every span
 * becomes unswept in O(1).  A span is swept by whoever pops it off an
 * unswept list: an allocating thread that needs a span of that class
 * (lazy sweeping, in mcache refill), the background sweeper, or the next
 * cycle's sweep_finish.  Popping is under the central's spinlock; the
 * sweep itself runs on a span nobody else can reach.  All of it is inside
 * critical sections, so a stop-the-world never finds a sweep half done.
 */
#include "mgc.h"
#include "arena.h"
#include "atomic.h"
#include "check.h"
#include "crit.h"
#include "debugvars.h"
#include "mcache.h"
#include "mcentral.h"
#include "mheap.h"
#include "mprof.h"
#include "sizeclass.h"
#include "thread.h"

#include <errno.h>
#include <semaphore.h>
#include <string.h>

static unsigned sweep_hint; /* atomic: first span class that may have unswept spans */
static sem_t sweeper_sem;
static bool sweeper_started;
static pthread_mutex_t sweeper_start_lock = PTHREAD_MUTEX_INITIALIZER;

GORT_INLINE unsigned swept_index(uint32_t sg)
{
	return (sg >> 1) & 1;
}

static void push(mspan **list, mspan *s)
{
	s->next = *list;
	store_relaxed(list, s); /* read unlocked by sweep_pending's peek */
}

static mspan *pop(mspan **list)
{
	mspan *s = *list;
	if (s)
		store_relaxed(list, s->next);
	return s;
}

/* Poisons the dead objects of word w (GORTDEBUG=gcpoison=1). */
static void poison(mspan *s, unsigned w, uint64_t dead)
{
	while (dead) {
		unsigned b = ctz64(dead);
		dead &= dead - 1;
		uintptr_t obj = s->base + (uintptr_t)(w * 64 + b) * s->elemsize;
		memset((void *)obj, 0xde, s->elemsize);
	}
}

/* Tells the profiler about the dead objects of word w of a span that may
 * hold sampled objects. */
static GORT_NOINLINE void unprofile(mspan *s, unsigned w, uint64_t dead)
{
	while (dead) {
		unsigned b = ctz64(dead);
		dead &= dead - 1;
		mprof_free_gc(s->base + (uintptr_t)(w * 64 + b) * s->elemsize);
	}
}

/* Sweeps small span s, held exclusively; returns its live objects. */
static uint32_t sweep_small(mspan *s, uint32_t sg)
{
	GORT_ASSERT(1, s->sweepgen == sg - 2);
	uint32_t n = s->nelems, live = 0, dead = 0;
	bool poisoning = debug.gcpoison;
	for (unsigned w = 0; w < s->nwords; w++) {
		uint64_t mask = n >= w * 64 + 64 ? ~(uint64_t)0 : ((uint64_t)1 << (n - w * 64)) - 1;
		uint64_t alloc = span_alloc_word(s, w) & mask;
		uint64_t mark = load_relaxed(&span_mark_word(s, w)) & mask;
		uint64_t gone = alloc & ~mark;
		if (unlikely(mark & ~alloc))
			gort_throw_addr("sweep: marked object was free in span", s->base);
		if (gone) {
			dead += popcount64(gone);
			if (unlikely(load_relaxed(&s->profiled)))
				unprofile(s, w, gone);
			if (poisoning)
				poison(s, w, gone);
		}
		span_alloc_word(s, w) = mark;
		store_relaxed(&span_mark_word(s, w), 0);
		store_relaxed(&span_checkmark_word(s, w), 0);
		live += popcount64(mark);
	}
	s->alloc_count = live;
	s->freeindex = 0;
	s->alloc_cache = ~span_alloc_word(s, 0);
	if (dead) {
		s->needzero = 1;
		fetch_add_relaxed(&gc.nfree[s->sizeclass], dead);
	}
	store_release(&s->sweepgen, sg);
	return live;
}

static void sweep_large(mspan *s, uint32_t sg)
{
	GORT_ASSERT(1, s->sweepgen == sg - 2);
	if (load_relaxed(&span_mark_word(s, 0)) & 1) {
		store_relaxed(&span_mark_word(s, 0), 0);
		store_relaxed(&span_checkmark_word(s, 0), 0);
		store_release(&s->sweepgen, sg);
		spin_lock(&gc.largelock);
		push(&gc.large[swept_index(sg)], s);
		spin_unlock(&gc.largelock);
		return;
	}
	if (unlikely(load_relaxed(&s->profiled)))
		mprof_free_gc(s->base);
	fetch_add_relaxed(&gc.nfree[0], 1);
	fetch_add_relaxed(&gc.large_free_bytes, s->elemsize);
	if (debug.gcpoison)
		memset((void *)s->base, 0xde, s->elemsize);
	mheap_free_span(s);
}

/* Where a swept small span goes. */
static void place(mcentral *c, mspan *s, uint32_t live, uint32_t sg)
{
	if (live == 0) {
		mheap_free_span(s);
		return;
	}
	unsigned k = swept_index(sg);
	spin_lock(&c->lock);
	push(live < s->nelems ? &c->gcpartial[k] : &c->gcfull[k], s);
	spin_unlock(&c->lock);
}

bool sweep_one(void)
{
	crit_enter();
	uint32_t sg = load_relaxed(&gc.sweepgen);
	unsigned u = swept_index(sg) ^ 1;
	spin_lock(&gc.largelock);
	mspan *s = pop(&gc.large[u]);
	spin_unlock(&gc.largelock);
	if (s) {
		sweep_large(s, sg);
		crit_exit();
		return true;
	}
	for (unsigned i = load_relaxed(&sweep_hint); i < NUM_SPAN_CLASSES; i++) {
		mcentral *c = &mheap_.central_gc[i];
		if (!load_relaxed(&c->gcpartial[u]) && !load_relaxed(&c->gcfull[u])) {
			/* Nothing is ever added to an unswept list mid-cycle. */
			if (load_relaxed(&sweep_hint) == i)
				store_relaxed(&sweep_hint, i + 1);
			continue;
		}
		spin_lock(&c->lock);
		s = pop(&c->gcfull[u]);
		if (!s)
			s = pop(&c->gcpartial[u]);
		spin_unlock(&c->lock);
		if (s) {
			place(c, s, sweep_small(s, sg), sg);
			crit_exit();
			return true;
		}
	}
	crit_exit();
	return false;
}

void sweep_finish(void)
{
	while (sweep_one())
		;
}

void sweep_start_cycle(void)
{
	/* World stopped, everything swept: the swept lists become the
	 * unswept ones. */
	store_relaxed(&gc.sweepgen, gc.sweepgen + 2);
	store_relaxed(&sweep_hint, 0);
}

void sweep_for_each_span(void (*fn)(mspan *s, void *arg), void *arg)
{
	unsigned k = swept_index(gc.sweepgen);
	for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++) {
		mcentral *c = &mheap_.central_gc[i];
		for (mspan *s = c->gcpartial[k]; s; s = s->next)
			fn(s, arg);
		for (mspan *s = c->gcfull[k]; s; s = s->next)
			fn(s, arg);
	}
	for (mspan *s = gc.large[k]; s; s = s->next)
		fn(s, arg);
}

mspan *gc_cache_span(mcentral *c, mcache *owner)
{
	uint32_t sg = load_relaxed(&gc.sweepgen);
	unsigned k = swept_index(sg), u = k ^ 1;
	mspan *s;
	for (;;) {
		spin_lock(&c->lock);
		s = pop(&c->gcpartial[k]);
		if (s) {
			spin_unlock(&c->lock);
			break;
		}
		/* Sweep before growing: partly free spans first. */
		s = pop(&c->gcpartial[u]);
		if (!s)
			s = pop(&c->gcfull[u]);
		spin_unlock(&c->lock);
		if (!s)
			break;
		uint32_t live = sweep_small(s, sg);
		if (live < s->nelems)
			break;
		place(c, s, live, sg);
		s = NULL;
	}
	if (!s) {
		unsigned spc = mcentral_gc_spanclass(c), cls = spc >> 1;
		s = mheap_alloc_span(class_to_allocnpages[cls], cls, spc, SPAN_GC);
		if (!s)
			return NULL;
		s->central = c;
		s->sweepgen = sg;
		s->heapbits = NULL;
		uintptr_t last = s->base + s->npages * PAGE_BYTES - 1;
		if (!(s->spanclass & 1) && ((s->base ^ last) >> ARENA_SHIFT) == 0)
			s->heapbits = &arena_of(s->base)->heapbits[((s->base & (ARENA_BYTES - 1)) >> 3) >> 6];
	}
	if (unlikely(s->sweepgen != sg))
		gort_throw_addr("runtime: caching an unswept span", s->base);
	s->freeindex = 0;
	s->alloc_cache = ~span_alloc_word(s, 0);
	store_relaxed(&s->owner, owner);
	store_relaxed(&s->where, SPAN_CACHED);
	/* Charge the span's free slots now (Go's heapLive): the cache will
	 * fill them without telling anyone. */
	fetch_add_relaxed(&gc.heap_live, (int64_t)((s->nelems - s->alloc_count) * s->elemsize));
	return s;
}

void gc_uncache_span(mspan *s)
{
	uint32_t fi = s->freeindex, n = s->nelems, count = 0;
	for (unsigned w = 0; w < s->nwords; w++) {
		uint32_t lo = w * 64;
		uint64_t a = span_alloc_word(s, w);
		if (fi >= lo + 64)
			a = ~(uint64_t)0;
		else if (fi > lo)
			a |= ((uint64_t)1 << (fi - lo)) - 1;
		if (n < lo + 64)
			a &= ((uint64_t)1 << (n - lo)) - 1;
		span_alloc_word(s, w) = a;
		count += popcount64(a);
	}
	fetch_add_relaxed(&gc.heap_live, -(int64_t)((n - count) * s->elemsize));
	s->alloc_count = count;
	s->freeindex = 0;
	s->alloc_cache = 0;
	store_relaxed(&s->owner, NULL);
	store_relaxed(&s->where, SPAN_PARTIAL);
	mcentral *c = s->central;
	unsigned k = swept_index(gc.sweepgen);
	spin_lock(&c->lock);
	push(count < n ? &c->gcpartial[k] : &c->gcfull[k], s);
	spin_unlock(&c->lock);
}

void gc_large_add(mspan *s)
{
	uint32_t sg = load_relaxed(&gc.sweepgen);
	s->sweepgen = sg;
	spin_lock(&gc.largelock);
	push(&gc.large[swept_index(sg)], s);
	spin_unlock(&gc.largelock);
}

/* --- The background sweeper: a registered thread (so that a cycle
 * stops it), sweeping whatever the allocators have not. */

static void *sweeper_main(void *arg)
{
	(void)arg;
	thread_register_runtime();
	for (;;) {
		thread_idle_wait(&sweeper_sem);
		unsigned n = 0;
		while (sweep_one())
			if ((++n & 63) == 0)
				sched_yield(); /* let mutators at the CPU */
		pacer_enforce_limit();
	}
	return NULL;
}

void sweeper_wake(void)
{
	if (!load_acquire(&sweeper_started)) {
		mutex_lock(&sweeper_start_lock);
		if (!sweeper_started) {
			sem_init(&sweeper_sem, 0, 0);
			pthread_t t;
			if (thread_create_internal(&t, sweeper_main, NULL) == 0) {
				pthread_detach(t);
				store_release(&sweeper_started, true);
			}
		}
		mutex_unlock(&sweeper_start_lock);
		if (!load_acquire(&sweeper_started))
			return; /* no thread: sweeping stays lazy */
	}
	int v = 0;
	sem_getvalue(&sweeper_sem, &v);
	if (v == 0)
		sem_post(&sweeper_sem);
}

void sweep_fork_lock(void)
{
	spin_lock(&gc.largelock);
}

void sweep_fork_unlock(void)
{
	spin_unlock(&gc.largelock);
}

void sweep_fork_child(void)
{
	sweeper_started = false; /* the thread stayed in the parent */
}
