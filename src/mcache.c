/*
 * mcache.c: per-thread caches (see mcache.h).
 *
 * cache_lock guards the list of all caches, the cache fixalloc and the
 * totals of dead threads; it is a leaf except for persistent_lock.
 * late_lock (the late cache of exiting threads) comes before every other
 * lock: it is held across a refill.
 * Thread exit is caught with a pthread key destructor.
 * The one thread that touches other threads' caches without them is the
 * scavenger, in mcache_release_idle_kept: it reads their kept lists under
 * cache_lock, and may release a kept span's pages only while the span is
 * open (reclaim) and marked busy; an owner claims a kept span back before
 * it takes it off its list (kept_claim), and waits out a busy one.
 */
#include "crit.h"
#include "mcache.h"
#include "mprof.h"
#include "check.h"
#include "fixalloc.h"
#include "mheap.h"
#include "mgc.h"
#include "scavenge.h"
#include "debugvars.h"
#include "os.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>

__thread mcache *mcache_tls __attribute__((tls_model("initial-exec"))) = &mcache_empty;
mspan mspan_empty; /* alloc_cache 0, nelems 0: every fast path misses */
mcache mcache_empty = {
	.manual = {[0 ... NUM_SIZE_CLASSES - 1] = &mspan_empty},
	.alloc = {[0 ... NUM_SPAN_CLASSES - 1] = &mspan_empty},
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static fixalloc cachealloc;
static mcache *allcaches;
static uint64_t dead_nmalloc[NUM_SIZE_CLASSES], dead_nfree[NUM_SIZE_CLASSES], dead_tiny;
static uint64_t orphan_nfree[NUM_SIZE_CLASSES]; /* atomic */
static pthread_key_t cache_key;

static void mcache_destroy(void *arg);

static void mcache_reset(mcache *c)
{
	for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++)
		c->manual[i] = &mspan_empty;
	for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++)
		c->alloc[i] = &mspan_empty;
	for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++) {
		c->kept[i] = NULL;
		c->nkept[i] = 0;
	}
	c->tiny = c->tinyoffset = 0;
}

void mcache_global_init(void)
{
	fixalloc_init(&cachealloc, sizeof(mcache));
	if (pthread_key_create(&cache_key, mcache_destroy) != 0)
		gort_throw("runtime: pthread_key_create failed");
}

/* A new cache on the list of all caches. */
static mcache *cache_new(void)
{
	mheap_init();
	mutex_lock(&cache_lock);
	mcache *c = fixalloc_alloc(&cachealloc, true);
	c->allnext = allcaches;
	if (allcaches)
		allcaches->allprev = c;
	allcaches = c;
	mutex_unlock(&cache_lock);
	mcache_reset(c);
	store_relaxed(&c->next_sample, mprof_next_sample());
	return c;
}

mcache *mcache_self(void)
{
	mcache *c = mcache_tls;
	if (c != &mcache_empty)
		return c;
	c = cache_new();
	mcache_tls = c;
	pthread_setspecific(cache_key, c);
	return c;
}

/*
 * After its cache's destructor has run, an exiting thread may still
 * allocate: in key destructors that run after ours, or while ours starts
 * the scavenger.  A cache made then would need another destructor round,
 * which the last round does not get (it would be lost with its spans), so
 * those allocations share one late cache under a lock instead.  Nobody
 * owns its spans as a thread: every free into them is a remote free.
 */
static __thread bool cache_gone __attribute__((tls_model("initial-exec")));
static __thread bool in_late __attribute__((tls_model("initial-exec")));
static __thread bool borrowing __attribute__((tls_model("initial-exec")));
static pthread_mutex_t late_lock = PTHREAD_MUTEX_INITIALIZER;
static mcache *late_cache;

bool mcache_use_late(void)
{
	return cache_gone || borrowing;
}

void mcache_borrow_late(bool on)
{
	borrowing = on;
}

bool mcache_in_late_alloc(void)
{
	return in_late;
}

