/*
 * spinlock.h: a small test-and-test-and-set lock for short critical
 * sections (the mcentral lists: a few pointer moves).
 *
 * Uncontended it is one atomic exchange to take and one release store to
 * drop, against ~40 instructions each way for a pthread mutex; this is the
 * lock a span-cycling workload takes twice per span.  Under contention it
 * spins politely, then yields the CPU, so a preempted holder is not starved.
 * Not for sections that can block or run long: the heap lock stays a mutex.
 * Held locks count as a critical section (crit.h).
 */
#ifndef GORT_SPINLOCK_H
#define GORT_SPINLOCK_H

#include "atomic.h"
#include "crit.h"

#include <sched.h>

typedef struct spinlock {
	int held;
} spinlock;

#define SPINLOCK_INIT {0}

static inline void spin_lock(spinlock *l)
{
	crit_enter(); /* see crit.h: never stopped holding a runtime lock */
	for (unsigned spins = 0;; spins++) {
		if (!load_relaxed(&l->held) && !__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE))
			return;
		if (spins < 64)
			cpu_relax();
		else
			sched_yield();
	}
}

static inline void spin_unlock(spinlock *l)
{
	store_release(&l->held, 0);
	crit_exit();
}

#endif
