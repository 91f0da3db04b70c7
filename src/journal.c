#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "logfmt.h"

#define CHUNK 65536

int
journal_open(struct journal *jl, int spooldirfd, uint64_t *gen)
{
	jl->dirfd = spooldirfd;
	jl->rw = -1;
	jl->gen = gen;
	jl->mygen = gen != NULL ? __atomic_load_n(gen, __ATOMIC_ACQUIRE) : 0;
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

/* The journal was rotated since jl opened it: open the new one. */
static int
reopen(struct journal *jl)
{
	int fd = openat(jl->dirfd, JOURNAL_FILE,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);

	if (fd == -1)
		return -1;
	close(jl->fd);
	jl->fd = fd;
	if (jl->rw >= 0) {
		close(jl->rw);
		jl->rw = -1;
	}
	return 0;
}

/*
 * Hold the current journal shared for one append: a rotation (exclusive)
 * waits for it, and an append that finds the journal rotated moves on to
 * the new one first. Without rotation, nothing to do.
 */
static int
hold(struct journal *jl)
{
	if (jl->gen == NULL)
		return 0;
	for (;;) {
		uint64_t g = __atomic_load_n(jl->gen, __ATOMIC_ACQUIRE);

		if (g != jl->mygen) {
			if (reopen(jl) == -1)
				return -1;
			jl->mygen = g;
		}
		if (flock(jl->fd, LOCK_SH) == -1)
			return -1;
		if (__atomic_load_n(jl->gen, __ATOMIC_ACQUIRE) == jl->mygen)
			return 0;
		(void)flock(jl->fd, LOCK_UN);	/* rotated while we waited */
	}
}

static void
unhold(struct journal *jl)
{
	if (jl->gen != NULL)
		(void)flock(jl->fd, LOCK_UN);
}

int
journal_append(struct journal *jl, const char *line, size_t len, off_t *at)
{
	ssize_t n;
	off_t end;
	int e;

	if (hold(jl) == -1)
		return -1;
	do
		n = write(jl->fd, line, len);
	while (n == -1 && errno == EINTR);
	e = errno;
	unhold(jl);
	errno = e;
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

/*
 * Search the journal open on fd back from its end. 1 found, 0 not in this
 * file (*stop set when a bound was reached: nothing older can be the
 * job's), -1 error.
 */
static int
find_in(int fd, const char *needle, size_t nlen, off_t from, long long since_ms, char *line,
    size_t linelen, off_t *off, int *stop)
{
	size_t tail = 0;
	struct stat st;
	char *buf;
	off_t pos;
	int rc = 0;

	if (fstat(fd, &st) == -1 || (buf = malloc(CHUNK + JOURNAL_LINE_MAX + 1)) == NULL)
		return -1;
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
				*stop = 1;	/* older than the job */
				pos = 0;
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
	return rc;
}

int
journal_find(int spooldirfd, const char *id, unsigned long long ino, off_t hint, off_t from,
    long long since_ms, char *line, size_t linelen, off_t *off)
{
	char needle[40], name[32];
	struct stat st;
	unsigned k;
	size_t nlen;
	int fd, rc, stop = 0, same;

	nlen = (size_t)snprintf(needle, sizeof(needle), " job=%s ", id);
	/* The journal, then the rotated ones, newest first. */
	for (k = 0; k <= JOURNAL_KEEP_MAX; k++) {
		if (k == 0)
			snprintf(name, sizeof(name), "%s", JOURNAL_FILE);
		else
			snprintf(name, sizeof(name), "%s.%u", JOURNAL_FILE, k);
		fd = openat(spooldirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1) {
			if (errno != ENOENT)
				return -1;
			if (k == 0)
				continue;	/* rotated this very moment, or none yet */
			return 0;
		}
		/* hint and from are offsets in the file the job saw: that inode's. */
		same = ino != 0 && fstat(fd, &st) == 0 && (unsigned long long)st.st_ino == ino;
		if (same && hint >= 0 && line_at(fd, hint, needle, nlen, line, linelen)) {
			if (off != NULL)
				*off = hint;
			close(fd);
			return 1;
		}
		rc = find_in(fd, needle, nlen, same ? from : 0, since_ms, line, linelen, off, &stop);
		close(fd);
		if (rc != 0)
			return rc;
		if (stop || (same && from >= 0))
			return 0;
	}
	return 0;
}

unsigned long long
journal_ino(const struct journal *jl)
{
	struct stat st;

	return fstat(jl->fd, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

int
journal_rotate(struct journal *jl, uint64_t max, unsigned keep, int sync)
{
	char from[32], to[32];
	struct stat st, cur;
	unsigned k;
	int fd, rc = 0;

	if (max == 0 || keep == 0)
		return 0;
	fd = openat(jl->dirfd, JOURNAL_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	/* Every append holds a shared lock while it writes: after this, none is half done. */
	if (flock(fd, LOCK_EX) == -1) {
		close(fd);
		return -1;
	}
	/* Another worker may have rotated it already: then this is the old one. */
	if (fstat(fd, &st) == -1 || fstatat(jl->dirfd, JOURNAL_FILE, &cur, AT_SYMLINK_NOFOLLOW) == -1 ||
	    st.st_ino != cur.st_ino || (uint64_t)st.st_size < max)
		goto out;
	/* What goes to journal.1 is final and durable: a reader may treat it so. */
	if (sync && fdatasync(fd) == -1) {
		rc = -1;
		goto out;
	}
	snprintf(to, sizeof(to), "%s.%u", JOURNAL_FILE, keep);
	if (unlinkat(jl->dirfd, to, 0) == -1 && errno != ENOENT) {
		rc = -1;
		goto out;
	}
	for (k = keep; k > 1; k--) {
		snprintf(from, sizeof(from), "%s.%u", JOURNAL_FILE, k - 1);
		snprintf(to, sizeof(to), "%s.%u", JOURNAL_FILE, k);
		if (renameat(jl->dirfd, from, jl->dirfd, to) == -1 && errno != ENOENT) {
			rc = -1;
			goto out;
		}
	}
	snprintf(to, sizeof(to), "%s.1", JOURNAL_FILE);
	if (renameat(jl->dirfd, JOURNAL_FILE, jl->dirfd, to) == -1) {
		rc = -1;
		goto out;
	}
	if (jl->gen != NULL)
		__atomic_add_fetch(jl->gen, 1, __ATOMIC_RELEASE);
	rc = 1;
	if (sync)
		(void)fsync(jl->dirfd);
out:
	(void)flock(fd, LOCK_UN);
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
