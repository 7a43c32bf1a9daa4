/*
 * gcwork.h: grey objects waiting to be scanned (Go's gcWork and workbufs).
 *
 * Each marker owns a gcwork: two local buffers of object pointers, so that
 * it can alternate between them without touching shared state.  A full
 * buffer goes to the global full list where idle markers take it; empty
 * buffers return to the global empty list.  Buffers come from the OS and
 * are never freed or scanned as roots.  The global lists are guarded by a
 * spinlock (a handful of pointer moves per 4 KiB of work).
 *
 * Invariants: an object is pushed at most once per cycle (its mark bit is
 * set first, atomically); when marking is over every buffer is empty.
 */
#ifndef GORT_GCWORK_H
#define GORT_GCWORK_H

#include "rt.h"

#define WORKBUF_OBJS 509 /* a buffer is 4 KiB */

typedef struct workbuf {
	struct workbuf *next;
	uintptr_t n;
	uintptr_t obj[WORKBUF_OBJS];
	uintptr_t pad;
} workbuf;

typedef struct gcwork {
	workbuf *w1, *w2;
	uint64_t bytes_marked; /* bytes of objects this marker greyed */
	uint64_t scan_bytes;   /* bytes it scanned */
	bool checkmark;        /* marking the checkmark bits (mark.c) */
	bool shared;           /* other markers (or barriers) run: atomic mark bits */
} gcwork;

GORT_HIDDEN void gcwork_init(gcwork *w);
/* Returns w's buffers (both empty) to the global list. */
GORT_HIDDEN void gcwork_dispose(gcwork *w);
/* Moves w's non-empty buffers to the global full list. */
GORT_HIDDEN void gcwork_flush(gcwork *w);
GORT_HIDDEN void gcwork_put_slow(gcwork *w, uintptr_t obj);
GORT_HIDDEN uintptr_t gcwork_get_slow(gcwork *w);
/* Shares w's work with idle markers: its second buffer, or half of its
 * first (Go's gcWork.balance). */
GORT_HIDDEN void gcwork_balance(gcwork *w);
/* An idle marker sleeps until a buffer is published or done() holds. */
GORT_HIDDEN void gcwork_idle_sleep(bool (*done)(void));
/* Wakes every sleeping marker (marking is over). */
GORT_HIDDEN void gcwork_idle_wake_all(void);
/* Forgets wake-ups nobody consumed (between mark phases). */
GORT_HIDDEN void gcwork_idle_reset(void);
/* Whether the global full list has a buffer (racy hint). */
GORT_HIDDEN bool gcwork_global_available(void);

GORT_INLINE void gcwork_put(gcwork *w, uintptr_t obj)
{
	workbuf *b = w->w1;
	if (likely(b->n < WORKBUF_OBJS))
		b->obj[b->n++] = obj;
	else
		gcwork_put_slow(w, obj);
}

/* The next grey object, or 0 when neither w nor the global list has one. */
GORT_INLINE uintptr_t gcwork_get(gcwork *w)
{
	workbuf *b = w->w1;
	if (likely(b->n))
		return b->obj[--b->n];
	return gcwork_get_slow(w);
}

#endif
