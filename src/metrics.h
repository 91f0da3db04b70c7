/*
 * metrics_file: Prometheus text format for node_exporter's textfile
 * collector, rewritten atomically (temporary file, fsync, rename) so a scrape
 * never reads half a file.
 */
#ifndef INGESTD_METRICS_H
#define INGESTD_METRICS_H

#include <mqueue.h>
#include <stdio.h>
#include <sys/types.h>

#include "strv.h"
#include "scoreboard.h"
#include "spool.h"

/* ingestd(8) PRIVILEGES: the group reads it, as the rest of the spool. */
#define METRICS_MODE_DEFAULT 0640

/*
 * Write the metrics to path, a file of that mode whatever the umask (the
 * config's metrics_mode: metrics_mode_of()). 0 or -1 with errno.
 * metrics_write is the same with METRICS_MODE_DEFAULT.
 */
int  metrics_write_mode(const char *path, mode_t mode, const struct scoreboard *sb,
    const struct spool *s, mqd_t q, const struct strv *ignore);
int  metrics_write(const char *path, const struct scoreboard *sb, const struct spool *s, mqd_t q,
    const struct strv *ignore);

/* The mode in metrics_mode's octal text (checked by the config), or the default. */
mode_t metrics_mode_of(const char *octal);

/* The same text to fp (used by tests and by status). */
void metrics_print(FILE *fp, const struct scoreboard *sb, long inbox_backlog, long queue_depth);

/* Entries in inbox/ not matching ignore (still being written), or -1. Streams it. */
long metrics_inbox_backlog(int inboxfd, const struct strv *ignore);

#endif
