/*
 * test_scavenge.c: memory goes back to the kernel.
 *
 * 512 MiB (half in 1 KiB objects, half in 1 MiB objects) is allocated,
 * touched and freed; the background scavenger alone must bring RSS down
 * visibly, and gort_free_os_memory must then release the rest.  A second
 * case does the same with MADV_FREE selected and checks the accounting
 * (MADV_FREE lowers RSS only under memory pressure, so RSS is not judged).
 * A third frees only small objects and checks that the scavenger, started
 * in the middle of the frees, comes back for their spans within seconds;
 * a fourth, that spans freed by other threads go back once their owner
 * exits; a fifth, that a huge block goes back as it is freed; a sixth,
 * the scavenger's faster pace while the program is idle (the rule, and an
 * idle program's memory going back); a seventh, that a program which
 * gives back less than the scavenger's own cost never starts it; an
 * eighth, that a span listed centrally while a reclaim pass runs is news
 * for the next pass; a ninth, that the spans an exiting thread leaves
 * empty go straight back to the page heap; a tenth, that the pages of an
 * idle thread's kept spans whose objects others freed go back, and never
 * those of a span holding a live object; an eleventh, the same release
 * racing with owners that allocate and free (data checked); a twelfth,
 * that gort_free_os_memory waits for a release in flight, and that a fork
 * during one leaves the child its pages.
 */
#include "gort.h"
#include "debugvars.h"
#include "mcentral.h"
#include "mcache.h"
#include "mheap.h"
#include "sizeclass.h"
#include "os.h"
#include "scavenge.h"
#include "testing.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOTAL ((size_t)512 << 20)
#define SMALL 1024
#define LARGE ((size_t)1 << 20)
#define NSMALL (TOTAL / 2 / SMALL)
#define NLARGE (TOTAL / 2 / LARGE)
#define HUGE ((size_t)48 << 20)

static void *small_objs[NSMALL];
static void *large_objs[NLARGE];

static void fill_and_free(void)
{
	for (size_t i = 0; i < NSMALL; i++) {
		small_objs[i] = gort_malloc(SMALL);
		memset(small_objs[i], 1, SMALL);
	}
	for (size_t i = 0; i < NLARGE; i++) {
		large_objs[i] = gort_malloc(LARGE);
		memset(large_objs[i], 1, LARGE);
	}
}

static void free_all(void)
{
	for (size_t i = 0; i < NSMALL; i++)
		gort_free(small_objs[i]);
	for (size_t i = 0; i < NLARGE; i++)
		gort_free(large_objs[i]);
}

static double mib(uint64_t b)
{
	return (double)b / (1 << 20);
}

static void test_rss_falls(void)
{
#ifdef UNDER_TSAN
	/* ThreadSanitizer keeps shadow memory resident for every page touched,
	 * so RSS cannot show what the heap gave back. */
	printf("    SKIP: RSS checks under ThreadSanitizer (shadow memory stays resident)\n");
	fill_and_free();
	free_all();
	gort_free_os_memory();
	gort_memstats ms;
	gort_read_memstats(&ms);
	CHECKF(ms.heap_released >= TOTAL * 9 / 10, "released %.0f MiB idle %.0f MiB inuse %.0f MiB", mib(ms.heap_released), mib(ms.heap_idle), mib(ms.heap_inuse));
	return;
#endif
	uint64_t rss0 = os_rss_bytes();
	fill_and_free();
	uint64_t rss1 = os_rss_bytes();
	CHECKF(rss1 >= rss0 + TOTAL * 9 / 10, "rss only %.0f -> %.0f MiB after touching 512 MiB", mib(rss0), mib(rss1));
	free_all();
	/* The background scavenger, paced at ~1% CPU, must give back at
	 * least half within 8 s: it takes 2-3 s, and 8 s is below its 10 s
	 * idle backstop, so a lost wake-up fails here. */
	uint64_t rss2 = rss1;
	int64_t t0 = os_nanotime();
	while (os_nanotime() - t0 < 8000000000LL) {
		rss2 = os_rss_bytes();
		if (rss2 + TOTAL / 2 <= rss1)
			break;
		usleep(50000);
	}
	double secs = (double)(os_nanotime() - t0) / 1e9;
	printf("    rss %.0f MiB -> %.0f MiB touched -> %.0f MiB after %.1f s of background scavenging\n", mib(rss0),
	       mib(rss1), mib(rss2), secs);
	CHECKF(rss2 + TOTAL / 2 <= rss1, "background scavenger released only %.0f MiB", mib(rss1) - mib(rss2));
	gort_free_os_memory();
	uint64_t rss3 = os_rss_bytes();
	printf("    rss %.0f MiB after gort_free_os_memory\n", mib(rss3));
	CHECKF(rss3 <= rss0 + (24 << 20), "rss %.0f MiB after FreeOSMemory (started at %.0f)", mib(rss3), mib(rss0));
	gort_memstats m;
	gort_read_memstats(&m);
	CHECK(m.heap_released >= TOTAL * 9 / 10);
	CHECK(m.heap_idle - m.heap_released < (1 << 20));
}

