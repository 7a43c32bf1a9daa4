/*
 * cgroup.h: the CPU bandwidth limit of the control group the process is in,
 * for GORTMAXPROCS's default (Go 1.25's container-aware GOMAXPROCS).
 *
 * A cgroup may cap how much CPU time its processes get per period (v2:
 * cpu.max, "QUOTA PERIOD" or "max PERIOD"; v1: cpu.cfs_quota_us and
 * cpu.cfs_period_us, -1 for none).  QUOTA/PERIOD CPUs' worth of threads is
 * all that runs at once on average: more marking threads than that only
 * get throttled, with the world stopped.  Like Go, gort reads the limit
 * of the leaf cgroup it starts in (container runtimes hide the parents),
 * once.  Nothing here allocates: files are read into stack buffers.
 */
#ifndef GORT_CGROUP_H
#define GORT_CGROUP_H

#include "rt.h"

#include <stddef.h>

/* The limit in CPUs (> 0) of the cgroup this process is in, or 0 when it
 * has none or it cannot be read. */
GORT_HIDDEN double cgroup_cpu_limit(void);

/* The parts, exposed for tests. */

/* The directory of this process's cgroup in the hierarchy that has the cpu
 * controller (v1: a v1 hierarchy; else the unified one); false if none. */
GORT_HIDDEN bool cgroup_cpu_dir(char *dir, size_t cap, bool *v1);

/* From /proc/self/cgroup's text: the cgroup path of the v1 hierarchy that
 * holds the cpu controller (v1 true), or of the unified hierarchy ("0::",
 * v1 false).  False when there is no such line or it does not fit. */
GORT_HIDDEN bool cgroup_self_path(const char *text, size_t len, bool v1, char *path, size_t cap);
/* One line of /proc/self/mountinfo: true if it mounts a v1 hierarchy with
 * the cpu controller (v1 true) or the unified one (v1 false), with the
 * mount's root within the hierarchy and its mount point. */
GORT_HIDDEN bool cgroup_mount_line(const char *line, size_t len, bool v1, char *root, size_t rootcap,
				   char *mnt, size_t mntcap);
/* The directory of cgroup path under a mount of the hierarchy whose root
 * is root: false if path is not below root (a cgroup the mount cannot
 * show). */
GORT_HIDDEN bool cgroup_dir(const char *mnt, const char *root, const char *path, char *dir, size_t cap);
/* v2 cpu.max's text: true with *cpus = QUOTA/PERIOD, or 0 for "max". */
GORT_HIDDEN bool cgroup_parse_cpu_max(const char *text, double *cpus);
/* v1: cpu.cfs_quota_us and cpu.cfs_period_us's texts, as above (-1: 0). */
GORT_HIDDEN bool cgroup_parse_cfs(const char *quota, const char *period, double *cpus);
/* GORTMAXPROCS's default from the CPUs this process may run on and the
 * cgroup limit (0: none): the limit rounded up, at least 2 (a fraction of
 * a CPU still gets bursts on two), never above ncpu. */
GORT_HIDDEN unsigned cgroup_default_procs(unsigned ncpu, double limit);

#endif
