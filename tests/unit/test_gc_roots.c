/*
 * test_gc_roots.c: every kind of root keeps an object alive, and the same
 * object dies once the root is dropped.
 *
 * The target of each case is a GORT_NOSCAN object filled with a pattern;
 * the test itself only ever holds its address XORed with HIDE_KEY, so the
 * conservative scan of this program's stack and data cannot see it except
 * through the root under test.
 *   alive: three rounds of (clean the stack, gort_gc(), a burst of
 *          allocations of the same size) and the pattern is intact.  The
 *          program runs with GORTDEBUG=gcpoison=1 (it re-executes itself
 *          to set it, since gort reads its knobs before main), so an object
 *          freed by the sweeper reads 0xde, and one handed out again reads
 *          0 or the burst's 0x11.  test_poison_canary proves the check can
 *          fail: a dropped object does read 0xde.
 *   dead:  a finalizer is set while the root still holds the target, the
 *          root is dropped, and gort_gc() is repeated (stack cleaned each
 *          time) until the finalizer has run, for at most a few seconds.
 *          The finalizer must get the target's address.
 * Plain addresses are made only inside small noinline helpers, and the
 * stack below the test function is cleaned before each check (alive(),
 * dies()): a copy left in a helper's dead frame would otherwise sit in an
 * unwritten slot of the checker's frame and keep the target alive.
 * Roots: a local, a callee-saved register (this thread, and another
 * thread's register while it spins), a global, a static in a function,
 * libc's data segment (a shared object), a gort_add_roots range (and
 * gort_remove_roots ends it), a spinning thread's local, a blocked reader's
 * local, a new thread's argument, a precise field (and a non-pointer field
 * holding an address does not count), typed arrays small and large, an
 * interior pointer, a conservative object, a large conservative object
 * (pointers deep inside and in its last word), a 100000-node chain from one
 * global, a 100000-wide array; GORT_NOSCAN objects (small, large, typed
 * without pointers) and the manual heap are not roots.
 * Under ThreadSanitizer the cases with threads and the death checks are
 * skipped, loudly; the alive checks run.
 */
#include "gort.h"
#include "testing.h"
#include "gctesting.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define TSIZE 96 /* a small target: not the tiny allocator (< 16 B) */

static NOINLINE void gc_clean(void)
{
	wipe_stack();
	gort_gc();
}

/* --- targets */

static NOINLINE uintptr_t new_target(size_t size, unsigned flags, unsigned char pat)
{
	unsigned char *p = gort_alloc(size, flags);
	memset(p, pat, size);
	return hide(p);
}

/* Whether the object at h still holds pat; reports the first bad byte.
 * Large objects are checked at a stride (their every page is touched). */
static NOINLINE int intact(uintptr_t h, size_t size, unsigned char pat, const char *what)
{
	const volatile unsigned char *p = unhide(h);
	size_t step = size > 4096 ? 61 : 1;
	for (size_t i = 0; i < size; i += step) {
		if (p[i] != pat) {
			fprintf(stderr, "    %s: byte %zu of %p is 0x%02x, want 0x%02x%s\n", what, i, (void *)p, p[i],
				pat, p[i] == 0xde ? " (poisoned: freed by the sweeper)" : " (reused)");
			return 0;
		}
	}
	if (p[size - 1] != pat) {
		fprintf(stderr, "    %s: last byte of %p is 0x%02x, want 0x%02x\n", what, (void *)p, p[size - 1], pat);
		return 0;
	}
	return 1;
}

/* Allocations of the target's size, so that a freed target is reused. */
static NOINLINE void burst(size_t size, unsigned flags)
{
	int n = size > 32768 ? 8 : size > 4096 ? 64 : 2000;
	for (int i = 0; i < n; i++) {
		unsigned char *p = gort_alloc(size, flags);
		memset(p, 0x11, size < 4096 ? size : 4096);
	}
}

/* The alive check: three collections, each followed by a burst. */
static NOINLINE int survives(uintptr_t h, size_t size, unsigned flags, unsigned char pat, const char *what)
{
	for (int round = 0; round < 3; round++) {
		gc_clean();
		burst(size, flags);
		if (!intact(h, size, pat, what))
			return 0;
	}
	return 1;
}

/* --- death, observed by a finalizer */

struct fin_rec {
	int ran;             /* atomic: times run */
	uintptr_t obj;       /* hide(obj) as the finalizer got it */
	pthread_t thread;
};

/* Records live in static memory: a finalizer that runs late (after a
 * failed case gave up on it) must not write into a dead stack frame. */
