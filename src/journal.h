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
#include <stdint.h>
#include <sys/types.h>

#define JOURNAL_FILE "journal"
#define JOURNAL_LINE_MAX 4096

/* journal_keep at most: the rotated journals are journal.1 ... journal.N. */
#define JOURNAL_KEEP_MAX 1000

struct journal {
	int       dirfd;	/* the spool, not owned */
	int       fd;		/* O_APPEND */
	int       rw;		/* O_RDWR, for blanking and rewriting; -1 until needed */
	uint64_t *gen;		/* shared: bumped by each rotation; NULL: none happen */
	uint64_t  mygen;	/* the rotation fd belongs to */
};

/*
 * Open SPOOL/journal for appending (0640, close-on-exec). gen is the
 * counter every process appending shares (the scoreboard's): a rotation
 * bumps it, and an append moves on to the new journal. 0 or -1 with errno.
 */
int   journal_open(struct journal *jl, int spooldirfd, uint64_t *gen);

/*
 * If the journal has reached max bytes, rotate it: journal.K-1 becomes
 * journal.K (the oldest beyond keep removed), journal becomes journal.1,
 * synced first when sync, and gen is bumped. Appends in flight finish
 * before, later ones go to the new journal. 1 rotated, 0 not (not full, or
 * rotated by another process meanwhile), -1 with errno.
 */
int   journal_rotate(struct journal *jl, uint64_t max, unsigned keep, int sync);

/* The inode of the journal jl appends to (offsets are in that file), or 0. */
unsigned long long journal_ino(const struct journal *jl);
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
 * Find the line of job id, searching back from the end of the journal and
 * then the rotated ones, newest first, stopping at lines stamped before
 * since_ms (0: no such bound). hint and from are offsets in the journal file
 * of inode ino (0: none): the line is tried at hint first, and in that file
 * nothing before from is searched, nor any older file. 1 and the line (with
 * its '\n', NUL-terminated) and its offset in its file; 0 when there is
 * none; -1 with errno. A line counts only when it is whole and written as
 * the daemon writes a job's line (refiled lines do not count).
 */
int   journal_find(int spooldirfd, const char *id, unsigned long long ino, off_t hint, off_t from,
    long long since_ms, char *line, size_t linelen, off_t *off);

/* The ts= of a line, in ms since the epoch, or -1. */
long long journal_line_ms(const char *line, size_t len);

/* ISO 8601 UTC with milliseconds, e.g. 2026-11-22T02:30:00.123Z. */
void  journal_timestamp(char *buf, size_t len);

/* Size of the journal now. */
off_t journal_size(const struct journal *jl);

#endif
