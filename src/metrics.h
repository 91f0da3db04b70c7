/*
 * metrics_file: Prometheus text format for node_exporter's textfile
 * collector, rewritten atomically (temporary file, fsync, rename) so a scrape
 * never reads half a file.
 */
#ifndef INGESTD_METRICS_H
#define INGESTD_METRICS_H

#include <mqueue.h>
#include <stdio.h>

#include "strv.h"
#include "scoreboard.h"
#include "spool.h"

/* Write the metrics to path. 0 or -1 with errno. */
int  metrics_write(const char *path, const struct scoreboard *sb, const struct spool *s, mqd_t q,
    const struct strv *ignore);

/* The same text to fp (used by tests and by status). */
void metrics_print(FILE *fp, const struct scoreboard *sb, long inbox_backlog, long queue_depth);

/* Entries in inbox/ not matching ignore (still being written), or -1. Streams it. */
long metrics_inbox_backlog(int inboxfd, const struct strv *ignore);

#endif