static struct fin_rec rec_pool[128];
static unsigned rec_next;

static struct fin_rec *new_rec(void)
{
	if (rec_next == sizeof rec_pool / sizeof rec_pool[0]) {
		fprintf(stderr, "test_gc_roots: out of finalizer records\n");
		exit(1);
	}
	return &rec_pool[rec_next++];
}

static void on_final(void *obj, void *arg)
{
	struct fin_rec *r = arg;
	r->obj = hide(obj);
	r->thread = pthread_self();
	__atomic_fetch_add(&r->ran, 1, __ATOMIC_SEQ_CST);
}

static NOINLINE void arm(uintptr_t h, struct fin_rec *r)
{
	gort_set_finalizer(unhide(h), on_final, r);
}

static int fin_ran(struct fin_rec *r)
{
	return __atomic_load_n(&r->ran, __ATOMIC_SEQ_CST);
}

/* Collects until r's finalizer has run (at most 5 s); true if it did, for
 * the object at h.  Called through dies(), which first cleans the stack
 * below the test function: dies_impl's own frame has slots it never
 * writes, and they must not hold a copy of the target left there by an
 * earlier helper. */
static NOINLINE int dies_impl(uintptr_t h, struct fin_rec *r, const char *what)
{
	double end = now_s() + 5;
	while (!fin_ran(r) && now_s() < end) {
		gc_clean();
		for (int i = 0; i < 20 && !fin_ran(r); i++)
			usleep(500);
	}
	if (!fin_ran(r)) {
		fprintf(stderr, "    %s: still reachable 5 s after its root was dropped\n", what);
		return 0;
	}
	if (r->obj != h) {
		fprintf(stderr, "    %s: finalizer got %p, want %p\n", what, unhide(r->obj), unhide(h));
		return 0;
	}
	return 1;
}

/* Whether *slot holds the object at h.  Plain addresses are only ever
 * made in small noinline helpers like this one: a test function that made
 * one could keep it in a spill slot of its frame, a root of its own. */
static NOINLINE int holds(const void *slot, uintptr_t h)
{
	return *(void *const *)slot == unhide(h);
}

/* Under ThreadSanitizer the death checks are skipped (main says so):
 * its deferred signals hand the collector stale contexts of gort's own
 * threads, which keep dead objects alive at random. */
#ifdef UNDER_TSAN
#define DEATH_CHECKS 0
#else
#define DEATH_CHECKS 1
#endif
#define dies(h, r, what) (DEATH_CHECKS ? (wipe_stack(), dies_impl(h, r, what)) : 1)
#define alive(h, size, flags, pat, r, what) (wipe_stack(), alive_impl(h, size, flags, pat, r, what))

/* Alive while the root holds it, unfinalized.  Through alive(), which
 * cleans the stack below the caller first: the helper that installed the
 * root left a plain copy of the address in its dead frame, right where
 * alive_impl's frames go, and that copy would keep the target alive
 * whether or not the root under test does. */
static NOINLINE int alive_impl(uintptr_t h, size_t size, unsigned flags, unsigned char pat, struct fin_rec *r,
			  const char *what)
{
	int ok = survives(h, size, flags, pat, what);
	if (r && fin_ran(r)) {
		fprintf(stderr, "    %s: finalizer ran while its root still held it\n", what);
		ok = 0;
	}
	return ok;
}

/* --- the canary: the alive check can fail */

void *volatile canary_keep[64];

static NOINLINE uintptr_t canary_setup(void)
{
	/* Neighbours keep the span (and the poisoned bytes) in place. */
	uintptr_t h = 0;
	for (int i = 0; i < 64; i++) {
		unsigned char *p = gort_alloc(TSIZE, GORT_NOSCAN);
		memset(p, 0x77, TSIZE);
		if (i == 40)
			h = hide(p);
		else
			canary_keep[i] = p;
	}
	return h;
}

static NOINLINE int poisoned(uintptr_t h, size_t size)
{
	const volatile unsigned char *p = unhide(h);
	for (size_t i = 0; i < size; i++)
		if (p[i] != 0xde) {
			fprintf(stderr, "    byte %zu of the dropped object %p is 0x%02x\n", i, (void *)p, p[i]);
			return 0;
		}
	return 1;
}

static NOINLINE void test_poison_canary(void)
{
	uintptr_t h = canary_setup();
	wipe_stack(); /* canary_setup's dead frame, where gc_clean's goes */
	gc_clean();
	CHECKF(poisoned(h, TSIZE), "a dropped object is not poisoned with 0xde: is GORTDEBUG=gcpoison=1 in effect?");
	for (int i = 0; i < 64; i++)
		canary_keep[i] = NULL;
}

