/*
 * test_gc_heap.c: the collector reclaims garbage and keeps the heap within
 * its knobs, and says so in its statistics and trace.
 *
 *   - a 1 GiB structure, dropped, goes: HeapInuse falls below 10% of it;
 *   - 20 x 200 MiB of small garbage under the default GORTGC keeps
 *     HeapInuse within 64 MiB of the live set, with cycles started by the
 *     pacer alone (NumGC grows, NumForcedGC does not);
 *   - gort_set_gc_percent(-1) stops automatic cycles and returns the
 *     previous setting; gort_set_memory_limit returns the previous limit and
 *     bounds the heap on its own (GC off, 64 MiB limit, 1 GiB of garbage);
 *   - MemStats identities after forced cycles;
 *   - gort_store / GORT_STORE store what they are given;
 *   - GORTDEBUG=gctrace=1 prints one line per cycle in Go's format, and bad
 *     GORTGC / GORTMEMLIMIT / GORTMAXPROCS values are reported and ignored,
 *     good ones obeyed (children re-executed with the variables set: knobs
 *     are read once, at start);
 *   - GORTDEBUG=gcpoison=1 overwrites dead objects, small and large, with
 *     0xde, and allocation still returns zeroed memory.
 * No timing is asserted; sizes are chosen so that a working collector is
 * far from every bound.
 */
#include "gort.h"
#include "testing.h"
#include "gctesting.h"

#include <pthread.h>
#include <regex.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define MiB ((uint64_t)1 << 20)
/* ThreadSanitizer makes every allocation some 20 times slower: a quarter
 * of the garbage there, the same bounds. */
#ifdef UNDER_TSAN
#define GARBAGE_SCALE 4
#else
#define GARBAGE_SCALE 1
#endif

extern char **environ;
static const char *self;

static NOINLINE void gc_clean(void)
{
	wipe_stack();
	gort_gc();
}

static gort_memstats ms(void)
{
	static gort_memstats m; /* 4 KiB of pause arrays: not on the stack */
	gort_read_memstats(&m);
	return m;
}

static uint64_t unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- a 1 GiB structure */

struct chunk {
	struct chunk *next;
	uint64_t id;
	char pad[(64 << 10) - 16];
};
GORT_TYPE(chunk_type, struct chunk, next);

struct chunk *volatile g_big;

/* Appended, so that a stale copy on the stack is of the tail. */
static NOINLINE void build_big(size_t n)
{
	struct chunk *head = NULL, *tail = NULL;
	for (size_t i = 0; i < n; i++) {
		struct chunk *c = gort_new(&chunk_type);
		c->id = i;
		if (tail)
			GORT_STORE(tail->next, c);
		else
			head = c;
		tail = c;
	}
	g_big = head;
}

static NOINLINE size_t walk_big(void)
{
	size_t n = 0;
	for (struct chunk *c = g_big; c; c = c->next, n++)
		if (c->id != n)
			return 0;
	return n;
}

static NOINLINE void test_big_structure_reclaimed(void)
{
	const size_t n = 16384; /* x 64 KiB = 1 GiB */
	gort_memstats m = ms();
	uint64_t inuse0 = m.heap_inuse;
	build_big(n);
	gc_clean();
	m = ms();
	CHECKF(walk_big() == n, "the structure is damaged");
	CHECKF(m.heap_inuse >= (1u << 30), "heap_inuse %llu MiB with 1 GiB live", (unsigned long long)(m.heap_inuse / MiB));
	CHECKF(m.gc_heap_marked >= (1u << 30), "gc_heap_marked %llu MiB with 1 GiB live",
	       (unsigned long long)(m.gc_heap_marked / MiB));
	g_big = NULL;
	gc_clean();
	m = ms();
	CHECKF(m.heap_inuse < inuse0 + (100 * MiB), "heap_inuse %llu MiB after dropping 1 GiB (was %llu MiB before)",
	       (unsigned long long)(m.heap_inuse / MiB), (unsigned long long)(inuse0 / MiB));
	CHECKF(m.gc_heap_marked < 100 * MiB, "gc_heap_marked %llu MiB after dropping 1 GiB",
	       (unsigned long long)(m.gc_heap_marked / MiB));
}

/* --- the pacer: small garbage under the default GORTGC */

#define RING 4096
void *volatile g_ring[RING]; /* the last few thousand objects stay alive */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Allocates bytes of garbage (16..1024 B, mixed scan and noscan) and returns
 * the largest heap_inuse seen, sampled every 4 MiB. */
