#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "filing.h"
#include "log.h"
#include "logfmt.h"

/* The longest record suffix: ".error". */
#define RECORD_SUFFIX_MAX 6
/* Room for a stem: NAME, cut so that STEM.error fits; and NAME.~J~, likewise. */
#define STEM_ROOM	(NAME_MAX - RECORD_SUFFIX_MAX)
#define ALT_ROOM	(STEM_ROOM - JOB_ID_LEN - 3)
/* A name or a filed= path quoted for the journal, never cut (LQ() may cut). */
#define JQ_MAX		((NAME_MAX + 16) * 4 + 3)
/* How far before a job's claim its line is looked for: clocks are not exact. */
#define FIND_SLACK_MS	10000

int
filing_init(struct filer *f, const struct conf *c, const struct spool *s,
    struct scoreboard *sb, int slot, int bellfd)
{
	memset(f, 0, sizeof(*f));
	f->c = c;
	f->s = s;
	f->sb = sb;
	f->slot = slot;
	f->bellfd = bellfd;
	f->pid = (long)getpid();
	f->v = calloc(FILING_BATCH, sizeof(*f->v));
	if (f->v == NULL)
		return -1;
	if (journal_open(&f->jl, s->dirfd, sb != NULL ? &sb->hdr.journal_gen : NULL) == -1) {
		free(f->v);
		f->v = NULL;
		return -1;
	}
	return 0;
}

void
filing_close(struct filer *f)
{
	size_t i;

	filing_commit(f);
	for (i = 0; i < f->nspare; i++)
		(void)job_remove(f->s, &f->spare[i]);
	f->nspare = 0;
	journal_close(&f->jl);
	free(f->v);
	f->v = NULL;
}

static void
ring(const struct filer *f)
{
	/* Non-blocking: a full pipe means the supervisor is about to sweep anyway. */
	if (f->bellfd >= 0)
		(void)!write(f->bellfd, "j", 1);
}

uint64_t
filing_backoff_ms(const struct conf *c, unsigned n)
{
	uint64_t d = c->handler.backoff_ms;
	unsigned i;

	for (i = 1; i < n && d < c->handler.backoff_max_ms; i++)
		d *= 2;
	return d > c->handler.backoff_max_ms ? c->handler.backoff_max_ms : d;
}

int
filing_spare(struct filer *f, struct job *j)
{
	if (f->nspare > 0) {
		*j = f->spare[--f->nspare];
		return 0;
	}
	return job_spare(f->s, j);
}

void
filing_unspare(struct filer *f, struct job *j)
{
	if (f->nspare < FILING_SPARES)
		f->spare[f->nspare++] = *j;
	else
		(void)job_remove(f->s, j);
	j->fd = j->pktfd = -1;
}

void
filing_let_go(struct filer *f, struct job *j)
{
	if (j->fd >= 0 && (j->name[0] || j->has_log || j->has_manifest || j->has_verdict))
		(void)job_save_state(j);
	job_release(j);
	ring(f);
}

enum filing_rc
filing_defer(struct filer *f, struct job *j, unsigned n, const char *why)
{
	uint64_t pause = filing_backoff_ms(f->c, n);

	/* So that its line is found at once later, or known to come after this. */
	if (j->line_at < 0) {
		j->journal_from = (long long)journal_size(&f->jl);
		j->journal_ino = journal_ino(&f->jl);
	}

	if (job_defer(f->s, j, clock_real_ms() + (long long)pause) == -1) {
		log_warn("event=defer job=%s name=%s", j->id, LQ(j->name));
		filing_let_go(f, j);
		return FILING_ERROR;
	}
	ring(f);
	log_info("event=deferred job=%s name=%s retry_in_ms=%llu why=%s", j->id, LQ(j->name),
	    (unsigned long long)pause, LQ(why));
	return FILING_DEFERRED;
}

/* --- stage ------------------------------------------------------------------- */

