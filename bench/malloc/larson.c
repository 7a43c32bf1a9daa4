/*
 * larson.c: Larson and Krishnan's server simulation, as in mimalloc-bench.
 * CHAINS threads run at once; each owns an array of SLOTS objects of random
 * size (8..1000 B) and, for STEPS steps, frees a random slot and fills it
 * with a new object (writing its first and last bytes).  Then it starts its
 * successor, hands it the array and exits: the successor frees objects
 * allocated by a thread that is gone, and every generation is a new thread
 * with a new thread cache.  GENS generations per chain.
 * Usage: larson [chains=4] [gens=160] [steps=50000] [slots=1000]
 */
#include <pthread.h>

#include "mb.h"

struct chain {
	void **slot;
	long slots, steps, gens_left;
	uint64_t rng;
	unsigned long sum;	/* first bytes of freed objects: a checksum */
	pthread_t prev;		/* the predecessor, joined by its successor */
	int has_prev;
};

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int chains_done;

static void *fill(struct chain *c)
{
	size_t n = 8 + (size_t)(bench_rand(&c->rng) % 993);
	unsigned char *p = mb_check(malloc(n), n);
	p[0] = (unsigned char)n;
	p[n - 1] = (unsigned char)n;
	return p;
}

static void *generation(void *arg)
{
	struct chain *c = arg;

	if (c->has_prev)
		pthread_join(c->prev, NULL);
	for (long i = 0; i < c->steps; i++) {
		long k = (long)(bench_rand(&c->rng) % (uint64_t)c->slots);
		unsigned char *p = c->slot[k];
		c->sum += p[0];
		free(p);
		c->slot[k] = fill(c);
	}
	if (--c->gens_left > 0) {
		c->prev = pthread_self();
		c->has_prev = 1;
		pthread_t next;
		if (pthread_create(&next, NULL, generation, c) != 0) {
			fprintf(stderr, "larson: pthread_create failed\n");
			exit(1);
		}
		return NULL;	/* joined by `next` */
	}
	pthread_detach(pthread_self());
	pthread_mutex_lock(&done_mu);
	chains_done++;
	pthread_cond_signal(&done_cv);
	pthread_mutex_unlock(&done_mu);
	return NULL;
}

int main(int argc, char **argv)
{
	long nchains = mb_arg(argc, argv, 1, 4);
	long gens = mb_arg(argc, argv, 2, 160);
	long steps = mb_arg(argc, argv, 3, 50000);
	long slots = mb_arg(argc, argv, 4, 1000);
	struct chain *c = mb_check(calloc((size_t)nchains, sizeof *c), sizeof *c);

	for (long i = 0; i < nchains; i++) {
		c[i].slots = slots;
		c[i].steps = steps;
		c[i].gens_left = gens;
		c[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1);
		c[i].slot = mb_check(malloc((size_t)slots * sizeof(void *)), (size_t)slots * sizeof(void *));
		for (long k = 0; k < slots; k++)
			c[i].slot[k] = fill(&c[i]);	/* the first generation frees main's objects */
	}
	for (long i = 0; i < nchains; i++) {
		pthread_t t;	/* joined by its successor, or detached if it is the last */
		if (pthread_create(&t, NULL, generation, &c[i]) != 0) {
			fprintf(stderr, "larson: pthread_create failed\n");
			return 1;
		}
	}
	pthread_mutex_lock(&done_mu);
	while (chains_done < nchains)
		pthread_cond_wait(&done_cv, &done_mu);
	pthread_mutex_unlock(&done_mu);

	unsigned long sum = 0;
	for (long i = 0; i < nchains; i++) {
		for (long k = 0; k < slots; k++)
			free(c[i].slot[k]);
		free(c[i].slot);
		sum += c[i].sum;
	}
	free(c);
	char check[64];
	snprintf(check, sizeof check, "sum=%lu", sum);
	mb_report("larson", check);
	return 0;
}