static NOINLINE uint64_t churn(uint64_t bytes, uint64_t seed)
{
	uint64_t s = seed | 1, done = 0, next_sample = 0, peak = 0;
	unsigned i = 0;
	void *last_noscan = NULL;
	while (done < bytes) {
		size_t size = 16 + (size_t)(rnd(&s) % 1009);
		unsigned flags = (rnd(&s) & 1) ? GORT_NOSCAN : 0;
		uint64_t *p = gort_alloc(size, flags);
		p[0] = done;
		/* Some pointers among the garbage, to noscan objects only: a
		 * chain from the ring through older scan objects would keep
		 * all of history alive. */
		if (flags)
			last_noscan = p;
		else
			p[1] = (uint64_t)(uintptr_t)last_noscan;
		g_ring[i++ % RING] = p;
		done += size;
		if (done >= next_sample) {
			gort_memstats *m = &(gort_memstats){0};
			gort_read_memstats(m);
			if (m->heap_inuse > peak)
				peak = m->heap_inuse;
			next_sample = done + 4 * MiB;
		}
	}
	return peak;
}

static NOINLINE void test_pacer_bounds_garbage(void)
{
	/* A live set of 32 MiB: the goal is then about 64 MiB. */
	build_big(512);
	gc_clean();
	gort_memstats m0 = ms();
	uint64_t live = m0.heap_inuse;
	uint64_t peak = 0;
	for (int round = 0; round < 20 / GARBAGE_SCALE; round++) {
		uint64_t p = churn(200 * MiB, 0x9e3779b97f4a7c15ull * (uint64_t)(round + 1));
		if (p > peak)
			peak = p;
	}
	gort_memstats m1 = ms();
	CHECKF(walk_big() == 512, "the live structure was damaged by the churn");
	CHECKF(peak < live + 64 * MiB, "heap_inuse peaked at %llu MiB with %llu MiB live",
	       (unsigned long long)(peak / MiB), (unsigned long long)(live / MiB));
	CHECKF(m1.num_gc >= m0.num_gc + 20 / GARBAGE_SCALE, "only %u automatic cycles for %d MiB of garbage",
	       m1.num_gc - m0.num_gc, 4000 / GARBAGE_SCALE);
	CHECKF(m1.num_forced_gc == m0.num_forced_gc, "num_forced_gc moved without gort_gc calls (%u -> %u)",
	       m0.num_forced_gc, m1.num_forced_gc);
	CHECKF(m1.frees - m0.frees > (m1.mallocs - m0.mallocs) / 2, "%llu frees for %llu mallocs",
	       (unsigned long long)(m1.frees - m0.frees), (unsigned long long)(m1.mallocs - m0.mallocs));
	printf("    churn: %u cycles, heap_inuse peak %llu MiB over %llu MiB live\n", m1.num_gc - m0.num_gc,
	       (unsigned long long)(peak / MiB), (unsigned long long)(live / MiB));
	g_big = NULL;
	for (int i = 0; i < RING; i++)
		g_ring[i] = NULL;
	gc_clean();
}

static NOINLINE void test_gc_percent(void)
{
	int def = getenv("GORTGC") ? -2 : 100;
	int prev = gort_set_gc_percent(-1);
	if (def != -2)
		CHECKF(prev == def, "gort_set_gc_percent returned %d, want the default %d", prev, def);
	gc_clean();
	gort_memstats m0 = ms();
	churn(100 * MiB, 42);
	gort_memstats m1 = ms();
	CHECKF(m1.num_gc == m0.num_gc, "%u cycles ran with the collector off", m1.num_gc - m0.num_gc);
	CHECKF(m1.next_gc == 0 || m1.next_gc == UINT64_MAX || m1.next_gc > m1.gc_heap_live,
	       "next_gc %llu with the collector off", (unsigned long long)m1.next_gc);
	/* gort_gc still collects with the collector off. */
	for (int i = 0; i < RING; i++)
		g_ring[i] = NULL;
	gc_clean();
	gort_memstats m2 = ms();
	CHECK(m2.num_gc == m1.num_gc + 1 && m2.num_forced_gc == m1.num_forced_gc + 1);
	CHECKF(m2.heap_inuse < m1.heap_inuse, "gort_gc reclaimed nothing with the collector off");

	CHECK(gort_set_gc_percent(50) == -1);
	CHECK(gort_set_gc_percent(-7) == 50); /* any negative is off */
	CHECK(gort_set_gc_percent(prev) == -1);
	/* Back on: garbage starts cycles again. */
	m0 = ms();
	churn(100 * MiB, 43);
	m1 = ms();
	CHECKF(m1.num_gc > m0.num_gc, "no cycle after turning the collector back on");
	for (int i = 0; i < RING; i++)
		g_ring[i] = NULL;
	gc_clean();
}