/* Runs in a child started with GORTDEBUG=madvdontneed=0: the knob is read
 * once, since pages released one way must not be judged the other way. */
static int madv_free_child(void)
{
	debugvars_init();
	if (debug.madvdontneed != 0) {
		fprintf(stderr, "    GORTDEBUG=madvdontneed=0 was not applied\n");
		return 1;
	}
	fill_and_free();
	free_all();
	gort_free_os_memory();
	gort_memstats m;
	gort_read_memstats(&m);
	CHECK(m.heap_idle - m.heap_released < (1 << 20));
	/* Released pages under MADV_FREE may keep old data: calloc must
	 * still return zeroes. */
	for (size_t i = 0; i < 64; i++) {
		unsigned char *p = gort_calloc(1, LARGE);
		for (size_t k = 0; k < LARGE; k += 4096)
			if (p[k]) {
				CHECKF(0, "calloc returned dirty MADV_FREE memory");
				break;
			}
		large_objs[i] = p;
	}
	for (size_t i = 0; i < 64; i++)
		gort_free(large_objs[i]);
	/* A huge block is released as it is freed; under MADV_FREE its pages
	 * may come back dirty, and calloc must clear them. */
	unsigned char *h = gort_malloc(HUGE);
	memset(h, 0xab, HUGE);
	gort_free(h);
	h = gort_calloc(1, HUGE);
	for (size_t k = 0; k < HUGE; k += 4096)
		if (h[k]) {
			CHECKF(0, "calloc returned a dirty huge block after MADV_FREE");
			break;
		}
	gort_free(h);
	return t_failed_case;
}

/* A block of 32 MiB or more goes back to the kernel when it is freed, as
 * under glibc, jemalloc and mimalloc, not seconds later; smaller ones are
 * the scavenger's.  The page count says so under every build; RSS too
 * where it can be read. */
static void test_huge_free_releases(void)
{
	gort_memstats m0, m1;
	unsigned char *h = gort_malloc(HUGE);
	memset(h, 1, HUGE);
	uint64_t rss0 = os_rss_bytes();
	gort_read_memstats(&m0);
	gort_free(h);
	gort_read_memstats(&m1);
	uint64_t rss1 = os_rss_bytes();
	CHECKF(m1.heap_released >= m0.heap_released + HUGE, "released %.0f -> %.0f MiB", mib(m0.heap_released),
	       mib(m1.heap_released));
#ifndef UNDER_TSAN /* its shadow memory stays resident */
	CHECKF(rss1 + HUGE - (4 << 20) <= rss0, "rss %.0f -> %.0f MiB", mib(rss0), mib(rss1));
#else
	(void)rss0;
	(void)rss1;
#endif
	/* Released pages read as zero: calloc takes them without clearing. */
	unsigned char *z = gort_calloc(1, HUGE);
	for (size_t k = 0; k < HUGE; k += 4096)
		if (z[k]) {
			CHECKF(0, "calloc returned a dirty huge block");
			break;
		}
	gort_free(z);
}

/* In a child: mib MiB of 3000-byte objects allocated, written and freed
 * by this thread, which then only waits; at least want_mib of them must
 * be released within limit_s seconds. */
static int free_and_wait(size_t mib_total, uint64_t want_mib, double limit_s, const char *what)
{
	size_t n = (mib_total << 20) / 3000;
	void **objs = malloc(n * sizeof *objs); /* libc's: not part of gort's heap */
	if (!objs)
		return 1;
	for (size_t i = 0; i < n; i++) {
		objs[i] = gort_malloc(3000);
		memset(objs[i], 1, 3000);
	}
	gort_memstats m0, m;
	gort_read_memstats(&m0);
	for (size_t i = 0; i < n; i++)
		gort_free(objs[i]);
	free(objs);
	uint64_t want = m0.heap_released + (want_mib << 20);
	int64_t t0 = os_nanotime();
	do {
		usleep(20000);
		gort_read_memstats(&m);
	} while (m.heap_released < want && os_nanotime() - t0 < (int64_t)(limit_s * 1e9));
	printf("    %.0f MiB of %zu released %.2f s after the frees (%s)\n", mib(m.heap_released - m0.heap_released),
	       mib_total, (double)(os_nanotime() - t0) / 1e9, what);
	CHECKF(m.heap_released >= want, "only %.0f MiB released in %.1f s", mib(m.heap_released - m0.heap_released),
	       limit_s);
	return t_failed_case;
}

