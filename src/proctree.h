/*
 * Finding and killing process trees. A handler may fork, background and
 * setsid(); as long as the caller is a child subreaper
 * (PR_SET_CHILD_SUBREAPER) every such process stays its descendant, so a walk
 * of /proc finds them all, whatever their session or group.
 *
 * A pid read from /proc names a process only until that process is reaped.
 * Each one found is therefore taken as a pidfd and checked again through it
 * (still a child of one we hold, or of the caller) before anything is sent,
 * and the signal goes to the pidfd: a pid that was reused in between is never
 * signalled. Kernels without pidfd_open (before 5.3) fall back to kill(2)
 * after the same check, with the narrow race it leaves; proctree_method()
 * says which is in use.
 */
#ifndef INGESTD_PROCTREE_H
#define INGESTD_PROCTREE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * SIGKILL every live descendant of root, except the subtrees rooted at the
 * pids in keep[0..nkeep-1], never the caller itself. With own_group set, and
 * only while the caller leads its process group (getpgrp() == getpid(), so
 * the group id cannot have been reused), the other members of its group go
 * too. Repeat until none is left or timeout_ms passes. Zombies that are the
 * caller's children are reaped when root is the caller and reap is set (so
 * do not pass reap when the caller tracks its children itself). Returns the
 * number of processes signalled, or -1 with errno.
 */
int proctree_kill(pid_t root, int own_group, const pid_t *keep, size_t nkeep,
    int reap, unsigned timeout_ms);

/* Number of live (non-zombie) descendants of root, or -1. */
int proctree_count(pid_t root);

/* "pidfd", or "pid" on a kernel without pidfd_open; for the start-up line. */
const char *proctree_method(void);

/* One row of /proc, as the selection sees it. */
struct proctree_proc {
	pid_t pid, ppid, pgid;
	char  state;	/* /proc/PID/stat's state letter: 'Z' zombie */
};

/*
 * The selection, apart from /proc so that it can be tested: the indices of
 * v[0..n-1] that are descendants of root outside the kept subtrees, or (pgid
 * > 0) members of group pgid, never self; written to out[] parents before
 * children, and their number returned. Linear in n. -1 with errno ENOMEM.
 */
ssize_t proctree_select(const struct proctree_proc *v, size_t n, pid_t root, pid_t pgid,
    pid_t self, const pid_t *keep, size_t nkeep, size_t *out);

#endif
