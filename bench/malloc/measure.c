/*
 * measure.c: runs a command and reports its wall time, CPU time and peak RSS
 * (wait4's rusage), as /usr/bin/time would.
 *
 *   measure [-p LIB] [-t SECONDS] [-o FILE] COMMAND [ARG...]
 *
 *   -p LIB      run the command with LD_PRELOAD=LIB (only the command:
 *               measure itself runs with the C library's malloc); -p ''
 *               runs it with LD_PRELOAD unset
 *   -t SECONDS  kill the command (SIGKILL, its process group) after SECONDS
 *   -o FILE     write the result line to FILE instead of stderr
 *
 * The command's stdin, stdout and stderr are measure's.  When it ends, one
 * line is written:
 *   wall_s=<s> user_s=<s> sys_s=<s> rss_kb=<peak RSS, KiB>
 * and measure exits with the command's status: 128 + signal if it was
 * killed, 124 if it timed out, 127 if it could not be started.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child, timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (child > 0)
		kill(-child, SIGKILL);
}

static void forward(int sig)
{
	if (child > 0)
		kill(-child, sig);
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static void usage(void)
{
	fprintf(stderr, "usage: measure [-p LIB] [-t SECONDS] [-o FILE] COMMAND [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *preload = NULL, *out = NULL;
	unsigned timeout = 0;
	int opt;

	while ((opt = getopt(argc, argv, "+p:t:o:")) != -1) {
		switch (opt) {
		case 'p': preload = optarg; break;
		case 't': timeout = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();

	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = forward;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 2;
	}
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (preload && *preload)
			setenv("LD_PRELOAD", preload, 1);
		else if (preload)
			unsetenv("LD_PRELOAD");
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "measure: cannot run %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* also here, so that kill(-pid) works from the start */
	child = pid;
	if (timeout)
		alarm(timeout);

	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("measure: wait4");
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);

	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	FILE *f = out ? fopen(out, "w") : stderr;
	if (!f) {
		fprintf(stderr, "measure: cannot write %s: %s\n", out, strerror(errno));
		return 2;
	}
	fprintf(f, "wall_s=%.6f user_s=%.6f sys_s=%.6f rss_kb=%ld\n", wall, tv_s(ru.ru_utime),
		tv_s(ru.ru_stime), ru.ru_maxrss);
	if (out)
		fclose(f);
	if (timed_out)
		return 124;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 2;
}
