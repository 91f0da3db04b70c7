#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proctree.h"

/* glibc 2.36 has wrappers, older ones do not: the system calls are the same. */
static int
pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0U);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static int
pidfd_signal_(int fd, int sig)
{
#ifdef SYS_pidfd_send_signal
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0U);
#else
	(void)fd;
	(void)sig;
	errno = ENOSYS;
	return -1;
#endif
}

const char *
proctree_method(void)
{
	static int have = -1;

	if (have == -1) {
		int fd = pidfd_open_(getpid());

		have = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	return have ? "pidfd" : "pid";
}

/* /proc/PID/stat: "pid (comm) S ppid pgrp ..."; comm may hold ')' and spaces. */
static int
read_stat(int procfd, pid_t pid, struct proctree_proc *pi)
{
	char path[32], buf[512], *p;
	ssize_t n;
	int fd;
	long ppid, pgid;

	snprintf(path, sizeof(path), "%ld/stat", (long)pid);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return -1;
	pi->state = p[2];
	if (sscanf(p + 3, " %ld %ld", &ppid, &pgid) != 2)
		return -1;
	pi->pid = pid;
	pi->ppid = (pid_t)ppid;
	pi->pgid = (pid_t)pgid;
	return 0;
}

/* A snapshot of the process table; the caller frees *out. */
static int
snapshot(int procfd, struct proctree_proc **out, size_t *count)
{
	struct proctree_proc *v = NULL, *nv, pi;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
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
		if (read_stat(procfd, (pid_t)atol(de->d_name), &pi) == 0)
			v[n++] = pi;
	}
	closedir(d);
	*out = v;
	*count = n;
	return 0;
}

/* pid -> index, open addressing: the table is rebuilt for every walk. */
struct pidmap {
	size_t  mask;
	ssize_t *slot;
};

static size_t
pid_hash(pid_t pid, size_t mask)
{
	return ((size_t)(uint32_t)pid * 2654435761U) & mask;
}

static int
pidmap_build(struct pidmap *m, const struct proctree_proc *v, size_t n)
{
	size_t cap = 16, i, h;

	while (cap < 2 * n)
		cap *= 2;
	m->mask = cap - 1;
	m->slot = malloc(cap * sizeof(*m->slot));
	if (m->slot == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < cap; i++)
		m->slot[i] = -1;
	for (i = 0; i < n; i++) {
		for (h = pid_hash(v[i].pid, m->mask); m->slot[h] != -1; h = (h + 1) & m->mask)
			if (v[m->slot[h]].pid == v[i].pid)
				break;	/* a pid read twice (the walk raced a fork): first wins */
		if (m->slot[h] == -1)
			m->slot[h] = (ssize_t)i;
	}
	return 0;
}

static ssize_t
pidmap_get(const struct pidmap *m, const struct proctree_proc *v, pid_t pid)
{
	size_t h;

	for (h = pid_hash(pid, m->mask); m->slot[h] != -1; h = (h + 1) & m->mask)
		if (v[m->slot[h]].pid == pid)
			return m->slot[h];
	return -1;
}

enum { UNSEEN, IN, OUT, ONPATH, KEPT };

/*
 * Each process is resolved once: its chain of parents is followed up to the
 * first one already known (or root, or a kept pid, or none), and the answer
 * written back down the chain, so the whole table costs O(n). par[i] is the
 * index of a selected process's selected parent, -1 for a child of root or
 * a member of the group only.
 */
