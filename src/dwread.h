/*
 * dwread.h: a bounds-checked cursor over ELF and DWARF data (fixed-size
 * integers in the host's byte order, LEB128, strings), shared by the
 * symbolizer (symtab.c) and the call-frame walker (cfi.c).  Reading past
 * the end sets bad and yields zeros, so parsers check once at the end.
 */
#ifndef GORT_DWREAD_H
#define GORT_DWREAD_H

#include "rt.h"

#include <string.h>

/* A bounds-checked cursor: reading past end sets bad and yields zeros. */
typedef struct rd {
	const uint8_t *p, *end;
	bool bad;
} rd;

GORT_INLINE uint64_t rd_uint(rd *r, unsigned n)
{
	if ((uintptr_t)(r->end - r->p) < n) {
		r->bad = true;
		r->p = r->end;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned b = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? n - 1 - i : i;
		v = v << 8 | r->p[b];
	}
	r->p += n;
	return v;
}

GORT_INLINE uint64_t rd_uleb(rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	for (;;) {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		uint8_t b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
}

GORT_INLINE int64_t rd_sleb(rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;
	do {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return (int64_t)v;
}

GORT_INLINE void rd_skip(rd *r, uint64_t n)
{
	if ((uint64_t)(r->end - r->p) < n) {
		r->bad = true;
		r->p = r->end;
		return;
	}
	r->p += n;
}

/* A NUL-terminated string at the cursor. */
GORT_INLINE const char *rd_cstr(rd *r)
{
	const uint8_t *z = r->p < r->end ? memchr(r->p, 0, (uintptr_t)(r->end - r->p)) : NULL;
	if (!z) {
		r->bad = true;
		r->p = r->end;
		return NULL;
	}
	const char *s = (const char *)r->p;
	r->p = z + 1;
	return s;
}

#endif
