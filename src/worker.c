#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "fetch.h"
#include "origin.h"
#include "filing.h"
#include "handler.h"
#include "job.h"
#include "log.h"
#include "names.h"
#include "packet.h"
#include "queue.h"
#include "template.h"
#include "worker.h"

/* Under load the worker looks at its signals this often, between jobs. */
#define SIGNAL_CHECK_MS 10

/* What one worker process needs; it lives on worker_main's stack. */
struct worker {
	const struct conf *c;
	struct spool      *s;
	mqd_t              q;
	int                sigfd;
	int                slot;
	int                stop;	/* finish the current job, take no more */
	int                abandon;	/* drop the current job now */
	struct filer       f;
	struct scoreboard *sb;
	struct sb_slot    *me;
	unsigned           jobs;	/* jobs run, for max_jobs_per_worker */
	uint64_t           signals_seen;	/* monotonic ms of the last look */
	uint64_t           depth_seen;	/* ... at the queue's depth */
	uid_t              uid;
	gid_t              gid;
	gid_t              groups[64];
	int                ngroups;
	struct cluster    *cl;		/* cluster mode: opened at the first S3 fetch */
};

/* How one handler run ended, for the job. */
enum run {
	RUN_DONE,	/* exit 0 */
	RUN_FAILED,	/* the packet's fault or the handler's: reason set */
	RUN_RETRY,	/* exit 75, or could not be started: retry later */
	RUN_ABANDONED	/* we were told to stop: not the packet's fault */
};

static void
sb_busy(struct worker *w, const struct job *j)
{
	if (w->me == NULL)
		return;
	snprintf(w->me->job, sizeof(w->me->job), "%s", j->id);
	snprintf(w->me->name, sizeof(w->me->name), "%s", j->name);
	w->me->job_started_ms = sb_now_ms();
	__atomic_store_n(&w->me->state, SB_BUSY, __ATOMIC_RELEASE);
}

static void
sb_idle(struct worker *w)
{
	if (w->me == NULL)
		return;
	__atomic_store_n(&w->me->state, SB_IDLE, __ATOMIC_RELEASE);
	w->me->job[0] = '\0';
	w->me->name[0] = '\0';
}

/* Returns 1 when the current job must be abandoned. */
static int
on_signal(void *arg)
{
	struct worker *w = arg;
	struct signalfd_siginfo si;

	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!w->stop)
				log_debug("event=stopping slot=%d", w->slot);
			w->stop = 1;
			break;
		case WORKER_SIG_ABANDON:
			w->stop = w->abandon = 1;
			break;
		default:
			break;
		}
	}
	return w->abandon;
}

/* For long transfers: stop only when the job must be abandoned. */
static int
interrupted(void *arg)
{
	struct worker *w = arg;
	struct pollfd p = { .fd = w->sigfd, .events = POLLIN };

	if (poll(&p, 1, 0) > 0)
		on_signal(w);
	return w->abandon;
}

/* --- verdicts ----------------------------------------------------------------- */

static void
stage(struct worker *w, struct job *j, int failed, const char *reason, uint64_t start, int tree)
{
	if (filing_stage(&w->f, j, failed, reason, clock_mono_ms() - start, tree) == FILING_ERROR)
		log_warn("event=stage job=%s", j->id);
	origin_drop(w->s, j->name);
}

/* Leave the job in work/ for the next worker or the next run. */
static void
abandon(struct worker *w, struct job *j)
{
	j->interrupted = 1;
	log_info("event=interrupted job=%s name=%s", j->id, LQ(j->name));
	filing_let_go(&w->f, j);
}

/* Empty tree/ before a job waits: a deferred job is prepared again. */
static void
defer(struct worker *w, struct job *j, unsigned n, const char *why)
{
	if (job_clear_tree(j) == -1)
		log_warn("event=clear_tree job=%s", j->id);
	(void)filing_defer(&w->f, j, n, why);
}

/* --- running -------------------------------------------------------------------- */

