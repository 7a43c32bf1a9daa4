/*
 * test_override.c: the libc malloc family of libgort-malloc.so.
 *
 * Linked with -lgort-malloc (not libgort.a), so that malloc, free and the
 * rest are gort's here, as in any program linked or preloaded with it:
 * return values and errno as POSIX and glibc give them, alignment, usable
 * sizes, mallinfo2's and malloc_info's figures (spans of the collected
 * heap counted with their own slots), threads that exit, threads that
 * never allocate (no cache of their own), fork from a threaded program,
 * the profiler's leaf frame for every entry point, bad frees, and a
 * randomized multi-threaded run checked against a shadow model of every
 * block's size and contents; and the library's layout (its segments
 * aligned to 64 KiB, where the loader put them; the unwind tables in a
 * segment of their own).
 */
#define _GNU_SOURCE /* pthread_getattr_np */
#include "testing.h"

#include <errno.h>
#include <link.h>
#include <sys/sysinfo.h>
#include <gort.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_malloc_is_gort(void)
{
	gort_memstats a, b;
	gort_read_memstats(&a);
	void *p[100];
	for (int i = 0; i < 100; i++)
		p[i] = malloc(24);
	gort_read_memstats(&b);
	CHECKF(b.mallocs - a.mallocs >= 100, "mallocs %llu -> %llu", (unsigned long long)a.mallocs,
	       (unsigned long long)b.mallocs);
	for (int i = 0; i < 100; i++) {
		CHECK(gort_usable_size(p[i]) == 24);
		free(p[i]);
	}
}

/* Through these the compiler cannot see the deliberate misuse and warn. */
static volatile size_t huge = SIZE_MAX, half = SIZE_MAX / 2, three = 3, twentyfour = 24;
static void (*volatile free_fn)(void *) = free;
static void *(*volatile reallocarray_fn)(void *, size_t, size_t) = reallocarray;
/* And through these the compiler cannot drop a call it expects to succeed
 * (clang folds malloc(n) == NULL to false and removes the call). */
static void *(*volatile malloc_fn)(size_t) = malloc;
static void *(*volatile calloc_fn)(size_t, size_t) = calloc;
static void *(*volatile aligned_alloc_fn)(size_t, size_t) = aligned_alloc;
static void *(*volatile realloc_fn)(void *, size_t) = realloc;