void *mcache_alloc_late(unsigned cls, size_t size, bool zero)
{
	mutex_lock(&late_lock);
	in_late = true;
	if (!late_cache)
		late_cache = cache_new();
	mcache *c = late_cache;
	mspan **slot = &c->manual[cls];
	void *p = mspan_next_free_fast(*slot);
	if (!p)
		p = mcache_refill(c, slot, &mheap_.central_manual[cls]);
	if (p) {
		owner_add(&c->nmalloc[cls], 1);
		if (zero && (*slot)->needzero)
			memset(p, 0, size);
	}
	in_late = false;
	mutex_unlock(&late_lock);
	return p;
}

/* The kept lists (see mcache.h): circular, linked through next/prev. */
static void kept_link(mcache *c, unsigned cls, mspan *s, bool front)
{
	mspan *h = c->kept[cls];
	if (!h) {
		s->next = s->prev = s;
		c->kept[cls] = s;
	} else {
		s->next = h;
		s->prev = h->prev;
		h->prev->next = s;
		h->prev = s;
		if (front)
			c->kept[cls] = s;
	}
}

static void kept_unlink(mcache *c, unsigned cls, mspan *s)
{
	if (s->next == s) {
		c->kept[cls] = NULL;
	} else {
		s->prev->next = s->next;
		s->next->prev = s->prev;
		if (c->kept[cls] == s)
			c->kept[cls] = s->next;
	}
	s->next = s->prev = NULL;
}

/* A sweep by the owner found nfreed objects freed, local of them by the
 * owner: whether the class's objects are mostly freed by other threads (a
 * producer's), for the next span the owner fills.  A few frees either way
 * decide nothing. */
static void note_freers(mcache *c, unsigned cls, uint32_t local, uint32_t nfreed)
{
	uint32_t remote = nfreed - local;
	if (remote >= 4 && remote > 2 * local)
		c->remote_freed[cls] = 1;
	else if (local >= 4 && local > 2 * remote)
		c->remote_freed[cls] = 0;
}

/* Other threads' frees into s since its last sweep. */
static uint32_t remote_frees_words(const mspan *s)
{
	uint32_t n = 0;
	for (unsigned w = 0; w < s->nwords; w++) {
		uint64_t r = load_relaxed(&span_remote_word(s, w));
		if (r) /* mostly none */
			n += popcount64(r);
	}
	return n;
}

GORT_INLINE uint32_t remote_frees(const mspan *s)
{
	if (s->nwords == 1) {
		uint64_t r = load_relaxed(&span_remote_word(s, 0));
		return r ? popcount64(r) : 0;
	}
	return remote_frees_words(s);
}

/* The first free slot of s, just swept (or taken from central) with one
 * free at least: the fast path's step, else the general one. */
GORT_INLINE void *first_free(mspan *s)
{
	void *p = mspan_next_free_fast(s);
	if (likely(p))
		return p;
	uint32_t idx = mspan_next_free_index(s);
	GORT_ASSERT(1, idx < s->nelems);
	return (void *)(s->base + (uintptr_t)idx * s->elemsize);
}

/* Objects of s live at its last sweep, plus those handed out since: all
 * of them in a span kept when it ran dry, unswept (freeindex at the end),
 * none in one kept just after a sweep. */
static uint32_t kept_base(const mspan *s)
{
	return s->freeindex >= s->nelems ? s->nelems : s->alloc_count;
}

/* Keeps s, with nfree < span_reuse_min slots free (counting the frees of
 * nlocal and other threads' since its last sweep, if it is unswept). */
static void keep_span(mcache *c, unsigned cls, mspan *s, uint32_t nfree)
{
	s->kept_ready = 0;
	s->trigger = (uint16_t)(s->nlocal + span_reuse_min(s->nelems) - nfree);
	kept_link(c, cls, s, false);
	c->nkept[cls]++;
	store_release(&s->reclaim, SPAN_RECLAIM_OPEN);
}

/* Takes kept span s back from the scavenger's reach before it leaves the
 * kept list, waiting out a release of its pages in progress (one madvise).
 * Pages the scavenger released read as zero (or, under MADV_FREE, as they
 * were): the span stays needzero either way, as it has had objects.
 * A Dekker pair with mcache_release_idle_kept: the owner stores reclaim
 * then loads busy, the scavenger stores busy then loads reclaim, so at
 * least one of them sees the other.  The scavenger's membarrier stands in
 * for the owner's fence (a locked instruction here cost livechurn 6-9% of
 * its time); under ThreadSanitizer, which cannot see it, both sides use
 * sequentially consistent accesses. */
