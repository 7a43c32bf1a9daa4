/*
 * scavenge.c: the background scavenger and gort_free_os_memory.
 *
 * Goals (Go's retainExtraPercent and reduceExtraPercent): keep free but
 * resident pages at no more than 10% of the in-use heap, and under a
 * memory limit everything ready (pages in use, free pages not released,
 * metadata) under 95% of it; everything beyond goes back to the kernel
 * with MADV_DONTNEED (MADV_FREE under GORTDEBUG=madvdontneed=0).  An
 * allocation that would take the heap over the limit releases the excess
 * itself (mheap.c).
 * Pacing (Go's scavengePercent): the thread works in bursts of at most
 * 1 ms of its own CPU time, then sleeps long enough that it uses about 1%
 * of the machine's CPU, or 10% while the rest of the process is idle.  It
 * also plays the part of Go's background sweeper for the manual heap:
 * before scavenging it sweeps the central partial lists so that spans
 * emptied by frees return their pages.
 *
 * The thread is started once the heap first has SCAVENGE_START_BYTES of
 * work for it (a smaller program would pay more for the thread than it
 * could get back).  When it has nothing to do it parks: it is woken when
 * a span free leaves the heap above its goal or when SCAVENGE_WAKE_PUSHES
 * spans have been listed centrally since its last pass.  Both events are
 * also recorded (pushes_since_pass, excess_seen), and the thread looks at
 * the record after saying it parks, so work that arrived during a pass is
 * never left to the 10 s backstop.  A pass that released nothing is
 * followed by a rest (SCAVENGE_REST_NS) in which nobody wakes the thread;
 * after it, it passes again only if the record shows work.  A program
 * that keeps listing spans while its free pages stay under the goal would
 * otherwise call it thousands of times a second, each call a futex
 * system call of its own and a pass over the central lists it is using.
 *
 * Releasing takes the heap lock only to pick a run (which the page
 * allocator then holds as "in use") and to give it back; the madvise call
 * itself runs unlocked.  scav_lock guards the wake-up flag only.
 */
#include "crit.h"
#include "gort.h"
#include "scavenge.h"
#include "thread.h"
#include "check.h"
#include "debugvars.h"
#include "mcache.h"
#include "mheap.h"
#include "mgc.h"
#include "os.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define SCAVENGE_CHUNK_BYTES (1 << 20)   /* released per madvise in the background (why: DESIGN §8) */
#define SCAVENGE_WAKE_BYTES (64 << 10)   /* excess that wakes a parked scavenger */
#define SCAVENGE_BURST_NS 1000000        /* CPU time per burst */
#define SCAVENGE_PERCENT 1               /* target share of total CPU */
#define SCAVENGE_IDLE_PERCENT 5          /* below this share of the CPU the program is idle... */
#define SCAVENGE_IDLE_BURST_PERCENT 10   /* ...and the scavenger may take this share */
#define SCAVENGE_RETAIN_PERCENT 10       /* free pages kept resident, % of in use */
#define SCAVENGE_REDUCE_PERCENT 5        /* under a memory limit: keep 5% of it free */
#define SCAVENGE_PERIOD_NS 10000000000LL /* idle backstop re-check interval */
#define SCAVENGE_REST_NS 5000000         /* no wake-ups after a pass that released nothing */
#define SCAVENGE_WAKE_PUSHES 64          /* spans listed before a parked scavenger is woken */
#define SCAVENGE_START_BYTES (1 << 20)   /* work that is worth starting the thread for */

static pthread_mutex_t scav_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t scav_cond;
static bool scav_wake;
static bool scav_parked;
/* atomic: 0 not started (again 0 in a forked child, which has no
 * scavenger), 1 being started, 2 started */
static int scav_state;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reclaim_lock = PTHREAD_MUTEX_INITIALIZER;

uintptr_t scavenge_goal_idle_bytes(uintptr_t inuse_bytes)
{
	uintptr_t keep = inuse_bytes / 100 * SCAVENGE_RETAIN_PERCENT;
	/* A collected heap shrinks after each sweep and grows back to its
	 * goal by the next cycle: keep room for the goal (Go retains 110% of
	 * the heap goal), or the scavenger would release pages only for the
	 * program to fault them in again. */
	uint64_t goal = load_relaxed(&gc.goal);
	if (load_relaxed(&gc.numgc) && goal != UINT64_MAX) {
		uint64_t retain = goal + goal / 100 * SCAVENGE_RETAIN_PERCENT;
		if (retain > inuse_bytes && retain - inuse_bytes > keep)
			keep = (uintptr_t)(retain - inuse_bytes);
	}
	/* Under a memory limit, Go's second goal: everything the heap keeps
	 * ready at most 95% of it. */
	int64_t limit = load_relaxed(&gc.memory_limit);
	if (limit != INT64_MAX) {
		uint64_t room = (uint64_t)limit - (uint64_t)limit / 100 * SCAVENGE_REDUCE_PERCENT;
		uint64_t used = inuse_bytes + pacer_runtime_overhead();
		uint64_t allowed = room > used ? room - used : 0;
		if (allowed < keep)
			keep = (uintptr_t)allowed;
	}
	return align_up(keep, PAGE_BYTES);
}

/* Heap lock held.  Idle bytes above the goal. */
static uintptr_t excess_locked(void)
{
	uintptr_t total = pagealloc_total_pages(&mheap_.pages) * PAGE_BYTES;
	uintptr_t free = pagealloc_free_pages(&mheap_.pages) * PAGE_BYTES;
	uintptr_t scav = pagealloc_scavenged_pages(&mheap_.pages) * PAGE_BYTES;
	uintptr_t idle = free - scav, goal = scavenge_goal_idle_bytes(total - free);
	return idle > goal ? idle - goal : 0;
}

static uint64_t passes;            /* atomic: background passes run */
/* Runs taken for release and not yet given back (heap lock), and their
 * pages (releasing, read atomically).  gort_free_os_memory waits for the
 * runs taken before it looked, so that when it returns every page free
 * then has been released and none is held away from an allocation or an
 * in-place realloc; MemStats counts held pages idle (they are in no span);
 * a fork child, where the releasing threads do not exist, gives them back. */
#define SCAVENGE_MAX_RELEASING 16
static struct {
	uintptr_t base, npages;
	uint64_t ticket; /* when it was taken: a waiter waits for older runs only */
} release_runs[SCAVENGE_MAX_RELEASING];
static uintptr_t releasing;
static uint64_t release_tickets;
/* Tests: how long a release holds its run before the madvise (atomic). */
int64_t scavenge_test_hold_ns;
static uint32_t pushes_since_pass; /* atomic: spans listed centrally since the last pass */
static bool excess_seen;	   /* atomic: a span free left work since the last pass */
/* Set (atomic) when the heap first has SCAVENGE_START_BYTES of work for
 * the scavenger: idle pages above the goal, or spans listed centrally
 * (which may be empty).  The thread costs resident memory itself (its
 * stack, its cache, the libc code it runs: ~60 KiB), more than a small
 * program could ever give back; one that never frees that much never
 * starts it. */
static bool scav_wanted;
/* atomic: pages of the spans on central lists (pushed less taken), kept
 * until the scavenger is wanted; they may be empty. */
static intptr_t listed_pages;

/* Work recorded since the last pass that would have woken a parked
 * scavenger (sequentially consistent with the recording side). */
static bool work_recorded(void)
{
	return load_seqcst(&pushes_since_pass) >= SCAVENGE_WAKE_PUSHES || load_seqcst(&excess_seen);
}

static void wake(void)
{
	mutex_lock(&scav_lock);
	scav_wake = true;
	pthread_cond_signal(&scav_cond);
	mutex_unlock(&scav_lock);
}

void scavenger_note_take(uintptr_t npages)
{
	if (unlikely(!load_relaxed(&scav_wanted)))
		__atomic_sub_fetch(&listed_pages, (intptr_t)npages, __ATOMIC_RELAXED);
}

void scavenger_note_push(uintptr_t npages)
{
	if (unlikely(!load_relaxed(&scav_wanted)) &&
	    __atomic_add_fetch(&listed_pages, (intptr_t)npages, __ATOMIC_RELAXED) >=
		    (intptr_t)(SCAVENGE_START_BYTES / PAGE_BYTES))
		store_relaxed(&scav_wanted, true);
	/* Spans listed by frees may be empty: enough of them is work for the
	 * reclaim pass.  Every push from the threshold on may wake (the one
	 * that reached it may have found the scavenger busy).  Sequentially
	 * consistent with the parking side, which reads the count after it
	 * says it parks, so one of the two always sees the other. */
	if (__atomic_add_fetch(&pushes_since_pass, 1, __ATOMIC_SEQ_CST) >= SCAVENGE_WAKE_PUSHES &&
	    load_seqcst(&scav_parked))
		wake();
}

void scavenger_note_free_locked(void)
{
	uintptr_t excess = excess_locked();
	if (excess >= SCAVENGE_START_BYTES)
		store_relaxed(&scav_wanted, true);
	if (excess < SCAVENGE_WAKE_BYTES)
		return;
	store_seqcst(&excess_seen, true); /* as pushes_since_pass above */
	if (load_seqcst(&scav_parked))
		wake();
}

/* Releases one run of at most max_pages; returns bytes released. */
static uintptr_t scavenge_one(uintptr_t max_pages, bool force)
{
	uintptr_t base, npages;
	int64_t hold = load_relaxed(&scavenge_test_hold_ns); /* read before the run is seen held */
	mutex_lock(&mheap_.lock);
	if (!force && excess_locked() == 0) {
		mutex_unlock(&mheap_.lock);
		return 0;
	}
	unsigned slot = 0;
	while (slot < SCAVENGE_MAX_RELEASING && release_runs[slot].npages)
		slot++;
	bool ok = slot < SCAVENGE_MAX_RELEASING && pagealloc_scavenge_take(&mheap_.pages, max_pages, &base, &npages);
	if (ok) {
		release_runs[slot].base = base;
		release_runs[slot].npages = npages;
		release_runs[slot].ticket = release_tickets++;
		store_relaxed(&releasing, releasing + npages);
	}
	mutex_unlock(&mheap_.lock);
	if (!ok)
		return 0;
	if (hold) {
		struct timespec ts = {(time_t)(hold / 1000000000), (long)(hold % 1000000000)};
		nanosleep(&ts, NULL);
	}
	os_unused((void *)base, npages * PAGE_BYTES, load_relaxed(&debug.madvdontneed));
	mutex_lock(&mheap_.lock);
	pagealloc_scavenge_done(&mheap_.pages, base, npages);
	release_runs[slot].base = 0; /* gort's data is a root: no stale pointers */
	release_runs[slot].npages = 0;
	store_release(&releasing, releasing - npages);
	mutex_unlock(&mheap_.lock);
	return npages * PAGE_BYTES;
}

uintptr_t scavenge(uintptr_t max_bytes, bool force)
{
	uintptr_t done = 0, step = force ? (4 << 20) : SCAVENGE_CHUNK_BYTES;
	while (max_bytes == 0 || done < max_bytes) {
		uintptr_t n = scavenge_one(step / PAGE_BYTES, force);
		if (!n)
			break;
		done += n;
	}
	return done;
}

uintptr_t reclaim_central_spans(bool only_if_new)
{
	/* One pass at a time: a pass holds the spans it sweeps off their
	 * lists, and gort_free_os_memory must not miss them. */
	uintptr_t n = 0;
	mutex_lock(&reclaim_lock);
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++)
		n += mcentral_reclaim(&mheap_.central_manual[c], only_if_new);
	mutex_unlock(&reclaim_lock);
	return n;
}

/* Under reclaim_lock, which fork takes: a fork in the middle would leave
 * the child spans marked busy that nobody clears. */
