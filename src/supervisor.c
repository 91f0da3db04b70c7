#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "proctree.h"
#include "queue.h"
#include "spool.h"
#include "supervisor.h"
#include "watcher.h"
#include "worker.h"

#define RESPAWN_MIN_MS   100
#define RESPAWN_MAX_MS   30000
#define YOUNG_MS         1000	/* a child that dies younger than this is throttled */
#define ABANDON_WAIT_MS  500	/* workers get this long to leave jobs tidy */

struct child {
	pid_t    pid;		/* 0: not running */
	uint64_t started;
	uint64_t delay;		/* current respawn delay */
	uint64_t due;		/* respawn at (0: not scheduled) */
	unsigned restarts;
};

struct sup {
	struct conf  *c;
	struct spool  s;
	mqd_t         q;
	char          qname[64];
	int           sigfd;
	int           readyfd;	/* watcher says its watch is set */
	int           ready;	/* logged event=ready */
	pid_t         self;
	struct child  watcher;
	struct child *workers;
	unsigned      nworkers;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* In a fresh child: drop what belongs to the supervisor alone. */
static void
child_setup(struct sup *sp, const char *role)
{
	close(sp->sigfd);
	/* The spool lock must die with the supervisor, not with its last child. */
	close(sp->s.lockfd);
	sp->s.lockfd = -1;
	log_set_role(role);
}

static int
spawn_watcher(struct sup *sp)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	pid = fork();
	if (pid == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (sp->readyfd >= 0)
			close(sp->readyfd);
		child_setup(sp, "watcher");
		watcher_main(sp->c, &sp->s, sp->q, p[1], sp->self);
	}
	close(p[1]);
	if (sp->readyfd >= 0)
		close(sp->readyfd);
	sp->readyfd = p[0];
	sp->watcher.pid = pid;
	sp->watcher.started = now_ms();
	sp->watcher.due = 0;
	log_info("event=spawn role=watcher pid=%ld", (long)pid);
	return 0;
}

static int
spawn_worker(struct sup *sp, unsigned slot)
{
	pid_t pid = fork();

	if (pid == -1)
		return -1;
	if (pid == 0) {
		if (sp->readyfd >= 0)
			close(sp->readyfd);
		child_setup(sp, "worker");
		worker_main(sp->c, &sp->s, sp->q, (int)slot, sp->self);
	}
	sp->workers[slot].pid = pid;
	sp->workers[slot].started = now_ms();
	sp->workers[slot].due = 0;
	log_info("event=spawn role=worker pid=%ld slot=%u", (long)pid, slot);
	return 0;
}

/* A crash loop must cost a growing pause, never a busy CPU. */
static void
schedule_respawn(struct child *ch)
{
	uint64_t now = now_ms();

	if (now - ch->started < YOUNG_MS)
		ch->delay = ch->delay ? ch->delay * 2 : RESPAWN_MIN_MS;
	else
		ch->delay = 0;
	if (ch->delay > RESPAWN_MAX_MS)
		ch->delay = RESPAWN_MAX_MS;
	ch->due = now + ch->delay;
	ch->restarts++;
}

static void
describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "signal=%s", sigabbrev_np(WTERMSIG(status)) ?
		    sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(buf, len, "status=%d", WEXITSTATUS(status));
}

static pid_t *
live_children(struct sup *sp, size_t *n)
{
	pid_t *v = calloc(sp->nworkers + 1, sizeof(*v));
	unsigned i;

	*n = 0;
	if (v == NULL)
		return NULL;
	if (sp->watcher.pid)
		v[(*n)++] = sp->watcher.pid;
	for (i = 0; i < sp->nworkers; i++)
		if (sp->workers[i].pid)
			v[(*n)++] = sp->workers[i].pid;
	return v;
}

