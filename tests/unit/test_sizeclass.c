/*
 * test_sizeclass.c: the size-class tables and lookups (src/sizeclass.h).
 *
 * Checks that the generated tables are Go's (sizes and page counts from the
 * reference), that every lookup returns the smallest fitting class, that
 * division by multiplication is exact over each span, and that the aligned
 * search returns the smallest class whose objects are all aligned.
 */
#include "mspan.h"
#include "sizeclass.h"
#include "testing.h"

/* Go 1.19's table (runtime/sizeclasses.go); index = class. */
static const uint32_t go_size[NUM_SIZE_CLASSES] = {
	0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144,
	160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416,
	448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408,
	1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144,
	6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384,
	18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
};
static const uint8_t go_npages[NUM_SIZE_CLASSES] = {
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3,
	4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
};

/* The reference answer: a linear scan, independent of the lookup tables. */
static unsigned smallest_class(uintptr_t size)
{
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++)
		if (class_to_size[c] >= size)
			return c;
	return 0;
}

static uintptr_t span_bytes(unsigned c)
{
	return (uintptr_t)class_to_allocnpages[c] * PAGE_BYTES;
}

static uintptr_t manual_span_bytes(unsigned c)
{
	return (uintptr_t)manual_allocnpages[c] * PAGE_BYTES;
}

/* The manual heap's spans: a whole number of Go's spans, at least 32
 * objects unless that would take more than 8 pages, and no bigger than
 * needed for that. */
static void test_manual_spans(void)
{
	CHECK(manual_allocnpages[0] == 0 && manual_nelems[0] == 0);
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
		unsigned np = manual_allocnpages[c], go = class_to_allocnpages[c];
		CHECKF(np % go == 0, "class %u: %u pages, Go %u", c, np, go);
		CHECKF(manual_nelems[c] == manual_span_bytes(c) / class_to_size[c], "class %u", c);
		CHECKF(manual_nelems[c] >= 32 || np + go > 8, "class %u: %u objects in %u pages", c,
		       manual_nelems[c], np);
		CHECKF(np == go || (np - go) * PAGE_BYTES / class_to_size[c] < 32,
		       "class %u: %u pages, more than needed", c, np);
		CHECKF(span_nelems(c, np) == manual_nelems[c] && span_nelems(c, go) == class_to_nelems[c],
		       "class %u", c);
	}
	CHECK(manual_allocnpages[32] == 4 && manual_nelems[32] == 32); /* 1024 B */
	CHECK(manual_allocnpages[67] == 8 && manual_nelems[67] == 2);  /* 32 KiB */
}

static void test_table_shape(void)
{
	CHECK(NUM_SIZE_CLASSES == 68);
	CHECK(ARRAY_LEN(class_to_size) == 68);
	CHECK(ARRAY_LEN(class_to_allocnpages) == 68);
	CHECK(ARRAY_LEN(class_to_nelems) == 68);
	CHECK(ARRAY_LEN(class_to_divmagic) == 68);
	CHECK(ARRAY_LEN(size_to_class8) == 129);
	CHECK(ARRAY_LEN(size_to_class128) == 249);
	CHECK(class_to_size[0] == 0 && class_to_allocnpages[0] == 0);
	CHECK(class_to_nelems[0] == 0 && class_to_divmagic[0] == 0);
	CHECK(class_to_size[1] == 8);
	CHECK(class_to_size[NUM_SIZE_CLASSES - 1] == MAX_SMALL_SIZE);
	CHECK(class_to_size[67] == 32768);
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
		uint32_t size = class_to_size[c];
		CHECKF(size > class_to_size[c - 1], "class %u", c);
		CHECKF(size % 8 == 0, "class %u size %u", c, size);
		CHECKF(size < 32 || size % 16 == 0, "class %u size %u", c, size);
		CHECKF(size <= SMALL_SIZE_MAX || size % LARGE_SIZE_DIV == 0, "class %u size %u", c,
		       size);
		CHECKF(class_to_allocnpages[c] >= 1, "class %u", c);
		CHECKF(class_to_nelems[c] == span_bytes(c) / size, "class %u", c);
		CHECKF(class_to_divmagic[c] == UINT32_MAX / size + 1, "class %u", c);
	}
}

static void test_matches_go(void)
{
	for (unsigned c = 0; c < NUM_SIZE_CLASSES; c++) {
		CHECKF(class_to_size[c] == go_size[c], "class %u: %u, Go %u", c, class_to_size[c],
		       go_size[c]);
		CHECKF(class_to_allocnpages[c] == go_npages[c], "class %u: %u pages, Go %u", c,
		       class_to_allocnpages[c], go_npages[c]);
	}
}