static int
taken(int dirfd, const char *stem, const char *suffix)
{
	char n[NAME_MAX + 16];
	struct stat st;

	snprintf(n, sizeof(n), "%s%s", stem, suffix);
	if (fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	/* Not known to be free: the name that cannot be taken is the safe one. */
	log_warn("event=stem name=%s action=\"use NAME.~JOBID~\"", LQ(n));
	return 1;
}

static void
alt_stem(const char *name, const char *id, char *stem, size_t len)
{
	snprintf(stem, len, "%.*s.~%s~", ALT_ROOM, name, id);
}

static int
dir_of(const struct filer *f, const struct staged *e)
{
	return e->failed ? f->s->failedfd : f->s->donefd;
}

static int
keeps_tree(const struct filer *f, const struct staged *e)
{
	return f->c->packet.keep_extracted && e->tree;
}

/*
 * NAME when neither it nor a record this job will leave is taken, else
 * NAME.~J~: unique by construction, whatever was filed before, in O(1).
 */
static void
pick_stem(const struct filer *f, struct staged *e)
{
	int dirfd = dir_of(f, e);
	const struct job *j = &e->j;

	snprintf(e->stem, sizeof(e->stem), "%.*s", STEM_ROOM, j->name);
	if (taken(dirfd, e->stem, "") || (j->has_log && taken(dirfd, e->stem, ".log")) ||
	    (j->has_manifest && taken(dirfd, e->stem, ".json")) ||
	    (e->failed && taken(dirfd, e->stem, ".error")) ||
	    (keeps_tree(f, e) && taken(dirfd, e->stem, ".tree")))
		alt_stem(j->name, j->id, e->stem, sizeof(e->stem));
}

static int
has_records(const struct staged *e)
{
	return e->j.has_log || e->j.has_manifest;
}

static void
build_line(const struct filer *f, struct staged *e, const char *reason)
{
	const char *dname = e->failed ? "failed" : "done";
	char ts[40], qname[JQ_MAX], qfiled[JQ_MAX], qrec[JQ_MAX], path[NAME_MAX + 16];
	const struct job *j = &e->j;
	int n;

	journal_timestamp(ts, sizeof(ts));
	snprintf(path, sizeof(path), "%s/%s", dname, e->stem);
	log_quote(qname, sizeof(qname), j->name);
	log_quote(qfiled, sizeof(qfiled), path);
	log_quote(qrec, sizeof(qrec), path);
	n = snprintf(e->line, sizeof(e->line),
	    "ts=%s job=%s name=%s outcome=%s attempts=%u dur_ms=%llu wait_ms=%lld worker=%ld "
	    "filed=%s%s%s%s%s\n", ts, j->id, qname, dname, j->attempts,
	    (unsigned long long)e->dur_ms, j->wait_ms, f->pid, e->del ? "-" : qfiled,
	    e->del && has_records(e) ? " records=" : "", e->del && has_records(e) ? qrec : "",
	    e->failed ? " reason=" : "", e->failed ? reason : "");
	if (n < 0 || (size_t)n >= sizeof(e->line)) {
		/* A reason too long for one line: keep the line whole, cut the reason. */
		n = (int)sizeof(e->line) - 1;
		e->line[n - 1] = '\n';
	}
	e->linelen = (size_t)n;
}

/* Keep the verdict in work/J when the journal cannot take it (best effort). */
static void
write_verdict(struct staged *e)
{
	int fd = openat(e->j.fd, JOB_VERDICT, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0640);

	if (fd == -1)
		return;
	if (write(fd, e->line, e->linelen) == (ssize_t)e->linelen)
		e->j.has_verdict = 1;
	else
		(void)unlinkat(e->j.fd, JOB_VERDICT, 0);
	close(fd);
}

static struct staged *
slot(struct filer *f)
{
	struct staged *e;

	if (f->n == FILING_BATCH)
		filing_commit(f);
	e = &f->v[f->n];
	memset(e, 0, sizeof(*e));
	return e;
}

static void
admit(struct filer *f)
{
	if (f->n++ == 0)
		f->first_ms = clock_mono_ms();
}

/* Append e's line; on failure keep the verdict and defer the job. */
static enum filing_rc
append(struct filer *f, struct staged *e)
{
	if (journal_append(&f->jl, e->line, e->linelen, &e->at) == 0) {
		e->ino = journal_ino(&f->jl);
		admit(f);
		return FILING_STAGED;
	}
	log_warn("event=journal_append job=%s name=%s", e->j.id, LQ(e->j.name));
	if (!e->j.has_verdict)
		write_verdict(e);
	return filing_defer(f, &e->j, ++e->j.ftries, "journal");
}

enum filing_rc
filing_stage(struct filer *f, struct job *j, int failed, const char *reason, uint64_t dur_ms,
    int tree)
{
	struct staged *e = slot(f);

	e->j = *j;
	j->fd = j->pktfd = -1;	/* ours now */
	e->failed = failed;
	e->del = !failed && f->c->packet.on_success == ON_SUCCESS_DELETE;
	e->tree = tree;
	e->dur_ms = dur_ms;
	snprintf(e->name, sizeof(e->name), "%s", e->j.name);
	pick_stem(f, e);
	build_line(f, e, reason ? reason : "");
	return append(f, e);
}

int
filing_due(const struct filer *f)
{
	return f->n >= FILING_BATCH ||
	    (f->n > 0 && clock_mono_ms() - f->first_ms >= FILING_WINDOW_MS);
}

int
filing_empty(const struct filer *f)
{
	return f->n == 0;
}

/* --- commit ------------------------------------------------------------------ */

static void
refiled(struct filer *f, struct staged *e)
{
	char ts[40], line[JOURNAL_LINE_MAX], qname[JQ_MAX], qfiled[JQ_MAX], path[NAME_MAX + 16];
	int n;

	journal_timestamp(ts, sizeof(ts));
	snprintf(path, sizeof(path), "%s/%s", e->failed ? "failed" : "done", e->stem);
	n = snprintf(line, sizeof(line), "ts=%s job=%s event=refiled name=%s filed=%s\n", ts,
	    e->j.id, log_quote(qname, sizeof(qname), e->name),
	    log_quote(qfiled, sizeof(qfiled), path));
	if (n > 0 && (size_t)n < sizeof(line) &&
	    journal_append(&f->jl, line, (size_t)n, NULL) == -1)
		log_warn("event=refiled job=%s", e->j.id);
	log_info("event=refiled job=%s name=%s filed=%s", e->j.id, LQ(e->name), LQ(path));
}

/* The packet out of pkt/: renamed to STEM (STEM.~J~ if taken meanwhile), or removed. */
static int
file_packet(struct filer *f, struct staged *e)
{
	int dirfd = dir_of(f, e);

	if (e->j.name[0] == '\0')
		return 0;	/* recovered: filed already */
	if (e->del) {
		if (spool_rmtree(e->j.pktfd, e->j.name) == -1)
			return -1;
	} else if (renameat2(e->j.pktfd, e->j.name, dirfd, e->stem, RENAME_NOREPLACE) == -1) {
		char alt[NAME_MAX + 1];

		alt_stem(e->j.name, e->j.id, alt, sizeof(alt));
		/* Another job of the same name was filed between our stage and now. */
		if (errno != EEXIST || strcmp(alt, e->stem) == 0 ||
		    renameat2(e->j.pktfd, e->j.name, dirfd, alt, RENAME_NOREPLACE) == -1)
			return -1;
		snprintf(e->stem, sizeof(e->stem), "%s", alt);
		refiled(f, e);
	}
	return 0;
}

/* Move work/J/from to DIR/STEM.suffix. 0 also when it went before or cannot (logged). */
static int
move_record(struct filer *f, struct staged *e, const char *from, const char *suffix)
{
	char to[NAME_MAX + 16];

	snprintf(to, sizeof(to), "%s%s", e->stem, suffix);
	if (renameat2(e->j.fd, from, dir_of(f, e), to, RENAME_NOREPLACE) == 0 || errno == ENOENT)
		return 0;
	if (errno == EEXIST) {
		/* Made there by hand since the stem was chosen: ours stays behind. */
		log_warnx("event=record_taken job=%s record=%s", e->j.id, LQ(to));
		return 0;
	}
	return -1;
}

/* STEM.error: the journal line, whole, or (after a failure) not at all. */
static int
write_error(struct filer *f, struct staged *e)
{
	char to[NAME_MAX + 16], buf[JOURNAL_LINE_MAX];
	int dirfd = dir_of(f, e), fd, ok;
	ssize_t n;

	snprintf(to, sizeof(to), "%s.error", e->stem);
	fd = openat(dirfd, to, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1 && errno == EEXIST && e->recovered) {
		/* A retry: keep it if it is whole, else write it again. */
		fd = openat(dirfd, to, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		n = fd == -1 ? -1 : read(fd, buf, sizeof(buf));
		if (fd != -1)
			close(fd);
		if (n == (ssize_t)e->linelen && memcmp(buf, e->line, e->linelen) == 0)
			return 0;
		(void)unlinkat(dirfd, to, 0);
		fd = openat(dirfd, to, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	}
	if (fd == -1)
		return -1;
	ok = write(fd, e->line, e->linelen) == (ssize_t)e->linelen &&
	    (!f->s->fsync || fdatasync(fd) == 0);
	if (close(fd) == -1)
		ok = 0;
	if (!ok) {
		int err = errno ? errno : ENOSPC;

		(void)unlinkat(dirfd, to, 0);	/* never a truncated record */
		errno = err;
		return -1;
	}
	return 0;
}

static int
file_one(struct filer *f, struct staged *e)
{
	if (e->reverse) {
		/* The sync that should have made the rename durable failed: redo it. */
		if (renameat2(dir_of(f, e), e->stem, e->j.pktfd, e->j.name, RENAME_NOREPLACE) == -1 &&
		    errno != ENOENT)
			return -1;
		e->reverse = 0;
	}
	if (file_packet(f, e) == -1)
		return -1;
	e->j.name[0] = '\0';
	if (keeps_tree(f, e)) {
		if (move_record(f, e, JOB_TREE, ".tree") == -1 ||
		    (mkdirat(e->j.fd, JOB_TREE, 0750) == -1 && errno != EEXIST))
			return -1;
		e->tree = 0;	/* a new, empty one: nothing to clear */
	}
	if (e->j.has_log) {
		if (move_record(f, e, JOB_LOG, ".log") == -1)
			return -1;
		e->j.has_log = 0;
	}
	if (e->j.has_manifest) {
		if (move_record(f, e, JOB_MANIFEST, ".json") == -1)
			return -1;
		e->j.has_manifest = 0;
	}
	if (e->failed && write_error(f, e) == -1)
		return -1;
	return 0;
}

static void
finish(struct filer *f, struct staged *e)
{
	const char *p;

	p = e->failed ? strstr(e->line, " reason=") : NULL;
	sb_job_finished(f->sb, f->slot, e->failed ? (p != NULL ? p + 8 : "") : NULL, e->dur_ms);
	if (p != NULL) {
		char reason[JOURNAL_LINE_MAX];

		/* One value: a reason's own keys (entry=, error=) must not read as the line's. */
		snprintf(reason, sizeof(reason), "%.*s", (int)strcspn(p + 8, "\n"), p + 8);
		log_warnx("event=failed job=%s name=%s attempts=%u reason=%s", e->j.id,
		    LQ(e->name), e->j.attempts, LQ(reason));
	} else
		log_info("event=done job=%s name=%s attempts=%u dur_ms=%llu", e->j.id,
		    LQ(e->name), e->j.attempts, (unsigned long long)e->dur_ms);
	if (job_recycle(&e->j, e->tree) == -1)
		(void)job_remove(f->s, &e->j);
	else
		filing_unspare(f, &e->j);
}

/* A step failed for the system's fault: retry the job later, from where it is. */
static void
postpone(struct filer *f, struct staged *e, const char *why)
{
	log_warn("event=file_retry job=%s name=%s step=%s", e->j.id, LQ(e->name), LQ(why));
	e->j.line_at = (long long)e->at;
	e->j.journal_ino = e->ino;
	(void)filing_defer(f, &e->j, ++e->j.ftries, why);
	e->j.fd = -1;
}

void
filing_commit(struct filer *f)
{
	int dirty_done = 0, dirty_failed = 0, bad_done = 0, bad_failed = 0;
	off_t upto = 0;
	size_t i;

	if (f->n == 0)
		return;
	if (f->s->fsync) {
		for (i = 0; i < f->n; i++) {
			struct staged *e = &f->v[i];

			if (!e->j.unsynced || !e->recovered)
				continue;
			if (journal_rewrite(&f->jl, e->at, e->line, e->linelen) == -1)
				log_warn("event=journal_rewrite job=%s", e->j.id);
			else
				log_info("event=journal_rewrite job=%s why=\"a sync of it failed\"",
				    e->j.id);
		}
		if (journal_sync(&f->jl, &upto) == -1) {
			/* Nothing of the batch may count: its lines may not be on disk. */
			log_warn("event=journal_sync jobs=%zu", f->n);
			for (i = 0; i < f->n; i++) {
				f->v[i].j.unsynced = 1;
				postpone(f, &f->v[i], "journal_sync");
			}
			f->n = 0;
			return;
		}
	} else {
		upto = journal_size(&f->jl);
	}
	sb_journal_synced(f->sb, (int64_t)upto);
	for (i = 0; i < f->n; i++) {
		struct staged *e = &f->v[i];

		if (file_one(f, e) == -1) {
			postpone(f, e, "rename");
			continue;
		}
		if (e->failed)
			dirty_failed = 1;
		else
			dirty_done = 1;
	}
	if (f->s->fsync) {
		if (dirty_done && fsync(f->s->donefd) == -1) {
			log_warn("event=dir_sync dir=done");
			bad_done = 1;
		}
		if (dirty_failed && fsync(f->s->failedfd) == -1) {
			log_warn("event=dir_sync dir=failed");
			bad_failed = 1;
		}
	}
	for (i = 0; i < f->n; i++) {
		struct staged *e = &f->v[i];

		if (e->j.fd < 0)
			continue;	/* postponed */
		if ((e->failed && bad_failed) || (!e->failed && bad_done)) {
			e->j.unsynced = 1;
			postpone(f, e, "dir_sync");
			continue;
		}
		finish(f, e);
	}
	f->n = 0;
	if (f->c->journal_max && (uint64_t)upto >= f->c->journal_max &&
	    journal_rotate(&f->jl, f->c->journal_max, f->c->journal_keep, f->s->fsync) == 1)
		log_info("event=journal_rotated keep=%u", f->c->journal_keep);
}

/* --- recover ----------------------------------------------------------------- */

/* A field of a journal line, decoded; "" when missing. */
static void
field(const char *line, const char *key, char *buf, size_t len)
{
	if (logfmt_get(line, strlen(line), LOGFMT_JOURNAL_REST, key, buf, len) < 0)
		buf[0] = '\0';
}

static int
tree_has_content(const struct job *j)
{
	struct dirent *de;
	int fd, full = 0;
	DIR *d;

	fd = openat(j->fd, JOB_TREE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (!full && (de = readdir(d)) != NULL)
		full = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return full;
}

/*
 * Fill e (its job already set) from a journal line: outcome, stem, whether
 * the packet is deleted; name gets the packet's name. -1 if the line is not
 * a job's line.
 */
static int
from_line(const struct filer *f, struct staged *e, const char *line, char *name, size_t namelen)
{
	char outcome[16], filed[NAME_MAX + 16];
	const char *slash;

	field(line, "outcome", outcome, sizeof(outcome));
	field(line, "filed", filed, sizeof(filed));
	field(line, "name", name, namelen);
	snprintf(e->name, sizeof(e->name), "%s", name);
	if ((strcmp(outcome, "done") != 0 && strcmp(outcome, "failed") != 0) || name[0] == '\0' ||
	    (e->linelen = strlen(line)) >= sizeof(e->line))
		return -1;
	e->failed = outcome[0] == 'f';
	e->del = strcmp(filed, "-") == 0;
	if (e->del)
		field(line, "records", filed, sizeof(filed));
	slash = strchr(filed, '/');
	snprintf(e->stem, sizeof(e->stem), "%s", slash ? slash + 1 : "");
	if (e->stem[0] == '\0')
		alt_stem(name, e->j.id, e->stem, sizeof(e->stem));
	memcpy(e->line, line, e->linelen + 1);
	e->tree = f->c->packet.keep_extracted && tree_has_content(&e->j);
	return 0;
}

/* Put a committed or filed job back in the batch from its line. */
static enum filing_rc
restage(struct filer *f, struct job *j, enum job_state st, const char *line, off_t at)
{
	char name[NAME_MAX + 1], alt[NAME_MAX + 1];
	struct staged *e = slot(f);

	e->j = *j;
	j->fd = j->pktfd = -1;
	e->recovered = 1;
	e->at = at;
	e->ino = j->journal_ino;
	if (from_line(f, e, line, name, sizeof(name)) == -1) {
		log_warnx("event=recover job=%s error=\"unreadable journal line\"", e->j.id);
		if (job_set_aside(f->s, &e->j) == -1)
			filing_let_go(f, &e->j);
		return FILING_GONE;
	}
	if (st == JOB_FILED && !e->del) {
		/* Renamed already: maybe to STEM.~J~, if STEM was taken. */
		alt_stem(name, e->j.id, alt, sizeof(alt));
		if (strcmp(alt, e->stem) != 0 && taken(dir_of(f, e), alt, ""))
			snprintf(e->stem, sizeof(e->stem), "%s", alt);
		if (e->j.unsynced) {
			snprintf(e->j.name, sizeof(e->j.name), "%s", name);
			e->reverse = 1;
		}
	}
	admit(f);
	return FILING_STAGED;
}

/* JOB_DECIDED: the verdict, if whole, is appended as the job's line now. */
static enum filing_rc
from_verdict(struct filer *f, struct job *j)
{
	char buf[JOURNAL_LINE_MAX], needle[40], name[NAME_MAX + 1];
	struct staged *e;
	ssize_t n;
	int fd;

	fd = openat(j->fd, JOB_VERDICT, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	n = fd == -1 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd != -1)
		close(fd);
	snprintf(needle, sizeof(needle), " job=%s ", j->id);
	if (n <= 0 || buf[n - 1] != '\n' || memmem(buf, (size_t)n, needle, strlen(needle)) == NULL)
		return FILING_RUN;	/* torn: decide again */
	buf[n] = '\0';
	e = slot(f);
	e->j = *j;
	j->fd = j->pktfd = -1;
	if (from_line(f, e, buf, name, sizeof(name)) == -1) {
		*j = e->j;
		return FILING_RUN;
	}
	/* The stem chosen then may be taken now: the commit refiles it if so. */
	return append(f, e);
}

enum filing_rc
filing_recover(struct filer *f, struct job *j)
{
	char line[JOURNAL_LINE_MAX];
	enum job_state st;
	long long since;
	off_t at = -1;
	int found = 0;

	if (j->name[0] != '\0' || j->has_log || j->has_manifest || j->has_verdict) {
		/*
		 * The line comes after the claim, and pkt/ changed last at the claim or
		 * at the filing, after the line: search back to a little before. A job
		 * deferred knows better: where its line is, or that it came later.
		 */
		since = j->pkt_mtime_ms > FIND_SLACK_MS ? j->pkt_mtime_ms - FIND_SLACK_MS : 0;
		if (j->journal_from >= 0)
			since = 0;
		found = journal_find(f->s->dirfd, j->id, j->journal_ino, (off_t)j->line_at,
		    (off_t)j->journal_from, since, line, sizeof(line), &at);
		if (found == -1) {
			log_warn("event=recover job=%s step=journal", j->id);
			filing_let_go(f, j);
			return FILING_ERROR;
		}
	}
	st = job_classify(j, found);
	if (st != JOB_SPARE)
		log_info("event=recover job=%s name=%s state=%s crashes=%u attempts=%u", j->id,
		    LQ(j->name), job_state_name(st), j->crashes, j->attempts);
	switch (st) {
	case JOB_SPARE:
		(void)job_remove(f->s, j);
		return FILING_GONE;
	case JOB_OPEN:
		return FILING_RUN;
	case JOB_DECIDED:
		return from_verdict(f, j);
	case JOB_COMMITTED:
	case JOB_FILED:
		return restage(f, j, st, line, at);
	case JOB_LOST:
	default:
		log_warnx("event=recover job=%s error=\"records without a packet or a journal line\" "
		    "action=set_aside", j->id);
		if (job_set_aside(f->s, j) == -1)
			filing_let_go(f, j);
		return FILING_GONE;
	}
}