/* Reap everything; returns how many known children died. */
static int
reap(struct sup *sp, int respawn)
{
	int status, died = 0, worker_died = 0;
	pid_t pid;
	unsigned i;
	char how[32];

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		describe(status, how, sizeof(how));
		if (pid == sp->watcher.pid) {
			sp->watcher.pid = 0;
			died++;
			if (respawn) {
				schedule_respawn(&sp->watcher);
				log_warnx("event=exit role=watcher pid=%ld %s respawn_ms=%llu",
				    (long)pid, how, (unsigned long long)sp->watcher.delay);
			}
			continue;
		}
		for (i = 0; i < sp->nworkers; i++)
			if (sp->workers[i].pid == pid)
				break;
		if (i == sp->nworkers)
			continue;	/* an orphan of a handler, reparented to us */
		sp->workers[i].pid = 0;
		died++;
		worker_died = 1;
		if (respawn) {
			schedule_respawn(&sp->workers[i]);
			log_warnx("event=exit role=worker pid=%ld slot=%u %s respawn_ms=%llu",
			    (long)pid, i, how, (unsigned long long)sp->workers[i].delay);
		} else {
			log_debug("event=exit role=worker pid=%ld slot=%u %s", (long)pid, i, how);
		}
	}
	if (worker_died && respawn) {
		/* A dead worker's handler children came to us: they must not live on. */
		size_t n;
		pid_t *keep = live_children(sp, &n);

		if (keep != NULL) {
			int k = proctree_kill(sp->self, 0, keep, n, 0, 1000);

			if (k > 0)
				log_info("event=orphans_killed count=%d", k);
			free(keep);
		}
	}
	return died;
}

static void
respawn_due(struct sup *sp)
{
	uint64_t now = now_ms();
	unsigned i;

	if (!sp->watcher.pid && sp->watcher.due && sp->watcher.due <= now &&
	    spawn_watcher(sp) == -1) {
		log_warn("event=spawn role=watcher");
		schedule_respawn(&sp->watcher);
	}
	for (i = 0; i < sp->nworkers; i++)
		if (!sp->workers[i].pid && sp->workers[i].due && sp->workers[i].due <= now &&
		    spawn_worker(sp, i) == -1) {
			log_warn("event=spawn role=worker slot=%u", i);
			schedule_respawn(&sp->workers[i]);
		}
}

static int
next_timeout(const struct sup *sp)
{
	uint64_t now = now_ms(), first = UINT64_MAX;
	unsigned i;

	if (!sp->watcher.pid && sp->watcher.due)
		first = sp->watcher.due;
	for (i = 0; i < sp->nworkers; i++)
		if (!sp->workers[i].pid && sp->workers[i].due && sp->workers[i].due < first)
			first = sp->workers[i].due;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)(first - now);
}

static unsigned
workers_alive(const struct sup *sp)
{
	unsigned i, n = 0;

	for (i = 0; i < sp->nworkers; i++)
		if (sp->workers[i].pid)
			n++;
	return n;
}

static void
signal_workers(struct sup *sp, int sig)
{
	unsigned i;

	for (i = 0; i < sp->nworkers; i++)
		if (sp->workers[i].pid)
			kill(sp->workers[i].pid, sig);
}