/* Small objects only (no large free to wake the scavenger), in a child so
 * that it starts during the frees as in a fresh program: the spans they
 * empty are listed centrally while it is starting or busy; it must still
 * come back for them rather than park until its 10 s backstop. */
static int small_only_child(void)
{
	return free_and_wait(128, 64, 5.0, "small objects only");
}

/* 512 MiB freed by a program that then only waits: 90% back in 10 s. */
static int idle_child(void)
{
	return free_and_wait(512, 512 / 10 * 9, 10.0, "then idle");
}

/* Runs in a child, with no scavenger yet: a thread allocates 64 MiB of
 * small objects and waits; the main thread frees them all (the spans stay
 * the allocating thread's until it looks at them) and allocates nothing
 * more.  When the thread exits, its spans are free, and they must go back
 * to the kernel without another allocation to start the scavenger. */
enum { XN = (64 << 20) / 3000 };
static void *xobjs[XN];
static int xstage;
static pthread_mutex_t xmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t xcv = PTHREAD_COND_INITIALIZER;

static void *x_alloc_then_wait(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < XN; i++) {
		xobjs[i] = gort_malloc(3000);
		memset(xobjs[i], 1, 3000);
	}
	pthread_mutex_lock(&xmu);
	xstage = 1;
	pthread_cond_broadcast(&xcv);
	while (xstage != 2)
		pthread_cond_wait(&xcv, &xmu);
	pthread_mutex_unlock(&xmu);
	return NULL;
}

static int thread_exit_child(void)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, x_alloc_then_wait, NULL) == 0);
	pthread_mutex_lock(&xmu);
	while (xstage != 1)
		pthread_cond_wait(&xcv, &xmu);
	pthread_mutex_unlock(&xmu);
	gort_memstats m0, m;
	gort_read_memstats(&m0);
	for (size_t i = 0; i < XN; i++)
		gort_free(xobjs[i]);
	pthread_mutex_lock(&xmu);
	xstage = 2;
	pthread_cond_broadcast(&xcv);
	pthread_mutex_unlock(&xmu);
	pthread_join(t, NULL);
	int64_t t0 = os_nanotime();
	do {
		usleep(20000);
		gort_read_memstats(&m);
	} while (m.heap_released < m0.heap_released + (32 << 20) && os_nanotime() - t0 < 5000000000LL);
	printf("    %.0f MiB in use, %.0f MiB released %.1f s after the allocating thread exited\n",
	       mib(m.heap_inuse), mib(m.heap_released - m0.heap_released), (double)(os_nanotime() - t0) / 1e9);
	CHECKF(m.heap_released >= m0.heap_released + (32 << 20), "only %.0f MiB released in 5 s",
	       mib(m.heap_released - m0.heap_released));
	return t_failed_case;
}

static void *churn_thread(void *arg)
{
	size_t n = (size_t)(uintptr_t)arg / 3000;
	void **objs = gort_malloc(n * sizeof *objs);
	for (size_t i = 0; i < n; i++) {
		objs[i] = gort_malloc(3000);
		memset(objs[i], 1, 3000);
	}
	for (size_t i = 0; i < n; i++)
		gort_free(objs[i]);
	gort_free(objs);
	return NULL;
}

/* In a fresh child: threads that churn 256 KiB and exit, and large blocks
 * freed, 512 KiB in all, do not start the scavenger (a thread with its
 * stack and cache costs more than it could release); 8 MiB freed does. */
static int small_program_child(void)
{
	for (int i = 0; i < 4; i++) {
		pthread_t t;
		CHECK(pthread_create(&t, NULL, churn_thread, (void *)(uintptr_t)(256 << 10)) == 0);
		pthread_join(t, NULL);
	}
	for (int i = 0; i < 8; i++)
		gort_free(gort_malloc(64 << 10));
	usleep(20000);
	CHECKF(!scavenger_running(), "the scavenger started for a program that freed 1.5 MiB of small churn");
	void *big[8];
	for (int i = 0; i < 8; i++)
		memset(big[i] = gort_malloc(1 << 20), 1, 1 << 20);
	for (int i = 0; i < 8; i++)
		gort_free(big[i]);
	gort_free(gort_malloc(64 << 10)); /* a span allocation kicks it */
	CHECKF(scavenger_running(), "8 MiB freed and the scavenger not started");
	return t_failed_case;
}

/* In a child with no scavenger (so no reclaim pass): a thread that freed
 * everything it allocated exits.  Its current span of each class and the
 * emptied span it kept (a class's last) must go back to the page heap,
 * not wait on a central list, empty, for a pass that may come late or,
 * here, never. */
