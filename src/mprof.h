/*
 * mprof.h: the sampling heap profiler (Go's mprof.go), shared by the
 * manual and the collected heap.
 *
 * Each thread's cache counts down the bytes to its next sample
 * (mcache.next_sample); an allocation that takes it below zero is sampled:
 * its call stack is recorded in a bucket (one per stack, object size and
 * type name), and the object is remembered as sampled (a special, keyed by
 * address, with a flag on its span so that frees of unsampled objects pay
 * one load and one branch).  The distance to the next sample is drawn from
 * an exponential distribution of mean MemProfileRate, so that every byte
 * has the same chance of being sampled.
 *
 * Manual-heap allocations and frees count in the profile at once.  For the
 * collected heap the profile is that of the last completed collection, as
 * in Go: allocations and sweeps are accounted in three rotating future
 * slots that a cycle publishes (mark termination advances the cycle; the
 * end of the cycle and gort_gc's full sweep publish), so that an object
 * shows as allocated no sooner than a collection could have found it dead.
 */
#ifndef GORT_MPROF_H
#define GORT_MPROF_H

#include "rt.h"
#include "atomic.h"

#include <stdio.h>

struct mspan;

#define MPROF_MAX_STACK 64
#define MPROF_DEFAULT_RATE (512 * 1024)

struct memrecord {
	uint64_t allocs, frees, alloc_bytes, free_bytes;
};

/* A bucket: one allocation site (stack), object size and type. */
typedef struct mbucket {
	struct mbucket *next;    /* hash chain (prof_lock) */
	struct mbucket *allnext; /* every bucket (prof_lock; published with release) */
	uint64_t hash;
	uintptr_t size;          /* the size asked for */
	const char *type;        /* gort_type name, or NULL */
	struct memrecord active;    /* published figures */
	struct memrecord future[3]; /* the collected heap's pending cycles */
	uint32_t nstk;
	uintptr_t stk[];         /* return addresses, leaf first */
} mbucket;

/* MemProfileRate: bytes per sample on average; 0 off, 1 every allocation. */
GORT_HIDDEN extern long mprof_rate;

/* Bytes until this thread's next sample, drawn at the current rate. */
GORT_HIDDEN intptr_t mprof_next_sample(void);

/* Records a sampled allocation of size bytes at p (type: gort_type name or
 * NULL; gc: collected heap).  fp is the frame of the gort entry point the
 * program called: its return address is the first frame recorded.
 * Outside critical sections only (takes prof_lock, may allocate metadata). */
GORT_HIDDEN void mprof_malloc(void *p, uintptr_t size, const char *type, bool collected, void *fp);
/* Whether object idx of s, a span flagged profiled, is a sampled object
 * (no lock: its bit is set before the object is handed out and cleared
 * before it is free). */
GORT_HIDDEN bool mprof_is_sampled(const struct mspan *s, uint32_t idx);
/* The manual heap frees p, an object of a span flagged profiled (before
 * the free is visible to anyone). */
GORT_HIDDEN void mprof_free_manual(uintptr_t p);
/* Sweeping found p dead in a span flagged profiled. */
GORT_HIDDEN void mprof_free_gc(uintptr_t p);
/* The collected heap's cycle: advanced at mark termination (world
 * stopped), published when the cycle ends and after gort_gc's sweep. */
GORT_HIDDEN void mprof_next_cycle(void);
GORT_HIDDEN void mprof_flush(void);
GORT_HIDDEN void mprof_post_sweep(void);

/* Every bucket, for the writers (read under prof_lock by mprof_lock). */
GORT_HIDDEN void mprof_lock(void);
GORT_HIDDEN void mprof_unlock(void);
GORT_HIDDEN mbucket *mprof_buckets(void);

/* Captures up to max return addresses of the calling thread, leaf first,
 * starting with the return address of frame fp (a frame-pointer walk,
 * bounded by the thread's stack; libgcc's unwinder where the walk breaks;
 * gort's own frames dropped from the top). */
GORT_HIDDEN int mprof_callers(void *fp, uintptr_t *pcs, int max);

/* GORTHEAPPROFILE (heapprofile.c): read by the library's constructor. */
GORT_HIDDEN void heapprofile_init(void);
/* Sampling turned off for want of a reader (heapprofile.c) comes back on
 * when an object loaded since binds the profile API.  The page heap asks
 * as it carves new spans of the manual heap, at the first and then every
 * 32nd: the loader's count of objects loaded, compared, while the gate is
 * shut, and a load of the gate otherwise. */
GORT_HIDDEN extern int heapprofile_gate_off;
GORT_HIDDEN void heapprofile_gate_look(void);
GORT_INLINE void heapprofile_gate_poll(void)
{
	if (unlikely(load_relaxed(&heapprofile_gate_off)))
		heapprofile_gate_look();
}

/* fork(): the child keeps the profile. */
GORT_HIDDEN void mprof_fork_lock(void);
GORT_HIDDEN void mprof_fork_unlock(void);

#endif
