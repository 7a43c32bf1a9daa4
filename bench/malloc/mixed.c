/*
 * mixed.c: eight threads (on however many cores), each with a pattern of its
 * own, all at once, as in a program whose threads do different jobs:
 *   small    bursts of 100 malloc(16/32/64) then 100 frees, last in first out
 *   random   8..4096 B against a live set of 5000, replaced at random
 *   large    64 KiB .. 1 MiB blocks, first and last page written, 4 live
 *   realloc  string builders grown by 8..256 B per realloc up to 64 KiB
 *   calloc   1..16 KiB zeroed blocks (checked), 64 live
 *   aligned  posix_memalign, 16..4096-byte alignment, 256 live; a result that
 *            is not aligned is counted (misaligned=N in the result line)
 *   producer malloc 16..512 B, passed in batches of 64 to ...
 *   consumer ... which frees them
 * Each thread does a fixed amount of work (times SCALE); the run ends when
 * the last one does.
 * Usage: mixed [scale=2]
 * MIXED_JOBS=random,large,... runs only the named jobs (producer and consumer
 * go together), to see what one job costs.
 */
#include <pthread.h>

#include "mb.h"

static long scale;
static long misaligned;	/* posix_memalign results that break their alignment */

static void *t_small(void *arg)
{
	unsigned long sum = 0;
	void *p[100];
	(void)arg;
	for (long r = 0; r < 30000 * scale; r++) {
		size_t n = (size_t)16 << (r % 3);
		for (int i = 0; i < 100; i++) {
			p[i] = mb_check(malloc(n), n);
			*(unsigned char *)p[i] = (unsigned char)i;
		}
		for (int i = 99; i >= 0; i--) {
			sum += *(unsigned char *)p[i];
			free(p[i]);
		}
	}
	return (void *)(uintptr_t)sum;
}

static void *t_random(void *arg)
{
	enum { LIVE = 5000 };
	static unsigned char *slot[LIVE];
	uint64_t rng = 0x3243F6A8885A308DULL;
	unsigned long sum = 0;
	(void)arg;
	for (long i = 0; i < 2000000 * scale; i++) {
		long k = i < LIVE ? i : (long)(bench_rand(&rng) % LIVE);
		if (slot[k]) {
			sum += slot[k][0];
			free(slot[k]);
		}
		size_t n = 8 + (size_t)(bench_rand(&rng) % 4089);
		slot[k] = mb_check(malloc(n), n);
		slot[k][0] = (unsigned char)n;
		slot[k][n - 1] = 0;
	}
	for (long k = 0; k < LIVE; k++)
		free(slot[k]);
	return (void *)(uintptr_t)sum;
}

static void *t_large(void *arg)
{
	unsigned char *live[4] = {0};
	uint64_t rng = 0x13198A2E03707344ULL;
	unsigned long sum = 0;
	(void)arg;
	for (long i = 0; i < 20000 * scale; i++) {
		size_t n = mb_logsize(&rng, 64 * 1024, 1024 * 1024);
		free(live[i % 4]);
		unsigned char *p = mb_check(malloc(n), n);
		p[0] = 1;
		p[n - 1] = 1;
		sum += p[0];
		live[i % 4] = p;
	}
	for (int k = 0; k < 4; k++)
		free(live[k]);
	return (void *)(uintptr_t)sum;
}

static void *t_realloc(void *arg)
{
	uint64_t rng = 0xA4093822299F31D0ULL;
	unsigned long sum = 0;
	(void)arg;
	for (long i = 0; i < 4000 * scale; i++) {
		size_t target = mb_logsize(&rng, 256, 64 * 1024), len = 0;
		unsigned char *p = NULL;
		while (len < target) {
			size_t step = 8 + (size_t)(bench_rand(&rng) % 249);
			p = mb_check(realloc(p, len + step), len + step);
			memset(p + len, (int)(i & 0xff), step);
			len += step;
		}
		sum += p[len / 2];
		free(p);
	}
	return (void *)(uintptr_t)sum;
}

static void *t_calloc(void *arg)
{
	unsigned char *live[64] = {0};
	uint64_t rng = 0x082EFA98EC4E6C89ULL;
	unsigned long sum = 0;
	(void)arg;
	for (long i = 0; i < 300000 * scale; i++) {
		size_t n = 1024 + (size_t)(bench_rand(&rng) % (15 * 1024));
		free(live[i % 64]);
		unsigned char *p = mb_check(calloc(1, n), n);
		if (p[0] | p[n / 2] | p[n - 1]) {
			fprintf(stderr, "mixed: calloc returned memory that is not zero\n");
			exit(1);
		}
		p[0] = p[n / 2] = p[n - 1] = 1;
		sum += n & 1;
		live[i % 64] = p;
	}
	for (int k = 0; k < 64; k++)
		free(live[k]);
	return (void *)(uintptr_t)sum;
}