static GORT_NOINLINE __attribute__((cold)) void kept_wait(const mspan *s)
{
	for (unsigned spins = 0; load_acquire(&s->busy); spins++)
		spins < 64 ? cpu_relax() : (void)sched_yield();
}

GORT_INLINE void kept_claim(mspan *s)
{
#ifdef GORT_TSAN
	store_seqcst(&s->reclaim, SPAN_RECLAIM_HELD);
	if (unlikely(load_seqcst(&s->busy)))
#else
	store_relaxed(&s->reclaim, SPAN_RECLAIM_HELD);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (unlikely(load_acquire(&s->busy)))
#endif
		kept_wait(s);
	if (unlikely(s->released))
		s->released = 0;
}

/* Free slots in kept span s, counting frees not yet swept: the owner's
 * (nlocal) and other threads' (their bits, read without sweeping). */
static uint32_t kept_free_slots(const mspan *s)
{
	return s->nelems - kept_base(s) + s->nlocal + remote_frees(s);
}

/* A kept span to allocate from, swept: the first if it is ready, else the
 * first of the oldest KEPT_SCAN that other threads' frees have made worth
 * reusing.  When none is, the first goes to the back, so that spans behind
 * one whose objects live long are looked at too.  just: the span the
 * caller has just kept. */
#define KEPT_SCAN 4
static mspan *kept_take(mcache *c, unsigned cls, mspan *just)
{
	mspan *h = c->kept[cls], *s = h;
	if (!s || s == just)
		return NULL;
	if (!s->kept_ready) {
		unsigned i = 0;
		while (kept_free_slots(s) < span_reuse_min(s->nelems)) {
			s = s->next;
			if (++i == KEPT_SCAN || s == h || s == just) {
				c->kept[cls] = h->next; /* circular: h is now the last */
				return NULL;
			}
		}
	}
	kept_claim(s);
	kept_unlink(c, cls, s);
	c->nkept[cls]--;
	uint32_t nfreed, local = s->nlocal;
	mspan_sweep(s, &nfreed);
	note_freers(c, cls, local, nfreed);
	return s;
}

/* Kept span s is empty: to the central list (out of line, so that the
 * common case of mcache_kept_free saves no registers). */
static GORT_NOINLINE void give_back_kept(mcache *c, unsigned cls, mspan *s)
{
	kept_claim(s);
	kept_unlink(c, cls, s);
	c->nkept[cls]--;
	uint32_t nfreed;
	mspan_sweep(s, &nfreed);
	mcentral_uncache_span(&mheap_.central_manual[cls], s);
	scavenger_kick(); /* the first span given back starts the scavenger */
}

void mcache_kept_free(mcache *c, mspan *s)
{
	unsigned cls = s->sizeclass;
	if (!s->kept_ready) {
		s->kept_ready = 1;
		kept_unlink(c, cls, s);
		kept_link(c, cls, s, true);
		if (s->nlocal < kept_base(s)) {
			s->trigger = (uint16_t)kept_base(s); /* next: empty */
			return;
		}
	}
	/* Every object live at the last sweep or handed out since has been
	 * freed by the owner.  An empty span serves any thread as well as
	 * this one: give it back, unless it is the last the class keeps. */
	s->trigger = 0;
	if (c->nkept[cls] <= 1)
		return;
	give_back_kept(c, cls, s);
}

