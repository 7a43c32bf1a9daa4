/*
 * thread.h: the registry of threads whose stacks and registers the
 * collector will scan, and stopping them (stop-the-world).
 *
 * A registered thread is stopped by a signal (SIG_SUSPEND): its handler
 * records the thread's stack pointer and saves its registers (the signal's
 * ucontext) in the thread's record, acknowledges, and waits in sigsuspend
 * for SIG_RESUME.  Signals reach threads spinning in loops that never call
 * into gort and threads blocked in system calls (restarted afterwards:
 * SA_RESTART), which is what the collector's roots need.
 *
 * Invariants: the registry list is guarded by thread_lock; while the world
 * is stopped (between stw_stop and stw_start, called by one thread holding
 * thread_lock) every other registered thread is inside the suspend handler
 * with its context saved, so its stack is stable from stack_lo up to
 * stopped_sp... stack_hi.  The stopper must not take a lock a stopped thread
 * may hold: no allocation from the gort heap while the world is stopped.
 */
#ifndef GORT_THREAD_H
#define GORT_THREAD_H

#include "rt.h"

#include <pthread.h>
#include <semaphore.h>
#include <sys/types.h>

#define THREAD_SAVED_REGS 32 /* words of saved register state */

typedef struct gthread {
	struct gthread *next, *prev; /* registry; thread_lock */
	pthread_t pthread;
	pid_t tid;
	uintptr_t stack_lo, stack_hi; /* the thread's stack: [lo, hi) */
	uintptr_t stopped_sp;         /* stack pointer when stopped */
	uintptr_t regs[THREAD_SAVED_REGS]; /* general registers when stopped */
	unsigned nregs;
	uint32_t stop_epoch;          /* atomic: last stop this thread acknowledged */
	bool runtime;                 /* a runtime thread (the sweeper): stopped, not scanned */
} gthread;

/* Registers the calling thread (idempotent); false if its stack cannot be
 * found. */
GORT_HIDDEN bool thread_register(void);
/* Registers the calling runtime thread: stopped like the others, but its
 * stack holds no program pointers, only stale heap addresses (span bases)
 * that would keep garbage alive, so the collector does not scan it. */
GORT_HIDDEN bool thread_register_runtime(void);
/* Waits on sem (retrying on EINTR): the idle wait of a registered runtime
 * thread (the sweeper, the finalizer thread).  Under ThreadSanitizer it
 * wakes every 100 ms and unblocks the stop signals again: the sanitizer's
 * deferred signal delivery can leave an idle registered thread with every
 * signal blocked, a stop signal pending, and block them again after each
 * signal it is then let handle.  Without the wake-up the stop waited for
 * good (test_gc_roots under TSan, about 1 run in 100, at least since
 * 957ed5a); with it such a run passes, that thread's stops each held up
 * to 100 ms (one run of 220 logged it: 25 wake-ups found the mask
 * blocked again). */
GORT_HIDDEN void thread_idle_wait(sem_t *sem);
/* Removes the calling thread from the registry (idempotent). */
GORT_HIDDEN void thread_unregister(void);
/* The calling thread's record, or NULL when it is not registered. */
GORT_HIDDEN gthread *thread_self(void);

/* Stops every registered thread but the caller and returns how many were
 * stopped; holds thread_lock until stw_start. */
GORT_HIDDEN unsigned stw_stop(void);
/* Resumes the threads stopped by stw_stop. */
GORT_HIDDEN void stw_start(void);
/* fork(): thread_lock is the outermost lock (fork.c); in the child only the
 * forking thread exists, so the registry is cut down to it. */
GORT_HIDDEN void thread_fork_lock(void);
GORT_HIDDEN void thread_fork_unlock(bool child);
/* Calls fn for every registered thread (the world must be stopped, or the
 * caller must hold the registry through stw_stop). */
GORT_HIDDEN void thread_for_each(void (*fn)(gthread *t, void *arg), void *arg);

/* The caller's stack pointer, conservatively: an address below every frame
 * of the caller. */
GORT_HIDDEN uintptr_t thread_current_sp(void);
/* Called once, on the main thread, as the library starts: lets the
 * process end when the program's last thread does, even with runtime
 * threads alive (thread.c). */
GORT_HIDDEN void thread_watch_main(void);
/* Starts a runtime thread (never registered, stop signals blocked). */
GORT_HIDDEN int thread_create_internal(pthread_t *t, void *(*fn)(void *), void *arg);
/* Calls fn for the argument of every thread created but not yet registered
 * (a root: it may be the only reference to a GC object). */
GORT_HIDDEN void thread_scan_pending(void (*fn)(uintptr_t word, void *arg), void *arg);
GORT_HIDDEN void thread_start_fork_lock(void);
GORT_HIDDEN void thread_start_fork_unlock(void);

#endif
