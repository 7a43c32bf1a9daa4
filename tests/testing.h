/*
 * testing.h: the test harness shared by every test program.
 *
 * A test program calls RUN(fn) for each case; each case prints Go-style
 * "--- PASS: name" or "--- FAIL: name", and tests/run.sh counts those lines
 * across programs.  CHECK() failures print the expression and location and
 * mark the current case failed without stopping the program.
 */
#ifndef GORT_TESTING_H
#define GORT_TESTING_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_case, t_failures;

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "    %s:%d: CHECK failed: %s\n", __FILE__,     \
				__LINE__, #cond);                                   \
			t_failed_case = 1;                                          \
		}                                                                   \
	} while (0)

#define CHECKF(cond, ...)                                                           \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "    %s:%d: CHECK failed: %s: ", __FILE__,     \
				__LINE__, #cond);                                   \
			fprintf(stderr, __VA_ARGS__);                               \
			fputc('\n', stderr);                                        \
			t_failed_case = 1;                                          \
		}                                                                   \
	} while (0)

/* Stops the current case early (after reporting) when cond fails; cond is
 * evaluated once. */
#define REQUIRE(cond)                                                               \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "    %s:%d: REQUIRE failed: %s\n", __FILE__,   \
				__LINE__, #cond);                                   \
			t_failed_case = 1;                                          \
			return;                                                     \
		}                                                                   \
	} while (0)

#define RUN(fn)                                                                     \
	do {                                                                        \
		t_failed_case = 0;                                                  \
		fn();                                                               \
		fflush(stderr);                                                     \
		printf("--- %s: %s\n", t_failed_case ? "FAIL" : "PASS", #fn);     \
		fflush(stdout);                                                     \
		t_failures += t_failed_case;                                        \
	} while (0)

#define TEST_EXIT() return t_failures ? 1 : 0

/* For tests that look at call stacks (profiler, symbolizer): TEST_NOIPA
 * keeps a function a function of its own (not inlined, not cloned as
 * foo.constprop.0, not merged with an identical body); TEST_KEEP(p) keeps
 * p in a register after a call, so that the call is not a tail call. */
#if defined(__clang__)
#define TEST_NOIPA __attribute__((noinline, used))
#else
#define TEST_NOIPA __attribute__((noipa, used))
#endif
#define TEST_KEEP(p) __asm__ volatile("" : "+r"(p))

/* UNDER_TSAN: built with ThreadSanitizer, whose runtime cannot judge a few
 * tests (multi-threaded fork, signals to spinning threads, RSS); those
 * tests print "--- SKIP: name (reason)" instead. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

#endif
