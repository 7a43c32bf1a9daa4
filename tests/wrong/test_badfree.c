/*
 * test_badfree.c: misuse must be caught.  Each case runs in a child
 * process (this program re-executed with the case name) and the parent
 * checks the exit status and the exact "fatal error:" line on stderr.
 */
#include "gort.h"
#include "testing.h"

#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static const char *self;

static int a_global;

static void *free_arg(void *p)
{
	gort_free(p);
	return NULL;
}

/* Runs in the child; prints the address it will misuse on stdout. */
static int child(const char *name)
{
	void *p = NULL;
	int on_stack = 0;
	if (!strcmp(name, "stack")) {
		p = &on_stack;
	} else if (!strcmp(name, "global")) {
		p = &a_global;
	} else if (!strcmp(name, "libc")) {
		p = malloc(64);
	} else if (!strcmp(name, "interior")) {
		p = (char *)gort_malloc(64) + 8;
	} else if (!strcmp(name, "interior_large")) {
		p = (char *)gort_malloc(1 << 20) + 4096;
	} else if (!strcmp(name, "double") || !strcmp(name, "double_warn")) {
		p = gort_malloc(32);
		gort_free(p);
	} else if (!strcmp(name, "double_remote")) {
		p = gort_malloc(32);
		pthread_t t;
		pthread_create(&t, NULL, free_arg, p);
		pthread_join(t, NULL);
	} else if (!strcmp(name, "double_after_release")) {
		/* Freed, then swept and its span given back to the page heap. */
		p = gort_malloc(3000);
		gort_free(p);
		gort_free_os_memory();
	} else if (!strcmp(name, "double_large")) {
		p = gort_malloc(1 << 20);
		gort_free(p);
	} else if (!strcmp(name, "realloc")) {
		printf("%p\n", (void *)&a_global);
		fflush(stdout);
		gort_realloc(&a_global, 10);
		return 0;
	}
	printf("%p\n", p);
	fflush(stdout);
	gort_free(p);
	printf("survived\n");
	return 0;
}

/* Runs case name with env, returns exit status; captures output. */
static int run_case(const char *name, const char *env, char *out, size_t outlen, char *err, size_t errlen)
{
	int po[2], pe[2];
	if (pipe(po) || pipe(pe))
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	char *argv[] = {(char *)self, (char *)name, NULL};
	char *envp[] = {(char *)env, NULL};
	pid_t pid;
	if (posix_spawn(&pid, self, &fa, NULL, argv, env ? envp : environ) != 0)
		return -1;
	close(po[1]);
	close(pe[1]);
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
	posix_spawn_file_actions_destroy(&fa);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void expect_fatal(const char *name, const char *msg)
{
	char out[256], err[4096], want[600];
	int rc = run_case(name, NULL, out, sizeof out, err, sizeof err);
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = 0;
	snprintf(want, sizeof want, "fatal error: %s %s\n", msg, out);
	CHECKF(rc == 2, "%s: exit status %d, want 2", name, rc);
	CHECKF(strstr(err, want) != NULL, "%s: stderr %s lacks \"%s\"", name, err, want);
}

static void test_invalid_pointers(void)
{
	expect_fatal("stack", "gort_free: invalid pointer");
	expect_fatal("global", "gort_free: invalid pointer");
	expect_fatal("libc", "gort_free: invalid pointer");
	expect_fatal("interior", "gort_free: invalid pointer");
	expect_fatal("interior_large", "gort_free: invalid pointer");
	expect_fatal("realloc", "gort_realloc: invalid pointer");
}

static void test_double_free(void)
{
	expect_fatal("double", "gort_free: double free");
	expect_fatal("double_remote", "gort_free: double free");
	expect_fatal("double_after_release", "gort_free: double free");
	expect_fatal("double_large", "gort_free: double free");
}

static void test_badfree_warn(void)
{
	char out[256], err[4096];
	int rc = run_case("double_warn", "GORTDEBUG=badfree=0", out, sizeof out, err, sizeof err);
	CHECKF(rc == 0, "exit status %d", rc);
	CHECK(strstr(out, "survived") != NULL);
	CHECKF(strstr(err, "gort: gort_free: double free 0x") != NULL, "stderr: %s", err);
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 1)
		return child(argv[1]);
	RUN(test_invalid_pointers);
	RUN(test_double_free);
	RUN(test_badfree_warn);
	TEST_EXIT();
}
