/*
 * debugvars.c: the knob table (GORTDEBUG), after Go's dbgvars in runtime1.go.
 *
 * Each row names a key, where its value lives, its default and its range.
 * Parsing never allocates (the allocator may not be ready) and never fails:
 * an unknown key or a bad value is reported and the default stays.
 */
#include "debugvars.h"
#include "atomic.h"
#include "check.h"
#include "os.h"

#include <pthread.h>
#include <string.h>

/* Defaults hold before GORTDEBUG is read, since a bad free may come first. */
struct debugvars debug = {.madvdontneed = 1, .scavenger = 1, .scavtrace = 0, .badfree = 1,
			  .gctrace = 0, .gccheckmark = 0, .gcpoison = 0,
			  .memprofilerate = -1, .heapprofilesignal = 12, .containermaxprocs = 1};

static const struct dbgvar {
	const char *name;
	int *value;
	int def, min, max;
} dbgvars[] = {
	{"madvdontneed", &debug.madvdontneed, 1, 0, 1},
	{"scavenger", &debug.scavenger, 1, 0, 1},
	{"scavtrace", &debug.scavtrace, 0, 0, 1},
	{"badfree", &debug.badfree, 1, 0, 1},
	{"gctrace", &debug.gctrace, 0, 0, 2},
	{"gccheckmark", &debug.gccheckmark, 0, 0, 1},
	{"gcpoison", &debug.gcpoison, 0, 0, 1},
	{"memprofilerate", &debug.memprofilerate, -1, 0, 100000000},
	{"heapprofilesignal", &debug.heapprofilesignal, 12, 0, 64},
	{"disablethp", &debug.disablethp, 0, 0, 1},
	{"containermaxprocs", &debug.containermaxprocs, 1, 0, 1},
};

void debugvars_reset(void)
{
	for (size_t i = 0; i < ARRAY_LEN(dbgvars); i++)
		store_relaxed(dbgvars[i].value, dbgvars[i].def);
}

static void report(const char *what, const char *key, size_t keylen)
{
	char name[64];
	size_t n = keylen < sizeof name - 1 ? keylen : sizeof name - 1;
	memcpy(name, key, n);
	name[n] = 0;
	print_str("gort: GORTDEBUG: ");
	print_str(what);
	print_str(" \"");
	print_str(name);
	print_str("\"; ignored\n");
}

/* Parses a decimal int in [s, e); false if it is not one. */
static bool parse_int(const char *s, const char *e, long *out)
{
	bool neg = false;
	long v = 0;
	if (s < e && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	if (s == e)
		return false;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9' || v > 100000000)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return true;
}

void debugvars_parse(const char *s)
{
	while (s && *s) {
		const char *end = strchr(s, ',');
		if (!end)
			end = s + strlen(s);
		const char *eq = memchr(s, '=', (size_t)(end - s));
		if (end == s) {
			s = *end ? end + 1 : end;
			continue;
		}
		if (!eq) {
			report("missing value in", s, (size_t)(end - s));
		} else {
			size_t keylen = (size_t)(eq - s);
			const struct dbgvar *v = NULL;
			for (size_t i = 0; i < ARRAY_LEN(dbgvars); i++)
				if (strlen(dbgvars[i].name) == keylen && !memcmp(dbgvars[i].name, s, keylen))
					v = &dbgvars[i];
			long val;
			if (!v)
				report("unknown key", s, keylen);
			else if (!parse_int(eq + 1, end, &val) || val < v->min || val > v->max)
				report("bad value in", s, (size_t)(end - s));
			else
				store_relaxed(v->value, (int)val); /* tests re-parse while the scavenger runs */
		}
		s = *end ? end + 1 : end;
	}
}

static void debugvars_init_once(void)
{
	debugvars_reset();
	debugvars_parse(os_getenv("GORTDEBUG"));
}

void debugvars_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, debugvars_init_once);
}