/* --- a local variable */

static NOINLINE int local_phase(uintptr_t h, struct fin_rec *r)
{
	void *volatile local = unhide(h);
	int ok = alive(h, TSIZE, GORT_NOSCAN, 0xa1, r, "local");
	if (ok)
		gort_set_finalizer(local, on_final, r);
	local = NULL;
	return ok;
}

static NOINLINE void test_root_local(void)
{
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xa1);
	REQUIRE(local_phase(h, r));
	CHECK(dies(h, r, "local"));
}

/* --- a callee-saved register of this thread
 *
 * The pointer is made (un-XORed) inside a register variable and is never
 * stored by this function.  Guaranteed: the value is live only in machine
 * state across gort_gc(), so wherever it is when the collector runs (still
 * in a callee-saved register, which the collector's own frame saves with
 * __builtin_unwind_init, or spilled by some callee's prologue below this
 * frame) a correct collector finds it.  Not guaranteed: that the compiler
 * made no stack copy of its own (then the stack, not the register, keeps
 * it); the other thread's case below pins the register for certain.  On
 * other architectures the case degenerates to a local. */
static NOINLINE int register_phase(uintptr_t h, struct fin_rec *r)
{
	int ok;
#if defined(__x86_64__)
	register uintptr_t reg __asm__("r15") = h;
	__asm__ volatile("xorq %1, %0" : "+r"(reg) : "r"(HIDE_KEY));
	ok = alive(h, TSIZE, GORT_NOSCAN, 0xa2, r, "register");
	__asm__ volatile("" : "+r"(reg));
	if (ok)
		gort_set_finalizer((void *)reg, on_final, r);
	reg = 0;
	__asm__ volatile("" : "+r"(reg));
#elif defined(__aarch64__)
	register uintptr_t reg __asm__("x21") = h;
	__asm__ volatile("eor %0, %0, %1" : "+r"(reg) : "r"(HIDE_KEY));
	ok = alive(h, TSIZE, GORT_NOSCAN, 0xa2, r, "register");
	__asm__ volatile("" : "+r"(reg));
	if (ok)
		gort_set_finalizer((void *)reg, on_final, r);
	reg = 0;
	__asm__ volatile("" : "+r"(reg));
#else
	void *volatile local = unhide(h);
	ok = alive(h, TSIZE, GORT_NOSCAN, 0xa2, r, "register");
	if (ok)
		gort_set_finalizer(local, on_final, r);
	local = NULL;
#endif
	return ok;
}

static NOINLINE void test_root_register(void)
{
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xa2);
	REQUIRE(register_phase(h, r));
	CHECK(dies(h, r, "register"));
}

/* --- a global, a static in a function */

void *volatile g_root;

static NOINLINE void set_global(uintptr_t h)
{
	g_root = h ? unhide(h) : NULL;
}

static NOINLINE void test_root_global(void)
{
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xa3);
	set_global(h);
	REQUIRE(alive(h, TSIZE, GORT_NOSCAN, 0xa3, NULL, "global"));
	arm(h, r);
	CHECK(alive(h, TSIZE, GORT_NOSCAN, 0xa3, r, "global (finalizer set)"));
	set_global(0);
	CHECK(dies(h, r, "global"));
}

static void *volatile *static_slot(void)
{
	static void *volatile slot;
	return &slot;
}

static NOINLINE void set_static(uintptr_t h)
{
	*static_slot() = h ? unhide(h) : NULL;
}

static NOINLINE void test_root_function_static(void)
{
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xa4);
	set_static(h);
	REQUIRE(alive(h, TSIZE, GORT_NOSCAN, 0xa4, NULL, "static"));
	arm(h, r);
	set_static(0);
	CHECK(dies(h, r, "static"));
}

/* --- a shared object's data: libc's stdin FILE (in libc's .data) keeps a
 * buffer given to setvbuf.  stdin is never read by this program. */

static NOINLINE void stdin_buffer(uintptr_t h, size_t size)
{
	if (h)
		setvbuf(stdin, unhide(h), _IOFBF, size);
	else
		setvbuf(stdin, NULL, _IONBF, 0);
}

