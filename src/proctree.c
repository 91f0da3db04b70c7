#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proctree.h"

struct pinfo {
	pid_t pid, ppid, pgid;
	char  state;
};

/* /proc/PID/stat: "pid (comm) S ppid pgrp ..."; comm may hold ')' and spaces. */
static int
read_stat(int procfd, const char *name, struct pinfo *pi)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;
	long ppid, pgid;

	snprintf(path, sizeof(path), "%s/stat", name);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	pi->state = p[2];
	if (sscanf(p + 3, " %ld %ld", &ppid, &pgid) != 2)
		return -1;
	pi->pid = (pid_t)atol(name);
	pi->ppid = (pid_t)ppid;
	pi->pgid = (pid_t)pgid;
	return 0;
}

/* A snapshot of the process table; the caller frees *out. */
static int
snapshot(struct pinfo **out, size_t *count)
{
	struct pinfo *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	d = opendir("/proc");
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			v = nv;
		}
		if (read_stat(dirfd(d), de->d_name, &v[n]) == 0)
			n++;
	}
	closedir(d);
	*out = v;
	*count = n;
	return 0;
}

static int
kept(pid_t pid, const pid_t *keep, size_t nkeep)
{
	size_t i;

	for (i = 0; i < nkeep; i++)
		if (keep[i] == pid)
			return 1;
	return 0;
}

/*
 * Mark descendants of root: repeated passes until nothing changes. The table
 * is small (every process on the machine), and this runs only on kills.
 */
static void
mark(const struct pinfo *v, size_t n, char *in, pid_t root, const pid_t *keep, size_t nkeep)
{
	int changed = 1;
	size_t i, j;

	memset(in, 0, n);
	while (changed) {
		changed = 0;
		for (i = 0; i < n; i++) {
			if (in[i] || kept(v[i].pid, keep, nkeep))
				continue;
			if (v[i].ppid == root) {
				in[i] = 1;
				changed = 1;
				continue;
			}
			for (j = 0; j < n; j++)
				if (in[j] && v[j].pid == v[i].ppid) {
					in[i] = 1;
					changed = 1;
					break;
				}
		}
	}
}

static unsigned long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

int
proctree_kill(pid_t root, pid_t pgid, const pid_t *keep, size_t nkeep, int reap,
    unsigned timeout_ms)
{
	unsigned long long deadline = now_ms() + timeout_ms;
	pid_t self = getpid();
	int total = 0;

	for (;;) {
		struct pinfo *v;
		size_t n, i;
		char *in;
		int live = 0, any = 0;

		if (snapshot(&v, &n) == -1)
			return -1;
		in = calloc(n ? n : 1, 1);
		if (in == NULL) {
			free(v);
			errno = ENOMEM;
			return -1;
		}
		mark(v, n, in, root, keep, nkeep);
		for (i = 0; i < n; i++) {
			if (v[i].pid == self || kept(v[i].pid, keep, nkeep))
				continue;
			if (!in[i] && !(pgid > 0 && v[i].pgid == pgid))
				continue;
			any = 1;
			if (v[i].state == 'Z' || v[i].state == 'X')
				continue;
			live = 1;
			if (kill(v[i].pid, SIGKILL) == 0)
				total++;
		}
		free(in);
		free(v);
		if (reap && root == self)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		if (!any || (!live && !(reap && root == self)))
			return total;
		if (now_ms() >= deadline)
			return total;
		/* Killed processes need a moment to become zombies and be reparented. */
		{
			struct timespec ts = { 0, 5 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
}

int
proctree_count(pid_t root)
{
	struct pinfo *v;
	size_t n, i;
	char *in;
	int c = 0;

	if (snapshot(&v, &n) == -1)
		return -1;
	in = calloc(n ? n : 1, 1);
	if (in == NULL) {
		free(v);
		return -1;
	}
	mark(v, n, in, root, NULL, 0);
	for (i = 0; i < n; i++)
		if (in[i] && v[i].state != 'Z' && v[i].state != 'X')
			c++;
	free(in);
	free(v);
	return c;
}
