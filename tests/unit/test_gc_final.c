/*
 * test_gc_final.c: finalizers (gort_set_finalizer), as Go's SetFinalizer.
 *
 * A finalizer runs exactly once, on a thread other than the caller's, with
 * the object and the argument it was given, once the object is unreachable
 * and not before; the object (and what it reaches, and the argument) stays
 * intact for the call and is freed by a later cycle unless the finalizer
 * revived it; fn == NULL cancels; an object reachable from a finalizable
 * one is finalized only after it; a finalizer may allocate and collect;
 * 10000 finalizable objects are all finalized exactly once; a cycle of
 * finalizable objects is never finalized (gort.h, as in Go); a finalizer
 * that re-arms itself runs again.
 * Finalizers that check what their object reaches first wait for the
 * collection that queued them to return (swept, and so poisoned whatever it
 * wrongly freed), and compare pointers before following them, so a bug
 * fails a check instead of racing the sweeper or crashing.
 * Waiting is bounded: collect, sleep a little, up to a few seconds; a
 * finalizer that has not run by then is a failure.  "Does not run" checks
 * give the finalizer thread several cycles and 50 ms to misbehave.
 * The program runs with GORTDEBUG=gcpoison=1 (it re-executes itself to set
 * it): an object freed by the sweeper then reads 0xde, which is how "freed
 * by a later cycle" is observed.  As in test_gc_roots, the test keeps only
 * XORed addresses, makes plain ones in small noinline helpers, and cleans
 * the stack before each collection.
 * Under ThreadSanitizer the program is skipped: finalizers run on gort's
 * finalizer thread, which every cycle must stop (see test_stw).
 */
#include "gort.h"
#include "testing.h"
#include "gctesting.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static unsigned gc_returns; /* atomic: gort_gc calls of this test that returned */

static NOINLINE void gc_clean(void)
{
	wipe_stack();
	gort_gc();
	__atomic_fetch_add(&gc_returns, 1, __ATOMIC_SEQ_CST);
}

/* For finalizers that check what their object reaches: waits (at most
 * 2 s) until a gort_gc() of the test returns, so that the cycle that
 * queued the finalizer has swept (and poisoned) whatever it freed. */
static void wait_for_sweep(void)
{
	unsigned v = __atomic_load_n(&gc_returns, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2000 && __atomic_load_n(&gc_returns, __ATOMIC_SEQ_CST) == v; i++)
		usleep(1000);
}

static pthread_t main_thread;

/* What a finalizer saw; static: a late finalizer must not write into a
 * dead stack frame. */
struct rec {
	int ran;            /* atomic */
	int seq;            /* order among all finalizer calls */
	uintptr_t obj, arg; /* hidden */
	int other_thread;
	int intact;         /* the object (and what it reaches) was intact */
	unsigned char pat;
	size_t size;
};

static struct rec recs[64];
static unsigned nrecs;
static int seq_counter; /* atomic */

static struct rec *new_rec(unsigned char pat, size_t size)
{
	if (nrecs == 64) {
		fprintf(stderr, "test_gc_final: out of records\n");
		exit(1);
	}
	struct rec *r = &recs[nrecs++];
	r->pat = pat;
	r->size = size;
	return r;
}

static int ran(struct rec *r)
{
	return __atomic_load_n(&r->ran, __ATOMIC_SEQ_CST);
}

static int bytes_are(const void *p, size_t size, unsigned char v)
{
	const volatile unsigned char *b = p;
	for (size_t i = 0; i < size; i++)
		if (b[i] != v)
			return 0;
	return 1;
}

static void note(struct rec *r, void *obj, void *arg)
{
	r->obj = hide(obj);
	r->arg = hide(arg);
	r->other_thread = !pthread_equal(pthread_self(), main_thread);
	r->seq = __atomic_add_fetch(&seq_counter, 1, __ATOMIC_SEQ_CST);
}

/* arg: a struct rec; the object holds r->pat over r->size bytes. */
static void fin_pattern(void *obj, void *arg)
{
	struct rec *r = arg;
	note(r, obj, arg);
	r->intact = bytes_are(obj, r->size, r->pat);
	__atomic_fetch_add(&r->ran, 1, __ATOMIC_SEQ_CST);
}

/* Collects until r has run (at most 5 s).  Through waits(), which cleans
 * the stack below the caller first (see test_gc_roots.c). */
static NOINLINE int waits_impl(struct rec *r)
{
	double end = now_s() + 5;
	while (!ran(r) && now_s() < end) {
		gc_clean();
		for (int i = 0; i < 20 && !ran(r); i++)
			usleep(500);
	}
	return ran(r);
}
#define waits(r) (wipe_stack(), waits_impl(r))

