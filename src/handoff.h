/*
 * Hand-offs: how a job that a worker lets go of reaches another worker.
 *
 * There is one path. A worker that lets a job go (it retires, it is told to
 * stop, a step fails, the job is deferred) only drops its lock and rings the
 * supervisor's bell, a pipe; a worker that dies drops its locks with its
 * life. The supervisor then sweeps: every job directory in work/ that nobody
 * holds, and every job in defer/ that is due, is offered on the queue by id.
 * It sweeps after every ring, after every child's exit, and once a second,
 * so a hint that is lost (a full queue, a worker that died after taking it)
 * costs at most a second, never a job.
 *
 * The sweep also offers the stuck packets (scoreboard.h) again when they are
 * due, asks for a rescan of the inbox when there were more of them than the
 * scoreboard holds, and counts what defer/ holds for status and the metrics.
 */
#ifndef INGESTD_HANDOFF_H
#define INGESTD_HANDOFF_H

#include <mqueue.h>
#include <stdint.h>

#include "job.h"
#include "scoreboard.h"
#include "spool.h"

#define HANDOFF_SWEEP_MS	1000	/* a sweep at least this often */
#define HANDOFF_AGAIN_MS	2000	/* a job offered is offered again after this */
#define HANDOFF_STUCK_MS	60000	/* a stuck packet offered waits this long for news */
#define HANDOFF_CRASHES		1024	/* jobs whose worker died, remembered */
#define HANDOFF_WAIT_MS		20	/* how long an offer waits for room in the queue */

struct handoff_offer {
	char     id[JOB_ID_LEN + 1];
	uint64_t at;		/* monotonic ms; 0: free */
	int      seen;		/* still there at this sweep */
};

struct handoff_crash {
	char     id[JOB_ID_LEN + 1];
	unsigned n;		/* 0: free */
	int      seen;
};

struct handoff {
	const struct spool   *s;
	mqd_t                 q;	/* the supervisor's blocking descriptor */
	struct scoreboard    *sb;
	struct handoff_offer *offers;	/* open-addressed by id */
	size_t                noffers;
	struct handoff_crash  crash[HANDOFF_CRASHES];
	uint64_t              next_ms;	/* monotonic: the next sweep that is owed */
	uint64_t              overflow_seen;	/* stuck_overflow at the last rescan */
	int                   rescan;	/* the inbox must be scanned again: the caller asks */
	uint64_t              missed_logged;	/* monotonic: last "queue full" line */
	int                   full;	/* the queue was full during this sweep */
};

/* 0, or -1 with errno (ENOMEM). */
int  handoff_init(struct handoff *h, const struct spool *s, mqd_t q, struct scoreboard *sb);
void handoff_free(struct handoff *h);

/*
 * A worker died while running job id: it counts against the packet (a
 * poison packet) and is told to whoever takes the job over.
 */
void handoff_crash(struct handoff *h, const char *id);

/* Sweep now (see above). */
void handoff_sweep(struct handoff *h);

/*
 * At a stop, once every child is gone: remove the spare directories of
 * workers that died (no packet, no record), after syncing done/ and failed/
 * in case one was a filed job's. Whatever holds more is left for the next
 * start. The number removed, or -1 with errno when work/ cannot be read.
 */
int  handoff_tidy(struct handoff *h);

/* Owe a sweep as soon as possible (a ring, a child's exit). */
void handoff_soon(struct handoff *h);

/* Milliseconds until the next sweep is owed (0: now). */
int  handoff_timeout_ms(const struct handoff *h);

#endif
