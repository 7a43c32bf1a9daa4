/*
 * test_thp.c: the heap and transparent huge pages.
 *
 * Where the kernel gives huge pages unasked (THP "always"), a small heap
 * would cost 2 MiB per touched 2 MiB; so the heap's first 16 MiB are
 * advised MADV_NOHUGEPAGE and the rest left to the kernel, and
 * GORTDEBUG=disablethp=1 advises against them everywhere; runtime
 * metadata, touched sparsely, is always advised against them.  The advice
 * shows as "nh" in the mapping's VmFlags (/proc/self/smaps) whatever the
 * system's THP mode, so this checks the flags, not the RSS.  A kernel
 * without THP takes no such advice: SKIP.
 */
#include "gort.h"
#include "arena.h"
#include "testing.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

/* 1 if the mapping holding p has VmFlag flag, 0 if not, -1 if not found. */
static int vmflag(const void *p, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	char line[512];
	bool in = false;
	int r = -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ') < strchr(line, '\n')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			char want[8];
			snprintf(want, sizeof want, " %s", flag);
			r = strstr(line + 8, want) != NULL;
			break;
		}
	}
	fclose(f);
	return r;
}

static bool have_thp(void)
{
	return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
}

/* A small object and a page 40 MiB into a large block: the heap is one
 * arena mapped at once, so the second is past the first 16 MiB. */
static void small_and_far(char **small, char **far)
{
	*small = gort_malloc(64);
	char *big = gort_malloc(48 * MIB);
	*far = big ? big + 40 * MIB : NULL;
}

static void test_small_heap_no_thp(void)
{
	char *small, *far;
	small_and_far(&small, &far);
	REQUIRE(small && far);
	CHECKF(vmflag(small, "nh") == 1, "small object %p: %d", (void *)small, vmflag(small, "nh"));
	CHECKF(vmflag(far, "nh") == 0, "40 MiB on %p: %d", (void *)far, vmflag(far, "nh"));
	gort_free(far - 40 * MIB);
	gort_free(small);
}

/* Metadata: the arena index's L2 block, the heap's arena record and the
 * span record of an object, each from os_alloc (the span record through
 * a persistent chunk). */
static void test_metadata_no_thp(void)
{
	char *small = gort_malloc(64);
	REQUIRE(small);
	heaparena **l2 = arena_l1[0];
	REQUIRE(l2);
	heaparena *ha = arena_of((uintptr_t)small);
	mspan *s = span_of((uintptr_t)small);
	REQUIRE(ha && s);
	CHECKF(vmflag(l2, "nh") == 1, "arena index at %p: %d", (void *)l2, vmflag(l2, "nh"));
	CHECKF(vmflag(ha, "nh") == 1, "arena record at %p: %d", (void *)ha, vmflag(ha, "nh"));
	CHECKF(vmflag(s, "nh") == 1, "span record at %p: %d", (void *)s, vmflag(s, "nh"));
	gort_free(small);
}

/* The same in a fresh process with GORTDEBUG=disablethp=1 (read when the
 * heap starts): the far page is advised against huge pages too. */
static char *self;

static void test_disablethp(void)
{
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		setenv("GORTDEBUG", "disablethp=1", 1);
		execl("/proc/self/exe", self, "disablethp", (char *)NULL);
		_exit(127);
	}
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
}

int main(int argc, char **argv)
{
	if (!have_thp()) {
		printf("--- SKIP: test_thp (this kernel has no transparent huge pages)\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "disablethp") == 0) {
		char *small, *far;
		small_and_far(&small, &far);
		bool ok = small && far && vmflag(small, "nh") == 1 && vmflag(far, "nh") == 1;
		if (!ok)
			fprintf(stderr, "    disablethp=1: small %d, far %d\n", vmflag(small, "nh"), vmflag(far, "nh"));
		return ok ? 0 : 1;
	}
	self = argv[0];
	RUN(test_small_heap_no_thp);
	RUN(test_metadata_no_thp);
	RUN(test_disablethp);
	TEST_EXIT();
}
