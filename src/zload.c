/*
 * zload.c: loads zlib on first use (zload.h says why) and gives it
 * os_alloc-backed memory.  The table is filled once under pthread_once
 * and read-only after.  A block's size, which os_free needs, is kept in
 * the 16 bytes before it, which keeps zlib's blocks 16-byte aligned.
 */
#include "zload.h"
#include "atomic.h"
#include "os.h"
#include "check.h"
#include "mgc.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

const char *zload_soname = "libz.so.1";

static struct zlib_api api;
static bool loaded; /* atomic: set once api is complete */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

#define ZSYM(name) ((api.name = (__typeof__(api.name))dlsym(h, #name)) != NULL)

static void load(void)
{
	void *h = roots_dlopen(zload_soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		print_str("gort: zlib unavailable (");
		print_str(why ? why : "dlopen failed");
		print_str("): profiles are written uncompressed\n");
		print_flush();
		return;
	}
	if (ZSYM(deflateInit2_) && ZSYM(deflate) && ZSYM(deflateEnd) && ZSYM(inflateInit_) &&
	    ZSYM(inflate) && ZSYM(inflateEnd)) {
		store_release(&loaded, true);
		return;
	}
	print_str("gort: libz.so.1 lacks a deflate or inflate entry point: profiles are written uncompressed\n");
	print_flush();
	roots_dlclose(h);
}

const struct zlib_api *zload(void)
{
	pthread_once(&load_once, load);
	return zloaded();
}

const struct zlib_api *zloaded(void)
{
	return load_acquire(&loaded) ? &api : NULL;
}

static voidpf zalloc_os(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	uintptr_t n = (uintptr_t)items * size + 16;
	char *p = os_alloc(n);
	if (!p)
		return Z_NULL;
	*(uintptr_t *)p = n;
	return p + 16;
}

static void zfree_os(voidpf opaque, voidpf ptr)
{
	(void)opaque;
	if (ptr) {
		char *p = (char *)ptr - 16;
		os_free(p, *(uintptr_t *)p);
	}
}

void z_init(z_stream *z)
{
	memset(z, 0, sizeof *z);
	z->zalloc = zalloc_os;
	z->zfree = zfree_os;
}
