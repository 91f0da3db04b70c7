/*
 * Jobs and their directories.
 *
 * A job is one packet on its way from inbox/ to done/ or failed/. It lives in
 * SPOOL/work/J, J being its id (JOB_ID_LEN lowercase hex digits, ordered by
 * time), or, while it waits for a retry, in SPOOL/defer/DUE.J (DUE: when it
 * is due, in ms since the epoch):
 *
 *   pkt/NAME        the claimed packet; pkt/ is empty between jobs
 *   tree/           the extracted archive while the job runs; kept, empty
 *   log             the handler's output, when a handler ran
 *   manifest.json   the manifest as JSON, when the packet has one
 *   state           attempts and marks, when there is something to keep: one
 *                   fixed-size record, overwritten in place (job_state_*)
 *   verdict         the job's journal line, when it could not be appended
 *                   (a full disk): so its handler need not run again
 *
 * The worker running a job holds flock(2) on work/J; the kernel drops it when
 * the worker dies, which tells a stranded job from a running one. Each worker
 * keeps a few empty, locked directories (spares) and renames one to a fresh
 * id for each claim, so a job creates and removes no directory of its own.
 *
 * What a directory that nobody holds means, and what taking it over does, is
 * the state table below; filing.c acts on it, ingestd(8) CRASH SAFETY says
 * the same (test/mancheck.sh compares the two).
 */
#ifndef INGESTD_JOB_H
#define INGESTD_JOB_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "spool.h"

#define JOB_ID_LEN	16
#define JOB_PKT		"pkt"
#define JOB_TREE	"tree"
#define JOB_LOG		"log"
#define JOB_MANIFEST	"manifest.json"
#define JOB_STATE	"state"
#define JOB_VERDICT	"verdict"	/* a decided job's line, when the journal was full */
/* A directory recovery could not make sense of is renamed J.lost, for a human. */
#define JOB_LOST_SUFFIX	".lost"

/*
 * The state table: X(name, "on disk", "meaning", "what taking it over does").
 * "line" is the job's line in the journal, the commit record.
 */
#define JOB_STATES(X)							\
	X(JOB_SPARE, "no packet, no record, no line",			\
	    "a spare directory of a worker that died",			\
	    "remove it")							\
	X(JOB_OPEN, "packet, no line",					\
	    "the job was never committed",				\
	    "run the job again: its handler may run a second time")	\
	X(JOB_DECIDED, "packet, verdict, no line",			\
	    "decided, but the journal was full",			\
	    "append the line from the verdict and file it")		\
	X(JOB_COMMITTED, "packet and line",				\
	    "committed, the packet not yet filed",			\
	    "file it as the line says, as STEM.~J~ if that name was taken meanwhile") \
	X(JOB_FILED, "no packet, line",					\
	    "filed, records or syncs left",				\
	    "move the records left, sync the directories, remove it")	\
	X(JOB_LOST, "no packet, records, no line",			\
	    "cannot happen: filing waits for the line to be durable",	\
	    "rename it J.lost, log it and leave it for a human")

#define JOB_STATE_ENUM(name, disk, meaning, action) name,
enum job_state { JOB_STATES(JOB_STATE_ENUM) JOB_NSTATES };
#undef JOB_STATE_ENUM

struct job {
	char      id[JOB_ID_LEN + 1];
	int       fd;		/* work/J, flock held; -1 when none */
	int       pktfd;	/* work/J/pkt */
	char      name[NAME_MAX + 1];	/* the packet, "" when pkt/ is empty */
	char      dir[PATH_MAX];	/* SPOOL/work/J */
	unsigned  attempts;	/* handler runs (or downloads) started, across crashes */
	unsigned  crashes;	/* workers that died running it, in this daemon run */
	unsigned  ftries;	/* filings that failed for the system's fault (ENOSPC) */
	int       interrupted;	/* let go on purpose (shutdown): not a crash */
	int       unsynced;	/* a sync of its filing failed: redo it, never trust the cache */
	int       has_log, has_manifest;	/* records present in work/J */
	int       has_verdict;
	long long wait_ms;	/* from the drop to the claim; -1 unknown */
	long long pkt_mtime_ms;	/* pkt/'s mtime when taken over: the claim, or the filing */
	/* Where its journal line is, for a job deferred after its commit; -1 none. */
	long long line_at;
	/* The journal's size when it was deferred uncommitted: its line can only come later; -1. */
	long long journal_from;
	unsigned long long journal_ino;	/* the journal file line_at and journal_from are in; 0 */
};

