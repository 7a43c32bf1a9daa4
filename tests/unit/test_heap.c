/*
 * test_heap.c: unit tests of the heap's internals and its manual API:
 * span_of/find_object on every interior offset of every size class,
 * sizes, alignment, zeroing, last-in first-out reuse, realloc,
 * cross-thread frees, thread exit,
 * the tiny allocator, MemStats identities and the knob parser.
 */
#include "gort.h"
#include "arena.h"
#include "debugvars.h"
#include "malloc.h"
#include "mcache.h"
#include "mheap.h"
#include "os.h"
#include "sizeclass.h"
#include "testing.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

static int a_global;

static void test_find_object_every_offset(void)
{
	for (unsigned cls = 1; cls < NUM_SIZE_CLASSES; cls++) {
		uint32_t size = class_to_size[cls];
		char *objs[3];
		for (int k = 0; k < 3; k++) {
			objs[k] = gort_malloc(size);
			REQUIRE(objs[k]);
		}
		for (int k = 0; k < 3; k++) {
			mspan *s = span_of((uintptr_t)objs[k]);
			CHECK(s && s->sizeclass == cls);
			CHECK(gort_usable_size(objs[k]) == size);
			int bad = 0;
			for (uint32_t off = 0; off < size; off++) {
				uintptr_t base;
				mspan *sp;
				uint32_t idx;
				if (!find_object((uintptr_t)objs[k] + off, &base, &sp, &idx) ||
				    base != (uintptr_t)objs[k] || sp != s)
					bad++;
			}
			CHECKF(bad == 0, "class %u: %d offsets misresolved", cls, bad);
		}
		for (int k = 0; k < 3; k++)
			gort_free(objs[k]);
		/* A freed object is no longer an object. */
		uintptr_t base;
		mspan *sp;
		uint32_t idx;
		CHECKF(!find_object((uintptr_t)objs[1], &base, &sp, &idx), "class %u freed object still found", cls);
	}
	/* Large objects: every interior address maps to the base. */
	size_t big = 300 << 10;
	char *p = gort_malloc(big);
	REQUIRE(p);
	int bad = 0;
	for (size_t off = 0; off < big; off += 7) {
		uintptr_t base;
		mspan *sp;
		uint32_t idx;
		if (!find_object((uintptr_t)p + off, &base, &sp, &idx) || base != (uintptr_t)p || idx != 0)
			bad++;
	}
	CHECK(bad == 0);
	gort_free(p);
}

static void test_not_heap(void)
{
	int local;
	uintptr_t base;
	mspan *sp;
	uint32_t idx;
	CHECK(!find_object((uintptr_t)&local, &base, &sp, &idx));
	CHECK(!find_object((uintptr_t)&a_global, &base, &sp, &idx));
	CHECK(!find_object(0, &base, &sp, &idx));
	CHECK(span_of(UINTPTR_MAX) == NULL);
	CHECK(span_of((uintptr_t)1 << 60) == NULL);
	CHECK(span_of((uintptr_t)&a_global) == NULL);
}