static void
env_push(struct strv *env, const char *key, const char *val)
{
	char *s;

	if (asprintf(&s, "%s=%s", key, val) != -1) {
		(void)strv_push(env, s);
		free(s);
	}
}

static int
build_env(struct worker *w, struct job *j, const struct packet_result *pr, const char *path,
    struct strv *env)
{
	const struct conf *c = w->c;
	const char *p;
	char num[24];
	size_t i;

	env_push(env, "INGEST_NAME", j->name);
	env_push(env, "INGEST_PATH", path);
	env_push(env, "INGEST_DIR", pr->dir);
	snprintf(num, sizeof(num), "%u", j->attempts);
	env_push(env, "INGEST_ATTEMPT", num);
	env_push(env, "INGEST_SPOOL", w->s->path);
	env_push(env, "INGEST_JOB", j->id);
	origin_env(w->s, j->name, path, env);
	p = getenv("PATH");
	env_push(env, "PATH", p ? p : "/usr/local/bin:/usr/bin:/bin");
	for (i = 0; i < c->handler.env.n; i++)
		if ((p = getenv(c->handler.env.v[i])) != NULL)
			env_push(env, c->handler.env.v[i], p);
	for (i = 0; i < pr->env.n; i++)
		(void)strv_push(env, pr->env.v[i]);
	return env->n >= 7 ? 0 : -1;
}

static int
build_argv(struct worker *w, struct job *j, const struct packet_result *pr, const char *path,
    struct strv *argv)
{
	size_t i;

	for (i = 0; i < w->c->handler.command.n; i++) {
		char *s = template_expand(w->c->handler.command.v[i], j->name, path, pr->dir);

		if (s == NULL)
			return -1;
		(void)strv_push(argv, s);
		free(s);
	}
	return argv->n == w->c->handler.command.n ? 0 : -1;
}

static enum run
run_handler(struct worker *w, struct job *j, const struct packet_result *pr, char *reason,
    size_t reasonlen)
{
	struct strv argv = { 0 }, env = { 0 };
	struct handler_result hr;
	struct handler_ctx h;
	char path[PATH_MAX + NAME_MAX + 8];
	enum run rc;
	int logfd;

	snprintf(path, sizeof(path), "%s/%s/%s", j->dir, JOB_PKT, j->name);
	if (build_argv(w, j, pr, path, &argv) == -1 || build_env(w, j, pr, path, &env) == -1) {
		snprintf(reason, reasonlen, "internal error=\"cannot build the handler's argv\"");
		rc = RUN_RETRY;
		goto out;
	}
	logfd = openat(j->fd, JOB_LOG, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
	    0640);
	if (logfd == -1) {
		snprintf(reason, reasonlen, "system error=%s", LQ(strerror(errno)));
		rc = RUN_RETRY;
		goto out;
	}
	j->has_log = 1;
	if (j->attempts > 1) {
		char hdr[64];
		int m = snprintf(hdr, sizeof(hdr), "[ingestd: attempt %u]\n", j->attempts);

		(void)!write(logfd, hdr, (size_t)m);
	}
	memset(&h, 0, sizeof(h));
	h.argv = argv.v;
	h.envp = env.v;
	h.cwd = pr->dir;
	h.timeout_ms = w->c->handler.timeout_ms;
	h.log_max = w->c->handler.log_max;
	h.logfd = logfd;
	h.sigfd = w->sigfd;
	h.on_signal = on_signal;
	h.arg = w;
	if (handler_run(&h, &hr) == -1) {
		snprintf(reason, reasonlen, "system error=%s",
		    LQ(strerror(errno)));
		close(logfd);
		rc = RUN_RETRY;
		goto out;
	}
	close(logfd);
	handler_reason(&hr, w->c->handler.timeout_ms, reason, reasonlen);
	if (hr.how == HANDLER_ABANDONED)
		rc = RUN_ABANDONED;
	else if (hr.how == HANDLER_EXITED && hr.code == 0)
		rc = RUN_DONE;
	else if (hr.how == HANDLER_EXITED && hr.code == EX_TEMPFAIL)
		rc = RUN_RETRY;
	else
		rc = RUN_FAILED;
	log_debug("event=handler job=%s name=%s attempt=%u how=%d code=%d dur_ms=%llu",
	    j->id, LQ(j->name), j->attempts, (int)hr.how, hr.code,
	    (unsigned long long)hr.dur_ms);
out:
	strv_free(&argv);
	strv_free(&env);
	return rc;
}

