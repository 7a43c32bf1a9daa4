/*
 * mbarrier.c: the write barrier (Go's mbarrier.go).
 *
 * gort_store (gort.h) tests one global flag; while a collection is marking
 * the store comes here, and both the pointer being overwritten and the one
 * being written are shaded (greyed) before the store: Yuasa's deletion
 * barrier plus Dijkstra's insertion barrier, Go's hybrid barrier without
 * its "stack is grey" refinement (gort cannot tell whether the storing
 * thread's stack was scanned, so it always shades the new value).  With
 * that, an object reachable at the start of marking, or stored anywhere
 * during it, cannot be missed by a mark that runs alongside the program.
 *
 * Today marking stops the world, so no mutator store ever sees the flag
 * up; the barrier is exercised by the unit tests and costs the program one
 * predictable branch per pointer store.  Shaded objects go to a shared
 * work list that the markers drain before marking can end.
 */
#include "mgc.h"
#include "atomic.h"
#include "crit.h"
#include "gcwork.h"
#include "spinlock.h"

static spinlock barrier_lock = SPINLOCK_INIT;
static gcwork barrier_work; /* barrier_lock */
static bool barrier_work_ready;

void gort_write_barrier_slow(void **slot, void *value)
{
	crit_enter();
	if (load_relaxed(&gc.phase) == GC_MARK) {
		spin_lock(&barrier_lock);
		if (!barrier_work_ready) {
			gcwork_init(&barrier_work);
			barrier_work_ready = true;
		}
		mark_grey(&barrier_work, (uintptr_t)*slot);
		mark_grey(&barrier_work, (uintptr_t)value);
		spin_unlock(&barrier_lock);
	}
	*slot = value;
	crit_exit();
}

bool barrier_flush(void)
{
	spin_lock(&barrier_lock);
	bool had = barrier_work_ready && (barrier_work.w1->n || barrier_work.w2->n);
	if (had)
		gcwork_flush(&barrier_work);
	spin_unlock(&barrier_lock);
	return had;
}

uint64_t barrier_bytes_marked(void)
{
	spin_lock(&barrier_lock);
	uint64_t b = barrier_work.bytes_marked;
	barrier_work.bytes_marked = 0;
	spin_unlock(&barrier_lock);
	return b;
}
