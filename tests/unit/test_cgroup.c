/*
 * test_cgroup.c: GORTMAXPROCS's default and the cgroup CPU limit behind it
 * (cgroup.h): the parsers on the texts of v1, v2 and hybrid systems and of
 * containers, the rounding (up, at least 2, at most the CPUs), and the
 * whole path on this machine: a child moved into a new cgroup with a
 * limit of 3.5 CPUs reads 3.5, and the collector's default for 64 CPUs is
 * 4 there, 64 with GORTDEBUG=containermaxprocs=0 (SKIP, loudly, where
 * cgroups cannot be made: not root, or no cpu controller to write to).
 */
#include "gort.h"
#include "cgroup.h"
#include "debugvars.h"
#include "mgc.h"
#include "os.h"
#include "testing.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_self_path(void)
{
	/* Hybrid (this kind of VM): v1 controllers and the unified hierarchy. */
	const char *hybrid = "9:name=systemd:/\n4:memory:/m/x\n2:cpuacct:/\n1:cpu,cpuacct:/svc/a\n0::/unified/b\n";
	char path[64];
	CHECK(cgroup_self_path(hybrid, strlen(hybrid), true, path, sizeof path) && !strcmp(path, "/svc/a"));
	CHECK(cgroup_self_path(hybrid, strlen(hybrid), false, path, sizeof path) && !strcmp(path, "/unified/b"));
	/* "cpuacct" alone is not the cpu controller; nor "cpuset". */
	const char *acct = "3:cpuset:/s\n2:cpuacct:/a\n0::/u\n";
	CHECK(!cgroup_self_path(acct, strlen(acct), true, path, sizeof path));
	/* Pure v2 (a container's view), last line without a newline. */
	const char *v2 = "0::/";
	CHECK(!cgroup_self_path(v2, strlen(v2), true, path, sizeof path));
	CHECK(cgroup_self_path(v2, strlen(v2), false, path, sizeof path) && !strcmp(path, "/"));
	/* Too long for the buffer: refused, not cut. */
	const char *longp = "0::/a/very/long/path/indeed\n";
	CHECK(!cgroup_self_path(longp, strlen(longp), false, path, 8));
}

static void test_mount_line(void)
{
	char root[64], mnt[64];
	const char *v1 = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct";
	CHECK(cgroup_mount_line(v1, strlen(v1), true, root, sizeof root, mnt, sizeof mnt));
	CHECK(!strcmp(root, "/") && !strcmp(mnt, "/sys/fs/cgroup/cpu,cpuacct"));
	CHECK(!cgroup_mount_line(v1, strlen(v1), false, root, sizeof root, mnt, sizeof mnt));
	const char *acct = "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct";
	CHECK(!cgroup_mount_line(acct, strlen(acct), true, root, sizeof root, mnt, sizeof mnt));
	/* A container's unified mount showing its own subtree, no optional
	 * fields, an escaped space in the mount point. */
	const char *v2 = "1200 1100 0:27 /kubepods/pod1/c1 /sys/fs/cgroup\\040x ro,nosuid - cgroup2 cgroup2 rw\n";
	CHECK(cgroup_mount_line(v2, strlen(v2), false, root, sizeof root, mnt, sizeof mnt));
	CHECK(!strcmp(root, "/kubepods/pod1/c1") && !strcmp(mnt, "/sys/fs/cgroup x"));
	CHECK(!cgroup_mount_line(v2, strlen(v2), true, root, sizeof root, mnt, sizeof mnt));
	const char *other = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw";
	CHECK(!cgroup_mount_line(other, strlen(other), false, root, sizeof root, mnt, sizeof mnt));
	const char *cut = "22 1 8:1 / /sys/fs/cgroup rw -";
	CHECK(!cgroup_mount_line(cut, strlen(cut), false, root, sizeof root, mnt, sizeof mnt));
}

static void test_dir(void)
{
	char dir[64];
	CHECK(cgroup_dir("/sys/fs/cgroup", "/", "/a/b", dir, sizeof dir) && !strcmp(dir, "/sys/fs/cgroup/a/b"));
	CHECK(cgroup_dir("/sys/fs/cgroup", "/", "/", dir, sizeof dir) && !strcmp(dir, "/sys/fs/cgroup"));
	CHECK(cgroup_dir("/sys/fs/cgroup", "/k/c1", "/k/c1", dir, sizeof dir) && !strcmp(dir, "/sys/fs/cgroup"));
	CHECK(cgroup_dir("/sys/fs/cgroup", "/k/c1", "/k/c1/x", dir, sizeof dir) && !strcmp(dir, "/sys/fs/cgroup/x"));
	CHECK(!cgroup_dir("/sys/fs/cgroup", "/k/c1", "/k/c10", dir, sizeof dir));
	CHECK(!cgroup_dir("/sys/fs/cgroup", "/k/c1", "/other", dir, sizeof dir));
	CHECK(!cgroup_dir("/sys/fs/cgroup", "/", "/a/long/one", dir, 16));
}