static void test_sizes_and_alignment(void)
{
	for (size_t size = 0; size <= 40000; size += (size < 1100 ? 1 : 97)) {
		unsigned char *p = gort_malloc(size);
		REQUIRE(p);
		/* 16 bytes, except where the class size is not a multiple of 16
		 * (8 and 24 bytes): no type of that size can need more than 8. */
		size_t want = size <= 8 || (size > 16 && size <= 24) ? 8 : 16;
		CHECKF(((uintptr_t)p & (want - 1)) == 0, "size %zu misaligned %p", size, (void *)p);
		CHECK(gort_usable_size(p) >= size);
		memset(p, 0xa5, size);
		gort_free(p);
	}
	errno = 0;
	CHECK(gort_malloc(SIZE_MAX) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(gort_malloc((size_t)1 << 50) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(gort_calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
	CHECK(gort_usable_size(NULL) == 0);
	gort_free(NULL);
}

static void test_zeroing(void)
{
	/* Reused memory is cleared for calloc. */
	size_t sizes[] = {8, 24, 100, 1000, 5000, 32768, 40000, 1 << 20};
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		for (int round = 0; round < 3; round++) {
			void *ps[64];
			for (int k = 0; k < 64; k++) {
				ps[k] = gort_malloc(sizes[i]);
				memset(ps[k], 0xff, sizes[i]);
			}
			for (int k = 0; k < 64; k++)
				gort_free(ps[k]);
			for (int k = 0; k < 64; k++) {
				unsigned char *q = gort_calloc(1, sizes[i]);
				int nonzero = 0;
				for (size_t j = 0; j < sizes[i]; j++)
					nonzero |= q[j];
				CHECKF(!nonzero, "calloc(%zu) returned dirty memory", sizes[i]);
				ps[k] = q;
			}
			for (int k = 0; k < 64; k++)
				gort_free(ps[k]);
		}
	}
	/* Fresh memory is known zero and not cleared again: a huge calloc
	 * must not make its pages resident.  Pages released with
	 * MADV_DONTNEED count as fresh too. */
	gort_free_os_memory();
	uint64_t before = os_rss_bytes();
	size_t n = (size_t)256 << 20;
	unsigned char *big = gort_calloc(1, n);
	REQUIRE(big);
	uint64_t after = os_rss_bytes();
	CHECKF(after < before + (32 << 20), "calloc(256 MiB) touched its pages: rss +%llu MiB",
	       (unsigned long long)((after - before) >> 20));
	CHECK(big[0] == 0 && big[n / 2] == 0 && big[n - 1] == 0);
	gort_free(big);
}

/* An object freed right after it was handed out is the next one handed
 * out (the span steps back over it); anything else is not reused before
 * the span is swept, and calloc still clears a reused slot. */
static void *lifo_thread(void *arg)
{
	(void)arg;
	size_t sizes[] = {16, 48, 100, 1000, 3000, 6144, 20000};
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
		size_t n = sizes[i];
		unsigned char *p = gort_malloc(n); /* likely a fresh span: needzero clear */
		memset(p, 0xab, n);
		gort_free(p);
		unsigned char *q = gort_calloc(1, n);
		CHECKF(q == p, "size %zu: freed last-handed-out %p, next allocation %p", n, (void *)p, (void *)q);
		int nonzero = 0;
		for (size_t j = 0; j < n; j++)
			nonzero |= q[j];
		CHECKF(!nonzero, "calloc(%zu) reused a just-freed slot without clearing it", n);

		/* A burst freed last-in first-out is handed out again in order,
		 * back to where it began or to the span's or bitmap word's
		 * boundary within it (the objects before that wait for a sweep). */
		enum { B = 12 };
		void *a[B], *b[B];
		for (int k = 0; k < B; k++)
			a[k] = gort_malloc(n);
		for (int k = B - 1; k >= 0; k--)
			gort_free(a[k]);
		for (int k = 0; k < B; k++)
			b[k] = gort_malloc(n);
		int j = 0;
		while (j < B && a[j] != b[0])
			j++;
		CHECKF(j < B, "size %zu: the burst's slots were not reused", n);
		for (int k = 0; j + k < B; k++)
			CHECKF(b[k] == a[j + k], "size %zu: burst slot %d: %p, freed %p", n, k, b[k], a[j + k]);
		if (n <= 100)
			CHECKF(j <= B / 2, "size %zu: only %d of %d reused", n, B - j, B);
		/* Not the last handed out: its slot waits for the sweep. */
		void *x = gort_malloc(n), *y = gort_malloc(n);
		gort_free(x);
		void *z = gort_malloc(n);
		CHECKF(z != x, "size %zu: an older free was reused before a sweep", n);
		gort_free(z); /* last handed out: steps back over z, then y */
		gort_free(y);
		void *y2 = gort_malloc(n), *z2 = gort_malloc(n);
		CHECKF(y2 == y && z2 == z, "size %zu: y, z freed last-in first-out not handed out again", n);
		gort_free(z2);
		gort_free(y2);
		for (int k = 0; k < B; k++)
			gort_free(b[k]);
		gort_free(q);
	}
	return NULL;
}

static void test_lifo_reuse(void)
{
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, lifo_thread, NULL) == 0);
	pthread_join(t, NULL);
}