static void test_sizes_and_errno(void)
{
	void *z1 = malloc(0), *z2 = malloc(0);
	CHECK(z1 && z2 && z1 != z2);
	free(z1);
	free(z2);
	free(NULL);

	errno = 0;
	CHECK(malloc_fn(huge) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(malloc_fn(huge >> 2) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc_fn(half, 4) == NULL && errno == ENOMEM);
	/* Inside the heap's address range but past RAM + swap (32 TiB): NULL
	 * at once, as glibc's mmap is refused, rather than a page map that
	 * alone (0.1% of it) would exhaust memory and bring the OOM killer. */
	struct sysinfo si;
	REQUIRE(sysinfo(&si) == 0);
	uint64_t ram_swap = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
	size_t past = (size_t)1 << 45;
	if (ram_swap < past / 64) {
		errno = 0;
		CHECK(malloc_fn(past) == NULL && errno == ENOMEM);
		errno = 0;
		CHECK(calloc_fn(past / 8, 8) == NULL && errno == ENOMEM);
		void *keep = (void *)0x1234;
		CHECK(posix_memalign(&keep, 1 << 20, past) == ENOMEM && keep == (void *)0x1234);
		void *r = malloc(16);
		errno = 0;
		CHECK(realloc_fn(r, past) == NULL && errno == ENOMEM);
		free(r);
	} else {
		printf("    SKIP: 32 TiB is within 64 x this machine's RAM + swap\n");
	}

	/* calloc zeroes even reused memory. */
	unsigned char *d = malloc(200);
	memset(d, 0xab, 200);
	free(d);
	for (int k = 0; k < 50; k++) {
		unsigned char *c = calloc(1, 200);
		REQUIRE(c);
		for (int i = 0; i < 200; i++)
			if (c[i]) {
				CHECKF(0, "calloc byte %d = %#x", i, c[i]);
				break;
			}
		free(c);
	}
	CHECK(malloc_usable_size(NULL) == 0);
	for (size_t n = 1; n < 100000; n = n * 3 + 1) {
		unsigned char *p = malloc(n);
		REQUIRE(p);
		size_t u = malloc_usable_size(p);
		CHECK(u >= n);
		memset(p, 1, u); /* all of it is the program's */
		free(p);
	}
}

static void test_realloc(void)
{
	unsigned char *p = realloc(NULL, 10);
	REQUIRE(p);
	for (int i = 0; i < 10; i++)
		p[i] = (unsigned char)i;
	/* Through several classes and into a large object. */
	size_t n = 10;
	for (size_t m = 17; m < (1u << 21); m = m * 5 / 2) {
		unsigned char *q = realloc(p, m);
		REQUIRE(q);
		for (size_t i = 0; i < n; i++)
			if (q[i] != (unsigned char)i) {
				CHECKF(0, "realloc %zu -> %zu lost byte %zu", n, m, i);
				break;
			}
		for (size_t i = n; i < m; i++)
			q[i] = (unsigned char)i;
		p = q;
		n = m;
	}
	p = realloc(p, 5); /* shrink */
	REQUIRE(p);
	CHECK(p[4] == 4);
	/* glibc: realloc(p, 0) frees p and returns NULL. */
	CHECK(realloc(p, 0) == NULL);

	void *r = malloc(64);
	errno = 0;
	CHECK(reallocarray_fn(r, half, 3) == NULL && errno == ENOMEM);
	void *r2 = reallocarray(r, 10, 100);
	CHECK(r2 && malloc_usable_size(r2) >= 1000);
	free(r2);
}

static void test_alignment(void)
{
	for (size_t a = sizeof(void *); a <= ((size_t)1 << 22); a <<= 1)
		for (size_t n = 1; n < 100000; n = n * 7 + 3) {
			void *p = (void *)0x1;
			REQUIRE(posix_memalign(&p, a, n) == 0);
			CHECKF(((uintptr_t)p & (a - 1)) == 0, "posix_memalign(%zu, %zu) = %p", a, n, p);
			memset(p, 7, n);
			free(p);
		}
	void *keep = (void *)0x1234;
	errno = 0;
	CHECK(posix_memalign(&keep, 24, 10) == EINVAL && keep == (void *)0x1234 && errno == 0);
	CHECK(posix_memalign(&keep, 4, 10) == EINVAL && keep == (void *)0x1234);
	CHECK(posix_memalign(&keep, 64, huge - 10) == ENOMEM && keep == (void *)0x1234);
	void *z = NULL;
	CHECK(posix_memalign(&z, 64, 0) == 0 && z);
	free(z);

	errno = 0;
	CHECK(aligned_alloc_fn(three, 10) == NULL && errno == EINVAL);
	void *q = aligned_alloc(256, 1000);
	CHECK(q && ((uintptr_t)q & 255) == 0);
	free(q);

	/* memalign rounds an odd alignment up to a power of two. */
	void *m = memalign(twentyfour, 100);
	CHECK(m && ((uintptr_t)m & 31) == 0);
	free(m);
	m = memalign(1, 100);
	CHECK(m != NULL);
	free(m);

	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *v = valloc(10);
	CHECK(v && ((uintptr_t)v & (page - 1)) == 0);
	free(v);
	void *pv = pvalloc(1);
	CHECK(pv && ((uintptr_t)pv & (page - 1)) == 0 && malloc_usable_size(pv) >= page);
	free(pv);
}

static void test_mallinfo2_and_trim(void)
{
	struct mallinfo2 before = mallinfo2();
	enum { N = 64 };
	void *big[N];
	for (int i = 0; i < N; i++) {
		big[i] = malloc(1 << 20);
		memset(big[i], 1, 1 << 20);
	}
	struct mallinfo2 during = mallinfo2();
	CHECKF(during.uordblks >= before.uordblks + ((size_t)N << 20), "uordblks %zu -> %zu",
	       before.uordblks, during.uordblks);
	CHECK(during.arena >= during.uordblks);
	CHECK(during.fordblks == during.arena - during.uordblks);
	for (int i = 0; i < N; i++)
		free(big[i]);
	struct mallinfo2 after = mallinfo2();
	CHECK(after.uordblks + ((size_t)N << 20) <= during.uordblks + (1 << 20));
	int r = malloc_trim(0);
	CHECK(r == 0 || r == 1);
	struct mallinfo2 trimmed = mallinfo2();
	CHECKF(trimmed.keepcost == 0, "keepcost after malloc_trim: %zu", trimmed.keepcost);
	CHECK(trimmed.arena <= after.arena);
}

/* malloc_info: glibc's XML, with gort's figures: 2000 freed 1000-byte
 * objects (class 1024) must show as free slots of that class, and the
 * heap mapped as "system current". */
static unsigned long long xml_number(const char *xml, const char *key)
{
	const char *at = strstr(xml, key);
	return at ? strtoull(at + strlen(key), NULL, 10) : 0;
}

static void test_malloc_info(void)
{
	enum { N = 4000 };
	static void *objs[N];
	for (int i = 0; i < N; i++)
		objs[i] = malloc(1000);
	for (int i = 0; i < N; i += 2)
		free(objs[i]);
	char *xml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&xml, &len);
	REQUIRE(f);
	CHECK(malloc_info(0, f) == 0);
	fclose(f);
	CHECKF(!strncmp(xml, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n", 42), "starts: %.60s", xml);
	CHECK(len > 10 && !strcmp(xml + len - 10, "</malloc>\n"));
	unsigned long long slots = xml_number(xml, "<size from=\"897\" to=\"1024\" total=\"");
	unsigned long long count = 0;
	const char *line = strstr(xml, "<size from=\"897\" to=\"1024\"");
	if (line)
		count = xml_number(line, "count=\"");
	CHECKF(line && count >= N / 2 && slots == count * 1024, "class 1024: %llu slots, %llu bytes", count, slots);
	unsigned long long current = xml_number(xml, "<system type=\"current\" size=\"");
	CHECKF(current >= (unsigned long long)N * 1024, "system current %llu", current);
	free(xml);
	for (int i = 1; i < N; i += 2)
		free(objs[i]);
	f = fopen("/dev/null", "w");
	REQUIRE(f);
	CHECK(malloc_info(1, f) == EINVAL); /* as glibc (its manual says -1) */
	fclose(f);
}

/* Free slots of class 1024 as malloc_info reports them. */
static unsigned long long info_free_1024(void)
{
	char *xml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&xml, &len);
	if (!f)
		return ~0ull;
	malloc_info(0, f);
	fclose(f);
	const char *line = strstr(xml, "<size from=\"897\" to=\"1024\"");
	unsigned long long n = line ? xml_number(line, "count=\"") : 0;
	free(xml);
	return n;
}

/* The collected heap's spans of a class hold Go's number of objects (8 of
 * 1 KiB), the manual heap's more (32): malloc_info counts each span's own
 * slots, so collected objects filling their spans add no free slots. */
static void test_malloc_info_gc_spans(void)
{
	enum { N = 400 };
	static void *gc_objs[N]; /* a root: the objects stay reachable */
	unsigned long long before = info_free_1024();
	for (int i = 0; i < N; i++)
		gc_objs[i] = gort_alloc(1000, GORT_NOSCAN);
	unsigned long long after = info_free_1024();
	/* At most the last span's free slots; 50 spans counted as manual
	 * ones would have shown 1200 more. */
	CHECKF(after <= before + 8, "class 1024 free slots %llu -> %llu after %d collected objects", before,
	       after, N);
	CHECK(gc_objs[N - 1] != NULL);
}

/* --- threads */

static void *alloc_and_exit(void *arg)
{
	void **out = arg;
	for (int i = 0; i < 10000; i++)
		free(malloc((size_t)(i % 500) + 1));
	*out = malloc(100); /* freed by the main thread after the join */
	strcpy(*out, "from a dead thread");
	return NULL;
}

static void test_thread_exit(void)
{
	gort_memstats a, b;
	gort_read_memstats(&a);
	for (int round = 0; round < 20; round++) {
		pthread_t t[4];
		void *out[4];
		for (int i = 0; i < 4; i++)
			REQUIRE(pthread_create(&t[i], NULL, alloc_and_exit, &out[i]) == 0);
		for (int i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			CHECK(!strcmp(out[i], "from a dead thread"));
			free(out[i]);
		}
	}
	gort_read_memstats(&b);
	/* 80 threads' caches came back: the heap in use did not grow with them. */
	CHECKF(b.heap_inuse <= a.heap_inuse + (4u << 20), "HeapInuse %llu -> %llu",
	       (unsigned long long)a.heap_inuse, (unsigned long long)b.heap_inuse);
	CHECK(b.heap_objects <= a.heap_objects + 10);
}

static pthread_barrier_t idle_in, idle_out;

static void *idle_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&idle_in);
	pthread_barrier_wait(&idle_out);
	return NULL;
}