static void *t_aligned(void *arg)
{
	void *live[256] = {0};
	uint64_t rng = 0x452821E638D01377ULL;
	unsigned long sum = 0;
	(void)arg;
	for (long i = 0; i < 600000 * scale; i++) {
		size_t align = (size_t)16 << (bench_rand(&rng) % 9);	/* 16 .. 4096 */
		size_t n = 8 + (size_t)(bench_rand(&rng) % 8185);
		void *p;
		if (posix_memalign(&p, align, n) != 0) {
			fprintf(stderr, "mixed: posix_memalign(%zu, %zu) failed\n", align, n);
			exit(1);
		}
		if (((uintptr_t)p & (align - 1)) != 0 && misaligned++ == 0)
			fprintf(stderr, "mixed: posix_memalign(%zu, %zu) returned %p, misaligned\n", align, n, p);
		*(unsigned char *)p = (unsigned char)align;
		sum += align & 0xff;
		free(live[i % 256]);
		live[i % 256] = p;
	}
	for (int k = 0; k < 256; k++)
		free(live[k]);
	return (void *)(uintptr_t)sum;
}

/* producer -> consumer: batches of 64 through a queue of 16 batches. */
#define QB 16
static unsigned char **pq[QB];
static unsigned pq_head, pq_len;
static int pq_done;
static pthread_mutex_t pq_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pq_cv = PTHREAD_COND_INITIALIZER;

static void *t_producer(void *arg)
{
	uint64_t rng = 0x243F6A8885A308D3ULL;
	(void)arg;
	for (long i = 0; i < 25000 * scale; i++) {
		unsigned char **b = mb_check(malloc(64 * sizeof *b), 64 * sizeof *b);
		for (int j = 0; j < 64; j++) {
			size_t n = 16 + (size_t)(bench_rand(&rng) % 497);
			b[j] = mb_check(malloc(n), n);
			b[j][0] = (unsigned char)j;
		}
		pthread_mutex_lock(&pq_mu);
		while (pq_len == QB)
			pthread_cond_wait(&pq_cv, &pq_mu);
		pq[(pq_head + pq_len++) % QB] = b;
		pthread_cond_broadcast(&pq_cv);
		pthread_mutex_unlock(&pq_mu);
	}
	pthread_mutex_lock(&pq_mu);
	pq_done = 1;
	pthread_cond_broadcast(&pq_cv);
	pthread_mutex_unlock(&pq_mu);
	return NULL;
}

static void *t_consumer(void *arg)
{
	unsigned long sum = 0;
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&pq_mu);
		while (pq_len == 0 && !pq_done)
			pthread_cond_wait(&pq_cv, &pq_mu);
		if (pq_len == 0) {
			pthread_mutex_unlock(&pq_mu);
			break;
		}
		unsigned char **b = pq[pq_head];
		pq_head = (pq_head + 1) % QB;
		pq_len--;
		pthread_cond_broadcast(&pq_cv);
		pthread_mutex_unlock(&pq_mu);
		for (int j = 0; j < 64; j++) {
			sum += b[j][0];
			free(b[j]);
		}
		free(b);
	}
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	void *(*job[])(void *) = {t_small, t_random, t_large, t_realloc,
				  t_calloc, t_aligned, t_producer, t_consumer};
	static const char *name[] = {"small", "random", "large", "realloc",
				     "calloc", "aligned", "producer", "producer"};
	enum { N = sizeof job / sizeof job[0] };
	pthread_t t[N];
	int run[N];
	unsigned long sum = 0;
	const char *only = getenv("MIXED_JOBS");

	scale = mb_arg(argc, argv, 1, 2);
	for (int i = 0; i < N; i++) {
		run[i] = 1;
		if (only) {
			const char *at = strstr(only, name[i]);
			size_t len = strlen(name[i]);
			run[i] = at && (at == only || at[-1] == ',') && (at[len] == ',' || !at[len]);
		}
		if (run[i] && pthread_create(&t[i], NULL, job[i], NULL) != 0) {
			fprintf(stderr, "mixed: pthread_create failed\n");
			return 1;
		}
	}
	for (int i = 0; i < N; i++) {
		void *r;
		if (!run[i])
			continue;
		pthread_join(t[i], &r);
		sum += (unsigned long)(uintptr_t)r;
	}
	char check[64];
	snprintf(check, sizeof check, "sum=%lu misaligned=%ld", sum, misaligned);
	mb_report("mixed", check);
	return 0;
}
