#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "failures.h"
#include "jline.h"
#include "journal.h"

static const char *const record_suffix[] = { ".error", ".log", ".json", ".tree" };
#define NSUFFIX (sizeof(record_suffix) / sizeof(record_suffix[0]))

int
failures_is_retried(const char *stem)
{
	const char *p = strstr(stem, FAILURES_RETRIED);
	size_t n;

	/* The last one counts: a packet may itself carry the word in its name. */
	while (p != NULL && strstr(p + 1, FAILURES_RETRIED) != NULL)
		p = strstr(p + 1, FAILURES_RETRIED);
	if (p == NULL)
		return 0;
	p += sizeof(FAILURES_RETRIED) - 1;
	n = strspn(p, "0123456789abcdef");
	return n == 16 && p[n] == '\0';
}

void
failure_clear(struct failure *f)
{
	free(f->reason);
	memset(f, 0, sizeof(*f));
}

void
failures_free(struct failures *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		free(fs->v[i].reason);
	free(fs->v);
	fs->v = NULL;
	fs->n = 0;
}

static void
iso_ms(char *buf, size_t len, long long ms)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf + strlen(buf), len - strlen(buf), ".%03lldZ", ms % 1000);
}

/* Take what a job's line says; the name and ts only when they fit. 0, or -1 (ENOMEM). */
static int
take_line(struct failure *f, const char *raw, size_t len, const struct jline *l)
{
	char *r = strdup(l->reason);
	long long ms;

	if (r == NULL)
		return -1;
	free(f->reason);
	f->reason = r;
	snprintf(f->name, sizeof(f->name), "%s", l->name);
	snprintf(f->job, sizeof(f->job), "%s", l->job);
	f->attempts = l->attempts;
	if ((ms = journal_line_ms(raw, len)) >= 0) {
		f->when_ms = ms;
		snprintf(f->ts, sizeof(f->ts), "%s", l->ts);
	}
	return 0;
}

