/*
 * The supervisor's child table: one entry per scoreboard slot, for the
 * watcher, the workers, the remote children (sources, notifier) and the
 * janitor. It
 * spawns them, reaps them in a waitpid(-1, WNOHANG) loop, tells a crash from
 * an exit, and starts a child again (after a growing pause when it keeps
 * dying young), or lets it go when it was told to retire.
 */
#ifndef INGESTD_CHILDREN_H
#define INGESTD_CHILDREN_H

#include <stdint.h>
#include <sys/types.h>

#include "scoreboard.h"

#define RESPAWN_MIN_MS	100
#define RESPAWN_MAX_MS	30000
#define YOUNG_MS	1000	/* a child that dies younger than this is throttled */

enum role { ROLE_NONE = 0, ROLE_WATCHER, ROLE_WORKER, ROLE_REMOTE, ROLE_JANITOR };

struct child {
	enum role role;
	int       idx;		/* remote child index */
	pid_t     pid;		/* 0: not running */
	uint32_t  generation;
	int       retiring;	/* told to stop: do not start it again */
	uint64_t  started;	/* monotonic ms */
	uint64_t  delay;	/* current respawn pause */
	uint64_t  due;		/* respawn at (monotonic ms; 0: not scheduled) */
};

struct children;

/*
 * What the supervisor supplies: run() is called in the new child (slot k)
 * and never returns; name() names a role for the log; died() is told of each
 * child that is gone, before its slot is cleared (crashed: not exit 0).
 */
struct children_ops {
	void        (*run)(void *arg, const struct child *k, int slot);	/* never returns */
	const char *(*name)(void *arg, const struct child *k);
	void        (*died)(void *arg, const struct child *k, int slot, int crashed);
	void         *arg;
};

struct children {
	struct child        kids[SB_SLOTS];
	struct scoreboard  *sb;
	struct children_ops ops;
	uint32_t            generation;	/* the configuration's */
};

void     children_init(struct children *ch, struct scoreboard *sb, const struct children_ops *ops);

/* Take a slot for a new child of role and start it now. The slot, or -1. */
int      children_add(struct children *ch, enum role role, int idx);

/*
 * Reap every child that is gone. shutting_down: log only, start nothing.
 * Returns how many workers died (any way).
 */
unsigned children_reap(struct children *ch, int shutting_down);

/* Start again the children whose pause is over. */
void     children_respawn(struct children *ch);

/* Milliseconds until the next respawn is due, or -1 (none). */
int      children_timeout_ms(const struct children *ch);

/*
 * Children of role: current_only counts only the current generation and
 * those not retiring; alive_only only those running.
 */
unsigned children_count(const struct children *ch, enum role role, int current_only,
    int alive_only);

/* Signal every running child of role. */
void     children_signal(const struct children *ch, enum role role, int sig);

/* Ask one current worker (an idle one if any) to finish its job and leave. */
void     children_retire_one(struct children *ch);

/* Retire every worker, remote child and janitor, and the watcher too if asked; a new generation. */
void     children_retire_all(struct children *ch, int watcher);

/* Pids of running children, into v (SB_SLOTS). Returns how many. */
size_t   children_pids(const struct children *ch, pid_t *v);

/* The running child of this pid, or NULL. */
const struct child *children_find(const struct children *ch, pid_t pid);

#endif