static void test_parse_limits(void)
{
	double c = -1;
	CHECK(cgroup_parse_cpu_max("max 100000\n", &c) && c == 0);
	CHECK(cgroup_parse_cpu_max("250000 100000\n", &c) && c == 2.5);
	CHECK(cgroup_parse_cpu_max("50000 100000", &c) && c == 0.5);
	CHECK(!cgroup_parse_cpu_max("", &c));
	CHECK(!cgroup_parse_cpu_max("0 100000", &c));
	CHECK(!cgroup_parse_cpu_max("100000", &c));
	CHECK(!cgroup_parse_cpu_max("100000 0", &c));
	CHECK(!cgroup_parse_cpu_max("1x 100000", &c));
	CHECK(!cgroup_parse_cpu_max("100 100000 7", &c));
	CHECK(cgroup_parse_cfs("-1\n", "100000\n", &c) && c == 0);
	CHECK(cgroup_parse_cfs("350000\n", "100000\n", &c) && c == 3.5);
	CHECK(!cgroup_parse_cfs("0\n", "100000\n", &c));
	CHECK(!cgroup_parse_cfs("-2\n", "100000\n", &c));
	CHECK(!cgroup_parse_cfs("350000\n", "0\n", &c));
	CHECK(!cgroup_parse_cfs("", "100000\n", &c));
}

static void test_default_procs(void)
{
	CHECK(cgroup_default_procs(64, 0) == 64);       /* no limit */
	CHECK(cgroup_default_procs(64, 3.5) == 4);      /* rounded up */
	CHECK(cgroup_default_procs(64, 4) == 4);
	CHECK(cgroup_default_procs(64, 0.25) == 2);     /* at least 2 */
	CHECK(cgroup_default_procs(64, 1) == 2);
	CHECK(cgroup_default_procs(8, 100) == 8);       /* never above the CPUs */
	CHECK(cgroup_default_procs(1, 0.5) == 1);
	CHECK(cgroup_default_procs(0, 0) == 1);
}

/* The collector's default: what the parts say for this process. */
static void test_pacer_default(void)
{
	gort_gc(); /* starts the collector: pacer_init has run */
	if (getenv("GORTMAXPROCS")) {
		printf("    (GORTMAXPROCS is set: its value wins, not checked)\n");
		return;
	}
	unsigned want = pacer_default_procs(os_ncpu());
	CHECKF(gc.nproc == want || (want > GC_MAX_PROCS && gc.nproc == GC_MAX_PROCS), "nproc %u, want %u", gc.nproc,
	       want);
}

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	return close(fd) == 0 && ok;
}

/* The whole path: a cgroup made here, limited to 3.5 CPUs, and a child in
 * it that reads the limit and the default for 64 CPUs. */
static void test_real_cgroup(void)
{
	char dir[512], sub[600], file[700];
	bool v1;
	if (!cgroup_cpu_dir(dir, sizeof dir, &v1)) {
		printf("--- SKIP: test_real_cgroup (no cpu controller found for this process)\n");
		return;
	}
	snprintf(sub, sizeof sub, "%s/gort-test-%d", dir, (int)getpid());
	if (mkdir(sub, 0755) != 0) {
		printf("--- SKIP: test_real_cgroup (cannot make a cgroup under %s: %s)\n", dir, strerror(errno));
		return;
	}
	snprintf(file, sizeof file, "%s/%s", sub, v1 ? "cpu.cfs_quota_us" : "cpu.max");
	if (!write_file(file, v1 ? "350000" : "350000 100000")) {
		printf("--- SKIP: test_real_cgroup (cannot write %s: %s)\n", file, strerror(errno));
		rmdir(sub);
		return;
	}
	if (v1) {
		snprintf(file, sizeof file, "%s/cpu.cfs_period_us", sub);
		REQUIRE(write_file(file, "100000"));
	}
	snprintf(file, sizeof file, "%s/cgroup.procs", sub);
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		char me[32];
		snprintf(me, sizeof me, "%d", (int)getpid());
		if (!write_file(file, me))
			_exit(100);
		double lim = cgroup_cpu_limit();
		if (lim != 3.5)
			_exit(1 + (int)(lim * 10) % 99);
		/* The collector's default on a 64-CPU machine, and with the
		 * knob off. */
		if (pacer_default_procs(64) != 4)
			_exit(101);
		debugvars_parse("containermaxprocs=0");
		_exit(pacer_default_procs(64) == 64 ? 0 : 102);
	}
	int st = 0;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECKF(rmdir(sub) == 0, "rmdir %s: %s", sub, strerror(errno));
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "child in %s: status %#x (100: could not join; 101: default not 4 of 64 CPUs; 102: "
	       "containermaxprocs=0 ignored; else 1 + 10 * the limit it read)", sub, st);
}

int main(void)
{
	RUN(test_self_path);
	RUN(test_mount_line);
	RUN(test_dir);
	RUN(test_parse_limits);
	RUN(test_default_procs);
	RUN(test_pacer_default);
	RUN(test_real_cgroup);
	TEST_EXIT();
}
