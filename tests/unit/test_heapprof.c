/*
 * test_heapprof.c: gort's heap profile as the real `go tool pprof` reads it.
 *
 * A child process (this program re-executed) runs a workload and writes
 * its profile; the parent runs `go tool pprof -top` on the file alone (no
 * binary) and compares what it prints with what the workload did.
 *
 *   exact (rate 1): three levels (top_a/top_b -> mid -> leaf_m), leaf_m
 *     reached by three paths, some memory kept and some freed, collected
 *     typed objects (gc_leaf) of which some die before gort_gc(), and two
 *     threads (thr_main -> thr_leaf): flat and cum of every function, for
 *     all four sample types, equal the expected values exactly; the "type"
 *     label names the gort_type; every sample carries its "bytes" label.
 *   sampled (default rate, 512 KiB): 200,000 allocations of 4 KiB
 *     (800 MiB, about 1600 samples: a relative standard deviation of
 *     1/sqrt(1600) = 2.5%); pprof's unbiased alloc_space must be within
 *     15% (6 deviations) of the truth.
 *   deleted binary: the child copies itself away, runs the copy, which
 *     deletes its own file before profiling; a static function still shows
 *     by name (gort symbolized it in-process).
 *   GORTHEAPPROFILE: the profile is written at exit, and to path.1 on
 *     SIGUSR2.
 * Without `go` on PATH the cases say SKIP (.ci/run installs golang-go).
 */
#include "gort.h"
#include "testing.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static const char *self;

/* --- The child's workloads */

struct node {
	struct node *next;
	long v[2];
};
GORT_TYPE(node_type, struct node, next);

static TEST_NOIPA void *leaf_m(size_t n)
{
	void *p = gort_malloc(n);
	TEST_KEEP(p);
	return p;
}

static TEST_NOIPA void *mid(size_t n)
{
	void *p = leaf_m(n);
	TEST_KEEP(p);
	return p;
}

static void *kept[256];
static struct node *gc_kept[200];

static TEST_NOIPA void top_a(void)
{
	for (int i = 0; i < 100; i++)
		kept[i] = mid(1000); /* class 1024 */
	for (int i = 0; i < 40; i++)
		gort_free(kept[i]);
}

static TEST_NOIPA void top_b(void)
{
	for (int i = 100; i < 150; i++)
		kept[i] = mid(1000);
	for (int i = 0; i < 20; i++)
		gort_free(leaf_m(3000)); /* class 3072 */
}

static TEST_NOIPA struct node *gc_leaf(void)
{
	struct node *p = gort_new(&node_type); /* 24 bytes */
	TEST_KEEP(p);
	return p;
}

static TEST_NOIPA void *thr_leaf(size_t n)
{
	void *p = gort_malloc(n);
	TEST_KEEP(p);
	return p;
}

static void *thr_main(void *arg)
{
	void **keep = arg;
	for (int i = 0; i < 30; i++) {
		void *p = thr_leaf(5000); /* class 5376 */
		if (i < 10)
			keep[i] = p;
		else
			gort_free(p);
	}
	return NULL;
}