void *mcache_refill(mcache *c, mspan **slot, mcentral *central)
{
	unsigned cls = mcentral_manual_class(central);
	mspan *s = *slot, *just = NULL;
	if (s != &mspan_empty) {
		/* A span of one bitmap word is dry when the fast path fails (its
		 * cache covers every slot; what is left are bits past nelems):
		 * mark it so, as mspan_next_free_index would.  A longer one may
		 * only have run out of cache at a 64-slot boundary. */
		uint32_t idx = s->nelems;
		if (s->nwords == 1) {
			GORT_ASSERT(2, s->freeindex >= s->nelems ||
					       !(s->alloc_cache & (s->nelems - s->freeindex >= 64
									   ? ~(uint64_t)0
									   : ((uint64_t)1 << (s->nelems - s->freeindex)) - 1)));
			s->alloc_cache = 0;
			store_relaxed(&s->freeindex, s->nelems);
		} else if (s->freeindex < s->nelems) {
			idx = mspan_next_free_index(s);
		}
		if (idx < s->nelems)
			return (void *)(s->base + (uintptr_t)idx * s->elemsize);
		/* Out of slots, every one handed out since the last sweep: the
		 * frees since are all the free slots there are.  Enough of them,
		 * and the span is swept in place: reusing it keeps a thread that
		 * frees what it allocates on the same, cache-hot memory.  Too
		 * few, and it is kept unswept (a sweep would find nothing to
		 * use). */
		uint32_t local = s->nlocal, nfree = local + remote_frees(s), nfreed;
		note_freers(c, cls, local, nfree);
		if (nfree >= span_reuse_min(s->nelems)) {
			mspan_sweep(s, &nfreed);
			return first_free(s);
		}
		*slot = &mspan_empty;
		if (c->remote_freed[cls]) {
			/* Other threads free this class's objects: a span parked
			 * FULL is revived by their frees, where a kept one would
			 * wait for this thread to look. */
			mspan_sweep(s, &nfreed);
			mcentral_uncache_span(central, s);
			scavenger_kick();
		} else {
			keep_span(c, cls, s, nfree);
			just = s;
		}
	}
	s = kept_take(c, cls, just);
	if (!s)
		s = mcentral_cache_span(central, c);
	if (!s)
		return NULL;
	s->trigger = 0;
	s->kept_ready = 0;
	*slot = s;
	return first_free(s);
}

void *mcache_refill_gc(mcache *c, unsigned spc)
{
	mspan *s = c->alloc[spc];
	if (s != &mspan_empty) {
		/* Not yet dry: the cache ran out at a 64-slot boundary. */
		uint32_t idx = s->freeindex < s->nelems ? mspan_next_free_index(s) : s->nelems;
		if (idx < s->nelems)
			return (void *)(s->base + (uintptr_t)idx * s->elemsize);
		c->alloc[spc] = &mspan_empty;
		gc_uncache_span(s);
	}
	s = gc_cache_span(&mheap_.central_gc[spc], c);
	if (!s)
		return NULL;
	c->alloc[spc] = s;
	uint32_t idx = mspan_next_free_index(s);
	GORT_ASSERT(1, idx < s->nelems);
	return (void *)(s->base + (uintptr_t)idx * s->elemsize);
}

void mcache_release_gc_locked(mcache *c)
{
	for (unsigned i = 2; i < NUM_SPAN_CLASSES; i++) {
		mspan *s = c->alloc[i];
		if (s != &mspan_empty) {
			c->alloc[i] = &mspan_empty;
			gc_uncache_span(s);
		}
	}
	/* The tiny block may be collected once the objects in it die. */
	c->tiny = c->tinyoffset = 0;
}

void mcache_release_gc_self(void)
{
	mcache *c = mcache_tls;
	if (c == &mcache_empty)
		return;
	mutex_lock(&cache_lock);
	mcache_release_gc_locked(c);
	mutex_unlock(&cache_lock);
}

void mcache_flush_gc_all(void)
{
	mutex_lock(&cache_lock);
	for (mcache *c = allcaches; c; c = c->allnext)
		mcache_release_gc_locked(c);
	mutex_unlock(&cache_lock);
}

/*
 * Idle owners.  A thread that fills spans and then only waits (a main
 * thread that built what its workers free) would keep its spans, every
 * object in them freed by other threads, until it allocates again or exits.
 * The scavenger looks at the caches whose allocation count has not moved
 * since its previous pass, and releases the pages of their kept spans that
 * hold no live object, every object having been freed by another thread.
 * The span stays its owner's (record, list place, bitmaps: all out of band),
 * so the owner's paths take no lock: a span it has not claimed back
 * (kept_claim) is one it holds no object in, so it will neither free into
 * it nor allocate from it until it claims it.
 */
#ifdef GORT_TSAN
#define RACY_WALK __attribute__((no_sanitize("thread")))
#else
#define RACY_WALK
#endif