/* Several cycles and 50 ms for a finalizer to misbehave in. */
static NOINLINE void settle(void)
{
	for (int i = 0; i < 5; i++) {
		gc_clean();
		usleep(10000);
	}
}

/* Whether r stays unrun through settle(). */
static NOINLINE int stays_impl(struct rec *r)
{
	settle();
	return !ran(r);
}
#define stays(r) (wipe_stack(), stays_impl(r))

static NOINLINE uintptr_t new_obj(size_t size, unsigned flags, unsigned char pat)
{
	unsigned char *p = gort_alloc(size, flags);
	memset(p, pat, size);
	return hide(p);
}

static NOINLINE void set_fin(uintptr_t h, void (*fn)(void *, void *), void *arg)
{
	gort_set_finalizer(unhide(h), fn, arg);
}

/* Whether the object at h reads 0xde: freed by the sweeper. */
static NOINLINE int freed(uintptr_t h, size_t size)
{
	return bytes_are(unhide(h), size, 0xde);
}

static NOINLINE int intact(uintptr_t h, size_t size, unsigned char pat)
{
	return bytes_are(unhide(h), size, pat);
}

void *volatile g_obj;
void *volatile g_neigh[64];

static NOINLINE void set_g(uintptr_t h)
{
	g_obj = h ? unhide(h) : NULL;
}

/* Objects of size allocated in a row, all but number idx kept by g_neigh
 * so that idx's span (and its poisoned bytes) stay in place. */
static NOINLINE uintptr_t among_neighbours(size_t size, int idx, unsigned char pat)
{
	uintptr_t h = 0;
	for (int i = 0; i < 48; i++) {
		unsigned char *p = gort_alloc(size, 0);
		memset(p, pat, size);
		if (i == idx)
			h = hide(p);
		else
			g_neigh[i] = p;
	}
	return h;
}

static void drop_neighbours(void)
{
	for (int i = 0; i < 64; i++)
		g_neigh[i] = NULL;
}

/* Allocations of one size, so that freed slots of that size are reused. */
static NOINLINE void burst(size_t size)
{
	for (int i = 0; i < 2000; i++)
		memset(gort_alloc(size, 0), 0x11, size);
}

/* --- once, elsewhere, with obj and arg */


/* The record is not read from arg: a freed arg must fail the check, not
 * crash the program. */
static struct rec *gc_arg_rec;

static void fin_with_gc_arg(void *obj, void *arg)
{
	struct rec *r = gc_arg_rec;
	wait_for_sweep();
	note(r, obj, arg);
	r->intact = bytes_are(obj, r->size, r->pat) && *(struct rec **)arg == r && bytes_are((char *)arg + 8, 56, 0x4a);
	__atomic_fetch_add(&r->ran, 1, __ATOMIC_SEQ_CST);
}

static NOINLINE int arg_intact(uintptr_t ha)
{
	return bytes_are((char *)unhide(ha) + 8, 56, 0x4a);
}

static NOINLINE uintptr_t arg_setup(uintptr_t h, struct rec *r)
{
	/* The argument is a GC object reachable only through the
	 * registration; it carries the record's address in its first word. */
	void **a = gort_alloc(64, 0);
	memset(a + 1, 0x4a, 56);
	a[0] = r;
	gort_set_finalizer(unhide(h), fin_with_gc_arg, a);
	return hide(a);
}

static NOINLINE void test_runs_once_elsewhere(void)
{
	main_thread = pthread_self();
	struct rec *r = new_rec(0x61, 128);
	uintptr_t h = new_obj(128, 0, 0x61);
	set_fin(h, fin_pattern, r);
	CHECK(waits(r));
	CHECK(r->obj == h);
	CHECK(unhide(r->arg) == (void *)r);
	CHECKF(r->other_thread, "the finalizer ran on the thread that called gort_gc");
	CHECK(r->intact);
	settle();
	CHECKF(ran(r) == 1, "ran %d times", ran(r));

	/* A GC object as the argument, reachable only through the
	 * registration: kept while the object lives (several cycles) and for
	 * the call. */
	struct rec *r2 = new_rec(0x62, 200);
	gc_arg_rec = r2;
	uintptr_t h2 = new_obj(200, GORT_NOSCAN, 0x62);
	set_g(h2);
	uintptr_t ha = arg_setup(h2, r2);
	wipe_stack();
	for (int i = 0; i < 3; i++) {
		gc_clean();
		burst(64);
	}
	CHECKF(arg_intact(ha), "a finalizer's argument was freed while its object lived");
	set_g(0);
	CHECK(waits(r2));
	CHECK(r2->obj == h2 && r2->arg == ha);
	CHECKF(r2->intact, "the object or its GC argument was damaged before the finalizer ran");
	CHECK(r2->other_thread);
	CHECK((settle(), 1) && ran(r2) == 1);
}

