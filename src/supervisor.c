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
#include "metrics.h"
#include "priv.h"
#include "proctree.h"
#include "queue.h"
#include "remote.h"
#include "scoreboard.h"
#include "spool.h"
#include "supervisor.h"
#include "watcher.h"
#include "worker.h"

#define RESPAWN_MIN_MS   100
#define RESPAWN_MAX_MS   30000
#define YOUNG_MS         1000	/* a child that dies younger than this is throttled */
#define ABANDON_WAIT_MS  500	/* workers get this long to leave jobs tidy */

enum role { ROLE_NONE = 0, ROLE_WATCHER, ROLE_WORKER, ROLE_REMOTE };

/* One entry per scoreboard slot; a dead child keeps its entry until respawned. */
struct child {
	enum role role;
	int       idx;		/* remote child index */
	pid_t     pid;		/* 0: not running */
	uint32_t  generation;
	int       retiring;	/* told to stop: do not respawn */
	uint64_t  started;
	uint64_t  delay;	/* current respawn delay */
	uint64_t  due;		/* respawn at (0: not scheduled) */
};

struct sup {
	struct conf       *c;
	const struct overrides *ov;
	struct spool       s;
	mqd_t              q;
	mqd_t              qnb;	/* our own non-blocking descriptor, for requeues */
	long               qdepth;
	char               qname[64];
	int                sigfd;
	int                readyfd;	/* watcher says its watch is set */
	int                ready;	/* logged event=ready */
	pid_t              self;
	uint32_t           generation;
	unsigned           target;	/* workers wanted */
	struct scoreboard *sb;
	struct child       kids[SB_SLOTS];
	uint64_t           metrics_due;
	int                c_owned;	/* c came from a reload: ours to free */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *
role_name(const struct sup *sp, const struct child *k)
{
	switch (k->role) {
	case ROLE_WATCHER:
		return "watcher";
	case ROLE_WORKER:
		return "worker";
	case ROLE_REMOTE:
		return remote_role(sp->c, k->idx);
	default:
		return "none";
	}
}

/* --- configuration ------------------------------------------------------------ */

int
supervisor_load_config(const char *file, const struct overrides *ov, struct conf *c,
    char *err, size_t errlen)
{
	if (conf_defaults(c) == -1) {
		snprintf(err, errlen, "ingestd: out of memory");
		return -1;
	}
	if (file != NULL && conf_load(c, file, err, errlen) == -1)
		goto fail;
	if (ov->spool != NULL) {
		free(c->spool);
		if ((c->spool = strdup(ov->spool)) == NULL) {
			snprintf(err, errlen, "ingestd: out of memory");
			goto fail;
		}
	}
	if (ov->workers > 0)
		c->workers = ov->workers;
	c->verbosity = ov->verbosity;
	if (conf_validate(c, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	conf_free(c);
	return -1;
}

/* --- children ----------------------------------------------------------------- */

/* In a fresh child: drop what belongs to the supervisor alone. */
static void
child_setup(struct sup *sp, const char *role)
{
	close(sp->sigfd);
	/* The spool lock must die with the supervisor, not with its last child. */
	close(sp->s.lockfd);
	sp->s.lockfd = -1;
	if (sp->qnb != (mqd_t)-1)
		mq_close(sp->qnb);
	log_set_role(role);
	if (strcmp(role, "worker") != 0) {
		/* Signals meant for the supervisor, sent to the whole group by mistake. */
		static const int ign[] = { SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU };
		size_t i;

		for (i = 0; i < sizeof(ign) / sizeof(ign[0]); i++)
			signal(ign[i], SIG_IGN);
	}
}

static int
free_slot(const struct sup *sp)
{
	int i;

	for (i = 0; i < SB_SLOTS; i++)
		if (sp->kids[i].role == ROLE_NONE)
			return i;
	return -1;
}

static int
spawn(struct sup *sp, int slot)
{
	struct child *k = &sp->kids[slot];
	struct sb_slot *ss = &sp->sb->slot[slot];
	int p[2] = { -1, -1 };
	pid_t pid;

	if (k->role == ROLE_WATCHER && pipe2(p, O_CLOEXEC) == -1)
		return -1;
	/* Clear the slot before the child can write to it. */
	memset(ss, 0, sizeof(*ss));
	ss->generation = k->generation;
	ss->role = k->role == ROLE_WATCHER ? SB_ROLE_WATCHER :
	    k->role == ROLE_WORKER ? SB_ROLE_WORKER : SB_ROLE_REMOTE;
	ss->state = SB_IDLE;
	ss->started_ms = sb_now_ms();
	pid = fork();
	if (pid == -1) {
		if (p[0] >= 0) {
			close(p[0]);
			close(p[1]);
		}
		return -1;
	}
	if (pid == 0) {
		if (sp->readyfd >= 0)
			close(sp->readyfd);
		child_setup(sp, role_name(sp, k));
		switch (k->role) {
		case ROLE_WATCHER:
			close(p[0]);
			watcher_main(sp->c, &sp->s, sp->q, p[1], sp->self, sp->sb);
		case ROLE_WORKER:
			worker_main(sp->c, &sp->s, sp->q, slot, sp->self, sp->sb);
		case ROLE_REMOTE:
			remote_main(sp->c, &sp->s, sp->q, k->idx, sp->self);
		default:
			_exit(EX_SOFTWARE);
		}
	}
	if (k->role == ROLE_WATCHER) {
		close(p[1]);
		if (sp->readyfd >= 0)
			close(sp->readyfd);
		sp->readyfd = p[0];
	}
	ss->pid = pid;
	k->pid = pid;
	k->started = now_ms();
	k->due = 0;
	log_info("event=spawn role=%s pid=%ld slot=%d generation=%u", role_name(sp, k),
	    (long)pid, slot, k->generation);
	return 0;
}

/* Take a slot for a new child of role and start it now. */
static int
add_child(struct sup *sp, enum role role, int idx)
{
	int slot = free_slot(sp);

	if (slot < 0) {
		log_warnx("event=spawn role=%d error=\"scoreboard full\"", (int)role);
		return -1;
	}
	memset(&sp->kids[slot], 0, sizeof(sp->kids[slot]));
	sp->kids[slot].role = role;
	sp->kids[slot].idx = idx;
	sp->kids[slot].generation = sp->generation;
	if (spawn(sp, slot) == -1) {
		log_warn("event=spawn role=%s", role_name(sp, &sp->kids[slot]));
		/* Keep the slot and try again later. */
		sp->kids[slot].due = now_ms() + RESPAWN_MIN_MS;
		sp->kids[slot].delay = RESPAWN_MIN_MS;
	}
	return slot;
}

static void
release_slot(struct sup *sp, int slot)
{
	memset(&sp->kids[slot], 0, sizeof(sp->kids[slot]));
	memset(&sp->sb->slot[slot], 0, sizeof(sp->sb->slot[slot]));
}

/*
 * A crash loop must cost a growing pause, never a busy CPU. A child that got
 * work done before it died (jobs > 0) is not looping, however young.
 */
static void
schedule_respawn(struct child *k, int crashed, uint64_t jobs)
{
	uint64_t now = now_ms();

	if (crashed && now - k->started < YOUNG_MS && jobs == 0)
		k->delay = k->delay ? k->delay * 2 : RESPAWN_MIN_MS;
	else
		k->delay = 0;
	if (k->delay > RESPAWN_MAX_MS)
		k->delay = RESPAWN_MAX_MS;
	k->due = now + k->delay;
	if (k->due == 0)
		k->due = 1;
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

static size_t
live_pids(const struct sup *sp, pid_t *v)
{
	size_t n = 0;
	int i;

	for (i = 0; i < SB_SLOTS; i++)
		if (sp->kids[i].pid)
			v[n++] = sp->kids[i].pid;
	return n;
}

static void
request_rescan(struct sup *sp, const char *why)
{
	if (watcher_request_rescan(sp->s.inboxfd) == -1)
		log_warn("event=rescan_request why=%s", why);
	else
		log_info("event=rescan_request why=%s", why);
}

/*
 * What a dead worker held goes back: a job by id, for an idle worker to
 * adopt at once (else the replacement finds it in work/ when it starts); a
 * name it had just taken off the queue, by name; and when we cannot know
 * whether it had taken one, a rescan of the inbox.
 */
static void
requeue(struct sup *sp, int slot)
{
	struct sb_slot *ss = &sp->sb->slot[slot];
	char job[sizeof(ss->job)], name[sizeof(ss->name)];
	int32_t state = __atomic_load_n(&ss->state, __ATOMIC_ACQUIRE);

	memcpy(job, ss->job, sizeof(job));
	job[sizeof(job) - 1] = '\0';
	memcpy(name, ss->name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	if (state == SB_BUSY && job[0]) {
		if (sp->qnb != (mqd_t)-1 && queue_send(sp->qnb, QUEUE_MSG_JOB, job) == 0)
			log_info("event=requeue job=%s", job);
	} else if (state == SB_TAKING && name[0]) {
		if (sp->qnb != (mqd_t)-1 && queue_send(sp->qnb, QUEUE_MSG_PACKET, name) == 0)
			log_info("event=requeue name=%s", log_quote((char[NAME_MAX * 4 + 3]){0},
			    NAME_MAX * 4 + 3, name));
		else
			request_rescan(sp, "requeue_failed");
	} else if (state == SB_TAKING) {
		request_rescan(sp, "worker_died_receiving");
	}
}

static void
reap(struct sup *sp, int shutting_down)
{
	int status, worker_crashed = 0, slot;
	pid_t pid;
	char how[32];

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *k = NULL;
		uint64_t jobs;
		int crashed;

		for (slot = 0; slot < SB_SLOTS; slot++)
			if (sp->kids[slot].pid == pid) {
				k = &sp->kids[slot];
				break;
			}
		if (k == NULL)
			continue;	/* an orphan of a handler, reparented to us */
		describe(status, how, sizeof(how));
		crashed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		k->pid = 0;
		if (k->role == ROLE_WORKER && crashed && !shutting_down) {
			worker_crashed = 1;
			requeue(sp, slot);
		}
		jobs = sp->sb->slot[slot].jobs_done + sp->sb->slot[slot].jobs_failed;
		/* Dead is dead in the scoreboard too, even while a respawn waits. */
		sp->sb->slot[slot].pid = 0;
		__atomic_store_n(&sp->sb->slot[slot].state, SB_FREE, __ATOMIC_RELEASE);
		if (shutting_down) {
			log_debug("event=exit role=%s pid=%ld slot=%d %s", role_name(sp, k),
			    (long)pid, slot, how);
			continue;
		}
		if (k->retiring || (k->role == ROLE_WORKER && k->generation != sp->generation)) {
			log_info("event=retired role=%s pid=%ld slot=%d %s", role_name(sp, k),
			    (long)pid, slot, how);
			release_slot(sp, slot);
			continue;
		}
		__atomic_add_fetch(&sp->sb->hdr.restarts, 1, __ATOMIC_RELAXED);
		schedule_respawn(k, crashed, jobs);
		if (crashed)
			log_warnx("event=exit role=%s pid=%ld slot=%d %s respawn_ms=%llu",
			    role_name(sp, k), (long)pid, slot, how, (unsigned long long)k->delay);
		else
			log_info("event=recycle role=%s pid=%ld slot=%d", role_name(sp, k),
			    (long)pid, slot);
	}
	if (worker_crashed) {
		/* A dead worker's handler children came to us: they must not live on. */
		pid_t keep[SB_SLOTS];
		size_t n = live_pids(sp, keep);
		int killed = proctree_kill(sp->self, 0, keep, n, 0, 1000);

		if (killed > 0)
			log_info("event=orphans_killed count=%d", killed);
	}
}

static void
respawn_due(struct sup *sp)
{
	uint64_t now = now_ms();
	int i;

	for (i = 0; i < SB_SLOTS; i++) {
		struct child *k = &sp->kids[i];

		if (k->role == ROLE_NONE || k->pid || !k->due || k->due > now)
			continue;
		if (spawn(sp, i) == -1) {
			log_warn("event=spawn role=%s slot=%d", role_name(sp, k), i);
			k->started = now;
			schedule_respawn(k, 1, 0);
		}
	}
}

static int
next_timeout(const struct sup *sp)
{
	uint64_t now = now_ms(), first = UINT64_MAX;
	int i;

	for (i = 0; i < SB_SLOTS; i++) {
		const struct child *k = &sp->kids[i];

		if (k->role != ROLE_NONE && !k->pid && k->due && k->due < first)
			first = k->due;
	}
	if (sp->metrics_due && sp->metrics_due < first)
		first = sp->metrics_due;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)(first - now);
}

static unsigned
count(const struct sup *sp, enum role role, int current_only, int alive_only)
{
	unsigned n = 0;
	int i;

	for (i = 0; i < SB_SLOTS; i++) {
		const struct child *k = &sp->kids[i];

		if (k->role != role || (alive_only && !k->pid))
			continue;
		if (current_only && (k->retiring || k->generation != sp->generation))
			continue;
		n++;
	}
	return n;
}

static void
signal_role(struct sup *sp, enum role role, int sig)
{
	int i;

	for (i = 0; i < SB_SLOTS; i++)
		if (sp->kids[i].role == role && sp->kids[i].pid)
			kill(sp->kids[i].pid, sig);
}

/* Ask one worker of the current generation to finish its job and leave. */
static void
retire_one(struct sup *sp)
{
	int i, pick = -1;

	/* An idle one if there is one: nobody waits for its job. */
	for (i = SB_SLOTS - 1; i >= 0; i--) {
		struct child *k = &sp->kids[i];

		if (k->role != ROLE_WORKER || k->retiring || k->generation != sp->generation)
			continue;
		if (pick < 0 || (sp->sb->slot[i].state == SB_IDLE &&
		    sp->sb->slot[pick].state != SB_IDLE))
			pick = i;
	}
	if (pick < 0)
		return;
	sp->kids[pick].retiring = 1;
	if (sp->kids[pick].pid) {
		sp->sb->slot[pick].retiring = 1;
		kill(sp->kids[pick].pid, SIGTERM);
	} else {
		release_slot(sp, pick);
	}
}

static void
set_target(struct sup *sp, unsigned target, const char *why)
{
	unsigned have = count(sp, ROLE_WORKER, 1, 0);

	sp->target = target;
	sp->sb->hdr.workers_target = target;
	while (have < target) {
		add_child(sp, ROLE_WORKER, 0);
		have++;
	}
	while (have > target) {
		retire_one(sp);
		have--;
	}
	log_info("event=workers target=%u why=%s", target, why);
}

/* --- signals ------------------------------------------------------------------- */

static void
log_status(struct sup *sp)
{
	const struct sb_header *h = &sp->sb->hdr;
	int64_t now = sb_now_ms();
	char q[NAME_MAX * 4 + 3];
	int i;

	log_info("event=status pid=%ld uptime_s=%lld generation=%u workers=%u target=%u "
	    "queue_depth=%lld queue_max=%ld done=%llu failed=%llu retried=%llu restarts=%llu "
	    "crashes=%llu", (long)sp->self, (long long)(now - h->started_ms) / 1000,
	    sp->generation, count(sp, ROLE_WORKER, 0, 1), sp->target,
	    (long long)queue_depth(sp->q), sp->qdepth, (unsigned long long)h->done,
	    (unsigned long long)h->failed, (unsigned long long)h->retried,
	    (unsigned long long)h->restarts, (unsigned long long)h->crashes);
	for (i = 0; i < SB_SLOTS; i++) {
		const struct sb_slot *ss = &sp->sb->slot[i];
		char name[sizeof(ss->name)];

		if (sp->kids[i].role != ROLE_WORKER || !ss->pid)
			continue;
		memcpy(name, ss->name, sizeof(name));
		name[sizeof(name) - 1] = '\0';
		log_info("event=status_worker slot=%d pid=%d state=%s%s generation=%u job=%s "
		    "name=%s secs=%lld done=%llu failed=%llu", i, ss->pid,
		    ss->state == SB_BUSY ? "busy" : ss->state == SB_TAKING ? "taking" : "idle",
		    ss->retiring ? ",retiring" : "",
		    ss->generation, ss->state == SB_BUSY && ss->job[0] ? ss->job : "-",
		    log_quote(q, sizeof(q), ss->state == SB_BUSY && name[0] ? name : "-"),
		    ss->state == SB_BUSY ? (long long)(now - ss->job_started_ms) / 1000 : 0LL,
		    (unsigned long long)ss->jobs_done, (unsigned long long)ss->jobs_failed);
	}
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
	int rebuild_watcher, i;

	if (nc == NULL) {
		log_warn("event=reload status=failed");
		return;
	}
	if (supervisor_load_config(sp->c->file, sp->ov, nc, err, sizeof(err)) == -1) {
		log_warnx("event=reload status=failed error=%s", log_quote((char[1024]){0}, 1024, err));
		free(nc);
		return;
	}
	if ((nc->user == NULL) != (sp->c->user == NULL) ||
	    (nc->user && strcmp(nc->user, sp->c->user) != 0)) {
		log_warnx("event=reload status=failed error=\"user: cannot change without a "
		    "restart (privileges are already dropped)\"");
		conf_free(nc);
		free(nc);
		return;
	}
	if (strcmp(nc->spool, sp->c->spool) != 0) {
		log_warnx("event=reload status=failed error=\"spool: cannot change without a "
		    "restart (the lock, the queue and the scoreboard live in it)\"");
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
	sp->generation++;
	sp->sb->hdr.generation = sp->generation;
	for (i = 0; i < SB_SLOTS; i++) {
		struct child *k = &sp->kids[i];

		if (k->role == ROLE_WORKER || k->role == ROLE_REMOTE ||
		    (k->role == ROLE_WATCHER && rebuild_watcher)) {
			k->retiring = 1;
			if (k->pid) {
				if (k->role == ROLE_WORKER)
					sp->sb->slot[i].retiring = 1;
				kill(k->pid, k->role == ROLE_WORKER ? SIGTERM : SIGKILL);
			} else {
				release_slot(sp, i);
			}
		}
	}
	if (rebuild_watcher)
		add_child(sp, ROLE_WATCHER, 0);
	for (i = 0; i < remote_children(sp->c); i++)
		add_child(sp, ROLE_REMOTE, i);
	sp->target = 0;
	set_target(sp, nc->workers, "reload");
	sp->metrics_due = nc->metrics_file ? now_ms() : 0;
	log_info("event=reload status=ok generation=%u workers=%u watcher=%s", sp->generation,
	    nc->workers, rebuild_watcher ? "rebuilt" : "kept");
}

/* Wait for the workers to exit until deadline (0: forever). 1 if all gone. */
static int
wait_workers(struct sup *sp, uint64_t deadline)
{
	while (count(sp, ROLE_WORKER, 0, 1) > 0) {
		struct pollfd p = { .fd = sp->sigfd, .events = POLLIN };
		struct signalfd_siginfo si;
		uint64_t now = now_ms();

		if (deadline && now >= deadline)
			return 0;
		if (poll(&p, 1, deadline ? (int)(deadline - now) : -1) > 0)
			while (read(sp->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
					/* QUIT, then TERM: the operator wants it over with. */
					if (!deadline)
						deadline = now_ms() + sp->c->shutdown_grace_ms;
				}
		reap(sp, 1);
	}
	return 1;
}

static int
shutdown_all(struct sup *sp, int signo)
{
	uint64_t grace = signo == SIGQUIT ? 0 : sp->c->shutdown_grace_ms;
	int killed;
	int i;

	if (signo == SIGQUIT)
		log_info("event=shutdown signal=QUIT grace=none");
	else
		log_info("event=shutdown signal=%s grace_ms=%llu", sigabbrev_np(signo),
		    (unsigned long long)grace);
	/* Watcher and remote children keep nothing in memory: no more names. */
	for (i = 0; i < SB_SLOTS; i++) {
		struct child *k = &sp->kids[i];

		if ((k->role == ROLE_WATCHER || k->role == ROLE_REMOTE) && k->pid) {
			kill(k->pid, SIGKILL);
			(void)waitpid(k->pid, NULL, 0);
			k->pid = 0;
		}
	}
	signal_role(sp, ROLE_WORKER, SIGTERM);
	if (!wait_workers(sp, signo == SIGQUIT ? 0 : now_ms() + grace)) {
		log_info("event=grace_expired workers=%u", count(sp, ROLE_WORKER, 0, 1));
		signal_role(sp, ROLE_WORKER, WORKER_SIG_ABANDON);
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
	reap(sp, 1);
	(void)mq_unlink(sp->qname);
	if (sp->c->metrics_file)
		(void)metrics_write(sp->c->metrics_file, sp->sb, &sp->s, sp->q, &sp->c->ignore);
	log_info("event=stopped");
	return 0;
}

/* --- start-up ------------------------------------------------------------------ */

static int
open_spool(struct sup *sp, struct spool *s, char *err, size_t errlen)
{
	int rc = spool_open(s, sp->c->spool, sp->c->fsync, err, errlen);

	if (rc == 0)
		rc = spool_lock(s, err, errlen);
	return rc;
}

static int
setup(struct sup *sp)
{
	char err[PATH_MAX + 256], why[256];
	sigset_t set;
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
	rc = open_spool(sp, &sp->s, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "ingestd: %s\n", err);
		return rc;
	}
	sp->sb = sb_create(sp->s.dirfd);
	if (sp->sb == NULL) {
		fprintf(stderr, "ingestd: cannot create %s/%s: %s\n", sp->s.path, SB_FILE,
		    strerror(errno));
		return EX_CANTCREAT;
	}
	queue_name(sp->s.path, sp->qname, sizeof(sp->qname));
	sp->q = queue_create(sp->qname, &sp->qdepth, why, sizeof(why));
	if (sp->q == (mqd_t)-1) {
		fprintf(stderr, "ingestd: cannot create message queue: %s\n", why);
		return EX_OSERR;
	}
	sp->qnb = mq_open(sp->qname, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (sp->qnb == (mqd_t)-1)
		log_warn("event=queue_open mode=nonblock");
	sp->sb->hdr.queue_max = sp->qdepth;
	log_info("event=queue name=%s depth=%ld msgsize=%d limit=\"%s\"", sp->qname, sp->qdepth,
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
supervisor_run(struct conf *c, const struct overrides *ov)
{
	struct sup *sp;
	int i, rc;

	/* Large (the child table): keep it off the stack. */
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL) {
		fprintf(stderr, "ingestd: out of memory\n");
		return EX_OSERR;
	}
	sp->c = c;
	sp->ov = ov;
	sp->readyfd = -1;
	sp->sigfd = -1;
	sp->q = sp->qnb = (mqd_t)-1;
	sp->generation = 1;
	log_init("supervisor", c->verbosity);

	rc = setup(sp);
	if (rc != 0)
		goto out;
	sp->sb->hdr.generation = sp->generation;
	log_info("event=start version=%s spool=%s workers=%u pgid=%ld", INGESTD_VERSION,
	    sp->s.path, c->workers, (long)getpgrp());
	add_child(sp, ROLE_WATCHER, 0);
	set_target(sp, c->workers, "start");
	for (i = 0; i < remote_children(c); i++)
		add_child(sp, ROLE_REMOTE, i);
	sp->metrics_due = c->metrics_file ? now_ms() : 0;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = sp->sigfd, .events = POLLIN },
			{ .fd = sp->readyfd, .events = POLLIN },
		};
		struct signalfd_siginfo si;

		if (poll(p, 2, next_timeout(sp)) == -1 && errno != EINTR)
			fatal("event=poll");
		if (p[1].revents & (POLLIN | POLLHUP)) {
			char b;
			ssize_t n = read(sp->readyfd, &b, 1);

			close(sp->readyfd);
			sp->readyfd = -1;
			if (n == 1 && !sp->ready) {
				sp->ready = 1;
				log_info("event=ready spool=%s workers=%u", sp->s.path, sp->target);
			}
		}
		while (read(sp->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGTERM:
			case SIGINT:
			case SIGQUIT:
				rc = shutdown_all(sp, (int)si.ssi_signo);
				goto out;
			case SIGHUP:
				reload(sp);
				break;
			case SIGTTIN:
				if (sp->target < 256)
					set_target(sp, sp->target + 1, "SIGTTIN");
				else
					log_info("event=workers target=256 why=SIGTTIN action=none "
					    "reason=\"at most 256\"");
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
		reap(sp, 0);
		respawn_due(sp);
		if (sp->metrics_due && now_ms() >= sp->metrics_due) {
			if (metrics_write(sp->c->metrics_file, sp->sb, &sp->s, sp->q, &sp->c->ignore) == -1)
				log_warn("event=metrics path=%s", sp->c->metrics_file);
			sp->metrics_due = now_ms() + sp->c->metrics_interval_ms;
		}
	}
out:
	/* Our caller frees the config it gave us; a reload may have replaced it. */
	if (sp->c_owned) {
		conf_free(sp->c);
		free(sp->c);
	}
	spool_close(&sp->s);
	free(sp);
	return rc;
}