static void test_aligned_alloc(void)
{
	size_t sizes[] = {1, 7, 16, 48, 100, 1000, 4096, 9000, 32768, 70000, 1 << 20};
	for (size_t a = 1; a <= ((size_t)1 << 22); a <<= 1) {
		for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
			char *p = gort_aligned_alloc(a, sizes[i]);
			REQUIRE(p);
			CHECKF(((uintptr_t)p & (a - 1)) == 0, "align %zu size %zu: %p", a, sizes[i], (void *)p);
			CHECK(gort_usable_size(p) >= sizes[i]);
			memset(p, 1, sizes[i]);
			gort_free(p);
		}
	}
	errno = 0;
	CHECK(gort_aligned_alloc(3, 10) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(gort_aligned_alloc(0, 10) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(gort_aligned_alloc((size_t)1 << 62, 10) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(gort_aligned_alloc(4096, SIZE_MAX - 100) == NULL && errno == ENOMEM);
}

static void test_realloc(void)
{
	unsigned char *p = gort_realloc(NULL, 10);
	REQUIRE(p);
	for (int i = 0; i < 10; i++)
		p[i] = (unsigned char)i;
	size_t sizes[] = {20, 5, 1000, 40000, 3 << 20, 100, 9};
	size_t keep = 10;
	for (size_t k = 0; k < ARRAY_LEN(sizes); k++) {
		p = gort_realloc(p, sizes[k]);
		REQUIRE(p);
		size_t check = keep < sizes[k] ? keep : sizes[k];
		for (size_t i = 0; i < check; i++)
			if (p[i] != (unsigned char)i) {
				CHECKF(0, "realloc to %zu lost byte %zu", sizes[k], i);
				break;
			}
		for (size_t i = 0; i < sizes[k]; i++)
			p[i] = (unsigned char)i;
		keep = sizes[k];
	}
	CHECK(gort_realloc(p, 0) == NULL);
}

/* A large object resized in place: grown over the free pages after it
 * (found by trying blocks until one sits where the heap ends, as first fit
 * puts the latest ones; the hole a moved one leaves is filled, or the next
 * try would land in it again), shrunk by giving its tail back; contents kept,
 * the heap's figures following, the tail reusable. */
static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 512)
		p[i] = (unsigned char)(seed + i / 512);
}

static bool has_pattern(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 512)
		if (p[i] != (unsigned char)(seed + i / 512))
			return false;
	return true;
}

static void test_realloc_large_in_place(void)
{
	enum { TRIES = 64 };
	static unsigned char *blocks[TRIES];
	static void *plugs[TRIES];
	unsigned char *grown = NULL;
	for (unsigned k = 0; k < TRIES && !grown; k++) {
		unsigned char *p = gort_malloc(256 << 10);
		REQUIRE(p);
		fill_pattern(p, 256 << 10, k);
		gort_memstats m0, m1;
		gort_read_memstats(&m0);
		unsigned char *q = gort_realloc(p, 768 << 10);
		gort_read_memstats(&m1);
		REQUIRE(q);
		CHECKF(has_pattern(q, 256 << 10, k), "realloc to 768 KiB lost the contents (try %u)", k);
		if (q == p) {
			grown = q;
			CHECK(gort_usable_size(q) == (768 << 10));
			CHECK(span_of((uintptr_t)q + (700 << 10)) == span_of((uintptr_t)q));
			CHECKF(m1.heap_alloc == m0.heap_alloc + (512 << 10), "heap_alloc %llu -> %llu after growing 512 KiB",
			       (unsigned long long)m0.heap_alloc, (unsigned long long)m1.heap_alloc);
		}
		blocks[k] = q;
		plugs[k] = grown ? NULL : gort_malloc(256 << 10); /* fills the hole q left */
	}
	CHECKF(grown != NULL, "no 256 KiB block of %d grew in place", TRIES);
	for (unsigned k = 0; k < TRIES; k++)
		gort_free(plugs[k]);
	if (grown) {
		fill_pattern(grown, 768 << 10, 99);
		gort_memstats m0, m1;
		gort_read_memstats(&m0);
		unsigned char *q = gort_realloc(grown, 100 << 10);
		gort_read_memstats(&m1);
		CHECKF(q == grown, "shrinking to 100 KiB moved the block");
		CHECK(gort_usable_size(q) == (104 << 10)); /* 13 pages */
		CHECK(has_pattern(q, 100 << 10, 99));
		CHECKF(m1.heap_alloc + (664 << 10) == m0.heap_alloc, "heap_alloc %llu -> %llu after shrinking by 664 KiB",
		       (unsigned long long)m0.heap_alloc, (unsigned long long)m1.heap_alloc);
		/* The tail's pages went back: growing again takes them.  (The
		 * scavenger may be releasing them and hold them meanwhile; a
		 * realloc then moves the block.  gort_free_os_memory waits for
		 * any release in flight.) */
		gort_free_os_memory();
		unsigned char *r = gort_realloc(q, 600 << 10);
		CHECKF(r == q, "the freed tail was not there to grow into again");
		CHECK(has_pattern(r, 100 << 10, 99));
		/* A pointer into the old tail is no object. */
		for (unsigned k = 0; k < TRIES; k++)
			if (blocks[k] == grown)
				blocks[k] = r;
	}
	for (unsigned k = 0; k < TRIES; k++)
		gort_free(blocks[k]);
}

