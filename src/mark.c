/*
 * mark.c: marking (Go's mgcmark.go): grey objects, scan them, drain the
 * work in parallel, and the checkmark verification.
 *
 * An object is white (mark bit clear), grey (mark bit set, on a work
 * buffer) or black (mark bit set, scanned).  A pointer is greyed only if it
 * falls inside an allocated object of the collected heap: interior
 * pointers keep their object, pointers to free slots, to the manual heap
 * or outside the heap are ignored.  Small scan objects are scanned where
 * their heap bits say a pointer may be; large objects describe themselves
 * (conservative, typed array, or noscan) and are scanned in oblets of
 * OBLET_BYTES so that one huge array is shared between markers.
 *
 * Mark bits are set with an atomic OR, so any number of markers (and, in
 * the concurrent collector to come, write barriers) may grey at once; the
 * OR's old value decides which one pushes the object.
 *
 * Termination: markers that run out of work count themselves idle (nwait);
 * marking is over when all are idle and no buffer is on the global list,
 * checked again after seeing everyone idle (an idle marker cannot publish).
 *
 * Scanning reads stacks, data segments and objects that sanitizers may
 * consider poisoned or racy (the world is stopped; other threads' stacks
 * hold redzones): the functions that read them are exempt from ASan/TSan.
 */
#include "mgc.h"
#include "arena.h"
#include "atomic.h"
#include "check.h"
#include "crit.h"
#include "gcwork.h"
#include "os.h"
#include "thread.h"

#include <errno.h>
#include <semaphore.h>

#define OBLET_BYTES ((uintptr_t)128 << 10)
#define NO_SANITIZE __attribute__((no_sanitize("address", "thread")))

static unsigned mark_nproc;   /* markers this cycle */
static unsigned mark_nwait;   /* atomic: idle markers */
static sem_t mark_start_sem, mark_done_sem;
static unsigned helpers_started;
static uint64_t helper_bytes_marked; /* atomic */
static int64_t helper_cpu_ns;        /* atomic */
static bool helper_checkmark;
static uint64_t stack_bytes, global_bytes;
static int64_t last_mark_cpu_ns;

/* The checkmark pass is serial: what it is scanning, for its report. */
static uintptr_t check_from;        /* object being scanned, or 0 for a root */
static const char *check_root = ""; /* root kind being scanned */
static uintptr_t check_root_addr;

void mark_note_root(const char *kind, uintptr_t addr)
{
	check_from = 0;
	check_root = kind;
	check_root_addr = addr;
}

static __attribute__((noreturn, cold)) void checkmark_fail(uintptr_t base, mspan *s)
{
	print_str("runtime: gccheckmark: object ");
	print_hex(base);
	print_str(" (size ");
	print_uint(s->elemsize);
	print_str(", span class ");
	print_uint(s->spanclass);
	print_str(") is reachable but was not marked; found ");
	if (check_from) {
		print_str("in object ");
		print_hex(check_from);
	} else {
		print_str("in root: ");
		print_str(check_root);
		print_str(" at ");
		print_hex(check_root_addr);
	}
	print_str("\n");
	gort_throw_addr("gccheckmark: found unmarked object", base);
}

#define PREFETCH_DEPTH 8 /* a power of two */

/* Marking modes, fixed per drain so that the compiler drops the tests
 * that do not apply: the only marker (plain stores to the mark bits),
 * one of several (atomic OR), or the checkmark pass. */
enum { MODE_SOLO, MODE_SHARED, MODE_CHECK };

/* What stays constant while the world is stopped: the heap's bounds and,
 * with a one-entry first level, the arena index's second level. */
struct markctx {
	uintptr_t lo, len;
	heaparena **l2;
	/* The last two spans greyed into, the object data of span cs[i]
	 * being [cbase[i], cbase[i] + clen[i]): the pointers of a structure
	 * built at once mostly lead to a span just seen (two, since a tree
	 * node's children are one near, one after a whole subtree), and then
	 * the lookup is skipped.  Sound while marking: a span found in use
	 * stays in use until the sweep, and the cache lives for one drain. */
	uintptr_t cbase[2], clen[2];
	mspan *cs[2];
};

