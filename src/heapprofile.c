/*
 * heapprofile.c: the heap profile's public face: the sampling rate, and
 * the profile written as a pprof protobuf (through pprof.c, symbolized by
 * symtab.c) or in Go's legacy text format (runtime/pprof's debug=1).
 *
 * A writer copies the buckets' published records under the profiler's
 * lock, then formats without it: symbolizing and writing may take long
 * and may allocate (stdio), which must not happen under a runtime lock.
 * The copy lives in os_alloc'd memory, never in either heap.
 *
 * GORTHEAPPROFILE=path writes the profile to path at exit, and to path.N
 * (N = 1, 2, ...) each time the process gets the profile signal (SIGUSR2,
 * or GORTDEBUG=heapprofilesignal=N; 0: none).  The handler only posts a
 * semaphore: a runtime thread writes, since formatting allocates.
 *
 * Sampling only where the profile can be read (Go's linker sets
 * MemProfileRate to 0 when nothing reaches runtime.MemProfile): unless
 * GORTDEBUG=memprofilerate=N says otherwise, the library's constructor
 * turns sampling off when GORTHEAPPROFILE is unset and no loaded object
 * binds one of the profile API's names (a relocation against an undefined
 * gort_write_heap_profile, _text or gort_set_mem_profile_rate): a program
 * given the drop-in by LD_PRELOAD could never see its samples.  An object
 * dlopen'ed later that binds them turns sampling on once the page heap
 * notices it (heapprofile_gate_look), and so does a profile written (the
 * API reached through dlsym): that one is empty.
 * Linked statically, gort cannot tell, and samples.
 */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "gort.h"
#include "fmath.h"
#include "atomic.h"
#include "check.h"
#include "crit.h"
#include "dynelf.h"
#include "mcache.h"
#include "mheap.h"
#include "debugvars.h"
#include "mprof.h"
#include "thread.h"
#include "os.h"
#include "pprof.h"
#include "symtab.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <inttypes.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* 1 while sampling is off for want of a reader (see the header); the
 * page heap looks again when objects have been loaded since (mprof.h).
 * Atomic. */
int heapprofile_gate_off;
/* The loader's count of objects ever loaded, at the last look (atomic). */
static unsigned long long gate_adds;

long gort_set_mem_profile_rate(long rate)
{
	mheap_init();
	if (rate < 0)
		return load_relaxed(&mprof_rate);
	store_relaxed(&heapprofile_gate_off, 0); /* the program's own choice */
	long prev = __atomic_exchange_n(&mprof_rate, rate, __ATOMIC_RELAXED);
	/* Every thread draws its next sample at the new rate at once. */
	mcache_reset_samples();
	return prev;
}

struct hp_rec {
	const mbucket *b;
	struct memrecord r;
};

struct hp_snap {
	struct hp_rec *recs;
	uintptr_t n, bytes;
	long rate;
};

/* Copies the published records of every bucket that has any. */
static bool snapshot(struct hp_snap *sn)
{
	sn->recs = NULL;
	sn->n = 0;
	sn->rate = load_relaxed(&mprof_rate);
	for (;;) {
		mprof_lock();
		uintptr_t count = 0;
		for (const mbucket *b = mprof_buckets(); b; b = b->allnext)
			count += b->active.allocs != 0;
		if (sn->recs && count <= sn->bytes / sizeof *sn->recs) {
			uintptr_t i = 0;
			for (const mbucket *b = mprof_buckets(); b; b = b->allnext)
				if (b->active.allocs)
					sn->recs[i++] = (struct hp_rec){b, b->active};
			sn->n = i;
			mprof_unlock();
			return true;
		}
		mprof_unlock();
		if (sn->recs)
			os_free(sn->recs, sn->bytes);
		sn->bytes = align_up((count + 64) * sizeof *sn->recs, 4096);
		sn->recs = os_alloc(sn->bytes);
		if (!sn->recs) {
			errno = ENOMEM;
			return false;
		}
	}
}

