/*
 * stress_fork.c: fork() while other threads allocate and free.
 *
 * Two threads churn the heap (including cross-thread frees and large
 * objects) while the main thread forks repeatedly; each child must be able
 * to allocate, free and release memory (which would deadlock if a gort lock
 * had been copied held) and exits with a status the parent checks.  A child
 * that hangs is killed by an alarm and counted as a failure.
 */
#include "gort.h"
#include "thread.h"
#include "testing.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 40

static volatile int stop;
static void *shared[1024];
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

static void *churn(void *arg)
{
	uint64_t s = (uintptr_t)arg * 7919 + 1;
	void *mine[256] = {0};
	thread_register(); /* so the child's registry must drop it */
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		unsigned i = (unsigned)(s % 256);
		gort_free(mine[i]);
		size_t sz = (s >> 20) % 100 == 0 ? (size_t)(s >> 8) % (1 << 20) + 40000 : (size_t)(s >> 8) % 2000 + 1;
		mine[i] = gort_malloc(sz);
		if ((s & 15) == 0) { /* swap one through the shared table: remote frees */
			pthread_mutex_lock(&shared_lock);
			unsigned j = (unsigned)((s >> 32) % 1024);
			void *t = shared[j];
			shared[j] = mine[i];
			mine[i] = t;
			pthread_mutex_unlock(&shared_lock);
		}
	}
	for (int i = 0; i < 256; i++)
		gort_free(mine[i]);
	return NULL;
}

static int child_work(void)
{
	alarm(20);
	/* Only this thread exists in the child: a stop must find no other. */
	if (stw_stop() != 0)
		return 5;
	stw_start();
	void *p[1000];
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 1000; i++) {
			p[i] = gort_malloc((size_t)(i * 37 % 5000) + 1);
			if (!p[i])
				return 3;
			memset(p[i], 1, 1);
		}
		void *big = gort_malloc(8 << 20);
		if (!big)
			return 4;
		gort_free(big);
		for (int i = 0; i < 1000; i++)
			gort_free(p[i]);
	}
	gort_free_os_memory();
	return 0;
}

static void test_fork_while_threads_allocate(void)
{
	thread_register();
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	int bad = 0;
	for (int k = 0; k < FORKS; k++) {
		usleep(2000);
		pid_t pid = fork();
		if (pid == 0)
			_exit(child_work());
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "    fork %d: child status %#x\n", k, st);
			bad++;
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 1024; i++)
		gort_free(shared[i]);
	CHECK(bad == 0);
}

int main(void)
{
#ifdef UNDER_TSAN
	/* TSan cannot run threads in the child of a multi-threaded fork (the
	 * child's scavenger), and its own runtime may hang there; the release,
	 * debug and ASan builds run this test. */
	printf("--- SKIP: test_fork_while_threads_allocate (ThreadSanitizer does not support a multi-threaded fork)\n");
	return 0;
#endif
	RUN(test_fork_while_threads_allocate);
	TEST_EXIT();
}