#define RELEASE_BATCH 256 /* kept spans looked at per cache and pass */

/* Kept spans of c that may hold no live object (at most max), read
 * without the owner's cooperation: its lists may change under the walk, and
 * a stale pointer leads to some span record (never unmapped), so each is
 * checked again once marked busy.  The walk never writes a list. */
static RACY_WALK unsigned release_candidates(const mcache *c, mspan **out, unsigned max)
{
	unsigned n = 0;
	for (unsigned cls = 1; cls < NUM_SIZE_CLASSES && n < max; cls++) {
		mspan *h = load_relaxed(&c->kept[cls]), *s = h;
		for (unsigned k = 0; s && k < RELEASE_BATCH && n < max; k++) {
			if (load_relaxed(&s->reclaim) == SPAN_RECLAIM_OPEN && !load_relaxed(&s->released) &&
			    load_relaxed(&s->nlocal) == 0 && s->kind == SPAN_MANUAL && s->sizeclass)
				out[n++] = s;
			s = load_relaxed(&s->next);
			if (s == h)
				break;
		}
	}
	return n;
}

/* Every object of kept span s (live at its last sweep, or handed out since)
 * freed by another thread, none by its owner. */
static bool freed_by_others(const mspan *s)
{
	if (load_relaxed(&s->nlocal) != 0)
		return false;
	for (unsigned w = 0; w < s->nwords; w++)
		if (load_relaxed(&span_local_word(s, w)) != 0)
			return false;
	return remote_frees(s) == kept_base(s);
}

uintptr_t mcache_release_idle_kept(bool all)
{
	mspan *cand[RELEASE_BATCH];
	unsigned n = 0;
	/* cache_lock for the walk only: holding it through the madvise calls
	 * would hold up every thread that starts or exits.  A cache that goes
	 * away meanwhile waits in kept_claim for its busy spans. */
	mutex_lock(&cache_lock);
	for (mcache *c = allcaches; c && n < RELEASE_BATCH; c = c->allnext) {
		uint64_t a = 0;
		for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++)
			a += load_relaxed(&c->nmalloc[i]);
		bool idle = a == c->scav_nmalloc;
		c->scav_nmalloc = a;
		if (idle || all)
			n += release_candidates(c, cand + n, RELEASE_BATCH - n);
	}
	mutex_unlock(&cache_lock);
	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		store_seqcst(&cand[i]->busy, 1);
#ifdef GORT_TSAN
	bool fenced = true; /* both sides' accesses are sequentially consistent */
#else
	bool fenced = os_membarrier();
#endif
	uintptr_t bytes = 0;
	for (unsigned i = 0; fenced && i < n; i++) {
		mspan *s = cand[i];
		/* Still open (its owner's writes before it opened it are ours to
		 * read), and its owner will wait for busy before it takes it
		 * back: no object in it can be allocated or freed meanwhile. */
		if (load_seqcst(&s->reclaim) == SPAN_RECLAIM_OPEN && !s->released && freed_by_others(s)) {
			uintptr_t b = s->npages * PAGE_BYTES;
			os_unused((void *)s->base, b, load_relaxed(&debug.madvdontneed));
			s->released = 1;
			bytes += b;
		}
	}
	/* Only now: the walk may have found a span twice, and its second look
	 * must be as protected as its first. */
	for (unsigned i = 0; i < n; i++)
		store_release(&cand[i]->busy, 0);
	return bytes;
}

/* A span its thread gives up (at exit, or in gort_free_os_memory).  One
 * left empty goes straight to the page heap, where any class can reuse its
 * pages: on a central list it would wait, resident and useless, for the
 * reclaim pass (seconds away, or never when no scavenger runs).  Both
 * callers are rare enough that the page heap's lock costs nothing. */
static void release_span(mspan *s, mcentral *central)
{
	uint32_t nfreed;
	mspan_sweep(s, &nfreed);
	if (s->alloc_count == 0)
		mheap_free_span(s);
	else
		mcentral_uncache_span(central, s);
}

static void release_slot(mspan **slot, mcentral *central)
{
	mspan *s = *slot;
	if (s == &mspan_empty)
		return;
	*slot = &mspan_empty;
	release_span(s, central);
}

