/*
 * Finding and killing process trees. A handler may fork, background and
 * setsid(); as long as the caller is a child subreaper
 * (PR_SET_CHILD_SUBREAPER) every such process stays its descendant, so a walk
 * of /proc finds them all, whatever their session or group.
 */
#ifndef INGESTD_PROCTREE_H
#define INGESTD_PROCTREE_H

#include <sys/types.h>

/*
 * SIGKILL every live descendant of root, except the subtrees rooted at the
 * pids in keep[0..nkeep-1], and every other process of group pgid (0: none),
 * never the caller itself; repeat until none is left or timeout_ms passes.
 * Zombies that are the caller's children are reaped when root is the caller
 * and reap is set (so do not pass reap when the caller tracks its children
 * itself). Returns the number of processes signalled, or -1 with errno.
 */
int proctree_kill(pid_t root, pid_t pgid, const pid_t *keep, size_t nkeep,
    int reap, unsigned timeout_ms);

/* Number of live (non-zombie) descendants of root, or -1. */
int proctree_count(pid_t root);

#endif
