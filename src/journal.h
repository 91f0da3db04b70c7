/*
 * SPOOL/journal: one logfmt line per finished job, the audit trail that
 * proves nothing was lost. Lines are appended with one write(2) each, so
 * workers never interleave.
 */
#ifndef INGESTD_JOURNAL_H
#define INGESTD_JOURNAL_H

#include <stddef.h>
#include <sys/types.h>

#define JOURNAL_FILE "journal"
#define JOURNAL_LINE_MAX 4096

/* Open SPOOL/journal for appending (0640, close-on-exec). fd or -1. */
int   journal_open(int spooldirfd);

/* Append line (which ends in '\n'); fsync when durable. 0 or -1 with errno. */
int   journal_append(int fd, const char *line, size_t len, int durable);

/* Size of the journal now, to find a job's line again after a crash. */
off_t journal_size(int fd);

/*
 * Is there a line for job id after offset off? 1 yes, 0 no, -1 error.
 * Reads only what was appended since off.
 */
int   journal_has_job(int spooldirfd, off_t off, const char *jobid);

/* ISO 8601 UTC with milliseconds, e.g. 2026-11-22T02:30:00.123Z. */
void  journal_timestamp(char *buf, size_t len);

#endif