static void snapshot_free(struct hp_snap *sn)
{
	if (sn->recs)
		os_free(sn->recs, sn->bytes);
}

GORT_INLINE uint64_t inuse_bytes(const struct memrecord *r)
{
	return r->alloc_bytes - r->free_bytes;
}

/* Largest in-use bytes first, then largest allocated (Go's order);
 * a shell sort, since qsort may allocate. */
static void sort_recs(struct hp_rec *a, uintptr_t n)
{
	static const uintptr_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
	for (unsigned g = 0; g < ARRAY_LEN(gaps); g++) {
		uintptr_t gap = gaps[g];
		for (uintptr_t i = gap; i < n; i++) {
			struct hp_rec t = a[i];
			uintptr_t j = i;
			while (j >= gap && (inuse_bytes(&a[j - gap].r) < inuse_bytes(&t.r) ||
					    (inuse_bytes(&a[j - gap].r) == inuse_bytes(&t.r) &&
					     a[j - gap].r.alloc_bytes < t.r.alloc_bytes))) {
				a[j] = a[j - gap];
				j -= gap;
			}
			a[j] = t;
		}
	}
}

/* The "#\t0x...\tfunc+0x..\tfile:line" lines under a record, for the
 * frames the symbolizer can name (as Go prints them). */
static void heapprofile_text_frames(FILE *f, const mbucket *b)
{
	for (uint32_t k = 0; k < b->nstk; k++) {
		symtab_info si;
		uintptr_t pc = b->stk[k];
		if (!symtab_lookup(pc - 1, &si) || !si.func)
			continue;
		fprintf(f, "#\t%#" PRIxPTR "\t%s+%#" PRIxPTR "\t%s:%u\n", pc, si.func, pc - si.func_start,
			si.file ? si.file : (si.object ? si.object : "?"), si.line);
	}
}

static void gate_open(void);

/* A profile asked for while sampling is off for want of a reader: the
 * program reached the API without binding its names (dlsym).  This one
 * will be empty; the program has shown it reads profiles, so sampling
 * starts now, and the note says so (once). */
static void note_gated(void)
{
	if (!load_relaxed(&heapprofile_gate_off) || !__atomic_exchange_n(&heapprofile_gate_off, 0, __ATOMIC_RELAXED))
		return; /* on, or another thread's profile turned it on */
	gate_open();
	print_str("gort: heap profile: sampling was off (nothing loaded binds gort's profile API and GORTHEAPPROFILE "
		  "is unset): this profile is empty, later ones sample from now on; set GORTDEBUG=memprofilerate=524288 "
		  "to sample from the start\n");
}

