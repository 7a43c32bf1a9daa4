/*
 * atomic.h: atomics with the memory order in the name.
 *
 * gort uses the GCC __atomic builtins on plain fields rather than _Atomic
 * types, so that a field written only by its owner can be read racily by
 * other threads (relaxed) without paying for atomics on the owner's side.
 * Every cross-thread read or write of a shared field goes through these, so
 * ThreadSanitizer sees the intent.
 */
#ifndef GORT_ATOMIC_H
#define GORT_ATOMIC_H

#include <stdint.h>

#define load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define load_seqcst(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define store_seqcst(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define fetch_add_acqrel(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define fetch_or_seqcst(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define fetch_or_relaxed(p, v) __atomic_fetch_or((p), (v), __ATOMIC_RELAXED)
#define fetch_and_relaxed(p, v) __atomic_fetch_and((p), (v), __ATOMIC_RELAXED)
#define exchange_acqrel(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define cas_seqcst(p, expp, v) \
	__atomic_compare_exchange_n((p), (expp), (v), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
/* An owner-only uint64_t counter that other threads may read: the owner
 * adds without a lock prefix.  On x86-64, one add to memory (a single
 * aligned 8-byte write, so a reader never sees a torn value), which
 * compilers do not make of a relaxed load and store: two instructions
 * fewer on each malloc and free.  Elsewhere, and under ThreadSanitizer
 * (which must see the accesses), the relaxed load and store. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#endif
#if defined(__x86_64__) && !defined(GORT_TSAN)
static inline void owner_add(uint64_t *p, uint64_t v)
{
	__asm__("addq %1, %0" : "+m"(*p) : "er"(v) : "cc");
}
#else
#define owner_add(p, v) store_relaxed((p), load_relaxed(p) + (v))
#endif

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif
