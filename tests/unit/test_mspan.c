/*
 * test_mspan.c: the span bitmaps against a shadow model.
 *
 * For every size class a span record is driven through random allocations
 * (fast and slow slot search), local and remote frees (setting the freed
 * bitmaps as free.c does) and sweeps, and after every step each slot's
 * state is compared with the model: allocated, free, or freed-but-unswept.
 * The span never touches the memory it describes, so a fake base address is
 * used.  Replay: the seed is printed; pass it as argv[1].
 */
#include "mspan.h"
#include "sizeclass.h"
#include "testing.h"

#include <stdint.h>
#include <time.h>

enum { FREE, ALLOC, PENDING };

static uint64_t seed;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static void check_model(mspan *s, const unsigned char *model, unsigned cls, int step)
{
	for (uint32_t i = 0; i < s->nelems; i++) {
		bool want = model[i] == ALLOC;
		if (mspan_is_allocated(s, i) != want) {
			CHECKF(0, "class %u step %d slot %u: allocated=%d, model %d", cls, step, i,
			       mspan_is_allocated(s, i), model[i]);
			return;
		}
	}
}

static void test_span_model(void)
{
	const uintptr_t base = (uintptr_t)1 << 40;
	mspan *s = calloc(1, sizeof(mspan) + 3 * 16 * sizeof(uint64_t));
	unsigned char *model = malloc(1024);
	for (unsigned cls = 1; cls < NUM_SIZE_CLASSES; cls++) {
		mspan_init(s, base, class_to_allocnpages[cls], cls);
		memset(model, FREE, s->nelems);
		uint32_t nfree = s->nelems, npending = 0;
		for (int step = 0; step < 4000; step++) {
			unsigned r = (unsigned)(rnd() % 100);
			if (r < 55) { /* allocate */
				void *p = (rnd() & 1) ? mspan_next_free_fast(s) : NULL;
				uint32_t idx;
				if (p) {
					idx = (uint32_t)(((uintptr_t)p - base) / s->elemsize);
					CHECK(((uintptr_t)p - base) % s->elemsize == 0);
				} else {
					idx = mspan_next_free_index(s);
				}
				if (idx == s->nelems) {
					CHECKF(nfree == 0, "class %u: span reports full with %u free slots", cls, nfree);
				} else {
					REQUIRE(idx < s->nelems);
					CHECKF(model[idx] == FREE, "class %u: slot %u handed out twice", cls, idx);
					model[idx] = ALLOC;
					nfree--;
				}
			} else if (r < 90) { /* free a random allocated object */
				uint32_t idx = (uint32_t)(rnd() % s->nelems);
				if (model[idx] != ALLOC)
					continue;
				uint64_t m = (uint64_t)1 << (idx & 63);
				if (r < 72)
					span_local_word(s, idx / 64) |= m;
				else
					__atomic_fetch_or(&span_remote_word(s, idx / 64), m, __ATOMIC_SEQ_CST);
				model[idx] = PENDING;
				npending++;
			} else { /* sweep */
				uint32_t nfreed;
				uint32_t got = mspan_sweep(s, &nfreed);
				CHECKF(nfreed == npending, "class %u: sweep freed %u, model %u", cls, nfreed, npending);
				for (uint32_t i = 0; i < s->nelems; i++)
					if (model[i] == PENDING)
						model[i] = FREE;
				nfree += npending;
				npending = 0;
				CHECKF(got == nfree, "class %u: sweep reports %u free, model %u", cls, got, nfree);
				CHECK(s->alloc_count == s->nelems - nfree);
			}
			check_model(s, model, cls, step);
			if (t_failed_case)
				return;
		}
	}
	free(model);
	free(s);
}

static void test_large_span(void)
{
	mspan *s = calloc(1, sizeof(mspan) + 3 * sizeof(uint64_t));
	mspan_init(s, (uintptr_t)1 << 40, 100, 0);
	CHECK(s->nelems == 1 && s->elemsize == 100 * PAGE_BYTES && s->divmagic == 0);
	for (uintptr_t off = 0; off < 100 * PAGE_BYTES; off += 4093)
		CHECK(obj_index_of(s, off) == 0);
	CHECK(mspan_next_free_index(s) == 0);
	CHECK(mspan_is_allocated(s, 0));
	CHECK(mspan_next_free_index(s) == 1);
	free(s);
}

int main(int argc, char **argv)
{
	seed = argc > 1 ? strtoull(argv[1], NULL, 10) : (uint64_t)time(NULL);
	printf("seed=%llu\n", (unsigned long long)seed);
	seed = seed * 2654435761u + 1;
	RUN(test_span_model);
	RUN(test_large_span);
	TEST_EXIT();
}
