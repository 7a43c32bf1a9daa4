/*
 * cgroup.c: the CPU bandwidth limit of the process's cgroup (see cgroup.h).
 *
 * Where the limit file is: /proc/self/cgroup names the process's cgroup in
 * each hierarchy (v1: "ID:controllers:path", one line per hierarchy; v2:
 * "0::path"), and /proc/self/mountinfo where each hierarchy is mounted and
 * which of its subtrees the mount shows (its root field: a container sees
 * its own cgroup as "/").  The cpu controller is in at most one hierarchy:
 * a v1 one when a v1 line lists it (also on "hybrid" systems that mount
 * the unified hierarchy beside it), else the unified one.  Files are read
 * with open/read into stack buffers, never stdio: gort may be the
 * process's malloc.
 */
#include "cgroup.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define CGROUP_PATH_MAX 512

/* Whether the comma-separated list [s, e) holds the token want. */
static bool list_has(const char *s, const char *e, const char *want)
{
	size_t n = strlen(want);
	while (s < e) {
		const char *c = memchr(s, ',', (size_t)(e - s));
		const char *end = c ? c : e;
		if ((size_t)(end - s) == n && memcmp(s, want, n) == 0)
			return true;
		s = end + 1;
	}
	return false;
}

static bool copy_str(char *dst, size_t cap, const char *s, size_t n)
{
	if (n + 1 > cap)
		return false;
	memcpy(dst, s, n);
	dst[n] = 0;
	return true;
}

bool cgroup_self_path(const char *text, size_t len, bool v1, char *path, size_t cap)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		if (c2) {
			bool unified = c1 - p == 1 && p[0] == '0' && c2 == c1 + 1;
			if (v1 ? !unified && list_has(c1 + 1, c2, "cpu") : unified)
				return copy_str(path, cap, c2 + 1, (size_t)(le - c2 - 1));
		}
		p = le + 1;
	}
	return false;
}

/* Copies mountinfo field [s, e) undoing its octal escapes ("\040" for a
 * space). */
static bool copy_field(char *dst, size_t cap, const char *s, const char *e)
{
	size_t n = 0;
	while (s < e) {
		char ch = *s++;
		if (ch == '\\' && e - s >= 3 && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' &&
		    s[2] >= '0' && s[2] <= '7') {
			ch = (char)((s[0] - '0') << 6 | (s[1] - '0') << 3 | (s[2] - '0'));
			s += 3;
		}
		if (n + 1 >= cap)
			return false;
		dst[n++] = ch;
	}
	dst[n] = 0;
	return true;
}

bool cgroup_mount_line(const char *line, size_t len, bool v1, char *root, size_t rootcap, char *mnt,
		       size_t mntcap)
{
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS */
	const char *f[16][2];
	int nf = 0;
	const char *p = line, *end = line + len;
	while (p < end && nf < 16) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		const char *s = p;
		while (p < end && *p != ' ' && *p != '\n')
			p++;
		f[nf][0] = s, f[nf][1] = p, nf++;
		if (p < end && *p == '\n')
			break;
	}
	int dash = -1;
	for (int i = 6; i < nf; i++)
		if (f[i][1] - f[i][0] == 1 && f[i][0][0] == '-') {
			dash = i;
			break;
		}
	if (dash < 0 || dash + 1 >= nf)
		return false;
	const char *fs = f[dash + 1][0];
	size_t fslen = (size_t)(f[dash + 1][1] - fs);
	if (v1) {
		if (fslen != 6 || memcmp(fs, "cgroup", 6) != 0 || dash + 3 >= nf ||
		    !list_has(f[dash + 3][0], f[dash + 3][1], "cpu"))
			return false;
	} else if (fslen != 7 || memcmp(fs, "cgroup2", 7) != 0) {
		return false;
	}
	return copy_field(root, rootcap, f[3][0], f[3][1]) && copy_field(mnt, mntcap, f[4][0], f[4][1]);
}

bool cgroup_dir(const char *mnt, const char *root, const char *path, char *dir, size_t cap)
{
	size_t rl = strlen(root);
	if (rl == 1 && root[0] == '/')
		rl = 0;
	if (strncmp(path, root, rl) != 0 || (path[rl] != 0 && path[rl] != '/'))
		return false;
	const char *rest = path + rl;
	if (rest[0] == '/' && rest[1] == 0)
		rest = ""; /* the mount's own root */
	size_t ml = strlen(mnt), xl = strlen(rest);
	if (ml + xl + 1 > cap)
		return false;
	memcpy(dir, mnt, ml);
	memcpy(dir + ml, rest, xl + 1);
	return true;
}

