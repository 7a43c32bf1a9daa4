/*
 * debugvars.h: the one table of knobs, read once from the environment.
 *
 * GORTDEBUG uses Go's GODEBUG grammar: "key=value,key=value".  Every knob
 * has a row in debugvars.c stating its default and meaning; nothing else in
 * gort calls getenv, except pacer.c for GORTGC, GORTMEMLIMIT and
 * GORTMAXPROCS (Go's GOGC, GOMEMLIMIT, GOMAXPROCS).  Values are plain ints read after debugvars_init().
 */
#ifndef GORT_DEBUGVARS_H
#define GORT_DEBUGVARS_H

#include "rt.h"

struct debugvars {
	int madvdontneed; /* 1: release pages with MADV_DONTNEED; 0: MADV_FREE */
	int scavenger;    /* 1: run the background scavenger */
	int scavtrace;    /* 1: print a line per scavenger pass */
	int badfree;      /* 1: invalid/double free is fatal; 0: warn and ignore */
	int gctrace;      /* 1: a line per collection on stderr, in Go's format */
	int gccheckmark;  /* 1: verify each mark with a second one from scratch */
	int gcpoison;     /* 1: overwrite dead objects with 0xde when swept */
	int memprofilerate; /* bytes per heap-profile sample; -1: the default (512 KiB) */
	int heapprofilesignal; /* signal that makes GORTHEAPPROFILE write path.N (0: none) */
	int disablethp;   /* 1: no transparent huge pages anywhere in the heap (Go's knob) */
	int containermaxprocs; /* 1: GORTMAXPROCS's default obeys the cgroup's CPU limit (Go's knob) */
};

GORT_HIDDEN extern struct debugvars debug;

/* Parses GORTDEBUG (once; later calls do nothing).  Problems are reported on
 * stderr and the default kept. */
GORT_HIDDEN void debugvars_init(void);
/* Parses a GORTDEBUG-style string into debug (exposed for tests). */
GORT_HIDDEN void debugvars_parse(const char *s);
GORT_HIDDEN void debugvars_reset(void);

#endif
