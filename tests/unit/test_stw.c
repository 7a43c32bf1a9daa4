/*
 * test_stw.c: the thread registry and stop-the-world.
 *
 * Registered threads of three kinds (spinning without calling into gort,
 * blocked in read(2), sleeping) must all be stopped by stw_stop, with a
 * stack pointer inside their stack and saved registers; they must not run
 * while stopped, must resume afterwards with their system calls restarted,
 * and must survive hundreds of back-to-back stops while they allocate.
 * A thread that blocks the stop signal holds a stop up until it unblocks
 * it, and is then stopped once per stop however often it was signalled.
 * Unregistered threads are left alone.  A thread's stack bounds
 * (os_thread_stack, the main thread's read without stdio) are glibc's.
 */
#define _GNU_SOURCE /* pthread_getattr_np */
#include "gort.h"
#include "thread.h"
#include "atomic.h"
#include "os.h"
#include "testing.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t spin_count;
static volatile int quit;
static int pipefd[2];
static char got_byte;
static pthread_barrier_t ready;

static void *spinner(void *arg)
{
	thread_register();
	pthread_barrier_wait(&ready);
	while (!quit)
		spin_count++;
	thread_unregister();
	return arg;
}

static void *reader(void *arg)
{
	thread_register();
	pthread_barrier_wait(&ready);
	ssize_t n = read(pipefd[0], &got_byte, 1); /* blocks until the test writes */
	if (n != 1)
		got_byte = 0;
	thread_unregister();
	return arg;
}

static void *sleeper(void *arg)
{
	thread_register();
	pthread_barrier_wait(&ready);
	struct timespec ts = {0, 200 * 1000 * 1000};
	while (nanosleep(&ts, &ts) != 0)
		;
	return arg; /* exits registered: the key destructor unregisters */
}

static void *unregistered(void *arg)
{
	/* pthread_create registered us (gort interposes it): opt out. */
	thread_unregister();
	pthread_barrier_wait(&ready);
	while (!quit)
		__atomic_fetch_add((uint64_t *)arg, 1, __ATOMIC_RELAXED);
	return NULL;
}

struct seen {
	int n, sp_ok, regs_ok;
};

static void check_thread(gthread *t, void *arg)
{
	struct seen *s = arg;
	if (t == thread_self())
		return;
	s->n++;
	s->sp_ok += t->stopped_sp >= t->stack_lo - 128 && t->stopped_sp < t->stack_hi;
	s->regs_ok += t->nregs > 0;
}

static void test_stop_kinds_of_threads(void)
{
	REQUIRE(thread_register());
	REQUIRE(pipe(pipefd) == 0);
	pthread_barrier_init(&ready, NULL, 5);
	uint64_t other = 0;
	pthread_t th[4];
	pthread_create(&th[0], NULL, spinner, NULL);
	pthread_create(&th[1], NULL, reader, NULL);
	pthread_create(&th[2], NULL, sleeper, NULL);
	pthread_create(&th[3], NULL, unregistered, &other);
	pthread_barrier_wait(&ready);
	usleep(20000);

	unsigned n = stw_stop();
	CHECKF(n == 3, "stopped %u threads, want 3", n);
	struct seen s = {0, 0, 0};
	thread_for_each(check_thread, &s);
	CHECK(s.n == 3 && s.sp_ok == 3 && s.regs_ok == 3);
	uint64_t c0 = spin_count, o0 = __atomic_load_n(&other, __ATOMIC_RELAXED);
	usleep(50000);
	CHECKF(spin_count == c0, "the spinner ran while the world was stopped");
	CHECKF(__atomic_load_n(&other, __ATOMIC_RELAXED) != o0, "an unregistered thread was stopped");
	stw_start();

	usleep(20000);
	CHECKF(spin_count != c0, "the spinner did not resume");
	REQUIRE(write(pipefd[1], "x", 1) == 1);
	pthread_join(th[1], NULL);
	CHECKF(got_byte == 'x', "read(2) was not restarted after the stop");
	pthread_join(th[2], NULL); /* sleeper exits registered */
	n = stw_stop();
	CHECKF(n == 1, "after exits, stopped %u threads, want 1 (the spinner)", n);
	stw_start();
	quit = 1;
	pthread_join(th[0], NULL);
	pthread_join(th[3], NULL);
	close(pipefd[0]);
	close(pipefd[1]);
}

static volatile int churn_quit;

static void *allocator(void *arg)
{
	thread_register();
	void *slot[64] = {0};
	unsigned i = 0;
	while (!churn_quit) {
		gort_free(slot[i & 63]);
		slot[i & 63] = gort_malloc(16 + (i * 37) % 3000);
		i++;
	}
	for (int k = 0; k < 64; k++)
		gort_free(slot[k]);
	thread_unregister();
	return arg;
}

static void test_back_to_back_stops(void)
{
	REQUIRE(thread_register());
	churn_quit = 0;
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, allocator, NULL);
	usleep(10000);
	unsigned total = 0;
	for (int k = 0; k < 300; k++) {
		total += stw_stop();
		stw_start();
	}
	churn_quit = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECKF(total >= 3 * 250, "only %u thread stops in 300 rounds", total);
}

