#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "job.h"

/*
 * The state record: one line padded with spaces to a fixed size, written over
 * itself with pwrite(2). It is never synced: after a crash it may be stale
 * (another job's: the id tells) or torn (no newline at its end), and the
 * defaults then apply, which only makes a count start again.
 */
#define STATE_SIZE 224

int
job_is_id(const char *s)
{
	size_t i;

	for (i = 0; i < JOB_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[JOB_ID_LEN] == '\0';
}

long long
job_id_ms(const char *id)
{
	/* The pid mixed into the low bits moves it by a few ms at most. */
	return (long long)(strtoull(id, NULL, 16) / 1000000ULL);
}

int
job_parse_deferred(const char *name, long long *due_ms, char id[JOB_ID_LEN + 1])
{
	const char *dot = strchr(name, '.');
	long long due = 0;
	const char *p;

	if (dot == NULL || dot == name || dot - name > 18 || !job_is_id(dot + 1))
		return 0;
	for (p = name; p < dot; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		due = due * 10 + (*p - '0');
	}
	*due_ms = due;
	memcpy(id, dot + 1, JOB_ID_LEN + 1);
	return 1;
}

static void
job_init(struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->fd = j->pktfd = -1;
	j->wait_ms = -1;
	j->line_at = j->journal_from = -1;
	j->journal_ino = 0;
}

const char *
job_state_name(enum job_state st)
{
#define JOB_STATE_NAME(name, disk, meaning, action) #name,
	static const char *const names[] = { JOB_STATES(JOB_STATE_NAME) };
#undef JOB_STATE_NAME

	/* "JOB_OPEN" -> "OPEN": the man page's words are the other columns. */
	return st >= 0 && st < JOB_NSTATES ? names[st] + 4 : "?";
}

static void
new_id(char id[JOB_ID_LEN + 1], unsigned bump)
{
	struct timespec ts;
	unsigned long long v;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Time-ordered ids make `ls work/` read like a timeline. */
	v = ((unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec) ^
	    (unsigned long long)getpid();
	snprintf(id, JOB_ID_LEN + 1, "%016llx", v + bump);
}

static void
set_dir(const struct spool *s, struct job *j)
{
	snprintf(j->dir, sizeof(j->dir), "%s/work/%s", s->path, j->id);
}

/* Is the directory open on fd still linked as dirfd/name? */
static int
still_there(int fd, int dirfd, const char *name)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static int
open_dir(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int
job_spare(const struct spool *s, struct job *j)
{
	unsigned tries;
	int e;

	job_init(j);
	for (tries = 0; tries < 1000; tries++) {
		new_id(j->id, tries);
		if (mkdirat(s->workfd, j->id, 0750) == -1) {
			if (errno == EEXIST)
				continue;
			return -1;
		}
		j->fd = open_dir(s->workfd, j->id);
		if (j->fd == -1) {
			if (errno == ENOENT)
				continue;	/* swept as an empty directory already */
			return -1;
		}
		/*
		 * The supervisor's sweep may have taken a fresh directory for a dead
		 * worker's and had it removed before we could lock it: then try again.
		 */
		if (flock(j->fd, LOCK_EX | LOCK_NB) == -1 || !still_there(j->fd, s->workfd, j->id)) {
			int e = errno;

			close(j->fd);
			j->fd = -1;
			if (e != EWOULDBLOCK && e != ENOENT)
				(void)unlinkat(s->workfd, j->id, AT_REMOVEDIR);	/* ours, unused */
			continue;
		}
		if ((mkdirat(j->fd, JOB_PKT, 0750) == -1 && errno != EEXIST) ||
		    (mkdirat(j->fd, JOB_TREE, 0750) == -1 && errno != EEXIST))
			goto fail;
		j->pktfd = open_dir(j->fd, JOB_PKT);
		if (j->pktfd == -1)
			goto fail;
		set_dir(s, j);
		return 0;
	}
	errno = EEXIST;
	return -1;
fail:
	e = errno;
	(void)spool_rmtree(s->workfd, j->id);
	job_release(j);
	errno = e;
	return -1;
}

int
job_claim(const struct spool *s, struct job *j, const char *name)
{
	char id[JOB_ID_LEN + 1];
	struct timespec now;
	struct stat st;
	unsigned tries;
	int have;

	/* A fresh id for every job: the spare's is an earlier job's. */
	for (tries = 0;; tries++) {
		new_id(id, tries);
		if (renameat2(s->workfd, j->id, s->workfd, id, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST || tries >= 1000)
			return -1;
	}
	memcpy(j->id, id, sizeof(id));
	set_dir(s, j);
	have = fstatat(s->inboxfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (renameat2(s->inboxfd, name, j->pktfd, name, RENAME_NOREPLACE) == -1)
		return -1;
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->attempts = j->crashes = j->ftries = 0;
	j->interrupted = j->unsynced = j->has_log = j->has_manifest = j->has_verdict = 0;
	j->wait_ms = -1;
	j->line_at = j->journal_from = -1;
	j->journal_ino = 0;
	/*
	 * rename(2) sets ctime, so the ctime seen just before our claim is when
	 * the packet was renamed into the inbox: the time it waited for us.
	 */
	if (have && clock_gettime(CLOCK_REALTIME, &now) == 0) {
		long long d = (((long long)now.tv_sec - st.st_ctim.tv_sec) * 1000000000LL +
		    (now.tv_nsec - st.st_ctim.tv_nsec)) / 1000000;

		j->wait_ms = d < 0 ? 0 : d;
	}
	return 0;
}

int
job_state_parse(const char *buf, size_t len, const char *id, struct job *j)
{
	unsigned attempts, ftries;
	int interrupted, unsynced, n = 0;
	long long line_at, from;
	unsigned long long ino;
	char rid[JOB_ID_LEN + 1];

	/* Whole, or nothing: a torn record has no newline at the end. */
	if (len != STATE_SIZE || buf[len - 1] != '\n' || memchr(buf, '\0', len) != NULL)
		return -1;
	if (sscanf(buf, "v1 job=%16[0-9a-f] attempts=%u ftries=%u interrupted=%d unsynced=%d "
	    "line_at=%lld from=%lld jino=%llu%n", rid, &attempts, &ftries, &interrupted, &unsynced,
	    &line_at, &from, &ino, &n) != 8 || n == 0 || strcmp(rid, id) != 0 || attempts > 1000000 ||
	    ftries > 1000000 || (interrupted != 0 && interrupted != 1) ||
	    (unsynced != 0 && unsynced != 1) || line_at < -1 || from < -1)
		return -1;
	j->attempts = attempts;
	j->ftries = ftries;
	j->interrupted = interrupted;
	j->unsynced = unsynced;
	j->line_at = line_at;
	j->journal_from = from;
	j->journal_ino = ino;
	return 0;
}

static void
load_state(struct job *j)
{
	char buf[STATE_SIZE];
	ssize_t n;
	int fd;

	fd = openat(j->fd, JOB_STATE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return;
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n > 0)
		(void)job_state_parse(buf, (size_t)n, j->id, j);
}

int
job_save_state(const struct job *j)
{
	char buf[STATE_SIZE + 1];
	int fd, n, e;

	n = snprintf(buf, sizeof(buf), "v1 job=%s attempts=%u ftries=%u interrupted=%d unsynced=%d "
	    "line_at=%lld from=%lld jino=%llu", j->id, j->attempts, j->ftries, j->interrupted,
	    j->unsynced, j->line_at, j->journal_from, j->journal_ino);
	if (n < 0 || n >= STATE_SIZE) {
		errno = EOVERFLOW;
		return -1;
	}
	memset(buf + n, ' ', (size_t)(STATE_SIZE - 1 - n));
	buf[STATE_SIZE - 1] = '\n';
	fd = openat(j->fd, JOB_STATE, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1)
		return -1;
	if (pwrite(fd, buf, STATE_SIZE, 0) != STATE_SIZE) {
		e = errno ? errno : EIO;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

static int
present(int dirfd, const char *name, struct stat *st)
{
	return fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Lock dirfd/name on a fresh descriptor: fd, or -1 with errno (EWOULDBLOCK: held). */
static int
open_locked(int dirfd, const char *name)
{
	int fd = open_dir(dirfd, name), e;

	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	/* Renamed away between the open and the lock: not the one we meant. */
	if (!still_there(fd, dirfd, name)) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
}

/* Read the job whose locked directory work/id is open on fd (taken over by j). */
static int
take(const struct spool *s, const char *id, int fd, struct job *j)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int dupfd, e;

	job_init(j);
	snprintf(j->id, sizeof(j->id), "%s", id);
	j->fd = fd;
	set_dir(s, j);
	j->pktfd = open_dir(j->fd, JOB_PKT);
	if (j->pktfd == -1) {
		/* Died while making a spare: pkt/ (or tree/) is still to come. */
		if (errno != ENOENT || mkdirat(j->fd, JOB_PKT, 0750) == -1 ||
		    (j->pktfd = open_dir(j->fd, JOB_PKT)) == -1)
			goto fail;
	}
	if (mkdirat(j->fd, JOB_TREE, 0750) == -1 && errno != EEXIST)
		goto fail;
	if (fstat(j->pktfd, &st) == 0)
		j->pkt_mtime_ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	dupfd = dup(j->pktfd);
	if (dupfd == -1)
		goto fail;
	d = fdopendir(dupfd);
	if (d == NULL) {
		close(dupfd);
		goto fail;
	}
	/*
	 * One entry; or a request and the download it brought, when the job
	 * died before it let go of the request: the request's, whose fetch
	 * finds the download in and goes on from there.
	 */
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    (j->name[0] == '\0' || fetch_is_url_packet(de->d_name)))
			snprintf(j->name, sizeof(j->name), "%s", de->d_name);
	closedir(d);
	j->has_log = present(j->fd, JOB_LOG, &st);
	j->has_manifest = present(j->fd, JOB_MANIFEST, &st);
	j->has_verdict = present(j->fd, JOB_VERDICT, &st);
	load_state(j);
	return 1;
fail:
	e = errno;
	job_release(j);
	errno = e;
	return -1;
}

int
job_adopt(const struct spool *s, const char *id, struct job *j)
{
	int fd = open_locked(s->workfd, id);

	if (fd == -1) {
		job_init(j);
		return errno == ENOENT || errno == EWOULDBLOCK ? 0 : -1;
	}
	return take(s, id, fd, j);
}

enum job_state
job_classify(const struct job *j, int has_line)
{
	if (j->name[0] != '\0')
		return has_line ? JOB_COMMITTED : j->has_verdict ? JOB_DECIDED : JOB_OPEN;
	if (has_line)
		return JOB_FILED;
	return j->has_log || j->has_manifest ? JOB_LOST : JOB_SPARE;
}

int
job_defer(const struct spool *s, struct job *j, long long due_ms)
{
	char entry[64];

	if (job_save_state(j) == -1)
		return -1;
	snprintf(entry, sizeof(entry), "%lld.%s", due_ms, j->id);
	if (renameat2(s->workfd, j->id, s->deferfd, entry, RENAME_NOREPLACE) == -1)
		return -1;
	job_release(j);
	return 0;
}

int
job_undefer(const struct spool *s, const char *entry, struct job *j)
{
	char id[JOB_ID_LEN + 1];
	long long due;
	int fd, e;

	if (!job_parse_deferred(entry, &due, id)) {
		errno = EINVAL;
		return -1;
	}
	/* The lock moves with the directory: whoever holds it takes the job. */
	fd = open_locked(s->deferfd, entry);
	if (fd == -1) {
		job_init(j);
		return errno == ENOENT || errno == EWOULDBLOCK ? 0 : -1;
	}
	if (renameat2(s->deferfd, entry, s->workfd, id, RENAME_NOREPLACE) == -1) {
		e = errno;
		close(fd);
		job_init(j);
		if (e == ENOENT)
			return 0;
		errno = e;
		return -1;
	}
	return take(s, id, fd, j);
}

/* Empty parent/name without removing it (made again if missing). */
static int
empty_dir(int parent, const char *name)
{
	struct dirent *de;
	int fd, rc = 0;
	DIR *d;

	fd = open_dir(parent, name);
	if (fd == -1)
		return errno == ENOENT ? mkdirat(parent, name, 0750) : -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (spool_rmtree(fd, de->d_name) == -1)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int
job_become_download(struct job *j, int sync)
{
	size_t len = strlen(j->name);
	char stem[NAME_MAX + 1];
	struct stat st;

	if (!fetch_is_url_packet(j->name)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(stem, sizeof(stem), "%.*s", (int)(len - strlen(FETCH_SUFFIX)), j->name);
	if (fstatat(j->pktfd, stem, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 1 : -1;
	if (unlinkat(j->pktfd, j->name, 0) == -1 && errno != ENOENT)
		return -1;
	if (sync && fsync(j->pktfd) == -1)
		return -1;
	snprintf(j->name, sizeof(j->name), "%s", stem);
	j->attempts = 0;	/* from here on, they count the handler's runs */
	(void)job_save_state(j);
	return 0;
}

int
job_clear_tree(struct job *j)
{
	return empty_dir(j->fd, JOB_TREE);
}

int
job_recycle(struct job *j, int tree_used)
{
	if ((tree_used && empty_dir(j->fd, JOB_TREE) == -1) ||
	    (j->has_log && unlinkat(j->fd, JOB_LOG, 0) == -1 && errno != ENOENT) ||
	    (j->has_manifest && unlinkat(j->fd, JOB_MANIFEST, 0) == -1 && errno != ENOENT) ||
	    (j->has_verdict && unlinkat(j->fd, JOB_VERDICT, 0) == -1 && errno != ENOENT))
		return -1;
	j->name[0] = '\0';
	j->has_log = j->has_manifest = j->has_verdict = 0;
	return 0;
}

int
job_set_aside(const struct spool *s, struct job *j)
{
	char to[JOB_ID_LEN + sizeof(JOB_LOST_SUFFIX)];

	snprintf(to, sizeof(to), "%s%s", j->id, JOB_LOST_SUFFIX);
	if (renameat2(s->workfd, j->id, s->workfd, to, RENAME_NOREPLACE) == -1)
		return -1;
	job_release(j);
	return 0;
}

void
job_release(struct job *j)
{
	if (j->pktfd >= 0)
		close(j->pktfd);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = j->pktfd = -1;
}

int
job_remove(const struct spool *s, struct job *j)
{
	int rc = spool_rmtree(s->workfd, j->id);

	job_release(j);
	return rc;
}
