/*
 * test_aslimit.c: the heap under an address-space limit (RLIMIT_AS,
 * ulimit -v), which counts every mapping, reserved or not.
 *
 * The test runs itself again with a 256 MiB limit set before the heap
 * starts.  Then:
 * - the heap keeps to its window at the first arena hint and grows 4 MiB
 *   at a time, not by 64 MiB arenas over ~300 MiB of reserved metadata
 *   (which would not fit: without the window the heap could not start);
 * - gort_malloc until it fails gives NULL and ENOMEM, every block intact,
 *   and after the blocks are freed the same room again, in another size
 *   class (the emptied spans are reclaimed when the heap cannot grow);
 * - the collected heap runs 1 GiB of garbage through a 16 MiB live set
 *   within the limit.
 * A sanitizer's runtime maps terabytes of shadow memory and cannot run
 * under such a limit: those builds say SKIP.
 */
#include "gort.h"
#include "testing.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)
#define LIMIT (256 * MIB)
#define WINDOW_LO ((uintptr_t)0xc0 << 32)
#define WINDOW_HI (WINDOW_LO + ((uintptr_t)64 << 30))

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

#ifndef UNDER_SANITIZER
static bool in_window(const void *p)
{
	return (uintptr_t)p >= WINDOW_LO && (uintptr_t)p < WINDOW_HI;
}

static void test_window(void)
{
	void *small = gort_malloc(100), *big = gort_malloc(3 * MIB);
	REQUIRE(small && big);
	CHECKF(in_window(small) && in_window(big), "%p %p", small, big);
	gort_memstats m;
	gort_read_memstats(&m);
	/* A few 4 MiB steps, not a 64 MiB arena. */
	CHECKF(m.heap_sys <= 16 * MIB, "heap_sys %llu MiB", (unsigned long long)(m.heap_sys / MIB));
	gort_free(small);
	gort_free(big);
}

struct block {
	struct block *next;
	size_t n;
};

/* Blocks of size until gort_malloc fails; returns how many, *err = errno. */
static size_t fill(size_t size, struct block **head, int *err)
{
	size_t n = 0;
	*head = NULL;
	for (;;) {
		errno = 0;
		struct block *b = gort_malloc(size);
		if (!b) {
			*err = errno;
			return n;
		}
		b->next = *head;
		b->n = n;
		((unsigned char *)b)[size - 1] = (unsigned char)n;
		*head = b;
		n++;
	}
}

/* Frees the blocks; false if one lost its contents. */
static bool drain(struct block *b, size_t n, size_t size)
{
	bool ok = true;
	for (; b; n--) {
		struct block *next = b->next;
		ok &= b->n == n - 1 && ((unsigned char *)b)[size - 1] == (unsigned char)(n - 1);
		gort_free(b);
		b = next;
	}
	return ok && n == 0;
}

static void test_malloc_until_enomem(void)
{
	struct block *head;
	int err = 0;
	size_t n = fill(96, &head, &err);
	CHECKF(err == ENOMEM, "errno %d", err);
	CHECKF(n * 96 > LIMIT / 2, "only %zu MiB", n * 96 / MIB);
	CHECK(drain(head, n, 96));
	/* Another class, then large blocks: the spans the first fill emptied
	 * must come back to the page heap for them. */
	size_t m = fill(2000, &head, &err);
	CHECKF(err == ENOMEM, "errno %d", err);
	CHECKF(m * 2000 + 8 * MIB >= n * 96, "%zu MiB of 96 B, then %zu MiB of 2000 B", n * 96 / MIB,
	       m * 2000 / MIB);
	CHECK(drain(head, m, 2000));
	size_t k = fill(MIB, &head, &err);
	CHECKF(err == ENOMEM, "errno %d", err);
	CHECKF(k * MIB + 8 * MIB >= n * 96, "%zu MiB of 96 B, then %zu MiB of 1 MiB", n * 96 / MIB, k);
	CHECK(drain(head, k, MIB));
}

static void test_gc_heap_under_limit(void)
{
	enum { LIVE = 256 };
	void **live = gort_alloc(LIVE * sizeof(void *), 0);
	REQUIRE(live);
	for (size_t i = 0; i < (1024 * MIB) / (64 << 10); i++) {
		char *p = gort_alloc(64 << 10, GORT_NOSCAN);
		REQUIRE(p);
		p[0] = p[(64 << 10) - 1] = (char)i;
		live[i % LIVE] = p;
	}
	gort_memstats m;
	gort_read_memstats(&m);
	CHECKF(m.num_gc > 0, "no collection");
	CHECKF(m.heap_sys < LIMIT, "heap_sys %llu MiB", (unsigned long long)(m.heap_sys / MIB));
	gort_keep_alive(live);
}
#endif

int main(int argc, char **argv)
{
	(void)argc;
#ifdef UNDER_SANITIZER
	(void)argv;
	(void)t_failed_case;
	(void)t_failures;
	printf("--- SKIP: test_aslimit (a sanitizer's shadow memory does not fit under RLIMIT_AS)\n");
	return 0;
#else
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur != LIMIT) {
		/* The heap looks at the limit when it starts: set it and start
		 * again. */
		rl.rlim_cur = LIMIT;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < LIMIT)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_AS, &rl) != 0) {
			perror("setrlimit");
			return 1;
		}
		execv("/proc/self/exe", argv);
		perror("execv");
		return 1;
	}
	RUN(test_window);
	RUN(test_malloc_until_enomem);
	RUN(test_gc_heap_under_limit);
	TEST_EXIT();
#endif
}
