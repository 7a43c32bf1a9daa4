/*
 * roots.c: where marking starts (Go's markroot): the writable segments of
 * the program and of every loaded shared object, ranges added with
 * gort_add_roots, arguments of threads not yet started, and the stacks and
 * registers of registered threads.
 *
 * Segments are found with dl_iterate_phdr at every cycle, before the world
 * stops (it takes the loader's lock, which a stopped thread may hold), so
 * libraries loaded later with dlopen are roots from the next cycle on.
 * gort interposes dlopen and dlclose to hold dl_lock across them: no object
 * can be mapped or unmapped between the snapshot and the end of marking.
 * (dlopen then searches as its caller would: dlcaller.c.)
 * The table of extra ranges is guarded by roots_lock (a critical-section
 * lock: the collector takes it with the world stopped).
 */
#define _GNU_SOURCE
#include "mgc.h"
#include "arena.h"
#include "atomic.h"
#include "check.h"
#include "crit.h"
#include "dlcaller.h"
#include "fixalloc.h"
#include "gcwork.h"
#include "mheap.h"
#include "mprof.h"
#include "os.h"
#include "thread.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

#define NO_SANITIZE __attribute__((no_sanitize("address", "thread")))

struct range {
	uintptr_t lo, hi;
};

/* Data segments of the last snapshot (gc.lock). */
static struct range *segs;
static size_t nsegs, capsegs;

/* Extra roots (roots_lock). */
static pthread_mutex_t roots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct range *extra;
static size_t nextra, capextra;

/* Recursive: a library constructor run by dlopen may allocate and so
 * start a cycle on the same thread. */
static pthread_mutex_t dl_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

/* Grows a range table with memory from the OS (never the GC heap, which
 * would make the table a root of itself). */
static struct range *grow(struct range *old, size_t n, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	struct range *t = os_alloc(ncap * sizeof *t);
	if (!t)
		gort_throw("runtime: out of memory growing the root table");
	if (old) {
		memcpy(t, old, n * sizeof *t);
		os_free(old, *cap * sizeof *t);
	}
	*cap = ncap;
	return t;
}

static int add_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (nsegs == capsegs)
			segs = grow(segs, nsegs, &capsegs);
		segs[nsegs++] = (struct range){lo, lo + ph->p_memsz};
	}
	return 0;
}

void roots_begin(void)
{
	pthread_mutex_lock(&dl_lock);
}

void roots_snapshot(void)
{
	nsegs = 0;
	dl_iterate_phdr(add_segments, NULL);
}

void roots_end(void)
{
	pthread_mutex_unlock(&dl_lock);
}

static void grey_word(uintptr_t word, void *arg)
{
	mark_grey(arg, word);
}

/* The runtime's own address-holding globals (rt.h, GORT_NOSCAN_DATA);
 * the linker defines these bounds for a section named like a C symbol. */
extern char __start_gort_noscan[] __attribute__((weak, visibility("hidden")));
extern char __stop_gort_noscan[] __attribute__((weak, visibility("hidden")));

/* Scans [lo, hi) minus the runtime's own globals that hold heap addresses:
 * the gort_noscan section, the heap itself and the arena index's L2 block
 * (both zero-initialised so that they live in .bss, where untouched pages
 * cost no memory; a named section is file-backed; the L2 block is 16 MiB,
 * nearly all of it never touched).  Returns the bytes scanned. */
static uint64_t scan_segment(gcwork *w, uintptr_t lo, uintptr_t hi)
{
	uint64_t bytes = 0;
	struct range skip[] = {
		{(uintptr_t)__start_gort_noscan, (uintptr_t)__stop_gort_noscan},
		{(uintptr_t)&mheap_, (uintptr_t)(&mheap_ + 1)},
#if ARENA_L1_BITS == 0
		{(uintptr_t)arena_l2, (uintptr_t)(arena_l2 + ARENA_L2_ENTRIES)},
#endif
	};
	enum { NSKIP = sizeof skip / sizeof skip[0] };
	for (int i = 1; i < NSKIP; i++) /* by address */
		for (int j = i; j > 0 && skip[j - 1].lo > skip[j].lo; j--) {
			struct range t = skip[j - 1];
			skip[j - 1] = skip[j];
			skip[j] = t;
		}
	for (int i = 0; i < NSKIP && lo < hi; i++) {
		if (skip[i].lo >= skip[i].hi || skip[i].hi <= lo || skip[i].lo >= hi)
			continue;
		mark_scan_range(w, lo, max_uptr(lo, skip[i].lo));
		bytes += max_uptr(lo, skip[i].lo) - lo;
		lo = min_uptr(hi, skip[i].hi);
	}
	mark_scan_range(w, lo, hi);
	return bytes + (hi > lo ? hi - lo : 0);
}