NO_SANITIZE GORT_INLINE void markctx_load(struct markctx *m)
{
	m->lo = load_relaxed(&arena_heap_lo);
	m->len = load_relaxed(&arena_heap_hi) - m->lo;
	m->l2 = load_acquire(&arena_l1[0]);
	m->cbase[0] = m->clen[0] = m->cbase[1] = m->clen[1] = 0;
	m->cs[0] = m->cs[1] = NULL;
}

/* The in-use GC span whose object data holds p, or NULL. */
NO_SANITIZE GORT_INLINE mspan *grey_span(struct markctx *m, uintptr_t p)
{
	if (p - m->lo >= m->len)
		return NULL; /* nil among them */
	if (p - m->cbase[0] < m->clen[0])
		return m->cs[0];
	if (p - m->cbase[1] < m->clen[1])
		return m->cs[1];
#if ARENA_L1_BITS == 0
	/* Inside the heap's bounds, the first-level index is 0. */
	heaparena *ha = m->l2 ? load_acquire(&m->l2[(p >> ARENA_SHIFT) & (ARENA_L2_ENTRIES - 1)]) : NULL;
	if (!ha)
		return NULL;
	mspan *s = load_acquire(&ha->spans[(p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)]);
#else
	mspan *s = span_of(p);
#endif
	if (!s || load_acquire(&s->state) != MSPAN_INUSE || s->kind != SPAN_GC || p - s->base >= s->limit - s->base)
		return NULL;
	m->cs[1] = m->cs[0];
	m->cbase[1] = m->cbase[0];
	m->clen[1] = m->clen[0];
	m->cs[0] = s;
	m->cbase[0] = s->base;
	m->clen[0] = s->limit - s->base;
	return s;
}

/* A work entry is an address with its low three bits free: a small object
 * of up to 7 words carries its size in words there, so that scanning it
 * needs neither its span nor its size class (the most common objects of
 * pointer structures are that small).  Tag 0: look the span up. */
#define WORK_TAG_MASK ((uintptr_t)7)

GORT_INLINE uintptr_t work_tag(uintptr_t elemsize)
{
	return elemsize < 64 ? elemsize >> 3 : 0;
}

/* Greys the object p points into, if any (see the file comment). */
NO_SANITIZE GORT_INLINE void grey(gcwork *w, struct markctx *m, uintptr_t p, const int mode)
{
	mspan *s = grey_span(m, p);
	if (!s)
		return;
	uint32_t idx = obj_index_of(s, p - s->base);
	uint32_t wi = idx >> 6;
	uint64_t bit = (uint64_t)1 << (idx & 63);
	/* Allocated: alloc bit set (tested first: with the world stopped and
	 * the caches flushed it says all), or below the freeindex of a span
	 * a cache is filling (write barriers while the program runs). */
	if (!(load_relaxed(&span_alloc_word(s, wi)) & bit) && idx >= load_relaxed(&s->freeindex))
		return;
	uint64_t *mw = mode == MODE_CHECK ? &span_checkmark_word(s, wi) : &span_mark_word(s, wi);
	uint64_t old = load_relaxed(mw);
	if (old & bit)
		return;
	if (mode == MODE_SHARED) {
		if (__atomic_fetch_or(mw, bit, __ATOMIC_RELAXED) & bit)
			return;
	} else {
		store_relaxed(mw, old | bit); /* the only marker: no race */
	}
	uintptr_t base = s->base + (uintptr_t)idx * s->elemsize;
	if (mode == MODE_CHECK && !(load_relaxed(&span_mark_word(s, wi)) & bit))
		checkmark_fail(base, s);
	w->bytes_marked += s->elemsize;
	if (s->spanclass & 1)
		return; /* noscan: black at once */
	gcwork_put(w, base | work_tag(s->elemsize));
}

NO_SANITIZE GORT_INLINE int mode_of(const gcwork *w)
{
	return w->checkmark ? MODE_CHECK : w->shared ? MODE_SHARED : MODE_SOLO;
}

NO_SANITIZE void mark_grey(gcwork *w, uintptr_t p)
{
	struct markctx m;
	markctx_load(&m);
	switch (mode_of(w)) {
	case MODE_SOLO:
		grey(w, &m, p, MODE_SOLO);
		break;
	case MODE_SHARED:
		grey(w, &m, p, MODE_SHARED);
		break;
	default:
		grey(w, &m, p, MODE_CHECK);
	}
}