/* "open", "committed", ...: a state's name for logs. */
const char *job_state_name(enum job_state st);

/* 1 if s is a job id. */
int       job_is_id(const char *s);

/* When the id was made, in ms since the epoch. */
long long job_id_ms(const char *id);

/*
 * A defer/ entry: "DUE.J". 1 with *due_ms and id filled, 0 if name is not
 * one.
 */
int       job_parse_deferred(const char *name, long long *due_ms, char id[JOB_ID_LEN + 1]);

/* A new spare: work/J with pkt/ and tree/, locked. 0 or -1 with errno. */
int       job_spare(const struct spool *s, struct job *j);

/*
 * Claim inbox/name: the spare is renamed to a fresh id, the packet renamed
 * into its pkt/. 0, the spare now the job; -1 with ENOENT when another
 * worker was first (normal, silent; the spare stays a spare), or another
 * errno (EACCES: a folder the daemon may not move).
 */
int       job_claim(const struct spool *s, struct job *spare, const char *name);

/*
 * Take over work/id if nobody holds it: 1 taken (j filled, its state read),
 * 0 held by a live worker or gone, -1 error.
 */
int       job_adopt(const struct spool *s, const char *id, struct job *j);

/* Which row of the state table j is in, given whether its line was found. */
enum job_state job_classify(const struct job *j, int has_line);

/*
 * Let j wait in defer/ until due_ms: its state is saved, the directory moved,
 * the lock dropped. 0, or -1 with errno (j is then still held in work/).
 */
int       job_defer(const struct spool *s, struct job *j, long long due_ms);

/* Take defer/entry back into work/ and hold it. 1 taken, 0 gone or held, -1 error. */
int       job_undefer(const struct spool *s, const char *entry, struct job *j);

/*
 * After filing (pkt/ is empty): remove the records still there, empty tree/
 * when tree_used, and keep the directory, locked, as a spare. 0, or -1 with
 * errno (then remove it).
 */
int       job_recycle(struct job *j, int tree_used);

/*
 * A request's job whose download is in: pkt/ holds STEM beside the request
 * STEM.url (j->name). The request is removed (and pkt/ synced when sync, so
 * that no job reaches its journal line holding both), and the job is now
 * STEM's, its attempts from zero. 0; 1 when STEM is not in pkt/ (an earlier
 * build renamed downloads into the inbox, as packets of their own), nothing
 * changed; -1 with errno.
 */
int       job_become_download(struct job *j, int sync);

/* Empty tree/ (a job about to wait is prepared again). 0 or -1 with errno. */
int       job_clear_tree(struct job *j);

/* Save attempts and marks in work/J/state (one pwrite; no new inode after the first). */
int       job_save_state(const struct job *j);

/*
 * Parse a state record for job id. 0 and the fields set, -1 when it is not
 * a whole record of that job (stale or torn: the defaults then apply).
 */
int       job_state_parse(const char *buf, size_t len, const char *id, struct job *j);

/* Set aside a directory recovery cannot explain (JOB_LOST). 0 or -1. */
int       job_set_aside(const struct spool *s, struct job *j);

/* Remove work/J and drop the lock. 0 or -1 (the lock is dropped anyway). */
int       job_remove(const struct spool *s, struct job *j);

/* Drop the lock and descriptors without removing anything. */
void      job_release(struct job *j);

#endif