static void test_checkpoints(void)
{
	CHECK(size_to_class(0) == 1);
	CHECK(size_to_class(1) == 1);
	CHECK(size_to_class(8) == 1);
	CHECK(size_to_class(9) == 2);
	CHECK(size_to_class(17) == 3 && class_to_size[3] == 24);
	CHECK(size_to_class(33) == 5 && class_to_size[5] == 48);
	CHECK(size_to_class(1016) == 32);
	CHECK(size_to_class(1017) == 32);
	CHECK(size_to_class(1020) == 32);
	CHECK(size_to_class(1023) == 32);
	CHECK(size_to_class(1024) == 32 && class_to_size[32] == 1024);
	CHECK(size_to_class(1025) == 33 && class_to_size[33] == 1152);
	CHECK(size_to_class(8193) == 52 && class_to_size[52] == 9472);
	CHECK(size_to_class(32768) == 67);
}

static void test_lookup_exhaustive(void)
{
	for (uintptr_t size = 1; size <= MAX_SMALL_SIZE; size++) {
		unsigned c = size_to_class(size), want = smallest_class(size);
		if (c != want) {
			CHECKF(c == want, "size %zu: class %u, want %u", (size_t)size, c, want);
			return;
		}
	}
}

static void test_lookup_tables(void)
{
	for (unsigned i = 0; i < ARRAY_LEN(size_to_class8); i++)
		CHECKF(size_to_class8[i] == smallest_class(8 * (uintptr_t)i), "size_to_class8[%u]", i);
	for (unsigned i = 0; i < ARRAY_LEN(size_to_class128); i++)
		CHECKF(size_to_class128[i] == smallest_class(1024 + 128 * (uintptr_t)i),
		       "size_to_class128[%u]", i);
}

static void test_obj_index(void)
{
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
		uintptr_t size = class_to_size[c], span = manual_span_bytes(c); /* the larger */
		for (uintptr_t off = 0; off <= span; off++) {
			uint32_t idx = obj_index(off, class_to_divmagic[c]);
			if (idx != off / size) {
				CHECKF(idx == off / size, "class %u offset %zu: %u", c, (size_t)off, idx);
				break;
			}
		}
	}
	/* Large spans: any interior offset resolves to the one object. */
	CHECK(obj_index(0, 0) == 0);
	CHECK(obj_index(123456789, 0) == 0);
}

static void test_waste(void)
{
	for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
		uintptr_t span = span_bytes(c);
		uintptr_t tail = span - (uintptr_t)class_to_nelems[c] * class_to_size[c];
		CHECKF(tail < class_to_size[c], "class %u: room for one more object", c);
		CHECKF(tail <= span / 8, "class %u: tail %zu of %zu", c, (size_t)tail, (size_t)span);
		span = manual_span_bytes(c);
		tail = span - (uintptr_t)manual_nelems[c] * class_to_size[c];
		CHECKF(tail < class_to_size[c] && tail <= span / 8, "class %u: manual tail %zu", c, (size_t)tail);
	}
}

static void test_alignment(void)
{
	for (uintptr_t size = 1; size <= MAX_SMALL_SIZE; size += 7) {
		for (uintptr_t align = 8; align <= PAGE_BYTES; align <<= 1) {
			unsigned c = size_class_for_alignment(size, align);
			if (c == 0 || c >= NUM_SIZE_CLASSES) {
				CHECKF(0, "size %zu align %zu: no class", (size_t)size, (size_t)align);
				return;
			}
			uint32_t got = class_to_size[c];
			CHECKF(got >= size && got % align == 0, "size %zu align %zu: class %u (%u)",
			       (size_t)size, (size_t)align, c, got);
			/* Minimal: no smaller class both fits and is aligned. */
			for (unsigned d = 1; d < c; d++)
				CHECKF(class_to_size[d] < size || class_to_size[d] % align != 0,
				       "size %zu align %zu: class %u beats %u", (size_t)size,
				       (size_t)align, d, c);
		}
	}
	/* Alignments the class sizes always satisfy change nothing. */
	for (uintptr_t align = 1; align <= 8; align <<= 1)
		CHECK(size_class_for_alignment(100, align) == size_to_class(100));
	CHECK(size_class_for_alignment(0, 16) == 2);
	CHECK(size_class_for_alignment(24, 16) == 4);
	CHECK(size_class_for_alignment(1, 4096) == 44);
	CHECK(size_class_for_alignment(8193, 8192) == 59);
	CHECK(size_class_for_alignment(16385, 8192) == 64);
	CHECK(size_class_for_alignment(MAX_SMALL_SIZE, PAGE_BYTES) == 67);
	CHECK(size_class_for_alignment(MAX_SMALL_SIZE + 1, 8) == 0);
	CHECK(size_class_for_alignment(8, 2 * PAGE_BYTES) == 0);
	CHECK(size_class_for_alignment(8, 24) == 0);
	CHECK(size_class_for_alignment(8, 0) == 0);
}

int main(void)
{
	RUN(test_table_shape);
	RUN(test_matches_go);
	RUN(test_checkpoints);
	RUN(test_lookup_exhaustive);
	RUN(test_lookup_tables);
	RUN(test_obj_index);
	RUN(test_manual_spans);
	RUN(test_waste);
	RUN(test_alignment);
	TEST_EXIT();
}
