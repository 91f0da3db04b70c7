#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

int
journal_open(int spooldirfd)
{
	return openat(spooldirfd, JOURNAL_FILE,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
}

int
journal_append(int fd, const char *line, size_t len, int durable)
{
	ssize_t n;

	do
		n = write(fd, line, len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		/* A short append (ENOSPC) leaves a torn line: end it so the next is whole. */
		(void)!write(fd, "\n", 1);
		errno = ENOSPC;
		return -1;
	}
	if (durable && fdatasync(fd) == -1)
		return -1;
	return 0;
}

off_t
journal_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_size : 0;
}

int
journal_has_job(int spooldirfd, off_t off, const char *jobid)
{
	char needle[64], buf[65536 + 64];
	size_t nlen, keep = 0;
	ssize_t n;
	int fd, found = 0;

	nlen = (size_t)snprintf(needle, sizeof(needle), " job=%s ", jobid);
	fd = openat(spooldirfd, JOURNAL_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (lseek(fd, off, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	/* Keep the tail of each block so a match across two reads is not missed. */
	while (!found && (n = read(fd, buf + keep, sizeof(buf) - 64 - keep)) > 0) {
		size_t len = keep + (size_t)n;

		buf[len] = '\0';
		if (memmem(buf, len, needle, nlen) != NULL)
			found = 1;
		keep = len < nlen ? len : nlen;
		memmove(buf, buf + len - keep, keep);
	}
	close(fd);
	return found;
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
