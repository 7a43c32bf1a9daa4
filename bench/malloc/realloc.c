/*
 * realloc.c: buffers grown by realloc, as string builders and vectors grow.
 * ACTIVE buffers grow side by side, round-robin (so a neighbour is often in
 * the way of growing in place).  Each has a target size, log-uniform in
 * 64 B .. 512 KiB.  Three of four are string builders: every append of 8..256
 * bytes is a realloc to the new length.  The fourth is a vector: realloc to
 * twice the capacity when full.  The appended bytes are written (a pattern
 * that is checked when the buffer is done, so a realloc that loses data
 * fails the run).  A finished buffer is shrunk to an eighth one time in four,
 * and kept in a pool of POOL buffers, replacing a random one (freed).
 * Usage: realloc [buffers=8000]
 */
#include "mb.h"

#define ACTIVE 32
#define POOL 1024

struct buf {
	unsigned char *p;
	size_t len, cap, target;
	unsigned id;
	int vector;
};

static unsigned char pat(unsigned id, size_t i)
{
	return (unsigned char)(i * 31 + id);
}

static void start(struct buf *b, unsigned id, uint64_t *rng)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->target = mb_logsize(rng, 64, 512 * 1024);
	b->id = id;
	b->vector = (bench_rand(rng) & 3) == 0;
}

int main(int argc, char **argv)
{
	long buffers = mb_arg(argc, argv, 1, 8000);
	uint64_t rng = 0xA4093822299F31D0ULL;
	struct buf act[ACTIVE];
	unsigned char *pool[POOL] = {0};
	unsigned long sum = 0, reallocs = 0;
	unsigned next_id = 0;
	long done = 0;

	for (int i = 0; i < ACTIVE; i++)
		start(&act[i], next_id++, &rng);
	while (done < buffers) {
		for (int i = 0; i < ACTIVE && done < buffers; i++) {
			struct buf *b = &act[i];
			size_t step = 8 + (size_t)(bench_rand(&rng) % 249);
			size_t len = b->len + step;
			if (len > b->cap) {
				size_t cap = b->vector ? (b->cap ? 2 * b->cap : 64) : len;
				while (cap < len)
					cap *= 2;
				b->p = mb_check(realloc(b->p, cap), cap);
				b->cap = cap;
				reallocs++;
			}
			for (size_t k = b->len; k < len; k++)
				b->p[k] = pat(b->id, k);
			b->len = len;
			if (b->len < b->target)
				continue;

			/* done: check the pattern survived, maybe shrink, keep in the pool */
			for (size_t k = 0; k < b->len; k += 97)
				if (b->p[k] != pat(b->id, k)) {
					fprintf(stderr, "realloc: buffer %u lost its contents at %zu\n", b->id, k);
					return 1;
				}
			sum += b->len + b->p[b->len - 1];
			if ((bench_rand(&rng) & 3) == 0) {
				size_t n = b->len / 8 + 1;
				b->p = mb_check(realloc(b->p, n), n);
				sum += b->p[n - 1];
				reallocs++;
			}
			unsigned slot = (unsigned)(bench_rand(&rng) % POOL);
			free(pool[slot]);
			pool[slot] = b->p;
			done++;
			start(b, next_id++, &rng);
		}
	}
	for (int i = 0; i < ACTIVE; i++)
		free(act[i].p);
	for (int i = 0; i < POOL; i++)
		free(pool[i]);
	char check[96];
	snprintf(check, sizeof check, "sum=%lu reallocs=%lu", sum, reallocs);
	mb_report("realloc", check);
	return 0;
}