static long long
mtime_ms(const struct stat *st)
{
	return (long long)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* STEM.error, the job's line, into f. 1 when read, 0 when absent or unreadable, -1 ENOMEM. */
static int
read_error(int failedfd, const char *stem, struct failure *f)
{
	char path[NAME_MAX + 16], *buf, *nl;
	struct jline *l;
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	if (snprintf(path, sizeof(path), "%s.error", stem) >= (int)sizeof(path))
		return 0;
	/* O_NONBLOCK: a FIFO planted under that name must not hang the command. */
	fd = openat(failedfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return 0;
	buf = malloc(JOURNAL_LINE_MAX + 2);
	l = malloc(sizeof(*l));
	if (buf == NULL || l == NULL) {
		rc = -1;
		goto out;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		goto out;
	f->when_ms = mtime_ms(&st);
	n = read(fd, buf, JOURNAL_LINE_MAX + 1);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	/* One line: whatever follows a first newline is not the daemon's. */
	if ((nl = memchr(buf, '\n', (size_t)n)) != NULL)
		n = nl - buf + 1;
	if (jline_parse(buf, (size_t)n, l) == JLINE_JOB) {
		if (take_line(f, buf, (size_t)n, l) == -1)
			rc = -1;
		else {
			f->from = 'e';
			rc = 1;
		}
	}
out:
	free(buf);
	free(l);
	close(fd);
	return rc;
}

/* Fill f for STEM of failed/ (failedfd). 0; -1 with errno (ENOENT: nothing of STEM). */
static int
read_one(int failedfd, const char *stem, struct failure *f)
{
	struct stat st;
	char path[NAME_MAX + 16];
	int rc;

	memset(f, 0, sizeof(*f));
	f->attempts = -1;
	snprintf(f->stem, sizeof(f->stem), "%s", stem);
	snprintf(f->name, sizeof(f->name), "%s", stem);
	if ((f->reason = strdup("")) == NULL)
		return -1;
	if (fstatat(failedfd, stem, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		f->packet = 1;
		f->when_ms = mtime_ms(&st);
	}
	if ((rc = read_error(failedfd, stem, f)) == -1) {
		failure_clear(f);
		errno = ENOMEM;
		return -1;
	}
	if (!f->packet && rc == 0 && (snprintf(path, sizeof(path), "%s.error", stem) >=
	    (int)sizeof(path) || fstatat(failedfd, path, &st, AT_SYMLINK_NOFOLLOW) == -1)) {
		failure_clear(f);
		errno = ENOENT;
		return -1;
	}
	if (f->ts[0] == '\0')
		iso_ms(f->ts, sizeof(f->ts), f->when_ms);
	return 0;
}

/*
 * For the failures that have no line yet (no STEM.error): the last job's line
 * of the journal filed as failed/STEM. One pass over the journal, only when
 * some failure needs it.
 */
static int
from_journal(int spoolfd, struct failure *v, size_t n)
{
	struct jline *l;
	char *line = NULL;
	size_t cap = 0, i, need = 0;
	ssize_t len;
	FILE *fp;
	int fd, rc = 0;

	for (i = 0; i < n; i++)
		need += v[i].from == 0;
	if (need == 0)
		return 0;
	fd = openat(spoolfd, JOURNAL_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return -1;
	}
	if ((l = malloc(sizeof(*l))) == NULL) {
		fclose(fp);
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		if (jline_parse(line, (size_t)len, l) != JLINE_JOB || strncmp(l->filed, "failed/", 7) != 0)
			continue;
		for (i = 0; i < n; i++)
			if (v[i].from != 'e' && strcmp(v[i].stem, l->filed + 7) == 0) {
				if (take_line(&v[i], line, (size_t)len, l) == -1)
					rc = -1;
				v[i].from = 'j';
			}
	}
	free(line);
	free(l);
	fclose(fp);
	return rc;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
newest_first(const void *a, const void *b)
{
	const struct failure *x = a, *y = b;

	if (x->when_ms != y->when_ms)
		return x->when_ms < y->when_ms ? 1 : -1;
	return strcmp(x->stem, y->stem);
}

static int
has(char **names, size_t n, const char *s)
{
	return bsearch(&s, names, n, sizeof(*names), by_name) != NULL;
}

/*
 * Is entry e of failed/ a failure's stem? A record (STEM.log and the like) is
 * not, when its STEM or STEM.error is there; nor are the records of a packet
 * that was retried.
 */
static int
is_stem(char **names, size_t n, const char *e, char *stem, size_t len)
{
	char s[NAME_MAX + 16];
	size_t i, el = strlen(e), sl;

	for (i = 0; i < NSUFFIX; i++) {
		sl = strlen(record_suffix[i]);
		if (el <= sl || strcmp(e + el - sl, record_suffix[i]) != 0)
			continue;
		snprintf(s, sizeof(s), "%.*s", (int)(el - sl), e);
		if (i == 0) {
			/* STEM.error: a failure, unless it is the history of a retried one. */
			if (failures_is_retried(s) && !has(names, n, s))
				return 0;
			snprintf(stem, len, "%s", s);
			return 1;
		}
		if (has(names, n, s))
			return 0;
		snprintf(s + strlen(s), sizeof(s) - strlen(s), ".error");
		if (has(names, n, s))
			return 0;
	}
	/* A packet with a STEM.error is counted once, by that. */
	snprintf(s, sizeof(s), "%s.error", e);
	if (has(names, n, s))
		return 0;
	snprintf(stem, len, "%s", e);
	return 1;
}

/* Every name in dirfd but . and .., sorted, in *names (malloc'd). */
static int
read_names(int dirfd, char ***names, size_t *n)
{
	struct dirent *de;
	char **v = NULL, **nv;
	size_t k = 0, i;
	int fd;
	DIR *d;

	*names = NULL;
	*n = 0;
	if ((fd = dup(dirfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((nv = reallocarray(v, k + 1, sizeof(*v))) == NULL ||
		    (nv[k] = strdup(de->d_name)) == NULL) {
			v = nv != NULL ? nv : v;
			goto nomem;
		}
		v = nv;
		k++;
	}
	closedir(d);
	if (k > 1)
		qsort(v, k, sizeof(*v), by_name);
	*names = v;
	*n = k;
	return 0;
nomem:
	closedir(d);
	for (i = 0; i < k; i++)
		free(v[i]);
	free(v);
	errno = ENOMEM;
	return -1;
}

int
failures_list(int spoolfd, struct failures *out)
{
	char **names, stem[NAME_MAX + 1];
	struct failure *nv;
	size_t n, i;
	int failedfd, rc = 0, e;

	out->v = NULL;
	out->n = 0;
	failedfd = openat(spoolfd, "failed", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (failedfd == -1)
		return errno == ENOENT ? 0 : -1;
	if (read_names(failedfd, &names, &n) == -1) {
		e = errno;
		close(failedfd);
		errno = e;
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (!is_stem(names, n, names[i], stem, sizeof(stem)))
			continue;
		if ((nv = reallocarray(out->v, out->n + 1, sizeof(*nv))) == NULL) {
			rc = -1;
			break;
		}
		out->v = nv;
		if (read_one(failedfd, stem, &out->v[out->n]) == 0)
			out->n++;
		else if (errno != ENOENT)
			rc = -1;	/* ENOENT: gone since the listing */
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	close(failedfd);
	if (rc == 0)
		rc = from_journal(spoolfd, out->v, out->n);
	if (rc == -1) {
		failures_free(out);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < out->n; i++)
		if (out->v[i].from == 'j' && out->v[i].ts[0] == '\0')
			iso_ms(out->v[i].ts, sizeof(out->v[i].ts), out->v[i].when_ms);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), newest_first);
	return 0;
}

int
failures_get(int spoolfd, const char *stem, struct failure *f)
{
	int failedfd, rc, e;

	if (strchr(stem, '/') != NULL || strcmp(stem, ".") == 0 || strcmp(stem, "..") == 0 ||
	    strlen(stem) > NAME_MAX) {
		errno = ENOENT;
		return -1;
	}
	failedfd = openat(spoolfd, "failed", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (failedfd == -1)
		return -1;
	rc = read_one(failedfd, stem, f);
	e = errno;
	close(failedfd);
	if (rc == 0 && f->from == 0 && from_journal(spoolfd, f, 1) == -1) {
		failure_clear(f);
		errno = ENOMEM;
		return -1;
	}
	errno = e;
	return rc;
}