/*
 * The download in pkt/ becomes the job's packet: 1; 0 deferred (the system's
 * fault); -1 not in the job (failed, or an inbox packet of an earlier build).
 */
static int
download_in(struct worker *w, struct job *j)
{
	switch (job_become_download(j, w->c->fsync)) {
	case 0:
		sb_busy(w, j);
		return 1;
	case 1:
		return -1;
	default:
		log_warn("event=packet job=%s name=%s", j->id, LQ(j->name));
		defer(w, j, ++j->ftries, "prepare");
		return 0;
	}
}

/* A URL packet, downloaded into the job: 1 when it is now the job's packet; 0 done with. */
static int
run_fetch(struct worker *w, struct job *j, uint64_t start)
{
	struct fetch_ctl ctl = { interrupted, w, 0, w->sb, w->slot, NULL, j->pktfd };
	char reason[2048] = "", path[PATH_MAX + NAME_MAX + 8], err[512];
	enum fetch_result rc;
	int in;

	if (w->c->cluster.nats.n > 0 && w->cl == NULL &&
	    (w->cl = cluster_open(w->c, "worker", err, sizeof(err))) == NULL)
		log_warnx("event=cluster slot=%d error=%s", w->slot, LQ(err));
	ctl.cl = w->cl;

	snprintf(path, sizeof(path), "%s/%s/%s", j->dir, JOB_PKT, j->name);
	filing_commit(&w->f);	/* nothing staged waits for a download */
	j->attempts++;
	(void)job_save_state(j);
	ctl.last = j->attempts > w->c->handler.retries;
	rc = fetch_url_packet(w->c, w->s, path, j->name, &ctl, reason, sizeof(reason));
	/* In, yet failed (the lock was held, a sync failed): never the packet's fault. */
	if ((rc == FETCH_TEMP || rc == FETCH_BAD) && (in = download_in(w, j)) >= 0) {
		if (in)
			log_warnx("event=fetch_left job=%s name=%s reason=%s", j->id,
			    LQ(j->name), LQ(reason));
		return in;
	}
	if (rc == FETCH_INTERRUPTED) {
		abandon(w, j);
	} else if (rc == FETCH_PAUSED) {
		/* Downloaded and verified, only NATS is away: no attempt spent. */
		j->attempts--;
		(void)job_save_state(j);
		log_info("event=paused job=%s name=%s reason=%s", j->id, LQ(j->name), LQ(reason));
		defer(w, j, 1, "cluster");
	} else if (rc == FETCH_DUPLICATE) {
		stage(w, j, 0, reason, start, 0);	/* another host filed it: nothing here */
	} else if (rc == FETCH_OK) {
		if ((in = download_in(w, j)) >= 0)
			return in;
		stage(w, j, 0, "", start, 0);	/* an inbox packet of its own (download_in) */
	} else if (rc == FETCH_BAD || j->attempts > w->c->handler.retries) {
		stage(w, j, 1, reason, start, 0);
	} else {
		__atomic_add_fetch(&w->sb->hdr.retried, 1, __ATOMIC_RELAXED);
		log_info("event=retry job=%s name=%s attempt=%u reason=%s", j->id, LQ(j->name),
		    j->attempts, LQ(reason));
		defer(w, j, j->attempts, "fetch");
	}
	return 0;
}

/* Can the daemon's user read the packet (and enter it, for a folder)? */
static int
readable(const struct worker *w, const struct stat *st)
{
	mode_t need = S_ISDIR(st->st_mode) ? 5 : 4;
	int i;

	if (w->uid == 0)
		return 1;
	if (st->st_uid == w->uid)
		return ((st->st_mode >> 6) & need) == need;
	if (st->st_gid == w->gid)
		return ((st->st_mode >> 3) & need) == need;
	for (i = 0; i < w->ngroups; i++)
		if (st->st_gid == w->groups[i])
			return ((st->st_mode >> 3) & need) == need;
	return (st->st_mode & need) == need;
}

