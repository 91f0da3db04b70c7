/*
 * The failed packets of a spool as the commands see them (failed, show,
 * retry): what is in failed/ and what its records and the journal say.
 *
 * A failure is a STEM in failed/: the packet failed/STEM (gone when someone
 * removed it) and its records STEM.error (the job's journal line), STEM.log,
 * STEM.json and STEM.tree. `ingestd retry` renames the records of a packet it
 * puts back to STEM.retried-J.error and so on, J being the failed job's id:
 * those are history, not failures.
 */
#ifndef INGESTD_FAILURES_H
#define INGESTD_FAILURES_H

#include <limits.h>
#include <stddef.h>

#define FAILURES_RETRIED ".retried-"

struct failure {
	char       stem[NAME_MAX + 1];
	char       name[NAME_MAX + 1];	/* as it arrived (name=); the stem when not known */
	char       job[24];		/* "" when not known */
	char       ts[40];		/* the line's ts=, or the record's mtime, ISO 8601 UTC */
	long long  when_ms;		/* the same in ms since the epoch; sorts the list */
	long       attempts;		/* -1 when not known */
	char      *reason;		/* malloc'd; "" when not known */
	int        packet;		/* failed/STEM exists */
	int        from;		/* where the line came from: 'e' STEM.error, 'j' the journal, 0 none */
};

struct failures {
	struct failure *v;
	size_t          n;
};

/* Every failure in SPOOL/failed/, newest first. 0, or -1 with errno. */
int  failures_list(int spoolfd, struct failures *out);

/*
 * The failure STEM alone. 0; -1 with errno ENOENT when failed/ has neither
 * STEM nor STEM.error, or another errno.
 */
int  failures_get(int spoolfd, const char *stem, struct failure *f);

void failures_free(struct failures *fs);
void failure_clear(struct failure *f);

/* 1 if stem ends in .retried-J (J 16 hexadecimal digits), else 0. */
int  failures_is_retried(const char *stem);

#endif