static NOINLINE void test_memory_limit(void)
{
	int64_t def = getenv("GORTMEMLIMIT") ? -2 : INT64_MAX;
	int pct = gort_set_gc_percent(-1);
	int64_t prev = gort_set_memory_limit(64 * (int64_t)MiB);
	if (def != -2)
		CHECKF(prev == def, "gort_set_memory_limit returned %lld, want the default", (long long)prev);
	CHECK(gort_set_memory_limit(-1) == 64 * (int64_t)MiB); /* negative: only reads */
	CHECK(gort_set_memory_limit(-1) == 64 * (int64_t)MiB);
	gc_clean();
	gort_memstats m0 = ms();
	uint64_t peak = churn(1024 * MiB / GARBAGE_SCALE, 44);
	gort_memstats m1 = ms();
	CHECKF(peak < 100 * MiB, "heap_inuse peaked at %llu MiB under a 64 MiB limit with GC off",
	       (unsigned long long)(peak / MiB));
	CHECKF(m1.num_gc > m0.num_gc, "the limit started no cycle");
	CHECKF(m1.num_forced_gc == m0.num_forced_gc, "num_forced_gc moved");
	CHECK(gort_set_memory_limit(prev) == 64 * (int64_t)MiB);
	CHECK(gort_set_gc_percent(pct) == -1);
	for (int i = 0; i < RING; i++)
		g_ring[i] = NULL;
	gc_clean();
}

/* --- statistics */

void *volatile g_keep;

static NOINLINE void drop_n(int n)
{
	for (int i = 0; i < n; i++)
		gort_alloc(48, (unsigned)i & 1);
}

static NOINLINE void test_memstats(void)
{
	int pct = gort_set_gc_percent(-1); /* only forced cycles below */
	gc_clean();
	gort_memstats m0 = ms();
	uint64_t t0 = unix_ns();
	for (int i = 0; i < 5; i++)
		gc_clean();
	uint64_t t1 = unix_ns();
	gort_memstats m = ms();
	CHECKF(m.num_gc == m0.num_gc + 5, "num_gc %u -> %u after 5 gort_gc", m0.num_gc, m.num_gc);
	CHECKF(m.num_forced_gc == m0.num_forced_gc + 5, "num_forced_gc %u -> %u after 5 gort_gc", m0.num_forced_gc,
	       m.num_forced_gc);
	CHECK(m.num_forced_gc <= m.num_gc);
	CHECKF(m.last_gc >= t0 && m.last_gc <= t1, "last_gc %llu not within the calls [%llu, %llu]",
	       (unsigned long long)m.last_gc, (unsigned long long)t0, (unsigned long long)t1);
	uint64_t latest_end = m.pause_end[(m.num_gc + 255) % 256];
	CHECKF(latest_end >= t0 && latest_end <= t1, "latest pause_end %llu not within [%llu, %llu]",
	       (unsigned long long)latest_end, (unsigned long long)t0, (unsigned long long)t1);
	uint64_t sum = 0;
	unsigned n = m.num_gc < 256 ? m.num_gc : 256;
	for (unsigned i = 0; i < n; i++)
		sum += m.pause_ns[(m.num_gc + 255 - i) % 256];
	CHECKF(m.pause_total_ns >= sum, "pause_total_ns %llu < sum of the last %u pauses %llu",
	       (unsigned long long)m.pause_total_ns, n, (unsigned long long)sum);
	CHECK(m.pause_total_ns > m0.pause_total_ns);
	for (unsigned i = 0; i < 5; i++)
		CHECKF(m.pause_end[(m.num_gc + 255 - i) % 256] >= m.pause_end[(m.num_gc + 254 - i) % 256],
		       "pause_end not increasing");
	CHECK(m.heap_objects == m.mallocs - m.frees);
	CHECK(m.heap_sys == m.heap_inuse + m.heap_idle);
	CHECK(m.heap_alloc <= m.heap_inuse);
	CHECK(m.gc_heap_marked <= m.gc_heap_live);
	CHECK(m.gc_cpu_fraction >= 0 && m.gc_cpu_fraction <= 1);
	CHECK(gort_set_gc_percent(100) == -1);
	m = ms();
	CHECKF(m.next_gc >= 4 * MiB, "next_gc %llu below Go's 4 MiB heap minimum at GORTGC=100",
	       (unsigned long long)m.next_gc);

	/* Garbage is counted as freed by the cycle that finds it; live objects
	 * are marked. */
	gc_clean();
	m0 = ms();
	drop_n(100000);
	g_keep = gort_alloc(8 * MiB, 0);
	gc_clean();
	m = ms();
	CHECKF(m.frees - m0.frees >= 100000, "%llu frees after dropping 100000 objects",
	       (unsigned long long)(m.frees - m0.frees));
	CHECKF(m.mallocs - m0.mallocs >= 100001, "%llu mallocs for 100001 allocations",
	       (unsigned long long)(m.mallocs - m0.mallocs));
	CHECKF(m.gc_heap_marked >= 8 * MiB, "gc_heap_marked %llu with an 8 MiB object live",
	       (unsigned long long)m.gc_heap_marked);
	CHECK(m.heap_objects == m.mallocs - m.frees);
	g_keep = NULL;
	gort_set_gc_percent(pct);
}

