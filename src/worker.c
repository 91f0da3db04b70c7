#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "handler.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "names.h"
#include "packet.h"
#include "queue.h"
#include "template.h"
#include "watcher.h"
#include "worker.h"

#define OUTCOME_FILE "outcome"
#define LOG_FILE "log"
#define MANIFEST_FILE "manifest.json"

/* What one worker process needs; it lives on worker_main's stack. */
struct worker {
	const struct conf *c;
	struct spool      *s;
	mqd_t              q;
	int                sigfd;
	int                journalfd;
	int                slot;
	int                stop;	/* finish the current job, take no more */
	int                abandon;	/* drop the current job now */
	struct job         spare;	/* locked, empty: the job a claim renames into */
	struct scoreboard *sb;
	struct sb_slot    *me;
	unsigned           jobs;	/* jobs run, for max_jobs_per_worker */
	char               instance[32];	/* this daemon run: "PID.STARTMS" */
	long long          started_ms;	/* when this daemon run started */
};

enum run_result { RUN_FILED, RUN_ABANDONED, RUN_ERROR };

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

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

/* Sleep ms unless told to stop. Returns 1 if interrupted. */
static int
wait_ms(struct worker *w, uint64_t ms)
{
	uint64_t end = now_ms() + ms;

	while (!w->stop) {
		struct pollfd p = { .fd = w->sigfd, .events = POLLIN };
		uint64_t now = now_ms();

		if (now >= end)
			return 0;
		if (poll(&p, 1, (int)(end - now)) > 0)
			on_signal(w);
	}
	return 1;
}

static uint64_t
backoff_for(const struct conf *c, unsigned attempt)
{
	uint64_t d = c->handler.backoff_ms;
	unsigned i;

	for (i = 1; i < attempt && d < c->handler.backoff_max_ms; i++)
		d *= 2;
	return d > c->handler.backoff_max_ms ? c->handler.backoff_max_ms : d;
}

/* --- filing ---------------------------------------------------------------- */

