/*
 * stress_gc.c: randomized graph mutation against a shadow model of
 * reachability, while the collector runs (mostly on its own pacing).
 *
 * Three threads each own a graph of nodes held by roots of two kinds: an
 * array in malloc'd memory registered with gort_add_roots, and an array
 * on the thread's stack.  A node has four child pointers and a payload
 * (id, checksum, size and kind, and for big nodes a pattern throughout);
 * nodes are of three kinds: precise (gort_new / gort_new_array of a
 * GORT_TYPE, 56 B to 112 KB), conservative (gort_alloc, 56 B to 210 KB)
 * and leaves (GORT_NOSCAN, never linked from).  Operations: allocate (into a
 * root or as a child), link a.child[i] = b with GORT_STORE, unlink, drop a
 * root, re-root a reachable node, publish a small frozen tree to a shared
 * array (gort_add_roots'd, written with GORT_STORE under a lock), adopt a
 * published tree into the own graph (so nodes are reachable from several
 * threads' graphs, and for a moment only from a stack), and now and then
 * gort_gc().  A "ballast" chain per thread, appended at its tail and
 * dropped whole at 6000 nodes, keeps tens of MiB live and makes big
 * garbage; the random operations walk into it and relink it too.  Every
 * node reached by an operation is checked first.
 * The shadow model (malloc'd memory, not scanned) records each node's
 * size, kind and children by id; every 20000 operations a thread walks
 * everything reachable from its roots and checks each node against it.
 * The program runs with GORTDEBUG=gcpoison=1 (it re-executes itself to set
 * it), so a node freed while reachable reads 0xdede...; reused, it carries
 * another id.  The heap's peak must stay within a few times the live data,
 * and at the end, every root dropped, the heap must shrink back: dropped
 * garbage is reclaimed.
 * Frozen (published) nodes are never written again, and point only to
 * frozen nodes, so no thread reads a node another thread may be writing.
 * Replay: the seed is printed; pass it as argv[1] (thread interleaving, and
 * so the collector's timing, still varies).  Skipped under ThreadSanitizer
 * (see test_stw).
 */
#include "gort.h"
#include "testing.h"
#include "gctesting.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 3
#define NROOTS 48     /* registered roots per thread */
#define NLOCALS 16    /* stack roots per thread */
#define NSLOTS (NROOTS + NLOCALS)
#define NSHARED 32
#define NCHILD 4
#if defined(__SANITIZE_ADDRESS__)
#define OPS 500000    /* per thread: ASan is ~3x slower */
#else
#define OPS 1000000   /* per thread */
#endif
#define SHADOW_CAP (2 * OPS + 64) /* nodes per thread (about 0.6 per op) */
#define VERIFY_EVERY 20000
#define MAX_LIVE 20000 /* own reachable nodes before roots are thinned */
#define CHAIN_MAX 6000 /* ballast chain length before it is dropped */

enum { TYPED = 1, CONS = 2, LEAF = 3 };

struct node {
	struct node *child[NCHILD];
	uint64_t id;
	uint64_t check;
	uint64_t size_kind; /* size << 8 | kind */
};
GORT_TYPE(node_type, struct node, child[0], child[1], child[2], child[3]);

#define HDR_WORDS (sizeof(struct node) / 8)

/* The shadow of one node, by id: id = thread << 40 | sequence. */
struct shadow {
	uint64_t child[NCHILD]; /* ids; 0: NULL */
	uint32_t size;
	uint8_t kind, frozen;
	uint8_t ballast; /* child[0] is the ballast chain's link: left alone */
	uint32_t stamp; /* last walk that visited it (owner only) */
};

struct worker {
	int index;
	uint64_t rng;
	struct shadow *sh; /* OPS + 1 records */
	uint64_t nextseq;
	struct node **roots; /* NROOTS, registered */
	uint64_t slot_id[NSLOTS];
	struct node *volatile *locals; /* NLOCALS, on the thread's stack */
	uint32_t walk;
	uint64_t chain_len; /* nodes appended to the ballast chain */
	uint64_t ops, allocs, alloc_bytes, verifies, max_live, max_live_bytes;
	/* the explicit walk stack */
	struct step {
		struct node *p;
		uint64_t id;
	} *stack;
	size_t stack_cap;
};

static struct worker workers[NTHREADS];
static uint64_t seed0;
static int failures; /* atomic */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node **shared; /* NSHARED, registered */
static uint64_t shared_id[NSHARED];
static uint64_t peak_inuse; /* atomic max */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dull;
	x ^= x >> 33;
	return x;
}

