/*
 * stress_dlopen.c: collections and a loader at work, against a shadow of
 * what must survive.
 *
 * gort does not wrap dlopen: the collector lists the loaded objects'
 * writable segments before it stops the world, then checks the list
 * against the loader's own (r_debug) with the world stopped, and starts
 * over if a load or unload got in between (roots.c).
 *   library_globals_are_roots: objects whose only pointers are in a
 *     dlopen'ed library's globals (tests/stress/plugin) survive
 *     collections intact (gcpoison would show a freed one), and are
 *     finalized once the library is unloaded (all but the few a
 *     conservative root may pin).
 *   collect_while_loading: two threads dlopen and dlclose small glibc
 *     libraries as fast as they can (their handles in GC objects) while
 *     the main thread, holding a table of patterned objects (the shadow:
 *     which are live, what each holds), replaces some, forces 300
 *     collections and checks that every live object is intact and the
 *     replaced ones are finalized.  A collection that scanned the
 *     segments of a library unmapped after the listing would kill the
 *     program (it does, every run, without the check).
 */
#include "gort.h"
#include "testing.h"
#include "gctesting.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define LIVE 512
#define OBJ_BYTES 96
#define ROUNDS 300

static const char *const libs[] = {"libBrokenLocale.so.1", "libanl.so.1", "libutil.so.1", "libcrypt.so.1"};
enum { NLIBS = sizeof libs / sizeof libs[0] };

static unsigned char *live[LIVE]; /* the shadow's objects: roots by this global */
static uint32_t seed_of[LIVE];    /* ... and the pattern each must hold */
static void *handles[2];          /* the loader threads' GC objects */
static volatile int stop;
static unsigned long loads[2], finalized;

static void fill(unsigned char *p, uint32_t seed)
{
	for (int i = 0; i < OBJ_BYTES; i++)
		p[i] = (unsigned char)(seed * 31u + (uint32_t)i);
}

static int intact(const unsigned char *p, uint32_t seed)
{
	for (int i = 0; i < OBJ_BYTES; i++)
		if (p[i] != (unsigned char)(seed * 31u + (uint32_t)i))
			return 0;
	return 1;
}

static void on_final(void *obj, void *arg)
{
	(void)obj;
	(void)arg;
	__atomic_fetch_add(&finalized, 1, __ATOMIC_RELAXED);
}

/* --- A loaded library's globals as roots */

#define PLUG_OBJS 64
static uintptr_t plug_hidden[PLUG_OBJS]; /* hidden: no root of their own */
static unsigned long plug_finalized;

static void on_plug_final(void *obj, void *arg)
{
	(void)obj;
	(void)arg;
	__atomic_fetch_add(&plug_finalized, 1, __ATOMIC_RELAXED);
}

/* The plugin sits beside the test programs: build/MODE/progs. */
static void plug_path(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	buf[n > 0 ? n : 0] = 0;
	char *cut = strstr(buf, "/tests/stress/");
	if (cut)
		*cut = 0;
	strncat(buf, "/progs/librootplug.so", cap - strlen(buf) - 1);
}

static NOINLINE void plug_fill(void (*set)(int, void *))
{
	for (int i = 0; i < PLUG_OBJS; i++) {
		unsigned char *p = gort_alloc(OBJ_BYTES, GORT_NOSCAN);
		fill(p, (uint32_t)i + 1000);
		set(i, p);
		plug_hidden[i] = hide(p);
	}
}

/* Only once they have been checked: an object with a finalizer outlives
 * its last root by a cycle (its finalizer's argument), and would read
 * intact either way. */
static NOINLINE void plug_set_finalizers(void)
{
	for (int i = 0; i < PLUG_OBJS; i++)
		gort_set_finalizer(unhide(plug_hidden[i]), on_plug_final, NULL);
}

static NOINLINE int plug_intact(void *(*get)(int))
{
	int ok = 0;
	for (int i = 0; i < PLUG_OBJS; i++)
		ok += get(i) == unhide(plug_hidden[i]) && intact(get(i), (uint32_t)i + 1000);
	return ok;
}

