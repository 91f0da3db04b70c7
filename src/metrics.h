/*
 * metrics_file: Prometheus text format for node_exporter's textfile
 * collector, rewritten atomically (temporary file, fsync, rename) so a scrape
 * never reads half a file.
 */
#ifndef INGESTD_METRICS_H
#define INGESTD_METRICS_H

#include <mqueue.h>
#include <stdio.h>

#include "scoreboard.h"
#include "spool.h"

/* Write the metrics to path. 0 or -1 with errno. */
int  metrics_write(const char *path, const struct scoreboard *sb, const struct spool *s, mqd_t q);

/* The same text to fp (used by tests and by status). */
void metrics_print(FILE *fp, const struct scoreboard *sb, long inbox_backlog, long queue_depth);

/* Entries in inbox/ that do not start with '.', or -1. Streams the directory. */
long metrics_inbox_backlog(int inboxfd);

#endif
