/*
 * Filing: a finished job's packet and records moved into done/ or failed/,
 * committed by its journal line, in batches (group commit). The order is
 * what makes a crash or a power cut cost time and never a packet:
 *
 *   stage   pick the stem, append the job's line to the journal (not synced)
 *   commit  for the whole batch: one fdatasync(journal); then each packet
 *           renamed (RENAME_NOREPLACE) and its records moved or written;
 *           then one fsync of each directory renamed into; then the job
 *           directories become spares again
 *
 * A job counts as done or failed (scoreboard, log, notifier) only once its
 * commit is through. Whatever a crash leaves is put right by
 * filing_recover(), row by row of the state table in job.h.
 *
 * A step that fails for the system's fault (ENOSPC, EIO) defers the job
 * (job_defer) for a retry with a growing pause; nothing waits in a worker.
 * After a failed sync the job is marked unsynced, and its retry writes again
 * what that sync should have made durable instead of trusting the page cache.
 */
#ifndef INGESTD_FILING_H
#define INGESTD_FILING_H

#include <stdint.h>

#include "conf.h"
#include "job.h"
#include "journal.h"
#include "scoreboard.h"
#include "spool.h"

#define FILING_BATCH	 16	/* jobs per commit at most */
#define FILING_WINDOW_MS 10	/* a batch is committed this long after its first line at most */
#define FILING_SPARES	 (FILING_BATCH + 2)

/* Results of filing_stage() and filing_recover(). */
enum filing_rc {
	FILING_ERROR = -1,	/* errno set; the job was released (the sweep finds it) */
	FILING_STAGED = 0,	/* the job is in the batch: it is the filer's now */
	FILING_DEFERRED,	/* the job waits in defer/ (a failure of the system) */
	FILING_RUN,		/* recover: never committed, the caller runs it again */
	FILING_GONE		/* recover: nothing left to do (removed, or set aside) */
};

struct staged {
	struct job j;
	int        failed;
	int        del;		/* on_success: delete */
	int        tree;	/* tree/ holds the extracted packet */
	int        recovered;	/* its line was found, not written now */
	int        reverse;	/* recovered with a failed sync after the rename: undo it first */
	char       name[NAME_MAX + 1];	/* the packet's, for the log */
	char       stem[NAME_MAX + 1];
	char       line[JOURNAL_LINE_MAX];
	size_t     linelen;
	off_t      at;		/* where the line starts in the journal */
	unsigned long long ino;	/* ... in the journal file of this inode */
	uint64_t   dur_ms;
};

struct filer {
	const struct conf  *c;
	const struct spool *s;
	struct journal      jl;
	struct scoreboard  *sb;
	int                 slot;	/* scoreboard slot, for the per-worker counts */
	int                 bellfd;	/* rung when a job is deferred or let go */
	long                pid;	/* the worker's, for worker= */
	struct staged      *v;		/* FILING_BATCH of them */
	size_t              n;
	uint64_t            first_ms;	/* monotonic: the batch's first line */
	struct job          spare[FILING_SPARES];
	size_t              nspare;
};

/* 0, or -1 with errno (the journal cannot be opened, ENOMEM). */
int  filing_init(struct filer *f, const struct conf *c, const struct spool *s,
    struct scoreboard *sb, int slot, int bellfd);

/* Commit what is staged, remove the spares, close. */
void filing_close(struct filer *f);

/*
 * Stage job j (held, its packet in pkt/) as done or failed with reason (a
 * logfmt fragment, for failed), taking it over. tree: tree/ holds its
 * extraction. FILING_STAGED, FILING_DEFERRED (the line could not be
 * written), or FILING_ERROR.
 */
enum filing_rc filing_stage(struct filer *f, struct job *j, int failed, const char *reason,
    uint64_t dur_ms, int tree);

/* Is the batch due: full, or older than FILING_WINDOW_MS? */
int  filing_due(const struct filer *f);

/* Nothing staged. */
int  filing_empty(const struct filer *f);

/* Commit the batch (see above). Jobs whose filing failed are deferred or let go. */
void filing_commit(struct filer *f);

/*
 * A job taken over from work/ (job_adopt, job_undefer): find its line and act
 * on its row of the state table. FILING_RUN (the caller keeps j and runs it),
 * FILING_STAGED, FILING_DEFERRED, FILING_GONE or FILING_ERROR; but for
 * FILING_RUN, j is no longer the caller's.
 */
enum filing_rc filing_recover(struct filer *f, struct job *j);

/* A spare job directory: one of ours, or a new one. 0 or -1 with errno. */
int  filing_spare(struct filer *f, struct job *j);

/* Give a spare back (a claim lost its race). */
void filing_unspare(struct filer *f, struct job *j);

/*
 * Let j wait in defer/ for a retry after a failure of the system or a
 * temporary one of the handler (exit 75): due after the pause for its
 * n-th retry. Rings the bell. FILING_DEFERRED, or FILING_ERROR (let go).
 */
enum filing_rc filing_defer(struct filer *f, struct job *j, unsigned n, const char *why);

/* Let j go without filing it (shutdown, an error): it stays in work/ for the sweep. */
void filing_let_go(struct filer *f, struct job *j);

/* The pause before retry n (1, 2, ...): handler.backoff doubled, at most backoff_max. */
uint64_t filing_backoff_ms(const struct conf *c, unsigned n);

#endif