uintptr_t mark_set(uintptr_t base)
{
	mspan *s = span_of(base);
	uint32_t idx = obj_index_of(s, base - s->base);
	uint64_t bit = (uint64_t)1 << (idx & 63);
	if (__atomic_fetch_or(&span_mark_word(s, idx >> 6), bit, __ATOMIC_RELAXED) & bit)
		return 0;
	return s->elemsize;
}

bool mark_is_marked(uintptr_t base)
{
	mspan *s = span_of(base);
	uint32_t idx = obj_index_of(s, base - s->base);
	return load_relaxed(&span_mark_word(s, idx >> 6)) & ((uint64_t)1 << (idx & 63));
}

NO_SANITIZE void mark_scan_range(gcwork *w, uintptr_t lo, uintptr_t hi)
{
	lo = align_up(lo, sizeof(uintptr_t));
	for (uintptr_t a = lo; a + sizeof(uintptr_t) <= hi; a += sizeof(uintptr_t))
		mark_grey(w, *(const uintptr_t *)a);
	w->scan_bytes += hi > lo ? hi - lo : 0;
}

/* A small object: the words its heap bits mark.  Pushed last to first, so
 * that the work stack (LIFO) visits fields in order: a structure built
 * depth first, field by field, is then marked in allocation order, which
 * is memory order. */
NO_SANITIZE GORT_INLINE void scan_small(gcwork *w, struct markctx *m, heaparena *ha, uintptr_t base,
				       uintptr_t elemsize, const int mode)
{
	const uintptr_t *words = (const uintptr_t *)base;
	uintptr_t nw = elemsize >> 3, end = nw;
	uintptr_t k0 = (base & (ARENA_BYTES - 1)) >> 3;
	if (likely((k0 & 63) + nw <= 64)) {
		/* The usual case: the object's bits are in one heap-bits word. */
		uint64_t bits = ha->heapbits[k0 >> 6] >> (k0 & 63);
		if (nw < 64)
			bits &= ((uint64_t)1 << nw) - 1;
		while (bits) {
			unsigned b = 63 - clz64(bits);
			bits &= ~((uint64_t)1 << b);
			grey(w, m, words[b], mode);
		}
		w->scan_bytes += elemsize;
		return;
	}
	while (end > 0) {
		/* The chunk of words [start, end) that shares one heap-bits word. */
		uintptr_t a = base + ((end - 1) << 3);
		uintptr_t k = (a & (ARENA_BYTES - 1)) >> 3;
		uintptr_t first = k & ~(uintptr_t)63; /* heap-bits index of bit 0 of that word */
		uintptr_t start = end - 1 - (k - first);
		if (start > end || end - 1 < k - first)
			start = 0;
		/* A span may run into the next arena. */
		heaparena *cha = likely(!((a ^ base) >> ARENA_SHIFT)) ? ha : arena_of(a);
		uint64_t bits = cha->heapbits[k >> 6];
		/* Keep the bits of words [start, end). */
		unsigned hi = k & 63, lo = (unsigned)(hi - (end - 1 - start));
		bits >>= lo;
		unsigned width = hi - lo + 1;
		if (width < 64)
			bits &= ((uint64_t)1 << width) - 1;
		while (bits) {
			unsigned b = 63 - clz64(bits);
			bits &= ~((uint64_t)1 << b);
			grey(w, m, words[start + b], mode);
		}
		end = start;
	}
	w->scan_bytes += elemsize;
}

/* One oblet [p, end) of a large typed array of t starting at base. */
NO_SANITIZE static void scan_typed_range(gcwork *w, uintptr_t base, const gort_type *t, uintptr_t p, uintptr_t end)
{
	uintptr_t size = t->size;
	uintptr_t e = (p - base) / size; /* once per oblet: not a hot division */
	for (uintptr_t eb = base + e * size; eb < end; eb += size)
		for (uint32_t k = 0; k < t->nptrs; k++) {
			uintptr_t a = eb + t->ptroffs[k];
			if (a >= p && a < end)
				mark_grey(w, *(const uintptr_t *)a);
		}
	w->scan_bytes += end - p;
}

