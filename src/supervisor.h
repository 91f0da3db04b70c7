/*
 * The supervisor: heads its own process group, owns the spool lock and the
 * queue, pre-forks the watcher and the workers, respawns them (throttled when
 * they die young), and on SIGTERM/SIGINT stops them: running handlers get
 * shutdown_grace, then every other process of the group and every descendant
 * is killed with SIGKILL, and the supervisor exits 0.
 */
#ifndef INGESTD_SUPERVISOR_H
#define INGESTD_SUPERVISOR_H

#include "conf.h"

/* What the command line sets over the config file; kept for reloads. */
struct overrides {
	const char *spool;	/* NULL: from the file */
	unsigned    workers;	/* 0: from the file */
	int         verbosity;
};

/*
 * Defaults, then file (NULL: none), then the overrides, then validation.
 * 0, or -1 with "FILE:LINE: reason" in err (c is then freed).
 */
int supervisor_load_config(const char *file, const struct overrides *ov, struct conf *c,
    char *err, size_t errlen);

/*
 * Runs until stopped; returns the process exit status (sysexits.h). c stays
 * the caller's; a reload works on copies.
 *
 * Signals: TERM/INT graceful stop with shutdown_grace; QUIT graceful stop
 * without a limit; HUP reload; TTIN/TTOU one worker more/fewer; USR1 status
 * to the log.
 */
int supervisor_run(struct conf *c, const struct overrides *ov);

#endif
