/*
 * Job directories: SPOOL/work/J holds one claimed packet (pkt/NAME) and what
 * the job produces (log, tree/, manifest.json, state, outcome). The worker
 * that owns a job holds flock(2) on work/J; the kernel drops it when the
 * worker dies, which is how a crashed job is told from a running one.
 */
#ifndef INGESTD_JOB_H
#define INGESTD_JOB_H

#include <limits.h>
#include <sys/types.h>

#include "spool.h"

#define JOB_ID_LEN 16

struct job {
	char     id[JOB_ID_LEN + 1];
	int      fd;		/* work/J, flock held; -1 when none */
	int      pktfd;		/* work/J/pkt */
	char     name[NAME_MAX + 1];
	char     dir[PATH_MAX];	/* SPOOL/work/J */
	unsigned attempts;	/* handler runs started, across crashes */
	unsigned crashes;	/* times a worker died holding it */
	int      interrupted;	/* released on purpose (shutdown): not a crash */
	long long wait_ms;	/* from the drop (ctime) to the claim; -1 unknown */
	char     instance[32];	/* daemon run that last held it: "PID.STARTMS" */
};

/* 1 if s looks like a job id (16 lowercase hex digits). */
int  job_is_id(const char *s);

/*
 * Make an empty, locked job directory ready for a claim. 0 or -1 with errno.
 * Workers keep one ready so a lost claim race costs no mkdir/rmdir.
 */
int  job_new(const struct spool *s, struct job *j);

/*
 * Claim inbox/name into the job by rename. 0; -1 with ENOENT when another
 * worker was first (normal, silent) or another errno.
 */
int  job_claim(const struct spool *s, struct job *j, const char *name);

/*
 * Take over work/id if nobody holds it: 1 taken (j filled; j->name is "" when
 * the packet has already been filed), 0 held by a live worker, -1 error.
 */
int  job_adopt(const struct spool *s, const char *id, struct job *j);

/* When the job id was made, in ms since the epoch (ids are time-ordered). */
long long job_created_ms(const char *id);

/* Persist attempts/crashes/interrupted/instance in work/J/state. 0 or -1. */
int  job_save_state(const struct job *j);

/* Remove work/J and drop the lock. 0 or -1 (the lock is dropped anyway). */
int  job_remove(const struct spool *s, struct job *j);

/* Drop the lock and descriptors without removing anything. */
void job_release(struct job *j);

#endif
