/*
 * One journal line as the webhook's JSON document:
 *
 *   {"job": ..., "name": ..., "outcome": "done"|"failed", "attempts": N,
 *    "duration_ms": N, "reason": ... or null, "filed": ..., "ts": ...,
 *    "manifest": {the manifest's top-level scalars}}
 */
#ifndef INGESTD_NOTIFY_DOC_H
#define INGESTD_NOTIFY_DOC_H

#include <stddef.h>

enum notify_line {
	NOTIFY_LINE_JOB = 0,	/* a finished job: post it */
	NOTIFY_LINE_SKIP,	/* a continuation, an event= line, no outcome: not for the hook */
	NOTIFY_LINE_BAD		/* not a logfmt line the daemon could have written */
};

/* What line[0..len) (without its '\n') is to the notifier. */
enum notify_line notify_line_kind(const char *line, size_t len);

/*
 * The JSON document for a journal line (line[0..len), without its '\n');
 * the manifest JSON (a top-level object, or NULL) gives its scalars. Heap
 * string, or NULL with errno EINVAL (malformed line, a key given twice) or
 * ENOMEM.
 */
char *notify_document(const char *line, size_t len, const char *manifest_json,
    size_t manifest_len);

#endif
