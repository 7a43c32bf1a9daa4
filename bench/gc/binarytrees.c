/*
 * binarytrees.c: the Benchmarks Game's binary-trees, single-threaded.
 *
 * A stretch tree of depth max+1 is built, checked and dropped; a long-lived
 * tree of depth max is built; then for d = 4, 6, ..., max, 2^(max-d+4) trees
 * of depth d are each built bottom-up, checked (their nodes counted) and
 * dropped; last the long-lived tree is checked.  Output is the Benchmarks
 * Game's, line for line.  See variant.h for the memory managers: the
 * collected variants free nothing, malloc/free frees every tree.
 *
 *   binarytrees [max_depth]     default 21 (at least 6)
 */
#include "variant.h"

struct node {
	struct node *left, *right;
};
#ifdef BENCH_GORT
GORT_TYPE(node_type, struct node, left, right);
#endif

static struct node *node_new(struct node *left, struct node *right)
{
#if defined(BENCH_GORT)
	struct node *n = gort_new(&node_type);
#elif defined(BENCH_BDWGC)
	struct node *n = GC_MALLOC(sizeof *n);
#else
	struct node *n = malloc(sizeof *n);
#endif
	if (!n) {
		fprintf(stderr, "binarytrees: out of memory\n");
		exit(2);
	}
	V_STORE(n->left, left);
	V_STORE(n->right, right);
	return n;
}

static struct node *bottom_up(int depth)
{
	if (depth <= 0)
		return node_new(NULL, NULL);
	struct node *left = bottom_up(depth - 1);
	struct node *right = bottom_up(depth - 1);
	return node_new(left, right);
}

static long check(const struct node *n)
{
	return n->left ? 1 + check(n->left) + check(n->right) : 1;
}

static void tree_free(struct node *n)
{
#if V_FREES
	if (n->left) {
		tree_free(n->left);
		tree_free(n->right);
	}
	V_FREE(n);
#else
	(void)n;
#endif
}

int main(int argc, char **argv)
{
	const int min_depth = 4;
	int n = argc > 1 ? atoi(argv[1]) : 21;
	int max_depth = n > min_depth + 2 ? n : min_depth + 2;
	int stretch_depth = max_depth + 1;

	gcstat_init();

	struct node *stretch = bottom_up(stretch_depth);
	printf("stretch tree of depth %d\t check: %ld\n", stretch_depth, check(stretch));
	tree_free(stretch);

	struct node *long_lived = bottom_up(max_depth);
	for (int d = min_depth; d <= max_depth; d += 2) {
		long iterations = 1L << (max_depth - d + min_depth), sum = 0;
		for (long i = 0; i < iterations; i++) {
			struct node *t = bottom_up(d);
			sum += check(t);
			tree_free(t);
		}
		printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, sum);
		gcstat_poll();
	}
	printf("long lived tree of depth %d\t check: %ld\n", max_depth, check(long_lived));
	tree_free(long_lived);

	gcstat_report();
	return 0;
}
