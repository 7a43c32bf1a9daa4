/*
 * mprof.c: the heap profiler's sampling and bookkeeping (see mprof.h; Go's
 * mprof.go).
 *
 * Invariants: buckets are never freed (a profile only grows, as Go's);
 * every live sampled object has exactly one special (its address -> its
 * bucket), and its span's `profiled` counts them, so that frees and sweeps
 * of spans without sampled objects pay one load and one branch; everything here is under
 * prof_lock, a runtime mutex (held inside a critical section, so the
 * world never stops with it held), except the sampling countdown, which
 * lives in each thread's cache.  Nothing here allocates from the gort heap
 * or from malloc: buckets come from persistent memory, the tables from
 * os_alloc, so that the profiler works the same when gort is malloc.
 */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "mprof.h"
#include "mgc.h"
#include "cfi.h"
#include "fmath.h"
#include "mheap.h"
#include "arena.h"
#include "atomic.h"
#include "crit.h"
#include "fixalloc.h"
#include "mcache.h"
#include "mspan.h"
#include "os.h"
#include "thread.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

struct _Unwind_Context;

long mprof_rate = MPROF_DEFAULT_RATE;

static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;

/* The bucket table doubles with the buckets (Go's is fixed at 179999
 * slots): a program with a few hundred buckets touches a few pages of it,
 * not a page per bucket of a table sized for the largest. */
#define BUCKET_HASH_MIN 1024
static mbucket **buckhash; /* os_alloc'd on first use */
static uintptr_t buckhash_cap, nbuckets;
static mbucket *allbuckets;
static uint32_t prof_cycle; /* collections whose mark has terminated */
static bool prof_flushed;  /* future[prof_cycle % 3] already published */

/* Specials: sampled live objects, chained in a power-of-two table. */
struct special {
	uintptr_t addr;
	mbucket *b;
	struct special *next;
};
static struct special **spec_tab;
static uintptr_t spec_cap, spec_count;
static fixalloc specalloc;
static bool spec_ready;

/* --- Sampling distance */

static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;
	if (unlikely(!x)) {
		/* Seeded per thread from its TLS address and the clock. */
		x = ((uintptr_t)&rng_state ^ (uint64_t)os_nanotime()) * 0x9E3779B97F4A7C15ull;
		if (!x)
			x = 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

intptr_t mprof_next_sample(void)
{
	long rate = load_relaxed(&mprof_rate);
	if (rate <= 0)
		return INTPTR_MAX;
	if (rate == 1)
		return 0;
	/* Exponential with mean rate: -ln(U) * rate, U uniform in (0, 1]. */
	double u = (double)((rng_next() >> 11) + 1) * 0x1p-53;
	double d = -fmath_log(u) * (double)rate;
	if (d >= (double)(INTPTR_MAX / 2))
		return INTPTR_MAX / 2;
	return (intptr_t)d;
}

/* --- Stacks */

static __thread uintptr_t stack_hi __attribute__((tls_model("initial-exec")));

/* The top of this thread's stack, found once per thread: as thread.c
 * registered it, else from the mapping holding it (not pthread_getattr_np:
 * it allocates while holding the thread's lock, and this may run inside an
 * allocation it made; nor /proc/self/maps when it can be helped: reading it
 * cost each of larson's short-lived threads ~20 us of kernel time).  On the
 * main stack, where the program started (__libc_stack_end) rather than
 * the mapping's end, which lies above argv and the environment: the walk
 * judges itself complete by ending near the top.  Which stack is the
 * main one is told by address, not by the thread id: in a child forked
 * from another thread, that thread has the process's id. */
static uintptr_t thread_stack_hi(void)
{
	if (!stack_hi) {
		uintptr_t here = (uintptr_t)__builtin_frame_address(0), start = (uintptr_t)__libc_stack_end;
		const gthread *t = thread_self();
		uintptr_t end = t && here >= t->stack_lo && here < t->stack_hi ? t->stack_hi : os_mapping_end(here);
		stack_hi = start > here && start < end ? start : end;
	}
	return stack_hi;
}

/* The executable segments of every loaded object, sorted: a return
 * address outside them ends a walk (a frame-pointer register that held
 * something else).  Readers never lock: a table is immutable once
 * published, and a new one (after a dlopen) replaces it; old ones are
 * kept, since a reader may still be searching one.  No gort lock may be
 * held while building one (dl_iterate_phdr takes the loader's lock). */
struct xrange {
	uintptr_t lo, hi;
};
struct xtable {
	unsigned long long adds; /* dlpi_adds when built */
	unsigned n, cap;
	struct xrange r[];
};
static struct xtable *xtab;

static int xtable_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct xtable *t = arg;
	t->adds = info->dlpi_adds;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (t->n < t->cap)
			t->r[t->n] = (struct xrange){info->dlpi_addr + ph->p_vaddr,
						     info->dlpi_addr + ph->p_vaddr + ph->p_memsz};
		t->n++;
	}
	return 0;
}

