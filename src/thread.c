/*
 * thread.c: the thread registry and stop-the-world (see thread.h).
 *
 * Protocol, with two signals (SIG_SUSPEND, SIG_RESUME) and two counters:
 *   stopper: lock thread_lock; stop_epoch++; signal every other registered
 *            thread; wait for one acknowledgement (semaphore) from each.
 *   handler: save registers and stack pointer into the thread's record,
 *            note the stop_epoch it serves, post the semaphore, then
 *            sigsuspend (only SIG_RESUME let through) until resume_epoch
 *            reaches the epoch it served.
 *   starter: resume_epoch = stop_epoch; signal SIG_RESUME to each; unlock.
 * The epochs make back-to-back stops safe: a thread still leaving the
 * previous suspension sees the new stop as a pending SIG_SUSPEND (blocked
 * while in the handler) and serves it right after.  They also let the
 * stopper signal again a thread that has not acknowledged in 100 ms (a
 * sanitizer may hold a signal back; the thread may have it blocked): a
 * repeat of a stop already served is ignored, never acknowledged twice.
 * A thread whose id was reused by an unregistered thread acknowledges
 * without stopping, so the stopper never waits for a thread that is not
 * there.  Threads unregister
 * themselves at exit (key destructor).  From Go's preemptM/suspendG and
 * bdwgc's pthread_stop_world, in gort's own terms.
 *
 * Also here: runtime threads (thread_create_internal) and the program's
 * pthread_create, and the watcher that ends the process when the
 * program's last thread has ended but runtime threads live on (below).
 */
#include "thread.h"
#include "gort.h"
#include "atomic.h"
#include "crit.h"
#include "check.h"
#include "fixalloc.h"
#include "mcache.h"
#include "mheap.h"
#include "os.h"

#include <dlfcn.h>
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SIG_SUSPEND SIGPWR
#define SIG_RESUME SIGXCPU
#define STW_RESEND_NS 100000000 /* a stop not acknowledged by then is signalled again */
#define STW_WARN_WAITS 10        /* resends before the stopper says who holds it up */

static pthread_mutex_t thread_lock = PTHREAD_MUTEX_INITIALIZER;
static gthread *allthreads;
static fixalloc threadalloc; /* thread_lock */
static __thread gthread *self_thread __attribute__((tls_model("initial-exec")));
static pthread_key_t thread_key;
static sem_t ack_sem;
static uint32_t stop_epoch, resume_epoch; /* atomic */

__thread uint32_t crit_depth __attribute__((tls_model("initial-exec")));
__thread uint32_t crit_stop_deferred __attribute__((tls_model("initial-exec")));
static __thread uint32_t deferred_epoch __attribute__((tls_model("initial-exec")));

static void suspend_handler(int sig, siginfo_t *info, void *uctx)
{
	int saved_errno = errno;
	gthread *t = self_thread;
	uint32_t epoch = load_acquire(&stop_epoch);
	if (t && load_relaxed(&t->stop_epoch) == epoch) {
		errno = saved_errno; /* a repeat of a stop already served */
		return;
	}
	if (t && crit_depth > 0) {
		/* Inside a critical section: stop at its end (crit.h). */
		deferred_epoch = epoch;
		crit_stop_deferred = 1;
		errno = saved_errno;
		return;
	}
	if (t) {
		t->nregs = os_context_regs(uctx, t->regs, THREAD_SAVED_REGS, &t->stopped_sp);
		store_release(&t->stop_epoch, epoch);
	}
	sem_post(&ack_sem); /* async-signal-safe; also for a stranger, see above */
	if (t) {
		sigset_t wait;
		sigfillset(&wait);
		sigdelset(&wait, SIG_RESUME);
		while ((int32_t)(load_acquire(&resume_epoch) - epoch) < 0)
			sigsuspend(&wait);
	}
	errno = saved_errno;
}

/* The address of this function's own frame, below every frame of its
 * caller (including the registers the caller spilled). */
GORT_NOINLINE uintptr_t thread_current_sp(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	__asm__ volatile("" : "+r"(sp)); /* keep the call */
	return sp;
}

