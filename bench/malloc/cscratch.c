/*
 * cscratch.c: Hoard's cache-scratch (passive false sharing), as in
 * mimalloc-bench's cache-scratchN.  The main thread allocates one small
 * object for each of THREADS threads, back to back, so they share cache
 * lines; each thread frees the object it was given, then ITERATIONS times
 * allocates an object of OBJSIZE bytes, writes every byte REPS times and
 * frees it.  An allocator that hands a thread the object another thread's
 * allocation freed (main's, next to the other threads') makes the threads
 * write to one cache line from different cores.
 * Usage: cscratch [threads=2] [iterations=1000] [objsize=8] [reps=100000]
 */
#include <pthread.h>

#include "mb.h"

static long iterations, objsize, reps;

static void *worker(void *arg)
{
	unsigned char *given = arg;
	unsigned long sum = 0;

	free(given);
	for (long i = 0; i < iterations; i++) {
		volatile unsigned char *a = mb_check(malloc((size_t)objsize), (size_t)objsize);
		for (long k = 0; k < objsize; k++)
			a[k] = 0;
		for (long r = 0; r < reps; r++)
			for (long k = 0; k < objsize; k++)
				a[k] = (unsigned char)(a[k] + 1);
		sum += a[0];
		free((void *)a);
	}
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	long nthreads = mb_arg(argc, argv, 1, 2);
	iterations = mb_arg(argc, argv, 2, 1000);
	objsize = mb_arg(argc, argv, 3, 8);
	reps = mb_arg(argc, argv, 4, 100000);
	pthread_t *t = mb_check(malloc((size_t)nthreads * sizeof *t), sizeof *t);
	void **obj = mb_check(malloc((size_t)nthreads * sizeof *obj), sizeof *obj);
	unsigned long sum = 0;

	for (long i = 0; i < nthreads; i++)
		obj[i] = mb_check(malloc((size_t)objsize), (size_t)objsize);
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, worker, obj[i]) != 0)
			return 1;
	for (long i = 0; i < nthreads; i++) {
		void *r;
		pthread_join(t[i], &r);
		sum += (unsigned long)(uintptr_t)r;
	}
	free(obj);
	free(t);
	char check[64];
	snprintf(check, sizeof check, "sum=%lu", sum);
	mb_report("cscratch", check);
	return 0;
}