/* The heap profile's totals (every byte sampled): in use and allocated. */
struct prof_totals {
	long long inuse_n, inuse_b, alloc_n, alloc_b;
};

static struct prof_totals prof_totals(void)
{
	struct prof_totals t = {-1, -1, -1, -1};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return t;
	gort_write_heap_profile_text(f);
	fclose(f);
	if (sscanf(buf, "heap profile: %lld: %lld [%lld: %lld]", &t.inuse_n, &t.inuse_b, &t.alloc_n, &t.alloc_b) != 4)
		t.inuse_n = -1;
	free(buf);
	return t;
}

/* With every byte sampled, a growth in place allocates the whole object
 * anew to the profile (the old sample freed), a moved one is a malloc and
 * a free; either way the totals follow exactly. */
static void test_realloc_in_place_profiled(void)
{
	long old_rate = gort_set_mem_profile_rate(1);
	enum { TRIES = 64 };
	static void *blocks[TRIES], *plugs[TRIES];
	bool in_place = false;
	unsigned k;
	for (k = 0; k < TRIES && !in_place; k++) {
		struct prof_totals t0 = prof_totals();
		void *p = gort_malloc(256 << 10);
		void *q = gort_realloc(p, 768 << 10);
		struct prof_totals t1 = prof_totals();
		REQUIRE(q && t0.inuse_n >= 0 && t1.inuse_n >= 0);
		in_place = q == p;
		long long kept = in_place ? 768 << 10 : (long long)gort_usable_size(q);
		CHECKF(t1.inuse_n == t0.inuse_n + 1 && t1.inuse_b == t0.inuse_b + kept,
		       "%s: in use %lld/%lld -> %lld/%lld", in_place ? "in place" : "moved", t0.inuse_n, t0.inuse_b,
		       t1.inuse_n, t1.inuse_b);
		CHECKF(t1.alloc_n == t0.alloc_n + 2 && t1.alloc_b == t0.alloc_b + (256 << 10) + kept,
		       "%s: allocated %lld/%lld -> %lld/%lld", in_place ? "in place" : "moved", t0.alloc_n, t0.alloc_b,
		       t1.alloc_n, t1.alloc_b);
		blocks[k] = q;
		/* A moved block left a 256 KiB hole, where the next try would
		 * land again: fill it, so that tries move up the heap. */
		plugs[k] = in_place ? NULL : gort_malloc(256 << 10);
	}
	CHECKF(in_place, "no block of %d grew in place", TRIES);
	for (unsigned i = 0; i < k; i++)
		gort_free(plugs[i]);
	struct prof_totals t2 = prof_totals();
	for (unsigned i = 0; i < k; i++)
		gort_free(blocks[i]);
	struct prof_totals t3 = prof_totals();
	CHECK(t3.inuse_n == t2.inuse_n - (long long)k);
	gort_set_mem_profile_rate(old_rate);
}

#define XN 20000
static void *xthread_objs[XN];
static void *free_all(void *arg)
{
	for (int i = 0; i < XN; i++)
		gort_free(xthread_objs[i]);
	return arg;
}

static void test_cross_thread_free(void)
{
	gort_memstats m0, m1;
	gort_read_memstats(&m0);
	for (int i = 0; i < XN; i++) {
		xthread_objs[i] = gort_malloc(48 + (size_t)(i % 5) * 1000);
		memset(xthread_objs[i], 7, 48);
	}
	pthread_t t;
	pthread_create(&t, NULL, free_all, NULL);
	pthread_join(t, NULL);
	gort_read_memstats(&m1);
	CHECK(m1.mallocs - m0.mallocs == XN);
	CHECK(m1.frees - m0.frees == XN);
	/* The freed slots are reused. */
	for (int i = 0; i < XN; i++)
		xthread_objs[i] = gort_malloc(48 + (size_t)(i % 5) * 1000);
	for (int i = 0; i < XN; i++)
		gort_free(xthread_objs[i]);
}