void thread_deferred_stop(void)
{
	gthread *t = self_thread;
	crit_stop_deferred = 0;
	signal_fence();
	if (!t)
		return;
	uint32_t epoch = deferred_epoch;
	/* Block SIG_RESUME before acknowledging so that the resume cannot be
	 * consumed before sigsuspend below waits for it. */
	sigset_t block, old, wait;
	sigemptyset(&block);
	sigaddset(&block, SIG_RESUME);
	sigaddset(&block, SIG_SUSPEND);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	/* Callee-saved registers go to this frame; caller-saved ones are dead
	 * across the call that brought us here.  The collector scans from
	 * below this frame. */
	__builtin_unwind_init();
	t->nregs = 0;
	t->stopped_sp = thread_current_sp();
	store_release(&t->stop_epoch, epoch);
	sem_post(&ack_sem);
	sigfillset(&wait);
	sigdelset(&wait, SIG_RESUME);
	while ((int32_t)(load_acquire(&resume_epoch) - epoch) < 0)
		sigsuspend(&wait);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* sem_timedwait for at most STW_RESEND_NS: 0, or -1 with errno. */
static int sem_wait_resend(sem_t *sem)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += STW_RESEND_NS;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return sem_timedwait(sem, &ts);
}

static void unblock_stop_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIG_SUSPEND);
	sigaddset(&set, SIG_RESUME);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

void thread_idle_wait(sem_t *sem)
{
#ifdef GORT_TSAN
	while (sem_wait_resend(sem) != 0)
		if (errno == ETIMEDOUT && self_thread)
			unblock_stop_signals();
#else
	while (sem_wait(sem) != 0 && errno == EINTR)
		;
#endif
}

static void resume_handler(int sig)
{
	/* Only wakes sigsuspend in suspend_handler. */
}

static void runtime_threads_fork_child(void);
static void watch_thread_ends(void);

static void thread_destroy(void *arg)
{
	if (self_thread)
		thread_unregister();
	watch_thread_ends();
}

static void thread_init_once(void)
{
	mheap_init();
	fixalloc_init(&threadalloc, sizeof(gthread));
	if (sem_init(&ack_sem, 0, 0) != 0 || pthread_key_create(&thread_key, thread_destroy) != 0)
		gort_throw("runtime: cannot set up the thread registry");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = suspend_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask); /* SIG_RESUME stays pending until sigsuspend */
	if (sigaction(SIG_SUSPEND, &sa, NULL) != 0)
		gort_throw("runtime: cannot install the suspend signal handler");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = resume_handler;
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIG_RESUME, &sa, NULL) != 0)
		gort_throw("runtime: cannot install the resume signal handler");
}

static void thread_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, thread_init_once);
}

bool thread_register(void)
{
	if (self_thread)
		return true;
	thread_init();
	uintptr_t lo, hi;
	mcache_borrow_late(true);
	bool stack_known = os_thread_stack(&lo, &hi);
	mcache_borrow_late(false);
	if (!stack_known)
		return false;
	unblock_stop_signals(); /* the stop signals must reach this thread */
	pthread_mutex_lock(&thread_lock);
	gthread *t = fixalloc_alloc(&threadalloc, true);
	t->pthread = pthread_self();
	t->tid = os_gettid();
	t->stack_lo = lo;
	t->stack_hi = hi;
	t->next = allthreads;
	if (allthreads)
		allthreads->prev = t;
	allthreads = t;
	self_thread = t;
	pthread_mutex_unlock(&thread_lock);
	pthread_setspecific(thread_key, t);
	return true;
}

bool thread_register_runtime(void)
{
	if (!thread_register())
		return false;
	self_thread->runtime = true;
	return true;
}

void thread_unregister(void)
{
	gthread *t = self_thread;
	if (!t)
		return;
	mcache_release_gc_self(); /* no GC spans cached by a thread the collector cannot stop */
	pthread_mutex_lock(&thread_lock);
	if (t->prev)
		t->prev->next = t->next;
	else
		allthreads = t->next;
	if (t->next)
		t->next->prev = t->prev;
	self_thread = NULL;
	fixalloc_free(&threadalloc, t);
	pthread_mutex_unlock(&thread_lock);
	pthread_setspecific(thread_key, NULL);
}

gthread *thread_self(void)
{
	return self_thread;
}

/* Once per stop that is slow to be acknowledged: which threads hold it up,
 * and whether they block the stop signal (the program's doing: a GC
 * cannot stop such a thread until it unblocks it). */
static void warn_unacknowledged(uint32_t epoch)
{
	for (gthread *t = allthreads; t; t = t->next) {
		if (t == self_thread || load_acquire(&t->stop_epoch) == epoch)
			continue;
		print_str("runtime: stop-the-world: thread ");
		print_uint((uint64_t)t->tid);
		print_str(os_thread_blocks_signal(t->tid, SIG_SUSPEND) ? " blocks SIGPWR; waiting for it to unblock it\n"
								       : " has not stopped after 1 s; still waiting\n");
	}
}

