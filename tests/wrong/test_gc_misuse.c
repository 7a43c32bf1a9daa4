/*
 * test_gc_misuse.c: misuse of the collected heap must stop the program
 * with Go's "fatal error:" line and exit status 2.  Each case runs in a
 * child process (this program re-executed with the case name); the parent
 * checks the status and the message on stderr, with the exact address
 * where the message carries one (the child prints it on stdout first).
 *
 *   gort_free of a GC object (small, large, typed);
 *   gort_new / gort_new_array with a corrupt descriptor: bad magic, size 0,
 *     offsets not ascending, not 8-aligned, or past the size (descriptors
 *     built by hand with the pointer mask GORT_TYPE would compute, so that
 *     only the named defect is wrong), and a mask that disagrees with the
 *     offsets;
 *   gort_new_array whose n * size overflows;
 *   gort_alloc of an impossible size;
 *   gort_set_finalizer on an interior pointer, a manual-heap pointer, a
 *     stack address.
 * A control case (valid calls) must exit 0, so a child that always died
 * would not pass.
 */
#include "gort.h"
#include "testing.h"

#include <spawn.h>
#include <stdint.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static const char *self;

struct two {
	void *a;
	void *b;
	uint64_t n;
};
GORT_TYPE(two_type, struct two, a, b);

static void noop_fin(void *obj, void *arg)
{
	(void)obj;
	(void)arg;
}

/* A descriptor of size bytes with pointers at offs[0..n), its mask
 * computed as GORT_TYPE computes it. */
static gort_type hand_type(size_t size, const size_t *offs, uint32_t n)
{
	uint64_t mask = 0;
	for (uint32_t i = 0; i < n; i++)
		mask |= offs[i] < 512 ? (uint64_t)1 << (offs[i] / 8 % 64) : 0;
	gort_type t = {GORT_TYPE_MAGIC, n, size, 8, "hand", offs, mask};
	return t;
}

static void say(const void *p)
{
	printf("%p\n", p);
	fflush(stdout);
}

/* Runs in the child; prints the address it will misuse (if any) on stdout,
 * then misuses it; "survived" if it was not stopped. */
static int child(const char *name)
{
	static const size_t desc_offs[] = {16, 8};
	static const size_t unaligned_offs[] = {4};
	static const size_t past_offs[] = {24};
	static const size_t ok_offs[] = {0, 16};
	static const size_t big_offs[] = {8, 4096};
	int on_stack = 0;

	if (!strcmp(name, "control")) {
		void *p = gort_alloc(64, 0);
		struct two *t = gort_new(&two_type);
		struct two *arr = gort_new_array(&two_type, 1000);
		gort_type ok = hand_type(24, ok_offs, 2);
		void *q = gort_new(&ok);
		void *r = gort_new_array(&ok, 3);
		gort_type big = hand_type(8192, big_offs, 2);
		void *s = gort_new(&big);
		gort_set_finalizer(p, noop_fin, NULL);
		gort_set_finalizer(arr, noop_fin, NULL);
		gort_set_finalizer(p, NULL, NULL);
		gort_free(gort_malloc(16));
		void *z = gort_alloc(0, 0);
		gort_gc();
		gort_keep_alive(t);
		gort_keep_alive(q);
		gort_keep_alive(r);
		gort_keep_alive(s);
		gort_keep_alive(z);
		printf("survived\n");
		return 0;
	}
	if (!strcmp(name, "free_small") || !strcmp(name, "free_large") || !strcmp(name, "free_typed") ||
	    !strcmp(name, "free_noscan")) {
		void *p = !strcmp(name, "free_small")   ? gort_alloc(48, 0)
			  : !strcmp(name, "free_large") ? gort_alloc(1 << 20, 0)
			  : !strcmp(name, "free_noscan") ? gort_alloc(100, GORT_NOSCAN)
							 : gort_new(&two_type);
		say(p);
		gort_free(p);
	} else if (!strcmp(name, "new_magic") || !strcmp(name, "array_magic")) {
		gort_type t = two_type;
		t.magic ^= 1;
		say(&t);
		if (name[0] == 'n')
			gort_new(&t);
		else
			gort_new_array(&t, 4);
	} else if (!strcmp(name, "new_size0") || !strcmp(name, "array_size0")) {
		gort_type t = hand_type(0, NULL, 0);
		say(&t);
		if (name[0] == 'n')
			gort_new(&t);
		else
			gort_new_array(&t, 4);
	} else if (!strcmp(name, "new_unsorted") || !strcmp(name, "array_unsorted")) {
		gort_type t = hand_type(24, desc_offs, 2);
		say(&t);
		if (name[0] == 'n')
			gort_new(&t);
		else
			gort_new_array(&t, 4);
	} else if (!strcmp(name, "new_unaligned") || !strcmp(name, "array_unaligned")) {
		gort_type t = hand_type(24, unaligned_offs, 1);
		say(&t);
		if (name[0] == 'n')
			gort_new(&t);
		else
			gort_new_array(&t, 4);
	} else if (!strcmp(name, "new_past") || !strcmp(name, "array_past")) {
		gort_type t = hand_type(24, past_offs, 1);
		say(&t);
		if (name[0] == 'n')
			gort_new(&t);
		else
			gort_new_array(&t, 4);
	} else if (!strcmp(name, "new_mask")) {
		/* Offsets fine, mask empty: the two disagree. */
		gort_type t = hand_type(24, ok_offs, 2);
		t.ptrmask = 0;
		say(&t);
		gort_new(&t);
	} else if (!strcmp(name, "array_overflow")) {
		say(NULL);
		gort_new_array(&two_type, SIZE_MAX / 8);
	} else if (!strcmp(name, "array_overflow2")) {
		say(NULL);
		gort_new_array(&two_type, (SIZE_MAX / sizeof(struct two)) + 2);
	} else if (!strcmp(name, "alloc_half")) {
		say(NULL);
		gort_alloc(SIZE_MAX / 2, 0);
	} else if (!strcmp(name, "alloc_max")) {
		say(NULL);
		gort_alloc(SIZE_MAX, GORT_NOSCAN);
	} else if (!strcmp(name, "alloc_past_ram")) {
		say(NULL);
		gort_alloc((size_t)1 << 45, GORT_NOSCAN); /* in range, past RAM + swap */
	} else if (!strcmp(name, "fin_interior")) {
		char *p = gort_alloc(64, 0);
		say(p + 8);
		gort_set_finalizer(p + 8, noop_fin, NULL);
	} else if (!strcmp(name, "fin_interior_large")) {
		char *p = gort_alloc(1 << 20, 0);
		say(p + 4096);
		gort_set_finalizer(p + 4096, noop_fin, NULL);
	} else if (!strcmp(name, "fin_manual")) {
		void *p = gort_malloc(64);
		say(p);
		gort_set_finalizer(p, noop_fin, NULL);
	} else if (!strcmp(name, "fin_stack")) {
		say(&on_stack);
		gort_set_finalizer(&on_stack, noop_fin, NULL);
	} else {
		printf("unknown case\n");
		return 1;
	}
	printf("survived\n");
	return 0;
}

