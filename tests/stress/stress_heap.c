/*
 * stress_heap.c: randomized stress test of the manual heap against a
 * shadow model.
 *
 * Several threads each keep a table of live objects (the shadow: pointer,
 * size, fill byte) and apply random operations: malloc, calloc, aligned
 * alloc, realloc and free, with sizes from 1 byte to 8 MiB (log-uniform,
 * so every size class and large sizes are hit).  Every object is filled
 * with a pattern that is verified before it is freed or resized, which
 * catches overlap and premature reuse.  A share of objects is handed to a
 * neighbour thread through a locked mailbox and freed there (cross-thread
 * frees).  Periodically each thread checks that its live objects do not
 * overlap and that find_object resolves them.  Bursts of temporaries freed
 * last in, first out, then a calloc of their size, exercise the step back
 * over the object a span handed out last.
 * A second test runs chains of short-lived threads over shared tables
 * (larson's pattern): objects outlive the thread and the spans that
 * allocated them, and are freed by strangers.
 * Replay: the seed is printed; pass it as argv[1].
 */
#include "gort.h"
#include "arena.h"
#include "testing.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 3
#define SLOTS 4096
#define OPS 300000
#define MAX_LIVE_BYTES ((size_t)96 << 20) /* per thread */
#define MAILBOX 1024

struct obj {
	unsigned char *p;
	size_t size;
	unsigned char fill;
	size_t align;
};

struct mailbox {
	pthread_mutex_t lock;
	struct obj items[MAILBOX];
	int n;
};

static struct mailbox boxes[NTHREADS];
static uint64_t seed0;
static int failures;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t rand_size(uint64_t *s)
{
	/* log-uniform over [1, 8 MiB], biased to small */
	unsigned bits = (unsigned)(rnd(s) % 24);
	if (rnd(s) % 4)
		bits = bits % 13;
	size_t lo = (size_t)1 << bits;
	return lo + (size_t)(rnd(s) % lo);
}

static void fail(const char *what, struct obj *o)
{
	__atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "    seed=%llu: %s: %p size %zu\n", (unsigned long long)seed0, what, (void *)o->p, o->size);
}

static void fill(struct obj *o)
{
	memset(o->p, o->fill, o->size);
}

static void verify(struct obj *o)
{
	/* Check both ends and a stride through the middle: full checks of
	 * 8 MiB objects on every op would dominate the run time. */
	size_t step = o->size > 4096 ? 509 : 1;
	for (size_t i = 0; i < o->size; i += step)
		if (o->p[i] != o->fill) {
			fail("pattern damaged", o);
			return;
		}
	if (o->p[o->size - 1] != o->fill)
		fail("pattern damaged at end", o);
}

static void release(struct obj *o)
{
	verify(o);
	gort_free(o->p);
	o->p = NULL;
}

static int cmp_obj(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;
	return x->p < y->p ? -1 : x->p > y->p;
}

static void check_table(struct obj *t)
{
	static __thread struct obj sorted[SLOTS];
	int n = 0;
	for (int i = 0; i < SLOTS; i++)
		if (t[i].p)
			sorted[n++] = t[i];
	qsort(sorted, (size_t)n, sizeof sorted[0], cmp_obj);
	for (int i = 0; i + 1 < n; i++)
		if (sorted[i].p + sorted[i].size > sorted[i + 1].p)
			fail("objects overlap", &sorted[i]);
	for (int i = 0; i < n; i++) {
		uintptr_t base;
		mspan *s;
		uint32_t idx;
		uintptr_t mid = (uintptr_t)sorted[i].p + sorted[i].size / 2;
		if (!find_object(mid, &base, &s, &idx) || base != (uintptr_t)sorted[i].p)
			fail("find_object does not resolve a live object", &sorted[i]);
	}
}

/* A burst of short-lived objects freed last in, first out, then a calloc
 * of the same size: the owner's step back over the object its span handed
 * out last (free.c) hands the same slots out again, which must neither
 * give out a live object (the shadow's patterns would show it) nor skip
 * clearing for calloc. */