static NOINLINE void test_root_shared_object_data(void)
{
#if defined(__GLIBC__)
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(4096, GORT_NOSCAN, 0xa5);
	stdin_buffer(h, 4096);
	REQUIRE(alive(h, 4096, GORT_NOSCAN, 0xa5, NULL, "libc data"));
	arm(h, r);
	stdin_buffer(0, 0);
	CHECK(dies(h, r, "libc data"));
#else
	printf("--- SKIP: test_root_shared_object_data (not glibc)\n");
#endif
}

/* --- gort_add_roots / gort_remove_roots */

static NOINLINE void range_store(void **slot, uintptr_t h)
{
	gort_store(slot, h ? unhide(h) : NULL);
}

static NOINLINE void test_root_added_range(void)
{
	struct fin_rec *r1 = new_rec(), *r2 = new_rec();
	void **block = calloc(512, sizeof(void *));
	void **other = calloc(64, sizeof(void *));
	REQUIRE(block && other);
	gort_add_roots(block, 512 * sizeof(void *));
	gort_add_roots(other, 64 * sizeof(void *));
	uintptr_t h1 = new_target(TSIZE, GORT_NOSCAN, 0xa6);
	uintptr_t h2 = new_target(TSIZE, GORT_NOSCAN, 0xa7);
	range_store(&block[511], h1); /* the range's last word */
	range_store(&other[3], h2);
	REQUIRE(alive(h1, TSIZE, GORT_NOSCAN, 0xa6, NULL, "added range (last word)"));
	CHECK(intact(h2, TSIZE, 0xa7, "second added range"));
	arm(h1, r1);
	arm(h2, r2);
	/* Removed, the range still holds the pointer but is not a root; the
	 * other range is unaffected. */
	gort_remove_roots(block);
	CHECK(dies(h1, r1, "removed range"));
	CHECK(holds(&block[511], h1));
	CHECK(intact(h2, TSIZE, 0xa7, "second added range, after removing the first"));
	CHECKF(!fin_ran(r2), "removing one range dropped another");
	range_store(&other[3], 0);
	CHECK(dies(h2, r2, "second added range"));
	gort_remove_roots(other);
	free(block);
	free(other);
}

/* The manual heap is not scanned: a GC pointer kept only in gort_malloc'd
 * memory does not keep its object (gort.h). */
static NOINLINE void test_manual_heap_not_a_root(void)
{
	struct fin_rec *r = new_rec();
	void **m = gort_malloc(256);
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xa8);
	arm(h, r);
	range_store(&m[5], h);
	CHECK(dies(h, r, "pointer in gort_malloc memory"));
	gort_free(m);
}

/* --- other threads: stopped and scanned */

static volatile int spin_quit, spin_ready;
static int thread_ok;

static void *spin_local(void *arg)
{
	void *volatile local = unhide((uintptr_t)arg);
	spin_ready = 1;
	while (!spin_quit)
		; /* never calls into gort: only the stop signal reaches it */
	thread_ok = intact(hide(local), TSIZE, 0xb1, "spinner's local (seen by the spinner)");
	local = NULL;
	return NULL;
}

static NOINLINE void test_root_spinning_thread(void)
{
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xb1);
	spin_quit = spin_ready = 0;
	thread_ok = 0;
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, spin_local, (void *)h) == 0);
	while (!spin_ready)
		usleep(100);
	int ok = alive(h, TSIZE, GORT_NOSCAN, 0xb1, NULL, "spinner's local");
	CHECK(ok);
	if (ok) {
		arm(h, r);
		CHECK(alive(h, TSIZE, GORT_NOSCAN, 0xb1, r, "spinner's local (finalizer set)"));
	}
	spin_quit = 1;
	pthread_join(t, NULL);
	CHECK(thread_ok);
	if (ok)
		CHECK(dies(h, r, "spinner's local after the thread exited"));
}

/* The only copy of the pointer is in a callee-saved register of a thread
 * spinning in plain code: the saved signal context is the root. */
static void *spin_register(void *arg)
{
	uintptr_t h = (uintptr_t)arg;
#if defined(__x86_64__)
	register uintptr_t reg __asm__("r12") = h;
	__asm__ volatile("xorq %1, %0" : "+r"(reg) : "r"(HIDE_KEY));
	spin_ready = 1;
	while (!spin_quit)
		__asm__ volatile("" : "+r"(reg));
	__asm__ volatile("xorq %1, %0" : "+r"(reg) : "r"(HIDE_KEY));
	thread_ok = reg == h && intact(h, TSIZE, 0xb2, "spinner's register (seen by the spinner)");
#elif defined(__aarch64__)
	register uintptr_t reg __asm__("x20") = h;
	__asm__ volatile("eor %0, %0, %1" : "+r"(reg) : "r"(HIDE_KEY));
	spin_ready = 1;
	while (!spin_quit)
		__asm__ volatile("" : "+r"(reg));
	__asm__ volatile("eor %0, %0, %1" : "+r"(reg) : "r"(HIDE_KEY));
	thread_ok = reg == h && intact(h, TSIZE, 0xb2, "spinner's register (seen by the spinner)");
#else
	void *volatile local = unhide(h);
	spin_ready = 1;
	while (!spin_quit)
		;
	thread_ok = intact(hide(local), TSIZE, 0xb2, "spinner's local");
#endif
	return NULL;
}

