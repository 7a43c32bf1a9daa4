/*
 * mgc.h: the collector's shared state and the interfaces between its parts
 * (Go's mgc.go).  One file per phase implements them:
 *   mallocgc.c  gort_alloc / gort_new: GC spans from the thread's cache,
 *               heap bits written for scan objects
 *   gcwork.c    grey work buffers shared between markers
 *   roots.c     data/bss of every loaded object, extra root ranges, stacks
 *   mark.c      marking: grey objects, scan, parallel drain, checkmark
 *   sweep.c     the GC central lists and sweeping (lazy and background)
 *   pacer.c     GORTGC / GORTMEMLIMIT / GORTMAXPROCS, heap goal, trigger
 *   mfinal.c    finalizers and the finalizer thread
 *   mbarrier.c  the write barrier
 *   mgc.c       the cycle: stop the world, mark, terminate, sweep, stats
 *
 * A cycle (mgc.c), all under gc.lock:
 *   finish sweeping the last cycle; snapshot the data segments; stop the
 *   world; flush every thread's GC spans back to the central lists; mark
 *   from the roots in parallel; queue finalizers of unmarked objects;
 *   (gccheckmark: re-mark from scratch and compare); sweepgen += 2 and every
 *   span becomes unswept; restart the world.  Sweeping then proceeds lazily
 *   (an allocating thread sweeps the spans it takes) and in the background.
 *
 * Invariants: gc.sweepgen only changes with the world stopped.  A span of
 * the collected heap is on exactly one of its central's lists (partial,
 * full, unswept) or cached by one thread; s->sweepgen == gc.sweepgen for
 * every span that is cached or on partial/full, and gc.sweepgen - 2 on
 * unswept.  Nothing allocates from an unswept span.  While the world is
 * stopped every span is on a list (the flush) and swept (sweep_finish).
 */
#ifndef GORT_MGC_H
#define GORT_MGC_H

#include "gort.h"
#include "mspan.h"
#include "rt.h"
#include "spinlock.h"

#include <pthread.h>

#define GC_MAX_PROCS 64

struct gcstate {
	pthread_mutex_t lock;      /* one cycle at a time; never held in a critical section */
	uint32_t sweepgen;         /* += 2 per cycle, world stopped */
	uint32_t phase;            /* GC_OFF / GC_MARK / GC_MARKTERM */
	int64_t heap_live;         /* atomic: bytes of GC objects, marked + allocated since */
	uint64_t heap_marked;      /* live bytes found by the last mark */
	uint64_t trigger;          /* atomic: start a cycle when heap_live reaches it */
	uint64_t goal;             /* heap goal of the next cycle */
	uint64_t last_goal;        /* goal of the cycle that ran last */
	int gc_percent;            /* GORTGC; < 0: off */
	int64_t memory_limit;      /* GORTMEMLIMIT; INT64_MAX: none */
	unsigned nproc;            /* GORTMAXPROCS: threads that mark */
	/* Statistics (gc.lock, except the atomic counters). */
	uint32_t numgc, numforced;
	uint64_t pause_total_ns;
	uint64_t pause_ns[256], pause_end[256];
	uint64_t last_gc_unix;
	int64_t init_time;
	uint64_t gc_cpu_ns;        /* CPU time charged to the collector */
	uint64_t nfree[NUM_SIZE_CLASSES]; /* atomic: objects freed by sweeping (0 = large) */
	uint64_t large_free_bytes; /* atomic */
	/* Large GC objects (largelock): lists through s->next, indexed by
	 * sweepgen parity as the centrals' lists are (sweep.c). */
	spinlock largelock;
	mspan *large[2];
};

enum { GC_OFF = 0, GC_MARK = 1, GC_MARKTERM = 2 };

GORT_HIDDEN extern struct gcstate gc;
GORT_HIDDEN extern uintptr_t gc_self_sp;

/* --- mgc.c */
GORT_HIDDEN void gc_init(void);
/* Runs a cycle if the heap has reached its trigger (allocation slow paths,
 * outside any critical section). */
GORT_HIDDEN void gc_maybe_trigger(void);
/* Stops the program with the heap figures (out of memory). */
GORT_HIDDEN __attribute__((noreturn, cold)) void gc_throw_oom(const char *what, uintptr_t size);
/* fork(): the child has no sweeper, marker or finalizer threads. */
GORT_HIDDEN void gc_fork_child(void);

/* --- pacer.c */
GORT_HIDDEN void pacer_init(void);
/* GORTMAXPROCS's default for a process that may run on ncpu CPUs: ncpu,
 * or less under a cgroup CPU limit (unless GORTDEBUG=containermaxprocs=0). */
GORT_HIDDEN unsigned pacer_default_procs(unsigned ncpu);
/* Go's GOGC and GOMEMLIMIT grammars; false for a bad value. */
GORT_HIDDEN bool pacer_parse_gogc(const char *s, int *out);
GORT_HIDDEN bool pacer_parse_memlimit(const char *s, int64_t *out);
/* Sets the memory limit from GORTMEMLIMIT's value v (read with the heap,
 * so that the malloc face obeys it too); a bad value is reported. */
GORT_HIDDEN void pacer_init_limit(const char *v);
/* Memory the runtime holds besides heap pages (metadata), which counts
 * against the memory limit. */
GORT_HIDDEN uint64_t pacer_runtime_overhead(void);
/* Returns free pages to the OS while the heap's resident memory exceeds
 * the memory limit (after sweeping has freed what it can). */
