/*
 * gcbench.c: Ellis, Kovac and Boehm's GCBench (the C version), unchanged in
 * its allocation pattern:
 *   - a stretch tree of depth 18 built bottom-up and dropped;
 *   - a long-lived tree of depth 16, built top-down, and a long-lived array
 *     of 500,000 doubles (pointer-free), half of it filled;
 *   - for depth 4, 6, ..., 16: NumIters(depth) = 2 * TreeSize(18) /
 *     TreeSize(depth) trees built top-down (Populate: each node allocated,
 *     then stored into its parent) and as many built bottom-up (MakeTree),
 *     each dropped as soon as built.
 * The original prints timings; here stdout carries only deterministic lines
 * (the node count of the last tree of each kind, to check the build) and
 * the time is taken from outside.  Node is the original's { left, right,
 * int i, j } (24 bytes).  See variant.h for the memory managers: the
 * collected variants free nothing, malloc/free frees every tree.
 */
#include "variant.h"

#define kStretchTreeDepth 18
#define kLongLivedTreeDepth 16
#define kArraySize 500000
#define kMinTreeDepth 4
#define kMaxTreeDepth 16

typedef struct node {
	struct node *left, *right;
	int i, j;
} node;
#ifdef BENCH_GORT
GORT_TYPE(node_type, struct node, left, right);
#endif

static node *new_node(node *left, node *right)
{
#if defined(BENCH_GORT)
	node *n = gort_new(&node_type);
#elif defined(BENCH_BDWGC)
	node *n = GC_MALLOC(sizeof *n);
#else
	node *n = malloc(sizeof *n);
#endif
	if (!n) {
		fprintf(stderr, "gcbench: out of memory\n");
		exit(2);
	}
	V_STORE(n->left, left);
	V_STORE(n->right, right);
	n->i = n->j = 0;
	return n;
}

static double *new_array(size_t n)
{
#if defined(BENCH_GORT)
	double *a = gort_alloc(n * sizeof *a, GORT_NOSCAN);
#elif defined(BENCH_BDWGC)
	double *a = GC_MALLOC_ATOMIC(n * sizeof *a);
#else
	double *a = malloc(n * sizeof *a);
#endif
	if (!a) {
		fprintf(stderr, "gcbench: out of memory\n");
		exit(2);
	}
	return a;
}

/* Nodes in a tree of the given depth. */
static int tree_size(int i)
{
	return (1 << (i + 1)) - 1;
}

/* Trees built (each way) at the given depth. */
static int num_iters(int i)
{
	return 2 * tree_size(kStretchTreeDepth) / tree_size(i);
}

/* Builds a tree top-down, storing young nodes into older ones. */
static void populate(int depth, node *n)
{
	if (depth <= 0)
		return;
	depth--;
	V_STORE(n->left, new_node(NULL, NULL));
	V_STORE(n->right, new_node(NULL, NULL));
	populate(depth, n->left);
	populate(depth, n->right);
}

/* Builds a tree bottom-up. */
static node *make_tree(int depth)
{
	if (depth <= 0)
		return new_node(NULL, NULL);
	node *left = make_tree(depth - 1);
	node *right = make_tree(depth - 1);
	return new_node(left, right);
}

static long count(const node *n)
{
	return n->left ? 1 + count(n->left) + count(n->right) : 1;
}

static void tree_free(node *n)
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

static void time_construction(int depth)
{
	int iters = num_iters(depth);
	long last = 0;

	printf("Creating %d trees of depth %d\n", iters, depth);
	for (int i = 0; i < iters; i++) {
		node *t = new_node(NULL, NULL);
		populate(depth, t);
		if (i == iters - 1)
			last = count(t);
		tree_free(t);
	}
	printf("\tTop down construction: last tree has %ld nodes\n", last);
	for (int i = 0; i < iters; i++) {
		node *t = make_tree(depth);
		if (i == iters - 1)
			last = count(t);
		tree_free(t);
	}
	printf("\tBottom up construction: last tree has %ld nodes\n", last);
}

int main(void)
{
	gcstat_init();

	printf("Garbage Collector Test\n");
	printf(" Live storage will peak at %zu bytes.\n\n",
	       2 * sizeof(node) * (size_t)tree_size(kLongLivedTreeDepth) + sizeof(double) * kArraySize);
	printf(" Stretching memory with a binary tree of depth %d\n", kStretchTreeDepth);
	node *t = make_tree(kStretchTreeDepth);
	tree_free(t);

	printf(" Creating a long-lived binary tree of depth %d\n", kLongLivedTreeDepth);
	node *long_lived = new_node(NULL, NULL);
	populate(kLongLivedTreeDepth, long_lived);

	printf(" Creating a long-lived array of %d doubles\n", kArraySize);
	double *array = new_array(kArraySize);
	for (int i = 0; i < kArraySize / 2; i++)
		array[i] = 1.0 / i;

	for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2) {
		time_construction(d);
		gcstat_poll();
	}

	if (long_lived == NULL || array[1000] != 1.0 / 1000)
		fprintf(stderr, "Failed\n");
	printf("Long-lived tree has %ld nodes, array[1000] = %g\n", count(long_lived), array[1000]);
	tree_free(long_lived);
#if V_FREES
	V_FREE(array);
#endif
	gcstat_report();
	return 0;
}