static struct xtable *xtable_build(void)
{
	unsigned cap = 64;
	for (;;) {
		uintptr_t bytes = sizeof(struct xtable) + cap * sizeof(struct xrange);
		struct xtable *t = os_alloc(bytes);
		if (!t)
			return NULL;
		t->cap = cap;
		dl_iterate_phdr(xtable_cb, t);
		if (t->n <= cap) {
			for (unsigned i = 1; i < t->n; i++) /* insertion sort: few objects */
				for (unsigned j = i; j > 0 && t->r[j - 1].lo > t->r[j].lo; j--) {
					struct xrange x = t->r[j];
					t->r[j] = t->r[j - 1];
					t->r[j - 1] = x;
				}
			return t;
		}
		cap = t->n * 2;
		os_free(t, bytes);
	}
}

static bool xtable_has(const struct xtable *t, uintptr_t pc)
{
	unsigned lo = 0, hi = t->n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (pc < t->r[mid].lo)
			hi = mid;
		else if (pc >= t->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static int adds_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	*(unsigned long long *)arg = info->dlpi_adds;
	return 1;
}

static bool pc_is_code(uintptr_t pc)
{
	struct xtable *t = load_acquire(&xtab);
	if (t && xtable_has(t, pc))
		return true;
	unsigned long long adds = 0;
	if (t) {
		dl_iterate_phdr(adds_cb, &adds);
		if (adds == t->adds)
			return false; /* nothing loaded since: not code */
	}
	struct xtable *nt = xtable_build();
	if (!nt)
		return false;
	if (!__atomic_compare_exchange_n(&xtab, &t, nt, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		os_free(nt, sizeof(struct xtable) + nt->cap * sizeof(struct xrange));
		nt = t;
	}
	return xtable_has(nt, pc);
}

/* How far below the top of the stack main's frame may lie: the start-up
 * frames above it take a few hundred bytes. */
#define OUTERMOST_SLACK 1024

static __thread bool callers_broken __attribute__((tls_model("initial-exec")));
static int callers_fp(void *fp, uintptr_t *pcs, int max);

/* The fallback: libgcc's DWARF unwinder, for code built without frame
 * pointers (Debian builds with -fomit-frame-pointer).  Found at run time
 * (libgcc_s is loaded by most programs, else loaded once here), so that
 * the library does not depend on it; slower than the frame walk (about a
 * microsecond a frame), which is fine once per 512 KiB. */
typedef uintptr_t (*unwind_getip_fn)(struct _Unwind_Context *);
typedef int (*unwind_trace_fn)(int (*)(struct _Unwind_Context *, void *), void *);
static unwind_trace_fn unwind_trace;
static unwind_getip_fn unwind_getip;
static int unwind_state; /* atomic: 0 not tried, 1 found, 2 unavailable */

struct unwind_walk {
	uintptr_t first; /* the entry point's return address: recording starts there */
	uintptr_t *pcs;
	int n, max;
	bool started;
};

static int unwind_cb(struct _Unwind_Context *ctx, void *arg)
{
	struct unwind_walk *w = arg;
	uintptr_t ip = unwind_getip(ctx);
	if (ip == 0)
		return 5; /* the outermost frame's caller */
	if (!w->started) {
		if (ip != w->first)
			return 0; /* _URC_NO_REASON: gort's own frames */
		w->started = true;
	}
	w->pcs[w->n++] = ip;
	return w->n < w->max ? 0 : 5; /* _URC_END_OF_STACK stops the walk */
}

static bool unwind_ready(void)
{
	int st = load_acquire(&unwind_state);
	if (st)
		return st == 1;
	if (!load_acquire(&gort_started))
		return false; /* no dlopen from inside the dynamic loader */
	void *trace = dlsym(RTLD_DEFAULT, "_Unwind_Backtrace"), *getip = dlsym(RTLD_DEFAULT, "_Unwind_GetIP");
	if (!trace || !getip) {
		void *h = roots_dlopen("libgcc_s.so.1", RTLD_LAZY);
		if (h) {
			trace = dlsym(h, "_Unwind_Backtrace");
			getip = dlsym(h, "_Unwind_GetIP");
		}
	}
	if (trace && getip) {
		unwind_trace = (unwind_trace_fn)trace;
		unwind_getip = (unwind_getip_fn)getip;
	}
	store_release(&unwind_state, trace && getip ? 1 : 2);
	return trace && getip;
}

/* A thread inside the profiler's stack capture: the unwinder and dlopen
 * may allocate, and when gort is malloc that must not sample again. */
static __thread bool in_capture __attribute__((tls_model("initial-exec")));

/* gort's own code when gort is a shared object (as libgort-malloc.so): an
 * entry point that is not a tail call (posix_memalign; every wrapper in an
 * unoptimized build) leaves its frame above the one the walk starts from,
 * and such frames are dropped from the top of a stack.  Linked into the
 * program, gort's code is the program's and nothing is dropped. */
struct self_text {
	uintptr_t lo[4], hi[4]; /* the library's text segments: hot and cold (src/hot.ld) */
	int n;
};
static struct self_text self_text;
static int self_state; /* atomic: 0 not looked up, 1 known, 2 being published */

static int self_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct self_text *t = arg;
	uintptr_t me = (uintptr_t)&mprof_callers;
	bool mine = false;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo && me < lo + ph->p_memsz)
			mine = true;
	}
	if (!mine)
		return 0;
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 1; /* linked into the program */
	for (unsigned i = 0; i < info->dlpi_phnum && t->n < (int)(sizeof t->lo / sizeof t->lo[0]); i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		t->lo[t->n] = info->dlpi_addr + ph->p_vaddr;
		t->hi[t->n] = t->lo[t->n] + ph->p_memsz;
		t->n++;
	}
	return 1;
}

