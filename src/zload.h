/*
 * zload.h: zlib, mapped on first use.  Only the pprof writer (deflate) and
 * the symbolizer (compressed debug sections) need it, and most processes
 * never write a profile: linked normally, libz would cost every process
 * that loads gort (every program under libgort-malloc.so) its relocation
 * and ~80 KiB of resident pages.  zload() dlopens libz.so.1 once; callers
 * fall back when it cannot (an uncompressed profile, which pprof also
 * reads; no compressed debug sections).
 *
 * zlib allocates through os_alloc here (z_init): it would otherwise call
 * malloc, which may be gort itself and must not hold the profiler's own
 * bookkeeping.
 */
#ifndef GORT_ZLOAD_H
#define GORT_ZLOAD_H

#include "rt.h"

#include <zlib.h>

struct zlib_api {
	int (*deflateInit2_)(z_streamp, int level, int method, int window_bits, int mem_level,
			     int strategy, const char *version, int stream_size);
	int (*deflate)(z_streamp, int flush);
	int (*deflateEnd)(z_streamp);
	int (*inflateInit_)(z_streamp, const char *version, int stream_size);
	int (*inflate)(z_streamp, int flush);
	int (*inflateEnd)(z_streamp);
};

/* zlib's entry points, loaded once; NULL when libz.so.1 cannot be loaded
 * (the reason is printed once).  dlopen allocates and takes the loader's
 * lock: call it with no runtime lock held. */
GORT_HIDDEN const struct zlib_api *zload(void);
/* The same without loading: NULL unless zload has succeeded.  For code
 * under a lock (the symbolizer calls zload before it takes its own). */
GORT_HIDDEN const struct zlib_api *zloaded(void);
/* The library zload opens; tests point it at one that does not exist to
 * check the uncompressed fallback.  Read once, by the first zload. */
GORT_HIDDEN extern const char *zload_soname;
/* Zeroes *z and points its allocator at os_alloc. */
GORT_HIDDEN void z_init(z_stream *z);

#endif
