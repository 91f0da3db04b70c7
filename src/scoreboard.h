/*
 * The scoreboard: a small file in the spool (SPOOL/scoreboard), mapped
 * shared by the supervisor before it forks, so every worker writes its own
 * slot and `ingestd status` can read the whole picture without asking the
 * daemon anything. Counters are updated with atomic adds.
 */
#ifndef INGESTD_SCOREBOARD_H
#define INGESTD_SCOREBOARD_H

#include <stdint.h>

#include "reasons.h"

#define SB_FILE     "scoreboard"
#define SB_MAGIC    0x53676e69u	/* "ingS" */
#define SB_VERSION  5
#define SB_SLOTS    520		/* 256 workers, as many retiring after a reload, and a few others */
#define SB_BUCKETS  12
#define SB_STUCK    64		/* packets that cannot be claimed, remembered at once */

/* SB_TAKING: a name is being taken off the queue, in name (or not yet, when ""). */
enum sb_state { SB_FREE = 0, SB_IDLE, SB_BUSY, SB_RETIRING_UNUSED, SB_TAKING };
enum sb_role { SB_ROLE_NONE = 0, SB_ROLE_WATCHER, SB_ROLE_WORKER, SB_ROLE_REMOTE };

struct sb_slot {
	int32_t  pid;
	int32_t  state;		/* enum sb_state */
	uint32_t generation;	/* config generation it runs */
	uint32_t role;		/* SB_ROLE_* */
	int32_t  retiring;	/* told to finish its job and leave */
	int32_t  pad;
	int64_t  started_ms;	/* realtime, process start */
	int64_t  job_started_ms;	/* realtime, current job */
	uint64_t jobs_done;
	uint64_t jobs_failed;
	uint64_t reserved;	/* spool bytes its download holds preallocated (reserve.h) */
	uint64_t dl_have;	/* its download: bytes in its .part */
	uint64_t dl_total;	/* ... of this many; 0 with dl_started_ms 0: no download */
	int64_t  dl_started_ms;	/* realtime: when this attempt started; 0: none */
	uint64_t dl_base;	/* bytes the attempt started with (a resume), for the rate */
	char     job[24];
	char     name[256];
};

/*
 * A packet the workers cannot claim: a folder the daemon's user may not move
 * (tried again once a minute), or a full disk (tried again after a pause that
 * grows). Reported once a minute, offered again by the supervisor when due,
 * counted. An entry is taken by a compare-and-swap of hash from 0.
 */
struct sb_stuck {
	uint64_t hash;		/* of name; 0: free */
	int64_t  first_ms, last_ms;	/* realtime: first seen, last reported */
	int64_t  next_ms;	/* realtime: when to offer it again */
	int32_t  error;		/* errno of the last claim */
	uint32_t count;		/* claims tried */
	char     name[256];
};

struct sb_header {
	uint32_t magic, version;
	int32_t  supervisor_pid;
	uint32_t generation;
	int64_t  started_ms;
	int64_t  queue_max;
	int64_t  queue_depth;	/* written by whoever touched the queue last */
	uint32_t workers_target;
	uint32_t nslots;
	uint64_t done, failed, retried, restarts, crashes, overflows;
	uint64_t dur_count, dur_sum_ms;
	uint64_t dur_bucket[SB_BUCKETS];	/* cumulative is computed when printed */
	int64_t  journal_synced;	/* the journal is durable up to this offset */
	uint64_t journal_gen;		/* bumped by each rotation of the journal */
	uint64_t deferred;		/* jobs in defer/, at the last sweep */
	int64_t  deferred_next_ms;	/* realtime: when the first of them is due; 0 none */
	uint64_t stuck_overflow;	/* stuck packets beyond SB_STUCK */
	uint64_t hints_missed;		/* hints the queue had no room for (offered again) */
	uint64_t fetched_bytes;		/* bytes downloads wrote, all attempts */
	uint64_t failed_by[REASON_N];	/* failures by reason_class() */
	struct sb_stuck stuck[SB_STUCK];
};

struct scoreboard {
	struct sb_header hdr;
	struct sb_slot   slot[SB_SLOTS];
};

/*
 * A download's progress, for status: have of total bytes (total UINT64_MAX
 * while unknown). The bytes added since the last call count into
 * fetched_bytes. sb_download_end clears it.
 */
void sb_download(struct scoreboard *sb, int slot, uint64_t have, uint64_t total);
void sb_download_end(struct scoreboard *sb, int slot);

/* Upper bounds of the duration histogram buckets, in ms (last is +Inf). */
extern const uint64_t sb_bucket_ms[SB_BUCKETS];

/* Create SPOOL/scoreboard (0640), map it shared. NULL with errno on error. */
struct scoreboard *sb_create(int spooldirfd);

/* Map an existing scoreboard read-only (for status). NULL with errno. */
const struct scoreboard *sb_open_ro(int spooldirfd);

void sb_unmap(const struct scoreboard *sb);

/*
 * Record a finished job's duration and outcome (workers): done when reason
 * is NULL, else failed for reason (the journal's text after reason=).
 */
void sb_job_finished(struct scoreboard *sb, int slot, const char *reason, uint64_t dur_ms);

int64_t sb_now_ms(void);

/* The journal is durable up to off (only ever moves forward). */
void sb_journal_synced(struct scoreboard *sb, int64_t off);

/*
 * A claim of name failed with err (not ENOENT): to be tried again in
 * retry_ms. *tries is set to the claims tried so far. 1 when it is to be
 * reported now (first time, or a minute since the last report), else 0.
 */
int  sb_stuck_note(struct scoreboard *sb, const char *name, int err, int64_t now_ms,
    int64_t retry_ms, unsigned *tries);

/* Claims of name tried so far (0: not stuck). */
unsigned sb_stuck_tries(struct scoreboard *sb, const char *name);

/* name was claimed after all, or is gone: forget it. */
void sb_stuck_forget(struct scoreboard *sb, const char *name);

/* Packets stuck now. */
unsigned sb_stuck_count(const struct scoreboard *sb);

#endif
