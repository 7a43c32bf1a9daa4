/*
 * common.h: what every benchmark program shares, whatever allocator it is
 * built or run with: the seeded random stream and the name of the malloc
 * the dynamic linker bound.  No allocator API here (alloc_api.h has it), so
 * the LD_PRELOAD workloads of malloc/ can include it too.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <dlfcn.h>
#include <stdint.h>

/* xorshift64*: fast, and a fixed seed gives every allocator the same stream. */
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Which malloc the dynamic linker bound: each allocator exports a name of
 * its own. */
static inline const char *bench_alloc_name(void)
{
	if (dlsym(RTLD_DEFAULT, "gort_malloc"))
		return "gort";
	if (dlsym(RTLD_DEFAULT, "mi_malloc"))
		return "mimalloc";
	if (dlsym(RTLD_DEFAULT, "mallctl"))
		return "jemalloc";
	if (dlsym(RTLD_DEFAULT, "tc_malloc"))
		return "tcmalloc";
	return "glibc";
}

#endif