/* --- the write barrier's store */

struct pair {
	void *a, *b;
	uint64_t n;
};
GORT_TYPE(pair_type, struct pair, a, b);

void *g_slot;

static NOINLINE void test_store(void)
{
	struct pair *p = gort_new(&pair_type);
	void *x = gort_alloc(32, GORT_NOSCAN), *y = gort_alloc(32, 0);
	GORT_STORE(p->a, x);
	GORT_STORE(p->b, (void *)y);
	p->n = 5;
	CHECK(p->a == x && p->b == y && p->n == 5);
	gort_store(&p->a, y);
	CHECK(p->a == y && p->b == y);
	GORT_STORE(p->b, NULL);
	CHECK(p->b == NULL);
	gort_store(&g_slot, p);
	CHECK(g_slot == p);
	void **range = calloc(4, sizeof(void *));
	REQUIRE(range);
	gort_add_roots(range, 4 * sizeof(void *));
	GORT_STORE(range[2], x);
	CHECK(range[2] == x && range[1] == NULL && range[3] == NULL);
	/* The typed macro: a struct pointer lvalue. */
	struct pair *q = gort_new(&pair_type);
	struct pair **slot = gort_alloc(sizeof(void *), 0);
	GORT_STORE(*slot, q);
	CHECK(*slot == q);
	/* The slow path stores too (the flag is only up while marking; raise
	 * it here, with no cycle running). */
	__atomic_store_n(&gort_write_barrier_enabled, 1, __ATOMIC_RELAXED);
	GORT_STORE(p->a, x);
	gort_store(&range[0], y);
	__atomic_store_n(&gort_write_barrier_enabled, 0, __ATOMIC_RELAXED);
	CHECK(p->a == x && range[0] == y);
	/* Stored values survive a cycle. */
	gc_clean();
	CHECK(g_slot == p && p->a == x && range[2] == x && range[0] == y && *slot == q);
	gort_keep_alive(slot);
	gort_remove_roots(range);
	free(range);
	g_slot = NULL;
}

/* --- children: gctrace, knobs, gcpoison */

/* Runs this program with argument name and the environment changes in
 * env ("NAME=value" sets, "NAME" alone unsets); captures stdout and
 * stderr; returns the exit status. */
