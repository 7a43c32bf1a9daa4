/*
 * coldtrap.c: finds code a program runs in libgort-malloc.so's cold text
 * segment (src/hot.ld says which functions are hot; test_programs checks
 * that programs that only allocate leave the cold segment unmapped).
 *
 *   make coldtrap
 *   LD_PRELOAD="build/release/libgort-malloc.so build/release/coldtrap.so" prog
 *
 * Loaded after the library, it takes away access to the library's second
 * executable mapping; the first instruction run there faults, and the
 * handler prints its offset in the file (for `nm`: add the mapping's
 * start, also printed) and the return address on top of the stack, gives
 * access back, and the program goes on.  One report per segment, then
 * nothing: the point is the first cold call on a path.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static unsigned long lo, hi, base;

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	unsigned long a = (unsigned long)si->si_addr;
	if (a < lo || a >= hi) {
		signal(sig, SIG_DFL); /* not ours: fault again, for real */
		return;
	}
	char msg[200];
	int n;
#if defined(__x86_64__)
	const ucontext_t *uc = ctx;
	unsigned long ret = *(unsigned long *)uc->uc_mcontext.gregs[REG_RSP];
	n = snprintf(msg, sizeof msg, "coldtrap: cold code run at %#lx (symbol address), called from %#lx\n",
		     a - base, ret - base);
#else
	(void)ctx;
	n = snprintf(msg, sizeof msg, "coldtrap: cold code run at %#lx (symbol address)\n", a - base);
#endif
	if (write(2, msg, (size_t)n) < 0) {
	}
	mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC);
}

__attribute__((constructor)) static void coldtrap_init(void)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[512];
	int nexec = 0;
	while (maps && fgets(line, sizeof line, maps)) {
		unsigned long a, b, off;
		char perm[8];
		if (!strstr(line, "libgort-malloc.so") ||
		    sscanf(line, "%lx-%lx %7s %lx", &a, &b, perm, &off) != 4)
			continue;
		if (!base)
			base = a; /* the first mapping is at file offset 0 */
		if (strcmp(perm, "r-xp") == 0 && ++nexec == 2)
			lo = a, hi = b;
	}
	if (maps)
		fclose(maps);
	if (!lo) {
		fprintf(stderr, "coldtrap: libgort-malloc.so has no cold text segment here\n");
		return;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	mprotect((void *)lo, hi - lo, PROT_NONE);
}
