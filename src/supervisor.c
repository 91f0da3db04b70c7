#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "children.h"
#include "clock.h"
#include "handoff.h"
#include "janitor.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "pgroup.h"
#include "priv.h"
#include "proctree.h"
#include "queue.h"
#include "remote.h"
#include "scoreboard.h"
#include "spool.h"
#include "supervisor.h"
#include "watcher.h"
#include "worker.h"

#define ABANDON_WAIT_MS  500	/* workers get this long to leave jobs tidy */
#define MAX_WORKERS      256

struct sup {
	struct conf       *c;
	const struct conf_overrides *ov;
	struct spool       s;
	mqd_t              q;
	long               qdepth;
	char               qname[64];
	int                sigfd;
	int                ready[2];	/* a watcher writes to it once its watch is set */
	int                bell[2];	/* workers ring it when they let a job go */
	int                ready_logged;
	int                orphans;	/* a worker died: kill what it left before the sweep */
	struct pgroup      pg;		/* our process group and terminal */
	pid_t              self;
	unsigned           target;	/* workers wanted */
	struct scoreboard *sb;
	struct children    ch;
	struct handoff     ho;
	uint64_t           metrics_due;
	int                c_owned;	/* c came from a reload: ours to free */
};

/* --- children ----------------------------------------------------------------- */

static const char *
role_name(void *arg, const struct child *k)
{
	struct sup *sp = arg;

	switch (k->role) {
	case ROLE_WATCHER:
		return "watcher";
	case ROLE_WORKER:
		return "worker";
	case ROLE_REMOTE:
		return remote_role(sp->c, k->idx);
	case ROLE_JANITOR:
		return "janitor";
	default:
		return "none";
	}
}

/* In a fresh child: drop what belongs to the supervisor alone, and become k. */
static void __attribute__((noreturn))
run_child(void *arg, const struct child *k, int slot)
{
	struct sup *sp = arg;

	close(sp->sigfd);
	/* The spool lock must die with the supervisor, not with its last child. */
	close(sp->s.lockfd);
	sp->s.lockfd = -1;
	close(sp->bell[0]);
	close(sp->ready[0]);
	if (sp->pg.tty >= 0)
		close(sp->pg.tty);
	log_set_role(role_name(sp, k));
	if (k->role != ROLE_WORKER) {
		/* Signals meant for the supervisor, sent to the whole group by mistake. */
		static const int ign[] = { SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU };
		size_t i;

		for (i = 0; i < sizeof(ign) / sizeof(ign[0]); i++)
			signal(ign[i], SIG_IGN);
		close(sp->bell[1]);
	}
	if (k->role != ROLE_WATCHER)
		close(sp->ready[1]);
	switch (k->role) {
	case ROLE_WATCHER:
		watcher_main(sp->c, &sp->s, sp->q, sp->ready[1], sp->self, sp->sb);
	case ROLE_WORKER:
		worker_main(sp->c, &sp->s, sp->q, slot, sp->self, sp->sb, sp->bell[1]);
	case ROLE_REMOTE:
		remote_main(sp->c, &sp->s, sp->q, k->idx, sp->self);
	case ROLE_JANITOR:
		janitor_main(sp->c, &sp->s, sp->self);
	default:
		_exit(EX_SOFTWARE);
	}
}

/* Have the watcher scan the whole inbox again. */
static void
request_rescan(struct sup *sp, const char *why)
{
	int i;

	for (i = 0; i < SB_SLOTS; i++)
		if (sp->ch.kids[i].role == ROLE_WATCHER && sp->ch.kids[i].pid &&
		    !sp->ch.kids[i].retiring) {
			kill(sp->ch.kids[i].pid, WATCHER_SIG_RESCAN);
			log_info("event=rescan_request why=%s", LQ(why));
			return;
		}
	/* No watcher now: the next one scans the inbox when it starts. */
}