int gort_write_heap_profile_text(FILE *f)
{
	note_gated();
	struct hp_snap sn;
	if (!snapshot(&sn))
		return -1;
	sort_recs(sn.recs, sn.n);
	uint64_t tio = 0, tib = 0, tao = 0, tab = 0;
	for (uintptr_t i = 0; i < sn.n; i++) {
		const struct memrecord *r = &sn.recs[i].r;
		tio += r->allocs - r->frees;
		tib += inuse_bytes(r);
		tao += r->allocs;
		tab += r->alloc_bytes;
	}
	/* As Go prints it: totals, then one line per bucket (in use objects:
	 * bytes [allocated objects: bytes] @ stack), heap/<2 x rate>. */
	fprintf(f, "heap profile: %" PRIu64 ": %" PRIu64 " [%" PRIu64 ": %" PRIu64 "] @ heap/%ld\n", tio, tib, tao,
		tab, 2 * sn.rate);
	for (uintptr_t i = 0; i < sn.n; i++) {
		const struct memrecord *r = &sn.recs[i].r;
		const mbucket *b = sn.recs[i].b;
		fprintf(f, "%" PRIu64 ": %" PRIu64 " [%" PRIu64 ": %" PRIu64 "] @", r->allocs - r->frees, inuse_bytes(r),
			r->allocs, r->alloc_bytes);
		for (uint32_t k = 0; k < b->nstk; k++)
			fprintf(f, " %#" PRIxPTR, b->stk[k]);
		fputc('\n', f);
		heapprofile_text_frames(f, b);
		fputc('\n', f);
	}
	gort_memstats m;
	gort_read_memstats(&m);
	fprintf(f, "\n# runtime.MemStats\n");
	fprintf(f, "# Alloc = %" PRIu64 "\n", m.heap_alloc);
	fprintf(f, "# TotalAlloc = %" PRIu64 "\n", m.total_alloc);
	fprintf(f, "# Sys = %" PRIu64 "\n", m.sys);
	fprintf(f, "# Mallocs = %" PRIu64 "\n", m.mallocs);
	fprintf(f, "# Frees = %" PRIu64 "\n", m.frees);
	fprintf(f, "# HeapAlloc = %" PRIu64 "\n", m.heap_alloc);
	fprintf(f, "# HeapSys = %" PRIu64 "\n", m.heap_sys);
	fprintf(f, "# HeapIdle = %" PRIu64 "\n", m.heap_idle);
	fprintf(f, "# HeapInuse = %" PRIu64 "\n", m.heap_inuse);
	fprintf(f, "# HeapReleased = %" PRIu64 "\n", m.heap_released);
	fprintf(f, "# HeapObjects = %" PRIu64 "\n", m.heap_objects);
	fprintf(f, "# NextGC = %" PRIu64 "\n", m.next_gc);
	fprintf(f, "# NumGC = %" PRIu32 "\n", (uint32_t)m.num_gc);
	snapshot_free(&sn);
	if (fflush(f) != 0 || ferror(f))
		return -1;
	return 0;
}

/* Go's scaleHeapSample: a sample stands for 1 / (1 - e^(-size/rate))
 * allocations of its size, the inverse of its chance of being sampled. */
static void unbias(uint64_t count, uint64_t bytes, long rate, int64_t *c, int64_t *b)
{
	if (count == 0 || bytes == 0) {
		*c = *b = 0;
		return;
	}
	if (rate <= 1) {
		*c = (int64_t)count;
		*b = (int64_t)bytes;
		return;
	}
	double avg = (double)bytes / (double)count;
	double scale = 1 / (1 - fmath_exp(-avg / (double)rate));
	*c = (int64_t)((double)count * scale);
	*b = (int64_t)((double)bytes * scale);
}

int gort_write_heap_profile(const char *path)
{
	note_gated();
	struct hp_snap sn;
	if (!snapshot(&sn))
		return -1;
	pprof_builder *pb = pprof_new();
	if (!pb) {
		snapshot_free(&sn);
		errno = ENOMEM;
		return -1;
	}
	pprof_sample_type(pb, "alloc_objects", "count");
	pprof_sample_type(pb, "alloc_space", "bytes");
	pprof_sample_type(pb, "inuse_objects", "count");
	pprof_sample_type(pb, "inuse_space", "bytes");
	pprof_default_sample_type(pb, "inuse_space");
	pprof_period(pb, "space", "bytes", sn.rate);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	pprof_time(pb, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, 0);
	for (uintptr_t i = 0; i < sn.n; i++) {
		const struct memrecord *r = &sn.recs[i].r;
		const mbucket *b = sn.recs[i].b;
		int64_t v[4];
		unbias(r->allocs, r->alloc_bytes, sn.rate, &v[0], &v[1]);
		unbias(r->allocs - r->frees, inuse_bytes(r), sn.rate, &v[2], &v[3]);
		/* Go labels heap samples with the object size ("bytes"); the
		 * type's name is gort's own addition. */
		pprof_label labels[2] = {{"bytes", NULL, (int64_t)b->size, "bytes"}, {"type", b->type, 0, NULL}};
		if (pprof_add_sample(pb, b->stk, (int)b->nstk, v, 4, labels, b->type ? 2 : 1) != 0)
			break;
	}
	snapshot_free(&sn);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = -1;
	if (fd >= 0) {
		rc = pprof_write_fd(pb, fd);
		int e = errno;
		if (close(fd) != 0 && rc == 0)
			rc = -1;
		else
			errno = e;
	}
	pprof_free(pb);
	return rc;
}

