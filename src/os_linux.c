/*
 * os_linux.c: Linux implementation of os.h (mmap, madvise, /proc, clocks).
 *
 * Heap ranges are mapped MAP_NORESERVE so that reserving address space and
 * mapping it read-write costs no RSS until touched; the kernel supplies zero
 * pages on first touch, which is what lets the heap skip zeroing fresh spans.
 */
#define _GNU_SOURCE /* pthread_getattr_np */
#include "os.h"
#include "atomic.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <pthread.h>
#include <sched.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

void *os_reserve(void *hint, uintptr_t n)
{
	void *p = mmap(hint, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	return p;
}

void *os_reserve_aligned(uintptr_t n, uintptr_t align)
{
	/* Over-reserve by align and trim both ends. */
	uintptr_t want = n + align;
	char *p = os_reserve(NULL, want);
	if (!p)
		return NULL;
	uintptr_t base = align_up((uintptr_t)p, align);
	uintptr_t head = base - (uintptr_t)p;
	if (head)
		munmap(p, head);
	uintptr_t tail = want - head - n;
	if (tail)
		munmap((char *)base + n, tail);
	return (void *)base;
}

bool os_map(void *p, uintptr_t n)
{
	void *q = mmap(p, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		       -1, 0);
	return q == p;
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux 4.17; older kernels take it as a hint */
#endif

bool os_map_exact(void *p, uintptr_t n, bool *no_room)
{
	int saved = errno; /* a failed try is no error of the caller's */
	void *q = mmap(p, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
		       -1, 0);
	*no_room = q == MAP_FAILED && errno == ENOMEM;
	errno = saved;
	if (q == p)
		return true;
	if (q != MAP_FAILED) /* a kernel without the flag put it elsewhere */
		munmap(q, n);
	return false;
}

void os_no_huge_pages(void *p, uintptr_t n)
{
#ifdef MADV_NOHUGEPAGE
	int saved = errno; /* advice a kernel without THP refuses is no error */
	madvise(p, n, MADV_NOHUGEPAGE);
	errno = saved;
#else
	(void)p;
	(void)n;
#endif
}

uint64_t os_address_space_limit(void)
{
	static uint64_t limit; /* atomic; valid once read is set (0: no limit) */
	static bool read;
	if (load_acquire(&read))
		return load_relaxed(&limit);
	/* RLIMIT_DATA counts private writable mappings too (Linux 4.7 on),
	 * such as a heap arena: the smaller of the two bounds the heap. */
	uint64_t l = 0;
	static const int which[] = {RLIMIT_AS, RLIMIT_DATA};
	for (unsigned i = 0; i < 2; i++) {
		struct rlimit rl;
		if (getrlimit(which[i], &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (!l || rl.rlim_cur < l))
			l = (uint64_t)rl.rlim_cur;
	}
	store_relaxed(&limit, l);
	store_release(&read, true);
	return l;
}

void *os_alloc(uintptr_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Metadata is touched sparsely: under transparent huge pages
	 * "always", two adjacent records (the page allocator's chunk records
	 * and an arena record, 2.06 MiB together) merge into one mapping with
	 * an aligned 2 MiB inside, and a huge page there cost prodcons 2 MiB
	 * in half its runs. */
	os_no_huge_pages(p, n);
	return p;
}

void os_free(void *p, uintptr_t n)
{
	munmap(p, n);
}

void os_unused(void *p, uintptr_t n, bool dontneed)
{
#ifdef MADV_FREE
	if (!dontneed && madvise(p, n, MADV_FREE) == 0)
		return;
#endif
	(void)dontneed;
	madvise(p, n, MADV_DONTNEED);
}

static uint64_t parse_u64(const char *s, const char **end)
{
	uint64_t v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	*end = s;
	return v;
}

/* A small file (path relative to dfd, or AT_FDCWD) read whole into buf
 * and NUL-terminated: its length, or 0 when it cannot be read. */
static size_t read_small_file(int dfd, const char *path, char *buf, size_t cap)
{
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return (size_t)n;
}

uint64_t os_alloc_cap_bytes(void)
{
	static uint64_t cap; /* atomic; 0 until read */
	uint64_t c = load_relaxed(&cap);
	if (likely(c))
		return c;
	struct sysinfo si;
	if (sysinfo(&si) != 0)
		return UINT64_MAX;
	c = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
	char buf[16];
	if (read_small_file(AT_FDCWD, "/proc/sys/vm/overcommit_memory", buf, sizeof buf) && buf[0] == '1')
		c = c > UINT64_MAX / 64 ? UINT64_MAX : c * 64;
	store_relaxed(&cap, c);
	return c;
}

bool os_overcommit_strict(void)
{
	static int strict = -1; /* atomic; -1 until read */
	int v = load_relaxed(&strict);
	if (v < 0) {
		char buf[16];
		v = read_small_file(AT_FDCWD, "/proc/sys/vm/overcommit_memory", buf, sizeof buf) && buf[0] == '2';
		store_relaxed(&strict, v);
	}
	return v;
}

bool os_thread_blocks_signal(pid_t tid, int sig)
{
	char path[64] = "/proc/self/task/", digits[16], buf[2048];
	size_t n = strlen(path), k = 0;
	for (unsigned v = (unsigned)tid; k == 0 || v; v /= 10) /* no stdio here (below) */
		digits[k++] = (char)('0' + v % 10);
	while (k)
		path[n++] = digits[--k];
	memcpy(path + n, "/status", 8);
	if (!read_small_file(AT_FDCWD, path, buf, sizeof buf))
		return false;
	const char *s = strstr(buf, "\nSigBlk:");
	if (!s)
		return false;
	s += 9;
	while (*s == ' ' || *s == '\t')
		s++;
	uint64_t mask = 0;
	for (; (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'); s++)
		mask = mask << 4 | (uint64_t)(*s <= '9' ? *s - '0' : *s - 'a' + 10);
	return (mask >> (sig - 1)) & 1;
}

uint64_t os_rss_bytes(void)
{
	char buf[128];
	if (!read_small_file(AT_FDCWD, "/proc/self/statm", buf, sizeof buf))
		return 0;
	const char *s = buf;
	parse_u64(s, &s); /* size */
	while (*s == ' ')
		s++;
	uint64_t resident = parse_u64(s, &s);
	return resident * (uint64_t)os_phys_page_bytes();
}

int64_t os_nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t os_thread_cputime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t os_process_cputime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

unsigned os_ncpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return (unsigned)n;
	}
	return 1;
}

uintptr_t os_phys_page_bytes(void)
{
	/* Not sysconf: its jump table would fault 64 KiB of libc's read-only
	 * data into a program that may never touch it. */
	return (uintptr_t)getpagesize();
}

/* The environment as the kernel gave it, for a first call into gort that
 * comes from the dynamic loader before libc has set environ (possible when
 * gort is the program's malloc).  Read once; the knobs are read at start
 * only, so a copy of the initial environment is what they want. */
GORT_COLD_BSS static char early_env[16384];
static size_t early_env_len;
static int early_env_state; /* 0 unread, 1 read */

static const char *early_getenv(const char *name)
{
	if (!__atomic_load_n(&early_env_state, __ATOMIC_ACQUIRE)) {
		/* Racing first readers fill the same bytes; harmless. */
		int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
		size_t n = 0;
		if (fd >= 0) {
			ssize_t r;
			while (n < sizeof early_env - 1 &&
			       (r = read(fd, early_env + n, sizeof early_env - 1 - n)) > 0)
				n += (size_t)r;
			close(fd);
		}
		early_env[n] = 0;
		early_env_len = n;
		__atomic_store_n(&early_env_state, 1, __ATOMIC_RELEASE);
	}
	size_t len = strlen(name);
	for (size_t i = 0; i < early_env_len; i += strlen(early_env + i) + 1)
		if (!strncmp(early_env + i, name, len) && early_env[i + len] == '=')
			return early_env + i + len + 1;
	return NULL;
}

const char *os_getenv(const char *name)
{
	/* getenv itself does not allocate in glibc or musl. */
	if (!environ)
		return early_getenv(name);
	return getenv(name);
}

unsigned os_context_regs(const void *ucontext, uintptr_t *regs, unsigned max, uintptr_t *sp)
{
	const ucontext_t *uc = ucontext;
	unsigned n = 0;
#if defined(__x86_64__)
	for (unsigned i = 0; i < NGREG && n < max; i++)
		regs[n++] = (uintptr_t)uc->uc_mcontext.gregs[i];
	/* Leaf functions may keep live values in the 128 bytes below %rsp. */
	*sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP] - 128;
#elif defined(__aarch64__)
	for (unsigned i = 0; i < 31 && n < max; i++)
		regs[n++] = (uintptr_t)uc->uc_mcontext.regs[i];
	*sp = (uintptr_t)uc->uc_mcontext.sp;
#else
#error "os_context_regs: unsupported architecture"
#endif
	return n;
}

/* The state letter of thread name (a decimal id) of the task directory
 * dfd, or 0 when it has gone. */
static char task_state(int dfd, const char *name)
{
	char path[32], buf[512];
	size_t len = strlen(name);
	if (len > sizeof path - 6)
		return 0;
	memcpy(path, name, len);
	memcpy(path + len, "/stat", 6);
	if (!read_small_file(dfd, path, buf, sizeof buf))
		return 0;
	const char *p = strrchr(buf, ')'); /* the name may hold anything but ends there */
	return p && p[1] == ' ' ? p[2] : 0;
}

unsigned long os_thread_count(void)
{
	char buf[1024];
	if (!read_small_file(AT_FDCWD, "/proc/self/stat", buf, sizeof buf))
		return 0;
	const char *p = strrchr(buf, ')'); /* the command name may hold anything */
	if (!p)
		return 0;
	/* After the name: state is field 3, num_threads field 20. */
	for (int field = 2; field < 20; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return 0;
	}
	const char *end;
	return (unsigned long)parse_u64(p + 1, &end);
}

bool os_other_threads_live(const pid_t *skip, unsigned nskip)
{
	int dfd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return true;
	bool live = false;
	char buf[4096] __attribute__((aligned(8)));
	for (;;) {
		long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
		if (n <= 0) {
			live |= n < 0;
			break;
		}
		for (long off = 0; off < n && !live;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			off += d->reclen;
			pid_t tid = 0;
			const char *c = d->name;
			if (*c < '0' || *c > '9')
				continue;
			while (*c >= '0' && *c <= '9')
				tid = tid * 10 + (*c++ - '0');
			bool ours = false;
			for (unsigned i = 0; i < nskip && !ours; i++)
				ours = skip[i] == tid;
			if (ours)
				continue;
			char st = task_state(dfd, d->name);
			live = st != 0 && st != 'Z' && st != 'X';
		}
		if (live)
			break;
	}
	close(dfd);
	/* A directory walk can miss a live thread while another one exits
	 * (the kernel resumes it by position in the thread list): the count
	 * is exact.  Besides skip, only the group leader (the program's main
	 * thread, gone by pthread_exit and a zombie now) may remain. */
	unsigned long n = os_thread_count();
	if (n > 1 + (unsigned long)nskip)
		live = true;
	return live;
}

bool os_membarrier(void)
{
	/* Registration is per address space: a forked child registers again. */
	static pid_t registered; /* atomic: the process that registered, or -1 if it cannot */
	pid_t me = getpid(), r = load_relaxed(&registered);
	if (r != me) {
		if (r == -me)
			return false;
		long ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
		store_relaxed(&registered, ok == 0 ? me : -me);
		if (ok != 0)
			return false;
	}
	return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

pid_t os_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Parses "lo-hi ..." at the start of a maps line. */
static bool maps_range(const char *l, uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t v[2] = {0, 0};
	for (int k = 0; k < 2; k++) {
		const char *start = l;
		for (;; l++) {
			unsigned d;
			if (*l >= '0' && *l <= '9')
				d = (unsigned)(*l - '0');
			else if (*l >= 'a' && *l <= 'f')
				d = (unsigned)(*l - 'a' + 10);
			else
				break;
			v[k] = v[k] << 4 | d;
		}
		if (l == start || *l++ != (k ? ' ' : '-'))
			return false;
	}
	*lo = v[0];
	*hi = v[1];
	return true;
}

/* The mapping holding addr ([*lo, *hi)) and the end of the mapping below
 * it (*prev_hi, 0 if none), read from /proc/self/maps with plain system
 * calls: stdio would allocate, and its code would cost every process that
 * loads gort resident pages it otherwise never maps. */
static bool maps_lookup(uintptr_t addr, uintptr_t *lo, uintptr_t *hi, uintptr_t *prev_hi)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[4096];
	size_t have = 0;
	uintptr_t prev = 0;
	bool found = false;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = 0;
		char *line = buf, *nl;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			uintptr_t l, h;
			if (maps_range(line, &l, &h)) {
				if (addr >= l && addr < h) {
					*lo = l;
					*hi = h;
					*prev_hi = prev;
					found = true;
					goto out;
				}
				prev = h;
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf); /* keep the partial line */
		memmove(buf, line, have);
		if (have == sizeof buf - 1)
			have = 0; /* a line longer than the buffer: skip it */
	}
out:
	close(fd);
	return found;
}

uintptr_t os_mapping_end(uintptr_t addr)
{
	uintptr_t lo, hi, prev;
	return maps_lookup(addr, &lo, &hi, &prev) ? hi : 0;
}

/* The main thread's stack as glibc's pthread_getattr_np computes it (top:
 * the page above where the program started; size: the stack rlimit, cut
 * at the mapping below), without its stdio parse of /proc/self/maps. */
static bool main_thread_stack(uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t page = os_phys_page_bytes(), start = (uintptr_t)__libc_stack_end;
	uintptr_t from, to, below;
	struct rlimit rl;
	if (!maps_lookup(start, &from, &to, &below) || getrlimit(RLIMIT_STACK, &rl) != 0)
		return false;
	uintptr_t top = (start & ~(page - 1)) + page;
	uintptr_t size = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > top ? top : (uintptr_t)rl.rlim_cur;
	size = size > to - top ? size - (to - top) : 0;
	size &= ~(page - 1);
	if (size > top - below)
		size = top - below;
	*lo = top - size;
	*hi = top;
	return true;
}

bool os_thread_stack(uintptr_t *lo, uintptr_t *hi)
{
	/* The main thread (checked by its stack too: in a child forked from
	 * another thread, that thread has the process's id but its own stack). */
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	if (os_gettid() == getpid() && main_thread_stack(lo, hi) && here >= *lo && here < *hi)
		return true;
	pthread_attr_t attr;
	void *addr;
	size_t size;
	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return false;
	bool ok = pthread_attr_getstack(&attr, &addr, &size) == 0;
	pthread_attr_destroy(&attr);
	if (!ok)
		return false;
	*lo = (uintptr_t)addr;
	*hi = (uintptr_t)addr + size;
	return true;
}
