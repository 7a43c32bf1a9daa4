/*
 * os.h: the only seam between gort and the operating system.
 *
 * Memory moves through Go's states (runtime/mem.go):
 *   none --os_reserve--> reserved (PROT_NONE) --os_map--> ready (RW)
 *   ready --os_unused--> released (RW, pages given back, may read as zero)
 *   released is reused by simply touching it (no call needed on Linux)
 *   any --os_free--> none
 * os_alloc goes straight from none to ready, for metadata.
 * Nothing here allocates from the gort heap.
 */
#ifndef GORT_OS_H
#define GORT_OS_H

#include "rt.h"

#include <sys/types.h>

/* Reserves n bytes of address space near hint (0 = anywhere); NULL on failure. */
GORT_HIDDEN void *os_reserve(void *hint, uintptr_t n);
/* Reserves n bytes aligned to align (a power of two); NULL on failure. */
GORT_HIDDEN void *os_reserve_aligned(uintptr_t n, uintptr_t align);
/* Makes a reserved range readable and writable; false on failure. */
GORT_HIDDEN bool os_map(void *p, uintptr_t n);
/* Maps n fresh read-write bytes at exactly p, only if nothing is mapped
 * anywhere in [p, p+n).  False otherwise, with *no_room set when the
 * kernel refused for want of address space or memory (ENOMEM: RLIMIT_AS,
 * say), clear when something else is mapped there. */
GORT_HIDDEN bool os_map_exact(void *p, uintptr_t n, bool *no_room);
/* The process's limit on what it may map, in bytes, or 0 when it has
 * none: the smaller of RLIMIT_AS (ulimit -v) and RLIMIT_DATA (ulimit -d,
 * which counts private writable mappings).  Read once. */
GORT_HIDDEN uint64_t os_address_space_limit(void);
/* Whether the kernel charges every writable private mapping against its
 * commit limit (vm.overcommit_memory=2), MAP_NORESERVE or not.  Read once. */
GORT_HIDDEN bool os_overcommit_strict(void);
/* Asks the kernel not to back [p, p+n) with transparent huge pages. */
GORT_HIDDEN void os_no_huge_pages(void *p, uintptr_t n);
/* Zeroed, ready memory for metadata; NULL on failure. */
GORT_HIDDEN void *os_alloc(uintptr_t n);
GORT_HIDDEN void os_free(void *p, uintptr_t n);
/* Gives the pages of [p, p+n) back to the kernel.  With dontneed the range
 * reads as zero afterwards; with MADV_FREE it may keep old contents. */
GORT_HIDDEN void os_unused(void *p, uintptr_t n, bool dontneed);

/* The largest single allocation the heap accepts: RAM + swap, the bound
 * Linux's default overcommit heuristic puts on one mmap (64 times that
 * under vm.overcommit_memory=1, where only the heap's own page map, 0.1%
 * of what is mapped, limits it).  Read once. */
GORT_HIDDEN uint64_t os_alloc_cap_bytes(void);
/* Whether a single request of size bytes is past that bound (sizes up to
 * 1 GiB are never looked at: the bound is read only for bigger ones). */
GORT_INLINE bool os_beyond_alloc_cap(size_t size)
{
	return size > ((size_t)1 << 30) && size > os_alloc_cap_bytes();
}
/* Whether thread tid of this process blocks signal sig (from its
 * /proc status); false when that cannot be read. */
GORT_HIDDEN bool os_thread_blocks_signal(pid_t tid, int sig);
/* Resident set size of this process in bytes (from /proc/self/statm). */
GORT_HIDDEN uint64_t os_rss_bytes(void);
/* Monotonic, thread and process CPU clocks, in nanoseconds. */
GORT_HIDDEN int64_t os_nanotime(void);
GORT_HIDDEN int64_t os_thread_cputime_ns(void);
GORT_HIDDEN int64_t os_process_cputime_ns(void);
GORT_HIDDEN uintptr_t os_phys_page_bytes(void);
/* CPUs this process may run on (its affinity mask, as Go counts them); >= 1. */
GORT_HIDDEN unsigned os_ncpu(void);
/* From a signal handler's ucontext: copies the interrupted general
 * registers into regs (at most max words; returns how many) and stores the
 * lowest stack address that may hold live data (the stack pointer, less
 * the ABI's red zone) in *sp. */
GORT_HIDDEN unsigned os_context_regs(const void *ucontext, uintptr_t *regs, unsigned max, uintptr_t *sp);
/* The calling thread's kernel id, and the bounds of its stack. */
GORT_HIDDEN pid_t os_gettid(void);
/* A full memory barrier on every running thread of this process
 * (membarrier(2), private expedited; registered on first use in each
 * process).  False where the kernel does not offer it. */
GORT_HIDDEN bool os_membarrier(void);
/* Whether the process has a thread, not a zombie, whose id is not one of
 * skip[0..nskip): by a walk of /proc/self/task, checked against
 * os_thread_count (a walk can miss a thread while another exits); true
 * when it cannot tell (/proc unreadable). */
GORT_HIDDEN bool os_other_threads_live(const pid_t *skip, unsigned nskip);
/* The process's thread count as the kernel keeps it (/proc/self/stat's
 * num_threads, which counts the group leader even as a zombie); 0 if it
 * cannot be read. */
GORT_HIDDEN unsigned long os_thread_count(void);
GORT_HIDDEN bool os_thread_stack(uintptr_t *lo, uintptr_t *hi);
/* glibc's: the stack pointer where the program started (main stack). */
extern void *__libc_stack_end;
/* The end of the mapping holding addr (from /proc/self/maps, read with
 * system calls only: safe inside malloc, unlike pthread_getattr_np, which
 * allocates while holding the thread's lock); 0 if unknown. */
GORT_HIDDEN uintptr_t os_mapping_end(uintptr_t addr);
/* Reads the value of an environment variable without allocating. */
GORT_HIDDEN const char *os_getenv(const char *name);

#endif