static int child_exact(const char *path)
{
	gort_add_roots(gc_kept, sizeof gc_kept);
	gort_gc();
	gort_set_mem_profile_rate(1);
	top_a();
	top_b();
	for (int i = 0; i < 200; i++)
		GORT_STORE(gc_kept[i], gc_leaf());
	static void *tkeep[2][10];
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, thr_main, tkeep[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	gort_set_mem_profile_rate(0);
	for (int i = 0; i < 80; i++)
		GORT_STORE(gc_kept[i], NULL);
	gort_gc(); /* publishes the collected heap's figures */
	return gort_write_heap_profile(path) == 0 ? 0 : 3;
}

static TEST_NOIPA void sampled_leaf(int n)
{
	for (int i = 0; i < n; i++) {
		void *p = gort_malloc(4096);
		TEST_KEEP(p);
		gort_free(p);
	}
}

static int child_sampled(const char *path)
{
	sampled_leaf(200000);
	return gort_write_heap_profile(path) == 0 ? 0 : 3;
}

static TEST_NOIPA void *static_site_after_delete(void)
{
	void *p = gort_malloc(7000);
	TEST_KEEP(p);
	return p;
}

static int child_deleted(const char *path)
{
	/* This process runs a copy of the test, deleted before the profile is
	 * written: gort reads its own symbols through /proc/self/exe. */
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return 4;
	exe[n] = 0;
	if (unlink(exe) != 0)
		return 4;
	gort_set_mem_profile_rate(1);
	void *p = static_site_after_delete();
	TEST_KEEP(p);
	gort_set_mem_profile_rate(0);
	return gort_write_heap_profile(path) == 0 ? 0 : 3;
}

static TEST_NOIPA void env_site(void)
{
	for (int i = 0; i < 5; i++) {
		void *p = gort_malloc(9000);
		TEST_KEEP(p);
	}
}

static int child_env(void)
{
	gort_set_mem_profile_rate(1);
	env_site();
	/* The profile signal: path.1 is written by gort's thread. */
	raise(SIGUSR2);
	char path[512];
	snprintf(path, sizeof path, "%s.1", getenv("GORTHEAPPROFILE"));
	for (int i = 0; i < 500 && access(path, R_OK) != 0; i++)
		usleep(10000);
	return 0; /* the exit writes the profile itself */
}

/* --- The parent */

static int run_child(const char *exe, const char *mode, const char *path, const char *env)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (env)
			putenv((char *)env);
		execl(exe, exe, mode, path, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool have_go(void)
{
	return system("go version >/dev/null 2>&1") == 0;
}

/* Runs `go tool pprof <args> <file>`; its stdout in out. */
static bool pprof(const char *args, const char *file, char *out, size_t cap)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "HOME=%s GOCACHE=%s/gocache go tool pprof %s %s 2>&1", tmpdir, tmpdir, args, file);
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	return pclose(p) == 0;
}

/* flat and cum of function fn in `pprof -top` output; false if absent. */
static bool top_values(const char *top, const char *fn, long long *flat, long long *cum)
{
	for (const char *line = top; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char f[64], fp[16], sp[16], c[64], cp[16], name[256];
		if (sscanf(line, "%63s %15s %15s %63s %15s %255s", f, fp, sp, c, cp, name) != 6 || strcmp(name, fn) != 0)
			continue;
		/* The name must end the line (no longer name with fn as prefix). */
		*flat = strtoll(f, NULL, 10);
		*cum = strtoll(c, NULL, 10);
		return true;
	}
	return false;
}

static char out[1 << 16];

static void check_top(const char *file, const char *index, const char *fn, long long want_flat, long long want_cum)
{
	char args[256];
	snprintf(args, sizeof args, "-top -nodecount=500 -nodefraction=0 -edgefraction=0 -unit=B -sample_index=%s",
		 index);
	if (!pprof(args, file, out, sizeof out)) {
		CHECKF(0, "go tool pprof %s failed: %s", args, out);
		return;
	}
	long long flat = -1, cum = -1;
	CHECKF(top_values(out, fn, &flat, &cum), "%s: %s not in the profile:\n%s", index, fn, out);
	CHECKF(flat == want_flat && cum == want_cum, "%s %s: flat %lld cum %lld, want %lld and %lld", index, fn, flat,
	       cum, want_flat, want_cum);
}

static void test_exact(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/exact.pb.gz", tmpdir);
	int rc = run_child(self, "exact", path, NULL);
	REQUIRE(rc == 0);
	/* leaf_m: 100 + 50 x 1024 via mid, 20 x 3072 direct; 40 and 20 freed. */
	check_top(path, "alloc_objects", "leaf_m", 170, 170);
	check_top(path, "alloc_space", "leaf_m", 215040, 215040);
	check_top(path, "inuse_objects", "leaf_m", 110, 110);
	check_top(path, "inuse_space", "leaf_m", 112640, 112640);
	check_top(path, "alloc_objects", "mid", 0, 150);
	check_top(path, "alloc_space", "mid", 0, 153600);
	check_top(path, "inuse_objects", "mid", 0, 110);
	check_top(path, "inuse_space", "mid", 0, 112640);
	check_top(path, "alloc_objects", "top_a", 0, 100);
	check_top(path, "alloc_space", "top_a", 0, 102400);
	check_top(path, "inuse_objects", "top_a", 0, 60);
	check_top(path, "inuse_space", "top_a", 0, 61440);
	check_top(path, "alloc_objects", "top_b", 0, 70);
	check_top(path, "alloc_space", "top_b", 0, 112640);
	check_top(path, "inuse_objects", "top_b", 0, 50);
	check_top(path, "inuse_space", "top_b", 0, 51200);
	/* Collected: 200 x 24 bytes, 80 dead at the last collection. */
	check_top(path, "alloc_objects", "gc_leaf", 200, 200);
	check_top(path, "alloc_space", "gc_leaf", 4800, 4800);
	check_top(path, "inuse_objects", "gc_leaf", 120, 120);
	check_top(path, "inuse_space", "gc_leaf", 2880, 2880);
	/* Two threads: 30 x 5376 bytes each, 10 kept each. */
	check_top(path, "alloc_objects", "thr_leaf", 60, 60);
	check_top(path, "alloc_space", "thr_leaf", 322560, 322560);
	check_top(path, "inuse_objects", "thr_main", 0, 20);
	check_top(path, "inuse_space", "thr_main", 0, 107520);
	/* Labels: the type of the typed objects, the size of every sample. */
	CHECK(pprof("-tags", path, out, sizeof out));
	CHECKF(strstr(out, "struct node") != NULL, "no type label:\n%s", out);
	CHECKF(strstr(out, "bytes:") != NULL, "no bytes label:\n%s", out);
	CHECK(pprof("-tagfocus=type=struct -top -sample_index=alloc_objects", path, out, sizeof out));
	long long flat = -1, cum = -1;
	CHECKF(top_values(out, "gc_leaf", &flat, &cum) && flat == 200 && !top_values(out, "leaf_m", &flat, &cum),
	       "-tagfocus type=struct:\n%s", out);
}