static ssize_t
select_into(const struct proctree_proc *v, size_t n, pid_t root, pid_t pgid, pid_t self,
    const pid_t *keep, size_t nkeep, size_t *out, ssize_t *par)
{
	struct pidmap m;
	unsigned char *st;
	size_t *depth, *path, *count, i, k, np, nout = 0;
	ssize_t j;

	if (pidmap_build(&m, v, n) == -1)
		return -1;
	st = calloc(n + 1, 1);
	depth = calloc(n + 1, sizeof(*depth));
	path = malloc((n + 1) * sizeof(*path));
	count = calloc(n + 2, sizeof(*count));
	if (st == NULL || depth == NULL || path == NULL || count == NULL) {
		nout = (size_t)-1;
		errno = ENOMEM;
		goto out;
	}
	for (k = 0; k < nkeep; k++)
		if ((j = pidmap_get(&m, v, keep[k])) >= 0)
			st[j] = KEPT;
	for (i = 0; i < n; i++) {
		size_t cur = i, d = 0;
		int res;

		np = 0;
		for (;;) {
			if (st[cur] == IN || st[cur] == OUT || st[cur] == KEPT) {
				res = st[cur] == IN ? IN : OUT;
				d = depth[cur];
				break;
			}
			if (st[cur] == ONPATH) {	/* a cycle: only a torn snapshot makes one */
				res = OUT;
				break;
			}
			if (v[cur].ppid == root && v[cur].pid != root) {
				st[cur] = IN;
				depth[cur] = 1;
				par[cur] = -1;
				res = IN;
				d = 1;
				break;
			}
			j = pidmap_get(&m, v, v[cur].ppid);
			if (j < 0 || v[cur].pid == root) {
				st[cur] = OUT;
				res = OUT;
				break;
			}
			st[cur] = ONPATH;
			path[np++] = cur;
			par[cur] = j;
			cur = (size_t)j;
		}
		while (np > 0) {
			cur = path[--np];
			st[cur] = (unsigned char)res;
			depth[cur] = res == IN ? ++d : 0;
		}
	}
	/* Parents before children: a counting sort by depth, group members first. */
	for (i = 0; i < n; i++) {
		if (v[i].pid == self)
			continue;
		if (st[i] != IN) {
			if (pgid <= 0 || v[i].pgid != pgid || st[i] == KEPT)
				continue;
			st[i] = IN;
			depth[i] = 0;
			par[i] = -1;
		}
		count[depth[i] + 1]++;
	}
	for (k = 1; k <= n; k++)
		count[k] += count[k - 1];
	for (i = 0; i < n; i++)
		if (st[i] == IN && v[i].pid != self) {
			out[count[depth[i]]++] = i;
			nout++;
		}
out:
	free(m.slot);
	free(st);
	free(depth);
	free(path);
	free(count);
	return (ssize_t)nout;
}

ssize_t
proctree_select(const struct proctree_proc *v, size_t n, pid_t root, pid_t pgid, pid_t self,
    const pid_t *keep, size_t nkeep, size_t *out)
{
	ssize_t *par = malloc((n + 1) * sizeof(*par)), r;

	if (par == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r = select_into(v, n, root, pgid, self, keep, nkeep, out, par);
	free(par);
	return r;
}

static unsigned long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/*
 * Is the process now behind pid (held by fd, or by nothing on the fallback)
 * still the one selected? Its parent must be root, or the selected parent,
 * which we hold and which has not been reaped (so its pid was not reused);
 * a group member must still be in the group, whose id is pinned by us.
 */
static int
still_ours(int procfd, const struct proctree_proc *was, pid_t root, pid_t pgid,
    const int *fds, ssize_t parent, struct proctree_proc *now)
{
	if (read_stat(procfd, was->pid, now) == -1)
		return 0;
	if (pgid > 0 && now->pgid == pgid)
		return 1;
	if (now->ppid == root)
		return 1;
	if (parent < 0 || now->ppid != was->ppid)
		return 0;
	if (fds[parent] >= 0)
		return pidfd_signal_(fds[parent], 0) == 0;
	return fds[parent] == -2;	/* fallback: the parent passed this check itself */
}

/* Until every held process has exited (its pidfd readable), or the deadline. */
static void
wait_exits(const int *fds, size_t n, unsigned long long deadline)
{
	struct pollfd *p = malloc((n ? n : 1) * sizeof(*p));
	size_t i, m = 0;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++)
		if (fds[i] >= 0) {
			p[m].fd = fds[i];
			p[m].events = POLLIN;
			m++;
		}
	while (m > 0) {
		unsigned long long now = now_ms();
		int r;

		if (now >= deadline)
			break;
		r = poll(p, (nfds_t)m, (int)(deadline - now));
		if (r == -1 && errno != EINTR)
			break;
		for (i = 0; r > 0 && i < m;)
			if (p[i].revents) {
				p[i] = p[--m];
				r--;
			} else {
				i++;
			}
	}
	free(p);
}