static void *alloc_and_exit(void *arg)
{
	void **out = arg;
	for (int i = 0; i < 1000; i++)
		out[i] = gort_malloc(2304);
	for (int i = 0; i < 1000; i += 2)
		gort_free(out[i]);
	return NULL;
}

static void test_thread_exit_returns_cache(void)
{
	static void *objs[1000];
	pthread_t t;
	pthread_create(&t, NULL, alloc_and_exit, objs);
	pthread_join(t, NULL);
	for (int i = 1; i < 1000; i += 2)
		gort_free(objs[i]);
	mcache_release_all(mcache_tls);
	gort_free_os_memory();
	gort_memstats m;
	gort_read_memstats(&m);
	unsigned cls = size_to_class(2304);
	CHECKF(m.by_size[cls].spans == 0, "%llu spans of class %u left after thread exit",
	       (unsigned long long)m.by_size[cls].spans, cls);
}

/* Key destructors that run after gort's (their keys are newer) allocate,
 * and one re-arms itself every round, as long as the thread library lets
 * it: the last round's allocations once made a cache no destructor round
 * was left to return, with a span per class it touched.  Now they come
 * from the shared late cache: the heap must not grow with the number of
 * threads, and what they allocate must be usable and freeable anywhere. */
static pthread_key_t late_key, late_key2;
static void *late_kept[16]; /* checked and freed by the main thread */
static unsigned late_n; /* under late_mu */
static pthread_mutex_t late_mu = PTHREAD_MUTEX_INITIALIZER;

static void late_dtor(void *v)
{
	gort_free(v);
	char *q = gort_malloc(1000);
	memset(q, 7, 1000);
	gort_free(q);
	pthread_setspecific(late_key, gort_malloc(48)); /* again next round, while rounds last */
}

static void late_dtor2(void *v)
{
	(void)v;
	unsigned char *p = gort_calloc(1, 3000);
	for (int i = 0; i < 3000; i++)
		if (p[i]) {
			CHECKF(0, "late calloc not zeroed");
			break;
		}
	memset(p, 9, 3000);
	pthread_mutex_lock(&late_mu);
	if (late_n < 16)
		late_kept[late_n++] = p;
	else
		gort_free(p);
	pthread_mutex_unlock(&late_mu);
}

static void *late_thread(void *arg)
{
	(void)arg;
	pthread_setspecific(late_key, gort_malloc(64));
	pthread_setspecific(late_key2, (void *)1);
	void *x = gort_malloc(200); /* this thread's cache exists before the destructors */
	gort_free(x);
	return NULL;
}

static void run_late_threads(int n)
{
	for (int i = 0; i < n; i++) {
		pthread_t t;
		CHECK(pthread_create(&t, NULL, late_thread, NULL) == 0);
		pthread_join(t, NULL);
	}
}

static void test_thread_exit_late_allocs(void)
{
#ifdef UNDER_TSAN
	/* Its runtime tears a thread's state down in a key destructor round
	 * of its own; code instrumented for it that runs in the last round
	 * (as these re-arming destructors do) crashes it. */
	printf("    SKIP: key destructors of the last round under ThreadSanitizer\n");
	return;
#endif
	CHECK(pthread_key_create(&late_key, late_dtor) == 0);
	CHECK(pthread_key_create(&late_key2, late_dtor2) == 0);
	run_late_threads(100);
	gort_memstats m0, m1;
	gort_read_memstats(&m0);
	run_late_threads(1000);
	gort_read_memstats(&m1);
	/* The program's own leak, the last 48-byte object of each thread, is
	 * 48 KiB; a lost cache per thread was 10-40 KiB each. */
	double grew = ((double)m1.heap_inuse - (double)m0.heap_inuse) / (1 << 20);
	printf("    heap in use grew %.2f MiB over 1000 threads\n", grew);
	CHECKF(grew < 1.5, "heap in use grew %.1f MiB over 1000 threads", grew);
	for (unsigned i = 0; i < late_n; i++) {
		unsigned char *p = late_kept[i];
		CHECK(p[0] == 9 && p[2999] == 9);
		gort_free(p);
	}
	late_n = 0;
	pthread_key_delete(late_key);
	pthread_key_delete(late_key2);
}