static int run_child(const char *name, const char *const *env, char *out, size_t outlen, char *err, size_t errlen)
{
	char *envp[256];
	size_t n = 0;
	for (char **e = environ; *e && n < 200; e++) {
		int skip = 0;
		for (const char *const *c = env; *c; c++) {
			size_t k = strcspn(*c, "=");
			if (!strncmp(*e, *c, k) && (*e)[k] == '=')
				skip = 1;
		}
		if (!skip)
			envp[n++] = *e;
	}
	for (const char *const *c = env; *c; c++)
		if (strchr(*c, '='))
			envp[n++] = (char *)*c;
	envp[n] = NULL;
	int po[2], pe[2];
	if (pipe(po) || pipe(pe))
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	char *argv[] = {(char *)self, (char *)name, NULL};
	pid_t pid;
	int r = posix_spawn(&pid, self, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (r != 0)
		return -1;
	/* stderr can be long (a trace): read both without blocking the child. */
	size_t go = 0, ge = 0;
	int open_o = 1, open_e = 1;
	while (open_o || open_e) {
		if (open_o) {
			ssize_t k = read(po[0], out + go, outlen - 1 - go);
			if (k <= 0 || go + (size_t)k >= outlen - 1)
				open_o = 0;
			if (k > 0)
				go += (size_t)k;
		}
		if (!open_o && open_e) {
			ssize_t k = read(pe[0], err + ge, errlen - 1 - ge);
			if (k <= 0 || ge + (size_t)k >= errlen - 1)
				open_e = 0;
			if (k > 0)
				ge += (size_t)k;
		}
	}
	out[go] = 0;
	err[ge] = 0;
	close(po[0]);
	close(pe[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *gctrace_re = "^gc [0-9]+ @[0-9]+\\.[0-9]{3}s [0-9]+%: [0-9.]+\\+[0-9.]+\\+[0-9.]+ ms clock, "
				"[0-9.]+\\+[0-9.]+/[0-9.]+/[0-9.]+\\+[0-9.]+ ms cpu, [0-9]+->[0-9]+->[0-9]+ MB, "
				"[0-9]+ MB goal, [0-9]+ MB stacks, [0-9]+ MB globals, [0-9]+ P( \\(forced\\))?$";

/* Checks every "gc " line of err against Go's format; counts forced and
 * automatic lines and checks the numbers run 1, 2, ...; nproc > 0: the
 * P count.  Returns the number of lines. */
static int check_trace(const char *err, int *forced, int *automatic, int nproc)
{
	regex_t re;
	if (regcomp(&re, gctrace_re, REG_EXTENDED | REG_NOSUB) != 0) {
		CHECKF(0, "bad regex");
		return 0;
	}
	int n = 0;
	*forced = *automatic = 0;
	for (const char *l = err; *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)(len < 511 ? len : 511), l);
		if (!strncmp(line, "gc ", 3)) {
			n++;
			CHECKF(regexec(&re, line, 0, NULL, 0) == 0, "not Go's gctrace format: \"%s\"", line);
			int num = atoi(line + 3);
			CHECKF(num == n, "cycle number %d in line %d: \"%s\"", num, n, line);
			size_t ll = strlen(line);
			if (ll > 9 && !strcmp(line + ll - 9, " (forced)"))
				++*forced;
			else
				++*automatic;
			if (nproc > 0) {
				char want[32];
				snprintf(want, sizeof want, " %d P", nproc);
				CHECKF(strstr(line, want) != NULL, "\"%s\" lacks \"%s\"", line, want);
			}
		} else if (len) {
			CHECKF(0, "unexpected stderr line: \"%s\"", line);
		}
		l += len + (e != NULL);
	}
	regfree(&re);
	return n;
}

static char out[4096], err[1 << 16];

static NOINLINE void test_gctrace(void)
{
	const char *const env[] = {"GORTDEBUG=gctrace=1", "GORTMAXPROCS=3", "GORTGC", "GORTMEMLIMIT", NULL};
	int rc = run_child("gctrace-forced", env, out, sizeof out, err, sizeof err);
	CHECKF(rc == 0, "child exit status %d; stderr:\n%s", rc, err);
	int forced, automatic;
	int n = check_trace(err, &forced, &automatic, 3);
	CHECKF(n == 2 && forced == 2, "%d trace lines (%d forced), want 2 forced; stderr:\n%s", n, forced, err);

	rc = run_child("gctrace-auto", env, out, sizeof out, err, sizeof err);
	CHECKF(rc == 0, "child exit status %d", rc);
	n = check_trace(err, &forced, &automatic, 3);
	CHECKF(forced == 1 && automatic >= 3, "%d lines: %d forced, %d automatic; want 1 forced and >= 3 automatic",
	       n, forced, automatic);

	/* Without gctrace, nothing on stderr. */
	const char *const quiet[] = {"GORTDEBUG", NULL};
	rc = run_child("gctrace-forced", quiet, out, sizeof out, err, sizeof err);
	CHECKF(rc == 0 && err[0] == 0, "exit %d, stderr without gctrace: \"%s\"", rc, err);
}

/* Knobs: each child runs with the settings given ("VAR=value", the other
 * knobs unset), collects, and prints "pct <gc percent> limit <memory
 * limit>"; the parent checks the values, and that each bad setting drew a
 * line starting "gort: " naming the variable and the value, and a good one
 * none. */
struct knob {
	const char *var, *value;
	int bad;
};

static void knob_case(const struct knob *k, int n, int want_pct, long long want_limit)
{
	char settings[4][128];
	const char *env[8] = {"GORTGC", "GORTMEMLIMIT", "GORTMAXPROCS", NULL, NULL, NULL, NULL, NULL};
	char what[4 * 130] = "";
	for (int i = 0; i < n; i++) {
		snprintf(settings[i], sizeof settings[i], "%s=%s", k[i].var, k[i].value);
		for (int j = 0; j < 3; j++)
			if (!strcmp(env[j], k[i].var))
				env[j] = settings[i];
		snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s", i ? " " : "", settings[i]);
	}
	int rc = run_child("knobs", env, out, sizeof out, err, sizeof err);
	CHECKF(rc == 0, "%s: exit status %d; stderr: %s", what, rc, err);
	CHECKF(strstr(out, "ran") != NULL, "%s: the program did not run on: %s", what, out);
	int pct = -99;
	long long limit = -99;
	const char *p = strstr(out, "pct ");
	if (p)
		sscanf(p, "pct %d limit %lld", &pct, &limit);
	CHECKF(pct == want_pct, "%s: gc percent %d, want %d", what, pct, want_pct);
	CHECKF(limit == want_limit, "%s: memory limit %lld, want %lld", what, limit, want_limit);
	int complaints = 0;
	for (const char *l = err; *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)(len < 511 ? len : 511), l);
		int named = 0;
		for (int i = 0; i < n; i++)
			if (k[i].bad && !strncmp(line, "gort: ", 6) && strstr(line, k[i].var) && strstr(line, k[i].value))
				named = 1;
		if (named)
			complaints++;
		else if (len)
			CHECKF(0, "%s: unexpected stderr line \"%s\"", what, line);
		l += len + (e != NULL);
	}
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad += k[i].bad;
	CHECKF(complaints == bad, "%s: %d \"gort: \" lines naming a bad setting, want %d; stderr: \"%s\"", what,
	       complaints, bad, err);
}