static uintptr_t release_idle_kept(bool all)
{
	mutex_lock(&reclaim_lock);
	uintptr_t n = mcache_release_idle_kept(all);
	mutex_unlock(&reclaim_lock);
	return n;
}

static void trace(uintptr_t released, int64_t worked_ns, bool forced)
{
	uintptr_t inuse, idle, rel;
	mheap_page_counts(&inuse, &idle, &rel);
	uintptr_t retained = (inuse + idle) * PAGE_BYTES;
	print_str("scav ");
	print_uint(released >> 10);
	print_str(" KiB work, ");
	print_uint((uint64_t)(rel * PAGE_BYTES) >> 10);
	print_str(" KiB total, ");
	print_uint(retained ? (uint64_t)inuse * PAGE_BYTES * 100 / retained : 100);
	print_str("% util, ");
	print_uint((uint64_t)worked_ns / 1000);
	print_str(" us");
	print_str(forced ? " (forced)\n" : "\n");
}

uint64_t scavenger_passes(void)
{
	return load_relaxed(&passes);
}

uintptr_t scavenge_releasing(void)
{
	return load_acquire(&releasing);
}

int64_t scavenge_pause_ns(int64_t worked, int64_t others, int64_t wall, long ncpu)
{
	bool idle = wall > 0 && others * 100 < wall * ncpu * SCAVENGE_IDLE_PERCENT;
	long percent = idle ? SCAVENGE_IDLE_BURST_PERCENT : SCAVENGE_PERCENT;
	int64_t pause = worked * (100 / percent / ncpu - 1);
	return pause < 1000000 ? 1000000 : pause;
}

static void *scavenger_main(void *arg)
{
	long ncpu = (long)os_ncpu();
	int64_t sleep_ns = 0, last_wall = 0, last_cpu = 0, last_mine = 0;
	bool resting = false;
	for (;;) {
		mutex_lock(&scav_lock);
		if (!scav_wake) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			int64_t wait = sleep_ns > 0 ? sleep_ns : SCAVENGE_PERIOD_NS;
			ts.tv_sec += (time_t)(wait / 1000000000);
			ts.tv_nsec += (long)(wait % 1000000000);
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			store_seqcst(&scav_parked, sleep_ns == 0);
			/* Work that arrived while the last pass ran woke nobody. */
			if (sleep_ns != 0 || !work_recorded())
				pthread_cond_timedwait(&scav_cond, &scav_lock, &ts);
			store_seqcst(&scav_parked, false);
		}
		scav_wake = false;
		mutex_unlock(&scav_lock);
		if (resting) {
			/* A pass that found nothing to release is followed by a
			 * rest; after it, pass again only for work that arrived. */
			resting = false;
			if (!work_recorded()) {
				sleep_ns = 0;
				continue;
			}
		}

		int64_t t0 = os_thread_cputime_ns();
		fetch_add_relaxed(&passes, 1);
		store_seqcst(&pushes_since_pass, 0);
		store_seqcst(&excess_seen, false);
		reclaim_central_spans(true);
		uintptr_t released = release_idle_kept(false), n;
		while ((n = scavenge_one(SCAVENGE_CHUNK_BYTES / PAGE_BYTES, false)) != 0) {
			released += n;
			if (os_thread_cputime_ns() - t0 >= SCAVENGE_BURST_NS)
				break;
		}
		int64_t worked = os_thread_cputime_ns() - t0;
		if (released && load_relaxed(&debug.scavtrace))
			trace(released, worked, false);
		/* Work w, sleep s: w / ((w + s) * ncpu) = 1%, or 10% while the
		 * program itself used under 5% of the machine since the last
		 * burst (an idle program gives its memory back in a fraction of
		 * a second; a busy one never sees the scavenger take more). */
		int64_t now = os_nanotime(), cpu = os_process_cputime_ns(), mine = os_thread_cputime_ns();
		int64_t others = (cpu - last_cpu) - (mine - last_mine), wall = last_wall ? now - last_wall : 0;
		last_wall = now;
		last_cpu = cpu;
		last_mine = mine;
		sleep_ns = released ? scavenge_pause_ns(worked, others, wall, ncpu) : SCAVENGE_REST_NS;
		resting = !released;
	}
	return NULL;
}

