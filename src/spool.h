/*
 * The spool directory: SPOOL/{inbox,work,defer,done,failed} and the lock that
 * keeps one daemon per spool.
 */
#ifndef INGESTD_SPOOL_H
#define INGESTD_SPOOL_H

#include <stddef.h>

struct spool {
	char *path;	/* absolute, as given or resolved */
	int   dirfd;
	int   inboxfd;
	int   workfd;
	int   deferfd;
	int   donefd;
	int   failedfd;
	int   lockfd;	/* flock held by the supervisor for its lifetime */
	int   fsync;	/* make renames durable */
};

#define SPOOL_LOCK_FILE "ingestd.lock"

/*
 * Create (0750) and open the spool and its subdirectories; check that they sit
 * on one filesystem and are writable. Returns 0, or a sysexits code with a
 * message naming the path in err.
 */
int  spool_open(struct spool *s, const char *path, int fsync, char *err, size_t errlen);

/* Take the one-daemon-per-spool lock. 0, or EX_TEMPFAIL/EX_OSERR with err. */
int  spool_lock(struct spool *s, char *err, size_t errlen);

void spool_close(struct spool *s);

/* fsync a directory when the spool asks for durability. 0 or -1. */
int  spool_sync_dir(const struct spool *s, int dirfd);

/* Remove a tree below dirfd/name without following symlinks. 0 or -1. */
int  spool_rmtree(int dirfd, const char *name);

#endif