static NOINLINE void test_root_other_thread_register(void)
{
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xb2);
	spin_quit = spin_ready = 0;
	thread_ok = 0;
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, spin_register, (void *)h) == 0);
	while (!spin_ready)
		usleep(100);
	int ok = alive(h, TSIZE, GORT_NOSCAN, 0xb2, NULL, "spinner's register");
	CHECK(ok);
	if (ok)
		arm(h, r);
	spin_quit = 1;
	pthread_join(t, NULL);
	CHECK(thread_ok);
	if (ok)
		CHECK(dies(h, r, "spinner's register after the thread exited"));
}

static int pipefd[2];

static void *reader_local(void *arg)
{
	void *volatile local = unhide((uintptr_t)arg);
	char c;
	spin_ready = 1;
	ssize_t n = read(pipefd[0], &c, 1); /* blocks: the pointer is only on this stack */
	thread_ok = n == 1 && intact(hide(local), TSIZE, 0xb3, "reader's local (seen by the reader)");
	local = NULL;
	return NULL;
}

static NOINLINE void test_root_blocked_thread(void)
{
	struct fin_rec *r = new_rec();
	REQUIRE(pipe(pipefd) == 0);
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xb3);
	spin_ready = 0;
	thread_ok = 0;
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, reader_local, (void *)h) == 0);
	while (!spin_ready)
		usleep(100);
	usleep(10000); /* into read(2); if not yet, it is stopped wherever it is */
	int ok = alive(h, TSIZE, GORT_NOSCAN, 0xb3, NULL, "blocked reader's local");
	CHECK(ok);
	if (ok)
		arm(h, r);
	REQUIRE(write(pipefd[1], "x", 1) == 1);
	pthread_join(t, NULL);
	CHECK(thread_ok);
	if (ok)
		CHECK(dies(h, r, "blocked reader's local after the thread exited"));
	close(pipefd[0]);
	close(pipefd[1]);
}

/* The argument of a new thread is its only reference: the start routine
 * waits for several collections before it looks. */
static void *arg_checker(void *arg)
{
	unsigned char *volatile p = arg;
	while (!spin_quit)
		usleep(1000);
	thread_ok = intact(hide(p), TSIZE, 0xb4, "thread argument");
	return NULL;
}

static NOINLINE int start_with_arg(pthread_t *t, uintptr_t h)
{
	return pthread_create(t, NULL, arg_checker, unhide(h));
}

static NOINLINE void test_root_thread_argument(void)
{
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xb4);
	spin_quit = 0;
	thread_ok = 0;
	pthread_t t;
	REQUIRE(start_with_arg(&t, h) == 0);
	CHECK(alive(h, TSIZE, GORT_NOSCAN, 0xb4, NULL, "thread argument"));
	spin_quit = 1;
	pthread_join(t, NULL);
	CHECK(thread_ok);
}

/* --- precise objects: pointer fields count, other words do not */

struct holder {
	uint64_t before;
	void *ptr;
	uintptr_t addr; /* an address in a non-pointer field */
	uint64_t after;
};
GORT_TYPE(holder_type, struct holder, ptr);

struct holder *volatile g_holder;

static NOINLINE void holder_setup(uintptr_t hp, uintptr_t ha)
{
	struct holder *x = gort_new(&holder_type);
	x->before = x->after = 0x1234;
	GORT_STORE(x->ptr, unhide(hp));
	x->addr = (uintptr_t)unhide(ha);
	g_holder = x;
}