static void start_thread(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&scav_cond, &ca);
	pthread_condattr_destroy(&ca);
	/* The scavenger must never take a signal meant for the program. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	if (thread_create_internal(&t, scavenger_main, NULL) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void scavenger_kick(void)
{
	if (unlikely(load_relaxed(&scav_wanted)) && load_acquire(&scav_state) != 2)
		scavenger_start();
}

bool scavenger_running(void)
{
	return load_acquire(&scav_state) == 2;
}

void scavenger_start(void)
{
	if (likely(load_acquire(&scav_state) == 2) || !debug.scavenger)
		return;
	/* Not before libc is up, and not again from inside pthread_create,
	 * which allocates (with gort as malloc) while this thread starts it. */
	if (!load_acquire(&gort_started))
		return;
	/* Nor while holding the late cache's lock: pthread_create allocates. */
	if (mcache_in_late_alloc())
		return;
	int expect = 0;
	if (!__atomic_compare_exchange_n(&scav_state, &expect, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	mutex_lock(&start_lock); /* fork waits for a start in progress */
	start_thread();
	store_release(&scav_state, 2);
	mutex_unlock(&start_lock);
}

void scavenge_fork_lock(void)
{
	mutex_lock(&reclaim_lock);
	mutex_lock(&start_lock);
}

void scavenge_fork_lock_leaf(void)
{
	mutex_lock(&scav_lock);
}

void scavenge_fork_unlock(bool child)
{
	mutex_unlock(&scav_lock);
	mutex_unlock(&start_lock);
	mutex_unlock(&reclaim_lock);
	if (child) {
		/* Only the forking thread survives: the child starts its own
		 * scavenger at its next span allocation. */
		scav_wake = false;
		scav_parked = false;
		store_release(&scav_state, 0);
		/* Runs other threads were releasing: free, maybe still resident. */
		mutex_lock(&mheap_.lock);
		for (unsigned i = 0; i < SCAVENGE_MAX_RELEASING; i++) {
			if (release_runs[i].npages)
				pagealloc_free(&mheap_.pages, release_runs[i].base, release_runs[i].npages);
			release_runs[i].base = release_runs[i].npages = 0;
		}
		store_relaxed(&releasing, 0);
		mutex_unlock(&mheap_.lock);
	}
}

void scavenge_wait_releases(void)
{
	/* A release by another thread (the scavenger's, or an allocation's
	 * over the memory limit) may still hold a run: one madvise of at most
	 * a few MiB.  Only runs taken before now are waited for, so releases
	 * that keep starting in other threads cannot hold this call up. */
	mutex_lock(&mheap_.lock);
	uint64_t now = release_tickets;
	for (;;) {
		bool older = false;
		for (unsigned i = 0; i < SCAVENGE_MAX_RELEASING && !older; i++)
			older = release_runs[i].npages && release_runs[i].ticket < now;
		mutex_unlock(&mheap_.lock);
		if (!older)
			break;
		sched_yield();
		mutex_lock(&mheap_.lock);
	}
}

void gort_free_os_memory(void)
{
	mheap_init();
	/* As Go's debug.FreeOSMemory: collect first, when there is a
	 * collected heap, so that its garbage's pages go back too. */
	if (load_relaxed(&gc.heap_live) > 0)
		gort_gc();
	int64_t t0 = os_thread_cputime_ns();
	mcache_release_all(mcache_tls);
	release_idle_kept(true);
	reclaim_central_spans(false);
	uintptr_t released = scavenge(0, true);
	scavenge_wait_releases();
	if (load_relaxed(&debug.scavtrace))
		trace(released, os_thread_cputime_ns() - t0, true);
}
