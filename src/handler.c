#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"
#include "log.h"
#include "proctree.h"

/* Head and tail of the output: the start says what ran, the end why it failed. */
struct outlog {
	int      fd;
	uint64_t head_max, head, total;
	char    *ring;
	size_t   ring_cap, ring_pos, ring_len;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* a full disk loses log bytes, never the job */
		p += w;
		n -= (size_t)w;
	}
}

static void
outlog_add(struct outlog *o, const char *p, size_t n)
{
	o->total += n;
	if (o->head < o->head_max) {
		size_t take = n;

		if (take > o->head_max - o->head)
			take = (size_t)(o->head_max - o->head);
		write_all(o->fd, p, take);
		o->head += take;
		p += take;
		n -= take;
	}
	if (n == 0 || o->ring_cap == 0)
		return;
	if (o->ring == NULL && (o->ring = malloc(o->ring_cap)) == NULL) {
		o->ring_cap = 0;
		return;
	}
	while (n > 0) {
		size_t take = o->ring_cap - o->ring_pos;

		if (take > n)
			take = n;
		memcpy(o->ring + o->ring_pos, p, take);
		o->ring_pos = (o->ring_pos + take) % o->ring_cap;
		if (o->ring_len < o->ring_cap)
			o->ring_len = o->ring_len + take > o->ring_cap ? o->ring_cap : o->ring_len + take;
		p += take;
		n -= take;
	}
}

static uint64_t
outlog_finish(struct outlog *o)
{
	uint64_t omitted = o->total - o->head - o->ring_len;

	if (omitted > 0) {
		char note[96];
		int m = snprintf(note, sizeof(note),
		    "\n[ingestd: %llu bytes of output omitted]\n", (unsigned long long)omitted);

		write_all(o->fd, note, (size_t)m);
	}
	if (o->ring_len > 0 && o->ring_len < o->ring_cap) {
		write_all(o->fd, o->ring, o->ring_len);
	} else if (o->ring_len > 0) {
		/* Wrapped: the oldest byte sits at ring_pos. */
		write_all(o->fd, o->ring + o->ring_pos, o->ring_cap - o->ring_pos);
		write_all(o->fd, o->ring, o->ring_pos);
	}
	free(o->ring);
	o->ring = NULL;
	return omitted;
}

static int
drain(int fd, struct outlog *o)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			outlog_add(o, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			return 1;	/* EOF */
		if (errno == EINTR)
			continue;
		return 0;	/* EAGAIN: more later */
	}
}

static int
still_has_children(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 || errno != ECHILD;
}

/*
 * Has pid exited? *si says how, but the zombie is left in place (WNOWAIT) so
 * that its pid, and its group's id, stay pinned until the group is killed.
 */
static int
exited_unreaped(pid_t pid, siginfo_t *si)
{
	memset(si, 0, sizeof(*si));
	return waitid(P_PID, (id_t)pid, si, WEXITED | WNOHANG | WNOWAIT) == 0 && si->si_pid == pid;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn))
child(const struct handler_ctx *h, pid_t parent, int outfd, int errfd)
{
	sigset_t none;
	int e, devnull;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* If the worker dies, the handler dies; descendants are found by the tree walk. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull == -1 || dup2(devnull, 0) == -1 || dup2(outfd, 1) == -1 ||
	    dup2(outfd, 2) == -1)
		goto fail;
	/* Keep only stdio and the close-on-exec error pipe. */
	if (errfd > 3)
		syscall(SYS_close_range, 3U, (unsigned)errfd - 1, 0U);
	syscall(SYS_close_range, (unsigned)errfd + 1, ~0U, 0U);
	if (chdir(h->cwd) == -1)
		goto fail;
	execvpe(h->argv[0], h->argv, h->envp);
fail:
	e = errno;
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