uint64_t roots_scan_globals(gcwork *w)
{
	uint64_t bytes = 0;
	for (size_t i = 0; i < nsegs; i++) {
		mark_note_root("data segment", segs[i].lo);
		bytes += scan_segment(w, segs[i].lo, segs[i].hi);
	}
	mutex_lock(&roots_lock);
	for (size_t i = 0; i < nextra; i++) {
		mark_note_root("gort_add_roots range", extra[i].lo);
		mark_scan_range(w, extra[i].lo, extra[i].hi);
	}
	mark_note_root("argument of a starting thread", 0);
	mutex_unlock(&roots_lock);
	thread_scan_pending(grey_word, w);
	return bytes;
}

struct stackscan {
	gcwork *w;
	gthread *self;
	uintptr_t self_sp;
	uint64_t bytes;
};

NO_SANITIZE static void scan_thread(gthread *t, void *arg)
{
	struct stackscan *ss = arg;
	uintptr_t sp;
	if (t->runtime)
		return;
	mark_note_root("thread stack or registers", (uintptr_t)t->tid);
	if (t == ss->self) {
		sp = ss->self_sp;
	} else {
		/* Below the stack pointer: x86-64's 128-byte red zone. */
		sp = t->stopped_sp - 128;
		for (unsigned i = 0; i < t->nregs; i++)
			mark_grey(ss->w, t->regs[i]);
	}
	if (sp < t->stack_lo || sp >= t->stack_hi)
		sp = t->stack_lo; /* stopped on another stack (sigaltstack): take it all */
	mark_scan_range(ss->w, sp, t->stack_hi);
	ss->bytes += t->stack_hi - sp;
}

uint64_t roots_scan_stacks(gcwork *w)
{
	/* Our own stack from where the cycle was entered (mgc.c). */
	struct stackscan ss = {w, thread_self(), gc_self_sp, 0};
	thread_for_each(scan_thread, &ss);
	return ss.bytes;
}

void gort_add_roots(void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p;
	if (len == 0)
		return;
	if (lo + len < lo)
		gort_throw_addr("gort_add_roots: range wraps around the address space at", lo);
	mutex_lock(&roots_lock);
	if (nextra == capextra)
		extra = grow(extra, nextra, &capextra);
	extra[nextra++] = (struct range){lo, lo + len};
	mutex_unlock(&roots_lock);
}

void gort_remove_roots(void *p)
{
	uintptr_t lo = (uintptr_t)p;
	mutex_lock(&roots_lock);
	for (size_t i = nextra; i-- > 0;) {
		if (extra[i].lo == lo) {
			extra[i] = extra[--nextra];
			mutex_unlock(&roots_lock);
			return;
		}
	}
	mutex_unlock(&roots_lock);
}

void roots_fork_lock(void)
{
	pthread_mutex_lock(&dl_lock);
	mutex_lock(&roots_lock);
}

void roots_fork_unlock(bool child)
{
	mutex_unlock(&roots_lock);
	if (!child) {
		pthread_mutex_unlock(&dl_lock);
		return;
	}
	/* The child's thread has a new id, and a recursive mutex only opens
	 * for its owner's: unlocking would fail (EPERM) and leave it shut for
	 * good (the next dlopen hangs).  Both holds (roots_begin's and ours)
	 * go at once. */
	pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	memcpy(&dl_lock, &fresh, sizeof fresh);
}

/* --- dlopen / dlclose, held off while the collector looks at segments. */

typedef int (*dlclose_fn)(void *);

/* glibc's own names, found when dlsym cannot look past us (static link). */
extern void *__dlopen(const char *, int) __attribute__((weak));
extern int __dlclose(void *) __attribute__((weak));

GORT_EXPORT void *dlopen(const char *file, int mode)
{
	static dlopen_fn real;
	dlopen_fn f = load_acquire(&real);
	if (!f) {
		f = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
		if (!f)
			f = __dlopen;
		if (!f)
			gort_throw("runtime: cannot find the real dlopen");
		store_release(&real, f);
	}
	pthread_mutex_lock(&dl_lock);
	void *h = dl_open_as_caller(f, __builtin_return_address(0), file, mode);
	pthread_mutex_unlock(&dl_lock);
	if (h)
		heapprofile_note_dlopen();
	return h;
}

GORT_EXPORT int dlclose(void *handle)
{
	static dlclose_fn real;
	dlclose_fn f = load_acquire(&real);
	if (!f) {
		f = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
		if (!f)
			f = __dlclose;
		if (!f)
			gort_throw("runtime: cannot find the real dlclose");
		store_release(&real, f);
	}
	pthread_mutex_lock(&dl_lock);
	int r = f(handle);
	pthread_mutex_unlock(&dl_lock);
	return r;
}