/* --- GORTHEAPPROFILE */

GORT_COLD_BSS static char profile_path[4096];
static sem_t profile_sem;
static unsigned profile_seq;

/* The path with "%p" replaced by the process id (so that every process of
 * a program that forks or executes others writes its own profile) and
 * "%%" by "%". */
static void expand_path(char *out, size_t cap)
{
	size_t n = 0;
	for (const char *s = profile_path; *s && n + 1 < cap; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			n += (size_t)snprintf(out + n, cap - n, "%d", (int)getpid());
			if (n >= cap)
				n = cap - 1;
			s++;
		} else if (s[0] == '%' && s[1] == '%') {
			out[n++] = '%';
			s++;
		} else {
			out[n++] = *s;
		}
	}
	out[n] = 0;
}

/* Written aside and renamed: whoever watches for the file never reads half
 * a profile, and processes sharing a path never interleave theirs. */
static void write_profile(const char *path)
{
	char tmp[sizeof profile_path + 48];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	if (gort_write_heap_profile(tmp) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		print_str("gort: GORTHEAPPROFILE: cannot write ");
		print_str(path);
		print_str("\n");
	}
}

static void profile_at_exit(void)
{
	char path[sizeof profile_path + 16];
	expand_path(path, sizeof path);
	write_profile(path);
}

static void profile_signal(int sig)
{
	(void)sig;
	int e = errno;
	sem_post(&profile_sem); /* async-signal-safe */
	errno = e;
}

static void *profile_main(void *arg)
{
	(void)arg;
	for (;;) {
		while (sem_wait(&profile_sem) != 0 && errno == EINTR)
			;
		char base[sizeof profile_path + 16], path[sizeof base + 16];
		expand_path(base, sizeof base);
		snprintf(path, sizeof path, "%s.%u", base, ++profile_seq);
		write_profile(path);
	}
	return NULL;
}

/* --- Whether anything can read the profile */

static bool names_profile_api(const char *name)
{
	return !strncmp(name, "gort_", 5) &&
	       (!strcmp(name + 5, "write_heap_profile") || !strcmp(name + 5, "write_heap_profile_text") ||
		!strcmp(name + 5, "set_mem_profile_rate"));
}

#if __ELF_NATIVE_CLASS == 64
#define REL_SYM ELF64_R_SYM
#else
#define REL_SYM ELF32_R_SYM
#endif

static bool relocs_bind_api(const ElfW(Rela) *r, uintptr_t bytes, const ElfW(Sym) *sym, const char *str)
{
	for (uintptr_t i = 0; i < bytes / sizeof *r; i++) {
		uintptr_t k = REL_SYM(r[i].r_info);
		if (k && sym[k].st_shndx == SHN_UNDEF && names_profile_api(str + sym[k].st_name))
			return true;
	}
	return false;
}

struct api_scan {
	uintptr_t self; /* an address in gort's own code */
	unsigned seen;  /* objects looked at */
	bool reader, static_gort;
};

static int api_scan_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct api_scan *sc = arg;
	bool first = sc->seen++ == 0, ours = false;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && sc->self - (info->dlpi_addr + ph->p_vaddr) < ph->p_memsz)
			ours = true;
	}
	if (ours) {
		sc->static_gort = first; /* in the program itself: linked statically */
		return sc->static_gort;
	}
	const ElfW(Dyn) *dyn = dyn_section(info);
	if (!dyn)
		return 0;
	uintptr_t symtab = 0, strtab = 0, rela = 0, relasz = 0, jmprel = 0, pltrelsz = 0;
	bool plt_rela = true;
	for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB: symtab = d->d_un.d_ptr; break;
		case DT_STRTAB: strtab = d->d_un.d_ptr; break;
		case DT_RELA: rela = d->d_un.d_ptr; break;
		case DT_RELASZ: relasz = d->d_un.d_val; break;
		case DT_JMPREL: jmprel = d->d_un.d_ptr; break;
		case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
		case DT_PLTREL: plt_rela = d->d_un.d_val == DT_RELA; break;
		}
	}
	symtab = dyn_addr(info, symtab);
	strtab = dyn_addr(info, strtab);
	rela = dyn_addr(info, rela);
	jmprel = dyn_addr(info, jmprel);
	if (!symtab || !strtab)
		return 0;
	const ElfW(Sym) *sym = (const ElfW(Sym) *)symtab;
	const char *str = (const char *)strtab;
	if ((rela && relocs_bind_api((const ElfW(Rela) *)rela, relasz, sym, str)) ||
	    (jmprel && plt_rela && relocs_bind_api((const ElfW(Rela) *)jmprel, pltrelsz, sym, str)))
		sc->reader = true;
	return sc->reader;
}