static const size_t exit_sizes[] = {1024, 3072, 4096, 9000, 16384};
#define NEXIT (sizeof exit_sizes / sizeof exit_sizes[0])

static void *alloc_free_exit(void *arg)
{
	(void)arg;
	for (size_t k = 0; k < NEXIT; k++) {
		unsigned cls = size_to_class(exit_sizes[k]);
		size_t n = 2 * (size_t)manual_nelems[cls]; /* a kept span and a current one */
		void **objs = gort_malloc(n * sizeof *objs);
		for (size_t i = 0; i < n; i++)
			memset(objs[i] = gort_malloc(exit_sizes[k]), 1, exit_sizes[k]);
		for (size_t i = 0; i < n; i++)
			gort_free(objs[i]);
		gort_free(objs);
	}
	return NULL;
}

static int exit_empty_child(void)
{
	CHECK(!debug.scavenger);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, alloc_free_exit, NULL) == 0);
	pthread_join(t, NULL);
	for (size_t k = 0; k < NEXIT; k++) {
		unsigned cls = size_to_class(exit_sizes[k]);
		mcentral *c = &mheap_.central_manual[cls];
		spin_lock(&c->lock);
		uintptr_t listed = c->npartial;
		spin_unlock(&c->lock);
		mutex_lock(&mheap_.lock);
		uintptr_t spans = mheap_.spans_inuse[cls];
		mutex_unlock(&mheap_.lock);
		CHECKF(listed == 0 && spans == 0, "class of %zu B: %lu spans listed, %lu in use after the thread exited",
		       exit_sizes[k], (unsigned long)listed, (unsigned long)spans);
	}
	return t_failed_case;
}

/* Idle owners (mcache.c).  A thread fills spans of a few classes, keeps one
 * object of each class alive and waits; the main thread frees the rest.
 * The scavenger's pass over idle caches (run by hand here, with no
 * scavenger thread) must release most of the pages, leave the kept objects'
 * pages and contents alone, and the thread, woken, must allocate from its
 * released spans (zero pages) as from any others. */
enum { IDLE_N = 2000 };
static const size_t idle_sizes[] = {256, 1024, 3072};
#define NIDLE (sizeof idle_sizes / sizeof idle_sizes[0])
static unsigned char *idle_objs[NIDLE][IDLE_N];
static int idle_stage;
static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;

static void idle_wait_stage(int want)
{
	pthread_mutex_lock(&idle_mu);
	while (idle_stage != want)
		pthread_cond_wait(&idle_cv, &idle_mu);
	pthread_mutex_unlock(&idle_mu);
}

static void idle_set_stage(int v)
{
	pthread_mutex_lock(&idle_mu);
	idle_stage = v;
	pthread_cond_broadcast(&idle_cv);
	pthread_mutex_unlock(&idle_mu);
}

static size_t resident_pages(unsigned char *const *objs, size_t n, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), count = 0;
	uintptr_t last = 0;
	for (size_t i = 0; i < n; i++) {
		if (!objs[i])
			continue;
		for (uintptr_t p = (uintptr_t)objs[i] & ~(page - 1); p < (uintptr_t)objs[i] + size; p += page) {
			unsigned char v = 0;
			if (p != last && mincore((void *)p, page, &v) == 0 && (v & 1))
				count++;
			last = p;
		}
	}
	return count;
}

static void *idle_owner(void *arg)
{
	(void)arg;
	for (size_t k = 0; k < NIDLE; k++)
		for (size_t i = 0; i < IDLE_N; i++)
			memset(idle_objs[k][i] = gort_malloc(idle_sizes[k]), (int)(i & 0xff), idle_sizes[k]);
	idle_set_stage(1);
	idle_wait_stage(2); /* the main thread frees, and a pass records our count */
	unsigned char *late = gort_malloc(64); /* not idle for the next pass */
	idle_set_stage(3);
	idle_wait_stage(4); /* idle while the passes run */
	gort_free(late);
	/* Allocate again from the released spans: zero pages or not, each
	 * object must hold what is written to it. */
	for (size_t k = 0; k < NIDLE; k++) {
		unsigned char **again = gort_malloc(IDLE_N * sizeof *again);
		for (size_t i = 0; i < IDLE_N; i++)
			memset(again[i] = gort_malloc(idle_sizes[k]), 0x5a, idle_sizes[k]);
		for (size_t i = 0; i < IDLE_N; i++) {
			CHECK(again[i][0] == 0x5a && again[i][idle_sizes[k] - 1] == 0x5a);
			gort_free(again[i]);
		}
		gort_free(again);
	}
	return NULL;
}

