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

#include "job.h"

#define STATE_FILE "state"

int
job_is_id(const char *s)
{
	size_t i;

	for (i = 0; i < JOB_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[JOB_ID_LEN] == '\0';
}

static void
job_init(struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->fd = j->pktfd = -1;
	j->wait_ms = -1;
}

int
job_new(const struct spool *s, struct job *j)
{
	struct timespec ts;
	struct stat a, b;
	unsigned long long id;
	int tries;

	job_init(j);
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Time-ordered ids make `ls work/` read like a timeline. */
	id = ((unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec) ^
	    (unsigned long long)getpid();
	for (tries = 0; tries < 1000; tries++, id++) {
		snprintf(j->id, sizeof(j->id), "%016llx", id);
		if (mkdirat(s->workfd, j->id, 0750) == -1) {
			if (errno == EEXIST)
				continue;
			return -1;
		}
		j->fd = openat(s->workfd, j->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (j->fd == -1) {
			if (errno == ENOENT)
				continue;	/* adopted and removed as empty already */
			return -1;
		}
		/*
		 * A worker starting up may adopt and remove an empty job dir in
		 * the moment before we lock it: if so, ours is gone; try again.
		 */
		if (flock(j->fd, LOCK_EX | LOCK_NB) == -1 ||
		    fstat(j->fd, &a) == -1 ||
		    fstatat(s->workfd, j->id, &b, AT_SYMLINK_NOFOLLOW) == -1 ||
		    a.st_ino != b.st_ino) {
			close(j->fd);
			j->fd = -1;
			continue;
		}
		if (mkdirat(j->fd, "pkt", 0750) == -1 && errno != EEXIST)
			goto fail;
		j->pktfd = openat(j->fd, "pkt", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (j->pktfd == -1)
			goto fail;
		snprintf(j->dir, sizeof(j->dir), "%s/work/%s", s->path, j->id);
		return 0;
	}
	errno = EEXIST;
	return -1;
fail:
	{
		int e = errno;

		(void)spool_rmtree(s->workfd, j->id);
		job_release(j);
		errno = e;
	}
	return -1;
}

int
job_claim(const struct spool *s, struct job *j, const char *name)
{
	struct stat st;
	struct timespec now;
	int have = fstatat(s->inboxfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;

	if (renameat2(s->inboxfd, name, j->pktfd, name, RENAME_NOREPLACE) == -1)
		return -1;
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->attempts = j->crashes = 0;
	j->interrupted = 0;
	j->wait_ms = -1;
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

static void
load_state(struct job *j)
{
	char buf[256];
	ssize_t n;
	int fd;
	char *p;

	fd = openat(j->fd, STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if ((p = strstr(buf, "attempts=")) != NULL)
		j->attempts = (unsigned)strtoul(p + 9, NULL, 10);
	if ((p = strstr(buf, "crashes=")) != NULL)
		j->crashes = (unsigned)strtoul(p + 8, NULL, 10);
	if ((p = strstr(buf, "interrupted=")) != NULL)
		j->interrupted = (int)strtol(p + 12, NULL, 10);
	if ((p = strstr(buf, "instance=")) != NULL)
		snprintf(j->instance, sizeof(j->instance), "%.*s", (int)strcspn(p + 9, " \n"),
		    p + 9);
}

int
job_adopt(const struct spool *s, const char *id, struct job *j)
{
	struct dirent *de;
	DIR *d;
	int dupfd;

	job_init(j);
	snprintf(j->id, sizeof(j->id), "%s", id);
	j->fd = openat(s->workfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (j->fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (flock(j->fd, LOCK_EX | LOCK_NB) == -1) {
		int e = errno;

		close(j->fd);
		j->fd = -1;
		if (e == EWOULDBLOCK)
			return 0;
		errno = e;
		return -1;
	}
	snprintf(j->dir, sizeof(j->dir), "%s/work/%s", s->path, id);
	j->pktfd = openat(j->fd, "pkt", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (j->pktfd == -1) {
		if (errno != ENOENT)
			goto fail;
		/* Crashed between mkdir and mkdir pkt: an empty job. */
		if (mkdirat(j->fd, "pkt", 0750) == -1 && errno != EEXIST)
			goto fail;
		j->pktfd = openat(j->fd, "pkt", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (j->pktfd == -1)
			goto fail;
	}
	dupfd = dup(j->pktfd);
	if (dupfd == -1)
		goto fail;
	d = fdopendir(dupfd);
	if (d == NULL) {
		close(dupfd);
		goto fail;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			snprintf(j->name, sizeof(j->name), "%s", de->d_name);
			break;
		}
	closedir(d);
	load_state(j);
	return 1;
fail:
	{
		int e = errno;

		job_release(j);
		errno = e;
	}
	return -1;
}

long long
job_created_ms(const char *id)
{
	/* The pid mixed into the low bits moves it by a few ms at most. */
	return (long long)(strtoull(id, NULL, 16) / 1000000ULL);
}

int
job_save_state(const struct job *j)
{
	char buf[160];
	int fd, n;

	n = snprintf(buf, sizeof(buf), "attempts=%u crashes=%u interrupted=%d instance=%s\n",
	    j->attempts, j->crashes, j->interrupted, j->instance[0] ? j->instance : "-");
	fd = openat(j->fd, STATE_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0640);
	if (fd == -1)
		return -1;
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	close(fd);
	/* rename: a crash leaves the old state or the new, never half of one. */
	return renameat(j->fd, STATE_FILE ".tmp", j->fd, STATE_FILE);
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