/* A thread that never allocates gets no cache: registering it (libc's
 * pthread_getattr_np allocates and frees a few bytes) borrows the shared
 * late cache instead of making one with spans of its own. */
static void test_idle_threads_have_no_cache(void)
{
	enum { N = 8 };
	pthread_t t[N];
	gort_memstats a, b;
	REQUIRE(pthread_barrier_init(&idle_in, NULL, N + 1) == 0);
	REQUIRE(pthread_barrier_init(&idle_out, NULL, N + 1) == 0);
	gort_read_memstats(&a);
	for (int i = 0; i < N; i++)
		REQUIRE(pthread_create(&t[i], NULL, idle_thread, NULL) == 0);
	pthread_barrier_wait(&idle_in);
	gort_read_memstats(&b); /* all N registered and alive */
	pthread_barrier_wait(&idle_out);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&idle_in);
	pthread_barrier_destroy(&idle_out);
	/* One cache (~3.5 KiB) at most, the late cache made on first use,
	 * where eight would be ~28 KiB. */
	CHECKF(b.mcache_inuse <= a.mcache_inuse + 8192,
	       "MCacheInuse %llu -> %llu with %d idle threads", (unsigned long long)a.mcache_inuse,
	       (unsigned long long)b.mcache_inuse, N);
}