static int drop_own_frames(uintptr_t *pcs, int n)
{
	struct self_text local = {{0}, {0}, 0};
	const struct self_text *t = &self_text;
	int st = load_acquire(&self_state);
	if (st != 1) {
		/* Looked up by each thread that finds it unknown (only the first
		 * samples), published by one: nobody waits for another. */
		dl_iterate_phdr(self_cb, &local);
		t = &local;
		if (st == 0 && cas_seqcst(&self_state, &st, 2)) {
			self_text = local;
			store_release(&self_state, 1);
		}
	}
	int k = 0;
	for (; k < n; k++) {
		bool own = false;
		for (int i = 0; i < t->n; i++)
			own |= pcs[k] - 1 >= t->lo[i] && pcs[k] - 1 < t->hi[i];
		if (!own)
			break;
	}
	if (k)
		memmove(pcs, pcs + k, (size_t)(n - k) * sizeof *pcs);
	return n - k;
}

int mprof_callers(void *fp, uintptr_t *pcs, int max)
{
	if (in_capture)
		return 0;
	in_capture = true;
	int n = callers_fp(fp, pcs, max);
	if (n > 0 && n < max && callers_broken && load_acquire(&gort_started)) {
		/* Code without frame pointers: the DWARF walk, from the entry
		 * point's frame (gort's own code keeps frame pointers); not from
		 * inside the dynamic loader, before _dl_find_object is ready. */
		enum unwind_end end;
		uintptr_t cfi[MPROF_MAX_STACK];
		int m = unwind_from_frame(fp, thread_stack_hi(), cfi, max < MPROF_MAX_STACK ? max : MPROF_MAX_STACK, &end);
		if (m > n) {
			memcpy(pcs, cfi, (size_t)m * sizeof *pcs);
			n = m;
		}
		if ((end == UNWIND_LOST || end == UNWIND_UNAVAILABLE) && unwind_ready()) {
			struct unwind_walk w = {pcs[0], pcs, 0, max, false};
			unwind_trace(unwind_cb, &w);
			if (w.started && w.n > n)
				n = w.n;
		}
	}
	n = drop_own_frames(pcs, n);
	in_capture = false;
	return n;
}

/* The frame-pointer walk; sets callers_broken when it stopped at a frame
 * that was not the outermost one (a frame without a frame pointer). */
static int callers_fp(void *fp, uintptr_t *pcs, int max)
{
	uintptr_t lo = (uintptr_t)__builtin_frame_address(0), hi = thread_stack_hi();
	uintptr_t f = (uintptr_t)fp;
	int n = 0;
	callers_broken = true;
	/* A frame is trusted only inside the stack, above the last one and
	 * aligned: code built without frame pointers may leave anything in
	 * the frame-pointer register, and the walk then just stops. */
	while (n < max && f >= lo && f < hi - 2 * sizeof(uintptr_t) && !(f & 7)) {
		const uintptr_t *frame = (const uintptr_t *)f;
		uintptr_t ret = frame[1], next = frame[0];
		if (ret < 4096 || !pc_is_code(ret - 1))
			break;
		pcs[n++] = ret;
		if (next == 0) {
			callers_broken = false; /* the outermost frame */
			break;
		}
		if (next <= f || next >= hi) {
			/* A frame at the very top of the stack is main's (or a
			 * thread's start routine's): above it lies only the C
			 * library's start-up code, which keeps no frame pointer
			 * and may leave anything in the register. */
			if (hi - f <= OUTERMOST_SLACK)
				callers_broken = false;
			break;
		}
		f = next;
	}
	return n;
}