static NOINLINE void test_root_typed_field(void)
{
	struct fin_rec *rp = new_rec(), *ra = new_rec();
	uintptr_t hp = new_target(TSIZE, GORT_NOSCAN, 0xc1);
	uintptr_t ha = new_target(TSIZE, GORT_NOSCAN, 0xc2);
	arm(ha, ra);
	holder_setup(hp, ha);
	REQUIRE(alive(hp, TSIZE, GORT_NOSCAN, 0xc1, NULL, "typed pointer field"));
	/* Precise: the address in a non-pointer field keeps nothing. */
	CHECK(dies(ha, ra, "target of a non-pointer field"));
	CHECK(holds(&g_holder->addr, ha) && g_holder->before == 0x1234 && g_holder->after == 0x1234);
	arm(hp, rp);
	CHECK(alive(hp, TSIZE, GORT_NOSCAN, 0xc1, rp, "typed pointer field (finalizer set)"));
	g_holder = NULL;
	CHECK(dies(hp, rp, "typed pointer field"));
}

/* Typed arrays: the pointer fields of every element, and only those. */
struct elem {
	uintptr_t addr;
	void *ptr;
	uint64_t id;
	uint64_t pad;
};
GORT_TYPE(elem_type, struct elem, ptr);

struct elem *volatile g_array;

static NOINLINE void array_setup(size_t n, size_t ip, uintptr_t hp, size_t ia, uintptr_t ha)
{
	struct elem *a = gort_new_array(&elem_type, n);
	for (size_t i = 0; i < n; i++)
		a[i].id = i;
	GORT_STORE(a[ip].ptr, unhide(hp));
	a[ia].addr = (uintptr_t)unhide(ha);
	g_array = a;
}

static NOINLINE void typed_array_case(size_t n, size_t ip, size_t ia, unsigned char pat, const char *what)
{
	struct fin_rec *rp = new_rec(), *ra = new_rec();
	uintptr_t hp = new_target(TSIZE, GORT_NOSCAN, pat);
	uintptr_t ha = new_target(TSIZE, GORT_NOSCAN, pat + 1);
	arm(ha, ra);
	array_setup(n, ip, hp, ia, ha);
	if (!alive(hp, TSIZE, GORT_NOSCAN, pat, NULL, what)) {
		CHECKF(0, "%s", what);
		return;
	}
	CHECKF(dies(ha, ra, what), "%s: address in a non-pointer field kept its target", what);
	int ids = 1;
	for (size_t i = 0; i < n; i++)
		ids &= g_array[i].id == i;
	CHECKF(ids, "%s: element ids changed", what);
	arm(hp, rp);
	g_array = NULL;
	CHECKF(dies(hp, rp, what), "%s", what);
}

static NOINLINE void test_root_typed_array(void)
{
	/* 10 x 32 B: a small typed array; 2000 x 32 B = 64000 B: a large one,
	 * the pointer past the first 32 KiB. */
	typed_array_case(10, 7, 8, 0xc3, "small typed array, element 7");
	typed_array_case(2000, 1000, 1500, 0xc5, "large typed array, element 1000");
	typed_array_case(20000, 19999, 19998, 0xc7, "640 KB typed array, last element");
}

/* --- interior pointers */

static NOINLINE void set_global_interior(uintptr_t h, size_t off)
{
	g_root = (char *)unhide(h) + off;
}

static NOINLINE void test_root_interior_pointer(void)
{
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xd1);
	set_global_interior(h, 40);
	REQUIRE(alive(h, TSIZE, GORT_NOSCAN, 0xd1, NULL, "interior pointer (+40)"));
	set_global_interior(h, TSIZE - 1);
	REQUIRE(alive(h, TSIZE, GORT_NOSCAN, 0xd1, NULL, "interior pointer (last byte)"));
	arm(h, r);
	set_global(0);
	CHECK(dies(h, r, "interior pointer"));

	/* Into a large object, megabytes in. */
	struct fin_rec *rl = new_rec();
	size_t big = (3 << 20) + 100;
	uintptr_t hl = new_target(big, GORT_NOSCAN, 0xd2);
	set_global_interior(hl, (2 << 20) + 12345);
	REQUIRE(alive(hl, big, GORT_NOSCAN, 0xd2, NULL, "interior pointer into a large object"));
	arm(hl, rl);
	set_global(0);
	CHECK(dies(hl, rl, "interior pointer into a large object"));
}

/* --- conservative objects, small and large */

static NOINLINE void cons_setup(size_t size, size_t off, uintptr_t h)
{
	char *x = gort_alloc(size, 0);
	memset(x, 0x3c, size);
	gort_store((void **)(x + off), unhide(h));
	g_root = x;
}