/* Without membarrier(2) the pass releases nothing (mcache.c): say so. */
static bool idle_release_possible(void)
{
	if (os_membarrier())
		return true;
	printf("    *** SKIP: membarrier(2) is refused here, so idle owners' spans are never released\n");
	return false;
}

static int idle_owner_child(void)
{
	CHECK(!debug.scavenger);
	if (!idle_release_possible())
		return 0;
	pthread_t t;
	CHECK(pthread_create(&t, NULL, idle_owner, NULL) == 0);
	idle_wait_stage(1);
	/* Free all but one object per class, the one near the start, which
	 * lands in a span the thread filled early and keeps. */
	static unsigned char *freed[NIDLE][IDLE_N];
	memcpy(freed, idle_objs, sizeof freed);
	for (size_t k = 0; k < NIDLE; k++)
		freed[k][3] = NULL;
	for (size_t k = 0; k < NIDLE; k++)
		for (size_t i = 0; i < IDLE_N; i++)
			if (i != 3) {
				gort_free(idle_objs[k][i]);
				idle_objs[k][i] = NULL;
			}
	size_t before = 0, after = 0, freed_before = 0, freed_after = 0;
	for (size_t k = 0; k < NIDLE; k++)
		freed_before += resident_pages((unsigned char *const *)freed[k], IDLE_N, idle_sizes[k]);
	for (size_t k = 0; k < NIDLE; k++) {
		/* Fault them all in again for the count: freed objects' pages
		 * are resident, as they were written. */
		before += resident_pages((unsigned char *const *)idle_objs[k], IDLE_N, idle_sizes[k]);
	}
	mcache_release_idle_kept(false); /* records the thread's count */
	idle_set_stage(2);
	idle_wait_stage(3);
	/* The thread allocated since: left alone. */
	uintptr_t early = mcache_release_idle_kept(false);
	CHECKF(early == 0, "%lu bytes released from a thread that had just allocated", (unsigned long)early);
	uintptr_t released = mcache_release_idle_kept(false);
	printf("    %lu KiB of an idle thread's kept spans released\n", (unsigned long)(released >> 10));
	CHECKF(released >= (uintptr_t)IDLE_N * 256, "only %lu bytes released", (unsigned long)released);
	for (size_t k = 0; k < NIDLE; k++) {
		unsigned char *live = idle_objs[k][3];
		after += resident_pages((unsigned char *const *)&live, 1, idle_sizes[k]);
		CHECKF(live[0] == 3 && live[idle_sizes[k] - 1] == 3, "the live %zu-byte object lost its contents",
		       idle_sizes[k]);
	}
	CHECKF(after == before, "a live object's page was released (%zu of %zu resident)", after, before);
	for (size_t k = 0; k < NIDLE; k++)
		freed_after += resident_pages((unsigned char *const *)freed[k], IDLE_N, idle_sizes[k]);
	printf("    pages of the freed objects resident: %zu before the pass, %zu after\n", freed_before, freed_after);
	CHECKF(freed_after * 2 < freed_before, "%zu of %zu pages still resident", freed_after, freed_before);
	idle_set_stage(4);
	pthread_join(t, NULL);
	for (size_t k = 0; k < NIDLE; k++)
		gort_free(idle_objs[k][3]);
	return t_failed_case;
}

/* The release racing with owners that allocate and free: every pass runs
 * over every cache (all = true), idle or not.  Each round an owner fills
 * whole spans with objects it hands to its neighbour, who checks and frees
 * them (so those spans, kept by the owner, end up holding nothing: the
 * pass's prey, while the owner may be taking them back for its next
 * refills), and frees most of its objects itself (so its classes stay in
 * keep mode).  Every object must keep what was written to it. */
enum { RACE_THREADS = 3, RACE_LOCAL = 1024, RACE_HAND = 256, RACE_ROUNDS = 40 };
static unsigned char *_Atomic race_box[RACE_THREADS]; /* a handed-over batch, or NULL */
static int race_done; /* atomic */

static void race_fill(unsigned char *p, size_t n, unsigned char v)
{
	memset(p, v, n);
	memcpy(p, &n, sizeof n);
}

static void race_check_free(unsigned char *p)
{
	size_t n;
	memcpy(&n, p, sizeof n);
	for (size_t j = sizeof n; j < n; j++)
		if (p[j] != p[sizeof n]) {
			fprintf(stderr, "byte %zu of a %zu-byte object changed\n", j, n);
			abort();
		}
	gort_free(p);
}

static void race_free_batch(unsigned char **b)
{
	for (unsigned i = 0; b && b[i]; i++)
		race_check_free(b[i]);
	gort_free(b);
}

