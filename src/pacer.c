/*
 * pacer.c: when to collect (Go's mgcpacer.go, for a collector that marks
 * with the world stopped).
 *
 * After each cycle the heap goal is the live heap grown by GORTGC percent,
 * at least 4 MiB x GORTGC/100 (Go's heapMinimum), and below the memory
 * limit (GORTMEMLIMIT) less the runtime's own overhead.  A cycle starts
 * when heap_live, the bytes of marked objects plus everything allocated
 * since (charged a span at a time when a cache takes a span, as Go charges
 * heapLive), reaches the trigger.  Marking stops the world, so no runway is
 * needed: the trigger is the goal.  With GORTGC=off only the limit
 * triggers cycles.
 *
 * Knobs follow Go's grammar: GORTGC is a percentage or "off"; GORTMEMLIMIT
 * a byte count with an optional B, KiB, MiB, GiB or TiB suffix, or "off";
 * GORTMAXPROCS a positive count of marking threads (default: the CPUs this
 * process may run on, cut to its cgroup's CPU limit rounded up, but not
 * below 2, as Go 1.25 does; GORTDEBUG=containermaxprocs=0 ignores the
 * limit).  A bad value is reported and the default used.
 */
#define _GNU_SOURCE
#include "mgc.h"
#include "arena.h"
#include "atomic.h"
#include "cgroup.h"
#include "check.h"
#include "debugvars.h"
#include "fixalloc.h"
#include "mheap.h"
#include "scavenge.h"
#include "os.h"

#include <stdint.h>
#include <string.h>

#define HEAP_MINIMUM ((uint64_t)4 << 20)

static void report_bad(const char *var, const char *value, const char *def)
{
	print_str("gort: ");
	print_str(var);
	print_str("=\"");
	print_str(value);
	print_str("\": invalid value; using the default (");
	print_str(def);
	print_str(")\n");
	print_flush();
}

/* A decimal integer filling [s, end); false on anything else or overflow. */
static bool parse_uint(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	if (s == end)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

bool pacer_parse_gogc(const char *s, int *out)
{
	if (strcmp(s, "off") == 0) {
		*out = -1;
		return true;
	}
	bool neg = s[0] == '-';
	uint64_t v;
	if (!parse_uint(s + neg, s + strlen(s), &v) || v > INT32_MAX)
		return false;
	*out = neg ? -1 : (int)v;
	return true;
}

bool pacer_parse_memlimit(const char *s, int64_t *out)
{
	if (strcmp(s, "off") == 0) {
		*out = INT64_MAX;
		return true;
	}
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}};
	size_t len = strlen(s);
	unsigned shift = 0;
	for (size_t i = 0; i < ARRAY_LEN(units); i++) {
		size_t ul = strlen(units[i].suffix);
		if (len > ul && strcmp(s + len - ul, units[i].suffix) == 0) {
			len -= ul;
			shift = units[i].shift;
			break;
		}
	}
	uint64_t v;
	if (!parse_uint(s, s + len, &v) || v > (uint64_t)INT64_MAX >> shift)
		return false;
	*out = (int64_t)(v << shift);
	return true;
}

void pacer_init_limit(const char *v)
{
	int64_t limit;
	if (pacer_parse_memlimit(v, &limit))
		store_relaxed(&gc.memory_limit, limit);
	else
		report_bad("GORTMEMLIMIT", v, "off");
}

uint64_t pacer_runtime_overhead(void)
{
	/* MemStats' other_sys: records, and the arena records with their heap
	 * bits (whole for every 64 MiB arena the heap has touched, even where,
	 * under an address-space limit, only 4 MiB of it is mapped). */
	return persistent_sys_bytes() + (uint64_t)arena_meta_bytes();
}

unsigned pacer_default_procs(unsigned ncpu)
{
	/* As Go's GOMAXPROCS: cut to the cgroup's CPU limit (cgroup.h)
	 * unless GORTDEBUG=containermaxprocs=0. */
	if (!load_relaxed(&debug.containermaxprocs))
		return ncpu;
	return cgroup_default_procs(ncpu, cgroup_cpu_limit());
}

void pacer_init(void)
{
	/* GORTMEMLIMIT was read with the heap (mheap.c): the malloc face
	 * obeys it too. */
	gc.gc_percent = 100;
	gc.nproc = pacer_default_procs(os_ncpu());
	const char *v = os_getenv("GORTGC");
	if (v && !pacer_parse_gogc(v, &gc.gc_percent))
		report_bad("GORTGC", v, "100");
	v = os_getenv("GORTMAXPROCS");
	if (v) {
		uint64_t n;
		if (parse_uint(v, v + strlen(v), &n) && n > 0)
			gc.nproc = (unsigned)min_uptr(n, GC_MAX_PROCS);
		else
			report_bad("GORTMAXPROCS", v, "the number of CPUs");
	}
	if (gc.nproc > GC_MAX_PROCS)
		gc.nproc = GC_MAX_PROCS;
	pacer_commit();
}

void pacer_commit(void)
{
	uint64_t marked = gc.heap_marked, goal = UINT64_MAX;
	if (gc.gc_percent >= 0) {
		uint64_t pct = (uint64_t)gc.gc_percent;
		goal = marked + marked / 100 * pct + marked % 100 * pct / 100;
		uint64_t min = HEAP_MINIMUM * pct / 100;
		if (goal < min)
			goal = min;
	}
	if (gc.memory_limit != INT64_MAX) {
		/* What the runtime holds besides heap objects counts against
		 * the limit too. */
		uint64_t overhead = pacer_runtime_overhead();
		uint64_t lim = (uint64_t)gc.memory_limit > overhead ? (uint64_t)gc.memory_limit - overhead : 0;
		lim -= lim / 20; /* room for fragmentation: live bytes are not pages */
		/* Below the live heap the limit cannot be met; collect every
		 * MiB or so rather than continuously. */
		if (lim < marked + (1 << 20))
			lim = marked + (1 << 20);
		if (lim < goal)
			goal = lim;
	}
	store_relaxed(&gc.goal, goal);
	store_relaxed(&gc.trigger, goal);
}

int gort_set_gc_percent(int percent)
{
	gc_init();
	pthread_mutex_lock(&gc.lock);
	int old = gc.gc_percent;
	store_relaxed(&gc.gc_percent, percent < 0 ? -1 : percent);
	pacer_commit();
	pthread_mutex_unlock(&gc.lock);
	return old;
}

int64_t gort_set_memory_limit(int64_t limit)
{
	gc_init();
	pthread_mutex_lock(&gc.lock);
	int64_t old = gc.memory_limit;
	if (limit >= 0) {
		store_relaxed(&gc.memory_limit, limit); /* read unlocked by pacer_enforce_limit */
		pacer_commit();
	}
	pthread_mutex_unlock(&gc.lock);
	return old;
}

void pacer_enforce_limit(void)
{
	int64_t limit = load_relaxed(&gc.memory_limit);
	if (limit == INT64_MAX)
		return;
	/* Memory the heap keeps resident: pages in use and free pages not
	 * yet returned (idle counts only those), plus the runtime's own;
	 * release free pages until that fits under the limit (Go's
	 * memory-limit scavenging). */
	uintptr_t inuse, idle, released;
	mheap_page_counts(&inuse, &idle, &released);
	uint64_t resident = (uint64_t)(inuse + idle) * PAGE_BYTES + pacer_runtime_overhead();
	if (resident > (uint64_t)limit)
		scavenge(resident - (uint64_t)limit, true);
}