/* --- Buckets */

static uint64_t stack_hash(const uintptr_t *stk, int n, uintptr_t size, const char *type)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < n; i++)
		h = (h ^ stk[i]) * 0x100000001b3ull;
	h = (h ^ size) * 0x100000001b3ull;
	h = (h ^ (uintptr_t)type) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

/* prof_lock held.  Rehashes every bucket into a table of cap slots;
 * false (the old table kept) when it cannot be mapped. */
static bool buckhash_resize(uintptr_t cap)
{
	mbucket **t = os_alloc(cap * sizeof *t);
	if (!t)
		return false;
	for (mbucket *b = allbuckets; b; b = b->allnext) {
		mbucket **head = &t[b->hash & (cap - 1)];
		b->next = *head;
		*head = b;
	}
	if (buckhash)
		os_free(buckhash, buckhash_cap * sizeof *buckhash);
	buckhash = t;
	buckhash_cap = cap;
	return true;
}

/* prof_lock held.  NULL only when out of metadata memory. */
static mbucket *bucket_get(const uintptr_t *stk, int n, uintptr_t size, const char *type)
{
	if (!buckhash && !buckhash_resize(BUCKET_HASH_MIN))
		return NULL;
	if (nbuckets >= buckhash_cap)
		buckhash_resize(buckhash_cap * 2); /* on failure chains just grow longer */
	uint64_t h = stack_hash(stk, n, size, type);
	mbucket **head = &buckhash[h & (buckhash_cap - 1)];
	for (mbucket *b = *head; b; b = b->next)
		if (b->hash == h && b->size == size && b->type == type && b->nstk == (uint32_t)n &&
		    !memcmp(b->stk, stk, (size_t)n * sizeof *stk))
			return b;
	mbucket *b = persistent_alloc(sizeof *b + (size_t)n * sizeof *stk, 8);
	memset(b, 0, sizeof *b);
	b->hash = h;
	b->size = size;
	b->type = type;
	b->nstk = (uint32_t)n;
	memcpy(b->stk, stk, (size_t)n * sizeof *stk);
	b->next = *head;
	*head = b;
	b->allnext = allbuckets;
	store_release(&allbuckets, b);
	nbuckets++;
	return b;
}

/* --- Specials */

GORT_INLINE uintptr_t spec_slot(uintptr_t addr, uintptr_t cap)
{
	uint64_t h = (uint64_t)addr * 0x9E3779B97F4A7C15ull;
	return (uintptr_t)(h >> 32) & (cap - 1);
}

static bool spec_grow(void)
{
	uintptr_t ncap = spec_cap ? spec_cap * 2 : 1024;
	struct special **nt = os_alloc(ncap * sizeof *nt);
	if (!nt)
		return false;
	for (uintptr_t i = 0; i < spec_cap; i++) {
		struct special *e = spec_tab[i];
		while (e) {
			struct special *next = e->next;
			uintptr_t k = spec_slot(e->addr, ncap);
			e->next = nt[k];
			nt[k] = e;
			e = next;
		}
	}
	if (spec_tab)
		os_free(spec_tab, spec_cap * sizeof *spec_tab);
	spec_tab = nt;
	spec_cap = ncap;
	return true;
}

/* The span's sampled bit of the object at addr (prof_lock held).  The
 * bitmap has room for the record's largest span (its bucket), so it can
 * stay with the record for good; free() reads it without the lock. */
static void sampled_bit_set(mspan *s, uintptr_t addr, bool on)
{
	uint64_t *bm = s->sampled;
	if (!bm) {
		bm = persistent_alloc(((uintptr_t)1 << s->bucket) * sizeof *bm, 8);
		store_release(&s->sampled, bm);
	}
	uint32_t idx = obj_index_of(s, addr - s->base);
	uint64_t m = (uint64_t)1 << (idx & 63);
	if (on)
		fetch_or_relaxed(&bm[idx / 64], m);
	else
		fetch_and_relaxed(&bm[idx / 64], ~m);
}

