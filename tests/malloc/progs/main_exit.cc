// main_exit.cc: main leaves by pthread_exit while its threads work on; the
// process must end when the last of them does (POSIX: exit status 0, atexit
// handlers run, stdio flushed), under gort as under glibc, although gort
// has threads of its own by then (the scavenger starts once large blocks
// are freed).  The last worker prints every worker's result in order.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { WORKERS = 3 };
static unsigned long result[WORKERS];
static int finished;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void at_exit(void)
{
	printf("atexit ran\n");
}

static void *worker(void *arg)
{
	long id = (long)arg;
	struct timespec ts = {0, 20000000L * (id + 1)};
	nanosleep(&ts, NULL);
	unsigned long sum = 0;
	for (long i = 0; i < 20000; i++) {
		size_t n = (size_t)(i * 7919 % 5000) + 1;
		unsigned char *p = (unsigned char *)malloc(n);
		memset(p, (int)(i & 0xff), n);
		sum += p[n - 1];
		free(p);
	}
	pthread_mutex_lock(&mu);
	result[id] = sum;
	if (++finished == WORKERS)
		for (int k = 0; k < WORKERS; k++)
			printf("worker %d: %lu\n", k, result[k]);
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(void)
{
	for (int i = 0; i < 64; i++)
		free(malloc((size_t)1 << 20)); // large frees: gort starts its scavenger
	atexit(at_exit);
	pthread_t t;
	for (long i = 0; i < WORKERS; i++)
		if (pthread_create(&t, NULL, worker, (void *)i) != 0)
			return 1;
	printf("main leaves\n");
	fflush(stdout);
	pthread_exit(NULL);
}