static int run_case(const char *name, char *out, size_t outlen, char *err, size_t errlen)
{
	int po[2], pe[2];
	if (pipe(po) || pipe(pe))
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	char *argv[] = {(char *)self, (char *)name, NULL};
	pid_t pid;
	int r = posix_spawn(&pid, self, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (r != 0)
		return -1;
	ssize_t n;
	size_t got = 0;
	while (got < outlen - 1 && (n = read(po[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	got = 0;
	while (got < errlen - 1 && (n = read(pe[0], err + got, errlen - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = 0;
	close(po[0]);
	close(pe[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The case must exit 2 with "fatal error: msg" on stderr; with_addr: the
 * line is exactly "fatal error: msg 0x<addr>" for the address the child
 * printed; else msg is a prefix of the line. */
static void expect_fatal(const char *name, const char *msg, int with_addr)
{
	char out[256], err[4096], want[600];
	int rc = run_case(name, out, sizeof out, err, sizeof err);
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = 0;
	if (with_addr)
		snprintf(want, sizeof want, "fatal error: %s %s\n", msg, out);
	else
		snprintf(want, sizeof want, "fatal error: %s", msg);
	CHECKF(rc == 2, "%s: exit status %d, want 2 (stdout: %s; stderr: %s)", name, rc, out, err);
	/* At the start of a line. */
	const char *hit = strstr(err, want);
	CHECKF(hit && (hit == err || hit[-1] == '\n'), "%s: stderr \"%s\" lacks \"%s\"", name, err, want);
}

static void test_control(void)
{
	char out[256], err[4096];
	int rc = run_case("control", out, sizeof out, err, sizeof err);
	CHECKF(rc == 0 && strstr(out, "survived"), "valid calls: exit status %d, stdout %s, stderr %s", rc, out, err);
	CHECKF(!strstr(err, "fatal error"), "valid calls: stderr %s", err);
}

static void test_free_gc_object(void)
{
	expect_fatal("free_small", "gort_free: pointer to a garbage-collected object", 1);
	expect_fatal("free_noscan", "gort_free: pointer to a garbage-collected object", 1);
	expect_fatal("free_large", "gort_free: pointer to a garbage-collected object", 1);
	expect_fatal("free_typed", "gort_free: pointer to a garbage-collected object", 1);
}

static void test_bad_descriptor(void)
{
	static const char *const cases[] = {"magic", "size0", "unsorted", "unaligned", "past"};
	char name[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(name, sizeof name, "new_%s", cases[i]);
		expect_fatal(name, "gort_new: bad type descriptor", 0);
		snprintf(name, sizeof name, "array_%s", cases[i]);
		/* gort_new_array reports through gort_new's check. */
		expect_fatal(name, "gort_new: bad type descriptor", 0);
	}
	expect_fatal("new_mask", "gort_new: bad type descriptor", 0);
}

static void test_size_overflow(void)
{
	expect_fatal("array_overflow", "gort_new_array: size overflow", 0);
	expect_fatal("array_overflow2", "gort_new_array: size overflow", 0);
	expect_fatal("alloc_half", "gort_alloc: size out of range", 0);
	expect_fatal("alloc_max", "gort_alloc: size out of range", 0);
	/* Not an OOM kill: the runtime's own out-of-memory report. */
	struct sysinfo si;
	REQUIRE(sysinfo(&si) == 0);
	if (((uint64_t)si.totalram + si.totalswap) * si.mem_unit < ((uint64_t)1 << 45) / 64)
		expect_fatal("alloc_past_ram", "runtime: out of memory", 0);
	else
		printf("    SKIP: 32 TiB is within 64 x this machine's RAM + swap\n");
}

static void test_finalizer_not_at_start(void)
{
	const char *msg = "gort_set_finalizer: pointer not at beginning of allocated block";
	expect_fatal("fin_interior", msg, 1);
	expect_fatal("fin_interior_large", msg, 1);
	expect_fatal("fin_manual", msg, 1);
	expect_fatal("fin_stack", msg, 1);
}

int main(int argc, char **argv)
{
	self = "/proc/self/exe";
	if (argc > 1)
		return child(argv[1]);
	RUN(test_control);
	RUN(test_free_gc_object);
	RUN(test_bad_descriptor);
	RUN(test_size_overflow);
	RUN(test_finalizer_not_at_start);
	TEST_EXIT();
}