unsigned stw_stop(void)
{
	thread_init();
	pthread_mutex_lock(&thread_lock);
	uint32_t epoch = fetch_add_acqrel(&stop_epoch, 1) + 1;
	unsigned sent = 0;
	pid_t pid = getpid();
	for (gthread *t = allthreads; t; t = t->next) {
		if (t == self_thread)
			continue;
		if (syscall(SYS_tgkill, pid, t->tid, SIG_SUSPEND) == 0)
			sent++;
	}
	unsigned waits = 0;
	for (unsigned got = 0; got < sent;) {
		if (sem_wait_resend(&ack_sem) == 0) {
			got++;
			continue;
		}
		if (errno != ETIMEDOUT)
			continue;
		if (++waits == STW_WARN_WAITS)
			warn_unacknowledged(epoch);
		/* The kernel delivers every signal, but a sanitizer's runtime
		 * may hold one back for good (ThreadSanitizer queues a signal
		 * that lands just as a thread enters a blocking call): send it
		 * again to whoever has not served this stop.  The handler
		 * ignores a repeat of a stop it has served. */
		for (gthread *t = allthreads; t; t = t->next)
			if (t != self_thread && load_acquire(&t->stop_epoch) != epoch)
				syscall(SYS_tgkill, pid, t->tid, SIG_SUSPEND);
	}
	return sent;
}

void stw_start(void)
{
	int extra = 0;
	GORT_ASSERT(1, sem_getvalue(&ack_sem, &extra) == 0 && extra == 0);
	store_release(&resume_epoch, load_relaxed(&stop_epoch));
	pid_t pid = getpid();
	for (gthread *t = allthreads; t; t = t->next)
		if (t != self_thread)
			syscall(SYS_tgkill, pid, t->tid, SIG_RESUME);
	pthread_mutex_unlock(&thread_lock);
}

void thread_for_each(void (*fn)(gthread *t, void *arg), void *arg)
{
	for (gthread *t = allthreads; t; t = t->next)
		fn(t, arg);
}

void thread_fork_lock(void)
{
	pthread_mutex_lock(&thread_lock);
}

void thread_fork_unlock(bool child)
{
	if (child) {
		gthread *t = allthreads;
		while (t) {
			gthread *next = t->next;
			if (t != self_thread)
				fixalloc_free(&threadalloc, t);
			t = next;
		}
		allthreads = self_thread;
		if (self_thread) {
			self_thread->next = self_thread->prev = NULL;
			self_thread->tid = os_gettid();
		}
		runtime_threads_fork_child();
	}
	pthread_mutex_unlock(&thread_lock);
}

/* --- Threads created by the program register themselves ----------------
 *
 * gort defines pthread_create, so that a program linked with it (or running
 * with it preloaded) has every new thread registered before its start
 * routine runs; the real function is the next definition (libc's, or a
 * sanitizer's interceptor).  Until the child has registered, the argument
 * it was given may be the only reference to a GC object: it is kept on the
 * pending list, which the collector scans. */

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

struct start_args {
	void *(*fn)(void *);
	void *arg;
	struct start_args *next, *prev; /* pending list; start_lock */
};

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static struct start_args *pending_starts;
static fixalloc startalloc; /* start_lock */
static pthread_create_fn real_create;

/* In a static program dlsym finds nothing: there pthread_create is a weak
 * alias of glibc's __pthread_create_2_1, which the link pulls in only if
 * something asks for it (gort.pc's Libs.private does, with -u). */
extern int __pthread_create_2_1(pthread_t *, const pthread_attr_t *,
				void *(*)(void *), void *) __attribute__((weak));

static pthread_create_fn real_pthread_create(void)
{
	pthread_create_fn f = load_acquire(&real_create);
	if (!f) {
		f = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
		if (!f)
			f = __pthread_create_2_1;
		if (!f)
			gort_throw("runtime: cannot find the real pthread_create "
				   "(static link: add -Wl,-u,__pthread_create_2_1, "
				   "as pkg-config --static --libs gort does)");
		store_release(&real_create, f);
	}
	return f;
}

