/*
 * mfinal.c: finalizers (Go's mfinal.go and its finalizer specials).
 *
 * gort_set_finalizer records (obj, fn, arg) in a hash table keyed by the
 * object, held in memory the collector does not scan, so the table does
 * not keep obj alive.  During marking, what a finalizable object points to
 * is marked (the object itself is not), and so is arg: if obj dies, its
 * finalizer still finds everything it reaches intact.  At mark termination
 * each finalizable object left unmarked is marked (kept for its finalizer),
 * moved from the table to the queue, and run once by the finalizer thread;
 * a later cycle frees it if nothing revived it.  Queued entries are roots.
 *
 * fin_lock guards the table and the queue; it is a critical-section lock
 * (the collector takes it with the world stopped).  The finalizer thread
 * is registered: finalizers are user code holding GC pointers.
 */
#include "mgc.h"
#include "arena.h"
#include "atomic.h"
#include "check.h"
#include "crit.h"
#include "fixalloc.h"
#include "gcwork.h"
#include "os.h"
#include "thread.h"

#include <errno.h>
#include <semaphore.h>
#include <string.h>

typedef void (*finalizer_fn)(void *obj, void *arg);

struct fin {
	uintptr_t obj; /* 0: empty slot; FIN_TOMB: deleted */
	finalizer_fn fn;
	void *arg;
};

struct finq {
	struct finq *next;
	struct fin f;
};

#define FIN_TOMB ((uintptr_t)1)

static pthread_mutex_t fin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fin *tab;      /* open addressing, linear probing; fin_lock */
static size_t tabcap, tabused, tablive; /* used counts tombstones too */
static struct finq *queue, *queue_tail; /* fin_lock */
static fixalloc qalloc;      /* fin_lock */
static bool fin_thread_started;
static sem_t fin_sem;
static uint64_t fin_queued; /* entries queued since the last wake (fin_lock) */

GORT_INLINE size_t fin_hash(uintptr_t obj, size_t cap)
{
	return (size_t)(((obj >> 4) * 0x9e3779b97f4a7c15ull) >> 7) & (cap - 1);
}

static struct fin *lookup(uintptr_t obj)
{
	if (!tabcap)
		return NULL;
	for (size_t i = fin_hash(obj, tabcap);; i = (i + 1) & (tabcap - 1)) {
		if (tab[i].obj == obj)
			return &tab[i];
		if (tab[i].obj == 0)
			return NULL;
	}
}

static void insert_nogrow(uintptr_t obj, finalizer_fn fn, void *arg)
{
	size_t i = fin_hash(obj, tabcap);
	while (tab[i].obj > FIN_TOMB)
		i = (i + 1) & (tabcap - 1);
	if (tab[i].obj == 0)
		tabused++;
	tab[i] = (struct fin){obj, fn, arg};
	tablive++;
}

static void grow_table(void)
{
	struct fin *old = tab;
	size_t oldcap = tabcap;
	tabcap = oldcap && tablive * 4 < oldcap ? oldcap : (oldcap ? oldcap * 2 : 1024);
	tab = os_alloc(tabcap * sizeof *tab);
	if (!tab)
		gort_throw("runtime: out of memory growing the finalizer table");
	tabused = tablive = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].obj > FIN_TOMB)
			insert_nogrow(old[i].obj, old[i].fn, old[i].arg);
	if (old)
		os_free(old, oldcap * sizeof *old);
}

static void delete_entry(struct fin *f)
{
	f->obj = FIN_TOMB;
	f->fn = NULL;
	f->arg = NULL;
	tablive--;
}

/* The start of the GC object p points into, or 0. */
static uintptr_t object_start(uintptr_t p)
{
	mspan *s = span_of_heap(p);
	if (!s || s->kind != SPAN_GC)
		return 0;
	uint32_t idx = obj_index_of(s, p - s->base);
	uintptr_t base = s->base + (uintptr_t)idx * s->elemsize;
	if (idx >= load_relaxed(&s->freeindex) &&
	    !(load_relaxed(&span_alloc_word(s, idx >> 6)) & ((uint64_t)1 << (idx & 63))))
		return 0;
	return base;
}