static NOINLINE void test_knobs(void)
{
	const long long nolimit = INT64_MAX;
	const struct knob bad1[] = {{"GORTGC", "abc", 1}, {"GORTMEMLIMIT", "12XB", 1}, {"GORTMAXPROCS", "0", 1}};
	knob_case(bad1, 3, 100, nolimit);
	const struct knob bad2[] = {{"GORTGC", "12x", 1}, {"GORTMEMLIMIT", "MiB", 1}, {"GORTMAXPROCS", "-3", 1}};
	knob_case(bad2, 3, 100, nolimit);
	const struct knob bad3[] = {{"GORTMAXPROCS", "two", 1}, {"GORTGC", "50", 0}};
	knob_case(bad3, 2, 50, nolimit);
	const struct knob good1[] = {{"GORTGC", "50", 0}, {"GORTMEMLIMIT", "512MiB", 0}, {"GORTMAXPROCS", "2", 0}};
	knob_case(good1, 3, 50, 512LL << 20);
	const struct knob good2[] = {{"GORTGC", "off", 0}, {"GORTMEMLIMIT", "1GiB", 0}};
	knob_case(good2, 2, -1, 1LL << 30);
	const struct knob good3[] = {{"GORTMEMLIMIT", "123456789", 0}};
	knob_case(good3, 1, 100, 123456789);
	const struct knob good4[] = {{"GORTMEMLIMIT", "4096B", 0}};
	knob_case(good4, 1, 100, 4096);
}

/* Poison: a dead small object, kept in place by live neighbours, and a
 * dead large one read 0xde after gort_gc(); every allocation is zeroed. */
void *volatile g_neigh[64];

static NOINLINE uintptr_t poison_setup(size_t size, int idx, int n)
{
	uintptr_t h = 0;
	for (int i = 0; i < n; i++) {
		unsigned char *p = gort_alloc(size, 0);
		memset(p, 0x5c, size);
		if (i == idx)
			h = hide(p);
		else
			g_neigh[i] = p;
	}
	return h;
}

