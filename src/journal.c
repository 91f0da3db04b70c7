#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "logfmt.h"

#define CHUNK 65536

int
journal_open(struct journal *jl, int spooldirfd)
{
	jl->dirfd = spooldirfd;
	jl->rw = -1;
	jl->fd = openat(spooldirfd, JOURNAL_FILE,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	return jl->fd == -1 ? -1 : 0;
}

void
journal_close(struct journal *jl)
{
	if (jl->fd >= 0)
		close(jl->fd);
	if (jl->rw >= 0)
		close(jl->rw);
	jl->fd = jl->rw = -1;
}

/* pwrite(2) on an O_APPEND descriptor appends: rewrites need their own. */
static int
rw_fd(struct journal *jl)
{
	if (jl->rw == -1)
		jl->rw = openat(jl->dirfd, JOURNAL_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	return jl->rw;
}

/* Overwrite [off, off + n) with spaces. */
static int
blank(struct journal *jl, off_t off, size_t n)
{
	char sp[256];
	size_t k;

	if (rw_fd(jl) == -1)
		return -1;
	memset(sp, ' ', sizeof(sp));
	while (n > 0) {
		k = n < sizeof(sp) ? n : sizeof(sp);
		if (pwrite(jl->rw, sp, k, off) != (ssize_t)k)
			return -1;
		off += (off_t)k;
		n -= k;
	}
	return 0;
}

int
journal_append(struct journal *jl, const char *line, size_t len, off_t *at)
{
	ssize_t n;
	off_t end;
	int e;

	do
		n = write(jl->fd, line, len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	/* O_APPEND leaves the offset at the end of what this write put there. */
	end = lseek(jl->fd, 0, SEEK_CUR);
	if ((size_t)n == len) {
		if (at != NULL)
			*at = end == -1 ? -1 : end - (off_t)len;
		return 0;
	}
	/*
	 * A torn append: the start of our line, without its end. Blank it where
	 * it lies (the next line then begins with spaces): the whole line is
	 * written again when the job is filed again. Not a '\n': that write
	 * would need the very space that ran out.
	 */
	e = errno ? errno : ENOSPC;
	if (end == -1 || blank(jl, end - n, (size_t)n) == -1)
		e = EIO;
	errno = e == 0 ? ENOSPC : e;
	return -1;
}

int
journal_sync(struct journal *jl, off_t *upto)
{
	off_t end = lseek(jl->fd, 0, SEEK_END);

	if (fdatasync(jl->fd) == -1)
		return -1;
	if (upto != NULL)
		*upto = end;
	return 0;
}

int
journal_settle(int spooldirfd, int sync, off_t *upto)
{
	struct stat st;
	int fd, rc = 0;

	*upto = 0;
	fd = openat(spooldirfd, JOURNAL_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || (sync && fdatasync(fd) == -1))
		rc = -1;
	else
		*upto = st.st_size;
	close(fd);
	return rc;
}

int
journal_rewrite(struct journal *jl, off_t off, const char *line, size_t len)
{
	char buf[JOURNAL_LINE_MAX];

	if (len > sizeof(buf) || rw_fd(jl) == -1)
		return -1;
	if (pread(jl->rw, buf, len, off) != (ssize_t)len || memcmp(buf, line, len) != 0) {
		errno = EINVAL;
		return -1;
	}
	return pwrite(jl->rw, line, len, off) == (ssize_t)len ? 0 : -1;
}

off_t
journal_size(const struct journal *jl)
{
	struct stat st;

	return fstat(jl->fd, &st) == 0 ? st.st_size : 0;
}

static int
digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

long long
journal_line_ms(const char *line, size_t len)
{
	int y, mo, d, h, mi, sec, ms;
	struct tm tm;
	time_t t;

	/* ts=2026-11-22T02:30:00.123Z */
	if (len < 27 || memcmp(line, "ts=", 3) != 0 || line[7] != '-' || line[10] != '-' ||
	    line[13] != 'T' || line[16] != ':' || line[19] != ':' || line[22] != '.' ||
	    line[26] != 'Z')
		return -1;
	if (digits(line + 3, 4, &y) || digits(line + 8, 2, &mo) || digits(line + 11, 2, &d) ||
	    digits(line + 14, 2, &h) || digits(line + 17, 2, &mi) || digits(line + 20, 2, &sec) ||
	    digits(line + 23, 3, &ms))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	return t == (time_t)-1 ? -1 : (long long)t * 1000 + ms;
}

/*
 * The job's own line, not a refiled one: "ts=... job=ID name=... outcome=".
 * Fields come in a fixed order, and every value from outside is quoted, so
 * " job=ID " right after ts= and " outcome=" later cannot be forged.
 */
static int
is_line_of(const char *p, size_t len, const char *needle, size_t nlen)
{
	char filed[JOURNAL_LINE_MAX];

	if (len <= 28 + nlen || p[len - 1] != '\n' || journal_line_ms(p, len) < 0 ||
	    memcmp(p + 27, needle, nlen) != 0 || memmem(p, len, " outcome=", 9) == NULL)
		return 0;
	/*
	 * Whole, as the daemon writes it: a fragment glued to the next line (a
	 * torn append whose blanking failed) has a key twice, or a bad byte.
	 */
	return logfmt_get(p, len, LOGFMT_JOURNAL_REST, "filed", filed, sizeof(filed)) >= 0 &&
	    logfmt_get(p, len, LOGFMT_JOURNAL_REST, "outcome", filed, sizeof(filed)) >= 0;
}

/* The line at hint, if it is id's. 1 found, 0 not. */
static int
line_at(int fd, off_t hint, const char *needle, size_t nlen, char *line, size_t linelen)
{
	char buf[JOURNAL_LINE_MAX];
	ssize_t n = pread(fd, buf, sizeof(buf), hint);
	char *nl;

	if (n <= 0 || (nl = memchr(buf, '\n', (size_t)n)) == NULL)
		return 0;
	n = nl + 1 - buf;
	if (!is_line_of(buf, (size_t)n, needle, nlen) || (size_t)n >= linelen)
		return 0;
	memcpy(line, buf, (size_t)n);
	line[n] = '\0';
	return 1;
}

int
journal_find(int spooldirfd, const char *id, off_t hint, off_t from, long long since_ms,
    char *line, size_t linelen, off_t *off)
{
	char needle[40], *buf;
	size_t nlen, tail = 0;
	struct stat st;
	off_t pos;
	int fd, rc = 0;

	nlen = (size_t)snprintf(needle, sizeof(needle), " job=%s ", id);
	fd = openat(spooldirfd, JOURNAL_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (hint >= 0 && line_at(fd, hint, needle, nlen, line, linelen)) {
		if (off != NULL)
			*off = hint;
		close(fd);
		return 1;
	}
	if (fstat(fd, &st) == -1 || (buf = malloc(CHUNK + JOURNAL_LINE_MAX + 1)) == NULL) {
		close(fd);
		return -1;
	}
	if (from < 0)
		from = 0;
	/*
	 * Read back a chunk at a time. buf holds the chunk, then what is left of
	 * the later chunks' first line (tail bytes): lines are cut at '\n'.
	 */
	pos = st.st_size;
	while (pos > 0 && rc == 0) {
		size_t want = pos > CHUNK ? CHUNK : (size_t)pos;
		char *first, *end, *p;
		ssize_t n;

		memmove(buf + want, buf, tail);
		n = pread(fd, buf, want, pos - (off_t)want);
		if (n != (ssize_t)want) {
			rc = -1;
			break;
		}
		pos -= (off_t)want;
		end = buf + want + tail;
		/* The first line may start in an earlier chunk, unless this is the first. */
		first = pos == 0 ? buf : memchr(buf, '\n', want + tail);
		if (first == NULL) {
			tail = want + tail > JOURNAL_LINE_MAX ? 0 : want + tail;
			continue;
		}
		if (pos > 0)
			first++;
		/* Lines from the end of the buffer back to first. */
		p = end;
		while (p > first) {
			char *ls = p - 1, *q;
			long long ms;

			/* ls: last byte of the line ('\n' unless the journal's end is torn). */
			while (ls > first && ls[-1] != '\n')
				ls--;
			q = ls;
			while (q < p && *q == ' ')
				q++;	/* what is left of a torn append */
			ms = journal_line_ms(q, (size_t)(p - q));
			if (pos + (ls - buf) < from || (ms >= 0 && since_ms > 0 && ms < since_ms)) {
				pos = 0;	/* older than the job: stop */
				break;
			}
			if (is_line_of(q, (size_t)(p - q), needle, nlen)) {
				if ((size_t)(p - q) >= linelen) {
					errno = ENAMETOOLONG;
					rc = -1;
				} else {
					memcpy(line, q, (size_t)(p - q));
					line[p - q] = '\0';
					if (off != NULL)
						*off = pos + (off_t)(q - buf);
					rc = 1;
				}
				break;
			}
			p = ls;
		}
		if (pos == 0 || rc != 0)
			break;
		tail = (size_t)(first - buf);
		if (tail > JOURNAL_LINE_MAX)
			tail = 0;	/* not a line of ours: drop it */
	}
	free(buf);
	close(fd);
	return rc;
}

void
journal_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}
