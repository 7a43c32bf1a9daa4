/*
 * rtime.c: runs a command and reports its wall time, CPU time (user + sys)
 * and peak RSS, as /usr/bin/time would, with microsecond resolution.
 *
 *   rtime OUTFILE COMMAND [ARG...]
 *
 * The command's stdin, stdout and stderr are the caller's.  When it ends,
 * one line goes to OUTFILE:
 *   wall_s=<s> cpu_s=<user+sys s> user_s=<s> sys_s=<s> rss_kb=<peak RSS>
 * and rtime exits with the command's status (128 + signal if it was killed,
 * 127 if it could not be started).
 */
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

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: rtime OUTFILE COMMAND [ARG...]\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("rtime: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "rtime: cannot run %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("rtime: wait4");
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	double user = tv_s(ru.ru_utime), sys = tv_s(ru.ru_stime);
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		fprintf(stderr, "rtime: cannot write %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	fprintf(f, "wall_s=%.6f cpu_s=%.6f user_s=%.6f sys_s=%.6f rss_kb=%ld\n", wall, user + sys, user, sys,
		ru.ru_maxrss);
	fclose(f);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 2;
}