/* A decimal integer, possibly negative, then optional blanks: the end. */
static bool parse_long(const char **s, long long *v)
{
	const char *p = *s;
	bool neg = *p == '-';
	if (neg)
		p++;
	if (*p < '0' || *p > '9')
		return false;
	long long n = 0;
	while (*p >= '0' && *p <= '9') {
		if (n > (long long)1 << 50)
			return false;
		n = n * 10 + (*p++ - '0');
	}
	*v = neg ? -n : n;
	*s = p;
	return true;
}

static bool at_end(const char *p)
{
	while (*p == ' ' || *p == '\n')
		p++;
	return *p == 0;
}

bool cgroup_parse_cpu_max(const char *text, double *cpus)
{
	const char *p = text;
	long long quota = -1, period;
	if (strncmp(p, "max", 3) == 0)
		p += 3;
	else if (!parse_long(&p, &quota) || quota <= 0)
		return false;
	if (*p != ' ')
		return false;
	p++;
	if (!parse_long(&p, &period) || period <= 0 || !at_end(p))
		return false;
	*cpus = quota < 0 ? 0 : (double)quota / (double)period;
	return true;
}

bool cgroup_parse_cfs(const char *quota_text, const char *period_text, double *cpus)
{
	const char *q = quota_text, *r = period_text;
	long long quota, period;
	if (!parse_long(&q, &quota) || !at_end(q) || !parse_long(&r, &period) || !at_end(r) || period <= 0)
		return false;
	if (quota == -1) {
		*cpus = 0;
		return true;
	}
	if (quota <= 0)
		return false;
	*cpus = (double)quota / (double)period;
	return true;
}

unsigned cgroup_default_procs(unsigned ncpu, double limit)
{
	if (ncpu < 1)
		ncpu = 1;
	if (!(limit > 0))
		return ncpu;
	unsigned n = limit >= ncpu ? ncpu : (unsigned)limit;
	if (n < limit)
		n++; /* rounded up */
	if (n < 2)
		n = 2;
	return n < ncpu ? n : ncpu;
}

/* ---- reading ---- */

/* The whole of a small file, NUL-terminated; false if unreadable. */
static bool read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t n = 0;
	ssize_t r;
	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = 0;
	return n > 0;
}

/* The mount of the hierarchy (v1 with cpu, or unified) from mountinfo, read
 * a buffer at a time; a line longer than the buffer is skipped. */
static bool find_mount(bool v1, char *root, size_t rootcap, char *mnt, size_t mntcap)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[4096];
	size_t have = 0;
	bool found = false, skipping = false;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof buf - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		char *p = buf, *end = buf + have;
		char *nl;
		while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			if (!skipping && cgroup_mount_line(p, (size_t)(nl - p), v1, root, rootcap, mnt, mntcap)) {
				found = true;
				break;
			}
			skipping = false;
			p = nl + 1;
		}
		if (found)
			break;
		have = (size_t)(end - p);
		if (have == sizeof buf) { /* one line fills the buffer */
			have = 0;
			skipping = true;
		} else {
			memmove(buf, p, have);
		}
	}
	close(fd);
	return found;
}

bool cgroup_cpu_dir(char *dir, size_t cap, bool *v1)
{
	char self[4096], path[CGROUP_PATH_MAX], root[CGROUP_PATH_MAX], mnt[CGROUP_PATH_MAX];
	if (!read_small("/proc/self/cgroup", self, sizeof self))
		return false;
	size_t len = strlen(self);
	/* The hierarchy that has the cpu controller, and only that one. */
	*v1 = cgroup_self_path(self, len, true, path, sizeof path);
	if (!*v1 && !cgroup_self_path(self, len, false, path, sizeof path))
		return false;
	return find_mount(*v1, root, sizeof root, mnt, sizeof mnt) && cgroup_dir(mnt, root, path, dir, cap);
}

double cgroup_cpu_limit(void)
{
	char dir[CGROUP_PATH_MAX], file[CGROUP_PATH_MAX + 32], a[64], b[64];
	bool v1;
	double cpus = 0;
	if (!cgroup_cpu_dir(dir, sizeof dir, &v1))
		return 0;
	size_t dl = strlen(dir);
	memcpy(file, dir, dl);
	if (v1) {
		memcpy(file + dl, "/cpu.cfs_quota_us", sizeof "/cpu.cfs_quota_us");
		if (!read_small(file, a, sizeof a))
			return 0;
		memcpy(file + dl, "/cpu.cfs_period_us", sizeof "/cpu.cfs_period_us");
		if (!read_small(file, b, sizeof b) || !cgroup_parse_cfs(a, b, &cpus))
			return 0;
	} else {
		memcpy(file + dl, "/cpu.max", sizeof "/cpu.max");
		if (!read_small(file, a, sizeof a) || !cgroup_parse_cpu_max(a, &cpus))
			return 0;
	}
	return cpus;
}
