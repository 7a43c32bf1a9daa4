/*
 * cfi.h: stack walks by the DWARF call-frame information every ELF
 * object carries in .eh_frame, for code built without frame pointers.
 *
 * A frame's rule (where its caller's frame starts and where the return
 * address and the caller's frame-pointer register were saved) depends only
 * on its pc, so rules are computed once and kept in a lock-free cache keyed
 * by pc: a walk through code seen before costs a few loads per frame.
 * Objects are found with glibc's _dl_find_object (no lock); on other
 * libcs and architectures the walk reports itself unavailable and the
 * caller falls back to libgcc's unwinder.
 */
#ifndef GORT_CFI_H
#define GORT_CFI_H

#include "rt.h"

enum unwind_end {
	UNWIND_OUTERMOST = 0, /* reached a frame whose caller is undefined (the thread's start) */
	UNWIND_MAX,           /* filled max pcs */
	UNWIND_LOST,          /* a frame without usable information, or outside the stack */
	UNWIND_UNAVAILABLE,   /* no DWARF walk here (not x86-64 glibc >= 2.35) */
};

/* Walks from a frame whose pc, stack pointer and frame-pointer register are
 * known (pc a return address), writing pc and its callers' return
 * addresses to pcs; reads stack memory only in [sp, stack_hi).  Returns the
 * number written; *end says why it stopped. */
GORT_HIDDEN int unwind_from(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t stack_hi, uintptr_t *pcs, int max,
			    enum unwind_end *end);

/* unwind_from for the caller of the function whose frame (built with a
 * frame pointer) is frame: its return address first. */
GORT_HIDDEN int unwind_from_frame(void *frame, uintptr_t stack_hi, uintptr_t *pcs, int max, enum unwind_end *end);

/* unwind_from for the function that calls this one: its return address
 * into that function first (a test hook, and the simplest use). */
GORT_HIDDEN GORT_NOINLINE int unwind_here(uintptr_t stack_hi, uintptr_t *pcs, int max, enum unwind_end *end);

#endif