static NOINLINE void cons_case(size_t size, size_t off, unsigned char pat, const char *what)
{
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, pat);
	cons_setup(size, off, h);
	if (!alive(h, TSIZE, GORT_NOSCAN, pat, NULL, what)) {
		CHECKF(0, "%s", what);
		return;
	}
	arm(h, r);
	set_global(0);
	CHECKF(dies(h, r, what), "%s", what);
}

static NOINLINE void test_root_conservative_object(void)
{
	cons_case(256, 17 * 8, 0xd3, "conservative 256 B object, word 17");
	cons_case(32768, 32768 - 8, 0xd4, "conservative 32 KiB object, last word");
}

static NOINLINE void test_root_large_conservative_object(void)
{
	cons_case(1 << 20, 900 << 10, 0xd5, "1 MiB conservative object, offset 900 KiB");
	cons_case(1 << 20, (1 << 20) - 8, 0xd6, "1 MiB conservative object, last word");
	cons_case((1 << 20) + 24, (1 << 20) + 16, 0xd7, "1 MiB + 24 B conservative object, last word");
}

/* --- a long chain from one global: marking must not recurse */

struct cnode {
	struct cnode *next;
	uint64_t id;
	uint64_t check;
};
GORT_TYPE(cnode_type, struct cnode, next);

#define CHAIN 100000
#define CHECKSUM(id) ((id) * 0x9e3779b97f4a7c15ull + 1)

struct cnode *volatile g_chain;

/* Built in allocation order (append), so that a stale stack copy is of a
 * late node and keeps little. */
static NOINLINE uintptr_t chain_build(int typed)
{
	struct cnode *head = NULL, *tail = NULL;
	for (uint64_t i = 0; i < CHAIN; i++) {
		struct cnode *n = typed ? gort_new(&cnode_type) : gort_alloc(sizeof *n, 0);
		n->id = i;
		n->check = CHECKSUM(i);
		if (tail)
			GORT_STORE(tail->next, n);
		else
			head = n;
		tail = n;
	}
	g_chain = head;
	return hide(tail);
}

static NOINLINE int chain_walk(void)
{
	uint64_t i = 0;
	for (struct cnode *n = g_chain; n; n = n->next, i++) {
		if (n->id != i || n->check != CHECKSUM(i)) {
			fprintf(stderr, "    chain node %llu at %p: id %llu check %#llx\n", (unsigned long long)i,
				(void *)n, (unsigned long long)n->id, (unsigned long long)n->check);
			return 0;
		}
	}
	if (i != CHAIN)
		fprintf(stderr, "    chain has %llu nodes, want %d\n", (unsigned long long)i, CHAIN);
	return i == CHAIN;
}

static NOINLINE void chain_case(int typed)
{
	const char *what = typed ? "typed chain" : "conservative chain";
	struct fin_rec *r = new_rec();
	uintptr_t tail = chain_build(typed);
	for (int round = 0; round < 3; round++) {
		gc_clean();
		burst(sizeof(struct cnode), 0);
		CHECKF(chain_walk(), "%s, round %d", what, round);
	}
	gort_memstats m0, m1;
	arm(tail, r);
	gort_read_memstats(&m0);
	g_chain = NULL;
	CHECKF(dies(tail, r, what), "%s: tail", what);
	gc_clean();
	gort_read_memstats(&m1);
	if (DEATH_CHECKS)
		CHECKF(m1.frees - m0.frees >= CHAIN, "%s: %llu frees after dropping it, want >= %d", what,
		       (unsigned long long)(m1.frees - m0.frees), CHAIN);
}

static NOINLINE void test_root_long_chain(void)
{
	chain_case(1);
	chain_case(0);
}

/* --- a wide fan-out: one array reaching 100000 objects */

#define WIDE 100000
void **volatile g_wide;

static NOINLINE void wide_setup(void)
{
	void **a = gort_alloc(WIDE * sizeof(void *), 0);
	for (size_t i = 0; i < WIDE; i++) {
		uint64_t *x = gort_alloc(24, GORT_NOSCAN);
		x[0] = i;
		x[1] = CHECKSUM(i);
		x[2] = ~i;
		gort_store(&a[i], x);
	}
	g_wide = a;
}

static NOINLINE int wide_check(void)
{
	for (size_t i = 0; i < WIDE; i++) {
		const uint64_t *x = g_wide[i];
		if (x[0] != i || x[1] != CHECKSUM(i) || x[2] != ~i) {
			fprintf(stderr, "    wide[%zu] at %p: %#llx %#llx %#llx\n", i, (const void *)x,
				(unsigned long long)x[0], (unsigned long long)x[1], (unsigned long long)x[2]);
			return 0;
		}
	}
	return 1;
}