/* A registered thread that blocks the stop signal for 1.1 s: the stopper
 * waits for it (signalling again every 100 ms, and saying after 1 s which
 * thread holds it up and why), and the thread stops once it unblocks.
 * The repeats must not be acknowledged twice: every later stop must find
 * the thread really stopped. */
static gthread *volatile blocker;
static volatile int blocker_quit;

static void *blocking_thread(void *arg)
{
	(void)arg;
	if (!thread_register())
		return NULL;
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGPWR);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	blocker = thread_self();
	pthread_barrier_wait(&ready);
	usleep(1100000);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	while (!blocker_quit)
		usleep(1000);
	thread_unregister();
	return NULL;
}

static void test_thread_blocking_the_signal(void)
{
	REQUIRE(thread_register());
	pthread_barrier_init(&ready, NULL, 2);
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, blocking_thread, NULL) == 0);
	pthread_barrier_wait(&ready);
	gthread *b = blocker;
	uint32_t before = load_acquire(&b->stop_epoch);
	int64_t t0 = os_nanotime();
	unsigned n = stw_stop();
	double waited = (double)(os_nanotime() - t0) / 1e9;
	CHECKF(load_acquire(&b->stop_epoch) != before, "stw_stop returned before the blocking thread stopped");
	stw_start();
	printf("    the stop waited %.2f s for the thread to unblock the signal\n", waited);
	CHECKF(n >= 1 && waited >= 1.0, "stopped %u threads in %.2f s", n, waited);
	for (int k = 0; k < 100; k++) {
		before = load_acquire(&b->stop_epoch);
		stw_stop();
		uint32_t now = load_acquire(&b->stop_epoch);
		stw_start();
		if (now == before) {
			CHECKF(0, "stop %d returned before the thread stopped (a repeat acknowledged twice?)", k);
			break;
		}
	}
	blocker_quit = 1;
	pthread_join(t, NULL);
	pthread_barrier_destroy(&ready);
}

/* os_thread_stack must give what pthread_getattr_np gives (the main
 * thread's is computed by gort itself, under three stack rlimits). */
static void check_stack_bounds(const char *who)
{
	pthread_attr_t a;
	void *addr;
	size_t size;
	REQUIRE(pthread_getattr_np(pthread_self(), &a) == 0);
	REQUIRE(pthread_attr_getstack(&a, &addr, &size) == 0);
	pthread_attr_destroy(&a);
	uintptr_t lo = 0, hi = 0;
	CHECKF(os_thread_stack(&lo, &hi), "%s: os_thread_stack failed", who);
	CHECKF(lo == (uintptr_t)addr && hi == (uintptr_t)addr + size, "%s: %#lx..%#lx, glibc %p..%p", who,
	       (unsigned long)lo, (unsigned long)hi, addr, (void *)((char *)addr + size));
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	CHECKF(here > lo && here < hi, "%s: the frame %#lx is outside the stack", who, (unsigned long)here);
}

static void *stack_bounds_thread(void *arg)
{
	(void)arg;
	check_stack_bounds("a second thread");
	return NULL;
}

/* Forked from a second thread: in the child that thread has the
 * process's id, but not the main thread's stack. */
static void *fork_from_thread(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid == 0) {
		pthread_attr_t a;
		void *addr;
		size_t size;
		uintptr_t lo = 0, hi = 0, here = (uintptr_t)__builtin_frame_address(0);
		bool same = pthread_getattr_np(pthread_self(), &a) == 0 && pthread_attr_getstack(&a, &addr, &size) == 0 &&
			    os_thread_stack(&lo, &hi) && lo == (uintptr_t)addr && hi == (uintptr_t)addr + size;
		_exit(same && here > lo && here < hi ? 0 : 1);
	}
	int status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	return (void *)(intptr_t)(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_stack_bounds(void)
{
	struct rlimit old;
	REQUIRE(getrlimit(RLIMIT_STACK, &old) == 0);
	check_stack_bounds("main thread");
	rlim_t limits[] = {1 << 20, 64 << 20, RLIM_INFINITY};
	for (unsigned i = 0; i < 3; i++) {
		struct rlimit rl = {limits[i], old.rlim_max};
		if (limits[i] > old.rlim_max)
			continue; /* not raisable here */
		REQUIRE(setrlimit(RLIMIT_STACK, &rl) == 0);
		check_stack_bounds(limits[i] == RLIM_INFINITY ? "main thread, no stack limit" : "main thread, a stack limit");
	}
	REQUIRE(setrlimit(RLIMIT_STACK, &old) == 0);
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, stack_bounds_thread, NULL) == 0);
	pthread_join(t, NULL);
	void *ok = NULL;
	REQUIRE(pthread_create(&t, NULL, fork_from_thread, NULL) == 0);
	pthread_join(t, &ok);
	CHECKF(ok != NULL, "a child forked from a second thread: that thread's stack bounds are not glibc's");
}

int main(void)
{
#ifdef UNDER_TSAN
	/* TSan holds asynchronous signals until the thread calls an
	 * intercepted function, so it can never stop a thread spinning in
	 * plain code: the very case stop-the-world exists for. */
	printf("--- SKIP: test_stw (ThreadSanitizer defers signals to intercepted calls)\n");
	return 0;
#endif
	RUN(test_stop_kinds_of_threads);
	RUN(test_back_to_back_stops);
	RUN(test_thread_blocking_the_signal);
	RUN(test_stack_bounds);
	TEST_EXIT();
}