GORT_HIDDEN void pacer_enforce_limit(void);
/* New goal and trigger from heap_marked and the knobs; gc.lock held. */
GORT_HIDDEN void pacer_commit(void);


/* --- sweep.c */
struct mcache;
struct mcentral;
/* A swept GC span with a free slot, cached by owner; NULL if out of memory. */
GORT_HIDDEN mspan *gc_cache_span(struct mcentral *c, struct mcache *owner);
/* Takes a span back from its cache: slots below freeindex become allocated. */
GORT_HIDDEN void gc_uncache_span(mspan *s);
/* Records a new large GC span. */
GORT_HIDDEN void gc_large_add(mspan *s);
/* Sweeps one unswept span; false when none is left. */
GORT_HIDDEN bool sweep_one(void);
/* Sweeps everything left from the last cycle. */
GORT_HIDDEN void sweep_finish(void);
/* World stopped: every swept span becomes unswept (sweepgen += 2). */
GORT_HIDDEN void sweep_start_cycle(void);
/* Calls fn for every GC span (world stopped, all spans on lists). */
GORT_HIDDEN void sweep_for_each_span(void (*fn)(mspan *s, void *arg), void *arg);
GORT_HIDDEN void sweeper_wake(void);
GORT_HIDDEN void sweep_fork_child(void);
GORT_HIDDEN void sweep_fork_lock(void);
GORT_HIDDEN void sweep_fork_unlock(void);

/* --- gcwork.c: see gcwork.h; mark.c */
struct gcwork;
/* Greys the object containing p, if p points into an allocated GC object. */
GORT_HIDDEN void mark_grey(struct gcwork *w, uintptr_t p);
/* Scans [lo, hi) conservatively (aligned words). */
GORT_HIDDEN void mark_scan_range(struct gcwork *w, uintptr_t lo, uintptr_t hi);
/* Scans the contents of the GC object at base without marking it. */
GORT_HIDDEN void mark_scan_object(struct gcwork *w, uintptr_t base);
/* Marks the object at base (no scan); returns its size if newly marked. */
GORT_HIDDEN uintptr_t mark_set(uintptr_t base);
/* Whether the object at base (the start of a GC object) is marked. */
GORT_HIDDEN bool mark_is_marked(uintptr_t base);
/* Starts the mark helper threads the next cycle will want, before the
 * world stops: creating a thread takes the loader's TLS lock, which a
 * stopped thread (in pthread_create, or in dlopen) may hold. */
GORT_HIDDEN void mark_start_helpers(void);
/* The whole mark phase, world stopped; returns bytes marked. */
GORT_HIDDEN uint64_t mark_run(bool checkmark);
GORT_HIDDEN uint64_t mark_stack_bytes(void);
/* Names the root about to be scanned (for gccheckmark's report). */
GORT_HIDDEN void mark_note_root(const char *kind, uintptr_t addr);
GORT_HIDDEN void mark_fork_child(void);
/* Bytes of data segments the last mark scanned (the runtime's skipped). */
GORT_HIDDEN uint64_t mark_global_bytes(void);
GORT_HIDDEN int64_t mark_cpu_ns(void);

/* --- mbarrier.c */
/* Moves shaded objects to the global work list; true if there were any. */
GORT_HIDDEN bool barrier_flush(void);
/* Bytes the barrier greyed since the last call. */
GORT_HIDDEN uint64_t barrier_bytes_marked(void);

/* --- roots.c */
/* roots_begin takes the dlopen lock (before gc.lock), held until
 * roots_end, so that the runtime's own threads load and unload nothing
 * during a cycle; roots_snapshot lists the writable segments of every
 * loaded object (world running); roots_snapshot_current, with the world
 * stopped, says whether the loader is at rest and has exactly the
 * snapshot's objects loaded (if not, the cycle must start over). */
GORT_HIDDEN void roots_begin(void);
GORT_HIDDEN void roots_snapshot(void);
GORT_HIDDEN bool roots_snapshot_current(void);
GORT_HIDDEN void roots_end(void);
/* dlopen and dlclose for the runtime's own use (zlib, the unwinder),
 * held off during a cycle. */
GORT_HIDDEN void *roots_dlopen(const char *file, int mode);
GORT_HIDDEN int roots_dlclose(void *handle);
/* Scans the global roots (segments, extra ranges, pending thread args,
 * finalizer roots); returns bytes scanned in segments. */
GORT_HIDDEN uint64_t roots_scan_globals(struct gcwork *w);
/* Scans every registered thread's stack and registers; world stopped. */
GORT_HIDDEN uint64_t roots_scan_stacks(struct gcwork *w);
GORT_HIDDEN void roots_fork_lock(void);
/* child: dl_lock (held twice, with roots_begin) is reset, not unlocked. */
GORT_HIDDEN void roots_fork_unlock(bool child);

/* --- mfinal.c */
/* Mark phase: scans what finalizable objects reach (not the objects) and
 * the queued finalizers. */
GORT_HIDDEN void final_scan_roots(struct gcwork *w);
/* Mark termination: queues the finalizers of unmarked objects and marks
 * those objects; returns the bytes marked. */
GORT_HIDDEN uint64_t final_collect(void);
/* After the world restarts: wakes the finalizer thread if work was queued. */
GORT_HIDDEN void final_wake(void);
GORT_HIDDEN void final_fork_lock(void);
GORT_HIDDEN void final_fork_unlock(void);
GORT_HIDDEN void final_fork_child(void);

#endif
