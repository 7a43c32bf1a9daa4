/*
 * symtab.h: the in-process symbolizer (what Go's runtime finds in its own
 * pclntab, read here from the ELF files of the process).
 *
 * Answers, for a code address of this process: the function (from .symtab,
 * local symbols included, and .dynsym), its start, the object file holding
 * it and its GNU build ID, and the source file:line when the object carries
 * DWARF .debug_line.  Objects are found with dl_iterate_phdr; each object's
 * tables are read from its file on first use (the executable through
 * /proc/self/exe, which opens even after the file was deleted; a library
 * whose path is gone or holds another build through /proc/self/map_files;
 * the vDSO from memory) and cached for the life of the process.
 *
 * Nothing here allocates from any malloc: gort may be the process's malloc,
 * and a profile is written while the heap it describes is live.  Memory
 * comes from os_alloc.  Not a hot path: one mutex serialises everything.
 * The mutex is a plain one, taken outside critical sections: a caller
 * must not hold a gort lock (see crit.h), since a symbolizing thread may
 * itself wait for the dynamic loader's lock.
 */
#ifndef GORT_SYMTAB_H
#define GORT_SYMTAB_H

#include "rt.h"

typedef struct symtab_info {
	const char *func;      /* function name; NULL when unknown */
	uintptr_t func_start;  /* address of func's first instruction; 0 when unknown */
	const char *file;      /* source file (as DWARF names it); NULL when unknown */
	uint32_t line;         /* source line; 0 when unknown */
	const char *object;    /* path of the object holding the address; NULL when none */
	uintptr_t object_bias; /* its load bias (dlpi_addr): runtime = file address + bias */
	const char *build_id;  /* GNU build ID as lowercase hex; NULL when the object has none */
} symtab_info;

/* Describes the code address pc.  For a return address pass pc - 1, so
 * that the call instruction, not the next one, is described.  Returns
 * true when pc lies in a loaded object; the fields not known are NULL/0.
 * The strings live as long as the process (the cache is never freed). */
GORT_HIDDEN bool symtab_lookup(uintptr_t pc, symtab_info *out);

/* Only the object, its bias and build ID (no file is read); true when pc
 * lies in a loaded object. */
GORT_HIDDEN bool symtab_object(uintptr_t pc, symtab_info *out);

/* One line of /proc/self/maps. */
typedef struct symtab_mapping {
	uintptr_t start, limit; /* [start, limit) */
	uint64_t offset;        /* file offset of start */
	bool read, write, exec;
	const char *path;       /* "" for anonymous; " (deleted)" trimmed; valid during the callback */
	bool deleted;           /* the path ended in " (deleted)" */
} symtab_mapping;

/* Calls fn for each line of /proc/self/maps, in order, until fn returns
 * false.  Returns 0, or -1 (errno set) when the file cannot be read. */
GORT_HIDDEN int symtab_maps_foreach(bool (*fn)(const symtab_mapping *m, void *arg), void *arg);

/* For tests (a fuzzer): symbolizes addr in an ELF image held in memory,
 * as if loaded at bias 0, then frees everything it built.  The function
 * name and file are copied into the buffers ("" when unknown).  False when
 * the image is not an ELF file of this machine's class. */
GORT_HIDDEN bool symtab_probe_image(const void *image, uintptr_t size, uintptr_t addr, char *func, size_t funccap,
				    char *file, size_t filecap, uint32_t *line);

/* fork(): hold the symbolizer's lock across fork so the child can use it. */
GORT_HIDDEN void symtab_fork_lock(void);
GORT_HIDDEN void symtab_fork_unlock(void);

#endif