/* One pass: returns -1, or 0 with *any (a selected process seen) and *live set. */
static int
kill_pass(int procfd, pid_t root, pid_t pgid, const pid_t *keep, size_t nkeep,
    unsigned long long deadline, int *total, int *any, int *live)
{
	struct proctree_proc *v, now;
	size_t n, k, *sel = NULL;
	ssize_t ns, *par = NULL;
	int *fds = NULL, usefd = strcmp(proctree_method(), "pidfd") == 0, rc = -1;

	*any = *live = 0;
	if (snapshot(procfd, &v, &n) == -1)
		return -1;
	sel = calloc(n + 1, sizeof(*sel));
	par = malloc((n + 1) * sizeof(*par));
	fds = malloc((n + 1) * sizeof(*fds));
	if (sel == NULL || par == NULL || fds == NULL) {
		errno = ENOMEM;
		goto out;
	}
	if ((ns = select_into(v, n, root, pgid, getpid(), keep, nkeep, sel, par)) == -1)
		goto out;
	for (k = 0; k < n; k++)
		fds[k] = -1;
	/* First take and check them all, parents first; then signal. */
	for (k = 0; k < (size_t)ns; k++) {
		size_t i = sel[k];
		int fd = -2;

		*any = 1;
		if (v[i].state == 'Z' || v[i].state == 'X')
			continue;
		if (usefd && (fd = pidfd_open_(v[i].pid)) == -1)
			continue;	/* gone already */
		if (!still_ours(procfd, &v[i], root, pgid, fds, par[i], &now) ||
		    now.state == 'Z' || now.state == 'X') {
			if (fd >= 0)
				close(fd);
			continue;
		}
		fds[i] = fd;
	}
	for (k = 0; k < (size_t)ns; k++) {
		size_t i = sel[k];

		if (fds[i] == -1)
			continue;
		*live = 1;
		if (fds[i] >= 0 ? pidfd_signal_(fds[i], SIGKILL) == 0 : kill(v[i].pid, SIGKILL) == 0)
			(*total)++;
	}
	if (usefd) {
		wait_exits(fds, n, deadline < now_ms() + 50 ? deadline : now_ms() + 50);
	} else if (*live) {
		/* No pidfd to wait on: killed processes need a moment to exit. */
		struct timespec ts = { 0, 5 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	for (k = 0; k < n; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	rc = 0;
out:
	free(v);
	free(sel);
	free(par);
	free(fds);
	return rc;
}

int
proctree_kill(pid_t root, int own_group, const pid_t *keep, size_t nkeep, int reap,
    unsigned timeout_ms)
{
	unsigned long long deadline = now_ms() + timeout_ms;
	pid_t self = getpid();
	/* Only a group we lead: its id is pinned by us and cannot name another's. */
	pid_t pgid = own_group && getpgrp() == self ? self : 0;
	int total = 0, procfd, e;

	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd == -1)
		return -1;
	for (;;) {
		int any, live;

		if (kill_pass(procfd, root, pgid, keep, nkeep, deadline, &total, &any, &live) == -1) {
			e = errno;
			close(procfd);
			errno = e;
			return -1;
		}
		if (reap && root == self)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		if (!any || (!live && !(reap && root == self)) || now_ms() >= deadline)
			break;
		if (!live) {
			/* Only zombies of our own left, reaped above: look once more, shortly. */
			struct timespec ts = { 0, 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	close(procfd);
	return total;
}

int
proctree_count(pid_t root)
{
	struct proctree_proc *v;
	size_t n, k, *sel;
	ssize_t ns;
	int c = 0, procfd;

	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd == -1)
		return -1;
	if (snapshot(procfd, &v, &n) == -1) {
		close(procfd);
		return -1;
	}
	close(procfd);
	sel = calloc(n + 1, sizeof(*sel));
	ns = sel ? proctree_select(v, n, root, 0, getpid(), NULL, 0, sel) : -1;
	for (k = 0; ns > 0 && k < (size_t)ns; k++)
		if (v[sel[k]].state != 'Z' && v[sel[k]].state != 'X')
			c++;
	free(sel);
	free(v);
	return ns < 0 ? -1 : c;
}