bool mprof_is_sampled(const mspan *s, uint32_t idx)
{
	if (s->sizeclass == 0)
		return true; /* a large span is profiled only for its one object */
	const uint64_t *bm = load_acquire(&s->sampled);
	return bm && (load_relaxed(&bm[idx / 64]) >> (idx & 63) & 1);
}

static void special_add(uintptr_t addr, mbucket *b)
{
	if (!spec_ready) {
		fixalloc_init(&specalloc, sizeof(struct special));
		spec_ready = true;
	}
	if (spec_count >= spec_cap && !spec_grow())
		return;
	struct special *e = fixalloc_alloc(&specalloc, false);
	e->addr = addr;
	e->b = b;
	uintptr_t k = spec_slot(addr, spec_cap);
	e->next = spec_tab[k];
	spec_tab[k] = e;
	spec_count++;
	mspan *s = span_of(addr);
	if (s) {
		store_relaxed(&s->profiled, (uint16_t)(load_relaxed(&s->profiled) + 1));
		if (s->sizeclass)
			sampled_bit_set(s, addr, true);
	}
}

static mbucket *special_remove(uintptr_t addr)
{
	if (!spec_cap)
		return NULL;
	struct special **pe = &spec_tab[spec_slot(addr, spec_cap)];
	for (struct special *e = *pe; e; pe = &e->next, e = e->next) {
		if (e->addr == addr) {
			*pe = e->next;
			mbucket *b = e->b;
			fixalloc_free(&specalloc, e);
			spec_count--;
			/* The span's last sampled object gone: its frees and sweeps
			 * stop asking. */
			mspan *s = span_of(addr);
			if (s && load_relaxed(&s->profiled)) {
				store_relaxed(&s->profiled, (uint16_t)(load_relaxed(&s->profiled) - 1));
				if (s->sizeclass)
					sampled_bit_set(s, addr, false);
			}
			return b;
		}
	}
	return NULL;
}

/* --- Events */

void mprof_malloc(void *p, uintptr_t size, const char *type, bool collected, void *fp)
{
	uintptr_t stk[MPROF_MAX_STACK];
	int n = mprof_callers(fp, stk, MPROF_MAX_STACK);
	mutex_lock(&prof_lock);
	mbucket *b = bucket_get(stk, n, size, type);
	if (b) {
		struct memrecord *r = collected ? &b->future[(prof_cycle + 2) % 3] : &b->active;
		r->allocs++;
		r->alloc_bytes += size;
		special_add((uintptr_t)p, b);
	}
	mutex_unlock(&prof_lock);
}

void mprof_free_manual(uintptr_t p)
{
	mutex_lock(&prof_lock);
	mbucket *b = special_remove(p);
	if (b) {
		b->active.frees++;
		b->active.free_bytes += b->size;
	}
	mutex_unlock(&prof_lock);
}

void mprof_free_gc(uintptr_t p)
{
	mutex_lock(&prof_lock);
	mbucket *b = special_remove(p);
	if (b) {
		struct memrecord *r = &b->future[(prof_cycle + 1) % 3];
		r->frees++;
		r->free_bytes += b->size;
	}
	mutex_unlock(&prof_lock);
}

static void fold(unsigned idx)
{
	for (mbucket *b = allbuckets; b; b = b->allnext) {
		struct memrecord *f = &b->future[idx];
		b->active.allocs += f->allocs;
		b->active.frees += f->frees;
		b->active.alloc_bytes += f->alloc_bytes;
		b->active.free_bytes += f->free_bytes;
		memset(f, 0, sizeof *f);
	}
}

void mprof_next_cycle(void)
{
	mutex_lock(&prof_lock);
	prof_cycle++;
	prof_flushed = false;
	mutex_unlock(&prof_lock);
}

void mprof_flush(void)
{
	mutex_lock(&prof_lock);
	if (!prof_flushed) {
		fold(prof_cycle % 3);
		prof_flushed = true;
	}
	mutex_unlock(&prof_lock);
}

void mprof_post_sweep(void)
{
	mutex_lock(&prof_lock);
	fold((prof_cycle + 1) % 3);
	mutex_unlock(&prof_lock);
}

void mprof_lock(void)
{
	mutex_lock(&prof_lock);
}

void mprof_unlock(void)
{
	mutex_unlock(&prof_lock);
}

mbucket *mprof_buckets(void)
{
	return allbuckets;
}

void mprof_fork_lock(void)
{
	mutex_lock(&prof_lock);
}

void mprof_fork_unlock(void)
{
	mutex_unlock(&prof_lock);
}
