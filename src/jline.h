/*
 * A journal line (journal.h) as the commands that read the journal see it:
 * a job's line, a line about something else (event=refiled, event=retried),
 * what is left of an append a full disk cut short (blanked with spaces), or
 * a line that does not read as logfmt. Also read from failed/STEM.error,
 * which holds the job's line.
 */
#ifndef INGESTD_JLINE_H
#define INGESTD_JLINE_H

#include <limits.h>
#include <stddef.h>

#include "journal.h"

enum jline_kind {
	JLINE_BAD = -1,		/* not logfmt, or a job's line without job=, name= or outcome= */
	JLINE_BLANK = 0,	/* only spaces: a torn append, blanked */
	JLINE_JOB = 1,		/* one job's line: the fields below */
	JLINE_EVENT = 2		/* has event=: event, name and the fields it has */
};

/* NAME_MAX bytes of a name, PATH_MAX of a path: what the daemon writes fits. */
struct jline {
	char ts[40];			/* "" when absent */
	char job[24];
	char event[32];			/* JLINE_EVENT only */
	char name[NAME_MAX + 1];
	char outcome[16];
	char filed[PATH_MAX];		/* refiled lines too; "" when absent */
	char from[PATH_MAX];		/* retried lines */
	long attempts;			/* -1 when absent */
	char reason[JOURNAL_LINE_MAX];	/* the rest of the line after reason=, "" if none */
};

/*
 * Read line[0..len) (a final '\n' is allowed) into *out. Leading spaces are
 * skipped. Values too long for their field make the line JLINE_BAD.
 */
enum jline_kind jline_parse(const char *line, size_t len, struct jline *out);

#endif