static volatile int spin_stop;

static void *churn(void *arg)
{
	(void)arg;
	void *slot[64] = {0};
	unsigned x = 1;
	while (!spin_stop) {
		x = x * 1103515245 + 12345;
		unsigned i = (x >> 8) & 63;
		free(slot[i]);
		slot[i] = malloc((x >> 16) % 3000 + 1);
	}
	for (int i = 0; i < 64; i++)
		free(slot[i]);
	return NULL;
}

static void test_fork_threaded(void)
{
	pthread_t t[3];
	spin_stop = 0;
	for (int i = 0; i < 3; i++)
		REQUIRE(pthread_create(&t[i], NULL, churn, NULL) == 0);
	int bad = 0;
	for (int k = 0; k < 30; k++) {
		pid_t pid = fork();
		if (pid == 0) {
			/* The child allocates, frees, starts a thread and exits. */
			void *v[1000];
			for (int i = 0; i < 1000; i++)
				v[i] = malloc((size_t)i * 37 % 40000 + 1);
			for (int i = 0; i < 1000; i++)
				free(v[i]);
			pthread_t c;
			void *out;
			if (pthread_create(&c, NULL, alloc_and_exit, &out) != 0)
				_exit(2);
			pthread_join(c, NULL);
			free(out);
			_exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "    fork %d: child status %#x\n", k, st);
			bad++;
		}
	}
	spin_stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK(bad == 0);
}

/* Every allocation sampled, in fresh threads whose first allocations come
 * from inside pthread_getattr_np (which allocates holding the thread's
 * lock): the profiler's stack walk must not call it again. */
static void *getattr_thread(void *arg)
{
	pthread_attr_t a;
	if (pthread_getattr_np(pthread_self(), &a) == 0)
		pthread_attr_destroy(&a);
	free(malloc(100));
	return arg;
}

static void test_profile_every_allocation(void)
{
	gort_set_mem_profile_rate(1);
	alarm(120); /* a deadlock fails the test instead of hanging it */
	for (int i = 0; i < 20; i++) {
		pthread_t t;
		REQUIRE(pthread_create(&t, NULL, getattr_thread, NULL) == 0);
		pthread_join(t, NULL);
	}
	alarm(0);
	gort_set_mem_profile_rate(512 * 1024);
	FILE *f = tmpfile();
	REQUIRE(f);
	CHECK(gort_write_heap_profile_text(f) == 0);
	CHECK(ftell(f) > 0);
	fclose(f);
}

/* The profile names the program's function as the allocation site, for
 * every entry point (posix_memalign is the one that is not a tail call). */
static void *volatile site_sink;

/* Each stores its result, so that the call is not a tail call (a tail
 * call leaves no frame of the site's own). */
static __attribute__((noinline)) void site_posix_memalign(void)
{
	void *p = NULL;
	site_sink = posix_memalign(&p, 64, 100000) == 0 ? p : NULL;
}

static __attribute__((noinline)) void site_memalign(void)
{
	site_sink = memalign(64, 100001);
}