static void *race_owner(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;
	static const size_t sizes[] = {512, 2048};
	unsigned char **local = gort_malloc(RACE_LOCAL * sizeof *local);
	for (int r = 0; r < RACE_ROUNDS; r++) {
		size_t n = sizes[r & 1];
		for (unsigned i = 0; i < RACE_LOCAL / 2; i++)
			race_fill(local[i] = gort_malloc(n), n, (unsigned char)(me + i));
		unsigned char **hand = gort_malloc((RACE_HAND + 1) * sizeof *hand);
		for (unsigned i = 0; i < RACE_HAND; i++)
			race_fill(hand[i] = gort_malloc(n), n, (unsigned char)(0x80 + me + i));
		hand[RACE_HAND] = NULL;
		for (unsigned i = RACE_LOCAL / 2; i < RACE_LOCAL; i++)
			race_fill(local[i] = gort_malloc(n), n, (unsigned char)(me + i));
		/* Out for the neighbour on our right (ours again if it has not
		 * taken the last one); in from the one on our left. */
		unsigned char **mine = (unsigned char **)atomic_exchange(&race_box[me], (unsigned char *)hand);
		unsigned char **theirs =
			(unsigned char **)atomic_exchange(&race_box[(me + RACE_THREADS - 1) % RACE_THREADS], NULL);
		race_free_batch(mine);
		race_free_batch(theirs);
		for (unsigned i = 0; i < RACE_LOCAL; i++)
			race_check_free(local[i]);
		usleep(1000); /* idle between rounds: the neighbour frees our batch meanwhile */
	}
	gort_free(local);
	return NULL;
}

static void *race_scavenger(void *arg)
{
	(void)arg;
	uintptr_t bytes = 0;
	while (!load_acquire(&race_done)) {
		bytes += mcache_release_idle_kept(true);
		sched_yield();
	}
	return (void *)bytes;
}

static int idle_race_child(void)
{
	if (!idle_release_possible())
		return 0;
	pthread_t t[RACE_THREADS], sc;
	CHECK(pthread_create(&sc, NULL, race_scavenger, NULL) == 0);
	for (unsigned i = 0; i < RACE_THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, race_owner, (void *)(uintptr_t)i) == 0);
	for (unsigned i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	store_release(&race_done, 1);
	void *bytes;
	pthread_join(sc, &bytes);
	printf("    %lu KiB released from under owners at work\n", (unsigned long)((uintptr_t)bytes >> 10));
	CHECKF((uintptr_t)bytes > 0, "the race never released a span: it tested nothing");
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		race_free_batch((unsigned char **)atomic_exchange(&race_box[i], NULL));
	}
	return t_failed_case;
}

/* A program that keeps emptying and refilling spans while its free pages
 * stay under the goal wakes the scavenger for passes that release nothing.
 * After such a pass the scavenger rests (SCAVENGE_REST_NS, 5 ms) instead of
 * answering every wake-up: each costs the program a futex call and the
 * pass's walk of the central lists.  Without the rest this churn ran
 * ~26,000 passes a second, and 30% fewer rounds. */
enum { CHURN_BALLAST = (48 << 20) / 3000, CHURN_N = 1024, CHURN_MS = 400 };
static int churn_child(void)
{
	void **ballast = gort_malloc(CHURN_BALLAST * sizeof *ballast);
	for (size_t i = 0; i < CHURN_BALLAST; i++)
		memset(ballast[i] = gort_malloc(3000), 1, 3000);
	static void *obj[CHURN_N];
	scavenger_start();
	uint64_t p0 = scavenger_passes(), rounds = 0;
	int64_t t0 = os_nanotime();
	while (os_nanotime() - t0 < (int64_t)CHURN_MS * 1000000) {
		for (unsigned i = 0; i < CHURN_N; i++)
			*(char *)(obj[i] = gort_malloc(2048)) = 1;
		for (unsigned i = 0; i < CHURN_N; i++)
			gort_free(obj[i]);
		rounds++;
	}
	uint64_t passes = scavenger_passes() - p0;
	printf("    %llu passes in %d ms of churn (%llu rounds of %d spans' worth)\n", (unsigned long long)passes,
	       CHURN_MS, (unsigned long long)rounds, CHURN_N / 32);
	CHECKF(scavenger_running(), "the scavenger did not start");
	CHECKF(passes <= CHURN_MS / 5 + 20, "%llu passes: the scavenger answered every wake-up",
	       (unsigned long long)passes);
	for (size_t i = 0; i < CHURN_BALLAST; i++)
		gort_free(ballast[i]);
	gort_free(ballast);
	return t_failed_case;
}

