/*
 * A worker process: takes names from the queue, claims the packet by rename,
 * prepares it, runs the handler and files it. On start it first adopts the
 * jobs a dead worker or a crashed run left in work/.
 */
#ifndef INGESTD_WORKER_H
#define INGESTD_WORKER_H

#include <mqueue.h>

#include "conf.h"
#include "scoreboard.h"
#include "spool.h"

/*
 * Signals a worker understands (sent by the supervisor):
 *   SIGTERM, SIGINT  finish the current job, then exit 0
 *   SIGUSR2          abandon the current job now (kill the handler, leave the
 *                    job in work/ marked interrupted), exit 0; also the
 *                    parent-death signal, so a killed supervisor leaves no
 *                    handler behind
 */
#define WORKER_SIG_ABANDON SIGUSR2

/*
 * Never returns. slot is the worker's scoreboard slot. Exits 0 when told to
 * stop or after max_jobs_per_worker jobs (the supervisor replaces it at once);
 * anything else is a crash.
 */
void worker_main(const struct conf *c, struct spool *s, mqd_t q, int slot, pid_t supervisor,
    struct scoreboard *sb) __attribute__((noreturn));

#endif