void mcache_release_all(mcache *c)
{
	if (c == &mcache_empty)
		return;
	for (unsigned i = 1; i < NUM_SIZE_CLASSES; i++) {
		release_slot(&c->manual[i], &mheap_.central_manual[i]);
		while (c->kept[i]) {
			mspan *s = c->kept[i];
			kept_claim(s);
			kept_unlink(c, i, s);
			s->trigger = 0;
			release_span(s, &mheap_.central_manual[i]);
		}
		c->nkept[i] = 0;
	}
	mutex_lock(&cache_lock); /* against a collector flushing every cache */
	mcache_release_gc_locked(c);
	mutex_unlock(&cache_lock);
}

static void mcache_destroy(void *arg)
{
	mcache *c = arg;
	mcache_release_all(c);
	mcache_tls = &mcache_empty;
	mutex_lock(&cache_lock);
	for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++) {
		dead_nmalloc[i] += c->nmalloc[i];
		dead_nfree[i] += c->nfree[i];
	}
	dead_tiny += c->tiny_allocs;
	if (c->allprev)
		c->allprev->allnext = c->allnext;
	else
		allcaches = c->allnext;
	if (c->allnext)
		c->allnext->allprev = c->allprev;
	fixalloc_free(&cachealloc, c);
	mutex_unlock(&cache_lock);
	cache_gone = true;
	/* What other threads freed into our kept spans is free now, and the
	 * program may never allocate a span again to start the scavenger.
	 * Last: starting it allocates, and must not refill the cache above. */
	scavenger_kick();
}

void mcache_reset_samples(void)
{
	mutex_lock(&cache_lock);
	for (mcache *c = allcaches; c; c = c->allnext)
		store_relaxed(&c->next_sample, 0);
	mutex_unlock(&cache_lock);
}

void *mprof_sample(void *p, uintptr_t size, const char *type, bool collected, void *fp)
{
	if (!fp)
		fp = __builtin_frame_address(0); /* ENTRY_FRAME (malloc.h): it returns into the program */
	mcache *c = mcache_tls;
	store_relaxed(&c->next_sample, mprof_next_sample());
	if (load_relaxed(&mprof_rate) > 0)
		mprof_malloc(p, size, type, collected, fp);
	return p;
}

void *mprof_count_slow(void *p, uintptr_t size, const char *type, bool collected, void *fp)
{
	mcache *c = mcache_tls;
	if (c == &mcache_empty) {
		if (cache_gone || borrowing)
			return p; /* a late or borrowed allocation: no cache to count in */
		c = mcache_self();
	}
	if (c && mcache_sample_due(c, size))
		return mprof_sample(p, size, type, collected, fp);
	return p;
}

void mcache_fork_lock(void)
{
	mutex_lock(&late_lock);
	mutex_lock(&cache_lock);
}

void mcache_fork_unlock(void)
{
	mutex_unlock(&cache_lock);
	mutex_unlock(&late_lock);
}

void mcache_count_orphan_free(unsigned sizeclass)
{
	fetch_add_relaxed(&orphan_nfree[sizeclass], 1);
}

void mcache_sum_stats(uint64_t nmalloc[NUM_SIZE_CLASSES], uint64_t nfree[NUM_SIZE_CLASSES], uint64_t *tiny_allocs,
		      uintptr_t *inuse_bytes)
{
	uintptr_t ncaches = 0;
	mutex_lock(&cache_lock);
	uint64_t tiny = dead_tiny;
	for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++) {
		nmalloc[i] = dead_nmalloc[i];
		nfree[i] = dead_nfree[i] + load_relaxed(&orphan_nfree[i]);
	}
	for (mcache *c = allcaches; c; c = c->allnext) {
		for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++) {
			nmalloc[i] += load_relaxed(&c->nmalloc[i]);
			nfree[i] += load_relaxed(&c->nfree[i]);
		}
		tiny += load_relaxed(&c->tiny_allocs);
		ncaches++;
	}
	mutex_unlock(&cache_lock);
	*tiny_allocs = tiny;
	*inuse_bytes = ncaches * cachealloc.size;
}
