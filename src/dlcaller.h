/*
 * dlcaller.h: dlopen on behalf of the code that called gort's dlopen.
 */
#ifndef GORT_DLCALLER_H
#define GORT_DLCALLER_H

#include "rt.h"

typedef void *(*dlopen_fn)(const char *, int);

/* Opens file as the real dlopen (real) would have if called from the
 * instruction at caller: bare names searched along the caller's paths
 * (its RPATH chain, LD_LIBRARY_PATH, its RUNPATH) before the loader's
 * cache and default directories, $ORIGIN expanded to the caller's
 * directory.  Called with dl_lock held. */
GORT_HIDDEN void *dl_open_as_caller(dlopen_fn real, const void *caller, const char *file, int mode);

#endif
