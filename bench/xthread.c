/*
 * xthread.c: cross-thread frees.  A producer thread allocates objects of
 * 16..512 bytes and hands them, a batch of 64 at a time, through a lock-free
 * single-producer single-consumer ring to a consumer thread that frees them:
 * every free is remote, as in a pipeline (8M objects by default).
 * Usage: xthread [objects]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "bench.h"

#define RING  4096		/* pointers; a power of two */
#define BATCH 64

static void *ring[RING];
static _Alignas(64) _Atomic size_t head;	/* next slot the consumer reads */
static _Alignas(64) _Atomic size_t tail;	/* next slot the producer writes */
static _Alignas(64) long total;

static void backoff(unsigned *spins)
{
	if (++*spins < 128)
		__builtin_ia32_pause();
	else
		sched_yield();
}

static void *consumer(void *arg)
{
	size_t h = 0;
	long done = 0;
	unsigned sum = 0;

	(void)arg;
	while (done < total) {
		unsigned spins = 0;
		size_t t;
		while ((t = atomic_load_explicit(&tail, memory_order_acquire)) == h)
			backoff(&spins);
		for (; h != t; h++, done++) {
			unsigned char *p = ring[h & (RING - 1)];
			sum += p[0];
			B_FREE(p);
		}
		atomic_store_explicit(&head, h, memory_order_release);
	}
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	pthread_t th;
	uint64_t rng = 0x243F6A8885A308D3ULL;
	size_t t = 0;

	total = bench_count(argc, argv, 8000000L);
	total -= total % BATCH;

	double t0 = bench_now();
	if (pthread_create(&th, NULL, consumer, NULL) != 0) {
		fprintf(stderr, "xthread: pthread_create failed\n");
		return 1;
	}
	for (long made = 0; made < total; made += BATCH) {
		void *batch[BATCH];
		for (int j = 0; j < BATCH; j++) {
			size_t sz = 16 + (size_t)(bench_rand(&rng) % 497);
			unsigned char *p = bench_check(B_MALLOC(sz), sz);
			p[0] = (unsigned char)j;
			batch[j] = p;
		}
		unsigned spins = 0;
		while (t + BATCH - atomic_load_explicit(&head, memory_order_acquire) > RING)
			backoff(&spins);
		for (int j = 0; j < BATCH; j++)
			ring[(t + (size_t)j) & (RING - 1)] = batch[j];
		t += BATCH;
		atomic_store_explicit(&tail, t, memory_order_release);
	}
	pthread_join(th, NULL);
	bench_report("xthread", bench_now() - t0);
	return 0;
}