/* Kept spans (mcache.h): a thread's filled spans stay its own, its frees
 * into them make them ready for its next allocations, an emptied one goes
 * back to the central list, and other threads' frees into them are found. */
#define KEPT_SIZE 1000 /* class 1024 B: 32 objects per manual span */
#define KEPT_N (32 * 40)
static void *kept_objs[KEPT_N];

static uint64_t class_spans(unsigned cls)
{
	gort_memstats m;
	gort_read_memstats(&m);
	return m.by_size[cls].spans;
}

/* Distinct spans of kept_objs that c owns. */
static int owned_spans(mcache *c)
{
	static mspan *seen[KEPT_N];
	int n = 0;
	for (int i = 0; i < KEPT_N; i++) {
		mspan *s = span_of((uintptr_t)kept_objs[i]);
		if (!s || load_relaxed(&s->owner) != c)
			continue;
		int k = 0;
		while (k < n && seen[k] != s)
			k++;
		if (k == n)
			seen[n++] = s;
	}
	return n;
}

static void *free_kept_objs(void *arg)
{
	for (int i = 0; i < KEPT_N; i++)
		gort_free(kept_objs[i]);
	return arg;
}

static void test_kept_spans(void)
{
	unsigned cls = size_to_class(KEPT_SIZE);
	REQUIRE(manual_nelems[cls] == 32);
	uint64_t spans0 = class_spans(cls);
	for (int i = 0; i < KEPT_N; i++)
		REQUIRE(kept_objs[i] = gort_malloc(KEPT_SIZE));
	mcache *c = mcache_tls;
	uint64_t spans1 = class_spans(cls);
	CHECKF(spans1 - spans0 >= 40, "%llu spans for 40 spans of objects", (unsigned long long)(spans1 - spans0));
	/* Filled, yet still the thread's: its frees stay local. */
	CHECKF(owned_spans(c) >= 40, "only %d of 40 filled spans kept", owned_spans(c));

	/* Free every other object: each kept span becomes ready, and the
	 * next allocations refill the holes without new spans. */
	for (int i = 0; i < KEPT_N; i += 2)
		gort_free(kept_objs[i]);
	int reused = 0;
	for (int i = 0; i < KEPT_N; i += 2) {
		kept_objs[i] = gort_malloc(KEPT_SIZE);
		mspan *s = span_of((uintptr_t)kept_objs[i]);
		reused += s && load_relaxed(&s->owner) == c;
	}
	CHECKF(class_spans(cls) <= spans1 + 1, "%llu spans, %llu before the holes were refilled",
	       (unsigned long long)class_spans(cls), (unsigned long long)spans1);
	CHECK(reused == KEPT_N / 2);

	/* Emptied kept spans go back to the central list (one may stay). */
	for (int i = 0; i < KEPT_N; i++)
		gort_free(kept_objs[i]);
	CHECKF(owned_spans(c) <= 2, "%d emptied spans still kept", owned_spans(c));

	/* Another thread's frees into kept spans: found by later refills. */
	for (int i = 0; i < KEPT_N; i++)
		REQUIRE(kept_objs[i] = gort_malloc(KEPT_SIZE));
	uint64_t spans2 = class_spans(cls);
	pthread_t t;
	pthread_create(&t, NULL, free_kept_objs, NULL);
	pthread_join(t, NULL);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < KEPT_N; i++)
			REQUIRE(kept_objs[i] = gort_malloc(KEPT_SIZE));
		pthread_create(&t, NULL, free_kept_objs, NULL);
		pthread_join(t, NULL);
	}
	CHECKF(class_spans(cls) <= spans2 + 2, "remote frees not reused: %llu spans, %llu before",
	       (unsigned long long)class_spans(cls), (unsigned long long)spans2);
	/* ... and the class is now known as one other threads free: its
	 * filled spans go to the central list, where those frees revive them. */
	CHECK(mcache_tls->remote_freed[cls] == 1);
	for (int i = 0; i < KEPT_N; i++)
		REQUIRE(kept_objs[i] = gort_malloc(KEPT_SIZE));
	CHECKF(owned_spans(c) <= 2, "%d filled spans kept by a producer", owned_spans(c));
	/* The owner freeing its own objects again makes it keep them again. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < KEPT_N; i++)
			gort_free(kept_objs[i]);
		for (int i = 0; i < KEPT_N; i++)
			REQUIRE(kept_objs[i] = gort_malloc(KEPT_SIZE));
	}
	CHECK(mcache_tls->remote_freed[cls] == 0);
	for (int i = 0; i < KEPT_N; i++)
		gort_free(kept_objs[i]);
	mcache_release_all(mcache_tls);
}

static void test_tiny(void)
{
	char *a = malloc_tiny(4), *b = malloc_tiny(4), *c = malloc_tiny(8), *d = malloc_tiny(3);
	CHECK(((uintptr_t)a & ~(uintptr_t)15) == ((uintptr_t)b & ~(uintptr_t)15));
	CHECK(b == a + 4);
	CHECK(((uintptr_t)c & 7) == 0 && c == a + 8);
	CHECK(((uintptr_t)d & ~(uintptr_t)15) != ((uintptr_t)a & ~(uintptr_t)15)); /* block full */
	for (int i = 0; i < 100000; i++) {
		size_t n = 1 + (size_t)i % 15;
		char *p = malloc_tiny(n);
		if ((n & 7) == 0)
			CHECK(((uintptr_t)p & 7) == 0);
		CHECK(((uintptr_t)p & 15) + n <= 16);
		memset(p, 1, n);
	}
	mspan *s = span_of((uintptr_t)a);
	CHECK(s && s->kind == SPAN_GC && s->sizeclass == TINY_SIZE_CLASS);
}