/* The job's packet is in pkt/: prepare it, run the handler, stage the verdict. */
static void
run_job(struct worker *w, struct job *j)
{
	const struct conf *c = w->c;
	struct packet_result pr;
	char reason[2048] = "", tmp[2048 + 64];
	uint64_t start = clock_mono_ms();
	struct stat st;
	int rc, tree;
	enum run run;

	memset(&pr, 0, sizeof(pr));
	if (j->crashes > c->handler.retries) {
		snprintf(reason, sizeof(reason), "crashed crashes=%u", j->crashes);
		stage(w, j, 1, reason, start, 0);
		return;
	}
	if (fstatat(j->pktfd, j->name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("event=stat job=%s name=%s", j->id, LQ(j->name));
		filing_let_go(&w->f, j);
		return;
	}
	if (S_ISLNK(st.st_mode)) {
		stage(w, j, 1, "symlink", start, 0);
		return;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		stage(w, j, 1, "type error=\"not a regular file or folder\"", start, 0);
		return;
	}
	if (!readable(w, &st)) {
		snprintf(reason, sizeof(reason), "permission entry=%s mode=%04o uid=%u gid=%u "
		    "error=\"the daemon's user may not read it\"", LQ(j->name),
		    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid);
		stage(w, j, 1, reason, start, 0);
		return;
	}
	if (S_ISREG(st.st_mode) && fetch_is_url_packet(j->name) && run_fetch(w, j, start) == 0)
		return;

	rc = packet_prepare(c, j->dir, j->name, &pr, reason, sizeof(reason));
	tree = 1;	/* whatever prepare left in tree/ is cleared with the job */
	if (rc == PACKET_BAD) {
		stage(w, j, 1, reason, start, tree);
		return;
	}
	if (rc != PACKET_OK) {
		/* The system's fault (a full disk...): never the packet's. */
		log_warnx("event=prepare_retry job=%s name=%s reason=%s", j->id, LQ(j->name),
		    LQ(reason));
		defer(w, j, ++j->ftries, "prepare");
		return;
	}
	j->has_manifest = pr.manifest[0] != '\0';
	if (c->handler.command.n == 0) {
		strv_free(&pr.env);
		stage(w, j, 0, "", start, tree);
		return;
	}
	/* What is staged must not wait for a handler to finish. */
	filing_commit(&w->f);
	j->attempts++;
	j->interrupted = 0;
	(void)job_save_state(j);
	run = run_handler(w, j, &pr, reason, sizeof(reason));
	strv_free(&pr.env);
	switch (run) {
	case RUN_DONE:
		stage(w, j, 0, "", start, tree);
		break;
	case RUN_FAILED:
		stage(w, j, 1, reason, start, tree);
		break;
	case RUN_ABANDONED:
		abandon(w, j);
		break;
	case RUN_RETRY:
		if (j->attempts > c->handler.retries) {
			snprintf(tmp, sizeof(tmp), "tempfail attempts=%u last=%s", j->attempts,
			    LQ(reason));
			stage(w, j, 1, tmp, start, tree);
			break;
		}
		__atomic_add_fetch(&w->sb->hdr.retried, 1, __ATOMIC_RELAXED);
		log_info("event=retry job=%s name=%s attempt=%u backoff_ms=%llu", j->id,
		    LQ(j->name), j->attempts,
		    (unsigned long long)filing_backoff_ms(c, j->attempts));
		defer(w, j, j->attempts, "tempfail");
		break;
	}
}

/* A job taken over from work/ or defer/: finish its filing or run it again. */
static void
resume(struct worker *w, struct job *j)
{
	if (filing_recover(&w->f, j) != FILING_RUN)
		return;
	if (j->interrupted)
		j->interrupted = 0;
	else if (j->crashes > 0)
		__atomic_add_fetch(&w->sb->hdr.crashes, 1, __ATOMIC_RELAXED);
	sb_busy(w, j);
	run_job(w, j);
	sb_idle(w);
}

/* --- hints ------------------------------------------------------------------------ */

/* A claim is cheap to try again: from 100 ms on, doubling, up to handler.backoff_max. */
#define CLAIM_RETRY_MS 100

static int
stuck_report(struct worker *w, const char *name, int e)
{
	unsigned tries = sb_stuck_tries(w->sb, name) + 1, i;
	int64_t retry = CLAIM_RETRY_MS;

	if (e == EACCES || e == EPERM)
		retry = 60000;	/* only a person mends that */
	else
		for (i = 1; i < tries && retry < (int64_t)w->c->handler.backoff_max_ms; i++)
			retry *= 2;
	if (e != EACCES && e != EPERM && retry > (int64_t)w->c->handler.backoff_max_ms)
		retry = (int64_t)w->c->handler.backoff_max_ms;
	return sb_stuck_note(w->sb, name, e, sb_now_ms(), retry, &tries);
}

static void
take_packet(struct worker *w, const char *name)
{
	struct job j;

	if (!name_is_valid(name) || name_is_internal(name) || ignore_match(&w->c->ignore, name)) {
		log_debug("event=skip name=%s", LQ(name));
		return;
	}
	if (filing_spare(&w->f, &j) == -1) {
		/* No directory to claim it into (a full disk): offered again later. */
		int e = errno;

		log_warn("event=job_new name=%s", LQ(name));
		(void)stuck_report(w, name, e);
		return;
	}
	if (job_claim(w->s, &j, name) == -1) {
		int e = errno;

		filing_unspare(&w->f, &j);
		if (e == ENOENT)
			return;	/* another worker was first, or a duplicate hint */
		/*
		 * It stays in the inbox, and the supervisor offers it again: once a
		 * minute when the daemon may not move it, which only a person can
		 * mend; after a growing pause when the system failed (a full disk).
		 */
		if (stuck_report(w, name, e))
			log_warnx("event=stuck name=%s error=%s retry=%s", LQ(name), LQ(strerror(e)),
			    e == EACCES || e == EPERM ? "\"every minute\"" : "backoff");
		return;
	}
	sb_stuck_forget(w->sb, name);
	log_debug("event=claim job=%s name=%s", j.id, LQ(name));
	sb_busy(w, &j);
	run_job(w, &j);
	sb_idle(w);
	w->jobs++;
}

/* "ID" or "ID:CRASHES", from the supervisor's sweep. */
static void
take_job(struct worker *w, const char *msg)
{
	char id[JOB_ID_LEN + 1];
	struct job j;
	unsigned crashes = 0;
	int rc;

	if (strlen(msg) < JOB_ID_LEN)
		return;
	memcpy(id, msg, JOB_ID_LEN);
	id[JOB_ID_LEN] = '\0';
	if (!job_is_id(id) || (msg[JOB_ID_LEN] != '\0' &&
	    sscanf(msg + JOB_ID_LEN, ":%u", &crashes) != 1))
		return;
	rc = job_adopt(w->s, id, &j);
	if (rc <= 0) {
		if (rc == -1)
			log_warn("event=adopt job=%s", id);
		return;
	}
	j.crashes = crashes;
	resume(w, &j);
	w->jobs++;
}

static void
take_deferred(struct worker *w, const char *entry)
{
	struct job j;
	int rc;

	rc = job_undefer(w->s, entry, &j);
	if (rc <= 0) {
		if (rc == -1)
			log_warn("event=undefer entry=%s", LQ(entry));
		return;
	}
	log_debug("event=due job=%s name=%s", j.id, LQ(j.name));
	resume(w, &j);
	w->jobs++;
}

/* --- the loop --------------------------------------------------------------------- */

static void
wait_for_work(struct worker *w)
{
	struct pollfd p[2] = {
		{ .fd = (int)w->q, .events = POLLIN },
		{ .fd = w->sigfd, .events = POLLIN },
	};

	if (poll(p, 2, -1) == -1 && errno != EINTR)
		fatal("event=poll");
	if (p[1].revents & POLLIN)
		on_signal(w);
	w->signals_seen = clock_mono_ms();
}

static void
serve(struct worker *w)
{
	char msg[QUEUE_MSGSIZE], type;
	int rc;

	while (!w->stop) {
		uint64_t now = clock_mono_ms();

		if (now - w->signals_seen >= SIGNAL_CHECK_MS) {
			(void)interrupted(w);
			w->signals_seen = now;
			if (w->stop)
				break;
		}
		/*
		 * A received message is gone from the queue: say in the scoreboard
		 * that we are taking one, so that if we die before the claim the
		 * supervisor can put the name back (or have the inbox rescanned).
		 */
		if (w->me != NULL) {
			w->me->name[0] = '\0';
			__atomic_store_n(&w->me->state, SB_TAKING, __ATOMIC_RELEASE);
		}
		rc = queue_take(w->q, &type, msg, sizeof(msg));
		if (rc == 1 && type == QUEUE_MSG_PACKET && w->me != NULL)
			snprintf(w->me->name, sizeof(w->me->name), "%.*s",
			    (int)sizeof(w->me->name) - 1, msg);
		if (rc <= 0) {
			sb_idle(w);
			if (rc == -1)
				log_warn("event=queue_receive");
			/* About to wait: what is staged is committed first. */
			if (!filing_empty(&w->f))
				filing_commit(&w->f);
			else
				wait_for_work(w);
			continue;
		}
		if (now - w->depth_seen >= SIGNAL_CHECK_MS) {
			/* A gauge for status: a syscall per message would be too many. */
			__atomic_store_n(&w->sb->hdr.queue_depth, queue_depth(w->q), __ATOMIC_RELAXED);
			w->depth_seen = now;
		}
		if (type == QUEUE_MSG_PACKET)
			take_packet(w, msg);
		else if (type == QUEUE_MSG_JOB)
			take_job(w, msg);
		else if (type == QUEUE_MSG_DEFERRED)
			take_deferred(w, msg);
		sb_idle(w);
		if (filing_due(&w->f))
			filing_commit(&w->f);
		if (w->c->max_jobs_per_worker && w->jobs >= w->c->max_jobs_per_worker) {
			log_info("event=recycle slot=%d jobs=%u", w->slot, w->jobs);
			w->stop = 1;
		}
	}
}

void
worker_main(const struct conf *c, struct spool *s, mqd_t q, int slot, pid_t supervisor,
    struct scoreboard *sb, int bellfd)
{
	struct worker w;
	sigset_t set;

	memset(&w, 0, sizeof(w));
	w.c = c;
	w.s = s;
	w.q = q;
	w.slot = slot;
	w.sb = sb;
	w.me = slot >= 0 && slot < SB_SLOTS ? &sb->slot[slot] : NULL;
	w.uid = geteuid();
	w.gid = getegid();
	w.ngroups = getgroups((int)(sizeof(w.groups) / sizeof(w.groups[0])), w.groups);
	if (w.ngroups < 0)
		w.ngroups = 0;

	/* The supervisor's death must not leave this worker or its handler behind. */
	prctl(PR_SET_PDEATHSIG, WORKER_SIG_ABANDON);
	if (getppid() != supervisor)
		_exit(0);
	/* Orphans of the handler come back to us, so none escapes the cleanup. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, WORKER_SIG_ABANDON);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTTIN);
	sigaddset(&set, SIGTTOU);
	sigprocmask(SIG_BLOCK, &set, NULL);
	w.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (w.sigfd == -1)
		fatal("event=signalfd");
	if (filing_init(&w.f, c, s, sb, slot, bellfd) == -1)
		fatal("event=journal_open path=%s", LQ(s->path));

	serve(&w);
	filing_close(&w.f);
	log_debug("event=exit slot=%d", slot);
	cluster_close(w.cl);	/* sends what acks are still buffered */
	_exit(0);
}