static __attribute__((noinline)) void site_calloc(void)
{
	site_sink = calloc(1, 100002);
}

/* Small objects: malloc and calloc keep no frame on their fast path, and
 * the sampler finds the site on its own. */
static __attribute__((noinline)) void site_malloc_small(void)
{
	site_sink = malloc(100);
}

static __attribute__((noinline)) void site_calloc_small(void)
{
	site_sink = calloc(1, 200);
}

static __attribute__((noinline)) void site_malloc_large(void)
{
	site_sink = malloc(100003);
}

static void test_profile_sites(void)
{
	gort_set_mem_profile_rate(1);
	site_posix_memalign();
	void *a = site_sink;
	site_memalign();
	void *b = site_sink;
	site_calloc();
	void *c = site_sink;
	site_malloc_small();
	void *d = site_sink;
	site_calloc_small();
	void *e = site_sink;
	site_malloc_large();
	void *g = site_sink;
	FILE *f = tmpfile();
	REQUIRE(f && a && b && c && d && e && g);
	CHECK(gort_write_heap_profile_text(f) == 0);
	gort_set_mem_profile_rate(512 * 1024);
	rewind(f);
	/* Each record: a header line, then "#\t0x..\tfunc+0x..\tfile:line"
	 * frames, leaf first; the first frame must be the site. */
	char line[1024];
	enum { NSITES = 6 };
	const char *want[NSITES] = {"site_posix_memalign", "site_memalign",	"site_calloc+",
				    "site_malloc_small",   "site_calloc_small", "site_malloc_large"};
	int found[NSITES] = {0}, wrong = 0;
	bool first = false;
	while (fgets(line, sizeof line, f)) {
		if (line[0] != '#') {
			first = true;
			continue;
		}
		if (!first || line[1] != '\t')
			continue;
		first = false;
		for (int i = 0; i < NSITES; i++)
			if (strstr(line, want[i]))
				found[i]++;
		if (strstr(line, "\tposix_memalign+") || strstr(line, "\tmemalign+") || strstr(line, "\tcalloc+") ||
		    strstr(line, "\tmalloc+") || strstr(line, "gort_") || strstr(line, "malloc_aligned_fp") ||
		    strstr(line, "\tmprof_") || strstr(line, "\tmalloc_small"))
			wrong++;
	}
	fclose(f);
	for (int i = 0; i < NSITES; i++)
		CHECKF(found[i] >= 1, "no sample whose leaf frame is %s", want[i]);
	CHECKF(wrong == 0, "%d samples with gort's own frame as the leaf", wrong);
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
	free(g);
}

/* --- bad frees, in a child that re-executes this program */

static const char *self_path;