static void test_memstats(void)
{
	gort_memstats m0, m1, m2;
	gort_read_memstats(&m0);
	void *p[1000];
	for (int i = 0; i < 1000; i++)
		p[i] = gort_malloc(100);
	void *big = gort_malloc(1 << 20);
	gort_read_memstats(&m1);
	unsigned cls = size_to_class(100);
	CHECK(m1.by_size[cls].mallocs - m0.by_size[cls].mallocs == 1000);
	CHECK(m1.by_size[0].mallocs - m0.by_size[0].mallocs == 1);
	CHECK(m1.heap_alloc - m0.heap_alloc == 1000 * (uint64_t)class_to_size[cls] + (1 << 20));
	CHECK(m1.heap_objects == m1.mallocs - m1.frees);
	CHECK(m1.heap_sys == m1.heap_inuse + m1.heap_idle);
	CHECK(m1.heap_released <= m1.heap_idle);
	CHECK(m1.heap_inuse >= m1.heap_alloc);
	CHECK(m1.sys >= m1.heap_sys);
	for (int i = 0; i < 1000; i++)
		gort_free(p[i]);
	gort_free(big);
	gort_read_memstats(&m2);
	CHECK(m2.heap_alloc == m0.heap_alloc);
	CHECK(m2.frees - m0.frees == 1001);
}

static void test_debugvars(void)
{
	debugvars_reset();
	CHECK(debug.madvdontneed == 1 && debug.badfree == 1 && debug.scavenger == 1);
	debugvars_parse("madvdontneed=0,scavtrace=1");
	CHECK(debug.madvdontneed == 0 && debug.scavtrace == 1);
	fprintf(stderr, "    (the next three warnings are expected)\n");
	debugvars_parse("nosuchknob=1,badfree=7,scavenger");
	CHECK(debug.badfree == 1 && debug.scavenger == 1);
	debugvars_parse(",,badfree=0,");
	CHECK(debug.badfree == 0);
	debugvars_reset();
}

int main(void)
{
	RUN(test_find_object_every_offset);
	RUN(test_not_heap);
	RUN(test_sizes_and_alignment);
	RUN(test_zeroing);
	RUN(test_lifo_reuse);
	RUN(test_aligned_alloc);
	RUN(test_realloc);
	RUN(test_realloc_large_in_place);
	RUN(test_realloc_in_place_profiled);
	RUN(test_cross_thread_free);
	RUN(test_thread_exit_returns_cache);
	RUN(test_thread_exit_late_allocs);
	RUN(test_kept_spans);
	RUN(test_tiny);
	RUN(test_memstats);
	RUN(test_debugvars);
	TEST_EXIT();
}