/* --- reachable objects are not finalized; dropped, they are */

static NOINLINE void test_reachable_not_finalized(void)
{
	struct rec *r = new_rec(0x63, 512);
	uintptr_t h = new_obj(512, GORT_NOSCAN, 0x63);
	set_g(h);
	set_fin(h, fin_pattern, r);
	CHECKF(stays(r), "the finalizer of a reachable object ran");
	CHECK(intact(h, 512, 0x63));
	set_g(0);
	CHECK(waits(r));
	CHECK(r->obj == h && r->intact && ran(r) == 1);
}

/* --- freed by a later cycle */

static NOINLINE void test_freed_after_finalizer(void)
{
	struct rec *r = new_rec(0x64, 192);
	uintptr_t h = among_neighbours(192, 30, 0x64);
	set_fin(h, fin_pattern, r);
	CHECK(waits(r));
	CHECK(r->obj == h && r->intact);
	/* The cycle that queued it kept it; the next ones free it. */
	wipe_stack();
	gc_clean();
	gc_clean();
	CHECKF(freed(h, 192), "the object was not freed after its finalizer ran (2 cycles later)");
	CHECK(ran(r) == 1);
	drop_neighbours();

	/* A large object: HeapInuse falls by its size. */
	struct rec *rl = new_rec(0x65, 4 << 20);
	uintptr_t hl = new_obj(4 << 20, GORT_NOSCAN, 0x65);
	set_fin(hl, fin_pattern, rl);
	gort_memstats m0, m1;
	gort_read_memstats(&m0);
	CHECK(waits(rl));
	CHECK(rl->obj == hl && rl->intact);
	wipe_stack();
	gc_clean();
	gc_clean();
	gort_read_memstats(&m1);
	CHECKF(m1.heap_inuse + (3 << 20) <= m0.heap_inuse, "heap_inuse %llu -> %llu KiB: a finalized 4 MiB object was not freed",
	       (unsigned long long)(m0.heap_inuse >> 10), (unsigned long long)(m1.heap_inuse >> 10));
}

/* --- cancelling */

static NOINLINE void test_cancel(void)
{
	struct rec *r = new_rec(0x66, 192);
	uintptr_t h = among_neighbours(192, 10, 0x66);
	set_fin(h, fin_pattern, r);
	set_fin(h, NULL, NULL);
	CHECKF(stays(r), "a cancelled finalizer ran");
	CHECKF(freed(h, 192), "an unreachable object with a cancelled finalizer was not freed");
	drop_neighbours();

	/* Cancelling an object that has none is harmless; setting again after
	 * a cancel takes. */
	struct rec *r2 = new_rec(0x67, 96);
	uintptr_t h2 = new_obj(96, 0, 0x67);
	set_fin(h2, NULL, NULL);
	set_fin(h2, fin_pattern, r2);
	set_fin(h2, NULL, NULL);
	set_fin(h2, fin_pattern, r2);
	CHECK(waits(r2) && r2->obj == h2);
	CHECK((settle(), 1) && ran(r2) == 1);
}

/* --- resurrection */

void *volatile g_revived;

static void fin_revive(void *obj, void *arg)
{
	struct rec *r = arg;
	note(r, obj, arg);
	r->intact = bytes_are(obj, r->size, r->pat);
	gort_store((void **)&g_revived, obj);
	__atomic_fetch_add(&r->ran, 1, __ATOMIC_SEQ_CST);
}

static NOINLINE void test_resurrection(void)
{
	struct rec *r = new_rec(0x68, 160);
	uintptr_t h = among_neighbours(160, 5, 0x68);
	set_fin(h, fin_revive, r);
	CHECK(waits(r));
	CHECK(r->obj == h && r->intact);
	CHECK(hide(g_revived) == h);
	/* Revived: it stays, and is not finalized again. */
	for (int i = 0; i < 3; i++) {
		gc_clean();
		burst(160);
	}
	CHECKF(intact(h, 160, 0x68), "a revived object was freed");
	CHECKF((settle(), 1) && ran(r) == 1, "a revived object was finalized again (%d runs)", ran(r));
	/* Dropped again, it goes without a second call. */
	g_revived = NULL;
	wipe_stack();
	gc_clean();
	gc_clean();
	CHECKF(freed(h, 160), "a revived object, dropped again, was not freed");
	CHECKF(ran(r) == 1, "ran %d times", ran(r));
	drop_neighbours();
}

