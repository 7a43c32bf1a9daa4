/*
 * mgc.c: the collection cycle (Go's gcStart, gcMarkDone, gcMarkTermination)
 * and its statistics and trace.  mgc.h describes the cycle and the state;
 * this file orders it.
 *
 * Today the whole mark runs with the world stopped, on up to GORTMAXPROCS
 * threads; sweeping runs afterwards, concurrently.  The pieces a concurrent
 * mark needs are already in place and exercised: the write barrier flag is
 * raised for the mark phase (mbarrier.c), mark bits are set atomically,
 * work buffers are shared, and allocation can tell a cycle's spans from
 * the last one's (sweepgen).
 */
#include "mgc.h"
#include "mprof.h"
#include "arena.h"
#include "atomic.h"
#include "check.h"
#include "crit.h"
#include "debugvars.h"
#include "fixalloc.h"
#include "gcwork.h"
#include "mcache.h"
#include "mheap.h"
#include "os.h"
#include "thread.h"

#include <time.h>

struct gcstate gc = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.sweepgen = 4,
	.trigger = (uint64_t)4 << 20, /* until pacer_init has run */
	.gc_percent = 100,
	.memory_limit = INT64_MAX,
	.nproc = 1,
	.largelock = SPINLOCK_INIT,
};

int gort_write_barrier_enabled;
uintptr_t gc_self_sp; /* gc.lock: where the collecting thread's stack scan starts */

static void gc_init_once(void)
{
	mheap_init();
	debugvars_init();
	gc.init_time = os_nanotime();
	pthread_mutex_lock(&gc.lock);
	pacer_init();
	pthread_mutex_unlock(&gc.lock);
}

void gc_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, gc_init_once);
}