static NOINLINE void test_root_wide_array(void)
{
	wide_setup();
	for (int round = 0; round < 3; round++) {
		gc_clean();
		burst(24, GORT_NOSCAN);
		CHECKF(wide_check(), "round %d", round);
	}
	g_wide = NULL;
}

/* --- GORT_NOSCAN objects keep nothing */

static NOINLINE void noscan_setup(size_t size, size_t off, uintptr_t h)
{
	char *x = gort_alloc(size, GORT_NOSCAN);
	memset(x, 0x5e, size);
	*(void **)(x + off) = unhide(h);
	g_root = x;
}

struct noptrs {
	uint64_t a;
	void *looks_like_a_pointer;
	uint64_t b;
};
GORT_TYPE_NOPTRS(noptrs_type, struct noptrs);

static NOINLINE uintptr_t noptrs_setup(uintptr_t h)
{
	struct noptrs *x = gort_new(&noptrs_type);
	x->a = x->b = 7;
	x->looks_like_a_pointer = unhide(h);
	g_root = x;
	return hide(x);
}

static NOINLINE void test_noscan_keeps_nothing(void)
{
	static const struct {
		size_t size, off;
	} cases[] = {{64, 8}, {1 << 20, 900 << 10}};
	for (size_t i = 0; i < 2; i++) {
		struct fin_rec *r = new_rec();
		uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xe1);
		arm(h, r);
		noscan_setup(cases[i].size, cases[i].off, h);
		CHECKF(dies(h, r, "held by a noscan object"), "noscan holder of %zu bytes", cases[i].size);
		/* The holder itself is alive and untouched. */
		const unsigned char *x = g_root;
		CHECK(x[0] == 0x5e && x[cases[i].size - 1] == 0x5e);
		CHECK(holds(x + cases[i].off, h));
		set_global(0);
	}
	struct fin_rec *r = new_rec();
	uintptr_t h = new_target(TSIZE, GORT_NOSCAN, 0xe2);
	arm(h, r);
	uintptr_t hx = noptrs_setup(h);
	CHECK(dies(h, r, "held by a GORT_TYPE_NOPTRS object"));
	CHECK(((struct noptrs *)unhide(hx))->a == 7);
	set_global(0);
}

/* Each case starts on a clean stack: main's frame is shared by all of
 * them, and what one case's helpers left below it must not root the next
 * case's targets. */
#define GC_RUN(fn)                   \
	do {                         \
		wipe_stack();        \
		RUN(fn);             \
	} while (0)

/* Cases that collect while other threads of the program run: not under
 * ThreadSanitizer, which cannot deliver the stop signal to a thread
 * spinning in plain code (see test_stw). */
#ifdef UNDER_TSAN
#define GC_RUN_THREADS(fn) \
	((void)fn, printf("--- SKIP: %s (ThreadSanitizer defers the stop signals of running threads)\n", #fn))
#else
#define GC_RUN_THREADS(fn) GC_RUN(fn)
#endif

int main(int argc, char **argv)
{
	(void)argc;
	reexec_with(argv, "gcpoison=1");
#ifdef UNDER_TSAN
	alarm(600); /* ThreadSanitizer runs this 5-15 times slower */
#else
	alarm(120); /* a hang (a lost wake-up, a deadlock) fails the program */
#endif
	if (!DEATH_CHECKS)
		printf("--- SKIP: death checks (ThreadSanitizer defers the stop signals: gort's threads' stale contexts "
		       "keep dead objects)\n");
	GC_RUN(test_poison_canary);
	GC_RUN(test_root_local);
	GC_RUN(test_root_register);
	GC_RUN(test_root_global);
	GC_RUN(test_root_function_static);
	GC_RUN(test_root_shared_object_data);
	GC_RUN(test_root_added_range);
	GC_RUN(test_manual_heap_not_a_root);
	GC_RUN_THREADS(test_root_spinning_thread);
	GC_RUN_THREADS(test_root_other_thread_register);
	GC_RUN_THREADS(test_root_blocked_thread);
	GC_RUN_THREADS(test_root_thread_argument);
	GC_RUN(test_root_typed_field);
	GC_RUN(test_root_typed_array);
	GC_RUN(test_root_interior_pointer);
	GC_RUN(test_root_conservative_object);
	GC_RUN(test_root_large_conservative_object);
	GC_RUN(test_root_long_chain);
	GC_RUN(test_root_wide_array);
	GC_RUN(test_noscan_keeps_nothing);
	TEST_EXIT();
}