void gort_set_finalizer(void *obj, void (*fn)(void *obj, void *arg), void *arg)
{
	uintptr_t p = (uintptr_t)obj;
	if (!obj)
		gort_throw("gort_set_finalizer: nil pointer");
	if (object_start(p) != p)
		gort_throw_addr("gort_set_finalizer: pointer not at beginning of allocated block", p);
	mutex_lock(&fin_lock);
	struct fin *f = lookup(p);
	if (!fn) {
		if (f)
			delete_entry(f);
	} else if (f) {
		f->fn = fn;
		f->arg = arg;
	} else {
		if ((tabused + 1) * 4 > tabcap * 3)
			grow_table();
		insert_nogrow(p, fn, arg);
	}
	mutex_unlock(&fin_lock);
}

void final_scan_roots(gcwork *w)
{
	mutex_lock(&fin_lock);
	mark_note_root("finalizer", 0);
	for (size_t i = 0; i < tabcap; i++) {
		if (tab[i].obj > FIN_TOMB) {
			mark_scan_object(w, tab[i].obj);
			mark_grey(w, (uintptr_t)tab[i].arg);
		}
	}
	for (struct finq *q = queue; q; q = q->next) {
		mark_grey(w, q->f.obj);
		mark_grey(w, (uintptr_t)q->f.arg);
	}
	mutex_unlock(&fin_lock);
}

uint64_t final_collect(void)
{
	uint64_t bytes = 0;
	mutex_lock(&fin_lock);
	if (!qalloc.size)
		fixalloc_init(&qalloc, sizeof(struct finq));
	for (size_t i = 0; i < tabcap; i++) {
		struct fin *f = &tab[i];
		if (f->obj <= FIN_TOMB || mark_is_marked(f->obj))
			continue;
		struct finq *q = fixalloc_alloc(&qalloc, false);
		q->next = NULL;
		q->f = *f;
		if (queue_tail)
			queue_tail->next = q;
		else
			queue = q;
		queue_tail = q;
		fin_queued++;
		bytes += mark_set(f->obj);
		delete_entry(f);
	}
	mutex_unlock(&fin_lock);
	return bytes;
}

/* Runs the oldest queued finalizer; false when the queue is empty.  The
 * entry lives in this frame during the call, keeping obj and arg
 * reachable; once we return, nothing of it is left above the caller's
 * stack pointer. */
static GORT_NOINLINE bool run_one(void)
{
	mutex_lock(&fin_lock);
	struct finq *q = queue;
	struct fin f = {0, NULL, NULL};
	if (q) {
		queue = q->next;
		if (!queue)
			queue_tail = NULL;
		f = q->f;
		fixalloc_free(&qalloc, q);
	}
	mutex_unlock(&fin_lock);
	if (!q)
		return false;
	f.fn((void *)f.obj, f.arg);
	gort_keep_alive((void *)f.obj);
	gort_keep_alive(f.arg);
	return true;
}

/* Zeroes the stack below our frame, where finalizers ran: the frames of
 * the next calls (sem_wait's, blocked there for long) would otherwise
 * keep stale pointers to finalized objects in their unused slots (bdwgc's
 * GC_clear_stack).  Unsanitized so that ASan keeps buf on the real stack,
 * not in its fake stack. */
static GORT_NOINLINE __attribute__((no_sanitize("address"))) void
clear_stack_below(void)
{
	volatile char buf[16384];
	memset((char *)buf, 0, sizeof buf);
	__asm__ volatile("" : : "r"(buf) : "memory");
}

static void *finalizer_main(void *arg)
{
	(void)arg;
	thread_register();
	for (;;) {
		clear_stack_below();
		thread_idle_wait(&fin_sem);
		while (run_one())
			;
	}
	return NULL;
}

void final_wake(void)
{
	mutex_lock(&fin_lock);
	uint64_t n = fin_queued;
	fin_queued = 0;
	mutex_unlock(&fin_lock);
	if (!n)
		return;
	if (!fin_thread_started) { /* gc.lock serialises us */
		sem_init(&fin_sem, 0, 0);
		pthread_t t;
		if (thread_create_internal(&t, finalizer_main, NULL) != 0)
			gort_throw("runtime: cannot start the finalizer thread");
		pthread_detach(t);
		fin_thread_started = true;
	}
	sem_post(&fin_sem);
}

void final_fork_child(void)
{
	/* Queued finalizers run in the child too, on a new thread. */
	fin_thread_started = false;
	if (queue)
		fin_queued = 1;
}

void final_fork_lock(void)
{
	mutex_lock(&fin_lock);
}

void final_fork_unlock(void)
{
	mutex_unlock(&fin_lock);
}

GORT_NOINLINE void gort_keep_alive(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}