static void temporaries(uint64_t *s)
{
	struct obj b[8];
	int n = 1 + (int)(rnd(s) % 8);
	size_t sz = 1 + rand_size(s) % 8192;
	for (int k = 0; k < n; k++) {
		b[k].size = sz;
		b[k].fill = (unsigned char)rnd(s);
		b[k].p = gort_malloc(sz);
		if (!b[k].p) {
			fail("allocation failed", &b[k]);
			n = k;
			break;
		}
		fill(&b[k]);
	}
	for (int k = n - 1; k >= 0; k--)
		release(&b[k]);
	struct obj z = {gort_calloc(1, sz), sz, 0, 0};
	if (!z.p) {
		fail("calloc failed", &z);
		return;
	}
	verify(&z); /* fill 0: every byte must be zero */
	gort_free(z.p);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t s = seed0 * 2654435761u + (uint64_t)id * 97 + 1;
	struct obj *t = calloc(SLOTS, sizeof *t);
	size_t live = 0;
	for (int op = 0; op < OPS; op++) {
		int i = (int)(rnd(&s) % SLOTS);
		struct obj *o = &t[i];
		unsigned r = (unsigned)(rnd(&s) % 100);
		if (o->p) {
			if (r < 15) { /* realloc */
				size_t ns = rand_size(&s);
				if (live - o->size + ns > MAX_LIVE_BYTES)
					ns = 1 + ns % 4096;
				verify(o);
				size_t keep = o->size < ns ? o->size : ns;
				unsigned char *q = gort_realloc(o->p, ns);
				if (!q) {
					fail("realloc failed", o);
					continue;
				}
				for (size_t k = 0; k < keep; k += (keep > 4096 ? 509 : 1))
					if (q[k] != o->fill) {
						fail("realloc lost contents", o);
						break;
					}
				live += ns - o->size;
				o->p = q;
				o->size = ns;
				o->fill = (unsigned char)rnd(&s);
				fill(o);
			} else if (r < 30) { /* hand to the next thread */
				struct mailbox *b = &boxes[(id + 1) % NTHREADS];
				pthread_mutex_lock(&b->lock);
				if (b->n < MAILBOX) {
					b->items[b->n++] = *o;
					live -= o->size;
					o->p = NULL;
				}
				pthread_mutex_unlock(&b->lock);
			} else {
				live -= o->size;
				release(o);
			}
		} else if (r >= 90) {
			temporaries(&s);
		} else {
			size_t sz = rand_size(&s);
			if (live + sz > MAX_LIVE_BYTES)
				sz = 1 + sz % 1024;
			o->size = sz;
			o->align = 0;
			if (r < 10) {
				o->p = gort_calloc(1, sz);
				if (o->p)
					for (size_t k = 0; k < sz; k += (sz > 4096 ? 509 : 1))
						if (o->p[k]) {
							fail("calloc memory not zero", o);
							break;
						}
			} else if (r < 20) {
				o->align = (size_t)1 << (rnd(&s) % 17);
				o->p = gort_aligned_alloc(o->align, sz);
				if (o->p && ((uintptr_t)o->p & (o->align - 1)))
					fail("misaligned", o);
			} else {
				o->p = gort_malloc(sz);
			}
			if (!o->p) {
				fail("allocation failed", o);
				continue;
			}
			if (gort_usable_size(o->p) < sz)
				fail("usable size too small", o);
			o->fill = (unsigned char)rnd(&s);
			fill(o);
			live += sz;
		}
		if (op % 2048 == 0) { /* empty my mailbox: cross-thread frees */
			struct mailbox *b = &boxes[id];
			pthread_mutex_lock(&b->lock);
			for (int k = 0; k < b->n; k++)
				release(&b->items[k]);
			b->n = 0;
			pthread_mutex_unlock(&b->lock);
		}
		if (op % 50000 == 0)
			check_table(t);
	}
	check_table(t);
	for (int i = 0; i < SLOTS; i++)
		if (t[i].p)
			release(&t[i]);
	free(t);
	return NULL;
}

static void test_stress_threads(void)
{
	for (int i = 0; i < NTHREADS; i++)
		pthread_mutex_init(&boxes[i].lock, NULL);
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		for (int k = 0; k < boxes[i].n; k++)
			release(&boxes[i].items[k]);
	CHECK(failures == 0);
	gort_memstats m;
	gort_read_memstats(&m);
	CHECKF(m.heap_alloc == 0 && m.heap_objects == 0, "after freeing everything: heap_alloc %llu objects %llu",
	       (unsigned long long)m.heap_alloc, (unsigned long long)m.heap_objects);
	gort_free_os_memory();
	gort_read_memstats(&m);
	CHECKF(m.heap_inuse <= (4 << 20), "heap_inuse %llu after freeing everything", (unsigned long long)m.heap_inuse);
}

