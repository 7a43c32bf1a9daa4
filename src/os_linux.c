/*
 * os_linux.c: Linux implementation of os.h (mmap, madvise, /proc, clocks).
 *
 * Heap ranges are mapped MAP_NORESERVE so that reserving address space and
 * mapping it read-write costs no RSS until touched; the kernel supplies zero
 * pages on first touch, which is what lets the heap skip zeroing fresh spans.
 */
#include "os.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
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

void *os_alloc(uintptr_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
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

uint64_t os_rss_bytes(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *s = buf;
	parse_u64(s, &s); /* size */
	while (*s == ' ')
		s++;
	uint64_t resident = parse_u64(s, &s);
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
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

uintptr_t os_phys_page_bytes(void)
{
	return (uintptr_t)sysconf(_SC_PAGESIZE);
}

const char *os_getenv(const char *name)
{
	/* getenv itself does not allocate in glibc or musl. */
	return getenv(name);
}