/* Put back a name a dead worker had just taken off the queue; else rescan. */
static void
requeue_name(struct sup *sp, const char *name, const char *why)
{
	if (name[0] && queue_offer(sp->q, QUEUE_MSG_PACKET, name, HANDOFF_WAIT_MS) == 0) {
		log_info("event=requeue name=%s", LQ(name));
		return;
	}
	request_rescan(sp, why);
}

/*
 * What a dead worker held goes back by the one path: the sweep, which runs
 * once its orphans are dead (on_children), so that a job is never run again
 * while the old handler still runs. A job it was running counts as a crash
 * against its packet.
 */
static void
child_died(void *arg, const struct child *k, int slot, int crashed)
{
	struct sup *sp = arg;
	struct sb_slot *ss = &sp->sb->slot[slot];
	char job[sizeof(ss->job)], name[sizeof(ss->name)];
	int32_t state;

	if (k->role != ROLE_WORKER)
		return;
	handoff_soon(&sp->ho);
	if (!crashed)
		return;
	sp->orphans = 1;
	state = __atomic_load_n(&ss->state, __ATOMIC_ACQUIRE);
	memcpy(job, ss->job, sizeof(job));
	job[sizeof(job) - 1] = '\0';
	memcpy(name, ss->name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	if (state == SB_BUSY && job[0])
		handoff_crash(&sp->ho, job);
	else if (state == SB_TAKING)
		requeue_name(sp, name, name[0] ? "requeue_failed" : "worker_died_receiving");
}

/*
 * Start workers of the current generation up to the target, less the old
 * ones still finishing a job (after a reload, or retiring): never more
 * running jobs than `workers` says, and the new ones take the slots as the
 * old ones leave.
 */
static void
fill_workers(struct sup *sp)
{
	unsigned cur = children_count(&sp->ch, ROLE_WORKER, 1, 0);
	unsigned alive = children_count(&sp->ch, ROLE_WORKER, 0, 1);
	unsigned cur_alive = children_count(&sp->ch, ROLE_WORKER, 1, 1);
	unsigned old = alive - cur_alive;

	while (cur + old < sp->target && cur < sp->target) {
		children_add(&sp->ch, ROLE_WORKER, 0);
		cur++;
	}
}

static void
set_target(struct sup *sp, unsigned target, const char *why)
{
	unsigned have = children_count(&sp->ch, ROLE_WORKER, 1, 0);

	sp->target = target;
	sp->sb->hdr.workers_target = target;
	while (have > target) {
		children_retire_one(&sp->ch);
		have--;
	}
	fill_workers(sp);
	log_info("event=workers target=%u why=%s", target, LQ(why));
}

static void
start_children(struct sup *sp)
{
	int i;

	children_add(&sp->ch, ROLE_WATCHER, 0);
	set_target(sp, sp->c->workers, "start");
	for (i = 0; i < remote_children(sp->c); i++)
		children_add(&sp->ch, ROLE_REMOTE, i);
	if (janitor_wanted(sp->c))
		children_add(&sp->ch, ROLE_JANITOR, 0);
	sp->metrics_due = sp->c->metrics_file ? clock_mono_ms() : 0;
	handoff_soon(&sp->ho);	/* what an earlier run left in work/ and defer/ */
}

/* --- status and reload --------------------------------------------------------- */

static void
log_status(struct sup *sp)
{
	const struct sb_header *h = &sp->sb->hdr;
	int64_t now = sb_now_ms();
	int i;

	log_info("event=status supervisor_pid=%ld uptime_s=%lld generation=%u workers=%u target=%u "
	    "queue_depth=%lld queue_max=%ld done=%llu failed=%llu retried=%llu restarts=%llu "
	    "crashes=%llu deferred=%llu stuck=%u", (long)sp->self,
	    (long long)(now - h->started_ms) / 1000, sp->ch.generation,
	    children_count(&sp->ch, ROLE_WORKER, 0, 1), sp->target,
	    (long long)queue_depth(sp->q), sp->qdepth, (unsigned long long)h->done,
	    (unsigned long long)h->failed, (unsigned long long)h->retried,
	    (unsigned long long)h->restarts, (unsigned long long)h->crashes,
	    (unsigned long long)h->deferred, sb_stuck_count(sp->sb));
	for (i = 0; i < SB_SLOTS; i++) {
		const struct sb_slot *ss = &sp->sb->slot[i];
		char name[sizeof(ss->name)];

		if (sp->ch.kids[i].role != ROLE_WORKER || !ss->pid)
			continue;
		memcpy(name, ss->name, sizeof(name));
		name[sizeof(name) - 1] = '\0';
		log_info("event=status_worker slot=%d worker_pid=%d state=%s%s generation=%u job=%s "
		    "name=%s secs=%lld done=%llu failed=%llu", i, ss->pid,
		    ss->state == SB_BUSY ? "busy" : ss->state == SB_TAKING ? "taking" : "idle",
		    ss->retiring ? ",retiring" : "",
		    ss->generation, LQ(ss->state == SB_BUSY && ss->job[0] ? ss->job : "-"),
		    LQ(ss->state == SB_BUSY && name[0] ? name : "-"),
		    ss->state == SB_BUSY ? (long long)(now - ss->job_started_ms) / 1000 : 0LL,
		    (unsigned long long)ss->jobs_done, (unsigned long long)ss->jobs_failed);
	}
}

/* A reason why nc cannot replace the running configuration, or NULL. */
static const char *
not_reloadable(const struct conf *old, const struct conf *nc)
{
	if ((nc->user == NULL) != (old->user == NULL) ||
	    (nc->user && strcmp(nc->user, old->user) != 0))
		return "user: cannot change without a restart (privileges are already dropped)";
	if (strcmp(nc->spool, old->spool) != 0)
		return "spool: cannot change without a restart (the lock, the queue and the "
		    "scoreboard live in it)";
	return NULL;
}

/*
 * SIGHUP: the new config must be whole and valid, or nothing changes. Old
 * workers finish their current job and leave; new ones take the next jobs.
 */
static void
reload(struct sup *sp)
{
	struct conf *nc = calloc(1, sizeof(*nc));
	char err[PATH_MAX + 512];
	const char *why;
	int rebuild_watcher, i;

	if (nc == NULL) {
		log_warn("event=reload status=failed");
		return;
	}
	if (conf_read(nc, sp->c->file, sp->ov, err, sizeof(err)) == -1) {
		log_warnx("event=reload status=failed error=%s", LQ(err));
		free(nc);
		return;
	}
	if ((why = not_reloadable(sp->c, nc)) != NULL) {
		log_warnx("event=reload status=failed error=%s", LQ(why));
		conf_free(nc);
		free(nc);
		return;
	}
	rebuild_watcher = nc->ignore.n != sp->c->ignore.n || nc->settle_ms != sp->c->settle_ms;
	for (i = 0; !rebuild_watcher && (size_t)i < nc->ignore.n; i++)
		rebuild_watcher = strcmp(nc->ignore.v[i], sp->c->ignore.v[i]) != 0;

	if (sp->c_owned) {
		conf_free(sp->c);
		free(sp->c);
	}
	sp->c = nc;
	sp->c_owned = 1;
	sp->s.fsync = nc->fsync;
	log_init("supervisor", nc->verbosity);
	log_set_time(nc->log_time);
	children_retire_all(&sp->ch, rebuild_watcher);
	sp->sb->hdr.generation = sp->ch.generation;
	if (rebuild_watcher)
		children_add(&sp->ch, ROLE_WATCHER, 0);
	for (i = 0; i < remote_children(sp->c); i++)
		children_add(&sp->ch, ROLE_REMOTE, i);
	if (janitor_wanted(sp->c))
		children_add(&sp->ch, ROLE_JANITOR, 0);
	sp->target = 0;
	set_target(sp, nc->workers, "reload");
	sp->metrics_due = nc->metrics_file ? clock_mono_ms() : 0;
	log_info("event=reload status=ok generation=%u workers=%u watcher=%s", sp->ch.generation,
	    nc->workers, rebuild_watcher ? "rebuilt" : "kept");
}

/* --- shutdown ------------------------------------------------------------------ */

/* Wait for the workers to exit until deadline (0: forever). 1 if all gone. */
static int
wait_workers(struct sup *sp, uint64_t deadline)
{
	while (children_count(&sp->ch, ROLE_WORKER, 0, 1) > 0) {
		struct pollfd p = { .fd = sp->sigfd, .events = POLLIN };
		struct signalfd_siginfo si;
		uint64_t now = clock_mono_ms();

		if (deadline && now >= deadline)
			return 0;
		if (poll(&p, 1, deadline ? (int)(deadline - now) : 100) > 0)
			while (read(sp->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
					/* QUIT, then TERM: the operator wants it over with. */
					if (!deadline)
						deadline = clock_mono_ms() + sp->c->shutdown_grace_ms;
				}
		(void)children_reap(&sp->ch, 1);
	}
	return 1;
}

static int
shutdown_all(struct sup *sp, int signo)
{
	uint64_t grace = signo == SIGQUIT ? 0 : sp->c->shutdown_grace_ms;
	int killed, i;

	if (signo == SIGQUIT)
		log_info("event=shutdown signal=QUIT grace=none");
	else
		log_info("event=shutdown signal=%s grace_ms=%llu", sigabbrev_np(signo),
		    (unsigned long long)grace);
	/* Watcher and remote children keep nothing in memory: no more names. */
	for (i = 0; i < SB_SLOTS; i++) {
		struct child *k = &sp->ch.kids[i];

		if ((k->role == ROLE_WATCHER || k->role == ROLE_REMOTE || k->role == ROLE_JANITOR) &&
		    k->pid) {
			kill(k->pid, SIGKILL);
			(void)waitpid(k->pid, NULL, 0);
			k->pid = 0;
		}
	}
	children_signal(&sp->ch, ROLE_WORKER, SIGTERM);
	if (!wait_workers(sp, signo == SIGQUIT ? 0 : clock_mono_ms() + grace)) {
		log_info("event=grace_expired workers=%u", children_count(&sp->ch, ROLE_WORKER, 0, 1));
		children_signal(&sp->ch, ROLE_WORKER, WORKER_SIG_ABANDON);
		(void)wait_workers(sp, clock_mono_ms() + ABANDON_WAIT_MS);
	}
	/*
	 * Not killpg(): that would kill the supervisor too and turn a clean stop
	 * into "killed by signal 9". Everything else in our group (setup made
	 * sure it is ours), and every descendant wherever it moved (setsid),
	 * gets SIGKILL.
	 */
	killed = proctree_kill(sp->self, 1, NULL, 0, 1, 3000);	/* our group only if we lead it */
	if (killed > 0)
		log_info("event=killed count=%d", killed);
	(void)children_reap(&sp->ch, 1);
	if ((killed = handoff_tidy(&sp->ho)) > 0)
		log_info("event=tidy spares_removed=%d", killed);
	if (sp->c->metrics_file)
		(void)metrics_write_mode(sp->c->metrics_file, metrics_mode_of(sp->c->metrics_mode),
		    sp->sb, &sp->s, sp->q, &sp->c->ignore);
	pgroup_release(&sp->pg);
	log_info("event=stopped");
	return 0;
}

/* --- events -------------------------------------------------------------------- */

static void
on_ready(struct sup *sp)
{
	char b[64];

	if (read(sp->ready[0], b, sizeof(b)) > 0 && !sp->ready_logged) {
		sp->ready_logged = 1;
		log_info("event=ready spool=%s workers=%u", LQ(sp->s.path), sp->target);
	}
}

static void
on_bell(struct sup *sp)
{
	char b[256];

	while (read(sp->bell[0], b, sizeof(b)) > 0)
		;
	handoff_soon(&sp->ho);
}

/* 1 when the daemon is to stop (*rc then says how). */
static int
on_signals(struct sup *sp, int *rc)
{
	struct signalfd_siginfo si;

	while (read(sp->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			*rc = shutdown_all(sp, (int)si.ssi_signo);
			return 1;
		case SIGHUP:
			reload(sp);
			break;
		case SIGTTIN:
			if (sp->target < MAX_WORKERS)
				set_target(sp, sp->target + 1, "SIGTTIN");
			else
				log_info("event=workers target=%u why=SIGTTIN action=none "
				    "reason=\"at most %u\"", MAX_WORKERS, MAX_WORKERS);
			break;
		case SIGTTOU:
			if (sp->target > 1)
				set_target(sp, sp->target - 1, "SIGTTOU");
			else
				log_info("event=workers target=1 why=SIGTTOU action=none "
				    "reason=\"never fewer than one\"");
			break;
		case SIGUSR1:
			log_status(sp);
			break;
		default:
			break;
		}
	}
	return 0;
}

static void
on_children(struct sup *sp)
{
	if (children_reap(&sp->ch, 0) > 0)
		fill_workers(sp);	/* an old worker left: a new one takes its place */
	if (sp->orphans) {
		/* A dead worker's handler children came to us: they die before its job moves on. */
		pid_t keep[SB_SLOTS];
		size_t n = children_pids(&sp->ch, keep);
		int killed = proctree_kill(sp->self, 0, keep, n, 0, 1000);

		if (killed > 0)
			log_info("event=orphans_killed count=%d", killed);
		sp->orphans = 0;
	}
	children_respawn(&sp->ch);
}

static void
on_timers(struct sup *sp)
{
	if (handoff_timeout_ms(&sp->ho) == 0) {
		handoff_sweep(&sp->ho);
		if (sp->ho.rescan) {
			sp->ho.rescan = 0;
			request_rescan(sp, "stuck_overflow");
		}
	}
	if (sp->metrics_due && clock_mono_ms() >= sp->metrics_due) {
		if (metrics_write_mode(sp->c->metrics_file, metrics_mode_of(sp->c->metrics_mode),
		    sp->sb, &sp->s, sp->q, &sp->c->ignore) == -1)
			log_warn("event=metrics path=%s", LQ(sp->c->metrics_file));
		sp->metrics_due = clock_mono_ms() + sp->c->metrics_interval_ms;
	}
}

static int
next_timeout(const struct sup *sp)
{
	int t = handoff_timeout_ms(&sp->ho), r = children_timeout_ms(&sp->ch);
	uint64_t now = clock_mono_ms();

	if (r >= 0 && r < t)
		t = r;
	if (sp->metrics_due) {
		int m = sp->metrics_due <= now ? 0 : (int)(sp->metrics_due - now);

		if (m < t)
			t = m;
	}
	return t;
}

/* --- start-up ------------------------------------------------------------------ */

/*
 * Why the daemon cannot start, said once: as a sentence on a terminal, else
 * as one logfmt line for the log a service manager collects.
 */
static void start_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
start_error(const char *fmt, ...)
{
	char msg[PATH_MAX + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "ingestd: %s\n", msg);
	else
		fprintf(stderr, "level=fatal role=supervisor pid=%ld event=start error=%s\n",
		    (long)getpid(), LQ(msg));
}

static int
open_queue(struct sup *sp)
{
	char why[256];

	queue_name(sp->s.path, sp->qname, sizeof(sp->qname));
	sp->q = queue_create(sp->qname, &sp->qdepth, why, sizeof(why));
	if (sp->q == (mqd_t)-1) {
		start_error("cannot create message queue: %s", why);
		return EX_OSERR;
	}
	/*
	 * Every process that uses the queue is forked from us and inherits the
	 * descriptor, so the name has done its work: without it a daemon killed
	 * by SIGKILL leaves no queue behind to count against RLIMIT_MSGQUEUE.
	 */
	(void)mq_unlink(sp->qname);
	sp->sb->hdr.queue_max = sp->qdepth;
	log_info("event=queue name=%s depth=%ld msgsize=%d limit=%s", LQ(sp->qname), sp->qdepth,
	    QUEUE_MSGSIZE, LQ(why));
	return 0;
}

/* What the last run appended is made durable now: the notifier may post all of it. */
static void
sync_journal(struct sup *sp)
{
	off_t upto = 0;

	if (journal_settle(sp->s.dirfd, sp->s.fsync, &upto) == -1)
		log_warn("event=journal_sync");
	sb_journal_synced(sp->sb, (int64_t)upto);
}

static int
setup(struct sup *sp)
{
	static const struct children_ops ops = { run_child, role_name, child_died, NULL };
	struct children_ops o = ops;
	char err[PATH_MAX + 256];
	sigset_t set;
	int rc;

	if (pgroup_own(&sp->pg) == -1) {
		start_error("cannot lead a process group of its own: %s", strerror(errno));
		return EX_OSERR;
	}
	sp->self = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("event=subreaper");
	rc = priv_drop(sp->c->user, sp->c->allow_root, sp->c->handler.command.n > 0, err,
	    sizeof(err));
	if (rc == 0 && (rc = spool_open(&sp->s, sp->c->spool, sp->c->fsync, err, sizeof(err))) == 0)
		rc = spool_lock(&sp->s, err, sizeof(err));
	if (rc != 0) {
		start_error("%s", err);
		return rc;
	}
	sp->sb = sb_create(sp->s.dirfd);
	if (sp->sb == NULL) {
		start_error("cannot create %s/%s: %s", sp->s.path, SB_FILE, strerror(errno));
		return EX_CANTCREAT;
	}
	if ((rc = open_queue(sp)) != 0)
		return rc;
	if (pipe2(sp->bell, O_NONBLOCK | O_CLOEXEC) == -1 ||
	    pipe2(sp->ready, O_NONBLOCK | O_CLOEXEC) == -1 ||
	    handoff_init(&sp->ho, &sp->s, sp->q, sp->sb) == -1) {
		start_error("%s", strerror(errno));
		return EX_OSERR;
	}
	sync_journal(sp);
	o.arg = sp;
	children_init(&sp->ch, sp->sb, &o);

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
supervisor_run(struct conf *c, const struct conf_overrides *ov)
{
	struct sup *sp;
	int rc = 0;

	/* Large (the child table): keep it off the stack. */
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL) {
		fprintf(stderr, "ingestd: out of memory\n");
		return EX_OSERR;
	}
	sp->c = c;
	sp->ov = ov;
	sp->sigfd = sp->pg.tty = -1;
	sp->bell[0] = sp->bell[1] = sp->ready[0] = sp->ready[1] = -1;
	sp->q = (mqd_t)-1;
	log_init("supervisor", c->verbosity);
	log_set_time(c->log_time);

	if ((rc = setup(sp)) != 0)
		goto out;
	sp->sb->hdr.generation = sp->ch.generation;
	log_info("event=start version=%s spool=%s workers=%u pgid=%ld kill=%s", INGESTD_VERSION,
	    LQ(sp->s.path), c->workers, (long)getpgrp(), proctree_method());
	start_children(sp);

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = sp->sigfd, .events = POLLIN },
			{ .fd = sp->bell[0], .events = POLLIN },
			{ .fd = sp->ready[0], .events = POLLIN },
		};

		if (poll(p, 3, next_timeout(sp)) == -1 && errno != EINTR)
			fatal("event=poll");
		if (p[2].revents & POLLIN)
			on_ready(sp);
		if (p[1].revents & POLLIN)
			on_bell(sp);
		if ((p[0].revents & POLLIN) && on_signals(sp, &rc))
			break;
		on_children(sp);
		on_timers(sp);
	}
out:
	pgroup_release(&sp->pg);
	/* Our caller frees the config it gave us; a reload may have replaced it. */
	if (sp->c_owned) {
		conf_free(sp->c);
		free(sp->c);
	}
	handoff_free(&sp->ho);
	spool_close(&sp->s);
	free(sp);
	return rc;
}