/* Payload words have the top bit set: never taken for heap pointers. */
static uint64_t pattern(uint64_t id, size_t i)
{
	return (mix(id) ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull)) | ((uint64_t)1 << 63);
}

static uint64_t rnd(struct worker *w)
{
	uint64_t *s = &w->rng;
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct shadow *shadow_of(uint64_t id)
{
	return &workers[id >> 40].sh[id & (((uint64_t)1 << 40) - 1)];
}

static void fail(struct worker *w, const char *what, const struct node *p, uint64_t want)
{
	int n = __atomic_fetch_add(&failures, 1, __ATOMIC_SEQ_CST);
	if (n >= 10)
		return;
	fprintf(stderr,
		"    seed=%llu thread %d op %llu: %s: node %p want id %#llx; id %#llx check %#llx size_kind %#llx\n",
		(unsigned long long)seed0, w->index, (unsigned long long)w->ops, what, (const void *)p,
		(unsigned long long)want, p ? (unsigned long long)p->id : 0ull, p ? (unsigned long long)p->check : 0ull,
		p ? (unsigned long long)p->size_kind : 0ull);
}

/* --- nodes */

static size_t log_size(struct worker *w, size_t max)
{
	unsigned bits = (unsigned)(rnd(w) % 17); /* up to 64 KiB */
	if (rnd(w) % 4)
		bits %= 11;
	size_t s = ((size_t)1 << bits) + (size_t)(rnd(w) % ((size_t)1 << bits));
	s += sizeof(struct node);
	return s > max ? max : s;
}

static struct node *new_node(struct worker *w, int kind, int frozen)
{
	uint64_t seq = ++w->nextseq;
	uint64_t id = (uint64_t)w->index << 40 | seq;
	struct shadow *s = &w->sh[seq];
	memset(s, 0, sizeof *s);
	size_t size;
	struct node *p;
	uint64_t r = rnd(w) % 1000;
	if (kind == TYPED) {
		size_t k = r < 600 ? 1 : r < 900 ? 2 + rnd(w) % 15 : r < 995 ? 17 + rnd(w) % 584 : 1000 + rnd(w) % 1001;
		size = k * sizeof(struct node);
		p = k == 1 ? gort_new(&node_type) : gort_new_array(&node_type, k);
		for (size_t j = 1; j < k; j++)
			p[j].id = mix(id) + j;
	} else {
		size = r < 5 ? 150000 + (size_t)(rnd(w) % 60000) : log_size(w, 1 << 16);
		size &= ~(size_t)7;
		p = gort_alloc(size, kind == LEAF ? GORT_NOSCAN : 0);
		uint64_t *pay = (uint64_t *)p + HDR_WORDS;
		size_t n = size / 8 - HDR_WORDS;
		if (n <= 64) {
			for (size_t i = 0; i < n; i++)
				pay[i] = pattern(id, i);
		} else {
			/* Big ones: the words the check samples, and the rest
			 * of the pattern at a stride. */
			for (size_t i = 0; i < n; i += 61)
				pay[i] = pattern(id, i);
			pay[n / 2] = pattern(id, n / 2);
			pay[n - 1] = pattern(id, n - 1);
		}
	}
	p->id = id;
	p->check = mix(id);
	p->size_kind = (uint64_t)size << 8 | (uint64_t)kind;
	s->size = (uint32_t)size;
	s->kind = (uint8_t)kind;
	s->frozen = (uint8_t)frozen;
	w->allocs++;
	w->alloc_bytes += size;
	return p;
}

static int random_kind(struct worker *w)
{
	uint64_t r = rnd(w) % 10;
	return r < 5 ? TYPED : r < 8 ? CONS : LEAF;
}

/* The node's own words (not its children) against its shadow. */
static int node_ok(struct worker *w, const struct node *p, uint64_t id)
{
	if (!p) {
		fail(w, "NULL where the shadow has a child", p, id);
		return 0;
	}
	if (p->id != id || p->check != mix(id)) {
		fail(w, p->id == 0xdededededededeull ? "poisoned: freed while reachable" : "wrong node (freed and reused?)",
		     p, id);
		return 0;
	}
	const struct shadow *s = shadow_of(id);
	if (p->size_kind != ((uint64_t)s->size << 8 | s->kind)) {
		fail(w, "size/kind word damaged", p, id);
		return 0;
	}
	if (s->kind == TYPED) {
		size_t k = s->size / sizeof(struct node);
		size_t js[3] = {1, k / 2, k - 1};
		for (int i = 0; i < 3; i++) {
			size_t j = js[i];
			if (j >= 1 && j < k &&
			    (p[j].id != mix(id) + j || p[j].child[0] || p[j].child[NCHILD - 1])) {
				fail(w, "typed array element damaged", p, id);
				return 0;
			}
		}
	} else {
		const uint64_t *pay = (const uint64_t *)p + HDR_WORDS;
		size_t n = s->size / 8 - HDR_WORDS;
		size_t is[3] = {0, n / 2, n - 1};
		for (int i = 0; i < 3; i++)
			if (n && pay[is[i]] != pattern(id, is[i])) {
				fail(w, "payload damaged", p, id);
				return 0;
			}
	}
	return 1;
}

/* --- roots */

static struct node *slot_get(struct worker *w, unsigned i)
{
	return i < NROOTS ? w->roots[i] : w->locals[i - NROOTS];
}

static void slot_set(struct worker *w, unsigned i, struct node *p, uint64_t id)
{
	if (i < NROOTS)
		GORT_STORE(w->roots[i], p);
	else
		w->locals[i - NROOTS] = p;
	w->slot_id[i] = p ? id : 0;
}

/* A random reachable node: from a random root, a few random steps down.
 * Every node on the way is checked first.  NULL if the roots are empty. */
static struct node *pick_once(struct worker *w, uint64_t *idp, int want_mutable)
{
	unsigned start = (unsigned)(rnd(w) % NSLOTS), i;
	for (i = 0; i < NSLOTS && !w->slot_id[(start + i) % NSLOTS]; i++)
		;
	if (i == NSLOTS)
		return NULL;
	unsigned slot = (start + i) % NSLOTS;
	struct node *p = slot_get(w, slot);
	uint64_t id = w->slot_id[slot];
	if (!node_ok(w, p, id))
		return NULL;
	struct node *best = NULL;
	uint64_t best_id = 0;
	for (int steps = (int)(rnd(w) % 24);; steps--) {
		const struct shadow *s = shadow_of(id);
		if (!want_mutable || ((id >> 40) == (uint64_t)w->index && !s->frozen && s->kind != LEAF)) {
			best = p;
			best_id = id;
		}
		if (steps <= 0)
			break;
		/* A random non-NULL child, so that walks go deep. */
		unsigned c0 = (unsigned)(rnd(w) % NCHILD), c = NCHILD;
		for (unsigned k = 0; k < NCHILD && c == NCHILD; k++)
			if (s->child[(c0 + k) % NCHILD])
				c = (c0 + k) % NCHILD;
		if (c == NCHILD)
			break;
		struct node *q = p->child[c];
		if (!node_ok(w, q, s->child[c]))
			return NULL;
		p = q;
		id = s->child[c];
	}
	*idp = best_id;
	return best;
}

static struct node *pick(struct worker *w, uint64_t *idp, int want_mutable)
{
	struct node *p = NULL;
	for (int i = 0; i < 4 && !p && !__atomic_load_n(&failures, __ATOMIC_RELAXED); i++)
		p = pick_once(w, idp, want_mutable);
	return p;
}

/* --- the full check */

static void push(struct worker *w, struct node *p, uint64_t id, size_t *n)
{
	if (*n == w->stack_cap) {
		w->stack_cap = w->stack_cap ? w->stack_cap * 2 : 4096;
		w->stack = realloc(w->stack, w->stack_cap * sizeof *w->stack);
		if (!w->stack) {
			fprintf(stderr, "stress_gc: out of memory\n");
			exit(1);
		}
	}
	w->stack[(*n)++] = (struct step){p, id};
}

/* Walks everything reachable from w's roots; returns the number of own
 * mutable nodes reached (0 after a failure). */
static size_t verify(struct worker *w)
{
	size_t n = 0, live = 0, bytes = 0;
	w->walk++;
	w->verifies++;
	for (unsigned i = 0; i < NSLOTS; i++) {
		struct node *p = slot_get(w, i);
		if (!w->slot_id[i] != !p) {
			fail(w, "root slot differs from the shadow", p, w->slot_id[i]);
			return 0;
		}
		if (p)
			push(w, p, w->slot_id[i], &n);
	}
	while (n) {
		struct step st = w->stack[--n];
		struct shadow *s = shadow_of(st.id);
		int own_mutable = (st.id >> 40) == (uint64_t)w->index && !s->frozen;
		if (own_mutable) {
			if (s->stamp == w->walk)
				continue;
			s->stamp = w->walk;
			live++;
		}
		if (!node_ok(w, st.p, st.id))
			return 0;
		bytes += s->size;
		for (int c = 0; c < NCHILD; c++) {
			struct node *q = st.p->child[c];
			if (!s->child[c] != !q) {
				fail(w, "child pointer differs from the shadow", st.p, st.id);
				return 0;
			}
			if (q)
				push(w, q, s->child[c], &n);
		}
	}
	if (live > w->max_live)
		w->max_live = live;
	if (bytes > w->max_live_bytes)
		w->max_live_bytes = bytes;
	gort_memstats *m = malloc(sizeof *m);
	if (m) {
		gort_read_memstats(m);
		uint64_t cur = __atomic_load_n(&peak_inuse, __ATOMIC_RELAXED);
		while (m->heap_inuse > cur &&
		       !__atomic_compare_exchange_n(&peak_inuse, &cur, m->heap_inuse, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
		free(m);
	}
	return live;
}

/* --- operations */

static struct node *publish_tree(struct worker *w, int depth, uint64_t *idp)
{
	struct node *p = new_node(w, depth ? (rnd(w) % 4 ? TYPED : CONS) : random_kind(w), 1);
	uint64_t id = p->id;
	struct shadow *s = shadow_of(id);
	if (depth && s->kind != LEAF) {
		int kids = (int)(rnd(w) % 3);
		for (int c = 0; c < kids; c++) {
			uint64_t cid;
			struct node *q = publish_tree(w, depth - 1, &cid);
			GORT_STORE(p->child[c], q);
			s->child[c] = cid;
		}
	}
	*idp = id;
	return p;
}

/* A child slot of a for a new edge: mostly an empty one if a has one. */
static unsigned child_slot(struct worker *w, uint64_t aid)
{
	const struct shadow *s = shadow_of(aid);
	unsigned lo = s->ballast, n = NCHILD - lo;
	unsigned c0 = lo + (unsigned)(rnd(w) % n);
	if (rnd(w) % 4)
		for (unsigned i = 0; i < n; i++)
			if (!s->child[lo + (c0 - lo + i) % n])
				return lo + (c0 - lo + i) % n;
	return c0;
}

/* Slots 0 (registered) and NROOTS (stack) hold the head and the tail of
 * the ballast chain; the random operations use the others. */
#define HEAD_SLOT 0
#define TAIL_SLOT NROOTS

static unsigned rand_slot(struct worker *w)
{
	unsigned i = 1 + (unsigned)(rnd(w) % (NSLOTS - 2));
	return i >= TAIL_SLOT ? i + 1 : i;
}

/* The ballast: a long chain through child[0], appended at its tail and
 * dropped whole when long, so that the live heap is tens of MiB and whole
 * chains become garbage at once.  The random operations may walk into it
 * and relink or cut it like anything else. */
static void ballast(struct worker *w)
{
	struct node *b = new_node(w, rnd(w) % 3 ? TYPED : CONS, 0);
	shadow_of(b->id)->ballast = 1;
	struct node *t = slot_get(w, TAIL_SLOT);
	uint64_t tid = w->slot_id[TAIL_SLOT];
	if (t && node_ok(w, t, tid)) {
		GORT_STORE(t->child[0], b);
		shadow_of(tid)->child[0] = b->id;
	} else {
		slot_set(w, HEAD_SLOT, b, b->id);
	}
	slot_set(w, TAIL_SLOT, b, b->id);
	if (++w->chain_len >= CHAIN_MAX) {
		slot_set(w, HEAD_SLOT, NULL, 0);
		slot_set(w, TAIL_SLOT, NULL, 0);
		w->chain_len = 0;
	}
}

/* The mix, in thousandths (cumulative bounds below): mostly growth and
 * relinking, enough dropping that garbage is plentiful. */
enum {
	P_ALLOC_ROOT = 30,   /* allocate into a root slot (dropping its old value) */
	P_ALLOC_CHILD = 250, /* allocate as a child of a reachable node */
	P_LINK = 420,        /* a.child[i] = b, both reachable */
	P_UNLINK = 480,
	P_DROP = 500,        /* a root slot = NULL */
	P_REROOT = 530,
	P_PUBLISH = 560,
	P_ADOPT = 640,
	P_UNPUBLISH = 660,
	P_GC = 661,          /* gort_gc() (one time in 8) */
	P_BALLAST = 900,     /* append to the ballast chain; the rest: nothing */
};

static void op(struct worker *w)
{
	uint64_t r = rnd(w) % 1000;
	uint64_t aid, bid;
	struct node *a, *b;
	if (r < P_ALLOC_ROOT) {
		b = new_node(w, random_kind(w), 0);
		slot_set(w, rand_slot(w), b, b->id);
	} else if (r < P_ALLOC_CHILD) {
		a = pick(w, &aid, 1);
		b = new_node(w, random_kind(w), 0);
		if (a) {
			unsigned c = child_slot(w, aid);
			GORT_STORE(a->child[c], b);
			shadow_of(aid)->child[c] = b->id;
		} /* else b is garbage at once */
	} else if (r < P_LINK) {
		a = pick(w, &aid, 1);
		b = pick(w, &bid, 0);
		if (a && b) {
			unsigned c = child_slot(w, aid);
			GORT_STORE(a->child[c], b);
			shadow_of(aid)->child[c] = bid;
		}
	} else if (r < P_UNLINK) {
		a = pick(w, &aid, 1);
		if (a) {
			unsigned c = shadow_of(aid)->ballast + (unsigned)(rnd(w) % (NCHILD - shadow_of(aid)->ballast));
			GORT_STORE(a->child[c], NULL);
			shadow_of(aid)->child[c] = 0;
		}
	} else if (r < P_DROP) {
		slot_set(w, rand_slot(w), NULL, 0);
	} else if (r < P_REROOT) {
		b = pick(w, &bid, 0);
		if (b)
			slot_set(w, rand_slot(w), b, bid);
	} else if (r < P_PUBLISH) { /* a frozen tree, to the shared array */
		b = publish_tree(w, 2, &bid);
		unsigned k = (unsigned)(rnd(w) % NSHARED);
		pthread_mutex_lock(&shared_lock);
		GORT_STORE(shared[k], b);
		shared_id[k] = bid;
		pthread_mutex_unlock(&shared_lock);
	} else if (r < P_ADOPT) { /* a published tree, into the own graph */
		unsigned k = (unsigned)(rnd(w) % NSHARED);
		pthread_mutex_lock(&shared_lock);
		b = shared[k];
		bid = shared_id[k];
		pthread_mutex_unlock(&shared_lock);
		/* Now b may be reachable only from this stack, for a while. */
		if (b && node_ok(w, b, bid)) {
			if (rnd(w) % 8 == 0) {
				slot_set(w, rand_slot(w), b, bid);
			} else if ((a = pick(w, &aid, 1)) != NULL) {
				unsigned c = child_slot(w, aid);
				GORT_STORE(a->child[c], b);
				shadow_of(aid)->child[c] = bid;
			}
		}
	} else if (r < P_UNPUBLISH) {
		unsigned k = (unsigned)(rnd(w) % NSHARED);
		pthread_mutex_lock(&shared_lock);
		GORT_STORE(shared[k], NULL);
		shared_id[k] = 0;
		pthread_mutex_unlock(&shared_lock);
	} else if (r < P_GC) {
		if (rnd(w) % 8 == 0)
			gort_gc();
	} else if (r < P_BALLAST) {
		ballast(w);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct node *volatile locals[NLOCALS];
	for (int i = 0; i < NLOCALS; i++)
		locals[i] = NULL;
	w->locals = locals;
	/* (The shadow has room for 2 nodes per op; an op makes at most 7.) */
	for (w->ops = 0; w->ops < OPS && w->nextseq < SHADOW_CAP - 8 && !__atomic_load_n(&failures, __ATOMIC_RELAXED);
	     w->ops++) {
		op(w);
		if (w->ops % VERIFY_EVERY == VERIFY_EVERY - 1) {
			size_t live = verify(w);
			if (live > MAX_LIVE) /* thin the graph: drop half the roots */
				for (unsigned i = 1; i < NSLOTS; i += 2)
					slot_set(w, i, NULL, 0);
		}
	}
	if (!__atomic_load_n(&failures, __ATOMIC_RELAXED))
		verify(w);
	for (unsigned i = 0; i < NSLOTS; i++)
		slot_set(w, i, NULL, 0);
	w->locals = NULL;
	return NULL;
}

static void test_stress_gc(void)
{
	shared = calloc(NSHARED, sizeof *shared);
	REQUIRE(shared);
	gort_add_roots(shared, NSHARED * sizeof *shared);
	for (int t = 0; t < NTHREADS; t++) {
		struct worker *w = &workers[t];
		w->index = t;
		w->rng = seed0 * 0x9e3779b97f4a7c15ull + (uint64_t)t * 0x2545f4914f6cdd1dull + 1;
		w->sh = calloc(SHADOW_CAP, sizeof *w->sh);
		w->roots = calloc(NROOTS, sizeof *w->roots);
		REQUIRE(w->sh && w->roots);
		gort_add_roots(w->roots, NROOTS * sizeof *w->roots);
	}
	pthread_t th[NTHREADS];
	for (int t = 0; t < NTHREADS; t++)
		REQUIRE(pthread_create(&th[t], NULL, worker_main, &workers[t]) == 0);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	CHECKF(failures == 0, "seed=%llu: %d failures", (unsigned long long)seed0, failures);

	uint64_t allocs = 0, bytes = 0, maxlive = 0, verifies = 0, maxnodes = 0;
	for (int t = 0; t < NTHREADS; t++) {
		allocs += workers[t].allocs;
		bytes += workers[t].alloc_bytes;
		maxlive += workers[t].max_live_bytes;
		maxnodes += workers[t].max_live;
		verifies += workers[t].verifies;
	}
	/* Everything dropped: the heap shrinks back. */
	for (int k = 0; k < NSHARED; k++)
		GORT_STORE(shared[k], NULL);
	gort_gc();
	gort_gc();
	gort_memstats m;
	gort_read_memstats(&m);
	printf("    seed=%llu: %llu nodes (%llu MiB) allocated, %llu checks, peak live %llu MiB (%llu nodes), peak heap_inuse %llu MiB, "
	       "%u cycles, heap_inuse %llu MiB at the end\n",
	       (unsigned long long)seed0, (unsigned long long)allocs, (unsigned long long)(bytes >> 20),
	       (unsigned long long)verifies, (unsigned long long)(maxlive >> 20), (unsigned long long)maxnodes,
	       (unsigned long long)(peak_inuse >> 20), m.num_gc, (unsigned long long)(m.heap_inuse >> 20));
	CHECKF(m.num_gc > 10, "seed=%llu: only %u cycles", (unsigned long long)seed0, m.num_gc);
	/* GORTGC=100 lets the heap reach twice the live heap; the live figure
	 * is sampled at the checks, so allow more. */
	CHECKF(peak_inuse < 4 * maxlive + (128u << 20), "seed=%llu: heap_inuse peaked at %llu MiB (live at most %llu MiB)",
	       (unsigned long long)seed0, (unsigned long long)(peak_inuse >> 20), (unsigned long long)(maxlive >> 20));
	CHECKF(m.heap_inuse < (64u << 20), "seed=%llu: heap_inuse %llu MiB after dropping everything",
	       (unsigned long long)seed0, (unsigned long long)(m.heap_inuse >> 20));
	CHECKF(m.gc_heap_marked < (8u << 20), "seed=%llu: %llu MiB still marked after dropping everything",
	       (unsigned long long)seed0, (unsigned long long)(m.gc_heap_marked >> 20));
	CHECK(m.heap_objects == m.mallocs - m.frees);
	for (int t = 0; t < NTHREADS; t++) {
		gort_remove_roots(workers[t].roots);
		free(workers[t].roots);
		free(workers[t].sh);
		free(workers[t].stack);
	}
	gort_remove_roots(shared);
	free(shared);
}

int main(int argc, char **argv)
{
#ifdef UNDER_TSAN
	printf("--- SKIP: stress_gc (ThreadSanitizer defers the stop signals of threads running plain code)\n");
	return 0;
#endif
	seed0 = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	if (argc <= 1) {
		/* Keep the seed across the re-execution. */
		char s[32];
		snprintf(s, sizeof s, "%llu", (unsigned long long)seed0);
		char *nargv[] = {argv[0], s, NULL};
		reexec_with(nargv, "gcpoison=1");
	} else {
		reexec_with(argv, "gcpoison=1");
	}
	printf("    seed=%llu (replay: %s %llu)\n", (unsigned long long)seed0, argv[0], (unsigned long long)seed0);
	fflush(stdout);
	alarm(240);
	RUN(test_stress_gc);
	TEST_EXIT();
}
