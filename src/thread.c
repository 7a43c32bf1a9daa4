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
 * while in the handler) and serves it right after.  A thread whose id was
 * reused by an unregistered thread acknowledges without stopping, so the
 * stopper never waits for a thread that is not there.  Threads unregister
 * themselves at exit (key destructor).  From Go's preemptM/suspendG and
 * bdwgc's pthread_stop_world, in gort's own terms.
 */
#include "thread.h"
#include "atomic.h"
#include "check.h"
#include "fixalloc.h"
#include "mheap.h"
#include "os.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SIG_SUSPEND SIGPWR
#define SIG_RESUME SIGXCPU

static pthread_mutex_t thread_lock = PTHREAD_MUTEX_INITIALIZER;
static gthread *allthreads;
static fixalloc threadalloc; /* thread_lock */
static __thread gthread *self_thread __attribute__((tls_model("initial-exec")));
static pthread_key_t thread_key;
static sem_t ack_sem;
static uint32_t stop_epoch, resume_epoch; /* atomic */

static void suspend_handler(int sig, siginfo_t *info, void *uctx)
{
	int saved_errno = errno;
	gthread *t = self_thread;
	uint32_t epoch = load_acquire(&stop_epoch);
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

static void resume_handler(int sig)
{
	/* Only wakes sigsuspend in suspend_handler. */
}

static void thread_destroy(void *arg)
{
	if (self_thread)
		thread_unregister();
}

static void thread_init_once(void)
{
	mheap_init(); /* the fork handlers, which cover thread_lock */
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
	if (!os_thread_stack(&lo, &hi))
		return false;
	/* The suspend signal must be deliverable to this thread. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIG_SUSPEND);
	sigaddset(&set, SIG_RESUME);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
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

void thread_unregister(void)
{
	gthread *t = self_thread;
	if (!t)
		return;
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

unsigned stw_stop(void)
{
	thread_init();
	pthread_mutex_lock(&thread_lock);
	fetch_add_acqrel(&stop_epoch, 1);
	unsigned sent = 0;
	pid_t pid = getpid();
	for (gthread *t = allthreads; t; t = t->next) {
		if (t == self_thread)
			continue;
		if (syscall(SYS_tgkill, pid, t->tid, SIG_SUSPEND) == 0)
			sent++;
	}
	for (unsigned i = 0; i < sent; i++)
		while (sem_wait(&ack_sem) != 0 && errno == EINTR)
			;
	return sent;
}

void stw_start(void)
{
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
	}
	pthread_mutex_unlock(&thread_lock);
}
