/*
 * crit.h: critical sections that stop-the-world waits out (Go's "no
 * preemption while holding locks": m.locks).
 *
 * A registered thread is stopped by a signal at any instruction.  That is
 * safe for the collector only if the thread is not half-way through
 * changing heap metadata the collector reads or takes over (its cache,
 * a central list) and holds no gort lock the collector may need.  So every
 * gort lock and the GC allocation path run inside crit_enter/crit_exit: the
 * suspend handler, finding crit_depth > 0, only notes the request
 * (crit_stop_deferred) and returns; the outermost crit_exit then stops the
 * thread itself.  Invariants: while the world is stopped, no stopped thread
 * is in a critical section, so it holds no gort lock; code in a critical
 * section never waits for the world to stop or for a lock taken outside
 * critical sections (gc_lock, thread_lock).
 */
#ifndef GORT_CRIT_H
#define GORT_CRIT_H

#include "rt.h"

#include <pthread.h>

GORT_HIDDEN extern __thread uint32_t crit_depth __attribute__((tls_model("initial-exec")));
GORT_HIDDEN extern __thread uint32_t crit_stop_deferred __attribute__((tls_model("initial-exec")));
/* Serves a stop request deferred by the suspend handler (thread.c). */
GORT_HIDDEN GORT_NOINLINE void thread_deferred_stop(void);

#define signal_fence() __atomic_signal_fence(__ATOMIC_SEQ_CST)

GORT_INLINE void crit_enter(void)
{
	crit_depth++;
	signal_fence();
}

GORT_INLINE void crit_exit(void)
{
	signal_fence();
	if (--crit_depth == 0) {
		signal_fence();
		if (unlikely(crit_stop_deferred))
			thread_deferred_stop();
	}
}

/* The runtime's mutexes are taken inside a critical section. */
GORT_INLINE void mutex_lock(pthread_mutex_t *m)
{
	crit_enter();
	pthread_mutex_lock(m);
}

GORT_INLINE void mutex_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
	crit_exit();
}

#endif