static int
write_file_at(int dirfd, const char *name, const char *data, size_t len, int durable, int excl)
{
	int fd, e;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    (excl ? O_EXCL : O_TRUNC), 0640);
	if (fd == -1)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || (durable && fdatasync(fd) == -1)) {
		e = errno ? errno : EIO;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

static void
file_records(struct worker *w, struct job *j, int dirfd, const char *stem, const char *line,
    int failed)
{
	static const struct { const char *from, *suffix; } recs[] = {
		{ LOG_FILE, ".log" }, { MANIFEST_FILE, ".json" },
		{ "tree", ".tree" },	/* only there with packet.keep_extracted */
	};
	char to[NAME_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		if (strcmp(recs[i].from, "tree") == 0 && !w->c->packet.keep_extracted)
			continue;	/* a crashed attempt's leftovers go with the job */
		snprintf(to, sizeof(to), "%s%s", stem, recs[i].suffix);
		if (renameat2(j->fd, recs[i].from, dirfd, to, RENAME_NOREPLACE) == -1 &&
		    errno != ENOENT)
			log_warn("event=file_record job=%s record=%s", j->id, to);
	}
	if (failed) {
		snprintf(to, sizeof(to), "%s.error", stem);
		if (write_file_at(dirfd, to, line, strlen(line), w->s->fsync, 1) == -1 &&
		    errno != EEXIST)
			log_warn("event=file_record job=%s record=%s", j->id, to);
	}
}

/*
 * Second half of filing, once the packet has left pkt/: the records, the
 * directory's durability, the journal line, the job's removal. Every step
 * may be repeated: after a failure (ENOSPC, EIO) or a crash it is run again,
 * and `again` makes it look for its journal line first (from off, the
 * journal's size before the first try) so that it is never written twice.
 */
static int
complete(struct worker *w, struct job *j, int failed, const char *stem, const char *line,
    off_t off, int again, uint64_t dur_ms)
{
	int dirfd = failed ? w->s->failedfd : w->s->donefd;
	char q[NAME_MAX * 4 + 3];
	const char *p;

	file_records(w, j, dirfd, stem, line, failed);
	if (spool_sync_dir(w->s, dirfd) == -1)
		return -1;
	if (!again || journal_has_job(w->s->dirfd, off, j->id) == 0) {
		if (journal_append(w->journalfd, line, strlen(line), w->s->fsync) == -1)
			return -1;
		sb_job_finished(w->sb, w->slot, failed, dur_ms);
		log_quote(q, sizeof(q), *j->name ? j->name : stem);
		if (failed && (p = strstr(line, " reason=")) != NULL)
			log_info("event=failed job=%s name=%s attempts=%u reason=%.*s", j->id, q,
			    j->attempts, (int)strcspn(p + 8, "\n"), p + 8);
		else
			log_info("event=%s job=%s name=%s attempts=%u dur_ms=%llu",
			    failed ? "failed" : "done", j->id, q, j->attempts,
			    (unsigned long long)dur_ms);
	}
	if (job_remove(w->s, j) == -1)
		log_warn("event=job_remove job=%s", j->id);
	return 0;
}

/*
 * Move the packet to done/ or failed/, then complete(). work/J/outcome is
 * written first, whole (temporary name, then rename), so that a crash or
 * an error at any later point is finished by resume() without running the
 * handler again and without a second journal line.
 */
static int
finish(struct worker *w, struct job *j, int failed, const char *reason, uint64_t dur_ms)
{
	const char *dname = failed ? "failed" : "done";
	int dirfd = failed ? w->s->failedfd : w->s->donefd;
	int del = !failed && w->c->packet.on_success == ON_SUCCESS_DELETE;
	char stem[NAME_MAX + 1], ts[40], qname[NAME_MAX * 4 + 3], qfiled[NAME_MAX * 4 + 16];
	char line[JOURNAL_LINE_MAX], outcome[JOURNAL_LINE_MAX + NAME_MAX + 64];
	char filed[NAME_MAX + 16];
	off_t off = journal_size(w->journalfd);
	unsigned n = 0;
	int len, olen;

	for (;;) {
		if (spool_pick_stem(dirfd, j->name, &n, stem, sizeof(stem)) == -1)
			return -1;
		snprintf(filed, sizeof(filed), "%s/%s", dname, stem);
		journal_timestamp(ts, sizeof(ts));
		len = snprintf(line, sizeof(line),
		    "ts=%s job=%s name=%s outcome=%s attempts=%u dur_ms=%llu wait_ms=%lld worker=%ld "
		    "filed=%s%s%s\n",
		    ts, j->id, log_quote(qname, sizeof(qname), j->name), dname, j->attempts,
		    (unsigned long long)dur_ms, j->wait_ms, (long)getpid(),
		    del ? "-" : log_quote(qfiled, sizeof(qfiled), filed),
		    failed ? " reason=" : "", failed ? reason : "");
		if (len < 0 || (size_t)len >= sizeof(line)) {
			/* A reason too long for one line: keep the line whole, cut the reason. */
			len = (int)sizeof(line) - 1;
			line[len - 1] = '\n';
		}
		/* The stem goes last on its line: names may hold spaces. */
		olen = snprintf(outcome, sizeof(outcome), "journal_off=%lld stem=%s\n%s",
		    (long long)off, stem, line);
		if (write_file_at(j->fd, OUTCOME_FILE ".tmp", outcome, (size_t)olen, w->s->fsync,
		    0) == -1 || renameat(j->fd, OUTCOME_FILE ".tmp", j->fd, OUTCOME_FILE) == -1)
			return -1;
		if (del) {
			if (spool_rmtree(j->pktfd, j->name) == -1)
				return -1;
			break;
		}
		if (renameat2(j->pktfd, j->name, dirfd, stem, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST)
			return -1;
		n++;	/* another worker filed a packet of the same name just now */
	}
	return complete(w, j, failed, stem, line, off, 0, dur_ms);
}

/*
 * Carry on from work/J/outcome: file the packet again if it never left
 * pkt/, else complete() what is left. 0, -1 to retry later, or -2 when the
 * outcome cannot be read.
 */
static int
resume(struct worker *w, struct job *j)
{
	char buf[JOURNAL_LINE_MAX + NAME_MAX + 64], *line, *p, *stem;
	struct stat st;
	long long off;
	ssize_t n;
	int fd, failed;

	fd = openat(j->fd, OUTCOME_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return -2;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -2;
	buf[n] = '\0';
	line = strchr(buf, '\n');
	stem = strstr(buf, " stem=");
	if (line == NULL || stem == NULL || stem > line ||
	    sscanf(buf, "journal_off=%lld ", &off) != 1 || line[1] == '\0')
		return -2;
	*line++ = '\0';
	stem += 6;
	failed = strstr(line, " outcome=failed ") != NULL;
	if (*j->name && fstatat(j->pktfd, j->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* The packet never left: file it again with the recorded verdict. */
		p = strstr(line, " reason=");
		if (p != NULL)
			p[strcspn(p, "\n")] = '\0';
		return finish(w, j, failed, p ? p + 8 : "", 0);
	}
	return complete(w, j, failed, stem, line, (off_t)off, 1, 0);
}

/*
 * Filing can fail for a while (ENOSPC, EIO): keep the job and try again,
 * from where it stopped. With from_outcome the job was adopted with its
 * verdict already written.
 */
static enum run_result
finish_retrying(struct worker *w, struct job *j, int failed, const char *reason, uint64_t dur,
    int from_outcome)
{
	unsigned attempt;
	int rc;

	for (attempt = 1;; attempt++) {
		/* After a failure, carry on from the outcome if it was written. */
		int again = from_outcome ||
		    (attempt > 1 && faccessat(j->fd, OUTCOME_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0);

		rc = again ? resume(w, j) : finish(w, j, failed, reason, dur);
		if (rc == 0)
			return RUN_FILED;
		if (rc == -2)
			return RUN_ERROR;
		log_warn("event=file_retry job=%s name=%s attempt=%u", j->id, j->name, attempt);
		if (wait_ms(w, backoff_for(w->c, attempt))) {
			j->interrupted = 1;
			(void)job_save_state(j);
			job_release(j);
			return RUN_ABANDONED;
		}
	}
}

/* --- running --------------------------------------------------------------- */

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

/* One handler run. Returns 0 done, 1 failed (reason set), 2 retry, 3 abandoned. */
static int
run_handler(struct worker *w, struct job *j, const struct packet_result *pr, char *reason,
    size_t reasonlen)
{
	struct strv argv = { 0 }, env = { 0 };
	struct handler_result hr;
	struct handler_ctx h;
	char path[PATH_MAX + NAME_MAX + 8];
	int logfd, rc;

	snprintf(path, sizeof(path), "%s/pkt/%s", j->dir, j->name);
	if (build_argv(w, j, pr, path, &argv) == -1 || build_env(w, j, pr, path, &env) == -1) {
		snprintf(reason, reasonlen, "internal error=\"cannot build the handler's argv\"");
		rc = 2;
		goto out;
	}
	logfd = openat(j->fd, LOG_FILE, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (logfd == -1) {
		snprintf(reason, reasonlen, "system error=\"cannot open job log: %s\"", strerror(errno));
		rc = 2;
		goto out;
	}
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
		snprintf(reason, reasonlen, "system error=\"cannot start handler: %s\"", strerror(errno));
		close(logfd);
		rc = 2;
		goto out;
	}
	close(logfd);
	handler_reason(&hr, w->c->handler.timeout_ms, reason, reasonlen);
	if (hr.how == HANDLER_ABANDONED)
		rc = 3;
	else if (hr.how == HANDLER_EXITED && hr.code == 0)
		rc = 0;
	else if (hr.how == HANDLER_EXITED && hr.code == EX_TEMPFAIL)
		rc = 2;
	else
		rc = 1;
	log_debug("event=handler job=%s name=%s attempt=%u how=%d code=%d dur_ms=%llu",
	    j->id, j->name, j->attempts, (int)hr.how, hr.code, (unsigned long long)hr.dur_ms);
out:
	strv_free(&argv);
	strv_free(&env);
	return rc;
}

/* Leave the job in work/ for the next worker or the next run. */
static enum run_result
abandon(struct worker *w, struct job *j)
{
	j->interrupted = 1;
	(void)job_save_state(j);
	log_info("event=interrupted job=%s name=%s", j->id, j->name);
	job_release(j);
	(void)w;
	return RUN_ABANDONED;
}

/*
 * A URL packet: download into the inbox, where the result becomes an
 * ordinary packet; the .url file itself is then filed.
 */
static enum run_result
run_fetch(struct worker *w, struct job *j, uint64_t start)
{
	struct fetch_ctl ctl = { interrupted, w };
	char reason[2048] = "", path[PATH_MAX + NAME_MAX + 8];
	int rc;

	snprintf(path, sizeof(path), "%s/pkt/%s", j->dir, j->name);
	for (;;) {
		j->attempts++;
		(void)job_save_state(j);
		rc = fetch_url_packet(w->c, w->s, path, j->name, &ctl, reason, sizeof(reason));
		if (rc == FETCH_INTERRUPTED)
			return abandon(w, j);
		if (rc == PACKET_OK || rc == PACKET_BAD || j->attempts > w->c->handler.retries)
			break;
		__atomic_add_fetch(&w->sb->hdr.retried, 1, __ATOMIC_RELAXED);
		log_info("event=retry job=%s name=%s attempt=%u reason=%s", j->id, j->name,
		    j->attempts, reason);
		if (wait_ms(w, backoff_for(w->c, j->attempts)))
			return abandon(w, j);
	}
	return finish_retrying(w, j, rc != PACKET_OK, reason, now_ms() - start, 0);
}

static enum run_result
run_job(struct worker *w, struct job *j)
{
	const struct conf *c = w->c;
	struct packet_result pr;
	char reason[2048] = "";
	uint64_t start = now_ms();
	struct stat st;
	unsigned tries = 0;
	int rc, failed = 0;

	memset(&pr, 0, sizeof(pr));
	if (j->crashes > c->handler.retries) {
		snprintf(reason, sizeof(reason), "crashed crashes=%u", j->crashes);
		return finish_retrying(w, j, 1, reason, 0, 0);
	}
	if (fstatat(j->pktfd, j->name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("event=stat job=%s name=%s", j->id, j->name);
		return RUN_ERROR;
	}
	if (S_ISLNK(st.st_mode))
		return finish_retrying(w, j, 1, "symlink", 0, 0);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return finish_retrying(w, j, 1, "type error=\"not a regular file or folder\"", 0, 0);
	if (S_ISREG(st.st_mode) && fetch_is_url_packet(j->name))
		return run_fetch(w, j, start);

	for (;;) {
		rc = packet_prepare(c, j->dir, j->name, &pr, reason, sizeof(reason));
		if (rc == PACKET_OK)
			break;
		if (rc == PACKET_BAD) {
			failed = 1;
			goto file;
		}
		/*
		 * PACKET_TEMP: the system's fault (full disk...): wait with a growing
		 * pause, never fail the packet for it.
		 */
		tries++;
		log_warnx("event=prepare_retry job=%s name=%s attempt=%u reason=%s", j->id,
		    j->name, tries, reason);
		packet_cleanup(c, j->dir, &pr);
		if (wait_ms(w, backoff_for(c, tries)))
			return abandon(w, j);
	}
	while (c->handler.command.n > 0) {
		j->attempts++;
		j->interrupted = 0;
		(void)job_save_state(j);
		rc = run_handler(w, j, &pr, reason, sizeof(reason));
		if (rc == 0)
			break;
		if (rc == 3) {
			packet_cleanup(c, j->dir, &pr);
			return abandon(w, j);
		}
		if (rc == 1 || j->attempts > c->handler.retries) {
			if (rc == 2) {
				char tmp[sizeof(reason)];

				char q[sizeof(reason) + 16];

				snprintf(tmp, sizeof(tmp), "tempfail attempts=%u last=%s", j->attempts,
				    log_quote(q, sizeof(q), reason));
				snprintf(reason, sizeof(reason), "%s", tmp);
			}
			failed = 1;
			break;
		}
		__atomic_add_fetch(&w->sb->hdr.retried, 1, __ATOMIC_RELAXED);
		log_info("event=retry job=%s name=%s attempt=%u backoff_ms=%llu", j->id, j->name,
		    j->attempts, (unsigned long long)backoff_for(c, j->attempts));
		if (wait_ms(w, backoff_for(c, j->attempts))) {
			packet_cleanup(c, j->dir, &pr);
			return abandon(w, j);
		}
	}
file:
	packet_cleanup(c, j->dir, &pr);
	return finish_retrying(w, j, failed, reason, now_ms() - start, 0);
}

/* --- the loop --------------------------------------------------------------- */

/* Take over work/id if nobody holds it, and finish it. */
static void
adopt_one(struct worker *w, const char *id)
{
	struct job j;
	int rc;

	rc = job_adopt(w->s, id, &j);
	if (rc <= 0) {
		if (rc == -1)
			log_warn("event=adopt job=%s", id);
		return;
	}
	if (faccessat(j.fd, OUTCOME_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		if (finish_retrying(w, &j, 0, "", 0, 1) != RUN_ERROR)
			return;
		/*
		 * Unreadable: nothing was filed or journaled from it (the outcome is
		 * complete before the packet moves), so run the job again if the
		 * packet is still here; otherwise there is nothing left to do.
		 */
		log_warnx("event=recover job=%s error=\"unreadable outcome\" action=%s", j.id,
		    *j.name ? "rerun" : "remove");
		(void)unlinkat(j.fd, OUTCOME_FILE, 0);
		if (*j.name == '\0') {
			(void)job_remove(w->s, &j);
			return;
		}
	}
	if (*j.name == '\0') {
		(void)job_remove(w->s, &j);
		return;
	}
	/*
	 * Only a worker dying under this daemon run counts against the packet
	 * (a poison packet kills workers, not the supervisor). A job left by an
	 * earlier run was cut off by a restart or a crash of the whole daemon.
	 */
	if (j.interrupted) {
		j.interrupted = 0;
	} else if (strcmp(j.instance, w->instance) == 0 ||
	    ((j.instance[0] == '\0' || strcmp(j.instance, "-") == 0) &&
	    job_created_ms(j.id) >= w->started_ms - 10)) {
		j.crashes++;
		__atomic_add_fetch(&w->sb->hdr.crashes, 1, __ATOMIC_RELAXED);
	} else {
		log_info("event=restarted job=%s name=%s previous_run=%s", j.id, j.name,
		    j.instance[0] ? j.instance : "-");
	}
	snprintf(j.instance, sizeof(j.instance), "%s", w->instance);
	(void)job_save_state(&j);
	log_info("event=recover job=%s name=%s crashes=%u attempts=%u", j.id, j.name,
	    j.crashes, j.attempts);
	sb_busy(w, &j);
	if (run_job(w, &j) == RUN_ERROR)
		job_release(&j);
	sb_idle(w);
	w->jobs++;
}

/* Adopt what dead workers or a crashed run left in work/. */
static void
recover(struct worker *w)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = dup(w->s->workfd);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("event=recover_scan");
		if (fd >= 0)
			close(fd);
		return;
	}
	/* work/ holds one entry per running or orphaned job: small. */
	rewinddir(d);
	while (!w->stop && (de = readdir(d)) != NULL)
		if (job_is_id(de->d_name) && strcmp(de->d_name, w->spare.id) != 0)
			adopt_one(w, de->d_name);
	closedir(d);
}

/* A name we took off the queue but cannot claim now goes back, never lost. */
static void
give_back(struct worker *w, const char *name)
{
	struct stat st;

	if (fstatat(w->s->inboxfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return;	/* claimed by someone else meanwhile */
	if (queue_offer(w->q, QUEUE_MSG_PACKET, name) == 0)
		return;
	/* The queue is full: the watcher will find it in the inbox. */
	if (watcher_request_rescan(w->s->inboxfd) == -1)
		log_warn("event=give_back name=%s", name);
}

static void
take(struct worker *w, const char *name)
{
	unsigned tries;

	if (!name_is_valid(name) || name_is_internal(name) ||
	    ignore_match(&w->c->ignore, name)) {
		log_debug("event=skip name=%s", name);
		return;
	}
	for (tries = 1;; tries++) {
		if (w->spare.fd < 0 && job_new(w->s, &w->spare) == -1) {
			log_warn("event=job_new");
		} else if (job_claim(w->s, &w->spare, name) == 0) {
			struct job j = w->spare;

			snprintf(j.instance, sizeof(j.instance), "%s", w->instance);
			w->spare.fd = w->spare.pktfd = -1;
			w->spare.id[0] = '\0';
			log_debug("event=claim job=%s name=%s", j.id, name);
			sb_busy(w, &j);
			if (run_job(w, &j) == RUN_ERROR)
				job_release(&j);
			sb_idle(w);
			w->jobs++;
			return;
		} else if (errno == ENOENT) {
			/* Another worker was first, or a duplicate hint. work/ must show
			 * only real jobs, so the empty job goes too. */
			(void)job_remove(w->s, &w->spare);
			w->spare.id[0] = '\0';
			return;
		} else {
			log_warn("event=claim name=%s attempt=%u", name, tries);
		}
		if (tries >= 5 || wait_ms(w, backoff_for(w->c, tries))) {
			give_back(w, name);
			return;
		}
	}
}

void
worker_main(const struct conf *c, struct spool *s, mqd_t q, int slot, pid_t supervisor,
    struct scoreboard *sb)
{
	struct worker w;
	sigset_t set;
	char name[QUEUE_MSGSIZE], type;

	memset(&w, 0, sizeof(w));
	w.c = c;
	w.s = s;
	w.q = q;
	w.slot = slot;
	w.sb = sb;
	w.me = slot >= 0 && slot < SB_SLOTS ? &sb->slot[slot] : NULL;
	w.started_ms = sb->hdr.started_ms;
	snprintf(w.instance, sizeof(w.instance), "%ld.%lld", (long)supervisor,
	    (long long)sb->hdr.started_ms);
	w.spare.fd = w.spare.pktfd = -1;

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
	w.journalfd = journal_open(s->dirfd);
	if (w.journalfd == -1)
		fatal("event=journal_open path=%s/%s", s->path, JOURNAL_FILE);

	recover(&w);
	while (!w.stop) {
		struct pollfd p[2] = {
			{ .fd = (int)q, .events = POLLIN },
			{ .fd = w.sigfd, .events = POLLIN },
		};
		int rc;

		if (poll(p, 2, -1) == -1 && errno != EINTR)
			fatal("event=poll");
		if (p[1].revents & POLLIN)
			on_signal(&w);
		if (w.stop || !(p[0].revents & POLLIN))
			continue;
		/*
		 * A received message is gone from the queue: say in the scoreboard
		 * that we are taking one, so that if we die before the claim the
		 * supervisor can put the name back (or have the inbox rescanned).
		 */
		if (w.me != NULL) {
			w.me->name[0] = '\0';
			__atomic_store_n(&w.me->state, SB_TAKING, __ATOMIC_RELEASE);
		}
		rc = queue_take(q, &type, name, sizeof(name));
		if (rc == 1 && type == QUEUE_MSG_PACKET && w.me != NULL)
			snprintf(w.me->name, sizeof(w.me->name), "%.*s", (int)sizeof(w.me->name) - 1,
			    name);
		if (rc == -1) {
			log_warn("event=queue_receive");
			continue;
		}
		if (rc == 1)
			__atomic_store_n(&sb->hdr.queue_depth, queue_depth(q), __ATOMIC_RELAXED);
		if (rc == 1 && type == QUEUE_MSG_PACKET)
			take(&w, name);
		else if (rc == 1 && type == QUEUE_MSG_JOB && job_is_id(name))
			adopt_one(&w, name);
		sb_idle(&w);
		if (c->max_jobs_per_worker && w.jobs >= c->max_jobs_per_worker) {
			log_info("event=recycle slot=%d jobs=%u", slot, w.jobs);
			w.stop = 1;
		}
	}
	if (w.spare.fd >= 0)
		(void)job_remove(s, &w.spare);
	log_debug("event=exit slot=%d", slot);
	_exit(0);
}
