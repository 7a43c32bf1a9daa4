/*
 * fixalloc.c: persistent_alloc and fixalloc (see fixalloc.h).
 *
 * Invariants: persistent chunks are never returned to the OS; a fixalloc
 * record is either on f->list, in the bump chunk, or handed out, and
 * inuse counts exactly the handed-out bytes.  persistent_lock is a leaf
 * lock: it may be taken with the heap lock or the cache lock held.
 */
#include "crit.h"
#include "fixalloc.h"
#include "check.h"
#include "os.h"

#include <pthread.h>
#include <string.h>

#define PERSISTENT_CHUNK_BYTES (256 << 10)
#define PERSISTENT_DIRECT_BYTES (64 << 10) /* larger requests map their own memory */
#define FIXALLOC_FIRST_BYTES (1 << 10)  /* a fixalloc's first chunk; each next one doubles */
#define FIXALLOC_CHUNK_BYTES (16 << 10) /* ... up to this */

static pthread_mutex_t persistent_lock = PTHREAD_MUTEX_INITIALIZER;
static char *persistent_cur;
static uintptr_t persistent_left;
static uintptr_t persistent_sys;

void *persistent_try_alloc(uintptr_t size, uintptr_t align)
{
	if (align == 0)
		align = 8;
	GORT_ASSERT(1, is_pow2(align) && align <= 4096);
	if (size >= PERSISTENT_DIRECT_BYTES) {
		uintptr_t n = align_up(size, os_phys_page_bytes());
		void *p = os_alloc(n);
		if (p)
			__atomic_fetch_add(&persistent_sys, n, __ATOMIC_RELAXED);
		return p;
	}
	mutex_lock(&persistent_lock);
	uintptr_t pad = align_up((uintptr_t)persistent_cur, align) - (uintptr_t)persistent_cur;
	if (!persistent_cur || pad + size > persistent_left) {
		char *chunk = os_alloc(PERSISTENT_CHUNK_BYTES);
		if (!chunk) { /* the old chunk stays, for smaller requests */
			mutex_unlock(&persistent_lock);
			return NULL;
		}
		persistent_cur = chunk;
		persistent_left = PERSISTENT_CHUNK_BYTES;
		__atomic_fetch_add(&persistent_sys, PERSISTENT_CHUNK_BYTES, __ATOMIC_RELAXED);
		pad = 0;
	}
	void *p = persistent_cur + pad;
	persistent_cur += pad + size;
	persistent_left -= pad + size;
	mutex_unlock(&persistent_lock);
	return p;
}

void *persistent_alloc(uintptr_t size, uintptr_t align)
{
	void *p = persistent_try_alloc(size, align);
	if (!p)
		gort_throw("runtime: cannot allocate memory for runtime metadata");
	return p;
}

void persistent_fork_lock(void)
{
	mutex_lock(&persistent_lock);
}

void persistent_fork_unlock(void)
{
	mutex_unlock(&persistent_lock);
}

uintptr_t persistent_sys_bytes(void)
{
	return __atomic_load_n(&persistent_sys, __ATOMIC_RELAXED);
}

void fixalloc_init(fixalloc *f, uintptr_t size)
{
	memset(f, 0, sizeof *f);
	f->size = align_up(size, 16);
}

void *fixalloc_alloc(fixalloc *f, bool zero)
{
	void *p = fixalloc_try_alloc(f, zero);
	if (!p)
		gort_throw("runtime: cannot allocate memory for runtime metadata");
	return p;
}

void *fixalloc_try_alloc(fixalloc *f, bool zero)
{
	void *p;
	if (f->list) {
		p = f->list;
		f->list = *(void **)p;
		if (zero)
			memset(p, 0, f->size);
		else
			*(void **)p = NULL;
	} else {
		if (f->nchunk < f->size) {
			/* Small first chunks: the first records of every fixalloc
			 * share the same few pages, so a small program touches
			 * those rather than a page per kind of record. */
			uintptr_t n = f->sys ? f->sys : FIXALLOC_FIRST_BYTES;
			if (n > FIXALLOC_CHUNK_BYTES)
				n = FIXALLOC_CHUNK_BYTES;
			if (n < f->size)
				n = f->size;
			char *chunk = persistent_try_alloc(n, 64);
			if (!chunk)
				return NULL;
			f->chunk = chunk;
			f->nchunk = n;
			f->sys += n;
		}
		p = f->chunk; /* fresh: already zero */
		f->chunk += f->size;
		f->nchunk -= f->size;
	}
	f->inuse += f->size;
	return p;
}

void fixalloc_free(fixalloc *f, void *p)
{
	f->inuse -= f->size;
	*(void **)p = f->list;
	f->list = p;
}