static void test_sampled(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/sampled.pb.gz", tmpdir);
	REQUIRE(run_child(self, "sampled", path, NULL) == 0);
	CHECK(pprof("-top -nodefraction=0 -unit=B -sample_index=alloc_space", path, out, sizeof out));
	long long flat = -1, cum = -1;
	REQUIRE(top_values(out, "sampled_leaf", &flat, &cum));
	double truth = 200000.0 * 4096;
	printf("    alloc_space of sampled_leaf: %lld, truth %.0f (%.1f%% off)\n", flat, truth,
	       100 * (flat - truth) / truth);
	CHECKF(flat > 0.85 * truth && flat < 1.15 * truth, "estimate %lld of %.0f", flat, truth);
}

static void test_deleted_binary(void)
{
	char copy[512], path[512];
	snprintf(copy, sizeof copy, "%s/copy-of-test", tmpdir);
	snprintf(path, sizeof path, "%s/deleted.pb.gz", tmpdir);
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", self, copy);
	REQUIRE(system(cmd) == 0);
	int rc = run_child(copy, "deleted", path, NULL);
	CHECKF(rc == 0, "child exit %d", rc);
	CHECK(access(copy, F_OK) != 0); /* it is gone */
	CHECK(pprof("-top -nodefraction=0 -sample_index=alloc_objects", path, out, sizeof out));
	long long flat = -1, cum = -1;
	CHECKF(top_values(out, "static_site_after_delete", &flat, &cum) && flat == 1, "%s", out);
}

static void test_env(void)
{
	char path[512], env[600], path1[520];
	snprintf(path, sizeof path, "%s/env.pb.gz", tmpdir);
	snprintf(path1, sizeof path1, "%s.1", path);
	snprintf(env, sizeof env, "GORTHEAPPROFILE=%s", path);
	REQUIRE(run_child(self, "env", path, env) == 0);
	long long flat = -1, cum = -1;
	CHECK(pprof("-top -nodefraction=0 -sample_index=alloc_objects", path, out, sizeof out));
	CHECKF(top_values(out, "env_site", &flat, &cum) && flat == 5, "at exit:\n%s", out);
	CHECK(pprof("-top -nodefraction=0 -sample_index=alloc_objects", path1, out, sizeof out));
	CHECKF(top_values(out, "env_site", &flat, &cum) && flat == 5, "on SIGUSR2:\n%s", out);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "exact"))
		return child_exact(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "sampled"))
		return child_sampled(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "deleted"))
		return child_deleted(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "env"))
		return child_env();
	static char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		printf("--- FAIL: test_heapprof (cannot read /proc/self/exe)\n");
		return 1;
	}
	exe[n] = 0;
	self = exe;
	if (!have_go()) {
		printf("--- SKIP: test_heapprof (go tool pprof not found: apt-get install golang-go)\n");
		return 0;
	}
	snprintf(tmpdir, sizeof tmpdir, "/tmp/gort-heapprof.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		printf("--- FAIL: test_heapprof (mkdtemp)\n");
		return 1;
	}
	RUN(test_exact);
	RUN(test_sampled);
	RUN(test_deleted_binary);
	RUN(test_env);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("    (could not remove %s)\n", tmpdir);
	TEST_EXIT();
}
