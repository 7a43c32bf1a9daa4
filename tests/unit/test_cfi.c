/*
 * test_cfi.c: the DWARF call-frame walk (src/cfi.c) against libgcc's
 * unwinder, on code built without frame pointers (this file is compiled
 * with -fomit-frame-pointer): frames of many sizes, frames that need rbp
 * (alloca), deep recursion, in the main thread and in new threads, with
 * random shapes; every walk must return exactly libgcc's return addresses
 * and stop where it stops.
 */
#define _GNU_SOURCE
#include "cfi.h"
#include "testing.h"

#include <alloca.h>
#include <pthread.h>
#include <stdint.h>
#include <unwind.h>

#define MAXPCS 128

extern void *__libc_stack_end;
static __thread uintptr_t stack_top;

struct gcc_walk {
	uintptr_t pcs[MAXPCS];
	int n;
};

static _Unwind_Reason_Code gcc_cb(struct _Unwind_Context *ctx, void *arg)
{
	struct gcc_walk *w = arg;
	uintptr_t ip = _Unwind_GetIP(ctx);
	if (ip == 0 || w->n == MAXPCS)
		return _URC_END_OF_STACK;
	w->pcs[w->n++] = ip;
	return _URC_NO_REASON;
}

static int walks, mismatches;

/* Both walks from here; they must agree from the caller of this function
 * (their first entries are two different call sites in it). */
static TEST_NOIPA void compare_walks(void)
{
	uintptr_t pcs[MAXPCS];
	enum unwind_end end;
	int n = unwind_here(stack_top, pcs, MAXPCS, &end);
	struct gcc_walk g = {.n = 0};
	_Unwind_Backtrace(gcc_cb, &g);
	walks++;
	bool same = end != UNWIND_UNAVAILABLE && n == g.n && end == UNWIND_OUTERMOST;
	for (int i = 1; same && i < n; i++)
		same = pcs[i] == g.pcs[i];
	if (!same && mismatches++ < 3) {
		fprintf(stderr, "    walk %d: gort %d pcs (end %d), libgcc %d\n", walks, n, (int)end, g.n);
		for (int i = 0; i < n || i < g.n; i++)
			fprintf(stderr, "      %2d  %#18lx  %#18lx\n", i, i < n ? (unsigned long)pcs[i] : 0ul,
				i < g.n ? (unsigned long)g.pcs[i] : 0ul);
	}
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static TEST_NOIPA int frame(int depth);

/* Frames of different shapes: small, large, with alloca (addressed from
 * rbp even without frame pointers), and with many live registers. */
static TEST_NOIPA int small_frame(int depth)
{
	return frame(depth - 1) + 1;
}

static TEST_NOIPA int big_frame(int depth)
{
	volatile char buf[3000];
	buf[rnd(sizeof buf)] = (char)depth;
	return frame(depth - 1) + buf[0];
}

static TEST_NOIPA int alloca_frame(int depth)
{
	volatile char *p = alloca(16 + rnd(2000));
	p[0] = (char)depth;
	return frame(depth - 1) + p[0];
}

static TEST_NOIPA int regs_frame(int depth)
{
	volatile int a = depth, b = a * 3, c = b ^ 5, d = c + a, e = d * b;
	int r = frame(depth - 1);
	return r + a + b + c + d + e;
}

static TEST_NOIPA int frame(int depth)
{
	if (depth == 0) {
		compare_walks();
		return 0;
	}
	switch (rnd(4)) {
	case 0: return small_frame(depth);
	case 1: return big_frame(depth);
	case 2: return alloca_frame(depth);
	default: return regs_frame(depth);
	}
}

static void *random_walks(void *arg)
{
	pthread_attr_t at;
	void *lo;
	size_t size;
	if (arg) {
		pthread_getattr_np(pthread_self(), &at);
		pthread_attr_getstack(&at, &lo, &size);
		pthread_attr_destroy(&at);
		stack_top = (uintptr_t)lo + size;
	} else {
		stack_top = (uintptr_t)__libc_stack_end;
	}
	for (int i = 0; i < 500; i++)
		frame(1 + (int)rnd(40));
	return NULL;
}

static void test_main_thread(void)
{
	walks = mismatches = 0;
	random_walks(NULL);
	CHECKF(mismatches == 0, "%d of %d walks differ from libgcc's", mismatches, walks);
}

static void test_threads(void)
{
	walks = mismatches = 0;
	for (int k = 0; k < 4; k++) {
		pthread_t t;
		pthread_create(&t, NULL, random_walks, (void *)1);
		pthread_join(t, NULL);
	}
	CHECKF(mismatches == 0, "%d of %d walks differ from libgcc's", mismatches, walks);
}

/* A walk stops at max, and at a stack bound below the frames. */
static TEST_NOIPA void test_limits(void)
{
	stack_top = (uintptr_t)__libc_stack_end;
	uintptr_t pcs[MAXPCS];
	enum unwind_end end;
	int n = unwind_here(stack_top, pcs, 2, &end);
	CHECK(n == 2 && end == UNWIND_MAX);
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	(void)here;
	n = unwind_here((uintptr_t)&pcs[0], pcs, MAXPCS, &end); /* the bound is below our caller's frame */
	CHECK(n >= 1 && n <= 2 && end == UNWIND_LOST);
}

int main(void)
{
	RUN(test_main_thread);
	RUN(test_threads);
	RUN(test_limits);
	TEST_EXIT();
}