/* gort_free_os_memory releases every free page before it returns, even
 * a run another thread holds for its madvise at that moment (such a run
 * counts neither free nor released, and an in-place realloc could not
 * grow into it); and a fork in the middle of a release leaves the child
 * the run as free pages, not as pages in use forever (nor its
 * gort_free_os_memory waiting for a release no thread will finish).
 * Another thread releases with its first run held 50 ms
 * (scavenge_test_hold_ns); meanwhile this one calls gort_free_os_memory,
 * then forks. */
enum { RW_BLOCKS = 16 };
static gort_memstats rw_base;

/* Every free page released, and the pages in use back where they were
 * before the blocks (a run held for release counts idle, not in use). */
static bool all_released(const char *who)
{
	gort_memstats m;
	gort_read_memstats(&m);
	CHECKF(m.heap_idle == m.heap_released, "%s: %llu KiB idle, %llu KiB released", who,
	       (unsigned long long)m.heap_idle >> 10, (unsigned long long)m.heap_released >> 10);
	CHECKF(m.heap_inuse <= rw_base.heap_inuse, "%s: %llu KiB in use, %llu KiB before", who,
	       (unsigned long long)m.heap_inuse >> 10, (unsigned long long)rw_base.heap_inuse >> 10);
	return m.heap_idle == m.heap_released && m.heap_inuse <= rw_base.heap_inuse;
}

static void *rw_release(void *arg)
{
	scavenge(0, true);
	return arg;
}

/* Frees RW_BLOCKS touched blocks and starts a slow release of them; returns
 * once that holds a run. */
static pthread_t rw_start_release(void)
{
	static void *b[RW_BLOCKS];
	for (unsigned i = 0; i < RW_BLOCKS; i++)
		memset(b[i] = gort_malloc(LARGE), 1, LARGE);
	for (unsigned i = 0; i < RW_BLOCKS; i++)
		gort_free(b[i]);
	store_relaxed(&scavenge_test_hold_ns, 50000000);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, rw_release, NULL) == 0);
	while (scavenge_releasing() == 0)
		sched_yield();
	store_relaxed(&scavenge_test_hold_ns, 0); /* the other releases: at once */
	return t;
}

static int release_wait_child(void)
{
	gort_free_os_memory();
	gort_read_memstats(&rw_base);

	pthread_t t = rw_start_release();
	gort_memstats held;
	gort_read_memstats(&held);
	CHECKF(held.heap_inuse <= rw_base.heap_inuse, "a run held for release counted in use: %llu KiB, %llu before",
	       (unsigned long long)held.heap_inuse >> 10, (unsigned long long)rw_base.heap_inuse >> 10);
	int64_t t0 = os_nanotime();
	gort_free_os_memory();
	int64_t waited = os_nanotime() - t0;
	printf("    gort_free_os_memory returned after %.1f ms\n", (double)waited / 1e6);
	all_released("after gort_free_os_memory");
	/* The other thread held its run ~50 ms: returning much sooner means
	 * either no wait or no run held, and then this tested nothing. */
	CHECKF(waited >= 20000000, "returned after %.1f ms while another thread held a run 50 ms",
	       (double)waited / 1e6);
	pthread_join(t, NULL);

	t = rw_start_release();
	pid_t pid = fork();
	if (pid == 0) {
		alarm(10); /* a wait for the parent's release would never end */
		gort_free_os_memory();
		_exit(all_released("fork child") ? 0 : 1);
	}
	CHECKF(pid > 0, "fork: %s", strerror(errno));
	int st = 0;
	CHECK(pid < 0 || waitpid(pid, &st, 0) == pid);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child: status %#x", st);
	pthread_join(t, NULL);
	return t_failed_case;
}

static const char *self;

/* Runs this program again as "env self arg" (a fresh heap and scavenger). */
static void run_child(const char *env, const char *arg)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "%s '%s' %s", env, self, arg);
	int rc = system(cmd);
	CHECKF(rc == 0, "child %s exited with %d", arg, rc);
}

static void test_thread_exit_releases(void)
{
	run_child("", "threadexit");
}

static void test_small_frees_wake(void)
{
	run_child("", "smallonly");
}

/* The pacing rule itself: 1% of the machine while the program works, 10%
 * while it is idle (the rest of the process under 5% of the CPUs). */
static void test_idle_pacing_rule(void)
{
	int64_t ms = 1000000;
	CHECK(scavenge_pause_ns(ms, 0, 100 * ms, 2) == 4 * ms);             /* idle: 1 ms in 5 on one of 2 CPUs */
	CHECK(scavenge_pause_ns(ms, 9 * ms, 100 * ms, 2) == 4 * ms);        /* 4.5% of the machine: idle */
	CHECK(scavenge_pause_ns(ms, 50 * ms, 100 * ms, 2) == 49 * ms);      /* busy: 1 ms in 50 */
	CHECK(scavenge_pause_ns(ms, 0, 0, 2) == 49 * ms);                   /* first burst: not known, busy */
	CHECK(scavenge_pause_ns(ms / 10, 50 * ms, 100 * ms, 2) == 4900000); /* a short burst, busy */
	CHECK(scavenge_pause_ns(ms / 10, 0, 100 * ms, 2) == ms);            /* at least 1 ms */
}

