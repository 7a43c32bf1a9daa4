/*
 * mksizeclasses.c: generates src/sizeclasses.inc, gort's size-class tables.
 *
 * Usage: mksizeclasses > src/sizeclasses.inc   (make sizeclasses)
 *
 * Applies Go's size-class algorithm (runtime/mksizeclasses.go) so that gort's
 * classes are Go's, byte for byte.  Standalone C11 on purpose: it must build
 * before, and without, the rest of the tree, so it repeats the few constants
 * it needs and emits _Static_asserts that tie them to src/rt.h and
 * src/sizeclass.h.
 *
 * Invariant: nothing reaches stdout unless every self-check passes; on any
 * failure the program reports to stderr and exits 1, so `make` fails instead
 * of checking in a bad table.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PAGE_BYTES 8192u      /* runtime page */
#define MAX_SMALL_SIZE 32768u /* largest small object */
#define NUM_CLASSES 68        /* including class 0 (large) */
#define SMALL_SIZE_MAX 1024u  /* sizes up to here are looked up in 8-byte steps */
#define SMALL_SIZE_DIV 8u
#define LARGE_SIZE_DIV 128u   /* ... and above it in 128-byte steps */
#define CLASS8_LEN (SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1)                     /* 129 */
#define CLASS128_LEN ((MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1) /* 249 */

/* The manual heap's spans (gort_malloc): Go's span of a class, repeated
 * until it holds MANUAL_MIN_OBJECTS objects or one more repeat would pass
 * MANUAL_MAX_PAGES.  Explicit frees make a span reusable only when it is
 * swept, so a span of a few large objects would be swept every few
 * allocations; GC spans are swept once per cycle and keep Go's sizes. */
#define MANUAL_MIN_OBJECTS 32u
#define MANUAL_MAX_PAGES 8u

/* Before merging, the walk can produce at most one class per 8-byte step. */
#define MAX_CANDIDATES (MAX_SMALL_SIZE / 8 + 1)

struct sclass {
	uint32_t size;   /* bytes per object; 0 for class 0 */
	uint32_t npages; /* pages per span */
};

static struct sclass classes[MAX_CANDIDATES];
static unsigned nclasses;
static uint32_t nelems[MAX_CANDIDATES];
static uint32_t divmagic[MAX_CANDIDATES];
static uint32_t manual_npages[MAX_CANDIDATES];
static uint32_t manual_nelems[MAX_CANDIDATES];
static uint8_t class8[CLASS8_LEN];
static uint8_t class128[CLASS128_LEN];
static unsigned nerrors;