/* Generations (larson's pattern, with checks): chains of short-lived
 * threads share a table; each thread replaces random slots (small sizes,
 * so that its spans are kept), passes some objects to the next chain's
 * mailbox and frees what it finds in its own, then starts its successor
 * and exits, leaving its successor objects in spans it kept (which go
 * back to the central lists at its exit) and frees it must make as a
 * stranger.  The shadow is the table with each object's fill byte. */
#define CHAINS 3
#define GENS 12
#define GEN_SLOTS 1500
#define GEN_OPS 20000

struct chain {
	struct obj slot[GEN_SLOTS];
	uint64_t s;
	int gens_left, id;
	pthread_t prev;
	bool has_prev;
};
static struct chain chains[CHAINS];
static int chains_done; /* atomic */
static struct mailbox genbox[CHAINS];

static void *generation(void *arg)
{
	struct chain *c = arg;
	if (c->has_prev)
		pthread_join(c->prev, NULL);
	for (int op = 0; op < GEN_OPS; op++) {
		struct obj *o = &c->slot[rnd(&c->s) % GEN_SLOTS];
		if (o->p) {
			struct mailbox *b = &genbox[(c->id + 1) % CHAINS];
			pthread_mutex_lock(&b->lock);
			if (rnd(&c->s) % 8 == 0 && b->n < MAILBOX) {
				b->items[b->n++] = *o; /* the next chain frees it */
				o->p = NULL;
			}
			pthread_mutex_unlock(&b->lock);
			if (o->p)
				release(o);
		}
		o->size = 1 + (size_t)(rnd(&c->s) % (rnd(&c->s) % 4 ? 256 : 4096));
		o->fill = (unsigned char)rnd(&c->s);
		o->p = gort_malloc(o->size);
		if (!o->p) {
			fail("malloc failed", o);
			return NULL;
		}
		fill(o);
		if (op % 64 == 0) {
			struct mailbox *b = &genbox[c->id];
			pthread_mutex_lock(&b->lock);
			struct obj got[MAILBOX];
			int n = b->n;
			memcpy(got, b->items, (size_t)n * sizeof got[0]);
			b->n = 0;
			pthread_mutex_unlock(&b->lock);
			for (int i = 0; i < n; i++)
				release(&got[i]);
		}
	}
	if (--c->gens_left > 0) {
		c->prev = pthread_self();
		c->has_prev = true;
		pthread_t next;
		if (pthread_create(&next, NULL, generation, c) != 0)
			fail("pthread_create failed", &c->slot[0]);
		return NULL; /* joined by its successor */
	}
	pthread_detach(pthread_self());
	__atomic_fetch_add(&chains_done, 1, __ATOMIC_RELEASE);
	return NULL; /* exits (releasing its cache) while the test goes on */
}

static void test_stress_generations(void)
{
	failures = 0;
	gort_memstats m0, m;
	gort_read_memstats(&m0);
	for (int i = 0; i < CHAINS; i++) {
		pthread_mutex_init(&genbox[i].lock, NULL);
		chains[i].s = seed0 * 0x9E3779B97F4A7C15ull + (uint64_t)i + 1;
		chains[i].gens_left = GENS;
		chains[i].id = i;
	}
	for (int i = 0; i < CHAINS; i++) {
		pthread_t t; /* joined by its successor */
		pthread_create(&t, NULL, generation, &chains[i]);
	}
	while (__atomic_load_n(&chains_done, __ATOMIC_ACQUIRE) < CHAINS)
		usleep(1000);
	for (int i = 0; i < CHAINS; i++) {
		for (int k = 0; k < GEN_SLOTS; k++)
			if (chains[i].slot[k].p)
				release(&chains[i].slot[k]);
		for (int k = 0; k < genbox[i].n; k++)
			release(&genbox[i].items[k]);
		genbox[i].n = 0;
	}
	CHECK(failures == 0);
	gort_read_memstats(&m);
	CHECKF(m.heap_objects == m0.heap_objects, "after freeing everything: %llu objects, %llu before",
	       (unsigned long long)m.heap_objects, (unsigned long long)m0.heap_objects);
	gort_free_os_memory();
	gort_read_memstats(&m);
	CHECKF(m.heap_inuse <= (4 << 20), "heap_inuse %llu after freeing everything", (unsigned long long)m.heap_inuse);
}

int main(int argc, char **argv)
{
	seed0 = argc > 1 ? strtoull(argv[1], NULL, 10) : (uint64_t)time(NULL);
	printf("seed=%llu (replay: %s %llu)\n", (unsigned long long)seed0, argv[0], (unsigned long long)seed0);
	RUN(test_stress_threads);
	RUN(test_stress_generations);
	TEST_EXIT();
}