int
handler_run(const struct handler_ctx *h, struct handler_result *r)
{
	struct outlog o;
	int outp[2], errp[2], pidfd = -1, eof = 0, exited = 0, e;
	siginfo_t si;
	uint64_t start, deadline;
	pid_t pid, self = getpid();
	ssize_t n;

	memset(r, 0, sizeof(*r));
	memset(&o, 0, sizeof(o));
	o.fd = h->logfd;
	o.head_max = h->log_max / 2;
	o.ring_cap = (size_t)(h->log_max - o.head_max);

	if (pipe2(outp, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(errp, O_CLOEXEC) == -1) {
		close(outp[0]);
		close(outp[1]);
		return -1;
	}
	start = mono_ms();
	pid = fork();
	if (pid == -1) {
		e = errno;
		close(outp[0]); close(outp[1]); close(errp[0]); close(errp[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(outp[0]);
		close(errp[0]);
		child(h, self, outp[1], errp[1]);
	}
	close(outp[1]);
	close(errp[1]);
	/* Also in the parent, so a signal sent to the group finds it at once. */
	(void)setpgid(pid, pid);

	n = read(errp[0], &e, sizeof(e));
	close(errp[0]);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(pid, NULL, 0);
		close(outp[0]);
		r->how = HANDLER_EXEC_FAILED;
		r->code = e;
		r->dur_ms = mono_ms() - start;
		return 0;
	}

	(void)fcntl(outp[0], F_SETFL, O_NONBLOCK);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	deadline = h->timeout_ms ? start + h->timeout_ms : 0;
	r->how = HANDLER_EXITED;
	while (!exited) {
		struct pollfd pfd[3];
		int nfd = 0, timeout = -1, ipid = -1, iout = -1, isig = -1;

		if (pidfd >= 0) {
			pfd[nfd].fd = pidfd;
			pfd[nfd].events = POLLIN;
			ipid = nfd++;
		}
		if (!eof) {
			pfd[nfd].fd = outp[0];
			pfd[nfd].events = POLLIN;
			iout = nfd++;
		}
		if (h->sigfd >= 0) {
			pfd[nfd].fd = h->sigfd;
			pfd[nfd].events = POLLIN;
			isig = nfd++;
		}
		if (deadline) {
			uint64_t now = mono_ms();

			timeout = now >= deadline ? 0 : (int)(deadline - now);
		}
		if (pidfd < 0 && timeout == -1)
			timeout = 100;	/* no pidfd (old kernel): fall back to waitpid polling */
		if (poll(pfd, (nfds_t)nfd, timeout) == -1 && errno != EINTR)
			break;
		if (iout >= 0 && (pfd[iout].revents & (POLLIN | POLLHUP)))
			eof = drain(outp[0], &o);
		if (isig >= 0 && (pfd[isig].revents & POLLIN) && h->on_signal &&
		    h->on_signal(h->arg)) {
			r->how = HANDLER_ABANDONED;
			break;
		}
		if ((ipid < 0 || (pfd[ipid].revents & POLLIN)) && exited_unreaped(pid, &si))
			exited = 1;
		if (!exited && deadline && mono_ms() >= deadline) {
			r->how = HANDLER_TIMEOUT;
			break;
		}
	}
	/*
	 * The handler is not reaped yet, alive or a zombie: its pid, which is its
	 * group's id, cannot have been reused, so the group is still the one it
	 * made. Once reaped, a group that emptied (its members setsid()'d away)
	 * frees the id for anyone: the tree walk below finds those by parentage.
	 */
	(void)kill(pid, SIGKILL);
	(void)killpg(pid, SIGKILL);
	/* poll failed (how still EXITED): what our kill made of it is the outcome */
	if (!exited && r->how == HANDLER_EXITED)
		exited = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0;
	(void)waitpid(pid, NULL, 0);
	if (exited && si.si_code == CLD_EXITED) {
		r->code = si.si_status;
	} else if (exited) {
		r->how = HANDLER_SIGNALED;
		r->code = si.si_status;
	}
	r->dur_ms = mono_ms() - start;
	/*
	 * Whatever it left behind (background jobs, setsid escapees) goes too. We
	 * are a subreaper, so all of it is our children by now: with none left,
	 * the walk of /proc (the costliest step of a short job) is skipped.
	 */
	if (still_has_children() && proctree_kill(self, 0, NULL, 0, 1, 2000) > 0)
		log_debug("event=handler_cleanup handler_pid=%ld", (long)pid);
	if (pidfd >= 0)
		close(pidfd);
	/* Every writer is gone now, so this ends. */
	(void)fcntl(outp[0], F_SETFL, 0);
	if (!eof)
		drain(outp[0], &o);
	close(outp[0]);
	r->log_bytes = o.total;
	r->log_omitted = outlog_finish(&o);
	return 0;
}

void
handler_reason(const struct handler_result *r, uint64_t timeout_ms, char *buf, size_t len)
{
	char q[256];

	switch (r->how) {
	case HANDLER_EXITED:
		snprintf(buf, len, "exit status=%d", r->code);
		break;
	case HANDLER_SIGNALED:
		snprintf(buf, len, "signal signal=%d signame=%s", r->code,
		    log_quote(q, sizeof(q), sigabbrev_np(r->code) ? sigabbrev_np(r->code) : "?"));
		break;
	case HANDLER_TIMEOUT:
		if (timeout_ms % 1000 == 0)
			snprintf(buf, len, "timeout after=%llus", (unsigned long long)timeout_ms / 1000);
		else
			snprintf(buf, len, "timeout after=%llums", (unsigned long long)timeout_ms);
		break;
	case HANDLER_EXEC_FAILED:
		snprintf(buf, len, "exec error=%s", log_quote(q, sizeof(q), strerror(r->code)));
		break;
	case HANDLER_ABANDONED:
		snprintf(buf, len, "interrupted");
		break;
	}
}