/* A finalizer that sets a new finalizer on its object: it runs again
 * when the object is unreachable again (Go's rule). */
static void fin_rearm(void *obj, void *arg)
{
	struct rec *r = arg;
	note(r, obj, arg);
	r->intact = bytes_are(obj, r->size, r->pat);
	if (__atomic_add_fetch(&r->ran, 1, __ATOMIC_SEQ_CST) == 1)
		gort_set_finalizer(obj, fin_rearm, r);
}

static NOINLINE void test_finalizer_rearms(void)
{
	struct rec *r = new_rec(0x69, 64);
	uintptr_t h = new_obj(64, GORT_NOSCAN, 0x69);
	set_fin(h, fin_rearm, r);
	double end = now_s() + 5;
	while (ran(r) < 2 && now_s() < end) {
		gc_clean();
		usleep(1000);
	}
	CHECKF(ran(r) == 2, "a re-armed finalizer ran %d times, want 2", ran(r));
	CHECK(r->obj == h && r->intact);
	CHECK((settle(), 1) && ran(r) == 2);
}

/* --- what a finalizable object reaches */

struct fnode {
	void *b;      /* noscan, pattern 0x71 */
	void *c;      /* conservative, holds d at word 3 */
	uint64_t id;
};
GORT_TYPE(fnode_type, struct fnode, b, c);

/* The expected addresses, hidden: pointers are compared before they are
 * followed, so that freed memory fails the check instead of crashing. */
static uintptr_t reach_b, reach_c, reach_d;

static void fin_reach(void *obj, void *arg)
{
	struct rec *r = arg;
	struct fnode *a = obj;
	wait_for_sweep();
	note(r, obj, arg);
	void **c = a->c;
	r->intact = a->id == 4242 && hide(a->b) == reach_b && hide(c) == reach_c && bytes_are(a->b, 4000, 0x71) &&
		    hide(c[3]) == reach_d && bytes_are(c[3], 300, 0x72) && bytes_are(&c[4], 64, 0x73);
	__atomic_fetch_add(&r->ran, 1, __ATOMIC_SEQ_CST);
}

static NOINLINE uintptr_t reach_setup(struct rec *r, uintptr_t *hb)
{
	struct fnode *a = gort_new(&fnode_type);
	a->id = 4242;
	void *b = gort_alloc(4000, GORT_NOSCAN);
	memset(b, 0x71, 4000);
	void **c = gort_alloc(12 * sizeof(void *), 0);
	memset(&c[4], 0x73, 64);
	void *d = gort_alloc(300, GORT_NOSCAN);
	memset(d, 0x72, 300);
	gort_store(&c[3], d);
	GORT_STORE(a->b, b);
	GORT_STORE(a->c, (void *)c);
	reach_b = hide(b);
	reach_c = hide(c);
	reach_d = hide(d);
	gort_set_finalizer(a, fin_reach, r);
	*hb = hide(b);
	return hide(a);
}

/* b is also finalizable: it must wait for a's finalizer and a's death. */
static NOINLINE void test_reachable_from_finalizable(void)
{
	struct rec *r = new_rec(0, 0), *rb = new_rec(0x71, 4000);
	uintptr_t hb;
	uintptr_t ha = reach_setup(r, &hb);
	set_fin(hb, fin_pattern, rb);
	CHECK(waits(r));
	CHECKF(r->intact, "what a finalizable object reaches was freed before its finalizer ran");
	CHECK(r->obj == ha);
	CHECK(waits(rb));
	CHECKF(rb->intact, "b was damaged before its own finalizer ran");
	CHECKF(r->seq < rb->seq, "b (reachable from a) was finalized first (a %d, b %d)", r->seq, rb->seq);
}

/* A cycle through finalizable objects is never collected (gort.h, as in
 * Go): neither finalizer runs. */
static NOINLINE void cycle_setup(struct rec *r1, struct rec *r2)
{
	struct fnode *a = gort_new(&fnode_type), *b = gort_new(&fnode_type);
	GORT_STORE(a->b, (void *)b);
	GORT_STORE(b->b, (void *)a);
	gort_set_finalizer(a, fin_pattern, r1);
	gort_set_finalizer(b, fin_pattern, r2);
}

static NOINLINE void test_finalizable_cycle_kept(void)
{
	struct rec *r1 = new_rec(0, 0), *r2 = new_rec(0, 0);
	cycle_setup(r1, r2);
	CHECKF(stays(r1) && ran(r2) == 0, "a finalizer in a cycle of finalizable objects ran");
}

/* --- finalizers that allocate and collect */

static int alloc_fin_done;

