/*
 * prodcons.c: producers and consumers.  PRODUCERS threads malloc messages of
 * random size (16..1024 B, writing a header and the last byte) and pass them,
 * BATCH at a time in a malloc'ed batch record, through a bounded queue (a
 * mutex and two condition variables) to CONSUMERS threads, which read and
 * free them: every message and batch is freed by another thread than the one
 * that allocated it.  OBJECTS messages in all.
 * Usage: prodcons [objects=6000000] [producers=2] [consumers=2]
 */
#include <pthread.h>

#include "mb.h"

#define BATCH 32
#define QCAP 64

struct batch {
	unsigned n;
	unsigned char *msg[BATCH];
};

static struct batch *queue[QCAP];
static unsigned qhead, qlen;
static int producers_left;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long per_producer;

static void put(struct batch *b)
{
	pthread_mutex_lock(&mu);
	while (qlen == QCAP)
		pthread_cond_wait(&not_full, &mu);
	queue[(qhead + qlen++) % QCAP] = b;
	pthread_cond_signal(&not_empty);
	pthread_mutex_unlock(&mu);
}

/* NULL once the queue is empty and every producer has finished. */
static struct batch *get(void)
{
	struct batch *b = NULL;
	pthread_mutex_lock(&mu);
	while (qlen == 0 && producers_left > 0)
		pthread_cond_wait(&not_empty, &mu);
	if (qlen > 0) {
		b = queue[qhead];
		qhead = (qhead + 1) % QCAP;
		qlen--;
		pthread_cond_signal(&not_full);
	}
	pthread_mutex_unlock(&mu);
	return b;
}

static void *producer(void *arg)
{
	uint64_t rng = 0x243F6A8885A308D3ULL * (uint64_t)(uintptr_t)arg;
	struct batch *b = NULL;

	for (long i = 0; i < per_producer; i++) {
		if (b == NULL) {
			b = mb_check(malloc(sizeof *b), sizeof *b);
			b->n = 0;
		}
		uint32_t n = 16 + (uint32_t)(bench_rand(&rng) % 1009);
		unsigned char *p = mb_check(malloc(n), n);
		memcpy(p, &n, sizeof n);
		p[n - 1] = 1;
		b->msg[b->n++] = p;
		if (b->n == BATCH) {
			put(b);
			b = NULL;
		}
	}
	if (b)
		put(b);
	pthread_mutex_lock(&mu);
	if (--producers_left == 0)
		pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *consumer(void *arg)
{
	unsigned long *sum = arg;
	struct batch *b;

	while ((b = get()) != NULL) {
		for (unsigned i = 0; i < b->n; i++) {
			uint32_t n;
			memcpy(&n, b->msg[i], sizeof n);
			*sum += n + b->msg[i][n - 1];
			free(b->msg[i]);
		}
		free(b);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long objects = mb_arg(argc, argv, 1, 6000000);
	long np = mb_arg(argc, argv, 2, 2), nc = mb_arg(argc, argv, 3, 2);
	pthread_t t[64];
	unsigned long sums[32] = {0}, sum = 0;

	if (np > 32 || nc > 32) {
		fprintf(stderr, "prodcons: at most 32 producers and 32 consumers\n");
		return 1;
	}
	per_producer = objects / np;
	producers_left = (int)np;
	for (long i = 0; i < nc; i++)
		if (pthread_create(&t[i], NULL, consumer, &sums[i]) != 0)
			return 1;
	for (long i = 0; i < np; i++)
		if (pthread_create(&t[nc + i], NULL, producer, (void *)(uintptr_t)(i + 1)) != 0)
			return 1;
	for (long i = 0; i < nc + np; i++)
		pthread_join(t[i], NULL);
	for (long i = 0; i < nc; i++)
		sum += sums[i];
	char check[64];
	snprintf(check, sizeof check, "sum=%lu", sum);
	mb_report("prodcons", check);
	return 0;
}
