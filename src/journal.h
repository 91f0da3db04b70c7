/*
 * SPOOL/journal: one logfmt line per finished job, and the commit record of
 * its filing (filing.h): a job counts as done or failed once its line is
 * durable, and a packet is renamed into done/ or failed/ only after that.
 *
 * Lines are appended with one write(2) each, so workers never interleave. An
 * append cut short (ENOSPC part way) is blanked out with spaces where it
 * lies, so no reader ever takes the fragment for a line: a line may thus
 * begin with spaces, which readers skip.
 */
#ifndef INGESTD_JOURNAL_H
#define INGESTD_JOURNAL_H

#include <stddef.h>
#include <sys/types.h>

#define JOURNAL_FILE "journal"
#define JOURNAL_LINE_MAX 4096

struct journal {
	int dirfd;	/* the spool, not owned */
	int fd;		/* O_APPEND */
	int rw;		/* O_RDWR, for blanking and rewriting; -1 until needed */
};

/* Open SPOOL/journal for appending (0640, close-on-exec). 0 or -1 with errno. */
int   journal_open(struct journal *jl, int spooldirfd);
void  journal_close(struct journal *jl);

/*
 * Append line (which ends in '\n') with one write. 0 and *at the offset it
 * starts at, or -1 with errno and nothing of it left that reads as a line.
 */
int   journal_append(struct journal *jl, const char *line, size_t len, off_t *at);

/*
 * Make what the journal holds durable (when sync) without opening it for
 * writing; *upto is its size. A missing journal is empty. 0 or -1 with errno.
 */
int   journal_settle(int spooldirfd, int sync, off_t *upto);

/* fdatasync; *upto is the size the sync covers. 0 or -1 with errno. */
int   journal_sync(struct journal *jl, off_t *upto);

/*
 * Write line again where it lies, at off: after a failed sync its page may
 * have been dropped, and only a new write makes the next sync cover it.
 * 0 or -1 with errno (EINVAL if the journal does not hold line at off).
 */
int   journal_rewrite(struct journal *jl, off_t off, const char *line, size_t len);

/*
 * Find the line of job id: at hint if that is where it is, else searching
 * back from the end of the journal, stopping at offset from and at lines
 * stamped before since_ms (-1 and 0: no such bound). 1 and the line (with its
 * '\n', NUL-terminated) and its offset; 0 when there is none; -1 with errno.
 * A line counts only when it is whole and written as the daemon writes a
 * job's line (refiled lines do not count).
 */
int   journal_find(int spooldirfd, const char *id, off_t hint, off_t from, long long since_ms,
    char *line, size_t linelen, off_t *off);

/* The ts= of a line, in ms since the epoch, or -1. */
long long journal_line_ms(const char *line, size_t len);

/* ISO 8601 UTC with milliseconds, e.g. 2026-11-22T02:30:00.123Z. */
void  journal_timestamp(char *buf, size_t len);

/* Size of the journal now. */
off_t journal_size(const struct journal *jl);

#endif