/* An oblet of a large object: its first piece queues the others. */
static GORT_NOINLINE void scan_large(gcwork *w, mspan *s, uintptr_t p)
{
	uintptr_t base = s->base, end = base + s->gcsize;
	if (p == base && s->gcsize > OBLET_BYTES) {
		/* Queue the other oblets; marking them is already done. */
		for (uintptr_t o = base + OBLET_BYTES; o < end; o += OBLET_BYTES)
			gcwork_put(w, o);
	}
	uintptr_t stop = min_uptr(p + OBLET_BYTES, end);
	if (s->gcflags & LARGE_TYPED)
		scan_typed_range(w, base, s->gctype, p, stop);
	else
		mark_scan_range(w, p, stop);
}

/* Scans the object (or oblet) at p: the base of a grey object, or an
 * address inside a large object where one of its oblets starts, either
 * with its work tag. */
NO_SANITIZE GORT_INLINE void scan_object_mode(gcwork *w, struct markctx *m, uintptr_t p, const int mode)
{
	uintptr_t tag = p & WORK_TAG_MASK;
	p -= tag;
#if ARENA_L1_BITS == 0
	heaparena *ha = m->l2[(p >> ARENA_SHIFT) & (ARENA_L2_ENTRIES - 1)];
#else
	heaparena *ha = arena_of(p);
#endif
	if (tag) {
		scan_small(w, m, ha, p, tag << 3, mode);
		return;
	}
	mspan *s = load_acquire(&ha->spans[(p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)]);
	if (s->sizeclass) {
		scan_small(w, m, ha, p, s->elemsize, mode);
		return;
	}
	scan_large(w, s, p);
}

NO_SANITIZE static void scan_object(gcwork *w, uintptr_t p)
{
	struct markctx m;
	markctx_load(&m);
	switch (mode_of(w)) {
	case MODE_SOLO:
		scan_object_mode(w, &m, p, MODE_SOLO);
		break;
	case MODE_SHARED:
		scan_object_mode(w, &m, p, MODE_SHARED);
		break;
	default:
		scan_object_mode(w, &m, p, MODE_CHECK);
	}
}

void mark_scan_object(gcwork *w, uintptr_t base)
{
	mspan *s = span_of(base);
	if (s->spanclass & 1)
		return;
	scan_object(w, base);
}

NO_SANITIZE GORT_INLINE void drain_mode(gcwork *w, const int mode)
{
	struct markctx m;
	markctx_load(&m);
	/* Objects popped are prefetched and scanned PREFETCH_DEPTH pops
	 * later, when their cache lines have arrived: a long-lived structure
	 * built while the program also made garbage lies scattered over
	 * reused slots, and then every object scanned is a cache miss.
	 * (Prefetching at push time is too late for a LIFO stack.) */
	uintptr_t ring[PREFETCH_DEPTH];
	unsigned head = 0, count = 0, n = 0;
	for (;;) {
		uintptr_t p = gcwork_get(w);
		if (p) {
			__builtin_prefetch((const void *)p);
			if (count < PREFETCH_DEPTH) {
				ring[(head + count++) & (PREFETCH_DEPTH - 1)] = p;
				continue;
			}
			uintptr_t q = ring[head];
			ring[head] = p;
			p = q;
		} else if (count) {
			p = ring[head];
			count--;
		} else {
			break;
		}
		head = (head + 1) & (PREFETCH_DEPTH - 1);
		if (mode == MODE_CHECK)
			check_from = p & ~WORK_TAG_MASK;
		scan_object_mode(w, &m, p, mode);
		/* A depth-first walk keeps little on the stack: hand some of
		 * it over whenever another marker is waiting for work. */
		if (mode == MODE_SHARED && (++n & 31) == 0 && load_relaxed(&mark_nwait) &&
		    !gcwork_global_available())
			gcwork_balance(w);
	}
}

NO_SANITIZE static GORT_NOINLINE void drain_solo(gcwork *w)
{
	drain_mode(w, MODE_SOLO);
}

NO_SANITIZE static GORT_NOINLINE void drain_shared(gcwork *w)
{
	drain_mode(w, MODE_SHARED);
}

NO_SANITIZE static GORT_NOINLINE void drain_check(gcwork *w)
{
	drain_mode(w, MODE_CHECK);
}

static void drain(gcwork *w)
{
	switch (mode_of(w)) {
	case MODE_SOLO:
		drain_solo(w);
		break;
	case MODE_SHARED:
		drain_shared(w);
		break;
	default:
		drain_check(w);
	}
}