static NOINLINE int all_bytes(uintptr_t h, size_t size, unsigned char want, size_t step)
{
	const volatile unsigned char *p = unhide(h);
	for (size_t i = 0; i < size; i += step)
		if (p[i] != want) {
			fprintf(stderr, "    byte %zu of %p is 0x%02x, want 0x%02x\n", i, (const void *)p, p[i], want);
			return 0;
		}
	return p[size - 1] == want;
}

/* Allocates until the slot at h comes back (at most n times): every
 * allocation must be zeroed.  Returns 1 if the slot came back. */
static NOINLINE int realloc_zeroed(uintptr_t h, size_t size, int n, int *nonzero)
{
	void *want = unhide(h);
	for (int i = 0; i < n; i++) {
		unsigned char *p = gort_alloc(size, 0);
		for (size_t k = 0; k < size; k += 8)
			if (p[k] != 0)
				++*nonzero;
		if (p[size - 1])
			++*nonzero;
		memset(p, 0x33, size);
		if (p == want)
			return 1;
	}
	return 0;
}

static int child_poison(void)
{
	int bad = 0;
	/* Small: 256 B, 32 of a span's objects; number 20 dies. */
	uintptr_t h = poison_setup(256, 20, 32);
	gc_clean();
	if (!all_bytes(h, 256, 0xde, 1)) {
		printf("small dead object not poisoned\n");
		bad = 1;
	}
	int nonzero = 0;
	if (!realloc_zeroed(h, 256, 100000, &nonzero)) {
		printf("small: the freed slot was never handed out again\n");
		bad = 1;
	}
	if (nonzero) {
		printf("small: %d non-zero words in new objects\n", nonzero);
		bad = 1;
	}
	for (int i = 0; i < 64; i++)
		g_neigh[i] = NULL;
	/* Large: 256 KiB. */
	h = poison_setup(256 << 10, 0, 1);
	gc_clean();
	if (!all_bytes(h, 256 << 10, 0xde, 4093)) {
		printf("large dead object not poisoned\n");
		bad = 1;
	}
	nonzero = 0;
	realloc_zeroed(h, 256 << 10, 16, &nonzero);
	if (nonzero) {
		printf("large: %d non-zero words in new objects\n", nonzero);
		bad = 1;
	}
	printf("poison done\n");
	return bad;
}

static NOINLINE void test_gcpoison(void)
{
	/* scavenger=0: returned pages would read zero instead of the poison. */
	char dbg[256];
	const char *cur = getenv("GORTDEBUG");
	snprintf(dbg, sizeof dbg, "GORTDEBUG=%s%sgcpoison=1,scavenger=0", cur ? cur : "", cur && *cur ? "," : "");
	const char *const env[] = {dbg, NULL};
	int rc = run_child("poison", env, out, sizeof out, err, sizeof err);
	CHECKF(rc == 0, "exit status %d; stdout:\n%sstderr:\n%s", rc, out, err);
	CHECKF(strstr(out, "poison done") != NULL, "stdout: %s", out);
}

static int child(const char *name)
{
	if (!strcmp(name, "gctrace-forced")) {
		gort_gc();
		gort_gc();
		return 0;
	}
	if (!strcmp(name, "gctrace-auto")) {
		/* 64 MiB of garbage against a 4 MiB minimum goal. */
		for (int i = 0; i < 65536; i++)
			g_keep = gort_alloc(1024, 0);
		g_keep = NULL;
		gort_gc();
		return 0;
	}
	if (!strcmp(name, "knobs")) {
		for (int i = 0; i < 4096; i++)
			g_keep = gort_alloc(1024, 0);
		gort_gc();
		int pct = gort_set_gc_percent(0);
		gort_set_gc_percent(pct);
		long long limit = (long long)gort_set_memory_limit(-1);
		printf("ran\npct %d limit %lld\n", pct, limit);
		return 0;
	}
	if (!strcmp(name, "poison"))
		return child_poison();
	fprintf(stderr, "unknown child %s\n", name);
	return 1;
}

int main(int argc, char **argv)
{
	self = "/proc/self/exe";
	if (argc > 1)
		return child(argv[1]);
	alarm(240);
	RUN(test_store);
	RUN(test_memstats);
	RUN(test_gc_percent);
	RUN(test_memory_limit);
	RUN(test_pacer_bounds_garbage);
	RUN(test_big_structure_reclaimed);
	RUN(test_gctrace);
	RUN(test_knobs);
	RUN(test_gcpoison);
	TEST_EXIT();
}
