/*
 * pprof.h: the profile.proto writer (Go's runtime/pprof proto.go and
 * protobuf.go), for the heap profiler and any other profile gort makes.
 *
 * A builder accumulates one profile: its sample types, then samples (call
 * stacks of return addresses with values and labels); pprof_write_fd
 * symbolizes every address (symtab.h), adds the executable mappings of
 * /proc/self/maps with their build IDs, and writes the gzipped
 * perftools.profiles.Profile message.  The profile is self-contained:
 * every location carries its function name (and file:line when the object
 * has DWARF line info) and its mapping says so (has_functions), so
 * `go tool pprof prof.pb.gz` needs neither the binary nor its symbols.
 *
 * Memory: os_alloc only, never malloc (gort may be the process's malloc).
 * A builder belongs to one thread at a time.  pprof_add_sample takes no
 * lock and does not symbolize: it may run while a profiler holds its own
 * lock.  pprof_write_fd symbolizes (symtab_lock, the loader's lock, file
 * reads): call it outside critical sections, with no gort lock held.
 */
#ifndef GORT_PPROF_H
#define GORT_PPROF_H

#include "rt.h"

typedef struct pprof_builder pprof_builder;

/* A sample label: a string label when str is not NULL, else a number
 * (num, with an optional num_unit such as "bytes"). */
typedef struct pprof_label {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit;
} pprof_label;

/* A new, empty builder; NULL when the OS refuses memory. */
GORT_HIDDEN pprof_builder *pprof_new(void);
GORT_HIDDEN void pprof_free(pprof_builder *b);

/* Appends a sample type ("alloc_space", "bytes"); every sample then has
 * one value per type, in this order.  All types come before samples. */
GORT_HIDDEN void pprof_sample_type(pprof_builder *b, const char *type, const char *unit);
/* The sampling period: period_type {type, unit} and period. */
GORT_HIDDEN void pprof_period(pprof_builder *b, const char *type, const char *unit, int64_t period);
/* The type pprof shows when none is asked for (Go sets it for "allocs"). */
GORT_HIDDEN void pprof_default_sample_type(pprof_builder *b, const char *type);
/* time_nanos: when the profile was taken (Unix ns); duration_nanos: over
 * how long (0: omitted). */
GORT_HIDDEN void pprof_time(pprof_builder *b, int64_t time_nanos, int64_t duration_nanos);
/* A free-form comment line; and pprof's drop_frames/keep_frames regexps. */
GORT_HIDDEN void pprof_comment(pprof_builder *b, const char *comment);
GORT_HIDDEN void pprof_drop_frames(pprof_builder *b, const char *regexp);
GORT_HIDDEN void pprof_keep_frames(pprof_builder *b, const char *regexp);

/* Adds a sample.  pcs are return addresses as captured, leaf first; a 0
 * ends the stack.  As Go does for return addresses, each location's
 * address is pc - 1 (inside the call instruction), and that is what is
 * symbolized.  nvalues must equal the number of sample types.  Labels may
 * be NULL when nlabels is 0.  Returns 0, or -1 with errno EINVAL (value
 * count) or ENOMEM (the builder then fails pprof_write_fd too). */
GORT_HIDDEN int pprof_add_sample(pprof_builder *b, const uintptr_t *pcs, int npcs, const int64_t *values,
				 int nvalues, const pprof_label *labels, int nlabels);

/* Symbolizes, encodes and writes the gzipped profile to fd (which is
 * not closed).  May be called more than once.  Returns 0, or -1 with
 * errno (ENOMEM for memory, or write's error). */
GORT_HIDDEN int pprof_write_fd(pprof_builder *b, int fd);

#endif
