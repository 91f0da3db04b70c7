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

/*
 * Runs until stopped; returns the process exit status (sysexits.h). c stays
 * the caller's; a reload works on copies.
 *
 * Signals: TERM/INT graceful stop with shutdown_grace; QUIT graceful stop
 * without a limit; HUP reload; TTIN/TTOU one worker more/fewer; USR1 status
 * to the log.
 */
int supervisor_run(struct conf *c, const struct conf_overrides *ov);

#endif
