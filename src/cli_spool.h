/*
 * The spool a command (status, failed, show, retry) works on, found the same
 * way for all of them: -d SPOOL, else spool: of -c FILE, else spool: of
 * /etc/ingestd/ingestd.yml when that file is readable, else the default.
 */
#ifndef INGESTD_CLI_SPOOL_H
#define INGESTD_CLI_SPOOL_H

#include "conf.h"

/*
 * Load c (the defaults, then file or the packaged config when dir is NULL)
 * and point *spool at dir or c's spool. 0, or an exit status (EX_CONFIG,
 * EX_OSERR) with the message on stderr; c is then freed. On 0 the caller
 * conf_free()s c.
 */
int cli_spool_find(const char *file, const char *dir, struct conf *c, const char **spool);

/*
 * Open the spool directory for reading. The descriptor, or -1 with a message
 * naming the path on stderr and *rc set: EX_NOPERM or EX_NOINPUT.
 */
int cli_spool_open(const char *spool, int *rc);

/* The exit status for an errno met on the spool: EX_NOPERM, EX_NOINPUT or EX_OSERR. */
int cli_spool_status(int err);

#endif