static int run_child(const char *mode, const char *gortdebug, char *err, size_t errcap)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		if (gortdebug)
			setenv("GORTDEBUG", gortdebug, 1);
		execl(self_path, self_path, mode, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while (n < errcap - 1 && (r = read(fds[0], err + n, errcap - 1 - n)) > 0)
		n += (size_t)r;
	err[n] = 0;
	close(fds[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	return st;
}

static int child_main(const char *mode)
{
	if (!strcmp(mode, "--double-free")) {
		char *p = malloc(48);
		free_fn(p);
		free_fn(p);
	} else if (!strcmp(mode, "--invalid-free")) {
		static char not_heap[64];
		free_fn(not_heap + 8);
	}
	fprintf(stderr, "child survived\n");
	return 0;
}

static void test_bad_free(void)
{
	char err[4096];
	int st = run_child("--invalid-free", NULL, err, sizeof err);
	CHECKF(!(WIFEXITED(st) && WEXITSTATUS(st) == 0), "status %#x", st);
	CHECKF(strstr(err, "fatal error:") && strstr(err, "0x"), "stderr: %s", err);
	CHECK(!strstr(err, "child survived"));

	st = run_child("--double-free", NULL, err, sizeof err);
	CHECKF(!(WIFEXITED(st) && WEXITSTATUS(st) == 0), "status %#x", st);
	CHECKF(strstr(err, "fatal error:") && strstr(err, "double free"), "stderr: %s", err);

	/* The knob turns the stop into a logged warning. */
	st = run_child("--double-free", "badfree=0", err, sizeof err);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	CHECKF(strstr(err, "double free") && strstr(err, "child survived"), "stderr: %s", err);
}

/* --- randomized: several threads against a shadow model */

struct blk {
	unsigned char *p;
	size_t n;
	unsigned char tag;
};

static void fill(struct blk *b)
{
	memset(b->p, b->tag, b->n);
}

static int intact(const struct blk *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->p[i] != b->tag)
			return 0;
	return 1;
}

/* Blocks are handed between threads through this exchange, so that frees
 * and reallocs often happen away from the allocating thread. */
#define XCHG 256
static struct blk xchg[XCHG];
static pthread_mutex_t xchg_lock = PTHREAD_MUTEX_INITIALIZER;
static int stress_errors;

static size_t rand_size(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	switch (*x % 16) {
	case 0:
		return (size_t)(*x >> 20) % (300u << 10) + 1; /* large */
	case 1:
	case 2:
		return (size_t)(*x >> 20) % 32768 + 1;
	default:
		return (size_t)(*x >> 20) % 512 + 1;
	}
}

static void *stress(void *arg)
{
	uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	enum { LIVE = 512 };
	struct blk live[LIVE];
	memset(live, 0, sizeof live);
	for (int it = 0; it < 60000; it++) {
		size_t n = rand_size(&x);
		unsigned i = (unsigned)(x >> 40) % LIVE;
		struct blk *b = &live[i];
		if (b->p && !intact(b)) {
			__atomic_add_fetch(&stress_errors, 1, __ATOMIC_RELAXED);
			b->p = NULL;
		}
		switch ((x >> 50) % 8) {
		case 0: /* realloc, the prefix must survive */
			if (b->p) {
				unsigned char *q = realloc(b->p, n);
				if (!q)
					break;
				size_t keep = n < b->n ? n : b->n;
				for (size_t k = 0; k < keep; k++)
					if (q[k] != b->tag) {
						__atomic_add_fetch(&stress_errors, 1, __ATOMIC_RELAXED);
						break;
					}
				b->p = q;
				b->n = n;
				fill(b);
			}
			break;
		case 1: { /* swap with the exchange */
			unsigned j = (unsigned)(x >> 24) % XCHG;
			pthread_mutex_lock(&xchg_lock);
			struct blk t = xchg[j];
			xchg[j] = *b;
			*b = t;
			pthread_mutex_unlock(&xchg_lock);
			break;
		}
		case 2: { /* aligned */
			free(b->p);
			void *q = NULL;
			size_t a = (size_t)16 << ((x >> 30) % 10);
			b->p = NULL;
			if (posix_memalign(&q, a, n) == 0) {
				if ((uintptr_t)q & (a - 1))
					__atomic_add_fetch(&stress_errors, 1, __ATOMIC_RELAXED);
				b->p = q;
				b->n = n;
				b->tag = (unsigned char)x;
				fill(b);
			}
			break;
		}
		default:
			free(b->p);
			b->p = (x & 1) ? calloc(1, n) : malloc(n);
			if (b->p && (x & 1))
				for (size_t k = 0; k < n; k += 61)
					if (b->p[k]) {
						__atomic_add_fetch(&stress_errors, 1, __ATOMIC_RELAXED);
						break;
					}
			b->n = n;
			b->tag = (unsigned char)(x >> 8);
			if (b->p)
				fill(b);
		}
	}
	for (unsigned i = 0; i < LIVE; i++) {
		if (live[i].p && !intact(&live[i]))
			__atomic_add_fetch(&stress_errors, 1, __ATOMIC_RELAXED);
		free(live[i].p);
	}
	return NULL;
}

/* The kernel maps a file's pages around each one a program touches, up to
 * 64 KiB at a time but never past the mapping: the code every malloc-only
 * program runs has an executable segment of its own (src/hot.ld), apart
 * from the rest (the collector, the profile writer), so that the rest
 * costs such a program nothing. */
struct layout {
	uintptr_t hot, cold; /* a function in each */
	int found, hot_seg, cold_seg, nexec;
	uintptr_t hot_lo, hot_hi, cold_lo;
	bool unwind_apart;
};

static int layout_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct layout *l = arg;
	int hot = -1, cold = -1, nexec = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type != PT_LOAD)
			continue;
		if (l->hot >= lo && l->hot < lo + ph->p_memsz)
			hot = i;
		if (l->cold >= lo && l->cold < lo + ph->p_memsz)
			cold = i;
		nexec += (ph->p_flags & PF_X) != 0;
	}
	if (hot < 0)
		return 0;
	l->found = 1;
	l->hot_seg = hot, l->cold_seg = cold, l->nexec = nexec;
	l->hot_lo = info->dlpi_addr + info->dlpi_phdr[hot].p_vaddr;
	l->hot_hi = l->hot_lo + info->dlpi_phdr[hot].p_memsz;
	if (cold >= 0)
		l->cold_lo = info->dlpi_addr + info->dlpi_phdr[cold].p_vaddr;
	/* The unwind tables start their segment: the read-only data went
	 * to the first one (src/libgort.ld). */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *eh = &info->dlpi_phdr[i];
		if (eh->p_type != PT_GNU_EH_FRAME)
			continue;
		for (int j = 0; j < info->dlpi_phnum; j++) {
			const ElfW(Phdr) *ph = &info->dlpi_phdr[j];
			if (ph->p_type == PT_LOAD && eh->p_vaddr >= ph->p_vaddr && eh->p_vaddr < ph->p_vaddr + ph->p_memsz)
				l->unwind_apart = eh->p_vaddr == ph->p_vaddr && !(ph->p_flags & PF_W);
		}
	}
	return 1;
}