/* End to end: an idle program's 512 MiB go back (at the idle pace within a
 * second on a quiet machine, ~4 s at 1%); the deadline leaves room for a
 * loaded CI machine and the sanitizers (414 MiB in 2.5 s in one CI run),
 * so the rule above is what fails if the pacing breaks. */
static void test_idle_program_fast(void)
{
	run_child("", "idle");
}

static void test_busy_heap_rests_scavenger(void)
{
	run_child("", "churn");
}

static void test_idle_owner_kept_released(void)
{
	run_child("GORTDEBUG=scavenger=0", "idleowner");
}

static void test_idle_release_races_owners(void)
{
	run_child("GORTDEBUG=scavenger=0", "idlerace");
}

static void test_exit_frees_empty_spans(void)
{
	run_child("GORTDEBUG=scavenger=0", "exitempty");
}

static void test_small_program_no_scavenger(void)
{
	run_child("", "smallprogram");
}

static void test_free_os_memory_waits_for_releases(void)
{
	run_child("GORTDEBUG=scavenger=0", "releasewait");
}

static void test_madv_free(void)
{
	run_child("GORTDEBUG=madvdontneed=0", "madvfree");
}

/* A reclaim pass takes a class's whole list, sweeps it unlocked and puts
 * back what it keeps; spans listed meanwhile must not count as seen, or a
 * later pass (which skips lists with nothing new) would leave them listed,
 * empty, until the class next lists a span.  Empty spans are listed by
 * one thread while another runs passes; once both stop, one more pass
 * must free every one of them. */
enum { RECLAIM_CLASS = 60 };

static int pusher_done; /* atomic */

static void *push_empty_spans(void *arg)
{
	mcentral *c = &mheap_.central_manual[RECLAIM_CLASS];
	for (int i = 0; i < 4000; i++) {
		mspan *s = mheap_alloc_span(manual_allocnpages[RECLAIM_CLASS], RECLAIM_CLASS, RECLAIM_CLASS << 1 | 1,
					    SPAN_MANUAL);
		if (!s)
			break;
		s->central = c;
		store_seqcst(&s->where, SPAN_PARTIAL);
		mcentral_push_partial(c, s);
	}
	store_release(&pusher_done, 1);
	return arg;
}

static void test_reclaim_sees_concurrent_pushes(void)
{
	mheap_init();
	mcentral *c = &mheap_.central_manual[RECLAIM_CLASS];
	pthread_t t;
	store_release(&pusher_done, 0);
	REQUIRE(pthread_create(&t, NULL, push_empty_spans, NULL) == 0);
	while (!load_acquire(&pusher_done))
		reclaim_central_spans(true);
	pthread_join(t, NULL);
	reclaim_central_spans(true);
	spin_lock(&c->lock);
	uintptr_t left = c->npartial;
	spin_unlock(&c->lock);
	CHECKF(left == 0, "%lu empty spans still listed after the last pass", (unsigned long)left);
}

int main(int argc, char **argv)
{
	self = argv[0];
	/* The children run_child starts, each in a fresh process. */
	static const struct {
		const char *name;
		int (*fn)(void);
	} children[] = {
		{"madvfree", madv_free_child},	   {"smallonly", small_only_child},
		{"threadexit", thread_exit_child},	   {"idle", idle_child},
		{"smallprogram", small_program_child}, {"exitempty", exit_empty_child},
		{"idleowner", idle_owner_child},	   {"idlerace", idle_race_child},
		{"churn", churn_child},		   {"releasewait", release_wait_child},
	};
	for (size_t k = 0; argc > 1 && k < sizeof children / sizeof children[0]; k++)
		if (!strcmp(argv[1], children[k].name))
			return children[k].fn();
	RUN(test_rss_falls);
	RUN(test_madv_free);
	RUN(test_huge_free_releases);
	RUN(test_small_frees_wake);
	RUN(test_busy_heap_rests_scavenger);
	RUN(test_thread_exit_releases);
	RUN(test_idle_pacing_rule);
	RUN(test_idle_program_fast);
	RUN(test_small_program_no_scavenger);
	RUN(test_reclaim_sees_concurrent_pushes);
	RUN(test_exit_frees_empty_spans);
	RUN(test_idle_owner_kept_released);
	RUN(test_idle_release_races_owners);
	RUN(test_free_os_memory_waits_for_releases);
	TEST_EXIT();
}