/* True when a loaded object may read the profile (or gort cannot tell). */
static bool profile_readable(void)
{
	struct api_scan sc = {.self = (uintptr_t)&profile_readable};
	dl_iterate_phdr(api_scan_object, &sc);
	return sc.reader || sc.static_gort;
}

static int count_adds(struct dl_phdr_info *info, size_t size, void *arg)
{
	if (size >= offsetof(struct dl_phdr_info, dlpi_adds) + sizeof info->dlpi_adds)
		*(unsigned long long *)arg = info->dlpi_adds;
	return 1; /* the count is the same in every record: one is enough */
}

static unsigned long long loader_adds(void)
{
	unsigned long long adds = 0;
	dl_iterate_phdr(count_adds, &adds);
	return adds;
}

/* From the constructor: sampling off if nothing can read the profile. */
static void gate_init(bool env_profile)
{
	if (load_relaxed(&debug.memprofilerate) >= 0 || env_profile || profile_readable())
		return;
	store_relaxed(&gate_adds, loader_adds());
	store_relaxed(&heapprofile_gate_off, 1);
	__atomic_store_n(&mprof_rate, 0, __ATOMIC_RELAXED);
	mcache_reset_samples();
}

/* Sampling on at the default rate, unless the program set a rate since. */
static void gate_open(void)
{
	long expect = 0;
	if (__atomic_compare_exchange_n(&mprof_rate, &expect, (long)MPROF_DEFAULT_RATE, false, __ATOMIC_RELAXED,
					__ATOMIC_RELAXED))
		mcache_reset_samples();
	store_relaxed(&heapprofile_gate_off, 0);
}

void heapprofile_gate_look(void)
{
	/* One look in 32 spans carved (the loader's lock and a callback cost
	 * `large`, which carves a span per block, 4% of its time when every
	 * carve looked).  Never inside a critical section: a stopped thread
	 * holding the loader's lock would stop the world waiting on us. */
	static unsigned carves;
	unsigned n = load_relaxed(&carves) + 1;
	store_relaxed(&carves, n);
	if ((n & 31) != 1 || crit_depth != 0)
		return;
	unsigned long long adds = loader_adds();
	if (adds == load_relaxed(&gate_adds))
		return;
	store_relaxed(&gate_adds, adds);
	if (profile_readable())
		gate_open();
}

void heapprofile_init(void)
{
	const char *path = os_getenv("GORTHEAPPROFILE");
	gate_init(path && *path);
	if (!path || !*path)
		return;
	if (strlen(path) >= sizeof profile_path) {
		print_str("gort: GORTHEAPPROFILE: path too long; ignored\n");
		return;
	}
	strcpy(profile_path, path);
	atexit(profile_at_exit);
	int sig = load_relaxed(&debug.heapprofilesignal);
	if (sig <= 0)
		return;
	pthread_t t;
	if (sem_init(&profile_sem, 0, 0) != 0 || thread_create_internal(&t, profile_main, NULL) != 0) {
		print_str("gort: GORTHEAPPROFILE: cannot start the profile writer thread\n");
		return;
	}
	pthread_detach(t);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = profile_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}