static void test_library_layout(void)
{
	struct layout l = {.hot = (uintptr_t)(void *)gort_malloc, .cold = (uintptr_t)(void *)gort_gc};
	dl_iterate_phdr(layout_cb, &l);
	REQUIRE(l.found);
	long page = sysconf(_SC_PAGESIZE);
	CHECKF(l.nexec == 2, "libgort-malloc.so has %d executable segments, not a hot and a cold one", l.nexec);
	CHECKF(l.cold_seg >= 0 && l.cold_seg != l.hot_seg, "gort_gc shares gort_malloc's text segment");
	/* Apart in memory: at least a page between them, so that the two
	 * are separate mappings even where the kernel would merge them. */
	uintptr_t hot_end = (l.hot_hi + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	CHECKF(l.cold_lo > hot_end, "the cold text starts at %#lx, right after the hot text (ends %#lx)",
	       (unsigned long)l.cold_lo, (unsigned long)hot_end);
	CHECKF(l.hot_hi - l.hot_lo <= 64 << 10, "the hot text is %lu KiB, more than one fault-around group",
	       (unsigned long)(l.hot_hi - l.hot_lo) >> 10);
	/* A program that never samples never reads the unwind tables: in a
	 * segment of their own they cost it no memory. */
	CHECKF(l.unwind_apart, "libgort-malloc.so's unwind tables share a segment with other data");
}

static void test_stress_shadow(void)
{
	gort_memstats a, b;
	gort_read_memstats(&a);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		REQUIRE(pthread_create(&t[i], NULL, stress, (void *)(uintptr_t)(i + 1)) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (unsigned j = 0; j < XCHG; j++) {
		if (xchg[j].p && !intact(&xchg[j]))
			stress_errors++;
		free(xchg[j].p);
		xchg[j].p = NULL;
	}
	CHECKF(stress_errors == 0, "%d blocks damaged", stress_errors);
	gort_read_memstats(&b);
	CHECKF(b.heap_objects <= a.heap_objects + 16, "HeapObjects %llu -> %llu (a leak)",
	       (unsigned long long)a.heap_objects, (unsigned long long)b.heap_objects);
}

/* This program binds gort's profile API, so the library samples at Go's
 * default rate from the start (a program that binds none of it, given the
 * library by LD_PRELOAD, samples nothing: test_programs). */
static void test_profile_rate_default(void)
{
	long r = gort_set_mem_profile_rate(-1);
	CHECKF(r == 512 * 1024, "rate %ld at start", r);
	CHECK(gort_set_mem_profile_rate(-5) == r); /* a query changes nothing */
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return child_main(argv[1]);
	self_path = argv[0];
	RUN(test_profile_rate_default); /* first: later tests set the rate */
	RUN(test_malloc_is_gort);
	RUN(test_sizes_and_errno);
	RUN(test_realloc);
	RUN(test_alignment);
	RUN(test_mallinfo2_and_trim);
	RUN(test_malloc_info);
	RUN(test_malloc_info_gc_spans);
	RUN(test_thread_exit);
	RUN(test_idle_threads_have_no_cache);
	RUN(test_fork_threaded);
	RUN(test_profile_every_allocation);
	RUN(test_profile_sites);
	RUN(test_bad_free);
	RUN(test_library_layout);
	RUN(test_stress_shadow);
	TEST_EXIT();
}