/* --- The program's last thread ----------------------------------------
 *
 * A process ends when its last thread does (as if that thread called
 * exit(0)), but the runtime's threads (scavenger, sweeper, markers,
 * finalizer, profile writer) never end, so a program whose main thread
 * leaves by pthread_exit would live on after its last thread, forever.
 * So runtime threads record their ids, and once the main thread has left
 * that way (a key destructor tells) and a runtime thread exists, a watcher
 * (itself a runtime thread) looks at the process's threads and calls
 * exit(0) when only runtime threads and zombies are left.  It looks again
 * soon after any registered thread ends (every thread the program starts
 * with pthread_create is registered), and otherwise at intervals that
 * double up to a second, for threads started some other way.  A slot is
 * cleared before its thread ends, so an id the kernel gives to a new
 * thread of the program is never taken for ours; a thread the watcher
 * cannot place counts as the program's (the safe side: at worst the old
 * behaviour). */

#define RUNTIME_THREADS_MAX 128
#define RUNTIME_LIMITED_STACK_BYTES ((size_t)1 << 20) /* runtime threads' stacks under RLIMIT_AS/DATA */
#define WATCH_MAX_MS 1000

static struct {
	void *(*fn)(void *);
	void *arg;
} rt_start[RUNTIME_THREADS_MAX];
static uint8_t rt_used[RUNTIME_THREADS_MAX]; /* atomic: slot claimed */
static pid_t rt_tid[RUNTIME_THREADS_MAX];    /* atomic: 0 until the thread runs */
static bool main_gone;                        /* atomic */
static int watcher_started;                   /* atomic */
static pthread_key_t main_key;
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond;             /* CLOCK_MONOTONIC; set up by the watcher's starter */
static bool watch_kicked;                     /* watch_lock */

static int create_runtime(pthread_t *t, void *(*fn)(void *), void *arg);

static void *runtime_thread(void *p)
{
	unsigned i = (unsigned)(uintptr_t)p;
	void *(*fn)(void *) = rt_start[i].fn;
	void *arg = rt_start[i].arg;
	store_release(&rt_tid[i], os_gettid());
	void *r = fn(arg);
	store_release(&rt_tid[i], 0);
	store_release(&rt_used[i], 0);
	return r;
}