static void fin_allocates(void *obj, void *arg)
{
	struct rec *r = arg;
	note(r, obj, arg);
	void **p = gort_alloc(1 << 20, 0);
	p[0] = gort_alloc(64, 0);
	gort_gc();
	r->intact = p[0] != NULL;
	gort_keep_alive(p);
	__atomic_store_n(&alloc_fin_done, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&r->ran, 1, __ATOMIC_SEQ_CST);
}

static NOINLINE void test_finalizer_allocates_and_collects(void)
{
	struct rec *r = new_rec(0, 0);
	uintptr_t h = new_obj(256, 0, 0x7a);
	set_fin(h, fin_allocates, r);
	CHECK(waits(r));
	CHECK(alloc_fin_done && r->intact);
	/* Still working afterwards. */
	struct rec *r2 = new_rec(0x7b, 32);
	uintptr_t h2 = new_obj(32, 0, 0x7b);
	set_fin(h2, fin_pattern, r2);
	CHECK(waits(r2));
}

/* --- 10000 of them */

#define MANY 10000
static int *many_count;        /* libc memory: not a root */
static uintptr_t *many_obj;    /* hidden addresses */
static int many_bad;           /* atomic */
void **volatile g_many;

static void fin_many(void *obj, void *arg)
{
	uintptr_t i = (uintptr_t)arg - 1;
	if (i >= MANY || many_obj[i] != hide(obj) || *(uint32_t *)obj != (uint32_t)i) {
		__atomic_fetch_add(&many_bad, 1, __ATOMIC_SEQ_CST);
		return;
	}
	__atomic_fetch_add(&many_count[i], 1, __ATOMIC_SEQ_CST);
}

static NOINLINE void many_setup(void)
{
	void **all = gort_alloc(MANY * sizeof(void *), 0);
	for (uintptr_t i = 0; i < MANY; i++) {
		/* 16 B .. 4 KiB, scan and noscan, every 1000th large. */
		size_t size = i % 1000 == 999 ? 40000 : 16 + (i * 37) % 4080;
		uint32_t *p = gort_alloc(size, i & 1 ? GORT_NOSCAN : 0);
		p[0] = (uint32_t)i;
		many_obj[i] = hide(p);
		gort_set_finalizer(p, fin_many, (void *)(i + 1));
		gort_store(&all[i], p);
	}
	g_many = all;
}

static int many_done(void)
{
	int n = 0;
	for (int i = 0; i < MANY; i++)
		n += __atomic_load_n(&many_count[i], __ATOMIC_SEQ_CST) != 0;
	return n;
}

static NOINLINE void test_many_finalizers(void)
{
	many_count = calloc(MANY, sizeof(int));
	many_obj = calloc(MANY, sizeof(uintptr_t));
	REQUIRE(many_count && many_obj);
	many_setup();
	gc_clean();
	CHECKF(many_done() == 0, "%d finalizers ran while their objects were reachable", many_done());
	g_many = NULL;
	wipe_stack();
	double end = now_s() + 10;
	int done;
	while ((done = many_done()) < MANY && now_s() < end) {
		gc_clean();
		usleep(2000);
	}
	CHECKF(done == MANY, "%d of %d finalizers ran within 10 s", done, MANY);
	settle();
	int twice = 0;
	for (int i = 0; i < MANY; i++)
		twice += many_count[i] > 1;
	CHECKF(twice == 0, "%d finalizers ran more than once", twice);
	CHECKF(many_bad == 0, "%d finalizer calls with the wrong object or argument", many_bad);
}

#define GC_RUN(fn)                   \
	do {                         \
		wipe_stack();        \
		RUN(fn);             \
	} while (0)

int main(int argc, char **argv)
{
	(void)argc;
	reexec_with(argv, "gcpoison=1");
	alarm(120);
	main_thread = pthread_self();
#ifdef UNDER_TSAN
	/* Finalizers run on gort's finalizer thread, which each cycle must
	 * stop; see test_stw. */
	printf("--- SKIP: test_gc_final (ThreadSanitizer defers the stop signals)\n");
	return 0;
#endif
	GC_RUN(test_runs_once_elsewhere);
	GC_RUN(test_reachable_not_finalized);
	GC_RUN(test_freed_after_finalizer);
	GC_RUN(test_cancel);
	GC_RUN(test_resurrection);
	GC_RUN(test_finalizer_rearms);
	GC_RUN(test_reachable_from_finalizable);
	GC_RUN(test_finalizable_cycle_kept);
	GC_RUN(test_finalizer_allocates_and_collects);
	GC_RUN(test_many_finalizers);
	TEST_EXIT();
}
