#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "spool.h"

static const char *const spool_dirs[] = { "inbox", "work", "defer", "done", "failed" };

/* mkdir -p: the spool may be a fresh path several levels deep. */
static int
mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
open_sub(struct spool *s, const char *name, int *fd, char *err, size_t errlen)
{
	struct stat st, top;

	if (mkdirat(s->dirfd, name, 0750) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s/%s: %s", s->path, name, strerror(errno));
		return errno == EACCES || errno == EPERM || errno == EROFS ? EX_NOPERM : EX_CANTCREAT;
	}
	*fd = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd == -1) {
		snprintf(err, errlen, "cannot open %s/%s: %s", s->path, name, strerror(errno));
		return EX_CANTCREAT;
	}
	if (fstat(*fd, &st) == -1 || fstat(s->dirfd, &top) == -1) {
		snprintf(err, errlen, "cannot stat %s/%s: %s", s->path, name, strerror(errno));
		return EX_OSERR;
	}
	/* Claims and filings are renames: they only work within one filesystem. */
	if (st.st_dev != top.st_dev) {
		snprintf(err, errlen, "%s/%s is on another filesystem than %s: renames "
		    "between them would fail (EXDEV)", s->path, name, s->path);
		return EX_CONFIG;
	}
	if (faccessat(s->dirfd, name, W_OK | X_OK, AT_EACCESS) == -1) {
		snprintf(err, errlen, "%s/%s is not writable: %s", s->path, name, strerror(errno));
		return EX_NOPERM;
	}
	return 0;
}

int
spool_open(struct spool *s, const char *path, int fsync, char *err, size_t errlen)
{
	size_t i;
	int *fds[] = { &s->inboxfd, &s->workfd, &s->deferfd, &s->donefd, &s->failedfd };
	int rc;

	memset(s, 0, sizeof(*s));
	s->dirfd = s->inboxfd = s->workfd = s->deferfd = s->donefd = s->failedfd = s->lockfd = -1;
	s->fsync = fsync;
	if (path == NULL || *path != '/') {
		snprintf(err, errlen, "spool %s: must be an absolute path", path ? path : "(none)");
		return EX_CONFIG;
	}
	s->path = strdup(path);
	if (s->path == NULL) {
		snprintf(err, errlen, "out of memory");
		return EX_OSERR;
	}
	if (mkdirs(path, 0750) == -1) {
		snprintf(err, errlen, "cannot create spool %s: %s", path, strerror(errno));
		return errno == EACCES || errno == EPERM || errno == EROFS ? EX_NOPERM : EX_CANTCREAT;
	}
	s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd == -1) {
		snprintf(err, errlen, "cannot open spool %s: %s", path, strerror(errno));
		return errno == EACCES ? EX_NOPERM : EX_CANTCREAT;
	}
	for (i = 0; i < sizeof(spool_dirs) / sizeof(spool_dirs[0]); i++)
		if ((rc = open_sub(s, spool_dirs[i], fds[i], err, errlen)) != 0)
			return rc;
	if (faccessat(s->dirfd, ".", W_OK | X_OK, AT_EACCESS) == -1) {
		snprintf(err, errlen, "spool %s is not writable: %s", path, strerror(errno));
		return EX_NOPERM;
	}
	return 0;
}

int
spool_lock(struct spool *s, char *err, size_t errlen)
{
	s->lockfd = openat(s->dirfd, SPOOL_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (s->lockfd == -1) {
		snprintf(err, errlen, "cannot open %s/%s: %s", s->path, SPOOL_LOCK_FILE, strerror(errno));
		return EX_CANTCREAT;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			char pid[32] = "";
			ssize_t n = pread(s->lockfd, pid, sizeof(pid) - 1, 0);

			if (n > 0)
				pid[n] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			snprintf(err, errlen, "another ingestd%s%s%s is already running on spool %s",
			    *pid ? " (pid " : "", pid, *pid ? ")" : "", s->path);
			return EX_TEMPFAIL;
		}
		snprintf(err, errlen, "cannot lock %s/%s: %s", s->path, SPOOL_LOCK_FILE, strerror(errno));
		return EX_OSERR;
	}
	/* The pid is for people and `ingestd status`; the flock is what counts. */
	if (ftruncate(s->lockfd, 0) == 0) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

		(void)!pwrite(s->lockfd, buf, (size_t)n, 0);
	}
	return 0;
}

void
spool_close(struct spool *s)
{
	int *fds[] = { &s->inboxfd, &s->workfd, &s->deferfd, &s->donefd, &s->failedfd, &s->lockfd,
	    &s->dirfd };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	free(s->path);
	s->path = NULL;
}

int
spool_sync_dir(const struct spool *s, int dirfd)
{
	if (!s->fsync)
		return 0;
	return fsync(dirfd);
}

int
spool_rmtree(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	/* A tree we extracted may hold a 0500 directory: make it ours to empty. */
	(void)fchmod(fd, 0700);
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
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		rc = -1;
	return rc;
}