static bool mark_done(void)
{
	return __atomic_load_n(&mark_nwait, __ATOMIC_SEQ_CST) == mark_nproc && !gcwork_global_available();
}

/* Drains until every marker is idle and no work is left anywhere.  An
 * idle marker spins a little (work often comes back within
 * microseconds), then sleeps until work is published: a spinning marker
 * would take CPU from the others, or from a busy machine. */
static void mark_loop(gcwork *w)
{
	for (;;) {
		drain(w);
		__atomic_fetch_add(&mark_nwait, 1, __ATOMIC_SEQ_CST);
		for (unsigned spins = 0;; spins++) {
			if (gcwork_global_available()) {
				__atomic_fetch_sub(&mark_nwait, 1, __ATOMIC_SEQ_CST);
				break;
			}
			if (mark_done()) {
				gcwork_idle_wake_all();
				return;
			}
			if (spins < 512)
				cpu_relax();
			else
				gcwork_idle_sleep(mark_done);
		}
	}
}

static void *mark_helper(void *arg)
{
	(void)arg;
	for (;;) {
		while (sem_wait(&mark_start_sem) != 0 && errno == EINTR)
			;
		int64_t t0 = os_thread_cputime_ns();
		gcwork w;
		gcwork_init(&w);
		w.checkmark = helper_checkmark;
		w.shared = true;
		mark_loop(&w);
		gcwork_dispose(&w);
		fetch_add_relaxed(&helper_bytes_marked, w.bytes_marked);
		fetch_add_relaxed(&helper_cpu_ns, os_thread_cputime_ns() - t0);
		sem_post(&mark_done_sem);
	}
	return NULL;
}

static void start_helpers(unsigned n)
{
	if (!helpers_started) { /* (again in a forked child) */
		sem_init(&mark_start_sem, 0, 0);
		sem_init(&mark_done_sem, 0, 0);
	}
	while (helpers_started < n) {
		pthread_t t;
		if (thread_create_internal(&t, mark_helper, NULL) != 0)
			break;
		pthread_detach(t);
		helpers_started++;
	}
}

void mark_start_helpers(void)
{
	if (gc.nproc > 1)
		start_helpers(gc.nproc - 1);
}

uint64_t mark_run(bool checkmark)
{
	unsigned nproc = checkmark ? 1 : gc.nproc;
	if (nproc > 1) {
		start_helpers(nproc - 1);
		if (helpers_started < nproc - 1)
			nproc = helpers_started + 1;
	}
	mark_nproc = nproc;
	store_seqcst(&mark_nwait, 0);
	store_relaxed(&helper_bytes_marked, 0);
	store_relaxed(&helper_cpu_ns, 0);
	helper_checkmark = checkmark;
	for (unsigned i = 1; i < nproc; i++)
		sem_post(&mark_start_sem);

	int64_t t0 = os_thread_cputime_ns();
	gcwork w;
	gcwork_init(&w);
	w.checkmark = checkmark;
	w.shared = nproc > 1;
	/* Roots go out in full buffers as they fill, so helpers start at once. */
	global_bytes = roots_scan_globals(&w);
	stack_bytes = roots_scan_stacks(&w);
	final_scan_roots(&w);
	mark_loop(&w);
	for (unsigned i = 1; i < nproc; i++)
		while (sem_wait(&mark_done_sem) != 0 && errno == EINTR)
			;
	/* Marking ends when neither the markers nor the write barrier have
	 * work left (the barrier only shades while mutators run alongside). */
	while (barrier_flush()) {
		mark_nproc = 1;
		store_seqcst(&mark_nwait, 0);
		mark_loop(&w);
	}
	gcwork_dispose(&w);
	gcwork_idle_reset();
	last_mark_cpu_ns = os_thread_cputime_ns() - t0 + load_relaxed(&helper_cpu_ns);
	return w.bytes_marked + load_relaxed(&helper_bytes_marked) + barrier_bytes_marked();
}

uint64_t mark_stack_bytes(void)
{
	return stack_bytes;
}

uint64_t mark_global_bytes(void)
{
	return global_bytes;
}

int64_t mark_cpu_ns(void)
{
	return last_mark_cpu_ns;
}

void mark_fork_child(void)
{
	helpers_started = 0; /* the helpers stayed in the parent */
}