static uint64_t unix_nanos(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Go's fmtNSAsMS: whole milliseconds from 10 ms up, else two significant
 * digits with at most three decimals. */
static void print_ms(uint64_t ns)
{
	if (ns >= 10000000) {
		print_uint(ns / 1000000);
		return;
	}
	uint64_t x = ns / 1000; /* microseconds */
	if (x == 0) {
		print_str("0");
		return;
	}
	unsigned dec = 3;
	while (x >= 100) {
		x /= 10;
		dec--;
	}
	char buf[8];
	unsigned n = 0;
	char digits[4];
	unsigned nd = 0;
	do {
		digits[nd++] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	while (nd <= dec)
		digits[nd++] = '0';
	while (nd) {
		if (nd == dec)
			buf[n++] = '.';
		buf[n++] = digits[--nd];
	}
	buf[n] = 0;
	print_str(buf);
}

struct cycle {
	bool forced;
	int64_t t_start, t_mark, t_term, t_end; /* monotonic ns */
	uint64_t heap0, heap1, marked, goal;
	int64_t mark_cpu;
};

static void gctrace(const struct cycle *c)
{
	uint64_t n = gc.nproc;
	uint64_t a = (uint64_t)(c->t_mark - c->t_start), b = (uint64_t)(c->t_term - c->t_mark);
	uint64_t d = (uint64_t)(c->t_end - c->t_term);
	uint64_t since = (uint64_t)(c->t_start - gc.init_time);
	print_str("gc ");
	print_uint(gc.numgc);
	print_str(" @");
	print_uint(since / 1000000000);
	print_str(".");
	uint64_t ms = since / 1000000 % 1000;
	print_str(ms < 100 ? (ms < 10 ? "00" : "0") : "");
	print_uint(ms);
	print_str("s ");
	uint64_t elapsed = (uint64_t)(c->t_end - gc.init_time) * n;
	print_uint(elapsed ? gc.gc_cpu_ns * 100 / elapsed : 0);
	print_str("%: ");
	print_ms(a);
	print_str("+");
	print_ms(b);
	print_str("+");
	print_ms(d);
	print_str(" ms clock, ");
	print_ms(a * n);
	print_str("+0/");
	print_ms((uint64_t)c->mark_cpu);
	print_str("/0+");
	print_ms(d * n);
	print_str(" ms cpu, ");
	print_uint(c->heap0 >> 20);
	print_str("->");
	print_uint(c->heap1 >> 20);
	print_str("->");
	print_uint(c->marked >> 20);
	print_str(" MB, ");
	print_uint(c->goal >> 20);
	print_str(" MB goal, ");
	print_uint(mark_stack_bytes() >> 20);
	print_str(" MB stacks, ");
	print_uint(mark_global_bytes() >> 20);
	print_str(" MB globals, ");
	print_uint(n);
	print_str(" P");
	if (c->forced)
		print_str(" (forced)");
	print_str("\n");
	print_flush();
}

static void clear_checkmark(mspan *s, void *arg)
{
	(void)arg;
	for (unsigned w = 0; w < s->nwords; w++)
		store_relaxed(&span_checkmark_word(s, w), 0);
}

/* One cycle; gc.lock and the dlopen lock held, caller registered and in
 * no critical section.  False, having done nothing, when the world
 * stopped with a library being loaded or unloaded (roots.c). */
static bool gc_cycle(bool forced)
{
	struct cycle c = {.forced = forced};
	/* Most of the last cycle's sweeping is done by now; finish it while
	 * the world still runs. */
	sweep_finish();
	roots_snapshot();
	c.heap0 = (uint64_t)load_relaxed(&gc.heap_live);
	c.goal = gc.goal;

	mark_start_helpers();
	c.t_start = os_nanotime();
	stw_stop();
	if (!roots_snapshot_current()) {
		stw_start();
		return false;
	}
	sweep_finish(); /* nothing left but what raced with the stop */
	mcache_flush_gc_all();
	c.heap1 = (uint64_t)load_relaxed(&gc.heap_live);
	store_relaxed(&gc.phase, GC_MARK);
	store_relaxed(&gort_write_barrier_enabled, 1);

	c.t_mark = os_nanotime();
	c.marked = mark_run(false);
	c.mark_cpu = mark_cpu_ns();

	c.t_term = os_nanotime();
	store_relaxed(&gc.phase, GC_MARKTERM);
	c.marked += final_collect();
	if (debug.gccheckmark) {
		sweep_for_each_span(clear_checkmark, NULL);
		mark_run(true);
	}
	store_relaxed(&gort_write_barrier_enabled, 0);
	gc.heap_marked = c.marked;
	store_relaxed(&gc.heap_live, (int64_t)c.marked);
	sweep_start_cycle();
	mprof_next_cycle();
	gc.last_goal = c.goal;
	pacer_commit();
	store_relaxed(&gc.phase, GC_OFF);
	c.t_end = os_nanotime();

	uint64_t pause = (uint64_t)(c.t_end - c.t_start);
	uint64_t now = unix_nanos();
	gc.pause_ns[gc.numgc % 256] = pause;
	gc.pause_end[gc.numgc % 256] = now;
	gc.pause_total_ns += pause;
	gc.last_gc_unix = now;
	gc.gc_cpu_ns += (uint64_t)(c.t_mark - c.t_start + c.t_end - c.t_term) * gc.nproc + (uint64_t)c.mark_cpu;
	if (forced)
		gc.numforced++;
	store_relaxed(&gc.numgc, gc.numgc + 1);
	stw_start();
	mprof_flush();
	if (debug.gctrace)
		gctrace(&c);
	return true;
}

/* Waits for the thread loading or unloading a library to finish (a few
 * milliseconds at most, unless it is stuck). */
static void loader_wait(unsigned tries)
{
	if (tries == 2000)
		gort_throw("runtime: the dynamic loader has been loading or unloading a library for 10 s; "
			   "cannot collect");
	long ns = tries < 8 ? 50000L << tries : 5000000L;
	struct timespec ts = {0, ns};
	nanosleep(&ts, NULL);
}

static GORT_NOINLINE void gc_run_inner(bool forced, uintptr_t self_sp)
{
	gc_init();
	if (!thread_self() && !thread_register())
		gort_throw("runtime: cannot register the collecting thread");
	if (crit_depth != 0)
		gort_throw("runtime: collection started inside a critical section");
	uint32_t n0 = load_relaxed(&gc.numgc);
	bool run;
	for (unsigned tries = 0;; tries++) {
		roots_begin();
		pthread_mutex_lock(&gc.lock);
		/* Another thread may have collected while we waited. */
		run = forced || (load_relaxed(&gc.numgc) == n0 &&
				 (uint64_t)load_relaxed(&gc.heap_live) >= load_relaxed(&gc.trigger));
		bool done = true;
		if (run) {
			gc_self_sp = self_sp;
			done = gc_cycle(forced);
		}
		pthread_mutex_unlock(&gc.lock);
		roots_end();
		if (done)
			break;
		loader_wait(tries);
	}
	if (!run)
		return;
	final_wake();
	if (forced) {
		sweep_finish(); /* runtime.GC returns with the heap swept */
		mprof_post_sweep(); /* and the heap profile up to date */
		pacer_enforce_limit();
	} else {
		sweeper_wake();
	}
}

/* The collector's entry.  The calling thread's stack is scanned from this
 * frame up: the collector's own frames below hold nothing of the
 * program's, but their slots hold stale words from the program's earlier,
 * deeper calls (a dead tree's nodes, say) and the collector's own
 * temporaries, which would keep garbage alive and differ between the mark
 * and the checkmark.  This frame holds only the callee-saved registers
 * spilled here (the program's) and is not written during the cycle. */
static GORT_NOINLINE void gc_run(bool forced)
{
	__builtin_unwind_init();
	gc_run_inner(forced, thread_current_sp());
	__asm__ volatile("" : : : "memory"); /* not a tail call: keep this frame */
}

void gc_maybe_trigger(void)
{
	if (likely((uint64_t)load_relaxed(&gc.heap_live) < load_relaxed(&gc.trigger)))
		return;
	gc_run(false);
}

void gort_gc(void)
{
	gc_run(true);
}

void gc_fork_child(void)
{
	sweep_fork_child();
	mark_fork_child();
	final_fork_child();
}

void gc_throw_oom(const char *what, uintptr_t size)
{
	uintptr_t inuse, idle, released;
	mheap_page_counts(&inuse, &idle, &released);
	print_str("runtime: out of memory: cannot allocate ");
	print_uint(size);
	print_str("-byte block for ");
	print_str(what);
	print_str("\nruntime: heap in use ");
	print_uint((uint64_t)inuse * PAGE_BYTES);
	print_str(", idle ");
	print_uint((uint64_t)idle * PAGE_BYTES);
	print_str(", released ");
	print_uint((uint64_t)released * PAGE_BYTES);
	print_str(", mapped ");
	print_uint(arena_heap_bytes());
	print_str(", GC live ");
	print_uint((uint64_t)load_relaxed(&gc.heap_live));
	print_str(", goal ");
	print_uint(gc.goal);
	print_str("\n");
	gort_throw("runtime: out of memory");
}
