/*
 * osvec.h: a growable array in os_alloc memory, for the tables the
 * profile writer and the symbolizer build.  Neither may use malloc (gort
 * may be the malloc) nor the gort heap (its own bookkeeping must not show
 * in the heap it describes).  len and cap count elements; growth doubles,
 * so appends are amortized O(1); vec_free returns the memory to the OS.
 */
#ifndef GORT_OSVEC_H
#define GORT_OSVEC_H

#include "os.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct vec {
	void *p;
	uintptr_t len, cap;
} vec;

/* Room for more elements of size esz; false when the OS refuses. */
static inline bool vec_reserve(vec *v, uintptr_t esz, uintptr_t more)
{
	if (v->len + more <= v->cap)
		return true;
	uintptr_t ncap = v->cap ? v->cap * 2 : 4096 / esz + 1;
	while (ncap < v->len + more)
		ncap *= 2;
	if (ncap > (UINTPTR_MAX / 2) / esz)
		return false;
	void *q = os_alloc(ncap * esz);
	if (!q)
		return false;
	if (v->p) {
		memcpy(q, v->p, v->len * esz);
		os_free(v->p, v->cap * esz);
	}
	v->p = q;
	v->cap = ncap;
	return true;
}

static inline void vec_free(vec *v, uintptr_t esz)
{
	if (v->p)
		os_free(v->p, v->cap * esz);
	v->p = NULL;
	v->len = v->cap = 0;
}

#endif