/* Wait for the workers to exit until deadline (0: forever). 1 if all gone. */
static int
wait_workers(struct sup *sp, uint64_t deadline)
{
	while (workers_alive(sp) > 0) {
		struct pollfd p = { .fd = sp->sigfd, .events = POLLIN };
		struct signalfd_siginfo si;
		uint64_t now = now_ms();

		if (deadline && now >= deadline)
			return 0;
		if (poll(&p, 1, deadline ? (int)(deadline - now) : -1) > 0)
			while (read(sp->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
					deadline = deadline ? deadline : now_ms();	/* QUIT then TERM: hurry */
		reap(sp, 0);
	}
	return 1;
}

static int
shutdown_all(struct sup *sp, int signo)
{
	uint64_t grace = signo == SIGQUIT ? 0 : sp->c->shutdown_grace_ms;
	int killed;

	log_info("event=shutdown signal=%s grace_ms=%llu", sigabbrev_np(signo),
	    (unsigned long long)grace);
	if (sp->watcher.pid)
		kill(sp->watcher.pid, SIGKILL);	/* stateless: no more names */
	signal_workers(sp, SIGTERM);
	if (!wait_workers(sp, signo == SIGQUIT ? 0 : now_ms() + grace)) {
		log_info("event=grace_expired workers=%u", workers_alive(sp));
		signal_workers(sp, WORKER_SIG_ABANDON);
		(void)wait_workers(sp, now_ms() + ABANDON_WAIT_MS);
	}
	/*
	 * Not killpg(): that would kill the supervisor too and turn a clean stop
	 * into "killed by signal 9". Everything else in the group, and every
	 * descendant wherever it moved (setsid), gets SIGKILL.
	 */
	killed = proctree_kill(sp->self, getpgrp(), NULL, 0, 1, 3000);
	if (killed > 0)
		log_info("event=killed count=%d", killed);
	reap(sp, 0);
	(void)mq_unlink(sp->qname);
	log_info("event=stopped");
	return 0;
}

static int
setup(struct sup *sp)
{
	char err[PATH_MAX + 256], why[256];
	sigset_t set;
	long depth;
	int rc;

	/*
	 * Head our own process group before anything else: under runsv we share
	 * one with runsv and the log process, and a group kill would take them.
	 */
	if (getpgrp() != getpid() && setpgid(0, 0) == -1 && getsid(0) != getpid())
		log_warn("event=setpgid");
	sp->self = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("event=subreaper");

	rc = priv_drop(sp->c->user, sp->c->allow_root, sp->c->handler.command.n > 0, err,
	    sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "ingestd: %s\n", err);
		return rc;
	}
	rc = spool_open(&sp->s, sp->c->spool, sp->c->fsync, err, sizeof(err));
	if (rc != 0) {
		log_warnx("event=spool error=\"%s\"", err);
		fprintf(stderr, "ingestd: %s\n", err);
		return rc;
	}
	rc = spool_lock(&sp->s, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "ingestd: %s\n", err);
		return rc;
	}
	queue_name(sp->s.path, sp->qname, sizeof(sp->qname));
	sp->q = queue_create(sp->qname, &depth, why, sizeof(why));
	if (sp->q == (mqd_t)-1) {
		fprintf(stderr, "ingestd: cannot create message queue: %s\n", why);
		return EX_OSERR;
	}
	log_info("event=queue name=%s depth=%ld msgsize=%d limit=\"%s\"", sp->qname, depth,
	    QUEUE_MSGSIZE, why);

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTTIN);
	sigaddset(&set, SIGTTOU);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sp->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sp->sigfd == -1) {
		log_warn("event=signalfd");
		return EX_OSERR;
	}
	return 0;
}

int
supervisor_run(struct conf *c)
{
	struct sup sp;
	unsigned i;
	int rc;

	memset(&sp, 0, sizeof(sp));
	sp.c = c;
	sp.readyfd = -1;
	sp.sigfd = -1;
	sp.q = (mqd_t)-1;
	log_init("supervisor", c->verbosity);

	rc = setup(&sp);
	if (rc != 0)
		return rc;
	sp.nworkers = c->workers;
	sp.workers = calloc(sp.nworkers, sizeof(*sp.workers));
	if (sp.workers == NULL)
		fatal("event=alloc");
	log_info("event=start version=%s spool=%s workers=%u pgid=%ld", INGESTD_VERSION,
	    sp.s.path, sp.nworkers, (long)getpgrp());
	if (spawn_watcher(&sp) == -1)
		fatal("event=spawn role=watcher");
	for (i = 0; i < sp.nworkers; i++)
		if (spawn_worker(&sp, i) == -1)
			fatal("event=spawn role=worker");

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = sp.sigfd, .events = POLLIN },
			{ .fd = sp.readyfd, .events = POLLIN },
		};
		struct signalfd_siginfo si;

		if (poll(p, 2, next_timeout(&sp)) == -1 && errno != EINTR)
			fatal("event=poll");
		if (p[1].revents & (POLLIN | POLLHUP)) {
			char b;
			ssize_t n = read(sp.readyfd, &b, 1);

			close(sp.readyfd);
			sp.readyfd = -1;
			if (n == 1 && !sp.ready) {
				sp.ready = 1;
				log_info("event=ready spool=%s workers=%u", sp.s.path, sp.nworkers);
			}
		}
		while (read(sp.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGCHLD:
				break;
			case SIGTERM:
			case SIGINT:
			case SIGQUIT:
				rc = shutdown_all(&sp, (int)si.ssi_signo);
				free(sp.workers);
				spool_close(&sp.s);
				return rc;
			default:
				log_debug("event=signal signal=%s action=none",
				    sigabbrev_np((int)si.ssi_signo));
				break;
			}
		}
		reap(&sp, 1);
		respawn_due(&sp);
	}
}