static void test_library_globals_are_roots(void)
{
	char path[4096];
	plug_path(path, sizeof path);
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CHECKF(h != NULL, "dlopen %s: %s", path, dlerror());
	if (!h)
		return;
	void (*set)(int, void *) = (void (*)(int, void *))dlsym(h, "rootplug_set");
	void *(*get)(int) = (void *(*)(int))dlsym(h, "rootplug_get");
	REQUIRE(set && get);
	plug_fill(set);
	for (int r = 0; r < 3; r++) {
		wipe_stack();
		gort_gc();
		for (int j = 0; j < 200; j++) /* the freed slots, if any, taken again */
			memset(gort_alloc(OBJ_BYTES, GORT_NOSCAN), 0x11, OBJ_BYTES);
	}
	CHECKF(plug_intact(get) == PLUG_OBJS, "only %d of %d objects held by the library's globals survived",
	       plug_intact(get), PLUG_OBJS);
	plug_set_finalizers();
	dlclose(h);
	/* Conservative roots may pin one or two of them (an ASan run kept one
	 * of 64 through 300 collections); a library still scanned after
	 * dlclose would fault or keep them all. */
	enum { PLUG_MAY_PIN = 4 };
	for (int r = 0; r < 300 && __atomic_load_n(&plug_finalized, __ATOMIC_RELAXED) < PLUG_OBJS; r++) {
		wipe_stack();
		gort_gc();
		usleep(10000);
		if (r >= 50 && __atomic_load_n(&plug_finalized, __ATOMIC_RELAXED) >= PLUG_OBJS - PLUG_MAY_PIN)
			break;
	}
	CHECKF(__atomic_load_n(&plug_finalized, __ATOMIC_RELAXED) >= PLUG_OBJS - PLUG_MAY_PIN,
	       "after dlclose, %lu of %d objects the library held were finalized",
	       __atomic_load_n(&plug_finalized, __ATOMIC_RELAXED), PLUG_OBJS);
}

/* --- Collections while other threads load and unload */

static void *loader(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg, k = me;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		void **box = gort_alloc(NLIBS * sizeof *box, 0); /* conservative: holds the handles */
		handles[me] = box;
		for (int i = 0; i < NLIBS; i++)
			box[i] = dlopen(libs[(k + (unsigned)i) % NLIBS], RTLD_NOW | RTLD_LOCAL);
		for (int i = NLIBS; i-- > 0;)
			if (box[i])
				dlclose(box[i]);
		k++;
		__atomic_fetch_add(&loads[me], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_collect_while_loading(void)
{
	int opened = 0;
	for (int i = 0; i < NLIBS; i++) {
		void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
		opened += h != NULL;
		if (h)
			dlclose(h);
	}
	REQUIRE(opened > 0);
	uint64_t s = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < LIVE; i++) {
		live[i] = gort_alloc(OBJ_BYTES, GORT_NOSCAN);
		seed_of[i] = (uint32_t)i;
		fill(live[i], seed_of[i]);
	}
	pthread_t t[2];
	for (unsigned i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, loader, (void *)(uintptr_t)i) == 0);
	gort_memstats m0, m1;
	gort_read_memstats(&m0);
	unsigned long replaced = 0;
	int bad = 0;
	for (int r = 0; r < ROUNDS && !bad; r++) {
		for (int j = 0; j < 8; j++) { /* replace a few: the old ones die */
			s ^= s << 13, s ^= s >> 7, s ^= s << 17;
			int i = (int)(s % LIVE);
			gort_set_finalizer(live[i], on_final, NULL);
			live[i] = gort_alloc(OBJ_BYTES, GORT_NOSCAN);
			seed_of[i] = (uint32_t)(s >> 32);
			fill(live[i], seed_of[i]);
			replaced++;
		}
		gort_gc();
		for (int i = 0; i < LIVE; i++)
			if (!intact(live[i], seed_of[i]) && bad++ == 0)
				CHECKF(0, "round %d: live object %d (%p) overwritten after a collection", r, i,
				       (void *)live[i]);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	gort_read_memstats(&m1);
	for (int i = 0; i < 500 && __atomic_load_n(&finalized, __ATOMIC_RELAXED) * 10 < replaced * 9; i++) {
		wipe_stack();
		gort_gc();
		usleep(10000);
	}
	printf("    %u collections, %lu + %lu rounds of %d loads, %lu of %lu replaced objects finalized\n",
	       m1.num_gc - m0.num_gc, loads[0], loads[1], opened, __atomic_load_n(&finalized, __ATOMIC_RELAXED),
	       replaced);
	CHECK(m1.num_gc - m0.num_gc >= ROUNDS);
	CHECK(loads[0] + loads[1] > 0);
	/* Conservative stacks may pin a few of the dead. */
	CHECKF(__atomic_load_n(&finalized, __ATOMIC_RELAXED) * 10 >= replaced * 9, "only %lu of %lu finalized",
	       __atomic_load_n(&finalized, __ATOMIC_RELAXED), replaced);
}

int main(int argc, char **argv)
{
	(void)argc;
#ifdef UNDER_TSAN
	/* The loader's locks are out of its sight (ld.so is not instrumented):
	 * every object the loader allocates in one thread and frees in the
	 * other is reported, and its own dlopen interceptor takes locks a
	 * thread stopped for a collection may hold. */
	printf("--- SKIP: test_library_globals_are_roots, test_collect_while_loading (ThreadSanitizer cannot see "
	       "the dynamic loader's locks)\n");
	return 0;
#endif
	reexec_with(argv, "gcpoison=1");
	alarm(300);
	RUN(test_library_globals_are_roots);
	RUN(test_collect_while_loading);
	TEST_EXIT();
}
