/*
 * gcwork.c: work buffers (see gcwork.h).
 *
 * Balancing, as Go's gcWork does it: a marker whose first buffer fills
 * swaps to its second; when both are full, it publishes one on the global
 * list, so an object graph that fans out feeds idle markers quickly.
 */
#include "gcwork.h"
#include "atomic.h"
#include "check.h"
#include "os.h"
#include "spinlock.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>

#define WORKBUF_CHUNK (64 * sizeof(workbuf))

static spinlock wb_lock = SPINLOCK_INIT;
/* Idle markers sleep here after spinning a while; a published buffer or
 * the end of marking wakes them. */
static sem_t idle_sem;
static pthread_once_t idle_once = PTHREAD_ONCE_INIT;
static unsigned idle_sleepers; /* atomic, seq_cst: Dekker with the publishers */
static workbuf *wb_full, *wb_empty;
static uintptr_t wb_nfull; /* atomic read as a hint */

static workbuf *getempty(void)
{
	spin_lock(&wb_lock);
	workbuf *b = wb_empty;
	if (b)
		wb_empty = b->next;
	spin_unlock(&wb_lock);
	if (!b) {
		char *chunk = os_alloc(WORKBUF_CHUNK);
		if (!chunk)
			gort_throw("runtime: out of memory allocating mark work buffers");
		b = (workbuf *)chunk;
		spin_lock(&wb_lock);
		for (uintptr_t off = sizeof(workbuf); off < WORKBUF_CHUNK; off += sizeof(workbuf)) {
			workbuf *e = (workbuf *)(chunk + off);
			e->next = wb_empty;
			wb_empty = e;
		}
		spin_unlock(&wb_lock);
	}
	b->n = 0;
	b->next = NULL;
	return b;
}

static void idle_init(void)
{
	sem_init(&idle_sem, 0, 0);
}

static void putfull(workbuf *b)
{
	spin_lock(&wb_lock);
	b->next = wb_full;
	wb_full = b;
	store_seqcst(&wb_nfull, wb_nfull + 1);
	spin_unlock(&wb_lock);
	if (load_seqcst(&idle_sleepers))
		sem_post(&idle_sem);
}

void gcwork_idle_sleep(bool (*done)(void))
{
	pthread_once(&idle_once, idle_init);
	__atomic_fetch_add(&idle_sleepers, 1, __ATOMIC_SEQ_CST);
	/* Re-check after announcing ourselves: a publisher or the last marker
	 * to go idle either sees us (and posts) or is seen here. */
	if (!gcwork_global_available() && !done())
		while (sem_wait(&idle_sem) != 0 && errno == EINTR)
			;
	__atomic_fetch_sub(&idle_sleepers, 1, __ATOMIC_SEQ_CST);
}

void gcwork_idle_wake_all(void)
{
	pthread_once(&idle_once, idle_init);
	for (unsigned n = load_seqcst(&idle_sleepers); n; n--)
		sem_post(&idle_sem);
}

void gcwork_idle_reset(void)
{
	pthread_once(&idle_once, idle_init);
	while (sem_trywait(&idle_sem) == 0)
		;
}

static void putempty(workbuf *b)
{
	spin_lock(&wb_lock);
	b->next = wb_empty;
	wb_empty = b;
	spin_unlock(&wb_lock);
}

static workbuf *trygetfull(void)
{
	if (!load_relaxed(&wb_nfull))
		return NULL;
	spin_lock(&wb_lock);
	workbuf *b = wb_full;
	if (b) {
		wb_full = b->next;
		store_relaxed(&wb_nfull, wb_nfull - 1);
	}
	spin_unlock(&wb_lock);
	return b;
}

void gcwork_init(gcwork *w)
{
	w->w1 = getempty();
	w->w2 = getempty();
	w->bytes_marked = 0;
	w->scan_bytes = 0;
	w->checkmark = false;
	w->shared = true;
}

void gcwork_put_slow(gcwork *w, uintptr_t obj)
{
	workbuf *t = w->w1;
	w->w1 = w->w2;
	w->w2 = t;
	if (w->w1->n == WORKBUF_OBJS) {
		putfull(w->w1);
		w->w1 = getempty();
	}
	w->w1->obj[w->w1->n++] = obj;
}

uintptr_t gcwork_get_slow(gcwork *w)
{
	workbuf *t = w->w1;
	w->w1 = w->w2;
	w->w2 = t;
	if (w->w1->n)
		return w->w1->obj[--w->w1->n];
	workbuf *b = trygetfull();
	if (!b)
		return 0;
	putempty(w->w1);
	w->w1 = b;
	return b->obj[--b->n];
}

void gcwork_flush(gcwork *w)
{
	if (w->w1->n) {
		putfull(w->w1);
		w->w1 = getempty();
	}
	if (w->w2->n) {
		putfull(w->w2);
		w->w2 = getempty();
	}
}

void gcwork_dispose(gcwork *w)
{
	GORT_ASSERT(1, w->w1->n == 0 && w->w2->n == 0);
	putempty(w->w1);
	putempty(w->w2);
	w->w1 = w->w2 = NULL;
}

bool gcwork_global_available(void)
{
	return load_seqcst(&wb_nfull) != 0;
}

void gcwork_balance(gcwork *w)
{
	if (w->w2->n) {
		putfull(w->w2);
		w->w2 = getempty();
	} else if (w->w1->n > 4) {
		/* Hand the older half of the stack to the idle markers. */
		workbuf *b = getempty();
		uintptr_t half = w->w1->n / 2;
		for (uintptr_t i = 0; i < half; i++)
			b->obj[i] = w->w1->obj[i];
		b->n = half;
		w->w1->n -= half;
		for (uintptr_t i = 0; i < w->w1->n; i++)
			w->w1->obj[i] = w->w1->obj[i + half];
		putfull(b);
	}
}