static void *exit_watcher(void *arg)
{
	(void)arg;
	pid_t ours[RUNTIME_THREADS_MAX];
	unsigned ms = 1, quiet = 0;
	for (;;) {
		unsigned n = 0;
		for (unsigned i = 0; i < RUNTIME_THREADS_MAX; i++) {
			pid_t tid = load_acquire(&rt_tid[i]);
			if (tid)
				ours[n++] = tid;
		}
		/* A listing of /proc/self/task taken while a thread exits can
		 * miss another, live one (the kernel resumes the walk by
		 * position; about 1 run in 200 of test_main_exit once ended
		 * with a worker still running): the listing must agree with
		 * the kernel's thread count (os_other_threads_live), twice in
		 * a row, a millisecond apart. */
		if (os_other_threads_live(ours, n))
			quiet = 0;
		else if (++quiet == 2)
			exit(0); /* what the last thread's exit would have done */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (long)(ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		mutex_lock(&watch_lock);
		if (!watch_kicked)
			pthread_cond_timedwait(&watch_cond, &watch_lock, &ts);
		bool kicked = watch_kicked;
		watch_kicked = false;
		mutex_unlock(&watch_lock);
		/* A thread that has just told us it ends is still running its
		 * destructors: look again in a millisecond, then less often. */
		ms = kicked || quiet ? 1 : ms < WATCH_MAX_MS ? ms * 2 : WATCH_MAX_MS;
	}
	return NULL;
}

/* A registered thread is ending (its key destructor): after the main
 * thread has left, the watcher looks again. */
static void watch_thread_ends(void)
{
	if (!load_acquire(&main_gone) || !load_acquire(&watcher_started))
		return;
	mutex_lock(&watch_lock);
	watch_kicked = true;
	pthread_cond_signal(&watch_cond);
	mutex_unlock(&watch_lock);
}

static void start_watcher(void)
{
	int expect = 0;
	if (!__atomic_compare_exchange_n(&watcher_started, &expect, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&watch_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_t t;
	if (create_runtime(&t, exit_watcher, NULL) == 0)
		pthread_detach(t);
	else
		store_release(&watcher_started, 0);
}

static bool runtime_threads_exist(void)
{
	for (unsigned i = 0; i < RUNTIME_THREADS_MAX; i++)
		if (load_acquire(&rt_used[i]))
			return true;
	return false;
}

/* The main thread is leaving by pthread_exit (exit() runs no key
 * destructors).  Told by id, which also holds in a child forked from
 * another thread. */
static void main_left(void *arg)
{
	(void)arg;
	if (os_gettid() != getpid())
		return;
	store_release(&main_gone, true);
	if (runtime_threads_exist())
		start_watcher();
}

/* The child has no runtime thread, and its one thread is its main
 * thread. */
static void runtime_threads_fork_child(void)
{
	for (unsigned i = 0; i < RUNTIME_THREADS_MAX; i++) {
		store_relaxed(&rt_tid[i], 0);
		store_relaxed(&rt_used[i], 0);
	}
	store_relaxed(&main_gone, false);
	store_relaxed(&watcher_started, 0);
	pthread_mutex_init(&watch_lock, NULL); /* the watcher, if any, is not here */
	watch_kicked = false;
	pthread_setspecific(main_key, (void *)1);
}

void thread_watch_main(void)
{
	if (pthread_key_create(&main_key, main_left) == 0)
		pthread_setspecific(main_key, (void *)1);
}

static int create_runtime(pthread_t *t, void *(*fn)(void *), void *arg)
{
	/* Runtime threads start with the stop signals blocked: they are never
	 * registered and never stopped. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIG_SUSPEND);
	sigaddset(&block, SIG_RESUME);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	/* Under a limit on what the process may map (os_address_space_limit),
	 * the default stack (RLIMIT_STACK, often 8 MiB) would take a share of
	 * it per thread; none of the runtime's threads needs that much. */
	pthread_attr_t small, *attr = NULL;
	if (os_address_space_limit() && pthread_attr_init(&small) == 0) {
		if (pthread_attr_setstacksize(&small, RUNTIME_LIMITED_STACK_BYTES) == 0)
			attr = &small;
		else
			pthread_attr_destroy(&small);
	}
	int r = -1;
	for (unsigned i = 0; i < RUNTIME_THREADS_MAX && r < 0; i++) {
		uint8_t expect = 0;
		if (!__atomic_compare_exchange_n(&rt_used[i], &expect, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		rt_start[i].fn = fn;
		rt_start[i].arg = arg;
		r = real_pthread_create()(t, attr, runtime_thread, (void *)(uintptr_t)i);
		if (r != 0)
			store_release(&rt_used[i], 0);
	}
	if (r < 0) /* every slot taken: an unrecorded thread (see above) */
		r = real_pthread_create()(t, attr, fn, arg);
	if (attr)
		pthread_attr_destroy(attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

int thread_create_internal(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int r = create_runtime(t, fn, arg);
	if (r == 0 && load_acquire(&main_gone))
		start_watcher(); /* the program's main thread has already left */
	return r;
}

static void pending_remove_locked(struct start_args *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		pending_starts = a->next;
	if (a->next)
		a->next->prev = a->prev;
}

static void *thread_start(void *p)
{
	struct start_args *a = p;
	thread_register();
	void *(*fn)(void *) = a->fn;
	void *arg = a->arg;
	mutex_lock(&start_lock);
	pending_remove_locked(a);
	fixalloc_free(&startalloc, a);
	mutex_unlock(&start_lock);
	return fn(arg);
}

GORT_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	pthread_create_fn create = real_pthread_create();
	thread_init();
	mutex_lock(&start_lock);
	if (startalloc.size == 0)
		fixalloc_init(&startalloc, sizeof(struct start_args));
	struct start_args *a = fixalloc_alloc(&startalloc, true);
	a->fn = fn;
	a->arg = arg;
	a->next = pending_starts;
	if (pending_starts)
		pending_starts->prev = a;
	pending_starts = a;
	mutex_unlock(&start_lock);
	int r = create(t, attr, thread_start, a);
	if (r != 0) {
		mutex_lock(&start_lock);
		pending_remove_locked(a);
		fixalloc_free(&startalloc, a);
		mutex_unlock(&start_lock);
	}
	return r;
}

void thread_scan_pending(void (*fn)(uintptr_t word, void *arg), void *arg)
{
	mutex_lock(&start_lock);
	for (struct start_args *a = pending_starts; a; a = a->next)
		fn((uintptr_t)a->arg, arg);
	mutex_unlock(&start_lock);
}

void thread_start_fork_lock(void)
{
	mutex_lock(&start_lock);
}

void thread_start_fork_unlock(void)
{
	mutex_unlock(&start_lock);
}

void gort_thread_unregister(void)
{
	thread_unregister();
}

void gort_thread_register(void)
{
	if (!thread_register())
		gort_throw("gort_thread_register: cannot find the thread's stack");
}

/* The thread that loads gort (the main thread, for a program linked with
 * it) is registered at once: it may come to hold GC pointers it did not
 * allocate itself (read from a global another thread then clears). */
__attribute__((constructor)) static void thread_register_loader(void)
{
	thread_register();
}
