/*
 * roots.c: where marking starts (Go's markroot): the writable segments of
 * the program and of every loaded shared object, ranges added with
 * gort_add_roots, arguments of threads not yet started, and the stacks and
 * registers of registered threads.
 *
 * Segments are found with dl_iterate_phdr at every cycle, before the world
 * stops (it takes the loader's lock, which a stopped thread may hold), so
 * libraries loaded later with dlopen are roots from the next cycle on.
 * The program's dlopen and dlclose are the loader's own, not wrapped: once
 * the world is stopped, the collector checks the snapshot against the
 * loader's debugger interface (r_debug, found through the program's
 * DT_DEBUG entry): every namespace must be consistent (no thread stopped
 * half-way through a load or an unload) and the snapshot's objects must
 * be exactly those loaded, in order.  Otherwise the cycle starts over
 * (mgc.c).  A registered thread cannot unload anything while the world is
 * stopped; the runtime's own threads, which are never stopped, load and
 * unload only through roots_dlopen/roots_dlclose, under dl_lock, which a
 * cycle holds throughout.  Not covered: a thread gort does not know of
 * (not registered), whose stack is not scanned either, and a static
 * program, which has no DT_DEBUG and is not checked.
 * The table of extra ranges is guarded by roots_lock (a critical-section
 * lock: the collector takes it with the world stopped).
 */
#define _GNU_SOURCE
#include "mgc.h"
#include "arena.h"
#include "atomic.h"
#include "check.h"
#include "crit.h"
#include "dynelf.h"
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
/* The objects of the last snapshot, in the loader's order, by what tells
 * a link_map apart from one loaded since: its load address, its name
 * string and its dynamic section. */
struct object {
	uintptr_t addr;
	const char *name;
	const void *dynamic;
};
static struct object *objs;
static size_t nobjs, capobjs;

/* The loader's debugger interface: glibc's r_debug, and from glibc 2.35
 * (r_version 2) one per namespace, chained by r_next. */
struct loader_debug {
	struct r_debug base;
	struct loader_debug *r_next; /* valid when base.r_version >= 2 */
};
static const struct loader_debug *loader_debug; /* from DT_DEBUG; NULL: none */

/* Extra roots (roots_lock). */
static pthread_mutex_t roots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct range *extra;
static size_t nextra, capextra;

/* The runtime's own dlopen and dlclose, held off during a cycle.
 * Recursive: a cycle's thread may itself load zlib (a profile written
 * from a finalizer). */
static pthread_mutex_t dl_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

/* Grows a table of n elements of elem bytes with memory from the OS (never
 * the GC heap, which would make the table a root of itself). */
static void *grow_table(void *old, size_t n, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	void *t = os_alloc(ncap * elem);
	if (!t)
		gort_throw("runtime: out of memory growing the root table");
	if (old) {
		memcpy(t, old, n * elem);
		os_free(old, *cap * elem);
	}
	*cap = ncap;
	return t;
}
#define grow(old, n, cap) grow_table((old), (n), (cap), sizeof *(old))

/* The program's DT_DEBUG entry, which the loader points at its r_debug.
 * Not the symbol _r_debug: a reference from gort, linked into a program,
 * would give the program a copy of it (a copy relocation), which the
 * loader never updates, and hand every other reader that stale copy. */
static void find_loader_debug(const struct dl_phdr_info *info)
{
	for (const ElfW(Dyn) *d = dyn_section(info); d && d->d_tag != DT_NULL; d++)
		if (d->d_tag == DT_DEBUG && d->d_un.d_ptr)
			loader_debug = (const struct loader_debug *)d->d_un.d_ptr;
}

static int add_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (nobjs == 0 && !loader_debug)
		find_loader_debug(info);
	if (nobjs == capobjs)
		objs = grow(objs, nobjs, &capobjs);
	objs[nobjs++] = (struct object){info->dlpi_addr, info->dlpi_name, dyn_section(info)};
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
	nsegs = nobjs = 0;
	dl_iterate_phdr(add_segments, NULL);
}

bool roots_snapshot_current(void)
{
	const struct loader_debug *ns = loader_debug;
	if (!ns)
		return true; /* no DT_DEBUG: a static program (see the top) */
	for (const struct loader_debug *d = ns; d; d = d->base.r_version >= 2 ? d->r_next : NULL)
		if (d->base.r_state != RT_CONSISTENT)
			return false;
	/* The snapshot lists the namespace gort is in: the base one unless
	 * gort was itself dlmopen'ed. */
	for (const struct loader_debug *d = ns; d; d = d->base.r_version >= 2 ? d->r_next : NULL) {
		size_t i = 0;
		const struct link_map *l = d->base.r_map;
		for (; l && i < nobjs; l = l->l_next, i++)
			if (l->l_addr != objs[i].addr || l->l_name != objs[i].name || l->l_ld != objs[i].dynamic)
				break;
		if (!l && i == nobjs)
			return true;
	}
	return false;
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
 * the gort_noscan section and the heap itself (zero-initialised so that
 * it lives in .bss, where untouched pages cost no memory; a named section
 * is file-backed).  Returns the bytes scanned. */
static uint64_t scan_segment(gcwork *w, uintptr_t lo, uintptr_t hi)
{
	uint64_t bytes = 0;
	struct range skip[] = {
		{(uintptr_t)__start_gort_noscan, (uintptr_t)__stop_gort_noscan},
		{(uintptr_t)&mheap_, (uintptr_t)(&mheap_ + 1)},
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

/* --- The runtime's own dlopen and dlclose (see the top of the file). */

void *roots_dlopen(const char *file, int mode)
{
	pthread_mutex_lock(&dl_lock);
	void *h = dlopen(file, mode);
	pthread_mutex_unlock(&dl_lock);
	return h;
}

int roots_dlclose(void *handle)
{
	pthread_mutex_lock(&dl_lock);
	int r = dlclose(handle);
	pthread_mutex_unlock(&dl_lock);
	return r;
}
