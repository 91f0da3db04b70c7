/*
 * A worker process: takes hints from the queue (a packet's name, a job id,
 * a deferred job that is due), claims or takes over the job, prepares the
 * packet, runs the handler and hands the verdict to the filer (filing.h),
 * which commits its jobs in batches. A job that must wait (exit 75, a full
 * disk) goes to defer/; a job it lets go stays in work/ and rings the
 * supervisor's bell: the supervisor's sweep hands it on (handoff.h).
 */
#ifndef INGESTD_WORKER_H
#define INGESTD_WORKER_H

#include <mqueue.h>

#include "conf.h"
#include "scoreboard.h"
#include "spool.h"

/*
 * Signals a worker understands (sent by the supervisor):
 *   SIGTERM, SIGINT  finish the current job, commit, then exit 0
 *   SIGUSR2          abandon the current job now (kill the handler, leave the
 *                    job in work/ marked interrupted), exit 0; also the
 *                    parent-death signal, so a killed supervisor leaves no
 *                    handler behind
 */
#define WORKER_SIG_ABANDON SIGUSR2

/*
 * Never returns. slot is the worker's scoreboard slot, bellfd the write end
 * of the supervisor's bell. Exits 0 when told to stop or after
 * max_jobs_per_worker jobs (the supervisor replaces it at once); anything
 * else is a crash.
 */
void worker_main(const struct conf *c, struct spool *s, mqd_t q, int slot, pid_t supervisor,
    struct scoreboard *sb, int bellfd) __attribute__((noreturn));

#endif