static bool is_pow2(uint32_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("mksizeclasses: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	nerrors++;
}

/*
 * Go's makeClasses.  Alignment grows with size so that the number of classes
 * stays small while the round-up waste of each stays near 1/8; objects of 32
 * bytes and up are 16-aligned because the heap bitmaps assume it.
 */
static void make_classes(void)
{
	uint32_t align = 8;

	nclasses = 1; /* class 0: large objects, no size */
	for (uint32_t size = align; size <= MAX_SMALL_SIZE; size += align) {
		if (is_pow2(size)) {
			if (size >= 2048)
				align = 256;
			else if (size >= 128)
				align = size / 8;
			else if (size >= 32)
				align = 16;
		}

		/* Grow the span until the unusable tail is at most 1/8 of it. */
		uint32_t span = PAGE_BYTES;
		while (span % size > span / 8)
			span += PAGE_BYTES;
		uint32_t npages = span / PAGE_BYTES;

		/*
		 * Same span, same object count as the previous class: the
		 * smaller size buys nothing, so the previous class absorbs
		 * this one.
		 */
		struct sclass *prev = &classes[nclasses - 1];
		if (nclasses > 1 && prev->npages == npages && span / prev->size == span / size) {
			prev->size = size;
			continue;
		}
		if (nclasses == MAX_CANDIDATES) {
			fail("too many candidate classes");
			return;
		}
		classes[nclasses++] = (struct sclass){ .size = size, .npages = npages };
	}

	/*
	 * Spread each span's tail over its objects: the same count of bigger
	 * objects costs nothing.  Rounding down to 128 keeps every size above
	 * 1 KiB exact for the 128-byte lookup table (e.g. 8448 -> 9472).
	 */
	for (unsigned c = 1; c < nclasses; c++) {
		uint32_t span = classes[c].npages * PAGE_BYTES;
		uint32_t grown = (span / (span / classes[c].size)) & ~(LARGE_SIZE_DIV - 1);
		if (grown > classes[c].size)
			classes[c].size = grown;
	}
}

/* Smallest class whose objects hold size bytes; 0 if none. */
static unsigned smallest_class(uint32_t size)
{
	for (unsigned c = 1; c < nclasses; c++)
		if (classes[c].size >= size)
			return c;
	return 0;
}

static void make_tables(void)
{
	for (unsigned c = 1; c < nclasses; c++) {
		uint32_t size = classes[c].size;
		nelems[c] = classes[c].npages * PAGE_BYTES / size;
		/* ceil(2^32 / size), written so that it stays in 32 bits. */
		divmagic[c] = UINT32_MAX / size + 1;
		uint32_t np = classes[c].npages;
		while (np * PAGE_BYTES / size < MANUAL_MIN_OBJECTS && np + classes[c].npages <= MANUAL_MAX_PAGES)
			np += classes[c].npages;
		manual_npages[c] = np;
		manual_nelems[c] = np * PAGE_BYTES / size;
	}
	/* Entry 0 (size 0) gets class 1, not Go's 0: callers treat 0 as 1. */
	for (uint32_t i = 0; i < CLASS8_LEN; i++)
		class8[i] = (uint8_t)smallest_class(i * SMALL_SIZE_DIV);
	for (uint32_t i = 0; i < CLASS128_LEN; i++)
		class128[i] = (uint8_t)smallest_class(SMALL_SIZE_MAX + i * LARGE_SIZE_DIV);
}

/* The lookup src/sizeclass.h performs, so that it is checked here too. */
static unsigned lookup(uint32_t size)
{
	if (size <= SMALL_SIZE_MAX - SMALL_SIZE_DIV)
		return class8[(size + SMALL_SIZE_DIV - 1) / SMALL_SIZE_DIV];
	return class128[(size + LARGE_SIZE_DIV - 1 - SMALL_SIZE_MAX) / LARGE_SIZE_DIV];
}

static void check_classes(void)
{
	if (nclasses != NUM_CLASSES) {
		fail("%u classes, want %u", nclasses, NUM_CLASSES);
		return;
	}
	if (classes[nclasses - 1].size != MAX_SMALL_SIZE)
		fail("last class has size %" PRIu32 ", want %u", classes[nclasses - 1].size,
		     MAX_SMALL_SIZE);

	for (unsigned c = 1; c < nclasses; c++) {
		uint32_t size = classes[c].size, npages = classes[c].npages;
		uint32_t span = npages * PAGE_BYTES;

		if (size % 8 != 0 || (size >= 32 && size % 16 != 0))
			fail("class %u: size %" PRIu32 " breaks 8/16-byte alignment", c, size);
		if (size > SMALL_SIZE_MAX && size % LARGE_SIZE_DIV != 0)
			fail("class %u: size %" PRIu32 " is not a multiple of %u", c, size,
			     LARGE_SIZE_DIV);
		if (c > 1 && size <= classes[c - 1].size)
			fail("class %u: size %" PRIu32 " not above class %u", c, size, c - 1);
		if (npages == 0 || npages > UINT8_MAX)
			fail("class %u: %" PRIu32 " pages do not fit uint8_t", c, npages);
		if (nelems[c] == 0 || nelems[c] > UINT16_MAX)
			fail("class %u: %" PRIu32 " objects do not fit uint16_t", c, nelems[c]);
		if (nelems[c] != span / size)
			fail("class %u: nelems %" PRIu32 " != %" PRIu32, c, nelems[c], span / size);
		if (span - nelems[c] * size > span / 8)
			fail("class %u: tail waste over 1/8 of the span", c);

		uint32_t mspan = manual_npages[c] * PAGE_BYTES;
		if (manual_npages[c] % npages != 0 || manual_npages[c] > UINT8_MAX)
			fail("class %u: manual span of %" PRIu32 " pages", c, manual_npages[c]);
		if (manual_nelems[c] > UINT16_MAX || manual_nelems[c] != mspan / size)
			fail("class %u: manual nelems %" PRIu32, c, manual_nelems[c]);
		if (mspan - manual_nelems[c] * size > mspan / 8)
			fail("class %u: manual span tail waste over 1/8 of the span", c);
		span = mspan; /* a multiple of Go's span: it bounds the offsets of both */

		/* Every offset a pointer into the span can have, end included. */
		for (uint64_t n = 0; n <= span; n++) {
			if ((n * divmagic[c]) >> 32 != n / size) {
				fail("class %u: divmagic %#" PRIx32 " wrong for offset %" PRIu64, c,
				     divmagic[c], n);
				break;
			}
		}
	}

	for (uint32_t i = 0; i < CLASS8_LEN; i++) {
		uint32_t want = i * SMALL_SIZE_DIV;
		unsigned c = class8[i];
		if (c == 0 || classes[c].size < want || (c > 1 && classes[c - 1].size >= want))
			fail("size_to_class8[%" PRIu32 "] = %u is not the smallest class >= %" PRIu32,
			     i, c, want);
	}
	for (uint32_t i = 0; i < CLASS128_LEN; i++) {
		uint32_t want = SMALL_SIZE_MAX + i * LARGE_SIZE_DIV;
		unsigned c = class128[i];
		if (c == 0 || classes[c].size < want || (c > 1 && classes[c - 1].size >= want))
			fail("size_to_class128[%" PRIu32 "] = %u is not the smallest class >= %" PRIu32,
			     i, c, want);
	}
	for (uint32_t size = 1; size <= MAX_SMALL_SIZE; size++) {
		if (lookup(size) != smallest_class(size)) {
			fail("lookup(%" PRIu32 ") = %u, want class %u", size, lookup(size),
			     smallest_class(size));
			break;
		}
	}
	if (lookup(0) != 1)
		fail("lookup(0) = %u, want class 1", lookup(0));
}

static void print_comment(void)
{
	uint32_t prev = 0;

	puts("// Code generated by tools/mksizeclasses.c; DO NOT EDIT.");
	puts("//");
	puts("// class  bytes/obj  bytes/span  objects  tail waste  max waste  manual: bytes/span  objects");
	for (unsigned c = 1; c < nclasses; c++) {
		uint32_t size = classes[c].size;
		uint32_t span = classes[c].npages * PAGE_BYTES;
		uint32_t tail = span - nelems[c] * size;
		/* Worst case: every object is one byte over the previous class. */
		double max_waste = (double)((uint64_t)(size - prev - 1) * nelems[c] + tail) / span;

		printf("// %5u  %9" PRIu32 "  %10" PRIu32 "  %7" PRIu32 "  %10" PRIu32 "  %8.2f%%  %18" PRIu32
		       "  %7" PRIu32 "\n",
		       c, size, span, nelems[c], tail, 100 * max_waste, manual_npages[c] * PAGE_BYTES,
		       manual_nelems[c]);
		prev = size;
	}
	puts("");
}

static void print_array(const char *decl, const uint32_t *v, unsigned n, unsigned per_line,
			bool hex)
{
	printf("\nGORT_HIDDEN const %s = {\n", decl);
	for (unsigned i = 0; i < n; i++) {
		bool first = i % per_line == 0, last = i + 1 == n || (i + 1) % per_line == 0;
		if (hex)
			printf("%s0x%08" PRIx32 ",%s", first ? "\t" : " ", v[i], last ? "\n" : "");
		else
			printf("%s%" PRIu32 ",%s", first ? "\t" : " ", v[i], last ? "\n" : "");
	}
	puts("};");
}

static void print_tables(void)
{
	uint32_t v[CLASS128_LEN];

	puts("#ifndef GORT_SIZECLASS_H");
	puts("#error \"include sizeclass.h before sizeclasses.inc\"");
	puts("#endif");
	puts("");
	puts("// The constants this table was generated with.");
	printf("_Static_assert(NUM_SIZE_CLASSES == %u, \"rerun make sizeclasses\");\n", NUM_CLASSES);
	printf("_Static_assert(PAGE_BYTES == %u, \"rerun make sizeclasses\");\n", PAGE_BYTES);
	printf("_Static_assert(MAX_SMALL_SIZE == %u, \"rerun make sizeclasses\");\n", MAX_SMALL_SIZE);
	printf("_Static_assert(SIZE_TO_CLASS8_LEN == %u, \"rerun make sizeclasses\");\n", CLASS8_LEN);
	printf("_Static_assert(SIZE_TO_CLASS128_LEN == %u, \"rerun make sizeclasses\");\n",
	       CLASS128_LEN);

	for (unsigned c = 0; c < nclasses; c++)
		v[c] = classes[c].size;
	print_array("uint32_t class_to_size[NUM_SIZE_CLASSES]", v, nclasses, 12, false);
	for (unsigned c = 0; c < nclasses; c++)
		v[c] = classes[c].npages;
	print_array("uint8_t class_to_allocnpages[NUM_SIZE_CLASSES]", v, nclasses, 24, false);
	print_array("uint16_t class_to_nelems[NUM_SIZE_CLASSES]", nelems, nclasses, 16, false);
	print_array("uint32_t class_to_divmagic[NUM_SIZE_CLASSES]", divmagic, nclasses, 8, true);
	print_array("uint8_t manual_allocnpages[NUM_SIZE_CLASSES]", manual_npages, nclasses, 24, false);
	print_array("uint16_t manual_nelems[NUM_SIZE_CLASSES]", manual_nelems, nclasses, 16, false);
	for (unsigned i = 0; i < CLASS8_LEN; i++)
		v[i] = class8[i];
	print_array("uint8_t size_to_class8[SIZE_TO_CLASS8_LEN]", v, CLASS8_LEN, 24, false);
	for (unsigned i = 0; i < CLASS128_LEN; i++)
		v[i] = class128[i];
	print_array("uint8_t size_to_class128[SIZE_TO_CLASS128_LEN]", v, CLASS128_LEN, 24, false);
}

int main(void)
{
	make_classes();
	if (nerrors == 0 && nclasses == NUM_CLASSES) {
		make_tables();
		check_classes();
	} else {
		fail("%u classes, want %u", nclasses, NUM_CLASSES);
	}
	if (nerrors != 0) {
		fprintf(stderr, "mksizeclasses: %u check(s) failed; no table written\n", nerrors);
		return 1;
	}
	print_comment();
	print_tables();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("mksizeclasses: stdout");
		return 1;
	}
	return 0;
}
