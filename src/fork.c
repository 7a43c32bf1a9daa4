/*
 * fork.c: fork() safety.
 *
 * A fork copies only the calling thread; a lock held by any other thread at
 * that moment would stay held forever in the child.  So the prepare handler
 * takes every gort lock, in the runtime's lock order, and the parent and
 * child handlers release them.  Order (outermost first): the symbolizer's
 * lock (a leaf, so any place would do), the dlopen lock, gc.lock, thread_lock (the
 * thread registry, which stop-the-world holds while it stops threads that
 * may hold any of the others), reclaim_lock and
 * the scavenger's start_lock, the profiler's lock, every mcentral lock, cache_lock, the heap
 * lock, scav_lock, persistent_lock: the same nesting the runtime itself
 * uses (heap -> scav_lock, heap -> persistent, cache -> persistent), so the
 * prepare handler cannot deadlock against a running thread.
 *
 * In the child the other threads' caches are orphaned: their spans stay
 * cached by owners that no longer exist and are never reused (a bounded
 * leak, as in any allocator with thread caches).  The scavenger thread does
 * not exist in the child; it is restarted at the next span allocation.
 * The thread registry keeps only the forking thread.
 */
#include "crit.h"
#include "fork.h"
#include "fixalloc.h"
#include "mcache.h"
#include "mheap.h"
#include "mprof.h"
#include "mgc.h"
#include "scavenge.h"
#include "symtab.h"
#include "thread.h"

#include <pthread.h>

static void lock_all(void)
{
	symtab_fork_lock();     /* a leaf: its holder takes no other lock */
	roots_begin();          /* the dlopen lock: taken before gc.lock */
	pthread_mutex_lock(&gc.lock);
	thread_fork_lock();
	thread_start_fork_lock();
	scavenge_fork_lock();
	final_fork_lock();
	roots_fork_lock();
	mprof_fork_lock();
	mcache_fork_lock();     /* before the central locks: a GC flush nests them so */
	for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++)
		spin_lock(&mheap_.central_manual[i].lock);
	for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++)
		spin_lock(&mheap_.central_gc[i].lock);
	sweep_fork_lock();
	mutex_lock(&mheap_.lock);
	scavenge_fork_lock_leaf();
	persistent_fork_lock();
}

static void unlock_all(bool child)
{
	persistent_fork_unlock();
	mutex_unlock(&mheap_.lock);
	sweep_fork_unlock();
	for (unsigned i = NUM_SPAN_CLASSES; i-- > 0;)
		spin_unlock(&mheap_.central_gc[i].lock);
	for (unsigned i = NUM_SIZE_CLASSES; i-- > 0;)
		spin_unlock(&mheap_.central_manual[i].lock);
	mcache_fork_unlock();
	mprof_fork_unlock();
	roots_fork_unlock(child);
	final_fork_unlock();
	scavenge_fork_unlock(child);
	thread_start_fork_unlock();
	thread_fork_unlock(child);
	pthread_mutex_unlock(&gc.lock);
	if (!child)
		roots_end(); /* (in the child, roots_fork_unlock reset it) */
	symtab_fork_unlock();
	if (child)
		gc_fork_child();
}

static void fork_prepare(void)
{
	lock_all();
}

static void fork_parent(void)
{
	unlock_all(false);
}

static void fork_child(void)
{
	unlock_all(true);
}

#if defined(__GLIBC__)
/* pthread_atfork is a two-line wrapper in libc_nonshared.a that the
 * linker places after all of gort's code, so calling it maps that far
 * page (and, by the kernel's fault-around, the 64 KiB of cold code about
 * it) into every process.  It only forwards to the exported function. */
extern int __register_atfork(void (*)(void), void (*)(void), void (*)(void), void *);
extern void *__dso_handle;
#define register_atfork(prepare, parent, child) __register_atfork(prepare, parent, child, __dso_handle)
#else
#define register_atfork(prepare, parent, child) pthread_atfork(prepare, parent, child)
#endif

void fork_init(void)
{
	register_atfork(fork_prepare, fork_parent, fork_child);
}
